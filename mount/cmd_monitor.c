/*
 * cmd_monitor: what a monitor reads. The sections `status` adds to the
 * daemon's own fields (srv_status in cmd_daemon.c calls one function per
 * section, so other sections can come and go beside them), the text form
 * of status, and `metrics`: the same numbers as OpenMetrics text for
 * node_exporter's textfile collector.
 *
 * Per keyspace (status_add_keyspaces): its tables and snapshots, the last
 * COMPLETE snapshot's time and age, the FAILED ones, each schedule's last
 * and next run, the restore window (from the history low mark of its
 * tablets to now) and the disk it takes (space.h: live, in snapshots,
 * only in snapshots). The records are copied out of their modules first
 * (each module's lock held only for the copy), then the disk is walked
 * with no lock held.
 *
 * metrics is computed by the client from the status document, not by the
 * daemon: the two cannot disagree, and a daemon that does not answer
 * still yields a document (snapfs_up 0) for the collector to alert on.
 * Only gauges are printed (a value that can go up and down, and "1"
 * carrying labels), because a counter's and an info's names differ
 * between OpenMetrics and the Prometheus text format the collector reads,
 * and a gauge is the same in both.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "jtime.h"
#include "schedule.h"
#include "snap.h"
#include "space.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- daemon side: sections of status ---- */

void status_add_uptime(json_object *o, struct daemon *d)
{
	int64_t up = hlc_wall_us() - d->started_us;

	json_object_object_add(o, "uptime_seconds",
			       json_object_new_int64(up > 0 ? up / 1000000 : 0));
}

/* What status knows of each keyspace, copied out of the modules. */
struct ks_facts {
	struct snap_brief *b;
	size_t nb;
	struct tablerec *t;
	size_t nt;
	json_object *scheds; /* schedule list */
	struct space_usage u;
	int64_t now;
	char (*names)[NAME_LEN + 1];
	size_t nnames;
};

static void add_name(struct ks_facts *f, const char *name)
{
	for (size_t i = 0; i < f->nnames; i++)
		if (!strcmp(f->names[i], name))
			return;
	f->names = xrealloc(f->names, (f->nnames + 1) * sizeof(*f->names));
	snprintf(f->names[f->nnames++], NAME_LEN + 1, "%s", name);
}

static int ks_record_cb(void *arg, const char *key, const char *text, size_t len)
{
	struct ksrec k;

	if (ksrec_parse(text, len, &k, NULL) == 0)
		add_name(arg, k.name);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void facts_gather(struct ks_facts *f, struct daemon *d)
{
	memset(f, 0, sizeof(*f));
	f->now = hlc_wall_us();
	snap_brief_list(d->snaps, &f->b, &f->nb);
	store_table_recs(d->store, NULL, &f->t, &f->nt);
	if (schedule_list(d->sched, &f->scheds, NULL))
		f->scheds = json_object_new_array();
	space_measure(d->store, d->snaps, &f->u);
	catalog_scan_text(store_catalog(d->store), "ks/", ks_record_cb, f, NULL);
	for (size_t i = 0; i < f->nt; i++)
		add_name(f, f->t[i].ks);
	for (size_t i = 0; i < f->nb; i++)
		add_name(f, f->b[i].keyspace);
	for (size_t i = 0; i < json_object_array_length(f->scheds); i++)
		add_name(f, json_object_get_string(json_object_object_get(
				json_object_array_get_idx(f->scheds, i), "keyspace")));
	if (f->nnames)
		qsort(f->names, f->nnames, sizeof(*f->names), cmp_names);
}

static void facts_release(struct ks_facts *f)
{
	free(f->b);
	tablerecs_free(f->t, f->nt);
	json_object_put(f->scheds);
	space_usage_release(&f->u);
	free(f->names);
}

/* Snapshots of the keyspace: how many, how many FAILED, the newest
 * COMPLETE (by its cut). */
static void ks_snapshots(json_object *o, const struct ks_facts *f, const char *ks)
{
	const struct snap_brief *last = NULL;
	int n = 0, failed = 0;

	for (size_t i = 0; i < f->nb; i++) {
		if (strcmp(f->b[i].keyspace, ks))
			continue;
		n++;
		failed += f->b[i].failed;
		if (f->b[i].complete && (!last || f->b[i].hybrid_time > last->hybrid_time))
			last = &f->b[i];
	}
	json_object_object_add(o, "snapshots", json_object_new_int(n));
	json_object_object_add(o, "failed_snapshots", json_object_new_int(failed));
	json_object_object_add(o, "last_snapshot_id",
			       last ? json_object_new_string(last->id) : NULL);
	jtime_add(o, "last_snapshot", last ? last->hybrid_time : 0);
	json_object_object_add(o, "last_snapshot_age_seconds",
			       last ? json_object_new_int64(f->now > last->wall_us
								? (f->now - last->wall_us) / 1000000
								: 0)
				    : NULL);
}

/* Its schedules, as `schedule list` shows them, with their last run (the
 * newest COMPLETE snapshot each took) and next run (an interval later, or
 * at the next tick when that is past or none was taken yet). */
static void ks_schedules(json_object *o, const struct ks_facts *f, const char *ks)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < json_object_array_length(f->scheds); i++) {
		json_object *s = json_object_array_get_idx(f->scheds, i), *c = NULL;
		const char *id = json_object_get_string(json_object_object_get(s, "id"));
		int64_t iv = json_object_get_int64(json_object_object_get(s, "interval_us"));
		int64_t last = 0, next;

		if (strcmp(json_object_get_string(json_object_object_get(s, "keyspace")), ks))
			continue;
		for (size_t k = 0; k < f->nb; k++)
			if (f->b[k].complete && !strcmp(f->b[k].schedule_id, id) &&
			    f->b[k].wall_us > last)
				last = f->b[k].wall_us;
		next = last && last + iv > f->now ? last + iv : f->now;
		json_object_deep_copy(s, &c, NULL);
		json_object_object_del(c, "keyspace");
		jtime_add_us(c, "last_run", last);
		jtime_add_us(c, "next_run", next);
		json_object_array_add(arr, c);
	}
	json_object_object_add(o, "schedules", arr);
}

