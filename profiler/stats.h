/*
 * stats: the live statistics segment a moetier process publishes, and the
 * tools read (`moetier stat`, `top`, `heatmap`).
 *
 * One file per process, $MOETIER_STATS_DIR/moetier-<pid>.stats (default
 * $XDG_RUNTIME_DIR/moetier, else /dev/shm), created O_EXCL with mode 0600 (owner
 * only), sized once and mapped MAP_SHARED by the writer; removed at exit. A
 * reader maps it read-only and copies a consistent snapshot (a seqlock: the
 * writer makes `seq` odd while it writes and even after; readers retry).
 * Segments of processes that no longer exist are stale: the tools detect and
 * remove them.
 *
 * Versioned: `magic` + `version`; a reader refuses other versions with a
 * message. Layout: struct moetier_stats_header, then n_layers int32 block
 * numbers (the GGUF blk.N of each MoE layer), then n_layers * n_experts
 * struct moetier_stats_expert (layer-major), at offsets given in the header.
 *
 * Writer functions allocate nothing through malloc and use no stdio (the shim
 * calls them). begin/end also serialize writer threads (begin spins while
 * another thread is between begin and end): keep that section short. The
 * segment is never resized after creation. Nothing here is for signal handlers.
 */
#ifndef MOETIER_PROFILER_STATS_H
#define MOETIER_PROFILER_STATS_H

#include <stddef.h>
#include <stdint.h>

#define MOETIER_STATS_MAGIC "MOETSTAT"
#define MOETIER_STATS_VERSION 2 /* 2: slow-tier traffic (traffic_* and slow_*_bytes) */
#define MOETIER_STATS_MAX_EXPERTS (1u << 20) /* n_layers * n_experts (and each of them) */
#define MOETIER_STATS_MAX_BLOCK 999999       /* largest block number a reader accepts */

enum moetier_tier {
    MOETIER_TIER_SLOW = 0,   /* on the slow tier (file mapping, PMem, far NUMA node) */
    MOETIER_TIER_DRAM = 1,   /* in the DRAM cache / DRAM node */
    MOETIER_TIER_PINNED = 2, /* pinned for CUDA (untierable) */
    MOETIER_TIER_MIXED = 3,  /* some bytes in each */
};

struct moetier_stats_expert {
    uint64_t hits;     /* decode uses seen by the sampler */
    float rate;        /* decayed share of recent sampling periods that used it, [0, 1] */
    uint8_t tier;      /* enum moetier_tier */
    uint8_t pad[3];
};

/*
 * Control: `moetier set` (same owner: the segment is 0600) fills a request and
 * bumps req_seq; the process applies it within a round (100 ms) and answers
 * with result, message and ack_seq = req_seq. Requests are serialized by an
 * flock on the segment file.
 */
enum moetier_set_what {
    MOETIER_SET_DRAM = 1,         /* dram bytes, or dram_percent of the memory available */
    MOETIER_SET_POLICY = 2,
    MOETIER_SET_MIGRATE_MBPS = 4,
    MOETIER_SET_SAMPLE_MS = 8,
};

struct moetier_stats_control {
    volatile uint64_t req_seq;
    volatile uint64_t ack_seq;
    uint32_t what;          /* enum moetier_set_what bits */
    uint32_t migrate_mbps;
    uint64_t dram;
    double dram_percent;    /* > 0: a share instead of bytes */
    uint32_t sample_ms;
    int32_t result;         /* 0 or -errno */
    char policy[16];
    char message[200];
};

struct moetier_stats_header {
    char magic[8];
    uint32_t version;
    uint32_t header_bytes;     /* sizeof(struct moetier_stats_header) of the writer */
    uint64_t total_bytes;      /* the whole segment */
    volatile uint64_t seq;     /* seqlock */
    int32_t pid;
    uint32_t n_layers, n_experts;
    uint32_t blocks_offset;    /* int32 block numbers */
    uint32_t experts_offset;   /* struct moetier_stats_expert array */
    uint32_t pad0;
    uint64_t start_ns;         /* CLOCK_REALTIME at creation */
    uint64_t update_ns;        /* CLOCK_REALTIME of the last update */
    char comm[32];             /* the process's command name */
    char model[1024];          /* path of the model's (first) file */
    char model_id[48];         /* identity: size + tensor layout hash (profile file name) */
    char sampler[16];          /* "pagemap", "fault", "routing", "off" */
    char placement[256];       /* where the weights are, in words ("file mapping", "pinned CUDA_Host buffer: not tiered") */
    uint64_t tokens_decode;    /* single-token decodes seen */
    uint64_t tokens_prompt;    /* tokens in multi-token batches (prompt processing) */
    uint64_t tokens_warmup;
    double tok_per_s;          /* recent decode rate */
    uint64_t samples;          /* sampling periods completed */
    uint64_t sampler_ns;       /* time spent in the sampler */
    uint64_t dram_bytes, dram_budget;
    uint64_t slow_bytes;
    char slow_kind[16];        /* "file", "anon", "numa", "pmem", "devdax" */
    uint64_t promotions, demotions, bytes_promoted, bytes_demoted;
    uint64_t migrate_failed;   /* migrations rolled back or refused (map count) */
    char policy[16];           /* the placement policy in force, "off" when not tiering */
    struct moetier_stats_control ctl; /* written by `moetier set`, answered by the process */
    /* version 2: what the slow tier served (tiering/engine.h, struct
     * moetier_engine_traffic; replay's categories, tiering/replay.h). Misses
     * are counted on sampled decode steps only: per token = slow_direct_bytes
     * / traffic_steps; promotions and prefetches are counted whole: per token
     * = bytes / tokens_decode. */
    uint64_t traffic_steps;          /* sampled decode steps accounted while tiering */
    uint64_t traffic_accesses;       /* their uses of tierable experts */
    uint64_t traffic_hits;           /* of those, in the DRAM cache at the step */
    uint64_t slow_direct_bytes;      /* the misses' bytes, read in place from the slow tier */
    uint64_t slow_prefetched_bytes;  /* read ahead of a step (0: the engine does not) */
};

