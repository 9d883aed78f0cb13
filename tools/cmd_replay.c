/*
 * moetier replay: replays a routing trace (data/traces/README.md's .trace
 * format) through the DRAM expert cache's policies (tiering/policy.h) at one or
 * more cache sizes and prints their hit rates and the slow-tier reads (bytes)
 * per token each makes, as tiering/replay.h defines them; belady's reads are
 * the bound every ratio is against (the fewest a demand cache can make).
 * `static` is ranked on the first half of the trace and scored on the second
 * half only; the winners are the best online policies (not belady) over the
 * whole trace, by hit rate and by slow-tier reads.
 */
#include "tiering/replay.h"
#include "common/json.h"
#include "common/size.h"
#include "tools/cli.h"
#include "tools/plot_png.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CMD "replay"
#define MAX_SHARES 16
#define MAX_POLICIES 8

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier replay TRACE [--policy NAME[,NAME...]|all] [--cache SHARE[,SHARE...]]\n"
            "                      [--half-life TOKENS] [--predict-half-life TOKENS]\n"
            "                      [--adapt-half-life TOKENS] [--prev-weight W] [--admit-cost READS]\n"
            "                      [--prefetch-gate P] [--expert-size SIZE] [--json]\n"
            "                      [--residency-plot OUT.png [--plot-tokens FROM:TO]]\n"
            "\n"
            "Replays a .trace through the expert cache: one global cache of\n"
            "floor(SHARE x layers x experts) (layer, expert) slots, tokens in order, layers\n"
            "in order, demand fetch on a miss, the running layer's experts pinned, cold\n"
            "misses counted. Prints the hit rate of each policy at each cache size, and\n"
            "the experts it reads from the slow tier per token (demand misses, misses\n"
            "served in place, prefetches used or not) against belady's, the bound.\n"
            "\n"
            "  --policy    lru, lfu, static, predict, belady, adapt, reuse, auto (the runtime's\n"
            "              default for a copy cache), or all (default all: every name but auto)\n"
            "              static: ranked by the first half's counts, scored on the second half\n"
            "              belady: the clairvoyant reference (knows the future)\n"
            "  --cache     shares of all pairs, as 10%% or 0.1 (default 10%%,25%%,50%%)\n"
            "  --half-life decay half-life of lfu's and reuse's counts, in tokens (default 0:\n"
            "              no decay)\n"
            "  --predict-half-life  the same for predict's eviction counts (default 5)\n"
            "  --adapt-half-life  the same for adapt's shadow costs (default %d)\n"
            "  --prev-weight  predict: weight of the previous token's choice against the\n"
            "              co-occurrence share (default 0.01)\n"
            "  --admit-cost  adapt: reads an admitted miss costs beyond the miss, as adapt\n"
            "              weighs its rules (default 0: the read fills the cache; 1: the\n"
            "              runtime per token, which reads a miss in place, then copies it)\n"
            "  --prefetch-gate  every policy but belady also reads in, while layer l runs,\n"
            "              layer l+1's experts whose chance of use (estimated from past\n"
            "              co-occurrence and repeats) is at least P, in (0, 1] (default: no\n"
            "              prefetch but predict's own); prints what the prefetches cost\n"
            "  --expert-size  bytes of one expert (one layer's): prints bytes per token,\n"
            "              else experts per token\n"
            "  --json      one JSON object: schema, trace, model, layers, experts, topk,\n"
            "              tokens, prefetch_gate, results: [{policy, cache_share, slots,\n"
            "              accesses, hits, hit_rate, hit_rate_second_half, evictions, prefetched,\n"
            "              prefetch_used, prefetch_accuracy, predicted,\n"
            "              prediction_accuracy, fetches, promoted, direct, slow_reads,\n"
            "              slow_reads_per_token, slow_bytes_per_token (null without\n"
            "              --expert-size), vs_belady}], expert_bytes, auto\n"
            "  --residency-plot  with one --policy and one --cache: also a PNG of the cache\n"
            "              over time: a column per token, a row per (layer, expert), coloured\n"
            "              when in DRAM after the token, hits and misses marked\n"
            "  --plot-tokens  the tokens it draws, FROM (default 0) to TO (not drawn; default\n"
            "              the end); a trace of more than %d drawn tokens is sampled\n",
            MOETIER_ADAPT_HALF_LIFE_TOKENS, PLOT_RES_MAX_COLS);
}

