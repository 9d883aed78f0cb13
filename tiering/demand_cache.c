/*
 * demand_cache: a layer step through a demand cache (see demand_cache.h).
 *
 * Invariants: the set's pinned[] is all zero between steps; pf[] marks the
 * slots prefetched for the layer about to run (listed in pfl) and is cleared
 * once that layer has run.
 */
#include "tiering/demand_cache.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

int moetier_demand_cache_init(struct moetier_demand_cache *c, uint32_t n_layers, uint32_t n_experts, uint32_t slots,
                              struct moetier_policy *policy)
{
    memset(c, 0, sizeof *c);
    if (!policy || !n_layers || !n_experts)
        return -EINVAL;
    uint32_t n_slots = n_layers * n_experts;
    c->policy = policy;
    c->n_layers = n_layers;
    c->n_experts = n_experts;
    c->pf = calloc(n_slots, 1);
    c->pfl = malloc(n_experts * sizeof *c->pfl);
    c->want = malloc(n_experts * sizeof *c->want);
    c->gone = malloc(n_slots * sizeof *c->gone);
    c->reads = malloc((MOETIER_DEMAND_MAX_K + n_experts) * sizeof *c->reads);
    if (!c->pf || !c->pfl || !c->want || !c->gone || !c->reads || moetier_slot_set_init(&c->set, n_slots, slots)) {
        moetier_demand_cache_free(c);
        return -ENOMEM;
    }
    return 0;
}

void moetier_demand_cache_free(struct moetier_demand_cache *c)
{
    moetier_slot_set_free(&c->set);
    free(c->pf);
    free(c->pfl);
    free(c->want);
    free(c->gone);
    free(c->reads);
    memset(c, 0, sizeof *c);
}

/* Admits slot (evicting the policy's victim when full): 1 when it is now
 * resident, 0 when it is served without a place. */
static int admit(struct moetier_demand_cache *c, uint32_t slot, struct moetier_demand_step *out)
{
    uint32_t v;
    if (moetier_slot_set_insert(&c->set, c->policy, slot, &v) != 0)
        return 0;
    if (v != MOETIER_SLOT_NONE) {
        c->pf[v] = 0; /* an evicted prefetch loses its mark */
        out->evicted[out->n_evicted++] = v;
    }
    return moetier_slot_set_has(&c->set, slot);
}

int moetier_demand_cache_layer(struct moetier_demand_cache *c, uint32_t layer, const uint16_t *row, uint32_t k,
                               const uint16_t *next_row, struct moetier_demand_step *out)
{
    const uint32_t E = c->n_experts;
    memset(out, 0, offsetof(struct moetier_demand_step, hit));
    out->read = c->reads;
    out->evicted = c->gone;
    if (layer >= c->n_layers || k > MOETIER_DEMAND_MAX_K)
        return -EINVAL;
    for (uint32_t i = 0; i < k; i++)
        if (row[i] >= E)
            return -EINVAL;
    uint8_t *pinned = c->set.pinned;
    for (uint32_t i = 0; i < k; i++)
        pinned[layer * E + row[i]] = 1;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t slot = layer * E + row[i];
        int hit = moetier_slot_set_has(&c->set, slot);
        out->hit[i] = (uint8_t)hit;
        if (c->pf[slot]) {
            out->n_prefetch_used += hit;
            c->pf[slot] = 0;
        }
        moetier_policy_access(c->policy, slot, c->t++);
        if (!hit) {
            out->read[out->n_read++] = slot;
            out->n_missed++;
            if (!admit(c, slot, out))
                out->n_direct++;
        }
    }
    moetier_policy_observe(c->policy, layer, row, k);
    /* the prefetches for this layer have had their chance */
    for (uint32_t i = 0; i < c->npfl; i++)
        c->pf[c->pfl[i]] = 0;
    c->npfl = 0;
    size_t n = moetier_policy_prefetch(c->policy, layer, c->want, E);
    for (size_t i = 0; i < n; i++) {
        uint32_t s = c->want[i];
        if (s >= c->set.n_slots)
            continue;
        out->n_predicted++;
        for (uint32_t j = 0; next_row && j < k; j++)
            if (s == (layer + 1) * E + next_row[j]) {
                out->n_predicted_used++;
                break;
            }
        if (moetier_slot_set_has(&c->set, s) || out->n_read >= k + E)
            continue;
        pinned[s] = 1; /* a prefetch never evicts another of the same step */
        if (admit(c, s, out)) {
            c->pf[s] = 1;
            c->pfl[c->npfl++] = s;
            out->read[out->n_read++] = s;
            out->n_prefetched++;
        }
    }
    for (uint32_t i = 0; i < c->npfl; i++)
        pinned[c->pfl[i]] = 0;
    for (uint32_t i = 0; i < k; i++)
        pinned[layer * E + row[i]] = 0;
    return 0;
}

void moetier_demand_cache_resize(struct moetier_demand_cache *c, uint32_t slots, struct moetier_demand_step *out)
{
    struct moetier_demand_step none;
    if (!out)
        out = &none;
    memset(out, 0, offsetof(struct moetier_demand_step, hit));
    out->read = c->reads;
    out->evicted = c->gone;
    moetier_slot_set_resize(&c->set, c->policy, slots, out->evicted, &out->n_evicted);
    for (uint32_t i = 0; i < out->n_evicted; i++)
        c->pf[out->evicted[i]] = 0;
    moetier_policy_resize(c->policy, c->set.cap);
}

int moetier_demand_cache_adopt(struct moetier_demand_cache *c, uint32_t slot)
{
    uint32_t v;
    if (slot >= c->set.n_slots)
        return -EINVAL;
    if (moetier_slot_set_has(&c->set, slot))
        return 0;
    if (c->set.n >= c->set.cap)
        return -ENOSPC;
    moetier_slot_set_insert(&c->set, c->policy, slot, &v); /* not full: evicts nothing */
    moetier_policy_access(c->policy, slot, c->t++);
    return 0;
}
