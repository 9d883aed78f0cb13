/*
 * proc_pick: which process (or file) a tool looks at, and one view of it.
 *
 * `moetier stat`, `top`, `heatmap` and `profile show` take a PID, a stats
 * segment path, or (heatmap, profile) a profile file. With nothing given they
 * pick the one live moetier process of this user; with several they list them
 * and ask for a PID (exit 2); with none they say so (exit 1). Segments live in
 * $MOETIER_STATS_DIR, else $XDG_RUNTIME_DIR/moetier, else /dev/shm; stale ones
 * (their process is gone) are removed while listing.
 *
 * A view is what the tools print from either source: the model, its MoE
 * layers (GGUF block numbers) and per-expert hits, rates and tiers (tiers are
 * unknown, -1, for a profile). Errors are printed as "moetier CMD: ..." and
 * turned into exit codes (tools/cli.h): a missing process or an unreadable
 * directory is 1, a corrupt or foreign file is 2.
 */
#ifndef MOETIER_TOOLS_PROC_PICK_H
#define MOETIER_TOOLS_PROC_PICK_H

#include <stddef.h>
#include <stdint.h>

#include "common/json.h"
#include "profiler/profile.h"
#include "profiler/stats.h"

/* The stats directory the tools read: $MOETIER_STATS_DIR, else the default. */
const char *pick_stats_dir(char *buf, size_t cap);

enum view_kind { VIEW_SEGMENT, VIEW_PROFILE };

struct view_expert {
    uint64_t hits;
    float rate;
    int tier; /* enum moetier_tier, or -1 when unknown (a profile) */
};

struct view {
    enum view_kind kind;
    char path[1200];
    char model[1024];
    char model_id[48];
    uint32_t n_layers, n_experts;
    int32_t *blocks;             /* [n_layers] */
    struct view_expert *experts; /* [n_layers * n_experts], layer-major */
    uint64_t time_ns;            /* last update (segment) or save (profile), CLOCK_REALTIME */
    uint64_t tokens_decode;
    struct moetier_stats_snapshot snap; /* VIEW_SEGMENT: the whole snapshot */
    struct moetier_profile prof;        /* VIEW_PROFILE */
};

/*
 * Resolves arg (NULL: pick the one live process; digits: a PID; otherwise a
 * path) to the path of a segment, or with allow_profile of a profile, into
 * path. Returns CLI_OK or an exit code after printing the reason as cmd.
 */
int pick_path(const char *cmd, const char *arg, int allow_profile, char *path, size_t cap);

/* pick_path, then loads the view. Returns CLI_OK or an exit code (message printed). */
int view_load(const char *cmd, const char *arg, int allow_profile, struct view *v);
/* Loads a view of a file known to be a segment or profile (by its magic). */
int view_load_path(const char *cmd, const char *path, int allow_profile, struct view *v);
void view_free(struct view *v);
/* Reads a segment into v without printing: 0 or the -errno of moetier_stats_read
 * (message in err). */
int view_read_segment(const char *path, struct view *v, char *err, size_t errlen);
/* Reads a profile into v without printing (expect_id: see moetier_profile_load). */
int view_read_profile(const char *path, const char *expect_id, struct view *v, char *err, size_t errlen);
/* The exit code for a failed read: 2 for a corrupt/foreign file, else 1. */
int view_read_code(int rc);

/* Indices of the k hottest experts (rate, then hits, descending; then index
 * ascending) into idx (room for k). Returns how many were written (<= k). */
size_t view_hottest(const struct view *v, size_t k, uint32_t *idx);

/* "dram", "slow", "pinned", "mixed" ("?" otherwise). */
const char *tier_name(int tier);

/* Writes the value of an "experts" key: a list of {layer (block), expert,
 * hits, rate[, tier]} for every expert; the tier only when known. */
void view_json_experts(struct json *j, const struct view *v);

/* "2024-05-01T12:00:00Z" into buf (cap >= 24); "-" for 0. */
const char *fmt_utc(uint64_t ns, char *buf, size_t cap);
/* A duration: "45s", "3m05s", "2h07m", "3d04h". */
const char *fmt_age(uint64_t ns, char *buf, size_t cap);

#endif
