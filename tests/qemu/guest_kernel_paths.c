/*
 * guest_kernel_paths: a guest program for tests/qemu/run-guest that proves the
 * kernel paths moetier relies on work for real, one phase at a time
 * (`guest_kernel_paths PHASE`, environment as run-guest documents):
 *   numa   node MOETIER_GUEST_CPULESS_NODE has memory and no CPUs;
 *          numa_alloc_onnode, move_pages there and back, mbind (bind before
 *          the first touch, MPOL_MF_MOVE after it); placement is always read
 *          back from move_pages status (nodes = NULL), never assumed.
 *   fsdax  a file on the DAX mount maps through libpmem2 with CACHE_LINE or
 *          BYTE store granularity; its memcpy function copies and persists,
 *          and the file reads back equal after unmapping. Controls: a tmpfs
 *          file reports PAGE and refuses a CACHE_LINE requirement.
 *   devdax /dev/dax0.0 maps MAP_SHARED at its 2 MiB alignment; an unaligned
 *          length, MAP_PRIVATE, an unaligned split and read(2) are refused;
 *          libpmem2 maps the device (pmem2_source_from_fd) and copies into it.
 *   kmem   the KMEM-DAX node is CPU-less, has memory, sits in a lower memory
 *          tier than node 0, and pages move there and back with move_pages
 *          and mbind.
 * Exit status: 0 all checks passed, 1 a check failed, 77 the phase is not one
 * of these or the program runs outside the guest.
 * Invariant: it only touches memory and files it created (plus reading and
 * mapping the DAX device the harness set up for this phase).
 */
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <numa.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MiB (1024UL * 1024UL)

/* EXPECT: CHECK with a printf-style explanation on failure. */
#define EXPECT(cond, ...)                                                         \
    do {                                                                          \
        check_count++;                                                            \
        if (!(cond)) {                                                            \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                         \
            fputc('\n', stderr);                                                  \
            check_failures++;                                                     \
        }                                                                         \
    } while (0)

static long page_size;

static void fill(void *p, size_t len, uint32_t seed)
{
    uint32_t *w = p;
    for (size_t i = 0; i < len / sizeof *w; i++)
        w[i] = seed ^ (uint32_t)(i * 2654435761u);
}

static int same(const void *p, size_t len, uint32_t seed)
{
    const uint32_t *w = p;
    for (size_t i = 0; i < len / sizeof *w; i++)
        if (w[i] != (seed ^ (uint32_t)(i * 2654435761u)))
            return 0;
    return 1;
}

static const char *gran_name(enum pmem2_granularity g)
{
    switch (g) {
    case PMEM2_GRANULARITY_BYTE: return "BYTE";
    case PMEM2_GRANULARITY_CACHE_LINE: return "CACHE_LINE";
    case PMEM2_GRANULARITY_PAGE: return "PAGE";
    }
    return "?";
}

/*
 * pages_on: how many of the pages of [p, p+len) move_pages (nodes = NULL)
 * reports on NODE; the first other status goes to *other (a node id or a
 * -errno). Returns the count, or -errno when move_pages itself fails.
 */
static long pages_on(void *p, size_t len, int node, int *other)
{
    unsigned long n = len / page_size;
    void **pages = calloc(n, sizeof *pages);
    int *status = calloc(n, sizeof *status);
    long on = -ENOMEM;
    if (!pages || !status)
        goto out;
    for (unsigned long i = 0; i < n; i++) {
        pages[i] = (char *)p + i * page_size;
        status[i] = -1;
    }
    if (move_pages(0, n, pages, NULL, status, 0) < 0) {
        on = -errno;
        goto out;
    }
    on = 0;
    *other = node;
    for (unsigned long i = 0; i < n; i++) {
        if (status[i] == node)
            on++;
        else if (*other == node)
            *other = status[i];
    }
out:
    free(status);
    free(pages);
    return on;
}

