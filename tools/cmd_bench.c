/*
 * moetier bench: measures this machine's tiers as moetier uses them (the
 * measurements: tools/bench.h) and writes the machine profile `moetier sim`
 * reads (docs/bench.md).
 *
 *   moetier bench [--short] [--json] [--file PATH] [--size SIZE] [--out FILE]
 *
 * The test file is created in the working directory and unlinked at once (a
 * killed run leaves nothing); --file reads an existing file instead (not
 * written, not removed). The profile goes to --out, else
 * $XDG_STATE_HOME/moetier/machine.json (~/.local/state/moetier/), written to a
 * temporary name and renamed. A figure not measured is left out of the profile
 * and `skipped` (and the text) says why; every figure has its range of repeats.
 */
#include "config.h"

#include "common/json.h"
#include "common/meminfo.h"
#include "common/private_dir.h"
#include "common/size.h"
#include "tools/bench.h"
#include "tools/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define CMD "bench"
#define PAGE_READ 0     /* bench_tier.read[0]: 4 KiB, the device's latency */
#define HEADLINE_READ 2 /* bench_tier.read[2]: 4 MiB, an expert */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier bench [--short] [--json] [--file PATH] [--size SIZE] [--out FILE]\n"
            "\n"
            "Measures this machine's tiers as moetier uses them: DRAM read and write\n"
            "bandwidth (one thread per core), the rate the cores stream int8 weights\n"
            "through a dot product, cold reads of a file in expert-sized chunks,\n"
            "promotion and demotion throughput through the runtime's own code per mode\n"
            "(copy, lock, move_pages), page-fault and mprotect costs with every other\n"
            "core busy, host-to-device copies when a CUDA device is present, and\n"
            "exact reads: a layer's missed experts asked for at once, as the runtime\n"
            "reads them, with the page cache dropped first.\n"
            "Each figure is the median of repeats, with the smallest and largest.\n"
            "\n"
            "  --short    a quick run (about 20 s on 2 cores; for CI): fewer repeats,\n"
            "             smaller buffers, a 64 MiB file\n"
            "  --json     one JSON object on stdout: the machine profile (docs/bench.md)\n"
            "  --file     read this file for the cold reads and promotions (default: a\n"
            "             file of SIZE created in the working directory, removed after);\n"
            "             a GGUF model's own experts are read for the exact reads\n"
            "  --size     bytes of that file (default 1G, 64M with --short); with --file,\n"
            "             read at most this much of it\n"
            "  --out      write the profile here (default:\n"
            "             $XDG_STATE_HOME/moetier/machine.json, ~/.local/state/moetier/)\n"
            "  -h, --help this text\n"
            "\n"
            "exit status: 0 success; 1 a measurement could not run (no room for the file,\n"
            "the profile not written); 2 bad usage.\n");
}

/* ---- progress ------------------------------------------------------------- */

#define STEPS 15 /* the file, 5 memory steps, 4 read sizes, 3 modes, the GPU, exact reads */

struct progress {
    int on, step;
};

static struct progress bar; /* an error line must not land on the bar */

static void progress_show(const char *what, void *arg)
{
    struct progress *p = arg;
    if (!p->on)
        return;
    int width = 24, done = p->step * width / STEPS;
    char cells[32];
    memset(cells, '#', (size_t)done);
    memset(cells + done, '.', (size_t)(width - done));
    cells[width] = 0;
    fprintf(stderr, "\r\033[K[%s] %2d/%d %s", cells, p->step + 1, STEPS, what);
    fflush(stderr);
    if (p->step < STEPS - 1)
        p->step++;
}

static void progress_end(struct progress *p)
{
    if (p->on)
        fputs("\r\033[K", stderr);
}

/* ---- the profile ----------------------------------------------------------- */

struct run {
    int short_run, cores;
    uint64_t llc_bytes; /* all L3 caches, 0 unknown */
    char host[256], time[32], file[PATH_MAX];
    uint64_t file_bytes;
    int file_created;
    struct bench_opts o;
    struct bench_mem mem;
    struct bench_tier tier;
    struct bench_exact exact;
    char exact_src[160]; /* which experts it read */
};

