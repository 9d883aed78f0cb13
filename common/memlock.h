/*
 * memlock: how many bytes this process may still mlock. The file tier
 * promotes by locking page-cache pages in place, so its budget must fit in
 * RLIMIT_MEMLOCK (or the process holds CAP_IPC_LOCK, which lifts the limit).
 * No stdio, no malloc.
 */
#ifndef MOETIER_COMMON_MEMLOCK_H
#define MOETIER_COMMON_MEMLOCK_H

#include <stdint.h>

struct moetier_memlock {
    uint64_t limit;   /* the soft RLIMIT_MEMLOCK after raising it, UINT64_MAX = unlimited */
    uint64_t locked;  /* VmLck: bytes this process has locked now */
    int cap_ipc_lock; /* CAP_IPC_LOCK is effective: no limit applies */
};

/*
 * Raises the soft memlock limit to the hard one (an unprivileged process may),
 * then reads the limit, what is locked, and the capability. 0 or -errno.
 */
int moetier_memlock_read(struct moetier_memlock *m);

/* Bytes that may still be locked (UINT64_MAX: no limit). */
uint64_t moetier_memlock_room(const struct moetier_memlock *m);

#endif
