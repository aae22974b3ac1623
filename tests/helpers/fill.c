/*
 * fill: puts blobs of SIZE bytes until the daemon says its memory limit is
 * reached, writing every byte through a writable mapping of the blob (the
 * way that would die of SIGBUS if pages were not reserved at create).
 *
 *   fill SIZE [MAX]
 *
 * Prints "stored=N", the ids ("id=...", each blob filled with its index
 * byte), "error=..." with the daemon's sentence, and "errno=ENOSPC" when
 * the stop was the limit. Exits 0 only if it stopped on ENOSPC.
 */
#include <inttypes.h>

#include "helpers.h"

int
main(int argc, char **argv)
{
	struct vy_client *c = must_connect();
	size_t size, max, n = 0;
	int rc = 0;

	if (argc < 2)
		die("usage: fill SIZE [MAX]");
	size = strtoull(argv[1], NULL, 0);
	max = argc > 2 ? strtoull(argv[2], NULL, 0) : 100000;
	while (n < max) {
		struct vy_writer *w;
		char idbuf[VY_ID_STRLEN];
		vy_id id;
		char *p;

		rc = vy_blob_create(c, size, &w);
		if (rc)
			break;
		p = vy_writer_data(w);
		if (!p)
			die("map: %s", strerror(errno));
		memset(p, (int)(n & 0xff), size);
		rc = vy_blob_seal(c, w, &id);
		if (rc)
			break;
		vy_id_format(id, idbuf);
		printf("id=%s\n", idbuf);
		n++;
	}
	printf("stored=%zu\n", n);
	if (rc) {
		printf("error=%s\n", vy_errmsg(c));
		printf("errno=%s\n", rc == -ENOSPC ? "ENOSPC" : strerror(-rc));
	}
	/* The connection is still good after the refusal. */
	if (rc == -ENOSPC) {
		char *json;

		if (vy_status_json(c, &json))
			die("status after ENOSPC: %s", vy_errmsg(c));
		free(json);
	}
	vy_close(c);
	return rc == -ENOSPC ? 0 : 1;
}
