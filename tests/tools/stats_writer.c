/*
 * stats_writer: a stand-in for the shim in the tools' tests. It uses the real
 * writer API (profiler/stats.h, profiler/profile.h) to publish a known
 * pattern, so `moetier stat/top/heatmap/profile` can be checked against it.
 *
 *   stats_writer segment DIR [--comm NAME] [--layers L] [--experts E] [--update]
 *       creates DIR/moetier-<pid>.stats with the pattern below, prints
 *       "ready PATH" on stdout, then waits until SIGTERM/SIGINT (segment
 *       removed, exit 0). SIGKILL leaves a stale segment behind, as a crash
 *       would. --update: every 50 ms adds 10 decode tokens and one hit to
 *       every expert (so consecutive snapshots differ).
 *   stats_writer profile FILE [--layers L] [--experts E]
 *       writes the same pattern with moetier_profile_save.
 *
 * The pattern (defaults: 4 layers, blocks 2 3 5 8; 8 experts):
 *   block of layer l     = {2, 3, 5, 8, 13, ...}[l]  (then 100 + l)
 *   rate(l, e)           = (l + 1)(e + 1) / (L E)    (exact in float for powers of two)
 *   hits(l, e)           = 1000 (l + 1) + e
 *   tier(l, e)           = dram for e < 2; pinned for (0, E-1); mixed for (L-1, 2); else slow
 * and fixed header fields (model, tokens, tiers, migrations: see main()).
 */
#include "profiler/profile.h"
#include "profiler/stats.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024ull * 1024)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int32_t block_of(uint32_t l)
{
    static const int32_t fib[] = { 2, 3, 5, 8, 13, 21, 34, 55 };
    return l < 8 ? fib[l] : (int32_t)(100 + l);
}

static float rate_of(uint32_t l, uint32_t e, uint32_t L, uint32_t E)
{
    return (float)((double)(l + 1) * (e + 1) / ((double)L * E));
}

static uint64_t hits_of(uint32_t l, uint32_t e)
{
    return 1000ull * (l + 1) + e;
}

static int tier_of(uint32_t l, uint32_t e, uint32_t L, uint32_t E)
{
    if (e < 2)
        return MOETIER_TIER_DRAM;
    if (l == 0 && e == E - 1)
        return MOETIER_TIER_PINNED;
    if (l == L - 1 && e == 2)
        return MOETIER_TIER_MIXED;
    return MOETIER_TIER_SLOW;
}

static void usage(void)
{
    fprintf(stderr, "usage: stats_writer segment DIR [--comm NAME] [--layers L] [--experts E] [--update]\n"
                    "       stats_writer profile FILE [--layers L] [--experts E]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    if (argc < 3)
        usage();
    const char *mode = argv[1], *where = argv[2], *comm = NULL;
    uint32_t L = 4, E = 8;
    int update = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--comm") == 0 && i + 1 < argc)
            comm = argv[++i];
        else if (strcmp(argv[i], "--layers") == 0 && i + 1 < argc)
            L = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--experts") == 0 && i + 1 < argc)
            E = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--update") == 0)
            update = 1;
        else
            usage();
    }
    if (!L || !E || L > 1024 || E > 1024)
        usage();
    int32_t *blocks = calloc(L, sizeof *blocks);
    for (uint32_t l = 0; l < L; l++)
        blocks[l] = block_of(l);

    if (strcmp(mode, "profile") == 0) {
        struct moetier_profile p;
        memset(&p, 0, sizeof p);
        snprintf(p.model_id, sizeof p.model_id, "test-moe-0123456789abcdef");
        snprintf(p.model, sizeof p.model, "/models/test-moe.gguf");
        p.n_layers = L;
        p.n_experts = E;
        p.tokens_decode = 1000;
        p.saved_ns = 1700000000ull * 1000000000ull; /* 2023-11-14T22:13:20Z */
        p.blocks = blocks;
        p.experts = calloc((size_t)L * E, sizeof *p.experts);
        for (uint32_t l = 0; l < L; l++)
            for (uint32_t e = 0; e < E; e++) {
                p.experts[l * E + e].hits = hits_of(l, e);
                p.experts[l * E + e].rate = rate_of(l, e, L, E);
            }
        char why[1400];
        int rc = moetier_profile_save_ex(where, &p, why, sizeof why);
        free(p.experts);
        free(blocks);
        if (rc) {
            fprintf(stderr, "stats_writer: saving %s: %s\n", where, why[0] ? why : strerror(-rc));
            return 1;
        }
        return 0;
    }
    if (strcmp(mode, "segment") != 0)
        usage();

    if (comm)
        prctl(PR_SET_NAME, comm, 0, 0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct moetier_stats_writer w;
    int rc = moetier_stats_create(&w, where, L, E, blocks);
    if (rc) {
        fprintf(stderr, "stats_writer: creating the segment in %s: %s\n", where, w.err[0] ? w.err : strerror(-rc));
        return 1;
    }
    moetier_stats_begin(&w);
    struct moetier_stats_header *h = w.h;
    snprintf(h->model, sizeof h->model, "/models/test-moe.gguf");
    snprintf(h->model_id, sizeof h->model_id, "test-moe-0123456789abcdef");
    snprintf(h->sampler, sizeof h->sampler, "pagemap");
    snprintf(h->placement, sizeof h->placement, "file mapping");
    snprintf(h->slow_kind, sizeof h->slow_kind, "file");
    h->tokens_decode = 1000;
    h->tokens_prompt = 200;
    h->tokens_warmup = 1;
    h->tok_per_s = 12.5;
    h->samples = 50;
    h->sampler_ns = 2000000;
    h->dram_bytes = 64 * MIB;
    h->dram_budget = 128 * MIB;
    h->slow_bytes = 192 * MIB;
    h->promotions = 10;
    h->demotions = 3;
    h->migrate_failed = 2;
    snprintf(h->policy, sizeof h->policy, "%s", "predict");
    h->bytes_promoted = 80 * MIB;
    h->bytes_demoted = 24 * MIB;
    h->traffic_steps = 40;     /* 20 MiB of misses: 512 KiB per token; promoted: 80 MiB / 1000 tokens */
    h->traffic_accesses = 320;
    h->traffic_hits = 240;
    h->slow_direct_bytes = 20 * MIB;
    h->slow_prefetched_bytes = 0;
    struct moetier_stats_expert *x = moetier_stats_experts(&w);
    for (uint32_t l = 0; l < L; l++)
        for (uint32_t e = 0; e < E; e++) {
            x[l * E + e].hits = hits_of(l, e);
            x[l * E + e].rate = rate_of(l, e, L, E);
            x[l * E + e].tier = (uint8_t)tier_of(l, e, L, E);
        }
    moetier_stats_end(&w);
    printf("ready %s\n", w.path);
    fflush(stdout);

    while (!stop) {
        struct timespec ts = { 0, 50 * 1000000L };
        nanosleep(&ts, NULL);
        if (update && !stop) {
            moetier_stats_begin(&w);
            h->tokens_decode += 10;
            for (uint32_t i = 0; i < L * E; i++)
                x[i].hits++;
            moetier_stats_end(&w);
        }
    }
    moetier_stats_destroy(&w);
    free(blocks);
    return 0;
}
