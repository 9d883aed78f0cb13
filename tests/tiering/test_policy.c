/*
 * Unit tests of tiering/policy.c and tiering/replay.c on tiny hand-made
 * sequences whose right victim (or hit count) is known by hand.
 */
#include "common/config.h"
#include "tiering/policy.h"
#include "tiering/residency.h"
#include "tiering/replay.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[] = "/tmp/moetier-policy-XXXXXX";

static struct moetier_policy *mk(const char *name, uint32_t layers, uint32_t experts,
                                 const struct moetier_policy_opts *o)
{
    struct moetier_policy *p = NULL;
    int rc = moetier_policy_new(name, layers, experts, o, &p);
    CHECK(rc == 0 && p);
    return p;
}

static uint32_t victim(struct moetier_policy *p, const uint32_t *res, size_t n, const uint8_t *pinned)
{
    uint32_t v = 9999;
    CHECK(moetier_policy_victim(p, res, n, pinned, &v) == 0);
    return v;
}

static void test_lru(void)
{
    struct moetier_policy *p = mk("lru", 1, 4, NULL);
    CHECK_STR(moetier_policy_name(p), "lru");
    moetier_policy_access(p, 0, 0);
    moetier_policy_access(p, 1, 1);
    moetier_policy_access(p, 2, 2);
    moetier_policy_access(p, 0, 3);
    uint32_t res[] = { 0, 1, 2 };
    CHECK(victim(p, res, 3, NULL) == 1);
    uint8_t pinned[4] = { 0, 1, 0, 0 };
    CHECK(victim(p, res, 3, pinned) == 2);
    uint8_t all[4] = { 1, 1, 1, 1 };
    uint32_t v;
    CHECK(moetier_policy_victim(p, res, 3, all, &v) == -ENOENT);
    CHECK(moetier_policy_victim(p, res, 0, NULL, &v) == -ENOENT);
    CHECK(moetier_policy_prefetch(p, 0, &v, 1) == 0);
    moetier_policy_free(p);
}

static void test_lfu(void)
{
    /* no decay: 0 used 2x, 1 once, 2 three times -> 1; counts survive eviction */
    struct moetier_policy *p = mk("lfu", 1, 4, NULL);
    uint64_t t = 0;
    moetier_policy_access(p, 0, t++);
    moetier_policy_access(p, 0, t++);
    moetier_policy_access(p, 1, t++);
    for (int i = 0; i < 3; i++)
        moetier_policy_access(p, 2, t++);
    uint32_t res[] = { 0, 1, 2 };
    CHECK(victim(p, res, 3, NULL) == 1);
    moetier_policy_access(p, 1, t++); /* 1 now has 2 uses, like 0: tie -> older last use (0) */
    CHECK(victim(p, res, 3, NULL) == 0);
    moetier_policy_free(p);

    /* half-life 1: three old uses of 0 weigh less than one recent use of 1 */
    struct moetier_policy_opts o = { .half_life = 1 };
    p = mk("lfu", 1, 4, &o);
    for (uint64_t i = 0; i < 3; i++)
        moetier_policy_access(p, 0, i);
    moetier_policy_access(p, 1, 10);
    CHECK(victim(p, res, 2, NULL) == 0);
    /* far in time (forces the rescaling): still ordered by decayed counts */
    for (uint64_t i = 0; i < 4; i++)
        moetier_policy_access(p, 2, 5000 + i);
    moetier_policy_access(p, 1, 5004);
    CHECK(victim(p, res, 3, NULL) == 0);
    uint32_t r12[] = { 1, 2 };
    /* 2: 1/16 + 1/8 + 1/4 + 1/2 = 0.94 at t 5004, against 1's fresh 1.0 */
    CHECK(victim(p, r12, 2, NULL) == 2);
    moetier_policy_free(p);
}

