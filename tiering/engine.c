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
        if ((e->part_in[slot] & (1u << part)) || (e->moving && slot == e->move_slot))
            return -EBUSY; /* promoted, or in flight: its ranges stay what the move and the commit know */
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
            if (e->part_in[s] & (1u << p))
                moetier_migrate_unlock_window(&e->mig, addr, len); /* locking only: the others keep nothing locked */
            return;
        }
}

static int overlaps(const struct moetier_range *r, uintptr_t start, uintptr_t end)
{
    return r->len && r->addr < end && r->addr + r->len > start;
}

/* The slot in flight's part p overlaps [start, end). */
static int in_flight(const struct moetier_engine *e, uint32_t s, uint32_t p, uintptr_t start, uintptr_t end)
{
    return e->moving && s == e->move_slot && (e->move_parts & (1u << p)) && overlaps(&e->move_range[p], start, end);
}

int moetier_engine_moving(const struct moetier_engine *e, uintptr_t start, uintptr_t end)
{
    for (uint32_t p = 0; e->moving && p < MOETIER_ENGINE_PARTS; p++)
        if (in_flight(e, e->move_slot, p, start, end))
            return 1;
    return 0;
}

void moetier_engine_exclude(struct moetier_engine *e, uintptr_t start, uintptr_t end)
{
    e->gen++;
    for (uint32_t s = 0; s < e->n_slots; s++)
        for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++)
            if (overlaps(part_range(e, s, p), start, end))
                e->state[s] = MOETIER_SLOT_EXCLUDED;
}

void moetier_engine_forget(struct moetier_engine *e, uintptr_t start, uintptr_t end)
{
    e->gen++;
    for (uint32_t s = 0; s < e->n_slots; s++) {
        int hit = 0;
        for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++) {
            struct moetier_range *r = part_range(e, s, p);
            if (!overlaps(r, start, end))
                continue;
            hit = 1;
            if (e->moving && s == e->move_slot) {
                /* the mover owns the slot's cache bytes until the commit, which discards them */
                e->move_lost = 1;
                memset(r, 0, sizeof *r);
                continue;
            }
            if (e->pinned[s] & (1u << p)) {
                e->pin(e->pin_ctx, r, 0);
                e->pinned[s] &= (uint8_t)~(1u << p);
                e->pinned_bytes -= r->len;
            }
            if (e->part_in[s] & (1u << p)) {
                moetier_migrate_drop(&e->mig, r);
                e->part_in[s] &= (uint8_t)~(1u << p);
            }
            memset(r, 0, sizeof *r);
        }
        if (hit && !(e->moving && s == e->move_slot)) {
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

/* ---- one move in three phases ------------------------------------------ */

/* Phase 1, under the caller's lock: snapshot slot's ranges and mark it in flight. */
static void choose(struct moetier_engine *e, uint32_t s, enum moetier_move_kind kind, struct moetier_move *m)
{
    memset(m, 0, sizeof *m);
    m->slot = s;
    m->kind = kind;
    m->gen = e->gen;
    m->need = e->bytes[s];
    for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++) {
        m->part[p] = *part_range(e, s, p);
        int in = (e->part_in[s] >> p) & 1;
        if (m->part[p].len && (kind == MOETIER_MOVE_PLACE || (kind == MOETIER_MOVE_PROMOTE ? !in : in)))
            m->todo |= (uint8_t)(1u << p);
    }
    if (kind == MOETIER_MOVE_DEMOTE)
        unpin_slot(e, s); /* never remap memory the GPU may be reading */
    e->moving = 1;
    e->move_slot = s;
    e->move_parts = m->todo;
    memcpy(e->move_range, m->part, sizeof e->move_range);
    e->move_lost = 0;
}

/* Phase 2, without the caller's lock: only the mover runs this, on the snapshot. */
void moetier_engine_move(struct moetier_engine *e, struct moetier_move *m)
{
    if (e->move_hook)
        e->move_hook(e->move_hook_ctx, m);
    for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++) {
        struct moetier_range *r = &m->part[p];
        if (!(m->todo & (1u << p)))
            continue;
        if (m->kind == MOETIER_MOVE_PLACE) {
            struct moetier_numa_moved n;
            if (moetier_migrate_place(&e->mig, r, &n) == 0)
                moetier_numa_moved_add(&m->placed, &n);
            continue;
        }
        int rc = m->kind == MOETIER_MOVE_PROMOTE ? moetier_migrate_promote(&e->mig, r) : moetier_migrate_demote(&e->mig, r);
        if (rc == 0) {
            m->done |= (uint8_t)(1u << p);
            continue;
        }
        if (!m->rc)
            m->rc = rc;
        if (m->kind == MOETIER_MOVE_PROMOTE) {
            /* a slot moves whole: the parts already moved go back */
            for (uint32_t q = 0; q < MOETIER_ENGINE_PARTS; q++)
                if ((m->done & (1u << q)) && moetier_migrate_demote(&e->mig, &m->part[q]) == 0)
                    m->done &= (uint8_t)~(1u << q);
            return;
        }
    }
}

