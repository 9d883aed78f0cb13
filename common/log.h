/*
 * log: one formatter into a stack buffer and one write(2) per line.
 *
 * No stdio, no malloc: callable from the shim's interposed functions and,
 * for moetier_log_raw, from signal handlers. Lines look like
 *   moetier[1234] warn: MOETIER_DRAM="12Q": not a size; keeping the default
 * The level and destination come from MOETIER_LOG / MOETIER_LOG_FILE
 * (moetier_log_init); before init, warnings and errors go to stderr.
 */
#ifndef MOETIER_COMMON_LOG_H
#define MOETIER_COMMON_LOG_H

enum moetier_log_level {
    MOETIER_LOG_ERROR = 0,
    MOETIER_LOG_WARN = 1,
    MOETIER_LOG_INFO = 2,
    MOETIER_LOG_DEBUG = 3,
};

/* Parses "error|warn|info|debug"; returns 0 or -EINVAL. */
int moetier_log_level_parse(const char *s, enum moetier_log_level *out);
/* Sets level and destination fd (the fd is not closed by the logger). */
void moetier_log_setup(enum moetier_log_level level, int fd);
/* Sets the tag printed before the pid ("moetier" by default). */
void moetier_log_set_tag(const char *tag);
int moetier_log_enabled(enum moetier_log_level level);

void moetier_log(enum moetier_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) moetier_log(MOETIER_LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  moetier_log(MOETIER_LOG_WARN, __VA_ARGS__)
#define log_info(...)  moetier_log(MOETIER_LOG_INFO, __VA_ARGS__)
#define log_debug(...) moetier_log(MOETIER_LOG_DEBUG, __VA_ARGS__)

#endif
