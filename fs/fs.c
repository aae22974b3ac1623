/*
 * fs: one FUSE mount of the store. Checks the mountpoint, sets up the
 * libfuse low-level session with our I/O hooks (passthrough.c), runs
 * FS_WORKERS threads that read and answer requests, and one notifier
 * thread that turns store events into kernel cache invalidations. Owns the
 * ops table; the ops themselves are in ops_dir.c, ops_readdir.c and ops_file.c.
 *
 * Store events arrive with the store lock held, so the watcher only queues
 * them; the notifier sends fuse_lowlevel_notify_inval_entry() later, with
 * no lock held (the kernel may wait in it for a lookup we are answering).
 *
 * Stopping: the notifier first (it may wait on the kernel, which needs
 * the workers), then the workers (the stop eventfd wakes their poll), then
 * unmount, which closes the device and aborts whatever the kernel still
 * had queued.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fs_int.h"
#include "log.h"
#include "meta.h"
#include "store.h"
#include "xmalloc.h"
#include "banned.h"

/* ---- the mountpoint ----
 *
 * A daemon killed with its auto_unmount helper leaves a dead FUSE mount.
 * stat() of it does not always say so: the kernel answers from the root's
 * cached attributes without asking the (gone) daemon. So a mount point is
 * judged by the mount table, and a FUSE mount there by a request the
 * kernel must forward (statfs), made in a child so that a live daemon
 * that does not answer cannot hang this start.
 */

/* The file system type of the topmost mount at abs (absolute, resolved),
 * or 0 when abs is not a mount point of this namespace. */
static int
mount_type(const char *abs, char *type, size_t typelen)
{
	char line[4096], *mp, *end, *ty, dec[PATH_MAX];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int found = 0;

	if (!f)
		return 0;
	/* Later lines are mounted later: the last match is on top. */
	while (fgets(line, sizeof(line), f)) {
		size_t k = 0;
		int field;

		/* The fifth field is the mount point, octal-escaped. */
		mp = line;
		for (field = 0; field < 4 && mp; field++) {
			mp = strchr(mp, ' ');
			if (mp)
				mp++;
		}
		if (!mp || !(end = strchr(mp, ' ')))
			continue;
		while (mp < end && k + 1 < sizeof(dec)) {
			if (mp[0] == '\\' && end - mp >= 4) {
				dec[k++] = (char)(((mp[1] - '0') << 6) |
						  ((mp[2] - '0') << 3) |
						  (mp[3] - '0'));
				mp += 4;
			} else {
				dec[k++] = *mp++;
			}
		}
		dec[k] = 0;
		if (strcmp(dec, abs))
			continue;
		found = 1;
		/* After the optional fields, " - " and then the type. */
		snprintf(type, typelen, "?");
		if ((ty = strstr(end, " - "))) {
			ty += 3;
			k = strcspn(ty, " \n");
			snprintf(type, typelen, "%.*s", (int)k, ty);
		}
	}
	fclose(f);
	return found;
}

enum probe { PROBE_LIVE, PROBE_DEAD, PROBE_SILENT };

#define PROBE_MS 3000

/* Asks the FUSE mount at abs for its statfs, which the kernel always
 * forwards to the daemon: ENOTCONN means that daemon is gone. */
static enum probe
probe_fuse(const char *abs)
{
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	struct statfs sf;
	pid_t pid, r;
	int st, i;

	pid = fork();
	if (pid < 0)
		return statfs(abs, &sf) < 0 && (errno == ENOTCONN ||
		       errno == ECONNABORTED) ? PROBE_DEAD : PROBE_LIVE;
	if (pid == 0) {
		if (statfs(abs, &sf) == 0)
			_exit(0);
		_exit(errno == ENOTCONN || errno == ECONNABORTED ? 1 : 2);
	}
	for (i = 0; i < PROBE_MS / 10; i++) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return WIFEXITED(st) && WEXITSTATUS(st) == 1 ?
			       PROBE_DEAD : PROBE_LIVE;
		if (r < 0 && errno != EINTR)
			return PROBE_LIVE;
		nanosleep(&nap, NULL);
	}
	/* A FUSE request waits killably: the child goes. */
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return PROBE_SILENT;
}

