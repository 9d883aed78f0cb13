/*
 * model: a GGUF MoE model as the runtime sees it: its files, the expert map,
 * the MoE layers (index 0..n_layers-1 in block order, with their GGUF block
 * numbers) and an identity that names its profile.
 *
 * The identity is "<size hex>-<layout hash hex>": the total file size and an
 * FNV-1a 64 hash of every tensor's name, type, shape, file index and offset.
 * It changes when the model's bytes are laid out differently, not when the
 * file is renamed. Opening parses the GGUF (malloc, not for signal handlers).
 */
#ifndef MOETIER_PROFILER_MODEL_H
#define MOETIER_PROFILER_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "profiler/expert_map.h"
#include "profiler/gguf.h"

struct moetier_model {
    struct moetier_gguf_model *gguf;
    struct moetier_expert_map *map;
    char id[48];
    uint32_t n_layers;  /* MoE layers */
    uint32_t n_experts; /* routed experts per layer */
    int32_t *blocks;    /* [n_layers]: GGUF block number of each MoE layer */
};

/* Opens and maps the model whose (first) file is path. 0 or a negative code,
 * message in err. A model with no routed experts is -ENOEXEC. */
int moetier_model_open(const char *path, struct moetier_model *m, char *err, size_t errlen);
void moetier_model_close(struct moetier_model *m);

/* MoE layer index of GGUF block `block`, or -1. */
int moetier_model_layer_of_block(const struct moetier_model *m, int block);

/* The identity of an opened GGUF model into id (at least 40 bytes). */
void moetier_model_id(const struct moetier_gguf_model *g, char *id, size_t cap);

#endif
