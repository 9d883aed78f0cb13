/*
 * moetier mkmoe: writes a GGUF Mixture-of-Experts model that the real
 * llama.cpp loads and runs (llama, deepseek2 or qwen3moe architecture, see
 * mkmoe_arch.c; grids of real models, mkmoe_preset.c; a small SPM
 * vocabulary), deterministic for a seed.
 *
 * How routing is shaped: embedding dimension 0 is a constant C in every token,
 * and the attention output and expert down projections have a zero row 0, so
 * every hidden state keeps h[0] = C at every layer: router column 0 is then a
 * per-expert bias. Attention and expert outputs are kept small next to the
 * embedding, so a token's route is mostly a function of the token itself (this
 * is measured: context mixing through attention makes the router see a shared
 * mean direction of the text, a fixed per-expert offset that spoils shaping).
 * Expert popularity then depends on which tokens text is made of, so the biases
 * are fitted (tools/mkmoe_shape.c) over the token frequencies of a reference
 * English text (tools/mkmoe_reftext.c), using the exact router logits each
 * token's embedding produces. Tests measure the result with real llama.cpp on
 * a different text.
 *
 * deepseek2 selects top-k of sigmoid(logit) + exp_probs_b (DeepSeek V3's
 * load-balancing bias), so there the bias is exp_probs_b itself, fitted
 * against the sigmoid scores of the same token logits (router column 0 zero):
 * the bias then acts the way real V3 / K2 routing is steered.
 */
#include "config.h"
#include "common/rng.h"
#include "common/size.h"
#include "profiler/ggml_types.h"
#include "profiler/routing_file.h"
#include "tools/cli.h"
#include "tools/gguf_writer.h"
#include "tools/mkmoe_arch.h"
#include "tools/mkmoe_preset.h"
#include "tools/mkmoe_reftext.h"
#include "tools/mkmoe_shape.h"
#include "tools/mkmoe_vocab.h"
#include "tools/quant.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "mkmoe"

/* Weight scales (the others are in mkmoe_arch.c; see the file comment). */
#define EMBED_CONST 1.0     /* C: the constant dimension 0 of every embedding */
#define UNIFORM_SMOOTHING 0.05 /* share of calibration weight spread over all word pieces */
#define SIGMOID_GAIN 0.02   /* calibration step for sigmoid scores: small, they span (0, 1) */

struct spec {
    int layers, experts, used, embd, ff, heads, ctx;
    int lead, shared, q_lora, fused, kquant;
    enum mkmoe_arch_id arch;
    const struct mkmoe_preset *preset; /* --like NAME */
    uint32_t type;
    uint64_t seed;
    uint64_t size;           /* --size target, 0 = none */
    const char *routing;     /* --routing / --like file */
    int like;                /* shape only */
    int set_layers, set_experts, set_used, set_embd, set_ff, set_arch, set_lead, set_shared, set_heads;
    int quiet;
    const char *name;
    struct mkmoe_geom g;     /* every width, from the above */
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier mkmoe OUT.gguf [options]\n"
            "\n"
            "Writes a GGUF Mixture-of-Experts model (llama, deepseek2 or qwen3moe\n"
            "architecture, a small SPM vocabulary) that llama.cpp loads and runs.\n"
            "Deterministic for a given seed. With no options: a small (~20 MiB) model.\n"
            "\n"
            "options:\n"
            "  --arch A          llama (default), deepseek2 or qwen3moe\n"
            "  --like NAME       a real model's grid scaled in width: kimi-k2.5, deepseek-v3\n"
            "                    or qwen3-235b (layers, dense lead, experts, shared, top-k,\n"
            "                    expert-to-dense widths); explicit options win\n"
            "  --layers N        blocks, dense lead included (default 4)\n"
            "  --experts N       routed experts per layer (default 8)\n"
            "  --used N          experts used per token (default 2)\n"
            "  --dense-lead N    deepseek2: leading dense blocks (default 1)\n"
            "  --shared N        deepseek2: shared experts (default 1)\n"
            "  --q-lora N        deepseek2: query LoRA rank, 0 = plain attn_q (default from embd)\n"
            "  --fused-gate-up   deepseek2: one ffn_gate_up_exps instead of gate and up\n"
            "  --embd N          embedding width, a multiple of 32 (default 256)\n"
            "  --ff N            expert FFN width, a multiple of 32 (default 2 x embd)\n"
            "  --heads N         attention heads (default embd / 64, at least 1)\n"
            "  --ctx N           training context length recorded (default 4096)\n"
            "  --type T          f16, q8_0 or q4_0 for the big matrices (default q8_0);\n"
            "                    token embeddings, routers and norms stay f32\n"
            "  --size SIZE       scale embd and ff to make the file about SIZE (e.g. 2G);\n"
            "                    an explicit --embd/--ff wins\n"
            "  --kquant          widths mkmoe picks are multiples of 256, so llama-quantize's\n"
            "                    K-quants apply to every expert tensor\n"
            "  --routing FILE    shape the routers so real routing follows FILE's per-layer\n"
            "                    expert popularity (.counts or .trace); layers, experts and\n"
            "                    experts used come from FILE unless given\n"
            "  --like FILE       take only FILE's popularity shape, keep this model's sizes\n"
            "  --seed N          random seed (default 1)\n"
            "  --name NAME       general.name (default from the shape)\n"
            "  -q, --quiet       no progress bar\n");
}

