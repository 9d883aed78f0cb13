/*
 * moetier inspect: what a GGUF MoE model holds, and what of it fits in DRAM.
 *
 *   moetier inspect MODEL.gguf [--dram SIZE] [--json] [--pretty]
 *
 * Reads the model with profiler/gguf (split models through their first part),
 * builds the expert map (profiler/expert_map) and prints either a stable
 * human layout (golden-tested: change it only with the goldens) or one JSON
 * object (docs/inspect.md documents every field). Nothing is mapped or loaded;
 * only the metadata is read.
 *
 * Exit: 0; 2 for bad usage or a defective model (one line on stderr naming the
 * defect); 1 when the file cannot be read (missing, EIO, out of memory) or the
 * output cannot be written.
 */
#include "config.h"

#include "common/json.h"
#include "common/size.h"
#include "profiler/expert_map.h"
#include "profiler/ggml_types.h"
#include "profiler/gguf.h"
#include "tools/cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CMD "inspect"
#define LABEL_WIDTH 23
#define CELL_WIDTH 20

struct opts {
    const char *model;
    int have_dram;
    uint64_t dram;
    int json;
    int pretty;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier inspect MODEL.gguf [--dram SIZE] [--json] [--pretty]\n"
            "\n"
            "Lists the routed experts of a GGUF Mixture-of-Experts model: MoE layers,\n"
            "experts per layer and per token, the bytes of one expert by tensor, and the\n"
            "bytes of routed experts, shared experts and everything else. A split model\n"
            "(NAME-00001-of-0000N.gguf) is read through its first part.\n"
            "\n"
            "options:\n"
            "  --dram SIZE   also say how many experts fit in SIZE bytes of DRAM\n"
            "                (binary suffixes: 512M, 64G, 1.5T)\n"
            "  --json        one JSON object instead of text (fields: docs/inspect.md),\n"
            "                with every expert's byte ranges in the file\n"
            "  --pretty      indent the JSON (implies --json)\n"
            "  -h, --help    this text\n"
            "\n"
            "exit status: 0 success, 1 the file could not be read, 2 bad usage or a\n"
            "defective model file (one line on stderr names the defect).\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    int only_files = 0;
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        if (!only_files && cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
        if (!only_files && strcmp(a, "--") == 0) {
            only_files = 1;
        } else if (!only_files && strcmp(a, "--json") == 0) {
            o->json = 1;
        } else if (!only_files && strcmp(a, "--pretty") == 0) {
            o->json = o->pretty = 1;
        } else if (!only_files && (strcmp(a, "--dram") == 0 || strncmp(a, "--dram=", 7) == 0)) {
            if (a[6] == '=') {
                val = a + 7;
            } else {
                if (i + 1 >= argc)
                    return cli_error(CLI_USAGE, CMD, "--dram needs a size (e.g. --dram 64G)");
                val = argv[++i];
            }
            struct moetier_size sz;
            int rc = moetier_size_parse(val, 0, &sz);
            if (rc == -ERANGE)
                return cli_error(CLI_USAGE, CMD, "--dram '%s': too large", val);
            if (rc && strchr(val, '%'))
                return cli_error(CLI_USAGE, CMD, "--dram '%s': give a size; a percentage has no meaning here", val);
            if (rc)
                return cli_error(CLI_USAGE, CMD, "--dram '%s': not a size (e.g. 64G, 512M, 1.5T)", val);
            o->dram = sz.bytes;
            o->have_dram = 1;
        } else if (!only_files && a[0] == '-' && a[1] != '\0') {
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (moetier inspect --help)", a);
        } else if (o->model) {
            return cli_error(CLI_USAGE, CMD, "one model at a time ('%s' and '%s')", o->model, a);
        } else {
            o->model = a;
        }
    }
    if (!o->model)
        return cli_error(CLI_USAGE, CMD, "which model? (moetier inspect MODEL.gguf)");
    return 0;
}

/* ---- text -------------------------------------------------------------------- */

static void heading(FILE *f, int color, const char *title)
{
    if (color)
        fprintf(f, "\033[1m%s\033[0m\n", title);
    else
        fprintf(f, "%s\n", title);
}

static void row(FILE *f, const char *label, const char *value)
{
    fprintf(f, "  %-*s %s\n", LABEL_WIDTH - 1, label, value);
}

static void row_size(FILE *f, const char *label, uint64_t bytes, const char *extra)
{
    char b[32];
    fprintf(f, "  %-*s %s%s\n", LABEL_WIDTH - 1, label, moetier_size_format(bytes, b, sizeof b),
            extra ? extra : "");
}

