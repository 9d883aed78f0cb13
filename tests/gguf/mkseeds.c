/*
 * mkseeds: writes the small hand-built GGUF files the gguf tests and the fuzzer
 * start from (independent of `moetier mkmoe`).
 *
 *   mkseeds models DIR   the test models (tests/gguf/models/)
 *   mkseeds corpus DIR   the fuzz seeds (tests/fuzz/corpus-gguf/), with tiny shapes
 *
 * The outputs are committed; `make gguf-seeds` regenerates them. The shapes
 * are small but the layouts are those llama.cpp uses: 3-D expert tensors
 * [ne0, ne1, n_expert], quantized types with their real block sizes, v2 and v3,
 * a non-default alignment, shared experts, a fused gate_up, a split pair.
 */
#include "tests/gguf/tgw.h"

#include "profiler/ggml_types.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8, BF16 = 30 };

static const char *dir;
static int failed;

static void save(struct tgw *w, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    tgw_finish(w);
    if (tgw_save(w, path) != 0) {
        fprintf(stderr, "mkseeds: cannot write %s\n", path);
        failed = 1;
    }
    tgw_free(w);
}

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

static void t1(struct tgw *w, const char *name, int64_t a, uint32_t type)
{
    tgw_tensor(w, name, 1, &a, type);
}

static void tokenizer(struct tgw *w)
{
    static const char *const tokens[] = { "<unk>", "<s>", "</s>", "a", "b" };
    static const float scores[] = { 0, 0, 0, -1, -2 };
    tgw_kv_str(w, "tokenizer.ggml.model", "llama");
    tgw_kv_arr_str(w, "tokenizer.ggml.tokens", tokens, 5);
    tgw_kv_arr_f32(w, "tokenizer.ggml.scores", scores, 5);
}

/* Mixtral-style llama MoE, v3. */
static void tiny_v3(int small)
{
    struct tgw w;
    int64_t E = small ? 2 : 4, D = 32, F = small ? 1 : 2;
    tgw_init(&w, 3, 32);
    tgw_kv_str(&w, "general.architecture", "llama");
    tgw_kv_str(&w, "general.name", "tiny moe v3");
    tgw_kv_u32(&w, "llama.block_count", 2);
    tgw_kv_u32(&w, "llama.embedding_length", (uint32_t)D);
    tgw_kv_u32(&w, "llama.feed_forward_length", (uint32_t)F);
    tgw_kv_u32(&w, "llama.expert_count", (uint32_t)E);
    tgw_kv_u32(&w, "llama.expert_used_count", 2);
    if (!small)
        tokenizer(&w);
    t2(&w, "token_embd.weight", D, 5, F16);
    t1(&w, "output_norm.weight", D, F32);
    static const char *const names[2][5] = {
        { "blk.0.attn_norm.weight", "blk.0.ffn_gate_inp.weight", "blk.0.ffn_gate_exps.weight",
          "blk.0.ffn_up_exps.weight", "blk.0.ffn_down_exps.weight" },
        { "blk.1.attn_norm.weight", "blk.1.ffn_gate_inp.weight", "blk.1.ffn_gate_exps.weight",
          "blk.1.ffn_up_exps.weight", "blk.1.ffn_down_exps.weight" },
    };
    for (int l = 0; l < 2; l++) {
        t1(&w, names[l][0], D, F32);
        t2(&w, names[l][1], D, E, F16);
        t3(&w, names[l][2], D, F, E, Q8_0);
        t3(&w, names[l][3], D, F, E, Q4_0);
        t3(&w, names[l][4], F, D, E, F16);
    }
    save(&w, small ? "seed-v3" : "tiny-v3.gguf");
}

/* DeepSeek-style: v2, alignment 64, a dense first block, shared experts, and
 * layers whose experts differ in type (so in size). */
