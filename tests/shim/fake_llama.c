/*
 * fake_llama: a stand-in for libllama's llama_decode, for decode_threads.
 * The preloaded shim interposes llama_decode and calls this one (its "real"
 * function) between its decode hooks; the step's work is the caller's
 * callback, so the weights are read inside the step as llama.cpp would.
 */
#include <stdint.h>

struct fake_batch {
    int32_t n_tokens;
    void *token, *embd, *pos, *n_seq_id, *seq_id, *logits;
};

static void (*work)(void *);

void fake_llama_set_work(void (*fn)(void *))
{
    work = fn;
}

int32_t llama_decode(void *ctx, struct fake_batch batch)
{
    (void)batch;
    if (work)
        work(ctx);
    return 0;
}
