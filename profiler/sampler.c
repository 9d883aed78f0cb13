/*
 * sampler: probe construction and the pagemap and fault samplers (see sampler.h).
 *
 * Which faults are ours (fault, fetch): a region's `armed` flag is set before
 * arm's mprotect(PROT_NONE) and cleared only after disarm's restore, so a
 * region not armed holds no protection of ours. Inside an armed region each
 * expert's slice has a state word, gen << 2 | {ARMING, ARMED, OPEN}:
 *  - arm, before protecting blocks, moves every slice with bytes in them to
 *    ARMING of a new generation, and to ARMED once the mprotect returned;
 *  - the handler lifts a slice's protection and then moves it ARMED -> OPEN by
 *    compare-and-swap on the generation it read before, so an arm that began
 *    meanwhile (new generation) leaves it armed.
 * OPEN thus means "moetier's protection of this slice is lifted and nothing
 * protected it since". ARMING and ARMED faults are claimed (at worst once more
 * than needed: each claim opens). A fault on an open slice or an unarmed
 * region is either the binary's own or one raised while the slice was still
 * protected and handled after another thread opened it (or disarm ran): the
 * handler lets the thread retry once, remembering the address and state word
 * in thread-local storage; the same fault again with the same word (nothing
 * armed in between) is the binary's own and is not claimed.
 */
#include "profiler/sampler.h"
#include "common/fail_point.h"
#include "common/fmt.h"
#include "common/page.h"
#include "common/sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define ZAP_BATCH 512
#define SLICE_ARMING 0u /* arm may still be protecting it */
#define SLICE_ARMED 1u  /* protected by a finished arm */
#define SLICE_OPEN 2u   /* the handler lifted the protection after that arm */

/* The fault this thread last retried without a claim (see above). Initial-exec:
 * no allocation on first use in a signal handler. */
static __thread struct {
    uintptr_t addr;
    uint32_t word;
} retried __attribute__((tls_model("initial-exec")));
#define PAGEMAP_SPAN 4096 /* pages: a 32 KiB read */

static int cmp_probe(const void *a, const void *b)
{
    uintptr_t x = ((const struct moetier_probe *)a)->addr, y = ((const struct moetier_probe *)b)->addr;
    return x < y ? -1 : x > y;
}

static int pagemap_present(int fd, uintptr_t addr, size_t pages, uint64_t *buf)
{
    ssize_t want = (ssize_t)(pages * sizeof *buf);
    ssize_t got = pread(fd, buf, (size_t)want, (off_t)(addr / (uintptr_t)moetier_page_size() * sizeof *buf));
    if (got != want)
        return -1;
    int n = 0;
    for (size_t i = 0; i < pages; i++)
        n += (int)(buf[i] >> 63);
    return n;
}

int64_t moetier_sampler_measure_unit(uintptr_t addr, uintptr_t lo, uintptr_t hi)
{
    const uintptr_t span = 4u << 20; /* look at 4 MiB around the touch */
    uintptr_t ps = (uintptr_t)moetier_page_size();
    uintptr_t a = addr & ~(ps - 1);
    lo = (lo + ps - 1) & ~(ps - 1); /* only whole pages of the range */
    hi &= ~(ps - 1);
    uintptr_t start = a > lo + span / 2 ? (a - span / 2) & ~(ps - 1) : lo;
    uintptr_t end = start + span < hi ? start + span : hi;
    if (a < start || a >= end)
        return -EINVAL;
    size_t pages = (end - start) / ps;
    uint64_t *buf = malloc(pages * sizeof *buf);
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    int64_t unit = -EIO;
    if (!buf || fd < 0)
        goto out;
    if (MOETIER_FAIL("sampler.unit_madvise") || madvise((void *)start, end - start, MADV_DONTNEED) != 0) {
        unit = -errno;
        goto out;
    }
    (void)*(volatile const char *)a; /* weights are read-only data: reading is harmless */
    int present = pagemap_present(fd, start, pages, buf);
    if (present <= 0)
        goto out;
    /* round up to a power of two: fault-around windows and folios are */
    unit = (int64_t)ps;
    while (unit < (int64_t)present * (int64_t)ps)
        unit <<= 1;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return unit;
}

