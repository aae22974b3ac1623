/*
 * vineyardd: takes the parsed options (options.c), sets up logging, the
 * store and the socket server, detaches unless told to stay in the
 * foreground, and runs the loop until SIGINT or SIGTERM. No store logic
 * lives here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "cborio.h"
#include "cluster/attach.h"
#include "cluster/fetch.h"
#include "cluster/cluster.h"
#include "fs.h"
#include "log.h"
#include "loop.h"
#include "options.h"
#include "persist.h"
#include "proto.h"
#include "server.h"
#include "store.h"
#include "stream.h"
#include "banned.h"

/* Detaches; the parent exits once the child reports readiness on the pipe
 * (one byte) or failure (EOF), so "vineyardd && vineyardctl ..." works. */
static int
detach(void)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		fatal("pipe");
	pid = fork();
	if (pid < 0)
		fatal("fork");
	if (pid > 0) {
		char b;

		close(p[1]);
		_exit(read(p[0], &b, 1) == 1 ? 0 : 1);
	}
	close(p[0]);
	if (setsid() < 0)
		fatal("setsid");
	return p[1];
}

/* Connects the FUSE view's status.json to the server's status map. */
static int
fs_status_json(void *ctx, struct cw *out)
{
	struct server *sv = __atomic_load_n((struct server **)ctx,
					    __ATOMIC_ACQUIRE);

	return sv ? server_status_json(sv, out) : -EAGAIN;
}

struct sigctx {
	int fd;
	struct loop *loop;
};

