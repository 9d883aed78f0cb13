/*
 * test_expert_map: the expert map and split models on hand-built files.
 *
 * Ranges, order, totals and lookups of a Mixtral-style model; shared experts
 * and per-layer differences; the fused gate_up; a two-part split model opened
 * through its first part (file indices on tensors and ranges); every split
 * defect (missing part, wrong split.no, a later part opened directly, the same
 * tensor in two parts, a wrong split.tensors.count, a name that does not
 * match); every expert-map defect (count mismatches, shapes, mixed fused and
 * separate tensors). Exit 0 on success, 1 on any failure.
 */
#include "config.h"

#include "profiler/expert_map.h"
#include "profiler/gguf.h"
#include "tests/gguf/tgw.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8 };

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

static void t2(struct tgw *w, const char *name, int64_t a, int64_t b, uint32_t type)
{
    int64_t ne[2] = { a, b };
    tgw_tensor(w, name, 2, ne, type);
}

static void t3(struct tgw *w, const char *name, int64_t a, int64_t b, int64_t c, uint32_t type)
{
    int64_t ne[3] = { a, b, c };
    tgw_tensor(w, name, 3, ne, type);
}

/* Parses a finished image as a one-file model. */
static int model_of(struct tgw *w, struct moetier_gguf_model **m, char *err)
{
    struct moetier_gguf *g = NULL;
    int rc = moetier_gguf_parse(w->p, w->n, &g, err, MOETIER_GGUF_ERR_MAX);
    if (rc)
        return rc;
    return moetier_gguf_model_assemble(&g, NULL, 1, m, err, MOETIER_GGUF_ERR_MAX);
}

