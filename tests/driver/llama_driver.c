/*
 * llama_driver: a small, real llama.cpp client for moetier's tests.
 *
 * It links the unmodified prebuilt llama.cpp libraries (deps/llama/lib), loads
 * a GGUF model, optionally feeds a text file one token per llama_decode
 * (teacher forcing: every layer computes every token), decodes a prompt and
 * greedily generates N tokens. It can record the true expert routing through
 * llama.cpp's eval callback (the `ffn_moe_topk-N` tensors) as a trace in the
 * format of ../shared/traces/README.md, report which buffer type each
 * expert tensor landed in (CPU_Mapped, CPU_REPACK, CPU, ...), and make the
 * model compute a real trace's experts (--route, tests/driver/route.c).
 *
 * Invariants:
 *  - Greedy decoding (argmax, lowest id on ties) and a fixed token count:
 *    the output depends only on the model, the options and the CPU backend
 *    variant, so two runs on one machine can be compared token by token.
 *  - Routing is recorded only while the driver's own decodes of the phases
 *    asked for run (`recording` is set around them); llama.cpp's library API
 *    runs no warm-up decode of its own (only common/ tools do), and every
 *    recorded topk tensor is checked to have n_expert_used columns, so a
 *    warm-up style all-experts graph could never slip into a trace.
 *  - Recorded decodes hold exactly one token, so every MoE layer computed
 *    that token (a multi-token batch computes only the output rows in the
 *    last layer) and each decode yields one complete trace line.
 *
 * Exit status: 0 success, 1 runtime failure, 2 bad usage.
 * docs/driver.md documents the options and output.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <link.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ggml.h>
#include <ggml-backend.h>
#include <llama.h>

#include "tests/driver/first_err.h"
#include "tests/driver/node_layer.h"
#include "tests/driver/route.h"

#define PROG "llama_driver"
#define DEFAULT_PROMPT "Once upon a time, in a small town by the sea,"
#define MAX_BUF_NAMES 64

enum phase { PH_FEED = 1, PH_PROMPT = 2, PH_GEN = 4, PH_ALL = 7 };

struct opts {
    const char *model;
    const char *prompt;
    const char *feed;
    const char *routing_out;
    const char *route;      /* --route FILE.trace: inject its routing */
    bool route_late;        /* --route-late: inject too late (the check's own test) */
    const char *backend_dir;
    int n_gen;
    long feed_max;
    int threads;
    int n_ctx;
    int n_gpu_layers;
    int load_mode;          /* enum llama_load_mode */
    int repack;             /* use_extra_bufts */
    int phases;             /* bit set of enum phase */
    const char *phase_name;
    bool prompt_single;
    bool stop_eog;
    bool quiet;
    bool verbose;
    bool buffers;
    bool check_routing;
    bool own_segv;          /* install a SIGSEGV handler of its own mid-run, then fault once */
    const char *stray_write; /* expert tensor to write one byte into at the end (a bug) */
};

/* One weight tensor seen as src[0] of a MUL_MAT_ID node (the experts). */
struct buf_note {
    char tensor[GGML_MAX_NAME];
    char buft[64];
    enum ggml_type type;
    void *data;             /* its bytes (CPU buffers), for --stray-write */
    size_t bytes;
};

/* Model buffer lines captured from llama.cpp's log. */
struct model_buf {
    char name[64];
    double mib;
};

struct driver {
    struct opts o;

    /* log capture */
    int last_level;
    char backend_path[512];
    char load_mode_used[32]; /* llama.cpp's "(load_mode = X)", AUTO resolved */
    struct model_buf mbufs[MAX_BUF_NAMES];
    int n_mbufs;

    /* routing */
    bool in_decode;         /* inside one of the driver's llama_decode calls */
    long nodes_outside;     /* graph nodes computed outside them (warm-up?) */
    bool recording;         /* set around recorded single-token decodes */
    int n_layer;            /* llama_model_n_layer */
    int n_expert, n_used;   /* from GGUF metadata */
    int32_t *cur;           /* [n_layer][n_used] of the current decode */
    float *scores;          /* [n_layer][n_expert] selection scores (--check-routing) */
    unsigned char *have_scores; /* [n_layer] */
    long n_checked;
    bool layout_shown;
    unsigned char *seen;    /* [n_layer] */
    int *moe_layers;        /* layer ids in order, fixed by the first decode */
    int n_moe;              /* -1 until the first recorded decode */
    FILE *body;             /* open_memstream of the trace lines */
    char *body_buf;
    size_t body_len;
    long n_lines;
    struct first_err rec;   /* first error seen inside the callback */

    /* --route */
    struct route route;
    int fail_rc;            /* exit status of a failure other than 1 */

    /* buffers */
    struct buf_note *notes;
    int n_notes, cap_notes;
};

/* ------------------------------------------------------------------ helpers */

/* Bytes this process has had read from storage so far (/proc/self/io
 * read_bytes: its page faults' and readaheads' reads, the kernel's own
 * read-around included), or -1: the feed's reads per token, without the
 * load's (the capped benchmarks). */
static long long read_bytes_now(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    long long v = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "read_bytes: %lld", &v) == 1)
            break;
    fclose(f);
    return v;
}

/* This process's major faults and CPU seconds (user, system) so far: where a
 * capped feed's time goes (a fault per page, the kernel's reclaim). */
static void usage_now(long *majflt, double *user, double *sys)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) {
        *majflt = -1;
        *user = *sys = 0;
        return;
    }
    *majflt = ru.ru_majflt;
    *user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6;
    *sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
    va_list ap;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Users run llama.cpp on every core: so do the tests, by default. */
static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n <= 1024 ? (int)n : 1;
}

