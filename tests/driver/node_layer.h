/*
 * node_layer: llama.cpp names per-layer graph nodes "NAME-IL" (its cb(t,
 * name, il)); the driver's eval callback finds the nodes it wants by name.
 */
#ifndef MOETIER_TESTS_DRIVER_NODE_LAYER_H
#define MOETIER_TESTS_DRIVER_NODE_LAYER_H

#include <ggml.h>

/* The layer of a node named PFX-N (pfx includes the '-'), else -1. */
int node_layer(const struct ggml_tensor *t, const char *pfx);

#endif
