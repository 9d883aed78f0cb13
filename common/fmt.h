/*
 * fmt: a small printf-style formatter into a caller's buffer.
 *
 * Used by the logger so that nothing on the shim's paths calls stdio or
 * malloc. Async-signal-safe: no locks, no allocation, no locale.
 * Supports %s %c %d %i %u %x %p %% with the l, ll, z length modifiers,
 * a width, '-' and '0' flags, and %.*s. Unknown conversions print '?'.
 */
#ifndef MOETIER_COMMON_FMT_H
#define MOETIER_COMMON_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Returns the number of bytes written (always NUL-terminated, truncated to cap-1). */
size_t moetier_vfmt(char *buf, size_t cap, const char *fmt, va_list ap);
size_t moetier_fmt(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
