/*
 * tier_mm: Intel Optane's Memory Mode, DRAM as a direct-mapped cache in front
 * of PMem, run over a routing trace.
 *
 * The experts lie at consecutive addresses, pair (layer, expert) at
 * (layer x experts + expert) x pair_bytes (GGUF's order, one pair standing for
 * a layer's expert tensors); the cache has cache_bytes / chunk sets, and a
 * chunk maps to set (address / chunk) mod sets (or, with `random`, to a hash of
 * its number: the kernel's scattered physical pages). Each set holds the one
 * chunk last read through it: a read of another chunk is a conflict (or cold)
 * miss that replaces it. The unit is chunks_per_pair chunks per pair; the
 * hardware's line is 64 B, a chunk stands for all the lines in it, which read
 * alike since an expert is read whole.
 * Accesses go in the trace's order (token, layer, k), as replay.h's do.
 */
#ifndef MOETIER_TIERING_TIER_MM_H
#define MOETIER_TIERING_TIER_MM_H

#include "profiler/routing_file.h"

#include <stdint.h>

struct moetier_mm_result {
    uint64_t accesses;   /* pairs read */
    uint64_t sets;       /* the cache's sets, in chunks */
    double hits;         /* pairs' worth of chunks found in the cache */
};

/*
 * Runs trace r (with routes) through a direct-mapped cache of cache_pairs
 * pairs' bytes (floor(cache_pairs x chunks_per_pair) sets). Returns 0,
 * -EINVAL (no routes, chunks_per_pair 0, cache under one chunk) or -ENOMEM.
 */
int moetier_mm_run(const struct moetier_routing *r, double cache_pairs, uint32_t chunks_per_pair,
                   int random, struct moetier_mm_result *res);

#endif