/* An aligned `unit` window wholly inside expert e's slice of p, or 0. */
static uintptr_t probe_in(const struct moetier_placement *p, uint32_t e, uint64_t unit)
{
    uintptr_t lo = p->base + p->stride * e, hi = lo + p->stride;
    uintptr_t a = (lo + unit - 1) & ~(uintptr_t)(unit - 1);
    return a + unit <= hi ? a : 0;
}

static int usable(const struct moetier_placement *p, uint32_t n_layers)
{
    return p->live && p->kind != MOETIER_MEM_PINNED && p->layer < n_layers;
}

static int build_pagemap(struct moetier_sampler *s, const struct moetier_placements *t, uint32_t n_layers,
                         uint32_t n_experts, uint64_t unit, char *why, size_t whylen)
{
    s->probes = calloc(s->n_slots, sizeof *s->probes);
    uint8_t *have = calloc(s->n_slots, 1);
    if (!s->probes || !have) {
        free(have);
        return -ENOMEM;
    }
    /* one probe per (layer, expert): the first tensor whose slice holds a window */
    for (size_t i = 0; i < t->n; i++) {
        const struct moetier_placement *p = &t->item[i];
        if (!usable(p, n_layers))
            continue;
        for (uint32_t e = 0; e < p->n_expert && e < n_experts; e++) {
            uint32_t slot = p->layer * n_experts + e;
            uintptr_t a;
            if (have[slot] || (a = probe_in(p, e, unit)) == 0)
                continue;
            have[slot] = 1;
            struct moetier_probe *q = &s->probes[s->n++];
            q->addr = a;
            q->len = (uint32_t)unit;
            q->slot = slot;
        }
    }
    free(have);
    if (s->n == 0) {
        moetier_fmt(why, whylen, "no expert slice holds a whole %llu-byte window", (unsigned long long)unit);
        return -EINVAL;
    }
    qsort(s->probes, s->n, sizeof *s->probes, cmp_probe);
    s->pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
    s->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    /* one pread covers probes within PAGEMAP_SPAN pages of each other */
    s->pm_cap = unit / (uintptr_t)moetier_page_size() > PAGEMAP_SPAN ? unit / (uintptr_t)moetier_page_size() : PAGEMAP_SPAN;
    s->pm = malloc(s->pm_cap * sizeof *s->pm);
    if (s->pagemap_fd < 0 || !s->pm) {
        moetier_fmt(why, whylen, "cannot read /proc/self/pagemap");
        return s->pagemap_fd < 0 ? -EACCES : -ENOMEM;
    }
    s->unit = unit;
    s->covered = (uint32_t)s->n;
    return 0;
}

static int cmp_region(const void *a, const void *b)
{
    uintptr_t x = ((const struct moetier_fault_region *)a)->start;
    uintptr_t y = ((const struct moetier_fault_region *)b)->start;
    return x < y ? -1 : x > y;
}

/* The size of a PMD mapping (a 2 MiB folio mapped whole on x86-64). */
static uint64_t pmd_size(void)
{
    static uint64_t size;
    if (!size) {
        size = moetier_read_u64("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", 0);
        if (!size || (size & (size - 1)))
            size = 2u << 20;
    }
    return size;
}

/* The protection granularity of a fault region's experts: whole PMD mappings
 * where the page cache maps the tensor with them (unit) and every expert is at
 * least that large, so that the handler's and collect's mprotects never split
 * a 2 MiB mapping into 4 KiB ones (measured on the 1.6 GiB model: 25 ms per
 * sample with splits, zaps and re-faults; 3-4 ms without); else pages. Only
 * the two partial PMD mappings at the tensor's ends are split, once, by arm.
 * A block restored around a touch may open a neighbour's edge; a used expert
 * is missed only when both neighbours were read before it and opened all its
 * blocks, which an ascending or descending walk never does
 * (tests/unit/test_fault_blocks.c; 99.8% of the used experts seen on the
 * bench model). */
