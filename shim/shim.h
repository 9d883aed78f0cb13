/*
 * shim: the preloaded face of moetier (libmoetier.so), internal declarations.
 *
 * The shim interposes the calls an inference binary uses to load weights
 * (open/fopen, read/pread/fread, mmap/munmap/mremap, madvise, ggml's tensor
 * upload, CUDA host allocations) and to run the model (llama_decode), learns
 * where every expert tensor lives (profiler/placement.h), samples which
 * experts decode steps use (profiler/sampler.h) and publishes what it learns
 * (profiler/stats.h, profiler/profile.h).
 *
 * Rules every file here follows:
 *  - an inactive process (MOETIER_DISABLE, MOETIER_ONLY_COMM mismatch, no model
 *    opened) pays one predictable branch per interposed call;
 *  - no stdio; logging through common/log.h (one write per line);
 *  - any failure inside the runtime logs one line and degrades to pass-through
 *    (shim_give_up), never takes the binary down;
 *  - calls the runtime makes itself pass through the hooks untouched
 *    (the thread-local `shim_busy` guard).
 *
 * Locks, always taken in this order (never the reverse) and all taken by the
 * fork protocol (runtime.c: pthread_atfork prepare takes them in this order,
 * the parent releases them in reverse, the child re-initializes them). Each
 * has its rank (common/lock_rank.h); debug builds (--enable-debug) abort on
 * an acquisition out of this order:
 *   1. shim.lock        model, placements, sampler, hotness, tiering engine
 *                       (its slow-tier traffic counters too: counted and
 *                       published under this lock, no lock of their own),
 *                       the ring of sampled steps on their way to the policy
 *                       (the policy's residency is the runtime thread's
 *                       alone: it feeds it with the lock released);
 *                       shim.moved, its condition variable, wakes whoever
 *                       waits for a migration in flight (below)
 *   2. staged.c `lock`  staged-copy and device-dax mapping tables
 *   3. alloc.c `big_lock` (spin) weight-sized allocation table
 * shim.lock is never held across a call into the numa:N slow arena
 * (jemalloc takes its own locks around fork), nor across a migration: the
 * runtime thread chooses a move under it, moves with it released and commits
 * under it again (docs/tiering.md). A thread that unmaps, frees, locks or pins
 * memory of the slot in flight, and the fork protocol, wait on shim.moved for
 * that one move's commit (shim_tiering_wait); decode threads never wait for
 * one. Flags read without the lock are _Atomic.
 */
#ifndef MOETIER_SHIM_SHIM_H
#define MOETIER_SHIM_SHIM_H

#include "config.h" /* _GNU_SOURCE before any system header */

#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/config.h"
#include "common/lock_rank.h"
#include "profiler/hotness.h"
#include "profiler/model.h"
#include "profiler/placement.h"
#include "profiler/sampler.h"
#include "profiler/stats.h"
#include "tiering/plan.h"

#define SHIM_MAX_FD 65536
#define SHIM_MAX_PINNED 256
#define SHIM_MAX_BIG 256

enum shim_phase { SHIM_PHASE_DECODE, SHIM_PHASE_PROMPT, SHIM_PHASE_WARMUP };

struct shim_range {
    uintptr_t start, end;
};

struct shim_state {
    struct moetier_config cfg;
    _Atomic int active;        /* hooks look at files */
    _Atomic int model_ready;   /* a model is mapped: decode hooks work */
    _Atomic int given_up;       /* a runtime failure turned everything off (any thread, read without the lock) */
    int child;                  /* forked child: no publishing */
    pthread_mutex_t lock;       /* model, placements, sampler, hotness: rank 1 (shim_lock) */
    pthread_cond_t moved;       /* with lock: a migration in flight committed */
    char comm[32];

    struct moetier_model model;
    int model_open;
    char model_path[MOETIER_PATH_MAX];
    int8_t fd_file[SHIM_MAX_FD]; /* file index + 1 of a tracked fd, 0 = untracked */

    struct moetier_placements placements;
    struct shim_range pinned[SHIM_MAX_PINNED];
    size_t n_pinned;

