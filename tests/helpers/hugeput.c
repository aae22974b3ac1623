/*
 * hugeput: puts a file's bytes as one blob the way a large put does, and
 * says how the writer mapped the blob: the kB of it mapped with 2 MiB
 * page-table entries (ShmemPmdMapped + FilePmdMapped of this process's
 * writable mappings of vineyard memfds, read from /proc/self/smaps just
 * before the seal, while the writer's mapping still exists).
 *
 *   hugeput write|fd|data FILE
 *   hugeput get ID
 *
 * write: vy_writer_write of the whole buffer (what vy_put_blob does);
 * fd: vy_writer_write_fd from the open file (vy_put_blob_fd);
 * data: memcpy into vy_writer_data.
 * Prints "pmd_kb=N" and "id=...". Exits 0 when the put succeeded.
 * get: gets blob ID, reads a byte of every page of its mapping, and prints
 * "pmd_kb=N" of the read-only mappings (a get maps blobs aligned too).
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "helpers.h"

/* kB of writable (or read-only) vineyard memfd mappings mapped by PMD
 * entries. */
static long
pmd_kb(int writable)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	long kb = 0, v;
	int ours = 0;

	if (!f)
		die("smaps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, b;
		char perm[8];

		/* a mapping's first line: range perms offset dev inode path */
		if (sscanf(line, "%lx-%lx %7s", &a, &b, perm) == 3) {
			ours = (perm[1] == 'w') == writable &&
			       strstr(line, "/memfd:vineyard-") != NULL;
			continue;
		}
		if (ours && (sscanf(line, "ShmemPmdMapped: %ld kB", &v) == 1 ||
			     sscanf(line, "FilePmdMapped: %ld kB", &v) == 1))
			kb += v;
	}
	fclose(f);
	return kb;
}

int
main(int argc, char **argv)
{
	struct vy_client *c;
	struct vy_writer *w;
	char idbuf[VY_ID_STRLEN];
	struct stat st;
	size_t len, got = 0;
	char *buf;
	vy_id id;
	int fd, rc;

	if (argc != 3)
		die("usage: hugeput write|fd|data FILE | get ID");
	if (strcmp(argv[1], "get") == 0) {
		struct vy_object *o;
		const volatile char *p;
		unsigned sum = 0;

		c = must_connect();
		if (vy_id_parse(argv[2], &id) || vy_get(c, id, &o))
			die("get %s: %s", argv[2], vy_errmsg(c));
		p = vy_object_data(o);
		len = (size_t)vy_object_nbytes(o);
		for (got = 0; p && got < len; got += 4096)
			sum += p[got];
		printf("pmd_kb=%ld\nsum=%u\n", pmd_kb(0), sum);
		vy_object_release(c, o);
		vy_close(c);
		return 0;
	}
	fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		die("%s: %s", argv[2], strerror(errno));
	len = (size_t)st.st_size;
	c = must_connect();
	if (vy_blob_create(c, len, &w))
		die("create: %s", vy_errmsg(c));
	if (strcmp(argv[1], "fd") == 0) {
		rc = vy_writer_write_fd(w, 0, fd, len);
		if (rc)
			die("write_fd: %s", strerror(-rc));
	} else {
		buf = malloc(len);
		if (!buf)
			die("out of memory");
		while (got < len) {
			ssize_t n = read(fd, buf + got, len - got);

			if (n <= 0)
				die("read %s: %s", argv[2],
				    n ? strerror(errno) : "short");
			got += (size_t)n;
		}
		if (strcmp(argv[1], "write") == 0) {
			rc = vy_writer_write(w, 0, buf, len);
			if (rc)
				die("write: %s", strerror(-rc));
		} else if (strcmp(argv[1], "data") == 0) {
			char *p = vy_writer_data(w);

			if (!p)
				die("vy_writer_data: %s", strerror(errno));
			memcpy(p, buf, len);
		} else {
			die("unknown mode %s", argv[1]);
		}
		free(buf);
	}
	printf("pmd_kb=%ld\n", pmd_kb(1));
	if (vy_blob_seal(c, w, &id))
		die("seal: %s", vy_errmsg(c));
	vy_id_format(id, idbuf);
	printf("id=%s\n", idbuf);
	close(fd);
	vy_close(c);
	return 0;
}
