/*
 * test_profile: saving and loading profiles (profiler/profile.c).
 *
 *   - round trip of every field, with a custom allocator (the shim's case);
 *   - save creates missing parent directories (0700) and leaves no temporary;
 *   - another model's profile is -ESTALE naming both identities;
 *   - every single-byte corruption (a flip at each offset of a small profile)
 *     and every truncation is refused (-EPROTO), never a crash, and a failed
 *     load hands its arrays back (dealloc called as often as alloc);
 *   - a crafted profile with a valid checksum but absurd fields is refused;
 *   - invalid input to save is -EINVAL; the default path follows XDG_CACHE_HOME.
 */
#include "profiler/profile.h"
#include "common/hash.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static int allocs, frees;

static void *count_alloc(size_t n)
{
    allocs++;
    return malloc(n);
}

static void count_free(void *p)
{
    frees++;
    free(p);
}

static void fill(struct moetier_profile *p, uint32_t nl, uint32_t nx)
{
    memset(p, 0, sizeof *p);
    snprintf(p->model_id, sizeof p->model_id, "id-%u-%u", nl, nx);
    snprintf(p->model, sizeof p->model, "/models/m-%u.gguf", nl);
    p->n_layers = nl;
    p->n_experts = nx;
    p->tokens_decode = 123456789012ull;
    p->saved_ns = 1700000000123456789ull;
    p->blocks = calloc(nl, sizeof *p->blocks);
    p->experts = calloc((size_t)nl * nx, sizeof *p->experts);
    for (uint32_t l = 0; l < nl; l++)
        p->blocks[l] = (int32_t)(3 * l + 1);
    for (uint32_t i = 0; i < nl * nx; i++) {
        p->experts[i].hits = (uint64_t)i * 1000003ull;
        p->experts[i].rate = (float)(i % 17) / 16.0f;
    }
}

static void release(struct moetier_profile *p)
{
    free(p->blocks);
    free(p->experts);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) ? -1 : (long)st.st_size;
}

