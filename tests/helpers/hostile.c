/*
 * hostile: a client that breaks the rules on purpose, to check that the
 * daemon stays correct for everybody else (tests/bats/21-hostile.bats).
 *
 *   hostile shrink NAME    creates a 1 MiB blob, fills it, tries to shrink
 *                          its memfd before sealing, seals, names it NAME
 *   hostile grow NAME      creates a 4 KiB blob, tries to grow its memfd
 *                          (ftruncate, write past the end, fallocate)
 *                          before sealing, seals, names it NAME
 *   hostile noreply        a status request flagged no-reply gets none
 *   hostile bigdelete      a delete of more ids than one batch may hold:
 *                          EINVAL from the library and from the daemon
 *   hostile buffers N B    N connections each hold an unfinished frame of
 *                          B bytes: the daemon refuses those that do not
 *                          fit its input limit, counts the rest (status),
 *                          and serves them once their frames complete
 *   hostile connections N  N connections at once to a daemon with few
 *                          file descriptors: those beyond get EMFILE
 *   hostile bigtree        puts, gets and releases an object of 70,400
 *                          blobs: more than one request may name
 *   hostile reclaim        puts 4,000-byte blobs until the store is full,
 *                          deletes them: memory is back at the baseline,
 *                          a 10 MiB put works, a reused segment reads right
 *
 * Prints key=value lines; exits 0 only when everything held.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "rawio.h"

static int fails;

static void
expect(int ok, const char *what)
{
	printf("%s=%s\n", what, ok ? "ok" : "FAILED");
	if (!ok)
		fails++;
}

/* A number field of the daemon's status JSON, or UINT64_MAX. */
static uint64_t
status_u64(struct vy_client *c, const char *key)
{
	char want[64], *json, *p;
	uint64_t v = UINT64_MAX;

	if (vy_status_json(c, &json))
		die("status: %s", vy_errmsg(c));
	snprintf(want, sizeof(want), "\"%s\":", key);
	p = strstr(json, want);
	if (p)
		v = strtoull(p + strlen(want), NULL, 10);
	free(json);
	return v;
}

/* ---- writers that resize their memfd before the seal ---- */

/* BLOB_CREATE [[len]] on a raw connection: the id and the writable fd. */
static int
raw_create(int fd, size_t len, uint64_t *id)
{
	struct reply r;
	struct cw w;
	struct cr cr;
	size_t n;
	int i;

	cw_init(&w);
	cw_array(&w, 2);
	cw_array(&w, 1);
	cw_uint(&w, len);
	cw_null(&w); /* the default mode */
	send_frame(fd, PROTO_VERSION, MSG_BLOB_CREATE, (uint32_t)w.len, w.buf,
		   w.len);
	cw_release(&w);
	if (read_reply(fd, &r) || r.h.status != 1 || r.nfds != 1)
		die("blob create: status %d %s", (int32_t)r.h.status, r.msg);
	cr_init(&cr, r.body, r.h.len);
	if (cr_array(&cr, &n) || n != 1 || cr_array(&cr, &n) || n != 1 ||
	    cr_uint(&cr, id))
		die("blob create: malformed reply");
	for (i = 1; i < r.nfds; i++)
		close(r.fds[i]);
	return r.fds[0];
}

/* Seals id and binds name on a raw connection; the first failure's
 * status (0 when both worked), its sentence in msg. */
static int
raw_seal_name(int fd, uint64_t id, const char *name, char *msg, size_t ml)
{
	struct reply r;
	struct cw w;

	cw_init(&w);
	cw_array(&w, 1);
	cw_array(&w, 1);
	cw_uint(&w, id);
	send_frame(fd, PROTO_VERSION, MSG_BLOB_SEAL, (uint32_t)w.len, w.buf,
		   w.len);
	if (read_reply(fd, &r))
		die("seal: connection closed");
	snprintf(msg, ml, "%s", r.msg);
	if (r.h.status != 0)
		goto out;
	cw_reset(&w);
	cw_array(&w, 2);
	cw_str(&w, name);
	cw_uint(&w, id);
	send_frame(fd, PROTO_VERSION, MSG_NAME_PUT, (uint32_t)w.len, w.buf,
		   w.len);
	if (read_reply(fd, &r))
		die("name put: connection closed");
	snprintf(msg, ml, "%s", r.msg);
out:
	cw_release(&w);
	return (int32_t)r.h.status;
}

