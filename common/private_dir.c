/*
 * private_dir: is a directory safe to keep our files in (private_dir.h).
 * The check looks at the directory through a descriptor opened with
 * O_NOFOLLOW, so what is checked is what the name named at that instant.
 */
#include "common/private_dir.h"
#include "common/fmt.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int moetier_dir_check(const char *dir, char *why, size_t cap)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP || e == ENOTDIR) {
            struct stat lst;
            if (lstat(dir, &lst) == 0 && S_ISLNK(lst.st_mode)) {
                moetier_fmt(why, cap, "%s is a symbolic link; refusing it as moetier's directory", dir);
                return -EPERM;
            }
        }
        moetier_fmt(why, cap, "%s: %s", dir, strerror(e));
        return -e;
    }
    struct stat st;
    int rc = fstat(fd, &st) ? -errno : 0;
    close(fd);
    if (rc) {
        moetier_fmt(why, cap, "%s: %s", dir, strerror(-rc));
        return rc;
    }
    uid_t me = geteuid();
    int sticky = (st.st_mode & S_ISVTX) != 0;
    if (sticky && (st.st_uid == 0 || st.st_uid == me))
        return 0;
    if (st.st_uid != me) {
        moetier_fmt(why, cap, "%s belongs to uid %u, not to us (uid %u); refusing it", dir, (unsigned)st.st_uid,
                    (unsigned)me);
        return -EPERM;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        unsigned m = (unsigned)(st.st_mode & 07777); /* moetier_fmt has no %o */
        moetier_fmt(why, cap, "%s is %s writable (mode %u%u%u%u); refusing it: chmod go-w it", dir,
                    st.st_mode & S_IWOTH ? "world" : "group", m >> 9, (m >> 6) & 7, (m >> 3) & 7, m & 7);
        return -EPERM;
    }
    return 0;
}

int moetier_dir_make(const char *dir, char *why, size_t cap)
{
    if (mkdir(dir, 0700) && errno != EEXIST) {
        int e = errno;
        moetier_fmt(why, cap, "cannot create %s: %s", dir, strerror(e));
        return -e;
    }
    return moetier_dir_check(dir, why, cap);
}
