/*
 * test_migrate: promotion and demotion by remap on real memory (a real file
 * mapped MAP_SHARED read-only, real memfds, real MAP_FIXED), and every error
 * path of the migration engine by fault injection: after each failure the
 * range must read the file's bytes, be backed by a valid mapping, and the
 * cache must hold exactly the bytes it counts. Then the engine: slots moved
 * whole, budget held, hysteresis, exclusion, budget shrink, warm start.
 * Locking (the file tier's promotion in place): real mlock/munlock, checked
 * through VmLck and MADV_DONTNEED (which the kernel refuses on locked memory),
 * its fault paths, and a real RLIMIT_MEMLOCK refusal in a child without
 * CAP_IPC_LOCK.
 */
#include "config.h"

#include "tests/unit/check.h"
#include "tiering/engine.h"
#include "tiering/migrate.h"
#include "tests/tiering/vm_locked.h"
#include "tests/tiering/engine_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define FILE_BYTES (8u << 20)

static unsigned char *want; /* the file's bytes */
static unsigned char *map;  /* the file mapped shared, read-only: "the binary's" mapping */
static int src_fd;
static size_t page;

static int make_file(void)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char path[512];
    snprintf(path, sizeof path, "%s/test_migrate.XXXXXX", dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    want = malloc(FILE_BYTES);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < FILE_BYTES; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        want[i] = (unsigned char)x;
    }
    if (write(fd, want, FILE_BYTES) != (ssize_t)FILE_BYTES)
        return -1;
    map = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    src_fd = fd;
    return map == MAP_FAILED ? -1 : 0;
}

/* What backs addr: 'c' the cache memfd, 'f' the file, 'a' anonymous, '?' unmapped. */
static char backing(const void *addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[1024];
    char kind = '?';
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) != 2 || (uintptr_t)addr < lo || (uintptr_t)addr >= hi)
            continue;
        kind = strstr(line, "moetier-cache") ? 'c' : strstr(line, "test_migrate") ? 'f' : 'a';
        break;
    }
    if (f)
        fclose(f);
    return kind;
}

static int bytes_ok(const struct moetier_range *r)
{
    return memcmp((void *)r->addr, want + r->off, r->len) == 0;
}

static struct moetier_range range_at(size_t off, size_t len)
{
    struct moetier_range r = { .addr = (uintptr_t)map + off, .len = len, .file = 0, .off = off, .prot = PROT_READ };
    return r;
}

static void setup(struct moetier_dram_cache *c, struct moetier_migrator *m, uint64_t budget)
{
    uint64_t size = FILE_BYTES;
    CHECK(moetier_dram_cache_init(c, budget, 1, &size, 0) == 0);
    CHECK(moetier_migrate_init(m, c, 0) == 0);
    moetier_migrate_set_source(m, 0, src_fd, 0);
}

static void test_round_trip(void)
{
    struct moetier_dram_cache c;
    struct moetier_migrator m;
    setup(&c, &m, 1 << 20);
    struct moetier_range r = range_at(16 * page, 64 * page);
    CHECK(backing((void *)r.addr) == 'f');
    CHECK(moetier_migrate_promote(&m, &r) == 0);
    CHECK(backing((void *)r.addr) == 'c');
    CHECK(bytes_ok(&r));
    CHECK(c.used == r.len && moetier_dram_cache_resident(&c) == r.len);
    CHECK(m.n.promotions == 1 && m.n.bytes_promoted == r.len);
    /* a second range right after: the memfd offsets mirror the file's, so the two may merge */
    struct moetier_range r2 = range_at(80 * page, 16 * page);
    CHECK(moetier_migrate_promote(&m, &r2) == 0 && bytes_ok(&r2));
    CHECK(moetier_migrate_demote(&m, &r) == 0);
    CHECK(backing((void *)r.addr) == 'f' && bytes_ok(&r));
    CHECK(moetier_migrate_demote(&m, &r2) == 0 && bytes_ok(&r2));
    CHECK(c.used == 0 && moetier_dram_cache_resident(&c) == 0);
    /* over budget: refused before anything moves */
    struct moetier_range big = range_at(0, (1 << 20) + page);
    CHECK(moetier_migrate_promote(&m, &big) == -ENOSPC);
    CHECK(backing(map) == 'f' && c.used == 0);
    /* unaligned or writable ranges are refused */
    struct moetier_range bad = range_at(1, page);
    CHECK(moetier_migrate_promote(&m, &bad) == -EINVAL);
    bad = range_at(0, page);
    bad.prot = PROT_READ | PROT_WRITE;
    CHECK(moetier_migrate_promote(&m, &bad) == -EINVAL);
    moetier_dram_cache_free(&c);
}

