/*
 * demand_cache: one layer of one token through a demand cache of (layer,
 * expert) slots under a policy: what `moetier replay` simulates over a trace
 * and what the file tier's read room (shim/reads.c) runs live, so replay's
 * figure for a policy is the room's.
 *
 * A step, for layer l of a token with experts row[0..k):
 *   - the row's slots are pinned while the step runs (never evicted to make
 *     room for each other or for a prefetch);
 *   - each access goes to the policy (time t = the access index); a slot not
 *     resident is a miss, admitted into the set (evicting the policy's victim
 *     when full), or served without a place when the policy does not admit it
 *     or every resident slot is pinned;
 *   - a policy that prefetches (predict) is then asked for layer l+1's likely
 *     slots; those not resident are admitted at once.
 * The step lists what it read (misses and prefetches) and what it evicted, so
 * a caller with a real tier moves exactly those bytes.
 * Not thread-safe: one caller drives a cache (and its policy).
 */
#ifndef MOETIER_TIERING_DEMAND_CACHE_H
#define MOETIER_TIERING_DEMAND_CACHE_H

#include "tiering/policy.h"
#include "tiering/slot_set.h"

#include <stdint.h>

#define MOETIER_DEMAND_MAX_K 64 /* experts per token per layer a step takes */

struct moetier_demand_cache {
    struct moetier_slot_set set;
    struct moetier_policy *policy; /* not owned */
    uint32_t n_layers, n_experts;
    uint64_t t;                    /* accesses so far */
    uint8_t *pf;                   /* [slots] prefetched for the coming layer, not yet used */
    uint32_t *pfl, npfl;           /* the slots pf marks */
    uint32_t *want;                /* [n_experts] scratch: the policy's prefetch answer */
    uint32_t *gone;                /* [slots] scratch: what a step or a resize evicted */
    uint32_t *reads;               /* [max k + n_experts] scratch: what a step read */
};

/* What one step did. read[]: slots read from the slow tier (misses first,
 * then prefetches; a miss not admitted is read too, in place). evicted[]: slots
 * that left the set. hit[i]: row[i] was resident when used. */
struct moetier_demand_step {
    uint32_t *read;                         /* points into the cache's scratch */
    uint32_t n_read, n_missed, n_prefetched; /* n_read = n_missed + n_prefetched */
    uint32_t n_direct;                      /* misses read without a place in the set */
    uint32_t *evicted;                      /* points into the cache's scratch */
    uint32_t n_evicted;
    uint32_t n_predicted, n_predicted_used; /* prefetch answers, and those next_row routes to */
    uint32_t n_prefetch_used;               /* row's slots prefetched before and used now */
    uint8_t hit[MOETIER_DEMAND_MAX_K];      /* last: a step clears what comes before it */
};

/* 0, -EINVAL (no policy, no shape) or -ENOMEM. slots may be 0 or exceed the pairs. */
int moetier_demand_cache_init(struct moetier_demand_cache *c, uint32_t n_layers, uint32_t n_experts, uint32_t slots,
                              struct moetier_policy *policy);
void moetier_demand_cache_free(struct moetier_demand_cache *c);

/*
 * One layer's step. next_row (may be NULL): layer + 1's experts of this token
 * when the caller knows them (replay), to count how many prefetches were right.
 * Returns 0, or -EINVAL (layer or an expert out of range, k over the max).
 */
int moetier_demand_cache_layer(struct moetier_demand_cache *c, uint32_t layer, const uint16_t *row, uint32_t k,
                               const uint16_t *next_row, struct moetier_demand_step *out);

/* The cache now holds at most slots (evicting the policy's victims, listed
 * in out->evicted; out may be NULL when nothing can be resident yet). */
void moetier_demand_cache_resize(struct moetier_demand_cache *c, uint32_t slots, struct moetier_demand_step *out);

/* slot is resident already (the caller found it cached): it joins the set
 * as if used now, while there is room. 0, or -ENOSPC (full), -EINVAL. */
int moetier_demand_cache_adopt(struct moetier_demand_cache *c, uint32_t slot);

static inline int moetier_demand_cache_has(const struct moetier_demand_cache *c, uint32_t slot)
{
    return moetier_slot_set_has(&c->set, slot);
}

#endif
