/*
 * rawproto: speaks the wire protocol by hand to check how vineyardd treats
 * bad input, while a libvineyard client stays connected beside it.
 *
 *   rawproto MODE [ID]
 *
 * MODE garbage, oversized, badversion, unknowntype: the daemon must answer
 * with an error frame and close the connection. truncated: a frame cut
 * short, then end of input: closed without a reply. badbody, hugecount,
 * nulname: a well-framed request with a bad body gets an error reply and
 * the connection stays usable. sealed ID: receives the blob's descriptor
 * (its own memfd, or the segment a small blob is packed in) and checks the
 * kernel refuses every way of writing or resizing it, even through a
 * writable reopen of /proc/self/fd/N. mapped ID: gets a memfd blob twice
 * with GET_F_MAPPED: the second reply, for a blob this connection holds,
 * carries no descriptor; a get without the flag does.
 * After each mode the other client and a new connection must still work.
 * Prints key=value lines; exits 0 when everything held.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/mman.h>

#include "rawio.h"

static int fails;

static void
expect(int ok, const char *what)
{
	printf("%s=%s\n", what, ok ? "ok" : "FAILED");
	if (!ok)
		fails++;
}

/* One GET of id with flags; returns how many descriptors came. */
static int
get_fds(int fd, uint64_t id, uint64_t flags)
{
	struct reply r;
	struct cw w;
	int i;

	cw_init(&w);
	cw_array(&w, 4);
	cw_uint(&w, id);
	cw_null(&w);
	cw_uint(&w, 0);
	cw_uint(&w, flags);
	send_frame(fd, PROTO_VERSION, MSG_GET, (uint32_t)w.len, w.buf, w.len);
	cw_release(&w);
	if (read_reply(fd, &r) != 0 || (int32_t)r.h.status < 0)
		return -1;
	for (i = 0; i < r.nfds; i++)
		close(r.fds[i]);
	return r.nfds;
}

static void
check_mapped(int fd, const char *idstr)
{
	uint64_t id;

	if (vy_id_parse(idstr, &id)) {
		expect(0, "id_parses");
		return;
	}
	expect(get_fds(fd, id, GET_F_MAPPED) == 1, "first_get_has_fd");
	expect(get_fds(fd, id, GET_F_MAPPED) == 0, "held_get_has_no_fd");
	expect(get_fds(fd, id, 0) == 1, "get_without_flag_has_fd");
}

/* After a bad frame: an error frame, then end of stream. */
static void
expect_error_and_close(int fd, const char *want_msg)
{
	struct reply r;
	char b;

	expect(read_reply(fd, &r) == 0, "error_frame");
	printf("reply_type=%u\nreply_status=%d\nreply_msg=%s\n", r.h.type,
	       (int32_t)r.h.status, r.msg);
	expect((int32_t)r.h.status == -EPROTO, "status_eproto");
	expect(strstr(r.msg, want_msg) != NULL, "message");
	expect(read_exact(fd, &b, 1, r.fds, &r.nfds) == 1, "closed");
}

/* A status request on fd answers with status 0. */
static void
expect_usable(int fd)
{
	static const uint8_t empty_array = 0x80;
	struct reply r;

	send_frame(fd, PROTO_VERSION, MSG_STATUS, 1, &empty_array, 1);
	expect(read_reply(fd, &r) == 0 && r.h.status == 0 &&
	       r.h.type == MSG_STATUS, "still_usable");
}

