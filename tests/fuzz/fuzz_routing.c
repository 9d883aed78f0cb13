/*
 * fuzz_routing: libFuzzer target for the .trace / .counts loader
 * (profiler/routing_file.c), which reads files users bring from elsewhere.
 *
 * The loader takes a path, so each input is written to one memfd and loaded
 * through /proc/self/fd/N, twice: keeping the routes and not. Besides
 * ASan/UBSan findings, the target traps when a promise of routing_file.h is
 * broken: a failure without a one-line message, a loaded file whose shape is
 * out of range, counts that do not add up to tokens x layers x topk (trace),
 * kept routes that differ from the counts or name an expert out of range, the
 * two loads disagreeing, or a hot share outside [0, 1].
 *
 * Build and run: make fuzz; make fuzz-run FUZZ_SECONDS=600 (tests/fuzz.mk).
 */
#include "config.h"

#include "profiler/routing_file.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static int fd = -1;
static char path[64];

static void check_loaded(const struct moetier_routing *r)
{
    CHECK(r->layers >= 1 && r->layers <= MOETIER_ROUTING_MAX_LAYERS);
    CHECK(r->experts >= 1 && r->experts <= MOETIER_ROUTING_MAX_EXPERTS);
    CHECK(r->topk >= 1 && r->topk <= r->experts);
    CHECK(memchr(r->model, 0, sizeof r->model));
    CHECK(r->counts);
    double h = moetier_routing_hot_share(r, 0.1);
    CHECK(h >= 0 && h <= 1.0 + 1e-9);
    if (!r->is_trace)
        return;
    CHECK(r->tokens >= 1);
    size_t pairs = (size_t)r->layers * (size_t)r->experts;
    for (int l = 0; l < r->layers; l++) {
        uint64_t sum = 0;
        for (int e = 0; e < r->experts; e++)
            sum += r->counts[(size_t)l * (size_t)r->experts + (size_t)e];
        CHECK(sum == r->tokens * (uint64_t)r->topk);
    }
    if (!r->routes)
        return;
    uint64_t *again = calloc(pairs, sizeof *again);
    if (!again)
        return;
    size_t per = (size_t)r->layers * (size_t)r->topk;
    for (uint64_t t = 0; t < r->tokens; t++)
        for (size_t i = 0; i < per; i++) {
            uint16_t id = r->routes[t * per + i];
            CHECK(id < r->experts);
            again[(i / (size_t)r->topk) * (size_t)r->experts + id]++;
        }
    CHECK(memcmp(again, r->counts, pairs * sizeof *again) == 0);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("fuzz_routing", MFD_CLOEXEC);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();

    struct moetier_routing a, b;
    char err[512], err2[512];
    err[0] = err2[0] = '\0';
    int rc = moetier_routing_load(path, 1, &a, err, sizeof err);
    int rc2 = moetier_routing_load(path, 0, &b, err2, sizeof err2);
    CHECK((rc == 0) == (rc2 == 0));
    if (rc) {
        CHECK(rc < 0 && err[0] && !strchr(err, '\n'));
        CHECK(strcmp(err, err2) == 0);
        return 0;
    }
    check_loaded(&a);
    check_loaded(&b);
    CHECK(a.is_trace == b.is_trace && a.layers == b.layers && a.experts == b.experts &&
          a.topk == b.topk && a.tokens == b.tokens && strcmp(a.model, b.model) == 0);
    CHECK(memcmp(a.counts, b.counts, (size_t)a.layers * (size_t)a.experts * sizeof *a.counts) == 0);
    CHECK(a.is_trace ? a.routes != NULL : a.routes == NULL);
    CHECK(b.routes == NULL);
    moetier_routing_free(&a);
    moetier_routing_free(&b);
    return 0;
}
