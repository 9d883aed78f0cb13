/*
 * fuzz_profile: libFuzzer target for the profile loader (profiler/profile.c),
 * which the shim runs at start on a file in the user's cache directory.
 *
 * The loader takes a path, so each input goes into one file of a private
 * directory (a real file: the loader refuses symbolic links, which
 * /proc/self/fd/N of a memfd is), read twice: as it is, and with its last 8 bytes replaced by the
 * FNV-1a checksum of the rest, so that mutations reach the checks behind the
 * checksum. A profile that loads is saved (to a private directory) and loaded
 * again: the two must be equal. Besides ASan/UBSan findings, the target traps
 * when a promise of profile.h is broken: a code other than 0, -EPROTO,
 * -ESTALE; an error without a one-line message; a loaded profile out of its
 * ranges (shape, block order, rates in [0, 1], terminated strings); an
 * allocation left behind by a failed load; a save that fails or changes the
 * profile.
 *
 * Build and run: make fuzz; make fuzz-run FUZZ_SECONDS=600 (tests/fuzz.mk).
 */
#include "config.h"

#include "profiler/profile.h"
#include "common/hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static int fd = -1;
static char path[128], saved[128];
static long live; /* allocations through counting_alloc not yet freed */

static void *counting_alloc(size_t n)
{
    void *p = malloc(n);
    live += p != NULL;
    return p;
}

static void counting_free(void *p)
{
    live -= p != NULL;
    free(p);
}

static void check_loaded(const struct moetier_profile *p)
{
    uint64_t n = (uint64_t)p->n_layers * p->n_experts;
    CHECK(p->n_layers >= 1 && p->n_experts >= 1 && n <= MOETIER_PROFILE_MAX_EXPERTS);
    CHECK(memchr(p->model_id, 0, sizeof p->model_id) && memchr(p->model, 0, sizeof p->model));
    for (uint32_t l = 0; l < p->n_layers; l++) {
        CHECK(p->blocks[l] >= 0 && p->blocks[l] <= MOETIER_PROFILE_MAX_BLOCK);
        CHECK(l == 0 || p->blocks[l] > p->blocks[l - 1]);
    }
    for (uint64_t i = 0; i < n; i++)
        CHECK(p->experts[i].rate >= 0.0f && p->experts[i].rate <= 1.0f);
}

static void load_one(const char *expect_id)
{
    struct moetier_profile p, q;
    char err[512];
    err[0] = '\0';
    int rc = moetier_profile_load_ex(path, expect_id, &p, counting_alloc, counting_free, err, sizeof err);
    if (rc) {
        CHECK(rc == -EPROTO || rc == -ESTALE);
        CHECK(err[0] && !strchr(err, '\n'));
        CHECK(live == 0);
        return;
    }
    check_loaded(&p);
    CHECK(!expect_id || strcmp(p.model_id, expect_id) == 0);

    /* save, load back: the same profile */
    CHECK(moetier_profile_save(saved, &p) == 0);
    CHECK(moetier_profile_load(saved, p.model_id, &q, NULL, err, sizeof err) == 0);
    uint64_t n = (uint64_t)p.n_layers * p.n_experts;
    CHECK(q.n_layers == p.n_layers && q.n_experts == p.n_experts);
    CHECK(q.tokens_decode == p.tokens_decode && q.saved_ns == p.saved_ns);
    CHECK(strcmp(q.model_id, p.model_id) == 0 && strcmp(q.model, p.model) == 0);
    CHECK(memcmp(q.blocks, p.blocks, 4 * (size_t)p.n_layers) == 0);
    for (uint64_t i = 0; i < n; i++)
        CHECK(q.experts[i].hits == p.experts[i].hits && q.experts[i].rate == p.experts[i].rate);
    moetier_profile_free(&q, NULL);
    moetier_profile_free(&p, counting_free);
    CHECK(live == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        const char *tmp = getenv("TMPDIR");
        char dir[64] = "/dev/shm/moetier-fuzz-profile-XXXXXX";
        if (!mkdtemp(dir)) { /* no /dev/shm: $TMPDIR or /tmp */
            snprintf(dir, sizeof dir, "%s/moetier-fuzz-profile-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
            if (!mkdtemp(dir))
                abort();
        }
        snprintf(saved, sizeof saved, "%s/p.prof", dir);
        snprintf(path, sizeof path, "%s/in.prof", dir);
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            abort();
    }

    /* 1. as it is */
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    load_one(NULL);

    /* 2. with a checksum that matches, and against an expected model id */
    if (size < 8)
        return 0;
    uint8_t sum[8];
    uint64_t h = moetier_fnv1a(MOETIER_FNV1A_INIT, data, size - 8);
    for (int i = 0; i < 8; i++)
        sum[i] = (uint8_t)(h >> (8 * i));
    if (pwrite(fd, sum, 8, (off_t)(size - 8)) != 8)
        abort();
    load_one(NULL);
    /* the file's own id (as the shim expects it) and another model's */
    char id[48] = "";
    if (size > 48) {
        size_t k = size - 48 < sizeof id - 1 ? size - 48 : sizeof id - 1;
        memcpy(id, data + 48, k);
        id[k] = '\0';
    }
    load_one(id);
    load_one("another-model");
    return 0;
}
