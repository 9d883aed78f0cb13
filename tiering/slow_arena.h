/*
 * slow_arena: anonymous weight buffers (llama.cpp --no-mmap, CPU_REPACK)
 * placed on a NUMA node through a jemalloc arena whose extent hooks hand out
 * pieces of one address-space reservation bound to that node.
 *
 * Invariants:
 *   - jemalloc: under the preload, moetier's private copy (libmoetier-jemalloc.so,
 *     shim/jemalloc.c), which libmoetier.so needs and so is loaded at
 *     start-up with a plain LD_PRELOAD; all of jemalloc's own symbols are
 *     hidden there, so its malloc/free/operator new never enter the global
 *     scope and the process keeps glibc's allocator. Without it (the tiering
 *     library linked into tools and tests) the system's libjemalloc.so.2 is
 *     dlopen'd (RTLD_LOCAL|RTLD_NOW) when an arena is opened. Never unloaded.
 *   - jemalloc uses initial-exec TLS (the STATIC_TLS flag, 2.6 KiB): glibc's
 *     default surplus (512 bytes) cannot take it after start-up, so the
 *     system library's dlopen fails ("cannot allocate memory in static TLS
 *     block") unless the process started with MOETIER_SLOW_ARENA_TUNABLE in
 *     GLIBC_TUNABLES (moetier_slow_arena_tunables() builds the value); open()
 *     then says so in err and returns -ELIBACC. The private copy, loaded at
 *     start-up, has its TLS in the static block and needs no tunable.
 *   - Every byte the arena hands out lies in [lo, hi), reserved at open
 *     (PROT_NONE, no swap accounting) and never moved, so _owns() is two
 *     compares with no lock: safe from the shim's free() and from any thread.
 *   - Extents: page-aligned, aligned to whatever jemalloc asks (memkind
 *     ignores it; this does not), made read-write and mbind(MPOL_BIND, {node})
 *     before jemalloc sees them; purges are madvise (the binding survives, so
 *     a refault lands on the node again). No lock is held across a system
 *     call; the extent cursor is one atomic compare-and-swap.
 *   - Allocations are mallocx(size, MALLOCX_ARENA(a) | MALLOCX_TCACHE_NONE |
 *     MALLOCX_ALIGN(>= page)): no thread cache, so an object never strays
 *     into another arena or tier.
 * Functions return 0 or -errno unless they say otherwise.
 */
#ifndef MOETIER_TIERING_SLOW_ARENA_H
#define MOETIER_TIERING_SLOW_ARENA_H

#include <stddef.h>
#include <stdint.h>

/* What GLIBC_TUNABLES must hold at process start for dlopen of jemalloc. */
#define MOETIER_SLOW_ARENA_TUNABLE "glibc.rtld.optional_static_tls=0x1000"
#define MOETIER_SLOW_ARENA_JEMALLOC "libjemalloc.so.2"
/* moetier's private jemalloc, loaded with libmoetier.so (shim/jemalloc.c) */
#define MOETIER_SLOW_ARENA_PRIVATE "libmoetier-jemalloc.so"

struct moetier_slow_arena;

struct moetier_slow_arena_stats {
    uintptr_t lo, hi;   /* the reservation: _owns() is lo <= p < hi */
    unsigned arena;     /* jemalloc arena index */
    int node;
    uint64_t mapped;    /* bytes of extents handed to jemalloc (incl. its metadata) */
    uint64_t extents;   /* extent allocations served */
    uint64_t refused;   /* extent allocations refused (reservation full, new_addr taken) */
    uint64_t purged;    /* bytes purged (madvise) */
    uint64_t allocs;    /* live allocations made through _alloc/_realloc */
};

/*
 * Opens an arena on node, reserving cap bytes of address space (0: the
 * node's memory size, at least 1 GiB; rounded up to 2 MiB). Loads jemalloc
 * on the first open. On failure err (may be NULL) holds one line saying why:
 * -ELIBACC (jemalloc could not be loaded), -EINVAL (bad node, or a node that
 * cannot be bound), -ENOMEM, or what jemalloc's mallctl returned.
 */
int moetier_slow_arena_open(int node, uint64_t cap, char *err, size_t errcap, struct moetier_slow_arena **out);

/* Destroys the jemalloc arena and unmaps the reservation: every pointer from
 * the arena is invalid afterwards. NULL is a no-op. */
void moetier_slow_arena_close(struct moetier_slow_arena *a);

/* size bytes aligned to align (a power of two; 0 or less than a page means a
 * page). NULL with errno set (EINVAL, ENOMEM) on failure. */
void *moetier_slow_arena_alloc(struct moetier_slow_arena *a, size_t size, size_t align);

/* rallocx in the same arena, keeping page alignment; NULL (p kept) on failure. */
void *moetier_slow_arena_realloc(struct moetier_slow_arena *a, void *p, size_t size);

/* Frees p from the arena: -EINVAL (nothing done) when the arena does not own it. */
int moetier_slow_arena_free(struct moetier_slow_arena *a, void *p);

/* 1 when p lies in a's reservation, else 0 (a may be NULL). No lock, no call. */
int moetier_slow_arena_owns(const struct moetier_slow_arena *a, const void *p);

/* Usable size of an allocation (sallocx), 0 when the arena does not own it. */
size_t moetier_slow_arena_usable(struct moetier_slow_arena *a, const void *p);

void moetier_slow_arena_stats(const struct moetier_slow_arena *a, struct moetier_slow_arena_stats *st);

/* The extent hooks jemalloc calls (an extent_hooks_t *), for tests that
 * drive them directly. */
void *moetier_slow_arena_hooks(struct moetier_slow_arena *a);

/* GLIBC_TUNABLES value = current (may be NULL) with MOETIER_SLOW_ARENA_TUNABLE
 * added, unless current already sets glibc.rtld.optional_static_tls.
 * -ENOSPC when out is too small. */
int moetier_slow_arena_tunables(const char *current, char *out, size_t cap);

#endif
