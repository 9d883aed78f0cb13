/*
 * reads: the routing sampler's exact reads, layer by layer (the file tier
 * when it locks the page cache and the model does not fit).
 *
 * Plain llama.cpp reads an expert from the file mapping by faulting on it:
 * the kernel reads around the fault (16 MiB with llama.cpp's SEQUENTIAL
 * advice), so every miss pulls in neighbours nobody asked for, one fault at a
 * time. The fetch sampler (profiler/sampler.c) fixes the first by keeping
 * the experts PROT_NONE and reading each touched expert in whole at its
 * fault. Here the routing sampler's callback has each MoE layer's chosen
 * experts as soon as the router has computed them, before the layer's
 * MUL_MAT_ID reads them: shim_reads_layer asks the kernel for exactly those
 * experts' bytes at once (MADV_WILLNEED on the mapping: readahead of the file
 * range, started and not waited for; no read-around mark), so their reads
 * are in flight together and the matmul's faults find the pages in the page
 * cache or under I/O. No PROT_NONE, no fault per expert, no descriptor.
 *
 * The table (each layer's expert tensors: base, stride, count in the file
 * mapping) is built under shim.lock when the sampler is built and read
 * without a lock by the decode threads: it is allocated once for the model
 * and overwritten in place, and a stale entry only advises memory that is no
 * longer the model (MADV_WILLNEED never changes a byte).
 */
#include "shim/shim.h"
#include "common/page.h"
#include "tiering/demand_cache.h"
#include "tiering/dram_cache.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct shim_read_part (*parts)[3]; /* [n_layers][part]; n_expert 0: none */
static int random_set;              /* the expert tensors' read-around is off (MADV_RANDOM) */
static uint32_t n_parts_layers;
static uint64_t reads_calls, reads_bytes, reads_batch_layers; /* statistics (relaxed atomics) */
static uint64_t reads_layers, reads_ns; /* layer steps, and the time the decode threads spent in them */

static void reads_advise(int advice);

int shim_reads_build_locked(void)
{
    uint32_t n = shim.model.n_layers;
    if (!n)
        return 0;
    if (!parts) {
        parts = calloc(n, sizeof *parts);
        if (!parts)
            return 0;
        n_parts_layers = n;
    }
    for (uint32_t l = 0; l < n_parts_layers; l++)
        for (int k = 0; k < 3; k++)
            __atomic_store_n(&parts[l][k].n_expert, 0, __ATOMIC_RELAXED);
    int covered = 0;
    for (size_t i = 0; i < shim.placements.n; i++) {
        const struct moetier_placement *q = &shim.placements.item[i];
        if (!q->live || (q->kind != MOETIER_MEM_FILE_SHARED && q->kind != MOETIER_MEM_FILE_PRIVATE) ||
            q->layer >= n_parts_layers || q->part > 3)
            continue;
        /* the fused gate_up tensor takes the gate position */
        struct shim_read_part *r = &parts[q->layer][q->part == MOETIER_EXPERT_GATE_UP ? 0 : q->part];
        r->base = q->base;
        r->stride = q->stride;
        r->file = q->file;
        r->file_off = q->file_off;
        r->shared = q->kind == MOETIER_MEM_FILE_SHARED;
        __atomic_store_n(&r->n_expert, q->n_expert, __ATOMIC_RELEASE);
        covered++;
    }
    reads_advise(MADV_RANDOM);
    shim_room_build_locked();
    return covered;
}

const struct shim_read_part *shim_reads_part(uint32_t layer, int part)
{
    if (!parts || layer >= n_parts_layers || part < 0 || part > 2)
        return NULL;
    const struct shim_read_part *r = &parts[layer][part];
    return __atomic_load_n(&r->n_expert, __ATOMIC_ACQUIRE) ? r : NULL;
}

uint32_t shim_reads_n_layers(void)
{
    return parts ? n_parts_layers : 0;
}