/* After a failed operation: right bytes, expected backing, accounting exact. */
static void after_failure(const char *what, struct moetier_dram_cache *c, const struct moetier_range *r, char back,
                          uint64_t used)
{
    int ok = bytes_ok(r) && backing((void *)r->addr) == back && c->used == used &&
             moetier_dram_cache_resident(c) == used;
    if (!ok)
        fprintf(stderr, "after %s: bytes %s, backing %c (want %c), used %llu resident %llu (want %llu)\n", what,
                bytes_ok(r) ? "ok" : "WRONG", backing((void *)r->addr), back, (unsigned long long)c->used,
                (unsigned long long)moetier_dram_cache_resident(c), (unsigned long long)used);
    CHECK(ok);
}

static void test_promote_faults(void)
{
    static const int errs[] = { EIO, ENOMEM, EFAULT };
    for (size_t i = 0; i < sizeof errs / sizeof *errs; i++) {
        struct moetier_dram_cache c;
        struct moetier_migrator m;
        setup(&c, &m, 4 << 20);
        struct moetier_range r = range_at(128 * page, 32 * page);
        moetier_migrate_inject(&m, MOETIER_FAULT_FILL, errs[i], 0, 1);
        CHECK(moetier_migrate_promote(&m, &r) == -errs[i]);
        after_failure("fill", &c, &r, 'f', 0);

        moetier_migrate_inject(&m, MOETIER_FAULT_MAP, errs[i], 0, 1);
        CHECK(moetier_migrate_promote(&m, &r) == -errs[i]);
        after_failure("map", &c, &r, 'f', 0);

        moetier_migrate_inject(&m, MOETIER_FAULT_MAP_HOLE, errs[i], 0, 1);
        CHECK(moetier_migrate_promote(&m, &r) == -errs[i]);
        after_failure("map leaving a hole", &c, &r, 'f', 0);
        CHECK(m.n.restored >= 1);

        /* the hole cannot be re-mapped from the file either: an anonymous copy fills it */
        moetier_migrate_inject(&m, MOETIER_FAULT_MAP_HOLE, errs[i], 0, 1);
        moetier_migrate_inject(&m, MOETIER_FAULT_RESTORE, errs[i], 0, 3);
        CHECK(moetier_migrate_promote(&m, &r) == -errs[i]);
        after_failure("map hole, restore failing", &c, &r, 'a', 0);
        CHECK(m.n.anon_rescues == 1);
        /* and the range can still be promoted and demoted afterwards */
        CHECK(moetier_migrate_promote(&m, &r) == 0);
        after_failure("promotion after a rescue", &c, &r, 'c', r.len);
        CHECK(moetier_migrate_demote(&m, &r) == 0);
        after_failure("demotion after a rescue", &c, &r, 'f', 0);

        moetier_migrate_inject(&m, MOETIER_FAULT_MAPCOUNT, 0, 0, 1);
        CHECK(moetier_migrate_promote(&m, &r) == -EMLINK);
        after_failure("map-count check", &c, &r, 'f', 0);
        CHECK(m.n.no_headroom == 1);
        /* each failure counted by kind, with the first one's errno (the shim's one warning per kind) */
        CHECK(m.fail[MOETIER_FAILED_CACHE] == 1 && m.fail_err[MOETIER_FAILED_CACHE] == errs[i]);
        CHECK(m.fail[MOETIER_FAILED_MAP_IN] == 3 && m.fail_err[MOETIER_FAILED_MAP_IN] == errs[i]);
        CHECK(m.fail[MOETIER_FAILED_MAP_OUT] == 0 && m.fail[MOETIER_FAILED_RELEASE] == 0);
        moetier_dram_cache_free(&c);
    }
}

