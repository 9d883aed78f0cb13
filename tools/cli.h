/*
 * cli: conventions shared by every `moetier` subcommand.
 *
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage or bad input.
 * Colour only when the stream is a terminal and NO_COLOR is unset (or empty).
 * Errors are one line on stderr: "moetier CMD: what was wrong".
 */
#ifndef MOETIER_TOOLS_CLI_H
#define MOETIER_TOOLS_CLI_H

#include <stdio.h>

enum {
    CLI_OK = 0,
    CLI_FAIL = 1,
    CLI_USAGE = 2,
};

struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
};

/* Non-zero when colour may be used on f (a terminal and NO_COLOR unset). */
int cli_color(FILE *f);

/* "moetier CMD: message" on stderr; returns code for `return cli_error(...)`. */
int cli_error(int code, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* True if arg is -h or --help. */
int cli_is_help(const char *arg);

/* Every subcommand (tools/moetier.c). */
int cmd_inspect(int argc, char **argv);
int cmd_mkmoe(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_replay(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_heatmap(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_stage(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
