/*
 * test_plan: every decision of tiering/plan.h from hand-made facts, one table
 * row a branch (no llama.cpp, no machine: the plan is a pure function). A row
 * starts from a model that does not fit on a plain machine (file tier,
 * default budget, no memlock limit, every expert tierable, the routing
 * callback usable) and changes what its branch needs.
 */
#include "tests/unit/check.h"
#include "tiering/numa_tier.h"
#include "tiering/plan.h"

#include <stdint.h>
#include <string.h>

#define G (1ull << 30)
#define M (1ull << 20)

static struct moetier_numa_topo two_nodes; /* node 0: CPUs and DRAM; node 1: memory, no CPUs */
static struct moetier_numa_topo one_node;

static void topo_init(void)
{
    one_node.n = 1;
    one_node.cpu_node = 0;
    one_node.node[0] = (struct moetier_numa_node){ .id = 0, .has_cpu = 1, .has_memory = 1, .total = 64 * G };
    one_node.distance[0][0] = 10;
    two_nodes = one_node;
    two_nodes.n = 2;
    two_nodes.node[1] = (struct moetier_numa_node){ .id = 1, .has_cpu = 0, .has_memory = 1, .total = 256 * G };
    two_nodes.distance[0][1] = two_nodes.distance[1][0] = 17;
    two_nodes.distance[1][1] = 10;
}

static void base(struct moetier_plan_facts *f)
{
    memset(f, 0, sizeof *f);
    moetier_config_defaults(&f->cfg);
    f->cfg.slow = MOETIER_SLOW_FILE;
    f->cfg.hugepages = MOETIER_AUTO;
    f->cfg.cuda_pin = MOETIER_AUTO;
    f->cfg.promote = MOETIER_PROMOTE_AUTO;
    f->cfg.sampler = MOETIER_SAMPLER_AUTO;
    f->cfg.policy[0] = '\0';
    f->cfg.sample_budget = 1;
    f->mem_known = 1;
    f->mem_base = 64 * G; /* default budget 50%: 32 GiB */
    f->memlock_known = 1;
    f->memlock_room = UINT64_MAX;
    f->n_files = 1;
    f->model_bytes = 100 * G;
    f->expert_bytes_min = 3 * M;
    f->numa = &one_node;
    f->started = 1;
    f->counted = 1;
    f->tierable_slots = 1000;
    f->page_unit = 4096;
    f->routing = 1;
    f->routing_keep = 1;
}

static void env(struct moetier_plan_facts *f, int var)
{
    f->cfg.source[var] = MOETIER_SRC_ENV;
}