/* A cold read's figures (i: PAGE_READ, HEADLINE_READ), or NULL when they were not cold. */
static const struct bench_read *cold_read(const struct run *r, int i)
{
    const struct bench_read *x = &r->tier.read[i];
    return r->tier.cold && x->gbps.n ? x : NULL;
}

/* The figures of the agreed schema and the extras, with what each one is. */
struct figure {
    const char *key;
    const struct bench_stat *s;
    const char *why; /* when not measured */
};

static int figures(const struct run *r, struct figure *f)
{
    const struct bench_read *rd = cold_read(r, HEADLINE_READ), *pg = cold_read(r, PAGE_READ);
    static const struct bench_stat none;
    int n = 0;
    f[n++] = (struct figure){ "dram_read_gbps", &r->mem.read_gbps, "the threads could not run" };
    f[n++] = (struct figure){ "dram_write_gbps", &r->mem.write_gbps, "the threads could not run" };
    f[n++] = (struct figure){ "file_read_gbps", rd ? &rd->gbps : &none, r->tier.skipped_read };
    f[n++] = (struct figure){ "file_read_latency_us", rd ? &rd->latency_us : &none, r->tier.skipped_read };
    f[n++] = (struct figure){ "file_read_4k_latency_us", pg ? &pg->latency_us : &none,
                              r->tier.skipped_read[0] ? r->tier.skipped_read : "the file is smaller than a page" };
    f[n++] = (struct figure){ "fault_us", &r->mem.fault_file_us, r->mem.skipped_fault };
    f[n++] = (struct figure){ "fault_anon_us", &r->mem.fault_anon_us, "the kernel counted no faults" };
    f[n++] = (struct figure){ "mprotect_us", &r->mem.mprotect_us, r->mem.skipped_mprotect };
    f[n++] = (struct figure){ "mprotect_idle_us", &r->mem.mprotect_idle_us, r->mem.skipped_mprotect };
    f[n++] = (struct figure){ "cpu_dot_gbps", &r->mem.dot_gbps, "the threads could not run" };
    f[n++] = (struct figure){ "h2d_pinned_gbps", &r->tier.h2d_pinned_gbps, r->tier.gpu };
    f[n++] = (struct figure){ "h2d_pageable_gbps", &r->tier.h2d_pageable_gbps, r->tier.gpu };
    f[n++] = (struct figure){ "file_exact_one_us", &r->exact.one_us, r->exact.skipped };
    f[n++] = (struct figure){ "file_exact_batch_us", &r->exact.batch_us, r->exact.skipped };
    f[n++] = (struct figure){ "file_exact_drop_us", &r->exact.drop_us, r->exact.skipped };
    f[n++] = (struct figure){ "file_exact_step_us", &r->exact.step_us, r->exact.skipped };
    return n;
}

static void json_stat(struct json *j, const struct bench_stat *s)
{
    json_obj_begin(j);
    json_key(j, "median"), json_double(j, s->median);
    json_key(j, "min"), json_double(j, s->min);
    json_key(j, "max"), json_double(j, s->max);
    json_key(j, "n"), json_int(j, s->n);
    json_obj_end(j);
}

enum which { PROMOTE, DEMOTE, PROMOTE_COLD };

static const struct bench_stat *mode_stat(const struct bench_migrate *x, enum which w)
{
    return w == PROMOTE ? &x->promote_gbps : w == DEMOTE ? &x->demote_gbps : &x->promote_cold_gbps;
}

/* {mode: median} of the modes measured. */
static void json_modes(struct json *j, const struct run *r, enum which w)
{
    json_obj_begin(j);
    for (int m = 0; m < BENCH_MODES; m++) {
        const struct bench_stat *s = mode_stat(&r->tier.mode[m], w);
        if (s->n)
            json_key(j, bench_mode_names[m]), json_double(j, s->median);
    }
    json_obj_end(j);
}

