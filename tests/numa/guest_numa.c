/*
 * guest_numa PHASE: the numa:N slow tier on real kernel paths, inside the
 * qemu guest (docs/QEMU.md) that has a CPU-less NUMA node.
 *
 * Contract with tests/qemu/run-guest: PHASE is numa|fsdax|devdax|kmem; the
 * environment has MOETIER_GUEST_CPULESS_NODE (the memory-only node) and, in
 * phase kmem, MOETIER_GUEST_KMEM_NODE (the NVDIMM turned system-ram). Exit 0
 * pass, 1 fail, 77 nothing to do in this phase. Scratch files go to
 * MOETIER_GUEST_TMP, else TMPDIR, else /tmp. libjemalloc.so.2 is dlopen'd, so
 * the guest needs it although ldd does not list it.
 *
 * In phases numa and kmem, with N the slow node: N is CPU-less with memory;
 * slow-arena allocations have every page on N; anonymous ranges move N -> 0
 * -> N with every page confirmed by move_pages status; the policy bracket
 * around a MAP_POPULATE mmap of a file places page-cache pages (reported per
 * node, asserted where the kernel's behaviour is certain); those file pages
 * move while this process alone maps them, and are refused (-EACCES) while a
 * child maps them too; checksums are identical before and after every move.
 * Move throughput is printed (under TCG it is only indicative).
 */
#include "config.h"
#include "tests/numa/numa_test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>

#define TMPFS_MAGIC_ 0x01021994
#define RAMFS_MAGIC_ 0x858458f6
#define EXT4_MAGIC_ 0xEF53

