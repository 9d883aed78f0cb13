/*
 * stage: the staged-copy record (see stage.h and docs/stage.md).
 *
 * Linked into the preloaded shim, so: no libpmem2 (the shim must not load
 * it), no stdio, no malloc. Every open, pread, mmap and close goes through
 * syscall(2): the shim defines open/pread/mmap itself, and a call from here
 * must neither re-enter those hooks nor be mistaken for the binary opening a
 * model file. Files (the original, an fsdax copy) are read with pread, never
 * mapped, so a file truncated under us gives a short read, not SIGBUS; a
 * device-dax device has no read(2) and is mapped read-only, only within the
 * device's size as sysfs reports it.
 *
 * Invariants: a record is used only when its magic, version, sizes and
 * checksum are right and its strings are NUL-terminated; a copy is reported
 * only when the original's size, mtime, inode and device and the sampled hash
 * of both the original and the copy match the record.
 */
#include "config.h"

#include "tiering/stage.h"

#include "common/fmt.h"
#include "common/number.h"
#include "common/page.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

_Static_assert(sizeof(struct moetier_stage_header) == 64, "record header layout");
_Static_assert(sizeof(struct moetier_stage_entry) == 4480, "record entry layout");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the record is little endian");

#define READ_BUF (8u << 10) /* stack buffer for the pread paths */

/* ---- XXH64 ------------------------------------------------------------------------ */

#define P1 0x9E3779B185EBCA87ull
#define P2 0xC2B2AE3D27D4EB4Full
#define P3 0x165667B19E3779F9ull
#define P4 0x85EBCA77C2B2AE63ull
#define P5 0x27D4EB2F165667C5ull

static inline uint64_t rotl(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t rd64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static inline uint64_t xround(uint64_t acc, uint64_t in)
{
    acc += in * P2;
    acc = rotl(acc, 31);
    return acc * P1;
}

static inline uint64_t xmerge(uint64_t acc, uint64_t v)
{
    acc ^= xround(0, v);
    return acc * P1 + P4;
}

static void hash_seed(struct moetier_stage_hash *h, uint64_t seed)
{
    h->v[0] = seed + P1 + P2;
    h->v[1] = seed + P2;
    h->v[2] = seed;
    h->v[3] = seed - P1;
    h->total = 0;
    h->n = 0;
}

void moetier_stage_hash_init(struct moetier_stage_hash *h)
{
    hash_seed(h, 0);
}

static inline void stripe(uint64_t v[4], const unsigned char *p)
{
    v[0] = xround(v[0], rd64(p));
    v[1] = xround(v[1], rd64(p + 8));
    v[2] = xround(v[2], rd64(p + 16));
    v[3] = xround(v[3], rd64(p + 24));
}

void moetier_stage_hash_update(struct moetier_stage_hash *h, const void *data, size_t len)
{
    const unsigned char *p = data;
    h->total += len;
    if (h->n + len < 32) {
        if (len)
            memcpy(h->buf + h->n, p, len);
        h->n += (uint32_t)len;
        return;
    }
    if (h->n) {
        size_t take = 32 - h->n;
        memcpy(h->buf + h->n, p, take);
        stripe(h->v, h->buf);
        p += take;
        len -= take;
        h->n = 0;
    }
    uint64_t v[4] = { h->v[0], h->v[1], h->v[2], h->v[3] };
    while (len >= 32) {
        stripe(v, p);
        p += 32;
        len -= 32;
    }
    memcpy(h->v, v, sizeof v);
    if (len)
        memcpy(h->buf, p, len);
    h->n = (uint32_t)len;
}

uint64_t moetier_stage_hash_final(const struct moetier_stage_hash *h)
{
    uint64_t r;
    if (h->total >= 32) {
        r = rotl(h->v[0], 1) + rotl(h->v[1], 7) + rotl(h->v[2], 12) + rotl(h->v[3], 18);
        for (int i = 0; i < 4; i++)
            r = xmerge(r, h->v[i]);
    } else {
        r = h->v[2] + P5; /* v[2] is still the seed */
    }
    r += h->total;
    const unsigned char *p = h->buf;
    uint32_t n = h->n;
    while (n >= 8) {
        r ^= xround(0, rd64(p));
        r = rotl(r, 27) * P1 + P4;
        p += 8;
        n -= 8;
    }
    if (n >= 4) {
        r ^= (uint64_t)rd32(p) * P1;
        r = rotl(r, 23) * P2 + P3;
        p += 4;
        n -= 4;
    }
    while (n--) {
        r ^= (uint64_t)*p++ * P5;
        r = rotl(r, 11) * P1;
    }
    r ^= r >> 33;
    r *= P2;
    r ^= r >> 29;
    r *= P3;
    r ^= r >> 32;
    return r;
}

uint64_t moetier_stage_xxh64(const void *p, size_t n, uint64_t seed)
{
    struct moetier_stage_hash h;
    hash_seed(&h, seed);
    moetier_stage_hash_update(&h, p, n);
    return moetier_stage_hash_final(&h);
}

static void hash_le64(struct moetier_stage_hash *h, uint64_t v)
{
    moetier_stage_hash_update(h, &v, 8); /* little-endian host (asserted above) */
}

/* ---- raw system calls ------------------------------------------------------------- */

static int sys_open(const char *path, int flags)
{
    long r = syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC, 0);
    return r < 0 ? -errno : (int)r;
}

