/*
 * slot_set: a set of resident (layer, expert) slots of bounded size, under a
 * policy that picks victims: what replay simulates and what the runtime wants
 * resident. A dense array of resident slots plus each slot's position in it
 * (MOETIER_SLOT_NONE when absent): membership O(1), insert O(1) plus one victim
 * scan when full. Invariants: n <= cap; pos[res[i]] == i; pinned[] marks slots
 * that may not be evicted right now (the caller sets and clears them).
 */
#ifndef MOETIER_TIERING_SLOT_SET_H
#define MOETIER_TIERING_SLOT_SET_H

#include "tiering/policy.h"

#include <stdint.h>

#define MOETIER_SLOT_NONE UINT32_MAX

struct moetier_slot_set {
    uint32_t *res, *pos;
    uint32_t n, cap, n_slots;
    uint8_t *pinned;
};

/* 0 or -ENOMEM. cap may exceed n_slots (it is clamped). */
int moetier_slot_set_init(struct moetier_slot_set *s, uint32_t n_slots, uint32_t cap);
void moetier_slot_set_free(struct moetier_slot_set *s);

static inline int moetier_slot_set_has(const struct moetier_slot_set *s, uint32_t slot)
{
    return slot < s->n_slots && s->pos[slot] != MOETIER_SLOT_NONE;
}

/*
 * Makes slot resident, evicting p's victim when full (*evicted = it, else
 * MOETIER_SLOT_NONE). Returns 0, or -ENOENT when the set is full of pinned
 * slots (or has no room at all), or p does not admit slot over its victim
 * (moetier_policy_admit): the slot is then not resident.
 */
int moetier_slot_set_insert(struct moetier_slot_set *s, struct moetier_policy *p, uint32_t slot, uint32_t *evicted);
void moetier_slot_set_remove(struct moetier_slot_set *s, uint32_t slot);

/* New capacity; when it shrinks, p's victims are removed until n <= cap.
 * evicted (may be NULL; room for n slots) lists them, *n_evicted counts them. */
void moetier_slot_set_resize(struct moetier_slot_set *s, struct moetier_policy *p, uint32_t cap, uint32_t *evicted,
                             uint32_t *n_evicted);

#endif
