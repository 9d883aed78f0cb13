/*
 * fuzz_config: libFuzzer target for the MOETIER_* value parser (common/config.c).
 *
 * The input is up to MOETIER_CFG_COUNT lines; line i (when present and not a
 * lone "-") is the value of variable i. It is read twice:
 *  1. each line alone through moetier_config_check (what `moetier run` and
 *     `moetier set` use to refuse a bad flag);
 *  2. all lines at once through moetier_config_load, as the shim reads its
 *     environment.
 * Besides ASan/UBSan findings, the target traps when a promise of config.h is
 * broken: load and check disagree about a value, a rejected value has no
 * one-line message naming the variable, an accepted value leaves a field out
 * of its range, or the effective value printed by moetier_config_value (what
 * `moetier doctor --config` shows) is not itself accepted.
 *
 * Build and run: make fuzz; make fuzz-run FUZZ_SECONDS=600 (tests/fuzz.mk).
 */
#include "common/config.h"
#include "common/log.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

static char *value[MOETIER_CFG_COUNT];

static const char *get(const char *name)
{
    for (int i = 0; i < MOETIER_CFG_COUNT; i++)
        if (strcmp(name, moetier_config_table[i].name) == 0)
            return value[i];
    return NULL;
}

static void check_ranges(const struct moetier_config *c)
{
    CHECK(c->disable == 0 || c->disable == 1);
    CHECK(c->strict == 0 || c->strict == 1);
    CHECK(memchr(c->match, 0, sizeof c->match) && memchr(c->only_comm, 0, sizeof c->only_comm));
    CHECK(c->match[0]);
    CHECK(c->dram.percent == 0 || (c->dram.percent > 0 && c->dram.percent <= 100));
    CHECK(c->slow >= MOETIER_SLOW_AUTO && c->slow <= MOETIER_SLOW_DEVDAX);
    CHECK(c->slow_node >= 0 && c->slow_node <= 1023);
    if (c->slow == MOETIER_SLOW_PMEM || c->slow == MOETIER_SLOW_DEVDAX)
        CHECK(c->slow_path[0] == '/');
    CHECK(c->sampler >= MOETIER_SAMPLER_AUTO && c->sampler <= MOETIER_SAMPLER_OFF);
    CHECK(c->sample_ms >= 1 && c->sample_ms <= 60000);
    CHECK(c->sample_budget >= 0.1 && c->sample_budget <= 100);
    CHECK(c->migrate_mbps <= 1u << 24);
    CHECK(c->alloc_min >= 4096);
    CHECK(c->hugepages >= MOETIER_AUTO && c->hugepages <= MOETIER_ON);
    CHECK(c->cuda_pin >= MOETIER_AUTO && c->cuda_pin <= MOETIER_ON);
    CHECK(c->promote >= MOETIER_PROMOTE_AUTO && c->promote <= MOETIER_PROMOTE_COPY);
    CHECK(c->stats_dir[0] == 0 || c->stats_dir[0] == '/');
    CHECK(c->log_file[0] == 0 || c->log_file[0] == '/');
    CHECK(c->log_level >= MOETIER_LOG_ERROR && c->log_level <= MOETIER_LOG_DEBUG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) { /* every bad value is logged: keep the fuzzer's output readable */
        moetier_log_setup(MOETIER_LOG_ERROR, 2);
        quiet = 1;
    }
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';

    /* lines -> values; a NUL inside a line ends that value, as in an environment */
    char *p = copy;
    for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
        value[i] = NULL;
        if (!p)
            continue;
        char *nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        if (strcmp(p, "-") != 0)
            value[i] = p;
        p = nl ? nl + 1 : NULL;
    }

    /* 1. one value at a time */
    int ok[MOETIER_CFG_COUNT];
    for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
        if (!value[i])
            continue;
        char err[320];
        err[0] = '\0';
        int rc = moetier_config_check(i, value[i], err, sizeof err);
        CHECK(rc == 0 || rc == -EINVAL);
        if (rc) {
            size_t n = strlen(moetier_config_table[i].name);
            CHECK(strncmp(err, moetier_config_table[i].name, n) == 0 && err[n] == '=');
            CHECK(!strchr(err, '\n'));
        }
        ok[i] = rc == 0;
    }
    CHECK(moetier_config_check(-1, "x", NULL, 0) == -EINVAL);
    CHECK(moetier_config_check(MOETIER_CFG_COUNT, "x", NULL, 0) == -EINVAL);

    /* 2. all together */
    struct moetier_config c;
    char err[320];
    int bad = moetier_config_load(&c, get, err, sizeof err), nbad = 0;
    for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
        if (!value[i]) {
            CHECK(c.source[i] == MOETIER_SRC_DEFAULT);
            continue;
        }
        CHECK(c.source[i] == (ok[i] ? MOETIER_SRC_ENV : MOETIER_SRC_INVALID));
        nbad += !ok[i];
    }
    CHECK(bad == nbad);
    CHECK(bad == 0 || (err[0] && !strchr(err, '\n')));
    check_ranges(&c);

    /* what doctor prints is itself a valid value */
    for (int i = 0; i < MOETIER_CFG_COUNT; i++) {
        char buf[MOETIER_PATH_MAX + 16], e2[320];
        const char *v = moetier_config_value(&c, i, buf, sizeof buf);
        CHECK(v != NULL);
        /* "" is how doctor shows an unset path or glob; MATCH is never empty */
        if (!v[0] && i != MOETIER_CFG_MATCH)
            continue;
        /* shown to a tenth of a percent and two decimals of a unit: values
         * below what that can show, or within a rounding of 2^64, print
         * as what cannot be set (0%, 16384.00 PiB) */
        if ((i == MOETIER_CFG_DRAM && c.dram.percent > 0 && c.dram.percent < 0.05) ||
            (i == MOETIER_CFG_DRAM && c.dram.bytes >> 63) || (i == MOETIER_CFG_ALLOC_MIN && c.alloc_min >> 63))
            continue;
        CHECK(moetier_config_check(i, v, e2, sizeof e2) == 0);
    }
    free(copy);
    return 0;
}
