/*
 * dram_cache: the DRAM expert cache's memory, under a hard byte budget.
 *
 * One sparse memfd per slow-tier source file (the model's GGUF files, or their
 * staged PMem copies), whose offsets mirror the source's offsets: the bytes of
 * source offset X live at memfd offset X. A promoted range is then mapped
 * MAP_SHARED|MAP_FIXED from the memfd at the same offset it had in the source,
 * so neighbouring promoted ranges of one file can merge into one VMA.
 *
 * Invariants:
 *  - used <= budget after every call (a fill that would pass it fails with
 *    -ENOSPC before touching anything);
 *  - used is the sum of page-aligned lengths filled and not yet released;
 *    the caller never fills a range twice without releasing it;
 *  - a failed fill leaves nothing allocated (the hole is punched back).
 * memfd pages are not reclaimable without swap, so the budget must stay clear
 * of a cgroup memory limit: moetier_dram_cache_clamp() says how far.
 * Huge pages: with `huge` the memfds are hugetlbfs-backed (MFD_HUGETLB, 2 MiB
 * pages from vm.nr_hugepages); ranges must then be 2 MiB aligned, and fills go
 * through a temporary mapping because hugetlbfs has no write(2).
 * Not thread-safe: one migrator owns the cache; only `used` may be lowered
 * (release, uncharge) from another thread while it fills (engine.h).
 */
#ifndef MOETIER_TIERING_DRAM_CACHE_H
#define MOETIER_TIERING_DRAM_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define MOETIER_CACHE_MAX_FILES 128
#define MOETIER_HUGE_PAGE (2u << 20)

struct moetier_dram_cache {
    int fd[MOETIER_CACHE_MAX_FILES];     /* memfd per source file; -1 until first fill */
    uint64_t size[MOETIER_CACHE_MAX_FILES];
    uint32_t n_files;
    uint64_t budget;   /* bytes */
    _Atomic uint64_t used; /* bytes filled and not released; atomic: forget lowers it while a move is in flight */
    uint64_t peak;
    size_t unit;       /* page size of the memfds: 4 KiB, or 2 MiB with huge pages */
    int huge;
};

/*
 * Sets up a cache for n_files sources of the given sizes; memfds are created
 * lazily. huge: 1 = hugetlbfs pages (fails with -ENOMEM when the pool cannot
 * hold the budget), 0 = normal pages. Returns 0 or -errno.
 */
int moetier_dram_cache_init(struct moetier_dram_cache *c, uint64_t budget, uint32_t n_files,
                            const uint64_t *sizes, int huge);
void moetier_dram_cache_free(struct moetier_dram_cache *c);

/*
 * Copies len bytes from src into file's memfd at off (off and len multiples of
 * c->unit). Returns 0, -ENOSPC (over budget), -EINVAL, or the -errno of the
 * failing call (EFAULT: src unreadable; EIO; ENOMEM).
 */
int moetier_dram_cache_fill(struct moetier_dram_cache *c, uint32_t file, uint64_t off, const void *src,
                            size_t len);

/* The memfd to map for file (valid after a fill), or -1. */
int moetier_dram_cache_fd(const struct moetier_dram_cache *c, uint32_t file);

/* Frees [off, off+len) of file's memfd. 0 or -errno (the bytes stay counted on failure). */
int moetier_dram_cache_release(struct moetier_dram_cache *c, uint32_t file, uint64_t off, size_t len);

/*
 * Page migration (numa:N) keeps no copy: the budget counts the bytes moved to
 * the DRAM node. charge: 0 or -ENOSPC; uncharge: never below 0.
 */
int moetier_dram_cache_charge(struct moetier_dram_cache *c, uint64_t len);
void moetier_dram_cache_uncharge(struct moetier_dram_cache *c, uint64_t len);

/* Bytes the memfds really hold (st_blocks), for checking the accounting. */
uint64_t moetier_dram_cache_resident(const struct moetier_dram_cache *c);

/*
 * The largest budget that is safe under a cgroup memory limit: limit minus a
 * headroom for the binary's own memory and the page cache it needs (a quarter of
 * the limit, at least 256 MiB, at most half of it). UINT64_MAX when there is no limit.
 */
uint64_t moetier_dram_cache_clamp(uint64_t cgroup_limit);

/* Huge pages free in the hugetlb pool (vm.nr_hugepages), in bytes. */
uint64_t moetier_dram_cache_huge_free(void);

#endif
