/*
 * vineyard.h: the client library of the vineyard shared-memory object store.
 *
 * A client connects to vineyardd over a UNIX socket, puts blobs (immutable
 * runs of bytes) and objects (a typename, fields and named members), and gets
 * them back zero-copy: a blob's bytes are a read-only mapping of the
 * daemon's memory, valid until the object is released.
 *
 * Errors: every int-returning call gives 0 or a negative errno:
 *   -ENOENT     no such object or name (or no daemon at the socket path)
 *   -ECONNREFUSED  a socket file but no daemon answering
 *   -EBUSY      object is a member of another, or a blob is still mapped
 *               writable at seal
 *   -EPERM      a blob being written by another client
 *   -EACCES     the object or name belongs to another user, and its mode
 *               does not allow what was asked
 *   -ENOSPC     the daemon's memory limit (--size) is reached
 *   -EDQUOT     the disk of the daemon's data directory is full (persist)
 *   -ENOBUFS    the daemon holds too many requests not yet received in
 *               full (vineyardd --input-limit); the connection is closed
 *   -EINVAL     invalid argument, name or metadata
 *   -EBADMSG    malformed metadata
 *   -ETIMEDOUT  a name did not appear in time
 *   -EPROTO     protocol error (or mismatched versions)
 *   -EPIPE, -ECONNRESET  the daemon went away
 *   -ECHILD     the client was used in a child after fork(); reconnect
 *   -ENOMEM     out of memory in this process
 * and vy_errmsg() says more, in a sentence. The library never prints,
 * exits or aborts. A client may be shared by threads: calls serialise.
 *
 * Link with `pkg-config --cflags --libs vineyard`.
 */
#ifndef VINEYARD_H
#define VINEYARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The version, the Makefile's VERSION. vy_version() is the loaded
 * library's; VY_VERSION is this header's: a string literal in the
 * installed header (make install writes it in) and in programs built by
 * vineyard's Makefile (-DVY_VERSION), else the call. */
const char *vy_version(void);
#ifndef VY_VERSION
#define VY_VERSION (vy_version())
#endif
#define VY_DEFAULT_SOCKET "/var/run/vineyard.sock"
#define VY_ID_STRLEN 18 /* "o" + 16 hex digits + NUL */

typedef uint64_t vy_id;

struct vy_client; /* a connection */
struct vy_writer; /* a blob being written */
struct vy_meta;   /* metadata of an object being built */
struct vy_object; /* an object got from the store */

/* ---- connections ---- */

/* Connects to socket, or $VINEYARD_IPC_SOCKET, or VY_DEFAULT_SOCKET when
 * socket is NULL. On success *out is a new client; on error *out is NULL
 * and, when out_err is not NULL, a sentence is copied there. */
int vy_connect(const char *socket, struct vy_client **out);
int vy_connect_err(const char *socket, struct vy_client **out, char *err,
		   size_t errlen);
/* Connects over TCP to a daemon's --rpc HOST:PORT, presenting token (NULL:
 * none) when the daemon was given one. Such a client does metadata,
 * names, listing, status and the cluster calls as over the socket; blob
 * bytes go by copy (vy_put_blob, vy_blob_read, and vy_get, whose tree then
 * owns a copy of each blob's bytes); vy_blob_create, which maps memory,
 * fails with EOPNOTSUPP. */
int vy_connect_tcp(const char *host, unsigned port, const char *token,
		   struct vy_client **out, char *err, size_t errlen);
/* Copies len bytes of blob id from offset off into buf (any connection);
 * *got gets how many there were (fewer at the blob's end). */
int vy_blob_read(struct vy_client *c, vy_id id, uint64_t off, void *buf,
		 size_t len, size_t *got);
/* Reads len bytes of blob id from offset off in pieces of up to cap
 * bytes (at most 16 MiB are used), each into buf, and calls fn(arg, buf,
 * n) after each, in order; the next pieces are already on their way
 * meanwhile, so over TCP the link does not idle between pieces. A small
 * buf (a few MiB) stays in the CPU's cache. fn returning non-zero stops
 * the read, which returns that value. *got gets the bytes handed to fn
 * (fewer than len at the blob's end). */
