/*
 * routing_sampler: llama.cpp's top-k expert ids -> per-layer expert use, with
 * every id checked against the expert map first (see routing_sampler.h).
 */
#include "profiler/routing_sampler.h"
#include "common/fmt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int moetier_topk_init(struct moetier_topk *r, const struct moetier_model *m, uint32_t n_used)
{
    memset(r, 0, sizeof *r);
    uint32_t n_layers = m->n_layers, n_experts = m->n_experts;
    if (!n_layers || !n_experts || !n_used || n_used > n_experts || n_used > MOETIER_TOPK_MAX_USED || !m->blocks)
        return -EINVAL;
    r->n_layers = n_layers;
    r->n_experts = n_experts;
    r->n_slots = n_layers * n_experts;
    r->n_used = n_used;
    r->model = m;
    r->used = calloc(r->n_slots, 1);
    r->seen = calloc(n_layers, 1);
    r->ids = calloc((size_t)n_layers * n_used, sizeof *r->ids);
    if (!r->used || !r->seen || !r->ids) {
        moetier_topk_free(r);
        return -ENOMEM;
    }
    return 0;
}

void moetier_topk_free(struct moetier_topk *r)
{
    free(r->used);
    free(r->seen);
    free(r->ids);
    r->used = r->seen = NULL;
    r->ids = NULL;
}

int moetier_topk_block_of(const char *name)
{
    static const char prefix[] = MOETIER_TOPK_NAME;
    if (!name || name[0] != 'f' || strncmp(name, prefix, sizeof prefix - 1) != 0)
        return -1;
    const char *p = name + sizeof prefix - 1;
    int n = 0, digits = 0;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (++digits > 6)
            return -1;
        n = n * 10 + (*p - '0');
    }
    return digits && *p == '\0' ? n : -1;
}

void moetier_topk_begin(struct moetier_topk *r)
{
    memset(r->used, 0, r->n_slots);
    memset(r->seen, 0, r->n_layers);
    r->failed = 0;
    r->why[0] = '\0';
}

void moetier_topk_fail(struct moetier_topk *r, const char *why)
{
    if (r->failed)
        return;
    r->failed = 1;
    moetier_fmt(r->why, sizeof r->why, "%s", why);
}

static int refuse(struct moetier_topk *r, int block, const char *what, long long a, long long b)
{
    if (!r->failed) {
        r->failed = 1;
        moetier_fmt(r->why, sizeof r->why, MOETIER_TOPK_NAME "%d: %s (%lld, expected %lld)", block, what, a, b);
    }
    return -EBADMSG;
}

int moetier_topk_add(struct moetier_topk *r, int block, int64_t ne0, int64_t n_tokens, const int32_t *ids)
{
    int l = moetier_model_layer_of_block(r->model, block);
    if (l < 0) {
        if (!r->failed) {
            r->failed = 1;
            moetier_fmt(r->why, sizeof r->why, MOETIER_TOPK_NAME "%d: block %d is not a MoE layer of the model's file "
                        "(%u MoE layers, blocks %d-%d)", block, block, r->n_layers, r->model->blocks[0],
                        r->model->blocks[r->n_layers - 1]);
        }
        return -EBADMSG;
    }
    if (ne0 != (int64_t)r->n_used)
        return refuse(r, block, "experts per token differ from expert_used_count", (long long)ne0, r->n_used);
    if (n_tokens < 1)
        return refuse(r, block, "no token in the tensor", (long long)n_tokens, 1);
    if (r->seen[l])
        return refuse(r, block, "layer seen twice in one step", 2, 1);
    uint8_t *row = r->used + (size_t)l * r->n_experts;
    int32_t *last = r->ids + (size_t)l * r->n_used;
    for (int64_t t = 0; t < n_tokens; t++) {
        const int32_t *col = ids + t * ne0;
        for (int64_t k = 0; k < ne0; k++) {
            if (col[k] < 0 || (uint32_t)col[k] >= r->n_experts)
                return refuse(r, block, "expert id out of range", col[k], r->n_experts);
            for (int64_t j = 0; j < k; j++)
                if (col[j] == col[k])
                    return refuse(r, block, "expert chosen twice for one token", col[k], -1);
        }
    }
    for (int64_t t = 0; t < n_tokens; t++)
        for (int64_t k = 0; k < ne0; k++)
            row[ids[t * ne0 + k]] = 1;
    memcpy(last, ids + (n_tokens - 1) * ne0, (size_t)ne0 * sizeof *last);
    r->seen[l] = 1;
    r->tensors++;
    return 0;
}

int moetier_topk_collect(struct moetier_topk *r, uint8_t *used)
{
    if (r->failed)
        return -EBADMSG;
    for (uint32_t l = 0; l < r->n_layers; l++)
        if (!r->seen[l]) {
            r->failed = 1;
            moetier_fmt(r->why, sizeof r->why, "MoE layer %u (block %d) showed no " MOETIER_TOPK_NAME "%d tensor",
                        l, r->model->blocks[l], r->model->blocks[l]);
            return -EBADMSG;
        }
    int n = 0;
    for (uint32_t s = 0; s < r->n_slots; s++)
        if (r->used[s]) {
            used[s] = 1;
            n++;
        }
    r->steps++;
    return n;
}

size_t moetier_topk_format(const struct moetier_topk *r, char *buf, size_t cap)
{
    size_t n = 0;
    if (cap)
        buf[0] = '\0';
    for (uint32_t l = 0; l < r->n_layers && n + 1 < cap; l++)
        for (uint32_t k = 0; k < r->n_used && n + 1 < cap; k++)
            n += moetier_fmt(buf + n, cap - n, "%s%d", k ? "," : l ? " " : "", r->ids[(size_t)l * r->n_used + k]);
    return n < cap ? n : cap ? cap - 1 : 0;
}