static size_t pg;
static int slow, dram;
static int first_read_checked; /* a file read for the first time was placed */
static const char *phase;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t count_on(const void *p, size_t n, int node, struct moetier_numa_where *wout)
{
    uint64_t per[MOETIER_NUMA_MAX_NODES] = { 0 };
    struct moetier_numa_where w;
    CHECK(moetier_numa_where(p, n, MOETIER_NUMA_COVER, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
    if (wout)
        *wout = w;
    return per[node];
}

static void print_where(const char *what, const void *p, size_t n)
{
    uint64_t per[MOETIER_NUMA_MAX_NODES] = { 0 };
    struct moetier_numa_where w;
    CHECK(moetier_numa_where(p, n, MOETIER_NUMA_COVER, per, MOETIER_NUMA_MAX_NODES, &w) == 0);
    printf("%s: %llu pages:", what, (unsigned long long)w.pages);
    for (int i = 0; i < MOETIER_NUMA_MAX_NODES; i++)
        if (per[i])
            printf(" node%d=%llu", i, (unsigned long long)per[i]);
    printf(" not_present=%llu fault=%llu\n", (unsigned long long)w.not_present, (unsigned long long)w.fault);
}

/* Moves [p, p+n) to node; checks every page got there and the bytes did not change. */
static double move_checked(const char *what, void *p, size_t n, int node)
{
    uint64_t before = nt_sum(p, n);
    struct moetier_numa_moved r;
    double t0 = now();
    int rc = moetier_numa_move(p, n, node, MOETIER_NUMA_COVER, &r);
    double dt = now() - t0;
    CHECK(rc == 0);
    nt_print_moved(what, &r);
    CHECK(r.moved + r.already == r.pages);
    CHECK(count_on(p, n, node, NULL) == r.pages);
    CHECK(nt_sum(p, n) == before);
    return r.moved && dt > 0 ? r.moved * pg / (double)MiB / dt : 0;
}

static void test_topology(void)
{
    struct moetier_numa_topo t;
    CHECK(moetier_numa_discover(&t) == 0);
    for (int i = 0; i < t.n; i++)
        printf("node %d: cpus %s memory %s total %llu MiB free %llu MiB tier %d\n", t.node[i].id,
               t.node[i].has_cpu ? "yes" : "no", t.node[i].has_memory ? "yes" : "no",
               (unsigned long long)(t.node[i].total >> 20), (unsigned long long)(t.node[i].free >> 20),
               t.node[i].tier);
    const struct moetier_numa_node *nd = moetier_numa_node_get(&t, slow);
    CHECK(nd != NULL);
    if (!nd)
        return;
    CHECK(!nd->has_cpu);
    CHECK(nd->has_memory && nd->total > 0);
    char spec[32], msg[256];
    int parsed = -1;
    snprintf(spec, sizeof spec, "numa:%d", slow);
    CHECK(moetier_numa_spec_parse(spec, &t, &parsed, msg, sizeof msg) == 0);
    CHECK(parsed == slow && msg[0] == 0); /* CPU-less: no warning */
    int near[4];
    int k = moetier_numa_near_dram(&t, -1, near, 4);
    CHECK(k >= 1);
    dram = k >= 1 ? near[0] : 0;
    printf("slow node %d (CPU-less), DRAM next to this CPU: node %d\n", slow, dram);
    const struct moetier_numa_node *dn = moetier_numa_node_get(&t, dram);
    if (dn && nd->tier >= 0 && dn->tier >= 0)
        printf("memory tiers: slow node in memory_tier%d, DRAM in memory_tier%d\n", nd->tier, dn->tier);
}

static void test_arena(void)
{
    struct moetier_slow_arena *a = NULL;
    char err[512];
    int rc = moetier_slow_arena_open(slow, 256 * MiB, err, sizeof err, &a);
    if (rc)
        printf("slow arena: %s%s\n", err,
               strstr(err, "cannot open") ? " (copy libjemalloc.so.2 and libstdc++ into the guest: it is "
                                            "dlopen'd, ldd does not list it)"
                                          : "");
    CHECK(rc == 0);
    if (rc)
        return;
    size_t sz[3] = { 8 * MiB, 33 * MiB + 123, 4 * MiB };
    size_t al[3] = { 0, 0, 2 * MiB };
    char *b[3];
    uint64_t sum[3];
    for (int i = 0; i < 3; i++) {
        b[i] = moetier_slow_arena_alloc(a, sz[i], al[i]);
        CHECK(b[i] && (uintptr_t)b[i] % (al[i] ? al[i] : pg) == 0);
        if (!b[i])
            goto out;
        nt_fill(b[i], sz[i], 100 + i);
        sum[i] = nt_sum(b[i], sz[i]);
        struct moetier_numa_where w;
        uint64_t on = count_on(b[i], sz[i], slow, &w);
        printf("arena buffer %d (%zu bytes): %llu of %llu pages on node %d\n", i, sz[i], (unsigned long long)on,
               (unsigned long long)w.pages, slow);
        CHECK(on == w.pages);
    }
    /* promote one buffer to DRAM and demote it again: addresses unchanged */
    double up = move_checked("arena buffer 1 -> dram", b[1], sz[1], dram);
    double down = move_checked("arena buffer 1 -> slow", b[1], sz[1], slow);
    printf("move_pages %s: slow->dram %.0f MiB/s, dram->slow %.0f MiB/s (33 MiB; under TCG only indicative)\n",
           phase, up, down);
    /* an unaligned expert-like slice: its interior only, but the kernel moves
     * whole folios, so a huge page (THP) around it moves entirely */
    struct moetier_numa_moved r;
    CHECK(moetier_numa_move(b[0] + 32, 10 * pg, dram, 0, &r) == 0);
    CHECK(r.pages == 9 && r.moved == 9 && r.edge == 2);
    uint64_t went = count_on(b[0], sz[0], dram, NULL);
    printf("moving a 9-page interior moved %llu pages of the buffer (whole folios)\n", (unsigned long long)went);
    CHECK(went >= 9);
    CHECK(moetier_numa_move(b[0], sz[0], slow, 0, &r) == 0 && r.moved == went);
    CHECK(count_on(b[0], sz[0], slow, NULL) == sz[0] / pg);
    for (int i = 0; i < 3; i++) {
        CHECK(nt_sum(b[i], sz[i]) == sum[i]);
        CHECK(moetier_slow_arena_free(a, b[i]) == 0);
    }
out:
    moetier_slow_arena_close(a);
}

static void test_anon(void)
{
    size_t n = 64 * MiB;
    char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED);
    if (p == MAP_FAILED)
        return;
    CHECK(moetier_numa_bind(p, n, dram, 0) == 0);
    nt_fill(p, n, 7);
    double down = move_checked("anon 64 MiB -> slow", p, n, slow);
    double up = move_checked("anon 64 MiB -> dram", p, n, dram);
    printf("move_pages %s: dram->slow %.0f MiB/s, slow->dram %.0f MiB/s (64 MiB; under TCG only indicative)\n",
           phase, down, up);
    /* mbind with MPOL_MF_MOVE moves what is there, and later faults follow it */
    uint64_t s = nt_sum(p, n);
    CHECK(moetier_numa_bind(p, n, slow, MOETIER_NUMA_STRICT) == 0);
    CHECK(count_on(p, n, slow, NULL) == n / pg);
    CHECK(nt_sum(p, n) == s);
    munmap(p, n);

    /* a page only read maps the shared zero page: report what move_pages says */
    char *z = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(z != MAP_FAILED);
    if (z != MAP_FAILED) {
        volatile char c = z[0];
        (void)c;
        struct moetier_numa_where w;
        uint64_t on0 = count_on(z, pg, dram, &w);
        printf("zero page: %s\n", w.fault ? "-EFAULT" : on0 ? "on the DRAM node" : "elsewhere");
        CHECK(w.not_present == 0);
        munmap(z, pg);
    }
}

static const char *fs_name(long type)
{
    switch (type) {
    case TMPFS_MAGIC_: return "tmpfs";
    case RAMFS_MAGIC_: return "ramfs";
    case EXT4_MAGIC_: return "ext4";
    default: return "other";
    }
}

static int mkfile(const char *dir, size_t n, uint64_t seed, char *path, size_t cap)
{
    snprintf(path, cap, "%s/moetier-guest-numa-XXXXXX", dir);
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return -1;
    char *buf = malloc(MiB);
    for (size_t off = 0; off < n; off += MiB) {
        nt_fill(buf, MiB, seed + off);
        CHECK(write(fd, buf, MiB) == (ssize_t)MiB);
    }
    free(buf);
    CHECK(fsync(fd) == 0);
    return fd;
}

static size_t resident(int fd, size_t n)
{
    void *m = mmap(NULL, n, PROT_READ, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return (size_t)-1;
    unsigned char vec[4096];
    size_t pages = n / pg, r = 0;
    if (pages <= sizeof vec && mincore(m, n, vec) == 0)
        for (size_t i = 0; i < pages; i++)
            r += vec[i] & 1;
    else
        r = (size_t)-1;
    munmap(m, n);
    return r;
}

/* mmap(MAP_SHARED|MAP_POPULATE) of fd inside the bracket; returns the mapping. */
static char *populate_on_slow(int fd, size_t n)
{
    struct moetier_numa_policy saved;
    CHECK(moetier_numa_policy_push(slow, MOETIER_NUMA_POLICY_PREFERRED, &saved) == 0);
    char *m = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    CHECK(moetier_numa_policy_pop(&saved) == 0);
    CHECK(m != MAP_FAILED);
    return m == MAP_FAILED ? NULL : m;
}

static void test_page_cache(const char *dir)
{
    struct statfs sf;
    CHECK(statfs(dir, &sf) == 0);
    const char *fs = fs_name((long)sf.f_type);
    printf("page cache: files in %s (%s)\n", dir, fs);
    size_t n = 16 * MiB;
    char path[256];

    /* (a) a file written outside the bracket, its cache dropped where the fs can */
    int fd = mkfile(dir, n, 1, path, sizeof path);
    if (fd < 0)
        return;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    size_t res = resident(fd, n);
    char *m = populate_on_slow(fd, n);
    if (m) {
        struct moetier_numa_where w;
        uint64_t on = count_on(m, n, slow, &w);
        printf("(a) written outside, %zu of %zu pages still cached before the populating mmap\n", res, n / pg);
        print_where("(a) MAP_POPULATE inside the bracket", m, n);
        if (res == 0) { /* read for the first time: the bracket decides */
            CHECK(on == n / pg);
            first_read_checked = 1;
        } else
            printf("(a) %s keeps written pages where write() put them: the bracket cannot place them\n", fs);
        munmap(m, n);
    }
    close(fd);
    unlink(path);

    /* (b) a file written inside the bracket: its pages are born on the slow node */
    struct moetier_numa_policy saved;
    CHECK(moetier_numa_policy_push(slow, MOETIER_NUMA_POLICY_PREFERRED, &saved) == 0);
    fd = mkfile(dir, n, 2, path, sizeof path);
    CHECK(moetier_numa_policy_pop(&saved) == 0);
    if (fd < 0)
        return;
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    m = populate_on_slow(fd, n);
    if (!m) {
        close(fd);
        unlink(path);
        return;
    }
    print_where("(b) written and populated inside the bracket", m, n);
    CHECK(count_on(m, n, slow, NULL) == n / pg);
    uint64_t sum = nt_sum(m, n);

    /* this process alone maps them: they move (ramfs folios cannot migrate) */
    struct moetier_numa_moved r;
    CHECK(moetier_numa_move(m, n, dram, 0, &r) == 0);
    nt_print_moved("(b) file pages -> dram", &r);
    if ((long)sf.f_type != RAMFS_MAGIC_)
        CHECK(r.moved == n / pg);
    CHECK(nt_sum(m, n) == sum);
    CHECK(moetier_numa_move(m, n, slow, 0, &r) == 0);
    nt_print_moved("(b) file pages -> slow", &r);
    CHECK(nt_sum(m, n) == sum);

    /* a child maps them too: -EACCES for every page both map */
    int go[2], done[2];
    CHECK(pipe(go) == 0 && pipe(done) == 0);
    pid_t child = fork();
    if (child == 0) {
        char *cm = mmap(NULL, n, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
        volatile uint64_t s = cm == MAP_FAILED ? 0 : nt_sum(cm, n);
        (void)s;
        char c = 1;
        if (write(done[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
            _exit(2);
        _exit(0);
    }
    char c;
    CHECK(read(done[0], &c, 1) == 1);
    int target = count_on(m, n, slow, NULL) ? dram : slow;
    CHECK(moetier_numa_move(m, n, target, 0, &r) == 0);
    nt_print_moved("(b) file pages mapped by a child too", &r);
    CHECK(r.shared == n / pg && r.moved == 0);
    CHECK(nt_sum(m, n) == sum);
    CHECK(write(go[1], &c, 1) == 1);
    int st;
    CHECK(waitpid(child, &st, 0) == child && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(go[0]);
    close(go[1]);
    close(done[0]);
    close(done[1]);
    munmap(m, n);
    close(fd);
    unlink(path);
}

/* An ext4 on a brd RAM disk, when MOETIER_GUEST_FILES holds brd.ko: a file
 * system whose clean page-cache pages can be dropped, so a file can be read
 * "for the first time" (tmpfs pages are the file itself). */
static int ext4_up(char *dir, size_t cap)
{
    const char *files = getenv("MOETIER_GUEST_FILES");
    char cmd[1024];
    if (!files)
        return -1;
    snprintf(cmd, sizeof cmd, "%s/brd.ko", files);
    if (access(cmd, R_OK))
        return -1;
    snprintf(dir, cap, "/tmp/moetier-numa-ext4");
    snprintf(cmd, sizeof cmd,
             "set -e; insmod %s/brd.ko rd_nr=1 rd_size=65536; mkfs.ext4 -q -F -b 4096 /dev/ram0 >/dev/null; "
             "mkdir -p %s; mount -t ext4 /dev/ram0 %s",
             files, dir, dir);
    int rc = system(cmd);
    if (rc) {
        printf("ext4 on brd: setup failed (%d): %s\n", rc, cmd);
        CHECK(rc == 0);
        system("rmmod brd 2>/dev/null");
        return -1;
    }
    return 0;
}

static void ext4_down(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "umount %s && rmmod brd", dir);
    CHECK(system(cmd) == 0);
}

static int env_node(const char *name)
{
    const char *s = getenv(name);
    char *end;
    if (!s || !*s)
        return -1;
    long v = strtol(s, &end, 10);
    return *end || v < 0 || v >= MOETIER_NUMA_MASK_BITS ? -1 : (int)v;
}

/* run-guest copies only what ldd lists; jemalloc (dlopen'd) and its C++
 * runtime come in with --file into MOETIER_GUEST_FILES: put that on the
 * library path, which ld.so reads at start, so re-exec (with the tunable). */
static void guest_libs(char **argv)
{
    const char *dir = getenv("MOETIER_GUEST_FILES"), *cur = getenv("LD_LIBRARY_PATH");
    char path[512];
    if (!dir || (cur && strstr(cur, dir)))
        return;
    snprintf(path, sizeof path, "%s/" MOETIER_SLOW_ARENA_JEMALLOC, dir);
    if (access(path, R_OK))
        return;
    snprintf(path, sizeof path, "%s%s%s", dir, cur && *cur ? ":" : "", cur && *cur ? cur : "");
    setenv("LD_LIBRARY_PATH", path, 1);
    const char *tun = getenv("GLIBC_TUNABLES");
    char val[1024];
    if (moetier_slow_arena_tunables(tun, val, sizeof val) == 0)
        setenv("GLIBC_TUNABLES", val, 1);
    fflush(stdout);
    execv("/proc/self/exe", argv);
    perror("execv /proc/self/exe");
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: guest_numa numa|fsdax|devdax|kmem\n");
        return 2;
    }
    phase = argv[1];
    if (!strcmp(phase, "fsdax") || !strcmp(phase, "devdax")) {
        printf("guest_numa %s: nothing to do in this phase\n", phase);
        return 77;
    }
    if (strcmp(phase, "numa") && strcmp(phase, "kmem")) {
        fprintf(stderr, "guest_numa: unknown phase %s\n", phase);
        return 2;
    }
    guest_libs(argv);
    nt_reexec_with_tunable(argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    pg = (size_t)sysconf(_SC_PAGESIZE);
    slow = env_node(!strcmp(phase, "kmem") ? "MOETIER_GUEST_KMEM_NODE" : "MOETIER_GUEST_CPULESS_NODE");
    if (slow < 0) {
        printf("guest_numa %s: %s not set: FAIL\n", phase,
               !strcmp(phase, "kmem") ? "MOETIER_GUEST_KMEM_NODE" : "MOETIER_GUEST_CPULESS_NODE");
        return 1;
    }
    test_topology();
    test_arena();
    test_anon();
    const char *tmp = getenv("MOETIER_GUEST_TMP");
    if (!tmp)
        tmp = getenv("TMPDIR");
    test_page_cache(tmp ? tmp : "/tmp");
    char ext4[256];
    if (ext4_up(ext4, sizeof ext4) == 0) {
        test_page_cache(ext4);
        ext4_down(ext4);
    }
    if (!first_read_checked)
        printf("no file was read for the first time (tmpfs keeps written pages; pass brd.ko with "
               "run-guest --file for an ext4 on a RAM disk): first-read placement not checked\n");
    printf("guest_numa %s: %d checks, %d failed\n", phase, check_count, check_failures);
    return check_failures ? 1 : 0;
}