/* ---- the rows: each changes the base facts for its branch ---- */
static void r_plain(struct moetier_plan_facts *f) { (void)f; }
static void r_fits(struct moetier_plan_facts *f) { f->model_bytes = 40 * G; }
static void r_fits_sample_env(struct moetier_plan_facts *f)
{
    r_fits(f);
    env(f, MOETIER_CFG_SAMPLE_BUDGET);
}
static void r_fits_dram_env(struct moetier_plan_facts *f)
{
    r_fits(f);
    env(f, MOETIER_CFG_DRAM);
    f->cfg.dram.percent = 0;
    f->cfg.dram.bytes = 8 * G;
}
static void r_fits_dram_env_lock(struct moetier_plan_facts *f)
{
    r_fits_dram_env(f);
    f->cfg.promote = MOETIER_PROMOTE_LOCK;
}
static void r_quarter_short(struct moetier_plan_facts *f) { f->model_bytes = 52 * G; } /* 65 > 64: no fit */
static void r_mem_unknown(struct moetier_plan_facts *f)
{
    f->mem_known = 0; /* 50% of nothing known: budget 0 */
}
static void r_cgroup(struct moetier_plan_facts *f)
{
    f->cgroup_limit = 16 * G;
    f->mem_base = 16 * G; /* base is the limit: 8 GiB asked, the cap is 12 GiB */
    env(f, MOETIER_CFG_DRAM);
    f->cfg.dram.percent = 0;
    f->cfg.dram.bytes = 14 * G;
}
static void r_set_budget(struct moetier_plan_facts *f)
{
    f->budget_set = 1;
    f->budget_asked = 4 * G;
}
static void r_budget0(struct moetier_plan_facts *f) { r_set_budget(f), f->budget_asked = 0; }
static void r_memlock_short(struct moetier_plan_facts *f) { f->memlock_room = 64 * M; }
static void r_memlock_unknown(struct moetier_plan_facts *f) { f->memlock_known = 0; }
static void r_lock_cut(struct moetier_plan_facts *f)
{
    r_memlock_short(f);
    f->cfg.promote = MOETIER_PROMOTE_LOCK;
}
static void r_lock_nothing(struct moetier_plan_facts *f)
{
    f->memlock_room = 0;
    f->cfg.promote = MOETIER_PROMOTE_LOCK;
}
static void r_copy(struct moetier_plan_facts *f) { f->cfg.promote = MOETIER_PROMOTE_COPY; }
static void r_dram_env(struct moetier_plan_facts *f)
{
    env(f, MOETIER_CFG_DRAM);
    f->cfg.dram.percent = 25; /* 16 GiB, no halving when named */
}
static void r_huge_on(struct moetier_plan_facts *f) { f->cfg.hugepages = MOETIER_ON; }
static void r_huge_on_lock(struct moetier_plan_facts *f) { r_huge_on(f), f->cfg.promote = MOETIER_PROMOTE_LOCK; }
static void r_huge_auto(struct moetier_plan_facts *f)
{
    r_copy(f);
    f->huge_free = 64 * G;
    f->expert_bytes_min = 24 * M;
}
static void r_huge_auto_small(struct moetier_plan_facts *f) { r_huge_auto(f), f->expert_bytes_min = 23 * M; }
static void r_huge_auto_pool(struct moetier_plan_facts *f) { r_huge_auto(f), f->huge_free = 31 * G; }
static void r_numa(struct moetier_plan_facts *f)
{
    f->cfg.slow = MOETIER_SLOW_NUMA;
    f->cfg.slow_node = 1;
    f->numa = &two_nodes;
}
static void r_numa_fits(struct moetier_plan_facts *f) { r_numa(f), f->model_bytes = 10 * G; }
static void r_numa_missing(struct moetier_plan_facts *f) { r_numa(f), f->cfg.slow_node = 3; }
static void r_numa_no_sysfs(struct moetier_plan_facts *f) { r_numa(f), f->numa = NULL; }
static void r_numa_no_dram(struct moetier_plan_facts *f) { r_numa(f), f->cfg.slow_node = 0, f->numa = &one_node; }
static void r_auto_numa(struct moetier_plan_facts *f)
{
    f->cfg.slow = MOETIER_SLOW_AUTO;
    f->numa = &two_nodes;
}
static void r_auto_file(struct moetier_plan_facts *f) { f->cfg.slow = MOETIER_SLOW_AUTO; }
static void r_pmem_fits(struct moetier_plan_facts *f)
{
    f->cfg.slow = MOETIER_SLOW_PMEM;
    strcpy(f->cfg.slow_path, "/mnt/pmem");
    f->model_bytes = 10 * G;
}
static void r_locked_all(struct moetier_plan_facts *f) { f->locked_all = 1; }
static void r_files(struct moetier_plan_facts *f) { f->n_files = 129; }
static void r_cuda(struct moetier_plan_facts *f) { f->cuda_runtime = 1; }
static void r_cuda_on_none(struct moetier_plan_facts *f) { f->cfg.cuda_pin = MOETIER_ON; }
static void r_cuda_off(struct moetier_plan_facts *f) { r_cuda(f), f->cfg.cuda_pin = MOETIER_OFF; }
static void r_repacked(struct moetier_plan_facts *f)
{
    f->tierable_slots = 0;
    f->n_copied = 27;
}
static void r_repacked_some(struct moetier_plan_facts *f) { f->n_copied = 3; }
static void r_anon(struct moetier_plan_facts *f) { f->tierable_slots = 0; }
static void r_small(struct moetier_plan_facts *f) { f->tierable_slots = 0, f->small_stride = 2048; }
static void r_numa_repacked(struct moetier_plan_facts *f) { r_numa(f), f->n_copied = 27; }
static void r_uncounted(struct moetier_plan_facts *f) { f->counted = 0, f->tierable_slots = 0; }
static void r_static(struct moetier_plan_facts *f) { strcpy(f->cfg.policy, "static"), f->profile_ranked = 1; }
static void r_static_none(struct moetier_plan_facts *f) { strcpy(f->cfg.policy, "static"); }
static void r_named(struct moetier_plan_facts *f) { strcpy(f->cfg.policy, "lru"); }
static void r_auto_policy(struct moetier_plan_facts *f) { r_copy(f), strcpy(f->cfg.policy, "auto"); }
static void r_sampler_off(struct moetier_plan_facts *f) { f->cfg.sampler = MOETIER_SAMPLER_OFF; }
static void r_no_routing(struct moetier_plan_facts *f)
{
    r_copy(f);
    f->routing = 0;
    strcpy(f->routing_why, "no ggml scheduler");
}
static void r_routing_named(struct moetier_plan_facts *f) { r_no_routing(f), f->cfg.sampler = MOETIER_SAMPLER_ROUTING; }
static void r_routing_failed(struct moetier_plan_facts *f) { r_copy(f), f->routing_failed = 1; }
static void r_routing_unknown(struct moetier_plan_facts *f) { r_copy(f), f->routing = -1; }
static void r_pagemap(struct moetier_plan_facts *f) { r_copy(f), f->cfg.sampler = MOETIER_SAMPLER_PAGEMAP; }
static void r_fault_lock(struct moetier_plan_facts *f) { f->cfg.sampler = MOETIER_SAMPLER_FAULT; }
static void r_pagemap_lock(struct moetier_plan_facts *f) { f->cfg.sampler = MOETIER_SAMPLER_PAGEMAP; }
static void r_not_started(struct moetier_plan_facts *f) { f->started = 0; }
static void r_stopped(struct moetier_plan_facts *f) { f->stopped = 1; }
static void r_lock_cuda(struct moetier_plan_facts *f) { r_cuda(f); }

