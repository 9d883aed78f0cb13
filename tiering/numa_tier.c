/*
 * numa_tier: the numa:N slow tier's primitives (see numa_tier.h).
 *
 * Everything here is raw system calls and sysfs reads into stack buffers: no
 * libnuma, no stdio, no malloc, so the shim may call it from inside the
 * binary. Per-page work goes through fixed-size stack batches (BATCH pages,
 * about 10 KiB of stack); nothing is allocated per page.
 *
 * move_pages facts this relies on (kernels 5.x-6.x):
 *   - status[i] is the node of page i, or -ENOENT (not mapped), -EFAULT (no
 *     VMA), -EACCES (mapped by several processes, without MOVE_ALL),
 *     -EBUSY, -ENOMEM, ...;
 *   - a positive return is "this many pages were not migrated", and then the
 *     status of the failed batch and of every later page is NOT written: hence
 *     the sentinel and the confirming query after each move.
 */
#include "config.h"
#include "tiering/numa_tier.h"
#include "common/fail_point.h"

#include "common/fmt.h"
#include "common/number.h"
#include "common/page.h"
#include "common/sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <stdarg.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef MPOL_F_NUMA_BALANCING
#define MPOL_F_NUMA_BALANCING (1 << 13)
#undef MPOL_MODE_FLAGS
#define MPOL_MODE_FLAGS (MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES | MPOL_F_NUMA_BALANCING)
#endif

#define SYSNODE "/sys/devices/system/node"
#define TIERS "/sys/devices/virtual/memory_tiering"
#define BATCH 512
#define STATUS_UNSET 0x7fffffff /* neither a node id nor a negative errno */
#define MAXNODE (MOETIER_NUMA_MASK_BITS + 1) /* the kernel reads maxnode-1 bits */
#define LONG_BITS (8 * sizeof(unsigned long))

/* ---- small helpers ------------------------------------------------------- */

static void mask_set(unsigned long *m, int bit)
{
    m[bit / LONG_BITS] |= 1UL << (bit % LONG_BITS);
}

static int mask_test(const unsigned long *m, int bit)
{
    return (m[bit / LONG_BITS] >> (bit % LONG_BITS)) & 1;
}

/* ---- node masks ---------------------------------------------------------- */

int moetier_numa_mask_parse(const char *s, unsigned long *mask)
{
    memset(mask, 0, MOETIER_NUMA_MASK_LONGS * sizeof *mask);
    const char *p = s;
    while (*p == ' ' || *p == '\t')
        p++;
    while (*p && *p != '\n') {
        uint64_t a, b;
        if (moetier_parse_u64(p, 10, &a, &p))
            return -EINVAL;
        b = a;
        if (*p == '-' && moetier_parse_u64(p + 1, 10, &b, &p))
            return -EINVAL;
        if (b < a || b >= MOETIER_NUMA_MASK_BITS)
            return -ERANGE;
        for (uint64_t i = a; i <= b; i++)
            mask_set(mask, (int)i);
        if (*p == ',')
            p++;
        else if (*p && *p != '\n')
            return -EINVAL;
    }
    return 0;
}

char *moetier_numa_mask_format(const unsigned long *mask, char *buf, size_t cap)
{
    size_t n = 0;
    if (!cap)
        return buf;
    buf[0] = 0;
    for (int i = 0; i < MOETIER_NUMA_MASK_BITS; i++) {
        if (!mask_test(mask, i))
            continue;
        int j = i;
        while (j + 1 < MOETIER_NUMA_MASK_BITS && mask_test(mask, j + 1))
            j++;
        if (n < cap)
            n += j == i ? moetier_fmt(buf + n, cap - n, "%s%d", n ? "," : "", i)
                        : moetier_fmt(buf + n, cap - n, "%s%d-%d", n ? "," : "", i, j);
        i = j;
    }
    return buf;
}

/* ---- discovery ----------------------------------------------------------- */

