/*
 * png_read: reads a PNG back with libpng (the tests have no pngcheck) and
 * prints what the heatmap tests check:
 *
 *   png_read FILE [RRGGBB | rows=Y0:Y1 | cols=X0:X1]...
 *
 * prints "WIDTHxHEIGHT" and, for each colour given, "RRGGBB N" with the number
 * of pixels of exactly that colour, in the whole image or, after rows= or
 * cols=, in those rows or columns only (Y0 included, Y1 not; until the next
 * rows= or cols=). Exit 0, or 1 when libpng refuses the file (a message on
 * stderr).
 */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: png_read FILE [RRGGBB...]\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info)
        return 1;
    png_bytep *volatile rows = NULL;
    volatile png_uint_32 h = 0;
    if (setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "png_read: libpng refused %s\n", argv[1]);
        return 1;
    }
    png_init_io(png, f);
    png_read_info(png, info);
    png_set_expand(png);
    png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_gray_to_rgb(png);
    png_read_update_info(png, info);
    png_uint_32 w = png_get_image_width(png, info);
    h = png_get_image_height(png, info);
    size_t stride = png_get_rowbytes(png, info);
    rows = calloc(h, sizeof *rows);
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = malloc(stride);
    png_read_image(png, rows);
    png_read_end(png, NULL);
    printf("%ux%u\n", (unsigned)w, (unsigned)h);
    png_uint_32 y0 = 0, y1 = h, x0 = 0, x1 = w;
    for (int i = 2; i < argc; i++) {
        unsigned long a, b;
        if (sscanf(argv[i], "rows=%lu:%lu", &a, &b) == 2) {
            y0 = a < h ? (png_uint_32)a : h, y1 = b < h ? (png_uint_32)b : h;
            continue;
        }
        if (sscanf(argv[i], "cols=%lu:%lu", &a, &b) == 2) {
            x0 = a < w ? (png_uint_32)a : w, x1 = b < w ? (png_uint_32)b : w;
            continue;
        }
        unsigned long want = strtoul(argv[i], NULL, 16), n = 0;
        for (png_uint_32 y = y0; y < y1; y++)
            for (png_uint_32 x = x0; x < x1; x++) {
                const png_byte *p = rows[y] + x * 3;
                if (((unsigned long)p[0] << 16 | (unsigned long)p[1] << 8 | p[2]) == want)
                    n++;
            }
        printf("%06lx %lu\n", want, n);
    }
    for (png_uint_32 y = 0; y < h; y++)
        free(rows[y]);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    return 0;
}
