/*
 * moetier stage: copy a model onto persistent memory for the pmem:DIR and
 * devdax:/dev/daxX.Y slow tiers, and record what was copied (tiering/stage.h,
 * docs/stage.md).
 *
 *   moetier stage MODEL.gguf DEST [--force] [-q]
 *   moetier stage --check MODEL.gguf DEST
 *
 * DEST is a directory (fsdax: a DAX-mounted ext4/xfs; any directory works,
 * and the output says whether libpmem2 sees persistent memory there) or a
 * device-dax device. Every file of a split model is staged. Copies go through
 * libpmem2 (non-temporal memcpy, which persists each chunk) in 16 MiB chunks;
 * each chunk is read back and compared with the source, and the XXH64 of the
 * whole content is computed on the way.
 *
 * Invariants: a record is written only after its copy is complete, verified
 * and persistent, and only when the original did not change while it was
 * copied; the old record is removed (fsdax) or its header zeroed (devdax)
 * before a copy is overwritten, so an interrupted stage leaves no valid
 * record. The model's own file is never opened for writing.
 *
 * Exit: 0 staged (or already staged and unchanged); 1 a runtime failure
 * (I/O error, verification failure, the model changed while copying) or,
 * with --check, a mismatch; 2 bad usage or bad input (missing model, not a
 * GGUF, DEST missing or not writable, no space): one line on stderr.
 */
#include "config.h"

#include "common/size.h"
#include "profiler/gguf.h"
#include "tiering/stage.h"
#include "tools/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <libpmem2.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define CMD "stage"
#define CHUNK (16u << 20)

struct opts {
    const char *model, *dest;
    int force, quiet, check;
};

struct file {
    const char *path;   /* as the model names it (belongs to the gguf model) */
    char abs[PATH_MAX]; /* realpath */
    const char *base;
    struct stat st;
    int todo;           /* needs copying */
};

struct ctx {
    struct opts o;
    char dest[PATH_MAX]; /* realpath of DEST */
    char slow[PATH_MAX + 8];
    int devdax;
    struct file *files;
    size_t n;
    unsigned char *buf; /* CHUNK bytes */
    int progress, last_pct, said_gran;
    uint64_t done, total;
    double t0;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: moetier stage MODEL.gguf DEST [--force] [-q]\n"
            "       moetier stage --check MODEL.gguf DEST\n"
            "\n"
            "Copies a model onto persistent memory so that the pmem:DIR or\n"
            "devdax:/dev/daxX.Y slow tier (MOETIER_SLOW) maps the copy instead of the\n"
            "model file. Every part of a split model (NAME-00001-of-0000N.gguf) is staged.\n"
            "\n"
            "DEST is a directory (on a DAX-mounted filesystem for real PMem: FILE.gguf is\n"
            "copied to DEST/FILE.gguf, with a record DEST/FILE.gguf.moetier-stage) or a\n"
            "device-dax device such as /dev/dax0.0 (a record at the device start, each\n"
            "file at an offset aligned to the device alignment). The copy is written with\n"
            "libpmem2, read back and compared, and recorded with the original's path,\n"
            "size, mtime, inode and XXH64 hashes. moetier uses a copy only while the\n"
            "original still matches the record (docs/stage.md).\n"
            "\n"
            "options:\n"
            "  --force       copy again even when the staged copy is up to date\n"
            "  --check       hash the whole original and the whole copy and compare them\n"
            "                with the record (exit 1 on a mismatch); writes nothing\n"
            "  -q, --quiet   no progress bar\n"
            "  -h, --help    this text\n"
            "\n"
            "exit status: 0 success (or nothing to do), 1 runtime failure or --check\n"
            "mismatch, 2 bad usage or bad input (one line on stderr names it).\n");
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    int only_files = 0;
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_files && cli_is_help(a)) {
            usage(stdout);
            return -1;
        }
        if (!only_files && strcmp(a, "--") == 0)
            only_files = 1;
        else if (!only_files && strcmp(a, "--force") == 0)
            o->force = 1;
        else if (!only_files && strcmp(a, "--check") == 0)
            o->check = 1;
        else if (!only_files && (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0))
            o->quiet = 1;
        else if (!only_files && a[0] == '-' && a[1] != '\0')
            return cli_error(CLI_USAGE, CMD, "unknown option '%s' (moetier stage --help)", a);
        else if (!o->model)
            o->model = a;
        else if (!o->dest)
            o->dest = a;
        else
            return cli_error(CLI_USAGE, CMD, "unexpected argument '%s' (moetier stage MODEL DEST)", a);
    }
    if (!o->model || !o->dest)
        return cli_error(CLI_USAGE, CMD, "usage: moetier stage MODEL.gguf DEST (moetier stage --help)");
    if (o->check && o->force)
        return cli_error(CLI_USAGE, CMD, "--check and --force exclude each other");
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void progress(struct ctx *c, uint64_t add)
{
    c->done += add;
    if (!c->progress)
        return;
    int pct = c->total ? (int)(c->done * 100 / c->total) : 100;
    if (pct == c->last_pct)
        return;
    c->last_pct = pct;
    char a[24], b[24], r[24];
    double dt = now_s() - c->t0;
    int bar = pct * 30 / 100;
    fprintf(stderr, "\r  staging [%.*s%*s] %3d%% %s / %s  %s/s ", bar, "##############################",
            30 - bar, "", pct, moetier_size_format(c->done, a, sizeof a),
            moetier_size_format(c->total, b, sizeof b),
            moetier_size_format(dt > 0 ? (uint64_t)(c->done / dt) : 0, r, sizeof r));
    if (pct == 100)
        fputc('\n', stderr);
}