static void test_static(void)
{
    double rank[4] = { 5, 1, 3, 1 };
    struct moetier_policy_opts o = { .rank = rank };
    struct moetier_policy *p = mk("static", 2, 2, &o);
    uint32_t res[] = { 0, 1, 2, 3 };
    moetier_policy_access(p, 3, 0);
    moetier_policy_access(p, 1, 1);
    CHECK(victim(p, res, 4, NULL) == 3); /* 1 and 3 tie on rank; 3 used longer ago */
    uint8_t pinned[4] = { 0, 0, 0, 1 };
    CHECK(victim(p, res, 4, pinned) == 1);
    moetier_policy_free(p);
    struct moetier_policy *q = NULL;
    CHECK(moetier_policy_new("static", 2, 2, NULL, &q) == -EINVAL && !q);
}

static void test_belady(void)
{
    /* slots used at t = 0..4: 0 1 2 1 0 */
    uint64_t next[] = { 4, 3, MOETIER_POLICY_NEVER, MOETIER_POLICY_NEVER, MOETIER_POLICY_NEVER };
    struct moetier_policy_opts o = { .next_use = next, .n_next_use = 5 };
    struct moetier_policy *p = mk("belady", 1, 3, &o);
    moetier_policy_access(p, 0, 0);
    moetier_policy_access(p, 1, 1);
    moetier_policy_access(p, 2, 2);
    uint32_t res[] = { 0, 1, 2 };
    CHECK(victim(p, res, 3, NULL) == 2); /* never used again */
    uint8_t pinned[3] = { 0, 0, 1 };
    CHECK(victim(p, res, 3, pinned) == 0); /* used at 4, after 1 (at 3) */
    moetier_policy_free(p);
}

static void test_predict(void)
{
    struct moetier_policy_opts o = { .topk = 1, .prefetch = 2 };
    struct moetier_policy *p = mk("predict", 2, 4, &o);
    uint16_t a0 = 0, a1 = 3, b0 = 1, b1 = 2;
    for (int i = 0; i < 3; i++) { /* tokens A: expert 0 at layer 0, then 3 at layer 1 */
        moetier_policy_observe(p, 0, &a0, 1);
        moetier_policy_observe(p, 1, &a1, 1);
    }
    moetier_policy_observe(p, 0, &b0, 1); /* token B: 1 then 2 */
    moetier_policy_observe(p, 1, &b1, 1);
    moetier_policy_observe(p, 0, &a0, 1); /* a new token starts with 0 */
    uint32_t s[4] = { 0 };
    /* co-occurrence says 3 (share 1.0), the previous token's choice says 2 (0.01) */
    CHECK(moetier_policy_prefetch(p, 0, s, 4) == 2);
    CHECK(s[0] == 1 * 4 + 3 && s[1] == 1 * 4 + 2);
    CHECK(moetier_policy_prefetch(p, 0, s, 1) == 1 && s[0] == 7);
    CHECK(moetier_policy_prefetch(p, 1, s, 4) == 0); /* last layer */
    /* eviction is LFU: 7 used twice, 6 once */
    moetier_policy_access(p, 7, 0);
    moetier_policy_access(p, 7, 1);
    moetier_policy_access(p, 6, 2);
    uint32_t res[] = { 6, 7 };
    CHECK(victim(p, res, 2, NULL) == 6);
    moetier_policy_free(p);
}

static int load(const char *text, struct moetier_routing *r)
{
    char path[256], err[256];
    snprintf(path, sizeof path, "%s/t.trace", dir);
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    int rc = moetier_routing_load(path, 1, r, err, sizeof err);
    if (rc)
        fprintf(stderr, "load: %s\n", err);
    return rc;
}

static uint64_t hits(const struct moetier_routing *r, const char *name, uint32_t slots)
{
    struct moetier_policy_opts o = { .topk = (uint32_t)r->topk };
    uint64_t *next = NULL;
    if (strcmp(name, "belady") == 0) {
        CHECK(moetier_replay_next_use(r, &next) == 0);
        o.next_use = next;
        o.n_next_use = r->tokens * r->layers * r->topk;
    }
    struct moetier_policy *p = mk(name, (uint32_t)r->layers, (uint32_t)r->experts, &o);
    struct moetier_replay_result res;
    CHECK(moetier_replay_run(r, p, slots, &res) == 0);
    CHECK(res.accesses == r->tokens * r->layers * r->topk);
    moetier_policy_free(p);
    free(next);
    return res.hits;
}

