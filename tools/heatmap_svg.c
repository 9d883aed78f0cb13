/*
 * heatmap_svg: the layer x expert grid as a self-contained SVG document (no
 * external fonts, styles or images; see heatmap.h).
 *
 * One rect per cell filled with the heat colour, with a <title> tooltip;
 * residency as an inset outline (cyan DRAM, magenta pinned for CUDA, dashed
 * cyan mixed). Block numbers label the rows and expert numbers the columns,
 * thinned out so labels never overlap; a gradient legend and the residency
 * key sit under the grid. Text is XML-escaped.
 */
#include "tools/heatmap.h"

#include <string.h>

#define LEFT 64
#define TOP 78
#define RIGHT 24
#define LEGEND 86

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            /* control characters are not allowed in XML 1.0 */
            if ((unsigned char)*s < 0x20)
                fputc(' ', f);
            else
                fputc(*s, f);
        }
    }
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static const char *tier_word(int t)
{
    switch (t) {
    case 0: return "slow tier";
    case 1: return "DRAM";
    case 2: return "pinned for CUDA";
    case 3: return "mixed";
    }
    return NULL;
}

void heatmap_svg(FILE *f, const struct heatmap *h)
{
    uint32_t L = h->n_layers ? h->n_layers : 1, E = h->n_experts ? h->n_experts : 1;
    int cw = clampi((int)(1200 / E), 3, 24), ch = clampi((int)(720 / L), 3, 24);
    int gw = cw * (int)E, gh = ch * (int)L;
    int width = LEFT + gw + RIGHT, height = TOP + gh + LEGEND;
    if (width < 560)
        width = 560;

    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"DejaVu Sans Mono, Menlo, Consolas, monospace\">\n",
            width, height, width, height);
    fprintf(f, "<title>moetier heatmap: ");
    esc(f, h->title);
    fprintf(f, "</title>\n");
    fprintf(f, "<defs><linearGradient id=\"heat\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">");
    for (int i = 0; i <= 10; i++)
        fprintf(f, "<stop offset=\"%d%%\" stop-color=\"#%06x\"/>", i * 10, heatmap_rgb(i / 10.0));
    fprintf(f, "</linearGradient></defs>\n");
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n");
    fprintf(f, "<text x=\"%d\" y=\"24\" font-size=\"16\" font-weight=\"bold\">moetier heatmap: ", LEFT);
    esc(f, h->title);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"42\" font-size=\"12\" fill=\"#444\">", LEFT);
    esc(f, h->subtitle);
    fprintf(f, "</text>\n");

    /* axes */
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#444\">expert</text>\n", LEFT, TOP - 20);
    fprintf(f, "<text x=\"4\" y=\"%d\" font-size=\"11\" fill=\"#444\">block</text>\n", TOP - 6);
    uint32_t xstep = 1;
    while (xstep * (uint32_t)cw < 30)
        xstep *= 2;
    for (uint32_t e = 0; e < h->n_experts; e += xstep)
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%u</text>\n",
                LEFT + (int)e * cw + cw / 2, TOP - 6, e);
    uint32_t ystep = 1;
    while (ystep * (uint32_t)ch < 12)
        ystep++;
    for (uint32_t l = 0; l < h->n_layers; l += ystep)
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%d</text>\n", LEFT - 6,
                TOP + (int)l * ch + ch / 2 + 4, h->blocks[l]);

    /* cells */
    fprintf(f, "<g shape-rendering=\"crispEdges\">\n");
    for (uint32_t l = 0; l < h->n_layers; l++)
        for (uint32_t e = 0; e < h->n_experts; e++) {
            size_t i = (size_t)l * h->n_experts + e;
            int x = LEFT + (int)e * cw, y = TOP + (int)l * ch;
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#%06x\"><title>block %d expert %u: %.4f of max",
                    x, y, cw, ch, heatmap_rgb(h->value[i]), h->blocks[l], e, (double)h->value[i]);
            const char *tw = h->tier ? tier_word(h->tier[i]) : NULL;
            if (tw)
                fprintf(f, ", %s", tw);
            fprintf(f, "</title></rect>\n");
        }
    fprintf(f, "</g>\n");
    if (h->tier) {
        double sw = cw >= 8 && ch >= 8 ? 2 : 1;
        fprintf(f, "<g fill=\"none\" stroke-width=\"%g\">\n", sw);
        for (uint32_t l = 0; l < h->n_layers; l++)
            for (uint32_t e = 0; e < h->n_experts; e++) {
                int t = h->tier[(size_t)l * h->n_experts + e];
                if (t < 1 || t > 3)
                    continue;
                fprintf(f, "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" stroke=\"%s\"%s/>\n",
                        LEFT + e * (double)cw + sw / 2, TOP + l * (double)ch + sw / 2, cw - sw, ch - sw,
                        t == 2 ? "#ff4df0" : "#00e5ff", t == 3 ? " stroke-dasharray=\"2,2\"" : "");
            }
        fprintf(f, "</g>\n");
    }

    /* legend */
    int ly = TOP + gh + 28;
    char maxs[32];
    if (strcmp(h->value_name, "rate") == 0)
        snprintf(maxs, sizeof maxs, "%.4f", h->max);
    else
        snprintf(maxs, sizeof maxs, "%.0f", h->max);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"200\" height=\"12\" fill=\"url(#heat)\" stroke=\"#888\"/>\n", LEFT, ly);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\">0</text>\n", LEFT, ly + 26);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%s</text>\n", LEFT + 200, ly + 26, maxs);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s, scaled to its maximum</text>\n", LEFT + 212, ly + 10,
            h->value_name);
    if (h->tier) {
        int kx = LEFT, ky = ly + 40;
        static const struct { const char *label, *color, *dash; } keys[] = {
            { "in DRAM", "#00e5ff", "" },
            { "pinned for CUDA", "#ff4df0", "" },
            { "mixed", "#00e5ff", " stroke-dasharray=\"2,2\"" },
        };
        for (int i = 0; i < 3; i++) {
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#%06x\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                    kx, ky, heatmap_rgb(0.5), keys[i].color, keys[i].dash);
            fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">%s</text>\n", kx + 18, ky + 10, keys[i].label);
            kx += 40 + 8 * (int)strlen(keys[i].label);
        }
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">no outline: slow tier</text>\n", kx, ky + 10);
    } else {
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">no residency (a profile records none)</text>\n", LEFT,
                ly + 50);
    }
    fprintf(f, "</svg>\n");
}
