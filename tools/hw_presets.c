/*
 * hw_presets: preset tiers, CPUs and GPUs, and the bench profile (see
 * hw_presets.h). Sources and derating are in docs/sim.md; the figures here
 * must match its table.
 */
#include "tools/hw_presets.h"
#include "common/page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum role { DRAM, SLOW, GPU };

struct preset {
    const char *name;
    enum role role;
    enum moetier_tier_kind kind;
    double read_gbps, write_gbps, latency_us;
    int memory_mode;          /* SLOW: Memory Mode possible */
    const char *default_dram; /* SLOW: the DRAM it usually sits beside */
    const char *cpu;          /* DRAM: the platform's CPU */
    double cpu_gweights;      /* DRAM: that CPU's dot rate, all cores (an assumption: docs/sim.md) */
};

/* DRAM: theoretical peak (MT/s x 8 B x channels) derated to 80% for reads and
 * 60% for writes; CPUs at 16e9 weights/s per core */
static const struct preset presets[] = {
    { "ddr4-2666x6", DRAM, MOETIER_TIER_BYTE, 102.4, 76.8, 0.1, 0, NULL, "Xeon Gold 6246, 12 cores", 192 },
    { "ddr5-4800x8", DRAM, MOETIER_TIER_BYTE, 245.8, 184.3, 0.1, 0, NULL, "Xeon w7-2495X, 24 cores", 384 },
    { "ddr5-4800x12", DRAM, MOETIER_TIER_BYTE, 368.6, 276.5, 0.1, 0, NULL, "EPYC 9454, 48 cores", 768 },
    { "optane-6dimm", SLOW, MOETIER_TIER_BYTE, 39.4, 13.9, 0.305, 1, "ddr4-2666x6", NULL, 0 },
    { "cxl-x8", SLOW, MOETIER_TIER_BYTE, 25.6, 25.6, 0.27, 0, "ddr5-4800x12", NULL, 0 },
    { "nvme-gen4", SLOW, MOETIER_TIER_BLOCK, 7.0, 6.9, 80, 0, "ddr5-4800x8", NULL, 0 },
    { "rtx3060-12g", GPU, MOETIER_TIER_BYTE, 306, 306, 0, 0, NULL, NULL, 0 },
    { "rtx4090", GPU, MOETIER_TIER_BYTE, 857, 857, 0, 0, NULL, NULL, 0 },
};
#define N_PRESETS (sizeof presets / sizeof presets[0])
#define GPU_SYNC_US 20.0 /* per MoE layer: two small copies and a launch (docs/sim.md) */
#define Q8_BYTES_PER_WEIGHT (34.0 / 32) /* q8_0: the unit of the profile's cpu_dot_gbps */

const char *hw_preset_names(void)
{
    return "ddr4-2666x6, ddr5-4800x8, ddr5-4800x12, optane-6dimm, cxl-x8, nvme-gen4, rtx3060-12g, rtx4090, this";
}

const char *hw_profile_path(char *buf, size_t cap)
{
    const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    if (x && *x)
        snprintf(buf, cap, "%s/moetier/machine.json", x);
    else
        snprintf(buf, cap, "%s/.local/state/moetier/machine.json", home && *home ? home : ".");
    return buf;
}

static const struct preset *find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strlen(presets[i].name) == len && strncmp(presets[i].name, name, len) == 0)
            return &presets[i];
    return NULL;
}

/* The number after "key": in json (the first one after `after`, if given);
 * 0 when present, -1 when absent or not a number. Enough for the flat profile. */
static int json_number(const char *json, const char *after, const char *key, double *out)
{
    if (after) {
        char k[64];
        snprintf(k, sizeof k, "\"%s\"", after);
        json = strstr(json, k);
        if (!json)
            return -1;
        json = strchr(json + strlen(k), '{');
        if (!json)
            return -1;
    }
    char k[64];
    snprintf(k, sizeof k, "\"%s\"", key);
    const char *p = strstr(json, k);
    if (!p || (after && strchr(json, '}') < p))
        return -1;
    p += strlen(k);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    if (*p++ != ':')
        return -1;
    char *end;
    double v = strtod(p, &end);
    if (end == p || !(v >= 0))
        return -1;
    *out = v;
    return 0;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    if (buf)
        n = fread(buf, 1, cap, f);
    fclose(f);
    if (buf)
        buf[n] = 0;
    return buf;
}