static void test_round_trip(void)
{
    struct moetier_profile p, q;
    char path[400], err[512];
    fill(&p, 5, 12);
    p.experts[3].rate = 2.0f; /* clamped on save */
    snprintf(path, sizeof path, "%s/a/b/c/x.prof", dir);
    CHECK(moetier_profile_save(path, &p) == 0);
    struct stat st;
    snprintf(err, sizeof err, "%s/a/b", dir);
    CHECK(stat(err, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(file_size(path) == 1128 + 4 * 5 + 12 * 60);
    char tmp[500];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    CHECK(access(tmp, F_OK) != 0);

    allocs = frees = 0;
    CHECK(moetier_profile_load_ex(path, "id-5-12", &q, count_alloc, count_free, err, sizeof err) == 0);
    CHECK(allocs == 2 && frees == 0);
    CHECK_STR(q.model_id, "id-5-12");
    CHECK_STR(q.model, "/models/m-5.gguf");
    CHECK(q.n_layers == 5 && q.n_experts == 12);
    CHECK(q.tokens_decode == p.tokens_decode && q.saved_ns == p.saved_ns);
    for (uint32_t l = 0; l < 5; l++)
        CHECK(q.blocks[l] == p.blocks[l]);
    int same = 1;
    for (uint32_t i = 0; i < 60; i++)
        if (q.experts[i].hits != p.experts[i].hits || q.experts[i].rate != (i == 3 ? 1.0f : p.experts[i].rate))
            same = 0;
    CHECK(same);
    moetier_profile_free(&q, count_free);
    CHECK(frees == 2 && q.blocks == NULL);

    /* overwrite in place (rename over the old file) */
    p.tokens_decode = 7;
    CHECK(moetier_profile_save(path, &p) == 0);
    CHECK(moetier_profile_load(path, NULL, &q, NULL, err, sizeof err) == 0);
    CHECK(q.tokens_decode == 7);
    moetier_profile_free(&q, NULL);

    /* another model */
    CHECK(moetier_profile_load(path, "id-other", &q, NULL, err, sizeof err) == -ESTALE);
    CHECK(strstr(err, "id-5-12") && strstr(err, "id-other"));
    CHECK(q.blocks == NULL && q.experts == NULL);

    snprintf(tmp, sizeof tmp, "%s/none.prof", dir);
    CHECK(moetier_profile_load(tmp, NULL, &q, NULL, err, sizeof err) == -ENOENT);
    CHECK(moetier_profile_load(dir, NULL, &q, NULL, err, sizeof err) == -EPROTO);
    release(&p);
}

static void test_corruption(void)
{
    struct moetier_profile p, q;
    char path[400], bad[400], err[512];
    fill(&p, 2, 3);
    snprintf(path, sizeof path, "%s/small.prof", dir);
    snprintf(bad, sizeof bad, "%s/bad.prof", dir);
    CHECK(moetier_profile_save(path, &p) == 0);
    long size = file_size(path);
    unsigned char *orig = malloc((size_t)size), *copy = malloc((size_t)size);
    int fd = open(path, O_RDONLY);
    CHECK(read(fd, orig, (size_t)size) == size);
    close(fd);

    int refused = 0, wrong = 0;
    for (long off = 0; off < size; off++) {
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(copy, orig, (size_t)size);
            copy[off] ^= (unsigned char)(1u << bit);
            unlink(bad); /* a fresh file: ext4 flushes files truncated and rewritten */
            fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            CHECK(write(fd, copy, (size_t)size) == size);
            close(fd);
            allocs = frees = 0;
            int rc = moetier_profile_load_ex(bad, NULL, &q, count_alloc, count_free, err, sizeof err);
            if (rc == -EPROTO && err[0])
                refused++;
            else
                wrong++;
            if (allocs != frees) {
                fprintf(stderr, "offset %ld: %d allocs, %d frees\n", off, allocs, frees);
                wrong++;
            }
            if (rc == 0)
                moetier_profile_free(&q, count_free);
        }
    }
    printf("bit flips: %d refused, %d not\n", refused, wrong);
    CHECK(wrong == 0);

    int truncs_ok = 1;
    for (long n = 0; n < size; n++) {
        unlink(bad);
        fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(write(fd, orig, (size_t)n) == n);
        close(fd);
        if (moetier_profile_load(bad, NULL, &q, NULL, err, sizeof err) != -EPROTO)
            truncs_ok = 0;
    }
    CHECK(truncs_ok);
    /* trailing garbage */
    fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(write(fd, orig, (size_t)size) == size && write(fd, "x", 1) == 1);
    close(fd);
    CHECK(moetier_profile_load(bad, NULL, &q, NULL, err, sizeof err) == -EPROTO);

    /* another version, magic kept: named as a version problem */
    memcpy(copy, orig, (size_t)size);
    copy[8] = 2;
    fd = open(bad, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(write(fd, copy, (size_t)size) == size);
    close(fd);
    CHECK(moetier_profile_load(bad, NULL, &q, NULL, err, sizeof err) == -EPROTO);
    CHECK(strstr(err, "version 2") != NULL);

    free(orig);
    free(copy);
    release(&p);
}

static int load_crafted(unsigned char *buf, size_t n, char *err, size_t errlen)
{
    uint64_t h = moetier_fnv1a(MOETIER_FNV1A_INIT, buf, n - 8);
    for (int i = 0; i < 8; i++)
        buf[n - 8 + (size_t)i] = (unsigned char)(h >> (8 * i));
    char path[400];
    snprintf(path, sizeof path, "%s/crafted.prof", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(write(fd, buf, n) == (ssize_t)n);
    close(fd);
    struct moetier_profile q;
    int rc = moetier_profile_load(path, NULL, &q, NULL, err, errlen);
    if (rc == 0)
        moetier_profile_free(&q, NULL);
    return rc;
}

static void test_crafted(void)
{
    struct moetier_profile p;
    char path[400], err[512];
    fill(&p, 2, 2);
    snprintf(path, sizeof path, "%s/base.prof", dir);
    CHECK(moetier_profile_save(path, &p) == 0);
    long size = file_size(path);
    unsigned char *orig = malloc((size_t)size), *b = malloc((size_t)size);
    int fd = open(path, O_RDONLY);
    CHECK(read(fd, orig, (size_t)size) == size);
    close(fd);

    memcpy(b, orig, (size_t)size);
    CHECK(load_crafted(b, (size_t)size, err, sizeof err) == 0); /* re-checksummed original */

    memcpy(b, orig, (size_t)size);
    memset(b + 48, 'a', 48); /* unterminated model id */
    CHECK(load_crafted(b, (size_t)size, err, sizeof err) == -EPROTO);

    memcpy(b, orig, (size_t)size);
    b[48 + 1] = '\n'; /* a newline in the id would split the log line naming it (found by fuzz_profile) */
    CHECK(load_crafted(b, (size_t)size, err, sizeof err) == -EPROTO);
    CHECK(!strchr(err, '\n'));

    memcpy(b, orig, (size_t)size);
    b[1120 + 4] = b[1120]; /* blocks not increasing */
    b[1120 + 5] = b[1121];
    CHECK(load_crafted(b, (size_t)size, err, sizeof err) == -EPROTO);

    memcpy(b, orig, (size_t)size);
    b[1120 + 3] = 0x80; /* negative block */
    CHECK(load_crafted(b, (size_t)size, err, sizeof err) == -EPROTO);

    memcpy(b, orig, (size_t)size);
    b[1128 + 8 + 3] = 0x7f; /* rate: 0x7f.. is NaN/inf territory */
    b[1128 + 8 + 2] = 0xc0;
    CHECK(load_crafted(b, (size_t)size, err, sizeof err) == -EPROTO);

    memcpy(b, orig, (size_t)size);
    b[24] = 0xff; /* n_layers 255 + ... : size no longer matches */
    CHECK(load_crafted(b, (size_t)size, err, sizeof err) == -EPROTO);

    memcpy(b, orig, (size_t)size);
    b[27] = 0x40; /* n_layers > the limit */
    CHECK(load_crafted(b, (size_t)size, err, sizeof err) == -EPROTO);
    free(orig);
    free(b);
    release(&p);
}

static void test_save_errors(void)
{
    struct moetier_profile p;
    char path[400];
    fill(&p, 3, 2);
    snprintf(path, sizeof path, "%s/e.prof", dir);
    p.blocks[2] = p.blocks[1];
    CHECK(moetier_profile_save(path, &p) == -EINVAL);
    p.blocks[2] = 100;
    p.n_experts = 0;
    CHECK(moetier_profile_save(path, &p) == -EINVAL);
    p.n_experts = 2;
    memset(p.model_id, 'x', sizeof p.model_id);
    CHECK(moetier_profile_save(path, &p) == -EINVAL);
    p.model_id[0] = 0;
    CHECK(moetier_profile_save("", &p) == -EINVAL);
    snprintf(path, sizeof path, "%s/file", dir);
    close(open(path, O_WRONLY | O_CREAT, 0600));
    snprintf(path, sizeof path, "%s/file/under.prof", dir);
    CHECK(moetier_profile_save(path, &p) < 0); /* a parent that is a file */
    CHECK(access(path, F_OK) != 0);
    release(&p);
}

static void test_default_path(void)
{
    char buf[512];
    setenv("XDG_CACHE_HOME", "/xdg/cache", 1);
    CHECK(moetier_profile_default_path("abc", buf, sizeof buf) != NULL);
    CHECK_STR(buf, "/xdg/cache/moetier/abc.prof");
    unsetenv("XDG_CACHE_HOME");
    setenv("HOME", "/home/u", 1);
    CHECK(moetier_profile_default_path("abc", buf, sizeof buf) != NULL);
    CHECK_STR(buf, "/home/u/.cache/moetier/abc.prof");
    CHECK(moetier_profile_default_path("a/b", buf, sizeof buf) == NULL);
    CHECK(moetier_profile_default_path("..", buf, sizeof buf) == NULL);
    CHECK(moetier_profile_default_path("", buf, sizeof buf) == NULL);
    CHECK(moetier_profile_default_path("abc", buf, 10) == NULL);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/moetier-test-profile.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_corruption();
    test_crafted();
    test_save_errors();
    test_default_path();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_exit("test_profile");
}
