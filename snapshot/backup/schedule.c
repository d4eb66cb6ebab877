/*
 * schedule: snapshot schedules, retention, history low marks and restore
 * to a time (see schedule.h).
 *
 * Locks: sc->lock (mutex) protects the schedule list; never held across a
 * snapshot create or delete. sc->tick_lock serialises ticks with schedule
 * deletes and restores, so a tick never snapshots a schedule being deleted.
 */
#include "schedule.h"

#include "fsutil.h"
#include "jtime.h"
#include "log.h"
#include "restore.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct schedules {
	struct store *store;
	struct snapshots *snaps;
	pthread_mutex_t lock;
	pthread_mutex_t tick_lock;
	size_t n;		    /* protected by lock */
	struct schedrec *scheds;    /* protected by lock */
	int64_t default_history_us; /* without a schedule; $SNAPFS_HISTORY */
	pthread_t thread;
	int running;
	int stop;	     /* protected by lock */
	pthread_cond_t cond; /* with lock: wakes the thread to stop */
};

static json_object *sched_json(const struct schedrec *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "keyspace", json_object_new_string(s->ks));
	json_object_object_add(o, "interval_us", json_object_new_int64(s->interval_us));
	json_object_object_add(o, "retention_us", json_object_new_int64(s->retention_us));
	json_object_object_add(o, "created_us", json_object_new_int64(s->created_us));
	return o;
}

static int load_cb(void *arg, const char *key, const char *text, size_t len)
{
	void **a = arg;
	struct schedules *sc = a[0];
	struct errbuf *e = a[1];
	struct schedrec s;
	int rc = schedrec_parse(text, len, &s, e);

	if (rc)
		return err_prefix(e, rc, "catalog record '%s'", key);
	sc->scheds = xrealloc(sc->scheds, (sc->n + 1) * sizeof(*sc->scheds));
	sc->scheds[sc->n++] = s;
	return 0;
}

int schedules_open(struct schedules **out, struct store *s, struct snapshots *ss, struct errbuf *e)
{
	struct schedules *sc = xcalloc(1, sizeof(*sc));
	int rc;

	sc->store = s;
	sc->snaps = ss;
	sc->default_history_us = SCHEDULE_DEFAULT_HISTORY_US;
	if (getenv("SNAPFS_HISTORY")) {
		const char *h = getenv("SNAPFS_HISTORY");

		if (!strcmp(h, "0") || !strcmp(h, "none"))
			sc->default_history_us = 1; /* keep only the newest versions */
		else if (hlc_parse_duration(h, &sc->default_history_us, e)) {
			free(sc);
			return err_prefix(e, -EINVAL, "SNAPFS_HISTORY");
		}
	}
	pthread_mutex_init(&sc->lock, NULL);
	pthread_mutex_init(&sc->tick_lock, NULL);
	pthread_cond_init(&sc->cond, NULL);
	rc = catalog_scan_text(store_catalog(s), "sched/", load_cb, (void *[]){sc, e}, e);
	if (rc) {
		schedules_close(sc);
		return rc;
	}
	*out = sc;
	return 0;
}

void schedules_close(struct schedules *sc)
{
	if (!sc)
		return;
	schedules_stop(sc);
	pthread_mutex_destroy(&sc->lock);
	pthread_mutex_destroy(&sc->tick_lock);
	pthread_cond_destroy(&sc->cond);
	free(sc->scheds);
	free(sc);
}

/* A copy of the schedule list (caller frees). */
static struct schedrec *snapshot_list(struct schedules *sc, size_t *n)
{
	struct schedrec *v;

	pthread_mutex_lock(&sc->lock);
	v = xcalloc(sc->n, sizeof(*v));
	if (sc->n) /* scheds is NULL without schedules */
		memcpy(v, sc->scheds, sc->n * sizeof(*v));
	*n = sc->n;
	pthread_mutex_unlock(&sc->lock);
	return v;
}

/* The longest retention of the schedules of ks (0 if none). */
static int64_t ks_retention(const struct schedrec *v, size_t n, const char *ks)
{
	int64_t r = 0;

	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].ks, ks) && v[i].retention_us > r)
			r = v[i].retention_us;
	return r;
}

struct history_ctx {
	struct schedules *sc;
	const struct schedrec *v;
	size_t n;
	int64_t now;
};