static void test_demote_faults(void)
{
    struct moetier_dram_cache c;
    struct moetier_migrator m;
    setup(&c, &m, 4 << 20);
    struct moetier_range r = range_at(256 * page, 48 * page);
    CHECK(moetier_migrate_promote(&m, &r) == 0);

    moetier_migrate_inject(&m, MOETIER_FAULT_MAP, ENOMEM, 0, 1);
    CHECK(moetier_migrate_demote(&m, &r) == -ENOMEM);
    after_failure("demote map", &c, &r, 'c', r.len);

    moetier_migrate_inject(&m, MOETIER_FAULT_MAP_HOLE, ENOMEM, 0, 1);
    CHECK(moetier_migrate_demote(&m, &r) == -ENOMEM);
    after_failure("demote map leaving a hole", &c, &r, 'c', r.len);

    /* the memfd cannot be re-mapped: the file (same bytes) takes its place */
    moetier_migrate_inject(&m, MOETIER_FAULT_MAP_HOLE, ENOMEM, 0, 1);
    moetier_migrate_inject(&m, MOETIER_FAULT_RESTORE, ENOMEM, 0, 3);
    CHECK(moetier_migrate_demote(&m, &r) == -ENOMEM);
    CHECK(bytes_ok(&r) && backing((void *)r.addr) == 'f');
    CHECK(c.used == r.len); /* still counted: the caller thinks it is cached, and will demote again */
    CHECK(moetier_migrate_demote(&m, &r) == 0);
    after_failure("demotion again", &c, &r, 'f', 0);

    /* freeing the memfd pages fails: demoted, bytes stay counted until a retry works */
    CHECK(moetier_migrate_promote(&m, &r) == 0);
    moetier_migrate_inject(&m, MOETIER_FAULT_RELEASE, EIO, 0, 2);
    CHECK(moetier_migrate_demote(&m, &r) == 0);
    CHECK(backing((void *)r.addr) == 'f' && bytes_ok(&r) && c.used == r.len && m.n_pending == 1);
    moetier_migrate_retry_pending(&m); /* fails once more */
    CHECK(m.n_pending == 1 && c.used == r.len);
    moetier_migrate_retry_pending(&m);
    CHECK(m.n_pending == 0 && c.used == 0 && moetier_dram_cache_resident(&c) == 0);
    CHECK(m.fail[MOETIER_FAILED_MAP_OUT] == 3 && m.fail_err[MOETIER_FAILED_MAP_OUT] == ENOMEM);
    CHECK(m.fail[MOETIER_FAILED_RELEASE] == 1 && m.fail_err[MOETIER_FAILED_RELEASE] == EIO);
    CHECK(m.fail[MOETIER_FAILED_CACHE] == 0 && m.fail[MOETIER_FAILED_MAP_IN] == 0);
    moetier_dram_cache_free(&c);
}

static void test_map_count(void)
{
    struct moetier_dram_cache c;
    struct moetier_migrator m;
    setup(&c, &m, 4 << 20);
    long real = moetier_count_mappings();
    CHECK(real > 0 && m.map_now == real && m.map_max >= 1024);
    m.map_allowed = m.map_now + 2; /* room for exactly one isolated range */
    struct moetier_range a = range_at(0 * page, 8 * page), b = range_at(100 * page, 8 * page);
    CHECK(moetier_migrate_promote(&m, &a) == 0);
    CHECK(moetier_migrate_promote(&m, &b) == -EMLINK);
    after_failure("map-count limit", &c, &b, 'f', a.len);
    CHECK(moetier_migrate_recount(&m) == 0 && m.map_now <= real + 2);
    CHECK(moetier_migrate_demote(&m, &a) == 0);
    moetier_dram_cache_free(&c);
}

/* ---- locking in place ---- */

/* 1 when the kernel refuses to zap [addr, addr+len): it is locked. */
static int zap_refused(uintptr_t addr, size_t len)
{
    return madvise((void *)addr, len, MADV_DONTNEED) != 0 && errno == EINVAL;
}

