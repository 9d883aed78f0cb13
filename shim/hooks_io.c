/*
 * hooks_io: file opening and reading.
 *
 * Opening: a file whose base name matches MOETIER_MATCH is (part of) a model;
 * its descriptor is tracked so the mapping or reads that follow can be tied to
 * file offsets. Reading (read/pread/fread, --no-mmap loads): a read of a whole
 * expert tensor into memory tells where that tensor now lives. glibc's stdio
 * does not go through read(2)'s symbol, so fread is hooked itself.
 * Everything else passes straight through.
 */
#include "shim/shim.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static void *real_open, *real_open64, *real_openat, *real_openat64, *real_fopen, *real_fopen64;
static void *real_close, *real_fclose, *real_read, *real_pread, *real_pread64, *real_fread;

#define WATCHING() (shim.active && !shim_busy)

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? (mode_t)va_arg(ap, int) : 0;
}

static int opened(const char *path, int fd)
{
    if (fd >= 0 && WATCHING()) {
        int saved = errno;
        shim_file_opened(path, fd);
        errno = saved;
    }
    return fd;
}

int open(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return opened(path, ((int (*)(const char *, int, ...))shim_real("open", &real_open))(path, flags, mode));
}

int open64(const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return opened(path, ((int (*)(const char *, int, ...))shim_real("open64", &real_open64))(path, flags, mode));
}

int openat(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int fd = ((int (*)(int, const char *, int, ...))shim_real("openat", &real_openat))(dirfd, path, flags, mode);
    /* relative to another directory: only absolute paths and the cwd are tracked */
    return dirfd == AT_FDCWD || path[0] == '/' ? opened(path, fd) : fd;
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int fd = ((int (*)(int, const char *, int, ...))shim_real("openat64", &real_openat64))(dirfd, path, flags, mode);
    return dirfd == AT_FDCWD || path[0] == '/' ? opened(path, fd) : fd;
}

static FILE *fopened(const char *path, FILE *f)
{
    if (f && WATCHING())
        opened(path, fileno(f));
    return f;
}

FILE *fopen(const char *path, const char *mode)
{
    return fopened(path, ((FILE * (*)(const char *, const char *)) shim_real("fopen", &real_fopen))(path, mode));
}

FILE *fopen64(const char *path, const char *mode)
{
    return fopened(path, ((FILE * (*)(const char *, const char *)) shim_real("fopen64", &real_fopen64))(path, mode));
}

int close(int fd)
{
    if (fd >= 0 && fd < SHIM_MAX_FD && shim.fd_file[fd])
        shim_fd_closed(fd);
    return ((int (*)(int))shim_real("close", &real_close))(fd);
}

int fclose(FILE *f)
{
    int fd = f ? fileno(f) : -1;
    if (fd >= 0 && fd < SHIM_MAX_FD && shim.fd_file[fd])
        shim_fd_closed(fd);
    return ((int (*)(FILE *))shim_real("fclose", &real_fclose))(f);
}

static int tracked(int fd)
{
    return fd >= 0 && fd < SHIM_MAX_FD && shim.fd_file[fd] && WATCHING();
}

ssize_t read(int fd, void *buf, size_t n)
{
    off_t off = tracked(fd) ? lseek(fd, 0, SEEK_CUR) : -1;
    ssize_t r = ((ssize_t(*)(int, void *, size_t))shim_real("read", &real_read))(fd, buf, n);
    if (r > 0 && off >= 0) {
        int saved = errno;
        shim_read_into(fd, off, buf, (size_t)r);
        errno = saved;
    }
    return r;
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    ssize_t r = ((ssize_t(*)(int, void *, size_t, off_t))shim_real("pread", &real_pread))(fd, buf, n, off);
    if (r > 0 && tracked(fd)) {
        int saved = errno;
        shim_read_into(fd, off, buf, (size_t)r);
        errno = saved;
    }
    return r;
}

ssize_t pread64(int fd, void *buf, size_t n, off_t off)
{
    ssize_t r = ((ssize_t(*)(int, void *, size_t, off_t))shim_real("pread64", &real_pread64))(fd, buf, n, off);
    if (r > 0 && tracked(fd)) {
        int saved = errno;
        shim_read_into(fd, off, buf, (size_t)r);
        errno = saved;
    }
    return r;
}

size_t fread(void *buf, size_t size, size_t n, FILE *f)
{
    int fd = f ? fileno(f) : -1;
    off_t off = tracked(fd) ? ftello(f) : -1;
    size_t r = ((size_t(*)(void *, size_t, size_t, FILE *))shim_real("fread", &real_fread))(buf, size, n, f);
    if (r > 0 && off >= 0) {
        int saved = errno;
        shim_read_into(fd, off, buf, r * size);
        errno = saved;
    }
    return r;
}