static void test_replay(void)
{
    struct moetier_routing r;
    /* 0 1 2 0 1 through 2 slots: LRU and LFU always evict what comes next; Belady keeps 0 */
    CHECK(load("# layers=1 experts=3 topk=1\n0\n1\n2\n0\n1\n", &r) == 0);
    CHECK(moetier_replay_slots(&r, 0.67) == 2 && moetier_replay_slots(&r, 0.5) == 1);
    uint64_t *next = NULL;
    CHECK(moetier_replay_next_use(&r, &next) == 0);
    CHECK(next[0] == 3 && next[1] == 4 && next[2] == MOETIER_POLICY_NEVER && next[4] == MOETIER_POLICY_NEVER);
    free(next);
    CHECK(hits(&r, "lru", 2) == 0);
    CHECK(hits(&r, "lfu", 2) == 0);
    CHECK(hits(&r, "belady", 2) == 1);
    CHECK(hits(&r, "lru", 3) == 2); /* only cold misses */
    moetier_routing_free(&r);

    /* pinning: a 1-slot cache cannot hold both experts of a layer; the second bypasses */
    CHECK(load("# layers=1 experts=4 topk=2\n0,1\n0,1\n", &r) == 0);
    CHECK(hits(&r, "lru", 1) == 1);
    moetier_routing_free(&r);

    /* two layers; predict learns 0 -> 3 and prefetches 3 before layer 1 needs it */
    CHECK(load("# layers=2 experts=4 topk=1\n0 3\n1 2\n0 3\n1 2\n0 3\n", &r) == 0);
    struct moetier_replay_result res;
    CHECK(moetier_replay_policy(&r, "predict", 1.0, NULL, &res) == 0);
    /* cold: 0, 3, 1, 2; token 3 (0 3) hits; prefetches for fresh pairs happen only while cold */
    CHECK(res.hits == 6 && res.accesses == 10);
    CHECK(moetier_replay_policy(&r, "static", 0.5, NULL, &res) == 0 && res.half_from == 2);
    CHECK(moetier_replay_policy(&r, "nosuch", 0.5, NULL, &res) == -EINVAL);
    moetier_routing_free(&r);
}

/* 2 layers x 4 experts, top-2: 4 tokens {0,2} then {1,3}, 4 tokens {1,3}
 * then {0,2}. Each of 0, 1, 2, 3 at layer 0 is then trusted (4 tokens) and
 * leads to its own pair only: #(a, b) / #(a followed) is 1 or 0. */
static void teach_pairs(struct moetier_policy *p)
{
    uint16_t r02[] = { 0, 2 }, r13[] = { 1, 3 };
    for (int i = 0; i < 8; i++) {
        moetier_policy_observe(p, 0, i < 4 ? r02 : r13, 2);
        moetier_policy_observe(p, 1, i < 4 ? r13 : r02, 2);
    }
}