    struct moetier_sampler sampler;
    int sampler_built;          /* 1 built, -1 failed (no sampling) */
    _Atomic int sampler_stale; /* placements changed since it was built */
    int sampler_fetch;          /* the tiering asked for the fetch sampler (file tier, locking) */
    int sampler_routing;        /* the routing sampler (hooks_sched.c) samples instead of shim.sampler */
    int routing_reads;          /* the plan: the routing sampler reads each layer's chosen experts in (reads.c) */
    int read_room;              /* the plan: with routing_reads, the read room runs (read_room.c) */
    int routing_failed;         /* it failed once: the other samplers from then on */
    uint8_t *used;              /* [slots] scratch for one sample */
    struct moetier_hotness hot;
    uint64_t last_sample_ns;
    uint64_t first_decode_ns;
    uint64_t sampler_ns;

    uint64_t tokens_decode, tokens_prompt, tokens_warmup;
    uint64_t app_segv_samples;  /* samples taken when the binary last installed a SIGSEGV handler, + 1 (0: never) */
    uint64_t decode_ns_total;
    double decode_ns_plain;     /* recent decode step time when not sampled */
    double tok_per_s;
    uint64_t last_decode_ns;
    _Atomic int warmup;
    _Atomic int loaded;        /* the binary decoded once: its weights are in place */
    _Atomic int armed;         /* a sample is armed: no migration now */
    uint64_t steps_begun;      /* decode calls (every phase), counted as they begin */
    uint64_t armed_step;       /* the one of them whose sample was armed last */
    _Atomic int per_token;     /* the plan: every decode step sampled, migration per token (else rounds) */
    _Atomic int per_layer;     /* the plan: per token, and each MoE layer's experts to the policy as its
                                  router chooses them (through the eval callback) */
    int compute_threads;        /* llama.cpp's decode threads (llama_n_threads at the first decode; 0 unknown) */
    _Atomic int split_trial;   /* the plan: per layer if a split step measures cheap enough (plan.c) */
    int profile_seeded;         /* hotness started from a profile (warm start) */

    struct moetier_stats_writer stats;
    char profile_path[MOETIER_PATH_MAX];
    uint64_t dram_budget;

    pthread_t thread;
    int thread_running;
    _Atomic int stop;
    uint32_t wake_seq;          /* futex: bumped to wake the runtime thread */
    int wake_pending;           /* a wake is asked for and not yet taken */
};

extern struct shim_state shim;
extern __thread int shim_busy __attribute__((tls_model("initial-exec")));

static inline void shim_lock(void)
{
    moetier_ranked_lock(&shim.lock, MOETIER_RANK_SHIM, "shim.lock");
}

/* shim.lock if free now (a decode thread that must not wait); 1 when taken */
static inline int shim_trylock(void)
{
    if (pthread_mutex_trylock(&shim.lock) != 0)
        return 0;
    MOETIER_RANK_ACQUIRE(MOETIER_RANK_SHIM, "shim.lock");
    return 1;
}

static inline void shim_unlock(void)
{
    moetier_ranked_unlock(&shim.lock, MOETIER_RANK_SHIM);
}

/* ---- real functions (real.c) ---- */
void *shim_real(const char *name, void **slot);
/* For functions that may be absent (llama.cpp, ggml, CUDA): NULL when absent. */
void *shim_real_optional(const char *name, void **slot);

/* ---- runtime (runtime.c) ---- */
uint64_t shim_now_ns(void);
/* A file was opened: track fd if it is (part of) the model. */
void shim_file_opened(const char *path, int fd);
void shim_fd_closed(int fd);
/* The binary mapped [addr, addr+len) of fd at offset. */
void shim_mapped(void *addr, size_t len, int prot, int flags, int fd, off_t offset);
void shim_unmapping(void *addr, size_t len);
/* The binary read len bytes of fd at file offset off into buf. */
void shim_read_into(int fd, off_t off, const void *buf, size_t len);
/* ggml uploaded tensor data: name and final address. */
void shim_tensor_placed(const char *name, void *data, size_t nbytes);
void shim_pinned(void *ptr, size_t size, int add);
/* Decode bracketing (hooks_llama.c): ctx is the llama_context, rc what
 * llama_decode returned. *sampling: 0, 1 (shim.sampler armed) or
 * SHIM_SAMPLING_ROUTING. */