static void write_json(FILE *f, const struct run *r)
{
    struct figure fig[20];
    int nf = figures(r, fig);
    struct json j;
    json_init(&j, f, 1);
    json_obj_begin(&j);
    json_key(&j, "schema"), json_int(&j, 1);
    json_key(&j, "host"), json_str(&j, r->host);
    json_key(&j, "cores"), json_int(&j, r->cores);
    for (int i = 0; i < nf; i++)
        if (fig[i].s->n)
            json_key(&j, fig[i].key), json_double(&j, fig[i].s->median);
    json_key(&j, "promote_gbps"), json_modes(&j, r, PROMOTE);
    json_key(&j, "demote_gbps"), json_modes(&j, r, DEMOTE);
    json_key(&j, "promote_cold_gbps"), json_modes(&j, r, PROMOTE_COLD);
    if (r->mem.fault_file_us.n)
        json_key(&j, "fault_pages_per_fault"), json_double(&j, r->mem.fault_file_pages);
    if (r->exact.gbps > 0) {
        json_key(&j, "file_exact_gbps"), json_double(&j, r->exact.gbps);
        json_key(&j, "file_exact_layer_us"), json_double(&j, r->exact.layer_us);
        if (r->exact.step_us.n)
            json_key(&j, "file_exact_drop_added_us"), json_double(&j, r->exact.drop_added_us);
    }
    json_key(&j, "exact_reads"), json_obj_begin(&j);
    json_key(&j, "experts"), json_str(&j, r->exact_src);
    json_key(&j, "k"), json_int(&j, r->exact.k);
    json_key(&j, "expert_bytes"), json_uint(&j, r->exact.expert_bytes);
    json_obj_end(&j);
    json_key(&j, "time"), json_str(&j, r->time);
    json_key(&j, "short"), json_bool(&j, r->short_run);
    json_key(&j, "threads"), json_int(&j, r->o.threads);
    json_key(&j, "dram_bytes"), json_uint(&j, r->o.dram_bytes);
    json_key(&j, "llc_bytes"), json_uint(&j, r->llc_bytes);
    json_key(&j, "mprotect_bytes"), json_uint(&j, r->mem.mprotect_bytes);
    json_key(&j, "file"), json_obj_begin(&j);
    json_key(&j, "path"), json_str(&j, r->file);
    json_key(&j, "bytes"), json_uint(&j, r->file_bytes);
    json_key(&j, "created"), json_bool(&j, r->file_created);
    json_key(&j, "cold"), json_bool(&j, r->tier.cold);
    json_key(&j, "resident_after_drop"), json_double(&j, r->tier.resident_share);
    json_obj_end(&j);
    json_key(&j, "file_reads"), json_arr_begin(&j);
    for (int i = 0; i < BENCH_READ_SIZES; i++) {
        const struct bench_read *x = &r->tier.read[i];
        if (!x->gbps.n)
            continue;
        json_obj_begin(&j);
        json_key(&j, "chunk"), json_uint(&j, x->chunk);
        json_key(&j, "bytes_per_pass"), json_uint(&j, x->bytes);
        json_key(&j, "gbps"), json_stat(&j, &x->gbps);
        json_key(&j, "latency_us"), json_stat(&j, &x->latency_us);
        json_obj_end(&j);
    }
    json_arr_end(&j);
    json_key(&j, "migrate"), json_obj_begin(&j);
    for (int m = 0; m < BENCH_MODES; m++) {
        const struct bench_migrate *x = &r->tier.mode[m];
        if (!x->promote_gbps.n)
            continue;
        json_key(&j, bench_mode_names[m]), json_obj_begin(&j);
        json_key(&j, "range"), json_uint(&j, x->range);
        json_key(&j, "bytes"), json_uint(&j, x->bytes);
        if (m == BENCH_LOCK)
            json_key(&j, "locked"), json_uint(&j, x->locked);
        json_key(&j, "promote_gbps"), json_stat(&j, &x->promote_gbps);
        json_key(&j, "demote_gbps"), json_stat(&j, &x->demote_gbps);
        if (x->promote_cold_gbps.n)
            json_key(&j, "promote_cold_gbps"), json_stat(&j, &x->promote_cold_gbps);
        json_obj_end(&j);
    }
    json_obj_end(&j);
    json_key(&j, "gpu"), json_str(&j, r->tier.gpu);
    json_key(&j, "ranges"), json_obj_begin(&j);
    for (int i = 0; i < nf; i++)
        if (fig[i].s->n)
            json_key(&j, fig[i].key), json_stat(&j, fig[i].s);
    json_obj_end(&j);
    json_key(&j, "skipped"), json_obj_begin(&j);
    for (int i = 0; i < nf; i++)
        if (!fig[i].s->n)
            json_key(&j, fig[i].key), json_str(&j, fig[i].why[0] ? fig[i].why : "not measured");
    if (r->exact.gbps <= 0)
        json_key(&j, "file_exact_gbps"), json_str(&j, r->exact.skipped[0] ? r->exact.skipped : "not measured");
    for (int m = 0; m < BENCH_MODES; m++)
        if (!r->tier.mode[m].promote_gbps.n) {
            char key[48];
            snprintf(key, sizeof key, "promote_gbps.%s", bench_mode_names[m]);
            json_key(&j, key), json_str(&j, r->tier.mode[m].skipped[0] ? r->tier.mode[m].skipped : "not measured");
        }
    json_obj_end(&j);
    json_obj_end(&j);
    json_finish(&j);
}

