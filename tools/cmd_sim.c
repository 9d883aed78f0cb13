/*
 * moetier sim: what a machine would decode at, from a routing trace. The
 * runtime's policies run over the trace through replay's engine
 * (tiering/replay.h); the experts each token reads, hits and misses, are
 * scaled to a real model's shape and costed on a machine's tiers
 * (tiering/tier_model.h); Memory Mode runs the trace through a direct-mapped
 * DRAM cache (tiering/tier_mm.h). docs/sim.md writes the models down.
 *
 * Scaling: the trace's own pairs stand for the shape's; the DRAM holds the
 * same share of each (share = DRAM / the shape's expert bytes), and each
 * outcome's share of the trace's accesses is applied to the shape's
 * accesses per token (its MoE layers x top-k).
 */
#include "tiering/page_cache_model.h"
#include "tiering/replay.h"
#include "tiering/tier_mm.h"
#include "tiering/tier_model.h"
#include "common/json.h"
#include "common/size.h"
#include "profiler/ggml_types.h"
#include "tools/cli.h"
#include "tools/hw_presets.h"
#include "tools/mkmoe_preset.h"
#include "tools/plot_png.h"
#include "tools/sim_shape.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD "sim"
#define MM_CHUNKS_PER_PAIR 64
#define MAX_ROWS 8
#define READAROUND_PARTS 3 /* an expert's ranges: gate, up, down */
#define MAX_BUDGETS 16
#define GB 1e9

struct row {
    const char *name, *what;
    double hit_rate;
    double active_share; /* plain mmap on the kernel's lists: the page cache's share on the active list; else < 0 */
    struct moetier_token_load load;
    struct moetier_token_cost cost;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier sim --trace T.trace (--dram SIZE | --cache-frac F | --sweep SIZE,...)\n"
            "                   [--plot OUT.png] [--policy P]\n"
            "                   [--hw PRESET[+PRESET...] | --hw-file F] [--shape NAME]\n"
            "                   [--quant Q] [--expert-size SIZE] [--cpu-gweights X]\n"
            "                   [--dense-bytes SERIAL[,SHARED]] [--mm-layout contiguous|random]\n"
            "                   [--streams parallel|serial] [--colloid] [--read-around SIZE]\n"
            "                   [--page-cache kernel|lru]\n"
            "                   [--json]\n"
            "\n"
            "Predicts decode tokens/s on a machine: the trace runs through the runtime's\n"
            "cache policy (replay's engine), its hits and misses are scaled to a model's\n"
            "shape and costed on the machine's tiers (docs/sim.md). Rows: Memory Mode\n"
            "(Optane), every expert from the slow tier, plain LRU, the policy, belady\n"
            "(the clairvoyant cache) and the hardware's bandwidth bound.\n"
            "\n"
            "  --trace       a .trace file (data/traces/README.md)\n"
            "  --dram        DRAM for experts, as 192G (also Memory Mode's cache size)\n"
            "  --cache-frac  or the share of all experts DRAM holds, as 0.5 or 50%%\n"
            "  --sweep       or increasing DRAM budgets, as 64G,128G,192G,256G,384G,512G: a table\n"
            "                of every row's tok/s (slow-tier GB per token) at each (--json: sweep:\n"
            "                [{dram_bytes, cache_share, slots, rows}])\n"
            "  --plot        with --sweep: also a PNG of slow-tier GB per token and tok/s\n"
            "                against the budget, a line per row\n"
            "  --policy      a replay policy or auto (default auto: %s)\n"
            "  --hw          DRAM+SLOW[+GPU]: %s\n"
            "                (default this: the profile moetier bench writes)\n"
            "  --hw-file     the machine profile `this` reads (default %s)\n"
            "  --shape       %s (default: the trace's own, with --expert-size)\n"
            "  --quant       q2_K, q3_K, q4_K, q5_K, q6_K, q8_0, f16 ... (default q4_K)\n"
            "  --expert-size one expert's bytes, without --shape\n"
            "  --dense-bytes with --expert-size: the dense bytes a token reads, serial (attention)\n"
            "                and beside the experts (shared experts)\n"
            "  --cpu-gweights  the CPU's dot rate in 1e9 weights/s, all cores (0: no ceiling)\n"
            "  --mm-layout   Memory Mode's mapping of expert bytes to cache sets: by address\n"
            "                (contiguous, default) or scattered pages (random)\n"
            "  --streams     DRAM and the slow tier read at once (parallel, default) or in\n"
            "                turns (serial: llama.cpp's threads share each expert in turn)\n"
            "  --colloid     a row for the policy's cache run by Colloid's rule: hits moved\n"
            "                to in-place slow reads until both tiers end together (byte tiers)\n"
            "  --read-around on a block tier, the lru row as plain mmap reads: each fault on an\n"
            "                expert's part (a third) reads SIZE of the file around it, neighbours\n"
            "                included (the kernel's window: 2 x read_ahead_kb under llama.cpp)\n"
            "  --page-cache  with --read-around, what the page cache keeps: the kernel's\n"
            "                active and inactive lists (kernel, default) or one LRU list (lru)\n"
            "  --json        one JSON object (schema 1): hit_rate, bytes_per_token, bytes_promoted,\n"
            "                tokens_per_s of the policy, bounds, rows, machine, shape\n",
            moetier_policy_auto(0), hw_preset_names(), "$XDG_STATE_HOME/moetier/machine.json", mkmoe_preset_names());
}