/* "Node 0 MemTotal:  4941600 kB" -> bytes of the line whose key is `key`. */
static uint64_t meminfo_field(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *line = text; line && *line;) {
        const char *k = strstr(line, key);
        if (!k)
            break;
        if (k[kl] == ':') {
            const char *p = k + kl + 1;
            while (*p == ' ')
                p++;
            uint64_t v;
            if (moetier_parse_u64(p, 10, &v, &p) == 0)
                return v * 1024; /* the files say kB */
        }
        line = k + kl;
    }
    return 0;
}

static int read_mask(const char *path, unsigned long *mask)
{
    char buf[512];
    ssize_t r = moetier_read_text(path, buf, sizeof buf);
    if (r < 0)
        return (int)r;
    return moetier_numa_mask_parse(buf, mask);
}

/* memory_tierK/nodelist for every K: sets node[].tier. Directory listed with
 * getdents64 (opendir would malloc). */
static void read_tiers(struct moetier_numa_topo *t)
{
    int fd = open(TIERS, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    char buf[2048];
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            /* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name[] */
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            const char *name = buf + off + 19;
            uint64_t k;
            const char *end;
            if (!strncmp(name, "memory_tier", 11) && moetier_parse_u64(name + 11, 10, &k, &end) == 0) {
                char path[128];
                unsigned long mask[MOETIER_NUMA_MASK_LONGS];
                moetier_fmt(path, sizeof path, TIERS "/%s/nodelist", name);
                if (read_mask(path, mask) == 0)
                    for (int i = 0; i < t->n; i++)
                        if (mask_test(mask, t->node[i].id))
                            t->node[i].tier = (int)k;
            }
            off += reclen;
        }
    }
    close(fd);
}

int moetier_numa_discover(struct moetier_numa_topo *t)
{
    unsigned long online[MOETIER_NUMA_MASK_LONGS], cpu[MOETIER_NUMA_MASK_LONGS],
        mem[MOETIER_NUMA_MASK_LONGS];
    memset(t, 0, sizeof *t);
    t->cpu_node = -1;
    int rc = read_mask(SYSNODE "/online", online);
    if (rc)
        return rc;
    /* has_cpu / has_memory are absent on old kernels: treat as unknown = none */
    if (read_mask(SYSNODE "/has_cpu", cpu))
        memset(cpu, 0, sizeof cpu);
    if (read_mask(SYSNODE "/has_memory", mem))
        memset(mem, 0, sizeof mem);

    for (int id = 0; id < MOETIER_NUMA_MASK_BITS; id++) {
        if (!mask_test(online, id))
            continue;
        if (t->n == MOETIER_NUMA_MAX_NODES) {
            t->truncated = 1;
            break;
        }
        struct moetier_numa_node *nd = &t->node[t->n++];
        nd->id = id;
        nd->has_cpu = mask_test(cpu, id);
        nd->has_memory = mask_test(mem, id);
        nd->tier = -1;
        char path[96], buf[4096];
        moetier_fmt(path, sizeof path, SYSNODE "/node%d/meminfo", id);
        if (moetier_read_text(path, buf, sizeof buf) > 0) {
            nd->total = meminfo_field(buf, "MemTotal");
            nd->free = meminfo_field(buf, "MemFree");
        }
    }
    /* nodeN/distance lists the distance to every online node, in id order */
    for (int i = 0; i < t->n; i++) {
        char path[96], buf[1024];
        moetier_fmt(path, sizeof path, SYSNODE "/node%d/distance", t->node[i].id);
        if (moetier_read_text(path, buf, sizeof buf) <= 0)
            continue;
        const char *p = buf;
        for (int j = 0; j < MOETIER_NUMA_MAX_NODES && *p; j++) {
            while (*p == ' ')
                p++;
            uint64_t d;
            if (moetier_parse_u64(p, 10, &d, &p))
                break;
            if (j < t->n)
                t->distance[i][j] = d > 255 ? 255 : (uint8_t)d;
        }
    }
    read_tiers(t);
    unsigned c, n;
    if (syscall(SYS_getcpu, &c, &n, NULL) == 0)
        t->cpu_node = (int)n;
    return 0;
}

static int node_index(const struct moetier_numa_topo *t, int id)
{
    for (int i = 0; i < t->n; i++)
        if (t->node[i].id == id)
            return i;
    return -1;
}

