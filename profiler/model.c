/*
 * model: the runtime's view of a MoE model (see model.h).
 */
#include "profiler/model.h"
#include "common/fmt.h"
#include "common/hash.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void moetier_model_id(const struct moetier_gguf_model *g, char *id, size_t cap)
{
    uint64_t h = MOETIER_FNV1A_INIT;
    size_t n = moetier_gguf_model_n_tensors(g);
    for (size_t i = 0; i < n; i++) {
        const struct moetier_gguf_tensor *t = moetier_gguf_model_tensor(g, i);
        h = moetier_fnv1a(h, t->name, strlen(t->name) + 1);
        h = moetier_fnv1a(h, &t->type, sizeof t->type);
        h = moetier_fnv1a(h, t->ne, sizeof t->ne);
        h = moetier_fnv1a(h, &t->file, sizeof t->file);
        h = moetier_fnv1a(h, &t->offset, sizeof t->offset);
    }
    moetier_fmt(id, cap, "%llx-%016llx", (unsigned long long)moetier_gguf_model_size(g),
                (unsigned long long)h);
}

int moetier_model_open(const char *path, struct moetier_model *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    int rc = moetier_gguf_model_open(path, &m->gguf, err, errlen);
    if (rc)
        return rc;
    rc = moetier_expert_map_build(m->gguf, &m->map, err, errlen);
    if (rc)
        goto fail;
    if (m->map->n_layers == 0 || m->map->n_expert == 0) {
        moetier_fmt(err, errlen, "%s: no routed expert tensors (not a MoE model)", path);
        rc = -ENOEXEC;
        goto fail;
    }
    m->n_layers = (uint32_t)m->map->n_layers;
    m->n_experts = m->map->n_expert;
    m->blocks = malloc(m->n_layers * sizeof *m->blocks);
    if (!m->blocks) {
        rc = -ENOMEM;
        goto fail;
    }
    for (uint32_t l = 0; l < m->n_layers; l++)
        m->blocks[l] = m->map->layers[l].layer;
    moetier_model_id(m->gguf, m->id, sizeof m->id);
    return 0;
fail:
    moetier_model_close(m);
    return rc;
}

void moetier_model_close(struct moetier_model *m)
{
    free(m->blocks);
    if (m->map)
        moetier_expert_map_free(m->map);
    if (m->gguf)
        moetier_gguf_model_close(m->gguf);
    memset(m, 0, sizeof *m);
}

int moetier_model_layer_of_block(const struct moetier_model *m, int block)
{
    uint32_t lo = 0, hi = m->n_layers;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (m->blocks[mid] < block)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < m->n_layers && m->blocks[lo] == block ? (int)lo : -1;
}
