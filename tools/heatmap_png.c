/*
 * heatmap_png: the layer x expert grid as a PNG image through libpng (see
 * heatmap.h).
 *
 * Drawn on a canvas (png_canvas.h: its 5x7 font writes the title, axis labels
 * and legend), then written as a PNG.
 * Residency: an inset cyan outline for DRAM, magenta for pinned, a dotted cyan
 * outline for mixed; cells too small for an outline get a centre dot.
 */
#include "tools/heatmap.h"
#include "tools/png_canvas.h"

#include <string.h>

#define BLACK 0x000000u
#define GREY 0x555555u
#define WHITE 0xffffffu
#define CYAN 0x00e5ffu
#define MAGENTA 0xff4df0u

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void draw(struct canvas *c, const struct heatmap *h, int left, int top, int cw, int ch)
{
    char buf[64];
    canvas_fill(c, 0, 0, c->w, c->h, WHITE);
    char title[400];
    snprintf(title, sizeof title, "moetier heatmap: %s", h->title);
    canvas_text(c, 8, 8, title, 2, BLACK);
    canvas_text(c, 8, 28, h->subtitle, 1, GREY);

    /* axes: labels thinned so they never touch */
    canvas_text(c, left, top - 24, "expert", 1, GREY);
    canvas_text(c, 4, top - 12, "block", 1, GREY);
    uint32_t xstep = 1;
    while ((int)xstep * cw < 30)
        xstep *= 2;
    for (uint32_t e = 0; e < h->n_experts; e += xstep) {
        snprintf(buf, sizeof buf, "%u", e);
        canvas_text(c, left + (int)e * cw + cw / 2 - canvas_text_width(buf, 1) / 2, top - 11, buf, 1, BLACK);
    }
    uint32_t ystep = 1;
    while ((int)ystep * ch < 10)
        ystep++;
    for (uint32_t l = 0; l < h->n_layers; l += ystep) {
        snprintf(buf, sizeof buf, "%d", h->blocks[l]);
        canvas_text(c, left - 6 - canvas_text_width(buf, 1), top + (int)l * ch + ch / 2 - 3, buf, 1, BLACK);
    }

    for (uint32_t l = 0; l < h->n_layers; l++)
        for (uint32_t e = 0; e < h->n_experts; e++) {
            size_t i = (size_t)l * h->n_experts + e;
            int x = left + (int)e * cw, y = top + (int)l * ch;
            canvas_fill(c, x, y, cw, ch, heatmap_rgb(h->value[i]));
            int t = h->tier ? h->tier[i] : 0;
            if (t < 1 || t > 3)
                continue;
            uint32_t col = t == 2 ? MAGENTA : CYAN;
            if (cw >= 5 && ch >= 5)
                canvas_outline(c, x, y, cw, ch, col, t == 3);
            else
                canvas_put(c, x + cw / 2, y + ch / 2, col);
        }

    /* legend: the ramp, its ends, and the residency key */
    int ly = top + (int)h->n_layers * ch + 16;
    for (int i = 0; i < 200; i++)
        canvas_fill(c, left + i, ly, 1, 12, heatmap_rgb(i / 199.0));
    canvas_outline(c, left - 1, ly - 1, 202, 14, GREY, 0);
    canvas_text(c, left, ly + 17, "0", 1, BLACK);
    if (strcmp(h->value_name, "rate") == 0)
        snprintf(buf, sizeof buf, "%.4f", h->max);
    else
        snprintf(buf, sizeof buf, "%.0f", h->max);
    canvas_text(c, left + 200 - canvas_text_width(buf, 1), ly + 17, buf, 1, BLACK);
    snprintf(title, sizeof title, "%s, scaled to its maximum", h->value_name);
    canvas_text(c, left + 212, ly + 3, title, 1, BLACK);
    int ky = ly + 32, kx = left;
    if (h->tier) {
        static const struct { const char *label; uint32_t color; int dotted; } keys[] = {
            { "in DRAM", CYAN, 0 }, { "pinned for CUDA", MAGENTA, 0 }, { "mixed", CYAN, 1 },
        };
        for (int i = 0; i < 3; i++) {
            canvas_fill(c, kx, ky, 10, 10, heatmap_rgb(0.5));
            canvas_outline(c, kx, ky, 10, 10, keys[i].color, keys[i].dotted);
            kx += 14 + canvas_text(c, kx + 14, ky + 2, keys[i].label, 1, BLACK) + 12;
        }
        canvas_text(c, kx, ky + 2, "no outline: slow tier", 1, BLACK);
    } else {
        canvas_text(c, kx, ky + 2, "no residency (a profile records none)", 1, BLACK);
    }
}

int heatmap_png(FILE *f, const struct heatmap *h, char *err, size_t errlen)
{
    uint32_t L = h->n_layers ? h->n_layers : 1, E = h->n_experts ? h->n_experts : 1;
    int cw = clampi((int)(1400 / E), 2, 16), ch = clampi((int)(800 / L), 2, 16);
    int bw = 0;
    for (uint32_t l = 0; l < h->n_layers; l++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", h->blocks[l]);
        if (canvas_text_width(buf, 1) > bw)
            bw = canvas_text_width(buf, 1);
    }
    int left = (bw > 30 ? bw : 30) + 12, top = 64;
    struct canvas c;
    c.w = left + (int)E * cw + 16;
    int title_w = 16 + canvas_text_width("moetier heatmap: ", 2) + canvas_text_width(h->title, 2);
    int sub_w = 16 + canvas_text_width(h->subtitle ? h->subtitle : "", 1);
    int legend_w = left + 212 + canvas_text_width("hits, scaled to its maximum", 1) + 8;
    if (h->tier && left + 400 > legend_w)
        legend_w = left + 400;
    if (title_w > c.w)
        c.w = title_w;
    if (sub_w > c.w)
        c.w = sub_w;
    if (legend_w > c.w)
        c.w = legend_w;
    if (c.w > 8000)
        c.w = 8000; /* an absurdly long title is cut, the grid always fits (E <= 1400 / 2 wide cells) */
    c.h = top + (int)L * ch + 64;
    if (canvas_init(&c, c.w, c.h, WHITE)) {
        snprintf(err, errlen, "out of memory for a %dx%d image", c.w, c.h);
        return -1;
    }
    draw(&c, h, left, top, cw, ch);
    int rc = canvas_write_png(f, &c, h->title, "moetier heatmap", err, errlen);
    canvas_free(&c);
    return rc;
}