static int known_policy(const char *name)
{
    if (strcmp(name, "auto") == 0)
        return 1;
    for (int i = 0; moetier_policy_names[i]; i++)
        if (strcmp(name, moetier_policy_names[i]) == 0)
            return 1;
    return 0;
}

/* Replays `name` and turns its outcome shares into the shape's experts per token. */
static int replay_row(const struct moetier_routing *r, const char *name, double share, double per_token,
                      double moe_layers, struct row *w)
{
    const char *real = strcmp(name, "auto") == 0 ? moetier_policy_auto(0) : name;
    double hl = strcmp(real, "predict") == 0 ? MOETIER_PREDICT_HALF_LIFE_TOKENS
                : strcmp(real, "adapt") == 0 ? MOETIER_ADAPT_HALF_LIFE_TOKENS
                                             : 0;
    struct moetier_policy_opts po = { .half_life = hl * r->layers * r->topk };
    struct moetier_replay_result x;
    int rc = moetier_replay_policy(r, real, share, &po, &x);
    if (rc)
        return rc;
    double a = (double)x.accesses;
    w->hit_rate = x.hits / a;
    w->load.hits = per_token * x.hits / a;
    w->load.promoted = per_token * x.promoted / a;
    w->load.direct = per_token * x.direct / a;
    w->load.prefetched = per_token * x.prefetched / a;
    /* the share of layer steps with a miss, on the shape's layers */
    w->load.miss_layers = moe_layers * (double)x.miss_steps * r->topk / a;
    /* what the cache let go: evicted, or read without a place */
    w->load.drops = per_token * (double)(x.evictions + x.direct) / a;
    return 0;
}

static void put_row_json(struct json *j, const struct row *w)
{
    const struct moetier_token_cost *c = &w->cost;
    json_obj_begin(j);
    json_key(j, "name"), json_str(j, w->name);
    json_key(j, "what"), json_str(j, w->what);
    json_key(j, "hit_rate"), json_double(j, w->hit_rate);
    json_key(j, "bytes_per_token");
    json_obj_begin(j);
    json_key(j, "dram_read"), json_double(j, c->dram_read);
    json_key(j, "dram_write"), json_double(j, c->dram_write);
    json_key(j, "slow_read"), json_double(j, c->slow_read);
    json_obj_end(j);
    json_key(j, "bytes_promoted"), json_double(j, (w->load.promoted + w->load.prefetched) * w->load.expert_bytes);
    json_key(j, "seconds_per_token");
    json_obj_begin(j);
    json_key(j, "dram"), json_double(j, c->t_dram);
    json_key(j, "slow"), json_double(j, c->t_slow);
    json_key(j, "cpu"), json_double(j, c->t_cpu);
    json_key(j, "gpu_serial"), json_double(j, c->t_gpu_serial);
    json_key(j, "gpu_overlap"), json_double(j, c->t_gpu_overlap);
    json_key(j, "sync"), json_double(j, c->t_sync);
    json_key(j, "token"), json_double(j, c->t_token);
    json_obj_end(j);
    json_key(j, "tokens_per_s"), json_double(j, c->t_token > 0 ? 1 / c->t_token : 0);
    json_key(j, "bound"), json_str(j, c->bound);
    if (w->active_share >= 0)
        json_key(j, "page_cache_active_share"), json_double(j, w->active_share);
    json_obj_end(j);
}

static const struct row *find_row(const struct row *rows, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(rows[i].name, name) == 0)
            return &rows[i];
    return NULL;
}

struct sim_ctx {
    const struct moetier_routing *r;
    const struct sim_shape *s;
    const struct hw_machine *h;
    const char *policy;
    double share;
    uint32_t slots;
    int mm_random, serial, colloid;
    double read_around; /* bytes of the kernel's read-around window; 0: none */
    enum moetier_page_cache_lists page_cache; /* what plain mmap's page cache keeps */
};

