/*
 * store_perm: who may do what. Every object has an owner, a group and a
 * mode of read and write bits; every client connection (a store owner)
 * carries the credentials the kernel gave for it. The rule is the one the
 * kernel applies to files, so that the FUSE view, where the kernel itself
 * checks the modes the view shows, agrees with the socket: the owner's
 * bits when the user ids match, else the group's when the object's group
 * is one of the client's, else everybody else's. Root and the daemon's own
 * user may do everything, and so may an owner without credentials (the
 * FUSE view's own, tests).
 *
 * Credentials are read once per connection, so a check is a few compares
 * and a scan of the client's groups: no system call, no round trip.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_int.h"
#include "banned.h"

void
store_owner_cred(struct store *s, struct store_owner *ow, uint32_t uid,
		 uint32_t gid, const uint32_t *groups, size_t ngroups)
{
	/* Root and the daemon's user are not checked at all. */
	ow->has_cred = 1;
	ow->checked = uid != 0 && uid != s->uid;
	ow->uid = uid;
	ow->gid = gid;
	free(ow->groups);
	ow->groups = NULL;
	ow->ngroups = 0;
	if (ngroups) {
		ow->groups = xcalloc(ngroups, sizeof(*ow->groups));
		memcpy(ow->groups, groups, ngroups * sizeof(*groups));
		ow->ngroups = ngroups;
	}
}

void
store_owner_anon(struct store *s, struct store_owner *ow)
{
	store_owner_cred(s, ow, STORE_ANON_ID, STORE_ANON_ID, NULL, 0);
	ow->checked = 1;
}

static int
in_group(const struct store_owner *ow, uint32_t gid)
{
	size_t i;

	if (ow->gid == gid)
		return 1;
	for (i = 0; i < ow->ngroups; i++)
		if (ow->groups[i] == gid)
			return 1;
	return 0;
}

int
obj_may(const struct store_owner *ow, const struct object *o, unsigned want)
{
	unsigned m;

	if (!ow || !ow->checked)
		return 1;
	if (ow->uid == o->uid)
		m = o->mode >> 6;
	else if (in_group(ow, o->gid))
		m = o->mode >> 3;
	else
		m = o->mode;
	return (m & want) == want;
}

int
owner_is(const struct store_owner *ow, uint32_t uid)
{
	return !ow || !ow->checked || ow->uid == uid;
}

int
perm_deny(const struct store_owner *ow, const struct object *o,
	  const char *what)
{
	char idbuf[META_ID_LEN];

	meta_id_format(o->id, idbuf);
	return store_fail(-EACCES, "permission denied: object %s belongs to "
			  "uid %" PRIu32 " (group %" PRIu32 ", mode %04o); "
			  "uid %" PRIu32 " may not %s it", idbuf, o->uid,
			  o->gid, (unsigned)o->mode, ow ? ow->uid : 0, what);
}

void
obj_set_owner(struct store *s, struct object *o, const struct store_owner *ow,
	      unsigned mode)
{
	if (ow && ow->has_cred) {
		o->uid = ow->uid;
		o->gid = ow->gid;
	} else {
		o->uid = s->uid;
		o->gid = s->gid;
	}
	o->mode = (uint16_t)(mode & STORE_MODE_BITS);
}

int
mode_check(unsigned mode)
{
	if (mode & ~STORE_MODE_BITS)
		return store_fail(-EINVAL, "mode %04o: an object's mode has "
				  "only read (4) and write (2) bits for the "
				  "owner, the group and others, at most 0666",
				  mode);
	return 0;
}

void
obj_disk_owner(const struct object *o, struct diskfmt_owner *out)
{
	out->uid = o->uid;
	out->gid = o->gid;
	out->mode = o->mode;
}

int
store_perm(struct store *s, uint64_t id, struct store_perm *out)
{
	struct object *o;
	int rc = 0;

	store_lock(s);
	o = store_lookup(s, id);
	if (o) {
		out->uid = o->uid;
		out->gid = o->gid;
		out->mode = o->mode;
	} else {
		rc = -ENOENT;
	}
	store_unlock(s);
	return rc;
}

int
store_may_read(struct store *s, struct store_owner *ow, uint64_t id,
	       const char *what)
{
	struct object *o;
	int rc = 0;

	store_lock(s);
	o = store_lookup(s, id);
	if (!o)
		rc = -ENOENT;
	else if (!obj_may(ow, o, PERM_R))
		rc = perm_deny(ow, o, what);
	store_unlock(s);
	return rc;
}

int
store_may_read_perm(struct store *s, struct store_owner *ow, uint64_t id,
		    const struct store_perm *p, const char *what)
{
	struct object o;

	(void)s;
	/* the same rule and sentence as for an object held here */
	memset(&o, 0, sizeof(o));
	o.id = id;
	o.uid = p->uid;
	o.gid = p->gid;
	o.mode = p->mode;
	return obj_may(ow, &o, PERM_R) ? 0 : perm_deny(ow, &o, what);
}

struct chmod_walk {
	struct store_owner *ow;
	struct object **v;  /* the objects to change, each once */
	size_t n, cap;
	int rc;
};

static int
chmod_one(struct store *s, struct object *o, void *ctx)
{
	struct chmod_walk *c = ctx;
	size_t i;

	(void)s;
	if (c->rc)
		return 0;
	for (i = 0; i < c->n; i++)
		if (c->v[i] == o)
			return 0; /* shared by two roots of the batch */
	if (!owner_is(c->ow, o->uid)) {
		c->rc = perm_deny(c->ow, o, "change the mode of");
		return 0;
	}
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 16;
		c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
	}
	c->v[c->n++] = o;
	return 1;
}

static int
chmod_root(struct store *s, struct object *o, void *ctx)
{
	/* Not the tree: the walk stops at the root. */
	chmod_one(s, o, ctx);
	return 0;
}

int
store_chmod(struct store *s, struct store_owner *ow, const uint64_t *ids,
	    size_t n, unsigned clear, unsigned set, unsigned flags,
	    size_t *count, uint64_t *ticket)
{
	struct chmod_walk c;
	struct pjob *job = NULL;
	uint64_t tk;
	size_t i;
	int rc;

	*count = 0;
	if (ticket)
		*ticket = 0;
	if ((rc = mode_check(clear)) || (rc = mode_check(set)))
		return rc;
	memset(&c, 0, sizeof(c));
	c.ow = ow;
	store_lock(s);
	/* Every object is checked before any changes. */
	for (i = 0; i < n && !c.rc; i++) {
		struct object *o = store_lookup(s, ids[i]);

		if (!o) {
			c.rc = -ENOENT;
			break;
		}
		store_walk(s, o, (flags & CHMOD_F_TREE) ? chmod_one :
			   chmod_root, &c);
	}
	rc = c.rc;
	for (i = 0; rc == 0 && i < c.n; i++) {
		struct object *o = c.v[i];
		uint16_t mode = (uint16_t)((o->mode & ~clear) | set);

		if (mode == o->mode)
			continue;
		o->mode = mode;
		(*count)++;
		store_notify(s, STORE_EV_PERM, o->id, NULL);
		/* persistence: the header of its content file says it */
		if (pobj_of(s, o->id)) {
			struct pjob *j = job_get(&job);

			ids_add(&j->reown, &j->nreown, o->id);
		}
	}
	tk = job_submit(s, job, 0);
	store_unlock(s);
	if (ticket)
		*ticket = tk;
	free(c.v);
	return rc;
}
