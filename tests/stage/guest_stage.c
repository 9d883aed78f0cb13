/*
 * guest_stage: `moetier stage` on real PMem, run inside the qemu guest
 * (tests/qemu/run-guest runs each guest program as `PROG PHASE`).
 *
 *   PHASE fsdax   stage $MOETIER_GUEST_FILES/model.gguf into the DAX-mounted
 *                 directory $MOETIER_GUEST_PMEM_DIR
 *   PHASE devdax  stage it onto the device $MOETIER_GUEST_DAX (/dev/dax0.0)
 *   other phases  exit 77 (n/a)
 *
 * Then: moetier_stage_find must find the copy, its bytes must equal the
 * model's, libpmem2 must report the destination as persistent memory (BYTE or
 * CACHE_LINE granularity; MOETIER_GUEST_NOT_PMEM_OK=1 accepts PAGE, for a smoke
 * run on a host directory), a second stage must be a no-op, --check must pass,
 * one flipped byte in a sampled block of the copy must make the copy stale,
 * and --force must restore it; a (sparse) model bigger than the destination
 * must be refused with exit 2, leaving the staged copy intact; and when the
 * files hold split-00001-of-00002.gguf and its part 2, both parts must be
 * staged (on the device: at aligned offsets, one after the other, replacing
 * the first model's record). The `moetier stage` code is linked in
 * (tools/cmd_stage.c), so the guest needs no moetier binary.
 * Exit 0 pass, 1 fail, 77 not this phase / not in the guest.
 */
#include "config.h"

#include "tiering/stage.h"
#include "tools/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static const char *phase;
/* the model's bytes, freed by fail() too: a leak on an early return made
 * LeakSanitizer exit before stdio flushed the FAIL line */
static unsigned char *model_bytes;

static int fail(const char *what)
{
    printf("FAIL: guest_stage %s: %s\n", phase, what);
    free(model_bytes);
    model_bytes = NULL;
    return 1;
}

static int stage(const char *model, const char *dest, const char *opt)
{
    char *av[] = { "stage", (char *)model, (char *)dest, (char *)(opt ? opt : "-q"), NULL };
    fflush(stdout);
    int rc = cmd_stage(4, av);
    fflush(stdout);
    return rc;
}

/* The staged bytes: a read of the copy file, or a mapping of the device. */
static int copy_equals(const struct moetier_stage_copy *c, const unsigned char *want)
{
    int fd = open(c->path, O_RDONLY);
    if (fd < 0)
        return 0;
    int same = 0;
    if (!c->is_devdax) {
        unsigned char *got = malloc(c->size);
        if (got && pread(fd, got, c->size, 0) == (ssize_t)c->size)
            same = memcmp(got, want, c->size) == 0;
        free(got);
    } else {
        size_t len = (c->size + c->align - 1) / c->align * c->align;
        void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)c->offset);
        if (p != MAP_FAILED) {
            same = memcmp(p, want, c->size) == 0;
            munmap(p, len);
        }
    }
    close(fd);
    return same;
}

/* Maps the copy with libpmem2: its store granularity, and optionally flips one byte at off. */
static int pmem_poke(const struct moetier_stage_copy *c, int flip, uint64_t off, enum pmem2_granularity *g)
{
    struct pmem2_source *src = NULL;
    struct pmem2_config *cfg = NULL;
    struct pmem2_map *map = NULL;
    int rc = -1;
    int fd = open(c->path, O_RDWR);
    if (fd < 0)
        return -1;
    if (pmem2_source_from_fd(&src, fd) || pmem2_config_new(&cfg) ||
        pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE))
        goto out;
    if (c->is_devdax) {
        size_t len = (c->offset + c->size + c->align - 1) / c->align * c->align;
        if (pmem2_config_set_length(cfg, len))
            goto out;
    }
    if (pmem2_map_new(&map, cfg, src)) {
        printf("guest_stage: pmem2_map_new: %s\n", pmem2_errormsg());
        goto out;
    }
    *g = pmem2_map_get_store_granularity(map);
    if (flip) {
        unsigned char *p = (unsigned char *)pmem2_map_get_address(map) + c->offset + off;
        unsigned char b = *p ^ 0x5a;
        pmem2_get_memcpy_fn(map)(p, &b, 1, 0);
    }
    rc = 0;
    pmem2_map_delete(&map);
out:
    pmem2_config_delete(&cfg);
    pmem2_source_delete(&src);
    close(fd);
    return rc;
}

/*
 * A valid GGUF of `size` bytes that is almost all hole: one f32 tensor whose
 * data is never written (sparse), so a model bigger than the NVDIMM costs no
 * memory. Returns 0 or -1.
 */
