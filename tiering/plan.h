/*
 * plan: every run-time decision of the runtime, made once by one pure
 * function from what was discovered.
 *
 * The shim (shim/plan.c) and `moetier doctor` gather the facts (the
 * configuration, memory and limits, the model's files, the NUMA topology, the
 * hugetlb pool, CUDA, and, once the binary has placed its weights, what the
 * engine found tierable); moetier_plan_make turns them into the plan: the
 * slow tier, tiering on or off and why, the DRAM budget (and its cgroup
 * clamp), promotion by locking or copy, huge pages, CUDA pinning, the sampler
 * and its time budget, and the policy. It makes no system call, logs nothing
 * and reads no global: the same facts give the same plan, which
 * tests/unit/test_plan.c checks decision by decision. Each decision carries
 * the sentence that says why; moetier_plan_render hands them out as lines, in
 * the order and wording the shim logs them and doctor prints them.
 *
 * The shim decides in stages, each with the facts it has then (docs/tiering.md,
 * "The plan"): the slow tier and the budget when the model file is opened;
 * the rest at the first decode, when the weights are in place; whether any
 * expert is tierable and the policy once the engine has counted them; the
 * sampler at the first sample, when llama.cpp's routing callback has been
 * tried. A decision whose facts are not known yet is made on the stated
 * assumption (doctor: no placements), and its line says so.
 */
#ifndef MOETIER_TIERING_PLAN_H
#define MOETIER_TIERING_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "common/config.h"

struct moetier_numa_topo;

/* When the shim makes a decision (and logs its line). */
enum moetier_plan_stage {
    MOETIER_PLAN_AT_OPEN,    /* the model file is opened: the slow tier, the budget */
    MOETIER_PLAN_AT_START,   /* the first decode: on or off, clamp, lock or copy, huge pages, CUDA */
    MOETIER_PLAN_AT_COUNTED, /* the engine counted the tierable experts: on or off, the policy */
    MOETIER_PLAN_AT_SAMPLER, /* the first sample: the sampler */
    MOETIER_PLAN_STAGES,
};

struct moetier_plan_facts {
    struct moetier_config cfg; /* as loaded (MOETIER_SLOW may still be auto) */

    /* memory (common/meminfo.h, common/memlock.h) */
    int mem_known;             /* /proc/meminfo could be read */
    uint64_t mem_base;         /* the cgroup limit when set, else MemAvailable */
    uint64_t cgroup_limit;     /* 0: none */
    int budget_set;            /* `moetier set` named a budget before tiering started */
    uint64_t budget_asked;     /* that budget, in bytes */
    int memlock_known;
    uint64_t memlock_room;     /* bytes that may still be locked, UINT64_MAX: no limit */
    uint64_t huge_free;        /* free 2 MiB hugetlb pages, in bytes */

    /* the model */
    uint32_t n_files;
    uint64_t model_bytes;      /* its files' sizes, summed */
    uint64_t expert_bytes_min; /* the smallest tensor's bytes per expert */

    /* the machine */
    const struct moetier_numa_topo *numa; /* NULL: no NUMA sysfs */
    int cuda_runtime;          /* the process has a CUDA runtime (cudaHostRegister) */

    /* once the binary decoded (the weights are in place) */
    int started;               /* 0: the facts below are not known yet */
    int locked_all;            /* the binary locked all its memory (mlockall) */
    int stopped;               /* tiering went off after it started (the fetch sampler goes with it) */
    int counted;               /* the engine counted what it can tier: */
    uint32_t tierable_slots;   /*   experts it can move */
    size_t n_copied;           /*   expert tensors llama.cpp repacked into anonymous memory */
    uint64_t small_stride;     /*   placed where a tier could move them but smaller than a page: the smallest, else 0 */
    uint64_t page_unit;        /*   the cache's page */
    int profile_ranked;        /* a profile from an earlier run ranks the experts (policy static) */

    /* at the first sample */
    int routing;               /* 1: llama.cpp's routing callback is usable, 0: not (routing_why), -1 not tried */
    int routing_failed;        /* it was used and failed a check once */
    char routing_why[200];
    int routing_keep;          /* 1: it reads the ids after the step (keep mode): every step costs microseconds;
                                  0: its callback splits the graph; -1: not known */
    int cpus;                  /* CPUs this process may run on (0: not known) */
    int compute_threads;       /* the threads llama.cpp decodes with (llama_n_threads; 0: not known) */
    int split_measured;        /* split_cost holds a measurement (the runtime's, MOETIER_PER_LAYER=auto) */
    int split_cost;            /* a decode step observed at every MoE layer's router (the callback splits the
                                  graph) over one read after the step, less 1, in thousandths */
};

enum moetier_plan_sampler {
    MOETIER_PLAN_SAMPLER_OFF,
    MOETIER_PLAN_SAMPLER_ROUTING,
    MOETIER_PLAN_SAMPLER_FETCH,
    MOETIER_PLAN_SAMPLER_PAGEMAP,
    MOETIER_PLAN_SAMPLER_FAULT,
    MOETIER_PLAN_SAMPLER_CHOOSE, /* pagemap where its probes see every expert, else fault (profiler/sampler.h) */
};

