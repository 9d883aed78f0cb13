/*
 * expert_map: where every routed expert of a MoE model lives in its GGUF file(s).
 *
 * llama.cpp stores the routed experts of block N as 3-D tensors
 *   blk.N.ffn_gate_exps.weight  [n_embd, n_ff, n_expert]
 *   blk.N.ffn_up_exps.weight    [n_embd, n_ff, n_expert]
 *   blk.N.ffn_down_exps.weight  [n_ff, n_embd, n_expert]
 * (newer models fuse gate and up into blk.N.ffn_gate_up_exps.weight
 * [n_embd, 2*n_ff, n_expert]), and MUL_MAT_ID reads, for a routed expert e,
 * exactly the contiguous slice [offset + e*nb2, offset + (e+1)*nb2) of each,
 * where nb2 = row bytes * ne1. So an expert is 1 to 3 byte ranges, one per
 * expert tensor of its block, listed in the order gate (or the fused
 * gate_up, which takes the gate position), up, down; a block may lack some of
 * them (some architectures have no gate). The map lists every (layer, expert)
 * sorted by layer (the block index N), then expert.
 *
 * Everything else is accounted too: the shared experts
 * (blk.N.ffn_{gate,up,down}_shexp.weight, always read, never routed) as
 * shared_expert_bytes, every other tensor (attention, norms, router, embeddings,
 * expert biases and scales) as other_bytes_total. Header and padding bytes are
 * in neither.
 *
 * Checks (failure: -EBADMSG and a one-line message, or -E2BIG past the limits):
 * expert tensors are 3-D (a 4-D shape with ne[3] = 1 is accepted) and not
 * empty; every expert tensor of every block has the same ne[2], equal to
 * `<arch>.expert_count` when that key is present; `<arch>.expert_used_count`
 * is not above it; block indices are below `<arch>.block_count` when present;
 * a block does not mix the fused gate_up with a separate gate or up.
 *
 * The map is self-contained (no pointer into the model): it may outlive the
 * model it was built from. Read-only once built; not for signal handlers.
 */
#ifndef MOETIER_PROFILER_EXPERT_MAP_H
#define MOETIER_PROFILER_EXPERT_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "profiler/gguf.h"

/* Which expert tensor a range belongs to. */
enum moetier_expert_part {
    MOETIER_EXPERT_GATE = 0,
    MOETIER_EXPERT_UP = 1,
    MOETIER_EXPERT_DOWN = 2,
    MOETIER_EXPERT_GATE_UP = 3, /* fused gate+up, in the gate position */
};

#define MOETIER_EXPERT_MAX_PER_LAYER 65536u
#define MOETIER_EXPERT_MAX_TOTAL (1u << 20) /* layers x experts */
#define MOETIER_EXPERT_MAX_BLOCK 999999     /* largest block index N accepted */

struct moetier_expert_range {
    uint64_t off; /* absolute offset in file `file` */
    uint64_t len;
    int file;     /* index into the model's files (0 unless split) */
    int part;     /* enum moetier_expert_part */
};

struct moetier_expert {
    int layer;  /* block index N of blk.N */
    int expert; /* 0 .. n_expert-1 */
    int n_ranges;
    struct moetier_expert_range range[3]; /* gate|gate_up, up, down: those present */
    uint64_t bytes;                       /* sum of the ranges' lengths */
};

/* One expert tensor of a layer. */
struct moetier_expert_tensor {
    int part;              /* enum moetier_expert_part */
    uint32_t type;         /* ggml type */
    int64_t ne[3];         /* ne[2] = n_expert */
    int file;
    uint64_t offset, size; /* the whole tensor */
    uint64_t expert_bytes; /* nb2: one expert's slice */
};

struct moetier_expert_layer {
    int layer;                              /* block index N */
    int n_tensors;                          /* 1..3 */
    struct moetier_expert_tensor tensor[3]; /* in range order */
    uint64_t expert_bytes;                  /* one expert of this layer */
    size_t first;                           /* index of its expert 0 in experts[] */
};

struct moetier_expert_map {
    char *architecture;        /* general.architecture, or NULL */
    uint32_t n_expert;         /* routed experts per MoE layer (0: no MoE layer) */
    int64_t n_expert_used;     /* <arch>.expert_used_count, -1 if absent */
    int64_t n_expert_shared;   /* <arch>.expert_shared_count, -1 if absent */
    int64_t block_count;       /* <arch>.block_count, -1 if absent */
    size_t n_layers;           /* MoE layers */
    struct moetier_expert_layer *layers; /* sorted by block index */
    size_t n_experts;          /* n_layers * n_expert */
    struct moetier_expert *experts;      /* sorted by layer, then expert */
    uint64_t expert_bytes_total;  /* every routed expert */
    uint64_t expert_bytes_min, expert_bytes_max; /* one expert (0 without experts) */
    uint64_t shared_expert_bytes; /* blk.N.ffn_{gate,up,down}_shexp.weight */
    uint64_t other_bytes_total;   /* every other tensor's data */
    size_t n_shared_tensors;      /* how many shexp tensors there are */
    /* private: expert tensors sorted by (file, offset), for locate */
    size_t n_by_addr;
    struct moetier_expert_by_addr *by_addr;
};

/* Builds the map of the model m. Returns 0 or a negative code (see above);
 * err (may be NULL) receives a one-line message. */
int moetier_expert_map_build(const struct moetier_gguf_model *m, struct moetier_expert_map **out,
                             char *err, size_t errcap);

void moetier_expert_map_free(struct moetier_expert_map *map);

/* The entry of (layer, expert), or NULL. O(log n_layers). */
const struct moetier_expert *moetier_expert_map_find(const struct moetier_expert_map *map,
                                                     int layer, int expert);

/*
 * Which expert's bytes hold byte `off` of file `file`: 0 with *e and *range
 * (index into (*e)->range) set, or -ENOENT when no routed expert's slice holds
 * it. O(log n_layers).
 */
int moetier_expert_map_locate(const struct moetier_expert_map *map, int file, uint64_t off,
                              const struct moetier_expert **e, int *range);

/* "gate", "up", "down", "gate_up". */
const char *moetier_expert_part_name(int part);

#endif
