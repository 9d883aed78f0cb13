/*
 * test_fault_claim: the fault and fetch samplers claim only the faults of
 * protection they set (issue 14, defect 2). A stray write into read-only
 * expert weights, or a read of a page the application itself made PROT_NONE,
 * must crash with SIGSEGV as it would without moetier: with the sampler
 * unarmed, disarmed, armed on other experts, or armed on that very expert
 * (claimed once, as a sampling fault, then no more). Each case runs in a child
 * whose handler calls moetier_sampler_fault as the shim's does and counts
 * claims: 100 claims of one fault means it would loop forever (the hang the
 * issue saw). Then the positive side: three threads read every expert in the
 * same order after each arm, 300 times per kind, so that they fault on one
 * slice at once; a fault of ours refused (one raised while protected and
 * handled after another thread lifted the protection) would kill the test,
 * and every expert must be seen every round. Real file mappings, real
 * mprotect.
 */
#include "profiler/sampler.h"
#include "tests/unit/check.h"
#include "tests/unit/scratch_file.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define N_EXPERT 8
#define HEADER 8192
#define HUNG 3

static struct moetier_sampler sampler;
static unsigned char *map, *buf;
static size_t page, stride, tensor;
static int fd;
static volatile sig_atomic_t claims;
static int in_child; /* count claims: each case faults a handful of times */

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (!moetier_sampler_fault(&sampler, (uintptr_t)si->si_addr)) {
        signal(sig, SIG_DFL); /* not ours: the access repeats and crashes, as without moetier */
        return;
    }
    if (in_child && ++claims > 100) {
        static const char msg[] = "the same fault claimed 100 times: it would loop forever\n";
        if (write(2, msg, sizeof msg - 1) < 0)
            _exit(HUNG);
        _exit(HUNG);
    }
}

static size_t slice(int t, int e)
{
    return HEADER + (size_t)t * tensor + (size_t)e * stride;
}

/* kind's sampler over n_tensors expert tensors of one layer. */
static void build(int kind, int n_tensors)
{
    struct moetier_placements t;
    memset(&t, 0, sizeof t);
    for (int k = 0; k < n_tensors; k++) {
        struct moetier_placement *p = &t.item[t.n++];
        p->base = (uintptr_t)map + slice(k, 0);
        p->stride = stride;
        p->n_expert = N_EXPERT;
        p->part = (uint8_t)k;
        p->kind = MOETIER_MEM_FILE_SHARED;
        p->live = 1;
        p->prot = PROT_READ;
        p->file_off = slice(k, 0);
    }
    char why[200] = "";
    if (moetier_sampler_build(&sampler, kind, &t, 1, N_EXPERT, why, sizeof why) != 0) {
        fprintf(stderr, "build: %s\n", why);
        exit(99);
    }
    int fds[1] = { fd };
    moetier_sampler_fetch_fds(&sampler, fds, 1);
}

static void touch_read(int t, int e)
{
    volatile unsigned char *p = map + slice(t, e) + stride / 2;
    if (*p != buf[slice(t, e) + stride / 2])
        _exit(4);
}

static void touch_write(int t, int e)
{
    volatile unsigned char *p = map + slice(t, e) + stride / 2;
    *p = *p;
}

enum step { END, ARM, COLLECT, READ, WRITE, APP_NONE };
struct act {
    enum step step;
    int tensor, expert; /* READ, WRITE, APP_NONE */
};
#define DO(step) { step, 0, 0 }

/* Runs the steps in a child; returns what ended it: 'S' SIGSEGV, 'H' claimed
 * forever, 'O' it got through, '?' anything else. */
static char outcome(int kind, const struct act *a)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        in_child = 1;
        build(kind, kind == MOETIER_SAMPLE_FETCH ? 3 : 1);
        uint8_t used[N_EXPERT];
        for (; a->step != END; a++) {
            if (a->step == ARM)
                moetier_sampler_arm(&sampler);
            else if (a->step == COLLECT)
                moetier_sampler_collect(&sampler, used);
            else if (a->step == READ)
                touch_read(a->tensor, a->expert);
            else if (a->step == WRITE)
                touch_write(a->tensor, a->expert);
            else if (mprotect(map + ((slice(a->tensor, a->expert) + stride / 2) & ~(page - 1)), page, PROT_NONE))
                _exit(5);
        }
        _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return '?';
    if (WIFSIGNALED(st))
        return WTERMSIG(st) == SIGSEGV ? 'S' : '?';
    return WEXITSTATUS(st) == HUNG ? 'H' : WEXITSTATUS(st) == 0 ? 'O' : '?';
}

#define ROUNDS 300
static pthread_barrier_t armed, done;

