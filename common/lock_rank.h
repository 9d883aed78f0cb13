/*
 * lock_rank: the lock order, checked. Every moetier lock has a rank
 * (shim/shim.h lists them); a thread may take a lock only when every lock it
 * holds has a lower rank, which rules out lock-order deadlocks.
 *
 * In debug builds (MOETIER_DEBUG_LOCKS: configure --enable-debug or
 * --enable-sanitizers) the ranked wrappers record per thread which ranks it
 * holds and abort with one line naming both locks when a lock is taken out of
 * order (or taken again). Otherwise they are the plain pthread calls: no cost.
 * moetier_rank_acquire/release are always built (the unit test calls them in
 * every build). No stdio, no malloc: callable from interposed functions.
 */
#ifndef MOETIER_COMMON_LOCK_RANK_H
#define MOETIER_COMMON_LOCK_RANK_H

#include <pthread.h>

enum moetier_lock_rank {
    MOETIER_RANK_SHIM = 1,   /* shim.lock */
    MOETIER_RANK_STAGED = 2, /* shim/staged.c lock */
    MOETIER_RANK_ALLOC = 3,  /* shim/alloc.c big_lock (spin) */
    MOETIER_RANK_MAX = 31,
};

/* Records that this thread takes lock `name` of rank; aborts when it holds
 * a rank >= rank. */
void moetier_rank_acquire(int rank, const char *name);
void moetier_rank_release(int rank);
/* Ranks this thread holds, bit r for rank r. */
unsigned moetier_rank_held(void);
/* A forked child: its one thread holds what the fork protocol took, and
 * re-initializes those locks; it holds nothing afterwards. */
void moetier_rank_reset(void);

#ifdef MOETIER_DEBUG_LOCKS
#define MOETIER_RANK_ACQUIRE(rank, name) moetier_rank_acquire(rank, name)
#define MOETIER_RANK_RELEASE(rank) moetier_rank_release(rank)
#define MOETIER_RANK_RESET() moetier_rank_reset()
#else
#define MOETIER_RANK_ACQUIRE(rank, name) ((void)0)
#define MOETIER_RANK_RELEASE(rank) ((void)0)
#define MOETIER_RANK_RESET() ((void)0)
#endif

static inline void moetier_ranked_lock(pthread_mutex_t *m, int rank, const char *name)
{
    MOETIER_RANK_ACQUIRE(rank, name);
    (void)rank, (void)name;
    pthread_mutex_lock(m);
}

static inline void moetier_ranked_unlock(pthread_mutex_t *m, int rank)
{
    pthread_mutex_unlock(m);
    MOETIER_RANK_RELEASE(rank);
    (void)rank;
}

#endif