#define SHIM_SAMPLING_ROUTING 2
/* A batch of several tokens (a prompt, or sequences decoding together) with
 * exact reads: moetier's callback reads in each layer's experts for the whole
 * batch; nothing is sampled. */
#define SHIM_SAMPLING_PROMPT_READS 3
void shim_decode_begin(void *ctx, int n_tokens, int *sampling);
void shim_decode_end(void *ctx, int n_tokens, int sampling, uint64_t ns, int rc);
/* Inside a sampled decode step (the routing callback): MoE layer's chosen
 * experts. Per layer they go to the policy now and the runtime thread is
 * woken; never waits (shim.lock busy: the step's end brings them). */
void shim_decode_layer(uint32_t layer, const int32_t *ids, int n);
/* This thread's decode step acts at each MoE layer's router (per layer, or
 * MOETIER_PER_LAYER=auto's trial): observed through the callback even when
 * its graph is kept. */
int shim_decode_per_layer(void);
void shim_give_up(const char *why);

/* ---- the routing sampler (hooks_sched.c): llama.cpp's eval callback ---- */
/* 0 when the process has ggml's scheduler and accessors and the model an
 * expert_used_count (sets it up once); else a negative code, reason in why. */
int shim_routing_usable(char *why, size_t cap);
/* Every llama_decode, before anything else: the context decoding on this thread. */
void shim_routing_enter(void *ctx, int n_tokens);
/* Around a sampled step: moetier's eval callback on ctx's schedulers whose
 * graph is not kept (on=1; keep_only: none, the step may not split the
 * graph), the application's again (on=0). Not under shim.lock. */
void shim_routing_step(void *ctx, int on, int keep_only);
/* The same around a batch of several tokens (on=1 then on=0): the callback
 * reads in every layer's experts of the batch (shim_reads_batch), samples
 * nothing. */
void shim_routing_prompt(void *ctx, int on);
/* After the step (on=0 done): sets used[] for the experts the step used.
 * >0 slots set, 0 nothing to learn (decode_rc != 0, or a keep_only step
 * whose graph was not kept), <0 a check failed (why). */
int shim_routing_collect(int decode_rc, uint8_t *used, char *why, size_t cap);
/* Keep mode is available (ids read after the step, no graph split): a
 * sample costs microseconds, so the sampling period does not apply. 0 for
 * good once a decode graph could not be kept. */
int shim_routing_cheap(void);
/* The step just ended ran moetier's callback on its nodes (split the
 * graph): its extra decode time is the sampler's. Keep-mode steps cost only
 * their reads. */
int shim_routing_split(void);

/* ---- exact reads (reads.c): the routing sampler's per-layer reads ---- */
/* Under shim.lock: the table of the model's expert tensors in the file
 * mapping, from the placements. Returns how many tensors it covers. */
int shim_reads_build_locked(void);
/* Under shim.lock: the reads stop (tiering off): the expert tensors' read-around back. */
void shim_reads_stop_locked(void);
/* Inside a step, no lock: MADV_WILLNEED of layer's experts ids[0..k), then
 * the read room's step for layer (read_room.c). */
void shim_reads_layer(uint32_t layer, const int32_t *ids, int k);
/* Inside a batch of several tokens (a prompt, or sequences decoding
 * together), no lock: the experts any of its tokens chose for layer, ids[0..n)
 * distinct: read in, and through the room (a step when n fits one, else
 * shim_room_batch). */
void shim_reads_batch(uint32_t layer, const int32_t *ids, int n);
/* The MADV_WILLNEED alone (the room's prefetches use it too). */
void shim_reads_experts(uint32_t layer, const int32_t *ids, int k);
/* One expert tensor of a layer in the file mapping (part 0 gate or gate_up,
 * 1 up, 2 down), NULL when it has none. Read without a lock (see reads.c). */
struct shim_read_part {
    uintptr_t base;
    uint64_t stride;
    uint32_t n_expert;
    int file;          /* model file index, and the file offset of base */
    uint64_t file_off;
    int shared;        /* a shared mapping (MAP_SHARED): dropping its pages never changes a byte */
};
const struct shim_read_part *shim_reads_part(uint32_t layer, int part);
uint32_t shim_reads_n_layers(void);

/* Under shim.lock: the read room takes the locked hot set's memory (the
 * plan's room_all: the engine's budget goes to 0), or gives it back. */
