/*
 * policy_adapt: LRU or LFU, whichever its shadow cache says fetches fewer
 * pairs (see policy_adapt.h). Decay without rescanning, as policy.c's lfu: a
 * miss at t adds 2^((t - base) / half_life); both costs are scaled down
 * together when the increments grow large, so their order is exact.
 */
#include "tiering/policy_adapt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int adapt_init(struct adapt *a, uint32_t n_layers, uint32_t n_experts, uint32_t topk, uint32_t slots,
               double half_life)
{
    static const char *const names[ADAPT_ORDERS] = { "lru", "lfu", "reuse" };
    memset(a, 0, sizeof *a);
    if (half_life < 0)
        return -EINVAL;
    a->half_life = half_life;
    a->experts = n_experts;
    a->group_cap = n_experts;
    a->group = malloc(n_experts * sizeof *a->group);
    if (!a->group)
        goto fail;
    for (int i = 0; i < ADAPT_ORDERS; i++) {
        struct moetier_policy_opts o = { 0 };
        if (i == ADAPT_REUSE)
            o.half_life = ADAPT_REUSE_HALF_LIFE_TOKENS * (double)n_layers * (topk ? topk : 1);
        int rc = moetier_policy_new(names[i], n_layers, n_experts, &o, &a->order[i]);
        if (rc) {
            adapt_free(a);
            return rc;
        }
    }
    for (int i = 0; i < ADAPT_RULES; i++)
        if (moetier_slot_set_init(&a->shadow[i], n_layers * n_experts, slots))
            goto fail;
    return 0;
fail:
    adapt_free(a);
    return -ENOMEM;
}

void adapt_free(struct adapt *a)
{
    for (int i = 0; i < ADAPT_ORDERS; i++)
        moetier_policy_free(a->order[i]);
    for (int i = 0; i < ADAPT_RULES; i++)
        moetier_slot_set_free(&a->shadow[i]);
    free(a->group);
    memset(a, 0, sizeof *a);
}

static double miss_weight(struct adapt *a, uint64_t t)
{
    if (a->half_life <= 0)
        return 1;
    double e = ((double)t - a->base) / a->half_life;
    if (e > 512) {
        for (int i = 0; i < ADAPT_RULES; i++)
            a->cost[i] *= exp2(-e);
        a->base = (double)t;
        e = 0;
    }
    return exp2(e);
}

static int gated(int rule)
{
    return rule >= ADAPT_ORDERS;
}

/* The gate: a pair used more often than the victim (counts kept while evicted). */
static int passes(const struct adapt *a, uint32_t slot, uint32_t victim)
{
    return policy_count(a->order[ADAPT_LFU], slot) > policy_count(a->order[ADAPT_LFU], victim);
}

int adapt_admit(const struct adapt *a, uint32_t slot, uint32_t victim)
{
    return !gated(a->follow) || passes(a, slot, victim);
}

void adapt_access(struct adapt *a, uint32_t slot, uint64_t t)
{
    uint32_t layer = slot / a->experts;
    if (layer != a->group_layer || a->n_group == a->group_cap)
        a->n_group = 0; /* a new (token, layer) group */
    a->group_layer = layer;
    a->group[a->n_group++] = slot;
    for (int i = 0; i < ADAPT_ORDERS; i++)
        moetier_policy_access(a->order[i], slot, t);
    double w = 0;
    for (int i = 0; i < ADAPT_RULES; i++) {
        struct moetier_slot_set *s = &a->shadow[i];
        struct moetier_policy *order = a->order[i % ADAPT_ORDERS];
        if (moetier_slot_set_has(s, slot))
            continue;
        if (w == 0)
            w = miss_weight(a, t);
        a->cost[i] += w;
        for (uint32_t g = 0; g < a->n_group; g++)
            s->pinned[a->group[g]] = 1;
        uint32_t v, evicted;
        if (s->n < s->cap || moetier_policy_victim(order, s->res, s->n, s->pinned, &v) ||
            !gated(i) || passes(a, slot, v))
            if (moetier_slot_set_insert(s, order, slot, &evicted) == 0)
                a->cost[i] += w * a->admit_cost; /* the copy that admits it, when it is one more read */
        for (uint32_t g = 0; g < a->n_group; g++)
            s->pinned[a->group[g]] = 0;
    }
    /* follow the cheapest rule; a tie keeps the current one */
    int cheapest = a->follow;
    for (int i = 0; i < ADAPT_RULES; i++)
        if (a->cost[i] < a->cost[cheapest])
            cheapest = i;
    if (cheapest != a->follow) {
        a->follow = cheapest;
        a->switches++;
    }
}

void adapt_resize(struct adapt *a, uint32_t slots)
{
    for (int i = 0; i < ADAPT_RULES; i++)
        moetier_slot_set_resize(&a->shadow[i], a->order[i % ADAPT_ORDERS], slots, NULL, NULL);
}
