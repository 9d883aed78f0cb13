/*
 * plan (shim side): the facts the shim knows (tiering/plan.h), gathered in
 * one place, and the plan they give, logged a stage at a time: at model open
 * the slow tier and the budget; at the first decode the rest of tiering's
 * start; once the engine counted the tierable experts the policy; at the
 * first sample the sampler. Every decision comes out of moetier_plan_make with
 * the facts known then; the callers (runtime.c, tiering.c) apply it. All under
 * shim.lock.
 */
#include "shim/shim.h"
#include "common/fmt.h"
#include "common/log.h"
#include "tiering/dram_cache.h"
#include "tiering/numa_tier.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

static struct moetier_plan_facts facts;
static struct moetier_plan plan;
static struct moetier_numa_topo topo; /* large: not on the stack */
static int sampler_stage; /* shim_plan_sampler is making the plan: it logs the sampler stage's lines itself */

struct moetier_plan_facts *shim_plan_facts(void)
{
    return &facts;
}

/* What the machine, the configuration and the model say now. Once the model
 * is loaded (started) also the memlock room (reading it raises the soft
 * limit) and the process's CUDA runtime (looked up in the runtime thread, as
 * before the plan: never from the binary's open()). */
static void gather(int started)
{
    facts.cfg = shim.cfg;
    moetier_plan_gather_machine(&facts, &topo, started);
    facts.n_files = 0;
    facts.model_bytes = 0;
    for (size_t i = 0; i < moetier_gguf_model_n_files(shim.model.gguf); i++)
        moetier_plan_add_file(&facts, moetier_gguf_model_path(shim.model.gguf, i));
    facts.expert_bytes_min = shim.model.map ? shim.model.map->expert_bytes_min : 0;
    /* the process's own CUDA runtime, if it loaded one (moetier never does) */
    void *reg = NULL, *unreg = NULL;
    facts.cuda_runtime = started && shim_real_optional("cudaHostRegister", &reg) &&
                         shim_real_optional("cudaHostUnregister", &unreg);
    facts.profile_ranked = 0;
    for (uint32_t s = 0; shim.hot.prior_hits && s < shim.hot.n_slots; s++)
        facts.profile_ranked |= shim.hot.prior_hits[s] != 0;
}

static void log_line(const struct moetier_plan_line *l, void *arg)
{
    (void)arg;
    if (l->warn)
        log_warn("%s", l->text);
    else
        log_info("%s", l->text);
}

const struct moetier_plan *shim_plan_make(int stage)
{
    moetier_plan_make(&facts, &plan);
    if (stage >= 0)
        moetier_plan_render(&plan, stage, log_line, NULL);
    /* per token or rounds: the runtime reads it at every step; a change
     * outside the sampler's stage (which logs it) gets its line too */
    int was = shim.per_token, layer_was = shim.per_layer;
    shim.per_token = plan.on && plan.per_token;
    shim.per_layer = shim.per_token && plan.per_layer;
    shim.split_trial = shim.per_token && plan.per_layer_trial;
    if (shim.per_token != was && !sampler_stage && plan.per_token_why[0])
        log_info("%s", plan.per_token_why);
    else if (shim.per_layer != layer_was && !sampler_stage && plan.per_layer_why[0])
        log_info("%s", plan.per_layer_why);
    return &plan;
}

const struct moetier_plan *shim_plan_open(void)
{
    memset(&facts, 0, sizeof facts);
    facts.routing = -1;
    facts.routing_keep = -1;
    gather(0);
    return shim_plan_make(MOETIER_PLAN_AT_OPEN);
}

const struct moetier_plan *shim_plan_start(int locked_all)
{
    gather(1);
    facts.started = 1;
    facts.locked_all = locked_all;
    facts.budget_set = 1; /* resolved at open, or `moetier set` since */
    facts.budget_asked = shim.dram_budget;
    return shim_plan_make(MOETIER_PLAN_AT_START);
}

const struct moetier_plan *shim_plan_counted(uint32_t tierable_slots, size_t n_copied, uint64_t small_stride,
                                             uint64_t page_unit)
{
    facts.counted = 1;
    facts.tierable_slots = tierable_slots;
    facts.n_copied = n_copied;
    facts.small_stride = small_stride;
    facts.page_unit = page_unit;
    return shim_plan_make(MOETIER_PLAN_AT_COUNTED);
}

