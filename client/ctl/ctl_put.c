/*
 * ctl_put: `vineyardctl put`: a file or stdin into one blob, optionally
 * named and persisted as part of the same put, with the mode asked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "banned.h"

int
cmd_put(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "persist", no_argument, NULL, 'p' },
		{ "mode", required_argument, NULL, 'm' },
		{ "stream", no_argument, NULL, 'S' },
		{ "chunk-size", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "readers", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned mode = VY_MODE_DEFAULT, clear, set;
	int stream = 0;
	double timeout_s = 60;
	size_t chunk = 4u << 20;
	unsigned readers = 0;
	const char *name = NULL, *path;
	struct vy_client *c;
	struct vy_writer *w;
	struct progress pr;
	struct stat st;
	int persist = 0, fd, rc, ch;
	char idbuf[VY_ID_STRLEN];
	vy_id id = 0;
	uint64_t done = 0;

	while ((ch = getopt_long(argc, argv, "n:pm:", lo, NULL)) != -1) {
		char *end;

		if (ch == 'n') {
			name = optarg;
		} else if (ch == 'p') {
			persist = 1;
		} else if (ch == 'S') {
			stream = 1;
		} else if (ch == 'r') {
			unsigned long v = strtoul(optarg, &end, 10);

			if (end == optarg || *end || v > 10000) {
				fprintf(stderr, "%s: put: --readers %s: "
					"expected a count\n", prog, optarg);
				return EX_USAGE;
			}
			readers = (unsigned)v;
		} else if (ch == 't') {
			timeout_s = strtod(optarg, &end);
			if (end == optarg || *end || timeout_s < 0) {
				fprintf(stderr, "%s: put: --timeout %s: "
					"expected seconds\n", prog, optarg);
				return EX_USAGE;
			}
		} else if (ch == 'c') {
			unsigned long long v = strtoull(optarg, &end, 10);

			if (*end == 'K' || *end == 'k')
				v <<= 10, end++;
			else if (*end == 'M' || *end == 'm')
				v <<= 20, end++;
			if (end == optarg || *end || v == 0 ||
			    v > (1ull << 30)) {
				fprintf(stderr, "%s: put: --chunk-size %s: "
					"expected 1 byte to 1G, e.g. 4M\n",
					prog, optarg);
				return EX_USAGE;
			}
			chunk = (size_t)v;
		} else if (ch == 'm') {
			/* Symbolic modes change the default, 0640. */
			if (parse_mode(optarg, &clear, &set))
				return EX_USAGE;
			mode = (VY_MODE_DEFAULT & ~clear) | set;
		} else {
			return EX_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: %s put FILE|- [--name NAME] "
			"[--persist] [--mode MODE] | --stream [--chunk-size SIZE] "
			"[--timeout SECONDS] [--readers N]\n", prog);
		return EX_USAGE;
	}
	path = argv[optind];
	if (stream && persist) {
		fprintf(stderr, "%s: put: --persist does not go with "
			"--stream; persist the stream once it finished "
			"(%s persist NAME)\n", prog, prog);
		return EX_USAGE;
	}
	if (stream)
		return put_stream(path, name, chunk, timeout_s == 0 ? -1 :
				  seconds_to_ms(timeout_s), readers, mode);
	if (strcmp(path, "-") == 0) {
		fd = 0;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, path,
				strerror(errno));
			return errno == ENOENT ? EX_NOTFOUND : EX_FAIL;
		}
	}
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: %s: %s\n", prog, path,
			S_ISDIR(st.st_mode) ? "is a directory" :
			strerror(errno));
		return EX_FAIL;
	}
	c = connect_or_die();
	if ((rc = vy_set_mode(c, mode)))
		return finish(c, rc, "put");
	if (!S_ISREG(st.st_mode) || vy_is_tcp(c)) {
		/* A stream of unknown length (or a TCP daemon, which takes
		 * bytes by copy): gather it, then one put. */
		size_t cap = 1u << 20, len = 0;
		char *buf = malloc(cap);
		ssize_t n;

		while (buf && (n = read(fd, buf + len, cap - len)) != 0) {
			if (n < 0) {
				if (errno == EINTR)
					continue;
				fprintf(stderr, "%s: reading %s: %s\n", prog,
					path, strerror(errno));
				free(buf);
				vy_close(c);
				return EX_FAIL;
			}
			len += (size_t)n;
			if (len == cap) {
				char *nb = realloc(buf, cap * 2);

				if (!nb)
					free(buf);
				buf = nb;
				cap *= 2;
			}
		}
		if (!buf) {
			fprintf(stderr, "%s: out of memory reading %s\n", prog,
				path);
			vy_close(c);
			return EX_FAIL;
		}
		if (vy_is_tcp(c)) {
			rc = vy_put_blob(c, buf, len, &id);
			w = NULL;
		} else {
			rc = vy_blob_create(c, len, &w);
			if (rc == 0)
				rc = vy_writer_write(w, 0, buf, len);
		}
		free(buf);
	} else {
		progress_init(&pr, path, (uint64_t)st.st_size);
		rc = vy_blob_create(c, (size_t)st.st_size, &w);
		while (rc == 0 && done < (uint64_t)st.st_size) {
			size_t k = (uint64_t)st.st_size - done > CHUNK ? CHUNK :
				   (size_t)((uint64_t)st.st_size - done);

			rc = vy_writer_write_fd(w, (size_t)done, fd, k);
			if (rc == -ENODATA) {
				vy_blob_abort(c, w);
				fprintf(stderr, "%s: %s shrank while being "
					"read\n", prog, path);
				vy_close(c);
				return EX_FAIL;
			}
			done += k;
			progress_show(&pr, done);
		}
		if (st.st_size == 0)
			progress_show(&pr, 0);
	}
	if (fd > 0)
		close(fd);
	if (rc) {
		if (w && rc != -ENOSPC)
			vy_blob_abort(c, w);
		return finish(c, rc, "put");
	}
	rc = id ? 0 : vy_blob_seal(c, w, &id);
	if (rc)
		return finish(c, rc, "put");
	/* Name and persist are part of the put: if either fails, the blob
	 * goes again rather than staying behind unnamed. */
	if (name)
		rc = vy_name_put(c, name, id);
	if (rc == 0 && persist)
		rc = vy_persist(c, id);
	if (rc) {
		char msg[600];

		snprintf(msg, sizeof(msg), "%s", vy_errmsg(c));
		vy_delete(c, &id, 1, 0, NULL);
		fprintf(stderr, "%s: put: %s\n", prog, msg);
		vy_close(c);
		return exit_code(rc);
	}
	vy_id_format(id, idbuf);
	if (opt_json)
		printf("{\"id\": \"%s\"}\n", idbuf);
	else
		printf("%s\n", idbuf);
	vy_close(c);
	return EX_OK;
}
