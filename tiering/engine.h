/*
 * engine: the migration engine. It knows every expert slot's memory (one
 * page-aligned range per part: gate, up, down, or a fused gate_up), moves
 * slots between the slow tier and the DRAM cache (tiering/migrate.h) towards
 * the residency a policy wants (tiering/residency.h), and keeps the rules:
 *  - budget: cache bytes never pass the budget; a promotion that does not fit
 *    first demotes unwanted slots, coldest first, or does not happen;
 *  - hysteresis: a slot is promoted only once it has been wanted for
 *    `promote_after` consecutive rounds, and a promoted slot is not demoted to
 *    make room within `min_resident_ns` (a budget shrink overrides this);
 *    per token (moetier_engine_set_per_token) there is none: the policy has
 *    decided each token's admissions and evictions, a round carries them out;
 *  - rate limit: at most `bytes_per_s` promoted per second (0 = no limit);
 *  - a slot is moved whole: when one of its parts fails, the parts already
 *    moved are moved back;
 *  - excluded memory (pinned for CUDA, mlocked by the binary) is never touched.
 * A slot's range covers the whole pages inside its slice: edge pages shared
 * with the neighbouring slice stay on the slow tier (weights are read-only,
 * so which copy serves them does not matter; see docs/tiering.md).
 * Two-phase moves (docs/tiering.md): a round chooses one move at a time
 * under the caller's lock (moetier_engine_next: the slot is marked in flight),
 * performs it with the lock released (moetier_engine_move: the copies,
 * remaps, mlock, move_pages) and commits it under the lock again
 * (moetier_engine_commit, after a generation check). One mover; everything
 * else runs under the caller's lock and may run while a move is in flight:
 * forget, exclude and account never touch the slot in flight (its memory is
 * the mover's until the commit) and lower the cache's atomic counters only.
 * The caller makes whoever would unmap, lock or pin memory of the slot in
 * flight wait for the commit (moetier_engine_moving), so a move never maps
 * over an address range the binary has given back.
 */
#ifndef MOETIER_TIERING_ENGINE_H
#define MOETIER_TIERING_ENGINE_H

#include "tiering/dram_cache.h"
#include "tiering/migrate.h"
#include "tiering/numa_tier.h"
#include "tiering/residency.h"

#include <stdint.h>

#define MOETIER_ENGINE_PARTS 3

/*
 * What the slow tier served, in replay's vocabulary (tiering/replay.h): a use
 * of a tierable slot by a sampled decode step is a hit when the slot was in
 * the cache then (MOETIER_SLOT_DRAM), else a miss, read in place from the slow
 * tier: replay's `direct` (the engine never admits on demand, it promotes in
 * rounds). Promotions are slow-tier reads too (mig.n.bytes_promoted). The
 * engine does not read ahead of the step, so prefetched stays 0; it is kept
 * so that each of replay's categories has its figure. Bytes of a slot are
 * what a promotion moves (its whole pages, e->bytes).
 */
struct moetier_engine_traffic {
    uint64_t steps;            /* sampled decode steps accounted */
    uint64_t accesses, hits;   /* their uses of tierable slots */
    uint64_t direct_bytes;     /* bytes of the misses */
    uint64_t prefetched_bytes; /* read ahead of a step (none yet) */
};

enum moetier_slot_state {
    MOETIER_SLOT_SLOW = 0,      /* every part on the slow tier */
    MOETIER_SLOT_DRAM = 1,      /* every part in the cache */
    MOETIER_SLOT_EXCLUDED = 2,  /* pinned or locked: left where it is */
    MOETIER_SLOT_UNTIERED = 3,  /* no tierable range (anonymous buffer on the file tier, tiny slice) */
};

enum moetier_move_kind {
    MOETIER_MOVE_PROMOTE,  /* slot's parts into the cache (all, or none: rolled back) */
    MOETIER_MOVE_DEMOTE,   /* slot's cached parts back to the slow tier */
    MOETIER_MOVE_PLACE,    /* page migration: slot's pages onto the slow node (start-up) */
};

/* One move in flight: chosen and snapshotted under the lock, performed
 * without it, committed under it. */
struct moetier_move {
    uint32_t slot;
    enum moetier_move_kind kind;
    uint64_t gen;                    /* the engine's generation when chosen */
    struct moetier_range part[MOETIER_ENGINE_PARTS]; /* the slot's ranges then */
    uint8_t todo;                    /* parts to move */
    uint8_t done;                    /* parts the move left moved */
    int rc;                          /* 0 or the first failure */
    uint64_t need;                   /* promotion: the slot's bytes */
    struct moetier_numa_moved placed; /* place: what move_pages reported */
};

struct moetier_engine_opts {
    uint32_t promote_after;    /* rounds a slot must be wanted first (0 = 2) */
    uint64_t min_resident_ns;  /* 0 = 1 s */
    uint64_t bytes_per_s;      /* 0 = unlimited */
};