static uintptr_t region_block(const struct moetier_placement *p, uint64_t unit, int every_tensor)
{
    if (every_tensor || p->kind != MOETIER_MEM_FILE_SHARED || unit < pmd_size() || p->stride < unit)
        return (uintptr_t)moetier_page_size();
    return (uintptr_t)unit;
}

static int build_fault(struct moetier_sampler *s, const struct moetier_placements *t, uint32_t n_layers,
                       uint32_t n_experts, uint64_t unit, int every_tensor, char *why, size_t whylen)
{
    uintptr_t ps = (uintptr_t)moetier_page_size();
    s->regions = calloc(every_tensor ? t->n + 1 : n_layers, sizeof *s->regions);
    s->hit = calloc(s->n_slots, 1);
    uint8_t *have = calloc(n_layers, 1);
    if (!s->regions || !s->hit || !have) {
        free(have);
        return -ENOMEM;
    }
    /* one region per layer, its first usable expert tensor; fetch: every one */
    for (size_t i = 0; i < t->n; i++) {
        const struct moetier_placement *p = &t->item[i];
        if (!usable(p, n_layers) || (have[p->layer] && !every_tensor))
            continue;
        uint32_t n_expert = p->n_expert < n_experts ? p->n_expert : n_experts;
        uintptr_t start = (p->base + ps - 1) & ~(ps - 1);
        uintptr_t end = (p->base + p->stride * n_expert) & ~(ps - 1); /* every byte has a slice */
        if (end <= start)
            continue;
        struct moetier_fault_region *r = &s->regions[s->n_regions++];
        r->start = start;
        r->end = end;
        r->block = region_block(p, unit, every_tensor);
        r->base = p->base;
        r->stride = p->stride;
        r->n_expert = n_expert;
        r->slot0 = p->layer * n_experts;
        r->prot = p->prot;
        r->file = p->kind == MOETIER_MEM_FILE_SHARED ? p->file : -1;
        r->file_off = p->file_off;
        if (!every_tensor || !have[p->layer])
            s->covered += r->n_expert;
        have[p->layer] = 1;
    }
    free(have);
    if (s->n_regions == 0) {
        moetier_fmt(why, whylen, "no expert tensor spans a whole page");
        return -EINVAL;
    }
    qsort(s->regions, s->n_regions, sizeof *s->regions, cmp_region);
    s->n_experts = n_experts;
    s->slice = calloc(s->n_regions * (size_t)n_experts, sizeof *s->slice);
    if (!s->slice || (every_tensor && !(s->rearm = calloc(n_experts, 1))))
        return -ENOMEM;
    return 0;
}

int moetier_sampler_build(struct moetier_sampler *s, int want, const struct moetier_placements *t,
                          uint32_t n_layers, uint32_t n_experts, char *why, size_t whylen)
{
    memset(s, 0, sizeof *s);
    s->pagemap_fd = -1;
    s->pidfd = -1;
    for (int i = 0; i < MOETIER_SAMPLER_MAX_FILES; i++)
        s->fetch_fd[i] = -1;
    s->n_slots = n_layers * n_experts;
    int any = 0, all_shared = 1;
    uint64_t unit = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct moetier_placement *p = &t->item[i];
        if (!usable(p, n_layers))
            continue;
        any = 1;
        if (p->kind != MOETIER_MEM_FILE_SHARED) {
            all_shared = 0;
            continue;
        }
        if (want == MOETIER_SAMPLE_FAULT || want == MOETIER_SAMPLE_FETCH || unit)
            continue;
        int64_t u = moetier_sampler_measure_unit(p->base + p->stride * (p->n_expert / 2) + p->stride / 2,
                                                 p->base, p->base + p->stride * p->n_expert);
        if (u > 0)
            unit = (uint64_t)u;
    }
    if (!any) {
        moetier_fmt(why, whylen, "no expert memory that can be sampled (pinned or none seen)");
        return -ENOENT;
    }
    int kind = want;
    if (kind == MOETIER_SAMPLE_NONE || kind == MOETIER_SAMPLE_PAGEMAP) {
        int ok = all_shared && unit > 0;
        /* pagemap only if every expert has a window of its own */
        for (size_t i = 0; ok && i < t->n; i++) {
            const struct moetier_placement *p = &t->item[i];
            if (usable(p, n_layers) && p->stride < 2 * unit)
                ok = 0;
        }
        if (!ok) {
            if (!all_shared)
                moetier_fmt(why, whylen, "pagemap needs a shared file mapping; weights are in private or anonymous memory");
            else if (!unit)
                moetier_fmt(why, whylen, "pagemap unit could not be measured");
            else
                moetier_fmt(why, whylen, "pagemap unit %llu bytes is too coarse for these experts",
                            (unsigned long long)unit);
            if (kind == MOETIER_SAMPLE_PAGEMAP)
                return -EINVAL;
        }
        kind = ok ? MOETIER_SAMPLE_PAGEMAP : MOETIER_SAMPLE_FAULT;
    }
    int rc = kind == MOETIER_SAMPLE_PAGEMAP
                 ? build_pagemap(s, t, n_layers, n_experts, unit, why, whylen)
                 : build_fault(s, t, n_layers, n_experts, unit, kind == MOETIER_SAMPLE_FETCH, why, whylen);
    if (rc) {
        moetier_sampler_free(s);
        return rc;
    }
    /* last, so a signal handler that sees the kind sees a complete sampler */
    __atomic_store_n(&s->kind, kind, __ATOMIC_RELEASE);
    return 0;
}