static const char *gran_text(enum pmem2_granularity g)
{
    switch (g) {
    case PMEM2_GRANULARITY_BYTE:
        return "BYTE: persistent memory, power-fail safe caches (eADR)";
    case PMEM2_GRANULARITY_CACHE_LINE:
        return "CACHE_LINE: persistent memory (cache lines flushed to persist)";
    case PMEM2_GRANULARITY_PAGE:
        return "PAGE: not persistent memory (page cache; persisted with msync)";
    }
    return "unknown";
}

/* pmem2 failures: one line naming what failed; returns CLI_FAIL. */
static int pmem2_fail(const char *what, const char *path, int rc)
{
    return cli_error(CLI_FAIL, CMD, "%s: %s failed: %s (%d)", path, what, pmem2_errormsg(), rc);
}

/* Maps len bytes (0: the whole source) of fd with libpmem2, any granularity. */
static int pmem_map(struct ctx *c, int fd, const char *path, size_t len, struct pmem2_map **map)
{
    struct pmem2_source *src = NULL;
    struct pmem2_config *cfg = NULL;
    int rc = pmem2_source_from_fd(&src, fd);
    if (rc) {
        rc = pmem2_fail("pmem2_source_from_fd", path, rc);
        goto out;
    }
    if ((rc = pmem2_config_new(&cfg)) != 0 ||
        (rc = pmem2_config_set_required_store_granularity(cfg, PMEM2_GRANULARITY_PAGE)) != 0 ||
        (len && (rc = pmem2_config_set_length(cfg, len)) != 0)) {
        rc = pmem2_fail("pmem2_config", path, rc);
        goto out_src;
    }
    rc = pmem2_map_new(map, cfg, src);
    if (rc) {
        rc = pmem2_fail("pmem2_map_new", path, rc);
        goto out_cfg;
    }
    if (!c->said_gran) {
        printf("  libpmem2 store granularity %s\n", gran_text(pmem2_map_get_store_granularity(*map)));
        c->said_gran = 1;
    }
out_cfg:
    pmem2_config_delete(&cfg);
out_src:
    pmem2_source_delete(&src);
out:
    return rc;
}

/*
 * Copies file f to dst (a libpmem2 mapping) chunk by chunk: read, hash,
 * non-temporal copy (persisted), read back and compare. Fails if the original
 * changes meanwhile. Returns a CLI exit code.
 */
