/*
 * mkmoe_shape: router shaping for generated models.
 *
 * A generated model's routers are random, so routing would be near uniform.
 * Real routing is skewed. mkmoe reproduces a target per-layer expert popularity
 * (from a .counts or .trace file) by giving each expert e of layer l a bias b[l][e]
 * on top of zero-mean random router rows: the router logit is b + z, where z is
 * the random rows' projection of the token's hidden state, close to N(0, 1)
 * independently per expert. Top-k of (b + z) picks expert e with probability
 * p[l][e]; mkmoe_shape_calibrate finds b by a Monte-Carlo fixed point.
 * The mapping from b to router weights (and how well llama.cpp's real routing
 * follows) is mkmoe's business; the test suite measures it with real llama.cpp.
 */
#ifndef MOETIER_TOOLS_MKMOE_SHAPE_H
#define MOETIER_TOOLS_MKMOE_SHAPE_H

#include <stdint.h>

#include "profiler/routing_file.h"

/*
 * Target selection probabilities p[layers * experts] (each row sums to topk,
 * every p in (0, 1)) for a model of the given shape, from routing file r.
 * Same shape as the file: taken as is. Otherwise each model layer takes the
 * proportional file layer, and the file layer's sorted popularity curve is
 * resampled to `experts` points and dealt to experts in a seeded random order.
 * Returns 0 or -ENOMEM.
 */
int mkmoe_shape_target(const struct moetier_routing *r, int layers, int experts, int topk,
                       uint64_t seed, double *p);

/* Uniform target: p = topk / experts everywhere. */
void mkmoe_shape_uniform(int layers, int experts, int topk, double *p);

/*
 * Router biases b[experts] such that top-k of (b * c[s] + z[s]) over weighted
 * samples s (weights w[s] summing to 1) selects expert e with probability p[e].
 * z is [samples * experts] (the router's zero-mean part for each sample), c[s]
 * the sample's value of the constant input dimension. Fixed-point iteration on
 * log-popularity, in steps of gain times a logit-space step: 1 when z are
 * logits, much less (0.02) when z are sigmoid scores that the bias
 * is added to (deepseek2's exp_probs_b). The popularity reached is left in
 * p_hat[experts].
 * Returns 0 or -ENOMEM.
 */
int mkmoe_shape_calibrate(const double *p, int experts, int topk, int samples, const double *z,
                          const double *c, const double *w, double gain, double *b, double *p_hat);


#endif
