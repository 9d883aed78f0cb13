/* Unit tests of tools/quant.c: f16 rounding and the q8_0 / q4_0 block layouts. */
#include "profiler/ggml_types.h"
#include "tools/quant.h"
#include "tests/unit/check.h"

#include <math.h>
#include <stdint.h>

static float f16_to_f32(uint16_t h)
{
    int sign = h >> 15, exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    float v = exp == 0 ? ldexpf((float)man, -24) : exp == 31 ? INFINITY : ldexpf((float)(man | 0x400), exp - 25);
    return sign ? -v : v;
}

static void test_f16(void)
{
    CHECK(quant_f32_to_f16(0.0f) == 0x0000);
    CHECK(quant_f32_to_f16(-0.0f) == 0x8000);
    CHECK(quant_f32_to_f16(1.0f) == 0x3c00);
    CHECK(quant_f32_to_f16(-2.0f) == 0xc000);
    CHECK(quant_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(quant_f32_to_f16(65520.0f) == 0x7c00); /* rounds up to infinity */
    CHECK(quant_f32_to_f16(0.1f) == 0x2e66);
    CHECK(quant_f32_to_f16(5.960464477539063e-08f) == 0x0001); /* smallest subnormal */
    CHECK(quant_f32_to_f16(1e-9f) == 0x0000);
    CHECK(quant_f32_to_f16(INFINITY) == 0x7c00);
    CHECK((quant_f32_to_f16(NAN) & 0x7c00) == 0x7c00 && (quant_f32_to_f16(NAN) & 0x3ff));
    /* round to nearest even at the halfway point between 1 and 1+2^-10 */
    CHECK(quant_f32_to_f16(1.0f + 0.00048828125f) == 0x3c00);
    CHECK(quant_f32_to_f16(1.0f + 3 * 0.00048828125f) == 0x3c02);
    for (float x = -100; x < 100; x += 0.37f)
        CHECK(fabsf(f16_to_f32(quant_f32_to_f16(x)) - x) <= fabsf(x) * 0.0005f + 1e-7f);
}

static void test_blocks(void)
{
    float x[64];
    for (int i = 0; i < 64; i++)
        x[i] = sinf((float)i * 0.7f) * (i < 32 ? 1.0f : 3.0f);
    unsigned char q8[68], q4[36];
    CHECK(quant_row_bytes(MOETIER_GGML_Q8_0, 64) == 68);
    CHECK(quant_row_bytes(MOETIER_GGML_Q4_0, 64) == 36);
    CHECK(quant_row_bytes(MOETIER_GGML_Q4_0, 48) == 0);
    CHECK(quant_row_bytes(MOETIER_GGML_F16, 3) == 6);
    CHECK(quant_row(MOETIER_GGML_Q8_0, x, q8, 64) == 0);
    CHECK(quant_row(MOETIER_GGML_Q4_0, x, q4, 64) == 0);
    CHECK(quant_row(MOETIER_GGML_Q4_0, x, q4, 40) < 0);
    for (int b = 0; b < 2; b++) {
        uint16_t dh;
        memcpy(&dh, q8 + 34 * b, 2);
        float d = f16_to_f32(dh);
        for (int j = 0; j < 32; j++) {
            float v = d * (int8_t)q8[34 * b + 2 + j];
            CHECK(fabsf(v - x[32 * b + j]) <= d * 0.5f + 1e-3f);
        }
        memcpy(&dh, q4 + 18 * b, 2);
        d = f16_to_f32(dh);
        for (int j = 0; j < 16; j++) {
            unsigned char byte = q4[18 * b + 2 + j];
            float lo = d * ((byte & 0xf) - 8), hi = d * ((byte >> 4) - 8);
            /* levels -8..7 of d, with d = -max/8: the far side clamps at 7|d|, so
             * the error is up to |d| there (as in ggml's reference quantizer) */
            CHECK(fabsf(lo - x[32 * b + j]) <= fabsf(d) + 1e-3f);
            CHECK(fabsf(hi - x[32 * b + j + 16]) <= fabsf(d) + 1e-3f);
        }
    }
    /* an all-zero block dequantizes to exact zeros (mkmoe relies on it for zero rows):
     * scale +-0 and every nibble at the zero level 8 */
    float z[32] = { 0 };
    CHECK(quant_row(MOETIER_GGML_Q4_0, z, q4, 32) == 0);
    uint16_t dz;
    memcpy(&dz, q4, 2);
    CHECK((dz & 0x7fff) == 0);
    for (int j = 0; j < 16; j++)
        CHECK(q4[2 + j] == 0x88);
    CHECK(quant_row(MOETIER_GGML_Q8_0, z, q8, 32) == 0);
    memcpy(&dz, q8, 2);
    CHECK((dz & 0x7fff) == 0);
    for (int j = 0; j < 32; j++)
        CHECK(q8[2 + j] == 0);
}

int main(void)
{
    test_f16();
    test_blocks();
    return check_exit("test_quant");
}
