/*
 * bench_tier: what the slow tier and the promotion paths give moetier (see
 * bench.h).
 *
 *   cold reads   the file's page cache dropped (POSIX_FADV_DONTNEED, after
 *                its dirty pages are written back, which it cannot drop),
 *                mincore confirming how much is gone; then whole chunks of
 *                1, 4 (an expert of a large MoE) and 16 MiB read with pread
 *                in a shuffled order, as the cache fetches experts: GB/s of
 *                the pass and the median latency of one chunk; and single
 *                4 KiB pages with readahead off (POSIX_FADV_RANDOM), for the
 *                device's own latency.
 *   promotion    the real tiering/migrate.h calls, per mode, over 4 MiB
 *                ranges of the file's read-only MAP_SHARED mapping (source
 *                in the page cache): copy (into the memfd cache, then
 *                MAP_FIXED), lock (mlock in place, within RLIMIT_MEMLOCK),
 *                move_pages (an anonymous buffer between two NUMA nodes,
 *                only where a second node has memory). A promotion is timed
 *                until the range is readable at full speed: the call, then
 *                one read per page (the faults a remap or a lock leaves to
 *                the first reader). A demotion is the call alone. The file
 *                modes run again with the source dropped from the page cache
 *                (a cold promotion) where the cold reads found the drop to
 *                work; each round's promoted bytes are checked against the
 *                file's.
 *   GPU          host-to-device cudaMemcpy from pinned (cudaMallocHost) and
 *                pageable (malloc) memory, through the CUDA runtime found at
 *                run time (dlopen, as doctor does).
 */
#include "config.h"

#include "common/memlock.h"
#include "common/page.h"
#include "common/size.h"
#include "tiering/dram_cache.h"
#include "tiering/migrate.h"
#include "tiering/numa_tier.h"
#include "tools/bench.h"
#include "tools/system_probe.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define RANGE (4u << 20)   /* an expert of a large MoE (a Kimi K2 expert at q4_K is ~6 MiB) */
#define GPU_BYTES (256u << 20)

const char *const bench_mode_names[BENCH_MODES] = { "copy", "lock", "move_pages" };

int bench_fill_file(int fd, uint64_t size)
{
    size_t blk = 1u << 20;
    unsigned char *buf = malloc(blk);
    if (!buf)
        return -ENOMEM;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int rc = 0;
    for (uint64_t done = 0; done < size && rc == 0; done += blk) {
        size_t n = size - done < blk ? (size_t)(size - done) : blk;
        for (size_t i = 0; i + 8 <= n; i += 8) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            memcpy(buf + i, &x, 8);
        }
        if (pwrite(fd, buf, n, (off_t)done) != (ssize_t)n)
            rc = errno ? -errno : -EIO;
    }
    free(buf);
    return rc;
}

/* ---- cold reads ------------------------------------------------------------ */

/* Share of the file's pages in the page cache (mincore of a mapping). */
static double resident_share(int fd, uint64_t size)
{
    size_t page = moetier_page_size(), pages = (size_t)((size + page - 1) / page);
    void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *vec = malloc(pages);
    double share = -1;
    if (p != MAP_FAILED && vec && mincore(p, (size_t)size, vec) == 0) {
        size_t in = 0;
        for (size_t i = 0; i < pages; i++)
            in += vec[i] & 1;
        share = (double)in / (double)pages;
    }
    free(vec);
    if (p != MAP_FAILED)
        munmap(p, (size_t)size);
    return share;
}

static void shuffle(uint64_t *idx, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        size_t j = (size_t)(seed % i);
        uint64_t t = idx[i - 1];
        idx[i - 1] = idx[j], idx[j] = t;
    }
}

