/*
 * tiering (shim side): the migration engine inside the binary.
 *
 * Starts once the model is loaded (the first llama_decode), on the slow tier
 * MOETIER_SLOW names; the `file` tier tiers the expert tensors that stay in
 * the model file's read-only shared mapping, and says that weights in
 * anonymous buffers are DRAM-resident and untiered. Each sample feeds the
 * residency policy; the runtime thread calls shim_tiering_round() and the
 * engine moves memory towards what the policy wants, never while a sample is
 * armed. A sample's expert set goes into a ring (under shim.lock, never
 * waiting); the runtime thread, which alone touches the residency, feeds the
 * pending steps through the policy in order (as replay feeds tokens:
 * tiering/residency.h) with the lock released, then runs its round. Per
 * token (the plan: every decode step sampled exactly) it is woken at once
 * and carries out the admissions and evictions without the rounds'
 * hysteresis; tokens that arrive while it moves coalesce into its next pass
 * (the policy sees each of them; a slot admitted and evicted again in
 * between never moves). Every entry point runs under shim.lock with shim_busy set, so the
 * engine's own mmap calls pass through the hooks. Moves themselves run with
 * shim.lock released, one slot at a time (run_move): start-up's placement on
 * the slow node, the warm start's promotions and every round's.
 * Failures: a tier that cannot start logs one line and leaves the process
 * profiling only; a migration that fails is rolled back by the engine.
 */
#include "shim/shim.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/meminfo.h"
#include "common/memlock.h"
#include "common/size.h"
#include "tiering/engine.h"
#include "tiering/residency.h"
#include "tiering/step_ring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LOCKED 64

static struct moetier_engine engine;
static struct moetier_residency want;
static int state;                   /* 0 not started, 1 running, -1 off (tiering_off) */
static int src_fd[MOETIER_CACHE_MAX_FILES];
static uint32_t n_src;              /* src_fd[0..n_src) are open */
static struct stat src_st[MOETIER_CACHE_MAX_FILES]; /* each model file as tiering found it */
static int engine_up;               /* engine initialised */
static struct shim_range locked[MAX_LOCKED];
static size_t n_locked;
static int locked_all;
static char policy_name[32];
static uint64_t clamped_from;       /* the configured budget when a cgroup limit cut it, else 0 */
static int placing;                 /* numa: start-up's placement on the slow node is still to run */
static int warm_pending;            /* the first round promotes without hysteresis (warm start) */
static uint64_t pt_tokens, pt_passes, pt_coalesced; /* per token: tokens sampled, passes, tokens a later pass took */
static uint64_t pt_pending;         /* tokens since the last pass */

/* Sampled steps (and, per layer, each MoE layer as its router chooses) on
 * their way from the decode threads to the policy (tiering/step_ring.h):
 * pushed under shim.lock, drained by the runtime thread, which alone touches
 * the residency (`want`) and feeds it with the lock released, in order. Full
 * (the runtime far behind), an entry is dropped and counted: decode never
 * waits. */
static struct moetier_step_ring steps;
static uint64_t pl_moves_early;     /* per layer: moves started before the token they follow ended */
#define RECOUNT_NS 1000000000ULL    /* the process's mappings recounted at most this often */
static uint64_t recounted_ns;

static uint32_t engine_part(int part)
{
    return part == MOETIER_EXPERT_GATE_UP ? 0 : (uint32_t)part % MOETIER_ENGINE_PARTS;
}

static int numa_mode; /* page migration between DRAM and numa:N */
static int lock_mode; /* the file tier locks the page cache in place */

/* The file tier remaps read-only shared mappings of the model; the numa tier
 * moves pages of those and of weight buffers in its slow arena. */
static int tierable(const struct moetier_placement *p)
{
    if (!p->live || p->kind == MOETIER_MEM_PINNED)
        return 0;
    if (p->kind == MOETIER_MEM_FILE_SHARED && p->file >= 0 && (uint32_t)p->file < engine.cache.n_files)
        return numa_mode || !(p->prot & PROT_WRITE);
    return numa_mode && p->kind == MOETIER_MEM_ANON && shim_slow_arena_owns((const void *)p->base);
}

static void add_placement(const struct moetier_placement *p)
{
    if (!tierable(p))
        return;
    int file = p->kind == MOETIER_MEM_ANON ? 0 : p->file;
    uint64_t off = p->kind == MOETIER_MEM_ANON ? p->base : p->file_off; /* anonymous: only congruence matters */
    int rc = moetier_engine_add(&engine, p->layer, engine_part(p->part), p->base, p->stride, p->n_expert,
                                (uint32_t)file, off, p->prot);
    if (rc)
        log_debug("layer %u: expert tensor not tiered (%s)", p->layer, strerror(-rc));
}

