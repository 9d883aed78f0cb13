/*
 * decode_threads: many decode threads and concurrent free/munmap of weight
 * buffers in a tiered process, without llama.cpp (issue 14, defect 4).
 *
 *   decode_threads MODEL.gguf FAKE_LLAMA.so THREADS STEPS
 *
 * Maps the model the way llama.cpp does (fopen, one shared read-only mapping
 * of the whole file), which under the preload places its experts; then
 * THREADS threads each run STEPS one-token "decode steps" through the shim's
 * llama_decode (fake_llama.so is the real one), reading weights inside each
 * step with a skew (some experts hot, so the engine migrates) and comparing
 * every read with the file's bytes. Meanwhile a churn thread allocates, fills
 * and frees weight-sized buffers and maps and unmaps memory. Then the model
 * is unmapped while the runtime thread may still be moving its experts, and
 * mapped again: EPOCHS times. Prints the counts; exit 0 when no read ever
 * differed.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_BYTES 512
#define READS_PER_STEP 64
#define BIG (8u << 20) /* above MOETIER_ALLOC_MIN: a weight buffer */
#define EPOCHS 3

struct batch {
    int32_t n_tokens;
    void *token, *embd, *pos, *n_seq_id, *seq_id, *logits;
};

static const char *model;
static unsigned char *ref; /* the file's bytes, read once */
static const unsigned char *map;
static size_t size;
static volatile int stop;
static uint64_t mismatches, reads, churns;
static uint64_t step_max_ns, free_max_ns; /* reported, not checked (timing) */
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void note_max(uint64_t *max, uint64_t ns)
{
    pthread_mutex_lock(&count_lock);
    if (ns > *max)
        *max = ns;
    pthread_mutex_unlock(&count_lock);
}

static uint64_t next_rand(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17;
    return *x;
}

/* The step's work: reads with a skew (most in the first eighth of the file,
 * where the first layers' experts lie), each compared with the file. */
static void step(void *ctx)
{
    uint64_t *x = ctx, bad = 0;
    for (int i = 0; i < READS_PER_STEP; i++) {
        uint64_t r = next_rand(x);
        size_t span = (r & 7) ? size / 8 : size;
        size_t off = (size_t)(next_rand(x) % (span - READ_BYTES));
        unsigned char buf[READ_BYTES];
        memcpy(buf, map + off, READ_BYTES);
        bad += memcmp(buf, ref + off, READ_BYTES) != 0;
    }
    pthread_mutex_lock(&count_lock);
    mismatches += bad;
    reads += READS_PER_STEP;
    pthread_mutex_unlock(&count_lock);
}

static int32_t (*decode)(void *, struct batch);
static int steps;

static void *decoder(void *arg)
{
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)arg * 0x2545f4914f6cdd1dull;
    struct batch b = { .n_tokens = 1 };
    for (int i = 0; i < steps; i++) {
        uint64_t t0 = now_ns();
        if (decode(&x, b) != 0) {
            fprintf(stderr, "llama_decode failed\n");
            exit(1);
        }
        note_max(&step_max_ns, now_ns() - t0);
    }
    return NULL;
}

/* Weight-sized buffers and mappings come and go while the decoders run and
 * rounds migrate: each free and munmap goes through the shim's unmap path
 * (which waits for a move in flight over it, and only then). */
static void *churn(void *arg)
{
    (void)arg;
    uint64_t bad = 0, n = 0;
    while (!stop) {
        unsigned char *p = malloc(BIG);
        if (p) {
            memset(p, (int)(n & 0xff), BIG);
            bad += p[BIG - 1] != (unsigned char)(n & 0xff);
            uint64_t t0 = now_ns();
            free(p);
            note_max(&free_max_ns, now_ns() - t0);
        }
        void *m = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED) {
            memset(m, 1, 4096);
            uint64_t t0 = now_ns();
            munmap(m, BIG);
            note_max(&free_max_ns, now_ns() - t0);
        }
        n++;
    }
    pthread_mutex_lock(&count_lock);
    mismatches += bad;
    churns += n;
    pthread_mutex_unlock(&count_lock);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: decode_threads MODEL.gguf FAKE_LLAMA.so THREADS STEPS\n");
        return 2;
    }
    model = argv[1];
    int threads = atoi(argv[3]);
    steps = atoi(argv[4]);
    void *lib = dlopen(argv[2], RTLD_NOW | RTLD_GLOBAL);
    if (!lib) {
        fprintf(stderr, "%s\n", dlerror());
        return 2;
    }
    void (*set_work)(void (*)(void *)) = (void (*)(void (*)(void *)))dlsym(lib, "fake_llama_set_work");
    decode = (int32_t(*)(void *, struct batch))dlsym(RTLD_DEFAULT, "llama_decode"); /* the shim's, under the preload */
    if (!set_work || !decode)
        return 2;
    set_work(step);
    FILE *f = fopen(model, "rb");
    if (!f) {
        perror(model);
        return 2;
    }
    struct stat st;
    fstat(fileno(f), &st);
    size = (size_t)st.st_size;
    /* the reference: read in pieces under a page, which the shim does not
     * take for a weight buffer (the mapping stays the model's only copy) */
    ref = malloc(size);
    for (size_t off = 0; ref && off < size;) {
        size_t n = size - off < 4000 ? size - off : 4000;
        if (pread(fileno(f), ref + off, n, (off_t)off) != (ssize_t)n)
            return 2;
        off += n;
    }
    if (!ref || threads < 1 || threads > 64)
        return 2;
    /* epochs: a server loading the model, decoding, unloading it (the
     * unmap lands while the runtime thread may be moving its experts) */
    for (int epoch = 0; epoch < EPOCHS; epoch++) {
        map = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fileno(f), 0);
        if (map == MAP_FAILED) {
            perror("mmap");
            return 2;
        }
        pthread_t t[64], c;
        stop = 0;
        pthread_create(&c, NULL, churn, NULL);
        for (int i = 0; i < threads; i++)
            pthread_create(&t[i], NULL, decoder, (void *)(uintptr_t)(epoch * 64 + i + 1));
        for (int i = 0; i < threads; i++)
            pthread_join(t[i], NULL);
        stop = 1;
        pthread_join(c, NULL);
        munmap((void *)map, size);
    }
    fclose(f);
    free(ref);
    printf("reads %llu, churns %llu, mismatches %llu; longest decode step %llu us, longest free/munmap %llu us\n",
           (unsigned long long)reads, (unsigned long long)churns, (unsigned long long)mismatches,
           (unsigned long long)(step_max_ns / 1000), (unsigned long long)(free_max_ns / 1000));
    return mismatches ? 1 : 0;
}
