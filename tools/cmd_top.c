/*
 * moetier top: a live view of a moetier process, refreshed every interval.
 *
 *   moetier top [PID|SEGMENT] [--interval MS] [--iterations N]
 *
 * On a terminal (stdout a tty, TERM set and not "dumb") it takes the
 * alternate screen, hides the cursor and redraws in place until `q` (stdin in
 * non-canonical mode through termios), SIGINT, SIGTERM or SIGHUP; the terminal
 * is always restored on the way out, and around a suspend (SIGTSTP). Colour
 * only through cli_color (never with NO_COLOR). Elsewhere (a pipe, a file, a
 * dumb terminal) it prints plain snapshots, one per interval, with no escape
 * codes. --iterations ends it after N snapshots (the tests use it).
 *
 * Signal handlers only set flags; all terminal work happens in the main loop.
 * Exit: 0 (also when the process ends while watched); 1 no live process; 2
 * bad usage or a corrupt segment.
 */
#include "common/size.h"
#include "tools/cli.h"
#include "tools/proc_pick.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CMD "top"
#define N_HOTTEST 10

static volatile sig_atomic_t got_quit, got_winch, got_tstp;

static void on_quit(int sig)
{
    (void)sig;
    got_quit = 1;
}

static void on_winch(int sig)
{
    (void)sig;
    got_winch = 1;
}

static void on_tstp(int sig)
{
    (void)sig;
    got_tstp = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier top [PID|SEGMENT] [--interval MS] [--iterations N]\n"
            "\n"
            "Watches a live moetier process: tokens/s, per-layer hit rates (the share of\n"
            "sampled expert use served from DRAM), the hottest experts, residency and\n"
            "migrations. On a terminal the view refreshes in place until 'q' (or Ctrl-C);\n"
            "elsewhere, or with TERM=dumb, a plain snapshot is printed every interval.\n"
            "With no PID it picks the one moetier process of this user.\n"
            "\n"
            "options:\n"
            "  --interval MS     refresh period in milliseconds (default 1000, 50-3600000)\n"
            "  --iterations N    stop after N snapshots (default: until 'q' or a signal)\n"
            "  -h, --help        this text\n"
            "\n"
            "Colour only on a terminal and never with NO_COLOR.\n"
            "exit status: 0 success (also when the process ends), 1 no live process,\n"
            "2 bad usage or a corrupt segment.\n");
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- terminal ------------------------------------------------------------------ */

struct term {
    int screen;          /* redraw in place (a capable terminal) */
    int color;
    int raw;             /* stdin switched to non-canonical mode */
    int active;          /* alternate screen taken (term_enter without term_leave) */
    struct termios saved;
    int rows, cols;
};

static void term_size(struct term *t)
{
    struct winsize ws;
    t->rows = 24;
    t->cols = 80;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
        t->rows = ws.ws_row;
        t->cols = ws.ws_col;
    }
}

static void term_enter(struct term *t)
{
    if (!t->screen || t->active)
        return;
    t->active = 1;
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t->saved) == 0) {
        struct termios raw = t->saved;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw) == 0)
            t->raw = 1;
    }
    fputs("\033[?1049h\033[?25l", stdout); /* alternate screen, hide the cursor */
    fflush(stdout);
}

static void term_leave(struct term *t)
{
    if (!t->active)
        return;
    t->active = 0;
    fputs("\033[?25h\033[?1049l", stdout);
    fflush(stdout);
    if (t->raw)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
    t->raw = 0;
}

/* ---- one frame ----------------------------------------------------------------------- */

struct frame_state {
    int have_prev;
    uint64_t prev_mono, prev_decode, prev_promotions, prev_demotions;
};

/* Per-layer summary: share of the layer's rate mass served from DRAM (dram and
 * pinned fully, mixed half), experts in DRAM, mean and max rate, hottest expert. */
struct layer_sum {
    double hit, mean, max;
    unsigned dram, hottest;
};

