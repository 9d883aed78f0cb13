/*
 * hotness: decode hit counts and decayed rates (see hotness.h).
 */
#include "profiler/hotness.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int moetier_hotness_init(struct moetier_hotness *h, uint32_t n_layers, uint32_t n_experts,
                         double half_life)
{
    memset(h, 0, sizeof *h);
    h->n_layers = n_layers;
    h->n_experts = n_experts;
    h->n_slots = n_layers * n_experts;
    h->hits = calloc(h->n_slots, sizeof *h->hits);
    h->prior_hits = calloc(h->n_slots, sizeof *h->prior_hits);
    h->rate = calloc(h->n_slots, sizeof *h->rate);
    if (!h->hits || !h->prior_hits || !h->rate) {
        moetier_hotness_free(h);
        return -ENOMEM;
    }
    h->alpha = 1 - pow(2, -1 / (half_life > 1 ? half_life : 1));
    return 0;
}

void moetier_hotness_free(struct moetier_hotness *h)
{
    free(h->hits);
    free(h->prior_hits);
    free(h->rate);
    memset(h, 0, sizeof *h);
}

void moetier_hotness_record(struct moetier_hotness *h, const uint8_t *used)
{
    float a = (float)h->alpha;
    for (uint32_t i = 0; i < h->n_slots; i++) {
        h->hits[i] += used[i];
        h->rate[i] += a * ((float)used[i] - h->rate[i]);
    }
    h->samples++;
}

int moetier_hotness_seed(struct moetier_hotness *h, const struct moetier_profile *p)
{
    if (p->n_layers != h->n_layers || p->n_experts != h->n_experts)
        return -EINVAL;
    for (uint32_t i = 0; i < h->n_slots; i++) {
        h->prior_hits[i] = p->experts[i].hits;
        float r = p->experts[i].rate;
        h->rate[i] = r >= 0 && r <= 1 ? r : 0;
    }
    return 0;
}

void moetier_hotness_export(const struct moetier_hotness *h, struct moetier_profile_expert *out)
{
    for (uint32_t i = 0; i < h->n_slots; i++) {
        out[i].hits = h->prior_hits[i] + h->hits[i];
        out[i].rate = h->rate[i];
    }
}