/* The restore window: from the history low mark of the keyspace's live
 * tablets (before it a read or a restore is refused), or the creation of
 * its oldest live table when that is later (nothing of it to go back to
 * before), to now. Two nulls without a live table. */
static void ks_window(json_object *o, struct daemon *d, const struct ks_facts *f, const char *ks)
{
	uint64_t low = 0, oldest = 0;
	int have = store_history_low(d->store, ks, &low) == 0;

	for (size_t i = 0; have && i < f->nt; i++)
		if (!strcmp(f->t[i].ks, ks) && (!oldest || f->t[i].created_ht < oldest))
			oldest = f->t[i].created_ht;
	if (oldest > low)
		low = oldest;
	if (have && hlc_physical_us(low) > f->now)
		low = hlc_from_us(f->now);
	jtime_add(o, "restore_window_start", have ? low : 0);
	jtime_add_us(o, "restore_window_end", have ? f->now : 0);
	json_object_object_add(
	    o, "restore_window_seconds",
	    have ? json_object_new_int64((f->now - hlc_physical_us(low)) / 1000000) : NULL);
}

static void ks_space(json_object *o, const struct ks_facts *f, const char *ks)
{
	const struct space_keyspace *k = space_keyspace_find(&f->u, ks);

	json_object_object_add(o, "live_bytes", json_object_new_uint64(k ? k->live_bytes : 0));
	json_object_object_add(o, "snapshot_bytes",
			       json_object_new_uint64(k ? k->snapshot_bytes : 0));
	json_object_object_add(o, "snapshot_exclusive_bytes",
			       json_object_new_uint64(k ? k->snapshot_exclusive_bytes : 0));
}

void status_add_keyspaces(json_object *o, struct daemon *d)
{
	json_object *arr = json_object_new_array();
	struct ks_facts f;

	facts_gather(&f, d);
	for (size_t i = 0; i < f.nnames; i++) {
		json_object *k = json_object_new_object();
		int tables = 0;

		for (size_t j = 0; j < f.nt; j++)
			tables += !strcmp(f.t[j].ks, f.names[i]);
		json_object_object_add(k, "name", json_object_new_string(f.names[i]));
		json_object_object_add(k, "tables", json_object_new_int(tables));
		ks_snapshots(k, &f, f.names[i]);
		ks_schedules(k, &f, f.names[i]);
		ks_window(k, d, &f, f.names[i]);
		ks_space(k, &f, f.names[i]);
		json_object_array_add(arr, k);
	}
	facts_release(&f);
	json_object_object_add(o, "keyspaces", arr);
}

