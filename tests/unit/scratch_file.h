/*
 * scratch_file: an unlinked temporary file of a known byte pattern in $TMPDIR
 * (default /var/tmp, a disk file system: the page-cache tests need one, not
 * tmpfs), written and fsynced, for the tests that map real files.
 */
#ifndef MOETIER_TESTS_SCRATCH_FILE_H
#define MOETIER_TESTS_SCRATCH_FILE_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Returns the file's descriptor and its content in *content (malloc'd), or -1
 * with a message. */
static inline int scratch_file(const char *name, size_t bytes, unsigned char **content)
{
    char path[512];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
    snprintf(path, sizeof path, "%s/%s.XXXXXX", tmp, name);
    int fd = mkstemp(path);
    if (fd < 0) {
        perror(path);
        return -1;
    }
    unlink(path);
    unsigned char *buf = malloc(bytes);
    if (!buf) {
        close(fd);
        return -1;
    }
    for (size_t i = 0; i < bytes; i++)
        buf[i] = (unsigned char)(i * 131 + (i >> 13));
    if (write(fd, buf, bytes) != (ssize_t)bytes || fsync(fd) != 0) {
        perror("write");
        free(buf);
        close(fd);
        return -1;
    }
    *content = buf;
    return fd;
}

#endif
