/*
 * put_latency: per-put latency of a running snapfs daemon, for
 * scripts/bench/snapshot. One client, ONE persistent connection on
 * DATA/snapfs.sock (the daemon serves any number of requests on it), the
 * real framing (mount/ctl_proto.c is compiled in), "put" requests paced at
 * RATE per second for SECONDS.
 *
 *     put_latency DATA KS.TABLE SECONDS RATE VALUE_SIZE KEY_PREFIX
 *
 * Keys are KEY_PREFIX%010d (new keys, in order), values VALUE_SIZE bytes
 * from store_load_value. A put's latency is from the first byte sent to
 * its CTL_END frame received. The pacing is open-loop (put i is due at
 * start + i/RATE; one that falls behind is sent at once, never skipped),
 * so a stall shows in every put it delays. The first 0.5 s warms up and is
 * not counted. Prints "puts", "rate", "p50_us", "p99_us", "p999_us",
 * "max_us", one "name value" a line; exits 1 on any failed put.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_proto.h"
#include "store.h"
#include "tablet.h"

#define WARMUP_S 0.5

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile of sorted v[0..n) (nearest rank). */
static double quantile(const double *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n + 0.999999);

	return v[i ? (i > n ? n : i) - 1 : 0];
}

/* One put, waiting for its reply: 0, or -1 with the error on stderr. */
static int put(int fd, const char *table, const char *key, const char *val, size_t vlen)
{
	struct ctl_msg req, rep;
	char *code = NULL, *err = NULL;
	int rc;

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "put");
	ctl_adds(&req, "table", table);
	ctl_adds(&req, "key", key);
	ctl_add(&req, "value", val, vlen);
	rc = ctl_send(fd, &req);
	ctl_msg_init(&rep, 0);
	while (!rc && !(rc = ctl_recv(fd, &rep)) && rep.type != CTL_END)
		; /* a put sends nothing before its end frame; skip it if it did */
	if (rc) {
		fprintf(stderr, "put_latency: error: connection: %s\n", strerror(-rc));
		ctl_msg_release(&rep);
		return -1;
	}
	code = ctl_dup(&rep, "code");
	if (!code || strcmp(code, "0")) {
		err = ctl_dup(&rep, "error");
		fprintf(stderr, "put_latency: error: put '%s': code %s: %s\n", key,
			code ? code : "?", err ? err : "");
		rc = -1;
	}
	free(code);
	free(err);
	ctl_msg_release(&rep);
	return rc ? -1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t secs, rate, vsize;
	double *lat = NULL, t0, end, warm_end;
	size_t n = 0, cap;
	char *val;
	int fd, rc = 1;

	if (argc != 7 || parse_u64(argv[3], &secs) || parse_u64(argv[4], &rate) ||
	    parse_u64(argv[5], &vsize) || !secs || !rate || vsize > VALUE_MAX ||
	    strlen(argv[6]) > 64) {
		fprintf(stderr, "usage: put_latency DATA KS.TABLE SECONDS RATE VALUE_SIZE "
				"KEY_PREFIX\n");
		return 1;
	}
	fd = ctl_connect(argv[1]);
	if (fd < 0) {
		fprintf(stderr, "put_latency: error: daemon of '%s': %s\n", argv[1], strerror(-fd));
		return 1;
	}
	val = malloc(vsize + 1);
	cap = (size_t)(secs * rate) + 1024;
	lat = malloc(cap * sizeof(*lat));
	if (!val || !lat)
		goto out;

	t0 = now_s();
	warm_end = t0 + WARMUP_S;
	end = warm_end + (double)secs;
	for (uint64_t i = 0;; i++) {
		double due = t0 + (double)i / (double)rate, a, b;
		char key[96];

		if (due >= end)
			break;
		sleep_until(due);
		snprintf(key, sizeof(key), "%s%010" PRIu64, argv[6], i);
		store_load_value(7, i, val, (uint32_t)vsize);
		a = now_s();
		if (put(fd, argv[2], key, val, vsize))
			goto out;
		b = now_s();
		if (a >= warm_end && n < cap)
			lat[n++] = b - a;
	}
	if (!n) {
		fprintf(stderr, "put_latency: error: no put measured\n");
		goto out;
	}
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("puts %zu\nrate %.0f\np50_us %.0f\np99_us %.0f\np999_us %.0f\nmax_us %.0f\n", n,
	       (double)n / (double)secs, quantile(lat, n, 0.50) * 1e6, quantile(lat, n, 0.99) * 1e6,
	       quantile(lat, n, 0.999) * 1e6, lat[n - 1] * 1e6);
	rc = 0;
out:
	close(fd);
	free(lat);
	free(val);
	return rc;
}
