/*
 * first_err: the eval callback cannot fail a decode, so it keeps the first
 * error it meets (later ones are consequences) for the driver to report
 * after llama_decode returns.
 */
#ifndef MOETIER_TESTS_DRIVER_FIRST_ERR_H
#define MOETIER_TESTS_DRIVER_FIRST_ERR_H

struct first_err {
    int code;               /* 0: none yet; else the exit status it calls for */
    char msg[256];
};

/* Keeps code and the message unless an error is already kept. */
void first_err_set(struct first_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
