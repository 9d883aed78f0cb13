/*
 * test_fetch: the fetch sampler on a real file mapping with the page cache
 * really dropped. Three "expert tensors" of one layer (gate, up, down) of 16
 * experts, 1 MiB + 96 bytes each (unaligned, like GGUF slices), mapped
 * MAP_SHARED read-only. Armed, a touch of one expert's gate slice raises
 * SIGSEGV; the handler (moetier_sampler_fault, as the shim calls it) marks the
 * expert and reads its three slices in with readahead before the touch is
 * retried. Checked with mincore: the expert's slices in all three tensors are
 * cached, its neighbours are not (no read-around), and collect() reports
 * exactly the touched experts. Protection persists between steps (a touch
 * then is served too) and re-arming protects the restored slices again. Skips (77) where the page cache of the file
 * cannot be dropped (the file system keeps it).
 */
#include "profiler/sampler.h"
#include "tests/unit/check.h"
#include "tests/unit/scratch_file.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define N_EXPERT 16
#define STRIDE ((1u << 20) + 96)
#define HEADER 8192
#define TENSOR ((size_t)N_EXPERT * STRIDE)
#define FILE_BYTES (HEADER + 3 * TENSOR + 4096)

static struct moetier_sampler sampler;
static unsigned char *map;
static size_t page;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (!moetier_sampler_fault(&sampler, (uintptr_t)si->si_addr)) {
        signal(sig, SIG_DFL); /* not ours: crash as usual */
        raise(sig);
    }
}

/* Share of the pages of [off, off+len) of the mapping that are in the page cache. */
static double cached(size_t off, size_t len)
{
    uintptr_t a = ((uintptr_t)map + off + page - 1) & ~(page - 1), b = ((uintptr_t)map + off + len) & ~(page - 1);
    size_t n = (b - a) / page, in = 0;
    unsigned char *v = malloc(n);
    if (!v || mincore((void *)a, b - a, v) != 0) {
        free(v);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        in += v[i] & 1;
    free(v);
    return (double)in / (double)n;
}

/* readahead submits the reads and returns; a slice no one waited on is
 * cached once its I/O completes: wait for that (at most 10 s). */
static double cached_soon(size_t off, size_t len)
{
    double c = cached(off, len);
    for (int i = 0; i < 1000 && c < 0.99; i++) {
        usleep(10000);
        c = cached(off, len);
    }
    return c;
}

static size_t slice(int tensor, int e)
{
    return HEADER + (size_t)tensor * TENSOR + (size_t)e * STRIDE;
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *buf;
    int fd = scratch_file("test_fetch", FILE_BYTES, &buf);
    if (fd < 0)
        return 99;
    map = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED)
        return 99;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    if (cached(0, FILE_BYTES) > 0.01) {
        printf("SKIP: test_fetch: the page cache of the test file cannot be dropped here\n");
        return 77;
    }

    struct moetier_placements t;
    memset(&t, 0, sizeof t);
    for (int k = 0; k < 3; k++) {
        struct moetier_placement *p = &t.item[t.n++];
        p->base = (uintptr_t)map + slice(k, 0);
        p->stride = STRIDE;
        p->n_expert = N_EXPERT;
        p->layer = 0;
        p->part = (uint8_t)k;
        p->kind = MOETIER_MEM_FILE_SHARED;
        p->live = 1;
        p->prot = PROT_READ;
        p->file = 0;
        p->file_off = slice(k, 0);
    }
    char why[200] = "";
    CHECK(moetier_sampler_build(&sampler, MOETIER_SAMPLE_FETCH, &t, 1, N_EXPERT, why, sizeof why) == 0);
    CHECK(sampler.kind == MOETIER_SAMPLE_FETCH && sampler.n_regions == 3 && sampler.covered == N_EXPERT);
    int fds[1] = { fd };
    moetier_sampler_fetch_fds(&sampler, fds, 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    moetier_sampler_arm(&sampler);
    /* one byte in the middle of expert 5's gate slice, then expert 11's down slice */
    volatile unsigned char x = map[slice(0, 5) + STRIDE / 2];
    volatile unsigned char y = map[slice(2, 11) + 12345];
    CHECK(x == buf[slice(0, 5) + STRIDE / 2] && y == buf[slice(2, 11) + 12345]);
    for (int k = 0; k < 3; k++) {
        CHECK(cached_soon(slice(k, 5), STRIDE) > 0.99);  /* every slice of expert 5, read in whole */
        CHECK(cached_soon(slice(k, 11), STRIDE) > 0.99);
        CHECK(cached(slice(k, 3), 2 * STRIDE) < 0.01); /* experts 3 and 4: no read-around */
        CHECK(cached(slice(k, 7), 3 * STRIDE) < 0.01); /* 7 to 9 */
    }
    CHECK(sampler.fetched == 6);
    uint8_t used[N_EXPERT] = { 0 };
    CHECK(moetier_sampler_collect(&sampler, used) == 2 && used[5] && used[11]);
    /* protection persists between steps: a touch now is served by the handler */
    CHECK(map[slice(1, 2)] == buf[slice(1, 2)] && sampler.fetched == 9);
    CHECK(cached_soon(slice(0, 2), STRIDE) > 0.99);
    /* the next arm protects again only what was restored: expert 5 faults (and is counted) again */
    moetier_sampler_arm(&sampler);
    CHECK(map[slice(1, 5) + 7] == buf[slice(1, 5) + 7]);
    memset(used, 0, sizeof used);
    CHECK(moetier_sampler_collect(&sampler, used) == 1 && used[5] && !used[2]);
    /* disarmed: plain reads, no faults, nothing fetched */
    moetier_sampler_disarm(&sampler);
    unsigned long before = (unsigned long)sampler.fetched;
    CHECK(map[slice(2, 14)] == buf[slice(2, 14)] && sampler.fetched == before);
    if (check_failures)
        fprintf(stderr, "cached: e5 %.2f e4 %.2f e6 %.2f\n", cached(slice(0, 5), STRIDE), cached(slice(0, 4), STRIDE),
                cached(slice(0, 6), STRIDE));
    moetier_sampler_free(&sampler);
    free(buf);
    return check_exit("test_fetch");
}