/* Tiering off, for good: the one transition every exit takes (under
 * shim.lock). What tiering turned on goes with it: the fetch sampler, armed
 * through every step, is disarmed now and forgets the model files'
 * descriptors before they close; the configured sampler replaces it at the
 * next due sample, at the configured rate. release: also free the engine and
 * close the model files (not when the binary locked its memory: the cache
 * stays as it is). */
static void tiering_off(int release)
{
    if (release)
        shim_tiering_wait(0, SIZE_MAX); /* the engine goes: no move may be in flight */
    state = -1;
    shim_plan_stopped();
    if (shim.sampler_fetch) {
        shim.sampler_fetch = 0;
        if (shim.routing_reads)
            shim_reads_stop_locked();
        shim.routing_reads = 0; /* nothing is locked any more: the kernel's own reads do */
        shim.sampler_stale = 1;
        if (shim.sampler.kind == MOETIER_SAMPLE_FETCH) {
            moetier_sampler_disarm(&shim.sampler);
            moetier_sampler_fetch_fds(&shim.sampler, NULL, 0);
        }
    }
    if (!release)
        return;
    if (engine_up)
        moetier_engine_free(&engine);
    engine_up = 0;
    for (uint32_t i = 0; i < n_src; i++)
        close(src_fd[i]);
    n_src = 0;
}

void shim_tiering_placed(const struct moetier_placement *p)
{
    if (state > 0)
        add_placement(p); /* never replaces the slot in flight's ranges (the engine says -EBUSY) */
}

void shim_tiering_wait(uintptr_t addr, size_t len)
{
    uintptr_t end = len > UINTPTR_MAX - addr ? UINTPTR_MAX : addr + len;
    while (engine_up && moetier_engine_moving(&engine, addr, end))
        pthread_cond_wait(&shim.moved, &shim.lock);
}

int shim_tiering_may_arm(void)
{
    return lock_mode || !engine_up || !engine.moving;
}

void shim_locked(uintptr_t addr, size_t len)
{
    shim_busy = 1;
    shim_lock();
    uintptr_t end = len > UINTPTR_MAX - addr ? UINTPTR_MAX : addr + len;
    if (addr == 0 && len == SIZE_MAX)
        locked_all = 1;
    else if (n_locked < MAX_LOCKED)
        locked[n_locked++] = (struct shim_range){ addr, end };
    else
        locked_all = 1; /* too many to remember: stop migrating rather than risk a locked range */
    shim_tiering_wait(locked_all ? 0 : addr, locked_all ? SIZE_MAX : end - addr); /* a remap would drop the lock */
    if (state > 0) {
        if (locked_all) {
            log_info("the binary locked all its memory (mlockall): migration stops");
            tiering_off(0);
        } else {
            moetier_engine_exclude(&engine, addr, end);
        }
    }
    shim_unlock();
    shim_busy = 0;
}

void shim_tiering_pinned(uintptr_t start, uintptr_t end)
{
    if (state > 0) {
        shim_tiering_wait(start, end - start);
        moetier_engine_exclude(&engine, start, end);
    }
}

static void numa_placement_check(void);
static int placement_checked;

void shim_tiering_forget(uintptr_t addr, size_t len)
{
    if (state <= 0)
        return;
    if (numa_mode && !placement_checked) {
        /* the weights are going away (the model is freed): check their placement while they exist */
        for (size_t i = 0; i < (size_t)engine.n_slots * MOETIER_ENGINE_PARTS; i++)
            if (engine.range[i].len && engine.range[i].addr < addr + len && engine.range[i].addr + engine.range[i].len > addr) {
                numa_placement_check();
                placement_checked = 1;
                break;
            }
    }
    moetier_engine_forget(&engine, addr, addr + len);
}

/* policy static: the ranking earlier runs saw (the profile); NULL when out of memory */
static double *profile_rank(void)
{
    double *rank = malloc(shim.hot.n_slots * sizeof *rank);
    for (uint32_t s = 0; rank && s < shim.hot.n_slots; s++)
        rank[s] = (double)shim.hot.prior_hits[s];
    return rank;
}

/* The policy the plan names, with its ranking (static); lfu when the ranking
 * cannot be had. */
static const char *plan_policy(const struct moetier_plan *p, double **rank)
{
    *rank = NULL;
    if (!p->policy_ranked)
        return p->policy;
    *rank = profile_rank();
    return *rank ? p->policy : "lfu";
}

