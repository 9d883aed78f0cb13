/*
 * moetier: the command people use. Dispatches to one subcommand per file
 * (tools/cmd_*.c); each follows the conventions in tools/cli.h.
 */
#include "config.h"
#include "tools/cli.h"

#include <string.h>

static const struct cli_command commands[] = {
    { "inspect", "experts, sizes and what fits in DRAM, for a GGUF model", cmd_inspect },
    { "mkmoe", "generate a GGUF MoE model that llama.cpp runs", cmd_mkmoe },
    { "trace", "summarize a routing file: shape, popularity skew, reuse", cmd_trace },
    { "replay", "replay a routing trace through the cache policies: hit rates", cmd_replay },
    { "sim", "predict tokens/s on a machine's tiers from a routing trace", cmd_sim },
    { "run", "run a command under the moetier runtime (flags set MOETIER_*)", cmd_run },
    { "stat", "one snapshot of a live moetier process (text, JSON, Prometheus)", cmd_stat },
    { "top", "watch a live moetier process: tok/s, hit rates, residency", cmd_top },
    { "heatmap", "layer x expert heat with DRAM residency (ansi, svg, png, json)", cmd_heatmap },
    { "profile", "show a saved expert-hotness profile", cmd_profile },
    { "doctor", "check the configuration (--config)", cmd_doctor },
    { "set", "retune a running process (--dram, --policy, --migrate-mbps)", cmd_set },
    { "stage", "copy a model onto PMem (fsdax dir or devdax) for the slow tier", cmd_stage },
    { "bench", "measure this machine's tiers; writes the profile sim reads", cmd_bench },
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier COMMAND [ARGS]\n"
            "       moetier COMMAND --help\n"
            "       moetier --version\n"
            "\n"
            "moetier tiers the routed experts of Mixture-of-Experts models between a slow\n"
            "memory tier and a DRAM cache, under an unmodified inference binary.\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\n"
            "exit status: 0 success, 1 runtime failure, 2 bad usage or bad input.\n"
            "Colour is used on terminals only, never when NO_COLOR is set.\n");
}

static void version(void)
{
    printf("moetier %s\n", PACKAGE_VERSION);
#ifdef HAVE_CUDA
    printf("cuda: yes (%s)\n", MOETIER_CUDA_PATH);
#else
    printf("cuda: no\n");
#endif
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli_is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        version();
        return CLI_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "moetier: unknown command '%s' (moetier --help lists them)\n", argv[1]);
    return CLI_USAGE;
}
