/*
 * routing_file: loader for .trace and .counts routing files (see routing_file.h).
 */
#include "profiler/routing_file.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

/* Reads the value of `key=` among the header words; returns 1 if found. */
static int header_int(const char *hdr, const char *key, long long *out)
{
    size_t klen = strlen(key);
    for (const char *p = hdr; (p = strstr(p, key)) != NULL; p += klen) {
        if ((p == hdr || p[-1] == ' ' || p[-1] == '#') && p[klen] == '=') {
            char *end;
            errno = 0;
            long long v = strtoll(p + klen + 1, &end, 10);
            if (errno || end == p + klen + 1 || (*end && *end != ' ' && *end != '\n'))
                return -1;
            *out = v;
            return 1;
        }
    }
    return 0;
}

static int header_word_last(const char *hdr, const char *word)
{
    size_t n = strlen(hdr);
    while (n && (hdr[n - 1] == '\n' || hdr[n - 1] == ' ' || hdr[n - 1] == '\r'))
        n--;
    size_t w = strlen(word);
    return n >= w && strncmp(hdr + n - w, word, w) == 0 && (n == w || hdr[n - w - 1] == ' ');
}

void moetier_routing_free(struct moetier_routing *r)
{
    free(r->counts);
    free(r->routes);
    memset(r, 0, sizeof *r);
}

/* Parses one trace line into ids [layers * topk]. */
static int parse_trace_line(char *line, const struct moetier_routing *r, uint16_t *ids,
                            unsigned long lineno, char *err, size_t errlen)
{
    char *p = line;
    for (int l = 0; l < r->layers; l++) {
        while (*p == ' ')
            p++;
        for (int k = 0; k < r->topk; k++) {
            char *end;
            errno = 0;
            long v = strtol(p, &end, 10);
            if (end == p || errno)
                return fail(err, errlen, -EINVAL, "line %lu: layer %d: expected %d expert ids",
                            lineno, l, r->topk);
            if (v < 0 || v >= r->experts)
                return fail(err, errlen, -EINVAL, "line %lu: layer %d: expert id %ld out of range [0,%d)",
                            lineno, l, v, r->experts);
            ids[l * r->topk + k] = (uint16_t)v;
            p = end;
            if (k + 1 < r->topk) {
                if (*p != ',')
                    return fail(err, errlen, -EINVAL, "line %lu: layer %d: expected %d expert ids",
                                lineno, l, r->topk);
                p++;
            }
        }
        if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\0')
            return fail(err, errlen, -EINVAL, "line %lu: layer %d: more than %d expert ids",
                        lineno, l, r->topk);
    }
    while (*p == ' ' || *p == '\r' || *p == '\n')
        p++;
    if (*p)
        return fail(err, errlen, -EINVAL, "line %lu: more than %d layer groups", lineno, r->layers);
    return 0;
}

