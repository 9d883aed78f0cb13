/*
 * moetier run: runs a command under the moetier runtime.
 *
 *   moetier run [--dram SIZE] [--slow SPEC] ... [--] CMD [ARGS...]
 *
 * All it does is set the environment and exec (DESIGN.md §3: plain
 * LD_PRELOAD=libmoetier.so MOETIER_...=... works the same). Every flag maps
 * one-to-one onto a MOETIER_* variable through moetier_config_table's `flag`
 * field (common/config.c), so a variable added there becomes a flag here;
 * each value is validated with moetier_config_check before anything runs (a
 * bad one is exit 2 naming the flag). Relative paths given to --stats-dir,
 * --log-file and --profile are made absolute (the variables need absolute
 * paths, and the command may change directory).
 *
 * LD_PRELOAD gets the shim library prepended (kept once; an existing
 * LD_PRELOAD follows it). The library is, in order: $MOETIER_LIB; the build
 * tree's shim/.libs/libmoetier.so next to this binary when it runs from a
 * build tree (so a developer never gets a stale installed copy); the installed
 * $(pkglibdir)/libmoetier.so; the configured build tree's copy. A library that
 * does not exist is exit 1.
 *
 * After the exec the exit status is the command's. When the exec itself
 * fails, the status follows env(1) so it cannot be mistaken for the command's
 * own: 127 the command was not found, 126 it could not be run.
 */
#include "config.h"

#include "common/config.h"
#include "tiering/slow_arena.h"
#include "tools/cli.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CMD "run"

#ifndef MOETIER_PKGLIBDIR
#define MOETIER_PKGLIBDIR "/usr/local/lib/moetier"
#endif
#ifndef MOETIER_BUILD_SHIM
#define MOETIER_BUILD_SHIM ""
#endif
#define SHIM_NAME "libmoetier.so"

/* Variables that are switches: `--strict` alone means on (`--strict=off` too). */
static int is_switch(int var)
{
    return var == MOETIER_CFG_STRICT || var == MOETIER_CFG_DISABLE;
}

/* Variables whose value is a path that the runtime wants absolute. */
static int is_path(int var)
{
    return var == MOETIER_CFG_STATS_DIR || var == MOETIER_CFG_LOG_FILE || var == MOETIER_CFG_PROFILE ||
           var == MOETIER_CFG_MODEL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier run [OPTIONS] [--] CMD [ARGS...]\n"
            "\n"
            "Runs CMD with the moetier library preloaded (LD_PRELOAD) and the options\n"
            "below set as MOETIER_* environment variables; CMD's own options follow it\n"
            "untouched. Options not given keep their environment value or default\n"
            "(moetier doctor --config shows the effective configuration).\n"
            "\n"
            "options (each sets one variable):\n");
    for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
        const struct moetier_config_desc *d = &moetier_config_table[i];
        if (!d->flag)
            continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s", d->flag, is_switch(i) ? "" : " VALUE");
        fprintf(f, "  %-22s %s\n  %-22s   (%s; default %s)\n", left, d->help, "", d->name,
                d->deflt[0] ? d->deflt : "empty");
    }
    fprintf(f,
            "  -h, --help             this text\n"
            "\n"
            "The library is $MOETIER_LIB when set, else the one beside this moetier (a build\n"
            "tree's shim/.libs/libmoetier.so, or the installed %s/%s).\n"
            "\n"
            "exit status: CMD's; 1 the library is missing; 2 bad usage or a bad value\n"
            "(the message names the flag); 126 CMD could not be run; 127 CMD not found.\n",
            MOETIER_PKGLIBDIR, SHIM_NAME);
}

static int exists(const char *p)
{
    struct stat st;
    return p && *p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The shim library into buf; 0, or an exit code after a message. */
static int find_library(char *buf, size_t cap)
{
    const char *env = getenv("MOETIER_LIB");
    if (env && *env) {
        if (!exists(env))
            return cli_error(CLI_FAIL, CMD, "MOETIER_LIB=%s: no such library file", env);
        if (env[0] != '/') {
            char *abs = realpath(env, NULL);
            if (!abs)
                return cli_error(CLI_FAIL, CMD, "MOETIER_LIB=%s: %s", env, strerror(errno));
            snprintf(buf, cap, "%s", abs);
            free(abs);
        } else {
            snprintf(buf, cap, "%s", env);
        }
        return 0;
    }
    /* beside this binary: <build>/tools/moetier -> <build>/shim/.libs/libmoetier.so */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            /* libtool may run the real binary from tools/.libs */
            size_t len = strlen(exe);
            if (len >= 6 && strcmp(exe + len - 6, "/.libs") == 0)
                exe[len - 6] = '\0';
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof cand, "%s/../shim/.libs/%s", exe, SHIM_NAME);
            char *abs = realpath(cand, NULL);
            if (abs && exists(abs)) {
                snprintf(buf, cap, "%s", abs);
                free(abs);
                return 0;
            }
            free(abs);
        }
    }
    char inst[PATH_MAX];
    snprintf(inst, sizeof inst, "%s/%s", MOETIER_PKGLIBDIR, SHIM_NAME);
    if (exists(inst)) {
        snprintf(buf, cap, "%s", inst);
        return 0;
    }
    if (exists(MOETIER_BUILD_SHIM)) {
        snprintf(buf, cap, "%s", MOETIER_BUILD_SHIM);
        return 0;
    }
    return cli_error(CLI_FAIL, CMD,
                     "the moetier library %s was not found beside this binary, in %s%s%s; "
                     "build it (make) or set MOETIER_LIB",
                     SHIM_NAME, MOETIER_PKGLIBDIR, MOETIER_BUILD_SHIM[0] ? " or at " : "", MOETIER_BUILD_SHIM);
}

