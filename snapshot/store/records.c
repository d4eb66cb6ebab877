/*
 * records: strict parsers and formatters of the catalog's records (see
 * records.h). json-c reads and writes the text; nothing keeps its objects.
 * The field readers here (rec_*) are the only ones in snapfs: a missing
 * field, a wrong type or an extra field is an error naming the field,
 * never a default.
 */
#include "records.h"

#include "fsutil.h"
#include "partition.h"

#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const snap_state_names[4] = {"CREATING", "COMPLETE", "FAILED", "DELETING"};

/* ---- field readers ---- */

json_object *rec_json_parse(const char *text, size_t len, struct errbuf *e)
{
	json_tokener *tok;
	json_object *o;

	if (len > RECORD_MAX_TEXT || len > INT_MAX) {
		err_set(e, -EBADMSG, "%zu bytes, too large", len);
		return NULL;
	}
	if (memchr(text, '\0', len)) {
		err_set(e, -EBADMSG, "holds a NUL byte");
		return NULL;
	}
	tok = json_tokener_new();
	o = json_tokener_parse_ex(tok, text, (int)len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		json_object_put(o);
		o = NULL;
		err_set(e, -EBADMSG, "not JSON");
	} else if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
		err_set(e, -EBADMSG, "not a JSON object");
	}
	json_tokener_free(tok);
	return o;
}

int rec_only(json_object *o, const char *const *keys, struct errbuf *e)
{
	json_object_object_foreach(o, k, v)
	{
		int known = 0;

		(void)v;
		for (size_t i = 0; keys[i] && !known; i++)
			known = !strcmp(k, keys[i]);
		if (!known)
			return err_set(e, -EBADMSG, "field '%s': unknown", k);
	}
	return 0;
}

int rec_has(json_object *o, const char *k)
{
	return json_object_object_get_ex(o, k, NULL);
}

static int field(json_object *o, const char *k, json_type t, json_object **v, struct errbuf *e)
{
	static const char *const tn[] = {"null",      "a boolean", "a number", "an integer",
					 "an object", "an array",  "a string"};

	if (!json_object_object_get_ex(o, k, v))
		return err_set(e, -EBADMSG, "field '%s': missing", k);
	if (!json_object_is_type(*v, t))
		return err_set(e, -EBADMSG, "field '%s': not %s", k, tn[t]);
	return 0;
}

int rec_str(json_object *o, const char *k, const char **out, struct errbuf *e)
{
	json_object *v;
	int rc = field(o, k, json_type_string, &v, e);

	if (rc)
		return rc;
	*out = json_object_get_string(v);
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return err_set(e, -EBADMSG, "field '%s': holds a NUL byte", k);
	return 0;
}

int rec_id(json_object *o, const char *k, char out[ID_LEN + 1], struct errbuf *e)
{
	const char *s;
	int rc = rec_str(o, k, &s, e);

	if (rc)
		return rc;
	if (!id_valid(s))
		return err_set(e, -EBADMSG, "field '%s': '%.80s' is not an id (32 lowercase hex)",
			       k, s);
	strcpy(out, s);
	return 0;
}

int rec_name(json_object *o, const char *k, char out[NAME_LEN + 1], struct errbuf *e)
{
	const char *s;
	int rc = rec_str(o, k, &s, e);

	if (rc)
		return rc;
	if (!name_valid(s))
		return err_set(e, -EBADMSG, "field '%s': '%.80s' is not a valid name", k, s);
	strcpy(out, s);
	return 0;
}

int rec_u64(json_object *o, const char *k, uint64_t *out, struct errbuf *e)
{
	json_object *v;
	int rc = field(o, k, json_type_int, &v, e);

	if (rc)
		return rc;
	/* json-c keeps a number above INT64_MAX as unsigned: get_int64 clamps
	 * it to INT64_MAX, and a negative one stays negative */
	if (json_object_get_int64(v) < 0)
		return err_set(e, -EBADMSG, "field '%s': negative", k);
	*out = json_object_get_uint64(v);
	return 0;
}

