/*
 * Discovery (moetier_numa_discover) against libnuma, an independent reader
 * of the same kernel facts; numa:N parsing on the real topology and on
 * hand-made ones (a CPU-less node, a memoryless node); node-list parsing.
 */
#include "config.h"
#include "tests/numa/numa_test.h"

#include <errno.h>
#include <numa.h>

static struct moetier_numa_topo topo;

static void test_against_libnuma(void)
{
    CHECK(moetier_numa_discover(&topo) == 0);
    CHECK(topo.n >= 1);
    CHECK(!topo.truncated);
    if (numa_available() < 0) {
        printf("libnuma says NUMA is unavailable: comparing only what sysfs shows\n");
        return;
    }
    int listed = 0;
    for (int id = 0; id <= numa_max_node(); id++) {
        if (!numa_bitmask_isbitset(numa_nodes_ptr, (unsigned)id))
            continue;
        listed++;
        const struct moetier_numa_node *nd = moetier_numa_node_get(&topo, id);
        CHECK(nd != NULL);
        if (!nd)
            continue;
        long long fr = 0, total = numa_node_size64(id, &fr);
        CHECK((uint64_t)total == nd->total);
        CHECK(nd->has_memory == (total > 0));
        struct bitmask *cpus = numa_allocate_cpumask();
        CHECK(numa_node_to_cpus(id, cpus) == 0);
        CHECK(nd->has_cpu == (numa_bitmask_weight(cpus) > 0));
        numa_free_cpumask(cpus);
        for (int j = 0; j < topo.n; j++)
            CHECK(topo.distance[nd - topo.node][j] == numa_distance(id, topo.node[j].id));
        printf("node %d: cpus %s memory %s total %llu free %llu tier %d\n", id, nd->has_cpu ? "yes" : "no",
               nd->has_memory ? "yes" : "no", (unsigned long long)nd->total, (unsigned long long)nd->free,
               nd->tier);
    }
    CHECK(listed == topo.n);
    CHECK(moetier_numa_node_get(&topo, topo.cpu_node) != NULL);
    CHECK(moetier_numa_node_get(&topo, topo.cpu_node)->has_cpu);
    if (access("/sys/devices/virtual/memory_tiering", F_OK) == 0)
        for (int i = 0; i < topo.n; i++)
            CHECK(!topo.node[i].has_memory || topo.node[i].tier >= 0);
    CHECK(moetier_numa_node_get(&topo, 1023) == NULL);
}

static void test_near_dram(void)
{
    int near[MOETIER_NUMA_MAX_NODES];
    int n = moetier_numa_near_dram(&topo, -1, near, MOETIER_NUMA_MAX_NODES);
    CHECK(n >= 1);
    for (int i = 0; i < n; i++) {
        const struct moetier_numa_node *nd = moetier_numa_node_get(&topo, near[i]);
        CHECK(nd && nd->has_cpu && nd->has_memory);
    }
    if (moetier_numa_node_get(&topo, topo.cpu_node)->has_memory)
        CHECK(near[0] == topo.cpu_node);
    CHECK(moetier_numa_near_dram(&topo, -1, near, 0) == 0);

    /* hand-made: 0 and 2 are DRAM with CPUs, 1 CPU-less; from 2, 2 then 0 */
    struct moetier_numa_topo t;
    memset(&t, 0, sizeof t);
    t.n = 3;
    t.cpu_node = 0;
    for (int i = 0; i < 3; i++) {
        t.node[i].id = i;
        t.node[i].has_cpu = i != 1;
        t.node[i].has_memory = 1;
        t.node[i].total = 1 << 30;
        for (int j = 0; j < 3; j++)
            t.distance[i][j] = i == j ? 10 : 20 + i + j;
    }
    n = moetier_numa_near_dram(&t, 2, near, 8);
    CHECK(n == 2 && near[0] == 2 && near[1] == 0);
    n = moetier_numa_near_dram(&t, -1, near, 8);
    CHECK(n == 2 && near[0] == 0 && near[1] == 2);
}

