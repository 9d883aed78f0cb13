/*
 * gguf: a reader for GGUF model files, which are untrusted input.
 *
 * A GGUF file is, little endian: "GGUF", u32 version (2 or 3), i64 n_tensors,
 * i64 n_kv; n_kv key/value pairs (key = u64 length + bytes, u32 value type,
 * value; arrays are u32 element type + u64 count + elements); n_tensors tensor
 * infos (name, u32 n_dims, i64 ne[n_dims], u32 ggml type, u64 offset relative
 * to the data section); padding; the data section, which starts at the end of
 * the tensor infos rounded up to `general.alignment` (u32, default 32).
 *
 * What this reader guarantees, whatever the bytes say:
 *  - it never reads outside the file or buffer, never crashes, never loops for
 *    longer than the file is long: every count is checked against the bytes
 *    that remain BEFORE anything is allocated for it;
 *  - memory for the metadata stays below MOETIER_GGUF_MEM_MAX (and, in
 *    practice, a small multiple of the metadata's size in the file);
 *  - a file is read with pread(2) through a small buffer, never mapped; the
 *    descriptor is closed before moetier_gguf_open returns;
 *  - every tensor it hands out has a known ggml type, ne[0] a multiple of the
 *    type's block size, a byte size that did not overflow, an offset aligned to
 *    the alignment, and data that lies inside the file, after the metadata, and
 *    overlaps no other tensor's data; tensor names and keys are unique.
 *
 * Errors: functions return 0 or a negative errno-style code and, where the
 * caller passes a buffer, write one line (no newline) naming the defect:
 *   -EBADMSG  the file is not a valid GGUF (truncated, absurd count, unknown
 *             type, overlapping tensors, ...): the message says what and where
 *   -E2BIG    valid as far as read, but beyond this reader's limits
 *             (metadata memory, counts, string lengths)
 *   -EINVAL   not a regular file, or a bad argument
 *   -EIO, -ENOENT, -EACCES, -ENOMEM, ...: the OS failed us (message says so)
 * Strings that come from the file are sanitized before they go into messages
 * (control bytes escaped, long names shortened).
 *
 * Split models (name-00001-of-00003.gguf ...) are opened as one
 * moetier_gguf_model: the first file's `split.count` names the parts, each part
 * must carry the right `split.no`, and the model presents the union of their
 * tensors, each with the index of the file holding it.
 *
 * Not for signal handlers; not thread-safe while opening; a parsed handle is
 * read-only and may be shared between threads.
 */
#ifndef MOETIER_PROFILER_GGUF_H
#define MOETIER_PROFILER_GGUF_H

#include <stddef.h>
#include <stdint.h>

/* GGUF value types, as numbered in the file. */
enum moetier_gguf_type {
    MOETIER_GGUF_UINT8 = 0,
    MOETIER_GGUF_INT8 = 1,
    MOETIER_GGUF_UINT16 = 2,
    MOETIER_GGUF_INT16 = 3,
    MOETIER_GGUF_UINT32 = 4,
    MOETIER_GGUF_INT32 = 5,
    MOETIER_GGUF_FLOAT32 = 6,
    MOETIER_GGUF_BOOL = 7,
    MOETIER_GGUF_STRING = 8,
    MOETIER_GGUF_ARRAY = 9,
    MOETIER_GGUF_UINT64 = 10,
    MOETIER_GGUF_INT64 = 11,
    MOETIER_GGUF_FLOAT64 = 12,
    MOETIER_GGUF_TYPE_COUNT = 13,
};

/* Reader limits. A file beyond them is refused with -E2BIG (or -EBADMSG when
 * the file is too short to hold what its header claims). */
#define MOETIER_GGUF_MEM_MAX       (256ull << 20) /* metadata memory per file */
#define MOETIER_GGUF_MAX_TENSORS   (1u << 20)
#define MOETIER_GGUF_MAX_KV        (1u << 20)
#define MOETIER_GGUF_MAX_NAME      65535u         /* bytes in a key or tensor name */
#define MOETIER_GGUF_MAX_NESTING   2              /* arrays of arrays, no deeper */
#define MOETIER_GGUF_MAX_SPLITS    99999u         /* the -NNNNN-of-NNNNN pattern */
/* Enough for every message this module writes. */
#define MOETIER_GGUF_ERR_MAX 256

