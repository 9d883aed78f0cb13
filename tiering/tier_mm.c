/*
 * tier_mm: a direct-mapped DRAM cache over a trace (see tier_mm.h).
 */
#include "tiering/tier_mm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64's finalizer: a fixed scatter of chunk numbers over the sets */
static uint64_t scatter(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

int moetier_mm_run(const struct moetier_routing *r, double cache_pairs, uint32_t chunks_per_pair,
                   int random, struct moetier_mm_result *res)
{
    if (!r || !r->routes || r->layers <= 0 || r->experts <= 0 || r->topk <= 0 || chunks_per_pair == 0)
        return -EINVAL;
    double sets_d = cache_pairs * chunks_per_pair + 1e-9;
    if (!(sets_d >= 1))
        return -EINVAL;
    uint64_t total = (uint64_t)r->layers * r->experts * chunks_per_pair;
    uint64_t sets = (uint64_t)sets_d;
    if (sets > total && !random)
        sets = total; /* the whole model fits: more sets would never be used */
    uint64_t *tag = calloc(sets, sizeof *tag); /* chunk number + 1; 0 = empty */
    if (!tag)
        return -ENOMEM;
    memset(res, 0, sizeof *res);
    res->sets = sets;
    uint64_t n = r->tokens * (uint64_t)r->layers * r->topk, hit_chunks = 0;
    for (uint64_t t = 0; t < n; t++) {
        uint64_t layer = (t / r->topk) % r->layers;
        uint64_t first = (layer * r->experts + r->routes[t]) * chunks_per_pair;
        for (uint64_t c = first; c < first + chunks_per_pair; c++) {
            uint64_t s = (random ? scatter(c) : c) % sets;
            if (tag[s] == c + 1)
                hit_chunks++;
            else
                tag[s] = c + 1;
        }
    }
    res->accesses = n;
    res->hits = (double)hit_chunks / chunks_per_pair;
    free(tag);
    return 0;
}
