/*
 * Opening the slow arena leaves the process's allocator alone: jemalloc is
 * not loaded before the first open, its symbols never enter the global scope
 * afterwards (RTLD_LOCAL), malloc still resolves to glibc and glibc's own
 * accounting (mallinfo2) sees plain malloc/calloc/realloc/posix_memalign,
 * while arena allocations do not show up there.
 */
#include "config.h"
#include "tests/numa/numa_test.h"

#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>

static size_t used(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

int main(int argc, char **argv)
{
    nt_reexec_with_tunable(argv);
    struct moetier_numa_topo t;
    if (moetier_numa_discover(&t)) {
        printf("SKIP: no /sys/devices/system/node (kernel without NUMA)\n");
        return 77;
    }
    int near[1];
    if (moetier_numa_near_dram(&t, -1, near, 1) != 1) {
        printf("SKIP: no node with CPUs and memory\n");
        return 77;
    }

    /* idle: not loaded */
    CHECK(dlopen(MOETIER_SLOW_ARENA_JEMALLOC, RTLD_LAZY | RTLD_NOLOAD) == NULL);

    struct moetier_slow_arena *a = NULL;
    char err[512];
    int rc = moetier_slow_arena_open(near[0], 64 * MiB, err, sizeof err, &a);
    if (rc == -ELIBACC && strstr(err, "cannot open")) {
        printf("SKIP: %s\n", err);
        return 77;
    }
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "open: %s\n", err);
        return check_exit("test_slow_arena_malloc");
    }
    void *h = dlopen(MOETIER_SLOW_ARENA_JEMALLOC, RTLD_LAZY | RTLD_NOLOAD);
    CHECK(h != NULL); /* loaded now */
    if (h)
        dlclose(h); /* drops only the reference NOLOAD took */

    /* nothing of jemalloc in the global scope */
    CHECK(dlsym(RTLD_DEFAULT, "mallocx") == NULL);
    CHECK(dlsym(RTLD_DEFAULT, "mallctl") == NULL);
    Dl_info info;
    void *m = dlsym(RTLD_DEFAULT, "malloc");
    CHECK(m && dladdr(m, &info) && info.dli_fname && strstr(info.dli_fname, "libc.so"));
    printf("malloc resolves to %s\n", m && dladdr(m, &info) ? info.dli_fname : "?");
    void *f = dlsym(RTLD_DEFAULT, "free");
    CHECK(f && dladdr(f, &info) && strstr(info.dli_fname, "libc.so"));

    /* glibc serves plain allocations: its accounting grows by them */
    size_t u0 = used();
    char *small = malloc(1000);
    char *big = malloc(64 * MiB);
    char *z = calloc(100, 100);
    void *al = NULL;
    CHECK(posix_memalign(&al, 4096, 3 * MiB) == 0);
    CHECK(small && big && z && al);
    size_t u1 = used();
    CHECK(u1 >= u0 + 1000 + 64 * MiB + 10000 + 3 * MiB);
    CHECK(malloc_usable_size(small) >= 1000 && malloc_usable_size(big) >= 64 * MiB);
    CHECK(!moetier_slow_arena_owns(a, small) && !moetier_slow_arena_owns(a, big) &&
          !moetier_slow_arena_owns(a, z) && !moetier_slow_arena_owns(a, al));
    small = realloc(small, 5000);
    CHECK(small && malloc_usable_size(small) >= 5000);

    /* the arena's memory is not glibc's */
    size_t u2 = used();
    char *s = moetier_slow_arena_alloc(a, 16 * MiB, 0);
    CHECK(s && moetier_slow_arena_owns(a, s));
    if (s)
        memset(s, 1, 16 * MiB);
    CHECK(used() == u2);
    CHECK(moetier_slow_arena_free(a, s) == 0);

    free(small);
    free(big);
    free(z);
    free(al);
    CHECK(used() <= u0 + 64 * 1024); /* all given back to glibc */
    moetier_slow_arena_close(a);
    return check_exit("test_slow_arena_malloc");
}