static void
fill_fd(int fd, size_t len, int byte)
{
	char buf[65536];
	size_t off;

	memset(buf, byte, sizeof(buf));
	for (off = 0; off < len; off += sizeof(buf)) {
		size_t k = len - off < sizeof(buf) ? len - off : sizeof(buf);

		if (pwrite(fd, buf, k, (off_t)off) != (ssize_t)k)
			die("filling the blob: %s", strerror(errno));
	}
}

static void
check_size(int fd, off_t want)
{
	struct stat st;

	expect(fstat(fd, &st) == 0 && st.st_size == want, "size_kept");
	printf("size=%jd\n", (intmax_t)st.st_size);
}

static void
do_shrink(const char *name)
{
	int fd = raw_connect(), memfd, rc;
	char msg[512], idbuf[VY_ID_STRLEN];
	uint64_t id;

	memfd = raw_create(fd, 1u << 20, &id);
	vy_id_format(id, idbuf);
	printf("id=%s\n", idbuf);
	fill_fd(memfd, 1u << 20, 'v');
	rc = ftruncate(memfd, 0);
	printf("shrink=%s\n", rc ? strerror(errno) : "done");
	expect(rc < 0 && errno == EPERM, "shrink_refused");
	rc = ftruncate(memfd, 4096);
	expect(rc < 0 && errno == EPERM, "partial_shrink_refused");
	check_size(memfd, 1 << 20);
	rc = raw_seal_name(fd, id, name, msg, sizeof(msg));
	printf("seal_status=%d\nseal_msg=%s\n", rc, msg);
	expect(rc == 0, "sealed");
	close(memfd);
	close(fd);
}

static void
do_grow(const char *name)
{
	int fd = raw_connect(), memfd, rc;
	char msg[512], idbuf[VY_ID_STRLEN];
	uint64_t id;

	memfd = raw_create(fd, 4096, &id);
	vy_id_format(id, idbuf);
	printf("id=%s\n", idbuf);
	fill_fd(memfd, 4096, 'g');
	/* Sparse: before the fix this costs nothing but the one page the
	 * write below touches. */
	rc = ftruncate(memfd, (off_t)5 << 29);
	printf("grow=%s\n", rc ? strerror(errno) : "done");
	expect(rc < 0 && errno == EPERM, "grow_refused");
	rc = (int)pwrite(memfd, "x", 1, 4096);
	expect(rc < 0 && errno == EPERM, "write_past_end_refused");
	rc = fallocate(memfd, 0, 0, 8192);
	expect(rc < 0 && errno == EPERM, "fallocate_refused");
	check_size(memfd, 4096);
	rc = raw_seal_name(fd, id, name, msg, sizeof(msg));
	printf("seal_status=%d\nseal_msg=%s\n", rc, msg);
	expect(rc == 0, "sealed");
	close(memfd);
	close(fd);
}

/* ---- requests the daemon must refuse or obey ---- */

static void
do_noreply(void)
{
	static const uint8_t empty[] = { 0x80 }, nulglob[] = { 0x81, 0xf6 };
	int fd = raw_connect();
	struct reply r;

	send_frame_flags(fd, PROTO_VERSION, MSG_STATUS, PROTO_F_NOREPLY,
			 sizeof(empty), empty, sizeof(empty));
	send_frame(fd, PROTO_VERSION, MSG_NAME_LIST, sizeof(nulglob),
		   nulglob, sizeof(nulglob));
	expect(read_reply(fd, &r) == 0, "reply");
	printf("first_reply_type=%u\n", r.h.type);
	expect(r.h.type == MSG_NAME_LIST && r.h.status == 0,
	       "noreply_status_silent");
	close(fd);
}

