/*
 * mkmoe_vocab: the small SentencePiece-style ("llama" tokenizer) vocabulary
 * that generated models carry: <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF>
 * (so any text tokenizes), the printable ASCII characters, and the prefixes of
 * a few hundred common English words (with the SPM word-boundary mark U+2581),
 * so English text tokenizes into word pieces rather than single bytes.
 */
#ifndef MOETIER_TOOLS_MKMOE_VOCAB_H
#define MOETIER_TOOLS_MKMOE_VOCAB_H

#include <stddef.h>
#include <stdint.h>

struct mkmoe_vocab {
    size_t n;
    char **tokens;
    float *scores;
    int32_t *types;
};

enum { VOCAB_NORMAL = 1, VOCAB_UNKNOWN = 2, VOCAB_CONTROL = 3, VOCAB_BYTE = 6 };

int mkmoe_vocab_build(struct mkmoe_vocab *v);
void mkmoe_vocab_free(struct mkmoe_vocab *v);

/*
 * Counts the tokens of text into freq[v->n] (added to what is there), tokenizing
 * the way llama.cpp's SPM tokenizer does for this vocabulary (spaces become
 * U+2581, a leading one is added, longest known piece first, byte tokens for the
 * rest). Close, not bit-exact: used only for calibration statistics.
 * Returns the number of tokens, or a negative errno.
 */
long mkmoe_vocab_count_tokens(const struct mkmoe_vocab *v, const char *text, double *freq);

#endif
