/*
 * json: a streaming JSON writer for the tools' --json output.
 *
 * Keeps commas and nesting right so callers only say what comes next:
 *   json_obj_begin(j); json_key(j, "schema"); json_int(j, 1); json_obj_end(j);
 * Strings are escaped per RFC 8259 (control characters as \u00XX); bytes that
 * are not valid UTF-8 are written as \u00XX of the byte so output stays valid.
 * Output is compact unless pretty is set (two-space indent).
 */
#ifndef MOETIER_COMMON_JSON_H
#define MOETIER_COMMON_JSON_H

#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 32

struct json {
    FILE *f;
    int pretty;
    int depth;
    int count[JSON_MAX_DEPTH]; /* values written at each depth */
    int after_key;
};

void json_init(struct json *j, FILE *f, int pretty);
void json_obj_begin(struct json *j);
void json_obj_end(struct json *j);
void json_arr_begin(struct json *j);
void json_arr_end(struct json *j);
void json_key(struct json *j, const char *key);
void json_str(struct json *j, const char *s);
void json_strn(struct json *j, const char *s, size_t n);
void json_int(struct json *j, int64_t v);
void json_uint(struct json *j, uint64_t v);
void json_double(struct json *j, double v);
void json_bool(struct json *j, int v);
void json_null(struct json *j);
/* Ends the document with a newline. */
void json_finish(struct json *j);

#endif
