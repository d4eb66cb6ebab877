/*
 * store: tables, tablets, the clock and the write barrier (see store.h for
 * the locks and their order).
 *
 * The write path is: look the table up (store->lock shared, a reference
 * taken, lock dropped) -> its intent shared -> pick the tablet by key hash
 * -> barrier shared -> hybrid time -> RocksDB -> release. A table create
 * writes the tablets first and the catalog record last, so a crash leaves
 * at most orphan directories, which store_open removes; a drop removes the
 * record first and the directories after, for the same reason. Snapshot
 * checkpoints live beside the tablets (tablet-<id>.snapshots) and are
 * never touched here.
 *
 * A table object lives while referenced: the list holds one reference,
 * each handle one more. Its tablets are closed, and it is marked gone,
 * under its exclusive intent when it leaves the list (drop, restore swap);
 * a holder of the shared intent checks gone first. Memory goes with the
 * last reference.
 */
#include "store.h"

#include "fsutil.h"
#include "jtime.h"
#include "hash.h"
#include "partition.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LOAD_BATCH 2000
#define SCAN_BATCH_ROWS 1024
#define SCAN_BATCH_BYTES (1u << 20)

struct store_table {
	struct tablerec rec; /* immutable */
	struct tablet *dbs;  /* rec.ntablets of them; closed once gone */
	pthread_rwlock_t intent;
	int gone;	 /* written under intent held exclusively, read under it shared */
	int dropping;	 /* protected by store->lock */
	atomic_int refs; /* the list's and each handle's */
};

struct claim_name {
	char ks[NAME_LEN + 1], name[NAME_LEN + 1];
	char expect[ID_LEN + 1]; /* "" = no table of that name */
};

struct store_claim {
	struct store *s;
	size_t n;
	struct claim_name *v;
	struct store_claim *next; /* protected by store->lock */
};

struct store {
	char *data;
	struct catalog cat;
	struct hlc clock;
	pthread_rwlock_t lock;
	pthread_rwlock_t barrier;
	size_t ntables;			    /* protected by lock */
	struct store_table **tables;	    /* protected by lock */
	size_t ncreating;		    /* protected by lock */
	char (*creating)[2 * NAME_LEN + 2]; /* "ks.name" being created, protected by lock */
	struct store_claim *claims;	    /* protected by lock */
};

char *store_tablet_path(const char *data, const char *table_id, const char *tablet_id)
{
	return fs_path("%s/tablets/table-%s/tablet-%s", data, table_id, tablet_id);
}

char *store_table_dir(const char *data, const char *table_id)
{
	return fs_path("%s/tablets/table-%s", data, table_id);
}

const char *store_data(const struct store *s)
{
	return s->data;
}

struct hlc *store_clock(struct store *s)
{
	return &s->clock;
}

struct catalog *store_catalog(struct store *s)
{
	return &s->cat;
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

/* ---- table objects ---- */

static void close_tablets(struct store_table *t)
{
	for (unsigned i = 0; t->dbs && i < t->rec.ntablets; i++)
		tablet_close(&t->dbs[i]);
}

static void table_ref(struct store_table *t)
{
	atomic_fetch_add(&t->refs, 1);
}

static void table_unref(struct store_table *t)
{
	int was = atomic_fetch_sub(&t->refs, 1);

	assert(was > 0);
	if (was > 1)
		return;
	close_tablets(t);
	free(t->dbs);
	pthread_rwlock_destroy(&t->intent);
	tablerec_release(&t->rec);
	free(t);
}

/* A table object for rec (copied), its tablets opened (created if
 * create). One reference, the caller's. */
static int table_new(struct store *s, const struct tablerec *rec, int create,
		     struct store_table **out, struct errbuf *e)
{
	struct store_table *t = xcalloc(1, sizeof(*t));
	pthread_rwlockattr_t attr;
	int rc = 0;

	tablerec_copy(&t->rec, rec);
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&t->intent, &attr);
	pthread_rwlockattr_destroy(&attr);
	atomic_init(&t->refs, 1);
	t->dbs = xcalloc(rec->ntablets, sizeof(*t->dbs));
	for (unsigned i = 0; i < rec->ntablets && !rc; i++) {
		char *path = store_tablet_path(s->data, rec->id, rec->tablets[i].id);

		if (create) {
			rc = fs_mkdirs(path, 0755);
			if (rc)
				err_set(e, rc, "tablet directory '%s': %s", path, strerror(-rc));
		}
		if (!rc)
			rc = tablet_open(&t->dbs[i], path, create, 0, e);
		free(path);
	}
	if (rc)
		table_unref(t);
	else
		*out = t;
	return rc;
}