/* ---- client side: status as text ---- */

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void human_bytes(uint64_t b, char *buf, size_t len)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void human_secs(int64_t s, char *buf, size_t len)
{
	if (s >= 86400)
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, s / 3600 % 24);
	else if (s >= 3600)
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	else
		snprintf(buf, len, "%" PRId64 "s", s);
}

/* A value for people: bytes and seconds by their name's suffix, a time
 * as its RFC 3339 text, null as "-". */
static void text_value(const char *key, json_object *v, char *buf, size_t len)
{
	if (!v)
		snprintf(buf, len, "-");
	else if (ends_with(key, "_bytes") && json_object_is_type(v, json_type_int))
		human_bytes(json_object_get_uint64(v), buf, len);
	else if (ends_with(key, "_seconds") && json_object_is_type(v, json_type_int))
		human_secs(json_object_get_int64(v), buf, len);
	else if (json_object_is_type(v, json_type_string))
		snprintf(buf, len, "%s", json_object_get_string(v));
	else
		snprintf(buf, len, "%s", json_object_to_json_string(v));
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = json_object_object_get(o, key);

	return v ? json_object_get_string(v) : "-";
}

static void print_keyspace(json_object *k)
{
	json_object *sc = json_object_object_get(k, "schedules");
	char a[64], b[64], c[64];

	printf("\nkeyspace %s: %s tables, %s snapshots, %s FAILED\n", jstr(k, "name"),
	       jstr(k, "tables"), jstr(k, "snapshots"), jstr(k, "failed_snapshots"));
	text_value("last_snapshot_age_seconds",
		   json_object_object_get(k, "last_snapshot_age_seconds"), a, sizeof(a));
	if (json_object_object_get(k, "last_snapshot_id"))
		printf("  last snapshot    %s (%s ago) %s\n", jstr(k, "last_snapshot_time"), a,
		       jstr(k, "last_snapshot_id"));
	else
		printf("  last snapshot    none\n");
	for (size_t i = 0; i < json_object_array_length(sc); i++) {
		json_object *s = json_object_array_get_idx(sc, i);

		printf("  schedule         %s every %s, kept %s: last run %s, next run %s\n",
		       jstr(s, "id"), jstr(s, "interval"), jstr(s, "retention"),
		       json_object_object_get(s, "last_run_time") ? jstr(s, "last_run_time")
								  : "never",
		       jstr(s, "next_run_time"));
	}
	text_value("restore_window_seconds", json_object_object_get(k, "restore_window_seconds"), a,
		   sizeof(a));
	if (json_object_object_get(k, "restore_window_start_time"))
		printf("  restore window   %s to now (%s)\n", jstr(k, "restore_window_start_time"),
		       a);
	else
		printf("  restore window   - (no table)\n");
	text_value("live_bytes", json_object_object_get(k, "live_bytes"), a, sizeof(a));
	text_value("snapshot_bytes", json_object_object_get(k, "snapshot_bytes"), b, sizeof(b));
	text_value("snapshot_exclusive_bytes",
		   json_object_object_get(k, "snapshot_exclusive_bytes"), c, sizeof(c));
	printf("  disk             %s live, %s in snapshots, %s only in snapshots\n", a, b, c);
}

int status_print_text(json_object *o)
{
	json_object *ks = NULL;
	char buf[256];

	/* the daemon's own fields, whatever they are: one line each */
	json_object_object_foreach(o, key, val)
	{
		if (ends_with(key, "hybrid_time"))
			continue; /* the RFC 3339 one is shown */
		if (!strcmp(key, "keyspaces")) {
			ks = val;
			continue;
		}
		text_value(key, val, buf, sizeof(buf));
		printf("%-16s %s\n", key, buf);
	}
	for (size_t i = 0; ks && i < json_object_array_length(ks); i++)
		print_keyspace(json_object_array_get_idx(ks, i));
	return fflush(stdout) || ferror(stdout) ? -EIO : 0;
}

/* ---- client side: metrics ---- */

/* How a metric's value is read from its JSON field. */
enum conv {
	CONV_NUMBER, /* as it is */
	CONV_HT,     /* a hybrid time (string): its physical part in seconds */
	CONV_US,     /* microseconds: in seconds */
};

