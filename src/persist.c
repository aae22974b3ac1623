/*
 * persist: every path is relative to descriptors of DIR and DIR/objects,
 * so nothing is ever built from a name a user chose (file names come from
 * object ids only). Durability follows the usual recipe: write the temp
 * file, fsync it, rename it over the final name, fsync the directory.
 *
 * This file: opening and closing DIR (format, lock, writability probe),
 * the per-thread error text and file names. Writing is in
 * persist_write.c, scanning and loading back in persist_read.c;
 * persist_int.h is what they share.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persist_int.h"
#include "banned.h"

static __thread char persist_err[400];

int
persist_fail(int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(persist_err, sizeof(persist_err), fmt, ap);
	va_end(ap);
	return rc;
}

const char *
persist_errmsg(void)
{
	return persist_err[0] ? persist_err : "unknown error";
}

const char *
persist_dir(const struct persist *p)
{
	return p->dir;
}

static const char *
ext_of(uint8_t kind)
{
	switch (kind) {
	case DISKFMT_BLOB: return "blob";
	case DISKFMT_OBJECT: return "obj";
	default: return "anchor";
	}
}

void
persist_name(uint8_t kind, uint64_t id, char *out, size_t len)
{
	char idbuf[META_ID_LEN];

	meta_id_format(id, idbuf);
	snprintf(out, len, "%s.%s", idbuf, ext_of(kind));
}

/* ---- opening ---- */

