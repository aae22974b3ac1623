/*
 * migrate: objects of other instances of the daemon's cluster, from the
 * client's side (vineyard-cluster(7)). vy_migrate asks the daemon to copy
 * one here and gives the local id; vy_get_opts is a get that may refuse to
 * fetch (VY_GET_NOFETCH). Plain vy_get and vy_get_by_name fetch on demand.
 */
#include <errno.h>
#include <stdlib.h>

#include "client_int.h"
#include "banned.h"

static int
migrate(struct vy_client *c, vy_id id, const char *name, vy_id *local)
{
	struct vy_reply rep;
	int rc = vy__enter(c);

	if (rc)
		return rc;
	if (!name || !(rc = vy__check_name(c, name))) {
		vy__req(c);
		cw_array(&c->req, 2);
		cw_uint(&c->req, name ? 0 : id);
		vy__str_or_null(&c->req, name);
		rc = vy__rt(c, MSG_MIGRATE, 0, &rep);
		if (rc == 0)
			rc = vy__reply_uint(c, &rep, "migrate", local);
	}
	vy__leave(c);
	return rc;
}

VY_API int
vy_migrate(struct vy_client *c, vy_id id, vy_id *local)
{
	return migrate(c, id, NULL, local);
}

VY_API int
vy_migrate_by_name(struct vy_client *c, const char *name, vy_id *local)
{
	return migrate(c, 0, name, local);
}

VY_API int
vy_get_opts(struct vy_client *c, vy_id id, const char *name, int timeout_ms,
	    unsigned flags, struct vy_object **out)
{
	unsigned wire = 0;

	if (flags & ~(unsigned)VY_GET_NOFETCH) {
		*out = NULL;
		return vy__fail(c, -EINVAL, "vy_get_opts: unknown flags");
	}
	if (flags & VY_GET_NOFETCH)
		wire |= GET_F_NOFETCH;
	return vy__get(c, id, name, timeout_ms, wire, out);
}