static int copy_into(struct ctx *c, const struct file *f, unsigned char *dst, pmem2_memcpy_fn cpy,
                     uint64_t *full)
{
    uint64_t size = (uint64_t)f->st.st_size;
    int fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_error(CLI_FAIL, CMD, "%s: %s", f->path, strerror(errno));
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    struct moetier_stage_hash h;
    moetier_stage_hash_init(&h);
    int rc = CLI_OK;
    for (uint64_t off = 0; off < size;) {
        size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK, got = 0;
        while (got < n) {
            ssize_t r = pread(fd, c->buf + got, n - got, (off_t)(off + got));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                rc = cli_error(CLI_FAIL, CMD, "%s: read failed at byte %llu: %s", f->path,
                               (unsigned long long)(off + got), strerror(errno));
                goto out;
            }
            if (r == 0) {
                rc = cli_error(CLI_FAIL, CMD, "%s: shorter than when staging began (changed while staging)",
                               f->path);
                goto out;
            }
            got += (size_t)r;
        }
        moetier_stage_hash_update(&h, c->buf, n);
#ifdef MADV_POPULATE_WRITE
        /* one call maps the chunk's pages instead of one fault per page (4 KiB
         * pages off DAX); kernels before 5.14 say EINVAL and fault as usual */
        madvise(dst + off, n, MADV_POPULATE_WRITE);
#endif
        cpy(dst + off, c->buf, n, PMEM2_F_MEM_NONTEMPORAL);
        if (memcmp(dst + off, c->buf, n) != 0) {
            size_t k = 0;
            while (k < n && dst[off + k] == c->buf[k])
                k++;
            rc = cli_error(CLI_FAIL, CMD, "verification failed: the copy of %s differs at byte %llu",
                           f->path, (unsigned long long)(off + k));
            goto out;
        }
        off += n;
        progress(c, n);
    }
    struct stat now;
    if (fstat(fd, &now) != 0 || now.st_size != f->st.st_size ||
        now.st_mtim.tv_sec != f->st.st_mtim.tv_sec || now.st_mtim.tv_nsec != f->st.st_mtim.tv_nsec) {
        rc = cli_error(CLI_FAIL, CMD, "%s changed while it was being staged; stage it again", f->path);
        goto out;
    }
    *full = moetier_stage_hash_final(&h);
out:
    close(fd);
    return rc;
}

static void fill_entry(struct moetier_stage_entry *e, const struct file *f, size_t i, size_t n)
{
    memset(e, 0, sizeof *e);
    snprintf(e->orig_path, sizeof e->orig_path, "%s", f->abs);
    e->size = (uint64_t)f->st.st_size;
    e->mtime_ns = (int64_t)f->st.st_mtim.tv_sec * 1000000000ll + f->st.st_mtim.tv_nsec;
    e->ino = (uint64_t)f->st.st_ino;
    e->dev = (uint64_t)f->st.st_dev;
    e->file_index = (uint32_t)i;
    e->n_files = (uint32_t)n;
}

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int not_writable(const char *path, int e)
{
    return cli_error(CLI_USAGE, CMD, "%s: not writable (%s)", path, strerror(e));
}

static int is_write_denied(int e)
{
    return e == EACCES || e == EPERM || e == EROFS;
}

/* ---- fsdax: a directory ------------------------------------------------------------ */

/* Writes the record of one file atomically: DIR/.NAME.tmp, fsync, rename, fsync DIR. */
static int write_record(struct ctx *c, const char *rpath, const struct moetier_stage_header *h,
                        const struct moetier_stage_entry *e)
{
    char tmp[PATH_MAX + MOETIER_STAGE_NAME_MAX + 64];
    snprintf(tmp, sizeof tmp, "%s.tmp", rpath);
    (void)unlink(tmp); /* a leftover; never write through a link planted there */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0)
        return is_write_denied(errno) ? not_writable(c->dest, errno)
                                      : cli_error(CLI_FAIL, CMD, "%s: %s", tmp, strerror(errno));
    struct {
        struct moetier_stage_header h;
        struct moetier_stage_entry e;
    } rec = { *h, *e };
    int rc = CLI_OK;
    if (write(fd, &rec, sizeof rec) != (ssize_t)sizeof rec || fsync(fd) != 0) {
        int err = errno;
        rc = err == ENOSPC ? cli_error(CLI_USAGE, CMD, "no space in %s for the record", c->dest)
                           : cli_error(CLI_FAIL, CMD, "%s: %s", tmp, strerror(err));
        close(fd);
        unlink(tmp);
        return rc;
    }
    close(fd);
    if (rename(tmp, rpath) != 0) {
        rc = cli_error(CLI_FAIL, CMD, "%s: rename failed: %s", rpath, strerror(errno));
        unlink(tmp);
        return rc;
    }
    int dfd = open(c->dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return CLI_OK;
}

