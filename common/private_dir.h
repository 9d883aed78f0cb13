/*
 * private_dir: the directories moetier writes its own files into (live stats
 * segments, profiles, the machine profile) must be ours.
 *
 * A directory is accepted when it is a real directory (not a symbolic link)
 * and either owned by the caller's effective uid with no group or world
 * write bit, or a shared sticky directory (/tmp, /dev/shm: mode 1777) owned
 * by root or by us, where the sticky bit keeps other users from removing or
 * renaming our files and every file is created with O_EXCL|O_NOFOLLOW.
 * Anything else (group writable, another user's, a symlink) is refused with
 * a reason: a file there could be swapped or read by someone else.
 * No stdio, no malloc: the shim calls this. docs/threat-model.md.
 */
#ifndef MOETIER_COMMON_PRIVATE_DIR_H
#define MOETIER_COMMON_PRIVATE_DIR_H

#include <stddef.h>

/* 0 when dir is acceptable; else -errno (-EPERM when refused) and why. */
int moetier_dir_check(const char *dir, char *why, size_t cap);

/* mkdir dir with mode 0700 when it is absent (its parent must exist), then
 * moetier_dir_check. 0 or -errno with why. */
int moetier_dir_make(const char *dir, char *why, size_t cap);

#endif