static void lock_setup(struct moetier_dram_cache *c, struct moetier_migrator *m, uint64_t budget)
{
    setup(c, m, budget);
    moetier_migrate_set_lock(m);
}

static void test_lock(void)
{
    struct moetier_dram_cache c;
    struct moetier_migrator m;
    lock_setup(&c, &m, 1 << 20);
    uint64_t base = vm_locked();
    struct moetier_range r = range_at(64 * page, 32 * page);
    r.keep = r.addr + 8 * page; /* a sampler probe: stays unlocked */
    r.keep_len = 4 * page;
    CHECK(moetier_migrate_promote(&m, &r) == 0);
    CHECK(vm_locked() == base + 28 * page);
    CHECK(c.used == r.len && m.n.promotions == 1 && backing((void *)r.addr) == 'f' && bytes_ok(&r));
    CHECK(zap_refused(r.addr, page) && zap_refused(r.addr + 12 * page, page));
    CHECK(madvise((void *)r.keep, r.keep_len, MADV_DONTNEED) == 0); /* the probe can still be zapped */
    CHECK(bytes_ok(&r));
    CHECK(moetier_migrate_demote(&m, &r) == 0);
    CHECK(vm_locked() == base && c.used == 0 && !zap_refused(r.addr, page) && bytes_ok(&r));

    /* mlock fails (EAGAIN: could not lock; ENOMEM: the limit): nothing stays locked or counted */
    static const int errs[] = { EAGAIN, ENOMEM, EIO };
    for (size_t i = 0; i < sizeof errs / sizeof *errs; i++) {
        moetier_migrate_inject(&m, MOETIER_FAULT_FILL, errs[i], 0, 1);
        CHECK(moetier_migrate_promote(&m, &r) == -errs[i]);
        CHECK(vm_locked() == base && c.used == 0 && bytes_ok(&r));
    }
    CHECK(m.n.failed == 3 && m.fail[MOETIER_FAILED_LOCK] == 3 && m.fail_err[MOETIER_FAILED_LOCK] == EAGAIN);
    /* munlock fails: still promoted and counted, and a later demotion works */
    CHECK(moetier_migrate_promote(&m, &r) == 0);
    moetier_migrate_inject(&m, MOETIER_FAULT_RELEASE, ENOMEM, 0, 1);
    CHECK(moetier_migrate_demote(&m, &r) == -ENOMEM);
    CHECK(c.used == r.len && vm_locked() == base + 28 * page);
    CHECK(m.fail[MOETIER_FAILED_UNLOCK] == 1 && m.fail_err[MOETIER_FAILED_UNLOCK] == ENOMEM);
    CHECK(moetier_migrate_demote(&m, &r) == 0 && vm_locked() == base && c.used == 0);
    /* the map-count check and the budget refuse before anything is locked */
    moetier_migrate_inject(&m, MOETIER_FAULT_MAPCOUNT, 0, 0, 1);
    CHECK(moetier_migrate_promote(&m, &r) == -EMLINK && vm_locked() == base);
    struct moetier_range big = range_at(0, (1 << 20) + page);
    CHECK(moetier_migrate_promote(&m, &big) == -ENOSPC && vm_locked() == base && c.used == 0);
    /* a window unlocked after the fact */
    struct moetier_range w = range_at(200 * page, 16 * page);
    CHECK(moetier_migrate_promote(&m, &w) == 0 && vm_locked() == base + 16 * page);
    CHECK(moetier_migrate_unlock_window(&m, w.addr + 4 * page, 2 * page) == 0);
    CHECK(vm_locked() == base + 14 * page && !zap_refused(w.addr + 4 * page, 2 * page));
    CHECK(moetier_migrate_demote(&m, &w) == 0 && vm_locked() == base);
    CHECK(moetier_dram_cache_resident(&c) == 0); /* locking never touches the memfds */
    moetier_dram_cache_free(&c);
}

/* A real RLIMIT_MEMLOCK refusal: a child drops CAP_IPC_LOCK, sets a 64 KiB
 * limit and promotes 128 KiB; the kernel refuses, nothing stays locked. */
