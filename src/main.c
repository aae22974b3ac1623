/*
 * vineyardd: parses options, sets up logging, the store and the socket
 * server, detaches unless told to stay in the foreground, and runs the loop
 * until SIGINT or SIGTERM. No store logic lives here.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
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
#include "persist.h"
#include "proto.h"
#include "server.h"
#include "store.h"
#include "stream.h"
#include "banned.h"

#define DEFAULT_SOCKET "/var/run/vineyard.sock"

struct opts {
	const char *socket;
	uint64_t size;
	uint64_t input_limit;
	uint64_t reserve;     /* --reserve; explicit ones are filled at start */
	const char *spill_dir; /* NULL: inside the data dir; "" = none */
	double spill_lower, spill_upper;
	int reserve_set;
	mode_t socket_mode;
	gid_t socket_gid;      /* (gid_t)-1: the daemon's own group */
	int foreground;
	int huge;
	unsigned busy_poll;
	const char *log_file;
	const char *pidfile;
	const char *data_dir;   /* NULL: the default; "" = none */
	enum log_level level;
	const char *mount;   /* FUSE view, or NULL */
	int allow_other;
	int fs_cached;       /* --fs-mode cached */
	const char *etcd;    /* --etcd URL[,URL...], or NULL: no cluster */
	const char *etcd_prefix;
	int etcd_ttl;
	const char *rpc;     /* --rpc HOST:PORT, or NULL */
	const char *rpc_token_file;
	double stream_threshold; /* fraction of size */
	int transfer_lz4;    /* --transfer-compression lz4 */
};