int rec_i64(json_object *o, const char *k, int64_t *out, struct errbuf *e)
{
	uint64_t u;
	int rc = rec_u64(o, k, &u, e);

	if (rc)
		return rc;
	if (u > INT64_MAX)
		return err_set(e, -EBADMSG, "field '%s': too large", k);
	*out = (int64_t)u;
	return 0;
}

int rec_arr(json_object *o, const char *k, json_object **out, struct errbuf *e)
{
	return field(o, k, json_type_array, out, e);
}

static char *format(json_object *o)
{
	char *s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	json_object_put(o);
	return s;
}

/* ---- tables ---- */

void tablerec_release(struct tablerec *t)
{
	if (!t)
		return;
	free(t->tablets);
	memset(t, 0, sizeof(*t));
}

void tablerec_copy(struct tablerec *dst, const struct tablerec *src)
{
	*dst = *src;
	dst->tablets = xcalloc(src->ntablets ? src->ntablets : 1, sizeof(*dst->tablets));
	if (src->ntablets)
		memcpy(dst->tablets, src->tablets, src->ntablets * sizeof(*dst->tablets));
}

int tablerec_check_tablets(const struct tablerec *t, struct errbuf *e)
{
	uint32_t at = 0;

	if (t->ntablets < 1 || t->ntablets > PARTITION_MAX_TABLETS)
		return err_set(e, -EBADMSG, "field 'tablets': %u tablets, not 1 to %d", t->ntablets,
			       PARTITION_MAX_TABLETS);
	for (unsigned i = 0; i < t->ntablets; i++) {
		const struct tabletrec *tb = &t->tablets[i];

		if (!id_valid(tb->id))
			return err_set(e, -EBADMSG, "field 'tablets[%u].id': not an id", i);
		if (tb->start != at || tb->end <= tb->start || tb->end > PARTITION_SPACE)
			return err_set(e, -EBADMSG,
				       "field 'tablets[%u]': range [%" PRIu32 ", %" PRIu32
				       ") does not continue [0, %" PRIu32 ")",
				       i, tb->start, tb->end, at);
		at = tb->end;
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(t->tablets[j].id, tb->id))
				return err_set(e, -EBADMSG, "field 'tablets[%u].id': a duplicate",
					       i);
	}
	if (at != PARTITION_SPACE)
		return err_set(e, -EBADMSG, "field 'tablets': ranges end at %" PRIu32 ", not %u",
			       at, PARTITION_SPACE);
	return 0;
}

static int tablets_from(json_object *arr, struct tablerec *t, struct errbuf *e)
{
	static const char *const keys[] = {"id", "start", "end", NULL};
	size_t n = json_object_array_length(arr);
	int rc = 0;

	if (n < 1 || n > PARTITION_MAX_TABLETS)
		return err_set(e, -EBADMSG, "field 'tablets': %zu tablets, not 1 to %d", n,
			       PARTITION_MAX_TABLETS);
	t->ntablets = (unsigned)n;
	t->tablets = xcalloc(n, sizeof(*t->tablets));
	for (size_t i = 0; i < n && !rc; i++) {
		json_object *tb = json_object_array_get_idx(arr, i);
		uint64_t start = 0, end = 0;

		if (!json_object_is_type(tb, json_type_object)) {
			rc = err_set(e, -EBADMSG, "field 'tablets[%zu]': not an object", i);
			break;
		}
		rc = rec_only(tb, keys, e);
		if (!rc)
			rc = rec_id(tb, "id", t->tablets[i].id, e);
		if (!rc)
			rc = rec_u64(tb, "start", &start, e);
		if (!rc)
			rc = rec_u64(tb, "end", &end, e);
		if (!rc && (start > PARTITION_SPACE || end > PARTITION_SPACE))
			rc = err_set(e, -EBADMSG, "field 'tablets[%zu]': range past %u", i,
				     PARTITION_SPACE);
		if (rc)
			err_prefix(e, rc, "tablet %zu", i);
		t->tablets[i].start = (uint32_t)start;
		t->tablets[i].end = (uint32_t)end;
	}
	if (!rc)
		rc = tablerec_check_tablets(t, e);
	return rc;
}