static void test_lock_rlimit(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
        struct __user_cap_data_struct d[2];
        if (syscall(SYS_capget, &hdr, d) == 0) {
            d[0].effective &= ~(1u << CAP_IPC_LOCK);
            d[0].permitted &= ~(1u << CAP_IPC_LOCK);
            d[0].inheritable &= ~(1u << CAP_IPC_LOCK);
            if (syscall(SYS_capset, &hdr, d) != 0)
                _exit(2);
        }
        struct rlimit rl = { 64 << 10, 64 << 10 };
        if (setrlimit(RLIMIT_MEMLOCK, &rl) != 0)
            _exit(3);
        struct moetier_dram_cache c;
        struct moetier_migrator m;
        lock_setup(&c, &m, 1 << 20);
        uint64_t base = vm_locked();
        struct moetier_range r = range_at(300 * page, (128 << 10) / page * page);
        int rc = moetier_migrate_promote(&m, &r);
        int ok = (rc == -ENOMEM || rc == -EPERM) && vm_locked() == base && c.used == 0 && m.n.failed == 1 &&
                 !zap_refused(r.addr, r.len) && bytes_ok(&r);
        if (!ok)
            fprintf(stderr, "rlimit: rc %d, VmLck %llu (base %llu), used %llu\n", rc,
                    (unsigned long long)vm_locked(), (unsigned long long)base, (unsigned long long)c.used);
        /* within the limit it works */
        struct moetier_range small = range_at(400 * page, 8 * page);
        ok = ok && moetier_migrate_promote(&m, &small) == 0 && moetier_migrate_demote(&m, &small) == 0;
        _exit(ok ? 0 : 1);
    }
    int st = 0;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* ---- the engine ---- */

static int engine_setup(struct moetier_engine *e, uint64_t budget)
{
    return engine_fixture(e, budget, map, src_fd, FILE_BYTES);
}

static int all_bytes_ok(struct moetier_engine *e)
{
    for (uint32_t s = 0; s < e->n_slots * 3; s++)
        if (e->range[s].len && !bytes_ok(&e->range[s]))
            return 0;
    return 1;
}

