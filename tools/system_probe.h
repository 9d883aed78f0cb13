/*
 * system_probe: what this machine offers moetier, read from /proc and /sys:
 * NUMA nodes (and which have no CPUs: Optane KMEM-DAX, CXL), memory tiers,
 * persistent memory regions and namespaces, DAX devices and mounts, huge pages,
 * the limits that matter (vm.max_map_count, RLIMIT_MEMLOCK, the cgroup memory
 * limit), CUDA, and whether the sampler's kernel interfaces work here
 * (/proc/self/pagemap, process_madvise). Used by `moetier doctor`.
 */
#ifndef MOETIER_TOOLS_SYSTEM_PROBE_H
#define MOETIER_TOOLS_SYSTEM_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "common/meminfo.h"

#define PROBE_MAX_NODES 64
#define PROBE_MAX_PMEM 16
#define PROBE_MAX_MOUNTS 16

struct probe_node {
    int id;
    int has_cpu;
    uint64_t mem_total;
    int tier;              /* memory_tierN that holds it, -1 unknown */
};

struct probe_pmem {
    char name[64];         /* region0, namespace0.0 */
    char mode[32];         /* fsdax, devdax, raw, sector, system-ram */
    char dev[64];          /* pmem0, dax0.0 */
    uint64_t size;
};

struct probe_mount {
    char path[256];
    char dev[128];
    char fstype[32];
};

struct system_probe {
    char kernel[128];
    size_t n_nodes;
    struct probe_node nodes[PROBE_MAX_NODES];
    size_t n_pmem;
    struct probe_pmem pmem[PROBE_MAX_PMEM];
    size_t n_dax_mounts;
    struct probe_mount dax_mounts[PROBE_MAX_MOUNTS];
    uint64_t hugepages_total, hugepages_free, hugepage_size;
    char thp[32];               /* [always] madvise never -> "always" */
    uint64_t max_map_count;
    uint64_t memlock_soft, memlock_hard; /* UINT64_MAX: unlimited */
    struct moetier_meminfo mem;
    int pagemap_ok;             /* /proc/self/pagemap readable with present bits */
    int process_madvise_ok;     /* batched zaps available */
    int cpu_avx2, cpu_avx512;   /* x86 features that decide llama.cpp's weight repacking */
    int cuda_runtime;           /* libcudart loadable */
    int nvidia_device;          /* /dev/nvidia0 or /proc/driver/nvidia */
};

void system_probe_read(struct system_probe *p);

/* The CUDA runtime (libcudart), dlopen-ed: a handle for dlsym and dlclose, or NULL. */
void *system_probe_cudart(void);

/* The slow tier `MOETIER_SLOW=auto` would pick here, as a MOETIER_SLOW value,
 * and a sentence saying why. */
const char *system_probe_slow_choice(const struct system_probe *p, char *why, size_t whylen);

#endif