/* One pass of shuffled chunk reads; gbps and the median chunk latency. */
static int read_pass(double limit_s, int fd, uint64_t size, size_t chunk, unsigned char *buf, uint64_t seed,
                     double *gbps, double *lat_us, size_t *bytes)
{
    size_t n = (size_t)(size / chunk);
    uint64_t *idx = malloc(n * sizeof *idx);
    double *lat = malloc(n * sizeof *lat);
    if (!idx || !lat) {
        free(idx), free(lat);
        return -ENOMEM;
    }
    shuffle(idx, n, seed);
    size_t done = 0;
    double t0 = bench_now(), t = t0;
    for (; done < n && t - t0 < limit_s; done++) {
        double c0 = t;
        size_t got = 0;
        while (got < chunk) {
            ssize_t k = pread(fd, buf + got, chunk - got, (off_t)(idx[done] * chunk + got));
            if (k <= 0) {
                int e = k < 0 ? errno : EIO;
                free(idx), free(lat);
                return -e;
            }
            got += (size_t)k;
        }
        t = bench_now();
        lat[done] = (t - c0) * 1e6;
    }
    struct bench_stat s;
    bench_summarize(lat, (int)done, &s);
    *lat_us = s.median;
    *bytes = done * chunk;
    *gbps = (double)(done * chunk) / (t - t0) / 1e9;
    free(idx), free(lat);
    return 0;
}

static void measure_reads(const struct bench_opts *o, int fd, uint64_t size, struct bench_tier *out)
{
    static const size_t sizes[BENCH_READ_SIZES] = { 4u << 10, 1u << 20, 4u << 20, 16u << 20 };
    if (fdatasync(fd) != 0) {
        snprintf(out->skipped_read, BENCH_WHY, "its dirty pages cannot be written back (fdatasync: %s), so the "
                 "page cache cannot drop them", strerror(errno));
        return;
    }
    unsigned char *buf = mmap(NULL, sizes[BENCH_READ_SIZES - 1], PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (buf == MAP_FAILED) {
        snprintf(out->skipped_read, BENCH_WHY, "no buffer: %s", strerror(errno));
        return;
    }
    out->cold = 1;
    for (int s = 0; s < BENCH_READ_SIZES; s++) {
        struct bench_read *r = &out->read[s];
        r->chunk = sizes[s];
        if (size < sizes[s])
            continue;
        char what[48], a[32];
        snprintf(what, sizeof what, "cold reads, %s", moetier_size_format(sizes[s], a, sizeof a));
        bench_step(o, what);
        /* a page: the device's latency, one read each (no readahead), in a shorter pass */
        int page = sizes[s] < (64u << 10);
        posix_fadvise(fd, 0, 0, page ? POSIX_FADV_RANDOM : POSIX_FADV_NORMAL);
        double g[BENCH_MAX_REPS], l[BENCH_MAX_REPS];
        int n = 0;
        for (int rep = 0; rep < o->reps; rep++) {
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
            double left = resident_share(fd, size);
            if (left > out->resident_share)
                out->resident_share = left;
            if (left < 0 || left > 0.05)
                out->cold = 0;
            int rc = read_pass(page ? o->pass_s / 4 : o->pass_s, fd, size, sizes[s], buf,
                               0x2545f4914f6cdd1dull + (uint64_t)rep, &g[n], &l[n], &r->bytes);
            if (rc) {
                snprintf(out->skipped_read, BENCH_WHY, "pread: %s", strerror(-rc));
                break;
            }
            n++;
        }
        bench_summarize(g, n, &r->gbps);
        bench_summarize(l, n, &r->latency_us);
    }
    posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL);
    munmap(buf, sizes[BENCH_READ_SIZES - 1]);
    if (!out->cold && !out->skipped_read[0])
        snprintf(out->skipped_read, BENCH_WHY, "the page cache still held %.0f%% of the file after "
                 "POSIX_FADV_DONTNEED (tmpfs, or its pages mapped by another process): the reads were not cold",
                 out->resident_share * 100);
}

/* ---- promotion and demotion ------------------------------------------------- */

/* The first and last page of each range read the file's bytes (fd < 0: not checked). */
static int same_as_file(int fd, const unsigned char *base, size_t len, size_t range)
{
    unsigned char page[4096];
    for (size_t off = 0; fd >= 0 && off < len; off += range)
        for (size_t at = off; at < off + range; at += range - sizeof page) {
            if (pread(fd, page, sizeof page, (off_t)at) != (ssize_t)sizeof page || memcmp(page, base + at, sizeof page))
                return 0;
            if (range <= sizeof page)
                break;
        }
    return 1;
}

