/*
 * ggml_types: the ggml tensor types a GGUF file may hold, with their block
 * geometry, so that every tensor's byte size can be computed exactly.
 *
 * A tensor of type t whose first dimension is ne0 stores ne0 / block_size
 * blocks of type_size bytes per row; ne0 must be a multiple of block_size.
 * The table matches ggml (llama.cpp v0.5.0 as shipped by node-llama-cpp 3.22.1).
 */
#ifndef MOETIER_PROFILER_GGML_TYPES_H
#define MOETIER_PROFILER_GGML_TYPES_H

#include <stdint.h>

struct moetier_ggml_type {
    const char *name;     /* ggml's name: "f16", "q4_K", "iq2_xxs", ... */
    uint32_t block_size;  /* elements per block */
    uint32_t type_size;   /* bytes per block */
};

enum {
    MOETIER_GGML_F32 = 0,
    MOETIER_GGML_F16 = 1,
    MOETIER_GGML_Q4_0 = 2,
    MOETIER_GGML_Q8_0 = 8,
    MOETIER_GGML_BF16 = 30,
    MOETIER_GGML_TYPE_COUNT = 43,
};

/* The type's geometry, or NULL for an unknown or removed type id. */
const struct moetier_ggml_type *moetier_ggml_type_get(uint32_t type);

/* Type id by ggml name (case-sensitive, as ggml prints them); -1 if none. */
int moetier_ggml_type_by_name(const char *name);

/*
 * Bytes of a tensor of the given type and shape (n_dims <= 4, every ne >= 0).
 * Returns 0, -EINVAL (unknown type, ne[0] not a multiple of the block size,
 * negative dimension) or -EOVERFLOW (the size does not fit in 64 bits).
 */
int moetier_ggml_nbytes(uint32_t type, uint32_t n_dims, const int64_t *ne, uint64_t *out);

#endif
