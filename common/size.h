/*
 * size: parse and print byte sizes with binary suffixes.
 *
 * Parsing accepts "123", "64K", "1.5G", "2GiB", "512m", "1T" (K=1024 ... P=1024^5,
 * case-insensitive, optional "B"/"iB") and, where allowed, a percentage "25%".
 * No allocation; safe on the shim's paths.
 */
#ifndef MOETIER_COMMON_SIZE_H
#define MOETIER_COMMON_SIZE_H

#include <stddef.h>
#include <stdint.h>

struct moetier_size {
    uint64_t bytes;   /* valid when percent == 0 */
    double percent;   /* 0 < percent <= 100 when a percentage was given */
};

/* Returns 0, or -EINVAL (not a size) / -ERANGE (overflows 64 bits).
 * A percentage is accepted only when allow_percent is non-zero. */
int moetier_size_parse(const char *s, int allow_percent, struct moetier_size *out);

/* "1.50 GiB", "512 B": writes into buf (at least 16 bytes), returns buf. */
char *moetier_size_format(uint64_t bytes, char *buf, size_t cap);

#endif
