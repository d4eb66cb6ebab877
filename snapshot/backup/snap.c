/*
 * snap: consistent snapshots (see snap.h for the states and the crash
 * rules).
 *
 * Locks: ss->lock (a mutex) protects the record list and reader counts; it
 * is never held across I/O. ss->create_lock serialises creates and deletes
 * (two creates at once are correct, one after the other). A create holds
 * store->lock shared for its whole length, so no table it cuts can be
 * dropped under it, and store->barrier exclusively only while it reads the
 * clock: every write stamped at or before the cut has been applied by then,
 * and every later write gets a later time. Versions above the cut that land
 * in a checkpoint are hidden by reading it at the cut time. The tablets of
 * a create are checkpointed (and their new files hashed) by up to
 * CKPT_WORKERS threads at once, all joined before the create goes on.
 */
#include "snap.h"

#include "fsutil.h"
#include "hashcache.h"
#include "jtime.h"
#include "manifest.h"
#include "partition.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

enum snap_state { ST_CREATING, ST_COMPLETE, ST_FAILED, ST_DELETING };
static const char *const state_names[] = {"CREATING", "COMPLETE", "FAILED", "DELETING"};

struct snap_rec {
	char id[ID_LEN + 1];
	enum snap_state state;
	char ks[65];
	uint64_t ht;
	int64_t wall_us;
	uint64_t bytes;
	json_object *tables;	      /* [{id, name, created_ht, tablets: [{id, start, end}]}] */
	char schedule_id[ID_LEN + 1]; /* "" unless taken by a schedule */
	int readers;		      /* protected by ss->lock */
};

struct snapshots {
	struct store *store;
	pthread_mutex_t lock;
	pthread_mutex_t create_lock;
	size_t n;		/* protected by lock */
	struct snap_rec **recs; /* protected by lock */
	struct hashcache *hc;
	void (*listener)(void *);
	void *listener_arg;
};

void snap_crash_point(const char *point)
{
	const char *at = getenv("SNAPFS_CRASH_AT");

	if (at && !strcmp(at, point)) {
		fprintf(stderr, "snapfs: crash injected at '%s'\n", point);
		abort();
	}
}

char *snap_checkpoint_dir(const char *data, const char *table_id, const char *tablet_id,
			  const char *snap_id)
{
	return fs_path("%s/tablets/table-%s/tablet-%s.snapshots/%s", data, table_id, tablet_id,
		       snap_id);
}

static char *meta_dir(struct snapshots *ss, const char *id)
{
	return fs_path("%s/snapshots/%s", ss->store->data, id);
}

static json_object *rec_to_json(const struct snap_rec *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(o, "state", json_object_new_string(state_names[r->state]));
	json_object_object_add(o, "keyspace", json_object_new_string(r->ks));
	json_object_object_add(o, "hybrid_time", json_object_new_uint64(r->ht));
	json_object_object_add(o, "wall_us", json_object_new_int64(r->wall_us));
	json_object_object_add(o, "bytes", json_object_new_uint64(r->bytes));
	json_object_object_add(o, "tables", json_object_get(r->tables));
	if (r->schedule_id[0])
		json_object_object_add(o, "schedule_id", json_object_new_string(r->schedule_id));
	return o;
}

static int rec_save(struct snapshots *ss, const struct snap_rec *r, struct errbuf *e)
{
	char *key = fs_path("snap/%s", r->id);
	json_object *o = rec_to_json(r);
	int rc = catalog_put(&ss->store->cat, key, o, e);

	json_object_put(o);
	free(key);
	return rc;
}

static void rec_free(struct snap_rec *r)
{
	if (!r)
		return;
	json_object_put(r->tables);
	free(r);
}

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static int load_rec_cb(void *arg, const char *key, json_object *o)
{
	struct snapshots *ss = arg;
	struct snap_rec *r = xcalloc(1, sizeof(*r));
	json_object *v;
	const char *st = jstr(o, "state");

	if (!id_valid(jstr(o, "id")) || !name_valid(jstr(o, "keyspace"))) {
		fprintf(stderr, "snapfs: ignoring malformed catalog record '%s'\n", key);
		free(r);
		return 0;
	}
	strcpy(r->id, jstr(o, "id"));
	strcpy(r->ks, jstr(o, "keyspace"));
	if (id_valid(jstr(o, "schedule_id")))
		strcpy(r->schedule_id, jstr(o, "schedule_id"));
	r->state = ST_FAILED;
	for (int i = 0; i < 4; i++)
		if (!strcmp(st, state_names[i]))
			r->state = (enum snap_state)i;
	if (json_object_object_get_ex(o, "hybrid_time", &v))
		r->ht = json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "wall_us", &v))
		r->wall_us = json_object_get_int64(v);
	if (json_object_object_get_ex(o, "bytes", &v))
		r->bytes = json_object_get_uint64(v);
	if (json_object_object_get_ex(o, "tables", &v) && json_object_is_type(v, json_type_array))
		r->tables = json_object_get(v);
	else
		r->tables = json_object_new_array();
	ss->recs = xrealloc(ss->recs, (ss->n + 1) * sizeof(*ss->recs));
	ss->recs[ss->n++] = r;
	return 0;
}

/* The tablets array of the i-th table of r. */
static json_object *tablets_of(const struct snap_rec *r, size_t i, json_object **table)
{
	json_object *tbs = NULL;

	*table = json_object_array_get_idx(r->tables, i);
	if (!json_object_object_get_ex(*table, "tablets", &tbs) ||
	    !json_object_is_type(tbs, json_type_array))
		return NULL;
	return tbs;
}

