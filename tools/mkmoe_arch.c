/*
 * mkmoe_arch: per-architecture widths, keys and tensor plans (see mkmoe_arch.h).
 *
 * What llama.cpp (the pinned release, src/models/{llama,deepseek2,qwen3moe}.cpp)
 * loads, and the choices made here:
 * - deepseek2 is written as this release's converter writes DeepSeek V3 / Kimi
 *   K2: MLA with the split attn_k_b / attn_v_b (key_length_mla and
 *   value_length_mla present, head_count_kv 1, key_length kv_lora + rope),
 *   sigmoid gating with exp_probs_b, normalized expert weights, leading dense
 *   blocks, shared experts (llama.cpp requires the shexp tensors, so at least
 *   one). No expert groups (Kimi K2 has one group; DeepSeek V3's 8 groups
 *   only restrict selection). Fused ffn_gate_up_exps is optional.
 * - qwen3moe: attn_q_norm / attn_k_norm per head, rope over the whole head,
 *   softmax gating, normalized top-k weights, no shared experts.
 * Weight scales keep every block's output small next to the embedding and
 * output row 0 zero, so h[0] stays the constant of cmd_mkmoe.c's routing
 * design in every architecture.
 */
#include "tools/mkmoe_arch.h"
#include "profiler/ggml_types.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTN_OUT_GAIN 0.15  /* attention output norm relative to a value vector */
#define FFN_OUT_GAIN 0.15   /* expert / dense FFN output norm relative to its input */
#define QK_SHARPNESS 3.0    /* std of attention scores */

static const char *const names[] = { "llama", "deepseek2", "qwen3moe" };

int mkmoe_arch_by_name(const char *name)
{
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (!strcmp(name, names[i]))
            return i;
    return -1;
}

const char *mkmoe_arch_name(enum mkmoe_arch_id a) { return names[a]; }

int mkmoe_arch_sigmoid(const struct mkmoe_geom *g) { return g->arch == MKMOE_ARCH_DEEPSEEK2; }

static int round_up(long long v, int a)
{
    if (v < a)
        return a;
    return (int)((v + a - 1) / a * a);
}

void mkmoe_arch_derive(struct mkmoe_geom *g, int align)
{
    if (!g->heads)
        g->heads = g->embd >= 128 ? g->embd / 64 : 1;
    switch (g->arch) {
    case MKMOE_ARCH_LLAMA:
        g->head_dim = g->embd / g->heads;
        g->heads_kv = g->heads;
        break;
    case MKMOE_ARCH_DEEPSEEK2: {
        /* head dims in DeepSeek V3's proportions (nope 128, rope 64, v 128), at
         * least one 32-block so every matrix takes a block type */
        int s = g->embd < 256 ? 16 : g->embd < 1024 ? 32 : 64;
        if (!g->rope) g->rope = s;
        if (!g->nope) g->nope = 2 * s;
        if (!g->v_head) g->v_head = 2 * s;
        /* V3 / K2 at 7168: q_lora 1536, kv_lora 512, dense ff 18432 */
        if (g->q_lora < 0) g->q_lora = round_up((long long)g->embd * 1536 / 7168, align);
        if (!g->kv_lora) g->kv_lora = round_up((long long)g->embd * 512 / 7168, align);
        if (!g->dense_ff) g->dense_ff = round_up((long long)g->embd * 18432 / 7168, align);
        /* llama.cpp treats 26/27-block deepseek2 as "lite" (V2-Lite) and
         * never reads q_lora_rank then: write the plain attn_q instead */
        if (g->layers == 26 || g->layers == 27)
            g->q_lora = 0;
        g->heads_kv = 1;
        g->head_dim = g->nope + g->rope;
        break;
    }
    case MKMOE_ARCH_QWEN3MOE:
        if (!g->head_dim) g->head_dim = g->embd / g->heads;
        if (!g->heads_kv) g->heads_kv = g->heads % 16 ? 1 : g->heads / 16; /* 235B: 64 / 4 */
        if (!g->dense_ff) g->dense_ff = 3 * g->embd; /* recorded only: every block is MoE */
        break;
    }
}