/* Unmounts a mount whose daemon died (lazily: someone may still be in it). */
static int
unmount_stale(const char *path)
{
	pid_t pid;
	int st;

	if (umount2(path, MNT_DETACH) == 0)
		return 0;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execlp("fusermount3", "fusermount3", "-u", "-z", "-q", "--",
		       path, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -EPERM;
	return 0;
}

/* realpath() of a mountpoint, also when it is a dead mount (ENOTCONN):
 * then the resolved parent plus the last component. */
static int
resolve(const char *path, char *abs)
{
	char copy[PATH_MAX], parent[PATH_MAX], *slash, *base;
	int e;

	if (realpath(path, abs))
		return 0;
	e = errno;
	if (e != ENOTCONN && e != ECONNABORTED)
		return -e;
	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
		copy[strlen(copy) - 1] = 0;
	slash = strrchr(copy, '/');
	if (slash) {
		*slash = 0;
		base = slash + 1;
		if (!realpath(*copy ? copy : "/", parent))
			return -errno;
	} else {
		base = copy;
		if (!getcwd(parent, sizeof(parent)))
			return -errno;
	}
	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return -e;
	if (snprintf(abs, PATH_MAX, "%s%s%s", parent,
		     strcmp(parent, "/") ? "/" : "", base) >= PATH_MAX)
		return -ENAMETOOLONG;
	return 0;
}

static int
check_mountpoint(const char *path, char *abs, char *err, size_t errlen)
{
	struct dirent *de;
	struct stat st;
	char type[64];
	int rc, tries;
	DIR *d;

	if ((rc = resolve(path, abs))) {
		if (rc == -ENOENT)
			snprintf(err, errlen, "mountpoint %s does not exist; "
				 "create the directory or pick another with "
				 "--mount DIR", path);
		else
			snprintf(err, errlen, "cannot use mountpoint %s: %s",
				 path, strerror(-rc));
		return rc;
	}
	/* Dead mounts may be stacked: each is taken off in turn. */
	for (tries = 0; mount_type(abs, type, sizeof(type)); tries++) {
		enum probe p;

		if (tries == 8 || strcmp(type, "fuse.vineyard")) {
			snprintf(err, errlen, "mountpoint %s is busy: a %s file "
				 "system is mounted there; unmount it or pick "
				 "another with --mount DIR", path, type);
			return -EBUSY;
		}
		p = probe_fuse(abs);
		if (p != PROBE_DEAD) {
			snprintf(err, errlen, "mountpoint %s is busy: another "
				 "vineyardd serves it%s; stop that one or pick "
				 "another with --mount DIR", path,
				 p == PROBE_SILENT ? " (and does not answer)" :
				 "");
			return -EBUSY;
		}
		log_info("fs: %s is a stale mount left by a daemon that died; "
			 "unmounting it", path);
		if (unmount_stale(abs) < 0) {
			snprintf(err, errlen, "mountpoint %s is a stale FUSE "
				 "mount that cannot be unmounted; run "
				 "'fusermount3 -u %s' and start again", path,
				 path);
			return -EBUSY;
		}
	}
	if (stat(abs, &st) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot use mountpoint %s: %s", path,
			 strerror(e));
		return -e;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "mountpoint %s is not a directory", path);
		return -ENOTDIR;
	}
	d = opendir(abs);
	if (!d) {
		int e = errno;

		snprintf(err, errlen, "cannot read mountpoint %s: %s", path,
			 strerror(e));
		return -e;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			break;
	closedir(d);
	if (de) {
		snprintf(err, errlen, "mountpoint %s is not empty; the view "
			 "would hide its files: pick an empty directory",
			 path);
		return -ENOTEMPTY;
	}
	return 0;
}

/* ---- store events -> kernel invalidations ---- */

static void
on_store_event(void *ctx, enum store_event ev, uint64_t id, const char *name)
{
	struct fs *fs = ctx;
	struct fs_event *e;
	size_t len;

	/* New objects and names need nothing: the kernel caches no
	 * negative entries from us. */
	if (ev == STORE_EV_ADD)
		return;
	len = name ? strlen(name) : 0;
	e = xmalloc(sizeof(*e) + len + 1);
	e->next = NULL;
	e->ev = ev;
	e->id = id;
	memcpy(e->name, name ? name : "", len + 1);
	pthread_mutex_lock(&fs->qlock);
	e->seq = ++fs->qseq;
	*fs->qtail = e;
	fs->qtail = &e->next;
	pthread_cond_signal(&fs->qcond);
	pthread_mutex_unlock(&fs->qlock);
}

