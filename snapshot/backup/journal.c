/*
 * journal: the typed restore journal (see journal.h): strict parse with
 * path checks, the planner, and the idempotent steps that roll a restore
 * forward (apply, commit, clean up) or back (before its commit only).
 */
#include "journal.h"

#include "fsutil.h"
#include "progress.h"
#include "snap.h"
#include "store.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_MAX (64u << 20)

/* ---- life ---- */

void journal_init(struct journal *j, const struct manifest *m, const char *source, uint64_t to)
{
	char cut[40];

	memset(j, 0, sizeof(*j));
	if (!to)
		to = m->hybrid_time;
	id_new(j->id);
	j->cut = to;
	hlc_format_rfc3339(hlc_physical_us(to), 1, cut, sizeof(cut));
	strcpy(j->rec.id, j->id);
	j->rec.source = xstrdup(source);
	strcpy(j->rec.snapshot_id, m->id);
	snprintf(j->rec.ks, sizeof(j->rec.ks), "%s", m->keyspace);
	j->rec.cut_time = xstrdup(cut);
	j->rec.hybrid_time = to;
	j->rec.result = xstrdup("ok");
	j->rec.tables = xcalloc(1, sizeof(char *));
	j->rec.dropped = xcalloc(1, sizeof(char *));
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void journal_release(struct journal *j)
{
	for (size_t i = 0; i < j->nmoves; i++) {
		free(j->moves[i].src);
		free(j->moves[i].dst);
	}
	free(j->moves);
	strv_free(j->tablets, j->ntablets);
	for (size_t i = 0; i < j->nrecords; i++)
		tablerec_release(&j->records[i].table);
	free(j->records);
	strv_free(j->remove, j->nremove);
	restorerec_release(&j->rec);
	free(j->scanned);
	memset(j, 0, sizeof(*j));
}

static void strv_add(char ***v, size_t *n, const char *s)
{
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = xstrdup(s);
}

static struct jrecord *record_add(struct journal *j, enum jkind kind, const char *key)
{
	struct jrecord *r;

	j->records = xrealloc(j->records, (j->nrecords + 1) * sizeof(*j->records));
	r = &j->records[j->nrecords++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	snprintf(r->key, sizeof(r->key), "%s", key);
	return r;
}

/* ---- paths ---- */

/* 1 if the components of rel match shape: '%I' an id, '%N' a name, a
 * "tablet-%I" component, or a literal. */
static int shape_match(const char *rel, const char *shape)
{
	char r[512], sh[128], *rs, *ss, *rc, *sc;
	int ok = 1;

	if (strlen(rel) >= sizeof(r))
		return 0;
	strcpy(r, rel);
	strcpy(sh, shape);
	rc = strtok_r(r, "/", &rs);
	sc = strtok_r(sh, "/", &ss);
	while (ok && rc && sc) {
		if (!strcmp(sc, "%I"))
			ok = id_valid(rc);
		else if (!strcmp(sc, "%N"))
			ok = name_valid(rc);
		else if (!strncmp(sc, "table-%I", 8))
			ok = !strncmp(rc, "table-", 6) && id_valid(rc + 6);
		else if (!strncmp(sc, "tablet-%I", 9))
			ok = !strncmp(rc, "tablet-", 7) && id_valid(rc + 7);
		else
			ok = !strcmp(sc, rc);
		rc = strtok_r(NULL, "/", &rs);
		sc = strtok_r(NULL, "/", &ss);
	}
	/* strtok skips empty components: the whole must also be canonical */
	return ok && !rc && !sc && !strstr(rel, "//") && rel[0] != '/' &&
	       rel[strlen(rel) - 1] != '/';
}

static const char *const TABLET_SHAPES[] = {"tablets/table-%I/tablet-%I", NULL};
static const char *const SRC_SHAPES[] = {"restore/%N/%N/tablet-%I", "restore-staging/%I", NULL};
static const char *const REMOVE_SHAPES[] = {"tablets/table-%I/tablet-%I", "restore", "_restore",
					    NULL};

/* 0 if p is DATA/<one of shapes> with no symlink on the way. */
static int path_ok(const char *data, const char *p, const char *const *shapes)
{
	size_t dl = strlen(data);

	if (strncmp(p, data, dl) || p[dl] != '/')
		return -EPERM;
	for (size_t i = 0; shapes[i]; i++)
		if (shape_match(p + dl + 1, shapes[i]))
			return fs_path_inside(data, p);
	return -EPERM;
}

/* ---- parse and format ---- */

static int path_from(json_object *v, const char *data, const char *const *shapes, char **out,
		     const char *what, struct errbuf *e)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string))
		return err_set(e, -EBADMSG, "field '%s': not a string", what);
	s = json_object_get_string(v);
	if (strlen(s) != (size_t)json_object_get_string_len(v) || path_ok(data, s, shapes))
		return err_set(e, -EBADMSG,
			       "field '%s': path '%.200s' is not one a restore of '%s' writes "
			       "(outside it, or through a symlink)",
			       what, s, data);
	*out = xstrdup(s);
	return 0;
}

