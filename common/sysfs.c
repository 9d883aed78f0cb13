/*
 * sysfs: small kernel files and their numbers (see sysfs.h).
 */
#include "common/sysfs.h"
#include "common/number.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

ssize_t moetier_read_text(const char *path, char *buf, size_t cap)
{
    if (!cap)
        return -EINVAL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = 0;
    while (n + 1 < cap) { /* a /proc file may come in several reads */
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            close(fd);
            buf[0] = '\0';
            return -e;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    return (ssize_t)n;
}

uint64_t moetier_read_u64(const char *path, uint64_t dflt)
{
    char buf[64];
    if (moetier_read_text(path, buf, sizeof buf) <= 0)
        return dflt;
    const char *p = buf, *end;
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t v;
    return moetier_parse_u64(p, 10, &v, &end) == 0 ? v : dflt;
}
