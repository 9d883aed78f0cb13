/*
 * runtime: the shim's state and its life cycle: configuration at load, the
 * model when the binary opens it, placements as weights land in memory,
 * sampling around decode steps, publishing (live stats segment, profile), fork
 * and exit. See shim.h for the rules.
 */
#include "shim/shim.h"
#include "common/fail_point.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/meminfo.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/futex.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/auxv.h>
#include <unistd.h>

struct shim_state shim = { .lock = PTHREAD_MUTEX_INITIALIZER, .moved = PTHREAD_COND_INITIALIZER };
__thread int shim_busy __attribute__((tls_model("initial-exec")));

#define ROUND_MS 100 /* migration rounds, at the latest */
#define ROUND_MIN_MS 10 /* rounds asked for by samples, at the most often */
#define PUBLISH_MS 200
#define PROFILE_SAVE_S 60
#define HALF_LIFE_SAMPLES 64.0

uint64_t shim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void shim_give_up(const char *why)
{
    if (shim.given_up)
        return;
    shim.given_up = 1;
    shim.model_ready = 0;
    shim.active = 0;
    moetier_sampler_disarm(&shim.sampler);
    log_error("%s; moetier is now pass-through for this process", why);
}

/* ---- the model ---------------------------------------------------------- */

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Index of the model file that path names, or -1. */
static int model_file_index(const char *path)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (!realpath(path, a))
        return -1;
    size_t n = moetier_gguf_model_n_files(shim.model.gguf);
    for (size_t i = 0; i < n; i++)
        if (realpath(moetier_gguf_model_path(shim.model.gguf, i), b) && strcmp(a, b) == 0)
            return (int)i;
    return -1;
}

static void publish_locked(void);

/* "MOETIER_PROFILE=PATH" where the user named the file, else "profile PATH":
 * a message about a bad setting names the variable. */
static const char *profile_name(char *buf, size_t cap)
{
    if (shim.cfg.source[MOETIER_CFG_PROFILE] == MOETIER_SRC_ENV)
        moetier_fmt(buf, cap, "MOETIER_PROFILE=%s", shim.profile_path);
    else
        moetier_fmt(buf, cap, "profile %s", shim.profile_path);
    return buf;
}

static void profile_start(void)
{
    if (strcmp(shim.cfg.profile, "off") == 0)
        return;
    if (shim.cfg.profile[0])
        moetier_fmt(shim.profile_path, sizeof shim.profile_path, "%s", shim.cfg.profile);
    else if (!moetier_profile_default_path(shim.model.id, shim.profile_path, sizeof shim.profile_path))
        return;
    struct moetier_profile p;
    char err[256];
    int rc = moetier_profile_load(shim.profile_path, shim.model.id, &p, NULL, err, sizeof err);
    if (rc == -ENOENT)
        return;
    if (rc) {
        char name[MOETIER_PATH_MAX + 24];
        log_warn("%s: not used: %s", profile_name(name, sizeof name), err);
        if (rc == -ESTALE)
            shim.profile_path[0] = '\0'; /* never overwrite another model's profile */
        return;
    }
    if (moetier_hotness_seed(&shim.hot, &p) == 0 && (shim.profile_seeded = 1))
        log_info("warm start from %s (%llu decode tokens seen before)", shim.profile_path,
                 (unsigned long long)p.tokens_decode);
    free(p.blocks);
    free(p.experts);
}

/* The profile save in two halves, so that the write and its fsync run
 * without shim.lock: a snapshot under the lock, then the file. */
struct profile_snapshot {
    struct moetier_profile p;
    char path[MOETIER_PATH_MAX];
    char name[MOETIER_PATH_MAX + 24]; /* how messages name it */
};

/* Under shim.lock: 1 when there is something to save (then profile_write). */
static int profile_snapshot(struct profile_snapshot *s)
{
    if (!shim.profile_path[0] || shim.child || !shim.model_open || shim.hot.samples == 0)
        return 0;
    struct moetier_profile *p = &s->p;
    memset(p, 0, sizeof *p);
    moetier_fmt(p->model_id, sizeof p->model_id, "%s", shim.model.id);
    moetier_fmt(p->model, sizeof p->model, "%s", shim.model_path);
    p->n_layers = shim.model.n_layers;
    p->n_experts = shim.model.n_experts;
    p->tokens_decode = shim.tokens_decode;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    p->saved_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
    p->blocks = shim.model.blocks; /* fixed once the model is open */
    p->experts = malloc(shim.hot.n_slots * sizeof *p->experts);
    if (!p->experts)
        return 0;
    moetier_hotness_export(&shim.hot, p->experts);
    moetier_fmt(s->path, sizeof s->path, "%s", shim.profile_path);
    profile_name(s->name, sizeof s->name);
    return 1;
}

/* Without shim.lock: writes (and fsyncs) the snapshot. */
static void profile_write(struct profile_snapshot *s)
{
    char why[MOETIER_PATH_MAX + 200];
    int rc = moetier_profile_save_ex(s->path, &s->p, why, sizeof why);
    if (rc)
        log_warn("%s: cannot save: %s", s->name, why[0] ? why : strerror(-rc));
    free(s->p.experts);
}

static void *runtime_thread(void *arg);