/* Phase 3, under the caller's lock: the slot's new state. 1 when the move
 * took effect, 0 when it failed or was discarded. */
static int apply(struct moetier_engine *e, const struct moetier_move *m)
{
    uint32_t s = m->slot;
    e->moving = 0;
    if (m->kind == MOETIER_MOVE_PLACE)
        return 1;
    uint8_t in = m->kind == MOETIER_MOVE_PROMOTE ? (uint8_t)(e->part_in[s] | m->done) : (uint8_t)(e->part_in[s] & ~m->done);
    if (m->gen != e->gen && e->move_lost) {
        /* the memory went away during the move (forgotten: the binary
         * unmaps it): its cache bytes go, nothing is mapped over it */
        for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++)
            if (in & (1u << p))
                moetier_migrate_drop(&e->mig, &m->part[p]);
        e->part_in[s] = 0;
        e->move_lost = 0;
        if (e->state[s] == MOETIER_SLOT_DRAM)
            e->state[s] = MOETIER_SLOT_SLOW;
        slot_recompute(e, s);
        return 0;
    }
    e->part_in[s] = in;
    if (m->kind == MOETIER_MOVE_DEMOTE) {
        if (!in && e->state[s] == MOETIER_SLOT_DRAM)
            e->state[s] = MOETIER_SLOT_SLOW;
        return m->rc == 0;
    }
    if (m->rc)
        return 0;
    if (e->state[s] != MOETIER_SLOT_EXCLUDED) /* excluded meanwhile: stays where it is now */
        e->state[s] = MOETIER_SLOT_DRAM;
    e->since_ns[s] = e->round_now;
    for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++) {
        /* a probe window registered during the move must stay unlocked (locking only) */
        const struct moetier_range *r = part_range(e, s, p);
        if ((in & (1u << p)) && r->keep_len && (r->keep != m->part[p].keep || r->keep_len != m->part[p].keep_len))
            moetier_migrate_unlock_window(&e->mig, r->keep, r->keep_len);
    }
    pin_slot(e, s);
    return 1;
}

static uint64_t done_bytes(const struct moetier_move *m)
{
    uint64_t b = 0;
    for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++)
        if (m->done & (1u << p))
            b += m->part[p].len;
    return b;
}

void moetier_engine_commit(struct moetier_engine *e, struct moetier_move *m, struct moetier_round *out)
{
    int ok = apply(e, m);
    if (m->kind == MOETIER_MOVE_DEMOTE) {
        if (ok) {
            out->demoted++;
            out->bytes_demoted += done_bytes(m);
        } else {
            /* no room made: the promotion waiting for it does not happen */
            out->failed++;
            out->stopped_by = -ENOSPC;
            e->round_stop = 1;
        }
    } else if (m->kind == MOETIER_MOVE_PROMOTE) {
        if (ok) {
            out->promoted++;
            out->bytes_promoted += m->need;
            e->allowance -= (double)m->need;
        } else if (m->rc == -EMLINK) {
            out->stopped_by = -EMLINK;
            e->round_stop = 1;
        } else if (m->rc) {
            out->failed++;
        }
    }
}

/* One synchronous move (no lock to release): budget shrink, demote all. */
static int move_now(struct moetier_engine *e, uint32_t s, enum moetier_move_kind kind)
{
    struct moetier_move m;
    choose(e, s, kind, &m);
    moetier_engine_move(e, &m);
    apply(e, &m);
    return m.rc;
}

/* Moves every cached part of slot back; the slot stays DRAM while a part could not move. */
static int demote_slot(struct moetier_engine *e, uint32_t s)
{
    return move_now(e, s, MOETIER_MOVE_DEMOTE);
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

void moetier_engine_round_begin(struct moetier_engine *e, uint64_t now, int warm, struct moetier_round *out)
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
    e->round_now = now;
    e->round_warm = warm;
    e->round_stop = e->round_ordered = 0;
    e->round_why = 0;
    e->round_i = e->round_n = 0;
}

/* The round's candidates, hottest first: chosen at its first step, when the
 * caller passes the residency. */
static void round_order(struct moetier_engine *e, const struct moetier_residency *r, const float *rate)
{
    uint32_t n = 0;
    for (uint32_t s = 0; s < e->n_slots; s++) {
        int want = moetier_residency_wanted(r, s);
        e->wanted_rounds[s] = want ? (uint8_t)(e->wanted_rounds[s] < 255 ? e->wanted_rounds[s] + 1 : 255) : 0;
        if (want && e->state[s] == MOETIER_SLOT_SLOW && (e->round_warm || e->wanted_rounds[s] >= e->opts.promote_after))
            e->order[n++] = s;
    }
    if (rate && n > 1) {
        cmp_rate = rate;
        qsort(e->order, n, sizeof *e->order, hotter_first);
    }
    e->round_n = n;
    e->round_i = 0;
}

