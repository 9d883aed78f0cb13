/*
 * bench_exact: exact reads as the runtime issues them (shim/reads.c), for the
 * sim's file tier (see bench.h).
 *
 * With the routing sampler, each MoE layer's chosen experts are known as soon
 * as its router has run, and every missed expert's ranges (gate, up, down) are
 * asked for at once with MADV_WILLNEED on the model's MAP_SHARED mapping, read
 * around nothing (MADV_RANDOM); the layer's matmul then waits for them. So a
 * layer with misses costs a fixed wait plus its bytes at some rate, neither of
 * which the cold preads' figures give (one chunk at a time, read in whole).
 * Here: the page cache is dropped (MADV_DONTNEED of this mapping, then
 * POSIX_FADV_DONTNEED: as the read room drops a victim), then one layer's
 * batch of 1 or k experts is asked for and every page of it touched, timed;
 * batches of 1 and k alternate through each pass. A line through the two
 * medians gives the fixed cost of a layer's wait and the rate of its bytes.
 * Then the k experts are dropped again one by one, as the read room drops its
 * victims, timed: what a miss costs the room when it must make room. And a
 * layer as the room steps it: k misses asked for, then k victims (cached
 * experts of another layer) dropped while the reads are in flight, then the
 * misses touched; what that takes beyond the batch alone, per drop, is the
 * drops' cost the reads do not hide. The other cores spin meanwhile, as
 * ggml's threads wait in their barrier (the drops' TLB shootdowns interrupt
 * them).
 */
#include "config.h"

