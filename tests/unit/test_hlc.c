/*
 * test_hlc: the hybrid logical clock (snapshot/util/hlc.c).
 *
 * What must hold: times are strictly increasing across threads; after a
 * release and a new hlc_init on the same file every new time is above every
 * earlier one, even when the persisted reservation is ahead of the wall
 * clock; the time and duration texts of the CLI parse as documented in
 * hlc.h and garbage is refused with a message naming it.
 *
 * Each test gets a fresh temp dir holding the clock file (setup/teardown).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsutil.h"
#include "hlc.h"

#define NTHREADS 4
#define PER_THREAD 100000

struct fixture {
	char dir[64];
	char *path; /* DIR/clock */
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/snapfs-hlc.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->path = fs_path("%s/clock", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fs_remove_tree(f->dir);
	free(f->path);
	free(f);
	return 0;
}

/* ---- monotonic across threads ---- */

struct worker {
	struct hlc *c;
	uint64_t *out;
	int bad; /* a time not above the previous one of the same thread */
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t prev = 0;

	for (int i = 0; i < PER_THREAD; i++) {
		uint64_t t = hlc_now(w->c);

		if (t == 0 || t <= prev)
			w->bad++;
		w->out[i] = prev = t;
	}
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void test_monotonic_threads(void **state)
{
	struct fixture *f = *state;
	struct hlc c;
	struct errbuf e;
	pthread_t th[NTHREADS];
	struct worker w[NTHREADS];
	uint64_t *all = xcalloc((size_t)NTHREADS * PER_THREAD, sizeof(*all));
	uint64_t before;

	assert_int_equal(hlc_init(&c, f->path, &e), 0);
	before = hlc_now(&c);
	assert_true(before > 0);
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct worker){.c = &c, .out = all + (size_t)i * PER_THREAD};
		assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].bad, 0);
	}
	/* strictly increasing across threads: no time handed out twice */
	qsort(all, (size_t)NTHREADS * PER_THREAD, sizeof(*all), cmp_u64);
	assert_true(all[0] > before);
	for (size_t i = 1; i < (size_t)NTHREADS * PER_THREAD; i++)
		assert_true(all[i] > all[i - 1]);
	assert_true(hlc_last(&c) == all[(size_t)NTHREADS * PER_THREAD - 1]);
	hlc_release(&c);
	free(all);
}

static void test_wall_clock_close(void **state)
{
	struct fixture *f = *state;
	struct hlc c;
	int64_t wall = hlc_wall_us();
	uint64_t t;

	assert_int_equal(hlc_init(&c, f->path, NULL), 0);
	t = hlc_now(&c);
	/* physical part within a second of the wall clock, logical part used
	 * only when the wall clock has not moved */
	assert_true(hlc_physical_us(t) >= wall - 1000000);
	assert_true(hlc_physical_us(t) <= hlc_wall_us() + 1000000);
	hlc_release(&c);
}

/* ---- across restarts ---- */

static void test_restart(void **state)
{
	struct fixture *f = *state;
	struct hlc c;
	uint64_t max = 0, t;

	for (int round = 0; round < 5; round++) {
		assert_int_equal(hlc_init(&c, f->path, NULL), 0);
		t = hlc_now(&c);
		assert_true(t > max);
		for (int i = 0; i < 1000; i++) {
			uint64_t u = hlc_now(&c);

			assert_true(u > t);
			t = u;
		}
		max = t;
		hlc_release(&c);
	}
}

static void test_restart_reservation_ahead(void **state)
{
	struct fixture *f = *state;
	struct hlc c;
	/* a reservation an hour ahead of the wall clock (a clock stepped back
	 * since, or a restore that raised it) */
	uint64_t ahead = hlc_from_us(hlc_wall_us() + 3600LL * 1000000) + 17;
	char text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", ahead);
	uint64_t t1, t2;

	assert_int_equal(fs_write_atomic(f->path, text, (size_t)n, 0644), 0);
	assert_int_equal(hlc_init(&c, f->path, NULL), 0);
	t1 = hlc_now(&c);
	assert_true(t1 > ahead);
	t2 = hlc_now(&c);
	assert_true(t2 > t1);
	hlc_release(&c);

	/* and again: what the first run handed out stays below */
	assert_int_equal(hlc_init(&c, f->path, NULL), 0);
	assert_true(hlc_now(&c) > t2);
	hlc_release(&c);
}