/* Removes every directory of r: checkpoints (with our .tmp and RocksDB's
 * own staging dir for it, .tmp.tmp, which a crash during a checkpoint in
 * another thread leaves behind) and metadata. */
static int remove_dirs(struct snapshots *ss, const struct snap_rec *r)
{
	char *m = meta_dir(ss, r->id);
	int rc = 0;

	for (size_t i = 0; i < json_object_array_length(r->tables); i++) {
		json_object *t, *tbs = tablets_of(r, i, &t);

		for (size_t j = 0; tbs && j < json_object_array_length(tbs); j++) {
			json_object *tb = json_object_array_get_idx(tbs, j);
			char *dir = snap_checkpoint_dir(ss->store->data, jstr(t, "id"),
							jstr(tb, "id"), r->id);
			char *tmp = fs_path("%s.tmp", dir), *tmp2 = fs_path("%s.tmp.tmp", dir);
			int r1 = fs_remove_tree(dir), r2 = fs_remove_tree(tmp);
			int r3 = fs_remove_tree(tmp2);

			if (!rc)
				rc = r1 ? r1 : r2 ? r2 : r3;
			free(tmp2);
			free(tmp);
			free(dir);
		}
	}
	if (!rc)
		rc = fs_remove_tree(m);
	free(m);
	return rc;
}

static void notify(struct snapshots *ss)
{
	if (ss->listener)
		ss->listener(ss->listener_arg);
}

static void repair(struct snapshots *ss)
{
	for (size_t i = 0; i < ss->n;) {
		struct snap_rec *r = ss->recs[i];
		struct errbuf e;

		if (r->state == ST_CREATING) {
			fprintf(stderr,
				"snapfs: snapshot '%s' was being created at a crash: "
				"marking it FAILED and removing its files\n",
				r->id);
			remove_dirs(ss, r);
			r->state = ST_FAILED;
			if (rec_save(ss, r, &e))
				fprintf(stderr, "snapfs: error: %s\n", e.msg);
		} else if (r->state == ST_DELETING) {
			char *key = fs_path("snap/%s", r->id);

			fprintf(stderr, "snapfs: finishing the deletion of snapshot '%s'\n", r->id);
			if (!remove_dirs(ss, r) && !catalog_delete(&ss->store->cat, key, &e)) {
				ss->recs[i] = ss->recs[--ss->n];
				rec_free(r);
				free(key);
				continue;
			}
			free(key);
		}
		i++;
	}
}

static int cmp_rec(const void *a, const void *b)
{
	const struct snap_rec *x = *(struct snap_rec *const *)a, *y = *(struct snap_rec *const *)b;

	if (x->ht != y->ht)
		return x->ht < y->ht ? -1 : 1;
	return strcmp(x->id, y->id);
}

int snapshots_open(struct snapshots **out, struct store *s, struct errbuf *e)
{
	struct snapshots *ss = xcalloc(1, sizeof(*ss));
	char *hcpath = fs_path("%s/snapshots/HASHCACHE", s->data);
	int rc;

	ss->store = s;
	pthread_mutex_init(&ss->lock, NULL);
	pthread_mutex_init(&ss->create_lock, NULL);
	rc = catalog_scan(&s->cat, "snap/", load_rec_cb, ss, e);
	if (!rc)
		repair(ss);
	if (!rc) {
		rc = hashcache_open(&ss->hc, hcpath, s->data, e);
	}
	free(hcpath);
	if (rc) {
		snapshots_close(ss);
		return rc;
	}
	if (ss->n) /* recs is NULL without records: qsort's base must not be */
		qsort(ss->recs, ss->n, sizeof(*ss->recs), cmp_rec);
	*out = ss;
	return 0;
}

void snapshots_close(struct snapshots *ss)
{
	if (!ss)
		return;
	if (ss->hc)
		hashcache_free(ss->hc);
	for (size_t i = 0; i < ss->n; i++)
		rec_free(ss->recs[i]);
	free(ss->recs);
	pthread_mutex_destroy(&ss->lock);
	pthread_mutex_destroy(&ss->create_lock);
	free(ss);
}

size_t snapshots_count(struct snapshots *ss)
{
	size_t n;

	if (!ss)
		return 0;
	pthread_mutex_lock(&ss->lock);
	n = ss->n;
	pthread_mutex_unlock(&ss->lock);
	return n;
}

void snapshots_set_listener(struct snapshots *ss, void (*fn)(void *), void *arg)
{
	ss->listener = fn;
	ss->listener_arg = arg;
}

/* ---- hashing ahead ---- */

/* Hashes the live tablets' finished SSTs into the hash cache (keyed by
 * inode, so a later checkpoint's hard link finds the digest), so that a
 * snapshot after a compaction does not wait for hashing its output. Files
 * younger than 2 s may still be written and are left for the next call. */