/* The prefetch gate, on counts small enough to follow by hand. */
static void test_prefetch_gate(void)
{
    struct moetier_policy_opts o = { .topk = 2, .prefetch_gate = 0.6 };
    struct moetier_policy *p = mk("lru", 2, 4, &o);
    uint16_t r02[] = { 0, 2 }, r13[] = { 1, 3 }, r01[] = { 0, 1 };
    teach_pairs(p);
    /* a token with {0, 1} at layer 0: co-occurrence gives each of layer 1's
     * experts (1 + 0) / 2 = 0.5; the previous token's 0 and 2 at layer 1 repeated
     * 3 times in 4 uses: 0.75. Gate 0.6: those two, best first, ties by id. */
    moetier_policy_observe(p, 0, r01, 2);
    uint32_t s[4] = { 0 };
    CHECK(moetier_policy_prefetch(p, 0, s, 4) == 2 && s[0] == 4 + 0 && s[1] == 4 + 2);
    CHECK(moetier_policy_prefetch(p, 0, s, 1) == 1 && s[0] == 4);
    CHECK(moetier_policy_prefetch(p, 1, s, 4) == 0); /* last layer */
    moetier_policy_free(p);
    o.prefetch_gate = 0.5; /* the co-occurrence shares pass too, after the repeats */
    p = mk("adapt", 2, 4, &o);
    teach_pairs(p);
    moetier_policy_observe(p, 0, r01, 2);
    CHECK(moetier_policy_prefetch(p, 0, s, 4) == 4 && s[0] == 4 && s[1] == 6 && s[2] == 5 && s[3] == 7);
    moetier_policy_free(p);
    o.prefetch_gate = 0.8;
    p = mk("lru", 2, 4, &o);
    for (int i = 0; i < 3; i++) { /* 3 tokens: untrusted counts name nothing */
        moetier_policy_observe(p, 0, r02, 2);
        moetier_policy_observe(p, 1, r13, 2);
    }
    moetier_policy_observe(p, 0, r02, 2);
    CHECK(moetier_policy_prefetch(p, 0, s, 4) == 0);
    moetier_policy_free(p);
    struct moetier_policy *bad = NULL;
    o.prefetch_gate = 1.5;
    CHECK(moetier_policy_new("lru", 2, 4, &o, &bad) == -EINVAL && !bad);
    o.prefetch_gate = 0.5; /* the bound stays a demand cache */
    CHECK(moetier_policy_new("belady", 2, 4, &o, &bad) == -EINVAL && !bad);

    /* replay, lru, 2 slots of 2 layers x 2 experts: "0 0" x 4, "1 1", "0 0", "1 1".
     * Without the gate: t0 2 misses, t1-t3 hit, t4 1 evicts 0, 1@1 evicts 0@1,
     * t5 0 evicts 1, 0@1 evicts 1@1, t6 likewise: 8 reads, 6 hits.
     * Gate 0.5: at t5, 0 at layer 0 led to 0 at layer 1 in all 4 trusted
     * tokens: 0@1 is read ahead (evicting 1@1, the step's own 0 pinned) and used;
     * at t4 and t6 the repeat of 0@1 (3 of 4, then 3 of 5) names a resident pair.
     * 7 misses + 1 prefetch: the same 8 reads, one of them ahead of its layer. */
    struct moetier_routing r;
    CHECK(load("# layers=2 experts=2 topk=1\n0 0\n0 0\n0 0\n0 0\n1 1\n0 0\n1 1\n", &r) == 0);
    struct moetier_replay_result x;
    CHECK(moetier_replay_policy(&r, "lru", 0.5, NULL, &x) == 0);
    CHECK(x.slow_reads == 8 && x.hits == 6 && x.prefetched == 0);
    struct moetier_policy_opts g = { .prefetch_gate = 0.5 };
    CHECK(moetier_replay_policy(&r, "lru", 0.5, &g, &x) == 0);
    CHECK(x.accesses == 14 && x.hits == 7 && x.promoted == 7 && x.prefetched == 1 && x.prefetch_used == 1);
    CHECK(x.slow_reads == 8);
    CHECK(moetier_replay_policy(&r, "belady", 0.5, &g, &x) == 0 && x.prefetched == 0); /* never gated */
    moetier_routing_free(&r);
}

/* replay of policy name (NULL opts) at share: the result. */
static struct moetier_replay_result run(const struct moetier_routing *r, const char *name, double share)
{
    struct moetier_replay_result res;
    memset(&res, 0xff, sizeof res);
    CHECK(moetier_replay_policy(r, name, share, NULL, &res) == 0);
    CHECK(res.slow_reads == res.promoted + res.direct + res.prefetched);
    CHECK(res.promoted + res.direct == res.accesses - res.hits);
    return res;
}

/* Bytes: every pair read from the slow tier counts once (replay.h), on
 * sequences small enough to follow by hand (1 layer x 3 experts, 2 slots). */
