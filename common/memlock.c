/*
 * memlock: the memlock limit and what is locked (see memlock.h).
 */
#include "common/memlock.h"
#include "common/number.h"
#include "common/sysfs.h"

#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#define CAP_IPC_LOCK_BIT 14

/* The number after key in text: decimal, or hex when hex is set. */
static uint64_t field(const char *text, const char *key, int hex)
{
    const char *p = strstr(text, key);
    if (!p)
        return 0;
    p += strlen(key);
    while (*p == ' ' || *p == '\t')
        p++;
    uint64_t v;
    const char *end;
    return moetier_parse_u64(p, hex ? 16 : 10, &v, &end) == 0 ? v : 0;
}

int moetier_memlock_read(struct moetier_memlock *m)
{
    memset(m, 0, sizeof *m);
    struct rlimit rl;
    if (getrlimit(RLIMIT_MEMLOCK, &rl) != 0)
        return -errno;
    if (rl.rlim_cur != rl.rlim_max) {
        struct rlimit up = { rl.rlim_max, rl.rlim_max };
        if (setrlimit(RLIMIT_MEMLOCK, &up) == 0)
            rl = up;
    }
    m->limit = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
    char buf[4096];
    if (moetier_read_text("/proc/self/status", buf, sizeof buf) <= 0)
        return 0;
    m->locked = field(buf, "VmLck:", 0) * 1024;
    m->cap_ipc_lock = (int)((field(buf, "CapEff:", 1) >> CAP_IPC_LOCK_BIT) & 1);
    return 0;
}

uint64_t moetier_memlock_room(const struct moetier_memlock *m)
{
    if (m->cap_ipc_lock || m->limit == UINT64_MAX)
        return UINT64_MAX;
    return m->limit > m->locked ? m->limit - m->locked : 0;
}
