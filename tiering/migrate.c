/*
 * migrate: promotion and demotion of one range by remapping (see migrate.h for
 * the protocol and the failure rules).
 */
#include "config.h"

#include "tiering/migrate.h"
#include "common/fail_point.h"
#include "tiering/numa_tier.h"
#include "common/sysfs.h"
#include "common/page.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define VMAS_PER_RANGE 2 /* an isolated promoted range splits one VMA into three */

void moetier_touch_pages(const void *addr, size_t len)
{
    size_t page = moetier_page_size();
    for (size_t off = 0; off < len; off += page)
        (void)*(const volatile char *)((const char *)addr + off);
}

long moetier_count_mappings(void)
{
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char buf[8192];
    long lines = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    int e = n < 0 ? errno : 0;
    close(fd);
    return e ? -e : lines;
}

long moetier_max_map_count(void)
{
    uint64_t v = moetier_read_u64("/proc/sys/vm/max_map_count", 65530);
    return v > 0 && v < (uint64_t)LONG_MAX ? (long)v : 65530;
}

int moetier_migrate_init(struct moetier_migrator *m, struct moetier_dram_cache *cache, double map_share)
{
    memset(m, 0, sizeof *m);
    m->cache = cache;
    m->ops = &moetier_migrate_copy_ops; /* until the plan says lock or the slow tier is a node */
    for (int i = 0; i < MOETIER_CACHE_MAX_FILES; i++)
        m->src_fd[i] = -1;
    if (map_share <= 0 || map_share > 1)
        map_share = 0.75;
    m->map_max = moetier_max_map_count();
    m->map_allowed = (long)((double)m->map_max * map_share);
    return moetier_migrate_recount(m);
}

void moetier_migrate_set_source(struct moetier_migrator *m, uint32_t file, int fd, uint64_t base)
{
    if (file < MOETIER_CACHE_MAX_FILES) {
        m->src_fd[file] = fd;
        m->src_base[file] = base;
    }
}

int moetier_migrate_recount(struct moetier_migrator *m)
{
    long n = moetier_count_mappings();
    if (n < 0)
        return (int)n;
    m->map_now = n;
    return 0;
}

long moetier_migrate_headroom(const struct moetier_migrator *m)
{
    return m->map_allowed - m->map_now;
}

void moetier_migrate_inject(struct moetier_migrator *m, enum moetier_migrate_point at, int err, uint32_t skip,
                            uint32_t count)
{
    if ((int)at >= 0 && at < MOETIER_FAULT_POINTS) {
        m->fault_err[at] = err;
        m->fault_skip[at] = skip;
        m->fault_count[at] = count;
    }
}

/* The injected errno for a call at `at` (0: none, do the real call). */
static int injected(struct moetier_migrator *m, enum moetier_migrate_point at)
{
    if (!m->fault_count[at])
        return 0;
    if (m->fault_skip[at]) {
        m->fault_skip[at]--;
        return 0;
    }
    m->fault_count[at]--;
    return m->fault_err[at] ? m->fault_err[at] : EIO;
}

static const struct {
    const char *what, *left;
} failures[MOETIER_FAILED_KINDS] = {
    [MOETIER_FAILED_CACHE] = { "copying an expert into the DRAM cache", "the slot stays on the slow tier" },
    [MOETIER_FAILED_MAP_IN] = { "mapping the DRAM cache over an expert", "the slot stays on the slow tier" },
    [MOETIER_FAILED_MAP_OUT] = { "mapping an expert back onto the slow tier", "the slot stays in DRAM" },
    [MOETIER_FAILED_LOCK] = { "locking an expert's pages (mlock)", "the slot stays on the slow tier" },
    [MOETIER_FAILED_UNLOCK] = { "unlocking an expert's pages (munlock)", "the slot stays locked in DRAM" },
    [MOETIER_FAILED_MOVE_IN] = { "moving an expert's pages to the DRAM node (move_pages)", "the slot stays on the slow tier" },
    [MOETIER_FAILED_MOVE_OUT] = { "moving an expert's pages back to the slow node (move_pages)", "the slot stays in DRAM" },
    [MOETIER_FAILED_RELEASE] = { "freeing an expert's DRAM cache pages (punch hole)",
                                 "the pages stay counted against the budget and are freed later" },
};

