/*
 * restore: marker restore at start and online restore from a snapshot (see
 * restore.h for the order of steps and the crash rules).
 *
 * Both paths end in the same journal: a JSON file naming the directory
 * moves, the tablets to filter at the cut, the catalog records to commit
 * and what to remove afterwards. journal_apply / journal_commit /
 * journal_cleanup each are idempotent, so the start after a crash simply
 * runs them again (roll forward: the journal is written only once every
 * check has passed, and until commit the old tables are untouched).
 */
#include "restore.h"

#include "fsutil.h"
#include "jtime.h"
#include "ids.h"
#include "partition.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL "restore.journal"

static char *staging_dir(const char *data);

/* ---- verification ---- */

#define CHECK_MAX_THREADS 64

/* The read check of one tablet of a backup tree: every version read with
 * block checksums verified, which also tells the filter its work. */
struct tablet_check {
	char *rel;	 /* <ks>/<table>/tablet-<id> */
	uint64_t maxts;	 /* the newest version in the tablet */
	uint64_t nnewer; /* versions newer than the cut */
	int rc;
	struct errbuf e;
};

struct check_job {
	const char *root;
	uint64_t cut;
	struct tablet_check *c;
	size_t n;
	atomic_size_t next;
};

static void *check_worker(void *arg)
{
	struct check_job *j = arg;
	size_t i;

	while ((i = atomic_fetch_add(&j->next, 1)) < j->n) {
		struct tablet_check *c = &j->c[i];
		char *dir = fs_path("%s/%s", j->root, c->rel);
		struct tablet tb;

		c->rc = tablet_open(&tb, dir, 0, 1, &c->e);
		if (!c->rc) {
			c->rc = tablet_scan_newer(&tb, j->cut, &c->maxts, &c->nnewer, &c->e);
			tablet_close(&tb);
		}
		free(dir);
	}
	return NULL;
}

static void checks_free(struct tablet_check *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i].rel);
	free(c);
}

/* Reads every tablet of the tree (one thread per CPU, one tablet at a
 * time each); *out gets one check per tablet in manifest order (caller
 * frees with checks_free). The first failing tablet in that order is the
 * one reported, so the message is the same on every run. */
static int check_tablets(const char *root, const struct manifest *m, struct tablet_check **out,
			 size_t *nout, struct errbuf *e)
{
	struct check_job j = {.root = root, .cut = m->hybrid_time};
	pthread_t tids[CHECK_MAX_THREADS];
	size_t nthreads = 0, want;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int rc = 0;

	for (size_t i = 0; i < m->ntables; i++)
		j.n += m->tables[i].ntablets;
	j.c = xcalloc(j.n + 1, sizeof(*j.c));
	for (size_t i = 0, k = 0; i < m->ntables; i++)
		for (size_t t = 0; t < m->tables[i].ntablets; t++)
			j.c[k++].rel =
			    manifest_tablet_dir(m, &m->tables[i], &m->tables[i].tablets[t]);
	atomic_init(&j.next, 0);
	want = cpus < 1 ? 1 : (size_t)cpus;
	if (want > CHECK_MAX_THREADS)
		want = CHECK_MAX_THREADS;
	if (want > j.n)
		want = j.n;
	/* this thread is one of the workers */
	while (nthreads + 1 < want && !pthread_create(&tids[nthreads], NULL, check_worker, &j))
		nthreads++;
	check_worker(&j);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	for (size_t i = 0; i < j.n && !rc; i++) {
		if (!j.c[i].rc)
			continue;
		err_set(e, j.c[i].rc, "tablet '%s': %s", j.c[i].rel, j.c[i].e.msg);
		rc = -EBADMSG;
	}
	if (rc || !out) {
		checks_free(j.c, j.n);
	} else {
		*out = j.c;
		*nout = j.n;
	}
	return rc;
}

/* restore_verify, and the read check's findings for the marker restore. */
static int verify_tree(const char *root, struct manifest *m, struct tablet_check **checks,
		       size_t *nchecks, struct errbuf *e)
{
	int rc = manifest_verify_tree(root, m, e);

	if (rc == -ENOENT)
		rc = -EBADMSG; /* a missing file in a backup is a refusal, not "not found" */
	if (rc)
		return rc;
	rc = check_tablets(root, m, checks, nchecks, e);
	if (rc)
		manifest_release(m);
	return rc;
}

int restore_verify(const char *root, struct manifest *m, struct errbuf *e)
{
	return verify_tree(root, m, NULL, NULL, e);
}

