/*
 * bench_mem: what the CPUs and DRAM give moetier (see bench.h).
 *
 *   read/write  every online core streams its share of one buffer far
 *               larger than the caches: 32-byte loads xor-ed together, or
 *               32-byte stores (write-allocate included: what filling the
 *               DRAM cache costs); GB/s of all threads together.
 *   dot         every core runs a q8_0-shaped dot product (blocks of 32 int8
 *               weights with a half-precision scale, against an int8
 *               activation row that stays in L1) over its share of the
 *               buffer: the rate the CPU itself can consume expert weights,
 *               an approximation of ggml's vec_dot_q8_0_q8_0 (plain C that the
 *               compiler vectorizes, not ggml's hand-written kernels).
 *   faults      first touch of 4 KiB anonymous pages, and of a warm file's
 *               pages through a read-only MAP_SHARED mapping (as llama.cpp
 *               maps a GGUF; the kernel maps several pages per fault, its
 *               fault-around), with every other core spinning as ggml's
 *               threads do; per fault counted by the kernel (minflt).
 *   mprotect    PROT_NONE then PROT_READ over an expert-sized (4 MiB) region
 *               whose pages are mapped, with the other cores spinning in
 *               this process: each call changes present PTEs, so the kernel
 *               flushes the TLB of every CPU running the process (IPIs):
 *               what the fault sampler pays per region it arms; and once
 *               before the others spin, for the contrast.
 */
#include "config.h"

#include "common/sysfs.h"
#include "common/page.h"
#include "tools/bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define MPROTECT_BYTES (4u << 20)

typedef uint64_t v4u64 __attribute__((vector_size(32)));

/* ---- DRAM streams --------------------------------------------------------- */

struct stream {
    unsigned char *buf;
    size_t bytes;
    int threads, passes;
    uint64_t (*kernel)(unsigned char *p, size_t len, uint64_t seed);
    _Atomic uint64_t sink; /* what the kernels computed, so that nothing is optimized away */
};

/* This thread's share, 4 KiB aligned. */
static void share(const struct stream *s, int i, unsigned char **p, size_t *len)
{
    size_t per = s->bytes / (size_t)s->threads / 4096 * 4096;
    *p = s->buf + (size_t)i * per;
    *len = i == s->threads - 1 ? s->bytes - (size_t)i * per : per;
}

static uint64_t read_kernel(unsigned char *p, size_t len, uint64_t seed)
{
    const v4u64 *v = (const v4u64 *)p;
    v4u64 a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
    for (size_t i = 0, n = len / sizeof *v; i + 4 <= n; i += 4) {
        a ^= v[i], b ^= v[i + 1], c ^= v[i + 2], d ^= v[i + 3];
    }
    a ^= b ^ c ^ d;
    return seed + (a[0] ^ a[1] ^ a[2] ^ a[3]);
}

static uint64_t write_kernel(unsigned char *p, size_t len, uint64_t seed)
{
    v4u64 *v = (v4u64 *)p;
    v4u64 x = { seed, 1, 2, 3 };
    for (size_t i = 0, n = len / sizeof *v; i < n; i++)
        v[i] = x;
    return seed + 1;
}

/* ---- the q8_0-shaped dot --------------------------------------------------- */

#define QK 32
#define ROW_BLOCKS 128 /* a 4096-wide row */

struct q8 {
    uint16_t d; /* IEEE half */
    int8_t qs[QK];
} __attribute__((packed));