static void
invalidate(struct fs *fs, const struct fs_event *e)
{
	char idbuf[META_ID_LEN];
	int rc;

	switch (e->ev) {
	case STORE_EV_DEL:
		/* Drops objects/<id> and, below it, its files and links;
		 * open files keep their blob. */
		meta_id_format(e->id, idbuf);
		rc = fuse_lowlevel_notify_inval_entry(fs->se, INO_OBJECTS,
						      idbuf, META_ID_LEN - 1);
		break;
	case STORE_EV_NAME_SET:
	case STORE_EV_NAME_DROP:
		rc = fuse_lowlevel_notify_inval_entry(fs->se, INO_NAMES,
						      e->name, strlen(e->name));
		break;
	case STORE_EV_STREAM: /* parked reads of a stream's data file */
		fs_stream_wake(fs);
		return;
	case STORE_EV_PERM: {
		/* New owner or mode: the kernel asks for the attributes of
		 * the object's entries again before its next permission
		 * check (default_permissions). Pages stay. */
		static const int kinds[] = { IK_OBJDIR, IK_META, IK_TYPENAME,
					     IK_DATA };
		size_t i;

		rc = 0;
		for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
			uint64_t ino = inode_find(&fs->inodes, kinds[i], e->id,
						  0, NULL, 0);
			int r;

			if (!ino)
				continue;
			r = fuse_lowlevel_notify_inval_inode(fs->se, ino, -1,
							     0);
			if (r && !rc)
				rc = r;
		}
		break;
	}
	default:
		return;
	}
	/* ENOENT: the kernel had nothing cached for it. */
	if (rc && rc != -ENOENT && rc != -ENOTCONN)
		log_debug("fs: invalidating an entry: %s", strerror(-rc));
}

static void *
notifier_main(void *arg)
{
	struct fs *fs = arg;
	struct fs_event *list, *e;
	uint64_t last = 0;

	pthread_mutex_lock(&fs->qlock);
	while (!fs->qstop) {
		if (!fs->qhead) {
			pthread_cond_wait(&fs->qcond, &fs->qlock);
			continue;
		}
		list = fs->qhead;
		fs->qhead = NULL;
		fs->qtail = &fs->qhead;
		pthread_mutex_unlock(&fs->qlock);
		while ((e = list)) {
			list = e->next;
			invalidate(fs, e);
			last = e->seq;
			free(e);
		}
		pthread_mutex_lock(&fs->qlock);
		fs->qdone = last;
		pthread_cond_broadcast(&fs->qdone_cond);
	}
	/* Nobody waits for what will not be applied now. */
	fs->qdone = fs->qseq;
	pthread_cond_broadcast(&fs->qdone_cond);
	pthread_mutex_unlock(&fs->qlock);
	return NULL;
}

void
fs_sync(void *ctx)
{
	struct fs *fs = ctx;
	uint64_t want;

	pthread_mutex_lock(&fs->qlock);
	want = fs->qseq;
	while (fs->qdone < want && !fs->qstop)
		pthread_cond_wait(&fs->qdone_cond, &fs->qlock);
	pthread_mutex_unlock(&fs->qlock);
}

/* ---- the session ---- */

static ssize_t
io_read(int fd, void *buf, size_t len, void *userdata)
{
	return pt_read(&((struct fs *)userdata)->pt, fd, buf, len);
}

static ssize_t
io_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	return pt_writev(&((struct fs *)userdata)->pt, fd, iov, count);
}

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	/* Every listing of objects/ is followed by stats (ls -l): give
	 * attributes with every chunk, not only the first. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* Sizes and times never change; no page-cache drops on getattr. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* A stream's data file moves its reader past what a read asks for:
	 * the parts of one large read must go in order, not at once. */
	conn->want &= ~FUSE_CAP_ASYNC_DIO;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	pt_conn_init(&fs->pt, conn);
}

static const struct fuse_lowlevel_ops fs_ops = {
	.init = op_init,
	.lookup = fs_op_lookup,
	.forget = fs_op_forget,
	.forget_multi = fs_op_forget_multi,
	.getattr = fs_op_getattr,
	.readlink = fs_op_readlink,
	.opendir = fs_op_opendir,
	.readdir = fs_op_readdir,
	.readdirplus = fs_op_readdirplus,
	.releasedir = fs_op_releasedir,
	.statfs = fs_op_statfs,
	.open = fs_op_open,
	.read = fs_op_read,
	.release = fs_op_release,
	.setattr = fs_op_setattr,
	.mknod = fs_op_mknod,
	.mkdir = fs_op_mkdir,
	.unlink = fs_op_unlink,
	.rmdir = fs_op_rmdir,
	.symlink = fs_op_symlink,
	.rename = fs_op_rename,
	.link = fs_op_link,
	.write = fs_op_write,
	.create = fs_op_create,
	.setxattr = fs_op_setxattr,
	.removexattr = fs_op_removexattr,
	.fallocate = fs_op_fallocate,
	/* No getxattr/listxattr: ENOSYS once, and the kernel stops asking
	 * (ls -l asks for every file otherwise). */
};

