/*
 * step_ring: decode steps' experts on their way to the policy (see step_ring.h).
 */
#include "tiering/step_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int moetier_step_ring_init(struct moetier_step_ring *r, uint32_t n_layers, uint32_t n_experts)
{
    memset(r, 0, sizeof *r);
    if (!n_layers || !n_experts)
        return -EINVAL;
    size_t slots = (size_t)n_layers * n_experts;
    r->n_layers = n_layers;
    r->n_experts = n_experts;
    r->step_bytes = (slots + 7) / 8;
    r->ev = calloc(MOETIER_STEP_RING_EVENTS, sizeof *r->ev);
    r->out = calloc(MOETIER_STEP_RING_EVENTS, sizeof *r->out);
    r->bits = calloc(MOETIER_STEP_RING_STEPS, r->step_bytes);
    r->out_bits = calloc(MOETIER_STEP_RING_STEPS, r->step_bytes);
    r->used = calloc(slots, 1);
    r->row = calloc(n_experts, sizeof *r->row);
    if (!r->ev || !r->out || !r->bits || !r->out_bits || !r->used || !r->row) {
        moetier_step_ring_free(r);
        return -ENOMEM;
    }
    return 0;
}

void moetier_step_ring_free(struct moetier_step_ring *r)
{
    free(r->ev);
    free(r->out);
    free(r->bits);
    free(r->out_bits);
    free(r->used);
    free(r->row);
    memset(r, 0, sizeof *r);
}

int moetier_step_ring_push_step(struct moetier_step_ring *r, uint64_t step, const uint8_t *used)
{
    if (r->ev_head - r->ev_tail == MOETIER_STEP_RING_EVENTS || r->bits_head - r->bits_tail == MOETIER_STEP_RING_STEPS) {
        r->dropped_steps++;
        return -ENOSPC;
    }
    uint8_t *b = r->bits + (r->bits_head % MOETIER_STEP_RING_STEPS) * r->step_bytes;
    memset(b, 0, r->step_bytes);
    for (size_t s = 0, n = (size_t)r->n_layers * r->n_experts; s < n; s++)
        if (used[s])
            b[s / 8] |= (uint8_t)(1u << (s % 8));
    struct moetier_step_event *e = &r->ev[r->ev_head++ % MOETIER_STEP_RING_EVENTS];
    e->step = step;
    e->layer = MOETIER_STEP_WHOLE;
    e->n = (uint32_t)(r->bits_head++ % MOETIER_STEP_RING_STEPS);
    return 0;
}

int moetier_step_ring_push_layer(struct moetier_step_ring *r, uint64_t step, uint32_t layer, const int32_t *ids,
                                 size_t n)
{
    if (layer >= r->n_layers || n > MOETIER_STEP_RING_IDS)
        return -EINVAL;
    /* the last slots stay for whole steps: a step's end is what the policy cannot do without */
    if (r->ev_head - r->ev_tail >= MOETIER_STEP_RING_EVENTS - MOETIER_STEP_RING_STEPS) {
        r->dropped_layers++;
        return -ENOSPC;
    }
    struct moetier_step_event *e = &r->ev[r->ev_head++ % MOETIER_STEP_RING_EVENTS];
    e->step = step;
    e->layer = layer;
    /* ascending and once each, as a whole step's bitmap gives them (the order
     * of a layer's accesses is the policy's recency) */
    e->n = 0;
    for (size_t k = 0; k < n; k++) {
        if (ids[k] < 0 || (uint32_t)ids[k] >= r->n_experts)
            continue;
        uint16_t x = (uint16_t)ids[k];
        uint32_t at = e->n;
        while (at > 0 && e->ids[at - 1] > x)
            at--;
        if (at > 0 && e->ids[at - 1] == x)
            continue;
        memmove(&e->ids[at + 1], &e->ids[at], (e->n - at) * sizeof *e->ids);
        e->ids[at] = x;
        e->n++;
    }
    return 0;
}

size_t moetier_step_ring_take(struct moetier_step_ring *r)
{
    size_t n = (size_t)(r->ev_head - r->ev_tail), whole = 0;
    for (size_t i = 0; i < n; i++) {
        const struct moetier_step_event *e = &r->ev[(r->ev_tail + i) % MOETIER_STEP_RING_EVENTS];
        r->out[i] = *e;
        if (e->layer == MOETIER_STEP_WHOLE) {
            memcpy(r->out_bits + whole * r->step_bytes, r->bits + (size_t)e->n * r->step_bytes, r->step_bytes);
            r->out[i].n = (uint32_t)whole++;
        }
    }
    r->ev_tail = r->ev_head;
    r->bits_tail = r->bits_head;
    r->n_out = n;
    return n;
}

/* The step whose layers arrive: layers go through the policy only in order
 * (what a whole step does); after a gap (an entry lost) the rest of the step
 * waits for its end, which brings every layer not yet fed. */
static void open_step(struct moetier_step_ring *r, uint64_t step)
{
    if (r->open_step != step) { /* another step: the one left open never ended (its end was dropped) */
        r->next_layer = 0;
        r->gap = 0;
    }
    r->open_step = step;
}

int moetier_step_ring_feed(struct moetier_step_ring *r, struct moetier_residency *res)
{
    int by_layer = moetier_residency_by_layer(res);
    const uint32_t E = r->n_experts;
    for (size_t i = 0; i < r->n_out; i++) {
        const struct moetier_step_event *e = &r->out[i];
        if (e->layer != MOETIER_STEP_WHOLE) {
            if (!by_layer)
                continue;
            open_step(r, e->step);
            if (e->layer > r->next_layer)
                r->gap = 1;
            if (r->gap || e->layer < r->next_layer)
                continue; /* after a gap, or seen already (a graph evaluated again) */
            moetier_residency_layer(res, e->layer, e->ids, e->n);
            r->next_layer++;
            r->layers_early++;
            continue;
        }
        const uint8_t *b = r->out_bits + (size_t)e->n * r->step_bytes;
        size_t slots = (size_t)r->n_layers * E;
        for (size_t s = 0; s < slots; s++)
            r->used[s] = (uint8_t)((b[s / 8] >> (s % 8)) & 1);
        if (!by_layer) {
            moetier_residency_sample(res, r->used);
        } else {
            open_step(r, e->step);
            for (uint32_t l = r->next_layer; l < r->n_layers; l++) {
                size_t n = 0;
                for (uint32_t x = 0; x < E; x++)
                    if (r->used[(size_t)l * E + x])
                        r->row[n++] = (uint16_t)x;
                moetier_residency_layer(res, l, r->row, n);
            }
            moetier_residency_step_end(res);
            r->open_step = 0;
            r->next_layer = 0;
            r->gap = 0;
        }
        r->steps_fed++;
    }
    r->n_out = 0;
    return r->open_step != 0;
}
