/*
 * gguf_writer: streaming GGUF v3 writer (see gguf_writer.h).
 */
#include "tools/gguf_writer.h"
#include "profiler/ggml_types.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void gguf_writer_init(struct gguf_writer *w, uint32_t alignment)
{
    memset(w, 0, sizeof *w);
    w->alignment = alignment ? alignment : 32;
}

void gguf_writer_free(struct gguf_writer *w)
{
    free(w->kv);
    free(w->tensors);
    memset(w, 0, sizeof *w);
}

static void put(struct gguf_writer *w, const void *p, size_t n)
{
    if (w->error)
        return;
    if (w->kv_len + n > w->kv_cap) {
        size_t nc = w->kv_cap ? w->kv_cap : 4096;
        while (nc < w->kv_len + n)
            nc *= 2;
        unsigned char *nb = realloc(w->kv, nc);
        if (!nb) {
            w->error = -ENOMEM;
            return;
        }
        w->kv = nb;
        w->kv_cap = nc;
    }
    memcpy(w->kv + w->kv_len, p, n);
    w->kv_len += n;
}

/* GGUF is little endian; so is every machine moetier targets (x86-64, arm64 LE). */
static void put_u32(struct gguf_writer *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(struct gguf_writer *w, uint64_t v) { put(w, &v, 8); }

static void put_str(struct gguf_writer *w, const char *s)
{
    size_t n = strlen(s);
    put_u64(w, n);
    put(w, s, n);
}

static void key(struct gguf_writer *w, const char *k, uint32_t type)
{
    put_str(w, k);
    put_u32(w, type);
    w->n_kv++;
}

void gguf_kv_u32(struct gguf_writer *w, const char *k, uint32_t v)
{
    key(w, k, GGUF_T_UINT32);
    put_u32(w, v);
}

void gguf_kv_i32(struct gguf_writer *w, const char *k, int32_t v)
{
    key(w, k, GGUF_T_INT32);
    put(w, &v, 4);
}

void gguf_kv_f32(struct gguf_writer *w, const char *k, float v)
{
    key(w, k, GGUF_T_FLOAT32);
    put(w, &v, 4);
}

void gguf_kv_bool(struct gguf_writer *w, const char *k, int v)
{
    key(w, k, GGUF_T_BOOL);
    unsigned char b = v ? 1 : 0;
    put(w, &b, 1);
}

void gguf_kv_str(struct gguf_writer *w, const char *k, const char *v)
{
    key(w, k, GGUF_T_STRING);
    put_str(w, v);
}

void gguf_kv_arr_str(struct gguf_writer *w, const char *k, const char *const *v, size_t n)
{
    key(w, k, GGUF_T_ARRAY);
    put_u32(w, GGUF_T_STRING);
    put_u64(w, n);
    for (size_t i = 0; i < n; i++)
        put_str(w, v[i]);
}

void gguf_kv_arr_f32(struct gguf_writer *w, const char *k, const float *v, size_t n)
{
    key(w, k, GGUF_T_ARRAY);
    put_u32(w, GGUF_T_FLOAT32);
    put_u64(w, n);
    put(w, v, n * 4);
}

void gguf_kv_arr_i32(struct gguf_writer *w, const char *k, const int32_t *v, size_t n)
{
    key(w, k, GGUF_T_ARRAY);
    put_u32(w, GGUF_T_INT32);
    put_u64(w, n);
    put(w, v, n * 4);
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) / a * a;
}

int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const int64_t *ne)
{
    if (strlen(name) >= sizeof w->tensors[0].name)
        return -ENAMETOOLONG;
    uint64_t nbytes;
    int rc = moetier_ggml_nbytes(type, n_dims, ne, &nbytes);
    if (rc)
        return rc;
    if (w->n_tensors == w->cap_tensors) {
        size_t nc = w->cap_tensors ? w->cap_tensors * 2 : 64;
        struct gguf_writer_tensor *nt = realloc(w->tensors, nc * sizeof *nt);
        if (!nt)
            return -ENOMEM;
        w->tensors = nt;
        w->cap_tensors = nc;
    }
    struct gguf_writer_tensor *t = &w->tensors[w->n_tensors++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->n_dims = n_dims;
    memcpy(t->ne, ne, n_dims * sizeof *ne);
    t->type = type;
    t->nbytes = nbytes;
    t->offset = w->data_bytes;
    w->data_bytes = align_up(w->data_bytes + nbytes, w->alignment);
    return 0;
}

static int fwrite_all(FILE *f, const void *p, size_t n)
{
    return fwrite(p, 1, n, f) == n ? 0 : -(errno ? errno : EIO);
}

int gguf_writer_begin(struct gguf_writer *w, FILE *f)
{
    if (w->error)
        return w->error;
    w->f = f;
    unsigned char hdr[24];
    memcpy(hdr, "GGUF", 4);
    uint32_t version = 3;
    uint64_t nt = w->n_tensors, nkv = w->n_kv;
    memcpy(hdr + 4, &version, 4);
    memcpy(hdr + 8, &nt, 8);
    memcpy(hdr + 16, &nkv, 8);
    int rc = fwrite_all(f, hdr, sizeof hdr);
    if (!rc)
        rc = fwrite_all(f, w->kv, w->kv_len);
    uint64_t pos = sizeof hdr + w->kv_len;
    for (size_t i = 0; !rc && i < w->n_tensors; i++) {
        const struct gguf_writer_tensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        unsigned char buf[8 + 64 + 4 + 32 + 4 + 8];
        size_t n = 0;
        memcpy(buf + n, &len, 8), n += 8;
        memcpy(buf + n, t->name, len), n += len;
        memcpy(buf + n, &t->n_dims, 4), n += 4;
        memcpy(buf + n, t->ne, 8 * t->n_dims), n += 8 * t->n_dims;
        memcpy(buf + n, &t->type, 4), n += 4;
        memcpy(buf + n, &t->offset, 8), n += 8;
        rc = fwrite_all(f, buf, n);
        pos += n;
    }
    static const unsigned char zeros[256];
    uint64_t pad = align_up(pos, w->alignment) - pos;
    if (!rc && pad)
        rc = fwrite_all(f, zeros, pad);
    w->header_bytes = pos + pad;
    w->current = 0;
    w->written = 0;
    if (rc)
        w->error = rc;
    return rc;
}

int gguf_writer_data(struct gguf_writer *w, const void *buf, size_t n)
{
    if (w->error)
        return w->error;
    if (w->current >= w->n_tensors || w->written + n > w->tensors[w->current].nbytes)
        return w->error = -EOVERFLOW;
    int rc = fwrite_all(w->f, buf, n);
    if (rc)
        return w->error = rc;
    w->written += n;
    return 0;
}

int gguf_writer_tensor_end(struct gguf_writer *w)
{
    if (w->error)
        return w->error;
    const struct gguf_writer_tensor *t = &w->tensors[w->current];
    if (w->written != t->nbytes)
        return w->error = -EPROTO;
    static const unsigned char zeros[256];
    uint64_t pad = align_up(t->offset + t->nbytes, w->alignment) - (t->offset + t->nbytes);
    int rc = pad ? fwrite_all(w->f, zeros, pad) : 0;
    if (rc)
        return w->error = rc;
    w->current++;
    w->written = 0;
    return 0;
}

uint64_t gguf_writer_file_size(const struct gguf_writer *w)
{
    return w->header_bytes + w->data_bytes;
}