static void
usage(FILE *f)
{
	fprintf(f,
"usage: vineyardd [options]\n"
"\n"
"Keeps immutable objects in shared memory and serves them to clients over\n"
"a UNIX socket.\n"
"\n"
"options:\n"
"  -s, --socket PATH      listen on PATH (default: $VINEYARD_IPC_SOCKET, else\n"
"                         " DEFAULT_SOCKET ")\n"
"      --socket-mode MODE permissions of the socket file, octal (default 0660)\n"
"      --socket-group GROUP  group of the socket file (default: the daemon's);\n"
"                         with mode 0660 its members may use the store\n"
"  -m, --size SIZE        memory limit for blobs, e.g. 512M, 4G (default: half\n"
"                         of physical memory)\n"
"  -d, --data-dir DIR     keep persisted objects in DIR, created if missing\n"
"                         (default: /var/lib/vineyard for root, else\n"
"                         $XDG_STATE_HOME/vineyard or ~/.local/state/vineyard);\n"
"                         --data-dir none turns persistence off\n"
"      --huge-pages WHEN  auto: use transparent huge pages for blobs when the\n"
"                         kernel's shmem policy allows it (default);\n"
"                         enable: also switch that policy from never to\n"
"                         within_size while the daemon runs (root; puts of\n"
"                         large blobs run several times faster); off: never\n"
"      --reserve SIZE     keep up to SIZE of memory faulted in ahead of puts,\n"
"                         filled while a CPU is idle, so that a put copies\n"
"                         at memory speed instead of faulting fresh pages\n"
"                         (default 1G: 64M at start, then the size of the\n"
"                         latest large put up to SIZE; an explicit SIZE is\n"
"                         filled at start; 0 turns it off). Never more than\n"
"                         a quarter of --size,\n"
"                         and only out of room the blobs leave free\n"
"      --spill-dir DIR    when memory runs short, write cold blobs to DIR\n"
"                         and read them back on use (default: DATA_DIR/spill;\n"
"                         none turns spilling off, as does --data-dir none\n"
"                         without --spill-dir); emptied at start\n"
"      --spill-lower F, --spill-upper F  past F_upper of --size in use,\n"
"                         least recently used blobs are spilled until\n"
"                         F_lower is (default 0.3 and 0.8); a put or reload\n"
"                         that does not fit spills as much as it needs\n"
"      --input-limit SIZE at most SIZE bytes of requests not yet received\n"
"                         in full, all clients together (default 256M); a\n"
"                         request that does not fit is refused (ENOBUFS)\n"
"                         and its connection closed\n"
"      --stream-threshold F  a stream writer waits (backpressure) while the\n"
"                         chunks streams hold that no reader has moved past\n"
"                         would pass F of --size: 0.8 or 80%% (default)\n"
"      --busy-poll US     after serving a request, poll up to US microseconds\n"
"                         for the next before sleeping (default 50; 0 off):\n"
"                         cuts round trips several fold on virtual machines\n"
"  -f, --foreground       stay in the foreground (default: detach once ready)\n"
"      --pidfile PATH     write the daemon's pid to PATH\n"
"      --log-file PATH    log to PATH, or to syslog with \"syslog\" (default:\n"
"                         stderr in the foreground, syslog when detached)\n"
"      --log-level LEVEL  error, warn, info or debug (default info)\n"
"  -v, --verbose          same as --log-level debug\n"
"  -q, --quiet            same as --log-level warn\n"
"      --mount DIR        show the store as a read-only filesystem at DIR\n"
"                         (an existing empty directory); see vineyard-fs(7)\n"
"      --allow-other      let users other than the daemon's see the mount\n"
"      --fs-mode MODE     auto: blob files map store memory (FUSE\n"
"                         passthrough) when the kernel and privileges allow,\n"
"                         else are served through the page cache; cached:\n"
"                         always the latter (default auto)\n"
"      --etcd URL[,URL]   join the cluster kept in etcd at URL (its v3 JSON\n"
"                         gateway, e.g. http://127.0.0.1:2379); without it\n"
"                         there is no etcd traffic at all. See\n"
"                         vineyard-cluster(7)\n"
"      --etcd-prefix NAME keys under NAME/ (default vineyard): several\n"
"                         clusters can share one etcd\n"
"      --etcd-ttl SECONDS lease of this daemon's record (default 5): a\n"
"                         daemon that dies is gone from the others' view\n"
"                         within this\n"
"      --rpc HOST:PORT    also serve clients over TCP at HOST:PORT (the same\n"
"                         protocol; bytes by copy); loopback only unless\n"
"                         --rpc-token-file; written into the cluster record\n"
"      --rpc-token-file PATH  TCP clients must present the token in PATH\n"
"      --transfer-compression none|lz4  objects fetched from other\n"
"                         instances come as lz4 blocks where that makes\n"
"                         them smaller (default none); see\n"
"                         vineyard-cluster(7)\n"
"  -h, --help             show this help\n"
"  -V, --version          show the version\n"
"\n"
"Clients find the daemon with --socket or VINEYARD_IPC_SOCKET. SIGINT and\n"
"SIGTERM stop it cleanly (and unmount --mount). See vineyardd(8).\n");
}

/* "512M", "4G", "1.5GiB", "1048576": bytes, or 0 when malformed. */
static uint64_t
parse_size(const char *s)
{
	char *end;
	double v;
	uint64_t mult = 1;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		return 0;
	switch (*end) {
	case 'k': case 'K': mult = 1ull << 10; end++; break;
	case 'm': case 'M': mult = 1ull << 20; end++; break;
	case 'g': case 'G': mult = 1ull << 30; end++; break;
	case 't': case 'T': mult = 1ull << 40; end++; break;
	}
	if (mult > 1 && *end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v * (double)mult >= 18e18 || v * (double)mult < 1)
		return 0;
	return (uint64_t)(v * (double)mult);
}

