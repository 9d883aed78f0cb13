/*
 * tier_model: per-token time from per-tier bytes (see tier_model.h).
 */
#include "tiering/tier_model.h"
#include "profiler/routing_file.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void moetier_tier_bytes(const struct moetier_machine *m, const struct moetier_token_load *l,
                        struct moetier_token_cost *c)
{
    const double E = l->expert_bytes;
    memset(c, 0, sizeof *c);
    c->dram_read = l->hits * E;
    if (m->slow.kind == MOETIER_TIER_BLOCK) {
        /* every miss lands in DRAM first (page cache or the copy), then is read from there */
        double miss = l->direct + l->promoted;
        c->slow_read = (miss + l->prefetched) * E;
        c->dram_write = (miss + l->prefetched) * E;
        c->dram_read += miss * E;
        c->fetches = miss; /* a prefetch's latency is hidden behind the layer before */
        /* read-around: the neighbours come in with the misses, never used */
        c->slow_read += l->readaround_bytes;
        c->dram_write += l->readaround_bytes;
        if (l->windows > 0)
            c->fetches = l->windows;
    } else {
        /* in place; a promotion's copy reads the expert again and writes DRAM */
        c->slow_read = (l->direct + 2 * l->promoted + l->prefetched) * E;
        c->dram_write = (l->promoted + l->prefetched) * E;
        c->fetches = l->direct + l->promoted;
    }
    c->dram_read += l->mm_misses * E; /* the tag check reads the line it misses */
    c->slow_read += l->mm_misses * E;
    c->dram_write += l->mm_misses * E;
    c->fetches += l->mm_misses;
    if (m->gpu_gbps <= 0)
        c->dram_read += l->dense_serial_bytes + l->dense_overlap_bytes;
}

/* bytes / (GB/s), with 0 bytes free and a missing bandwidth infinite */
static double secs(double bytes, double gbps)
{
    if (bytes <= 0)
        return 0;
    return gbps > 0 ? bytes / (gbps * 1e9) : INFINITY;
}

void moetier_tier_cost(const struct moetier_machine *m, const struct moetier_token_load *l,
                       struct moetier_token_cost *c)
{
    moetier_tier_bytes(m, l, c);
    double accesses = l->hits + l->direct + l->promoted + l->mm_misses;
    double weights = accesses * l->expert_weights;
    if (m->gpu_gbps <= 0)
        weights += l->dense_serial_weights + l->dense_overlap_weights;
    c->t_dram = secs(c->dram_read, m->dram.read_gbps) + secs(c->dram_write, m->dram.write_gbps);
    /* exact reads: a layer's misses go out together and its matmul waits for
     * them (serial with the compute); prefetches read behind the layer before */
    double wait = 0;
    if (m->slow.kind == MOETIER_TIER_BLOCK && m->slow.exact_gbps > 0 && l->windows <= 0 && !l->mm_misses) {
        double miss = (l->direct + l->promoted) * l->expert_bytes;
        c->fetches = l->miss_layers;
        wait = secs(miss, m->slow.exact_gbps) + c->fetches * m->slow.exact_layer_us * 1e-6 +
               l->drops * m->slow.exact_drop_us * 1e-6;
        c->t_slow = wait + secs(c->slow_read - miss, m->slow.read_gbps);
    } else {
        c->t_slow = secs(c->slow_read, m->slow.read_gbps) + c->fetches * m->slow.latency_us * 1e-6;
    }
    c->t_cpu = m->cpu_gweights > 0 ? weights / (m->cpu_gweights * 1e9) : 0;
    c->t_experts = c->t_dram, c->bound = "dram";
    if (c->t_slow - wait > c->t_experts)
        c->t_experts = c->t_slow - wait, c->bound = "slow";
    if (m->serial_streams)
        c->t_experts = c->t_dram + c->t_slow - wait;
    if (c->t_cpu > c->t_experts)
        c->t_experts = c->t_cpu, c->bound = "cpu";
    if (wait > c->t_experts)
        c->bound = "slow";
    c->t_experts += wait;
    if (m->gpu_gbps > 0) {
        c->t_gpu_serial = secs(l->dense_serial_bytes, m->gpu_gbps);
        c->t_gpu_overlap = secs(l->dense_overlap_bytes, m->gpu_gbps);
        c->t_sync = l->moe_layers * m->gpu_sync_us * 1e-6;
        if (c->t_gpu_overlap > c->t_experts)
            c->bound = "gpu";
    }
    c->t_token = c->t_gpu_serial + fmax(c->t_experts, c->t_gpu_overlap) + c->t_sync;
}

