/*
 * moetier heatmap: the layer x expert grid of expert hotness, with DRAM
 * residency marked, as terminal text, SVG, PNG or JSON.
 *
 *   moetier heatmap [PID|PROFILE|SEGMENT] [--format ansi|svg|png|json] [-o FILE] [--width COLS]
 *
 * The source is a live process (its stats segment: rates, hits and tiers) or
 * a saved profile (rates and hits, no residency). The value drawn is the
 * decayed hit rate scaled to its maximum, or the hit counts scaled to theirs
 * when every rate is zero (a process that has not finished a sampling
 * period). Renderers live in tools/heatmap_*.c; JSON is written here.
 *
 * Output goes to stdout or to -o FILE (written to FILE.tmp and renamed, so a
 * failed run leaves no half image). PNG is refused on a terminal.
 * Exit: 0; 1 no live process, or the output cannot be written; 2 bad usage or
 * a corrupt / foreign source.
 */
#include "common/json.h"
#include "tools/cli.h"
#include "tools/heatmap.h"
#include "tools/proc_pick.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define CMD "heatmap"

enum format { FMT_ANSI, FMT_SVG, FMT_PNG, FMT_JSON };

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier heatmap [PID|PROFILE|SEGMENT] [--format ansi|svg|png|json] [-o FILE]\n"
            "                       [--width COLS]\n"
            "\n"
            "Draws the layer x expert grid of expert hotness: the decayed hit rate of\n"
            "every (MoE layer, expert), scaled to the hottest (hit counts when no rate is\n"
            "known yet), with DRAM residency marked, a title and a legend. Rows are\n"
            "labelled with GGUF block numbers. The source is a live process (no argument:\n"
            "the one moetier process of this user; a PID; a stats segment) or a profile\n"
            "file (then no residency is shown).\n"
            "\n"
            "options:\n"
            "  --format FMT    ansi (default: terminal text, 256 colours on a colour\n"
            "                  terminal, else the ramp \" .:-=+*#%%@\"), svg, png, json\n"
            "  -o, --output FILE  write to FILE instead of stdout\n"
            "  --width COLS    text width for ansi (default: COLUMNS, the terminal, or 80);\n"
            "                  experts that do not fit wrap into bands\n"
            "  -h, --help      this text\n"
            "\n"
            "Colour only on a terminal and never with NO_COLOR.\n"
            "exit status: 0 success, 1 no live process or the output cannot be written,\n"
            "2 bad usage or a corrupt or foreign source.\n");
}

static int term_width(FILE *out)
{
    const char *c = getenv("COLUMNS");
    if (c && *c) {
        char *end;
        long v = strtol(c, &end, 10);
        if (!*end && v >= 20 && v <= 100000)
            return (int)v;
    }
    struct winsize ws;
    if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
        return ws.ws_col;
    return 80;
}

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s && s[1] ? s + 1 : p;
}

static void write_json(FILE *f, const struct view *v, const struct heatmap *h)
{
    char t[40];
    struct json j;
    json_init(&j, f, 0);
    json_obj_begin(&j);
    json_key(&j, "schema"), json_int(&j, 1);
    json_key(&j, "source"), json_str(&j, v->kind == VIEW_PROFILE ? "profile" : "segment");
    json_key(&j, "pid");
    if (v->kind == VIEW_SEGMENT)
        json_int(&j, v->snap.h.pid);
    else
        json_null(&j);
    json_key(&j, "time"), json_str(&j, fmt_utc(v->time_ns, t, sizeof t));
    json_key(&j, "model"), json_str(&j, v->model);
    json_key(&j, "model_id"), json_str(&j, v->model_id);
    json_key(&j, "n_layers"), json_uint(&j, v->n_layers);
    json_key(&j, "n_experts"), json_uint(&j, v->n_experts);
    json_key(&j, "value"), json_str(&j, h->value_name);
    json_key(&j, "max"), json_double(&j, h->max);
    json_key(&j, "layers");
    json_arr_begin(&j);
    for (uint32_t l = 0; l < v->n_layers; l++)
        json_int(&j, v->blocks[l]);
    json_arr_end(&j);
    json_key(&j, "rates");
    json_arr_begin(&j);
    for (uint32_t l = 0; l < v->n_layers; l++) {
        json_arr_begin(&j);
        for (uint32_t e = 0; e < v->n_experts; e++)
            json_double(&j, h->value[(size_t)l * v->n_experts + e]);
        json_arr_end(&j);
    }
    json_arr_end(&j);
    json_key(&j, "tiers");
    if (!h->tier) {
        json_null(&j);
    } else {
        json_arr_begin(&j);
        for (uint32_t l = 0; l < v->n_layers; l++) {
            json_arr_begin(&j);
            for (uint32_t e = 0; e < v->n_experts; e++)
                json_str(&j, tier_name(h->tier[(size_t)l * v->n_experts + e]));
            json_arr_end(&j);
        }
        json_arr_end(&j);
    }
    json_obj_end(&j);
    json_finish(&j);
}

