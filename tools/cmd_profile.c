/*
 * moetier profile: what moetier learned about a model, as saved for warm
 * starts (profiler/profile.h).
 *
 *   moetier profile show FILE [--json] [--expect-id ID]
 *
 * `show` prints the profile's facts (model, identity, shape, decode tokens,
 * when it was saved) and its hottest experts, or one JSON object whose
 * `experts` list has the format of `moetier stat --json` without `tier` (a
 * profile records no residency). The file is untrusted: the loader checks
 * every size and the checksum; a corrupt, truncated, other-version or (with
 * --expect-id) other-model profile is exit 2 with one line naming the defect.
 */
#include "common/json.h"
#include "tools/cli.h"
#include "tools/proc_pick.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define CMD "profile"
#define N_HOTTEST 10

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier profile show FILE [--json] [--expect-id ID]\n"
            "\n"
            "Profiles are what moetier learned about a model's expert hotness, saved at\n"
            "exit so the next run starts warm ($XDG_CACHE_HOME/moetier/<model-id>.prof by\n"
            "default, or MOETIER_PROFILE).\n"
            "\n"
            "  show FILE         the profile's model, identity, shape, decode tokens, when\n"
            "                    it was saved, and its 10 hottest experts\n"
            "    --json          one JSON object (fields: docs/tools.md)\n"
            "    --expect-id ID  refuse a profile of another model identity (exit 2)\n"
            "  -h, --help        this text\n"
            "\n"
            "exit status: 0 success, 1 the file cannot be read, 2 bad usage or a corrupt,\n"
            "truncated, other-version or other-model profile.\n");
}

static void show_human(const struct view *v)
{
    char t[40];
    printf("profile:    %s\n", v->path);
    printf("model:      %s\n", v->model[0] ? v->model : "(not recorded)");
    printf("model id:   %s\n", v->model_id[0] ? v->model_id : "(none)");
    printf("experts:    %u MoE layers (blocks %d-%d) x %u experts\n", v->n_layers, v->blocks[0],
           v->blocks[v->n_layers - 1], v->n_experts);
    printf("tokens:     %llu decode tokens observed\n", (unsigned long long)v->tokens_decode);
    printf("saved:      %s\n", fmt_utc(v->time_ns, t, sizeof t));
    size_t n = (size_t)v->n_layers * v->n_experts, used = 0;
    for (size_t i = 0; i < n; i++)
        used += v->experts[i].hits > 0 || v->experts[i].rate > 0;
    printf("used:       %zu of %zu experts were seen at least once\n", used, n);

    uint32_t idx[N_HOTTEST];
    size_t k = view_hottest(v, N_HOTTEST, idx);
    printf("\nhottest experts:\n");
    printf("  %6s  %6s  %8s  %12s\n", "layer", "expert", "rate", "hits");
    for (size_t i = 0; i < k; i++) {
        const struct view_expert *x = &v->experts[idx[i]];
        printf("  %6d  %6u  %8.4f  %12llu\n", v->blocks[idx[i] / v->n_experts], idx[i] % v->n_experts,
               (double)x->rate, (unsigned long long)x->hits);
    }
}

static void show_json(const struct view *v)
{
    struct json j;
    json_init(&j, stdout, 0);
    json_obj_begin(&j);
    json_key(&j, "schema"), json_int(&j, 1);
    json_key(&j, "file"), json_str(&j, v->path);
    json_key(&j, "model_id"), json_str(&j, v->model_id);
    json_key(&j, "model"), json_str(&j, v->model);
    json_key(&j, "n_layers"), json_uint(&j, v->n_layers);
    json_key(&j, "n_experts"), json_uint(&j, v->n_experts);
    json_key(&j, "tokens_decode"), json_uint(&j, v->tokens_decode);
    json_key(&j, "saved_ns"), json_uint(&j, v->time_ns);
    json_key(&j, "experts");
    view_json_experts(&j, v);
    json_obj_end(&j);
    json_finish(&j);
}

static int show(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, 0, 'j' },
        { "expect-id", required_argument, 0, 'e' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int json = 0, c;
    const char *expect = NULL;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OK;
        } else if (c == 'j') {
            json = 1;
        } else if (c == 'e') {
            expect = optarg;
        } else if (c == ':') {
            return cli_error(CLI_USAGE, CMD, "%s needs a value", argv[optind - 1]);
        } else {
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (moetier profile --help)", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_error(CLI_USAGE, CMD, "show needs exactly one profile file (moetier profile --help)");
    const char *path = argv[optind];

    struct view v;
    char err[1400];
    int rc = view_read_profile(path, expect, &v, err, sizeof err);
    if (rc)
        return cli_error(rc == -ENOENT ? CLI_USAGE : view_read_code(rc), CMD, "%s", err);
    if (json)
        show_json(&v);
    else
        show_human(&v);
    view_free(&v);
    if (fflush(stdout) || ferror(stdout))
        return cli_error(CLI_FAIL, CMD, "writing the output failed");
    return CLI_OK;
}

int cmd_profile(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "show") == 0)
        return show(argc - 1, argv + 1);
    return cli_error(CLI_USAGE, CMD, "unknown subcommand '%s' (moetier profile --help)", argv[1]);
}
