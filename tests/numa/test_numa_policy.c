/*
 * The task-policy bracket: push sets PREFERRED/BIND {node} on the calling
 * thread, pop restores exactly what was there (mode, mode flags, nodes),
 * from every starting policy the kernel accepts here; brackets nest; a failed
 * push leaves the policy alone; another thread's policy is untouched; pages
 * populated inside the bracket land on the node.
 */
#include "config.h"
#include "tests/numa/numa_test.h"

#include <errno.h>
#include <linux/mempolicy.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#ifndef MPOL_F_NUMA_BALANCING
#define MPOL_F_NUMA_BALANCING (1 << 13)
#endif

static int home;
static unsigned long memnodes[MOETIER_NUMA_MASK_LONGS]; /* online nodes with memory */

/* set_mempolicy straight, not through the code under test */
static int raw_set(int mode, const unsigned long *mask)
{
    return syscall(SYS_set_mempolicy, mode, mask, mask ? MOETIER_NUMA_MASK_BITS + 1 : 0) ? -errno : 0;
}

static void one_start(const char *name, int mode, const unsigned long *mask)
{
    char a[128], b[128];
    struct moetier_numa_policy orig, now, s1, s2, want;
    if (raw_set(mode, mask)) {
        printf("start %-22s not accepted by this kernel (%s): skipped\n", name, strerror(errno));
        return;
    }
    CHECK(moetier_numa_policy_get(&orig) == 0);

    CHECK(moetier_numa_policy_push(home, MOETIER_NUMA_POLICY_BIND, &s1) == 0);
    CHECK(moetier_numa_policy_equal(&s1, &orig));
    CHECK(moetier_numa_policy_get(&now) == 0);
    memset(&want, 0, sizeof want);
    want.mode = MPOL_BIND;
    want.mask[home / 64] = 1UL << (home % 64);
    CHECK(moetier_numa_policy_equal(&now, &want));

    CHECK(moetier_numa_policy_push(home, MOETIER_NUMA_POLICY_PREFERRED, &s2) == 0);
    CHECK(moetier_numa_policy_get(&now) == 0);
    want.mode = MPOL_PREFERRED;
    CHECK(moetier_numa_policy_equal(&now, &want));
    CHECK(moetier_numa_policy_pop(&s2) == 0);
    CHECK(moetier_numa_policy_get(&now) == 0);
    want.mode = MPOL_BIND;
    CHECK(moetier_numa_policy_equal(&now, &want));

    CHECK(moetier_numa_policy_pop(&s1) == 0);
    CHECK(moetier_numa_policy_get(&now) == 0);
    printf("start %-22s -> %-24s restored %s\n", name, moetier_numa_policy_format(&orig, a, sizeof a),
           moetier_numa_policy_format(&now, b, sizeof b));
    CHECK(moetier_numa_policy_equal(&now, &orig));
    CHECK(now.mode == orig.mode);
}

static void test_restore(void)
{
    unsigned long one[MOETIER_NUMA_MASK_LONGS] = { 0 }, rel[MOETIER_NUMA_MASK_LONGS] = { 0 };
    one[home / 64] = 1UL << (home % 64);
    rel[0] = 1; /* relative node 0: the first allowed node */
    one_start("default", MPOL_DEFAULT, NULL);
    one_start("local", MPOL_LOCAL, NULL);
    one_start("preferred", MPOL_PREFERRED, one);
    one_start("bind", MPOL_BIND, one);
    one_start("bind static", MPOL_BIND | MPOL_F_STATIC_NODES, one);
    one_start("bind relative", MPOL_BIND | MPOL_F_RELATIVE_NODES, rel);
    one_start("interleave (all memory)", MPOL_INTERLEAVE, memnodes);
    one_start("preferred_many", 5 /* MPOL_PREFERRED_MANY, 5.15+ */, one);
    one_start("bind numa_balancing", MPOL_BIND | MPOL_F_NUMA_BALANCING, one);
    CHECK(raw_set(MPOL_DEFAULT, NULL) == 0);
}

