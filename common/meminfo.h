/*
 * meminfo: how much memory this process may use: the cgroup memory limit
 * (v2 memory.max, or v1 memory.limit_in_bytes) when one is set, else
 * MemAvailable from /proc/meminfo. Used to turn percentage budgets into bytes
 * and to keep the DRAM cache clear of the cgroup limit. No stdio, no malloc.
 */
#ifndef MOETIER_COMMON_MEMINFO_H
#define MOETIER_COMMON_MEMINFO_H

#include <stdint.h>
#include <sys/types.h>

struct moetier_meminfo {
    uint64_t available;     /* MemAvailable */
    uint64_t total;         /* MemTotal */
    uint64_t cgroup_limit;  /* 0 = none */
    uint64_t cgroup_usage;  /* current usage of the cgroup, 0 if unknown */
    uint64_t cgroup_anon;   /* its anonymous memory (v2 memory.stat anon, v1 total_rss), 0 if unknown */
};

int moetier_meminfo_read(struct moetier_meminfo *m);

/* What a percentage of "memory available to the process" means: the cgroup
 * limit when set, else MemAvailable. */
uint64_t moetier_meminfo_base(const struct moetier_meminfo *m);

#endif
