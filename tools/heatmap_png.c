/*
 * heatmap_png: the layer x expert grid as a PNG image through libpng (see
 * heatmap.h).
 *
 * Drawn into one RGB buffer, then written with png_write_image. Text (title,
 * axis labels, legend) uses a built-in 5x7 bitmap font (printable ASCII; other
 * bytes draw as '?'), so nothing depends on the fonts of the machine.
 * Residency: an inset cyan outline for DRAM, magenta for pinned, a dotted cyan
 * outline for mixed; cells too small for an outline get a centre dot.
 * libpng reports errors by longjmp: everything it may jump over is set up
 * before the setjmp and freed after it.
 */
#include "tools/heatmap.h"

#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

/* 5x7 glyphs for ASCII 32..126: five columns each, bit 0 the top row. */
static const unsigned char font5x7[95][5] = {
    { 0x00, 0x00, 0x00, 0x00, 0x00 }, { 0x00, 0x00, 0x5f, 0x00, 0x00 }, { 0x00, 0x07, 0x00, 0x07, 0x00 },
    { 0x14, 0x7f, 0x14, 0x7f, 0x14 }, { 0x24, 0x2a, 0x7f, 0x2a, 0x12 }, { 0x23, 0x13, 0x08, 0x64, 0x62 },
    { 0x36, 0x49, 0x55, 0x22, 0x50 }, { 0x00, 0x05, 0x03, 0x00, 0x00 }, { 0x00, 0x1c, 0x22, 0x41, 0x00 },
    { 0x00, 0x41, 0x22, 0x1c, 0x00 }, { 0x08, 0x2a, 0x1c, 0x2a, 0x08 }, { 0x08, 0x08, 0x3e, 0x08, 0x08 },
    { 0x00, 0x50, 0x30, 0x00, 0x00 }, { 0x08, 0x08, 0x08, 0x08, 0x08 }, { 0x00, 0x60, 0x60, 0x00, 0x00 },
    { 0x20, 0x10, 0x08, 0x04, 0x02 }, { 0x3e, 0x51, 0x49, 0x45, 0x3e }, { 0x00, 0x42, 0x7f, 0x40, 0x00 },
    { 0x42, 0x61, 0x51, 0x49, 0x46 }, { 0x21, 0x41, 0x45, 0x4b, 0x31 }, { 0x18, 0x14, 0x12, 0x7f, 0x10 },
    { 0x27, 0x45, 0x45, 0x45, 0x39 }, { 0x3c, 0x4a, 0x49, 0x49, 0x30 }, { 0x01, 0x71, 0x09, 0x05, 0x03 },
    { 0x36, 0x49, 0x49, 0x49, 0x36 }, { 0x06, 0x49, 0x49, 0x29, 0x1e }, { 0x00, 0x36, 0x36, 0x00, 0x00 },
    { 0x00, 0x56, 0x36, 0x00, 0x00 }, { 0x08, 0x14, 0x22, 0x41, 0x00 }, { 0x14, 0x14, 0x14, 0x14, 0x14 },
    { 0x00, 0x41, 0x22, 0x14, 0x08 }, { 0x02, 0x01, 0x51, 0x09, 0x06 }, { 0x32, 0x49, 0x79, 0x41, 0x3e },
    { 0x7e, 0x11, 0x11, 0x11, 0x7e }, { 0x7f, 0x49, 0x49, 0x49, 0x36 }, { 0x3e, 0x41, 0x41, 0x41, 0x22 },
    { 0x7f, 0x41, 0x41, 0x22, 0x1c }, { 0x7f, 0x49, 0x49, 0x49, 0x41 }, { 0x7f, 0x09, 0x09, 0x09, 0x01 },
    { 0x3e, 0x41, 0x49, 0x49, 0x7a }, { 0x7f, 0x08, 0x08, 0x08, 0x7f }, { 0x00, 0x41, 0x7f, 0x41, 0x00 },
    { 0x20, 0x40, 0x41, 0x3f, 0x01 }, { 0x7f, 0x08, 0x14, 0x22, 0x41 }, { 0x7f, 0x40, 0x40, 0x40, 0x40 },
    { 0x7f, 0x02, 0x0c, 0x02, 0x7f }, { 0x7f, 0x04, 0x08, 0x10, 0x7f }, { 0x3e, 0x41, 0x41, 0x41, 0x3e },
    { 0x7f, 0x09, 0x09, 0x09, 0x06 }, { 0x3e, 0x41, 0x51, 0x21, 0x5e }, { 0x7f, 0x09, 0x19, 0x29, 0x46 },
    { 0x46, 0x49, 0x49, 0x49, 0x31 }, { 0x01, 0x01, 0x7f, 0x01, 0x01 }, { 0x3f, 0x40, 0x40, 0x40, 0x3f },
    { 0x1f, 0x20, 0x40, 0x20, 0x1f }, { 0x3f, 0x40, 0x38, 0x40, 0x3f }, { 0x63, 0x14, 0x08, 0x14, 0x63 },
    { 0x07, 0x08, 0x70, 0x08, 0x07 }, { 0x61, 0x51, 0x49, 0x45, 0x43 }, { 0x00, 0x7f, 0x41, 0x41, 0x00 },
    { 0x02, 0x04, 0x08, 0x10, 0x20 }, { 0x00, 0x41, 0x41, 0x7f, 0x00 }, { 0x04, 0x02, 0x01, 0x02, 0x04 },
    { 0x40, 0x40, 0x40, 0x40, 0x40 }, { 0x00, 0x01, 0x02, 0x04, 0x00 }, { 0x20, 0x54, 0x54, 0x54, 0x78 },
    { 0x7f, 0x48, 0x44, 0x44, 0x38 }, { 0x38, 0x44, 0x44, 0x44, 0x20 }, { 0x38, 0x44, 0x44, 0x48, 0x7f },
    { 0x38, 0x54, 0x54, 0x54, 0x18 }, { 0x08, 0x7e, 0x09, 0x01, 0x02 }, { 0x08, 0x54, 0x54, 0x54, 0x3c },
    { 0x7f, 0x08, 0x04, 0x04, 0x78 }, { 0x00, 0x44, 0x7d, 0x40, 0x00 }, { 0x20, 0x40, 0x44, 0x3d, 0x00 },
    { 0x7f, 0x10, 0x28, 0x44, 0x00 }, { 0x00, 0x41, 0x7f, 0x40, 0x00 }, { 0x7c, 0x04, 0x18, 0x04, 0x78 },
    { 0x7c, 0x08, 0x04, 0x04, 0x78 }, { 0x38, 0x44, 0x44, 0x44, 0x38 }, { 0x7c, 0x14, 0x14, 0x14, 0x08 },
    { 0x08, 0x14, 0x14, 0x18, 0x7c }, { 0x7c, 0x08, 0x04, 0x04, 0x08 }, { 0x48, 0x54, 0x54, 0x54, 0x20 },
    { 0x04, 0x3f, 0x44, 0x40, 0x20 }, { 0x3c, 0x40, 0x40, 0x20, 0x7c }, { 0x1c, 0x20, 0x40, 0x20, 0x1c },
    { 0x3c, 0x40, 0x30, 0x40, 0x3c }, { 0x44, 0x28, 0x10, 0x28, 0x44 }, { 0x0c, 0x50, 0x50, 0x50, 0x3c },
    { 0x44, 0x64, 0x54, 0x4c, 0x44 }, { 0x00, 0x08, 0x36, 0x41, 0x00 }, { 0x00, 0x00, 0x7f, 0x00, 0x00 },
    { 0x00, 0x41, 0x36, 0x08, 0x00 }, { 0x08, 0x04, 0x08, 0x10, 0x08 },
};

