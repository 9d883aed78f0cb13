/*
 * config: MOETIER_* variables, their defaults and validation (see config.h).
 * Allocation-free and stdio-free: safe in the shim's constructor.
 */
#include "common/config.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/number.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct moetier_config_desc moetier_config_table[MOETIER_CFG_COUNT] = {
    [MOETIER_CFG_DISABLE] = { "MOETIER_DISABLE", NULL, "off", "pure pass-through: the preload does nothing" },
    [MOETIER_CFG_MATCH] = { "MOETIER_MATCH", "--match", "*.gguf", "glob on a model file's base name that marks weight files" },
    [MOETIER_CFG_ONLY_COMM] = { "MOETIER_ONLY_COMM", "--only-comm", "", "activate only in processes whose command name matches this glob (empty: all)" },
    [MOETIER_CFG_MODEL] = { "MOETIER_MODEL", "--model", "", "the GGUF whose tensors this process is sent instead of opening it (llama.cpp's rpc-server): they are placed by name" },
    [MOETIER_CFG_DRAM] = { "MOETIER_DRAM", "--dram", "50%", "DRAM cache budget: a size (64G) or a share of available memory (25%)" },
    [MOETIER_CFG_SLOW] = { "MOETIER_SLOW", "--slow", "auto", "slow tier: file, numa:N, pmem:DIR, devdax:/dev/daxX.Y or auto" },
    [MOETIER_CFG_POLICY] = { "MOETIER_POLICY", "--policy", "auto", "placement policy: auto (hot when the file tier locks, else adapt: measured in docs/bench-capped.md and docs/policies.md), adapt, reuse, lru, lfu, static, predict, hot" },
    [MOETIER_CFG_PROFILE] = { "MOETIER_PROFILE", "--profile", "", "profile file (empty: $XDG_CACHE_HOME/moetier/<model-id>.prof); off disables" },
    [MOETIER_CFG_SAMPLER] = { "MOETIER_SAMPLER", "--sampler", "auto", "expert-use sampler: auto (routing under llama.cpp, else pagemap or fault), routing (llama.cpp's eval callback: exact top-k ids on sampled steps; on the file tier when locking and the model does not fit, every step, each layer's chosen experts read in as soon as they are chosen), pagemap, fault (when locking and the model does not fit: the fetch sampler, each expert read at its first fault), off" },
    [MOETIER_CFG_SAMPLE_MS] = { "MOETIER_SAMPLE_MS", "--sample-ms", "20", "sampling period in milliseconds (1-60000)" },
    [MOETIER_CFG_SAMPLE_BUDGET] = { "MOETIER_SAMPLE_BUDGET", "--sample-budget", "1%", "share of decode time the sampler may take (0.1%-100%; by default half of 1% when the model fits and nothing migrates); sampling thins out to stay within it" },
    [MOETIER_CFG_MIGRATE_MBPS] = { "MOETIER_MIGRATE_MBPS", "--migrate-mbps", "0", "migration rate limit in MiB/s (0: unlimited)" },
    [MOETIER_CFG_ALLOC_MIN] = { "MOETIER_ALLOC_MIN", "--alloc-min", "4M", "smallest allocation treated as a weight buffer" },
    [MOETIER_CFG_HUGEPAGES] = { "MOETIER_HUGEPAGES", "--hugepages", "auto", "huge pages for the DRAM cache: auto, on, off" },
    [MOETIER_CFG_CUDA_PIN] = { "MOETIER_CUDA_PIN", "--cuda-pin", "auto", "pin the DRAM cache for CUDA when the process uses CUDA: auto, on, off" },
    [MOETIER_CFG_PROMOTE] = { "MOETIER_PROMOTE", "--promote", "auto", "how the file tier promotes: lock (mlock the page cache in place), copy (memfd + remap), auto (lock when the memlock limit allows)" },
    [MOETIER_CFG_PER_TOKEN] = { "MOETIER_PER_TOKEN", "--per-token", "auto", "migration decided per token: auto (where the routing sampler reads every decode step exactly and the cache copies), on (wherever it reads every step exactly), off (rounds)" },
    [MOETIER_CFG_PER_LAYER] = { "MOETIER_PER_LAYER", "--per-layer", "auto", "per token, the moves also start at each MoE layer's router, while the later layers compute (the copy and numa tiers; observing every layer splits llama.cpp's graph): auto (where llama.cpp leaves a CPU free and a decode step acting at every router measured at most 2% slower than one read after the step, or the graph splits anyway), on, off" },
    [MOETIER_CFG_READ_ROOM] = { "MOETIER_READ_ROOM", "--read-room", "auto", "the read room: where the file tier reads each layer's chosen experts exactly, moetier decides which of them stay in the page cache and drops its policy's victims (auto or on); off leaves that to the kernel's reclaim: exact reads alone, as ik_llama.cpp's expert prefetch does" },
    [MOETIER_CFG_PREFETCH_GATE] = { "MOETIER_PREFETCH_GATE", "--prefetch-gate", "off", "the read room also reads in, while a layer runs, the next layer's experts whose chance of use (estimated from past co-occurrence and repeats) is at least this: a chance in (0, 1], as 0.5, or off; moves reads off the critical path for some more bytes (docs/policies.md)" },
    [MOETIER_CFG_STATS_DIR] = { "MOETIER_STATS_DIR", "--stats-dir", "", "where live stats segments go (empty: $XDG_RUNTIME_DIR/moetier or /dev/shm)" },
    [MOETIER_CFG_LOG] = { "MOETIER_LOG", "--log", "warn", "log level: error, warn, info, debug" },
    [MOETIER_CFG_LOG_FILE] = { "MOETIER_LOG_FILE", "--log-file", "", "log destination (empty: stderr)" },
    [MOETIER_CFG_STRICT] = { "MOETIER_STRICT", "--strict", "off", "configuration errors end the process with a message" },
};