static void test_engine(void)
{
    struct moetier_engine e;
    CHECK(engine_setup(&e, 6 * 3 * 40 * 1024) == 0);
    CHECK(moetier_engine_count(&e, MOETIER_SLOT_SLOW) == L * E);
    uint64_t slot_bytes = e.bytes[0];
    CHECK(slot_bytes > 0 && slot_bytes < 3 * STRIDE && slot_bytes % page == 0);
    uint32_t cap = moetier_engine_capacity(&e);
    CHECK(cap >= 6 && cap <= 7);

    struct moetier_residency r;
    CHECK(moetier_residency_new(&r, "lfu", L, E, 2, cap, NULL) == 0);
    float rate[L * E] = { 0 };
    uint8_t used[L * E];
    /* experts 0 and 1 of each layer hot */
    for (int i = 0; i < 3; i++) {
        memset(used, 0, sizeof used);
        used[0] = used[1] = used[E + 0] = used[E + 1] = 1;
        moetier_residency_sample(&r, used);
    }
    rate[0] = rate[1] = rate[E] = rate[E + 1] = 1.0f;
    struct moetier_round out;
    moetier_engine_round(&e, &r, rate, 1000000, 0, &out);
    CHECK(out.promoted == 0); /* hysteresis: wanted for one round only */
    moetier_engine_round(&e, &r, rate, 2000000, 0, &out);
    CHECK(out.promoted == 4 && e.state[0] == MOETIER_SLOT_DRAM && e.state[E + 1] == MOETIER_SLOT_DRAM);
    CHECK(e.cache.used == e.bytes[0] + e.bytes[1] + e.bytes[E] + e.bytes[E + 1] && all_bytes_ok(&e));
    CHECK(backing((void *)e.range[0].addr) == 'c');

    /* the working set moves to experts 4..7 of layer 1: the engine follows, budget held */
    for (int i = 0; i < 20; i++) {
        memset(used, 0, sizeof used);
        for (int x = 4; x < 8; x++)
            used[E + x] = 1;
        moetier_residency_sample(&r, used);
    }
    for (int x = 4; x < 8; x++)
        rate[E + x] = 2.0f;
    for (int i = 0; i < 4; i++) {
        moetier_engine_round(&e, &r, rate, 10000000 + (uint64_t)i * 1000000, 0, &out);
        CHECK(e.cache.used <= e.cache.budget);
    }
    for (int x = 4; x < 8; x++)
        CHECK(e.state[E + x] == MOETIER_SLOT_DRAM);
    CHECK(all_bytes_ok(&e));

    /* a slot moves whole: its third part fails, the first two go back */
    uint32_t s = 2;
    memset(used, 0, sizeof used);
    used[s] = 1;
    for (int i = 0; i < 30; i++)
        moetier_residency_sample(&r, used);
    rate[s] = 9.0f;
    moetier_engine_round(&e, &r, rate, 20000000, 0, &out); /* first round wanted: not yet */
    CHECK(e.state[s] == MOETIER_SLOT_SLOW);
    uint64_t before = e.cache.used;
    moetier_migrate_inject(&e.mig, MOETIER_FAULT_FILL, EIO, 2, 1);
    moetier_engine_round(&e, &r, rate, 21000000, 0, &out);
    CHECK(e.state[s] == MOETIER_SLOT_SLOW && e.part_in[s] == 0);
    CHECK(e.cache.used <= before && all_bytes_ok(&e));
    moetier_engine_round(&e, &r, rate, 22000000, 0, &out); /* no fault now: it goes */
    CHECK(e.state[s] == MOETIER_SLOT_DRAM && all_bytes_ok(&e));

    /* excluded memory is never touched */
    uint32_t x = 3;
    moetier_engine_exclude(&e, e.range[x * 3].addr, e.range[x * 3].addr + 1);
    memset(used, 0, sizeof used);
    used[x] = 1;
    for (int i = 0; i < 30; i++)
        moetier_residency_sample(&r, used);
    rate[x] = 20.0f;
    for (int i = 0; i < 3; i++)
        moetier_engine_round(&e, &r, rate, 30000000 + (uint64_t)i * 1000000, 0, &out);
    CHECK(e.state[x] == MOETIER_SLOT_EXCLUDED && backing((void *)e.range[x * 3].addr) == 'f');

    /* budget shrink: demoted until it holds */
    CHECK(moetier_engine_set_budget(&e, 2 * slot_bytes, rate) == 0);
    CHECK(e.cache.used <= 2 * slot_bytes && moetier_engine_count(&e, MOETIER_SLOT_DRAM) <= 2 &&
          moetier_engine_count(&e, MOETIER_SLOT_DRAM) >= 1);
    CHECK(all_bytes_ok(&e) && moetier_dram_cache_resident(&e.cache) == e.cache.used);

    moetier_engine_demote_all(&e);
    CHECK(e.cache.used == 0 && moetier_engine_count(&e, MOETIER_SLOT_DRAM) == 0 && all_bytes_ok(&e));
    moetier_residency_free(&r);
    moetier_engine_free(&e);
}

/* Per token: the policy decided, so a round carries out the wanted set at
 * once (no rounds wanted first, no minimum residency); back in rounds, the
 * hysteresis returns. Budget held throughout. */
