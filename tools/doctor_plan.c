/*
 * doctor_plan: `moetier doctor`'s plan section (doctor_plan.h).
 */
#include "tools/doctor_plan.h"
#include "common/config.h"
#include "common/log.h"
#include "common/size.h"
#include "profiler/model.h"
#include "tiering/numa_tier.h"
#include "tiering/plan.h"
#include "tools/cli.h"
#include "tools/system_probe.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static struct moetier_numa_topo topo;

/* The facts a run would have at its first sample, as far as this machine,
 * this environment and the model file tell them. */
static int gather(struct moetier_plan_facts *f, const char *model, const struct system_probe *probe)
{
    memset(f, 0, sizeof *f);
    moetier_log_setup(MOETIER_LOG_ERROR, STDERR_FILENO); /* doctor --config reports bad values */
    char err[400];
    moetier_config_load(&f->cfg, NULL, err, sizeof err);
    moetier_log_setup(MOETIER_LOG_WARN, STDERR_FILENO);
    moetier_plan_gather_machine(f, &topo, 1);
    /* a process that loads CUDA pins: here, a CUDA runtime and a device */
    f->cuda_runtime = probe->cuda_runtime && probe->nvidia_device;
    f->started = 1;
    f->routing = -1;
    f->routing_keep = -1;
    if (!model)
        return 0;
    struct moetier_model m;
    if (moetier_model_open(model, &m, err, sizeof err) != 0) {
        fprintf(stderr, "moetier doctor: %s\n", err);
        return -1;
    }
    for (size_t i = 0; i < moetier_gguf_model_n_files(m.gguf); i++)
        moetier_plan_add_file(f, moetier_gguf_model_path(m.gguf, i));
    f->expert_bytes_min = m.map ? m.map->expert_bytes_min : 0;
    moetier_model_close(&m);
    return 0;
}

static void print_line(const struct moetier_plan_line *l, void *arg)
{
    (void)arg;
    printf("    - %s%s\n", l->warn ? "warning: " : "", l->text);
}

int doctor_plan_text(const char *model)
{
    struct system_probe probe;
    struct moetier_plan_facts f;
    struct moetier_plan p;
    char buf[MOETIER_PATH_MAX + 160];
    system_probe_read(&probe);
    if (gather(&f, model, &probe) != 0)
        return -1;
    moetier_plan_make(&f, &p);
    printf("plan:            what moetier would decide here%s%s (MOETIER_* from this environment)\n",
           model ? " for " : "", model ? model : "");
    for (int s = 0; s < MOETIER_PLAN_STAGES; s++) {
        if (!model && s > MOETIER_PLAN_AT_OPEN)
            break;
        int n = 0;
        for (int i = 0; i < p.n_lines; i++)
            n += p.line[i].stage == s;
        if (!n && s != MOETIER_PLAN_AT_OPEN)
            continue; /* nothing decided then (tiering off before) */
        printf("  %s:\n", moetier_plan_stage_name(s));
        moetier_plan_render(&p, s, print_line, NULL);
        if (s == MOETIER_PLAN_AT_OPEN)
            printf("    - DRAM budget %s\n", moetier_size_format(p.budget_asked, buf, sizeof buf));
    }
    if (!model) {
        printf("  the rest depends on the model: moetier doctor MODEL.gguf\n");
        return 0;
    }
    if (p.on)
        printf("  tiering:       %s\n", moetier_plan_summary(&f, &p, buf, sizeof buf));
    else
        printf("  tiering:       off %s\n", moetier_plan_stage_name(p.off_stage));
    printf("  sampler:       %s, sampling budget %s\n", moetier_plan_sampler_name(p.sampler),
           moetier_config_value(&(struct moetier_config){ .sample_budget = p.sample_budget },
                                MOETIER_CFG_SAMPLE_BUDGET, buf, sizeof buf));
    printf("  assumed:       the binary does not lock its memory (mlockall)%s; placements known at the first "
           "decode\n", f.cuda_runtime ? ", and loads CUDA" : ", and loads no CUDA runtime");
    return 0;
}

int doctor_plan_json(struct json *j, const char *model)
{
    struct system_probe probe;
    struct moetier_plan_facts f;
    struct moetier_plan p;
    char buf[MOETIER_PATH_MAX + 160];
    system_probe_read(&probe);
    if (gather(&f, model, &probe) != 0) {
        json_null(j);
        return -1;
    }
    moetier_plan_make(&f, &p);
    static const char *const slow[] = { "auto", "file", "numa", "pmem", "devdax" };
    json_obj_begin(j);
    json_key(j, "model"), model ? json_str(j, model) : json_null(j);
    json_key(j, "slow"), json_str(j, slow[p.slow]);
    json_key(j, "slow_node"), p.slow == MOETIER_SLOW_NUMA ? json_int(j, p.slow_node) : json_null(j);
    json_key(j, "budget"), json_uint(j, p.budget_asked);
    if (model) {
        json_key(j, "tiering"), json_bool(j, p.on);
        json_key(j, "off_at"), p.on ? json_null(j) : json_str(j, moetier_plan_stage_name(p.off_stage));
        json_key(j, "why_off"), p.on ? json_null(j) : json_str(j, p.off_why);
        json_key(j, "summary"), p.on ? json_str(j, moetier_plan_summary(&f, &p, buf, sizeof buf)) : json_null(j);
        json_key(j, "cache_budget"), json_uint(j, p.budget);
        json_key(j, "clamped"), json_bool(j, p.clamped);
        json_key(j, "fits"), json_bool(j, p.fits);
        json_key(j, "promote"), json_str(j, p.numa ? "page migration" : p.lock ? "lock" : "copy");
        json_key(j, "huge_pages"), json_bool(j, p.huge);
        json_key(j, "cuda_pin"), json_bool(j, p.cuda_pin);
        json_key(j, "sampler"), json_str(j, moetier_plan_sampler_name(p.sampler));
        json_key(j, "sample_budget"), json_double(j, p.sample_budget);
        json_key(j, "policy"), p.on ? json_str(j, p.policy) : json_null(j);
    }
    json_key(j, "lines"), json_arr_begin(j);
    for (int i = 0; i < p.n_lines; i++) {
        if (!model && p.line[i].stage > MOETIER_PLAN_AT_OPEN)
            continue;
        json_obj_begin(j);
        json_key(j, "at"), json_str(j, moetier_plan_stage_name(p.line[i].stage));
        json_key(j, "warn"), json_bool(j, p.line[i].warn);
        json_key(j, "text"), json_str(j, p.line[i].text);
        json_obj_end(j);
    }
    json_arr_end(j);
    json_obj_end(j);
    return 0;
}
