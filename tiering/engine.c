/*
 * engine: slot table and reconciliation rounds (see engine.h for the rules).
 */
#include "config.h"

#include "tiering/engine.h"
#include "common/fail_point.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define NS_PER_S 1000000000ULL

static struct moetier_range *part_range(struct moetier_engine *e, uint32_t slot, uint32_t part)
{
    return &e->range[(size_t)slot * MOETIER_ENGINE_PARTS + part];
}

int moetier_engine_init(struct moetier_engine *e, uint32_t n_layers, uint32_t n_experts, uint32_t n_files,
                        const uint64_t *file_sizes, uint64_t budget, int huge, const struct moetier_engine_opts *o)
{
    memset(e, 0, sizeof *e);
    if (!n_layers || !n_experts)
        return -EINVAL;
    e->n_layers = n_layers;
    e->n_experts = n_experts;
    e->n_slots = n_layers * n_experts;
    if (o)
        e->opts = *o;
    if (!e->opts.promote_after)
        e->opts.promote_after = 2;
    if (!e->opts.min_resident_ns)
        e->opts.min_resident_ns = NS_PER_S;
    size_t n = e->n_slots;
    e->range = MOETIER_FAIL("engine.alloc") ? NULL : calloc(n * MOETIER_ENGINE_PARTS, sizeof *e->range);
    e->state = malloc(n);
    e->part_in = calloc(n, 1);
    e->wanted_rounds = calloc(n, 1);
    e->since_ns = calloc(n, sizeof *e->since_ns);
    e->bytes = calloc(n, sizeof *e->bytes);
    e->order = malloc(n * sizeof *e->order);
    e->pinned = calloc(n, 1);
    if (!e->pinned || !e->range || !e->state || !e->part_in || !e->wanted_rounds || !e->since_ns || !e->bytes || !e->order) {
        moetier_engine_free(e);
        return -ENOMEM;
    }
    memset(e->state, MOETIER_SLOT_UNTIERED, n);
    int rc = moetier_dram_cache_init(&e->cache, budget, n_files, file_sizes, huge);
    if (rc == 0)
        rc = moetier_migrate_init(&e->mig, &e->cache, 0);
    if (rc) {
        moetier_engine_free(e);
        return rc;
    }
    return 0;
}

void moetier_engine_free(struct moetier_engine *e)
{
    if (e->cache.n_files)
        moetier_dram_cache_free(&e->cache);
    free(e->range);
    free(e->state);
    free(e->part_in);
    free(e->wanted_rounds);
    free(e->since_ns);
    free(e->bytes);
    free(e->order);
    free(e->pinned);
    memset(e, 0, sizeof *e);
}

void moetier_engine_set_source(struct moetier_engine *e, uint32_t file, int fd, uint64_t base, uint64_t align)
{
    moetier_migrate_set_source(&e->mig, file, fd, base);
    if (file < MOETIER_CACHE_MAX_FILES)
        e->align[file] = align;
}

static void slot_recompute(struct moetier_engine *e, uint32_t slot)
{
    uint64_t bytes = 0;
    for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++)
        bytes += part_range(e, slot, p)->len;
    e->bytes[slot] = bytes;
    if (e->state[slot] == MOETIER_SLOT_SLOW || e->state[slot] == MOETIER_SLOT_UNTIERED)
        e->state[slot] = bytes ? MOETIER_SLOT_SLOW : MOETIER_SLOT_UNTIERED;
}

int moetier_engine_add(struct moetier_engine *e, uint32_t layer, uint32_t part, uintptr_t base, uint64_t stride,
                       uint32_t n_expert, uint32_t file, uint64_t file_off, int prot)
{
    uint64_t unit = e->cache.unit;
    if (file < MOETIER_CACHE_MAX_FILES && e->align[file] > unit && e->align[file] % unit == 0)
        unit = e->align[file];
    if (layer >= e->n_layers || part >= MOETIER_ENGINE_PARTS || file >= e->cache.n_files || !stride ||
        (base - file_off) % unit != 0 /* the mapping must keep file offsets and addresses congruent */)
        return -EINVAL;
    for (uint32_t x = 0; x < n_expert && x < e->n_experts; x++) {
        uint32_t slot = layer * e->n_experts + x;
        if (e->part_in[slot] & (1u << part))
            return -EBUSY;
        uintptr_t lo = base + x * stride, hi = lo + stride;
        uintptr_t a = (lo + unit - 1) / unit * unit, b = hi / unit * unit;
        struct moetier_range *r = part_range(e, slot, part);
        memset(r, 0, sizeof *r);
        if (b > a) {
            r->addr = a;
            r->len = b - a;
            r->file = file;
            r->off = file_off + (a - base);
            r->prot = prot;
        }
        slot_recompute(e, slot);
    }
    return 0;
}

