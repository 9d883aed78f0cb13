/*
 * Unit tests of tiering/step_ring.c: a real trace (DeepSeek-V2-Lite's law
 * routing, 26 x 64, top-6) fed to a policy's residency three ways: whole
 * steps straight into moetier_residency_sample (what replay and rounds do),
 * whole steps through the ring, and per layer through the ring (each layer as
 * its router would push it, then the step's end), with layers dropped and
 * takes at arbitrary points. The wanted set must be the same after every
 * step, for every demand policy; hot ignores layers. Then the ring's bounds:
 * a full ring drops and counts, layer entries never take the room whole
 * steps need, and a step left open by a lost end does not leak into the next.
 */
#include "tiering/step_ring.h"
#include "profiler/routing_file.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct moetier_routing trace;

static void load_trace(void)
{
    const char *top = getenv("TOP_SRCDIR");
    char path[1024], err[256];
    snprintf(path, sizeof path, "%s/data/traces/deepseekv2lite_esft_law.trace", top ? top : ".");
    int rc = moetier_routing_load(path, 1, &trace, err, sizeof err);
    if (rc) {
        fprintf(stderr, "%s: %s\n", path, err);
        exit(1);
    }
}

/* token t's used[] (a byte a slot) and layer l's ids */
static void token_used(uint64_t t, uint8_t *used)
{
    const int L = trace.layers, E = trace.experts, K = trace.topk;
    memset(used, 0, (size_t)L * E);
    for (int l = 0; l < L; l++)
        for (int k = 0; k < K; k++)
            used[l * E + trace.routes[(t * L + l) * K + k]] = 1;
}

static size_t token_layer(uint64_t t, int l, int32_t *ids)
{
    const int L = trace.layers, K = trace.topk;
    for (int k = 0; k < K; k++)
        ids[k] = trace.routes[(t * L + l) * K + k];
    return (size_t)K;
}

static int same_set(const struct moetier_residency *a, const struct moetier_residency *b)
{
    for (uint32_t s = 0; s < a->set.n_slots; s++)
        if (moetier_residency_wanted(a, s) != moetier_residency_wanted(b, s))
            return 0;
    return a->set.n == b->set.n;
}

/* 400 tokens: direct, ring of whole steps, ring per layer (every 7th layer
 * entry lost, takes every 5 layer entries and at each step's end) */
static void test_same_as_whole_steps(const char *policy, uint32_t cap)
{
    const uint32_t L = (uint32_t)trace.layers, E = (uint32_t)trace.experts;
    struct moetier_residency direct, whole, layered;
    struct moetier_step_ring rw, rl;
    CHECK(moetier_residency_new(&direct, policy, L, E, (uint32_t)trace.topk, cap, NULL) == 0);
    CHECK(moetier_residency_new(&whole, policy, L, E, (uint32_t)trace.topk, cap, NULL) == 0);
    CHECK(moetier_residency_new(&layered, policy, L, E, (uint32_t)trace.topk, cap, NULL) == 0);
    CHECK(moetier_step_ring_init(&rw, L, E) == 0 && moetier_step_ring_init(&rl, L, E) == 0);
    uint8_t *used = malloc((size_t)L * E);
    int32_t ids[MOETIER_STEP_RING_IDS];
    int diverged = 0, open_seen = 0;
    uint64_t pushed = 0, in_order = 0, n = trace.tokens < 400 ? trace.tokens : 400;
    for (uint64_t t = 0; t < n; t++) {
        token_used(t, used);
        moetier_residency_sample(&direct, used);
        CHECK(moetier_step_ring_push_step(&rw, t + 1, used) == 0);
        moetier_step_ring_take(&rw);
        CHECK(moetier_step_ring_feed(&rw, &whole) == 0);
        int gap = 0;
        for (uint32_t l = 0; l < L; l++) {
            if (++pushed % 7 == 0) {
                gap = 1;
                continue; /* its router's entry never came: the step's end brings it, and the later ones */
            }
            in_order += !gap;
            CHECK(moetier_step_ring_push_layer(&rl, t + 1, l, ids, token_layer(t, (int)l, ids)) == 0);
            if (pushed % 5 == 0) {
                moetier_step_ring_take(&rl);
                open_seen += moetier_step_ring_feed(&rl, &layered);
            }
        }
        CHECK(moetier_step_ring_push_step(&rl, t + 1, used) == 0);
        moetier_step_ring_take(&rl);
        CHECK(moetier_step_ring_feed(&rl, &layered) == 0); /* the end closes the step */
        diverged += !same_set(&direct, &whole) || !same_set(&direct, &layered);
    }
    CHECK(diverged == 0);
    CHECK(open_seen > 0);       /* layers went through before their step ended */
    CHECK(rl.steps_fed == n && rw.steps_fed == n);
    CHECK(rl.layers_early == in_order);
    CHECK(direct.samples == n && layered.samples == n);
    if (diverged)
        fprintf(stderr, "policy %s: %d of %llu steps diverged\n", policy, diverged, (unsigned long long)n);
    free(used);
    moetier_step_ring_free(&rw);
    moetier_step_ring_free(&rl);
    moetier_residency_free(&direct);
    moetier_residency_free(&whole);
    moetier_residency_free(&layered);
}

