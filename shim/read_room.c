/*
 * read_room: the page cache the exact reads (reads.c) fill, run as a demand
 * cache of whole experts under moetier's policy, so the bytes it reads are
 * the ones `moetier replay` predicts for that policy and that memory.
 *
 * Without it the exact reads fill the page cache and the kernel's reclaim
 * decides what leaves: its LRU lists see pages, not experts, and under a
 * cgroup cap it takes from every file page alike (measured, docs/
 * bench-capped.md: 34-38 MiB read per token where an expert LRU of the same
 * memory reads 19-21). Here each MoE layer's chosen experts go through
 * tiering/demand_cache.c (the step replay runs); a victim it evicts is dropped
 * at once (a miss the policy reads without a place, once the layer has used
 * it: at the next step): MADV_DONTNEED of its pages in the binary's shared file mapping
 * (the mapping stays; a later touch reads the file again) and
 * POSIX_FADV_DONTNEED of the same file range on moetier's own descriptor.
 * Neither changes a byte the binary reads: the pages are clean file pages of
 * a MAP_SHARED mapping (private mappings are never dropped). A locked expert
 * (the engine's hot set) refuses the drop (EINVAL) and stays.
 *
 * The room's size follows the memory this process may use, each round
 * (shim_room_update_locked): the cgroup limit less its anonymous memory and
 * the engine's locked experts (else MemAvailable, which counts neither), less
 * the model's dense weights (read every token: they must stay cached) and a
 * margin for everything else, so that the kernel never has to reclaim and the
 * room decides alone. At the start the experts already cached (the load's
 * reads) are adopted up to that size and the rest dropped.
 *
 * Concurrency: the decode thread that runs llama.cpp's eval callback steps
 * the room; room_busy lets one thread in at a time (another skips the room
 * for that layer: its reads still go out). The runtime thread only publishes
 * the size (room_want). Build and stop run under shim.lock and take room_busy
 * too. A forked child never uses the room (its busy flag may be inherited set).
 */
#include "shim/shim.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/meminfo.h"
#include "common/size.h"
#include "common/page.h"
#include "tiering/demand_cache.h"
#include "tiering/dram_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ROOM_MARGIN_MIN (16ULL << 20) /* the margin for other memory: at least this */
#define ROOM_MARGIN_SHIFT 4          /* and 1/16 of what the room may use */

static struct moetier_demand_cache room;
static struct moetier_policy *room_policy;
static _Atomic int room_on;              /* built and managing */
static int room_busy;                    /* a thread steps the room (atomic flag) */
static _Atomic uint32_t room_want;       /* its size in experts, from the rounds */
static uint64_t pair_bytes;              /* page cache one (layer, expert) takes: its parts, whole pages */
static uint64_t dense_bytes;             /* the model's bytes that are not experts */
static int room_fd[MOETIER_CACHE_MAX_FILES];
static int n_room_fd;
static uint32_t n_experts;
/* experts read without a place (a decode step's misses the policy does not
 * admit, a prompt batch's experts the room does not hold): dropped after use,
 * at the room's next step; room for one layer of a batch (every expert) */
static uint32_t *bypass, n_bypass, bypass_cap;
static char policy_name[16];
/* statistics: relaxed atomics */
static uint64_t st_steps, st_misses, st_direct, st_prefetched, st_prefetch_used, st_evicted, st_drop_failed,
    st_batch_layers;

static int enter(int spin)
{
    for (int i = 0;; i++) {
        if (!__atomic_exchange_n(&room_busy, 1, __ATOMIC_ACQUIRE))
            return 1;
        if (i >= spin)
            return 0;
        sched_yield();
    }
}

static void leave(void)
{
    __atomic_store_n(&room_busy, 0, __ATOMIC_RELEASE);
}

/* [start, end) of expert e of part r in whole pages: inner (only pages no
 * other expert shares: what may be dropped) or outer. */
static void expert_pages(const struct shim_read_part *r, uint32_t e, int inner, uintptr_t *start, uintptr_t *end)
{
    const uintptr_t page = moetier_page_size();
    uintptr_t a = r->base + (uintptr_t)e * r->stride, b = a + r->stride;
    if (inner) {
        a = (a + page - 1) & ~(page - 1);
        b &= ~(page - 1);
    } else {
        a &= ~(page - 1);
        b = (b + page - 1) & ~(page - 1);
    }
    *start = a;
    *end = b > a ? b : a;
}

