/*
 * test_two_phase: the engine's moves run without the caller's lock
 * (docs/tiering.md, issue 14 defect 4), on real memory (a file mapped
 * MAP_SHARED read-only, the cache's memfds, real MAP_FIXED).
 *
 * A mover thread drives a round the way the shim's runtime thread does: each
 * move is chosen under a mutex (standing for shim.lock), performed with it
 * released and committed under it again. The engine's test hook stops the
 * mover inside its first move, deterministically (semaphores, no timing),
 * while the main thread:
 *  1. takes the mutex (trylock: it must be free during a move), sees a new
 *     placement of the slot's tensor refused (-EBUSY) and forgets another
 *     promoted slot: its cache bytes go at once, budget held;
 *  2. forgets the slot in flight itself (a caller that did not wait): the
 *     commit discards the move's cache bytes and maps nothing;
 *  3. as the shim does before an unmap, waits on the condition variable while
 *     the slot is in flight (moetier_engine_moving), then forgets it: the
 *     waiter sees the committed slot, never a half-moved one.
 * After each: every tiered range reads the file's bytes, the cache holds
 * exactly the bytes it counts, and never more than the budget.
 * A budget shrink (`moetier set --dram`) demotes the same way: one slot at a
 * time, chosen under the lock, coldest first, moved with it released.
 */
#include "config.h"

#include "tests/tiering/engine_fixture.h"
#include "tests/unit/check.h"
#include "tests/unit/scratch_file.h"
#include "tiering/engine.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define FILE_BYTES (4u << 20)

static unsigned char *want; /* the file's bytes */
static unsigned char *map;  /* the file mapped shared, read-only: "the binary's" mapping */
static int src_fd;

static pthread_mutex_t lk = PTHREAD_MUTEX_INITIALIZER; /* shim.lock */
static pthread_cond_t moved = PTHREAD_COND_INITIALIZER; /* shim.moved */
static sem_t in_move, go;
static int hook_calls;

static int engine_setup(struct moetier_engine *e, uint64_t budget)
{
    /* a fresh mapping of the file: the previous test forgot slots whose
     * memory "the binary" would have unmapped (it still maps punched memfd pages) */
    if (mmap(map, FILE_BYTES, PROT_READ, MAP_SHARED | MAP_FIXED | MAP_POPULATE, src_fd, 0) != map)
        return -1;
    return engine_fixture(e, budget, map, src_fd, FILE_BYTES);
}

static int all_bytes_ok(const struct moetier_engine *e)
{
    for (uint32_t i = 0; i < e->n_slots * MOETIER_ENGINE_PARTS; i++) {
        const struct moetier_range *r = &e->range[i];
        if (r->len && memcmp((void *)r->addr, want + r->off, r->len) != 0) {
            fprintf(stderr, "slot %u part %u: wrong bytes (state %d, in %d)\n", i / MOETIER_ENGINE_PARTS,
                    i % MOETIER_ENGINE_PARTS, e->state[i / MOETIER_ENGINE_PARTS], e->part_in[i / MOETIER_ENGINE_PARTS]);
            return 0;
        }
    }
    return 1;
}

static int cache_consistent(const struct moetier_engine *e)
{
    return e->cache.used <= e->cache.budget && moetier_dram_cache_resident(&e->cache) == e->cache.used;
}

/* Forgets every part of slot s, as the shim does when the binary unmaps it. */
static void forget_slot(struct moetier_engine *e, uint32_t s)
{
    struct moetier_range r[MOETIER_ENGINE_PARTS];
    memcpy(r, &e->range[(size_t)s * MOETIER_ENGINE_PARTS], sizeof r);
    for (int p = 0; p < MOETIER_ENGINE_PARTS; p++)
        if (r[p].len)
            moetier_engine_forget(e, r[p].addr, r[p].addr + r[p].len);
}