void *shim_tiering_map_hint(size_t len, off_t off, int flags)
{
    /* a 2 MiB huge page can back a range only where address and file offset
     * agree modulo 2 MiB: place the model's mapping so that they do */
    if ((flags & MAP_FIXED) || !shim.model_open || !shim_plan_map_hint())
        return NULL;
    size_t slack = MOETIER_HUGE_PAGE;
    void *r = mmap(NULL, len + slack, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED)
        return NULL;
    uintptr_t phase = (uintptr_t)off % slack, at = (uintptr_t)r;
    at += (phase + slack - at % slack) % slack;
    if (at > (uintptr_t)r)
        munmap(r, at - (uintptr_t)r);
    uintptr_t end = (uintptr_t)r + len + slack;
    if (at + len < end)
        munmap((void *)(at + len), end - (at + len));
    return (void *)at; /* reserved PROT_NONE: the caller maps over it with MAP_FIXED */
}

/* ---- CUDA pinning of the cache (MOETIER_CUDA_PIN) ---- */
static void *real_register, *real_unregister;
static int cuda_pin_broken;

#define CUDA_HOST_REGISTER_PORTABLE 0x01
#define CUDA_HOST_REGISTER_READ_ONLY 0x08

/* Pins a promoted range with the process's own CUDA runtime, so GPU
 * op-offload reads hot experts at pinned speed. The first failure turns
 * pinning off with one line (e.g. no device): the cache works unpinned. */
static int cuda_pin(void *ctx, const struct moetier_range *r, int on)
{
    (void)ctx;
    if (cuda_pin_broken)
        return -ENODEV;
    int (*reg)(void *, size_t, unsigned) = (int (*)(void *, size_t, unsigned))real_register;
    int (*unreg)(void *) = (int (*)(void *))real_unregister;
    int err = on ? reg((void *)r->addr, r->len, CUDA_HOST_REGISTER_PORTABLE | CUDA_HOST_REGISTER_READ_ONLY)
                 : unreg((void *)r->addr);
    if (err == 0)
        return 0;
    if (on) {
        cuda_pin_broken = 1;
        log_warn("MOETIER_CUDA_PIN: cudaHostRegister failed (CUDA error %d); the DRAM cache stays unpinned", err);
    }
    return -EIO;
}

/* The plan pins (MOETIER_CUDA_PIN, docs/tiering.md): the process's own CUDA
 * runtime registers promoted ranges. moetier never loads one itself. */
static void cuda_pin_setup(const struct moetier_plan *p)
{
    if (!p->cuda_pin)
        return;
    shim_real_optional("cudaHostRegister", &real_register);
    shim_real_optional("cudaHostUnregister", &real_unregister);
    if (real_register && real_unregister)
        engine.pin = cuda_pin;
}

static uint64_t clamp_budget(uint64_t budget)
{
    struct moetier_meminfo mi;
    if (moetier_meminfo_read(&mi) != 0)
        return budget;
    uint64_t max = moetier_dram_cache_clamp(mi.cgroup_limit);
    if (budget > max) {
        clamped_from = budget;
        return max;
    }
    return budget;
}

static void stop_with(const char *why)
{
    log_warn("%s: expert tiering off, profiling only", why);
    tiering_off(1);
}

/* Under shim.lock, once the model is loaded: state 1, or off (every return
 * before the end goes through tiering_off). */
