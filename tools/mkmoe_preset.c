/*
 * mkmoe_preset: real models' expert grids (see mkmoe_preset.h). Figures from
 * the models' config.json: DeepSeek V3 (and Kimi K2 / K2.5, which keeps V3's
 * widths with 384 experts, one dense block and 64 heads), Qwen3-235B-A22B.
 */
#include "tools/mkmoe_preset.h"

#include <string.h>

static const struct mkmoe_preset presets[] = {
    { "kimi-k2.5", MKMOE_ARCH_DEEPSEEK2, 61, 1, 384, 1, 8, 7168, 2048, 18432, 64, 0, 1536, 512, 163840, 2.827f },
    { "deepseek-v3", MKMOE_ARCH_DEEPSEEK2, 61, 3, 256, 1, 8, 7168, 2048, 18432, 128, 0, 1536, 512, 129280, 2.5f },
    { "qwen3-235b", MKMOE_ARCH_QWEN3MOE, 94, 0, 128, 0, 8, 4096, 1536, 12288, 64, 128, 0, 0, 151936, 1.0f },
};

const struct mkmoe_preset *mkmoe_preset_find(const char *name)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++)
        if (!strcmp(name, presets[i].name))
            return &presets[i];
    return NULL;
}

const char *mkmoe_preset_names(void) { return "kimi-k2.5|deepseek-v3|qwen3-235b"; }

static int scaled(int real, int real_embd, int embd, int align)
{
    long long v = (long long)real * embd / real_embd;
    if (v < align)
        return align;
    return (int)((v + align - 1) / align * align);
}

void mkmoe_preset_apply(const struct mkmoe_preset *p, struct mkmoe_geom *g, int embd, int align)
{
    g->arch = p->arch;
    g->embd = embd;
    g->ff = scaled(p->ff, p->embd, embd, align);
    g->dense_ff = scaled(p->dense_ff, p->embd, embd, align);
    g->heads = (int)((long long)p->heads * embd / p->embd);
    if (g->heads < 1)
        g->heads = 1;
    g->weights_scale = p->weights_scale;
    if (p->arch == MKMOE_ARCH_DEEPSEEK2) {
        g->q_lora = scaled(p->q_lora, p->embd, embd, align);
        g->kv_lora = scaled(p->kv_lora, p->embd, embd, align);
    } else {
        /* Qwen3's query is twice the embedding (64 heads of 128 at 4096) */
        int hd = 2 * embd / g->heads;
        hd = hd > p->head_dim ? p->head_dim : hd;
        g->head_dim = hd < 32 ? 32 : (hd + 31) / 32 * 32;
    }
}

double mkmoe_preset_real_ratio(const struct mkmoe_preset *p, uint32_t t)
{
    struct mkmoe_geom g = { .type = t, .layers = p->layers, .lead = p->lead, .experts = p->experts,
                            .shared = p->shared, .used = p->used, .q_lora = -1 };
    mkmoe_preset_apply(p, &g, p->embd, 32); /* at its own width: the real widths */
    mkmoe_arch_derive(&g, 32);
    struct mkmoe_plan plan = { 0 };
    double ratio = 0;
    if (!mkmoe_arch_plan(&g, p->vocab, &plan)) {
        double ex = (double)mkmoe_plan_bytes(&plan, 1);
        ratio = ex / ((double)mkmoe_plan_bytes(&plan, 0) - ex);
    }
    mkmoe_plan_free(&plan);
    return ratio;
}