static void test_format(void)
{
    struct moetier_numa_policy p;
    char buf[128];
    memset(&p, 0, sizeof p);
    CHECK_STR(moetier_numa_policy_format(&p, buf, sizeof buf), "default");
    p.mode = MPOL_LOCAL;
    CHECK_STR(moetier_numa_policy_format(&p, buf, sizeof buf), "local");
    p.mode = MPOL_BIND | MPOL_F_STATIC_NODES;
    p.mask[0] = 0x6;
    CHECK_STR(moetier_numa_policy_format(&p, buf, sizeof buf), "bind static {1-2}");
    p.mode = MPOL_PREFERRED;
    p.mask[0] = 0x1;
    CHECK_STR(moetier_numa_policy_format(&p, buf, sizeof buf), "preferred {0}");
}

static void test_failed_push(int offline)
{
    struct moetier_numa_policy before, after, s;
    CHECK(raw_set(MPOL_PREFERRED, (unsigned long[MOETIER_NUMA_MASK_LONGS]){ 1UL << home }) == 0 || home >= 64);
    CHECK(moetier_numa_policy_get(&before) == 0);
    CHECK(moetier_numa_policy_push(-1, MOETIER_NUMA_POLICY_BIND, &s) == -EINVAL);
    CHECK(moetier_numa_policy_push(MOETIER_NUMA_MASK_BITS, MOETIER_NUMA_POLICY_BIND, &s) == -EINVAL);
    if (offline >= 0)
        CHECK(moetier_numa_policy_push(offline, MOETIER_NUMA_POLICY_BIND, &s) == -EINVAL);
    CHECK(moetier_numa_policy_get(&after) == 0);
    CHECK(moetier_numa_policy_equal(&before, &after));
    CHECK(raw_set(MPOL_DEFAULT, NULL) == 0);
}

/* A thread started before the push keeps its own (default) policy. */
static pthread_barrier_t bar;
static struct moetier_numa_policy other;
static void *peer(void *arg)
{
    pthread_barrier_wait(&bar); /* main has pushed */
    moetier_numa_policy_get(&other);
    pthread_barrier_wait(&bar);
    return NULL;
}

static void test_per_thread(void)
{
    pthread_t th;
    struct moetier_numa_policy s;
    pthread_barrier_init(&bar, NULL, 2);
    CHECK(pthread_create(&th, NULL, peer, NULL) == 0);
    CHECK(moetier_numa_policy_push(home, MOETIER_NUMA_POLICY_BIND, &s) == 0);
    pthread_barrier_wait(&bar);
    pthread_barrier_wait(&bar);
    CHECK(moetier_numa_policy_pop(&s) == 0);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&bar);
    CHECK((other.mode & ~MPOL_MODE_FLAGS) == MPOL_DEFAULT);
}

/* MAP_POPULATE inside the bracket: every page on the node. */
static void test_populate(void)
{
    size_t n = 256, pg = (size_t)sysconf(_SC_PAGESIZE);
    struct moetier_numa_policy s;
    CHECK(moetier_numa_policy_push(home, MOETIER_NUMA_POLICY_BIND, &s) == 0);
    char *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    CHECK(moetier_numa_policy_pop(&s) == 0);
    CHECK(p != MAP_FAILED);
    if (p == MAP_FAILED)
        return;
    uint64_t per[MOETIER_NUMA_MAX_NODES] = { 0 };
    struct moetier_numa_where w;
    CHECK(moetier_numa_where(p, n * pg, 0, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
    CHECK(per[home] == n);
    munmap(p, n * pg);
}

int main(void)
{
    struct moetier_numa_topo t;
    if (moetier_numa_discover(&t)) {
        printf("SKIP: no /sys/devices/system/node (kernel without NUMA)\n");
        return 77;
    }
    struct moetier_numa_policy p;
    if (moetier_numa_policy_get(&p) == -ENOSYS || moetier_numa_policy_get(&p) == -EPERM) {
        printf("SKIP: get_mempolicy refused here\n");
        return 77;
    }
    home = t.cpu_node;
    int offline = -1;
    for (int i = 0; i < t.n; i++)
        if (t.node[i].has_memory)
            memnodes[t.node[i].id / 64] |= 1UL << (t.node[i].id % 64);
    if (!moetier_numa_node_get(&t, home)->has_memory) {
        int near[1];
        CHECK(moetier_numa_near_dram(&t, -1, near, 1) == 1);
        home = near[0];
    }
    for (int id = 0; id < 64 && offline < 0; id++)
        if (!moetier_numa_node_get(&t, id))
            offline = id;
    CHECK(raw_set(MPOL_DEFAULT, NULL) == 0);
    test_restore();
    test_format();
    test_failed_push(offline);
    test_per_thread();
    test_populate();
    return check_exit("test_numa_policy");
}
