/*
 * heatmap: the layer x expert grid that `moetier heatmap` draws, and its
 * renderers (ANSI text, SVG, PNG). The JSON form is written by the command
 * itself (tools/cmd_heatmap.c).
 *
 * A grid holds, per (layer, expert), a value in [0, 1] already normalized by
 * the command (rate / max rate, or hits / max hits when every rate is zero)
 * and, for a live process, the tier (enum moetier_tier; -1 when unknown).
 * Rows are MoE layers labelled with their GGUF block numbers; columns are
 * experts. Every renderer draws a title, the grid with DRAM residency marked,
 * and a legend; none of them allocates per cell beyond one image buffer.
 */
#ifndef MOETIER_TOOLS_HEATMAP_H
#define MOETIER_TOOLS_HEATMAP_H

#include <stdint.h>
#include <stdio.h>

struct heatmap {
    const char *title;       /* "test-moe.gguf" */
    const char *subtitle;    /* "live pid 42 (llama-cli), 2024-05-01T12:00:00Z" */
    const char *value_name;  /* "rate" or "hits" */
    double max;              /* the raw value that 1.0 stands for (0: nothing seen) */
    uint32_t n_layers, n_experts;
    const int32_t *blocks;   /* [n_layers] */
    const float *value;      /* [n_layers * n_experts], layer-major, in [0, 1] */
    const int8_t *tier;      /* [n_layers * n_experts] or NULL (no residency known) */
};

/* The heat colour of v in [0, 1] (an inferno-like ramp), as 0xRRGGBB. */
uint32_t heatmap_rgb(double v);
/* The xterm-256 palette index nearest to a 0xRRGGBB colour. */
int heatmap_xterm256(uint32_t rgb);

/* ANSI text, width columns wide (experts wrap into bands); color: 256-colour
 * cells, else the character ramp " .:-=+*#%@". */
void heatmap_ansi(FILE *f, const struct heatmap *h, int color, int width);

/* A self-contained SVG document. */
void heatmap_svg(FILE *f, const struct heatmap *h);

/* A PNG image through libpng. Returns 0, or -1 with a message in err. */
int heatmap_png(FILE *f, const struct heatmap *h, char *err, size_t errlen);

#endif
