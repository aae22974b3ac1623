/*
 * unsealed: creates a blob, fills part of it, prints "created ID" and
 * then waits forever without sealing, so a test can kill it (SIGKILL)
 * between create and seal.
 *
 *   unsealed LEN [map]
 *
 * With "map" the blob is filled through a writable mapping (which the
 * process still holds when it dies); otherwise with vy_writer_write.
 */
#include <inttypes.h>

#include "helpers.h"

int
main(int argc, char **argv)
{
	struct vy_client *c = must_connect();
	struct vy_writer *w;
	char idbuf[VY_ID_STRLEN];
	size_t len;
	int rc;

	if (argc < 2)
		die("usage: unsealed LEN [map]");
	len = strtoull(argv[1], NULL, 0);
	rc = vy_blob_create(c, len, &w);
	if (rc)
		die("create: %s", vy_errmsg(c));
	if (argc > 2 && strcmp(argv[2], "map") == 0) {
		char *p = vy_writer_data(w);

		if (!p)
			die("map: %s", strerror(errno));
		memset(p, 'u', len);
	} else if ((rc = vy_writer_write(w, 0, "partial", len < 7 ? len : 7))) {
		die("write: %s", strerror(-rc));
	}
	/* The id of an unsealed large blob is not public; print a marker. */
	(void)idbuf;
	printf("created\n");
	fflush(stdout);
	for (;;)
		pause();
}