#include "common/page.h"
#include "profiler/expert_map.h"
#include "profiler/gguf.h"
#include "tools/bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* next pseudo-random number (xorshift) */
static uint64_t next(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* n distinct experts of one layer, at random (pick[] gets indexes into ex). */
static int pick_batch(const struct bench_expert *ex, size_t n_ex, int n, uint64_t *seed, size_t *pick)
{
    size_t first = (size_t)(next(seed) % n_ex);
    int layer = ex[first].layer;
    size_t lo = first, hi = first;
    while (lo > 0 && ex[lo - 1].layer == layer)
        lo--;
    while (hi + 1 < n_ex && ex[hi + 1].layer == layer)
        hi++;
    size_t span = hi - lo + 1;
    if ((size_t)n > span)
        n = (int)span;
    for (int i = 0; i < n; i++) {
        for (;;) {
            size_t c = lo + (size_t)(next(seed) % span);
            int dup = 0;
            for (int j = 0; j < i; j++)
                dup |= pick[j] == c;
            if (!dup) {
                pick[i] = c;
                break;
            }
        }
    }
    return n;
}

/* Drops expert x's pages from the mapping and the page cache, as the read room drops a victim. */
static void drop(int fd, unsigned char *map, const struct bench_expert *x)
{
    const uint64_t page = moetier_page_size();
    for (int p = 0; p < x->n; p++) {
        uint64_t a = x->off[p] & ~(page - 1), b = (x->off[p] + x->len[p] + page - 1) & ~(page - 1);
        madvise(map + a, (size_t)(b - a), MADV_DONTNEED);
        posix_fadvise(fd, (off_t)a, (off_t)(b - a), POSIX_FADV_DONTNEED);
    }
}

/* n experts' ranges asked for at once (touch 0), or every page of them
 * touched (touch 1: their bytes added to *bytes). */
static void ranges(unsigned char *map, const struct bench_expert *ex, const size_t *pick, int n, int touch,
                   uint64_t *bytes, volatile unsigned char *sink)
{
    const uint64_t page = moetier_page_size();
    unsigned char acc = 0;
    for (int i = 0; i < n; i++)
        for (int p = 0; p < ex[pick[i]].n; p++) {
            uint64_t a = ex[pick[i]].off[p] & ~(page - 1), b = ex[pick[i]].off[p] + ex[pick[i]].len[p];
            if (!touch) {
                madvise(map + a, (size_t)(b - a), MADV_WILLNEED);
                continue;
            }
            for (uint64_t x = a; x < b; x += page)
                acc ^= map[x];
            *bytes += ex[pick[i]].len[p];
        }
    *sink = acc;
}

/* One layer's wait: the page cache dropped (and n_victims experts read in
 * again), then n experts asked for at once, the victims dropped, and the n
 * touched; microseconds from the ask to the last touch. */
static double batch(int fd, unsigned char *map, uint64_t size, const struct bench_expert *ex, const size_t *pick, int n,
                    const size_t *victims, int n_victims, uint64_t *bytes, volatile unsigned char *sink)
{
    uint64_t ignored = 0;
    madvise(map, (size_t)size, MADV_DONTNEED);
    posix_fadvise(fd, 0, (off_t)size, POSIX_FADV_DONTNEED);
    ranges(map, ex, victims, n_victims, 0, &ignored, sink);
    ranges(map, ex, victims, n_victims, 1, &ignored, sink);
    double t0 = bench_now();
    ranges(map, ex, pick, n, 0, bytes, sink);
    for (int i = 0; i < n_victims; i++)
        drop(fd, map, &ex[victims[i]]);
    ranges(map, ex, pick, n, 1, bytes, sink);
    return (bench_now() - t0) * 1e6;
}

/* n experts of a layer other than pick[0]'s (8 tries; 0: none found). */
static int pick_victims(const struct bench_expert *ex, size_t n_ex, int n, uint64_t *seed, const size_t *pick,
                        size_t *victims)
{
    for (int tries = 0; tries < 8; tries++) {
        int got = pick_batch(ex, n_ex, n, seed, victims);
        if (got == n && ex[victims[0]].layer != ex[pick[0]].layer)
            return got;
    }
    return 0;
}

int bench_exact_run(const struct bench_opts *o, int fd, uint64_t size, const struct bench_expert *ex, size_t n_ex,
                    int k, struct bench_exact *out)
{
    memset(&out->one_us, 0, sizeof out->one_us);
    memset(&out->batch_us, 0, sizeof out->batch_us);
    memset(&out->drop_us, 0, sizeof out->drop_us);
    memset(&out->step_us, 0, sizeof out->step_us);
    out->k = k;
    out->layer_us = out->gbps = out->drop_added_us = 0;
    if (!n_ex || k < 2) {
        snprintf(out->skipped, BENCH_WHY, "no experts to read (%zu) or fewer than 2 a layer (%d)", n_ex, k);
        return 0;
    }
    uint64_t total = 0;
    for (size_t i = 0; i < n_ex; i++)
        for (int p = 0; p < ex[i].n; p++)
            total += ex[i].len[p];
    out->expert_bytes = total / n_ex;
    bench_step(o, "exact reads");
    if (fdatasync(fd) != 0) {
        snprintf(out->skipped, BENCH_WHY, "its dirty pages cannot be written back (fdatasync: %s)", strerror(errno));
        return 0;
    }
    unsigned char *map = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        snprintf(out->skipped, BENCH_WHY, "cannot map the file: %s", strerror(errno));
        return 0;
    }
    madvise(map, (size_t)size, MADV_RANDOM);
    size_t *pick = malloc(2 * (size_t)k * sizeof *pick), *victims = pick ? pick + k : NULL;
    double one[BENCH_MAX_REPS], many[BENCH_MAX_REPS], drops[BENCH_MAX_REPS], steps[BENCH_MAX_REPS];
    int reps = 0;
    struct bench_spin *spin = bench_spin_start(o->threads - 1);
    volatile unsigned char sink;
    uint64_t seed = 0x853c49e6748fea9bull;
    for (int rep = 0; pick && rep < o->reps; rep++) {
        double t1[256], tk[256], td[256], ts[256];
        int n1 = 0, nk = 0, ns = 0;
        double t0 = bench_now();
        while (n1 < 256 && bench_now() - t0 < o->pass_s / 2) {
            uint64_t b1 = 0, bk = 0;
            int n = pick_batch(ex, n_ex, 1, &seed, pick);
            t1[n1++] = batch(fd, map, size, ex, pick, n, NULL, 0, &b1, &sink);
            n = pick_batch(ex, n_ex, k, &seed, pick);
            if (n == k) {
                tk[nk] = batch(fd, map, size, ex, pick, n, NULL, 0, &bk, &sink);
                double d0 = bench_now();
                for (int i = 0; i < n; i++)
                    drop(fd, map, &ex[pick[i]]);
                td[nk++] = (bench_now() - d0) * 1e6 / n;
                if (pick_victims(ex, n_ex, k, &seed, pick, victims))
                    ts[ns++] = batch(fd, map, size, ex, pick, n, victims, k, &bk, &sink);
            }
        }
        struct bench_stat s1, sk, sd, ss;
        bench_summarize(t1, n1, &s1);
        bench_summarize(tk, nk, &sk);
        bench_summarize(td, nk, &sd);
        bench_summarize(ts, ns, &ss);
        if (s1.n && sk.n) {
            one[reps] = s1.median;
            many[reps] = sk.median;
            drops[reps] = sd.median;
            steps[reps] = ss.n ? ss.median : 0;
            reps++;
        }
    }
    bench_spin_stop(spin);
    madvise(map, (size_t)size, MADV_NORMAL);
    munmap(map, (size_t)size);
    free(pick);
    if (!reps) {
        snprintf(out->skipped, BENCH_WHY, "no layer has %d experts to read at once", k);
        return 0;
    }
    bench_summarize(one, reps, &out->one_us);
    bench_summarize(many, reps, &out->batch_us);
    bench_summarize(drops, reps, &out->drop_us);
    bench_summarize(steps, reps, &out->step_us);
    /* the drops' cost beyond what the reads in flight hide, per drop (0: hidden) */
    if (out->step_us.median > out->batch_us.median)
        out->drop_added_us = (out->step_us.median - out->batch_us.median) / k;
    /* t(n) = layer + n x per expert, through the two medians */
    double per = (out->batch_us.median - out->one_us.median) / (k - 1);
    if (per <= 0) {
        snprintf(out->skipped, BENCH_WHY, "a layer of %d experts took no longer than one (%.0f against %.0f us): "
                 "no rate to fit", k, out->batch_us.median, out->one_us.median);
        return 0;
    }
    out->gbps = (double)out->expert_bytes / (per * 1e3);
    out->layer_us = out->one_us.median - per > 0 ? out->one_us.median - per : 0;
    return 0;
}

