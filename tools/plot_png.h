/*
 * plot_png: the charts sim and replay draw as PNG (png_canvas.h underneath).
 *
 * Lines (plot_lines_png): panels stacked on one shared x axis, one line per
 * series in the colour-blind-safe palette below (Okabe and Ito's), each with a
 * marker of its own shape, and the legend in a column of PLOT_LEGEND_W pixels
 * at the right. Panel i fills rows [i * PLOT_PANEL_H, (i + 1) * PLOT_PANEL_H)
 * of the image (the title sits in the first), so a reader can tell the panels
 * apart by rows alone; y starts at 0.
 *
 * Residency (plot_residency_png): one column per token (PLOT_RES_MAX_COLS at
 * most: longer traces are sampled), one row per (layer, expert) pair, layers
 * top to bottom with a one-pixel gap between them; each pixel is a
 * moetier_replay_state's colour (tiering/replay.h). The legend and axes lie outside the grid, which
 * starts at (PLOT_RES_LEFT, PLOT_RES_TOP).
 */
#ifndef MOETIER_TOOLS_PLOT_PNG_H
#define MOETIER_TOOLS_PLOT_PNG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tiering/replay.h"

#define PLOT_PANEL_H 340
#define PLOT_LEGEND_W 220
#define PLOT_RES_LEFT 60
#define PLOT_RES_TOP 64
#define PLOT_RES_MAX_COLS 1600

/* Series i's colour, as 0xRRGGBB (cycles through 8). */
uint32_t plot_color(int i);

struct plot_lines {
    const char *title, *subtitle;
    const char *xlabel;
    int nx;
    const double *x;            /* [nx], increasing */
    const char *const *xticks;  /* [nx]: a label at each x */
    int nseries;
    const char *const *names;   /* [nseries] */
    int npanels;
    const char *const *ylabels; /* [npanels] */
    const double *const *y;     /* [npanels][nseries * nx], series-major; NaN: no point */
};

/* Writes the PNG to path (whole or not at all). Returns 0, or -1 with a
 * message in err. */
int plot_lines_png(const char *path, const struct plot_lines *p, char *err, size_t errlen);

/* The colour of each state. */
uint32_t plot_res_color(enum moetier_replay_state s);

struct plot_residency {
    const char *title, *subtitle;
    uint32_t layers, experts;
    uint64_t first, tokens; /* the tokens drawn: first .. first + tokens - 1 */
    const uint8_t *state; /* [tokens][layers * experts] from token first on: enum moetier_replay_state */
};

int plot_residency_png(const char *path, const struct plot_residency *p, char *err, size_t errlen);

#endif
