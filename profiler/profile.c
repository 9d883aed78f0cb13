/*
 * profile: saving and loading what moetier learned about a model (see
 * profile.h).
 *
 * File format, version 1, every integer little endian:
 *
 *   offset  size            field
 *   0       8               magic "MOETPROF"
 *   8       4   u32         version (1)
 *   12      4   u32         header bytes (1120)
 *   16      8   u64         file bytes (the whole file, checksum included)
 *   24      4   u32         n_layers   (>= 1)
 *   28      4   u32         n_experts  (>= 1; n_layers * n_experts <= MOETIER_PROFILE_MAX_EXPERTS)
 *   32      8   u64         tokens_decode
 *   40      8   u64         saved_ns (CLOCK_REALTIME)
 *   48      48              model_id, NUL-terminated, zero-padded
 *   96      1024            model path, NUL-terminated, zero-padded
 *   1120    4 * n_layers    i32 block numbers, strictly increasing, 0..MOETIER_PROFILE_MAX_BLOCK
 *   ...     12 * n          experts, layer-major: u64 hits, f32 rate (IEEE 754, in [0, 1])
 *   ...     8   u64         FNV-1a 64 of every byte before it
 *
 * so file bytes = 1128 + 4 n_layers + 12 n_layers n_experts exactly.
 *
 * A profile file is untrusted input: every field is checked before it is
 * used, sizes against the file size, and the checksum before any value is
 * handed out. Save and load use no stdio and no malloc (load allocates through
 * the caller's function); both stream through a fixed stack buffer.
 *
 * Saving is atomic: the bytes go to <path>.tmp.<pid> (O_EXCL, mode 0600),
 * which is fsync'ed and renamed over path; the directory is fsync'ed after.
 * Missing parent directories are created with mode 0700; the last one must
 * be private to us (or a sticky shared directory), and loading refuses a
 * symbolic link or another user's file.
 */
#include "profiler/profile.h"
#include "common/fail_point.h"
#include "common/fmt.h"
#include "common/hash.h"
#include "common/private_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* rename() only: no stream is used */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_BYTES 1120u
#define IO_CHUNK 4096

/* ---- little-endian encoding ---------------------------------------------- */

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t file_bytes_for(uint32_t n_layers, uint32_t n_experts)
{
    return HEADER_BYTES + 4ull * n_layers + 12ull * n_layers * n_experts + 8;
}

/* ---- save ------------------------------------------------------------------ */

/* Buffered writer over an fd that checksums what it writes. */
struct out {
    int fd;
    int err;
    size_t len;
    uint64_t hash;
    unsigned char buf[IO_CHUNK];
};

static void out_flush(struct out *o)
{
    size_t done = 0;
    while (!o->err && done < o->len) {
        ssize_t n = MOETIER_FAIL("profile.write") ? -1 : write(o->fd, o->buf + done, o->len - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            o->err = -errno;
        } else {
            done += (size_t)n;
        }
    }
    o->len = 0;
}

static void out_put(struct out *o, const void *data, size_t n, int hashed)
{
    const unsigned char *p = data;
    if (hashed)
        o->hash = moetier_fnv1a(o->hash, p, n);
    while (n) {
        size_t k = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
        memcpy(o->buf + o->len, p, k);
        o->len += k;
        p += k;
        n -= k;
        if (o->len == sizeof o->buf)
            out_flush(o);
    }
}

/* mkdir -p of path's parent directory, new components with mode 0700. */
static int mkdir_parents(const char *path)
{
    char dir[MOETIER_PROFILE_PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof dir)
        return -ENAMETOOLONG;
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0700) && errno != EEXIST)
                return -errno;
            *p = c;
            if (!c)
                break;
        }
    }
    struct stat st;
    if (stat(dir, &st))
        return -errno;
    return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Validates p for saving; 0 or -EINVAL / -E2BIG. */
static int check_for_save(const struct moetier_profile *p)
{
    uint64_t n = (uint64_t)p->n_layers * p->n_experts;
    if (!p->n_layers || !p->n_experts || !p->blocks || !p->experts)
        return -EINVAL;
    if (n > MOETIER_PROFILE_MAX_EXPERTS)
        return -E2BIG;
    if (memchr(p->model_id, 0, sizeof p->model_id) == NULL || memchr(p->model, 0, sizeof p->model) == NULL)
        return -EINVAL;
    for (uint32_t l = 0; l < p->n_layers; l++)
        if (p->blocks[l] < 0 || p->blocks[l] > MOETIER_PROFILE_MAX_BLOCK ||
            (l && p->blocks[l] <= p->blocks[l - 1]))
            return -EINVAL;
    return 0;
}

