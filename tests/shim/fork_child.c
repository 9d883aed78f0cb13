/*
 * fork_child: fork consistency of a tiered process, without llama.cpp.
 *
 *   fork_child MODEL.gguf STATS_DIR
 *
 * Opens and maps the model the way llama.cpp does (fopen, then one shared
 * mapping of the whole file), which under the preload places its experts and
 * publishes a stats segment. Then forks: the child reads the weights and exits
 * normally (running its atexit handlers); the parent checks that its segment
 * survived the child, reads the weights itself, and exits. Prints one line per
 * check; exit 0 when all hold. The test script checks the segment is gone after
 * the parent's exit.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int segment_exists(const char *dir, int pid)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/moetier-%d.stats", dir, pid);
    struct stat st;
    return stat(path, &st) == 0;
}

static unsigned long checksum(const unsigned char *p, size_t n)
{
    unsigned long h = 0;
    for (size_t i = 0; i < n; i += 4096)
        h = h * 31 + p[i];
    return h;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fork_child MODEL.gguf STATS_DIR\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    struct stat st;
    fstat(fileno(f), &st);
    unsigned char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED | MAP_POPULATE, fileno(f), 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    unsigned long before = checksum(m, (size_t)st.st_size);
    int parent = getpid();
    usleep(300 * 1000); /* the runtime publishes every 200 ms */
    int ok = 1;
    if (!segment_exists(argv[2], parent)) {
        printf("no stats segment before fork (is the preload active?)\n");
        ok = 0;
    }
    pid_t pid = fork();
    if (pid == 0) {
        unsigned long c = checksum(m, (size_t)st.st_size);
        exit(c == before ? 0 : 3);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        printf("child failed: status %d\n", status);
        ok = 0;
    } else {
        printf("child read the weights and exited cleanly\n");
    }
    if (!segment_exists(argv[2], parent)) {
        printf("the child removed the parent's stats segment\n");
        ok = 0;
    } else {
        printf("parent's segment survived the child\n");
    }
    if (checksum(m, (size_t)st.st_size) != before) {
        printf("weights changed\n");
        ok = 0;
    }
    munmap(m, (size_t)st.st_size);
    fclose(f);
    return ok ? 0 : 1;
}