static int paths_from(json_object *o, const char *k, const char *data, const char *const *shapes,
		      char ***out, size_t *n, struct errbuf *e)
{
	json_object *arr;
	int rc = rec_arr(o, k, &arr, e);

	for (size_t i = 0; !rc && i < json_object_array_length(arr); i++) {
		char what[32], *p = NULL;

		snprintf(what, sizeof(what), "%s[%zu]", k, i);
		rc = path_from(json_object_array_get_idx(arr, i), data, shapes, &p, what, e);
		if (!rc) {
			*out = xrealloc(*out, (*n + 1) * sizeof(**out));
			(*out)[(*n)++] = p;
		}
	}
	return rc;
}

static int moves_from(json_object *o, const char *data, struct journal *j, struct errbuf *e)
{
	static const char *const keys[] = {"src", "dst", NULL};
	json_object *arr, *v;
	int rc = rec_arr(o, "moves", &arr, e);

	for (size_t i = 0; !rc && i < json_object_array_length(arr); i++) {
		json_object *m = json_object_array_get_idx(arr, i);
		struct jmove mv = {0};

		if (!json_object_is_type(m, json_type_object))
			return err_set(e, -EBADMSG, "field 'moves[%zu]': not an object", i);
		rc = rec_only(m, keys, e);
		if (!rc && !json_object_object_get_ex(m, "src", &v))
			rc = err_set(e, -EBADMSG, "field 'moves[%zu].src': missing", i);
		if (!rc)
			rc = path_from(v, data, SRC_SHAPES, &mv.src, "moves[].src", e);
		if (!rc && !json_object_object_get_ex(m, "dst", &v))
			rc = err_set(e, -EBADMSG, "field 'moves[%zu].dst': missing", i);
		if (!rc)
			rc = path_from(v, data, TABLET_SHAPES, &mv.dst, "moves[].dst", e);
		if (rc) {
			free(mv.src);
			free(mv.dst);
			break;
		}
		j->moves = xrealloc(j->moves, (j->nmoves + 1) * sizeof(*j->moves));
		j->moves[j->nmoves++] = mv;
	}
	return rc;
}

