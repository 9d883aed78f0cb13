/*
 * moetier doctor: checks of this machine and configuration.
 *
 *   moetier doctor [--json] [MODEL.gguf]  the machine: tiers, limits, the plan moetier would make
 *   moetier doctor --config [--json]   the configuration
 *
 * Without --config: NUMA nodes (CPU-less ones are where Optane KMEM-DAX and
 * CXL memory appear), memory tiers, PMem regions and namespaces, DAX mounts,
 * huge pages, vm.max_map_count, the memlock limit, the cgroup memory limit,
 * CUDA, whether the samplers' kernel interfaces work, the slow tier
 * MOETIER_SLOW=auto would choose, and what to change (tools/system_probe.c);
 * then the plan the runtime would make here with this environment's
 * configuration, for MODEL when one is named (tools/doctor_plan.c: the
 * runtime's own tiering/plan.h, its decisions and its sentences).
 *
 * --config prints every variable of moetier_config_table (common/config.c)
 * with the value the runtime would use (moetier_config_load from this
 * environment), where it came from (default, env, or "env (invalid, default
 * used)" with the reason), its `moetier run` flag and its help text. The
 * runtime's own warnings are not repeated on stderr: the report says it all.
 *
 * Exit 0; 2 for bad usage, or when MOETIER_STRICT is on and a value is bad
 * (the runtime would refuse to start: the message names the value).
 */
#include "common/config.h"
#include "common/json.h"
#include "common/log.h"
#include "common/size.h"
#include "tools/cli.h"
#include "tools/doctor_plan.h"
#include "tools/system_probe.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "doctor"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier doctor [--json] [MODEL.gguf]\n"
            "       moetier doctor --config [--json]\n"
            "\n"
            "  (none)     this machine: NUMA nodes and which have no CPUs, memory tiers,\n"
            "             PMem regions and namespaces, DAX mounts, huge pages,\n"
            "             vm.max_map_count, memlock and cgroup limits, CUDA, the\n"
            "             samplers' kernel interfaces, what moetier would choose, and\n"
            "             what to change; then the plan the runtime would make here\n"
            "             (MOETIER_* from this environment), for MODEL.gguf when given\n"
            "  --config   every MOETIER_* variable: its effective value (from this\n"
            "             environment), its source (default, env, or env (invalid,\n"
            "             default used) with the reason), its moetier run flag and\n"
            "             what it does\n"
            "  --json     one JSON object (fields: docs/tools.md)\n"
            "  -h, --help this text\n"
            "\n"
            "exit status: 0 success; 2 bad usage, or MOETIER_STRICT on and a bad value\n"
            "(the runtime would refuse to start; the message names the value).\n");
}

static const char *shown(const char *v)
{
    return v && *v ? v : "\"\"";
}

static const char *limit_text(uint64_t v, char *buf, size_t cap)
{
    return v == UINT64_MAX ? "unlimited" : moetier_size_format(v, buf, cap);
}