/* The scenarios' rows at one DRAM budget (ctx->share of the experts). */
static int sim_rows(const struct sim_ctx *ctx, struct row *rows, int *n_out)
{
    const struct moetier_routing *r = ctx->r;
    const struct sim_shape *s = ctx->s;
    const struct hw_machine *h = ctx->h;
    const char *policy = ctx->policy;
    double share = ctx->share;
    uint32_t slots = ctx->slots;
    int mm_random = ctx->mm_random, serial = ctx->serial, colloid = ctx->colloid;
    int read_around = ctx->read_around > 0 && h->m.slow.kind == MOETIER_TIER_BLOCK;
    double per_token = (double)s->moe_layers * s->topk; /* the shape's expert reads per token */
    int n = 0, rc;
    memset(rows, 0, MAX_ROWS * sizeof *rows);
    for (int i = 0; i < MAX_ROWS; i++)
        rows[i].active_share = -1;
    /* Memory Mode: a hardware cache of the same DRAM over the slow tier */
    if (h->memory_mode) {
        struct moetier_mm_result mm;
        rc = moetier_mm_run(r, share * r->layers * r->experts, MM_CHUNKS_PER_PAIR, mm_random, &mm);
        if (rc)
            return cli_error(CLI_FAIL, CMD, "memory mode: %s", strerror(-rc));
        struct row *w = &rows[n++];
        w->name = "memory-mode", w->what = "DRAM as a direct-mapped cache of PMem";
        w->hit_rate = mm.hits / (double)mm.accesses;
        w->load.hits = per_token * w->hit_rate;
        w->load.mm_misses = per_token - w->load.hits;
    }
    if (h->m.slow.kind == MOETIER_TIER_BYTE) {
        struct row *w = &rows[n++];
        w->name = "all-slow", w->what = "every expert read in place from the slow tier";
        w->load.direct = per_token;
    }
    const char *names[3] = { "lru", policy, "belady" };
    const char *whats[3] = { h->m.slow.kind == MOETIER_TIER_BLOCK ? "plain mmap: the page cache's LRU under the cap"
                                                                 : "an LRU cache of experts in DRAM",
                             "moetier: the runtime's policy", "clairvoyant demand cache: the fewest misses" };
    for (int i = 0; i < 3; i++) {
        if (i == 1 && (!strcmp(policy, names[0]) || !strcmp(policy, names[2])))
            continue; /* --policy lru or belady: a row of its own already */
        struct row *w = &rows[n++];
        w->name = names[i], w->what = whats[i];
        if (i == 0 && read_around) {
            /* plain mmap: the page cache's LRU over expert parts, each fault
             * reading the kernel's window (tier_model.h) */
            struct moetier_readaround_result ra;
            double part = s->expert_bytes / READAROUND_PARTS;
            rc = moetier_tier_readaround(r, ctx->page_cache, share * r->layers * r->experts * s->expert_bytes,
                                         part, READAROUND_PARTS, ctx->read_around, &ra);
            if (rc)
                return cli_error(CLI_FAIL, CMD, "read-around: %s", strerror(-rc));
            double a = (double)ra.accesses, parts_per_token = per_token * READAROUND_PARTS;
            w->what = ctx->page_cache == MOETIER_PAGE_CACHE_KERNEL
                          ? "plain mmap: the kernel's active and inactive lists under the cap, its read-around"
                          : "plain mmap: the page cache's LRU under the cap, the kernel's read-around";
            w->hit_rate = ra.hits / a;
            w->load.hits = per_token * w->hit_rate;
            w->load.promoted = per_token - w->load.hits;
            w->load.readaround_bytes = parts_per_token * ra.bytes_read / a - w->load.promoted * s->expert_bytes;
            w->load.windows = parts_per_token * ra.windows / a;
            if (ctx->page_cache == MOETIER_PAGE_CACHE_KERNEL && ra.cached_parts > 0)
                w->active_share = (double)ra.active_parts / (double)ra.cached_parts;
            continue;
        }
        if ((rc = replay_row(r, names[i], share, per_token, s->moe_layers, w)))
            return cli_error(CLI_FAIL, CMD, "replay %s: %s", names[i], strerror(-rc));
    }
    {
        /* the clairvoyant static placement: the trace's hottest pairs pinned
         * from the start, every other read from the slow tier, nothing moved */
        struct row *w = &rows[n++];
        w->name = "hot-static", w->what = "the trace's hottest pairs pinned (clairvoyant counts), none moved";
        w->hit_rate = moetier_routing_hot_share(r, (double)slots / (r->layers * r->experts));
        w->load.hits = per_token * w->hit_rate;
        w->load.direct = per_token - w->load.hits;
    }
    if (colloid && h->m.slow.kind == MOETIER_TIER_BYTE) {
        struct row *w = &rows[n++];
        *w = *find_row(rows, n - 1, policy);
        w->name = "colloid", w->what = "the policy's cache, hits moved to the slow tier till both end together";
        /* the load's constants are set below; the rule needs them now */
        w->load.expert_bytes = s->expert_bytes, w->load.expert_weights = s->expert_weights;
        w->load.dense_serial_bytes = s->dense_serial_bytes, w->load.dense_overlap_bytes = s->dense_overlap_bytes;
        w->load.moe_layers = s->moe_layers;
        moetier_tier_colloid(&h->m, &w->load);
        w->hit_rate = w->load.hits / per_token;
    }
    /* the bandwidth bound: both tiers stream at once in proportion to their
     * bandwidth, whatever fits (Colloid's balance at its best) */
    struct moetier_machine mb = h->m;
    mb.slow.kind = MOETIER_TIER_BYTE, mb.slow.latency_us = 0;
    double dr = h->m.dram.read_gbps, sr = h->m.slow.read_gbps;
    {
        /* DRAM takes its share of all bytes read (the dense part, on the CPU, is its own) */
        double x = per_token * s->expert_bytes,
               dn = h->m.gpu_gbps > 0 ? 0 : s->dense_serial_bytes + s->dense_overlap_bytes;
        double hit = serial ? 1 : ((x + dn) * dr / (dr + sr) - dn) / x; /* in turns: DRAM only */
        struct row *w = &rows[n++];
        w->name = "bandwidth", w->what = serial ? "DRAM's read bandwidth, capacity ignored"
                                                 : "both tiers' read bandwidth, capacity ignored";
        w->hit_rate = fmin(1, fmax(0, hit));
        w->load.hits = per_token * w->hit_rate;
        w->load.direct = per_token - w->load.hits;
    }
    for (int i = 0; i < n; i++) {
        struct moetier_token_load *l = &rows[i].load;
        l->expert_bytes = s->expert_bytes, l->expert_weights = s->expert_weights;
        l->dense_serial_bytes = s->dense_serial_bytes, l->dense_serial_weights = s->dense_serial_weights;
        l->dense_overlap_bytes = s->dense_overlap_bytes, l->dense_overlap_weights = s->dense_overlap_weights;
        l->moe_layers = s->moe_layers;
        moetier_tier_cost(strcmp(rows[i].name, "bandwidth") ? &h->m : &mb, l, &rows[i].cost);
    }
    *n_out = n;
    return CLI_OK;
}