static uint64_t history_low(void *arg, const char *ks)
{
	struct history_ctx *h = arg;
	int64_t keep = ks_retention(h->v, h->n, ks);

	if (!keep)
		keep = h->sc->default_history_us;
	return h->now - keep > 0 ? hlc_from_us(h->now - keep) : 0;
}

/* Raises every tablet's full-history low mark to now - retention. */
static void raise_history(struct schedules *sc, const struct schedrec *v, size_t n)
{
	struct history_ctx h = {sc, v, n, hlc_wall_us()};

	store_raise_history(sc->store, history_low, &h);
}

int schedule_due(const struct schedrec *sh, const struct snap_brief *b, size_t nb, int64_t now,
		 int64_t *newest)
{
	*newest = 0;
	for (size_t i = 0; i < nb; i++)
		if (b[i].complete && !strcmp(b[i].schedule_id, sh->id) && b[i].wall_us > *newest)
			*newest = b[i].wall_us;
	return !*newest || now - *newest >= sh->interval_us;
}

int schedule_expired(const struct schedrec *sh, const struct snap_brief *x, int64_t newest,
		     int64_t now)
{
	if (strcmp(x->schedule_id, sh->id))
		return 0;
	if (x->complete)
		/* inside the window, or the newest: kept */
		return !(x->wall_us >= now - sh->retention_us || x->wall_us >= newest);
	return x->failed; /* CREATING or DELETING: being worked on */
}

/* One schedule: take the due snapshot, then apply retention. */
static void tick_one(struct schedules *sc, const struct schedrec *sh, const struct snap_brief *b,
		     size_t nb, int64_t now)
{
	int64_t newest;
	struct errbuf e;
	char id[ID_LEN + 1];

	if (schedule_due(sh, b, nb, now, &newest)) {
		if (snap_create(sc->snaps, sh->ks, NULL, 0, sh->id, id, &e) == 0) {
			dlog("schedule '%s': snapshot '%s' of keyspace '%s' COMPLETE", sh->id, id,
			     sh->ks);
			newest = now;
		} else {
			dlog("schedule '%s': snapshot of keyspace '%s' failed: %s", sh->id, sh->ks,
			     e.msg);
		}
	}
	for (size_t i = 0; i < nb; i++) {
		if (!schedule_expired(sh, &b[i], newest, now))
			continue;
		if (snap_delete(sc->snaps, b[i].id, &e) == 0)
			dlog("schedule '%s': snapshot '%s' %s: deleted", sh->id, b[i].id,
			     b[i].failed ? "FAILED" : "past retention");
	}
}

void schedules_tick(struct schedules *sc)
{
	struct schedrec *v;
	struct snap_brief *b = NULL;
	size_t n, nb = 0;

	pthread_mutex_lock(&sc->tick_lock);
	v = snapshot_list(sc, &n);
	for (size_t i = 0; i < n; i++) {
		snap_brief_list(sc->snaps, &b, &nb);
		tick_one(sc, &v[i], b, nb, hlc_wall_us());
		free(b);
		b = NULL;
	}
	raise_history(sc, v, n);
	free(v);
	pthread_mutex_unlock(&sc->tick_lock);
	snapshots_prehash(sc->snaps); /* outside tick_lock: it may hash for a while */
}