/* Advice lines: what to change for moetier to work well here. */
static int advise(const struct system_probe *p, void (*say)(const char *, void *), void *arg)
{
    int n = 0;
    char line[480], a[32];
    if (p->max_map_count && p->max_map_count < 262144) {
        snprintf(line, sizeof line, "vm.max_map_count is %llu: promoting tens of thousands of expert slices can "
                 "reach it; raise it with sysctl -w vm.max_map_count=262144",
                 (unsigned long long)p->max_map_count);
        say(line, arg), n++;
    }
    if (p->memlock_hard != UINT64_MAX && p->memlock_hard < (1ULL << 30) && getuid() != 0) {
        snprintf(line, sizeof line, "the memlock limit is %s: the file tier promotes by locking the page cache and "
                 "copies instead (slower, docs/bench-capped.md) when the budget does not fit in it; a CUDA-pinned "
                 "cache needs it too (ulimit -l unlimited, or LimitMEMLOCK= in a systemd unit)",
                 limit_text(p->memlock_hard, a, sizeof a));
        say(line, arg), n++;
    }
    if (!p->pagemap_ok) {
        snprintf(line, sizeof line, "/proc/self/pagemap shows no present pages here: the pagemap sampler "
                 "cannot work; moetier will use the fault sampler");
        say(line, arg), n++;
    }
    if (!p->process_madvise_ok) {
        snprintf(line, sizeof line, "process_madvise(MADV_DONTNEED) is not available (Linux 6.13+ batches zaps): "
                 "the pagemap sampler pays one TLB flush per probe");
        say(line, arg), n++;
    }
    if (p->cpu_avx2) {
        snprintf(line, sizeof line, "llama.cpp's CPU backend repacks q4_0, q4_K, iq4_nl and mxfp4 expert tensors%s "
                 "on this CPU into anonymous memory when it loads from the file mapping: the file tier cannot tier "
                 "them (moetier says so when it runs); run llama.cpp with --no-repack, or use MOETIER_SLOW=numa:N "
                 "(docs/programs.md)", p->cpu_avx512 ? " (and q2_K: AVX-512)" : "");
        say(line, arg), n++;
    }
    if (p->mem.cgroup_limit) {
        snprintf(line, sizeof line, "a cgroup memory limit of %s is set: the DRAM cache is sized below it, "
                 "since its pages cannot be reclaimed without swap",
                 moetier_size_format(p->mem.cgroup_limit, a, sizeof a));
        say(line, arg), n++;
    }
    return n;
}

static void say_text(const char *s, void *arg)
{
    (void)arg;
    printf("  - %s\n", s);
}

static void say_json(const char *s, void *arg)
{
    json_str(arg, s);
}

