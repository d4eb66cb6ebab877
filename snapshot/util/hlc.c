/*
 * hlc: hybrid logical clock (see hlc.h for the format).
 *
 * Invariants: last only grows (CAS loop); every time handed out is below
 * reserved, and reserved is on disk before such a time leaves hlc_now().
 * Persisting happens at most about once a second (the reservation runs a
 * second ahead), under persist_lock, never in the common path.
 *
 * The range: 52 bits of microseconds end in 2112 (HLC_MAX_US). hlc_raise
 * refuses a time within a day of the end (HLC_RAISE_MAX), so that a restore
 * of a tampered or far-future cut can neither wrap the reservation
 * arithmetic nor leave a clock with nothing left to hand out; the
 * reservation saturates at UINT64_MAX rather than wrap.
 *
 * Also home of the time texts of the CLI: RFC 3339, relative times and
 * durations, so that every verb parses TIME and DUR the same way. They are
 * parsed by hand, strictly (no strptime: it skips spaces, takes one-digit
 * fields and normalises February 30 into March 2), with every number
 * checked against its range before any arithmetic, so that no text can
 * wrap into a time the user did not write.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "hlc.h"

#include "fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESERVE_US 1000000LL

int64_t hlc_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static int persist(struct hlc *c, uint64_t upto)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", upto);

	return fs_write_atomic(c->path, buf, (size_t)n, 0644);
}

int hlc_init(struct hlc *c, const char *path, struct errbuf *e)
{
	char *text = NULL;
	uint64_t saved = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->persist_lock, NULL);
	c->path = xstrdup(path);
	rc = fs_read_all(path, 64, &text, NULL);
	if (rc == 0) {
		char *end;

		errno = 0;
		saved = strtoull(text, &end, 10);
		if (errno || end == text) {
			free(text);
			return err_set(e, -EBADMSG, "clock file '%s': not a number", path);
		}
		free(text);
	} else if (rc != -ENOENT) {
		return err_set(e, rc, "clock file '%s': %s", path, strerror(-rc));
	}
	atomic_store(&c->last, saved);
	atomic_store(&c->reserved, saved);
	return 0;
}

void hlc_release(struct hlc *c)
{
	pthread_mutex_destroy(&c->persist_lock);
	free(c->path);
	c->path = NULL;
}

static int reserve(struct hlc *c, uint64_t t)
{
	int rc = 0;

	pthread_mutex_lock(&c->persist_lock);
	if (t >= atomic_load(&c->reserved)) {
		/* saturates: only hlc_now() at the very end of the range gets
		 * there, and it then refuses to hand out more */
		uint64_t step = hlc_from_us(RESERVE_US);
		uint64_t upto = t > UINT64_MAX - step ? UINT64_MAX : t + step;

		rc = persist(c, upto);
		if (!rc)
			atomic_store(&c->reserved, upto);
	}
	pthread_mutex_unlock(&c->persist_lock);
	return rc;
}

uint64_t hlc_now(struct hlc *c)
{
	uint64_t last = atomic_load(&c->last), next;

	for (;;) {
		uint64_t phys = hlc_from_us(hlc_wall_us());

		if (last >= UINT64_MAX - 1)
			return 0; /* the end of the clock's range */
		next = phys > last ? phys : last + 1;
		if (next >= atomic_load(&c->reserved) && reserve(c, next))
			return 0;
		if (atomic_compare_exchange_weak(&c->last, &last, next))
			return next;
	}
}

uint64_t hlc_last(struct hlc *c)
{
	return atomic_load(&c->last);
}

int hlc_raise(struct hlc *c, uint64_t t)
{
	uint64_t last = atomic_load(&c->last);
	int rc;

	if (t > HLC_RAISE_MAX)
		return -ERANGE;
	rc = reserve(c, t + 1);
	if (rc)
		return rc;
	while (last < t && !atomic_compare_exchange_weak(&c->last, &last, t))
		;
	return 0;
}