/* ---- text ------------------------------------------------------------------ */

static void line(const char *what, const struct bench_stat *s, const char *unit, const char *why, const char *note)
{
    if (!s->n) {
        printf("%-22s not measured: %s\n", what, why && *why ? why : "no figure");
        return;
    }
    printf("%-22s %9.2f %-5s [%.2f, %.2f]%s%s\n", what, s->median, unit, s->min, s->max, note ? "  " : "",
           note ? note : "");
}

static void print_text(const struct run *r, const char *profile)
{
    char a[32], b[32], note[160];
    printf("moetier bench: %s, %d cores, %s run; median [min, max] of %d repeats\n", r->host, r->cores,
           r->short_run ? "short" : "full", r->o.reps);
    snprintf(note, sizeof note, "%d threads over %s", r->o.threads, moetier_size_format(r->o.dram_bytes, a, sizeof a));
    line("DRAM read", &r->mem.read_gbps, "GB/s", NULL, note);
    line("DRAM write", &r->mem.write_gbps, "GB/s", NULL, note);
    line("int8 dot (q8_0-like)", &r->mem.dot_gbps, "GB/s", NULL, "weights streamed by all cores");
    printf("file reads: %s (%s), %s, chunks in a shuffled order\n", r->file, moetier_size_format(r->file_bytes, a, sizeof a),
           r->tier.cold ? "page cache dropped before each pass" : "NOT cold");
    if (r->tier.skipped_read[0])
        printf("  %s\n", r->tier.skipped_read);
    for (int i = 0; i < BENCH_READ_SIZES; i++) {
        const struct bench_read *x = &r->tier.read[i];
        char what[40];
        snprintf(what, sizeof what, "  %s %s", moetier_size_format(x->chunk, a, sizeof a),
                 i == PAGE_READ ? "pages" : "chunks");
        if (!x->gbps.n) {
            printf("%-22s not measured: %s\n", what, r->tier.skipped_read[0] ? "see above" : "the file is smaller");
            continue;
        }
        snprintf(note, sizeof note, "latency %.0f us [%.0f, %.0f]%s", x->latency_us.median, x->latency_us.min,
                 x->latency_us.max, x->bytes < r->file_bytes / x->chunk * x->chunk ? " (pass cut short)" : "");
        line(what, &x->gbps, "GB/s", NULL, note);
    }
    for (int m = 0; m < BENCH_MODES; m++) {
        const struct bench_migrate *x = &r->tier.mode[m];
        char what[40];
        snprintf(what, sizeof what, "promote %s", bench_mode_names[m]);
        snprintf(note, sizeof note, "%s in %s ranges", moetier_size_format(x->bytes, a, sizeof a),
                 moetier_size_format(x->range, b, sizeof b));
        if (m == BENCH_LOCK && x->promote_gbps.n) {
            char c[32];
            snprintf(note + strlen(note), sizeof note - strlen(note), ", %s locked (VmLck)",
                     moetier_size_format(x->locked, c, sizeof c));
        }
        line(what, &x->promote_gbps, "GB/s", x->skipped, note);
        if (x->promote_gbps.n) {
            snprintf(what, sizeof what, "demote %s", bench_mode_names[m]);
            line(what, &x->demote_gbps, "GB/s", NULL, x->skipped[0] ? x->skipped : NULL);
        }
        if (x->promote_cold_gbps.n) {
            snprintf(what, sizeof what, "promote %s, cold", bench_mode_names[m]);
            line(what, &x->promote_cold_gbps, "GB/s", NULL, "the source dropped from the page cache first");
        }
    }
    snprintf(note, sizeof note, "per fault, %.1f pages per fault, page cache warm", r->mem.fault_file_pages);
    line("page fault, file", &r->mem.fault_file_us, "us", r->mem.skipped_fault, note);
    line("page fault, anon", &r->mem.fault_anon_us, "us", "the kernel counted no faults", "per 4 KiB first touch");
    snprintf(note, sizeof note, "per call on %s, %d other thread%s spinning",
             moetier_size_format(r->mem.mprotect_bytes, a, sizeof a), r->o.threads - 1, r->o.threads == 2 ? "" : "s");
    line("mprotect", &r->mem.mprotect_us, "us", r->mem.skipped_mprotect, note);
    line("mprotect, idle", &r->mem.mprotect_idle_us, "us", r->mem.skipped_mprotect, "the same, no other thread running");
    line("GPU h2d, pinned", &r->tier.h2d_pinned_gbps, "GB/s", r->tier.gpu, r->tier.gpu);
    line("GPU h2d, pageable", &r->tier.h2d_pageable_gbps, "GB/s", r->tier.gpu, r->tier.gpu);
    printf("exact reads: %s, %s an expert, page cache dropped before each layer\n", r->exact_src,
           moetier_size_format(r->exact.expert_bytes, a, sizeof a));
    line("  a layer, 1 missed", &r->exact.one_us, "us", r->exact.skipped, NULL);
    snprintf(note, sizeof note, "all asked for at once (MADV_WILLNEED), then read");
    snprintf(b, sizeof b, "  a layer, %d missed", r->exact.k);
    line(b, &r->exact.batch_us, "us", r->exact.skipped, note);
    snprintf(note, sizeof note, "an expert's pages unmapped and dropped, %d other thread%s spinning", r->o.threads - 1,
             r->o.threads == 2 ? "" : "s");
    line("  drop", &r->exact.drop_us, "us", r->exact.skipped, note);
    snprintf(b, sizeof b, "  a layer, %d + %d drops", r->exact.k, r->exact.k);
    line(b, &r->exact.step_us, "us", r->exact.skipped,
         "the room's step: the misses asked for, other experts dropped meanwhile, then read");
    if (r->exact.gbps > 0)
        printf("%-22s %9.0f us a layer with misses + its bytes at %.2f GB/s\n", "  fit", r->exact.layer_us,
               r->exact.gbps);
    else if (r->exact.one_us.n)
        printf("%-22s not fitted: %s\n", "  fit", r->exact.skipped);
    if (r->exact.gbps > 0 && r->exact.step_us.n)
        printf("%-22s %9.0f us a drop beyond what the reads in flight hide\n", "  drops", r->exact.drop_added_us);
    if (profile)
        printf("profile: %s\n", profile);
}