int mkmoe_arch_check(const struct mkmoe_geom *g, char *err, size_t errcap)
{
    const char *why = NULL;
    if (g->used > g->experts)
        why = "--used is more than --experts";
    else if (g->embd % 32 || g->ff % 32)
        why = "--embd and --ff must be multiples of 32";
    else if (g->lead >= g->layers)
        why = "--dense-lead must leave at least one MoE block";
    else if (g->arch == MKMOE_ARCH_DEEPSEEK2 && g->shared < 1)
        why = "deepseek2 needs at least one shared expert (llama.cpp requires ffn_*_shexp)";
    else if (g->arch == MKMOE_ARCH_DEEPSEEK2 && (g->dense_ff % 32 || g->kv_lora % 32 || g->q_lora % 32 ||
                                                 g->rope % 2))
        why = "deepseek2 widths (dense ff, lora ranks) must be multiples of 32";
    else if (g->arch == MKMOE_ARCH_QWEN3MOE && (g->head_dim % 2 || g->heads % g->heads_kv))
        why = "qwen3moe needs an even head width and heads a multiple of the KV heads";
    else if (g->fused && g->arch != MKMOE_ARCH_DEEPSEEK2)
        why = "--fused-gate-up: only deepseek2 loads ffn_gate_up_exps in this llama.cpp release";
    else if (g->arch != MKMOE_ARCH_LLAMA && g->lead && g->arch != MKMOE_ARCH_DEEPSEEK2)
        why = "--dense-lead: only deepseek2 has leading dense blocks";
    else if (g->arch == MKMOE_ARCH_QWEN3MOE && g->shared)
        why = "--shared: qwen3moe has no shared experts";
    if (!why)
        return 0;
    snprintf(err, errcap, "%s", why);
    return -EINVAL;
}

static int push(struct mkmoe_plan *p, const char *name, uint32_t type, enum mkmoe_fill fill, double scale,
                int layer, int n_dims, int64_t ne0, int64_t ne1, int64_t ne2)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 256;
        struct mkmoe_tensor *nt = realloc(p->t, nc * sizeof *nt);
        if (!nt)
            return -ENOMEM;
        p->t = nt;
        p->cap = nc;
    }
    struct mkmoe_tensor *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    /* a matrix whose rows do not fill the type's blocks is stored f16 */
    const struct moetier_ggml_type *ty = moetier_ggml_type_get(type);
    if (ty && ty->block_size > 1 && ne0 % ty->block_size)
        type = MOETIER_GGML_F16;
    t->type = type;
    t->n_dims = n_dims;
    t->ne[0] = ne0, t->ne[1] = ne1, t->ne[2] = ne2;
    t->fill = fill;
    t->scale = scale;
    t->layer = layer;
    return 0;
}

void mkmoe_plan_free(struct mkmoe_plan *p)
{
    free(p->t);
    memset(p, 0, sizeof *p);
}

uint64_t mkmoe_plan_bytes(const struct mkmoe_plan *p, int routed)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct mkmoe_tensor *t = &p->t[i];
        if (routed && !strstr(t->name, "_exps."))
            continue;
        const struct moetier_ggml_type *ty = moetier_ggml_type_get(t->type);
        uint64_t el = (uint64_t)t->ne[0] * (t->n_dims > 1 ? t->ne[1] : 1) * (t->n_dims > 2 ? t->ne[2] : 1);
        sum += el * ty->type_size / ty->block_size;
    }
    return sum;
}

#define P(fill, scale, layer, nd, a, b, c, type, ...)                                     \
    do {                                                                                  \
        snprintf(nm, sizeof nm, __VA_ARGS__);                                             \
        if ((rc = push(p, nm, type, fill, scale, layer, nd, a, b, c)) != 0)               \
            return rc;                                                                    \
    } while (0)