static int parse_int(const char *opt, const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return cli_error(CLI_USAGE, CMD, "%s: '%s' is not an integer in [%d, %d]", opt, s, lo, hi);
    *out = (int)v;
    return 0;
}

/* s->g for embedding width embd: the preset's or the arch's widths, explicit options winning. */
static void geometry(struct spec *s, int embd)
{
    int align = s->kquant ? 256 : 32;
    struct mkmoe_geom *g = &s->g;
    memset(g, 0, sizeof *g);
    g->arch = s->arch;
    g->type = s->type;
    g->layers = s->layers, g->lead = s->lead, g->experts = s->experts;
    g->shared = s->shared, g->used = s->used, g->fused = s->fused;
    g->q_lora = -1;
    g->weights_scale = 1.0f;
    if (s->preset)
        mkmoe_preset_apply(s->preset, g, embd, align);
    else
        g->embd = embd, g->ff = 2 * embd;
    if (s->set_ff)
        g->ff = s->ff;
    if (s->set_heads || !s->preset)
        g->heads = s->heads;
    if (s->q_lora >= 0)
        g->q_lora = s->q_lora;
    mkmoe_arch_derive(g, align);
}

/* Bytes of the whole model for a given width (header and padding excluded). */
static uint64_t model_bytes(struct spec *s, int embd, size_t n_vocab)
{
    struct mkmoe_plan plan = { 0 };
    geometry(s, embd);
    uint64_t bytes = mkmoe_arch_plan(&s->g, (int64_t)n_vocab, &plan) ? UINT64_MAX : mkmoe_plan_bytes(&plan, 0);
    mkmoe_plan_free(&plan);
    return bytes;
}

struct gen {
    const struct spec *s;
    const struct mkmoe_vocab *v;
    struct gguf_writer w;
    float *row;
    void *qrow;
    uint64_t done, total;
    int progress, last_pct;
    double scale;          /* std of the normal fill of the matrix being made */
    const double *target;  /* [MoE layers * experts] selection probabilities */
    double *fitted;        /* [MoE layers * experts] popularity reached on the reference text */
    double *bias;          /* [experts] the last router's fitted bias (deepseek2: exp_probs_b) */
};

static void progress(struct gen *g, uint64_t add)
{
    g->done += add;
    if (!g->progress)
        return;
    int pct = g->total ? (int)(g->done * 100 / g->total) : 100;
    if (pct == g->last_pct)
        return;
    g->last_pct = pct;
    char a[24], b[24];
    int bar = pct * 30 / 100;
    fprintf(stderr, "\r  writing [%.*s%*s] %3d%% %s / %s", bar, "##############################",
            30 - bar, "", pct, moetier_size_format(g->done, a, sizeof a),
            moetier_size_format(g->total, b, sizeof b));
    if (pct == 100)
        fputc('\n', stderr);
}

/* Element (row, col) of matrix number m of a tensor. */
typedef float (*fill_fn)(struct gen *g, struct rng *rng, int64_t row, int64_t col);

static float fill_one(struct gen *g, struct rng *r, int64_t row, int64_t col) { return 1.0f; }