static void
on_signal(void *ctx, uint32_t events)
{
	struct sigctx *sc = ctx;
	struct signalfd_siginfo si;

	(void)events;
	while (read(sc->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			continue;
		log_info("signal %u: shutting down", si.ssi_signo);
		loop_stop(sc->loop);
	}
}

int
main(int argc, char **argv)
{
	struct store_cfg scfg;
	struct server_cfg vcfg;
	struct persist *disk = NULL, *spill = NULL;
	char *data_dir = NULL, *spill_dir = NULL;
	struct store *store;
	struct server *server = NULL;
	struct fs *fs = NULL;
	struct attach *cluster = NULL;
	struct fetch *fetch = NULL;
	struct loop *loop;
	struct sigctx sc;
	struct loop_watch *sigw;
	struct rlimit rl;
	sigset_t mask;
	struct opts o;
	char err[512], thp_old[64] = "";
	int thp_changed = 0;
	int lfd, lockfd, ready = -1, rc, tfd = -1;
	char *token = NULL;

	parse_opts(argc, argv, &o);
	if (log_init("vineyardd", o.level, o.log_file ? o.log_file :
		     o.foreground ? NULL : "syslog") < 0) {
		fprintf(stderr, "vineyardd: cannot open log file %s: %s\n",
			o.log_file, strerror(errno));
		return 1;
	}
	/* One descriptor per large blob: take all the kernel allows. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	/* Block before any thread starts so only the signalfd sees them. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);

	rc = server_listen(o.socket, o.socket_mode, &lfd, &lockfd, err,
			   sizeof(err));
	if (rc) {
		fprintf(stderr, "vineyardd: %s\n", err);
		return 1;
	}
	/* The group only widens who may connect, so the moment before it
	 * is set lets in fewer, never more. */
	if (o.socket_gid != (gid_t)-1 && chown(o.socket, (uid_t)-1,
					       o.socket_gid) < 0) {
		fprintf(stderr, "vineyardd: cannot give socket %s the group %u: "
			"%s; the daemon must be root or a member of the "
			"group\n", o.socket, (unsigned)o.socket_gid,
			strerror(errno));
		unlink(o.socket);
		return 1;
	}
	if (o.rpc) {
		if (o.rpc_token_file &&
		    !(token = read_token(o.rpc_token_file, err, sizeof(err)))) {
			fprintf(stderr, "vineyardd: %s\n", err);
			unlink(o.socket);
			return 1;
		}
		if (server_listen_tcp(o.rpc, token != NULL, &tfd, err,
				      sizeof(err))) {
			fprintf(stderr, "vineyardd: %s\n", err);
			unlink(o.socket);
			return 1;
		}
	}
	/* The data directory is checked and locked before detaching, so
	 * its errors reach the terminal. */
	if (!o.data_dir || *o.data_dir) {
		data_dir = o.data_dir ? strdup(o.data_dir) : default_data_dir();
		if (!data_dir)
			fatal("out of memory");
		if (persist_open(data_dir, &disk, err, sizeof(err))) {
			fprintf(stderr, "vineyardd: %s\n", err);
			unlink(o.socket);
			return 1;
		}
	}
	/* The spill directory likewise: DATA_DIR/spill unless told. */
	if (o.spill_dir ? *o.spill_dir != 0 : data_dir != NULL) {
		if (o.spill_dir)
			spill_dir = strdup(o.spill_dir);
		else if (asprintf(&spill_dir, "%s/spill", data_dir) < 0)
			spill_dir = NULL;
		if (!spill_dir)
			fatal("out of memory");
		if (persist_open(spill_dir, &spill, err, sizeof(err))) {
			fprintf(stderr, "vineyardd: spill directory: %s\n", err);
			unlink(o.socket);
			return 1;
		}
	}
	if (!o.foreground) {
		ready = detach();
		if (ftruncate(lockfd, 0) == 0) {
			char pid[32];
			int k = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

			if (pwrite(lockfd, pid, (size_t)k, 0) < 0) {
				/* informative only */
			}
		}
	}
	if (o.pidfile) {
		FILE *f = fopen(o.pidfile, "we");

		if (!f || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f)) {
			fprintf(stderr, "vineyardd: cannot write pid file %s: "
				"%s\n", o.pidfile, strerror(errno));
			unlink(o.socket);
			return 1;
		}
	}

	if (o.huge == 2) {
		rc = arena_enable_huge(thp_old, sizeof(thp_old));
		if (rc < 0)
			log_warnx("cannot set the shmem huge-page policy: %s; "
				  "continuing with the kernel's", strerror(-rc));
		else if (rc > 0)
			log_info("shmem huge-page policy set from %s to "
				 "within_size until exit", thp_old);
		thp_changed = rc > 0;
	}
	memset(&scfg, 0, sizeof(scfg));
	scfg.limit = o.size;
	scfg.huge_pages = o.huge;
	scfg.data_dir = data_dir;
	scfg.persist = disk;
	scfg.reserve = o.reserve;
	scfg.spill = spill;
	scfg.spill_dir = spill_dir;
	scfg.spill_lower = o.spill_lower;
	scfg.spill_upper = o.spill_upper;
	store = store_new(&scfg);
	store_stream_threshold(store, o.stream_threshold);
	loop = loop_new();
	if (!loop)
		fatal("epoll");
	loop_set_busy_poll(loop, o.busy_poll);
	memset(&vcfg, 0, sizeof(vcfg));
	vcfg.socket_path = o.socket;
	vcfg.socket_mode = o.socket_mode;
	vcfg.input_limit = o.input_limit;
	vcfg.data_dir = data_dir;
	if (o.mount) {
		struct fs_cfg fcfg;

		/* Mounted before the server exists; status.json asks the
		 * server only once the kernel opens it. */
		memset(&fcfg, 0, sizeof(fcfg));
		fcfg.mount = o.mount;
		fcfg.allow_other = o.allow_other;
		fcfg.force_cached = o.fs_cached;
		fcfg.gate = 1;
		fcfg.socket_mode = o.socket_mode;
		fcfg.socket_gid = o.socket_gid != (gid_t)-1 ? o.socket_gid :
				  getegid();
		fcfg.status_json = fs_status_json;
		fcfg.status_ctx = &server;
		if (o.etcd) {	/* cluster.json, other instances' objects */
			fcfg.cluster = &attach_fs_ops;
			fcfg.cluster_ctx = &cluster;
		}
		rc = fs_start(store, &fcfg, &fs, err, sizeof(err));
		if (rc) {
			fprintf(stderr, "vineyardd: %s\n", err);
			store_free(store);
			loop_free(loop);
			unlink(o.socket);
			if (o.pidfile)
				unlink(o.pidfile);
			return 1;
		}
		vcfg.mount = fs_mountpoint(fs);
		vcfg.fs_mode = fs_mode;
		vcfg.fs_sync = fs_sync;
		vcfg.fs_ctx = fs;
	}
	if (o.etcd) {
		struct attach_cfg acfg = {
			.etcd = o.etcd, .prefix = o.etcd_prefix,
			.ttl_s = o.etcd_ttl, .socket = o.socket, .rpc = o.rpc,
			.data_dir = data_dir,
		};

		/* never waits for etcd: the daemon serves at once */
		struct attach *a = attach_start(store, loop, &acfg, err,
						sizeof(err));

		if (!a) {
			fprintf(stderr, "vineyardd: %s\n", err);
			exit(2);
		}
		/* the mount's threads read it (attach_fs_ops) */
		__atomic_store_n(&cluster, a, __ATOMIC_RELEASE);
	}
	vcfg.node = attach_node(cluster);
	/* fetching from other instances presents our own token: one token
	 * per cluster (vineyard-cluster(7)) */
	if (cluster)
		fetch = fetch_new(store, vcfg.node, token, o.transfer_lz4);
	attach_set_fetch(cluster, fetch); /* the mount's remote blobs */
	vcfg.fetch = fetch;
	__atomic_store_n(&server, server_new(store, loop, &vcfg, lfd),
			 __ATOMIC_RELEASE);
	attach_on_change(cluster, server_names_changed, server);
	if (tfd >= 0) {
		if (server_tcp_start(server, tfd, token) < 0)
			fatal("server: watch the TCP socket");
		log_info("serving TCP clients on %s%s", o.rpc,
			 token ? " (token required)" : "");
	}
	free(token);

	sc.loop = loop;
	sc.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sc.fd < 0 ||
	    !(sigw = loop_add(loop, sc.fd, EPOLLIN, on_signal, &sc)))
		fatal("signalfd");

	{
		struct store_status st;

		store_status(store, &st);
		log_info("listening on %s, limit %" PRIu64 " MiB, huge pages %s, "
			 "data dir %s", o.socket, st.limit >> 20, st.huge,
			 data_dir ? data_dir : "none");
		if (o.huge && strcmp(st.huge, "off") == 0)
			log_info("huge pages are off because the kernel's shmem "
				 "policy is 'never'; --huge-pages enable makes "
				 "large puts several times faster (vineyardd(8))");
	}
	if (ready >= 0) {
		int devnull = open("/dev/null", O_RDWR);

		if (write(ready, "", 1) != 1)
			log_warn("readiness pipe");
		close(ready);
		if (devnull >= 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2); /* the log has its own descriptor */
			close(devnull);
		}
		if (chdir("/") < 0)
			log_warn("chdir /");
	}

	rc = loop_run(loop, server_timeout, server_tick, server);
	if (rc)
		log_warnx("event loop: %s", strerror(-rc));
	fs_stop(fs);	/* first: its workers may be waiting on a fetch */
	server_free(server);
	attach_set_fetch(cluster, NULL);
	fetch_free(fetch);
	attach_stop(cluster);
	store_free(store);
	loop_del(loop, sigw); /* loop_free frees the watches deleted */
	loop_free(loop);
	if (thp_changed)
		arena_restore_huge(thp_old);
	close(sc.fd);
	if (o.pidfile)
		unlink(o.pidfile);
	close(lockfd);
	free(data_dir);
	free(spill_dir);
	log_info("stopped");
	return rc ? 1 : 0;
}