static int report_system(int json, const char *model)
{
    struct system_probe p;
    system_probe_read(&p);
    char why[300], a[32], b[32];
    const char *slow = system_probe_slow_choice(&p, why, sizeof why);
    if (json) {
        struct json j;
        json_init(&j, stdout, 0);
        json_obj_begin(&j);
        json_key(&j, "schema"), json_int(&j, 1);
        json_key(&j, "kernel"), json_str(&j, p.kernel);
        json_key(&j, "numa_nodes"), json_arr_begin(&j);
        for (size_t i = 0; i < p.n_nodes; i++) {
            json_obj_begin(&j);
            json_key(&j, "node"), json_int(&j, p.nodes[i].id);
            json_key(&j, "cpus"), json_bool(&j, p.nodes[i].has_cpu);
            json_key(&j, "memory"), json_uint(&j, p.nodes[i].mem_total);
            json_key(&j, "tier");
            if (p.nodes[i].tier >= 0)
                json_int(&j, p.nodes[i].tier);
            else
                json_null(&j);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_key(&j, "pmem"), json_arr_begin(&j);
        for (size_t i = 0; i < p.n_pmem; i++) {
            json_obj_begin(&j);
            json_key(&j, "name"), json_str(&j, p.pmem[i].name);
            json_key(&j, "mode"), json_str(&j, p.pmem[i].mode);
            json_key(&j, "device"), json_str(&j, p.pmem[i].dev);
            json_key(&j, "size"), json_uint(&j, p.pmem[i].size);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_key(&j, "dax_mounts"), json_arr_begin(&j);
        for (size_t i = 0; i < p.n_dax_mounts; i++)
            json_str(&j, p.dax_mounts[i].path);
        json_arr_end(&j);
        json_key(&j, "hugepages"), json_obj_begin(&j);
        json_key(&j, "total"), json_uint(&j, p.hugepages_total);
        json_key(&j, "free"), json_uint(&j, p.hugepages_free);
        json_key(&j, "size"), json_uint(&j, p.hugepage_size);
        json_key(&j, "thp"), json_str(&j, p.thp);
        json_obj_end(&j);
        json_key(&j, "max_map_count"), json_uint(&j, p.max_map_count);
        json_key(&j, "memlock"), p.memlock_soft == UINT64_MAX ? json_null(&j) : json_uint(&j, p.memlock_soft);
        json_key(&j, "memory"), json_obj_begin(&j);
        json_key(&j, "available"), json_uint(&j, p.mem.available);
        json_key(&j, "total"), json_uint(&j, p.mem.total);
        json_key(&j, "cgroup_limit"), p.mem.cgroup_limit ? json_uint(&j, p.mem.cgroup_limit) : json_null(&j);
        json_obj_end(&j);
        json_key(&j, "cuda"), json_obj_begin(&j);
        json_key(&j, "runtime"), json_bool(&j, p.cuda_runtime);
        json_key(&j, "device"), json_bool(&j, p.nvidia_device);
        json_obj_end(&j);
        json_key(&j, "sampler"), json_obj_begin(&j);
        json_key(&j, "pagemap"), json_bool(&j, p.pagemap_ok);
        json_key(&j, "process_madvise"), json_bool(&j, p.process_madvise_ok);
        json_obj_end(&j);
        json_key(&j, "slow_tier"), json_obj_begin(&j);
        json_key(&j, "choice"), json_str(&j, slow);
        json_key(&j, "why"), json_str(&j, why);
        json_obj_end(&j);
        json_key(&j, "advice"), json_arr_begin(&j);
        advise(&p, say_json, &j);
        json_arr_end(&j);
        json_key(&j, "plan");
        if (doctor_plan_json(&j, model) != 0)
            return CLI_USAGE;
        json_obj_end(&j);
        json_finish(&j);
        return CLI_OK;
    }
    printf("kernel:          %s\n", p.kernel);
    printf("numa nodes:      %zu\n", p.n_nodes);
    for (size_t i = 0; i < p.n_nodes; i++) {
        printf("  node %-3d %10s  %s", p.nodes[i].id, moetier_size_format(p.nodes[i].mem_total, a, sizeof a),
               p.nodes[i].has_cpu ? "with CPUs" : "no CPUs (a slow tier: KMEM-DAX PMem or CXL)");
        if (p.nodes[i].tier >= 0)
            printf(", memory_tier%d", p.nodes[i].tier);
        putchar('\n');
    }
    printf("pmem:            %s\n", p.n_pmem ? "" : "none");
    for (size_t i = 0; i < p.n_pmem; i++)
        printf("  %-14s %10s  %s%s%s\n", p.pmem[i].name, moetier_size_format(p.pmem[i].size, a, sizeof a),
               p.pmem[i].mode[0] ? p.pmem[i].mode : "region", p.pmem[i].dev[0] ? " /dev/" : "", p.pmem[i].dev);
    printf("dax mounts:      %s\n", p.n_dax_mounts ? "" : "none");
    for (size_t i = 0; i < p.n_dax_mounts; i++)
        printf("  %s (%s on %s)\n", p.dax_mounts[i].path, p.dax_mounts[i].fstype, p.dax_mounts[i].dev);
    printf("huge pages:      %llu of %s free, transparent: %s\n", (unsigned long long)p.hugepages_free,
           moetier_size_format(p.hugepage_size, a, sizeof a), p.thp[0] ? p.thp : "unknown");
    printf("max_map_count:   %llu\n", (unsigned long long)p.max_map_count);
    printf("memlock:         %s (hard %s)\n", limit_text(p.memlock_soft, a, sizeof a),
           limit_text(p.memlock_hard, b, sizeof b));
    printf("memory:          %s available of %s", moetier_size_format(p.mem.available, a, sizeof a),
           moetier_size_format(p.mem.total, b, sizeof b));
    if (p.mem.cgroup_limit)
        printf(", cgroup limit %s", moetier_size_format(p.mem.cgroup_limit, a, sizeof a));
    putchar('\n');
    printf("cuda:            runtime %s, device %s\n", p.cuda_runtime ? "found" : "not found",
           p.nvidia_device ? "present" : "none");
    printf("samplers:        pagemap %s, batched zaps (process_madvise) %s\n", p.pagemap_ok ? "works" : "no",
           p.process_madvise_ok ? "work" : "no");
    printf("slow tier:       MOETIER_SLOW=auto would use %s: %s\n", slow, why);
    printf("advice:\n");
    if (!advise(&p, say_text, NULL))
        printf("  - nothing to change\n");
    if (doctor_plan_text(model) != 0)
        return CLI_USAGE;
    return CLI_OK;
}

int cmd_doctor(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", no_argument, 0, 'c' },
        { "json", no_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int config = 0, json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OK;
        } else if (c == 'c') {
            config = 1;
        } else if (c == 'j') {
            json = 1;
        } else {
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (moetier doctor --help)", argv[optind - 1]);
        }
    }
    const char *model = !config && optind < argc ? argv[optind++] : NULL;
    if (optind < argc)
        return cli_error(CLI_USAGE, CMD, "unexpected argument '%s' (moetier doctor --help)", argv[optind]);
    if (!config)
        return report_system(json, model);

    /* the report shows every bad value itself: keep the loader's warnings quiet */
    moetier_log_setup(MOETIER_LOG_ERROR, STDERR_FILENO);
    struct moetier_config cfg;
    char first[400];
    int bad = moetier_config_load(&cfg, NULL, first, sizeof first);

    char buf[MOETIER_PATH_MAX + 64], why[400];
    if (json) {
        struct json j;
        json_init(&j, stdout, 0);
        json_obj_begin(&j);
        json_key(&j, "schema"), json_int(&j, 1);
        json_key(&j, "strict"), json_bool(&j, cfg.strict);
        json_key(&j, "invalid"), json_int(&j, bad);
        json_key(&j, "variables");
        json_arr_begin(&j);
        for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
            const struct moetier_config_desc *d = &moetier_config_table[i];
            const char *env = getenv(d->name);
            json_obj_begin(&j);
            json_key(&j, "name"), json_str(&j, d->name);
            json_key(&j, "flag"), json_str(&j, d->flag);
            json_key(&j, "value"), json_str(&j, moetier_config_value(&cfg, i, buf, sizeof buf));
            json_key(&j, "source"), json_str(&j, moetier_config_source_name(cfg.source[i]));
            json_key(&j, "env"), json_str(&j, env);
            json_key(&j, "error");
            if (cfg.source[i] == MOETIER_SRC_INVALID && env && moetier_config_check(i, env, why, sizeof why))
                json_str(&j, why);
            else
                json_null(&j);
            json_key(&j, "default"), json_str(&j, d->deflt);
            json_key(&j, "help"), json_str(&j, d->help);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        printf("%-22s %-18s %s\n", "VARIABLE", "VALUE", "SOURCE");
        for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
            const struct moetier_config_desc *d = &moetier_config_table[i];
            const char *env = getenv(d->name);
            printf("%-22s %-18s %s\n", d->name, shown(moetier_config_value(&cfg, i, buf, sizeof buf)),
                   moetier_config_source_name(cfg.source[i]));
            if (cfg.source[i] == MOETIER_SRC_INVALID && env && moetier_config_check(i, env, why, sizeof why))
                printf("    rejected: %s\n", why);
            printf("    %s%s%s\n", d->help, d->flag ? "; moetier run " : "", d->flag ? d->flag : "");
        }
        if (bad)
            printf("\n%d invalid value%s: the defaults are in force for %s.\n", bad, bad == 1 ? "" : "s",
                   bad == 1 ? "it" : "them");
    }
    if (fflush(stdout) || ferror(stdout))
        return cli_error(CLI_FAIL, CMD, "writing the output failed");
    if (bad && cfg.strict)
        return cli_error(CLI_USAGE, CMD, "%s (MOETIER_STRICT is on: the runtime would not start)", first);
    return CLI_OK;
}
