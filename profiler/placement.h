/*
 * placement: where each expert tensor of the model lives in this process.
 *
 * A placement is one expert tensor of one MoE layer: n_expert slices of
 * `stride` bytes from `base` (expert e at base + e * stride, one contiguous
 * slice, in the file mapping and in llama.cpp's repacked layouts alike). The
 * shim adds placements as it sees the binary map the GGUF file or upload
 * tensors into buffers, and retires them when the memory goes away.
 *
 * Fixed capacity, no allocation: the table lives in the shim's static state,
 * under the shim's lock.
 */
#ifndef MOETIER_PROFILER_PLACEMENT_H
#define MOETIER_PROFILER_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

enum moetier_mem_kind {
    MOETIER_MEM_FILE_SHARED = 0,  /* MAP_SHARED mapping of the model file */
    MOETIER_MEM_FILE_PRIVATE = 1, /* MAP_PRIVATE mapping of the model file */
    MOETIER_MEM_ANON = 2,         /* a buffer the binary read or copied weights into */
    MOETIER_MEM_PINNED = 3,       /* a buffer pinned for CUDA: never touched */
};

#define MOETIER_PLACEMENTS_MAX 8192

struct moetier_placement {
    uintptr_t base;
    uint64_t stride;
    uint32_t n_expert;
    uint32_t layer;  /* MoE layer index (not the block number) */
    uint8_t part;    /* enum moetier_expert_part */
    uint8_t kind;    /* enum moetier_mem_kind */
    uint8_t live;
    int prot;        /* protection of the memory (PROT_*) */
    int file;        /* file kinds: the model file index, and the file offset of base */
    uint64_t file_off;
};

struct moetier_placements {
    size_t n;
    size_t n_copied; /* live file placements a buffer copy replaced (llama.cpp's CPU_REPACK) */
    struct moetier_placement item[MOETIER_PLACEMENTS_MAX];
};

/* Adds (or replaces the placement of the same layer and part). 0 or -ENOSPC. */
int moetier_placements_add(struct moetier_placements *t, const struct moetier_placement *p);

/* Retires every placement overlapping [addr, addr + len). Returns how many. */
int moetier_placements_retire(struct moetier_placements *t, uintptr_t addr, size_t len);

/* Words for a kind: "file mapping (shared)", ... */
const char *moetier_mem_kind_name(int kind);

#endif