static void summarize(const struct view *v, uint32_t l, struct layer_sum *s)
{
    double mass = 0, fast = 0;
    memset(s, 0, sizeof *s);
    for (uint32_t e = 0; e < v->n_experts; e++) {
        const struct view_expert *x = &v->experts[(size_t)l * v->n_experts + e];
        double r = x->rate;
        mass += r;
        if (x->tier == MOETIER_TIER_DRAM || x->tier == MOETIER_TIER_PINNED) {
            fast += r;
            s->dram++;
        } else if (x->tier == MOETIER_TIER_MIXED) {
            fast += r / 2;
        }
        if (r > s->max) {
            s->max = r;
            s->hottest = e;
        }
    }
    s->mean = v->n_experts ? mass / v->n_experts : 0;
    s->hit = mass > 0 ? fast / mass : 0;
}

/* Appends the frame to f; at most max_rows lines when max_rows > 0. */
static void render(FILE *f, const struct view *v, struct frame_state *st, int color, int max_rows, int cols)
{
    const struct moetier_stats_header *h = &v->snap.h;
    const char *bold = color ? "\033[1m" : "", *dim = color ? "\033[2m" : "", *off = color ? "\033[0m" : "";
    char a[32], b[32], t[40];
    uint64_t now = mono_ns();
    double dt = st->have_prev ? (double)(now - st->prev_mono) / 1e9 : 0;
    double tps = h->tok_per_s;
    if (tps <= 0 && dt > 0 && h->tokens_decode >= st->prev_decode)
        tps = (double)(h->tokens_decode - st->prev_decode) / dt;
    int rows = 0;

    fprintf(f, "%smoetier top%s  pid %d (%s)  %s  %s\n", bold, off, h->pid, h->comm[0] ? h->comm : "?",
            h->model[0] ? h->model : "(no model yet)", fmt_utc(h->update_ns, t, sizeof t));
    fprintf(f, "tokens     %.2f tok/s   decode %llu  prompt %llu  warm-up %llu\n", tps,
            (unsigned long long)h->tokens_decode, (unsigned long long)h->tokens_prompt,
            (unsigned long long)h->tokens_warmup);
    fprintf(f, "tiers      dram %s", moetier_size_format(h->dram_bytes, a, sizeof a));
    if (h->dram_budget)
        fprintf(f, " of %s (%.1f%%)", moetier_size_format(h->dram_budget, b, sizeof b),
                100.0 * (double)h->dram_bytes / (double)h->dram_budget);
    fprintf(f, "   slow %s (%s)\n", moetier_size_format(h->slow_bytes, a, sizeof a),
            h->slow_kind[0] ? h->slow_kind : "?");
    fprintf(f, "migrations promoted %llu (%s)  demoted %llu (%s)", (unsigned long long)h->promotions,
            moetier_size_format(h->bytes_promoted, a, sizeof a), (unsigned long long)h->demotions,
            moetier_size_format(h->bytes_demoted, b, sizeof b));
    if (dt > 0 && h->promotions >= st->prev_promotions && h->demotions >= st->prev_demotions)
        fprintf(f, "  (%.1f/s up, %.1f/s down)", (double)(h->promotions - st->prev_promotions) / dt,
                (double)(h->demotions - st->prev_demotions) / dt);
    fputc('\n', f);
    fprintf(f, "sampler    %s, %llu samples, %.1f ms spent   placement: %s\n", h->sampler[0] ? h->sampler : "off",
            (unsigned long long)h->samples, (double)h->sampler_ns / 1e6,
            h->placement[0] ? h->placement : "(not reported)");
    rows += 5;

    uint32_t idx[N_HOTTEST];
    size_t k = view_hottest(v, N_HOTTEST, idx);
    /* on a terminal, share the rows left between layers and hottest experts:
     * the hottest list gets at most a third (at least 3) when both do not fit */
    int layer_rows = (int)v->n_layers;
    if (max_rows > 0) {
        int avail = max_rows - rows - 2 - (k ? 2 : 0);
        if (avail < 0)
            avail = 0;
        if (layer_rows + (int)k > avail) {
            int hot = avail / 3 < 3 ? 3 : avail / 3;
            if ((size_t)hot < k)
                k = (size_t)hot;
            layer_rows = avail - (int)k - 1; /* one line for "... N more layers" */
            if (layer_rows < 0)
                layer_rows = 0;
            if (layer_rows > (int)v->n_layers)
                layer_rows = (int)v->n_layers;
        }
    }
    fprintf(f, "\n%s%7s %8s %7s %7s %7s %8s%s\n", bold, "layer", "in DRAM", "hit%", "mean", "max", "hottest", off);
    for (int r = 0; r < layer_rows; r++) {
        struct layer_sum s;
        summarize(v, (uint32_t)r, &s);
        char frac[24];
        snprintf(frac, sizeof frac, "%u/%u", s.dram, v->n_experts);
        fprintf(f, "%7d %8s %6.1f%% %7.4f %7.4f %8u", v->blocks[r], frac, 100 * s.hit, s.mean, s.max, s.hottest);
        /* a bar of the hit share, when there is room */
        int room = cols - 58;
        if (room >= 10) {
            int w = room > 30 ? 30 : room, fill = (int)(s.hit * w + 0.5);
            fputs("  ", f);
            for (int i = 0; i < w; i++)
                fputc(i < fill ? '#' : '.', f);
        }
        fputc('\n', f);
    }
    if (layer_rows < (int)v->n_layers)
        fprintf(f, "%s... %u more layers (a taller terminal shows them)%s\n", dim, v->n_layers - (unsigned)layer_rows,
                off);
    if (k) {
        fprintf(f, "\n%shottest experts%s\n", bold, off);
        for (size_t i = 0; i < k; i++) {
            const struct view_expert *x = &v->experts[idx[i]];
            fprintf(f, "  layer %5d  expert %5u  rate %6.4f  hits %10llu  %s\n", v->blocks[idx[i] / v->n_experts],
                    idx[i] % v->n_experts, (double)x->rate, (unsigned long long)x->hits, tier_name(x->tier));
        }
    }
    st->have_prev = 1;
    st->prev_mono = now;
    st->prev_decode = h->tokens_decode;
    st->prev_promotions = h->promotions;
    st->prev_demotions = h->demotions;
}

