/*
 * Unit tests of tiering/page_cache_model.c on hand-worked sequences: the
 * kernel lists' second chance, activation at a second scan, an active list
 * reclaim leaves alone, refault activation and the deactivation it starts,
 * the load's activations bounded by the inactive list, and the one-list lru.
 * Units are parts; caches of 4 parts, ratio 1 (under 1 GiB).
 */
#include "tiering/page_cache_model.h"
#include "tests/unit/check.h"

enum { NOT = MOETIER_PAGE_NOT_CACHED, IN = MOETIER_PAGE_INACTIVE, ACT = MOETIER_PAGE_ACTIVE };

static struct moetier_page_cache *mk(enum moetier_page_cache_lists lists, uint64_t cap)
{
    struct moetier_page_cache *c = NULL;
    CHECK(moetier_page_cache_new(lists, 20, cap, 1, &c) == 0 && c);
    return c;
}

static void test_kernel_lists(void)
{
    struct moetier_page_cache *c = mk(MOETIER_PAGE_CACHE_KERNEL, 4);
    /* second chance: 0-3 read by faults (accessed); reading 4 scans the
     * inactive tail: 0, 1, 2, 3 each accessed once, so each goes back to the
     * head with PG_referenced; 0 comes round unaccessed and is evicted */
    for (int u = 0; u < 4; u++)
        moetier_page_cache_read(c, u, 1, 0);
    moetier_page_cache_read(c, 4, 1, 0);
    CHECK(moetier_page_cache_state(c, 0) == NOT);
    for (int u = 1; u <= 4; u++)
        CHECK(moetier_page_cache_state(c, u) == IN);
    /* activation: 1 used again (accessed, PG_referenced from the last scan):
     * reading 5 finds it at the tail and activates it; 2 (referenced, not
     * accessed since) is evicted */
    moetier_page_cache_use(c, 1);
    moetier_page_cache_read(c, 5, 1, 0);
    CHECK(moetier_page_cache_state(c, 1) == ACT);
    CHECK(moetier_page_cache_state(c, 2) == NOT);
    /* the active list is left alone while the inactive one is not low (3 >= 1)
     * and nothing refaults: 7 more parts stream through, 1 stays. Evicted in
     * turn: 3 (referenced, not accessed), then 4-9, each after one more pass:
     * 9 evictions in all, the last 9's; 10-12 are left, accessed */
    for (int u = 6; u <= 12; u++)
        moetier_page_cache_read(c, u, 1, 0);
    CHECK(moetier_page_cache_state(c, 1) == ACT);
    CHECK(moetier_page_cache_state(c, 9) == NOT && moetier_page_cache_state(c, 12) == IN);
    /* refault: 9 read again; reclaim passes 10-12 once and evicts 10: one
     * eviction since 9's, <= the active list's 1 part: straight to the active
     * list */
    moetier_page_cache_read(c, 9, 1, 0);
    CHECK(moetier_page_cache_state(c, 9) == ACT && moetier_page_cache_state(c, 10) == NOT);
    /* a refault since the last reclaim deactivates the active tail (1): back
     * on the inactive list, unaccessed; 11 (referenced, not accessed since)
     * is evicted; 7's distance (4 evictions and an activation since) is over
     * the active list's 1 part: inactive */
    moetier_page_cache_read(c, 7, 1, 0);
    CHECK(moetier_page_cache_state(c, 1) == IN && moetier_page_cache_state(c, 11) == NOT);
    CHECK(moetier_page_cache_state(c, 7) == IN && moetier_page_cache_state(c, 9) == ACT);
    /* two more reads evict 12, then 1 */
    moetier_page_cache_read(c, 13, 1, 0);
    moetier_page_cache_read(c, 14, 1, 0);
    CHECK(moetier_page_cache_state(c, 12) == NOT && moetier_page_cache_state(c, 1) == NOT);
    moetier_page_cache_free(c);
}

/* The load: MAP_POPULATE's parts are accessed and PG_referenced, so the first
 * scan activates them, until the active list outgrows the inactive one: 0, 1,
 * 2 activated; 0 deactivated (inactive 1 < active 3); 3 activated, 1
 * deactivated; 0 comes round unaccessed and is evicted. */
static void test_kernel_load(void)
{
    struct moetier_page_cache *c = mk(MOETIER_PAGE_CACHE_KERNEL, 4);
    for (int u = 0; u <= 4; u++)
        moetier_page_cache_read(c, u, 1, 1);
    CHECK(moetier_page_cache_state(c, 0) == NOT);
    CHECK(moetier_page_cache_state(c, 1) == IN && moetier_page_cache_state(c, 4) == IN);
    CHECK(moetier_page_cache_state(c, 2) == ACT && moetier_page_cache_state(c, 3) == ACT);
    moetier_page_cache_free(c);
}

/* One list: a use moves a part to the head, the tail goes. */
static void test_lru(void)
{
    struct moetier_page_cache *c = mk(MOETIER_PAGE_CACHE_LRU, 2);
    moetier_page_cache_read(c, 0, 1, 0);
    moetier_page_cache_read(c, 1, 1, 0);
    moetier_page_cache_use(c, 0);
    moetier_page_cache_read(c, 2, 1, 0);
    CHECK(moetier_page_cache_state(c, 1) == NOT);
    CHECK(moetier_page_cache_state(c, 0) == IN && moetier_page_cache_state(c, 2) == IN);
    moetier_page_cache_free(c);
}

static void test_args(void)
{
    struct moetier_page_cache *c = NULL;
    CHECK(moetier_page_cache_new(MOETIER_PAGE_CACHE_KERNEL, 0, 4, 1, &c) != 0 && !c);
    CHECK(moetier_page_cache_new(MOETIER_PAGE_CACHE_KERNEL, 20, 4, 0, &c) != 0 && !c);
    CHECK(moetier_page_cache_ratio(512.0 * 1024 * 1024) == 1);
    CHECK(moetier_page_cache_ratio(10.0 * 1024 * 1024 * 1024) == 10); /* int_sqrt(100) */
    CHECK(moetier_page_cache_ratio(4.0 * 1024 * 1024 * 1024) == 6);   /* int_sqrt(40) */
    enum moetier_page_cache_lists l;
    CHECK(moetier_page_cache_lists_parse("kernel", &l) == 0 && l == MOETIER_PAGE_CACHE_KERNEL);
    CHECK(moetier_page_cache_lists_parse("lru", &l) == 0 && l == MOETIER_PAGE_CACHE_LRU);
    CHECK(moetier_page_cache_lists_parse("mglru", &l) != 0);
}

int main(void)
{
    test_kernel_lists();
    test_kernel_load();
    test_lru();
    test_args();
    return check_exit("test_page_cache_model");
}