static void start_locked(void)
{
    char line[MOETIER_PATH_MAX + 160];
    /* the plan decides (and logs why); what follows applies it */
    const struct moetier_plan *p = shim_plan_start(locked_all);
    shim.dram_budget = p->budget;
    shim.cfg.sample_budget = p->sample_budget;
    if (!p->on) {
        tiering_off(1);
        return;
    }
    numa_mode = p->numa;
    lock_mode = p->lock;
    uint64_t budget = p->budget;
    int huge = p->huge, fast_node = p->fast_node;
    uint32_t n_files = (uint32_t)moetier_gguf_model_n_files(shim.model.gguf); /* the plan checked the count */
    uint64_t sizes[MOETIER_CACHE_MAX_FILES];
    for (uint32_t i = 0; i < n_files; i++) {
        const char *path = moetier_gguf_model_path(shim.model.gguf, i);
        struct stat st;
        src_fd[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (src_fd[i] >= 0)
            n_src = i + 1;
        if (src_fd[i] < 0 || fstat(src_fd[i], &st) != 0) {
            char why[MOETIER_PATH_MAX + 64];
            moetier_fmt(why, sizeof why, "cannot open %s again: %s", path, strerror(errno));
            stop_with(why);
            return;
        }
        sizes[i] = (uint64_t)st.st_size;
        src_st[i] = st;
    }
    struct moetier_engine_opts o = { .bytes_per_s = (uint64_t)shim.cfg.migrate_mbps << 20 };
    int rc = moetier_engine_init(&engine, shim.model.n_layers, shim.model.n_experts, n_files, sizes, budget, huge, &o);
    if (rc == -ENOMEM && huge) {
        log_warn("MOETIER_HUGEPAGES: the huge page pool cannot hold the budget; using normal pages");
        rc = moetier_engine_init(&engine, shim.model.n_layers, shim.model.n_experts, n_files, sizes, budget, 0, &o);
    }
    if (rc) {
        stop_with(rc == -ENOMEM ? "out of memory for the engine" : "cannot set up the DRAM cache");
        return;
    }
    engine_up = 1;
    for (uint32_t i = 0; i < n_files; i++) {
        int fd;
        uint64_t base, align;
        /* a staged PMem copy the binary maps is the slow backing to map back */
        if (shim_staged_source((int)i, &fd, &base, &align) == 0)
            moetier_engine_set_source(&engine, i, fd, base, align);
        else
            moetier_engine_set_source(&engine, i, src_fd[i], 0, 0);
    }
    /* the backend's operation table, once, as the plan decided (tiering/migrate.h):
     * move_pages on a NUMA slow tier, lock on the file tier when locking pays, else copy */
    if (numa_mode)
        moetier_migrate_set_nodes(&engine.mig, fast_node, shim.cfg.slow_node);
    else if (lock_mode)
        moetier_engine_set_lock(&engine);
    cuda_pin_setup(p);
    if (p->fetch) {
        /* the plan's fetch sampler (the file tier locks, no CUDA, the model
         * does not fit): built at the next due sample */
        shim.sampler_fetch = 1;
        shim.sampler_stale = 1;
    }
    state = 1;
    for (size_t i = 0; i < shim.placements.n; i++)
        add_placement(&shim.placements.item[i]);
    shim_tiering_probes();
    for (size_t i = 0; i < shim.n_pinned; i++)
        moetier_engine_exclude(&engine, shim.pinned[i].start, shim.pinned[i].end);
    for (size_t i = 0; i < n_locked; i++)
        moetier_engine_exclude(&engine, locked[i].start, locked[i].end);
    uint32_t tierable_slots = moetier_engine_count(&engine, MOETIER_SLOT_SLOW);
    /* numa: weights start on the slow node: pages cached before (by another
     * run) may sit anywhere; the first round moves them (place_slow) */
    placing = numa_mode && tierable_slots;
    /* placed where a tier could move them, but each expert is too small to
     * hold a whole page (a tiny-width model): the plan says that, not "anonymous" */
    uint64_t small = 0;
    for (size_t i = 0; !tierable_slots && i < shim.placements.n; i++) {
        const struct moetier_placement *q = &shim.placements.item[i];
        if (tierable(q) && (!small || q->stride < small))
            small = q->stride;
    }
    p = shim_plan_counted(tierable_slots, shim.placements.n_copied, small, engine.cache.unit);
    if (!p->on) {
        tiering_off(1);
        return;
    }
    double *rank;
    const char *pol = plan_policy(p, &rank);
    uint32_t topk = shim.model.map->n_expert_used > 0 ? (uint32_t)shim.model.map->n_expert_used : 1;
    rc = moetier_residency_new(&want, pol, shim.model.n_layers, shim.model.n_experts, topk,
                               moetier_engine_capacity(&engine), rank);
    free(rank);
    if (rc) {
        stop_with("cannot set up the policy");
        return;
    }
    if (!steps.ev && moetier_step_ring_init(&steps, shim.model.n_layers, shim.model.n_experts) != 0) {
        stop_with("out of memory for the policy's tokens");
        return;
    }
    moetier_fmt(policy_name, sizeof policy_name, "%s", pol);
    log_info("tiering: %s, %u of %u experts tierable, room for %u", moetier_plan_summary(shim_plan_facts(), p, line, sizeof line),
             tierable_slots, engine.n_slots, moetier_engine_capacity(&engine));
    /* warm start: the rates a profile seeded (or the samples taken while the
     * engine was not running yet) say what is hot: promote what fits now */
    int any = 0;
    for (uint32_t s = 0; s < shim.hot.n_slots && !any; s++)
        any = shim.hot.rate[s] > 0;
    if (any) {
        moetier_residency_seed(&want, shim.hot.rate);
        warm_pending = 1; /* the first round, right after this */
    }
}

/* numa: where the pages really are (move_pages status), promoted slots and the rest. */
static void numa_placement_check(void)
{
    uint64_t fast_pages = 0, fast_total = 0, slow_pages = 0, slow_total = 0;
    uint64_t counts[MOETIER_NUMA_MAX_NODES];
    for (uint32_t s = 0; s < engine.n_slots; s++) {
        if (engine.state[s] != MOETIER_SLOT_DRAM && engine.state[s] != MOETIER_SLOT_SLOW)
            continue;
        for (uint32_t p = 0; p < MOETIER_ENGINE_PARTS; p++) {
            const struct moetier_range *r = &engine.range[(size_t)s * MOETIER_ENGINE_PARTS + p];
            struct moetier_numa_where w;
            memset(counts, 0, sizeof counts);
            if (!r->len || moetier_numa_where((void *)r->addr, r->len, MOETIER_NUMA_INTERIOR, counts,
                                              MOETIER_NUMA_MAX_NODES, &w) != 0)
                continue;
            int node = engine.state[s] == MOETIER_SLOT_DRAM ? engine.mig.fast_node : engine.mig.slow_node;
            uint64_t on = node >= 0 && node < MOETIER_NUMA_MAX_NODES ? counts[node] : 0;
            if (engine.state[s] == MOETIER_SLOT_DRAM)
                fast_pages += on, fast_total += w.pages - w.not_present;
            else
                slow_pages += on, slow_total += w.pages - w.not_present;
        }
    }
    log_info("placement check (move_pages): promoted experts %llu of %llu present pages on node %d; the others "
             "%llu of %llu on node %d",
             (unsigned long long)fast_pages, (unsigned long long)fast_total, engine.mig.fast_node,
             (unsigned long long)slow_pages, (unsigned long long)slow_total, engine.mig.slow_node);
}

/* Slow-tier bytes per decode token, by replay's categories: misses from the
 * sampled steps (their mean stands for every step), promotions and prefetches
 * over all decode tokens. */
/* One warning per kind of failed move per process (the exit summary counts them all). */
static void warn_failures(void)
{
    static uint32_t warned; /* bit k: kind k said */
    for (int k = 0; k < MOETIER_FAILED_KINDS; k++)
        if (engine.mig.fail[k] && !(warned & (1u << k))) {
            warned |= 1u << k;
            log_warn("tiering: %s failed: %s; %s (later failures of this kind are only counted)",
                     moetier_migrate_failure_what((enum moetier_migrate_failure)k), strerror(engine.mig.fail_err[k]),
                     moetier_migrate_failure_left((enum moetier_migrate_failure)k));
        }
}

static void traffic_line(void)
{
    const struct moetier_engine_traffic *t = &engine.traffic;
    if (!t->steps || !shim.tokens_decode)
        return;
    char a[24], b[24], c[24], d[24];
    double direct = (double)t->direct_bytes / (double)t->steps;
    double promoted = (double)engine.mig.n.bytes_promoted / (double)shim.tokens_decode;
    double prefetched = (double)t->prefetched_bytes / (double)shim.tokens_decode;
    unsigned permille = t->accesses ? (unsigned)(t->hits * 1000 / t->accesses) : 0; /* the log prints no floats */
    log_info("tiering: slow-tier reads per decode token %s: demand misses %s (%llu sampled steps), promoted %s, "
             "prefetched %s; DRAM hit rate %u.%03u (%llu of %llu sampled uses)",
             moetier_size_format((uint64_t)(direct + promoted + prefetched), a, sizeof a),
             moetier_size_format((uint64_t)direct, b, sizeof b), (unsigned long long)t->steps,
             moetier_size_format((uint64_t)promoted, c, sizeof c), moetier_size_format((uint64_t)prefetched, d, sizeof d),
             permille / 1000, permille % 1000, (unsigned long long)t->hits, (unsigned long long)t->accesses);
}

void shim_tiering_finish(void)
{
    if (state <= 0)
        return;
    if (numa_mode && !placement_checked)
        numa_placement_check();
    char a[24], b[24], c[24];
    const struct moetier_migrate_counters *n = &engine.mig.n;
    warn_failures();
    if (engine.pin)
        log_info("tiering: %s of the cache pinned for CUDA at exit", moetier_size_format(engine.pinned_bytes, a, sizeof a));
    log_info("tiering: %llu promotions (%s), %llu demotions, %llu failed, %llu refused for the map count; "
             "cache peak %s of a %s budget",
             (unsigned long long)n->promotions, moetier_size_format(n->bytes_promoted, a, sizeof a),
             (unsigned long long)n->demotions, (unsigned long long)n->failed, (unsigned long long)n->no_headroom,
             moetier_size_format(engine.cache.peak, b, sizeof b), moetier_size_format(engine.cache.budget, c, sizeof c));
    if (pt_tokens)
        log_info("tiering: per token: %llu tokens through the policy, their moves in %llu passes (%llu tokens "
                 "coalesced into a later pass)", (unsigned long long)pt_tokens, (unsigned long long)pt_passes,
                 (unsigned long long)pt_coalesced);
    if (steps.layers_early || shim.per_layer)
        log_info("tiering: per layer: %llu MoE layers through the policy as their router chose (%llu dropped), "
                 "%llu moves started before their token ended", (unsigned long long)steps.layers_early,
                 (unsigned long long)steps.dropped_layers, (unsigned long long)pl_moves_early);
    if (steps.dropped_steps)
        log_info("tiering: %llu sampled steps not seen by the policy (the runtime thread was %d steps behind)",
                 (unsigned long long)steps.dropped_steps, MOETIER_STEP_RING_STEPS);
    traffic_line();
}

void shim_tiering_fork_child(void)
{
    if (state <= 0)
        return;
    state = -1;
    int left = moetier_engine_fork_child(&engine);
    if (left)
        log_error("forked child: %d promoted ranges could not be mapped from the model again; they read the "
                  "parent's DRAM cache", left);
}

void shim_tiering_probes(void)
{
    if (state <= 0 || !lock_mode || shim.sampler_built <= 0)
        return;
    if (shim.sampler.kind == MOETIER_SAMPLE_FETCH)
        moetier_sampler_fetch_fds(&shim.sampler, src_fd, engine.cache.n_files);
    /* pagemap probes zap their window each sample: never lock it */
    if (shim.sampler.kind != MOETIER_SAMPLE_PAGEMAP)
        return;
    for (size_t i = 0; i < shim.sampler.n; i++) {
        const struct moetier_probe *q = &shim.sampler.probes[i];
        if (!q->dead)
            moetier_engine_keep_unlocked(&engine, q->slot, q->addr, q->len);
    }
}

void shim_tiering_sample(uint64_t step, const uint8_t *used)
{
    if (state <= 0)
        return;
    moetier_engine_account(&engine, used); /* before a round can react to it */
    if (moetier_step_ring_push_step(&steps, step, used) != 0)
        return;
    if (shim.per_token) {
        pt_tokens++;
        pt_pending++;
    }
}

int shim_tiering_layer(uint64_t step, uint32_t layer, const int32_t *ids, size_t n)
{
    if (state <= 0 || !steps.ev) /* (tiering starts before its ring is made) */
        return 0;
    return moetier_step_ring_push_layer(&steps, step, layer, ids, n) == 0;
}

/* One two-phase move (docs/tiering.md), chosen under shim.lock: performed
 * with the lock released, committed under it again; whoever waits for memory
 * of the slot (shim_tiering_wait) is woken. Runtime thread only. */
static void run_move(struct moetier_move *m, struct moetier_round *out)
{
    shim_unlock();
    moetier_engine_move(&engine, m);
    shim_lock();
    moetier_engine_commit(&engine, m, out);
    pthread_cond_broadcast(&shim.moved);
    warn_failures();
}

/* numa: every tierable slot's pages onto the slow node, a slot at a time; what the kernel did. */
static void place_slow(void)
{
    struct moetier_numa_moved sum;
    struct moetier_move m;
    struct moetier_round ignored;
    memset(&sum, 0, sizeof sum);
    memset(&ignored, 0, sizeof ignored);
    while (state > 0 && !shim.stop && !shim.given_up && moetier_engine_place_next(&engine, &m)) {
        run_move(&m, &ignored);
        moetier_numa_moved_add(&sum, &m.placed);
    }
    placing = 0;
    log_info("numa:%d: %llu of %llu expert pages on the slow node (%llu moved there now); %llu could not "
             "move (%llu mapped by other processes), %llu not present",
             shim.cfg.slow_node, (unsigned long long)(sum.moved + sum.already), (unsigned long long)sum.pages,
             (unsigned long long)sum.moved,
             (unsigned long long)(sum.shared + sum.busy + sum.nomem + sum.fault + sum.other + sum.unmoved),
             (unsigned long long)sum.shared, (unsigned long long)sum.not_present);
}

/* Runtime thread: the steps pushed since the last round go through the
 * policy, in order, with shim.lock released (the residency is this thread's
 * alone); called and returns under the lock. Returns 1 when a step's layers
 * went through and its end has not come yet (per layer). */
static int feed_policy(void)
{
    if (!moetier_step_ring_take(&steps))
        return 0;
    shim_unlock();
    int open = moetier_step_ring_feed(&steps, &want);
    shim_lock();
    return open;
}

/* A model file written to (or truncated) while tiering runs: the binary's
 * file mapping shows the new bytes, a copy in the DRAM cache the old ones.
 * Copies only: locking keeps the page cache itself, and the numa tier moves
 * memory the binary filled at load. Returns 1 with why filled when one
 * changed (size, modification or change time). */
static int model_changed(char *why, size_t cap)
{
    for (uint32_t i = 0; i < n_src; i++) {
        struct stat st;
        const struct stat *was = &src_st[i];
        if (fstat(src_fd[i], &st) != 0)
            continue;
        if (st.st_size != was->st_size || st.st_mtim.tv_sec != was->st_mtim.tv_sec ||
            st.st_mtim.tv_nsec != was->st_mtim.tv_nsec || st.st_ctim.tv_sec != was->st_ctim.tv_sec ||
            st.st_ctim.tv_nsec != was->st_ctim.tv_nsec) {
            moetier_fmt(why, cap, "model file %s changed while mapped (%s)", moetier_gguf_model_path(shim.model.gguf, i),
                        st.st_size != was->st_size ? "its size" : "written to");
            return 1;
        }
    }
    return 0;
}

/* A new budget, and the demotions a shrink needs: two-phase, shim.lock
 * released around each move (the decode threads and the binary's
 * free/munmap never wait behind it), coldest first (rate NULL: any order).
 * A failed demotion ends it: its slot stays cached and would be chosen again. */
static void shrink_to(uint64_t budget, const float *rate)
{
    struct moetier_move m;
    struct moetier_round out;
    memset(&out, 0, sizeof out);
    moetier_engine_set_budget_only(&engine, budget);
    while (state > 0 && !shim.stop && moetier_engine_shrink_next(&engine, rate, &m)) {
        run_move(&m, &out);
        if (out.failed)
            break;
    }
}

void shim_tiering_start(void)
{
    /* never while a sample is armed: the fault sampler's PROT_NONE would fault our touches */
    if (state == 0 && shim.loaded && !shim.child && !shim.given_up && !shim.armed)
        start_locked();
}

/* Runtime thread, every round: called under shim.lock, which it releases
 * around each move. */
void shim_tiering_round(void)
{
    shim_tiering_start();
    /* locking never touches the pages from user space, and the fetch sampler
     * is armed through every decode step: lock rounds run while armed */
    if (state <= 0 || (shim.armed && !lock_mode))
        return;
    if (placing)
        place_slow();
    char why[MOETIER_PATH_MAX + 64];
    if (!lock_mode && !numa_mode && model_changed(why, sizeof why)) {
        /* every copy back to the file: the binary then reads what the file
         * holds now, as it would without moetier */
        shrink_to(0, NULL);
        if (state > 0)
            stop_with(why);
        return;
    }
    int early = feed_policy();
    if (state <= 0)
        return; /* turned off meanwhile */
    if (lock_mode && shim.routing_reads) /* the read room's size: what the locked experts leave */
        shim_room_update_locked(__atomic_load_n(&engine.cache.used, __ATOMIC_RELAXED));
    struct moetier_round out;
    struct moetier_move m;
    int warm = warm_pending;
    moetier_engine_set_per_token(&engine, shim.per_token);
    if (want.policy) /* per token a miss is read in place, then copied in: admitting it is one more read */
        moetier_policy_set_admit_cost(want.policy, shim.per_token ? 1 : 0);
    if (shim.per_token && pt_pending) {
        pt_passes++;
        pt_coalesced += pt_pending - 1;
        pt_pending = 0;
    }
    moetier_engine_round_begin(&engine, shim_now_ns(), warm, &out);
    /* a sample armed between two moves ends the round (the next one goes on) */
    while (state > 0 && !shim.stop && !shim.given_up && !(shim.armed && !lock_mode) &&
           moetier_engine_next(&engine, &want, shim.hot.rate, &m)) {
        pl_moves_early += early;
        run_move(&m, &out);
    }
    if (!engine_up)
        return; /* turned off for good during a move */
    moetier_engine_round_end(&engine, &out);
    if (warm && state > 0) {
        char a[24];
        warm_pending = 0;
        log_info("%s: %u experts promoted (%s)", shim.profile_seeded ? "warm start from the profile" : "first placement",
                 out.promoted, moetier_size_format(out.bytes_promoted, a, sizeof a));
    }
    if (out.promoted || out.demoted || out.failed)
        log_debug("tiering: +%u -%u experts, %u failed%s", out.promoted, out.demoted, out.failed,
                  out.stopped_by == -EMLINK ? " (map count limit)" : "");
    /* /proc/self/maps takes the binary's mmap lock: at most once a second
     * (per token and per layer a round runs every token, or every layer) */
    uint64_t now = shim_now_ns();
    if (now - recounted_ns >= RECOUNT_NS) {
        moetier_migrate_recount(&engine.mig);
        recounted_ns = now;
    }
}

int shim_tiering_set_budget(uint64_t budget)
{
    clamped_from = 0;
    budget = clamp_budget(budget);
    if (clamped_from)
        log_warn("DRAM budget clamped below the cgroup memory limit");
    shim.dram_budget = budget;
    if (state <= 0)
        return 0;
    shrink_to(budget, shim.hot.rate);
    if (state <= 0 || !engine_up)
        return 0; /* turned off meanwhile: nothing is cached any more */
    moetier_residency_resize(&want, moetier_engine_capacity(&engine));
    return engine.cache.used > engine.cache.budget ? -EBUSY : 0;
}

void shim_tiering_room_all(int on)
{
    static uint64_t saved; /* the budget the room took */
    static int given;
    if (on == given || state <= 0)
        return;
    if (on) {
        saved = shim.dram_budget;
        shim_tiering_set_budget(0);
    } else {
        shim_tiering_set_budget(saved);
    }
    given = on;
}

void shim_tiering_set_rate(uint64_t bytes_per_s)
{
    if (state > 0)
        engine.opts.bytes_per_s = bytes_per_s;
}

int shim_tiering_set_policy(const char *name)
{
    char err[8];
    if (moetier_config_check(MOETIER_CFG_POLICY, name, err, sizeof err) != 0)
        return -EINVAL;
    if (state <= 0)
        return -ENODEV;
    double *rank;
    char saved[sizeof shim.cfg.policy];
    struct moetier_plan_facts *f = shim_plan_facts();
    moetier_fmt(saved, sizeof saved, "%s", shim.cfg.policy);
    moetier_fmt(shim.cfg.policy, sizeof shim.cfg.policy, "%s", name);
    moetier_fmt(f->cfg.policy, sizeof f->cfg.policy, "%s", name);
    const struct moetier_plan *p = shim_plan_make(-1);
    if (p->policy_warn)
        log_warn("%s", p->policy_why);
    const char *pol = plan_policy(p, &rank);
    struct moetier_residency next;
    uint32_t topk = shim.model.map->n_expert_used > 0 ? (uint32_t)shim.model.map->n_expert_used : 1;
    int rc = moetier_residency_new(&next, pol, shim.model.n_layers, shim.model.n_experts, topk,
                                   moetier_engine_capacity(&engine), rank);
    free(rank);
    if (rc) {
        moetier_fmt(shim.cfg.policy, sizeof shim.cfg.policy, "%s", saved);
        moetier_fmt(f->cfg.policy, sizeof f->cfg.policy, "%s", saved);
        return rc;
    }
    moetier_residency_seed(&next, shim.hot.rate); /* start from what is hot now */
    moetier_residency_free(&want);
    want = next;
    moetier_fmt(policy_name, sizeof policy_name, "%s", pol);
    return 0;
}

void shim_tiering_publish(struct moetier_stats_header *h, struct moetier_stats_expert *e)
{
    moetier_fmt(h->policy, sizeof h->policy, "%s", state > 0 ? policy_name : "off");
    if (state <= 0)
        return;
    moetier_fmt(h->slow_kind, sizeof h->slow_kind, "%s",
                numa_mode                                  ? "numa"
                : shim.cfg.slow == MOETIER_SLOW_PMEM       ? "pmem"
                : shim.cfg.slow == MOETIER_SLOW_DEVDAX     ? "devdax"
                                                           : "file");
    const struct moetier_migrate_counters *n = &engine.mig.n;
    h->promotions = n->promotions;
    h->demotions = n->demotions;
    h->bytes_promoted = n->bytes_promoted;
    h->bytes_demoted = n->bytes_demoted;
    h->migrate_failed = n->failed + n->no_headroom;
    h->dram_bytes = engine.cache.used;
    h->dram_budget = engine.cache.budget;
    h->traffic_steps = engine.traffic.steps;
    h->traffic_accesses = engine.traffic.accesses;
    h->traffic_hits = engine.traffic.hits;
    h->slow_direct_bytes = engine.traffic.direct_bytes;
    h->slow_prefetched_bytes = engine.traffic.prefetched_bytes;
    for (uint32_t s = 0; s < engine.n_slots; s++) {
        if (engine.state[s] == MOETIER_SLOT_DRAM)
            e[s].tier = MOETIER_TIER_DRAM;
        else if (engine.state[s] == MOETIER_SLOT_SLOW && e[s].tier != MOETIER_TIER_PINNED)
            e[s].tier = MOETIER_TIER_SLOW;
    }
}

int shim_tiering_active(void)
{
    return state > 0;
}

int shim_tiering_map_begin(int fd, struct moetier_numa_policy *saved)
{
    /* numa:N: page-cache pages the binary's populating mmap faults in land on
     * node N by the task policy (mbind does not apply to shared file mappings) */
    if (shim.cfg.slow != MOETIER_SLOW_NUMA || fd < 0 || fd >= SHIM_MAX_FD || !shim.fd_file[fd] || shim_busy)
        return 0;
    return moetier_numa_policy_push(shim.cfg.slow_node, MOETIER_NUMA_POLICY_PREFERRED, saved) == 0;
}

void shim_tiering_map_end(const struct moetier_numa_policy *saved)
{
    moetier_numa_policy_pop(saved);
}
