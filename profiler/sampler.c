/*
 * sampler: probe construction and the pagemap and fault samplers (see sampler.h).
 */
#include "profiler/sampler.h"
#include "common/fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static uintptr_t page_size(void)
{
    static uintptr_t ps;
    if (!ps)
        ps = (uintptr_t)sysconf(_SC_PAGESIZE);
    return ps;
}

static int cmp_probe(const void *a, const void *b)
{
    uintptr_t x = ((const struct moetier_probe *)a)->addr, y = ((const struct moetier_probe *)b)->addr;
    return x < y ? -1 : x > y;
}

static int pagemap_present(int fd, uintptr_t addr, size_t pages, uint64_t *buf)
{
    ssize_t want = (ssize_t)(pages * sizeof *buf);
    ssize_t got = pread(fd, buf, (size_t)want, (off_t)(addr / page_size() * sizeof *buf));
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
    uintptr_t ps = page_size();
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
    if (madvise((void *)start, end - start, MADV_DONTNEED) != 0) {
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

/* Probe window for expert e of placement p: an aligned `unit` window wholly inside
 * the slice (pagemap), or its first whole page (fault). 0 if none fits. */
static uintptr_t probe_in(const struct moetier_placement *p, uint32_t e, uint64_t unit)
{
    uintptr_t lo = p->base + p->stride * e, hi = lo + p->stride;
    uintptr_t a = (lo + unit - 1) & ~(uintptr_t)(unit - 1);
    return a + unit <= hi ? a : 0;
}

int moetier_sampler_build(struct moetier_sampler *s, int want, const struct moetier_placements *t,
                          uint32_t n_layers, uint32_t n_experts, char *why, size_t whylen)
{
    memset(s, 0, sizeof *s);
    s->pagemap_fd = -1;
    s->n_slots = n_layers * n_experts;
    int any = 0, all_shared = 1;
    uint64_t unit = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct moetier_placement *p = &t->item[i];
        if (!p->live || p->kind == MOETIER_MEM_PINNED)
            continue;
        any = 1;
        if (p->kind != MOETIER_MEM_FILE_SHARED) {
            all_shared = 0;
            continue;
        }
        if (want == MOETIER_SAMPLE_FAULT || unit)
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
            if (p->live && p->kind == MOETIER_MEM_FILE_SHARED && p->stride < 2 * unit)
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
    uint64_t window = kind == MOETIER_SAMPLE_PAGEMAP ? unit : page_size();

    s->probes = calloc(s->n_slots, sizeof *s->probes);
    if (!s->probes)
        return -ENOMEM;
    /* one probe per (layer, expert): the first tensor whose slice holds a window */
    uint8_t *have = calloc(s->n_slots, 1);
    if (!have) {
        free(s->probes);
        s->probes = NULL;
        return -ENOMEM;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct moetier_placement *p = &t->item[i];
        if (!p->live || p->kind == MOETIER_MEM_PINNED || p->layer >= n_layers)
            continue;
        for (uint32_t e = 0; e < p->n_expert && e < n_experts; e++) {
            uint32_t slot = p->layer * n_experts + e;
            uintptr_t a;
            if (have[slot] || (a = probe_in(p, e, window)) == 0)
                continue;
            have[slot] = 1;
            struct moetier_probe *q = &s->probes[s->n++];
            q->addr = a;
            q->len = (uint32_t)window;
            q->slot = slot;
            q->prot = p->prot;
        }
    }
    free(have);
    s->covered = (uint32_t)s->n;
    if (s->n == 0) {
        moetier_sampler_free(s);
        moetier_fmt(why, whylen, "no expert slice holds a whole %llu-byte window", (unsigned long long)window);
        return -EINVAL;
    }
    qsort(s->probes, s->n, sizeof *s->probes, cmp_probe);
    if (kind == MOETIER_SAMPLE_PAGEMAP) {
        s->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        s->pm_cap = window / page_size();
        s->pm = malloc(s->pm_cap * sizeof *s->pm);
        if (s->pagemap_fd < 0 || !s->pm) {
            int rc = s->pagemap_fd < 0 ? -errno : -ENOMEM;
            moetier_sampler_free(s);
            moetier_fmt(why, whylen, "cannot read /proc/self/pagemap");
            return rc;
        }
    }
    s->unit = unit;
    s->kind = kind;
    return 0;
}

void moetier_sampler_free(struct moetier_sampler *s)
{
    if (s->kind == MOETIER_SAMPLE_FAULT)
        moetier_sampler_disarm(s);
    if (s->pagemap_fd >= 0)
        close(s->pagemap_fd);
    free(s->pm);
    free(s->probes);
    memset(s, 0, sizeof *s);
    s->pagemap_fd = -1;
}

void moetier_sampler_arm(struct moetier_sampler *s)
{
    if (s->kind == MOETIER_SAMPLE_PAGEMAP) {
        for (size_t i = 0; i < s->n; i++) {
            struct moetier_probe *q = &s->probes[i];
            /* a window untouched since the last zap has no PTEs: skip the syscall */
            if (q->dead || (q->armed && !q->hit))
                continue;
            if (madvise((void *)q->addr, q->len, MADV_DONTNEED) == 0)
                q->armed = 1;
            q->hit = 0;
        }
        return;
    }
    if (s->kind != MOETIER_SAMPLE_FAULT)
        return;
    size_t limit = s->n < MOETIER_SAMPLER_MAX_ARMED ? s->n : MOETIER_SAMPLER_MAX_ARMED;
    for (size_t k = 0; k < limit; k++) {
        struct moetier_probe *q = &s->probes[(s->next + k) % s->n];
        if (q->dead || q->armed)
            continue;
        q->hit = 0;
        q->armed = 1; /* before the mprotect: the fault handler clears it */
        if (mprotect((void *)q->addr, q->len, PROT_NONE) != 0)
            q->armed = 0;
    }
}

int moetier_sampler_collect(struct moetier_sampler *s, uint8_t *used)
{
    int hits = 0;
    if (s->kind == MOETIER_SAMPLE_PAGEMAP) {
        for (size_t i = 0; i < s->n; i++) {
            struct moetier_probe *q = &s->probes[i];
            if (q->dead || !q->armed)
                continue;
            int present = pagemap_present(s->pagemap_fd, q->addr, q->len / page_size(), s->pm);
            if (present > 0) {
                q->hit = 1;
                used[q->slot] = 1;
                hits++;
            }
        }
        return hits;
    }
    if (s->kind != MOETIER_SAMPLE_FAULT)
        return 0;
    size_t limit = s->n < MOETIER_SAMPLER_MAX_ARMED ? s->n : MOETIER_SAMPLER_MAX_ARMED;
    for (size_t k = 0; k < limit; k++) {
        struct moetier_probe *q = &s->probes[(s->next + k) % s->n];
        if (q->hit) {
            used[q->slot] = 1;
            q->hit = 0;
            hits++;
        }
    }
    if (s->n > MOETIER_SAMPLER_MAX_ARMED) {
        /* rotate: disarm this subset so the next one can be armed without splitting more VMAs */
        for (size_t k = 0; k < limit; k++) {
            struct moetier_probe *q = &s->probes[(s->next + k) % s->n];
            if (q->armed && !q->dead && mprotect((void *)q->addr, q->len, q->prot) == 0)
                q->armed = 0;
        }
        s->next = (s->next + limit) % s->n;
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
}

void moetier_sampler_disarm(struct moetier_sampler *s)
{
    if (s->kind != MOETIER_SAMPLE_FAULT)
        return;
    for (size_t i = 0; i < s->n; i++) {
        struct moetier_probe *q = &s->probes[i];
        if (q->armed && !q->dead && mprotect((void *)q->addr, q->len, q->prot) == 0)
            q->armed = 0;
    }
}

int moetier_sampler_fault(struct moetier_sampler *s, uintptr_t addr)
{
    if (s->kind != MOETIER_SAMPLE_FAULT || s->n == 0)
        return 0;
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->probes[mid].addr + s->probes[mid].len <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == s->n)
        return 0;
    struct moetier_probe *q = &s->probes[lo];
    if (addr < q->addr || q->dead)
        return 0;
    /* Restore even when not armed: another thread may have restored it just
     * now; a fault on the probe page is ours either way. */
    mprotect((void *)q->addr, q->len, q->prot);
    q->hit = 1;
    q->armed = 0;
    return 1;
}
