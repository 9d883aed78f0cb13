/*
 * accuracy: how well the profiler's per-expert hit counts follow the truth.
 *
 *   accuracy ROUTING-FILE PROFILE-FILE
 *
 * ROUTING-FILE is the true routing the test driver recorded (llama.cpp's own
 * expert choices, .trace); PROFILE-FILE is what moetier saved. Prints the
 * Spearman rank correlation (average ranks for ties) between the two per
 * (layer, expert) counts, and how many experts each saw. Exit 0, or 2 when the
 * files cannot be read or do not describe the same model shape.
 */
#include "profiler/profile.h"
#include "profiler/routing_file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct item {
    double v;
    size_t i;
};

static int cmp(const void *a, const void *b)
{
    double x = ((const struct item *)a)->v, y = ((const struct item *)b)->v;
    return x < y ? -1 : x > y;
}

static void ranks(const double *v, size_t n, double *r)
{
    struct item *it = malloc(n * sizeof *it);
    for (size_t i = 0; i < n; i++)
        it[i] = (struct item){ v[i], i };
    qsort(it, n, sizeof *it, cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && it[j + 1].v == it[i].v)
            j++;
        for (size_t k = i; k <= j; k++)
            r[it[k].i] = (i + j) / 2.0 + 1;
        i = j + 1;
    }
    free(it);
}

static double pearson(const double *a, const double *b, size_t n)
{
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++)
        ma += a[i], mb += b[i];
    ma /= n, mb /= n;
    for (size_t i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: accuracy ROUTING-FILE PROFILE-FILE\n");
        return 2;
    }
    struct moetier_routing r;
    struct moetier_profile p;
    char err[300];
    if (moetier_routing_load(argv[1], 0, &r, err, sizeof err)) {
        fprintf(stderr, "accuracy: %s\n", err);
        return 2;
    }
    if (moetier_profile_load(argv[2], NULL, &p, NULL, err, sizeof err)) {
        fprintf(stderr, "accuracy: %s: %s\n", argv[2], err);
        return 2;
    }
    if ((int)p.n_layers != r.layers || (int)p.n_experts != r.experts) {
        fprintf(stderr, "accuracy: shapes differ: routing %dx%d, profile %ux%u\n", r.layers, r.experts, p.n_layers,
                p.n_experts);
        return 2;
    }
    size_t n = (size_t)r.layers * r.experts;
    double *truth = calloc(n, sizeof *truth), *seen = calloc(n, sizeof *seen);
    double *rt = malloc(n * sizeof *rt), *rs = malloc(n * sizeof *rs);
    if (!truth || !seen || !rt || !rs)
        return 2;
    size_t nz_truth = 0, nz_seen = 0;
    unsigned long long total = 0;
    for (size_t i = 0; i < n; i++) {
        truth[i] = (double)r.counts[i];
        seen[i] = (double)p.experts[i].hits;
        nz_truth += r.counts[i] > 0;
        nz_seen += p.experts[i].hits > 0;
        total += p.experts[i].hits;
    }
    ranks(truth, n, rt);
    ranks(seen, n, rs);
    printf("spearman: %.4f\n", pearson(rt, rs, n));
    printf("experts: %zu used in truth, %zu seen by the sampler, %llu hits over %llu decode tokens\n", nz_truth,
           nz_seen, total, (unsigned long long)p.tokens_decode);
    free(truth), free(seen), free(rt), free(rs);
    moetier_routing_free(&r);
    moetier_profile_free(&p, free);
    return 0;
}
