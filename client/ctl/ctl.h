/*
 * ctl.h: what the files of vineyardctl share: the exit codes, the global
 * options, the helpers of ctl_util.c and one entry point per subcommand
 * (each in a ctl_*.c of its family, dispatched from the table in ctl.c).
 */
#ifndef VY_CTL_H
#define VY_CTL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "human.h"
#include "vineyard.h"

/* Exit codes: listed in usage() and vineyardctl(1); keep all three in step. */
enum {
	EX_OK = 0,
	EX_FAIL = 1,      /* any other error */
	EX_USAGE = 2,     /* bad command line */
	EX_NOTFOUND = 3,  /* no such object or name */
	EX_NODAEMON = 4,  /* cannot reach vineyardd */
	EX_NOSPACE = 5,   /* the daemon's memory limit, or its disk, is full */
	EX_TIMEOUT = 6,   /* a wait ran out */
	EX_INUSE = 7,     /* refused: object in use (member of another) */
	EX_CLUSTER = 8,   /* the daemon's cluster (etcd) is unreachable */
	EX_DENIED = 9,    /* refused: another user's object or name */
};

/* Bytes moved per write call (and per progress step). */
#define CHUNK (64u << 20)

/* Global options, set in ctl.c before a subcommand runs. */
extern const char *prog;
extern const char *opt_socket;
extern const char *opt_host, *opt_token_file; /* --host, --token-file */
extern int opt_json, opt_quiet;

/* ---- ctl_util.c ---- */
/* -errno from libvineyard to an exit code. */
int exit_code(int rc);
/* Prints "prog: what: <the library's message>" and returns exit_code(rc). */
int fail(struct vy_client *c, int rc, const char *what);
/* Ends a subcommand: reports rc (when an error) as fail() does, closes c
 * and returns the exit code (EX_OK for rc 0). */
int finish(struct vy_client *c, int rc, const char *what);
/* Connects to opt_socket (or the default); exits with a message if not. */
struct vy_client *connect_or_die(void);
/* Seconds from the command line as the library's int milliseconds. */
int seconds_to_ms(double s);
/* An id, or a name resolved now (waiting up to wait_ms). */
int resolve(struct vy_client *c, const char *arg, int wait_ms, vy_id *id);
/* s as a JSON string, quoted and escaped. */
void json_str(FILE *f, const char *s);
/* A mode as chmod(1) takes it, octal (0644) or symbolic (go+r,u=rw), as
 * the change it makes: new = (old & ~*clear) | *set. 0, or -EINVAL with a
 * message printed. */
int parse_mode(const char *s, unsigned *clear, unsigned *set);
/* mode as "rw-r-----". */
void mode_string(unsigned mode, char out[10]);
/* A user's or group's name, or its number when it has none here. */
const char *user_name(uint32_t uid);
const char *group_name(uint32_t gid);

/* A progress bar on stderr for transfers of 64 MiB and more. */
struct progress {
	int on;
	const char *what;
	uint64_t total;
	struct timespec t0;
};
void progress_init(struct progress *p, const char *what, uint64_t total);
void progress_show(struct progress *p, uint64_t done);

/* ---- subcommands: argv[0] is the subcommand's name ---- */
int cmd_put(int argc, char **argv);      /* ctl_put.c */
int cmd_get(int argc, char **argv);      /* ctl_get.c */
int cmd_ls(int argc, char **argv);       /* ctl_list.c */
int cmd_names(int argc, char **argv);    /* ctl_list.c */
int cmd_meta(int argc, char **argv);     /* ctl_list.c */
int cmd_name(int argc, char **argv);     /* ctl_name.c */
int cmd_unname(int argc, char **argv);   /* ctl_name.c */
int cmd_wait(int argc, char **argv);     /* ctl_name.c */
int cmd_rm(int argc, char **argv);       /* ctl_rm.c */
int cmd_persist(int argc, char **argv);  /* ctl_persist.c */
int cmd_chmod(int argc, char **argv);    /* ctl_chmod.c */
/* evict, load and unpin (ctl_spill.c) */
int cmd_spill(int argc, char **argv);
int cmd_status(int argc, char **argv);   /* ctl_status.c */
int cmd_cluster(int argc, char **argv);  /* ctl_cluster.c */
/* put --stream and get --follow (ctl_stream.c) */
int put_stream(const char *path, const char *name, size_t chunk,
	       int timeout_ms, unsigned readers, unsigned mode);
int get_follow(const char *arg, const char *out, int wait_ms);
int cmd_migrate(int argc, char **argv);  /* ctl_migrate.c */
/* `ls --cluster`: the cluster's published objects (ctl_cluster.c). */
int ls_cluster(struct vy_client *c, const char *glob);

#endif
