/*
 * route: the driver's --route FILE.trace, real routing injected into the real
 * llama.cpp.
 *
 * In single-token decodes the eval callback overwrites each MoE layer's
 * `ffn_moe_topk-N` ids (just computed: the scheduler splits the graph after a
 * node the callback asks for, so the following nodes, `ffn_moe_weights-N`'s
 * get_rows and the expert MUL_MAT_IDs, read what was written) with the
 * trace's row for that token. Trace layer i is the model's i-th MoE layer.
 * It then checks that it took: llama.cpp builds `ffn_moe_weights-N` as
 * get_rows(`ffn_moe_probs-N`, topk), before any normalisation or scaling
 * (those are later tensors, `_norm`/`_scaled`), so the weights must equal the
 * probs at the injected ids bit for bit, in every architecture.
 * When the trace runs out of tokens it wraps around to its first token.
 */
#ifndef MOETIER_TESTS_DRIVER_ROUTE_H
#define MOETIER_TESTS_DRIVER_ROUTE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <ggml.h>

#include "profiler/routing_file.h"
#include "tests/driver/first_err.h"

struct route {
    struct moetier_routing tr;
    int n_layer, n_expert, n_used; /* the model's */
    bool late;              /* the check's own test: inject only after the weights are
                               gathered, which it must see as mismatches */
    bool active;            /* inside a single-token decode */
    uint64_t tok;           /* trace row of the current decode (wrapped) */
    uint64_t n_tok;         /* single-token decodes injected */
    int moe_i;              /* MoE layers seen in the current decode */
    int *moe_of;            /* [n_layer]: MoE index of layer il in this decode, or -1 */
    float *probs;           /* [n_layer][n_expert] ffn_moe_probs of this decode */
    unsigned char *state;   /* [n_layer]: 1 probs read, 2 injected, 3 verified */
    long injections, mismatches, unverified;
    struct first_err err;   /* code 1: runtime failure, 2: the trace does not fit the model */
};

/* Loads FILE and checks its experts and top-k against the model's (the layer
 * count is checked at the first decode). 0, or the exit status with err set. */
int route_open(struct route *r, const char *path, int n_layer, int n_expert, int n_used);
void route_close(struct route *r);

/* Around one llama_decode of n tokens: only single-token decodes are injected.
 * route_end returns 0, or the exit status with err set. */
void route_begin(struct route *r, int n_tokens);
int route_end(struct route *r);

/* The eval callback's part: with ask, whether --route needs node t; without,
 * acts on its computed data. */
bool route_wants(const struct route *r, const struct ggml_tensor *t);
void route_node(struct route *r, struct ggml_tensor *t);

/* `route: N injections, M mismatches ...` */
void route_report(const struct route *r, FILE *f);

#endif
