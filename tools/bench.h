/*
 * bench: the measurements behind `moetier bench` (tools/cmd_bench.c), each a
 * figure of this machine's tiers as moetier uses them, for `moetier sim`.
 *
 *   bench.c       clock, summaries of repeats, helper threads (all cores)
 *   bench_mem.c   DRAM read/write bandwidth, the int8 dot rate, page-fault
 *                 and mprotect costs with every other core busy
 *   bench_tier.c  cold reads of a file, promotion and demotion through
 *                 tiering/migrate.h per mode, host-to-device copies (CUDA)
 *   bench_exact.c exact reads of a layer's missed experts, as the runtime
 *                 issues them (one layer's batch asked for at once)
 *
 * Every figure is a summary of repeats (the machine is shared and noisy): the
 * median, and the smallest and largest. A figure that cannot be measured here
 * is not set (n == 0) and `skipped` says why, in a sentence.
 */
#ifndef MOETIER_TOOLS_BENCH_H
#define MOETIER_TOOLS_BENCH_H

#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_REPS 32
#define BENCH_WHY 200

struct bench_stat {
    double median, min, max;
    int n; /* repeats; 0 = not measured */
};

/* What the measurements read: sizes, repeats, and where to say how far they are. */
struct bench_opts {
    int threads;          /* one per online core */
    int reps;             /* repeats of each measure (<= BENCH_MAX_REPS) */
    size_t dram_bytes;    /* the buffer all threads stream through (much larger than the caches) */
    size_t fault_bytes;   /* region first-touched for the fault costs */
    int mprotect_rounds;  /* PROT_NONE/PROT_READ rounds per repeat */
    double pass_s;        /* a cold-read pass stops after this long (file larger than the disk's rate) */
    void (*progress)(const char *what, void *arg); /* called as each step starts (may be NULL) */
    void *progress_arg;
};

/* ---- bench.c ------------------------------------------------------------ */

double bench_now(void);
/* Summarizes n samples (reordered in place). */
void bench_summarize(double *v, int n, struct bench_stat *out);
void bench_step(const struct bench_opts *o, const char *what);

/* Runs fn(i, arg) on n threads (i = 0..n-1) started together; returns the
 * seconds from the common start to the last one's end, or < 0 when a thread
 * could not be started. */
double bench_parallel(int n, void (*fn)(int i, void *arg), void *arg);

/* n threads that spin (as ggml's idle threads do) until bench_spin_stop. */
struct bench_spin;
struct bench_spin *bench_spin_start(int n);
void bench_spin_stop(struct bench_spin *s);

/* ---- bench_mem.c -------------------------------------------------------- */

struct bench_mem {
    struct bench_stat read_gbps, write_gbps; /* all threads together, GB/s (1e9 bytes) */
    struct bench_stat dot_gbps;              /* int8 weights through the q8_0-like dot */
    struct bench_stat fault_file_us;         /* one minor fault on a file mapping, page cache warm */
    struct bench_stat fault_anon_us;         /* one first-touch fault on anonymous memory (4 KiB pages) */
    double fault_file_pages;                 /* pages mapped per file fault (fault-around) */
    struct bench_stat mprotect_us;           /* one mprotect of an expert-sized present region */
    struct bench_stat mprotect_idle_us;      /* the same with no other thread running (no shootdown) */
    size_t mprotect_bytes;
    char skipped_fault[BENCH_WHY], skipped_mprotect[BENCH_WHY];
};

/* All last-level (L3) caches together, from sysfs; 0 when unknown. */
uint64_t bench_llc_bytes(void);

/* fd: a file of at least o->fault_bytes (its page cache warmed here), for the
 * file-mapping faults; -1 skips them. */
int bench_mem_run(const struct bench_opts *o, int fd, struct bench_mem *out);

/* ---- bench_tier.c ------------------------------------------------------- */

#define BENCH_READ_SIZES 4 /* 4 KiB (no readahead), 1, 4 and 16 MiB */

struct bench_read {
    size_t chunk;               /* bytes per pread */
    struct bench_stat gbps;     /* whole-file passes, chunks in a shuffled order */
    struct bench_stat latency_us; /* one chunk's pread (medians of each pass) */
    size_t bytes;               /* bytes read per pass (less than the file when pass_s cut it) */
};

struct bench_migrate {
    struct bench_stat promote_gbps, demote_gbps;
    struct bench_stat promote_cold_gbps; /* the source dropped from the page cache first (file modes) */
    size_t range, bytes; /* range size and the bytes moved per repeat */
    uint64_t locked;     /* lock: the most VmLck reached after a promotion round */
    char skipped[BENCH_WHY];
};

enum { BENCH_COPY, BENCH_LOCK, BENCH_MOVE, BENCH_MODES };
extern const char *const bench_mode_names[BENCH_MODES];

struct bench_tier {
    struct bench_read read[BENCH_READ_SIZES];
    int cold;                   /* the page cache was dropped before each pass */
    double resident_share;      /* share of the file still cached after the drop (worst pass) */
    char skipped_read[BENCH_WHY];
    struct bench_migrate mode[BENCH_MODES];
    struct bench_stat h2d_pinned_gbps, h2d_pageable_gbps;
    char gpu[BENCH_WHY];        /* the device's name, or why there is none */
};

/* Cold reads of fd (size bytes; its dirty pages are written back first), then
 * promotions and demotions of (at most migrate_bytes of) its mapping. */
int bench_tier_run(const struct bench_opts *o, int fd, uint64_t size, size_t migrate_bytes, struct bench_tier *out);

/* Writes size bytes of pseudo-random data to fd (a fresh file). 0 or -errno. */
int bench_fill_file(int fd, uint64_t size);

/* ---- bench_exact.c ------------------------------------------------------ */

/* One expert's bytes in the file: up to 3 ranges (gate, up, down). */
struct bench_expert {
    uint64_t off[3], len[3];
    int n;
    int layer; /* experts of one layer are adjacent in the list */
};

struct bench_exact {
    int k;                          /* experts a token reads per layer */
    uint64_t expert_bytes;          /* one expert, on average */
    struct bench_stat one_us, batch_us; /* a layer's wait for 1 and for k missed experts */
    struct bench_stat drop_us;      /* dropping one expert again (mapping and page cache) */
    struct bench_stat step_us;      /* k misses' wait with k victims dropped while they are read (the room's step) */
    double drop_added_us;           /* per drop, what the step takes beyond the batch alone (0: hidden) */
    double layer_us, gbps;          /* fit: the wait's fixed part, and the rate of its bytes */
    char skipped[BENCH_WHY];
};

/* The experts to read: path's routed experts when it is a GGUF model (k its
 * experts used per token), else a model's layout laid over the file (k = 6);
 * src says which. *out is malloc'd; returns how many (0: none). */
size_t bench_exact_experts(const char *path, uint64_t size, struct bench_expert **out, int *k, char *src, size_t cap);

/* Reads batches of 1 and k experts of one layer from fd (size bytes), the page
 * cache dropped before each; fits layer_us and gbps through the two medians. */
int bench_exact_run(const struct bench_opts *o, int fd, uint64_t size, const struct bench_expert *ex, size_t n_ex,
                    int k, struct bench_exact *out);

#endif