/*
 * move_to: move_pages every page of [p, p+len) to NODE. 0 when every status is
 * NODE or -EBUSY (counted in *busy), else -errno (the call's, or the first
 * per-page error). Seen on 6.1: in a range backed by transparent huge pages
 * a few pages report -EBUSY although every page did move (the huge page went
 * with another of its pages): callers verify placement with pages_on, never
 * from these statuses alone.
 */
static int move_to(void *p, size_t len, int node, unsigned long *busy)
{
    unsigned long n = len / page_size;
    void **pages = calloc(n, sizeof *pages);
    int *nodes = calloc(n, sizeof *nodes);
    int *status = calloc(n, sizeof *status);
    int rc = -ENOMEM;
    *busy = 0;
    if (!pages || !nodes || !status)
        goto out;
    for (unsigned long i = 0; i < n; i++) {
        pages[i] = (char *)p + i * page_size;
        nodes[i] = node;
    }
    rc = 0;
    if (move_pages(0, n, pages, nodes, status, MPOL_MF_MOVE) < 0) {
        rc = -errno;
        goto out;
    }
    for (unsigned long i = 0; i < n && rc == 0; i++)
        if (status[i] == -EBUSY)
            (*busy)++;
        else if (status[i] < 0)
            rc = status[i];
        else if (status[i] != node)
            rc = -EAGAIN;
out:
    free(status);
    free(nodes);
    free(pages);
    return rc;
}

/* expect_on: checks every page of the range is on NODE (by move_pages). */
static void expect_on(void *p, size_t len, int node, const char *what)
{
    int other = node;
    long on = pages_on(p, len, node, &other);
    EXPECT(on == (long)(len / page_size), "%s: %ld of %zu pages on node %d (another: %d)",
           what, on, len / page_size, node, other);
    if (on == (long)(len / page_size))
        printf("%s: all %zu pages on node %d\n", what, len / page_size, node);
}

static int node_cpus(int node)
{
    struct bitmask *cpus = numa_allocate_cpumask();
    int n = -1;
    if (numa_node_to_cpus(node, cpus) == 0)
        n = (int)numa_bitmask_weight(cpus);
    numa_free_cpumask(cpus);
    return n;
}

/* check_memory_node: NODE exists, has memory and no CPUs; node 0 has CPUs. */
static void check_cpuless_node(int node)
{
    long long free_b = 0;
    long long size = numa_node_size64(node, &free_b);
    EXPECT(numa_max_node() >= node, "numa_max_node() = %d", numa_max_node());
    EXPECT(size > 0, "node %d size %lld", node, size);
    EXPECT(node_cpus(node) == 0, "node %d has %d CPUs", node, node_cpus(node));
    EXPECT(node_cpus(0) > 0, "node 0 has %d CPUs", node_cpus(0));
    printf("node %d: %lld MiB, %lld MiB free, %d CPUs; node 0: %d CPUs\n", node, size / (long long)MiB,
           free_b / (long long)MiB, node_cpus(node), node_cpus(0));
}

/*
 * check_migration: the page-migration paths between node 0 and NODE: pages
 * allocated on a node are there, move_pages moves them both ways with the
 * contents kept, mbind(MPOL_BIND) places first touches and MPOL_MF_MOVE moves
 * touched pages.
 */
