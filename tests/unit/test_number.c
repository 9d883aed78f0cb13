/*
 * test_number: the one unsigned 64-bit parser (common/number.h): bases,
 * where it stops, trailing text, empty input, overflow at the exact edge.
 */
#include "common/number.h"
#include "check.h"

#include <errno.h>
#include <stdint.h>

static void test_whole(void)
{
    uint64_t v = 7;
    CHECK(moetier_parse_u64("0", 10, &v, NULL) == 0 && v == 0);
    CHECK(moetier_parse_u64("65530", 10, &v, NULL) == 0 && v == 65530);
    CHECK(moetier_parse_u64("007", 10, &v, NULL) == 0 && v == 7);
    CHECK(moetier_parse_u64("ff", 16, &v, NULL) == 0 && v == 255);
    CHECK(moetier_parse_u64("00000000a80425fb", 16, &v, NULL) == 0 && v == 0xa80425fbull);
    CHECK(moetier_parse_u64("DeadBeef", 16, &v, NULL) == 0 && v == 0xdeadbeefull);
    /* nothing else: empty, signs, blanks, prefixes, trailing junk */
    v = 7;
    CHECK(moetier_parse_u64("", 10, &v, NULL) == -EINVAL);
    CHECK(moetier_parse_u64("-1", 10, &v, NULL) == -EINVAL);
    CHECK(moetier_parse_u64("+1", 10, &v, NULL) == -EINVAL);
    CHECK(moetier_parse_u64(" 1", 10, &v, NULL) == -EINVAL);
    CHECK(moetier_parse_u64("12x", 10, &v, NULL) == -EINVAL);
    CHECK(moetier_parse_u64("12\n", 10, &v, NULL) == -EINVAL);
    CHECK(moetier_parse_u64("ff", 10, &v, NULL) == -EINVAL);
    CHECK(moetier_parse_u64("0x10", 16, &v, NULL) == -EINVAL);
    CHECK(moetier_parse_u64("1", 8, &v, NULL) == -EINVAL);
    CHECK(moetier_parse_u64(NULL, 10, &v, NULL) == -EINVAL);
    CHECK(v == 7); /* untouched on failure */
}

static void test_overflow(void)
{
    uint64_t v = 7;
    CHECK(moetier_parse_u64("18446744073709551615", 10, &v, NULL) == 0 && v == UINT64_MAX);
    CHECK(moetier_parse_u64("18446744073709551616", 10, &v, NULL) == -ERANGE);
    CHECK(moetier_parse_u64("99999999999999999999999", 10, &v, NULL) == -ERANGE);
    CHECK(moetier_parse_u64("ffffffffffffffff", 16, &v, NULL) == 0 && v == UINT64_MAX);
    CHECK(moetier_parse_u64("10000000000000000", 16, &v, NULL) == -ERANGE);
    CHECK(moetier_parse_u64("000000000000000000000000018446744073709551615", 10, &v, NULL) == 0 && v == UINT64_MAX);
}

static void test_prefix(void)
{
    uint64_t v = 0;
    const char *end = NULL, *s = "0-3,8\n";
    CHECK(moetier_parse_u64(s, 10, &v, &end) == 0 && v == 0 && end == s + 1);
    CHECK(moetier_parse_u64(end + 1, 10, &v, &end) == 0 && v == 3 && *end == ',');
    CHECK(moetier_parse_u64(end + 1, 10, &v, &end) == 0 && v == 8 && *end == '\n');
    end = s;
    CHECK(moetier_parse_u64(",", 10, &v, &end) == -EINVAL && end == s); /* no digit: end untouched */
    CHECK(moetier_parse_u64("", 10, &v, &end) == -EINVAL);
    CHECK(moetier_parse_u64("18446744073709551616 kB", 10, &v, &end) == -ERANGE);
    CHECK(moetier_parse_u64("2048 kB", 10, &v, &end) == 0 && v == 2048 && *end == ' ');
}

/* decimals: integer and fraction apart, the fraction's digits counted, no locale */
static void test_decimal(void)
{
    uint64_t w = 9;
    double f = 9;
    const char *end = NULL;
    CHECK(moetier_parse_decimal("0.25%", &w, &f, &end) == 2 && w == 0 && f == 0.25 && *end == '%');
    CHECK(moetier_parse_decimal("12", &w, &f, &end) == 0 && w == 12 && f == 0 && *end == 0);
    CHECK(moetier_parse_decimal("1.0", &w, &f, &end) == 1 && w == 1 && f == 0 && *end == 0);
    CHECK(moetier_parse_decimal("3,5", &w, &f, &end) == 0 && w == 3 && *end == ',');
    CHECK(moetier_parse_decimal("1.", &w, &f, &end) == -EINVAL);
    CHECK(moetier_parse_decimal(".5", &w, &f, &end) == -EINVAL);
    CHECK(moetier_parse_decimal("18446744073709551616.5", &w, &f, &end) == -ERANGE);
}

int main(void)
{
    test_whole();
    test_overflow();
    test_prefix();
    test_decimal();
    return check_exit("test_number");
}
