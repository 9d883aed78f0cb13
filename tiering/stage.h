/*
 * stage: the record of a model staged onto a PMem slow tier by `moetier
 * stage`, and the check that decides whether a staged copy may stand in for
 * the model file (docs/stage.md).
 *
 * Two kinds of destination:
 *   pmem:DIR            (fsdax, or any directory) each model file FILE.gguf is
 *                       copied to DIR/FILE.gguf; its record is the file
 *                       DIR/FILE.gguf.moetier-stage (one header + one entry),
 *                       written atomically after the copy is persistent.
 *   devdax:/dev/daxX.Y  no filesystem: the record (one header + one entry per
 *                       model file) lies at the device start in an area of
 *                       `area_size` bytes (a multiple of the device alignment);
 *                       file i's copy lies at offsets[i], aligned to the device
 *                       alignment, after the area and after file i-1. The
 *                       header is written last and persisted, so a crash while
 *                       staging leaves no valid record.
 *
 * The record (all little endian, fixed layout, the same for both kinds):
 * struct moetier_stage_header, then n_entries x struct moetier_stage_entry;
 * header.checksum is the XXH64 of the header (checksum field zero) followed by
 * the entries. An entry names the original (absolute path, size, mtime in ns,
 * inode, device), the copy (file name in DIR, or byte offset in the device),
 * the XXH64 of the whole content (computed while copying) and the XXH64 of a
 * fixed sample of blocks (moetier_stage_sample_block).
 *
 * What is checked when:
 *   at load (moetier_stage_find, the shim, once per model file): the record's
 *     magic, version and checksum; the original's size, mtime, inode and
 *     device against the entry; the sampled hash of the ORIGINAL and of the
 *     COPY against the entry (64 blocks of 64 KiB: at most 4 MiB read from
 *     each, the whole file when it is smaller). A copy is served only when
 *     all of these agree.
 *   at stage (moetier stage): every byte written is read back and compared
 *     with the source; the full hash is recorded; the original must not
 *     change while it is copied.
 *   on demand (moetier stage --check, moetier_stage_check_full): the full hash
 *     of the original and of the copy against the recorded full hash.
 *
 * The hash is XXH64 (seed 0), implemented here: about 10+ GB/s per core, well
 * above PMem write bandwidth, with published reference values (the unit test
 * checks them).
 *
 * This file is linked into the preloaded shim: no libpmem2, no stdio, no
 * malloc; files and mappings go through raw system calls (syscall(2)), so a
 * call from inside the shim never re-enters the shim's own open/pread/mmap
 * hooks. Not for signal handlers. Functions return 0 or a negative errno.
 */
#ifndef MOETIER_TIERING_STAGE_H
#define MOETIER_TIERING_STAGE_H

#include <stddef.h>
#include <stdint.h>

#define MOETIER_STAGE_MAGIC         "MOESTAGE" /* 8 bytes, no NUL in the record */
#define MOETIER_STAGE_VERSION       1u
#define MOETIER_STAGE_SUFFIX        ".moetier-stage"
#define MOETIER_STAGE_SAMPLE_BLOCKS 64u
#define MOETIER_STAGE_SAMPLE_BLOCK  (64u << 10)
#define MOETIER_STAGE_PATH_MAX      4096
#define MOETIER_STAGE_NAME_MAX      256
#define MOETIER_STAGE_MAX_FILES     4096u /* entries in a devdax record */
#define MOETIER_STAGE_F_DEVDAX      1u    /* header.flags */

/* ---- XXH64 (seed 0), streaming ------------------------------------------------ */

struct moetier_stage_hash {
    uint64_t v[4];
    uint64_t total;
    unsigned char buf[32];
    uint32_t n; /* bytes in buf */
};

void moetier_stage_hash_init(struct moetier_stage_hash *h);
void moetier_stage_hash_update(struct moetier_stage_hash *h, const void *p, size_t n);
uint64_t moetier_stage_hash_final(const struct moetier_stage_hash *h);
/* One shot, with a seed (the record uses seed 0 everywhere). */
uint64_t moetier_stage_xxh64(const void *p, size_t n, uint64_t seed);

/* ---- the sampled-verification hash -------------------------------------------- */

/*
 * Block i (0 <= i < MOETIER_STAGE_SAMPLE_BLOCKS) of a file of `size` bytes:
 * when size <= BLOCKS x BLOCK, block 0 is the whole file and the others are
 * empty (*len = 0); otherwise block i starts at floor(i x (size - BLOCK) /
 * (BLOCKS - 1)) rounded down to 4 KiB and is BLOCK long: the first holds the
 * GGUF header, the last the end of the file.
 * The sample hash is XXH64 over le64(size), then for each non-empty block
 * le64(offset) followed by its bytes.
 */
void moetier_stage_sample_block(uint64_t size, unsigned i, uint64_t *off, uint64_t *len);
/* The sample hash of size bytes at p (a mapping of the file). */
uint64_t moetier_stage_sample_hash_mem(const void *p, uint64_t size);
/* The sample hash of the size bytes at offset base of fd, read with pread. */
int moetier_stage_sample_hash_fd(int fd, uint64_t base, uint64_t size, uint64_t *out);

/* ---- the record ---------------------------------------------------------------- */