static uint64_t
default_size(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || psz <= 0)
		return 1ull << 30;
	return (uint64_t)pages * (uint64_t)psz / 2;
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "socket-mode", required_argument, NULL, 'M' },
		{ "socket-group", required_argument, NULL, 'G' },
		{ "size", required_argument, NULL, 'm' },
		{ "huge-pages", required_argument, NULL, 'H' },
		{ "data-dir", required_argument, NULL, 'd' },
		{ "busy-poll", required_argument, NULL, 'B' },
		{ "input-limit", required_argument, NULL, 'I' },
		{ "reserve", required_argument, NULL, 'r' },
		{ "spill-dir", required_argument, NULL, 'S' },
		{ "spill-lower", required_argument, NULL, 'w' },
		{ "spill-upper", required_argument, NULL, 'u' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "log-file", required_argument, NULL, 'L' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "mount", required_argument, NULL, 'F' },
		{ "allow-other", no_argument, NULL, 'A' },
		{ "fs-mode", required_argument, NULL, 'D' },
		{ "etcd", required_argument, NULL, 'E' },
		{ "etcd-prefix", required_argument, NULL, 'X' },
		{ "etcd-ttl", required_argument, NULL, 'T' },
		{ "rpc", required_argument, NULL, 'R' },
		{ "rpc-token-file", required_argument, NULL, 'K' },
		{ "stream-threshold", required_argument, NULL, 'Y' },
		{ "transfer-compression", required_argument, NULL, 'Z' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv("VINEYARD_IPC_SOCKET");
	int c;

	memset(o, 0, sizeof(*o));
	o->socket = env && *env ? env : DEFAULT_SOCKET;
	o->socket_mode = 0660;
	o->socket_gid = (gid_t)-1;
	o->huge = 1;
	o->busy_poll = 50;
	o->input_limit = 256ull << 20;
	o->reserve = 1ull << 30;
	o->spill_lower = 0.3;
	o->spill_upper = 0.8;
	o->stream_threshold = STREAM_DEFAULT_THRESHOLD;
	o->level = LOG_LVL_INFO;
	while ((c = getopt_long(argc, argv, "s:m:d:fvqhV", longopts, NULL)) !=
	       -1) {
		char *end;
		long mode;

		switch (c) {
		case 's':
			if (!*optarg)
				goto bad_socket;
			o->socket = optarg;
			break;
		case 'M':
			mode = strtol(optarg, &end, 8);
			if (*end || end == optarg || mode < 0 || mode > 0777) {
				fprintf(stderr, "vineyardd: --socket-mode %s: "
					"expected an octal mode such as 0660\n",
					optarg);
				exit(2);
			}
			o->socket_mode = (mode_t)mode;
			break;
		case 'G': {
			struct group *g = getgrnam(optarg);

			mode = strtol(optarg, &end, 10);
			if (g) {
				o->socket_gid = g->gr_gid;
			} else if (!*end && end != optarg && mode >= 0 &&
				   mode < INT32_MAX) {
				o->socket_gid = (gid_t)mode;
			} else {
				fprintf(stderr, "vineyardd: --socket-group %s: "
					"no such group\n", optarg);
				exit(2);
			}
			break;
		}
		case 'm':
			o->size = parse_size(optarg);
			if (!o->size) {
				fprintf(stderr, "vineyardd: --size %s: expected "
					"a positive size such as 512M or 4G\n",
					optarg);
				exit(2);
			}
			break;
		case 'H':
			if (strcmp(optarg, "auto") == 0)
				o->huge = 1;
			else if (strcmp(optarg, "enable") == 0)
				o->huge = 2;
			else if (strcmp(optarg, "off") == 0)
				o->huge = 0;
			else {
				fprintf(stderr, "vineyardd: --huge-pages %s: "
					"expected auto, enable or off\n",
					optarg);
				exit(2);
			}
			break;
		case 'd':
			if (!*optarg) {
				fprintf(stderr, "vineyardd: --data-dir needs a "
					"directory (or none)\n");
				exit(2);
			}
			o->data_dir = strcmp(optarg, "none") ? optarg : "";
			break;
		case 'B':
			mode = strtol(optarg, &end, 10);
			if (*end || end == optarg || mode < 0 || mode > 1000000) {
				fprintf(stderr, "vineyardd: --busy-poll %s: "
					"expected microseconds, 0 to 1000000\n",
					optarg);
				exit(2);
			}
			o->busy_poll = (unsigned)mode;
			break;
		case 'I':
			o->input_limit = parse_size(optarg);
			if (o->input_limit < (1u << 20)) {
				fprintf(stderr, "vineyardd: --input-limit %s: "
					"expected a size of 1M or more\n",
					optarg);
				exit(2);
			}
			break;
		case 'r':
			o->reserve = strcmp(optarg, "0") ? parse_size(optarg) :
				     0;
			if (!o->reserve && strcmp(optarg, "0")) {
				fprintf(stderr, "vineyardd: --reserve %s: "
					"expected a size such as 256M or 1G, "
					"or 0\n", optarg);
				exit(2);
			}
			o->reserve_set = 1;
			break;
		case 'S':
			if (!*optarg) {
				fprintf(stderr, "vineyardd: --spill-dir needs a "
					"directory (or none)\n");
				exit(2);
			}
			o->spill_dir = strcmp(optarg, "none") ? optarg : "";
			break;
		case 'w':
		case 'u': {
			double v = strtod(optarg, &end);

			if (*end || end == optarg || !(v > 0 && v <= 1)) {
				fprintf(stderr, "vineyardd: --spill-%s %s: "
					"expected a fraction of --size, above 0 "
					"and at most 1, such as 0.8\n",
					c == 'w' ? "lower" : "upper", optarg);
				exit(2);
			}
			if (c == 'w')
				o->spill_lower = v;
			else
				o->spill_upper = v;
			break;
		}
		case 'Y': {
			char *e;
			double f = strtod(optarg, &e);

			if (e != optarg && *e == '%' && e[1] == 0) {
				f /= 100;
				e++;
			}
			if (e == optarg || *e || !(f > 0 && f <= 1)) {
				fprintf(stderr, "vineyardd: --stream-threshold "
					"%s: expected a fraction of --size "
					"above 0 and at most 1, e.g. 0.5 or "
					"50%%\n", optarg);
				exit(2);
			}
			o->stream_threshold = f;
			break;
		}
		case 'f': o->foreground = 1; break;
		case 'P': o->pidfile = optarg; break;
		case 'L': o->log_file = optarg; break;
		case 'l':
			if (strcmp(optarg, "error") == 0)
				o->level = LOG_LVL_ERROR;
			else if (strcmp(optarg, "warn") == 0)
				o->level = LOG_LVL_WARN;
			else if (strcmp(optarg, "info") == 0)
				o->level = LOG_LVL_INFO;
			else if (strcmp(optarg, "debug") == 0)
				o->level = LOG_LVL_DEBUG;
			else {
				fprintf(stderr, "vineyardd: --log-level %s: "
					"expected error, warn, info or debug\n",
					optarg);
				exit(2);
			}
			break;
		case 'F':
			if (!*optarg) {
				fprintf(stderr, "vineyardd: --mount needs a "
					"directory\n");
				exit(2);
			}
			o->mount = optarg;
			break;
		case 'A': o->allow_other = 1; break;
		case 'D':
			if (strcmp(optarg, "auto") == 0)
				o->fs_cached = 0;
			else if (strcmp(optarg, "cached") == 0)
				o->fs_cached = 1;
			else {
				fprintf(stderr, "vineyardd: --fs-mode %s: "
					"expected auto or cached\n", optarg);
				exit(2);
			}
			break;
		case 'E': o->etcd = optarg; break;
		case 'X': o->etcd_prefix = optarg; break;
		case 'T':
			mode = strtol(optarg, &end, 10);
			if (*end || end == optarg || mode < 1 || mode > 3600) {
				fprintf(stderr, "vineyardd: --etcd-ttl %s: "
					"expected seconds, 1 to 3600\n", optarg);
				exit(2);
			}
			o->etcd_ttl = (int)mode;
			break;
		case 'R': o->rpc = optarg; break;
		case 'K': o->rpc_token_file = optarg; break;
		case 'Z':
			if (strcmp(optarg, "lz4") == 0) {
				o->transfer_lz4 = 1;
			} else if (strcmp(optarg, "none") == 0) {
				o->transfer_lz4 = 0;
			} else {
				fprintf(stderr, "vineyardd: --transfer-compression "
					"%s: expected none or lz4\n", optarg);
				exit(2);
			}
			break;
		case 'v': o->level = LOG_LVL_DEBUG; break;
		case 'q': o->level = LOG_LVL_WARN; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("vineyardd %s (protocol %d)\n", VY_VERSION,
				  PROTO_VERSION); exit(0);
		default:
			fprintf(stderr, "Try 'vineyardd --help'.\n");
			exit(2);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vineyardd: unexpected argument '%s'\n"
			"Try 'vineyardd --help'.\n", argv[optind]);
		exit(2);
	}
	if (!o->size)
		o->size = default_size();
	if (o->spill_lower > o->spill_upper) {
		fprintf(stderr, "vineyardd: --spill-lower %g is above "
			"--spill-upper %g\n", o->spill_lower, o->spill_upper);
		exit(2);
	}
	if (o->rpc_token_file && !o->rpc) {
		fprintf(stderr, "vineyardd: --rpc-token-file needs --rpc "
			"HOST:PORT\n");
		exit(2);
	}
	if (!o->etcd && (o->etcd_prefix || o->etcd_ttl)) {
		fprintf(stderr, "vineyardd: --etcd-prefix and --etcd-ttl need "
			"--etcd URL\n");
		exit(2);
	}
	if (o->etcd) {
		struct cluster_cfg cc = { .endpoints = o->etcd,
					  .prefix = o->etcd_prefix,
					  .ttl_s = o->etcd_ttl };
		const char *why;

		/* before anything is created: a clear error, nothing left */
		if (cluster_cfg_check(&cc, &why)) {
			fprintf(stderr, "vineyardd: --etcd: %s\n", why);
			exit(2);
		}
	}
	if (!o->mount && (o->allow_other || o->fs_cached)) {
		fprintf(stderr, "vineyardd: --allow-other and --fs-mode need "
			"--mount DIR\n");
		exit(2);
	}
	return;
bad_socket:
	fprintf(stderr, "vineyardd: --socket needs a path\n");
	exit(2);
}

/* The data directory when none is given: /var/lib/vineyard for root, the
 * XDG state directory otherwise. A malloc'd path. */
static char *
default_data_dir(void)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *p;
	size_t n;

	if (geteuid() == 0)
		return strdup("/var/lib/vineyard");
	if (xdg && *xdg == '/') {
		n = strlen(xdg) + sizeof("/vineyard");
		p = malloc(n);
		if (p)
			snprintf(p, n, "%s/vineyard", xdg);
		return p;
	}
	if (!home || !*home)
		home = "/tmp";
	n = strlen(home) + sizeof("/.local/state/vineyard");
	p = malloc(n);
	if (p)
		snprintf(p, n, "%s/.local/state/vineyard", home);
	return p;
}

/* The TCP token: the file's first line, at least 16 bytes. NULL with a
 * sentence in err. */
static char *
read_token(const char *path, char *err, size_t len)
{
	char buf[512];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		snprintf(err, len, "--rpc-token-file %s: %s", path,
			 strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (strlen(buf) < 16) {
		snprintf(err, len, "--rpc-token-file %s: the token (its first "
			 "line) must be at least 16 bytes", path);
		return NULL;
	}
	return strdup(buf);
}

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
	scfg.reserve_eager = o.reserve_set;
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
