/*
 * plan: the runtime's decisions from the facts (plan.h). Each rule keeps the
 * measured reason it was made for (docs/tiering.md, "The plan"); every
 * sentence here is one the shim logs and doctor prints.
 */
#include "tiering/plan.h"
#include "common/fmt.h"
#include "common/size.h"
#include "tiering/dram_cache.h"
#include "tiering/numa_tier.h"
#include "tiering/policy.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define RAISE_MEMLOCK "ulimit -l unlimited, or LimitMEMLOCK= in a systemd unit"

static void say(struct moetier_plan *p, int stage, int warn, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void say(struct moetier_plan *p, int stage, int warn, const char *fmt, ...)
{
    if (p->n_lines >= MOETIER_PLAN_LINES)
        return;
    struct moetier_plan_line *l = &p->line[p->n_lines++];
    l->stage = stage;
    l->warn = warn;
    va_list ap;
    va_start(ap, fmt);
    moetier_vfmt(l->text, sizeof l->text, fmt, ap);
    va_end(ap);
}

/* Tiering off at stage: the last line said why. */
static void off(struct moetier_plan *p, int stage)
{
    p->on = 0;
    p->off_stage = stage;
    moetier_fmt(p->off_why, sizeof p->off_why, "%s", p->n_lines ? p->line[p->n_lines - 1].text : "");
}

/* A setting or the machine stops tiering: a warning. */
static void stop_with(struct moetier_plan *p, int stage, const char *why)
{
    say(p, stage, 1, "%s: expert tiering off, profiling only", why);
    off(p, stage);
}

uint64_t moetier_plan_budget(const struct moetier_config *cfg, int mem_known, uint64_t mem_base)
{
    if (cfg->dram.percent > 0)
        return mem_known ? (uint64_t)((double)mem_base * cfg->dram.percent / 100) : 0;
    return cfg->dram.bytes;
}

/* MOETIER_SLOW=auto: a CPU-less node with memory (KMEM-DAX PMem, CXL) is the
 * slow tier; otherwise the model file's page cache. A PMem copy is only
 * served when named (pmem:DIR, devdax:), once staged. */
static void resolve_tier(const struct moetier_plan_facts *f, struct moetier_plan *p)
{
    p->slow = f->cfg.slow;
    p->slow_node = f->cfg.slow_node;
    if (p->slow != MOETIER_SLOW_AUTO)
        return;
    p->slow = MOETIER_SLOW_FILE;
    for (int i = 0; f->numa && i < f->numa->n; i++) {
        const struct moetier_numa_node *n = &f->numa->node[i];
        if (!n->has_cpu && n->has_memory && n->total) {
            p->slow = MOETIER_SLOW_NUMA;
            p->slow_node = n->id;
            say(p, MOETIER_PLAN_AT_OPEN, 0, "MOETIER_SLOW=auto: numa:%d (node %d has memory and no CPUs)", n->id,
                n->id);
            return;
        }
    }
    say(p, MOETIER_PLAN_AT_OPEN, 0, "MOETIER_SLOW=auto: file (no NUMA node has memory and no CPUs)");
}

/* Huge pages for the cache: asked for (on), or (auto) when the hugetlb pool
 * holds the whole budget and expert slices are big enough that 2 MiB-aligned
 * ranges inside them cover most of their bytes (at least 8 MiB per part). */
static int want_huge_pages(const struct moetier_plan_facts *f, const struct moetier_plan *p, uint64_t budget)
{
    if (p->numa || (p->slow != MOETIER_SLOW_FILE && p->slow != MOETIER_SLOW_AUTO))
        return 0;
    if (f->cfg.hugepages == MOETIER_ON)
        return 1;
    return f->cfg.hugepages == MOETIER_AUTO && f->huge_free >= budget && f->expert_bytes_min / 3 >= (8u << 20);
}

/* numa:N: the node must be there, and a DRAM node other than it, nearest to
 * this CPU, takes the promotions. */
static int numa_nodes(const struct moetier_plan_facts *f, struct moetier_plan *p)
{
    char why[120];
    if (!f->numa || !moetier_numa_node_get(f->numa, p->slow_node)) {
        moetier_fmt(why, sizeof why, "MOETIER_SLOW=numa:%d: no such NUMA node with memory here", p->slow_node);
        stop_with(p, MOETIER_PLAN_AT_START, why);
        return -1;
    }
    int near[4], from = f->numa->cpu_node >= 0 ? f->numa->cpu_node : 0;
    int k = moetier_numa_near_dram(f->numa, from, near, 4);
    for (int i = 0; i < k && p->fast_node < 0; i++)
        if (near[i] != p->slow_node)
            p->fast_node = near[i];
    if (p->fast_node < 0) {
        moetier_fmt(why, sizeof why, "MOETIER_SLOW=numa:%d: no DRAM node other than this one to promote to",
                    p->slow_node);
        stop_with(p, MOETIER_PLAN_AT_START, why);
        return -1;
    }
    p->numa = 1;
    return 0;
}

/* The file tier promotes by locking when it may: the page cache keeps the
 * large folios the binary reads, nothing is copied, and llama.cpp's readahead
 * finds locked experts cached instead of reading them again
 * (docs/bench-capped.md). Locking needs the memlock limit to cover the
 * budget; MOETIER_PROMOTE=lock cuts the budget to it instead of copying. */
static int choose_lock(const struct moetier_plan_facts *f, struct moetier_plan *p, uint64_t *budget)
{
    char a[24], b[24];
    const int at = MOETIER_PLAN_AT_START;
    if (p->numa || p->slow != MOETIER_SLOW_FILE || f->cfg.promote == MOETIER_PROMOTE_COPY)
        return 0;
    if (f->cfg.promote == MOETIER_PROMOTE_AUTO && f->cfg.hugepages == MOETIER_ON) {
        say(p, at, 0, "MOETIER_HUGEPAGES=on: promoting by copy into huge pages (locking keeps the page cache's own "
                      "pages)");
        return 0;
    }
    uint64_t room = f->memlock_known ? f->memlock_room : 0;
    if (room >= *budget)
        return 1;
    moetier_size_format(room, a, sizeof a);
    moetier_size_format(*budget, b, sizeof b);
    if (f->cfg.promote == MOETIER_PROMOTE_LOCK && room > 0) {
        say(p, at, 1, "MOETIER_PROMOTE=lock: the DRAM budget %s is cut to the %s the memlock limit leaves (raise "
                      "it: " RAISE_MEMLOCK ")", b, a);
        *budget = room;
        return 1;
    }
    say(p, at, 0, "file tier: the memlock limit leaves %s of the %s budget; promoting by copy (raise it to lock in "
                  "place: " RAISE_MEMLOCK ")", a, b);
    return 0;
}

/* auto: lock only where it pays, when the model does not fit. A model that
 * fits (tiered anyway, by an explicit MOETIER_DRAM) sits in the page cache's
 * PMD-mapped 2 MiB folios, and locked ranges split those mappings: measured
 * 0.11x of plain against 0.51x by copy (docs/bench-capped.md). */
static int lock_pays(const struct moetier_plan_facts *f, struct moetier_plan *p)
{
    if (f->cfg.promote != MOETIER_PROMOTE_AUTO || !p->fits)
        return 1;
    say(p, MOETIER_PLAN_AT_START, 0, "file tier: the model fits in memory; promoting by copy (MOETIER_PROMOTE=lock "
                                     "to lock anyway)");
    return 0;
}

/* Pinning applies when asked (on) or, with auto, when the process uses CUDA:
 * its CUDA runtime is loaded. moetier never loads one itself. */
static void cuda_pin(const struct moetier_plan_facts *f, struct moetier_plan *p)
{
    if (f->cfg.cuda_pin == MOETIER_OFF || p->numa)
        return;
    if (!f->cuda_runtime) {
        if (f->cfg.cuda_pin == MOETIER_ON)
            say(p, MOETIER_PLAN_AT_START, 1, "MOETIER_CUDA_PIN=on: this process has no CUDA runtime loaded; the "
                                             "cache stays unpinned");
        return;
    }
    p->cuda_pin = 1;
    say(p, MOETIER_PLAN_AT_START, 0, "MOETIER_CUDA_PIN: promoted experts are pinned with cudaHostRegister");
}

/* At the first decode: on or off, the budget, lock or copy, huge pages, CUDA. */
static void start(const struct moetier_plan_facts *f, struct moetier_plan *p)
{
    char a[24], b[24];
    const int at = MOETIER_PLAN_AT_START;
    if (p->slow == MOETIER_SLOW_NUMA && numa_nodes(f, p) != 0)
        return;
    if (f->locked_all) {
        say(p, at, 0, "the binary locked its memory (mlockall): no migration");
        off(p, at);
        return;
    }
    uint64_t max = f->mem_known ? moetier_dram_cache_clamp(f->cgroup_limit) : UINT64_MAX;
    p->budget = p->budget_asked;
    if (p->budget > max) {
        p->budget = max;
        p->clamped = 1;
        say(p, at, 1, "DRAM budget %s clamped to %s: the cgroup memory limit needs headroom (cached experts cannot "
                      "be reclaimed)", moetier_size_format(p->budget_asked, a, sizeof a),
            moetier_size_format(p->budget, b, sizeof b));
    }
    if (p->budget == 0) {
        say(p, at, 0, "DRAM budget 0: no expert cache");
        off(p, at);
        return;
    }
    /* the model's files fit in the memory this process may use (cgroup limit
     * or MemAvailable), with a quarter to spare */
    p->fits = f->mem_known && f->model_bytes + f->model_bytes / 4 <= f->mem_base;
    int dram_env = f->cfg.source[MOETIER_CFG_DRAM] == MOETIER_SRC_ENV;
    if (!p->numa && p->slow != MOETIER_SLOW_PMEM && p->slow != MOETIER_SLOW_DEVDAX && !dram_env && p->fits) {
        /* measured (docs/bench-capped.md): when the page cache holds the whole
         * model, copies in the cache only cost (4 KiB memfd pages against the
         * page cache's large folios); an explicit MOETIER_DRAM still tiers */
        say(p, at, 0, "file tier: the model fits in the memory available; no expert cache (set MOETIER_DRAM to tier "
                      "anyway)");
        int why = p->n_lines - 1;
        if (f->cfg.source[MOETIER_CFG_SAMPLE_BUDGET] != MOETIER_SRC_ENV) {
            /* nothing migrates: samples only feed the stats and the profile,
             * so they get half the default share of decode time */
            struct moetier_config c = f->cfg;
            char v[16];
            c.sample_budget = p->sample_budget = f->cfg.sample_budget / 2;
            say(p, at, 0, "sampling budget %s while nothing migrates (MOETIER_SAMPLE_BUDGET sets it)",
                moetier_config_value(&c, MOETIER_CFG_SAMPLE_BUDGET, v, sizeof v));
        }
        p->on = 0;
        p->off_stage = at;
        moetier_fmt(p->off_why, sizeof p->off_why, "%s", p->line[why].text);
        return;
    }
    if (f->n_files == 0 || f->n_files > MOETIER_CACHE_MAX_FILES) {
        stop_with(p, at, "too many model files");
        return;
    }
    uint64_t lock_budget = p->budget;
    if (!dram_env)
        /* the default 50% becomes 25%: measured (docs/bench-capped.md),
         * locking a quarter beat locking half, the unlocked page cache
         * serving the rest */
        lock_budget = p->budget / 2;
    p->lock = choose_lock(f, p, &lock_budget) && lock_pays(f, p);
    if (p->lock)
        p->budget = lock_budget;
    p->huge = p->lock ? 0 : want_huge_pages(f, p, p->budget);
    cuda_pin(f, p);
    /* not with CUDA: a GPU cannot read (or register) PROT_NONE memory; not
     * when the model fits (an explicit MOETIER_DRAM): nothing is read from
     * disk, and a fault per expert per step costs more than a fast step
     * (measured 0.08x, docs/bench-capped.md). The fetch sampler: every step,
     * each touched expert read in whole and alone, and no unlocked probe
     * windows (docs/tiering.md) */
    p->fetch = p->lock && !p->cuda_pin && !p->fits &&
               (f->cfg.sampler == MOETIER_SAMPLER_AUTO || f->cfg.sampler == MOETIER_SAMPLER_FAULT ||
                f->cfg.sampler == MOETIER_SAMPLER_ROUTING);
}

/* Once the engine counted what it can move: anything to tier, and the policy. */
static void counted(const struct moetier_plan_facts *f, struct moetier_plan *p)
{
    const int at = MOETIER_PLAN_AT_COUNTED;
    if (!f->counted) {
        say(p, at, 0, "experts: which are tierable is known once llama.cpp has placed the weights (the first decode); "
                      "%s", p->numa ? "the numa tier moves the model's mapping and buffers in its slow arena"
                                    : "the file tier tiers what stays in the model's read-only shared mapping (not "
                                      "tensors llama.cpp repacks, nor a --no-mmap load)");
    } else {
        if (!p->numa && f->n_copied)
            say(p, at, 1, "llama.cpp repacked %zu expert tensors out of the model's mapping into anonymous memory "
                          "(CPU_REPACK): decode reads those copies, so this tier cannot tier them; run llama.cpp "
                          "with --no-repack, or put its buffers on a slow node (MOETIER_SLOW=numa:N)", f->n_copied);
        if (!f->tierable_slots) {
            /* placed where a tier could move them, but each expert is too small
             * to hold a whole page (a tiny-width model): say that, not "anonymous" */
            if (f->small_stride)
                say(p, at, 0, "experts of %llu bytes hold no whole %llu KiB page: tiers move whole pages, so nothing "
                              "here can be tiered", (unsigned long long)f->small_stride,
                    (unsigned long long)(f->page_unit >> 10));
            else if (p->numa || !f->n_copied) /* else said above */
                say(p, at, 0, "%s", p->numa ? "no expert tensor is in the model's mapping or the slow arena: nothing to "
                                              "tier"
                                            : "no expert tensor is in a read-only shared file mapping: weights in "
                                              "anonymous buffers are DRAM-resident and untiered on the file tier");
            off(p, at);
            return;
        }
    }
    const char *name = f->cfg.policy;
    if (!name[0] || strcmp(name, "auto") == 0) {
        name = moetier_policy_auto(p->lock); /* the one place the default is chosen */
    } else if (strcmp(name, "static") == 0) {
        /* a fixed ranking: what earlier runs saw (the profile), else nothing to rank by */
        if (f->profile_ranked) {
            p->policy_ranked = 1;
        } else {
            say(p, at, 1, "MOETIER_POLICY=static needs a profile from an earlier run; using lfu");
            p->policy_warn = 1;
            moetier_fmt(p->policy_why, sizeof p->policy_why, "%s", p->line[p->n_lines - 1].text);
            name = "lfu";
        }
    }
    moetier_fmt(p->policy, sizeof p->policy, "%s", name);
}

/* At the first sample: routing (llama.cpp's eval callback) where it can be.
 * The file tier's locking needs each used expert read in whole: the routing
 * sampler's exact reads (every step, layer by layer, through the callback)
 * where it works, else the fetch sampler. */
static void sampler(const struct moetier_plan_facts *f, struct moetier_plan *p)
{
    const int at = MOETIER_PLAN_AT_SAMPLER;
    /* the fetch sampler once tiering runs with it (before that: the others) */
    int fetch = f->started && p->on && p->fetch && !f->stopped;
    if (f->cfg.sampler == MOETIER_SAMPLER_OFF) {
        p->sampler = MOETIER_PLAN_SAMPLER_OFF;
        say(p, at, 0, "sampler choice: off (MOETIER_SAMPLER=off)");
        return;
    }
    p->try_routing = !f->routing_failed &&
                     (f->cfg.sampler == MOETIER_SAMPLER_AUTO || f->cfg.sampler == MOETIER_SAMPLER_ROUTING);
    p->routing_reads = 0;
    p->read_room = 0;
    p->room_all = 0;
    if (p->try_routing) {
        if (f->routing > 0 && fetch) {
            p->sampler = MOETIER_PLAN_SAMPLER_ROUTING;
            p->routing_reads = 1;
            say(p, at, 0, "sampler: routing with exact reads (the file tier locks the page cache and the model does "
                          "not fit): every decode step, each MoE layer's chosen experts read in whole as soon as its "
                          "router has chosen them, before the layer reads them");
            if (f->cfg.read_room == MOETIER_OFF) {
                say(p, at, 0, "MOETIER_READ_ROOM=off: no read room; the kernel's reclaim decides which read experts "
                              "leave the page cache (exact reads alone)");
                if (f->cfg.prefetch_gate > 0)
                    say(p, at, 1, "MOETIER_PREFETCH_GATE ignored: it is the read room's prefetch");
                return;
            }
            p->read_room = 1;
            if (f->cfg.prefetch_gate > 0) {
                char gate[16];
                say(p, at, 0, "read room: prefetch gate %s (MOETIER_PREFETCH_GATE): while a layer runs, the next "
                              "layer's experts at least that likely are read in too",
                    moetier_config_value(&f->cfg, MOETIER_CFG_PREFETCH_GATE, gate, sizeof gate));
            }
            /* measured (docs/bench-capped.md, "The read room"): the room
             * alone read fewer bytes and ran faster than the room beside a
             * locked hot set of a quarter; an explicit MOETIER_DRAM keeps one */
            p->room_all = f->cfg.source[MOETIER_CFG_DRAM] != MOETIER_SRC_ENV;
            if (p->room_all)
                say(p, at, 0, "read room: the page cache these reads fill is moetier's expert cache, sized from the "
                              "memory left; no hot set is locked (MOETIER_DRAM locks one beside it)");
            return;
        }
        if (f->routing > 0) {
            p->sampler = MOETIER_PLAN_SAMPLER_ROUTING;
            say(p, at, 0, "sampler: routing, llama.cpp's ffn_moe_topk tensors through its eval callback, on sampled "
                          "decode steps");
            return;
        }
        if (f->routing < 0)
            say(p, at, 0, "sampler choice: routing if this llama.cpp exposes its scheduler's eval callback, else "
                          "the choice below");
        else if (f->cfg.sampler == MOETIER_SAMPLER_ROUTING)
            say(p, at, 1, "MOETIER_SAMPLER=routing: %s; using the other samplers", f->routing_why);
        else
            say(p, at, 0, "sampler: no routing: %s", f->routing_why);
    }
    if (fetch) {
        p->sampler = MOETIER_PLAN_SAMPLER_FETCH;
        say(p, at, 0, "sampler choice: fetch (the file tier locks the page cache and the model does not fit: "
                      "every decode step, each touched expert read in whole)");
    } else if (f->cfg.sampler == MOETIER_SAMPLER_PAGEMAP || f->cfg.sampler == MOETIER_SAMPLER_FAULT) {
        p->sampler = f->cfg.sampler == MOETIER_SAMPLER_PAGEMAP ? MOETIER_PLAN_SAMPLER_PAGEMAP
                                                               : MOETIER_PLAN_SAMPLER_FAULT;
        say(p, at, 0, "sampler choice: %s (MOETIER_SAMPLER)", moetier_plan_sampler_name(p->sampler));
    } else {
        p->sampler = MOETIER_PLAN_SAMPLER_CHOOSE;
        say(p, at, 0, "sampler choice: pagemap where its probes see every expert, else fault");
    }
}

/* At the first sample too: migration per token where every decode step's
 * experts are known exactly (the routing sampler in keep mode samples every
 * step at microseconds' cost; through its callback, which splits the graph,
 * only where MOETIER_SAMPLE_BUDGET=100% allows every step), so the policy sees each token in order, as
 * `moetier replay` does, and the runtime carries out its decisions before the
 * next token; else rounds. auto leaves the file tier's locking in rounds: it
 * follows the slowly changing hot set, where a demand cache would lock and
 * unlock every expert each token uses (docs/policies.md). */
static void per_token(const struct moetier_plan_facts *f, struct moetier_plan *p)
{
    const int at = MOETIER_PLAN_AT_SAMPLER;
    enum moetier_tristate want = f->cfg.per_token;
    const char *why = NULL;
    if (!p->on || f->stopped)
        return; /* nothing migrates */
    int routing = p->sampler == MOETIER_PLAN_SAMPLER_ROUTING && f->routing > 0;
    int every = p->sample_budget >= 100; /* MOETIER_SAMPLE_BUDGET=100%: every step, whatever it costs */
    int unknown = want != MOETIER_OFF &&
                  ((p->try_routing && f->routing < 0) || (routing && f->routing_keep < 0 && !every));
    if (want == MOETIER_OFF)
        why = "MOETIER_PER_TOKEN=off";
    else if (want == MOETIER_AUTO && p->lock)
        why = "the file tier locks the page cache and follows the slowly changing hot set (a demand cache would lock "
              "and unlock every expert each token uses)";
    else if (unknown)
        why = NULL;
    else if (!routing)
        why = "the sampler does not read every decode step's experts exactly";
    else if (f->routing_keep == 0 && !every)
        why = "the routing sampler splits the graph here (no keep mode): sampling every step would cost speed "
              "(MOETIER_SAMPLE_BUDGET=100% allows it)";
    unknown = unknown && !why;
    p->per_token_decided = !unknown;
    if (unknown) {
        say(p, at, 0, "migration: per token where the routing sampler reads every decode step exactly (its keep "
                      "mode, one CPU backend; or MOETIER_SAMPLE_BUDGET=100%%), else in rounds");
    } else if (why) {
        int warn = want == MOETIER_ON;
        say(p, at, warn, "%s%s: migration in rounds (at most every 10 ms; a slot wanted 2 rounds is promoted and "
                         "stays at least 1 s)", warn ? "MOETIER_PER_TOKEN=on: " : "", why);
    } else {
        p->per_token = 1;
        say(p, at, 0, "migration: per token (every decode step sampled exactly; each token goes through policy %s in "
                      "order, as in moetier replay, and its admissions and evictions are carried out before the "
                      "next)", p->policy);
    }
    moetier_fmt(p->per_token_why, sizeof p->per_token_why, "%s", p->line[p->n_lines - 1].text);
}

/* At the first sample, once per token: per layer where the routing
 * sampler's callback observes each MoE layer's router. Each layer's experts
 * then go through the policy at once and their moves start while the later
 * layers compute, up to a token earlier than per token: what pays where the
 * decode waits on the slow tier (PMem, CXL). Observing every layer splits
 * the graph and wakes the runtime thread at each router, which costs a
 * small model's step much and a big model's little, and is ruinous where
 * llama.cpp's threads take every CPU (the woken thread stalls them at their
 * barriers). So auto never goes per layer there; it does where the steps
 * split anyway (no keep mode, MOETIER_SAMPLE_BUDGET=100%), or where a step
 * acting per layer measured at most MOETIER_PLAN_SPLIT_MAX over one read
 * after the step (the runtime measures it: per_layer_trial). The file tier's
 * locking already acts at each router (its exact reads). */
/* thousandths as a percentage with one decimal: "2.0%"; sign: "+2.0%", "-0.3%" */
static const char *permille(int v, int sign, char *buf, size_t cap)
{
    moetier_fmt(buf, cap, "%s%d.%d%%", v < 0 ? "-" : sign ? "+" : "", abs(v) / 10, abs(v) % 10);
    return buf;
}

static void per_layer(const struct moetier_plan_facts *f, struct moetier_plan *p)
{
    char cost[16], most[16];
    permille(f->split_cost, 1, cost, sizeof cost);
    permille(MOETIER_PLAN_SPLIT_MAX, 0, most, sizeof most);
    const int at = MOETIER_PLAN_AT_SAMPLER;
    enum moetier_tristate want = f->cfg.per_layer;
    int forced = want == MOETIER_ON;
    if (!p->per_token) {
        if (forced && p->per_token_decided)
            say(p, at, 1, "MOETIER_PER_LAYER=on ignored: migration is not per token here");
        return;
    }
    if (p->lock) {
        if (forced)
            say(p, at, 1, "MOETIER_PER_LAYER=on ignored: the file tier locks, and its exact reads already act at "
                          "each MoE layer's router");
        return;
    }
    int split_anyway = f->routing_keep == 0;
    if (want == MOETIER_OFF) {
        say(p, at, 0, "MOETIER_PER_LAYER=off: each token's moves start when the token ends");
    } else if (!forced && f->cpus > 0 && f->compute_threads >= f->cpus) {
        /* measured: 2 threads on 2 CPUs ran 5-20 tok/s per layer against
         * 91-117 per token (ggml_barrier 94% of the time) */
        say(p, at, 0, "migration: per token, not per layer: llama.cpp decodes on %d threads and this process may "
                      "use %d CPUs; the runtime thread woken at every MoE layer would take a CPU from threads that "
                      "wait for each other at every node (MOETIER_PER_LAYER=on forces it)",
            f->compute_threads, f->cpus);
    } else if (forced || split_anyway || (f->split_measured && f->split_cost <= MOETIER_PLAN_SPLIT_MAX)) {
        p->per_layer = 1;
        int measured = !forced && !split_anyway;
        say(p, at, 0, "migration: per layer (each MoE layer's experts go through the policy as its router chooses "
                      "them, through llama.cpp's eval callback, and their moves start while the later layers "
                      "compute%s)%s%s%s", forced ? "; MOETIER_PER_LAYER=on" : split_anyway ? "; the graph splits anyway" : "",
            measured ? "; acting at every router measured " : "", measured ? cost : "",
            measured ? " a decode step" : "");
    } else if (!f->split_measured) {
        p->per_layer_trial = 1;
        say(p, at, 0, "migration: per layer if acting at every MoE layer's router costs a decode step at most "
                      "%s (measured over the first decode steps, in alternating blocks), else per token", most);
    } else {
        say(p, at, 0, "migration: per token, not per layer: acting at every MoE layer's router measured %s a "
                      "decode step (more than %s; MOETIER_PER_LAYER=on forces it)", cost, most);
    }
    moetier_fmt(p->per_layer_why, sizeof p->per_layer_why, "%s", p->line[p->n_lines - 1].text);
}

void moetier_plan_make(const struct moetier_plan_facts *f, struct moetier_plan *p)
{
    memset(p, 0, sizeof *p);
    p->fast_node = -1;
    p->off_stage = -1;
    p->on = 1;
    p->sample_budget = f->cfg.sample_budget;
    resolve_tier(f, p);
    p->budget_asked = f->budget_set ? f->budget_asked : moetier_plan_budget(&f->cfg, f->mem_known, f->mem_base);
    p->budget = p->budget_asked;
    p->map_hint = want_huge_pages(f, p, p->budget_asked);
    start(f, p);
    if (p->on)
        counted(f, p);
    sampler(f, p);
    per_token(f, p);
    per_layer(f, p);
}

void moetier_plan_render(const struct moetier_plan *p, int stage,
                         void (*line)(const struct moetier_plan_line *l, void *arg), void *arg)
{
    for (int i = 0; i < p->n_lines; i++)
        if (stage < 0 || p->line[i].stage == stage)
            line(&p->line[i], arg);
}

const char *moetier_plan_summary(const struct moetier_plan_facts *f, const struct moetier_plan *p, char *buf,
                                 size_t cap)
{
    char tier[MOETIER_PATH_MAX + 48], a[24];
    if (p->numa)
        moetier_fmt(tier, sizeof tier, "numa:%d tier (DRAM node %d)", p->slow_node, p->fast_node);
    else if (p->slow == MOETIER_SLOW_PMEM || p->slow == MOETIER_SLOW_DEVDAX)
        moetier_fmt(tier, sizeof tier, "%s:%s tier", p->slow == MOETIER_SLOW_PMEM ? "pmem" : "devdax",
                    f->cfg.slow_path);
    else
        moetier_fmt(tier, sizeof tier, "file tier");
    moetier_fmt(buf, cap, "%s, DRAM budget %s%s, promotion by %s, policy %s", tier,
                moetier_size_format(p->budget, a, sizeof a), p->huge && !p->numa ? " (huge pages)" : "",
                p->numa ? "page migration" : p->lock ? "locking the page cache" : "copy", p->policy);
    return buf;
}

const char *moetier_plan_stage_name(int stage)
{
    static const char *const names[] = { "at model open", "at the first decode", "once the experts are counted",
                                         "at the first sample" };
    return stage >= 0 && stage < MOETIER_PLAN_STAGES ? names[stage] : "?";
}

const char *moetier_plan_sampler_name(enum moetier_plan_sampler s)
{
    static const char *const names[] = { "off", "routing", "fetch", "pagemap", "fault", "pagemap or fault" };
    return (unsigned)s < sizeof names / sizeof *names ? names[s] : "?";
}