int vy_blob_read_pieces(struct vy_client *c, vy_id id, uint64_t off,
			uint64_t len, void *buf, size_t cap,
			int (*fn)(void *arg, const void *data, size_t n),
			void *arg, uint64_t *got);
/* 1 when c is a TCP client. */
int vy_is_tcp(const struct vy_client *c);
/* Releases every object still held, then closes. NULL is a no-op. */
void vy_close(struct vy_client *c);
/* The last error on c, as a sentence; "" when none. */
const char *vy_errmsg(const struct vy_client *c);
/* The socket path vy_connect(NULL) would use. */
const char *vy_default_socket(void);
/* The path c is connected to. */
const char *vy_socket_path(const struct vy_client *c);

/* ---- ids ---- */

void vy_id_format(vy_id id, char out[VY_ID_STRLEN]);
/* 0 when s is exactly "o" + 16 hex digits, else -EINVAL. */
int vy_id_parse(const char *s, vy_id *id);
int vy_id_is_blob(vy_id id);

/* ---- blobs ---- */

/* Copies len bytes into a new sealed blob; *id is its id. The fastest way to
 * store bytes that already exist: one copy, no page faults in this process. */
int vy_put_blob(struct vy_client *c, const void *data, size_t len, vy_id *id);
/* Same, reading len bytes from fd at its current offset (files, pipes). */
int vy_put_blob_fd(struct vy_client *c, int fd, size_t len, vy_id *id);

/* Starts a blob of len bytes to fill in place, then seal. */
int vy_blob_create(struct vy_client *c, size_t len, struct vy_writer **w);
/* Creates n writers in one round trip. On error none is left. */
int vy_blob_create_many(struct vy_client *c, const size_t *lens, size_t n,
			struct vy_writer **ws);
/* A writable pointer to the whole blob (mapped on first call), or NULL with
 * errno set. Page faults on first touch cost time on some machines;
 * vy_writer_write avoids them. */
void *vy_writer_data(struct vy_writer *w);
size_t vy_writer_size(const struct vy_writer *w);
/* The blob's id: known at create for a blob larger than 4095 bytes, 0 for a
 * smaller one (it travels inline and gets its id when sealed). */
vy_id vy_writer_id(const struct vy_writer *w);
/* Copies len bytes to offset off of the blob. */
int vy_writer_write(struct vy_writer *w, size_t off, const void *p,
		    size_t len);
/* Copies len bytes read from fd (at its current offset) to offset off of
 * the blob, in the kernel where it can (sendfile). -ENODATA when fd ends
 * first. */
int vy_writer_write_fd(struct vy_writer *w, size_t off, int fd, size_t len);
/* Seals and consumes w (also on error, when the blob is dropped). */
int vy_blob_seal(struct vy_client *c, struct vy_writer *w, vy_id *id);
/* Drops an unsealed blob and consumes w. NULL is a no-op. */
void vy_blob_abort(struct vy_client *c, struct vy_writer *w);

/* ---- building objects ---- */

/* Metadata of a new object. NULL when out of memory. */
struct vy_meta *vy_meta_new(const char *typename);
/* Frees m and any nested children; writers added stay the caller's until
 * vy_put_object consumes them. NULL is a no-op. */
void vy_meta_free(struct vy_meta *m);
/* Fields: key is 1-255 bytes; setting a key twice is -EEXIST. */
int vy_meta_set_int(struct vy_meta *m, const char *key, int64_t v);
int vy_meta_set_double(struct vy_meta *m, const char *key, double v);
int vy_meta_set_bool(struct vy_meta *m, const char *key, int v);
int vy_meta_set_null(struct vy_meta *m, const char *key);
int vy_meta_set_string(struct vy_meta *m, const char *key, const char *v);
int vy_meta_set_int_array(struct vy_meta *m, const char *key,
			  const int64_t *v, size_t n);