static int fail(char *err, size_t n, const char *name, const char *value, const char *why)
{
    moetier_fmt(err, n, "%s=\"%.*s\": %s", name, 200, value, why);
    return -EINVAL;
}

/* A chance in [0, 1] written D[.DDD...], read without the locale (the host
 * may have set one whose decimal point is a comma). */
static int parse_chance(const char *v, double *out)
{
    uint64_t whole;
    double frac;
    const char *end;
    if (moetier_parse_decimal(v, &whole, &frac, &end) < 0 || *end || whole > 1 || whole + frac > 1)
        return -EINVAL;
    *out = (double)whole + frac;
    return 0;
}

static int parse_bool(const char *v, int *out)
{
    static const char *const on[] = { "1", "true", "on", "yes" }, *const off[] = { "0", "false", "off", "no" };
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, on[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, off[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_tristate(const char *v, enum moetier_tristate *out)
{
    int b;
    if (strcasecmp(v, "auto") == 0) {
        *out = MOETIER_AUTO;
        return 0;
    }
    if (parse_bool(v, &b))
        return -EINVAL;
    *out = b ? MOETIER_ON : MOETIER_OFF;
    return 0;
}

static int parse_u32(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
    uint64_t x;
    int rc = moetier_parse_u64(v, 10, &x, NULL);
    if (rc)
        return rc;
    if (x < lo || x > hi)
        return -ERANGE;
    *out = (uint32_t)x;
    return 0;
}

/* Why glob v is malformed, or NULL: an unclosed '[' or a trailing '\\',
 * which fnmatch(3) would silently compare as plain characters. */
static const char *glob_flaw(const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\') {
            if (!*++p)
                return "ends in a lone '\\'";
            continue; /* an escaped character is itself */
        }
        if (*p != '[')
            continue;
        const char *q = p + 1;
        if (*q == '!' || *q == '^')
            q++;
        if (*q == ']') /* a leading ']' is a member */
            q++;
        while (*q && *q != ']')
            q++;
        if (!*q)
            return "an unclosed '[' (write \\[ for a literal one)";
        p = q;
    }
    return NULL;
}

static int copy(char *dst, size_t cap, const char *v)
{
    size_t n = strlen(v);
    if (n >= cap)
        return -ENAMETOOLONG;
    memcpy(dst, v, n + 1);
    return 0;
}

/* Parses value into c (when c is non-NULL) for variable var. */
static int parse(struct moetier_config *c, int var, const char *v, char *err, size_t n)
{
    struct moetier_config tmp;
    if (!c) {
        moetier_config_defaults(&tmp);
        c = &tmp;
    }
    const char *name = moetier_config_table[var].name;
    int b;
    uint32_t u;
    struct moetier_size sz;
    switch (var) {
    case MOETIER_CFG_DISABLE:
    case MOETIER_CFG_STRICT:
        if (parse_bool(v, &b))
            return fail(err, n, name, v, "not a boolean (1/0, true/false, on/off)");
        if (var == MOETIER_CFG_DISABLE)
            c->disable = b;
        else
            c->strict = b;
        return 0;
    case MOETIER_CFG_MATCH:
        if (!*v)
            return fail(err, n, name, v, "an empty glob matches no file");
        if (strchr(v, '/'))
            return fail(err, n, name, v, "matched against a file's base name, so a '/' matches no file");
        /* fallthrough */
    case MOETIER_CFG_ONLY_COMM: {
        const char *flaw = glob_flaw(v);
        if (flaw)
            return fail(err, n, name, v, flaw);
        if (copy(var == MOETIER_CFG_MATCH ? c->match : c->only_comm, sizeof c->match, v))
            return fail(err, n, name, v, "longer than 255 bytes");
        return 0;
    }
    case MOETIER_CFG_MODEL:
        if (*v && v[0] != '/')
            return fail(err, n, name, v, "needs an absolute path");
        if (copy(c->model, sizeof c->model, v))
            return fail(err, n, name, v, "path too long");
        return 0;
    case MOETIER_CFG_DRAM:
        if (moetier_size_parse(v, 1, &sz))
            return fail(err, n, name, v, "not a size (64G, 512M) or a percentage in (0, 100]");
        c->dram = sz;
        return 0;
    case MOETIER_CFG_SLOW:
        if (strcmp(v, "auto") == 0) {
            c->slow = MOETIER_SLOW_AUTO;
        } else if (strcmp(v, "file") == 0) {
            c->slow = MOETIER_SLOW_FILE;
        } else if (strncmp(v, "numa:", 5) == 0) {
            if (parse_u32(v + 5, 0, 1023, &u))
                return fail(err, n, name, v, "numa:N needs a node number 0-1023");
            c->slow = MOETIER_SLOW_NUMA;
            c->slow_node = (int)u;
        } else if (strncmp(v, "pmem:", 5) == 0 || strncmp(v, "devdax:", 7) == 0) {
            int dax = v[0] == 'd';
            const char *path = v + (dax ? 7 : 5);
            if (path[0] != '/')
                return fail(err, n, name, v, dax ? "devdax: needs an absolute device path (/dev/dax0.0)"
                                                 : "pmem: needs an absolute directory (pmem:/mnt/pmem)");
            if (dax && strncmp(path, "/dev/dax", 8) != 0)
                return fail(err, n, name, v, "devdax: expects a /dev/daxX.Y device");
            if (copy(c->slow_path, sizeof c->slow_path, path))
                return fail(err, n, name, v, "path too long");
            c->slow = dax ? MOETIER_SLOW_DEVDAX : MOETIER_SLOW_PMEM;
        } else {
            return fail(err, n, name, v, "not one of file, numa:N, pmem:DIR, devdax:/dev/daxX.Y, auto");
        }
        return 0;
    case MOETIER_CFG_POLICY: {
        static const char *const policies[] = { "auto", "adapt", "reuse", "lru", "lfu", "static", "predict", "hot" };
        for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++)
            if (strcmp(v, policies[i]) == 0)
                return copy(c->policy, sizeof c->policy, v);
        return fail(err, n, name, v, "not one of auto, adapt, reuse, lru, lfu, static, predict, hot");
    }
    case MOETIER_CFG_PROFILE:
        if (copy(c->profile, sizeof c->profile, v))
            return fail(err, n, name, v, "path too long");
        return 0;
    case MOETIER_CFG_SAMPLER: {
        static const char *const names[] = { "auto", "pagemap", "fault", "routing", "off" };
        for (int i = 0; i < 5; i++)
            if (strcmp(v, names[i]) == 0) {
                c->sampler = (enum moetier_sampler_choice)i;
                return 0;
            }
        return fail(err, n, name, v, "not one of auto, pagemap, fault, routing, off");
    }
    case MOETIER_CFG_SAMPLE_MS: {
        size_t len = strlen(v);
        char num[16];
        if (len > 2 && strcmp(v + len - 2, "ms") == 0 && len - 2 < sizeof num) {
            memcpy(num, v, len - 2);
            num[len - 2] = 0;
            v = num;
        }
        if (parse_u32(v, 1, 60000, &u))
            return fail(err, n, name, v, "not a period in milliseconds, 1-60000");
        c->sample_ms = u;
        return 0;
    }
    case MOETIER_CFG_SAMPLE_BUDGET:
        if (moetier_size_parse(v, 1, &sz) || sz.percent < 0.1)
            return fail(err, n, name, v, "not a percentage from 0.1% to 100%");
        c->sample_budget = sz.percent;
        return 0;
    case MOETIER_CFG_MIGRATE_MBPS:
        if (parse_u32(v, 0, 1u << 24, &u))
            return fail(err, n, name, v, "not a rate in MiB/s (0 = unlimited)");
        c->migrate_mbps = u;
        return 0;
    case MOETIER_CFG_ALLOC_MIN:
        if (moetier_size_parse(v, 0, &sz) || sz.bytes < 4096)
            return fail(err, n, name, v, "not a size of at least 4K");
        c->alloc_min = sz.bytes;
        return 0;
    case MOETIER_CFG_HUGEPAGES:
    case MOETIER_CFG_CUDA_PIN:
    case MOETIER_CFG_PER_TOKEN:
    case MOETIER_CFG_PER_LAYER:
    case MOETIER_CFG_READ_ROOM: {
        enum moetier_tristate t;
        if (parse_tristate(v, &t))
            return fail(err, n, name, v, "not one of auto, on, off");
        if (var == MOETIER_CFG_HUGEPAGES)
            c->hugepages = t;
        else if (var == MOETIER_CFG_CUDA_PIN)
            c->cuda_pin = t;
        else if (var == MOETIER_CFG_PER_TOKEN)
            c->per_token = t;
        else if (var == MOETIER_CFG_PER_LAYER)
            c->per_layer = t;
        else
            c->read_room = t;
        return 0;
    }
    case MOETIER_CFG_PREFETCH_GATE: {
        double g = 0;
        if (strcmp(v, "off") != 0 && (parse_chance(v, &g) || g <= 0))
            return fail(err, n, name, v, "not a chance in (0, 1] (as 0.5) or off");
        c->prefetch_gate = g;
        return 0;
    }
    case MOETIER_CFG_PROMOTE:
        if (strcmp(v, "auto") == 0)
            c->promote = MOETIER_PROMOTE_AUTO;
        else if (strcmp(v, "lock") == 0)
            c->promote = MOETIER_PROMOTE_LOCK;
        else if (strcmp(v, "copy") == 0)
            c->promote = MOETIER_PROMOTE_COPY;
        else
            return fail(err, n, name, v, "not one of auto, lock, copy");
        return 0;
    case MOETIER_CFG_STATS_DIR:
    case MOETIER_CFG_LOG_FILE:
        if (*v && v[0] != '/')
            return fail(err, n, name, v, "needs an absolute path");
        if (copy(var == MOETIER_CFG_STATS_DIR ? c->stats_dir : c->log_file, MOETIER_PATH_MAX, v))
            return fail(err, n, name, v, "path too long");
        return 0;
    case MOETIER_CFG_LOG: {
        enum moetier_log_level l;
        if (moetier_log_level_parse(v, &l))
            return fail(err, n, name, v, "not one of error, warn, info, debug");
        c->log_level = l;
        return 0;
    }
    }
    return -EINVAL;
}