struct family {
	const char *name, *help;
	const char *key; /* the field of status (or of a keyspace, or a schedule) */
	enum conv conv;
};

/* The daemon's own. */
static const struct family top_families[] = {
    {"snapfs_start_time_seconds", "when the daemon started (Unix time)", "started_hybrid_time",
     CONV_HT},
    {"snapfs_uptime_seconds", "seconds since the daemon started", "uptime_seconds", CONV_NUMBER},
    {"snapfs_tables", "tables in the store", "tables", CONV_NUMBER},
    {"snapfs_snapshots", "snapshot records, in any state", "snapshots", CONV_NUMBER},
    {NULL},
};

/* Per keyspace: label keyspace. */
static const struct family ks_families[] = {
    {"snapfs_keyspace_tables", "tables of the keyspace", "tables", CONV_NUMBER},
    {"snapfs_keyspace_snapshots", "snapshots of the keyspace, in any state", "snapshots",
     CONV_NUMBER},
    {"snapfs_failed_snapshots", "FAILED snapshots of the keyspace (kept until deleted)",
     "failed_snapshots", CONV_NUMBER},
    {"snapfs_last_snapshot_timestamp_seconds",
     "cut of the keyspace's newest COMPLETE snapshot (Unix time)", "last_snapshot_hybrid_time",
     CONV_HT},
    {"snapfs_last_snapshot_age_seconds", "age of the keyspace's newest COMPLETE snapshot",
     "last_snapshot_age_seconds", CONV_NUMBER},
    {"snapfs_restore_window_start_timestamp_seconds",
     "earliest time the keyspace can be read at or restored to (Unix time)",
     "restore_window_start_hybrid_time", CONV_HT},
    {"snapfs_restore_window_seconds", "length of the keyspace's restore window, up to now",
     "restore_window_seconds", CONV_NUMBER},
    {"snapfs_live_bytes", "disk used by the keyspace's live tablets (each file once)", "live_bytes",
     CONV_NUMBER},
    {"snapfs_snapshot_bytes", "disk used by the keyspace's snapshots (each file once)",
     "snapshot_bytes", CONV_NUMBER},
    {"snapfs_snapshot_exclusive_bytes",
     "disk used only by the keyspace's snapshots: what deleting them all would free",
     "snapshot_exclusive_bytes", CONV_NUMBER},
    {NULL},
};

/* Per schedule: labels keyspace and schedule. */
static const struct family sched_families[] = {
    {"snapfs_schedule_interval_seconds", "time between the schedule's snapshots", "interval_us",
     CONV_US},
    {"snapfs_schedule_retention_seconds", "how long the schedule keeps its snapshots",
     "retention_us", CONV_US},
    {"snapfs_schedule_last_run_timestamp_seconds",
     "cut of the newest COMPLETE snapshot the schedule took (Unix time)", "last_run_hybrid_time",
     CONV_HT},
    {"snapfs_schedule_next_run_timestamp_seconds", "when the schedule takes its next snapshot",
     "next_run_hybrid_time", CONV_HT},
    {NULL},
};

/* The value of field key of o as OpenMetrics text, 0 if it is there
 * (null is absent: no sample). */
static int metric_value(json_object *o, const char *key, enum conv conv, char *buf, size_t len)
{
	json_object *v = json_object_object_get(o, key);
	uint64_t u = 0;

	if (!v)
		return -ENOENT;
	switch (conv) {
	case CONV_HT: {
		const char *s = json_object_get_string(v);
		char *end;

		u = strtoull(s, &end, 10);
		if (!*s || *end)
			return -EINVAL;
		u = (uint64_t)hlc_physical_us(u);
		snprintf(buf, len, "%" PRIu64 ".%06" PRIu64, u / 1000000, u % 1000000);
		return 0;
	}
	case CONV_US: {
		int64_t us = json_object_get_int64(v);
		uint64_t a = us < 0 ? (uint64_t)-us : (uint64_t)us;

		snprintf(buf, len, "%s%" PRIu64 ".%06" PRIu64, us < 0 ? "-" : "", a / 1000000,
			 a % 1000000);
		return 0;
	}
	case CONV_NUMBER:
		if (json_object_is_type(v, json_type_double))
			snprintf(buf, len, "%.17g", json_object_get_double(v));
		else
			snprintf(buf, len, "%" PRId64, json_object_get_int64(v));
		return 0;
	}
	return -EINVAL;
}