const struct moetier_numa_node *moetier_numa_node_get(const struct moetier_numa_topo *t, int id)
{
    int i = node_index(t, id);
    return i < 0 ? NULL : &t->node[i];
}

int moetier_numa_near_dram(const struct moetier_numa_topo *t, int from, int *out, int max)
{
    int fi = node_index(t, from < 0 ? t->cpu_node : from);
    int idx[MOETIER_NUMA_MAX_NODES], k = 0;
    for (int i = 0; i < t->n; i++)
        if (t->node[i].has_cpu && t->node[i].has_memory)
            idx[k++] = i;
    /* insertion sort by distance from `from` (unknown: keep id order) */
    for (int a = 1; a < k; a++) {
        int v = idx[a], b = a;
        while (fi >= 0 && b > 0 && t->distance[fi][idx[b - 1]] > t->distance[fi][v]) {
            idx[b] = idx[b - 1];
            b--;
        }
        idx[b] = v;
    }
    int n = k < max ? k : max;
    for (int i = 0; i < n; i++)
        out[i] = t->node[idx[i]].id;
    return n;
}

int moetier_numa_spec_parse(const char *spec, const struct moetier_numa_topo *t, int *node, char *msg,
                            size_t msgcap)
{
    uint64_t v;
    const char *end;
    moetier_fmt(msg, msgcap, "%s", "");
    if (!spec || strncmp(spec, "numa:", 5) || moetier_parse_u64(spec + 5, 10, &v, &end) || *end ||
        end - (spec + 5) > 6) {
        moetier_fmt(msg, msgcap, "\"%s\": not numa:N (N a node number)", spec ? spec : "(null)");
        return -EINVAL;
    }
    const struct moetier_numa_node *nd = v < MOETIER_NUMA_MASK_BITS ? moetier_numa_node_get(t, (int)v) : NULL;
    if (!nd) {
        moetier_fmt(msg, msgcap, "%s: node %d is not an online NUMA node (this machine has %d)", spec, (int)v,
                t->n);
        return -ENODEV;
    }
    if (!nd->has_memory || !nd->total) {
        moetier_fmt(msg, msgcap, "%s: node %d has no memory", spec, (int)v);
        return -ENOMEM;
    }
    if (nd->has_cpu)
        moetier_fmt(msg, msgcap,
                "%s: node %d has CPUs, so it is not a CPU-less slow tier (Optane KMEM-DAX, CXL); "
                "using it anyway",
                spec, (int)v);
    *node = (int)v;
    return 0;
}

/* ---- placement and migration --------------------------------------------- */

/* The page range [*lo, *hi) the rule picks, and how many edge pages it leaves out. */
static int page_range(const void *addr, size_t len, unsigned flags, uintptr_t *lo, uintptr_t *hi,
                      uint64_t *edge)
{
    uintptr_t a = (uintptr_t)addr, pg = moetier_page_size();
    if (a + len < a)
        return -EINVAL;
    uintptr_t e = a + len;
    *edge = 0;
    if (flags & MOETIER_NUMA_COVER) {
        *lo = a & ~(pg - 1);
        *hi = len ? (e + pg - 1) & ~(pg - 1) : *lo;
        return 0;
    }
    *lo = (a + pg - 1) & ~(pg - 1);
    *hi = e & ~(pg - 1);
    if (!len) {
        *hi = *lo;
        return 0;
    }
    if (*hi <= *lo) { /* inside one page, or across one boundary with no whole page */
        *edge = (e - 1) / pg - a / pg + 1;
        *hi = *lo;
        return 0;
    }
    *edge = (a != *lo) + (e != *hi);
    return 0;
}

/* Batches end on multiples of BATCH pages (2 MiB with 4 KiB pages), so a
 * PMD-sized huge page, which move_pages migrates whole, never straddles two
 * batches: pages counted "already" were really there before the call. */
static uintptr_t batch_end(uintptr_t at, uintptr_t hi)
{
    uintptr_t span = (uintptr_t)BATCH * moetier_page_size();
    uintptr_t end = (at / span + 1) * span;
    return end < hi && end > at ? end : hi;
}

