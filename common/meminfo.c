/*
 * meminfo: memory available to the process (see meminfo.h).
 */
#include "common/meminfo.h"
#include "common/number.h"
#include "common/sysfs.h"

#include <errno.h>
#include <string.h>

/* The decimal number after blanks at s, 0 when there is none. */
static uint64_t parse_u64(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    uint64_t v;
    const char *end;
    return moetier_parse_u64(s, 10, &v, &end) == 0 ? v : 0;
}

/* Value in kB of "Key:" in /proc/meminfo text, in bytes. */
static uint64_t meminfo_key(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? parse_u64(p + strlen(key)) * 1024 : 0;
}

/* The value of the line starting "key" in the memory.stat file at path, 0
 * when absent. */
static uint64_t stat_key(const char *path, const char *key)
{
    char text[8192];
    if (moetier_read_text(path, text, sizeof text) <= 0)
        return 0;
    size_t n = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp(line, key, n) == 0)
            return parse_u64(line + n);
    return 0;
}

int moetier_meminfo_read(struct moetier_meminfo *m)
{
    memset(m, 0, sizeof *m);
    char buf[4096];
    if (moetier_read_text("/proc/meminfo", buf, sizeof buf) <= 0)
        return -EIO;
    m->available = meminfo_key(buf, "MemAvailable:");
    m->total = meminfo_key(buf, "MemTotal:");

    /* cgroup v2: our cgroup's memory.max; v1: the memory controller's limit */
    char cg[512], path[700];
    if (moetier_read_text("/proc/self/cgroup", cg, sizeof cg) > 0) {
        char *line = cg;
        while (line && *line) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            const char *rel = NULL;
            int v2 = 0;
            if (strncmp(line, "0::", 3) == 0) {
                rel = line + 3;
                v2 = 1;
            } else {
                char *c1 = strchr(line, ':');
                char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                if (c1 && c2 && strncmp(c1 + 1, "memory:", 7) == 0)
                    rel = c2 + 1;
            }
            if (rel) {
                const char *base = v2 ? "/sys/fs/cgroup" : "/sys/fs/cgroup/memory";
                const char *limit = v2 ? "memory.max" : "memory.limit_in_bytes";
                const char *usage = v2 ? "memory.current" : "memory.usage_in_bytes";
                char val[64];
                size_t rl = strlen(rel);
                if (rl + 60 < sizeof path) {
                    memcpy(path, base, strlen(base) + 1);
                    strcat(path, rel);
                    strcat(path, "/");
                    strcat(path, limit);
                    if (moetier_read_text(path, val, sizeof val) > 0 && val[0] >= '0' && val[0] <= '9') {
                        uint64_t lim = parse_u64(val);
                        /* v1 reports "unlimited" as a huge number */
                        if (lim > 0 && lim < (1ULL << 60) && (!m->cgroup_limit || lim < m->cgroup_limit))
                            m->cgroup_limit = lim;
                        memcpy(path, base, strlen(base) + 1);
                        strcat(path, rel);
                        strcat(path, "/");
                        strcat(path, usage);
                        if (moetier_read_text(path, val, sizeof val) > 0)
                            m->cgroup_usage = parse_u64(val);
                        memcpy(path, base, strlen(base) + 1);
                        strcat(path, rel);
                        strcat(path, "/memory.stat");
                        m->cgroup_anon = stat_key(path, v2 ? "anon " : "total_rss ");
                    }
                }
            }
            line = nl ? nl + 1 : NULL;
        }
    }
    return 0;
}

uint64_t moetier_meminfo_base(const struct moetier_meminfo *m)
{
    if (m->cgroup_limit && (!m->available || m->cgroup_limit < m->available + m->cgroup_usage))
        return m->cgroup_limit > m->cgroup_usage ? m->cgroup_limit - m->cgroup_usage : 0;
    return m->available;
}
