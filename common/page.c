/*
 * page: the base page size (see page.h).
 */
#include "common/page.h"

#include <unistd.h>

size_t moetier_page_size(void)
{
    static _Atomic size_t page; /* 0 until asked: a race only asks twice */
    size_t p = page;
    if (!p) {
        long v = sysconf(_SC_PAGESIZE);
        p = v > 0 ? (size_t)v : 4096;
        page = p;
    }
    return p;
}