static float fill_normal(struct gen *g, struct rng *r, int64_t row, int64_t col)
{
    return (float)(rng_normal(r) * g->scale);
}

/* Output row 0 stays zero so h[0] keeps the constant C (see the file comment). */
static float fill_normal_row0_zero(struct gen *g, struct rng *r, int64_t row, int64_t col)
{
    double v = rng_normal(r) * g->scale;
    return row == 0 ? 0.0f : (float)v;
}

static float fill_embedding(struct gen *g, struct rng *r, int64_t row, int64_t col)
{
    double v = rng_normal(r);
    return col == 0 ? (float)EMBED_CONST : (float)v;
}

/* Router rows: zero-mean noise; column 0 (the bias) is set after calibration. */
static float fill_router(struct gen *g, struct rng *r, int64_t row, int64_t col)
{
    double v = rng_normal(r) * g->scale;
    return col == 0 ? 0.0f : (float)v;
}

/* Makes rows x cols (x mats) values into out, or streams them to the file when out is NULL. */
static int make_matrix(struct gen *g, uint64_t stream, int64_t cols, int64_t rows, int64_t mats,
                       uint32_t type, fill_fn fill, float *out)
{
    struct rng rng;
    rng_seed(&rng, g->s->seed, stream);
    size_t rb = quant_row_bytes(type, (size_t)cols);
    for (int64_t m = 0; m < mats; m++) {
        for (int64_t r = 0; r < rows; r++) {
            float *row = out ? out + ((size_t)m * rows + r) * cols : g->row;
            for (int64_t c = 0; c < cols; c++)
                row[c] = fill(g, &rng, r, c);
            if (out)
                continue;
            int rc = quant_row(type, row, g->qrow, (size_t)cols);
            if (!rc)
                rc = gguf_writer_data(&g->w, g->qrow, rb);
            if (rc)
                return rc;
            progress(g, rb);
        }
    }
    return out ? 0 : gguf_writer_tensor_end(&g->w);
}

/* Writes an in-memory f32 matrix as one tensor. */
static int write_matrix(struct gen *g, const float *m, int64_t cols, int64_t rows)
{
    for (int64_t r = 0; r < rows; r++) {
        int rc = gguf_writer_data(&g->w, m + (size_t)r * cols, (size_t)cols * sizeof *m);
        if (rc)
            return rc;
        progress(g, (size_t)cols * sizeof *m);
    }
    return gguf_writer_tensor_end(&g->w);
}

/*
 * Calibration inputs from the embeddings: each token's RMS-normalized embedding
 * (what the router sees, up to the small attention/expert additions) and its
 * weight: the reference text's token frequency, with a little mass spread over
 * every word piece so unseen tokens are not routed arbitrarily.
 */
struct calib {
    int n_tok;          /* tokens with weight > 0 */
    int32_t *tok;       /* their ids */
    double *w, *c;      /* weight, normalized constant dimension */
    double *one;        /* 1 for every token: deepseek2's bias is added, not scaled */
    double *z;          /* [n_tok * experts] router logits without the bias */
};

static int calib_init(struct calib *k, const struct gen *g, const float *emb)
{
    const struct mkmoe_vocab *v = g->v;
    int n = g->s->g.embd;
    double *freq = calloc(v->n, sizeof *freq);
    if (!freq)
        return -ENOMEM;
    long count = mkmoe_vocab_count_tokens(v, mkmoe_reftext, freq);
    if (count <= 0) {
        free(freq);
        return count < 0 ? (int)count : -EINVAL;
    }
    size_t normal = 0;
    for (size_t t = 0; t < v->n; t++)
        normal += v->types[t] == VOCAB_NORMAL;
    k->tok = malloc(v->n * sizeof *k->tok);
    k->w = malloc(v->n * sizeof *k->w);
    k->c = malloc(v->n * sizeof *k->c);
    k->one = malloc(v->n * sizeof *k->one);
    k->z = malloc(v->n * (size_t)g->s->g.experts * sizeof *k->z);
    if (!k->tok || !k->w || !k->c || !k->one || !k->z) {
        free(freq);
        return -ENOMEM;
    }
    k->n_tok = 0;
    for (size_t t = 0; t < v->n; t++) {
        double w = (1 - UNIFORM_SMOOTHING) * freq[t] / (double)count;
        if (v->types[t] == VOCAB_NORMAL)
            w += UNIFORM_SMOOTHING / (double)normal;
        if (w <= 0)
            continue;
        const float *e = emb + t * (size_t)n;
        double ss = 0;
        for (int i = 0; i < n; i++)
            ss += (double)e[i] * e[i];
        k->tok[k->n_tok] = (int32_t)t;
        k->w[k->n_tok] = w;
        k->c[k->n_tok] = e[0] / sqrt(ss / n + 1e-5);
        k->one[k->n_tok] = 1.0;
        k->n_tok++;
    }
    free(freq);
    return 0;
}

