/*
 * policy: the eviction / prefetch policies of the DRAM expert cache (see
 * policy.h for the interface and docs/policies.md for the definitions).
 *
 * All policies share one structure of per-slot arrays; a victim is the
 * candidate with the smallest key (policy-specific), ties broken by the oldest
 * last use, then the lowest slot, so every run is deterministic.
 * LFU decay without rescanning: a use at time t adds 2^((t - base) / half_life)
 * instead of 1, which ranks slots exactly like decayed counts (all decay by the
 * same factor); when the increments grow past 2^512 every score is scaled down
 * and base moves to t.
 * Invariants: slot < n_slots everywhere; cooc is only allocated for predict.
 */
#include "tiering/policy.h"
#include "tiering/policy_adapt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum kind { K_LRU, K_LFU, K_STATIC, K_PREDICT, K_BELADY, K_ADAPT, K_REUSE };

const char *const moetier_policy_names[] = { "lru", "lfu", "static", "predict", "belady", "adapt", "reuse", NULL };

const char *moetier_policy_auto(int locks_page_cache)
{
    /* locking wants a slowly changing hot set (docs/bench-capped.md); a copy
     * cache the demand policy that moves the fewest bytes (docs/policies.md) */
    return locks_page_cache ? "hot" : "adapt";
}

struct moetier_policy {
    enum kind kind;
    uint32_t layers, experts, n_slots;
    uint64_t *last;  /* [n_slots] time of the last use + 1 (0 = never used) */
    double *score;   /* lfu, predict: (inflated) decayed use counts; static: rank */
    uint64_t *next;  /* belady: time of the next use */
    double half_life, base;
    const uint64_t *next_use;
    uint64_t n_next_use;
    /* predict, and any policy with a prefetch gate: the co-occurrence predictor */
    uint32_t k, prefetch;
    double prev_weight;
    uint32_t *cooc;     /* [(layers - 1) * experts * experts]: expert at l -> expert at l+1 */
    uint64_t *rowsum;   /* [(layers - 1) * experts]: sum of a cooc row */
    /* the gate (opts.prefetch_gate; 0 = off): chances estimated from counts */
    double gate;
    uint32_t *follows;  /* [(layers - 1) * experts]: tokens whose layer l+1 followed expert a at l */
    uint32_t *uses;     /* [layers * experts]: tokens that used the pair */
    uint32_t *repeats;  /* [layers * experts]: ... right after the previous token used it */
    uint16_t *cur, *prev; /* [layers * k]: this token's / the previous token's choices */
    uint32_t *ncur, *nprev;
    double *pscore;     /* [experts] scratch */
    struct adapt adapt; /* adapt: its two rules and their shadow caches */
    /* reuse */
    uint32_t cur_layer;  /* the layer of the last access */
    double tokmass;      /* tokens seen, weighted like score[] */
};

static int kind_of(const char *name, enum kind *k)
{
    static const enum kind kinds[] = { K_LRU, K_LFU, K_STATIC, K_PREDICT, K_BELADY, K_ADAPT, K_REUSE };
    for (int i = 0; moetier_policy_names[i]; i++)
        if (strcmp(name, moetier_policy_names[i]) == 0) {
            *k = kinds[i];
            return 0;
        }
    return -EINVAL;
}

