/*
 * stress_migrate: at least 100,000 promotions and demotions (argv[2] or
 * STRESS_OPS) of expert ranges of a real file mapping while reader threads
 * checksum every expert slice continuously, with faults injected now and then
 * (failed copies, failed remaps, failed releases, a refused map count) so the
 * error paths run under concurrent readers too. Passes when no reader ever saw
 * a wrong byte, nothing crashed, and the cache never held more than its budget
 * (counted, and measured from the memfds).
 *
 * Usage: stress_migrate [PHASE [OPS]]. Under the qemu guest harness
 * (MOETIER_GUEST set) it runs in phase "numa" only and exits 77 in the others.
 * A hole left by a failing MAP_FIXED (6.1) is not injected here: a concurrent
 * reader would fault on it, which is why the engine checks the map count first
 * (test_migrate covers the hole path single-threaded).
 */
#include "config.h"

#include "tiering/migrate.h"
#include "tests/tiering/vm_locked.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define N_SLICES 192               /* 4 layers x 16 experts x 3 parts */
#define SLICE (48 * 1024 + 160)    /* unaligned, like GGUF expert slices */
#define HEADER 4096 + 32
#define FILE_BYTES (HEADER + (size_t)N_SLICES * SLICE + 8192)
#define READERS 2

static unsigned char *map;
static uint64_t sum[N_SLICES];
static volatile int stop;
static uint64_t reads[READERS], mismatches;

static uint64_t checksum(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 1099511628211ull;
    }
    return h;
}

static void *reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    uint64_t x = 88172645463325252ull + (uint64_t)id;
    while (!stop) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t s = x % N_SLICES;
        if (checksum(map + HEADER + s * SLICE, SLICE) != sum[s])
            __atomic_fetch_add(&mismatches, 1, __ATOMIC_RELAXED);
        reads[id]++;
    }
    return NULL;
}

/* One run of ops promotions and demotions over the ranges r, by copy + remap
 * or (lock) by locking in place. 1 when it passed. */