const char *moetier_migrate_failure_what(enum moetier_migrate_failure k)
{
    return (unsigned)k < MOETIER_FAILED_KINDS ? failures[k].what : "?";
}

const char *moetier_migrate_failure_left(enum moetier_migrate_failure k)
{
    return (unsigned)k < MOETIER_FAILED_KINDS ? failures[k].left : "?";
}

/* Counts a failure of kind k (rc: -errno) for the caller's warning; returns rc. */
static int failed_as(struct moetier_migrator *m, enum moetier_migrate_failure k, int rc)
{
    if (!m->fail[k]++)
        m->fail_err[k] = -rc;
    return rc;
}

/* Page migration and locking move nothing of the source: whole cache units of r. */
static int check_in_place(const struct moetier_migrator *m, const struct moetier_range *r)
{
    size_t unit = m->cache->unit;
    return r->len && r->len % unit == 0 && r->addr % unit == 0 ? 0 : -EINVAL;
}

static int check_copy(const struct moetier_migrator *m, const struct moetier_range *r)
{
    size_t unit = m->cache->unit;
    if (r->file >= m->cache->n_files || m->src_fd[r->file] < 0 || r->len == 0 || r->len % unit ||
        r->addr % unit || r->off % unit || (r->prot & PROT_WRITE))
        return -EINVAL;
    return 0;
}

/* mmap(MAP_FIXED) of fd at off over r, or the injected failure of `map`. */
static int map_over(struct moetier_migrator *m, const struct moetier_range *r, int fd, uint64_t off, int may_fail)
{
    if (may_fail) {
        int e = injected(m, MOETIER_FAULT_MAP);
        if (e)
            return -e;
        e = injected(m, MOETIER_FAULT_MAP_HOLE);
        if (e) {
            munmap((void *)r->addr, r->len); /* what 6.1 does before it finds out it cannot map */
            return -e;
        }
    }
    void *p = MOETIER_FAIL("migrate.mmap_fixed") ? MAP_FAILED : mmap((void *)r->addr, r->len, r->prot, MAP_SHARED | MAP_FIXED, fd, (off_t)off);
    if (p == MAP_FAILED)
        return -errno;
    return 0;
}