enum { OFF_NONE = -1 };
#define ANY 2 /* a field the row does not check */

struct row {
    const char *name;
    void (*setup)(struct moetier_plan_facts *);
    int on, off_stage;         /* off_stage: OFF_NONE while on */
    uint64_t budget;           /* 0: not checked */
    int lock, huge, fetch, cuda_pin, clamped, numa;
    int sampler;               /* enum moetier_plan_sampler, -1 not checked */
    const char *policy;        /* NULL: not checked */
    const char *line;          /* a line that must be there (substring), NULL none */
    int warn;                  /* that line is a warning */
};

#define AT_START MOETIER_PLAN_AT_START
#define AT_COUNTED MOETIER_PLAN_AT_COUNTED
#define S(x) MOETIER_PLAN_SAMPLER_##x

static const struct row rows[] = {
    /* does not fit, no limit: lock a quarter (the default 50% halved), the routing sampler's exact reads
     * (fetch), policy hot */
    { "plain", r_plain, 1, OFF_NONE, 16 * G, 1, 0, 1, 0, 0, 0, S(ROUTING), "hot", NULL, 0 },
    /* fits: no cache, half the sampling budget */
    { "fits", r_fits, 0, AT_START, 32 * G, 0, 0, 0, 0, 0, 0, S(ROUTING), NULL,
      "file tier: the model fits in the memory available; no expert cache", 0 },
    { "fits, sampling budget named", r_fits_sample_env, 0, AT_START, 0, 0, 0, 0, 0, 0, 0, S(ROUTING), NULL,
      "the model fits in the memory available", 0 },
    /* fits but MOETIER_DRAM named: tiers, copies (lock does not pay), no fetch */
    { "fits, DRAM named", r_fits_dram_env, 1, OFF_NONE, 8 * G, 0, 0, 0, 0, 0, 0, S(ROUTING), "adapt",
      "file tier: the model fits in memory; promoting by copy (MOETIER_PROMOTE=lock to lock anyway)", 0 },
    { "fits, DRAM named, lock", r_fits_dram_env_lock, 1, OFF_NONE, 8 * G, 1, 0, 0, 0, 0, 0, S(ROUTING), "hot", NULL, 0 },
    { "a quarter short of fitting", r_quarter_short, 1, OFF_NONE, 16 * G, 1, 0, 1, 0, 0, 0, S(ROUTING), "hot", NULL, 0 },
    { "memory unknown: budget 0", r_mem_unknown, 0, AT_START, 0, 0, 0, 0, 0, 0, 0, ANY, NULL,
      "DRAM budget 0: no expert cache", 0 },
    { "cgroup clamp", r_cgroup, 1, OFF_NONE, 12 * G, 1, 0, 1, 0, 1, 0, S(ROUTING), "hot",
      "DRAM budget 14.00 GiB clamped to 12.00 GiB: the cgroup memory limit needs headroom", 1 },
    { "moetier set before start", r_set_budget, 1, OFF_NONE, 2 * G, 1, 0, 1, 0, 0, 0, S(ROUTING), "hot", NULL, 0 },
    { "budget 0", r_budget0, 0, AT_START, 0, 0, 0, 0, 0, 0, 0, ANY, NULL, "DRAM budget 0: no expert cache", 0 },
    /* memlock */
    { "memlock short: copy", r_memlock_short, 1, OFF_NONE, 32 * G, 0, 0, 0, 0, 0, 0, S(ROUTING), "adapt",
      "file tier: the memlock limit leaves 64.00 MiB of the 16.00 GiB budget; promoting by copy", 0 },
    { "memlock unknown: copy", r_memlock_unknown, 1, OFF_NONE, 32 * G, 0, 0, 0, 0, 0, 0, ANY, "adapt",
      "the memlock limit leaves 0 B of", 0 },
    { "PROMOTE=lock cut", r_lock_cut, 1, OFF_NONE, 64 * M, 1, 0, 1, 0, 0, 0, S(FETCH), "hot",
      "MOETIER_PROMOTE=lock: the DRAM budget 16.00 GiB is cut to the 64.00 MiB the memlock limit leaves", 1 },
    { "PROMOTE=lock, no room: copy", r_lock_nothing, 1, OFF_NONE, 32 * G, 0, 0, 0, 0, 0, 0, ANY, "adapt",
      "promoting by copy", 0 },
    { "PROMOTE=copy", r_copy, 1, OFF_NONE, 32 * G, 0, 0, 0, 0, 0, 0, S(ROUTING), "adapt", NULL, 0 },
    { "DRAM named: not halved", r_dram_env, 1, OFF_NONE, 16 * G, 1, 0, 1, 0, 0, 0, S(FETCH), "hot", NULL, 0 },
    /* huge pages */
    { "hugepages on: copy into huge pages", r_huge_on, 1, OFF_NONE, 32 * G, 0, 1, 0, 0, 0, 0, S(ROUTING), "adapt",
      "MOETIER_HUGEPAGES=on: promoting by copy into huge pages", 0 },
    { "hugepages on, PROMOTE=lock: lock, no huge", r_huge_on_lock, 1, OFF_NONE, 16 * G, 1, 0, 1, 0, 0, 0, S(FETCH),
      "hot", NULL, 0 },
    { "hugepages auto: pool and slices", r_huge_auto, 1, OFF_NONE, 32 * G, 0, 1, 0, 0, 0, 0, ANY, "adapt", NULL, 0 },
    { "hugepages auto: slices too small", r_huge_auto_small, 1, OFF_NONE, 32 * G, 0, 0, 0, 0, 0, 0, ANY, NULL, NULL, 0 },
    { "hugepages auto: pool too small", r_huge_auto_pool, 1, OFF_NONE, 32 * G, 0, 0, 0, 0, 0, 0, ANY, NULL, NULL, 0 },
    /* numa */
    { "numa:1", r_numa, 1, OFF_NONE, 32 * G, 0, 0, 0, 0, 0, 1, S(ROUTING), "adapt", NULL, 0 },
    { "numa:1, the model fits: still tiers", r_numa_fits, 1, OFF_NONE, 32 * G, 0, 0, 0, 0, 0, 1, ANY, "adapt", NULL, 0 },
    { "numa:3 missing", r_numa_missing, 0, AT_START, 0, 0, 0, 0, 0, 0, 0, ANY, NULL,
      "MOETIER_SLOW=numa:3: no such NUMA node with memory here: expert tiering off, profiling only", 1 },
    { "numa without sysfs", r_numa_no_sysfs, 0, AT_START, 0, 0, 0, 0, 0, 0, 0, ANY, NULL, "no such NUMA node", 1 },
    { "numa:0, no other DRAM", r_numa_no_dram, 0, AT_START, 0, 0, 0, 0, 0, 0, 0, ANY, NULL,
      "MOETIER_SLOW=numa:0: no DRAM node other than this one to promote to", 1 },
    { "numa, repacked: tiered anyway", r_numa_repacked, 1, OFF_NONE, 0, 0, 0, 0, 0, 0, 1, ANY, "adapt", NULL, 0 },
    { "auto: a CPU-less node", r_auto_numa, 1, OFF_NONE, 0, 0, 0, 0, 0, 0, 1, ANY, NULL,
      "MOETIER_SLOW=auto: numa:1 (node 1 has memory and no CPUs)", 0 },
    { "auto: file", r_auto_file, 1, OFF_NONE, 16 * G, 1, 0, 1, 0, 0, 0, S(ROUTING), "hot", "MOETIER_SLOW=auto: file", 0 },
    { "pmem: fits, still tiers by copy", r_pmem_fits, 1, OFF_NONE, 32 * G, 0, 0, 0, 0, 0, 0, ANY, "adapt", NULL, 0 },
    /* the binary, the files, CUDA */
    { "mlockall", r_locked_all, 0, AT_START, 0, 0, 0, 0, 0, 0, 0, ANY, NULL,
      "the binary locked its memory (mlockall): no migration", 0 },
    { "too many files", r_files, 0, AT_START, 0, 0, 0, 0, 0, 0, 0, ANY, NULL, "too many model files", 1 },
    { "CUDA: pinned, no fetch", r_lock_cuda, 1, OFF_NONE, 16 * G, 1, 0, 0, 1, 0, 0, S(ROUTING), "hot",
      "MOETIER_CUDA_PIN: promoted experts are pinned with cudaHostRegister", 0 },
    { "CUDA_PIN=on without CUDA", r_cuda_on_none, 1, OFF_NONE, 0, 1, 0, 1, 0, 0, 0, ANY, NULL,
      "MOETIER_CUDA_PIN=on: this process has no CUDA runtime loaded", 1 },
    { "CUDA_PIN=off", r_cuda_off, 1, OFF_NONE, 0, 1, 0, 1, 0, 0, 0, ANY, NULL, NULL, 0 },
    /* what the engine could tier */
    { "all repacked: nothing tierable", r_repacked, 0, AT_COUNTED, 0, 1, 0, 1, 0, 0, 0, ANY, NULL,
      "llama.cpp repacked 27 expert tensors", 1 },
    { "some repacked: warned, tiered", r_repacked_some, 1, OFF_NONE, 0, 1, 0, 1, 0, 0, 0, S(FETCH), "hot",
      "llama.cpp repacked 3 expert tensors", 1 },
    { "anonymous: nothing tierable", r_anon, 0, AT_COUNTED, 0, 0, 0, 0, 0, 0, 0, ANY, NULL,
      "no expert tensor is in a read-only shared file mapping", 0 },
    { "experts smaller than a page", r_small, 0, AT_COUNTED, 0, 0, 0, 0, 0, 0, 0, ANY, NULL,
      "experts of 2048 bytes hold no whole 4 KiB page", 0 },
    { "not counted yet (doctor)", r_uncounted, 1, OFF_NONE, 16 * G, 1, 0, 1, 0, 0, 0, S(FETCH), "hot",
      "known once llama.cpp has placed the weights", 0 },
    /* policy */
    { "static with a profile", r_static, 1, OFF_NONE, 0, 1, 0, 1, 0, 0, 0, ANY, "static", NULL, 0 },
    { "static without a profile: lfu", r_static_none, 1, OFF_NONE, 0, 1, 0, 1, 0, 0, 0, ANY, "lfu",
      "MOETIER_POLICY=static needs a profile from an earlier run; using lfu", 1 },
    { "named policy", r_named, 1, OFF_NONE, 0, 1, 0, 1, 0, 0, 0, ANY, "lru", NULL, 0 },
    { "auto, copy: adapt", r_auto_policy, 1, OFF_NONE, 0, 0, 0, 0, 0, 0, 0, ANY, "adapt", NULL, 0 },
    /* the sampler */
    { "sampler off", r_sampler_off, 1, OFF_NONE, 0, 1, 0, 0, 0, 0, 0, S(OFF), NULL, NULL, 0 },
    { "no routing: choose", r_no_routing, 1, OFF_NONE, 0, 0, 0, 0, 0, 0, 0, S(CHOOSE), NULL,
      "sampler: no routing: no ggml scheduler", 0 },
    { "routing named, unusable", r_routing_named, 1, OFF_NONE, 0, 0, 0, 0, 0, 0, 0, S(CHOOSE), NULL,
      "MOETIER_SAMPLER=routing: no ggml scheduler; using the other samplers", 1 },
    { "routing failed once", r_routing_failed, 1, OFF_NONE, 0, 0, 0, 0, 0, 0, 0, S(CHOOSE), NULL, NULL, 0 },
    { "routing not tried yet", r_routing_unknown, 1, OFF_NONE, 0, 0, 0, 0, 0, 0, 0, S(CHOOSE), NULL,
      "routing if this llama.cpp exposes", 0 },
    { "pagemap named", r_pagemap, 1, OFF_NONE, 0, 0, 0, 0, 0, 0, 0, S(PAGEMAP), NULL, NULL, 0 },
    { "fault named, locking: fetch", r_fault_lock, 1, OFF_NONE, 0, 1, 0, 1, 0, 0, 0, S(FETCH), NULL, NULL, 0 },
    { "pagemap named, locking: no fetch", r_pagemap_lock, 1, OFF_NONE, 0, 1, 0, 0, 0, 0, 0, S(PAGEMAP), NULL, NULL, 0 },
    { "before the first decode: routing", r_not_started, 1, OFF_NONE, 0, 1, 0, 1, 0, 0, 0, S(ROUTING), NULL, NULL, 0 },
    { "tiering stopped: no fetch", r_stopped, 1, OFF_NONE, 0, 1, 0, 1, 0, 0, 0, S(ROUTING), NULL, NULL, 0 },
};