void moetier_engine_set_lock(struct moetier_engine *e)
{
    moetier_migrate_set_lock(&e->mig);
}

void moetier_engine_keep_unlocked(struct moetier_engine *e, uint32_t s, uintptr_t addr, size_t len)
{
    if (s < e->n_slots)
        for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++) {
            struct moetier_range *r = part_range(e, s, p);
            if (!r->len || addr < r->addr || addr >= r->addr + r->len)
                continue;
            r->keep = addr;
            r->keep_len = len;
            if (e->mig.lock && (e->part_in[s] & (1u << p)))
                moetier_migrate_unlock_window(&e->mig, addr, len);
            return;
        }
}

static int overlaps(const struct moetier_range *r, uintptr_t start, uintptr_t end)
{
    return r->len && r->addr < end && r->addr + r->len > start;
}

void moetier_engine_exclude(struct moetier_engine *e, uintptr_t start, uintptr_t end)
{
    for (uint32_t s = 0; s < e->n_slots; s++)
        for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++)
            if (overlaps(part_range(e, s, p), start, end))
                e->state[s] = MOETIER_SLOT_EXCLUDED;
}

void moetier_engine_forget(struct moetier_engine *e, uintptr_t start, uintptr_t end)
{
    for (uint32_t s = 0; s < e->n_slots; s++) {
        int hit = 0;
        for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++) {
            struct moetier_range *r = part_range(e, s, p);
            if (!overlaps(r, start, end))
                continue;
            if (e->pinned[s] & (1u << p)) {
                e->pin(e->pin_ctx, r, 0);
                e->pinned[s] &= (uint8_t)~(1u << p);
                e->pinned_bytes -= r->len;
            }
            if (e->part_in[s] & (1u << p)) {
                if (e->mig.move || e->mig.lock) {
                    /* page migration moved nothing we own; locks go with the mapping */
                    moetier_dram_cache_uncharge(&e->cache, r->len);
                    if (e->mig.lock)
                        e->mig.map_now -= 2;
                } else {
                    moetier_dram_cache_release(&e->cache, r->file, r->off, r->len);
                    e->mig.map_now -= 2;
                }
                e->part_in[s] &= (uint8_t)~(1u << p);
            }
            memset(r, 0, sizeof *r);
            hit = 1;
        }
        if (hit) {
            if (e->state[s] == MOETIER_SLOT_DRAM)
                e->state[s] = e->part_in[s] ? MOETIER_SLOT_DRAM : MOETIER_SLOT_SLOW;
            slot_recompute(e, s);
        }
    }
}

static void unpin_slot(struct moetier_engine *e, uint32_t s)
{
    for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++)
        if (e->pinned[s] & (1u << p)) {
            const struct moetier_range *r = part_range(e, s, p);
            e->pin(e->pin_ctx, r, 0);
            e->pinned[s] &= (uint8_t)~(1u << p);
            e->pinned_bytes -= r->len;
        }
}

static void pin_slot(struct moetier_engine *e, uint32_t s)
{
    for (uint32_t p = 0; e->pin && p < MOETIER_ENGINE_PARTS; p++) {
        const struct moetier_range *r = part_range(e, s, p);
        if ((e->part_in[s] & (1u << p)) && !(e->pinned[s] & (1u << p)) && e->pin(e->pin_ctx, r, 1) == 0) {
            e->pinned[s] |= (uint8_t)(1u << p);
            e->pinned_bytes += r->len;
        }
    }
}

