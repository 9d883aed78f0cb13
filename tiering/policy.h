/*
 * policy: which (layer, expert) pair the DRAM expert cache evicts, and which
 * pairs it prefetches.
 *
 * A cache slot is one (layer, expert) pair: slot = layer * n_experts + expert.
 * The caller (the runtime with live samples, or tiering/replay.c with trace
 * tokens) owns residency; a policy only keeps per-slot history and answers:
 *   - moetier_policy_access(): a use of a slot, in time order (t never decreases);
 *   - moetier_policy_observe(): the full routing of one layer for one token
 *     (the predictive policy learns from it; the others ignore it);
 *   - moetier_policy_victim(): which resident, unpinned slot to evict;
 *   - moetier_policy_prefetch(): slots worth fetching before they are needed
 *     (`predict`, and any policy given a prefetch gate).
 *
 * Policies (docs/policies.md has the measured comparison):
 *   lru      least recently used.
 *   lfu      least frequently used; counts survive eviction; optional exponential
 *            decay with half-life opts.half_life (in units of t; 0 = no decay).
 *   static   a fixed ranking given at creation (opts.rank, higher = hotter):
 *            evicts the coldest; ties go to the least recently used.
 *   predict  LFU-with-decay eviction, plus prefetch of layer l+1's likely
 *            experts while layer l runs: cross-layer co-occurrence counts
 *            (expert at l -> expert at l+1, learned online) plus the previous
 *            token's choice at l+1.
 *   belady   clairvoyant reference (replay only): evicts the slot whose next use
 *            is furthest away; needs opts.next_use.
 *   reuse    evicts the slot expected to be used last: the layers until its
 *            layer comes round again plus a geometric wait at its per-token use
 *            rate (counts decayed with opts.half_life; 0 = none).
 *   adapt    follows whichever of lru, lfu and reuse (each admitting every miss,
 *            or only pairs used more often than the victim) a shadow cache of
 *            opts.cache_slots slots says read the fewest pairs (costs decayed
 *            with opts.half_life; 0 = none); no prefetch (policy_adapt.h).
 * Ties in every policy go to the least recently used slot, then the lowest slot.
 * Not thread-safe: one caller drives a policy.
 */
#ifndef MOETIER_TIERING_POLICY_H
#define MOETIER_TIERING_POLICY_H

#include <stddef.h>
#include <stdint.h>

#define MOETIER_POLICY_NEVER UINT64_MAX /* next_use value: never used again */
/* predict's measured best decay half-life, in tokens (docs/policies.md); a caller
 * converts it to t units: x n_layers x topk when t counts accesses. */
#define MOETIER_PREDICT_HALF_LIFE_TOKENS 5
/* adapt's shadow-cost half-life, in tokens (docs/policies.md), converted the same way */
#define MOETIER_ADAPT_HALF_LIFE_TOKENS 0

struct moetier_policy;

struct moetier_policy_opts {
    double half_life;          /* lfu, predict: decay half-life in units of t; 0 = none;
                                  adapt: the same for its shadow costs */
    uint32_t cache_slots;      /* adapt: the size of the cache it evicts from */
    const double *rank;        /* static: [n_layers * n_experts], higher = keep longer */
    const uint64_t *next_use;  /* belady: next_use[t] = t of the next use of the slot used
                                  at t, or MOETIER_POLICY_NEVER */
    uint64_t n_next_use;       /* entries in next_use */
    uint32_t topk;             /* predict: experts per token per layer (default 1) */
    uint32_t prefetch;         /* predict: slots prefetched per layer (0 = topk) */
    double prev_weight;        /* predict: weight of the previous token's choice against
                                  the co-occurrence share (0 = the default 0.01) */
    double prefetch_gate;      /* any policy but belady: prefetch layer l+1's experts whose chance of
                                  use, estimated from co-occurrence and repeat counts, is at least
                                  this (0 = off, predict's own prefetch; in (0, 1]) */
    double admit_cost;         /* adapt: reads an admitted miss costs beyond the miss itself: 0 when
                                  the read that serves it fills the cache (replay's model), 1 when the
                                  cache is filled after the step by a copy (the runtime per token) */
};

/* The policy names moetier_policy_new() knows, NULL-terminated. */
extern const char *const moetier_policy_names[];

/*
 * The runtime's default (MOETIER_POLICY=auto): "hot" when the file tier
 * promotes by locking the page cache (not a demand cache: tiering/residency.h),
 * else the demand policy measured to move the fewest slow-tier bytes. The one
 * place this choice is made: the runtime and `moetier replay --policy auto`
 * both ask it.
 */
const char *moetier_policy_auto(int locks_page_cache);

/*
 * Creates policy NAME for n_layers x n_experts slots. opts may be NULL (defaults)
 * except for `static` (needs rank) and `belady` (needs next_use).
 * Returns 0, -EINVAL (unknown name, bad shape, missing option) or -ENOMEM.
 */
int moetier_policy_new(const char *name, uint32_t n_layers, uint32_t n_experts,
                       const struct moetier_policy_opts *opts, struct moetier_policy **out);
/*
 * The runtime's way to create policy NAME for a cache of cap slots: the
 * measured decay half-lives (in tokens, converted to accesses: a token is
 * n_layers x topk of them) for lfu, predict and adapt; rank for static;
 * prefetch_gate as in moetier_policy_opts (0 = off).
 */
int moetier_policy_new_live(const char *name, uint32_t n_layers, uint32_t n_experts, uint32_t topk, uint32_t cap,
                            const double *rank, double prefetch_gate, struct moetier_policy **out);
void moetier_policy_free(struct moetier_policy *p);
const char *moetier_policy_name(const struct moetier_policy *p);

/* The cache the policy evicts from now holds `slots` slots (adapt sizes its
 * shadows by it; the others ignore it). */
void moetier_policy_resize(struct moetier_policy *p, uint32_t slots);

/* adapt: a new admit_cost (moetier_policy_opts); the others ignore it. */
void moetier_policy_set_admit_cost(struct moetier_policy *p, double reads);

/*
 * Whether a miss on slot should take victim's place (the victim the policy just
 * chose), or be read in place from the slow tier, evicting nothing. 1 for every
 * policy but adapt, which may gate admission on use counts.
 */
int moetier_policy_admit(const struct moetier_policy *p, uint32_t slot, uint32_t victim);

/* A use of slot at time t (non-decreasing). Out-of-range slots are ignored. */
void moetier_policy_access(struct moetier_policy *p, uint32_t slot, uint64_t t);

/* One token's experts at layer (n ids), once known: the predictor's training signal.
 * Call it for layers 0, 1, ... of each token in order. */
void moetier_policy_observe(struct moetier_policy *p, uint32_t layer, const uint16_t *experts,
                            size_t n);

/*
 * Chooses the slot to evict among resident[0..n) whose pinned[slot] is 0
 * (pinned may be NULL). Returns 0 and sets *slot, or -ENOENT when every
 * candidate is pinned (or n is 0).
 */
int moetier_policy_victim(struct moetier_policy *p, const uint32_t *resident, size_t n,
                          const uint8_t *pinned, uint32_t *slot);

/*
 * Slots to fetch ahead while `layer` runs, best first, for layer + 1 of the
 * token last observed: writes up to cap slots, returns how many (0 at the
 * last layer, and for every policy but predict without a prefetch gate).
 */
size_t moetier_policy_prefetch(struct moetier_policy *p, uint32_t layer, uint32_t *slots, size_t cap);

#endif