/* Appends the block indices of layers[idx[0..n-1]] as "0-3,5,7-9". */
static void block_list(char *buf, size_t cap, const struct moetier_expert_map *map, const size_t *idx,
                       size_t n)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && o < cap;) {
        size_t j = i;
        while (j + 1 < n && map->layers[idx[j + 1]].layer == map->layers[idx[j]].layer + 1)
            j++;
        int w;
        if (j == i)
            w = snprintf(buf + o, cap - o, "%s%d", i ? "," : "", map->layers[idx[i]].layer);
        else
            w = snprintf(buf + o, cap - o, "%s%d-%d", i ? "," : "", map->layers[idx[i]].layer,
                         map->layers[idx[j]].layer);
        if (w < 0)
            break;
        o += (size_t)w;
        i = j + 1;
    }
}

/* Compares the shape of two layers' experts: tensors, types, sizes. */
static int shape_cmp(const struct moetier_expert_layer *x, const struct moetier_expert_layer *y)
{
    if (x->n_tensors != y->n_tensors)
        return x->n_tensors < y->n_tensors ? -1 : 1;
    for (int r = 0; r < x->n_tensors; r++) {
        const struct moetier_expert_tensor *s = &x->tensor[r], *t = &y->tensor[r];
        if (s->part != t->part)
            return s->part < t->part ? -1 : 1;
        if (s->type != t->type)
            return s->type < t->type ? -1 : 1;
        if (s->expert_bytes != t->expert_bytes)
            return s->expert_bytes < t->expert_bytes ? -1 : 1;
    }
    return 0;
}

/* Layer indices by shape, then by position. */
static int cmp_shape(const void *a, const void *b, void *arg)
{
    const struct moetier_expert_map *map = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = shape_cmp(&map->layers[i], &map->layers[j]);
    return c ? c : (i > j) - (i < j);
}

/* Groups (start, length) in idx[], ordered by their first layer. */
struct group {
    size_t start, n;
};

static int cmp_group(const void *a, const void *b, void *arg)
{
    const size_t *idx = arg;
    const struct group *x = a, *y = b;
    size_t i = idx[x->start], j = idx[y->start];
    return (i > j) - (i < j);
}

/* The column of a part: gate and gate_up share the first. */
static int column(int part)
{
    return part == MOETIER_EXPERT_GATE_UP ? 0 : part;
}

/*
 * One line per group of layers whose experts have the same tensors, types and
 * sizes, in the order of each group's first block. O(n log n) in the layers.
 */
static int per_expert_table(FILE *f, const struct moetier_expert_map *map)
{
    size_t n = map->n_layers, n_groups = 0;
    size_t *idx = malloc(n * sizeof *idx);
    struct group *groups = malloc(n * sizeof *groups);
    char *blocks = malloc(8192);
    int rc = 0, has_gate = 0, has_gate_up = 0;

    if (!idx || !groups || !blocks) {
        rc = -ENOMEM;
        goto out;
    }
    for (size_t l = 0; l < n; l++) {
        idx[l] = l;
        for (int r = 0; r < map->layers[l].n_tensors; r++) {
            has_gate |= map->layers[l].tensor[r].part == MOETIER_EXPERT_GATE;
            has_gate_up |= map->layers[l].tensor[r].part == MOETIER_EXPERT_GATE_UP;
        }
    }
    qsort_r(idx, n, sizeof *idx, cmp_shape, (void *)map);
    for (size_t k = 0; k < n; k++) {
        if (k == 0 || shape_cmp(&map->layers[idx[k - 1]], &map->layers[idx[k]]) != 0)
            groups[n_groups++] = (struct group){ k, 0 };
        groups[n_groups - 1].n++;
    }
    qsort_r(groups, n_groups, sizeof *groups, cmp_group, idx);

    fprintf(f, "  %-*s%-*s%-*s%-*s%s\n", CELL_WIDTH,
            has_gate && has_gate_up ? "gate|gate_up" : has_gate_up ? "gate_up" : "gate", CELL_WIDTH,
            "up", CELL_WIDTH, "down", 12, "total", "blocks");
    for (size_t gi = 0; gi < n_groups; gi++) {
        const struct moetier_expert_layer *L = &map->layers[idx[groups[gi].start]];
        char cell[3][64], tot[32];
        for (int c = 0; c < 3; c++)
            snprintf(cell[c], sizeof cell[c], "-");
        for (int r = 0; r < L->n_tensors; r++) {
            const struct moetier_expert_tensor *t = &L->tensor[r];
            const struct moetier_ggml_type *gt = moetier_ggml_type_get(t->type);
            char b[32];
            snprintf(cell[column(t->part)], sizeof cell[0], "%s %s",
                     moetier_size_format(t->expert_bytes, b, sizeof b), gt ? gt->name : "?");
        }
        /* a group's members are in layer order within idx (ties sort by position) */
        block_list(blocks, 8192, map, idx + groups[gi].start, groups[gi].n);
        fprintf(f, "  %-*s%-*s%-*s%-*s%s\n", CELL_WIDTH, cell[0], CELL_WIDTH, cell[1], CELL_WIDTH,
                cell[2], 12, moetier_size_format(L->expert_bytes, tot, sizeof tot), blocks);
    }
out:
    free(idx);
    free(groups);
    free(blocks);
    return rc;
}

