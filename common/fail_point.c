/*
 * fail_point: counting and failing the runtime's own calls (fail_point.h).
 * Compiled to nothing without --enable-fault-injection. No stdio, no malloc:
 * it runs inside the shim, on any thread.
 */
#include "common/fail_point.h"

#ifdef MOETIER_FAULT_INJECTION
#include "common/fmt.h"
#include "common/number.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SITES 64
#define MAX_RULES 16

static struct {
    const char *name;
    uint64_t calls, failed;
} sites[MAX_SITES];
static int n_sites;
static struct {
    char site[48];
    uint64_t nth;
} rules[MAX_RULES];
static int n_rules;
static int table_lock, parsed;

static void lock(void)
{
    while (__atomic_test_and_set(&table_lock, __ATOMIC_ACQUIRE))
        ;
}

static void unlock(void)
{
    __atomic_clear(&table_lock, __ATOMIC_RELEASE);
}

/* A destructor of the lowest priority: it runs after the runtime's own exit
 * work (the profile is saved from an atexit handler and a destructor). */
__attribute__((destructor(101))) static void report(void)
{
    const char *path = getenv("MOETIER_FAULT_REPORT");
    if (!path || !*path)
        return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    lock();
    for (int i = 0; i < n_sites; i++) {
        char line[128];
        size_t n = moetier_fmt(line, sizeof line, "%s %llu %llu\n", sites[i].name,
                               (unsigned long long)sites[i].calls, (unsigned long long)sites[i].failed);
        if (write(fd, line, n) < 0)
            break;
    }
    unlock();
    close(fd);
}

/* MOETIER_FAULT_INJECT, once; under the lock. */
static void parse(void)
{
    parsed = 1;
    const char *s = getenv("MOETIER_FAULT_INJECT");
    while (s && *s && n_rules < MAX_RULES) {
        const char *colon = strchr(s, ':'), *end = strchr(s, ',');
        if (!end)
            end = s + strlen(s);
        if (colon && colon < end && (size_t)(colon - s) < sizeof rules[0].site) {
            memcpy(rules[n_rules].site, s, (size_t)(colon - s));
            rules[n_rules].site[colon - s] = '\0';
            const char *digits_end;
            if (moetier_parse_u64(colon + 1, 10, &rules[n_rules].nth, &digits_end) == 0 && rules[n_rules].nth)
                n_rules++;
        }
        s = *end ? end + 1 : end;
    }
}

int moetier_fail_point(const char *site)
{
    lock();
    if (!parsed)
        parse();
    int i;
    for (i = 0; i < n_sites; i++)
        if (sites[i].name == site || strcmp(sites[i].name, site) == 0)
            break;
    if (i == n_sites) {
        if (n_sites == MAX_SITES) {
            unlock();
            return 0;
        }
        sites[n_sites++].name = site;
    }
    uint64_t call = ++sites[i].calls;
    int fail = 0;
    for (int r = 0; r < n_rules && !fail; r++)
        fail = rules[r].nth == call && (strcmp(rules[r].site, "*") == 0 || strcmp(rules[r].site, site) == 0);
    if (fail)
        sites[i].failed++;
    unlock();
    if (fail) {
        log_warn("fault injected: %s call %llu", site, (unsigned long long)call);
        errno = strstr(site, "alloc") ? ENOMEM : EIO;
    }
    return fail;
}
#endif