int vy_meta_set_string_array(struct vy_meta *m, const char *key,
			     const char *const *v, size_t n);
/* A field whose value is the CBOR item in cbor[0..len) (checked at put). */
int vy_meta_set_cbor(struct vy_meta *m, const char *key, const void *cbor,
		     size_t len);
/* Members: an existing object, a blob being written (sealed by the put),
 * or a new nested object (m takes ownership of child). Member names are
 * 1-255 bytes without '/', not "data", "meta.json" or "typename". */
int vy_meta_add_member(struct vy_meta *m, const char *name, vy_id id);
int vy_meta_add_member_writer(struct vy_meta *m, const char *name,
			      struct vy_writer *w);
int vy_meta_add_member_meta(struct vy_meta *m, const char *name,
			    struct vy_meta *child);
/* The mode of every object vy_put_object(m) creates from m (and its
 * children) and of the blobs it seals, instead of the client's
 * (vy_set_mode). 0, or -EINVAL for bits outside 0666. */
int vy_meta_set_mode(struct vy_meta *m, unsigned mode);
/* Creates the object (and nested ones) in one round trip, plus one for
 * writers of small blobs. Binds name if not NULL; persists if persist.
 * Consumes every writer added to m or its children, on success or error;
 * m itself stays the caller's. */
int vy_put_object(struct vy_client *c, struct vy_meta *m, const char *name,
		  int persist, vy_id *id);

/* ---- getting objects ---- */

/* Gets id and everything it references, blobs mapped read-only. The
 * mappings stay valid, even if the object is deleted, until
 * vy_object_release(*out). */
int vy_get(struct vy_client *c, vy_id id, struct vy_object **out);
/* By name; waits up to timeout_ms for the name to appear (0: no wait). */
int vy_get_by_name(struct vy_client *c, const char *name, int timeout_ms,
		   struct vy_object **out);
/* Metadata only: no blob is mapped (vy_object_data gives NULL). */
int vy_get_meta(struct vy_client *c, vy_id id, struct vy_object **out);
/* In a cluster (vineyard-cluster(7)), a get of an object that another
 * instance holds copies it here first (one transfer however many clients
 * ask), then maps the local copy, which keeps the object's id; a later get
 * is local. vy_get_opts does the same by id (name NULL) or by name, and
 * with VY_GET_NOFETCH fails with EREMOTE instead of fetching. */
#define VY_GET_NOFETCH 0x1u
int vy_get_opts(struct vy_client *c, vy_id id, const char *name,
		int timeout_ms, unsigned flags, struct vy_object **out);
/* Copies another instance's object (and everything it references) into
 * this daemon, if it is not here already; *local is the id of the copy
 * here (the same id: ids are unique cluster-wide). ENOSPC when it does not
 * fit under the daemon's --size; EREMOTE when its instance is gone; EBADMSG
 * when the data arrived damaged (nothing is kept; try again). */
int vy_migrate(struct vy_client *c, vy_id id, vy_id *local);
int vy_migrate_by_name(struct vy_client *c, const char *name, vy_id *local);
/* Unmaps and unpins the tree; o must be a root a vy_get* returned. */
void vy_object_release(struct vy_client *c, struct vy_object *o);

vy_id vy_object_id(const struct vy_object *o);
const char *vy_object_typename(const struct vy_object *o);
int vy_object_is_blob(const struct vy_object *o);
/* Blob: its length. Object: sum of its members' sizes. */
uint64_t vy_object_nbytes(const struct vy_object *o);
/* Blob bytes (read-only, zero-copy) or NULL for an object. */
const void *vy_object_data(const struct vy_object *o);
size_t vy_object_nmembers(const struct vy_object *o);
const char *vy_object_member_name(const struct vy_object *o, size_t i);
/* Members are borrowed from the tree: valid until the root is released. */
struct vy_object *vy_object_member(const struct vy_object *o, size_t i);
struct vy_object *vy_object_member_by_name(const struct vy_object *o,
					   const char *name);
