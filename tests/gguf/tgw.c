/*
 * tgw: the tests' tiny GGUF writer (see tgw.h).
 */
#include "tests/gguf/tgw.h"

#include "profiler/ggml_types.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 };

static void grow(struct tgw *w, size_t more)
{
    if (w->n + more <= w->cap)
        return;
    size_t cap = w->cap ? w->cap : 4096;
    while (cap < w->n + more)
        cap *= 2;
    w->p = realloc(w->p, cap);
    if (!w->p) {
        fprintf(stderr, "tgw: out of memory\n");
        abort();
    }
    w->cap = cap;
}

void tgw_bytes(struct tgw *w, const void *b, size_t n)
{
    grow(w, n);
    memcpy(w->p + w->n, b, n);
    w->n += n;
}

static void le(struct tgw *w, uint64_t v, int n)
{
    unsigned char b[8];
    for (int i = 0; i < n; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    tgw_bytes(w, b, (size_t)n);
}

void tgw_u8(struct tgw *w, uint8_t v) { le(w, v, 1); }
void tgw_u16(struct tgw *w, uint16_t v) { le(w, v, 2); }
void tgw_u32(struct tgw *w, uint32_t v) { le(w, v, 4); }
void tgw_u64(struct tgw *w, uint64_t v) { le(w, v, 8); }

void tgw_str(struct tgw *w, const char *s)
{
    tgw_u64(w, strlen(s));
    tgw_bytes(w, s, strlen(s));
}

void tgw_put_u32(struct tgw *w, size_t at, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        w->p[at + (size_t)i] = (unsigned char)(v >> (8 * i));
}

void tgw_put_u64(struct tgw *w, size_t at, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        w->p[at + (size_t)i] = (unsigned char)(v >> (8 * i));
}

void tgw_init(struct tgw *w, uint32_t version, uint32_t alignment)
{
    memset(w, 0, sizeof *w);
    w->version = version;
    w->alignment = alignment;
    tgw_bytes(w, "GGUF", 4);
    tgw_u32(w, version);
    w->at_n_tensors = w->n;
    tgw_u64(w, 0);
    w->at_n_kv = w->n;
    tgw_u64(w, 0);
}

void tgw_free(struct tgw *w)
{
    free(w->p);
    memset(w, 0, sizeof *w);
}

void tgw_key(struct tgw *w, const char *key, uint32_t type)
{
    tgw_str(w, key);
    tgw_u32(w, type);
    w->n_kv++;
}

void tgw_kv_u32(struct tgw *w, const char *key, uint32_t v) { tgw_key(w, key, T_U32); tgw_u32(w, v); }
void tgw_kv_u16(struct tgw *w, const char *key, uint16_t v) { tgw_key(w, key, T_U16); tgw_u16(w, v); }
void tgw_kv_i32(struct tgw *w, const char *key, int32_t v) { tgw_key(w, key, T_I32); tgw_u32(w, (uint32_t)v); }
void tgw_kv_u64(struct tgw *w, const char *key, uint64_t v) { tgw_key(w, key, T_U64); tgw_u64(w, v); }
void tgw_kv_bool(struct tgw *w, const char *key, int v) { tgw_key(w, key, T_BOOL); tgw_u8(w, v != 0); }
void tgw_kv_str(struct tgw *w, const char *key, const char *v) { tgw_key(w, key, T_STR); tgw_str(w, v); }

void tgw_kv_f32(struct tgw *w, const char *key, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    tgw_key(w, key, T_F32);
    tgw_u32(w, u);
}

void tgw_kv_arr_str(struct tgw *w, const char *key, const char *const *v, size_t n)
{
    tgw_key(w, key, T_ARR);
    tgw_u32(w, T_STR);
    tgw_u64(w, n);
    for (size_t i = 0; i < n; i++)
        tgw_str(w, v[i]);
}

void tgw_kv_arr_f32(struct tgw *w, const char *key, const float *v, size_t n)
{
    tgw_key(w, key, T_ARR);
    tgw_u32(w, T_F32);
    tgw_u64(w, n);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        tgw_u32(w, u);
    }
}

void tgw_tensor(struct tgw *w, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type)
{
    if (w->n_tensors >= TGW_MAX_TENSORS) {
        fprintf(stderr, "tgw: too many tensors\n");
        abort();
    }
    struct tgw_tensor *t = &w->t[w->n_tensors++];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->n_dims = n_dims;
    for (int d = 0; d < 4; d++)
        t->ne[d] = d < (int)n_dims ? ne[d] : 1;
    t->type = type;
    if (moetier_ggml_nbytes(type, 4, t->ne, &t->size) != 0)
        t->size = 0; /* deliberately bad shapes: no data */
    t->offset = w->data_size;
    w->data_size += (t->size + w->alignment - 1) / w->alignment * w->alignment;

    t->at_name = w->n;
    tgw_str(w, name);
    t->at_n_dims = w->n;
    tgw_u32(w, n_dims);
    t->at_ne = w->n;
    for (uint32_t d = 0; d < n_dims; d++)
        tgw_u64(w, (uint64_t)ne[d]);
    t->at_type = w->n;
    tgw_u32(w, type);
    t->at_offset = w->n;
    tgw_u64(w, t->offset);
}

void tgw_finish(struct tgw *w)
{
    tgw_put_u64(w, w->at_n_tensors, w->n_tensors);
    tgw_put_u64(w, w->at_n_kv, w->n_kv);
    if (w->n_tensors) {
        while (w->n % w->alignment)
            tgw_u8(w, 0);
    }
    w->at_data = w->n;
    grow(w, w->data_size);
    for (uint64_t i = 0; i < w->data_size; i++)
        w->p[w->n + i] = (unsigned char)(i * 7 + 3);
    w->n += w->data_size;
}

int tgw_save(const struct tgw *w, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -errno;
    size_t k = fwrite(w->p, 1, w->n, f);
    int rc = (k == w->n) ? 0 : -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -errno;
    return rc;
}