/* Fills the parts of h not named yet from the profile at path. */
static int from_profile(const char *path, struct hw_machine *h, int have_dram, int have_slow, char *err,
                        size_t errcap)
{
    char *j = slurp(path);
    if (!j) {
        snprintf(err, errcap, "--hw this: no machine profile %s (run moetier bench, or name presets: %s)", path,
                 hw_preset_names());
        return -ENOENT;
    }
    double v, schema = 0;
    int rc = 0;
    if (json_number(j, NULL, "schema", &schema) || schema != 1)
        fprintf(stderr, "moetier sim: note: %s: schema is not 1; reading the keys it has\n", path);
    if (!have_dram) {
        if (json_number(j, NULL, "dram_read_gbps", &v) || v <= 0) {
            snprintf(err, errcap, "%s lacks dram_read_gbps (name a DRAM preset: --hw ddr5-4800x8+this)", path);
            rc = -EINVAL;
            goto out;
        }
        h->m.dram = (struct moetier_tier){ .kind = MOETIER_TIER_BYTE, .read_gbps = v, .write_gbps = v, .latency_us = 0.1 };
        if (json_number(j, NULL, "dram_write_gbps", &v) == 0 && v > 0)
            h->m.dram.write_gbps = v;
        else
            fprintf(stderr, "moetier sim: note: %s lacks dram_write_gbps: DRAM writes at the read rate\n", path);
        snprintf(h->dram, sizeof h->dram, "this");
        if (json_number(j, NULL, "cpu_dot_gbps", &v) == 0 && v > 0) {
            h->m.cpu_gweights = v / Q8_BYTES_PER_WEIGHT;
            snprintf(h->cpu, sizeof h->cpu, "this (%.1f GB/s of q8_0)", v);
        } else {
            h->m.cpu_gweights = 0;
            snprintf(h->cpu, sizeof h->cpu, "this (no dot rate: no CPU ceiling)");
            fprintf(stderr, "moetier sim: note: %s lacks cpu_dot_gbps: no CPU ceiling\n", path);
        }
    }
    if (!have_slow) {
        if (json_number(j, NULL, "file_read_gbps", &v) || v <= 0) {
            snprintf(err, errcap, "%s lacks file_read_gbps (name a slow tier: --hw this+nvme-gen4)", path);
            rc = -EINVAL;
            goto out;
        }
        h->m.slow = (struct moetier_tier){ .kind = MOETIER_TIER_BLOCK, .read_gbps = v, .write_gbps = v };
        /* A fetch's fixed cost, beside its bytes at file_read_gbps. Not
         * file_read_latency_us as it stands: bench times a whole 4 MiB pread
         * there, transfer included (docs/bench.md), which the bandwidth already
         * charges. The device's own latency is the 4 KiB read's; without it,
         * what the 4 MiB read took beyond its transfer (often nothing). */
        double lat4k, lat4m;
        if (json_number(j, NULL, "file_read_4k_latency_us", &lat4k) == 0 && lat4k >= 0) {
            h->m.slow.latency_us = lat4k;
        } else if (json_number(j, NULL, "file_read_latency_us", &lat4m) == 0) {
            double fixed = lat4m - 4194304.0 / (v * 1e3);
            h->m.slow.latency_us = fixed > 0 ? fixed : 0;
            fprintf(stderr, "moetier sim: note: %s lacks file_read_4k_latency_us: per-fetch latency %.1f us "
                    "(file_read_latency_us less a 4 MiB transfer)\n", path, h->m.slow.latency_us);
        } else {
            fprintf(stderr, "moetier sim: note: %s lacks file_read_latency_us: no per-fetch latency\n", path);
        }
        /* exact reads as the runtime issues them (a layer's misses at once) */
        double eg, el;
        if (json_number(j, NULL, "file_exact_gbps", &eg) == 0 && eg > 0 &&
            json_number(j, NULL, "file_exact_layer_us", &el) == 0 && el >= 0) {
            h->m.slow.exact_gbps = eg;
            h->m.slow.exact_layer_us = el;
            double ed;
            if (json_number(j, NULL, "file_exact_drop_added_us", &ed) == 0 && ed >= 0)
                h->m.slow.exact_drop_us = ed;
            snprintf(h->slow, sizeof h->slow, "this (file tier; exact reads %.2f GB/s + %.0f us a layer, %.0f us a "
                     "drop)", eg, el, h->m.slow.exact_drop_us);
        } else {
            snprintf(h->slow, sizeof h->slow, "this (file tier)");
        }
        /* plain mmap under a cap (read-around rows): reclaim at the rate
         * bench dropped a mapped expert, minor faults of fault-around's size */
        double drop, eb, fu, fp;
        if (json_number(j, NULL, "file_exact_drop_us", &drop) == 0 && drop > 0 &&
            json_number(j, "exact_reads", "expert_bytes", &eb) == 0 && eb > 0)
            h->m.slow.reclaim_gbps = eb / drop / 1e3;
        if (json_number(j, NULL, "fault_us", &fu) == 0 && json_number(j, NULL, "fault_pages_per_fault", &fp) == 0 &&
            fp > 0)
            h->m.slow.map_fault_us = fu, h->m.slow.map_fault_bytes = fp * (double)moetier_page_size();
    }
out:
    free(j);
    return rc;
}

