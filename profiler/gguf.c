/*
 * gguf: GGUF reader for untrusted files (see gguf.h for the format and the
 * guarantees).
 *
 * How the guarantees are kept:
 *  - One cursor (struct src) reads either a memory image or a file through a
 *    256 KiB pread buffer. Nothing reads at the cursor without first checking
 *    that the bytes exist (rd() and the explicit `> left(p)` checks), so a
 *    truncated file is always a clean -EBADMSG naming what was cut.
 *  - Every count that sizes an allocation (n_kv, n_tensors, array lengths,
 *    string lengths) is compared with the bytes left in the file, using the
 *    smallest encoding one item can have, before anything is allocated; sizes
 *    are multiplied with __builtin_mul_overflow.
 *  - All metadata lives in one arena owned by the handle and charged against
 *    MOETIER_GGUF_MEM_MAX; freeing the handle frees the arena. No pointer into
 *    the caller's buffer is kept.
 *  - Tensor data ranges are computed with overflow checks, checked against the
 *    file size, and sorted to find overlaps; names and keys are sorted to find
 *    duplicates and to answer lookups in O(log n).
 *
 * Where this reader differs from llama.cpp's gguf.cpp (the reference) and why:
 *  - llama.cpp demands that tensors are packed in file order (each offset equal
 *    to the padded end of the one before). The GGUF specification does not, so
 *    gaps and any order are accepted here; overlapping data is rejected.
 *  - Arrays of arrays (allowed by the specification, rejected by llama.cpp) are
 *    read up to MOETIER_GGUF_MAX_NESTING levels.
 *  - Tensor names may be longer than ggml's 63 bytes (up to MOETIER_GGUF_MAX_NAME);
 *    names and keys containing a NUL byte are refused (they could not be looked
 *    up and would alias other names).
 * As in llama.cpp: versions 2 and 3 only, unique non-empty keys, general.alignment
 * of type u32 and a non-zero power of two, n_dims <= 4 (0 = scalar), every
 * ne >= 0, the element count below INT64_MAX, ne[0] a multiple of the block
 * size, and no padding before the data section of a file without tensors.
 *
 * Messages are built with moetier_fmt (no stdio); strings from the file are
 * escaped and shortened before they are quoted.
 */
#include "config.h"

#include "profiler/gguf.h"

#include "common/fmt.h"
#include "profiler/ggml_types.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_BUF (256u << 10)
#define ARENA_BLOCK (64u << 10)

/* The fewest bytes one key/value pair or one tensor info can take in a file:
 * key length (8) + a 1-byte key + type (4) + a 1-byte value; name length (8) +
 * n_dims (4) + type (4) + offset (8), with an empty name and no dimensions. */
#define KV_MIN_BYTES 14u
#define TENSOR_MIN_BYTES 24u

/* ---- the handle ----------------------------------------------------------- */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
};

struct kv {
    const char *key;
    struct moetier_gguf_value val;
};

struct moetier_gguf {
    uint32_t version;
    uint32_t alignment;
    uint64_t file_size;
    uint64_t info_end;    /* end of the tensor infos */
    uint64_t data_offset; /* start of the data section */
    size_t n_kv;
    struct kv *kv;
    size_t *kv_sorted; /* kv indices sorted by key */
    size_t n_tensors;
    struct moetier_gguf_tensor *tensors;
    size_t *t_sorted; /* tensor indices sorted by name */
    struct arena_block *arena;
    uint64_t mem; /* bytes charged against MOETIER_GGUF_MEM_MAX */
};

/* ---- the cursor ------------------------------------------------------------ */

struct src {
    int fd;                   /* -1: memory image */
    const unsigned char *mem; /* memory image */
    uint64_t size;            /* bytes in the file or image */
    uint64_t pos;             /* cursor */
    unsigned char *buf;       /* file: read buffer of READ_BUF bytes */
    uint64_t buf_off;
    size_t buf_len;
};

struct parser {
    struct src s;
    struct moetier_gguf *g;
    char *err;
    size_t errcap;
    /* what is being read, for messages: "<kind> <idx>" or "<kind> '<name>'" */
    const char *w_kind;
    uint64_t w_idx;
    const char *w_name;
    size_t w_name_len;
};

/* ---- messages -------------------------------------------------------------- */

const char *moetier_gguf_sanitize(const char *s, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, shown = 0;
    if (cap == 0)
        return out;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (shown >= 48 || o + 8 >= cap) {
            if (o + 4 <= cap) {
                memcpy(out + o, "...", 3);
                o += 3;
            }
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '\'') {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
        shown++;
    }
    out[o] = '\0';
    return out;
}

static int failv(char *err, size_t errcap, int code, const char *fmt, va_list ap)
{
    if (err && errcap)
        moetier_vfmt(err, errcap, fmt, ap);
    return code;
}

static int fail(struct parser *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct parser *p, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(p->err, p->errcap, code, fmt, ap);
    va_end(ap);
    return code;
}

