/*
 * mkmoe_preset: the expert grids of real models (`mkmoe --like NAME`):
 * architecture, blocks, leading dense blocks, routed and shared experts,
 * top-k, and the widths that set the ratio of expert to dense bytes, as
 * ratios of the embedding width so a preset scales to any --size.
 */
#ifndef MOETIER_TOOLS_MKMOE_PRESET_H
#define MOETIER_TOOLS_MKMOE_PRESET_H

#include "tools/mkmoe_arch.h"

struct mkmoe_preset {
    const char *name;
    enum mkmoe_arch_id arch;
    int layers, lead, experts, shared, used;
    int embd, ff, dense_ff, heads, head_dim, q_lora, kv_lora; /* the real model's */
    int vocab;                                                /* the real model's */
    float weights_scale;
};

/* The preset called name, or NULL (then --like takes a routing file). */
const struct mkmoe_preset *mkmoe_preset_find(const char *name);

/* "kimi-k2.5|deepseek-v3|qwen3-235b" */
const char *mkmoe_preset_names(void);

/* Sets g's architecture and widths for embedding width embd, each rounded up
 * to align (the grid is the caller's: explicit options win over p's). */
void mkmoe_preset_apply(const struct mkmoe_preset *p, struct mkmoe_geom *g, int embd, int align);

/* Expert bytes over all other tensor bytes, of the real model (its vocab and
 * widths) in type t. */
double mkmoe_preset_real_ratio(const struct mkmoe_preset *p, uint32_t t);

#endif
