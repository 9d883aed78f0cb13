/*
 * plot_lines: panels of lines over one shared x axis, as a PNG (plot_png.h).
 *
 * Colour alone does not tell the series apart (colour-blind readers, grey
 * prints): each also has a marker shape of its own. Text is a dark grey, not
 * black, so that black stays one series' colour only and a count of its
 * pixels means the line.
 */
#include "tools/plot_png.h"
#include "tools/png_canvas.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define W 1000
#define LEFT 76
#define WHITE 0xffffffu
#define TEXT 0x222222u
#define SOFT 0x555555u
#define GRID 0xdededeu

uint32_t plot_color(int i)
{
    /* Okabe and Ito's palette, their yellow (too pale on white) as a grey */
    static const uint32_t pal[8] = { 0xe69f00, 0x56b4e9, 0x009e73, 0x0072b2,
                                     0xd55e00, 0xcc79a7, 0x000000, 0x999999 };
    return pal[(i % 8 + 8) % 8];
}

static void marker(struct canvas *c, int x, int y, int shape, uint32_t rgb)
{
    switch (shape % 4) {
    case 0: canvas_fill(c, x - 3, y - 3, 7, 7, rgb); break;
    case 1:
        canvas_outline(c, x - 4, y - 4, 9, 9, rgb, 0);
        canvas_outline(c, x - 3, y - 3, 7, 7, rgb, 0);
        break;
    case 2:
        for (int j = -4; j <= 4; j++)
            canvas_fill(c, x - (4 - abs(j)), y + j, 2 * (4 - abs(j)) + 1, 1, rgb);
        break;
    default:
        canvas_line(c, x - 4, y - 4, x + 4, y + 4, 2, rgb);
        canvas_line(c, x - 4, y + 4, x + 4, y - 4, 2, rgb);
    }
}

/* A step of 1, 2 or 5 x 10^k giving about five ticks up to max. */
static double nice_step(double max)
{
    double raw = max / 5, p = pow(10, floor(log10(raw))), f = raw / p;
    return p * (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10);
}

static void panel(struct canvas *c, const struct plot_lines *p, int k, int top, int bottom, int right)
{
    const double *y = p->y[k];
    double max = 0;
    for (int i = 0; i < p->nseries * p->nx; i++)
        if (isfinite(y[i]) && y[i] > max)
            max = y[i];
    if (!(max > 0))
        max = 1;
    double step = nice_step(max), ymax = ceil(max / step - 1e-9) * step;
    double x0 = p->x[0], x1 = p->x[p->nx - 1];
    if (!(x1 > x0))
        x0 -= 1, x1 += 1;
    int bw = right - LEFT, bh = bottom - top;
#define PX(v) (LEFT + 14 + (int)lround(((v) - x0) / (x1 - x0) * (bw - 28)))
#define PY(v) (bottom - (int)lround((v) / ymax * bh))
    char buf[32];
    canvas_text(c, LEFT - 60, top - 18, p->ylabels[k], 1, TEXT);
    for (int t = 0; t * step <= ymax + step * 1e-6; t++) {
        double v = t * step;
        canvas_fill(c, LEFT, PY(v), bw, 1, GRID);
        snprintf(buf, sizeof buf, step >= 1 ? "%.0f" : "%g", v);
        canvas_text(c, LEFT - 6 - canvas_text_width(buf, 1), PY(v) - 3, buf, 1, TEXT);
    }
    for (int i = 0; i < p->nx; i++) {
        int x = PX(p->x[i]);
        canvas_fill(c, x, top, 1, bh, GRID);
        canvas_fill(c, x, bottom, 1, 5, TEXT);
        const char *l = p->xticks[i];
        canvas_text(c, x - canvas_text_width(l, 1) / 2, bottom + 8, l, 1, TEXT);
    }
    canvas_outline(c, LEFT, top, bw + 1, bh + 1, TEXT, 0);
    canvas_text(c, LEFT + bw / 2 - canvas_text_width(p->xlabel, 1) / 2, bottom + 22, p->xlabel, 1, SOFT);
    for (int s = 0; s < p->nseries; s++) {
        const double *v = y + (size_t)s * p->nx;
        for (int i = 0; i + 1 < p->nx; i++)
            if (isfinite(v[i]) && isfinite(v[i + 1]))
                canvas_line(c, PX(p->x[i]), PY(v[i]), PX(p->x[i + 1]), PY(v[i + 1]), 2, plot_color(s));
        for (int i = 0; i < p->nx; i++)
            if (isfinite(v[i]))
                marker(c, PX(p->x[i]), PY(v[i]), s, plot_color(s));
    }
#undef PX
#undef PY
}

int plot_lines_png(const char *path, const struct plot_lines *p, char *err, size_t errlen)
{
    if (p->nx < 1 || p->npanels < 1) {
        snprintf(err, errlen, "nothing to plot");
        return -1;
    }
    struct canvas c;
    if (canvas_init(&c, W, p->npanels * PLOT_PANEL_H, WHITE)) {
        snprintf(err, errlen, "out of memory for a %dx%d image", W, p->npanels * PLOT_PANEL_H);
        return -1;
    }
    int right = W - PLOT_LEGEND_W - 16;
    canvas_text(&c, 8, 8, p->title, 2, TEXT);
    if (p->subtitle)
        canvas_text(&c, 8, 28, p->subtitle, 1, SOFT);
    for (int k = 0; k < p->npanels; k++) {
        int y0 = k * PLOT_PANEL_H;
        panel(&c, p, k, y0 + (k ? 34 : 70), y0 + PLOT_PANEL_H - 40, right);
    }
    /* the legend: a stroke with the series' marker, then its name */
    int lx = W - PLOT_LEGEND_W + 8, ly = 70;
    for (int s = 0; s < p->nseries; s++, ly += 18) {
        canvas_line(&c, lx, ly + 3, lx + 26, ly + 3, 2, plot_color(s));
        marker(&c, lx + 13, ly + 3, s, plot_color(s));
        canvas_text(&c, lx + 34, ly, p->names[s], 1, TEXT);
    }
    int rc = canvas_save(path, &c, p->title, "moetier plot", err, errlen);
    canvas_free(&c);
    return rc;
}
