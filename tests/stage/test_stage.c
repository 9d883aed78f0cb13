/*
 * Unit tests of tiering/stage.c that need no files: XXH64 against the
 * reference library's values (libxxhash 0.8.1, computed once and written
 * here), streaming in every split, the sampled blocks, the record's seal and
 * check (damage, truncation, no magic), record paths, slow strings, and the
 * devdax layout math for 4 KiB / 2 MiB / 1 GiB alignments.
 */
#include "tiering/stage.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <stdlib.h>

static void test_xxh64(void)
{
    /* XXH64(data, len, seed) from libxxhash.so.0 (0.8.1) */
    static const struct { const char *s; uint64_t h0, h7; } v[] = {
        { "", 0xef46db3751d8e999ull, 0x95f0626f6f0a4409ull },
        { "a", 0xd24ec4f1a98c6e5bull, 0xdc6349d489e0f965ull },
        { "abc", 0x44bc2cf5ad770999ull, 0x9e755206156676d7ull },
        { "0123456789abcdefghijklmnopqrstuvwxyz", 0x69196c1b3af0bff9ull, 0x245acd11a445e8daull },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        CHECK(moetier_stage_xxh64(v[i].s, strlen(v[i].s), 0) == v[i].h0);
        CHECK(moetier_stage_xxh64(v[i].s, strlen(v[i].s), 7) == v[i].h7);
    }
    /* bytes(range(256)) * 4 + b"xyz": 1027 bytes */
    unsigned char big[1027];
    for (int i = 0; i < 1024; i++)
        big[i] = (unsigned char)i;
    memcpy(big + 1024, "xyz", 3);
    CHECK(moetier_stage_xxh64(big, sizeof big, 0) == 0xe146cb31b65bc21aull);
    CHECK(moetier_stage_xxh64(big, sizeof big, 7) == 0x6238bde2ace77002ull);
    /* streaming: every split point, and byte by byte */
    int bad = 0;
    for (size_t cut = 0; cut <= sizeof big; cut++) {
        struct moetier_stage_hash h;
        moetier_stage_hash_init(&h);
        moetier_stage_hash_update(&h, big, cut);
        moetier_stage_hash_update(&h, big + cut, sizeof big - cut);
        bad += moetier_stage_hash_final(&h) != 0xe146cb31b65bc21aull;
    }
    CHECK(bad == 0);
    struct moetier_stage_hash h;
    moetier_stage_hash_init(&h);
    for (size_t i = 0; i < sizeof big; i++)
        moetier_stage_hash_update(&h, big + i, 1);
    CHECK(moetier_stage_hash_final(&h) == 0xe146cb31b65bc21aull);
    CHECK(moetier_stage_hash_final(&h) == 0xe146cb31b65bc21aull); /* final does not consume */
}

static void test_sample(void)
{
    const uint64_t B = MOETIER_STAGE_SAMPLE_BLOCK, N = MOETIER_STAGE_SAMPLE_BLOCKS;
    uint64_t off, len;
    /* a small file: one block, the whole file */
    moetier_stage_sample_block(1000, 0, &off, &len);
    CHECK(off == 0 && len == 1000);
    moetier_stage_sample_block(1000, 1, &off, &len);
    CHECK(len == 0);
    moetier_stage_sample_block(N * B, 0, &off, &len);
    CHECK(off == 0 && len == N * B);
    /* a large one: first block at 0, last at the end, in order, 4 KiB aligned */
    uint64_t size = 5ull << 40 | 12345;
    uint64_t prev = 0;
    int bad = 0;
    for (unsigned i = 0; i < N; i++) {
        moetier_stage_sample_block(size, i, &off, &len);
        bad += len != B || off % 4096 || off + len > size || (i && off <= prev);
        prev = off;
    }
    CHECK(bad == 0);
    moetier_stage_sample_block(size, 0, &off, &len);
    CHECK(off == 0);
    moetier_stage_sample_block(size, N - 1, &off, &len);
    CHECK(off == ((size - B) & ~4095ull) && size - off - len < 4096);
    moetier_stage_sample_block(size, N, &off, &len);
    CHECK(len == 0);

    /* the sample hash sees a byte inside a block, not one outside every block */
    size_t n = (size_t)(N * B + 5 * B);
    unsigned char *p = malloc(n);
    CHECK(p != NULL);
    if (!p)
        return;
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(i * 7 + 3);
    uint64_t h0 = moetier_stage_sample_hash_mem(p, n);
    moetier_stage_sample_block(n, 10, &off, &len);
    p[off + 5] ^= 1;
    CHECK(moetier_stage_sample_hash_mem(p, n) != h0);
    p[off + 5] ^= 1;
    uint64_t o2, l2;
    moetier_stage_sample_block(n, 11, &o2, &l2);
    CHECK(off + len < o2); /* a gap between blocks 10 and 11 */
    p[off + len] ^= 1;
    CHECK(moetier_stage_sample_hash_mem(p, n) == h0);
    p[off + len] ^= 1;
    /* it also covers the size: a prefix hashes differently */
    CHECK(moetier_stage_sample_hash_mem(p, 1000) != moetier_stage_sample_hash_mem(p, 999));
    free(p);
}