/* Writes buf to stdout from the top-left corner, each line cut at cols visible
 * characters (SGR sequences pass through uncounted) and ended with "clear to
 * end of line", so a long line never wraps and shifts the frame. */
static void draw_screen(const char *buf, size_t n, int cols)
{
    fputs("\033[H", stdout);
    int col = 0;
    for (size_t i = 0; i < n; i++) {
        char c = buf[i];
        if (c == '\n') {
            fputs("\033[K\n", stdout);
            col = 0;
        } else if (c == '\033') {
            /* copy the sequence up to its final byte */
            size_t j = i + 1;
            if (j < n && buf[j] == '[')
                for (j++; j < n && !(buf[j] >= 0x40 && buf[j] <= 0x7e); j++)
                    ;
            fwrite(buf + i, 1, j < n ? j - i + 1 : n - i, stdout);
            i = j < n ? j : n;
        } else if (col < cols) {
            fputc(c, stdout);
            col++;
        }
    }
    fputs("\033[J", stdout);
    fflush(stdout);
}

/* Waits up to ms for 'q' on a raw stdin or a signal; 1 = quit. */
static int wait_key(struct term *t, long ms)
{
    uint64_t end = mono_ns() + (uint64_t)ms * 1000000ull;
    for (;;) {
        if (got_quit)
            return 1;
        if (got_tstp || got_winch)
            return 0;
        uint64_t now = mono_ns();
        if (now >= end)
            return 0;
        int left = (int)((end - now + 999999) / 1000000);
        struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
        int r = poll(t->raw ? &p : NULL, t->raw ? 1 : 0, left);
        if (r > 0 && (p.revents & POLLIN)) {
            char c;
            ssize_t got = read(STDIN_FILENO, &c, 1);
            if (got == 1 && (c == 'q' || c == 'Q'))
                return 1;
            if (got == 0) /* stdin closed: keep refreshing without it */
                t->raw = 0;
        }
    }
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cmd_top(int argc, char **argv)
{
    static const struct option opts[] = {
        { "interval", required_argument, 0, 'i' },
        { "iterations", required_argument, 0, 'n' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    long interval = 1000, iterations = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(stdout);
            return CLI_OK;
        case 'i':
            if (parse_long(optarg, 50, 3600000, &interval))
                return cli_error(CLI_USAGE, CMD, "--interval '%s': not a period of 50-3600000 ms", optarg);
            break;
        case 'n':
            if (parse_long(optarg, 1, 1000000000L, &iterations))
                return cli_error(CLI_USAGE, CMD, "--iterations '%s': not a count of at least 1", optarg);
            break;
        case ':':
            return cli_error(CLI_USAGE, CMD, "%s needs a value", argv[optind - 1]);
        default:
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (moetier top --help)", argv[optind - 1]);
        }
    }
    if (argc - optind > 1)
        return cli_error(CLI_USAGE, CMD, "one process at a time ('%s' and '%s')", argv[optind], argv[optind + 1]);

    char path[1200];
    int rc = pick_path(CMD, optind < argc ? argv[optind] : NULL, 0, path, sizeof path);
    if (rc)
        return rc;
    struct view v;
    if ((rc = view_load_path(CMD, path, 0, &v)))
        return rc;

    struct term t;
    memset(&t, 0, sizeof t);
    const char *term = getenv("TERM");
    t.screen = isatty(STDOUT_FILENO) && term && *term && strcmp(term, "dumb") != 0;
    t.color = t.screen && cli_color(stdout);
    term_size(&t);

    struct sigaction sa, old_int, old_term, old_hup, old_winch, old_tstp;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_quit; /* no SA_RESTART: poll returns EINTR */
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, &old_winch);
    sa.sa_handler = on_tstp;
    sigaction(SIGTSTP, &sa, &old_tstp);
    term_enter(&t);

    struct frame_state st;
    memset(&st, 0, sizeof st);
    char err[1400] = "";
    int pid = v.snap.h.pid;
    long done = 0;
    int ended = 0;
    for (;;) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mf = open_memstream(&buf, &len);
        if (mf) {
            render(mf, &v, &st, t.color, t.screen ? t.rows - 1 : 0, t.screen ? t.cols : 80);
            fclose(mf);
        }
        view_free(&v);
        if (!mf || !buf) {
            snprintf(err, sizeof err, "out of memory");
            rc = CLI_FAIL;
            break;
        }
        if (t.screen) {
            draw_screen(buf, len, t.cols);
        } else {
            if (done)
                fputc('\n', stdout);
            fwrite(buf, 1, len, stdout);
            fflush(stdout);
        }
        free(buf);
        if (ferror(stdout)) {
            snprintf(err, sizeof err, "writing the output failed");
            rc = CLI_FAIL;
            break;
        }
        done++;
        if (iterations && done >= iterations)
            break;
        if (wait_key(&t, interval))
            break;
        if (got_tstp) {
            /* give the terminal back, stop for real, take it again on resume */
            got_tstp = 0;
            term_leave(&t);
            signal(SIGTSTP, SIG_DFL);
            raise(SIGTSTP);
            sigaction(SIGTSTP, &sa, NULL);
            term_enter(&t);
        }
        if (got_winch) {
            got_winch = 0;
            term_size(&t);
        }
        int r = view_read_segment(path, &v, err, sizeof err);
        if (r == -ENOENT) {
            ended = 1; /* the process ended: not an error */
            break;
        }
        if (r) {
            rc = view_read_code(r);
            break;
        }
    }
    /* messages only once the normal screen is back */
    term_leave(&t);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGWINCH, &old_winch, NULL);
    sigaction(SIGTSTP, &old_tstp, NULL);
    if (ended)
        fprintf(stderr, "moetier %s: process %d ended\n", CMD, pid);
    else if (rc)
        return cli_error(rc, CMD, "%s", err);
    return rc;
}
