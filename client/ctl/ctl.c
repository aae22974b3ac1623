/*
 * vineyardctl: the command-line client. This file holds main, the global
 * options and the table of subcommands; each subcommand family lives in a
 * ctl_*.c of its own, a short function over libvineyard. Objects are named
 * on the command line by id (o + 16 hex digits) or by name. Exit codes are
 * listed in ctl.h, usage() and vineyardctl(1).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "banned.h"

const char *prog = "vineyardctl";
const char *opt_socket;
const char *opt_host, *opt_token_file;
int opt_json, opt_quiet;

struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
};

static const struct cmd cmds[] = {
	{ "put", cmd_put, "FILE|- [--name NAME] [--persist] [--mode MODE] |\n"
	  "           --stream [--chunk-size SIZE] [--timeout SECONDS]\n"
	  "           [--readers N]",
	  "store a file (or stdin) as a blob; prints its id. --stream: as a\n"
	  "           byte stream, chunk by chunk while it is read (4M chunks,\n"
	  "           or fewer bytes after 50 ms of quiet); returns at its end;\n"
	  "           waits at most --timeout (default 60 s, 0: no end) for\n"
	  "           readers when the daemon's --stream-threshold is reached;\n"
	  "           --readers N: first waits until N readers opened it" },
	{ "get", cmd_get, "ID|NAME [-o FILE|-] [--wait SECONDS] [--follow]",
	  "write a blob's bytes to FILE (default stdout). --follow: a\n"
	  "           stream's bytes (or an object stream's chunk ids, one a\n"
	  "           line) as they are sealed, until it ends; waits for the\n"
	  "           name and each chunk at most --wait, else without end" },
	{ "ls", cmd_ls, "[--type GLOB] [--cluster]",
	  "list objects: id, typename, size, persisted (or a stream's state:\n"
	  "           open, finished, failed), mode, owner, group, names\n"
	  "           (--cluster: every published object of the cluster, with\n"
	  "           its instance)" },
	{ "names", cmd_names, "[GLOB]",
	  "list names: name, id, owner and group of whoever bound it" },
	{ "meta", cmd_meta, "ID|NAME", "print an object's metadata as JSON" },
	{ "name", cmd_name, "ID|NAME NEWNAME",
	  "bind NEWNAME to an object (re-points an existing name)" },
	{ "unname", cmd_unname, "NAME...", "drop names" },
	{ "rm", cmd_rm, "[--shallow] ID|NAME...",
	  "delete objects (and members left unreferenced, unless --shallow)" },
	{ "persist", cmd_persist, "ID|NAME...",
	  "keep objects across daemon restarts (returns once on disk)" },
	{ "unpersist", cmd_persist, "ID|NAME...",
	  "drop objects' persisted copies; they stay in memory" },
	{ "evict", cmd_spill, "ID|NAME...",
	  "write objects' blobs to the spill directory now and free their\n"
	  "           memory (vineyardd --spill-dir); exit 7 if one stays,\n"
	  "           mapped by a client or open in the mount" },
	{ "load", cmd_spill, "[--pin] ID|NAME...",
	  "read spilled objects back into memory; --pin: keep them there\n"
	  "           (never spilled) until unpin" },
	{ "unpin", cmd_spill, "ID|NAME...",
	  "let pinned objects spill again" },
	{ "chmod", cmd_chmod, "[-R] MODE ID|NAME...",
	  "change who may read (r) and delete, persist, name (w) objects:\n"
	  "           octal (0644) or symbolic (go+r, u=rw,o=) as in chmod(1)" },
	{ "wait", cmd_wait, "NAME [--timeout SECONDS]",
	  "wait for a name to appear; prints its id" },
	{ "status", cmd_status, "", "show the daemon's figures" },
	{ "cluster", cmd_cluster, "",
	  "show the daemon's cluster: state and live instances" },
	{ "migrate", cmd_migrate, "ID|NAME",
	  "copy another instance's object here; prints the local id" },
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s [--socket PATH] [--json] [-q] COMMAND [ARGS]\n\n"
		"commands:\n", prog);
	for (i = 0; i < NCMDS; i++)
		fprintf(f, "  %-8s %s\n           %s\n", cmds[i].name,
			cmds[i].args, cmds[i].help);
	fprintf(f, "\noptions:\n"
		"  -s, --socket PATH  daemon socket (default: "
		"$VINEYARD_IPC_SOCKET, else %s)\n"
		"  -H, --host HOST:PORT  a daemon's TCP front (vineyardd --rpc)\n"
		"                     instead of a socket; bytes go by copy\n"
		"      --token-file PATH  the token that daemon wants (default:\n"
		"                     $VINEYARD_RPC_TOKEN)\n"
		"  -j, --json         machine-readable output\n"
		"  -q, --quiet        no headers or progress bars\n"
		"  -h, --help         this help; COMMAND --help for one "
		"command\n"
		"  -V, --version      show the version\n\n"
		"Objects are given by id (o + 16 hex digits) or by name.\n"
		"Every object has an owner, a group and a mode (default 0640:\n"
		"owner and group read, the owner deletes and names).\n"
		"exit status: 0 ok, 1 error, 2 usage, 3 not found, 4 daemon "
		"unreachable,\n5 no space, 6 timed out, 7 in use, 8 cluster (etcd) "
		"unreachable, 9 permission\ndenied. See vineyardctl(1).\n",
		VY_DEFAULT_SOCKET);
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "host", required_argument, NULL, 'H' },
		{ "token-file", required_argument, NULL, 'T' },
		{ "json", no_argument, NULL, 'j' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;
	int ch;

	/* Stop at the subcommand: its options are its own. */
	while ((ch = getopt_long(argc, argv, "+s:H:jqhV", lo, NULL)) != -1) {
		switch (ch) {
		case 's': opt_socket = optarg; break;
		case 'H': opt_host = optarg; break;
		case 'T': opt_token_file = optarg; break;
		case 'j': opt_json = 1; break;
		case 'q': opt_quiet = 1; break;
		case 'h': usage(stdout); return EX_OK;
		case 'V': printf("vineyardctl %s\n", VY_VERSION); return EX_OK;
		default: usage(stderr); return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	for (i = 0; i < NCMDS; i++) {
		if (strcmp(argv[optind], cmds[i].name))
			continue;
		argc -= optind;
		argv += optind;
		if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
				 strcmp(argv[1], "-h") == 0)) {
			printf("usage: %s %s %s\n\n%s\n", prog, cmds[i].name,
			       cmds[i].args, cmds[i].help);
			return EX_OK;
		}
		optind = 0; /* 0, not 1: makes glibc reinitialise getopt */
		return cmds[i].fn(argc, argv);
	}
	fprintf(stderr, "%s: unknown command '%s'\nTry '%s --help'.\n", prog,
		argv[optind], prog);
	return EX_USAGE;
}