int cmd_heatmap(int argc, char **argv)
{
    static const struct option opts[] = {
        { "format", required_argument, 0, 'f' },
        { "output", required_argument, 0, 'o' },
        { "width", required_argument, 0, 'w' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    enum format fmt = FMT_ANSI;
    const char *out_path = NULL;
    int width = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return CLI_OK;
        case 'f':
            if (strcmp(optarg, "ansi") == 0 || strcmp(optarg, "text") == 0)
                fmt = FMT_ANSI;
            else if (strcmp(optarg, "svg") == 0)
                fmt = FMT_SVG;
            else if (strcmp(optarg, "png") == 0)
                fmt = FMT_PNG;
            else if (strcmp(optarg, "json") == 0)
                fmt = FMT_JSON;
            else
                return cli_error(CLI_USAGE, CMD, "--format '%s': not one of ansi, svg, png, json", optarg);
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'w': {
            char *end;
            long v = strtol(optarg, &end, 10);
            if (*end || end == optarg || v < 20 || v > 100000)
                return cli_error(CLI_USAGE, CMD, "--width '%s': not a number of columns (20 or more)", optarg);
            width = (int)v;
            break;
        }
        case ':':
            return cli_error(CLI_USAGE, CMD, "%s needs a value", argv[optind - 1]);
        default:
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (moetier heatmap --help)", argv[optind - 1]);
        }
    }
    if (argc - optind > 1)
        return cli_error(CLI_USAGE, CMD, "one source at a time ('%s' and '%s')", argv[optind], argv[optind + 1]);
    if (fmt == FMT_PNG && !out_path && isatty(STDOUT_FILENO))
        return cli_error(CLI_USAGE, CMD, "refusing to write a PNG to a terminal; use -o FILE");

    struct view v;
    int rc = view_load(CMD, optind < argc ? argv[optind] : NULL, 1, &v);
    if (rc)
        return rc;

    /* the grid: rate scaled to its maximum, else hits scaled to theirs */
    size_t n = (size_t)v.n_layers * v.n_experts;
    float *value = calloc(n ? n : 1, sizeof *value);
    int8_t *tier = v.kind == VIEW_SEGMENT ? calloc(n ? n : 1, 1) : NULL;
    if (!value || (v.kind == VIEW_SEGMENT && !tier)) {
        free(value);
        free(tier);
        view_free(&v);
        return cli_error(CLI_FAIL, CMD, "out of memory");
    }
    double max_rate = 0, max_hits = 0;
    for (size_t i = 0; i < n; i++) {
        if (v.experts[i].rate > max_rate)
            max_rate = v.experts[i].rate;
        if ((double)v.experts[i].hits > max_hits)
            max_hits = (double)v.experts[i].hits;
        if (tier)
            tier[i] = (int8_t)v.experts[i].tier;
    }
    int by_hits = max_rate <= 0 && max_hits > 0;
    for (size_t i = 0; i < n; i++)
        value[i] = by_hits ? (float)((double)v.experts[i].hits / max_hits)
                           : max_rate > 0 ? (float)(v.experts[i].rate / max_rate) : 0.0f;

    char sub[1600], t[40];
    if (v.kind == VIEW_SEGMENT)
        snprintf(sub, sizeof sub, "live: pid %d (%s), %s", v.snap.h.pid, v.snap.h.comm[0] ? v.snap.h.comm : "?",
                 fmt_utc(v.time_ns, t, sizeof t));
    else
        snprintf(sub, sizeof sub, "profile %s, saved %s, %llu decode tokens", v.path, fmt_utc(v.time_ns, t, sizeof t),
                 (unsigned long long)v.tokens_decode);
    struct heatmap h = {
        .title = v.model[0] ? basename_of(v.model) : "(unknown model)",
        .subtitle = sub,
        .value_name = by_hits ? "hits" : "rate",
        .max = by_hits ? max_hits : max_rate,
        .n_layers = v.n_layers,
        .n_experts = v.n_experts,
        .blocks = v.blocks,
        .value = value,
        .tier = tier,
    };

    FILE *out = stdout;
    char tmp[1300] = "";
    if (out_path) {
        snprintf(tmp, sizeof tmp, "%s.tmp.%d", out_path, (int)getpid());
        out = fopen(tmp, "wbx");
        if (!out) {
            rc = cli_error(CLI_FAIL, CMD, "%s: %s", out_path, strerror(errno));
            goto done;
        }
    }
    char err[256] = "";
    int bad = 0;
    switch (fmt) {
    case FMT_ANSI:
        heatmap_ansi(out, &h, !out_path && cli_color(out), width ? width : term_width(out));
        break;
    case FMT_SVG:
        heatmap_svg(out, &h);
        break;
    case FMT_PNG:
        bad = heatmap_png(out, &h, err, sizeof err);
        break;
    case FMT_JSON:
        write_json(out, &v, &h);
        break;
    }
    if (!bad && (fflush(out) || ferror(out))) {
        snprintf(err, sizeof err, "%s", strerror(errno ? errno : EIO));
        bad = 1;
    }
    if (out_path) {
        if (fclose(out) && !bad) {
            snprintf(err, sizeof err, "%s", strerror(errno));
            bad = 1;
        }
        if (!bad && rename(tmp, out_path)) {
            snprintf(err, sizeof err, "%s", strerror(errno));
            bad = 1;
        }
        if (bad)
            unlink(tmp);
    }
    if (bad)
        rc = cli_error(CLI_FAIL, CMD, "writing %s: %s", out_path ? out_path : "the output", err);
done:
    free(value);
    free(tier);
    view_free(&v);
    return rc;
}