/* Moves every cached part of slot back; the slot stays DRAM while a part could not move. */
static int demote_slot(struct moetier_engine *e, uint32_t s)
{
    int rc = 0;
    unpin_slot(e, s); /* never remap memory the GPU may be reading */
    for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++) {
        if (!(e->part_in[s] & (1u << p)))
            continue;
        int r = moetier_migrate_demote(&e->mig, part_range(e, s, p));
        if (r == 0)
            e->part_in[s] &= (uint8_t)~(1u << p);
        else
            rc = r;
    }
    if (!e->part_in[s])
        e->state[s] = MOETIER_SLOT_SLOW;
    return rc;
}

/* Moves every part of slot into the cache, or none (rolls back on failure). */
static int promote_slot(struct moetier_engine *e, uint32_t s, uint64_t now)
{
    for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++) {
        struct moetier_range *r = part_range(e, s, p);
        if (!r->len || (e->part_in[s] & (1u << p)))
            continue;
        int rc = moetier_migrate_promote(&e->mig, r);
        if (rc) {
            demote_slot(e, s);
            return rc;
        }
        e->part_in[s] |= (uint8_t)(1u << p);
    }
    e->state[s] = MOETIER_SLOT_DRAM;
    e->since_ns[s] = now;
    pin_slot(e, s);
    return 0;
}

static const float *cmp_rate; /* qsort context: set under the runtime's lock */

static int hotter_first(const void *a, const void *b)
{
    float x = cmp_rate[*(const uint32_t *)a], y = cmp_rate[*(const uint32_t *)b];
    return x < y ? 1 : x > y ? -1 : (*(const uint32_t *)a > *(const uint32_t *)b) - (*(const uint32_t *)a < *(const uint32_t *)b);
}

/* The coldest promoted slot that may go: unwanted (r may be NULL: any), resident long enough (unless force). */
static uint32_t pick_victim(const struct moetier_engine *e, const struct moetier_residency *r, const float *rate,
                            uint64_t now, int force)
{
    uint32_t best = MOETIER_SLOT_NONE;
    for (uint32_t s = 0; s < e->n_slots; s++) {
        if (e->state[s] != MOETIER_SLOT_DRAM || (r && moetier_residency_wanted(r, s)))
            continue;
        if (!force && now - e->since_ns[s] < e->opts.min_resident_ns)
            continue;
        if (best == MOETIER_SLOT_NONE || (rate && rate[s] < rate[best]))
            best = s;
    }
    return best;
}

void moetier_engine_round(struct moetier_engine *e, const struct moetier_residency *r, const float *rate,
                          uint64_t now, int warm, struct moetier_round *out)
{
    memset(out, 0, sizeof *out);
    e->rounds++;
    moetier_migrate_retry_pending(&e->mig);
    if (e->opts.bytes_per_s) {
        double dt = e->last_round_ns ? (double)(now - e->last_round_ns) / NS_PER_S : 1.0;
        e->allowance += dt * (double)e->opts.bytes_per_s;
        /* a burst of at most one second's worth, or of the largest slot: a
         * limit below one slot per second must still let slots through */
        double cap = (double)e->opts.bytes_per_s;
        for (uint32_t s = 0; s < e->n_slots; s++)
            if ((double)e->bytes[s] > cap)
                cap = (double)e->bytes[s];
        if (e->allowance > cap)
            e->allowance = cap;
    }
    e->last_round_ns = now;

    uint32_t n = 0;
    for (uint32_t s = 0; s < e->n_slots; s++) {
        int want = moetier_residency_wanted(r, s);
        e->wanted_rounds[s] = want ? (uint8_t)(e->wanted_rounds[s] < 255 ? e->wanted_rounds[s] + 1 : 255) : 0;
        if (want && e->state[s] == MOETIER_SLOT_SLOW && (warm || e->wanted_rounds[s] >= e->opts.promote_after))
            e->order[n++] = s;
    }
    if (rate && n > 1) {
        cmp_rate = rate;
        qsort(e->order, n, sizeof *e->order, hotter_first);
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t s = e->order[i];
        uint64_t need = e->bytes[s];
        if (need > e->cache.budget) {
            out->stopped_by = -ENOSPC;
            break;
        }
        if (e->opts.bytes_per_s && e->allowance < (double)need) {
            out->stopped_by = -EAGAIN;
            break;
        }
        while (e->cache.used + need > e->cache.budget) {
            uint32_t v = pick_victim(e, r, rate, now, 0);
            if (v == MOETIER_SLOT_NONE)
                break;
            uint64_t before = e->cache.used;
            if (demote_slot(e, v) == 0) {
                out->demoted++;
                out->bytes_demoted += before - e->cache.used;
            } else {
                out->failed++;
                break;
            }
        }
        if (e->cache.used + need > e->cache.budget) {
            out->stopped_by = -ENOSPC;
            break;
        }
        int rc = promote_slot(e, s, now);
        if (rc == -EMLINK) {
            out->stopped_by = -EMLINK;
            break;
        }
        if (rc) {
            out->failed++;
            continue;
        }
        out->promoted++;
        out->bytes_promoted += need;
        e->allowance -= (double)need;
    }
}

