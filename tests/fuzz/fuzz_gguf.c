/*
 * fuzz_gguf: libFuzzer target for the GGUF reader and the expert map.
 *
 * Each input is read twice:
 *  1. as one GGUF image: moetier_gguf_parse, every accessor, a one-file model,
 *     the expert map, lookups;
 *  2. cut at every later "GGUF" magic (at most 8 pieces), as the parts of a
 *     split model: each piece parsed, then moetier_gguf_model_assemble, which
 *     checks split.count / split.no / duplicate tensors across parts.
 * Besides ASan/UBSan findings, the target traps when a promise of gguf.h or
 * expert_map.h is broken: tensor data outside the image, overlapping tensors,
 * an expert range outside its tensor, byte totals that do not add up, a lookup
 * that does not find what the map lists, an error without a message.
 *
 * Build and run: make fuzz; make fuzz-run FUZZ_SECONDS=600 (tests/gguf.mk).
 */
#include "profiler/expert_map.h"
#include "profiler/gguf.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static volatile uint64_t sink;

static void touch_value(const struct moetier_gguf_value *v, int depth)
{
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    int64_t i64;
    float f;
    double d;
    int b;
    const char *s;
    size_t len;
    if (moetier_gguf_value_get_u32(v, &u32) == 0)
        sink += u32;
    if (moetier_gguf_value_get_u64(v, &u64) == 0)
        sink += u64;
    if (moetier_gguf_value_get_i32(v, &i32) == 0)
        sink += (uint64_t)i32;
    if (moetier_gguf_value_get_i64(v, &i64) == 0)
        sink += (uint64_t)i64;
    if (moetier_gguf_value_get_f32(v, &f) == 0)
        sink += (uint64_t)(f == f);
    if (moetier_gguf_value_get_f64(v, &d) == 0)
        sink += (uint64_t)(d == d);
    if (moetier_gguf_value_get_bool(v, &b) == 0)
        sink += (uint64_t)b;
    if (moetier_gguf_value_get_str(v, &s, &len) == 0) {
        CHECK(s[len] == '\0');
        sink += len ? (unsigned char)s[len - 1] : 0;
    }
    if (v->type == MOETIER_GGUF_ARRAY) {
        CHECK(depth < MOETIER_GGUF_MAX_NESTING);
        struct moetier_gguf_value e;
        CHECK(moetier_gguf_value_elem(v, v->n, &e) == -ERANGE);
        /* first and last few elements: enough to reach every decoding path */
        for (uint64_t i = 0; i < v->n && i < 4; i++) {
            CHECK(moetier_gguf_value_elem(v, i, &e) == 0);
            CHECK(e.type == v->elem_type);
            touch_value(&e, depth + 1);
        }
        if (v->n > 4) {
            CHECK(moetier_gguf_value_elem(v, v->n - 1, &e) == 0);
            touch_value(&e, depth + 1);
        }
    }
}