/* Under s->lock. */
static struct store_table *find_locked(struct store *s, const char *ks, const char *name)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (!strcmp(s->tables[i]->rec.ks, ks) && !strcmp(s->tables[i]->rec.name, name))
			return s->tables[i];
	return NULL;
}

/* Under s->lock. */
static int claimed_locked(struct store *s, const char *ks, const char *name)
{
	for (struct store_claim *c = s->claims; c; c = c->next)
		for (size_t i = 0; i < c->n; i++)
			if (!strcmp(c->v[i].ks, ks) && !strcmp(c->v[i].name, name))
				return 1;
	return 0;
}

/* Under s->lock. */
static int creating_locked(struct store *s, const char *full)
{
	for (size_t i = 0; i < s->ncreating; i++)
		if (!strcmp(s->creating[i], full))
			return 1;
	return 0;
}

/* Under s->lock, written. */
static void add_locked(struct store *s, struct store_table *t)
{
	s->tables = xrealloc(s->tables, (s->ntables + 1) * sizeof(*s->tables));
	s->tables[s->ntables++] = t;
}

/* Under s->lock, written. */
static void remove_locked(struct store *s, struct store_table *t)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (s->tables[i] == t) {
			s->tables[i] = s->tables[--s->ntables];
			return;
		}
}

/* Takes t out of service: tablets closed, gone set. Caller holds its
 * intent exclusively and has taken it out of the list. */
static void retire(struct store_table *t)
{
	close_tablets(t);
	t->gone = 1;
}

/* ---- open and close ---- */

static int check_record_cb(void *arg, const char *key, const char *text, size_t len)
{
	return record_check(key, text, len, arg);
}

static int load_table_cb(void *arg, const char *key, const char *text, size_t len)
{
	void **a = arg;
	struct store *s = a[0];
	struct errbuf *e = a[1];
	struct tablerec rec;
	struct store_table *t = NULL;
	int rc = tablerec_parse(text, len, &rec, e);

	if (rc)
		return err_prefix(e, rc, "catalog record '%s'", key);
	if (find_locked(s, rec.ks, rec.name))
		rc = err_set(e, -EBADMSG, "catalog record '%s': a second table named '%s.%s'", key,
			     rec.ks, rec.name);
	if (!rc)
		rc = table_new(s, &rec, 0, &t, e);
	tablerec_release(&rec);
	if (!rc)
		add_locked(s, t);
	return rc;
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
			if (!strcmp(s->tables[i]->rec.id, tid))
				owner = s->tables[i];
		tdir = fs_path("%s/%s", root, de->d_name);
		td = opendir(tdir);
		while (td && (te = readdir(td))) {
			int owned = 0;

			if (strncmp(te->d_name, "tablet-", 7) || !id_valid(te->d_name + 7))
				continue; /* .snapshots dirs and anything else stay */
			for (unsigned i = 0; owner && i < owner->rec.ntablets; i++)
				if (!strcmp(owner->rec.tablets[i].id, te->d_name + 7))
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

int store_open(struct store **out, const char *data, struct errbuf *e)
{
	struct store *s = xcalloc(1, sizeof(*s));
	pthread_rwlockattr_t attr;
	char *cat = fs_path("%s/catalog", data), *clock = fs_path("%s/clock", data);
	struct stat st;
	int rc;

	*out = NULL;
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
	/* every record, strictly, before anything acts on any of them */
	rc = catalog_scan_text(&s->cat, "", check_record_cb, e, e);
	if (!rc)
		rc = catalog_scan_text(&s->cat, "table/", load_table_cb, (void *[]){s, e}, e);
	if (rc)
		goto out;
	remove_orphans(s);
	*out = s;
out:
	free(cat);
	free(clock);
	if (rc)
		store_close(s);
	return rc;
}

void store_flush_all(struct store *s)
{
	struct store_table **v;
	size_t n;

	pthread_rwlock_rdlock(&s->lock);
	n = s->ntables;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i] = s->tables[i];
		table_ref(v[i]);
	}
	pthread_rwlock_unlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		pthread_rwlock_rdlock(&v[i]->intent);
		for (unsigned j = 0; !v[i]->gone && j < v[i]->rec.ntablets; j++)
			tablet_flush(&v[i]->dbs[j], NULL);
		pthread_rwlock_unlock(&v[i]->intent);
		table_unref(v[i]);
	}
	free(v);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ntables; i++)
		table_unref(s->tables[i]);
	free(s->tables);
	free(s->creating);
	assert(!s->claims);
	catalog_close(&s->cat);
	if (s->clock.path)
		hlc_release(&s->clock);
	pthread_rwlock_destroy(&s->lock);
	pthread_rwlock_destroy(&s->barrier);
	free(s->data);
	free(s);
}