static float clamp_rate(float r)
{
    if (!(r >= 0.0f)) /* NaN too */
        return 0.0f;
    return r > 1.0f ? 1.0f : r;
}

/* The directory path's file goes into ("." when none). */
static void parent_dir(const char *path, char *dir, size_t cap)
{
    moetier_fmt(dir, cap, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
    } else {
        moetier_fmt(dir, cap, ".");
    }
}

int moetier_profile_save(const char *path, const struct moetier_profile *p)
{
    char why[MOETIER_PROFILE_PATH_MAX + 200];
    return moetier_profile_save_ex(path, p, why, sizeof why);
}

int moetier_profile_save_ex(const char *path, const struct moetier_profile *p, char *why, size_t cap)
{
    char tmp[MOETIER_PROFILE_PATH_MAX + 32], dir[MOETIER_PROFILE_PATH_MAX];
    int rc;
    if (cap)
        why[0] = '\0';
    if (!path || !*path)
        return -EINVAL;
    if ((rc = check_for_save(p)))
        return rc;
    if (strlen(path) >= MOETIER_PROFILE_PATH_MAX)
        return -ENAMETOOLONG;
    if ((rc = mkdir_parents(path)))
        return rc;
    parent_dir(path, dir, sizeof dir);
    if ((rc = moetier_dir_check(dir, why, cap)))
        return rc;
    moetier_fmt(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());

    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno == EEXIST) {
        /* left by an earlier process with our pid that died mid-save */
        (void)unlink(tmp);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0)
        return -errno;

    struct out o;
    o.fd = fd;
    o.err = 0;
    o.len = 0;
    o.hash = MOETIER_FNV1A_INIT;

    unsigned char h[HEADER_BYTES];
    memset(h, 0, sizeof h);
    memcpy(h, MOETIER_PROFILE_MAGIC, 8);
    put32(h + 8, MOETIER_PROFILE_VERSION);
    put32(h + 12, HEADER_BYTES);
    put64(h + 16, file_bytes_for(p->n_layers, p->n_experts));
    put32(h + 24, p->n_layers);
    put32(h + 28, p->n_experts);
    put64(h + 32, p->tokens_decode);
    put64(h + 40, p->saved_ns);
    /* strings up to their NUL; the rest of the field stays zero */
    memcpy(h + 48, p->model_id, strlen(p->model_id));
    memcpy(h + 96, p->model, strlen(p->model));
    out_put(&o, h, sizeof h, 1);

    for (uint32_t l = 0; l < p->n_layers; l++) {
        unsigned char b[4];
        put32(b, (uint32_t)p->blocks[l]);
        out_put(&o, b, 4, 1);
    }
    uint64_t n = (uint64_t)p->n_layers * p->n_experts;
    for (uint64_t i = 0; i < n; i++) {
        unsigned char e[12];
        float r = clamp_rate(p->experts[i].rate);
        uint32_t bits;
        memcpy(&bits, &r, 4);
        put64(e, p->experts[i].hits);
        put32(e + 8, bits);
        out_put(&o, e, 12, 1);
    }
    unsigned char sum[8];
    put64(sum, o.hash);
    out_put(&o, sum, 8, 0);
    out_flush(&o);
    rc = o.err;
    if (!rc && (MOETIER_FAIL("profile.fsync") || fsync(fd)))
        rc = -errno;
    if (close(fd) && !rc)
        rc = -errno;
    if (!rc && (MOETIER_FAIL("profile.rename") || rename(tmp, path)))
        rc = -errno;
    if (rc) {
        (void)unlink(tmp);
        return rc;
    }
    /* make the rename durable (best effort: not every file system allows it) */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* ---- load ------------------------------------------------------------------ */

struct in {
    int fd;
    uint64_t hash;
    size_t pos, len; /* buf[pos..len) not yet consumed */
    unsigned char buf[IO_CHUNK];
};

/* Reads exactly n bytes into dst (hashing them); 0, -EPROTO (file ended) or -errno. */
static int in_get(struct in *i, void *dst, size_t n)
{
    unsigned char *d = dst;
    while (n) {
        if (i->pos == i->len) {
            ssize_t r = MOETIER_FAIL("profile.read") ? -1 : read(i->fd, i->buf, sizeof i->buf);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                return -errno;
            }
            if (r == 0)
                return -EPROTO;
            i->pos = 0;
            i->len = (size_t)r;
        }
        size_t k = i->len - i->pos < n ? i->len - i->pos : n;
        memcpy(d, i->buf + i->pos, k);
        i->hash = moetier_fnv1a(i->hash, i->buf + i->pos, k);
        i->pos += k;
        d += k;
        n -= k;
    }
    return 0;
}

