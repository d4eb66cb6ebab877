/*
 * test_space: the accounting of disk space (snapshot/backup/space.h),
 * over names as the walk finds them.
 *
 * What must hold: a file counts once however many names it has; a
 * snapshot's exclusive bytes are the files whose every link it holds (two
 * names in it of one file included), and nothing that has a link in the
 * live store, in another snapshot, or anywhere the walk did not go (a
 * view hold); a keyspace's live, snapshot and snapshot-only figures count
 * each file once per keyspace; a file shared by the snapshots of two
 * keyspaces counts in both; the order of the names does not matter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "space.h"

#define K 4096u

static struct space_name N(ino_t ino, nlink_t nlink, unsigned blocks, long snap, size_t ks) {
	return (struct space_name){
	    .dev = 1, .ino = ino, .nlink = nlink, .bytes = blocks *K, .snap = snap, .ks = ks};
}

static void
usage_init(struct space_usage *u, size_t nsnaps, size_t nks)
{
	memset(u, 0, sizeof(*u));
	u->snaps = calloc(nsnaps, sizeof(*u->snaps));
	u->nsnaps = nsnaps;
	u->ks = calloc(nks, sizeof(*u->ks));
	u->nks = nks;
}

/*
 * Keyspace 0: live tablets and snapshots 0 and 1.
 *   ino 1  (1 block)  live + snap 0            shared with live
 *   ino 2  (2 blocks) live only
 *   ino 3  (4 blocks) snap 0 only              exclusive to 0
 *   ino 4  (8 blocks) snap 0 + snap 1          only in snapshots, in neither alone
 *   ino 5 (16 blocks) snap 1 + a view hold     nlink 2, one name seen: shared
 *   ino 6 (32 blocks) snap 1, two names        exclusive to 1
 *   ino 7 (64 blocks) live, two names          once
 */
static void test_one_keyspace(void **state)
{
	struct space_name v[] = {
	    N(1, 2, 1, -1, 0), N(1, 2, 1, 0, 0),   N(2, 1, 2, -1, 0),  N(3, 1, 4, 0, 0),
	    N(4, 2, 8, 0, 0),  N(4, 2, 8, 1, 0),   N(5, 2, 16, 1, 0),  N(6, 2, 32, 1, 0),
	    N(6, 2, 32, 1, 0), N(7, 2, 64, -1, 0), N(7, 2, 64, -1, 0),
	};
	struct space_usage u;

	(void)state;
	usage_init(&u, 2, 1);
	space_account(v, sizeof(v) / sizeof(v[0]), &u);
	assert_int_equal(u.snaps[0].bytes, (1 + 4 + 8) * K);
	assert_int_equal(u.snaps[0].exclusive_bytes, 4 * K);
	assert_int_equal(u.snaps[1].bytes, (8 + 16 + 32) * K);
	assert_int_equal(u.snaps[1].exclusive_bytes, 32 * K);
	assert_int_equal(u.ks[0].live_bytes, (1 + 2 + 64) * K);
	assert_int_equal(u.ks[0].snapshot_bytes, (1 + 4 + 8 + 16 + 32) * K);
	/* deleting both frees 3, 4 and 6; 1 is live, 5 is held */
	assert_int_equal(u.ks[0].snapshot_exclusive_bytes, (4 + 8 + 32) * K);
	space_usage_release(&u);
}

/* The same names in another order give the same figures. */
static void test_order(void **state)
{
	struct space_name v[] = {
	    N(6, 2, 32, 1, 0), N(4, 2, 8, 1, 0),  N(7, 2, 64, -1, 0), N(1, 2, 1, 0, 0),
	    N(3, 1, 4, 0, 0),  N(6, 2, 32, 1, 0), N(2, 1, 2, -1, 0),  N(5, 2, 16, 1, 0),
	    N(4, 2, 8, 0, 0),  N(1, 2, 1, -1, 0), N(7, 2, 64, -1, 0),
	};
	struct space_usage u;

	(void)state;
	usage_init(&u, 2, 1);
	space_account(v, sizeof(v) / sizeof(v[0]), &u);
	assert_int_equal(u.snaps[0].exclusive_bytes, 4 * K);
	assert_int_equal(u.snaps[1].exclusive_bytes, 32 * K);
	assert_int_equal(u.ks[0].snapshot_exclusive_bytes, (4 + 8 + 32) * K);
	space_usage_release(&u);
}

/* A later snapshot sharing a file takes it out of the first's exclusive
 * bytes, and its deletion puts it back. */
static void test_later_snapshot_shares(void **state)
{
	struct space_name before[] = {N(10, 1, 100, 0, 0), N(11, 1, 1, 0, 0)};
	struct space_name after[] = {N(10, 2, 100, 0, 0), N(11, 1, 1, 0, 0), N(10, 2, 100, 1, 0),
				     N(12, 1, 1, 1, 0)};
	struct space_usage u;

	(void)state;
	usage_init(&u, 1, 1);
	space_account(before, 2, &u);
	assert_int_equal(u.snaps[0].exclusive_bytes, 101 * K);
	space_usage_release(&u);
	usage_init(&u, 2, 1);
	space_account(after, 4, &u);
	assert_int_equal(u.snaps[0].exclusive_bytes, 1 * K);
	assert_int_equal(u.snaps[1].exclusive_bytes, 1 * K);
	assert_int_equal(u.ks[0].snapshot_exclusive_bytes, 102 * K);
	space_usage_release(&u);
}

/* Keyspaces 0 and 1 (a restore --as across keyspaces shares an SST):
 * ino 20 is in snap 0 (ks 0) and snap 1 (ks 1); ino 21 live in both. */
static void test_two_keyspaces(void **state)
{
	struct space_name v[] = {N(20, 2, 8, 0, 0), N(20, 2, 8, 1, 1), N(21, 2, 2, -1, 0),
				 N(21, 2, 2, -1, 1)};
	struct space_usage u;

	(void)state;
	usage_init(&u, 2, 2);
	space_account(v, 4, &u);
	assert_int_equal(u.snaps[0].exclusive_bytes, 0);
	assert_int_equal(u.snaps[1].exclusive_bytes, 0);
	assert_int_equal(u.ks[0].snapshot_exclusive_bytes, 8 * K);
	assert_int_equal(u.ks[1].snapshot_exclusive_bytes, 8 * K);
	assert_int_equal(u.ks[0].live_bytes, 2 * K);
	assert_int_equal(u.ks[1].live_bytes, 2 * K);
	space_usage_release(&u);
}

/* Same inode number on two devices: two files. */
static void test_devices(void **state)
{
	struct space_name v[] = {N(30, 1, 1, 0, 0), N(30, 1, 2, 1, 0)};
	struct space_usage u;

	(void)state;
	v[1].dev = 2;
	usage_init(&u, 2, 1);
	space_account(v, 2, &u);
	assert_int_equal(u.snaps[0].exclusive_bytes, 1 * K);
	assert_int_equal(u.snaps[1].exclusive_bytes, 2 * K);
	space_usage_release(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_one_keyspace),
	    cmocka_unit_test(test_order),
	    cmocka_unit_test(test_later_snapshot_shares),
	    cmocka_unit_test(test_two_keyspaces),
	    cmocka_unit_test(test_devices),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