/* The experts of the layer step under way (they are about to be read): an
 * edge page they share is kept like a held expert's. Under room_busy. */
static uint16_t step_row[MOETIER_DEMAND_MAX_K];
static uint32_t step_k, step_layer;

/* Whether expert e of layer keeps its pages: held by the room or read now. */
static int keeps(uint32_t layer, uint32_t e)
{
    if (moetier_demand_cache_has(&room, layer * n_experts + e))
        return 1;
    for (uint32_t i = 0; layer == step_layer && i < step_k; i++)
        if (step_row[i] == e)
            return 1;
    return 0;
}

#define FOLIO_MAX ((uintptr_t)2 << 20) /* the largest page-cache folio (PMD-sized) */

/* Widens [*a, *b), expert e's own pages in r, over the neighbours in the
 * tensor that keep nothing, until a kept one or FOLIO_MAX beyond each edge:
 * the page cache holds a file in folios of up to FOLIO_MAX (the load's
 * readahead makes large ones, spanning several experts), and a folio leaves
 * it only when one drop covers all of it and no page of it is mapped; a drop
 * of the expert's own pages alone left the rest of such folios behind
 * (measured: pieces of some 700 experts, 50-56 MiB of a 325 MiB page cache,
 * the cgroup at its limit). An expert's edges are not page-aligned: the page
 * it shares with a kept neighbour stays, and so does a page shared with
 * another tensor (the first expert's head, the last's tail). */
static void widen(const struct shim_read_part *r, uint32_t layer, uint32_t e, uintptr_t *a, uintptr_t *b)
{
    const uintptr_t page = moetier_page_size();
    uintptr_t lo = *a, hi = *b;
    /* each neighbour dropped from its first whole page: the page it shares
     * with the next one out goes only if that one is dropped too */
    for (uint32_t j = e; j > 0 && *a - lo < FOLIO_MAX && !keeps(layer, j - 1); j--)
        lo = (r->base + (uintptr_t)(j - 1) * r->stride + page - 1) & ~(page - 1);
    for (uint32_t j = e + 1; j < r->n_expert && hi - *b < FOLIO_MAX && !keeps(layer, j); j++)
        hi = (r->base + (uintptr_t)(j + 1) * r->stride) & ~(page - 1);
    *a = lo;
    *b = hi;
}

/* Whether part r's pages may be dropped: a shared mapping of a file the room has a descriptor for. */
static int droppable(const struct shim_read_part *r)
{
    return r && r->shared && r->n_expert && r->file >= 0 && r->file < n_room_fd && room_fd[r->file] >= 0;
}

/* Drops the whole pages [a, b) of part r from the binary's mapping and the
 * page cache; -1 when the mapping refuses (locked: EINVAL), and they stay. */
static int drop_pages(const struct shim_read_part *r, uintptr_t a, uintptr_t b)
{
    if (b <= a)
        return 0;
    /* the raw call: what the binary's own madvise does is not ours to count */
    if (syscall(SYS_madvise, (void *)a, (size_t)(b - a), MADV_DONTNEED) != 0)
        return -1;
    posix_fadvise(room_fd[r->file], (off_t)(r->file_off + (a - r->base)), (off_t)(b - a), POSIX_FADV_DONTNEED);
    return 0;
}

/* Drops slot's pages from the binary's mapping and the page cache: its own
 * pages and, widened (above), its droppable neighbours'. */
static void drop(uint32_t slot)
{
    uint32_t layer = slot / n_experts, e = slot % n_experts;
    for (int p = 0; p < 3; p++) {
        const struct shim_read_part *r = shim_reads_part(layer, p);
        if (!droppable(r) || e >= r->n_expert)
            continue;
        uintptr_t a, b;
        expert_pages(r, e, 1, &a, &b);
        widen(r, layer, e, &a, &b);
        if (drop_pages(r, a, b) != 0)
            __atomic_fetch_add(&st_drop_failed, 1, __ATOMIC_RELAXED);
    }
}

/* The last step's experts read without a place: used now, they leave
 * (unless the room has taken them since). Under room_busy. */
