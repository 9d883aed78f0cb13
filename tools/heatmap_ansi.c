/*
 * heatmap_ansi: the layer x expert grid as terminal text (see heatmap.h).
 *
 * Each cell is two columns (terminal cells are about twice as tall as wide,
 * so two make a square). Without colour the first column is the heat
 * character from the ramp " .:-=+*#%@" (blank = never used) and the second
 * the residency mark (d DRAM, p pinned for CUDA, m mixed, blank slow tier);
 * with no residency known the heat character fills both. With colour the
 * cell's background is the heat colour (xterm-256) and the mark is drawn in
 * black or white, whichever reads better. Experts wider than the terminal
 * wrap into bands, each with its own expert axis. Output is stable for the
 * same input and width (golden-tested).
 */
#include "tools/heatmap.h"

#include <string.h>

static const char ramp[] = " .:-=+*#%@";
#define RAMP_TOP 9 /* index of '@' */

static int level(float v)
{
    if (!(v > 0))
        return 0;
    int l = 1 + (int)(v * RAMP_TOP);
    return l > RAMP_TOP ? RAMP_TOP : l;
}

static char mark(int tier)
{
    switch (tier) {
    case 1: return 'd'; /* MOETIER_TIER_DRAM */
    case 2: return 'p'; /* MOETIER_TIER_PINNED */
    case 3: return 'm'; /* MOETIER_TIER_MIXED */
    }
    return ' ';
}

static int digits(long v)
{
    int d = v < 0 ? 2 : 1;
    for (v = v < 0 ? -v : v; v >= 10; v /= 10)
        d++;
    return d;
}

static void value_text(const struct heatmap *h, char *buf, size_t cap)
{
    if (strcmp(h->value_name, "rate") == 0)
        snprintf(buf, cap, "%.4f", h->max);
    else
        snprintf(buf, cap, "%.0f", h->max);
}

void heatmap_ansi(FILE *f, const struct heatmap *h, int color, int width)
{
    char maxs[32];
    value_text(h, maxs, sizeof maxs);
    fprintf(f, "moetier heatmap: %s\n", h->title);
    if (h->subtitle && *h->subtitle)
        fprintf(f, "%s\n", h->subtitle);
    if (h->max > 0)
        fprintf(f, "value: %s per (layer, expert), scaled to the maximum %s\n", h->value_name, maxs);
    else
        fprintf(f, "value: %s per (layer, expert); nothing sampled yet\n", h->value_name);
    if (!h->n_layers || !h->n_experts) {
        fprintf(f, "(no experts)\n");
        return;
    }

    int bw = 5; /* "block" */
    for (uint32_t l = 0; l < h->n_layers; l++)
        if (digits(h->blocks[l]) > bw)
            bw = digits(h->blocks[l]);
    int label = bw + 2; /* "NNNNN |" */
    uint32_t tick = h->n_experts <= 16 ? 4 : 8;
    long room = (width - label) / 2;
    uint32_t per_band = room < 1 ? 1 : (uint32_t)room;
    if (per_band >= tick && per_band < h->n_experts)
        per_band -= per_band % tick;
    if (per_band > h->n_experts)
        per_band = h->n_experts;

    for (uint32_t e0 = 0; e0 < h->n_experts; e0 += per_band) {
        uint32_t e1 = e0 + per_band > h->n_experts ? h->n_experts : e0 + per_band;
        fprintf(f, "\n%*s  experts %u-%u\n", bw, "", e0, e1 - 1);
        /* the expert axis: a number at every tick */
        char axis[4096];
        size_t w = (size_t)(e1 - e0) * 2;
        if (w >= sizeof axis)
            w = sizeof axis - 1;
        memset(axis, ' ', w);
        axis[w] = '\0';
        for (uint32_t e = e0; e < e1; e++)
            if (e % tick == 0) {
                char num[16];
                int n = snprintf(num, sizeof num, "%u", e);
                size_t at = (size_t)(e - e0) * 2;
                for (int i = 0; i < n && at + (size_t)i < w; i++)
                    axis[at + (size_t)i] = num[i];
            }
        size_t end = strlen(axis);
        while (end && axis[end - 1] == ' ')
            axis[--end] = '\0';
        fprintf(f, "%*s |%s\n", bw, "block", axis);
        for (uint32_t l = 0; l < h->n_layers; l++) {
            fprintf(f, "%*d |", bw, h->blocks[l]);
            int open = 0;
            for (uint32_t e = e0; e < e1; e++) {
                size_t i = (size_t)l * h->n_experts + e;
                float v = h->value[i];
                int t = h->tier ? h->tier[i] : -1;
                if (color) {
                    uint32_t rgb = heatmap_rgb(v);
                    int lum = (int)(((rgb >> 16) & 0xff) * 3 + ((rgb >> 8) & 0xff) * 6 + (rgb & 0xff)) / 10;
                    fprintf(f, "\033[48;5;%d;38;5;%dm%c ", heatmap_xterm256(rgb), lum > 140 ? 16 : 231,
                            t >= 0 ? mark(t) : ' ');
                    open = 1;
                } else {
                    char c = ramp[level(v)];
                    fputc(c, f);
                    fputc(t >= 0 ? mark(t) : c, f);
                }
            }
            if (open)
                fputs("\033[0m", f);
            fputc('\n', f);
        }
    }

    fputc('\n', f);
    if (color) {
        fputs("scale: 0 ", f);
        for (int i = 0; i <= RAMP_TOP; i++)
            fprintf(f, "\033[48;5;%dm  ", heatmap_xterm256(heatmap_rgb(i / (double)RAMP_TOP)));
        fprintf(f, "\033[0m %s (%s)\n", maxs, h->value_name);
    } else {
        fprintf(f, "scale: \"%s\" from 0 (blank: never used) to %s (%s)\n", ramp, maxs, h->value_name);
    }
    if (h->tier)
        fputs("marks: d in DRAM, p pinned for CUDA, m mixed, blank on the slow tier\n", f);
    else
        fputs("marks: none (a profile records no residency)\n", f);
}