void moetier_engine_account(struct moetier_engine *e, const uint8_t *used)
{
    struct moetier_engine_traffic *t = &e->traffic;
    t->steps++;
    for (uint32_t s = 0; s < e->n_slots; s++) {
        if (!used[s] || (e->state[s] != MOETIER_SLOT_DRAM && e->state[s] != MOETIER_SLOT_SLOW))
            continue;
        t->accesses++;
        if (e->state[s] == MOETIER_SLOT_DRAM)
            t->hits++;
        else
            t->direct_bytes += e->bytes[s];
    }
}

int moetier_engine_set_budget(struct moetier_engine *e, uint64_t budget, const float *rate)
{
    e->cache.budget = budget;
    while (e->cache.used > budget) {
        uint32_t v = pick_victim(e, NULL, rate, 0, 1);
        if (v == MOETIER_SLOT_NONE || demote_slot(e, v) != 0)
            return -EBUSY;
    }
    return 0;
}

int moetier_engine_fork_child(struct moetier_engine *e)
{
    int left = 0;
    for (uint32_t s = 0; s < e->n_slots; s++)
        for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++)
            if ((e->part_in[s] & (1u << p)) && moetier_migrate_detach(&e->mig, part_range(e, s, p)) != 0)
                left++;
    if (e->cache.n_files)
        moetier_dram_cache_free(&e->cache); /* closes the child's memfds; the parent's keep the pages */
    return left;
}

void moetier_engine_demote_all(struct moetier_engine *e)
{
    for (uint32_t s = 0; s < e->n_slots; s++)
        if (e->state[s] == MOETIER_SLOT_DRAM)
            demote_slot(e, s);
}

int moetier_engine_place_slow(struct moetier_engine *e, struct moetier_numa_moved *sum)
{
    memset(sum, 0, sizeof *sum);
    if (!e->mig.move)
        return -EINVAL;
    for (uint32_t s = 0; s < e->n_slots; s++) {
        if (e->state[s] != MOETIER_SLOT_SLOW)
            continue;
        for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++) {
            struct moetier_range *r = part_range(e, s, p);
            struct moetier_numa_moved m;
            if (!r->len)
                continue;
            moetier_touch_pages((const void *)r->addr, r->len);
            if (moetier_numa_move((void *)r->addr, r->len, e->mig.slow_node, MOETIER_NUMA_INTERIOR, &m))
                continue;
            sum->pages += m.pages;
            sum->moved += m.moved;
            sum->already += m.already;
            sum->not_present += m.not_present;
            sum->shared += m.shared;
            sum->busy += m.busy;
            sum->nomem += m.nomem;
            sum->fault += m.fault;
            sum->other += m.other;
            sum->unmoved += m.unmoved;
        }
    }
    return 0;
}

uint32_t moetier_engine_count(const struct moetier_engine *e, enum moetier_slot_state st)
{
    uint32_t n = 0;
    for (uint32_t s = 0; s < e->n_slots; s++)
        n += e->state[s] == st;
    return n;
}

uint32_t moetier_engine_capacity(const struct moetier_engine *e)
{
    uint64_t total = 0, n = 0;
    for (uint32_t s = 0; s < e->n_slots; s++)
        if (e->bytes[s] && e->state[s] != MOETIER_SLOT_EXCLUDED) {
            total += e->bytes[s];
            n++;
        }
    if (!n || !total)
        return 0;
    uint64_t cap = e->cache.budget / (total / n);
    return cap > n ? (uint32_t)n : (uint32_t)cap;
}
