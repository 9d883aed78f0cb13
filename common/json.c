/*
 * json: streaming JSON writer (see json.h).
 */
#include "common/json.h"

#include <math.h>
#include <string.h>

void json_init(struct json *j, FILE *f, int pretty)
{
    memset(j, 0, sizeof *j);
    j->f = f;
    j->pretty = pretty;
}

static void newline(struct json *j)
{
    if (!j->pretty)
        return;
    fputc('\n', j->f);
    for (int i = 0; i < j->depth; i++)
        fputs("  ", j->f);
}

/* Separator before a new value (or key) at the current depth. */
static void before_value(struct json *j)
{
    if (j->after_key) {
        j->after_key = 0;
        return;
    }
    if (j->depth > 0) {
        if (j->count[j->depth] > 0)
            fputc(',', j->f);
        newline(j);
    }
    j->count[j->depth]++;
}

static void open(struct json *j, char c)
{
    before_value(j);
    fputc(c, j->f);
    if (j->depth < JSON_MAX_DEPTH - 1)
        j->depth++;
    j->count[j->depth] = 0;
}

static void close_(struct json *j, char c)
{
    int had = j->count[j->depth] > 0;
    if (j->depth > 0)
        j->depth--;
    if (had)
        newline(j);
    fputc(c, j->f);
}

void json_obj_begin(struct json *j) { open(j, '{'); }
void json_obj_end(struct json *j) { close_(j, '}'); }
void json_arr_begin(struct json *j) { open(j, '['); }
void json_arr_end(struct json *j) { close_(j, ']'); }

/* Length of a valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    if (s[0] < 0x80)
        return 1;
    else if ((s[0] & 0xe0) == 0xc0 && s[0] >= 0xc2)
        len = 2;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3;
    else if ((s[0] & 0xf8) == 0xf0 && s[0] <= 0xf4)
        len = 4;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

static void write_string(FILE *f, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            fputc('\\', f);
            fputc(c, f);
            i++;
        } else if (c == '\n') {
            fputs("\\n", f);
            i++;
        } else if (c == '\t') {
            fputs("\\t", f);
            i++;
        } else if (c == '\r') {
            fputs("\\r", f);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            fprintf(f, "\\u%04x", c);
            i++;
        } else {
            size_t len = utf8_len(p + i, n - i);
            if (len == 0) {
                fprintf(f, "\\u%04x", c);
                i++;
            } else {
                fwrite(p + i, 1, len, f);
                i += len;
            }
        }
    }
    fputc('"', f);
}

void json_key(struct json *j, const char *key)
{
    before_value(j);
    write_string(j->f, key, strlen(key));
    fputs(j->pretty ? ": " : ":", j->f);
    j->after_key = 1;
}

void json_strn(struct json *j, const char *s, size_t n)
{
    before_value(j);
    write_string(j->f, s, n);
}

void json_str(struct json *j, const char *s)
{
    if (!s) {
        json_null(j);
        return;
    }
    json_strn(j, s, strlen(s));
}

void json_int(struct json *j, int64_t v)
{
    before_value(j);
    fprintf(j->f, "%lld", (long long)v);
}

void json_uint(struct json *j, uint64_t v)
{
    before_value(j);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void json_double(struct json *j, double v)
{
    before_value(j);
    if (!isfinite(v))
        fputs("null", j->f);
    else
        fprintf(j->f, "%.6g", v);
}

void json_bool(struct json *j, int v)
{
    before_value(j);
    fputs(v ? "true" : "false", j->f);
}

void json_null(struct json *j)
{
    before_value(j);
    fputs("null", j->f);
}

void json_finish(struct json *j)
{
    fputc('\n', j->f);
}