struct moetier_stage_header {
    char magic[8];        /* MOETIER_STAGE_MAGIC */
    uint32_t version;     /* MOETIER_STAGE_VERSION */
    uint32_t header_size; /* sizeof (struct moetier_stage_header) = 64 */
    uint32_t entry_size;  /* sizeof (struct moetier_stage_entry) */
    uint32_t n_entries;   /* fsdax: 1; devdax: the model's files */
    uint32_t flags;       /* MOETIER_STAGE_F_DEVDAX */
    uint32_t reserved0;
    uint64_t area_size;   /* devdax: bytes reserved at the device start; fsdax: 0 */
    uint64_t device_size; /* devdax: the device's size when staged; fsdax: 0 */
    uint64_t staged_ns;   /* when staged (CLOCK_REALTIME) */
    uint64_t checksum;    /* XXH64 of header (this field 0) + entries */
};

struct moetier_stage_entry {
    char orig_path[MOETIER_STAGE_PATH_MAX]; /* the original, absolute (realpath) */
    char copy_name[MOETIER_STAGE_NAME_MAX]; /* fsdax: the copy's name in DIR; devdax: "" */
    uint64_t size;                          /* bytes, of both */
    int64_t mtime_ns;                       /* the original's st_mtim, in ns */
    uint64_t ino, dev;                      /* the original's st_ino, st_dev */
    uint64_t full_hash;                     /* XXH64 of the whole content */
    uint64_t sample_hash;                   /* moetier_stage_sample_hash_* */
    uint64_t offset;                        /* devdax: the copy's byte offset; fsdax: 0 */
    uint64_t align;                         /* devdax: the device alignment; fsdax: 0 */
    uint32_t file_index, n_files;           /* part of a split model (0, 1 otherwise) */
    uint64_t reserved[7];
};

/* Bytes of a record with n entries. */
size_t moetier_stage_record_size(uint32_t n_entries);
/* Fills magic, version, sizes, n_entries and the checksum of h followed by
 * the n entries at e (the caller set flags, area_size, device_size, staged_ns). */
void moetier_stage_record_seal(struct moetier_stage_header *h, const struct moetier_stage_entry *e,
                               uint32_t n);
/*
 * Checks the record at h, of which avail bytes are readable: -ENOENT when
 * there is no magic (nothing staged, or a stage that never finished);
 * -EBADMSG when the magic is there but the version, sizes or checksum are
 * wrong (why says which). The entries follow the header.
 */
int moetier_stage_record_check(const struct moetier_stage_header *h, size_t avail, char *why,
                               size_t why_cap);
/* DIR/BASENAME(model_path).moetier-stage into out; -ENAMETOOLONG if it does not fit. */
int moetier_stage_record_path(const char *dir, const char *model_path, char *out, size_t cap);

/*
 * The devdax layout of n files of sizes[] on a device of dev_size bytes with
 * alignment align (a power of two): area_size = the record rounded up to
 * align; offsets[i] = the end of the previous file (or the area) rounded up
 * to align; *end = the last copy's end rounded up to align (the bytes to map).
 * -EINVAL for a bad alignment, n = 0 or n > MOETIER_STAGE_MAX_FILES;
 * -ENOSPC when *end > dev_size (*end and offsets[] are filled anyway);
 * -EOVERFLOW when the sum overflows.
 */
int moetier_stage_devdax_layout(const uint64_t *sizes, size_t n, uint64_t align, uint64_t dev_size,
                                uint64_t *offsets, uint64_t *area_size, uint64_t *end);

/*
 * "pmem:DIR" or "devdax:DEV": *is_devdax and *path (points into slow).
 * -EINVAL for anything else or an empty path.
 */
int moetier_stage_slow_parse(const char *slow, int *is_devdax, const char **path);

/* ---- for the runtime ------------------------------------------------------------ */

struct moetier_stage_copy {
    char path[4096];  /* fsdax: the copy's file; devdax: the device */
    uint64_t offset;  /* where the copy starts in path (devdax; 0 for fsdax) */
    uint64_t size;    /* the model file's size */
    int is_devdax;
    uint64_t align;   /* mappings of path must start/end on this (page size for fsdax) */
};

/*
 * slow = "pmem:DIR" or "devdax:/dev/daxX.Y". 0 and *out filled when a staged
 * copy of the model file `model_path` exists there and its record still
 * matches the original and the copy (see "at load" above). The record is
 * found by the base name of model_path (pmem:) or in the device's record
 * (devdax:); the entry must name the same path (made absolute with the
 * current directory) or the same inode and device.
 * -ENOENT when there is none (why says where it looked); -ESTALE when a
 * record exists but no longer matches (why says what changed); -EBADMSG for
 * a damaged record; -EINVAL for a bad slow string; other -errno on I/O errors.
 * why (may be NULL) gets one line, no newline. Uses under 40 KiB of stack.
 */
int moetier_stage_find(const char *slow, const char *model_path, struct moetier_stage_copy *out,
                       char *why, size_t why_cap);

/* ---- for moetier stage --check ----------------------------------------------------- */

struct moetier_stage_full {
    uint64_t recorded; /* the full hash in the record */
    uint64_t original; /* computed now over the whole original */
    uint64_t copy;     /* computed now over the whole copy */
    uint64_t size;
};

/*
 * Reads the whole original and the whole staged copy (through read-only
 * mappings) and compares both full hashes with the record. 0 when all three
 * agree; -ESTALE when they do not (why says which differ); -ENOENT / -EBADMSG
 * / -errno as moetier_stage_find. Does not look at mtime or inode: call
 * moetier_stage_find for what the runtime would decide.
 */
int moetier_stage_check_full(const char *slow, const char *model_path, struct moetier_stage_full *res,
                             char *why, size_t why_cap);

#endif
