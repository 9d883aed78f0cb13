/*
 * log: leveled, single-write log lines (see log.h). Async-signal-safe
 * except for the level/fd globals, which are plain words set at init.
 */
#include "common/log.h"
#include "common/fmt.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

static int log_level = MOETIER_LOG_WARN;
static int log_fd = 2;
static const char *log_tag = "moetier";

static const char *const level_names[] = { "error", "warn", "info", "debug" };

int moetier_log_level_parse(const char *s, enum moetier_log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum moetier_log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = MOETIER_LOG_WARN;
        return 0;
    }
    return -EINVAL;
}

void moetier_log_setup(enum moetier_log_level level, int fd)
{
    log_level = level;
    log_fd = fd;
}

void moetier_log_set_tag(const char *tag)
{
    log_tag = tag;
}

int moetier_log_enabled(enum moetier_log_level level)
{
    return (int)level <= log_level;
}

void moetier_log(enum moetier_log_level level, const char *fmt, ...)
{
    if (!moetier_log_enabled(level))
        return;
    int saved = errno;
    char line[1024];
    size_t n = moetier_fmt(line, sizeof line - 1, "%s[%d] %s: ", log_tag, (int)getpid(),
                           level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    n += moetier_vfmt(line + n, sizeof line - 1 - n, fmt, ap);
    va_end(ap);
    line[n++] = '\n';
    ssize_t w;
    do {
        w = write(log_fd, line, n);
    } while (w < 0 && errno == EINTR);
    errno = saved;
}
