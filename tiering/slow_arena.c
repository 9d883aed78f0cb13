/*
 * slow_arena: a jemalloc arena on a NUMA node, jemalloc loaded lazily
 * (definitions and invariants in slow_arena.h).
 *
 * jemalloc is reached only through dlsym'd pointers, so its header is not
 * needed here: the extent-hook table and the mallocx flag encodings below
 * mirror jemalloc 5's ABI (include/jemalloc/jemalloc_typedefs.h and
 * jemalloc_macros.h); open() checks the loaded library says 5.x, and
 * tests/numa/test_slow_arena.c compares these against the installed header.
 *
 * The extent hooks serve a bump cursor over the reservation [lo, hi):
 *   alloc         atomic CAS of the cursor (aligned to what jemalloc asks),
 *                 then mprotect(RW) + mbind(MPOL_BIND, {node}); honours
 *                 new_addr only at the cursor (in-place growth), else refuses
 *   dalloc        absent: jemalloc keeps ("retains") the range and reuses it
 *   decommit      absent: jemalloc purges instead (mapping and binding kept)
 *   purge_forced  madvise(MADV_DONTNEED): zero-fill, refaults on the node
 *   purge_lazy    madvise(MADV_FREE)
 *   split, merge  always allowed: every extent is in the one reservation
 * A hook never takes a lock and never allocates.
 */
#include "config.h"
#include "tiering/slow_arena.h"
#include "tiering/numa_tier.h"

#include "common/fmt.h"
#include "common/page.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- jemalloc 5 ABI ---------------------------------------------------- */

typedef struct slow_hooks slow_hooks_t;
struct slow_hooks { /* = extent_hooks_t */
    void *(*alloc)(slow_hooks_t *, void *, size_t, size_t, bool *, bool *, unsigned);
    bool (*dalloc)(slow_hooks_t *, void *, size_t, bool, unsigned);
    void (*destroy)(slow_hooks_t *, void *, size_t, bool, unsigned);
    bool (*commit)(slow_hooks_t *, void *, size_t, size_t, size_t, unsigned);
    bool (*decommit)(slow_hooks_t *, void *, size_t, size_t, size_t, unsigned);
    bool (*purge_lazy)(slow_hooks_t *, void *, size_t, size_t, size_t, unsigned);
    bool (*purge_forced)(slow_hooks_t *, void *, size_t, size_t, size_t, unsigned);
    bool (*split)(slow_hooks_t *, void *, size_t, size_t, size_t, bool, unsigned);
    bool (*merge)(slow_hooks_t *, void *, size_t, void *, size_t, bool, unsigned);
};

#define JE_ARENA(a) ((((int)(a)) + 1) << 20) /* MALLOCX_ARENA */
#define JE_TCACHE_NONE (1 << 8)              /* MALLOCX_TCACHE_NONE */
#define JE_LG_ALIGN(la) ((int)(la))          /* MALLOCX_LG_ALIGN */

static struct {
    void *(*mallocx)(size_t, int);
    void *(*rallocx)(void *, size_t, int);
    void (*dallocx)(void *, int);
    size_t (*sallocx)(const void *, int);
    int (*mallctl)(const char *, void *, size_t *, void *, size_t);
} je;
static int je_ready; /* set (release) once je is complete; never cleared */

#define HUGE_ALIGN ((uintptr_t)2 << 20)

struct moetier_slow_arena {
    slow_hooks_t hooks; /* first: jemalloc hands this pointer back to the hooks */
    uintptr_t lo, hi;   /* the reservation; constant while open */
    uintptr_t cursor;   /* next free byte (atomic) */
    int node;
    unsigned ind;
    int flags; /* mallocx flags: arena, no tcache */
    uint64_t mapped, extents, refused, purged, allocs; /* atomic counters */
};

#define ADD(field, v) __atomic_fetch_add(&(field), (v), __ATOMIC_RELAXED)

