/*
 * alloc: the malloc family, forwarded to glibc.
 *
 * moetier does not replace the process's allocator (an LD_PRELOAD is inherited
 * by every child, and ASan/valgrind must keep working): every call goes to
 * glibc's __libc_* entry points, which need no symbol lookup and so cannot
 * recurse through dlsym. Weight-sized allocations (at least MOETIER_ALLOC_MIN)
 * of an active process are where the tiering engine will place weights on the
 * slow tier; today they are only noticed by the read and tensor-upload hooks.
 */
#include "shim/shim.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

void *malloc(size_t n) { return __libc_malloc(n); }
void *calloc(size_t n, size_t m) { return __libc_calloc(n, m); }
void *realloc(void *p, size_t n) { return __libc_realloc(p, n); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t a, size_t n) { return __libc_memalign(a, n); }
void *valloc(size_t n) { return __libc_valloc(n); }
void *pvalloc(size_t n) { return __libc_pvalloc(n); }

void *aligned_alloc(size_t a, size_t n)
{
    if (a == 0 || (a & (a - 1))) {
        errno = EINVAL;
        return NULL;
    }
    return __libc_memalign(a, n);
}

int posix_memalign(void **out, size_t a, size_t n)
{
    if (a < sizeof(void *) || (a & (a - 1)))
        return EINVAL;
    int saved = errno;
    void *p = __libc_memalign(a, n);
    if (!p && n)
        return ENOMEM;
    errno = saved;
    *out = p;
    return 0;
}

void *reallocarray(void *p, size_t n, size_t m)
{
    size_t bytes;
    if (__builtin_mul_overflow(n, m, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return __libc_realloc(p, bytes);
}

size_t malloc_usable_size(void *p)
{
    static void *real_malloc_usable_size;
    size_t (*fn)(void *) = (size_t (*)(void *))shim_real("malloc_usable_size", &real_malloc_usable_size);
    return fn(p);
}
