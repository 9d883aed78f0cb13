/*
 * Migration between two real NUMA nodes: an anonymous buffer there and back
 * (every page confirmed by move_pages status, contents identical), -EACCES
 * for pages another process maps too, and the policy bracket placing a
 * populating mmap on the other node. Needs two nodes with memory: skips (77)
 * on single-node hosts; guest_numa runs the same paths in the qemu guest.
 */
#include "config.h"
#include "tests/numa/numa_test.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>

static size_t pg;

static uint64_t on_node(void *p, size_t len, int node)
{
    uint64_t per[MOETIER_NUMA_MAX_NODES] = { 0 };
    struct moetier_numa_where w;
    CHECK(moetier_numa_where(p, len, 0, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
    return node < MOETIER_NUMA_MAX_NODES ? per[node] : 0;
}

static void test_there_and_back(int home, int other)
{
    size_t n = 2048;
    char *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    if (p == MAP_FAILED)
        return;
    CHECK(moetier_numa_bind(p, n * pg, home, 0) == 0);
    nt_fill(p, n * pg, 11);
    uint64_t sum = nt_sum(p, n * pg);
    CHECK(on_node(p, n * pg, home) == n);
    /* binding stays "home", but move_pages moves anyway (MPOL_MF_MOVE on pages) */
    struct moetier_numa_moved r;
    CHECK(moetier_numa_move(p, n * pg, other, 0, &r) == 0);
    nt_print_moved("home -> other", &r);
    CHECK(r.moved == n && r.already == 0);
    CHECK(on_node(p, n * pg, other) == n);
    CHECK(nt_sum(p, n * pg) == sum);
    CHECK(moetier_numa_move(p + 100, 10 * pg, home, 0, &r) == 0); /* interior: 9 pages */
    CHECK(r.pages == 9 && r.moved == 9 && r.edge == 2);
    uint64_t k = on_node(p, n * pg, home); /* 9, or more when a huge page moved whole */
    CHECK(k >= 9);
    CHECK(moetier_numa_move(p, n * pg, home, 0, &r) == 0);
    CHECK(r.moved == n - k && r.already == k);
    CHECK(nt_sum(p, n * pg) == sum);
    munmap(p, n * pg);
}

static void test_shared(int home, int other)
{
    size_t n = 64;
    char *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    if (p == MAP_FAILED)
        return;
    nt_fill(p, n * pg, 5);
    uint64_t sum = nt_sum(p, n * pg);
    int go[2], done[2];
    CHECK(pipe(go) == 0 && pipe(done) == 0);
    pid_t child = fork();
    if (child == 0) {
        volatile uint64_t s = nt_sum(p, n * pg); /* maps every page in the child too */
        (void)s;
        char c = 1;
        if (write(done[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(2);
        _exit(0);
    }
    char c;
    CHECK(read(done[0], &c, 1) == 1);
    struct moetier_numa_moved r;
    int target = on_node(p, n * pg, home) == n ? other : home;
    CHECK(moetier_numa_move(p, n * pg, target, 0, &r) == 0);
    nt_print_moved("shared with a child", &r);
    CHECK(r.shared == n && r.moved == 0);
    CHECK(write(go[1], &c, 1) == 1);
    int st;
    CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    /* mapped by this process alone again: it moves */
    CHECK(moetier_numa_move(p, n * pg, target, 0, &r) == 0);
    CHECK(r.moved == n);
    CHECK(nt_sum(p, n * pg) == sum);
    munmap(p, n * pg);
}

static void test_bracket(int other)
{
    size_t n = 256;
    struct moetier_numa_policy s;
    CHECK(moetier_numa_policy_push(other, MOETIER_NUMA_POLICY_BIND, &s) == 0);
    char *p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    CHECK(moetier_numa_policy_pop(&s) == 0);
    CHECK(p != MAP_FAILED);
    if (p != MAP_FAILED) {
        CHECK(on_node(p, n * pg, other) == n);
        munmap(p, n * pg);
    }
}

int main(void)
{
    struct moetier_numa_topo t;
    pg = (size_t)sysconf(_SC_PAGESIZE);
    if (moetier_numa_discover(&t)) {
        printf("SKIP: no /sys/devices/system/node (kernel without NUMA)\n");
        return 77;
    }
    int home = -1, other = -1;
    int near[1];
    if (moetier_numa_near_dram(&t, -1, near, 1) == 1)
        home = near[0];
    for (int i = 0; i < t.n; i++)
        if (t.node[i].has_memory && t.node[i].id != home && t.node[i].free > 64 * MiB && other < 0)
            other = t.node[i].id;
    if (home < 0 || other < 0) {
        printf("SKIP: needs two NUMA nodes with memory; this host has %d node(s) (the qemu guest test "
               "guest_numa covers migration)\n",
               t.n);
        return 77;
    }
    printf("moving between node %d and node %d\n", home, other);
    test_there_and_back(home, other);
    test_shared(home, other);
    test_bracket(other);
    return check_exit("test_numa_two_nodes");
}