void snapshots_prehash(struct snapshots *ss)
{
	struct store *s = ss->store;
	char **paths = NULL, **ids = NULL, hex[65];
	size_t n = 0, cap = 0;
	time_t now = time(NULL);

	pthread_rwlock_rdlock(&s->lock);
	for (size_t i = 0; i < s->ntables; i++)
		for (unsigned j = 0; j < s->tables[i]->ntablets; j++) {
			struct store_tablet *tb = &s->tables[i]->tablets[j];
			DIR *d = opendir(tb->db.path);
			struct dirent *de;

			while (d && (de = readdir(d))) {
				size_t len = strlen(de->d_name);
				struct stat st;
				char *p;

				if (len < 5 || strcmp(de->d_name + len - 4, ".sst"))
					continue;
				p = fs_path("%s/%s", tb->db.path, de->d_name);
				if (lstat(p, &st) || now - st.st_mtime < 2) {
					free(p);
					continue;
				}
				if (n == cap) {
					cap = cap ? 2 * cap : 64;
					paths = xrealloc(paths, cap * sizeof(*paths));
					ids = xrealloc(ids, cap * sizeof(*ids));
				}
				paths[n] = p;
				ids[n++] = xstrdup(tb->id);
			}
			if (d)
				closedir(d);
		}
	pthread_rwlock_unlock(&s->lock);
	for (size_t i = 0; i < n; i++) {
		hashcache_get(ss->hc, paths[i], hex); /* gone meanwhile: no matter */
		free(paths[i]);
		free(ids[i]);
	}
	free(paths);
	free(ids);
}

/* ---- create ---- */

/* Lists the files of a checkpoint dir into t (names sorted). */
static int list_files(const char *dir, struct manifest_tablet *t, uint64_t *bytes, struct errbuf *e)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort), rc = 0;

	if (n < 0)
		return err_set(e, -errno, "checkpoint '%s': %s", dir, strerror(errno));
	t->files = xcalloc((size_t)n, sizeof(*t->files));
	for (int i = 0; i < n; i++) {
		struct stat st;
		char *p = fs_path("%s/%s", dir, names[i]->d_name);

		if (!rc && lstat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			t->files[t->nfiles].name = xstrdup(names[i]->d_name);
			t->files[t->nfiles].size = (uint64_t)st.st_size;
			t->nfiles++;
			*bytes += (uint64_t)st.st_size;
		}
		free(p);
		free(names[i]);
	}
	free(names);
	return rc;
}

static int checkpoint_tablet(struct snapshots *ss, struct store_table *t, struct store_tablet *tb,
			     const char *sid, struct errbuf *e)
{
	char *dir = snap_checkpoint_dir(ss->store->data, t->id, tb->id, sid);
	char *tmp = fs_path("%s.tmp", dir);
	char *parent =
	    fs_path("%s/tablets/table-%s/tablet-%s.snapshots", ss->store->data, t->id, tb->id);
	int rc = fs_mkdirs(parent, 0755);

	if (rc) {
		err_set(e, rc, "snapshot directory '%s': %s", parent, strerror(-rc));
		goto out;
	}
	fs_remove_tree(tmp);
	/* No tablet_flush() first: the checkpoint flushes the memtable itself
	 * (tablet_checkpoint), and a flush of ours before it only made a second,
	 * tiny L0 file whenever a write landed in between. */
	rc = tablet_checkpoint(&tb->db, tmp, e);
	if (!rc)
		rc = fs_fsync_dir(tmp);
	if (!rc) {
		snap_crash_point("create-checkpoint-tmp");
		rc = fs_rename_durable(tmp, dir);
		if (rc)
			err_set(e, rc, "checkpoint '%s': %s", dir, strerror(-rc));
	}
	if (rc)
		fs_remove_tree(tmp);
out:
	free(parent);
	free(tmp);
	free(dir);
	return rc;
}

/* Hashes the files of a fresh checkpoint into the hash cache, so that
 * write_metadata() finds them there. Best effort: a file that fails here is
 * hashed again, and its failure reported, by write_metadata(). */
static void warm_hashes(struct snapshots *ss, struct store_table *t, struct store_tablet *tb,
			const char *sid)
{
	char *dir = snap_checkpoint_dir(ss->store->data, t->id, tb->id, sid);
	struct manifest_tablet mt = {0};
	uint64_t bytes = 0;
	char hex[65];

	if (!list_files(dir, &mt, &bytes, NULL)) {
		for (size_t i = 0; i < mt.nfiles; i++) {
			char *p = fs_path("%s/%s", dir, mt.files[i].name);

			hashcache_get(ss->hc, p, hex);
			free(p);
			free(mt.files[i].name);
		}
	}
	free(mt.files);
	free(dir);
}

/* The checkpoints of one create: a job per tablet (checkpoint, then hash
 * its files), taken by up to CKPT_WORKERS threads, the creating thread
 * among them. The flushes queue in RocksDB's flush pool anyway; what runs
 * side by side is the rest: links, copies, fsyncs and the hashing of new
 * SSTs, the part that grows with the bytes written since the last snapshot.
 * After a failure no new job starts; the first error is kept. */
#define CKPT_WORKERS 4

struct ckpt_job {
	struct store_table *t;
	struct store_tablet *tb;
};

struct ckpt_run {
	struct snapshots *ss;
	const char *sid;
	struct ckpt_job *jobs;
	size_t njobs;
	pthread_mutex_t lock;
	size_t next;	 /* protected by lock */
	int rc;		 /* first failure, protected by lock */
	struct errbuf e; /* its message, protected by lock */
};

