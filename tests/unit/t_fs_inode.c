/*
 * t_fs_inode: the FUSE view's inode table (fs/inode.c): fixed numbers,
 * one inode per key, lookup counting and freeing on forget, name links
 * keyed by their target. Linked with fs/inode.o; no FUSE needed.
 */
#include <errno.h>
#include <string.h>

#include "inode.h"
#include "test.h"
#include "banned.h"

static void
fixed_inodes(void)
{
	struct inode_tab t;
	struct inode_info ii;

	inode_tab_init(&t);
	CHECK_EQ(inode_ref(&t, IK_ROOT, 0, 0, NULL, 0, 0), INO_ROOT);
	CHECK_EQ(inode_ref(&t, IK_OBJECTS, 0, 0, NULL, 0, 0), INO_OBJECTS);
	CHECK_EQ(inode_ref(&t, IK_NAMES, 0, 0, NULL, 0, 0), INO_NAMES);
	CHECK_EQ(inode_ref(&t, IK_STATUS, 0, 0, NULL, 0, 9), INO_STATUS);
	CHECK_EQ(inode_ref(&t, IK_CLUSTER, 0, 0, NULL, 0, 9), INO_CLUSTER);
	CHECK_EQ(inode_get(&t, INO_NAMES, &ii), 0);
	CHECK_EQ(ii.kind, IK_NAMES);
	/* forgetting them is harmless; they stay */
	inode_forget(&t, INO_ROOT, 100);
	CHECK_EQ(inode_get(&t, INO_ROOT, &ii), 0);
	CHECK_EQ(ii.kind, IK_ROOT);
	CHECK_EQ(inode_get(&t, INO_CLUSTER, &ii), 0);
	CHECK_EQ(ii.kind, IK_CLUSTER);
	CHECK_EQ(inode_get(&t, INO_CLUSTER + 1, &ii), -ENOENT);
	inode_tab_release(&t);
}

static void
counting(void)
{
	struct inode_tab t;
	struct inode_info ii;
	uint64_t a, b, c;

	inode_tab_init(&t);
	a = inode_ref(&t, IK_DATA, 42, 0, NULL, 0, 1000);
	CHECK(a >= INO_FIRST_DYNAMIC);
	b = inode_ref(&t, IK_DATA, 42, 0, NULL, 0, 1000);
	CHECK_EQ(a, b);
	c = inode_ref(&t, IK_META, 42, 0, NULL, 0, 7);
	CHECK(c != a);
	CHECK_EQ(inode_get(&t, a, &ii), 0);
	CHECK_EQ(ii.kind, IK_DATA);
	CHECK_EQ(ii.id, 42);
	CHECK_EQ(ii.size, 1000);
	CHECK_EQ(inode_find(&t, IK_DATA, 42, 0, NULL, 0), a);
	/* two lookups: one forget leaves it, the second frees it */
	inode_forget(&t, a, 1);
	CHECK_EQ(inode_get(&t, a, &ii), 0);
	inode_forget(&t, a, 1);
	CHECK_EQ(inode_get(&t, a, &ii), -ENOENT);
	CHECK_EQ(inode_find(&t, IK_DATA, 42, 0, NULL, 0), 0);
	/* a number is never handed out again */
	b = inode_ref(&t, IK_DATA, 42, 0, NULL, 0, 1000);
	CHECK(b != a);
	/* forgetting more than was looked up frees, never underflows */
	inode_forget(&t, c, 5);
	CHECK_EQ(inode_get(&t, c, &ii), -ENOENT);
	inode_set_size(&t, b, 5);
	CHECK_EQ(inode_get(&t, b, &ii), 0);
	CHECK_EQ(ii.size, 5);
	inode_tab_release(&t);
}

static void
names_and_members(void)
{
	struct inode_tab t;
	struct inode_info ii;
	uint64_t n1, n2, n3, m1, m2;

	inode_tab_init(&t);
	n1 = inode_ref(&t, IK_NAME, 7, 7, "dataset", 7, 28);
	/* re-pointed: a new inode, the old one unchanged */
	n2 = inode_ref(&t, IK_NAME, 8, 8, "dataset", 7, 28);
	CHECK(n1 != n2);
	CHECK_EQ(inode_get(&t, n1, &ii), 0);
	CHECK_EQ(ii.target, 7);
	n3 = inode_ref(&t, IK_NAME, 7, 7, "datasets", 8, 28);
	CHECK(n3 != n1);
	CHECK_EQ(inode_find(&t, IK_NAME, 7, 7, "dataset", 7), n1);
	/* members: keyed by parent and name */
	m1 = inode_ref(&t, IK_MEMBER, 100, 7, "left", 4, 20);
	m2 = inode_ref(&t, IK_MEMBER, 101, 7, "left", 4, 20);
	CHECK(m1 != m2);
	CHECK_EQ(inode_ref(&t, IK_MEMBER, 100, 7, "left", 4, 20), m1);
	inode_tab_release(&t);
}

static void
many(void)
{
	struct inode_tab t;
	struct inode_info ii;
	uint64_t i, first = 0, ino;
	int bad = 0;

	inode_tab_init(&t);
	for (i = 0; i < 100000; i++) {
		ino = inode_ref(&t, IK_OBJDIR, i * 0x9e3779b97f4a7c15ull, 0,
				NULL, 0, 0);
		if (i == 0)
			first = ino;
		bad += ino != first + i;
	}
	CHECK_EQ(bad, 0);
	for (i = 0; i < 100000; i += 2)
		inode_forget(&t, first + i, 1);
	for (i = 0; i < 100000; i++)
		bad += (inode_get(&t, first + i, &ii) == 0) != (i % 2 == 1);
	CHECK_EQ(bad, 0);
	CHECK_EQ(inode_find(&t, IK_OBJDIR, 3 * 0x9e3779b97f4a7c15ull, 0, NULL,
			    0), first + 3);
	inode_tab_release(&t);
}

TEST_MAIN(RUN(fixed_inodes); RUN(counting); RUN(names_and_members);
	  RUN(many))