#define GLYPH_ADV 6 /* 5 columns + 1 of spacing */
#define BLACK 0x000000u
#define GREY 0x555555u
#define WHITE 0xffffffu
#define CYAN 0x00e5ffu
#define MAGENTA 0xff4df0u

struct canvas {
    int w, h;
    unsigned char *px; /* RGB, row-major */
};

static void put(struct canvas *c, int x, int y, uint32_t rgb)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h)
        return;
    unsigned char *p = c->px + ((size_t)y * (size_t)c->w + (size_t)x) * 3;
    p[0] = (unsigned char)(rgb >> 16);
    p[1] = (unsigned char)(rgb >> 8);
    p[2] = (unsigned char)rgb;
}

static void fill(struct canvas *c, int x, int y, int w, int h, uint32_t rgb)
{
    for (int j = 0; j < h; j++)
        for (int i = 0; i < w; i++)
            put(c, x + i, y + j, rgb);
}

/* Text at (x, y) = top-left, each font pixel scale x scale; returns the width drawn. */
static int text(struct canvas *c, int x, int y, const char *s, int scale, uint32_t rgb)
{
    int x0 = x;
    for (; s && *s; s++, x += GLYPH_ADV * scale) {
        unsigned char ch = (unsigned char)*s;
        const unsigned char *g = font5x7[(ch >= 32 && ch <= 126 ? ch : '?') - 32];
        for (int col = 0; col < 5; col++)
            for (int row = 0; row < 7; row++)
                if (g[col] >> row & 1)
                    fill(c, x + col * scale, y + row * scale, scale, scale, rgb);
    }
    return x - x0;
}