static void *ckpt_worker(void *arg)
{
	struct ckpt_run *cr = arg;

	for (;;) {
		struct errbuf e = {{0}};
		size_t i;
		int rc;

		pthread_mutex_lock(&cr->lock);
		i = cr->rc ? cr->njobs : cr->next++;
		pthread_mutex_unlock(&cr->lock);
		if (i >= cr->njobs)
			return NULL;
		rc = checkpoint_tablet(cr->ss, cr->jobs[i].t, cr->jobs[i].tb, cr->sid, &e);
		if (!rc) {
			warm_hashes(cr->ss, cr->jobs[i].t, cr->jobs[i].tb, cr->sid);
			continue;
		}
		pthread_mutex_lock(&cr->lock);
		if (!cr->rc) {
			cr->rc = rc;
			cr->e = e;
		}
		pthread_mutex_unlock(&cr->lock);
	}
}

static int checkpoint_all(struct snapshots *ss, struct store_table **tabs, size_t ntabs,
			  const char *sid, struct errbuf *e)
{
	struct ckpt_run cr = {.ss = ss, .sid = sid};
	pthread_t th[CKPT_WORKERS - 1];
	size_t nth = 0, n = 0;

	for (size_t i = 0; i < ntabs; i++)
		n += tabs[i]->ntablets;
	cr.jobs = xcalloc(n ? n : 1, sizeof(*cr.jobs));
	for (size_t i = 0; i < ntabs; i++)
		for (unsigned j = 0; j < tabs[i]->ntablets; j++) {
			cr.jobs[cr.njobs].t = tabs[i];
			cr.jobs[cr.njobs++].tb = &tabs[i]->tablets[j];
		}
	pthread_mutex_init(&cr.lock, NULL);
	/* a thread that cannot be started leaves its share to the others */
	while (nth < CKPT_WORKERS - 1 && nth + 1 < cr.njobs &&
	       !pthread_create(&th[nth], NULL, ckpt_worker, &cr))
		nth++;
	ckpt_worker(&cr);
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&cr.lock);
	free(cr.jobs);
	if (cr.rc && e)
		*e = cr.e;
	return cr.rc;
}

/* SNAPSHOT.json and SHA256SUMS of a snapshot whose checkpoints exist. */
static int write_metadata(struct snapshots *ss, struct snap_rec *r, struct errbuf *e)
{
	struct manifest m = {0};
	struct sums_entry *ents = NULL;
	size_t nents = 0, cap = 0;
	char *mdir = meta_dir(ss, r->id), *json = NULL, *jpath = NULL;
	uint64_t bytes = 0;
	int rc;

	m.format_version = MANIFEST_FORMAT_VERSION;
	strcpy(m.id, r->id);
	m.hybrid_time = r->ht;
	m.wall_us = r->wall_us;
	m.keyspace = xstrdup(r->ks);
	m.ntables = json_object_array_length(r->tables);
	m.tables = xcalloc(m.ntables, sizeof(*m.tables));
	for (size_t i = 0; i < m.ntables; i++) {
		json_object *t = json_object_array_get_idx(r->tables, i), *tbs, *v;
		struct manifest_table *mt = &m.tables[i];

		strcpy(mt->id, jstr(t, "id"));
		mt->name = xstrdup(jstr(t, "name"));
		json_object_object_get_ex(t, "tablets", &tbs);
		mt->ntablets = json_object_array_length(tbs);
		mt->tablets = xcalloc(mt->ntablets, sizeof(*mt->tablets));
		for (size_t j = 0; j < mt->ntablets; j++) {
			json_object *tb = json_object_array_get_idx(tbs, j);
			struct manifest_tablet *mtb = &mt->tablets[j];
			char *dir, *rel;

			strcpy(mtb->id, jstr(tb, "id"));
			json_object_object_get_ex(tb, "start", &v);
			mtb->start = (uint32_t)json_object_get_int64(v);
			json_object_object_get_ex(tb, "end", &v);
			mtb->end = (uint32_t)json_object_get_int64(v);
			dir = snap_checkpoint_dir(ss->store->data, mt->id, mtb->id, r->id);
			rc = list_files(dir, mtb, &bytes, e);
			rel = manifest_tablet_dir(&m, mt, mtb);
			for (size_t k = 0; !rc && k < mtb->nfiles; k++) {
				char *p = fs_path("%s/%s", dir, mtb->files[k].name);

				if (nents == cap) {
					cap = cap ? cap * 2 : 64;
					ents = xrealloc(ents, cap * sizeof(*ents));
				}
				ents[nents].path = fs_path("%s/%s", rel, mtb->files[k].name);
				rc = hashcache_get(ss->hc, p, ents[nents].hex);
				nents++;
				if (rc)
					err_set(e, rc, "checksum of '%s': %s", p, strerror(-rc));
				free(p);
			}
			free(rel);
			free(dir);
			if (rc)
				goto out;
		}
	}
	rc = manifest_to_json(&m, &json);
	if (rc) {
		err_set(e, rc, "SNAPSHOT.json of '%s': cannot serialise", r->id);
		goto out;
	}
	rc = fs_mkdirs(mdir, 0755);
	jpath = fs_path("%s/SNAPSHOT.json", mdir);
	if (!rc)
		rc = fs_write_atomic(jpath, json, strlen(json), 0644);
	if (rc) {
		err_set(e, rc, "metadata '%s': %s", jpath, strerror(-rc));
		goto out;
	}
	bytes += strlen(json);
	if (nents == cap)
		ents = xrealloc(ents, (cap + 1) * sizeof(*ents));
	ents[nents].path = xstrdup("SNAPSHOT.json");
	rc = sums_hash_file(jpath, ents[nents].hex);
	nents++;
	if (!rc)
		rc = sums_write(mdir, ents, nents);
	if (rc) {
		err_set(e, rc, "metadata '%s/SHA256SUMS': %s", mdir, strerror(-rc));
		goto out;
	}
	{
		struct stat st;
		char *sp = fs_path("%s/SHA256SUMS", mdir);

		if (stat(sp, &st) == 0)
			bytes += (uint64_t)st.st_size;
		free(sp);
	}
	r->bytes = bytes;
	hashcache_save(ss->hc);
out:
	for (size_t i = 0; i < nents; i++)
		free(ents[i].path);
	free(ents);
	manifest_release(&m);
	free(json);
	free(jpath);
	free(mdir);
	return rc;
}

