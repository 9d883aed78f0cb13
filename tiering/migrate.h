/*
 * migrate: moving one range of weights between the slow tier and the DRAM
 * cache by remapping, with byte identity at every instant (DESIGN.md §4-5).
 *
 * A range is page-aligned (the cache's unit), lies inside a read-only
 * MAP_SHARED mapping of a slow-tier source (the model file, or its staged
 * PMem copy) and mirrors that source: range bytes == source bytes at `off`.
 *   promote: copy the bytes into the cache's memfd at `off`, then
 *            mmap(MAP_FIXED) the memfd over the range. Readers on other
 *            threads fault on the old or on the new mapping, under the
 *            kernel's mmap lock; both hold the same bytes.
 *   demote:  mmap(MAP_FIXED) the source back over the range, then free the
 *            memfd pages.
 * Failure leaves a valid placement, always: kernels before the MAP_FIXED gap
 * fixes (6.1) unmap before they map, so a failed mmap can leave a hole; the
 * range is re-mapped from what held it at once (the source on a failed
 * promotion, the memfd on a failed demotion), and if even that fails, from an
 * anonymous copy read from the source with pread. The map count is checked
 * before each promotion (each isolated promoted range costs up to two VMAs):
 * mappings stay under a share of vm.max_map_count.
 *
 * Page migration (numa:N, moetier_migrate_set_nodes): no copy and no remap:
 * move_pages(2) moves a range's whole pages to the DRAM node (promote) or
 * back to the slow node (demote); addresses and bytes stay, so writable
 * anonymous buffers qualify too. The budget counts the range as moved; pages
 * the kernel would not move (mapped by another process: EACCES, busy) stay
 * where they are and are counted in `partial`.
 * Locking (the file tier, moetier_migrate_set_lock): no copy and no remap:
 * promotion mlocks the range's page-cache pages where they are (reading from
 * the file what is not cached yet), so the kernel cannot evict them under
 * memory pressure; demotion munlocks them (they stay cached, evictable).
 * Bytes never move, so byte identity is trivial; the budget counts locked
 * bytes. A range's `keep` window stays unlocked: the pagemap sampler's probe
 * there must be zappable (MADV_DONTNEED refuses locked memory). A failed mlock
 * (ENOMEM, EAGAIN: RLIMIT_MEMLOCK, an I/O error while populating) is undone
 * with munlock and uncharged. mlock splits VMAs as a remap does, so the same
 * map-count headroom applies.
 * Fault injection (tests): moetier_migrate_inject() lets `skip` calls at one
 * point pass, then makes the next `count` fail with an errno, the way the kernel would (MAP_HOLE
 * unmaps the range first, as 6.1 does).
 * Not thread-safe: one migrator.
 */
#ifndef MOETIER_TIERING_MIGRATE_H
#define MOETIER_TIERING_MIGRATE_H

#include "tiering/dram_cache.h"

#include <stddef.h>
#include <stdint.h>

struct moetier_range {
    uintptr_t addr; /* page-aligned start in the binary's address space */
    size_t len;     /* multiple of the cache unit */
    uint32_t file;  /* source file index */
    uint64_t off;   /* offset of addr's byte in the source file (== memfd offset) */
    int prot;       /* the mapping's protection (read-only) */
    uintptr_t keep; /* locking only: [keep, keep+keep_len) stays unlocked (a sampler probe); 0 = none */
    size_t keep_len;
};

enum moetier_migrate_point {
    MOETIER_FAULT_FILL,      /* copying into the memfd, or mlock (EIO, ENOMEM, EFAULT, EAGAIN) */
    MOETIER_FAULT_MAP,       /* the MAP_FIXED fails, old mapping intact (ENOMEM) */
    MOETIER_FAULT_MAP_HOLE,  /* the MAP_FIXED fails after unmapping (6.1 at the map-count limit) */
    MOETIER_FAULT_RESTORE,   /* re-mapping the original fails too */
    MOETIER_FAULT_RELEASE,   /* freeing memfd pages, or munlock, fails */
    MOETIER_FAULT_MAPCOUNT,  /* the headroom check says no */
    MOETIER_FAULT_POINTS
};

