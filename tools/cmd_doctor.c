/*
 * moetier doctor: checks of this machine and configuration.
 *
 *   moetier doctor --config [--json]
 *
 * --config prints every variable of moetier_config_table (common/config.c)
 * with the value the runtime would use (moetier_config_load from this
 * environment), where it came from (default, env, or "env (invalid, default
 * used)" with the reason), its `moetier run` flag and its help text. The
 * runtime's own warnings are not repeated on stderr: the report says it all.
 *
 * Exit 0; 2 for bad usage, or when MOETIER_STRICT is on and a value is bad
 * (the runtime would refuse to start: the message names the value). The
 * system checks (tiers, limits) are not written yet: plain `moetier doctor`
 * says so (exit 2) and points at --config.
 */
#include "common/config.h"
#include "common/json.h"
#include "common/log.h"
#include "tools/cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "doctor"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier doctor --config [--json]\n"
            "\n"
            "  --config   every MOETIER_* variable: its effective value (from this\n"
            "             environment), its source (default, env, or env (invalid,\n"
            "             default used) with the reason), its moetier run flag and\n"
            "             what it does\n"
            "  --json     one JSON object (fields: docs/tools.md)\n"
            "  -h, --help this text\n"
            "\n"
            "exit status: 0 success; 2 bad usage, or MOETIER_STRICT on and a bad value\n"
            "(the runtime would refuse to start; the message names the value).\n");
}

static const char *shown(const char *v)
{
    return v && *v ? v : "\"\"";
}

int cmd_doctor(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", no_argument, 0, 'c' },
        { "json", no_argument, 0, 'j' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
    };
    int config = 0, json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return CLI_OK;
        } else if (c == 'c') {
            config = 1;
        } else if (c == 'j') {
            json = 1;
        } else {
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (moetier doctor --help)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_error(CLI_USAGE, CMD, "unexpected argument '%s' (moetier doctor --help)", argv[optind]);
    if (!config)
        return cli_error(CLI_USAGE, CMD, "the system checks are not written yet; moetier doctor --config "
                                         "shows the configuration");

    /* the report shows every bad value itself: keep the loader's warnings quiet */
    moetier_log_setup(MOETIER_LOG_ERROR, STDERR_FILENO);
    struct moetier_config cfg;
    char first[400];
    int bad = moetier_config_load(&cfg, NULL, first, sizeof first);

    char buf[MOETIER_PATH_MAX + 64], why[400];
    if (json) {
        struct json j;
        json_init(&j, stdout, 0);
        json_obj_begin(&j);
        json_key(&j, "schema"), json_int(&j, 1);
        json_key(&j, "strict"), json_bool(&j, cfg.strict);
        json_key(&j, "invalid"), json_int(&j, bad);
        json_key(&j, "variables");
        json_arr_begin(&j);
        for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
            const struct moetier_config_desc *d = &moetier_config_table[i];
            const char *env = getenv(d->name);
            json_obj_begin(&j);
            json_key(&j, "name"), json_str(&j, d->name);
            json_key(&j, "flag"), json_str(&j, d->flag);
            json_key(&j, "value"), json_str(&j, moetier_config_value(&cfg, i, buf, sizeof buf));
            json_key(&j, "source"), json_str(&j, moetier_config_source_name(cfg.source[i]));
            json_key(&j, "env"), json_str(&j, env);
            json_key(&j, "error");
            if (cfg.source[i] == MOETIER_SRC_INVALID && env && moetier_config_check(i, env, why, sizeof why))
                json_str(&j, why);
            else
                json_null(&j);
            json_key(&j, "default"), json_str(&j, d->deflt);
            json_key(&j, "help"), json_str(&j, d->help);
            json_obj_end(&j);
        }
        json_arr_end(&j);
        json_obj_end(&j);
        json_finish(&j);
    } else {
        printf("%-22s %-18s %s\n", "VARIABLE", "VALUE", "SOURCE");
        for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
            const struct moetier_config_desc *d = &moetier_config_table[i];
            const char *env = getenv(d->name);
            printf("%-22s %-18s %s\n", d->name, shown(moetier_config_value(&cfg, i, buf, sizeof buf)),
                   moetier_config_source_name(cfg.source[i]));
            if (cfg.source[i] == MOETIER_SRC_INVALID && env && moetier_config_check(i, env, why, sizeof why))
                printf("    rejected: %s\n", why);
            printf("    %s%s%s\n", d->help, d->flag ? "; moetier run " : "", d->flag ? d->flag : "");
        }
        if (bad)
            printf("\n%d invalid value%s: the defaults are in force for %s.\n", bad, bad == 1 ? "" : "s",
                   bad == 1 ? "it" : "them");
    }
    if (fflush(stdout) || ferror(stdout))
        return cli_error(CLI_FAIL, CMD, "writing the output failed");
    if (bad && cfg.strict)
        return cli_error(CLI_USAGE, CMD, "%s (MOETIER_STRICT is on: the runtime would not start)", first);
    return CLI_OK;
}