static void
do_bigdelete(void)
{
	size_t n = PROTO_MAX_BATCH + 1, i, count = 0;
	struct vy_client *c = must_connect();
	vy_id *ids = malloc(n * sizeof(*ids));
	int fd = raw_connect(), rc;
	struct reply r;
	struct cw w;

	if (!ids)
		die("out of memory");
	/* Ids nobody has: a delete that got through would say ENOENT. */
	for (i = 0; i < n; i++)
		ids[i] = 0x7000000000000000ull + i;
	rc = vy_delete(c, ids, n, 0, &count);
	printf("lib_rc=%d\nlib_msg=%s\n", rc, vy_errmsg(c));
	expect(rc == -EINVAL && strstr(vy_errmsg(c), "65536"), "lib_einval");
	/* The client is still in step. */
	rc = vy_delete(c, ids, 1, 0, &count);
	expect(rc == -ENOENT, "lib_still_usable");
	vy_close(c);
	/* The same batch by hand: the daemon says EINVAL, not "malformed". */
	cw_init(&w);
	cw_array(&w, 2);
	cw_array(&w, n);
	for (i = 0; i < n; i++)
		cw_uint(&w, ids[i]);
	cw_uint(&w, 0);
	send_frame(fd, PROTO_VERSION, MSG_DELETE, (uint32_t)w.len, w.buf,
		   w.len);
	cw_release(&w);
	expect(read_reply(fd, &r) == 0, "raw_reply");
	printf("raw_status=%d\nraw_msg=%s\n", (int32_t)r.h.status, r.msg);
	expect((int32_t)r.h.status == -EINVAL && strstr(r.msg, "65536"),
	       "raw_einval");
	{
		static const uint8_t empty = 0x80;

		send_frame(fd, PROTO_VERSION, MSG_STATUS, 1, &empty, 1);
		expect(read_reply(fd, &r) == 0 && r.h.status == 0,
		       "raw_still_usable");
	}
	close(fd);
	free(ids);
}

/* N connections each send all but the last byte of a STATUS frame of B
 * body bytes (STATUS ignores its body). */
