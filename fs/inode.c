/*
 * inode: fuse_ino_t <-> (kind, object id, target, entry name), with the
 * kernel's lookup counts. Two indexes over the same records: an idtab by
 * inode number (it mixes the bits, so sequential numbers spread) and a
 * chained hash by key. Numbers are handed out in increasing order and never
 * reused while the daemon runs, so a number the kernel still remembers
 * cannot come to mean something else.
 *
 * The FUSE contract this follows: every successful LOOKUP reply and every
 * READDIRPLUS entry other than "." and ".." adds one lookup; FORGET takes
 * some away; an inode may go only when its count is zero.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "inode.h"
#include "log.h"
#include "xmalloc.h"
#include "banned.h"

static uint64_t
key_hash(int kind, uint64_t id, uint64_t target, const char *name,
	 size_t namelen)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (uint64_t)kind;
	size_t i;

	h = (h ^ id) * 0x100000001b3ull;
	h = (h ^ target) * 0x100000001b3ull;
	for (i = 0; i < namelen; i++)
		h = (h ^ (unsigned char)name[i]) * 0x100000001b3ull;
	return h ^ (h >> 29);
}

static int
key_eq(const struct inode *n, int kind, uint64_t id, uint64_t target,
       const char *name, size_t namelen)
{
	return n->kind == kind && n->id == id && n->target == target &&
	       n->namelen == namelen &&
	       (namelen == 0 || memcmp(n->name, name, namelen) == 0);
}

void
inode_tab_init(struct inode_tab *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	idtab_init(&t->byino);
	t->hcap = 1024;
	t->hash = xcalloc(t->hcap, sizeof(*t->hash));
	t->next_ino = INO_FIRST_DYNAMIC;
}

void
inode_tab_release(struct inode_tab *t)
{
	struct inode *n;
	size_t pos = 0;

	if (!t->hash)
		return;
	while ((n = idtab_next(&t->byino, &pos)))
		free(n);
	idtab_release(&t->byino);
	free(t->hash);
	t->hash = NULL;
	pthread_mutex_destroy(&t->lock);
}

static void
grow(struct inode_tab *t)
{
	size_t ncap = t->hcap * 2, i;
	struct inode **nh = xcalloc(ncap, sizeof(*nh));

	for (i = 0; i < t->hcap; i++) {
		struct inode *n = t->hash[i], *next;

		for (; n; n = next) {
			size_t b = key_hash(n->kind, n->id, n->target, n->name,
					    n->namelen) & (ncap - 1);

			next = n->hnext;
			n->hnext = nh[b];
			nh[b] = n;
		}
	}
	free(t->hash);
	t->hash = nh;
	t->hcap = ncap;
}

static uint64_t
fixed_ino(int kind)
{
	switch (kind) {
	case IK_ROOT: return INO_ROOT;
	case IK_OBJECTS: return INO_OBJECTS;
	case IK_NAMES: return INO_NAMES;
	case IK_STATUS: return INO_STATUS;
	case IK_CLUSTER: return INO_CLUSTER;
	default: return 0;
	}
}

static struct inode *
find_locked(struct inode_tab *t, int kind, uint64_t id, uint64_t target,
	    const char *name, size_t namelen)
{
	size_t b = key_hash(kind, id, target, name, namelen) & (t->hcap - 1);
	struct inode *n;

	for (n = t->hash[b]; n; n = n->hnext)
		if (key_eq(n, kind, id, target, name, namelen))
			return n;
	return NULL;
}

uint64_t
inode_ref(struct inode_tab *t, int kind, uint64_t id, uint64_t target,
	  const char *name, size_t namelen, uint64_t size)
{
	uint64_t ino = fixed_ino(kind);
	struct inode *n;
	size_t b;

	if (ino)
		return ino;
	if (!name)
		namelen = 0;
	pthread_mutex_lock(&t->lock);
	n = find_locked(t, kind, id, target, name, namelen);
	if (!n) {
		n = xmalloc(sizeof(*n) + namelen + 1);
		memset(n, 0, sizeof(*n));
		n->ino = t->next_ino++;
		n->kind = (uint8_t)kind;
		n->id = id;
		n->target = target;
		n->namelen = (uint16_t)namelen;
		if (namelen)
			memcpy(n->name, name, namelen);
		n->name[namelen] = 0;
		if (idtab_put(&t->byino, n))
			fatalx("fs: out of memory growing the inode table");
		if (t->count + 1 > t->hcap)
			grow(t);
		b = key_hash(kind, id, target, name, namelen) & (t->hcap - 1);
		n->hnext = t->hash[b];
		t->hash[b] = n;
		t->count++;
	}
	n->nlookup++;
	n->size = size;
	ino = n->ino;
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void
inode_forget(struct inode_tab *t, uint64_t ino, uint64_t nl)
{
	struct inode *n, **pp;
	size_t b;

	if (ino < INO_FIRST_DYNAMIC)
		return;
	pthread_mutex_lock(&t->lock);
	n = idtab_get(&t->byino, ino);
	if (!n)
		goto out;
	if (n->nlookup < nl) {
		log_warnx("fs: inode %llu forgotten %llu times, looked up "
			  "%llu", (unsigned long long)ino,
			  (unsigned long long)nl,
			  (unsigned long long)n->nlookup);
		nl = n->nlookup;
	}
	n->nlookup -= nl;
	if (n->nlookup)
		goto out;
	idtab_del(&t->byino, ino);
	b = key_hash(n->kind, n->id, n->target, n->name, n->namelen) &
	    (t->hcap - 1);
	for (pp = &t->hash[b]; *pp != n; pp = &(*pp)->hnext)
		;
	*pp = n->hnext;
	t->count--;
	free(n);
out:
	pthread_mutex_unlock(&t->lock);
}

static int
fixed_info(uint64_t ino, struct inode_info *out)
{
	static const int kinds[] = { 0, IK_ROOT, IK_OBJECTS, IK_NAMES,
				     IK_STATUS, IK_CLUSTER };

	if (ino == 0 || ino > INO_CLUSTER)
		return 0;
	memset(out, 0, sizeof(*out));
	out->ino = ino;
	out->kind = kinds[ino];
	return 1;
}

int
inode_get(struct inode_tab *t, uint64_t ino, struct inode_info *out)
{
	struct inode *n;
	int rc = 0;

	if (fixed_info(ino, out))
		return 0;
	pthread_mutex_lock(&t->lock);
	n = idtab_get(&t->byino, ino);
	if (n) {
		out->ino = n->ino;
		out->id = n->id;
		out->target = n->target;
		out->size = n->size;
		out->kind = n->kind;
		out->has_perm = n->has_perm;
		out->uid = n->uid;
		out->gid = n->gid;
		out->mode = n->mode;
	} else {
		rc = -ENOENT;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}

uint64_t
inode_find(struct inode_tab *t, int kind, uint64_t id, uint64_t target,
	   const char *name, size_t namelen)
{
	struct inode *n;
	uint64_t ino = fixed_ino(kind);

	if (ino)
		return ino;
	pthread_mutex_lock(&t->lock);
	n = find_locked(t, kind, id, target, name, name ? namelen : 0);
	ino = n ? n->ino : 0;
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void
inode_set_size(struct inode_tab *t, uint64_t ino, uint64_t size)
{
	struct inode *n;

	pthread_mutex_lock(&t->lock);
	n = ino >= INO_FIRST_DYNAMIC ? idtab_get(&t->byino, ino) : NULL;
	if (n)
		n->size = size;
	pthread_mutex_unlock(&t->lock);
}

void
inode_set_perm(struct inode_tab *t, uint64_t ino, uint32_t uid, uint32_t gid,
	       uint16_t mode)
{
	struct inode *n;

	pthread_mutex_lock(&t->lock);
	n = ino >= INO_FIRST_DYNAMIC ? idtab_get(&t->byino, ino) : NULL;
	if (n) {
		n->uid = uid;
		n->gid = gid;
		n->mode = mode;
		n->has_perm = 1;
	}
	pthread_mutex_unlock(&t->lock);
}