void hlc_format_rfc3339(int64_t us, int frac, char *buf, size_t len)
{
	time_t secs = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
	long rem = (long)(us - (int64_t)secs * 1000000);
	struct tm tm;
	char base[32];

	gmtime_r(&secs, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	if (frac)
		snprintf(buf, len, "%s.%06ldZ", base, rem);
	else
		snprintf(buf, len, "%sZ", base);
}

/* ---- durations ---- */

/* The units of a duration, largest first: a text names each at most once,
 * in this order ("1h30m", not "30m1h" nor "1h1h"). */
static const struct {
	const char *name;
	int64_t us;
} units[] = {
    {"w", 7 * 86400 * 1000000LL}, {"d", 86400 * 1000000LL}, {"h", 3600 * 1000000LL},
    {"m", 60 * 1000000LL},	  {"s", 1000000LL},	    {"ms", 1000LL},
};
#define NUNITS (sizeof(units) / sizeof(units[0]))

/* 0, -EINVAL (not a duration: *why says what is wrong) or -ERANGE (longer
 * than the clock's whole range). */
static int parse_duration(const char *s, int64_t *us, const char **why)
{
	const char *p = s;
	size_t next_unit = 0; /* units before this one are used up */
	int64_t total = 0;

	*why = NULL; /* not a duration at all */
	if (!*p)
		return -EINVAL;
	while (*p) {
		int64_t n = 0;
		size_t u, len;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		for (; isdigit((unsigned char)*p); p++) {
			if (n > (HLC_MAX_US - (*p - '0')) / 10)
				return -ERANGE;
			n = n * 10 + (*p - '0');
		}
		/* "ms" is not "m" followed by junk: a unit ends at a non-letter */
		for (u = 0; u < NUNITS; u++) {
			len = strlen(units[u].name);
			if (!strncmp(p, units[u].name, len) && !isalpha((unsigned char)p[len]))
				break;
		}
		if (u == NUNITS)
			return -EINVAL;
		if (u < next_unit) {
			*why = "each unit at most once, largest first (1h30m, not 30m1h or 1h1h)";
			return -EINVAL;
		}
		next_unit = u + 1;
		p += len;
		if (n > (HLC_MAX_US - total) / units[u].us)
			return -ERANGE;
		total += n * units[u].us;
	}
	if (total <= 0) {
		*why = "must be longer than zero";
		return -EINVAL;
	}
	*us = total;
	return 0;
}

int hlc_parse_duration(const char *s, int64_t *us, struct errbuf *e)
{
	const char *why;
	char max[16];
	int rc;

	if (!s)
		return err_set(e, -EINVAL, "duration '': empty");
	rc = parse_duration(s, us, &why);
	if (rc == -ERANGE) {
		snprintf(max, sizeof(max), "%" PRId64 "w", HLC_MAX_US / units[0].us);
		return err_set(e, -EINVAL,
			       "duration '%s': out of range (at most %s, the clock's range)", s,
			       max);
	}
	if (rc)
		return err_set(e, -EINVAL, "duration '%s': %s", s,
			       why ? why
				   : "expected a number and a unit (ms, s, m, h, d, w), "
				     "e.g. 90s or 1h30m");
	return 0;
}

/* ---- RFC 3339 ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), for any year 0..9999. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : mdays[m - 1];
}

/* n digits at p as a number, or -1 if any is not a digit. */
static int fixed_digits(const char *p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Strict RFC 3339: YYYY-MM-DD, 'T' (or 't' or a space), hh:mm:ss, an
 * optional fraction of 1 to 9 digits (kept to the microsecond), then 'Z'
 * (or 'z') or +hh:mm / -hh:mm. Every field in its range: a real day of
 * its month (leap years included), hours 00-23, minutes and seconds 00-59
 * (no leap second: the clock has none). 0 with µs since the epoch (which
 * may be negative or beyond the clock: the caller checks the range), or
 * -EINVAL with *why. */
static int parse_rfc3339(const char *s, int64_t *us, const char **why)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0, secs;
	int digits = 0;

	*why = NULL; /* the generic "expected ..." */
	y = fixed_digits(p, 4);
	if (y < 0 || p[4] != '-')
		return -EINVAL;
	mo = fixed_digits(p + 5, 2);
	if (mo < 0 || p[7] != '-')
		return -EINVAL;
	d = fixed_digits(p + 8, 2);
	if (d < 0 || (p[10] != 'T' && p[10] != 't' && p[10] != ' '))
		return -EINVAL;
	h = fixed_digits(p + 11, 2);
	if (h < 0 || p[13] != ':')
		return -EINVAL;
	mi = fixed_digits(p + 14, 2);
	if (mi < 0 || p[16] != ':')
		return -EINVAL;
	sec = fixed_digits(p + 17, 2);
	if (sec < 0)
		return -EINVAL;
	p += 19;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, digits++)
			if (digits < 6)
				frac = frac * 10 + (*p - '0');
		if (!digits)
			return -EINVAL;
		if (digits > 9) {
			*why = "more than 9 digits of fraction";
			return -EINVAL;
		}
		for (int i = digits; i < 6; i++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		oh = fixed_digits(p + 1, 2);
		if (oh < 0 || p[3] != ':')
			return -EINVAL;
		om = fixed_digits(p + 4, 2);
		if (om < 0)
			return -EINVAL;
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	if (mo < 1 || mo > 12)
		*why = "month not in 01-12";
	else if (d < 1 || d > days_in_month(y, mo))
		*why = "no such day in that month";
	else if (h > 23)
		*why = "hour not in 00-23";
	else if (mi > 59)
		*why = "minute not in 00-59";
	else if (sec > 59)
		*why = "second not in 00-59";
	else if (oh > 23 || om > 59)
		*why = "offset not in -23:59..+23:59";
	if (*why)
		return -EINVAL;
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	secs -= sign * (oh * 3600 + om * 60);
	*us = secs * 1000000 + frac;
	return 0;
}

/* ---- times ---- */

static int time_out_of_range(const char *s, struct errbuf *e)
{
	char hi[48];

	hlc_format_rfc3339(HLC_MAX_US, 0, hi, sizeof(hi));
	return err_set(e, -EINVAL,
		       "time '%s': time out of range (the hybrid clock holds "
		       "1970-01-01T00:00:00Z to %s)",
		       s, hi);
}

int hlc_parse_time(const char *s, int64_t now_us, uint64_t *ht, struct errbuf *e)
{
	const char *p, *why = NULL;
	int64_t us;
	int rc;

	if (!s || !*s)
		return err_set(e, -EINVAL, "time '': empty");
	if (s[0] == '-') {
		rc = parse_duration(s + 1, &us, &why);
		if (rc == -ERANGE || (!rc && us > now_us))
			return time_out_of_range(s, e);
		if (rc)
			goto bad;
		*ht = hlc_from_us(now_us - us);
		return 0;
	}
	for (p = s; isdigit((unsigned char)*p); p++)
		;
	if (!*p) {
		uint64_t v = 0;

		for (p = s; *p; p++) {
			if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
				return time_out_of_range(s, e);
			v = v * 10 + (uint64_t)(*p - '0');
		}
		*ht = v;
		return 0;
	}
	if (parse_rfc3339(s, &us, &why))
		goto bad;
	if (us < 0 || us > HLC_MAX_US)
		return time_out_of_range(s, e);
	/* A wall time names the end of its microsecond: every logical tick
	 * inside it is at or before that time. */
	*ht = hlc_from_us(us) | ((1u << HLC_LOGICAL_BITS) - 1);
	return 0;
bad:
	if (why)
		return err_set(e, -EINVAL, "time '%s': %s", s, why);
	return err_set(e, -EINVAL,
		       "time '%s': expected RFC 3339 (2026-11-23T10:00:00Z), a relative time "
		       "(-15m) or a hybrid time",
		       s);
}