int restore_verify_report(const char *root, struct manifest *m, struct verify_report *r,
			  struct errbuf *e)
{
	int rc = manifest_verify_tree_report(root, m, r, e);

	if (rc == -ENOENT)
		rc = -EBADMSG; /* as verify_tree */
	if (rc)
		return rc;
	rc = check_tablets(root, m, NULL, NULL, e);
	if (rc) {
		manifest_release(m);
		r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
		r->v[r->n++] =
		    (struct verify_finding){.path = xstrdup(""), .rc = rc, .msg = xstrdup(e->msg)};
		r->cap = r->n;
	}
	return rc;
}

/* ---- the journal ---- */

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static json_object *jarr(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_array))
		return NULL;
	return v;
}

static uint64_t ju64(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_uint64(v) : 0;
}

static char *journal_path(const char *data)
{
	return fs_path("%s/%s", data, JOURNAL);
}

static int journal_write(const char *data, json_object *j, struct errbuf *e)
{
	char *p = journal_path(data);
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY);
	int rc = fs_write_atomic(p, s, strlen(s), 0644);

	if (rc)
		err_set(e, rc, "restore journal '%s': %s", p, strerror(-rc));
	free(p);
	return rc;
}

/* Moves, then the hybrid-time filter on every restored tablet. The newest
 * version and the count newer than the cut of each tablet come from the
 * journal ("scanned", the marker restore's read check) or a scan here. */
static int journal_apply(json_object *j, struct hlc *clock, struct errbuf *e)
{
	json_object *moves = jarr(j, "moves"), *tablets = jarr(j, "tablets");
	json_object *scanned = jarr(j, "scanned");
	size_t nt = tablets ? json_object_array_length(tablets) : 0;
	uint64_t cut = ju64(j, "cut"), maxts = cut, r, *newer = NULL;
	int rc = 0;

	for (size_t i = 0; moves && i < json_object_array_length(moves) && !rc; i++) {
		json_object *m = json_object_array_get_idx(moves, i);
		const char *src = jstr(m, "src"), *dst = jstr(m, "dst");
		struct stat st;
		char *parent;

		if (lstat(dst, &st) == 0)
			continue; /* moved before a crash */
		if (lstat(src, &st) != 0) {
			rc =
			    err_set(e, -EIO, "restore: '%s' is gone and '%s' is missing", src, dst);
			break;
		}
		parent = xstrdup(dst);
		rc = fs_mkdirs(dirname(parent), 0755);
		free(parent);
		if (!rc)
			rc = fs_rename_durable(src, dst);
		if (rc)
			err_set(e, rc, "restore: move '%s' to '%s': %s", src, dst, strerror(-rc));
		else if (i == 0)
			snap_crash_point("restore-after-first-move");
	}
	if (!rc)
		snap_crash_point("restore-after-moves");
	/* the newest time of any restored version: the filter writes above it */
	newer = xcalloc(nt + 1, sizeof(*newer));
	for (size_t i = 0; i < nt && !rc; i++) {
		const char *dir = json_object_get_string(json_object_array_get_idx(tablets, i));
		struct tablet t;
		uint64_t mx = 0;

		if (scanned && json_object_array_length(scanned) == nt) {
			json_object *o = json_object_array_get_idx(scanned, i);

			mx = ju64(o, "maxts");
			newer[i] = ju64(o, "newer");
		} else {
			rc = tablet_open(&t, dir, 0, 0, e);
			if (rc)
				break;
			rc = tablet_scan_newer(&t, cut, &mx, &newer[i], e);
			tablet_close(&t);
		}
		if (mx > maxts)
			maxts = mx;
	}
	if (!rc) {
		rc = hlc_raise(clock, maxts);
		r = rc ? 0 : hlc_now(clock);
		if (!r)
			rc = err_set(e, -EIO, "clock '%s': cannot persist", clock->path);
	}
	/* a tablet with nothing newer than the cut needs no repair writes
	 * (reading it through would cost a full pass): only the low mark */
	for (size_t i = 0; i < nt && !rc; i++) {
		const char *dir = json_object_get_string(json_object_array_get_idx(tablets, i));
		struct tablet t;

		rc = tablet_open(&t, dir, 0, 0, e);
		if (rc)
			break;
		if (newer[i])
			rc = tablet_hide_after(&t, cut, r, e);
		else
			rc = tablet_set_history_low(&t, r, e);
		tablet_close(&t);
	}
	free(newer);
	if (!rc)
		snap_crash_point("restore-after-filter");
	return rc;
}