static void test_record(void)
{
    struct {
        struct moetier_stage_header h;
        struct moetier_stage_entry e[2];
    } r;
    char why[256];
    memset(&r, 0, sizeof r);
    snprintf(r.e[0].orig_path, sizeof r.e[0].orig_path, "/models/m-00001-of-00002.gguf");
    snprintf(r.e[1].orig_path, sizeof r.e[1].orig_path, "/models/m-00002-of-00002.gguf");
    r.e[0].size = 100;
    r.e[1].size = 200;
    r.h.flags = MOETIER_STAGE_F_DEVDAX;
    moetier_stage_record_seal(&r.h, r.e, 2);
    CHECK(memcmp(r.h.magic, "MOESTAGE", 8) == 0 && r.h.version == 1 && r.h.n_entries == 2);
    CHECK(moetier_stage_record_size(2) == sizeof r);
    CHECK(moetier_stage_record_check(&r.h, sizeof r, why, sizeof why) == 0);
    /* truncated */
    CHECK(moetier_stage_record_check(&r.h, sizeof r - 1, why, sizeof why) == -EBADMSG);
    CHECK(strstr(why, "truncated") != NULL);
    CHECK(moetier_stage_record_check(&r.h, 40, why, sizeof why) == -EBADMSG);
    CHECK(moetier_stage_record_check(&r.h, 4, why, sizeof why) == -ENOENT);
    /* one bit anywhere: damaged */
    r.e[1].size ^= 1;
    CHECK(moetier_stage_record_check(&r.h, sizeof r, why, sizeof why) == -EBADMSG);
    CHECK(strstr(why, "checksum") != NULL);
    r.e[1].size ^= 1;
    r.h.staged_ns ^= 1ull << 40;
    CHECK(moetier_stage_record_check(&r.h, sizeof r, why, sizeof why) == -EBADMSG);
    r.h.staged_ns ^= 1ull << 40;
    CHECK(moetier_stage_record_check(&r.h, sizeof r, why, sizeof why) == 0);
    /* no magic: nothing staged */
    r.h.magic[0] = 0;
    CHECK(moetier_stage_record_check(&r.h, sizeof r, why, sizeof why) == -ENOENT);
    r.h.magic[0] = 'M';
    /* another version, even with a right checksum */
    r.h.version = 2;
    moetier_stage_record_seal(&r.h, r.e, 2);
    CHECK(r.h.version == 1);
    r.h.version = 2;
    CHECK(moetier_stage_record_check(&r.h, sizeof r, why, sizeof why) == -EBADMSG);
    CHECK(strstr(why, "version 2") != NULL);
    /* a path that is not NUL-terminated or not absolute */
    moetier_stage_record_seal(&r.h, r.e, 2);
    memset(r.e[1].orig_path, 'x', sizeof r.e[1].orig_path);
    moetier_stage_record_seal(&r.h, r.e, 2);
    CHECK(moetier_stage_record_check(&r.h, sizeof r, why, sizeof why) == -EBADMSG);
    snprintf(r.e[1].orig_path, sizeof r.e[1].orig_path, "relative.gguf");
    moetier_stage_record_seal(&r.h, r.e, 2);
    CHECK(moetier_stage_record_check(&r.h, sizeof r, why, sizeof why) == -EBADMSG);
    /* a control character in a path: it would split the log line naming it (found by fuzz_stage) */
    snprintf(r.e[1].orig_path, sizeof r.e[1].orig_path, "/models/a\nb.gguf");
    moetier_stage_record_seal(&r.h, r.e, 2);
    CHECK(moetier_stage_record_check(&r.h, sizeof r, why, sizeof why) == -EBADMSG);
    CHECK(!strchr(why, '\n'));
    /* zero entries */
    moetier_stage_record_seal(&r.h, r.e, 0);
    CHECK(moetier_stage_record_check(&r.h, sizeof r, why, sizeof why) == -EBADMSG);
}

