/*
 * alloc: the malloc family, forwarded to glibc.
 *
 * moetier does not replace the process's allocator (an LD_PRELOAD is inherited
 * by every child, and ASan/valgrind must keep working): every call goes to
 * glibc's __libc_* entry points, which need no symbol lookup and so cannot
 * recurse through dlsym. Weight-sized allocations (at least MOETIER_ALLOC_MIN)
 * of an active process are tracked (shim_big_*): they are where --no-mmap and
 * repacked weights live. On the numa:N slow tier, weight-sized allocations
 * made once a model is open go to a jemalloc arena bound to node N
 * (tiering/slow_arena.h), so the engine can move hot experts' pages to DRAM;
 * free/realloc route by address (the arena's range check takes no lock). If
 * the arena cannot open, one line says why and glibc serves everything.
 * Everything else costs one comparison.
 */
#include "shim/shim.h"
#include "common/log.h"
#include "tiering/slow_arena.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

/* ---- weight-sized allocations: a small table under a spinlock (no allocation) */
static struct shim_range big[SHIM_MAX_BIG];
static volatile size_t big_hw; /* entries in use are below this high-water mark */
static volatile int big_lock;
/* Set on the thread that forks while it holds big_lock for the fork protocol:
 * an atfork handler of another library that allocates must not spin on it. */
static __thread int fork_holds __attribute__((tls_model("initial-exec")));

static void lock(void)
{
    if (fork_holds)
        return;
    MOETIER_RANK_ACQUIRE(MOETIER_RANK_ALLOC, "alloc.c big_lock");
    while (__atomic_exchange_n(&big_lock, 1, __ATOMIC_ACQUIRE))
        __builtin_ia32_pause();
}

static void unlock(void)
{
    if (!fork_holds) {
        __atomic_store_n(&big_lock, 0, __ATOMIC_RELEASE);
        MOETIER_RANK_RELEASE(MOETIER_RANK_ALLOC);
    }
}

void shim_alloc_fork_prepare(void)
{
    lock();
    fork_holds = 1;
}

void shim_alloc_fork_parent(void)
{
    fork_holds = 0;
    unlock();
}

void shim_alloc_fork_child(void)
{
    fork_holds = 0;
    __atomic_store_n(&big_lock, 0, __ATOMIC_RELEASE); /* the child has one thread: nobody else holds it */
}

static inline void *noted(void *p, size_t n)
{
    /* the runtime's own allocations (shim_busy) are never weights */
    if (p && n >= shim.cfg.alloc_min && shim.active && !shim_busy) {
        lock();
        for (size_t i = 0; i < SHIM_MAX_BIG; i++) {
            if (!big[i].start) {
                big[i].start = (uintptr_t)p;
                big[i].end = (uintptr_t)p + n;
                if (i >= big_hw)
                    big_hw = i + 1;
                break;
            }
        }
        unlock();
    }
    return p;
}

/* Every free passes here: look without the lock (a word-sized read), and lock
 * only to clear an entry that matches. A weight buffer going away (a server
 * unloading a model) retires the placements and probes inside it first, so
 * the sampler never protects memory the allocator may hand out again. */
static inline void forget(void *p)
{
    if (!p)
        return;
    size_t hw = __atomic_load_n(&big_hw, __ATOMIC_RELAXED);
    for (size_t i = 0; i < hw; i++) {
        if (__atomic_load_n(&big[i].start, __ATOMIC_RELAXED) == (uintptr_t)p) {
            uintptr_t end = 0;
            lock();
            if (big[i].start == (uintptr_t)p) {
                end = big[i].end;
                big[i].start = big[i].end = 0;
            }
            unlock();
            if (end && shim.model_ready && !shim_busy)
                shim_unmapping(p, end - (uintptr_t)p);
            return;
        }
    }
}

/* ---- the numa:N slow arena ---- */
/* The arena's jemalloc is moetier's private copy (shim/jemalloc.c), which
 * must be loaded with the preload at start-up, when its initial-exec TLS can
 * still go in the static block: this reference keeps it a needed library
 * (slow_arena.c itself finds it by dlopen). */
int moetier_je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
__attribute__((used)) static int (*const jemalloc_needed)(const char *, void *, size_t *, void *, size_t) =
    moetier_je_mallctl;