int hw_machine_parse(const char *spec, const char *profile, struct hw_machine *h, char *err, size_t errcap)
{
    const struct preset *dram = NULL, *slow = NULL, *gpu = NULL;
    int want_this = 0;
    memset(h, 0, sizeof *h);
    for (const char *p = spec; *p;) {
        size_t len = strcspn(p, "+");
        const struct preset *q = find(p, len);
        if (len == 4 && strncmp(p, "this", 4) == 0) {
            want_this = 1;
        } else if (!q) {
            snprintf(err, errcap, "unknown --hw part '%.*s' (%s)", (int)len, p, hw_preset_names());
            return -EINVAL;
        } else {
            const struct preset **slot = q->role == DRAM ? &dram : q->role == SLOW ? &slow : &gpu;
            if (*slot) {
                snprintf(err, errcap, "--hw '%s' names two %s parts", spec,
                         q->role == DRAM ? "DRAM" : q->role == SLOW ? "slow-tier" : "GPU");
                return -EINVAL;
            }
            *slot = q;
        }
        p += len;
        if (*p == '+' && *++p == 0) {
            snprintf(err, errcap, "--hw '%s' ends in '+'", spec);
            return -EINVAL;
        }
    }
    if (!want_this && !slow) {
        snprintf(err, errcap, "--hw '%s' has no slow tier (optane-6dimm, cxl-x8, nvme-gen4 or this)", spec);
        return -EINVAL;
    }
    if (!dram && !want_this)
        dram = find(slow->default_dram, strlen(slow->default_dram));
    if (dram) {
        h->m.dram = (struct moetier_tier){ .kind = dram->kind, .read_gbps = dram->read_gbps, .write_gbps = dram->write_gbps,
                                            .latency_us = dram->latency_us };
        h->m.cpu_gweights = dram->cpu_gweights;
        snprintf(h->dram, sizeof h->dram, "%s", dram->name);
        snprintf(h->cpu, sizeof h->cpu, "%s", dram->cpu);
    }
    if (slow) {
        h->m.slow = (struct moetier_tier){ .kind = slow->kind, .read_gbps = slow->read_gbps, .write_gbps = slow->write_gbps,
                                            .latency_us = slow->latency_us };
        h->memory_mode = slow->memory_mode;
        snprintf(h->slow, sizeof h->slow, "%s", slow->name);
    }
    if (gpu) {
        h->m.gpu_gbps = gpu->read_gbps;
        h->m.gpu_sync_us = GPU_SYNC_US;
        snprintf(h->gpu, sizeof h->gpu, "%s", gpu->name);
    } else {
        snprintf(h->gpu, sizeof h->gpu, "none");
    }
    if (want_this && (!dram || !slow)) {
        char path[4096];
        return from_profile(profile ? profile : hw_profile_path(path, sizeof path), h, dram != NULL, slow != NULL,
                            err, errcap);
    }
    return 0;
}