static void test_bytes(void)
{
    struct moetier_routing r;
    struct moetier_replay_result x;
    /* 0 0 0 1 2 1 2 0. lru: misses 0 1 2 (evicts 0) 0 (evicts 1) = 4.
     * lfu: 2 evicts 1 (1 use vs 3), then 1 evicts 2, 2 evicts 1: misses 0 1 2 1 2 = 5.
     * belady: 2 evicts 0 (next use 7, after 1's 5): misses 0 1 2 0 = 4. */
    CHECK(load("# layers=1 experts=3 topk=1\n0\n0\n0\n1\n2\n1\n2\n0\n", &r) == 0);
    CHECK(moetier_replay_slots(&r, 0.67) == 2);
    x = run(&r, "lru", 0.67);
    CHECK(x.slow_reads == 4 && x.promoted == 4 && x.direct == 0 && x.prefetched == 0 && x.hits == 4);
    x = run(&r, "lfu", 0.67);
    CHECK(x.slow_reads == 5 && x.hits == 3);
    x = run(&r, "belady", 0.67);
    CHECK(x.slow_reads == 4 && x.hits == 4);
    /* adapt follows lru all along: lru's shadow is never beaten (its costs
     * 1 1 1 2 3 3 3 4 are the fewest any rule can have at each step) */
    x = run(&r, "adapt", 0.67);
    CHECK(x.slow_reads == 4 && x.hits == 4);
    x = run(&r, "auto", 0.67);
    CHECK(x.slow_reads == 4);
    moetier_routing_free(&r);

    /* 0 0 0 1 2 0 1 2 0. lru: every access after the first three misses: 7 reads.
     * lfu: 0 (3 uses) stays; 1 and 2 take turns: misses 0 1 2 1 2 = 5.
     * belady: 0 1 2 (evicts 1) 0h 1 (evicts 2) 2 (evicts 1) 0h = 5.
     * adapt follows lru until lru's shadow misses 0 at the 6th access (lru 4,
     * lfu 3), then lfu: misses 0 1 2 0 1 2 = 6, between the two. */
    CHECK(load("# layers=1 experts=3 topk=1\n0\n0\n0\n1\n2\n0\n1\n2\n0\n", &r) == 0);
    CHECK(run(&r, "lru", 0.67).slow_reads == 7);
    CHECK(run(&r, "lfu", 0.67).slow_reads == 5);
    CHECK(run(&r, "belady", 0.67).slow_reads == 5);
    CHECK(run(&r, "adapt", 0.67).slow_reads == 6);
    moetier_routing_free(&r);

    /* a 1-slot cache, both experts of a layer pinned: the second is read in place */
    CHECK(load("# layers=1 experts=4 topk=2\n0,1\n0,1\n", &r) == 0);
    x = run(&r, "lru", 0.25);
    CHECK(x.hits == 1 && x.promoted == 1 && x.direct == 2 && x.slow_reads == 3);
    moetier_routing_free(&r);

    /* a prefetch moves bytes, used or not. 2 layers x 2 experts, 2 slots:
     * token 0: 0, 3 miss; token 1: 1 miss (evicts 0), predict names 3 (resident),
     * 2 miss (evicts 3); token 2: 0 miss (evicts 1), predict names 3 (learned
     * 0 -> 1), fetched (evicts 2), then used: a hit that cost a read. */
    CHECK(load("# layers=2 experts=2 topk=1\n0 1\n1 0\n0 1\n", &r) == 0);
    x = run(&r, "predict", 0.5);
    CHECK(x.accesses == 6 && x.hits == 1 && x.promoted == 5 && x.prefetched == 1 && x.prefetch_used == 1);
    CHECK(x.slow_reads == 6);
    x = run(&r, "lru", 0.5);
    CHECK(x.hits == 0 && x.slow_reads == 6);
    moetier_routing_free(&r);
}

/* adapt: its admission gate reads lfu's counts; a gated rule reads a cold
 * pair in place instead of evicting a hotter one. */
