/*
 * quant: f32 -> f16 / q8_0 / q4_0 row conversion (see quant.h). The block
 * layouts follow ggml-common.h: q8_0 = {f16 d; int8 qs[32]}, q4_0 = {f16 d;
 * uint8 qs[16]} with element j in the low nibble of qs[j] and j+16 in the high.
 */
#include "tools/quant.h"
#include "profiler/ggml_types.h"

#include <errno.h>
#include <math.h>
#include <string.h>

uint16_t quant_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t exp = (x >> 23) & 0xff;
    uint32_t man = x & 0x7fffff;
    if (exp == 0xff) /* inf / nan */
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f)
        return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10)
            return (uint16_t)sign;
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = 1u << (shift - 1);
        uint32_t r = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        if (rem > half || (rem == half && (r & 1)))
            r++;
        return (uint16_t)(sign | r);
    }
    uint32_t r = ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1)))
        r++; /* may carry into the exponent, which is the right rounding */
    return (uint16_t)(sign | r);
}

size_t quant_row_bytes(uint32_t type, size_t n)
{
    const struct moetier_ggml_type *t = moetier_ggml_type_get(type);
    if (!t || n % t->block_size)
        return 0;
    switch (type) {
    case MOETIER_GGML_F32:
    case MOETIER_GGML_F16:
    case MOETIER_GGML_Q8_0:
    case MOETIER_GGML_Q4_0:
        return n / t->block_size * t->type_size;
    default:
        return 0;
    }
}

static void q8_0_block(const float *x, unsigned char *out)
{
    float amax = 0;
    for (int j = 0; j < 32; j++)
        amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f;
    float id = d ? 1.0f / d : 0.0f;
    uint16_t dh = quant_f32_to_f16(d);
    memcpy(out, &dh, 2);
    for (int j = 0; j < 32; j++)
        out[2 + j] = (unsigned char)(int8_t)roundf(x[j] * id);
}

static void q4_0_block(const float *x, unsigned char *out)
{
    float amax = 0, max = 0;
    for (int j = 0; j < 32; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    float d = max / -8.0f;
    float id = d ? 1.0f / d : 0.0f;
    uint16_t dh = quant_f32_to_f16(d);
    memcpy(out, &dh, 2);
    for (int j = 0; j < 16; j++) {
        int q0 = (int)(x[j] * id + 8.5f);
        int q1 = (int)(x[j + 16] * id + 8.5f);
        q0 = q0 > 15 ? 15 : q0 < 0 ? 0 : q0;
        q1 = q1 > 15 ? 15 : q1 < 0 ? 0 : q1;
        out[2 + j] = (unsigned char)(q0 | (q1 << 4));
    }
}

int quant_row(uint32_t type, const float *src, void *dst, size_t n)
{
    if (!quant_row_bytes(type, n))
        return -EINVAL;
    unsigned char *out = dst;
    switch (type) {
    case MOETIER_GGML_F32:
        memcpy(dst, src, n * sizeof *src);
        break;
    case MOETIER_GGML_F16:
        for (size_t i = 0; i < n; i++) {
            uint16_t h = quant_f32_to_f16(src[i]);
            memcpy(out + 2 * i, &h, 2);
        }
        break;
    case MOETIER_GGML_Q8_0:
        for (size_t b = 0; b < n / 32; b++)
            q8_0_block(src + 32 * b, out + 34 * b);
        break;
    case MOETIER_GGML_Q4_0:
        for (size_t b = 0; b < n / 32; b++)
            q4_0_block(src + 32 * b, out + 18 * b);
        break;
    }
    return 0;
}