static int stage_one_fsdax(struct ctx *c, struct file *f, size_t i)
{
    char cpath[PATH_MAX + MOETIER_STAGE_NAME_MAX + 32], rpath[PATH_MAX + MOETIER_STAGE_NAME_MAX + 32];
    uint64_t size = (uint64_t)f->st.st_size;
    snprintf(cpath, sizeof cpath, "%s/%s", c->dest, f->base);
    moetier_stage_record_path(c->dest, f->base, rpath, sizeof rpath);

    if (unlink(rpath) != 0 && errno != ENOENT)
        return is_write_denied(errno) ? not_writable(c->dest, errno)
                                      : cli_error(CLI_FAIL, CMD, "%s: %s", rpath, strerror(errno));
    /* the copy is no more readable than the original and writable by us only
     * (the runtime refuses a copy others may write: docs/threat-model.md); a
     * link planted at its name is not followed, another user's file not reused */
    mode_t mode = (f->st.st_mode & 0644) | 0600;
    int fd = open(cpath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode);
    struct stat cst;
    if (fd >= 0 && (fstat(fd, &cst) != 0 || !S_ISREG(cst.st_mode) || cst.st_uid != geteuid())) {
        close(fd);
        return cli_error(CLI_FAIL, CMD, "%s: already exists and is not our regular file; remove it first", cpath);
    }
    if (fd >= 0)
        (void)fchmod(fd, mode);
    if (fd < 0) {
        int e = errno;
        if (is_write_denied(e))
            return not_writable(c->dest, e);
        if (e == ENOSPC)
            return cli_error(CLI_USAGE, CMD, "no space in %s", c->dest);
        return cli_error(CLI_FAIL, CMD, "%s: %s", cpath, strerror(e));
    }
    int rc = CLI_OK;
    struct pmem2_map *map = NULL;
    if (ftruncate(fd, (off_t)size) != 0) {
        int e = errno;
        rc = e == ENOSPC || e == EFBIG ? cli_error(CLI_USAGE, CMD, "no space in %s for %s", c->dest, f->base)
                                       : cli_error(CLI_FAIL, CMD, "%s: %s", cpath, strerror(e));
        goto out_close;
    }
    int e = posix_fallocate(fd, 0, (off_t)size);
    if (e == ENOSPC || e == EFBIG) {
        char a[24];
        rc = cli_error(CLI_USAGE, CMD, "no space in %s for %s (%s)", c->dest, f->base,
                       moetier_size_format(size, a, sizeof a));
        goto out_close;
    }
    if (e && e != EOPNOTSUPP && e != EINVAL) {
        rc = cli_error(CLI_FAIL, CMD, "%s: fallocate: %s", cpath, strerror(e));
        goto out_close;
    }
    if ((rc = pmem_map(c, fd, cpath, 0, &map)) != 0)
        goto out_close;
    unsigned char *dst = pmem2_map_get_address(map);
    uint64_t full;
    if ((rc = copy_into(c, f, dst, pmem2_get_memcpy_fn(map), &full)) != 0)
        goto out_unmap;

    struct moetier_stage_header h;
    struct moetier_stage_entry ent;
    memset(&h, 0, sizeof h);
    fill_entry(&ent, f, i, c->n);
    snprintf(ent.copy_name, sizeof ent.copy_name, "%s", f->base);
    ent.full_hash = full;
    ent.sample_hash = moetier_stage_sample_hash_mem(dst, size); /* from the copy */
    pmem2_map_delete(&map);
    if (fsync(fd) != 0) {
        rc = cli_error(CLI_FAIL, CMD, "%s: fsync: %s", cpath, strerror(errno));
        goto out_close;
    }
    h.staged_ns = wall_ns();
    moetier_stage_record_seal(&h, &ent, 1);
    if ((rc = write_record(c, rpath, &h, &ent)) != 0)
        goto out_close;
    char a[24];
    printf("  %s  %s  copied, verified  xxh64 %016llx -> %s\n", f->base,
           moetier_size_format(size, a, sizeof a), (unsigned long long)full, cpath);
out_unmap:
    if (map)
        pmem2_map_delete(&map);
out_close:
    close(fd);
    return rc;
}