size_t store_table_count(struct store *s)
{
	size_t n;

	pthread_rwlock_rdlock(&s->lock);
	n = s->ntables;
	pthread_rwlock_unlock(&s->lock);
	return n;
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

int store_keyspace_exists(struct store *s, const char *ks)
{
	char *key = fs_path("ks/%s", ks), *text = NULL;
	int rc = catalog_get_text(&s->cat, key, &text, NULL, NULL);

	free(text);
	free(key);
	return rc == 0;
}

/* ---- create, drop, list ---- */

int store_table_create(struct store *s, const char *full, unsigned ntablets, struct errbuf *e)
{
	struct tablerec rec = {0};
	struct ksrec ksr = {{0}};
	struct store_table *t = NULL;
	struct catalog_batch b = {0};
	char *kskey = NULL, *tkey = NULL, *ttext = NULL, *kstext = NULL;
	int rc;

	rc = store_split_name(full, rec.ks, rec.name, e);
	if (rc)
		return rc;
	if (ntablets < 1 || ntablets > PARTITION_MAX_TABLETS)
		return err_set(e, -EINVAL, "table '%s': --tablets must be 1 to %d", full,
			       PARTITION_MAX_TABLETS);
	pthread_rwlock_wrlock(&s->lock);
	if (find_locked(s, rec.ks, rec.name))
		rc = err_set(e, -EEXIST, "table '%s': already exists", full);
	else if (creating_locked(s, full))
		rc = err_set(e, -EEXIST, "table '%s': already exists (being created)", full);
	else if (claimed_locked(s, rec.ks, rec.name))
		rc = err_set(e, -EBUSY, "table '%s': being restored, try again", full);
	if (!rc) {
		s->creating = xrealloc(s->creating, (s->ncreating + 1) * sizeof(*s->creating));
		snprintf(s->creating[s->ncreating++], sizeof(*s->creating), "%s", full);
	}
	pthread_rwlock_unlock(&s->lock);
	if (rc)
		return rc;

	id_new(rec.id);
	rec.created_ht = hlc_now(&s->clock);
	rec.ntablets = ntablets;
	rec.tablets = xcalloc(ntablets, sizeof(*rec.tablets));
	for (unsigned i = 0; i < ntablets; i++) {
		id_new(rec.tablets[i].id);
		partition_range(ntablets, i, &rec.tablets[i].start, &rec.tablets[i].end);
	}
	rc = table_new(s, &rec, 1, &t, e);
	if (rc)
		goto out;
	strcpy(ksr.name, rec.ks);
	kskey = fs_path("ks/%s", rec.ks);
	tkey = fs_path("table/%s", rec.id);
	kstext = ksrec_format(&ksr);
	ttext = tablerec_format(&rec);
	catalog_batch_init(&b);
	catalog_batch_put_text(&b, kskey, kstext);
	catalog_batch_put_text(&b, tkey, ttext);
	rc = catalog_batch_commit(&s->cat, &b, e);
out:
	pthread_rwlock_wrlock(&s->lock);
	for (size_t i = 0; i < s->ncreating; i++)
		if (!strcmp(s->creating[i], full)) {
			memmove(&s->creating[i], &s->creating[i + 1],
				(s->ncreating - i - 1) * sizeof(*s->creating));
			s->ncreating--;
			break;
		}
	if (!rc)
		add_locked(s, t); /* the list's reference */
	pthread_rwlock_unlock(&s->lock);
	if (rc && t) {
		char *dir = store_table_dir(s->data, rec.id);

		table_unref(t);
		fs_remove_tree(dir);
		free(dir);
	} else if (rc) {
		char *dir = store_table_dir(s->data, rec.id);

		fs_remove_tree(dir);
		free(dir);
	}
	catalog_batch_release(&b);
	tablerec_release(&rec);
	free(kskey);
	free(tkey);
	free(kstext);
	free(ttext);
	return rc;
}

int store_table_drop(struct store *s, const char *full, struct errbuf *e)
{
	char ks[65], name[65], *tkey = NULL;
	struct store_table *t;
	int rc;

	rc = store_split_name(full, ks, name, e);
	if (rc)
		return rc;
	pthread_rwlock_wrlock(&s->lock);
	t = find_locked(s, ks, name);
	if (!t || t->dropping)
		rc = err_set(e, -ENOENT, "table '%s': not found", full);
	else if (claimed_locked(s, ks, name))
		rc = err_set(e, -EBUSY, "table '%s': being restored, try again", full);
	if (!rc) {
		t->dropping = 1;
		table_ref(t);
	}
	pthread_rwlock_unlock(&s->lock);
	if (rc)
		return rc;
	/* waits for the row operations, scan batches and snapshot under way */
	pthread_rwlock_wrlock(&t->intent);
	tkey = fs_path("table/%s", t->rec.id);
	rc = catalog_delete(&s->cat, tkey, e);
	if (rc) {
		pthread_rwlock_unlock(&t->intent);
		pthread_rwlock_wrlock(&s->lock);
		t->dropping = 0;
		pthread_rwlock_unlock(&s->lock);
		table_unref(t);
		free(tkey);
		return rc;
	}
	pthread_rwlock_wrlock(&s->lock);
	remove_locked(s, t);
	pthread_rwlock_unlock(&s->lock);
	retire(t);
	pthread_rwlock_unlock(&t->intent);
	for (unsigned i = 0; i < t->rec.ntablets; i++) {
		char *path = store_tablet_path(s->data, t->rec.id, t->rec.tablets[i].id);

		fs_remove_tree(path);
		free(path);
	}
	table_unref(t); /* the list's */
	table_unref(t); /* ours */
	free(tkey);
	return 0;
}

int store_table_list(struct store *s, json_object **out, struct errbuf *e)
{
	json_object *arr = json_object_new_array();

	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i < s->ntables; i++) {
		const struct tablerec *t = &s->tables[i]->rec;
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

int store_table_find(struct store *s, const char *full, struct tablerec *out, struct errbuf *e)
{
	char ks[65], name[65];
	struct store_table *t;
	int rc = store_split_name(full, ks, name, e);

	if (rc)
		return rc;
	pthread_rwlock_rdlock(&s->lock);
	t = find_locked(s, ks, name);
	if (!t || t->dropping)
		rc = err_set(e, -ENOENT, "table '%s': not found", full);
	else if (out)
		tablerec_copy(out, &t->rec);
	pthread_rwlock_unlock(&s->lock);
	return rc;
}

void store_table_recs(struct store *s, const char *ks, struct tablerec **out, size_t *n)
{
	struct tablerec *v;
	size_t k = 0;

	pthread_rwlock_rdlock(&s->lock);
	v = xcalloc(s->ntables + 1, sizeof(*v));
	for (size_t i = 0; i < s->ntables; i++)
		if (!s->tables[i]->dropping && (!ks || !strcmp(s->tables[i]->rec.ks, ks)))
			tablerec_copy(&v[k++], &s->tables[i]->rec);
	pthread_rwlock_unlock(&s->lock);
	*out = v;
	*n = k;
}

void tablerecs_free(struct tablerec *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		tablerec_release(&v[i]);
	free(v);
}

/* ---- handles ---- */

static int cmp_table_id(const void *a, const void *b)
{
	const struct store_table *x = *(struct store_table *const *)a;
	const struct store_table *y = *(struct store_table *const *)b;

	return strcmp(x->rec.id, y->rec.id);
}

int store_tables_acquire(struct store *s, const char *ks, char *const *names, size_t n,
			 struct store_table ***out, size_t *nout, struct errbuf *e)
{
	struct store_table **v;
	size_t k = 0, kept = 0;
	int rc = 0;

	if (!store_keyspace_exists(s, ks))
		return err_set(e, -ENOENT, "keyspace '%s': not found", ks);
	pthread_rwlock_rdlock(&s->lock);
	v = xcalloc(s->ntables + n + 1, sizeof(*v));
	if (n) {
		for (size_t i = 0; i < n && !rc; i++) {
			struct store_table *t = find_locked(s, ks, names[i]);

			if (!t || t->dropping) {
				rc = err_set(e, -ENOENT, "table '%s.%s': not found", ks, names[i]);
				break;
			}
			for (size_t j = 0; j < k; j++)
				if (v[j] == t)
					t = NULL;
			if (t) {
				table_ref(t);
				v[k++] = t;
			}
		}
	} else {
		for (size_t i = 0; i < s->ntables; i++)
			if (!strcmp(s->tables[i]->rec.ks, ks) && !s->tables[i]->dropping) {
				table_ref(s->tables[i]);
				v[k++] = s->tables[i];
			}
	}
	pthread_rwlock_unlock(&s->lock);
	if (k > 1)
		qsort(v, k, sizeof(*v), cmp_table_id);
	for (size_t i = 0; i < k; i++) {
		pthread_rwlock_rdlock(&v[i]->intent);
		if (!v[i]->gone) {
			v[kept++] = v[i];
			continue;
		}
		/* dropped before we got it */
		if (n && !rc)
			rc = err_set(e, -ENOENT, "table '%s.%s': not found", ks, v[i]->rec.name);
		pthread_rwlock_unlock(&v[i]->intent);
		table_unref(v[i]);
	}
	if (!rc && !kept)
		rc = err_set(e, -EPERM, "keyspace '%s': has no tables to snapshot", ks);
	if (rc) {
		store_tables_release(v, kept);
		return rc;
	}
	*out = v;
	*nout = kept;
	return 0;
}

void store_tables_release(struct store_table **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		pthread_rwlock_unlock(&v[i]->intent);
		table_unref(v[i]);
	}
	free(v);
}

const struct tablerec *store_table_rec(const struct store_table *t)
{
	return &t->rec;
}

struct tablet *store_table_tablet(struct store_table *t, unsigned i)
{
	assert(i < t->rec.ntablets && !t->gone);
	return &t->dbs[i];
}

uint64_t store_cut(struct store *s, struct errbuf *e)
{
	uint64_t ht;

	/* Ticking the clock first keeps the cut's wall time current and its
	 * persisting (an fsync about once a second) out of the barrier. */
	if (!hlc_now(&s->clock)) {
		err_set(e, -EIO, "clock '%s': cannot persist", s->clock.path);
		return 0;
	}
	pthread_rwlock_wrlock(&s->barrier);
	ht = hlc_last(&s->clock);
	pthread_rwlock_unlock(&s->barrier);
	return ht;
}

void store_raise_history(struct store *s, uint64_t (*low_of)(void *arg, const char *ks), void *arg)
{
	struct store_table **v;
	size_t n;

	pthread_rwlock_rdlock(&s->lock);
	n = s->ntables;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		v[i] = s->tables[i];
		table_ref(v[i]);
	}
	pthread_rwlock_unlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		uint64_t low = low_of(arg, v[i]->rec.ks);

		pthread_rwlock_rdlock(&v[i]->intent);
		for (unsigned j = 0; low && !v[i]->gone && j < v[i]->rec.ntablets; j++)
			tablet_set_history_low(&v[i]->dbs[j], low, NULL);
		pthread_rwlock_unlock(&v[i]->intent);
		table_unref(v[i]);
	}
	free(v);
}