static int find_record_cb(void *arg, const char *key, json_object *o)
{
	return !strcmp(jstr(o, "id"), (const char *)arg) ? 1 : 0;
}

/* One catalog batch: the journal's records and the restore record. */
static int journal_commit(json_object *j, struct catalog *cat, struct errbuf *e)
{
	json_object *records = jarr(j, "records"), *rec;
	struct catalog_batch b;
	char *key;
	int rc = catalog_scan(cat, "restore/", find_record_cb, (void *)jstr(j, "id"), e);

	if (rc == 1)
		return 0; /* committed before a crash */
	if (rc)
		return rc;
	catalog_batch_init(&b);
	for (size_t i = 0; records && i < json_object_array_length(records); i++) {
		json_object *r = json_object_array_get_idx(records, i), *v;

		if (json_object_object_get_ex(r, "value", &v))
			catalog_batch_put(&b, jstr(r, "key"), v);
		else
			catalog_batch_delete(&b, jstr(r, "key"));
	}
	json_object_object_get_ex(j, "record", &rec);
	json_object_object_add(rec, "restored_us", json_object_new_int64(hlc_wall_us()));
	key = fs_path("restore/%020" PRId64 "-%s", hlc_wall_us(), jstr(j, "id"));
	catalog_batch_put(&b, key, rec);
	rc = catalog_batch_commit(cat, &b, e);
	catalog_batch_release(&b);
	free(key);
	if (!rc)
		snap_crash_point("restore-after-commit");
	return rc;
}

static int journal_cleanup(const char *data, json_object *j, struct errbuf *e)
{
	json_object *rm = jarr(j, "remove");
	char *p = journal_path(data);
	int rc = 0;

	for (size_t i = 0; rm && i < json_object_array_length(rm) && !rc; i++) {
		const char *path = json_object_get_string(json_object_array_get_idx(rm, i));

		rc = fs_remove_tree(path);
		if (rc)
			err_set(e, rc, "restore: cannot remove '%s': %s", path, strerror(-rc));
		else if (i == 0)
			snap_crash_point("restore-after-first-removal");
	}
	if (!rc)
		rc = fs_fsync_dir(data);
	if (!rc && unlink(p) < 0 && errno != ENOENT)
		rc = err_set(e, -errno, "restore journal '%s': %s", p, strerror(errno));
	free(p);
	return rc;
}

/* An online restore that failed before its commit (a full disk in the
 * filter, say): undo it now rather than let the next start roll it
 * forward over whatever was written meanwhile. */
static void journal_rollback(const char *data, json_object *j)
{
	json_object *moves = jarr(j, "moves");
	char *p = journal_path(data);

	/* the journal first: a crash after it leaves orphan tablet dirs,
	 * which the next start removes, never a journal naming missing dirs */
	if (unlink(p) == 0)
		fs_fsync_dir(data);
	for (size_t i = 0; moves && i < json_object_array_length(moves); i++)
		fs_remove_tree(jstr(json_object_array_get_idx(moves, i), "dst"));
	free(p);
}

/* ---- planning ---- */

struct live_tables {
	json_object *arr; /* catalog table records */
};

static int collect_tables(void *arg, const char *key, json_object *o)
{
	json_object_array_add(((struct live_tables *)arg)->arr, json_object_get(o));
	return 0;
}

static json_object *find_table(json_object *arr, const char *ks, const char *name)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *t = json_object_array_get_idx(arr, i);

		if (!strcmp(jstr(t, "keyspace"), ks) && !strcmp(jstr(t, "name"), name))
			return t;
	}
	return NULL;
}

/* Adds to journal j the plan for restoring table mt of manifest m into
 * ks.name (replacing a live table of that name, or as a new table): moves
 * (when src_root is given) or tablets already staged (stage_dirs). */
