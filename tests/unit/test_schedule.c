/*
 * test_schedule: the decisions of a schedule tick without I/O
 * (snapshot/backup/schedule.h): when a snapshot is due, which snapshots
 * retention deletes, the restorable window, and which snapshot a restore
 * to a time starts from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "schedule.h"

#define S 1000000LL
#define SCHED "11111111111111111111111111111111"
#define OTHER "22222222222222222222222222222222"

static struct snap_brief B(const char *id, const char *sched, enum snap_state st, int64_t wall) {
	struct snap_brief b;

	memset(&b, 0, sizeof(b));
	strcpy(b.id, id);
	strcpy(b.schedule_id, sched);
	strcpy(b.keyspace, "app");
	b.state = st;
	b.complete = st == SNAP_COMPLETE;
	b.failed = st == SNAP_FAILED;
	b.wall_us = wall;
	b.hybrid_time = hlc_from_us(wall);
	return b;
}

static const struct schedrec sh = {SCHED, "app", 10 * S, 60 * S, 1000 * S};

static void test_due(void **state)
{
	struct snap_brief v[] = {
	    B("a0000000000000000000000000000000", SCHED, SNAP_COMPLETE, 1000 * S),
	    B("b0000000000000000000000000000000", SCHED, SNAP_COMPLETE, 1020 * S),
	    B("c0000000000000000000000000000000", OTHER, SNAP_COMPLETE, 1029 * S),
	    B("d0000000000000000000000000000000", SCHED, SNAP_FAILED, 1029 * S),
	};
	int64_t newest;

	(void)state;
	/* nothing taken yet: due at once */
	assert_true(schedule_due(&sh, v, 0, 1000 * S, &newest));
	assert_int_equal(newest, 0);
	/* its newest COMPLETE one is at 1020 s (another schedule's and a
	 * FAILED one do not count): due at 1030 s, not before */
	assert_false(schedule_due(&sh, v, 4, 1029 * S, &newest));
	assert_int_equal(newest, 1020 * S);
	assert_true(schedule_due(&sh, v, 4, 1030 * S, &newest));
	/* a slot missed while stopped is taken at the next start */
	assert_true(schedule_due(&sh, v, 4, 5000 * S, &newest));
}

static void test_retention(void **state)
{
	struct snap_brief old =
	    B("a0000000000000000000000000000000", SCHED, SNAP_COMPLETE, 100 * S);
	struct snap_brief kept =
	    B("b0000000000000000000000000000000", SCHED, SNAP_COMPLETE, 950 * S);
	struct snap_brief failed =
	    B("c0000000000000000000000000000000", SCHED, SNAP_FAILED, 990 * S);
	struct snap_brief creating = B("d0000000000000000000000000000000", SCHED, SNAP_CREATING, 0);
	struct snap_brief others =
	    B("e0000000000000000000000000000000", OTHER, SNAP_COMPLETE, 1 * S);
	int64_t now = 1000 * S;

	(void)state;
	assert_true(schedule_expired(&sh, &old, 950 * S, now));	      /* past the 60 s */
	assert_false(schedule_expired(&sh, &kept, 950 * S, now));     /* inside */
	assert_true(schedule_expired(&sh, &failed, 950 * S, now));    /* FAILED: always */
	assert_false(schedule_expired(&sh, &creating, 950 * S, now)); /* being made */
	assert_false(schedule_expired(&sh, &others, 950 * S, now));   /* not this schedule's */
	/* the newest is kept even past the retention (the daemon was down) */
	assert_false(schedule_expired(&sh, &old, 100 * S, 5000 * S));
	/* the boundary: exactly now - retention is inside */
	assert_false(schedule_expired(&sh, &kept, 2000 * S, 1010 * S));
	assert_true(schedule_expired(&sh, &kept, 2000 * S, 1010 * S + 1));
}

static void test_window_and_pick(void **state)
{
	struct snap_brief v[] = {
	    B("a0000000000000000000000000000000", SCHED, SNAP_COMPLETE, 1010 * S),
	    B("b0000000000000000000000000000000", SCHED, SNAP_COMPLETE, 1020 * S),
	    B("c0000000000000000000000000000000", SCHED, SNAP_FAILED, 1025 * S),
	    B("d0000000000000000000000000000000", OTHER, SNAP_COMPLETE, 1015 * S),
	};
	int64_t lo, hi;
	size_t count;
	const struct snap_brief *p;

	(void)state;
	/* nothing taken yet: only now */
	schedule_window(&sh, v, 0, 1030 * S, &lo, &hi, &count);
	assert_int_equal(count, 0);
	assert_int_equal(lo, 1030 * S);
	assert_int_equal(hi, 1030 * S);
	/* young schedule: from its creation */
	schedule_window(&sh, v, 4, 1030 * S, &lo, &hi, &count);
	assert_int_equal(count, 2);
	assert_int_equal(lo, 1000 * S);
	assert_int_equal(hi, 1030 * S);
	/* older: now - retention */
	schedule_window(&sh, v, 4, 2000 * S, &lo, &hi, &count);
	assert_int_equal(lo, 1940 * S);

	/* a restore to t starts from the first COMPLETE snapshot at or after t */
	p = schedule_pick(&sh, v, 4, hlc_from_us(1005 * S));
	assert_non_null(p);
	assert_string_equal(p->id, v[0].id);
	p = schedule_pick(&sh, v, 4, hlc_from_us(1010 * S));
	assert_string_equal(p->id, v[0].id);
	p = schedule_pick(&sh, v, 4, hlc_from_us(1011 * S));
	assert_string_equal(p->id, v[1].id); /* not the other schedule's at 1015 */
	/* after the newest: none, one is taken on the spot */
	assert_null(schedule_pick(&sh, v, 4, hlc_from_us(1021 * S)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_due),
	    cmocka_unit_test(test_retention),
	    cmocka_unit_test(test_window_and_pick),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