void moetier_config_defaults(struct moetier_config *c)
{
    memset(c, 0, sizeof *c);
    char err[8];
    for (int i = 0; i < MOETIER_CFG_COUNT; i++)
        parse(c, i, moetier_config_table[i].deflt, err, sizeof err);
    c->dram.percent = 50;
    c->log_level = MOETIER_LOG_WARN;
}

int moetier_config_check(int var, const char *value, char *err, size_t errlen)
{
    if (var < 0 || var >= MOETIER_CFG_COUNT)
        return -EINVAL;
    return parse(NULL, var, value, err, errlen);
}

int moetier_config_load(struct moetier_config *c, const char *(*get)(const char *name), char *err,
                        size_t errlen)
{
    moetier_config_defaults(c);
    int bad = 0;
    if (errlen)
        err[0] = '\0';
    for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
        const char *v = get ? get(moetier_config_table[i].name) : getenv(moetier_config_table[i].name);
        if (!v)
            continue;
        char msg[320];
        if (parse(c, i, v, msg, sizeof msg) == 0) {
            c->source[i] = MOETIER_SRC_ENV;
            continue;
        }
        c->source[i] = MOETIER_SRC_INVALID;
        log_warn("%s; keeping the default (%s)", msg,
                 moetier_config_table[i].deflt[0] ? moetier_config_table[i].deflt : "empty");
        if (bad++ == 0 && errlen)
            moetier_fmt(err, errlen, "%s", msg);
    }
    return bad;
}

