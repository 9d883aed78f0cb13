/*
 * pin_hot: a bench-only preload (tests/bench/capped.sh), not part of moetier.
 * It stands for what llama.cpp's "pin hot experts" proposals do: lock the
 * hottest experts of the model file's mapping in DRAM with mlock, once, at
 * load, and never move anything afterwards.
 *
 * It hooks mmap/mmap64. When the binary maps a file whose name ends in .gguf,
 * it opens that model with moetier's own parser (profiler/model.h: the expert
 * map gives each (layer, expert) its byte ranges in the file), loads the
 * moetier profile named by PIN_HOT_PROFILE (profiler/profile.h: hits per
 * slot, which must belong to the same model), ranks the (layer, expert) slots
 * by hits and mlocks the ranges of the hottest PIN_HOT_SHARE of them (default
 * 1/3, a fraction such as 0.333) that lie inside the new mapping. One log line
 * on stderr says how many experts and bytes it locked and whether mlock
 * succeeded (RLIMIT_MEMLOCK: run it as root or raise the limit).
 *
 * For diagnosis, PIN_HOT_FADVISE=normal|random replaces the advice of the
 * binary's posix_fadvise(POSIX_FADV_SEQUENTIAL) calls (llama.cpp gives it for
 * the model file, which doubles the kernel's read-around window for faults
 * on the mapping); unset, advice passes unchanged.
 *
 * Invariants: the binary's mapping is returned unchanged whatever happens
 * here (a failure is logged and ignored); each model is pinned once per
 * process; allocations made while pinning that re-enter mmap pass straight
 * through (a thread-local guard). Locking happens inside the binary's mmap
 * call, after the kernel populated the mapping (MAP_POPULATE), so the cost of
 * faulting in the locked pages counts as load time.
 */
#define _GNU_SOURCE
#include "profiler/expert_map.h"
#include "profiler/gguf.h"
#include "profiler/model.h"
#include "profiler/profile.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

static __thread int busy;
static int done;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(line, sizeof line - 1, "pin_hot[%d]: ", (int)getpid());
    n += vsnprintf(line + n, sizeof line - 1 - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    ssize_t w = write(2, line, (size_t)n);
    (void)w;
}

static const uint64_t *sort_hits; /* qsort context; pinning runs once, under the binary's mmap call */

static int hotter_first(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    uint64_t hx = sort_hits[x], hy = sort_hits[y];
    return hx < hy ? 1 : hx > hy ? -1 : (x > y) - (x < y);
}

static double share_wanted(void)
{
    const char *s = getenv("PIN_HOT_SHARE");
    if (!s || !*s)
        return 1.0 / 3.0;
    char *end;
    double v = strtod(s, &end);
    if (*end || !(v > 0) || v > 1) {
        say("PIN_HOT_SHARE=\"%s\": not a fraction in (0, 1]; using 1/3", s);
        return 1.0 / 3.0;
    }
    return v;
}

