/*
 * hash: FNV-1a, 64 bits. The profile file's checksum and the model's
 * identity (profiler/profile.c, profiler/model.c) are FNV-1a 64: changing
 * this function changes every saved profile's checksum.
 */
#ifndef MOETIER_COMMON_HASH_H
#define MOETIER_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

#define MOETIER_FNV1A_INIT 0xcbf29ce484222325ull /* the offset basis: the hash of no bytes */

/* h continued over n bytes at p (start with MOETIER_FNV1A_INIT). */
uint64_t moetier_fnv1a(uint64_t h, const void *p, size_t n);

#endif
