/*
 * Unit tests of tiering/demand_cache.c on hand-worked steps: what a layer step
 * reads and evicts under lru, pinning of the running layer, adoption, a
 * resize that lists its victims, and a policy that reads in place (adapt).
 */
#include "tiering/demand_cache.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <string.h>

static struct moetier_policy *mk(const char *name, uint32_t layers, uint32_t experts, uint32_t cap)
{
    struct moetier_policy *p = NULL;
    CHECK(moetier_policy_new_live(name, layers, experts, 2, cap, NULL, 0, &p) == 0 && p);
    return p;
}

/* 2 layers x 4 experts, top-2, an lru cache of 3 slots: slot = layer * 4 + expert */
static void test_lru_steps(void)
{
    struct moetier_policy *p = mk("lru", 2, 4, 3);
    struct moetier_demand_cache c;
    struct moetier_demand_step st;
    CHECK(moetier_demand_cache_init(&c, 2, 4, 3, p) == 0);
    const uint16_t a[2] = { 0, 1 }, b[2] = { 2, 3 }, d[2] = { 1, 3 };
    /* layer 0 {0,1}: two cold misses, nothing evicted */
    CHECK(moetier_demand_cache_layer(&c, 0, a, 2, NULL, &st) == 0);
    CHECK(st.n_read == 2 && st.n_missed == 2 && st.n_direct == 0 && st.n_evicted == 0);
    CHECK(st.read[0] == 0 && st.read[1] == 1 && !st.hit[0] && !st.hit[1]);
    /* layer 1 {2,3} = slots 6, 7: one fits, the other evicts lru slot 0 */
    CHECK(moetier_demand_cache_layer(&c, 1, b, 2, NULL, &st) == 0);
    CHECK(st.n_missed == 2 && st.n_evicted == 1 && st.evicted[0] == 0);
    CHECK(moetier_demand_cache_has(&c, 1) && moetier_demand_cache_has(&c, 6) && moetier_demand_cache_has(&c, 7));
    /* layer 0 {1,3}: slot 1 hits; slot 3 misses and evicts slot 6 (lru), never slot 1 (pinned, in use) */
    CHECK(moetier_demand_cache_layer(&c, 0, d, 2, NULL, &st) == 0);
    CHECK(st.hit[0] == 1 && st.hit[1] == 0 && st.n_missed == 1 && st.read[0] == 3);
    CHECK(st.n_evicted == 1 && st.evicted[0] == 6);
    /* a resize to 1 lists both victims, lru first: 7, then 1 */
    moetier_demand_cache_resize(&c, 1, &st);
    CHECK(st.n_evicted == 2 && st.evicted[0] == 7 && st.evicted[1] == 1);
    CHECK(c.set.n == 1 && moetier_demand_cache_has(&c, 3));
    /* adoption fills free room only */
    CHECK(moetier_demand_cache_adopt(&c, 5) == -ENOSPC);
    moetier_demand_cache_resize(&c, 2, NULL);
    CHECK(moetier_demand_cache_adopt(&c, 5) == 0 && moetier_demand_cache_has(&c, 5));
    CHECK(moetier_demand_cache_adopt(&c, 8) == -EINVAL);
    /* out of range steps are refused and change nothing */
    const uint16_t bad[2] = { 0, 4 };
    CHECK(moetier_demand_cache_layer(&c, 0, bad, 2, NULL, &st) == -EINVAL);
    CHECK(moetier_demand_cache_layer(&c, 2, a, 2, NULL, &st) == -EINVAL);
    CHECK(c.set.n == 2);
    moetier_demand_cache_free(&c);
    moetier_policy_free(p);
}

/* A cache of 0 slots reads every use in place and evicts nothing; a cache
 * whose every slot is pinned by the running layer does the same. */
static void test_no_room(void)
{
    struct moetier_policy *p = mk("lru", 1, 4, 0);
    struct moetier_demand_cache c;
    struct moetier_demand_step st;
    CHECK(moetier_demand_cache_init(&c, 1, 4, 0, p) == 0);
    const uint16_t a[2] = { 0, 1 };
    CHECK(moetier_demand_cache_layer(&c, 0, a, 2, NULL, &st) == 0);
    CHECK(st.n_missed == 2 && st.n_direct == 2 && st.n_evicted == 0 && c.set.n == 0);
    moetier_demand_cache_resize(&c, 1, NULL);
    CHECK(moetier_demand_cache_layer(&c, 0, a, 2, NULL, &st) == 0);
    CHECK(st.n_missed == 2 && st.n_direct == 1 && st.n_evicted == 0 && c.set.n == 1);
    moetier_demand_cache_free(&c);
    moetier_policy_free(p);
    CHECK(moetier_demand_cache_init(&c, 1, 4, 1, NULL) == -EINVAL);
}

int main(void)
{
    test_lru_steps();
    test_no_room();
    return check_exit("test_demand_cache");
}
