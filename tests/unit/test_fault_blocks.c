/*
 * test_fault_blocks: the fault sampler keeps the page cache's 2 MiB mappings
 * whole. One "expert tensor" of 12 experts of 2.69 MiB (unaligned, like GGUF
 * slices, and too small for pagemap's 2 MiB unit) in a real file on disk,
 * mapped MAP_SHARED read-only at a 2 MiB-aligned address and faulted in with
 * PMD mappings (MADV_HUGEPAGE). The sampler chosen for it must be the fault
 * sampler protecting whole PMD mappings; then, for 200 random sets of experts
 * each read whole in ascending order (as MUL_MAT_ID reads them) and 200 in
 * descending order, collect() must report exactly that set, the bytes read
 * must be the file's, and FilePmdMapped in /proc/self/smaps must not drop by
 * more than the two partial 2 MiB mappings at the tensor's ends: no other
 * mprotect split a 2 MiB mapping. Skips (77) where this kernel or file
 * system does not map the file's page cache with PMD entries.
 */
#include "common/rng.h"
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

#define N_EXPERT 12
#define STRIDE ((2816u << 10) + 96) /* 2.69 MiB, like the 1.6 GiB benchmark model's */
#define HEADER 8192
#define PMD (2u << 20)
#define FILE_BYTES (((HEADER + (size_t)N_EXPERT * STRIDE) + PMD) & ~(size_t)(PMD - 1))

static struct moetier_sampler sampler;
static unsigned char *map;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (!moetier_sampler_fault(&sampler, (uintptr_t)si->si_addr)) {
        signal(sig, SIG_DFL); /* not ours: crash as usual */
        raise(sig);
    }
}

/* kB of the mapping [map, map + FILE_BYTES) mapped with PMD entries, summed
 * over its VMAs (mprotect splits the VMA), or -1. */
static long pmd_mapped_kb(void)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return -1;
    char line[512];
    int inside = 0;
    long kb = 0, v;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
            inside = lo >= (uintptr_t)map && hi <= (uintptr_t)map + FILE_BYTES;
        else if (inside && sscanf(line, "FilePmdMapped: %ld kB", &v) == 1)
            kb += v;
    }
    fclose(f);
    return kb;
}

static size_t slice(int e)
{
    return HEADER + (size_t)e * STRIDE;
}

/* Reads experts in the order given, every byte, like a matrix product over
 * their rows; returns 0 when every byte is the file's. */
static int read_experts(const int *order, int n, const unsigned char *want)
{
    int bad = 0;
    for (int k = 0; k < n; k++) {
        const unsigned char *p = map + slice(order[k]);
        for (size_t i = 0; i < STRIDE; i += 64)
            bad |= p[i] != want[slice(order[k]) + i];
        bad |= p[STRIDE - 1] != want[slice(order[k]) + STRIDE - 1];
    }
    return bad;
}

int main(void)
{
    unsigned char *buf;
    int fd = scratch_file("test_fault_blocks", FILE_BYTES, &buf);
    if (fd < 0)
        return 99;
    /* a 2 MiB-aligned address (file offset 0 there), as PMD mappings need */
    unsigned char *area = mmap(NULL, FILE_BYTES + PMD, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED)
        return 99;
    map = (unsigned char *)(((uintptr_t)area + PMD - 1) & ~(uintptr_t)(PMD - 1));
    if (mmap(map, FILE_BYTES, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0) == MAP_FAILED)
        return 99;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    madvise(map, FILE_BYTES, MADV_HUGEPAGE);
    CHECK(read_experts((const int[]){ 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 }, N_EXPERT, buf) == 0);
    long pmd0 = pmd_mapped_kb();
    if (pmd0 <= 0) {
        printf("SKIP: test_fault_blocks: this kernel or file system (TMPDIR) maps the file's page cache without "
               "2 MiB entries (FilePmdMapped %ld kB)\n", pmd0);
        return 77;
    }

    struct moetier_placements t;
    memset(&t, 0, sizeof t);
    struct moetier_placement *p = &t.item[t.n++];
    p->base = (uintptr_t)map + slice(0);
    p->stride = STRIDE;
    p->n_expert = N_EXPERT;
    p->kind = MOETIER_MEM_FILE_SHARED;
    p->live = 1;
    p->prot = PROT_READ;
    p->file_off = slice(0);
    char why[200] = "";
    CHECK(moetier_sampler_build(&sampler, MOETIER_SAMPLE_NONE, &t, 1, N_EXPERT, why, sizeof why) == 0);
    printf("sampler: %s; unit measured: %s\n", sampler.kind == MOETIER_SAMPLE_FAULT ? "fault" : "not fault", why);
    CHECK(sampler.kind == MOETIER_SAMPLE_FAULT && sampler.n_regions == 1 && sampler.covered == N_EXPERT);
    CHECK(sampler.regions[0].block == PMD);
    pmd0 = pmd_mapped_kb(); /* the unit measure zapped one window */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);

    struct rng rng;
    rng_seed(&rng, 42, 0);
    int exact = 0, rounds = 400, bytes_ok = 1;
    long pmd_min = pmd0;
    for (int r = 0; r < rounds; r++) {
        int order[N_EXPERT], n = 0;
        uint8_t want[N_EXPERT] = { 0 }, used[N_EXPERT] = { 0 };
        for (int e = 0; e < N_EXPERT; e++)
            if (rng_next(&rng) % 3 == 0)
                want[e] = 1;
        for (int k = 0; k < N_EXPERT; k++) {
            int e = r % 2 ? N_EXPERT - 1 - k : k; /* ascending, then descending */
            if (want[e])
                order[n++] = e;
        }
        moetier_sampler_arm(&sampler);
        bytes_ok &= read_experts(order, n, buf) == 0;
        long armed = pmd_mapped_kb();
        moetier_sampler_collect(&sampler, used);
        exact += memcmp(used, want, N_EXPERT) == 0;
        long after = pmd_mapped_kb();
        if (armed < pmd_min)
            pmd_min = armed;
        if (after < pmd_min)
            pmd_min = after;
    }
    printf("%d of %d steps seen exactly; FilePmdMapped %ld kB before, at least %ld kB in all steps\n", exact, rounds,
           pmd0, pmd_min);
    CHECK(bytes_ok);
    CHECK(exact == rounds);
    /* only the partial PMD mappings at the tensor's two ends may be split */
    CHECK(pmd_min >= pmd0 - 2 * (long)(PMD >> 10));
    moetier_sampler_free(&sampler);
    free(buf);
    return check_exit("test_fault_blocks");
}
