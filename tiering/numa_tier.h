/*
 * numa_tier: the primitives of the `numa:N` slow tier (a CPU-less NUMA node:
 * Optane in KMEM-DAX mode, a CXL expander): discovery, page placement
 * (where a range's pages are), page migration (move_pages), the task memory
 * policy bracket around a populating mmap, and binding an anonymous range.
 *
 * Invariants and rules:
 *   - Raw system calls (move_pages, mbind, set/get_mempolicy, getcpu) and
 *     sysfs read with open/read into stack buffers: no libnuma (its
 *     constructor would run in every process the shim is preloaded into),
 *     no stdio, no malloc. Safe on the shim's paths; not async-signal-safe
 *     only in the sense that the calls may block.
 *   - The kernel's per-page status array is the truth: a move is counted as
 *     done only when a query after it finds the page on the target node.
 *   - Ranges: addr/len may be unaligned. MOETIER_NUMA_INTERIOR (the default)
 *     acts on the pages lying wholly inside [addr, addr+len): partial edge
 *     pages are shared with a neighbour (GGUF aligns expert slices to 32
 *     bytes) and are left alone and counted in `edge`. MOETIER_NUMA_COVER
 *     acts on every page the range touches.
 *   - Policies are per thread (task): the bracket affects only the caller's
 *     thread, and restores exactly the mode, mode flags and node mask that
 *     get_mempolicy reported before.
 *   - Node ids below MOETIER_NUMA_MASK_BITS; discovery lists at most
 *     MOETIER_NUMA_MAX_NODES online nodes.
 * Functions return 0 or -errno.
 */
#ifndef MOETIER_TIERING_NUMA_TIER_H
#define MOETIER_TIERING_NUMA_TIER_H

#include <stddef.h>
#include <stdint.h>

#define MOETIER_NUMA_MAX_NODES 64   /* online nodes discovery lists */
#define MOETIER_NUMA_MASK_BITS 1024 /* node ids a mask can name (CONFIG_NODES_SHIFT=10) */
#define MOETIER_NUMA_MASK_LONGS (MOETIER_NUMA_MASK_BITS / (8 * sizeof(unsigned long)))

/* ---- discovery ----------------------------------------------------------- */

struct moetier_numa_node {
    int id;
    int has_cpu;    /* listed in /sys/devices/system/node/has_cpu */
    int has_memory; /* listed in has_memory (N_MEMORY) */
    int tier;       /* K of the memory_tierK holding it (lower = faster), -1 unknown */
    uint64_t total; /* bytes (nodeN/meminfo MemTotal) */
    uint64_t free;  /* bytes (MemFree) at discovery */
};

struct moetier_numa_topo {
    int n;         /* nodes in node[] (online nodes, ascending id) */
    int truncated; /* more than MOETIER_NUMA_MAX_NODES were online */
    int cpu_node;  /* node of the CPU the caller ran on, -1 unknown */
    struct moetier_numa_node node[MOETIER_NUMA_MAX_NODES];
    /* distance[i][j]: ACPI SLIT distance from node[i] to node[j], 0 unknown */
    uint8_t distance[MOETIER_NUMA_MAX_NODES][MOETIER_NUMA_MAX_NODES];
};

/* Reads /sys/devices/system/node. -ENOENT when the kernel has no NUMA sysfs. */
int moetier_numa_discover(struct moetier_numa_topo *t);

/* The entry for node id, or NULL when it is not online. */
const struct moetier_numa_node *moetier_numa_node_get(const struct moetier_numa_topo *t, int id);

/* Nodes with CPUs and memory (DRAM next to CPUs), nearest to node `from`
 * first (from < 0: the caller's CPU node); writes up to max ids, returns how
 * many it wrote. */
int moetier_numa_near_dram(const struct moetier_numa_topo *t, int from, int *out, int max);

/*
 * Parses "numa:N" and checks N against t: -EINVAL (syntax), -ENODEV (not an
 * online node), -ENOMEM (node has no memory). On success *node = N, and msg
 * is empty, or holds a warning when N has CPUs (not a slow tier in the usual
 * sense; allowed, e.g. for testing). On failure msg says why. msg may be NULL.
 */
int moetier_numa_spec_parse(const char *spec, const struct moetier_numa_topo *t, int *node, char *msg,
                            size_t msgcap);

/* ---- placement and migration -------------------------------------------- */

enum {
    MOETIER_NUMA_INTERIOR = 0, /* pages wholly inside the range (default) */
    MOETIER_NUMA_COVER = 1,    /* every page the range touches */
    MOETIER_NUMA_STRICT = 2,   /* moetier_numa_bind: fail (-EIO) if a page cannot be moved */
};

struct moetier_numa_where {
    uint64_t pages;       /* pages examined */
    uint64_t edge;        /* partial edge pages left out (MOETIER_NUMA_INTERIOR) */
    uint64_t not_present; /* -ENOENT: no page mapped there (never touched, or zapped) */
    uint64_t fault;       /* -EFAULT: no mapping at that address */
    uint64_t other;       /* another negative status */
    uint64_t elsewhere;   /* on a node id >= the caller's n_counts */
};