static int write_sparse_gguf(const char *path, uint64_t size)
{
    unsigned char h[128];
    size_t n = 0;
#define PUT(v, w)                              \
    do {                                       \
        uint64_t x_ = (v);                     \
        memcpy(h + n, &x_, w);                 \
        n += w;                                \
    } while (0)
    memcpy(h, "GGUF", 4);
    n = 4;
    PUT(3, 4);          /* version */
    PUT(1, 8);          /* n_tensors */
    PUT(0, 8);          /* n_kv */
    PUT(1, 8);          /* name length */
    h[n++] = 't';
    PUT(1, 4);          /* n_dims */
    uint64_t data = (n + 8 + 4 + 8 + 31) / 32 * 32;
    PUT((size - data) / 4, 8); /* ne[0] */
    PUT(0, 4);          /* GGML_TYPE_F32 */
    PUT(0, 8);          /* offset in the data section */
#undef PUT
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    int ok = write(fd, h, n) == (ssize_t)n && ftruncate(fd, (off_t)(data + (size - data) / 4 * 4)) == 0;
    close(fd);
    return ok ? 0 : -1;
}

/* Bytes the destination holds: the file system's size, or the device's. */
static uint64_t capacity(const char *dest, int devdax)
{
    if (!devdax) {
        struct statvfs vs;
        return statvfs(dest, &vs) == 0 ? (uint64_t)vs.f_blocks * vs.f_frsize : 0;
    }
    struct pmem2_source *src = NULL;
    size_t size = 0;
    int fd = open(dest, O_RDONLY);
    if (fd >= 0 && pmem2_source_from_fd(&src, fd) == 0)
        pmem2_source_size(src, &size);
    pmem2_source_delete(&src);
    if (fd >= 0)
        close(fd);
    return size;
}

/* The split model of the test files, when run-guest was given one: both parts staged. */
static int split_model(const char *files, const char *dest, const char *slow, int devdax)
{
    char p1[PATH_MAX], p2[PATH_MAX], why[1024];
    snprintf(p1, sizeof p1, "%s/split-00001-of-00002.gguf", files);
    snprintf(p2, sizeof p2, "%s/split-00002-of-00002.gguf", files);
    if (access(p1, R_OK) != 0) {
        printf("guest_stage %s: no split model among the files; split staging not tested\n", phase);
        return 0;
    }
    if (stage(p1, dest, "-q") != 0)
        return fail("staging the split model failed");
    struct moetier_stage_copy c[2];
    const char *parts[2] = { p1, p2 };
    for (int i = 0; i < 2; i++) {
        struct stat st;
        if (moetier_stage_find(slow, parts[i], &c[i], why, sizeof why) != 0) {
            printf("guest_stage: find: %s\n", why);
            return fail("a part of the split model was not found");
        }
        unsigned char *want = malloc(c[i].size);
        int fd = open(parts[i], O_RDONLY);
        int same = want && fd >= 0 && stat(parts[i], &st) == 0 && (uint64_t)st.st_size == c[i].size &&
                   read(fd, want, c[i].size) == (ssize_t)c[i].size && copy_equals(&c[i], want);
        if (fd >= 0)
            close(fd);
        free(want);
        if (!same)
            return fail("a staged part differs from the model's");
        printf("guest_stage %s: part %d at %s offset %llu\n", phase, i + 1, c[i].path,
               (unsigned long long)c[i].offset);
    }
    if (devdax && (c[0].offset % c[0].align || c[1].offset % c[1].align ||
                   c[1].offset < c[0].offset + c[0].size))
        return fail("the parts are not aligned one after the other on the device");
    return 0;
}