/* A normal half to float (the scales written here are all normal). */
static inline float half_to_float(uint16_t h)
{
    uint32_t bits = ((uint32_t)(h & 0x8000) << 16) | ((((uint32_t)h >> 10 & 0x1f) + 112) << 23) |
                    ((uint32_t)(h & 0x3ff) << 13);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
/* the wide integer units ggml uses on this CPU, when it has them */
__attribute__((target_clones("avx2", "default"), optimize("O3")))
#endif
static float dot_rows(const struct q8 *w, size_t rows, const struct q8 *x)
{
    float total = 0;
    for (size_t r = 0; r < rows; r++) {
        const struct q8 *row = w + r * ROW_BLOCKS;
        float sum = 0;
        for (int b = 0; b < ROW_BLOCKS; b++) {
            int acc = 0;
            for (int i = 0; i < QK; i++)
                acc += row[b].qs[i] * x[b].qs[i];
            sum += half_to_float(row[b].d) * half_to_float(x[b].d) * (float)acc;
        }
        total += sum;
    }
    return total;
}

static struct q8 activations[ROW_BLOCKS];

static uint64_t dot_kernel(unsigned char *p, size_t len, uint64_t seed)
{
    size_t rows = len / (sizeof(struct q8) * ROW_BLOCKS);
    float f = dot_rows((const struct q8 *)p, rows, activations);
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return seed + bits;
}

/* Weights as ggml lays them out: every block's scale a normal half (0.1). */
static void fill_q8(unsigned char *buf, size_t bytes)
{
    struct q8 *w = (struct q8 *)buf;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t b = 0, n = bytes / sizeof *w; b < n; b++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        w[b].d = 0x2e66;
        memcpy(w[b].qs, &x, sizeof x);
        memcpy(w[b].qs + 8, &x, sizeof x);
        memcpy(w[b].qs + 16, &x, sizeof x);
        memcpy(w[b].qs + 24, &x, sizeof x);
    }
    for (int b = 0; b < ROW_BLOCKS; b++) {
        activations[b].d = 0x2e66;
        for (int i = 0; i < QK; i++)
            activations[b].qs[i] = (int8_t)(i * 7 - 100);
    }
}

static void stream_thread(int i, void *arg)
{
    struct stream *s = arg;
    unsigned char *p;
    size_t len;
    share(s, i, &p, &len);
    uint64_t x = (uint64_t)i;
    for (int k = 0; k < s->passes; k++)
        x = s->kernel(p, len, x);
    s->sink += x;
}

/* GB/s of kernel over the buffer, reps times; the first (untimed) run sizes
 * the passes so that a repeat lasts about 0.2 s. */
static void stream_measure(const struct bench_opts *o, struct stream *s,
                           uint64_t (*kernel)(unsigned char *, size_t, uint64_t), struct bench_stat *out)
{
    double v[BENCH_MAX_REPS];
    int n = 0;
    s->kernel = kernel;
    s->passes = 1;
    double t = bench_parallel(s->threads, stream_thread, s);
    if (t > 0 && t < 0.2)
        s->passes = (int)(0.2 / t) + 1;
    for (int r = 0; r < o->reps && t >= 0; r++) {
        t = bench_parallel(s->threads, stream_thread, s);
        if (t > 0)
            v[n++] = (double)s->bytes * s->passes / t / 1e9;
    }
    bench_summarize(v, n, out);
}

/* ---- faults and mprotect ----------------------------------------------------- */

static volatile uint64_t fault_sink;

static long minor_faults(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_minflt : 0;
}

/* Microseconds per fault of one first touch of [len) of a fresh mapping. */
static double fault_once(int fd, size_t len, double *pages_per_fault)
{
    size_t page = moetier_page_size();
    unsigned char *p = fd >= 0 ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0)
                               : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    if (fd < 0)
        madvise(p, len, MADV_NOHUGEPAGE); /* one fault per 4 KiB page, as a weight buffer's */
    long f0 = minor_faults();
    double t0 = bench_now();
    uint64_t sum = 0;
    for (size_t off = 0; off < len; off += page) {
        if (fd >= 0)
            sum += *(volatile unsigned char *)(p + off);
        else
            *(volatile unsigned char *)(p + off) = 1;
    }
    double t = bench_now() - t0;
    long faults = minor_faults() - f0;
    munmap(p, len);
    if (faults <= 0)
        return -1;
    fault_sink += sum;
    *pages_per_fault = (double)(len / page) / (double)faults;
    return t / (double)faults * 1e6;
}

static void measure_faults(const struct bench_opts *o, int fd, struct bench_mem *out)
{
    double anon[BENCH_MAX_REPS], file[BENCH_MAX_REPS], ppf = 0;
    int na = 0, nf = 0;
    for (int r = 0; r < o->reps; r++) {
        double x = fault_once(-1, o->fault_bytes, &ppf);
        if (x > 0)
            anon[na++] = x;
        if (fd >= 0 && (x = fault_once(fd, o->fault_bytes, &ppf)) > 0) {
            file[nf++] = x;
            out->fault_file_pages = ppf;
        }
    }
    bench_summarize(anon, na, &out->fault_anon_us);
    bench_summarize(file, nf, &out->fault_file_us);
    if (fd < 0)
        snprintf(out->skipped_fault, BENCH_WHY, "no file to map");
    else if (!nf)
        snprintf(out->skipped_fault, BENCH_WHY, "the kernel counted no faults on the file mapping");
}