int moetier_routing_load(const char *path, int keep_routes, struct moetier_routing *out,
                         char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "re");
    if (!f)
        return fail(err, errlen, -errno, "%s: %s", path, strerror(errno));

    int rc;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, f);
    if (len <= 0 || line[0] != '#') {
        rc = fail(err, errlen, -EINVAL, "%s: line 1: expected a '# model=... layers=L experts=E topk=K' header", path);
        goto out;
    }
    long long layers, experts, topk, tokens;
    if (header_int(line, "layers", &layers) != 1 || header_int(line, "experts", &experts) != 1 ||
        header_int(line, "topk", &topk) != 1) {
        rc = fail(err, errlen, -EINVAL, "%s: line 1: header needs layers=, experts= and topk=", path);
        goto out;
    }
    if (layers < 1 || layers > MOETIER_ROUTING_MAX_LAYERS || experts < 1 ||
        experts > MOETIER_ROUTING_MAX_EXPERTS || topk < 1 || topk > experts) {
        rc = fail(err, errlen, -EINVAL, "%s: line 1: implausible layers=%lld experts=%lld topk=%lld",
                  path, layers, experts, topk);
        goto out;
    }
    out->layers = (int)layers;
    out->experts = (int)experts;
    out->topk = (int)topk;
    out->is_trace = !header_word_last(line, "counts");
    if (header_int(line, "tokens", &tokens) == 1 && tokens > 0)
        out->tokens = (uint64_t)tokens;
    const char *m = strstr(line, "model=");
    if (m) {
        size_t n = strcspn(m + 6, " \n");
        if (n >= sizeof out->model)
            n = sizeof out->model - 1;
        memcpy(out->model, m + 6, n);
    }
    out->counts = calloc((size_t)(layers * experts), sizeof *out->counts);
    if (!out->counts) {
        rc = fail(err, errlen, -ENOMEM, "%s: out of memory", path);
        goto out;
    }

    unsigned long lineno = 1;
    if (!out->is_trace) {
        int l = 0;
        while ((len = getline(&line, &cap, f)) > 0) {
            lineno++;
            if (line[0] == '\n' || line[0] == '#')
                continue;
            if (l >= out->layers) {
                rc = fail(err, errlen, -EINVAL, "%s: line %lu: more than %d layer lines", path, lineno, out->layers);
                goto out;
            }
            char *p = line;
            for (int e = 0; e < out->experts; e++) {
                char *end;
                errno = 0;
                long long v = strtoll(p, &end, 10);
                if (end == p || errno || v < 0) {
                    rc = fail(err, errlen, -EINVAL, "%s: line %lu: expected %d non-negative counts",
                              path, lineno, out->experts);
                    goto out;
                }
                out->counts[l * out->experts + e] = (uint64_t)v;
                p = end;
            }
            while (*p == ' ' || *p == '\n' || *p == '\r')
                p++;
            if (*p) {
                rc = fail(err, errlen, -EINVAL, "%s: line %lu: more than %d counts", path, lineno, out->experts);
                goto out;
            }
            l++;
        }
        if (l != out->layers) {
            rc = fail(err, errlen, -EINVAL, "%s: %d layer lines, header says %d", path, l, out->layers);
            goto out;
        }
        rc = 0;
        goto out;
    }

    size_t per_token = (size_t)out->layers * (size_t)out->topk;
    size_t cap_tokens = 0;
    uint16_t one[MOETIER_ROUTING_MAX_LAYERS * 8];
    uint16_t *ids = per_token <= sizeof one / sizeof one[0] ? one : malloc(per_token * sizeof *ids);
    if (!ids) {
        rc = fail(err, errlen, -ENOMEM, "%s: out of memory", path);
        goto out;
    }
    uint64_t n = 0;
    rc = 0;
    while ((len = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (line[0] == '\n' || line[0] == '#')
            continue;
        char msg[200];
        rc = parse_trace_line(line, out, ids, lineno, msg, sizeof msg);
        if (rc) {
            fail(err, errlen, rc, "%s: %s", path, msg);
            break;
        }
        for (size_t i = 0; i < per_token; i++)
            out->counts[(i / (size_t)out->topk) * (size_t)out->experts + ids[i]]++;
        if (keep_routes) {
            if (n == cap_tokens) {
                size_t nc = cap_tokens ? cap_tokens * 2 : 1024;
                uint16_t *nr = realloc(out->routes, nc * per_token * sizeof *nr);
                if (!nr) {
                    rc = fail(err, errlen, -ENOMEM, "%s: out of memory", path);
                    break;
                }
                out->routes = nr;
                cap_tokens = nc;
            }
            memcpy(out->routes + n * per_token, ids, per_token * sizeof *ids);
        }
        n++;
    }
    if (ids != one)
        free(ids);
    out->tokens = n;
    if (!rc && n == 0)
        rc = fail(err, errlen, -EINVAL, "%s: no token lines", path);

out:
    if (!rc && ferror(f))
        rc = fail(err, errlen, -EIO, "%s: read error", path);
    free(line);
    fclose(f);
    if (rc)
        moetier_routing_free(out);
    return rc;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

double moetier_hot_share(const double *v, size_t n, double share)
{
    double *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return -1;
    memcpy(sorted, v, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_desc);
    size_t hot = (size_t)(share * (double)n);
    if (hot < 1)
        hot = 1;
    double total = 0, top = 0;
    for (size_t i = 0; i < n; i++) {
        total += sorted[i];
        if (i < hot)
            top += sorted[i];
    }
    free(sorted);
    return total > 0 ? top / total : 0;
}

double moetier_routing_hot_share(const struct moetier_routing *r, double share)
{
    size_t pairs = (size_t)r->layers * (size_t)r->experts;
    double *v = malloc(pairs * sizeof *v);
    if (!v)
        return -1;
    for (size_t i = 0; i < pairs; i++)
        v[i] = (double)r->counts[i];
    double h = moetier_hot_share(v, pairs, share);
    free(v);
    return h;
}

int moetier_routing_header(char *buf, size_t cap, const char *model, int layers, int experts,
                           int topk, const char *extra)
{
    int n = snprintf(buf, cap, "# model=%s layers=%d experts=%d topk=%d%s%s", model, layers, experts,
                     topk, extra && *extra ? " " : "", extra ? extra : "");
    return n < 0 || (size_t)n >= cap ? -ENOSPC : 0;
}