#define MOETIER_PLAN_LINES 24
#define MOETIER_PLAN_LINE 480
#define MOETIER_PLAN_SPLIT_MAX 20 /* per layer (auto): a split decode step's cost at most 2.0% (thousandths) */

struct moetier_plan_line {
    int stage;                 /* enum moetier_plan_stage */
    int warn;                  /* a setting or a limit is in the way: logged as a warning */
    char text[MOETIER_PLAN_LINE];
};

struct moetier_plan {
    /* the slow tier, MOETIER_SLOW=auto resolved */
    enum moetier_slow_kind slow;
    int slow_node;             /* numa:N */
    int fast_node;             /* numa:N: the DRAM node promotions go to, else -1 */
    int numa;                  /* the numa tier: page migration */

    int on;                    /* tiering runs (known facts so far) */
    int off_stage;             /* when it went off, -1 while on */
    char off_why[MOETIER_PLAN_LINE];

    uint64_t budget_asked;     /* MOETIER_DRAM resolved (or `moetier set`) */
    uint64_t budget;           /* what the cache gets: clamped, and the lock cut applied */
    int clamped;               /* the cgroup limit cut it */
    int fits;                  /* the model's files fit in the memory available, with a quarter to spare */
    int lock;                  /* the file tier promotes by locking the page cache, else copy */
    int huge;                  /* the cache uses 2 MiB huge pages */
    int map_hint;              /* place the model's mapping for huge pages (before the lock decision) */
    int cuda_pin;              /* pin promoted ranges with cudaHostRegister */
    int fetch;                 /* the file tier reads each used expert in whole, every step: the fetch
                                  sampler, or the routing sampler's exact reads (routing_reads) */
    int routing_reads;         /* the routing sampler on every step, each MoE layer's chosen experts read
                                  in as soon as the router has chosen them (MADV_WILLNEED) */
    int read_room;             /* with routing_reads: the read room decides what stays in the page cache
                                  (MOETIER_READ_ROOM), else the kernel's reclaim */
    int room_all;              /* with routing_reads and the default budget: the read room takes the
                                  memory, the engine locks no hot set (budget 0) */
    double sample_budget;      /* percent of decode time */
    int try_routing;           /* the routing sampler is the one to try (f->routing says whether it works) */
    enum moetier_plan_sampler sampler;
    char policy[32];
    int policy_ranked;         /* static: ranked by the profile */
    int policy_warn;           /* policy_why is a warning (static without a profile) */
    char policy_why[MOETIER_PLAN_LINE]; /* "" when the policy is the one named */
    int per_token;             /* every decode step sampled exactly, each token through the policy, its moves
                                  carried out before the next; else migration in rounds */
    int per_token_decided;     /* per_token is decided (not waiting for the routing sampler's facts) */
    char per_token_why[MOETIER_PLAN_LINE]; /* the sentence of that decision */
    int per_layer;             /* per token, and each MoE layer's experts go through the policy as its router
                                  chooses them: its moves start while the later layers compute */
    int per_layer_trial;       /* per layer if the measured split_cost allows: the runtime measures it */
    char per_layer_why[MOETIER_PLAN_LINE]; /* the sentence of that decision ("" when none was said) */

    struct moetier_plan_line line[MOETIER_PLAN_LINES];
    int n_lines;
};

/* The plan for these facts. Pure: no system call, no log, no global. */
void moetier_plan_make(const struct moetier_plan_facts *f, struct moetier_plan *p);

/* The budget MOETIER_DRAM asks for: bytes, or a percentage of mem_base (0 when unknown). */
uint64_t moetier_plan_budget(const struct moetier_config *cfg, int mem_known, uint64_t mem_base);

/* Calls line() for each line of a stage (stage < 0: every stage), in order. */
void moetier_plan_render(const struct moetier_plan *p, int stage,
                         void (*line)(const struct moetier_plan_line *l, void *arg), void *arg);

/* Tiering as it runs: "file tier, DRAM budget 4.00 MiB, promotion by copy,
 * policy adapt" (the shim's "tiering: ..." line goes on with the engine's counts). */
const char *moetier_plan_summary(const struct moetier_plan_facts *f, const struct moetier_plan *p, char *buf,
                                 size_t cap);

/* The facts this machine gives (the shim's and doctor's gathering; system
 * calls): memory, the cgroup limit, the hugetlb pool, the NUMA topology (into
 * *topo, kept by the caller: f->numa points at it) and, with memlock, the
 * memlock room (reading it raises the soft limit to the hard one: the shim
 * does that only once the model is loaded). cfg is left as it is. */
void moetier_plan_gather_machine(struct moetier_plan_facts *f, struct moetier_numa_topo *topo, int memlock);
/* One model file: its size counts towards the model's (a file that cannot be
 * stat-ed counts as a file of 0 bytes). */
void moetier_plan_add_file(struct moetier_plan_facts *f, const char *path);

/* "at model open", "at the first decode", ... */
const char *moetier_plan_stage_name(int stage);
/* "routing", "fetch", "pagemap", "fault", "pagemap or fault", "off". */
const char *moetier_plan_sampler_name(enum moetier_plan_sampler s);

#endif
