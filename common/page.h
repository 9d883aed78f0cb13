/*
 * page: the base page size, asked of the kernel once (sysconf), 4096 when it
 * will not say. Safe from any thread and on the shim's paths.
 */
#ifndef MOETIER_COMMON_PAGE_H
#define MOETIER_COMMON_PAGE_H

#include <stddef.h>

size_t moetier_page_size(void);

#endif