static long sys_move_pages(unsigned long n, void **pages, const int *nodes, int *status, int flags)
{
    return syscall(SYS_move_pages, 0, n, pages, nodes, status, flags);
}

/* Where pages[0..n) are: status[] filled; returns 0 or -errno. */
static int query(unsigned long n, void **pages, int *status)
{
    for (unsigned long i = 0; i < n; i++)
        status[i] = STATUS_UNSET;
    if (sys_move_pages(n, pages, NULL, status, 0) < 0)
        return -errno;
    return 0;
}

int moetier_numa_where(const void *addr, size_t len, unsigned flags, uint64_t *per_node, int n_counts,
                       struct moetier_numa_where *out)
{
    uintptr_t lo, hi, pg = moetier_page_size();
    memset(out, 0, sizeof *out);
    int rc = page_range(addr, len, flags, &lo, &hi, &out->edge);
    if (rc)
        return rc;
    void *pages[BATCH];
    int status[BATCH];
    for (uintptr_t at = lo; at < hi;) {
        unsigned long n = 0;
        for (uintptr_t end = batch_end(at, hi); at < end; n++, at += pg)
            pages[n] = (void *)at;
        rc = query(n, pages, status);
        if (rc)
            return rc;
        out->pages += n;
        for (unsigned long i = 0; i < n; i++) {
            int s = status[i];
            if (s >= 0 && s != STATUS_UNSET) {
                if (s < n_counts && per_node)
                    per_node[s]++;
                else
                    out->elsewhere++;
            } else if (s == -ENOENT) {
                out->not_present++;
            } else if (s == -EFAULT) {
                out->fault++;
            } else {
                out->other++;
            }
        }
    }
    return 0;
}

static void count_reason(struct moetier_numa_moved *r, int s)
{
    switch (-s) {
    case ENOENT: r->not_present++; break;
    case EACCES: r->shared++; break;
    case EBUSY: r->busy++; break;
    case ENOMEM: r->nomem++; break;
    case EFAULT: r->fault++; break;
    default:
        r->other++;
        r->other_errno = -s;
        break;
    }
}

int moetier_numa_move(void *addr, size_t len, int node, unsigned flags, struct moetier_numa_moved *res)
{
    uintptr_t lo, hi, pg = moetier_page_size();
    memset(res, 0, sizeof *res);
    if (node < 0 || node >= MOETIER_NUMA_MASK_BITS)
        return -EINVAL;
    int rc = page_range(addr, len, flags, &lo, &hi, &res->edge);
    if (rc)
        return rc;
    void *pages[BATCH], *todo[BATCH];
    int status[BATCH], nodes[BATCH], mst[BATCH];
    for (int i = 0; i < BATCH; i++)
        nodes[i] = node;
    for (uintptr_t at = lo; at < hi;) {
        unsigned long n = 0, m = 0;
        for (uintptr_t end = batch_end(at, hi); at < end; n++, at += pg)
            pages[n] = (void *)at;
        rc = query(n, pages, status);
        if (rc)
            return rc;
        res->pages += n;
        for (unsigned long i = 0; i < n; i++) {
            int s = status[i];
            if (s == node)
                res->already++;
            else if (s >= 0 && s != STATUS_UNSET)
                todo[m++] = pages[i];
            else if (s == STATUS_UNSET)
                res->unmoved++;
            else
                count_reason(res, s);
        }
        if (!m)
            continue;
        for (unsigned long j = 0; j < m; j++)
            mst[j] = STATUS_UNSET;
        if (MOETIER_FAIL("numa.move_pages") || sys_move_pages(m, todo, nodes, mst, MPOL_MF_MOVE) < 0) {
            /* whole-call refusals; other errnos still leave per-page status */
            if (errno == ENODEV || errno == EINVAL || errno == EPERM || errno == E2BIG || errno == ESRCH)
                return -errno;
        }
        /* the truth: where each page is now */
        rc = query(m, todo, status);
        if (rc)
            return rc;
        for (unsigned long j = 0; j < m; j++) {
            if (status[j] == node)
                res->moved++;
            else if (mst[j] < 0)
                count_reason(res, mst[j]);
            else
                res->unmoved++;
        }
    }
    return 0;
}