static json_object *tables_json(struct store_table **tabs, size_t n)
{
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_new_object(), *tbs = json_object_new_array();

		json_object_object_add(t, "id", json_object_new_string(tabs[i]->id));
		json_object_object_add(t, "name", json_object_new_string(tabs[i]->name));
		json_object_object_add(t, "created_ht",
				       json_object_new_uint64(tabs[i]->created_ht));
		for (unsigned j = 0; j < tabs[i]->ntablets; j++) {
			json_object *tb = json_object_new_object();

			json_object_object_add(tb, "id",
					       json_object_new_string(tabs[i]->tablets[j].id));
			json_object_object_add(tb, "start",
					       json_object_new_int64(tabs[i]->tablets[j].start));
			json_object_object_add(tb, "end",
					       json_object_new_int64(tabs[i]->tablets[j].end));
			json_object_array_add(tbs, tb);
		}
		json_object_object_add(t, "tablets", tbs);
		json_object_array_add(arr, t);
	}
	return arr;
}

/* Picks the tables to cut (caller holds store->lock). */
static int pick_tables(struct snapshots *ss, const char *ks, char *const *names, size_t n,
		       struct store_table ***out, size_t *nout, struct errbuf *e)
{
	struct store *s = ss->store;
	struct store_table **tabs = xcalloc(s->ntables + n + 1, sizeof(*tabs));
	size_t k = 0;

	if (!store_keyspace_exists(s, ks)) {
		free(tabs);
		return err_set(e, -ENOENT, "keyspace '%s': not found", ks);
	}
	if (n) {
		for (size_t i = 0; i < n; i++) {
			struct store_table *t = store_find_locked(s, ks, names[i]);

			if (!t) {
				free(tabs);
				return err_set(e, -ENOENT, "table '%s.%s': not found", ks,
					       names[i]);
			}
			for (size_t j = 0; j < k; j++)
				if (tabs[j] == t)
					t = NULL;
			if (t)
				tabs[k++] = t;
		}
	} else {
		for (size_t i = 0; i < s->ntables; i++)
			if (!strcmp(s->tables[i]->ks, ks))
				tabs[k++] = s->tables[i];
	}
	if (!k) {
		free(tabs);
		return err_set(e, -EPERM, "keyspace '%s': has no tables to snapshot", ks);
	}
	*out = tabs;
	*nout = k;
	return 0;
}

static void rec_add(struct snapshots *ss, struct snap_rec *r)
{
	pthread_mutex_lock(&ss->lock);
	ss->recs = xrealloc(ss->recs, (ss->n + 1) * sizeof(*ss->recs));
	ss->recs[ss->n++] = r;
	pthread_mutex_unlock(&ss->lock);
}

static void set_state(struct snapshots *ss, struct snap_rec *r, enum snap_state st)
{
	pthread_mutex_lock(&ss->lock);
	r->state = st;
	pthread_mutex_unlock(&ss->lock);
}

/* Refuses a snapshot that cannot fit: its flushes write the memtables out
 * and its metadata needs a little more. Debian's librocksdb asserts (and
 * so aborts the daemon) on some paths after a write fails for space, so a
 * full disk is better found here than inside RocksDB. */
#define SNAP_SPACE_MARGIN (16ull << 20)

static int check_space(struct snapshots *ss, struct store_table **tabs, size_t n, struct errbuf *e)
{
	unsigned long long need = SNAP_SPACE_MARGIN, avail;
	struct statvfs sv;

	for (size_t i = 0; i < n; i++)
		for (unsigned j = 0; j < tabs[i]->ntablets; j++) {
			uint64_t v = 0;
			struct tablet *t = &tabs[i]->tablets[j].db;

			if (!rocksdb_property_int_cf(t->db, t->cf,
						     "rocksdb.cur-size-all-mem-tables", &v))
				need += v;
		}
	if (statvfs(ss->store->data, &sv) != 0)
		return 0; /* cannot tell: let the flush find out */
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	if (avail >= need)
		return 0;
	return err_set(e, -ENOSPC,
		       "data directory '%s': %llu MiB free, a snapshot needs about %llu MiB "
		       "(memtables to flush and metadata): no space left",
		       ss->store->data, avail >> 20, (need + (1 << 20) - 1) >> 20);
}

