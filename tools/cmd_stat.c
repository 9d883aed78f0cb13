/*
 * moetier stat: one snapshot of a live moetier process's statistics.
 *
 *   moetier stat [PID|SEGMENT] [--json | --prometheus]
 *
 * Reads the process's stats segment (profiler/stats.h) once, through the
 * seqlock, and prints a short human summary with the hottest experts, one
 * JSON object, or the Prometheus text exposition format (docs/tools.md lists
 * every field and metric). The process is picked by tools/proc_pick.
 *
 * Exit: 0; 1 no (single) live process, or the output cannot be written; 2 bad
 * usage, several processes and no PID, or a corrupt / foreign segment.
 */
#include "common/json.h"
#include "common/size.h"
#include "tools/cli.h"
#include "tools/proc_pick.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "stat"
#define N_HOTTEST 10

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier stat [PID|SEGMENT] [--json | --prometheus]\n"
            "\n"
            "Prints one snapshot of a live moetier process: model, sampler, tokens and\n"
            "tokens/s, DRAM and slow-tier bytes, migrations, where the weights are, and\n"
            "the 10 hottest experts. With no PID it picks the one moetier process of this\n"
            "user (several: they are listed and a PID is needed). SEGMENT is the path of\n"
            "a stats segment (moetier-PID.stats in $MOETIER_STATS_DIR, else\n"
            "$XDG_RUNTIME_DIR/moetier, else /dev/shm).\n"
            "\n"
            "options:\n"
            "  --json         one JSON object (fields: docs/tools.md)\n"
            "  --prometheus   Prometheus text exposition format (metrics: docs/tools.md)\n"
            "  -h, --help     this text\n"
            "\n"
            "exit status: 0 success, 1 no live process (or it ended), 2 bad usage,\n"
            "several processes and no PID, or a corrupt or foreign segment.\n");
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Experts per tier: counts[tier]. */
static void tier_counts(const struct view *v, unsigned long counts[4])
{
    memset(counts, 0, 4 * sizeof counts[0]);
    size_t n = (size_t)v->n_layers * v->n_experts;
    for (size_t i = 0; i < n; i++)
        if (v->experts[i].tier >= 0 && v->experts[i].tier < 4)
            counts[v->experts[i].tier]++;
}

/* Slow-tier bytes per decode token by replay's categories (profiler/stats.h):
 * misses from the sampled steps, promotions and prefetches over every decode
 * token. NaN where there is nothing to divide by. */
struct per_token {
    double direct, promoted, prefetched, total, hit_rate;
};

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : NAN;
}

static struct per_token per_token(const struct moetier_stats_header *h)
{
    struct per_token p;
    p.direct = ratio(h->slow_direct_bytes, h->traffic_steps);
    p.promoted = ratio(h->bytes_promoted, h->tokens_decode);
    p.prefetched = ratio(h->slow_prefetched_bytes, h->tokens_decode);
    p.total = p.direct + p.promoted + p.prefetched;
    p.hit_rate = ratio(h->traffic_hits, h->traffic_accesses);
    return p;
}

static void json_maybe(struct json *j, const char *key, double x)
{
    json_key(j, key);
    if (isnan(x))
        json_null(j);
    else
        json_double(j, x);
}