void moetier_sampler_fetch_fds(struct moetier_sampler *s, const int *fds, uint32_t n)
{
    for (uint32_t i = 0; i < MOETIER_SAMPLER_MAX_FILES; i++)
        s->fetch_fd[i] = i < n ? fds[i] : -1;
}

int moetier_sampler_uses_faults(const struct moetier_sampler *s)
{
    return s->kind == MOETIER_SAMPLE_FAULT || s->kind == MOETIER_SAMPLE_FETCH;
}

void moetier_sampler_free(struct moetier_sampler *s)
{
    if (moetier_sampler_uses_faults(s))
        moetier_sampler_disarm(s);
    if (s->pagemap_fd >= 0)
        close(s->pagemap_fd);
    if (s->pidfd >= 0)
        close(s->pidfd);
    free(s->pm);
    free(s->probes);
    free(s->regions);
    free((void *)s->hit);
    free((void *)s->slice);
    free(s->rearm);
    memset(s, 0, sizeof *s);
    s->pagemap_fd = -1;
    s->pidfd = -1;
}

/* Zaps n windows. One process_madvise call zaps them all with one TLB flush
 * (Linux 6.13+ batches it), where a madvise per window costs a TLB-shootdown
 * IPI each: measured 250 us against 3600 us for 16 windows on a 2-vCPU VM with
 * a busy second thread. Falls back to madvise where process_madvise refuses. */
static int zap(struct moetier_sampler *s, struct iovec *iov, size_t n)
{
    if (s->pidfd >= 0) {
        ssize_t want = 0;
        for (size_t i = 0; i < n; i++)
            want += (ssize_t)iov[i].iov_len;
        if (syscall(SYS_process_madvise, s->pidfd, iov, n, MADV_DONTNEED, 0) == want)
            return 0;
        close(s->pidfd); /* not supported here (older kernel): stop trying */
        s->pidfd = -1;
    }
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        if (MOETIER_FAIL("sampler.madvise") || madvise(iov[i].iov_base, iov[i].iov_len, MADV_DONTNEED) != 0)
            rc = -errno;
    return rc;
}

/* The whole blocks (pages, or PMD mappings) of expert e's slice in region r,
 * shared edge blocks too, within the region's pages. */
static void slice_blocks(const struct moetier_fault_region *r, uint64_t e, uintptr_t *a, uintptr_t *b)
{
    uintptr_t bs = r->block;
    *a = (r->base + e * r->stride) & ~(bs - 1);
    *b = (r->base + (e + 1) * r->stride + bs - 1) & ~(bs - 1);
    if (*a < r->start)
        *a = r->start;
    if (*b > r->end)
        *b = r->end;
}