/* What every JSON output starts with: the run, the shape and the machine. */
static void put_head_json(struct json *j, const struct sim_ctx *ctx, const char *trace, const char *quant)
{
    json_key(j, "schema"), json_int(j, 1);
    json_key(j, "trace"), json_str(j, trace);
    json_key(j, "tokens"), json_uint(j, ctx->r->tokens);
    json_key(j, "policy"), json_str(j, ctx->policy);
    json_key(j, "policy_runs"), json_str(j, strcmp(ctx->policy, "auto") ? ctx->policy : moetier_policy_auto(0));
    json_key(j, "shape");
    json_obj_begin(j);
    json_key(j, "name"), json_str(j, ctx->s->name);
    json_key(j, "quant"), json_str(j, quant);
    json_key(j, "moe_layers"), json_int(j, ctx->s->moe_layers);
    json_key(j, "experts"), json_int(j, ctx->s->experts);
    json_key(j, "topk"), json_int(j, ctx->s->topk);
    json_key(j, "expert_bytes"), json_double(j, ctx->s->expert_bytes);
    json_key(j, "total_expert_bytes"), json_double(j, ctx->s->total_expert_bytes);
    json_key(j, "dense_serial_bytes"), json_double(j, ctx->s->dense_serial_bytes);
    json_key(j, "dense_overlap_bytes"), json_double(j, ctx->s->dense_overlap_bytes);
    json_obj_end(j);
    json_key(j, "machine");
    json_obj_begin(j);
    json_key(j, "dram"), json_str(j, ctx->h->dram);
    json_key(j, "slow"), json_str(j, ctx->h->slow);
    json_key(j, "slow_kind"), json_str(j, ctx->h->m.slow.kind == MOETIER_TIER_BLOCK ? "block" : "byte");
    json_key(j, "gpu"), json_str(j, ctx->h->gpu);
    json_key(j, "cpu"), json_str(j, ctx->h->cpu);
    json_key(j, "dram_read_gbps"), json_double(j, ctx->h->m.dram.read_gbps);
    json_key(j, "dram_write_gbps"), json_double(j, ctx->h->m.dram.write_gbps);
    json_key(j, "slow_read_gbps"), json_double(j, ctx->h->m.slow.read_gbps);
    json_key(j, "slow_write_gbps"), json_double(j, ctx->h->m.slow.write_gbps);
    json_key(j, "slow_latency_us"), json_double(j, ctx->h->m.slow.latency_us);
    json_key(j, "cpu_gweights"), json_double(j, ctx->h->m.cpu_gweights);
    json_key(j, "gpu_gbps"), json_double(j, ctx->h->m.gpu_gbps);
    json_key(j, "read_around_bytes"), json_double(j, ctx->read_around);
    if (ctx->read_around > 0)
        json_key(j, "page_cache"), json_str(j, moetier_page_cache_lists_name(ctx->page_cache));
    json_obj_end(j);
}

/* The text output's first lines: the trace, the shape and the machine. */
static void print_head(const struct sim_ctx *ctx, const char *trace, const char *quant)
{
    const struct moetier_routing *r = ctx->r;
    const struct sim_shape *s = ctx->s;
    const struct hw_machine *h = ctx->h;
    char a[32], b[32];
    printf("trace:    %s (%d layers x %d experts, top-%d, %llu tokens)\n", trace, r->layers, r->experts, r->topk,
           (unsigned long long)r->tokens);
    printf("shape:    %s at %s: %d MoE layers x %d experts, top-%d; expert %s, all experts %s\n", s->name, quant,
           s->moe_layers, s->experts, s->topk, moetier_size_format((uint64_t)s->expert_bytes, a, sizeof a),
           moetier_size_format((uint64_t)s->total_expert_bytes, b, sizeof b));
    printf("machine:  DRAM %s (%.1f GB/s read), slow %s (%s, %.1f GB/s read, %g us), GPU %s, CPU %s (%.0fe9 "
           "weights/s)\n",
           h->dram, h->m.dram.read_gbps, h->slow, h->m.slow.kind == MOETIER_TIER_BLOCK ? "block" : "byte",
           h->m.slow.read_gbps, h->m.slow.latency_us, h->gpu, h->cpu, h->m.cpu_gweights);
    if (ctx->read_around > 0)
        printf("lru:      the kernel's read-around, %s per fault on a third of an expert; page cache: %s\n",
               moetier_size_format((uint64_t)ctx->read_around, a, sizeof a),
               ctx->page_cache == MOETIER_PAGE_CACHE_KERNEL ? "the kernel's two lists" : "one LRU list");
    if (ctx->read_around > 0 && (h->m.slow.reclaim_gbps > 0 || h->m.slow.map_fault_bytes > 0))
        printf("          with the reclaim of what it displaces (%.2f GB/s) and the faults that map it (%.1f us a "
               "%s fault)\n",
               h->m.slow.reclaim_gbps, h->m.slow.map_fault_us,
               moetier_size_format((uint64_t)h->m.slow.map_fault_bytes, a, sizeof a));
}

