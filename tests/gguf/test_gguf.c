/*
 * test_gguf: the GGUF reader on hand-built files.
 *
 * Valid v2 and v3 files read back exactly (header, every value type, nested
 * arrays, tensors with absolute offsets), from memory and from a file; then
 * every defect class gives its own error code and a one-line message naming
 * it; then every truncation and every single-bit flip of a valid file is
 * survived (an error with a message, or a file that still satisfies the
 * reader's promises). Exit 0 on success, 1 on any failure.
 */
#include "config.h"

#include "profiler/ggml_types.h"
#include "profiler/gguf.h"
#include "tests/gguf/tgw.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8 };
enum { T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 };

static int failures;
static char tmpdir[256];

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* ---- builders ---------------------------------------------------------------- */

static void t3(struct tgw *w, const char *name, int64_t a, int64_t b, int64_t c, uint32_t type)
{
    int64_t ne[3] = { a, b, c };
    tgw_tensor(w, name, 3, ne, type);
}

/* A small valid llama MoE; finished. Tensors: 0 token_embd, 1 output_norm,
 * 2 blk.0.ffn_gate_exps, 3 blk.0.ffn_up_exps, 4 blk.0.ffn_down_exps. */
static void std_model(struct tgw *w, uint32_t version)
{
    static const char *const tokens[] = { "<unk>", "a", "bc" };
    static const float scores[] = { 0.5f, -1.0f, 2.0f };
    int64_t emb[2] = { 32, 3 }, norm = 32;
    tgw_init(w, version, 32);
    tgw_kv_str(w, "general.architecture", "llama");
    tgw_kv_u32(w, "llama.block_count", 1);
    tgw_kv_u32(w, "llama.expert_count", 4);
    tgw_kv_u32(w, "llama.expert_used_count", 2);
    tgw_kv_arr_str(w, "tokenizer.ggml.tokens", tokens, 3);
    tgw_kv_arr_f32(w, "tokenizer.ggml.scores", scores, 3);
    tgw_tensor(w, "token_embd.weight", 2, emb, F16);
    tgw_tensor(w, "output_norm.weight", 1, &norm, F32);
    t3(w, "blk.0.ffn_gate_exps.weight", 32, 2, 4, Q8_0);
    t3(w, "blk.0.ffn_up_exps.weight", 32, 2, 4, Q4_0);
    t3(w, "blk.0.ffn_down_exps.weight", 2, 32, 4, F16);
    tgw_finish(w);
}

/* A header, the given KVs written by fn, then one f32 tensor. */
static void kv_model(struct tgw *w, void (*fn)(struct tgw *))
{
    int64_t ne = 8;
    tgw_init(w, 3, 32);
    fn(w);
    tgw_tensor(w, "x", 1, &ne, F32);
    tgw_finish(w);
}

/* ---- helpers ------------------------------------------------------------------ */

static int parse(const struct tgw *w, struct moetier_gguf **g, char *err)
{
    return moetier_gguf_parse(w->p, w->n, g, err, MOETIER_GGUF_ERR_MAX);
}

