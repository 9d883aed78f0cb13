/*
 * step_ring: decode steps' experts on their way from the decode threads to
 * the policy's residency (tiering/residency.h), in the order they happened.
 *
 * Two kinds of entry share one order:
 *  - a whole step: every expert it used (a bit a slot), pushed when the step
 *    is over;
 *  - one MoE layer of a step still running: the experts its router chose,
 *    pushed as soon as they are known (the runtime's per-layer moves), so the
 *    policy sees them, and the moves start, before the step ends.
 * A step whose layers came one by one still ends with its whole entry. The
 * policy sees a step's layers once each and in layer order, as a whole step
 * gives them: those whose entries came in order early, the rest from the
 * whole entry (after a missing layer entry, dropped because the ring was
 * full or never pushed, the step's later entries wait for its end). So what
 * the policy decides is the same with or without the layer entries; only
 * when differs. Steps are told apart by the caller's step number.
 *
 * Producers push under the caller's lock and never wait: a full ring drops
 * the entry and counts it. The one consumer takes the pending entries under
 * the same lock (a copy) and feeds them with the lock released.
 */
#ifndef MOETIER_TIERING_STEP_RING_H
#define MOETIER_TIERING_STEP_RING_H

#include "tiering/residency.h"

#include <stddef.h>
#include <stdint.h>

#define MOETIER_STEP_RING_STEPS 64     /* whole steps pending */
#define MOETIER_STEP_RING_EVENTS 1024  /* entries pending, layers included */
#define MOETIER_STEP_RING_IDS 64       /* experts a layer entry holds (a router's top-k) */

struct moetier_step_event {
    uint64_t step;    /* the caller's step number */
    uint32_t layer;   /* a MoE layer, or MOETIER_STEP_WHOLE */
    uint32_t n;       /* a layer: ids[0..n); whole: its bitmap's index */
    uint16_t ids[MOETIER_STEP_RING_IDS];
};

#define MOETIER_STEP_WHOLE UINT32_MAX

struct moetier_step_ring {
    uint32_t n_layers, n_experts;
    size_t step_bytes;                 /* one whole step's bitmap */
    /* producers' side */
    struct moetier_step_event *ev;     /* [EVENTS] */
    uint8_t *bits;                     /* [STEPS][step_bytes] */
    uint64_t ev_head, ev_tail, bits_head, bits_tail;
    uint64_t dropped_steps, dropped_layers;
    /* the consumer's */
    struct moetier_step_event *out;    /* [EVENTS] */
    uint8_t *out_bits;                 /* [STEPS][step_bytes] */
    size_t n_out;
    uint8_t *used;                     /* [n_layers * n_experts] one whole step, expanded */
    uint16_t *row;                     /* [n_experts] */
    uint64_t open_step;                /* the step whose layers are being fed, 0: none */
    uint32_t next_layer;               /* its layers below this went through the policy */
    int gap;                           /* one of its layers' entries is missing: the rest wait for its end */
    uint64_t layers_early;             /* layers fed before their step ended */
    uint64_t steps_fed;
};

/* Returns 0 or -ENOMEM. */
int moetier_step_ring_init(struct moetier_step_ring *r, uint32_t n_layers, uint32_t n_experts);
void moetier_step_ring_free(struct moetier_step_ring *r);

/* Producers (the caller's lock held). step: nonzero, the same for a step's
 * layers and its whole entry. Return 0, or -ENOSPC (full: dropped, counted). */
int moetier_step_ring_push_step(struct moetier_step_ring *r, uint64_t step, const uint8_t *used);
int moetier_step_ring_push_layer(struct moetier_step_ring *r, uint64_t step, uint32_t layer, const int32_t *ids,
                                 size_t n);

/* The consumer: takes what is pending (the caller's lock held); returns how
 * many entries. */
size_t moetier_step_ring_take(struct moetier_step_ring *r);

/* The consumer, without the lock: feeds what take took to res, in order.
 * Returns 1 when the last entry fed leaves a step open (its layers fed, its
 * end not yet come: moves decided now start before that step ends). */
int moetier_step_ring_feed(struct moetier_step_ring *r, struct moetier_residency *res);

#endif