static void
check_sealed(int fd, const char *arg)
{
	struct vy_client *c = must_connect();
	vy_id id = must_resolve(c, arg);
	struct reply r;
	struct cw w;
	char path[64];
	int seals, rw, memfd = -1, i;

	vy_close(c);
	cw_init(&w);
	cw_array(&w, 4);
	cw_uint(&w, id);
	cw_null(&w);
	cw_uint(&w, 0);
	cw_uint(&w, 0);
	send_frame(fd, PROTO_VERSION, MSG_GET, (uint32_t)w.len, w.buf, w.len);
	cw_release(&w);
	expect(read_reply(fd, &r) == 0 && r.h.status == 1 && r.nfds == 1,
	       "got_fd");
	if (r.nfds < 1)
		return;
	memfd = r.fds[0];
	for (i = 1; i < r.nfds; i++)
		close(r.fds[i]);
	seals = fcntl(memfd, F_GET_SEALS);
	printf("seals=0x%x\n", seals);
	/* A blob of its own: F_SEAL_WRITE. Small blobs share a segment the
	 * daemon still writes through its own mapping: F_SEAL_FUTURE_WRITE,
	 * which refuses every other way of writing. */
	expect(seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW |
				       F_SEAL_SEAL)) ==
	       (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) &&
	       (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)), "all_seals");
	expect((fcntl(memfd, F_GETFL) & O_ACCMODE) == O_RDONLY, "fd_readonly");
	expect(write(memfd, "x", 1) < 0 && errno == EBADF, "write_ro_fd");
	/* Even a writable reopen of the same file cannot change it. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	rw = open(path, O_RDWR | O_CLOEXEC);
	printf("reopen_rw=%s\n", rw >= 0 ? "opened" : strerror(errno));
	if (rw >= 0) {
		struct stat st;
		off_t size;

		fstat(rw, &st);
		size = st.st_size;
		expect(pwrite(rw, "x", 1, 0) < 0 && errno == EPERM,
		       "write_eperm");
		expect(ftruncate(rw, 0) < 0 && errno == EPERM,
		       "shrink_eperm");
		expect(ftruncate(rw, size + 4096) < 0 && errno == EPERM,
		       "grow_eperm");
		expect(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rw,
			    0) == MAP_FAILED && errno == EPERM,
		       "mmap_write_eperm");
		expect(fcntl(rw, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) < 0 &&
		       errno == EPERM, "seals_sealed");
		fstat(rw, &st);
		expect(st.st_size == size, "size_unchanged");
		close(rw);
	}
	close(memfd);
}

int
main(int argc, char **argv)
{
	struct vy_client *other;
	struct reply r;
	const char *mode;
	char *json;
	int fd;

	if (argc < 2)
		die("usage: rawproto MODE [ID]");
	mode = argv[1];
	other = must_connect();
	fd = raw_connect();
	if (strcmp(mode, "garbage") == 0) {
		static const char junk[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

		send_all(fd, junk, sizeof(junk) - 1);
		expect_error_and_close(fd, "bad frame");
	} else if (strcmp(mode, "oversized") == 0) {
		send_frame(fd, PROTO_VERSION, MSG_STATUS, PROTO_MAX_BODY + 1,
			   NULL, 0);
		expect_error_and_close(fd, "bad frame");
	} else if (strcmp(mode, "badversion") == 0) {
		send_frame(fd, PROTO_VERSION + 1, MSG_STATUS, 0, NULL, 0);
		expect_error_and_close(fd, "protocol version");
	} else if (strcmp(mode, "unknowntype") == 0) {
		send_frame(fd, PROTO_VERSION, 999, 1, "\x80", 1);
		expect_error_and_close(fd, "unknown request type");
	} else if (strcmp(mode, "truncated") == 0) {
		char b;

		send_frame(fd, PROTO_VERSION, MSG_STATUS, 100, "0123456789",
			   10);
		shutdown(fd, SHUT_WR);
		expect(read_exact(fd, &b, 1, r.fds, &r.nfds) == 1,
		       "closed_without_reply");
	} else if (strcmp(mode, "badbody") == 0) {
		send_frame(fd, PROTO_VERSION, MSG_GET, 3, "\xff\x00\x01", 3);
		expect(read_reply(fd, &r) == 0, "error_reply");
		printf("reply_status=%d\nreply_msg=%s\n", (int32_t)r.h.status,
		       r.msg);
		expect((int32_t)r.h.status == -EPROTO &&
		       strstr(r.msg, "malformed get"), "malformed_get");
		expect_usable(fd);
	} else if (strcmp(mode, "hugecount") == 0) {
		/* [[2^32 ids...], 0] in 9 bytes */
		static const uint8_t body[] = { 0x82, 0x9a, 0xff, 0xff, 0xff,
						0xff, 0x00 };

		send_frame(fd, PROTO_VERSION, MSG_DELETE, sizeof(body), body,
			   sizeof(body));
		expect(read_reply(fd, &r) == 0 &&
		       (int32_t)r.h.status == -EPROTO, "error_reply");
		printf("reply_msg=%s\n", r.msg);
		expect_usable(fd);
	} else if (strcmp(mode, "nulname") == 0) {
		static const uint8_t body[] = { 0x82, 0x63, 'a', 0, 'b', 0x01 };

		send_frame(fd, PROTO_VERSION, MSG_NAME_PUT, sizeof(body), body,
			   sizeof(body));
		expect(read_reply(fd, &r) == 0 &&
		       (int32_t)r.h.status == -EINVAL, "error_reply");
		printf("reply_msg=%s\n", r.msg);
		expect(strstr(r.msg, "invalid name") != NULL, "message");
		expect_usable(fd);
	} else if (strcmp(mode, "sealed") == 0 && argc == 3) {
		check_sealed(fd, argv[2]);
	} else if (strcmp(mode, "mapped") == 0 && argc == 3) {
		check_mapped(fd, argv[2]);
	} else {
		die("unknown mode %s", mode);
	}
	close(fd);
	/* The daemon and the other client go on. */
	expect(vy_status_json(other, &json) == 0, "other_client");
	free(json);
	vy_close(other);
	other = must_connect();
	expect(vy_status_json(other, &json) == 0, "new_client");
	free(json);
	vy_close(other);
	return fails ? 1 : 0;
}
