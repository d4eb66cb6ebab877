/*
 * hlc: hybrid logical clock (see hlc.h for the format).
 *
 * Invariants: last only grows (CAS loop); every time handed out is below
 * reserved, and reserved is on disk before such a time leaves hlc_now().
 * Persisting happens at most about once a second (the reservation runs a
 * second ahead), under persist_lock, never in the common path.
 *
 * Also home of the time texts of the CLI: RFC 3339, relative times and
 * durations, so that every verb parses TIME and DUR the same way.
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
		uint64_t upto = t + hlc_from_us(RESERVE_US);

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
	int rc = reserve(c, t + 1);

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

int hlc_parse_duration(const char *s, int64_t *us, struct errbuf *e)
{
	const char *p = s;
	int64_t total = 0;

	if (!s || !*s)
		return err_set(e, -EINVAL, "duration '%s': empty", s ? s : "");
	while (*p) {
		char *end;
		long long n;
		int64_t unit;

		if (!isdigit((unsigned char)*p))
			goto bad;
		errno = 0;
		n = strtoll(p, &end, 10);
		if (errno || n < 0)
			goto bad;
		p = end;
		if (!strncmp(p, "ms", 2)) {
			unit = 1000;
			p += 2;
		} else if (*p == 's') {
			unit = 1000000;
			p++;
		} else if (*p == 'm') {
			unit = 60 * 1000000LL;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000000LL;
			p++;
		} else if (*p == 'd') {
			unit = 86400 * 1000000LL;
			p++;
		} else if (*p == 'w') {
			unit = 7 * 86400 * 1000000LL;
			p++;
		} else {
			goto bad;
		}
		if (n > INT64_MAX / unit || total > INT64_MAX - n * unit)
			goto bad;
		total += n * unit;
	}
	if (total <= 0)
		goto bad;
	*us = total;
	return 0;
bad:
	return err_set(
	    e, -EINVAL,
	    "duration '%s': expected a number and a unit (ms, s, m, h, d, w), e.g. 90s or 1h30m",
	    s);
}

static int parse_rfc3339(const char *s, int64_t *us)
{
	struct tm tm;
	const char *p;
	long frac = 0;
	int digits = 0;
	int64_t off = 0;
	time_t secs;

	memset(&tm, 0, sizeof(tm));
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		p = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (digits < 6) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		if (!digits)
			return -EINVAL;
		while (digits < 6) {
			frac *= 10;
			digits++;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, hh, mm;

		/* exactly [+-]HH:MM: the p += 6 below must stay inside s */
		if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]) || p[3] != ':' ||
		    !isdigit((unsigned char)p[4]) || !isdigit((unsigned char)p[5]))
			return -EINVAL;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh > 23 || mm > 59)
			return -EINVAL;
		off = sign * (hh * 3600 + mm * 60);
		p += 6;
	} else {
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	secs = timegm(&tm);
	if (secs == (time_t)-1)
		return -EINVAL;
	*us = ((int64_t)secs - off) * 1000000LL + frac;
	return 0;
}

int hlc_parse_time(const char *s, int64_t now_us, uint64_t *ht, struct errbuf *e)
{
	int64_t us;
	const char *p;

	if (!s || !*s)
		return err_set(e, -EINVAL, "time '': empty");
	if (s[0] == '-') {
		if (hlc_parse_duration(s + 1, &us, NULL))
			goto bad;
		if (us > now_us)
			goto bad;
		*ht = hlc_from_us(now_us - us);
		return 0;
	}
	for (p = s; *p && isdigit((unsigned char)*p); p++)
		;
	if (!*p) {
		char *end;

		errno = 0;
		*ht = strtoull(s, &end, 10);
		if (errno)
			goto bad;
		return 0;
	}
	if (parse_rfc3339(s, &us) || us < 0)
		goto bad;
	/* A wall time names the end of its microsecond: every logical tick
	 * inside it is at or before that time. */
	*ht = hlc_from_us(us) | ((1u << HLC_LOGICAL_BITS) - 1);
	return 0;
bad:
	return err_set(e, -EINVAL,
		       "time '%s': expected RFC 3339 (2026-11-23T10:00:00Z), a relative time "
		       "(-15m) or a hybrid time",
		       s);
}