void shim_plan_stopped(void)
{
    facts.stopped = 1;
    shim.per_token = 0; /* nothing migrates: sampling goes back to its budget */
    shim.per_layer = 0;
    shim.split_trial = 0;
}

/* MOETIER_PER_LAYER=auto: what acting at every MoE layer's router costs a
 * decode step, measured in this run. A step acting per layer splits the
 * graph at every router and wakes the runtime thread there; its moves then
 * run beside the later layers and, partly, the next steps. So the two ways
 * alternate in blocks of TRIAL_BLOCK one-token steps (not step by step,
 * which would lay one way's moves on the other's steps), the first
 * TRIAL_SETTLE steps of each block untimed, until each way has TRIAL_STEPS
 * timed steps; medians compared. Load and cache changes fall on both. */
#define TRIAL_BLOCK 8
#define TRIAL_SETTLE 2
#define TRIAL_STEPS 24
static uint64_t trial_ns[2][TRIAL_STEPS];
static int trial_n[2];
static unsigned trial_turn;

int shim_plan_trial_split(void)
{
    if (!shim.split_trial)
        return 0;
    unsigned turn = __atomic_fetch_add(&trial_turn, 1, __ATOMIC_RELAXED);
    int split = (int)((turn / TRIAL_BLOCK) & 1);
    return split | (turn % TRIAL_BLOCK >= TRIAL_SETTLE ? SHIM_TRIAL_TIMED : 0);
}

static int by_ns(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t median_ns(uint64_t *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_ns);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void shim_plan_trial_time(int trial, uint64_t ns)
{
    int split = trial & 1;
    if (!shim.split_trial || !(trial & SHIM_TRIAL_TIMED) || trial_n[split] >= TRIAL_STEPS)
        return;
    trial_ns[split][trial_n[split]++] = ns;
    if (trial_n[0] < TRIAL_STEPS || trial_n[1] < TRIAL_STEPS)
        return;
    uint64_t kept = median_ns(trial_ns[0], TRIAL_STEPS), observed = median_ns(trial_ns[1], TRIAL_STEPS);
    facts.split_measured = 1;
    facts.split_cost = kept ? (int)(((double)observed / (double)kept - 1) * 1000 + (observed >= kept ? 0.5 : -0.5)) : 0;
    log_info("per layer: a decode step acting at every MoE layer's router took %llu us, one read after the step "
             "%llu us (medians of %d each, in alternating blocks of %d)", (unsigned long long)(observed / 1000),
             (unsigned long long)(kept / 1000), TRIAL_STEPS, TRIAL_BLOCK);
    sampler_stage = 1; /* the line below is this decision's */
    shim_plan_make(-1);
    sampler_stage = 0;
    log_info("%s", plan.per_layer_why);
}

int shim_plan_map_hint(void)
{
    pthread_mutex_lock(&shim.lock);
    facts.budget_set = 1;
    facts.budget_asked = shim.dram_budget;
    facts.huge_free = moetier_dram_cache_huge_free();
    int hint = shim_plan_make(-1)->map_hint;
    pthread_mutex_unlock(&shim.lock);
    return hint;
}

enum moetier_plan_sampler shim_plan_sampler(void)
{
    cpu_set_t set;
    facts.cpus = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
    facts.compute_threads = shim.compute_threads;
    facts.cfg.sampler = shim.cfg.sampler;
    facts.routing_failed = shim.routing_failed;
    facts.routing = -1;
    facts.routing_keep = -1;
    sampler_stage = 1;
    const struct moetier_plan *p = shim_plan_make(-1);
    if (p->try_routing) {
        facts.routing = shim_routing_usable(facts.routing_why, sizeof facts.routing_why) == 0;
        if (facts.routing > 0)
            facts.routing_keep = shim_routing_cheap();
        p = shim_plan_make(-1);
    }
    sampler_stage = 0;
    moetier_plan_render(p, MOETIER_PLAN_AT_SAMPLER, log_line, NULL);
    int reads_were = shim.routing_reads;
    shim.routing_reads = p->sampler == MOETIER_PLAN_SAMPLER_ROUTING && p->routing_reads;
    if (reads_were && !shim.routing_reads)
        shim_reads_stop_locked();
    shim.read_room = shim.routing_reads && p->read_room;
    if (!shim.read_room)
        shim_room_stop_locked();
    shim_tiering_room_all(shim.routing_reads && p->room_all);
    return p->sampler;
}

void shim_plan_routing_split(void)
{
    facts.routing_keep = 0;
    shim_plan_make(-1);
}