int moetier_policy_new(const char *name, uint32_t n_layers, uint32_t n_experts,
                       const struct moetier_policy_opts *opts, struct moetier_policy **out)
{
    static const struct moetier_policy_opts defaults;
    const struct moetier_policy_opts *o = opts ? opts : &defaults;
    enum kind kind;
    *out = NULL;
    if (!name || kind_of(name, &kind) || n_layers == 0 || n_experts == 0 ||
        (uint64_t)n_layers * n_experts > UINT32_MAX / 2 || o->half_life < 0 || o->prev_weight < 0 ||
        !(o->prefetch_gate >= 0 && o->prefetch_gate <= 1) || (o->prefetch_gate > 0 && kind == K_BELADY))
        return -EINVAL;
    if ((kind == K_STATIC && !o->rank) || (kind == K_BELADY && !o->next_use))
        return -EINVAL;
    struct moetier_policy *p = calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->kind = kind;
    p->layers = n_layers;
    p->experts = n_experts;
    p->n_slots = n_layers * n_experts;
    p->half_life = o->half_life;
    p->last = calloc(p->n_slots, sizeof *p->last);
    p->score = calloc(p->n_slots, sizeof *p->score);
    if (!p->last || !p->score)
        goto fail;
    if (kind == K_STATIC)
        memcpy(p->score, o->rank, p->n_slots * sizeof *p->score);
    if (kind == K_BELADY) {
        p->next_use = o->next_use;
        p->n_next_use = o->n_next_use;
        p->next = malloc(p->n_slots * sizeof *p->next);
        if (!p->next)
            goto fail;
        for (uint32_t s = 0; s < p->n_slots; s++)
            p->next[s] = MOETIER_POLICY_NEVER;
    }
    if (kind == K_ADAPT) {
        int rc = adapt_init(&p->adapt, n_layers, n_experts, o->topk, o->cache_slots, o->half_life);
        if (rc) {
            moetier_policy_free(p);
            return rc;
        }
        p->adapt.admit_cost = o->admit_cost > 0 ? o->admit_cost : 0;
    }
    if (kind == K_PREDICT || o->prefetch_gate > 0) {
        p->gate = o->prefetch_gate;
        p->k = o->topk ? o->topk : 1;
        p->prefetch = o->prefetch ? o->prefetch : p->k;
        p->prev_weight = o->prev_weight > 0 ? o->prev_weight : 0.01;
        size_t pairs = (size_t)(n_layers - 1) * n_experts;
        if (pairs && (size_t)n_experts > SIZE_MAX / sizeof(uint32_t) / pairs)
            goto fail;
        p->cooc = calloc(pairs * n_experts + 1, sizeof *p->cooc);
        p->rowsum = calloc(pairs + 1, sizeof *p->rowsum);
        p->cur = calloc((size_t)n_layers * p->k, sizeof *p->cur);
        p->prev = calloc((size_t)n_layers * p->k, sizeof *p->prev);
        p->ncur = calloc(n_layers, sizeof *p->ncur);
        p->nprev = calloc(n_layers, sizeof *p->nprev);
        p->pscore = calloc(n_experts, sizeof *p->pscore);
        if (!p->cooc || !p->rowsum || !p->cur || !p->prev || !p->ncur || !p->nprev || !p->pscore)
            goto fail;
        if (p->gate > 0) {
            p->follows = calloc(pairs + 1, sizeof *p->follows);
            p->uses = calloc(p->n_slots, sizeof *p->uses);
            p->repeats = calloc(p->n_slots, sizeof *p->repeats);
            if (!p->follows || !p->uses || !p->repeats)
                goto fail;
        }
    }
    *out = p;
    return 0;
fail:
    moetier_policy_free(p);
    return -ENOMEM;
}

int moetier_policy_new_live(const char *name, uint32_t n_layers, uint32_t n_experts, uint32_t topk, uint32_t cap,
                            const double *rank, double prefetch_gate, struct moetier_policy **out)
{
    if (topk == 0)
        topk = 1;
    struct moetier_policy_opts o = { .topk = topk, .rank = rank, .cache_slots = cap,
                                     .prefetch_gate = prefetch_gate };
    /* time counts accesses: a token is n_layers * topk of them */
    if (strcmp(name, "lfu") == 0 || strcmp(name, "predict") == 0)
        o.half_life = MOETIER_PREDICT_HALF_LIFE_TOKENS * (double)n_layers * topk;
    else if (strcmp(name, "adapt") == 0)
        o.half_life = MOETIER_ADAPT_HALF_LIFE_TOKENS * (double)n_layers * topk;
    return moetier_policy_new(name, n_layers, n_experts, &o, out);
}

void moetier_policy_free(struct moetier_policy *p)
{
    if (!p)
        return;
    if (p->kind == K_ADAPT)
        adapt_free(&p->adapt);
    free(p->repeats);
    free(p->uses);
    free(p->follows);
    free(p->pscore);
    free(p->nprev);
    free(p->ncur);
    free(p->prev);
    free(p->cur);
    free(p->rowsum);
    free(p->cooc);
    free(p->next);
    free(p->score);
    free(p->last);
    free(p);
}

const char *moetier_policy_name(const struct moetier_policy *p)
{
    return moetier_policy_names[p->kind];
}

/* The inflated weight of a use at t (see the file comment), rescaling when it grows large. */
static double lfu_weight(struct moetier_policy *p, uint64_t t)
{
    if (p->half_life <= 0)
        return 1;
    double e = ((double)t - p->base) / p->half_life;
    if (e > 512) {
        double scale = exp2(-e);
        for (uint32_t s = 0; s < p->n_slots; s++)
            p->score[s] *= scale;
        p->tokmass *= scale;
        p->base = (double)t;
        e = 0;
    }
    return exp2(e);
}