/* ---- files ------------------------------------------------------------------- */

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int rc = mkdir(path, 0700);
        *p = '/';
        if (rc && errno != EEXIST)
            return -errno;
    }
    return 0;
}

static int default_profile(char *out, size_t cap)
{
    const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    int n;
    if (state && *state == '/')
        n = snprintf(out, cap, "%s/moetier/machine.json", state);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.local/state/moetier/machine.json", home);
    else
        return -ENOENT;
    return n > 0 && (size_t)n < cap ? 0 : -ENAMETOOLONG;
}

/* Written atomically into a directory that must be ours (common/private_dir.h):
 * a temporary file created O_EXCL|O_NOFOLLOW (never a planted link), then renamed. */
static int save_profile(const char *path, const struct run *r, char *why, size_t cap)
{
    char dir[PATH_MAX], tmp[PATH_MAX + 16];
    why[0] = '\0';
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir)
        return -ENAMETOOLONG;
    int rc = mkdirs(dir);
    if (rc)
        return rc;
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    if (slash && dir[0] && (rc = moetier_dir_check(dir, why, cap)))
        return rc;
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    (void)unlink(tmp); /* an earlier run's with our pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        rc = -errno;
        if (fd >= 0)
            close(fd);
        return rc;
    }
    write_json(f, r);
    rc = ferror(f) ? -EIO : 0;
    if (fclose(f) && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path))
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

/* The test file: created in the working directory and unlinked at once. */
static int make_file(struct run *r, uint64_t size, int *fdp)
{
    struct statvfs vfs;
    if (statvfs(".", &vfs) == 0 && (uint64_t)vfs.f_bavail * vfs.f_frsize < size + (size >> 3)) {
        char a[32], b[32];
        return progress_end(&bar), cli_error(CLI_FAIL, CMD, "no room for a %s test file in the working directory (%s free): --size, "
                         "or --file", moetier_size_format(size, a, sizeof a),
                         moetier_size_format((uint64_t)vfs.f_bavail * vfs.f_frsize, b, sizeof b));
    }
    char path[] = "moetier-bench.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return progress_end(&bar), cli_error(CLI_FAIL, CMD, "cannot create a test file in the working directory: %s", strerror(errno));
    unlink(path);
    int rc = bench_fill_file(fd, size);
    if (rc) {
        close(fd);
        return progress_end(&bar), cli_error(CLI_FAIL, CMD, "writing the %llu-byte test file: %s", (unsigned long long)size,
                         strerror(-rc));
    }
    if (!getcwd(r->file, sizeof r->file - sizeof path - 1))
        strcpy(r->file, ".");
    strcat(r->file, "/"), strcat(r->file, path);
    r->file_created = 1;
    r->file_bytes = size;
    *fdp = fd;
    return CLI_OK;
}

