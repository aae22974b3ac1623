/*
 * remote: the bytes of a blob another instance of the cluster holds, for
 * its objects/<id>/data file. The open copies the blob into this store
 * through the daemon's fetcher (src/cluster/fetch.h, the transfer a get
 * on the socket would run; opens and gets of one object share it) and
 * then serves it as the local blob it has become: passthrough included.
 *
 * The wait happens on the FUSE worker that took the OPEN, never on a
 * thread the transfer needs: the transfer runs on its own thread, reads
 * only the other instance's --rpc port and writes only this store's
 * memory, and nothing in it waits for the mount, so every other worker
 * keeps answering. (The worker must answer the OPEN itself: passthrough
 * matches a reply to the thread that read its request.) A stopping mount
 * ends the wait within 200 ms.
 *
 * Before it fetches, the open checks the caller against the owner, group
 * and mode the object's record says (as its own instance would): the
 * kernel checks them too (default_permissions), but from attributes it
 * may have kept for a second, and a refused open must cost no transfer.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fs_int.h"
#include "log.h"
#include "meta.h"
#include "banned.h"

/* Is gid one of the caller's groups (its own, or a supplementary one)? */
static int
caller_in_group(fuse_req_t req, gid_t own, uint32_t gid)
{
	gid_t groups[256];
	int n, i;

	if (own == gid)
		return 1;
	/* from /proc: fails (0) if the caller is gone, which only narrows */
	n = fuse_req_getgroups(req, 256, groups);
	for (i = 0; i < n && i < 256; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

int
fs_remote_may_read(fuse_req_t req, struct fs *fs, const struct fs_remote *r)
{
	const struct fuse_ctx *cx = fuse_req_ctx(req);
	struct store_perm p;
	unsigned m;

	/* root and the daemon's own user may read everything, as on the
	 * socket */
	if (!cx || cx->uid == 0 || cx->uid == fs->uid)
		return 0;
	fs_remote_perm(fs, r, &p);
	if (cx->uid == p.uid)
		m = p.mode >> 6;
	else if (caller_in_group(req, cx->gid, p.gid))
		m = p.mode >> 3;
	else
		m = p.mode;
	return (m & 04) ? 0 : -EACCES;
}

int
fs_remote_fetch(struct fs *fs, uint64_t id)
{
	char msg[480] = "", idbuf[META_ID_LEN];
	int rc;

	if (!fs->cluster || !fs->cluster->fetch)
		return -EREMOTE;
	rc = fs->cluster->fetch(fs->cluster_ctx, id, &fs->stopping, msg,
				sizeof(msg));
	if (rc) {
		/* open(2) has only the errno: the sentence goes to the
		 * log */
		meta_id_format(id, idbuf);
		log_warnx("fs: open of objects/%s/data: %s", idbuf,
			  *msg ? msg : strerror(-rc));
	}
	return rc;
}