static int set_err(char *err, size_t errcap, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int set_err(char *err, size_t errcap, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    failv(err, errcap, code, fmt, ap);
    va_end(ap);
    return code;
}

static void where_idx(struct parser *p, const char *kind, uint64_t idx)
{
    p->w_kind = kind;
    p->w_idx = idx;
    p->w_name = NULL;
    p->w_name_len = 0;
}

static void where_name(struct parser *p, const char *name, size_t len)
{
    p->w_name = name;
    p->w_name_len = len;
}

/* "key 3" / "key 'general.name'" / "tensor 'blk.0.attn_q.weight'" */
static const char *where(const struct parser *p, char *buf, size_t cap)
{
    if (p->w_idx == UINT64_MAX && !p->w_name) {
        moetier_fmt(buf, cap, "%s", p->w_kind);
    } else if (p->w_name) {
        char name[200];
        moetier_fmt(buf, cap, "%s '%s'", p->w_kind,
                    moetier_gguf_sanitize(p->w_name, p->w_name_len, name, sizeof name));
    } else {
        moetier_fmt(buf, cap, "%s %llu", p->w_kind, (unsigned long long)p->w_idx);
    }
    return buf;
}

static int truncated(struct parser *p, const char *part, uint64_t at)
{
    char w[256];
    return fail(p, -EBADMSG, "truncated: %s %s at offset %llu runs past the end of the file (%llu bytes)",
                where(p, w, sizeof w), part, (unsigned long long)at,
                (unsigned long long)p->s.size);
}

static const char *removed_type_name(uint32_t type)
{
    switch (type) {
    case 4: return "q4_2";
    case 5: return "q4_3";
    case 31: return "q4_0_4_4";
    case 32: return "q4_0_4_8";
    case 33: return "q4_0_8_8";
    case 36: return "iq4_nl_4_4";
    case 37: return "iq4_nl_4_8";
    case 38: return "iq4_nl_8_8";
    default: return NULL;
    }
}

const char *moetier_gguf_type_name(uint32_t type)
{
    static const char *const names[MOETIER_GGUF_TYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64",
    };
    return type < MOETIER_GGUF_TYPE_COUNT ? names[type] : "?";
}

/* ---- reading ---------------------------------------------------------------- */

static uint64_t left(const struct parser *p)
{
    return p->s.size - p->s.pos;
}

/* pread exactly n bytes at off; short reads are retried, EOF is -EIO. */
static int pread_full(struct parser *p, void *dst, size_t n, uint64_t off)
{
    unsigned char *d = dst;
    while (n) {
        ssize_t r = pread(p->s.fd, d, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            return fail(p, -e, "read failed at offset %llu: %s", (unsigned long long)off, strerror(e));
        }
        if (r == 0)
            return fail(p, -EIO, "the file shrank while it was being read (at offset %llu)",
                        (unsigned long long)off);
        d += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

/* Copies n bytes at the cursor to dst and advances; the caller checked n <= left(p). */
static int take(struct parser *p, void *dst, uint64_t n)
{
    struct src *s = &p->s;
    unsigned char *d = dst;
    if (s->fd < 0) {
        memcpy(d, s->mem + s->pos, n);
        s->pos += n;
        return 0;
    }
    while (n) {
        if (s->pos >= s->buf_off && s->pos < s->buf_off + s->buf_len) {
            size_t at = (size_t)(s->pos - s->buf_off);
            size_t k = s->buf_len - at;
            if (k > n)
                k = (size_t)n;
            memcpy(d, s->buf + at, k);
            d += k;
            n -= k;
            s->pos += k;
        } else if (n >= READ_BUF) {
            int rc = pread_full(p, d, (size_t)n, s->pos);
            if (rc)
                return rc;
            s->pos += n;
            n = 0;
        } else {
            uint64_t k = s->size - s->pos;
            if (k > READ_BUF)
                k = READ_BUF;
            int rc = pread_full(p, s->buf, (size_t)k, s->pos);
            if (rc)
                return rc;
            s->buf_off = s->pos;
            s->buf_len = (size_t)k;
        }
    }
    return 0;
}

/* Reads n (<= 8) bytes for `part` of the current item, little endian. */
static int rd_le(struct parser *p, unsigned n, uint64_t *out, const char *part)
{
    unsigned char b[8];
    *out = 0;
    if (n > left(p))
        return truncated(p, part, p->s.pos);
    int rc = take(p, b, n);
    if (rc)
        return rc;
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    *out = v;
    return 0;
}

static int rd_u32(struct parser *p, uint32_t *out, const char *part)
{
    uint64_t v = 0;
    int rc = rd_le(p, 4, &v, part);
    *out = (uint32_t)v;
    return rc;
}

static int rd_u64(struct parser *p, uint64_t *out, const char *part)
{
    return rd_le(p, 8, out, part);
}

static uint64_t le_at(const unsigned char *b, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

/* ---- arena ------------------------------------------------------------------ */

static int alloc(struct parser *p, uint64_t size, void **out)
{
    struct moetier_gguf *g = p->g;
    size = (size + 15) & ~(uint64_t)15;
    struct arena_block *b = g->arena;
    if (b && b->cap - b->used >= size) {
        *out = (unsigned char *)b->data + b->used;
        b->used += size;
        return 0;
    }
    uint64_t cap = size > ARENA_BLOCK ? size : ARENA_BLOCK;
    uint64_t charge = cap + sizeof(struct arena_block);
    if (cap > MOETIER_GGUF_MEM_MAX || g->mem + charge > MOETIER_GGUF_MEM_MAX)
        return fail(p, -E2BIG, "the metadata needs more than %llu MiB of memory (this reader's limit)",
                    (unsigned long long)(MOETIER_GGUF_MEM_MAX >> 20));
    struct arena_block *nb = malloc(sizeof *nb + (size_t)cap);
    if (!nb)
        return fail(p, -ENOMEM, "out of memory reading the metadata");
    g->mem += charge;
    nb->cap = (size_t)cap;
    nb->used = (size_t)size;
    if (b && size > ARENA_BLOCK) {
        /* a one-off big block: keep bumping in the current small one */
        nb->next = b->next;
        b->next = nb;
    } else {
        nb->next = b;
        g->arena = nb;
    }
    *out = nb->data;
    return 0;
}

/* count * elem bytes from the arena, with the multiplication checked. */
static int alloc_n(struct parser *p, uint64_t count, uint64_t elem, void **out)
{
    uint64_t bytes;
    if (__builtin_mul_overflow(count, elem, &bytes))
        return fail(p, -E2BIG, "the metadata needs more than %llu MiB of memory (this reader's limit)",
                    (unsigned long long)(MOETIER_GGUF_MEM_MAX >> 20));
    return alloc(p, bytes ? bytes : 1, out);
}

static void arena_free(struct arena_block *b)
{
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
}

/* ---- metadata ---------------------------------------------------------------- */

/* Fixed size of a scalar value type; 0 for STRING/ARRAY/unknown. */
static unsigned scalar_size(uint32_t type)
{
    switch (type) {
    case MOETIER_GGUF_UINT8:
    case MOETIER_GGUF_INT8:
    case MOETIER_GGUF_BOOL:
        return 1;
    case MOETIER_GGUF_UINT16:
    case MOETIER_GGUF_INT16:
        return 2;
    case MOETIER_GGUF_UINT32:
    case MOETIER_GGUF_INT32:
    case MOETIER_GGUF_FLOAT32:
        return 4;
    case MOETIER_GGUF_UINT64:
    case MOETIER_GGUF_INT64:
    case MOETIER_GGUF_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

/* Widens a little-endian scalar of the given type into a value. */
static void decode_scalar(uint32_t type, const unsigned char *b, struct moetier_gguf_value *v)
{
    uint64_t raw = le_at(b, scalar_size(type));
    memset(v, 0, sizeof *v);
    v->type = type;
    switch (type) {
    case MOETIER_GGUF_UINT8:
    case MOETIER_GGUF_UINT16:
    case MOETIER_GGUF_UINT32:
    case MOETIER_GGUF_UINT64:
        v->v.u = raw;
        break;
    case MOETIER_GGUF_BOOL:
        v->v.u = raw != 0;
        break;
    case MOETIER_GGUF_INT8: v->v.i = (int8_t)raw; break;
    case MOETIER_GGUF_INT16: v->v.i = (int16_t)raw; break;
    case MOETIER_GGUF_INT32: v->v.i = (int32_t)raw; break;
    case MOETIER_GGUF_INT64: v->v.i = (int64_t)raw; break;
    case MOETIER_GGUF_FLOAT32: {
        uint32_t u = (uint32_t)raw;
        float f;
        memcpy(&f, &u, sizeof f);
        v->v.f = f;
        break;
    }
    case MOETIER_GGUF_FLOAT64: {
        double d;
        memcpy(&d, &raw, sizeof d);
        v->v.f = d;
        break;
    }
    }
}

/* Reads a u64-length string for `part`; stores it NUL-terminated in the arena. */
static int rd_string(struct parser *p, const char **out, uint64_t *len_out, const char *part)
{
    uint64_t at = p->s.pos, len = 0;
    *out = NULL;
    *len_out = 0;
    int rc = rd_u64(p, &len, part);
    if (rc)
        return rc;
    if (len > left(p))
        return truncated(p, part, at);
    char *s;
    rc = alloc(p, len + 1, (void **)&s);
    if (rc)
        return rc;
    rc = take(p, s, len);
    if (rc)
        return rc;
    s[len] = '\0';
    *out = s;
    *len_out = len;
    return 0;
}

static int parse_value(struct parser *p, uint32_t type, struct moetier_gguf_value *out, int depth);

static int parse_array(struct parser *p, struct moetier_gguf_value *out, int depth)
{
    char w[256];
    uint64_t at = p->s.pos;
    uint32_t et;
    uint64_t n;
    int rc;

    if (depth + 1 > MOETIER_GGUF_MAX_NESTING)
        return fail(p, -EBADMSG, "%s: arrays nested deeper than %d levels", where(p, w, sizeof w),
                    MOETIER_GGUF_MAX_NESTING);
    if ((rc = rd_u32(p, &et, "array type")) || (rc = rd_u64(p, &n, "array length")))
        return rc;
    if (et >= MOETIER_GGUF_TYPE_COUNT)
        return fail(p, -EBADMSG, "%s: unknown array element type %u", where(p, w, sizeof w), et);

    unsigned es = scalar_size(et);
    /* the smallest encoding of one element */
    uint64_t min = es ? es : et == MOETIER_GGUF_STRING ? 8 : 12;
    if (n > left(p) / min)
        return fail(p, -EBADMSG,
                    "truncated: %s: array of %llu %s at offset %llu runs past the end of the file (%llu bytes)",
                    where(p, w, sizeof w), (unsigned long long)n, moetier_gguf_type_name(et),
                    (unsigned long long)at, (unsigned long long)p->s.size);

    memset(out, 0, sizeof *out);
    out->type = MOETIER_GGUF_ARRAY;
    out->elem_type = et;
    out->n = n;
    if (es) {
        void *raw;
        if ((rc = alloc_n(p, n, es, &raw)) || (rc = take(p, raw, n * es)))
            return rc;
        out->v.arr = raw;
        return 0;
    }
    struct moetier_gguf_value *elems;
    if ((rc = alloc_n(p, n, sizeof *elems, (void **)&elems)))
        return rc;
    for (uint64_t i = 0; i < n; i++) {
        if ((rc = parse_value(p, et, &elems[i], depth + 1)))
            return rc;
    }
    out->v.arr = elems;
    return 0;
}

static int parse_value(struct parser *p, uint32_t type, struct moetier_gguf_value *out, int depth)
{
    char w[256];
    unsigned es = scalar_size(type);
    if (es) {
        unsigned char b[8];
        if (es > left(p))
            return truncated(p, "value", p->s.pos);
        int rc = take(p, b, es);
        if (rc)
            return rc;
        decode_scalar(type, b, out);
        return 0;
    }
    if (type == MOETIER_GGUF_STRING) {
        memset(out, 0, sizeof *out);
        out->type = MOETIER_GGUF_STRING;
        return rd_string(p, &out->v.s, &out->n, "string value");
    }
    if (type == MOETIER_GGUF_ARRAY)
        return parse_array(p, out, depth);
    return fail(p, -EBADMSG, "%s: unknown value type %u", where(p, w, sizeof w), type);
}

static int cmp_kv(const void *a, const void *b, void *arg)
{
    const struct kv *kv = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(kv[i].key, kv[j].key);
    return c ? c : (i > j) - (i < j);
}

static int cmp_tensor_name(const void *a, const void *b, void *arg)
{
    const struct moetier_gguf_tensor *t = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    int c = strcmp(t[i].name, t[j].name);
    return c ? c : (i > j) - (i < j);
}

static int cmp_tensor_off(const void *a, const void *b, void *arg)
{
    const struct moetier_gguf_tensor *t = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (t[i].offset != t[j].offset)
        return t[i].offset < t[j].offset ? -1 : 1;
    return (i > j) - (i < j);
}

static int parse_kvs(struct parser *p, uint64_t n_kv)
{
    struct moetier_gguf *g = p->g;
    int rc;
    if ((rc = alloc_n(p, n_kv, sizeof *g->kv, (void **)&g->kv)) ||
        (rc = alloc_n(p, n_kv, sizeof *g->kv_sorted, (void **)&g->kv_sorted)))
        return rc;
    for (uint64_t i = 0; i < n_kv; i++) {
        struct kv *kv = &g->kv[i];
        uint64_t len;
        uint32_t type;
        where_idx(p, "key", i);
        uint64_t at = p->s.pos;
        if ((rc = rd_string(p, &kv->key, &len, "string")))
            return rc;
        if (len == 0)
            return fail(p, -EBADMSG, "key %llu (at offset %llu) is empty", (unsigned long long)i,
                        (unsigned long long)at);
        if (len > MOETIER_GGUF_MAX_NAME)
            return fail(p, -E2BIG, "key %llu is %llu bytes long (this reader's limit is %u)",
                        (unsigned long long)i, (unsigned long long)len, MOETIER_GGUF_MAX_NAME);
        if (memchr(kv->key, '\0', len))
            return fail(p, -EBADMSG, "key %llu (at offset %llu) contains a NUL byte",
                        (unsigned long long)i, (unsigned long long)at);
        where_name(p, kv->key, len);
        if ((rc = rd_u32(p, &type, "value type")))
            return rc;
        if ((rc = parse_value(p, type, &kv->val, 0)))
            return rc;
        g->n_kv++;
    }

    for (size_t i = 0; i < g->n_kv; i++)
        g->kv_sorted[i] = i;
    qsort_r(g->kv_sorted, g->n_kv, sizeof *g->kv_sorted, cmp_kv, g->kv);
    for (size_t i = 1; i < g->n_kv; i++) {
        size_t a = g->kv_sorted[i - 1], b = g->kv_sorted[i];
        if (strcmp(g->kv[a].key, g->kv[b].key) == 0) {
            char name[200];
            return fail(p, -EBADMSG, "duplicate key '%s' (keys %zu and %zu)",
                        moetier_gguf_sanitize(g->kv[a].key, strlen(g->kv[a].key), name, sizeof name), a, b);
        }
    }
    return 0;
}

static int check_alignment(struct parser *p)
{
    struct moetier_gguf *g = p->g;
    const struct moetier_gguf_value *v = moetier_gguf_kv_find(g, "general.alignment");
    g->alignment = 32;
    if (!v)
        return 0;
    if (v->type != MOETIER_GGUF_UINT32)
        return fail(p, -EBADMSG, "general.alignment has type %s; it must be u32",
                    moetier_gguf_type_name(v->type));
    uint64_t a = v->v.u;
    if (a == 0 || (a & (a - 1)))
        return fail(p, -EBADMSG, "general.alignment %llu is not a non-zero power of two",
                    (unsigned long long)a);
    g->alignment = (uint32_t)a;
    return 0;
}

/* ---- tensor infos --------------------------------------------------------------- */

static int parse_tensor(struct parser *p, uint64_t i)
{
    struct moetier_gguf_tensor *t = &p->g->tensors[i];
    char w[256];
    uint64_t len, at = p->s.pos;
    int rc;

    memset(t, 0, sizeof *t);
    where_idx(p, "tensor", i);
    if ((rc = rd_string(p, &t->name, &len, "name")))
        return rc;
    if (len > MOETIER_GGUF_MAX_NAME)
        return fail(p, -E2BIG, "tensor %llu: name is %llu bytes long (this reader's limit is %u)",
                    (unsigned long long)i, (unsigned long long)len, MOETIER_GGUF_MAX_NAME);
    if (memchr(t->name, '\0', len))
        return fail(p, -EBADMSG, "tensor %llu (at offset %llu): name contains a NUL byte",
                    (unsigned long long)i, (unsigned long long)at);
    where_name(p, t->name, len);

    if ((rc = rd_u32(p, &t->n_dims, "n_dims")))
        return rc;
    if (t->n_dims > 4)
        return fail(p, -EBADMSG, "%s: n_dims %u is more than 4", where(p, w, sizeof w), t->n_dims);
    for (int d = 0; d < 4; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t v;
        if ((rc = rd_u64(p, &v, "dimensions")))
            return rc;
        t->ne[d] = (int64_t)v;
        if (t->ne[d] < 0)
            return fail(p, -EBADMSG, "%s: ne[%u]=%lld is negative", where(p, w, sizeof w), d,
                        (long long)t->ne[d]);
    }
    uint64_t nel = 1;
    for (int d = 0; d < 4; d++)
        if (__builtin_mul_overflow(nel, (uint64_t)t->ne[d], &nel) || nel >= (uint64_t)INT64_MAX)
            return fail(p, -EBADMSG, "%s: shape [%lld, %lld, %lld, %lld] has too many elements",
                        where(p, w, sizeof w), (long long)t->ne[0], (long long)t->ne[1],
                        (long long)t->ne[2], (long long)t->ne[3]);

    if ((rc = rd_u32(p, &t->type, "type")))
        return rc;
    const struct moetier_ggml_type *gt = moetier_ggml_type_get(t->type);
    if (!gt) {
        const char *old = removed_type_name(t->type);
        if (old)
            return fail(p, -EBADMSG, "%s: ggml type %u (%s) was removed from ggml; re-quantize the model",
                        where(p, w, sizeof w), t->type, old);
        return fail(p, -EBADMSG, "%s: unknown ggml type %u", where(p, w, sizeof w), t->type);
    }
    if ((uint64_t)t->ne[0] % gt->block_size)
        return fail(p, -EBADMSG, "%s: ne[0]=%lld is not a multiple of the %s block size %u",
                    where(p, w, sizeof w), (long long)t->ne[0], gt->name, gt->block_size);
    rc = moetier_ggml_nbytes(t->type, 4, t->ne, &t->size);
    if (rc)
        return fail(p, -EBADMSG, "%s: the size of shape [%lld, %lld, %lld, %lld] of %s overflows 64 bits",
                    where(p, w, sizeof w), (long long)t->ne[0], (long long)t->ne[1],
                    (long long)t->ne[2], (long long)t->ne[3], gt->name);
    /* the relative offset for now; made absolute once the data section is known */
    return rd_u64(p, &t->offset, "offset");
}

static int check_tensors(struct parser *p)
{
    struct moetier_gguf *g = p->g;
    char name[200], name2[200];
    int rc;

    for (size_t i = 0; i < g->n_tensors; i++) {
        struct moetier_gguf_tensor *t = &g->tensors[i];
        uint64_t rel = t->offset, abs, end;
        moetier_gguf_sanitize(t->name, strlen(t->name), name, sizeof name);
        if (rel % g->alignment)
            return fail(p, -EBADMSG, "tensor '%s': offset %llu is not a multiple of the alignment %u",
                        name, (unsigned long long)rel, g->alignment);
        if (__builtin_add_overflow(g->data_offset, rel, &abs) ||
            __builtin_add_overflow(abs, t->size, &end))
            return fail(p, -EBADMSG, "tensor '%s': data [offset %llu + %llu, %llu bytes] overflows 64 bits",
                        name, (unsigned long long)g->data_offset, (unsigned long long)rel,
                        (unsigned long long)t->size);
        if (t->size && end > g->file_size)
            return fail(p, -EBADMSG,
                        "tensor '%s' data [offset %llu, %llu bytes] runs past the end of the file (%llu bytes)",
                        name, (unsigned long long)abs, (unsigned long long)t->size,
                        (unsigned long long)g->file_size);
        t->offset = abs;
    }

    /* overlaps: neighbours in offset order (empty tensors overlap nothing) */
    size_t *order;
    if ((rc = alloc_n(p, g->n_tensors, sizeof *order, (void **)&order)))
        return rc;
    for (size_t i = 0; i < g->n_tensors; i++)
        order[i] = i;
    qsort_r(order, g->n_tensors, sizeof *order, cmp_tensor_off, g->tensors);
    const struct moetier_gguf_tensor *prev = NULL;
    for (size_t k = 0; k < g->n_tensors; k++) {
        const struct moetier_gguf_tensor *t = &g->tensors[order[k]];
        if (!t->size)
            continue;
        if (prev && prev->offset + prev->size > t->offset)
            return fail(p, -EBADMSG,
                        "tensors '%s' [offset %llu, %llu bytes] and '%s' [offset %llu, %llu bytes] overlap",
                        moetier_gguf_sanitize(prev->name, strlen(prev->name), name, sizeof name),
                        (unsigned long long)prev->offset, (unsigned long long)prev->size,
                        moetier_gguf_sanitize(t->name, strlen(t->name), name2, sizeof name2),
                        (unsigned long long)t->offset, (unsigned long long)t->size);
        prev = t;
    }

    /* duplicate names */
    for (size_t i = 0; i < g->n_tensors; i++)
        g->t_sorted[i] = i;
    qsort_r(g->t_sorted, g->n_tensors, sizeof *g->t_sorted, cmp_tensor_name, g->tensors);
    for (size_t i = 1; i < g->n_tensors; i++) {
        size_t a = g->t_sorted[i - 1], b = g->t_sorted[i];
        if (strcmp(g->tensors[a].name, g->tensors[b].name) == 0)
            return fail(p, -EBADMSG, "duplicate tensor name '%s' (tensors %zu and %zu)",
                        moetier_gguf_sanitize(g->tensors[a].name, strlen(g->tensors[a].name), name, sizeof name),
                        a, b);
    }
    return 0;
}

/* ---- the whole file --------------------------------------------------------------- */

static int parse(struct parser *p)
{
    struct moetier_gguf *g = p->g;
    unsigned char magic[4];
    uint64_t n_tensors, n_kv;
    int rc;

    g->file_size = p->s.size;
    if (p->s.size < 4 + 4 + 8 + 8) {
        if (p->s.size >= 4) {
            if ((rc = take(p, magic, 4)))
                return rc;
            if (memcmp(magic, "GGUF", 4) != 0)
                goto bad_magic;
        }
        return fail(p, -EBADMSG, "truncated: the file is %llu bytes, too short for a GGUF header",
                    (unsigned long long)p->s.size);
    }
    if ((rc = take(p, magic, 4)))
        return rc;
    if (memcmp(magic, "GGUF", 4) != 0)
        goto bad_magic;

    where_idx(p, "header", UINT64_MAX);
    if ((rc = rd_u32(p, &g->version, "version")))
        return rc;
    if (g->version == 1)
        return fail(p, -EBADMSG, "GGUF version 1 is no longer supported (llama.cpp dropped it); convert the model again");
    if (g->version == 0 || (g->version & 0xffffu) == 0)
        return fail(p, -EBADMSG, "GGUF version 0x%x is invalid (a big-endian file? only little-endian GGUF is supported)",
                    g->version);
    if (g->version > 3)
        return fail(p, -EBADMSG, "GGUF version %u is newer than this reader (versions 2 and 3 are supported)",
                    g->version);
    if ((rc = rd_u64(p, &n_tensors, "n_tensors")) || (rc = rd_u64(p, &n_kv, "n_kv")))
        return rc;
    if ((int64_t)n_tensors < 0)
        return fail(p, -EBADMSG, "n_tensors %lld is negative", (long long)n_tensors);
    if ((int64_t)n_kv < 0)
        return fail(p, -EBADMSG, "n_kv %lld is negative", (long long)n_kv);
    /* Counts the rest of the file cannot hold: absurd beyond the limits, else
     * most likely a file cut short. */
    if (n_kv > left(p) / KV_MIN_BYTES) {
        if (n_kv > MOETIER_GGUF_MAX_KV)
            return fail(p, -EBADMSG, "n_kv %llu is absurd for a %llu-byte file",
                        (unsigned long long)n_kv, (unsigned long long)p->s.size);
        return fail(p, -EBADMSG, "truncated: %llu key/value pairs cannot fit in the %llu bytes after the header",
                    (unsigned long long)n_kv, (unsigned long long)left(p));
    }
    if (n_tensors > (left(p) - n_kv * KV_MIN_BYTES) / TENSOR_MIN_BYTES) {
        if (n_tensors > MOETIER_GGUF_MAX_TENSORS)
            return fail(p, -EBADMSG, "n_tensors %llu is absurd for a %llu-byte file",
                        (unsigned long long)n_tensors, (unsigned long long)p->s.size);
        return fail(p, -EBADMSG, "truncated: %llu tensor infos and %llu key/value pairs cannot fit in the %llu bytes after the header",
                    (unsigned long long)n_tensors, (unsigned long long)n_kv,
                    (unsigned long long)left(p));
    }
    if (n_kv > MOETIER_GGUF_MAX_KV)
        return fail(p, -E2BIG, "n_kv %llu is more than this reader's limit of %u",
                    (unsigned long long)n_kv, MOETIER_GGUF_MAX_KV);
    if (n_tensors > MOETIER_GGUF_MAX_TENSORS)
        return fail(p, -E2BIG, "n_tensors %llu is more than this reader's limit of %u",
                    (unsigned long long)n_tensors, MOETIER_GGUF_MAX_TENSORS);

    if ((rc = parse_kvs(p, n_kv)) || (rc = check_alignment(p)))
        return rc;

    /* the key/values may have used up the bytes the tensor infos need */
    if (n_tensors > left(p) / TENSOR_MIN_BYTES)
        return fail(p, -EBADMSG, "truncated: %llu tensor infos cannot fit in the %llu bytes after the metadata at offset %llu",
                    (unsigned long long)n_tensors, (unsigned long long)left(p),
                    (unsigned long long)p->s.pos);
    if ((rc = alloc_n(p, n_tensors, sizeof *g->tensors, (void **)&g->tensors)) ||
        (rc = alloc_n(p, n_tensors, sizeof *g->t_sorted, (void **)&g->t_sorted)))
        return rc;
    for (uint64_t i = 0; i < n_tensors; i++) {
        if ((rc = parse_tensor(p, i)))
            return rc;
        g->n_tensors++;
    }
    g->info_end = p->s.pos;
    g->data_offset = g->info_end;
    if (g->n_tensors) {
        /* info_end <= file size < 2^63 and alignment <= 2^31: no overflow */
        uint64_t a = g->alignment;
        g->data_offset = (g->info_end + a - 1) & ~(a - 1);
    }
    return check_tensors(p);

bad_magic: {
    char m[40];
    return fail(p, -EBADMSG, "not a GGUF file (magic '%s', expected 'GGUF')",
                moetier_gguf_sanitize((const char *)magic, 4, m, sizeof m));
}
}

static int run_parser(struct parser *p, struct moetier_gguf **out)
{
    struct moetier_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return fail(p, -ENOMEM, "out of memory");
    p->g = g;
    int rc = parse(p);
    if (rc) {
        moetier_gguf_close(g);
        return rc;
    }
    *out = g;
    return 0;
}

int moetier_gguf_parse(const void *buf, size_t size, struct moetier_gguf **out, char *err,
                       size_t errcap)
{
    struct parser p = { .s = { .fd = -1, .mem = buf, .size = size }, .err = err, .errcap = errcap };
    if (err && errcap)
        err[0] = '\0';
    if (!out || (!buf && size))
        return set_err(err, errcap, -EINVAL, "bad argument");
    *out = NULL;
    return run_parser(&p, out);
}

int moetier_gguf_open(const char *path, struct moetier_gguf **out, char *err, size_t errcap)
{
    struct parser p = { .s = { .fd = -1 }, .err = err, .errcap = errcap };
    struct stat st;
    int rc;

    if (err && errcap)
        err[0] = '\0';
    if (!path || !out)
        return set_err(err, errcap, -EINVAL, "bad argument");
    *out = NULL;
    p.s.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (p.s.fd < 0) {
        rc = -errno;
        return set_err(err, errcap, rc, "%s", strerror(-rc));
    }
    if (fstat(p.s.fd, &st) != 0) {
        rc = -errno;
        set_err(err, errcap, rc, "%s", strerror(-rc));
        goto out_close;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = set_err(err, errcap, -EISDIR, "is a directory");
        goto out_close;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = set_err(err, errcap, -EINVAL, "not a regular file");
        goto out_close;
    }
    p.s.size = (uint64_t)st.st_size;
    p.s.buf = malloc(READ_BUF);
    if (!p.s.buf) {
        rc = set_err(err, errcap, -ENOMEM, "out of memory");
        goto out_close;
    }
    rc = run_parser(&p, out);
    free(p.s.buf);
out_close:
    close(p.s.fd);
    return rc;
}

void moetier_gguf_close(struct moetier_gguf *g)
{
    if (!g)
        return;
    arena_free(g->arena);
    free(g);
}

/* ---- accessors ------------------------------------------------------------------- */

uint32_t moetier_gguf_version(const struct moetier_gguf *g) { return g->version; }
uint32_t moetier_gguf_alignment(const struct moetier_gguf *g) { return g->alignment; }
uint64_t moetier_gguf_data_offset(const struct moetier_gguf *g) { return g->data_offset; }
uint64_t moetier_gguf_file_size(const struct moetier_gguf *g) { return g->file_size; }
size_t moetier_gguf_n_kv(const struct moetier_gguf *g) { return g->n_kv; }
size_t moetier_gguf_n_tensors(const struct moetier_gguf *g) { return g->n_tensors; }

const char *moetier_gguf_kv_key(const struct moetier_gguf *g, size_t i)
{
    return i < g->n_kv ? g->kv[i].key : NULL;
}

const struct moetier_gguf_value *moetier_gguf_kv_value(const struct moetier_gguf *g, size_t i)
{
    return i < g->n_kv ? &g->kv[i].val : NULL;
}

const struct moetier_gguf_value *moetier_gguf_kv_find(const struct moetier_gguf *g, const char *key)
{
    size_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct kv *kv = &g->kv[g->kv_sorted[mid]];
        int c = strcmp(kv->key, key);
        if (c == 0)
            return &kv->val;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct moetier_gguf_tensor *moetier_gguf_tensor(const struct moetier_gguf *g, size_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const struct moetier_gguf_tensor *moetier_gguf_find_tensor(const struct moetier_gguf *g,
                                                           const char *name)
{
    size_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct moetier_gguf_tensor *t = &g->tensors[g->t_sorted[mid]];
        int c = strcmp(t->name, name);
        if (c == 0)
            return t;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ---- typed reads --------------------------------------------------------------------- */

static bool is_unsigned(uint32_t t)
{
    return t == MOETIER_GGUF_UINT8 || t == MOETIER_GGUF_UINT16 || t == MOETIER_GGUF_UINT32 ||
           t == MOETIER_GGUF_UINT64;
}

static bool is_signed(uint32_t t)
{
    return t == MOETIER_GGUF_INT8 || t == MOETIER_GGUF_INT16 || t == MOETIER_GGUF_INT32 ||
           t == MOETIER_GGUF_INT64;
}

/* Any integer value as a (sign, magnitude) pair check against [lo, hi]. */
static int int_in(const struct moetier_gguf_value *v, int64_t lo, uint64_t hi, int64_t *si,
                  uint64_t *ui)
{
    if (!v)
        return -ENOENT;
    if (is_unsigned(v->type)) {
        if (v->v.u > hi)
            return -ERANGE;
        *ui = v->v.u;
        *si = (int64_t)v->v.u; /* only read when hi <= INT64_MAX */
        return 0;
    }
    if (is_signed(v->type)) {
        if (v->v.i < lo || (v->v.i >= 0 && (uint64_t)v->v.i > hi))
            return -ERANGE;
        *si = v->v.i;
        *ui = (uint64_t)v->v.i; /* only read when lo >= 0 */
        return 0;
    }
    return -EINVAL;
}

int moetier_gguf_value_get_u32(const struct moetier_gguf_value *v, uint32_t *out)
{
    int64_t s;
    uint64_t u;
    int rc = int_in(v, 0, UINT32_MAX, &s, &u);
    if (rc == 0)
        *out = (uint32_t)u;
    return rc;
}

int moetier_gguf_value_get_u64(const struct moetier_gguf_value *v, uint64_t *out)
{
    int64_t s;
    uint64_t u;
    int rc = int_in(v, 0, UINT64_MAX, &s, &u);
    if (rc == 0)
        *out = u;
    return rc;
}

int moetier_gguf_value_get_i32(const struct moetier_gguf_value *v, int32_t *out)
{
    int64_t s;
    uint64_t u;
    int rc = int_in(v, INT32_MIN, INT32_MAX, &s, &u);
    if (rc == 0)
        *out = (int32_t)s;
    return rc;
}

int moetier_gguf_value_get_i64(const struct moetier_gguf_value *v, int64_t *out)
{
    int64_t s;
    uint64_t u;
    int rc = int_in(v, INT64_MIN, INT64_MAX, &s, &u);
    if (rc == 0)
        *out = s;
    return rc;
}

int moetier_gguf_value_get_f64(const struct moetier_gguf_value *v, double *out)
{
    if (!v)
        return -ENOENT;
    if (v->type != MOETIER_GGUF_FLOAT32 && v->type != MOETIER_GGUF_FLOAT64)
        return -EINVAL;
    *out = v->v.f;
    return 0;
}

int moetier_gguf_value_get_f32(const struct moetier_gguf_value *v, float *out)
{
    double d;
    int rc = moetier_gguf_value_get_f64(v, &d);
    if (rc == 0)
        *out = (float)d;
    return rc;
}

int moetier_gguf_value_get_bool(const struct moetier_gguf_value *v, int *out)
{
    if (!v)
        return -ENOENT;
    if (v->type != MOETIER_GGUF_BOOL)
        return -EINVAL;
    *out = v->v.u != 0;
    return 0;
}

int moetier_gguf_value_get_str(const struct moetier_gguf_value *v, const char **out, size_t *len)
{
    if (!v)
        return -ENOENT;
    if (v->type != MOETIER_GGUF_STRING)
        return -EINVAL;
    *out = v->v.s;
    if (len)
        *len = (size_t)v->n;
    return 0;
}

int moetier_gguf_value_elem(const struct moetier_gguf_value *v, uint64_t i,
                            struct moetier_gguf_value *out)
{
    if (!v)
        return -ENOENT;
    if (v->type != MOETIER_GGUF_ARRAY)
        return -EINVAL;
    if (i >= v->n)
        return -ERANGE;
    unsigned es = scalar_size(v->elem_type);
    if (es)
        decode_scalar(v->elem_type, (const unsigned char *)v->v.arr + i * es, out);
    else
        *out = ((const struct moetier_gguf_value *)v->v.arr)[i];
    return 0;
}

int moetier_gguf_get_u32(const struct moetier_gguf *g, const char *key, uint32_t *out)
{
    return moetier_gguf_value_get_u32(moetier_gguf_kv_find(g, key), out);
}

int moetier_gguf_get_u64(const struct moetier_gguf *g, const char *key, uint64_t *out)
{
    return moetier_gguf_value_get_u64(moetier_gguf_kv_find(g, key), out);
}

int moetier_gguf_get_i32(const struct moetier_gguf *g, const char *key, int32_t *out)
{
    return moetier_gguf_value_get_i32(moetier_gguf_kv_find(g, key), out);
}

int moetier_gguf_get_f32(const struct moetier_gguf *g, const char *key, float *out)
{
    return moetier_gguf_value_get_f32(moetier_gguf_kv_find(g, key), out);
}

int moetier_gguf_get_bool(const struct moetier_gguf *g, const char *key, int *out)
{
    return moetier_gguf_value_get_bool(moetier_gguf_kv_find(g, key), out);
}

int moetier_gguf_get_str(const struct moetier_gguf *g, const char *key, const char **out,
                         size_t *len)
{
    return moetier_gguf_value_get_str(moetier_gguf_kv_find(g, key), out, len);
}

int moetier_gguf_get_arr(const struct moetier_gguf *g, const char *key, uint32_t *elem_type,
                         uint64_t *n)
{
    const struct moetier_gguf_value *v = moetier_gguf_kv_find(g, key);
    if (!v)
        return -ENOENT;
    if (v->type != MOETIER_GGUF_ARRAY)
        return -EINVAL;
    if (elem_type)
        *elem_type = v->elem_type;
    if (n)
        *n = v->n;
    return 0;
}

/* ---- models (single and split) ------------------------------------------------------- */

struct moetier_gguf_model {
    size_t n_files;
    struct moetier_gguf **files;
    char **paths;
    uint64_t size;
    size_t n_tensors;
    const struct moetier_gguf_tensor **tensors; /* part by part, file order */
    const struct moetier_gguf_tensor **sorted;  /* by name */
};

void moetier_gguf_model_close(struct moetier_gguf_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_files; i++) {
        moetier_gguf_close(m->files[i]);
        if (m->paths)
            free(m->paths[i]);
    }
    free(m->files);
    free(m->paths);
    free(m->tensors);
    free(m->sorted);
    free(m);
}

static int cmp_tptr_name(const void *a, const void *b)
{
    const struct moetier_gguf_tensor *x = *(const struct moetier_gguf_tensor *const *)a;
    const struct moetier_gguf_tensor *y = *(const struct moetier_gguf_tensor *const *)b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return (x->file > y->file) - (x->file < y->file);
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* Reads split.* key `key` of file i as an unsigned count; -ENOENT if absent. */
static int split_key(const struct moetier_gguf_model *m, size_t i, const char *key, uint64_t *out,
                     char *err, size_t errcap)
{
    const struct moetier_gguf_value *v = moetier_gguf_kv_find(m->files[i], key);
    if (!v)
        return -ENOENT;
    int rc = moetier_gguf_value_get_u64(v, out);
    if (rc == 0)
        return 0;
    return set_err(err, errcap, -EBADMSG, "%s%s%s has type %s; it must be a non-negative integer",
                   m->n_files > 1 ? base_name(m->paths[i]) : "", m->n_files > 1 ? ": " : "", key,
                   moetier_gguf_type_name(v->type));
}

int moetier_gguf_model_assemble(struct moetier_gguf **files, const char *const *paths, size_t n,
                                struct moetier_gguf_model **out, char *err, size_t errcap)
{
    struct moetier_gguf_model *m = NULL;
    int rc;

    if (err && errcap)
        err[0] = '\0';
    if (!files || !out || n == 0 || n > MOETIER_GGUF_MAX_SPLITS) {
        rc = set_err(err, errcap, -EINVAL, "bad argument");
        goto out_files;
    }
    *out = NULL;
    m = calloc(1, sizeof *m);
    if (!m || !(m->files = calloc(n, sizeof *m->files)) || !(m->paths = calloc(n, sizeof *m->paths))) {
        rc = set_err(err, errcap, -ENOMEM, "out of memory");
        goto out_files;
    }
    m->n_files = n;
    for (size_t i = 0; i < n; i++) {
        m->files[i] = files[i];
        files[i] = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        char num[32];
        moetier_fmt(num, sizeof num, "part %zu", i + 1);
        m->paths[i] = strdup(paths && paths[i] ? paths[i] : num);
        if (!m->paths[i]) {
            rc = set_err(err, errcap, -ENOMEM, "out of memory");
            goto out_model;
        }
    }

    /* split.count / split.no on every part */
    for (size_t i = 0; i < n; i++) {
        const char *pfx = n > 1 ? base_name(m->paths[i]) : "";
        const char *sep = n > 1 ? ": " : "";
        uint64_t count = 1, no = 0;
        rc = split_key(m, i, "split.count", &count, err, errcap);
        if (rc == -ENOENT && n > 1) {
            rc = set_err(err, errcap, -EBADMSG, "%s%shas no split.count; it is not part of a split model",
                         pfx, sep);
            goto out_model;
        }
        if (rc && rc != -ENOENT)
            goto out_model;
        if (count == 0) {
            rc = set_err(err, errcap, -EBADMSG, "%s%ssplit.count is 0", pfx, sep);
            goto out_model;
        }
        if (count != n) {
            if (n == 1)
                rc = set_err(err, errcap, -EBADMSG,
                             "split.count is %llu: this file is one part of a split model",
                             (unsigned long long)count);
            else
                rc = set_err(err, errcap, -EBADMSG, "%s%ssplit.count is %llu, but the model has %zu parts",
                             pfx, sep, (unsigned long long)count, n);
            goto out_model;
        }
        rc = split_key(m, i, "split.no", &no, err, errcap);
        if (rc == -ENOENT && n > 1) {
            rc = set_err(err, errcap, -EBADMSG, "%s%shas no split.no", pfx, sep);
            goto out_model;
        }
        if (rc && rc != -ENOENT)
            goto out_model;
        if (no != i) {
            rc = set_err(err, errcap, -EBADMSG, "%s%ssplit.no is %llu; part %zu should say %zu", pfx, sep,
                         (unsigned long long)no, i + 1, i);
            goto out_model;
        }
    }

    /* the union of the tensors */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        total += m->files[i]->n_tensors;
        m->size += m->files[i]->file_size;
    }
    m->tensors = calloc(total ? total : 1, sizeof *m->tensors);
    m->sorted = calloc(total ? total : 1, sizeof *m->sorted);
    if (!m->tensors || !m->sorted) {
        rc = set_err(err, errcap, -ENOMEM, "out of memory");
        goto out_model;
    }
    for (size_t i = 0; i < n; i++) {
        struct moetier_gguf *g = m->files[i];
        for (size_t k = 0; k < g->n_tensors; k++) {
            g->tensors[k].file = (int)i;
            m->tensors[m->n_tensors++] = &g->tensors[k];
        }
    }
    memcpy(m->sorted, m->tensors, total * sizeof *m->sorted);
    qsort(m->sorted, total, sizeof *m->sorted, cmp_tptr_name);
    for (size_t k = 1; k < total; k++) {
        if (strcmp(m->sorted[k - 1]->name, m->sorted[k]->name) == 0) {
            char name[200];
            rc = set_err(err, errcap, -EBADMSG, "tensor '%s' appears in part %d and in part %d",
                         moetier_gguf_sanitize(m->sorted[k]->name, strlen(m->sorted[k]->name), name, sizeof name),
                         m->sorted[k - 1]->file + 1, m->sorted[k]->file + 1);
            goto out_model;
        }
    }
    uint64_t want;
    rc = split_key(m, 0, "split.tensors.count", &want, err, errcap);
    if (rc && rc != -ENOENT)
        goto out_model;
    if (rc == 0 && want != total) {
        rc = set_err(err, errcap, -EBADMSG, "split.tensors.count is %llu, but the parts hold %zu tensors",
                     (unsigned long long)want, total);
        goto out_model;
    }
    *out = m;
    return 0;

out_model:
    moetier_gguf_model_close(m);
    return rc;
out_files:
    if (m) {
        free(m->files);
        free(m->paths);
        free(m);
    }
    for (size_t i = 0; files && i < n; i++) {
        moetier_gguf_close(files[i]);
        files[i] = NULL;
    }
    return rc;
}

/* Parses "-NNNNN-of-MMMMM.gguf" at the end of path: 0 and the numbers, or -1. */
static int split_suffix(const char *path, size_t *prefix_len, unsigned *no, unsigned *count)
{
    static const char tmpl[] = "-00000-of-00000.gguf";
    size_t tl = sizeof tmpl - 1, len = strlen(path);
    if (len < tl)
        return -1;
    const char *s = path + len - tl;
    unsigned a = 0, b = 0;
    for (size_t i = 0; i < tl; i++) {
        if (tmpl[i] == '0') {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            if (i < 6)
                a = a * 10 + (unsigned)(s[i] - '0');
            else
                b = b * 10 + (unsigned)(s[i] - '0');
        } else if (s[i] != tmpl[i]) {
            return -1;
        }
    }
    *prefix_len = len - tl;
    *no = a;
    *count = b;
    return 0;
}

int moetier_gguf_model_open(const char *path, struct moetier_gguf_model **out, char *err,
                            size_t errcap)
{
    struct moetier_gguf *first = NULL, **files = NULL;
    char **paths = NULL;
    uint64_t count = 1, no = 0;
    size_t prefix_len = 0, n = 0;
    unsigned name_no, name_count;
    int rc;

    if (err && errcap)
        err[0] = '\0';
    if (!path || !out)
        return set_err(err, errcap, -EINVAL, "bad argument");
    *out = NULL;
    if ((rc = moetier_gguf_open(path, &first, err, errcap)))
        return rc;

    const struct moetier_gguf_value *v = moetier_gguf_kv_find(first, "split.count");
    if (v && (rc = moetier_gguf_value_get_u64(v, &count))) {
        rc = set_err(err, errcap, -EBADMSG, "split.count has type %s; it must be a non-negative integer",
                     moetier_gguf_type_name(v->type));
        goto out_first;
    }
    if (count <= 1) {
        const char *p1[1] = { path };
        return moetier_gguf_model_assemble(&first, p1, 1, out, err, errcap);
    }

    if (count > MOETIER_GGUF_MAX_SPLITS) {
        rc = set_err(err, errcap, -EBADMSG, "split.count %llu is absurd (file names allow at most %u parts)",
                     (unsigned long long)count, MOETIER_GGUF_MAX_SPLITS);
        goto out_first;
    }
    v = moetier_gguf_kv_find(first, "split.no");
    if (v && moetier_gguf_value_get_u64(v, &no) == 0 && no >= count) {
        rc = set_err(err, errcap, -EBADMSG, "split.no %llu is not below split.count %llu",
                     (unsigned long long)no, (unsigned long long)count);
        goto out_first;
    }
    if (no != 0) {
        char want[40];
        moetier_fmt(want, sizeof want, "-00001-of-%05llu.gguf", (unsigned long long)count);
        rc = set_err(err, errcap, -EINVAL,
                     "this is part %llu of a %llu-part split model; open the first part (...%s)",
                     (unsigned long long)no + 1, (unsigned long long)count, want);
        goto out_first;
    }
    if (split_suffix(path, &prefix_len, &name_no, &name_count) != 0 || name_no != 1 ||
        name_count != count) {
        rc = set_err(err, errcap, -EBADMSG,
                     "split.count is %llu, but the file name does not end in -00001-of-%05llu.gguf",
                     (unsigned long long)count, (unsigned long long)count);
        goto out_first;
    }

    n = (size_t)count;
    files = calloc(n, sizeof *files);
    paths = calloc(n, sizeof *paths);
    if (!files || !paths) {
        rc = set_err(err, errcap, -ENOMEM, "out of memory");
        goto out_parts;
    }
    files[0] = first;
    first = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t cap = prefix_len + 32;
        paths[i] = malloc(cap);
        if (!paths[i]) {
            rc = set_err(err, errcap, -ENOMEM, "out of memory");
            goto out_parts;
        }
        memcpy(paths[i], path, prefix_len);
        moetier_fmt(paths[i] + prefix_len, cap - prefix_len, "-%05zu-of-%05zu.gguf", i + 1, n);
        if (i == 0)
            continue;
        char sub[MOETIER_GGUF_ERR_MAX];
        rc = moetier_gguf_open(paths[i], &files[i], sub, sizeof sub);
        if (rc) {
            set_err(err, errcap, rc, "%s: %s", base_name(paths[i]), sub);
            goto out_parts;
        }
    }
    /* takes (and clears) files[], whatever the outcome */
    rc = moetier_gguf_model_assemble(files, (const char *const *)paths, n, out, err, errcap);

out_parts:
    for (size_t i = 0; files && i < n; i++)
        moetier_gguf_close(files[i]);
    for (size_t i = 0; paths && i < n; i++)
        free(paths[i]);
    free(files);
    free(paths);
out_first:
    moetier_gguf_close(first);
    return rc;
}

size_t moetier_gguf_model_n_files(const struct moetier_gguf_model *m) { return m->n_files; }
uint64_t moetier_gguf_model_size(const struct moetier_gguf_model *m) { return m->size; }
size_t moetier_gguf_model_n_tensors(const struct moetier_gguf_model *m) { return m->n_tensors; }

const char *moetier_gguf_model_path(const struct moetier_gguf_model *m, size_t i)
{
    return i < m->n_files ? m->paths[i] : NULL;
}

const struct moetier_gguf *moetier_gguf_model_file(const struct moetier_gguf_model *m, size_t i)
{
    return i < m->n_files ? m->files[i] : NULL;
}

const struct moetier_gguf_tensor *moetier_gguf_model_tensor(const struct moetier_gguf_model *m,
                                                            size_t i)
{
    return i < m->n_tensors ? m->tensors[i] : NULL;
}

const struct moetier_gguf_tensor *moetier_gguf_model_find_tensor(const struct moetier_gguf_model *m,
                                                                 const char *name)
{
    size_t lo = 0, hi = m->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->sorted[mid]->name, name);
        if (c == 0)
            return m->sorted[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}
