/*
 * hash: FNV-1a 64 (see hash.h).
 */
#include "common/hash.h"

#define FNV1A_PRIME 0x100000001b3ull

uint64_t moetier_fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * FNV1A_PRIME;
    return h;
}
