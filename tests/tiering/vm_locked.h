/*
 * vm_locked: the bytes this process has locked (VmLck in /proc/self/status),
 * for the tests that check what locking promotion locked.
 */
#ifndef MOETIER_TESTS_VM_LOCKED_H
#define MOETIER_TESTS_VM_LOCKED_H

#include <stdint.h>
#include <stdio.h>

static inline uint64_t vm_locked(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmLck: %llu kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

#endif