static void check_migration(int node, const char *tag)
{
    const size_t len = 8 * MiB;
    char what[96];
    int rc;

    /* numa_alloc_onnode + move_pages, small pages: every status is exact */
    char *p = numa_alloc_onnode(len, node);
    unsigned long busy;
    EXPECT(p != NULL, "numa_alloc_onnode(%zu, %d) failed", len, node);
    if (p) {
        EXPECT(madvise(p, len, MADV_NOHUGEPAGE) == 0, "MADV_NOHUGEPAGE: %s", strerror(errno));
        fill(p, len, 0x1234);
        snprintf(what, sizeof what, "%s numa_alloc_onnode(%d)", tag, node);
        expect_on(p, len, node, what);
        rc = move_to(p, len, 0, &busy);
        EXPECT(rc == 0 && busy == 0, "move_pages to node 0: %s, %lu busy", strerror(-rc), busy);
        snprintf(what, sizeof what, "%s move_pages -> 0", tag);
        expect_on(p, len, 0, what);
        rc = move_to(p, len, node, &busy);
        EXPECT(rc == 0 && busy == 0, "move_pages to node %d: %s, %lu busy", node, strerror(-rc), busy);
        snprintf(what, sizeof what, "%s move_pages -> %d", tag, node);
        expect_on(p, len, node, what);
        EXPECT(same(p, len, 0x1234), "contents changed across move_pages");
        numa_free(p, len);
    }

    /* mbind: bind before the first touch, then move touched pages */
    char *q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT(q != MAP_FAILED, "mmap: %s", strerror(errno));
    if (q == MAP_FAILED)
        return;
    unsigned long mask = 1UL << node;
    rc = mbind(q, len, MPOL_BIND, &mask, sizeof mask * 8, 0);
    EXPECT(rc == 0, "mbind(MPOL_BIND, node %d): %s", node, strerror(errno));
    fill(q, len, 0x5678);
    snprintf(what, sizeof what, "%s mbind(BIND %d) first touch", tag, node);
    expect_on(q, len, node, what);
    mask = 1UL << 0;
    rc = mbind(q, len, MPOL_BIND, &mask, sizeof mask * 8, MPOL_MF_MOVE | MPOL_MF_STRICT);
    EXPECT(rc == 0, "mbind(MPOL_BIND, node 0, MPOL_MF_MOVE): %s", strerror(errno));
    snprintf(what, sizeof what, "%s mbind(BIND 0, MF_MOVE)", tag);
    expect_on(q, len, 0, what);
    EXPECT(same(q, len, 0x5678), "contents changed across mbind(MPOL_MF_MOVE)");
    /* move_pages on memory that may be backed by transparent huge pages */
    EXPECT(madvise(q, len, MADV_HUGEPAGE) == 0, "MADV_HUGEPAGE: %s", strerror(errno));
    rc = move_to(q, len, node, &busy);
    EXPECT(rc == 0, "move_pages to node %d (THP allowed): %s", node, strerror(-rc));
    snprintf(what, sizeof what, "%s move_pages -> %d (THP allowed, %lu pages said EBUSY)", tag, node,
             busy);
    expect_on(q, len, node, what);
    EXPECT(same(q, len, 0x5678), "contents changed across move_pages of huge pages");
    munmap(q, len);
}

static int phase_numa(void)
{
    const char *s = getenv("MOETIER_GUEST_CPULESS_NODE");
    int node = s ? atoi(s) : 1;
    check_cpuless_node(node);
    check_migration(node, "numa");
    return 0;
}

/*
 * map_pmem2: maps LEN bytes of FD through libpmem2 with the weakest required
 * granularity (PAGE) unless REQUIRED says otherwise. 0 or a libpmem2 code.
 */
static int map_pmem2(int fd, size_t len, enum pmem2_granularity required, struct pmem2_map **map)
{
    struct pmem2_config *cfg = NULL;
    struct pmem2_source *src = NULL;
    int rc = pmem2_config_new(&cfg);
    if (rc)
        goto out;
    rc = pmem2_config_set_required_store_granularity(cfg, required);
    if (rc)
        goto out_cfg;
    if (len && (rc = pmem2_config_set_length(cfg, len)))
        goto out_cfg;
    rc = pmem2_source_from_fd(&src, fd);
    if (rc)
        goto out_cfg;
    rc = pmem2_map_new(map, cfg, src);
    pmem2_source_delete(&src);
out_cfg:
    pmem2_config_delete(&cfg);
out:
    return rc;
}