static int has_line(const struct moetier_plan *p, const char *text, int warn)
{
    for (int i = 0; i < p->n_lines; i++)
        if (strstr(p->line[i].text, text) && p->line[i].warn == warn)
            return 1;
    return 0;
}

static void check_row(const struct row *r)
{
    struct moetier_plan_facts f;
    struct moetier_plan p;
    int fails = check_failures;
    base(&f);
    r->setup(&f);
    moetier_plan_make(&f, &p);
    CHECK(p.on == r->on);
    CHECK(p.off_stage == r->off_stage);
    if (!r->on)
        CHECK(p.off_why[0] != '\0');
    if (r->budget)
        CHECK(p.budget == r->budget);
    if (r->on) {
        CHECK(p.lock == r->lock);
        CHECK(p.huge == r->huge);
        CHECK(p.fetch == r->fetch);
        CHECK(p.cuda_pin == r->cuda_pin);
        CHECK(p.numa == r->numa);
    }
    CHECK(p.clamped == r->clamped);
    if (r->sampler >= 0 && r->sampler != ANY)
        CHECK((int)p.sampler == r->sampler);
    if (r->policy)
        CHECK_STR(p.policy, r->policy);
    if (r->line)
        CHECK(has_line(&p, r->line, r->warn));
    if (check_failures != fails) {
        fprintf(stderr, "  row \"%s\": on %d off_stage %d budget %llu lock %d huge %d fetch %d pin %d sampler %s "
                        "policy %s\n", r->name, p.on, p.off_stage, (unsigned long long)p.budget, p.lock, p.huge,
                p.fetch, p.cuda_pin, moetier_plan_sampler_name(p.sampler), p.policy);
        for (int i = 0; i < p.n_lines; i++)
            fprintf(stderr, "    [%d%s] %s\n", p.line[i].stage, p.line[i].warn ? " warn" : "", p.line[i].text);
    }
}