static json_object *tablets_json(const struct tablerec *t)
{
	json_object *arr = json_object_new_array();

	for (unsigned i = 0; i < t->ntablets; i++) {
		json_object *tb = json_object_new_object();

		json_object_object_add(tb, "id", json_object_new_string(t->tablets[i].id));
		json_object_object_add(tb, "start", json_object_new_int64(t->tablets[i].start));
		json_object_object_add(tb, "end", json_object_new_int64(t->tablets[i].end));
		json_object_array_add(arr, tb);
	}
	return arr;
}

/* A table inside o: with its keyspace (a catalog table record) or without
 * (a table of a snapshot record, whose keyspace is the snapshot's). */
static int table_from(json_object *o, int with_ks, struct tablerec *t, struct errbuf *e)
{
	static const char *const keys[] = {"id", "keyspace", "name", "created_ht", "tablets", NULL};
	json_object *arr;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = rec_only(
	    o, with_ks ? keys : (const char *const[]){"id", "name", "created_ht", "tablets", NULL},
	    e);
	if (!rc)
		rc = rec_id(o, "id", t->id, e);
	if (!rc && with_ks)
		rc = rec_name(o, "keyspace", t->ks, e);
	if (!rc)
		rc = rec_name(o, "name", t->name, e);
	if (!rc)
		rc = rec_u64(o, "created_ht", &t->created_ht, e);
	if (!rc)
		rc = rec_arr(o, "tablets", &arr, e);
	if (!rc)
		rc = tablets_from(arr, t, e);
	if (rc)
		tablerec_release(t);
	return rc;
}

static json_object *table_json(const struct tablerec *t, int with_ks)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(t->id));
	if (with_ks)
		json_object_object_add(o, "keyspace", json_object_new_string(t->ks));
	json_object_object_add(o, "name", json_object_new_string(t->name));
	json_object_object_add(o, "created_ht", json_object_new_uint64(t->created_ht));
	json_object_object_add(o, "tablets", tablets_json(t));
	return o;
}

int tablerec_from_json(json_object *o, struct tablerec *out, struct errbuf *e)
{
	if (!json_object_is_type(o, json_type_object))
		return err_set(e, -EBADMSG, "not a JSON object");
	return table_from(o, 1, out, e);
}

json_object *tablerec_to_json(const struct tablerec *t)
{
	return table_json(t, 1);
}

int tablerec_parse(const char *text, size_t len, struct tablerec *out, struct errbuf *e)
{
	json_object *o = rec_json_parse(text, len, e);
	int rc;

	if (!o)
		return -EBADMSG;
	rc = table_from(o, 1, out, e);
	json_object_put(o);
	return rc;
}

char *tablerec_format(const struct tablerec *t)
{
	return format(table_json(t, 1));
}

/* ---- keyspaces ---- */

int ksrec_from_json(json_object *o, struct ksrec *out, struct errbuf *e)
{
	static const char *const keys[] = {"name", NULL};
	int rc;

	if (!json_object_is_type(o, json_type_object))
		return err_set(e, -EBADMSG, "not a JSON object");
	rc = rec_only(o, keys, e);
	if (!rc)
		rc = rec_name(o, "name", out->name, e);
	return rc;
}

json_object *ksrec_to_json(const struct ksrec *k)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(k->name));
	return o;
}

int ksrec_parse(const char *text, size_t len, struct ksrec *out, struct errbuf *e)
{
	json_object *o = rec_json_parse(text, len, e);
	int rc;

	if (!o)
		return -EBADMSG;
	rc = ksrec_from_json(o, out, e);
	json_object_put(o);
	return rc;
}

char *ksrec_format(const struct ksrec *k)
{
	return format(ksrec_to_json(k));
}

/* ---- snapshots ---- */

void snaprec_release(struct snaprec *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ntables; i++)
		tablerec_release(&r->tables[i]);
	free(r->tables);
	memset(r, 0, sizeof(*r));
}

void snaprec_copy(struct snaprec *dst, const struct snaprec *src)
{
	*dst = *src;
	dst->tables = xcalloc(src->ntables ? src->ntables : 1, sizeof(*dst->tables));
	for (size_t i = 0; i < src->ntables; i++)
		tablerec_copy(&dst->tables[i], &src->tables[i]);
}