static void test_engine_per_token(void)
{
    struct moetier_engine e;
    CHECK(engine_setup(&e, 6 * 3 * 40 * 1024) == 0); /* fixture: promote after 2 rounds, 1000 ns resident */
    struct moetier_residency r;
    CHECK(moetier_residency_new(&r, "lfu", L, E, 2, moetier_engine_capacity(&e), NULL) == 0);
    float rate[L * E] = { 0 };
    uint8_t used[L * E];
    struct moetier_round out;
    moetier_engine_set_per_token(&e, 1);
    memset(used, 0, sizeof used);
    used[0] = used[1] = used[E + 0] = used[E + 1] = 1;
    moetier_residency_sample(&r, used);
    moetier_engine_round(&e, &r, rate, 1000, 0, &out);
    CHECK(out.promoted == 4 && e.state[0] == MOETIER_SLOT_DRAM && e.state[E + 1] == MOETIER_SLOT_DRAM);
    /* the working set moves: 1 ns later (well within the 1000 ns residency) the cache follows */
    for (int i = 0; i < 20; i++) {
        memset(used, 0, sizeof used);
        for (int x = 4; x < 8; x++)
            used[E + x] = 1;
        moetier_residency_sample(&r, used);
    }
    moetier_engine_round(&e, &r, rate, 1001, 0, &out);
    for (int x = 4; x < 8; x++)
        CHECK(e.state[E + x] == MOETIER_SLOT_DRAM);
    CHECK(out.demoted >= 1 && e.cache.used <= e.cache.budget && all_bytes_ok(&e));
    /* rounds again: a newly wanted slot waits for its second round */
    moetier_engine_set_per_token(&e, 0);
    CHECK(e.opts.promote_after == 2 && e.opts.min_resident_ns == 1000);
    memset(used, 0, sizeof used);
    used[2] = 1;
    for (int i = 0; i < 30; i++)
        moetier_residency_sample(&r, used);
    moetier_engine_round(&e, &r, rate, 5000, 0, &out);
    CHECK(e.state[2] == MOETIER_SLOT_SLOW);
    moetier_engine_round(&e, &r, rate, 6000, 0, &out);
    CHECK(e.state[2] == MOETIER_SLOT_DRAM && e.cache.used <= e.cache.budget);
    moetier_engine_demote_all(&e);
    moetier_residency_free(&r);
    moetier_engine_free(&e);
}

/* A residency that wants slots 0 and 1 (rate: theirs 1, the others 0), and one warm round towards it. */
static void promote_first_two(struct moetier_engine *e, struct moetier_residency *r, float *rate,
                              struct moetier_round *out)
{
    CHECK(moetier_residency_new(r, "lfu", L, E, 2, moetier_engine_capacity(e), NULL) == 0);
    memset(rate, 0, L * E * sizeof *rate);
    rate[0] = rate[1] = 1.0f;
    moetier_residency_seed(r, rate);
    moetier_engine_round(e, r, rate, 1000, 1, out);
}

/* The engine's GPU pin hook: pinned after promotion, unpinned before the
 * remap of a demotion (while the cache still backs the range). */
static int pins, unpins, unpinned_late;
static int record_pin(void *ctx, const struct moetier_range *r, int on)
{
    (void)ctx;
    if (on)
        pins++;
    else {
        unpins++;
        unpinned_late += backing((void *)r->addr) != 'c';
    }
    return 0;
}

static void test_engine_pin(void)
{
    struct moetier_engine e;
    CHECK(engine_setup(&e, 4 * 3 * 40 * 1024) == 0);
    e.pin = record_pin;
    struct moetier_residency r;
    struct moetier_round out;
    float rate[L * E];
    promote_first_two(&e, &r, rate, &out);
    CHECK(out.promoted == 2 && pins == 6 && e.pinned_bytes == e.cache.used);
    moetier_engine_demote_all(&e);
    CHECK(unpins == 6 && unpinned_late == 0 && e.pinned_bytes == 0 && e.cache.used == 0);
    moetier_residency_free(&r);
    moetier_engine_free(&e);
}

static void test_engine_warm_and_rate(void)
{
    struct moetier_engine e;
    CHECK(engine_setup(&e, 4 * 3 * 40 * 1024) == 0);
    uint32_t cap = moetier_engine_capacity(&e);
    struct moetier_residency r;
    CHECK(moetier_residency_new(&r, "predict", L, E, 2, cap, NULL) == 0);
    float rate[L * E] = { 0 };
    rate[5] = 0.9f, rate[E + 2] = 0.8f, rate[E + 3] = 0.7f, rate[1] = 0.6f, rate[7] = 0.1f;
    moetier_residency_seed(&r, rate);
    struct moetier_round out;
    moetier_engine_round(&e, &r, rate, 1000, 1, &out); /* warm: at once */
    CHECK(out.promoted == cap && cap == 4);
    CHECK(e.state[5] == MOETIER_SLOT_DRAM && e.state[E + 2] == MOETIER_SLOT_DRAM && e.state[1] == MOETIER_SLOT_DRAM);
    CHECK(e.state[7] == MOETIER_SLOT_SLOW);
    moetier_engine_demote_all(&e);

    /* rate limit: one slot per second's allowance */
    e.opts.bytes_per_s = e.bytes[0];
    e.last_round_ns = 0;
    e.allowance = 0;
    for (uint32_t i = 0; i < e.opts.promote_after; i++)
        moetier_engine_round(&e, &r, rate, 1000000000ull * (i + 1), 0, &out);
    CHECK(out.promoted == 1 && out.stopped_by == -EAGAIN);
    moetier_residency_free(&r);
    moetier_engine_free(&e);
}