int snap_create(struct snapshots *ss, const char *ks, char *const *names, size_t n,
		const char *schedule_id, char id[ID_LEN + 1], struct errbuf *e)
{
	struct store *s = ss->store;
	struct store_table **tabs = NULL;
	struct snap_rec *r = NULL;
	size_t ntabs = 0;
	int rc;

	if (!name_valid(ks))
		return err_set(e, -EINVAL, "keyspace '%s': not a valid name", ks);
	pthread_mutex_lock(&ss->create_lock);
	pthread_rwlock_rdlock(&s->lock);
	rc = pick_tables(ss, ks, names, n, &tabs, &ntabs, e);
	if (!rc)
		rc = check_space(ss, tabs, ntabs, e);
	if (rc)
		goto out;
	r = xcalloc(1, sizeof(*r));
	id_new(r->id);
	strcpy(r->ks, ks);
	if (schedule_id)
		snprintf(r->schedule_id, sizeof(r->schedule_id), "%s", schedule_id);
	r->state = ST_CREATING;
	r->tables = tables_json(tabs, ntabs);
	rc = rec_save(ss, r, e);
	if (rc) {
		rec_free(r);
		r = NULL;
		goto out;
	}
	rec_add(ss, r);
	snap_crash_point("create-after-record");

	/* The cut: an instant with every writer out of its stamp-and-apply.
	 * Every write applied so far has a time <= the clock's last, every
	 * later one gets a greater time: the last time is the cut. Ticking the
	 * clock first keeps the cut's wall time current, and keeps the clock's
	 * persisting (an fsync, about once a second) out of the barrier. */
	if (!hlc_now(&s->clock)) {
		rc = err_set(e, -EIO, "clock '%s': cannot persist", s->clock.path);
		goto out;
	}
	pthread_rwlock_wrlock(&s->barrier);
	r->ht = hlc_last(&s->clock);
	pthread_rwlock_unlock(&s->barrier);
	r->wall_us = hlc_physical_us(r->ht);

	rc = checkpoint_all(ss, tabs, ntabs, r->id, e);
	if (rc)
		goto out;
	snap_crash_point("create-after-checkpoints");
	rc = write_metadata(ss, r, e);
	if (rc)
		goto out;
	snap_crash_point("create-after-metadata");
	r->state = ST_COMPLETE;
	rc = rec_save(ss, r, e);
	if (rc)
		r->state = ST_CREATING;
out:
	pthread_rwlock_unlock(&s->lock);
	if (rc && r) {
		struct errbuf e2;

		remove_dirs(ss, r);
		set_state(ss, r, ST_FAILED);
		rec_save(ss, r, &e2);
	}
	if (!rc) {
		set_state(ss, r, ST_COMPLETE);
		strcpy(id, r->id);
	}
	pthread_mutex_unlock(&ss->create_lock);
	free(tabs);
	if (!rc)
		notify(ss);
	return rc;
}

/* ---- lookup, delete, list ---- */

static struct snap_rec *find_locked(struct snapshots *ss, const char *id)
{
	for (size_t i = 0; i < ss->n; i++)
		if (!strcmp(ss->recs[i]->id, id))
			return ss->recs[i];
	return NULL;
}

int snap_delete(struct snapshots *ss, const char *id, struct errbuf *e)
{
	struct snap_rec *r;
	char *key = NULL;
	int rc = 0, was_complete;

	pthread_mutex_lock(&ss->create_lock);
	pthread_mutex_lock(&ss->lock);
	r = find_locked(ss, id);
	if (!r)
		rc = err_set(e, -ENOENT, "snapshot '%s': not found", id);
	else if (r->readers)
		rc = err_set(e, -EBUSY, "snapshot '%s': being read, try again", id);
	if (rc) {
		pthread_mutex_unlock(&ss->lock);
		goto out;
	}
	was_complete = r->state == ST_COMPLETE;
	r->state = ST_DELETING;
	pthread_mutex_unlock(&ss->lock);
	rc = rec_save(ss, r, e);
	if (rc)
		goto out;
	if (was_complete)
		notify(ss); /* the view drops it before its files go */
	snap_crash_point("delete-after-mark");
	rc = remove_dirs(ss, r);
	if (rc) {
		err_set(e, rc, "snapshot '%s': cannot remove its files: %s", id, strerror(-rc));
		goto out;
	}
	snap_crash_point("delete-after-remove");
	key = fs_path("snap/%s", id);
	rc = catalog_delete(&ss->store->cat, key, e);
	if (rc)
		goto out;
	pthread_mutex_lock(&ss->lock);
	for (size_t i = 0; i < ss->n; i++) {
		if (ss->recs[i] != r)
			continue;
		memmove(&ss->recs[i], &ss->recs[i + 1], (ss->n - i - 1) * sizeof(*ss->recs));
		ss->n--;
		break;
	}
	pthread_mutex_unlock(&ss->lock);
	rec_free(r);
out:
	pthread_mutex_unlock(&ss->create_lock);
	free(key);
	return rc;
}

int snap_list(struct snapshots *ss, json_object **out, struct errbuf *e)
{
	json_object *arr = json_object_new_array();

	pthread_mutex_lock(&ss->lock);
	for (size_t i = 0; i < ss->n; i++) {
		struct snap_rec *r = ss->recs[i];
		json_object *o = json_object_new_object(), *names = json_object_new_array();
		for (size_t j = 0; j < json_object_array_length(r->tables); j++)
			json_object_array_add(
			    names, json_object_new_string(
				       jstr(json_object_array_get_idx(r->tables, j), "name")));
		json_object_object_add(o, "id", json_object_new_string(r->id));
		json_object_object_add(o, "state", json_object_new_string(state_names[r->state]));
		json_object_object_add(o, "keyspace", json_object_new_string(r->ks));
		jtime_add(o, NULL, r->ht); /* the cut */
		json_object_object_add(o, "tables", names);
		json_object_object_add(o, "bytes", json_object_new_uint64(r->bytes));
		if (r->schedule_id[0])
			json_object_object_add(o, "schedule_id",
					       json_object_new_string(r->schedule_id));
		json_object_array_add(arr, o);
	}
	pthread_mutex_unlock(&ss->lock);
	*out = arr;
	return 0;
}