static int stage_fsdax(struct ctx *c)
{
    /* a copy over the model itself would destroy it */
    uint64_t need = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct file *f = &c->files[i];
        char cpath[PATH_MAX + MOETIER_STAGE_NAME_MAX + 32];
        struct stat cs;
        snprintf(cpath, sizeof cpath, "%s/%s", c->dest, f->base);
        if (stat(cpath, &cs) == 0) {
            if (cs.st_ino == f->st.st_ino && cs.st_dev == f->st.st_dev)
                return cli_error(CLI_USAGE, CMD,
                                 "%s is the directory the model is in: staging there would overwrite it",
                                 c->dest);
            uint64_t have = (uint64_t)cs.st_blocks * 512;
            if (f->todo && have < (uint64_t)f->st.st_size)
                need += (uint64_t)f->st.st_size - have;
        } else if (f->todo) {
            need += (uint64_t)f->st.st_size;
        }
    }
    struct statvfs vs;
    if (statvfs(c->dest, &vs) == 0) {
        uint64_t avail = (uint64_t)vs.f_bavail * vs.f_frsize;
        if (need > avail) {
            char a[24], b[24];
            return cli_error(CLI_USAGE, CMD, "no space in %s: the model needs %s more, %s free", c->dest,
                             moetier_size_format(need, a, sizeof a), moetier_size_format(avail, b, sizeof b));
        }
    }
    for (size_t i = 0; i < c->n; i++) {
        if (!c->files[i].todo)
            continue;
        int rc = stage_one_fsdax(c, &c->files[i], i);
        if (rc)
            return rc;
    }
    return CLI_OK;
}

/* ---- devdax: a device --------------------------------------------------------------- */

