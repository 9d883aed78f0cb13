/*
 * number: unsigned 64-bit numbers from text, by hand (strtoull depends on the
 * locale, takes signs and blanks, and wraps silently on some libcs). No
 * stdio, no malloc: safe on the shim's paths and in the raw-syscall code.
 */
#ifndef MOETIER_COMMON_NUMBER_H
#define MOETIER_COMMON_NUMBER_H

#include <stdint.h>

/*
 * The digits at the start of s in base 10 or 16 (0-9, a-f, A-F; no sign, no
 * blanks, no "0x": the caller decides what it accepts). With end, *end is set
 * past the last digit and anything may follow; without (NULL), s must hold
 * nothing else. 0, -EINVAL (no digit, or trailing text without end, or a bad
 * base) or -ERANGE (more than 64 bits); *out is written only on 0.
 */
int moetier_parse_u64(const char *s, unsigned base, uint64_t *out, const char **end);

/*
 * A decimal D[.D...] at the start of s, by hand (strtod reads the locale's
 * decimal point): its integer part in *whole, its fraction in *frac (0 when
 * none); *end past the last digit, anything may follow. Returns the number of
 * fraction digits (0 or more), or -EINVAL (no digit first, or a '.' without a
 * digit after it) or -ERANGE (an integer part of more than 64 bits).
 */
int moetier_parse_decimal(const char *s, uint64_t *whole, double *frac, const char **end);

#endif