/* The routed (and shared) expert tensors of MoE block l. */
static int plan_experts(const struct mkmoe_geom *g, struct mkmoe_plan *p, int l)
{
    char nm[48];
    int rc;
    int n = g->embd, ff = g->ff, E = g->experts;
    uint32_t T = g->type;
    double isq_n = 1.0 / sqrt(n), isq_ff = 1.0 / sqrt(ff);
    if (g->fused) {
        P(MKMOE_FILL_NORMAL, isq_n, -1, 3, n, 2 * ff, E, T, "blk.%d.ffn_gate_up_exps.weight", l);
    } else {
        P(MKMOE_FILL_NORMAL, isq_n, -1, 3, n, ff, E, T, "blk.%d.ffn_gate_exps.weight", l);
        P(MKMOE_FILL_NORMAL, isq_n, -1, 3, n, ff, E, T, "blk.%d.ffn_up_exps.weight", l);
    }
    P(MKMOE_FILL_OUT, FFN_OUT_GAIN * isq_ff, -1, 3, ff, n, E, T, "blk.%d.ffn_down_exps.weight", l);
    if (g->shared) {
        int fs = ff * g->shared;
        P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, fs, 1, T, "blk.%d.ffn_gate_shexp.weight", l);
        P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, fs, 1, T, "blk.%d.ffn_up_shexp.weight", l);
        P(MKMOE_FILL_OUT, FFN_OUT_GAIN / sqrt(fs), -1, 2, fs, n, 1, T, "blk.%d.ffn_down_shexp.weight", l);
    }
    return 0;
}

/* DeepSeek V3's MLA attention, as this release's converter splits it. */
static int plan_mla(const struct mkmoe_geom *g, struct mkmoe_plan *p, int l)
{
    char nm[48];
    int rc;
    int n = g->embd, H = g->heads, kr = g->kv_lora, qr = g->q_lora, hk = g->nope + g->rope;
    uint32_t T = g->type, F32 = MOETIER_GGML_F32;
    double isq_n = 1.0 / sqrt(n);
    if (qr) {
        P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, qr, 1, T, "blk.%d.attn_q_a.weight", l);
        P(MKMOE_FILL_ONE, 1.0, -1, 1, qr, 1, 1, F32, "blk.%d.attn_q_a_norm.weight", l);
        P(MKMOE_FILL_NORMAL, sqrt(QK_SHARPNESS) / sqrt(qr), -1, 2, qr, (int64_t)H * hk, 1, T,
          "blk.%d.attn_q_b.weight", l);
    } else {
        P(MKMOE_FILL_NORMAL, sqrt(QK_SHARPNESS) * isq_n, -1, 2, n, (int64_t)H * hk, 1, T, "blk.%d.attn_q.weight", l);
    }
    P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, kr + g->rope, 1, T, "blk.%d.attn_kv_a_mqa.weight", l);
    P(MKMOE_FILL_ONE, 1.0, -1, 1, kr, 1, 1, F32, "blk.%d.attn_kv_a_norm.weight", l);
    P(MKMOE_FILL_NORMAL, 1.0 / sqrt(g->nope), -1, 3, g->nope, kr, H, T, "blk.%d.attn_k_b.weight", l);
    P(MKMOE_FILL_NORMAL, 1.0 / sqrt(kr), -1, 3, kr, g->v_head, H, T, "blk.%d.attn_v_b.weight", l);
    P(MKMOE_FILL_OUT, ATTN_OUT_GAIN / sqrt((double)H * g->v_head), -1, 2, (int64_t)H * g->v_head, n, 1, T,
      "blk.%d.attn_output.weight", l);
    return 0;
}

