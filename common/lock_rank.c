/*
 * lock_rank: per-thread ranks held (see lock_rank.h).
 */
#include "config.h"

#include "common/lock_rank.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* initial-exec: the preloaded shim is in the static TLS block; no lazy
 * allocation on first use inside an interposed malloc */
static __thread unsigned held __attribute__((tls_model("initial-exec")));
static __thread const char *held_name[MOETIER_RANK_MAX + 1] __attribute__((tls_model("initial-exec")));

static void say(const char *s)
{
    ssize_t n = write(2, s, strlen(s));
    (void)n;
}

void moetier_rank_acquire(int rank, const char *name)
{
    if (rank < 1 || rank > MOETIER_RANK_MAX)
        return;
    unsigned above = held & ~((1u << rank) - 1u); /* ranks >= rank */
    if (above) {
        int r = 31 - __builtin_clz(above);
        say("moetier: lock order violated: taking ");
        say(name ? name : "?");
        say(" while holding ");
        say(held_name[r] ? held_name[r] : "?");
        say(r == rank ? " (taken twice)\n" : " (a lock of the same or a higher rank; order: shim/shim.h)\n");
        abort();
    }
    held |= 1u << rank;
    held_name[rank] = name;
}

void moetier_rank_release(int rank)
{
    if (rank >= 1 && rank <= MOETIER_RANK_MAX)
        held &= ~(1u << rank);
}

unsigned moetier_rank_held(void)
{
    return held;
}

void moetier_rank_reset(void)
{
    held = 0;
}