/* Is lib already one of LD_PRELOAD's entries (separated by spaces or colons)? */
static int preload_has(const char *list, const char *lib)
{
    size_t n = strlen(lib);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ':')
            p++;
        size_t len = strcspn(p, " :");
        if (len == n && strncmp(p, lib, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

int cmd_run(int argc, char **argv)
{
    struct option opts[MOETIER_CFG_COUNT + 2];
    int n_opts = 0;
    for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
        const char *flag = moetier_config_table[i].flag;
        if (!flag || strncmp(flag, "--", 2) != 0)
            continue;
        opts[n_opts].name = flag + 2;
        opts[n_opts].has_arg = is_switch(i) ? optional_argument : required_argument;
        opts[n_opts].flag = NULL;
        opts[n_opts].val = 1000 + i;
        n_opts++;
    }
    opts[n_opts++] = (struct option){ "help", no_argument, 0, 'h' };
    opts[n_opts] = (struct option){ 0, 0, 0, 0 };

    const char *values[MOETIER_CFG_COUNT] = { 0 };
    char *owned[MOETIER_CFG_COUNT] = { 0 };
    int c, rc = CLI_OK;
    optind = 1;
    opterr = 0;
    /* '+': stop at the first non-option, which is CMD */
    while ((c = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            goto out;
        }
        if (c == ':') {
            rc = cli_error(CLI_USAGE, CMD, "%s needs a value (moetier run --help)", argv[optind - 1]);
            goto out;
        }
        if (c < 1000 || c >= 1000 + MOETIER_CFG_COUNT) {
            rc = cli_error(CLI_USAGE, CMD, "unknown option '%s' (moetier run --help)", argv[optind - 1]);
            goto out;
        }
        int var = c - 1000;
        const char *val = optarg ? optarg : "1";
        const char *flag = moetier_config_table[var].flag;
        if (is_path(var) && val[0] && val[0] != '/' && !(var == MOETIER_CFG_PROFILE && strcmp(val, "off") == 0)) {
            char cwd[PATH_MAX];
            if (!getcwd(cwd, sizeof cwd)) {
                rc = cli_error(CLI_FAIL, CMD, "%s %s: cannot resolve the current directory: %s", flag, val,
                               strerror(errno));
                goto out;
            }
            free(owned[var]);
            size_t need = strlen(cwd) + strlen(val) + 2;
            owned[var] = malloc(need);
            if (!owned[var]) {
                rc = cli_error(CLI_FAIL, CMD, "out of memory");
                goto out;
            }
            snprintf(owned[var], need, "%s/%s", cwd, val);
            val = owned[var];
        }
        char err[400];
        if (moetier_config_check(var, val, err, sizeof err)) {
            rc = cli_error(CLI_USAGE, CMD, "%s: %s", flag, err);
            goto out;
        }
        values[var] = val;
    }
    if (optind >= argc) {
        rc = cli_error(CLI_USAGE, CMD, "which command? (moetier run [OPTIONS] -- CMD [ARGS...])");
        goto out;
    }

    char lib[PATH_MAX];
    if ((rc = find_library(lib, sizeof lib)))
        goto out;
    if (strpbrk(lib, " :")) {
        rc = cli_error(CLI_FAIL, CMD, "%s: LD_PRELOAD cannot hold a path with a space or a colon", lib);
        goto out;
    }

    for (int i = 0; i < MOETIER_CFG_COUNT; i++)
        if (values[i] && setenv(moetier_config_table[i].name, values[i], 1)) {
            rc = cli_error(CLI_FAIL, CMD, "setenv %s: %s", moetier_config_table[i].name, strerror(errno));
            goto out;
        }
    const char *old = getenv("LD_PRELOAD");
    if (!old || !*old) {
        setenv("LD_PRELOAD", lib, 1);
    } else if (!preload_has(old, lib)) {
        size_t need = strlen(lib) + strlen(old) + 2;
        char *both = malloc(need);
        if (!both) {
            rc = cli_error(CLI_FAIL, CMD, "out of memory");
            goto out;
        }
        snprintf(both, need, "%s:%s", lib, old);
        setenv("LD_PRELOAD", both, 1);
        free(both);
    }
    /* numa:N puts weight buffers in a jemalloc arena, loaded with dlopen: it
     * needs static TLS room that only a tunable set at start-up gives */
    const char *slow = getenv("MOETIER_SLOW");
    if (slow && strncmp(slow, "numa:", 5) == 0) {
        const char *t = getenv("GLIBC_TUNABLES");
        if (!t || !strstr(t, "optional_static_tls")) {
            size_t need = (t ? strlen(t) : 0) + sizeof MOETIER_SLOW_ARENA_TUNABLE + 2;
            char *v = malloc(need);
            if (v) {
                snprintf(v, need, "%s%s%s", t && *t ? t : "", t && *t ? ":" : "", MOETIER_SLOW_ARENA_TUNABLE);
                setenv("GLIBC_TUNABLES", v, 1);
                free(v);
            }
        }
    }
    fflush(NULL);
    execvp(argv[optind], argv + optind);
    int e = errno;
    rc = cli_error(e == ENOENT ? 127 : 126, CMD, "%s: %s", argv[optind], strerror(e));
out:
    for (int i = 0; i < MOETIER_CFG_COUNT; i++)
        free(owned[i]);
    return rc;
}