/* hot ranks whole steps: layer entries are ignored, the end samples */
static void test_hot_ignores_layers(void)
{
    const uint32_t L = (uint32_t)trace.layers, E = (uint32_t)trace.experts;
    struct moetier_residency direct, layered;
    struct moetier_step_ring r;
    CHECK(moetier_residency_new(&direct, "hot", L, E, 6, 100, NULL) == 0);
    CHECK(moetier_residency_new(&layered, "hot", L, E, 6, 100, NULL) == 0);
    CHECK(!moetier_residency_by_layer(&layered));
    CHECK(moetier_step_ring_init(&r, L, E) == 0);
    uint8_t *used = malloc((size_t)L * E);
    int32_t ids[MOETIER_STEP_RING_IDS];
    for (uint64_t t = 0; t < 60; t++) {
        token_used(t, used);
        moetier_residency_sample(&direct, used);
        for (uint32_t l = 0; l < L; l++)
            moetier_step_ring_push_layer(&r, t + 1, l, ids, token_layer(t, (int)l, ids));
        moetier_step_ring_push_step(&r, t + 1, used);
        moetier_step_ring_take(&r);
        CHECK(moetier_step_ring_feed(&r, &layered) == 0);
    }
    CHECK(same_set(&direct, &layered) && layered.samples == 60 && r.layers_early == 0);
    free(used);
    moetier_step_ring_free(&r);
    moetier_residency_free(&direct);
    moetier_residency_free(&layered);
}

/* 2 layers x 4 experts by hand: the bounds */
static void test_bounds(void)
{
    struct moetier_step_ring r;
    uint8_t used[8] = { 1, 1, 0, 0, 0, 0, 1, 1 };
    const int32_t ids[2] = { 0, 1 }, bad[3] = { 3, -1, 9 };
    CHECK(moetier_step_ring_init(&r, 0, 4) == -EINVAL);
    CHECK(moetier_step_ring_init(&r, 2, 4) == 0);
    CHECK(moetier_step_ring_push_layer(&r, 1, 2, ids, 2) == -EINVAL); /* no layer 2 */
    CHECK(moetier_step_ring_push_layer(&r, 1, 0, ids, MOETIER_STEP_RING_IDS + 1) == -EINVAL);
    /* ids outside the model's experts are left out */
    CHECK(moetier_step_ring_push_layer(&r, 1, 1, bad, 3) == 0);
    CHECK(r.ev[0].n == 1 && r.ev[0].ids[0] == 3);
    moetier_step_ring_take(&r);
    r.n_out = 0;
    /* a router's order becomes the bitmap's: ascending, once each */
    const int32_t order[4] = { 3, 0, 3, 2 };
    CHECK(moetier_step_ring_push_layer(&r, 1, 1, order, 4) == 0);
    CHECK(r.ev[1].n == 3 && r.ev[1].ids[0] == 0 && r.ev[1].ids[1] == 2 && r.ev[1].ids[2] == 3);
    moetier_step_ring_take(&r);
    r.n_out = 0;
    /* layer entries stop short of the room whole steps keep */
    uint64_t fit = 0;
    while (moetier_step_ring_push_layer(&r, 2, 0, ids, 2) == 0)
        fit++;
    CHECK(fit == MOETIER_STEP_RING_EVENTS - MOETIER_STEP_RING_STEPS && r.dropped_layers == 1);
    uint64_t steps = 0;
    while (moetier_step_ring_push_step(&r, 3 + steps, used) == 0)
        steps++;
    CHECK(steps == MOETIER_STEP_RING_STEPS && r.dropped_steps == 1);
    CHECK(moetier_step_ring_take(&r) == fit + steps);
    /* all of it fed: one open step (2) closed by nobody, then whole steps */
    struct moetier_residency res;
    CHECK(moetier_residency_new(&res, "lru", 2, 4, 2, 3, NULL) == 0);
    CHECK(moetier_step_ring_feed(&r, &res) == 0);
    CHECK(r.steps_fed == steps && res.samples == steps && r.layers_early == 1);
    /* step 100's layer 0, then its end lost; step 101 must feed its own layer 0 */
    moetier_step_ring_push_layer(&r, 100, 0, ids, 2);
    moetier_step_ring_take(&r);
    CHECK(moetier_step_ring_feed(&r, &res) == 1 && r.open_step == 100);
    uint8_t only0[8] = { 0, 0, 1, 1, 0, 0, 0, 0 }; /* layer 0: experts 2, 3 */
    moetier_step_ring_push_step(&r, 101, only0);
    moetier_step_ring_take(&r);
    CHECK(moetier_step_ring_feed(&r, &res) == 0);
    CHECK(moetier_residency_wanted(&res, 2) && moetier_residency_wanted(&res, 3));
    moetier_residency_free(&res);
    moetier_step_ring_free(&r);
}

int main(void)
{
    load_trace();
    CHECK(trace.layers == 26 && trace.experts == 64 && trace.topk == 6 && trace.tokens >= 400);
    const char *policies[] = { "lru", "lfu", "adapt", "predict", "reuse" };
    for (size_t i = 0; i < sizeof policies / sizeof *policies; i++) {
        test_same_as_whole_steps(policies[i], 26 * 64 / 4);
        test_same_as_whole_steps(policies[i], 26 * 64 / 10);
    }
    test_hot_ignores_layers();
    test_bounds();
    moetier_routing_free(&trace);
    return check_exit("test_step_ring");
}