int snaprec_parse(const char *text, size_t len, struct snaprec *out, struct errbuf *e)
{
	static const char *const keys[] = {"id",	  "state",	 "keyspace",
					   "hybrid_time", "wall_us",	 "bytes",
					   "tables",	  "schedule_id", NULL};
	json_object *o = rec_json_parse(text, len, e), *arr;
	struct snaprec r;
	const char *st;
	int rc;

	if (!o)
		return -EBADMSG;
	memset(&r, 0, sizeof(r));
	rc = rec_only(o, keys, e);
	if (!rc)
		rc = rec_id(o, "id", r.id, e);
	if (!rc)
		rc = rec_str(o, "state", &st, e);
	if (!rc) {
		rc = err_set(e, -EBADMSG, "field 'state': '%.40s' is not a state", st);
		for (int i = 0; i < 4; i++)
			if (!strcmp(st, snap_state_names[i])) {
				r.state = (enum snap_state)i;
				rc = 0;
			}
	}
	if (!rc)
		rc = rec_name(o, "keyspace", r.ks, e);
	if (!rc)
		rc = rec_u64(o, "hybrid_time", &r.ht, e);
	if (!rc)
		rc = rec_i64(o, "wall_us", &r.wall_us, e);
	if (!rc)
		rc = rec_u64(o, "bytes", &r.bytes, e);
	if (!rc && rec_has(o, "schedule_id"))
		rc = rec_id(o, "schedule_id", r.schedule_id, e);
	if (!rc)
		rc = rec_arr(o, "tables", &arr, e);
	if (!rc) {
		r.ntables = json_object_array_length(arr);
		r.tables = xcalloc(r.ntables ? r.ntables : 1, sizeof(*r.tables));
		for (size_t i = 0; i < r.ntables && !rc; i++) {
			json_object *t = json_object_array_get_idx(arr, i);

			if (!json_object_is_type(t, json_type_object))
				rc = err_set(e, -EBADMSG, "not an object");
			else
				rc = table_from(t, 0, &r.tables[i], e);
			if (!rc)
				strcpy(r.tables[i].ks, r.ks);
			else
				err_prefix(e, rc, "field 'tables[%zu]'", i);
			for (size_t j = 0; !rc && j < i; j++)
				if (!strcmp(r.tables[j].id, r.tables[i].id) ||
				    !strcmp(r.tables[j].name, r.tables[i].name))
					rc = err_set(e, -EBADMSG,
						     "field 'tables[%zu]': a duplicate", i);
		}
	}
	if (!rc && !r.ntables)
		rc = err_set(e, -EBADMSG, "field 'tables': empty");
	if (!rc && r.state == SNAP_COMPLETE && !r.ht)
		rc = err_set(e, -EBADMSG, "field 'hybrid_time': 0 in a COMPLETE snapshot");
	json_object_put(o);
	if (rc)
		snaprec_release(&r);
	else
		*out = r;
	return rc;
}

char *snaprec_format(const struct snaprec *r)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(o, "state", json_object_new_string(snap_state_names[r->state]));
	json_object_object_add(o, "keyspace", json_object_new_string(r->ks));
	json_object_object_add(o, "hybrid_time", json_object_new_uint64(r->ht));
	json_object_object_add(o, "wall_us", json_object_new_int64(r->wall_us));
	json_object_object_add(o, "bytes", json_object_new_uint64(r->bytes));
	for (size_t i = 0; i < r->ntables; i++)
		json_object_array_add(arr, table_json(&r->tables[i], 0));
	json_object_object_add(o, "tables", arr);
	if (r->schedule_id[0])
		json_object_object_add(o, "schedule_id", json_object_new_string(r->schedule_id));
	return format(o);
}

/* ---- schedules ---- */

