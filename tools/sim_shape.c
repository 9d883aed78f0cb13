/*
 * sim_shape: a real model's bytes per token from its tensor plan (see
 * sim_shape.h). The token embedding is left out: a token reads one row.
 */
#include "tools/sim_shape.h"
#include "profiler/ggml_types.h"
#include "tools/mkmoe_arch.h"
#include "tools/mkmoe_preset.h"

#include <errno.h>
#include <string.h>

int sim_shape_get(const char *name, uint32_t type, struct sim_shape *s)
{
    const struct mkmoe_preset *p = mkmoe_preset_find(name);
    const struct moetier_ggml_type *ty = moetier_ggml_type_get(type);
    if (!p || !ty)
        return -EINVAL;
    /* as mkmoe_preset_real_ratio builds it: the real model at its own widths */
    struct mkmoe_geom g = { .type = type, .layers = p->layers, .lead = p->lead, .experts = p->experts,
                            .shared = p->shared, .used = p->used, .q_lora = -1 };
    mkmoe_preset_apply(p, &g, p->embd, 32);
    mkmoe_arch_derive(&g, 32);
    if ((uint64_t)g.embd % ty->block_size || (uint64_t)g.ff % ty->block_size)
        return -EINVAL;
    struct mkmoe_plan plan = { 0 };
    if (mkmoe_arch_plan(&g, p->vocab, &plan))
        return -EINVAL;
    memset(s, 0, sizeof *s);
    s->name = p->name;
    s->moe_layers = p->layers - p->lead;
    s->experts = p->experts;
    s->topk = p->used;
    double exp_w = 0, exp_b = 0;
    for (size_t i = 0; i < plan.n; i++) {
        const struct mkmoe_tensor *t = &plan.t[i];
        const struct moetier_ggml_type *tt = moetier_ggml_type_get(t->type);
        double w = (double)t->ne[0] * (t->n_dims > 1 ? t->ne[1] : 1) * (t->n_dims > 2 ? t->ne[2] : 1);
        double b = w * tt->type_size / tt->block_size;
        if (strstr(t->name, "_exps.")) {
            exp_w += w, exp_b += b;
        } else if (strstr(t->name, "_shexp.")) {
            s->dense_overlap_weights += w, s->dense_overlap_bytes += b;
        } else if (strcmp(t->name, "token_embd.weight")) {
            s->dense_serial_weights += w, s->dense_serial_bytes += b;
        }
    }
    mkmoe_plan_free(&plan);
    double n = (double)s->moe_layers * s->experts;
    s->expert_weights = exp_w / n;
    s->expert_bytes = exp_b / n;
    s->total_expert_bytes = exp_b;
    return 0;
}