void shim_tiering_room_all(int on);

/* ---- the read room (read_room.c): the page cache the exact reads fill ---- */
/* Under shim.lock, from shim_reads_build_locked: the room for the model (its
 * policy, the experts already cached adopted). */
void shim_room_build_locked(void);
/* Under shim.lock: the room stops managing (its pages stay). */
void shim_room_stop_locked(void);
/* Under shim.lock, each round: the room's size from the memory this process
 * may use, locked bytes (the engine's locked experts) left out. */
void shim_room_update_locked(uint64_t locked);
/* Inside a step, no lock: layer's experts through the room's policy; what it
 * evicts is dropped from the page cache, its prefetches read. */
void shim_room_layer(uint32_t layer, const int32_t *ids, int k);
/* Inside a batch whose layer chose more experts than a step takes, no lock:
 * they are read in place: held ones stay, the others are dropped at the
 * room's next step; the policy learns nothing from it. */
void shim_room_batch(uint32_t layer, const int32_t *ids, int n);
/* The room's figures since start (for the summary line). */
struct shim_room_totals {
    uint64_t steps, misses, direct, prefetched, evicted, drop_failed;
    uint64_t prefetch_used; /* prefetches the next layer then chose */
    uint64_t batch_layers; /* layers of batches too wide for a step, read in place */
    uint32_t slots, cap;      /* held now, and the room's size in experts */
    uint64_t pair_bytes;
    const char *policy;
    /* the page cache when the model was unmapped (mincore): held experts cached
     * whole and in part, other experts with pages cached and those pages */
    int audited;
    uint32_t held_whole, held_part, other;
    uint64_t other_bytes;
};
/* The model's mapping [addr, addr + len) is going: when it holds the first
 * expert tensor, looks at what the page cache holds of the experts (mincore)
 * for the exit line, once, when info is logged. */
void shim_room_unmapping_locked(uintptr_t addr, size_t len);
void shim_room_totals(struct shim_room_totals *t);
/* The reads' figures since start: slices advised, their bytes, layers of
 * batches, layer steps (tokens' and batches') and the time spent in them. */
void shim_reads_totals(uint64_t *calls, uint64_t *bytes, uint64_t *batch_layers, uint64_t *layers, uint64_t *ns);

/* ---- tiering (tiering.c): all under shim.lock unless said otherwise ---- */
void shim_tiering_placed(const struct moetier_placement *p);
void shim_tiering_pinned(uintptr_t start, uintptr_t end);
void shim_tiering_forget(uintptr_t addr, size_t len);
/* Waits (releasing shim.lock meanwhile) until no migration in flight touches
 * [addr, addr+len); before anything of it is unmapped, freed, locked or pinned.
 * Not on the runtime thread (the only mover). */
void shim_tiering_wait(uintptr_t addr, size_t len);
/* A sampler may arm now: no migration in flight reads or remaps the binary's
 * memory (the fault sampler's PROT_NONE would fault it). */
int shim_tiering_may_arm(void);
/* A sampled decode step's experts (used[slot]); step: its number (shim_decode_begin's count). */
void shim_tiering_sample(uint64_t step, const uint8_t *used);
/* Per layer, under shim.lock: one MoE layer's experts as its router chose
 * them, while step still runs. Returns 1 when the policy will see it early. */
int shim_tiering_layer(uint64_t step, uint32_t layer, const int32_t *ids, size_t n);
/* The sampler was (re)built: its pagemap probe windows must stay unlocked;
 * a fetch sampler gets the model files' descriptors. */
void shim_tiering_probes(void);
/* Under shim.lock, once the weights are in place (the first decode, in the
 * decode thread; else the next round): the plan's start, tiering on or off. */
void shim_tiering_start(void);
/* Runtime thread: called and returns under shim.lock, which it releases
 * around each move (docs/tiering.md). */
void shim_tiering_round(void);
void shim_tiering_publish(struct moetier_stats_header *h, struct moetier_stats_expert *e);
int shim_tiering_set_budget(uint64_t budget);
int shim_tiering_set_policy(const char *name);
void shim_tiering_set_rate(uint64_t bytes_per_s);
int shim_tiering_active(void);
/* At exit: one line with what the engine did. */
void shim_tiering_finish(void);
/* In a forked child, all locks held: promoted ranges read the model's own
 * bytes again (never the cache the parent keeps using) and tiering stops. */