/* A row's name as a reader knows it: the policy's, with auto resolved. */
static const char *row_label(const struct row *w, char *buf, size_t cap)
{
    if (strcmp(w->name, "auto") == 0)
        snprintf(buf, cap, "%s (auto)", moetier_policy_auto(0));
    else
        snprintf(buf, cap, "%s", w->name);
    return buf;
}

/* Panels of slow-tier GB per token and tokens/s against the budget, a line per row. */
static int sweep_plot(const char *path, const struct sim_ctx *ctx, const char *trace, const char *quant, int nb,
                      const uint64_t *budget, char ticks[][16], const struct row (*rows)[MAX_ROWS], int n)
{
    double x[MAX_BUDGETS], gb[MAX_ROWS * MAX_BUDGETS], tps[MAX_ROWS * MAX_BUDGETS];
    const char *xt[MAX_BUDGETS], *names[MAX_ROWS];
    char nm[MAX_ROWS][32], title[200], sub[1200], err[4400];
    for (int b = 0; b < nb; b++) {
        x[b] = (double)budget[b] / GB, xt[b] = ticks[b];
        for (int i = 0; i < n; i++) {
            gb[i * nb + b] = rows[b][i].cost.slow_read / GB;
            tps[i * nb + b] = 1 / rows[b][i].cost.t_token;
        }
    }
    for (int i = 0; i < n; i++)
        names[i] = row_label(&rows[0][i], nm[i], sizeof nm[i]);
    snprintf(title, sizeof title, "moetier sim: %s at %s on %s+%s%s%s", ctx->s->name, quant, ctx->h->dram,
             ctx->h->slow, *ctx->h->gpu ? "+" : "", ctx->h->gpu);
    char all[32];
    snprintf(sub, sizeof sub, "trace %s (%llu tokens); policy %s; DRAM for experts on x, of %s in all", trace,
             (unsigned long long)ctx->r->tokens, strcmp(ctx->policy, "auto") ? ctx->policy : moetier_policy_auto(0),
             moetier_size_format((uint64_t)ctx->s->total_expert_bytes, all, sizeof all));
    static const char *const ylabels[2] = { "slow-tier GB read per token", "tokens/s" };
    const double *y[2] = { gb, tps };
    struct plot_lines p = {
        .title = title, .subtitle = sub, .xlabel = "DRAM for experts", .nx = nb, .x = x, .xticks = xt,
        .nseries = n, .names = names, .npanels = 2, .ylabels = ylabels, .y = y,
    };
    if (plot_lines_png(path, &p, err, sizeof err))
        return cli_error(CLI_FAIL, CMD, "--plot: %s", err);
    return CLI_OK;
}

/* --sweep: every row at each budget, as a table (tok/s and slow-tier GB per
 * token) or JSON, and the plot when asked. */