static void usage(FILE *f)
{
    fputs(
"usage: " PROG " -m MODEL [options]\n"
"  -m, --model FILE        GGUF model (first file of a split model)\n"
"  -n, --n-predict N       tokens to generate greedily (default 16)\n"
"  -p, --prompt TEXT       prompt (default: \"" DEFAULT_PROMPT "\")\n"
"  -t, --threads N         threads (default: every online core, as users run llama.cpp)\n"
"  -c, --ctx-size N        context size (default: fed + prompt + generated + 16)\n"
"  -ngl, --n-gpu-layers N  layers to offload to a GPU backend, if any (default 0)\n"
"      --mmap              load_mode = mmap (map the GGUF; CPU tensors point into it)\n"
"      --no-mmap           load_mode = none (read the weights into allocated buffers)\n"
"      --load-mode MODE    auto|none|mmap|mlock|mmap+mlock|dio (default auto = mmap here)\n"
"      --repack            use_extra_bufts = true (llama.cpp's default)\n"
"      --no-repack         use_extra_bufts = false (no CPU_REPACK buffers)\n"
"      --feed FILE         before the prompt, feed FILE's text one token per decode\n"
"      --feed-max N        feed at most N tokens of it (BOS included)\n"
"      --prompt-single     decode the prompt one token per decode (default: one batch)\n"
"      --routing-out FILE  record the true expert routing (trace format)\n"
"      --routing-phase P   feed|prompt|gen|all: which decodes to record (default all;\n"
"                          the prompt is recorded only with --prompt-single)\n"
"      --stop-eog          stop generating at an end-of-generation token\n"
"      --own-segv-handler  after the feed, install a SIGSEGV handler of the driver's own\n"
"                          (as node/V8 do), and after generating, fault once on purpose\n"
"                          and recover through it (prints own_segv: caught N, and\n"
"                          own_segv_as_asked: whether its sa_mask, SA_ONSTACK and\n"
"                          SA_RESETHAND were honoured)\n"
"      --stray-write NAME  at the end, write one byte into expert tensor NAME, as a\n"
"                          buggy application might: where the weights are mapped\n"
"                          read-only this must die of SIGSEGV (prints stray_write: NAME)\n"
"      --buffers           print the buffer type of every expert tensor\n"
"      --backend-dir DIR   where the ggml backend .so files are (default: $LLAMA_LIBDIR,\n"
"                          else the directory of the loaded libllama)\n"
"      --check-routing     check each recorded choice against the router's scores\n"
"                          (ffn_moe_probs: the K ids must be the K best, best first)\n"
"      --route FILE.trace  in every single-token decode, replace each MoE layer's chosen\n"
"                          experts (ffn_moe_topk) with the trace's row for that token\n"
"                          (trace layer i = the i-th MoE layer; wraps around at its end);\n"
"                          checks that ffn_moe_weights = ffn_moe_probs at those ids and\n"
"                          prints 'route: N injections, M mismatches' (M > 0: exit 1)\n"
"      --route-late        with --route, inject only after ffn_moe_weights was gathered\n"
"                          (too late: tests that the check sees mismatches)\n"
"      --quiet             silence llama.cpp's log except errors\n"
"      --verbose           also print llama.cpp's debug log\n"
"  -h, --help              this text\n"
"stdout: 'tokens: ID ...' and 'text: ESCAPED' (and 'buffer:' lines with --buffers);\n"
"stderr: timings ('feed_tok_per_s: X', 'gen_tok_per_s: X', ...).\n"
"exit: 0 ok, 1 runtime failure, 2 bad usage\n", f);
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        err("%s: '%s' is not an integer in [%ld, %ld]", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_load_mode(const char *s)
{
    static const struct { const char *n; int m; } t[] = {
        { "auto", LLAMA_LOAD_MODE_AUTO }, { "none", LLAMA_LOAD_MODE_NONE },
        { "mmap", LLAMA_LOAD_MODE_MMAP }, { "mlock", LLAMA_LOAD_MODE_MLOCK },
        { "mmap+mlock", LLAMA_LOAD_MODE_MMAP_MLOCK }, { "dio", LLAMA_LOAD_MODE_DIRECT_IO },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(s, t[i].n))
            return t[i].m;
    return INT_MIN;
}

static const char *load_mode_str(int m)
{
    switch (m) {
    case LLAMA_LOAD_MODE_AUTO: return "auto";
    case LLAMA_LOAD_MODE_NONE: return "none";
    case LLAMA_LOAD_MODE_MMAP: return "mmap";
    case LLAMA_LOAD_MODE_MLOCK: return "mlock";
    case LLAMA_LOAD_MODE_MMAP_MLOCK: return "mmap+mlock";
    case LLAMA_LOAD_MODE_DIRECT_IO: return "dio";
    default: return "?";
    }
}

/* --own-segv-handler: an application's own SIGSEGV handling, as node/V8 have;
 * it must see exactly the faults that are its own. */
static sigjmp_buf own_segv_jmp;
static volatile sig_atomic_t own_segv_caught, own_segv_masked, own_segv_deferred, own_segv_onstack;
static char own_segv_stack[1 << 16];

/* Installed with sa_mask {SIGUSR2}, SA_ONSTACK and SA_RESETHAND: notes whether
 * it runs as the kernel runs such a handler (SIGUSR2 and SIGSEGV blocked, on
 * the alternate stack). */
static void own_segv_handler(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    sigset_t now;
    char here;
    pthread_sigmask(SIG_SETMASK, NULL, &now);
    own_segv_masked = sigismember(&now, SIGUSR2) == 1;
    own_segv_deferred = sigismember(&now, SIGSEGV) == 1;
    own_segv_onstack = &here >= own_segv_stack && &here < own_segv_stack + sizeof own_segv_stack;
    own_segv_caught++;
    siglongjmp(own_segv_jmp, 1);
}

static void own_segv_install(void)
{
    stack_t ss = { .ss_sp = own_segv_stack, .ss_size = sizeof own_segv_stack };
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = own_segv_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGSEGV, &sa, NULL);
}

/* Faults once on a PROT_NONE page of its own and recovers via its handler. */
static void own_segv_provoke(void)
{
    volatile char *p = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if ((void *)p == MAP_FAILED)
        return;
    if (sigsetjmp(own_segv_jmp, 1) == 0)
        (void)p[0];
    munmap((void *)p, 4096);
    printf("own_segv: caught %d\n", (int)own_segv_caught);
    struct sigaction now;
    sigaction(SIGSEGV, NULL, &now);
    int reset = now.sa_handler == SIG_DFL; /* Linux keeps SA_SIGINFO in the flags */
    printf("own_segv_as_asked: sa_mask %s, SIGSEGV blocked %s, alternate stack %s, reset %s\n",
           own_segv_masked ? "yes" : "no", own_segv_deferred ? "yes" : "no", own_segv_onstack ? "yes" : "no",
           reset ? "yes" : "no");
}

/* --stray-write: an application bug, one byte written into expert weights. */
static void stray_write(const struct driver *d)
{
    const struct buf_note *n = NULL;
    for (int i = 0; i < d->n_notes && !n; i++)
        if (!strcmp(d->notes[i].tensor, d->o.stray_write) && d->notes[i].data)
            n = &d->notes[i];
    if (!n) {
        printf("stray_write: no expert tensor %s in a CPU buffer\n", d->o.stray_write);
        return;
    }
    printf("stray_write: %s\n", n->tensor);
    fflush(stdout);
    volatile unsigned char *p = (unsigned char *)n->data + n->bytes / 2;
    *p = *p; /* read-only weights: SIGSEGV here */
    printf("stray_write: survived\n");
}

/* Returns 0, or 2 for bad usage (message printed), or -1 for --help. */
static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { O_MMAP = 256, O_NO_MMAP, O_LOAD_MODE, O_REPACK, O_NO_REPACK, O_FEED, O_FEED_MAX,
           O_ROUT, O_PHASE, O_PSINGLE, O_EOG, O_BUFFERS, O_BDIR, O_QUIET, O_NGL, O_VERBOSE,
           O_CHECK, O_OWN_SEGV, O_STRAY, O_ROUTE, O_ROUTE_LATE };
    static const struct option lo[] = {
        { "model", required_argument, 0, 'm' },
        { "n-predict", required_argument, 0, 'n' },
        { "prompt", required_argument, 0, 'p' },
        { "threads", required_argument, 0, 't' },
        { "ctx-size", required_argument, 0, 'c' },
        { "n-gpu-layers", required_argument, 0, O_NGL },
        { "ngl", required_argument, 0, O_NGL },
        { "mmap", no_argument, 0, O_MMAP },
        { "no-mmap", no_argument, 0, O_NO_MMAP },
        { "load-mode", required_argument, 0, O_LOAD_MODE },
        { "repack", no_argument, 0, O_REPACK },
        { "no-repack", no_argument, 0, O_NO_REPACK },
        { "feed", required_argument, 0, O_FEED },
        { "feed-max", required_argument, 0, O_FEED_MAX },
        { "routing-out", required_argument, 0, O_ROUT },
        { "routing-phase", required_argument, 0, O_PHASE },
        { "prompt-single", no_argument, 0, O_PSINGLE },
        { "stop-eog", no_argument, 0, O_EOG },
        { "buffers", no_argument, 0, O_BUFFERS },
        { "backend-dir", required_argument, 0, O_BDIR },
        { "quiet", no_argument, 0, O_QUIET },
        { "verbose", no_argument, 0, O_VERBOSE },
        { "check-routing", no_argument, 0, O_CHECK },
        { "own-segv-handler", no_argument, 0, O_OWN_SEGV },
        { "stray-write", required_argument, 0, O_STRAY },
        { "route", required_argument, 0, O_ROUTE },
        { "route-late", no_argument, 0, O_ROUTE_LATE },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    long v;
    int c;

    /* llama.cpp spells it -ngl: accept that single-dash long option too */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-ngl"))
            argv[i] = (char *)"--ngl";

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":m:n:p:t:c:h", lo, NULL)) != -1) {
        switch (c) {
        case 'm': o->model = optarg; break;
        case 'p': o->prompt = optarg; break;
        case 'n':
            if (parse_int("-n", optarg, 0, 1000000, &v)) return 2;
            o->n_gen = (int)v; break;
        case 't':
            if (parse_int("-t", optarg, 1, 1024, &v)) return 2;
            o->threads = (int)v; break;
        case 'c':
            if (parse_int("-c", optarg, 1, 1 << 24, &v)) return 2;
            o->n_ctx = (int)v; break;
        case O_NGL:
            if (parse_int("-ngl", optarg, -1, 100000, &v)) return 2;
            o->n_gpu_layers = (int)v; break;
        case O_MMAP: o->load_mode = LLAMA_LOAD_MODE_MMAP; break;
        case O_NO_MMAP: o->load_mode = LLAMA_LOAD_MODE_NONE; break;
        case O_LOAD_MODE:
            o->load_mode = parse_load_mode(optarg);
            if (o->load_mode == INT_MIN) {
                err("--load-mode: unknown mode '%s' (auto|none|mmap|mlock|mmap+mlock|dio)", optarg);
                return 2;
            }
            break;
        case O_REPACK: o->repack = 1; break;
        case O_NO_REPACK: o->repack = 0; break;
        case O_FEED: o->feed = optarg; break;
        case O_FEED_MAX:
            if (parse_int("--feed-max", optarg, 1, INT32_MAX / 2, &v)) return 2;
            o->feed_max = v; break;
        case O_ROUT: o->routing_out = optarg; break;
        case O_PHASE:
            if (!strcmp(optarg, "feed")) o->phases = PH_FEED;
            else if (!strcmp(optarg, "prompt")) o->phases = PH_PROMPT;
            else if (!strcmp(optarg, "gen")) o->phases = PH_GEN;
            else if (!strcmp(optarg, "all")) o->phases = PH_ALL;
            else {
                err("--routing-phase: '%s' is not feed, prompt, gen or all", optarg);
                return 2;
            }
            o->phase_name = optarg;
            break;
        case O_PSINGLE: o->prompt_single = true; break;
        case O_EOG: o->stop_eog = true; break;
        case O_BUFFERS: o->buffers = true; break;
        case O_BDIR: o->backend_dir = optarg; break;
        case O_QUIET: o->quiet = true; break;
        case O_VERBOSE: o->verbose = true; break;
        case O_CHECK: o->check_routing = true; break;
        case O_OWN_SEGV: o->own_segv = true; break;
        case O_STRAY: o->stray_write = optarg; break;
        case O_ROUTE: o->route = optarg; break;
        case O_ROUTE_LATE: o->route_late = true; break;
        case 'h': usage(stdout); return -1;
        case ':': err("option '%s' needs a value", argv[optind - 1]); return 2;
        default: err("unknown option '%s' (see --help)", argv[optind - 1]); return 2;
        }
    }
    if (optind < argc) {
        err("unexpected argument '%s' (see --help)", argv[optind]);
        return 2;
    }
    if (!o->model) {
        err("no model given (-m MODEL; see --help)");
        return 2;
    }
    if (o->phase_name && !o->routing_out) {
        err("--routing-phase needs --routing-out FILE");
        return 2;
    }
    if (o->routing_out && o->phases == PH_PROMPT && !o->prompt_single) {
        err("--routing-phase prompt needs --prompt-single (a batched prompt computes only "
            "the last token in the last layer)");
        return 2;
    }
    if (o->check_routing && !o->routing_out) {
        err("--check-routing needs --routing-out FILE");
        return 2;
    }
    if (o->route_late && !o->route) {
        err("--route-late needs --route FILE.trace");
        return 2;
    }
    if (o->check_routing && o->route) {
        err("--check-routing checks llama.cpp's own choice of experts, which --route replaces");
        return 2;
    }
    if (o->quiet && o->verbose) {
        err("--quiet and --verbose exclude each other");
        return 2;
    }
    if (o->feed_max && !o->feed) {
        err("--feed-max needs --feed FILE");
        return 2;
    }
    return 0;
}

