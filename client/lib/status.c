/*
 * status: the daemon's figures for the client: vy_status (a typed struct)
 * and vy_status_json (the JSON text), both decoded from the one status
 * reply by src/wire/status.c, which also renders the JSON; and vy_version.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "status.h"
#include "banned.h"

VY_API const char *
vy_version(void)
{
	return VY_VERSION;
}

/* One round trip: the daemon's figures into st. */
static int
status_get(struct vy_client *c, struct status *st)
{
	struct vy_reply rep;
	struct cr r;
	int rc;

	vy__req(c);
	cw_array(&c->req, 0);
	rc = vy__rt(c, MSG_STATUS, 0, &rep);
	if (rc)
		return rc;
	cr_init(&r, rep.body, rep.len);
	if (status_decode(&r, st))
		return vy__malformed(c, "status");
	return 0;
}

/* The public struct and the strings it points to, freed together. */
struct status_block {
	struct vy_status pub; /* first: the block's address is its */
	struct status st;
};

VY_API int
vy_status(struct vy_client *c, struct vy_status **out)
{
	struct status_block *b;
	int rc;

	*out = NULL;
	rc = vy__enter(c);
	if (rc)
		return rc;
	b = calloc(1, sizeof(*b));
	rc = b ? status_get(c, &b->st) : vy__fail(c, -ENOMEM, "out of memory");
	vy__leave(c);
	if (rc) {
		free(b);
		return rc;
	}
	/* Field by field by name: a figure the wire gains without a field
	 * in struct vy_status does not compile. */
#define PUB_U_(name) b->pub.name = b->st.name;
#define PUB_S_(name, cap) b->pub.name = b->st.name[0] ? b->st.name : NULL;
	STATUS_FIELDS(PUB_U_, PUB_S_)
#undef PUB_U_
#undef PUB_S_
	*out = &b->pub;
	return 0;
}

VY_API int
vy_status_json(struct vy_client *c, char **json)
{
	struct status *st;
	struct cw w;
	int rc;

	*json = NULL;
	rc = vy__enter(c);
	if (rc)
		return rc;
	st = malloc(sizeof(*st));
	rc = st ? status_get(c, st) : vy__fail(c, -ENOMEM, "out of memory");
	if (rc == 0) {
		cw_init(&w);
		rc = status_json(st, &w);
		cw_raw(&w, "", 1);
		if (rc == 0 && cw_finish(&w) == 0) {
			*json = (char *)w.buf;
		} else {
			cw_release(&w);
			rc = vy__fail(c, -ENOMEM, "out of memory");
		}
	}
	vy__leave(c);
	free(st);
	return rc;
}
