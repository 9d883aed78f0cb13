/*
 * staged: serving a model's staged PMem copy (pmem:DIR fsdax, devdax:/dev/daxX.Y).
 *
 * `moetier stage` copies a model onto PMem and records it (tiering/stage.h).
 * When the binary opens a model file and MOETIER_SLOW names a PMem tier, the
 * record is checked once (size, mtime, inode, sampled hashes of the original
 * and the copy); while it matches, the binary's mappings of that file are
 * mappings of the copy at the same offsets, so its weights are read from
 * PMem and the engine promotes hot experts from there. Anything that does
 * not fit (no record, a stale one, an offset the device cannot map) maps the
 * original file: the binary sees the same bytes either way.
 * Device-dax mappings start and end on the device alignment and refuse to be
 * split elsewhere: the length of a mapping the kernel places is rounded up
 * (the extra tail is fresh address space), and an unmap of part of such a
 * mapping that is not aligned (llama.cpp drops the header pages) is skipped
 * — the pages stay mapped until the whole mapping goes. A MAP_FIXED mapping
 * is never made longer than asked: what lies past the caller's range is the
 * binary's, so an unaligned fixed range maps the original file instead.
 * The tables are shared by every thread that maps or unmaps: `lock` guards
 * them (taken after shim.lock, before the allocation table's: shim.h); a
 * full device-dax table refuses the device (original file) with one line.
 */
#include "shim/shim.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/page.h"
#include "tiering/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_FILES 128
#define MAX_DAX_MAPS 64

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int fd;          /* -1: no copy served */
    uint64_t offset; /* of the copy in its file or device */
    uint64_t align;
    int devdax;
} copy[MAX_FILES];
static int looked[MAX_FILES]; /* set together with copy[], under lock */
static struct {
    uintptr_t start, end;
    uint64_t align;
} dax_maps[MAX_DAX_MAPS];
static int n_dax;

void shim_staged_fork_prepare(void)
{
    moetier_ranked_lock(&lock, MOETIER_RANK_STAGED, "staged.c lock");
}

void shim_staged_fork_parent(void)
{
    moetier_ranked_unlock(&lock, MOETIER_RANK_STAGED);
}

void shim_staged_fork_child(void)
{
    pthread_mutex_init(&lock, NULL);
}

static void publish(int file, int fd, const struct moetier_stage_copy *c)
{
    moetier_ranked_lock(&lock, MOETIER_RANK_STAGED, "staged.c lock");
    copy[file].fd = fd;
    if (c) {
        copy[file].offset = c->offset;
        copy[file].align = c->align ? c->align : (uint64_t)moetier_page_size();
        copy[file].devdax = c->is_devdax;
    }
    looked[file] = 1;
    moetier_ranked_unlock(&lock, MOETIER_RANK_STAGED);
}

void shim_staged_lookup(int file, const char *path)
{
    /* lookups run under shim.lock (one at a time); mappers read under lock */
    if (file < 0 || file >= MAX_FILES || looked[file])
        return;
    if (shim.cfg.slow != MOETIER_SLOW_PMEM && shim.cfg.slow != MOETIER_SLOW_DEVDAX) {
        publish(file, -1, NULL);
        return;
    }
    char spec[MOETIER_PATH_MAX + 16], why[512];
    moetier_fmt(spec, sizeof spec, "%s:%s", shim.cfg.slow == MOETIER_SLOW_PMEM ? "pmem" : "devdax", shim.cfg.slow_path);
    static struct moetier_stage_copy c; /* 4 KiB path: not on the stack; under shim.lock */
    int rc = moetier_stage_find(spec, path, &c, why, sizeof why);
    if (rc) {
        log_warn("%s: no staged copy served from %s (%s); weights come from the original file", path, spec,
                 rc == -ENOENT ? "none staged: run moetier stage" : why);
        publish(file, -1, NULL);
        return;
    }
    int fd = open(c.path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC); /* the file just checked, not a link */
    if (fd < 0 && c.is_devdax)
        fd = open(c.path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        log_warn("%s: cannot open the staged copy %s: %s; weights come from the original file", path, c.path,
                 strerror(errno));
        publish(file, -1, NULL);
        return;
    }
    publish(file, fd, &c);
    log_info("%s: serving the staged copy %s%s (offset %llu)", path, c.path, c.is_devdax ? " (device-dax)" : "",
             (unsigned long long)c.offset);
}

