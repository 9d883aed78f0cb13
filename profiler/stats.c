/*
 * stats: the live statistics segment (see stats.h).
 *
 * Writer (the shim): open/ftruncate/mmap/link/unlink/clock_gettime only; no
 * malloc, no stdio. The segment is built under a private name
 * (moetier-<pid>.stats.tmp) and published with link(2), so a reader never
 * sees a half-initialized header, and an existing moetier-<pid>.stats (left by
 * a dead process whose pid we now have, or by the program we exec'd from) is
 * replaced. The file is never resized after creation, so a reader's mapping
 * never loses pages under it.
 *
 * Seqlock: begin makes seq odd (a CAS, so writer threads also exclude each
 * other: begin spins while another thread holds it), a release fence orders
 * that before the data stores; end stores seq + 1 (even) with release. A
 * reader loads seq with acquire, copies, issues an acquire fence and reloads
 * seq; equal and even means the copy is consistent. The reader retries a
 * bounded number of times (about 200 ms) and then reports the segment busy.
 *
 * Reader (the tools): the file is untrusted input. Magic, version, header
 * size, total size against the file size, every offset and array extent,
 * block numbers and tier values are checked; anything off is -EPROTO with a
 * one-line message, never a crash. Segments not owned by the caller's uid are
 * refused (-EPERM).
 */
#include "profiler/stats.h"
#include "common/fail_point.h"
#include "common/fmt.h"
#include "common/private_dir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h> /* rename() only: no stream is used */
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ALIGN8(x) (((x) + 7u) & ~(uint64_t)7u)
#define READ_TRIES 2000          /* snapshot attempts before -EBUSY */
#define READ_SPINS_BEFORE_SLEEP 16

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const char *moetier_stats_default_dir(char *buf, size_t cap)
{
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg && xdg[0] == '/' && strlen(xdg) + sizeof "/moetier" <= cap)
        moetier_fmt(buf, cap, "%s/moetier", xdg);
    else
        moetier_fmt(buf, cap, "%s", "/dev/shm");
    return buf;
}

/* ---- writer ------------------------------------------------------------ */

/* Layout of a segment for this shape; 0 or -E2BIG. */
static int layout(uint32_t n_layers, uint32_t n_experts, uint32_t *blocks_off, uint32_t *experts_off,
                  uint64_t *total)
{
    uint64_t n = (uint64_t)n_layers * n_experts;
    if (n_layers > MOETIER_STATS_MAX_EXPERTS || n_experts > MOETIER_STATS_MAX_EXPERTS ||
        n > MOETIER_STATS_MAX_EXPERTS)
        return -E2BIG;
    uint64_t b = ALIGN8(sizeof(struct moetier_stats_header));
    uint64_t e = ALIGN8(b + 4ull * n_layers);
    *blocks_off = (uint32_t)b;
    *experts_off = (uint32_t)e;
    *total = e + n * sizeof(struct moetier_stats_expert);
    return 0;
}