/* The history low mark of keyspace ks: the highest of its live tablets'
 * (a read before it is refused by at least one of them). */
int store_history_low(struct store *s, const char *ks, uint64_t *low)
{
	struct store_table **v;
	size_t n, k = 0;

	*low = 0;
	pthread_rwlock_rdlock(&s->lock);
	n = s->ntables;
	v = xcalloc(n + 1, sizeof(*v));
	for (size_t i = 0; i < n; i++)
		if (!s->tables[i]->dropping && !strcmp(s->tables[i]->rec.ks, ks)) {
			v[k] = s->tables[i];
			table_ref(v[k++]);
		}
	pthread_rwlock_unlock(&s->lock);
	for (size_t i = 0; i < k; i++) {
		pthread_rwlock_rdlock(&v[i]->intent);
		for (unsigned j = 0; !v[i]->gone && j < v[i]->rec.ntablets; j++) {
			uint64_t t = atomic_load(&v[i]->dbs[j].history_low);

			if (t > *low)
				*low = t;
		}
		pthread_rwlock_unlock(&v[i]->intent);
		table_unref(v[i]);
	}
	free(v);
	return k ? 0 : -ENOENT;
}

/* ---- rows ---- */

unsigned store_pick_tablet(const struct tablerec *t, const void *key, size_t klen)
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
	return lo;
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

