/*
 * moetier set: retune a running moetier process.
 *
 *   moetier set [PID|SEGMENT] [--dram SIZE|PCT] [--policy P] [--migrate-mbps N] [--sample-ms N]
 *
 * The request goes through the process's live stats segment (the control
 * block of profiler/stats.h; same user only); the process applies it within a
 * migration round and answers. A smaller DRAM budget demotes the coldest
 * experts until the cache fits. Exit 0 applied, 1 refused or no answer, 2 bad
 * usage or bad value.
 */
#include "common/fmt.h"
#include "common/size.h"
#include "profiler/stats.h"
#include "tools/cli.h"
#include "tools/proc_pick.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define CMD "set"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier set [PID|SEGMENT] [--dram SIZE|PCT] [--policy P] [--migrate-mbps N]\n"
            "                   [--sample-ms N] [--timeout MS]\n"
            "\n"
            "Retunes a running moetier process (the one of this user when there is just one).\n"
            "\n"
            "  --dram SIZE|PCT     DRAM cache budget (64G, 512M, or 25%% of the memory available to\n"
            "                      the process); shrinking demotes the coldest experts at once\n"
            "  --policy P          adapt, reuse, lru, lfu, static, predict, hot or auto\n"
            "  --migrate-mbps N    migration rate limit in MiB/s (0: unlimited)\n"
            "  --sample-ms N       sampling period (1-60000)\n"
            "  --timeout MS        how long to wait for the answer (default 3000)\n"
            "  -h, --help          this text\n"
            "\n"
            "exit status: 0 applied, 1 refused or no answer, 2 bad usage or value.\n");
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

int cmd_set(int argc, char **argv)
{
    static const struct option opts[] = {
        { "dram", required_argument, NULL, 'd' },   { "policy", required_argument, NULL, 'p' },
        { "migrate-mbps", required_argument, NULL, 'm' }, { "sample-ms", required_argument, NULL, 's' },
        { "timeout", required_argument, NULL, 't' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct moetier_stats_control req = { 0 }, reply;
    unsigned long v, timeout = 3000;
    struct moetier_size sz;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            if (moetier_size_parse(optarg, 1, &sz) != 0)
                return cli_error(CLI_USAGE, CMD, "--dram %s: not a size (64G, 512M) or a percentage (25%%)", optarg);
            req.what |= MOETIER_SET_DRAM;
            req.dram = sz.bytes;
            req.dram_percent = sz.percent;
            break;
        case 'p':
            if (strlen(optarg) >= sizeof req.policy)
                return cli_error(CLI_USAGE, CMD, "--policy %s: unknown policy", optarg);
            req.what |= MOETIER_SET_POLICY;
            moetier_fmt(req.policy, sizeof req.policy, "%s", optarg);
            break;
        case 'm':
            if (parse_uint(optarg, 1u << 20, &v))
                return cli_error(CLI_USAGE, CMD, "--migrate-mbps %s: not a number of MiB/s", optarg);
            req.what |= MOETIER_SET_MIGRATE_MBPS;
            req.migrate_mbps = (uint32_t)v;
            break;
        case 's':
            if (parse_uint(optarg, 60000, &v) || v == 0)
                return cli_error(CLI_USAGE, CMD, "--sample-ms %s: not a period of 1-60000 ms", optarg);
            req.what |= MOETIER_SET_SAMPLE_MS;
            req.sample_ms = (uint32_t)v;
            break;
        case 't':
            if (parse_uint(optarg, 600000, &timeout))
                return cli_error(CLI_USAGE, CMD, "--timeout %s: not a number of milliseconds", optarg);
            break;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            usage(stderr);
            return CLI_USAGE;
        }
    }
    if (optind + 1 < argc)
        return cli_error(CLI_USAGE, CMD, "one process at a time (got '%s' and '%s')", argv[optind], argv[optind + 1]);
    if (!req.what)
        return cli_error(CLI_USAGE, CMD, "nothing to set: give --dram, --policy, --migrate-mbps or --sample-ms");
    char path[1200], err[1400];
    int rc = pick_path(CMD, optind < argc ? argv[optind] : NULL, 0, path, sizeof path);
    if (rc != CLI_OK)
        return rc;
    rc = moetier_stats_request(path, &req, &reply, (int)timeout, err, sizeof err);
    if (rc == -EPROTO)
        return cli_error(CLI_USAGE, CMD, "%s", err);
    if (rc)
        return cli_error(CLI_FAIL, CMD, "%s", err);
    printf("%s\n", reply.message[0] ? reply.message : "applied");
    return reply.result == 0 ? CLI_OK : CLI_FAIL;
}