static int parse_shares(const char *s, double *out, int *n)
{
    char buf[256];
    if (strlen(s) >= sizeof buf)
        return -EINVAL;
    strcpy(buf, s);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        errno = 0;
        double v = strtod(tok, &end);
        if (end == tok || errno)
            return -EINVAL;
        if (*end == '%') {
            v /= 100;
            end++;
        }
        if (*end || !(v > 0 && v <= 1) || *n == MAX_SHARES)
            return -EINVAL;
        out[(*n)++] = v;
    }
    return *n ? 0 : -EINVAL;
}

static int parse_policies(const char *s, const char **out, int *n)
{
    static const char *const auto_name = "auto";
    *n = 0;
    for (const char *p = s; *p;) {
        size_t len = strcspn(p, ",");
        int found = 0;
        if (len == 3 && strncmp(p, "all", len) == 0)
            for (int i = 0; moetier_policy_names[i]; i++, found = 1) {
                if (*n == MAX_POLICIES)
                    return -EINVAL;
                out[(*n)++] = moetier_policy_names[i];
            }
        if (len == 4 && strncmp(p, auto_name, len) == 0) {
            if (*n == MAX_POLICIES)
                return -EINVAL;
            out[(*n)++] = auto_name;
            found = 1;
        }
        for (int i = 0; moetier_policy_names[i]; i++)
            if (strlen(moetier_policy_names[i]) == len && strncmp(p, moetier_policy_names[i], len) == 0) {
                if (*n == MAX_POLICIES)
                    return -EINVAL;
                out[(*n)++] = moetier_policy_names[i];
                found = 1;
            }
        if (!found)
            return -EINVAL;
        p += len;
        if (*p == ',')
            p++;
    }
    return *n ? 0 : -EINVAL;
}

static double rate(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0;
}

/* Slow-tier reads per token. */
static double per_token(const struct moetier_replay_result *x, const struct moetier_routing *r)
{
    return r->tokens ? (double)x->slow_reads / (double)r->tokens : 0;
}

/* belady's result at share s, or NULL when it was not replayed. */
static const struct moetier_replay_result *bound(const char **pol, int np, int ns, int s,
                                                 const struct moetier_replay_result *res)
{
    for (int i = 0; i < np; i++)
        if (strcmp(pol[i], "belady") == 0)
            return &res[i * ns + s];
    return NULL;
}

/* A policy in the running for the best: not the clairvoyant, not the
 * in-sample ranking, not a second name for another. */
static int online(const char *pol)
{
    return strcmp(pol, "belady") && strcmp(pol, "static") && strcmp(pol, "auto");
}

/* The figure a policy is judged by: static only out-of-sample (second half). */
static double headline(const char *pol, const struct moetier_replay_result *x)
{
    return strcmp(pol, "static") == 0 ? rate(x->hits_half, x->accesses_half) : rate(x->hits, x->accesses);
}