static void test_raise(void **state)
{
	struct fixture *f = *state;
	struct hlc c;
	uint64_t target = hlc_from_us(hlc_wall_us() + 7200LL * 1000000);

	assert_int_equal(hlc_init(&c, f->path, NULL), 0);
	assert_int_equal(hlc_raise(&c, target), 0);
	assert_true(hlc_now(&c) > target);
	hlc_release(&c);
	assert_int_equal(hlc_init(&c, f->path, NULL), 0);
	assert_true(hlc_now(&c) > target);
	hlc_release(&c);
}

/* Issue 11: a restore of a cut near 2^64 wrapped the reservation
 * (t + a second) and sent the clock backwards. */
static void test_raise_near_end_of_range(void **state)
{
	struct fixture *f = *state;
	struct hlc c;
	uint64_t before, t;

	assert_int_equal(hlc_init(&c, f->path, NULL), 0);
	before = hlc_now(&c);
	assert_int_equal(hlc_raise(&c, UINT64_MAX - 1), -ERANGE);
	assert_int_equal(hlc_raise(&c, UINT64_MAX), -ERANGE);
	assert_int_equal(hlc_raise(&c, HLC_RAISE_MAX + 1), -ERANGE);
	t = hlc_now(&c);
	assert_true(t > before); /* unchanged: still near the wall clock */
	assert_true(hlc_physical_us(t) <= hlc_wall_us() + 1000000);
	/* the highest raise allowed leaves room to go on */
	assert_int_equal(hlc_raise(&c, HLC_RAISE_MAX), 0);
	t = hlc_now(&c);
	assert_true(t > HLC_RAISE_MAX);
	assert_true(hlc_now(&c) > t);
	/* and a lower raise never moves it back */
	assert_int_equal(hlc_raise(&c, before), 0);
	assert_true(hlc_now(&c) > t);
	hlc_release(&c);
}

/* A persisted clock at the very end of its range: times stop (0), never
 * wrap to small ones. */
static void test_end_of_range_saturates(void **state)
{
	struct fixture *f = *state;
	struct hlc c;
	uint64_t saved = UINT64_MAX - 5, prev = saved;
	char text[32];
	int n = snprintf(text, sizeof(text), "%" PRIu64 "\n", saved), zeros = 0;

	assert_int_equal(fs_write_atomic(f->path, text, (size_t)n, 0644), 0);
	assert_int_equal(hlc_init(&c, f->path, NULL), 0);
	for (int i = 0; i < 10; i++) {
		uint64_t t = hlc_now(&c);

		if (t == 0) {
			zeros++;
			continue;
		}
		assert_true(t > prev);
		prev = t;
	}
	assert_true(zeros > 0);
	hlc_release(&c);
}

static void test_corrupt_clock_file(void **state)
{
	struct fixture *f = *state;
	struct hlc c;
	struct errbuf e = {{0}};

	assert_int_equal(fs_write_atomic(f->path, "garbage\n", 8, 0644), 0);
	assert_int_equal(hlc_init(&c, f->path, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, f->path));
	assert_non_null(strstr(e.msg, "not a number"));
	hlc_release(&c);
}

/* ---- time texts ---- */

/* 2026-11-23T10:00:00Z */
#define T0_SECS 1795428000LL
#define US 1000000LL
#define LOGICAL_MAX ((1u << HLC_LOGICAL_BITS) - 1)

/* Parses a heap copy of exactly the text's size, so that a read past its
 * end is an AddressSanitizer report rather than a silent pass. */
static int parse_time(const char *s, int64_t now, uint64_t *ht, struct errbuf *e)
{
	char *copy = xstrdup(s);
	int rc = hlc_parse_time(copy, now, ht, e);

	free(copy);
	return rc;
}

static void expect_time(const char *s, int64_t us)
{
	uint64_t ht = 0;
	struct errbuf e = {{0}};

	if (parse_time(s, 0, &ht, &e))
		fail_msg("'%s' refused: %s", s, e.msg);
	if (ht != (hlc_from_us(us) | LOGICAL_MAX))
		fail_msg("'%s': got %" PRIu64 " (%" PRId64 " us), want %" PRId64 " us", s, ht,
			 hlc_physical_us(ht), us);
}

static void test_parse_rfc3339(void **state)
{
	(void)state;
	expect_time("2026-11-23T10:00:00Z", T0_SECS * US);
	expect_time("2026-11-23T10:00:00z", T0_SECS * US);
	expect_time("2026-11-23T11:30:00+01:30", T0_SECS * US);
	expect_time("2026-11-23T05:00:00-05:00", T0_SECS * US);
	expect_time("2026-11-23T10:00:00+00:00", T0_SECS * US);
	expect_time("2026-11-23T10:00:00.5Z", T0_SECS * US + 500000);
	expect_time("2026-11-23T10:00:00.123456Z", T0_SECS * US + 123456);
	expect_time("2026-11-23T10:00:00.123456789Z", T0_SECS * US + 123456);
	expect_time("2026-11-23T12:00:00.25+02:00", T0_SECS * US + 250000);
	expect_time("1970-01-01T00:00:00Z", 0);
}

