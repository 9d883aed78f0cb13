/*
 * moetier trace: summarizes a routing file (.trace or .counts, the formats of
 * data/traces/README.md): its shape, how skewed expert popularity is (the share
 * of accesses on the hottest 10% / 25% of (layer, expert) pairs), and for a
 * trace how much routing is reused from one token to the next.
 */
#include "profiler/routing_file.h"
#include "common/json.h"
#include "tools/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define CMD "trace"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier trace FILE [--json]\n"
            "\n"
            "Summarizes a routing file (.trace: one line per token; .counts: one line of\n"
            "per-expert counts per layer): layers, experts, experts per token, tokens,\n"
            "the share of accesses on the hottest 10%% and 25%% of (layer, expert) pairs,\n"
            "and for traces the share of a token's experts that the previous token also\n"
            "used at the same layer (reuse), against what chance gives (topk / experts).\n"
            "\n"
            "  --json   one JSON object: schema, file, kind, model, layers, experts, topk,\n"
            "           tokens, hot_share_10, hot_share_25, reuse (null for counts)\n");
}

/* Share of a token's (layer) experts that the previous token also chose there. */
static double reuse(const struct moetier_routing *r)
{
    if (!r->routes || r->tokens < 2)
        return -1;
    size_t per = (size_t)r->layers * r->topk;
    uint64_t same = 0, total = 0;
    for (uint64_t t = 1; t < r->tokens; t++) {
        const uint16_t *cur = r->routes + t * per, *prev = cur - per;
        for (int l = 0; l < r->layers; l++)
            for (int i = 0; i < r->topk; i++) {
                for (int j = 0; j < r->topk; j++)
                    if (cur[l * r->topk + i] == prev[l * r->topk + j]) {
                        same++;
                        break;
                    }
                total++;
            }
    }
    return (double)same / (double)total;
}

int cmd_trace(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 },
    };
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OK;
        } else if (c == 'j') {
            json = 1;
        } else {
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_error(CLI_USAGE, CMD, "expected exactly one routing file (see --help)");

    struct moetier_routing r;
    char err[256];
    int rc = moetier_routing_load(argv[optind], 1, &r, err, sizeof err);
    if (rc)
        return cli_error(rc == -EIO || rc == -ENOMEM ? CLI_FAIL : CLI_USAGE, CMD, "%s", err);
    double h10 = moetier_routing_hot_share(&r, 0.10), h25 = moetier_routing_hot_share(&r, 0.25);
    double ru = reuse(&r);
    if (json) {
        struct json j;
        json_init(&j, stdout, 0);
        json_obj_begin(&j);
        json_key(&j, "schema"), json_int(&j, 1);
        json_key(&j, "file"), json_str(&j, argv[optind]);
        json_key(&j, "kind"), json_str(&j, r.is_trace ? "trace" : "counts");
        json_key(&j, "model"), json_str(&j, r.model);
        json_key(&j, "layers"), json_int(&j, r.layers);
        json_key(&j, "experts"), json_int(&j, r.experts);
        json_key(&j, "topk"), json_int(&j, r.topk);
        json_key(&j, "tokens"), json_uint(&j, r.tokens);
        json_key(&j, "hot_share_10"), json_double(&j, h10);
        json_key(&j, "hot_share_25"), json_double(&j, h25);
        json_key(&j, "reuse");
        if (ru < 0)
            json_null(&j);
        else
            json_double(&j, ru);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        printf("file:        %s (%s)\n", argv[optind], r.is_trace ? "trace" : "counts");
        printf("model:       %s\n", r.model[0] ? r.model : "(unnamed)");
        printf("shape:       %d layers x %d experts, top-%d\n", r.layers, r.experts, r.topk);
        printf("tokens:      %llu\n", (unsigned long long)r.tokens);
        printf("hot 10%%:     %.4f of accesses on the hottest 10%% of (layer, expert) pairs\n", h10);
        printf("hot 25%%:     %.4f\n", h25);
        if (ru >= 0)
            printf("reuse:       %.4f of a token's experts were the previous token's (chance %.4f)\n", ru,
                   (double)r.topk / r.experts);
    }
    moetier_routing_free(&r);
    return CLI_OK;
}
