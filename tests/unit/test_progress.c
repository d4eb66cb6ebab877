/*
 * test_progress: how long work reports its progress (snapshot/util/
 * progress.h).
 *
 * What must hold: without a watcher every call is a no-op and nothing is
 * current; a watcher sees every phase start at 0 and end at its final
 * count, in order, with counts that only rise; in between it reports at
 * most once an interval; counts from many threads add up; a listener that
 * blocks never holds up the work (the phases and counts go on and return
 * at once), and what it missed is at most the oldest starts and ends
 * beyond the queue, never the newest; stop restores the thread's previous
 * progress; the text shows counts, percentage, rate and ETA.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"

#define MAX_REPORTS 4096

struct seen {
	pthread_mutex_t lock;
	struct progress_report r[MAX_REPORTS];
	char phase[MAX_REPORTS][16];
	size_t n;
	/* a listener that blocks until released */
	int block;
	pthread_cond_t cond;
	int in_call;
};

static void listen_fn(void *arg, const struct progress_report *r)
{
	struct seen *s = arg;

	pthread_mutex_lock(&s->lock);
	s->in_call = 1;
	pthread_cond_broadcast(&s->cond);
	while (s->block)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->n < MAX_REPORTS) {
		snprintf(s->phase[s->n], sizeof(s->phase[0]), "%s", r->phase);
		s->r[s->n] = *r;
		s->r[s->n].phase = s->phase[s->n];
		s->n++;
	}
	s->in_call = 0;
	pthread_mutex_unlock(&s->lock);
}

static void seen_init(struct seen *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
}

/* Every phase of s: starts at 0 (unless its start was dropped), counts
 * never fall, its last report has end set and the final count. */
static void check_phases(const struct seen *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (i + 1 < s->n && !strcmp(s->r[i].phase, s->r[i + 1].phase) && !s->r[i].end)
			assert_true(s->r[i + 1].done >= s->r[i].done);
		if (s->r[i].end && i + 1 < s->n)
			assert_int_equal(s->r[i + 1].done, 0); /* the next phase's start */
	}
}

static void test_no_watcher(void **state)
{
	(void)state;
	assert_null(progress_current());
	progress_phase(NULL, "x", "tablets", 3);
	progress_add(NULL, 1);
	progress_phase_end(NULL);
	progress_stop(NULL);
}

static void test_phases_in_order(void **state)
{
	struct seen s;
	struct progress *p;

	(void)state;
	seen_init(&s);
	assert_int_equal(progress_start(&p, 1000000, listen_fn, &s), 0);
	assert_ptr_equal(progress_current(), p);
	progress_phase(progress_current(), "hash", "bytes", 300);
	for (int i = 0; i < 100; i++)
		progress_add(p, 3);
	progress_phase_end(p);
	progress_phase(p, "read", "tablets", 4);
	progress_add(p, 2);
	/* a new phase ends the open one at its count */
	progress_phase(p, "filter", "tablets", 4);
	progress_add(p, 4);
	progress_stop(p); /* ends "filter" */
	assert_null(progress_current());
	/* within a 1 s interval: only starts and ends */
	assert_int_equal(s.n, 6);
	assert_string_equal(s.r[0].phase, "hash");
	assert_int_equal(s.r[0].done, 0);
	assert_int_equal(s.r[0].total, 300);
	assert_false(s.r[0].end);
	assert_string_equal(s.r[1].phase, "hash");
	assert_int_equal(s.r[1].done, 300);
	assert_true(s.r[1].end);
	assert_string_equal(s.r[2].phase, "read");
	assert_string_equal(s.r[3].phase, "read");
	assert_int_equal(s.r[3].done, 2);
	assert_true(s.r[3].end);
	assert_string_equal(s.r[5].phase, "filter");
	assert_int_equal(s.r[5].done, 4);
	assert_string_equal(s.r[5].unit, "tablets");
	assert_true(s.r[5].end);
	check_phases(&s);
}

/* In between, one report an interval at most: 50 ms over about 500 ms. */
static void test_interval(void **state)
{
	struct seen s;
	struct progress *p;
	struct timespec ts = {0, 10 * 1000000};

	(void)state;
	seen_init(&s);
	assert_int_equal(progress_start(&p, 50000, listen_fn, &s), 0);
	progress_phase(p, "write", "rows", 50);
	for (int i = 0; i < 50; i++) {
		progress_add(p, 1);
		nanosleep(&ts, NULL);
	}
	progress_stop(p);
	check_phases(&s);
	/* start and end, and about 10 in between (not 50) */
	assert_true(s.n >= 4);
	assert_true(s.n <= 16);
	assert_int_equal(s.r[s.n - 1].done, 50);
	assert_true(s.r[s.n - 1].end);
}

struct adder {
	struct progress *p;
	int n;
};