/* What failed, by kind: tiering does not log, so the caller reads these
 * (fail[], fail_err[]) and says once per kind what went wrong. */
enum moetier_migrate_failure {
    MOETIER_FAILED_CACHE,     /* copying a range into the DRAM cache (memfd_create, ftruncate, pwrite, mmap) */
    MOETIER_FAILED_MAP_IN,    /* mapping the cache over a range: it stays on the slow tier */
    MOETIER_FAILED_MAP_OUT,   /* mapping the slow tier back: it stays in the cache */
    MOETIER_FAILED_LOCK,      /* mlock of a range: it stays unlocked */
    MOETIER_FAILED_UNLOCK,    /* munlock: it stays locked, retried */
    MOETIER_FAILED_MOVE_IN,   /* move_pages to the DRAM node */
    MOETIER_FAILED_MOVE_OUT,  /* move_pages back to the slow node */
    MOETIER_FAILED_RELEASE,   /* freeing cache pages (punch hole): they stay counted, retried */
    MOETIER_FAILED_KINDS
};

/* "copying an expert into the DRAM cache", ...: what failed, for a log line. */
const char *moetier_migrate_failure_what(enum moetier_migrate_failure k);
/* "the slot stays on the slow tier", ...: what that left. */
const char *moetier_migrate_failure_left(enum moetier_migrate_failure k);

struct moetier_migrate_counters {
    uint64_t promotions, demotions, bytes_promoted, bytes_demoted;
    uint64_t failed;       /* operations that failed and were rolled back */
    uint64_t restored;     /* holes re-mapped from the original */
    uint64_t anon_rescues; /* holes filled with an anonymous copy */
    uint64_t no_headroom;  /* promotions refused by the map-count check */
    uint64_t partial;      /* page migrations that left some pages behind */
};

#define MOETIER_PENDING_MAX 64

struct moetier_migrator;
struct moetier_numa_moved;

/*
 * One backend: how a range moves, as a table of operations. The migrator
 * holds one, chosen once when the engine starts (copy by default;
 * moetier_migrate_set_lock when the plan says the file tier locks,
 * moetier_migrate_set_nodes when the slow tier is a NUMA node), and every
 * call below goes through it: no caller asks which backend it has.
 *   promote, demote  move one range in or out (0 or -errno; the rules above)
 *   drop             the binary unmapped a promoted range: forget what it
 *                    holds (cache pages, budget, map count), moving nothing
 *   detach           a forked child's copy of a promoted range (above)
 *   keep_window      locking only (NULL otherwise): unlock a probe window
 *   place            page migration only (NULL otherwise): put a range's
 *                    pages on the slow node at start-up
 */
struct moetier_migrate_ops {
    const char *name; /* "copy", "lock", "move_pages" */
    int (*promote)(struct moetier_migrator *m, const struct moetier_range *r);
    int (*demote)(struct moetier_migrator *m, const struct moetier_range *r);
    void (*drop)(struct moetier_migrator *m, const struct moetier_range *r);
    int (*detach)(struct moetier_migrator *m, const struct moetier_range *r);
    int (*keep_window)(struct moetier_migrator *m, uintptr_t addr, size_t len);
    int (*place)(struct moetier_migrator *m, const struct moetier_range *r, struct moetier_numa_moved *out);
};

extern const struct moetier_migrate_ops moetier_migrate_copy_ops, moetier_migrate_lock_ops, moetier_migrate_move_ops;

