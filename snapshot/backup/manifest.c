/*
 * manifest: SNAPSHOT.json, the self-description of one snapshot, written by
 * the snapshot code and read back by verify, restore and the view.
 *
 * json-c does the JSON (a well-kept Debian library, the one the catalog
 * uses) rather than a hand-written parser: the text we parse comes from
 * backups and must be treated as hostile, and a tokenizer is where such
 * bugs live. The tokenizer runs in strict mode with UTF-8 validation and a
 * small depth limit; everything it hands back is then checked field by
 * field here, with bounded counts and sizes, before a byte of it is used to
 * build a path. Errors name the field as a JSON path:
 *   SNAPSHOT.json: tables[0].tablets[2].partition: not contiguous
 *
 * Invariants of a parsed manifest (what callers may rely on): the hybrid
 * time's physical part is exactly wall_time (one cut, two spellings); ids are 32
 * lowercase hex digits; keyspace and table names are [A-Za-z0-9_-]{1,64};
 * table ids, table names and tablet ids are unique; each table's tablets
 * are sorted and cover [0, 65536) without gap or overlap; file names are
 * plain names (no '/', no NUL, not "." or "..", at most 255 bytes), unique
 * per tablet, with sizes <= 2^50. So manifest_tablet_dir() is always a safe
 * relative path inside the tree.
 */
#include "manifest.h"

#include "fsutil.h"
#include "hlc.h"
#include "ids.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PARTITION_END 65536u
#define JSON_DEPTH 16	 /* our documents nest 7 deep */
#define FIELD_MAX 160	 /* "tables[99999].tablets[99999].files[99999].name" fits */
#define WALL_TIME_LEN 27 /* "2026-11-23T10:00:00.123456Z" */

/* ---- serialising ---- */

static json_object *file_to_json(const struct manifest_file *f)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(f->name));
	json_object_object_add(o, "size", json_object_new_uint64(f->size));
	return o;
}

static json_object *tablet_to_json(const struct manifest *m, const struct manifest_table *t,
				   const struct manifest_tablet *tb)
{
	json_object *o = json_object_new_object();
	json_object *part = json_object_new_object();
	json_object *files = json_object_new_array();
	char *dir = manifest_tablet_dir(m, t, tb);

	json_object_object_add(part, "start", json_object_new_int64(tb->start));
	json_object_object_add(part, "end", json_object_new_int64(tb->end));
	for (size_t i = 0; i < tb->nfiles; i++)
		json_object_array_add(files, file_to_json(&tb->files[i]));
	json_object_object_add(o, "id", json_object_new_string(tb->id));
	json_object_object_add(o, "partition", part);
	json_object_object_add(o, "dir", json_object_new_string(dir));
	json_object_object_add(o, "files", files);
	free(dir);
	return o;
}

static json_object *table_to_json(const struct manifest *m, const struct manifest_table *t)
{
	json_object *o = json_object_new_object();
	json_object *schema = json_object_new_object();
	json_object *tablets = json_object_new_array();

	json_object_object_add(schema, "key", json_object_new_string("bytes"));
	json_object_object_add(schema, "value", json_object_new_string("bytes"));
	json_object_object_add(schema, "partitioning", json_object_new_string("hash16"));
	for (size_t i = 0; i < t->ntablets; i++)
		json_object_array_add(tablets, tablet_to_json(m, t, &t->tablets[i]));
	json_object_object_add(o, "id", json_object_new_string(t->id));
	json_object_object_add(o, "name", json_object_new_string(t->name));
	json_object_object_add(o, "schema", schema);
	json_object_object_add(o, "tablets", tablets);
	return o;
}

/* Returns 0 and a malloc'ed text ending in a newline in *out (caller frees),
 * or -EINVAL if m lacks a keyspace or a name. */
