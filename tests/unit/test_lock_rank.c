/*
 * test_lock_rank: the lock-order checker (common/lock_rank.h). Ranks taken
 * in order are recorded and released; a child process that takes two ranked
 * locks in the wrong order (rank 2, then rank 1), or one twice, must abort
 * with the message naming both locks. The checker functions are built in
 * every configuration; the wrappers check only with MOETIER_DEBUG_LOCKS,
 * which this test reports.
 */
#include "config.h"

#include "common/lock_rank.h"
#include "tests/unit/check.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static pthread_mutex_t first = PTHREAD_MUTEX_INITIALIZER, second = PTHREAD_MUTEX_INITIALIZER;

/* Runs fn in a child with stderr to a pipe: its signal (0 = exited) and what it said. */
static int in_child(void (*fn)(void), char *said, size_t cap)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 2);
        fn();
        _exit(0);
    }
    close(p[1]);
    size_t n = 0;
    ssize_t k;
    while (n + 1 < cap && (k = read(p[0], said + n, cap - 1 - n)) > 0)
        n += (size_t)k;
    said[n] = '\0';
    close(p[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void wrong_order(void)
{
    moetier_rank_acquire(MOETIER_RANK_STAGED, "staged.c lock");
    pthread_mutex_lock(&second);
    moetier_rank_acquire(MOETIER_RANK_SHIM, "shim.lock");
    pthread_mutex_lock(&first);
}

static void twice(void)
{
    moetier_rank_acquire(MOETIER_RANK_SHIM, "shim.lock");
    moetier_rank_acquire(MOETIER_RANK_SHIM, "shim.lock");
}

static void right_order(void)
{
    moetier_rank_acquire(MOETIER_RANK_SHIM, "shim.lock");
    moetier_rank_acquire(MOETIER_RANK_STAGED, "staged.c lock");
    moetier_rank_acquire(MOETIER_RANK_ALLOC, "alloc.c big_lock");
    moetier_rank_release(MOETIER_RANK_ALLOC);
    moetier_rank_release(MOETIER_RANK_STAGED);
    moetier_rank_release(MOETIER_RANK_SHIM);
    moetier_rank_acquire(MOETIER_RANK_STAGED, "staged.c lock"); /* after a release: fine again */
    moetier_rank_release(MOETIER_RANK_STAGED);
}

#ifdef MOETIER_DEBUG_LOCKS
static void wrapped_wrong_order(void)
{
    moetier_ranked_lock(&second, MOETIER_RANK_STAGED, "staged.c lock");
    moetier_ranked_lock(&first, MOETIER_RANK_SHIM, "shim.lock");
}
#endif

int main(void)
{
    char said[512];
    /* in order: recorded, then released */
    moetier_rank_acquire(MOETIER_RANK_SHIM, "shim.lock");
    moetier_rank_acquire(MOETIER_RANK_ALLOC, "alloc.c big_lock");
    CHECK(moetier_rank_held() == ((1u << MOETIER_RANK_SHIM) | (1u << MOETIER_RANK_ALLOC)));
    moetier_rank_release(MOETIER_RANK_ALLOC);
    moetier_rank_release(MOETIER_RANK_SHIM);
    CHECK(moetier_rank_held() == 0);
    moetier_rank_acquire(MOETIER_RANK_SHIM, "shim.lock");
    moetier_rank_reset(); /* a forked child's fresh start */
    CHECK(moetier_rank_held() == 0);

    CHECK(in_child(right_order, said, sizeof said) == 0 && said[0] == '\0');
    CHECK(in_child(wrong_order, said, sizeof said) == SIGABRT);
    CHECK(strstr(said, "lock order violated: taking shim.lock while holding staged.c lock") != NULL);
    CHECK(in_child(twice, said, sizeof said) == SIGABRT && strstr(said, "taken twice") != NULL);
#ifdef MOETIER_DEBUG_LOCKS
    CHECK(in_child(wrapped_wrong_order, said, sizeof said) == SIGABRT && strstr(said, "lock order violated") != NULL);
    printf("test_lock_rank: debug build: the ranked wrappers check too\n");
#else
    printf("test_lock_rank: the ranked wrappers are plain locks in this build (--enable-debug checks them)\n");
#endif
    return check_exit("test_lock_rank");
}