/* Builds the map of a finished image expecting failure code with want in the message. */
static void expect_map_err(struct tgw *w, int code, const char *want, const char *what)
{
    struct moetier_gguf_model *m = NULL;
    struct moetier_expert_map *map = NULL;
    char err[MOETIER_GGUF_ERR_MAX] = "";
    int rc = model_of(w, &m, err);
    CHECK(rc == 0, "%s: model: %s", what, err);
    if (rc == 0) {
        rc = moetier_expert_map_build(m, &map, err, sizeof err);
        CHECK(rc == code && map == NULL, "%s: rc %d, want %d (%s)", what, rc, code, err);
        CHECK(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", what, err, want);
    }
    moetier_expert_map_free(map);
    moetier_gguf_model_close(m);
    tgw_free(w);
}

/* ---- Mixtral-style --------------------------------------------------------------- */

/* 3 blocks, 4 experts; gate q8_0 [32,2,4] 68 B, up q4_0 [32,2,4] 36 B,
 * down f16 [2,32,4] 128 B per expert. */
static void mixtral(struct tgw *w)
{
    tgw_init(w, 3, 32);
    tgw_kv_str(w, "general.architecture", "llama");
    tgw_kv_u32(w, "llama.block_count", 3);
    tgw_kv_u32(w, "llama.expert_count", 4);
    tgw_kv_u32(w, "llama.expert_used_count", 2);
    t2(w, "token_embd.weight", 32, 3, F16);
    static const char *const n[3][3] = {
        { "blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight", "blk.0.ffn_down_exps.weight" },
        { "blk.1.ffn_gate_exps.weight", "blk.1.ffn_up_exps.weight", "blk.1.ffn_down_exps.weight" },
        { "blk.2.ffn_gate_exps.weight", "blk.2.ffn_up_exps.weight", "blk.2.ffn_down_exps.weight" },
    };
    /* block 2 first and down before gate: order in the file must not matter */
    t3(w, n[2][2], 2, 32, 4, F16);
    t3(w, n[2][0], 32, 2, 4, Q8_0);
    t3(w, n[2][1], 32, 2, 4, Q4_0);
    for (int l = 0; l < 2; l++) {
        t3(w, n[l][0], 32, 2, 4, Q8_0);
        t3(w, n[l][1], 32, 2, 4, Q4_0);
        t3(w, n[l][2], 2, 32, 4, F16);
    }
    t2(w, "blk.0.ffn_gate_inp.weight", 32, 4, F32);
    tgw_finish(w);
}

static const struct tgw_tensor *find(const struct tgw *w, const char *name)
{
    for (size_t i = 0; i < w->n_tensors; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return &w->t[i];
    return NULL;
}

static void test_mixtral(void)
{
    struct tgw w;
    struct moetier_gguf_model *m = NULL;
    struct moetier_expert_map *map = NULL;
    char err[MOETIER_GGUF_ERR_MAX];

    mixtral(&w);
    int rc = model_of(&w, &m, err);
    CHECK(rc == 0, "model: %s", err);
    if (rc == 0)
        rc = moetier_expert_map_build(m, &map, err, sizeof err);
    CHECK(rc == 0, "map: %s", err);
    if (rc) {
        moetier_gguf_model_close(m);
        tgw_free(&w);
        return;
    }
    CHECK(map->architecture && strcmp(map->architecture, "llama") == 0, "architecture");
    CHECK(map->n_layers == 3 && map->n_expert == 4 && map->n_experts == 12, "counts");
    CHECK(map->n_expert_used == 2 && map->n_expert_shared == -1 && map->block_count == 3, "metadata");
    CHECK(map->expert_bytes_min == 232 && map->expert_bytes_max == 232, "expert bytes");
    CHECK(map->expert_bytes_total == 12 * 232, "total %llu", (unsigned long long)map->expert_bytes_total);
    CHECK(map->shared_expert_bytes == 0, "shared");
    CHECK(map->other_bytes_total == 32 * 3 * 2 + 32 * 4 * 4, "other %llu",
          (unsigned long long)map->other_bytes_total);
    static const char *const parts[3] = { "gate", "up", "down" };
    for (size_t i = 0; i < map->n_experts; i++) {
        const struct moetier_expert *e = &map->experts[i];
        CHECK(e->layer == (int)(i / 4) && e->expert == (int)(i % 4), "order at %zu", i);
        CHECK(e->n_ranges == 3 && e->bytes == 232, "expert %zu ranges", i);
        for (int r = 0; r < e->n_ranges && r < 3; r++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.ffn_%s_exps.weight", e->layer, parts[r]);
            const struct tgw_tensor *t = find(&w, name);
            uint64_t nb2 = t->size / 4;
            CHECK(e->range[r].part == r, "part");
            CHECK(e->range[r].off == w.at_data + t->offset + (uint64_t)e->expert * nb2 &&
                      e->range[r].len == nb2 && e->range[r].file == 0,
                  "expert %d/%d range %d", e->layer, e->expert, r);
            const struct moetier_expert *hit = NULL;
            int hr = -1;
            CHECK(moetier_expert_map_locate(map, 0, e->range[r].off + nb2 / 2, &hit, &hr) == 0 &&
                      hit == e && hr == r, "locate %d/%d/%d", e->layer, e->expert, r);
        }
        CHECK(moetier_expert_map_find(map, e->layer, e->expert) == e, "find");
    }
    CHECK(map->layers[0].tensor[0].type == Q8_0 && map->layers[0].tensor[1].type == Q4_0 &&
              map->layers[0].tensor[2].type == F16 && map->layers[0].tensor[2].expert_bytes == 128,
          "layer tensors");
    CHECK(moetier_expert_map_find(map, 3, 0) == NULL && moetier_expert_map_find(map, 0, 4) == NULL &&
              moetier_expert_map_find(map, 0, -1) == NULL, "find outside");
    const struct moetier_expert *hit;
    int hr;
    CHECK(moetier_expert_map_locate(map, 0, 0, &hit, &hr) == -ENOENT, "locate in the header");
    CHECK(moetier_expert_map_locate(map, 0, w.at_data + find(&w, "token_embd.weight")->offset, &hit,
                                    &hr) == -ENOENT, "locate in another tensor");
    CHECK(moetier_expert_map_locate(map, 1, map->experts[0].range[0].off, &hit, &hr) == -ENOENT,
          "locate in another file");
    moetier_expert_map_free(map);
    moetier_gguf_model_close(m);
    tgw_free(&w);
}

/* Shared experts, a dense block, layers of different sizes, no metadata. */
static void test_shared(void)
{
    struct tgw w;
    struct moetier_gguf_model *m = NULL;
    struct moetier_expert_map *map = NULL;
    char err[MOETIER_GGUF_ERR_MAX];

    tgw_init(&w, 2, 64);
    tgw_kv_u32(&w, "general.alignment", 64);
    t2(&w, "blk.0.ffn_up.weight", 32, 2, F16);
    t3(&w, "blk.1.ffn_gate_exps.weight", 32, 2, 2, Q8_0);
    t3(&w, "blk.1.ffn_up_exps.weight", 32, 2, 2, Q8_0);
    t3(&w, "blk.1.ffn_down_exps.weight", 2, 32, 2, F16);
    t2(&w, "blk.1.ffn_gate_shexp.weight", 32, 2, F16);
    t2(&w, "blk.1.ffn_up_shexp.weight", 32, 2, F16);
    t2(&w, "blk.1.ffn_down_shexp.weight", 2, 32, F16);
    t3(&w, "blk.3.ffn_up_exps.weight", 32, 2, 2, Q4_0);
    t3(&w, "blk.3.ffn_down_exps.weight", 2, 32, 2, F32);
    t3(&w, "blk.01.ffn_up_exps.weight", 32, 2, 2, Q4_0); /* not a block name: other */
    tgw_finish(&w);
    int rc = model_of(&w, &m, err);
    if (rc == 0)
        rc = moetier_expert_map_build(m, &map, err, sizeof err);
    CHECK(rc == 0, "shared: %s", err);
    if (rc == 0) {
        CHECK(map->architecture == NULL && map->n_expert_used == -1, "no metadata");
        CHECK(map->n_layers == 2 && map->layers[0].layer == 1 && map->layers[1].layer == 3, "layers");
        CHECK(map->layers[1].n_tensors == 2 && map->layers[1].tensor[0].part == MOETIER_EXPERT_UP,
              "block without gate");
        CHECK(map->expert_bytes_min == 68 + 68 + 128 && map->expert_bytes_max == 36 + 256, "min/max");
        CHECK(map->experts[2].n_ranges == 2 && map->experts[2].bytes == 292, "ranges without gate");
        CHECK(map->shared_expert_bytes == 3 * 128 && map->n_shared_tensors == 3, "shared bytes");
        CHECK(map->other_bytes_total == 128 + 72, "other bytes %llu", (unsigned long long)map->other_bytes_total);
        CHECK(map->expert_bytes_total == 2 * 264 + 2 * 292, "total");
    }
    moetier_expert_map_free(map);
    moetier_gguf_model_close(m);
    tgw_free(&w);
}

static void test_fused(void)
{
    struct tgw w;
    struct moetier_gguf_model *m = NULL;
    struct moetier_expert_map *map = NULL;
    char err[MOETIER_GGUF_ERR_MAX];

    tgw_init(&w, 3, 32);
    tgw_kv_str(&w, "general.architecture", "x");
    tgw_kv_u32(&w, "x.expert_count", 2);
    t3(&w, "blk.0.ffn_gate_up_exps.weight", 32, 4, 2, Q8_0);
    t3(&w, "blk.0.ffn_down_exps.weight", 2, 32, 2, F16);
    t2(&w, "blk.0.ffn_down_exps.bias", 32, 2, F32);
    tgw_finish(&w);
    int rc = model_of(&w, &m, err);
    if (rc == 0)
        rc = moetier_expert_map_build(m, &map, err, sizeof err);
    CHECK(rc == 0, "fused: %s", err);
    if (rc == 0) {
        const struct moetier_expert *e = moetier_expert_map_find(map, 0, 1);
        CHECK(e && e->n_ranges == 2 && e->range[0].part == MOETIER_EXPERT_GATE_UP &&
                  e->range[0].len == 136 && e->range[1].part == MOETIER_EXPERT_DOWN &&
                  e->range[1].len == 128, "fused ranges");
        CHECK(map->other_bytes_total == 256, "bias is other");
    }
    moetier_expert_map_free(map);
    moetier_gguf_model_close(m);
    tgw_free(&w);
}

/* ---- expert map defects ---------------------------------------------------------- */

static void base(struct tgw *w, uint32_t expert_count, uint32_t used)
{
    tgw_init(w, 3, 32);
    tgw_kv_str(w, "general.architecture", "llama");
    tgw_kv_u32(w, "llama.block_count", 4);
    if (expert_count)
        tgw_kv_u32(w, "llama.expert_count", expert_count);
    if (used)
        tgw_kv_u32(w, "llama.expert_used_count", used);
}

static void test_map_defects(void)
{
    struct tgw w;

    base(&w, 8, 2);
    t3(&w, "blk.0.ffn_up_exps.weight", 32, 2, 4, Q8_0);
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG,
                   "tensor 'blk.0.ffn_up_exps.weight' has 4 experts (ne[2]), but llama.expert_count is 8",
                   "expert_count mismatch");

    base(&w, 0, 0);
    t3(&w, "blk.0.ffn_up_exps.weight", 32, 2, 4, Q8_0);
    t3(&w, "blk.1.ffn_up_exps.weight", 32, 2, 8, Q8_0);
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG, "tensor 'blk.1.ffn_up_exps.weight' has 8 experts (ne[2]), but",
                   "layers disagree");

    base(&w, 4, 0);
    t2(&w, "blk.0.ffn_up_exps.weight", 32, 8, Q8_0);
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG, "has 2 dimensions; expert tensors are 3-D", "2-D expert tensor");

    base(&w, 4, 0);
    t3(&w, "blk.0.ffn_up_exps.weight", 0, 2, 4, F16);
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG, "tensor 'blk.0.ffn_up_exps.weight' is empty", "empty expert tensor");

    base(&w, 4, 6);
    t3(&w, "blk.0.ffn_up_exps.weight", 32, 2, 4, Q8_0);
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG, "llama.expert_used_count 6 is more than llama.expert_count 4",
                   "used > count");

    base(&w, 0, 6);
    t3(&w, "blk.0.ffn_up_exps.weight", 32, 2, 4, Q8_0);
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG, "llama.expert_used_count 6 is more than the 4 experts per layer",
                   "used > experts");

    base(&w, 4, 0);
    t3(&w, "blk.4.ffn_up_exps.weight", 32, 2, 4, Q8_0);
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG, "tensor 'blk.4.ffn_up_exps.weight': block 4 is not below llama.block_count 4",
                   "block beyond block_count");

    base(&w, 4, 0);
    t3(&w, "blk.0.ffn_gate_exps.weight", 32, 2, 4, Q8_0);
    t3(&w, "blk.0.ffn_gate_up_exps.weight", 32, 4, 4, Q8_0);
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG, "block 0 has both ffn_gate_exps and ffn_gate_up_exps", "gate + gate_up");

    base(&w, 4, 0);
    t3(&w, "blk.0.ffn_gate_up_exps.weight", 32, 4, 4, Q8_0);
    t3(&w, "blk.0.ffn_up_exps.weight", 32, 2, 4, Q8_0);
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG, "block 0 has both ffn_gate_up_exps and ffn_up_exps", "gate_up + up");

    tgw_init(&w, 3, 32);
    tgw_kv_str(&w, "general.architecture", "llama");
    tgw_kv_str(&w, "llama.expert_count", "eight");
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG, "llama.expert_count has type str; it must be an integer", "count type");

    tgw_init(&w, 3, 32);
    tgw_kv_u32(&w, "general.architecture", 7);
    tgw_finish(&w);
    expect_map_err(&w, -EBADMSG, "general.architecture has type u32; it must be a string", "arch type");

    base(&w, 0, 0);
    t3(&w, "blk.0.ffn_up_exps.weight", 1, 1, 70000, F32);
    tgw_finish(&w);
    expect_map_err(&w, -E2BIG, "has 70000 experts (the limit is 65536)", "too many experts");
}

