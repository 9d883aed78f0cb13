/*
 * quant: converts rows of f32 weights into the ggml storage types that
 * `moetier mkmoe` writes (f32, f16, q8_0, q4_0), bit-compatible with ggml's
 * reference quantizers.
 */
#ifndef MOETIER_TOOLS_QUANT_H
#define MOETIER_TOOLS_QUANT_H

#include <stddef.h>
#include <stdint.h>

uint16_t quant_f32_to_f16(float f);

/* Bytes one row of n elements takes in `type`; 0 if unsupported or n is not a
 * multiple of the block size. */
size_t quant_row_bytes(uint32_t type, size_t n);

/* Converts n floats into dst (quant_row_bytes(type, n) bytes). Returns 0 or -EINVAL. */
int quant_row(uint32_t type, const float *src, void *dst, size_t n);

#endif