/* Promotes then demotes every range of [base, base+len), reps times, into
 * *pro_out and *dem_out; the promoted bytes are checked against fd's (outside
 * the timing). cold: the source is dropped from the page cache before each
 * round (unmapped first: mapped pages are not dropped), else mapped and warm. */
static void migrate_rounds(const struct bench_opts *o, struct moetier_migrator *m, int fd, unsigned char *base,
                           size_t len, size_t range, int cold, struct bench_stat *pro_out, struct bench_stat *dem_out,
                           struct bench_migrate *out)
{
    double pro[BENCH_MAX_REPS], dem[BENCH_MAX_REPS];
    int n = 0, rc = 0;
    size_t n_ranges = len / range;
    const char *failed = NULL;
    for (int rep = 0; rep < o->reps && !failed; rep++) {
        if (cold) {
            madvise(base, len, MADV_DONTNEED);
            posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
        } else {
            moetier_touch_pages(base, len); /* the source mapped and warm, as the runtime finds it */
        }
        double t0 = bench_now();
        size_t promoted = 0;
        for (; promoted < n_ranges; promoted++) {
            struct moetier_range x = { .addr = (uintptr_t)base + promoted * range, .len = range,
                                       .off = promoted * range, .prot = PROT_READ };
            if ((rc = moetier_migrate_promote(m, &x)) != 0) {
                failed = "promotion";
                break;
            }
            moetier_touch_pages(base + promoted * range, range);
        }
        double t1 = bench_now();
        struct moetier_memlock ml;
        if (m->ops == &moetier_migrate_lock_ops && moetier_memlock_read(&ml) == 0 && ml.locked > out->locked)
            out->locked = ml.locked; /* the kernel's word that the pages are locked (VmLck) */
        if (!failed && !same_as_file(fd, base, len, range)) {
            failed = "byte identity";
            snprintf(out->skipped, BENCH_WHY, "promoted bytes differ from the file's");
        }
        double t2 = bench_now();
        for (size_t k = 0; k < promoted; k++) {
            struct moetier_range x = { .addr = (uintptr_t)base + k * range, .len = range, .off = k * range,
                                       .prot = PROT_READ };
            int d = moetier_migrate_demote(m, &x);
            if (d && !failed) {
                rc = d;
                failed = "demotion";
            }
        }
        double t3 = bench_now();
        if (failed)
            break;
        pro[n] = (double)len / (t1 - t0) / 1e9;
        dem[n] = (double)len / (t3 - t2) / 1e9;
        n++;
    }
    if (failed && rc)
        snprintf(out->skipped, BENCH_WHY, "%s failed: %s", failed, strerror(-rc));
    if (failed)
        n = 0; /* a path that fails is not measured */
    bench_summarize(pro, n, pro_out);
    bench_summarize(dem, n, dem_out);
    out->range = range;
    out->bytes = len;
}

/* copy or lock over the file's mapping; len bytes of ranges of `range`. */
static void measure_file_mode(const struct bench_opts *o, int fd, uint64_t size, size_t len, size_t range,
                              int lock, int can_drop, struct bench_migrate *out)
{
    unsigned char *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        snprintf(out->skipped, BENCH_WHY, "mmap: %s", strerror(errno));
        return;
    }
    struct moetier_dram_cache cache;
    struct moetier_migrator m;
    int rc = moetier_dram_cache_init(&cache, len, 1, &size, 0);
    if (rc == 0 && (rc = moetier_migrate_init(&m, &cache, 0)) != 0)
        moetier_dram_cache_free(&cache);
    if (rc) {
        snprintf(out->skipped, BENCH_WHY, "cannot set up the cache: %s", strerror(-rc));
        munmap(map, (size_t)size);
        return;
    }
    moetier_migrate_set_source(&m, 0, fd, 0);
    if (lock)
        moetier_migrate_set_lock(&m);
    migrate_rounds(o, &m, fd, map, len, range, 0, &out->promote_gbps, &out->demote_gbps, out);
    if (can_drop && out->promote_gbps.n) {
        struct bench_stat demote_again;
        migrate_rounds(o, &m, fd, map, len, range, 1, &out->promote_cold_gbps, &demote_again, out);
    }
    moetier_dram_cache_free(&cache);
    munmap(map, (size_t)size);
}