int moetier_engine_next(struct moetier_engine *e, const struct moetier_residency *r, const float *rate,
                        struct moetier_move *m)
{
    if (e->moving || e->round_stop)
        return 0;
    if (!e->round_ordered) {
        round_order(e, r, rate);
        e->round_ordered = 1;
    }
    while (e->round_i < e->round_n) {
        uint32_t s = e->order[e->round_i];
        if (e->state[s] != MOETIER_SLOT_SLOW) { /* forgotten or excluded since */
            e->round_i++;
            continue;
        }
        uint64_t need = e->bytes[s];
        if (need > e->cache.budget) {
            e->round_why = -ENOSPC;
            break;
        }
        if (e->opts.bytes_per_s && e->allowance < (double)need) {
            e->round_why = -EAGAIN;
            break;
        }
        if (e->cache.used + need > e->cache.budget) {
            uint32_t v = pick_victim(e, r, rate, e->round_now, 0);
            if (v == MOETIER_SLOT_NONE) {
                e->round_why = -ENOSPC;
                break;
            }
            choose(e, v, MOETIER_MOVE_DEMOTE, m); /* room first; the promotion comes next */
            return 1;
        }
        e->round_i++;
        choose(e, s, MOETIER_MOVE_PROMOTE, m);
        return 1;
    }
    e->round_stop = 1; /* over */
    return 0;
}

void moetier_engine_round_end(struct moetier_engine *e, struct moetier_round *out)
{
    if (!out->stopped_by)
        out->stopped_by = e->round_why;
    e->round_stop = 1;
}

void moetier_engine_round(struct moetier_engine *e, const struct moetier_residency *r, const float *rate,
                          uint64_t now, int warm, struct moetier_round *out)
{
    struct moetier_move m;
    moetier_engine_round_begin(e, now, warm, out);
    while (moetier_engine_next(e, r, rate, &m)) {
        moetier_engine_move(e, &m);
        moetier_engine_commit(e, &m, out);
    }
    moetier_engine_round_end(e, out);
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

void moetier_engine_set_per_token(struct moetier_engine *e, int on)
{
    if (!on == !e->per_token)
        return;
    e->per_token = on;
    if (on) {
        e->rounds_opts = e->opts;
        e->opts.promote_after = 1;
        e->opts.min_resident_ns = 0;
    } else {
        e->opts.promote_after = e->rounds_opts.promote_after;
        e->opts.min_resident_ns = e->rounds_opts.min_resident_ns;
    }
}

void moetier_engine_set_budget_only(struct moetier_engine *e, uint64_t budget)
{
    e->cache.budget = budget;
    e->gen++;
}

int moetier_engine_shrink_next(struct moetier_engine *e, const float *rate, struct moetier_move *m)
{
    if (e->moving || e->cache.used <= e->cache.budget)
        return 0;
    uint32_t v = pick_victim(e, NULL, rate, 0, 1);
    if (v == MOETIER_SLOT_NONE)
        return 0;
    choose(e, v, MOETIER_MOVE_DEMOTE, m);
    return 1;
}

int moetier_engine_set_budget(struct moetier_engine *e, uint64_t budget, const float *rate)
{
    struct moetier_move m;
    moetier_engine_set_budget_only(e, budget);
    while (moetier_engine_shrink_next(e, rate, &m)) {
        moetier_engine_move(e, &m);
        if (!apply(e, &m))
            return -EBUSY;
    }
    return e->cache.used > budget ? -EBUSY : 0;
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

void moetier_numa_moved_add(struct moetier_numa_moved *sum, const struct moetier_numa_moved *m)
{
    sum->pages += m->pages;
    sum->moved += m->moved;
    sum->already += m->already;
    sum->not_present += m->not_present;
    sum->shared += m->shared;
    sum->busy += m->busy;
    sum->nomem += m->nomem;
    sum->fault += m->fault;
    sum->other += m->other;
    sum->unmoved += m->unmoved;
}

int moetier_engine_place_next(struct moetier_engine *e, struct moetier_move *m)
{
    if (!moetier_migrate_can_place(&e->mig) || e->moving)
        return 0;
    for (; e->place_i < e->n_slots; e->place_i++)
        if (e->state[e->place_i] == MOETIER_SLOT_SLOW) {
            choose(e, e->place_i++, MOETIER_MOVE_PLACE, m);
            return 1;
        }
    return 0;
}

int moetier_engine_place_slow(struct moetier_engine *e, struct moetier_numa_moved *sum)
{
    memset(sum, 0, sizeof *sum);
    if (!moetier_migrate_can_place(&e->mig))
        return -EINVAL;
    struct moetier_move m;
    e->place_i = 0;
    while (moetier_engine_place_next(e, &m)) {
        moetier_engine_move(e, &m);
        apply(e, &m);
        moetier_numa_moved_add(sum, &m.placed);
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
