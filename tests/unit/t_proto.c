/*
 * t_proto: the frame header (byte layout, round trip, the checks that
 * close a connection) and descriptor passing over a socketpair (one
 * message, carriers past the kernel's per-message limit, and a receiver
 * with less room than was sent).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdpass.h"
#include "proto.h"
#include "test.h"
#include "banned.h"

static void
test_header_layout(void)
{
	struct proto_hdr h = { PROTO_MAGIC, PROTO_VERSION, MSG_GET, 0x01020304,
			       0xfffffffeu }, back;
	uint8_t b[PROTO_HDR_LEN];

	proto_hdr_pack(&h, b);
	CHECK(memcmp(b, "VYRD", 4) == 0);            /* magic reads as text */
	CHECK(b[4] == PROTO_VERSION && b[5] == 0);   /* little-endian */
	CHECK(b[6] == (MSG_GET & 0xff) && b[7] == MSG_GET >> 8);
	CHECK(b[8] == 4 && b[9] == 3 && b[10] == 2 && b[11] == 1);
	CHECK(b[12] == 0xfe && b[15] == 0xff);
	CHECK_EQ(proto_hdr_unpack(b, &back), 0);
	CHECK(back.magic == h.magic && back.version == h.version &&
	      back.type == h.type && back.len == h.len &&
	      back.status == h.status);
	/* a reply status carries a negative errno */
	CHECK_EQ(proto_status_errno(back.status), -2);
}

static void
test_header_checks(void)
{
	struct proto_hdr h = { PROTO_MAGIC, PROTO_VERSION, MSG_STATUS,
			       PROTO_MAX_BODY, 0 }, back;
	uint8_t b[PROTO_HDR_LEN];

	proto_hdr_pack(&h, b);
	CHECK_EQ(proto_hdr_unpack(b, &back), 0);
	h.len = PROTO_MAX_BODY + 1;
	proto_hdr_pack(&h, b);
	CHECK_EQ(proto_hdr_unpack(b, &back), -EPROTO);
	CHECK(back.len == PROTO_MAX_BODY + 1); /* still decoded, for messages */
	h.len = 0xffffffffu;
	proto_hdr_pack(&h, b);
	CHECK_EQ(proto_hdr_unpack(b, &back), -EPROTO);
	h.len = 0;
	h.version = PROTO_VERSION + 1;
	proto_hdr_pack(&h, b);
	CHECK_EQ(proto_hdr_unpack(b, &back), -EPROTO);
	CHECK(back.magic == PROTO_MAGIC && back.version == PROTO_VERSION + 1);
	h.version = PROTO_VERSION;
	h.magic = 0x44525957;
	proto_hdr_pack(&h, b);
	CHECK_EQ(proto_hdr_unpack(b, &back), -EPROTO);
	memcpy(b, "GET / HTTP/1.1\r\n", 16);
	CHECK_EQ(proto_hdr_unpack(b, &back), -EPROTO);
}

static void
test_type_names(void)
{
	CHECK(strcmp(proto_type_name(MSG_HELLO), "hello") == 0);
	CHECK(strcmp(proto_type_name(MSG_BLOB_CREATE), "blob-create") == 0);
	CHECK(strcmp(proto_type_name(MSG_NAME_LIST), "name-list") == 0);
	CHECK(strcmp(proto_type_name(0), "unknown") == 0);
	CHECK(strcmp(proto_type_name(999), "unknown") == 0);
}

/* The one list of types (PROTO_TYPES) gives every type a distinct number
 * and a distinct name, and proto_type_name answers from it. */
static void
test_type_table(void)
{
	static const struct { unsigned type; const char *name; } t[] = {
#define ROW_(sym, num, name, handler) { sym, name },
		PROTO_TYPES(ROW_)
#undef ROW_
	};
	size_t n = sizeof(t) / sizeof(t[0]), i, j;

	CHECK_EQ((int)n, 35);
	for (i = 0; i < n; i++) {
		CHECK(t[i].type != 0 && t[i].type <= 0xffff);
		CHECK(strcmp(proto_type_name(t[i].type), t[i].name) == 0);
		CHECK(strcmp(t[i].name, "unknown") != 0);
		for (j = i + 1; j < n; j++) {
			CHECK(t[i].type != t[j].type);
			CHECK(strcmp(t[i].name, t[j].name) != 0);
		}
	}
	/* the enum is the list: a constant names its row's number */
	CHECK_EQ(MSG_STATUS, 2);
	CHECK_EQ(MSG_UNPERSIST, 206);
	CHECK_EQ(MSG_SPILL, 207);
	CHECK_EQ(MSG_CHMOD, 208);
	CHECK_EQ(MSG_NAME_LIST, 303);
	CHECK_EQ(MSG_GLOBAL_PUT, 402);
}