static void test_adapt(void)
{
    struct moetier_policy *p;
    CHECK(moetier_policy_new("adapt", 1, 4, NULL, &p) == 0); /* no cache_slots: shadows of 0 */
    moetier_policy_free(p);
    struct moetier_policy_opts o = { .cache_slots = 2, .topk = 1 };
    p = mk("adapt", 1, 4, &o);
    CHECK_STR(moetier_policy_name(p), "adapt");
    uint64_t t = 0;
    moetier_policy_access(p, 0, t++);
    moetier_policy_access(p, 1, t++);
    moetier_policy_access(p, 0, t++);
    uint32_t res[] = { 0, 1 };
    CHECK(victim(p, res, 2, NULL) == 1); /* lru and lfu agree */
    CHECK(moetier_policy_admit(p, 2, 1)); /* follows ungated lru: admits */
    moetier_policy_resize(p, 1);
    moetier_policy_free(p);
    /* the runtime's residency drives it like replay, and resizes its shadows */
    struct moetier_residency rs;
    CHECK(moetier_residency_new(&rs, "adapt", 1, 4, 1, 2, NULL) == 0);
    uint8_t used[4] = { 1, 0, 0, 0 };
    for (int i = 0; i < 4; i++) {
        used[i] = 1;
        moetier_residency_sample(&rs, used);
        used[i] = i == 0;
    }
    CHECK(rs.set.n == 2 && moetier_residency_wanted(&rs, 0)); /* 0 used in every sample */
    moetier_residency_resize(&rs, 1);
    CHECK(rs.set.n == 1);
    moetier_residency_sample(&rs, used);
    CHECK(moetier_residency_wanted(&rs, 0));
    moetier_residency_free(&rs);
    CHECK(strcmp(moetier_policy_auto(1), "hot") == 0);
    CHECK(moetier_policy_new(moetier_policy_auto(0), 1, 4, &o, &p) == 0);
    moetier_policy_free(p);
}

/* adapt's admit cost: where admitting a miss costs one more read (the
 * runtime per token copies it in after the step read it in place), pairs
 * that do not come back make the gated rules the cheap ones. 2 layers x 4
 * experts, 2 slots, slots 0 4 1 5 (a layer each, so no two share a group):
 * every rule misses all four and admits the first two (room); then the
 * ungated rules admit 1 and 5, the gated ones do not (used no more often than
 * their victims). Costs: 4 misses each, plus 4 or 2 admissions at 1 read. */
static void test_admit_cost(void)
{
    struct moetier_policy_opts po = { .cache_slots = 2, .topk = 1 };
    for (int cost = 0; cost <= 1; cost++) {
        struct moetier_policy *p = mk("adapt", 2, 4, &po);
        moetier_policy_set_admit_cost(p, cost);
        static const uint32_t seq[] = { 0, 4, 1, 5 };
        for (uint64_t t = 0; t < 4; t++)
            moetier_policy_access(p, seq[t], t);
        /* cost 0: a tie (4 each) keeps lru, which admits; 1: gated (6 against 8), 6 is no hotter than 0 */
        CHECK(moetier_policy_admit(p, 6, 0) == !cost);
        moetier_policy_free(p);
    }
    /* replay passes it on: the same stream twice over, far fewer admissions */
    struct moetier_routing r;
    struct moetier_replay_result x0, x1;
    CHECK(load("# layers=2 experts=4 topk=1\n0 0\n1 1\n2 2\n3 3\n0 0\n1 1\n2 2\n3 3\n", &r) == 0);
    struct moetier_policy_opts o = { .admit_cost = 1 };
    CHECK(moetier_replay_policy(&r, "adapt", 0.25, NULL, &x0) == 0);
    CHECK(moetier_replay_policy(&r, "adapt", 0.25, &o, &x1) == 0);
    /* 0: lru's admissions until its shadow falls behind (10 promoted, no hit);
     * 1: gated from the third access: 0 and 4 stay and hit on their return */
    CHECK(x0.promoted == 10 && x0.hits == 0);
    CHECK(x1.promoted == 2 && x1.direct == 12 && x1.hits == 2);
    moetier_routing_free(&r);
}

/* hot: the wanted set is the top `cap` by decayed use count, changing only
 * when an outsider passes a member by the margin; a profile's rates seed it. */