static _Atomic uint32_t *slice_word(const struct moetier_sampler *s, const struct moetier_fault_region *r,
                                    uint64_t e)
{
    return &s->slice[(size_t)(r - s->regions) * s->n_experts + e];
}

/* Arm side: slices e0..e1 of r to ARMING of a new generation (before their
 * blocks are protected), or back to ARMED (after). Only arm leaves ARMING. */
static void slices_mark(struct moetier_sampler *s, const struct moetier_fault_region *r, uint64_t e0, uint64_t e1,
                        int arming)
{
    for (uint64_t e = e0; e <= e1 && e < r->n_expert; e++) {
        _Atomic uint32_t *w = slice_word(s, r, e);
        uint32_t v = atomic_load(w);
        atomic_store(w, arming ? (((v >> 2) + 1) << 2) | SLICE_ARMING : (v & ~3u) | SLICE_ARMED);
    }
}

/* Protects the blocks [a, b) of r, every slice with bytes there marked first. */
static void protect_blocks(struct moetier_sampler *s, const struct moetier_fault_region *r, uintptr_t a, uintptr_t b)
{
    uint64_t e0 = (a - r->base) / r->stride, e1 = (b - 1 - r->base) / r->stride;
    slices_mark(s, r, e0, e1, 1);
    mprotect((void *)a, b - a, PROT_NONE);
    slices_mark(s, r, e0, e1, 0);
}

/* Protects region r whole. armed is set first, so a fault right after the
 * mprotect is ours; a failed mprotect is undone and leaves it unarmed. */
static void region_arm(struct moetier_sampler *s, struct moetier_fault_region *r)
{
    slices_mark(s, r, 0, r->n_expert - 1, 1);
    atomic_store(&r->armed, 1);
    if (mprotect((void *)r->start, r->end - r->start, PROT_NONE) != 0 &&
        mprotect((void *)r->start, r->end - r->start, r->prot) == 0)
        atomic_store(&r->armed, 0);
    slices_mark(s, r, 0, r->n_expert - 1, 0);
}

/* fetch: protect each region whole the first time, afterwards only the
 * slices the handler opened since; hits from between steps are dropped. */
static void arm_fetch(struct moetier_sampler *s)
{
    for (uint32_t i = 0; i < s->n_slots; i++)
        atomic_store_explicit(&s->hit[i], 0, memory_order_relaxed);
    for (size_t i = 0; i < s->n_regions; i++) {
        struct moetier_fault_region *r = &s->regions[i];
        if (atomic_load(&r->dead))
            continue;
        if (!atomic_load(&r->armed)) {
            region_arm(s, r);
            continue;
        }
        /* the opened slices first: protecting one marks its neighbours
         * (shared blocks) armed, whose own interiors must be protected too */
        for (uint32_t e = 0; e < r->n_expert; e++)
            s->rearm[e] = (atomic_load(slice_word(s, r, e)) & 3u) == SLICE_OPEN;
        for (uint32_t e = 0; e < r->n_expert; e++) {
            uintptr_t a, b;
            slice_blocks(r, e, &a, &b);
            if (s->rearm[e] && b > a)
                protect_blocks(s, r, a, b);
        }
    }
}

void moetier_sampler_arm(struct moetier_sampler *s)
{
    if (s->kind == MOETIER_SAMPLE_PAGEMAP) {
        struct iovec iov[ZAP_BATCH];
        size_t idx[ZAP_BATCH], n = 0;
        for (size_t i = 0; i <= s->n; i++) {
            if (i < s->n) {
                struct moetier_probe *q = &s->probes[i];
                /* a window untouched since the last zap has no PTEs: nothing to do,
                 * unless an unsampled step ran since (its touches would count
                 * as this sample's: 1.6-3.2x the true uses, measured) */
                if (q->dead || (s->fresh && q->armed && !q->hit))
                    continue;
                iov[n].iov_base = (void *)q->addr;
                iov[n].iov_len = q->len;
                idx[n++] = i;
            }
            if (n == ZAP_BATCH || (i == s->n && n)) {
                int ok = zap(s, iov, n) == 0;
                for (size_t k = 0; k < n; k++) {
                    s->probes[idx[k]].armed = (uint8_t)ok;
                    s->probes[idx[k]].hit = 0;
                }
                n = 0;
            }
        }
        return;
    }
    if (!moetier_sampler_uses_faults(s))
        return;
    if (s->kind == MOETIER_SAMPLE_FETCH) {
        arm_fetch(s);
        return;
    }
    for (size_t i = 0; i < s->n_regions; i++)
        if (!atomic_load(&s->regions[i].dead))
            region_arm(s, &s->regions[i]);
}

