/*
 * residency: the wanted resident set, from live samples through a policy
 * (see residency.h).
 */
#include "tiering/residency.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_hot(const struct moetier_residency *r)
{
    return r->score != NULL;
}

int moetier_residency_new(struct moetier_residency *r, const char *policy, uint32_t n_layers, uint32_t n_experts,
                          uint32_t topk, uint32_t cap, const double *rank)
{
    memset(r, 0, sizeof *r);
    if (!n_layers || !n_experts || n_experts > 65535)
        return -EINVAL;
    if (topk == 0)
        topk = 1;
    size_t n_slots = (size_t)n_layers * n_experts;
    if (strcmp(policy, "hot") == 0) {
        r->score = calloc(n_slots, sizeof *r->score);
        r->scratch = malloc(n_slots * sizeof *r->scratch);
        if (!r->score || !r->scratch) {
            moetier_residency_free(r);
            return -ENOMEM;
        }
    } else {
        int rc = moetier_policy_new_live(policy, n_layers, n_experts, topk, cap, rank, 0, &r->policy);
        if (rc)
            return rc;
    }
    r->n_layers = n_layers;
    r->n_experts = n_experts;
    r->row = malloc(n_experts * sizeof *r->row);
    r->want = malloc(n_experts * sizeof *r->want);
    if (!r->row || !r->want || moetier_slot_set_init(&r->set, n_layers * n_experts, cap)) {
        moetier_residency_free(r);
        return -ENOMEM;
    }
    return 0;
}

void moetier_residency_free(struct moetier_residency *r)
{
    if (r->policy)
        moetier_policy_free(r->policy);
    free(r->score);
    free(r->scratch);
    moetier_slot_set_free(&r->set);
    free(r->row);
    free(r->want);
    memset(r, 0, sizeof *r);
}

static const float *sort_rate; /* qsort has no context argument: set under the runtime's lock */

static int hotter_first(const void *a, const void *b)
{
    float x = sort_rate[*(const uint32_t *)a], y = sort_rate[*(const uint32_t *)b];
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    return x < y ? 1 : x > y ? -1 : (i > j) - (i < j);
}

/* hot: the member with the lowest count (the set is not empty). */
static uint32_t coldest_member(const struct moetier_residency *r)
{
    const struct moetier_slot_set *set = &r->set;
    uint32_t cold = set->res[0];
    for (uint32_t k = 1; k < set->n; k++)
        if (r->score[set->res[k]] < r->score[cold])
            cold = set->res[k];
    return cold;
}

/* hot: fill free room with the best outsiders, then swap outsiders for
 * members while an outsider's count passes the member's by the margin. */
static void hot_update(struct moetier_residency *r)
{
    struct moetier_slot_set *set = &r->set;
    uint32_t *out = r->scratch, n_out = 0;
    for (uint32_t s = 0; s < set->n_slots; s++)
        if (!moetier_slot_set_has(set, s) && r->score[s] > 0)
            out[n_out++] = s;
    sort_rate = r->score;
    qsort(out, n_out, sizeof *out, hotter_first);
    uint32_t i = 0, evicted;
    while (i < n_out && set->n < set->cap)
        moetier_slot_set_insert(set, NULL, out[i++], &evicted);
    while (i < n_out && set->n) {
        uint32_t cold = coldest_member(r);
        if (!(r->score[out[i]] > r->score[cold] * MOETIER_HOT_MARGIN + MOETIER_HOT_SLACK))
            break;
        moetier_slot_set_remove(set, cold);
        moetier_slot_set_insert(set, NULL, out[i++], &evicted);
    }
}

/* Layer l's experts, r->row[0..n): the running layer pinned, each accessed
 * and admitted, then the policy's prefetch for layer l+1 (what replay does). */
