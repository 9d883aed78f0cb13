/*
 * The slow arena on this host's node: the jemalloc ABI mirror against the
 * installed header; opening without the static-TLS tunable (works or says
 * how to fix it); allocations page-aligned, honouring alignment, bound to the
 * node (VMA policy MPOL_BIND {node}, pages found there by move_pages);
 * the extent hooks driven directly (alignment, new_addr, refusals); many
 * alloc/free cycles from two threads with contents checked, memory purged
 * afterwards; realloc; _owns and _free on foreign pointers; a full
 * reservation; close and reopen.
 */
#include "config.h"
#include "tests/numa/numa_test.h"

#include <errno.h>
#include <jemalloc/jemalloc.h>
#include <linux/mempolicy.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>

static int node;
static size_t pg;

static void test_abi(void)
{
    /* slow_arena.c mirrors these; a different jemalloc header would show here */
    CHECK(MALLOCX_ARENA(3) == ((3 + 1) << 20));
    CHECK(MALLOCX_TCACHE_NONE == (1 << 8));
    CHECK(MALLOCX_LG_ALIGN(12) == 12);
    CHECK(MALLOCX_ALIGN(4096) == 12);
    CHECK(sizeof(extent_hooks_t) == 9 * sizeof(void *));
    CHECK(offsetof(extent_hooks_t, purge_forced) == 6 * sizeof(void *));
    CHECK(offsetof(extent_hooks_t, merge) == 8 * sizeof(void *));
    CHECK(JEMALLOC_VERSION_MAJOR == 5);
}

static void test_tunables(void)
{
    char buf[256];
    CHECK(moetier_slow_arena_tunables(NULL, buf, sizeof buf) == 0);
    CHECK_STR(buf, MOETIER_SLOW_ARENA_TUNABLE);
    CHECK(moetier_slow_arena_tunables("", buf, sizeof buf) == 0);
    CHECK_STR(buf, MOETIER_SLOW_ARENA_TUNABLE);
    CHECK(moetier_slow_arena_tunables("glibc.malloc.tcache_count=0", buf, sizeof buf) == 0);
    CHECK_STR(buf, "glibc.malloc.tcache_count=0:" MOETIER_SLOW_ARENA_TUNABLE);
    CHECK(moetier_slow_arena_tunables("glibc.rtld.optional_static_tls=8192", buf, sizeof buf) == 0);
    CHECK_STR(buf, "glibc.rtld.optional_static_tls=8192");
    CHECK(moetier_slow_arena_tunables("glibc.malloc.tcache_count=0", buf, 20) == -ENOSPC);
    CHECK(moetier_slow_arena_tunables(NULL, buf, sizeof MOETIER_SLOW_ARENA_TUNABLE) == 0);
    CHECK(moetier_slow_arena_tunables(NULL, buf, sizeof MOETIER_SLOW_ARENA_TUNABLE - 1) == -ENOSPC);
}