int schedrec_parse(const char *text, size_t len, struct schedrec *out, struct errbuf *e)
{
	static const char *const keys[] = {"id",	   "keyspace",	 "interval_us",
					   "retention_us", "created_us", NULL};
	json_object *o = rec_json_parse(text, len, e);
	struct schedrec s;
	int rc;

	if (!o)
		return -EBADMSG;
	memset(&s, 0, sizeof(s));
	rc = rec_only(o, keys, e);
	if (!rc)
		rc = rec_id(o, "id", s.id, e);
	if (!rc)
		rc = rec_name(o, "keyspace", s.ks, e);
	if (!rc)
		rc = rec_i64(o, "interval_us", &s.interval_us, e);
	if (!rc)
		rc = rec_i64(o, "retention_us", &s.retention_us, e);
	if (!rc)
		rc = rec_i64(o, "created_us", &s.created_us, e);
	if (!rc && s.interval_us < SCHED_MIN_INTERVAL_US)
		rc = err_set(e, -EBADMSG, "field 'interval_us': below 1 s");
	if (!rc && s.retention_us < s.interval_us)
		rc = err_set(e, -EBADMSG, "field 'retention_us': below the interval");
	json_object_put(o);
	if (!rc)
		*out = s;
	return rc;
}

char *schedrec_format(const struct schedrec *s)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(s->id));
	json_object_object_add(o, "keyspace", json_object_new_string(s->ks));
	json_object_object_add(o, "interval_us", json_object_new_int64(s->interval_us));
	json_object_object_add(o, "retention_us", json_object_new_int64(s->retention_us));
	json_object_object_add(o, "created_us", json_object_new_int64(s->created_us));
	return format(o);
}

/* ---- restorations ---- */

void restorerec_release(struct restorerec *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->ntables; i++)
		free(r->tables[i]);
	for (size_t i = 0; i < r->ndropped; i++)
		free(r->dropped[i]);
	free(r->tables);
	free(r->dropped);
	free(r->source);
	free(r->cut_time);
	free(r->result);
	memset(r, 0, sizeof(*r));
}

/* An array of table names ("name" or "ks.name"). */
static int names_from(json_object *o, const char *k, char ***out, size_t *n, struct errbuf *e)
{
	json_object *arr;
	int rc = rec_arr(o, k, &arr, e);

	if (rc)
		return rc;
	*n = json_object_array_length(arr);
	*out = xcalloc(*n ? *n : 1, sizeof(**out));
	for (size_t i = 0; i < *n; i++) {
		json_object *v = json_object_array_get_idx(arr, i);
		const char *s = json_object_get_string(v), *dot;

		if (!json_object_is_type(v, json_type_string))
			return err_set(e, -EBADMSG, "field '%s[%zu]': not a string", k, i);
		dot = strchr(s, '.');
		if (dot) {
			char ks[NAME_LEN + 1];
			size_t kl = (size_t)(dot - s);

			if (kl > NAME_LEN)
				return err_set(e, -EBADMSG, "field '%s[%zu]': not a table name", k,
					       i);
			memcpy(ks, s, kl);
			ks[kl] = '\0';
			if (!name_valid(ks) || !name_valid(dot + 1))
				return err_set(e, -EBADMSG, "field '%s[%zu]': not a table name", k,
					       i);
		} else if (!name_valid(s)) {
			return err_set(e, -EBADMSG, "field '%s[%zu]': not a table name", k, i);
		}
		(*out)[i] = xstrdup(s);
	}
	return 0;
}

static int text_from(json_object *o, const char *k, size_t max, char **out, struct errbuf *e)
{
	const char *s;
	int rc = rec_str(o, k, &s, e);

	if (rc)
		return rc;
	if (strlen(s) > max)
		return err_set(e, -EBADMSG, "field '%s': longer than %zu bytes", k, max);
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20)
			return err_set(e, -EBADMSG, "field '%s': control character", k);
	*out = xstrdup(s);
	return 0;
}

int restorerec_from_json(json_object *o, int with_restored_us, struct restorerec *out,
			 struct errbuf *e)
{
	static const char *const keys[] = {"id",       "source",      "snapshot_id", "keyspace",
					   "cut_time", "hybrid_time", "tables",	     "dropped",
					   "result",   "restored_us", NULL};
	struct restorerec r;
	int rc;