static int open_file(struct run *r, const char *path, uint64_t size, int *fdp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    const char *why = fd < 0 || fstat(fd, &st) != 0 ? strerror(errno) : !S_ISREG(st.st_mode) ? "not a regular file" : NULL;
    if (why) {
        if (fd >= 0)
            close(fd);
        return progress_end(&bar), cli_error(CLI_USAGE, CMD, "--file %s: %s", path, why);
    }
    snprintf(r->file, sizeof r->file, "%s", path);
    r->file_bytes = size && size < (uint64_t)st.st_size ? size : (uint64_t)st.st_size;
    *fdp = fd;
    return CLI_OK;
}

int cmd_bench(int argc, char **argv)
{
    static const struct option opts[] = {
        { "short", no_argument, 0, 's' },       { "json", no_argument, 0, 'j' },
        { "file", required_argument, 0, 'f' },  { "size", required_argument, 0, 'S' },
        { "out", required_argument, 0, 'o' },   { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    static struct run r;
    int json = 0, c;
    const char *file = NULL, *out = NULL;
    uint64_t size = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OK;
        } else if (c == 's') {
            r.short_run = 1;
        } else if (c == 'j') {
            json = 1;
        } else if (c == 'f') {
            file = optarg;
        } else if (c == 'o') {
            if (!*optarg)
                return cli_error(CLI_USAGE, CMD, "--out needs a file name");
            out = optarg;
        } else if (c == 'S') {
            struct moetier_size sz;
            if (moetier_size_parse(optarg, 0, &sz) || sz.bytes < (1u << 20))
                return cli_error(CLI_USAGE, CMD, "bad --size '%s' (bytes, at least 1M, as 64M or 2G)", optarg);
            size = sz.bytes / 4096 * 4096;
        } else if (c == ':' || optopt) {
            return cli_error(CLI_USAGE, CMD, "option '%s' needs a value (see --help)", argv[optind - 1]);
        } else {
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind != argc)
        return cli_error(CLI_USAGE, CMD, "unexpected argument '%s' (see --help)", argv[optind]);
    char profile[PATH_MAX];
    if (out)
        snprintf(profile, sizeof profile, "%s", out);
    else if (default_profile(profile, sizeof profile))
        return cli_error(CLI_USAGE, CMD, "neither XDG_STATE_HOME nor HOME is set: say where with --out");

    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    r.cores = cores > 0 ? (int)cores : 1;
    r.o = (struct bench_opts){
        .threads = r.cores,
        .reps = r.short_run ? 5 : 7,
        .dram_bytes = r.short_run ? 128u << 20 : 1u << 30,
        .fault_bytes = r.short_run ? 16u << 20 : 64u << 20,
        .mprotect_rounds = r.short_run ? 200 : 2000,
        .pass_s = r.short_run ? 1.0 : 5.0,
    };
    /* the buffer must dwarf the caches (a server's L3 can pass 128 MiB) and fit in memory */
    r.llc_bytes = bench_llc_bytes();
    if (r.o.dram_bytes < 8 * r.llc_bytes)
        r.o.dram_bytes = (size_t)(8 * r.llc_bytes);
    struct moetier_meminfo mi;
    if (moetier_meminfo_read(&mi) == 0 && moetier_meminfo_base(&mi) / 4 < r.o.dram_bytes)
        r.o.dram_bytes = (size_t)(moetier_meminfo_base(&mi) / 4);
    size_t migrate_bytes = r.short_run ? 32u << 20 : 256u << 20;
    if (gethostname(r.host, sizeof r.host - 1))
        strcpy(r.host, "unknown");
    time_t now = time(NULL);
    strftime(r.time, sizeof r.time, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));

    bar.on = isatty(2) && !(json && !isatty(1));
    r.o.progress = progress_show;
    r.o.progress_arg = &bar;
    progress_show(file ? "opening the file" : "writing the test file", &bar);
    int fd = -1;
    int rc = file ? open_file(&r, file, size, &fd) : make_file(&r, size ? size : r.short_run ? 64u << 20 : 1u << 30, &fd);
    if (rc) {
        progress_end(&bar);
        return rc;
    }
    if (r.o.fault_bytes > r.file_bytes)
        r.o.fault_bytes = (size_t)(r.file_bytes / 4096 * 4096);

    rc = bench_mem_run(&r.o, r.o.fault_bytes ? fd : -1, &r.mem);
    if (rc == 0)
        rc = bench_tier_run(&r.o, fd, r.file_bytes, migrate_bytes, &r.tier);
    if (rc == 0) {
        struct bench_expert *ex;
        int k;
        size_t n = bench_exact_experts(file, r.file_bytes, &ex, &k, r.exact_src, sizeof r.exact_src);
        rc = bench_exact_run(&r.o, fd, r.file_bytes, ex, n, k, &r.exact);
        free(ex);
    }
    close(fd);
    progress_end(&bar);
    if (rc)
        return cli_error(CLI_FAIL, CMD, "%s", strerror(-rc));
    char why[PATH_MAX + 200];
    if ((rc = save_profile(profile, &r, why, sizeof why)) != 0)
        return cli_error(CLI_FAIL, CMD, "cannot write the profile %s: %s", profile, why[0] ? why : strerror(-rc));
    if (json)
        write_json(stdout, &r);
    else
        print_text(&r, profile);
    return CLI_OK;
}