static void *
worker_main(void *arg)
{
	struct fs *fs = arg;
	struct fuse_buf buf;
	int rc;

	memset(&buf, 0, sizeof(buf));
	while (!fuse_session_exited(fs->se)) {
		rc = fuse_session_receive_buf(fs->se, &buf);
		if (rc == -EINTR || rc == -EAGAIN)
			continue;
		if (rc <= 0)
			break;
		fuse_session_process_buf(fs->se, &buf);
	}
	free(buf.mem);
	if (!__atomic_load_n(&fs->stopping, __ATOMIC_ACQUIRE) &&
	    !__atomic_exchange_n(&fs->gone_logged, 1, __ATOMIC_ACQ_REL))
		log_warnx("fs: %s was unmounted from outside; the view is "
			  "gone until vineyardd restarts", fs->mount);
	return NULL;
}

static struct fuse_session *
session_new(struct fs *fs, int auto_unmount)
{
	struct fuse_session *se;
	struct fuse_args args;
	char opts[256];
	char *argv[4];

	snprintf(opts, sizeof(opts), "ro,default_permissions,fsname=vineyard,"
		 "subtype=vineyard%s%s", fs->allow_other ? ",allow_other" : "",
		 auto_unmount ? ",auto_unmount" : "");
	argv[0] = (char *)(uintptr_t)"vineyardd";
	argv[1] = (char *)(uintptr_t)"-o";
	argv[2] = opts;
	argv[3] = NULL;
	args.argc = 3;
	args.argv = argv;
	args.allocated = 0;
	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	/* Option parsing may have copied the arguments. */
	fuse_opt_free_args(&args);
	return se;
}

/* Mounts with auto_unmount (fusermount3 then unmounts the view if the
 * daemon is killed); without it when that helper is unusable. */
static int
mount_session(struct fs *fs, char *err, size_t errlen)
{
	int au;

	for (au = 1; au >= 0; au--) {
		fs->se = session_new(fs, au);
		if (!fs->se) {
			snprintf(err, errlen, "cannot set up the FUSE session "
				 "(is /dev/fuse there?)");
			return -EIO;
		}
		if (fuse_session_mount(fs->se, fs->mount) == 0) {
			if (!au)
				log_warnx("fs: mounted without auto_unmount; "
					  "if the daemon is killed, the next "
					  "start unmounts the stale mount");
			return 0;
		}
		fuse_session_destroy(fs->se);
		fs->se = NULL;
	}
	if (access("/dev/fuse", R_OK | W_OK) < 0)
		snprintf(err, errlen, "cannot mount %s: /dev/fuse: %s",
			 fs->mount, strerror(errno));
	else
		snprintf(err, errlen, "cannot mount %s (see the fuse message "
			 "above)", fs->mount);
	return -EIO;
}

static void
fs_free(struct fs *fs)
{
	struct fs_event *e;

	while ((e = fs->qhead)) {
		fs->qhead = e->next;
		free(e);
	}
	fs_stream_stop(fs);   /* parked reads answered before their files go */
	fs_files_release(fs); /* unpins through the owner: first */
	if (fs->owner)
		store_owner_free(fs->store, fs->owner);
	inode_tab_release(&fs->inodes);
	pthread_mutex_destroy(&fs->qlock);
	pthread_cond_destroy(&fs->qcond);
	pthread_cond_destroy(&fs->qdone_cond);
	fs_stream_free(fs);
	pt_release(&fs->pt);
	if (fs->stopfd >= 0)
		close(fs->stopfd);
	free(fs->mount);
	free(fs);
}

static void
stop_threads(struct fs *fs)
{
	uint64_t one = 1;
	int i;

	if (fs->watching) {
		store_unwatch(fs->store, on_store_event, fs);
		fs->watching = 0;
	}
	if (fs->notifier_on) {
		pthread_mutex_lock(&fs->qlock);
		fs->qstop = 1;
		pthread_cond_signal(&fs->qcond);
		pthread_mutex_unlock(&fs->qlock);
		pthread_join(fs->notifier, NULL);
		fs->notifier_on = 0;
	}
	__atomic_store_n(&fs->stopping, 1, __ATOMIC_RELEASE);
	if (write(fs->stopfd, &one, sizeof(one)) != sizeof(one))
		log_warn("fs: waking the workers");
	for (i = 0; i < fs->nworkers; i++)
		pthread_join(fs->workers[i], NULL);
	fs->nworkers = 0;
}