static void drop_bypassed(void)
{
    for (uint32_t i = 0; i < n_bypass; i++)
        if (!moetier_demand_cache_has(&room, bypass[i]))
            drop(bypass[i]);
    n_bypass = 0;
}

static void drop_evicted(const struct moetier_demand_step *st)
{
    for (uint32_t i = 0; i < st->n_evicted; i++)
        drop(st->evicted[i]);
    __atomic_fetch_add(&st_evicted, st->n_evicted, __ATOMIC_RELAXED);
}

/* Pages of expert e of layer in the page cache (mincore over its parts; the
 * edge pages it shares with its neighbours too unless inner): *in of *all;
 * -1 when mincore fails (the mapping is gone). */
static int cached_pages(uint32_t layer, uint32_t e, int inner, uint64_t *in, uint64_t *all)
{
    static unsigned char vec[4096]; /* under shim.lock and room_busy */
    const uintptr_t page = moetier_page_size();
    *in = *all = 0;
    for (int p = 0; p < 3; p++) {
        const struct shim_read_part *r = shim_reads_part(layer, p);
        if (!r || e >= r->n_expert)
            continue;
        uintptr_t a, b;
        expert_pages(r, e, inner, &a, &b);
        while (a < b) {
            size_t n = (size_t)((b - a) / page);
            if (n > sizeof vec)
                n = sizeof vec;
            if (mincore((void *)a, n * page, vec) != 0)
                return -1;
            for (size_t i = 0; i < n; i++)
                *in += vec[i] & 1;
            *all += n;
            a += n * page;
        }
    }
    return 0;
}

/* How much of expert e of layer is in the page cache: 2 most of it, 1 some, 0 none. */
static int cached(uint32_t layer, uint32_t e)
{
    uint64_t in, all;
    if (cached_pages(layer, e, 0, &in, &all) != 0 || !in)
        return 0;
    return in * 2 >= all ? 2 : 1;
}

/* What the page cache holds of the experts when the model is unmapped, for
 * the exit line (only when info is logged: a mincore call per 16 MiB of
 * experts): whether the room's count is what is cached (the kernel's reclaim
 * takes pieces of held experts when the cgroup sits at its limit; pages no
 * drop could evict are pieces of others). */
static uint32_t au_held_whole, au_held_part, au_other;
static uint64_t au_other_pages;
static int au_done;

static void audit(void)
{
    uint32_t hw = 0, hp = 0, ot = 0;
    uint64_t op = 0, in, all;
    if (cached_pages(0, 0, 0, &in, &all) != 0 || !all)
        return; /* the model is unmapped: nothing to say */
    for (uint32_t l = 0; l < room.n_layers; l++)
        for (uint32_t e = 0; e < n_experts; e++) {
            /* held: every page, edges too; others: their own pages (an edge
             * shared with a held neighbour is the neighbour's) */
            int held = moetier_demand_cache_has(&room, l * n_experts + e);
            if (cached_pages(l, e, !held, &in, &all) != 0)
                return;
            if (held) {
                hw += in == all;
                hp += in < all;
            } else if (in) {
                ot++;
                op += in;
            }
        }
    au_held_whole = hw;
    au_held_part = hp;
    au_other = ot;
    au_other_pages = op;
    au_done = 1;
}

/* Drops every expert tensor of the shared mapping from the page cache, each
 * in one piece, so the room starts from its own reads. The load's reads
 * (the kernel's readahead, before MADV_RANDOM) leave large folios spanning
 * several experts; a drop widened over droppable neighbours (widen) evicts
 * those no held expert shares, but one that does stays while the held
 * expert's pages are mapped (measured on the 26 x 64 law model under a 340M
 * cap, adopting the load's experts: pieces of some 700 experts, 50-56 MiB,
 * the cgroup at its limit and its reclaim taking pages of held experts that
 * came back one fault at a time, 1.7-2.1k major faults a 60-token feed;
 * widened, 48 MiB of pieces ten tokens in and 430 faults; from the room's
 * own reads 0-1 faults, for 1-8% more bytes over that feed: the load's
 * cached experts read again). Pages still mapped, or sharing a folio with a
 * dense tensor, stay (adopted or dropped after this like any other). Under
 * room_busy. */
static uintptr_t cold_base; /* the mapping last dropped whole (layer 0's first tensor) */