static int records_from(json_object *o, struct journal *j, struct errbuf *e)
{
	static const char *const put_keys[] = {"key", "value", NULL};
	static const char *const drop_keys[] = {"key", "drop", NULL};
	json_object *arr, *v;
	int rc = rec_arr(o, "records", &arr, e);

	for (size_t i = 0; !rc && i < json_object_array_length(arr); i++) {
		json_object *r = json_object_array_get_idx(arr, i);
		const char *key = NULL;
		struct jrecord *jr;
		char want[80];

		if (!json_object_is_type(r, json_type_object))
			return err_set(e, -EBADMSG, "field 'records[%zu]': not an object", i);
		rc = rec_str(r, "key", &key, e);
		if (rc)
			break;
		if (!strncmp(key, "table/", 6) && json_object_object_get_ex(r, "value", &v)) {
			jr = record_add(j, J_TABLE, key);
			rc = rec_only(r, put_keys, e);
			if (!rc)
				rc = tablerec_from_json(v, &jr->table, e);
			snprintf(want, sizeof(want), "table/%s", jr->table.id);
		} else if (!strncmp(key, "ks/", 3)) {
			jr = record_add(j, J_KS, key);
			rc = rec_only(r, put_keys, e);
			if (!rc && !json_object_object_get_ex(r, "value", &v))
				rc = err_set(e, -EBADMSG, "field 'value': missing");
			if (!rc)
				rc = ksrec_from_json(v, &jr->ks, e);
			snprintf(want, sizeof(want), "ks/%s", jr->ks.name);
		} else if (!strncmp(key, "table/", 6)) {
			jr = record_add(j, J_DROP, key);
			rc = rec_only(r, drop_keys, e);
			if (!rc)
				rc = rec_id(r, "drop", jr->drop, e);
			snprintf(want, sizeof(want), "table/%s", jr->drop);
		} else {
			rc = err_set(e, -EBADMSG, "field 'key': '%.80s' is not a table or keyspace",
				     key);
			break;
		}
		if (!rc && strcmp(key, want))
			rc = err_set(e, -EBADMSG, "field 'key': '%.80s' does not name its record",
				     key);
		if (rc)
			err_prefix(e, rc, "records[%zu]", i);
	}
	return rc;
}

static int scanned_from(json_object *o, struct journal *j, struct errbuf *e)
{
	static const char *const keys[] = {"maxts", "newer", NULL};
	json_object *arr;
	int rc;

	if (!rec_has(o, "scanned"))
		return 0; /* an online restore: the filter scans itself */
	rc = rec_arr(o, "scanned", &arr, e);
	if (rc)
		return rc;
	j->have_scanned = 1;
	j->nscanned = json_object_array_length(arr);
	if (j->nscanned != j->ntablets)
		return err_set(e, -EBADMSG, "field 'scanned': %zu entries for %zu tablets",
			       j->nscanned, j->ntablets);
	j->scanned = xcalloc(j->nscanned + 1, sizeof(*j->scanned));
	for (size_t i = 0; !rc && i < j->nscanned; i++) {
		json_object *s = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(s, json_type_object))
			return err_set(e, -EBADMSG, "field 'scanned[%zu]': not an object", i);
		rc = rec_only(s, keys, e);
		if (!rc)
			rc = rec_u64(s, "maxts", &j->scanned[i].maxts, e);
		if (!rc)
			rc = rec_u64(s, "newer", &j->scanned[i].newer, e);
	}
	return rc;
}

int journal_parse(const char *text, size_t len, const char *data, struct journal *out,
		  struct errbuf *e)
{
	static const char *const keys[] = {"id",     "cut",    "moves",	  "tablets", "records",
					   "remove", "record", "scanned", NULL};
	json_object *o = rec_json_parse(text, len, e), *v;
	struct journal j;
	int rc;

	if (!o)
		return -EBADMSG;
	memset(&j, 0, sizeof(j));
	rc = rec_only(o, keys, e);
	if (!rc)
		rc = rec_id(o, "id", j.id, e);
	if (!rc)
		rc = rec_u64(o, "cut", &j.cut, e);
	if (!rc)
		rc = moves_from(o, data, &j, e);
	if (!rc)
		rc = paths_from(o, "tablets", data, TABLET_SHAPES, &j.tablets, &j.ntablets, e);
	if (!rc)
		rc = records_from(o, &j, e);
	if (!rc)
		rc = paths_from(o, "remove", data, REMOVE_SHAPES, &j.remove, &j.nremove, e);
	if (!rc && !json_object_object_get_ex(o, "record", &v))
		rc = err_set(e, -EBADMSG, "field 'record': missing");
	if (!rc) {
		rc = restorerec_from_json(v, 0, &j.rec, e);
		if (rc)
			err_prefix(e, rc, "record");
	}
	if (!rc && strcmp(j.rec.id, j.id))
		rc = err_set(e, -EBADMSG, "field 'record.id': not the journal's id");
	if (!rc)
		rc = scanned_from(o, &j, e);
	json_object_put(o);
	if (rc)
		journal_release(&j);
	else
		*out = j;
	return rc;
}