void shim_tiering_fork_child(void);
/* Huge-page cache: a reserved address for the binary's mapping of a model file
 * (len at file offset off) at which huge pages can back it, or NULL. */
void *shim_tiering_map_hint(size_t len, off_t off, int flags);
/* Around the binary's mmap of a model file (numa:N: the task policy); no lock. */
struct moetier_numa_policy;
int shim_tiering_map_begin(int fd, struct moetier_numa_policy *saved);
void shim_tiering_map_end(const struct moetier_numa_policy *saved);
/* The binary locks [addr, addr+len) (0, SIZE_MAX: mlockall). Takes the lock itself. */
void shim_locked(uintptr_t addr, size_t len);

/* ---- the plan (plan.c): every decision from tiering/plan.h, under shim.lock ---- */
struct moetier_plan_facts;
/* The facts as the shim knows them (tiering.c and runtime.c add theirs). */
struct moetier_plan_facts *shim_plan_facts(void);
/* The plan with the facts as they are; logs the lines of stage (-1: none). */
const struct moetier_plan *shim_plan_make(int stage);
/* At model open: gathers the machine's, the configuration's and the model's facts. */
const struct moetier_plan *shim_plan_open(void);
/* At the first decode: the same gathered again (memory now, memlock), the binary's locks. */
const struct moetier_plan *shim_plan_start(int locked_all);
/* Once the engine counted what it can tier. */
const struct moetier_plan *shim_plan_counted(uint32_t tierable_slots, size_t n_copied, uint64_t small_stride,
                                             uint64_t page_unit);
/* Tiering went off after it started (tiering_off). */
void shim_plan_stopped(void);
/* Before tiering starts: place the model's mapping for huge pages (the mmap
 * hook, shim_busy set: takes shim.lock itself). */
int shim_plan_map_hint(void);
/* A sampler build: tries the routing callback when the plan says so; the plan's sampler. */
enum moetier_plan_sampler shim_plan_sampler(void);
/* A decode graph could not be kept (shim_routing_cheap() is 0 now): per token no more. */
void shim_plan_routing_split(void);
/* MOETIER_PER_LAYER=auto's measurement (shim.split_trial): how the next
 * decode step goes, no lock: bit 0, it acts at every MoE layer's router (else
 * it is read after the step); SHIM_TRIAL_TIMED, its time counts (0: no
 * trial). Then, under shim.lock, that value and the step's time: the plan
 * decides once both ways have their steps. */
#define SHIM_TRIAL_TIMED 2
int shim_plan_trial_split(void);
void shim_plan_trial_time(int trial, uint64_t ns);

/* ---- staged PMem copies (staged.c) ---- */
/* Under shim.lock: model file `file` was opened; look for its staged copy once. */
void shim_staged_lookup(int file, const char *path);
/* The copy's fd, its offset and alignment for file; -ENOENT when none is served. */
int shim_staged_source(int file, int *fd, uint64_t *base, uint64_t *align);
/* The binary maps fd: a mapping of the staged copy, or NULL (map the original). */
void *shim_staged_map(void *addr, size_t len, int prot, int flags, int fd, off_t off,
                      void *(*real)(void *, size_t, int, int, int, off_t));
/* The binary unmaps [addr, addr+*len): 1 = skip it (an unaligned device-dax split);
 * *len may grow to the whole rounded mapping. */
int shim_staged_unmap(void *addr, size_t *len);
/* Fork protocol (lock 2): take, release in the parent, reset in the child. */
void shim_staged_fork_prepare(void);
void shim_staged_fork_parent(void);
void shim_staged_fork_child(void);

/* ---- allocations (alloc.c) ---- */
/* Live weight-sized allocations (>= MOETIER_ALLOC_MIN): count, and bytes. */
size_t shim_big_buffers(uint64_t *bytes);
/* p lies in the numa:N slow arena (no lock). */
int shim_slow_arena_owns(const void *p);
/* Fork protocol (lock 3). */
void shim_alloc_fork_prepare(void);
void shim_alloc_fork_parent(void);
void shim_alloc_fork_child(void);

/* ---- signals (hooks_signal.c) ---- */
int shim_fault_handler_install(void);

#endif