static void print_json(const char *file, const struct moetier_routing *r, const char **pol, int np,
                       const double *shares, int ns, const struct moetier_replay_result *res,
                       uint64_t expert_bytes, double gate)
{
    struct json j;
    json_init(&j, stdout, 0);
    json_obj_begin(&j);
    json_key(&j, "schema"), json_int(&j, 2);
    json_key(&j, "trace"), json_str(&j, file);
    json_key(&j, "model"), json_str(&j, r->model);
    json_key(&j, "layers"), json_int(&j, r->layers);
    json_key(&j, "experts"), json_int(&j, r->experts);
    json_key(&j, "topk"), json_int(&j, r->topk);
    json_key(&j, "tokens"), json_uint(&j, r->tokens);
    json_key(&j, "auto"), json_str(&j, moetier_policy_auto(0));
    json_key(&j, "prefetch_gate");
    if (gate > 0)
        json_double(&j, gate);
    else
        json_null(&j);
    json_key(&j, "expert_bytes");
    if (expert_bytes)
        json_uint(&j, expert_bytes);
    else
        json_null(&j);
    json_key(&j, "results");
    json_arr_begin(&j);
    for (int i = 0; i < np; i++)
        for (int s = 0; s < ns; s++) {
            const struct moetier_replay_result *x = &res[i * ns + s];
            json_obj_begin(&j);
            json_key(&j, "policy"), json_str(&j, pol[i]);
            json_key(&j, "cache_share"), json_double(&j, shares[s]);
            json_key(&j, "slots"), json_uint(&j, x->slots);
            json_key(&j, "accesses"), json_uint(&j, x->accesses);
            json_key(&j, "hits"), json_uint(&j, x->hits);
            json_key(&j, "hit_rate"), json_double(&j, rate(x->hits, x->accesses));
            json_key(&j, "second_half_from_token"), json_uint(&j, x->half_from);
            json_key(&j, "hit_rate_second_half"), json_double(&j, rate(x->hits_half, x->accesses_half));
            json_key(&j, "evictions"), json_uint(&j, x->evictions);
            json_key(&j, "prefetched"), json_uint(&j, x->prefetched);
            json_key(&j, "prefetch_used"), json_uint(&j, x->prefetch_used);
            json_key(&j, "prefetch_accuracy");
            if (x->prefetched)
                json_double(&j, rate(x->prefetch_used, x->prefetched));
            else
                json_null(&j);
            json_key(&j, "predicted"), json_uint(&j, x->predicted);
            json_key(&j, "prediction_accuracy");
            if (x->predicted)
                json_double(&j, rate(x->predicted_used, x->predicted));
            else
                json_null(&j);
            json_key(&j, "fetches"), json_uint(&j, x->accesses - x->hits + x->prefetched);
            json_key(&j, "promoted"), json_uint(&j, x->promoted);
            json_key(&j, "direct"), json_uint(&j, x->direct);
            json_key(&j, "slow_reads"), json_uint(&j, x->slow_reads);
            json_key(&j, "slow_reads_per_token"), json_double(&j, per_token(x, r));
            json_key(&j, "slow_bytes_per_token");
            if (expert_bytes)
                json_double(&j, per_token(x, r) * (double)expert_bytes);
            else
                json_null(&j);
            const struct moetier_replay_result *b = bound(pol, np, ns, s, res);
            json_key(&j, "vs_belady");
            if (b && b->slow_reads)
                json_double(&j, rate(x->slow_reads, b->slow_reads));
            else
                json_null(&j);
            json_obj_end(&j);
        }
    json_arr_end(&j);
    json_obj_end(&j);
    json_finish(&j);
}

/* A row label: auto shows what it resolves to; static is starred (out of sample). */
static const char *label(const char *pol, char *buf, size_t cap)
{
    if (strcmp(pol, "auto") == 0)
        snprintf(buf, cap, "auto=%s", moetier_policy_auto(0));
    else
        snprintf(buf, cap, "%s%s", pol, strcmp(pol, "static") == 0 ? "*" : "");
    return buf;
}

