/*
 * progress: see progress.h. The work and the watcher share one struct
 * under one mutex, held only to copy a few fields; the watcher calls the
 * listener with the mutex released. The phase starts and ends go through
 * a short queue so none is lost when the listener is slow (when the queue
 * is full the oldest report goes: a listener that far behind has lost
 * nothing it could still use).
 */
#include "progress.h"

#include "fsutil.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_MAX 16

struct progress {
	pthread_mutex_t lock;
	pthread_cond_t cond;			 /* with lock: a report queued, or stop */
	struct progress_report cur;		 /* protected by lock */
	int open;				 /* a phase is under way, protected by lock */
	uint64_t changes;			 /* bumped by each change, protected by lock */
	struct progress_report queue[QUEUE_MAX]; /* oldest first, protected by lock */
	uint64_t queued_at[QUEUE_MAX];		 /* changes when queued, protected by lock */
	unsigned nq;				 /* protected by lock */
	int stop;				 /* protected by lock */
	int64_t interval_us;
	progress_fn fn;
	void *arg;
	pthread_t thread;
	struct progress *prev; /* the starting thread's current progress before */
};

static _Thread_local struct progress *current;

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Under p->lock. */
static void push_locked(struct progress *p, const struct progress_report *r)
{
	if (p->nq == QUEUE_MAX) {
		memmove(p->queue, p->queue + 1, (QUEUE_MAX - 1) * sizeof(*p->queue));
		memmove(p->queued_at, p->queued_at + 1, (QUEUE_MAX - 1) * sizeof(*p->queued_at));
		p->nq--;
	}
	p->queue[p->nq] = *r;
	p->queued_at[p->nq++] = p->changes;
	pthread_cond_signal(&p->cond);
}

static void *watch(void *arg)
{
	struct progress *p = arg;
	struct progress_report q[QUEUE_MAX], cur;
	uint64_t seen = 0;
	int64_t last = mono_us(); /* the first count an interval after the start */

	pthread_mutex_lock(&p->lock);
	for (;;) {
		int64_t now = mono_us(), wake;
		unsigned nq = p->nq;
		int send_cur = 0;
		struct timespec ts;

		memcpy(q, p->queue, nq * sizeof(*q));
		if (nq)
			seen = p->queued_at[nq - 1];
		p->nq = 0;
		if (p->open && p->changes != seen && (now - last >= p->interval_us || p->stop)) {
			cur = p->cur;
			seen = p->changes;
			send_cur = 1;
		}
		if (nq || send_cur) {
			/* copy, release, send */
			pthread_mutex_unlock(&p->lock);
			for (unsigned i = 0; i < nq; i++)
				p->fn(p->arg, &q[i]);
			if (send_cur)
				p->fn(p->arg, &cur);
			last = mono_us();
			pthread_mutex_lock(&p->lock);
			continue;
		}
		if (p->stop)
			break;
		/* progress_add does not signal: look again after the interval */
		wake = p->open && p->changes != seen ? last + p->interval_us : now + p->interval_us;
		if (wake < now + 1000)
			wake = now + 1000;
		ts.tv_sec = (time_t)(wake / 1000000);
		ts.tv_nsec = (long)(wake % 1000000) * 1000;
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int progress_start(struct progress **out, int64_t interval_us, progress_fn fn, void *arg)
{
	struct progress *p = xcalloc(1, sizeof(*p));
	pthread_condattr_t ca;
	int rc;

	*out = NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	p->interval_us = interval_us;
	p->fn = fn;
	p->arg = arg;
	rc = pthread_create(&p->thread, NULL, watch, p);
	if (rc) {
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return -rc;
	}
	p->prev = current;
	current = p;
	*out = p;
	return 0;
}

static void end_locked(struct progress *p)
{
	if (!p->open)
		return;
	p->open = 0;
	p->cur.end = 1;
	p->changes++;
	push_locked(p, &p->cur);
}

void progress_stop(struct progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	end_locked(p); /* an open phase ends here, at its count */
	p->stop = 1;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	if (current == p)
		current = p->prev;
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct progress *progress_current(void)
{
	return current;
}

void progress_phase(struct progress *p, const char *phase, const char *unit, uint64_t total)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	end_locked(p);
	p->cur = (struct progress_report){.phase = phase, .unit = unit, .total = total};
	p->open = 1;
	p->changes++;
	push_locked(p, &p->cur);
	pthread_mutex_unlock(&p->lock);
}

void progress_add(struct progress *p, uint64_t n)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->open) {
		p->cur.done += n;
		p->changes++;
	}
	pthread_mutex_unlock(&p->lock);
}

void progress_phase_end(struct progress *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	end_locked(p);
	pthread_mutex_unlock(&p->lock);
}

/* ---- text ---- */

static void fmt_bytes(double b, char *buf, size_t len)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	int u = 0;

	while (b >= 1024 && u < 5) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", b, units[u]);
}

static void fmt_secs(uint64_t s, char *buf, size_t len)
{
	if (s >= 3600)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRIu64 "s", s);
}

char *progress_format(const struct progress_report *r, double per_s, int human, char *buf,
		      unsigned len)
{
	int bytes = human && !strcmp(r->unit, "bytes");
	unsigned pct = r->total ? (unsigned)((double)r->done * 100 / (double)r->total) : 100;
	char d[32], t[32], rate[48] = "", eta[40] = "";
	if (pct > 100)
		pct = 100;
	if (bytes) {
		fmt_bytes((double)r->done, d, sizeof(d));
		fmt_bytes((double)r->total, t, sizeof(t));
	} else {
		snprintf(d, sizeof(d), "%" PRIu64, r->done);
		snprintf(t, sizeof(t), "%" PRIu64, r->total);
	}
	if (per_s > 0) {
		char v[32];

		if (!strcmp(r->unit, "bytes")) {
			fmt_bytes(per_s, v, sizeof(v));
			snprintf(rate, sizeof(rate), ", %s/s", v);
		} else {
			snprintf(rate, sizeof(rate), per_s >= 10 ? ", %.0f %s/s" : ", %.1f %s/s",
				 per_s, r->unit);
		}
		if (!r->end && r->done < r->total) {
			fmt_secs((uint64_t)((double)(r->total - r->done) / per_s + 0.5), v,
				 sizeof(v));
			snprintf(eta, sizeof(eta), ", ETA %s", v);
		}
	}
	snprintf(buf, len, "%s %s/%s%s%s (%u%%)%s%s", r->phase, d, t, bytes ? "" : " ",
		 bytes ? "" : r->unit, pct, rate, eta);
	return buf;
}