/* A GGUF model's routed experts that lie in its first size bytes (file 0). */
static size_t model_experts(const char *path, uint64_t size, struct bench_expert **out, int *k)
{
    struct moetier_gguf_model *m = NULL;
    struct moetier_expert_map *map = NULL;
    char err[MOETIER_GGUF_ERR_MAX];
    size_t n = 0;
    if (moetier_gguf_model_open(path, &m, err, sizeof err) != 0)
        return 0;
    if (moetier_expert_map_build(m, &map, err, sizeof err) == 0 && map->n_experts &&
        (*out = calloc(map->n_experts, sizeof **out))) {
        for (size_t i = 0; i < map->n_experts; i++) {
            const struct moetier_expert *e = &map->experts[i];
            struct bench_expert *b = &(*out)[n];
            int ok = e->n_ranges > 0;
            for (int p = 0; p < e->n_ranges; p++) {
                ok &= e->range[p].file == 0 && e->range[p].off + e->range[p].len <= size;
                b->off[p] = e->range[p].off, b->len[p] = e->range[p].len;
            }
            b->n = e->n_ranges, b->layer = e->layer;
            n += ok;
        }
        *k = map->n_expert_used > 1 ? (int)map->n_expert_used : 8;
    }
    moetier_expert_map_free(map);
    moetier_gguf_model_close(m);
    return n;
}

size_t bench_exact_experts(const char *path, uint64_t size, struct bench_expert **out, int *k, char *src, size_t cap)
{
    *out = NULL;
    size_t n = path ? model_experts(path, size, out, k) : 0;
    if (n) {
        snprintf(src, cap, "the model's routed experts (%zu, %d a token per layer)", n, *k);
        return n;
    }
    free(*out);
    /* a model's layout: per layer, gate, up and down tensors of 64 experts each */
    const uint64_t page = moetier_page_size(), n_expert = 64;
    uint64_t part = 136u << 10; /* a 1.6 GB q8_0 test model's (26 x 64 experts of 408 KiB) */
    if (size / (3 * n_expert * part) < 2)
        part = size / (3 * n_expert * 2) / page * page;
    uint64_t layers = part ? size / (3 * n_expert * part) : 0;
    *k = 6;
    if (!layers || !(*out = calloc(layers * n_expert, sizeof **out))) {
        snprintf(src, cap, "none (the file is too small for 2 layers of 64 experts)");
        return 0;
    }
    for (uint64_t l = 0; l < layers; l++)
        for (uint64_t e = 0; e < n_expert; e++) {
            struct bench_expert *b = &(*out)[l * n_expert + e];
            for (int p = 0; p < 3; p++)
                b->off[p] = (l * 3 + p) * n_expert * part + e * part, b->len[p] = part;
            b->n = 3, b->layer = (int)l;
        }
    snprintf(src, cap, "%llu layers of 64 experts of 3 x %llu KiB laid out as in a model, %d a token",
             (unsigned long long)layers, (unsigned long long)(part >> 10), *k);
    return layers * n_expert;
}