static int stage_devdax(struct ctx *c)
{
    int rc;
    struct pmem2_source *src = NULL;
    struct pmem2_map *map = NULL;
    uint64_t *sizes = NULL, *offs = NULL;
    struct moetier_stage_entry *ents = NULL;
    int fd = open(c->dest, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return is_write_denied(errno) ? not_writable(c->dest, errno)
                                      : cli_error(CLI_FAIL, CMD, "%s: %s", c->dest, strerror(errno));
    size_t dev_size = 0, align = 0;
    if ((rc = pmem2_source_from_fd(&src, fd)) != 0) {
        rc = pmem2_fail("pmem2_source_from_fd", c->dest, rc);
        goto out_close;
    }
    if ((rc = pmem2_source_size(src, &dev_size)) != 0 || (rc = pmem2_source_alignment(src, &align)) != 0) {
        rc = pmem2_fail("pmem2_source_size/alignment", c->dest, rc);
        goto out_src;
    }
    sizes = calloc(c->n, sizeof *sizes);
    offs = calloc(c->n, sizeof *offs);
    ents = calloc(c->n, sizeof *ents);
    if (!sizes || !offs || !ents) {
        rc = cli_error(CLI_FAIL, CMD, "out of memory");
        goto out_src;
    }
    for (size_t i = 0; i < c->n; i++)
        sizes[i] = (uint64_t)c->files[i].st.st_size;
    uint64_t area = 0, end = 0;
    int lr = moetier_stage_devdax_layout(sizes, c->n, align, dev_size, offs, &area, &end);
    if (lr == -EOVERFLOW) {
        rc = cli_error(CLI_USAGE, CMD, "the model does not fit %s: its size overflows the layout", c->dest);
        goto out_src;
    }
    if (lr == -ENOSPC) {
        char a[24], b[24], al[24];
        rc = cli_error(CLI_USAGE, CMD,
                       "the model does not fit %s: it needs %s with the record and %s alignment, the device holds %s",
                       c->dest, moetier_size_format(end, a, sizeof a), moetier_size_format(align, al, sizeof al),
                       moetier_size_format(dev_size, b, sizeof b));
        goto out_src;
    }
    if (lr) {
        rc = cli_error(CLI_USAGE, CMD, "%s: cannot lay out %zu files with alignment %zu", c->dest, c->n, align);
        goto out_src;
    }
    int todo = 0;
    for (size_t i = 0; i < c->n; i++)
        todo |= c->files[i].todo;
    if (!todo) {
        rc = CLI_OK;
        goto out_src;
    }
    {
        char a[24], al[24];
        printf("  device %s: %s, alignment %s, record area %llu bytes\n", c->dest,
               moetier_size_format(dev_size, a, sizeof a), moetier_size_format(align, al, sizeof al),
               (unsigned long long)area);
    }
    pmem2_source_delete(&src);
    if ((rc = pmem_map(c, fd, c->dest, (size_t)end, &map)) != 0)
        goto out_close;
    unsigned char *base = pmem2_map_get_address(map);
    pmem2_memcpy_fn cpy = pmem2_get_memcpy_fn(map);
    pmem2_memset_fn set = pmem2_get_memset_fn(map);
    pmem2_persist_fn persist = pmem2_get_persist_fn(map);

    /* no valid record while the copies change */
    set(base, 0, sizeof(struct moetier_stage_header), 0);
    for (size_t i = 0; i < c->n; i++) {
        struct file *f = &c->files[i];
        uint64_t full;
        if ((rc = copy_into(c, f, base + offs[i], cpy, &full)) != 0)
            goto out_unmap;
        fill_entry(&ents[i], f, i, c->n);
        ents[i].full_hash = full;
        ents[i].sample_hash = moetier_stage_sample_hash_mem(base + offs[i], sizes[i]);
        ents[i].offset = offs[i];
        ents[i].align = align;
        char a[24];
        printf("  %s  %s  copied, verified  xxh64 %016llx -> %s at offset %llu\n", f->base,
               moetier_size_format(sizes[i], a, sizeof a), (unsigned long long)full, c->dest,
               (unsigned long long)offs[i]);
    }
    /* the record last: entries persisted first, then the header that makes them valid */
    struct moetier_stage_header h;
    memset(&h, 0, sizeof h);
    h.flags = MOETIER_STAGE_F_DEVDAX;
    h.area_size = area;
    h.device_size = dev_size;
    h.staged_ns = wall_ns();
    moetier_stage_record_seal(&h, ents, (uint32_t)c->n);
    cpy(base + sizeof h, ents, c->n * sizeof *ents, 0);
    cpy(base, &h, sizeof h, PMEM2_F_MEM_NOFLUSH);
    persist(base, sizeof h);
    rc = CLI_OK;
out_unmap:
    pmem2_map_delete(&map);
out_src:
    pmem2_source_delete(&src);
out_close:
    free(ents);
    free(offs);
    free(sizes);
    close(fd);
    return rc;
}

/* ---- the command -------------------------------------------------------------------- */

/* Where DEST is and what it is; a CLI code. */
static int open_dest(struct ctx *c)
{
    struct stat st;
    if (stat(c->o.dest, &st) != 0) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return cli_error(CLI_USAGE, CMD, "%s: no such directory or device", c->o.dest);
        return cli_error(CLI_USAGE, CMD, "%s: %s", c->o.dest, strerror(e));
    }
    if (S_ISCHR(st.st_mode)) {
        char p[96], link[PATH_MAX];
        snprintf(p, sizeof p, "/sys/dev/char/%u:%u/subsystem", major(st.st_rdev), minor(st.st_rdev));
        ssize_t n = readlink(p, link, sizeof link - 1);
        if (n > 0)
            link[n] = '\0';
        if (n <= 0 || strcmp(strrchr(link, '/') ? strrchr(link, '/') + 1 : link, "dax") != 0)
            return cli_error(CLI_USAGE, CMD, "%s: a character device, but not a device-dax device", c->o.dest);
        c->devdax = 1;
    } else if (!S_ISDIR(st.st_mode)) {
        return cli_error(CLI_USAGE, CMD, "%s: neither a directory nor a device-dax device", c->o.dest);
    }
    if (!realpath(c->o.dest, c->dest))
        return cli_error(CLI_USAGE, CMD, "%s: %s", c->o.dest, strerror(errno));
    if (strlen(c->dest) + MOETIER_STAGE_NAME_MAX + 2 > MOETIER_STAGE_PATH_MAX)
        return cli_error(CLI_USAGE, CMD, "%s: path too long", c->dest);
    snprintf(c->slow, sizeof c->slow, "%s:%s", c->devdax ? "devdax" : "pmem", c->dest);
    if (!c->o.check && access(c->dest, W_OK) != 0 && is_write_denied(errno))
        return not_writable(c->dest, errno);
    return CLI_OK;
}

