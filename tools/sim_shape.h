/*
 * sim_shape: the per-token bytes of a real model (`moetier sim --shape`), from
 * mkmoe's grids of real models (tools/mkmoe_preset.h) and ggml's block sizes
 * (profiler/ggml_types.h) at one quantization for every matrix.
 */
#ifndef MOETIER_TOOLS_SIM_SHAPE_H
#define MOETIER_TOOLS_SIM_SHAPE_H

#include <stddef.h>
#include <stdint.h>

struct sim_shape {
    const char *name;
    int moe_layers, experts, topk;
    double expert_weights, expert_bytes;      /* one routed expert of one layer */
    double total_expert_bytes;                /* all routed experts */
    double dense_serial_weights, dense_serial_bytes;   /* per token: attention, routers, norms, output */
    double dense_overlap_weights, dense_overlap_bytes; /* per token: the shared experts */
};

/* Shape `name` (mkmoe_preset_names()) quantized as ggml type `type`.
 * Returns 0 or -EINVAL (unknown shape, or widths not a multiple of the type's block). */
int sim_shape_get(const char *name, uint32_t type, struct sim_shape *out);

#endif