/* Takes a read reference on a COMPLETE snapshot. */
static int acquire(struct snapshots *ss, const char *id, struct snap_rec **out, struct errbuf *e)
{
	struct snap_rec *r;
	int rc = 0;

	pthread_mutex_lock(&ss->lock);
	r = find_locked(ss, id);
	if (!r)
		rc = err_set(e, -ENOENT, "snapshot '%s': not found", id);
	else if (r->state != ST_COMPLETE)
		rc = err_set(e, -EBUSY, "snapshot '%s': is %s, not COMPLETE", id,
			     state_names[r->state]);
	else
		r->readers++;
	pthread_mutex_unlock(&ss->lock);
	*out = r;
	return rc;
}

static void release(struct snapshots *ss, struct snap_rec *r)
{
	pthread_mutex_lock(&ss->lock);
	assert(r->readers > 0);
	r->readers--;
	pthread_mutex_unlock(&ss->lock);
}

int snap_export(struct snapshots *ss, const char *id, char **json, size_t *len, struct errbuf *e)
{
	struct snap_rec *r;
	char *path;
	int rc = acquire(ss, id, &r, e);

	if (rc)
		return rc;
	path = fs_path("%s/snapshots/%s/SNAPSHOT.json", ss->store->data, id);
	rc = fs_read_all(path, MANIFEST_MAX_JSON, json, len);
	if (rc)
		err_set(e, rc, "metadata '%s': %s", path, strerror(-rc));
	free(path);
	release(ss, r);
	return rc;
}

/* Opens the checkpoints of one table of a snapshot, read-only. */
static int open_table(struct snapshots *ss, struct snap_rec *r, const char *full,
		      struct tablet **tabs, unsigned *n, uint32_t **starts, struct errbuf *e)
{
	char ks[65], name[65];
	json_object *t = NULL, *tbs;
	int rc = store_split_name(full, ks, name, e);

	if (rc)
		return rc;
	if (strcmp(ks, r->ks))
		return err_set(e, -ENOENT, "table '%s': not in snapshot '%s' (keyspace '%s')", full,
			       r->id, r->ks);
	for (size_t i = 0; i < json_object_array_length(r->tables) && !t; i++)
		if (!strcmp(jstr(json_object_array_get_idx(r->tables, i), "name"), name))
			t = json_object_array_get_idx(r->tables, i);
	if (!t)
		return err_set(e, -ENOENT, "table '%s': not in snapshot '%s'", full, r->id);
	json_object_object_get_ex(t, "tablets", &tbs);
	*n = (unsigned)json_object_array_length(tbs);
	*tabs = xcalloc(*n, sizeof(**tabs));
	*starts = xcalloc(*n, sizeof(**starts));
	for (unsigned i = 0; i < *n && !rc; i++) {
		json_object *tb = json_object_array_get_idx(tbs, i), *v;
		char *dir =
		    snap_checkpoint_dir(ss->store->data, jstr(t, "id"), jstr(tb, "id"), r->id);

		json_object_object_get_ex(tb, "start", &v);
		(*starts)[i] = (uint32_t)json_object_get_int64(v);
		rc = tablet_open(&(*tabs)[i], dir, 0, 1, e);
		free(dir);
	}
	if (rc) {
		for (unsigned i = 0; i < *n; i++)
			tablet_close(&(*tabs)[i]);
		free(*tabs);
		free(*starts);
	}
	return rc;
}

static void close_table(struct tablet *tabs, unsigned n, uint32_t *starts)
{
	for (unsigned i = 0; i < n; i++)
		tablet_close(&tabs[i]);
	free(tabs);
	free(starts);
}

int snap_read_get(struct snapshots *ss, const char *id, const char *table, const void *key,
		  size_t klen, char **val, size_t *vlen, struct errbuf *e)
{
	struct snap_rec *r;
	struct tablet *tabs = NULL;
	uint32_t *starts = NULL;
	unsigned n = 0, i = 0;
	uint16_t h = partition_hash(key, klen);
	int rc = acquire(ss, id, &r, e);

	if (rc)
		return rc;
	rc = open_table(ss, r, table, &tabs, &n, &starts, e);
	if (!rc) {
		while (i + 1 < n && starts[i + 1] <= h)
			i++;
		rc = tablet_get(&tabs[i], key, klen, r->ht, val, vlen, e);
		close_table(tabs, n, starts);
	}
	release(ss, r);
	return rc;
}

int snap_read_scan(struct snapshots *ss, const char *id, const char *table, const void *prefix,
		   size_t plen, uint64_t limit, row_cb cb, void *arg, struct errbuf *e)
{
	struct snap_rec *r;
	struct tablet *tabs = NULL, **ptrs;
	uint32_t *starts = NULL;
	unsigned n = 0;
	int rc = acquire(ss, id, &r, e);

	if (rc)
		return rc;
	rc = open_table(ss, r, table, &tabs, &n, &starts, e);
	if (!rc) {
		ptrs = xcalloc(n, sizeof(*ptrs));
		for (unsigned i = 0; i < n; i++)
			ptrs[i] = &tabs[i];
		rc = tablets_scan(ptrs, n, prefix, plen, limit, r->ht, cb, arg, e);
		free(ptrs);
		close_table(tabs, n, starts);
	}
	release(ss, r);
	return rc;
}

