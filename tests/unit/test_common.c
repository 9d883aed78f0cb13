/* Unit tests of common/: size parsing and formatting, the formatter, JSON output. */
#include "common/fmt.h"
#include "common/json.h"
#include "common/size.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <stdlib.h>

static void test_size_parse(void)
{
    struct moetier_size s;
    CHECK(moetier_size_parse("123", 0, &s) == 0 && s.bytes == 123 && s.percent == 0);
    CHECK(moetier_size_parse("64K", 0, &s) == 0 && s.bytes == 65536);
    CHECK(moetier_size_parse("64k", 0, &s) == 0 && s.bytes == 65536);
    CHECK(moetier_size_parse("2M", 0, &s) == 0 && s.bytes == 2u << 20);
    CHECK(moetier_size_parse("2MiB", 0, &s) == 0 && s.bytes == 2u << 20);
    CHECK(moetier_size_parse("2MB", 0, &s) == 0 && s.bytes == 2u << 20);
    CHECK(moetier_size_parse("1.5G", 0, &s) == 0 && s.bytes == 3ULL << 29);
    CHECK(moetier_size_parse("1T", 0, &s) == 0 && s.bytes == 1ULL << 40);
    /* what moetier_size_format prints reads back (found by fuzz_config: "58.59 PiB") */
    CHECK(moetier_size_parse("2P", 0, &s) == 0 && s.bytes == 1ULL << 51);
    CHECK(moetier_size_parse("58.59 PiB", 0, &s) == 0 && s.bytes > 58ULL << 50 && s.bytes < 59ULL << 50);
    CHECK(moetier_size_parse("25%", 1, &s) == 0 && s.percent == 25 && s.bytes == 0);
    CHECK(moetier_size_parse("12.5%", 1, &s) == 0 && s.percent == 12.5);
    CHECK(moetier_size_parse("25%", 0, &s) == -EINVAL);
    CHECK(moetier_size_parse("0%", 1, &s) == -ERANGE);
    CHECK(moetier_size_parse("101%", 1, &s) == -ERANGE);
    CHECK(moetier_size_parse("", 0, &s) == -EINVAL);
    CHECK(moetier_size_parse("G", 0, &s) == -EINVAL);
    CHECK(moetier_size_parse("12Q", 0, &s) == -EINVAL);
    CHECK(moetier_size_parse("-1G", 0, &s) == -EINVAL);
    CHECK(moetier_size_parse("1.5", 0, &s) == -EINVAL);
    CHECK(moetier_size_parse("1G junk", 0, &s) == -EINVAL);
    CHECK(moetier_size_parse("99999999999999999999", 0, &s) == -ERANGE);
    CHECK(moetier_size_parse("20000000T", 0, &s) == -ERANGE);
}

static void test_size_format(void)
{
    char b[32];
    CHECK_STR(moetier_size_format(0, b, sizeof b), "0 B");
    CHECK_STR(moetier_size_format(1023, b, sizeof b), "1023 B");
    CHECK_STR(moetier_size_format(1024, b, sizeof b), "1.00 KiB");
    CHECK_STR(moetier_size_format(1536, b, sizeof b), "1.50 KiB");
    CHECK_STR(moetier_size_format(23ULL << 20, b, sizeof b), "23.00 MiB");
    CHECK_STR(moetier_size_format((1ULL << 30) - 1, b, sizeof b), "1024.00 MiB");
    CHECK_STR(moetier_size_format(532ULL << 30, b, sizeof b), "532.00 GiB");
    CHECK_STR(moetier_size_format(3ULL << 40, b, sizeof b), "3.00 TiB");
}

static void test_fmt(void)
{
    char b[64];
    CHECK(moetier_fmt(b, sizeof b, "%d %u %s %x", -42, 7u, "abc", 255u) == 12);
    CHECK_STR(b, "-42 7 abc ff");
    moetier_fmt(b, sizeof b, "%5d|%-4s|%05u|%lld|%zu", 42, "x", 42u, -9000000000LL, (size_t)3);
    CHECK_STR(b, "   42|x   |00042|-9000000000|3");
    const char *volatile none = NULL; /* hidden from gcc's format check: NULL is the point */
    moetier_fmt(b, sizeof b, "%.*s|%%|%c|%s", 2, "abcdef", 'z', none);
    CHECK_STR(b, "ab|%|z|(null)");
    /* truncation keeps the buffer terminated */
    char small[5];
    CHECK(moetier_fmt(small, sizeof small, "%s", "abcdefgh") == 4);
    CHECK_STR(small, "abcd");
}

static void test_json(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct json j;
    json_init(&j, f, 0);
    json_obj_begin(&j);
    json_key(&j, "s"), json_str(&j, "a\"b\\c\n\x01\xff\xc3\xa9");
    json_key(&j, "n"), json_int(&j, -5);
    json_key(&j, "a"), json_arr_begin(&j);
    json_uint(&j, 18446744073709551615ULL);
    json_double(&j, 0.25);
    json_bool(&j, 1);
    json_null(&j);
    json_arr_begin(&j), json_arr_end(&j);
    json_arr_end(&j);
    json_key(&j, "o"), json_obj_begin(&j), json_obj_end(&j);
    json_obj_end(&j);
    json_finish(&j);
    fclose(f);
    CHECK_STR(buf, "{\"s\":\"a\\\"b\\\\c\\n\\u0001\\u00ff\xc3\xa9\",\"n\":-5,"
                   "\"a\":[18446744073709551615,0.25,true,null,[]],\"o\":{}}\n");
    free(buf);
}

int main(void)
{
    test_size_parse();
    test_size_format();
    test_fmt();
    test_json();
    return check_exit("test_common");
}
