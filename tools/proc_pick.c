/*
 * proc_pick: choosing the process or file a tool looks at, and loading a
 * view of it (see proc_pick.h).
 */
#include "tools/proc_pick.h"
#include "tools/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *pick_stats_dir(char *buf, size_t cap)
{
    const char *d = getenv("MOETIER_STATS_DIR");
    if (d && *d) {
        snprintf(buf, cap, "%s", d);
        return buf;
    }
    return moetier_stats_default_dir(buf, cap);
}

const char *tier_name(int tier)
{
    switch (tier) {
    case MOETIER_TIER_SLOW: return "slow";
    case MOETIER_TIER_DRAM: return "dram";
    case MOETIER_TIER_PINNED: return "pinned";
    case MOETIER_TIER_MIXED: return "mixed";
    }
    return "?";
}

const char *fmt_utc(uint64_t ns, char *buf, size_t cap)
{
    if (!ns) {
        snprintf(buf, cap, "-");
        return buf;
    }
    time_t t = (time_t)(ns / 1000000000ull);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(buf, cap, "-");
    return buf;
}

const char *fmt_age(uint64_t ns, char *buf, size_t cap)
{
    uint64_t s = ns / 1000000000ull;
    if (s < 60)
        snprintf(buf, cap, "%llus", (unsigned long long)s);
    else if (s < 3600)
        snprintf(buf, cap, "%llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
    else if (s < 86400)
        snprintf(buf, cap, "%lluh%02llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    else
        snprintf(buf, cap, "%llud%02lluh", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600));
    return buf;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- picking ----------------------------------------------------------------- */

struct found {
    int n;
    int pid;
    char path[1200];
};

static void count_one(int pid, const char *path, void *arg)
{
    struct found *f = arg;
    if (f->n++ == 0) {
        f->pid = pid;
        snprintf(f->path, sizeof f->path, "%s", path);
    }
}

static void list_one(int pid, const char *path, void *arg)
{
    struct moetier_stats_snapshot s;
    char err[256], age[32];
    (void)arg;
    if (moetier_stats_read(path, &s, err, sizeof err)) {
        fprintf(stderr, "  %7d  %-16s %7s  (unreadable: %s)\n", pid, "?", "?", err);
        return;
    }
    uint64_t now = now_ns();
    fmt_age(now > s.h.start_ns ? now - s.h.start_ns : 0, age, sizeof age);
    fprintf(stderr, "  %7d  %-16s %7s  %s\n", pid, s.h.comm[0] ? s.h.comm : "?", age,
            s.h.model[0] ? s.h.model : "(no model yet)");
    moetier_stats_snapshot_free(&s);
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

int pick_path(const char *cmd, const char *arg, int allow_profile, char *path, size_t cap)
{
    char dir[1100];
    pick_stats_dir(dir, sizeof dir);
    if (!arg) {
        struct found f = { 0, 0, "" };
        int n = moetier_stats_list(dir, count_one, &f);
        if (n < 0)
            return cli_error(CLI_FAIL, cmd, "cannot read the stats directory %s: %s", dir, strerror(-n));
        if (n == 0)
            return cli_error(CLI_FAIL, cmd, "no live moetier process of this user (stats directory %s)", dir);
        if (n > 1) {
            fprintf(stderr, "moetier %s: %d moetier processes are running; give a PID:\n", cmd, n);
            fprintf(stderr, "  %7s  %-16s %7s  %s\n", "PID", "COMMAND", "AGE", "MODEL");
            moetier_stats_list(dir, list_one, NULL);
            return CLI_USAGE;
        }
        snprintf(path, cap, "%s", f.path);
        return CLI_OK;
    }
    if (all_digits(arg)) {
        long pid = strtol(arg, NULL, 10);
        if (pid <= 0 || pid > 0x7fffffffL || strlen(arg) > 10)
            return cli_error(CLI_USAGE, cmd, "'%s' is not a process id", arg);
        snprintf(path, cap, "%s/moetier-%ld.stats", dir, pid);
        struct stat st;
        if (lstat(path, &st) == 0) {
            if (moetier_stats_is_stale((int)pid, path)) {
                unlink(path);
                return cli_error(CLI_FAIL, cmd, "process %ld has ended (its stale stats segment was removed)",
                                 pid);
            }
            return CLI_OK;
        }
        if (kill((pid_t)pid, 0) && errno == ESRCH)
            return cli_error(CLI_FAIL, cmd, "no process %ld", pid);
        return cli_error(CLI_FAIL, cmd, "process %ld publishes no moetier stats in %s (is it running under moetier?)",
                         pid, dir);
    }
    struct stat st;
    if (stat(arg, &st))
        return cli_error(CLI_USAGE, cmd, "%s: %s", arg, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return cli_error(CLI_USAGE, cmd, "%s: not a regular file", arg);
    (void)allow_profile;
    snprintf(path, cap, "%s", arg);
    return CLI_OK;
}

/* ---- views ---------------------------------------------------------------------- */

int view_read_code(int rc)
{
    /* corrupt, foreign or other-version files are bad input; the rest are runtime failures */
    return rc == -EPROTO || rc == -EPERM || rc == -ESTALE || rc == -EISDIR ? CLI_USAGE : CLI_FAIL;
}

int view_read_segment(const char *path, struct view *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    snprintf(v->path, sizeof v->path, "%s", path);
    int rc = moetier_stats_read(path, &v->snap, err, errlen);
    if (rc)
        return rc;
    const struct moetier_stats_header *h = &v->snap.h;
    size_t n = (size_t)h->n_layers * h->n_experts;
    v->experts = calloc(n ? n : 1, sizeof *v->experts);
    if (!v->experts) {
        moetier_stats_snapshot_free(&v->snap);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        v->experts[i].hits = v->snap.experts[i].hits;
        v->experts[i].rate = v->snap.experts[i].rate;
        v->experts[i].tier = v->snap.experts[i].tier;
    }
    v->kind = VIEW_SEGMENT;
    snprintf(v->model, sizeof v->model, "%s", h->model);
    snprintf(v->model_id, sizeof v->model_id, "%s", h->model_id);
    v->n_layers = h->n_layers;
    v->n_experts = h->n_experts;
    v->blocks = v->snap.blocks;
    v->time_ns = h->update_ns;
    v->tokens_decode = h->tokens_decode;
    return 0;
}

static int load_segment(const char *cmd, const char *path, struct view *v)
{
    char err[1400];
    int rc = view_read_segment(path, v, err, sizeof err);
    if (rc == -ENOENT)
        return cli_error(CLI_FAIL, cmd, "%s: the process ended (segment gone)", path);
    if (rc)
        return cli_error(view_read_code(rc), cmd, "%s", err);
    return CLI_OK;
}

int view_read_profile(const char *path, const char *expect_id, struct view *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof *v);
    snprintf(v->path, sizeof v->path, "%s", path);
    int rc = moetier_profile_load(path, expect_id, &v->prof, NULL, err, errlen);
    if (rc)
        return rc;
    size_t n = (size_t)v->prof.n_layers * v->prof.n_experts;
    v->experts = calloc(n, sizeof *v->experts);
    if (!v->experts) {
        moetier_profile_free(&v->prof, NULL);
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        v->experts[i].hits = v->prof.experts[i].hits;
        v->experts[i].rate = v->prof.experts[i].rate;
        v->experts[i].tier = -1;
    }
    v->kind = VIEW_PROFILE;
    snprintf(v->model, sizeof v->model, "%s", v->prof.model);
    snprintf(v->model_id, sizeof v->model_id, "%s", v->prof.model_id);
    v->n_layers = v->prof.n_layers;
    v->n_experts = v->prof.n_experts;
    v->blocks = v->prof.blocks;
    v->time_ns = v->prof.saved_ns;
    v->tokens_decode = v->prof.tokens_decode;
    return 0;
}

static int load_profile(const char *cmd, const char *path, struct view *v)
{
    char err[1400];
    int rc = view_read_profile(path, NULL, v, err, sizeof err);
    if (rc)
        return cli_error(view_read_code(rc), cmd, "%s", err);
    return CLI_OK;
}

int view_load_path(const char *cmd, const char *path, int allow_profile, struct view *v)
{
    memset(v, 0, sizeof *v);
    snprintf(v->path, sizeof v->path, "%s", path);
    char magic[8] = { 0 };
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT)
            return cli_error(CLI_FAIL, cmd, "%s: the process ended (segment gone)", path);
        return cli_error(CLI_FAIL, cmd, "%s: %s", path, strerror(errno));
    }
    ssize_t got = read(fd, magic, sizeof magic);
    close(fd);
    if (allow_profile && got == 8 && memcmp(magic, MOETIER_PROFILE_MAGIC, 8) == 0)
        return load_profile(cmd, path, v);
    if (got == 8 && memcmp(magic, MOETIER_PROFILE_MAGIC, 8) == 0)
        return cli_error(CLI_USAGE, cmd, "%s: a moetier profile, not a live stats segment (try moetier profile show)",
                         path);
    if (allow_profile && got == 8 && memcmp(magic, MOETIER_STATS_MAGIC, 8) != 0)
        return cli_error(CLI_USAGE, cmd, "%s: not a moetier stats segment or profile (bad magic)", path);
    /* the reader names what is wrong (empty, truncated, bad magic, version) */
    return load_segment(cmd, path, v);
}

int view_load(const char *cmd, const char *arg, int allow_profile, struct view *v)
{
    char path[1200];
    memset(v, 0, sizeof *v);
    int rc = pick_path(cmd, arg, allow_profile, path, sizeof path);
    if (rc)
        return rc;
    return view_load_path(cmd, path, allow_profile, v);
}

void view_free(struct view *v)
{
    if (v->kind == VIEW_SEGMENT)
        moetier_stats_snapshot_free(&v->snap);
    else
        moetier_profile_free(&v->prof, NULL);
    free(v->experts);
    v->experts = NULL;
    v->blocks = NULL;
}

static const struct view *sort_view;

static int cmp_hot(const void *a, const void *b)
{
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    const struct view_expert *x = &sort_view->experts[i], *y = &sort_view->experts[j];
    if (x->rate != y->rate)
        return x->rate > y->rate ? -1 : 1;
    if (x->hits != y->hits)
        return x->hits > y->hits ? -1 : 1;
    return (i > j) - (i < j);
}

size_t view_hottest(const struct view *v, size_t k, uint32_t *idx)
{
    size_t n = (size_t)v->n_layers * v->n_experts;
    if (!n || !k)
        return 0;
    uint32_t *all = malloc(n * sizeof *all);
    if (!all)
        return 0;
    for (size_t i = 0; i < n; i++)
        all[i] = (uint32_t)i;
    sort_view = v;
    qsort(all, n, sizeof *all, cmp_hot);
    if (k > n)
        k = n;
    memcpy(idx, all, k * sizeof *idx);
    free(all);
    return k;
}

void view_json_experts(struct json *j, const struct view *v)
{
    json_arr_begin(j);
    for (uint32_t l = 0; l < v->n_layers; l++)
        for (uint32_t e = 0; e < v->n_experts; e++) {
            const struct view_expert *x = &v->experts[(size_t)l * v->n_experts + e];
            json_obj_begin(j);
            json_key(j, "layer"), json_int(j, v->blocks[l]);
            json_key(j, "expert"), json_uint(j, e);
            json_key(j, "hits"), json_uint(j, x->hits);
            json_key(j, "rate"), json_double(j, x->rate);
            if (x->tier >= 0)
                json_key(j, "tier"), json_str(j, tier_name(x->tier));
            json_obj_end(j);
        }
    json_arr_end(j);
}