static void *thread_main(void *arg)
{
	struct schedules *sc = arg;

	pthread_mutex_lock(&sc->lock);
	while (!sc->stop) {
		struct timespec ts;

		pthread_mutex_unlock(&sc->lock);
		schedules_tick(sc);
		pthread_mutex_lock(&sc->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		if (!sc->stop)
			pthread_cond_timedwait(&sc->cond, &sc->lock, &ts);
	}
	pthread_mutex_unlock(&sc->lock);
	return NULL;
}

int schedules_start(struct schedules *sc)
{
	int rc = pthread_create(&sc->thread, NULL, thread_main, sc);

	if (rc)
		return -rc;
	sc->running = 1;
	return 0;
}

void schedules_stop(struct schedules *sc)
{
	if (!sc || !sc->running)
		return;
	pthread_mutex_lock(&sc->lock);
	sc->stop = 1;
	pthread_cond_broadcast(&sc->cond);
	pthread_mutex_unlock(&sc->lock);
	pthread_join(sc->thread, NULL);
	sc->running = 0;
}

int schedule_create(struct schedules *sc, const char *ks, int64_t interval_us, int64_t retention_us,
		    char id[ID_LEN + 1], struct errbuf *e)
{
	struct schedrec s;
	char *key, *text;
	int rc;

	memset(&s, 0, sizeof(s));
	if (!name_valid(ks))
		return err_set(e, -EINVAL, "keyspace '%s': not a valid name", ks);
	if (!store_keyspace_exists(sc->store, ks))
		return err_set(e, -ENOENT, "keyspace '%s': not found", ks);
	if (interval_us < SCHEDULE_MIN_INTERVAL_US)
		return err_set(e, -EINVAL, "--interval: at least 1s");
	if (retention_us < interval_us)
		return err_set(e, -EINVAL, "--retention: must be at least the interval");
	id_new(s.id);
	strcpy(s.ks, ks);
	s.interval_us = interval_us;
	s.retention_us = retention_us;
	s.created_us = hlc_wall_us();
	key = fs_path("sched/%s", s.id);
	text = schedrec_format(&s);
	rc = catalog_put_text(store_catalog(sc->store), key, text, e);
	free(text);
	free(key);
	if (rc)
		return rc;
	pthread_mutex_lock(&sc->lock);
	sc->scheds = xrealloc(sc->scheds, (sc->n + 1) * sizeof(*sc->scheds));
	sc->scheds[sc->n++] = s;
	pthread_mutex_unlock(&sc->lock);
	strcpy(id, s.id);
	return 0;
}

int schedule_delete(struct schedules *sc, const char *id, struct errbuf *e)
{
	struct snap_brief *b = NULL;
	size_t nb = 0;
	char *key = fs_path("sched/%s", id);
	int rc = -ENOENT;

	pthread_mutex_lock(&sc->tick_lock);
	pthread_mutex_lock(&sc->lock);
	for (size_t i = 0; i < sc->n; i++) {
		if (strcmp(sc->scheds[i].id, id))
			continue;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&sc->lock);
	if (rc) {
		err_set(e, rc, "schedule '%s': not found", id);
		goto out;
	}
	rc = catalog_delete(store_catalog(sc->store), key, e);
	if (rc)
		goto out;
	pthread_mutex_lock(&sc->lock);
	for (size_t i = 0; i < sc->n; i++) {
		if (strcmp(sc->scheds[i].id, id))
			continue;
		sc->scheds[i] = sc->scheds[--sc->n];
		break;
	}
	pthread_mutex_unlock(&sc->lock);
	/* its restore points go with it */
	snap_brief_list(sc->snaps, &b, &nb);
	for (size_t i = 0; i < nb; i++)
		if (!strcmp(b[i].schedule_id, id))
			snap_delete(sc->snaps, b[i].id, NULL);
	free(b);
out:
	pthread_mutex_unlock(&sc->tick_lock);
	free(key);
	return rc;
}

static void fmt_dur(int64_t us, char *buf, size_t len)
{
	int64_t s = us / 1000000;

	if (s % 86400 == 0)
		snprintf(buf, len, "%" PRId64 "d", s / 86400);
	else if (s % 3600 == 0)
		snprintf(buf, len, "%" PRId64 "h", s / 3600);
	else if (s % 60 == 0)
		snprintf(buf, len, "%" PRId64 "m", s / 60);
	else
		snprintf(buf, len, "%" PRId64 "s", s);
}

int schedule_list(struct schedules *sc, json_object **out, struct errbuf *e)
{
	size_t n;
	struct schedrec *v = snapshot_list(sc, &n);
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *o = sched_json(&v[i]);
		char buf[32];

		json_object_object_del(o, "created_us");
		jtime_add_us(o, NULL, v[i].created_us);
		fmt_dur(v[i].interval_us, buf, sizeof(buf));
		json_object_object_add(o, "interval", json_object_new_string(buf));
		fmt_dur(v[i].retention_us, buf, sizeof(buf));
		json_object_object_add(o, "retention", json_object_new_string(buf));
		json_object_array_add(arr, o);
	}
	free(v);
	*out = arr;
	return 0;
}

void schedule_window(const struct schedrec *sh, const struct snap_brief *b, size_t nb, int64_t now,
		     int64_t *earliest, int64_t *latest, size_t *count)
{
	*latest = now;
	*count = 0;
	for (size_t i = 0; i < nb; i++)
		if (b[i].complete && !strcmp(b[i].schedule_id, sh->id))
			(*count)++;
	*earliest = now - sh->retention_us;
	if (sh->created_us > *earliest)
		*earliest = sh->created_us;
	if (!*count)
		*earliest = now; /* nothing taken yet: only now */
}