int main(int argc, char **argv)
{
    phase = argc > 1 ? argv[1] : "";
    int devdax = strcmp(phase, "devdax") == 0;
    if (!devdax && strcmp(phase, "fsdax") != 0) {
        printf("SKIP: guest_stage: nothing to do in phase '%s'\n", phase);
        return 77;
    }
    const char *files = getenv("MOETIER_GUEST_FILES");
    const char *dest = getenv(devdax ? "MOETIER_GUEST_DAX" : "MOETIER_GUEST_PMEM_DIR");
    if (!files || !dest) {
        printf("SKIP: guest_stage: MOETIER_GUEST_FILES or %s unset (not in the qemu guest)\n",
               devdax ? "MOETIER_GUEST_DAX" : "MOETIER_GUEST_PMEM_DIR");
        return 77;
    }
    char model[PATH_MAX], rdest[PATH_MAX], slow[PATH_MAX + 8], why[1024];
    snprintf(model, sizeof model, "%s/model.gguf", files);
    if (!realpath(dest, rdest))
        return fail("the destination does not exist");
    snprintf(slow, sizeof slow, "%s:%s", devdax ? "devdax" : "pmem", rdest);

    struct stat st;
    if (stat(model, &st) != 0)
        return fail("no model.gguf in MOETIER_GUEST_FILES");
    unsigned char *want = model_bytes = malloc((size_t)st.st_size);
    int fd = open(model, O_RDONLY);
    if (!want || fd < 0 || read(fd, want, (size_t)st.st_size) != st.st_size)
        return fail("cannot read the model");
    close(fd);

    if (stage(model, dest, "-q") != 0)
        return fail("moetier stage failed");
    struct moetier_stage_copy c;
    int rc = moetier_stage_find(slow, model, &c, why, sizeof why);
    if (rc) {
        printf("guest_stage: find: %s\n", why);
        return fail("moetier_stage_find did not find the staged copy");
    }
    printf("guest_stage %s: found %s offset %llu size %llu align %llu\n", phase, c.path,
           (unsigned long long)c.offset, (unsigned long long)c.size, (unsigned long long)c.align);
    if (c.is_devdax != devdax || c.size != (uint64_t)st.st_size)
        return fail("the copy's kind or size is wrong");
    if (devdax && (c.offset % (2u << 20) || c.offset == 0))
        return fail("the devdax copy is not 2 MiB-aligned after the record");
    if (!copy_equals(&c, want))
        return fail("the staged bytes differ from the model");
    enum pmem2_granularity g = PMEM2_GRANULARITY_PAGE;
    if (pmem_poke(&c, 0, 0, &g) != 0)
        return fail("libpmem2 cannot map the copy");
    const char *ok_page = getenv("MOETIER_GUEST_NOT_PMEM_OK");
    printf("guest_stage %s: granularity %s\n", phase,
           g == PMEM2_GRANULARITY_BYTE ? "BYTE" : g == PMEM2_GRANULARITY_CACHE_LINE ? "CACHE_LINE" : "PAGE");
    if (g == PMEM2_GRANULARITY_PAGE && !(ok_page && strcmp(ok_page, "1") == 0))
        return fail("libpmem2 reports PAGE granularity: the destination is not persistent memory");

    if (stage(model, dest, "-q") != 0)
        return fail("a second moetier stage (a no-op) failed");
    if (stage(model, dest, "--check") != 0)
        return fail("moetier stage --check reports a mismatch");

    /* one byte of the copy in sampled block 1: the runtime must refuse it */
    uint64_t off, len;
    moetier_stage_sample_block(c.size, 1, &off, &len);
    if (!len)
        moetier_stage_sample_block(c.size, 0, &off, &len);
    if (pmem_poke(&c, 1, off + len / 2, &g) != 0)
        return fail("cannot damage the copy");
    rc = moetier_stage_find(slow, model, &c, why, sizeof why);
    if (rc != -ESTALE)
        return fail("a damaged copy was not reported stale");
    if (stage(model, dest, "--force") != 0)
        return fail("moetier stage --force failed");
    rc = moetier_stage_find(slow, model, &c, why, sizeof why);
    if (rc || !copy_equals(&c, want))
        return fail("--force did not restore the copy");

    /* a model bigger than the destination: refused (2) before anything is written */
    uint64_t cap = capacity(dest, devdax);
    const char *tmpdir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char huge[PATH_MAX];
    snprintf(huge, sizeof huge, "%s/guest_stage-huge.gguf", tmpdir);
    if (!cap || write_sparse_gguf(huge, cap + (256u << 20)) != 0)
        return fail("cannot write the sparse model");
    rc = stage(huge, dest, "-q");
    unlink(huge);
    if (rc != 2)
        return fail("a model bigger than the destination was not refused with exit 2");
    rc = moetier_stage_find(slow, model, &c, why, sizeof why);
    if (rc || !copy_equals(&c, want))
        return fail("a refused stage damaged the staged model");

    /* a split model; on the device it replaces the record of the first model */
    if (split_model(files, dest, slow, devdax))
        return 1;
    if (devdax && access(files, F_OK) == 0) {
        char p1[PATH_MAX];
        snprintf(p1, sizeof p1, "%s/split-00001-of-00002.gguf", files);
        if (access(p1, R_OK) == 0 && moetier_stage_find(slow, model, &c, why, sizeof why) != -ENOENT)
            return fail("after staging another model, the device still reports the first one");
    }
    free(want);
    printf("PASS: guest_stage %s\n", phase);
    return 0;
}