/* Field access: 0, -ENOENT (no such key) or -EINVAL (other type). Strings
 * point into o (valid until release) and are NUL-terminated copies. */
int vy_object_field_int(const struct vy_object *o, const char *key,
			int64_t *v);
int vy_object_field_double(const struct vy_object *o, const char *key,
			   double *v);
int vy_object_field_bool(const struct vy_object *o, const char *key, int *v);
int vy_object_field_string(struct vy_object *o, const char *key,
			   const char **v);
/* Copies up to cap integers; *n gets the array's length. */
int vy_object_field_int_array(const struct vy_object *o, const char *key,
			      int64_t *v, size_t cap, size_t *n);
/* The fields as a JSON object, malloc'd (free it). NULL on ENOMEM. */
char *vy_object_fields_json(const struct vy_object *o);

/* ---- names ---- */

/* Binds name to id; an existing name is re-pointed. */
int vy_name_put(struct vy_client *c, const char *name, vy_id id);
/* Resolves name, waiting up to timeout_ms for it (0: no wait). */
int vy_name_get(struct vy_client *c, const char *name, int timeout_ms,
		vy_id *id);
int vy_name_drop(struct vy_client *c, const char *name);
/* Calls fn for every name matching glob (NULL: all), sorted. */
int vy_name_list(struct vy_client *c, const char *glob,
		 int (*fn)(void *ctx, const char *name, vy_id id), void *ctx);
/* since 0.8: the same listing with who bound each name (another user may
 * not re-point or drop it). Entries are valid during the call only. */
struct vy_name_entry {
	const char *name;
	vy_id id;
	uint32_t uid, gid;        /* the binder's user and group */
};
int vy_names(struct vy_client *c, const char *glob,
	     int (*fn)(void *ctx, const struct vy_name_entry *e), void *ctx);

/* ---- the rest ---- */

#define VY_DELETE_SHALLOW 0x1u /* keep members left unreferenced */
/* Deletes ids, all or none (-ENOENT, -EBUSY: nothing deleted); unless
 * VY_DELETE_SHALLOW, members no longer referenced and unnamed go too.
 * *count (may be NULL) gets how many objects went. At most 65,536 ids at
 * once (-EINVAL beyond). */
int vy_delete(struct vy_client *c, const vy_id *ids, size_t n,
	      unsigned flags, size_t *count);
/* Makes id and all it references survive a daemon restart: returns once
 * the copy in the daemon's data directory is durable. -ENOTSUP when the
 * daemon has none; -EDQUOT when its disk is full, -EIO when it fails (the
 * object stays in memory, not persisted). */
int vy_persist(struct vy_client *c, vy_id id);
/* Persists the n objects of ids as one group, all or none: the same as n
 * vy_persist calls, but the daemon syncs the lot with a few fsyncs instead
 * of two per object, so many small objects persist (and, in a cluster,
 * publish) far faster. At most 65,536 ids (-EINVAL beyond, or for none);
 * -ENOENT, with nothing persisted, when an id is unknown. */
int vy_persist_many(struct vy_client *c, const vy_id *ids, size_t n);
/* Drops id's persisted copy (and its members' copies that nothing else
 * persisted needs); the object stays in memory. 0 when it was not
 * persisted; -EBUSY when it is a member of a persisted object. */
int vy_unpersist(struct vy_client *c, vy_id id);

/* ---- owners and modes ---- */

/* Every object has an owner and a group (the user and group of the client
 * that put it) and a mode: read (4) and write (2) bits for the owner
 * (times 0100), the group (times 010) and others, as for files. Read: get
 * it, use it as a member. Write: delete, persist, unpersist, name it.
 * Refusals are -EACCES. */
#define VY_MODE_DEFAULT 0640u
#define VY_CHMOD_TREE 0x1u /* also every object id references */
/* The mode of what c puts from now on (vy_put_blob, vy_blob_create and
 * seal, vy_put_object without vy_meta_set_mode); VY_MODE_DEFAULT until
 * then. 0, or -EINVAL for bits outside 0666. */