static void test_parse_relative_and_hybrid(void **state)
{
	int64_t now = T0_SECS * US;
	uint64_t ht;

	(void)state;
	assert_int_equal(parse_time("-15m", now, &ht, NULL), 0);
	assert_true(ht == hlc_from_us(now - 15 * 60 * US));
	assert_int_equal(parse_time("-2h", now, &ht, NULL), 0);
	assert_true(ht == hlc_from_us(now - 2 * 3600 * US));
	assert_int_equal(parse_time("-30s", now, &ht, NULL), 0);
	assert_true(ht == hlc_from_us(now - 30 * US));
	assert_int_equal(parse_time("-1d", now, &ht, NULL), 0);
	assert_true(ht == hlc_from_us(now - 86400 * US));
	assert_int_equal(parse_time("-500ms", now, &ht, NULL), 0);
	assert_true(ht == hlc_from_us(now - 500000));

	/* a plain hybrid time is taken as is, logical bits included */
	assert_int_equal(parse_time("7353564872704000123", now, &ht, NULL), 0);
	assert_true(ht == 7353564872704000123ULL);
	assert_int_equal(parse_time("0", now, &ht, NULL), 0);
	assert_true(ht == 0);
	assert_int_equal(parse_time("18446744073709551615", now, &ht, NULL), 0);
	assert_true(ht == UINT64_MAX);
}

static void test_parse_time_garbage(void **state)
{
	static const char *bad[] = {
	    "",
	    "abc",
	    "now",
	    "2026-11-23",
	    "2026-11-23T10:00:00", /* no zone */
	    "2026-11-23T10:00Z",   /* no seconds */
	    "2026-11-23T10:00:00Zjunk",
	    "2026-11-23T10:00:00.Z", /* a dot and no digits */
	    "2026-13-01T00:00:00Z",  /* month 13 */
	    "2026-11-23T25:00:00Z",  /* hour 25 */
	    "2026-11-23T10:00:00+24:00",
	    "2026-11-23T10:00:00+01:60",
	    "2026-11-23T10:00:00+0100",
	    "2026-11-23T10:00:00+1:30",	 /* offset digits missing */
	    "2026-11-23T10:00:00+01:3",	 /* ends inside the offset */
	    "2026-11-23T10:00:00+-1:-1", /* signs are not digits */
	    "2026-11-23T10:00:00+01:30x",
	    "1969-12-31T23:59:59Z", /* before the epoch */
	    "-",
	    "-15",
	    "-15x",
	    "--15m",
	    "-0s",
	    "-99999999999999999d",
	    "12a",
	    "18446744073709551616", /* 2^64 */
	    " 15",
	};
	int64_t now = T0_SECS * US;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct errbuf e = {{0}};
		uint64_t ht = 42;
		int rc = parse_time(bad[i], now, &ht, &e);

		if (rc != -EINVAL)
			fail_msg("'%s' accepted (rc %d, ht %" PRIu64 ")", bad[i], rc, ht);
		if (!strstr(e.msg, "time '") || !strstr(e.msg, bad[i]))
			fail_msg("'%s': message does not name it: %s", bad[i], e.msg);
	}
	/* a relative time before the epoch */
	assert_int_equal(parse_time("-1d", 1000, &(uint64_t){0}, NULL), -EINVAL);
}

static void expect_time_refused(const char *s, int64_t now, const char *why)
{
	struct errbuf e = {{0}};
	uint64_t ht = 42;
	int rc = parse_time(s, now, &ht, &e);

	if (rc != -EINVAL)
		fail_msg("'%s' accepted (rc %d, ht %" PRIu64 ", %" PRId64 " us)", s, rc, ht,
			 hlc_physical_us(ht));
	if (!strstr(e.msg, s))
		fail_msg("'%s': message does not name it: %s", s, e.msg);
	if (why && !strstr(e.msg, why))
		fail_msg("'%s': message does not say '%s': %s", s, why, e.msg);
}

/* Issue 11, item 1: times the clock cannot hold wrapped around (us << 12
 * with no check): a restore to 2169 became one a second ago. */
