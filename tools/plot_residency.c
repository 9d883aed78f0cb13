/*
 * plot_residency: which (layer, expert) pairs the DRAM cache holds, token by
 * token, as a PNG (plot_png.h). One pixel per pair per token keeps a 26 x 64
 * pair, ~900-token trace near 900 x 1700 pixels: bands of layers, each a row
 * per expert, where a resident pair is a horizontal streak and its uses dots
 * on it.
 */
#include "tools/plot_png.h"
#include "tools/png_canvas.h"

#define WHITE 0xffffffu
#define TEXT 0x222222u
#define SOFT 0x555555u

uint32_t plot_res_color(enum moetier_replay_state s)
{
    /* Okabe and Ito's blue and vermillion for hits and misses, a pale tint of
     * their sky blue for idle residents, black for reads that left nothing */
    static const uint32_t col[MOETIER_RES_N] = { WHITE, 0xbcdcf2, 0x0072b2, 0xd55e00, 0x000000 };
    return col[s < MOETIER_RES_N ? s : MOETIER_RES_EMPTY];
}

int plot_residency_png(const char *path, const struct plot_residency *p, char *err, size_t errlen)
{
    uint32_t L = p->layers, E = p->experts, pairs = L * E;
    if (!L || !E || !p->tokens) {
        snprintf(err, errlen, "nothing to plot");
        return -1;
    }
    uint64_t step = (p->tokens + PLOT_RES_MAX_COLS - 1) / PLOT_RES_MAX_COLS;
    int cols = (int)((p->tokens + step - 1) / step), gh = (int)(L * (E + 1));
    int w = PLOT_RES_LEFT + cols + 24, h = PLOT_RES_TOP + gh + 64;
    if (w < 760)
        w = 760;
    struct canvas c;
    if (canvas_init(&c, w, h, WHITE)) {
        snprintf(err, errlen, "out of memory for a %dx%d image", w, h);
        return -1;
    }
    canvas_text(&c, 8, 8, p->title, 2, TEXT);
    if (p->subtitle)
        canvas_text(&c, 8, 28, p->subtitle, 1, SOFT);
    char buf[48];
    snprintf(buf, sizeof buf, "token%s", step > 1 ? " (sampled)" : "");
    canvas_text(&c, PLOT_RES_LEFT, PLOT_RES_TOP - 24, buf, 1, SOFT);
    canvas_text(&c, 4, PLOT_RES_TOP - 12, "layer", 1, SOFT);
    /* x ticks about every 100 pixels, at round token numbers */
    uint64_t xt = 1;
    for (uint64_t d = 1; !(xt >= 80 * step); d *= 10)
        xt = d >= 80 * step ? d : 2 * d >= 80 * step ? 2 * d : 5 * d >= 80 * step ? 5 * d : 10 * d;
    for (uint64_t t = (p->first + xt - 1) / xt * xt; t < p->first + p->tokens; t += xt) {
        int x = PLOT_RES_LEFT + (int)((t - p->first) / step);
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)t);
        canvas_fill(&c, x, PLOT_RES_TOP - 4, 1, 3, TEXT);
        canvas_text(&c, x - canvas_text_width(buf, 1) / 2, PLOT_RES_TOP - 13, buf, 1, TEXT);
    }
    uint32_t ly = 1;
    while (ly * (E + 1) < 12)
        ly++;
    for (uint32_t l = 0; l < L; l += ly) {
        snprintf(buf, sizeof buf, "%u", l);
        canvas_text(&c, PLOT_RES_LEFT - 6 - canvas_text_width(buf, 1), PLOT_RES_TOP + (int)(l * (E + 1)), buf, 1,
                    TEXT);
    }
    for (int x = 0; x < cols; x++) {
        const uint8_t *st = p->state + (uint64_t)x * step * pairs;
        for (uint32_t i = 0; i < pairs; i++)
            if (st[i] != MOETIER_RES_EMPTY)
                canvas_put(&c, PLOT_RES_LEFT + x, PLOT_RES_TOP + (int)(i / E * (E + 1) + i % E),
                           plot_res_color(st[i]));
    }
    /* layer bands: a grey rule in each gap (the gap row holds nothing else) */
    for (uint32_t l = 1; l < L; l++)
        canvas_fill(&c, PLOT_RES_LEFT, PLOT_RES_TOP + (int)(l * (E + 1)) - 1, cols, 1, 0xe4e4e4);
    canvas_outline(&c, PLOT_RES_LEFT - 1, PLOT_RES_TOP - 1, cols + 2, gh + 1, SOFT, 0);

    static const char *const key[MOETIER_RES_N] = { NULL, "in DRAM, unused", "hit", "miss, fetched",
                                                 "used, not kept" };
    int kx = PLOT_RES_LEFT, ky = PLOT_RES_TOP + gh + 14;
    for (int s = MOETIER_RES_IDLE; s < MOETIER_RES_N; s++) {
        canvas_fill(&c, kx, ky, 10, 10, plot_res_color((enum moetier_replay_state)s));
        kx += 16 + canvas_text(&c, kx + 16, ky + 2, key[s], 1, TEXT) + 16;
    }
    canvas_text(&c, PLOT_RES_LEFT, ky + 22, "rows: each layer's experts top to bottom; white: in the slow tier", 1,
                SOFT);
    int rc = canvas_save(path, &c, p->title, "moetier plot", err, errlen);
    canvas_free(&c);
    return rc;
}