static void print_table(const char *file, const struct moetier_routing *r, const char **pol, int np,
                        const double *shares, int ns, const struct moetier_replay_result *res,
                        uint64_t expert_bytes, double gate)
{
    printf("trace:   %s\n", file);
    printf("shape:   %d layers x %d experts, top-%d, %llu tokens, %d pairs\n", r->layers, r->experts,
           r->topk, (unsigned long long)r->tokens, r->layers * r->experts);
    printf("\nhit rate    ");
    for (int s = 0; s < ns; s++) {
        char h[32];
        snprintf(h, sizeof h, "C=%g%% (%u)", shares[s] * 100, res[s].slots);
        printf(" %14s", h);
    }
    printf("\n");
    int has_static = 0, has_predict = 0;
    char lb[32];
    for (int i = 0; i < np; i++) {
        has_static |= strcmp(pol[i], "static") == 0;
        has_predict |= strcmp(pol[i], "predict") == 0;
        printf("%-12s", label(pol[i], lb, sizeof lb));
        for (int s = 0; s < ns; s++)
            printf(" %14.4f", headline(pol[i], &res[i * ns + s]));
        printf("\n");
    }
    /* bytes: what a slow tier whose bandwidth decode waits for is judged by */
    if (expert_bytes) {
        char sz[32];
        printf("\nslow-tier MiB per token (x belady), expert = %s\n",
               moetier_size_format(expert_bytes, sz, sizeof sz));
    } else {
        printf("\nslow-tier reads per token, in experts (x belady)\n");
    }
    for (int i = 0; i < np; i++) {
        printf("%-12s", label(pol[i], lb, sizeof lb));
        for (int s = 0; s < ns; s++) {
            const struct moetier_replay_result *x = &res[i * ns + s], *b = bound(pol, np, ns, s, res);
            double v = per_token(x, r) * (expert_bytes ? (double)expert_bytes / (1 << 20) : 1);
            char cell[40];
            if (b && b->slow_reads && b != x)
                snprintf(cell, sizeof cell, "%.2f (%.2fx)", v, rate(x->slow_reads, b->slow_reads));
            else
                snprintf(cell, sizeof cell, "%.2f", v);
            printf(" %14s", cell);
        }
        printf("\n");
    }
    printf("(every pair read from the slow tier: demand misses, prefetches used or not;\n"
           " belady, the clairvoyant demand cache, reads the fewest without prefetch)\n");
    if (has_predict || gate > 0) {
        if (gate > 0)
            printf("\nprefetch gated at %g (the reads moved ahead of their layer, and what they cost)\n", gate);
        else
            printf("\npredict prefetch\n");
        for (int i = 0; i < np; i++) {
            if (gate > 0 ? strcmp(pol[i], "belady") == 0 : strcmp(pol[i], "predict") != 0)
                continue;
            if (gate > 0) {
                printf("%s\n%-12s", label(pol[i], lb, sizeof lb), "ahead");
                for (int s = 0; s < ns; s++) {
                    const struct moetier_replay_result *x = &res[i * ns + s];
                    printf(" %14.4f", rate(x->prefetch_used, x->slow_reads));
                }
                printf("\n");
            }
            printf("%-12s", "prediction");
            for (int s = 0; s < ns; s++) {
                const struct moetier_replay_result *x = &res[i * ns + s];
                printf(" %14.4f", rate(x->predicted_used, x->predicted));
            }
            printf("\n");
            printf("%-12s", "accuracy");
            for (int s = 0; s < ns; s++) {
                const struct moetier_replay_result *x = &res[i * ns + s];
                printf(" %14.4f", rate(x->prefetch_used, x->prefetched));
            }
            printf("\n%-12s", "extra fetch");
            for (int s = 0; s < ns; s++) {
                const struct moetier_replay_result *x = &res[i * ns + s];
                /* unused prefetches per demand miss */
                printf(" %14.4f", rate(x->prefetched - x->prefetch_used, x->accesses - x->hits));
            }
            printf("\n");
        }
        printf("(%sprediction: predicted experts the next layer used; accuracy: the same for\n"
               " the pairs actually fetched ahead; extra fetch: unused prefetches per demand miss)\n",
               gate > 0 ? "ahead: share of the reads that were prefetches then used;\n " : "");
    }
    if (has_static)
        printf("* static: ranked by the first half's counts, hit rate over the second half only\n");
    printf("\nmost hits   ");
    for (int s = 0; s < ns; s++) {
        int best = -1;
        for (int i = 0; i < np; i++)
            if (online(pol[i]) &&
                (best < 0 || headline(pol[i], &res[i * ns + s]) > headline(pol[best], &res[best * ns + s])))
                best = i;
        printf(" %14s", best < 0 ? "-" : pol[best]);
    }
    printf("\nfewest reads");
    for (int s = 0; s < ns; s++) {
        int best = -1;
        for (int i = 0; i < np; i++)
            if (online(pol[i]) && (best < 0 || res[i * ns + s].slow_reads < res[best * ns + s].slow_reads))
                best = i;
        printf(" %14s", best < 0 ? "-" : pol[best]);
    }
    printf("\n(the best online policy over the whole trace; static, belady and auto excluded;\n"
           " ties go to the first listed)\n");
}

