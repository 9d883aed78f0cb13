/*
 * routing_file: real expert-routing data in moetier's plain-text formats.
 *
 * `.trace`: line 1 `# model=NAME layers=L experts=E topk=K [more words]`, then one
 * line per token with L space-separated groups of comma-separated expert ids.
 * `.counts`: the same header ending in the word `counts`, then one line per
 * layer with E integer counts. Both load into per-layer popularity counts;
 * a trace can also keep its tokens (for replay).
 * Files are untrusted: every count and id is range-checked, errors name the line.
 */
#ifndef MOETIER_PROFILER_ROUTING_FILE_H
#define MOETIER_PROFILER_ROUTING_FILE_H

#include <stddef.h>
#include <stdint.h>

#define MOETIER_ROUTING_MAX_LAYERS 1024
#define MOETIER_ROUTING_MAX_EXPERTS 4096

struct moetier_routing {
    char model[128];
    int is_trace;          /* 1: .trace (token order known), 0: .counts */
    int layers, experts, topk;
    uint64_t tokens;       /* tokens in a trace; for counts, the header's tokens= if any */
    uint64_t *counts;      /* [layers * experts]: times each (layer, expert) was chosen */
    uint16_t *routes;      /* trace tokens kept: [tokens * layers * topk], or NULL */
};

/*
 * Loads FILE. keep_routes: keep a trace's per-token routes in `routes`.
 * Returns 0, or -errno for I/O failures / -EINVAL for a malformed file, with a
 * one-line reason (naming the line) in err.
 */
int moetier_routing_load(const char *path, int keep_routes, struct moetier_routing *out,
                         char *err, size_t errlen);
void moetier_routing_free(struct moetier_routing *r);

/* Share of all accesses that fall on the hottest `share` (0..1] of (layer, expert)
 * pairs (floor(share * pairs), at least 1). */
double moetier_routing_hot_share(const struct moetier_routing *r, double share);
/* The same over any per-pair popularity v[n] (counts or probabilities). */
double moetier_hot_share(const double *v, size_t n, double share);

/* Writes the routing header line for a trace (without newline) into buf. */
int moetier_routing_header(char *buf, size_t cap, const char *model, int layers, int experts,
                           int topk, const char *extra);

#endif
