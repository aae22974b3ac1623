/*
 * server: the socket front. Listens on a UNIX socket, keeps per-connection
 * state (input buffer, output queue, the connection's store owner and the
 * slab segments it has been sent), decodes requests, calls the store and
 * encodes replies (proto.h). One thread: the loop's.
 *
 * A malformed or oversized frame gets an error reply and the connection is
 * closed; nothing else is affected. A client that goes away loses its pins
 * and its unsealed blobs (store_owner_free).
 */
#ifndef VY_SERVER_H
#define VY_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct store;
struct loop;
struct server;

struct server_cfg {
	const char *socket_path;
	mode_t socket_mode;       /* permissions of the socket file */
	uint64_t input_limit;     /* bytes of input buffers, all clients */
	const char *mount;        /* shown in status; NULL = none */
	const char *data_dir;     /* shown in status; NULL = none */
	/* Current FUSE data mode for status, or NULL. */
	const char *(*fs_mode)(void *ctx);
	/* Called before every reply, or NULL: returns once the FUSE view
	 * shows every store change made so far, so a client that deleted or
	 * renamed something never sees the old entry in the mount after. */
	void (*fs_sync)(void *ctx);
	void *fs_ctx;
	/* The daemon's cluster membership (--etcd), or NULL. */
	struct node *node;
	/* Fetches from other instances (src/cluster/fetch.h), or NULL. */
	struct fetch *fetch;
};

/* Creates, binds and listens on path, taking over a stale socket file and
 * refusing when another daemon holds it. On failure returns -errno and
 * writes a sentence for the user into err. */
int server_listen(const char *path, mode_t mode, int *fd, int *lockfd,
		  char *err, size_t errlen);

struct server *server_new(struct store *s, struct loop *l,
			  const struct server_cfg *cfg, int listen_fd);
/* Closes every connection and the listening socket; unlinks the socket. */
void server_free(struct server *sv);
/* Appends the status map as JSON text, exactly as `vineyardctl --json
 * status` prints it; 0 or -errno. Safe from any thread (status.json of the
 * FUSE view). */
struct cw;
int server_status_json(struct server *sv, struct cw *out);
/* The TCP front (--rpc): listens on HOST:PORT, loopback only unless
 * have_token; -errno with a sentence in err. */
int server_listen_tcp(const char *hostport, int have_token, int *fd,
		      char *err, size_t errlen);
/* Serves fd (from server_listen_tcp); clients must present token unless
 * it is NULL. */
int server_tcp_start(struct server *sv, int fd, const char *token);
void server_tcp_stop(struct server *sv);
/* The cluster's names changed: parked name waits try again. */
void server_names_changed(void *sv);
/* For loop_run: ms until the next name-wait deadline, and the tick that
 * expires waits and retries them after names change. */
int server_timeout(void *sv);
void server_tick(void *sv);

#endif