int moetier_stats_create(struct moetier_stats_writer *w, const char *dir, uint32_t n_layers,
                         uint32_t n_experts, const int32_t *blocks)
{
    char dbuf[sizeof w->path], tmp[sizeof w->path + 8];
    uint32_t boff, eoff;
    uint64_t total;
    int fd = -1, rc;
    void *map = MAP_FAILED;

    w->h = NULL;
    w->map_bytes = 0;
    w->path[0] = '\0';
    w->err[0] = '\0';
    if ((rc = layout(n_layers, n_experts, &boff, &eoff, &total)))
        return rc;
    if (n_layers && !blocks)
        return -EINVAL;
    if (!dir || !*dir)
        dir = moetier_stats_default_dir(dbuf, sizeof dbuf);
    if (strlen(dir) + 32 > sizeof w->path)
        return -ENAMETOOLONG;
    if ((rc = moetier_dir_make(dir, w->err, sizeof w->err)))
        return rc;

    pid_t pid = getpid();
    moetier_fmt(w->path, sizeof w->path, "%s/moetier-%d.stats", dir, (int)pid);
    moetier_fmt(tmp, sizeof tmp, "%s.tmp", w->path);
    (void)unlink(tmp); /* a leftover of an earlier process with our pid */
    fd = MOETIER_FAIL("stats.open") ? -1 : open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = -errno;
        goto fail;
    }
    if (MOETIER_FAIL("stats.ftruncate") || ftruncate(fd, (off_t)total)) {
        rc = -errno;
        goto fail_unlink;
    }
    map = MOETIER_FAIL("stats.mmap") ? MAP_FAILED : mmap(NULL, (size_t)total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = -errno;
        goto fail_unlink;
    }
    close(fd);
    fd = -1;

    /* the file is zero-filled: only non-zero fields need storing */
    struct moetier_stats_header *h = map;
    memcpy(h->magic, MOETIER_STATS_MAGIC, sizeof h->magic);
    h->version = MOETIER_STATS_VERSION;
    h->header_bytes = sizeof *h;
    h->total_bytes = total;
    h->pid = (int32_t)pid;
    h->n_layers = n_layers;
    h->n_experts = n_experts;
    h->blocks_offset = boff;
    h->experts_offset = eoff;
    h->start_ns = h->update_ns = now_ns();
    char comm[17] = { 0 };
    if (prctl(PR_GET_NAME, comm, 0, 0, 0) == 0)
        memcpy(h->comm, comm, sizeof comm);
    memcpy(h->sampler, "off", 4);
    if (n_layers)
        memcpy((char *)map + boff, blocks, 4ull * n_layers);
    __atomic_thread_fence(__ATOMIC_RELEASE);

    /* publish: link is O_EXCL-like; a file already there has our pid, so it is stale */
    if (link(tmp, w->path)) {
        rc = -errno;
        if (rc == -EEXIST) {
            struct stat st;
            if (lstat(w->path, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
                unlink(w->path) == 0 && link(tmp, w->path) == 0)
                rc = 0;
        } else if (rc == -EPERM || rc == -EOPNOTSUPP) {
            /* a file system without hard links: rename (replaces a stale file) */
            rc = rename(tmp, w->path) ? -errno : 0;
        }
        if (rc)
            goto fail_unmap;
    }
    (void)unlink(tmp);
    w->h = h;
    w->map_bytes = (size_t)total;
    return 0;

fail_unmap:
    munmap(map, (size_t)total);
fail_unlink:
    (void)unlink(tmp);
fail:
    if (fd >= 0)
        close(fd);
    moetier_fmt(w->err, sizeof w->err, "%s: %s", w->path, strerror(-rc));
    w->path[0] = '\0';
    return rc;
}

struct moetier_stats_expert *moetier_stats_experts(struct moetier_stats_writer *w)
{
    if (!w->h)
        return NULL;
    return (struct moetier_stats_expert *)((char *)w->h + w->h->experts_offset);
}