double moetier_tier_colloid(const struct moetier_machine *m, struct moetier_token_load *l)
{
    struct moetier_token_cost c;
    if (m->slow.kind != MOETIER_TIER_BYTE || m->serial_streams)
        return 0;
    moetier_tier_cost(m, l, &c);
    if (c.t_dram <= c.t_slow)
        return 0;
    /* the gap shrinks as hits move: bisect for where it closes */
    double lo = 0, hi = l->hits, h0 = l->hits, d0 = l->direct;
    for (int i = 0; i < 60; i++) {
        double x = (lo + hi) / 2;
        l->hits = h0 - x, l->direct = d0 + x;
        moetier_tier_cost(m, l, &c);
        if (c.t_dram > c.t_slow)
            lo = x;
        else
            hi = x;
    }
    l->hits = h0 - hi, l->direct = d0 + hi;
    return hi;
}

/* The page cache's LRU over units (expert parts): a doubly linked list, head most recent. */
struct lru {
    int32_t *prev, *next;
    uint8_t *in;
    int32_t head, tail;
    uint64_t n, cap;
};

static void lru_unlink(struct lru *c, int32_t u)
{
    if (c->prev[u] >= 0)
        c->next[c->prev[u]] = c->next[u];
    else
        c->head = c->next[u];
    if (c->next[u] >= 0)
        c->prev[c->next[u]] = c->prev[u];
    else
        c->tail = c->prev[u];
}

static void lru_push(struct lru *c, int32_t u)
{
    c->prev[u] = -1, c->next[u] = c->head;
    if (c->head >= 0)
        c->prev[c->head] = u;
    c->head = u;
    if (c->tail < 0)
        c->tail = u;
}

/* u to the head; 1 if it had to be read (it was not cached) */
static int lru_touch(struct lru *c, int32_t u)
{
    if (c->in[u]) {
        lru_unlink(c, u);
        lru_push(c, u);
        return 0;
    }
    if (c->cap == 0)
        return 1; /* nothing stays */
    if (c->n == c->cap) {
        int32_t t = c->tail;
        lru_unlink(c, t);
        c->in[t] = 0, c->n--;
    }
    lru_push(c, u);
    c->in[u] = 1, c->n++;
    return 1;
}

int moetier_tier_readaround(const struct moetier_routing *r, double cache_bytes, double part_bytes, int parts,
                            double window_bytes, struct moetier_readaround_result *out)
{
    memset(out, 0, sizeof *out);
    if (!r->routes || parts < 1 || part_bytes <= 0 || cache_bytes < 0 || window_bytes < 0)
        return -EINVAL;
    const int64_t E = r->experts, units = (int64_t)r->layers * parts * E;
    if (units <= 0 || units > INT32_MAX)
        return -EINVAL;
    /* whole parts: the window reads at least the faulting one */
    int64_t w = (int64_t)(window_bytes / part_bytes);
    if (w < 1)
        w = 1;
    struct lru c = { malloc(units * sizeof *c.prev), malloc(units * sizeof *c.next), calloc(units, 1), -1, -1, 0,
                     (uint64_t)fmin(cache_bytes / part_bytes, (double)units) };
    if (!c.prev || !c.next || !c.in) {
        free(c.prev), free(c.next), free(c.in);
        return -ENOMEM;
    }
    for (uint64_t t = 0; t < r->tokens; t++)
        for (int l = 0; l < r->layers; l++)
            for (int k = 0; k < r->topk; k++) {
                int e = r->routes[(t * r->layers + l) * r->topk + k];
                for (int p = 0; p < parts; p++) {
                    int32_t u = (int32_t)(((int64_t)l * parts + p) * E + e);
                    out->accesses++;
                    if (c.in[u]) {
                        out->hits++;
                        lru_touch(&c, u);
                        continue;
                    }
                    out->windows++;
                    int64_t lo = u - w / 2;
                    if (lo < 0)
                        lo = 0;
                    int64_t hi = lo + w > units ? units : lo + w;
                    for (int64_t v = lo; v < hi; v++)
                        if (v != u && lru_touch(&c, (int32_t)v))
                            out->bytes_read += part_bytes;
                    /* the faulting part last: it is the one used, the most recent */
                    if (lru_touch(&c, u))
                        out->bytes_read += part_bytes;
                }
            }
    free(c.prev), free(c.next), free(c.in);
    return 0;
}
