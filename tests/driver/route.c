#include "tests/driver/route.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <ggml-backend.h>

#include "tests/driver/node_layer.h"

enum { ST_NONE, ST_PROBS = 1, ST_INJECTED = 2 }; /* bits of state[il] */

int route_open(struct route *r, const char *path, int n_layer, int n_expert, int n_used)
{
    char e[256];
    int rc = moetier_routing_load(path, 1, &r->tr, e, sizeof e);
    if (rc) {
        /* unreadable or malformed: a runtime failure, like a bad --feed file */
        first_err_set(&r->err, 1, "%s", e);
        return r->err.code;
    }
    if (!r->tr.is_trace || !r->tr.routes || r->tr.tokens == 0) {
        first_err_set(&r->err, 2, "%s is not a .trace with tokens (a .counts file has no order)", path);
        return r->err.code;
    }
    if (r->tr.experts != n_expert || r->tr.topk != n_used) {
        first_err_set(&r->err, 2, "%s has %d experts top-%d, the model %d experts top-%d (expert_count, "
                   "expert_used_count)", path, r->tr.experts, r->tr.topk, n_expert, n_used);
        return r->err.code;
    }
    r->n_layer = n_layer;
    r->n_expert = n_expert;
    r->n_used = n_used;
    r->moe_of = malloc((size_t)n_layer * sizeof *r->moe_of);
    r->probs = malloc((size_t)n_layer * (size_t)n_expert * sizeof *r->probs);
    r->state = calloc((size_t)n_layer, 1);
    if (!r->moe_of || !r->probs || !r->state) {
        first_err_set(&r->err, 1, "out of memory");
        return r->err.code;
    }
    for (int il = 0; il < n_layer; il++)
        r->moe_of[il] = -1;
    return 0;
}

void route_close(struct route *r)
{
    moetier_routing_free(&r->tr);
    free(r->moe_of);
    free(r->probs);
    free(r->state);
}

void route_begin(struct route *r, int n_tokens)
{
    r->active = n_tokens == 1 && !r->err.code;
    r->tok = r->n_tok % r->tr.tokens;
    r->moe_i = 0;
}

int route_end(struct route *r)
{
    if (!r->active)
        return r->err.code;
    r->active = false;
    if (!r->err.code && r->moe_i != r->tr.layers)
        first_err_set(&r->err, 2, "the trace has %d MoE layers, the model %d", r->tr.layers, r->moe_i);
    for (int il = 0; il < r->n_layer; il++) {
        /* injected but its weights never seen: the check did not run */
        if (r->state[il] & ST_INJECTED)
            r->unverified++;
        r->state[il] = ST_NONE;
        r->moe_of[il] = -1;
    }
    if (r->err.code)
        return r->err.code;
    r->n_tok++;
    if (r->n_tok == r->tr.tokens)
        fprintf(stderr, "route: the trace's %" PRIu64 " tokens are used up: wrapping to its first\n",
                r->tr.tokens);
    return 0;
}

bool route_wants(const struct route *r, const struct ggml_tensor *t)
{
    return r->active && (node_layer(t, "ffn_moe_topk-") >= 0 || node_layer(t, "ffn_moe_probs-") >= 0 ||
                         node_layer(t, "ffn_moe_weights-") >= 0);
}

/* A [ne0, 1] node of one token, of type ty, for a layer of this model. */
static bool one_token(struct route *r, const struct ggml_tensor *t, int il, enum ggml_type ty,
                      int64_t ne0)
{
    if (il < r->n_layer && t->type == ty && ggml_nelements(t) == ne0 && ggml_is_contiguous(t))
        return true;
    first_err_set(&r->err, 1, "%s: expected %s with %" PRId64 " elements, got %s ne=[%" PRId64 ",%" PRId64
               ",%" PRId64 "]", t->name, ggml_type_name(ty), ne0, ggml_type_name(t->type),
               t->ne[0], t->ne[1], t->ne[2]);
    return false;
}

