/*
 * png_canvas: an RGB image in memory, the few primitives the tools draw with
 * (pixels, rectangles, lines, 5x7 bitmap text) and its PNG writer (libpng).
 * Shared by the heatmap's PNG (heatmap_png.c) and sim's and replay's plots
 * (plot_png.h). Drawing outside the canvas is clipped, never an error.
 */
#ifndef MOETIER_TOOLS_PNG_CANVAS_H
#define MOETIER_TOOLS_PNG_CANVAS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct canvas {
    int w, h;
    unsigned char *px; /* RGB, row-major */
};

/* Allocates a w x h canvas filled with rgb. Returns 0, or -1 (out of memory). */
int canvas_init(struct canvas *c, int w, int h, uint32_t rgb);
void canvas_free(struct canvas *c);

void canvas_put(struct canvas *c, int x, int y, uint32_t rgb);
void canvas_fill(struct canvas *c, int x, int y, int w, int h, uint32_t rgb);
/* An inset outline of the w x h box at (x, y); dotted draws every other pixel. */
void canvas_outline(struct canvas *c, int x, int y, int w, int h, uint32_t rgb, int dotted);
/* A straight line, thick x thick pixels wide. */
void canvas_line(struct canvas *c, int x0, int y0, int x1, int y1, int thick, uint32_t rgb);
/* Text with its top-left at (x, y), each font pixel scale x scale; returns the width drawn. */
int canvas_text(struct canvas *c, int x, int y, const char *s, int scale, uint32_t rgb);
int canvas_text_width(const char *s, int scale);

/* Writes the canvas as an RGB PNG with Title and Software text chunks.
 * Returns 0, or -1 with a message in err. */
int canvas_write_png(FILE *f, const struct canvas *c, const char *title, const char *software, char *err,
                     size_t errlen);
/* The same into the file path, through path.tmp.PID renamed when whole. */
int canvas_save(const char *path, const struct canvas *c, const char *title, const char *software, char *err,
                size_t errlen);

#endif