/* ---- split models ------------------------------------------------------------------- */

enum { SPLIT_OK, SPLIT_BAD_NO, SPLIT_DUP, SPLIT_COUNT, SPLIT_NO_COUNT };

static void split_part(struct tgw *w, int part, int defect)
{
    tgw_init(w, 3, 32);
    if (part == 0) {
        tgw_kv_str(w, "general.architecture", "llama");
        tgw_kv_u32(w, "llama.expert_count", 2);
    }
    tgw_kv_u16(w, "split.no", (uint16_t)(defect == SPLIT_BAD_NO && part == 1 ? 2 : part));
    if (!(defect == SPLIT_NO_COUNT && part == 1))
        tgw_kv_u16(w, "split.count", 2);
    tgw_kv_i32(w, "split.tensors.count", defect == SPLIT_COUNT ? 5 : 4);
    if (part == 0) {
        t2(w, "token_embd.weight", 32, 3, F16);
        t3(w, "blk.0.ffn_up_exps.weight", 32, 2, 2, Q8_0);
    } else {
        t3(w, defect == SPLIT_DUP ? "blk.0.ffn_up_exps.weight" : "blk.1.ffn_up_exps.weight", 32, 2, 2, Q8_0);
        t3(w, "blk.1.ffn_down_exps.weight", 2, 32, 2, F16);
    }
    tgw_finish(w);
}

