/*
 * store: tables, tablets, the clock and the write barrier (see store.h).
 *
 * The write path is: find the table (store->lock shared) -> pick the tablet
 * by key hash -> barrier shared -> hybrid time -> RocksDB -> release. A
 * table create writes the tablets first and the catalog record last, so a
 * crash leaves at most orphan directories, which store_open removes; a
 * drop removes the record first and the directories after, for the same
 * reason. Snapshot checkpoints live beside the tablets (tablet-<id>.snapshots)
 * and are never touched here.
 */
#include "store.h"

#include "fsutil.h"
#include "jtime.h"
#include "hash.h"
#include "partition.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOAD_BATCH 2000

char *store_tablet_path(const char *data, const char *table_id, const char *tablet_id)
{
	return fs_path("%s/tablets/table-%s/tablet-%s", data, table_id, tablet_id);
}

char *store_table_dir(const char *data, const char *table_id)
{
	return fs_path("%s/tablets/table-%s", data, table_id);
}

int store_init(const char *data, int *created, struct errbuf *e)
{
	const char *subdirs[] = {"tablets", "snapshots"};
	char *cat = fs_path("%s/catalog", data);
	struct catalog c;
	struct stat st;
	int rc;

	*created = stat(cat, &st) != 0;
	rc = fs_mkdirs(data, 0755);
	if (rc) {
		err_set(e, rc, "data directory '%s': %s", data, strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		char *p = fs_path("%s/%s", data, subdirs[i]);

		rc = fs_mkdirs(p, 0755);
		free(p);
		if (rc) {
			err_set(e, rc, "data directory '%s': %s", data, strerror(-rc));
			goto out;
		}
	}
	rc = catalog_open(&c, cat, 1, e);
	if (rc)
		goto out;
	catalog_close(&c);
	rc = fs_fsync_dir(data);
out:
	free(cat);
	return rc;
}

static void table_free(struct store_table *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->ntablets; i++)
		tablet_close(&t->tablets[i].db);
	free(t->tablets);
	free(t);
}