static void drop_tensors(void)
{
    const uintptr_t page = moetier_page_size();
    for (uint32_t l = 0; l < room.n_layers; l++)
        for (int p = 0; p < 3; p++) {
            const struct shim_read_part *r = shim_reads_part(l, p);
            if (droppable(r)) /* a locked tensor's experts stay */
                drop_pages(r, (r->base + page - 1) & ~(page - 1), (r->base + r->n_expert * r->stride) & ~(page - 1));
        }
}

static void close_fds(void)
{
    for (int i = 0; i < n_room_fd; i++)
        if (room_fd[i] >= 0)
            close(room_fd[i]);
    n_room_fd = 0;
}

/* The room's size in experts for avail bytes the page cache may hold. */
static uint32_t size_for(uint64_t avail)
{
    uint64_t margin = ROOM_MARGIN_MIN + (avail >> ROOM_MARGIN_SHIFT);
    uint64_t reserve = dense_bytes + margin;
    uint64_t room_bytes = avail > reserve ? avail - reserve : 0;
    uint64_t slots = pair_bytes ? room_bytes / pair_bytes : 0;
    uint64_t max = (uint64_t)shim_reads_n_layers() * n_experts;
    return (uint32_t)(slots < max ? slots : max);
}

static uint64_t last_avail; /* the page cache size_now last found (for the log) */

static uint32_t size_now(uint64_t locked)
{
    struct moetier_meminfo mi;
    if (moetier_meminfo_read(&mi) != 0)
        return 0;
    uint64_t avail;
    if (mi.cgroup_limit) {
        uint64_t used = mi.cgroup_anon + locked;
        avail = mi.cgroup_limit > used ? mi.cgroup_limit - used : 0;
    } else {
        avail = mi.available; /* counts neither anonymous nor locked memory */
    }
    last_avail = avail;
    return size_for(avail);
}