/* A label value, escaped as OpenMetrics says: \\, \" and \n. */
static void put_label(FILE *f, const char *name, const char *val, int first)
{
	fprintf(f, "%s%s=\"", first ? "" : ",", name);
	for (const char *p = val; *p; p++) {
		if (*p == '\\' || *p == '"')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void family_head(FILE *f, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* The document: the families in a fixed order, each with its samples. */
void metrics_print(FILE *f, json_object *st)
{
	json_object *ks = st ? json_object_object_get(st, "keyspaces") : NULL;
	size_t nks = ks ? json_object_array_length(ks) : 0;
	char v[64];

	family_head(f, "snapfs_up", "1 if the daemon answered, 0 if not");
	fprintf(f, "snapfs_up %d\n", st ? 1 : 0);
	if (!st)
		goto out;
	family_head(f, "snapfs_version", "the daemon's version, as labels (value 1)");
	fputs("snapfs_version{", f);
	put_label(f, "version", jstr(st, "version"), 1);
	put_label(f, "git", json_object_object_get(st, "git") ? jstr(st, "git") : "", 0);
	fputs("} 1\n", f);
	if (json_object_object_get(st, "read_path")) { /* with a mount */
		family_head(f, "snapfs_read_path",
			    "how the mount serves file content, as a label (value 1)");
		fputs("snapfs_read_path{", f);
		put_label(f, "path", jstr(st, "read_path"), 1);
		fputs("} 1\n", f);
		family_head(
		    f, "snapfs_view_read_bytes",
		    "bytes of file content the daemon has sent to readers of the mount since "
		    "it started (not those read through kernel passthrough)");
		if (!metric_value(st, "read_bytes", CONV_NUMBER, v, sizeof(v)))
			fprintf(f, "snapfs_view_read_bytes %s\n", v);
	}
	for (const struct family *m = top_families; m->name; m++) {
		family_head(f, m->name, m->help);
		if (!metric_value(st, m->key, m->conv, v, sizeof(v)))
			fprintf(f, "%s %s\n", m->name, v);
	}
	for (const struct family *m = ks_families; m->name; m++) {
		family_head(f, m->name, m->help);
		for (size_t i = 0; i < nks; i++) {
			json_object *k = json_object_array_get_idx(ks, i);

			if (metric_value(k, m->key, m->conv, v, sizeof(v)))
				continue;
			fprintf(f, "%s{", m->name);
			put_label(f, "keyspace", jstr(k, "name"), 1);
			fprintf(f, "} %s\n", v);
		}
	}
	for (const struct family *m = sched_families; m->name; m++) {
		family_head(f, m->name, m->help);
		for (size_t i = 0; i < nks; i++) {
			json_object *k = json_object_array_get_idx(ks, i);
			json_object *sc = json_object_object_get(k, "schedules");

			for (size_t j = 0; sc && j < json_object_array_length(sc); j++) {
				json_object *s = json_object_array_get_idx(sc, j);

				if (metric_value(s, m->key, m->conv, v, sizeof(v)))
					continue;
				fprintf(f, "%s{", m->name);
				put_label(f, "keyspace", jstr(k, "name"), 1);
				put_label(f, "schedule", jstr(s, "id"), 0);
				fprintf(f, "} %s\n", v);
			}
		}
	}
out:
	fputs("# EOF\n", f);
}

static int print_metrics(void *arg, json_object *o)
{
	int *printed = arg;

	metrics_print(stdout, o);
	*printed = 1;
	return fflush(stdout) || ferror(stdout) ? EXIT_INTERNAL : 0;
}

int cmd_metrics(struct cli_opts *o)
{
	struct ctl_msg req;
	int printed = 0;
	struct cli_reply r = {.on_json = print_metrics, .arg = &printed};
	int rc;

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "status");
	rc = cli_call(o->data, &req, &r);
	if (!printed && (rc == EXIT_NODAEMON || rc == EXIT_NOTFOUND)) {
		/* no daemon to ask: still a document, saying so */
		metrics_print(stdout, NULL);
		if (fflush(stdout) || ferror(stdout))
			rc = EXIT_INTERNAL;
	}
	return rc;
}