static void measure_lock(const struct bench_opts *o, int fd, uint64_t size, size_t len, int can_drop,
                         struct bench_migrate *out)
{
    struct moetier_memlock ml;
    char a[32], b[32];
    if (moetier_memlock_read(&ml) != 0) {
        snprintf(out->skipped, BENCH_WHY, "the memlock limit cannot be read");
        return;
    }
    uint64_t room = moetier_memlock_room(&ml);
    size_t page = moetier_page_size(), range = RANGE;
    if (room < (uint64_t)len) {
        /* what RLIMIT_MEMLOCK allows: whole ranges, or one smaller range */
        len = (size_t)(room / range * range);
        if (len == 0) {
            range = (size_t)(room / 2 / page * page); /* half: other locks come and go */
            len = range;
        }
    }
    if (range < (64u << 10)) {
        snprintf(out->skipped, BENCH_WHY, "the memlock limit (%s, %s locked) leaves no room to lock a range: "
                 "ulimit -l", moetier_size_format(ml.limit, a, sizeof a), moetier_size_format(ml.locked, b, sizeof b));
        return;
    }
    measure_file_mode(o, fd, size, len, range, 1, can_drop, out);
}

static void measure_move(const struct bench_opts *o, size_t len, struct bench_migrate *out)
{
    static struct moetier_numa_topo t;
    int rc = moetier_numa_discover(&t);
    if (rc) {
        snprintf(out->skipped, BENCH_WHY, "no NUMA information (%s)", strerror(-rc));
        return;
    }
    int fast = -1, slow = -1, near[MOETIER_NUMA_MAX_NODES];
    if (moetier_numa_near_dram(&t, -1, near, MOETIER_NUMA_MAX_NODES) > 0)
        fast = near[0];
    for (int i = 0; i < t.n && slow < 0; i++)
        if (t.node[i].has_memory && t.node[i].id != fast && t.node[i].free > (uint64_t)len * 2)
            slow = t.node[i].id;
    if (fast < 0 || slow < 0) {
        snprintf(out->skipped, BENCH_WHY, "one NUMA node with memory: move_pages needs a second one (a CPU-less "
                 "node of PMem or CXL memory, or another socket)");
        return;
    }
    unsigned char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        snprintf(out->skipped, BENCH_WHY, "mmap: %s", strerror(errno));
        return;
    }
    memset(buf, 1, len);
    struct moetier_dram_cache cache;
    struct moetier_migrator m;
    uint64_t size = len;
    if ((rc = moetier_numa_bind(buf, len, slow, 0)) != 0 ||
        (rc = moetier_dram_cache_init(&cache, len, 1, &size, 0)) != 0) {
        snprintf(out->skipped, BENCH_WHY, "cannot place the buffer on node %d: %s", slow, strerror(-rc));
        munmap(buf, len);
        return;
    }
    if ((rc = moetier_migrate_init(&m, &cache, 0)) == 0) {
        moetier_migrate_set_nodes(&m, fast, slow);
        migrate_rounds(o, &m, -1, buf, len / RANGE * RANGE, RANGE, 0, &out->promote_gbps, &out->demote_gbps, out);
        if (m.n.partial && !out->skipped[0])
            snprintf(out->skipped, BENCH_WHY, "measured, but %llu moves left pages behind",
                     (unsigned long long)m.n.partial);
    } else {
        snprintf(out->skipped, BENCH_WHY, "cannot set up the migrator: %s", strerror(-rc));
    }
    moetier_dram_cache_free(&cache);
    munmap(buf, len);
}

/* ---- host to device -------------------------------------------------------- */

typedef int (*cuda_count_fn)(int *);
typedef int (*cuda_alloc_fn)(void **, size_t);
typedef int (*cuda_free_fn)(void *);
typedef int (*cuda_copy_fn)(void *, const void *, size_t, int);
typedef int (*cuda_sync_fn)(void);
#define CUDA_H2D 1 /* cudaMemcpyHostToDevice */