int moetier_sampler_collect(struct moetier_sampler *s, uint8_t *used)
{
    int hits = 0;
    if (s->kind == MOETIER_SAMPLE_PAGEMAP) {
        /* probes are sorted: read the pagemap of nearby probes in one pread */
        uintptr_t ps = (uintptr_t)moetier_page_size();
        for (size_t i = 0; i < s->n;) {
            size_t j = i + 1;
            uintptr_t first = s->probes[i].addr / ps;
            while (j < s->n && (s->probes[j].addr + s->probes[j].len) / ps - first <= s->pm_cap)
                j++;
            uintptr_t last = (s->probes[j - 1].addr + s->probes[j - 1].len) / ps;
            ssize_t want = (ssize_t)((last - first) * sizeof *s->pm);
            if (MOETIER_FAIL("sampler.pagemap_read") || pread(s->pagemap_fd, s->pm, (size_t)want, (off_t)(first * sizeof *s->pm)) != want) {
                i = j;
                continue;
            }
            for (size_t k = i; k < j; k++) {
                struct moetier_probe *q = &s->probes[k];
                if (q->dead || !q->armed)
                    continue;
                const uint64_t *e = s->pm + (q->addr / ps - first);
                for (size_t pg = 0; pg < q->len / ps; pg++) {
                    if (e[pg] >> 63) {
                        q->hit = 1;
                        used[q->slot] = 1;
                        hits++;
                        break;
                    }
                }
            }
            i = j;
        }
        return hits;
    }
    if (!moetier_sampler_uses_faults(s))
        return 0;
    /* restore first (adding permissions needs no TLB flush), then read the
     * marks; fetch keeps its protection (see sampler.h) */
    if (s->kind == MOETIER_SAMPLE_FAULT) {
        moetier_sampler_disarm(s);
        /* a page-granular region's mprotects split the page cache's 2 MiB
         * mappings into 4 KiB ones, and nothing puts them back: decode then
         * ran at 0.57x when the model fits (docs/bench-capped.md). Dropping
         * the page-table entries of shared file mappings (the data stays
         * cached) lets the next faults map whole folios again. Never on
         * private or anonymous memory, where it would lose data; not needed
         * where the region is protected in whole PMD mappings. */
        for (size_t i = 0; i < s->n_regions; i++) {
            const struct moetier_fault_region *r = &s->regions[i];
            if (r->file >= 0 && !atomic_load(&r->dead) && !atomic_load(&r->armed) && r->block == (uintptr_t)moetier_page_size())
                madvise((void *)r->start, r->end - r->start, MADV_DONTNEED);
        }
    }
    for (uint32_t i = 0; i < s->n_slots; i++) {
        if (atomic_exchange(&s->hit[i], 0)) {
            used[i] = 1;
            hits++;
        }
    }
    return hits;
}

void moetier_sampler_forget(struct moetier_sampler *s, uintptr_t addr, size_t len)
{
    for (size_t i = 0; i < s->n; i++) {
        struct moetier_probe *q = &s->probes[i];
        if (q->addr < addr + len && addr < q->addr + q->len) {
            q->dead = 1;
            q->armed = 0;
        }
    }
    for (size_t i = 0; i < s->n_regions; i++) {
        struct moetier_fault_region *r = &s->regions[i];
        if (r->start < addr + len && addr < r->end) {
            atomic_store(&r->dead, 1);
            atomic_store(&r->armed, 0);
        }
    }
}