/* Experts that fit in dram bytes, and their share of the routed-expert bytes. */
static void fit(const struct moetier_expert_map *map, uint64_t dram, uint64_t *n, double *share)
{
    *n = 0;
    *share = 0;
    if (map->n_experts == 0 || map->expert_bytes_max == 0)
        return;
    uint64_t k = dram / map->expert_bytes_max;
    if (k > map->n_experts)
        k = map->n_experts;
    *n = k;
    /* the fitting experts' bytes at the largest size, capped at everything */
    double b = (double)k * (double)map->expert_bytes_max;
    *share = b >= (double)map->expert_bytes_total ? 1.0 : b / (double)map->expert_bytes_total;
}

static int print_text(FILE *f, const struct opts *o, const struct moetier_gguf_model *m,
                      const struct moetier_expert_map *map)
{
    int color = cli_color(f);
    char line[512], b[32], q[200];
    size_t n_files = moetier_gguf_model_n_files(m);

    heading(f, color, "model");
    row(f, "file", o->model);
    if (n_files > 1) {
        snprintf(line, sizeof line, "%zu (split model)", n_files);
        row(f, "parts", line);
    }
    if (map->architecture)
        row(f, "architecture",
            moetier_gguf_sanitize(map->architecture, strlen(map->architecture), q, sizeof q));
    else
        row(f, "architecture", "unknown (no general.architecture)");
    row_size(f, "file size", moetier_gguf_model_size(m), NULL);

    heading(f, color, "experts");
    if (map->n_layers == 0) {
        row(f, "MoE layers", "0 (no routed expert tensors: not a Mixture-of-Experts model)");
    } else {
        size_t *idx = malloc(map->n_layers * sizeof *idx);
        char *blocks = malloc(8192);
        if (!idx || !blocks) {
            free(idx);
            free(blocks);
            return -ENOMEM;
        }
        for (size_t l = 0; l < map->n_layers; l++)
            idx[l] = l;
        block_list(blocks, 8192, map, idx, map->n_layers);
        fprintf(f, "  %-*s %zu (%s %s)\n", LABEL_WIDTH - 1, "MoE layers", map->n_layers,
                map->n_layers == 1 ? "block" : "blocks", blocks);
        free(idx);
        free(blocks);
    }
    snprintf(line, sizeof line, "%u", map->n_expert);
    row(f, "experts per layer", line);
    if (map->n_expert_used >= 0)
        snprintf(line, sizeof line, "%lld", (long long)map->n_expert_used);
    else
        snprintf(line, sizeof line, "unknown (no expert_used_count)");
    row(f, "experts per token", line);
    if (map->n_expert_shared >= 0)
        snprintf(line, sizeof line, "%lld", (long long)map->n_expert_shared);
    else if (map->n_shared_tensors)
        snprintf(line, sizeof line, "yes (count not in the metadata)");
    else
        snprintf(line, sizeof line, "none");
    row(f, "shared experts", line);

    if (map->n_layers) {
        heading(f, color, "per-expert bytes");
        int rc = per_expert_table(f, map);
        if (rc)
            return rc;
    }

    heading(f, color, "bytes");
    snprintf(line, sizeof line, " (%zu experts)", map->n_experts);
    row_size(f, "routed experts", map->expert_bytes_total, line);
    row_size(f, "shared experts", map->shared_expert_bytes, NULL);
    row_size(f, "other tensors", map->other_bytes_total, NULL);

    if (o->have_dram) {
        uint64_t n;
        double share;
        fit(map, o->dram, &n, &share);
        heading(f, color, "fit in DRAM");
        row_size(f, "DRAM", o->dram, NULL);
        if (map->n_experts == 0) {
            row(f, "experts that fit", "0 (no routed experts)");
        } else {
            snprintf(line, sizeof line, "%llu of %zu (%s %s)", (unsigned long long)n, map->n_experts,
                     moetier_size_format(map->expert_bytes_max, b, sizeof b),
                     map->expert_bytes_min == map->expert_bytes_max ? "each" : "for the largest");
            row(f, "experts that fit", line);
            snprintf(line, sizeof line, "%.1f%%", share * 100);
            row(f, "share of expert bytes", line);
        }
    }
    return 0;
}

/* ---- JSON --------------------------------------------------------------------- */