/* Parses p[0..n) expecting failure `code` with `want` in the message. */
static void expect_err_buf(const void *p, size_t n, int code, const char *want, const char *what)
{
    struct moetier_gguf *g = NULL;
    char err[MOETIER_GGUF_ERR_MAX] = "";
    int rc = moetier_gguf_parse(p, n, &g, err, sizeof err);
    CHECK(rc == code, "%s: rc %d, want %d (%s)", what, rc, code, err);
    CHECK(g == NULL, "%s: handle on failure", what);
    CHECK(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", what, err, want);
    CHECK(strchr(err, '\n') == NULL, "%s: message has a newline: '%s'", what, err);
    moetier_gguf_close(g);
}

static void expect_err(struct tgw *w, int code, const char *want, const char *what)
{
    expect_err_buf(w->p, w->n, code, want, what);
    tgw_free(w);
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
}

/* ---- valid files ---------------------------------------------------------------- */

static void check_std(const struct moetier_gguf *g, uint32_t version, const struct tgw *w)
{
    const char *s;
    size_t len;
    uint32_t u32, et;
    uint64_t u64, n;
    int32_t i32;
    float f;
    struct moetier_gguf_value e;

    CHECK(moetier_gguf_version(g) == version, "version %u", moetier_gguf_version(g));
    CHECK(moetier_gguf_alignment(g) == 32, "alignment %u", moetier_gguf_alignment(g));
    CHECK(moetier_gguf_file_size(g) == w->n, "file size");
    CHECK(moetier_gguf_data_offset(g) == w->at_data, "data offset %llu, want %zu",
          (unsigned long long)moetier_gguf_data_offset(g), w->at_data);
    CHECK(moetier_gguf_n_kv(g) == 6, "n_kv %zu", moetier_gguf_n_kv(g));
    CHECK(strcmp(moetier_gguf_kv_key(g, 2), "llama.expert_count") == 0, "key 2");
    CHECK(moetier_gguf_get_str(g, "general.architecture", &s, &len) == 0 && strcmp(s, "llama") == 0 &&
              len == 5, "architecture");
    CHECK(moetier_gguf_get_u32(g, "llama.expert_count", &u32) == 0 && u32 == 4, "expert_count");
    CHECK(moetier_gguf_get_u64(g, "llama.expert_count", &u64) == 0 && u64 == 4, "u32 as u64");
    CHECK(moetier_gguf_get_i32(g, "llama.expert_count", &i32) == 0 && i32 == 4, "u32 as i32");
    CHECK(moetier_gguf_get_u32(g, "general.architecture", &u32) == -EINVAL, "string as u32");
    CHECK(moetier_gguf_get_f32(g, "llama.expert_count", &f) == -EINVAL, "u32 as f32");
    CHECK(moetier_gguf_get_u32(g, "llama.nope", &u32) == -ENOENT, "absent key");
    CHECK(moetier_gguf_kv_find(g, "llama.expert_coun") == NULL, "prefix is not a key");
    CHECK(moetier_gguf_get_arr(g, "tokenizer.ggml.tokens", &et, &n) == 0 && et == T_STR && n == 3,
          "tokens array");
    const struct moetier_gguf_value *tok = moetier_gguf_kv_find(g, "tokenizer.ggml.tokens");
    CHECK(moetier_gguf_value_elem(tok, 2, &e) == 0 && moetier_gguf_value_get_str(&e, &s, &len) == 0 &&
              strcmp(s, "bc") == 0 && len == 2, "tokens[2]");
    CHECK(moetier_gguf_value_elem(tok, 3, &e) == -ERANGE, "tokens[3]");
    const struct moetier_gguf_value *sc = moetier_gguf_kv_find(g, "tokenizer.ggml.scores");
    CHECK(moetier_gguf_value_elem(sc, 1, &e) == 0 && moetier_gguf_value_get_f32(&e, &f) == 0 &&
              f == -1.0f, "scores[1]");
    CHECK(moetier_gguf_value_elem(moetier_gguf_kv_find(g, "llama.expert_count"), 0, &e) == -EINVAL,
          "elem of a scalar");

    CHECK(moetier_gguf_n_tensors(g) == 5, "n_tensors");
    for (size_t i = 0; i < 5 && i < moetier_gguf_n_tensors(g); i++) {
        const struct moetier_gguf_tensor *t = moetier_gguf_tensor(g, i);
        CHECK(strcmp(t->name, w->t[i].name) == 0, "tensor %zu name", i);
        CHECK(t->offset == w->at_data + w->t[i].offset, "tensor %zu offset", i);
        CHECK(t->size == w->t[i].size, "tensor %zu size", i);
        CHECK(t->type == w->t[i].type && t->n_dims == w->t[i].n_dims, "tensor %zu type/dims", i);
        CHECK(t->file == 0, "tensor %zu file", i);
        CHECK(moetier_gguf_find_tensor(g, t->name) == t, "find %s", t->name);
    }
    const struct moetier_gguf_tensor *up = moetier_gguf_find_tensor(g, "blk.0.ffn_up_exps.weight");
    CHECK(up && up->ne[0] == 32 && up->ne[1] == 2 && up->ne[2] == 4 && up->ne[3] == 1 &&
              up->size == 18 * 2 * 4, "up_exps shape and size");
    CHECK(moetier_gguf_find_tensor(g, "blk.0.ffn_up_exps") == NULL, "find of a non-tensor");
}

static void test_valid(void)
{
    for (uint32_t version = 2; version <= 3; version++) {
        struct tgw w;
        struct moetier_gguf *g = NULL;
        char err[MOETIER_GGUF_ERR_MAX], path[512];
        std_model(&w, version);
        int rc = parse(&w, &g, err);
        CHECK(rc == 0, "v%u parse: %s", version, err);
        if (rc == 0)
            check_std(g, version, &w);
        moetier_gguf_close(g);

        g = NULL;
        snprintf(path, sizeof path, "%s/std-v%u.gguf", tmpdir, version);
        write_file(path, w.p, w.n);
        rc = moetier_gguf_open(path, &g, err, sizeof err);
        CHECK(rc == 0, "v%u open: %s", version, err);
        if (rc == 0)
            check_std(g, version, &w);
        moetier_gguf_close(g);
        tgw_free(&w);
    }
}

/* Alignment 64, every scalar type, nested arrays. */
static void types_kvs(struct tgw *w)
{
    tgw_kv_u32(w, "general.alignment", 64);
    tgw_key(w, "u8", T_U8);
    tgw_u8(w, 200);
    tgw_key(w, "i8", T_I8);
    tgw_u8(w, 0x80);
    tgw_key(w, "u16", T_U16);
    tgw_u16(w, 65535);
    tgw_key(w, "i16", T_I16);
    tgw_u16(w, 0xfffe);
    tgw_kv_i32(w, "i32", -100000);
    tgw_kv_u64(w, "u64", 1ull << 40);
    tgw_key(w, "i64", T_I64);
    tgw_u64(w, (uint64_t)-5);
    tgw_key(w, "f64", T_F64);
    tgw_u64(w, 0x3ff8000000000000ull);
    tgw_kv_bool(w, "yes", 1);
    tgw_kv_str(w, "empty", "");
    tgw_key(w, "nested", T_ARR); /* [[1, 2], [], ["x"]] */
    tgw_u32(w, T_ARR);
    tgw_u64(w, 3);
    tgw_u32(w, T_U32);
    tgw_u64(w, 2);
    tgw_u32(w, 1);
    tgw_u32(w, 2);
    tgw_u32(w, T_I8);
    tgw_u64(w, 0);
    tgw_u32(w, T_STR);
    tgw_u64(w, 1);
    tgw_str(w, "x");
    tgw_key(w, "bools", T_ARR);
    tgw_u32(w, T_BOOL);
    tgw_u64(w, 2);
    tgw_u8(w, 0);
    tgw_u8(w, 1);
}

static void test_types(void)
{
    struct tgw w;
    struct moetier_gguf *g = NULL;
    char err[MOETIER_GGUF_ERR_MAX];
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    int64_t i64;
    double d;
    int b;
    const char *s;
    size_t len;
    struct moetier_gguf_value e, e2;

    int64_t ne = 8;
    tgw_init(&w, 3, 64);
    types_kvs(&w);
    tgw_tensor(&w, "x", 1, &ne, 0);
    tgw_finish(&w);
    int rc = parse(&w, &g, err);
    CHECK(rc == 0, "types: %s", err);
    if (rc) {
        tgw_free(&w);
        return;
    }
    CHECK(moetier_gguf_alignment(g) == 64, "alignment 64");
    CHECK(moetier_gguf_data_offset(g) % 64 == 0 && moetier_gguf_data_offset(g) == w.at_data,
          "data offset aligned to 64");
    CHECK(moetier_gguf_get_u32(g, "u8", &u32) == 0 && u32 == 200, "u8");
    CHECK(moetier_gguf_get_i32(g, "i8", &i32) == 0 && i32 == -128, "i8");
    CHECK(moetier_gguf_get_u32(g, "i8", &u32) == -ERANGE, "negative as u32");
    CHECK(moetier_gguf_get_u32(g, "u16", &u32) == 0 && u32 == 65535, "u16");
    CHECK(moetier_gguf_get_i32(g, "i16", &i32) == 0 && i32 == -2, "i16");
    CHECK(moetier_gguf_get_i32(g, "i32", &i32) == 0 && i32 == -100000, "i32");
    CHECK(moetier_gguf_get_u64(g, "u64", &u64) == 0 && u64 == 1ull << 40, "u64");
    CHECK(moetier_gguf_get_u32(g, "u64", &u32) == -ERANGE, "u64 as u32");
    CHECK(moetier_gguf_value_get_i64(moetier_gguf_kv_find(g, "i64"), &i64) == 0 && i64 == -5, "i64");
    CHECK(moetier_gguf_value_get_f64(moetier_gguf_kv_find(g, "f64"), &d) == 0 && d == 1.5, "f64");
    CHECK(moetier_gguf_get_bool(g, "yes", &b) == 0 && b == 1, "bool");
    CHECK(moetier_gguf_get_u32(g, "yes", &u32) == -EINVAL, "bool as u32");
    CHECK(moetier_gguf_get_str(g, "empty", &s, &len) == 0 && len == 0 && s[0] == '\0', "empty string");
    const struct moetier_gguf_value *nv = moetier_gguf_kv_find(g, "nested");
    CHECK(nv && nv->type == T_ARR && nv->elem_type == T_ARR && nv->n == 3, "nested");
    CHECK(moetier_gguf_value_elem(nv, 0, &e) == 0 && e.type == T_ARR && e.elem_type == T_U32 &&
              e.n == 2 && moetier_gguf_value_elem(&e, 1, &e2) == 0 &&
              moetier_gguf_value_get_u32(&e2, &u32) == 0 && u32 == 2,
          "nested[0][1]");
    CHECK(moetier_gguf_value_elem(nv, 1, &e) == 0 && e.n == 0 &&
              moetier_gguf_value_elem(&e, 0, &e2) == -ERANGE, "nested[1] empty");
    CHECK(moetier_gguf_value_elem(nv, 2, &e) == 0 && moetier_gguf_value_elem(&e, 0, &e2) == 0 &&
              moetier_gguf_value_get_str(&e2, &s, NULL) == 0 && strcmp(s, "x") == 0, "nested[2][0]");
    const struct moetier_gguf_value *bv = moetier_gguf_kv_find(g, "bools");
    CHECK(moetier_gguf_value_elem(bv, 1, &e) == 0 && moetier_gguf_value_get_bool(&e, &b) == 0 && b == 1,
          "bools[1]");
    moetier_gguf_close(g);
    tgw_free(&w);
}

/* A file without tensors has no padding before its (empty) data section. */
static void no_kvs(struct tgw *w) { tgw_kv_str(w, "general.architecture", "none"); }

static void test_no_tensors(void)
{
    struct tgw w;
    struct moetier_gguf *g = NULL;
    char err[MOETIER_GGUF_ERR_MAX];
    tgw_init(&w, 3, 32);
    no_kvs(&w);
    tgw_finish(&w);
    int rc = parse(&w, &g, err);
    CHECK(rc == 0, "no tensors: %s", err);
    if (rc == 0) {
        CHECK(moetier_gguf_n_tensors(g) == 0, "n_tensors 0");
        CHECK(moetier_gguf_data_offset(g) == w.n, "no padding");
    }
    moetier_gguf_close(g);
    tgw_free(&w);
}

/* ---- defects: header ---------------------------------------------------------------- */

static void test_header_defects(void)
{
    struct tgw w;
    expect_err_buf("", 0, -EBADMSG, "too short for a GGUF header", "empty file");
    expect_err_buf("GGUF\3\0\0", 7, -EBADMSG, "too short", "7 bytes");
    expect_err_buf("GGML\3\0\0\0", 8, -EBADMSG, "not a GGUF file (magic 'GGML'", "short, bad magic");

    std_model(&w, 3);
    memcpy(w.p, "\x7f" "ELF", 4);
    expect_err(&w, -EBADMSG, "not a GGUF file (magic '\\x7fELF', expected 'GGUF')", "bad magic");

    std_model(&w, 3);
    tgw_put_u32(&w, 4, 1);
    expect_err(&w, -EBADMSG, "GGUF version 1 is no longer supported", "v1");
    std_model(&w, 3);
    tgw_put_u32(&w, 4, 4);
    expect_err(&w, -EBADMSG, "GGUF version 4 is newer", "v4");
    std_model(&w, 3);
    tgw_put_u32(&w, 4, 0x03000000);
    expect_err(&w, -EBADMSG, "big-endian", "byte-swapped version");
    std_model(&w, 3);
    tgw_put_u32(&w, 4, 0);
    expect_err(&w, -EBADMSG, "version 0x0 is invalid", "v0");

    std_model(&w, 3);
    tgw_put_u64(&w, w.at_n_tensors, (uint64_t)INT64_MAX);
    char want[128];
    snprintf(want, sizeof want, "n_tensors 9223372036854775807 is absurd for a %zu-byte file", w.n);
    expect_err(&w, -EBADMSG, want, "n_tensors INT64_MAX");
    std_model(&w, 3);
    tgw_put_u64(&w, w.at_n_tensors, (uint64_t)-1);
    expect_err(&w, -EBADMSG, "n_tensors -1 is negative", "n_tensors -1");
    std_model(&w, 3);
    tgw_put_u64(&w, w.at_n_kv, 1ull << 40);
    expect_err(&w, -EBADMSG, "n_kv 1099511627776 is absurd", "n_kv 2^40");
    std_model(&w, 3);
    tgw_put_u64(&w, w.at_n_kv, (uint64_t)INT64_MIN);
    expect_err(&w, -EBADMSG, "n_kv -9223372036854775808 is negative", "n_kv INT64_MIN");
    /* more tensors than the bytes left after the KVs can hold */
    std_model(&w, 3);
    tgw_put_u64(&w, w.at_n_tensors, (w.n - 24 - 6 * 14) / 24);
    expect_err(&w, -EBADMSG, "tensor infos cannot fit", "n_tensors vs bytes after the KVs");
}

/* ---- defects: key/values ------------------------------------------------------------- */

static void kv_empty_key(struct tgw *w) { tgw_kv_u32(w, "", 1); }
static void kv_dup(struct tgw *w)
{
    tgw_kv_u32(w, "a.b", 1);
    tgw_kv_u32(w, "c", 1);
    tgw_kv_str(w, "a.b", "again");
}
static void kv_bad_type(struct tgw *w) { tgw_key(w, "weird", 13); tgw_u32(w, 0); }
static void kv_bad_elem(struct tgw *w)
{
    tgw_key(w, "arr", T_ARR);
    tgw_u32(w, 99);
    tgw_u64(w, 1);
}
static void kv_deep(struct tgw *w)
{
    tgw_key(w, "deep", T_ARR);
    tgw_u32(w, T_ARR);
    tgw_u64(w, 1);
    tgw_u32(w, T_ARR);
    tgw_u64(w, 1);
    tgw_u32(w, T_U8);
    tgw_u64(w, 1);
    tgw_u8(w, 1);
}
static void kv_huge_array(struct tgw *w)
{
    tgw_key(w, "big", T_ARR);
    tgw_u32(w, T_U32);
    tgw_u64(w, 1ull << 61);
}
static void kv_huge_string_array(struct tgw *w)
{
    tgw_key(w, "strs", T_ARR);
    tgw_u32(w, T_STR);
    tgw_u64(w, 100000);
    tgw_str(w, "only one");
}
static void kv_long_string(struct tgw *w)
{
    tgw_key(w, "general.name", T_STR);
    tgw_u64(w, 1ull << 62);
    tgw_bytes(w, "abc", 3);
}
static void kv_nul_key(struct tgw *w)
{
    tgw_u64(w, 3);
    tgw_bytes(w, "a\0b", 3);
    tgw_u32(w, T_U8);
    tgw_u8(w, 1);
    w->n_kv++;
}
static void kv_align_u64(struct tgw *w) { tgw_kv_u64(w, "general.alignment", 32); }
static void kv_align_48(struct tgw *w) { tgw_kv_u32(w, "general.alignment", 48); }
static void kv_align_0(struct tgw *w) { tgw_kv_u32(w, "general.alignment", 0); }
static void kv_ctrl_key(struct tgw *w) { tgw_kv_u32(w, "a\033[31mred", 1); tgw_kv_u32(w, "a\033[31mred", 2); }

static void test_kv_defects(void)
{
    struct tgw w;
    kv_model(&w, kv_empty_key);
    expect_err(&w, -EBADMSG, "key 0 (at offset 24) is empty", "empty key");
    kv_model(&w, kv_dup);
    expect_err(&w, -EBADMSG, "duplicate key 'a.b' (keys 0 and 2)", "duplicate key");
    kv_model(&w, kv_bad_type);
    expect_err(&w, -EBADMSG, "key 'weird': unknown value type 13", "unknown value type");
    kv_model(&w, kv_bad_elem);
    expect_err(&w, -EBADMSG, "key 'arr': unknown array element type 99", "unknown element type");
    kv_model(&w, kv_deep);
    expect_err(&w, -EBADMSG, "key 'deep': arrays nested deeper than 2 levels", "nesting");
    kv_model(&w, kv_huge_array);
    expect_err(&w, -EBADMSG, "key 'big': array of 2305843009213693952 u32 at offset", "absurd array");
    kv_model(&w, kv_huge_string_array);
    expect_err(&w, -EBADMSG, "key 'strs': array of 100000 str", "absurd string array");
    kv_model(&w, kv_long_string);
    expect_err(&w, -EBADMSG, "truncated: key 'general.name' string value at offset", "long string");
    kv_model(&w, kv_nul_key);
    expect_err(&w, -EBADMSG, "key 0 (at offset 24) contains a NUL byte", "NUL in key");
    kv_model(&w, kv_align_u64);
    expect_err(&w, -EBADMSG, "general.alignment has type u64; it must be u32", "alignment type");
    kv_model(&w, kv_align_48);
    expect_err(&w, -EBADMSG, "general.alignment 48 is not a non-zero power of two", "alignment 48");
    kv_model(&w, kv_align_0);
    expect_err(&w, -EBADMSG, "general.alignment 0 is not", "alignment 0");
    /* names from the file are escaped in messages */
    kv_model(&w, kv_ctrl_key);
    expect_err(&w, -EBADMSG, "duplicate key 'a\\x1b[31mred'", "escaped key");

    /* the first key's length runs past the end */
    std_model(&w, 3);
    tgw_put_u64(&w, 24, 1ull << 62);
    expect_err(&w, -EBADMSG, "truncated: key 0 string at offset 24 runs past the end of the file", "key length");
}

/* ---- defects: tensors ------------------------------------------------------------------- */

static void tensor_model(struct tgw *w, const char *name, uint32_t n_dims, const int64_t *ne,
                         uint32_t type)
{
    int64_t ok = 32;
    tgw_init(w, 3, 32);
    tgw_kv_str(w, "general.architecture", "llama");
    tgw_tensor(w, "first", 1, &ok, F32);
    tgw_tensor(w, name, n_dims, ne, type);
    tgw_finish(w);
}

static void test_tensor_defects(void)
{
    struct tgw w;
    int64_t ne[5] = { 32, 2, 4, 1, 1 };

    tensor_model(&w, "five", 5, ne, F32);
    expect_err(&w, -EBADMSG, "tensor 'five': n_dims 5 is more than 4", "n_dims 5");
    int64_t neg[2] = { 32, -3 };
    tensor_model(&w, "neg", 2, neg, F32);
    expect_err(&w, -EBADMSG, "tensor 'neg': ne[1]=-3 is negative", "negative ne");
    tensor_model(&w, "x", 1, ne, 77);
    expect_err(&w, -EBADMSG, "tensor 'x': unknown ggml type 77", "unknown type");
    tensor_model(&w, "old", 1, ne, 4);
    expect_err(&w, -EBADMSG, "tensor 'old': ggml type 4 (q4_2) was removed", "removed type");
    tensor_model(&w, "old", 1, ne, 36);
    expect_err(&w, -EBADMSG, "ggml type 36 (iq4_nl_4_4) was removed", "removed repack type");
    int64_t odd = 33;
    tensor_model(&w, "x", 1, &odd, Q4_0);
    expect_err(&w, -EBADMSG, "tensor 'x': ne[0]=33 is not a multiple of the q4_0 block size 32", "block size");
    int64_t many[2] = { 1ll << 40, 1ll << 40 };
    tensor_model(&w, "many", 2, many, F32);
    expect_err(&w, -EBADMSG, "tensor 'many': shape [1099511627776, 1099511627776, 1, 1] has too many elements",
               "element count");
    int64_t big[2] = { 1ll << 31, 1ll << 31 };
    tensor_model(&w, "big", 2, big, F32);
    expect_err(&w, -EBADMSG, "tensor 'big': the size of shape", "byte size overflow");

    /* offsets: unaligned, past the end, overflowing, overlapping */
    std_model(&w, 3);
    tgw_put_u64(&w, w.t[3].at_offset, w.t[3].offset + 1);
    expect_err(&w, -EBADMSG, "tensor 'blk.0.ffn_up_exps.weight': offset", "unaligned offset");
    std_model(&w, 3);
    tgw_put_u64(&w, w.t[3].at_offset, 1ull << 20);
    {
        char want[200];
        snprintf(want, sizeof want,
                 "tensor 'blk.0.ffn_up_exps.weight' data [offset %llu, 144 bytes] runs past the end of the file (%zu bytes)",
                 (unsigned long long)(w.at_data + (1ull << 20)), w.n);
        expect_err(&w, -EBADMSG, want, "past the end");
    }
    std_model(&w, 3);
    tgw_put_u64(&w, w.t[4].at_offset, UINT64_MAX - 31);
    expect_err(&w, -EBADMSG, "overflows 64 bits", "offset overflow");
    std_model(&w, 3);
    tgw_put_u64(&w, w.t[3].at_offset, w.t[2].offset + 32);
    expect_err(&w, -EBADMSG, "tensors 'blk.0.ffn_gate_exps.weight' [offset", "overlap");
    /* a zero-size tensor anywhere overlaps nothing */
    {
        int64_t zero[2] = { 0, 4 };
        struct moetier_gguf *g = NULL;
        char err[MOETIER_GGUF_ERR_MAX];
        tensor_model(&w, "empty", 2, zero, F32);
        CHECK(parse(&w, &g, err) == 0, "empty tensor: %s", err);
        moetier_gguf_close(g);
        tgw_free(&w);
    }

    /* names */
    tgw_init(&w, 3, 32);
    tgw_tensor(&w, "same", 1, ne, F32);
    tgw_tensor(&w, "other", 1, ne, F32);
    tgw_tensor(&w, "same", 1, ne, F32);
    tgw_finish(&w);
    expect_err(&w, -EBADMSG, "duplicate tensor name 'same' (tensors 0 and 2)", "duplicate tensor");
    tgw_init(&w, 3, 32);
    tgw_tensor(&w, "abc", 1, ne, F32);
    tgw_finish(&w);
    w.p[w.t[0].at_name + 9] = '\0';
    expect_err(&w, -EBADMSG, "tensor 0 (at offset 24): name contains a NUL byte", "NUL in name");
    /* the name length runs past the end */
    std_model(&w, 3);
    tgw_put_u64(&w, w.t[0].at_name, 1ull << 40);
    expect_err(&w, -EBADMSG, "truncated: tensor 0 name at offset", "name length");
}

/* ---- limits ----------------------------------------------------------------------------- */

/* A sparse file claiming what the limits refuse: read from disk, never allocated. */
static void test_limits(void)
{
    char path[512], err[MOETIER_GGUF_ERR_MAX];
    struct moetier_gguf *g = NULL;
    struct tgw w;
    int rc;

    /* a 300 MiB u8 array: within the file, beyond the metadata memory limit */
    tgw_init(&w, 3, 32);
    tgw_key(&w, "blob", T_ARR);
    tgw_u32(&w, T_U8);
    tgw_u64(&w, 300ull << 20);
    tgw_put_u64(&w, w.at_n_kv, 1);
    snprintf(path, sizeof path, "%s/blob.gguf", tmpdir);
    write_file(path, w.p, w.n);
    CHECK(truncate(path, (off_t)(w.n + (300ull << 20) + 64)) == 0, "truncate");
    tgw_free(&w);
    rc = moetier_gguf_open(path, &g, err, sizeof err);
    CHECK(rc == -E2BIG && strstr(err, "more than 256 MiB"), "memory limit: %d %s", rc, err);
    moetier_gguf_close(g);
    g = NULL;
    unlink(path);

    /* more tensors than the limit, in a file big enough to hold their infos */
    tgw_init(&w, 3, 32);
    tgw_put_u64(&w, w.at_n_tensors, MOETIER_GGUF_MAX_TENSORS + 1ull);
    snprintf(path, sizeof path, "%s/many.gguf", tmpdir);
    write_file(path, w.p, w.n);
    CHECK(truncate(path, (off_t)40 << 20) == 0, "truncate");
    tgw_free(&w);
    rc = moetier_gguf_open(path, &g, err, sizeof err);
    CHECK(rc == -E2BIG && strstr(err, "n_tensors 1048577 is more than this reader's limit"),
          "tensor limit: %d %s", rc, err);
    moetier_gguf_close(g);
    unlink(path);
}

/* ---- opening files ---------------------------------------------------------------------- */

static void test_open_errors(void)
{
    char err[MOETIER_GGUF_ERR_MAX], path[512];
    struct moetier_gguf *g = NULL;
    snprintf(path, sizeof path, "%s/missing.gguf", tmpdir);
    CHECK(moetier_gguf_open(path, &g, err, sizeof err) == -ENOENT && g == NULL, "missing: %s", err);
    CHECK(moetier_gguf_open(tmpdir, &g, err, sizeof err) == -EISDIR, "directory: %s", err);
    CHECK(moetier_gguf_open("/dev/null", &g, err, sizeof err) == -EINVAL &&
              strcmp(err, "not a regular file") == 0, "device: %s", err);
    /* a NULL err buffer is allowed */
    CHECK(moetier_gguf_open(path, &g, NULL, 0) == -ENOENT, "NULL err");
    CHECK(moetier_gguf_parse("GGUF", 4, &g, NULL, 0) == -EBADMSG, "NULL err (parse)");
}

/* ---- survival: every truncation, every bit flip ------------------------------------------- */

static void survive(const unsigned char *p, size_t n, const char *what, size_t at)
{
    struct moetier_gguf *g = NULL;
    char err[MOETIER_GGUF_ERR_MAX] = "";
    int rc = moetier_gguf_parse(p, n, &g, err, sizeof err);
    if (rc) {
        CHECK(rc == -EBADMSG || rc == -E2BIG, "%s %zu: rc %d (%s)", what, at, rc, err);
        CHECK(err[0] && !strchr(err, '\n'), "%s %zu: message '%s'", what, at, err);
        CHECK(g == NULL, "%s %zu: handle", what, at);
        return;
    }
    for (size_t i = 0; i < moetier_gguf_n_tensors(g); i++) {
        const struct moetier_gguf_tensor *t = moetier_gguf_tensor(g, i);
        CHECK(t->size == 0 || t->offset + t->size <= n, "%s %zu: tensor %zu outside", what, at, i);
    }
    moetier_gguf_close(g);
}

static void test_survival(void)
{
    struct tgw w;
    std_model(&w, 3);
    unsigned char *q = malloc(w.n);
    for (size_t len = 0; len < w.n; len++) {
        memcpy(q, w.p, len);
        struct moetier_gguf *g = NULL;
        char err[MOETIER_GGUF_ERR_MAX] = "";
        int rc = moetier_gguf_parse(q, len, &g, err, sizeof err);
        CHECK(rc == -EBADMSG && (strstr(err, "truncated") || strstr(err, "past the end of the file")),
              "truncated to %zu: rc %d '%s'", len, rc, err);
        moetier_gguf_close(g);
    }
    for (size_t at = 0; at < w.at_data; at++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(q, w.p, w.n);
            q[at] ^= (unsigned char)(1u << bit);
            survive(q, w.n, "bit flip at", at);
        }
    }
    free(q);
    tgw_free(&w);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/moetier-test-gguf.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_valid();
    test_types();
    test_no_tensors();
    test_header_defects();
    test_kv_defects();
    test_tensor_defects();
    test_limits();
    test_open_errors();
    test_survival();

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    if (failures) {
        fprintf(stderr, "test_gguf: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_gguf: all checks passed\n");
    return 0;
}