int vy_set_mode(struct vy_client *c, unsigned mode);
/* Sets the mode of the n objects in ids to (mode & ~clear) | set; with
 * VY_CHMOD_TREE, also the mode of everything they reference. Only the
 * owner may: -EACCES, and then nothing changes. Returns once persisted
 * copies say so too. */
int vy_chmod(struct vy_client *c, const vy_id *ids, size_t n, unsigned clear,
	     unsigned set, unsigned flags);

struct vy_list_entry {
	vy_id id;
	const char *typename;
	uint64_t nbytes;
	int is_blob;
	int persisted;
	const char *const *names; /* nnames, sorted */
	size_t nnames;
	int spilled;        /* some blob of it is on disk only (spilled to
			     * disk, or restored and not read back yet) */
	/* since 0.8 */
	uint32_t uid, gid;        /* owner and group: who put it */
	unsigned mode;            /* read/write bits, as for files */
	/* since 0.9 */
	int stream;               /* a stream's VY_STREAM_* state, else 0 */
};
/* Calls fn for every object whose typename matches glob (NULL: all), in
 * id order. Entries are valid during the call only. */
int vy_list(struct vy_client *c, const char *glob,
	    int (*fn)(void *ctx, const struct vy_list_entry *e), void *ctx);
/* Spilling (vineyardd --spill-dir; vineyardd(8), "When memory runs
 * out"). vy_evict writes the objects' blobs to the spill directory now and
 * frees their memory (blobs a reader maps stay; -ENOTSUP without a spill
 * directory); vy_load reads them back into memory (a get does that by
 * itself), and with hold keeps them there until vy_unhold; vy_is_spilled
 * sets *spilled to 1 when some blob of id is on disk only. */
int vy_evict(struct vy_client *c, const vy_id *ids, size_t n);
int vy_load(struct vy_client *c, const vy_id *ids, size_t n, int hold);
int vy_unhold(struct vy_client *c, const vy_id *ids, size_t n);
int vy_is_spilled(struct vy_client *c, vy_id id, int *spilled);
/* meta.json of id as the daemon renders it (malloc'd; free it). */
int vy_meta_json(struct vy_client *c, vy_id id, char **json);
/* The daemon's figures (vineyardctl(1) status says what each means). A
 * string is NULL when the daemon has none (no mount, no data directory). */
struct vy_status {
	const char *version;       /* the daemon's */
	uint64_t protocol;
	uint64_t pid;
	uint64_t uptime_s;
	const char *socket;
	uint64_t clients;
	uint64_t objects;          /* blobs included */
	uint64_t blobs;
	uint64_t unsealed_blobs;
	uint64_t deleted_in_use;   /* deleted blobs still mapped by a reader */
	uint64_t names;
	uint64_t payload_bytes;
	uint64_t used_bytes;
	uint64_t limit_bytes;
	uint64_t segment_bytes;
	const char *huge_pages;
	const char *mount;
	const char *fs_mode;
	const char *data_dir;
	uint64_t persisted_objects;
	uint64_t disk_bytes;
	uint64_t disk_raw_bytes;
	uint64_t damaged_files;
	/* Since protocol 2 */
	uint64_t input_bytes;       /* requests being received, all clients */
	uint64_t input_limit_bytes; /* vineyardd --input-limit */
	uint64_t idle_segment_bytes; /* an empty small-blob segment kept for
				      * the next put; not in used_bytes */
	const char *cluster;       /* --etcd: "joined", "joining", "lost"; or
				    * NULL without a cluster */
	uint64_t cluster_instance; /* this daemon's instance id, or 0 */
	uint64_t reserve_bytes;    /* memory faulted in ahead of puts (vineyardd
				    * --reserve); not in used_bytes */
	const char *spill_dir;     /* where cold blobs spill, or NULL */
	uint64_t spilled_bytes;    /* blob bytes on disk only: spilled (or
				    * restored, not read back yet) */
	uint64_t spill_file_bytes; /* bytes of spill files */
	uint64_t spills;           /* blobs spilled since the daemon started */
	uint64_t streams;          /* stream objects */
	uint64_t streams_open;     /* of which open (not finished, failed) */
	uint64_t stream_held_bytes; /* chunks streams hold */
	uint64_t stream_threshold_bytes; /* --stream-threshold of --size */
	uint64_t transfers_active; /* fetches from other instances in flight */
	uint64_t transfers_done;   /* fetches finished whole */
	uint64_t transfers_failed; /* fetches that failed (nothing kept) */
	uint64_t transfer_bytes;   /* blob bytes received from other instances */
	uint64_t transfer_wire_bytes; /* the same as they crossed the wire
				       * (--transfer-compression) */
	uint64_t reserve_filled_bytes; /* of reserve_bytes, faulted in */
	uint64_t reserve_target_bytes; /* what that pool fills towards: the
					* first large put is fast once
					* filled reaches it */
	uint64_t cluster_objects;  /* objects published in the cluster (every
				    * instance's), as this daemon knows them
				    * now; 0 outside a cluster */
	/* Later versions add fields here only: the library allocates. */
};
/* The daemon's figures in *st, one malloc'd block with its strings: free()
 * it. */