static void print_human(const struct view *v)
{
    const struct moetier_stats_header *h = &v->snap.h;
    char a[32], b[32], t[40];
    uint64_t now = now_ns();

    printf("process:    %d (%s), up %s, updated %s\n", h->pid, h->comm[0] ? h->comm : "?",
           fmt_age(now > h->start_ns ? now - h->start_ns : 0, a, sizeof a), fmt_utc(h->update_ns, t, sizeof t));
    printf("model:      %s\n", h->model[0] ? h->model : "(not known yet)");
    if (h->model_id[0])
        printf("model id:   %s\n", h->model_id);
    if (v->n_layers)
        printf("experts:    %u MoE layers (blocks %d-%d) x %u experts\n", v->n_layers, v->blocks[0],
               v->blocks[v->n_layers - 1], v->n_experts);
    else
        printf("experts:    none mapped yet\n");
    printf("sampler:    %s, %llu samples, %.1f ms spent sampling\n", h->sampler[0] ? h->sampler : "off",
           (unsigned long long)h->samples, (double)h->sampler_ns / 1e6);
    printf("tokens:     %llu decode, %llu prompt, %llu warm-up; %.2f tok/s\n",
           (unsigned long long)h->tokens_decode, (unsigned long long)h->tokens_prompt,
           (unsigned long long)h->tokens_warmup, h->tok_per_s);
    if (h->dram_budget)
        printf("dram:       %s of a %s budget (%.1f%%)\n", moetier_size_format(h->dram_bytes, a, sizeof a),
               moetier_size_format(h->dram_budget, b, sizeof b), 100.0 * (double)h->dram_bytes / (double)h->dram_budget);
    else
        printf("dram:       %s (no budget set)\n", moetier_size_format(h->dram_bytes, a, sizeof a));
    printf("slow tier:  %s (%s)\n", moetier_size_format(h->slow_bytes, a, sizeof a),
           h->slow_kind[0] ? h->slow_kind : "unknown");
    unsigned long c[4];
    tier_counts(v, c);
    printf("residency:  %lu experts in DRAM, %lu pinned for CUDA, %lu mixed, %lu on the slow tier\n",
           c[MOETIER_TIER_DRAM], c[MOETIER_TIER_PINNED], c[MOETIER_TIER_MIXED], c[MOETIER_TIER_SLOW]);
    printf("migrations: %llu promotions (%s), %llu demotions (%s), %llu failed; policy %s\n",
           (unsigned long long)h->promotions, moetier_size_format(h->bytes_promoted, a, sizeof a),
           (unsigned long long)h->demotions, moetier_size_format(h->bytes_demoted, b, sizeof b),
           (unsigned long long)h->migrate_failed, h->policy[0] ? h->policy : "off");
    struct per_token p = per_token(h);
    if (isnan(p.total)) {
        printf("slow reads: none measured yet (no sampled decode step while tiering)\n");
    } else {
        char d[32], e[32];
        printf("slow reads: %s per decode token: demand misses %s (from %llu sampled steps), promoted %s, "
               "prefetched %s; DRAM hit rate %.3f\n",
               moetier_size_format((uint64_t)p.total, a, sizeof a), moetier_size_format((uint64_t)p.direct, b, sizeof b),
               (unsigned long long)h->traffic_steps, moetier_size_format((uint64_t)p.promoted, d, sizeof d),
               moetier_size_format((uint64_t)p.prefetched, e, sizeof e), isnan(p.hit_rate) ? 0.0 : p.hit_rate);
    }
    printf("placement:  %s\n", h->placement[0] ? h->placement : "(not reported)");

    uint32_t idx[N_HOTTEST];
    size_t k = view_hottest(v, N_HOTTEST, idx);
    if (!k)
        return;
    printf("\nhottest experts:\n");
    printf("  %6s  %6s  %8s  %12s  %s\n", "layer", "expert", "rate", "hits", "tier");
    for (size_t i = 0; i < k; i++) {
        const struct view_expert *x = &v->experts[idx[i]];
        printf("  %6d  %6u  %8.4f  %12llu  %s\n", v->blocks[idx[i] / v->n_experts], idx[i] % v->n_experts,
               (double)x->rate, (unsigned long long)x->hits, tier_name(x->tier));
    }
}

static void print_json(const struct view *v)
{
    const struct moetier_stats_header *h = &v->snap.h;
    struct json j;
    json_init(&j, stdout, 0);
    json_obj_begin(&j);
    json_key(&j, "schema"), json_int(&j, 2);
    json_key(&j, "pid"), json_int(&j, h->pid);
    json_key(&j, "model"), json_str(&j, h->model);
    json_key(&j, "model_id"), json_str(&j, h->model_id);
    json_key(&j, "comm"), json_str(&j, h->comm);
    json_key(&j, "start_ns"), json_uint(&j, h->start_ns);
    json_key(&j, "update_ns"), json_uint(&j, h->update_ns);
    json_key(&j, "n_layers"), json_uint(&j, v->n_layers);
    json_key(&j, "n_experts"), json_uint(&j, v->n_experts);
    json_key(&j, "experts");
    view_json_experts(&j, v);
    json_key(&j, "tiers");
    json_obj_begin(&j);
    json_key(&j, "dram");
    json_obj_begin(&j);
    json_key(&j, "bytes"), json_uint(&j, h->dram_bytes);
    json_key(&j, "budget"), json_uint(&j, h->dram_budget);
    json_obj_end(&j);
    json_key(&j, "slow");
    json_obj_begin(&j);
    json_key(&j, "bytes"), json_uint(&j, h->slow_bytes);
    json_key(&j, "kind"), json_str(&j, h->slow_kind);
    json_obj_end(&j);
    json_obj_end(&j);
    json_key(&j, "migrations");
    json_obj_begin(&j);
    json_key(&j, "promotions"), json_uint(&j, h->promotions);
    json_key(&j, "demotions"), json_uint(&j, h->demotions);
    json_key(&j, "bytes_promoted"), json_uint(&j, h->bytes_promoted);
    json_key(&j, "bytes_demoted"), json_uint(&j, h->bytes_demoted);
    json_key(&j, "failed"), json_uint(&j, h->migrate_failed);
    json_key(&j, "policy"), json_str(&j, h->policy[0] ? h->policy : "off");
    json_obj_end(&j);
    json_key(&j, "tokens");
    json_obj_begin(&j);
    json_key(&j, "decode"), json_uint(&j, h->tokens_decode);
    json_key(&j, "prompt"), json_uint(&j, h->tokens_prompt);
    json_key(&j, "warmup"), json_uint(&j, h->tokens_warmup);
    json_key(&j, "per_s"), json_double(&j, h->tok_per_s);
    json_obj_end(&j);
    json_key(&j, "sampler");
    json_obj_begin(&j);
    json_key(&j, "kind"), json_str(&j, h->sampler);
    json_key(&j, "samples"), json_uint(&j, h->samples);
    json_key(&j, "overhead_ns"), json_uint(&j, h->sampler_ns);
    json_obj_end(&j);
    struct per_token p = per_token(h);
    json_key(&j, "slow_reads");
    json_obj_begin(&j);
    json_key(&j, "sampled_steps"), json_uint(&j, h->traffic_steps);
    json_key(&j, "accesses"), json_uint(&j, h->traffic_accesses);
    json_key(&j, "hits"), json_uint(&j, h->traffic_hits);
    json_maybe(&j, "hit_rate", p.hit_rate);
    json_key(&j, "direct_bytes"), json_uint(&j, h->slow_direct_bytes);
    json_key(&j, "prefetched_bytes"), json_uint(&j, h->slow_prefetched_bytes);
    json_key(&j, "bytes_per_token");
    json_obj_begin(&j);
    json_maybe(&j, "direct", p.direct);
    json_maybe(&j, "promoted", p.promoted);
    json_maybe(&j, "prefetched", p.prefetched);
    json_maybe(&j, "total", p.total);
    json_obj_end(&j);
    json_obj_end(&j);
    json_key(&j, "placement"), json_str(&j, h->placement);
    json_obj_end(&j);
    json_finish(&j);
}

