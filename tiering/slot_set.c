/*
 * slot_set: bounded resident set under a policy (see slot_set.h).
 */
#include "tiering/slot_set.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int moetier_slot_set_init(struct moetier_slot_set *s, uint32_t n_slots, uint32_t cap)
{
    memset(s, 0, sizeof *s);
    s->n_slots = n_slots;
    s->cap = cap < n_slots ? cap : n_slots;
    s->res = malloc((n_slots ? n_slots : 1) * sizeof *s->res);
    s->pos = malloc((n_slots ? n_slots : 1) * sizeof *s->pos);
    s->pinned = calloc(n_slots ? n_slots : 1, 1);
    if (!s->res || !s->pos || !s->pinned) {
        moetier_slot_set_free(s);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < n_slots; i++)
        s->pos[i] = MOETIER_SLOT_NONE;
    return 0;
}

void moetier_slot_set_free(struct moetier_slot_set *s)
{
    free(s->res);
    free(s->pos);
    free(s->pinned);
    memset(s, 0, sizeof *s);
}

void moetier_slot_set_remove(struct moetier_slot_set *s, uint32_t slot)
{
    if (!moetier_slot_set_has(s, slot))
        return;
    uint32_t i = s->pos[slot], last = s->res[--s->n];
    s->res[i] = last;
    s->pos[last] = i;
    s->pos[slot] = MOETIER_SLOT_NONE;
}

int moetier_slot_set_insert(struct moetier_slot_set *s, struct moetier_policy *p, uint32_t slot, uint32_t *evicted)
{
    *evicted = MOETIER_SLOT_NONE;
    if (slot >= s->n_slots)
        return -EINVAL;
    if (moetier_slot_set_has(s, slot))
        return 0;
    if (s->n < s->cap) {
        s->res[s->n] = slot;
        s->pos[slot] = s->n++;
        return 0;
    }
    uint32_t v;
    if (s->cap == 0 || moetier_policy_victim(p, s->res, s->n, s->pinned, &v) || !moetier_policy_admit(p, slot, v))
        return -ENOENT;
    uint32_t i = s->pos[v];
    s->res[i] = slot;
    s->pos[slot] = i;
    s->pos[v] = MOETIER_SLOT_NONE;
    *evicted = v;
    return 0;
}

void moetier_slot_set_resize(struct moetier_slot_set *s, struct moetier_policy *p, uint32_t cap, uint32_t *evicted,
                             uint32_t *n_evicted)
{
    s->cap = cap < s->n_slots ? cap : s->n_slots;
    while (s->n > s->cap) {
        uint32_t v;
        if (moetier_policy_victim(p, s->res, s->n, NULL, &v))
            v = s->res[s->n - 1];
        moetier_slot_set_remove(s, v);
        if (evicted)
            evicted[(*n_evicted)++] = v;
    }
}
