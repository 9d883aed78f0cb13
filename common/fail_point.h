/*
 * fail_point: injected failures of the runtime's own calls (docs/fault-injection.md).
 *
 * MOETIER_FAIL("site") stands before a call the runtime makes itself (an
 * allocation, mmap, madvise, mlock, move_pages/mbind, memfd_create,
 * fallocate, open/read/write/fsync/rename):
 *
 *     void *p = MOETIER_FAIL("cache.mmap") ? MAP_FAILED : mmap(...);
 *
 * It is the constant 0 unless configured with --enable-fault-injection, so
 * the ordinary build carries no trace of it. In such a build every call
 * counts, and MOETIER_FAULT_INJECT says which calls fail:
 *     SITE:N[,SITE:N...]   the Nth call (1-based) of SITE fails; SITE * is
 *                          every site (its own count each)
 * A failing call sets errno (ENOMEM for allocations, EIO otherwise), logs
 * one line "fault injected: SITE call N" and returns 1; the caller then takes
 * the path it takes when the real call fails. MOETIER_FAULT_REPORT=FILE
 * appends "SITE CALLS FAILED" per site at exit, so a test can list every
 * site a run reaches. Not for signal handlers (a spin lock guards the table).
 */
#ifndef MOETIER_COMMON_FAIL_POINT_H
#define MOETIER_COMMON_FAIL_POINT_H

/* MOETIER_FAULT_INJECTION comes on the command line (configure adds it to
 * CPPFLAGS): "config.h" from common/ would name common/config.h. */

#ifdef MOETIER_FAULT_INJECTION
int moetier_fail_point(const char *site);
#define MOETIER_FAIL(site) moetier_fail_point(site)
#else
#define MOETIER_FAIL(site) 0
#endif

#endif