/* ---- writer (the shim) ---- */
struct moetier_stats_writer {
    struct moetier_stats_header *h; /* NULL: publishing is off */
    size_t map_bytes;
    char path[1100];
    char err[1200]; /* why create failed, one line naming the path */
};

/*
 * Creates dir (0700, if missing) and the segment for this process. dir NULL or
 * "" means the default. dir must be ours and not group/world writable, or a
 * root-owned sticky directory such as /dev/shm (common/private_dir.h): else
 * -EPERM. Returns 0 or -errno; on failure w->h stays NULL, w->err says why and
 * the caller carries on without live stats.
 */
int moetier_stats_create(struct moetier_stats_writer *w, const char *dir, uint32_t n_layers,
                         uint32_t n_experts, const int32_t *blocks);
struct moetier_stats_expert *moetier_stats_experts(struct moetier_stats_writer *w);
void moetier_stats_begin(struct moetier_stats_writer *w); /* seq odd */
void moetier_stats_end(struct moetier_stats_writer *w);   /* seq even, update_ns */
/* Unmaps and unlinks (at exit, or in a forked child that must not share it). */
void moetier_stats_destroy(struct moetier_stats_writer *w);
/* Unmaps without unlinking (a forked child: the segment belongs to the parent). */
void moetier_stats_detach(struct moetier_stats_writer *w);

/* The default directory into buf: $XDG_RUNTIME_DIR/moetier, else /dev/shm. */
const char *moetier_stats_default_dir(char *buf, size_t cap);

/* ---- reader (the tools) ---- */
struct moetier_stats_snapshot {
    struct moetier_stats_header h;
    int32_t *blocks;                     /* [n_layers] */
    struct moetier_stats_expert *experts;/* [n_layers * n_experts] */
};

/* Copies a consistent snapshot of the segment at path (malloc'd arrays).
 * Returns 0, -ENOENT, -EPROTO (not a segment / other version / corrupt or
 * truncated: message in err), -EPERM (owned by another user), -EBUSY (the
 * writer held the seqlock for the whole retry bound, about 200 ms), or another
 * -errno. Strings in the copy are NUL-terminated; rates are clamped to [0, 1]
 * (NaN -> 0); a tier outside enum moetier_tier or a negative block is -EPROTO. */
/*
 * Sends req (what, values) to the process owning the segment at path and waits
 * up to timeout_ms for its answer, copied into reply (result, message).
 * Returns 0 (answered; reply->result says how it went), -ETIMEDOUT, -EPROTO
 * (not a segment: err says why) or -errno.
 */
int moetier_stats_request(const char *path, const struct moetier_stats_control *req,
                          struct moetier_stats_control *reply, int timeout_ms, char *err, size_t errlen);

int moetier_stats_read(const char *path, struct moetier_stats_snapshot *s, char *err, size_t errlen);
void moetier_stats_snapshot_free(struct moetier_stats_snapshot *s);

/* Lists live segments in dir (default when NULL): calls fn for each with its
 * pid and path, in increasing pid order; removes stale ones (their pid is
 * gone). Only the caller's own files are listed or removed. Returns the count
 * (0 when dir does not exist) or -errno when dir cannot be read. */
int moetier_stats_list(const char *dir, void (*fn)(int pid, const char *path, void *arg), void *arg);

/* Non-zero when the segment at path (of process pid) is stale: kill(pid, 0)
 * says ESRCH, /proc/<pid> is missing, or process pid started more than 5 s
 * after the segment was created (the pid was reused). */
int moetier_stats_is_stale(int pid, const char *path);

#endif