static int slot_moving(const struct moetier_engine *e, uint32_t s)
{
    const struct moetier_range *r = &e->range[(size_t)s * MOETIER_ENGINE_PARTS];
    return moetier_engine_moving(e, r->addr, r->addr + r->len);
}

/* The engine's hook, on the mover thread inside a move, lock released: the
 * first move stops here until the main thread has done its part. */
static void hook(void *ctx, const struct moetier_move *m)
{
    (void)ctx, (void)m;
    if (hook_calls++ == 0) {
        sem_post(&in_move);
        sem_wait(&go);
    }
}

struct round_arg {
    struct moetier_engine *e;
    struct moetier_residency *r;
    const float *rate;
    struct moetier_round out;
};

/* The shim's runtime thread, reduced: one warm round, two-phase. */
static void *mover(void *arg)
{
    struct round_arg *a = arg;
    struct moetier_move m;
    pthread_mutex_lock(&lk);
    moetier_engine_round_begin(a->e, 1000, 1, &a->out);
    while (moetier_engine_next(a->e, a->r, a->rate, &m)) {
        pthread_mutex_unlock(&lk);
        moetier_engine_move(a->e, &m);
        pthread_mutex_lock(&lk);
        moetier_engine_commit(a->e, &m, &a->out);
        pthread_cond_broadcast(&moved);
    }
    moetier_engine_round_end(a->e, &a->out);
    pthread_mutex_unlock(&lk);
    return NULL;
}

/* A residency wanting the slots whose rate is set (hottest first), seeded. */
static void wanting(struct moetier_engine *e, struct moetier_residency *r, float *rate)
{
    CHECK(moetier_residency_new(r, "lfu", L, E, 2, moetier_engine_capacity(e), NULL) == 0);
    moetier_residency_seed(r, rate);
}

/* A round in progress on its own engine. */
struct round_fixture {
    struct moetier_engine e;
    struct moetier_residency r;
    float rate[L * E];
    struct round_arg a;
    pthread_t t;
};

/* Starts a round whose first move is slot 0's promotion and returns once the
 * mover is inside it. Slot 2 is promoted beforehand (synchronously). */
static void start_round(struct round_fixture *f)
{
    struct moetier_engine *e = &f->e;
    CHECK(engine_setup(e, 5 * 3 * 40 * 1024) == 0);
    struct moetier_residency first;
    float r2[L * E] = { 0 };
    r2[2] = 1.0f;
    wanting(e, &first, r2);
    struct moetier_round out;
    moetier_engine_round(e, &first, r2, 500, 1, &out);
    CHECK(out.promoted == 1 && e->state[2] == MOETIER_SLOT_DRAM);
    moetier_residency_free(&first);

    memset(f->rate, 0, sizeof f->rate);
    f->rate[0] = 3.0f, f->rate[1] = 2.0f, f->rate[2] = 1.0f;
    wanting(e, &f->r, f->rate);
    hook_calls = 0;
    e->move_hook = hook;
    f->a = (struct round_arg){ .e = e, .r = &f->r, .rate = f->rate };
    CHECK(pthread_create(&f->t, NULL, mover, &f->a) == 0);
    sem_wait(&in_move);
}

static void end_round(struct round_fixture *f)
{
    moetier_residency_free(&f->r);
    moetier_engine_free(&f->e);
}