/* A label value, escaped per the exposition format (\\, \", \n). */
static void label(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            printf("\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", stdout);
        else
            putchar(*s);
    }
}

static void metric_head(const char *name, const char *type, const char *help)
{
    printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void print_prometheus(const struct view *v)
{
    const struct moetier_stats_header *h = &v->snap.h;
    size_t n = (size_t)v->n_layers * v->n_experts;

    metric_head("moetier_info", "gauge", "The watched process and its model (value always 1).");
    printf("moetier_info{pid=\"%d\",comm=\"", h->pid);
    label(h->comm);
    fputs("\",model=\"", stdout);
    label(h->model);
    fputs("\",model_id=\"", stdout);
    label(h->model_id);
    fputs("\",sampler=\"", stdout);
    label(h->sampler);
    fputs("\",slow_kind=\"", stdout);
    label(h->slow_kind);
    fputs("\",placement=\"", stdout);
    label(h->placement);
    fputs("\"} 1\n", stdout);

    metric_head("moetier_start_time_seconds", "gauge", "When the process started publishing, seconds since the epoch.");
    printf("moetier_start_time_seconds %.3f\n", (double)h->start_ns / 1e9);
    metric_head("moetier_last_update_time_seconds", "gauge", "When the statistics were last updated, seconds since the epoch.");
    printf("moetier_last_update_time_seconds %.3f\n", (double)h->update_ns / 1e9);
    metric_head("moetier_moe_layers", "gauge", "MoE layers of the model.");
    printf("moetier_moe_layers %u\n", v->n_layers);
    metric_head("moetier_experts_per_layer", "gauge", "Routed experts per MoE layer.");
    printf("moetier_experts_per_layer %u\n", v->n_experts);

    metric_head("moetier_expert_hits_total", "counter", "Decode uses of an expert seen by the sampler (layer = GGUF block).");
    for (size_t i = 0; i < n; i++)
        printf("moetier_expert_hits_total{layer=\"%d\",expert=\"%u\"} %llu\n", v->blocks[i / v->n_experts],
               (unsigned)(i % v->n_experts), (unsigned long long)v->experts[i].hits);
    metric_head("moetier_expert_rate", "gauge", "Decayed share of recent sampling periods that used an expert, 0-1.");
    for (size_t i = 0; i < n; i++)
        printf("moetier_expert_rate{layer=\"%d\",expert=\"%u\"} %.6g\n", v->blocks[i / v->n_experts],
               (unsigned)(i % v->n_experts), (double)v->experts[i].rate);
    metric_head("moetier_expert_tier", "gauge", "Where an expert is: 1 for its tier (dram, slow, pinned, mixed).");
    for (size_t i = 0; i < n; i++)
        printf("moetier_expert_tier{layer=\"%d\",expert=\"%u\",tier=\"%s\"} 1\n", v->blocks[i / v->n_experts],
               (unsigned)(i % v->n_experts), tier_name(v->experts[i].tier));

    metric_head("moetier_tokens_total", "counter", "Tokens processed, by phase.");
    printf("moetier_tokens_total{phase=\"decode\"} %llu\n", (unsigned long long)h->tokens_decode);
    printf("moetier_tokens_total{phase=\"prompt\"} %llu\n", (unsigned long long)h->tokens_prompt);
    printf("moetier_tokens_total{phase=\"warmup\"} %llu\n", (unsigned long long)h->tokens_warmup);
    metric_head("moetier_tokens_per_second", "gauge", "Recent decode rate.");
    printf("moetier_tokens_per_second %.6g\n", h->tok_per_s);

    metric_head("moetier_tier_bytes", "gauge", "Expert bytes held by each tier.");
    printf("moetier_tier_bytes{tier=\"dram\"} %llu\n", (unsigned long long)h->dram_bytes);
    printf("moetier_tier_bytes{tier=\"slow\"} %llu\n", (unsigned long long)h->slow_bytes);
    metric_head("moetier_dram_budget_bytes", "gauge", "The DRAM cache budget.");
    printf("moetier_dram_budget_bytes %llu\n", (unsigned long long)h->dram_budget);
    unsigned long c[4];
    tier_counts(v, c);
    metric_head("moetier_tier_experts", "gauge", "Experts in each tier.");
    for (int t = 0; t < 4; t++)
        printf("moetier_tier_experts{tier=\"%s\"} %lu\n", tier_name(t), c[t]);

    metric_head("moetier_migrations_total", "counter", "Expert migrations, by direction.");
    printf("moetier_migrations_total{direction=\"promote\"} %llu\n", (unsigned long long)h->promotions);
    printf("moetier_migrations_total{direction=\"demote\"} %llu\n", (unsigned long long)h->demotions);
    metric_head("moetier_migrated_bytes_total", "counter", "Bytes migrated, by direction.");
    printf("moetier_migrated_bytes_total{direction=\"promote\"} %llu\n", (unsigned long long)h->bytes_promoted);
    printf("moetier_migrated_bytes_total{direction=\"demote\"} %llu\n", (unsigned long long)h->bytes_demoted);

    struct per_token p = per_token(h);
    metric_head("moetier_slow_read_bytes_per_token", "gauge",
                "Slow-tier bytes read per decode token, by kind: direct (demand misses of sampled steps, "
                "read in place), promoted, prefetched.");
    const char *kind[] = { "direct", "promoted", "prefetched" };
    double val[] = { p.direct, p.promoted, p.prefetched };
    for (int k = 0; k < 3; k++)
        if (!isnan(val[k]))
            printf("moetier_slow_read_bytes_per_token{kind=\"%s\"} %.6g\n", kind[k], val[k]);
    metric_head("moetier_sampled_expert_uses_total", "counter",
                "Uses of tierable experts by sampled decode steps, by where they were (dram hit, slow miss).");
    printf("moetier_sampled_expert_uses_total{result=\"hit\"} %llu\n", (unsigned long long)h->traffic_hits);
    printf("moetier_sampled_expert_uses_total{result=\"miss\"} %llu\n",
           (unsigned long long)(h->traffic_accesses - h->traffic_hits));
    metric_head("moetier_dram_hit_ratio", "gauge", "Share of sampled expert uses served from the DRAM cache, 0-1.");
    if (!isnan(p.hit_rate))
        printf("moetier_dram_hit_ratio %.6g\n", p.hit_rate);

    metric_head("moetier_sampler_samples_total", "counter", "Sampling periods completed.");
    printf("moetier_sampler_samples_total %llu\n", (unsigned long long)h->samples);
    metric_head("moetier_sampler_seconds_total", "counter", "Time spent in the sampler.");
    printf("moetier_sampler_seconds_total %.9f\n", (double)h->sampler_ns / 1e9);
}

int cmd_stat(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, 0, 'j' },
        { "prometheus", no_argument, 0, 'p' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int json = 0, prom = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OK;
        } else if (c == 'j') {
            json = 1;
        } else if (c == 'p') {
            prom = 1;
        } else {
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (moetier stat --help)", argv[optind - 1]);
        }
    }
    if (json && prom)
        return cli_error(CLI_USAGE, CMD, "--json and --prometheus exclude each other");
    if (argc - optind > 1)
        return cli_error(CLI_USAGE, CMD, "one process at a time ('%s' and '%s')", argv[optind], argv[optind + 1]);

    struct view v;
    int rc = view_load(CMD, optind < argc ? argv[optind] : NULL, 0, &v);
    if (rc)
        return rc;
    if (json)
        print_json(&v);
    else if (prom)
        print_prometheus(&v);
    else
        print_human(&v);
    view_free(&v);
    if (fflush(stdout) || ferror(stdout))
        return cli_error(CLI_FAIL, CMD, "writing the output failed");
    return CLI_OK;
}
