/*
 * mkmoe_arch: what each llama.cpp architecture mkmoe writes expects: its
 * widths (derived from one embedding width), its GGUF keys and its tensor
 * plan, in the order the file holds them. cmd_mkmoe.c fills the plan.
 *
 * Invariant: the llama plan and keys are those mkmoe wrote before other
 * architectures existed, in the same order (tests compare bytes), so the
 * random streams (one per tensor, in plan order) are unchanged too.
 */
#ifndef MOETIER_TOOLS_MKMOE_ARCH_H
#define MOETIER_TOOLS_MKMOE_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "tools/gguf_writer.h"

enum mkmoe_arch_id { MKMOE_ARCH_LLAMA, MKMOE_ARCH_DEEPSEEK2, MKMOE_ARCH_QWEN3MOE };

/* How a tensor's values are made (cmd_mkmoe.c). */
enum mkmoe_fill {
    MKMOE_FILL_ONE,        /* norms */
    MKMOE_FILL_EMBED,      /* token embeddings, column 0 the constant C */
    MKMOE_FILL_NORMAL,     /* N(0, scale^2) */
    MKMOE_FILL_OUT,        /* same, output row 0 zero (keeps h[0] = C) */
    MKMOE_FILL_ROUTER,     /* router: noise, column 0 the calibrated logit bias */
    MKMOE_FILL_SELECT_BIAS /* exp_probs_b: the calibrated selection bias */
};

/* Every width of one model. Lengths in elements. */
struct mkmoe_geom {
    enum mkmoe_arch_id arch;
    uint32_t type;                   /* type of the big matrices */
    int layers, lead;                /* all blocks; leading dense blocks */
    int experts, shared, used;       /* routed, shared, used per token */
    int embd, ff, dense_ff;          /* ff: one expert's FFN width */
    int heads, heads_kv, head_dim;   /* head_dim: llama/qwen3moe */
    int q_lora, kv_lora, rope, nope, v_head; /* deepseek2 MLA; q_lora 0 = plain attn_q */
    int fused;                       /* ffn_gate_up_exps instead of gate and up */
    float weights_scale;             /* deepseek2 expert_weights_scale */
};

struct mkmoe_tensor {
    char name[48];
    uint32_t type;
    int n_dims;
    int64_t ne[3];
    enum mkmoe_fill fill;
    double scale;                    /* std of the normal fill */
    int layer;                       /* MoE router/bias: its block, else -1 */
};

struct mkmoe_plan {
    struct mkmoe_tensor *t;
    size_t n, cap;
};

/* Arch name <-> id; -1 for an unknown name. */
int mkmoe_arch_by_name(const char *name);
const char *mkmoe_arch_name(enum mkmoe_arch_id a);

/* 1 when the arch selects experts with sigmoid + exp_probs_b (the bias lives
 * there, not in router column 0). */
int mkmoe_arch_sigmoid(const struct mkmoe_geom *g);

/* Fills the widths an arch derives from embd and ff that the caller left 0
 * (heads, head dims, dense ff, lora ranks), each rounded up to `align`. */
void mkmoe_arch_derive(struct mkmoe_geom *g, int align);

/* Checks the widths fit the block size of every tensor's type; 0 or -EINVAL
 * with a reason in err. */
int mkmoe_arch_check(const struct mkmoe_geom *g, char *err, size_t errcap);

/* The tensors in file order. Attention and dense matrices use g->type where
 * their rows allow it, else f16. 0 or -ENOMEM. */
int mkmoe_arch_plan(const struct mkmoe_geom *g, int64_t n_vocab, struct mkmoe_plan *p);
void mkmoe_plan_free(struct mkmoe_plan *p);

/* Tensor bytes of a plan, padding excluded: all of them, or (routed != 0)
 * only the routed experts (the *_exps tensors). */
uint64_t mkmoe_plan_bytes(const struct mkmoe_plan *p, int routed);

/* Writes the "<arch>.*" keys (between general.* and tokenizer.*). */
void mkmoe_arch_kv(struct gguf_writer *w, const struct mkmoe_geom *g, int ctx, uint32_t n_vocab);

#endif