struct moetier_engine {
    uint32_t n_layers, n_experts, n_slots;
    struct moetier_range *range;   /* [n_slots * PARTS]; len 0 = no range */
    uint8_t *state;                /* [n_slots] enum moetier_slot_state */
    uint8_t *part_in;              /* [n_slots] bit p: part p is in the cache */
    uint8_t *wanted_rounds;        /* [n_slots] consecutive rounds wanted (saturating) */
    uint64_t *since_ns;            /* [n_slots] when it was promoted */
    uint64_t *bytes;               /* [n_slots] cache bytes it takes when promoted */
    struct moetier_dram_cache cache;
    struct moetier_migrator mig;
    struct moetier_engine_opts opts;
    struct moetier_engine_opts rounds_opts; /* the hysteresis of rounds, while per token */
    int per_token;                 /* moetier_engine_set_per_token */
    uint64_t last_round_ns;
    double allowance;              /* bytes the rate limit still allows */
    uint32_t *order;               /* [n_slots] scratch */
    uint64_t rounds;
    uint64_t align[MOETIER_CACHE_MAX_FILES];
    /* optional: pins (on) / unpins (off) a promoted range for the GPU (CUDA);
     * a slot is unpinned before it is demoted. Returns 0 or an error (the slot
     * then stays unpinned). */
    int (*pin)(void *ctx, const struct moetier_range *r, int on);
    void *pin_ctx;
    uint8_t *pinned;               /* [n_slots] bit p: part p is pinned */
    uint64_t pinned_bytes;
    struct moetier_engine_traffic traffic;
    /* two-phase moves */
    uint64_t gen;                  /* bumped by forget, exclude and a budget change */
    int moving;                    /* a move is in flight (between next and commit) */
    uint32_t move_slot;            /* its slot */
    uint8_t move_parts;            /* its parts */
    struct moetier_range move_range[MOETIER_ENGINE_PARTS]; /* their ranges when chosen (a forget may clear the slot's) */
    int move_lost;                 /* the slot in flight was forgotten meanwhile: its commit discards */
    uint32_t round_i, round_n;     /* the round in progress: order[round_i..round_n) left */
    int round_stop, round_warm, round_ordered;
    int round_why;                 /* why the round stopped before its end (moetier_round.stopped_by) */
    uint64_t round_now;
    uint32_t place_i;              /* start-up placement (moetier_engine_place_next) progress */
    /* tests: called by moetier_engine_move before the move, with the caller's lock released */
    void (*move_hook)(void *ctx, const struct moetier_move *m);
    void *move_hook_ctx;
};

/*
 * n_files source files of the given sizes; budget in bytes. Returns 0 or -errno
 * (the cache or the migrator could not be set up).
 */
int moetier_engine_init(struct moetier_engine *e, uint32_t n_layers, uint32_t n_experts, uint32_t n_files,
                        const uint64_t *file_sizes, uint64_t budget, int huge, const struct moetier_engine_opts *o);
void moetier_engine_free(struct moetier_engine *e);

/* The slow backing of file: an fd to map back (not owned) and the offset of its byte 0.
 * align: remapped ranges of this file start and end on it (a device-dax copy:
 * 2 MiB); 0 = the cache's page. Set before moetier_engine_add. */
void moetier_engine_set_source(struct moetier_engine *e, uint32_t file, int fd, uint64_t base, uint64_t align);

/*
 * A tierable placement: part `part` of layer's n_expert experts, expert x at
 * base + x * stride in a read-only MAP_SHARED mapping of source `file`, whose
 * byte at base is the file's byte file_off. Replaces an earlier one of the same
 * (layer, part); slots it had promoted must have been demoted first
 * (moetier_engine_forget). Returns 0, -EINVAL, or -EBUSY (a slot promoted or
 * in flight).
 */
int moetier_engine_add(struct moetier_engine *e, uint32_t layer, uint32_t part, uintptr_t base, uint64_t stride,
                       uint32_t n_expert, uint32_t file, uint64_t file_off, int prot);

/* Locking mode (file tier): promotion mlocks the page cache in place (migrate.h). Set before rounds. */
void moetier_engine_set_lock(struct moetier_engine *e);

/*
 * [addr, addr+len) of slot's memory must stay unlocked (a pagemap sampler
 * probe): recorded as the keep window of the slot's range that contains it,
 * and unlocked at once if that range is locked now. Ranges without a probe
 * lock whole.
 */
void moetier_engine_keep_unlocked(struct moetier_engine *e, uint32_t slot, uintptr_t addr, size_t len);

/* Marks every slot with a range overlapping [start, end) excluded (pinned, locked). */
void moetier_engine_exclude(struct moetier_engine *e, uintptr_t start, uintptr_t end);

/*
 * Memory [start, end) is going away (the binary unmaps it): slots with ranges
 * there stop being tiered and their cache bytes are freed without remapping.
 */
void moetier_engine_forget(struct moetier_engine *e, uintptr_t start, uintptr_t end);

