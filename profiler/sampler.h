/*
 * sampler: which experts a stretch of execution touched, seen from outside
 * the binary, without modifying it.
 *
 * One probe per (layer, expert): a window inside that expert's slice of one
 * of its tensors (MUL_MAT_ID reads a routed expert's whole slice, so any
 * window inside it is touched exactly when the expert is used). Two kinds:
 *
 *  - pagemap: on a MAP_SHARED file mapping, MADV_DONTNEED drops the window's
 *    page-table entries but keeps the data; /proc/self/pagemap bit 63 then says
 *    whether it was touched since. A touch maps a whole fault-around window or
 *    large folio (the "unit", measured per mapping at start), so a probe is an
 *    aligned unit-sized window lying wholly inside one expert's slice; a
 *    mapping whose experts are smaller than two units cannot use this sampler.
 *    Never used on private or anonymous memory (zapping would lose data).
 *  - fault: the probe page is made PROT_NONE; the first touch raises SIGSEGV,
 *    whose handler (moetier_sampler_fault) marks the hit and restores the
 *    protection. Works on any memory; costs one fault per used expert per
 *    sample and two VMA splits per armed probe, so at most
 *    MOETIER_SAMPLER_MAX_ARMED probes are armed at a time (a rotating subset).
 *
 * Usage per sample: arm() before, collect() after. moetier_sampler_fault is
 * async-signal-safe; everything else runs in ordinary context. Pinned memory is
 * never probed.
 */
#ifndef MOETIER_PROFILER_SAMPLER_H
#define MOETIER_PROFILER_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "profiler/placement.h"

enum moetier_sampler_kind {
    MOETIER_SAMPLE_NONE = 0,
    MOETIER_SAMPLE_PAGEMAP = 1,
    MOETIER_SAMPLE_FAULT = 2,
};

#define MOETIER_SAMPLER_MAX_ARMED 8192

struct moetier_probe {
    uintptr_t addr;
    uint32_t len;
    uint32_t slot;        /* layer * n_experts + expert */
    int prot;             /* protection to restore (fault) */
    volatile uint8_t hit; /* set by the fault handler */
    volatile uint8_t armed;
    uint8_t dead;         /* its memory went away */
};

struct moetier_sampler {
    int kind;                       /* enum moetier_sampler_kind */
    size_t n;                       /* probes, sorted by addr */
    struct moetier_probe *probes;
    uint32_t n_slots;
    uint64_t unit;                  /* pagemap: bytes a touch maps */
    int pagemap_fd;
    uint64_t *pm;                   /* pagemap read buffer */
    size_t pm_cap;                  /* entries */
    size_t next;                    /* fault: start of the next armed subset */
    uint32_t covered;               /* slots with a probe */
};

/*
 * Builds the probes for the live placements. want: MOETIER_SAMPLE_PAGEMAP,
 * MOETIER_SAMPLE_FAULT, or MOETIER_SAMPLE_NONE for "choose" (pagemap where it
 * can see every expert, else fault). Returns 0, or a negative code with the
 * reason in why (then s->kind is MOETIER_SAMPLE_NONE).
 */
int moetier_sampler_build(struct moetier_sampler *s, int want, const struct moetier_placements *t,
                          uint32_t n_layers, uint32_t n_experts, char *why, size_t whylen);
void moetier_sampler_free(struct moetier_sampler *s);

void moetier_sampler_arm(struct moetier_sampler *s);
/* Sets used[slot] = 1 for each touched probe; returns how many. */
int moetier_sampler_collect(struct moetier_sampler *s, uint8_t *used);

/* The memory [addr, addr+len) is going away: never touch its probes again. */
void moetier_sampler_forget(struct moetier_sampler *s, uintptr_t addr, size_t len);
/* Restores every armed probe's protection (before disabling the sampler). */
void moetier_sampler_disarm(struct moetier_sampler *s);

/* From the SIGSEGV handler: 1 if addr is an armed probe (now restored and
 * marked hit), 0 if the fault is not ours. Async-signal-safe. */
int moetier_sampler_fault(struct moetier_sampler *s, uintptr_t addr);

/* Measures the pagemap unit of the shared mapping around addr (which must lie
 * in a MAP_SHARED file mapping): bytes made present by touching one page. */
int64_t moetier_sampler_measure_unit(uintptr_t addr, uintptr_t lo, uintptr_t hi);

#endif