static void test_lock_free_during_move(void)
{
    static struct round_fixture f;
    start_round(&f);
    struct moetier_engine *e = &f.e;

    /* the mover is inside slot 0's promotion: the lock is free */
    CHECK(pthread_mutex_trylock(&lk) == 0);
    CHECK(e->moving && e->move_slot == 0 && slot_moving(e, 0) && !slot_moving(e, 2));
    /* a new placement of its tensor may not replace the ranges the move works on */
    CHECK(moetier_engine_add(e, 0, 0, (uintptr_t)map + 4096 + 32, STRIDE, E, 0, 4096 + 32, PROT_READ) == -EBUSY);
    uint64_t before = e->cache.used, bytes2 = e->bytes[2];
    forget_slot(e, 2); /* another slot goes meanwhile: its bytes go at once */
    CHECK(e->cache.used == before - bytes2 && cache_consistent(e));
    CHECK(e->state[2] == MOETIER_SLOT_UNTIERED && e->part_in[2] == 0);
    pthread_mutex_unlock(&lk);
    sem_post(&go);
    pthread_join(f.t, NULL);

    CHECK(f.a.out.promoted == 2 && f.a.out.failed == 0);
    CHECK(e->state[0] == MOETIER_SLOT_DRAM && e->state[1] == MOETIER_SLOT_DRAM && !e->moving);
    CHECK(e->cache.used == e->bytes[0] + e->bytes[1] && cache_consistent(e));
    CHECK(all_bytes_ok(e));
    end_round(&f);
}

static void test_forget_in_flight(void)
{
    static struct round_fixture f;
    start_round(&f);
    struct moetier_engine *e = &f.e;

    pthread_mutex_lock(&lk);
    uint64_t gen = e->gen;
    forget_slot(e, 0); /* the slot in flight: left to the commit */
    CHECK(e->gen != gen && e->move_lost);
    pthread_mutex_unlock(&lk);
    sem_post(&go);
    pthread_join(f.t, NULL);

    /* discarded: no cache bytes left for it, nothing tiered there, budget held */
    CHECK(e->part_in[0] == 0 && e->state[0] == MOETIER_SLOT_UNTIERED && e->range[0].len == 0 && !e->move_lost);
    CHECK(f.a.out.promoted == 1 && e->state[1] == MOETIER_SLOT_DRAM && e->state[2] == MOETIER_SLOT_DRAM);
    CHECK(e->cache.used == e->bytes[1] + e->bytes[2] && cache_consistent(e));
    CHECK(all_bytes_ok(e));
    end_round(&f);
}

static struct moetier_engine *waiter_e;
static int waiter_saw_state = -1, waiter_saw_in = -1, waiter_waited;
static sem_t waiting;

/* The shim's unmap path: wait for the slot in flight, then forget it. */
static void *waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lk);
    if (slot_moving(waiter_e, 0)) {
        waiter_waited = 1;
        sem_post(&waiting); /* still holding lk: main can take it only once this waits */
    }
    while (slot_moving(waiter_e, 0))
        pthread_cond_wait(&moved, &lk);
    waiter_saw_state = waiter_e->state[0];
    waiter_saw_in = waiter_e->part_in[0];
    forget_slot(waiter_e, 0);
    pthread_mutex_unlock(&lk);
    return NULL;
}

static void test_unmap_waits_for_the_move(void)
{
    static struct round_fixture f;
    pthread_t w;
    start_round(&f);
    struct moetier_engine *e = &f.e;
    uint64_t bytes0 = e->bytes[0];
    waiter_e = e;
    CHECK(pthread_create(&w, NULL, waiter, NULL) == 0);
    sem_wait(&waiting);
    pthread_mutex_lock(&lk); /* the waiter is inside its wait now */
    pthread_mutex_unlock(&lk);
    sem_post(&go);
    pthread_join(f.t, NULL);
    pthread_join(w, NULL);

    /* the waiter saw slot 0 committed whole, then its forget freed it */
    CHECK(waiter_waited && waiter_saw_state == MOETIER_SLOT_DRAM && waiter_saw_in == 7);
    CHECK(e->part_in[0] == 0 && e->state[0] == MOETIER_SLOT_UNTIERED);
    CHECK(e->cache.used == e->bytes[1] + e->bytes[2] && cache_consistent(e) && bytes0 > 0);
    CHECK(all_bytes_ok(e));
    end_round(&f);
}

/* numa: start-up's placement on the slow node is two-phase moves too, one
 * slot each (node 0 to node 0 here: move_pages on any machine). */