int mkmoe_arch_plan(const struct mkmoe_geom *g, int64_t nv, struct mkmoe_plan *p)
{
    char nm[48];
    int rc;
    int n = g->embd, E = g->experts;
    uint32_t T = g->type, F32 = MOETIER_GGML_F32;
    double isq_n = 1.0 / sqrt(n), isq_ff = 1.0 / sqrt(g->ff);
    p->n = 0;
    P(MKMOE_FILL_EMBED, 1.0, -1, 2, n, nv, 1, F32, "token_embd.weight");
    for (int l = 0; l < g->layers; l++) {
        P(MKMOE_FILL_ONE, 1.0, -1, 1, n, 1, 1, F32, "blk.%d.attn_norm.weight", l);
        if (g->arch == MKMOE_ARCH_LLAMA) {
            P(MKMOE_FILL_NORMAL, sqrt(QK_SHARPNESS) * isq_n, -1, 2, n, n, 1, T, "blk.%d.attn_q.weight", l);
            P(MKMOE_FILL_NORMAL, sqrt(QK_SHARPNESS) * isq_n, -1, 2, n, n, 1, T, "blk.%d.attn_k.weight", l);
            P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, n, 1, T, "blk.%d.attn_v.weight", l);
            P(MKMOE_FILL_OUT, ATTN_OUT_GAIN * isq_n, -1, 2, n, n, 1, T, "blk.%d.attn_output.weight", l);
            P(MKMOE_FILL_ONE, 1.0, -1, 1, n, 1, 1, F32, "blk.%d.ffn_norm.weight", l);
            P(MKMOE_FILL_ROUTER, isq_n, l, 2, n, E, 1, F32, "blk.%d.ffn_gate_inp.weight", l);
            P(MKMOE_FILL_NORMAL, isq_n, -1, 3, n, g->ff, E, T, "blk.%d.ffn_gate_exps.weight", l);
            P(MKMOE_FILL_NORMAL, isq_n, -1, 3, n, g->ff, E, T, "blk.%d.ffn_up_exps.weight", l);
            P(MKMOE_FILL_OUT, FFN_OUT_GAIN * isq_ff, -1, 3, g->ff, n, E, T, "blk.%d.ffn_down_exps.weight", l);
            continue;
        }
        if (g->arch == MKMOE_ARCH_DEEPSEEK2) {
            if ((rc = plan_mla(g, p, l)) != 0)
                return rc;
        } else {
            int hd = g->head_dim, q = g->heads * hd, kv = g->heads_kv * hd;
            P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, q, 1, T, "blk.%d.attn_q.weight", l);
            P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, kv, 1, T, "blk.%d.attn_k.weight", l);
            P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, kv, 1, T, "blk.%d.attn_v.weight", l);
            P(MKMOE_FILL_OUT, ATTN_OUT_GAIN / sqrt(q), -1, 2, q, n, 1, T, "blk.%d.attn_output.weight", l);
            P(MKMOE_FILL_ONE, 1.0, -1, 1, hd, 1, 1, F32, "blk.%d.attn_q_norm.weight", l);
            P(MKMOE_FILL_ONE, 1.0, -1, 1, hd, 1, 1, F32, "blk.%d.attn_k_norm.weight", l);
        }
        P(MKMOE_FILL_ONE, 1.0, -1, 1, n, 1, 1, F32, "blk.%d.ffn_norm.weight", l);
        if (l < g->lead) {
            int d = g->dense_ff;
            P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, d, 1, T, "blk.%d.ffn_gate.weight", l);
            P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, d, 1, T, "blk.%d.ffn_up.weight", l);
            P(MKMOE_FILL_OUT, FFN_OUT_GAIN / sqrt(d), -1, 2, d, n, 1, T, "blk.%d.ffn_down.weight", l);
            continue;
        }
        P(MKMOE_FILL_ROUTER, isq_n, l, 2, n, E, 1, F32, "blk.%d.ffn_gate_inp.weight", l);
        if (mkmoe_arch_sigmoid(g))
            P(MKMOE_FILL_SELECT_BIAS, 0.0, l, 1, E, 1, 1, F32, "blk.%d.exp_probs_b.bias", l);
        if ((rc = plan_experts(g, p, l)) != 0)
            return rc;
    }
    P(MKMOE_FILL_ONE, 1.0, -1, 1, n, 1, 1, F32, "output_norm.weight");
    P(MKMOE_FILL_NORMAL, isq_n, -1, 2, n, nv, 1, T, "output.weight");
    return 0;
}
#undef P

