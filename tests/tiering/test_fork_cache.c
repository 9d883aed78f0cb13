/*
 * test_fork_cache: a forked child keeps reading the model's bytes while the
 * parent demotes (issue 14, defect 1).
 *
 * The DRAM cache is a memfd the child inherits; a demotion in the parent
 * punches its pages (FALLOC_FL_PUNCH_HOLE), which a child still mapping the
 * memfd would then read as zeros. Real memory throughout: a file mapped
 * MAP_SHARED read-only, the engine promoting two slots into a real memfd by
 * MAP_FIXED, a real fork. The child runs moetier_engine_fork_child from its
 * atfork handler, as the shim's does; pipes order the steps (no timing):
 *   child:  detached -> tells the parent
 *   parent: its promoted ranges still map the cache, with every page still
 *           there (the child freed nothing) -> demotes all (punch) -> tells
 *   child:  every byte of the formerly promoted ranges equals the file's
 */
#include "config.h"

#include "tests/unit/check.h"
#include "tiering/engine.h"
#include "tiering/residency.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILE_BYTES (1u << 20)
#define EXPERTS 2
#define STRIDE (256u << 10)

static unsigned char *want, *map;
static struct moetier_engine eng;
static int detach_rc = -1;

static void child_detach(void)
{
    detach_rc = moetier_engine_fork_child(&eng);
}

/* 1 when addr lies in a mapping of the cache memfd. */
static int in_cache(const void *addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    int hit = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
            hit = strstr(line, "moetier-cache") != NULL;
            break;
        }
    }
    if (f)
        fclose(f);
    return hit;
}

/* Bytes of the promoted ranges that differ from the file. */
static size_t wrong_bytes(void)
{
    size_t bad = 0;
    for (uint32_t i = 0; i < eng.n_slots * MOETIER_ENGINE_PARTS; i++) {
        const struct moetier_range *r = &eng.range[i];
        for (size_t k = 0; k < r->len; k++)
            bad += ((const volatile unsigned char *)r->addr)[k] != want[r->off + k];
    }
    return bad;
}

static void xread(int fd)
{
    char c;
    if (read(fd, &c, 1) != 1)
        _exit(4);
}

static void xwrite(int fd)
{
    if (write(fd, "x", 1) != 1)
        _exit(4);
}

int main(void)
{
    char path[] = "/tmp/test_fork_cache.XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    want = malloc(FILE_BYTES);
    for (size_t i = 0; i < FILE_BYTES; i++)
        want[i] = (unsigned char)(i % 251 + 1); /* never 0: a punched page reads 0 */
    CHECK(write(fd, want, FILE_BYTES) == (ssize_t)FILE_BYTES);
    map = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    CHECK(map != MAP_FAILED);

    uint64_t size = FILE_BYTES;
    struct moetier_engine_opts o = { .promote_after = 1, .min_resident_ns = 1 };
    CHECK(moetier_engine_init(&eng, 1, EXPERTS, 1, &size, FILE_BYTES, 0, &o) == 0);
    moetier_engine_set_source(&eng, 0, fd, 0, 0);
    CHECK(moetier_engine_add(&eng, 0, 0, (uintptr_t)map, STRIDE, EXPERTS, 0, 0, PROT_READ) == 0);
    struct moetier_residency res;
    float rate[EXPERTS] = { 1.0f, 1.0f };
    struct moetier_round out;
    CHECK(moetier_residency_new(&res, "lfu", 1, EXPERTS, 1, moetier_engine_capacity(&eng), NULL) == 0);
    moetier_residency_seed(&res, rate);
    moetier_engine_round(&eng, &res, rate, 1000, 1, &out);
    CHECK(out.promoted == EXPERTS && in_cache(map) && wrong_bytes() == 0);
    uint64_t resident = moetier_dram_cache_resident(&eng.cache);
    CHECK(resident == 2u * STRIDE);

    pthread_atfork(NULL, NULL, child_detach);
    int up[2], down[2];
    CHECK(pipe(up) == 0 && pipe(down) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        int ok = detach_rc == 0 && !in_cache(map);
        xwrite(up[1]);
        xread(down[0]); /* the parent has demoted: its memfd pages are gone */
        size_t bad = wrong_bytes();
        if (bad)
            fprintf(stderr, "child: %zu bytes differ from the file (e.g. %u, want %u)\n", bad, map[0], want[0]);
        _exit(ok && !bad ? 0 : 3);
    }
    CHECK(pid > 0);
    xread(up[0]);
    /* the child freed nothing of the parent's cache */
    CHECK(in_cache(map) && moetier_dram_cache_resident(&eng.cache) == resident && wrong_bytes() == 0);
    moetier_engine_demote_all(&eng);
    CHECK(moetier_engine_count(&eng, MOETIER_SLOT_DRAM) == 0 && moetier_dram_cache_resident(&eng.cache) == 0);
    xwrite(down[1]);
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(wrong_bytes() == 0);

    moetier_residency_free(&res);
    moetier_engine_free(&eng);
    return check_exit("test_fork_cache");
}