static int model_start(const char *path)
{
    char err[256];
    int rc = moetier_model_open(path, &shim.model, err, sizeof err);
    if (rc) {
        /* a model moetier cannot read is still the binary's to load: pass through */
        log_warn("%s; not tiering it (pass-through)", err);
        return rc;
    }
    shim.model_open = 1;
    moetier_fmt(shim.model_path, sizeof shim.model_path, "%s", path);
    uint32_t slots = shim.model.n_layers * shim.model.n_experts;
    shim.used = MOETIER_FAIL("runtime.alloc") ? NULL : calloc(slots, 1);
    if (!shim.used || moetier_hotness_init(&shim.hot, shim.model.n_layers, shim.model.n_experts, HALF_LIFE_SAMPLES)) {
        shim_give_up("out of memory setting up the profiler");
        return -ENOMEM;
    }
    profile_start();
    /* the plan's first stage: MOETIER_SLOW=auto resolved, the budget in bytes */
    const struct moetier_plan *plan = shim_plan_open();
    shim.dram_budget = plan->budget_asked;
    shim.cfg.slow = plan->slow;
    shim.cfg.slow_node = plan->slow_node;
    shim_plan_facts()->cfg = shim.cfg;
    if (!shim.child) {
        rc = moetier_stats_create(&shim.stats, shim.cfg.stats_dir, shim.model.n_layers, shim.model.n_experts,
                                  shim.model.blocks);
        if (rc)
            log_warn("no live stats: cannot create the stats segment in %s: %s",
                     shim.cfg.stats_dir[0] ? shim.cfg.stats_dir : "the default directory",
                     shim.stats.err[0] ? shim.stats.err : strerror(-rc));
        else
            publish_locked();
        if (pthread_create(&shim.thread, NULL, runtime_thread, NULL) == 0)
            shim.thread_running = 1;
        else
            log_warn("cannot start the runtime thread: no periodic publishing");
    }
    log_info("model %s: %u MoE layers x %u experts, id %s", path, shim.model.n_layers, shim.model.n_experts,
             shim.model.id);
    return 0;
}

void shim_file_opened(const char *path, int fd)
{
    if (fd >= SHIM_MAX_FD || fnmatch(shim.cfg.match, base_name(path), 0) != 0)
        return;
    shim_busy = 1;
    shim_lock();
    int idx = -1;
    if (!shim.model_open && !shim.given_up) {
        if (model_start(path) == 0)
            idx = model_file_index(path);
    } else if (shim.model_open) {
        idx = model_file_index(path);
        if (idx < 0)
            log_info("%s is not part of the model being tiered (%s); ignored", path, shim.model_path);
    }
    if (idx >= 0 && idx < 127) {
        shim.fd_file[fd] = (int8_t)(idx + 1);
        shim_staged_lookup(idx, path);
    }
    shim_unlock();
    shim_busy = 0;
}

void shim_fd_closed(int fd)
{
    shim.fd_file[fd] = 0;
}

/* ---- placements ------------------------------------------------------- */

static int pinned_at(uintptr_t a)
{
    for (size_t i = 0; i < shim.n_pinned; i++)
        if (a >= shim.pinned[i].start && a < shim.pinned[i].end)
            return 1;
    return 0;
}

static void place(uintptr_t base, const struct moetier_expert_tensor *t, uint32_t layer, int kind, int prot)
{
    struct moetier_placement p = {
        .base = base,
        .stride = t->expert_bytes,
        .n_expert = (uint32_t)t->ne[2],
        .layer = layer,
        .part = (uint8_t)t->part,
        .kind = (uint8_t)(pinned_at(base) ? MOETIER_MEM_PINNED : kind),
        .prot = prot,
        .file = t->file,
        .file_off = t->offset,
    };
    if (shim.sampler_built)
        shim.sampler_stale = 1; /* rebuilt before the next sample */
    if (moetier_placements_add(&shim.placements, &p)) {
        log_warn("placement table full: layer %u not sampled", layer);
        return;
    }
    shim_tiering_placed(&p);
    log_debug("layer %u %s experts at %p (%s)", layer, moetier_expert_part_name(t->part), (void *)base,
                  moetier_mem_kind_name(p.kind));
}

void shim_mapped(void *addr, size_t len, int prot, int flags, int fd, off_t offset)
{
    int file = shim.fd_file[fd] - 1;
    shim_busy = 1;
    shim_lock();
    const struct moetier_expert_map *m = shim.model.map;
    for (uint32_t l = 0; m && l < m->n_layers; l++) {
        const struct moetier_expert_layer *ly = &m->layers[l];
        for (int i = 0; i < ly->n_tensors; i++) {
            const struct moetier_expert_tensor *t = &ly->tensor[i];
            if (t->file != file || t->offset < (uint64_t)offset || t->offset + t->size > (uint64_t)offset + len)
                continue;
            place((uintptr_t)addr + (t->offset - (uint64_t)offset), t, l,
                  (flags & MAP_SHARED) ? MOETIER_MEM_FILE_SHARED : MOETIER_MEM_FILE_PRIVATE, prot);
        }
    }
    if (shim.placements.n)
        shim.model_ready = 1;
    shim_unlock();
    shim_busy = 0;
}

void shim_read_into(int fd, off_t off, const void *buf, size_t len)
{
    int file = shim.fd_file[fd] - 1;
    if (len < 4096)
        return; /* headers and small reads: never a whole expert tensor */
    shim_busy = 1;
    shim_lock();
    const struct moetier_expert_map *m = shim.model.map;
    for (uint32_t l = 0; m && l < m->n_layers; l++) {
        const struct moetier_expert_layer *ly = &m->layers[l];
        for (int i = 0; i < ly->n_tensors; i++) {
            const struct moetier_expert_tensor *t = &ly->tensor[i];
            if (t->file == file && t->offset >= (uint64_t)off && t->offset + t->size <= (uint64_t)off + len)
                place((uintptr_t)buf + (t->offset - (uint64_t)off), t, l, MOETIER_MEM_ANON, PROT_READ | PROT_WRITE);
        }
    }
    if (shim.placements.n)
        shim.model_ready = 1;
    shim_unlock();
    shim_busy = 0;
}

