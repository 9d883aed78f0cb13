/*
 * test_stats: the live statistics segment (profiler/stats.c).
 *
 *   - seqlock: a writer thread rewrites every expert's hits and the decode
 *     token count with one counter value, continuously, while the main thread
 *     takes snapshots; every snapshot must be consistent (all equal);
 *   - create/read round trip of the layout, strings and values;
 *   - the reader refuses corrupt, truncated, other-version and oversized
 *     segments with -EPROTO and a message (never a crash), and symlinks;
 *   - random damage (a few bytes of a valid segment overwritten, 3000 times)
 *     gives 0 or -EPROTO, never a crash (run under ASan to see overreads);
 *   - listing: live segments are listed in pid order, stale ones (a dead
 *     pid) are removed, files that are not segments are left alone.
 */
#include "common/rng.h"
#include "profiler/stats.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define L 6
#define E 64

static char dir[256];
static volatile int stop_writer;
static int writer_gap_us; /* pause between updates; 0 = hammer the segment */
static uint64_t last_written; /* the writer's last complete update */

static void *writer_thread(void *arg)
{
    struct moetier_stats_writer *w = arg;
    struct moetier_stats_expert *x = moetier_stats_experts(w);
    uint64_t counter = 1;
    while (!__atomic_load_n(&stop_writer, __ATOMIC_RELAXED)) {
        moetier_stats_begin(w);
        for (int i = 0; i < L * E; i++) {
            x[i].hits = counter;
            x[i].rate = (float)(counter % 1000) / 1000.0f;
        }
        w->h->tokens_decode = counter;
        w->h->promotions = counter * 3;
        moetier_stats_end(w);
        __atomic_store_n(&last_written, counter, __ATOMIC_RELAXED);
        counter++;
        if (writer_gap_us) {
            struct timespec ts = { 0, writer_gap_us * 1000L };
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* Reads snapshots for ms while the writer runs; returns consistent reads. */
static int read_while_writing(struct moetier_stats_writer *w, int ms, int gap_us, int *advanced_out)
{
    pthread_t th;
    stop_writer = 0;
    writer_gap_us = gap_us;
    pthread_create(&th, NULL, writer_thread, w);

    int reads = 0, busy = 0, torn = 0, advanced = 0;
    uint64_t last = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        struct moetier_stats_snapshot s;
        char err[256];
        int rc = moetier_stats_read(w->path, &s, err, sizeof err);
        if (rc == -EBUSY) {
            busy++;
        } else if (rc) {
            fprintf(stderr, "read: %s\n", err);
            torn++;
        } else {
            reads++;
            uint64_t v = s.h.tokens_decode;
            if (s.h.promotions != v * 3)
                torn++;
            for (int i = 0; i < L * E; i++)
                if (s.experts[i].hits != v || s.experts[i].rate != (float)(v % 1000) / 1000.0f) {
                    torn++;
                    break;
                }
            if (v > last)
                advanced++;
            last = v;
            moetier_stats_snapshot_free(&s);
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
    __atomic_store_n(&stop_writer, 1, __ATOMIC_RELAXED);
    pthread_join(th, NULL);
    printf("seqlock (writer gap %d us): %d consistent snapshots (%d saw a newer value), %d busy, %d torn\n",
           gap_us, reads, advanced, busy, torn);
    CHECK(torn == 0);
    /* once the writer has stopped, a snapshot shows its last update */
    struct moetier_stats_snapshot s;
    char err[256];
    CHECK(moetier_stats_read(w->path, &s, err, sizeof err) == 0);
    CHECK(s.h.tokens_decode == last_written);
    moetier_stats_snapshot_free(&s);
    *advanced_out = advanced;
    return reads;
}

static void test_seqlock(void)
{
    int32_t blocks[L];
    for (int l = 0; l < L; l++)
        blocks[l] = l * 2 + 1;
    struct moetier_stats_writer w;
    CHECK(moetier_stats_create(&w, dir, L, E, blocks) == 0);
    if (!w.h)
        return;
    int advanced;
    /* a writer that never pauses: snapshots may be refused (busy), never torn */
    read_while_writing(&w, 700, 0, &advanced);
    /* a writer with short pauses (up to 50k updates/s, far more than a
     * sampler): snapshots succeed and follow the writer (no ratio of reads to
     * updates is checked: that is timing, and a loaded machine changes it) */
    int reads = read_while_writing(&w, 700, 20, &advanced);
    CHECK(reads > 0);
    CHECK(advanced > 0);
    moetier_stats_destroy(&w);
    CHECK(w.path[0] == '\0');
}

/* Writes a segment, then lets fn damage the file; the read must fail with rc. */
static void expect_corrupt(const char *what, void (*damage)(int fd, struct moetier_stats_header *h), int want)
{
    int32_t blocks[2] = { 4, 9 };
    struct moetier_stats_writer w;
    CHECK(moetier_stats_create(&w, dir, 2, 4, blocks) == 0);
    if (!w.h)
        return;
    int fd = open(w.path, O_RDWR);
    damage(fd, w.h);
    close(fd);
    struct moetier_stats_snapshot s;
    char err[512] = "";
    int rc = moetier_stats_read(w.path, &s, err, sizeof err);
    printf("%-22s -> %d: %s\n", what, rc, err);
    if (rc != want)
        fprintf(stderr, "%s: expected %d, got %d\n", what, want, rc);
    CHECK(rc == want);
    CHECK(rc == 0 || err[0] != '\0');
    if (rc == 0)
        moetier_stats_snapshot_free(&s);
    CHECK(s.blocks == NULL && s.experts == NULL);
    moetier_stats_destroy(&w);
}

static void d_magic(int fd, struct moetier_stats_header *h) { (void)fd; h->magic[0] = 'X'; }
static void d_version(int fd, struct moetier_stats_header *h) { (void)fd; h->version = 99; }
static void d_header(int fd, struct moetier_stats_header *h) { (void)fd; h->header_bytes = 16; }
static void d_total(int fd, struct moetier_stats_header *h) { (void)fd; h->total_bytes += 4096; }
static void d_layers(int fd, struct moetier_stats_header *h) { (void)fd; h->n_layers = 1u << 30; }
static void d_experts_off(int fd, struct moetier_stats_header *h) { (void)fd; h->experts_offset = 0xfffffff0u; }
static void d_blocks_off(int fd, struct moetier_stats_header *h) { (void)fd; h->blocks_offset = 3; }
static void d_overlap(int fd, struct moetier_stats_header *h) { (void)fd; h->experts_offset = h->blocks_offset; }
static void d_truncate(int fd, struct moetier_stats_header *h) { (void)h; CHECK(ftruncate(fd, 100) == 0); }
static void d_truncate_tail(int fd, struct moetier_stats_header *h) { CHECK(ftruncate(fd, (off_t)h->total_bytes - 1) == 0); }
static void d_empty(int fd, struct moetier_stats_header *h) { (void)h; CHECK(ftruncate(fd, 0) == 0); }
static void d_tier(int fd, struct moetier_stats_header *h)
{
    (void)fd;
    ((struct moetier_stats_expert *)((char *)h + h->experts_offset))[5].tier = 9;
}
static void d_block(int fd, struct moetier_stats_header *h)
{
    (void)fd;
    ((int32_t *)((char *)h + h->blocks_offset))[1] = -7;
}
static void d_none(int fd, struct moetier_stats_header *h) { (void)fd; (void)h; }

static void test_corrupt(void)
{
    expect_corrupt("intact", d_none, 0);
    expect_corrupt("bad magic", d_magic, -EPROTO);
    expect_corrupt("other version", d_version, -EPROTO);
    expect_corrupt("short header size", d_header, -EPROTO);
    expect_corrupt("total beyond file", d_total, -EPROTO);
    expect_corrupt("absurd layer count", d_layers, -EPROTO);
    expect_corrupt("experts offset", d_experts_off, -EPROTO);
    expect_corrupt("unaligned blocks", d_blocks_off, -EPROTO);
    expect_corrupt("overlapping arrays", d_overlap, -EPROTO);
    expect_corrupt("truncated header", d_truncate, -EPROTO);
    expect_corrupt("truncated tail", d_truncate_tail, -EPROTO);
    expect_corrupt("empty file", d_empty, -EPROTO);
    expect_corrupt("unknown tier", d_tier, -EPROTO);
    expect_corrupt("negative block", d_block, -EPROTO);

    /* a random file and a symlink to a segment */
    char path[512], link_path[512];
    snprintf(path, sizeof path, "%s/random.bin", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char junk[5000];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)(i * 7919 % 251);
    CHECK(write(fd, junk, sizeof junk) == (ssize_t)sizeof junk);
    close(fd);
    struct moetier_stats_snapshot s;
    char err[512];
    CHECK(moetier_stats_read(path, &s, err, sizeof err) == -EPROTO);
    snprintf(link_path, sizeof link_path, "%s/link.stats", dir);
    CHECK(symlink(path, link_path) == 0);
    CHECK(moetier_stats_read(link_path, &s, err, sizeof err) == -EPROTO);
    CHECK(strstr(err, "symbolic link") != NULL);
    unlink(link_path);
    unlink(path);
    snprintf(path, sizeof path, "%s/missing.stats", dir);
    CHECK(moetier_stats_read(path, &s, err, sizeof err) == -ENOENT);
}

static void test_random_damage(void)
{
    int32_t blocks[3] = { 0, 1, 7 };
    struct moetier_stats_writer w;
    CHECK(moetier_stats_create(&w, dir, 3, 16, blocks) == 0);
    if (!w.h)
        return;
    size_t size = w.map_bytes;
    unsigned char *orig = malloc(size), *copy = malloc(size);
    memcpy(orig, w.h, size);
    char path[400];
    snprintf(path, sizeof path, "%s/damaged.stats", dir);
    struct rng r;
    rng_seed(&r, 42, 0);
    int ok = 0, proto = 0, other = 0;
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(copy, orig, size);
        int n = 1 + (int)rng_below(&r, 4);
        for (int k = 0; k < n; k++) {
            /* mostly the header, where the layout lives */
            size_t at = rng_below(&r, 4) ? rng_below(&r, sizeof(struct moetier_stats_header)) : rng_below(&r, size);
            copy[at] = (unsigned char)rng_next(&r);
        }
        size_t len = rng_below(&r, 8) ? size : rng_below(&r, size + 1);
        unlink(path);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(write(fd, copy, len) == (ssize_t)len);
        close(fd);
        struct moetier_stats_snapshot s;
        char err[512];
        int rc = moetier_stats_read(path, &s, err, sizeof err);
        if (rc == 0) {
            ok++;
            moetier_stats_snapshot_free(&s);
        } else if (rc == -EPROTO || rc == -EBUSY) { /* an odd seq byte reads as "busy" */
            proto++;
        } else {
            other++;
            fprintf(stderr, "damage %d: %d %s\n", iter, rc, err);
        }
    }
    printf("random damage: %d still valid, %d refused, %d other\n", ok, proto, other);
    CHECK(other == 0);
    unlink(path);
    free(orig);
    free(copy);
    moetier_stats_destroy(&w);
}

static void test_round_trip(void)
{
    int32_t blocks[3] = { 1, 5, 60 };
    struct moetier_stats_writer w;
    CHECK(moetier_stats_create(&w, dir, 3, 5, blocks) == 0);
    if (!w.h)
        return;
    char expect[400];
    snprintf(expect, sizeof expect, "%s/moetier-%d.stats", dir, (int)getpid());
    CHECK_STR(w.path, expect);
    struct stat st;
    CHECK(stat(w.path, &st) == 0 && (st.st_mode & 0777) == 0600);
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", w.path);
    CHECK(access(tmp, F_OK) != 0); /* published by link, temporary name gone */
    moetier_stats_begin(&w);
    snprintf(w.h->model, sizeof w.h->model, "/m/x.gguf");
    memset(w.h->placement, 'p', sizeof w.h->placement); /* unterminated: the reader terminates it */
    w.h->tok_per_s = 3.5;
    struct moetier_stats_expert *x = moetier_stats_experts(&w);
    x[7].hits = 42;
    x[7].rate = 0.75f;
    x[7].tier = MOETIER_TIER_DRAM;
    x[8].rate = 7.0f; /* clamped */
    moetier_stats_end(&w);
    struct moetier_stats_snapshot s;
    char err[256];
    CHECK(moetier_stats_read(w.path, &s, err, sizeof err) == 0);
    CHECK(s.h.n_layers == 3 && s.h.n_experts == 5 && s.h.pid == getpid());
    CHECK(s.blocks[0] == 1 && s.blocks[1] == 5 && s.blocks[2] == 60);
    CHECK_STR(s.h.model, "/m/x.gguf");
    CHECK(strlen(s.h.placement) == sizeof s.h.placement - 1);
    CHECK(s.h.tok_per_s == 3.5);
    CHECK(s.experts[7].hits == 42 && s.experts[7].rate == 0.75f && s.experts[7].tier == MOETIER_TIER_DRAM);
    CHECK(s.experts[8].rate == 1.0f);
    CHECK(s.h.seq % 2 == 0 && s.h.seq >= 2);
    CHECK(s.h.update_ns >= s.h.start_ns);
    moetier_stats_snapshot_free(&s);

    /* a second create for the same pid replaces the first (an exec'd successor) */
    struct moetier_stats_writer w2;
    CHECK(moetier_stats_create(&w2, dir, 1, 1, blocks) == 0);
    CHECK(moetier_stats_read(w2.path, &s, err, sizeof err) == 0);
    CHECK(s.h.n_layers == 1);
    moetier_stats_snapshot_free(&s);
    moetier_stats_detach(&w); /* the old mapping: no unlink of the new file */
    CHECK(access(w2.path, F_OK) == 0);
    moetier_stats_destroy(&w2);
    CHECK(access(expect, F_OK) != 0);

    /* limits */
    CHECK(moetier_stats_create(&w, dir, 2048, 1024, NULL) == -E2BIG);
    CHECK(w.h == NULL);
}

struct seen {
    int n;
    int pids[8];
};

static void collect(int pid, const char *path, void *arg)
{
    struct seen *s = arg;
    (void)path;
    if (s->n < 8)
        s->pids[s->n] = pid;
    s->n++;
}

static void test_list(void)
{
    char sub[300];
    snprintf(sub, sizeof sub, "%s/list", dir);
    int32_t blocks[1] = { 0 };

    /* a child that publishes and waits, and a child that publishes and dies */
    int pipe_fd[2];
    CHECK(pipe(pipe_fd) == 0);
    pid_t live = fork();
    if (live == 0) {
        struct moetier_stats_writer w;
        if (moetier_stats_create(&w, sub, 1, 1, blocks))
            _exit(1);
        if (write(pipe_fd[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    CHECK(read(pipe_fd[0], &c, 1) == 1);
    pid_t dead = fork();
    if (dead == 0) {
        struct moetier_stats_writer w;
        if (moetier_stats_create(&w, sub, 1, 1, blocks))
            _exit(1);
        _exit(0); /* no destroy: a crash leaves the segment behind */
    }
    int status;
    waitpid(dead, &status, 0);
    char dead_path[400];
    snprintf(dead_path, sizeof dead_path, "%s/moetier-%d.stats", sub, (int)dead);
    CHECK(access(dead_path, F_OK) == 0);
    /* unrelated files stay */
    char other[400];
    snprintf(other, sizeof other, "%s/notes.txt", sub);
    close(open(other, O_WRONLY | O_CREAT, 0600));
    snprintf(other, sizeof other, "%s/moetier-12x.stats", sub);
    close(open(other, O_WRONLY | O_CREAT, 0600));

    struct seen s = { 0, { 0 } };
    int n = moetier_stats_list(sub, collect, &s);
    CHECK(n == 1);
    CHECK(s.n == 1 && s.pids[0] == live);
    CHECK(access(dead_path, F_OK) != 0); /* the stale one was removed */
    CHECK(access(other, F_OK) == 0);
    CHECK(moetier_stats_is_stale(live, NULL) == 0);

    kill(live, SIGKILL);
    waitpid(live, &status, 0);
    s.n = 0;
    CHECK(moetier_stats_list(sub, collect, &s) == 0);
    snprintf(other, sizeof other, "%s/nonexistent", dir);
    CHECK(moetier_stats_list(other, collect, &s) == 0);
    close(pipe_fd[0]);
    close(pipe_fd[1]);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s/moetier-test-stats.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trip();
    test_corrupt();
    test_random_damage();
    test_list();
    test_seqlock();
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_exit("test_stats");
}