/* LFU with decay: adds the inflated weight of a use at t. */
static void lfu_bump(struct moetier_policy *p, uint32_t slot, uint64_t t)
{
    p->score[slot] += lfu_weight(p, t);
}

void moetier_policy_access(struct moetier_policy *p, uint32_t slot, uint64_t t)
{
    if (slot >= p->n_slots)
        return;
    p->last[slot] = t + 1;
    if (p->kind == K_ADAPT)
        adapt_access(&p->adapt, slot, t);
    else if (p->kind == K_LFU || p->kind == K_PREDICT)
        lfu_bump(p, slot, t);
    else if (p->kind == K_REUSE) {
        uint32_t layer = slot / p->experts;
        if (layer < p->cur_layer || p->tokmass == 0)
            p->tokmass += lfu_weight(p, t); /* a new token */
        p->cur_layer = layer;
        lfu_bump(p, slot, t);
    }
    else if (p->kind == K_BELADY)
        p->next[slot] = t < p->n_next_use ? p->next_use[t] : MOETIER_POLICY_NEVER;
}

/* The eviction key of a slot: the smallest is evicted first. */
static double key(const struct moetier_policy *p, uint32_t s)
{
    switch (p->kind) {
    case K_LRU:
        return (double)p->last[s];
    case K_BELADY:
        return p->next[s] == MOETIER_POLICY_NEVER ? -INFINITY : -(double)p->next[s];
    case K_REUSE: {
        /* expected layers until the next use: until the layer comes round, then a
         * geometric wait of 1/rate - 1 tokens at its per-token use rate */
        double L = p->layers, dl = (double)((s / p->experts + p->layers - p->cur_layer) % p->layers);
        double rate = p->score[s] / (p->tokmass + (p->half_life > 0 ? 0 : 1));
        if (dl == 0)
            dl = L;
        return rate > 0 ? -(dl + L * (1 / rate - 1)) : -INFINITY;
    }
    default:
        return p->score[s];
    }
}

int moetier_policy_victim(struct moetier_policy *p, const uint32_t *resident, size_t n,
                          const uint8_t *pinned, uint32_t *slot)
{
    if (p->kind == K_ADAPT)
        return moetier_policy_victim(adapt_order(&p->adapt), resident, n, pinned, slot);
    int found = 0;
    uint32_t best = 0;
    double best_key = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = resident[i];
        if (s >= p->n_slots || (pinned && pinned[s]))
            continue;
        double k = key(p, s);
        if (!found || k < best_key ||
            (k == best_key && (p->last[s] < p->last[best] || (p->last[s] == p->last[best] && s < best)))) {
            found = 1;
            best = s;
            best_key = k;
        }
    }
    if (!found)
        return -ENOENT;
    *slot = best;
    return 0;
}

void moetier_policy_observe(struct moetier_policy *p, uint32_t layer, const uint16_t *experts, size_t n)
{
    if (!p->cooc || layer >= p->layers)
        return;
    if (layer == 0) { /* a new token: this one's choices become the previous token's */
        memcpy(p->prev, p->cur, (size_t)p->layers * p->k * sizeof *p->cur);
        memcpy(p->nprev, p->ncur, p->layers * sizeof *p->ncur);
    }
    uint32_t m = 0;
    uint16_t *row = p->cur + (size_t)layer * p->k;
    for (size_t i = 0; i < n && m < p->k; i++)
        if (experts[i] < p->experts)
            row[m++] = experts[i];
    p->ncur[layer] = m;
    if (p->gate > 0) {
        const uint16_t *pv = p->prev + (size_t)layer * p->k;
        for (uint32_t b = 0; b < m; b++) {
            size_t s = (size_t)layer * p->experts + row[b];
            p->uses[s]++;
            for (uint32_t i = 0; i < p->nprev[layer]; i++)
                if (pv[i] == row[b]) {
                    p->repeats[s]++;
                    break;
                }
        }
    }
    if (layer == 0)
        return;
    /* learn: each expert of layer - 1 co-occurred with each of layer */
    const uint16_t *up = p->cur + (size_t)(layer - 1) * p->k;
    for (uint32_t a = 0; a < p->ncur[layer - 1]; a++) {
        size_t r = (size_t)(layer - 1) * p->experts + up[a];
        uint32_t *c = p->cooc + r * p->experts;
        for (uint32_t b = 0; b < m; b++)
            c[row[b]]++;
        p->rowsum[r] += m;
        if (p->follows)
            p->follows[r]++;
    }
}

/* A pair's counts are trusted from this many tokens on. */
#define GATE_MIN_SEEN 4