static void test_hot(void)
{
    struct moetier_residency r;
    CHECK(moetier_residency_new(&r, "hot", 1, 8, 2, 2, NULL) == 0);
    CHECK(r.policy == NULL);
    uint8_t used[8];
    /* experts 0 and 1 used in every sample: they fill the set */
    for (int i = 0; i < 10; i++) {
        memset(used, 0, sizeof used);
        used[0] = used[1] = 1;
        moetier_residency_sample(&r, used);
    }
    CHECK(moetier_residency_wanted(&r, 0) && moetier_residency_wanted(&r, 1) && r.set.n == 2);
    /* a one-off use of expert 5 does not displace them (a demand cache would) */
    memset(used, 0, sizeof used);
    used[5] = 1;
    moetier_residency_sample(&r, used);
    CHECK(moetier_residency_wanted(&r, 0) && moetier_residency_wanted(&r, 1) && !moetier_residency_wanted(&r, 5));
    /* expert 5 replaces 1 once its count passes 1's by the margin, not before */
    int swapped_at = -1;
    for (int i = 0; i < 200 && swapped_at < 0; i++) {
        memset(used, 0, sizeof used);
        used[0] = used[5] = 1;
        moetier_residency_sample(&r, used);
        if (moetier_residency_wanted(&r, 5))
            swapped_at = i;
        if (swapped_at < 0)
            CHECK(!(r.score[5] > r.score[1] * MOETIER_HOT_MARGIN + MOETIER_HOT_SLACK));
    }
    CHECK(swapped_at > 0 && moetier_residency_wanted(&r, 0) && !moetier_residency_wanted(&r, 1));
    CHECK(r.score[5] > r.score[1] * MOETIER_HOT_MARGIN + MOETIER_HOT_SLACK);
    /* shrinking drops the coldest member */
    moetier_residency_resize(&r, 1);
    CHECK(r.set.n == 1 && (moetier_residency_wanted(&r, 0) || moetier_residency_wanted(&r, 5)));
    moetier_residency_free(&r);

    /* seeding from a profile's rates: the hottest `cap` at once */
    CHECK(moetier_residency_new(&r, "hot", 2, 4, 2, 3, NULL) == 0);
    float rate[8] = { 0.1f, 0.9f, 0, 0.3f, 0.8f, 0, 0.05f, 0.7f };
    moetier_residency_seed(&r, rate);
    CHECK(r.set.n == 3 && moetier_residency_wanted(&r, 1) && moetier_residency_wanted(&r, 4) &&
          moetier_residency_wanted(&r, 7));
    moetier_residency_free(&r);
}

/* MOETIER_POLICY accepts every policy the runtime can run (each online
 * policy, hot, auto) and builds it; belady needs the future and is refused */
static void test_config_names(void)
{
    char err[256];
    for (int i = 0; moetier_policy_names[i]; i++) {
        const char *name = moetier_policy_names[i];
        int online = strcmp(name, "belady") != 0;
        CHECK((moetier_config_check(MOETIER_CFG_POLICY, name, err, sizeof err) == 0) == online);
        if (online) {
            struct moetier_residency r;
            double rank[2 * 8] = { 0 }; /* static ranks by an earlier run's profile */
            CHECK(moetier_residency_new(&r, name, 2, 8, 2, 4, rank) == 0);
            moetier_residency_free(&r);
        }
    }
    CHECK(moetier_config_check(MOETIER_CFG_POLICY, "hot", err, sizeof err) == 0);
    CHECK(moetier_config_check(MOETIER_CFG_POLICY, "auto", err, sizeof err) == 0);
    CHECK(moetier_config_check(MOETIER_CFG_POLICY, "nope", err, sizeof err) != 0);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 99;
    test_lru();
    test_lfu();
    test_static();
    test_belady();
    test_predict();
    test_hot();
    test_replay();
    test_bytes();
    test_prefetch_gate();
    test_adapt();
    test_admit_cost();
    test_config_names();
    char path[300];
    snprintf(path, sizeof path, "%s/t.trace", dir);
    unlink(path);
    rmdir(dir);
    return check_exit("test_policy");
}