/* The kernel's read-around on a fault (16 MiB under llama.cpp's SEQUENTIAL
 * advice) reads neighbours nobody chose: with every chosen expert read here,
 * it is only waste (a page evicted between the advice and the touch would
 * bring 40 experts back). A fault anywhere in the file reads around into the
 * experts beside it: on the dense weights between two layers' expert tensors
 * (measured: a fifth of a 60-token feed's reads, docs/bench-capped.md) and on
 * the token embeddings' rows before the first layer and the output weights
 * after the last (their windows left a tenth of the page cache to pieces of
 * the first and last layers' experts the read room never counted). So
 * MADV_RANDOM goes on each model file's whole mapping, and the dense weights
 * between its first expert tensor and its last are asked for once, at once
 * (MADV_WILLNEED), so their first touch is not a fault per page; they are
 * read every token and stay cached. The embeddings are read a row at a time
 * and are left to their faults. A file whose experts do not agree on where
 * its mapping starts (mapped in pieces), or whose mapping would be longer
 * than the file, keeps the advice to its expert tensors alone. Advice changes
 * how the kernel reads, never a byte; MADV_NORMAL gives it back when the
 * reads stop. */
static uintptr_t span_lo[MOETIER_CACHE_MAX_FILES], span_hi[MOETIER_CACHE_MAX_FILES]; /* whole mapping */
static uintptr_t exp_lo[MOETIER_CACHE_MAX_FILES], exp_hi[MOETIER_CACHE_MAX_FILES];   /* expert tensors */

static void madvise_pages(uintptr_t start, uintptr_t end, int advice)
{
    const uintptr_t page = moetier_page_size();
    start &= ~(page - 1);
    end = (end + page - 1) & ~(page - 1);
    if (end > start)
        syscall(SYS_madvise, (void *)start, (size_t)(end - start), advice);
}

/* Each file's mapping and expert span, or 0 when it has none. */
static void spans_build(void)
{
    static uintptr_t map_base[MOETIER_CACHE_MAX_FILES];
    static int map_ok[MOETIER_CACHE_MAX_FILES];
    for (int f = 0; f < MOETIER_CACHE_MAX_FILES; f++) {
        span_lo[f] = span_hi[f] = exp_lo[f] = exp_hi[f] = map_base[f] = 0;
        map_ok[f] = 1;
    }
    for (uint32_t l = 0; l < n_parts_layers; l++)
        for (int k = 0; k < 3; k++) {
            const struct shim_read_part *r = &parts[l][k];
            if (!r->n_expert || r->file < 0 || r->file >= MOETIER_CACHE_MAX_FILES)
                continue;
            uintptr_t end = r->base + (uintptr_t)r->n_expert * r->stride;
            if (!exp_hi[r->file] || r->base < exp_lo[r->file])
                exp_lo[r->file] = r->base;
            if (end > exp_hi[r->file])
                exp_hi[r->file] = end;
            uintptr_t at = r->base >= r->file_off ? r->base - (uintptr_t)r->file_off : 0;
            if (!at || (map_base[r->file] && map_base[r->file] != at))
                map_ok[r->file] = 0;
            map_base[r->file] = at;
        }
    uint32_t n_files = (uint32_t)moetier_gguf_model_n_files(shim.model.gguf);
    for (uint32_t f = 0; f < MOETIER_CACHE_MAX_FILES; f++) {
        struct stat st;
        if (!exp_hi[f])
            continue;
        if (f >= n_files || stat(moetier_gguf_model_path(shim.model.gguf, f), &st) != 0 ||
            exp_hi[f] - exp_lo[f] > (uint64_t)st.st_size) {
            exp_lo[f] = exp_hi[f] = 0;
            continue;
        }
        if (map_ok[f] && exp_hi[f] <= map_base[f] + (uint64_t)st.st_size) {
            span_lo[f] = map_base[f];
            span_hi[f] = map_base[f] + (uint64_t)st.st_size;
        } else {
            span_lo[f] = exp_lo[f];
            span_hi[f] = exp_hi[f];
        }
    }
}

/* The dense weights between file f's first and last expert tensors. */
static void dense_willneed(int f)
{
    uintptr_t at = exp_lo[f];
    for (;;) {
        const struct shim_read_part *next = NULL;
        for (uint32_t l = 0; l < n_parts_layers; l++)
            for (int k = 0; k < 3; k++) {
                const struct shim_read_part *r = &parts[l][k];
                if (r->n_expert && r->file == f && r->base >= at && (!next || r->base < next->base))
                    next = r;
            }
        if (!next)
            return;
        if (next->base > at)
            madvise_pages(at, next->base, MADV_WILLNEED);
        at = next->base + (uintptr_t)next->n_expert * next->stride;
    }
}

