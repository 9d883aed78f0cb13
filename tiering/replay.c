/*
 * replay: a trace through a cache policy (definitions in replay.h).
 *
 * Each layer of each token is one step of a demand cache (demand_cache.h, the
 * same steps the file tier's read room runs live); replay adds them up.
 */
#include "tiering/replay.h"
#include "tiering/demand_cache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

uint32_t moetier_replay_slots(const struct moetier_routing *r, double share)
{
    double pairs = (double)r->layers * r->experts;
    if (share <= 0)
        return 0;
    if (share >= 1)
        return (uint32_t)pairs;
    /* floor, with a tolerance for shares like 0.29 that are not exact in binary */
    return (uint32_t)(share * pairs + 1e-9);
}

static int check_trace(const struct moetier_routing *r)
{
    return r && r->routes && r->layers > 0 && r->experts > 0 && r->topk > 0 ? 0 : -EINVAL;
}

int moetier_replay_next_use(const struct moetier_routing *r, uint64_t **out)
{
    if (check_trace(r))
        return -EINVAL;
    uint64_t n = r->tokens * (uint64_t)r->layers * r->topk;
    uint64_t *next = malloc((n ? n : 1) * sizeof *next);
    uint64_t *seen = malloc((size_t)r->layers * r->experts * sizeof *seen);
    if (!next || !seen) {
        free(next);
        free(seen);
        return -ENOMEM;
    }
    for (size_t s = 0; s < (size_t)r->layers * r->experts; s++)
        seen[s] = MOETIER_POLICY_NEVER;
    for (uint64_t t = n; t-- > 0;) {
        uint64_t layer = (t / r->topk) % r->layers;
        size_t slot = layer * r->experts + r->routes[t];
        next[t] = seen[slot];
        seen[slot] = t;
    }
    free(seen);
    *out = next;
    return 0;
}

int moetier_replay_run(const struct moetier_routing *r, struct moetier_policy *p, uint32_t slots,
                       struct moetier_replay_result *res)
{
    return moetier_replay_run_map(r, p, slots, res, NULL);
}

/* The token's map row: used[] holds HIT or MISS for the pairs it used. */
static void map_token(const struct moetier_slot_set *c, uint32_t n_slots, uint8_t *used, uint8_t *row)
{
    for (uint32_t s = 0; s < n_slots; s++) {
        int in = moetier_slot_set_has(c, s);
        row[s] = !used[s] ? (in ? MOETIER_RES_IDLE : MOETIER_RES_EMPTY) : in ? used[s] : MOETIER_RES_GONE;
        used[s] = 0;
    }
}

int moetier_replay_run_map(const struct moetier_routing *r, struct moetier_policy *p, uint32_t slots,
                           struct moetier_replay_result *res, uint8_t *map)
{
    if (check_trace(r) || slots == 0 || r->topk > MOETIER_DEMAND_MAX_K)
        return -EINVAL;
    const uint32_t L = r->layers, E = r->experts, K = r->topk, n_slots = L * E;
    if (slots > n_slots)
        slots = n_slots;
    memset(res, 0, sizeof *res);
    res->slots = slots;
    res->half_from = r->tokens / 2;

    struct moetier_demand_cache c;
    if (moetier_demand_cache_init(&c, L, E, slots, p))
        return -ENOMEM;
    uint8_t *used = map ? calloc(n_slots, 1) : NULL;
    if (map && !used) {
        moetier_demand_cache_free(&c);
        return -ENOMEM;
    }
    struct moetier_demand_step st;
    for (uint64_t tok = 0; tok < r->tokens; tok++) {
        int half = tok >= res->half_from;
        for (uint32_t l = 0; l < L; l++) {
            const uint16_t *row = r->routes + (tok * L + l) * K;
            moetier_demand_cache_layer(&c, l, row, K, l + 1 < L ? row + K : NULL, &st);
            for (uint32_t k = 0; k < K; k++) {
                res->hits += st.hit[k];
                res->hits_half += half && st.hit[k];
                if (used)
                    used[l * E + row[k]] = st.hit[k] ? MOETIER_RES_HIT : MOETIER_RES_MISS;
            }
            res->accesses += K;
            res->accesses_half += half ? K : 0;
            res->evictions += st.n_evicted;
            res->promoted += st.n_missed - st.n_direct;
            res->direct += st.n_direct;
            res->miss_steps += st.n_missed > 0;
            res->prefetched += st.n_prefetched;
            res->prefetch_used += st.n_prefetch_used;
            res->predicted += st.n_predicted;
            res->predicted_used += st.n_predicted_used;
        }
        if (map)
            map_token(&c.set, n_slots, used, map + tok * n_slots);
    }
    res->slow_reads = res->promoted + res->direct + res->prefetched;
    free(used);
    moetier_demand_cache_free(&c);
    return 0;
}

int moetier_replay_policy(const struct moetier_routing *r, const char *name, double share,
                          const struct moetier_policy_opts *opts, struct moetier_replay_result *res)
{
    return moetier_replay_policy_map(r, name, share, opts, res, NULL);
}

int moetier_replay_policy_map(const struct moetier_routing *r, const char *name, double share,
                              const struct moetier_policy_opts *opts, struct moetier_replay_result *res,
                              uint8_t *map)
{
    if (check_trace(r) || !name)
        return -EINVAL;
    if (strcmp(name, "auto") == 0)
        name = moetier_policy_auto(0); /* replay is a copy cache: it never locks */
    uint32_t slots = moetier_replay_slots(r, share);
    struct moetier_policy_opts o = { .cache_slots = slots };
    if (opts) {
        o.half_life = opts->half_life;
        o.prefetch = opts->prefetch;
        o.prev_weight = opts->prev_weight;
        o.admit_cost = opts->admit_cost;
        if (strcmp(name, "belady") != 0) /* the bound stays a demand cache */
            o.prefetch_gate = opts->prefetch_gate;
    }
    o.topk = (uint32_t)r->topk;
    size_t n_slots = (size_t)r->layers * r->experts;
    double *rank = NULL;
    uint64_t *next = NULL;
    struct moetier_policy *p = NULL;
    int rc;
    if (strcmp(name, "static") == 0) {
        rank = calloc(n_slots, sizeof *rank);
        if (!rank)
            return -ENOMEM;
        size_t per = (size_t)r->layers * r->topk;
        for (uint64_t i = 0; i < (r->tokens / 2) * per; i++)
            rank[(i / r->topk) % r->layers * r->experts + r->routes[i]] += 1;
        o.rank = rank;
    } else if (strcmp(name, "belady") == 0) {
        if ((rc = moetier_replay_next_use(r, &next)))
            return rc;
        o.next_use = next;
        o.n_next_use = r->tokens * (uint64_t)r->layers * r->topk;
    }
    rc = moetier_policy_new(name, (uint32_t)r->layers, (uint32_t)r->experts, &o, &p);
    if (rc == 0)
        rc = slots ? moetier_replay_run_map(r, p, slots, res, map) : -EINVAL;
    moetier_policy_free(p);
    free(next);
    free(rank);
    return rc;
}
