/*
 * engine_fixture: the engine tests' model, L layers x E experts x 3 parts of
 * unaligned slices (like GGUF's) laid out in a real file mapped at `map`
 * (test_migrate, test_two_phase).
 */
#ifndef MOETIER_TESTS_ENGINE_FIXTURE_H
#define MOETIER_TESTS_ENGINE_FIXTURE_H

#include "tests/unit/check.h"
#include "tiering/engine.h"

#include <sys/mman.h>

#define L 2
#define E 8
#define STRIDE (40 * 1024 + 96) /* not page-aligned, like GGUF expert slices */

/* An engine over the file (fd, file_bytes) mapped at map, every slot added. */
static inline int engine_fixture(struct moetier_engine *e, uint64_t budget, const unsigned char *map, int fd,
                                 uint64_t file_bytes)
{
    struct moetier_engine_opts o = { .promote_after = 2, .min_resident_ns = 1000 };
    int rc = moetier_engine_init(e, L, E, 1, &file_bytes, budget, 0, &o);
    if (rc)
        return rc;
    moetier_engine_set_source(e, 0, fd, 0, 0);
    uint64_t off = 4096 + 32;
    for (uint32_t l = 0; l < L; l++)
        for (uint32_t p = 0; p < 3; p++) {
            CHECK(moetier_engine_add(e, l, p, (uintptr_t)map + off, STRIDE, E, 0, off, PROT_READ) == 0);
            off += (uint64_t)STRIDE * E + 32;
        }
    return 0;
}

#endif