static json_object *strv_json(char **v, size_t n)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i]));
	return arr;
}

char *journal_format(const struct journal *j)
{
	json_object *o = json_object_new_object(), *moves = json_object_new_array();
	json_object *recs = json_object_new_array();
	char *s;

	json_object_object_add(o, "id", json_object_new_string(j->id));
	json_object_object_add(o, "cut", json_object_new_uint64(j->cut));
	for (size_t i = 0; i < j->nmoves; i++) {
		json_object *m = json_object_new_object();

		json_object_object_add(m, "src", json_object_new_string(j->moves[i].src));
		json_object_object_add(m, "dst", json_object_new_string(j->moves[i].dst));
		json_object_array_add(moves, m);
	}
	json_object_object_add(o, "moves", moves);
	json_object_object_add(o, "tablets", strv_json(j->tablets, j->ntablets));
	for (size_t i = 0; i < j->nrecords; i++) {
		const struct jrecord *r = &j->records[i];
		json_object *x = json_object_new_object();

		json_object_object_add(x, "key", json_object_new_string(r->key));
		if (r->kind == J_TABLE)
			json_object_object_add(x, "value", tablerec_to_json(&r->table));
		else if (r->kind == J_KS)
			json_object_object_add(x, "value", ksrec_to_json(&r->ks));
		else
			json_object_object_add(x, "drop", json_object_new_string(r->drop));
		json_object_array_add(recs, x);
	}
	json_object_object_add(o, "records", recs);
	json_object_object_add(o, "remove", strv_json(j->remove, j->nremove));
	json_object_object_add(o, "record", restorerec_to_json(&j->rec, 0));
	if (j->have_scanned) {
		json_object *arr = json_object_new_array();

		for (size_t i = 0; i < j->nscanned; i++) {
			json_object *x = json_object_new_object();

			json_object_object_add(x, "maxts",
					       json_object_new_uint64(j->scanned[i].maxts));
			json_object_object_add(x, "newer",
					       json_object_new_uint64(j->scanned[i].newer));
			json_object_array_add(arr, x);
		}
		json_object_object_add(o, "scanned", arr);
	}
	s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
	return s;
}

/* ---- planning ---- */

static const struct tablerec *find_live(const struct tablerec *live, size_t n, const char *ks,
					const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(live[i].ks, ks) && !strcmp(live[i].name, name))
			return &live[i];
	return NULL;
}

void journal_plan_table(struct journal *j, const char *data, const struct tablerec *live,
			size_t nlive, const char *ks, const char *name, const struct manifest *m,
			const struct manifest_table *mt, uint64_t created_ht, const char *src_root,
			char **stage_dirs)
{
	const struct tablerec *old = find_live(live, nlive, ks, name);
	struct jrecord *r;
	struct tablerec *t;
	char *key;

	r = record_add(j, J_TABLE, "");
	t = &r->table;
	if (old)
		strcpy(t->id, old->id);
	else
		id_new(t->id);
	snprintf(r->key, sizeof(r->key), "table/%s", t->id);
	strcpy(t->ks, ks);
	strcpy(t->name, name);
	t->created_ht = created_ht ? created_ht : m->hybrid_time;
	t->ntablets = (unsigned)mt->ntablets;
	t->tablets = xcalloc(mt->ntablets + 1, sizeof(*t->tablets));
	for (size_t i = 0; i < mt->ntablets; i++) {
		char *dst;

		id_new(t->tablets[i].id);
		t->tablets[i].start = mt->tablets[i].start;
		t->tablets[i].end = mt->tablets[i].end;
		dst = store_tablet_path(data, t->id, t->tablets[i].id);
		j->moves = xrealloc(j->moves, (j->nmoves + 1) * sizeof(*j->moves));
		if (src_root) {
			char *rel = manifest_tablet_dir(m, mt, &mt->tablets[i]);

			j->moves[j->nmoves].src = fs_path("%s/%s", src_root, rel);
			free(rel);
		} else {
			j->moves[j->nmoves].src = xstrdup(stage_dirs[i]);
		}
		j->moves[j->nmoves++].dst = xstrdup(dst);
		strv_add(&j->tablets, &j->ntablets, dst);
		free(dst);
	}
	for (unsigned i = 0; old && i < old->ntablets; i++) {
		char *p = store_tablet_path(data, old->id, old->tablets[i].id);

		strv_add(&j->remove, &j->nremove, p);
		free(p);
	}
	key = fs_path("ks/%s", ks);
	r = record_add(j, J_KS, key);
	strcpy(r->ks.name, ks);
	free(key);
	/* the record's keyspace is the snapshot's: a table restored --as into
	 * another keyspace is named in full */
	key = strcmp(ks, m->keyspace) ? fs_path("%s.%s", ks, name) : xstrdup(name);
	strv_add(&j->rec.tables, &j->rec.ntables, key);
	free(key);
}