/* Every round, with the other readers: every page of every slice, in the same
 * order, so that threads fault on the same slice at once. */
static void read_all(void)
{
    for (int t = 0; t < 3; t++)
        for (int e = 0; e < N_EXPERT; e++)
            for (size_t off = slice(t, e); off < slice(t, e + 1); off += page / 2)
                if (((volatile unsigned char *)map)[off] != buf[off])
                    _exit(4);
}

static void *reader(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_barrier_wait(&armed);
        read_all();
        pthread_barrier_wait(&done);
    }
    return NULL;
}

/* kind armed and collected ROUNDS times, three threads reading each time. */
static void stress(int kind)
{
    build(kind, 3);
    pthread_t th[2];
    pthread_barrier_init(&armed, NULL, 3);
    pthread_barrier_init(&done, NULL, 3);
    for (int i = 0; i < 2; i++)
        CHECK(pthread_create(&th[i], NULL, reader, NULL) == 0);
    uint8_t used[N_EXPERT];
    int all = 1;
    for (int i = 0; i < ROUNDS; i++) {
        moetier_sampler_arm(&sampler);
        pthread_barrier_wait(&armed);
        read_all();
        pthread_barrier_wait(&done);
        memset(used, 0, sizeof used);
        all &= moetier_sampler_collect(&sampler, used) == N_EXPERT;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK(all); /* every expert seen every round */
    pthread_barrier_destroy(&armed);
    pthread_barrier_destroy(&done);
    moetier_sampler_free(&sampler);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    stride = 3 * page + 96; /* unaligned, like GGUF slices: neighbours share edge pages */
    tensor = N_EXPERT * stride;
    size_t bytes = HEADER + 3 * tensor + page;
    fd = scratch_file("test_fault_claim", bytes, &buf);
    if (fd < 0)
        return 99;
    map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return 99;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigaction(SIGSEGV, &sa, NULL);

    static const struct {
        const char *what;
        int kind;
        struct act a[7]; /* room for the END the longest case needs */
        char want;
    } cases[] = {
        { "fault, built, never armed: a stray write", MOETIER_SAMPLE_FAULT, { { WRITE, 0, 2 } }, 'S' },
        { "fault, armed and collected: a stray write", MOETIER_SAMPLE_FAULT,
          { DO(ARM), { READ, 0, 1 }, DO(COLLECT), { WRITE, 0, 1 } }, 'S' },
        { "fault, armed: an expert read (claimed), then written", MOETIER_SAMPLE_FAULT,
          { DO(ARM), { READ, 0, 4 }, { WRITE, 0, 4 } }, 'S' },
        { "fault, armed: an expert written first (claimed once)", MOETIER_SAMPLE_FAULT,
          { DO(ARM), { WRITE, 0, 6 } }, 'S' },
        { "fault, armed: reads of every kind still served", MOETIER_SAMPLE_FAULT,
          { DO(ARM), { READ, 0, 0 }, { READ, 0, 7 }, DO(COLLECT), { READ, 0, 3 } }, 'O' },
        { "fault, disarmed: the application's own PROT_NONE page", MOETIER_SAMPLE_FAULT,
          { DO(ARM), DO(COLLECT), { APP_NONE, 0, 5 }, { READ, 0, 5 } }, 'S' },
        { "fetch, armed: a stray write", MOETIER_SAMPLE_FETCH, { DO(ARM), { WRITE, 1, 3 } }, 'S' },
        { "fetch, armed: an expert read (all its slices opened), then written", MOETIER_SAMPLE_FETCH,
          { DO(ARM), { READ, 0, 5 }, { WRITE, 2, 5 } }, 'S' },
        { "fetch, between steps: the application's own PROT_NONE page", MOETIER_SAMPLE_FETCH,
          { DO(ARM), { READ, 1, 2 }, DO(COLLECT), { APP_NONE, 1, 2 }, { READ, 1, 2 } }, 'S' },
        { "fetch, re-armed: an opened expert is armed (claimed) again", MOETIER_SAMPLE_FETCH,
          { DO(ARM), { READ, 0, 5 }, DO(COLLECT), DO(ARM), { READ, 1, 5 }, { READ, 2, 4 } }, 'O' },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char got = outcome(cases[i].kind, cases[i].a);
        if (got != cases[i].want)
            fprintf(stderr, "%s: got %c, want %c (S SIGSEGV, H claimed forever, O survived)\n", cases[i].what, got,
                    cases[i].want);
        CHECK(got == cases[i].want);
    }

    /* no fault of ours refused when threads fault on one slice at once */
    stress(MOETIER_SAMPLE_FAULT);
    stress(MOETIER_SAMPLE_FETCH);
    free(buf);
    return check_exit("test_fault_claim");
}
