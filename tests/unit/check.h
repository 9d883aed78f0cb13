/*
 * check: the few assertion macros the C unit tests share. A failed check
 * prints file:line and the expression and counts a failure; main returns
 * check_exit() so the automake harness sees 0 (pass) or 1 (fail).
 */
#ifndef MOETIER_TESTS_CHECK_H
#define MOETIER_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        check_count++;                                                                \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                         \
        }                                                                             \
    } while (0)

#define CHECK_STR(a, b)                                                                    \
    do {                                                                                   \
        check_count++;                                                                     \
        const char *a_ = (a), *b_ = (b);                                                   \
        if (strcmp(a_, b_) != 0) {                                                         \
            fprintf(stderr, "%s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__, a_, b_);      \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

static inline int check_exit(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