void journal_plan_drops(struct journal *j, const char *data, const struct tablerec *live,
			size_t nlive, const char *ks, uint64_t to)
{
	for (size_t i = 0; i < nlive; i++) {
		const struct tablerec *t = &live[i];
		struct jrecord *r;
		char key[80];
		int replaced = 0;

		if (strcmp(t->ks, ks) || t->created_ht <= to)
			continue;
		snprintf(key, sizeof(key), "table/%s", t->id);
		for (size_t k = 0; k < j->nrecords; k++)
			/* dropped and created again since: the restore puts the
			 * old one in its place */
			replaced |= !strcmp(j->records[k].key, key);
		if (replaced)
			continue;
		for (unsigned k = 0; k < t->ntablets; k++) {
			char *p = store_tablet_path(data, t->id, t->tablets[k].id);

			strv_add(&j->remove, &j->nremove, p);
			free(p);
		}
		r = record_add(j, J_DROP, key);
		strcpy(r->drop, t->id);
		strv_add(&j->rec.dropped, &j->rec.ndropped, t->name);
	}
}

/* ---- the steps ---- */

static char *journal_path(const char *data)
{
	return fs_path("%s/%s", data, JOURNAL_NAME);
}

int journal_read(const char *data, struct journal *j, struct errbuf *e)
{
	char *p = journal_path(data), *text = NULL;
	size_t len = 0;
	int rc = fs_read_all(p, JOURNAL_MAX, &text, &len);

	if (rc == -ENOENT)
		goto out;
	if (rc) {
		err_set(e, rc, "restore journal '%s': %s", p, strerror(-rc));
		goto out;
	}
	rc = journal_parse(text, len, data, j, e);
	if (rc)
		err_prefix(e, rc,
			   "restore journal '%s' (nothing it names was touched; restore DATA "
			   "from a backup, or remove the journal if no restore was under way)",
			   p);
out:
	free(text);
	free(p);
	return rc;
}

int journal_write(const char *data, const struct journal *j, struct errbuf *e)
{
	char *p = journal_path(data), *s = journal_format(j);
	int rc = fs_write_atomic(p, s, strlen(s), 0644);

	if (rc)
		err_set(e, rc, "restore journal '%s': %s", p, strerror(-rc));
	free(s);
	free(p);
	return rc;
}

