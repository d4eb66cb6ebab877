/*
 * test_snap: the logic of snapshot records without I/O (snapshot/backup/
 * snap.h): the state machine every create, delete and start-up repair
 * goes through, and the resolution of what a user types for a snapshot
 * (a full id, "latest", a unique prefix).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "snap.h"

static void test_state_machine(void **state)
{
	enum snap_state to;

	(void)state;
	/* a create ends COMPLETE or FAILED, from CREATING only */
	assert_int_equal(snap_next_state(SNAP_CREATING, SNAP_OP_COMPLETE, &to), 0);
	assert_int_equal(to, SNAP_COMPLETE);
	assert_int_equal(snap_next_state(SNAP_CREATING, SNAP_OP_FAIL, &to), 0);
	assert_int_equal(to, SNAP_FAILED);
	for (int s = SNAP_COMPLETE; s <= SNAP_DELETING; s++) {
		assert_int_equal(snap_next_state(s, SNAP_OP_COMPLETE, &to), -EINVAL);
		assert_int_equal(snap_next_state(s, SNAP_OP_FAIL, &to), -EINVAL);
	}
	/* delete: anything but a snapshot being created; again on DELETING */
	assert_int_equal(snap_next_state(SNAP_CREATING, SNAP_OP_DELETE, &to), -EINVAL);
	for (int s = SNAP_COMPLETE; s <= SNAP_DELETING; s++) {
		assert_int_equal(snap_next_state(s, SNAP_OP_DELETE, &to), 0);
		assert_int_equal(to, SNAP_DELETING);
	}
	/* repair at start: CREATING was cut short -> FAILED; others stay */
	assert_int_equal(snap_next_state(SNAP_CREATING, SNAP_OP_REPAIR, &to), 0);
	assert_int_equal(to, SNAP_FAILED);
	for (int s = SNAP_COMPLETE; s <= SNAP_DELETING; s++) {
		assert_int_equal(snap_next_state(s, SNAP_OP_REPAIR, &to), 0);
		assert_int_equal(to, s);
	}
}

static struct snap_brief B(const char *id, const char *ks, enum snap_state st, uint64_t ht) {
	struct snap_brief b;

	memset(&b, 0, sizeof(b));
	strcpy(b.id, id);
	strcpy(b.keyspace, ks);
	b.state = st;
	b.complete = st == SNAP_COMPLETE;
	b.failed = st == SNAP_FAILED;
	b.hybrid_time = ht;
	return b;
}

static void
test_resolve(void **state)
{
	struct snap_brief v[] = {
	    B("0123456789abcdef0123456789abcdef", "app", SNAP_COMPLETE, 100),
	    B("0123456789abcdef9999999999999999", "app", SNAP_COMPLETE, 300),
	    B("fedcba9876543210fedcba9876543210", "other", SNAP_COMPLETE, 500),
	    B("aaaaaaaabbbbbbbbccccccccdddddddd", "app", SNAP_FAILED, 900),
	};
	struct errbuf e = {{0}};
	char id[ID_LEN + 1];

	(void)state;
	/* a full id, of any state */
	assert_int_equal(snap_resolve_in(v, 4, "aaaaaaaabbbbbbbbccccccccdddddddd", NULL, id, &e),
			 0);
	assert_string_equal(id, v[3].id);
	/* a unique prefix, 8 digits or more, any case */
	assert_int_equal(snap_resolve_in(v, 4, "fedcba98", NULL, id, &e), 0);
	assert_string_equal(id, v[2].id);
	assert_int_equal(snap_resolve_in(v, 4, "FEDCBA98", NULL, id, &e), 0);
	assert_string_equal(id, v[2].id);
	assert_int_equal(snap_resolve_in(v, 4, "0123456789abcdef99", NULL, id, &e), 0);
	assert_string_equal(id, v[1].id);
	/* ambiguous: -EINVAL naming the candidates */
	assert_int_equal(snap_resolve_in(v, 4, "0123456789abcdef", NULL, id, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "ambiguous"));
	assert_non_null(strstr(e.msg, v[0].id));
	assert_non_null(strstr(e.msg, v[1].id));
	/* too short, not hex, no match */
	assert_int_equal(snap_resolve_in(v, 4, "0123456", NULL, id, &e), -EINVAL);
	assert_int_equal(snap_resolve_in(v, 4, "0123456g", NULL, id, &e), -EINVAL);
	assert_int_equal(snap_resolve_in(v, 4, "", NULL, id, &e), -EINVAL);
	assert_int_equal(snap_resolve_in(v, 4, "0000000000", NULL, id, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "'0000000000': not found"));
	/* latest: the newest COMPLETE, of the keyspace when given */
	assert_int_equal(snap_resolve_in(v, 4, "latest", NULL, id, &e), 0);
	assert_string_equal(id, v[2].id); /* the FAILED one is newer but not COMPLETE */
	assert_int_equal(snap_resolve_in(v, 4, "latest", "app", id, &e), 0);
	assert_string_equal(id, v[1].id);
	assert_int_equal(snap_resolve_in(v, 4, "latest", "none", id, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "keyspace 'none'"));
	assert_int_equal(snap_resolve_in(v, 0, "latest", NULL, id, &e), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_machine),
	    cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