/* ---- extent hooks (called by jemalloc, possibly from any thread) ---------- */

static void *hook_alloc(slow_hooks_t *h, void *new_addr, size_t size, size_t alignment, bool *zero,
                        bool *commit, unsigned ind)
{
    struct moetier_slow_arena *a = (struct moetier_slow_arena *)h;
    uintptr_t pg = moetier_page_size(), al = alignment < pg ? pg : alignment, start, end;
    if (!size || size % pg || (al & (al - 1)))
        goto refuse;
    uintptr_t cur = __atomic_load_n(&a->cursor, __ATOMIC_RELAXED);
    do {
        if (new_addr) {
            start = (uintptr_t)new_addr;
            if (start != cur || start % al)
                goto refuse;
        } else {
            start = (cur + al - 1) & ~(al - 1);
        }
        end = start + size;
        if (start < cur || end < start || end > a->hi)
            goto refuse;
    } while (!__atomic_compare_exchange_n(&a->cursor, &cur, end, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED));

    if (mprotect((void *)start, size, PROT_READ | PROT_WRITE) ||
        moetier_numa_bind((void *)start, size, a->node, 0)) {
        mprotect((void *)start, size, PROT_NONE);
        /* hand the space back when nobody took more since */
        __atomic_compare_exchange_n(&a->cursor, &end, cur, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
        goto refuse;
    }
    *zero = true;   /* never handed out before: fresh zero pages */
    *commit = true; /* read-write from now on; we never decommit */
    ADD(a->mapped, size);
    ADD(a->extents, 1);
    return (void *)start;
refuse:
    ADD(a->refused, 1);
    return NULL;
}

static void hook_destroy(slow_hooks_t *h, void *addr, size_t size, bool committed, unsigned ind)
{
    struct moetier_slow_arena *a = (struct moetier_slow_arena *)h;
    if (!madvise(addr, size, MADV_DONTNEED))
        ADD(a->purged, size);
}

static bool hook_commit(slow_hooks_t *h, void *addr, size_t size, size_t off, size_t len, unsigned ind)
{
    return false; /* always committed */
}

static bool hook_purge_lazy(slow_hooks_t *h, void *addr, size_t size, size_t off, size_t len, unsigned ind)
{
    if (madvise((char *)addr + off, len, MADV_FREE))
        return true;
    ADD(((struct moetier_slow_arena *)h)->purged, len);
    return false;
}

static bool hook_purge_forced(slow_hooks_t *h, void *addr, size_t size, size_t off, size_t len, unsigned ind)
{
    if (madvise((char *)addr + off, len, MADV_DONTNEED))
        return true;
    ADD(((struct moetier_slow_arena *)h)->purged, len);
    return false;
}

static bool hook_split(slow_hooks_t *h, void *addr, size_t size, size_t a_size, size_t b_size, bool committed,
                       unsigned ind)
{
    return false;
}

static bool hook_merge(slow_hooks_t *h, void *a_addr, size_t a_size, void *b_addr, size_t b_size, bool committed,
                       unsigned ind)
{
    return false;
}

/* ---- loading jemalloc ---------------------------------------------------- */

/* No lock: dlopen is thread-safe and reference-counted, and the library is
 * never closed, so two racing loaders at worst both fill je identically.
 * (jemalloc's constructor mmaps through the process's mmap, which the shim
 * may hook: nothing here is held across it.)
 * First choice: moetier's private jemalloc (MOETIER_SLOW_ARENA_PRIVATE), which
 * libmoetier.so needs and so is loaded with the preload at start-up, when
 * static TLS is still available; it is only looked up, never loaded here.
 * Else (the tiering library without the preload: tools, tests) the system's
 * libjemalloc.so.2, which needs the GLIBC_TUNABLES room. */
static int load_jemalloc(char *err, size_t errcap)
{
    if (__atomic_load_n(&je_ready, __ATOMIC_ACQUIRE))
        return 0;
    static const char *const private_names[] = { "moetier_je_mallocx", "moetier_je_rallocx", "moetier_je_dallocx",
                                                 "moetier_je_sallocx", "moetier_je_mallctl" };
    static const char *const system_names[] = { "mallocx", "rallocx", "dallocx", "sallocx", "mallctl" };
    const char *const *names = private_names;
    void *h = dlopen(MOETIER_SLOW_ARENA_PRIVATE, RTLD_LOCAL | RTLD_NOW | RTLD_NOLOAD);
    if (!h) {
        names = system_names;
        h = dlopen(MOETIER_SLOW_ARENA_JEMALLOC, RTLD_LOCAL | RTLD_NOW);
    }
    if (!h) {
        const char *why = dlerror();
        why = why ? why : "dlopen failed";
        if (strstr(why, "static TLS"))
            moetier_fmt(err, errcap,
                    "%s; %s is not loaded (libmoetier.so loads it at start-up) and the system's jemalloc needs "
                    "static TLS room reserved at start-up: GLIBC_TUNABLES=" MOETIER_SLOW_ARENA_TUNABLE,
                    why, MOETIER_SLOW_ARENA_PRIVATE);
        else
            moetier_fmt(err, errcap, "dlopen %s: %s (Debian: libjemalloc2)", MOETIER_SLOW_ARENA_JEMALLOC, why);
        return -ELIBACC;
    }
    void *m = dlsym(h, names[0]), *r = dlsym(h, names[1]), *d = dlsym(h, names[2]), *s = dlsym(h, names[3]),
         *c = dlsym(h, names[4]);
    if (!m || !r || !d || !s || !c) {
        moetier_fmt(err, errcap, "%s lacks %s/%s/%s/%s/%s", names == private_names ? MOETIER_SLOW_ARENA_PRIVATE
                    : MOETIER_SLOW_ARENA_JEMALLOC, names[0], names[1], names[2], names[3], names[4]);
        return -ELIBACC;
    }
    int (*ctl)(const char *, void *, size_t *, void *, size_t) = (int (*)(const char *, void *, size_t *,
                                                                          void *, size_t))c;
    const char *version = NULL;
    size_t sz = sizeof version;
    if (ctl("version", &version, &sz, NULL, 0) || !version || version[0] != '5' || version[1] != '.') {
        moetier_fmt(err, errcap, "%s is jemalloc %s; the extent hooks here follow jemalloc 5",
                MOETIER_SLOW_ARENA_JEMALLOC, version ? version : "(unknown)");
        return -ELIBACC;
    }
    *(void **)&je.mallocx = m;
    *(void **)&je.rallocx = r;
    *(void **)&je.dallocx = d;
    *(void **)&je.sallocx = s;
    je.mallctl = ctl;
    __atomic_store_n(&je_ready, 1, __ATOMIC_RELEASE);
    return 0;
}

/* ---- the arena ----------------------------------------------------------- */

static size_t struct_size(void)
{
    size_t pg = moetier_page_size();
    return (sizeof(struct moetier_slow_arena) + pg - 1) & ~(pg - 1);
}

static uint64_t default_cap(int node)
{
    struct moetier_numa_topo t;
    uint64_t cap = 0;
    if (moetier_numa_discover(&t) == 0) {
        const struct moetier_numa_node *nd = moetier_numa_node_get(&t, node);
        if (nd)
            cap = nd->total;
    }
    return cap < ((uint64_t)1 << 30) ? (uint64_t)1 << 30 : cap;
}

static int set_decay(unsigned ind, const char *what)
{
    char name[64];
    long v = 0; /* ssize_t: purge as soon as freed, the weights are large */
    moetier_fmt(name, sizeof name, "arena.%u.%s", ind, what);
    return je.mallctl(name, NULL, NULL, &v, sizeof v);
}

int moetier_slow_arena_open(int node, uint64_t cap, char *err, size_t errcap, struct moetier_slow_arena **out)
{
    struct moetier_slow_arena *a;
    char name[48];
    void *res;
    int rc;

    *out = NULL;
    moetier_fmt(err, errcap, "%s", "");
    if (node < 0 || node >= MOETIER_NUMA_MASK_BITS) {
        moetier_fmt(err, errcap, "node %d: not a NUMA node number", node);
        return -EINVAL;
    }
    rc = load_jemalloc(err, errcap);
    if (rc)
        return rc;
    if (!cap)
        cap = default_cap(node);
    if (cap < 4 * HUGE_ALIGN)
        cap = 4 * HUGE_ALIGN;
    if (cap > ((uint64_t)1 << 46)) {
        moetier_fmt(err, errcap, "arena of %llu bytes: more than 64 TiB of address space", (unsigned long long)cap);
        return -EINVAL;
    }
    cap = (cap + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);

    a = mmap(NULL, struct_size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) {
        rc = -errno;
        moetier_fmt(err, errcap, "mmap: %s", strerror(-rc));
        goto fail;
    }
    /* reserve cap bytes aligned to 2 MiB: PROT_NONE takes no commit charge */
    res = mmap(NULL, cap + HUGE_ALIGN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (res == MAP_FAILED) {
        rc = -errno;
        moetier_fmt(err, errcap, "reserving %llu bytes of address space: %s", (unsigned long long)cap,
                strerror(-rc));
        goto fail_struct;
    }
    a->lo = ((uintptr_t)res + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
    a->hi = a->lo + cap;
    if (a->lo > (uintptr_t)res)
        munmap(res, a->lo - (uintptr_t)res);
    if ((uintptr_t)res + cap + HUGE_ALIGN > a->hi)
        munmap((void *)a->hi, (uintptr_t)res + cap + HUGE_ALIGN - a->hi);
    a->cursor = a->lo;
    a->node = node;

    /* bind the whole reservation now: a node that cannot hold memory fails
     * here, not in a hook (each extent is bound again when handed out) */
    rc = moetier_numa_bind((void *)a->lo, cap, node, 0);
    if (rc) {
        moetier_fmt(err, errcap, "mbind to node %d: %s", node, strerror(-rc));
        goto fail_reserve;
    }
    /* no transparent huge pages: the engine moves one expert's pages at a time,
     * and the kernel migrates a huge page whole, neighbours' bytes and all */
    madvise((void *)a->lo, cap, MADV_NOHUGEPAGE);

    a->hooks.alloc = hook_alloc;
    a->hooks.destroy = hook_destroy;
    a->hooks.commit = hook_commit;
    a->hooks.purge_lazy = hook_purge_lazy;
    a->hooks.purge_forced = hook_purge_forced;
    a->hooks.split = hook_split;
    a->hooks.merge = hook_merge;

    slow_hooks_t *hp = &a->hooks;
    size_t sz = sizeof a->ind;
    rc = je.mallctl("arenas.create", &a->ind, &sz, &hp, sizeof hp);
    if (rc) {
        moetier_fmt(err, errcap, "jemalloc arenas.create: %s", strerror(rc));
        rc = -rc;
        goto fail_reserve;
    }
    if ((rc = set_decay(a->ind, "dirty_decay_ms")) || (rc = set_decay(a->ind, "muzzy_decay_ms"))) {
        moetier_fmt(err, errcap, "jemalloc arena.%u decay: %s", a->ind, strerror(rc));
        rc = -rc;
        goto fail_arena;
    }
    a->flags = JE_ARENA(a->ind) | JE_TCACHE_NONE;
    *out = a;
    return 0;

fail_arena:
    moetier_fmt(name, sizeof name, "arena.%u.destroy", a->ind);
    if (je.mallctl(name, NULL, NULL, NULL, 0))
        return rc; /* jemalloc may still reach the hooks and the range: leak both */
fail_reserve:
    munmap((void *)a->lo, a->hi - a->lo);
fail_struct:
    munmap(a, struct_size());
fail:
    return rc;
}

void moetier_slow_arena_close(struct moetier_slow_arena *a)
{
    if (!a)
        return;
    char name[48];
    moetier_fmt(name, sizeof name, "arena.%u.destroy", a->ind);
    if (je.mallctl(name, NULL, NULL, NULL, 0))
        return; /* jemalloc still holds it: keep the memory mapped (leaked) */
    munmap((void *)a->lo, a->hi - a->lo);
    munmap(a, struct_size());
}

static int lg_align(size_t align)
{
    size_t pg = moetier_page_size();
    if (align < pg)
        align = pg;
    return __builtin_ctzl(align);
}

void *moetier_slow_arena_alloc(struct moetier_slow_arena *a, size_t size, size_t align)
{
    if (!a || (align & (align - 1))) {
        errno = EINVAL;
        return NULL;
    }
    void *p = je.mallocx(size ? size : 1, a->flags | JE_LG_ALIGN(lg_align(align)));
    if (!p) {
        errno = ENOMEM;
        return NULL;
    }
    ADD(a->allocs, 1);
    return p;
}

void *moetier_slow_arena_realloc(struct moetier_slow_arena *a, void *p, size_t size)
{
    if (!p)
        return moetier_slow_arena_alloc(a, size, 0);
    if (!moetier_slow_arena_owns(a, p)) {
        errno = EINVAL;
        return NULL;
    }
    void *q = je.rallocx(p, size ? size : 1, a->flags | JE_LG_ALIGN(lg_align(0)));
    if (!q)
        errno = ENOMEM;
    return q;
}

int moetier_slow_arena_free(struct moetier_slow_arena *a, void *p)
{
    if (!p)
        return 0;
    if (!moetier_slow_arena_owns(a, p))
        return -EINVAL;
    je.dallocx(p, JE_TCACHE_NONE);
    ADD(a->allocs, (uint64_t)-1);
    return 0;
}

int moetier_slow_arena_owns(const struct moetier_slow_arena *a, const void *p)
{
    return a && (uintptr_t)p >= a->lo && (uintptr_t)p < a->hi;
}

size_t moetier_slow_arena_usable(struct moetier_slow_arena *a, const void *p)
{
    return moetier_slow_arena_owns(a, p) ? je.sallocx(p, 0) : 0;
}

void moetier_slow_arena_stats(const struct moetier_slow_arena *a, struct moetier_slow_arena_stats *st)
{
    memset(st, 0, sizeof *st);
    st->lo = a->lo;
    st->hi = a->hi;
    st->arena = a->ind;
    st->node = a->node;
    st->mapped = __atomic_load_n(&a->mapped, __ATOMIC_RELAXED);
    st->extents = __atomic_load_n(&a->extents, __ATOMIC_RELAXED);
    st->refused = __atomic_load_n(&a->refused, __ATOMIC_RELAXED);
    st->purged = __atomic_load_n(&a->purged, __ATOMIC_RELAXED);
    st->allocs = __atomic_load_n(&a->allocs, __ATOMIC_RELAXED);
}

void *moetier_slow_arena_hooks(struct moetier_slow_arena *a)
{
    return &a->hooks;
}

int moetier_slow_arena_tunables(const char *current, char *out, size_t cap)
{
    size_t cur = current ? strlen(current) : 0, add = strlen(MOETIER_SLOW_ARENA_TUNABLE);
    int keep = current && strstr(current, "glibc.rtld.optional_static_tls=");
    size_t need = keep ? cur : cur ? cur + 1 + add : add;
    if (need + 1 > cap)
        return -ENOSPC;
    if (keep)
        moetier_fmt(out, cap, "%s", current);
    else if (cur)
        moetier_fmt(out, cap, "%s:%s", current, MOETIER_SLOW_ARENA_TUNABLE);
    else
        moetier_fmt(out, cap, "%s", MOETIER_SLOW_ARENA_TUNABLE);
    return 0;
}