int
fs_start(struct store *s, const struct fs_cfg *cfg, struct fs **out,
	 char *err, size_t errlen)
{
	struct fuse_custom_io io;
	char abs[PATH_MAX];
	struct fs *fs;
	int rc, fd, i;

	*out = NULL;
	if ((rc = check_mountpoint(cfg->mount, abs, err, errlen)))
		return rc;
	fs = xcalloc(1, sizeof(*fs));
	fs->store = s;
	fs->mount = xstrdup(abs);
	fs->allow_other = cfg->allow_other;
	fs->status_json = cfg->status_json;
	fs->status_ctx = cfg->status_ctx;
	fs->cluster = cfg->cluster;
	fs->cluster_ctx = cfg->cluster_ctx;
	fs->uid = geteuid();
	fs->gid = getegid();
	fs->root_gid = cfg->gate ? cfg->socket_gid : fs->gid;
	fs->root_mode = !cfg->gate ? 0555 : 0500 |
		((cfg->socket_mode & 0020) ? 0050 : 0) |
		((cfg->socket_mode & 0002) ? 0005 : 0);
	clock_gettime(CLOCK_REALTIME, &fs->t0);
	inode_tab_init(&fs->inodes);
	fs_files_init(fs);
	fs_stream_init(fs);
	pthread_mutex_init(&fs->qlock, NULL);
	pthread_cond_init(&fs->qcond, NULL);
	pthread_cond_init(&fs->qdone_cond, NULL);
	fs->qtail = &fs->qhead;
	fs->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pt_init(&fs->pt, !cfg->force_cached, fs->stopfd);
	if (fs->stopfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		fs_free(fs);
		return rc;
	}
	if ((rc = mount_session(fs, err, errlen))) {
		fs_free(fs);
		return rc;
	}
	fd = fuse_session_fd(fs->se);
	fs->pt.fd = fd;
	memset(&io, 0, sizeof(io));
	io.read = io_read;
	io.writev = io_writev;
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fuse_session_custom_io(fs->se, &io, fd) < 0) {
		snprintf(err, errlen, "cannot set up FUSE I/O on %s", abs);
		rc = -EIO;
		goto fail_mounted;
	}
	fs->owner = store_owner_new(s, "fs");
	store_watch(s, on_store_event, fs);
	fs->watching = 1;
	if ((rc = -pthread_create(&fs->notifier, NULL, notifier_main, fs))) {
		snprintf(err, errlen, "cannot start a thread: %s",
			 strerror(-rc));
		goto fail_mounted;
	}
	fs->notifier_on = 1;
	for (i = 0; i < FS_WORKERS; i++) {
		if ((rc = -pthread_create(&fs->workers[i], NULL, worker_main,
					  fs))) {
			snprintf(err, errlen, "cannot start a thread: %s",
				 strerror(-rc));
			goto fail_mounted;
		}
		fs->nworkers++;
	}
	if (pt_wait_init(&fs->pt, 10000)) {
		snprintf(err, errlen, "the kernel did not start the mount at "
			 "%s within 10 s", abs);
		rc = -ETIMEDOUT;
		goto fail_mounted;
	}
	if (fs->pt.active)
		log_info("fs: mounted at %s, data mode passthrough (blob files "
			 "map store memory)", abs);
	else
		log_info("fs: mounted at %s, data mode cached: %s", abs,
			 fs->pt.why);
	*out = fs;
	return 0;
fail_mounted:
	stop_threads(fs);
	fuse_session_unmount(fs->se);
	fuse_session_destroy(fs->se);
	fs_free(fs);
	return rc;
}

const char *
fs_mode(void *ctx)
{
	struct fs *fs = ctx;

	if (!fs)
		return NULL;
	return __atomic_load_n(&fs->pt.active, __ATOMIC_ACQUIRE) ?
	       "passthrough" : "cached";
}

const char *
fs_mountpoint(struct fs *fs)
{
	return fs->mount;
}

void
fs_stop(struct fs *fs)
{
	if (!fs)
		return;
	stop_threads(fs);
	fuse_session_unmount(fs->se);
	fuse_session_destroy(fs->se);
	fs->se = NULL;
	log_info("fs: unmounted %s", fs->mount);
	fs_free(fs);
}