static int perr(char *err, size_t n, int rc, const char *path, const char *why)
{
    if (n)
        moetier_fmt(err, n, "%s: %s", path, why);
    return rc;
}

int moetier_profile_load_ex(const char *path, const char *expect_id, struct moetier_profile *p,
                            void *(*alloc)(size_t), void (*dealloc)(void *), char *err, size_t errlen)
{
    char why[300];
    struct stat st;
    int rc;
    int32_t *blocks = NULL;
    struct moetier_profile_expert *experts = NULL;
    struct in in;

    memset(p, 0, sizeof *p);
    if (errlen)
        err[0] = '\0';
    if (!alloc) {
        alloc = malloc;
        dealloc = free;
    }
    in.fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (in.fd < 0) {
        rc = -errno;
        if (rc == -ELOOP)
            return perr(err, errlen, -EPERM, path, "is a symbolic link; refusing it as a profile");
        return perr(err, errlen, rc, path, strerror(-rc));
    }
    in.hash = MOETIER_FNV1A_INIT;
    in.pos = in.len = 0;
    if (fstat(in.fd, &st)) {
        rc = perr(err, errlen, -errno, path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = perr(err, errlen, -EPROTO, path, "not a regular file");
        goto out;
    }
    if (st.st_uid != geteuid()) {
        rc = perr(err, errlen, -EPERM, path, "profile belongs to another user; refusing it");
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    if (size < HEADER_BYTES + 8) {
        unsigned char m[8];
        int ours = pread(in.fd, m, 8, 0) == 8 && memcmp(m, MOETIER_PROFILE_MAGIC, 8) == 0;
        rc = perr(err, errlen, -EPROTO, path,
                  ours ? "truncated profile (shorter than its header)" : "not a moetier profile (too short)");
        goto out;
    }

    unsigned char h[HEADER_BYTES];
    if ((rc = in_get(&in, h, sizeof h))) {
        rc = perr(err, errlen, rc == -EPROTO ? -EPROTO : rc, path,
                  rc == -EPROTO ? "truncated profile header" : strerror(-rc));
        goto out;
    }
    if (memcmp(h, MOETIER_PROFILE_MAGIC, 8) != 0) {
        rc = perr(err, errlen, -EPROTO, path, "not a moetier profile (bad magic)");
        goto out;
    }
    uint32_t version = get32(h + 8), hbytes = get32(h + 12);
    if (version != MOETIER_PROFILE_VERSION) {
        moetier_fmt(why, sizeof why, "profile version %u; this moetier reads version %u", version,
                    MOETIER_PROFILE_VERSION);
        rc = perr(err, errlen, -EPROTO, path, why);
        goto out;
    }
    if (hbytes != HEADER_BYTES) {
        moetier_fmt(why, sizeof why, "corrupt profile: header size %u, expected %u", hbytes, HEADER_BYTES);
        rc = perr(err, errlen, -EPROTO, path, why);
        goto out;
    }
    uint64_t fbytes = get64(h + 16);
    uint32_t nl = get32(h + 24), nx = get32(h + 28);
    uint64_t n = (uint64_t)nl * nx;
    if (!nl || !nx || nl > MOETIER_PROFILE_MAX_EXPERTS || nx > MOETIER_PROFILE_MAX_EXPERTS ||
        n > MOETIER_PROFILE_MAX_EXPERTS) {
        moetier_fmt(why, sizeof why, "corrupt profile: %u layers x %u experts", nl, nx);
        rc = perr(err, errlen, -EPROTO, path, why);
        goto out;
    }
    if (fbytes != size || fbytes != file_bytes_for(nl, nx)) {
        moetier_fmt(why, sizeof why,
                    "corrupt or truncated profile: %llu bytes, header says %llu, shape needs %llu",
                    (unsigned long long)size, (unsigned long long)fbytes,
                    (unsigned long long)file_bytes_for(nl, nx));
        rc = perr(err, errlen, -EPROTO, path, why);
        goto out;
    }
    if (h[48 + 47] != 0 || h[96 + 1023] != 0) {
        rc = perr(err, errlen, -EPROTO, path, "corrupt profile: unterminated model id or path");
        goto out;
    }
    /* the id goes into log lines (a mismatch names it): ids moetier writes are
     * hex and dashes, so a control character means a damaged or forged file */
    for (const unsigned char *c = h + 48; *c; c++)
        if (*c < 0x20 || *c == 0x7f) {
            rc = perr(err, errlen, -EPROTO, path, "corrupt profile: control character in the model id");
            goto out;
        }

    blocks = alloc(4u * nl);
    experts = blocks ? alloc((size_t)n * sizeof *experts) : NULL;
    if (!blocks || !experts) {
        rc = perr(err, errlen, -ENOMEM, path, "out of memory");
        goto out;
    }
    for (uint32_t l = 0; l < nl; l++) {
        unsigned char b[4];
        if ((rc = in_get(&in, b, 4)))
            goto short_read;
        blocks[l] = (int32_t)get32(b);
        if (blocks[l] < 0 || blocks[l] > MOETIER_PROFILE_MAX_BLOCK || (l && blocks[l] <= blocks[l - 1])) {
            moetier_fmt(why, sizeof why, "corrupt profile: layer %u has block number %d", l, (int)blocks[l]);
            rc = perr(err, errlen, -EPROTO, path, why);
            goto out;
        }
    }
    for (uint64_t i = 0; i < n; i++) {
        unsigned char e[12];
        if ((rc = in_get(&in, e, 12)))
            goto short_read;
        uint32_t bits = get32(e + 8);
        float r;
        memcpy(&r, &bits, 4);
        if (!(r >= 0.0f && r <= 1.0f)) {
            moetier_fmt(why, sizeof why, "corrupt profile: expert %u of layer %u has a rate out of [0, 1]",
                        (unsigned)(i % nx), (unsigned)(i / nx));
            rc = perr(err, errlen, -EPROTO, path, why);
            goto out;
        }
        experts[i].hits = get64(e);
        experts[i].rate = r;
    }
    uint64_t computed = in.hash;
    unsigned char sum[8];
    if ((rc = in_get(&in, sum, 8)))
        goto short_read;
    if (get64(sum) != computed) {
        rc = perr(err, errlen, -EPROTO, path, "corrupt profile: checksum mismatch");
        goto out;
    }
    if (expect_id && strcmp((const char *)h + 48, expect_id) != 0) {
        moetier_fmt(why, sizeof why, "profile is for model %s, not %.*s", (const char *)h + 48, 100, expect_id);
        rc = perr(err, errlen, -ESTALE, path, why);
        goto out;
    }

    memcpy(p->model_id, h + 48, sizeof p->model_id);
    memcpy(p->model, h + 96, sizeof p->model);
    p->n_layers = nl;
    p->n_experts = nx;
    p->tokens_decode = get64(h + 32);
    p->saved_ns = get64(h + 40);
    p->blocks = blocks;
    p->experts = experts;
    blocks = NULL;
    experts = NULL;
    rc = 0;
    goto out;

short_read:
    rc = perr(err, errlen, rc == -EPROTO ? -EPROTO : rc, path,
              rc == -EPROTO ? "truncated profile (the file changed while read)" : strerror(-rc));
out:
    if (dealloc) {
        if (experts)
            dealloc(experts);
        if (blocks)
            dealloc(blocks);
    }
    close(in.fd);
    return rc;
}

int moetier_profile_load(const char *path, const char *expect_id, struct moetier_profile *p,
                         void *(*alloc)(size_t), char *err, size_t errlen)
{
    return moetier_profile_load_ex(path, expect_id, p, alloc, alloc ? NULL : free, err, errlen);
}

void moetier_profile_free(struct moetier_profile *p, void (*dealloc)(void *))
{
    if (!dealloc)
        dealloc = free;
    if (p->blocks)
        dealloc(p->blocks);
    if (p->experts)
        dealloc(p->experts);
    p->blocks = NULL;
    p->experts = NULL;
}

const char *moetier_profile_default_path(const char *model_id, char *buf, size_t cap)
{
    if (!model_id || !*model_id || strchr(model_id, '/') || strcmp(model_id, ".") == 0 ||
        strcmp(model_id, "..") == 0 || strlen(model_id) >= sizeof ((struct moetier_profile *)0)->model_id)
        return NULL;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    const char *base, *mid;
    if (xdg && xdg[0] == '/') {
        base = xdg;
        mid = "/moetier/";
    } else if (home && home[0] == '/') {
        base = home;
        mid = "/.cache/moetier/";
    } else {
        return NULL;
    }
    if (strlen(base) + strlen(mid) + strlen(model_id) + sizeof ".prof" > cap)
        return NULL;
    moetier_fmt(buf, cap, "%s%s%s.prof", base, mid, model_id);
    return buf;
}