struct moetier_migrator {
    struct moetier_dram_cache *cache;
    int src_fd[MOETIER_CACHE_MAX_FILES];        /* what to map back on demotion */
    uint64_t src_base[MOETIER_CACHE_MAX_FILES]; /* offset of the source's byte 0 in src_fd */
    long map_max;      /* vm.max_map_count */
    long map_allowed;  /* this process's mappings may not pass this (a share of map_max) */
    _Atomic long map_now; /* mappings now: counted at init, tracked, recounted; forget lowers it (engine.h) */
    struct moetier_migrate_counters n;
    const struct moetier_migrate_ops *ops; /* the backend (moetier_migrate_ops above) */
    int fast_node, slow_node;              /* page migration: the DRAM node and the slow node */
    struct { uint32_t file; uint64_t off; size_t len; } pending[MOETIER_PENDING_MAX];
    int n_pending;     /* releases that failed, retried later (their bytes stay counted) */
    int fault_err[MOETIER_FAULT_POINTS];
    uint32_t fault_count[MOETIER_FAULT_POINTS];
    uint32_t fault_skip[MOETIER_FAULT_POINTS];
    uint64_t fail[MOETIER_FAILED_KINDS]; /* failures by kind */
    int fail_err[MOETIER_FAILED_KINDS];  /* the first one's errno */
};

/*
 * A forked child's copy of a promoted range: r reads the source again
 * (mapped back, else a private copy read from it) and the memfd is left
 * alone, since its pages are the parent's. Page migration and locking moved
 * nothing shared: 0 at once. 0 or -errno (r still maps the memfd).
 */
int moetier_migrate_detach(struct moetier_migrator *m, const struct moetier_range *r);

/* map_share: the share of vm.max_map_count the process may reach (0 = 3/4). */
int moetier_migrate_init(struct moetier_migrator *m, struct moetier_dram_cache *cache, double map_share);
/* The slow backing of file: fd (not owned) and the offset of the file's byte 0 in it. */
void moetier_migrate_set_source(struct moetier_migrator *m, uint32_t file, int fd, uint64_t base);

/* Switches to page migration between NUMA nodes fast and slow. */
void moetier_migrate_set_nodes(struct moetier_migrator *m, int fast, int slow);

/* Switches to locking in place (file tier). */
void moetier_migrate_set_lock(struct moetier_migrator *m);

/* Locking: unlocks [addr, addr+len) of a promoted range (a probe window
 * registered after the range was locked). 0 or -errno. */
int moetier_migrate_unlock_window(struct moetier_migrator *m, uintptr_t addr, size_t len);

int moetier_migrate_promote(struct moetier_migrator *m, const struct moetier_range *r);
int moetier_migrate_demote(struct moetier_migrator *m, const struct moetier_range *r);
/* A promoted range's memory went away: its cache pages, budget and mappings are forgotten. */
void moetier_migrate_drop(struct moetier_migrator *m, const struct moetier_range *r);
/* Page migration: whether the backend places ranges on the slow node, and
 * placing one (moetier_numa_move's result in out). -EOPNOTSUPP otherwise. */
int moetier_migrate_can_place(const struct moetier_migrator *m);
int moetier_migrate_place(struct moetier_migrator *m, const struct moetier_range *r, struct moetier_numa_moved *out);

/* Mappings a promotion may still add before the limit (may be negative). */
long moetier_migrate_headroom(const struct moetier_migrator *m);
/* Recounts this process's mappings from /proc/self/maps. 0 or -errno. */
int moetier_migrate_recount(struct moetier_migrator *m);
/* Retries failed releases. */
void moetier_migrate_retry_pending(struct moetier_migrator *m);

void moetier_migrate_inject(struct moetier_migrator *m, enum moetier_migrate_point at, int err, uint32_t skip,
                            uint32_t count);

/* Reads one byte of every page of [addr, addr+len): maps pages the sampler
 * zapped (move_pages skips unmapped pages). */
void moetier_touch_pages(const void *addr, size_t len);

/* Lines of /proc/self/maps (the process's VMAs), or -errno. No stdio, no malloc. */
long moetier_count_mappings(void);
/* vm.max_map_count, or 65530 when unreadable. */
long moetier_max_map_count(void);

#endif