static void test_paths(void)
{
    char out[64];
    CHECK(moetier_stage_record_path("/mnt/pmem", "/a/b/m.gguf", out, sizeof out) == 0);
    CHECK_STR(out, "/mnt/pmem/m.gguf.moetier-stage");
    CHECK(moetier_stage_record_path("/mnt/pmem/", "m.gguf", out, sizeof out) == 0);
    CHECK_STR(out, "/mnt/pmem/m.gguf.moetier-stage");
    CHECK(moetier_stage_record_path("/", "x/m.gguf", out, sizeof out) == 0);
    CHECK_STR(out, "/m.gguf.moetier-stage");
    CHECK(moetier_stage_record_path("/mnt/pmem", "/a/", out, sizeof out) == -EINVAL);
    CHECK(moetier_stage_record_path("/a/very/long/directory/name/indeed", "model-name.gguf", out,
                                    sizeof out) == -ENAMETOOLONG);
    int dax = -1;
    const char *p = NULL;
    CHECK(moetier_stage_slow_parse("pmem:/mnt/pmem", &dax, &p) == 0 && dax == 0 && strcmp(p, "/mnt/pmem") == 0);
    CHECK(moetier_stage_slow_parse("devdax:/dev/dax0.0", &dax, &p) == 0 && dax == 1 &&
          strcmp(p, "/dev/dax0.0") == 0);
    CHECK(moetier_stage_slow_parse("pmem:", &dax, &p) == -EINVAL);
    CHECK(moetier_stage_slow_parse("numa:1", &dax, &p) == -EINVAL);
    CHECK(moetier_stage_slow_parse("file", &dax, &p) == -EINVAL);
    CHECK(moetier_stage_slow_parse(NULL, &dax, &p) == -EINVAL);
}

static void test_layout(void)
{
    const uint64_t M2 = 2u << 20, G1 = 1u << 30;
    uint64_t sizes[3] = { 5000, M2, 3 * M2 + 1 }, offs[3], area, end;
    /* 2 MiB: the record area is one block; each file starts on a 2 MiB boundary */
    CHECK(moetier_stage_devdax_layout(sizes, 3, M2, 1ull << 40, offs, &area, &end) == 0);
    CHECK(area == M2);
    CHECK(offs[0] == M2 && offs[1] == 2 * M2 && offs[2] == 3 * M2);
    CHECK(end == 7 * M2);
    /* exactly full fits; one byte less does not (and says how much is needed) */
    CHECK(moetier_stage_devdax_layout(sizes, 3, M2, 7 * M2, offs, &area, &end) == 0);
    CHECK(moetier_stage_devdax_layout(sizes, 3, M2, 7 * M2 - 1, offs, &area, &end) == -ENOSPC);
    CHECK(end == 7 * M2);
    /* 4 KiB */
    CHECK(moetier_stage_devdax_layout(sizes, 3, 4096, 1ull << 40, offs, &area, &end) == 0);
    CHECK(area == 4 * 4096); /* 64 + 3 x 4480 = 13504 bytes */
    CHECK(offs[0] == 4 * 4096 && offs[1] == 6 * 4096 && offs[2] == 6 * 4096 + M2);
    CHECK(end == offs[2] + 3 * M2 + 4096);
    /* 1 GiB */
    CHECK(moetier_stage_devdax_layout(sizes, 3, G1, 4 * G1, offs, &area, &end) == 0);
    CHECK(area == G1 && offs[0] == G1 && offs[2] == 3 * G1 && end == 4 * G1);
    /* a record too big for one block spills into the next */
    static uint64_t many[1000], moffs[1000];
    for (int i = 0; i < 1000; i++)
        many[i] = 1;
    CHECK(moetier_stage_devdax_layout(many, 1000, M2, 1ull << 40, moffs, &area, &end) == 0);
    CHECK(area == 3 * M2 && moffs[0] == 3 * M2 && moffs[999] == (3 + 999) * M2);
    /* bad input */
    CHECK(moetier_stage_devdax_layout(sizes, 3, 3 << 20, 1ull << 40, offs, &area, &end) == -EINVAL);
    CHECK(moetier_stage_devdax_layout(sizes, 3, 0, 1ull << 40, offs, &area, &end) == -EINVAL);
    CHECK(moetier_stage_devdax_layout(sizes, 0, M2, 1ull << 40, offs, &area, &end) == -EINVAL);
    uint64_t huge[2] = { UINT64_MAX - 10, 5 };
    CHECK(moetier_stage_devdax_layout(huge, 2, M2, UINT64_MAX, offs, &area, &end) == -EOVERFLOW);
}

int main(void)
{
    test_xxh64();
    test_sample();
    test_record();
    test_paths();
    test_layout();
    return check_exit("test_stage");
}