const char *moetier_config_value(const struct moetier_config *c, int var, char *buf, size_t cap)
{
    static const char *const tri[] = { "auto", "off", "on" };
    static const char *const samplers[] = { "auto", "pagemap", "fault", "routing", "off" };
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    switch (var) {
    case MOETIER_CFG_DISABLE: return c->disable ? "on" : "off";
    case MOETIER_CFG_STRICT: return c->strict ? "on" : "off";
    case MOETIER_CFG_MATCH: return c->match;
    case MOETIER_CFG_ONLY_COMM: return c->only_comm;
    case MOETIER_CFG_MODEL: return c->model;
    case MOETIER_CFG_DRAM:
        if (c->dram.percent > 0) {
            /* print the percentage without printf's %f (not async-signal-safe) */
            unsigned tenths = (unsigned)(c->dram.percent * 10 + 0.5);
            if (tenths % 10)
                moetier_fmt(buf, cap, "%u.%u%%", tenths / 10, tenths % 10);
            else
                moetier_fmt(buf, cap, "%u%%", tenths / 10);
            return buf;
        }
        return moetier_size_format(c->dram.bytes, buf, cap);
    case MOETIER_CFG_SLOW:
        switch (c->slow) {
        case MOETIER_SLOW_AUTO: return "auto";
        case MOETIER_SLOW_FILE: return "file";
        case MOETIER_SLOW_NUMA: moetier_fmt(buf, cap, "numa:%d", c->slow_node); return buf;
        case MOETIER_SLOW_PMEM: moetier_fmt(buf, cap, "pmem:%s", c->slow_path); return buf;
        case MOETIER_SLOW_DEVDAX: moetier_fmt(buf, cap, "devdax:%s", c->slow_path); return buf;
        }
        return "?";
    case MOETIER_CFG_POLICY: return c->policy;
    case MOETIER_CFG_PROFILE: return c->profile;
    case MOETIER_CFG_SAMPLER: return samplers[c->sampler];
    case MOETIER_CFG_SAMPLE_MS: moetier_fmt(buf, cap, "%u", c->sample_ms); return buf;
    case MOETIER_CFG_SAMPLE_BUDGET: {
        unsigned tenths = (unsigned)(c->sample_budget * 10 + 0.5);
        if (tenths % 10)
            moetier_fmt(buf, cap, "%u.%u%%", tenths / 10, tenths % 10);
        else
            moetier_fmt(buf, cap, "%u%%", tenths / 10);
        return buf;
    }
    case MOETIER_CFG_MIGRATE_MBPS: moetier_fmt(buf, cap, "%u", c->migrate_mbps); return buf;
    case MOETIER_CFG_ALLOC_MIN: return moetier_size_format(c->alloc_min, buf, cap);
    case MOETIER_CFG_HUGEPAGES: return tri[c->hugepages + 1];
    case MOETIER_CFG_CUDA_PIN: return tri[c->cuda_pin + 1];
    case MOETIER_CFG_PER_TOKEN: return tri[c->per_token + 1];
    case MOETIER_CFG_PER_LAYER: return tri[c->per_layer + 1];
    case MOETIER_CFG_READ_ROOM: return tri[c->read_room + 1];
    case MOETIER_CFG_PREFETCH_GATE: {
        unsigned m = (unsigned)(c->prefetch_gate * 1000 + 0.5); /* thousandths: no locale's decimal point */
        if (m == 0)
            return "off";
        if (m >= 1000)
            return "1";
        moetier_fmt(buf, cap, "0.%03u", m);
        for (size_t i = strlen(buf); buf[i - 1] == '0'; i--)
            buf[i - 1] = 0;
        return buf;
    }
    case MOETIER_CFG_PROMOTE: return c->promote == MOETIER_PROMOTE_LOCK ? "lock" : c->promote == MOETIER_PROMOTE_COPY ? "copy" : "auto";
    case MOETIER_CFG_STATS_DIR: return c->stats_dir;
    case MOETIER_CFG_LOG: return levels[c->log_level];
    case MOETIER_CFG_LOG_FILE: return c->log_file;
    }
    return "?";
}

const char *moetier_config_source_name(enum moetier_config_source s)
{
    switch (s) {
    case MOETIER_SRC_ENV: return "env";
    case MOETIER_SRC_INVALID: return "env (invalid, default used)";
    default: return "default";
    }
}
