/*
 * heatmap_color: the heat colour ramp shared by the heatmap renderers, and
 * its nearest xterm-256 palette colours for terminals.
 *
 * The ramp is inferno-like (dark purple through red and orange to pale
 * yellow): perceptually ordered, readable when printed in grey, and with a
 * near-black zero so unused experts recede.
 */
#include "tools/heatmap.h"

static const uint32_t stops[] = {
    0x000004, 0x160b39, 0x420a68, 0x6a176e, 0x932667, 0xbc3754,
    0xdd513a, 0xf37819, 0xfca50a, 0xf6d746, 0xfcffa4,
};
#define N_STOPS (sizeof stops / sizeof stops[0])

uint32_t heatmap_rgb(double v)
{
    if (!(v > 0))
        return stops[0];
    if (v >= 1)
        return stops[N_STOPS - 1];
    double x = v * (double)(N_STOPS - 1);
    int i = (int)x;
    double f = x - i;
    uint32_t a = stops[i], b = stops[i + 1], out = 0;
    for (int shift = 16; shift >= 0; shift -= 8) {
        double ca = (a >> shift) & 0xff, cb = (b >> shift) & 0xff;
        uint32_t c = (uint32_t)(ca + (cb - ca) * f + 0.5);
        out |= (c > 255 ? 255 : c) << shift;
    }
    return out;
}

/* Nearest level of the xterm 6x6x6 cube (0, 95, 135, 175, 215, 255). */
static int cube_level(int c, int *value)
{
    static const int levels[6] = { 0, 95, 135, 175, 215, 255 };
    int best = 0;
    for (int i = 1; i < 6; i++)
        if ((c - levels[i]) * (c - levels[i]) < (c - levels[best]) * (c - levels[best]))
            best = i;
    *value = levels[best];
    return best;
}

int heatmap_xterm256(uint32_t rgb)
{
    int r = (int)(rgb >> 16) & 0xff, g = (int)(rgb >> 8) & 0xff, b = (int)rgb & 0xff;
    int vr, vg, vb;
    int ir = cube_level(r, &vr), ig = cube_level(g, &vg), ib = cube_level(b, &vb);
    int cube = 16 + 36 * ir + 6 * ig + ib;
    long dcube = (long)(r - vr) * (r - vr) + (long)(g - vg) * (g - vg) + (long)(b - vb) * (b - vb);
    /* the grey ramp 232..255 (8, 18, ..., 238) may be closer */
    int avg = (r + g + b) / 3, gi = avg < 8 ? 0 : (avg - 8 + 5) / 10;
    if (gi > 23)
        gi = 23;
    int gv = 8 + 10 * gi;
    long dgrey = (long)(r - gv) * (r - gv) + (long)(g - gv) * (g - gv) + (long)(b - gv) * (b - gv);
    return dgrey < dcube ? 232 + gi : cube;
}