/*
 * One value. Scalars are widened: unsigned integers and BOOL into v.u,
 * signed integers into v.i, FLOAT32/FLOAT64 into v.f. Strings are n bytes at
 * v.s, NUL-terminated (they may also contain NULs). Arrays hold n elements of
 * elem_type; read them with moetier_gguf_value_elem(). Read-only: the storage
 * belongs to the handle.
 */
struct moetier_gguf_value {
    uint32_t type;      /* enum moetier_gguf_type */
    uint32_t elem_type; /* ARRAY: type of the elements */
    uint64_t n;         /* STRING: length in bytes; ARRAY: element count */
    union {
        uint64_t u;
        int64_t i;
        double f;
        const char *s;
        const void *arr; /* private layout */
    } v;
};

/* One tensor, validated (see the guarantees above). */
struct moetier_gguf_tensor {
    const char *name;  /* NUL-terminated, no NUL inside, unique in the model */
    uint32_t n_dims;   /* 0..4 as stored (0: a scalar, ne[0] = 1) */
    int64_t ne[4];     /* dimensions past n_dims are 1 */
    uint32_t type;     /* ggml type id, known to profiler/ggml_types.h */
    uint64_t offset;   /* absolute offset of the data in its file */
    uint64_t size;     /* bytes of data (moetier_ggml_nbytes) */
    int file;          /* index of the file in a split model; 0 otherwise */
};

struct moetier_gguf;       /* one parsed file (opaque) */
struct moetier_gguf_model; /* one model: one file, or every part of a split */

/* ---- one file ----------------------------------------------------------- */

/*
 * Parses the file at path. On success *out is a handle for moetier_gguf_close.
 * err (may be NULL) receives a one-line message on failure.
 */
int moetier_gguf_open(const char *path, struct moetier_gguf **out, char *err, size_t errcap);

/* Parses a GGUF image held in memory (size bytes). The buffer is not kept. */
int moetier_gguf_parse(const void *buf, size_t size, struct moetier_gguf **out, char *err,
                       size_t errcap);

/* Frees the handle (NULL is fine). */
void moetier_gguf_close(struct moetier_gguf *g);

uint32_t moetier_gguf_version(const struct moetier_gguf *g);
uint32_t moetier_gguf_alignment(const struct moetier_gguf *g);
/* Where the data section starts (absolute), and the file's size. */
uint64_t moetier_gguf_data_offset(const struct moetier_gguf *g);
uint64_t moetier_gguf_file_size(const struct moetier_gguf *g);

/* Key/value pairs, in file order. */
size_t moetier_gguf_n_kv(const struct moetier_gguf *g);
const char *moetier_gguf_kv_key(const struct moetier_gguf *g, size_t i);
const struct moetier_gguf_value *moetier_gguf_kv_value(const struct moetier_gguf *g, size_t i);
/* The value of key, or NULL if the file has no such key. O(log n_kv). */
const struct moetier_gguf_value *moetier_gguf_kv_find(const struct moetier_gguf *g,
                                                      const char *key);

/*
 * Typed reads of a value. Integers of any width convert to the asked type when
 * the value fits; BOOL reads only as bool, floats only as f32/f64 (f32 from a
 * FLOAT64 rounds), strings only as str. Returns 0, -EINVAL (another type) or
 * -ERANGE (an integer that does not fit). v may be NULL: -ENOENT.
 */
int moetier_gguf_value_get_u32(const struct moetier_gguf_value *v, uint32_t *out);
int moetier_gguf_value_get_u64(const struct moetier_gguf_value *v, uint64_t *out);
int moetier_gguf_value_get_i32(const struct moetier_gguf_value *v, int32_t *out);
int moetier_gguf_value_get_i64(const struct moetier_gguf_value *v, int64_t *out);
int moetier_gguf_value_get_f32(const struct moetier_gguf_value *v, float *out);
int moetier_gguf_value_get_f64(const struct moetier_gguf_value *v, double *out);
int moetier_gguf_value_get_bool(const struct moetier_gguf_value *v, int *out);
/* *len (may be NULL) receives the length; the string is NUL-terminated. */
int moetier_gguf_value_get_str(const struct moetier_gguf_value *v, const char **out, size_t *len);
/* Element i of an ARRAY value, as a value of its own (arrays of arrays give
 * ARRAY elements). Returns 0, -EINVAL (not an array) or -ERANGE (i >= n). */
