/*
 * tgw: a tiny GGUF writer for the tests (not the product's writer).
 *
 * Builds a whole GGUF image in memory, byte by byte, and remembers where every
 * field went, so that tests can corrupt exactly one field of a valid file.
 * Usage:
 *   tgw_init(&w, 3, 32);                      version, alignment for offsets
 *   tgw_kv_str(&w, "general.architecture", "llama");  ... more KVs
 *   tgw_tensor(&w, "blk.0.ffn_up_exps.weight", 3, ne, TYPE);  ... more tensors
 *   tgw_finish(&w);                           counts patched, padding, data
 * then w.p / w.n hold the file. Low-level tgw_key + tgw_u32/... write any KV,
 * nested arrays included. Tensor data is a byte pattern; sizes come from
 * moetier_ggml_nbytes. Aborts on out-of-memory (tests only).
 */
#ifndef MOETIER_TESTS_TGW_H
#define MOETIER_TESTS_TGW_H

#include <stddef.h>
#include <stdint.h>

#define TGW_MAX_TENSORS 256

struct tgw_tensor {
    const char *name;
    uint32_t n_dims;
    int64_t ne[4];
    uint32_t type;
    uint64_t size;
    uint64_t offset;  /* relative to the data section */
    size_t at_name;   /* where each field of the tensor info went */
    size_t at_n_dims;
    size_t at_ne;
    size_t at_type;
    size_t at_offset;
};

struct tgw {
    unsigned char *p;
    size_t n, cap;
    uint32_t version, alignment;
    uint64_t n_kv;
    size_t at_n_tensors, at_n_kv; /* header fields */
    size_t at_data;               /* data section, after tgw_finish */
    size_t n_tensors;
    struct tgw_tensor t[TGW_MAX_TENSORS];
    uint64_t data_size;
};

void tgw_init(struct tgw *w, uint32_t version, uint32_t alignment);
void tgw_free(struct tgw *w);

/* raw little-endian fields at the end of the image */
void tgw_u8(struct tgw *w, uint8_t v);
void tgw_u16(struct tgw *w, uint16_t v);
void tgw_u32(struct tgw *w, uint32_t v);
void tgw_u64(struct tgw *w, uint64_t v);
void tgw_bytes(struct tgw *w, const void *b, size_t n);
void tgw_str(struct tgw *w, const char *s); /* u64 length + bytes */

/* a key and its value type; counts the KV */
void tgw_key(struct tgw *w, const char *key, uint32_t type);

void tgw_kv_u32(struct tgw *w, const char *key, uint32_t v);
void tgw_kv_u16(struct tgw *w, const char *key, uint16_t v);
void tgw_kv_i32(struct tgw *w, const char *key, int32_t v);
void tgw_kv_u64(struct tgw *w, const char *key, uint64_t v);
void tgw_kv_f32(struct tgw *w, const char *key, float v);
void tgw_kv_bool(struct tgw *w, const char *key, int v);
void tgw_kv_str(struct tgw *w, const char *key, const char *v);
void tgw_kv_arr_str(struct tgw *w, const char *key, const char *const *v, size_t n);
void tgw_kv_arr_f32(struct tgw *w, const char *key, const float *v, size_t n);

/* a tensor info; its offset is the padded end of the previous tensor */
void tgw_tensor(struct tgw *w, const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type);

/* patches n_kv and n_tensors, pads to the alignment, appends the data */
void tgw_finish(struct tgw *w);

/* overwrite helpers for corrupting a finished image */
void tgw_put_u32(struct tgw *w, size_t at, uint32_t v);
void tgw_put_u64(struct tgw *w, size_t at, uint64_t v);

/* writes the image to path; 0 or -errno */
int tgw_save(const struct tgw *w, const char *path);

#endif