static void plan_table(const char *data, json_object *j, json_object *live, const char *ks,
		       const char *name, const struct manifest *m, const struct manifest_table *mt,
		       uint64_t created_ht, const char *src_root, char **stage_dirs)
{
	json_object *old = find_table(live, ks, name);
	json_object *rec = json_object_new_object(), *tbs = json_object_new_array();
	json_object *r, *ksrec;
	char tid[ID_LEN + 1], *key;

	if (old)
		strcpy(tid, jstr(old, "id"));
	else
		id_new(tid);
	for (size_t i = 0; i < mt->ntablets; i++) {
		json_object *tb = json_object_new_object();
		char nid[ID_LEN + 1], *dst;

		id_new(nid);
		dst = store_tablet_path(data, tid, nid);
		if (src_root) {
			char *rel = manifest_tablet_dir(m, mt, &mt->tablets[i]);
			char *src = fs_path("%s/%s", src_root, rel);
			json_object *mv = json_object_new_object();

			json_object_object_add(mv, "src", json_object_new_string(src));
			json_object_object_add(mv, "dst", json_object_new_string(dst));
			json_object_array_add(jarr(j, "moves"), mv);
			free(src);
			free(rel);
		} else {
			json_object *mv = json_object_new_object();

			json_object_object_add(mv, "src", json_object_new_string(stage_dirs[i]));
			json_object_object_add(mv, "dst", json_object_new_string(dst));
			json_object_array_add(jarr(j, "moves"), mv);
		}
		json_object_array_add(jarr(j, "tablets"), json_object_new_string(dst));
		json_object_object_add(tb, "id", json_object_new_string(nid));
		json_object_object_add(tb, "start", json_object_new_int64(mt->tablets[i].start));
		json_object_object_add(tb, "end", json_object_new_int64(mt->tablets[i].end));
		json_object_array_add(tbs, tb);
		free(dst);
	}
	if (old) {
		json_object *otbs = jarr(old, "tablets");

		for (size_t i = 0; otbs && i < json_object_array_length(otbs); i++) {
			char *p = store_tablet_path(data, tid,
						    jstr(json_object_array_get_idx(otbs, i), "id"));

			json_object_array_add(jarr(j, "remove"), json_object_new_string(p));
			free(p);
		}
	}
	json_object_object_add(rec, "id", json_object_new_string(tid));
	json_object_object_add(rec, "keyspace", json_object_new_string(ks));
	json_object_object_add(rec, "name", json_object_new_string(name));
	json_object_object_add(rec, "created_ht",
			       json_object_new_uint64(created_ht ? created_ht : m->hybrid_time));
	json_object_object_add(rec, "tablets", tbs);
	key = fs_path("table/%s", tid);
	r = json_object_new_object();
	json_object_object_add(r, "key", json_object_new_string(key));
	json_object_object_add(r, "value", rec);
	json_object_array_add(jarr(j, "records"), r);
	free(key);
	key = fs_path("ks/%s", ks);
	ksrec = json_object_new_object();
	json_object_object_add(ksrec, "name", json_object_new_string(ks));
	r = json_object_new_object();
	json_object_object_add(r, "key", json_object_new_string(key));
	json_object_object_add(r, "value", ksrec);
	json_object_array_add(jarr(j, "records"), r);
	free(key);
	/* the record's keyspace is the snapshot's: a table restored --as into
	 * another keyspace is named in full */
	key = strcmp(ks, m->keyspace) ? fs_path("%s.%s", ks, name) : xstrdup(name);
	json_object_array_add(jarr(json_object_object_get(j, "record"), "tables"),
			      json_object_new_string(key));
	free(key);
}

/* Adds to journal j the drop of every live table of keyspace ks created
 * after time to: they did not exist then. The catalog deletes go in the
 * restore's one batch and their tablets in its clean-up, so a crash never
 * leaves the keyspace restored with them still there. */
static void plan_drops(const char *data, json_object *j, json_object *live, const char *ks,
		       uint64_t to)
{
	for (size_t i = 0; i < json_object_array_length(live); i++) {
		json_object *t = json_object_array_get_idx(live, i), *tbs = jarr(t, "tablets");
		json_object *r, *d;
		char *key;

		if (strcmp(jstr(t, "keyspace"), ks) || ju64(t, "created_ht") <= to)
			continue;
		key = fs_path("table/%s", jstr(t, "id"));
		for (size_t k = 0; key && k < json_object_array_length(jarr(j, "records")); k++)
			if (!strcmp(jstr(json_object_array_get_idx(jarr(j, "records"), k), "key"),
				    key)) {
				/* dropped and created again since: the restore
				 * puts the old one in its place */
				free(key);
				key = NULL;
			}
		if (!key)
			continue;
		for (size_t k = 0; tbs && k < json_object_array_length(tbs); k++) {
			char *p = store_tablet_path(data, jstr(t, "id"),
						    jstr(json_object_array_get_idx(tbs, k), "id"));

			json_object_array_add(jarr(j, "remove"), json_object_new_string(p));
			free(p);
		}
		r = json_object_new_object();
		json_object_object_add(r, "key",
				       json_object_new_string(key)); /* no value: delete */
		json_object_object_add(r, "drop", json_object_new_string(jstr(t, "id")));
		json_object_array_add(jarr(j, "records"), r);
		free(key);
		d = json_object_new_string(jstr(t, "name"));
		json_object_array_add(jarr(json_object_object_get(j, "record"), "dropped"), d);
	}
}

