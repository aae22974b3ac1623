/*
 * ctl_get: `vineyardctl get`: a blob's bytes to stdout or to a file,
 * written beside the target and renamed into place.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "banned.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Over TCP the bytes come in pieces of this many, the next ones already
 * on their way while one is written out (vy_blob_read_pieces); a buffer
 * this small stays in the CPU's cache between the socket and the write. */
#define TCP_PIECE (4u << 20)

/* The buffer TCP reads land in, faulted in before they do, in huge pages
 * where the kernel gives them: a fault per 4 KiB page taken inside recv()
 * cost more than the transfer on virtual machines. NULL when none. */
static char *
copy_buffer(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	madvise(p, len, MADV_HUGEPAGE);
	madvise(p, len, MADV_POPULATE_WRITE);
	return p;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len > CHUNK ? CHUNK : len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Where vy_blob_read_pieces hands each piece: written out, with the
 * progress shown; a write error is kept and stops the read (1). */
struct sink {
	int fd;
	int err;
	uint64_t done;
	struct progress *pr;
};

static int
write_piece(void *arg, const void *data, size_t n)
{
	struct sink *k = arg;

	if ((k->err = write_all(k->fd, data, n)))
		return 1;
	k->done += n;
	progress_show(k->pr, k->done);
	return 0;
}

int
cmd_get(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "wait", required_argument, NULL, 'w' },
		{ "follow", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int follow = 0, waited = 0;
	const char *out = "-";
	struct vy_client *c;
	struct vy_object *o;
	struct progress pr;
	double wait_s = 0;
	int fd = 1, rc, ch, direct = 0;
	struct stat st;
	vy_id id;
	char tmp[4096];

	while ((ch = getopt_long(argc, argv, "o:w:f", lo, NULL)) != -1) {
		if (ch == 'o')
			out = optarg;
		else if (ch == 'w')
			wait_s = atof(optarg), waited = 1;
		else if (ch == 'f')
			follow = 1;
		else
			return EX_USAGE;
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: %s get ID|NAME [-o FILE|-] "
			"[--wait SECONDS] [--follow]\n", prog);
		return EX_USAGE;
	}
	/* a stream: without --wait, waits for its name and chunks as long
	 * as it takes, as tail -f does */
	if (follow)
		return get_follow(argv[optind], out, waited ?
				  seconds_to_ms(wait_s) : -1);
	c = connect_or_die();
	rc = resolve(c, argv[optind], seconds_to_ms(wait_s), &id);
	/* over TCP the bytes come by copy, below, in pieces: the tree alone
	 * first, and an object another instance holds is copied to the
	 * daemon first (a get would copy it whole into our memory too) */
	if (rc == 0 && vy_is_tcp(c)) {
		rc = vy_get_meta(c, id, &o);
		if (rc == -EREMOTE && (rc = vy_migrate(c, id, &id)) == 0)
			rc = vy_get_meta(c, id, &o);
	} else if (rc == 0) {
		rc = vy_get(c, id, &o);
	}
	if (rc)
		return finish(c, rc, argv[optind]);
	if (!vy_object_is_blob(o)) {
		fprintf(stderr, "%s: %s is a %s, not a blob; see '%s meta %s' "
			"for its members\n", prog, argv[optind],
			vy_object_typename(o), prog, argv[optind]);
		vy_object_release(c, o);
		vy_close(c);
		return EX_FAIL;
	}
	/* A device or a pipe (-o /dev/null) is written to, never replaced:
	 * renaming a file over /dev/null as root broke the machine. */
	if (strcmp(out, "-") != 0 && stat(out, &st) == 0 &&
	    !S_ISREG(st.st_mode)) {
		direct = 1;
		fd = open(out, O_WRONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, out,
				strerror(errno));
			vy_object_release(c, o);
			vy_close(c);
			return EX_FAIL;
		}
	} else if (strcmp(out, "-") != 0) {
		/* Write beside the target, then rename: no half file. */
		snprintf(tmp, sizeof(tmp), "%s.vineyardctl-XXXXXX", out);
		fd = mkstemp(tmp);
		if (fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, out,
				strerror(errno));
			vy_object_release(c, o);
			vy_close(c);
			return EX_FAIL;
		}
	}
	progress_init(&pr, out, vy_object_nbytes(o));
	if (vy_is_tcp(c)) {
		/* the bytes come by copy, in pieces, into one small buffer */
		struct sink k = { fd, 0, 0, &pr };
		char *buf = copy_buffer(TCP_PIECE);
		uint64_t got = 0;
		int e = buf ? vy_blob_read_pieces(c, id, 0, vy_object_nbytes(o),
						  buf, TCP_PIECE, write_piece,
						  &k, &got) : -ENOMEM;

		if (buf)
			munmap(buf, TCP_PIECE);
		if (e == 0 && got != vy_object_nbytes(o))
			e = -EIO;	/* the blob is shorter than its meta */
		if (e && e != 1) {
			rc = fail(c, e, argv[optind]);
			vy_object_release(c, o);
			vy_close(c);
			if (fd != 1) {
				close(fd);
				if (!direct)
					unlink(tmp);
			}
			return rc;
		}
		rc = k.err;
	} else {
		const char *p = vy_object_data(o);
		uint64_t len = vy_object_nbytes(o), done = 0;

		while (rc == 0 && done < len) {
			size_t n = len - done > CHUNK ? CHUNK :
				   (size_t)(len - done);

			rc = write_all(fd, p + done, n);
			done += n;
			progress_show(&pr, done);
		}
	}
	vy_object_release(c, o);
	vy_close(c);
	if (fd != 1 && direct) {
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
	} else if (fd != 1) {
		if (rc == 0 && (fsync(fd) < 0 || fchmod(fd, 0644) < 0))
			rc = -errno;
		if (close(fd) < 0 && rc == 0)
			rc = -errno;
		if (rc == 0 && rename(tmp, out) < 0)
			rc = -errno;
		if (rc)
			unlink(tmp);
	}
	if (rc) {
		fprintf(stderr, "%s: writing %s: %s\n", prog, out,
			strerror(-rc));
		return EX_FAIL;
	}
	return EX_OK;
}