static void test_place_one_slot_at_a_time(void)
{
    struct moetier_engine e;
    CHECK(engine_setup(&e, 5 * 3 * 40 * 1024) == 0);
    moetier_migrate_set_nodes(&e.mig, 0, 0);
    struct moetier_move m;
    struct moetier_round out;
    memset(&out, 0, sizeof out);
    uint32_t moves = 0;
    struct moetier_numa_moved sum;
    memset(&sum, 0, sizeof sum);
    while (moetier_engine_place_next(&e, &m)) {
        const struct moetier_range *r = &e.range[(size_t)m.slot * MOETIER_ENGINE_PARTS];
        CHECK(m.kind == MOETIER_MOVE_PLACE && e.moving && moetier_engine_moving(&e, r->addr, r->addr + r->len));
        struct moetier_move other;
        CHECK(!moetier_engine_place_next(&e, &other)); /* one in flight at a time */
        moetier_engine_move(&e, &m);
        moetier_engine_commit(&e, &m, &out);
        moetier_numa_moved_add(&sum, &m.placed);
        moves++;
    }
    CHECK(moves == L * E && !e.moving && sum.pages > 0 && out.promoted == 0 && e.cache.used == 0);
    CHECK(all_bytes_ok(&e));
    moetier_engine_free(&e);
}

/* A budget shrink: the new budget at once, then one demotion at a time,
 * each chosen (in flight) under the lock and moved without it. */
static void test_shrink_one_slot_at_a_time(void)
{
    struct moetier_engine e;
    CHECK(engine_setup(&e, 5 * 3 * 40 * 1024) == 0);
    struct moetier_residency r;
    float rate[L * E] = { 0 };
    rate[0] = 3.0f, rate[1] = 2.0f, rate[2] = 1.0f;
    wanting(&e, &r, rate);
    struct moetier_round out;
    moetier_engine_round(&e, &r, rate, 500, 1, &out);
    CHECK(out.promoted == 3 && e.cache.used == e.bytes[0] + e.bytes[1] + e.bytes[2]);
    uint64_t budget = e.bytes[0];
    moetier_engine_set_budget_only(&e, budget);
    CHECK(e.cache.budget == budget && moetier_engine_count(&e, MOETIER_SLOT_DRAM) == 3); /* nothing moved yet */
    struct moetier_move m;
    uint32_t order[3], n = 0;
    memset(&out, 0, sizeof out);
    while (moetier_engine_shrink_next(&e, rate, &m)) {
        const struct moetier_range *q = &e.range[(size_t)m.slot * MOETIER_ENGINE_PARTS];
        struct moetier_move other;
        CHECK(m.kind == MOETIER_MOVE_DEMOTE && e.moving && moetier_engine_moving(&e, q->addr, q->addr + q->len));
        CHECK(!moetier_engine_shrink_next(&e, rate, &other)); /* one in flight at a time */
        moetier_engine_move(&e, &m);
        moetier_engine_commit(&e, &m, &out);
        if (n < 3)
            order[n] = m.slot;
        n++;
    }
    CHECK(n == 2 && order[0] == 2 && order[1] == 1); /* coldest first, until it holds */
    CHECK(out.demoted == 2 && out.failed == 0 && e.state[0] == MOETIER_SLOT_DRAM && !e.moving);
    CHECK(cache_consistent(&e) && all_bytes_ok(&e));
    moetier_residency_free(&r);
    moetier_engine_free(&e);
}

int main(void)
{
    src_fd = scratch_file("test_two_phase", FILE_BYTES, &want);
    if (src_fd < 0)
        return 1;
    map = mmap(NULL, FILE_BYTES, PROT_READ, MAP_SHARED | MAP_POPULATE, src_fd, 0);
    if (map == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    sem_init(&in_move, 0, 0);
    sem_init(&go, 0, 0);
    sem_init(&waiting, 0, 0);
    test_lock_free_during_move();
    test_forget_in_flight();
    test_unmap_waits_for_the_move();
    test_place_one_slot_at_a_time();
    test_shrink_one_slot_at_a_time();
    return check_exit("test_two_phase");
}
