/*
 * dram_cache: sparse memfds mirroring the slow tier's files, under a budget
 * (see dram_cache.h for the invariants).
 */
#include "config.h"

#include "tiering/dram_cache.h"
#include "common/fail_point.h"
#include "common/fmt.h"
#include "common/page.h"
#include "common/sysfs.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

int moetier_dram_cache_init(struct moetier_dram_cache *c, uint64_t budget, uint32_t n_files,
                            const uint64_t *sizes, int huge)
{
    memset(c, 0, sizeof *c);
    if (n_files == 0 || n_files > MOETIER_CACHE_MAX_FILES)
        return -EINVAL;
    for (uint32_t i = 0; i < MOETIER_CACHE_MAX_FILES; i++)
        c->fd[i] = -1;
    c->n_files = n_files;
    c->unit = huge ? MOETIER_HUGE_PAGE : moetier_page_size();
    for (uint32_t i = 0; i < n_files; i++)
        c->size[i] = (sizes[i] + c->unit - 1) / c->unit * c->unit;
    c->budget = budget;
    c->huge = huge;
    if (huge && moetier_dram_cache_huge_free() < budget)
        return -ENOMEM;
    return 0;
}

void moetier_dram_cache_free(struct moetier_dram_cache *c)
{
    for (uint32_t i = 0; i < MOETIER_CACHE_MAX_FILES; i++)
        if (c->fd[i] >= 0)
            close(c->fd[i]);
    memset(c, 0, sizeof *c);
    for (uint32_t i = 0; i < MOETIER_CACHE_MAX_FILES; i++)
        c->fd[i] = -1;
}

static int open_memfd(struct moetier_dram_cache *c, uint32_t file)
{
    if (c->fd[file] >= 0)
        return 0;
    char name[32];
    moetier_fmt(name, sizeof name, "moetier-cache-%u", file);
    int fd = MOETIER_FAIL("cache.memfd_create") ? -1 : memfd_create(name, MFD_CLOEXEC | (c->huge ? MFD_HUGETLB : 0));
    if (fd < 0)
        return -errno;
    if (MOETIER_FAIL("cache.ftruncate") || ftruncate(fd, (off_t)c->size[file]) != 0) { /* sparse: no page is allocated yet */
        int e = errno;
        close(fd);
        return -e;
    }
    c->fd[file] = fd;
    return 0;
}

static int valid_range(const struct moetier_dram_cache *c, uint32_t file, uint64_t off, size_t len)
{
    return file < c->n_files && len > 0 && off % c->unit == 0 && len % c->unit == 0 && off <= c->size[file] &&
           len <= c->size[file] - off;
}

static int punch(int fd, uint64_t off, size_t len)
{
    return !MOETIER_FAIL("cache.fallocate") && fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0 ? 0 : -errno;
}

/* hugetlbfs has no write(2): copy through a temporary shared mapping. */
static int fill_mapped(int fd, uint64_t off, const void *src, size_t len)
{
    void *dst = MOETIER_FAIL("cache.mmap") ? MAP_FAILED : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
    if (dst == MAP_FAILED)
        return -errno;
    memcpy(dst, src, len);
    munmap(dst, len);
    return 0;
}

static int fill_write(int fd, uint64_t off, const char *src, size_t len)
{
    while (len) {
        ssize_t n = MOETIER_FAIL("cache.pwrite") ? -1 : pwrite(fd, src, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        src += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int moetier_dram_cache_fill(struct moetier_dram_cache *c, uint32_t file, uint64_t off, const void *src,
                            size_t len)
{
    if (!valid_range(c, file, off, len))
        return -EINVAL;
    if (c->used + len > c->budget)
        return -ENOSPC;
    int rc = open_memfd(c, file);
    if (rc)
        return rc;
    rc = c->huge ? fill_mapped(c->fd[file], off, src, len) : fill_write(c->fd[file], off, src, len);
    if (rc) {
        punch(c->fd[file], off, len); /* a partial write must not hold memory */
        return rc;
    }
    c->used += len;
    if (c->used > c->peak)
        c->peak = c->used;
    return 0;
}

int moetier_dram_cache_fd(const struct moetier_dram_cache *c, uint32_t file)
{
    return file < c->n_files ? c->fd[file] : -1;
}

int moetier_dram_cache_release(struct moetier_dram_cache *c, uint32_t file, uint64_t off, size_t len)
{
    if (!valid_range(c, file, off, len) || c->fd[file] < 0 || len > c->used)
        return -EINVAL;
    int rc = punch(c->fd[file], off, len);
    if (rc == 0)
        c->used -= len;
    return rc;
}

int moetier_dram_cache_charge(struct moetier_dram_cache *c, uint64_t len)
{
    if (c->used + len > c->budget)
        return -ENOSPC;
    c->used += len;
    if (c->used > c->peak)
        c->peak = c->used;
    return 0;
}

void moetier_dram_cache_uncharge(struct moetier_dram_cache *c, uint64_t len)
{
    uint64_t was = c->used;
    while (!atomic_compare_exchange_weak(&c->used, &was, len > was ? 0 : was - len))
        ;
}

uint64_t moetier_dram_cache_resident(const struct moetier_dram_cache *c)
{
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < c->n_files; i++) {
        struct stat st;
        if (c->fd[i] >= 0 && fstat(c->fd[i], &st) == 0)
            bytes += (uint64_t)st.st_blocks * 512;
    }
    return bytes;
}

uint64_t moetier_dram_cache_clamp(uint64_t cgroup_limit)
{
    if (!cgroup_limit)
        return UINT64_MAX;
    uint64_t headroom = cgroup_limit / 4;
    if (headroom < (256ull << 20))
        headroom = 256ull << 20;
    if (headroom > cgroup_limit / 2)
        headroom = cgroup_limit / 2; /* a small cgroup still gets a cache: half of it */
    return cgroup_limit > headroom ? cgroup_limit - headroom : 0;
}

uint64_t moetier_dram_cache_huge_free(void)
{
    const char *dir = "/sys/kernel/mm/hugepages/hugepages-2048kB/";
    char a[96], b[96];
    moetier_fmt(a, sizeof a, "%sfree_hugepages", dir);
    moetier_fmt(b, sizeof b, "%sresv_hugepages", dir);
    uint64_t free_pages = moetier_read_u64(a, 0), resv = moetier_read_u64(b, 0);
    return free_pages > resv ? (free_pages - resv) * MOETIER_HUGE_PAGE : 0;
}
