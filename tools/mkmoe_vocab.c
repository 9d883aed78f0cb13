/*
 * mkmoe_vocab: builds the generated models' vocabulary (see mkmoe_vocab.h).
 * Scores grow with piece length so llama.cpp's SPM merge loop prefers the
 * longest known piece; every piece's prefixes are present, so merges chain.
 */
#include "tools/mkmoe_vocab.h"
#include "common/hash.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPM_SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's word-boundary mark */

static const char *const words[] = {
    "the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
    "by", "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have",
    "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has",
    "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "she", "other",
    "its", "may", "these", "into", "than", "time", "some", "only", "could", "new", "them",
    "what", "him", "two", "first", "then", "do", "any", "like", "my", "now", "over", "such",
    "our", "man", "me", "even", "most", "made", "after", "also", "did", "many", "before",
    "must", "through", "back", "years", "where", "much", "your", "way", "well", "down",
    "should", "because", "each", "just", "those", "people", "how", "too", "little", "state",
    "good", "very", "make", "world", "still", "own", "see", "work", "long", "get", "here",
    "between", "both", "life", "being", "under", "never", "day", "same", "another", "know",
    "while", "last", "might", "us", "great", "old", "year", "off", "come", "since", "against",
    "go", "came", "right", "used", "take", "three", "memory", "model", "expert", "experts",
    "layer", "layers", "token", "tokens", "weights", "cache", "page", "pages", "file",
    "files", "data", "license", "licence", "software", "source", "code", "work", "copy",
    "copyright", "distribute", "distribution", "terms", "conditions", "any", "without",
    "warranty", "program", "free", "permission", "notice", "version", "use", "using",
    "under", "provided", "including", "form", "object", "contributor", "patent", "rights",
    "shall", "means", "whether", "other", "legal", "entity", "control", "such", "section",
    "return", "int", "char", "void", "const", "struct", "static", "include", "define",
    "size", "sizeof", "null", "NULL", "if", "else", "for", "while", "break", "case",
    "switch", "unsigned", "long", "double", "float", "error", "errno", "buffer", "read",
    "write", "open", "close", "map", "mmap", "thread", "process", "kernel", "system",
    "number", "value", "values", "table", "figure", "river", "mountain", "city", "town",
    "house", "water", "light", "night", "morning", "evening", "winter", "summer", "ship",
    "sea", "road", "train", "station", "market", "garden", "tree", "trees", "stone",
    "bridge", "north", "south", "east", "west", "small", "large", "high", "low", "early",
    "late", "young", "best", "better", "every", "few", "upon", "without", "within", "about",
    "above", "below", "across", "along", "around", "during", "until", "again", "once",
    "always", "often", "sometimes", "together", "however", "therefore", "although",
    "question", "answer", "problem", "reason", "result", "example", "history", "science",
    "music", "language", "machine", "engine", "speed", "fast", "slow", "hot", "cold",
};

static const char *const suffixes[] = {
    "s", "es", "ed", "ing", "er", "ers", "ly", "tion", "tions", "al", "ment", "ness", "ity",
    "ous", "ive", "able", "est", "ful", "less", "th",
};

struct builder {
    struct mkmoe_vocab *v;
    size_t cap;
    int error;
};

static int find(const struct mkmoe_vocab *v, const char *s)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->tokens[i], s) == 0)
            return 1;
    return 0;
}

static void add(struct builder *b, const char *s, float score, int32_t type)
{
    struct mkmoe_vocab *v = b->v;
    if (b->error || find(v, s))
        return;
    if (v->n == b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        char **t = realloc(v->tokens, nc * sizeof *t);
        float *sc = t ? realloc(v->scores, nc * sizeof *sc) : NULL;
        int32_t *ty = sc ? realloc(v->types, nc * sizeof *ty) : NULL;
        if (t)
            v->tokens = t;
        if (sc)
            v->scores = sc;
        if (!ty) {
            b->error = -ENOMEM;
            return;
        }
        v->types = ty;
        b->cap = nc;
    }
    char *copy = strdup(s);
    if (!copy) {
        b->error = -ENOMEM;
        return;
    }
    v->tokens[v->n] = copy;
    v->scores[v->n] = score;
    v->types[v->n] = type;
    v->n++;
}

