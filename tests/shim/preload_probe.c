/*
 * preload_probe: what a plain LD_PRELOAD=libmoetier.so does in a process,
 * without llama.cpp (issue 14, defects 3 and 6).
 *
 *   preload_probe alloc MODEL NODE
 *       opens the model the way llama.cpp does (fopen), then allocates a
 *       weight-sized buffer (8 MiB, as --no-mmap does) and writes it; exit 0
 *       when its pages are on NODE (get_mempolicy): the numa:N arena served it.
 *   preload_probe fixed MODEL
 *       a read-write region of 4 MiB on a 2 MiB boundary, a marker in its
 *       second half, then the model mapped MAP_FIXED over the region's start
 *       for 2 MiB + 4 KiB (not a multiple of a device-dax alignment); exit 0
 *       when the marker is intact and the mapping reads the file's bytes.
 * Prints one line per check.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MIB (1u << 20)

static int alloc(FILE *f, int node)
{
    (void)f;
    size_t n = 8 * MIB;
    unsigned char *p = malloc(n);
    if (!p) {
        printf("malloc failed\n");
        return 1;
    }
    memset(p, 0x5a, n);
    int where = -1;
    if (syscall(SYS_get_mempolicy, &where, NULL, 0, p, 3 /* MPOL_F_NODE | MPOL_F_ADDR */) != 0) {
        perror("get_mempolicy");
        return 1;
    }
    printf("weight-sized buffer on node %d (want %d)\n", where, node);
    free(p);
    return where == node ? 0 : 1;
}

static int fixed(FILE *f)
{
    int fd = fileno(f);
    struct stat st;
    fstat(fd, &st);
    size_t len = 2 * MIB + 4096;
    unsigned char *raw = mmap(NULL, 6 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    unsigned char *region = (unsigned char *)(((uintptr_t)raw + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1));
    memset(region + 2 * MIB, 0, 2 * MIB);
    memset(region + 3 * MIB, 0xa5, MIB); /* the marker: past the fixed mapping */
    void *p = mmap(region, len, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
    if (p != region) {
        perror("mmap MAP_FIXED");
        return 1;
    }
    size_t bad = 0, n = (size_t)st.st_size < len ? (size_t)st.st_size : len;
    for (size_t i = 0; i < MIB; i++)
        bad += region[3 * MIB + i] != 0xa5;
    printf("marker past the fixed mapping: %zu of %u bytes changed\n", bad, MIB);
    unsigned char *want = malloc(n);
    size_t diff = 0;
    if (!want || pread(fd, want, n, 0) != (ssize_t)n) {
        printf("cannot read the model\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        diff += region[i] != want[i];
    printf("fixed mapping: %zu of %zu bytes differ from the file\n", diff, n);
    return bad || diff ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc < 3 || (strcmp(argv[1], "alloc") == 0 && argc != 4)) {
        fprintf(stderr, "usage: preload_probe alloc MODEL NODE | fixed MODEL\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 2;
    }
    int rc = strcmp(argv[1], "alloc") == 0 ? alloc(f, atoi(argv[3])) : fixed(f);
    fclose(f);
    return rc;
}