int manifest_to_json(const struct manifest *m, char **out)
{
	json_object *root = NULL, *tables = NULL;
	char wall[48];
	int rc = 0;

	*out = NULL;
	if (!m->keyspace) {
		rc = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < m->ntables; i++) {
		if (!m->tables[i].name) {
			rc = -EINVAL;
			goto out;
		}
		for (size_t j = 0; j < m->tables[i].ntablets; j++)
			for (size_t k = 0; k < m->tables[i].tablets[j].nfiles; k++)
				if (!m->tables[i].tablets[j].files[k].name) {
					rc = -EINVAL;
					goto out;
				}
	}
	hlc_format_rfc3339(m->wall_us, 1, wall, sizeof(wall));
	root = json_object_new_object();
	tables = json_object_new_array();
	for (size_t i = 0; i < m->ntables; i++)
		json_object_array_add(tables, table_to_json(m, &m->tables[i]));
	json_object_object_add(root, "format_version", json_object_new_int(m->format_version));
	json_object_object_add(root, "snapshot_id", json_object_new_string(m->id));
	json_object_object_add(root, "hybrid_time", json_object_new_uint64(m->hybrid_time));
	json_object_object_add(root, "wall_time", json_object_new_string(wall));
	json_object_object_add(root, "keyspace", json_object_new_string(m->keyspace));
	json_object_object_add(root, "tables", tables);
	*out = fs_path("%s\n", json_object_to_json_string_ext(
				   root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
					     JSON_C_TO_STRING_NOSLASHESCAPE));
out:
	json_object_put(root);
	return rc;
}

char *manifest_tablet_dir(const struct manifest *m, const struct manifest_table *t,
			  const struct manifest_tablet *tb)
{
	return fs_path("%s/%s/tablet-%s", m->keyspace, t->name, tb->id);
}

/* ---- releasing ---- */

static void tablet_release(struct manifest_tablet *tb)
{
	for (size_t i = 0; i < tb->nfiles; i++)
		free(tb->files[i].name);
	free(tb->files);
	tb->files = NULL;
	tb->nfiles = 0;
}

void manifest_release(struct manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->ntables; i++) {
		struct manifest_table *t = &m->tables[i];

		for (size_t j = 0; j < t->ntablets; j++)
			tablet_release(&t->tablets[j]);
		free(t->tablets);
		free(t->name);
	}
	free(m->tables);
	free(m->keyspace);
	memset(m, 0, sizeof(*m));
}

/* ---- parsing: field access ---- */