int moetier_gguf_value_elem(const struct moetier_gguf_value *v, uint64_t i,
                            struct moetier_gguf_value *out);

/* The same reads by key: -ENOENT when the key is absent. */
int moetier_gguf_get_u32(const struct moetier_gguf *g, const char *key, uint32_t *out);
int moetier_gguf_get_u64(const struct moetier_gguf *g, const char *key, uint64_t *out);
int moetier_gguf_get_i32(const struct moetier_gguf *g, const char *key, int32_t *out);
int moetier_gguf_get_f32(const struct moetier_gguf *g, const char *key, float *out);
int moetier_gguf_get_bool(const struct moetier_gguf *g, const char *key, int *out);
int moetier_gguf_get_str(const struct moetier_gguf *g, const char *key, const char **out,
                         size_t *len);
/* Element type and count of an ARRAY key. */
int moetier_gguf_get_arr(const struct moetier_gguf *g, const char *key, uint32_t *elem_type,
                         uint64_t *n);

/* Tensors, in file order; find is O(log n_tensors). */
size_t moetier_gguf_n_tensors(const struct moetier_gguf *g);
const struct moetier_gguf_tensor *moetier_gguf_tensor(const struct moetier_gguf *g, size_t i);
const struct moetier_gguf_tensor *moetier_gguf_find_tensor(const struct moetier_gguf *g,
                                                           const char *name);

/*
 * Copies at most 48 characters of s (len bytes) into out (cap >= 200 holds any
 * result) for quoting in messages and terminal output: bytes that are not
 * printable ASCII, a backslash or a quote become \xNN; a cut is marked "...".
 * Returns out.
 */
const char *moetier_gguf_sanitize(const char *s, size_t len, char *out, size_t cap);

/* "u32", "str", "arr", ... ("?" for an unknown id). */
const char *moetier_gguf_type_name(uint32_t type);

/* ---- a model: one file or a split ------------------------------------------ */

/*
 * Opens the model whose (first) file is path. When that file has split.count
 * N > 1, path must end in "-00001-of-NNNNN.gguf" (5 digits, as llama.cpp
 * writes them) and every sibling part is opened and checked: same split.count,
 * split.no equal to its index (0-based), no tensor name twice, and
 * split.tensors.count (when present) equal to the total. A message about a
 * sibling starts with that file's name.
 */
int moetier_gguf_model_open(const char *path, struct moetier_gguf_model **out, char *err,
                            size_t errcap);

/*
 * Makes a model of n already parsed files (the parts in order), with the same
 * checks. Takes ownership of files[0..n-1] whatever the result (they are
 * closed on failure). paths may be NULL (names become "part N").
 */
int moetier_gguf_model_assemble(struct moetier_gguf **files, const char *const *paths, size_t n,
                                struct moetier_gguf_model **out, char *err, size_t errcap);

void moetier_gguf_model_close(struct moetier_gguf_model *m);

size_t moetier_gguf_model_n_files(const struct moetier_gguf_model *m);
const char *moetier_gguf_model_path(const struct moetier_gguf_model *m, size_t i);
/* File i; file 0 holds the model's metadata (architecture, hyperparameters). */
const struct moetier_gguf *moetier_gguf_model_file(const struct moetier_gguf_model *m, size_t i);
/* Sum of the files' sizes. */
uint64_t moetier_gguf_model_size(const struct moetier_gguf_model *m);
/* Every tensor of every part, part by part in file order (t->file says which). */
size_t moetier_gguf_model_n_tensors(const struct moetier_gguf_model *m);
const struct moetier_gguf_tensor *moetier_gguf_model_tensor(const struct moetier_gguf_model *m,
                                                            size_t i);
const struct moetier_gguf_tensor *moetier_gguf_model_find_tensor(
    const struct moetier_gguf_model *m, const char *name);

#endif
