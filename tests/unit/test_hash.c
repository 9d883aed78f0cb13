/*
 * test_hash: FNV-1a 64 against the published test vectors (the profile
 * file's checksum and the model id depend on it, byte for byte).
 */
#include "common/hash.h"
#include "check.h"

static void test_vectors(void)
{
    /* http://www.isthe.com/chongo/src/fnv/test_fnv.c: FNV-1a 64 */
    CHECK(moetier_fnv1a(MOETIER_FNV1A_INIT, "", 0) == 0xcbf29ce484222325ull);
    CHECK(moetier_fnv1a(MOETIER_FNV1A_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
    CHECK(moetier_fnv1a(MOETIER_FNV1A_INIT, "foobar", 6) == 0x85944171f73967e8ull);
    /* a NUL byte counts like any other */
    CHECK(moetier_fnv1a(MOETIER_FNV1A_INIT, "a", 2) != moetier_fnv1a(MOETIER_FNV1A_INIT, "a", 1));
}

static void test_continued(void)
{
    /* hashing in pieces (the profile writer hashes as it writes) is hashing it whole */
    uint64_t h = moetier_fnv1a(MOETIER_FNV1A_INIT, "foo", 3);
    CHECK(moetier_fnv1a(h, "bar", 3) == 0x85944171f73967e8ull);
    CHECK(moetier_fnv1a(h, "bar", 0) == h);
}

int main(void)
{
    test_vectors();
    test_continued();
    return check_exit("test_hash");
}