static int sweep(struct sim_ctx *ctx, const char *trace, const char *quant, int nb, const uint64_t *budget,
                 char ticks[][16], int json, const char *plot)
{
    static struct row rows[MAX_BUDGETS][MAX_ROWS];
    int n = 0;
    for (int b = 0; b < nb; b++) {
        ctx->share = fmin(1.0, (double)budget[b] / ctx->s->total_expert_bytes);
        ctx->slots = moetier_replay_slots(ctx->r, ctx->share);
        if (ctx->slots == 0)
            return cli_error(CLI_USAGE, CMD, "--sweep %s: less than one of the trace's %d pairs", ticks[b],
                             ctx->r->layers * ctx->r->experts);
        int code = sim_rows(ctx, rows[b], &n);
        if (code != CLI_OK)
            return code;
    }
    if (json) {
        struct json j;
        json_init(&j, stdout, 0);
        json_obj_begin(&j);
        put_head_json(&j, ctx, trace, quant);
        json_key(&j, "sweep");
        json_arr_begin(&j);
        for (int b = 0; b < nb; b++) {
            double share = fmin(1.0, (double)budget[b] / ctx->s->total_expert_bytes);
            json_obj_begin(&j);
            json_key(&j, "dram_bytes"), json_double(&j, (double)budget[b]);
            json_key(&j, "cache_share"), json_double(&j, share);
            json_key(&j, "slots"), json_uint(&j, moetier_replay_slots(ctx->r, share));
            json_key(&j, "rows");
            json_arr_begin(&j);
            for (int i = 0; i < n; i++)
                put_row_json(&j, &rows[b][i]);
            json_arr_end(&j);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        char nm[32];
        print_head(ctx, trace, quant);
        printf("\ntok/s (slow-tier GB read per token) at each DRAM budget for experts\n%-8s %6s", "DRAM", "share");
        for (int i = 0; i < n; i++)
            printf(" %13s", row_label(&rows[0][i], nm, sizeof nm));
        printf("\n");
        for (int b = 0; b < nb; b++) {
            printf("%-8s %5.0f%%", ticks[b], fmin(1.0, (double)budget[b] / ctx->s->total_expert_bytes) * 100);
            for (int i = 0; i < n; i++) {
                char cell[32];
                snprintf(cell, sizeof cell, "%.2f (%.1f)", 1 / rows[b][i].cost.t_token,
                         rows[b][i].cost.slow_read / GB);
                printf(" %13s", cell);
            }
            printf("\n");
        }
        printf("(per token; GB = 1e9 bytes; docs/sim.md)\n");
    }
    return plot ? sweep_plot(plot, ctx, trace, quant, nb, budget, ticks, (const struct row(*)[MAX_ROWS])rows, n)
                : CLI_OK;
}

int cmd_sim(int argc, char **argv)
{
    enum { O_TRACE = 256, O_DRAM, O_FRAC, O_POLICY, O_HW, O_HWFILE, O_SHAPE, O_QUANT, O_ESIZE, O_CPU, O_MM, O_JSON,
           O_DENSE, O_STREAMS, O_COLLOID, O_SWEEP, O_PLOT, O_RA, O_PAGE_CACHE };
    static const struct option opts[] = {
        { "trace", required_argument, 0, O_TRACE },     { "dram", required_argument, 0, O_DRAM },
        { "cache-frac", required_argument, 0, O_FRAC }, { "policy", required_argument, 0, O_POLICY },
        { "hw", required_argument, 0, O_HW },           { "hw-file", required_argument, 0, O_HWFILE },
        { "shape", required_argument, 0, O_SHAPE },     { "quant", required_argument, 0, O_QUANT },
        { "expert-size", required_argument, 0, O_ESIZE }, { "cpu-gweights", required_argument, 0, O_CPU },
        { "mm-layout", required_argument, 0, O_MM },    { "json", no_argument, 0, O_JSON },
        { "dense-bytes", required_argument, 0, O_DENSE }, { "streams", required_argument, 0, O_STREAMS },
        { "colloid", no_argument, 0, O_COLLOID },       { "sweep", required_argument, 0, O_SWEEP },
        { "plot", required_argument, 0, O_PLOT },       { "read-around", required_argument, 0, O_RA },
        { "page-cache", required_argument, 0, O_PAGE_CACHE },
        { "help", no_argument, 0, 'h' },                { 0, 0, 0, 0 },
    };
    const char *trace = NULL, *policy = "auto", *hw = NULL, *hw_file = NULL, *shape_name = NULL, *quant = "q4_K";
    uint64_t dram = 0, expert_size = 0, dense[2] = { 0, 0 }, read_around = 0;
    enum moetier_page_cache_lists page_cache = MOETIER_PAGE_CACHE_KERNEL;
    double frac = 0, cpu_override = -1;
    int json = 0, mm_random = 0, serial = 0, colloid = 0, c, nb = 0;
    uint64_t budget[MAX_BUDGETS];
    char ticks[MAX_BUDGETS][16];
    const char *plot = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        struct moetier_size sz;
        char *end;
        switch (c) {
        case 'h': usage(stdout); return CLI_OK;
        case O_TRACE: trace = optarg; break;
        case O_POLICY: policy = optarg; break;
        case O_HW: hw = optarg; break;
        case O_HWFILE: hw_file = optarg; break;
        case O_SHAPE: shape_name = optarg; break;
        case O_QUANT: quant = optarg; break;
        case O_JSON: json = 1; break;
        case O_DRAM:
            if (moetier_size_parse(optarg, 0, &sz) || sz.bytes == 0)
                return cli_error(CLI_USAGE, CMD, "bad --dram '%s' (a size, as 192G)", optarg);
            dram = sz.bytes;
            break;
        case O_ESIZE:
            if (moetier_size_parse(optarg, 0, &sz) || sz.bytes == 0)
                return cli_error(CLI_USAGE, CMD, "bad --expert-size '%s' (a size, as 14M)", optarg);
            expert_size = sz.bytes;
            break;
        case O_DENSE: {
            char buf[64];
            char *comma = strchr(optarg, ',');
            struct moetier_size sz2;
            snprintf(buf, sizeof buf, "%.*s", comma ? (int)(comma - optarg) : (int)strlen(optarg), optarg);
            if (moetier_size_parse(buf, 0, &sz) || (comma && moetier_size_parse(comma + 1, 0, &sz2)))
                return cli_error(CLI_USAGE, CMD, "bad --dense-bytes '%s' (SERIAL[,SHARED], as 3G,1G)", optarg);
            dense[0] = sz.bytes, dense[1] = comma ? sz2.bytes : 0;
            break;
        }
        case O_FRAC:
            frac = strtod(optarg, &end);
            if (end != optarg && *end == '%')
                frac /= 100, end++;
            if (end == optarg || *end || !(frac > 0 && frac <= 1))
                return cli_error(CLI_USAGE, CMD, "bad --cache-frac '%s' (in (0, 1], as 0.5 or 50%%)", optarg);
            break;
        case O_CPU:
            cpu_override = strtod(optarg, &end);
            if (end == optarg || *end || !(cpu_override >= 0) || !isfinite(cpu_override))
                return cli_error(CLI_USAGE, CMD, "bad --cpu-gweights '%s' (>= 0)", optarg);
            break;
        case O_COLLOID: colloid = 1; break;
        case O_RA:
            if (moetier_size_parse(optarg, 0, &sz) || sz.bytes == 0)
                return cli_error(CLI_USAGE, CMD, "bad --read-around '%s' (a size, as 16M)", optarg);
            read_around = sz.bytes;
            break;
        case O_PAGE_CACHE:
            if (moetier_page_cache_lists_parse(optarg, &page_cache))
                return cli_error(CLI_USAGE, CMD, "bad --page-cache '%s' (kernel or lru)", optarg);
            break;
        case O_PLOT:
            if (!*optarg)
                return cli_error(CLI_USAGE, CMD, "--plot needs a file name");
            plot = optarg;
            break;
        case O_SWEEP:
            nb = 0;
            for (const char *p = optarg; *p; nb++) {
                size_t len = strcspn(p, ",");
                char buf[16];
                if (nb == MAX_BUDGETS || len == 0 || len >= sizeof buf)
                    return cli_error(CLI_USAGE, CMD, "bad --sweep '%s' (1 to %d sizes, as 64G,128G,192G)", optarg,
                                     MAX_BUDGETS);
                snprintf(buf, sizeof buf, "%.*s", (int)len, p);
                if (moetier_size_parse(buf, 0, &sz) || sz.bytes == 0 || (nb && sz.bytes <= budget[nb - 1]))
                    return cli_error(CLI_USAGE, CMD, "bad --sweep '%s' (increasing sizes, as 64G,128G,192G)",
                                     optarg);
                budget[nb] = sz.bytes;
                snprintf(ticks[nb], sizeof ticks[nb], "%s", buf);
                p += len + (p[len] == ',');
            }
            if (nb == 0)
                return cli_error(CLI_USAGE, CMD, "bad --sweep '' (sizes, as 64G,128G,192G)");
            break;
        case O_STREAMS:
            if (strcmp(optarg, "parallel") && strcmp(optarg, "serial"))
                return cli_error(CLI_USAGE, CMD, "bad --streams '%s' (parallel or serial)", optarg);
            serial = strcmp(optarg, "serial") == 0;
            break;
        case O_MM:
            if (strcmp(optarg, "random") && strcmp(optarg, "contiguous"))
                return cli_error(CLI_USAGE, CMD, "bad --mm-layout '%s' (contiguous or random)", optarg);
            mm_random = strcmp(optarg, "random") == 0;
            break;
        default:
            if (optopt)
                return cli_error(CLI_USAGE, CMD, "option '%s' needs a value (see --help)", argv[optind - 1]);
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_error(CLI_USAGE, CMD, "unexpected argument '%s' (the trace goes after --trace)", argv[optind]);
    if (!trace)
        return cli_error(CLI_USAGE, CMD, "missing --trace (see --help)");
    if ((dram != 0) + (frac > 0) + (nb > 0) != 1)
        return cli_error(CLI_USAGE, CMD, "give one of --dram SIZE, --cache-frac F or --sweep SIZE,...");
    if (plot && !nb)
        return cli_error(CLI_USAGE, CMD, "--plot draws a --sweep (give --sweep SIZE,SIZE,...)");
    if (!known_policy(policy))
        return cli_error(CLI_USAGE, CMD, "unknown --policy '%s' (lru, lfu, static, predict, belady, adapt, reuse, auto)",
                         policy);
    int qt = moetier_ggml_type_by_name(quant);
    const struct moetier_ggml_type *qtype = qt < 0 ? NULL : moetier_ggml_type_get((uint32_t)qt);
    if (!qtype)
        return cli_error(CLI_USAGE, CMD, "unknown --quant '%s' (q2_K, q3_K, q4_K, q5_K, q6_K, q8_0, f16, ...)", quant);
    if (shape_name && !mkmoe_preset_find(shape_name))
        return cli_error(CLI_USAGE, CMD, "unknown --shape '%s' (%s)", shape_name, mkmoe_preset_names());
    if (!shape_name == !expert_size)
        return cli_error(CLI_USAGE, CMD, "give one of --shape NAME or --expert-size SIZE");
    if (shape_name && (dense[0] || dense[1]))
        return cli_error(CLI_USAGE, CMD, "--dense-bytes is for --expert-size (a --shape has its own)");

    struct hw_machine h;
    char err[512];
    if (hw_machine_parse(hw ? hw : "this", hw_file, &h, err, sizeof err))
        return cli_error(CLI_USAGE, CMD, "%s", err);
    if (cpu_override >= 0)
        h.m.cpu_gweights = cpu_override;
    if (read_around && h.m.slow.kind != MOETIER_TIER_BLOCK)
        return cli_error(CLI_USAGE, CMD, "--read-around is for a block slow tier (this, nvme-gen4)");
    h.m.serial_streams = serial;

    struct moetier_routing r;
    int rc = moetier_routing_load(trace, 1, &r, err, sizeof err);
    if (rc)
        return cli_error(rc == -ENOMEM ? CLI_FAIL : CLI_USAGE, CMD, "%s", err);
    int code = CLI_OK;
    if (!r.is_trace || !r.routes || r.tokens == 0) {
        code = cli_error(CLI_USAGE, CMD, "%s: not a trace with tokens (a .counts file has no order)", trace);
        goto out;
    }

    /* the shape: a real model's, or the trace's own with --expert-size */
    struct sim_shape s = { 0 };
    if (shape_name) {
        if (sim_shape_get(shape_name, (uint32_t)qt, &s)) {
            code = cli_error(CLI_USAGE, CMD, "--quant %s does not fit %s's widths", quant, shape_name);
            goto out;
        }
    } else {
        s.name = r.model;
        s.moe_layers = r.layers, s.experts = r.experts, s.topk = r.topk;
        s.expert_bytes = (double)expert_size;
        s.expert_weights = s.expert_bytes * qtype->block_size / qtype->type_size;
        s.total_expert_bytes = s.expert_bytes * r.layers * r.experts;
        /* dense weights at the same bits per weight as the experts */
        s.dense_serial_bytes = (double)dense[0], s.dense_overlap_bytes = (double)dense[1];
        s.dense_serial_weights = s.dense_serial_bytes * qtype->block_size / qtype->type_size;
        s.dense_overlap_weights = s.dense_overlap_bytes * qtype->block_size / qtype->type_size;
    }
    if (nb) {
        struct sim_ctx sx = { &r, &s, &h, policy, 0, 0, mm_random, serial, colloid, (double)read_around,
                              page_cache };
        code = sweep(&sx, trace, quant, nb, budget, ticks, json, plot);
        goto out;
    }
    double share = frac > 0 ? frac : fmin(1.0, (double)dram / s.total_expert_bytes);
    double dram_bytes = frac > 0 ? frac * s.total_expert_bytes : (double)dram;
    uint32_t slots = moetier_replay_slots(&r, share);
    if (slots == 0) {
        code = cli_error(CLI_USAGE, CMD, "DRAM for %.4f%% of the experts is less than one of the trace's %d pairs",
                         share * 100, r.layers * r.experts);
        goto out;
    }
    struct sim_ctx x = { &r, &s, &h, policy, share, slots, mm_random, serial, colloid, (double)read_around,
                         page_cache };
    struct row rows[MAX_ROWS];
    int n = 0;
    if ((code = sim_rows(&x, rows, &n)) != CLI_OK)
        goto out;
    const struct row *pol = find_row(rows, n, policy), *bel = find_row(rows, n, "belady"),
                     *bw = find_row(rows, n, "bandwidth");

    if (json) {
        struct json j;
        json_init(&j, stdout, 0);
        json_obj_begin(&j);
        put_head_json(&j, &x, trace, quant);
        json_key(&j, "dram_bytes"), json_double(&j, dram_bytes);
        json_key(&j, "cache_share"), json_double(&j, share);
        json_key(&j, "slots"), json_uint(&j, slots);
        /* the policy's figures at the top, as the issue asks */
        json_key(&j, "hit_rate"), json_double(&j, pol->hit_rate);
        json_key(&j, "bytes_per_token");
        json_obj_begin(&j);
        json_key(&j, "dram_read"), json_double(&j, pol->cost.dram_read);
        json_key(&j, "dram_write"), json_double(&j, pol->cost.dram_write);
        json_key(&j, "slow_read"), json_double(&j, pol->cost.slow_read);
        json_obj_end(&j);
        json_key(&j, "bytes_promoted"), json_double(&j, (pol->load.promoted + pol->load.prefetched) * s.expert_bytes);
        json_key(&j, "tokens_per_s"), json_double(&j, 1 / pol->cost.t_token);
        json_key(&j, "bounds");
        json_obj_begin(&j);
        json_key(&j, "belady_tokens_per_s"), json_double(&j, 1 / bel->cost.t_token);
        json_key(&j, "belady_hit_rate"), json_double(&j, bel->hit_rate);
        json_key(&j, "bandwidth_tokens_per_s"), json_double(&j, 1 / bw->cost.t_token);
        json_obj_end(&j);
        json_key(&j, "rows");
        json_arr_begin(&j);
        for (int i = 0; i < n; i++)
            put_row_json(&j, &rows[i]);
        json_arr_end(&j);
        json_obj_end(&j);
        json_finish(&j);
        goto out;
    }
    char a[32];
    print_head(&x, trace, quant);
    printf("DRAM:     %s for experts = %.1f%% of them (%u of the trace's %d pairs)\n\n",
           moetier_size_format((uint64_t)dram_bytes, a, sizeof a), share * 100, slots, r.layers * r.experts);
    printf("%-12s %8s %10s %10s %10s %9s  %-6s %s\n", "scenario", "hit", "DRAM GB/t", "slow GB/t", "promo GB/t",
           "tok/s", "waits", "what");
    for (int i = 0; i < n; i++) {
        const struct row *w = &rows[i];
        char nm[32];
        snprintf(nm, sizeof nm, "%s%s", w->name,
                 w == pol && strcmp(policy, "auto") == 0 ? "=auto" : "");
        printf("%-12s %8.4f %10.2f %10.2f %10.2f %9.2f  %-6s %s\n", nm, w->hit_rate,
               (w->cost.dram_read + w->cost.dram_write) / GB, w->cost.slow_read / GB,
               (w->load.promoted + w->load.prefetched) * s.expert_bytes / GB, 1 / w->cost.t_token, w->cost.bound,
               w->what);
    }
    printf("(per token; GB = 1e9 bytes; waits: the stream the token waits on; docs/sim.md)\n");
out:
    moetier_routing_free(&r);
    return code;
}