void moetier_stats_begin(struct moetier_stats_writer *w)
{
    if (!w->h)
        return;
    uint64_t *seq = (uint64_t *)&w->h->seq;
    for (;;) {
        uint64_t s = __atomic_load_n(seq, __ATOMIC_RELAXED);
        if (!(s & 1) &&
            __atomic_compare_exchange_n(seq, &s, s + 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            break;
        sched_yield(); /* another writer thread is inside begin..end */
    }
    /* the odd seq is visible before any data store that follows */
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void moetier_stats_end(struct moetier_stats_writer *w)
{
    if (!w->h)
        return;
    w->h->update_ns = now_ns();
    uint64_t *seq = (uint64_t *)&w->h->seq;
    __atomic_store_n(seq, __atomic_load_n(seq, __ATOMIC_RELAXED) + 1, __ATOMIC_RELEASE);
}

void moetier_stats_detach(struct moetier_stats_writer *w)
{
    if (w->h)
        munmap(w->h, w->map_bytes);
    w->h = NULL;
    w->map_bytes = 0;
}

void moetier_stats_destroy(struct moetier_stats_writer *w)
{
    int had = w->h != NULL;
    moetier_stats_detach(w);
    if (had && w->path[0])
        (void)unlink(w->path);
    w->path[0] = '\0';
}

/* ---- reader ------------------------------------------------------------ */

static int bad(char *err, size_t n, int rc, const char *path, const char *why)
{
    if (n)
        moetier_fmt(err, n, "%s: %s", path, why);
    return rc;
}

/* Checks a header (a copy) against the file size; 0 or -EPROTO with a message. */
static int check_header(const struct moetier_stats_header *h, uint64_t file_bytes, const char *path,
                        char *err, size_t n)
{
    char why[200];
    if (memcmp(h->magic, MOETIER_STATS_MAGIC, sizeof h->magic) != 0)
        return bad(err, n, -EPROTO, path, "not a moetier stats segment (bad magic)");
    if (h->version != MOETIER_STATS_VERSION) {
        moetier_fmt(why, sizeof why, "stats segment version %u; this moetier reads version %u",
                    h->version, MOETIER_STATS_VERSION);
        return bad(err, n, -EPROTO, path, why);
    }
    if (h->header_bytes < sizeof *h || h->header_bytes > h->total_bytes) {
        moetier_fmt(why, sizeof why, "corrupt stats segment: header size %u (expected at least %u)",
                    h->header_bytes, (unsigned)sizeof *h);
        return bad(err, n, -EPROTO, path, why);
    }
    if (h->total_bytes > file_bytes) {
        moetier_fmt(why, sizeof why, "truncated stats segment: %llu bytes, header says %llu",
                    (unsigned long long)file_bytes, (unsigned long long)h->total_bytes);
        return bad(err, n, -EPROTO, path, why);
    }
    uint64_t ne = (uint64_t)h->n_layers * h->n_experts;
    if (h->n_layers > MOETIER_STATS_MAX_EXPERTS || h->n_experts > MOETIER_STATS_MAX_EXPERTS ||
        ne > MOETIER_STATS_MAX_EXPERTS) {
        moetier_fmt(why, sizeof why, "corrupt stats segment: %u layers x %u experts is beyond the limit",
                    h->n_layers, h->n_experts);
        return bad(err, n, -EPROTO, path, why);
    }
    uint64_t bo = h->blocks_offset, bend = bo + 4ull * h->n_layers;
    uint64_t eo = h->experts_offset, eend = eo + ne * sizeof(struct moetier_stats_expert);
    if (bo < h->header_bytes || bo % 4 || bend > h->total_bytes || eo < h->header_bytes || eo % 8 ||
        eend > h->total_bytes || (bo < eend && eo < bend && h->n_layers && ne))
        return bad(err, n, -EPROTO, path, "corrupt stats segment: array offsets out of bounds or overlapping");
    if (h->traffic_hits > h->traffic_accesses) {
        moetier_fmt(why, sizeof why, "corrupt stats segment: %llu hits of %llu expert uses",
                    (unsigned long long)h->traffic_hits, (unsigned long long)h->traffic_accesses);
        return bad(err, n, -EPROTO, path, why);
    }
    return 0;
}

/* Checks the copied arrays; 0 or -EPROTO. Rates that are not numbers become 0
 * and are clamped into [0, 1]. */
static int check_arrays(struct moetier_stats_snapshot *s, const char *path, char *err, size_t n)
{
    char why[200];
    for (uint32_t l = 0; l < s->h.n_layers; l++)
        if (s->blocks[l] < 0 || s->blocks[l] > MOETIER_STATS_MAX_BLOCK) {
            moetier_fmt(why, sizeof why, "corrupt stats segment: layer %u has block number %d", l,
                        (int)s->blocks[l]);
            return bad(err, n, -EPROTO, path, why);
        }
    uint64_t ne = (uint64_t)s->h.n_layers * s->h.n_experts;
    for (uint64_t i = 0; i < ne; i++) {
        struct moetier_stats_expert *e = &s->experts[i];
        if (e->tier > MOETIER_TIER_MIXED) {
            moetier_fmt(why, sizeof why, "corrupt stats segment: expert %u of layer %u has tier %u",
                        (unsigned)(i % s->h.n_experts), (unsigned)(i / s->h.n_experts), e->tier);
            return bad(err, n, -EPROTO, path, why);
        }
        if (!(e->rate >= 0.0f)) /* NaN too */
            e->rate = 0.0f;
        else if (e->rate > 1.0f)
            e->rate = 1.0f;
    }
    return 0;
}

static void terminate(char *s, size_t n)
{
    s[n - 1] = '\0';
}

int moetier_stats_read(const char *path, struct moetier_stats_snapshot *s, char *err, size_t errlen)
{
    struct stat st;
    void *map = MAP_FAILED;
    size_t map_bytes = 0;
    int rc;

    memset(s, 0, sizeof *s);
    if (errlen)
        err[0] = '\0';
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        rc = -errno;
        if (rc == -ELOOP)
            return bad(err, errlen, -EPROTO, path, "is a symbolic link; refusing it as a stats segment");
        return bad(err, errlen, rc, path, strerror(-rc));
    }
    if (fstat(fd, &st)) {
        rc = bad(err, errlen, -errno, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = bad(err, errlen, -EPROTO, path, "not a regular file");
        goto out;
    }
    if (st.st_uid != geteuid()) {
        rc = bad(err, errlen, -EPERM, path, "stats segment belongs to another user; refusing it");
        goto out;
    }
    if ((uint64_t)st.st_size < sizeof(struct moetier_stats_header)) {
        rc = bad(err, errlen, -EPROTO, path,
                 st.st_size == 0 ? "empty file: not a moetier stats segment"
                                 : "truncated: smaller than a stats segment header");
        goto out;
    }
    map_bytes = (size_t)st.st_size;
    map = mmap(NULL, map_bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        rc = bad(err, errlen, -errno, path, strerror(errno));
        goto out;
    }

    /* the layout fields never change after creation: check them once */
    const struct moetier_stats_header *live = map;
    struct moetier_stats_header first;
    memcpy(&first, live, sizeof first);
    if ((rc = check_header(&first, (uint64_t)st.st_size, path, err, errlen)))
        goto out;
    size_t nb = 4u * first.n_layers;
    size_t ne = (size_t)first.n_layers * first.n_experts;
    s->blocks = malloc(nb ? nb : 1);
    s->experts = malloc(ne ? ne * sizeof *s->experts : 1);
    if (!s->blocks || !s->experts) {
        rc = bad(err, errlen, -ENOMEM, path, "out of memory");
        goto out;
    }

    const uint64_t *seq = (const uint64_t *)&live->seq;
    rc = -EBUSY;
    for (int tries = 0; tries < READ_TRIES; tries++) {
        if (tries >= READ_SPINS_BEFORE_SLEEP) {
            struct timespec ts = { 0, 100000 }; /* 0.1 ms */
            nanosleep(&ts, NULL);
        }
        uint64_t s1 = __atomic_load_n(seq, __ATOMIC_ACQUIRE);
        if (s1 & 1)
            continue;
        memcpy(&s->h, live, sizeof s->h);
        memcpy(s->blocks, (const char *)map + first.blocks_offset, nb);
        memcpy(s->experts, (const char *)map + first.experts_offset, ne * sizeof *s->experts);
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(seq, __ATOMIC_RELAXED) == s1) {
            rc = 0;
            break;
        }
    }
    if (rc) {
        rc = bad(err, errlen, -EBUSY, path, "stats segment is being written continuously; try again");
        goto out;
    }
    if (s->h.n_layers != first.n_layers || s->h.n_experts != first.n_experts ||
        s->h.blocks_offset != first.blocks_offset || s->h.experts_offset != first.experts_offset ||
        s->h.total_bytes != first.total_bytes) {
        rc = bad(err, errlen, -EPROTO, path, "corrupt stats segment: its layout changed while read");
        goto out;
    }
    if ((rc = check_arrays(s, path, err, errlen)))
        goto out;
    terminate(s->h.comm, sizeof s->h.comm);
    terminate(s->h.model, sizeof s->h.model);
    terminate(s->h.model_id, sizeof s->h.model_id);
    terminate(s->h.sampler, sizeof s->h.sampler);
    terminate(s->h.placement, sizeof s->h.placement);
    terminate(s->h.slow_kind, sizeof s->h.slow_kind);
    if (!isfinite(s->h.tok_per_s) || s->h.tok_per_s < 0)
        s->h.tok_per_s = 0;

out:
    if (map != MAP_FAILED)
        munmap(map, map_bytes);
    close(fd);
    if (rc)
        moetier_stats_snapshot_free(s);
    return rc;
}

void moetier_stats_snapshot_free(struct moetier_stats_snapshot *s)
{
    free(s->blocks);
    free(s->experts);
    s->blocks = NULL;
    s->experts = NULL;
}

/* ---- listing and stale segments ------------------------------------------ */

/* "moetier-<pid>.stats" -> pid, else 0. tmp: also accepts the ".stats.tmp" name. */
static int parse_name(const char *name, int *is_tmp)
{
    if (strncmp(name, "moetier-", 8) != 0)
        return 0;
    const char *p = name + 8;
    long pid = 0;
    if (*p < '1' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9') {
        pid = pid * 10 + (*p++ - '0');
        if (pid > 0x7fffffffL)
            return 0;
    }
    *is_tmp = 0;
    if (strcmp(p, ".stats") == 0)
        return (int)pid;
    if (strcmp(p, ".stats.tmp") == 0) {
        *is_tmp = 1;
        return (int)pid;
    }
    return 0;
}

/* Start of process pid as CLOCK_REALTIME ns (now minus its age); 0 when unknown. */
static uint64_t proc_start_ns(int pid)
{
    char path[64], buf[1024];
    long hz = sysconf(_SC_CLK_TCK);
    if (hz <= 0)
        return 0;
    moetier_fmt(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    if (!p || p[1] != ' ')
        return 0;
    p++; /* the space before field 3 (state); starttime is field 22 */
    for (int field = 3; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    if (!p)
        return 0;
    uint64_t ticks = strtoull(p + 1, NULL, 10);
    struct timespec boot;
    if (clock_gettime(CLOCK_BOOTTIME, &boot))
        return 0;
    uint64_t since_boot = (uint64_t)boot.tv_sec * 1000000000ull + (uint64_t)boot.tv_nsec;
    uint64_t started = ticks * (1000000000ull / (uint64_t)hz);
    if (started > since_boot)
        return 0;
    return now_ns() - (since_boot - started);
}

int moetier_stats_is_stale(int pid, const char *path)
{
    if (kill(pid, 0) && errno == ESRCH)
        return 1;
    char proc[64];
    moetier_fmt(proc, sizeof proc, "/proc/%d", pid);
    if (access("/proc/self", F_OK) == 0 && access(proc, F_OK) && errno == ENOENT)
        return 1;
    /* pid reuse: a process younger than the segment cannot have written it */
    if (path) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
            return 0;
        struct moetier_stats_header h;
        ssize_t n = pread(fd, &h, sizeof h, 0);
        close(fd);
        if (n != (ssize_t)sizeof h || memcmp(h.magic, MOETIER_STATS_MAGIC, 8) != 0 || h.pid != pid)
            return 0;
        uint64_t started = proc_start_ns(pid);
        /* clock-tick resolution; leave slack for clock adjustments */
        if (started && started > h.start_ns + 5000000000ull)
            return 1;
    }
    return 0;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

int moetier_stats_list(const char *dir, void (*fn)(int pid, const char *path, void *arg), void *arg)
{
    char dbuf[1100], path[1200];
    if (!dir || !*dir)
        dir = moetier_stats_default_dir(dbuf, sizeof dbuf);
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
    int *pids = NULL, n = 0, cap = 0;
    uid_t me = geteuid();
    struct dirent *de;
    while ((de = readdir(d))) {
        int tmp;
        int pid = parse_name(de->d_name, &tmp);
        if (!pid)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
            st.st_uid != me)
            continue; /* another user's (or not a file): not ours to list or remove */
        moetier_fmt(path, sizeof path, "%s/%s", dir, de->d_name);
        if (tmp) {
            /* a creation in progress, or one that died half-way */
            if (kill(pid, 0) && errno == ESRCH)
                (void)unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        if (moetier_stats_is_stale(pid, path)) {
            (void)unlinkat(dirfd(d), de->d_name, 0);
            continue;
        }
        if (n == cap) {
            int ncap = cap ? cap * 2 : 16;
            int *np = realloc(pids, (size_t)ncap * sizeof *np);
            if (!np)
                break;
            pids = np;
            cap = ncap;
        }
        pids[n++] = pid;
    }
    closedir(d);
    if (n > 1)
        qsort(pids, (size_t)n, sizeof *pids, cmp_int);
    for (int i = 0; i < n; i++) {
        moetier_fmt(path, sizeof path, "%s/moetier-%d.stats", dir, pids[i]);
        if (fn)
            fn(pids[i], path, arg);
    }
    free(pids);
    return n;
}

/* ---- control (moetier set) ---------------------------------------------- */

int moetier_stats_request(const char *path, const struct moetier_stats_control *req,
                          struct moetier_stats_control *reply, int timeout_ms, char *err, size_t errlen)
{
    int rc;
    if (errlen)
        err[0] = '\0';
    int fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bad(err, errlen, -errno, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
        (uint64_t)st.st_size < sizeof(struct moetier_stats_header)) {
        close(fd);
        return bad(err, errlen, -EPROTO, path, "not a stats segment of this user");
    }
    struct moetier_stats_header *h = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (h == MAP_FAILED) {
        rc = bad(err, errlen, -errno, path, strerror(errno));
        close(fd);
        return rc;
    }
    struct moetier_stats_header copy;
    memcpy(&copy, h, sizeof copy);
    if ((rc = check_header(&copy, (uint64_t)st.st_size, path, err, errlen)) != 0)
        goto out;
    flock(fd, LOCK_EX); /* one request at a time */
    struct moetier_stats_control *c = &h->ctl;
    uint64_t seq = c->ack_seq + 1;
    c->what = req->what;
    c->migrate_mbps = req->migrate_mbps;
    c->dram = req->dram;
    c->dram_percent = req->dram_percent;
    c->sample_ms = req->sample_ms;
    memcpy(c->policy, req->policy, sizeof c->policy);
    c->policy[sizeof c->policy - 1] = '\0';
    __atomic_store_n(&c->req_seq, seq, __ATOMIC_RELEASE);
    rc = -ETIMEDOUT;
    for (int waited = 0; waited <= timeout_ms; waited += 10) {
        if (__atomic_load_n(&c->ack_seq, __ATOMIC_ACQUIRE) == seq) {
            memcpy(reply, c, sizeof *reply);
            reply->message[sizeof reply->message - 1] = '\0';
            rc = 0;
            break;
        }
        struct timespec ts = { 0, 10 * 1000000L };
        nanosleep(&ts, NULL);
    }
    if (rc == -ETIMEDOUT) {
        /* withdraw it: a process that answers later must not apply a stale request */
        __atomic_store_n(&c->req_seq, c->ack_seq, __ATOMIC_RELEASE);
        bad(err, errlen, rc, path, "the process did not answer (is it still decoding?)");
    }
    flock(fd, LOCK_UN);
out:
    munmap(h, (size_t)st.st_size);
    close(fd);
    return rc;
}