static void tiny_v2(int small)
{
    struct tgw w;
    int64_t E = small ? 2 : 4, D = 32, F = small ? 1 : 2;
    tgw_init(&w, 2, 64);
    tgw_kv_str(&w, "general.architecture", "deepseek2");
    tgw_kv_u32(&w, "general.alignment", 64);
    tgw_kv_u32(&w, "deepseek2.block_count", 3);
    tgw_kv_u32(&w, "deepseek2.leading_dense_block_count", 1);
    tgw_kv_u32(&w, "deepseek2.expert_count", (uint32_t)E);
    tgw_kv_u32(&w, "deepseek2.expert_used_count", 2);
    tgw_kv_u32(&w, "deepseek2.expert_shared_count", 1);
    t2(&w, "token_embd.weight", D, 5, F16);
    t2(&w, "blk.0.ffn_gate.weight", D, F, F16);
    t2(&w, "blk.0.ffn_up.weight", D, F, F16);
    t2(&w, "blk.0.ffn_down.weight", F, D, F16);
    t3(&w, "blk.1.ffn_gate_exps.weight", D, F, E, Q8_0);
    t3(&w, "blk.1.ffn_up_exps.weight", D, F, E, Q8_0);
    t3(&w, "blk.1.ffn_down_exps.weight", F, D, E, F16);
    t2(&w, "blk.1.ffn_gate_shexp.weight", D, F, F16);
    t2(&w, "blk.1.ffn_up_shexp.weight", D, F, F16);
    t2(&w, "blk.1.ffn_down_shexp.weight", F, D, F16);
    t3(&w, "blk.2.ffn_gate_exps.weight", D, F, E, Q4_0);
    t3(&w, "blk.2.ffn_up_exps.weight", D, F, E, Q4_0);
    t3(&w, "blk.2.ffn_down_exps.weight", F, D, E, BF16);
    t2(&w, "blk.2.ffn_gate_shexp.weight", D, F, F16);
    t2(&w, "blk.2.ffn_up_shexp.weight", D, F, F16);
    t2(&w, "blk.2.ffn_down_shexp.weight", F, D, F16);
    t1(&w, "output_norm.weight", D, F32);
    save(&w, small ? "seed-v2-shexp" : "tiny-v2.gguf");
}

/* Fused gate_up experts, expert biases, every scalar type and nested arrays,
 * no expert_used_count. */
static void fused(int small)
{
    struct tgw w;
    int64_t E = small ? 2 : 4, D = 32, F = small ? 1 : 2;
    tgw_init(&w, 3, 32);
    tgw_kv_str(&w, "general.architecture", "fusedmoe");
    tgw_kv_u32(&w, "fusedmoe.block_count", 2);
    tgw_kv_u64(&w, "fusedmoe.expert_count", (uint64_t)E);
    tgw_kv_bool(&w, "fusedmoe.norm_top_k", 1);
    tgw_kv_f32(&w, "fusedmoe.rope.freq_base", 10000.0f);
    tgw_kv_i32(&w, "fusedmoe.signed", -7);
    tgw_key(&w, "fusedmoe.i64", 11);
    tgw_u64(&w, (uint64_t)-5);
    tgw_key(&w, "fusedmoe.f64", 12);
    tgw_u64(&w, 0x3ff8000000000000ull); /* 1.5 */
    tgw_key(&w, "fusedmoe.u8", 0);
    tgw_u8(&w, 200);
    tgw_key(&w, "fusedmoe.i16", 3);
    tgw_u16(&w, 0xfffe);
    /* [[1, 2], [3]] as arrays of u32 */
    tgw_key(&w, "fusedmoe.nested", 9);
    tgw_u32(&w, 9);
    tgw_u64(&w, 2);
    tgw_u32(&w, 4);
    tgw_u64(&w, 2);
    tgw_u32(&w, 1);
    tgw_u32(&w, 2);
    tgw_u32(&w, 4);
    tgw_u64(&w, 1);
    tgw_u32(&w, 3);
    t2(&w, "token_embd.weight", D, 5, F16);
    t3(&w, "blk.0.ffn_gate_up_exps.weight", D, 2 * F, E, Q8_0);
    t3(&w, "blk.0.ffn_down_exps.weight", F, D, E, F16);
    t2(&w, "blk.0.ffn_down_exps.bias", D, E, F32);
    t3(&w, "blk.1.ffn_gate_up_exps.weight", D, 2 * F, E, Q8_0);
    t3(&w, "blk.1.ffn_down_exps.weight", F, D, E, F16);
    t2(&w, "blk.1.ffn_down_exps.bias", D, E, F32);
    save(&w, small ? "seed-fused-nested" : "fused.gguf");
}