static int open_model(struct ctx *c, struct moetier_gguf_model **m)
{
    char err[MOETIER_GGUF_ERR_MAX];
    int rc = moetier_gguf_model_open(c->o.model, m, err, sizeof err);
    if (rc == -ENOENT && access(c->o.model, F_OK) == 0)
        return cli_error(CLI_USAGE, CMD, "%s: a part of the split model is missing: %s", c->o.model, err);
    if (rc == -ENOENT)
        return cli_error(CLI_USAGE, CMD, "%s: no such model file", c->o.model);
    if (rc == -EACCES)
        return cli_error(CLI_USAGE, CMD, "%s: not readable (%s)", c->o.model, err);
    if (rc == -EBADMSG || rc == -E2BIG || rc == -EINVAL)
        return cli_error(CLI_USAGE, CMD, "%s: not a GGUF model: %s", c->o.model, err);
    if (rc)
        return cli_error(CLI_FAIL, CMD, "%s: %s", c->o.model, err);
    c->n = moetier_gguf_model_n_files(*m);
    c->files = calloc(c->n, sizeof *c->files);
    if (!c->files)
        return cli_error(CLI_FAIL, CMD, "out of memory");
    for (size_t i = 0; i < c->n; i++) {
        struct file *f = &c->files[i];
        f->path = moetier_gguf_model_path(*m, i);
        if (!realpath(f->path, f->abs) || stat(f->abs, &f->st) != 0)
            return cli_error(CLI_USAGE, CMD, "%s: %s", f->path, strerror(errno));
        if (strlen(f->abs) >= MOETIER_STAGE_PATH_MAX)
            return cli_error(CLI_USAGE, CMD, "%s: path too long for the record", f->abs);
        f->base = strrchr(f->abs, '/') + 1;
        if (strlen(f->base) + strlen(MOETIER_STAGE_SUFFIX) + 8 >= MOETIER_STAGE_NAME_MAX)
            return cli_error(CLI_USAGE, CMD, "%s: file name too long for the record", f->abs);
    }
    return CLI_OK;
}