/* Writes both parts under prefix; returns the first part's path. */
static const char *write_split(const char *prefix, int defect, int skip_second)
{
    static char first[512];
    char path[512];
    struct tgw w;
    for (int part = 0; part < 2; part++) {
        snprintf(path, sizeof path, "%s/%s-%05d-of-00002.gguf", tmpdir, prefix, part + 1);
        if (part == 0)
            snprintf(first, sizeof first, "%s", path);
        split_part(&w, part, defect);
        if (!(skip_second && part == 1) && tgw_save(&w, path) != 0) {
            fprintf(stderr, "cannot write %s\n", path);
            exit(1);
        }
        tgw_free(&w);
    }
    return first;
}

static void expect_open_err(const char *path, int code, const char *want, const char *what)
{
    struct moetier_gguf_model *m = NULL;
    char err[MOETIER_GGUF_ERR_MAX] = "";
    int rc = moetier_gguf_model_open(path, &m, err, sizeof err);
    CHECK(rc == code && m == NULL, "%s: rc %d, want %d (%s)", what, rc, code, err);
    CHECK(strstr(err, want) != NULL, "%s: message '%s' lacks '%s'", what, err, want);
    moetier_gguf_model_close(m);
}

static void test_split(void)
{
    struct moetier_gguf_model *m = NULL;
    struct moetier_expert_map *map = NULL;
    char err[MOETIER_GGUF_ERR_MAX];

    const char *first = write_split("ok", SPLIT_OK, 0);
    int rc = moetier_gguf_model_open(first, &m, err, sizeof err);
    CHECK(rc == 0, "split open: %s", err);
    if (rc == 0) {
        CHECK(moetier_gguf_model_n_files(m) == 2, "two files");
        CHECK(strstr(moetier_gguf_model_path(m, 1), "/ok-00002-of-00002.gguf") != NULL, "second path");
        CHECK(moetier_gguf_model_n_tensors(m) == 4, "four tensors");
        const struct moetier_gguf_tensor *t = moetier_gguf_model_find_tensor(m, "blk.1.ffn_down_exps.weight");
        CHECK(t && t->file == 1, "tensor in part 2");
        CHECK(moetier_gguf_model_find_tensor(m, "token_embd.weight")->file == 0, "tensor in part 1");
        CHECK(moetier_gguf_model_size(m) == moetier_gguf_file_size(moetier_gguf_model_file(m, 0)) +
                                                 moetier_gguf_file_size(moetier_gguf_model_file(m, 1)),
              "model size");
        rc = moetier_expert_map_build(m, &map, err, sizeof err);
        CHECK(rc == 0, "split map: %s", err);
        if (rc == 0) {
            const struct moetier_expert *e0 = moetier_expert_map_find(map, 0, 1);
            const struct moetier_expert *e1 = moetier_expert_map_find(map, 1, 1);
            CHECK(e0 && e0->n_ranges == 1 && e0->range[0].file == 0, "layer 0 in file 0");
            CHECK(e1 && e1->n_ranges == 2 && e1->range[0].file == 1 && e1->range[1].file == 1,
                  "layer 1 in file 1");
            const struct moetier_expert *hit;
            int hr;
            CHECK(moetier_expert_map_locate(map, 1, e1->range[1].off, &hit, &hr) == 0 && hit == e1 &&
                      hr == 1, "locate in file 1");
        }
    }
    moetier_expert_map_free(map);
    moetier_gguf_model_close(m);

    first = write_split("missing", SPLIT_OK, 1);
    expect_open_err(first, -ENOENT, "missing-00002-of-00002.gguf: No such file or directory", "missing part");
    first = write_split("badno", SPLIT_BAD_NO, 0);
    expect_open_err(first, -EBADMSG, "badno-00002-of-00002.gguf: split.no is 2; part 2 should say 1", "split.no");
    first = write_split("dup", SPLIT_DUP, 0);
    expect_open_err(first, -EBADMSG, "tensor 'blk.0.ffn_up_exps.weight' appears in part 1 and in part 2", "dup");
    first = write_split("count", SPLIT_COUNT, 0);
    expect_open_err(first, -EBADMSG, "split.tensors.count is 5, but the parts hold 4 tensors", "tensors.count");
    first = write_split("nocount", SPLIT_NO_COUNT, 0);
    expect_open_err(first, -EBADMSG, "nocount-00002-of-00002.gguf: has no split.count", "no split.count");

    char second[512], renamed[512];
    snprintf(second, sizeof second, "%s/ok-00002-of-00002.gguf", tmpdir);
    expect_open_err(second, -EINVAL, "this is part 2 of a 2-part split model; open the first part", "part 2");
    snprintf(renamed, sizeof renamed, "%s/renamed.gguf", tmpdir);
    CHECK(link(write_split("ok", SPLIT_OK, 0), renamed) == 0, "link");
    expect_open_err(renamed, -EBADMSG, "split.count is 2, but the file name does not end in -00001-of-00002.gguf",
                    "renamed first part");

    /* a part alone through assemble */
    struct tgw w;
    struct moetier_gguf *g = NULL;
    split_part(&w, 0, SPLIT_OK);
    CHECK(moetier_gguf_parse(w.p, w.n, &g, err, sizeof err) == 0, "parse part");
    rc = moetier_gguf_model_assemble(&g, NULL, 1, &m, err, sizeof err);
    CHECK(rc == -EBADMSG && strstr(err, "split.count is 2: this file is one part of a split model") && !g,
          "part alone: %d %s", rc, err);
    tgw_free(&w);
}

int main(void)
{
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/moetier-test-map.XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_mixtral();
    test_shared();
    test_fused();
    test_map_defects();
    test_split();

    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", tmpdir);
    if (failures) {
        fprintf(stderr, "test_expert_map: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_expert_map: all checks passed\n");
    return 0;
}