/* A journal restoring m as of time to (its cut when 0). */
static json_object *journal_new(const struct manifest *m, const char *source, uint64_t to)
{
	json_object *j = json_object_new_object(), *rec = json_object_new_object();
	char jid[ID_LEN + 1], cut[40];

	if (!to)
		to = m->hybrid_time;
	id_new(jid);
	hlc_format_rfc3339(hlc_physical_us(to), 1, cut, sizeof(cut));
	json_object_object_add(j, "id", json_object_new_string(jid));
	json_object_object_add(j, "cut", json_object_new_uint64(to));
	json_object_object_add(j, "moves", json_object_new_array());
	json_object_object_add(j, "tablets", json_object_new_array());
	json_object_object_add(j, "records", json_object_new_array());
	json_object_object_add(j, "remove", json_object_new_array());
	json_object_object_add(rec, "id", json_object_new_string(jid));
	json_object_object_add(rec, "source", json_object_new_string(source));
	json_object_object_add(rec, "snapshot_id", json_object_new_string(m->id));
	json_object_object_add(rec, "keyspace", json_object_new_string(m->keyspace));
	json_object_object_add(rec, "cut_time", json_object_new_string(cut));
	json_object_object_add(rec, "hybrid_time", json_object_new_uint64(to));
	json_object_object_add(rec, "tables", json_object_new_array());
	json_object_object_add(rec, "dropped", json_object_new_array());
	json_object_object_add(rec, "result", json_object_new_string("ok"));
	json_object_object_add(j, "record", rec);
	return j;
}

static int live_tables(struct catalog *cat, json_object **out, struct errbuf *e)
{
	struct live_tables lt = {json_object_new_array()};
	int rc = catalog_scan(cat, "table/", collect_tables, &lt, e);

	if (rc)
		json_object_put(lt.arr);
	else
		*out = lt.arr;
	return rc;
}

/* ---- by marker ---- */

static int finish_journal(const char *data, json_object *j, struct errbuf *e)
{
	char *cpath = fs_path("%s/catalog", data), *clock = fs_path("%s/clock", data);
	struct catalog cat = {0};
	struct hlc hlc;
	int rc = hlc_init(&hlc, clock, e);

	if (rc)
		goto out;
	rc = journal_apply(j, &hlc, e);
	hlc_release(&hlc);
	if (!rc)
		rc = catalog_open(&cat, cpath, 0, e);
	if (!rc)
		rc = journal_commit(j, &cat, e);
	catalog_close(&cat);
	if (!rc)
		rc = journal_cleanup(data, j, e);
out:
	free(cpath);
	free(clock);
	return rc;
}

static int recover_journal(const char *data, char **what, struct errbuf *e)
{
	char *p = journal_path(data), *text = NULL;
	json_object *j = NULL;
	int rc = fs_read_all(p, 64u << 20, &text, NULL);

	if (rc == -ENOENT) {
		rc = 0;
		goto out;
	}
	if (rc) {
		err_set(e, rc, "restore journal '%s': %s", p, strerror(-rc));
		goto out;
	}
	j = json_tokener_parse(text);
	if (!j) {
		rc = err_set(e, -EBADMSG, "restore journal '%s': not JSON", p);
		goto out;
	}
	fprintf(stderr, "snapfs: finishing a restore cut short (journal '%s')\n", p);
	rc = finish_journal(data, j, e);
	if (!rc)
		*what = fs_path("finished the restore of snapshot '%s' cut short by a crash",
				jstr(json_object_object_get(j, "record"), "snapshot_id"));
out:
	json_object_put(j);
	free(text);
	free(p);
	return rc;
}

