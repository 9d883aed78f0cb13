/*
 * gguf_writer: writes GGUF v3 files (used by `moetier mkmoe`).
 *
 * Usage: collect KVs and tensor descriptions, then gguf_writer_begin() writes the
 * header and tensor infos; tensor data follows in the order the tensors were
 * added, each written with gguf_writer_data() (any number of chunks) and closed
 * with gguf_writer_tensor_end(), which checks the byte count and pads to the
 * alignment. Data is streamed, so models larger than memory can be written.
 */
#ifndef MOETIER_TOOLS_GGUF_WRITER_H
#define MOETIER_TOOLS_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum gguf_value_type {
    GGUF_T_UINT8 = 0, GGUF_T_INT8 = 1, GGUF_T_UINT16 = 2, GGUF_T_INT16 = 3,
    GGUF_T_UINT32 = 4, GGUF_T_INT32 = 5, GGUF_T_FLOAT32 = 6, GGUF_T_BOOL = 7,
    GGUF_T_STRING = 8, GGUF_T_ARRAY = 9, GGUF_T_UINT64 = 10, GGUF_T_INT64 = 11,
    GGUF_T_FLOAT64 = 12,
};

struct gguf_writer_tensor {
    char name[64];
    uint32_t n_dims;
    int64_t ne[4];
    uint32_t type;
    uint64_t nbytes;
    uint64_t offset;  /* relative to the data section */
};

struct gguf_writer {
    FILE *f;
    uint32_t alignment;
    /* header KVs are serialized into a growing buffer as they are added */
    unsigned char *kv;
    size_t kv_len, kv_cap;
    uint64_t n_kv;
    struct gguf_writer_tensor *tensors;
    size_t n_tensors, cap_tensors;
    size_t current;        /* tensor whose data is being written */
    uint64_t written;      /* bytes of the current tensor written so far */
    uint64_t data_bytes;   /* total size of the data section */
    uint64_t header_bytes; /* header + infos + padding, known after begin */
    int error;             /* first error (negative errno), sticky */
};

void gguf_writer_init(struct gguf_writer *w, uint32_t alignment);
void gguf_writer_free(struct gguf_writer *w);

void gguf_kv_u32(struct gguf_writer *w, const char *key, uint32_t v);
void gguf_kv_i32(struct gguf_writer *w, const char *key, int32_t v);
void gguf_kv_f32(struct gguf_writer *w, const char *key, float v);
void gguf_kv_bool(struct gguf_writer *w, const char *key, int v);
void gguf_kv_str(struct gguf_writer *w, const char *key, const char *v);
void gguf_kv_arr_str(struct gguf_writer *w, const char *key, const char *const *v, size_t n);
void gguf_kv_arr_f32(struct gguf_writer *w, const char *key, const float *v, size_t n);
void gguf_kv_arr_i32(struct gguf_writer *w, const char *key, const int32_t *v, size_t n);

/* Adds a tensor description; returns 0 or a negative errno (bad shape/type). */
int gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                           const int64_t *ne);

/* Writes header + infos to f. Returns 0 or -errno. */
int gguf_writer_begin(struct gguf_writer *w, FILE *f);
int gguf_writer_data(struct gguf_writer *w, const void *buf, size_t n);
int gguf_writer_tensor_end(struct gguf_writer *w);
/* Total file size once everything is written (valid after begin). */
uint64_t gguf_writer_file_size(const struct gguf_writer *w);

#endif
