/*
 * namewait: gets an object by a name that may not exist yet, waiting up
 * to TIMEOUT_MS for a producer to bind it (vy_get_by_name), or resolves
 * the name only (vy_name_get) with "--id".
 *
 *   namewait NAME TIMEOUT_MS [--id]
 *
 * Prints "waiting" once the request is sent, then "len=" and "sum=" of
 * the blob it got (or "id="), or "error=" and "rc=". Exits 0 on success,
 * 6 on -ETIMEDOUT, 1 otherwise.
 */
#include <inttypes.h>

#include "helpers.h"

int
main(int argc, char **argv)
{
	struct vy_client *c = must_connect();
	struct vy_object *o;
	vy_id id;
	int rc;

	if (argc < 3)
		die("usage: namewait NAME TIMEOUT_MS [--id]");
	printf("waiting\n");
	fflush(stdout);
	if (argc > 3 && strcmp(argv[3], "--id") == 0) {
		rc = vy_name_get(c, argv[1], atoi(argv[2]), &id);
		if (rc == 0) {
			char buf[VY_ID_STRLEN];

			vy_id_format(id, buf);
			printf("id=%s\n", buf);
		}
	} else {
		rc = vy_get_by_name(c, argv[1], atoi(argv[2]), &o);
		if (rc == 0) {
			printf("len=%" PRIu64 "\nsum=%016" PRIx64 "\n",
			       vy_object_nbytes(o),
			       fnv(vy_object_data(o), vy_object_nbytes(o)));
			vy_object_release(c, o);
		}
	}
	if (rc)
		printf("rc=%d\nerror=%s\n", rc, vy_errmsg(c));
	/* the connection is still usable after a timeout */
	if (rc == -ETIMEDOUT) {
		char *json;

		if (vy_status_json(c, &json))
			die("status after timeout: %s", vy_errmsg(c));
		free(json);
	}
	vy_close(c);
	return rc == 0 ? 0 : rc == -ETIMEDOUT ? 6 : 1;
}