static int residency_plot(const char *path, const char *file, const struct moetier_routing *r, const char *pol,
                          double share, const struct moetier_replay_result *x, const uint8_t *map, uint64_t from,
                          uint64_t to)
{
    if (from >= r->tokens)
        return cli_error(CLI_USAGE, CMD, "--plot-tokens from %llu: the trace has %llu tokens",
                         (unsigned long long)from, (unsigned long long)r->tokens);
    if (to > r->tokens)
        to = r->tokens;
    char title[160], sub[1200], lb[32], err[1300];
    snprintf(title, sizeof title, "replay: %s, cache %g%% (%u of %d pairs)", label(pol, lb, sizeof lb),
             share * 100, x->slots, r->layers * r->experts);
    snprintf(sub, sizeof sub, "%s: %d layers x %d experts, top-%d; tokens %llu-%llu shown (of %llu); hit rate %.4f",
             file, r->layers, r->experts, r->topk, (unsigned long long)from, (unsigned long long)(to - 1),
             (unsigned long long)r->tokens, rate(x->hits, x->accesses));
    struct plot_residency p = {
        .title = title, .subtitle = sub, .layers = (uint32_t)r->layers, .experts = (uint32_t)r->experts,
        .first = from, .tokens = to - from, .state = map + from * (size_t)r->layers * r->experts,
    };
    if (plot_residency_png(path, &p, err, sizeof err))
        return cli_error(CLI_FAIL, CMD, "--residency-plot: %s", err);
    return CLI_OK;
}

