/*
 * promote_bw: a benchmark (not a test; tests/bench/capped.sh runs it) of
 * moetier's promotion throughput against plain memcpy on this machine.
 *
 *   promote_bw [--mib N] [--chunk SIZE] [--reps R] [--dir DIR]
 *
 * Writes a file of N MiB (default 512) in DIR (default /var/tmp), maps it
 * read-only MAP_SHARED the way llama.cpp maps a GGUF, and then, R times
 * (default 5), through tiering/migrate.h exactly as the engine does:
 *   promote  every CHUNK-sized range (default 8 MiB, one expert of the capped
 *            benchmark's model) into the DRAM cache (copy into the memfd,
 *            then MAP_FIXED over the range), source pages warm in the page cache;
 *   demote   every range back (MAP_FIXED of the file, punch the memfd);
 *   memcpy   the same bytes from the mapping into a warm (pre-faulted)
 *            anonymous buffer, and into fresh anonymous pages (page faults and
 *            zeroing included, as the memfd fill pays for its new pages);
 *   cold     the page cache of the file dropped first (POSIX_FADV_DONTNEED),
 *            then promote: what a promotion costs when its source is not in
 *            memory, as under a cgroup cap; and a plain read of the cold
 *            mapping for comparison.
 * Prints one line per measure: median MiB/s over the rounds, min-max, and
 * the time per range. Byte identity is checked after each promotion round
 * (exit 1 on a mismatch).
 * Invariants: its file is unlinked at once (nothing is left behind); on success
 * every range is demoted before the cache is freed.
 */
#include "config.h"

#include "common/size.h"
#include "tiering/dram_cache.h"
#include "tiering/migrate.h"
#include "tools/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_REPS 64

static void report(const char *what, double *mibs, int n, double mib, size_t n_ranges)
{
    struct bench_stat st;
    bench_summarize(mibs, n, &st);
    printf("%-34s %9.0f MiB/s  (min %.0f, max %.0f; %.0f us per range)\n", what, st.median, st.min, st.max,
           mib / st.median / (double)n_ranges * 1e6);
}

/* Reads every page of the mapping (64-bit sum so it is not optimized away). */
static uint64_t touch(const unsigned char *p, size_t len)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < len; i += 4096)
        sum += p[i];
    return sum;
}