/* Per token or rounds (the sampler's stage): each branch, its decision and its sentence. */
static void check_per_token(void)
{
    struct moetier_plan_facts f;
    struct moetier_plan p;
    /* copy, routing in keep mode: per token, the policy named */
    base(&f), r_copy(&f), moetier_plan_make(&f, &p);
    CHECK(p.per_token == 1);
    CHECK(has_line(&p, "migration: per token (every decode step sampled exactly; each token goes through policy adapt", 0));
    CHECK(strstr(p.per_token_why, "migration: per token") != NULL);
    /* off by name */
    base(&f), r_copy(&f), f.cfg.per_token = MOETIER_OFF, moetier_plan_make(&f, &p);
    CHECK(p.per_token == 0 && has_line(&p, "MOETIER_PER_TOKEN=off: migration in rounds", 0));
    /* the file tier locks: auto keeps rounds, on forces per token */
    base(&f), moetier_plan_make(&f, &p);
    CHECK(p.lock == 1 && p.per_token == 0 && has_line(&p, "the file tier locks the page cache and follows", 0));
    base(&f), f.cfg.per_token = MOETIER_ON, f.cfg.sampler = MOETIER_SAMPLER_ROUTING, moetier_plan_make(&f, &p);
    CHECK(p.lock == 1 && p.per_token == 1);
    /* no exact routing: rounds; asked for by name, a warning */
    base(&f), r_no_routing(&f), moetier_plan_make(&f, &p);
    CHECK(p.per_token == 0 && has_line(&p, "the sampler does not read every decode step's experts exactly", 0));
    base(&f), r_no_routing(&f), f.cfg.per_token = MOETIER_ON, moetier_plan_make(&f, &p);
    CHECK(p.per_token == 0 && has_line(&p, "MOETIER_PER_TOKEN=on: the sampler does not read", 1));
    /* the routing callback splits the graph: rounds, unless every step is paid for */
    base(&f), r_copy(&f), f.routing_keep = 0, moetier_plan_make(&f, &p);
    CHECK(p.per_token == 0 && has_line(&p, "splits the graph here", 0));
    base(&f), r_copy(&f), f.routing_keep = 0, f.cfg.sample_budget = 100, moetier_plan_make(&f, &p);
    CHECK(p.per_token == 1);
    /* not known yet (doctor): the condition, no decision */
    base(&f), r_routing_unknown(&f), f.routing_keep = -1, moetier_plan_make(&f, &p);
    CHECK(p.per_token == 0 && has_line(&p, "migration: per token where the routing sampler reads every decode step", 0));
    /* tiering off, or stopped after it started: no migration, no line */
    base(&f), r_fits(&f), moetier_plan_make(&f, &p);
    CHECK(p.per_token == 0 && !has_line(&p, "migration", 0) && p.per_token_why[0] == '\0');
    base(&f), r_copy(&f), r_stopped(&f), moetier_plan_make(&f, &p);
    CHECK(p.per_token == 0 && !has_line(&p, "migration", 0));
}