static void
do_buffers(int n, size_t b)
{
	struct vy_client *c = must_connect();
	int *fds = calloc((size_t)n, sizeof(int));
	char *refused = calloc((size_t)n, 1);
	uint8_t *body = calloc(b, 1);
	struct timeval tv = { 20, 0 };
	uint64_t held, limit, sum = 0;
	int i, nacc = 0, nref = 0, rc;
	struct reply r;

	if (!fds || !refused || !body || b < 2 || b > PROTO_MAX_BODY)
		die("buffers: bad arguments or out of memory");
	body[0] = 0x80;
	for (i = 0; i < n; i++) {
		struct proto_hdr h = { PROTO_MAGIC, PROTO_VERSION, MSG_STATUS,
				       (uint32_t)b, 0 };
		uint8_t hb[PROTO_HDR_LEN];

		fds[i] = raw_connect();
		/* A send the daemon never drains fails the test, not hangs. */
		setsockopt(fds[i], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		proto_hdr_pack(&h, hb);
		rc = send_try(fds[i], hb, sizeof(hb));
		if (rc == 0)
			rc = send_try(fds[i], body, b - 1);
		if (rc == -EAGAIN || rc == -EWOULDBLOCK)
			die("connection %d: the daemon stopped reading", i);
		if (rc) {
			refused[i] = 1;
			nref++;
			expect(read_reply(fds[i], &r) == 0, "refusal_reply");
			printf("refused_status=%d\nrefused_msg=%s\n",
			       (int32_t)r.h.status, r.msg);
			expect((int32_t)r.h.status == -ENOBUFS,
			       "refused_enobufs");
			close(fds[i]);
			fds[i] = -1;
		} else {
			nacc++;
			sum += b;
		}
	}
	printf("accepted=%d\nrefused=%d\n", nacc, nref);
	expect(nacc >= 1 && nref >= 1, "some_refused");
	held = status_u64(c, "input_bytes");
	limit = status_u64(c, "input_limit_bytes");
	printf("input_bytes=%" PRIu64 "\ninput_limit_bytes=%" PRIu64 "\n",
	       held, limit);
	expect(held != UINT64_MAX && held >= sum && held <= limit,
	       "counted_within_limit");
	/* Those it kept are served once their frames are complete. */
	for (i = 0; i < n; i++) {
		if (refused[i])
			continue;
		send_all(fds[i], body + b - 1, 1);
		expect(read_reply(fds[i], &r) == 0 && r.h.status == 0 &&
		       r.h.type == MSG_STATUS, "kept_served");
		close(fds[i]);
	}
	held = status_u64(c, "input_bytes");
	printf("input_bytes_after=%" PRIu64 "\n", held);
	expect(held < (1u << 20), "released");
	vy_close(c);
	free(fds);
	free(refused);
	free(body);
}

/* A tree of more blobs than one request may name: its release must still
 * drop every pin, and leave the connection in step. */
static void
do_bigtree(void)
{
	size_t per = 2200, parts = 32, i, j, count = 0;
	struct vy_client *c = must_connect();
	struct vy_meta *m = vy_meta_new("test::Many");
	struct vy_object *o;
	char name[32], *json;
	vy_id root;

	if (!m)
		die("out of memory");
	/* 32 members of 2,200 small blobs each (an object has at most
	 * 65,536 members): 70,400 blobs put with the tree. */
	for (j = 0; j < parts; j++) {
		struct vy_meta *part = vy_meta_new("test::Part");

		if (!part)
			die("out of memory");
		for (i = 0; i < per; i++) {
			uint32_t v = (uint32_t)(j * per + i);
			struct vy_writer *w;

			if (vy_blob_create(c, sizeof(v), &w))
				die("create: %s", vy_errmsg(c));
			memcpy(vy_writer_data(w), &v, sizeof(v));
			snprintf(name, sizeof(name), "m%zu", i);
			if (vy_meta_add_member_writer(part, name, w))
				die("add member %zu", i);
		}
		snprintf(name, sizeof(name), "part%zu", j);
		if (vy_meta_add_member_meta(m, name, part))
			die("add part");
	}
	if (vy_put_object(c, m, "many", 0, &root))
		die("put object: %s", vy_errmsg(c));
	vy_meta_free(m);
	if (vy_get(c, root, &o))
		die("get: %s", vy_errmsg(c));
	expect(vy_object_nmembers(o) == parts &&
	       vy_object_nmembers(vy_object_member(o, 1)) == per,
	       "got_all_members");
	vy_object_release(c, o);
	/* In step: the next replies are the answers to these requests. */
	expect(vy_status_json(c, &json) == 0 && strstr(json, "\"objects\""),
	       "in_step");
	free(json);
	expect(vy_delete(c, &root, 1, 0, &count) == 0 && count == parts * (per + 1) + 1,
	       "deleted");
	printf("deleted_in_use=%" PRIu64 "\n",
	       status_u64(c, "deleted_in_use"));
	expect(status_u64(c, "deleted_in_use") == 0, "no_pins_left");
	vy_close(c);
}

/* N connections at once against a daemon with few descriptors: those it
 * has no descriptor for get EMFILE and a sentence, at once; the others
 * are served, and once they go new clients are served again. */
static void
do_connections(int n)
{
	static const uint8_t empty = 0x80;
	int *fds = calloc((size_t)n, sizeof(int)), i, nok = 0, nref = 0;
	struct vy_client *c;
	struct reply r;
	char err[512];
	int rc;

	if (!fds)
		die("out of memory");
	for (i = 0; i < n; i++) {
		fds[i] = raw_connect();
		/* A refused connection may be closed before this arrives
		 * (EPIPE): its refusal is read all the same. */
		rc = send_frame_try(fds[i], PROTO_VERSION, MSG_STATUS, 0, 1,
				    &empty, 1);
		if (rc && rc != -EPIPE && rc != -ECONNRESET)
			die("send: %s", strerror(-rc));
		if (read_reply(fds[i], &r) == 0 && r.h.type == MSG_STATUS &&
		    r.h.status == 0) {
			nok++;
			continue;
		}
		if (nref++ == 0)
			printf("refused_type=%u\nrefused_status=%d\n"
			       "refused_msg=%s\n", r.h.type,
			       (int32_t)r.h.status, r.msg);
		expect(r.h.type == 0 && (int32_t)r.h.status == -EMFILE,
		       "refused_emfile");
		close(fds[i]);
		fds[i] = -1;
	}
	printf("served=%d\nrefused=%d\n", nok, nref);
	expect(nok >= 1 && nref >= 1, "some_refused");
	/* The library says it too. */
	rc = vy_connect_err(NULL, &c, err, sizeof(err));
	printf("lib_rc=%d\nlib_err=%s\n", rc, rc ? err : "");
	/* The refusal is written and the socket closed at once, maybe before
	 * the library's hello is sent (its send then fails with EPIPE): the
	 * library still reads and reports the daemon's sentence. */
	expect(rc == -EMFILE && strstr(err, "no file descriptor"),
	       "lib_emfile");
	if (rc == 0)
		vy_close(c);
	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* Descriptors come back with the clients: served again (the
	 * daemon notices the closes in its own time). */
	for (i = 0; i < 100; i++) {
		rc = vy_connect_err(NULL, &c, err, sizeof(err));
		if (rc == 0)
			break;
		usleep(50000);
	}
	expect(rc == 0, "served_again");
	if (rc == 0)
		vy_close(c);
	free(fds);
}

/* ---- small blobs: segments come back ---- */

#define SMALL 4000

/* Puts SMALL-byte blobs until ENOSPC; their ids in *ids. */
static size_t
fill_small(struct vy_client *c, vy_id **ids)
{
	static char buf[SMALL];
	size_t n = 0, cap = 0;
	int rc = 0;

	memset(buf, 's', sizeof(buf));
	*ids = NULL;
	while (n < 200000) {
		if (n == cap) {
			cap = cap ? 2 * cap : 4096;
			*ids = realloc(*ids, cap * sizeof(**ids));
			if (!*ids)
				die("out of memory");
		}
		rc = vy_put_blob(c, buf, sizeof(buf), &(*ids)[n]);
		if (rc)
			break;
		n++;
	}
	printf("small_stored=%zu\nsmall_stop=%s\n", n, vy_errmsg(c));
	expect(rc == -ENOSPC, "filled_to_enospc");
	return n;
}

static void
delete_all(struct vy_client *c, const vy_id *ids, size_t n)
{
	size_t i, k, count;

	for (i = 0; i < n; i += k) {
		k = n - i < 50000 ? n - i : 50000;
		if (vy_delete(c, ids + i, k, 0, &count) || count != k)
			die("delete: %s", vy_errmsg(c));
	}
}

static void
do_reclaim(void)
{
	struct vy_client *c = must_connect();
	uint64_t base = status_u64(c, "used_bytes"), used;
	struct vy_object *o, *held;
	char *big, fresh[SMALL];
	vy_id *ids, id;
	size_t n, round;
	int rc;

	printf("baseline=%" PRIu64 "\n", base);
	big = malloc(10u << 20);
	if (!big)
		die("out of memory");
	memset(big, 'B', 10u << 20);
	for (round = 0; round < 2; round++) {
		n = fill_small(c, &ids);
		if (n == 0)
			break;
		/* Mapped and pinned here: its segment must outlive the
		 * delete, and go with the release. */
		if (vy_get(c, ids[n / 2], &held))
			die("get: %s", vy_errmsg(c));
		delete_all(c, ids, n);
		used = status_u64(c, "used_bytes");
		printf("used_while_held=%" PRIu64 "\n", used);
		expect(used > base, "held_segment_kept");
		expect(memcmp(vy_object_data(held), "ssss", 4) == 0,
		       "held_blob_readable");
		vy_object_release(c, held);
		used = status_u64(c, "used_bytes");
		printf("used_after_delete=%" PRIu64 "\n", used);
		expect(used == base, "used_back_to_baseline");
		expect(status_u64(c, "segment_bytes") == 0, "no_segments_left");
		rc = vy_put_blob(c, big, 10u << 20, &id);
		printf("big_put=%s\n", rc ? vy_errmsg(c) : "ok");
		expect(rc == 0, "big_put_after_delete");
		if (rc == 0 && vy_delete(c, &id, 1, 0, NULL))
			die("delete: %s", vy_errmsg(c));
		free(ids);
	}
	/* This connection mapped segments that are gone: a new small blob
	 * in a reused segment slot must read its own bytes, not stale ones. */
	memset(fresh, 'f', sizeof(fresh));
	if (vy_put_blob(c, fresh, sizeof(fresh), &id))
		die("put: %s", vy_errmsg(c));
	if (vy_get(c, id, &o))
		die("get: %s", vy_errmsg(c));
	expect(vy_object_nbytes(o) == sizeof(fresh) &&
	       memcmp(vy_object_data(o), fresh, sizeof(fresh)) == 0,
	       "reused_segment_reads_right");
	vy_object_release(c, o);
	if (vy_delete(c, &id, 1, 0, NULL))
		die("delete: %s", vy_errmsg(c));
	expect(status_u64(c, "used_bytes") == base, "used_back_at_end");
	free(big);
	vy_close(c);
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (strcmp(mode, "shrink") == 0 && argc == 3)
		do_shrink(argv[2]);
	else if (strcmp(mode, "grow") == 0 && argc == 3)
		do_grow(argv[2]);
	else if (strcmp(mode, "noreply") == 0)
		do_noreply();
	else if (strcmp(mode, "bigdelete") == 0)
		do_bigdelete();
	else if (strcmp(mode, "buffers") == 0 && argc == 4)
		do_buffers(atoi(argv[2]), strtoull(argv[3], NULL, 0));
	else if (strcmp(mode, "connections") == 0 && argc == 3)
		do_connections(atoi(argv[2]));
	else if (strcmp(mode, "bigtree") == 0)
		do_bigtree();
	else if (strcmp(mode, "reclaim") == 0)
		do_reclaim();
	else
		die("usage: hostile shrink|grow NAME | noreply | bigdelete | "
		    "buffers N BYTES | connections N | bigtree | reclaim");
	return fails ? 1 : 0;
}
