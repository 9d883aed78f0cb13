/*
 * page_cache_model: plain mmap on a block tier, as the kernel reads it and
 * keeps it (moetier sim's plain row; docs/sim.md, "Plain mmap").
 *
 * Every expert is `parts` ranges of part_bytes (gate, up, down), each of the
 * three tensors of a layer holding its experts' parts back to back, the
 * layers in order (GGUF's layout). A read of a part not in the page cache
 * faults, and the fault reads the window of window_bytes around it (the
 * kernel's mmap read-around: from the part less half the window; 2 x
 * read_ahead_kb under llama.cpp's FADV_SEQUENTIAL), every part in it not
 * cached, neighbours included. The page cache holds cache_bytes of parts
 * under one of two list models:
 *
 *   lru      one list: a part read or used goes to its head, the tail is
 *            evicted.
 *   kernel   the kernel's two lists (mm/vmscan.c, mm/workingset.c, without
 *            MGLRU): a part read goes to the inactive list's head, used by
 *            the fault (its page tables' accessed bit set) or not (a
 *            neighbour the window brought in); a use of a cached part only
 *            sets the accessed bit, nothing moves. Reclaim takes the inactive
 *            tail: not accessed since the last scan, it is evicted (its
 *            shadow keeps the eviction clock); accessed, the bit is cleared
 *            and it goes back to the inactive head the first time, to the
 *            active list the second (PG_referenced). The active list is
 *            shrunk only when it outgrows inactive x ratio (1 under 1 GiB of
 *            cache, else sqrt(10 x GiB)), or by one part at a reclaim after
 *            refaults activated parts (a new working set); its tail goes to
 *            the inactive head unaccessed (mapped data pages are deactivated
 *            even when accessed). llama.cpp's load comes first: MAP_POPULATE
 *            touches every part in file order (mapped and PG_referenced). A part
 *            read again while its shadow is younger than the active list's
 *            size (the refault distance) goes straight to the active list.
 *            The eviction clock ticks at each eviction and refault
 *            activation.
 *
 * Not modelled: the readahead heuristics that shrink or drop a window after
 * many misses, large folios, reclaim's batches (one part at a time here),
 * anonymous memory sharing the cap. Replays r's tokens after the load (kernel)
 * or from a cold cache (lru); the load's reads are not counted.
 */
#ifndef MOETIER_PAGE_CACHE_MODEL_H
#define MOETIER_PAGE_CACHE_MODEL_H

#include <stdint.h>

enum moetier_page_cache_lists {
    MOETIER_PAGE_CACHE_LRU,
    MOETIER_PAGE_CACHE_KERNEL,
};

/* The page cache over units (parts) 0..units-1, cap of them cached; ratio:
 * the active list is shrunk when inactive x ratio < active
 * (moetier_page_cache_ratio). */
struct moetier_page_cache;
int moetier_page_cache_new(enum moetier_page_cache_lists lists, int64_t units, uint64_t cap, uint64_t ratio,
                           struct moetier_page_cache **out);
void moetier_page_cache_free(struct moetier_page_cache *c);
/* u, not cached, is read in (the cache must have room for one: cap >= 1).
 * used: the fault that read it maps it (accessed bit set); touched:
 * get_user_pages marked it accessed too (PG_referenced: MAP_POPULATE). */
void moetier_page_cache_read(struct moetier_page_cache *c, int32_t u, int used, int touched);
/* u, cached, is used: lru moves it to the head; kernel sets its accessed bit */
void moetier_page_cache_use(struct moetier_page_cache *c, int32_t u);
enum { MOETIER_PAGE_NOT_CACHED, MOETIER_PAGE_INACTIVE, MOETIER_PAGE_ACTIVE };
int moetier_page_cache_state(const struct moetier_page_cache *c, int32_t u);
/* inactive_is_low's ratio for a cache of that size: 1 under 1 GiB, else int_sqrt(10 x GiB) */
uint64_t moetier_page_cache_ratio(double cache_bytes);

struct moetier_readaround_result {
    uint64_t accesses, hits; /* expert parts used, and found cached */
    uint64_t windows;        /* faults that read a window */
    uint64_t active_parts;   /* on the active list at the end */
    uint64_t cached_parts;   /* cached at the end */
    double bytes_read;       /* bytes the windows read */
};

struct moetier_routing;
int moetier_tier_readaround(const struct moetier_routing *r, enum moetier_page_cache_lists lists,
                            double cache_bytes, double part_bytes, int parts, double window_bytes,
                            struct moetier_readaround_result *out);

/* "lru" or "kernel" -> *out; -EINVAL for anything else */
int moetier_page_cache_lists_parse(const char *s, enum moetier_page_cache_lists *out);
const char *moetier_page_cache_lists_name(enum moetier_page_cache_lists l);

#endif