static void reads_advise(int advice)
{
    if (advice == MADV_RANDOM)
        spans_build();
    for (int f = 0; f < MOETIER_CACHE_MAX_FILES; f++)
        if (span_hi[f]) {
            madvise_pages(span_lo[f], span_hi[f], advice);
            if (advice == MADV_RANDOM)
                dense_willneed(f);
        }
    for (uint32_t l = 0; l < n_parts_layers; l++)
        for (int k = 0; k < 3; k++) {
            const struct shim_read_part *r = &parts[l][k];
            if (r->n_expert && !(r->file >= 0 && r->file < MOETIER_CACHE_MAX_FILES && span_hi[r->file]))
                madvise_pages(r->base, r->base + (uintptr_t)r->n_expert * r->stride, advice);
        }
    random_set = advice == MADV_RANDOM;
}

void shim_reads_stop_locked(void)
{
    shim_room_stop_locked();
    if (parts && random_set)
        reads_advise(MADV_NORMAL);
}

/* A layer step's time, from t0: the decode thread's, while ggml's others wait */
static void step_done(uint64_t t0)
{
    __atomic_fetch_add(&reads_ns, shim_now_ns() - t0, __ATOMIC_RELAXED);
    __atomic_fetch_add(&reads_layers, 1, __ATOMIC_RELAXED);
}

void shim_reads_layer(uint32_t layer, const int32_t *ids, int k)
{
    if (!parts || layer >= n_parts_layers)
        return;
    /* the reads first, then the room: its drops (the victims' pages unmapped
     * and dropped, 100-200 us an expert with the other threads spinning:
     * moetier bench's "drop") run while the reads are in flight instead of
     * delaying them; the room's margin holds a layer's reads meanwhile */
    uint64_t t0 = shim_now_ns();
    shim_reads_experts(layer, ids, k);
    shim_room_layer(layer, ids, k);
    step_done(t0);
}

void shim_reads_batch(uint32_t layer, const int32_t *ids, int n)
{
    if (!parts || layer >= n_parts_layers)
        return;
    uint64_t t0 = shim_now_ns();
    shim_reads_experts(layer, ids, n);
    /* a batch of a few tokens (several sequences decoding at once, as
     * llama-server's slots do, or a short prompt) is a step of the room like
     * a token's: its policy learns from it; a long prompt's layer (most of
     * its experts) is read in place and leaves */
    if (n <= MOETIER_DEMAND_MAX_K)
        shim_room_layer(layer, ids, n);
    else
        shim_room_batch(layer, ids, n);
    __atomic_fetch_add(&reads_batch_layers, 1, __ATOMIC_RELAXED);
    step_done(t0);
}

void shim_reads_experts(uint32_t layer, const int32_t *ids, int k)
{
    if (!parts || layer >= n_parts_layers)
        return;
    const uintptr_t page = moetier_page_size();
    uint64_t calls = 0, bytes = 0;
    for (int p = 0; p < 3; p++) {
        const struct shim_read_part *r = &parts[layer][p];
        uint32_t n = __atomic_load_n(&r->n_expert, __ATOMIC_ACQUIRE);
        for (int i = 0; i < k; i++) {
            if (ids[i] < 0 || (uint32_t)ids[i] >= n)
                continue;
            uintptr_t start = r->base + (uintptr_t)ids[i] * r->stride;
            uintptr_t end = start + r->stride;
            start &= ~(page - 1);
            end = (end + page - 1) & ~(page - 1);
            /* the raw call: what the binary's own madvise does is not ours to count */
            if (syscall(SYS_madvise, (void *)start, (size_t)(end - start), MADV_WILLNEED) == 0) {
                calls++;
                bytes += end - start;
            }
        }
    }
    __atomic_fetch_add(&reads_calls, calls, __ATOMIC_RELAXED);
    __atomic_fetch_add(&reads_bytes, bytes, __ATOMIC_RELAXED);
}

void shim_reads_totals(uint64_t *calls, uint64_t *bytes, uint64_t *batch_layers, uint64_t *layers, uint64_t *ns)
{
    *layers = __atomic_load_n(&reads_layers, __ATOMIC_RELAXED);
    *ns = __atomic_load_n(&reads_ns, __ATOMIC_RELAXED);
    *batch_layers = __atomic_load_n(&reads_batch_layers, __ATOMIC_RELAXED);
    *calls = __atomic_load_n(&reads_calls, __ATOMIC_RELAXED);
    *bytes = __atomic_load_n(&reads_bytes, __ATOMIC_RELAXED);
}