/* Traffic: a sampled step's uses of cached slots are hits, the others are
 * misses read in place (their slot bytes); excluded slots are not counted. */
static void test_engine_account(void)
{
    struct moetier_engine e;
    CHECK(engine_setup(&e, 4 * 3 * 40 * 1024) == 0);
    struct moetier_residency r;
    struct moetier_round out;
    float rate[L * E];
    promote_first_two(&e, &r, rate, &out); /* slots 0 and 1 cached */
    moetier_engine_exclude(&e, e.range[E * 3].addr, e.range[E * 3].addr + 1); /* slot E */
    uint8_t used[L * E] = { 0 };
    used[0] = used[2] = used[3] = used[E] = 1;
    moetier_engine_account(&e, used);
    const struct moetier_engine_traffic *t = &e.traffic;
    CHECK(t->steps == 1 && t->accesses == 3 && t->hits == 1);
    CHECK(t->direct_bytes == e.bytes[2] + e.bytes[3] && t->prefetched_bytes == 0);
    memset(used, 0, sizeof used);
    used[1] = 1;
    moetier_engine_account(&e, used);
    CHECK(t->steps == 2 && t->accesses == 4 && t->hits == 2 && t->direct_bytes == e.bytes[2] + e.bytes[3]);
    moetier_engine_demote_all(&e);
    moetier_residency_free(&r);
    moetier_engine_free(&e);
}

/* The engine in locking mode: slots locked whole, probe windows kept unlocked. */
static void test_engine_lock(void)
{
    struct moetier_engine e;
    CHECK(engine_setup(&e, 4 * 3 * 40 * 1024) == 0);
    moetier_engine_set_lock(&e);
    uint64_t base = vm_locked();
    /* slot 0's probe, registered before promotion; slot 1's, after */
    uintptr_t probe0 = e.range[0].addr + page, probe1 = e.range[3].addr;
    moetier_engine_keep_unlocked(&e, 0, probe0, page);
    struct moetier_residency r;
    struct moetier_round out;
    float rate[L * E];
    promote_first_two(&e, &r, rate, &out);
    CHECK(out.promoted == 2 && e.state[0] == MOETIER_SLOT_DRAM && e.state[1] == MOETIER_SLOT_DRAM);
    CHECK(vm_locked() == base + e.bytes[0] + e.bytes[1] - page);
    CHECK(!zap_refused(probe0, page) && zap_refused(probe1, page));
    moetier_engine_keep_unlocked(&e, 1, probe1, page);
    CHECK(!zap_refused(probe1, page) && vm_locked() == base + e.bytes[0] + e.bytes[1] - 2 * page);
    CHECK(all_bytes_ok(&e) && backing((void *)e.range[0].addr) == 'f');
    /* budget shrink unlocks */
    CHECK(moetier_engine_set_budget(&e, e.bytes[0], rate) == 0 && moetier_engine_count(&e, MOETIER_SLOT_DRAM) == 1);
    moetier_engine_demote_all(&e);
    CHECK(vm_locked() == base && e.cache.used == 0 && all_bytes_ok(&e));
    moetier_residency_free(&r);
    moetier_engine_free(&e);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    if (make_file()) {
        perror("test file");
        return 1;
    }
    test_round_trip();
    test_promote_faults();
    test_demote_faults();
    test_map_count();
    test_lock();
    test_lock_rlimit();
    test_engine();
    test_engine_per_token();
    test_engine_lock();
    test_engine_warm_and_rate();
    test_engine_pin();
    test_engine_account();
    return check_exit("test_migrate");
}