/* ---- for the view ---- */

/* Fills v from r (caller holds ss->lock). */
static void info_from_rec(struct snapshots *ss, const struct snap_rec *r, struct snap_info *v)
{
	struct manifest *m = &v->m;
	size_t nt = 0;

	memset(v, 0, sizeof(*v));
	strcpy(v->id, r->id);
	strcpy(v->schedule_id, r->schedule_id);
	v->hybrid_time = r->ht;
	v->wall_us = r->wall_us;
	v->meta_dir = meta_dir(ss, r->id);
	m->format_version = MANIFEST_FORMAT_VERSION;
	strcpy(m->id, r->id);
	m->hybrid_time = r->ht;
	m->wall_us = r->wall_us;
	m->keyspace = xstrdup(r->ks);
	m->ntables = json_object_array_length(r->tables);
	m->tables = xcalloc(m->ntables, sizeof(*m->tables));
	for (size_t a = 0; a < m->ntables; a++) {
		json_object *t, *tbs = tablets_of(r, a, &t);

		nt += tbs ? json_object_array_length(tbs) : 0;
	}
	v->tablet_dirs = xcalloc(nt, sizeof(char *));
	v->table_created_ht = xcalloc(m->ntables, sizeof(uint64_t));
	for (size_t a = 0; a < m->ntables; a++) {
		json_object *t, *tbs = tablets_of(r, a, &t), *x0;
		struct manifest_table *mt = &m->tables[a];

		strcpy(mt->id, jstr(t, "id"));
		mt->name = xstrdup(jstr(t, "name"));
		v->table_created_ht[a] = json_object_object_get_ex(t, "created_ht", &x0)
					     ? json_object_get_uint64(x0)
					     : 0;
		mt->ntablets = tbs ? json_object_array_length(tbs) : 0;
		mt->tablets = xcalloc(mt->ntablets, sizeof(*mt->tablets));
		for (size_t b = 0; b < mt->ntablets; b++) {
			json_object *tb = json_object_array_get_idx(tbs, b), *x;

			strcpy(mt->tablets[b].id, jstr(tb, "id"));
			if (json_object_object_get_ex(tb, "start", &x))
				mt->tablets[b].start = (uint32_t)json_object_get_int64(x);
			if (json_object_object_get_ex(tb, "end", &x))
				mt->tablets[b].end = (uint32_t)json_object_get_int64(x);
			v->tablet_dirs[v->ntablet_dirs++] =
			    snap_checkpoint_dir(ss->store->data, mt->id, mt->tablets[b].id, r->id);
		}
	}
}

int snap_complete_list(struct snapshots *ss, struct snap_info **out, size_t *nout)
{
	struct snap_info *v;
	size_t k = 0;

	pthread_mutex_lock(&ss->lock);
	v = xcalloc(ss->n, sizeof(*v));
	for (size_t i = 0; i < ss->n; i++)
		if (ss->recs[i]->state == ST_COMPLETE)
			info_from_rec(ss, ss->recs[i], &v[k++]);
	pthread_mutex_unlock(&ss->lock);
	*out = v;
	*nout = k;
	return 0;
}

int snap_brief_list(struct snapshots *ss, struct snap_brief **out, size_t *n)
{
	struct snap_brief *v;

	pthread_mutex_lock(&ss->lock);
	v = xcalloc(ss->n, sizeof(*v));
	for (size_t i = 0; i < ss->n; i++) {
		strcpy(v[i].id, ss->recs[i]->id);
		strcpy(v[i].schedule_id, ss->recs[i]->schedule_id);
		strcpy(v[i].keyspace, ss->recs[i]->ks);
		v[i].complete = ss->recs[i]->state == ST_COMPLETE;
		v[i].failed = ss->recs[i]->state == ST_FAILED;
		v[i].hybrid_time = ss->recs[i]->ht;
		v[i].wall_us = ss->recs[i]->wall_us;
	}
	*n = ss->n;
	pthread_mutex_unlock(&ss->lock);
	*out = v;
	return 0;
}

int snap_pin(struct snapshots *ss, const char *id, struct snap_info *out, struct errbuf *e)
{
	struct snap_rec *r;
	int rc = acquire(ss, id, &r, e);

	if (rc)
		return rc;
	pthread_mutex_lock(&ss->lock);
	info_from_rec(ss, r, out);
	pthread_mutex_unlock(&ss->lock);
	return 0;
}

void snap_unpin(struct snapshots *ss, const char *id)
{
	struct snap_rec *r;

	pthread_mutex_lock(&ss->lock);
	r = find_locked(ss, id);
	pthread_mutex_unlock(&ss->lock);
	if (r)
		release(ss, r);
}

void snap_info_release(struct snap_info *v)
{
	free(v->meta_dir);
	for (size_t j = 0; j < v->ntablet_dirs; j++)
		free(v->tablet_dirs[j]);
	free(v->tablet_dirs);
	free(v->table_created_ht);
	manifest_release(&v->m);
	memset(v, 0, sizeof(*v));
}

void snap_info_free(struct snap_info *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snap_info_release(&v[i]);
	free(v);
}