/* ---------------------------------------------------------------- logging */

static void capture_log_line(struct driver *d, const char *text)
{
    const char *p;
    if ((p = strstr(text, "loaded CPU backend from ")) != NULL) {
        p += strlen("loaded CPU backend from ");
        size_t n = strcspn(p, "\n");
        if (n >= sizeof d->backend_path)
            n = sizeof d->backend_path - 1;
        memcpy(d->backend_path, p, n);
        d->backend_path[n] = '\0';
    } else if ((p = strstr(text, "(load_mode = ")) != NULL) {
        p += strlen("(load_mode = ");
        size_t n = strcspn(p, ")\n");
        if (n >= sizeof d->load_mode_used)
            n = sizeof d->load_mode_used - 1;
        memcpy(d->load_mode_used, p, n);
        d->load_mode_used[n] = '\0';
    } else if (strstr(text, " model buffer size = ") && d->n_mbufs < MAX_BUF_NAMES) {
        /* "load_tensors: %12s model buffer size = %8.2f MiB" */
        struct model_buf *b = &d->mbufs[d->n_mbufs];
        if (sscanf(text, "%*s %63s model buffer size = %lf", b->name, &b->mib) == 2)
            d->n_mbufs++;
    }
}

static void log_cb(enum ggml_log_level level, const char *text, void *ud)
{
    struct driver *d = ud;
    int eff = level;
    if (level == GGML_LOG_LEVEL_CONT)
        eff = d->last_level;
    else
        d->last_level = level;
    if (text)
        capture_log_line(d, text);
    if (d->o.quiet && eff < GGML_LOG_LEVEL_ERROR)
        return;
    if (!d->o.verbose && eff == GGML_LOG_LEVEL_DEBUG)
        return;
    if (text)
        fputs(text, stderr);
}