static void test_parse_time_out_of_range(void **state)
{
	static const char *far[] = {
	    "9999-12-31T23:59:59Z",
	    "2999-01-01T00:00:00Z",
	    "2169-08-19T10:00:00Z",
	    "2112-09-17T23:53:47.370496Z", /* one µs past the last */
	    "2112-09-18T00:00:00Z",
	    "2112-09-17T23:53:48+00:00",
	    "2112-09-18T00:30:00+01:00", /* 2112-09-17T23:30Z: inside */
	    "1969-12-31T23:59:59Z",
	    "1970-01-01T00:00:00+00:01", /* 1969-12-31T23:59Z */
	    "0000-01-01T00:00:00Z",
	    "18446744073709551616", /* 2^64 */
	    "99999999999999999999999",
	    "-99999999999999999d",
	    "-7443w",
	};
	int64_t now = T0_SECS * US;
	uint64_t ht;

	(void)state;
	for (size_t i = 0; i < sizeof(far) / sizeof(far[0]); i++) {
		if (i == 6) {
			/* an offset brings it back inside */
			assert_int_equal(parse_time(far[i], now, &ht, NULL), 0);
			continue;
		}
		expect_time_refused(far[i], now, "time out of range");
	}
	expect_time_refused("-1d", 1000, "time out of range"); /* before the epoch */
	/* the last microsecond the clock holds, and the first */
	expect_time("2112-09-17T23:53:47.370495Z", HLC_MAX_US);
	assert_int_equal(parse_time("2112-09-17T23:53:47.370495Z", now, &ht, NULL), 0);
	assert_true(ht == UINT64_MAX);
	expect_time("1970-01-01T00:00:00Z", 0);
	expect_time("1970-01-01T01:00:00+01:00", 0);
}

/* Dates that do not exist were normalised by timegm (February 30 became
 * March 2); fields out of range or of the wrong width slipped through
 * strptime. */