/* Per layer (the sampler's stage, after per token): each branch, its decision and its sentence. */
static void check_per_layer(void)
{
    struct moetier_plan_facts f;
    struct moetier_plan p;
    /* copy in keep mode, nothing measured: auto asks for the measurement */
    base(&f), r_copy(&f), moetier_plan_make(&f, &p);
    CHECK(p.per_token == 1 && p.per_layer == 0 && p.per_layer_trial == 1);
    CHECK(has_line(&p, "migration: per layer if acting at every MoE layer's router costs a decode step at most 2.0%", 0));
    /* measured: at most 2% per layer, more per token only; the figure in the sentence */
    base(&f), r_copy(&f), f.split_measured = 1, f.split_cost = 20, moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 1 && p.per_layer_trial == 0);
    CHECK(has_line(&p, "acting at every router measured +2.0% a decode step", 0));
    CHECK(strstr(p.per_layer_why, "migration: per layer (each MoE layer's experts go through the policy") != NULL);
    base(&f), r_copy(&f), f.split_measured = 1, f.split_cost = -3, moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 1 && has_line(&p, "measured -0.3% a decode step", 0));
    base(&f), r_copy(&f), f.split_measured = 1, f.split_cost = 21, moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 0 && p.per_layer_trial == 0);
    CHECK(has_line(&p, "migration: per token, not per layer: acting at every MoE layer's router measured +2.1% a "
                       "decode step (more than 2.0%; MOETIER_PER_LAYER=on forces it)", 0));
    /* on forces it whatever was measured; off by name */
    base(&f), r_copy(&f), f.cfg.per_layer = MOETIER_ON, f.split_measured = 1, f.split_cost = 490, moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 1 && has_line(&p, "; MOETIER_PER_LAYER=on)", 0));
    base(&f), r_copy(&f), f.cfg.per_layer = MOETIER_OFF, moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 0 && p.per_layer_trial == 0 &&
          has_line(&p, "MOETIER_PER_LAYER=off: each token's moves start when the token ends", 0));
    /* llama.cpp on every CPU: per token without measuring (its threads would lose a CPU at every layer);
     * a CPU to spare: measured; on forces it */
    base(&f), r_copy(&f), f.cpus = 2, f.compute_threads = 2, moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 0 && p.per_layer_trial == 0 &&
          has_line(&p, "migration: per token, not per layer: llama.cpp decodes on 2 threads and this process may use 2 "
                       "CPUs", 0));
    base(&f), r_copy(&f), f.cpus = 2, f.compute_threads = 2, f.routing_keep = 0, f.cfg.sample_budget = 100,
        moetier_plan_make(&f, &p);
    CHECK(p.per_token == 1 && p.per_layer == 0 && has_line(&p, "llama.cpp decodes on 2 threads", 0));
    base(&f), r_copy(&f), f.cpus = 16, f.compute_threads = 8, moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 0 && p.per_layer_trial == 1);
    base(&f), r_copy(&f), f.cpus = 2, f.compute_threads = 2, f.cfg.per_layer = MOETIER_ON, moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 1);
    /* the graph splits anyway (no keep mode, every step paid for): per layer costs nothing more */
    base(&f), r_copy(&f), f.routing_keep = 0, f.cfg.sample_budget = 100, moetier_plan_make(&f, &p);
    CHECK(p.per_token == 1 && p.per_layer == 1 && has_line(&p, "; the graph splits anyway)", 0));
    /* not per token: nothing per layer; asked for by name, a warning */
    base(&f), r_no_routing(&f), moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 0 && p.per_layer_trial == 0 && !has_line(&p, "per layer", 0));
    base(&f), r_no_routing(&f), f.cfg.per_layer = MOETIER_ON, moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 0 && has_line(&p, "MOETIER_PER_LAYER=on ignored: migration is not per token here", 1));
    /* not known yet (doctor): no decision, no warning */
    base(&f), r_routing_unknown(&f), f.routing_keep = -1, f.cfg.per_layer = MOETIER_ON, moetier_plan_make(&f, &p);
    CHECK(p.per_layer == 0 && !has_line(&p, "MOETIER_PER_LAYER", 1));
    /* the file tier's locking acts per layer through its exact reads already */
    base(&f), f.cfg.per_token = MOETIER_ON, f.cfg.per_layer = MOETIER_ON, f.cfg.sampler = MOETIER_SAMPLER_ROUTING,
        moetier_plan_make(&f, &p);
    CHECK(p.lock == 1 && p.per_token == 1 && p.per_layer == 0 &&
          has_line(&p, "MOETIER_PER_LAYER=on ignored: the file tier locks, and its exact reads already act", 1));
    /* the numa tier: per layer like copy */
    base(&f), r_numa(&f), f.split_measured = 1, f.split_cost = 5, moetier_plan_make(&f, &p);
    CHECK(p.numa == 1 && p.per_token == 1 && p.per_layer == 1);
}