/* ----------------------------------------------------- backend directory */

struct find_lib { char path[PATH_MAX]; };

static int find_libllama_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    struct find_lib *f = data;
    (void)size;
    const char *name = info->dlpi_name;
    if (!name || !*name)
        return 0;
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (strncmp(base, "libllama", 8) || !strncmp(base, "libllama-common", 15))
        return 0;
    snprintf(f->path, sizeof f->path, "%s", name);
    return 1;
}

/* The directory to load ggml backends from: --backend-dir, $LLAMA_LIBDIR,
 * else the directory of the libllama this process loaded. */
static int backend_dir(const struct opts *o, char *out, size_t outsz)
{
    const char *env = getenv("LLAMA_LIBDIR");
    if (o->backend_dir) {
        snprintf(out, outsz, "%s", o->backend_dir);
        return 0;
    }
    if (env && *env) {
        snprintf(out, outsz, "%s", env);
        return 0;
    }
    struct find_lib f = { { 0 } };
    if (!dl_iterate_phdr(find_libllama_cb, &f))
        return -1;
    char *slash = strrchr(f.path, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    char real[PATH_MAX];
    snprintf(out, outsz, "%s", realpath(f.path, real) ? real : f.path);
    return 0;
}

/* ----------------------------------------------------------- eval callback */

static int topk_layer(const struct ggml_tensor *t)
{
    return node_layer(t, "ffn_moe_topk-");
}

/* The tensor the experts were selected from: llama.cpp names the router's
 * probabilities ffn_moe_probs-N and, where a bias or group mask applies,
 * the selection scores ffn_moe_probs_biased-N / ffn_moe_probs_masked-N
 * (later in the graph, so the last one seen before the topk wins). */
static int scores_layer(const struct ggml_tensor *t)
{
    int il = node_layer(t, "ffn_moe_probs-");
    if (il < 0)
        il = node_layer(t, "ffn_moe_probs_biased-");
    if (il < 0)
        il = node_layer(t, "ffn_moe_probs_masked-");
    return il;
}

static void note_buffer(struct driver *d, const struct ggml_tensor *w)
{
    for (int i = 0; i < d->n_notes; i++)
        if (!strcmp(d->notes[i].tensor, w->name))
            return;
    if (d->n_notes == d->cap_notes) {
        int cap = d->cap_notes ? 2 * d->cap_notes : 64;
        struct buf_note *n = realloc(d->notes, (size_t)cap * sizeof *n);
        if (!n)
            return;
        d->notes = n;
        d->cap_notes = cap;
    }
    struct buf_note *n = &d->notes[d->n_notes++];
    snprintf(n->tensor, sizeof n->tensor, "%s", w->name);
    const struct ggml_tensor *base = w->view_src ? w->view_src : w;
    snprintf(n->buft, sizeof n->buft, "%s",
             base->buffer ? ggml_backend_buffer_name(base->buffer) : "(none)");
    n->type = w->type;
    n->data = base->buffer && ggml_backend_buffer_is_host(base->buffer) ? w->data : NULL;
    n->bytes = ggml_nbytes(w);
}

/*
 * Called by ggml's scheduler for every graph node, first with ask=true (does
 * the user want this node's data?), then, for nodes it said yes to, with
 * ask=false once the data is computed. Returning false in the second call
 * would stop the graph, so it always returns true there.
 */
static bool eval_cb(struct ggml_tensor *t, bool ask, void *ud)
{
    struct driver *d = ud;
    int il;

    if (ask) {
        if (!d->in_decode)
            d->nodes_outside++;
        if ((d->o.buffers || d->o.stray_write) && t->op == GGML_OP_MUL_MAT_ID && t->src[0])
            note_buffer(d, t->src[0]);
        return (d->o.route && route_wants(&d->route, t)) ||
               (d->recording && (topk_layer(t) >= 0 || (d->o.check_routing && scores_layer(t) >= 0)));
    }
    /* before the recorder: it then records the routing the graph goes on with */
    if (d->o.route)
        route_node(&d->route, t);
    if (!d->recording || d->rec.code)
        return true;
    if (d->o.check_routing && (il = scores_layer(t)) >= 0) {
        if (il >= d->n_layer || t->type != GGML_TYPE_F32 || t->ne[0] != d->n_expert ||
            t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1) {
            first_err_set(&d->rec, 1, "%s: expected F32 [%d, 1], got %s [%" PRId64 ", %" PRId64 "]", t->name,
                     d->n_expert, ggml_type_name(t->type), t->ne[0], t->ne[1]);
            return true;
        }
        ggml_backend_tensor_get(t, d->scores + (size_t)il * (size_t)d->n_expert, 0,
                                (size_t)d->n_expert * sizeof(float));
        d->have_scores[il] = 1;
        return true;
    }
    if ((il = topk_layer(t)) < 0)
        return true;
    if (il >= d->n_layer) {
        first_err_set(&d->rec, 1, "%s: layer %d >= n_layer %d", t->name, il, d->n_layer);
        return true;
    }
    if (t->type != GGML_TYPE_I32 || t->ne[2] != 1 || t->ne[3] != 1) {
        first_err_set(&d->rec, 1, "%s: expected an I32 [k, n_tokens] tensor, got type %s ne=[%" PRId64
                 ",%" PRId64 ",%" PRId64 ",%" PRId64 "]", t->name, ggml_type_name(t->type),
                 t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
        return true;
    }
    if (t->ne[0] != d->n_used) {
        first_err_set(&d->rec, 1, "%s: %" PRId64 " experts selected, expert_used_count is %d "
                 "(a warm-up graph?)", t->name, t->ne[0], d->n_used);
        return true;
    }
    if (t->ne[1] != 1) {
        first_err_set(&d->rec, 1, "%s: %" PRId64 " tokens in a recorded decode (expected 1)", t->name, t->ne[1]);
        return true;
    }
    if (d->seen[il]) {
        first_err_set(&d->rec, 1, "%s: layer seen twice in one decode", t->name);
        return true;
    }
    if (!d->layout_shown) {
        d->layout_shown = true;
        fprintf(stderr, "topk_layout: %s %s ne=[%" PRId64 ",%" PRId64 "] nb=[%zu,%zu] view_of=%s\n",
                t->name, ggml_type_name(t->type), t->ne[0], t->ne[1], t->nb[0], t->nb[1],
                t->view_src ? t->view_src->name : "(none)");
    }
    int32_t *ids = d->cur + (size_t)il * (size_t)d->n_used;
    /* column 0 of a possibly non-contiguous view: offset 0 * nb[1] */
    ggml_backend_tensor_get(t, ids, 0, (size_t)d->n_used * sizeof(int32_t));
    for (int k = 0; k < d->n_used; k++) {
        if (ids[k] < 0 || ids[k] >= d->n_expert) {
            first_err_set(&d->rec, 1, "%s: expert id %d out of [0,%d)", t->name, ids[k], d->n_expert);
            return true;
        }
    }
    if (d->o.check_routing) {
        if (!d->have_scores[il]) {
            first_err_set(&d->rec, 1, "%s: no ffn_moe_probs tensor before it", t->name);
            return true;
        }
        const float *sc = d->scores + (size_t)il * (size_t)d->n_expert;
        float worst = INFINITY;
        for (int k = 0; k < d->n_used; k++) {
            for (int j = 0; j < k; j++)
                if (ids[j] == ids[k]) {
                    first_err_set(&d->rec, 1, "%s: expert %d chosen twice", t->name, ids[k]);
                    return true;
                }
            if (sc[ids[k]] > worst) {
                first_err_set(&d->rec, 1, "%s: ids not in descending score order", t->name);
                return true;
            }
            worst = sc[ids[k]];
        }
        for (int e = 0; e < d->n_expert; e++) {
            bool chosen = false;
            for (int k = 0; k < d->n_used; k++)
                chosen |= ids[k] == e;
            if (!chosen && sc[e] > worst) {
                first_err_set(&d->rec, 1, "%s: expert %d (score %g) beats chosen expert (score %g)",
                         t->name, e, (double)sc[e], (double)worst);
                return true;
            }
        }
        d->have_scores[il] = 0;
        d->n_checked++;
    }
    d->seen[il] = 1;
    return true;
}

/* After a recorded single-token decode: append one trace line. */
static int finish_recorded_token(struct driver *d)
{
    if (d->rec.code)
        return -1;
    if (d->n_moe < 0) {
        d->n_moe = 0;
        for (int il = 0; il < d->n_layer; il++)
            if (d->seen[il])
                d->moe_layers[d->n_moe++] = il;
        if (d->n_moe == 0) {
            first_err_set(&d->rec, 1, "no ffn_moe_topk tensors in the graph (not a MoE model?)");
            return -1;
        }
    }
    int n_seen = 0;
    for (int il = 0; il < d->n_layer; il++)
        n_seen += d->seen[il];
    for (int i = 0; i < d->n_moe; i++) {
        if (!d->seen[d->moe_layers[i]] || n_seen != d->n_moe) {
            first_err_set(&d->rec, 1, "token %ld: the set of MoE layers changed (%d seen, %d expected)",
                     d->n_lines, n_seen, d->n_moe);
            return -1;
        }
    }
    for (int i = 0; i < d->n_moe; i++) {
        const int32_t *ids = d->cur + (size_t)d->moe_layers[i] * (size_t)d->n_used;
        if (i)
            fputc(' ', d->body);
        for (int k = 0; k < d->n_used; k++)
            fprintf(d->body, k ? ",%d" : "%d", ids[k]);
    }
    fputc('\n', d->body);
    memset(d->seen, 0, (size_t)d->n_layer);
    d->n_lines++;
    return 0;
}

/* ----------------------------------------------------------------- model */

static int meta_int(const struct llama_model *m, const char *arch, const char *key, long *out)
{
    char k[256], v[64];
    snprintf(k, sizeof k, "%s.%s", arch, key);
    if (llama_model_meta_val_str(m, k, v, sizeof v) < 0)
        return -1;
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v)
        return -1;
    *out = x;
    return 0;
}

/* Base name without ".gguf" and without a "-0000N-of-0000M" split suffix;
 * whitespace and '=' become '_' so it stays one header word. */
static void model_name(const char *path, char *out, size_t outsz)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, outsz, "%s", b);
    size_t n = strlen(out);
    if (n > 5 && !strcmp(out + n - 5, ".gguf"))
        out[n -= 5] = '\0';
    if (n > 15) {
        char *s = out + n - 15; /* "-00001-of-00003" */
        if (s[0] == '-' && isdigit((unsigned char)s[1]) && !strncmp(s + 6, "-of-", 4))
            *s = '\0';
    }
    for (char *p = out; *p; p++)
        if (isspace((unsigned char)*p) || *p == '=')
            *p = '_';
    if (!*out)
        snprintf(out, outsz, "model");
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) {
            if (ferror(f)) {
                free(buf);
                buf = NULL;
            }
            break;
        }
        char *nb = realloc(buf, 2 * cap + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int e = errno;
    fclose(f);
    if (!buf) {
        errno = e ? e : ENOMEM;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

static llama_token *tokenize(const struct llama_vocab *v, const char *text, size_t len,
                             bool add_special, int *n_out)
{
    if (len > (size_t)INT32_MAX / 2)
        return NULL;
    int cap = (int)len + 16;
    llama_token *t = malloc((size_t)cap * sizeof *t);
    if (!t)
        return NULL;
    int n = llama_tokenize(v, text, (int32_t)len, t, cap, add_special, false);
    if (n < 0 && n != INT32_MIN) {
        cap = -n;
        llama_token *nt = realloc(t, (size_t)cap * sizeof *t);
        if (!nt) {
            free(t);
            return NULL;
        }
        t = nt;
        n = llama_tokenize(v, text, (int32_t)len, t, cap, add_special, false);
    }
    if (n < 0) {
        free(t);
        return NULL;
    }
    *n_out = n;
    return t;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), else 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp;
    if (s[0] < 0x80)
        return 1;
    else if ((s[0] & 0xe0) == 0xc0) { len = 2; cp = s[0] & 0x1f; }
    else if ((s[0] & 0xf0) == 0xe0) { len = 3; cp = s[0] & 0x0f; }
    else if ((s[0] & 0xf8) == 0xf0) { len = 4; cp = s[0] & 0x07; }
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* One line whatever the bytes: \\ \n \r \t, other control bytes and bytes
 * that are not valid UTF-8 as \xHH; valid UTF-8 is kept. */
static void print_escaped(FILE *f, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t l = utf8_len(s + i, n - i);
        if (l > 1) {
            fwrite(s + i, 1, l, f);
            i += l;
            continue;
        }
        switch (c) {
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (c < 0x20 || c == 0x7f || l == 0)
                fprintf(f, "\\x%02x", c);
            else
                fputc(c, f);
        }
        i++;
    }
}

static llama_token argmax(const float *logits, int n_vocab)
{
    int best = 0;
    for (int i = 1; i < n_vocab; i++)
        if (logits[i] > logits[best])
            best = i;
    return best;
}

/* One llama_decode of n tokens; recorded (and checked) when rec is set. */
static int decode(struct driver *d, struct llama_context *ctx, llama_token *toks, int n, bool rec)
{
    struct llama_batch b = llama_batch_get_one(toks, n);
    d->in_decode = true;
    d->recording = rec;
    if (d->o.route)
        route_begin(&d->route, n);
    int rc = llama_decode(ctx, b);
    int rrc = d->o.route ? route_end(&d->route) : 0;
    d->recording = false;
    d->in_decode = false;
    if (rrc) {
        err("--route %s: %s", d->o.route, d->route.err.msg);
        d->fail_rc = rrc;
        return -1;
    }
    if (rc != 0) {
        err("llama_decode failed (%d)", rc);
        return -1;
    }
    if (rec && finish_recorded_token(d)) {
        err("routing: %s", d->rec.msg);
        return -1;
    }
    return 0;
}

static const char *phase_header(const struct opts *o)
{
    return o->phase_name ? o->phase_name : "all";
}

static int write_trace(struct driver *d, const char *mname, int n_fed)
{
    if (fflush(d->body) || ferror(d->body)) {
        err("routing: out of memory buffering the trace");
        return -1;
    }
    FILE *f = fopen(d->o.routing_out, "w");
    if (!f) {
        err("cannot write %s: %s", d->o.routing_out, strerror(errno));
        return -1;
    }
    const struct opts *o = &d->o;
    fprintf(f, "# model=%s layers=%d experts=%d topk=%d source=llama_driver phase=%s tokens=%ld "
            "order=llama load_mode=%s repack=%s prompt=%s fed=%d moe_layers=",
            mname, d->n_moe < 0 ? 0 : d->n_moe, d->n_expert, d->n_used, phase_header(o),
            d->n_lines, d->load_mode_used[0] ? d->load_mode_used : load_mode_str(o->load_mode),
            o->repack ? "on" : "off",
            o->prompt_single ? "single" : "batch", n_fed);
    for (int i = 0; i < d->n_moe; i++)
        fprintf(f, i ? ",%d" : "%d", d->moe_layers[i]);
    if (d->n_moe <= 0)
        fputs("none", f);
    fputc('\n', f);
    if (d->body_len)
        fwrite(d->body_buf, 1, d->body_len, f);
    if (ferror(f) | (fclose(f) != 0)) {
        err("error writing %s", d->o.routing_out);
        return -1;
    }
    return 0;
}

static void print_buffers(struct driver *d)
{
    for (int i = 0; i < d->n_mbufs; i++)
        printf("model_buffer: %s %.2f MiB\n", d->mbufs[i].name, d->mbufs[i].mib);
    for (int i = 0; i < d->n_notes; i++)
        printf("buffer: %s %s %s\n", d->notes[i].tensor, ggml_type_name(d->notes[i].type),
               d->notes[i].buft);
    /* summary: distinct (type, buffer) pairs of the expert tensors */
    printf("expert_buffers:");
    for (int i = 0; i < d->n_notes; i++) {
        bool dup = false;
        for (int j = 0; j < i && !dup; j++)
            dup = d->notes[j].type == d->notes[i].type && !strcmp(d->notes[j].buft, d->notes[i].buft);
        if (!dup)
            printf(" %s=%s", ggml_type_name(d->notes[i].type), d->notes[i].buft);
    }
    if (!d->n_notes)
        printf(" none-seen");
    putchar('\n');
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    static struct driver drv;
    struct driver *d = &drv;
    struct opts *o = &d->o;
    struct llama_model *model = NULL;
    struct llama_context *ctx = NULL;
    char *feed_text = NULL;
    llama_token *feed = NULL, *prompt = NULL, *gen = NULL;
    int n_feed = 0, n_prompt = 0, n_gen = 0;
    int rc = 1;

    o->n_gen = 16;
    o->prompt = DEFAULT_PROMPT;
    o->threads = online_cores();
    o->load_mode = LLAMA_LOAD_MODE_AUTO;
    o->repack = 1;
    o->phases = PH_ALL;
    d->n_moe = -1;
    d->last_level = GGML_LOG_LEVEL_INFO;

    int prc = parse_args(argc, argv, o);
    if (prc == -1)
        return 0;
    if (prc)
        return 2;

    if (o->feed) {
        size_t len;
        feed_text = read_file(o->feed, &len);
        if (!feed_text) {
            err("cannot read --feed %s: %s", o->feed, strerror(errno));
            return 1;
        }
    }

    llama_log_set(log_cb, d);

    char dir[PATH_MAX];
    if (backend_dir(o, dir, sizeof dir)) {
        err("cannot tell where the ggml backends are: give --backend-dir DIR or set LLAMA_LIBDIR");
        goto out;
    }
    ggml_backend_load_all_from_path(dir);
    if (!ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU)) {
        err("no CPU backend could be loaded from %s", dir);
        goto out;
    }
    llama_backend_init();
    fprintf(stderr, "backend_dir: %s\n", dir);
    if (d->backend_path[0])
        fprintf(stderr, "cpu_backend: %s\n", d->backend_path);

    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = o->n_gpu_layers;
    mp.load_mode = (enum llama_load_mode)o->load_mode;
    mp.use_extra_bufts = o->repack != 0;

    double t0 = now_s();
    model = llama_model_load_from_file(o->model, mp);
    if (!model) {
        err("cannot load model %s", o->model);
        goto out;
    }
    double t_load = now_s() - t0;
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    int n_vocab = llama_vocab_n_tokens(vocab);

    /* tokenize: the feed opens the sequence (with BOS), the prompt continues it */
    if (feed_text) {
        feed = tokenize(vocab, feed_text, strlen(feed_text), true, &n_feed);
        if (!feed) {
            err("cannot tokenize %s", o->feed);
            goto out;
        }
        if (o->feed_max && n_feed > o->feed_max)
            n_feed = (int)o->feed_max;
    }
    prompt = tokenize(vocab, o->prompt, strlen(o->prompt), n_feed == 0, &n_prompt);
    if (!prompt) {
        err("cannot tokenize the prompt");
        goto out;
    }
    if (n_feed + n_prompt == 0 && o->n_gen > 0) {
        err("nothing to decode: the prompt is empty and the model adds no BOS");
        goto out;
    }

    long need = (long)n_feed + n_prompt + o->n_gen; /* every token is decoded once */
    if (o->n_ctx && o->n_ctx < need) {
        err("-c %d is too small: %d fed + %d prompt + %d generated tokens need %ld",
            o->n_ctx, n_feed, n_prompt, o->n_gen, need);
        rc = 2;
        goto out;
    }

    bool routing = o->routing_out != NULL;
    if (routing || o->route) {
        char arch[128] = "";
        long ne = 0, nu = 0;
        if (llama_model_meta_val_str(model, "general.architecture", arch, sizeof arch) < 0 ||
            meta_int(model, arch, "expert_count", &ne) || meta_int(model, arch, "expert_used_count", &nu) ||
            ne <= 0 || nu <= 0 || nu > ne || ne > 1 << 20) {
            err("%s: %s is not a MoE model (no usable %s.expert_count/expert_used_count)",
                routing ? "--routing-out" : "--route", o->model, arch);
            if (!routing)
                rc = 2;
            goto out;
        }
        d->n_expert = (int)ne;
        d->n_used = (int)nu;
        d->n_layer = llama_model_n_layer(model);
        if (d->n_layer <= 0) {
            err("model has %d layers", d->n_layer);
            goto out;
        }
    }
    d->route.late = o->route_late;
    if (o->route && (rc = route_open(&d->route, o->route, d->n_layer, d->n_expert, d->n_used))) {
        err("--route %s", d->route.err.msg);
        goto out;
    }
    rc = 1;
    if (routing) {
        d->cur = calloc((size_t)d->n_layer * (size_t)d->n_used, sizeof *d->cur);
        d->seen = calloc((size_t)d->n_layer, 1);
        d->moe_layers = calloc((size_t)d->n_layer, sizeof *d->moe_layers);
        d->scores = calloc((size_t)d->n_layer * (size_t)d->n_expert, sizeof *d->scores);
        d->have_scores = calloc((size_t)d->n_layer, 1);
        d->body = open_memstream(&d->body_buf, &d->body_len);
        if (!d->cur || !d->seen || !d->moe_layers || !d->scores || !d->have_scores || !d->body) {
            err("out of memory");
            goto out;
        }
    }

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(o->n_ctx ? o->n_ctx : need + 16);
    cp.n_batch = (uint32_t)(n_prompt > 32 ? n_prompt : 32);
    cp.n_ubatch = cp.n_batch > 512 ? 512 : cp.n_batch;
    cp.n_seq_max = 1;
    cp.n_threads = o->threads;
    cp.n_threads_batch = o->threads;
    cp.no_perf = false;
    if (routing || o->route || o->buffers || o->stray_write) {
        cp.cb_eval = eval_cb;
        cp.cb_eval_user_data = d;
    }
    ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        err("cannot create a llama context (n_ctx %u)", cp.n_ctx);
        goto out;
    }

    fprintf(stderr, "load_mode: %s\nrepack: %s\nload_s: %.3f\n",
            d->load_mode_used[0] ? d->load_mode_used : load_mode_str(o->load_mode),
            o->repack ? "on" : "off", t_load);

    /* feed */
    double t_feed = 0;
    long long feed_io = -1, feed_io_half = -1;
    long feed_majflt = -1;
    double feed_user = 0, feed_sys = 0;
    if (n_feed) {
        bool rec = routing && (o->phases & PH_FEED);
        long long io0 = read_bytes_now(), io_half = -1;
        long mf0, mf1;
        double u0, s0, u1, s1;
        usage_now(&mf0, &u0, &s0);
        t0 = now_s();
        for (int i = 0; i < n_feed; i++) {
            if (i == n_feed / 2)
                io_half = read_bytes_now();
            if (decode(d, ctx, &feed[i], 1, rec))
                goto out;
        }
        t_feed = now_s() - t0;
        usage_now(&mf1, &u1, &s1);
        if (mf0 >= 0 && mf1 >= mf0) {
            feed_majflt = mf1 - mf0;
            feed_user = u1 - u0;
            feed_sys = s1 - s0;
        }
        long long io1 = read_bytes_now();
        if (io0 >= 0 && io1 >= io0)
            feed_io = io1 - io0;
        if (io_half >= 0 && io1 >= io_half)
            feed_io_half = io1 - io_half;
    }

    /* prompt */
    double t_prompt = 0;
    long prompt_majflt = -1;
    if (n_prompt) {
        bool rec = routing && (o->phases & PH_PROMPT) && o->prompt_single;
        long mf0, mf1;
        double u, s;
        usage_now(&mf0, &u, &s);
        t0 = now_s();
        if (o->prompt_single) {
            for (int i = 0; i < n_prompt; i++)
                if (decode(d, ctx, &prompt[i], 1, rec))
                    goto out;
        } else if (decode(d, ctx, prompt, n_prompt, false)) {
            goto out;
        }
        t_prompt = now_s() - t0;
        usage_now(&mf1, &u, &s);
        if (mf0 >= 0 && mf1 >= 0)
            prompt_majflt = mf1 - mf0;
    }

    /* generate: sample from the last logits, decode the token (recorded) */
    gen = malloc(((size_t)o->n_gen + 1) * sizeof *gen);
    if (!gen) {
        err("out of memory");
        goto out;
    }
    double t_gen = 0;
    {
        bool rec = routing && (o->phases & PH_GEN);
        if (o->own_segv)
            own_segv_install();
        t0 = now_s();
        for (int i = 0; i < o->n_gen; i++) {
            const float *logits = llama_get_logits_ith(ctx, -1);
            if (!logits) {
                err("no logits after decode");
                goto out;
            }
            llama_token tok = argmax(logits, n_vocab);
            gen[n_gen++] = tok;
            if (o->stop_eog && llama_vocab_is_eog(vocab, tok))
                break;
            if (decode(d, ctx, &gen[n_gen - 1], 1, rec))
                goto out;
        }
        t_gen = now_s() - t0;
    }

    /* output */
    printf("tokens:");
    for (int i = 0; i < n_gen; i++)
        printf(" %d", gen[i]);
    putchar('\n');
    {
        int cap = n_gen * 32 + 64;
        char *text = malloc((size_t)cap);
        int n = text ? llama_detokenize(vocab, gen, n_gen, text, cap, false, true) : -1;
        if (n < 0 && text) {
            char *nt = realloc(text, (size_t)(-n) + 1);
            if (nt) {
                text = nt;
                n = llama_detokenize(vocab, gen, n_gen, text, -n, false, true);
            }
        }
        printf("text: ");
        if (n > 0)
            print_escaped(stdout, text, (size_t)n);
        putchar('\n');
        free(text);
    }
    if (o->buffers)
        print_buffers(d);
    if (o->own_segv)
        own_segv_provoke();
    if (o->stray_write)
        stray_write(d);

    fprintf(stderr, "feed_tokens: %d\nfeed_s: %.3f\nfeed_tok_per_s: %.2f\n", n_feed, t_feed,
            t_feed > 0 ? n_feed / t_feed : 0.0);
    if (feed_io >= 0)
        fprintf(stderr, "feed_read_bytes: %lld\n", feed_io);
    if (feed_io_half >= 0) /* the feed's second half (tokens n/2..n-1): the cache warm, the start left out */
        fprintf(stderr, "feed_read_bytes_second_half: %lld\n", feed_io_half);
    if (feed_majflt >= 0) /* all threads: CPU seconds can exceed feed_s */
        fprintf(stderr, "feed_major_faults: %ld\nfeed_user_s: %.3f\nfeed_sys_s: %.3f\n", feed_majflt, feed_user,
                feed_sys);
    fprintf(stderr, "prompt_tokens: %d\nprompt_s: %.3f\nprompt_tok_per_s: %.2f\n", n_prompt, t_prompt,
            t_prompt > 0 ? n_prompt / t_prompt : 0.0);
    if (prompt_majflt >= 0) /* the prompt's pages read one fault at a time */
        fprintf(stderr, "prompt_major_faults: %ld\n", prompt_majflt);
    fprintf(stderr, "gen_tokens: %d\ngen_s: %.3f\ngen_tok_per_s: %.2f\n", n_gen, t_gen,
            t_gen > 0 ? n_gen / t_gen : 0.0);

    if (routing) {
        char mname[256];
        model_name(o->model, mname, sizeof mname);
        if (write_trace(d, mname, n_feed))
            goto out;
        fprintf(stderr, "routing_tokens: %ld\n", d->n_lines);
        if (o->check_routing)
            fprintf(stderr, "routing_checked: %ld\n", d->n_checked);
    }
    if (cp.cb_eval)
        fprintf(stderr, "graph_nodes_outside_decode: %ld\n", d->nodes_outside);
    if (o->route) {
        route_report(&d->route, stderr);
        if (d->route.mismatches || d->route.unverified) {
            err("--route: the injected ids did not take (see the route: line)");
            goto out;
        }
    }
    if (fflush(stdout) || ferror(stdout)) {
        err("error writing stdout");
        goto out;
    }
    rc = 0;

out:
    if (rc == 1 && d->fail_rc)
        rc = d->fail_rc;
    if (ctx)
        llama_free(ctx);
    if (model)
        llama_model_free(model);
    if (d->body)
        fclose(d->body);
    free(d->body_buf);
    free(d->cur);
    free(d->seen);
    free(d->moe_layers);
    free(d->scores);
    free(d->have_scores);
    free(d->notes);
    if (o->route)
        route_close(&d->route);
    free(gen);
    free(prompt);
    free(feed);
    free(feed_text);
    return rc;
}
