/*
 * sampler: which experts a decode step touched, seen from outside the binary,
 * without modifying it.
 *
 * MUL_MAT_ID reads a routed expert's whole slice of each expert tensor, so any
 * part of a slice is touched exactly when that expert is used. Two kinds:
 *
 *  - pagemap: one probe per (layer, expert), an aligned window inside its
 *    slice of a MAP_SHARED file mapping. MADV_DONTNEED drops the window's
 *    page-table entries but keeps the data; /proc/self/pagemap bit 63 then says
 *    whether it was touched since. A touch maps a whole fault-around window or
 *    large folio (the "unit", measured per mapping at start), so a probe is an
 *    aligned unit-sized window lying wholly inside one expert's slice; experts
 *    smaller than two units cannot be seen this way. Zaps are batched into one
 *    process_madvise call (one TLB flush). Never used on private or anonymous
 *    memory (zapping would lose data).
 *  - fault: one region per MoE layer, the whole-page interior of one expert
 *    tensor, made PROT_NONE when armed (one mprotect, one TLB flush). The first
 *    touch of an expert raises SIGSEGV; moetier_sampler_fault (called from the
 *    shim's handler) works out the expert from the address, marks it and
 *    restores that expert's pages; collect() restores the rest. Works on any
 *    memory; costs one fault per used expert and layer per sample.
 *  - fetch: the fault sampler over every expert tensor of a layer (one region
 *    each), armed at every decode step by the caller, which also reads each
 *    touched expert in from its model file at its first touch: one
 *    readahead(2) per slice (gate, up, down) of exactly the expert's bytes,
 *    before the binary's own page faults on them. Those faults then find the
 *    pages cached, so the kernel's read-around (16 MiB windows with llama.cpp's
 *    FADV_SEQUENTIAL and read_ahead_kb 8192) never reads the neighbouring
 *    experts. Protection persists between steps: collect() restores nothing,
 *    and the next arm() protects again only the slices the handler restored
 *    (the cost of a step follows the experts it touched, not the model's
 *    size); a touch between steps is served by the handler like any other.
 *    For the file tier's locking (docs/tiering.md); file descriptors from
 *    moetier_sampler_fetch_fds(); disarm() before the sampler goes away.
 *
 * Usage per sample: arm() before the step, collect() after it.
 * moetier_sampler_fault is async-signal-safe; everything else runs in ordinary
 * context. Pinned memory is never probed.
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
    MOETIER_SAMPLE_FETCH = 3,
};

#define MOETIER_SAMPLER_MAX_FILES 128

struct moetier_probe {
    uintptr_t addr;
    uint32_t len;
    uint32_t slot;        /* layer * n_experts + expert */
    uint8_t hit;
    uint8_t armed;
    uint8_t dead;         /* its memory went away */
};

/* fault: one layer's expert tensor, armed as a whole */
struct moetier_fault_region {
    uintptr_t start, end;    /* whole pages inside the tensor */
    uintptr_t block;         /* what the handler restores around a touch: a page, or a PMD mapping */
    uintptr_t base;          /* expert 0's slice */
    uint64_t stride;
    uint32_t n_expert;
    uint32_t slot0;          /* layer * n_experts */
    int prot;                /* protection to restore */
    int file;                /* model file index (-1: not a file mapping) */
    uint64_t file_off;       /* file offset of base */
    _Atomic uint8_t armed;   /* set before arm's mprotect, cleared after disarm's */
    _Atomic uint8_t dead;
};

struct moetier_sampler {
    int kind;                       /* enum moetier_sampler_kind */
    uint32_t n_slots;
    uint32_t covered;               /* (layer, expert) pairs the sampler can see */
    /* pagemap */
    size_t n;                       /* probes, sorted by addr */
    struct moetier_probe *probes;
    uint64_t unit;                  /* bytes a touch maps */
    int pagemap_fd;
    int pidfd;                      /* for batched zaps (process_madvise), or -1 */
    uint64_t *pm;                   /* pagemap read buffer */
    size_t pm_cap;                  /* its entries */
    uint8_t fresh;                  /* set by the caller before arm: nothing but the step being armed
                                       has run since the last collect, so a window that missed then
                                       has no PTEs and needs no zap (0: zap every window) */
    /* fault */
    size_t n_regions;               /* sorted by start */
    struct moetier_fault_region *regions;
    _Atomic uint8_t *hit;           /* [n_slots], set by the fault handler */
    uint32_t n_experts;             /* experts per layer (a slice row's length) */
    _Atomic uint32_t *slice;        /* [n_regions * n_experts] each slice's protection state (sampler.c) */
    uint8_t *rearm;                 /* fetch: [n_experts] arm's scratch row */
    /* fetch */
    int fetch_fd[MOETIER_SAMPLER_MAX_FILES]; /* per model file, -1 = no fetch */
    volatile uint64_t fetched;      /* readahead calls made */
};

/*
 * Builds the probes for the live placements. want: MOETIER_SAMPLE_PAGEMAP,
 * MOETIER_SAMPLE_FAULT, MOETIER_SAMPLE_FETCH, or MOETIER_SAMPLE_NONE for "choose" (pagemap where it
 * can see every expert, else fault). Returns 0, or a negative code with the
 * reason in why (then s->kind is MOETIER_SAMPLE_NONE).
 */
int moetier_sampler_build(struct moetier_sampler *s, int want, const struct moetier_placements *t,
                          uint32_t n_layers, uint32_t n_experts, char *why, size_t whylen);
void moetier_sampler_free(struct moetier_sampler *s);

/* The kind works by PROT_NONE faults (fault, fetch): the SIGSEGV handler must
 * be installed, and disarm() restores protection. */
int moetier_sampler_uses_faults(const struct moetier_sampler *s);

/* fetch: the descriptor to read model file i from (n files; -1 = none). Set
 * before arming; the descriptors must stay open while the sampler exists. */
void moetier_sampler_fetch_fds(struct moetier_sampler *s, const int *fds, uint32_t n);

void moetier_sampler_arm(struct moetier_sampler *s);
/* Sets used[slot] = 1 for each touched probe; returns how many. */
int moetier_sampler_collect(struct moetier_sampler *s, uint8_t *used);

/* The memory [addr, addr+len) is going away: never touch its probes again. */
void moetier_sampler_forget(struct moetier_sampler *s, uintptr_t addr, size_t len);
/* Restores every armed region's protection (before disabling the sampler). */
void moetier_sampler_disarm(struct moetier_sampler *s);

/* From the SIGSEGV handler: 1 if the faulting access is to be retried: addr
 * lies in a slice moetier protected (the expert there is marked and its pages
 * restored), or in one whose protection another thread lifted meanwhile (a
 * first fault there). 0 if the fault is not ours: outside every region, or
 * the same thread's same fault again with nothing armed since (the binary's
 * own, e.g. a stray write into read-only weights, which must reach its
 * handler or crash). A repeating genuine fault is thus claimed at most twice.
 * Async-signal-safe; race-free against arm/collect/disarm on other threads. */
int moetier_sampler_fault(struct moetier_sampler *s, uintptr_t addr);

/* Measures the pagemap unit of the shared mapping around addr (which must lie
 * in a MAP_SHARED file mapping): bytes made present by touching one page. */
int64_t moetier_sampler_measure_unit(uintptr_t addr, uintptr_t lo, uintptr_t hi);

#endif