int cmd_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        { "policy", required_argument, 0, 'p' }, { "cache", required_argument, 0, 'c' },
        { "half-life", required_argument, 0, 'H' }, { "json", no_argument, 0, 'j' },
        { "prev-weight", required_argument, 0, 'W' }, { "predict-half-life", required_argument, 0, 'P' },
        { "adapt-half-life", required_argument, 0, 'A' }, { "expert-size", required_argument, 0, 'S' },
        { "admit-cost", required_argument, 0, 'C' }, { "prefetch-gate", required_argument, 0, 'G' }, { "residency-plot", required_argument, 0, 'R' }, { "plot-tokens", required_argument, 0, 'T' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    const char *pol[MAX_POLICIES], *plot = NULL;
    double shares[MAX_SHARES];
    int np = 0, ns = 0, json = 0, c;
    double half_life = 0, predict_half_life = MOETIER_PREDICT_HALF_LIFE_TOKENS, prev_weight = 0;
    double adapt_half_life = MOETIER_ADAPT_HALF_LIFE_TOKENS, admit_cost = 0, gate = 0;
    uint64_t expert_bytes = 0, from = 0, to = UINT64_MAX;
    int window = 0;
    parse_policies("all", pol, &np);
    parse_shares("10%,25%,50%", shares, &ns);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OK;
        } else if (c == 'j') {
            json = 1;
        } else if (c == 'R') {
            if (!*optarg)
                return cli_error(CLI_USAGE, CMD, "--residency-plot needs a file name");
            plot = optarg;
        } else if (c == 'T') {
            char *end;
            unsigned long long a = 0, b = 0;
            errno = 0;
            a = strtoull(optarg, &end, 10);
            if (*end == ':' && end[1])
                b = strtoull(end + 1, &end, 10);
            else if (*end == ':')
                b = UINT64_MAX, end++;
            if (errno || *end || optarg[0] == '-' || !(b > a))
                return cli_error(CLI_USAGE, CMD, "bad --plot-tokens '%s' (FROM:TO, as 0:900 or 100:)", optarg);
            from = a, to = b, window = 1;
        } else if (c == 'p') {
            if (parse_policies(optarg, pol, &np))
                return cli_error(CLI_USAGE, CMD,
                                 "bad --policy '%s' (lru, lfu, static, predict, belady, adapt, reuse, auto, all)",
                                 optarg);
        } else if (c == 'c') {
            if (parse_shares(optarg, shares, &ns))
                return cli_error(CLI_USAGE, CMD, "bad --cache '%s' (shares in (0, 1], as 10%% or 0.1)", optarg);
        } else if (c == 'H' || c == 'P' || c == 'A') {
            char *end;
            double v = strtod(optarg, &end);
            if (end == optarg || *end || !(v >= 0) || !isfinite(v))
                return cli_error(CLI_USAGE, CMD, "bad %s '%s' (tokens, >= 0)",
                                 c == 'H' ? "--half-life" : c == 'P' ? "--predict-half-life" : "--adapt-half-life",
                                 optarg);
            *(c == 'H' ? &half_life : c == 'P' ? &predict_half_life : &adapt_half_life) = v;
        } else if (c == 'S') {
            struct moetier_size sz;
            if (moetier_size_parse(optarg, 0, &sz) || sz.bytes == 0)
                return cli_error(CLI_USAGE, CMD, "bad --expert-size '%s' (bytes, as 4.6M)", optarg);
            expert_bytes = sz.bytes;
        } else if (c == 'C') {
            char *end;
            admit_cost = strtod(optarg, &end);
            if (end == optarg || *end || !(admit_cost >= 0) || !isfinite(admit_cost))
                return cli_error(CLI_USAGE, CMD, "bad --admit-cost '%s' (reads, >= 0)", optarg);
        } else if (c == 'G') {
            char *end;
            gate = strtod(optarg, &end);
            if (end == optarg || *end || !(gate > 0 && gate <= 1))
                return cli_error(CLI_USAGE, CMD, "bad --prefetch-gate '%s' (a chance in (0, 1], as 0.5)", optarg);
        } else if (c == 'W') {
            char *end;
            prev_weight = strtod(optarg, &end);
            if (end == optarg || *end || !(prev_weight > 0) || !isfinite(prev_weight))
                return cli_error(CLI_USAGE, CMD, "bad --prev-weight '%s' (> 0)", optarg);
        } else if (c == ':' || optopt) {
            return cli_error(CLI_USAGE, CMD, "option '%s' needs a value (see --help)", argv[optind - 1]);
        } else {
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_error(CLI_USAGE, CMD, "expected exactly one trace file (see --help)");
    if (window && !plot)
        return cli_error(CLI_USAGE, CMD, "--plot-tokens is for --residency-plot");
    if (plot && (np != 1 || ns != 1))
        return cli_error(CLI_USAGE, CMD, "--residency-plot draws one replay: give one --policy and one --cache");

    const char *file = argv[optind];
    struct moetier_routing r;
    char err[256];
    int rc = moetier_routing_load(file, 1, &r, err, sizeof err);
    if (rc)
        return cli_error(rc == -EIO || rc == -ENOMEM ? CLI_FAIL : CLI_USAGE, CMD, "%s", err);
    if (!r.is_trace || !r.routes) {
        moetier_routing_free(&r);
        return cli_error(CLI_USAGE, CMD, "%s: a .counts file has no token order to replay", file);
    }
    for (int s = 0; s < ns; s++)
        if (moetier_replay_slots(&r, shares[s]) == 0) {
            moetier_routing_free(&r);
            return cli_error(CLI_USAGE, CMD, "--cache %g%% is less than one of %d pairs", shares[s] * 100,
                             r.layers * r.experts);
        }

    struct moetier_replay_result *res = calloc((size_t)np * ns, sizeof *res);
    uint8_t *map = plot ? malloc(r.tokens * (size_t)r.layers * r.experts + 1) : NULL;
    if (!res || (plot && !map)) {
        free(res);
        free(map);
        moetier_routing_free(&r);
        return cli_error(CLI_FAIL, CMD, "out of memory");
    }
    int code = CLI_OK;
    for (int i = 0; i < np && code == CLI_OK; i++)
        for (int s = 0; s < ns; s++) {
            /* half-lives in tokens -> t units (one t per access) */
            const char *name = strcmp(pol[i], "auto") == 0 ? moetier_policy_auto(0) : pol[i];
            double hl = strcmp(name, "predict") == 0 ? predict_half_life
                        : strcmp(name, "adapt") == 0 ? adapt_half_life
                                                     : half_life;
            struct moetier_policy_opts po = { .half_life = hl * r.layers * r.topk, .prev_weight = prev_weight,
                                              .admit_cost = admit_cost, .prefetch_gate = gate };
            rc = moetier_replay_policy_map(&r, pol[i], shares[s], &po, &res[i * ns + s], map);
            if (rc) {
                code = cli_error(CLI_FAIL, CMD, "replay %s at %g%%: %s", pol[i], shares[s] * 100, strerror(-rc));
                break;
            }
        }
    if (code == CLI_OK && plot)
        code = residency_plot(plot, file, &r, pol[0], shares[0], res, map, from, to);
    if (code == CLI_OK) {
        if (json)
            print_json(file, &r, pol, np, shares, ns, res, expert_bytes, gate);
        else
            print_table(file, &r, pol, np, shares, ns, res, expert_bytes, gate);
    }
    free(map);
    free(res);
    moetier_routing_free(&r);
    return code;
}