static json_object *table_to_json(const struct store_table *t)
{
	json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(o, "id", json_object_new_string(t->id));
	json_object_object_add(o, "keyspace", json_object_new_string(t->ks));
	json_object_object_add(o, "name", json_object_new_string(t->name));
	json_object_object_add(o, "created_ht", json_object_new_uint64(t->created_ht));
	for (unsigned i = 0; i < t->ntablets; i++) {
		json_object *tb = json_object_new_object();

		json_object_object_add(tb, "id", json_object_new_string(t->tablets[i].id));
		json_object_object_add(tb, "start", json_object_new_int64(t->tablets[i].start));
		json_object_object_add(tb, "end", json_object_new_int64(t->tablets[i].end));
		json_object_array_add(arr, tb);
	}
	json_object_object_add(o, "tablets", arr);
	return o;
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int open_table_record(struct store *s, json_object *o, struct store_table **out,
			     struct errbuf *e)
{
	struct store_table *t = xcalloc(1, sizeof(*t));
	const char *id = jstr(o, "id"), *ks = jstr(o, "keyspace"), *name = jstr(o, "name");
	json_object *arr, *v;
	int rc = 0;

	if (!id_valid(id) || !name_valid(ks) || !name_valid(name) ||
	    !json_object_object_get_ex(o, "tablets", &arr) ||
	    !json_object_is_type(arr, json_type_array)) {
		free(t);
		return err_set(e, -EBADMSG, "catalog table record '%s': malformed", id ? id : "?");
	}
	strcpy(t->id, id);
	strcpy(t->ks, ks);
	strcpy(t->name, name);
	if (json_object_object_get_ex(o, "created_ht", &v))
		t->created_ht = json_object_get_uint64(v);
	t->ntablets = (unsigned)json_object_array_length(arr);
	t->tablets = xcalloc(t->ntablets, sizeof(*t->tablets));
	for (unsigned i = 0; i < t->ntablets; i++) {
		json_object *tb = json_object_array_get_idx(arr, i), *x;
		const char *tid = jstr(tb, "id");
		char *path;

		if (!id_valid(tid)) {
			rc = err_set(e, -EBADMSG, "catalog table record '%s': bad tablet id", id);
			goto out;
		}
		strcpy(t->tablets[i].id, tid);
		if (json_object_object_get_ex(tb, "start", &x))
			t->tablets[i].start = (uint32_t)json_object_get_int64(x);
		if (json_object_object_get_ex(tb, "end", &x))
			t->tablets[i].end = (uint32_t)json_object_get_int64(x);
		path = store_tablet_path(s->data, t->id, tid);
		rc = tablet_open(&t->tablets[i].db, path, 1, 0, e);
		free(path);
		if (rc)
			goto out;
	}
out:
	if (rc)
		table_free(t);
	else
		*out = t;
	return rc;
}

static void add_table_locked(struct store *s, struct store_table *t)
{
	s->tables = xrealloc(s->tables, (s->ntables + 1) * sizeof(*s->tables));
	s->tables[s->ntables++] = t;
}

struct load_ctx {
	struct store *s;
	struct errbuf *e; /* store_open's: the caller prints why it failed */
};

static int load_table_cb(void *arg, const char *key, json_object *o)
{
	struct load_ctx *c = arg;
	struct store_table *t = NULL;
	int rc = open_table_record(c->s, o, &t, c->e);

	if (rc)
		return rc;
	add_table_locked(c->s, t);
	return 0;
}

int store_install_locked(struct store *s, json_object *rec, struct errbuf *e)
{
	struct store_table *t = NULL;
	int rc = open_table_record(s, rec, &t, e);

	if (rc)
		return rc;
	for (size_t i = 0; i < s->ntables; i++) {
		if (strcmp(s->tables[i]->id, t->id))
			continue;
		table_free(s->tables[i]);
		s->tables[i] = t;
		return 0;
	}
	add_table_locked(s, t);
	return 0;
}

void store_forget_locked(struct store *s, const char *id)
{
	for (size_t i = 0; i < s->ntables; i++) {
		struct store_table *t = s->tables[i];

		if (strcmp(t->id, id))
			continue;
		s->tables[i] = s->tables[--s->ntables];
		table_free(t); /* closes its tablets */
		return;
	}
}

/* Live tablet directories not owned by a catalog table are the leftovers of
 * a create or drop cut short: remove them (never the .snapshots dirs). */
static void remove_orphans(struct store *s)
{
	char *root = fs_path("%s/tablets", s->data);
	DIR *d = opendir(root);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		const char *tid = de->d_name + 6;
		char *tdir;
		DIR *td;
		struct dirent *te;
		struct store_table *owner = NULL;

		if (strncmp(de->d_name, "table-", 6) || !id_valid(tid))
			continue;
		for (size_t i = 0; i < s->ntables; i++)
			if (!strcmp(s->tables[i]->id, tid))
				owner = s->tables[i];
		tdir = fs_path("%s/%s", root, de->d_name);
		td = opendir(tdir);
		while (td && (te = readdir(td))) {
			int owned = 0;

			if (strncmp(te->d_name, "tablet-", 7) || !id_valid(te->d_name + 7))
				continue; /* .snapshots dirs and anything else stay */
			for (unsigned i = 0; owner && i < owner->ntablets; i++)
				if (!strcmp(owner->tablets[i].id, te->d_name + 7))
					owned = 1;
			if (!owned) {
				char *p = fs_path("%s/%s", tdir, te->d_name);

				fprintf(stderr, "snapfs: removing orphan tablet directory '%s'\n",
					p);
				fs_remove_tree(p);
				free(p);
			}
		}
		if (td)
			closedir(td);
		free(tdir);
	}
	if (d)
		closedir(d);
	free(root);
}

int store_open(struct store *s, const char *data, struct errbuf *e)
{
	pthread_rwlockattr_t attr;
	char *cat = fs_path("%s/catalog", data), *clock = fs_path("%s/clock", data);
	struct stat st;
	int rc;

	memset(s, 0, sizeof(*s));
	s->data = xstrdup(data);
	pthread_rwlock_init(&s->lock, NULL);
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&s->barrier, &attr);
	pthread_rwlockattr_destroy(&attr);
	if (stat(cat, &st) != 0) {
		rc = err_set(e, -ENOENT, "data directory '%s': not initialised (run 'snapfs init')",
			     data);
		goto out;
	}
	rc = hlc_init(&s->clock, clock, e);
	if (rc)
		goto out;
	rc = catalog_open(&s->cat, cat, 0, e);
	if (rc)
		goto out;
	rc = catalog_scan(&s->cat, "table/", load_table_cb, &(struct load_ctx){s, e}, e);
	if (rc)
		goto out;
	remove_orphans(s);