static void *add_many(void *arg)
{
	struct adder *a = arg;

	for (int i = 0; i < a->n; i++)
		progress_add(a->p, 1);
	return NULL;
}

static void test_threads_add_up(void **state)
{
	struct seen s;
	struct progress *p;
	pthread_t th[4];
	struct adder a;

	(void)state;
	seen_init(&s);
	assert_int_equal(progress_start(&p, 1000, listen_fn, &s), 0);
	a.p = progress_current();
	a.n = 20000;
	progress_phase(p, "checkpoint", "tablets", 80000);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, add_many, &a), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	progress_phase_end(p);
	progress_stop(p);
	check_phases(&s);
	assert_int_equal(s.r[s.n - 1].done, 80000);
	assert_true(s.r[s.n - 1].end);
}

/* The listener blocks (a client that stopped reading): the work's calls
 * return at once all the same, and once it is released it gets the
 * newest starts and ends. */
static void test_blocked_listener(void **state)
{
	struct seen s;
	struct progress *p;
	struct timespec t0, t1;

	(void)state;
	seen_init(&s);
	s.block = 1;
	assert_int_equal(progress_start(&p, 1000, listen_fn, &s), 0);
	progress_phase(p, "p0", "tablets", 1);
	pthread_mutex_lock(&s.lock);
	while (!s.in_call) /* the watcher is stuck in the listener */
		pthread_cond_wait(&s.cond, &s.lock);
	pthread_mutex_unlock(&s.lock);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 1; i <= 100; i++) {
		static char names[101][8];

		snprintf(names[i], sizeof(names[i]), "p%d", i);
		progress_phase(p, names[i], "tablets", 10);
		for (int k = 0; k < 1000; k++)
			progress_add(p, 0);
		progress_add(p, 10);
		progress_phase_end(p);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* the work never waited for the listener */
	assert_true((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) <
		    500 * 1000000L);
	pthread_mutex_lock(&s.lock);
	s.block = 0;
	pthread_cond_broadcast(&s.cond);
	pthread_mutex_unlock(&s.lock);
	progress_stop(p);
	check_phases(&s);
	/* the first report, then at most the queue's worth: the newest */
	assert_true(s.n <= 1 + 16);
	assert_string_equal(s.r[s.n - 1].phase, "p100");
	assert_int_equal(s.r[s.n - 1].done, 10);
	assert_true(s.r[s.n - 1].end);
}

static void test_nested_current(void **state)
{
	struct seen s;
	struct progress *outer, *inner;

	(void)state;
	seen_init(&s);
	assert_int_equal(progress_start(&outer, 1000, listen_fn, &s), 0);
	assert_int_equal(progress_start(&inner, 1000, listen_fn, &s), 0);
	assert_ptr_equal(progress_current(), inner);
	progress_stop(inner);
	assert_ptr_equal(progress_current(), outer);
	progress_stop(outer);
	assert_null(progress_current());
}

static void test_format(void **state)
{
	struct progress_report r = {"checkpoint", "tablets", 3, 8, 0};
	struct progress_report b = {"hash", "bytes", 1048576, 4194304, 0};
	char buf[200];

	(void)state;
	assert_string_equal(progress_format(&r, 0, 1, buf, sizeof(buf)),
			    "checkpoint 3/8 tablets (37%)");
	assert_string_equal(progress_format(&r, 1.5, 1, buf, sizeof(buf)),
			    "checkpoint 3/8 tablets (37%), 1.5 tablets/s, ETA 3s");
	r.end = 1;
	assert_string_equal(progress_format(&r, 1.5, 0, buf, sizeof(buf)),
			    "checkpoint 3/8 tablets (37%), 1.5 tablets/s");
	assert_string_equal(progress_format(&b, 1048576, 1, buf, sizeof(buf)),
			    "hash 1.0 MiB/4.0 MiB (25%), 1.0 MiB/s, ETA 3s");
	assert_string_equal(progress_format(&b, 1048576, 0, buf, sizeof(buf)),
			    "hash 1048576/4194304 bytes (25%), 1.0 MiB/s, ETA 3s");
	b.done = 0;
	b.total = 0;
	assert_string_equal(progress_format(&b, 0, 0, buf, sizeof(buf)), "hash 0/0 bytes (100%)");
	r = (struct progress_report){"write", "rows", 10, 1000000, 0};
	assert_string_equal(progress_format(&r, 100, 0, buf, sizeof(buf)),
			    "write 10/1000000 rows (0%), 100 rows/s, ETA 2h46m");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_watcher),	     cmocka_unit_test(test_phases_in_order),
	    cmocka_unit_test(test_interval),	     cmocka_unit_test(test_threads_add_up),
	    cmocka_unit_test(test_blocked_listener), cmocka_unit_test(test_nested_current),
	    cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
