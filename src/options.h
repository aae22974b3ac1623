/*
 * vineyardd's command line: the options it takes, their defaults and their
 * checks. main.c turns the parsed options into a running daemon.
 */
#ifndef VY_OPTIONS_H
#define VY_OPTIONS_H

#include <stdint.h>
#include <sys/types.h>

#include "log.h"

#define DEFAULT_SOCKET "/var/run/vineyard.sock"

struct opts {
	const char *socket;
	uint64_t size;
	uint64_t input_limit;
	uint64_t reserve;     /* --reserve */
	const char *spill_dir; /* NULL: inside the data dir; "" = none */
	double spill_lower, spill_upper;
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

/* Parses argv into o; prints usage or a clear error and exits on bad input. */
void parse_opts(int argc, char **argv, struct opts *o);
/* The data directory when none is given (malloc'd). */
char *default_data_dir(void);
/* The TCP token read from path, or NULL with a sentence in err. */
char *read_token(const char *path, char *err, size_t len);

#endif