/* Not a MoE model. */
static void dense(void)
{
    struct tgw w;
    tgw_init(&w, 3, 32);
    tgw_kv_str(&w, "general.architecture", "llama");
    tgw_kv_u32(&w, "llama.block_count", 1);
    t2(&w, "token_embd.weight", 32, 5, F16);
    t2(&w, "blk.0.ffn_up.weight", 32, 2, Q8_0);
    t2(&w, "blk.0.ffn_down.weight", 2, 32, F16);
    save(&w, "dense.gguf");
}

/* A llama MoE split in two parts, keys as llama.cpp's gguf-split writes them. */
static void split_part(struct tgw *w, int part, int small)
{
    int64_t E = small ? 2 : 4, D = 32, F = small ? 1 : 2;
    tgw_init(w, 3, 32);
    if (part == 0) {
        tgw_kv_str(w, "general.architecture", "llama");
        tgw_kv_u32(w, "llama.block_count", 2);
        tgw_kv_u32(w, "llama.expert_count", (uint32_t)E);
        tgw_kv_u32(w, "llama.expert_used_count", 2);
    }
    tgw_kv_u16(w, "split.no", (uint16_t)part);
    tgw_kv_u16(w, "split.count", 2);
    tgw_kv_i32(w, "split.tensors.count", 7);
    if (part == 0) {
        t2(w, "token_embd.weight", D, 5, F16);
        t3(w, "blk.0.ffn_gate_exps.weight", D, F, E, Q8_0);
        t3(w, "blk.0.ffn_up_exps.weight", D, F, E, Q8_0);
        t3(w, "blk.0.ffn_down_exps.weight", F, D, E, F16);
    } else {
        t3(w, "blk.1.ffn_gate_exps.weight", D, F, E, Q8_0);
        t3(w, "blk.1.ffn_up_exps.weight", D, F, E, Q8_0);
        t3(w, "blk.1.ffn_down_exps.weight", F, D, E, F16);
    }
}

static void split(void)
{
    struct tgw w;
    split_part(&w, 0, 0);
    save(&w, "split-00001-of-00002.gguf");
    split_part(&w, 1, 0);
    save(&w, "split-00002-of-00002.gguf");
}

/* The fuzz target cuts its input at every later "GGUF" and reads the pieces as
 * the parts of a split model: this seed is both parts back to back. */
static void split_seed(void)
{
    struct tgw a, b;
    split_part(&a, 0, 1);
    tgw_finish(&a);
    split_part(&b, 1, 1);
    tgw_finish(&b);
    tgw_bytes(&a, b.p, b.n);
    tgw_free(&b);
    char path[4096];
    snprintf(path, sizeof path, "%s/seed-split-pair", dir);
    if (tgw_save(&a, path) != 0) {
        fprintf(stderr, "mkseeds: cannot write %s\n", path);
        failed = 1;
    }
    tgw_free(&a);
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "models") != 0 && strcmp(argv[1], "corpus") != 0)) {
        fprintf(stderr, "usage: mkseeds models|corpus DIR\n");
        return 2;
    }
    dir = argv[2];
    if (strcmp(argv[1], "models") == 0) {
        tiny_v3(0);
        tiny_v2(0);
        fused(0);
        dense();
        split();
    } else {
        tiny_v3(1);
        tiny_v2(1);
        fused(1);
        split_seed();
    }
    return failed;
}