out:
	free(cat);
	free(clock);
	if (rc)
		store_close(s);
	return rc;
}

void store_close(struct store *s)
{
	for (size_t i = 0; i < s->ntables; i++)
		table_free(s->tables[i]);
	free(s->tables);
	s->tables = NULL;
	s->ntables = 0;
	catalog_close(&s->cat);
	if (s->clock.path)
		hlc_release(&s->clock);
	pthread_rwlock_destroy(&s->lock);
	pthread_rwlock_destroy(&s->barrier);
	free(s->data);
	s->data = NULL;
}

int store_split_name(const char *full, char ks[65], char name[65], struct errbuf *e)
{
	const char *dot = full ? strchr(full, '.') : NULL;
	size_t kl;

	if (!dot || strchr(dot + 1, '.'))
		goto bad;
	kl = (size_t)(dot - full);
	if (kl < 1 || kl > 64 || strlen(dot + 1) > 64)
		goto bad;
	memcpy(ks, full, kl);
	ks[kl] = '\0';
	strcpy(name, dot + 1);
	if (!name_valid(ks) || !name_valid(name))
		goto bad;
	return 0;
bad:
	return err_set(
	    e, -EINVAL,
	    "table '%s': expected KEYSPACE.TABLE, names of 1 to 64 letters, digits, '_' or '-'",
	    full ? full : "");
}

struct store_table *store_find_locked(struct store *s, const char *ks, const char *name)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (!strcmp(s->tables[i]->ks, ks) && !strcmp(s->tables[i]->name, name))
			return s->tables[i];
	return NULL;
}

int store_keyspace_exists(struct store *s, const char *ks)
{
	char *key = fs_path("ks/%s", ks);
	json_object *o = NULL;
	int rc = catalog_get(&s->cat, key, &o, NULL);

	json_object_put(o);
	free(key);
	return rc == 0;
}

int store_table_create(struct store *s, const char *full, unsigned ntablets, struct errbuf *e)
{
	char ks[65], name[65];
	struct store_table *t = NULL;
	struct catalog_batch b = {0};
	json_object *rec = NULL, *ksrec = NULL;
	char *kskey = NULL, *tkey = NULL;
	int rc;

	rc = store_split_name(full, ks, name, e);
	if (rc)
		return rc;
	if (ntablets < 1 || ntablets > PARTITION_MAX_TABLETS)
		return err_set(e, -EINVAL, "table '%s': --tablets must be 1 to %d", full,
			       PARTITION_MAX_TABLETS);
	pthread_rwlock_wrlock(&s->lock);
	if (store_find_locked(s, ks, name)) {
		rc = err_set(e, -EEXIST, "table '%s': already exists", full);
		goto out;
	}
	t = xcalloc(1, sizeof(*t));
	id_new(t->id);
	strcpy(t->ks, ks);
	strcpy(t->name, name);
	t->created_ht = hlc_now(&s->clock);
	t->ntablets = ntablets;
	t->tablets = xcalloc(ntablets, sizeof(*t->tablets));
	for (unsigned i = 0; i < ntablets; i++) {
		char *path;

		id_new(t->tablets[i].id);
		partition_range(ntablets, i, &t->tablets[i].start, &t->tablets[i].end);
		path = store_tablet_path(s->data, t->id, t->tablets[i].id);
		rc = fs_mkdirs(path, 0755);
		if (!rc)
			rc = tablet_open(&t->tablets[i].db, path, 1, 0, e);
		else
			err_set(e, rc, "tablet directory '%s': %s", path, strerror(-rc));
		free(path);
		if (rc)
			goto out;
	}
	rec = table_to_json(t);
	kskey = fs_path("ks/%s", ks);
	tkey = fs_path("table/%s", t->id);
	ksrec = json_object_new_object();
	json_object_object_add(ksrec, "name", json_object_new_string(ks));
	catalog_batch_init(&b);
	catalog_batch_put(&b, kskey, ksrec);
	catalog_batch_put(&b, tkey, rec);
	rc = catalog_batch_commit(&s->cat, &b, e);
	if (rc)
		goto out;
	add_table_locked(s, t);
	t = NULL;
out:
	if (t) {
		char *dir = store_table_dir(s->data, t->id);

		table_free(t);
		fs_remove_tree(dir);
		free(dir);
	}
	pthread_rwlock_unlock(&s->lock);
	catalog_batch_release(&b);
	json_object_put(rec);
	json_object_put(ksrec);
	free(kskey);
	free(tkey);
	return rc;
}