static void test_parse_time_invalid_dates(void **state)
{
	static const struct {
		const char *s, *why;
	} bad[] = {
	    {"2026-02-30T00:00:00Z", "no such day"},
	    {"2026-02-29T00:00:00Z", "no such day"}, /* 2026 is not a leap year */
	    {"2100-02-29T00:00:00Z", "no such day"}, /* nor is 2100 */
	    {"2026-04-31T00:00:00Z", "no such day"},
	    {"2026-11-00T00:00:00Z", "no such day"},
	    {"2026-11-32T00:00:00Z", "no such day"},
	    {"2026-00-10T00:00:00Z", "month"},
	    {"2026-13-01T00:00:00Z", "month"},
	    {"2026-11-23T24:00:00Z", "hour"},
	    {"2026-11-23T10:60:00Z", "minute"},
	    {"2026-11-23T10:00:60Z", "second"},
	    {"2026-11-23T10:00:61Z", "second"},
	    {"2026-11-23T10:00:00+24:00", "offset"},
	    {"2026-11-23T10:00:00-01:60", "offset"},
	    {"2026-11-23T10:00:00.1234567890Z", "9 digits"},
	    {"2026-1-23T10:00:00Z", NULL},
	    {"2026-11-3T10:00:00Z", NULL},
	    {"2026-11-23T1:00:00Z", NULL},
	    {"2026-11-23T10:0:00Z", NULL},
	    {"2026-11-23T10:00:0Z", NULL},
	    {" 2026-11-23T10:00:00Z", NULL},
	    {"2026-11-23T 10:00:00Z", NULL},
	    {"2026-11-23T10:00:00 Z", NULL},
	    {"2026-11-23T10:00:00Z ", NULL},
	    {"2026-11-23X10:00:00Z", NULL},
	    {"+2026-11-23T10:00:00Z", NULL},
	    {"02026-11-23T10:00:00Z", NULL},
	    {"2026-11-23T10:00:00+01", NULL},
	    {"2026-11-23T10:00:00+01:00:00", NULL},
	    {"2026-11-23T10:00:00.+01:00", NULL},
	    {"-1h1h", "at most once"},
	    {"-30m1h", "at most once"},
	    {"-0s", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_time_refused(bad[i].s, T0_SECS * US, bad[i].why);
	/* leap days that exist */
	expect_time("2028-02-29T00:00:00Z", 1835395200LL * US);
	expect_time("2000-02-29T00:00:00Z", 951782400LL * US);
	expect_time("2026-02-28T23:59:59Z", 1772323199LL * US);
	expect_time("2026-12-31T23:59:59Z", 1798761599LL * US);
	/* 'T', 't' or a space; up to 9 digits of fraction, kept to the µs */
	expect_time("2026-11-23t10:00:00Z", T0_SECS * US);
	expect_time("2026-11-23 10:00:00Z", T0_SECS * US);
	expect_time("2026-11-23T10:00:00.999999999Z", T0_SECS * US + 999999);
	expect_time("2026-11-23T10:00:00.000001Z", T0_SECS * US + 1);
	expect_time("2026-11-23T23:59:59-23:59", (T0_SECS + 14 * 3600 - 1 + 86400 - 60) * US);
}

static void test_format_roundtrip(void **state)
{
	char buf[48];
	uint64_t ht;

	(void)state;
	hlc_format_rfc3339(T0_SECS * US + 123456, 1, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23T10:00:00.123456Z");
	hlc_format_rfc3339(T0_SECS * US + 123456, 0, buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-23T10:00:00Z");
	hlc_format_rfc3339(T0_SECS * US + 42, 1, buf, sizeof(buf));
	assert_int_equal(parse_time(buf, 0, &ht, NULL), 0);
	assert_true(hlc_physical_us(ht) == T0_SECS * US + 42);
}

/* ---- durations ---- */

static void expect_duration(const char *s, int64_t want)
{
	int64_t us = 0;
	struct errbuf e = {{0}};
	char *copy = xstrdup(s);
	int rc = hlc_parse_duration(copy, &us, &e);

	free(copy);
	if (rc)
		fail_msg("duration '%s' refused: %s", s, e.msg);
	if (us != want)
		fail_msg("duration '%s': got %" PRId64 " us, want %" PRId64, s, us, want);
}

static void test_parse_duration(void **state)
{
	(void)state;
	expect_duration("90s", 90 * US);
	expect_duration("15m", 15 * 60 * US);
	expect_duration("1h", 3600 * US);
	expect_duration("1h30m", 5400 * US);
	expect_duration("7d", 7 * 86400 * US);
	expect_duration("2w", 14 * 86400 * US);
	expect_duration("500ms", 500000);
	expect_duration("1m30s", 90 * US);
	expect_duration("1d12h", 36 * 3600 * US);
	expect_duration("1s500ms", 1500000);
	expect_duration("1w2d3h4m5s6ms", ((((7 + 2) * 24 + 3) * 60 + 4) * 60 + 5) * US + 6000);
	expect_duration("1h0m", 3600 * US);
	expect_duration("007m", 7 * 60 * US);
	expect_duration("7446w", 7446LL * 7 * 86400 * US); /* the longest whole weeks */
}

static void test_parse_duration_garbage(void **state)
{
	static const char *bad[] = {
	    "",
	    "0s",
	    "0m0s",
	    "90",
	    "s",
	    "1.5h",
	    "-5m",
	    "5x",
	    "1h30",
	    " 5s",
	    "5s ",
	    "5 s",
	    "h1",
	    "5sec",
	    "99999999999999999999d",
	    "9223372036854775807w",
	    /* issue 11: repeated or out-of-order units were added up */
	    "1h1h",
	    "1m1m",
	    "30m1h",
	    "1s1m",
	    "500ms1s",
	    "1d1w",
	    "1h30m1h",
	    "1ms1ms",
	    /* longer than the clock's whole range */
	    "7447w",
	    "52126d",
	    "4503599627370496ms",
	    "ms",
	    "1m s",
	    "1H",
	    "+5m",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct errbuf e = {{0}};
		int64_t us = 42;
		char *copy = xstrdup(bad[i]);
		int rc = hlc_parse_duration(copy, &us, &e);

		free(copy);
		if (rc != -EINVAL)
			fail_msg("duration '%s' accepted (%" PRId64 " us)", bad[i], us);
		if (!strstr(e.msg, "duration '"))
			fail_msg("duration '%s': message does not name it: %s", bad[i], e.msg);
	}
	assert_int_equal(hlc_parse_duration(NULL, &(int64_t){0}, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_monotonic_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_wall_clock_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_restart_reservation_ahead, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_raise, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_raise_near_end_of_range, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_end_of_range_saturates, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_clock_file, setup, teardown),
	    cmocka_unit_test(test_parse_rfc3339),
	    cmocka_unit_test(test_parse_relative_and_hybrid),
	    cmocka_unit_test(test_parse_time_garbage),
	    cmocka_unit_test(test_parse_time_out_of_range),
	    cmocka_unit_test(test_parse_time_invalid_dates),
	    cmocka_unit_test(test_format_roundtrip),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_parse_duration_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