static void sys_close(int fd)
{
    int e = errno;
    syscall(SYS_close, fd);
    errno = e;
}

/* Reads exactly n bytes at off unless the file ends first: bytes read or -errno. */
static long sys_pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        long r = syscall(SYS_pread64, fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long)got;
}

static int sys_mmap_ro(int fd, uint64_t off, size_t len, const void **out)
{
    long r = syscall(SYS_mmap, NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
    if (r == -1)
        return -errno;
    *out = (const void *)r;
    return 0;
}

static void sys_munmap(const void *p, size_t len)
{
    int e = errno;
    syscall(SYS_munmap, p, len);
    errno = e;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static int is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static void say(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *why, size_t cap, const char *fmt, ...)
{
    if (!why || !cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    moetier_vfmt(why, cap, fmt, ap);
    va_end(ap);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* ---- the sample ------------------------------------------------------------------- */

void moetier_stage_sample_block(uint64_t size, unsigned i, uint64_t *off, uint64_t *len)
{
    const uint64_t B = MOETIER_STAGE_SAMPLE_BLOCK, N = MOETIER_STAGE_SAMPLE_BLOCKS;
    *off = 0;
    *len = 0;
    if (i >= N)
        return;
    if (size <= N * B) {
        if (i == 0)
            *len = size;
        return;
    }
    unsigned __int128 o = (unsigned __int128)i * (size - B) / (N - 1);
    *off = (uint64_t)o & ~(uint64_t)4095;
    *len = B;
}

uint64_t moetier_stage_sample_hash_mem(const void *p, uint64_t size)
{
    struct moetier_stage_hash h;
    moetier_stage_hash_init(&h);
    hash_le64(&h, size);
    for (unsigned i = 0; i < MOETIER_STAGE_SAMPLE_BLOCKS; i++) {
        uint64_t off, len;
        moetier_stage_sample_block(size, i, &off, &len);
        if (!len)
            continue;
        hash_le64(&h, off);
        moetier_stage_hash_update(&h, (const unsigned char *)p + off, len);
    }
    return moetier_stage_hash_final(&h);
}

/* Hashes len bytes at off of fd through buf; -EIO when the file ends early. */
static int hash_fd_range(int fd, uint64_t off, uint64_t len, struct moetier_stage_hash *h,
                         unsigned char *buf, size_t cap)
{
    while (len) {
        size_t n = len < cap ? (size_t)len : cap;
        long r = sys_pread_full(fd, buf, n, off);
        if (r < 0)
            return (int)r;
        if ((size_t)r < n)
            return -EIO; /* shorter than it said: changed under us */
        moetier_stage_hash_update(h, buf, n);
        off += n;
        len -= n;
    }
    return 0;
}

static int sample_hash_fd_buf(int fd, uint64_t base, uint64_t size, uint64_t *out,
                              unsigned char *buf, size_t cap)
{
    struct moetier_stage_hash h;
    moetier_stage_hash_init(&h);
    hash_le64(&h, size);
    for (unsigned i = 0; i < MOETIER_STAGE_SAMPLE_BLOCKS; i++) {
        uint64_t off, len;
        moetier_stage_sample_block(size, i, &off, &len);
        if (!len)
            continue;
        hash_le64(&h, off);
        int rc = hash_fd_range(fd, base + off, len, &h, buf, cap);
        if (rc)
            return rc;
    }
    *out = moetier_stage_hash_final(&h);
    return 0;
}

int moetier_stage_sample_hash_fd(int fd, uint64_t base, uint64_t size, uint64_t *out)
{
    unsigned char buf[READ_BUF];
    return sample_hash_fd_buf(fd, base, size, out, buf, sizeof buf);
}

/* ---- the record ------------------------------------------------------------------- */

size_t moetier_stage_record_size(uint32_t n_entries)
{
    return sizeof(struct moetier_stage_header) + (size_t)n_entries * sizeof(struct moetier_stage_entry);
}

static uint64_t record_sum(const struct moetier_stage_header *h, const struct moetier_stage_entry *e,
                           uint32_t n)
{
    struct moetier_stage_header z = *h;
    z.checksum = 0;
    struct moetier_stage_hash s;
    moetier_stage_hash_init(&s);
    moetier_stage_hash_update(&s, &z, sizeof z);
    moetier_stage_hash_update(&s, e, (size_t)n * sizeof *e);
    return moetier_stage_hash_final(&s);
}

void moetier_stage_record_seal(struct moetier_stage_header *h, const struct moetier_stage_entry *e,
                               uint32_t n)
{
    memcpy(h->magic, MOETIER_STAGE_MAGIC, 8);
    h->version = MOETIER_STAGE_VERSION;
    h->header_size = sizeof *h;
    h->entry_size = sizeof *e;
    h->n_entries = n;
    h->reserved0 = 0;
    h->checksum = record_sum(h, e, n);
}

static int header_sane(const struct moetier_stage_header *h, char *why, size_t cap)
{
    if (memcmp(h->magic, MOETIER_STAGE_MAGIC, 8) != 0) {
        say(why, cap, "no stage record (no magic)");
        return -ENOENT;
    }
    if (h->version != MOETIER_STAGE_VERSION) {
        say(why, cap, "stage record version %u, this moetier reads %u", h->version,
            MOETIER_STAGE_VERSION);
        return -EBADMSG;
    }
    if (h->header_size != sizeof *h || h->entry_size != sizeof(struct moetier_stage_entry)) {
        say(why, cap, "stage record with header/entry sizes %u/%u (expected %u/%u)", h->header_size,
            h->entry_size, (unsigned)sizeof *h, (unsigned)sizeof(struct moetier_stage_entry));
        return -EBADMSG;
    }
    if (h->n_entries == 0 || h->n_entries > MOETIER_STAGE_MAX_FILES) {
        say(why, cap, "stage record with %u entries", h->n_entries);
        return -EBADMSG;
    }
    return 0;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

int moetier_stage_record_check(const struct moetier_stage_header *h, size_t avail, char *why,
                               size_t cap)
{
    if (avail < 8) {
        say(why, cap, "no stage record (%zu bytes)", avail);
        return -ENOENT;
    }
    if (avail < sizeof *h) {
        if (memcmp(h->magic, MOETIER_STAGE_MAGIC, 8) != 0) {
            say(why, cap, "no stage record (no magic)");
            return -ENOENT;
        }
        say(why, cap, "stage record truncated (%zu bytes)", avail);
        return -EBADMSG;
    }
    int rc = header_sane(h, why, cap);
    if (rc)
        return rc;
    size_t need = moetier_stage_record_size(h->n_entries);
    if (avail < need) {
        say(why, cap, "stage record truncated (%zu of %zu bytes)", avail, need);
        return -EBADMSG;
    }
    const struct moetier_stage_entry *e = (const void *)(h + 1);
    uint64_t sum = record_sum(h, e, h->n_entries);
    if (sum != h->checksum) {
        say(why, cap, "stage record damaged (checksum %016llx, computed %016llx)",
            (unsigned long long)h->checksum, (unsigned long long)sum);
        return -EBADMSG;
    }
    for (uint32_t i = 0; i < h->n_entries; i++) {
        /* the paths go into log lines (a mismatch names them): a control
         * character in one would split or forge the line */
        if (memchr(e[i].orig_path, 0, sizeof e[i].orig_path) == NULL ||
            memchr(e[i].copy_name, 0, sizeof e[i].copy_name) == NULL || e[i].orig_path[0] != '/' ||
            has_control(e[i].orig_path) || has_control(e[i].copy_name)) {
            say(why, cap, "stage record entry %u has a bad path", i);
            return -EBADMSG;
        }
    }
    return 0;
}

/* a + "/" + b into out */
static int join(const char *a, const char *b, const char *suffix, char *out, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b), ls = suffix ? strlen(suffix) : 0;
    while (la > 1 && a[la - 1] == '/')
        la--;
    int slash = !(la == 1 && a[0] == '/');
    if (la + slash + lb + ls + 1 > cap)
        return -ENAMETOOLONG;
    memcpy(out, a, la);
    if (slash)
        out[la] = '/';
    memcpy(out + la + slash, b, lb);
    if (ls)
        memcpy(out + la + slash + lb, suffix, ls);
    out[la + slash + lb + ls] = '\0';
    return 0;
}

int moetier_stage_record_path(const char *dir, const char *model_path, char *out, size_t cap)
{
    const char *b = base_name(model_path);
    if (!*b)
        return -EINVAL;
    return join(dir, b, MOETIER_STAGE_SUFFIX, out, cap);
}

int moetier_stage_devdax_layout(const uint64_t *sizes, size_t n, uint64_t align, uint64_t dev_size,
                                uint64_t *offsets, uint64_t *area_size, uint64_t *end)
{
    if (!is_pow2(align) || align < 4096 || n == 0 || n > MOETIER_STAGE_MAX_FILES)
        return -EINVAL;
    uint64_t at = align_up(moetier_stage_record_size((uint32_t)n), align);
    *area_size = at;
    for (size_t i = 0; i < n; i++) {
        if (at > UINT64_MAX - sizes[i] || at + sizes[i] > UINT64_MAX - align)
            return -EOVERFLOW;
        offsets[i] = at;
        at = align_up(at + sizes[i], align);
    }
    *end = at;
    return at > dev_size ? -ENOSPC : 0;
}

int moetier_stage_slow_parse(const char *slow, int *is_devdax, const char **path)
{
    if (!slow)
        return -EINVAL;
    if (strncmp(slow, "pmem:", 5) == 0) {
        *is_devdax = 0;
        *path = slow + 5;
    } else if (strncmp(slow, "devdax:", 7) == 0) {
        *is_devdax = 1;
        *path = slow + 7;
    } else {
        return -EINVAL;
    }
    return **path ? 0 : -EINVAL;
}

/* ---- locating a copy ---------------------------------------------------------------- */

struct located {
    struct moetier_stage_entry e;
    char copy_path[MOETIER_STAGE_PATH_MAX];
    int is_devdax;
    uint64_t align;     /* mappings of copy_path start and end on this */
    uint64_t copy_size; /* fsdax: the copy file's size now */
};

/* The model's path, absolute with the current directory (not resolved). */
static int abs_path(const char *p, char *out, size_t cap)
{
    size_t n = strlen(p);
    if (p[0] == '/') {
        if (n + 1 > cap)
            return -ENAMETOOLONG;
        memcpy(out, p, n + 1);
        return 0;
    }
    if (!getcwd(out, cap))
        return -errno;
    while (p[0] == '.' && p[1] == '/') {
        p += 2;
        while (*p == '/')
            p++;
    }
    char tmp[MOETIER_STAGE_PATH_MAX];
    size_t lc = strlen(out);
    if (lc + 1 > sizeof tmp)
        return -ENAMETOOLONG;
    memcpy(tmp, out, lc + 1);
    return join(tmp, p, NULL, out, cap);
}

static int names_model(const struct moetier_stage_entry *e, const char *abs, const struct stat *st)
{
    return strcmp(e->orig_path, abs) == 0 || (e->ino == (uint64_t)st->st_ino && e->dev == (uint64_t)st->st_dev);
}

/* A u64 from a sysfs attribute (decimal or 0x hex); -errno. */
static int sysfs_u64(const char *path, uint64_t *out)
{
    char buf[32];
    int fd = sys_open(path, O_RDONLY);
    if (fd < 0)
        return fd;
    long n = sys_pread_full(fd, buf, sizeof buf - 1, 0);
    sys_close(fd);
    if (n <= 0)
        return n < 0 ? (int)n : -EIO;
    buf[n] = '\0';
    const char *p = buf;
    unsigned base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    uint64_t v;
    int rc = moetier_parse_u64(p, base, &v, &p);
    if (rc)
        return rc;
    if (*p && *p != '\n')
        return -EINVAL;
    *out = v;
    return 0;
}

static int locate_fsdax(const char *dir, const char *model, const char *abs, const struct stat *st,
                        struct located *L, char *why, size_t cap)
{
    char rpath[MOETIER_STAGE_PATH_MAX];
    int rc = moetier_stage_record_path(dir, model, rpath, sizeof rpath);
    if (rc) {
        say(why, cap, "record path in %s too long", dir);
        return rc;
    }
    int fd = sys_open(rpath, O_RDONLY);
    if (fd < 0) {
        if (fd == -ENOENT || fd == -ENOTDIR)
            say(why, cap, "no staged copy: %s does not exist", rpath);
        else
            say(why, cap, "%s: cannot open (errno %d)", rpath, -fd);
        return fd == -ENOTDIR ? -ENOENT : fd;
    }
    struct {
        struct moetier_stage_header h;
        struct moetier_stage_entry e;
    } rec;
    _Static_assert(sizeof rec == sizeof rec.h + sizeof rec.e, "record without padding");
    long n = sys_pread_full(fd, &rec, sizeof rec, 0);
    sys_close(fd);
    if (n < 0) {
        say(why, cap, "%s: read failed (errno %d)", rpath, (int)-n);
        return (int)n;
    }
    char w[200];
    rc = moetier_stage_record_check(&rec.h, (size_t)n, w, sizeof w);
    if (rc) {
        say(why, cap, "%s: %s", rpath, w);
        return rc;
    }
    if (rec.h.n_entries != 1 || (rec.h.flags & MOETIER_STAGE_F_DEVDAX) || !rec.e.copy_name[0] ||
        strchr(rec.e.copy_name, '/') || strcmp(rec.e.copy_name, ".") == 0 ||
        strcmp(rec.e.copy_name, "..") == 0) {
        say(why, cap, "%s: not a pmem: stage record", rpath);
        return -EBADMSG;
    }
    if (!names_model(&rec.e, abs, st)) {
        say(why, cap, "%s is the record of %s, not of %s", rpath, rec.e.orig_path, abs);
        return -ENOENT;
    }
    memcpy(&L->e, &rec.e, sizeof L->e);
    L->is_devdax = 0;
    L->align = (uint64_t)moetier_page_size();
    rc = join(dir, rec.e.copy_name, NULL, L->copy_path, sizeof L->copy_path);
    if (rc) {
        say(why, cap, "copy path in %s too long", dir);
        return rc;
    }
    struct stat cs;
    if (lstat(L->copy_path, &cs) != 0) {
        int e = errno;
        say(why, cap, "record %s names the copy %s, which is gone (errno %d)", rpath, L->copy_path, e);
        return e == ENOENT ? -ESTALE : -e;
    }
    /* whoever may write the copy may change the binary's weights after the check */
    if (!S_ISREG(cs.st_mode) || (cs.st_uid != geteuid() && cs.st_uid != 0) || (cs.st_mode & (S_IWGRP | S_IWOTH))) {
        say(why, cap, "the staged copy %s is %s; refusing it (docs/threat-model.md)", L->copy_path,
            !S_ISREG(cs.st_mode)                          ? "not a regular file (a symbolic link?)"
            : cs.st_uid != geteuid() && cs.st_uid != 0 ? "another user's"
                                                           : "writable by group or others");
        return -EPERM;
    }
    L->copy_size = (uint64_t)cs.st_size;
    return 0;
}

/* Maps [0, len) of a device-dax device (or stand-in file); len is rounded up to
 * the alignment, probing 4K / 2M / 1G when the alignment is unknown (0). */
static int map_head(int fd, uint64_t *align, uint64_t len, const void **p, size_t *maplen)
{
    static const uint64_t probe[] = { 4096, 2u << 20, 1u << 30 };
    if (*align) {
        *maplen = (size_t)align_up(len, *align);
        return sys_mmap_ro(fd, 0, *maplen, p);
    }
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
        *maplen = (size_t)align_up(len, probe[i]);
        rc = sys_mmap_ro(fd, 0, *maplen, p);
        if (rc == 0) {
            *align = probe[i];
            return 0;
        }
        if (rc != -EINVAL)
            return rc;
    }
    return rc;
}

/* What a device-dax device (or stand-in regular file) offers: alignment and size. */
static int dax_geometry(int fd, const char *dev, uint64_t *align, uint64_t *size, char *why, size_t cap)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        say(why, cap, "%s: fstat failed (errno %d)", dev, errno);
        return -errno;
    }
    if (S_ISREG(st.st_mode)) { /* a stand-in for the device (tests of the layout) */
        *align = (uint64_t)moetier_page_size();
        *size = (uint64_t)st.st_size;
        return 0;
    }
    if (!S_ISCHR(st.st_mode)) {
        say(why, cap, "%s is not a device-dax character device", dev);
        return -ENODEV;
    }
    char p[96];
    moetier_fmt(p, sizeof p, "/sys/dev/char/%u:%u/align", major(st.st_rdev), minor(st.st_rdev));
    if (sysfs_u64(p, align) != 0 || !is_pow2(*align))
        *align = 0; /* older kernels: probe */
    moetier_fmt(p, sizeof p, "/sys/dev/char/%u:%u/size", major(st.st_rdev), minor(st.st_rdev));
    if (sysfs_u64(p, size) != 0)
        *size = 0; /* unknown: trust the record's device_size */
    return 0;
}

static int locate_devdax(const char *dev, const char *abs, const struct stat *st, struct located *L,
                         char *why, size_t cap)
{
    int fd = sys_open(dev, O_RDONLY);
    if (fd < 0) {
        say(why, cap, "%s: cannot open (errno %d)", dev, -fd);
        return fd;
    }
    uint64_t align = 0, size = 0;
    const void *map = NULL;
    size_t maplen = 0;
    int rc = dax_geometry(fd, dev, &align, &size, why, cap);
    if (rc)
        goto out_close;
    if (size && size < sizeof(struct moetier_stage_header)) {
        say(why, cap, "no staged copy: %s is too small to hold a record", dev);
        rc = -ENOENT;
        goto out_close;
    }
    rc = map_head(fd, &align, sizeof(struct moetier_stage_header), &map, &maplen);
    if (rc) {
        say(why, cap, "%s: cannot map the record (errno %d)", dev, -rc);
        goto out_close;
    }
    const struct moetier_stage_header *h = map;
    char w[200];
    rc = header_sane(h, w, sizeof w);
    if (rc) {
        say(why, cap, "%s: %s", dev, w);
        goto out_unmap;
    }
    if (!size)
        size = h->device_size;
    size_t need = moetier_stage_record_size(h->n_entries);
    if (need > size) {
        say(why, cap, "%s: stage record larger than the device", dev);
        rc = -EBADMSG;
        goto out_unmap;
    }
    if (need > maplen) {
        sys_munmap(map, maplen);
        map = NULL;
        rc = map_head(fd, &align, need, &map, &maplen);
        if (rc) {
            say(why, cap, "%s: cannot map the record (errno %d)", dev, -rc);
            goto out_close;
        }
        h = map;
    }
    rc = moetier_stage_record_check(h, maplen < size ? maplen : (size_t)size, w, sizeof w);
    if (rc) {
        say(why, cap, "%s: %s", dev, w);
        goto out_unmap;
    }
    if (!(h->flags & MOETIER_STAGE_F_DEVDAX)) {
        say(why, cap, "%s: not a devdax: stage record", dev);
        rc = -EBADMSG;
        goto out_unmap;
    }
    const struct moetier_stage_entry *e = (const void *)(h + 1);
    uint32_t i;
    for (i = 0; i < h->n_entries; i++)
        if (names_model(&e[i], abs, st))
            break;
    if (i == h->n_entries) {
        say(why, cap, "%s holds a staged copy of %s%s, not of %s", dev, e[0].orig_path,
            h->n_entries > 1 ? " and its other parts" : "", abs);
        rc = -ENOENT;
        goto out_unmap;
    }
    memcpy(&L->e, &e[i], sizeof L->e);
    uint64_t area = h->area_size, staged_align = L->e.align;
    if (staged_align != align) {
        say(why, cap, "%s: the device alignment is %llu now, the copy was staged for %llu", dev,
            (unsigned long long)align, (unsigned long long)staged_align);
        rc = -ESTALE;
        goto out_unmap;
    }
    if (L->e.offset % align || L->e.offset < area || L->e.offset > size ||
        L->e.size > size - L->e.offset) {
        say(why, cap, "%s: the record places %s outside the device", dev, base_name(L->e.orig_path));
        rc = -EBADMSG;
        goto out_unmap;
    }
    memcpy(L->copy_path, dev, strlen(dev) + 1); /* shorter than PATH_MAX (locate) */
    L->is_devdax = 1;
    L->align = align;
    L->copy_size = size - L->e.offset;
    rc = 0;
out_unmap:
    sys_munmap(map, maplen);
out_close:
    sys_close(fd);
    return rc;
}

static int locate(const char *slow, const char *model, char *abs, struct stat *st, struct located *L,
                  char *why, size_t cap)
{
    int devdax;
    const char *where;
    if (moetier_stage_slow_parse(slow, &devdax, &where) != 0) {
        say(why, cap, "'%s' is not pmem:DIR or devdax:DEVICE", slow ? slow : "(null)");
        return -EINVAL;
    }
    if (strlen(where) >= MOETIER_STAGE_PATH_MAX) {
        say(why, cap, "slow tier path too long");
        return -ENAMETOOLONG;
    }
    if (stat(model, st) != 0) {
        int e = errno;
        say(why, cap, "%s: cannot stat the model (errno %d)", model, e);
        return -e;
    }
    int rc = abs_path(model, abs, MOETIER_STAGE_PATH_MAX);
    if (rc) {
        say(why, cap, "%s: path too long", model);
        return rc;
    }
    return devdax ? locate_devdax(where, abs, st, L, why, cap)
                  : locate_fsdax(where, model, abs, st, L, why, cap);
}

/* -ESTALE with why when the original is no longer what was staged. */
static int original_changed(const struct moetier_stage_entry *e, const char *abs, const struct stat *st,
                            char *why, size_t cap)
{
    int64_t mt = (int64_t)st->st_mtim.tv_sec * 1000000000ll + st->st_mtim.tv_nsec;
    if (e->ino != (uint64_t)st->st_ino || e->dev != (uint64_t)st->st_dev) {
        say(why, cap, "%s is another file now (inode %llu on device %llx; staged: inode %llu on %llx)",
            abs, (unsigned long long)st->st_ino, (unsigned long long)st->st_dev,
            (unsigned long long)e->ino, (unsigned long long)e->dev);
        return -ESTALE;
    }
    if (e->size != (uint64_t)st->st_size) {
        say(why, cap, "%s has %llu bytes, staged %llu", abs, (unsigned long long)st->st_size,
            (unsigned long long)e->size);
        return -ESTALE;
    }
    if (e->mtime_ns != mt) {
        say(why, cap, "%s was modified since it was staged (mtime %lld.%09lld, staged %lld.%09lld)", abs,
            (long long)(mt / 1000000000), (long long)(mt % 1000000000),
            (long long)(e->mtime_ns / 1000000000), (long long)(e->mtime_ns % 1000000000));
        return -ESTALE;
    }
    return 0;
}

/*
 * The hash of the copy: sampled (full = 0) or whole. Files through pread into
 * buf; a device through a read-only mapping of the copy's aligned range.
 */
static int copy_hash(const struct located *L, int full, unsigned char *buf, size_t cap, uint64_t *out)
{
    int fd = sys_open(L->copy_path, O_RDONLY);
    if (fd < 0)
        return fd;
    int rc;
    if (!L->is_devdax) {
        if (full) {
            struct moetier_stage_hash h;
            moetier_stage_hash_init(&h);
            rc = hash_fd_range(fd, 0, L->e.size, &h, buf, cap);
            if (!rc)
                *out = moetier_stage_hash_final(&h);
        } else {
            rc = sample_hash_fd_buf(fd, 0, L->e.size, out, buf, cap);
        }
        sys_close(fd);
        return rc;
    }
    const void *p = NULL;
    size_t len = (size_t)align_up(L->e.size, L->align);
    rc = sys_mmap_ro(fd, L->e.offset, len, &p);
    if (rc == 0) {
        if (full)
            *out = moetier_stage_xxh64(p, (size_t)L->e.size, 0);
        else
            *out = moetier_stage_sample_hash_mem(p, L->e.size);
        sys_munmap(p, len);
    }
    sys_close(fd);
    return rc;
}

int moetier_stage_find(const char *slow, const char *model_path, struct moetier_stage_copy *out,
                       char *why, size_t cap)
{
    struct located L;
    char abs[MOETIER_STAGE_PATH_MAX];
    unsigned char buf[READ_BUF];
    struct stat st;
    if (why && cap)
        why[0] = '\0';
    if (!model_path || !out)
        return -EINVAL;
    int rc = locate(slow, model_path, abs, &st, &L, why, cap);
    if (rc)
        return rc;
    rc = original_changed(&L.e, abs, &st, why, cap);
    if (rc)
        return rc;
    if (!L.is_devdax && L.copy_size != L.e.size) {
        say(why, cap, "the staged copy %s has %llu bytes, the record says %llu", L.copy_path,
            (unsigned long long)L.copy_size, (unsigned long long)L.e.size);
        return -ESTALE;
    }
    uint64_t h;
    int fd = sys_open(model_path, O_RDONLY);
    if (fd < 0) {
        say(why, cap, "%s: cannot open (errno %d)", model_path, -fd);
        return fd;
    }
    rc = sample_hash_fd_buf(fd, 0, L.e.size, &h, buf, sizeof buf);
    sys_close(fd);
    if (rc) {
        say(why, cap, "%s: read failed (errno %d)", model_path, -rc);
        return rc;
    }
    if (h != L.e.sample_hash) {
        say(why, cap, "%s: content differs from what was staged at sampled blocks (size, mtime and inode unchanged)",
            abs);
        return -ESTALE;
    }
    rc = copy_hash(&L, 0, buf, sizeof buf, &h);
    if (rc) {
        say(why, cap, "%s: reading the staged copy failed (errno %d)", L.copy_path, -rc);
        return rc;
    }
    if (h != L.e.sample_hash) {
        say(why, cap, "the staged copy of %s in %s differs from the record at sampled blocks (damaged copy)",
            abs, L.copy_path);
        return -ESTALE;
    }
    memcpy(out->path, L.copy_path, strlen(L.copy_path) + 1);
    out->offset = L.is_devdax ? L.e.offset : 0;
    out->size = L.e.size;
    out->is_devdax = L.is_devdax;
    out->align = L.align;
    return 0;
}

/* ---- full check ------------------------------------------------------------------------ */

int moetier_stage_check_full(const char *slow, const char *model_path, struct moetier_stage_full *res,
                             char *why, size_t cap)
{
    struct located L;
    char abs[MOETIER_STAGE_PATH_MAX];
    struct stat st;
    const size_t bufsz = 4u << 20;
    if (why && cap)
        why[0] = '\0';
    if (!model_path || !res)
        return -EINVAL;
    memset(res, 0, sizeof *res);
    int rc = locate(slow, model_path, abs, &st, &L, why, cap);
    if (rc)
        return rc;
    res->recorded = L.e.full_hash;
    res->size = L.e.size;
    if (!L.is_devdax && L.copy_size != L.e.size) {
        say(why, cap, "the staged copy %s has %llu bytes, the record says %llu", L.copy_path,
            (unsigned long long)L.copy_size, (unsigned long long)L.e.size);
        return -ESTALE;
    }
    long r = syscall(SYS_mmap, NULL, bufsz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == -1)
        return -errno;
    unsigned char *buf = (unsigned char *)r;

    int fd = sys_open(model_path, O_RDONLY);
    if (fd < 0) {
        rc = fd;
        say(why, cap, "%s: cannot open (errno %d)", model_path, -fd);
        goto out_buf;
    }
    if ((uint64_t)st.st_size != L.e.size) {
        say(why, cap, "%s has %llu bytes, staged %llu", abs, (unsigned long long)st.st_size,
            (unsigned long long)L.e.size);
        rc = -ESTALE;
        goto out_fd;
    }
    struct moetier_stage_hash h;
    moetier_stage_hash_init(&h);
    rc = hash_fd_range(fd, 0, L.e.size, &h, buf, bufsz);
    if (rc) {
        say(why, cap, "%s: read failed (errno %d)", model_path, -rc);
        goto out_fd;
    }
    res->original = moetier_stage_hash_final(&h);
    rc = copy_hash(&L, 1, buf, bufsz, &res->copy);
    if (rc) {
        say(why, cap, "%s: reading the staged copy failed (errno %d)", L.copy_path, -rc);
        goto out_fd;
    }
    if (res->copy != res->recorded || res->original != res->recorded) {
        say(why, cap, "%s: full xxh64 recorded %016llx, original %016llx, copy %016llx (%s)", abs,
            (unsigned long long)res->recorded, (unsigned long long)res->original,
            (unsigned long long)res->copy,
            res->copy != res->original ? "the copy differs from the original"
                                       : "the original changed since it was staged");
        rc = -ESTALE;
    }
out_fd:
    sys_close(fd);
out_buf:
    sys_munmap(buf, bufsz);
    return rc;
}