void shim_room_build_locked(void)
{
    const uint32_t L = shim_reads_n_layers(), E = shim.model.n_experts;
    __atomic_store_n(&room_on, 0, __ATOMIC_RELEASE);
    if (!L || !E || !shim.read_room) /* MOETIER_READ_ROOM=off: the plan said so */
        return;
    if (!enter(1000)) {
        log_warn("read room: another thread keeps it busy; the kernel's reclaim decides what leaves the page cache");
        return;
    }
    moetier_demand_cache_free(&room);
    moetier_policy_free(room_policy);
    room_policy = NULL;
    close_fds();
    n_bypass = 0;
    if (bypass_cap < E + MOETIER_DEMAND_MAX_K) {
        uint32_t *b = realloc(bypass, (size_t)(E + MOETIER_DEMAND_MAX_K) * sizeof *b);
        if (!b) {
            log_warn("read room: no memory for its list of %u experts; the kernel's reclaim decides what leaves the "
                     "page cache", E);
            leave();
            return;
        }
        bypass = b;
        bypass_cap = E + MOETIER_DEMAND_MAX_K;
    }
    /* the policy: the configured one where it is a demand policy, else the
     * runtime's default for a demand cache (moetier_policy_auto) */
    const char *name = shim.cfg.policy;
    if (!name[0] || !strcmp(name, "auto") || !strcmp(name, "hot") || !strcmp(name, "static") ||
        !strcmp(name, "belady"))
        name = moetier_policy_auto(0);
    moetier_fmt(policy_name, sizeof policy_name, "%s", name);
    uint32_t topk = shim.model.map->n_expert_used > 0 ? (uint32_t)shim.model.map->n_expert_used : 1;
    /* page cache per expert, and the model's dense bytes */
    const uintptr_t page = moetier_page_size();
    uint64_t expert_total = 0, per = 0;
    for (uint32_t l = 0; l < L; l++) {
        uint64_t here = 0;
        for (int p = 0; p < 3; p++) {
            const struct shim_read_part *r = shim_reads_part(l, p);
            if (!r)
                continue;
            here += (r->stride + 2 * page - 1) / page * page;
            expert_total += r->n_expert * r->stride;
        }
        if (here > per)
            per = here;
    }
    pair_bytes = per;
    n_experts = E;
    uint32_t n_files = (uint32_t)moetier_gguf_model_n_files(shim.model.gguf);
    uint64_t file_total = 0;
    for (uint32_t i = 0; i < n_files && i < MOETIER_CACHE_MAX_FILES; i++) {
        const char *path = moetier_gguf_model_path(shim.model.gguf, i);
        int fd, sfd;
        uint64_t sbase, salign;
        struct stat st;
        /* a staged copy the binary maps instead is not in the page cache (DAX) */
        if (shim_staged_source((int)i, &sfd, &sbase, &salign) == 0)
            fd = -1;
        else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            log_warn("read room: cannot open %s: %s; its experts are left to the kernel's reclaim", path,
                     strerror(errno));
        if (fd >= 0 && fstat(fd, &st) == 0)
            file_total += (uint64_t)st.st_size;
        room_fd[n_room_fd++] = fd;
    }
    dense_bytes = file_total > expert_total ? file_total - expert_total : 0;
    uint32_t cap = size_now(0);
    int rc = moetier_policy_new_live(name, L, E, topk, cap, NULL, shim.cfg.prefetch_gate, &room_policy);
    if (rc == 0)
        rc = moetier_demand_cache_init(&room, L, E, cap, room_policy);
    if (rc) {
        log_warn("read room: cannot set up policy %s (%s); the kernel's reclaim decides what leaves the page cache",
                 name, strerror(-rc));
        moetier_policy_free(room_policy);
        room_policy = NULL;
        close_fds();
        leave();
        return;
    }
    /* once per mapping of the model, the room starts from its own reads */
    const struct shim_read_part *first = shim_reads_part(0, 0);
    if (first && first->base != cold_base) {
        drop_tensors();
        cold_base = first->base;
    }
    /* adopt what is still cached, up to the room's size; drop the rest,
     * partly cached experts too (the load's reclaim leaves pieces: uncounted,
     * they were a tenth of the page cache a 60-token feed ran in) */
    uint32_t adopted = 0, dropped = 0;
    /* adoptions first: a drop widens over the neighbours the room does not hold */
    for (uint32_t l = 0; l < L; l++)
        for (uint32_t e = 0; e < E; e++)
            adopted += cached(l, e) == 2 && moetier_demand_cache_adopt(&room, l * E + e) == 0;
    for (uint32_t l = 0; l < L; l++)
        for (uint32_t e = 0; e < E; e++)
            if (!moetier_demand_cache_has(&room, l * E + e) && cached(l, e)) {
                drop(l * E + e);
                dropped++;
            }
    __atomic_store_n(&room_want, cap, __ATOMIC_RELAXED);
    char a[24], b[24];
    char c[24];
    log_info("read room: %u experts of %s (policy %s) in the %s the page cache may hold, %s of dense weights kept "
             "out; %u cached experts adopted, %u dropped", cap, moetier_size_format(pair_bytes, a, sizeof a), name,
             moetier_size_format(last_avail, c, sizeof c), moetier_size_format(dense_bytes, b, sizeof b), adopted,
             dropped);
    __atomic_store_n(&room_on, 1, __ATOMIC_RELEASE);
    leave();
}

void shim_room_stop_locked(void)
{
    __atomic_store_n(&room_on, 0, __ATOMIC_RELEASE);
}

void shim_room_unmapping_locked(uintptr_t addr, size_t len)
{
    const struct shim_read_part *r = shim_reads_part(0, 0);
    if (au_done || !__atomic_load_n(&room_on, __ATOMIC_ACQUIRE) || !r || r->n_expert == 0 ||
        r->base < addr || r->base - addr >= len)
        return;
    if (enter(1000)) {
        drop_bypassed(); /* the last step's: nobody reads them now */
        if (moetier_log_enabled(MOETIER_LOG_INFO))
            audit();
        leave();
    }
}

void shim_room_update_locked(uint64_t locked)
{
    if (__atomic_load_n(&room_on, __ATOMIC_ACQUIRE))
        __atomic_store_n(&room_want, size_now(locked), __ATOMIC_RELAXED);
}

