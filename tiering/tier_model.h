/*
 * tier_model: what one decoded token costs on a machine, from the bytes each
 * memory tier serves (docs/sim.md writes the model down; every policy is
 * costed by the same rules).
 *
 * Tiers:
 *   block  (NVMe, the page cache under a cap): a miss fetches the whole expert
 *          into DRAM (slow read + DRAM write, plus the tier's latency once per
 *          fetch, serial: the faulting thread waits), then the CPU reads it
 *          from DRAM like a hit. Where the tier has exact-read figures (this
 *          machine's, measured), the misses of a layer are read together as
 *          the runtime reads them: exact_layer_us once per layer with misses
 *          and their bytes at exact_gbps, a wait added to the experts' time
 *          below (the layer's matmul cannot start before its experts are in),
 *          and each expert the cache lets go adds exact_drop_us (the read
 *          room drops it while the reads are in flight: what they do not
 *          hide); read-around rows keep the above.
 *   byte   (PMem App Direct, CXL, a CPU-less node): a miss is read in place at
 *          the slow tier's bandwidth; a promotion (the runtime's copy, which
 *          runs beside the in-place read) costs one more slow read and a DRAM
 *          write; a prefetch is a slow read and a DRAM write.
 *   Memory Mode: DRAM as a direct-mapped cache in front of PMem (tier_mm.h):
 *          a hit is a DRAM read; a miss is a DRAM read (the tag check finds
 *          another line), a slow read and a DRAM write (the fill).
 * DRAM and the slow tier stream at once: the experts take
 *   max(DRAM reads / dram_read + DRAM writes / dram_write,
 *       slow reads / slow_read + fetches x latency,
 *       weights / cpu_weights)                       (the CPU's dot ceiling)
 * or, with serial_streams, the sum of the first two (each expert read by all
 * threads in turn, one tier at a time) and the CPU ceiling the max of that.
 * and a token takes gpu_serial + max(that, gpu_overlap) + layers x sync, where
 * the GPU's serial part is its attention (the next layer's routing needs it)
 * and its overlapped part the shared experts, which run beside the routed
 * experts on the CPU (`-ngl 99 -ot exps=CPU`). Without a GPU its bytes are
 * DRAM reads and CPU weights.
 */
#ifndef MOETIER_TIERING_TIER_MODEL_H
#define MOETIER_TIERING_TIER_MODEL_H

#include <stdint.h>

enum moetier_tier_kind { MOETIER_TIER_BLOCK, MOETIER_TIER_BYTE };

struct moetier_tier {
    enum moetier_tier_kind kind;
    double read_gbps, write_gbps; /* GB/s = 1e9 bytes/s */
    double latency_us;            /* per access (block: per expert fetch) */
    /* block, measured (moetier bench): exact reads as the runtime issues
     * them, every missed expert of a layer asked for at once and then waited
     * for: a fixed cost per layer with misses and a rate for their bytes.
     * 0: not measured (each fetch pays latency_us at read_gbps). */
    double exact_gbps, exact_layer_us;
    /* block, measured: what each of the read room's drops adds to a layer's
     * wait beyond what the reads in flight hide (0: hidden, or not measured) */
    double exact_drop_us;
    /* block, measured: plain mmap under a cap (read-around rows). Each byte
     * read displaces one: the faulting thread's reclaim unmaps and frees it
     * (at reclaim_gbps, bench's drop of a mapped expert), and the pages read
     * are mapped by minor faults (map_fault_us each, map_fault_bytes a
     * fault: the kernel's fault-around). 0: not measured, not charged. */
    double reclaim_gbps, map_fault_us, map_fault_bytes;
};

struct moetier_machine {
    struct moetier_tier dram, slow;
    double cpu_gweights;    /* weights/s (1e9) the CPU dequantizes and dots, all cores; 0 = no ceiling */
    double gpu_gbps;        /* the GPU's memory bandwidth; 0 = no GPU (dense on the CPU) */
    double gpu_sync_us;     /* per MoE layer: CPU <-> GPU hand-off of the activations */
    int serial_streams;     /* the tiers take turns instead of streaming at once */
};

/* Per token: expert counts by what happened to them, and the dense part. */
struct moetier_token_load {
    double hits;            /* experts read from DRAM */
    double direct;          /* misses not admitted (byte: read in place; block: fetched, not kept) */
    double promoted;        /* misses admitted into the DRAM cache */
    double prefetched;      /* experts fetched ahead (used or not) */
    double mm_misses;       /* Memory Mode: experts missed in the DRAM cache (a slow read
                               and a DRAM fill; the CPU gets the data from the fill) */
    double expert_bytes;    /* one expert */
    double expert_weights;  /* one expert's weights (the CPU's work) */
    double dense_serial_bytes, dense_overlap_bytes;    /* attention etc.; shared experts */
    double dense_serial_weights, dense_overlap_weights;
    double moe_layers;      /* GPU hand-offs per token */
    double miss_layers;     /* layers with a demand miss per token (exact reads: one wait each) */
    double drops;           /* experts the cache lets go per token (evicted, or read without a place):
                               with exact reads, the read room drops each from the page cache */
    /* block tier with the kernel's read-around (moetier_tier_readaround, page_cache_model.h):
     * bytes read beyond the missed experts themselves (slow read + DRAM write,
     * never computed) and the device reads per token, which then replace the
     * misses as the latency-bearing fetches; 0 and 0 without */
    double readaround_bytes, windows;
};

struct moetier_token_cost {
    double dram_read, dram_write, slow_read; /* bytes per token */
    double fetches;                          /* latency-bearing slow accesses per token */
    double t_dram, t_slow, t_cpu;            /* seconds of each stream */
    double t_experts;                        /* max of the three */
    double t_gpu_serial, t_gpu_overlap, t_sync;
    double t_token;                          /* seconds per token */
    const char *bound;                       /* "dram", "slow", "cpu" or "gpu": what t_token waits on */
};

/* The cost of load on machine m (time 0 parts are skipped: a 0 bandwidth
 * with bytes to move is an infinite time). */
void moetier_tier_cost(const struct moetier_machine *m, const struct moetier_token_load *load,
                       struct moetier_token_cost *out);

/* The bytes of load on m: DRAM reads and writes and slow reads by the rules
 * above (what moetier_tier_cost times). */
void moetier_tier_bytes(const struct moetier_machine *m, const struct moetier_token_load *load,
                        struct moetier_token_cost *out);

/*
 * Colloid's rule (SOSP'24) on a byte tier: when the DRAM stream is the longer,
 * moves hits to in-place slow reads until both streams end together (the
 * hottest bytes stay cached but the slow tier's idle bandwidth takes a share).
 * Changes load's hits and direct; returns the experts moved per token.
 */
double moetier_tier_colloid(const struct moetier_machine *m, struct moetier_token_load *load);

#endif
