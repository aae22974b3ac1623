/*
 * log: formats a whole line into one buffer and writes it with a single
 * write(2), so lines from the server and FUSE threads never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "banned.h"

static int log_fd = 2;
static enum log_level log_level = LOG_LVL_INFO;
static const char *log_prog = "vineyardd";
static int log_syslog;

int
log_init(const char *progname, enum log_level level, const char *path)
{
	log_prog = progname;
	log_level = level;
	if (path && strcmp(path, "syslog") == 0) {
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		log_syslog = 1;
		return 0;
	}
	if (path) {
		int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
			      0640);
		if (fd < 0)
			return -errno;
		if (log_fd > 2)
			close(log_fd);
		log_fd = fd;
	}
	return 0;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

int
log_enabled(enum log_level level)
{
	return level <= log_level;
}

static void
log_vemit(enum log_level level, int err, const char *fmt, va_list ap)
{
	static const char *tags[] = { "error", "warning", "info", "debug" };
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	int k;

	if (level > log_level)
		return;
	if (log_syslog) {
		static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
					    LOG_DEBUG };

		k = vsnprintf(line, sizeof(line), fmt, ap);
		if (err)
			syslog(prio[level], "%s: %s", line, strerror(err));
		else
			syslog(prio[level], "%s", line);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	k = snprintf(line, sizeof(line),
		     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, log_prog,
		     (int)getpid(), tags[level]);
	n = k > 0 ? (size_t)k : 0;
	if (n < sizeof(line)) {
		k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		n += k > 0 ? (size_t)k : 0;
	}
	if (err && n < sizeof(line)) {
		k = snprintf(line + n, sizeof(line) - n, ": %s", strerror(err));
		n += k > 0 ? (size_t)k : 0;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(log_fd, line, n) < 0) {
		/* nowhere left to report it */
	}
}

#define LOG_FN(name, lvl, witherr)                                \
	void name(const char *fmt, ...)                           \
	{                                                         \
		int saved = errno;                                \
		va_list ap;                                       \
		va_start(ap, fmt);                                \
		log_vemit(lvl, witherr ? saved : 0, fmt, ap);     \
		va_end(ap);                                       \
		errno = saved;                                    \
	}

LOG_FN(log_debug, LOG_LVL_DEBUG, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERROR, saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