int shim_staged_source(int file, int *fd, uint64_t *base, uint64_t *align)
{
    int rc = -ENOENT;
    if (file < 0 || file >= MAX_FILES)
        return rc;
    moetier_ranked_lock(&lock, MOETIER_RANK_STAGED, "staged.c lock");
    if (looked[file] && copy[file].fd >= 0) {
        *fd = copy[file].fd;
        *base = copy[file].offset;
        *align = copy[file].align;
        rc = 0;
    }
    moetier_ranked_unlock(&lock, MOETIER_RANK_STAGED);
    return rc;
}

/* Under lock: the mapping of the staged copy, or NULL (map the original). */
static void *map_locked(void *addr, size_t len, int prot, int flags, int file, off_t off,
                        void *(*real)(void *, size_t, int, int, int, off_t))
{
    if (file >= MAX_FILES || !looked[file] || copy[file].fd < 0 || (prot & PROT_WRITE))
        return NULL;
    uint64_t where = copy[file].offset + (uint64_t)off, a = copy[file].align;
    if (!copy[file].devdax)
        return real(addr, len, prot, flags, copy[file].fd, (off_t)where);
    int fixed = (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) != 0;
    if (where % a || (flags & MAP_PRIVATE) || (fixed && (uintptr_t)addr % a)) {
        log_debug("a mapping at offset %lld cannot come from the device (alignment %llu): original file",
                  (long long)off, (unsigned long long)a);
        return NULL;
    }
    if (fixed && len % a) {
        /* the device maps whole units: a longer fixed mapping would cover the binary's own memory */
        log_info("a fixed mapping of %zu bytes at offset %lld is not a multiple of the device alignment %llu: "
                 "it maps the original file",
                 len, (long long)off, (unsigned long long)a);
        return NULL;
    }
    if (n_dax == MAX_DAX_MAPS) {
        log_warn("%d device-dax mappings are tracked already: this one (offset %lld) maps the original file",
                 MAX_DAX_MAPS, (long long)off);
        return NULL;
    }
    size_t rounded = (len + a - 1) / a * a;
    void *p = real(addr, rounded, prot, flags, copy[file].fd, (off_t)where);
    if (p == MAP_FAILED) {
        log_warn("device-dax mapping failed (%s): original file", strerror(errno));
        return NULL;
    }
    dax_maps[n_dax].start = (uintptr_t)p;
    dax_maps[n_dax].end = (uintptr_t)p + rounded;
    dax_maps[n_dax].align = a;
    n_dax++;
    return p;
}

void *shim_staged_map(void *addr, size_t len, int prot, int flags, int fd, off_t off,
                      void *(*real)(void *, size_t, int, int, int, off_t))
{
    if (fd < 0 || fd >= SHIM_MAX_FD || !shim.fd_file[fd])
        return NULL;
    moetier_ranked_lock(&lock, MOETIER_RANK_STAGED, "staged.c lock");
    void *p = map_locked(addr, len, prot, flags, shim.fd_file[fd] - 1, off, real);
    moetier_ranked_unlock(&lock, MOETIER_RANK_STAGED);
    return p;
}

int shim_staged_unmap(void *addr, size_t *len)
{
    uintptr_t s = (uintptr_t)addr, e = s + *len;
    int skip = 0;
    moetier_ranked_lock(&lock, MOETIER_RANK_STAGED, "staged.c lock");
    for (int i = 0; i < n_dax; i++) {
        if (s >= dax_maps[i].end || e <= dax_maps[i].start)
            continue;
        if (s <= dax_maps[i].start && e >= dax_maps[i].end - dax_maps[i].align + 1) {
            /* the whole mapping goes: unmap what was really mapped */
            if (e < dax_maps[i].end)
                *len = dax_maps[i].end - s;
            dax_maps[i] = dax_maps[--n_dax];
        } else if (s % dax_maps[i].align || e % dax_maps[i].align) {
            skip = 1; /* a split the device refuses: keep the pages mapped */
        }
        break;
    }
    moetier_ranked_unlock(&lock, MOETIER_RANK_STAGED);
    return skip;
}
