/*
 * ggml_types: block geometry of every ggml tensor type (see ggml_types.h).
 * Sizes were read off ggml-common.h of the pinned llama.cpp with sizeof().
 */
#include "profiler/ggml_types.h"

#include <errno.h>
#include <string.h>

static const struct moetier_ggml_type types[MOETIER_GGML_TYPE_COUNT] = {
    [0]  = { "f32", 1, 4 },
    [1]  = { "f16", 1, 2 },
    [2]  = { "q4_0", 32, 18 },
    [3]  = { "q4_1", 32, 20 },
    /* 4, 5: q4_2, q4_3 removed */
    [6]  = { "q5_0", 32, 22 },
    [7]  = { "q5_1", 32, 24 },
    [8]  = { "q8_0", 32, 34 },
    [9]  = { "q8_1", 32, 36 },
    [10] = { "q2_K", 256, 84 },
    [11] = { "q3_K", 256, 110 },
    [12] = { "q4_K", 256, 144 },
    [13] = { "q5_K", 256, 176 },
    [14] = { "q6_K", 256, 210 },
    [15] = { "q8_K", 256, 292 },
    [16] = { "iq2_xxs", 256, 66 },
    [17] = { "iq2_xs", 256, 74 },
    [18] = { "iq3_xxs", 256, 98 },
    [19] = { "iq1_s", 256, 50 },
    [20] = { "iq4_nl", 32, 18 },
    [21] = { "iq3_s", 256, 110 },
    [22] = { "iq2_s", 256, 82 },
    [23] = { "iq4_xs", 256, 136 },
    [24] = { "i8", 1, 1 },
    [25] = { "i16", 1, 2 },
    [26] = { "i32", 1, 4 },
    [27] = { "i64", 1, 8 },
    [28] = { "f64", 1, 8 },
    [29] = { "iq1_m", 256, 56 },
    [30] = { "bf16", 1, 2 },
    /* 31-33: q4_0_4_4, q4_0_4_8, q4_0_8_8 removed from GGUF files */
    [34] = { "tq1_0", 256, 54 },
    [35] = { "tq2_0", 256, 66 },
    /* 36-38: iq4_nl_4_4, iq4_nl_4_8, iq4_nl_8_8 removed */
    [39] = { "mxfp4", 32, 17 },
    [40] = { "nvfp4", 64, 36 },
    [41] = { "q1_0", 128, 18 },
    [42] = { "q2_0", 64, 18 },
};

const struct moetier_ggml_type *moetier_ggml_type_get(uint32_t type)
{
    if (type >= MOETIER_GGML_TYPE_COUNT || types[type].name == NULL)
        return NULL;
    return &types[type];
}

int moetier_ggml_type_by_name(const char *name)
{
    for (int i = 0; i < MOETIER_GGML_TYPE_COUNT; i++)
        if (types[i].name && strcmp(types[i].name, name) == 0)
            return i;
    return -1;
}

int moetier_ggml_nbytes(uint32_t type, uint32_t n_dims, const int64_t *ne, uint64_t *out)
{
    const struct moetier_ggml_type *t = moetier_ggml_type_get(type);
    if (!t || n_dims == 0 || n_dims > 4)
        return -EINVAL;
    for (uint32_t i = 0; i < n_dims; i++)
        if (ne[i] < 0)
            return -EINVAL;
    if ((uint64_t)ne[0] % t->block_size)
        return -EINVAL;
    uint64_t bytes = (uint64_t)ne[0] / t->block_size;
    if (__builtin_mul_overflow(bytes, (uint64_t)t->type_size, &bytes))
        return -EOVERFLOW;
    for (uint32_t i = 1; i < n_dims; i++)
        if (__builtin_mul_overflow(bytes, (uint64_t)ne[i], &bytes))
            return -EOVERFLOW;
    *out = bytes;
    return 0;
}