/* "blk.N.ffn_PART_exps.weight" -> N and PART; 0 on a match. */
static int parse_expert_tensor_name(const char *name, int *block, char *part, size_t cap)
{
    static const char suffix[] = "_exps.weight";
    if (!name || strncmp(name, "blk.", 4) != 0)
        return -1;
    const char *p = name + 4;
    int n = 0, digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 7; p++, digits++)
        n = n * 10 + (*p - '0');
    if (!digits || strncmp(p, ".ffn_", 5) != 0)
        return -1;
    p += 5;
    const char *end = strstr(p, suffix);
    if (!end || end[sizeof suffix - 1] != '\0' || (size_t)(end - p) >= cap || end == p)
        return -1;
    memcpy(part, p, (size_t)(end - p));
    part[end - p] = '\0';
    *block = n;
    return 0;
}

void shim_tensor_placed(const char *name, void *data, size_t nbytes)
{
    int block;
    char part[16];
    if (!data || parse_expert_tensor_name(name, &block, part, sizeof part) != 0)
        return;
    shim_busy = 1;
    shim_lock();
    int l = moetier_model_layer_of_block(&shim.model, block);
    if (l >= 0) {
        const struct moetier_expert_layer *ly = &shim.model.map->layers[l];
        for (int i = 0; i < ly->n_tensors; i++) {
            struct moetier_expert_tensor t = ly->tensor[i];
            if (strcmp(moetier_expert_part_name(t.part), part) != 0)
                continue;
            /* a repacked tensor keeps each expert one contiguous slice of nbytes / n_expert */
            if (t.ne[2] > 0 && nbytes % (size_t)t.ne[2] == 0)
                t.expert_bytes = nbytes / (size_t)t.ne[2];
            place((uintptr_t)data, &t, (uint32_t)l, MOETIER_MEM_ANON, PROT_READ | PROT_WRITE);
            shim.model_ready = 1;
        }
    }
    shim_unlock();
    shim_busy = 0;
}

void shim_pinned(void *ptr, size_t size, int add)
{
    shim_lock();
    if (add && shim.n_pinned < SHIM_MAX_PINNED) {
        shim.pinned[shim.n_pinned].start = (uintptr_t)ptr;
        shim.pinned[shim.n_pinned].end = (uintptr_t)ptr + size;
        shim.n_pinned++;
        shim_tiering_pinned((uintptr_t)ptr, (uintptr_t)ptr + size);
    } else if (!add) {
        for (size_t i = 0; i < shim.n_pinned; i++)
            if (shim.pinned[i].start == (uintptr_t)ptr)
                shim.pinned[i] = shim.pinned[--shim.n_pinned];
    }
    shim_unlock();
}

void shim_unmapping(void *addr, size_t len)
{
    shim_busy = 1;
    shim_lock();
    shim_tiering_wait((uintptr_t)addr, len); /* never give back memory a migration is moving */
    shim_room_unmapping_locked((uintptr_t)addr, len);
    moetier_sampler_forget(&shim.sampler, (uintptr_t)addr, len);
    shim_tiering_forget((uintptr_t)addr, len);
    moetier_placements_retire(&shim.placements, (uintptr_t)addr, len);
    shim_unlock();
    shim_busy = 0;
}

/* ---- sampling ---------------------------------------------------------- */

static void sampler_build_locked(void);

/* Placements changed after the sampler was built (a model loaded again, a
 * repacked copy): build a new one. Between samples nothing is armed, so no
 * fault can be ours; the handler sees kind NONE while the old one goes. */
static void sampler_rebuild_locked(void)
{
    shim.sampler_stale = 0;
    if (!shim.sampler_routing) { /* routing never built shim.sampler: nothing to free (its fds are 0s) */
        moetier_sampler_disarm(&shim.sampler); /* the fetch sampler stays armed between steps */
        __atomic_store_n(&shim.sampler.kind, MOETIER_SAMPLE_NONE, __ATOMIC_SEQ_CST);
        moetier_sampler_free(&shim.sampler);
    }
    shim.sampler_routing = 0;
    shim.sampler_built = 0;
    sampler_build_locked();
}

static void sampler_build_locked(void)
{
    static const int kinds[] = { [MOETIER_PLAN_SAMPLER_FETCH] = MOETIER_SAMPLE_FETCH,
                                 [MOETIER_PLAN_SAMPLER_PAGEMAP] = MOETIER_SAMPLE_PAGEMAP,
                                 [MOETIER_PLAN_SAMPLER_FAULT] = MOETIER_SAMPLE_FAULT,
                                 [MOETIER_PLAN_SAMPLER_CHOOSE] = MOETIER_SAMPLE_NONE };
    char why[200] = "";
    shim.sampler_built = -1;
    /* the plan's sampler (it tries llama.cpp's routing callback when that is the one) */
    enum moetier_plan_sampler choice = shim_plan_sampler();
    if (choice == MOETIER_PLAN_SAMPLER_OFF)
        return;
    if (choice == MOETIER_PLAN_SAMPLER_ROUTING) {
        shim.sampler_routing = 1;
        shim.sampler_built = 1;
        if (shim.routing_reads)
            log_info("sampler: routing with exact reads, %d expert tensors in the file mapping, every decode step",
                     shim_reads_build_locked());
        return;
    }
    shim.sampler_routing = 0;
    int kind = kinds[choice];
    int rc = moetier_sampler_build(&shim.sampler, kind, &shim.placements, shim.model.n_layers, shim.model.n_experts,
                                   why, sizeof why);
    if (rc) {
        log_warn("no expert sampling: %s", why);
        return;
    }
    if (moetier_sampler_uses_faults(&shim.sampler) && shim_fault_handler_install() != 0) {
        moetier_sampler_free(&shim.sampler);
        log_warn("no expert sampling: cannot install the SIGSEGV handler");
        return;
    }
    shim.sampler_built = 1;
    shim_tiering_probes();
    if (why[0])
        log_info("sampler: %s", why);
    if (shim.sampler.kind == MOETIER_SAMPLE_PAGEMAP)
        log_info("sampler: pagemap, %zu probes of %llu KiB", shim.sampler.n,
                 (unsigned long long)(shim.sampler.unit >> 10));
    else if (shim.sampler.kind == MOETIER_SAMPLE_FETCH)
        log_info("sampler: fetch, %zu expert tensors, %u experts covered, armed every decode step",
                 shim.sampler.n_regions, shim.sampler.covered);
    else
        log_info("sampler: fault, %zu layer regions, %u experts covered", shim.sampler.n_regions,
                 shim.sampler.covered);
}

