/*
 * size: binary-suffixed size parsing and formatting (see size.h).
 */
#include "common/size.h"
#include "common/fmt.h"
#include "common/number.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

int moetier_size_parse(const char *s, int allow_percent, struct moetier_size *out)
{
    if (!s)
        return -EINVAL;
    while (isspace((unsigned char)*s))
        s++;
    if (!isdigit((unsigned char)*s))
        return -EINVAL;

    uint64_t ip;
    double frac;
    int have_frac = moetier_parse_decimal(s, &ip, &frac, &s);
    if (have_frac < 0)
        return have_frac; /* a digit is there: too many of them, or a '.' without one after it */
    while (*s == ' ')
        s++;

    if (*s == '%') {
        if (!allow_percent || s[1] != '\0')
            return -EINVAL;
        double p = (double)ip + frac;
        if (p <= 0 || p > 100)
            return -ERANGE;
        out->bytes = 0;
        out->percent = p;
        return 0;
    }

    unsigned shift = 0;
    switch (toupper((unsigned char)*s)) {
    case '\0': break;
    case 'B': break;
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    case 'P': shift = 50; break; /* moetier_size_format prints PiB: read it back */
    default: return -EINVAL;
    }
    if (*s && toupper((unsigned char)*s) != 'B') {
        s++;
        if (*s == 'i' || *s == 'I')
            s++;
        if (*s == 'B' || *s == 'b')
            s++;
    } else if (*s) {
        s++;
    }
    if (*s != '\0')
        return -EINVAL;
    if (shift == 0 && have_frac)
        return -EINVAL; /* fractional bytes */
    if (shift && ip > (UINT64_MAX >> shift))
        return -ERANGE;
    uint64_t bytes = ip << shift;
    uint64_t fbytes = (uint64_t)(frac * (double)(1ULL << shift));
    if (bytes > UINT64_MAX - fbytes)
        return -ERANGE;
    out->bytes = bytes + fbytes;
    out->percent = 0;
    return 0;
}

char *moetier_size_format(uint64_t bytes, char *buf, size_t cap)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    if (bytes < 1024) {
        moetier_fmt(buf, cap, "%llu B", (unsigned long long)bytes);
        return buf;
    }
    int u = 0;
    uint64_t whole = bytes;
    while (whole >= 1024 * 1024 && u < 4) {
        whole >>= 10;
        u++;
    }
    /* two decimals without floating point: value = bytes / 1024^(u+1) */
    unsigned shift = 10u * (unsigned)(u + 1);
    uint64_t ip = bytes >> shift;
    uint64_t rem = bytes - (ip << shift);
    uint64_t hundredths = (uint64_t)(((__uint128_t)rem * 100 + ((__uint128_t)1 << (shift - 1))) >> shift);
    if (hundredths >= 100) {
        ip++;
        hundredths -= 100;
    }
    moetier_fmt(buf, cap, "%llu.%02llu %s", (unsigned long long)ip, (unsigned long long)hundredths,
                units[u + 1]);
    return buf;
}