static int
mkdir_p(const char *path)
{
	char *tmp = xstrdup(path), *s;
	int rc = 0;

	for (s = tmp + 1; ; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;

			*s = 0;
			if (mkdir(tmp, 0700) < 0 && errno != EEXIST) {
				rc = -errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(tmp);
	return rc;
}

/* Writes DIR/format saying format v, atomically. */
static int
write_format(struct persist *p, int v)
{
	char line[64];
	int k = snprintf(line, sizeof(line), FORMAT_HEAD "%d\n", v), e;
	int fd = openat(p->dfd, ".tmp-format", O_WRONLY | O_CREAT | O_TRUNC |
			O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, line, (size_t)k) != k || fsync(fd) < 0 ||
	    renameat(p->dfd, ".tmp-format", p->dfd, FORMAT_FILE) < 0) {
		e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	close(fd);
	fsync(p->dfd);
	p->format = v;
	return 0;
}

int
persist_format_logs(struct persist *p)
{
	int rc;

	if (p->format >= FORMAT_LOGS)
		return 0;
	if ((rc = write_format(p, FORMAT_LOGS)) < 0)
		return persist_fail(rc, "writing %s/%s: %s", p->dir,
				    FORMAT_FILE, strerror(-rc));
	return 0;
}

/* Reads DIR/format, or writes it into a directory that has none. A
 * directory of format 1 is taken over as format 2: its files stay valid
 * (readers take both), new files are written in format 2, and the new
 * number keeps a daemon that reads only format 1 from misreading them. */
static int
check_format(struct persist *p, char *err, size_t errlen)
{
	char buf[128];
	ssize_t n;
	int fd = openat(p->dfd, FORMAT_FILE, O_RDONLY | O_CLOEXEC), v;

	if (fd < 0 && errno == ENOENT) {
		if ((n = write_format(p, DISKFMT_VERSION)) < 0) {
			errno = (int)-n;
			goto syserr;
		}
		return 0;
	}
	if (fd < 0)
		goto syserr;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		goto syserr;
	buf[n] = 0;
	if (strncmp(buf, FORMAT_HEAD, strlen(FORMAT_HEAD)) != 0) {
		snprintf(err, errlen, "%s/%s does not describe a vineyard data "
			 "directory; pick another with --data-dir DIR", p->dir,
			 FORMAT_FILE);
		return -EINVAL;
	}
	v = atoi(buf + strlen(FORMAT_HEAD));
	if (v == DISKFMT_VERSION_1) {
		fd = -1;
		if ((n = write_format(p, DISKFMT_VERSION)) < 0) {
			errno = (int)-n;
			goto syserr;
		}
		log_info("persist: %s: format %d taken over as format %d",
			 p->dir, v, DISKFMT_VERSION);
		return 0;
	}
	if (v != DISKFMT_VERSION && v != FORMAT_LOGS) {
		snprintf(err, errlen, "data directory %s has format %d; this "
			 "vineyardd reads formats %d to %d", p->dir, v,
			 DISKFMT_VERSION_1, FORMAT_LOGS);
		return -EPROTONOSUPPORT;
	}
	p->format = v;
	return 0;
syserr:
	n = errno;
	if (fd >= 0)
		close(fd);
	snprintf(err, errlen, "data directory %s is not usable: %s: %s; pick "
		 "another with --data-dir DIR", p->dir, FORMAT_FILE,
		 strerror((int)n));
	return -(int)n;
}

static int
open_sub(struct persist *p, const char *name, int *fd, char *err,
	 size_t errlen)
{
	if (mkdirat(p->dfd, name, 0700) < 0 && errno != EEXIST)
		goto syserr;
	*fd = openat(p->dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		goto syserr;
	return 0;
syserr:
	snprintf(err, errlen, "data directory %s is not usable: %s/: %s; pick "
		 "another with --data-dir DIR", p->dir, name, strerror(errno));
	return -errno;
}

static int
take_lock(struct persist *p, char *err, size_t errlen)
{
	p->lockfd = openat(p->dfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (p->lockfd < 0) {
		snprintf(err, errlen, "data directory %s is not writable: %s; "
			 "pick another with --data-dir DIR", p->dir,
			 strerror(errno));
		return -errno;
	}
	if (flock(p->lockfd, LOCK_EX | LOCK_NB) < 0) {
		char pid[32] = "";
		ssize_t n = pread(p->lockfd, pid, sizeof(pid) - 1, 0);

		pid[n > 0 ? n : 0] = 0;
		pid[strcspn(pid, "\n")] = 0;
		snprintf(err, errlen, "data directory %s is in use by another "
			 "vineyardd%s%s%s; give each daemon its own --data-dir",
			 p->dir, pid[0] ? " (pid " : "", pid,
			 pid[0] ? ")" : "");
		return -EBUSY;
	}
	persist_note_pid(p);
	return 0;
}

void
persist_note_pid(struct persist *p)
{
	char pid[32];
	int k = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	if (ftruncate(p->lockfd, 0) < 0 ||
	    pwrite(p->lockfd, pid, (size_t)k, 0) != k) {
		/* informative only */
	}
}

/* A real write: permissions, read-only mounts and full disks show here
 * rather than at the first persist. */
static int
probe_write(struct persist *p, char *err, size_t errlen)
{
	static const char probe[] = TMP_PREFIX "probe";
	int fd = openat(p->ofd, probe, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);

	if (fd < 0) {
		snprintf(err, errlen, "data directory %s is not writable: %s; "
			 "pick another with --data-dir DIR", p->dir,
			 strerror(errno));
		return -errno;
	}
	close(fd);
	unlinkat(p->ofd, probe, 0);
	return 0;
}

int
persist_open(const char *dir, struct persist **out, char *err, size_t errlen)
{
	struct persist *p;
	struct stat st;
	int rc;

	*out = NULL;
	if (!dir || !*dir) {
		snprintf(err, errlen, "--data-dir needs a directory");
		return -EINVAL;
	}
	p = xcalloc(1, sizeof(*p));
	p->dfd = p->ofd = p->qfd = p->lockfd = -1;
	pthread_mutex_init(&p->logmu, NULL);
	idtab_init(&p->logged);
	idtab_init(&p->scanned);
	p->dir = xstrdup(dir);
	if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "data directory %s is not a directory; "
			 "pick another with --data-dir DIR", dir);
		rc = -ENOTDIR;
		goto fail;
	}
	rc = mkdir_p(dir);
	if (rc) {
		snprintf(err, errlen, "cannot create data directory %s: %s; "
			 "pick another with --data-dir DIR", dir,
			 strerror(-rc));
		goto fail;
	}
	p->dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open data directory %s: %s; pick "
			 "another with --data-dir DIR", dir, strerror(errno));
		goto fail;
	}
	if ((rc = take_lock(p, err, errlen)) ||
	    (rc = check_format(p, err, errlen)) ||
	    (rc = open_sub(p, "objects", &p->ofd, err, errlen)) ||
	    (rc = open_sub(p, "damaged", &p->qfd, err, errlen)) ||
	    (rc = probe_write(p, err, errlen)))
		goto fail;
	fsync(p->dfd);
	*out = p;
	return 0;
fail:
	persist_close(p);
	return rc;
}

void
persist_close(struct persist *p)
{
	if (!p)
		return;
	if (p->ofd >= 0)
		close(p->ofd);
	if (p->qfd >= 0)
		close(p->qfd);
	if (p->dfd >= 0)
		close(p->dfd);
	if (p->lockfd >= 0)
		close(p->lockfd);
	persist_log_release(p);
	pthread_mutex_destroy(&p->logmu);
	free(p->dir);
	free(p);
}