/* copy_persist: libpmem2's memcpy (which persists) of a pattern into MAP. */
static void copy_persist(struct pmem2_map *map, size_t len, uint32_t seed)
{
    char *buf = malloc(len);
    EXPECT(buf != NULL, "malloc");
    if (!buf)
        return;
    fill(buf, len, seed);
    pmem2_memcpy_fn copy = pmem2_get_memcpy_fn(map);
    pmem2_persist_fn persist = pmem2_get_persist_fn(map);
    EXPECT(copy != NULL && persist != NULL, "no memcpy/persist function");
    if (copy && persist) {
        char *dst = pmem2_map_get_address(map);
        copy(dst, buf, len, 0);
        persist(dst, len);
        EXPECT(same(dst, len, seed), "the mapping does not read back what was copied");
    }
    free(buf);
}

/* open_sized: a new file of LEN bytes in DIR (unlinked on close by the caller). */
static int open_sized(const char *dir, size_t len, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/kernel_paths.XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return -errno;
    int rc = posix_fallocate(fd, 0, (off_t)len);
    if (rc) {
        close(fd);
        unlink(path);
        return -rc;
    }
    return fd;
}

static int phase_fsdax(void)
{
    const char *dir = getenv("MOETIER_GUEST_PMEM_DIR");
    const size_t len = 4 * MiB;
    char path[512], tpath[512];
    struct pmem2_map *map = NULL;

    if (!dir) {
        fprintf(stderr, "fsdax: MOETIER_GUEST_PMEM_DIR is not set\n");
        return 1;
    }
    int fd = open_sized(dir, len, path, sizeof path);
    EXPECT(fd >= 0, "creating a file in %s: %s", dir, strerror(-fd));
    if (fd < 0)
        return 0;
    int rc = map_pmem2(fd, 0, PMEM2_GRANULARITY_PAGE, &map);
    EXPECT(rc == 0, "pmem2_map_new on %s: %s", path, pmem2_errormsg());
    if (rc == 0) {
        enum pmem2_granularity g = pmem2_map_get_store_granularity(map);
        printf("fsdax file %s: %zu bytes mapped, store granularity %s\n", path,
               pmem2_map_get_size(map), gran_name(g));
        EXPECT(g == PMEM2_GRANULARITY_CACHE_LINE || g == PMEM2_GRANULARITY_BYTE,
               "granularity %s on a DAX file (expected CACHE_LINE or BYTE)", gran_name(g));
        copy_persist(map, len, 0xda50f5u);
        pmem2_map_delete(&map);
        /* read back through the file, not the mapping */
        char *buf = malloc(len);
        EXPECT(buf && pread(fd, buf, len, 0) == (ssize_t)len, "pread: %s", strerror(errno));
        if (buf)
            EXPECT(same(buf, len, 0xda50f5u), "the file does not hold what was persisted");
        free(buf);
    }
    close(fd);
    unlink(path);

    /* the control: a tmpfs file is not DAX */
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    fd = open_sized(tmp, len, tpath, sizeof tpath);
    EXPECT(fd >= 0, "creating a file in %s: %s", tmp, strerror(-fd));
    if (fd < 0)
        return 0;
    rc = map_pmem2(fd, 0, PMEM2_GRANULARITY_PAGE, &map);
    EXPECT(rc == 0, "pmem2_map_new on tmpfs %s: %s", tpath, pmem2_errormsg());
    if (rc == 0) {
        enum pmem2_granularity g = pmem2_map_get_store_granularity(map);
        printf("tmpfs file: store granularity %s\n", gran_name(g));
        EXPECT(g == PMEM2_GRANULARITY_PAGE, "granularity %s on tmpfs (expected PAGE)", gran_name(g));
        pmem2_map_delete(&map);
    }
    rc = map_pmem2(fd, 0, PMEM2_GRANULARITY_CACHE_LINE, &map);
    EXPECT(rc == PMEM2_E_GRANULARITY_NOT_SUPPORTED,
           "requiring CACHE_LINE on tmpfs returned %d (%s), expected GRANULARITY_NOT_SUPPORTED", rc,
           rc ? pmem2_errormsg() : "mapped");
    if (rc == 0)
        pmem2_map_delete(&map);
    close(fd);
    unlink(tpath);
    return 0;
}

