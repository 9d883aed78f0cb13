/*
 * config: moetier's configuration, from MOETIER_* environment variables.
 *
 * One table (config.c) names every variable, its kind, default and meaning;
 * `moetier doctor --config` prints it, `moetier run` maps its flags onto it,
 * and the shim reads it at start. A bad value is named in a one-line warning
 * and the default kept; with MOETIER_STRICT=1 the caller turns the first bad
 * value into a clean exit. Parsing allocates nothing and calls no stdio, so
 * the shim may run it from its constructor.
 */
#ifndef MOETIER_COMMON_CONFIG_H
#define MOETIER_COMMON_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "common/size.h"

enum moetier_tristate { MOETIER_AUTO = -1, MOETIER_OFF = 0, MOETIER_ON = 1 };

enum moetier_sampler_choice {
    MOETIER_SAMPLER_AUTO,
    MOETIER_SAMPLER_PAGEMAP,
    MOETIER_SAMPLER_FAULT,
    MOETIER_SAMPLER_ROUTING,
    MOETIER_SAMPLER_OFF,
};

enum moetier_slow_kind {
    MOETIER_SLOW_AUTO,
    MOETIER_SLOW_FILE,
    MOETIER_SLOW_NUMA,
    MOETIER_SLOW_PMEM,
    MOETIER_SLOW_DEVDAX,
};

enum moetier_config_source {
    MOETIER_SRC_DEFAULT = 0, /* not set */
    MOETIER_SRC_ENV = 1,     /* set and valid */
    MOETIER_SRC_INVALID = 2, /* set but rejected: the default is in force */
};

/* How the file tier promotes a hot expert (MOETIER_PROMOTE). */
enum moetier_promote_choice {
    MOETIER_PROMOTE_AUTO = 0, /* lock where the memlock limit allows the budget, else copy */
    MOETIER_PROMOTE_LOCK = 1, /* mlock the expert's page-cache pages in place */
    MOETIER_PROMOTE_COPY = 2, /* copy into a memfd and remap over the expert */
};

#define MOETIER_PATH_MAX 1024

/* Index of each variable in the table (and in moetier_config.source[]). */
enum moetier_config_var {
    MOETIER_CFG_DISABLE,
    MOETIER_CFG_MATCH,
    MOETIER_CFG_ONLY_COMM,
    MOETIER_CFG_MODEL,
    MOETIER_CFG_DRAM,
    MOETIER_CFG_SLOW,
    MOETIER_CFG_POLICY,
    MOETIER_CFG_PROFILE,
    MOETIER_CFG_SAMPLER,
    MOETIER_CFG_SAMPLE_MS,
    MOETIER_CFG_SAMPLE_BUDGET,
    MOETIER_CFG_MIGRATE_MBPS,
    MOETIER_CFG_ALLOC_MIN,
    MOETIER_CFG_HUGEPAGES,
    MOETIER_CFG_CUDA_PIN,
    MOETIER_CFG_PROMOTE,
    MOETIER_CFG_PER_TOKEN,
    MOETIER_CFG_PER_LAYER,
    MOETIER_CFG_READ_ROOM,
    MOETIER_CFG_PREFETCH_GATE,
    MOETIER_CFG_STATS_DIR,
    MOETIER_CFG_LOG,
    MOETIER_CFG_LOG_FILE,
    MOETIER_CFG_STRICT,
    MOETIER_CFG_COUNT,
};

struct moetier_config {
    int disable;
    char match[256];                 /* glob on a weight file's base name */
    char only_comm[256];             /* glob on the command name; "" = every process */
    char model[MOETIER_PATH_MAX];    /* a model the process is sent, not opens (rpc-server); "" = none */
    struct moetier_size dram;        /* DRAM cache budget (bytes or percent) */
    enum moetier_slow_kind slow;
    int slow_node;                   /* numa:N */
    char slow_path[MOETIER_PATH_MAX];/* pmem:DIR, devdax:/dev/daxX.Y */
    char policy[32];
    char profile[MOETIER_PATH_MAX];  /* "" = default location, "off" = disabled */
    enum moetier_sampler_choice sampler;
    uint32_t sample_ms;
    double sample_budget;            /* percent of decode time the sampler may use */
    uint32_t migrate_mbps;           /* 0 = unlimited */
    uint64_t alloc_min;
    enum moetier_tristate hugepages;
    enum moetier_tristate cuda_pin;
    enum moetier_promote_choice promote;
    enum moetier_tristate per_token; /* migration decided per token (docs/tiering.md) */
    enum moetier_tristate per_layer; /* per token, each MoE layer to the policy at its router (docs/tiering.md) */
    enum moetier_tristate read_room; /* the read room beside the exact reads (off: the kernel's reclaim) */
    double prefetch_gate;            /* the read room reads layer l+1's experts this likely ahead (0 = off) */
    char stats_dir[MOETIER_PATH_MAX];/* "" = $XDG_RUNTIME_DIR/moetier or /dev/shm */
    int log_level;                   /* enum moetier_log_level */
    char log_file[MOETIER_PATH_MAX];
    int strict;
    enum moetier_config_source source[MOETIER_CFG_COUNT];
};

struct moetier_config_desc {
    const char *name;    /* "MOETIER_DRAM" */
    const char *flag;    /* `moetier run` flag ("--dram"), or NULL */
    const char *deflt;   /* default, as text */
    const char *help;
};

extern const struct moetier_config_desc moetier_config_table[MOETIER_CFG_COUNT];

/* The defaults, nothing read. */
void moetier_config_defaults(struct moetier_config *c);

/*
 * Reads every MOETIER_* variable through get (getenv when NULL). Each bad value
 * is logged (log_warn) once and leaves the default; the first bad value's
 * message is copied into err. Returns the number of bad values.
 */
int moetier_config_load(struct moetier_config *c, const char *(*get)(const char *name), char *err,
                        size_t errlen);

/* Validates one value for variable var; 0 or -EINVAL with a message in err. */
int moetier_config_check(int var, const char *value, char *err, size_t errlen);

/* The effective value of var as text (into buf). */
const char *moetier_config_value(const struct moetier_config *c, int var, char *buf, size_t cap);

/* "default", "env", "env (invalid, default used)". */
const char *moetier_config_source_name(enum moetier_config_source s);

#endif