static int text_width(const char *s, int scale)
{
    return (int)strlen(s) * GLYPH_ADV * scale;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* An inset outline of the cell; dotted draws every other pixel. */
static void outline(struct canvas *c, int x, int y, int w, int h, uint32_t rgb, int dotted)
{
    for (int i = 0; i < w; i++)
        if (!dotted || !(i & 1)) {
            put(c, x + i, y, rgb);
            put(c, x + i, y + h - 1, rgb);
        }
    for (int j = 0; j < h; j++)
        if (!dotted || !(j & 1)) {
            put(c, x, y + j, rgb);
            put(c, x + w - 1, y + j, rgb);
        }
}

static void draw(struct canvas *c, const struct heatmap *h, int left, int top, int cw, int ch)
{
    char buf[64];
    fill(c, 0, 0, c->w, c->h, WHITE);
    char title[400];
    snprintf(title, sizeof title, "moetier heatmap: %s", h->title);
    text(c, 8, 8, title, 2, BLACK);
    text(c, 8, 28, h->subtitle, 1, GREY);

    /* axes: labels thinned so they never touch */
    text(c, left, top - 24, "expert", 1, GREY);
    text(c, 4, top - 12, "block", 1, GREY);
    uint32_t xstep = 1;
    while ((int)xstep * cw < 30)
        xstep *= 2;
    for (uint32_t e = 0; e < h->n_experts; e += xstep) {
        snprintf(buf, sizeof buf, "%u", e);
        text(c, left + (int)e * cw + cw / 2 - text_width(buf, 1) / 2, top - 11, buf, 1, BLACK);
    }
    uint32_t ystep = 1;
    while ((int)ystep * ch < 10)
        ystep++;
    for (uint32_t l = 0; l < h->n_layers; l += ystep) {
        snprintf(buf, sizeof buf, "%d", h->blocks[l]);
        text(c, left - 6 - text_width(buf, 1), top + (int)l * ch + ch / 2 - 3, buf, 1, BLACK);
    }

    for (uint32_t l = 0; l < h->n_layers; l++)
        for (uint32_t e = 0; e < h->n_experts; e++) {
            size_t i = (size_t)l * h->n_experts + e;
            int x = left + (int)e * cw, y = top + (int)l * ch;
            fill(c, x, y, cw, ch, heatmap_rgb(h->value[i]));
            int t = h->tier ? h->tier[i] : 0;
            if (t < 1 || t > 3)
                continue;
            uint32_t col = t == 2 ? MAGENTA : CYAN;
            if (cw >= 5 && ch >= 5)
                outline(c, x, y, cw, ch, col, t == 3);
            else
                put(c, x + cw / 2, y + ch / 2, col);
        }

    /* legend: the ramp, its ends, and the residency key */
    int ly = top + (int)h->n_layers * ch + 16;
    for (int i = 0; i < 200; i++)
        fill(c, left + i, ly, 1, 12, heatmap_rgb(i / 199.0));
    outline(c, left - 1, ly - 1, 202, 14, GREY, 0);
    text(c, left, ly + 17, "0", 1, BLACK);
    if (strcmp(h->value_name, "rate") == 0)
        snprintf(buf, sizeof buf, "%.4f", h->max);
    else
        snprintf(buf, sizeof buf, "%.0f", h->max);
    text(c, left + 200 - text_width(buf, 1), ly + 17, buf, 1, BLACK);
    snprintf(title, sizeof title, "%s, scaled to its maximum", h->value_name);
    text(c, left + 212, ly + 3, title, 1, BLACK);
    int ky = ly + 32, kx = left;
    if (h->tier) {
        static const struct { const char *label; uint32_t color; int dotted; } keys[] = {
            { "in DRAM", CYAN, 0 }, { "pinned for CUDA", MAGENTA, 0 }, { "mixed", CYAN, 1 },
        };
        for (int i = 0; i < 3; i++) {
            fill(c, kx, ky, 10, 10, heatmap_rgb(0.5));
            outline(c, kx, ky, 10, 10, keys[i].color, keys[i].dotted);
            kx += 14 + text(c, kx + 14, ky + 2, keys[i].label, 1, BLACK) + 12;
        }
        text(c, kx, ky + 2, "no outline: slow tier", 1, BLACK);
    } else {
        text(c, kx, ky + 2, "no residency (a profile records none)", 1, BLACK);
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
        if (text_width(buf, 1) > bw)
            bw = text_width(buf, 1);
    }
    int left = (bw > 30 ? bw : 30) + 12, top = 64;
    struct canvas c;
    c.w = left + (int)E * cw + 16;
    int title_w = 16 + text_width("moetier heatmap: ", 2) + text_width(h->title, 2);
    int sub_w = 16 + text_width(h->subtitle ? h->subtitle : "", 1);
    int legend_w = left + 212 + text_width("hits, scaled to its maximum", 1) + 8;
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
    c.px = malloc((size_t)c.w * (size_t)c.h * 3);
    png_bytep *rows = malloc((size_t)c.h * sizeof *rows);
    if (!c.px || !rows) {
        free(c.px);
        free(rows);
        snprintf(err, errlen, "out of memory for a %dx%d image", c.w, c.h);
        return -1;
    }
    draw(&c, h, left, top, cw, ch);
    for (int y = 0; y < c.h; y++)
        rows[y] = c.px + (size_t)y * (size_t)c.w * 3;

    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    int rc = -1;
    if (!png || !info) {
        snprintf(err, errlen, "libpng: cannot create a writer");
        goto out;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(err, errlen, "libpng failed while writing the image");
        goto out;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)c.w, (png_uint_32)c.h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_text meta[2];
    memset(meta, 0, sizeof meta);
    meta[0].compression = PNG_TEXT_COMPRESSION_NONE;
    meta[0].key = (png_charp) "Title";
    meta[0].text = (png_charp)h->title;
    meta[1].compression = PNG_TEXT_COMPRESSION_NONE;
    meta[1].key = (png_charp) "Software";
    meta[1].text = (png_charp) "moetier heatmap";
    png_set_text(png, info, meta, 2);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
    rc = 0;
out:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    free(rows);
    free(c.px);
    return rc;
}
