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
 */
#include <errno.h>
#include <string.h>

#include "fs_int.h"
#include "log.h"
#include "meta.h"
#include "banned.h"

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