int store_table_drop(struct store *s, const char *full, struct errbuf *e)
{
	char ks[65], name[65];
	struct store_table *t;
	char *tkey = NULL;
	int rc;

	rc = store_split_name(full, ks, name, e);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&s->lock);
	t = store_find_locked(s, ks, name);
	if (!t) {
		rc = err_set(e, -ENOENT, "table '%s': not found", full);
		goto out;
	}
	tkey = fs_path("table/%s", t->id);
	rc = catalog_delete(&s->cat, tkey, e);
	if (rc)
		goto out;
	for (size_t i = 0; i < s->ntables; i++) {
		if (s->tables[i] != t)
			continue;
		s->tables[i] = s->tables[--s->ntables];
		break;
	}
	for (unsigned i = 0; i < t->ntablets; i++) {
		char *path = store_tablet_path(s->data, t->id, t->tablets[i].id);

		tablet_close(&t->tablets[i].db);
		fs_remove_tree(path);
		free(path);
	}
	table_free(t);
out:
	pthread_rwlock_unlock(&s->lock);
	free(tkey);
	return rc;
}

int store_table_list(struct store *s, json_object **out, struct errbuf *e)
{
	json_object *arr = json_object_new_array();

	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i < s->ntables; i++) {
		struct store_table *t = s->tables[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "id", json_object_new_string(t->id));
		json_object_object_add(o, "keyspace", json_object_new_string(t->ks));
		json_object_object_add(o, "name", json_object_new_string(t->name));
		json_object_object_add(o, "tablets", json_object_new_int((int)t->ntablets));
		jtime_add(o, NULL, t->created_ht);
		json_object_array_add(arr, o);
	}
	pthread_rwlock_unlock(&s->lock);
	*out = arr;
	return 0;
}

struct store_tablet *store_pick_tablet(struct store_table *t, const void *key, size_t klen)
{
	uint16_t h = partition_hash(key, klen);
	unsigned lo = 0, hi = t->ntablets;

	while (hi - lo > 1) {
		unsigned mid = (lo + hi) / 2;

		if (t->tablets[mid].start <= h)
			lo = mid;
		else
			hi = mid;
	}
	return &t->tablets[lo];
}

static int check_kv(const char *full, size_t klen, size_t vlen, struct errbuf *e)
{
	if (klen == 0)
		return err_set(e, -EINVAL, "key for '%s': empty", full);
	if (klen > KEY_MAX)
		return err_set(e, -EINVAL, "key for '%s': %zu bytes, the limit is %u", full, klen,
			       KEY_MAX);
	if (vlen > VALUE_MAX)
		return err_set(e, -EINVAL, "value for '%s': %zu bytes, the limit is %u", full, vlen,
			       VALUE_MAX);
	return 0;
}

/* Finds the table under s->lock (shared); on success the caller unlocks. */
static int lock_table(struct store *s, const char *full, int writing, struct store_table **out,
		      struct errbuf *e)
{
	char ks[65], name[65];
	int rc = store_split_name(full, ks, name, e);

	if (rc)
		return rc;
	pthread_rwlock_rdlock(&s->lock);
	*out = store_find_locked(s, ks, name);
	if (!*out) {
		pthread_rwlock_unlock(&s->lock);
		return err_set(e, -ENOENT, "table '%s': not found", full);
	}
	if (writing && (*out)->busy) {
		pthread_rwlock_unlock(&s->lock);
		return err_set(e, -EBUSY, "table '%s': being restored, try again", full);
	}
	return 0;
}