static int stress(const char *phase, int fd, struct moetier_range *r, long ops, int lock)
{
    static uint8_t in[N_SLICES];
    uint64_t size = FILE_BYTES, budget = (uint64_t)N_SLICES / 4 * r[0].len; /* a quarter */
    struct moetier_dram_cache c;
    struct moetier_migrator m;
    if (moetier_dram_cache_init(&c, budget, 1, &size, 0) || moetier_migrate_init(&m, &c, 0)) {
        fprintf(stderr, "cannot set up the cache\n");
        return 1;
    }
    moetier_migrate_set_source(&m, 0, fd, 0);
    if (lock)
        moetier_migrate_set_lock(&m);
    uint64_t locked0 = vm_locked(), locked_peak = 0;
    memset(in, 0, N_SLICES);
    stop = 0;
    mismatches = 0;
    memset(reads, 0, sizeof reads);

    pthread_t t[READERS];
    for (int i = 0; i < READERS; i++)
        pthread_create(&t[i], NULL, reader, (void *)(intptr_t)i);

    static const enum moetier_migrate_point points[] = { MOETIER_FAULT_FILL, MOETIER_FAULT_MAP, MOETIER_FAULT_RELEASE,
                                                         MOETIER_FAULT_MAPCOUNT, MOETIER_FAULT_RESTORE };
    static const int errs[] = { EIO, ENOMEM, EFAULT };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long done = 0, attempts = 0, over_budget = 0, injected = 0, refused = 0;
    uint64_t y = 0x9E3779B97F4A7C15ull;
    while (done < ops) {
        y ^= y << 13, y ^= y >> 7, y ^= y << 17;
        size_t s = y % N_SLICES;
        attempts++;
        if (attempts % 97 == 0) {
            moetier_migrate_inject(&m, points[(y >> 20) % 5], errs[(y >> 30) % 3], 0, 1);
            injected++;
        }
        int rc;
        if (in[s]) {
            rc = moetier_migrate_demote(&m, &r[s]);
            if (rc == 0)
                in[s] = 0;
        } else {
            rc = moetier_migrate_promote(&m, &r[s]);
            if (rc == -ENOSPC) { /* full: demote another first */
                for (size_t k = 1; k < N_SLICES && rc == -ENOSPC; k++) {
                    size_t v = (s + k) % N_SLICES;
                    if (in[v] && moetier_migrate_demote(&m, &r[v]) == 0) {
                        in[v] = 0;
                        done++;
                        rc = moetier_migrate_promote(&m, &r[s]);
                    }
                }
            }
            if (rc == 0)
                in[s] = 1;
        }
        if (rc == 0)
            done++;
        else
            refused++;
        if (c.used > budget)
            over_budget++;
        if (attempts % 1024 == 0) {
            moetier_migrate_retry_pending(&m);
            if (moetier_dram_cache_resident(&c) > budget)
                over_budget++;
            uint64_t l = vm_locked() - locked0;
            locked_peak = l > locked_peak ? l : locked_peak;
            if (l > budget)
                over_budget++;
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    stop = 1;
    uint64_t total_reads = 0;
    for (int i = 0; i < READERS; i++) {
        pthread_join(t[i], NULL);
        total_reads += reads[i];
    }
    /* every slice, every byte, once more after the dust settles */
    for (size_t s = 0; s < N_SLICES; s++)
        if (checksum(map + HEADER + s * SLICE, SLICE) != sum[s])
            mismatches++;
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    moetier_migrate_retry_pending(&m);
    while (lock && vm_locked() > locked0) { /* unlock what is left, for the next phase */
        size_t k;
        for (k = 0; k < N_SLICES && !in[k]; k++)
            ;
        if (k == N_SLICES || moetier_migrate_demote(&m, &r[k]) != 0)
            break;
        in[k] = 0;
    }
    printf("stress_migrate [%s%s]: %llu promotions, %llu demotions (%.0f ops/s), %ld failed or refused "
           "(%ld faults injected, %llu restored, %llu no headroom), %llu checksummed reads, %llu mismatches, "
           "peak %llu of %llu budget bytes, %ld budget violations\n",
           phase, lock ? ", locking" : "", (unsigned long long)m.n.promotions, (unsigned long long)m.n.demotions, (double)done / secs,
           refused, injected, (unsigned long long)m.n.restored, (unsigned long long)m.n.no_headroom,
           (unsigned long long)total_reads, (unsigned long long)mismatches, (unsigned long long)c.peak,
           (unsigned long long)budget, over_budget);
    if (lock)
        printf("stress_migrate [%s, locking]: VmLck peak %llu bytes above the start\n", phase,
               (unsigned long long)locked_peak);
    uint64_t peak = c.peak;
    moetier_dram_cache_free(&c);
    return mismatches == 0 && over_budget == 0 && peak <= budget && m.n.promotions + m.n.demotions >= (uint64_t)ops &&
             total_reads > 0 && (!lock || locked_peak > 0);
}

int main(int argc, char **argv)
{
    const char *phase = argc > 1 ? argv[1] : "host";
    if (getenv("MOETIER_GUEST") && strcmp(phase, "numa") != 0)
        return 77;
    long ops = argc > 2 ? atol(argv[2]) : getenv("STRESS_OPS") ? atol(getenv("STRESS_OPS")) : 100000;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    char path[512];
    snprintf(path, sizeof path, "%s/stress_migrate.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    unlink(path);
    unsigned char *buf = malloc(FILE_BYTES);
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < FILE_BYTES; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)(x >> 24);
    }
    if (write(fd, buf, FILE_BYTES) != (ssize_t)FILE_BYTES) {
        perror("write");
        return 1;
    }
    map = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    for (size_t s = 0; s < N_SLICES; s++)
        sum[s] = checksum(buf + HEADER + s * SLICE, SLICE);
    free(buf);

    /* each slice's whole pages are one range */
    struct moetier_range r[N_SLICES];
    for (size_t s = 0; s < N_SLICES; s++) {
        uintptr_t lo = (uintptr_t)map + HEADER + s * SLICE, hi = lo + SLICE;
        uintptr_t a = (lo + page - 1) / page * page, b = hi / page * page;
        r[s] = (struct moetier_range){ .addr = a, .len = b - a, .file = 0, .off = a - (uintptr_t)map, .prot = PROT_READ };
    }
    int ok = stress(phase, fd, r, ops, 0);
    if (strcmp(phase, "host") == 0)
        ok &= stress(phase, fd, r, ops, 1);
    return ok ? 0 : 1;
}