static int bad(struct errbuf *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* -EBADMSG with "SNAPSHOT.json: <field>: <why>". */
static int bad(struct errbuf *e, const char *field, const char *fmt, ...)
{
	char why[ERRBUF_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (*field)
		return err_set(e, -EBADMSG, "SNAPSHOT.json: %s: %s", field, why);
	return err_set(e, -EBADMSG, "SNAPSHOT.json: %s", why);
}

/* A field path into buf (FIELD_MAX bytes); indexes are bounded by the
 * MANIFEST_MAX_* limits, so it never truncates. */
static void fieldf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fieldf(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, FIELD_MAX, fmt, ap);
	va_end(ap);
}

static void field_join(char *buf, const char *where, const char *key)
{
	fieldf(buf, "%s%s%s", where, *where ? "." : "", key);
}

static const char *type_want(json_type t)
{
	switch (t) {
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	case json_type_int:
		return "an integer";
	default:
		return "something else";
	}
}

/* The member key of obj, which must have type t. */
static int get_member(json_object *obj, const char *where, const char *key, json_type t,
		      json_object **out, struct errbuf *e)
{
	char f[FIELD_MAX];
	json_object *v = NULL;

	field_join(f, where, key);
	if (!json_object_object_get_ex(obj, key, &v))
		return bad(e, f, "missing");
	if (!json_object_is_type(v, t))
		return bad(e, f, "must be %s", type_want(t));
	*out = v;
	return 0;
}

/* A string member without NUL bytes, 1..max bytes long. */
static int get_string(json_object *obj, const char *where, const char *key, size_t max,
		      const char **out, struct errbuf *e)
{
	char f[FIELD_MAX];
	json_object *v;
	const char *s;
	size_t len;
	int rc;

	rc = get_member(obj, where, key, json_type_string, &v, e);
	if (rc)
		return rc;
	field_join(f, where, key);
	s = json_object_get_string(v);
	len = (size_t)json_object_get_string_len(v);
	if (strlen(s) != len)
		return bad(e, f, "contains a NUL byte");
	if (len == 0)
		return bad(e, f, "empty");
	if (len > max)
		return bad(e, f, "longer than %zu bytes", max);
	*out = s;
	return 0;
}

/* An integer member in [0, max]. json-c clamps overflowing numbers to
 * UINT64_MAX, so max must be below that. */
static int get_uint(json_object *obj, const char *where, const char *key, uint64_t max,
		    uint64_t *out, struct errbuf *e)
{
	char f[FIELD_MAX];
	json_object *v;
	uint64_t u;
	int rc;

	rc = get_member(obj, where, key, json_type_int, &v, e);
	if (rc)
		return rc;
	field_join(f, where, key);
	if (json_object_get_int64(v) < 0)
		return bad(e, f, "negative");
	u = json_object_get_uint64(v);
	if (u > max)
		return bad(e, f, "out of range (max %llu)", (unsigned long long)max);
	*out = u;
	return 0;
}

static int get_id(json_object *obj, const char *where, const char *key, char id[33],
		  struct errbuf *e)
{
	char f[FIELD_MAX];
	const char *s;
	int rc;

	rc = get_string(obj, where, key, ID_LEN, &s, e);
	if (rc)
		return rc;
	field_join(f, where, key);
	if (!id_valid(s))
		return bad(e, f, "not an id (32 lowercase hex digits)");
	memcpy(id, s, ID_LEN + 1);
	return 0;
}

static int get_name(json_object *obj, const char *where, const char *key, char **out,
		    struct errbuf *e)
{
	char f[FIELD_MAX];
	const char *s;
	int rc;

	rc = get_string(obj, where, key, MANIFEST_NAME_MAX, &s, e);
	if (rc)
		return rc;
	field_join(f, where, key);
	if (!name_valid(s))
		return bad(e, f, "not a valid name ([A-Za-z0-9_-]{1,64})");
	*out = xstrdup(s);
	return 0;
}

/* An array member with at most max elements. */
static int get_array(json_object *obj, const char *where, const char *key, size_t max,
		     json_object **out, size_t *n, struct errbuf *e)
{
	char f[FIELD_MAX];
	int rc;

	rc = get_member(obj, where, key, json_type_array, out, e);
	if (rc)
		return rc;
	field_join(f, where, key);
	*n = json_object_array_length(*out);
	if (*n > max)
		return bad(e, f, "more than %zu entries", max);
	return 0;
}

/* ---- parsing: the wall time ---- */

static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* Exactly "YYYY-MM-DDTHH:MM:SS.ffffffZ", a real date (formatting it back
 * must give the same text), not before 1970. */
static int parse_wall_time(const char *s, int64_t *us)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";
	char back[48];
	struct tm tm;
	time_t secs;

	if (strlen(s) != WALL_TIME_LEN)
		return -1;
	for (int i = 0; i < WALL_TIME_LEN; i++) {
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = digits(s, 4) - 1900;
	tm.tm_mon = digits(s + 5, 2) - 1;
	tm.tm_mday = digits(s + 8, 2);
	tm.tm_hour = digits(s + 11, 2);
	tm.tm_min = digits(s + 14, 2);
	tm.tm_sec = digits(s + 17, 2);
	secs = timegm(&tm);
	if (secs < 0)
		return -1;
	*us = (int64_t)secs * 1000000 + digits(s + 20, 6);
	hlc_format_rfc3339(*us, 1, back, sizeof(back));
	return strcmp(back, s) ? -1 : 0;
}

/* ---- parsing: the document ---- */

static int file_name_problem(const char *s, const char **why)
{
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		*why = "not a file name";
	else if (strchr(s, '/'))
		*why = "contains '/'";
	else
		return 0;
	return -1;
}

static int cmp_str_ptr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int parse_files(json_object *o, const char *where, struct manifest_tablet *tb,
		       struct errbuf *e)
{
	char f[FIELD_MAX], fi[FIELD_MAX];
	json_object *arr;
	const char **sorted = NULL;
	size_t n;
	int rc;

	rc = get_array(o, where, "files", MANIFEST_MAX_FILES, &arr, &n, e);
	if (rc)
		goto out;
	field_join(f, where, "files");
	tb->files = xcalloc(n, sizeof(*tb->files));
	for (size_t i = 0; i < n; i++) {
		json_object *fo = json_object_array_get_idx(arr, i);
		const char *name, *why;

		fieldf(fi, "%s[%zu]", f, i);
		if (!json_object_is_type(fo, json_type_object)) {
			rc = bad(e, fi, "must be an object");
			goto out;
		}
		rc = get_string(fo, fi, "name", MANIFEST_FILE_NAME_MAX, &name, e);
		if (rc)
			goto out;
		if (file_name_problem(name, &why)) {
			char fn[FIELD_MAX];

			field_join(fn, fi, "name");
			rc = bad(e, fn, "%s", why);
			goto out;
		}
		tb->files[i].name = xstrdup(name);
		tb->nfiles = i + 1;
		rc = get_uint(fo, fi, "size", MANIFEST_MAX_FILE_SIZE, &tb->files[i].size, e);
		if (rc)
			goto out;
	}
	sorted = xcalloc(n, sizeof(*sorted));
	for (size_t i = 0; i < n; i++)
		sorted[i] = tb->files[i].name;
	qsort(sorted, n, sizeof(*sorted), cmp_str_ptr);
	for (size_t i = 1; i < n; i++) {
		if (!strcmp(sorted[i - 1], sorted[i])) {
			rc = bad(e, f, "file '%s' listed twice", sorted[i]);
			goto out;
		}
	}
out:
	free(sorted);
	return rc;
}

static int parse_tablet(json_object *o, const char *where, const char *ks, const char *table,
			struct manifest_tablet *tb, struct errbuf *e)
{
	char f[FIELD_MAX];
	json_object *part;
	const char *dir;
	char *want = NULL;
	uint64_t start, end;
	int rc;

	if (!json_object_is_type(o, json_type_object))
		return bad(e, where, "must be an object");
	rc = get_id(o, where, "id", tb->id, e);
	if (rc)
		goto out;
	rc = get_member(o, where, "partition", json_type_object, &part, e);
	if (rc)
		goto out;
	field_join(f, where, "partition");
	rc = get_uint(part, f, "start", PARTITION_END, &start, e);
	if (!rc)
		rc = get_uint(part, f, "end", PARTITION_END, &end, e);
	if (rc)
		goto out;
	if (start >= end) {
		rc = bad(e, f, "empty range [%llu, %llu)", (unsigned long long)start,
			 (unsigned long long)end);
		goto out;
	}
	tb->start = (uint32_t)start;
	tb->end = (uint32_t)end;
	rc = get_string(o, where, "dir", 4096, &dir, e);
	if (rc)
		goto out;
	want = fs_path("%s/%s/tablet-%s", ks, table, tb->id);
	if (strcmp(dir, want)) {
		field_join(f, where, "dir");
		rc = bad(e, f, "not '%s'", want);
		goto out;
	}
	rc = parse_files(o, where, tb, e);
out:
	free(want);
	return rc;
}

static int parse_schema(json_object *o, const char *where, struct errbuf *e)
{
	static const char *const want[][2] = {
	    {"key", "bytes"}, {"value", "bytes"}, {"partitioning", "hash16"}};
	char f[FIELD_MAX];
	json_object *schema;
	int rc;

	rc = get_member(o, where, "schema", json_type_object, &schema, e);
	if (rc)
		return rc;
	field_join(f, where, "schema");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		char fk[FIELD_MAX];
		const char *s;

		rc = get_string(schema, f, want[i][0], 64, &s, e);
		if (rc)
			return rc;
		field_join(fk, f, want[i][0]);
		if (strcmp(s, want[i][1]))
			return bad(e, fk, "unsupported '%s' (want '%s')", s, want[i][1]);
	}
	return 0;
}