static int write_row(struct store *s, const char *full, const void *key, size_t klen,
		     const void *val, size_t vlen, int del, struct errbuf *e)
{
	struct store_table *t;
	struct store_tablet *tb;
	uint64_t ts;
	int rc = check_kv(full, klen, vlen, e);

	if (rc)
		return rc;
	rc = lock_table(s, full, 1, &t, e);
	if (rc)
		return rc;
	tb = store_pick_tablet(t, key, klen);
	pthread_rwlock_rdlock(&s->barrier);
	ts = hlc_now(&s->clock);
	if (!ts)
		rc = err_set(e, -EIO, "clock '%s': cannot persist", s->clock.path);
	else if (del)
		rc = tablet_del(&tb->db, key, klen, ts, e);
	else
		rc = tablet_put(&tb->db, key, klen, val, vlen, ts, e);
	pthread_rwlock_unlock(&s->barrier);
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

int store_put(struct store *s, const char *full, const void *key, size_t klen, const void *val,
	      size_t vlen, struct errbuf *e)
{
	return write_row(s, full, key, klen, val, vlen, 0, e);
}

int store_del(struct store *s, const char *full, const void *key, size_t klen, struct errbuf *e)
{
	return write_row(s, full, key, klen, NULL, 0, 1, e);
}

int store_get(struct store *s, const char *full, const void *key, size_t klen, uint64_t at,
	      char **val, size_t *vlen, struct errbuf *e)
{
	struct store_table *t;
	int rc = check_kv(full, klen, 0, e);

	if (rc)
		return rc;
	rc = lock_table(s, full, 0, &t, e);
	if (rc)
		return rc;
	rc = tablet_get(&store_pick_tablet(t, key, klen)->db, key, klen,
			at ? at : hlc_last(&s->clock), val, vlen, e);
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

int store_scan(struct store *s, const char *full, const void *prefix, size_t plen, uint64_t limit,
	       uint64_t at, row_cb cb, void *arg, struct errbuf *e)
{
	struct store_table *t;
	struct tablet **tabs;
	int rc = lock_table(s, full, 0, &t, e);

	if (rc)
		return rc;
	tabs = xcalloc(t->ntablets, sizeof(*tabs));
	for (unsigned i = 0; i < t->ntablets; i++)
		tabs[i] = &t->tablets[i].db;
	rc = tablets_scan(tabs, t->ntablets, prefix, plen, limit, at ? at : hlc_last(&s->clock), cb,
			  arg, e);
	free(tabs);
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

static uint64_t splitmix64(uint64_t *x)
{
	return mix64(*x += 0x9e3779b97f4a7c15ULL);
}

void store_load_value(uint64_t seed, uint64_t i, char *buf, uint32_t len)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	uint64_t st = seed * 0x100000001b3ULL ^ i;

	for (uint32_t k = 0; k < len; k += 8) {
		uint64_t r = splitmix64(&st);

		for (uint32_t j = 0; j < 8 && k + j < len; j++, r >>= 8)
			buf[k + j] = alphabet[(r & 0xff) % 36];
	}
}

int store_load(struct store *s, const char *full, uint64_t rows, uint32_t value_size, uint64_t seed,
	       load_progress_fn progress, void *arg, struct errbuf *e)
{
	struct store_table *t;
	rocksdb_writebatch_t **batches = NULL;
	char *val = NULL;
	uint64_t done = 0;
	int rc;

	if (value_size > VALUE_MAX)
		return err_set(e, -EINVAL, "--value-size %u: the limit is %u", value_size,
			       VALUE_MAX);
	rc = lock_table(s, full, 1, &t, e);
	if (rc)
		return rc;
	batches = xcalloc(t->ntablets, sizeof(*batches));
	for (unsigned i = 0; i < t->ntablets; i++)
		batches[i] = rocksdb_writebatch_create();
	val = xmalloc(value_size + 1);
	while (done < rows && !rc) {
		uint64_t n = rows - done < LOAD_BATCH ? rows - done : LOAD_BATCH;
		uint64_t ts;

		pthread_rwlock_rdlock(&s->barrier);
		ts = hlc_now(&s->clock);
		if (!ts)
			rc = err_set(e, -EIO, "clock '%s': cannot persist", s->clock.path);
		for (uint64_t i = done; i < done + n && !rc; i++) {
			char key[32];
			int kl = snprintf(key, sizeof(key), "key%010" PRIu64, i);
			struct store_tablet *tb = store_pick_tablet(t, key, (size_t)kl);

			store_load_value(seed, i, val, value_size);
			tablet_batch_put(&tb->db, batches[tb - t->tablets], key, (size_t)kl, val,
					 value_size, ts);
		}
		for (unsigned i = 0; i < t->ntablets && !rc; i++) {
			if (rocksdb_writebatch_count(batches[i]))
				rc = tablet_write(&t->tablets[i].db, batches[i], e);
			rocksdb_writebatch_clear(batches[i]);
		}
		pthread_rwlock_unlock(&s->barrier);
		done += n;
		if (!rc && progress)
			rc = progress(arg, done, rows);
	}
	for (unsigned i = 0; i < t->ntablets; i++)
		rocksdb_writebatch_destroy(batches[i]);
	free(batches);
	free(val);
	pthread_rwlock_unlock(&s->lock);
	return rc;
}