static int write_file(int fd, size_t bytes)
{
    size_t blk = 1u << 20;
    unsigned char *buf = malloc(blk);
    if (!buf)
        return -ENOMEM;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t done = 0; done < bytes; done += blk) {
        for (size_t i = 0; i < blk; i += 8) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            memcpy(buf + i, &x, 8);
        }
        if (pwrite(fd, buf, blk, (off_t)done) != (ssize_t)blk) {
            free(buf);
            return -EIO;
        }
    }
    free(buf);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: promote_bw [--mib N] [--chunk SIZE] [--reps R] [--dir DIR]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    uint64_t mib = 512, chunk = 8u << 20;
    int reps = 5;
    const char *dir = "/var/tmp";
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc)
            usage();
        if (strcmp(argv[i], "--mib") == 0)
            mib = strtoull(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--chunk") == 0) {
            struct moetier_size sz;
            if (moetier_size_parse(argv[++i], 0, &sz) != 0)
                usage();
            chunk = sz.bytes;
        } else if (strcmp(argv[i], "--reps") == 0)
            reps = atoi(argv[++i]);
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[++i];
        else
            usage();
    }
    long page = sysconf(_SC_PAGESIZE);
    if (mib == 0 || reps < 1 || reps > MAX_REPS || chunk == 0 || chunk % (uint64_t)page || (mib << 20) < chunk)
        usage();
    size_t bytes = (size_t)(mib << 20) / chunk * chunk, n_ranges = bytes / chunk;
    double mb = (double)bytes / 1048576.0;

    int ret = 1;
    char path[4096];
    snprintf(path, sizeof path, "%s/promote_bw.XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        fprintf(stderr, "promote_bw: %s: %s\n", path, strerror(errno));
        return 1;
    }
    unlink(path);
    int rc = write_file(fd, bytes);
    if (rc) {
        fprintf(stderr, "promote_bw: writing %s: %s\n", path, strerror(-rc));
        goto out_fd;
    }
    fsync(fd); /* so the cold rounds can drop the pages (dirty pages are not dropped) */
    unsigned char *map = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
    unsigned char *warm = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    unsigned char *ref = malloc(bytes);
    if (map == MAP_FAILED || warm == MAP_FAILED || !ref) {
        fprintf(stderr, "promote_bw: cannot map %zu bytes\n", bytes);
        goto out_map;
    }
    memset(warm, 1, bytes);
    memcpy(ref, map, bytes);

    struct moetier_dram_cache cache;
    struct moetier_migrator mig;
    uint64_t size = bytes;
    rc = moetier_dram_cache_init(&cache, bytes, 1, &size, 0);
    if (rc == 0 && (rc = moetier_migrate_init(&mig, &cache, 0)) != 0)
        moetier_dram_cache_free(&cache);
    if (rc) {
        fprintf(stderr, "promote_bw: cannot set up the cache: %s\n", strerror(-rc));
        goto out_map;
    }
    moetier_migrate_set_source(&mig, 0, fd, 0);

    double pro[MAX_REPS], dem[MAX_REPS], cpy[MAX_REPS], fresh[MAX_REPS], cold[MAX_REPS], cold_rd[MAX_REPS];
    uint64_t sink = 0;
    printf("promote_bw: %.0f MiB in %zu ranges of %s, %d rounds, source %s\n", mb, n_ranges,
           moetier_size_format(chunk, (char[24]){ 0 }, 24), reps, dir);
    for (int r = 0; r < reps; r++) {
        for (int cold_round = 0; cold_round < 2; cold_round++) {
            if (cold_round) {
                if (posix_fadvise(fd, 0, (off_t)bytes, POSIX_FADV_DONTNEED) != 0 ||
                    madvise(map, bytes, MADV_DONTNEED) != 0) {
                    fprintf(stderr, "promote_bw: cannot drop the page cache\n");
                    goto out_cache;
                }
                posix_fadvise(fd, 0, (off_t)bytes, POSIX_FADV_DONTNEED); /* pages unmapped only now */
            } else {
                sink += touch(map, bytes); /* source warm and mapped, as for memcpy */
            }
            double t0 = bench_now();
            for (size_t i = 0; i < n_ranges; i++) {
                struct moetier_range x = { .addr = (uintptr_t)map + i * chunk, .len = chunk, .off = i * chunk, .prot = PROT_READ };
                if ((rc = moetier_migrate_promote(&mig, &x)) != 0) {
                    fprintf(stderr, "promote_bw: promote: %s\n", strerror(-rc));
                    goto out_cache;
                }
            }
            double t1 = bench_now();
            if (memcmp(map, ref, bytes) != 0) {
                fprintf(stderr, "promote_bw: promoted bytes differ from the file's\n");
                goto out_cache;
            }
            double t2 = bench_now();
            for (size_t i = 0; i < n_ranges; i++) {
                struct moetier_range x = { .addr = (uintptr_t)map + i * chunk, .len = chunk, .off = i * chunk, .prot = PROT_READ };
                if ((rc = moetier_migrate_demote(&mig, &x)) != 0) {
                    fprintf(stderr, "promote_bw: demote: %s\n", strerror(-rc));
                    goto out_cache;
                }
            }
            double t3 = bench_now();
            if (cold_round) {
                cold[r] = mb / (t1 - t0);
            } else {
                pro[r] = mb / (t1 - t0);
                dem[r] = mb / (t3 - t2);
            }
        }
        /* cold plain read: drop again, read the mapping */
        posix_fadvise(fd, 0, (off_t)bytes, POSIX_FADV_DONTNEED);
        madvise(map, bytes, MADV_DONTNEED);
        posix_fadvise(fd, 0, (off_t)bytes, POSIX_FADV_DONTNEED);
        double t0 = bench_now();
        for (size_t i = 0; i < n_ranges; i++)
            memcpy(warm + i * chunk, map + i * chunk, chunk);
        cold_rd[r] = mb / (bench_now() - t0);
        sink += touch(map, bytes);
        t0 = bench_now();
        for (size_t i = 0; i < n_ranges; i++)
            memcpy(warm + i * chunk, map + i * chunk, chunk);
        cpy[r] = mb / (bench_now() - t0);
        unsigned char *f = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (f == MAP_FAILED)
            goto out_cache;
        t0 = bench_now();
        for (size_t i = 0; i < n_ranges; i++)
            memcpy(f + i * chunk, map + i * chunk, chunk);
        fresh[r] = mb / (bench_now() - t0);
        sink += f[bytes - 1];
        munmap(f, bytes);
    }
    report("promote (source in page cache)", pro, reps, mb, n_ranges);
    report("demote", dem, reps, mb, n_ranges);
    report("memcpy, warm destination", cpy, reps, mb, n_ranges);
    report("memcpy, fresh anonymous pages", fresh, reps, mb, n_ranges);
    report("promote, source cold (from disk)", cold, reps, mb, n_ranges);
    report("memcpy, source cold (from disk)", cold_rd, reps, mb, n_ranges);
    printf("promotions %llu, demotions %llu, failed %llu (checksum %llu)\n", (unsigned long long)mig.n.promotions,
           (unsigned long long)mig.n.demotions, (unsigned long long)mig.n.failed, (unsigned long long)(sink & 1));
    ret = mig.n.failed ? 1 : 0;
out_cache:
    moetier_dram_cache_free(&cache);
out_map:
    free(ref);
    if (warm != MAP_FAILED)
        munmap(warm, bytes);
    if (map != MAP_FAILED)
        munmap(map, bytes);
out_fd:
    close(fd);
    return ret;
}