/* Looks up full and takes a reference (no intent yet). writing: refused
 * while a restore claims the name. */
static int table_get(struct store *s, const char *full, int writing, struct store_table **out,
		     struct errbuf *e)
{
	char ks[65], name[65];
	struct store_table *t;
	int rc = store_split_name(full, ks, name, e);

	if (rc)
		return rc;
	pthread_rwlock_rdlock(&s->lock);
	t = find_locked(s, ks, name);
	if (!t || t->dropping)
		rc = err_set(e, -ENOENT, "table '%s': not found", full);
	else if (writing && s->claims && claimed_locked(s, ks, name))
		rc = err_set(e, -EBUSY, "table '%s': being restored, try again", full);
	else
		table_ref(t);
	pthread_rwlock_unlock(&s->lock);
	*out = rc ? NULL : t;
	return rc;
}

/* Takes t's intent shared; -ENOENT (dropped) or -EBUSY (restored) if it
 * left service since it was looked up. */
static int intent_shared(struct store_table *t, const char *full, struct errbuf *e)
{
	pthread_rwlock_rdlock(&t->intent);
	if (!t->gone)
		return 0;
	pthread_rwlock_unlock(&t->intent);
	return err_set(e, -EBUSY, "table '%s': dropped or restored meanwhile, try again", full);
}

