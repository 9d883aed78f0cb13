/*
 * real: the next definition of an interposed function (glibc's, usually),
 * looked up once with dlsym(RTLD_NEXT). dlsym may allocate; the shim's malloc
 * family forwards straight to glibc's __libc_* entry points, so this cannot
 * recurse.
 */
#include "shim/shim.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

void *shim_real(const char *name, void **slot)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (p)
        return p;
    p = dlsym(RTLD_NEXT, name);
    if (!p) {
        /* Nothing to forward to: this is fatal for the call, and can only
         * happen if the C library lacks a function it always has. */
        static const char msg[] = "moetier: cannot resolve a C library function; aborting\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(127);
    }
    __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    return p;
}

struct find {
    const char *name;
    void *self;  /* our own definition, to skip */
    void *found;
};

static int find_in(struct dl_phdr_info *info, size_t size, void *arg)
{
    struct find *f = arg;
    (void)size;
    if (!info->dlpi_name || !info->dlpi_name[0])
        return 0;
    void *h = dlopen(info->dlpi_name, RTLD_LAZY | RTLD_NOLOAD);
    if (!h)
        return 0;
    void *p = dlsym(h, f->name);
    dlclose(h);
    if (p && p != f->self) {
        f->found = p;
        return 1;
    }
    return 0;
}

void *shim_real_optional(const char *name, void **slot)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (p)
        return p;
    p = dlsym(RTLD_NEXT, name);
    if (!p) {
        /* A library loaded with RTLD_LOCAL (node's addon, a plugin) is not in
         * the global scope RTLD_NEXT searches, yet its callers' PLT entries
         * bind to our definition: look through every loaded object. */
        struct find f = { name, dlsym(RTLD_DEFAULT, name), NULL };
        dl_iterate_phdr(find_in, &f);
        p = f.found;
    }
    if (p)
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    return p;
}