int vy_status(struct vy_client *c, struct vy_status **st);
/* The same as a JSON object, as the mount's status.json shows it
 * (malloc'd; free it). */
int vy_status_json(struct vy_client *c, char **json);

/* ---- the cluster (vineyardd --etcd; vineyard-cluster(7)) ---- */

/* The daemon's own membership. */
struct vy_cluster_state {
	char state[16];     /* "joined", "joining" (etcd not reached yet) or
			     * "lost" (etcd gone; joining again) */
	uint32_t instance;  /* this daemon's instance id, 0 before joining */
	char prefix[132];   /* its --etcd-prefix */
	char message[600];  /* why not joined, else "" */
};
/* One live instance of the cluster. */
struct vy_cluster_instance {
	uint32_t id;
	const char *host, *socket, *rpc; /* rpc: "" without --rpc */
	uint64_t pid, started;           /* started: seconds since 1970 */
	uint64_t objects, bytes;         /* the daemon's figures */
};
/* Fills *st (may be NULL) and calls fn (may be NULL) for every live
 * instance the daemon knows of (from its cache: also while etcd is away,
 * when st says so). -EOPNOTSUPP when the daemon is not in a cluster.
 * Entries are valid during the call only. */
int vy_cluster(struct vy_client *c, struct vy_cluster_state *st,
	       int (*fn)(void *ctx, const struct vy_cluster_instance *i),
	       void *ctx);
/* One published object of the cluster. */
struct vy_cluster_object {
	vy_id id;
	const char *typename;
	uint64_t nbytes;
	uint32_t instance;        /* the instance that owns it */
	int available;            /* 0: that instance is gone */
	const char *const *names; /* cluster-wide names, nnames */
	size_t nnames;
	/* whose it is, as its record says (has_owner 0: the record has no
	 * owner, written by an older daemon) */
	int has_owner;
	uint32_t uid, gid;
	unsigned mode;
};
/* Calls fn for every published object of the cluster whose typename
 * matches glob (NULL: all). -ENOTCONN while the daemon cannot reach etcd,
 * -EOPNOTSUPP when it is not in a cluster. */
int vy_cluster_list(struct vy_client *c, const char *glob,
		    int (*fn)(void *ctx, const struct vy_cluster_object *o),
		    void *ctx);
/* Creates a global object (vineyard-cluster(7)): metadata only, published
 * to the cluster at once, whose members (every one added by id with
 * vy_meta_add_member) are objects published by any instance (persisted
 * there) or persisted here. m is not consumed. -ENOTCONN while the
 * cluster is unreachable, -EOPNOTSUPP outside a cluster, -ENOENT for a
 * member no instance published, -EINVAL for one not persisted. */
int vy_put_global(struct vy_client *c, const struct vy_meta *m, vy_id *id);

