/*
 * policy_adapt: the `adapt` policy's machinery (module-internal to
 * tiering/policy.c; callers use tiering/policy.h).
 *
 * adapt runs several rules side by side and follows the one that would have
 * read the fewest pairs from the slow tier so far (ARC's idea, with whole
 * policies for ghosts): a shadow cache of the real cache's size per rule sees
 * every access, and each shadow miss adds to that rule's cost (decayed with a
 * half-life in accesses; 0 = the whole history), and admit_cost more when the
 * rule admits it (where the cache is filled by a copy after the step that
 * read the miss in place: the runtime per token). A rule is an eviction order
 * (lru; lfu without decay; reuse, policy.c's expected-next-use order with a
 * short rate half-life) and an admission: every miss, or only a pair used more
 * often than the victim (lfu's counts; a miss not admitted is read in place and
 * evicts nothing). With lru and lfu among the rules, adapt reads about as few
 * pairs as the better of the two on each trace, and fewer where another rule
 * wins. Ties keep the rule followed (lru at the start). No prefetch: every pair
 * adapt reads is one a token needed, so its bytes are its misses.
 * Shadows pin the slots already used by the running (token, layer) group, as
 * replay pins the running layer's experts.
 * Invariants: shadows hold at most `slots` slots; cost[] >= 0.
 */
#ifndef MOETIER_TIERING_POLICY_ADAPT_H
#define MOETIER_TIERING_POLICY_ADAPT_H

#include "tiering/policy.h"
#include "tiering/slot_set.h"

#include <stdint.h>

/* the rules: an eviction order, admitting every miss or only a pair used more
 * often than the victim (a miss not admitted is read in place, evicting nothing) */
enum { ADAPT_LRU, ADAPT_LFU, ADAPT_REUSE, ADAPT_ORDERS };
#define ADAPT_RULES (2 * ADAPT_ORDERS) /* rule r: order r % ADAPT_ORDERS, gated when r >= ADAPT_ORDERS */
/* reuse's rate half-life, in tokens: short, so it reads recency where lfu reads popularity */
#define ADAPT_REUSE_HALF_LIFE_TOKENS 10

struct adapt {
    struct moetier_policy *order[ADAPT_ORDERS]; /* the keys of the shadows and the real cache */
    struct moetier_slot_set shadow[ADAPT_RULES];
    double cost[ADAPT_RULES]; /* decayed shadow misses (inflated, like policy.c's lfu) */
    double half_life, base;   /* cost decay, in accesses; 0 = none */
    double admit_cost;        /* reads an admitted shadow miss adds beyond the miss (policy.h) */
    uint32_t experts;
    uint32_t *group, n_group, group_layer, group_cap; /* slots of the running (token, layer) */
    uint64_t switches;        /* times the followed rule changed */
    int follow;
};

/* slots: the real cache's size; half_life: of the costs, in accesses (0 = none);
 * topk: experts per token per layer (reuse's half-life unit).
 * Returns 0, -EINVAL or -ENOMEM (a is zeroed on failure). */
int adapt_init(struct adapt *a, uint32_t n_layers, uint32_t n_experts, uint32_t topk, uint32_t slots,
               double half_life);
void adapt_free(struct adapt *a);
void adapt_access(struct adapt *a, uint32_t slot, uint64_t t);
void adapt_resize(struct adapt *a, uint32_t slots);

/* The eviction order the real cache follows now. */
static inline struct moetier_policy *adapt_order(const struct adapt *a)
{
    return a->order[a->follow % ADAPT_ORDERS];
}

/* Whether the real cache admits slot over victim under the rule followed now. */
int adapt_admit(const struct adapt *a, uint32_t slot, uint32_t victim);

/* policy.c: lfu's (inflated) use count of slot. */
double policy_count(const struct moetier_policy *p, uint32_t slot);

#endif