static void calib_free(struct calib *k)
{
    free(k->tok), free(k->w), free(k->c), free(k->one), free(k->z);
}

/*
 * Fits the routing bias of one MoE layer (router is [experts * embd]): router
 * column 0 for softmax archs; for deepseek2 g->bias, the exp_probs_b added to
 * the sigmoid scores, which the calibration then sees instead of the logits.
 */
static int calibrate_layer(struct gen *g, struct calib *k, const float *emb, float *router, int moe_layer)
{
    const struct mkmoe_geom *G = &g->s->g;
    int n = G->embd, E = G->experts, sig = mkmoe_arch_sigmoid(G);
    for (int s = 0; s < k->n_tok; s++) {
        const float *e = emb + (size_t)k->tok[s] * n;
        double inv = k->c[s] / EMBED_CONST; /* 1 / rms of this embedding */
        for (int x = 0; x < E; x++) {
            const float *r = router + (size_t)x * n;
            double dot = 0;
            for (int i = 1; i < n; i++)
                dot += (double)r[i] * e[i];
            k->z[(size_t)s * E + x] = sig ? 1.0 / (1.0 + exp(-dot * inv)) : dot * inv;
        }
    }
    int rc = mkmoe_shape_calibrate(g->target + (size_t)moe_layer * E, E, G->used, k->n_tok, k->z,
                                   sig ? k->one : k->c, k->w, sig ? SIGMOID_GAIN : 1.0, g->bias,
                                   g->fitted + (size_t)moe_layer * E);
    if (rc)
        return rc;
    if (!sig)
        for (int x = 0; x < E; x++)
            router[(size_t)x * n] = (float)g->bias[x];
    return 0;
}

static fill_fn fill_of(enum mkmoe_fill f)
{
    switch (f) {
    case MKMOE_FILL_ONE: return fill_one;
    case MKMOE_FILL_EMBED: return fill_embedding;
    case MKMOE_FILL_OUT: return fill_normal_row0_zero;
    case MKMOE_FILL_ROUTER: return fill_router;
    default: return fill_normal;
    }
}

