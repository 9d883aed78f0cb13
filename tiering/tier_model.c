/*
 * tier_model: per-token time from per-tier bytes (see tier_model.h).
 */
#include "tiering/tier_model.h"

#include <math.h>
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
        if (l->windows > 0) {
            /* plain mmap under the cap: the faulting threads reclaim what the
             * reads displace and map what they read, in turn with the reads */
            if (m->slow.reclaim_gbps > 0)
                c->t_slow += secs(c->slow_read, m->slow.reclaim_gbps);
            if (m->slow.map_fault_bytes > 0)
                c->t_slow += c->slow_read / m->slow.map_fault_bytes * m->slow.map_fault_us * 1e-6;
        }
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