static void inject(struct route *r, struct ggml_tensor *t, int il)
{
    /* the topk view [K, 1] of the argsort: its first K entries, contiguous */
    if (t->type != GGML_TYPE_I32 || t->ne[0] != r->n_used || t->ne[1] != 1 || t->ne[2] != 1 ||
        il >= r->n_layer || r->moe_of[il] >= 0) {
        first_err_set(&r->err, 1, "%s: expected one I32 [%d, 1] per layer, got ne=[%" PRId64 ",%" PRId64
                   "]", t->name, r->n_used, t->ne[0], t->ne[1]);
        return;
    }
    if (r->moe_i >= r->tr.layers) {
        first_err_set(&r->err, 2, "the trace has %d MoE layers, the model more (%s)", r->tr.layers, t->name);
        return;
    }
    int32_t ids[MOETIER_ROUTING_MAX_EXPERTS];
    const uint16_t *row = r->tr.routes + (r->tok * (uint64_t)r->tr.layers + (uint64_t)r->moe_i) *
                                         (uint64_t)r->n_used;
    for (int k = 0; k < r->n_used; k++)
        ids[k] = row[k];
    /* host or not, the backend writes it; later nodes of this graph read it */
    ggml_backend_tensor_set(t, ids, 0, (size_t)r->n_used * sizeof *ids);
    r->moe_of[il] = r->moe_i++;
    r->state[il] |= ST_INJECTED;
    r->injections++;
}

/* ffn_moe_weights = get_rows(ffn_moe_probs, topk): exact copies of the probs. */
static void verify(struct route *r, const struct ggml_tensor *t, int il)
{
    if (!(r->state[il] & ST_INJECTED))
        return;
    if (!(r->state[il] & ST_PROBS)) {
        first_err_set(&r->err, 1, "%s: no ffn_moe_probs-%d before it", t->name, il);
        return;
    }
    float w[MOETIER_ROUTING_MAX_EXPERTS];
    ggml_backend_tensor_get(t, w, 0, (size_t)r->n_used * sizeof *w);
    const float *p = r->probs + (size_t)il * (size_t)r->n_expert;
    const uint16_t *row = r->tr.routes + (r->tok * (uint64_t)r->tr.layers + (uint64_t)r->moe_of[il]) *
                                         (uint64_t)r->n_used;
    for (int k = 0; k < r->n_used; k++) {
        if (memcmp(&w[k], &p[row[k]], sizeof w[k])) {
            if (!r->mismatches)
                fprintf(stderr, "route: first mismatch: token %" PRIu64 " layer %d slot %d: weight "
                        "%.9g, probs[%u] %.9g\n", r->n_tok, il, k, (double)w[k], row[k],
                        (double)p[row[k]]);
            r->mismatches++;
            break;
        }
    }
    r->state[il] &= (unsigned char)~ST_INJECTED;
}

void route_node(struct route *r, struct ggml_tensor *t)
{
    int il;
    if (!r->active || r->err.code)
        return;
    if ((il = node_layer(t, "ffn_moe_probs-")) >= 0) {
        if (one_token(r, t, il, GGML_TYPE_F32, r->n_expert)) {
            ggml_backend_tensor_get(t, r->probs + (size_t)il * (size_t)r->n_expert, 0,
                                    (size_t)r->n_expert * sizeof(float));
            r->state[il] |= ST_PROBS;
        }
    } else if ((il = node_layer(t, "ffn_moe_topk-")) >= 0) {
        if (!r->late)
            inject(r, t, il);
    } else if ((il = node_layer(t, "ffn_moe_weights-")) >= 0) {
        /* late: into get_rows' ids (src[1], the topk) after it read them */
        if (r->late && t->src[1])
            inject(r, t->src[1], il);
        if (one_token(r, t, il, GGML_TYPE_F32, r->n_used))
            verify(r, t, il);
    }
}

void route_report(const struct route *r, FILE *f)
{
    fprintf(f, "route: %ld injections, %ld mismatches, %ld unverified, %" PRIu64 " tokens of %" PRIu64
            " (%" PRIu64 " wraps)\n", r->injections, r->mismatches, r->unverified, r->n_tok,
            r->tr.tokens, r->tr.tokens ? r->n_tok / r->tr.tokens : 0);
}