/* Tablets sorted by start, contiguous from 0 to 65536. */
static int check_partitions(const struct manifest_table *t, const char *where, struct errbuf *e)
{
	char f[FIELD_MAX];

	if (t->ntablets == 0) {
		field_join(f, where, "tablets");
		return bad(e, f, "empty");
	}
	for (size_t i = 0; i < t->ntablets; i++) {
		uint32_t want = i ? t->tablets[i - 1].end : 0;

		fieldf(f, "%s.tablets[%zu].partition", where, i);
		if (t->tablets[i].start != want)
			return bad(e, f, "%s", i ? "not contiguous" : "does not start at 0");
	}
	if (t->tablets[t->ntablets - 1].end != PARTITION_END)
		return bad(e, f, "does not end at %u", PARTITION_END);
	return 0;
}

static int parse_table(json_object *o, const char *where, const char *ks, size_t *budget,
		       struct manifest_table *t, struct errbuf *e)
{
	char f[FIELD_MAX];
	json_object *arr;
	size_t n;
	int rc;

	if (!json_object_is_type(o, json_type_object))
		return bad(e, where, "must be an object");
	rc = get_id(o, where, "id", t->id, e);
	if (!rc)
		rc = get_name(o, where, "name", &t->name, e);
	if (!rc)
		rc = parse_schema(o, where, e);
	if (!rc)
		rc = get_array(o, where, "tablets", MANIFEST_MAX_TABLETS, &arr, &n, e);
	if (rc)
		return rc;
	if (n > *budget) {
		field_join(f, where, "tablets");
		return bad(e, f, "more than %d tablets in the snapshot", MANIFEST_MAX_TABLETS);
	}
	*budget -= n;
	t->tablets = xcalloc(n, sizeof(*t->tablets));
	for (size_t i = 0; i < n; i++) {
		fieldf(f, "%s.tablets[%zu]", where, i);
		t->ntablets = i + 1;
		rc = parse_tablet(json_object_array_get_idx(arr, i), f, ks, t->name, &t->tablets[i],
				  e);
		if (rc)
			return rc;
	}
	return check_partitions(t, where, e);
}