/* Locks the hottest experts of the model at path inside [p, p+len) = file bytes [off, off+len). */
static void pin(const char *path, char *p, size_t len, off_t off)
{
    const char *prof = getenv("PIN_HOT_PROFILE");
    if (!prof || !*prof) {
        say("PIN_HOT_PROFILE is not set: nothing pinned");
        return;
    }
    char err[256];
    struct moetier_model m;
    struct moetier_profile pr;
    uint64_t *hits = NULL;
    uint32_t *order = NULL;
    int rc = moetier_model_open(path, &m, err, sizeof err);
    if (rc) {
        say("%s: %s", path, err);
        return;
    }
    int file = -1;
    char want[PATH_MAX], have[PATH_MAX];
    for (size_t i = 0; i < moetier_gguf_model_n_files(m.gguf) && realpath(path, want); i++)
        if (realpath(moetier_gguf_model_path(m.gguf, i), have) && strcmp(want, have) == 0)
            file = (int)i;
    rc = moetier_profile_load(prof, m.id, &pr, NULL, err, sizeof err);
    if (rc) {
        say("profile %s: %s", prof, err[0] ? err : strerror(-rc));
        goto out_model;
    }
    uint32_t n = pr.n_layers * pr.n_experts;
    hits = malloc(n * sizeof *hits);
    order = malloc(n * sizeof *order);
    if (!hits || !order) {
        say("out of memory");
        goto out_profile;
    }
    for (uint32_t s = 0; s < n; s++) {
        hits[s] = pr.experts[s].hits;
        order[s] = s;
    }
    sort_hits = hits;
    qsort(order, n, sizeof *order, hotter_first);
    uint32_t take = (uint32_t)(share_wanted() * n + 0.5);
    if (take > n)
        take = n;
    uint64_t locked = 0, failed_bytes = 0, hot_hits = 0, all_hits = 0;
    uint32_t experts = 0, failures = 0;
    int first_err = 0;
    long page = sysconf(_SC_PAGESIZE);
    for (uint32_t s = 0; s < n; s++)
        all_hits += hits[s];
    for (uint32_t i = 0; i < take; i++) {
        uint32_t s = order[i];
        hot_hits += hits[s];
        const struct moetier_expert *e =
            moetier_expert_map_find(m.map, pr.blocks[s / pr.n_experts], (int)(s % pr.n_experts));
        if (!e)
            continue;
        int any = 0;
        for (int r = 0; r < e->n_ranges; r++) {
            const struct moetier_expert_range *x = &e->range[r];
            if (x->file != file || x->off < (uint64_t)off || x->off + x->len > (uint64_t)off + len)
                continue;
            uintptr_t a = (uintptr_t)p + (x->off - (uint64_t)off);
            uintptr_t lo = a / (uintptr_t)page * (uintptr_t)page;
            size_t l = (size_t)(a + x->len - lo);
            if (mlock((void *)lo, l) == 0) {
                locked += l;
                any = 1;
            } else {
                if (!first_err)
                    first_err = errno;
                failures++;
                failed_bytes += l;
            }
        }
        experts += any;
    }
    say("%s: locked %u of %u experts (the hottest %u by the profile's hits, which took %.1f%% of them), "
        "%.1f MiB; mlock %s",
        path, experts, n, take, all_hits ? 100.0 * (double)hot_hits / (double)all_hits : 0.0,
        (double)locked / 1048576.0, failures ? "FAILED (below)" : "succeeded");
    if (failures)
        say("mlock failed %u times (%.1f MiB): %s (RLIMIT_MEMLOCK? run as root or raise it)", failures,
            (double)failed_bytes / 1048576.0, strerror(first_err));
out_profile:
    free(order);
    free(hits);
    moetier_profile_free(&pr, NULL);
out_model:
    moetier_model_close(&m);
}

static void *mapped(void *p, size_t len, int fd, off_t off)
{
    if (p == MAP_FAILED || fd < 0 || busy || __atomic_load_n(&done, __ATOMIC_ACQUIRE))
        return p;
    int saved = errno;
    busy = 1;
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t k = readlink(link, path, sizeof path - 1);
    if (k > 5) {
        path[k] = '\0';
        if (strcmp(path + k - 5, ".gguf") == 0 && !__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
            pin(path, p, len, off);
    }
    busy = 0;
    errno = saved;
    return p;
}

static mmap_fn real(const char *name, mmap_fn *slot)
{
    mmap_fn f = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!f) {
        f = (mmap_fn)dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, f, __ATOMIC_RELEASE);
    }
    return f;
}

int posix_fadvise(int fd, off_t off, off_t len, int advice)
{
    static int (*f)(int, off_t, off_t, int);
    if (!f)
        f = (int (*)(int, off_t, off_t, int))dlsym(RTLD_NEXT, "posix_fadvise");
    const char *v = getenv("PIN_HOT_FADVISE");
    if (v && advice == POSIX_FADV_SEQUENTIAL) {
        int to = strcmp(v, "random") == 0 ? POSIX_FADV_RANDOM : strcmp(v, "normal") == 0 ? POSIX_FADV_NORMAL : advice;
        if (to != advice)
            say("posix_fadvise(fd %d, SEQUENTIAL) given as %s", fd, v);
        advice = to;
    }
    return f(fd, off, len, advice);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    static mmap_fn f;
    return mapped(real("mmap", &f)(addr, len, prot, flags, fd, off), len, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    static mmap_fn f;
    return mapped(real("mmap64", &f)(addr, len, prot, flags, fd, off), len, fd, off);
}