int journal_apply(const struct journal *j, const char *data, struct hlc *clock, struct errbuf *e)
{
	struct progress *p = progress_current(); /* scan and filter: tablets */
	uint64_t maxts = j->cut, r = 0, *newer = NULL;
	int rc = 0;

	for (size_t i = 0; i < j->nmoves && !rc; i++) {
		const char *src = j->moves[i].src, *dst = j->moves[i].dst;
		struct stat st;
		char *parent;

		/* checked at parse; checked again here, just before the rename */
		if (fs_path_inside(data, src) || fs_path_inside(data, dst)) {
			rc = err_set(e, -EPERM, "restore: move '%s' to '%s': leaves '%s'", src, dst,
				     data);
			break;
		}
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
	newer = xcalloc(j->ntablets + 1, sizeof(*newer));
	if (!rc && !j->have_scanned)
		progress_phase(p, "scan", "tablets", j->ntablets);
	for (size_t i = 0; i < j->ntablets && !rc; i++) {
		struct tablet t;
		uint64_t mx = 0;

		if (j->have_scanned) {
			mx = j->scanned[i].maxts;
			newer[i] = j->scanned[i].newer;
		} else {
			rc = tablet_open(&t, j->tablets[i], 0, 0, e);
			if (rc)
				break;
			rc = tablet_scan_newer(&t, j->cut, &mx, &newer[i], e);
			tablet_close(&t);
			progress_add(p, 1);
		}
		if (mx > maxts)
			maxts = mx;
	}
	progress_phase_end(p);
	if (!rc) {
		rc = hlc_raise(clock, maxts);
		r = rc ? 0 : hlc_now(clock);
		if (!r)
			rc = err_set(e, -EIO, "clock '%s': cannot persist", clock->path);
	}
	/* a tablet with nothing newer than the cut needs no repair writes
	 * (reading it through would cost a full pass): only the low mark */
	if (!rc)
		progress_phase(p, "filter", "tablets", j->ntablets);
	for (size_t i = 0; i < j->ntablets && !rc; i++) {
		struct tablet t;

		rc = tablet_open(&t, j->tablets[i], 0, 0, e);
		if (rc)
			break;
		if (newer[i])
			rc = tablet_hide_after(&t, j->cut, r, e);
		else
			rc = tablet_set_history_low(&t, r, e);
		tablet_close(&t);
		progress_add(p, 1);
	}
	progress_phase_end(p);
	free(newer);
	if (!rc)
		snap_crash_point("restore-after-filter");
	return rc;
}

static int find_record_cb(void *arg, const char *key, const char *text, size_t len)
{
	const char *dash = strrchr(key, '-');

	/* the key ends in the restoration's id (checked at start) */
	return dash && !strcmp(dash + 1, (const char *)arg) ? 1 : 0;
}

int journal_commit(const struct journal *j, struct catalog *cat, struct errbuf *e)
{
	struct catalog_batch b;
	struct restorerec rec = j->rec;
	char *key, *text;
	int rc = catalog_scan_text(cat, "restore/", find_record_cb, (void *)j->id, e);

	if (rc == 1)
		return 0; /* committed before a crash */
	if (rc)
		return rc;
	catalog_batch_init(&b);
	for (size_t i = 0; i < j->nrecords; i++) {
		const struct jrecord *r = &j->records[i];

		if (r->kind == J_DROP) {
			catalog_batch_delete(&b, r->key);
			continue;
		}
		text = r->kind == J_TABLE ? tablerec_format(&r->table) : ksrec_format(&r->ks);
		catalog_batch_put_text(&b, r->key, text);
		free(text);
	}
	rec.restored_us = hlc_wall_us();
	key = fs_path("restore/%020" PRId64 "-%s", rec.restored_us, j->id);
	text = restorerec_format(&rec);
	catalog_batch_put_text(&b, key, text);
	rc = catalog_batch_commit(cat, &b, e);
	catalog_batch_release(&b);
	free(text);
	free(key);
	if (!rc)
		snap_crash_point("restore-after-commit");
	return rc;
}

int journal_cleanup(const struct journal *j, const char *data, struct errbuf *e)
{
	char *p = journal_path(data);
	int rc = 0;

	for (size_t i = 0; i < j->nremove && !rc; i++) {
		const char *path = j->remove[i];

		rc = fs_path_inside(data, path);
		if (rc) {
			err_set(e, rc, "restore: '%s' leaves '%s': not removed", path, data);
			break;
		}
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

void journal_rollback(const struct journal *j, const char *data)
{
	char *p = journal_path(data);

	/* the journal first: a crash after it leaves orphan tablet dirs,
	 * which the next start removes, never a journal naming missing dirs */
	if (unlink(p) == 0)
		fs_fsync_dir(data);
	for (size_t i = 0; i < j->nmoves; i++)
		if (!fs_path_inside(data, j->moves[i].dst))
			fs_remove_tree(j->moves[i].dst);
	free(p);
}