/*
 * The gate's answer: layer + 1's experts whose chance of use, estimated from
 * the past only, is at least the gate: the larger of the mean over this
 * token's trusted experts a at layer of #(a, then b) / #(a followed), and, when
 * the previous token used b at layer + 1, the share of b's uses that came
 * right after a use (#repeats / #uses). Best first.
 */
static size_t prefetch_gated(struct moetier_policy *p, uint32_t layer, uint32_t *slots, size_t cap)
{
    uint32_t nx = layer + 1, E = p->experts, trusted = 0;
    double *sc = p->pscore;
    memset(sc, 0, E * sizeof *sc);
    const uint16_t *row = p->cur + (size_t)layer * p->k;
    for (uint32_t a = 0; a < p->ncur[layer]; a++) {
        size_t r = (size_t)layer * E + row[a];
        if (p->follows[r] < GATE_MIN_SEEN)
            continue;
        trusted++;
        const uint32_t *c = p->cooc + r * E;
        for (uint32_t b = 0; b < E; b++)
            sc[b] += (double)c[b] / p->follows[r];
    }
    for (uint32_t b = 0; trusted > 1 && b < E; b++)
        sc[b] /= trusted;
    const uint16_t *pv = p->prev + (size_t)nx * p->k;
    for (uint32_t i = 0; i < p->nprev[nx]; i++) {
        size_t s = (size_t)nx * E + pv[i];
        if (p->uses[s] >= GATE_MIN_SEEN && (double)p->repeats[s] / p->uses[s] > sc[pv[i]])
            sc[pv[i]] = (double)p->repeats[s] / p->uses[s];
    }
    size_t n = 0;
    while (n < cap) {
        uint32_t best = E;
        for (uint32_t b = 0; b < E; b++)
            if (sc[b] >= p->gate && (best == E || sc[b] > sc[best]))
                best = b;
        if (best == E)
            break;
        slots[n++] = nx * E + best;
        sc[best] = -1;
    }
    return n;
}

size_t moetier_policy_prefetch(struct moetier_policy *p, uint32_t layer, uint32_t *slots, size_t cap)
{
    if (!p->cooc || layer + 1 >= p->layers || cap == 0)
        return 0;
    if (p->gate > 0)
        return prefetch_gated(p, layer, slots, cap);
    uint32_t nx = layer + 1, E = p->experts;
    double *sc = p->pscore;
    memset(sc, 0, E * sizeof *sc);
    /* share of the co-occurrence mass of this token's experts at layer on each expert of nx */
    uint64_t total = 0;
    const uint16_t *row = p->cur + (size_t)layer * p->k;
    for (uint32_t a = 0; a < p->ncur[layer]; a++)
        total += p->rowsum[(size_t)layer * E + row[a]];
    if (total)
        for (uint32_t a = 0; a < p->ncur[layer]; a++) {
            const uint32_t *c = p->cooc + ((size_t)layer * E + row[a]) * E;
            for (uint32_t b = 0; b < E; b++)
                sc[b] += (double)c[b] / (double)total;
        }
    /* recent-token reuse: the previous token's choice at nx */
    const uint16_t *pv = p->prev + (size_t)nx * p->k;
    for (uint32_t i = 0; i < p->nprev[nx]; i++)
        sc[pv[i]] += p->prev_weight / p->nprev[nx];
    /* the best `prefetch` experts with a positive score, best first */
    size_t want = p->prefetch < cap ? p->prefetch : cap, n = 0;
    while (n < want) {
        uint32_t best = E;
        for (uint32_t b = 0; b < E; b++)
            if (sc[b] > 0 && (best == E || sc[b] > sc[best]))
                best = b;
        if (best == E)
            break;
        slots[n++] = nx * E + best;
        sc[best] = 0;
    }
    return n;
}

void moetier_policy_set_admit_cost(struct moetier_policy *p, double reads)
{
    if (p->kind == K_ADAPT && reads >= 0)
        p->adapt.admit_cost = reads;
}

void moetier_policy_resize(struct moetier_policy *p, uint32_t slots)
{
    if (p->kind == K_ADAPT)
        adapt_resize(&p->adapt, slots);
}

int moetier_policy_admit(const struct moetier_policy *p, uint32_t slot, uint32_t victim)
{
    if (p->kind == K_ADAPT)
        return adapt_admit(&p->adapt, slot, victim);
    return 1;
}

double policy_count(const struct moetier_policy *p, uint32_t slot)
{
    return slot < p->n_slots ? p->score[slot] : 0;
}