static int check(struct ctx *c)
{
    int bad = 0;
    for (size_t i = 0; i < c->n; i++) {
        struct file *f = &c->files[i];
        struct moetier_stage_full res;
        struct moetier_stage_copy cp;
        char why[512], a[24];
        int rc = moetier_stage_check_full(c->slow, f->abs, &res, why, sizeof why);
        if (rc == 0) {
            printf("  %s  %s  the copy matches the original (xxh64 %016llx)\n", f->base,
                   moetier_size_format(res.size, a, sizeof a), (unsigned long long)res.recorded);
            rc = moetier_stage_find(c->slow, f->abs, &cp, why, sizeof why);
            if (rc) {
                printf("  %s  but the runtime would not use it: %s\n", f->base, why);
                bad = 1;
            }
        } else if (rc == -ESTALE) {
            printf("  %s  MISMATCH: %s\n", f->base, why);
            bad = 1;
        } else if (rc == -ENOENT) {
            printf("  %s  not staged: %s\n", f->base, why);
            bad = 1;
        } else {
            return cli_error(CLI_FAIL, CMD, "%s: %s", f->base, why[0] ? why : strerror(-rc));
        }
    }
    if (bad)
        return cli_error(CLI_FAIL, CMD, "%s: the staged copy in %s does not match (see above)", c->o.model,
                         c->dest);
    return CLI_OK;
}

int cmd_stage(int argc, char **argv)
{
    struct ctx c;
    struct moetier_gguf_model *m = NULL;
    memset(&c, 0, sizeof c);
    int rc = parse_args(argc, argv, &c.o);
    if (rc)
        return rc < 0 ? CLI_OK : rc;
    if ((rc = open_model(&c, &m)) != 0 || (rc = open_dest(&c)) != 0)
        goto out;
    printf("%s %s (%zu file%s) %s %s (%s)\n", c.o.check ? "checking" : "staging", c.o.model, c.n,
           c.n == 1 ? "" : "s", c.o.check ? "against" : "to", c.dest,
           c.devdax ? "device-dax" : "directory");
    fflush(stdout); /* before any one-line error on stderr */
    if (c.o.check) {
        rc = check(&c);
        goto out;
    }

    /* what is up to date already */
    size_t todo = 0;
    for (size_t i = 0; i < c.n; i++) {
        struct moetier_stage_copy cp;
        char why[512];
        struct file *f = &c.files[i];
        f->todo = 1;
        if (!c.o.force && moetier_stage_find(c.slow, f->abs, &cp, why, sizeof why) == 0) {
            f->todo = 0;
        } else {
            todo++;
            c.total += (uint64_t)f->st.st_size;
        }
    }
    /* devdax rewrites the whole record: every part is copied again */
    if (c.devdax && todo && todo < c.n) {
        for (size_t i = 0; i < c.n; i++)
            if (!c.files[i].todo) {
                c.files[i].todo = 1;
                c.total += (uint64_t)c.files[i].st.st_size;
            }
        todo = c.n;
    }
    if (!todo) {
        printf("  already staged and unchanged (size, mtime, inode, sampled content); nothing to do "
               "(--force copies again)\n");
        rc = CLI_OK;
        goto out;
    }
    for (size_t i = 0; i < c.n; i++)
        if (!c.files[i].todo)
            printf("  %s  unchanged since staged; kept\n", c.files[i].base);
    c.buf = aligned_alloc(4096, CHUNK);
    if (!c.buf) {
        rc = cli_error(CLI_FAIL, CMD, "out of memory");
        goto out;
    }
    c.progress = !c.o.quiet && isatty(2);
    c.last_pct = -1;
    c.t0 = now_s();
    rc = c.devdax ? stage_devdax(&c) : stage_fsdax(&c);
    if (rc)
        goto out;
    /* what the runtime will see */
    for (size_t i = 0; i < c.n; i++) {
        struct moetier_stage_copy cp;
        char why[512];
        int r = moetier_stage_find(c.slow, c.files[i].abs, &cp, why, sizeof why);
        if (r) {
            rc = cli_error(CLI_FAIL, CMD, "staged, but the record does not validate: %s", why);
            goto out;
        }
    }
    double dt = now_s() - c.t0;
    char a[24], b[24];
    printf("staged %zu file%s, %s in %.2f s (%s/s); MOETIER_SLOW=%s\n", todo, todo == 1 ? "" : "s",
           moetier_size_format(c.total, a, sizeof a), dt,
           moetier_size_format(dt > 0 ? (uint64_t)(c.total / dt) : 0, b, sizeof b), c.slow);
out:
    free(c.buf);
    free(c.files);
    moetier_gguf_model_close(m);
    return rc;
}