static void h2d(const struct bench_opts *o, cuda_copy_fn copy, cuda_sync_fn sync, void *dev, const void *host,
                struct bench_stat *out)
{
    double v[BENCH_MAX_REPS];
    int n = 0;
    if (copy(dev, host, GPU_BYTES, CUDA_H2D) || sync())
        return;
    for (int r = 0; r < o->reps; r++) {
        double t0 = bench_now();
        if (copy(dev, host, GPU_BYTES, CUDA_H2D) || sync())
            break;
        v[n++] = (double)GPU_BYTES / (bench_now() - t0) / 1e9;
    }
    bench_summarize(v, n, out);
}

static void measure_gpu(const struct bench_opts *o, struct bench_tier *out)
{
    void *h = system_probe_cudart();
    if (!h) {
        snprintf(out->gpu, BENCH_WHY, "no CUDA runtime (libcudart) found");
        return;
    }
    cuda_count_fn count = (cuda_count_fn)dlsym(h, "cudaGetDeviceCount");
    cuda_alloc_fn dmalloc = (cuda_alloc_fn)dlsym(h, "cudaMalloc"), hmalloc = (cuda_alloc_fn)dlsym(h, "cudaMallocHost");
    cuda_free_fn dfree = (cuda_free_fn)dlsym(h, "cudaFree"), hfree = (cuda_free_fn)dlsym(h, "cudaFreeHost");
    cuda_copy_fn copy = (cuda_copy_fn)dlsym(h, "cudaMemcpy");
    cuda_sync_fn sync = (cuda_sync_fn)dlsym(h, "cudaDeviceSynchronize");
    int n = 0;
    void *dev = NULL, *pinned = NULL, *pageable = NULL;
    if (!count || !dmalloc || !hmalloc || !dfree || !hfree || !copy || !sync) {
        snprintf(out->gpu, BENCH_WHY, "the CUDA runtime lacks a function bench needs");
    } else if (count(&n) != 0 || n < 1) {
        snprintf(out->gpu, BENCH_WHY, "no CUDA device");
    } else if (dmalloc(&dev, GPU_BYTES) || hmalloc(&pinned, GPU_BYTES) || !(pageable = malloc(GPU_BYTES))) {
        snprintf(out->gpu, BENCH_WHY, "cannot allocate %u MiB on device 0 and the host", GPU_BYTES >> 20);
    } else {
        snprintf(out->gpu, BENCH_WHY, "CUDA device 0 of %d", n);
        memset(pinned, 1, GPU_BYTES);
        memset(pageable, 1, GPU_BYTES);
        h2d(o, copy, sync, dev, pinned, &out->h2d_pinned_gbps);
        h2d(o, copy, sync, dev, pageable, &out->h2d_pageable_gbps);
    }
    free(pageable);
    if (pinned)
        hfree(pinned);
    if (dev)
        dfree(dev);
    dlclose(h);
}

int bench_tier_run(const struct bench_opts *o, int fd, uint64_t size, size_t migrate_bytes, struct bench_tier *out)
{
    memset(out, 0, sizeof *out);
    measure_reads(o, fd, size, out);
    size_t len = (size_t)(size < migrate_bytes ? size : migrate_bytes) / RANGE * RANGE;
    for (int i = 0; i < BENCH_MODES; i++)
        out->mode[i].range = RANGE;
    if (len == 0) {
        for (int i = 0; i < BENCH_MODES; i++)
            snprintf(out->mode[i].skipped, BENCH_WHY, "the file is smaller than one %u MiB range", RANGE >> 20);
    } else {
        bench_step(o, "promote: copy");
        measure_file_mode(o, fd, size, len, RANGE, 0, out->cold, &out->mode[BENCH_COPY]);
        bench_step(o, "promote: lock");
        measure_lock(o, fd, size, len, out->cold, &out->mode[BENCH_LOCK]);
        bench_step(o, "promote: move_pages");
        measure_move(o, len, &out->mode[BENCH_MOVE]);
    }
    bench_step(o, "GPU");
    measure_gpu(o, out);
    return 0;
}