/*
 * Where the pages of a range are (move_pages with nodes=NULL, in batches).
 * per_node[id] (n_counts entries, may be NULL/0) is incremented for each page
 * found on node id; out is zeroed first. Pages are what this process has
 * mapped: a page-cache page not mapped here reads as not present. The shared
 * zero page (an anonymous page only read) reports its own node.
 */
int moetier_numa_where(const void *addr, size_t len, unsigned flags, uint64_t *per_node, int n_counts,
                       struct moetier_numa_where *out);

struct moetier_numa_moved {
    uint64_t pages;       /* pages examined */
    uint64_t edge;        /* partial edge pages left out (MOETIER_NUMA_INTERIOR) */
    uint64_t moved;       /* were elsewhere, found on the target node afterwards */
    uint64_t already;     /* were on the target node before */
    uint64_t not_present; /* -ENOENT (not mapped: nothing to move) */
    uint64_t shared;      /* -EACCES: mapped by several processes (needs MPOL_MF_MOVE_ALL) */
    uint64_t busy;        /* -EBUSY: pinned, locked, under I/O */
    uint64_t nomem;       /* -ENOMEM: target node full */
    uint64_t fault;       /* -EFAULT: no mapping, or a page that cannot be migrated */
    uint64_t other;       /* other negative status (last one in other_errno) */
    uint64_t unmoved;     /* no error reported, yet not on the target node afterwards */
    int other_errno;
};

/*
 * Moves a range's pages to node with move_pages(MPOL_MF_MOVE), batched: a
 * query finds the pages not yet there, only those are moved, and a second
 * query confirms each. Returns 0 when the calls went through (per-page
 * outcomes in res, which is zeroed first), or -errno when the kernel refused
 * the whole call (-ENODEV: node not online, -EINVAL: bad node, -EPERM).
 * Contents and addresses are unchanged; threads may keep reading. The kernel
 * migrates whole folios: a huge page (THP) or large folio that reaches past
 * the range moves with it, neighbours' bytes included.
 */
int moetier_numa_move(void *addr, size_t len, int node, unsigned flags, struct moetier_numa_moved *res);

/*
 * Binds an anonymous (or private) range to node: mbind(MPOL_BIND, {node},
 * MPOL_MF_MOVE [| MPOL_MF_STRICT]). Pages already there move; later faults
 * land on node. Shared file mappings ignore it (see the policy bracket).
 * flags: range rule, MOETIER_NUMA_STRICT.
 */
int moetier_numa_bind(void *addr, size_t len, int node, unsigned flags);

/* ---- task memory policy --------------------------------------------------- */

/* A thread's (or a range's) memory policy, as get_mempolicy reports it. */
struct moetier_numa_policy {
    int mode; /* MPOL_* with its MPOL_F_* mode flags */
    unsigned long mask[MOETIER_NUMA_MASK_LONGS];
};

enum moetier_numa_policy_kind {
    MOETIER_NUMA_POLICY_PREFERRED = 0, /* prefer node, fall back elsewhere when full */
    MOETIER_NUMA_POLICY_BIND = 1,      /* only node (reclaim/OOM there when full) */
};

int moetier_numa_policy_get(struct moetier_numa_policy *p);
/* The policy of the mapping at addr (get_mempolicy MPOL_F_ADDR). */
int moetier_numa_policy_at(const void *addr, struct moetier_numa_policy *p);
/* Sets the calling thread's policy to p (what _get returned). */
int moetier_numa_policy_set(const struct moetier_numa_policy *p);
int moetier_numa_policy_equal(const struct moetier_numa_policy *a, const struct moetier_numa_policy *b);
/* "bind static {0-1}", "preferred {1}", "default", "local": into buf, returns buf. */
char *moetier_numa_policy_format(const struct moetier_numa_policy *p, char *buf, size_t cap);

/*
 * The bracket around a populating mmap (MAP_POPULATE, a first read): saves
 * the calling thread's policy into *saved, then sets PREFERRED or BIND to
 * node, so page-cache pages faulted in now land on node. _pop restores
 * *saved exactly. Nothing nests implicitly: each push has its own *saved.
 */
int moetier_numa_policy_push(int node, enum moetier_numa_policy_kind kind, struct moetier_numa_policy *saved);
int moetier_numa_policy_pop(const struct moetier_numa_policy *saved);

/* ---- node masks (helpers shared with the tests) ------------------------- */

/* Parses a sysfs node list ("0-3,5\n") into mask (zeroed first). */
int moetier_numa_mask_parse(const char *s, unsigned long *mask);
/* "0,2-3" (empty string for an empty mask) into buf, returns buf. */
char *moetier_numa_mask_format(const unsigned long *mask, char *buf, size_t cap);

#endif