static int write_row(struct store *s, const char *full, const void *key, size_t klen,
		     const void *val, size_t vlen, int del, struct errbuf *e)
{
	struct store_table *t;
	struct tablet *tb;
	uint64_t ts;
	int rc = check_kv(full, klen, vlen, e);

	if (!rc)
		rc = table_get(s, full, 1, &t, e);
	if (rc)
		return rc;
	rc = intent_shared(t, full, e);
	if (rc)
		goto out;
	tb = &t->dbs[store_pick_tablet(&t->rec, key, klen)];
	pthread_rwlock_rdlock(&s->barrier);
	ts = hlc_now(&s->clock);
	if (!ts)
		rc = err_set(e, -EIO, "clock '%s': cannot persist", s->clock.path);
	else if (del)
		rc = tablet_del(tb, key, klen, ts, e);
	else
		rc = tablet_put(tb, key, klen, val, vlen, ts, e);
	pthread_rwlock_unlock(&s->barrier);
	pthread_rwlock_unlock(&t->intent);
out:
	table_unref(t);
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

	if (!rc)
		rc = table_get(s, full, 0, &t, e);
	if (rc)
		return rc;
	rc = intent_shared(t, full, e);
	if (!rc) {
		rc = tablet_get(&t->dbs[store_pick_tablet(&t->rec, key, klen)], key, klen,
				at ? at : hlc_last(&s->clock), val, vlen, e);
		pthread_rwlock_unlock(&t->intent);
	}
	table_unref(t);
	return rc;
}

/* One batch of a scan, copied out of RocksDB. */
struct row_batch {
	char *buf;
	size_t len, cap;
	size_t *off; /* per row: klen, vlen, then the bytes, at buf + off[i] */
	size_t n, ncap;
};

static int batch_add(void *arg, const char *key, size_t klen, const char *val, size_t vlen)
{
	struct row_batch *b = arg;
	size_t need = 2 * sizeof(size_t) + klen + vlen;

	if (b->len + need > b->cap) {
		b->cap = (b->len + need) * 2;
		b->buf = xrealloc(b->buf, b->cap);
	}
	if (b->n == b->ncap) {
		b->ncap = b->ncap ? 2 * b->ncap : 64;
		b->off = xrealloc(b->off, b->ncap * sizeof(*b->off));
	}
	b->off[b->n++] = b->len;
	memcpy(b->buf + b->len, &klen, sizeof(klen));
	memcpy(b->buf + b->len + sizeof(klen), &vlen, sizeof(vlen));
	memcpy(b->buf + b->len + 2 * sizeof(size_t), key, klen);
	memcpy(b->buf + b->len + 2 * sizeof(size_t) + klen, val, vlen);
	b->len += need;
	/* 1: the batch is full (more may follow) */
	return b->n >= SCAN_BATCH_ROWS || b->len >= SCAN_BATCH_BYTES;
}

static void batch_row(const struct row_batch *b, size_t i, const char **k, size_t *kl,
		      const char **v, size_t *vl)
{
	const char *p = b->buf + b->off[i];

	memcpy(kl, p, sizeof(*kl));
	memcpy(vl, p + sizeof(*kl), sizeof(*vl));
	*k = p + 2 * sizeof(size_t);
	*v = *k + *kl;
}

