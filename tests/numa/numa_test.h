/*
 * numa_test: helpers the numa tests share: a content checksum, a pattern
 * fill, the re-exec that gives jemalloc its static TLS room, and a one-line
 * print of a where/move result.
 */
#ifndef MOETIER_TESTS_NUMA_TEST_H
#define MOETIER_TESTS_NUMA_TEST_H

#include "tests/unit/check.h"
#include "tiering/numa_tier.h"
#include "tiering/slow_arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MiB ((size_t)1 << 20)

/* FNV-1a over 8-byte words (and the tail bytes). */
static inline uint64_t nt_sum(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 1469598103934665603ULL;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 1099511628211ULL;
    }
    for (; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ULL;
    return h;
}

/* A pattern that differs on every page (so a page swapped for another shows). */
static inline void nt_fill(void *p, size_t n, uint64_t seed)
{
    unsigned char *b = p;
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (size_t i = 0; i < n; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(b + i, &x, n - i < 8 ? n - i : 8);
    }
}

/* jemalloc (Debian's) needs static TLS room that only exists when the process
 * starts with GLIBC_TUNABLES set: re-exec once with it. */
static inline void nt_reexec_with_tunable(char **argv)
{
    const char *cur = getenv("GLIBC_TUNABLES");
    if (cur && strstr(cur, "glibc.rtld.optional_static_tls="))
        return;
    char val[1024];
    if (moetier_slow_arena_tunables(cur, val, sizeof val)) {
        fprintf(stderr, "GLIBC_TUNABLES too long\n");
        exit(1);
    }
    setenv("GLIBC_TUNABLES", val, 1);
    fflush(stdout);
    execv("/proc/self/exe", argv);
    perror("execv /proc/self/exe");
    exit(1);
}

static inline void nt_print_moved(const char *what, const struct moetier_numa_moved *r)
{
    printf("%s: pages %llu moved %llu already %llu not_present %llu shared %llu busy %llu nomem %llu "
           "fault %llu other %llu unmoved %llu edge %llu\n",
           what, (unsigned long long)r->pages, (unsigned long long)r->moved, (unsigned long long)r->already,
           (unsigned long long)r->not_present, (unsigned long long)r->shared, (unsigned long long)r->busy,
           (unsigned long long)r->nomem, (unsigned long long)r->fault, (unsigned long long)r->other,
           (unsigned long long)r->unmoved, (unsigned long long)r->edge);
}

#endif