/*
 * Streams (libvineyard(3) STREAMS): a writer appends sealed chunks while
 * readers already read them. A byte stream's chunks are blobs; an object
 * stream's are any objects (e.g. DataFrames). Each reader has its own
 * position; a reader opened late starts at the first chunk still held.
 * A stream is open, then finished or failed (-EIO to readers, after the
 * chunks sealed before; a writer that disconnects or dies fails it).
 * Timeouts are in ms; a negative one waits without end.
 */
#define VY_STREAM_BYTES "vineyard::ByteStream"
enum { VY_STREAM_OPEN = 1, VY_STREAM_FINISHED = 2, VY_STREAM_FAILED = 3 };
struct vy_stream;
/* Creates a stream of typename (VY_STREAM_BYTES, or with objects set e.g.
 * "vineyard::DataframeStream"), named name unless NULL. */
int vy_stream_create(struct vy_client *c, const char *typename, int objects,
		     const char *name, vy_id *id);
/* Opens stream id (or, when name is not NULL, the stream so named, waiting
 * up to timeout_ms for the name) for writing: one writer at a time. */
int vy_stream_open_writer(struct vy_client *c, vy_id id, const char *name,
			  int timeout_ms, struct vy_stream **s);
/* Opens a reader of the stream, at its first chunk still held. */
int vy_stream_open_reader(struct vy_client *c, vy_id id, const char *name,
			  int timeout_ms, struct vy_stream **s);
vy_id vy_stream_id(const struct vy_stream *s);
const char *vy_stream_typename(const struct vy_stream *s);
int vy_stream_is_objects(const struct vy_stream *s);
/* Byte streams: a chunk of len bytes to fill at *data, then append with
 * vy_stream_append(c, s, 0, ...). Waits up to timeout_ms while the
 * daemon's streams hold chunks no reader has passed up to its
 * --stream-threshold (-ETIMEDOUT). */
int vy_stream_next_chunk(struct vy_client *c, struct vy_stream *s,
			 size_t len, int timeout_ms, void **data);
/* Seals and appends the chunk from vy_stream_next_chunk (id 0), or, in an
 * object stream, appends the sealed object id (waiting for room). */
int vy_stream_append(struct vy_client *c, struct vy_stream *s, vy_id id,
		     int timeout_ms);
/* Byte streams: appends a copy of len bytes (> 0) as one chunk. */
int vy_stream_write(struct vy_client *c, struct vy_stream *s,
		    const void *data, size_t len, int timeout_ms);
/* Ends the stream: finished, or failed saying why (NULL: a default). */
int vy_stream_finish(struct vy_client *c, struct vy_stream *s);
int vy_stream_fail(struct vy_client *c, struct vy_stream *s,
		   const char *why);
/* A reader's next chunk, mapped (release it with vy_object_release;
 * reading on releases nothing): 0 with *o, or 0 with *o NULL at the end
 * of a finished stream; -ETIMEDOUT, or -EIO when the stream failed. The
 * reader moves past the chunk it had, which the daemon may then free. */
int vy_stream_read(struct vy_client *c, struct vy_stream *s, int timeout_ms,
		   struct vy_object **o);
/* Closes the handle and frees it; a writer that has not finished fails
 * the stream. */
int vy_stream_close(struct vy_client *c, struct vy_stream *s);
struct vy_stream_info {
	vy_id id;
	char typename[256];
	int objects;
	int state;            /* VY_STREAM_* */
	int writer;           /* a writer has it open */
	uint64_t readers;
	uint64_t appended;    /* chunks ever appended */
	uint64_t first;       /* index of the first still held */
	uint64_t held;        /* chunks held */
	uint64_t held_bytes;
	uint64_t bytes;       /* bytes ever appended */
	char why[240];        /* failed: why */
};
/* The state of stream id (or of the stream named name). */
int vy_stream_info(struct vy_client *c, vy_id id, const char *name,
		   struct vy_stream_info *info);

#ifdef __cplusplus
}
#endif

#endif
