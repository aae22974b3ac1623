/*
 * vineyardd's options: usage text, sizes ("512M", "4G"), defaults that
 * depend on the machine (memory, data dir) and the checks that reject bad
 * combinations with a clear error before anything starts.
 */

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "options.h"
#include "proto.h"
#include "stream.h"
#include "banned.h"

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
"                         filled from the start while a CPU is idle, so that\n"
"                         a put copies at memory speed instead of faulting\n"
"                         fresh pages (default 1G; then the size of the\n"
"                         latest large put up to SIZE; 0 turns it off).\n"
"                         Never more than a quarter of --size,\n"
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

void
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
char *
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
char *
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

