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

#endif
