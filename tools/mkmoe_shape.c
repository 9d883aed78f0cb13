/*
 * mkmoe_shape: target popularity and bias calibration (see mkmoe_shape.h).
 */
#include "tools/mkmoe_shape.h"
#include "common/rng.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Clamps each p into [lo, 1 - lo] and rescales the rest so the row sums to k. */
static void normalise_row(double *p, int n, int k)
{
    const double lo = 0.02 * k / n;
    for (int iter = 0; iter < 50; iter++) {
        double sum = 0;
        for (int e = 0; e < n; e++)
            sum += p[e];
        for (int e = 0; e < n; e++)
            p[e] = p[e] * k / sum;
        int changed = 0;
        for (int e = 0; e < n; e++) {
            if (p[e] < lo) {
                p[e] = lo;
                changed = 1;
            } else if (p[e] > 0.98) {
                p[e] = 0.98;
                changed = 1;
            }
        }
        if (!changed)
            return;
    }
}

void mkmoe_shape_uniform(int layers, int experts, int topk, double *p)
{
    for (int i = 0; i < layers * experts; i++)
        p[i] = (double)topk / experts;
}

static int cmp_desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

int mkmoe_shape_target(const struct moetier_routing *r, int layers, int experts, int topk,
                       uint64_t seed, double *p)
{
    int same = r->layers == layers && r->experts == experts;
    double *curve = malloc((size_t)r->experts * sizeof *curve);
    int *perm = malloc((size_t)experts * sizeof *perm);
    if (!curve || !perm) {
        free(curve);
        free(perm);
        return -ENOMEM;
    }
    struct rng rng;
    rng_seed(&rng, seed, 0x5eed);
    for (int l = 0; l < layers; l++) {
        int fl = (int)((long long)l * r->layers / layers);
        const uint64_t *c = r->counts + (size_t)fl * r->experts;
        double *row = p + (size_t)l * experts;
        if (same) {
            for (int e = 0; e < experts; e++)
                row[e] = (double)c[e] + 0.5;
        } else {
            for (int e = 0; e < r->experts; e++)
                curve[e] = (double)c[e] + 0.5;
            qsort(curve, (size_t)r->experts, sizeof *curve, cmp_desc);
            for (int e = 0; e < experts; e++)
                perm[e] = e;
            for (int e = experts - 1; e > 0; e--) {
                int j = (int)rng_below(&rng, (uint64_t)e + 1);
                int t = perm[e];
                perm[e] = perm[j];
                perm[j] = t;
            }
            /* resample the popularity curve (a density over rank) at experts points */
            for (int i = 0; i < experts; i++) {
                double x = (i + 0.5) * r->experts / experts - 0.5;
                int x0 = x < 0 ? 0 : (int)x;
                int x1 = x0 + 1 < r->experts ? x0 + 1 : x0;
                double f = x - x0;
                if (f < 0)
                    f = 0;
                row[perm[i]] = curve[x0] * (1 - f) + curve[x1] * f;
            }
        }
        normalise_row(row, experts, topk);
    }
    free(curve);
    free(perm);
    return 0;
}

/* Indices of the k largest of v[n] into top (k small: simple insertion). */
static void topk_indices(const double *v, int n, int k, int *top)
{
    int m = 0;
    for (int e = 0; e < n; e++) {
        if (m == k && v[e] <= v[top[k - 1]])
            continue;
        int i = m < k ? m++ : k - 1;
        while (i > 0 && v[top[i - 1]] < v[e]) {
            top[i] = top[i - 1];
            i--;
        }
        top[i] = e;
    }
}

int mkmoe_shape_calibrate(const double *p, int experts, int topk, int samples, const double *z,
                          const double *c, const double *w, double gain, double *b, double *p_hat)
{
    const int iters = 200;
    double *hits = malloc((size_t)experts * sizeof *hits);
    double *v = malloc((size_t)experts * sizeof *v);
    double *best = malloc((size_t)experts * sizeof *best);
    int *top = malloc((size_t)topk * sizeof *top);
    if (!hits || !v || !best || !top) {
        free(hits), free(v), free(best), free(top);
        return -ENOMEM;
    }
    double cmean = 0;
    for (int s = 0; s < samples; s++)
        cmean += w[s] * c[s];
    /* start from log-odds in units of the constant input */
    for (int e = 0; e < experts; e++)
        b[e] = gain * log(p[e] / (1 - p[e])) / cmean;

    double best_err = INFINITY;
    for (int it = 0; it < iters; it++) {
        memset(hits, 0, (size_t)experts * sizeof *hits);
        for (int s = 0; s < samples; s++) {
            if (w[s] == 0)
                continue;
            const double *zs = z + (size_t)s * experts;
            for (int e = 0; e < experts; e++)
                v[e] = b[e] * c[s] + zs[e];
            topk_indices(v, experts, topk, top);
            for (int i = 0; i < topk; i++)
                hits[top[i]] += w[s];
        }
        /* keep the biases with the smallest total popularity error */
        double err = 0;
        for (int e = 0; e < experts; e++)
            err += fabs(hits[e] - p[e]);
        if (err < best_err) {
            best_err = err;
            memcpy(best, b, (size_t)experts * sizeof *b);
            memcpy(p_hat, hits, (size_t)experts * sizeof *hits);
        }
        /* damped step on log-popularity; smaller steps later to settle */
        double step = gain * (it < iters / 2 ? 0.5 : 0.2) / cmean;
        for (int e = 0; e < experts; e++)
            b[e] += step * (log(p[e]) - log(hits[e] + 1e-4));
    }
    memcpy(b, best, (size_t)experts * sizeof *b);
    free(hits), free(v), free(best), free(top);
    return 0;
}