/* Every page of [p, p+n) is bound to node and, once touched, on node. */
static void check_on_node(void *p, size_t n)
{
    struct moetier_numa_policy pol;
    CHECK(moetier_numa_policy_at(p, &pol) == 0);
    CHECK(pol.mode == MPOL_BIND);
    CHECK(pol.mask[node / 64] == 1UL << (node % 64));
    CHECK(moetier_numa_policy_at((char *)p + n - 1, &pol) == 0 && pol.mode == MPOL_BIND);
    uint64_t per[MOETIER_NUMA_MAX_NODES] = { 0 };
    struct moetier_numa_where w;
    CHECK(moetier_numa_where(p, n, MOETIER_NUMA_COVER, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
    CHECK(per[node] == w.pages);
}

static void test_alloc(struct moetier_slow_arena *a)
{
    size_t sizes[] = { 1, 4096, 5000, MiB, 3 * MiB + 5, 64 * MiB };
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        char *p = moetier_slow_arena_alloc(a, n, 0);
        CHECK(p != NULL);
        if (!p)
            continue;
        CHECK((uintptr_t)p % pg == 0);
        CHECK(moetier_slow_arena_owns(a, p) && moetier_slow_arena_owns(a, p + n - 1));
        CHECK(moetier_slow_arena_usable(a, p) >= n);
        nt_fill(p, n, i);
        uint64_t s = nt_sum(p, n);
        check_on_node(p, n);
        CHECK(nt_sum(p, n) == s);
        CHECK(moetier_slow_arena_free(a, p) == 0);
    }
    size_t aligns[] = { 8192, 65536, 2 * MiB, 16 * MiB };
    for (size_t i = 0; i < sizeof aligns / sizeof *aligns; i++) {
        char *p = moetier_slow_arena_alloc(a, 3 * MiB + 1, aligns[i]);
        CHECK(p && (uintptr_t)p % aligns[i] == 0);
        if (p) {
            memset(p, 7, 3 * MiB + 1);
            check_on_node(p, 3 * MiB + 1);
        }
        CHECK(moetier_slow_arena_free(a, p) == 0);
    }
    errno = 0;
    CHECK(moetier_slow_arena_alloc(a, MiB, 3 * 4096) == NULL && errno == EINVAL);
    CHECK(moetier_slow_arena_alloc(NULL, MiB, 0) == NULL);
}

static void test_realloc(struct moetier_slow_arena *a)
{
    char *p = moetier_slow_arena_alloc(a, MiB, 0);
    CHECK(p != NULL);
    if (!p)
        return;
    nt_fill(p, MiB, 9);
    uint64_t s = nt_sum(p, MiB);
    char *q = moetier_slow_arena_realloc(a, p, 10 * MiB);
    CHECK(q && moetier_slow_arena_owns(a, q) && (uintptr_t)q % pg == 0);
    if (!q)
        return;
    CHECK(nt_sum(q, MiB) == s);
    memset(q + MiB, 1, 9 * MiB);
    check_on_node(q, 10 * MiB);
    char *r = moetier_slow_arena_realloc(a, q, MiB / 2);
    CHECK(r && nt_sum(r, MiB / 2) == nt_sum(q == r ? q : r, MiB / 2));
    CHECK(moetier_slow_arena_free(a, r ? r : q) == 0);
    int local;
    errno = 0;
    CHECK(moetier_slow_arena_realloc(a, &local, 10) == NULL && errno == EINVAL);
}

static void test_owns(struct moetier_slow_arena *a)
{
    struct moetier_slow_arena_stats st;
    moetier_slow_arena_stats(a, &st);
    int local;
    void *m = malloc(100);
    CHECK(!moetier_slow_arena_owns(a, &local));
    CHECK(!moetier_slow_arena_owns(a, m));
    CHECK(!moetier_slow_arena_owns(a, NULL));
    CHECK(!moetier_slow_arena_owns(NULL, m));
    CHECK(!moetier_slow_arena_owns(a, (void *)st.hi));
    CHECK(!moetier_slow_arena_owns(a, (void *)(st.lo - 1)));
    CHECK(moetier_slow_arena_owns(a, (void *)st.lo));
    CHECK(moetier_slow_arena_owns(a, (void *)(st.hi - 1)));
    CHECK(moetier_slow_arena_free(a, m) == -EINVAL);
    CHECK(moetier_slow_arena_free(a, &local) == -EINVAL);
    CHECK(moetier_slow_arena_free(a, NULL) == 0);
    CHECK(moetier_slow_arena_usable(a, m) == 0);
    free(m);
}

/* The extent hooks as jemalloc calls them. */
static void test_hooks(struct moetier_slow_arena *a)
{
    extent_hooks_t *h = moetier_slow_arena_hooks(a);
    struct moetier_slow_arena_stats st;
    moetier_slow_arena_stats(a, &st);
    bool zero = false, commit = false;
    size_t al = 4 * MiB, n = 2 * MiB;
    char *p = h->alloc(h, NULL, n, al, &zero, &commit, st.arena);
    CHECK(p && (uintptr_t)p % al == 0 && zero && commit);
    if (!p)
        return;
    CHECK(moetier_slow_arena_owns(a, p));
    memset(p, 3, n);
    check_on_node(p, n);
    /* in-place growth: only right after the last extent */
    char *q = h->alloc(h, p + n, n, pg, &zero, &commit, st.arena);
    CHECK(q == p + n);
    CHECK(h->alloc(h, p, n, pg, &zero, &commit, st.arena) == NULL);
    CHECK(h->alloc(h, NULL, n, 3 * pg, &zero, &commit, st.arena) == NULL);
    CHECK(h->alloc(h, NULL, n + 1, pg, &zero, &commit, st.arena) == NULL);
    CHECK(h->alloc(h, NULL, st.hi - st.lo, pg, &zero, &commit, st.arena) == NULL);
    struct moetier_slow_arena_stats st2;
    moetier_slow_arena_stats(a, &st2);
    CHECK(st2.refused == st.refused + 4);
    CHECK(st2.extents == st.extents + 2);
    /* purge: contents gone, binding kept, refault on the node */
    CHECK(h->purge_forced(h, p, n, 0, n, st.arena) == false);
    CHECK(p[0] == 0 && p[n - 1] == 0);
    p[0] = 1;
    check_on_node(p, pg);
    CHECK(h->split(h, p, 2 * n, n, n, true, st.arena) == false);
    CHECK(h->merge(h, p, n, q, n, true, st.arena) == false);
    CHECK(h->dalloc == NULL && h->decommit == NULL);
}

struct cyc {
    struct moetier_slow_arena *a;
    unsigned seed;
    int bad;
};

static void *cycles(void *arg)
{
    struct cyc *c = arg;
    enum { LIVE = 12 };
    char *live[LIVE] = { 0 };
    size_t len[LIVE] = { 0 };
    unsigned x = c->seed;
    for (int it = 0; it < 1500; it++) {
        x = x * 1103515245 + 12345;
        int k = (int)((x >> 8) % LIVE);
        if (live[k]) {
            /* first and last byte of each page of the first 16 pages carry the tag */
            for (size_t o = 0; o < len[k] && o < 16 * pg; o += pg)
                if (live[k][o] != (char)k || live[k][len[k] - 1] != (char)(k + 1))
                    c->bad++;
            if (moetier_slow_arena_free(c->a, live[k]))
                c->bad++;
            live[k] = NULL;
        } else {
            len[k] = 4096 + (size_t)((x >> 4) % (6 * MiB));
            live[k] = moetier_slow_arena_alloc(c->a, len[k], (x & 1) ? 0 : 2 * MiB);
            if (!live[k] || (uintptr_t)live[k] % pg) {
                c->bad++;
                continue;
            }
            for (size_t o = 0; o < len[k] && o < 16 * pg; o += pg)
                live[k][o] = (char)k;
            live[k][len[k] - 1] = (char)(k + 1);
        }
    }
    for (int k = 0; k < LIVE; k++)
        if (live[k] && moetier_slow_arena_free(c->a, live[k]))
            c->bad++;
    return NULL;
}

static void test_cycles(struct moetier_slow_arena *a)
{
    struct cyc c[2] = { { a, 1, 0 }, { a, 2, 0 } };
    pthread_t th;
    CHECK(pthread_create(&th, NULL, cycles, &c[1]) == 0);
    cycles(&c[0]);
    pthread_join(th, NULL);
    CHECK(c[0].bad == 0 && c[1].bad == 0);
    struct moetier_slow_arena_stats st;
    moetier_slow_arena_stats(a, &st);
    CHECK(st.allocs == 0);
    /* freed memory was purged (decay 0): little stays resident in the reservation */
    struct moetier_numa_where w;
    uint64_t per[MOETIER_NUMA_MAX_NODES] = { 0 };
    CHECK(moetier_numa_where((void *)st.lo, st.hi - st.lo, 0, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
    uint64_t resident = w.pages - w.not_present - w.fault;
    printf("after 3000 alloc/free cycles: %llu extents, %.1f MiB mapped, %.1f MiB purged, %.2f MiB resident\n",
           (unsigned long long)st.extents, st.mapped / (double)MiB, st.purged / (double)MiB,
           resident * pg / (double)MiB);
    CHECK(resident == per[node]);
    CHECK(resident * pg < 8 * MiB);
    CHECK(st.purged > 0);
}

static void test_full(void)
{
    struct moetier_slow_arena *a = NULL;
    char err[256];
    CHECK(moetier_slow_arena_open(node, 16 * MiB, err, sizeof err, &a) == 0);
    if (!a)
        return;
    errno = 0;
    CHECK(moetier_slow_arena_alloc(a, 64 * MiB, 0) == NULL && errno == ENOMEM);
    void *p = moetier_slow_arena_alloc(a, 4 * MiB, 0);
    CHECK(p != NULL);
    CHECK(moetier_slow_arena_free(a, p) == 0);
    moetier_slow_arena_close(a);
    CHECK(moetier_slow_arena_open(-1, 0, err, sizeof err, &a) == -EINVAL && a == NULL);
}

static void test_reopen(void)
{
    unsigned first = 0;
    for (int i = 0; i < 4; i++) {
        struct moetier_slow_arena *a = NULL;
        char err[256];
        int rc = moetier_slow_arena_open(node, 64 * MiB, err, sizeof err, &a);
        CHECK(rc == 0);
        if (rc) {
            fprintf(stderr, "reopen %d: %s\n", i, err);
            return;
        }
        struct moetier_slow_arena_stats st;
        moetier_slow_arena_stats(a, &st);
        if (i == 0)
            first = st.arena;
        CHECK(st.arena == first); /* destroy gives the index back */
        char *p = moetier_slow_arena_alloc(a, 8 * MiB, 0);
        CHECK(p != NULL);
        if (p) {
            memset(p, i, 8 * MiB);
            check_on_node(p, 8 * MiB);
            moetier_slow_arena_free(a, p);
        }
        moetier_slow_arena_close(a);
    }
}

int main(int argc, char **argv)
{
    char err[512];
    struct moetier_slow_arena *a = NULL;
    pg = (size_t)sysconf(_SC_PAGESIZE);
    test_abi();
    test_tunables();

    struct moetier_numa_topo t;
    if (moetier_numa_discover(&t)) {
        printf("SKIP: no /sys/devices/system/node (kernel without NUMA)\n");
        return 77;
    }
    node = t.cpu_node;
    if (!moetier_numa_node_get(&t, node)->has_memory) {
        int near[1];
        CHECK(moetier_numa_near_dram(&t, -1, near, 1) == 1);
        node = near[0];
    }

    const char *tun = getenv("GLIBC_TUNABLES");
    if (!tun || !strstr(tun, "glibc.rtld.optional_static_tls=")) {
        /* without the tunable: it works, or says exactly what to do */
        int rc = moetier_slow_arena_open(node, 64 * MiB, err, sizeof err, &a);
        printf("open without the tunable: %d %s\n", rc, rc ? err : "(loaded)");
        CHECK(rc == 0 || (rc == -ELIBACC && strstr(err, "GLIBC_TUNABLES=" MOETIER_SLOW_ARENA_TUNABLE)));
        if (rc == 0)
            moetier_slow_arena_close(a);
        else if (check_failures == 0)
            nt_reexec_with_tunable(argv);
        else
            return check_exit("test_slow_arena");
    }

    int rc = moetier_slow_arena_open(node, 256 * MiB, err, sizeof err, &a);
    if (rc == -ELIBACC && strstr(err, "cannot open")) {
        printf("SKIP: %s\n", err);
        return 77;
    }
    CHECK(rc == 0 && a);
    if (rc) {
        fprintf(stderr, "open: %s\n", err);
        return check_exit("test_slow_arena");
    }
    struct moetier_slow_arena_stats st;
    moetier_slow_arena_stats(a, &st);
    CHECK(st.lo % (2 * MiB) == 0 && st.hi - st.lo == 256 * MiB && st.node == node);
    printf("arena %u on node %d: [%#lx, %#lx)\n", st.arena, node, (unsigned long)st.lo, (unsigned long)st.hi);
    test_alloc(a);
    test_realloc(a);
    test_owns(a);
    test_cycles(a);
    test_hooks(a);
    moetier_slow_arena_close(a);
    test_full();
    test_reopen();
    return check_exit("test_slow_arena");
}
