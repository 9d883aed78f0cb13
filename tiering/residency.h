/*
 * residency: which (layer, expert) slots the DRAM cache should hold, decided
 * by a policy (tiering/policy.h) fed with the runtime's live samples.
 *
 * Each sample is one decode step: the set of experts each layer used. It is
 * replayed into a slot_set of `cap` slots exactly the way tiering/replay.c
 * replays a trace token (layer by layer; the running layer's experts pinned;
 * predict's prefetch for layer l+1 inserted after layer l), so the policy
 * code measured on real traces is the code that decides here. The set is the
 * *wanted* residency; tiering/engine.c moves memory towards it.
 *
 * `hot` is not a demand cache: the wanted set is the `cap` slots with the
 * highest long-horizon use count (decayed with a half-life of
 * MOETIER_HOT_HALF_LIFE samples), and a slot outside it displaces the coldest
 * member only once its count passes that member's by MOETIER_HOT_MARGIN and
 * MOETIER_HOT_SLACK, so the set changes slowly. It is what the file tier's locking wants
 * (docs/bench-capped.md): locked experts are protected from eviction, and the
 * kernel's own LRU already keeps what was used recently in the unlocked rest;
 * a demand cache would lock every expert a token used, and churn.
 * Not thread-safe: the runtime calls it under its lock.
 */
#ifndef MOETIER_TIERING_RESIDENCY_H
#define MOETIER_TIERING_RESIDENCY_H

#include "tiering/policy.h"
#include "tiering/slot_set.h"

#include <stdint.h>

#define MOETIER_HOT_HALF_LIFE 50.0 /* samples */
#define MOETIER_HOT_MARGIN 1.25f
#define MOETIER_HOT_SLACK 1.0f /* and by at least one use: early counts are small */

struct moetier_residency {
    struct moetier_policy *policy; /* NULL for hot */
    float *score;         /* hot: [n_slots] decayed use counts */
    uint32_t *scratch;    /* hot: [n_slots] */
    struct moetier_slot_set set;
    uint32_t n_layers, n_experts;
    uint64_t t;           /* accesses so far (policy time) */
    uint64_t samples;
    uint16_t *row;        /* [n_experts] scratch: one layer's experts */
    uint32_t *want;       /* [n_experts] scratch: prefetch answers */
};

/*
 * policy: "lru", "lfu", "static", "predict", "adapt", "reuse", "hot". rank (static only; may be NULL
 * for the others): [n_layers * n_experts], higher = hotter, copied. topk: the
 * model's experts per token (predict's prefetch width and its half-life unit).
 * Returns 0, -EINVAL (unknown policy, static without rank) or -ENOMEM.
 */
int moetier_residency_new(struct moetier_residency *r, const char *policy, uint32_t n_layers, uint32_t n_experts,
                          uint32_t topk, uint32_t cap, const double *rank);
void moetier_residency_free(struct moetier_residency *r);

/* One decode step: used[slot] != 0 for each expert it used. */
void moetier_residency_sample(struct moetier_residency *r, const uint8_t *used);

/* The same step fed a MoE layer at a time, as each layer's router chooses
 * (the runtime's per-layer moves): layer l's experts row[0..n) (ids past the
 * model's count ignored), then step_end once the step is over. Fed in layer
 * order, the layers and step_end leave exactly what moetier_residency_sample
 * of the whole step leaves. hot ranks whole steps: it ignores layers
 * (moetier_residency_by_layer says 0) and needs moetier_residency_sample. */
void moetier_residency_layer(struct moetier_residency *r, uint32_t l, const uint16_t *row, size_t n);
void moetier_residency_step_end(struct moetier_residency *r);

static inline int moetier_residency_by_layer(const struct moetier_residency *r)
{
    return r->policy != NULL;
}

/* Seeds the wanted set with the hottest slots by rank (warm start), best first;
 * hot: the rates (shares of samples, as a profile gives them) become counts. */
void moetier_residency_seed(struct moetier_residency *r, const float *rate);

static inline int moetier_residency_wanted(const struct moetier_residency *r, uint32_t slot)
{
    return moetier_slot_set_has(&r->set, slot);
}

void moetier_residency_resize(struct moetier_residency *r, uint32_t cap);

#endif
