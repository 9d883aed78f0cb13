/*
 * hooks_llama: what the inference engine itself tells us.
 *
 *  - llama_decode brackets every forward pass. A batch of one token is a decode
 *    step; a larger batch is prompt processing (or llama.cpp's warm-up run, a
 *    two-token BOS+EOS batch in v0.5.0); llama_set_warmup marks warm-up
 *    explicitly. Samples are taken around decode steps only, so hotness is
 *    learned from decode and never from warm-up or prompts.
 *  - ggml_backend_tensor_set is how llama.cpp uploads tensor data to a buffer
 *    that is not the file mapping (--no-mmap reads, the CPU_REPACK copy, GPU and
 *    pinned host buffers): its tensor's name and final address place it.
 *  - cudaHostAlloc/cudaMallocHost/cudaHostRegister mark pinned ranges that must
 *    never be remapped or protected (DMA would read stale or faulting pages).
 * Each is resolved lazily (dlsym RTLD_NEXT) and absent in processes that do not
 * use it; the struct below mirrors llama.h's llama_batch (stable for years;
 * checked against the pinned llama.cpp's header in tests).
 */
#include "shim/shim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct llama_batch_abi {
    int32_t n_tokens;
    void *token, *embd, *pos, *n_seq_id, *seq_id, *logits;
};

static void *real_llama_decode, *real_llama_set_warmup, *real_ggml_backend_tensor_set;
static void *real_cudaHostAlloc, *real_cudaMallocHost, *real_cudaHostRegister, *real_cudaHostUnregister,
    *real_cudaFreeHost;
static void *fn_ggml_get_name, *fn_ggml_nbytes, *fn_ggml_get_data;

int32_t llama_decode(void *ctx, struct llama_batch_abi batch)
{
    int32_t (*fn)(void *, struct llama_batch_abi) =
        (int32_t(*)(void *, struct llama_batch_abi))shim_real_optional("llama_decode", &real_llama_decode);
    if (!fn)
        return -1; /* no llama.cpp in this process: the caller's error path */
    if (!shim.model_ready || shim_busy)
        return fn(ctx, batch);
    int sampling = 0;
    shim_decode_begin(ctx, batch.n_tokens, &sampling);
    uint64_t t0 = shim_now_ns();
    int32_t rc = fn(ctx, batch);
    shim_decode_end(ctx, batch.n_tokens, sampling, shim_now_ns() - t0, rc);
    return rc;
}

void llama_set_warmup(void *ctx, bool warmup)
{
    void (*fn)(void *, bool) = (void (*)(void *, bool))shim_real_optional("llama_set_warmup", &real_llama_set_warmup);
    shim.warmup = warmup;
    if (fn)
        fn(ctx, warmup);
}

void ggml_backend_tensor_set(void *tensor, const void *data, size_t offset, size_t size)
{
    void (*fn)(void *, const void *, size_t, size_t) =
        (void (*)(void *, const void *, size_t, size_t))shim_real_optional("ggml_backend_tensor_set",
                                                                          &real_ggml_backend_tensor_set);
    if (!fn)
        return;
    fn(tensor, data, offset, size);
    if (!shim.model_open || shim_busy || offset != 0)
        return;
    const char *(*get_name)(const void *) = (const char *(*)(const void *))shim_real_optional("ggml_get_name", &fn_ggml_get_name);
    size_t (*nbytes)(const void *) = (size_t(*)(const void *))shim_real_optional("ggml_nbytes", &fn_ggml_nbytes);
    void *(*get_data)(const void *) = (void *(*)(const void *))shim_real_optional("ggml_get_data", &fn_ggml_get_data);
    if (!get_name || !nbytes || !get_data)
        return;
    shim_tensor_placed(get_name(tensor), get_data(tensor), nbytes(tensor));
}

/* CUDA runtime error codes are ints; 0 is cudaSuccess. */
int cudaHostAlloc(void **p, size_t size, unsigned flags)
{
    int (*fn)(void **, size_t, unsigned) = (int (*)(void **, size_t, unsigned))shim_real_optional("cudaHostAlloc", &real_cudaHostAlloc);
    if (!fn)
        return 35; /* cudaErrorInsufficientDriver */
    int rc = fn(p, size, flags);
    if (rc == 0 && p && *p)
        shim_pinned(*p, size, 1);
    return rc;
}

int cudaMallocHost(void **p, size_t size)
{
    int (*fn)(void **, size_t) = (int (*)(void **, size_t))shim_real_optional("cudaMallocHost", &real_cudaMallocHost);
    if (!fn)
        return 35;
    int rc = fn(p, size);
    if (rc == 0 && p && *p)
        shim_pinned(*p, size, 1);
    return rc;
}

int cudaHostRegister(void *p, size_t size, unsigned flags)
{
    int (*fn)(void *, size_t, unsigned) = (int (*)(void *, size_t, unsigned))shim_real_optional("cudaHostRegister", &real_cudaHostRegister);
    if (!fn)
        return 35;
    int rc = fn(p, size, flags);
    if (rc == 0)
        shim_pinned(p, size, 1);
    return rc;
}

int cudaHostUnregister(void *p)
{
    int (*fn)(void *) = (int (*)(void *))shim_real_optional("cudaHostUnregister", &real_cudaHostUnregister);
    if (!fn)
        return 35;
    int rc = fn(p);
    if (rc == 0)
        shim_pinned(p, 0, 0);
    return rc;
}

int cudaFreeHost(void *p)
{
    int (*fn)(void *) = (int (*)(void *))shim_real_optional("cudaFreeHost", &real_cudaFreeHost);
    if (!fn)
        return 35;
    shim_pinned(p, 0, 0);
    return fn(p);
}
