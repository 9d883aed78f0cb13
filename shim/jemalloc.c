/*
 * jemalloc (libmoetier-jemalloc.so): moetier's private jemalloc for the numa:N
 * slow arena, linked from jemalloc's PIC archive with every jemalloc symbol
 * hidden (jemalloc.map): only these moetier_je_* entry points are exported.
 *
 * Why a library of its own: jemalloc's thread-local state is initial-exec
 * TLS, which glibc can only place in the static TLS block of libraries loaded
 * at start-up; libjemalloc.so.2 dlopen'd later fails ("cannot allocate memory
 * in static TLS block") unless GLIBC_TUNABLES reserved room. libmoetier.so
 * needs this library, so a plain LD_PRELOAD loads it at start-up. Its malloc,
 * free and operator new stay hidden: the process's allocator is unchanged.
 */
#include <stddef.h>

void *mallocx(size_t size, int flags);
void *rallocx(void *ptr, size_t size, int flags);
void dallocx(void *ptr, int flags);
size_t sallocx(const void *ptr, int flags);
int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

void *moetier_je_mallocx(size_t size, int flags) { return mallocx(size, flags); }
void *moetier_je_rallocx(void *ptr, size_t size, int flags) { return rallocx(ptr, size, flags); }
void moetier_je_dallocx(void *ptr, int flags) { dallocx(ptr, flags); }
size_t moetier_je_sallocx(const void *ptr, int flags) { return sallocx(ptr, flags); }
int moetier_je_mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
{
    return mallctl(name, oldp, oldlenp, newp, newlen);
}