void shim_room_batch(uint32_t layer, const int32_t *ids, int n)
{
    if (!__atomic_load_n(&room_on, __ATOMIC_ACQUIRE) || shim.child || n <= 0 || !enter(0))
        return;
    if (__atomic_load_n(&room_on, __ATOMIC_ACQUIRE) && layer < room.n_layers) {
        step_k = 0; /* a batch's experts keep their edge pages only while held */
        drop_bypassed();
        __atomic_fetch_add(&st_batch_layers, 1, __ATOMIC_RELAXED);
        for (int i = 0; i < n && n_bypass < bypass_cap; i++) {
            if (ids[i] < 0 || (uint32_t)ids[i] >= n_experts)
                continue;
            uint32_t slot = layer * n_experts + (uint32_t)ids[i];
            if (!moetier_demand_cache_has(&room, slot))
                bypass[n_bypass++] = slot;
        }
    }
    leave();
}

void shim_room_layer(uint32_t layer, const int32_t *ids, int k)
{
    if (!__atomic_load_n(&room_on, __ATOMIC_ACQUIRE) || shim.child || k <= 0 || k > MOETIER_DEMAND_MAX_K)
        return;
    uint16_t row[MOETIER_DEMAND_MAX_K];
    for (int i = 0; i < k; i++) {
        if (ids[i] < 0 || (uint32_t)ids[i] >= n_experts)
            return;
        row[i] = (uint16_t)ids[i];
    }
    if (!enter(0))
        return;
    if (!__atomic_load_n(&room_on, __ATOMIC_ACQUIRE) || layer >= room.n_layers) {
        leave();
        return;
    }
    memcpy(step_row, row, (size_t)k * sizeof *row);
    step_k = (uint32_t)k;
    step_layer = layer;
    drop_bypassed();
    struct moetier_demand_step st;
    uint32_t want = __atomic_load_n(&room_want, __ATOMIC_RELAXED);
    if (want != room.set.cap) {
        moetier_demand_cache_resize(&room, want, &st);
        drop_evicted(&st);
    }
    if (moetier_demand_cache_layer(&room, layer, row, (uint32_t)k, NULL, &st) == 0) {
        drop_evicted(&st);
        for (uint32_t i = 0; i < st.n_missed; i++)
            if (!moetier_demand_cache_has(&room, st.read[i]))
                if (n_bypass < bypass_cap)
                    bypass[n_bypass++] = st.read[i];
        /* prefetches (predict): layer + 1's experts, read now */
        int32_t next[MOETIER_DEMAND_MAX_K];
        int n = 0;
        for (uint32_t i = st.n_missed; i < st.n_read && n < MOETIER_DEMAND_MAX_K; i++)
            if (st.read[i] / n_experts == layer + 1 && layer + 1 < room.n_layers)
                next[n++] = (int32_t)(st.read[i] % n_experts);
        if (n)
            shim_reads_experts(layer + 1, next, n);
        __atomic_fetch_add(&st_steps, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&st_misses, st.n_missed, __ATOMIC_RELAXED);
        __atomic_fetch_add(&st_direct, st.n_direct, __ATOMIC_RELAXED);
        __atomic_fetch_add(&st_prefetched, st.n_prefetched, __ATOMIC_RELAXED);
        __atomic_fetch_add(&st_prefetch_used, st.n_prefetch_used, __ATOMIC_RELAXED);
    }
    step_k = 0;
    leave();
}

void shim_room_totals(struct shim_room_totals *t)
{
    memset(t, 0, sizeof *t);
    t->steps = __atomic_load_n(&st_steps, __ATOMIC_RELAXED);
    t->misses = __atomic_load_n(&st_misses, __ATOMIC_RELAXED);
    t->direct = __atomic_load_n(&st_direct, __ATOMIC_RELAXED);
    t->prefetched = __atomic_load_n(&st_prefetched, __ATOMIC_RELAXED);
    t->prefetch_used = __atomic_load_n(&st_prefetch_used, __ATOMIC_RELAXED);
    t->evicted = __atomic_load_n(&st_evicted, __ATOMIC_RELAXED);
    t->drop_failed = __atomic_load_n(&st_drop_failed, __ATOMIC_RELAXED);
    t->slots = room.set.n;
    t->cap = room.set.cap;
    t->pair_bytes = pair_bytes;
    t->policy = policy_name;
    t->batch_layers = __atomic_load_n(&st_batch_layers, __ATOMIC_RELAXED);
    t->audited = au_done;
    t->held_whole = au_held_whole;
    t->held_part = au_held_part;
    t->other = au_other;
    t->other_bytes = au_other_pages * moetier_page_size();
}