static struct moetier_slow_arena *arena;
static volatile int arena_state; /* 0 not tried, 1 opening, 2 open, -1 failed */

static int owned(const void *p)
{
    return arena && moetier_slow_arena_owns(arena, p);
}

/* A weight-sized allocation on the slow node, or NULL: glibc serves it. */
static void *slow_alloc(size_t n, size_t align)
{
    if (n < shim.cfg.alloc_min || !shim.active || shim_busy || shim.cfg.slow != MOETIER_SLOW_NUMA ||
        !shim.model_open || arena_state < 0)
        return NULL;
    if (arena_state != 2) {
        int expect = 0;
        if (!__atomic_compare_exchange_n(&arena_state, &expect, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            return NULL; /* another thread is opening it */
        char err[256];
        struct moetier_slow_arena *a = NULL;
        shim_busy = 1;
        int rc = moetier_slow_arena_open(shim.cfg.slow_node, 0, err, sizeof err, &a);
        shim_busy = 0;
        if (rc) {
            log_warn("numa:%d: weight buffers stay in DRAM (untiered): %s", shim.cfg.slow_node, err);
            __atomic_store_n(&arena_state, -1, __ATOMIC_RELEASE);
            return NULL;
        }
        arena = a;
        __atomic_store_n(&arena_state, 2, __ATOMIC_RELEASE);
        log_info("numa:%d: weight buffers go to a jemalloc arena bound to node %d", shim.cfg.slow_node,
                 shim.cfg.slow_node);
    }
    shim_busy = 1;
    void *p = moetier_slow_arena_alloc(arena, n, align < 4096 ? 4096 : align);
    shim_busy = 0;
    return p;
}

int shim_slow_arena_owns(const void *p)
{
    return owned(p);
}

size_t shim_big_buffers(uint64_t *bytes)
{
    size_t n = 0;
    *bytes = 0;
    lock();
    for (size_t i = 0; i < big_hw; i++)
        if (big[i].start) {
            n++;
            *bytes += big[i].end - big[i].start;
        }
    unlock();
    return n;
}

void *malloc(size_t n)
{
    void *p = slow_alloc(n, 64);
    return noted(p ? p : __libc_malloc(n), n);
}

void free(void *p)
{
    forget(p);
    if (owned(p)) {
        moetier_slow_arena_free(arena, p);
        return;
    }
    __libc_free(p);
}

void *memalign(size_t a, size_t n)
{
    void *p = slow_alloc(n, a);
    return noted(p ? p : __libc_memalign(a, n), n);
}
void *valloc(size_t n) { return noted(__libc_valloc(n), n); }
void *pvalloc(size_t n) { return noted(__libc_pvalloc(n), n); }

void *calloc(size_t n, size_t m)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, m, &bytes))
        return noted(__libc_calloc(n, m), 0);
    void *p = slow_alloc(bytes, 64);
    if (p)
        memset(p, 0, bytes);
    return noted(p ? p : __libc_calloc(n, m), bytes);
}

void *realloc(void *p, size_t n)
{
    forget(p);
    if (owned(p))
        return noted(moetier_slow_arena_realloc(arena, p, n), n);
    return noted(__libc_realloc(p, n), n);
}

void *aligned_alloc(size_t a, size_t n)
{
    if (a == 0 || (a & (a - 1))) {
        errno = EINVAL;
        return NULL;
    }
    void *p = slow_alloc(n, a);
    return noted(p ? p : __libc_memalign(a, n), n);
}

int posix_memalign(void **out, size_t a, size_t n)
{
    if (a < sizeof(void *) || (a & (a - 1)))
        return EINVAL;
    int saved = errno;
    void *p = slow_alloc(n, a);
    if (!p)
        p = __libc_memalign(a, n);
    if (!p && n)
        return ENOMEM;
    errno = saved;
    *out = noted(p, n);
    return 0;
}

void *reallocarray(void *p, size_t n, size_t m)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, m, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return realloc(p, bytes);
}

size_t malloc_usable_size(void *p)
{
    static void *real_malloc_usable_size;
    if (owned(p))
        return moetier_slow_arena_usable(arena, p);
    size_t (*fn)(void *) = (size_t (*)(void *))shim_real("malloc_usable_size", &real_malloc_usable_size);
    return fn(p);
}