int restore_marker_run(const char *data, char **what, struct errbuf *e)
{
	char *marker = fs_path("%s/_restore", data), *dir = fs_path("%s/restore", data);
	char *cpath = fs_path("%s/catalog", data);
	struct manifest m = {0};
	json_object *j = NULL, *live = NULL;
	struct catalog cat = {0};
	struct tablet_check *checks = NULL;
	size_t nchecks = 0;
	json_object *scanned;
	int64_t t0, t1;
	struct stat st;
	int rc, have_m = 0;

	*what = NULL;
	rc = recover_journal(data, what, e);
	if (rc)
		goto out;
	{
		char *stage = staging_dir(data);

		/* copies of an online restore cut short before its journal, or
		 * the staging dir of one just finished */
		fs_remove_tree(stage);
		free(stage);
	}
	if (lstat(marker, &st) != 0) {
		if (lstat(dir, &st) == 0)
			fprintf(stderr,
				"snapfs: warning: '%s' exists but there is no marker '%s': "
				"ignored\n",
				dir, marker);
		goto out;
	}
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		rc = err_set(e, -EPERM,
			     "restore marker '%s': there is no backup tree at '%s' to restore from",
			     marker, dir);
		goto out;
	}
	t0 = hlc_wall_us();
	rc = verify_tree(dir, &m, &checks, &nchecks, e);
	t1 = hlc_wall_us();
	if (rc) {
		err_prefix(e, rc, "restore refused: backup tree '%s'", dir);
		goto out;
	}
	have_m = 1;
	if (lstat(cpath, &st) != 0) {
		/* an empty DATA (disaster recovery, a new machine): the backup
		 * has passed every check, so initialise it now */
		int created;

		rc = store_init(data, &created, e);
		if (rc)
			goto out;
	}
	rc = catalog_open(&cat, cpath, 0, e);
	if (!rc)
		rc = live_tables(&cat, &live, e);
	catalog_close(&cat);
	if (rc)
		goto out;
	j = journal_new(&m, "backup tree", 0);
	for (size_t i = 0; i < m.ntables; i++)
		plan_table(data, j, live, m.keyspace, m.tables[i].name, &m, &m.tables[i], 0, dir,
			   NULL);
	/* what the read check found, in the order of "tablets": no second pass */
	assert(json_object_array_length(jarr(j, "tablets")) == nchecks);
	scanned = json_object_new_array();
	for (size_t i = 0; i < nchecks; i++) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "maxts", json_object_new_uint64(checks[i].maxts));
		json_object_object_add(o, "newer", json_object_new_uint64(checks[i].nnewer));
		json_object_array_add(scanned, o);
	}
	json_object_object_add(j, "scanned", scanned);
	json_object_array_add(jarr(j, "remove"), json_object_new_string(dir));
	json_object_array_add(jarr(j, "remove"), json_object_new_string(marker));
	rc = journal_write(data, j, e);
	if (rc)
		goto out;
	snap_crash_point("restore-after-journal");
	rc = finish_journal(data, j, e);
	if (!rc) {
		char *done = *what; /* a restore finished first, before this marker */

		*what =
		    fs_path("%s%srestored snapshot '%s' of keyspace '%s' (%zu tables) from '%s' "
			    "in %.2f s (verified in %.2f s)",
			    done ? done : "", done ? "; then " : "", m.id, m.keyspace, m.ntables,
			    dir, (double)(hlc_wall_us() - t0) / 1e6, (double)(t1 - t0) / 1e6);
		free(done);
	}
out:
	if (have_m)
		manifest_release(&m);
	checks_free(checks, nchecks);
	json_object_put(j);
	json_object_put(live);
	free(marker);
	free(dir);
	free(cpath);
	return rc;
}

/* ---- online, from a snapshot in the store ---- */

/* A tablet copy of a checkpoint: SSTs hard-linked (immutable), the rest
 * copied (RocksDB rewrites MANIFEST/CURRENT/OPTIONS of a live DB, and a
 * snapshot's files must never change). */
static int link_copy(const char *src, const char *dst, struct errbuf *e)
{
	DIR *d;
	struct dirent *de;
	int rc = fs_mkdirs(dst, 0755);

	if (rc)
		return err_set(e, rc, "restore: '%s': %s", dst, strerror(-rc));
	d = opendir(src);
	if (!d)
		return err_set(e, -errno, "restore: '%s': %s", src, strerror(errno));
	while (!rc && (de = readdir(d))) {
		size_t n = strlen(de->d_name), len = 0;
		char *a, *b, *buf = NULL;

		if (de->d_name[0] == '.')
			continue;
		a = fs_path("%s/%s", src, de->d_name);
		b = fs_path("%s/%s", dst, de->d_name);
		if (n > 4 && !strcmp(de->d_name + n - 4, ".sst")) {
			if (link(a, b) < 0)
				rc = -errno;
		} else {
			rc = fs_read_all(a, 1u << 30, &buf, &len);
			if (!rc)
				rc = fs_write_atomic(b, buf, len, 0644);
			free(buf);
		}
		if (rc)
			err_set(e, rc, "restore: copy '%s' to '%s': %s", a, b, strerror(-rc));
		free(a);
		free(b);
	}
	closedir(d);
	if (!rc)
		rc = fs_fsync_dir(dst);
	return rc;
}