static int cmp_off(const void *a, const void *b)
{
    const struct moetier_gguf_tensor *x = *(const struct moetier_gguf_tensor *const *)a;
    const struct moetier_gguf_tensor *y = *(const struct moetier_gguf_tensor *const *)b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static void check_file(const struct moetier_gguf *g, size_t size)
{
    CHECK(moetier_gguf_file_size(g) == size);
    uint32_t v = moetier_gguf_version(g);
    CHECK(v == 2 || v == 3);
    uint32_t a = moetier_gguf_alignment(g);
    CHECK(a && !(a & (a - 1)));
    uint64_t data = moetier_gguf_data_offset(g);
    for (size_t i = 0; i < moetier_gguf_n_kv(g); i++) {
        const char *key = moetier_gguf_kv_key(g, i);
        CHECK(key && key[0]);
        CHECK(moetier_gguf_kv_find(g, key) == moetier_gguf_kv_value(g, i));
        touch_value(moetier_gguf_kv_value(g, i), 0);
    }
    for (size_t i = 0; i < moetier_gguf_n_tensors(g); i++) {
        const struct moetier_gguf_tensor *t = moetier_gguf_tensor(g, i);
        CHECK(moetier_gguf_find_tensor(g, t->name) == t);
        CHECK(t->n_dims <= 4);
        CHECK(t->offset >= data);
        CHECK((t->offset - data) % a == 0);
        CHECK(t->size == 0 || (t->offset <= size && t->size <= size - t->offset));
    }
}

static void check_model(const struct moetier_gguf_model *m)
{
    size_t n = moetier_gguf_model_n_tensors(m);
    const struct moetier_gguf_tensor **ts = malloc((n ? n : 1) * sizeof *ts);
    if (!ts)
        return;
    for (size_t i = 0; i < n; i++) {
        ts[i] = moetier_gguf_model_tensor(m, i);
        CHECK(moetier_gguf_model_find_tensor(m, ts[i]->name) == ts[i]);
        CHECK(ts[i]->file >= 0 && (size_t)ts[i]->file < moetier_gguf_model_n_files(m));
    }
    qsort(ts, n, sizeof *ts, cmp_off);
    for (size_t i = 1; i < n; i++)
        if (ts[i - 1]->file == ts[i]->file && ts[i - 1]->size && ts[i]->size)
            CHECK(ts[i - 1]->offset + ts[i - 1]->size <= ts[i]->offset);
    free(ts);

    struct moetier_expert_map *map;
    char err[MOETIER_GGUF_ERR_MAX];
    int rc = moetier_expert_map_build(m, &map, err, sizeof err);
    if (rc) {
        CHECK(rc < 0 && err[0]);
        return;
    }
    uint64_t sum = 0, all = map->shared_expert_bytes + map->other_bytes_total;
    CHECK(map->n_experts == map->n_layers * map->n_expert);
    for (size_t i = 0; i < map->n_experts; i++) {
        const struct moetier_expert *e = &map->experts[i];
        uint64_t b = 0;
        CHECK(e->n_ranges >= 1 && e->n_ranges <= 3);
        if (i)
            CHECK(e[-1].layer < e->layer || (e[-1].layer == e->layer && e[-1].expert + 1 == e->expert));
        for (int r = 0; r < e->n_ranges; r++) {
            const struct moetier_expert_range *x = &e->range[r];
            const struct moetier_expert *hit;
            int hr;
            b += x->len;
            CHECK(x->len > 0);
            CHECK(x->off + x->len <= moetier_gguf_file_size(moetier_gguf_model_file(m, (size_t)x->file)));
            CHECK(moetier_expert_map_locate(map, x->file, x->off, &hit, &hr) == 0 && hit == e && hr == r);
            CHECK(moetier_expert_map_locate(map, x->file, x->off + x->len - 1, &hit, &hr) == 0 &&
                  hit == e && hr == r);
        }
        CHECK(b == e->bytes);
        CHECK(e->bytes >= map->expert_bytes_min && e->bytes <= map->expert_bytes_max);
        CHECK(moetier_expert_map_find(map, e->layer, e->expert) == e);
        sum += b;
    }
    CHECK(sum == map->expert_bytes_total);
    all += sum;
    uint64_t tensors = 0;
    for (size_t i = 0; i < n; i++)
        tensors += moetier_gguf_model_tensor(m, i)->size;
    CHECK(all == tensors);
    moetier_expert_map_free(map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct moetier_gguf *g = NULL;
    struct moetier_gguf_model *m = NULL;
    char err[MOETIER_GGUF_ERR_MAX];

    /* 1. one file */
    int rc = moetier_gguf_parse(data, size, &g, err, sizeof err);
    if (rc) {
        CHECK(rc < 0 && err[0] && !memchr(err, '\n', strlen(err)));
    } else {
        check_file(g, size);
        rc = moetier_gguf_model_assemble(&g, NULL, 1, &m, err, sizeof err);
        CHECK(g == NULL);
        if (rc == 0) {
            check_model(m);
            moetier_gguf_model_close(m);
        } else {
            CHECK(err[0]);
        }
    }

    /* 2. pieces cut at each later "GGUF", as a split model */
    size_t cut[9], n = 0;
    cut[n++] = 0;
    for (size_t i = 4; i + 4 <= size && n < 8; i++)
        if (memcmp(data + i, "GGUF", 4) == 0)
            cut[n++] = i;
    if (n < 2)
        return 0;
    cut[n] = size;
    struct moetier_gguf *parts[8] = { 0 };
    for (size_t k = 0; k < n; k++) {
        if (moetier_gguf_parse(data + cut[k], cut[k + 1] - cut[k], &parts[k], err, sizeof err) != 0)
            goto out_parts;
        check_file(parts[k], cut[k + 1] - cut[k]);
    }
    if (moetier_gguf_model_assemble(parts, NULL, n, &m, err, sizeof err) == 0) {
        check_model(m);
        moetier_gguf_model_close(m);
    }
    return 0;
out_parts:
    for (size_t k = 0; k < n; k++)
        moetier_gguf_close(parts[k]);
    return 0;
}
