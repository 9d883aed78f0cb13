/*
 * placement: the table of expert tensor placements (see placement.h).
 */
#include "profiler/placement.h"

#include <errno.h>

int moetier_placements_add(struct moetier_placements *t, const struct moetier_placement *p)
{
    for (size_t i = 0; i < t->n; i++) {
        struct moetier_placement *q = &t->item[i];
        if (q->live && q->layer == p->layer && q->part == p->part) {
            /* decode now reads the copy; the file's bytes of this tensor go unread */
            if (q->kind <= MOETIER_MEM_FILE_PRIVATE && p->kind == MOETIER_MEM_ANON)
                t->n_copied++;
            *q = *p;
            q->live = 1;
            return 0;
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        if (!t->item[i].live) {
            t->item[i] = *p;
            t->item[i].live = 1;
            return 0;
        }
    }
    if (t->n == MOETIER_PLACEMENTS_MAX)
        return -ENOSPC;
    t->item[t->n] = *p;
    t->item[t->n].live = 1;
    t->n++;
    return 0;
}

int moetier_placements_retire(struct moetier_placements *t, uintptr_t addr, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct moetier_placement *q = &t->item[i];
        uintptr_t end = q->base + q->stride * q->n_expert;
        if (q->live && q->base < addr + len && addr < end) {
            q->live = 0;
            n++;
        }
    }
    return n;
}

const char *moetier_mem_kind_name(int kind)
{
    switch (kind) {
    case MOETIER_MEM_FILE_SHARED: return "file mapping (shared)";
    case MOETIER_MEM_FILE_PRIVATE: return "file mapping (private)";
    case MOETIER_MEM_ANON: return "anonymous buffer";
    case MOETIER_MEM_PINNED: return "pinned CUDA host buffer";
    }
    return "unknown";
}