static int generate(struct spec *s, const char *out, const struct mkmoe_vocab *v, const double *target,
                    double *fitted)
{
    int rc;
    struct gen g = { .s = s, .v = v, .target = target, .fitted = fitted, .last_pct = -1 };
    struct calib k = { 0 };
    struct mkmoe_plan plan = { 0 };
    const struct mkmoe_geom *G = &s->g;
    gguf_writer_init(&g.w, 32);
    int n = G->embd;
    int64_t nv = (int64_t)v->n;
    float *emb = malloc((size_t)nv * n * sizeof *emb);
    float *router = malloc((size_t)G->experts * n * sizeof *router);
    float *bias32 = malloc((size_t)G->experts * sizeof *bias32);
    g.bias = malloc((size_t)G->experts * sizeof *g.bias);
    FILE *f = NULL;
    if (!emb || !router || !bias32 || !g.bias || mkmoe_arch_plan(G, nv, &plan)) {
        rc = -ENOMEM;
        goto out;
    }

    char name[128];
    if (s->name)
        snprintf(name, sizeof name, "%s", s->name);
    else
        snprintf(name, sizeof name, "mkmoe-%s%s%dx%d-top%d-%s", G->arch == MKMOE_ARCH_LLAMA ? "" : mkmoe_arch_name(G->arch),
                 G->arch == MKMOE_ARCH_LLAMA ? "" : "-", G->layers, G->experts, G->used,
                 moetier_ggml_type_get(s->type)->name);
    struct gguf_writer *w = &g.w;
    gguf_kv_str(w, "general.architecture", mkmoe_arch_name(G->arch));
    gguf_kv_str(w, "general.name", name);
    gguf_kv_u32(w, "general.alignment", 32);
    gguf_kv_u32(w, "general.file_type", s->type == MOETIER_GGML_F16 ? 1 : s->type == MOETIER_GGML_Q8_0 ? 7 : 2);
    mkmoe_arch_kv(w, G, s->ctx, (uint32_t)v->n);
    gguf_kv_str(w, "tokenizer.ggml.model", "llama");
    gguf_kv_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)v->tokens, v->n);
    gguf_kv_arr_f32(w, "tokenizer.ggml.scores", v->scores, v->n);
    gguf_kv_arr_i32(w, "tokenizer.ggml.token_type", v->types, v->n);
    gguf_kv_u32(w, "tokenizer.ggml.bos_token_id", 1);
    gguf_kv_u32(w, "tokenizer.ggml.eos_token_id", 2);
    gguf_kv_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    gguf_kv_bool(w, "tokenizer.ggml.add_bos_token", 1);
    gguf_kv_bool(w, "tokenizer.ggml.add_eos_token", 0);
    gguf_kv_u32(w, "moetier.mkmoe.seed", (uint32_t)s->seed);
    if (s->routing) {
        const char *base = strrchr(s->routing, '/');
        gguf_kv_str(w, "moetier.mkmoe.routing", base ? base + 1 : s->routing);
        gguf_kv_bool(w, "moetier.mkmoe.like", s->like);
    }
    if (s->preset)
        gguf_kv_str(w, "moetier.mkmoe.preset", s->preset->name);

    int maxw = 0;
    for (size_t i = 0; i < plan.n; i++) {
        const struct mkmoe_tensor *t = &plan.t[i];
        if ((rc = gguf_writer_add_tensor(w, t->name, t->type, (uint32_t)t->n_dims, t->ne)) != 0)
            goto out;
        maxw = t->ne[0] > maxw ? (int)t->ne[0] : maxw;
    }
    g.row = malloc((size_t)maxw * sizeof *g.row);
    g.qrow = malloc((size_t)maxw * 4);
    if (!g.row || !g.qrow) {
        rc = -ENOMEM;
        goto out;
    }
    /* embeddings (stream 1, the first tensor) are needed in memory for the calibration */
    if ((rc = make_matrix(&g, 1, n, nv, 1, MOETIER_GGML_F32, fill_embedding, emb)) != 0 ||
        (rc = calib_init(&k, &g, emb)) != 0)
        goto out;

    f = fopen(out, "wbe");
    if (!f) {
        rc = -errno;
        goto out;
    }
    if ((rc = gguf_writer_begin(w, f)) != 0)
        goto out;
    g.total = w->data_bytes;
    g.progress = !s->quiet && isatty(2) && g.total > (64u << 20);
    /* one random stream per tensor, in plan order */
    for (size_t i = 0; i < plan.n && !rc; i++) {
        const struct mkmoe_tensor *t = &plan.t[i];
        uint64_t stream = i + 1;
        int64_t rows = t->n_dims > 1 ? t->ne[1] : 1, mats = t->n_dims > 2 ? t->ne[2] : 1;
        g.scale = t->scale;
        switch (t->fill) {
        case MKMOE_FILL_EMBED:
            rc = write_matrix(&g, emb, n, nv);
            break;
        case MKMOE_FILL_ROUTER:
            if ((rc = make_matrix(&g, stream, n, G->experts, 1, MOETIER_GGML_F32, fill_router, router)) == 0 &&
                (rc = calibrate_layer(&g, &k, emb, router, t->layer - G->lead)) == 0)
                rc = write_matrix(&g, router, n, G->experts);
            break;
        case MKMOE_FILL_SELECT_BIAS:
            for (int x = 0; x < G->experts; x++)
                bias32[x] = (float)g.bias[x];
            rc = write_matrix(&g, bias32, G->experts, 1);
            break;
        default:
            rc = make_matrix(&g, stream, t->ne[0], rows, mats, t->type, fill_of(t->fill), NULL);
        }
    }
    if (!rc && (fflush(f) != 0 || fsync(fileno(f)) != 0))
        rc = -errno;