void moetier_sampler_disarm(struct moetier_sampler *s)
{
    for (size_t i = 0; i < s->n_regions; i++) {
        struct moetier_fault_region *r = &s->regions[i];
        /* cleared after the restore: until then a fault there is ours */
        if (atomic_load(&r->armed) && !atomic_load(&r->dead) &&
            mprotect((void *)r->start, r->end - r->start, r->prot) == 0)
            atomic_store(&r->armed, 0);
    }
}

/* Lifts the protection of expert e's slice of r and opens it, unless an arm
 * began since its state was read (the CAS then fails: it stays armed). Where
 * the slice's mprotect fails (the map count limit: it would split the
 * mapping), the region is restored whole, which merges. Async-signal-safe. */
static void open_slice(struct moetier_sampler *s, const struct moetier_fault_region *r, uint64_t e)
{
    _Atomic uint32_t *w = slice_word(s, r, e);
    uint32_t v = atomic_load(w);
    uintptr_t a, b;
    slice_blocks(r, e, &a, &b);
    if (b > a && mprotect((void *)a, b - a, r->prot) != 0 &&
        mprotect((void *)r->start, r->end - r->start, r->prot) != 0)
        return;
    if ((v & 3u) == SLICE_ARMED)
        atomic_compare_exchange_strong(w, &v, (v & ~3u) | SLICE_OPEN);
}

/* fetch: reads expert e of layer slot0 in from the model file, every slice of
 * it, exactly its bytes, then lifts the protection of all its slices (one
 * fault per expert, not per slice). Async-signal-safe: raw syscalls only. */
static void fetch_expert(struct moetier_sampler *s, uint32_t slot0, uint64_t e)
{
    for (size_t i = 0; i < s->n_regions; i++) {
        const struct moetier_fault_region *q = &s->regions[i];
        if (q->slot0 != slot0 || atomic_load(&q->dead) || e >= q->n_expert || q->file < 0 ||
            q->file >= MOETIER_SAMPLER_MAX_FILES || s->fetch_fd[q->file] < 0)
            continue;
        syscall(SYS_readahead, s->fetch_fd[q->file], (off_t)(q->file_off + e * q->stride), (size_t)q->stride);
        __atomic_fetch_add(&s->fetched, 1, __ATOMIC_RELAXED);
    }
    for (size_t i = 0; i < s->n_regions; i++) {
        const struct moetier_fault_region *q = &s->regions[i];
        if (q->slot0 == slot0 && !atomic_load(&q->dead) && e < q->n_expert)
            open_slice(s, q, e);
    }
}

int moetier_sampler_fault(struct moetier_sampler *s, uintptr_t addr)
{
    int kind = __atomic_load_n(&s->kind, __ATOMIC_ACQUIRE);
    if ((kind != MOETIER_SAMPLE_FAULT && kind != MOETIER_SAMPLE_FETCH) || s->n_regions == 0)
        return 0;
    size_t lo = 0, hi = s->n_regions;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->regions[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == s->n_regions)
        return 0;
    struct moetier_fault_region *r = &s->regions[lo];
    uint64_t e = (addr - r->base) / r->stride;
    if (addr < r->start || e >= r->n_expert)
        return 0;
    uint32_t v = atomic_load(slice_word(s, r, e));
    if (atomic_load(&r->dead) || !atomic_load(&r->armed) || (v & 3u) == SLICE_OPEN) {
        /* no protection of ours there now: retry once (it may have been
         * raised before another thread lifted it); the same fault again is
         * the binary's own */
        if (retried.addr == addr && retried.word == v) {
            retried.addr = 0;
            return 0;
        }
        retried.addr = addr;
        retried.word = v;
        return 1;
    }
    /* the expert whose bytes were touched: restore its pages (some shared with
     * its neighbours, whose own interior pages stay armed) and mark it */
    if (kind == MOETIER_SAMPLE_FETCH && !atomic_load(&s->hit[r->slot0 + e]))
        fetch_expert(s, r->slot0, e); /* first touch of this expert this step: opens all its slices */
    else
        open_slice(s, r, e);
    atomic_store(&s->hit[r->slot0 + e], 1);
    return 1;
}