/* n descriptors of /dev/null, for sending. */
static int *
some_fds(int n)
{
	int *v = calloc((size_t)n, sizeof(int)), i;

	for (i = 0; i < n; i++)
		v[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	return v;
}

static void
close_all(int *v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i] >= 0)
			close(v[i]);
}

static int
same_file(int a, int b)
{
	struct stat x, y;

	return fstat(a, &x) == 0 && fstat(b, &y) == 0 &&
	       x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* Past FDPASS_MAX descriptors go on one-byte carriers after the data;
 * the receiver collects them all, close-on-exec. */
static void
test_fdpass_carriers(void)
{
	enum { N = 400 }; /* two carriers; 800 fds stay under 1024 */
	int sv[2], *out = some_fds(N), in[N], nin = 0, i, bad = 0;
	char msg[] = "reply with many descriptors", buf[sizeof(msg)];
	struct iovec iov = { msg, sizeof(msg) };

	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(fdpass_send_all(sv[0], &iov, 1, out, N), 0);
	CHECK_EQ(fdpass_recv(sv[1], buf, sizeof(buf), in, N, &nin),
		 (ssize_t)sizeof(buf));
	CHECK(memcmp(buf, msg, sizeof(msg)) == 0);
	CHECK_EQ(nin, FDPASS_MAX);
	CHECK_EQ(fdpass_recv_carriers(sv[1], in, N, &nin), 0);
	CHECK_EQ(nin, N);
	for (i = 0; i < nin; i++)
		if (!same_file(in[i], out[i]) ||
		    !(fcntl(in[i], F_GETFD) & FD_CLOEXEC))
			bad++;
	CHECK_EQ(bad, 0);
	close_all(in, nin);
	/* the peer going away mid-carriers is an error, not a hang */
	iov.iov_base = msg;
	iov.iov_len = sizeof(msg);
	CHECK_EQ(fdpass_send_all(sv[0], &iov, 1, out, 10), 0);
	nin = 0;
	CHECK_EQ(fdpass_recv(sv[1], buf, sizeof(buf), in, N, &nin),
		 (ssize_t)sizeof(buf));
	close(sv[0]);
	CHECK_EQ(fdpass_recv_carriers(sv[1], in, 20, &nin), -ECONNRESET);
	close_all(in, nin);
	close(sv[1]);
	close_all(out, N);
	free(out);
}

/* A receiver with room for fewer descriptors than arrive closes the rest
 * (no leak) and says so. */
static void
test_fdpass_overflow(void)
{
	int sv[2], *out = some_fds(5), in[2], nin = 0, before, after, i;
	char byte = 'x';
	struct iovec iov = { &byte, 1 };

	CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CHECK_EQ(fdpass_sendv(sv[0], &iov, 1, out, 5), 1);
	close_all(out, 5);
	before = 0;
	for (i = 0; i < 1024; i++)
		before += fcntl(i, F_GETFD) >= 0;
	CHECK_EQ(fdpass_recv(sv[1], &byte, 1, in, 2, &nin), -EMSGSIZE);
	CHECK_EQ(nin, 2);
	after = 0;
	for (i = 0; i < 1024; i++)
		after += fcntl(i, F_GETFD) >= 0;
	CHECK_EQ(after, before + 2);
	close_all(in, nin);
	/* more than FDPASS_MAX in one message is refused by the sender */
	CHECK_EQ(fdpass_sendv(sv[0], &iov, 1, in, FDPASS_MAX + 1), -EINVAL);
	close(sv[0]);
	close(sv[1]);
	free(out);
}

TEST_MAIN(RUN(test_header_layout); RUN(test_header_checks);
	  RUN(test_type_names); RUN(test_type_table);
	  RUN(test_fdpass_carriers);
	  RUN(test_fdpass_overflow))