/* The branches no row shows by its outcome alone. */
static void check_details(void)
{
    struct moetier_plan_facts f;
    struct moetier_plan p;

    /* fits: the sampling budget halves unless named */
    base(&f), r_fits(&f), moetier_plan_make(&f, &p);
    CHECK(p.sample_budget == 0.5);
    CHECK(has_line(&p, "sampling budget 0.5% while nothing migrates", 0));
    base(&f), r_fits_sample_env(&f), moetier_plan_make(&f, &p);
    CHECK(p.sample_budget == 1);
    CHECK(!has_line(&p, "sampling budget", 0));

    /* numa: the fast node is the DRAM node nearest this CPU */
    base(&f), r_numa(&f), moetier_plan_make(&f, &p);
    CHECK(p.fast_node == 0 && p.slow_node == 1 && p.slow == MOETIER_SLOW_NUMA);

    /* the budget: bytes, or a percentage of the base (0 when it cannot be read) */
    base(&f);
    CHECK(moetier_plan_budget(&f.cfg, 1, 64 * G) == 32 * G);
    CHECK(moetier_plan_budget(&f.cfg, 0, 64 * G) == 0);
    f.cfg.dram.percent = 0, f.cfg.dram.bytes = 5 * G;
    CHECK(moetier_plan_budget(&f.cfg, 0, 0) == 5 * G);

    /* the huge-page map hint is decided at open, before lock or copy */
    base(&f), f.huge_free = 64 * G, f.expert_bytes_min = 24 * M, moetier_plan_make(&f, &p);
    CHECK(p.map_hint == 1 && p.lock == 1 && p.huge == 0);
    base(&f), r_numa(&f), f.cfg.hugepages = MOETIER_ON, moetier_plan_make(&f, &p);
    CHECK(p.map_hint == 0 && p.huge == 0);

    /* the file tier's locking reads each used expert in whole: routing's exact
     * reads where routing works, else (or with MOETIER_SAMPLER=fault) the fetch sampler */
    base(&f), moetier_plan_make(&f, &p);
    CHECK(p.try_routing == 1 && p.fetch == 1 && p.sampler == S(ROUTING) && p.routing_reads == 1);
    CHECK(has_line(&p, "sampler: routing with exact reads", 0));
    /* the read room takes the hot set's memory, unless MOETIER_DRAM asks for one */
    CHECK(p.room_all == 1 && p.read_room == 1 && has_line(&p, "read room: the page cache these reads fill", 0));
    base(&f), f.cfg.source[MOETIER_CFG_DRAM] = MOETIER_SRC_ENV, moetier_plan_make(&f, &p);
    CHECK(p.routing_reads == 1 && p.room_all == 0 && !has_line(&p, "read room:", 0));
    CHECK(p.read_room == 1);
    /* MOETIER_READ_ROOM=off: exact reads alone, beside the locked hot set */
    base(&f), f.cfg.read_room = MOETIER_OFF, moetier_plan_make(&f, &p);
    CHECK(p.routing_reads == 1 && p.read_room == 0 && p.room_all == 0 && p.lock == 1);
    CHECK(has_line(&p, "MOETIER_READ_ROOM=off: no read room", 0) && !has_line(&p, "read room: the page cache", 0));
    base(&f), f.cfg.read_room = MOETIER_OFF, f.routing = 0, moetier_plan_make(&f, &p);
    CHECK(p.sampler == S(FETCH) && p.read_room == 0 && !has_line(&p, "MOETIER_READ_ROOM", 0));
    /* the prefetch gate is the room's: named with it, a warning without it */
    base(&f), f.cfg.prefetch_gate = 0.5, moetier_plan_make(&f, &p);
    CHECK(p.read_room == 1 && has_line(&p, "read room: prefetch gate 0.5 (MOETIER_PREFETCH_GATE)", 0));
    base(&f), f.cfg.prefetch_gate = 0.5, f.cfg.read_room = MOETIER_OFF, moetier_plan_make(&f, &p);
    CHECK(p.read_room == 0 && has_line(&p, "MOETIER_PREFETCH_GATE ignored", 1) && !has_line(&p, "prefetch gate 0.5", 0));
    base(&f), moetier_plan_make(&f, &p);
    CHECK(!has_line(&p, "PREFETCH_GATE", 0) && !has_line(&p, "PREFETCH_GATE", 1));
    base(&f), f.cfg.sampler = MOETIER_SAMPLER_ROUTING, moetier_plan_make(&f, &p);
    CHECK(p.fetch == 1 && p.sampler == S(ROUTING) && p.routing_reads == 1);
    base(&f), f.routing = 0, strcpy(f.routing_why, "no ggml scheduler"), moetier_plan_make(&f, &p);
    CHECK(p.fetch == 1 && p.sampler == S(FETCH) && p.routing_reads == 0 && p.room_all == 0);
    base(&f), f.routing_failed = 1, moetier_plan_make(&f, &p);
    CHECK(p.fetch == 1 && p.sampler == S(FETCH) && p.routing_reads == 0);
    base(&f), r_fault_lock(&f), moetier_plan_make(&f, &p);
    CHECK(p.try_routing == 0 && p.fetch == 1 && p.sampler == S(FETCH) && p.routing_reads == 0);
    base(&f), r_fits_dram_env_lock(&f), moetier_plan_make(&f, &p);
    CHECK(p.fetch == 0 && p.sampler == S(ROUTING) && p.routing_reads == 0);
    base(&f), r_lock_cuda(&f), moetier_plan_make(&f, &p);
    CHECK(p.fetch == 0 && p.routing_reads == 0);
    /* routing is tried only where it could be chosen */
    base(&f), r_copy(&f), moetier_plan_make(&f, &p);
    CHECK(p.try_routing == 1);
    base(&f), r_pagemap(&f), moetier_plan_make(&f, &p);
    CHECK(p.try_routing == 0);

    /* lines: each stage's in order, rendered the same for the shim and doctor */
    base(&f), r_auto_numa(&f), moetier_plan_make(&f, &p);
    for (int i = 1; i < p.n_lines; i++)
        CHECK(p.line[i].stage >= p.line[i - 1].stage);
    char buf[512];
    CHECK_STR(moetier_plan_summary(&f, &p, buf, sizeof buf),
              "numa:1 tier (DRAM node 0), DRAM budget 32.00 GiB, promotion by page migration, policy adapt");
    base(&f), r_huge_on(&f), moetier_plan_make(&f, &p);
    CHECK_STR(moetier_plan_summary(&f, &p, buf, sizeof buf),
              "file tier, DRAM budget 32.00 GiB (huge pages), promotion by copy, policy adapt");
    base(&f), moetier_plan_make(&f, &p);
    CHECK_STR(moetier_plan_summary(&f, &p, buf, sizeof buf),
              "file tier, DRAM budget 16.00 GiB, promotion by locking the page cache, policy hot");
    base(&f), r_pmem_fits(&f), moetier_plan_make(&f, &p);
    CHECK_STR(moetier_plan_summary(&f, &p, buf, sizeof buf),
              "pmem:/mnt/pmem tier, DRAM budget 32.00 GiB, promotion by copy, policy adapt");

    /* pure: the same facts, the same plan */
    struct moetier_plan q;
    base(&f), r_cgroup(&f);
    moetier_plan_make(&f, &p);
    moetier_plan_make(&f, &q);
    CHECK(memcmp(&p, &q, sizeof p) == 0);
}

int main(void)
{
    topo_init();
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        check_row(&rows[i]);
    check_details();
    check_per_token();
    check_per_layer();
    return check_exit("test_plan");
}
