/*
 * Placement and migration on the host's own node(s), through the real
 * move_pages/mbind: where() counts (present, not present, holes), the range
 * rule for unaligned ranges (interior vs cover, edge pages), move() to the
 * node the pages are on (all "already", contents unchanged), refusals for a
 * node that is not online, and bind() of an anonymous range (the VMA policy
 * is MPOL_BIND {node} afterwards, only on the interior pages).
 */
#include "config.h"
#include "tests/numa/numa_test.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <sys/mman.h>

static size_t pg;
static int home; /* the node the test's pages land on */
static int offline = -1; /* a node id that is not online */

static char *anon(size_t pages)
{
    char *p = mmap(NULL, pages * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    return p == MAP_FAILED ? NULL : p;
}

static void test_where(void)
{
    char *p = anon(64);
    if (!p)
        return;
    memset(p, 0x5a, 40 * pg); /* 40 present, 24 never touched */
    uint64_t per[MOETIER_NUMA_MAX_NODES] = { 0 };
    struct moetier_numa_where w;
    CHECK(moetier_numa_where(p, 64 * pg, 0, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
    CHECK(w.pages == 64 && w.edge == 0);
    CHECK(per[home] == 40);
    CHECK(w.not_present == 24);
    CHECK(w.fault == 0 && w.other == 0 && w.elsewhere == 0);

    /* no per-node array: present pages count as elsewhere */
    CHECK(moetier_numa_where(p, 64 * pg, 0, NULL, 0, &w) == 0);
    CHECK(w.elsewhere == 40 && w.not_present == 24);

    /* the range rule */
    struct { size_t off, len; unsigned flags; uint64_t pages, edge; } r[] = {
        { 100, 10 * pg, MOETIER_NUMA_INTERIOR, 9, 2 },
        { 100, 10 * pg, MOETIER_NUMA_COVER, 11, 0 },
        { 100, 50, MOETIER_NUMA_INTERIOR, 0, 1 },       /* inside one page */
        { 100, 50, MOETIER_NUMA_COVER, 1, 0 },
        { pg - 100, 200, MOETIER_NUMA_INTERIOR, 0, 2 }, /* across one boundary */
        { pg - 100, 200, MOETIER_NUMA_COVER, 2, 0 },
        { 0, 3 * pg + 1, MOETIER_NUMA_INTERIOR, 3, 1 },
        { 0, 3 * pg + 1, MOETIER_NUMA_COVER, 4, 0 },
        { 0, 3 * pg, MOETIER_NUMA_INTERIOR, 3, 0 },
        { 5, 0, MOETIER_NUMA_INTERIOR, 0, 0 },
        { 5, 0, MOETIER_NUMA_COVER, 0, 0 },
    };
    for (size_t i = 0; i < sizeof r / sizeof *r; i++) {
        CHECK(moetier_numa_where(p + r[i].off, r[i].len, r[i].flags, NULL, 0, &w) == 0);
        if (w.pages != r[i].pages || w.edge != r[i].edge)
            fprintf(stderr, "range %zu: pages %llu edge %llu, want %llu %llu\n", i, (unsigned long long)w.pages,
                    (unsigned long long)w.edge, (unsigned long long)r[i].pages, (unsigned long long)r[i].edge);
        CHECK(w.pages == r[i].pages && w.edge == r[i].edge);
    }
    CHECK(moetier_numa_where((void *)(UINTPTR_MAX - 10), 100, 0, NULL, 0, &w) == -EINVAL);

    /* a page only read maps the shared zero page: recent kernels report its
     * node, older ones (6.1) -EFAULT; never "not present" */
    volatile char c = p[50 * pg];
    (void)c;
    memset(per, 0, sizeof per);
    CHECK(moetier_numa_where(p + 50 * pg, pg, 0, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
    printf("zero page: %s\n", w.fault ? "-EFAULT" : "reported on a node");
    CHECK(w.not_present == 0 && w.fault + w.elsewhere + per[home] + w.other == 1);

    /* a hole in the middle: -EFAULT for that page only */
    CHECK(munmap(p + 10 * pg, pg) == 0);
    CHECK(moetier_numa_where(p + 8 * pg, 4 * pg, 0, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
    CHECK(w.pages == 4 && w.fault == 1);

    /* many batches (the batch is 512 pages) */
    char *big = anon(2000);
    if (big) {
        for (size_t i = 0; i < 2000; i += 3)
            big[i * pg] = 1;
        memset(per, 0, sizeof per);
        CHECK(moetier_numa_where(big, 2000 * pg, 0, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
        CHECK(w.pages == 2000 && per[home] == 667 && w.not_present == 1333);
        munmap(big, 2000 * pg);
    }
    munmap(p, 64 * pg);
}

static void test_move_home(void)
{
    char *p = anon(1100);
    if (!p)
        return;
    nt_fill(p, 900 * pg, 1); /* 200 pages never touched (not even read) */
    uint64_t sum = nt_sum(p, 900 * pg);
    struct moetier_numa_moved r;
    CHECK(moetier_numa_move(p, 1100 * pg, home, 0, &r) == 0);
    nt_print_moved("move to home node", &r);
    CHECK(r.pages == 1100 && r.already == 900 && r.not_present == 200 && r.moved == 0);
    CHECK(r.shared + r.busy + r.nomem + r.fault + r.other + r.unmoved == 0);
    CHECK(nt_sum(p, 900 * pg) == sum);

    /* unaligned: interior only */
    CHECK(moetier_numa_move(p + 1, 10 * pg, home, 0, &r) == 0);
    CHECK(r.pages == 9 && r.edge == 2 && r.already == 9);

    CHECK(moetier_numa_move(p, pg, -1, 0, &r) == -EINVAL);
    CHECK(moetier_numa_move(p, pg, MOETIER_NUMA_MASK_BITS, 0, &r) == -EINVAL);
    if (offline >= 0) {
        /* present pages to a node that is not online: the kernel refuses the call */
        int rc = moetier_numa_move(p, 4 * pg, offline, 0, &r);
        CHECK(rc == -ENODEV || rc == -EINVAL);
        /* nothing present to move: no move_pages call, nothing refused */
        CHECK(moetier_numa_move(p + 1000 * pg, 4 * pg, offline, 0, &r) == 0);
        CHECK(r.not_present == 4);
    }
    CHECK(nt_sum(p, 900 * pg) == sum);
    munmap(p, 1100 * pg);
}

static void test_bind(void)
{
    char *p = anon(16);
    if (!p)
        return;
    struct moetier_numa_policy pol;
    char buf[128];
    CHECK(moetier_numa_policy_at(p + 4 * pg, &pol) == 0);
    CHECK((pol.mode & ~MPOL_MODE_FLAGS) == MPOL_DEFAULT);
    /* unaligned start: the first (partial) page stays unbound */
    CHECK(moetier_numa_bind(p + 100, 16 * pg - 100, home, 0) == 0);
    CHECK(moetier_numa_policy_at(p, &pol) == 0);
    CHECK((pol.mode & ~MPOL_MODE_FLAGS) == MPOL_DEFAULT);
    CHECK(moetier_numa_policy_at(p + pg, &pol) == 0);
    printf("bound range policy: %s\n", moetier_numa_policy_format(&pol, buf, sizeof buf));
    CHECK(pol.mode == MPOL_BIND);
    CHECK(pol.mask[0] == 1UL << home || home >= 64);
    CHECK(moetier_numa_policy_at(p + 15 * pg, &pol) == 0 && pol.mode == MPOL_BIND);

    memset(p, 1, 16 * pg);
    uint64_t per[MOETIER_NUMA_MAX_NODES] = { 0 };
    struct moetier_numa_where w;
    CHECK(moetier_numa_where(p, 16 * pg, 0, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
    CHECK(per[home] == 16);
    /* pages already present, STRICT: they are all on the node, so it succeeds */
    CHECK(moetier_numa_bind(p, 16 * pg, home, MOETIER_NUMA_STRICT | MOETIER_NUMA_COVER) == 0);
    CHECK(moetier_numa_bind(p, 16 * pg, -3, 0) == -EINVAL);
    if (offline >= 0)
        CHECK(moetier_numa_bind(p, 16 * pg, offline, 0) == -EINVAL);
    CHECK(moetier_numa_bind(p + 1, 10, home, 0) == 0); /* no whole page: nothing to do */
    munmap(p, 16 * pg);
}

/* A MAP_SHARED file mapping: only the pages this process has mapped are seen. */
static void test_file(void)
{
    char path[] = "/tmp/moetier-numa-move-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    unlink(path);
    char *buf = malloc(32 * pg);
    nt_fill(buf, 32 * pg, 3);
    CHECK(write(fd, buf, 32 * pg) == (ssize_t)(32 * pg));
    char *m = mmap(NULL, 32 * pg, PROT_READ, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED);
    if (m != MAP_FAILED) {
        volatile char c = m[0];
        (void)c;
        uint64_t per[MOETIER_NUMA_MAX_NODES] = { 0 };
        struct moetier_numa_where w;
        CHECK(moetier_numa_where(m, 32 * pg, 0, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
        printf("file mapping after one read: %llu pages mapped on node %d (fault-around), %llu not mapped\n",
               (unsigned long long)per[home], home, (unsigned long long)w.not_present);
        CHECK(per[home] >= 1 && per[home] + w.not_present == 32);
        struct moetier_numa_moved r;
        CHECK(moetier_numa_move(m, 32 * pg, home, 0, &r) == 0);
        CHECK(r.already == per[home] && r.not_present == w.not_present);
        CHECK(nt_sum(m, 32 * pg) == nt_sum(buf, 32 * pg));
        munmap(m, 32 * pg);
    }
    free(buf);
    close(fd);
}

int main(void)
{
    struct moetier_numa_topo t;
    pg = (size_t)sysconf(_SC_PAGESIZE);
    if (moetier_numa_discover(&t)) {
        printf("SKIP: no /sys/devices/system/node (kernel without NUMA)\n");
        return 77;
    }
    /* where this thread's pages land: probe one */
    char *probe = anon(1);
    probe[0] = 1;
    uint64_t per[MOETIER_NUMA_MAX_NODES] = { 0 };
    struct moetier_numa_where w;
    int rc = moetier_numa_where(probe, pg, 0, per, MOETIER_NUMA_MAX_NODES, &w);
    if (rc == -ENOSYS || rc == -EPERM) {
        printf("SKIP: move_pages refused here (%s)\n", strerror(-rc));
        return 77;
    }
    home = -1;
    for (int i = 0; i < MOETIER_NUMA_MAX_NODES; i++)
        if (per[i])
            home = i;
    CHECK(rc == 0 && home >= 0);
    if (home < 0)
        return check_exit("test_numa_move");
    munmap(probe, pg);
    for (int id = 0; id < 64 && offline < 0; id++)
        if (!moetier_numa_node_get(&t, id))
            offline = id;
    /* keep the test's pages on one node whatever the default policy */
    struct moetier_numa_policy saved;
    CHECK(moetier_numa_policy_push(home, MOETIER_NUMA_POLICY_BIND, &saved) == 0);
    test_where();
    test_move_home();
    test_bind();
    test_file();
    CHECK(moetier_numa_policy_pop(&saved) == 0);
    return check_exit("test_numa_move");
}
