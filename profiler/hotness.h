/*
 * hotness: per-(layer, expert) decode hit counts and decayed hit rates.
 *
 * Each sample says which experts a sampled decode step used. hits counts them;
 * rate is an exponentially decayed share of recent samples that used the
 * expert (in [0, 1]; half-life in samples). Only decode samples are recorded:
 * the caller keeps the loader's warm-up pass (every expert once) and prompt
 * processing (most experts) out. A profile from an earlier run seeds the rates
 * and carries its hits forward (prior_hits), so the next run starts warm.
 * Not thread-safe: one updater (the runtime), readers copy.
 */
#ifndef MOETIER_PROFILER_HOTNESS_H
#define MOETIER_PROFILER_HOTNESS_H

#include <stddef.h>
#include <stdint.h>

#include "profiler/profile.h"

struct moetier_hotness {
    uint32_t n_layers, n_experts, n_slots;
    uint64_t samples;        /* decode samples recorded this run */
    uint64_t *hits;          /* this run */
    uint64_t *prior_hits;    /* from the profile this run started from */
    float *rate;
    double alpha;            /* 1 - 2^(-1/half_life) */
};

int moetier_hotness_init(struct moetier_hotness *h, uint32_t n_layers, uint32_t n_experts,
                         double half_life);
void moetier_hotness_free(struct moetier_hotness *h);

/* Records one sample: used[slot] is 1 for each expert it used. */
void moetier_hotness_record(struct moetier_hotness *h, const uint8_t *used);

/* Seeds from a profile of the same shape (0) or refuses another shape (-EINVAL). */
int moetier_hotness_seed(struct moetier_hotness *h, const struct moetier_profile *p);

/* Fills p's counters (p->experts must hold n_slots entries): prior + this run. */
void moetier_hotness_export(const struct moetier_hotness *h, struct moetier_profile_expert *out);

#endif
