/*
 * profile: what moetier learned about a model's expert hotness, saved at exit
 * (and periodically) so the next run on the same model starts warm.
 *
 * A profile belongs to one model identity (moetier_model_id: file size plus a
 * hash of the tensor layout: names, types, shapes, offsets); loading a profile
 * for another model is refused with a message naming both identities. The file
 * is written to a temporary name and renamed, so a crash never leaves a torn
 * profile. Format (little endian, versioned): see profile.c.
 *
 * Save and load allocate nothing through malloc and use no stdio (the shim
 * calls them at exit); `moetier profile show` uses the same loader.
 */
#ifndef MOETIER_PROFILER_PROFILE_H
#define MOETIER_PROFILER_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#define MOETIER_PROFILE_MAGIC "MOETPROF"
#define MOETIER_PROFILE_VERSION 1
#define MOETIER_PROFILE_MAX_EXPERTS (1u << 20)
#define MOETIER_PROFILE_MAX_BLOCK 999999 /* largest block number accepted */
#define MOETIER_PROFILE_PATH_MAX 4096    /* longest path save accepts */

struct moetier_profile_expert {
    uint64_t hits;
    float rate;
};

struct moetier_profile {
    char model_id[48];
    char model[1024];          /* path of the model when saved (informative) */
    uint32_t n_layers, n_experts;
    uint64_t tokens_decode;    /* decode tokens observed in total */
    uint64_t saved_ns;         /* CLOCK_REALTIME */
    int32_t *blocks;           /* [n_layers]: GGUF block number of each MoE layer */
    struct moetier_profile_expert *experts; /* [n_layers * n_experts], layer-major */
};

/* Atomically writes p to path (creating parent directories, mode 0700; the
 * file mode 0600). p needs n_layers, n_experts >= 1, at most
 * MOETIER_PROFILE_MAX_EXPERTS experts, NUL-terminated strings, and strictly
 * increasing blocks in 0..MOETIER_PROFILE_MAX_BLOCK (else -EINVAL / -E2BIG);
 * rates are clamped into [0, 1] (NaN -> 0). The directory the file goes into
 * must be ours and not group/world writable, or a sticky shared one such as
 * /tmp (common/private_dir.h): else -EPERM. 0 or -errno. */
int moetier_profile_save(const char *path, const struct moetier_profile *p);
/* The same, with a one-line reason in why when it fails. */
int moetier_profile_save_ex(const char *path, const struct moetier_profile *p, char *why, size_t cap);

/*
 * Reads path into p. The arrays are allocated with the caller's alloc (malloc
 * when NULL; the shim passes an allocator that does not recurse). When
 * expect_id is non-NULL, a profile of another model is refused (-ESTALE, message
 * in err). A symbolic link at path and a file owned by another user are
 * refused (-EPERM): a profile steers which experts are promoted, so only our
 * own is trusted (docs/threat-model.md). Returns 0, -ENOENT, -EPROTO
 * (corrupt/other version), -ESTALE, -EPERM.
 */
int moetier_profile_load(const char *path, const char *expect_id, struct moetier_profile *p,
                         void *(*alloc)(size_t), char *err, size_t errlen);

/* As moetier_profile_load, with the matching dealloc, which load uses to give
 * the arrays back when it fails after allocating them (a checksum mismatch is
 * found only once the whole file is read). moetier_profile_load passes free
 * when alloc is NULL, and otherwise no dealloc: with a custom alloc, a failed
 * load then leaks its arrays; prefer this function there. */
int moetier_profile_load_ex(const char *path, const char *expect_id, struct moetier_profile *p,
                            void *(*alloc)(size_t), void (*dealloc)(void *), char *err, size_t errlen);

/* Frees a loaded profile's arrays with dealloc (free when NULL). */
void moetier_profile_free(struct moetier_profile *p, void (*dealloc)(void *));

/* The default path: $XDG_CACHE_HOME/moetier/<id>.prof (~/.cache when unset).
 * NULL when neither XDG_CACHE_HOME nor HOME is an absolute path, when the id
 * is empty, ".", "..", holds a '/', or the result does not fit in cap. */
const char *moetier_profile_default_path(const char *model_id, char *buf, size_t cap);

#endif
