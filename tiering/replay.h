/*
 * replay: drives a cache policy with the tokens of a routing trace, the way
 * data/traces/README.md's reference figures are defined:
 *   - one global cache of `slots` (layer, expert) slots, empty at the start;
 *   - accesses in token-major, then layer order (then the trace's order of a
 *     layer's experts); a hit = the pair was resident when needed, every other
 *     access (cold ones included) is a miss, fetched on demand;
 *   - the running layer's experts are pinned while it runs (never evicted to
 *     make room for each other or for a prefetch);
 *   - a policy that prefetches (predict) is asked after each layer for layer
 *     l+1's likely experts; those not resident are fetched at once (they count
 *     as prefetched, and as used if the token then routes to them at l+1).
 * Bytes: every pair read from the slow tier counts once, whatever it is for: a
 * demand miss promoted into the cache, a miss served straight from the slow
 * tier without a place in it (a byte-addressable tier reads it in place; here
 * when every resident slot is pinned), and a prefetch, used or not. A
 * prefetched-then-used pair is a hit in the hit rate but was paid for in bytes.
 * Slow-tier bytes = slow_reads x the bytes of one expert (equal for all).
 * Time t given to the policy is the access index:
 *   t = (token * layers + layer) * topk + k.
 */
#ifndef MOETIER_TIERING_REPLAY_H
#define MOETIER_TIERING_REPLAY_H

#include "profiler/routing_file.h"
#include "tiering/policy.h"

#include <stdint.h>

struct moetier_replay_result {
    uint32_t slots;
    uint64_t accesses, hits;          /* the whole trace */
    uint64_t half_from;               /* first token of the second half (tokens / 2) */
    uint64_t accesses_half, hits_half; /* tokens >= half_from only */
    uint64_t evictions;
    uint64_t promoted;                /* demand misses admitted into the cache */
    uint64_t direct;                  /* misses served straight from the slow tier */
    uint64_t miss_steps;              /* layer steps with a demand miss (their reads go out together) */
    uint64_t slow_reads;              /* promoted + direct + prefetched: pairs read */
    uint64_t prefetched;              /* pairs fetched ahead (not already resident) */
    uint64_t prefetch_used;           /* of those, used by the next layer of the token */
    uint64_t predicted;               /* pairs the policy predicted (resident or not) */
    uint64_t predicted_used;          /* of those, routed to by the next layer of the token */
};

/* A pair's state at a token, after the token has run (what a residency map
 * records, one byte per pair per token). */
enum moetier_replay_state {
    MOETIER_RES_EMPTY = 0, /* not in the cache, not used */
    MOETIER_RES_IDLE,      /* in the cache, not used by the token */
    MOETIER_RES_HIT,       /* used, was in the cache (or prefetched into it), still is */
    MOETIER_RES_MISS,      /* used, fetched on the miss, in the cache at the end */
    MOETIER_RES_GONE,      /* used, not in the cache at the end (read in place or evicted) */
    MOETIER_RES_N
};

/* floor(share * layers * experts) for a trace, at most the number of pairs. */
uint32_t moetier_replay_slots(const struct moetier_routing *r, double share);

/*
 * next_use[t] for every access t of the trace (the t of the next use of the same
 * pair, or MOETIER_POLICY_NEVER): what the belady policy needs. *out is malloc'd.
 * Returns 0, -EINVAL (no routes kept) or -ENOMEM.
 */
int moetier_replay_next_use(const struct moetier_routing *r, uint64_t **out);

/*
 * Replays trace r (loaded with keep_routes) through policy p (shaped like r)
 * with a cache of `slots` slots. Returns 0, -EINVAL (no routes, shape mismatch,
 * slots 0) or -ENOMEM.
 */
int moetier_replay_run(const struct moetier_routing *r, struct moetier_policy *p, uint32_t slots,
                       struct moetier_replay_result *res);
/* The same, and when map is not NULL it gets each pair's enum moetier_replay_state
 * at every token: map[token * layers * experts + layer * experts + expert]. */
int moetier_replay_run_map(const struct moetier_routing *r, struct moetier_policy *p, uint32_t slots,
                           struct moetier_replay_result *res, uint8_t *map);

/*
 * Builds policy NAME for r and replays it with floor(share x pairs) slots.
 * `static` ranks pairs by their counts over the first half of the trace
 * (tokens < tokens / 2; only its *_half figures are out-of-sample); `belady`
 * gets the trace's next-use times; `predict` gets topk; `adapt` the cache's
 * size; "auto" is the runtime's default for a copy cache (moetier_policy_auto). opts (may be NULL)
 * supplies half_life / prefetch / prev_weight / admit_cost / prefetch_gate as
 * given (NULL: no decay; the command applies predict's default
 * MOETIER_PREDICT_HALF_LIFE_TOKENS); belady never gets the gate.
 */
int moetier_replay_policy(const struct moetier_routing *r, const char *name, double share,
                          const struct moetier_policy_opts *opts, struct moetier_replay_result *res);
/* The same, filling map (may be NULL) as moetier_replay_run_map does. */
int moetier_replay_policy_map(const struct moetier_routing *r, const char *name, double share,
                              const struct moetier_policy_opts *opts, struct moetier_replay_result *res,
                              uint8_t *map);

#endif
