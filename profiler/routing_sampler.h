/*
 * routing_sampler: the pure half of the `routing` sampler: llama.cpp's own
 * top-k expert ids (the `ffn_moe_topk-N` tensors its eval callback shows) ->
 * which experts each MoE layer used in one decode step.
 *
 * The shim (shim/hooks_sched.c) reads each `ffn_moe_topk-N` tensor, an I32
 * [n_expert_used, n_tokens] tensor, and hands its ids here with the block
 * number N. Everything is checked against the expert map before it counts:
 * the name's block is a MoE layer, the tensor holds n_expert_used ids per token
 * (expert_used_count), one column per token of the batch, every id is below
 * n_experts and the ids of a token are distinct, and each MoE layer shows up
 * exactly once per step. The first failed check is kept as one line (why) and
 * the step is refused; the caller then falls back to another sampler.
 *
 * Usage per sampled step: begin(), add() for each topk tensor, collect().
 * No locks, no allocation after init; not for signal handlers. One step at
 * a time (the caller's decode thread).
 */
#ifndef MOETIER_PROFILER_ROUTING_SAMPLER_H
#define MOETIER_PROFILER_ROUTING_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "profiler/model.h"

#define MOETIER_TOPK_NAME "ffn_moe_topk-"
#define MOETIER_TOPK_MAX_USED 64

struct moetier_topk {
    uint32_t n_layers, n_experts, n_slots;
    uint32_t n_used;          /* ids per token (expert_used_count) */
    const struct moetier_model *model; /* its MoE layers' blocks (the caller's) */
    uint8_t *used;            /* [n_slots] this step */
    uint8_t *seen;            /* [n_layers] layers seen this step */
    int32_t *ids;             /* [n_layers * n_used] ids of the step's last token, in ggml's order */
    uint64_t steps, tensors;  /* steps collected, tensors added (all time) */
    int failed;               /* this step: a check failed (why says which) */
    char why[200];
};

/* n_used: the model's expert_used_count (1..MOETIER_TOPK_MAX_USED, at
 * most n_experts); m (n_layers, n_experts, blocks) must outlive r.
 * 0, -EINVAL or -ENOMEM. */
int moetier_topk_init(struct moetier_topk *r, const struct moetier_model *m, uint32_t n_used);
void moetier_topk_free(struct moetier_topk *r);

/* Block number N of a tensor named "ffn_moe_topk-N", or -1 for any other
 * name. Cheap (the eval callback asks it for every graph node). */
int moetier_topk_block_of(const char *name);

void moetier_topk_begin(struct moetier_topk *r);

/* One topk tensor: block N, ne0 ids per token, n_tokens columns, ids column
 * after column (ids[t * ne0 + k]). A failed check marks the step failed
 * (why) and returns -EBADMSG; 0 otherwise. */
int moetier_topk_add(struct moetier_topk *r, int block, int64_t ne0, int64_t n_tokens, const int32_t *ids);

/* Marks the step failed with a reason of the caller's (a tensor it could not
 * read); the first reason is kept. */
void moetier_topk_fail(struct moetier_topk *r, const char *why);

/* Ends the step: every MoE layer must have been seen exactly once. Sets
 * used[slot] = 1 for each expert used (used is not cleared) and returns how
 * many slots it set, or -EBADMSG (why) when the step failed. */
int moetier_topk_collect(struct moetier_topk *r, uint8_t *used);

/* The step's ids as one trace line ("1,5 0,3 ..."): layers in order, each the
 * comma-separated ids of the last token. Returns the length (truncated to cap). */
size_t moetier_topk_format(const struct moetier_topk *r, char *buf, size_t cap);

#endif