/* A string of the document with where it was found, for duplicate checks. */
struct keyref {
	const char *s;
	size_t table, tablet;
};

static int cmp_keyref(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	int c = strcmp(x->s, y->s);

	if (c)
		return c;
	if (x->table != y->table)
		return x->table < y->table ? -1 : 1;
	return x->tablet < y->tablet ? -1 : x->tablet > y->tablet;
}

/* The later of the first pair of equal strings, or NULL. */
static const struct keyref *first_dup(struct keyref *v, size_t n)
{
	const struct keyref *dup = NULL;

	qsort(v, n, sizeof(*v), cmp_keyref);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(v[i - 1].s, v[i].s))
			continue;
		if (!dup || v[i].table < dup->table ||
		    (v[i].table == dup->table && v[i].tablet < dup->tablet))
			dup = &v[i];
	}
	return dup;
}

/* Table ids, table names and tablet ids are unique in the snapshot. */
static int check_unique(const struct manifest *m, struct errbuf *e)
{
	struct keyref *v = NULL;
	const struct keyref *d;
	size_t ntablets = 0, k;
	char f[FIELD_MAX];
	int rc = 0;

	for (size_t i = 0; i < m->ntables; i++)
		ntablets += m->tables[i].ntablets;
	v = xcalloc(ntablets > m->ntables ? ntablets : m->ntables, sizeof(*v));
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < m->ntables; i++)
			v[i] = (struct keyref){pass ? m->tables[i].name : m->tables[i].id, i, 0};
		d = first_dup(v, m->ntables);
		if (d) {
			fieldf(f, "tables[%zu].%s", d->table, pass ? "name" : "id");
			rc = bad(e, f, "'%s' used twice", d->s);
			goto out;
		}
	}
	k = 0;
	for (size_t i = 0; i < m->ntables; i++)
		for (size_t j = 0; j < m->tables[i].ntablets; j++)
			v[k++] = (struct keyref){m->tables[i].tablets[j].id, i, j};
	d = first_dup(v, k);
	if (d) {
		fieldf(f, "tables[%zu].tablets[%zu].id", d->table, d->tablet);
		rc = bad(e, f, "'%s' used twice", d->s);
	}
out:
	free(v);
	return rc;
}

