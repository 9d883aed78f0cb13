/*
 * bench: clock, summaries and helper threads shared by the measurements of
 * `moetier bench` (see bench.h).
 */
#include "tools/bench.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_summarize(double *v, int n, struct bench_stat *out)
{
    out->n = n;
    out->median = out->min = out->max = 0;
    if (n <= 0)
        return;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    out->min = v[0];
    out->max = v[n - 1];
    out->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_step(const struct bench_opts *o, const char *what)
{
    if (o->progress)
        o->progress(what, o->progress_arg);
}

/* ---- threads started together ------------------------------------------- */

struct par {
    void (*fn)(int, void *);
    void *arg;
    atomic_int gate; /* 0 wait, 1 run, 2 give up (a thread could not be created) */
};

struct par_slot {
    struct par *p;
    int i;
};

static void *par_main(void *x)
{
    struct par_slot *s = x;
    int g;
    while ((g = atomic_load(&s->p->gate)) == 0)
        sched_yield();
    if (g == 1)
        s->p->fn(s->i, s->p->arg);
    return NULL;
}

double bench_parallel(int n, void (*fn)(int i, void *arg), void *arg)
{
    if (n < 1)
        n = 1;
    struct par p = { .fn = fn, .arg = arg };
    atomic_init(&p.gate, 0);
    pthread_t *t = calloc((size_t)n, sizeof *t);
    struct par_slot *slot = calloc((size_t)n, sizeof *slot);
    if (!t || !slot) {
        free(t), free(slot);
        return -1;
    }
    int started = 0;
    for (; started < n; started++) {
        slot[started] = (struct par_slot){ &p, started };
        if (pthread_create(&t[started], NULL, par_main, &slot[started]))
            break;
    }
    double t0 = bench_now();
    atomic_store(&p.gate, started == n ? 1 : 2);
    for (int i = 0; i < started; i++)
        pthread_join(t[i], NULL);
    double secs = started == n ? bench_now() - t0 : -1;
    free(t), free(slot);
    return secs;
}

/* ---- spinning threads --------------------------------------------------- */

struct bench_spin {
    atomic_int stop;
    int n;
    pthread_t t[];
};

static void *spin_main(void *x)
{
    struct bench_spin *s = x;
    volatile uint64_t work = 0;
    while (!atomic_load_explicit(&s->stop, memory_order_relaxed))
        work++;
    return NULL;
}

struct bench_spin *bench_spin_start(int n)
{
    struct bench_spin *s = calloc(1, sizeof *s + (size_t)(n > 0 ? n : 0) * sizeof(pthread_t));
    if (!s)
        return NULL;
    atomic_init(&s->stop, 0);
    for (; s->n < n; s->n++)
        if (pthread_create(&s->t[s->n], NULL, spin_main, s))
            break;
    return s;
}

void bench_spin_stop(struct bench_spin *s)
{
    if (!s)
        return;
    atomic_store(&s->stop, 1);
    for (int i = 0; i < s->n; i++)
        pthread_join(s->t[i], NULL);
    free(s);
}