out:
    if (f && fclose(f) != 0 && !rc)
        rc = -errno;
    if (rc) {
        cli_error(CLI_FAIL, CMD, "%s: %s", out, strerror(-rc));
        if (f)
            unlink(out);
    }
    calib_free(&k);
    mkmoe_plan_free(&plan);
    free(emb);
    free(router);
    free(bias32);
    free(g.bias);
    free(g.row);
    free(g.qrow);
    gguf_writer_free(w);
    return rc;
}

int cmd_mkmoe(int argc, char **argv)
{
    struct spec s = { .layers = 4, .experts = 8, .used = 2, .embd = 256, .ff = 0, .heads = 0,
                      .ctx = 4096, .type = MOETIER_GGML_Q8_0, .seed = 1, .lead = 1, .shared = 1,
                      .q_lora = -1 };
    enum { O_LAYERS = 256, O_EXPERTS, O_USED, O_EMBD, O_FF, O_HEADS, O_CTX, O_TYPE, O_SIZE,
           O_ROUTING, O_LIKE, O_SEED, O_NAME, O_ARCH, O_LEAD, O_SHARED, O_QLORA, O_FUSED, O_KQUANT };
    static const struct option opts[] = {
        { "layers", required_argument, 0, O_LAYERS }, { "experts", required_argument, 0, O_EXPERTS },
        { "used", required_argument, 0, O_USED },     { "embd", required_argument, 0, O_EMBD },
        { "ff", required_argument, 0, O_FF },         { "heads", required_argument, 0, O_HEADS },
        { "ctx", required_argument, 0, O_CTX },       { "type", required_argument, 0, O_TYPE },
        { "size", required_argument, 0, O_SIZE },     { "routing", required_argument, 0, O_ROUTING },
        { "like", required_argument, 0, O_LIKE },     { "seed", required_argument, 0, O_SEED },
        { "name", required_argument, 0, O_NAME },     { "arch", required_argument, 0, O_ARCH },
        { "dense-lead", required_argument, 0, O_LEAD }, { "shared", required_argument, 0, O_SHARED },
        { "q-lora", required_argument, 0, O_QLORA },  { "fused-gate-up", no_argument, 0, O_FUSED },
        { "kquant", no_argument, 0, O_KQUANT },       { "quiet", no_argument, 0, 'q' },
        { "help", no_argument, 0, 'h' },              { 0, 0, 0, 0 },
    };
    optind = 1;
    opterr = 0;
    int c, rc;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return CLI_OK;
        case 'q': s.quiet = 1; break;
        case O_LAYERS: if ((rc = parse_int("--layers", optarg, 1, 512, &s.layers))) return rc; s.set_layers = 1; break;
        case O_EXPERTS: if ((rc = parse_int("--experts", optarg, 1, 1024, &s.experts))) return rc; s.set_experts = 1; break;
        case O_USED: if ((rc = parse_int("--used", optarg, 1, 64, &s.used))) return rc; s.set_used = 1; break;
        case O_EMBD: if ((rc = parse_int("--embd", optarg, 32, 65536, &s.embd))) return rc; s.set_embd = 1; break;
        case O_FF: if ((rc = parse_int("--ff", optarg, 32, 262144, &s.ff))) return rc; s.set_ff = 1; break;
        case O_HEADS: if ((rc = parse_int("--heads", optarg, 1, 1024, &s.heads))) return rc; s.set_heads = 1; break;
        case O_CTX: if ((rc = parse_int("--ctx", optarg, 16, 1 << 20, &s.ctx))) return rc; break;
        case O_LEAD: if ((rc = parse_int("--dense-lead", optarg, 0, 511, &s.lead))) return rc; s.set_lead = 1; break;
        case O_SHARED: if ((rc = parse_int("--shared", optarg, 0, 64, &s.shared))) return rc; s.set_shared = 1; break;
        case O_QLORA: if ((rc = parse_int("--q-lora", optarg, 0, 65536, &s.q_lora))) return rc; break;
        case O_FUSED: s.fused = 1; break;
        case O_KQUANT: s.kquant = 1; break;
        case O_ARCH: {
            int a = mkmoe_arch_by_name(optarg);
            if (a < 0)
                return cli_error(CLI_USAGE, CMD, "--arch: '%s' is not one of llama, deepseek2, qwen3moe", optarg);
            s.arch = (enum mkmoe_arch_id)a;
            s.set_arch = 1;
            break;
        }
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || v > UINT32_MAX)
                return cli_error(CLI_USAGE, CMD, "--seed: '%s' is not an integer in [0, %u]", optarg, UINT32_MAX);
            s.seed = v;
            break;
        }
        case O_TYPE: {
            int t = moetier_ggml_type_by_name(optarg);
            if (t != MOETIER_GGML_F16 && t != MOETIER_GGML_Q8_0 && t != MOETIER_GGML_Q4_0)
                return cli_error(CLI_USAGE, CMD, "--type: '%s' is not one of f16, q8_0, q4_0", optarg);
            s.type = (uint32_t)t;
            break;
        }
        case O_SIZE: {
            struct moetier_size sz;
            if (moetier_size_parse(optarg, 0, &sz) || sz.bytes < (1u << 20))
                return cli_error(CLI_USAGE, CMD, "--size: '%s' is not a size of at least 1M (e.g. 2G)", optarg);
            s.size = sz.bytes;
            break;
        }
        case O_ROUTING: s.routing = optarg; s.like = 0; break;
        case O_LIKE:
            /* a preset name, else a routing file's popularity shape */
            if ((s.preset = mkmoe_preset_find(optarg)) == NULL) {
                s.routing = optarg;
                s.like = 1;
            }
            break;
        case O_NAME: s.name = optarg; break;
        case '?':
        default:
            if (optopt >= O_LAYERS || (optopt == 0 && argv[optind - 1]))
                return cli_error(CLI_USAGE, CMD, "option '%s' needs a value or is unknown (see --help)", argv[optind - 1]);
            return cli_error(CLI_USAGE, CMD, "unknown option '-%c' (see --help)", optopt);
        }
    }
    if (optind != argc - 1)
        return cli_error(CLI_USAGE, CMD, "expected exactly one output file (see --help)");
    const char *out = argv[optind];

    if (s.preset) {
        const struct mkmoe_preset *p = s.preset;
        if (s.set_arch && s.arch != p->arch)
            return cli_error(CLI_USAGE, CMD, "--like %s is a %s grid, not --arch %s", p->name,
                             mkmoe_arch_name(p->arch), mkmoe_arch_name(s.arch));
        s.arch = p->arch;
        if (!s.set_layers) s.layers = p->layers;
        if (!s.set_lead) s.lead = p->lead;
        if (!s.set_experts) s.experts = p->experts;
        if (!s.set_shared) s.shared = p->shared;
        if (!s.set_used) s.used = p->used;
    }
    /* leading dense blocks and shared experts are deepseek2's */
    if (s.arch != MKMOE_ARCH_DEEPSEEK2) {
        if (!s.set_lead) s.lead = 0;
        if (!s.set_shared) s.shared = 0;
    }
    struct moetier_routing r = { 0 };
    char err[256];
    if (s.routing) {
        rc = moetier_routing_load(s.routing, 0, &r, err, sizeof err);
        if (rc)
            return cli_error(rc == -EIO || rc == -ENOMEM ? CLI_FAIL : CLI_USAGE, CMD, "%s", err);
        if (!s.like) {
            /* a file lists MoE layers only; a preset's grid wins as options do */
            if (!s.set_layers && !s.preset) s.layers = r.layers + s.lead;
            if (!s.set_experts && !s.preset) s.experts = r.experts;
            if (!s.set_used && !s.preset) s.used = r.topk;
        }
    }
    rc = CLI_USAGE;
    if (s.used > s.experts) {
        cli_error(CLI_USAGE, CMD, "--used %d is more than --experts %d", s.used, s.experts);
        goto done;
    }
    if (s.kquant && ((s.set_embd && s.embd % 256) || (s.set_ff && s.ff % 256))) {
        cli_error(CLI_USAGE, CMD, "--kquant: --embd %d / --ff %d must be multiples of 256", s.embd, s.ff);
        goto done;
    }
    struct mkmoe_vocab v;
    if (mkmoe_vocab_build(&v)) {
        rc = cli_error(CLI_FAIL, CMD, "out of memory");
        goto done;
    }
    if (s.size && !s.set_embd) {
        /* widest embd whose model stays within the size: llama in steps of 64
         * as it always did, the others in steps of 32 (256 with --kquant) */
        int step = s.arch == MKMOE_ARCH_LLAMA && !s.preset ? 64 : 32;
        if (s.kquant)
            step = 256;
        int best = step;
        for (int e = step; e <= 65536; e += step) {
            if (model_bytes(&s, e, v.n) > s.size)
                break;
            best = e;
        }
        s.embd = best;
    }
    geometry(&s, s.embd);
    const struct mkmoe_geom *G = &s.g;
    const struct moetier_ggml_type *tt = moetier_ggml_type_get(s.type);
    if (s.arch == MKMOE_ARCH_LLAMA) {
        if (G->embd % 32 || G->ff % 32 || G->embd % G->heads || (G->embd / G->heads) % 2) {
            cli_error(CLI_USAGE, CMD, "--embd %d / --ff %d must be multiples of 32 (the %s block) and embd / heads even",
                      G->embd, G->ff, tt->name);
            goto vocab;
        }
    }
    if (mkmoe_arch_check(G, err, sizeof err)) {
        cli_error(CLI_USAGE, CMD, "%s", err);
        goto vocab;
    }

    int moe_layers = G->layers - G->lead;
    double *p = malloc((size_t)moe_layers * G->experts * sizeof *p);
    double *fitted = malloc((size_t)moe_layers * G->experts * sizeof *fitted);
    if (!p || !fitted) {
        rc = cli_error(CLI_FAIL, CMD, "out of memory");
        goto shape;
    }
    if (!s.routing)
        mkmoe_shape_uniform(moe_layers, G->experts, G->used, p);
    else if (mkmoe_shape_target(&r, moe_layers, G->experts, G->used, s.seed, p)) {
        rc = cli_error(CLI_FAIL, CMD, "out of memory");
        goto shape;
    }
    if (generate(&s, out, &v, p, fitted)) {
        rc = CLI_FAIL;
        goto shape;
    }
    if (!s.quiet) {
        struct stat st;
        char sz[24];
        if (stat(out, &st) == 0 && G->arch == MKMOE_ARCH_LLAMA)
            fprintf(stderr, "wrote %s: %s, %d layers x %d experts (top-%d), embd %d, ff %d, %s%s%s\n", out,
                    moetier_size_format((uint64_t)st.st_size, sz, sizeof sz), G->layers, G->experts, G->used,
                    G->embd, G->ff, tt->name, s.routing ? ", routing shaped like " : "",
                    s.routing ? s.routing : "");
        else if (stat(out, &st) == 0)
            fprintf(stderr, "wrote %s: %s, %s, %d layers x %d experts (top-%d) + %d dense lead, %d shared, "
                    "embd %d, ff %d, %s%s%s\n", out, moetier_size_format((uint64_t)st.st_size, sz, sizeof sz),
                    mkmoe_arch_name(G->arch), moe_layers, G->experts, G->used, G->lead, G->shared, G->embd,
                    G->ff, tt->name, s.routing ? ", routing shaped like " : "", s.routing ? s.routing : "");
        struct mkmoe_plan plan = { 0 };
        if (G->arch != MKMOE_ARCH_LLAMA && !mkmoe_arch_plan(G, (int64_t)v.n, &plan)) {
            double ex = (double)mkmoe_plan_bytes(&plan, 1), all = (double)mkmoe_plan_bytes(&plan, 0);
            fprintf(stderr, "bytes: routed experts / the rest = %.1f", ex / (all - ex));
            if (s.preset)
                fprintf(stderr, " (%s at full width, %s: %.1f)", s.preset->name, tt->name,
                        mkmoe_preset_real_ratio(s.preset, s.type));
            fputc('\n', stderr);
        }
        mkmoe_plan_free(&plan);
        fprintf(stderr, "routing: the hottest 10%% of (layer, expert) pairs should take %.3f of accesses"
                " (%.3f on mkmoe's reference text)\n",
                moetier_hot_share(p, (size_t)moe_layers * G->experts, 0.10),
                moetier_hot_share(fitted, (size_t)moe_layers * G->experts, 0.10));
    }
    rc = CLI_OK;
shape:
    free(p);
    free(fitted);
vocab:
    mkmoe_vocab_free(&v);
done:
    moetier_routing_free(&r);
    return rc;
}