/* Adds every prefix of (mark + word), so SPM's bigram merges can build it. */
static void add_prefixes(struct builder *b, const char *mark, const char *word)
{
    char buf[96];
    size_t m = strlen(mark), w = strlen(word);
    if (m + w >= sizeof buf)
        return;
    memcpy(buf, mark, m);
    for (size_t i = 1; i <= w; i++) {
        memcpy(buf + m, word, i);
        buf[m + i] = '\0';
        add(b, buf, (float)(m ? i + 1 : i), VOCAB_NORMAL);
    }
}

int mkmoe_vocab_build(struct mkmoe_vocab *v)
{
    memset(v, 0, sizeof *v);
    struct builder b = { v, 0, 0 };
    add(&b, "<unk>", 0, VOCAB_UNKNOWN);
    add(&b, "<s>", 0, VOCAB_CONTROL);
    add(&b, "</s>", 0, VOCAB_CONTROL);
    for (int i = 0; i < 256; i++) {
        char tok[8];
        snprintf(tok, sizeof tok, "<0x%02X>", i);
        add(&b, tok, 0, VOCAB_BYTE);
    }
    add(&b, SPM_SPACE, 1, VOCAB_NORMAL);
    for (int c = 0x21; c < 0x7f; c++) {
        char s[2] = { (char)c, 0 };
        add(&b, s, 1, VOCAB_NORMAL);
        char sp[8];
        snprintf(sp, sizeof sp, SPM_SPACE "%c", c);
        add(&b, sp, 2, VOCAB_NORMAL);
    }
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        add_prefixes(&b, SPM_SPACE, words[i]);
        /* capitalised form, as at the start of a sentence */
        char cap[64];
        snprintf(cap, sizeof cap, "%s", words[i]);
        if (cap[0] >= 'a' && cap[0] <= 'z')
            cap[0] = (char)(cap[0] - 'a' + 'A');
        add_prefixes(&b, SPM_SPACE, cap);
    }
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        add_prefixes(&b, "", suffixes[i]);
    if (b.error) {
        mkmoe_vocab_free(v);
        return b.error;
    }
    return 0;
}

void mkmoe_vocab_free(struct mkmoe_vocab *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->tokens[i]);
    free(v->tokens);
    free(v->scores);
    free(v->types);
    memset(v, 0, sizeof *v);
}


long mkmoe_vocab_count_tokens(const struct mkmoe_vocab *v, const char *text, double *freq)
{
    /* open-addressing table of piece ids, 4x the vocabulary */
    size_t cap = 1;
    while (cap < v->n * 4)
        cap <<= 1;
    int32_t *table = malloc(cap * sizeof *table);
    size_t tlen = strlen(text);
    char *norm = malloc(tlen * 3 + 4);
    if (!table || !norm) {
        free(table);
        free(norm);
        return -ENOMEM;
    }
    size_t maxlen = 0;
    for (size_t i = 0; i < cap; i++)
        table[i] = -1;
    for (size_t i = 0; i < v->n; i++) {
        if (v->types[i] != VOCAB_NORMAL)
            continue;
        size_t len = strlen(v->tokens[i]);
        if (len > maxlen)
            maxlen = len;
        size_t h = moetier_fnv1a(MOETIER_FNV1A_INIT, v->tokens[i], len) & (cap - 1);
        while (table[h] >= 0)
            h = (h + 1) & (cap - 1);
        table[h] = (int32_t)i;
    }
    size_t n = 0;
    memcpy(norm, SPM_SPACE, 3), n = 3;
    for (size_t i = 0; i < tlen; i++) {
        if (text[i] == ' ') {
            memcpy(norm + n, SPM_SPACE, 3);
            n += 3;
        } else {
            norm[n++] = text[i];
        }
    }
    long count = 0;
    for (size_t pos = 0; pos < n;) {
        size_t take = 0;
        int32_t id = -1;
        for (size_t len = (maxlen < n - pos ? maxlen : n - pos); len > 0 && id < 0; len--) {
            size_t h = moetier_fnv1a(MOETIER_FNV1A_INIT, norm + pos, len) & (cap - 1);
            for (; table[h] >= 0; h = (h + 1) & (cap - 1)) {
                const char *t = v->tokens[table[h]];
                if (strlen(t) == len && memcmp(t, norm + pos, len) == 0) {
                    id = table[h];
                    take = len;
                    break;
                }
            }
        }
        if (id < 0) {
            id = 3 + (unsigned char)norm[pos]; /* byte token <0xXX> */
            take = 1;
        }
        freq[id] += 1;
        count++;
        pos += take;
    }
    free(table);
    free(norm);
    return count;
}