/* A sample is due when the period has passed and the sampler has used less than
 * its budget (MOETIER_SAMPLE_BUDGET) of the time since decoding started: on
 * machines where TLB shootdowns are slow, sampling thins out by itself. */
static int sample_due(uint64_t now)
{
    if (!shim.first_decode_ns)
        shim.first_decode_ns = now;
    if (shim.sampler_fetch)
        return 1; /* the fetch sampler reads experts in: every step */
    if (shim.per_token)
        return 1; /* the plan: every step's experts, exactly (keep mode: microseconds a step) */
    /* the period spaces out the page samplers' disturbance; the routing
     * sampler's keep mode disturbs nothing: only the budget limits it */
    int period = !(shim.sampler_routing && shim_routing_cheap() &&
                   shim.cfg.source[MOETIER_CFG_SAMPLE_MS] != MOETIER_SRC_ENV);
    if (period && now - shim.last_sample_ns < (uint64_t)shim.cfg.sample_ms * 1000000ULL)
        return 0;
    double elapsed = (double)(now - shim.first_decode_ns);
    return (double)shim.sampler_ns <= elapsed * shim.cfg.sample_budget / 100 || shim.hot.samples == 0;
}

/* Asks the runtime thread for a round now instead of at its next period (per
 * token: at once, for this token's moves; in rounds: at most every
 * ROUND_MIN_MS): a
 * futex word, no lock and no descriptor (a host that closes every fd, or
 * forks, cannot make this write into one of its own). One wake while one is
 * pending. */
