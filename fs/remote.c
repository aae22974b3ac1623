/*
 * remote: the bytes of a blob another instance of the cluster holds, for
 * its objects/<id>/data file. One function, the only place the mount
 * reaches past this daemon's store: today it cannot fetch bytes, so the
 * open fails with EREMOTE ("Object is remote") while meta.json and
 * typename of the same directory read fine. A version that fetches them
 * (from the owner's TCP front) fills f->buf and f->len with the bytes and
 * returns 0; ops_file.c then serves reads from that copy.
 */
#include <errno.h>

#include "fs_int.h"
#include "banned.h"

int
fs_remote_blob_open(struct fs *fs, uint64_t id, struct fs_file *f)
{
	(void)fs;
	(void)id;
	(void)f;
	return -EREMOTE;
}