void mkmoe_arch_kv(struct gguf_writer *w, const struct mkmoe_geom *g, int ctx, uint32_t n_vocab)
{
    char k[96];
    const char *a = names[g->arch];
#define KEY(suffix) (snprintf(k, sizeof k, "%s.%s", a, suffix), k)
    gguf_kv_u32(w, KEY("context_length"), (uint32_t)ctx);
    gguf_kv_u32(w, KEY("embedding_length"), (uint32_t)g->embd);
    gguf_kv_u32(w, KEY("block_count"), (uint32_t)g->layers);
    gguf_kv_u32(w, KEY("feed_forward_length"), (uint32_t)(g->arch == MKMOE_ARCH_LLAMA ? g->ff : g->dense_ff));
    gguf_kv_u32(w, KEY("attention.head_count"), (uint32_t)g->heads);
    gguf_kv_u32(w, KEY("attention.head_count_kv"), (uint32_t)g->heads_kv);
    gguf_kv_f32(w, KEY("attention.layer_norm_rms_epsilon"), g->arch == MKMOE_ARCH_LLAMA ? 1e-5f : 1e-6f);
    gguf_kv_u32(w, KEY("rope.dimension_count"),
                (uint32_t)(g->arch == MKMOE_ARCH_DEEPSEEK2 ? g->rope : g->head_dim));
    gguf_kv_f32(w, KEY("rope.freq_base"), 10000.0f);
    gguf_kv_u32(w, KEY("expert_count"), (uint32_t)g->experts);
    gguf_kv_u32(w, KEY("expert_used_count"), (uint32_t)g->used);
    gguf_kv_u32(w, KEY("vocab_size"), n_vocab);
    if (g->arch == MKMOE_ARCH_QWEN3MOE) {
        gguf_kv_u32(w, KEY("attention.key_length"), (uint32_t)g->head_dim);
        gguf_kv_u32(w, KEY("attention.value_length"), (uint32_t)g->head_dim);
        gguf_kv_u32(w, KEY("expert_feed_forward_length"), (uint32_t)g->ff);
    } else if (g->arch == MKMOE_ARCH_DEEPSEEK2) {
        /* MLA as MQA over the compressed KV: one KV head of kv_lora + rope */
        gguf_kv_u32(w, KEY("leading_dense_block_count"), (uint32_t)g->lead);
        gguf_kv_u32(w, KEY("attention.q_lora_rank"), (uint32_t)g->q_lora);
        gguf_kv_u32(w, KEY("attention.kv_lora_rank"), (uint32_t)g->kv_lora);
        gguf_kv_u32(w, KEY("attention.key_length"), (uint32_t)(g->kv_lora + g->rope));
        gguf_kv_u32(w, KEY("attention.value_length"), (uint32_t)g->kv_lora);
        gguf_kv_u32(w, KEY("attention.key_length_mla"), (uint32_t)(g->nope + g->rope));
        gguf_kv_u32(w, KEY("attention.value_length_mla"), (uint32_t)g->v_head);
        gguf_kv_u32(w, KEY("expert_feed_forward_length"), (uint32_t)g->ff);
        gguf_kv_u32(w, KEY("expert_shared_count"), (uint32_t)g->shared);
        gguf_kv_f32(w, KEY("expert_weights_scale"), g->weights_scale);
        gguf_kv_bool(w, KEY("expert_weights_norm"), 1);
        gguf_kv_u32(w, KEY("expert_gating_func"), 2); /* LLAMA_EXPERT_GATING_FUNC_TYPE_SIGMOID */
    }
#undef KEY
}
