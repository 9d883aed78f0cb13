/*
 * hooks_mmap: mappings. A mapping of a tracked model file places the expert
 * tensors it covers; unmapping (or moving) memory retires the placements and
 * sampler probes inside it first, so nothing of moetier's ever touches an
 * address after the binary gave it back. madvise/posix_madvise pass through
 * (llama.cpp's WILLNEED after the mapping; hooked so a later tiering engine can
 * see them, and because posix_madvise does not go through madvise's symbol).
 * mlock/mlock2/mlockall: locked memory is never migrated (MAP_FIXED would drop
 * VM_LOCKED), so the runtime hears of every lock before it takes effect.
 */
#include "shim/shim.h"
#include "tiering/numa_tier.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>

static void *real_mlock, *real_mlock2, *real_mlockall;
static void *real_mmap, *real_mmap64, *real_munmap, *real_mremap, *real_madvise, *real_posix_madvise;

static void *mapped(void *p, size_t len, int prot, int flags, int fd, off_t off)
{
    if (p != MAP_FAILED && fd >= 0 && fd < SHIM_MAX_FD && shim.fd_file[fd] && shim.active && !shim_busy) {
        int saved = errno;
        shim_mapped(p, len, prot, flags, fd, off);
        errno = saved;
    }
    return p;
}

/* A MAP_FIXED mapping replaces what was there: the runtime forgets it first. */
static void replacing(void *addr, size_t len, int flags)
{
    if ((flags & MAP_FIXED) && shim.model_ready && !shim_busy)
        shim_unmapping(addr, len);
}

typedef void *(*mmap_fn)(void *, size_t, int, int, int, off_t);

/* Both mmap symbols: forget what a MAP_FIXED replaces; for a model file, the
 * numa:N task policy around the call and the staged PMem copy instead of the
 * file; then place what was mapped. */
static void *do_mmap(mmap_fn real, void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    replacing(addr, len, flags);
    struct moetier_numa_policy saved;
    int bracket = shim.active && shim_tiering_map_begin(fd, &saved);
    void *p = shim.active && !shim_busy ? shim_staged_map(addr, len, prot, flags, fd, off, real) : NULL;
    if (!p && !addr && shim.active && !shim_busy && fd >= 0 && fd < SHIM_MAX_FD && shim.fd_file[fd]) {
        shim_busy = 1;
        void *hint = shim_tiering_map_hint(len, off, flags);
        shim_busy = 0;
        if (hint) {
            p = real(hint, len, prot, flags | MAP_FIXED, fd, off);
            if (p == MAP_FAILED) {
                shim_busy = 1;
                munmap(hint, len);
                shim_busy = 0;
                p = NULL;
            }
        }
    }
    if (!p)
        p = real(addr, len, prot, flags, fd, off);
    if (bracket) {
        int e = errno;
        shim_tiering_map_end(&saved);
        errno = e;
    }
    return mapped(p, len, prot, flags, fd, off);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return do_mmap((mmap_fn)shim_real("mmap", &real_mmap), addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return do_mmap((mmap_fn)shim_real("mmap64", &real_mmap64), addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len)
{
    if (shim.model_ready && !shim_busy)
        shim_unmapping(addr, len);
    if (shim.active && !shim_busy && shim_staged_unmap(addr, &len))
        return 0; /* part of a device-dax mapping the device will not split */
    return ((int (*)(void *, size_t))shim_real("munmap", &real_munmap))(addr, len);
}

void *mremap(void *old, size_t old_len, size_t new_len, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    void *new_addr = (flags & MREMAP_FIXED) ? va_arg(ap, void *) : NULL;
    va_end(ap);
    /* the old range goes away (or may move): retire what was placed there */
    if (shim.model_ready && !shim_busy)
        shim_unmapping(old, old_len);
    return ((void *(*)(void *, size_t, size_t, int, ...))shim_real("mremap", &real_mremap))(old, old_len, new_len,
                                                                                           flags, new_addr);
}

int madvise(void *addr, size_t len, int advice)
{
    return ((int (*)(void *, size_t, int))shim_real("madvise", &real_madvise))(addr, len, advice);
}

int posix_madvise(void *addr, size_t len, int advice)
{
    return ((int (*)(void *, size_t, int))shim_real("posix_madvise", &real_posix_madvise))(addr, len, advice);
}

int mlock(const void *addr, size_t len)
{
    if (shim.active && !shim_busy)
        shim_locked((uintptr_t)addr, len);
    return ((int (*)(const void *, size_t))shim_real("mlock", &real_mlock))(addr, len);
}

int mlock2(const void *addr, size_t len, unsigned int flags)
{
    if (shim.active && !shim_busy)
        shim_locked((uintptr_t)addr, len);
    return ((int (*)(const void *, size_t, unsigned int))shim_real("mlock2", &real_mlock2))(addr, len, flags);
}

int mlockall(int flags)
{
    if (shim.active && !shim_busy)
        shim_locked(0, SIZE_MAX);
    return ((int (*)(int))shim_real("mlockall", &real_mlockall))(flags);
}