/* dax_align: the device's alignment from sysfs, or -errno. */
static long dax_align(const char *dev)
{
    char p[256], b[64];
    const char *name = strrchr(dev, '/') ? strrchr(dev, '/') + 1 : dev;
    snprintf(p, sizeof p, "/sys/bus/dax/devices/%s/align", name);
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    b[n] = 0;
    return strtol(b, NULL, 0);
}

static int phase_devdax(void)
{
    const char *dev = getenv("MOETIER_GUEST_DAX");
    if (!dev) {
        fprintf(stderr, "devdax: MOETIER_GUEST_DAX is not set\n");
        return 1;
    }
    long align = dax_align(dev);
    EXPECT(align == (long)(2 * MiB), "%s alignment %ld (expected 2 MiB)", dev, align);
    if (align <= 0)
        align = 2 * MiB;
    int fd = open(dev, O_RDWR);
    EXPECT(fd >= 0, "open %s: %s", dev, strerror(errno));
    if (fd < 0)
        return 0;
    struct stat st;
    EXPECT(fstat(fd, &st) == 0 && S_ISCHR(st.st_mode), "%s is not a character device", dev);

    /* aligned MAP_SHARED: works, and stores read back */
    size_t len = 2 * (size_t)align;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    EXPECT(p != MAP_FAILED, "mmap(%zu, MAP_SHARED) of %s: %s", len, dev, strerror(errno));
    if (p != MAP_FAILED) {
        EXPECT(((uintptr_t)p & (align - 1)) == 0, "mapping at %p is not %ld-aligned", p, align);
        fill(p, len, 0xda);
        EXPECT(same(p, len, 0xda), "device-dax stores do not read back");
        /* a split at an unaligned address is refused */
        errno = 0;
        int rc = munmap(p + page_size, page_size);
        EXPECT(rc == -1 && errno == EINVAL, "munmap of one page inside a device-dax mapping: rc %d (%s)",
               rc, strerror(errno));
        printf("devdax: %zu bytes mapped at %p; unaligned split refused (%s)\n", len, (void *)p,
               strerror(errno));
        munmap(p, len);
    }
    /* an unaligned length is refused */
    void *q = mmap(NULL, (size_t)align + page_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    EXPECT(q == MAP_FAILED, "mmap of an unaligned length was accepted");
    if (q != MAP_FAILED)
        munmap(q, (size_t)align + page_size);
    /* MAP_PRIVATE is refused */
    q = mmap(NULL, (size_t)align, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    EXPECT(q == MAP_FAILED, "mmap(MAP_PRIVATE) of device-dax was accepted");
    if (q != MAP_FAILED)
        munmap(q, (size_t)align);
    /* no read(2) */
    char b[64];
    errno = 0;
    ssize_t n = read(fd, b, sizeof b);
    EXPECT(n < 0, "read(2) on device-dax returned %zd", n);
    printf("devdax: unaligned length, MAP_PRIVATE refused; read(2): %s\n", strerror(errno));

    /* libpmem2 on the device */
    struct pmem2_source *src = NULL;
    int rc = pmem2_source_from_fd(&src, fd);
    EXPECT(rc == 0, "pmem2_source_from_fd(%s): %s", dev, pmem2_errormsg());
    if (rc == 0) {
        size_t sa = 0, ss = 0;
        EXPECT(pmem2_source_alignment(src, &sa) == 0 && sa == (size_t)align,
               "pmem2_source_alignment %zu (sysfs says %ld)", sa, align);
        EXPECT(pmem2_source_size(src, &ss) == 0 && ss >= len, "pmem2_source_size %zu", ss);
        printf("devdax: libpmem2 source of %zu bytes, alignment %zu\n", ss, sa);
        pmem2_source_delete(&src);
    }
    struct pmem2_map *map = NULL;
    rc = map_pmem2(fd, len, PMEM2_GRANULARITY_PAGE, &map);
    EXPECT(rc == 0, "pmem2_map_new on %s: %s", dev, pmem2_errormsg());
    if (rc == 0) {
        enum pmem2_granularity g = pmem2_map_get_store_granularity(map);
        printf("devdax: libpmem2 mapped %zu bytes, store granularity %s\n", pmem2_map_get_size(map),
               gran_name(g));
        EXPECT(g == PMEM2_GRANULARITY_CACHE_LINE || g == PMEM2_GRANULARITY_BYTE,
               "granularity %s on device-dax", gran_name(g));
        copy_persist(map, len, 0xd0d0);
        pmem2_map_delete(&map);
        /* another mapping of the device sees the persisted bytes */
        p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
        EXPECT(p != MAP_FAILED && same(p, len, 0xd0d0), "a second mapping does not see the copy");
        if (p != MAP_FAILED)
            munmap(p, len);
    }
    close(fd);
    return 0;
}

/*
 * tier_of: the memory tier (N of memory_tierN) NODE belongs to, from
 * /sys/devices/virtual/memory_tiering; -ENOENT when the kernel has no tiers,
 * -ESRCH when no tier lists the node.
 */
static int tier_of(int node)
{
    char p[256], b[256];
    int found = -ESRCH, any = 0;
    for (int t = 0; t < 4096; t++) {
        snprintf(p, sizeof p, "/sys/devices/virtual/memory_tiering/memory_tier%d/nodelist", t);
        int fd = open(p, O_RDONLY);
        if (fd < 0)
            continue;
        any = 1;
        ssize_t n = read(fd, b, sizeof b - 1);
        close(fd);
        if (n <= 0)
            continue;
        b[n] = 0;
        b[strcspn(b, "\n")] = 0;
        struct bitmask *bm = numa_parse_nodestring_all(b);
        if (bm && numa_bitmask_isbitset(bm, node))
            found = t;
        if (bm)
            numa_bitmask_free(bm);
    }
    return any ? found : -ENOENT;
}

static int phase_kmem(void)
{
    const char *s = getenv("MOETIER_GUEST_KMEM_NODE");
    if (!s || !*s) {
        fprintf(stderr, "kmem: MOETIER_GUEST_KMEM_NODE is not set\n");
        return 1;
    }
    int node = atoi(s);
    EXPECT(node > 0, "KMEM node %d", node);
    if (node <= 0)
        return 0;
    check_cpuless_node(node);
    int t0 = tier_of(0), tk = tier_of(node);
    if (t0 == -ENOENT) {
        printf("kmem: no /sys/devices/virtual/memory_tiering (kernel without memory tiers)\n");
    } else {
        printf("kmem: node 0 in memory_tier%d, node %d in memory_tier%d\n", t0, node, tk);
        EXPECT(t0 >= 0 && tk >= 0, "node 0 tier %d, node %d tier %d", t0, node, tk);
        EXPECT(tk > t0, "node %d (tier %d) is not in a lower tier than node 0 (tier %d)", node, tk, t0);
    }
    check_migration(node, "kmem");
    return 0;
}

int main(int argc, char **argv)
{
    const char *phase = argc > 1 ? argv[1] : "";
    setvbuf(stdout, NULL, _IOLBF, 0);
    page_size = sysconf(_SC_PAGESIZE);
    if (!getenv("MOETIER_GUEST")) {
        printf("SKIP: guest_kernel_paths runs inside the qemu guest (tests/qemu/run-guest)\n");
        return 77;
    }
    if (numa_available() < 0) {
        fprintf(stderr, "libnuma: NUMA is not available\n");
        return 1;
    }
    int rc;
    if (strcmp(phase, "numa") == 0)
        rc = phase_numa();
    else if (strcmp(phase, "fsdax") == 0)
        rc = phase_fsdax();
    else if (strcmp(phase, "devdax") == 0)
        rc = phase_devdax();
    else if (strcmp(phase, "kmem") == 0)
        rc = phase_kmem();
    else {
        printf("SKIP: no checks for phase '%s'\n", phase);
        return 77;
    }
    if (rc)
        return rc;
    char name[64];
    snprintf(name, sizeof name, "guest_kernel_paths %s", phase);
    return check_exit(name);
}