/* Into *stat: one mprotect call, median of the repeats. */
static void measure_mprotect(const struct bench_opts *o, int fd, struct bench_mem *out, struct bench_stat *stat)
{
    size_t len = MPROTECT_BYTES;
    if (fd < 0 || o->fault_bytes < len) {
        snprintf(out->skipped_mprotect, BENCH_WHY, "no file of %u MiB to map", MPROTECT_BYTES >> 20);
        return;
    }
    unsigned char *p = mmap(NULL, len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (p == MAP_FAILED) {
        snprintf(out->skipped_mprotect, BENCH_WHY, "mmap: %s", strerror(errno));
        return;
    }
    double v[BENCH_MAX_REPS];
    int n = 0;
    for (int r = 0; r < o->reps; r++) {
        double t0 = bench_now();
        int k = 0;
        for (; k < o->mprotect_rounds; k++)
            if (mprotect(p, len, PROT_NONE) || mprotect(p, len, PROT_READ))
                break;
        double t = bench_now() - t0;
        if (k < o->mprotect_rounds) {
            snprintf(out->skipped_mprotect, BENCH_WHY, "mprotect: %s", strerror(errno));
            break;
        }
        v[n++] = t / (2.0 * k) * 1e6;
    }
    munmap(p, len);
    bench_summarize(v, n, stat);
    out->mprotect_bytes = len;
}

uint64_t bench_llc_bytes(void)
{
    uint64_t total = 0;
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    for (long c = 0; c < cpus && c < 4096; c++)
        for (int idx = 0; idx < 8; idx++) {
            char path[96], buf[64];
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/cache/index%d/level", c, idx);
            if (moetier_read_text(path, buf, sizeof buf) <= 0)
                break;
            if (atoi(buf) != 3)
                continue;
            /* each cache once: counted by the first CPU that shares it */
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/cache/index%d/shared_cpu_list", c, idx);
            if (moetier_read_text(path, buf, sizeof buf) <= 0 || atol(buf) != c)
                continue;
            snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/cache/index%d/size", c, idx);
            if (moetier_read_text(path, buf, sizeof buf) > 0) {
                char *end;
                uint64_t v = strtoull(buf, &end, 10);
                total += v << (*end == 'K' ? 10 : *end == 'M' ? 20 : 0);
            }
        }
    return total;
}

int bench_mem_run(const struct bench_opts *o, int fd, struct bench_mem *out)
{
    memset(out, 0, sizeof *out);
    struct stream s = { .bytes = o->dram_bytes / 4096 * 4096, .threads = o->threads > 0 ? o->threads : 1 };
    s.buf = mmap(NULL, s.bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s.buf == MAP_FAILED)
        return -errno;
    bench_step(o, "DRAM write");
    stream_measure(o, &s, write_kernel, &out->write_gbps); /* faults the pages in first */
    bench_step(o, "DRAM read");
    stream_measure(o, &s, read_kernel, &out->read_gbps);
    bench_step(o, "int8 dot");
    fill_q8(s.buf, s.bytes);
    stream_measure(o, &s, dot_kernel, &out->dot_gbps);
    munmap(s.buf, s.bytes);
    measure_mprotect(o, fd, out, &out->mprotect_idle_us); /* the contrast: no other thread to flush */

    /* the other cores busy, as ggml's threads are while the runtime works */
    struct bench_spin *spin = bench_spin_start(s.threads - 1);
    bench_step(o, "page faults");
    if (fd >= 0) {
        /* warm the file's pages: minor faults only */
        unsigned char *w = mmap(NULL, o->fault_bytes, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (w != MAP_FAILED)
            munmap(w, o->fault_bytes);
    }
    measure_faults(o, fd, out);
    bench_step(o, "mprotect");
    measure_mprotect(o, fd, out, &out->mprotect_us);
    bench_spin_stop(spin);
    return 0;
}