const struct snap_brief *schedule_pick(const struct schedrec *sh, const struct snap_brief *b,
				       size_t nb, uint64_t t)
{
	const struct snap_brief *best = NULL;

	for (size_t i = 0; i < nb; i++)
		if (b[i].complete && !strcmp(b[i].schedule_id, sh->id) && b[i].hybrid_time >= t &&
		    (!best || b[i].hybrid_time < best->hybrid_time))
			best = &b[i];
	return best;
}

int schedule_restore_points(struct schedules *sc, json_object **out, struct errbuf *e)
{
	size_t n, nb = 0;
	struct schedrec *v = snapshot_list(sc, &n);
	struct snap_brief *b = NULL;
	json_object *arr = json_object_new_array();
	int64_t now = hlc_wall_us();

	snap_brief_list(sc->snaps, &b, &nb);
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		int64_t lo, hi;
		size_t count;

		schedule_window(&v[i], b, nb, now, &lo, &hi, &count);
		json_object_object_add(o, "schedule_id", json_object_new_string(v[i].id));
		json_object_object_add(o, "keyspace", json_object_new_string(v[i].ks));
		jtime_add_us(o, "earliest", lo);
		jtime_add_us(o, "latest", hi);
		json_object_object_add(o, "snapshots", json_object_new_int((int)count));
		json_object_array_add(arr, o);
	}
	free(b);
	free(v);
	*out = arr;
	return 0;
}

int schedule_before_drop(struct schedules *sc, const char *ks, struct errbuf *e)
{
	size_t n;
	struct schedrec *v = snapshot_list(sc, &n);
	char id[ID_LEN + 1];
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++)
		if (!strcmp(v[i].ks, ks)) {
			rc = snap_create(sc->snaps, ks, NULL, 0, v[i].id, id, e);
			if (!rc)
				dlog("schedule '%s': snapshot '%s' before a DROP TABLE in '%s'",
				     v[i].id, id, ks);
			break; /* one snapshot keeps the table for the longest retention */
		}
	free(v);
	return rc;
}

int schedule_restore_to(struct schedules *sc, const char *ks, uint64_t t, struct errbuf *e)
{
	size_t n, nb = 0;
	struct schedrec *v = snapshot_list(sc, &n), *sh = NULL;
	struct snap_brief *b = NULL;
	int64_t now = hlc_wall_us(), lo, hi, tus = hlc_physical_us(t);
	size_t count;
	const struct snap_brief *best = NULL;
	char id[ID_LEN + 1], a[40], z[40], when[40];
	int rc;

	pthread_mutex_lock(&sc->tick_lock);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].ks, ks) && (!sh || v[i].retention_us > sh->retention_us))
			sh = &v[i];
	if (!sh && !store_keyspace_exists(sc->store, ks)) {
		rc = err_set(e, -ENOENT, "keyspace '%s': not found", ks);
		goto out;
	}
	if (!sh) {
		rc = err_set(e, -EPERM,
			     "keyspace '%s': has no schedule, so no restore points "
			     "(snapfs schedule create %s --interval DUR --retention DUR)",
			     ks, ks);
		goto out;
	}
	snap_brief_list(sc->snaps, &b, &nb);
	schedule_window(sh, b, nb, now, &lo, &hi, &count);
	if (tus < lo || tus > hi) {
		hlc_format_rfc3339(lo, 1, a, sizeof(a));
		hlc_format_rfc3339(hi, 1, z, sizeof(z));
		hlc_format_rfc3339(tus, 1, when, sizeof(when));
		rc = err_set(e, -ERANGE,
			     "time '%s': outside the restore window of keyspace '%s' (%s to %s)",
			     when, ks, a, z);
		goto out;
	}
	best = schedule_pick(sh, b, nb, t);
	if (best) {
		strcpy(id, best->id);
	} else {
		rc = snap_create(sc->snaps, ks, NULL, 0, sh->id, id, e);
		if (rc)
			goto out;
	}
	rc = restore_snapshot_at(sc->store, sc->snaps, id, NULL, NULL, t, e);
	if (rc)
		goto out;
	/* tables created after t went in the same step (restore.c) */
out:
	pthread_mutex_unlock(&sc->tick_lock);
	free(b);
	free(v);
	return rc;
}
