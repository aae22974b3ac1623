/*
 * log: the daemon's diagnostics, to stderr or a file, one line each, with a
 * level and a timestamp. Thread-safe. Messages are lowercase without a full
 * stop. log_warn/fatal append strerror(errno); the -x variants do not.
 * Never used by libvineyard, which reports errors to its caller instead.
 */
#ifndef VY_LOG_H
#define VY_LOG_H

#include <stdarg.h>

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Sends later lines to path (appending), to syslog when path is
 * "syslog", or to stderr when path is NULL. */
int log_init(const char *progname, enum log_level level, const char *path);
void log_set_level(enum log_level level);
int log_enabled(enum log_level level);

void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Startup errors and impossible states only: log and exit(1). */
void fatal(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

#endif