static int parse_header(json_object *root, struct manifest *m, struct errbuf *e)
{
	const char *wall;
	uint64_t v;
	int rc;

	rc = get_uint(root, "", "format_version", INT32_MAX, &v, e);
	if (rc)
		return rc;
	if (v != MANIFEST_FORMAT_VERSION)
		return bad(e, "format_version", "unsupported version %llu (want %d)",
			   (unsigned long long)v, MANIFEST_FORMAT_VERSION);
	m->format_version = (int)v;
	rc = get_id(root, "", "snapshot_id", m->id, e);
	if (!rc)
		rc = get_uint(root, "", "hybrid_time", UINT64_MAX - 1, &m->hybrid_time, e);
	if (!rc && m->hybrid_time == 0)
		rc = bad(e, "hybrid_time", "zero");
	if (!rc)
		rc = get_string(root, "", "wall_time", 64, &wall, e);
	if (rc)
		return rc;
	if (parse_wall_time(wall, &m->wall_us))
		return bad(e, "wall_time",
			   "not an RFC 3339 UTC time with microseconds "
			   "(2026-11-23T10:00:00.123456Z)");
	/* one cut, said twice: snapfs writes wall_time as the hybrid time's
	 * microseconds, so a cut edited in one place only is caught here */
	if (hlc_physical_us(m->hybrid_time) != m->wall_us) {
		char phys[48];

		hlc_format_rfc3339(hlc_physical_us(m->hybrid_time), 1, phys, sizeof(phys));
		return bad(e, "hybrid_time", "%llu does not agree with wall_time '%s' (it is %s)",
			   (unsigned long long)m->hybrid_time, wall, phys);
	}
	return get_name(root, "", "keyspace", &m->keyspace, e);
}

static int parse_tables(json_object *root, struct manifest *m, struct errbuf *e)
{
	size_t budget = MANIFEST_MAX_TABLETS;
	json_object *arr;
	char f[FIELD_MAX];
	size_t n;
	int rc;

	rc = get_array(root, "", "tables", MANIFEST_MAX_TABLETS, &arr, &n, e);
	if (rc)
		return rc;
	m->tables = xcalloc(n, sizeof(*m->tables));
	for (size_t i = 0; i < n; i++) {
		fieldf(f, "tables[%zu]", i);
		m->ntables = i + 1;
		rc = parse_table(json_object_array_get_idx(arr, i), f, m->keyspace, &budget,
				 &m->tables[i], e);
		if (rc)
			return rc;
	}
	return check_unique(m, e);
}

/* The whole text must be one JSON object (trailing whitespace allowed). */
static int tokenize(const char *json, size_t len, json_object **out, struct errbuf *e)
{
	json_tokener *tok = NULL;
	json_object *o = NULL;
	enum json_tokener_error jerr;
	int rc = 0;

	if (len > MANIFEST_MAX_JSON) {
		rc = bad(e, "", "larger than %u bytes", MANIFEST_MAX_JSON);
		goto out;
	}
	if (memchr(json, '\0', len)) {
		rc = bad(e, "", "contains a NUL byte");
		goto out;
	}
	tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok) {
		rc = err_set(e, -ENOMEM, "SNAPSHOT.json: out of memory");
		goto out;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, json, (int)len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_continue) {
		rc = bad(e, "", "not JSON: truncated");
		goto out;
	}
	if (jerr != json_tokener_success) {
		rc = bad(e, "", "not JSON: %s at byte %zu", json_tokener_error_desc(jerr),
			 json_tokener_get_parse_end(tok));
		goto out;
	}
	if (!json_object_is_type(o, json_type_object)) {
		rc = bad(e, "", "not a JSON object");
		goto out;
	}
	*out = o;
	o = NULL;
out:
	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
	return rc;
}

int manifest_parse(const char *json, size_t len, struct manifest *m, struct errbuf *e)
{
	json_object *root = NULL;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = tokenize(json, len, &root, e);
	if (!rc)
		rc = parse_header(root, m, e);
	if (!rc)
		rc = parse_tables(root, m, e);
	json_object_put(root);
	if (rc)
		manifest_release(m);
	return rc;
}
