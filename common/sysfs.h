/*
 * sysfs: small kernel files (/proc, /sys) read whole, and the number one
 * holds. No stdio, no malloc: safe on the shim's paths.
 */
#ifndef MOETIER_COMMON_SYSFS_H
#define MOETIER_COMMON_SYSFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads a small /proc or /sys file into buf, NUL-terminated (at most cap-1
 * bytes, the rest is cut): bytes read, or -errno. */
ssize_t moetier_read_text(const char *path, char *buf, size_t cap);

/* The unsigned decimal number a /proc or /sys file holds (blanks before it,
 * anything after it: "65530\n"), or dflt when it cannot be read, holds no
 * number or one past 64 bits (vm.max_map_count, a huge page count). */
uint64_t moetier_read_u64(const char *path, uint64_t dflt);

#endif