struct moetier_round {
    uint32_t promoted, demoted, failed;
    uint64_t bytes_promoted, bytes_demoted;
    int stopped_by;  /* 0, or why promotion stopped early: -ENOSPC (budget), -EAGAIN (rate), -EMLINK (maps) */
};

/*
 * One reconciliation step towards r's wanted set; rate[] (may be NULL) orders
 * promotions (hottest first) and demotions (coldest first). warm: promote
 * what is wanted now, without hysteresis (warm start at load).
 */
void moetier_engine_round(struct moetier_engine *e, const struct moetier_residency *r, const float *rate,
                          uint64_t now_ns, int warm, struct moetier_round *out);

/*
 * The same round in two phases, for a caller that releases its lock while
 * memory moves:
 *   lock; moetier_engine_round_begin(...);
 *   while (moetier_engine_next(e, r, rate, &m)) {
 *       unlock; moetier_engine_move(e, &m); lock;
 *       moetier_engine_commit(e, &m, &out); (wake whoever waits on moetier_engine_moving)
 *   }
 *   moetier_engine_round_end(e, &out); unlock;
 * next returns 0 when the round is over (or a move is in flight); out gathers
 * what moetier_engine_round reports.
 */
void moetier_engine_round_begin(struct moetier_engine *e, uint64_t now_ns, int warm, struct moetier_round *out);
int moetier_engine_next(struct moetier_engine *e, const struct moetier_residency *r, const float *rate,
                        struct moetier_move *m);
void moetier_engine_move(struct moetier_engine *e, struct moetier_move *m);
void moetier_engine_commit(struct moetier_engine *e, struct moetier_move *m, struct moetier_round *out);
void moetier_engine_round_end(struct moetier_engine *e, struct moetier_round *out);

/* A move in flight touches memory overlapping [start, end): wait for its commit before unmapping, locking or
 * pinning any of it. */
int moetier_engine_moving(const struct moetier_engine *e, uintptr_t start, uintptr_t end);

/*
 * One sampled decode step used the slots with used[s] != 0 ([n_slots]):
 * counts its hits and misses against the residency when it ended (a round
 * that ran during the step may have moved a slot the step had read already).
 * Excluded and untiered slots are not the slow tier's and are not counted.
 */
void moetier_engine_account(struct moetier_engine *e, const uint8_t *used);

/*
 * Per-token mode (on) or rounds (off): per token, a round follows the wanted
 * set as it is (promote_after 1, no minimum residency), since the policy saw
 * every token in order and already decided; in rounds, the options given at
 * init (or their defaults). Budget and rate limit hold either way.
 */
void moetier_engine_set_per_token(struct moetier_engine *e, int on);

/* A new budget; when it shrinks, coldest slots are demoted until it holds,
 * all at once (one caller, no lock to release: tests, tools). 0 or -EBUSY
 * (could not). */
int moetier_engine_set_budget(struct moetier_engine *e, uint64_t budget, const float *rate);
/* The same in two phases, for a caller that releases its lock around moves
 * (the runtime): the new budget only, then each demotion the shrink needs,
 * chosen under the lock like a round's move (coldest promoted slot first;
 * the slot is marked in flight), moved with moetier_engine_move outside it
 * and committed with moetier_engine_commit. shrink_next returns 0 once the
 * cache holds within its budget, or when nothing can go. */
void moetier_engine_set_budget_only(struct moetier_engine *e, uint64_t budget);
int moetier_engine_shrink_next(struct moetier_engine *e, const float *rate, struct moetier_move *m);

/*
 * In a forked child (one thread, before it runs anything else): every part in
 * the cache reads its source again (mapped back, or a private copy), so that
 * the parent's later demotions, which free the shared memfd's pages, cannot
 * change what the child reads. The cache pages stay the parent's: nothing is
 * released; the child's descriptors of the memfds are closed. The engine is
 * unusable afterwards. Returns the number of parts left on the cache.
 */
int moetier_engine_fork_child(struct moetier_engine *e);

/* Demotes every slot (at exit, or before giving up). */
void moetier_engine_demote_all(struct moetier_engine *e);

/*
 * Page migration mode (numa:N): moves every tierable slot's pages to the slow
 * node, summing what move_pages reported. 0, or -EINVAL in remap mode.
 * place_next: the same one slot at a time, as a two-phase move (0: all done,
 * or remap mode); the commit adds m->placed into sum.
 */
int moetier_engine_place_slow(struct moetier_engine *e, struct moetier_numa_moved *sum);
int moetier_engine_place_next(struct moetier_engine *e, struct moetier_move *m);
void moetier_numa_moved_add(struct moetier_numa_moved *sum, const struct moetier_numa_moved *m);

/* Slots in each state, and how many slots the budget can hold (the policy's capacity). */
uint32_t moetier_engine_count(const struct moetier_engine *e, enum moetier_slot_state s);
uint32_t moetier_engine_capacity(const struct moetier_engine *e);

#endif