static void print_json(FILE *f, const struct opts *o, const struct moetier_gguf_model *m,
                       const struct moetier_expert_map *map)
{
    struct json j;
    size_t n_files = moetier_gguf_model_n_files(m);
    int split = n_files > 1;

    json_init(&j, f, o->pretty);
    json_obj_begin(&j);
    json_key(&j, "schema");
    json_int(&j, 1);
    json_key(&j, "file");
    json_str(&j, o->model);
    if (split) {
        json_key(&j, "files");
        json_arr_begin(&j);
        for (size_t i = 0; i < n_files; i++)
            json_str(&j, moetier_gguf_model_path(m, i));
        json_arr_end(&j);
    }
    json_key(&j, "file_size");
    json_uint(&j, moetier_gguf_model_size(m));
    json_key(&j, "architecture");
    json_str(&j, map->architecture);
    json_key(&j, "n_layers");
    json_uint(&j, map->n_layers);
    json_key(&j, "n_experts");
    json_uint(&j, map->n_expert);
    json_key(&j, "n_experts_used");
    if (map->n_expert_used >= 0)
        json_int(&j, map->n_expert_used);
    else
        json_null(&j);
    json_key(&j, "n_experts_shared");
    if (map->n_expert_shared >= 0)
        json_int(&j, map->n_expert_shared);
    else
        json_null(&j);
    json_key(&j, "expert_bytes_total");
    json_uint(&j, map->expert_bytes_total);
    json_key(&j, "shared_expert_bytes");
    json_uint(&j, map->shared_expert_bytes);
    json_key(&j, "other_bytes_total");
    json_uint(&j, map->other_bytes_total);
    if (o->have_dram) {
        uint64_t n;
        double share;
        fit(map, o->dram, &n, &share);
        json_key(&j, "fit");
        json_obj_begin(&j);
        json_key(&j, "dram");
        json_uint(&j, o->dram);
        json_key(&j, "experts");
        json_uint(&j, n);
        json_key(&j, "share");
        json_double(&j, share);
        json_obj_end(&j);
    }
    json_key(&j, "experts");
    json_arr_begin(&j);
    for (size_t i = 0; i < map->n_experts; i++) {
        const struct moetier_expert *e = &map->experts[i];
        json_obj_begin(&j);
        json_key(&j, "layer");
        json_int(&j, e->layer);
        json_key(&j, "expert");
        json_int(&j, e->expert);
        json_key(&j, "bytes");
        json_uint(&j, e->bytes);
        json_key(&j, "ranges");
        json_arr_begin(&j);
        for (int r = 0; r < e->n_ranges; r++) {
            json_arr_begin(&j);
            json_uint(&j, e->range[r].off);
            json_uint(&j, e->range[r].len);
            if (split)
                json_int(&j, e->range[r].file);
            json_arr_end(&j);
        }
        json_arr_end(&j);
        json_obj_end(&j);
    }
    json_arr_end(&j);
    json_obj_end(&j);
    json_finish(&j);
}

/* ---- the command ---------------------------------------------------------------- */

/* Defects in the model (and a path that is not a model file) are bad input. */
static int exit_code(int rc)
{
    switch (-rc) {
    case EBADMSG:
    case E2BIG:
    case EINVAL:
    case EISDIR:
        return CLI_USAGE;
    default:
        return CLI_FAIL;
    }
}

int cmd_inspect(int argc, char **argv)
{
    struct opts o;
    struct moetier_gguf_model *m = NULL;
    struct moetier_expert_map *map = NULL;
    char err[MOETIER_GGUF_ERR_MAX];
    int rc, ret;

    rc = parse_args(argc, argv, &o);
    if (rc < 0)
        return CLI_OK; /* --help */
    if (rc > 0)
        return rc;

    rc = moetier_gguf_model_open(o.model, &m, err, sizeof err);
    if (rc) {
        ret = cli_error(exit_code(rc), CMD, "%s: %s", o.model, err);
        goto out;
    }
    rc = moetier_expert_map_build(m, &map, err, sizeof err);
    if (rc) {
        ret = cli_error(exit_code(rc), CMD, "%s: %s", o.model, err);
        goto out_model;
    }

    if (o.json) {
        print_json(stdout, &o, m, map);
    } else if ((rc = print_text(stdout, &o, m, map))) {
        ret = cli_error(CLI_FAIL, CMD, "%s", strerror(-rc));
        goto out_map;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        ret = cli_error(CLI_FAIL, CMD, "writing the output: %s", strerror(errno));
        goto out_map;
    }
    ret = CLI_OK;

out_map:
    moetier_expert_map_free(map);
out_model:
    moetier_gguf_model_close(m);
out:
    return ret;
}