int store_scan(struct store *s, const char *full, const void *prefix, size_t plen, uint64_t limit,
	       uint64_t at, row_cb cb, void *arg, struct errbuf *e)
{
	struct store_table *t;
	struct tablet **tabs = NULL;
	struct row_batch b = {0};
	char *last = NULL;
	size_t lastlen = 0;
	uint64_t sent = 0;
	int rc = table_get(s, full, 0, &t, e), more = 1;

	if (rc)
		return rc;
	if (!at)
		at = hlc_last(&s->clock); /* one time for every batch */
	tabs = xcalloc(t->rec.ntablets, sizeof(*tabs));
	for (unsigned i = 0; i < t->rec.ntablets; i++)
		tabs[i] = &t->dbs[i];
	while (more && !rc) {
		b.len = b.n = 0;
		rc = intent_shared(t, full, e);
		if (rc)
			break;
		rc = tablets_scan_from(tabs, t->rec.ntablets, prefix, plen, last, lastlen,
				       limit ? limit - sent : 0, at, batch_add, &b, e);
		pthread_rwlock_unlock(&t->intent);
		more = rc == 1;
		if (rc < 0)
			break;
		rc = 0;
		/* sent with no lock held: a slow reader blocks nobody */
		for (size_t i = 0; i < b.n && !rc; i++) {
			const char *k, *v;
			size_t kl, vl;

			batch_row(&b, i, &k, &kl, &v, &vl);
			rc = cb(arg, k, kl, v, vl);
		}
		sent += b.n;
		if (b.n) {
			const char *k, *v;
			size_t vl;

			batch_row(&b, b.n - 1, &k, &lastlen, &v, &vl);
			free(last);
			last = xmalloc(lastlen);
			memcpy(last, k, lastlen);
		}
		if (limit && sent >= limit)
			more = 0;
	}
	free(b.buf);
	free(b.off);
	free(last);
	free(tabs);
	table_unref(t);
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

/* -EBUSY if a restore has claimed t's name since the load began. */
static int still_writable(struct store *s, struct store_table *t, const char *full,
			  struct errbuf *e)
{
	int busy;

	pthread_rwlock_rdlock(&s->lock);
	busy = s->claims && claimed_locked(s, t->rec.ks, t->rec.name);
	pthread_rwlock_unlock(&s->lock);
	return busy ? err_set(e, -EBUSY, "table '%s': being restored, try again", full) : 0;
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
	rc = table_get(s, full, 1, &t, e);
	if (rc)
		return rc;
	batches = xcalloc(t->rec.ntablets, sizeof(*batches));
	for (unsigned i = 0; i < t->rec.ntablets; i++)
		batches[i] = rocksdb_writebatch_create();
	val = xmalloc(value_size + 1);
	while (done < rows && !rc) {
		uint64_t n = rows - done < LOAD_BATCH ? rows - done : LOAD_BATCH;
		uint64_t ts;

		if (done)
			rc = still_writable(s, t, full, e);
		if (!rc)
			rc = intent_shared(t, full, e);
		if (rc)
			break;
		pthread_rwlock_rdlock(&s->barrier);
		ts = hlc_now(&s->clock);
		if (!ts)
			rc = err_set(e, -EIO, "clock '%s': cannot persist", s->clock.path);
		for (uint64_t i = done; i < done + n && !rc; i++) {
			char key[32];
			int kl = snprintf(key, sizeof(key), "key%010" PRIu64, i);
			unsigned k = store_pick_tablet(&t->rec, key, (size_t)kl);

			store_load_value(seed, i, val, value_size);
			tablet_batch_put(&t->dbs[k], batches[k], key, (size_t)kl, val, value_size,
					 ts);
		}
		for (unsigned i = 0; i < t->rec.ntablets && !rc; i++) {
			if (rocksdb_writebatch_count(batches[i]))
				rc = tablet_write(&t->dbs[i], batches[i], e);
			rocksdb_writebatch_clear(batches[i]);
		}
		pthread_rwlock_unlock(&s->barrier);
		pthread_rwlock_unlock(&t->intent);
		done += n;
		if (!rc && progress)
			rc = progress(arg, done, rows); /* no lock held */
	}
	for (unsigned i = 0; i < t->rec.ntablets; i++)
		rocksdb_writebatch_destroy(batches[i]);
	free(batches);
	free(val);
	table_unref(t);
	return rc;
}

/* ---- online restore ---- */

int store_claim_begin(struct store *s, store_plan_fn plan, void *arg, struct store_claim **out,
		      struct errbuf *e)
{
	struct store_claim *c = xcalloc(1, sizeof(*c));
	struct tablerec *live;
	size_t n = 0;
	int rc;

	c->s = s;
	pthread_rwlock_wrlock(&s->lock);
	live = xcalloc(s->ntables + 1, sizeof(*live));
	for (size_t i = 0; i < s->ntables; i++)
		if (!s->tables[i]->dropping)
			live[n++] = s->tables[i]->rec; /* shallow: valid under the lock */
	rc = plan(arg, live, n, c, e);
	if (!rc) {
		c->next = s->claims;
		s->claims = c;
	}
	pthread_rwlock_unlock(&s->lock);
	free(live);
	if (rc) {
		free(c->v);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int store_claim_name(struct store_claim *c, const char *ks, const char *name, const char *expect_id,
		     struct errbuf *e)
{
	struct store *s = c->s; /* the plan runs under s->lock, written */
	struct store_table *t = find_locked(s, ks, name);
	char full[2 * NAME_LEN + 2];

	snprintf(full, sizeof(full), "%s.%s", ks, name);
	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->v[i].ks, ks) && !strcmp(c->v[i].name, name))
			return 0; /* claimed already by this plan */
	if (claimed_locked(s, ks, name))
		return err_set(e, -EBUSY, "table '%s': being restored, try again", full);
	if (creating_locked(s, full))
		return err_set(e, -EBUSY, "table '%s': being created, try again", full);
	if (t && t->dropping)
		return err_set(e, -EBUSY, "table '%s': being dropped, try again", full);
	c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	memset(&c->v[c->n], 0, sizeof(*c->v));
	snprintf(c->v[c->n].ks, sizeof(c->v[c->n].ks), "%s", ks);
	snprintf(c->v[c->n].name, sizeof(c->v[c->n].name), "%s", name);
	if (expect_id)
		snprintf(c->v[c->n].expect, sizeof(c->v[c->n].expect), "%s", expect_id);
	c->n++;
	return 0;
}

static struct store_table *find_id_locked(struct store *s, const char *id)
{
	for (size_t i = 0; i < s->ntables; i++)
		if (!strcmp(s->tables[i]->rec.id, id))
			return s->tables[i];
	return NULL;
}

int store_claim_commit(struct store *s, struct store_claim *c, const struct tablerec *installs,
		       size_t ninst, const char (*drops)[ID_LEN + 1], size_t ndrops,
		       int (*commit)(void *arg, struct errbuf *e), void *arg, struct errbuf *e)
{
	struct store_table **fresh = xcalloc(ninst + 1, sizeof(*fresh));
	struct store_table **old = xcalloc(ninst + ndrops + 1, sizeof(*old));
	size_t nold = 0, nfresh = 0;
	int rc = 0;

	/* the new tablets open first, with no lock held: nobody else sees them */
	for (size_t i = 0; i < ninst && !rc; i++) {
		rc = table_new(s, &installs[i], 0, &fresh[i], e);
		if (!rc)
			nfresh++;
	}
	if (rc)
		goto out;
	pthread_rwlock_rdlock(&s->lock);
	/* the plan, checked again: every claimed name as expected */
	for (size_t i = 0; i < c->n && !rc; i++) {
		struct store_table *t = find_locked(s, c->v[i].ks, c->v[i].name);

		if (t ? strcmp(t->rec.id, c->v[i].expect) : c->v[i].expect[0] != '\0')
			rc = err_set(e, -EBUSY,
				     "table '%s.%s': changed while being restored, try again",
				     c->v[i].ks, c->v[i].name);
	}
	for (size_t i = 0; i < ninst + ndrops && !rc; i++) {
		struct store_table *t =
		    find_id_locked(s, i < ninst ? installs[i].id : drops[i - ninst]);

		if (!t)
			continue; /* new, or gone already */
		for (size_t j = 0; j < nold && t; j++)
			if (old[j] == t)
				t = NULL;
		if (t) {
			table_ref(t);
			old[nold++] = t;
		}
	}
	pthread_rwlock_unlock(&s->lock);
	if (rc)
		goto out;
	if (nold > 1)
		qsort(old, nold, sizeof(*old), cmp_table_id);
	for (size_t i = 0; i < nold; i++)
		pthread_rwlock_wrlock(&old[i]->intent);
	rc = commit(arg, e);
	if (!rc) {
		pthread_rwlock_wrlock(&s->lock);
		for (size_t i = 0; i < nold; i++)
			remove_locked(s, old[i]);
		for (size_t i = 0; i < nfresh; i++)
			add_locked(s, fresh[i]); /* the list takes our reference */
		pthread_rwlock_unlock(&s->lock);
		nfresh = 0;
	}
	for (size_t i = 0; i < nold; i++) {
		if (!rc)
			retire(old[i]);
		pthread_rwlock_unlock(&old[i]->intent);
		if (!rc)
			table_unref(old[i]); /* the list's */
		table_unref(old[i]);
	}
out:
	for (size_t i = 0; i < nfresh; i++)
		table_unref(fresh[i]);
	free(fresh);
	free(old);
	return rc;
}

void store_claim_end(struct store *s, struct store_claim *c)
{
	if (!c)
		return;
	pthread_rwlock_wrlock(&s->lock);
	for (struct store_claim **pp = &s->claims; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	pthread_rwlock_unlock(&s->lock);
	free(c->v);
	free(c);
}