static void test_spec(void)
{
    char msg[256];
    int node = -1;
    const struct moetier_numa_node *n0 = moetier_numa_node_get(&topo, 0);
    if (n0 && n0->has_memory) {
        CHECK(moetier_numa_spec_parse("numa:0", &topo, &node, msg, sizeof msg) == 0);
        CHECK(node == 0);
        CHECK(n0->has_cpu ? strstr(msg, "has CPUs") != NULL : msg[0] == 0);
    }
    static const char *const bad[] = { "numa:", "numa:x", "numa:-1", "numa:0x", "NUMA:0", "", "numa: 0",
                                       "numa:0 ", "0", "numa:99999999999999999999" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        node = -7;
        int rc = moetier_numa_spec_parse(bad[i], &topo, &node, msg, sizeof msg);
        if (rc != -EINVAL)
            fprintf(stderr, "spec \"%s\": %d\n", bad[i], rc);
        CHECK(rc == -EINVAL);
        CHECK(node == -7);
        CHECK(msg[0] != 0);
    }
    CHECK(moetier_numa_spec_parse(NULL, &topo, &node, NULL, 0) == -EINVAL);
    CHECK(moetier_numa_spec_parse("numa:1023", &topo, &node, msg, sizeof msg) == -ENODEV);
    CHECK(moetier_numa_spec_parse("numa:4096", &topo, &node, msg, sizeof msg) == -ENODEV);
    CHECK(strstr(msg, "not an online") != NULL);

    struct moetier_numa_topo t;
    memset(&t, 0, sizeof t);
    t.n = 3;
    t.node[0] = (struct moetier_numa_node){ .id = 0, .has_cpu = 1, .has_memory = 1, .total = 1 << 30 };
    t.node[1] = (struct moetier_numa_node){ .id = 1, .has_cpu = 0, .has_memory = 1, .total = 1 << 30 };
    t.node[2] = (struct moetier_numa_node){ .id = 5, .has_cpu = 1, .has_memory = 0 };
    CHECK(moetier_numa_spec_parse("numa:1", &t, &node, msg, sizeof msg) == 0);
    CHECK(node == 1 && msg[0] == 0); /* CPU-less: no warning */
    CHECK(moetier_numa_spec_parse("numa:5", &t, &node, msg, sizeof msg) == -ENOMEM);
    CHECK(strstr(msg, "no memory") != NULL);
    CHECK(moetier_numa_spec_parse("numa:2", &t, &node, msg, sizeof msg) == -ENODEV);
}

static void test_masks(void)
{
    unsigned long m[MOETIER_NUMA_MASK_LONGS];
    char buf[128];
    CHECK(moetier_numa_mask_parse("0-3,5,7-8\n", m) == 0);
    CHECK_STR(moetier_numa_mask_format(m, buf, sizeof buf), "0-3,5,7-8");
    CHECK(moetier_numa_mask_parse("1023", m) == 0);
    CHECK_STR(moetier_numa_mask_format(m, buf, sizeof buf), "1023");
    CHECK(moetier_numa_mask_parse("\n", m) == 0);
    CHECK_STR(moetier_numa_mask_format(m, buf, sizeof buf), "");
    CHECK(moetier_numa_mask_parse("1024", m) == -ERANGE);
    CHECK(moetier_numa_mask_parse("3-1", m) == -ERANGE);
    CHECK(moetier_numa_mask_parse("a", m) == -EINVAL);
    CHECK(moetier_numa_mask_parse("1;2", m) == -EINVAL);
    CHECK(moetier_numa_mask_parse("0,63-64,127", m) == 0);
    CHECK_STR(moetier_numa_mask_format(m, buf, sizeof buf), "0,63-64,127");
}

int main(void)
{
    if (access("/sys/devices/system/node/online", R_OK)) {
        printf("SKIP: no /sys/devices/system/node (kernel without NUMA)\n");
        return 77;
    }
    test_against_libnuma();
    test_near_dram();
    test_spec();
    test_masks();
    return check_exit("test_numa_discover");
}