static char *staging_dir(const char *data)
{
	return fs_path("%s/restore-staging", data);
}

/* Which tables of the snapshot to restore, and under which names. */
static int select_tables(const struct manifest *m, const char *table, const char *as, size_t *idx,
			 size_t *n, char ks[65], char name[65], struct errbuf *e)
{
	char tks[65], tname[65];
	int rc;

	*n = 0;
	if (!table) {
		if (as)
			return err_set(e, -EINVAL, "restore: --as needs --table");
		for (size_t i = 0; i < m->ntables; i++)
			idx[(*n)++] = i;
		return 0;
	}
	rc = store_split_name(table, tks, tname, e);
	if (rc)
		return rc;
	for (size_t i = 0; i < m->ntables; i++)
		if (!strcmp(tks, m->keyspace) && !strcmp(m->tables[i].name, tname))
			idx[(*n)++] = i;
	if (!*n)
		return err_set(e, -ENOENT, "table '%s': not in snapshot '%s'", table, m->id);
	if (as)
		return store_split_name(as, ks, name, e);
	strcpy(ks, tks);
	strcpy(name, tname);
	return 0;
}

static void set_busy(struct store *s, json_object *j, int busy)
{
	json_object *records = jarr(j, "records");

	pthread_rwlock_wrlock(&s->lock);
	for (size_t i = 0; records && i < json_object_array_length(records); i++) {
		json_object *v;
		struct store_table *t;

		if (!json_object_object_get_ex(json_object_array_get_idx(records, i), "value",
					       &v) ||
		    !*jstr(v, "id") || !*jstr(v, "name"))
			continue;
		t = store_find_locked(s, jstr(v, "keyspace"), jstr(v, "name"));
		if (t)
			t->busy = busy;
	}
	pthread_rwlock_unlock(&s->lock);
}

int restore_snapshot(struct store *s, struct snapshots *ss, const char *id, const char *table,
		     const char *as, struct errbuf *e)
{
	return restore_snapshot_at(s, ss, id, table, as, 0, e);
}

/* One online restore at a time: they share DATA/restore.journal and the
 * staging dir, and one's clean-up would remove the other's journal. */
static pthread_mutex_t online_lock = PTHREAD_MUTEX_INITIALIZER;

static int restore_online(struct store *s, struct snapshots *ss, const char *id, const char *table,
			  const char *as, uint64_t to, struct errbuf *e);

int restore_snapshot_at(struct store *s, struct snapshots *ss, const char *id, const char *table,
			const char *as, uint64_t to, struct errbuf *e)
{
	int rc;

	pthread_mutex_lock(&online_lock);
	rc = restore_online(s, ss, id, table, as, to, e);
	pthread_mutex_unlock(&online_lock);
	return rc;
}