/* Last resort for a hole: a private anonymous copy of the source bytes. */
static int anon_rescue(struct moetier_migrator *m, const struct moetier_range *r)
{
    int fd = m->src_fd[r->file];
    void *p = mmap((void *)r->addr, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    size_t done = 0;
    while (done < r->len) {
        ssize_t n = pread(fd, (char *)p + done, r->len - done, (off_t)(m->src_base[r->file] + r->off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* a short source (should not happen): the rest reads as zeros, never as a fault */
        done += (size_t)n;
    }
    mprotect(p, r->len, r->prot);
    m->n.anon_rescues++;
    return 0;
}

/* Puts back what held r before a failed remap: the source, or the memfd. */
static void restore(struct moetier_migrator *m, const struct moetier_range *r, int to_cache)
{
    int fd = to_cache ? moetier_dram_cache_fd(m->cache, r->file) : m->src_fd[r->file];
    uint64_t off = to_cache ? r->off : m->src_base[r->file] + r->off;
    for (int attempt = 0; attempt < 3; attempt++) {
        int e = injected(m, MOETIER_FAULT_RESTORE);
        if (!e && map_over(m, r, fd, off, 0) == 0) {
            m->n.restored++;
            return;
        }
    }
    if (to_cache) {
        /* the memfd copy is identical to the source: map the source instead */
        if (map_over(m, r, m->src_fd[r->file], m->src_base[r->file] + r->off, 0) == 0) {
            m->n.restored++;
            return;
        }
    }
    anon_rescue(m, r);
}

static int copy_detach(struct moetier_migrator *m, const struct moetier_range *r)
{
    if (map_over(m, r, m->src_fd[r->file], m->src_base[r->file] + r->off, 0) == 0)
        return 0;
    return anon_rescue(m, r);
}

static void release(struct moetier_migrator *m, uint32_t file, uint64_t off, size_t len)
{
    int e = injected(m, MOETIER_FAULT_RELEASE);
    int rc = e ? -e : moetier_dram_cache_release(m->cache, file, off, len);
    if (rc == 0)
        return;
    failed_as(m, MOETIER_FAILED_RELEASE, rc);
    if (m->n_pending < MOETIER_PENDING_MAX) {
        m->pending[m->n_pending].file = file;
        m->pending[m->n_pending].off = off;
        m->pending[m->n_pending].len = len;
        m->n_pending++;
    }
    /* else the bytes stay counted against the budget: over-counting is safe */
}

void moetier_migrate_retry_pending(struct moetier_migrator *m)
{
    int keep = 0;
    for (int i = 0; i < m->n_pending; i++) {
        int e = injected(m, MOETIER_FAULT_RELEASE);
        int rc = e ? -e : moetier_dram_cache_release(m->cache, m->pending[i].file, m->pending[i].off, m->pending[i].len);
        if (rc)
            m->pending[keep++] = m->pending[i];
    }
    m->n_pending = keep;
}



/* Page migration of r to node: 0 when at least some pages are there now. */
static int move_range(struct moetier_migrator *m, const struct moetier_range *r, int node)
{
    int e = injected(m, MOETIER_FAULT_FILL);
    if (e)
        return -e;
    struct moetier_numa_moved res;
    moetier_touch_pages((const void *)r->addr, r->len);
    int rc = moetier_numa_move((void *)r->addr, r->len, node, MOETIER_NUMA_INTERIOR, &res);
    if (rc)
        return rc;
    uint64_t there = res.moved + res.already;
    if (there < res.pages - res.not_present)
        m->n.partial++;
    if (there == 0 && res.pages > res.not_present)
        return res.shared ? -EACCES : res.busy ? -EBUSY : res.nomem ? -ENOMEM : -EIO;
    return 0;
}

static int promote_move(struct moetier_migrator *m, const struct moetier_range *r)
{
    int rc = check_in_place(m, r);
    if (rc)
        return rc;
    rc = moetier_dram_cache_charge(m->cache, r->len);
    if (rc)
        return rc;
    rc = move_range(m, r, m->fast_node);
    if (rc) {
        moetier_dram_cache_uncharge(m->cache, r->len);
        m->n.failed++;
        return failed_as(m, MOETIER_FAILED_MOVE_IN, rc);
    }
    m->n.promotions++;
    m->n.bytes_promoted += r->len;
    return 0;
}

static int demote_move(struct moetier_migrator *m, const struct moetier_range *r)
{
    int rc = check_in_place(m, r);
    if (rc)
        return rc;
    rc = move_range(m, r, m->slow_node);
    if (rc) {
        m->n.failed++;
        return failed_as(m, MOETIER_FAILED_MOVE_OUT, rc);
    }
    moetier_dram_cache_uncharge(m->cache, r->len);
    m->n.demotions++;
    m->n.bytes_demoted += r->len;
    return 0;
}


#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 0x01
#endif

/* Raw syscalls: the shim hooks mlock() to exclude what the binary locks.
 * MLOCK_ONFAULT: pages mapped now are locked at once, the others as they are
 * faulted in; no populating, which would fail on the fetch sampler's
 * PROT_NONE regions (the caller reads the range in with readahead). */
static int sys_lock(uintptr_t a, size_t len, int on)
{
    if (!len)
        return 0;
    long rc = MOETIER_FAIL(on ? "migrate.mlock" : "migrate.munlock") ? -1 : on ? syscall(SYS_mlock2, (void *)a, len, MLOCK_ONFAULT) : syscall(SYS_munlock, (void *)a, len);
    return rc == 0 ? 0 : -errno;
}

/* The pieces of r outside its keep window: at most two. */
static int lock_pieces(const struct moetier_range *r, uintptr_t a[2], size_t len[2])
{
    uintptr_t end = r->addr + r->len;
    if (!r->keep_len || r->keep >= end || r->keep + r->keep_len <= r->addr) {
        a[0] = r->addr, len[0] = r->len;
        return 1;
    }
    uintptr_t k0 = r->keep < r->addr ? r->addr : r->keep;
    uintptr_t k1 = r->keep + r->keep_len > end ? end : r->keep + r->keep_len;
    a[0] = r->addr, len[0] = k0 - r->addr;
    a[1] = k1, len[1] = end - k1;
    return 2;
}

static long lock_vmas(const struct moetier_range *r)
{
    uintptr_t a[2];
    size_t len[2];
    return 2L * lock_pieces(r, a, len); /* each locked piece splits a VMA into three */
}

static int promote_lock(struct moetier_migrator *m, const struct moetier_range *r)
{
    if (check_in_place(m, r) || r->file >= m->cache->n_files)
        return -EINVAL;
    long vmas = lock_vmas(r);
    if (injected(m, MOETIER_FAULT_MAPCOUNT) || moetier_migrate_headroom(m) < vmas) {
        m->n.no_headroom++;
        return -EMLINK;
    }
    int rc = moetier_dram_cache_charge(m->cache, r->len);
    if (rc)
        return rc;
    uintptr_t a[2];
    size_t len[2];
    int n = lock_pieces(r, a, len);
    int e = injected(m, MOETIER_FAULT_FILL);
    rc = -e;
    for (int i = 0; i < n && rc == 0; i++)
        rc = sys_lock(a[i], len[i], 1);
    if (rc) {
        /* mlock may leave VM_LOCKED set on what it could not populate: undo it all */
        for (int i = 0; i < n; i++)
            sys_lock(a[i], len[i], 0);
        moetier_dram_cache_uncharge(m->cache, r->len);
        m->n.failed++;
        return failed_as(m, MOETIER_FAILED_LOCK, rc);
    }
    /* read what is not cached yet, exactly the range (the locks take hold as it is mapped) */
    if (m->src_fd[r->file] >= 0)
        syscall(SYS_readahead, m->src_fd[r->file], (off_t)(m->src_base[r->file] + r->off), r->len);
    m->map_now += vmas;
    m->n.promotions++;
    m->n.bytes_promoted += r->len;
    return 0;
}

static int demote_lock(struct moetier_migrator *m, const struct moetier_range *r)
{
    if (check_in_place(m, r) || r->file >= m->cache->n_files)
        return -EINVAL;
    uintptr_t a[2];
    size_t len[2];
    int n = lock_pieces(r, a, len);
    int e = injected(m, MOETIER_FAULT_RELEASE);
    int rc = -e;
    for (int i = 0; i < n && rc == 0; i++)
        rc = sys_lock(a[i], len[i], 0);
    if (rc) {
        /* still (partly) locked: it stays promoted and counted, and is retried */
        m->n.failed++;
        return failed_as(m, MOETIER_FAILED_UNLOCK, rc);
    }
    moetier_dram_cache_uncharge(m->cache, r->len);
    m->map_now -= lock_vmas(r);
    m->n.demotions++;
    m->n.bytes_demoted += r->len;
    return 0;
}

static int lock_keep_window(struct moetier_migrator *m, uintptr_t addr, size_t len)
{
    (void)m;
    return sys_lock(addr, len, 0);
}

/* A release still pending over r would punch holes in a fresh copy: settle it first. */
static int settle_pending(struct moetier_migrator *m, const struct moetier_range *r)
{
    for (int i = 0; i < m->n_pending; i++)
        if (m->pending[i].file == r->file && m->pending[i].off < r->off + r->len &&
            m->pending[i].off + m->pending[i].len > r->off) {
            moetier_migrate_retry_pending(m);
            break;
        }
    for (int i = 0; i < m->n_pending; i++)
        if (m->pending[i].file == r->file && m->pending[i].off < r->off + r->len &&
            m->pending[i].off + m->pending[i].len > r->off)
            return -EBUSY;
    return 0;
}

static int copy_promote(struct moetier_migrator *m, const struct moetier_range *r)
{
    int rc = check_copy(m, r);
    if (rc == 0)
        rc = settle_pending(m, r);
    if (rc)
        return rc;
    if (injected(m, MOETIER_FAULT_MAPCOUNT) || moetier_migrate_headroom(m) < VMAS_PER_RANGE) {
        m->n.no_headroom++;
        return -EMLINK;
    }
    int e = injected(m, MOETIER_FAULT_FILL);
    if (e) {
        m->n.failed++;
        return failed_as(m, MOETIER_FAILED_CACHE, -e);
    }
    rc = moetier_dram_cache_fill(m->cache, r->file, r->off, (const void *)r->addr, r->len);
    if (rc) {
        if (rc == -ENOSPC)
            return rc; /* no room: not a failure */
        m->n.failed++;
        return failed_as(m, MOETIER_FAILED_CACHE, rc);
    }
    rc = map_over(m, r, moetier_dram_cache_fd(m->cache, r->file), r->off, 1);
    if (rc) {
        restore(m, r, 0);
        release(m, r->file, r->off, r->len);
        m->n.failed++;
        return failed_as(m, MOETIER_FAILED_MAP_IN, rc);
    }
    m->map_now += VMAS_PER_RANGE;
    m->n.promotions++;
    m->n.bytes_promoted += r->len;
    return 0;
}

static int copy_demote(struct moetier_migrator *m, const struct moetier_range *r)
{
    int rc = check_copy(m, r);
    if (rc)
        return rc;
    rc = map_over(m, r, m->src_fd[r->file], m->src_base[r->file] + r->off, 1);
    if (rc) {
        restore(m, r, 1);
        m->n.failed++;
        return failed_as(m, MOETIER_FAILED_MAP_OUT, rc);
    }
    release(m, r->file, r->off, r->len);
    m->map_now -= VMAS_PER_RANGE;
    m->n.demotions++;
    m->n.bytes_demoted += r->len;
    return 0;
}

/* ---- the three backends: operation tables ------------------------------- */

/* The memory went away (the binary unmapped it): what the range held goes. */
static void copy_drop(struct moetier_migrator *m, const struct moetier_range *r)
{
    int rc = moetier_dram_cache_release(m->cache, r->file, r->off, r->len);
    if (rc)
        failed_as(m, MOETIER_FAILED_RELEASE, rc);
    m->map_now -= VMAS_PER_RANGE;
}

static void lock_drop(struct moetier_migrator *m, const struct moetier_range *r)
{
    moetier_dram_cache_uncharge(m->cache, r->len); /* the locks went with the mapping */
    m->map_now -= VMAS_PER_RANGE;
}

static void move_drop(struct moetier_migrator *m, const struct moetier_range *r)
{
    moetier_dram_cache_uncharge(m->cache, r->len); /* page migration moved nothing we own */
}

/* A forked child shares nothing that locking or page migration made. */
static int nothing_to_detach(struct moetier_migrator *m, const struct moetier_range *r)
{
    (void)m, (void)r;
    return 0;
}

static int move_place(struct moetier_migrator *m, const struct moetier_range *r, struct moetier_numa_moved *out)
{
    moetier_touch_pages((const void *)r->addr, r->len);
    return moetier_numa_move((void *)r->addr, r->len, m->slow_node, MOETIER_NUMA_INTERIOR, out);
}

const struct moetier_migrate_ops moetier_migrate_copy_ops = {
    .name = "copy",
    .promote = copy_promote,
    .demote = copy_demote,
    .drop = copy_drop,
    .detach = copy_detach,
};

const struct moetier_migrate_ops moetier_migrate_lock_ops = {
    .name = "lock",
    .promote = promote_lock,
    .demote = demote_lock,
    .drop = lock_drop,
    .detach = nothing_to_detach,
    .keep_window = lock_keep_window,
};

const struct moetier_migrate_ops moetier_migrate_move_ops = {
    .name = "move_pages",
    .promote = promote_move,
    .demote = demote_move,
    .drop = move_drop,
    .detach = nothing_to_detach,
    .place = move_place,
};

void moetier_migrate_set_nodes(struct moetier_migrator *m, int fast, int slow)
{
    m->ops = &moetier_migrate_move_ops;
    m->fast_node = fast;
    m->slow_node = slow;
}

void moetier_migrate_set_lock(struct moetier_migrator *m)
{
    m->ops = &moetier_migrate_lock_ops;
}

int moetier_migrate_promote(struct moetier_migrator *m, const struct moetier_range *r)
{
    return m->ops->promote(m, r);
}

int moetier_migrate_demote(struct moetier_migrator *m, const struct moetier_range *r)
{
    return m->ops->demote(m, r);
}

void moetier_migrate_drop(struct moetier_migrator *m, const struct moetier_range *r)
{
    m->ops->drop(m, r);
}

int moetier_migrate_detach(struct moetier_migrator *m, const struct moetier_range *r)
{
    return m->ops->detach(m, r);
}

int moetier_migrate_unlock_window(struct moetier_migrator *m, uintptr_t addr, size_t len)
{
    return m->ops->keep_window ? m->ops->keep_window(m, addr, len) : 0;
}

int moetier_migrate_can_place(const struct moetier_migrator *m)
{
    return m->ops->place != NULL;
}

int moetier_migrate_place(struct moetier_migrator *m, const struct moetier_range *r, struct moetier_numa_moved *out)
{
    return m->ops->place ? m->ops->place(m, r, out) : -EOPNOTSUPP;
}