static void feed_row(struct moetier_residency *r, uint32_t l, size_t n)
{
    const uint32_t E = r->n_experts;
    uint8_t *pin = r->set.pinned;
    uint32_t evicted;
    for (size_t k = 0; k < n; k++)
        pin[l * E + r->row[k]] = 1;
    for (size_t k = 0; k < n; k++) {
        uint32_t slot = l * E + r->row[k];
        moetier_policy_access(r->policy, slot, r->t++);
        moetier_slot_set_insert(&r->set, r->policy, slot, &evicted);
    }
    moetier_policy_observe(r->policy, l, r->row, n);
    size_t m = moetier_policy_prefetch(r->policy, l, r->want, E);
    for (size_t i = 0; i < m; i++)
        if (r->want[i] < r->set.n_slots && !moetier_slot_set_has(&r->set, r->want[i])) {
            moetier_slot_set_insert(&r->set, r->policy, r->want[i], &evicted);
            pin[r->want[i]] = 1; /* a prefetch never evicts another of the same round */
        }
    for (size_t i = 0; i < m; i++)
        if (r->want[i] < r->set.n_slots)
            pin[r->want[i]] = 0;
    for (size_t k = 0; k < n; k++)
        pin[l * E + r->row[k]] = 0;
}

void moetier_residency_layer(struct moetier_residency *r, uint32_t l, const uint16_t *row, size_t n)
{
    if (is_hot(r) || l >= r->n_layers)
        return;
    size_t kept = 0;
    for (size_t k = 0; k < n; k++)
        if (row[k] < r->n_experts)
            r->row[kept++] = row[k];
    feed_row(r, l, kept);
}

void moetier_residency_step_end(struct moetier_residency *r)
{
    r->samples++;
}

void moetier_residency_sample(struct moetier_residency *r, const uint8_t *used)
{
    if (is_hot(r)) {
        float keep = (float)exp2(-1.0 / MOETIER_HOT_HALF_LIFE);
        for (uint32_t s = 0; s < r->set.n_slots; s++)
            r->score[s] = r->score[s] * keep + (used[s] ? 1.0f : 0.0f);
        hot_update(r);
        r->samples++;
        return;
    }
    const uint32_t E = r->n_experts;
    for (uint32_t l = 0; l < r->n_layers; l++) {
        size_t n = 0;
        for (uint32_t e = 0; e < E; e++)
            if (used[l * E + e])
                r->row[n++] = (uint16_t)e;
        feed_row(r, l, n);
    }
    moetier_residency_step_end(r);
}

void moetier_residency_seed(struct moetier_residency *r, const float *rate)
{
    if (is_hot(r)) {
        /* a rate p (share of samples) is a steady count of p / (1 - keep) */
        double steady = 1.0 / (1.0 - exp2(-1.0 / MOETIER_HOT_HALF_LIFE));
        for (uint32_t s = 0; s < r->set.n_slots; s++)
            if (rate[s] > 0)
                r->score[s] = (float)(rate[s] * steady);
        hot_update(r);
        return;
    }
    /* insert coldest first so the hottest are the last to be evicted by recency */
    uint32_t n = r->set.n_slots, evicted;
    uint32_t *order = malloc(n * sizeof *order);
    if (!order)
        return;
    uint32_t k = 0;
    for (uint32_t s = 0; s < n; s++)
        if (rate[s] > 0)
            order[k++] = s;
    sort_rate = rate;
    qsort(order, k, sizeof *order, hotter_first);
    uint32_t take = k < r->set.cap ? k : r->set.cap;
    for (uint32_t i = take; i-- > 0;) {
        moetier_policy_access(r->policy, order[i], r->t++);
        moetier_slot_set_insert(&r->set, r->policy, order[i], &evicted);
    }
    free(order);
}

void moetier_residency_resize(struct moetier_residency *r, uint32_t cap)
{
    if (is_hot(r)) {
        struct moetier_slot_set *set = &r->set;
        set->cap = cap < set->n_slots ? cap : set->n_slots;
        while (set->n > set->cap) {
            moetier_slot_set_remove(set, coldest_member(r));
        }
        hot_update(r);
        return;
    }
    moetier_policy_resize(r->policy, cap);
    moetier_slot_set_resize(&r->set, r->policy, cap, NULL, NULL);
}