	if (!json_object_is_type(o, json_type_object))
		return err_set(e, -EBADMSG, "not a JSON object");
	memset(&r, 0, sizeof(r));
	rc = rec_only(o, keys, e);
	if (!rc)
		rc = rec_id(o, "id", r.id, e);
	if (!rc)
		rc = text_from(o, "source", 64, &r.source, e);
	if (!rc)
		rc = rec_id(o, "snapshot_id", r.snapshot_id, e);
	if (!rc)
		rc = rec_name(o, "keyspace", r.ks, e);
	if (!rc)
		rc = text_from(o, "cut_time", 64, &r.cut_time, e);
	if (!rc)
		rc = rec_u64(o, "hybrid_time", &r.hybrid_time, e);
	if (!rc)
		rc = names_from(o, "tables", &r.tables, &r.ntables, e);
	if (!rc)
		rc = names_from(o, "dropped", &r.dropped, &r.ndropped, e);
	if (!rc)
		rc = text_from(o, "result", 256, &r.result, e);
	if (!rc && with_restored_us)
		rc = rec_i64(o, "restored_us", &r.restored_us, e);
	else if (!rc && rec_has(o, "restored_us"))
		rc = err_set(e, -EBADMSG, "field 'restored_us': before the commit");
	if (rc)
		restorerec_release(&r);
	else
		*out = r;
	return rc;
}

int restorerec_parse(const char *text, size_t len, struct restorerec *out, struct errbuf *e)
{
	json_object *o = rec_json_parse(text, len, e);
	int rc;

	if (!o)
		return -EBADMSG;
	rc = restorerec_from_json(o, 1, out, e);
	json_object_put(o);
	return rc;
}

static json_object *names_json(char **v, size_t n)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(arr, json_object_new_string(v[i]));
	return arr;
}

json_object *restorerec_to_json(const struct restorerec *r, int with_restored_us)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(o, "source", json_object_new_string(r->source));
	json_object_object_add(o, "snapshot_id", json_object_new_string(r->snapshot_id));
	json_object_object_add(o, "keyspace", json_object_new_string(r->ks));
	json_object_object_add(o, "cut_time", json_object_new_string(r->cut_time));
	json_object_object_add(o, "hybrid_time", json_object_new_uint64(r->hybrid_time));
	json_object_object_add(o, "tables", names_json(r->tables, r->ntables));
	json_object_object_add(o, "dropped", names_json(r->dropped, r->ndropped));
	json_object_object_add(o, "result", json_object_new_string(r->result));
	if (with_restored_us)
		json_object_object_add(o, "restored_us", json_object_new_int64(r->restored_us));
	return o;
}

char *restorerec_format(const struct restorerec *r)
{
	return format(restorerec_to_json(r, 1));
}

/* ---- any record by its key ---- */

static int key_names(const char *key, const char *prefix, const char *want, struct errbuf *e)
{
	if (strcmp(key + strlen(prefix), want))
		return err_set(e, -EBADMSG, "key does not name the record's '%s'", want);
	return 0;
}

int record_check(const char *key, const char *text, size_t len, struct errbuf *e)
{
	int rc;

	if (!strncmp(key, "ks/", 3)) {
		struct ksrec k;

		rc = ksrec_parse(text, len, &k, e);
		if (!rc)
			rc = key_names(key, "ks/", k.name, e);
	} else if (!strncmp(key, "table/", 6)) {
		struct tablerec t;

		rc = tablerec_parse(text, len, &t, e);
		if (!rc) {
			rc = key_names(key, "table/", t.id, e);
			tablerec_release(&t);
		}
	} else if (!strncmp(key, "snap/", 5)) {
		struct snaprec r;

		rc = snaprec_parse(text, len, &r, e);
		if (!rc) {
			rc = key_names(key, "snap/", r.id, e);
			snaprec_release(&r);
		}
	} else if (!strncmp(key, "sched/", 6)) {
		struct schedrec s;

		rc = schedrec_parse(text, len, &s, e);
		if (!rc)
			rc = key_names(key, "sched/", s.id, e);
	} else if (!strncmp(key, "restore/", 8)) {
		struct restorerec r;
		const char *dash = strrchr(key, '-');

		rc = restorerec_parse(text, len, &r, e);
		if (!rc) {
			rc = dash ? key_names(dash, "-", r.id, e)
				  : err_set(e, -EBADMSG, "key does not name the record's id");
			restorerec_release(&r);
		}
	} else {
		rc = err_set(e, -EBADMSG, "unknown kind of record");
	}
	if (rc)
		err_prefix(e, rc, "catalog record '%s'", key);
	return rc;
}
