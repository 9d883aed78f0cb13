/*
 * number: unsigned 64-bit numbers from text (see number.h).
 */
#include "common/number.h"

#include <errno.h>

static int digit(char c, unsigned base)
{
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    return d >= 0 && (unsigned)d < base ? d : -1;
}

int moetier_parse_u64(const char *s, unsigned base, uint64_t *out, const char **end)
{
    if (!s || (base != 10 && base != 16))
        return -EINVAL;
    uint64_t v = 0;
    const char *p = s;
    int d;
    for (; (d = digit(*p, base)) >= 0; p++) {
        if (v > (UINT64_MAX - (uint64_t)d) / base)
            return -ERANGE;
        v = v * base + (uint64_t)d;
    }
    if (p == s || (!end && *p))
        return -EINVAL;
    if (end)
        *end = p;
    *out = v;
    return 0;
}

int moetier_parse_decimal(const char *s, uint64_t *whole, double *frac, const char **end)
{
    const char *p;
    int rc = moetier_parse_u64(s, 10, whole, &p);
    if (rc)
        return rc;
    double f = 0, scale = 1;
    int digits = 0;
    if (*p == '.') {
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            f += (*p - '0') * (scale /= 10);
        if (!digits)
            return -EINVAL;
    }
    *frac = f;
    *end = p;
    return digits;
}