static int restore_online(struct store *s, struct snapshots *ss, const char *id, const char *table,
			  const char *as, uint64_t to, struct errbuf *e)
{
	struct snap_info info;
	char ks[65] = "", name[65] = "", *stage = staging_dir(s->data), **dirs = NULL;
	size_t *idx = NULL, n = 0, ndirs = 0;
	json_object *j = NULL, *live = NULL, *records;
	int rc = snap_pin(ss, id, &info, e), pinned = !rc, busy = 0, journaled = 0, committed = 0;

	if (rc)
		goto out;
	idx = xcalloc(info.m.ntables + 1, sizeof(*idx));
	rc = select_tables(&info.m, table, as, idx, &n, ks, name, e);
	if (rc)
		goto out;
	if (to) {
		/* to a time: only the tables that existed then */
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (info.table_created_ht[idx[i]] <= to)
				idx[k++] = idx[i];
		n = k;
		if (!n) {
			rc = err_set(e, -ERANGE, "keyspace '%s': had no tables at that time",
				     info.m.keyspace);
			goto out;
		}
	}
	/* stage every tablet copy first, with no lock held */
	dirs = xcalloc(info.ntablet_dirs + 1, sizeof(*dirs));
	for (size_t a = 0, k = 0; a < info.m.ntables && !rc; a++) {
		int chosen = 0;

		for (size_t i = 0; i < n; i++)
			chosen |= idx[i] == a;
		for (size_t b = 0; b < info.m.tables[a].ntablets && !rc; b++, k++) {
			char sid[ID_LEN + 1];

			if (!chosen)
				continue;
			id_new(sid);
			dirs[ndirs] = fs_path("%s/%s", stage, sid);
			rc = link_copy(info.tablet_dirs[k], dirs[ndirs], e);
			ndirs++;
		}
	}
	if (rc)
		goto out;
	pthread_rwlock_wrlock(&s->lock);
	rc = live_tables(&s->cat, &live, e);
	if (!rc && as && store_find_locked(s, ks, name))
		rc = err_set(e, -EEXIST, "table '%s': already exists (--as needs a new name)", as);
	if (!rc) {
		j = journal_new(&info.m, to ? "time" : "snapshot", to);
		for (size_t i = 0, k = 0; i < n; i++) {
			const struct manifest_table *mt = &info.m.tables[idx[i]];

			plan_table(s->data, j, live, table ? ks : info.m.keyspace,
				   table ? name : mt->name, &info.m, mt,
				   as ? 0 : info.table_created_ht[idx[i]], NULL, dirs + k);
			k += mt->ntablets;
		}
		if (to && !table)
			plan_drops(s->data, j, live, info.m.keyspace, to);
	}
	pthread_rwlock_unlock(&s->lock);
	if (rc)
		goto out;
	set_busy(s, j, 1);
	busy = 1;
	rc = journal_write(s->data, j, e);
	if (rc)
		goto out;
	journaled = 1;
	snap_crash_point("online-restore-after-journal");
	rc = journal_apply(j, &s->clock, e);
	if (rc)
		goto out;
	/* commit and swap: the affected tables change in one step */
	pthread_rwlock_wrlock(&s->lock);
	rc = journal_commit(j, &s->cat, e);
	committed = !rc;
	records = jarr(j, "records");
	for (size_t i = 0; !rc && i < json_object_array_length(records); i++) {
		json_object *r = json_object_array_get_idx(records, i), *v;

		if (json_object_object_get_ex(r, "value", &v) && *jstr(v, "name") && *jstr(v, "id"))
			rc = store_install_locked(s, v, e);
		else if (*jstr(r, "drop"))
			store_forget_locked(s, jstr(r, "drop")); /* its dirs go in the clean-up */
	}
	pthread_rwlock_unlock(&s->lock);
	busy = 0;
	if (!rc)
		rc = journal_cleanup(s->data, j, e);
	if (!rc)
		rmdir(stage); /* empty now: every staged copy was moved */
out:
	if (busy)
		set_busy(s, j, 0);
	if (rc && journaled && !committed)
		journal_rollback(s->data, j); /* the old tables were never touched */
	if (rc && !committed)
		fs_remove_tree(stage);
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	free(dirs);
	free(idx);
	free(stage);
	json_object_put(j);
	json_object_put(live);
	if (pinned) {
		snap_unpin(ss, id);
		snap_info_release(&info);
	}
	return rc;
}

/* A restore record as `restore list --json` shows it: the record's own
 * fields, with its two times in the one JSON form of times (jtime.h):
 * time/hybrid_time when it was done, cut_time/cut_hybrid_time its cut. */
static int list_cb(void *arg, const char *key, json_object *o)
{
	json_object *r = json_object_new_object(), *v;

	json_object_object_foreach(o, k, val)
	{
		if (strcmp(k, "restored_us") && strcmp(k, "hybrid_time") && strcmp(k, "cut_time"))
			json_object_object_add(r, k, json_object_get(val));
	}
	jtime_add_us(r, NULL,
		     json_object_object_get_ex(o, "restored_us", &v) ? json_object_get_int64(v)
								     : 0);
	jtime_add(r, "cut",
		  json_object_object_get_ex(o, "hybrid_time", &v) ? json_object_get_uint64(v) : 0);
	json_object_array_add((json_object *)arg, r);
	return 0;
}

int restore_list(struct catalog *c, json_object **out, struct errbuf *e)
{
	json_object *arr = json_object_new_array();
	int rc = catalog_scan(c, "restore/", list_cb, arr, e);

	if (rc)
		json_object_put(arr);
	else
		*out = arr;
	return rc;
}