int moetier_numa_bind(void *addr, size_t len, int node, unsigned flags)
{
    uintptr_t lo, hi;
    uint64_t edge;
    unsigned long mask[MOETIER_NUMA_MASK_LONGS] = { 0 };
    if (node < 0 || node >= MOETIER_NUMA_MASK_BITS)
        return -EINVAL;
    int rc = page_range(addr, len, flags, &lo, &hi, &edge);
    if (rc)
        return rc;
    if (hi == lo)
        return 0;
    mask_set(mask, node);
    unsigned mf = MPOL_MF_MOVE | (flags & MOETIER_NUMA_STRICT ? MPOL_MF_STRICT : 0);
    if (MOETIER_FAIL("numa.mbind") || syscall(SYS_mbind, lo, hi - lo, MPOL_BIND, mask, MAXNODE, mf) < 0)
        return -errno;
    return 0;
}

/* ---- task memory policy -------------------------------------------------- */

int moetier_numa_policy_get(struct moetier_numa_policy *p)
{
    memset(p, 0, sizeof *p);
    if (syscall(SYS_get_mempolicy, &p->mode, p->mask, MAXNODE, NULL, 0) < 0)
        return -errno;
    return 0;
}

int moetier_numa_policy_at(const void *addr, struct moetier_numa_policy *p)
{
    memset(p, 0, sizeof *p);
    if (syscall(SYS_get_mempolicy, &p->mode, p->mask, MAXNODE, addr, MPOL_F_ADDR) < 0)
        return -errno;
    return 0;
}

int moetier_numa_policy_set(const struct moetier_numa_policy *p)
{
    int base = p->mode & ~MPOL_MODE_FLAGS;
    long r;
    /* default and local take no nodes (a mask would be -EINVAL) */
    if (base == MPOL_DEFAULT || base == MPOL_LOCAL)
        r = syscall(SYS_set_mempolicy, p->mode, NULL, 0);
    else
        r = syscall(SYS_set_mempolicy, p->mode, p->mask, MAXNODE);
    return r < 0 ? -errno : 0;
}

int moetier_numa_policy_equal(const struct moetier_numa_policy *a, const struct moetier_numa_policy *b)
{
    return a->mode == b->mode && !memcmp(a->mask, b->mask, sizeof a->mask);
}

char *moetier_numa_policy_format(const struct moetier_numa_policy *p, char *buf, size_t cap)
{
    static const char *const names[] = { "default", "preferred", "bind", "interleave",
                                         "local", "preferred_many", "weighted_interleave" };
    int base = p->mode & ~MPOL_MODE_FLAGS;
    char nodes[256];
    moetier_numa_mask_format(p->mask, nodes, sizeof nodes);
    char modebuf[16];
    const char *name = base >= 0 && base < (int)(sizeof names / sizeof *names) ? names[base] : NULL;
    if (!name) {
        moetier_fmt(modebuf, sizeof modebuf, "mode%d", base);
        name = modebuf;
    }
    moetier_fmt(buf, cap, "%s%s%s%s%s%s%s", name, p->mode & MPOL_F_STATIC_NODES ? " static" : "",
                p->mode & MPOL_F_RELATIVE_NODES ? " relative" : "",
                p->mode & MPOL_F_NUMA_BALANCING ? " balancing" : "", nodes[0] ? " {" : "", nodes,
                nodes[0] ? "}" : "");
    return buf;
}

int moetier_numa_policy_push(int node, enum moetier_numa_policy_kind kind, struct moetier_numa_policy *saved)
{
    if (node < 0 || node >= MOETIER_NUMA_MASK_BITS)
        return -EINVAL;
    int rc = moetier_numa_policy_get(saved);
    if (rc)
        return rc;
    struct moetier_numa_policy p;
    memset(&p, 0, sizeof p);
    p.mode = kind == MOETIER_NUMA_POLICY_BIND ? MPOL_BIND : MPOL_PREFERRED;
    mask_set(p.mask, node);
    return moetier_numa_policy_set(&p);
}

int moetier_numa_policy_pop(const struct moetier_numa_policy *saved)
{
    return moetier_numa_policy_set(saved);
}