static void runtime_wake(void)
{
    if (__atomic_exchange_n(&shim.wake_pending, 1, __ATOMIC_ACQ_REL))
        return;
    __atomic_add_fetch(&shim.wake_seq, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &shim.wake_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* The runtime thread: sleeps until woken or ms pass. */
static void runtime_sleep(unsigned ms)
{
    uint32_t seen = __atomic_load_n(&shim.wake_seq, __ATOMIC_ACQUIRE);
    if (!__atomic_load_n(&shim.wake_pending, __ATOMIC_ACQUIRE)) {
        struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
        syscall(SYS_futex, &shim.wake_seq, FUTEX_WAIT_PRIVATE, seen, &ts, NULL, 0);
    }
    __atomic_store_n(&shim.wake_pending, 0, __ATOMIC_RELEASE);
}

static __thread uint64_t tl_step; /* this thread's decode call (shim.steps_begun's count) */
static __thread int tl_layers;     /* this step acts at each MoE layer's router (per layer, or the trial) */
static __thread int tl_trial;      /* MOETIER_PER_LAYER=auto's measurement: this step's part (plan.c) */

int shim_decode_per_layer(void)
{
    return tl_layers;
}

void shim_decode_begin(void *ctx, int n_tokens, int *sampling)
{
    uint64_t step = __atomic_add_fetch(&shim.steps_begun, 1, __ATOMIC_RELAXED);
    tl_step = step;
    tl_layers = 0;
    tl_trial = 0;
    shim_routing_enter(ctx, n_tokens);
    enum shim_phase phase = shim.warmup ? SHIM_PHASE_WARMUP : n_tokens == 1 ? SHIM_PHASE_DECODE : SHIM_PHASE_PROMPT;
    if (!shim.loaded) {
        /* the weights are in place: tiering starts in this step, not a
         * period later (a short run could end before it), so that this
         * step's reads are already moetier's: under a memory cap a plain
         * first step reads most of the model through the kernel's
         * read-around (measured: 500-800 MB of a 675 MiB model) */
        shim.loaded = 1;
        static void *n_threads_fn;
        int32_t (*n_threads)(void *) = (int32_t (*)(void *))shim_real_optional("llama_n_threads", &n_threads_fn);
        shim.compute_threads = n_threads && ctx ? n_threads(ctx) : 0;
        if (!shim.child) {
            shim_busy = 1;
            shim_lock();
            shim_tiering_start();
            shim_unlock();
            shim_busy = 0;
            runtime_wake();
        }
    }
    if (phase == SHIM_PHASE_PROMPT && n_tokens > 1 && !shim.child) {
        /* exact reads: the batch's experts read in layer by layer (else each
         * page of them is a fault: the read-around is off) */
        shim_busy = 1;
        shim_lock();
        int reads = shim.routing_reads && shim.sampler_built > 0 && shim.sampler_routing && !shim.given_up;
        shim_unlock();
        if (reads) {
            *sampling = SHIM_SAMPLING_PROMPT_READS;
            shim_routing_prompt(ctx, 1);
        }
        shim_busy = 0;
        return;
    }
    if (phase != SHIM_PHASE_DECODE || shim.child)
        return;
    uint64_t now = shim_now_ns();
    if (!sample_due(now))
        return;
    shim_busy = 1;
    shim_lock();
    if (!shim.sampler_built)
        sampler_build_locked();
    else if (shim.sampler_stale)
        sampler_rebuild_locked();
    if (shim.sampler_built > 0 && !shim.given_up && shim.sampler_routing) {
        *sampling = SHIM_SAMPLING_ROUTING; /* switched on below, outside the lock */
    } else if (shim.sampler_built > 0 && !shim.given_up && shim_tiering_may_arm()) {
        /* (a migration in flight: this step goes unsampled, it never waits) */
        uint64_t t0 = shim_now_ns();
        shim.armed = 1;
        /* no step since the last sampled one: pagemap may skip the windows that missed */
        shim.sampler.fresh = step == shim.armed_step + 1;
        shim.armed_step = step;
        moetier_sampler_arm(&shim.sampler);
        shim.sampler_ns += shim_now_ns() - t0;
        *sampling = 1;
    }
    shim_unlock();
    if (*sampling == SHIM_SAMPLING_ROUTING) {
        uint64_t t0 = shim_now_ns();
        /* per token, every step is sampled: only where keep mode reads it
         * (a step whose graph was not kept goes unsampled), unless
         * MOETIER_SAMPLE_BUDGET=100% or per layer pays for the split */
        tl_trial = shim.per_token && !shim.per_layer ? shim_plan_trial_split() : 0;
        tl_layers = shim.per_token && (shim.per_layer || (tl_trial & 1));
        shim_routing_step(ctx, 1, shim.per_token && !tl_layers && shim.cfg.sample_budget < 100);
        shim.sampler_ns += shim_now_ns() - t0;
    }
    shim_busy = 0;
}

void shim_decode_end(void *ctx, int n_tokens, int sampling, uint64_t ns, int rc)
{
    if (sampling == SHIM_SAMPLING_ROUTING) {
        shim_busy = 1;
        shim_routing_step(ctx, 0, 0);
        shim_busy = 0;
    } else if (sampling == SHIM_SAMPLING_PROMPT_READS) {
        shim_busy = 1;
        shim_routing_prompt(ctx, 0);
        shim_busy = 0;
        sampling = 0; /* nothing sampled */
    }
    uint64_t now = shim_now_ns();
    if (shim.warmup) {
        shim.tokens_warmup += (uint64_t)n_tokens;
    } else if (n_tokens == 1) {
        shim.tokens_decode++;
        shim.decode_ns_total += ns;
        if (!sampling)
            shim.decode_ns_plain = shim.decode_ns_plain ? 0.9 * shim.decode_ns_plain + 0.1 * (double)ns : (double)ns;
        else if (shim.decode_ns_plain > 0 && (double)ns > shim.decode_ns_plain &&
                 (sampling != SHIM_SAMPLING_ROUTING || shim_routing_split()))
            /* what sampling cost the decode step itself (the fault sampler's
             * faults land there) counts against the sampling budget too */
            shim.sampler_ns += (uint64_t)((double)ns - shim.decode_ns_plain);
        if (shim.last_decode_ns) {
            double dt = (double)(now - shim.last_decode_ns) / 1e9;
            if (dt > 0)
                shim.tok_per_s = shim.tok_per_s ? 0.9 * shim.tok_per_s + 0.1 / dt : 1 / dt;
        }
        shim.last_decode_ns = now;
    } else {
        shim.tokens_prompt += (uint64_t)(n_tokens > 0 ? n_tokens : 0);
        shim.last_decode_ns = 0;
    }
    if (!sampling)
        return;
    shim_busy = 1;
    shim_lock();
    uint64_t t0 = shim_now_ns();
    memset(shim.used, 0, shim.hot.n_slots);
    int learn = 1;
    if (sampling == SHIM_SAMPLING_ROUTING) {
        char why[200];
        int n = shim_routing_collect(rc, shim.used, why, sizeof why);
        learn = n > 0;
        if (learn && n_tokens == 1)
            shim_plan_trial_time(tl_trial, ns);
        if (shim.per_token && !shim_routing_cheap() && shim.cfg.sample_budget < 100)
            shim_plan_routing_split(); /* a decode graph could not be kept: sampling every step would cost speed */
        if (n < 0 && !shim.routing_failed) {
            /* one line; the next due sample builds today's samplers */
            log_warn("routing sampler: %s; falling back to the other samplers", why);
            shim.routing_failed = 1;
            shim.sampler_routing = 0;
            shim.sampler_built = 0;
        }
    } else {
        moetier_sampler_collect(&shim.sampler, shim.used);
    }
    shim.armed = 0;
    if (learn) {
        moetier_hotness_record(&shim.hot, shim.used);
        shim_tiering_sample(tl_step, shim.used);
    }
    shim.last_sample_ns = shim_now_ns();
    shim.sampler_ns += shim.last_sample_ns - t0;
    shim_unlock();
    if (learn)
        runtime_wake(); /* a round acts on it now, not up to a period later */
    shim_busy = 0;
}

void shim_decode_layer(uint32_t layer, const int32_t *ids, int n)
{
    if (!tl_layers || shim.child || n <= 0 || !shim_trylock())
        return;
    int fed = shim_tiering_layer(tl_step, layer, ids, (size_t)n);
    shim_unlock();
    if (fed)
        runtime_wake(); /* its moves start while the later layers compute */
}

/* ---- publishing -------------------------------------------------------- */

static void describe_placement(char *buf, size_t cap, uint64_t *dram, uint64_t *slow, const char **slow_kind)
{
    size_t counts[4] = { 0 };
    *dram = *slow = 0;
    for (size_t i = 0; i < shim.placements.n; i++) {
        const struct moetier_placement *p = &shim.placements.item[i];
        if (!p->live)
            continue;
        counts[p->kind]++;
        uint64_t bytes = p->stride * p->n_expert;
        if (p->kind == MOETIER_MEM_FILE_SHARED || p->kind == MOETIER_MEM_FILE_PRIVATE)
            *slow += bytes;
        else
            *dram += bytes;
    }
    *slow_kind = counts[MOETIER_MEM_FILE_SHARED] + counts[MOETIER_MEM_FILE_PRIVATE] ? "file" : "anon";
    size_t n = 0;
    buf[0] = '\0';
    for (int k = 0; k < 4; k++) {
        if (!counts[k])
            continue;
        n += moetier_fmt(buf + n, cap - n, "%s%zu expert tensors in %s%s", n ? "; " : "", counts[k],
                         moetier_mem_kind_name(k),
                         k == MOETIER_MEM_ANON     ? " (DRAM-resident, untiered until a slow tier holds it)"
                         : k == MOETIER_MEM_PINNED ? " (pinned for CUDA: never tiered)"
                                                   : "");
    }
    if (!n)
        n = moetier_fmt(buf, cap, "no expert tensor placed yet");
    if (shim.placements.n_copied && shim.cfg.slow != MOETIER_SLOW_NUMA)
        n += moetier_fmt(buf + n, cap - n, "; %zu repacked by llama.cpp: not tierable here (--no-repack, or "
                         "MOETIER_SLOW=numa:N)", shim.placements.n_copied);
    uint64_t big_bytes;
    size_t nbig = shim_big_buffers(&big_bytes);
    if (nbig) {
        char sz[24];
        moetier_fmt(buf + n, cap - n, "; %zu weight-sized allocation%s (%s)", nbig, nbig == 1 ? "" : "s",
                    moetier_size_format(big_bytes, sz, sizeof sz));
    }
}

static void publish_locked(void)
{
    struct moetier_stats_header *h = shim.stats.h;
    if (!h)
        return;
    uint64_t dram, slow;
    const char *slow_kind;
    moetier_stats_begin(&shim.stats);
    describe_placement(h->placement, sizeof h->placement, &dram, &slow, &slow_kind);
    moetier_fmt(h->model, sizeof h->model, "%s", shim.model_path);
    moetier_fmt(h->model_id, sizeof h->model_id, "%s", shim.model.id);
    moetier_fmt(h->comm, sizeof h->comm, "%s", shim.comm);
    moetier_fmt(h->sampler, sizeof h->sampler, "%s",
                shim.sampler_built <= 0 ? (shim.cfg.sampler == MOETIER_SAMPLER_OFF ? "off" : shim.sampler_built ? "none" : "pending")
                : shim.sampler_routing                        ? "routing"
                : shim.sampler.kind == MOETIER_SAMPLE_PAGEMAP ? "pagemap"
                : shim.sampler.kind == MOETIER_SAMPLE_FETCH   ? "fetch"
                                                              : "fault");
    h->tokens_decode = shim.tokens_decode;
    h->tokens_prompt = shim.tokens_prompt;
    h->tokens_warmup = shim.tokens_warmup;
    h->tok_per_s = shim.tok_per_s;
    h->samples = shim.hot.samples;
    h->sampler_ns = shim.sampler_ns;
    h->dram_bytes = dram;
    h->dram_budget = shim.dram_budget;
    h->slow_bytes = slow;
    moetier_fmt(h->slow_kind, sizeof h->slow_kind, "%s", slow_kind);
    struct moetier_stats_expert *e = moetier_stats_experts(&shim.stats);
    for (uint32_t i = 0; i < shim.hot.n_slots; i++) {
        e[i].hits = shim.hot.hits[i];
        e[i].rate = shim.hot.rate[i];
        e[i].tier = MOETIER_TIER_SLOW;
    }
    /* tiers by placement: any non-file placement of a layer makes its experts DRAM / pinned */
    for (size_t i = 0; i < shim.placements.n; i++) {
        const struct moetier_placement *p = &shim.placements.item[i];
        if (!p->live || p->kind == MOETIER_MEM_FILE_SHARED || p->kind == MOETIER_MEM_FILE_PRIVATE)
            continue;
        for (uint32_t x = 0; x < shim.model.n_experts && x < p->n_expert; x++) {
            uint8_t *t = &e[p->layer * shim.model.n_experts + x].tier;
            uint8_t want = p->kind == MOETIER_MEM_PINNED ? MOETIER_TIER_PINNED : MOETIER_TIER_DRAM;
            *t = *t == MOETIER_TIER_SLOW ? want : *t == want ? want : MOETIER_TIER_MIXED;
        }
    }
    shim_tiering_publish(h, e);
    moetier_stats_end(&shim.stats);
}

/* A `moetier set` request waiting in the segment: apply it and answer. */
static void control_poll_locked(void)
{
    struct moetier_stats_header *h = shim.stats.h;
    if (!h)
        return;
    struct moetier_stats_control *c = &h->ctl;
    uint64_t seq = __atomic_load_n(&c->req_seq, __ATOMIC_ACQUIRE);
    if (seq == c->ack_seq)
        return;
    char msg[sizeof c->message] = "", a[24], b[24];
    size_t n = 0;
    int rc = 0;
    if (c->what & MOETIER_SET_DRAM) {
        uint64_t before = shim.dram_budget, budget = c->dram;
        struct moetier_meminfo mi;
        if (c->dram_percent > 0 && moetier_meminfo_read(&mi) == 0)
            budget = (uint64_t)((double)moetier_meminfo_base(&mi) * c->dram_percent / 100);
        int r = shim_tiering_set_budget(budget);
        n += moetier_fmt(msg + n, sizeof msg - n, "DRAM budget %s -> %s%s; ", moetier_size_format(before, a, sizeof a),
                         moetier_size_format(shim.dram_budget, b, sizeof b),
                         r ? " (could not demote enough yet)" : "");
        rc = rc ? rc : r;
    }
    if (c->what & MOETIER_SET_POLICY) {
        char name[sizeof c->policy];
        memcpy(name, c->policy, sizeof name);
        name[sizeof name - 1] = '\0';
        int r = shim_tiering_set_policy(name);
        n += moetier_fmt(msg + n, sizeof msg - n, r == 0 ? "policy %s; " : r == -ENODEV ? "policy %s not applied: not tiering; "
                                                                 : "policy %s refused (unknown); ", name);
        rc = rc ? rc : r;
    }
    if (c->what & MOETIER_SET_MIGRATE_MBPS) {
        shim.cfg.migrate_mbps = c->migrate_mbps;
        shim_tiering_set_rate((uint64_t)c->migrate_mbps << 20);
        n += moetier_fmt(msg + n, sizeof msg - n, "migration rate %u MiB/s%s; ", c->migrate_mbps,
                         c->migrate_mbps ? "" : " (unlimited)");
    }
    if (c->what & MOETIER_SET_SAMPLE_MS) {
        if (c->sample_ms >= 1 && c->sample_ms <= 60000) {
            shim.cfg.sample_ms = c->sample_ms;
            n += moetier_fmt(msg + n, sizeof msg - n, "sampling every %u ms; ", c->sample_ms);
        } else {
            rc = rc ? rc : -EINVAL;
            n += moetier_fmt(msg + n, sizeof msg - n, "sample period %u ms refused (1-60000); ", c->sample_ms);
        }
    }
    if (n >= 2 && msg[n - 2] == ';')
        msg[n - 2] = '\0';
    log_info("moetier set: %s", msg);
    memcpy(c->message, msg, sizeof c->message);
    c->result = rc;
    publish_locked(); /* the answer and the stats agree */
    __atomic_store_n(&c->ack_seq, seq, __ATOMIC_RELEASE);
}

static void *runtime_thread(void *arg)
{
    (void)arg;
    shim_busy = 1;
    sigset_t all;
    sigfillset(&all);
    /* the binary's signals are not ours to take; faults are synchronous and
     * must reach the handler (a blocked SIGSEGV kills the process) */
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    uint64_t last_save = shim_now_ns(), last_publish = 0, last_round = 0;
    while (!shim.stop) {
        runtime_sleep(ROUND_MS);
        uint64_t since = shim_now_ns() - last_round;
        /* per token: each token's moves now, before the next token (the
         * tokens that came meanwhile are already in the wanted set) */
        if (!shim.per_token && since < ROUND_MIN_MS * 1000000ULL) {
            /* woken by samples faster than rounds are worth running */
            struct timespec ts = { 0, (long)(ROUND_MIN_MS * 1000000ULL - since) };
            nanosleep(&ts, NULL);
        }
        if (shim.stop || shim.given_up)
            break;
        shim_lock();
        last_round = shim_now_ns();
        control_poll_locked();
        shim_tiering_round();
        if (last_round - last_publish >= PUBLISH_MS * 1000000ULL) {
            publish_locked();
            last_publish = last_round;
        }
        int save = shim_now_ns() - last_save > (uint64_t)PROFILE_SAVE_S * 1000000000ULL;
        shim_unlock();
        if (save) {
            static struct profile_snapshot snap; /* paths: not on the stack; this thread only */
            shim_lock();
            int any = profile_snapshot(&snap);
            shim_unlock();
            if (any)
                profile_write(&snap);
            last_save = shim_now_ns();
        }
    }
    return NULL;
}

/* ---- life cycle -------------------------------------------------------- */

/* The fork protocol (shim.h): every moetier lock is taken before fork, so
 * the child never inherits one held by a thread it does not have, nor a
 * table half changed. */
static int fork_busy; /* the forking thread's shim_busy, restored after */

static void at_fork_prepare(void)
{
    fork_busy = shim_busy;
    shim_busy = 1; /* other libraries' atfork handlers pass through the hooks */
    shim_lock();
    shim_tiering_wait(0, SIZE_MAX); /* the child gets no move half done */
    shim_staged_fork_prepare();
    shim_alloc_fork_prepare();
}

static void at_fork_parent(void)
{
    shim_alloc_fork_parent();
    shim_staged_fork_parent();
    shim_unlock();
    shim_busy = fork_busy;
}

static void at_fork_child(void)
{
    /* The child has no runtime thread, must not publish over the parent's
     * segment or profile, and must not read the DRAM cache the parent goes on
     * changing: promoted ranges map the model again and the child is
     * pass-through from here on. */
    shim.child = 1;
    shim.thread_running = 0;
    moetier_stats_detach(&shim.stats);
    if (shim.model_open && !shim.given_up) {
        moetier_sampler_disarm(&shim.sampler);
        shim_tiering_fork_child();
    }
    shim.model_ready = 0;
    shim.active = 0;
    shim_alloc_fork_child();
    shim_staged_fork_child();
    pthread_mutex_init(&shim.lock, NULL);
    pthread_cond_init(&shim.moved, NULL);
    MOETIER_RANK_RESET();
    shim_busy = fork_busy;
}

static void finish(void)
{
    static int finished;
    if (!shim.model_open || shim.child || finished)
        return;
    finished = 1;
    shim.stop = 1;
    runtime_wake(); /* out of its sleep now: exit does not wait a period */
    if (shim.thread_running) {
        pthread_join(shim.thread, NULL);
        shim.thread_running = 0;
    }
    shim_busy = 1;
    shim_lock();
    moetier_sampler_disarm(&shim.sampler);
    if (shim.hot.samples)
        log_info("sampled %llu of %llu decode tokens; sampler time %llu us in all, %llu us per sample",
                 (unsigned long long)shim.hot.samples, (unsigned long long)shim.tokens_decode,
                 (unsigned long long)(shim.sampler_ns / 1000),
                 (unsigned long long)(shim.sampler_ns / 1000 / shim.hot.samples));
    uint64_t at = __atomic_load_n(&shim.app_segv_samples, __ATOMIC_RELAXED);
    if (at && shim.hot.samples >= at - 1)
        log_info("sampled %llu since the binary installed its own SIGSEGV handler (chained behind moetier's)",
                 (unsigned long long)(shim.hot.samples - (at - 1)));
    uint64_t read_calls, read_bytes, read_batches, read_layers, read_ns;
    shim_reads_totals(&read_calls, &read_bytes, &read_batches, &read_layers, &read_ns);
    if (read_calls) {
        char b[32];
        log_info("exact reads: %llu expert slices advised (MADV_WILLNEED), %s in all; %llu layers of batches; "
                 "%llu layer steps took %llu us in the decode thread (%llu us a step: the reads' advice and the "
                 "room's drops)", (unsigned long long)read_calls, moetier_size_format(read_bytes, b, sizeof b),
                 (unsigned long long)read_batches, (unsigned long long)read_layers,
                 (unsigned long long)(read_ns / 1000),
                 (unsigned long long)(read_layers ? read_ns / 1000 / read_layers : 0));
    }
    struct shim_room_totals room;
    shim_room_totals(&room);
    if (room.steps) {
        char b[32], c[32];
        log_info("read room (policy %s): %llu layer steps, %llu experts read on a miss (%llu without a place), %llu "
                 "prefetched (%llu used), %llu evicted (%llu drops refused: locked), %llu layers of wide batches read "
                 "in place; %u of %u experts of %s held (%s)",
                 room.policy, (unsigned long long)room.steps, (unsigned long long)room.misses,
                 (unsigned long long)room.direct, (unsigned long long)room.prefetched,
                 (unsigned long long)room.prefetch_used, (unsigned long long)room.evicted,
                 (unsigned long long)room.drop_failed, (unsigned long long)room.batch_layers, room.slots, room.cap,
                 moetier_size_format(room.pair_bytes, b, sizeof b),
                 moetier_size_format(room.pair_bytes * room.cap, c, sizeof c));
        if (room.audited)
            log_info("read room: when the model was unmapped, the page cache held %u of its experts whole and %u in part, and "
                     "pieces of %u other experts (%s)", room.held_whole, room.held_part, room.other,
                     moetier_size_format(room.other_bytes, b, sizeof b));
    }
    static struct profile_snapshot snap;
    int save = profile_snapshot(&snap);
    shim_tiering_finish();
    moetier_stats_destroy(&shim.stats);
    shim_unlock();
    if (save)
        profile_write(&snap);
}

__attribute__((destructor)) static void shim_fini(void)
{
    finish();
}

static const char *getenv_raw(const char *name)
{
    return getenv(name);
}

__attribute__((constructor)) static void shim_init(void)
{
    char err[320];
    if (getauxval(AT_SECURE))
        return; /* setuid/setgid/capabilities: untouched, no variable read (docs/threat-model.md) */
    int bad = moetier_config_load(&shim.cfg, getenv_raw, err, sizeof err);
    int fd = 2;
    if (shim.cfg.log_file[0]) {
        fd = open(shim.cfg.log_file, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            fd = 2;
            log_warn("MOETIER_LOG_FILE=%s: %s; logging to stderr", shim.cfg.log_file, strerror(errno));
        }
    }
    moetier_log_setup((enum moetier_log_level)shim.cfg.log_level, fd);
    if (bad && shim.cfg.strict) {
        log_error("MOETIER_STRICT: %s", err);
        exit(2);
    }
    if (shim.cfg.disable)
        return;
    prctl(PR_GET_NAME, shim.comm, 0, 0, 0);
    if (shim.cfg.only_comm[0] && fnmatch(shim.cfg.only_comm, shim.comm, 0) != 0)
        return;
    pthread_atfork(at_fork_prepare, at_fork_parent, at_fork_child);
    atexit(finish);
    shim.active = 1;
    /* a process that is sent the weights instead of opening the model
     * (llama.cpp's rpc-server) names it: the tensors it is sent (with their
     * names, through ggml_backend_tensor_set) are then placed like a
     * --no-mmap load's */
    if (shim.cfg.model[0]) {
        shim_busy = 1; /* reading the model goes through our own hooks */
        shim_lock();
        if (model_start(shim.cfg.model) != 0)
            log_warn("MOETIER_MODEL=%s: not usable; this process runs untouched", shim.cfg.model);
        shim_unlock();
        shim_busy = 0;
    }
}
