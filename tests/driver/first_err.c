#include "tests/driver/first_err.h"

#include <stdarg.h>
#include <stdio.h>

void first_err_set(struct first_err *e, int code, const char *fmt, ...)
{
    if (e->code)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->code = code;
}
