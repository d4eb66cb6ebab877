/*
 * snap: consistent snapshots (see snap.h for the states and the crash
 * rules).
 *
 * Records are published as immutable copies, as fs/ publishes its
 * generations: a slot of the list points at a refcounted struct snaprec
 * that nobody writes once published. A change of state builds a new
 * record, saves it to the catalog, and only then swaps it into the slot;
 * so a snapshot is listed COMPLETE only once its COMPLETE record is
 * durable, and a reader (listing, pin, the view) sees a whole record or
 * the next one, never a mix.
 *
 * Locks, in the order they are taken:
 *   ss->create_lock  serialises creates and deletes (two creates at once
 *                    would be correct, one after the other is simpler and
 *                    keeps the free-space check honest). Held across I/O.
 *   table intents    a create holds the shared intent of every table it
 *                    cuts (store_tables_acquire) through its checkpoints,
 *                    so none can be dropped or swapped under it; the cut
 *                    itself is store_cut() (the write barrier, an instant).
 *   ss->lock         a mutex over the slot list, each slot's record
 *                    pointer, pin count and busy flag. Never held across
 *                    I/O nor while calling out.
 *   ss->listener_lock  held while the listener runs and while it is set,
 *                    so that clearing it waits for a call under way.
 * The tablets of a create are checkpointed (and their new files hashed) by
 * up to CKPT_WORKERS threads at once, all joined before the create goes on.
 */
#include "snap.h"

#include "fsutil.h"
#include "hashcache.h"
#include "jtime.h"
#include "manifest.h"
#include "partition.h"
#include "progress.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

/* A published record: immutable, freed with its last reference. */
struct snap_pub {
	atomic_int refs;
	struct snaprec r;
};

struct snap_slot {
	struct snap_pub *pub; /* protected by ss->lock (the pointer; *pub is immutable) */
	int readers;	      /* pins, protected by ss->lock */
	int busy;	      /* a delete under way: no new pin, protected by ss->lock */
};

struct snapshots {
	struct store *store;
	const char *data;
	pthread_mutex_t lock;
	pthread_mutex_t create_lock;
	pthread_mutex_t listener_lock;
	size_t n;		  /* protected by lock */
	struct snap_slot *slots;  /* protected by lock, ordered by cut */
	struct hashcache *hc;	  /* thread-safe itself */
	void (*listener)(void *); /* protected by listener_lock */
	void *listener_arg;	  /* protected by listener_lock */
};

void snap_crash_point(const char *point)
{
	const char *at = getenv("SNAPFS_CRASH_AT");

	if (at && !strcmp(at, point)) {
		fprintf(stderr, "snapfs: crash injected at '%s'\n", point);
		abort();
	}
}

void snap_delay_point(const char *point)
{
	const char *at = getenv("SNAPFS_DELAY_AT");
	size_t n = strlen(point);

	/* "<point>:<milliseconds>" */
	if (at && !strncmp(at, point, n) && at[n] == ':') {
		long ms = strtol(at + n + 1, NULL, 10);
		struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

		fprintf(stderr, "snapfs: delay injected at '%s' (%ld ms)\n", point, ms);
		nanosleep(&ts, NULL);
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
	return fs_path("%s/snapshots/%s", ss->data, id);
}

/* ---- the state machine ---- */

int snap_next_state(enum snap_state from, enum snap_op op, enum snap_state *to)
{
	switch (op) {
	case SNAP_OP_COMPLETE:
	case SNAP_OP_FAIL:
		if (from != SNAP_CREATING)
			return -EINVAL;
		*to = op == SNAP_OP_COMPLETE ? SNAP_COMPLETE : SNAP_FAILED;
		return 0;
	case SNAP_OP_DELETE:
		if (from == SNAP_CREATING)
			return -EINVAL;
		*to = SNAP_DELETING;
		return 0;
	case SNAP_OP_REPAIR:
		*to = from == SNAP_CREATING ? SNAP_FAILED : from;
		return 0;
	}
	return -EINVAL;
}

/* ---- published records ---- */

static struct snap_pub *pub_new(const struct snaprec *r)
{
	struct snap_pub *p = xcalloc(1, sizeof(*p));

	atomic_init(&p->refs, 1);
	snaprec_copy(&p->r, r);
	return p;
}

static struct snap_pub *pub_ref(struct snap_pub *p)
{
	atomic_fetch_add(&p->refs, 1);
	return p;
}

static void pub_unref(struct snap_pub *p)
{
	int was;

	if (!p)
		return;
	was = atomic_fetch_sub(&p->refs, 1);
	assert(was > 0);
	if (was == 1) {
		snaprec_release(&p->r);
		free(p);
	}
}

static int rec_save(struct snapshots *ss, const struct snaprec *r, struct errbuf *e)
{
	char *key = fs_path("snap/%s", r->id), *text = snaprec_format(r);
	int rc = catalog_put_text(store_catalog(ss->store), key, text, e);

	free(text);
	free(key);
	return rc;
}

/* Under ss->lock. */
static struct snap_slot *find_locked(struct snapshots *ss, const char *id)
{
	for (size_t i = 0; i < ss->n; i++)
		if (!strcmp(ss->slots[i].pub->r.id, id))
			return &ss->slots[i];
	return NULL;
}

/* Publishes r: a new slot, or in place of the record of the same id. */
static void publish(struct snapshots *ss, const struct snaprec *r)
{
	struct snap_pub *p = pub_new(r), *old = NULL;
	struct snap_slot *sl;

	pthread_mutex_lock(&ss->lock);
	sl = find_locked(ss, r->id);
	if (sl) {
		old = sl->pub;
		sl->pub = p;
	} else {
		ss->slots = xrealloc(ss->slots, (ss->n + 1) * sizeof(*ss->slots));
		ss->slots[ss->n++] = (struct snap_slot){.pub = p};
	}
	pthread_mutex_unlock(&ss->lock);
	pub_unref(old);
}

static void unpublish(struct snapshots *ss, const char *id)
{
	struct snap_pub *old = NULL;

	pthread_mutex_lock(&ss->lock);
	for (size_t i = 0; i < ss->n; i++) {
		if (strcmp(ss->slots[i].pub->r.id, id))
			continue;
		assert(!ss->slots[i].readers);
		old = ss->slots[i].pub;
		memmove(&ss->slots[i], &ss->slots[i + 1], (ss->n - i - 1) * sizeof(*ss->slots));
		ss->n--;
		break;
	}
	pthread_mutex_unlock(&ss->lock);
	pub_unref(old);
}

static void notify(struct snapshots *ss)
{
	pthread_mutex_lock(&ss->listener_lock);
	if (ss->listener)
		ss->listener(ss->listener_arg);
	pthread_mutex_unlock(&ss->listener_lock);
}

void snapshots_set_listener(struct snapshots *ss, void (*fn)(void *), void *arg)
{
	pthread_mutex_lock(&ss->listener_lock);
	ss->listener = fn;
	ss->listener_arg = arg;
	pthread_mutex_unlock(&ss->listener_lock);
}

/* ---- open, repair, close ---- */

/* Removes every directory of r: checkpoints (with our .tmp and RocksDB's
 * own staging dir for it, .tmp.tmp, which a crash during a checkpoint in
 * another thread leaves behind) and metadata. Every path is built from the
 * record's ids, which the parser checked: nothing outside DATA. */
static int remove_dirs(struct snapshots *ss, const struct snaprec *r)
{
	char *m = meta_dir(ss, r->id);
	int rc = 0;

	for (size_t i = 0; i < r->ntables; i++)
		for (unsigned j = 0; j < r->tables[i].ntablets; j++) {
			char *dir = snap_checkpoint_dir(ss->data, r->tables[i].id,
							r->tables[i].tablets[j].id, r->id);
			char *tmp = fs_path("%s.tmp", dir), *tmp2 = fs_path("%s.tmp.tmp", dir);
			int r1 = fs_remove_tree(dir), r2 = fs_remove_tree(tmp);
			int r3 = fs_remove_tree(tmp2);

			if (!rc)
				rc = r1 ? r1 : r2 ? r2 : r3;
			free(tmp2);
			free(tmp);
			free(dir);
		}
	if (!rc)
		rc = fs_remove_tree(m);
	free(m);
	return rc;
}

struct load_ctx {
	struct snaprec *v;
	size_t n;
	struct errbuf *e;
};

static int load_rec_cb(void *arg, const char *key, const char *text, size_t len)
{
	struct load_ctx *c = arg;
	struct snaprec r;
	int rc = snaprec_parse(text, len, &r, c->e);

	if (rc)
		return err_prefix(c->e, rc, "catalog record '%s'", key);
	c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n++] = r;
	return 0;
}

/* What a crash left: CREATING becomes FAILED with its directories
 * removed, DELETING is finished. Returns 1 if r is gone. */
static int repair(struct snapshots *ss, struct snaprec *r)
{
	struct errbuf e;
	enum snap_state to;

	snap_next_state(r->state, SNAP_OP_REPAIR, &to);
	if (r->state == SNAP_CREATING) {
		fprintf(stderr,
			"snapfs: snapshot '%s' was being created at a crash: "
			"marking it FAILED and removing its files\n",
			r->id);
		remove_dirs(ss, r);
		r->state = to;
		if (rec_save(ss, r, &e))
			fprintf(stderr, "snapfs: error: %s\n", e.msg);
	} else if (r->state == SNAP_DELETING) {
		char *key = fs_path("snap/%s", r->id);
		int gone;

		fprintf(stderr, "snapfs: finishing the deletion of snapshot '%s'\n", r->id);
		gone = !remove_dirs(ss, r) && !catalog_delete(store_catalog(ss->store), key, &e);
		free(key);
		return gone;
	}
	return 0;
}

static int cmp_rec(const void *a, const void *b)
{
	const struct snaprec *x = a, *y = b;

	if (x->ht != y->ht)
		return x->ht < y->ht ? -1 : 1;
	return strcmp(x->id, y->id);
}

int snapshots_open(struct snapshots **out, struct store *s, struct errbuf *e)
{
	struct snapshots *ss = xcalloc(1, sizeof(*ss));
	char *hcpath = fs_path("%s/snapshots/HASHCACHE", store_data(s));
	struct load_ctx c = {.e = e};
	int rc;

	ss->store = s;
	ss->data = store_data(s);
	pthread_mutex_init(&ss->lock, NULL);
	pthread_mutex_init(&ss->create_lock, NULL);
	pthread_mutex_init(&ss->listener_lock, NULL);
	rc = catalog_scan_text(store_catalog(s), "snap/", load_rec_cb, &c, e);
	if (!rc)
		rc = hashcache_open(&ss->hc, hcpath, ss->data, e);
	if (!rc) {
		if (c.n)
			qsort(c.v, c.n, sizeof(*c.v), cmp_rec);
		for (size_t i = 0; i < c.n; i++)
			if (!repair(ss, &c.v[i]))
				publish(ss, &c.v[i]);
	}
	for (size_t i = 0; i < c.n; i++)
		snaprec_release(&c.v[i]);
	free(c.v);
	free(hcpath);
	if (rc) {
		snapshots_close(ss);
		return rc;
	}
	*out = ss;
	return 0;
}

void snapshots_close(struct snapshots *ss)
{
	if (!ss)
		return;
	/* the shut-down order: the view is detached before the module goes */
	assert(!ss->listener);
	if (ss->hc)
		hashcache_free(ss->hc);
	for (size_t i = 0; i < ss->n; i++) {
		assert(!ss->slots[i].readers);
		pub_unref(ss->slots[i].pub);
	}
	free(ss->slots);
	pthread_mutex_destroy(&ss->lock);
	pthread_mutex_destroy(&ss->create_lock);
	pthread_mutex_destroy(&ss->listener_lock);
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

/* ---- hashing ahead ---- */

/* Hashes the live tablets' finished SSTs into the hash cache, so that a
 * snapshot after a compaction does not wait for hashing its output (the
 * checkpoint's hard link is the same file). Files younger than 2 s may
 * still be written and are left for the next call. No lock is held: a
 * file compacted away meanwhile is just not found. */
void snapshots_prehash(struct snapshots *ss)
{
	struct tablerec *recs = NULL;
	char **paths = NULL, hex[65];
	size_t nrecs = 0, n = 0, cap = 0;
	time_t now = time(NULL);

	store_table_recs(ss->store, NULL, &recs, &nrecs);
	for (size_t i = 0; i < nrecs; i++)
		for (unsigned j = 0; j < recs[i].ntablets; j++) {
			char *dir = store_tablet_path(ss->data, recs[i].id, recs[i].tablets[j].id);
			DIR *d = opendir(dir);
			struct dirent *de;

			while (d && (de = readdir(d))) {
				size_t len = strlen(de->d_name);
				struct stat st;
				char *p;

				if (len < 5 || strcmp(de->d_name + len - 4, ".sst"))
					continue;
				p = fs_path("%s/%s", dir, de->d_name);
				if (lstat(p, &st) || now - st.st_mtime < 2) {
					free(p);
					continue;
				}
				if (n == cap) {
					cap = cap ? 2 * cap : 64;
					paths = xrealloc(paths, cap * sizeof(*paths));
				}
				paths[n++] = p;
			}
			if (d)
				closedir(d);
			free(dir);
		}
	tablerecs_free(recs, nrecs);
	for (size_t i = 0; i < n; i++) {
		hashcache_get(ss->hc, paths[i], hex); /* gone meanwhile: no matter */
		free(paths[i]);
	}
	free(paths);
}

/* ---- create ---- */

/* Lists the files of a checkpoint dir into t (names sorted). */
static int list_files(const char *dir, struct manifest_tablet *t, uint64_t *bytes, struct errbuf *e)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort), rc = 0;

	if (n < 0)
		return err_set(e, -errno, "checkpoint '%s': %s", dir, strerror(errno));
	t->files = xcalloc((size_t)n + 1, sizeof(*t->files));
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

static int checkpoint_tablet(struct snapshots *ss, const struct tablerec *t, unsigned k,
			     struct tablet *db, const char *sid, struct errbuf *e)
{
	const char *tbid = t->tablets[k].id;
	char *dir = snap_checkpoint_dir(ss->data, t->id, tbid, sid);
	char *tmp = fs_path("%s.tmp", dir);
	char *parent = fs_path("%s/tablets/table-%s/tablet-%s.snapshots", ss->data, t->id, tbid);
	int rc = fs_mkdirs(parent, 0755);

	if (rc) {
		err_set(e, rc, "snapshot directory '%s': %s", parent, strerror(-rc));
		goto out;
	}
	fs_remove_tree(tmp);
	/* No tablet_flush() first: the checkpoint flushes the memtable itself
	 * (tablet_checkpoint), and a flush of ours before it only made a second,
	 * tiny L0 file whenever a write landed in between. */
	rc = tablet_checkpoint(db, tmp, e);
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
static void warm_hashes(struct snapshots *ss, const struct tablerec *t, unsigned k, const char *sid)
{
	char *dir = snap_checkpoint_dir(ss->data, t->id, t->tablets[k].id, sid);
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
	unsigned k;
};

struct ckpt_run {
	struct snapshots *ss;
	const char *sid;
	struct progress *p; /* the caller's (progress.h): tablets done */
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
		const struct tablerec *t;
		size_t i;
		int rc;

		pthread_mutex_lock(&cr->lock);
		i = cr->rc ? cr->njobs : cr->next++;
		pthread_mutex_unlock(&cr->lock);
		if (i >= cr->njobs)
			return NULL;
		t = store_table_rec(cr->jobs[i].t);
		rc = checkpoint_tablet(cr->ss, t, cr->jobs[i].k,
				       store_table_tablet(cr->jobs[i].t, cr->jobs[i].k), cr->sid,
				       &e);
		if (!rc) {
			warm_hashes(cr->ss, t, cr->jobs[i].k, cr->sid);
			progress_add(cr->p, 1);
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
	struct ckpt_run cr = {.ss = ss, .sid = sid, .p = progress_current()};
	pthread_t th[CKPT_WORKERS - 1];
	size_t nth = 0, n = 0;

	for (size_t i = 0; i < ntabs; i++)
		n += store_table_rec(tabs[i])->ntablets;
	cr.jobs = xcalloc(n ? n : 1, sizeof(*cr.jobs));
	for (size_t i = 0; i < ntabs; i++)
		for (unsigned j = 0; j < store_table_rec(tabs[i])->ntablets; j++)
			cr.jobs[cr.njobs++] = (struct ckpt_job){tabs[i], j};
	pthread_mutex_init(&cr.lock, NULL);
	progress_phase(cr.p, "checkpoint", "tablets", cr.njobs);
	/* a thread that cannot be started leaves its share to the others */
	while (nth < CKPT_WORKERS - 1 && nth + 1 < cr.njobs &&
	       !pthread_create(&th[nth], NULL, ckpt_worker, &cr))
		nth++;
	ckpt_worker(&cr);
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	progress_phase_end(cr.p);
	pthread_mutex_destroy(&cr.lock);
	free(cr.jobs);
	if (cr.rc && e)
		*e = cr.e;
	return cr.rc;
}

/* SNAPSHOT.json and SHA256SUMS of a snapshot whose checkpoints exist;
 * *bytes gets its size. */
static int write_metadata(struct snapshots *ss, const struct snaprec *r, uint64_t *bytes_out,
			  struct errbuf *e)
{
	struct manifest m = {0};
	struct sums_entry *ents = NULL;
	size_t nents = 0, cap = 0;
	char *mdir = meta_dir(ss, r->id), *json = NULL, *jpath = NULL;
	uint64_t bytes = 0;
	int rc = 0;

	m.format_version = MANIFEST_FORMAT_VERSION;
	strcpy(m.id, r->id);
	m.hybrid_time = r->ht;
	m.wall_us = r->wall_us;
	m.keyspace = xstrdup(r->ks);
	m.ntables = r->ntables;
	m.tables = xcalloc(m.ntables, sizeof(*m.tables));
	for (size_t i = 0; i < m.ntables; i++) {
		const struct tablerec *t = &r->tables[i];
		struct manifest_table *mt = &m.tables[i];

		strcpy(mt->id, t->id);
		mt->name = xstrdup(t->name);
		mt->ntablets = t->ntablets;
		mt->tablets = xcalloc(mt->ntablets, sizeof(*mt->tablets));
		for (size_t j = 0; j < mt->ntablets; j++) {
			struct manifest_tablet *mtb = &mt->tablets[j];
			char *dir, *rel;

			strcpy(mtb->id, t->tablets[j].id);
			mtb->start = t->tablets[j].start;
			mtb->end = t->tablets[j].end;
			dir = snap_checkpoint_dir(ss->data, mt->id, mtb->id, r->id);
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
	*bytes_out = bytes;
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
		for (unsigned j = 0; j < store_table_rec(tabs[i])->ntablets; j++) {
			uint64_t v = 0;
			struct tablet *t = store_table_tablet(tabs[i], j);

			if (!rocksdb_property_int_cf(t->db, t->cf,
						     "rocksdb.cur-size-all-mem-tables", &v))
				need += v;
		}
	if (statvfs(ss->data, &sv) != 0)
		return 0; /* cannot tell: let the flush find out */
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	if (avail >= need)
		return 0;
	return err_set(e, -ENOSPC,
		       "data directory '%s': %llu MiB free, a snapshot needs about %llu MiB "
		       "(memtables to flush and metadata): no space left",
		       ss->data, avail >> 20, (need + (1 << 20) - 1) >> 20);
}

int snap_create(struct snapshots *ss, const char *ks, char *const *names, size_t n,
		const char *schedule_id, char id[ID_LEN + 1], struct errbuf *e)
{
	struct store_table **tabs = NULL;
	struct snaprec r = {0};
	size_t ntabs = 0;
	int rc, recorded = 0;
	enum snap_state to;

	if (!name_valid(ks))
		return err_set(e, -EINVAL, "keyspace '%s': not a valid name", ks);
	pthread_mutex_lock(&ss->create_lock);
	rc = store_tables_acquire(ss->store, ks, names, n, &tabs, &ntabs, e);
	if (rc)
		goto out;
	rc = check_space(ss, tabs, ntabs, e);
	if (rc)
		goto out;
	id_new(r.id);
	strcpy(r.ks, ks);
	if (schedule_id)
		snprintf(r.schedule_id, sizeof(r.schedule_id), "%s", schedule_id);
	r.state = SNAP_CREATING;
	r.ntables = ntabs;
	r.tables = xcalloc(ntabs, sizeof(*r.tables));
	for (size_t i = 0; i < ntabs; i++)
		tablerec_copy(&r.tables[i], store_table_rec(tabs[i]));
	/* the CREATING record before any directory: a crash is repaired */
	rc = rec_save(ss, &r, e);
	if (rc)
		goto out;
	recorded = 1;
	publish(ss, &r);
	snap_crash_point("create-after-record");

	/* The cut: an instant with every writer out of its stamp-and-apply.
	 * r below is this thread's copy; the published CREATING record is
	 * never written. */
	r.ht = store_cut(ss->store, e);
	if (!r.ht) {
		rc = -EIO;
		goto out;
	}
	r.wall_us = hlc_physical_us(r.ht);
	rc = checkpoint_all(ss, tabs, ntabs, r.id, e);
	/* the checkpoints are taken: drops and restores of these tables may go on */
	store_tables_release(tabs, ntabs);
	tabs = NULL;
	if (rc)
		goto out;
	snap_crash_point("create-after-checkpoints");
	rc = write_metadata(ss, &r, &r.bytes, e);
	if (rc)
		goto out;
	snap_crash_point("create-after-metadata");
	snap_next_state(r.state, SNAP_OP_COMPLETE, &to);
	r.state = to;
	rc = rec_save(ss, &r, e);
	if (!rc)
		publish(ss, &r); /* listed COMPLETE only once that is durable */
out:
	if (tabs)
		store_tables_release(tabs, ntabs);
	if (rc && recorded) {
		struct errbuf e2;

		r.state = SNAP_CREATING;
		remove_dirs(ss, &r);
		snap_next_state(r.state, SNAP_OP_FAIL, &to);
		r.state = to;
		if (!rec_save(ss, &r, &e2))
			publish(ss, &r);
		else /* the next start repairs it: still CREATING in the catalog */
			fprintf(stderr, "snapfs: error: %s\n", e2.msg);
	}
	if (!rc)
		strcpy(id, r.id);
	pthread_mutex_unlock(&ss->create_lock);
	snaprec_release(&r);
	if (!rc)
		notify(ss);
	return rc;
}

/* ---- lookup, delete, list ---- */

static void brief_of(const struct snaprec *r, struct snap_brief *b)
{
	memset(b, 0, sizeof(*b));
	strcpy(b->id, r->id);
	strcpy(b->schedule_id, r->schedule_id);
	strcpy(b->keyspace, r->ks);
	b->state = r->state;
	b->complete = r->state == SNAP_COMPLETE;
	b->failed = r->state == SNAP_FAILED;
	b->hybrid_time = r->ht;
	b->wall_us = r->wall_us;
}

int snap_brief_list(struct snapshots *ss, struct snap_brief **out, size_t *n)
{
	struct snap_brief *v;

	pthread_mutex_lock(&ss->lock);
	v = xcalloc(ss->n + 1, sizeof(*v));
	for (size_t i = 0; i < ss->n; i++)
		brief_of(&ss->slots[i].pub->r, &v[i]);
	*n = ss->n;
	pthread_mutex_unlock(&ss->lock);
	*out = v;
	return 0;
}

void snap_records(struct snapshots *ss, struct snaprec **out, size_t *n)
{
	struct snap_pub **v;
	size_t k;

	/* references under the lock, the copying outside it */
	pthread_mutex_lock(&ss->lock);
	k = ss->n;
	v = xcalloc(k + 1, sizeof(*v));
	for (size_t i = 0; i < k; i++)
		v[i] = pub_ref(ss->slots[i].pub);
	pthread_mutex_unlock(&ss->lock);
	*out = xcalloc(k + 1, sizeof(**out));
	for (size_t i = 0; i < k; i++) {
		snaprec_copy(&(*out)[i], &v[i]->r);
		pub_unref(v[i]);
	}
	free(v);
	*n = k;
}

int snap_resolve_in(const struct snap_brief *v, size_t n, const char *name, const char *ks,
		    char id[ID_LEN + 1], struct errbuf *e)
{
	char low[ID_LEN + 1];
	size_t len = name ? strlen(name) : 0, found = 0;
	const struct snap_brief *best = NULL;
	char cand[512] = "";

	if (name && !strcmp(name, "latest")) {
		for (size_t i = 0; i < n; i++)
			if (v[i].state == SNAP_COMPLETE && (!ks || !strcmp(v[i].keyspace, ks)) &&
			    (!best || v[i].hybrid_time > best->hybrid_time))
				best = &v[i];
		if (!best)
			return err_set(e, -ENOENT, "snapshot 'latest': no COMPLETE snapshot%s%s%s",
				       ks ? " of keyspace '" : "", ks ? ks : "", ks ? "'" : "");
		strcpy(id, best->id);
		return 0;
	}
	if (len < 8 || len > ID_LEN)
		goto bad;
	for (size_t i = 0; i < len; i++) {
		if (!isxdigit((unsigned char)name[i]))
			goto bad;
		low[i] = (char)tolower((unsigned char)name[i]);
	}
	low[len] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t at = strlen(cand);

		if (strncmp(v[i].id, low, len))
			continue;
		if (found++ < 8 && at + ID_LEN + 16 < sizeof(cand))
			snprintf(cand + at, sizeof(cand) - at, "%s%s (%s)", at ? ", " : "", v[i].id,
				 snap_state_names[v[i].state]);
		best = &v[i];
	}
	if (!found)
		return err_set(e, -ENOENT, "snapshot '%s': not found", name);
	if (found > 1)
		return err_set(e, -EINVAL, "snapshot '%s': ambiguous, %zu match: %s%s", name, found,
			       cand, found > 8 ? ", ..." : "");
	strcpy(id, best->id);
	return 0;
bad:
	return err_set(e, -EINVAL,
		       "snapshot '%s': expected an id, a unique prefix of 8 or more hex digits, "
		       "or 'latest'",
		       name ? name : "");
}

int snap_resolve(struct snapshots *ss, const char *name, const char *ks, char id[ID_LEN + 1],
		 struct errbuf *e)
{
	struct snap_brief *v = NULL;
	size_t n = 0;
	int rc;

	snap_brief_list(ss, &v, &n);
	rc = snap_resolve_in(v, n, name, ks, id, e);
	free(v);
	return rc;
}

int snap_delete(struct snapshots *ss, const char *id, struct errbuf *e)
{
	struct snap_slot *sl;
	struct snaprec r = {0};
	char *key = NULL;
	int rc = 0, was_complete = 0, marked = 0;
	enum snap_state to;

	pthread_mutex_lock(&ss->create_lock);
	pthread_mutex_lock(&ss->lock);
	sl = find_locked(ss, id);
	if (!sl)
		rc = err_set(e, -ENOENT, "snapshot '%s': not found", id);
	else if (sl->readers)
		rc = err_set(e, -EBUSY, "snapshot '%s': being read, try again", id);
	else if (snap_next_state(sl->pub->r.state, SNAP_OP_DELETE, &to))
		rc = err_set(e, -EBUSY, "snapshot '%s': is %s", id,
			     snap_state_names[sl->pub->r.state]);
	if (!rc) {
		sl->busy = 1; /* no new pin from here */
		was_complete = sl->pub->r.state == SNAP_COMPLETE;
		snaprec_copy(&r, &sl->pub->r);
	}
	pthread_mutex_unlock(&ss->lock);
	if (rc)
		goto out;
	r.state = to;
	rc = rec_save(ss, &r, e);
	if (rc)
		goto out;
	marked = 1;
	publish(ss, &r);
	if (was_complete)
		notify(ss); /* the view drops it before its files go */
	snap_crash_point("delete-after-mark");
	rc = remove_dirs(ss, &r);
	if (rc) {
		err_set(e, rc, "snapshot '%s': cannot remove its files: %s", id, strerror(-rc));
		goto out;
	}
	snap_crash_point("delete-after-remove");
	key = fs_path("snap/%s", id);
	rc = catalog_delete(store_catalog(ss->store), key, e);
	if (!rc)
		unpublish(ss, id);
out:
	if (rc && (marked || r.id[0])) {
		/* DELETING stays if it was saved: the next delete or start
		 * finishes it */
		pthread_mutex_lock(&ss->lock);
		sl = find_locked(ss, id);
		if (sl)
			sl->busy = 0;
		pthread_mutex_unlock(&ss->lock);
	}
	pthread_mutex_unlock(&ss->create_lock);
	snaprec_release(&r);
	free(key);
	return rc;
}

int snap_list(struct snapshots *ss, json_object **out, struct errbuf *e)
{
	json_object *arr = json_object_new_array();

	pthread_mutex_lock(&ss->lock);
	for (size_t i = 0; i < ss->n; i++) {
		const struct snaprec *r = &ss->slots[i].pub->r;
		json_object *o = json_object_new_object(), *names = json_object_new_array();

		for (size_t j = 0; j < r->ntables; j++)
			json_object_array_add(names, json_object_new_string(r->tables[j].name));
		json_object_object_add(o, "id", json_object_new_string(r->id));
		json_object_object_add(o, "state",
				       json_object_new_string(snap_state_names[r->state]));
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

/* Pins a COMPLETE snapshot against deletion; *out gets a reference to its
 * record (immutable), dropped by release(). */
static int acquire(struct snapshots *ss, const char *id, struct snap_pub **out, struct errbuf *e)
{
	struct snap_slot *sl;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&ss->lock);
	sl = find_locked(ss, id);
	if (!sl)
		rc = err_set(e, -ENOENT, "snapshot '%s': not found", id);
	else if (sl->pub->r.state != SNAP_COMPLETE || sl->busy)
		rc = err_set(e, -EBUSY, "snapshot '%s': is %s, not COMPLETE", id,
			     sl->busy ? "DELETING" : snap_state_names[sl->pub->r.state]);
	if (!rc) {
		sl->readers++;
		*out = pub_ref(sl->pub);
	}
	pthread_mutex_unlock(&ss->lock);
	return rc;
}

static void release(struct snapshots *ss, struct snap_pub *p)
{
	struct snap_slot *sl;

	pthread_mutex_lock(&ss->lock);
	sl = find_locked(ss, p->r.id);
	assert(sl && sl->readers > 0);
	sl->readers--;
	pthread_mutex_unlock(&ss->lock);
	pub_unref(p);
}

int snap_export(struct snapshots *ss, const char *id, char **json, size_t *len, struct errbuf *e)
{
	struct snap_pub *p;
	char *path;
	int rc = acquire(ss, id, &p, e);

	if (rc)
		return rc;
	path = fs_path("%s/snapshots/%s/SNAPSHOT.json", ss->data, id);
	rc = fs_read_all(path, MANIFEST_MAX_JSON, json, len);
	if (rc)
		err_set(e, rc, "metadata '%s': %s", path, strerror(-rc));
	free(path);
	release(ss, p);
	return rc;
}

/* Opens the checkpoints of one table of a snapshot, read-only. */
static int open_table(struct snapshots *ss, const struct snaprec *r, const char *full,
		      struct tablet **tabs, unsigned *n, const struct tablerec **tr,
		      struct errbuf *e)
{
	char ks[65], name[65];
	const struct tablerec *t = NULL;
	int rc = store_split_name(full, ks, name, e);

	if (rc)
		return rc;
	if (strcmp(ks, r->ks))
		return err_set(e, -ENOENT, "table '%s': not in snapshot '%s' (keyspace '%s')", full,
			       r->id, r->ks);
	for (size_t i = 0; i < r->ntables && !t; i++)
		if (!strcmp(r->tables[i].name, name))
			t = &r->tables[i];
	if (!t)
		return err_set(e, -ENOENT, "table '%s': not in snapshot '%s'", full, r->id);
	*n = t->ntablets;
	*tabs = xcalloc(*n, sizeof(**tabs));
	*tr = t;
	for (unsigned i = 0; i < *n && !rc; i++) {
		char *dir = snap_checkpoint_dir(ss->data, t->id, t->tablets[i].id, r->id);

		rc = tablet_open(&(*tabs)[i], dir, 0, 1, e);
		free(dir);
	}
	if (rc) {
		for (unsigned i = 0; i < *n; i++)
			tablet_close(&(*tabs)[i]);
		free(*tabs);
	}
	return rc;
}

static void close_table(struct tablet *tabs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		tablet_close(&tabs[i]);
	free(tabs);
}

int snap_read_get(struct snapshots *ss, const char *id, const char *table, const void *key,
		  size_t klen, char **val, size_t *vlen, struct errbuf *e)
{
	struct snap_pub *p;
	struct tablet *tabs = NULL;
	const struct tablerec *t;
	unsigned n = 0;
	int rc = acquire(ss, id, &p, e);

	if (rc)
		return rc;
	rc = open_table(ss, &p->r, table, &tabs, &n, &t, e);
	if (!rc) {
		rc = tablet_get(&tabs[store_pick_tablet(t, key, klen)], key, klen, p->r.ht, val,
				vlen, e);
		close_table(tabs, n);
	}
	release(ss, p);
	return rc;
}

int snap_read_scan(struct snapshots *ss, const char *id, const char *table, const void *prefix,
		   size_t plen, uint64_t limit, row_cb cb, void *arg, struct errbuf *e)
{
	struct snap_pub *p;
	struct tablet *tabs = NULL, **ptrs;
	const struct tablerec *t;
	unsigned n = 0;
	int rc = acquire(ss, id, &p, e);

	if (rc)
		return rc;
	/* the pin (not a lock) keeps the snapshot while a slow reader reads:
	 * a delete meanwhile is refused, nothing waits */
	rc = open_table(ss, &p->r, table, &tabs, &n, &t, e);
	if (!rc) {
		ptrs = xcalloc(n, sizeof(*ptrs));
		for (unsigned i = 0; i < n; i++)
			ptrs[i] = &tabs[i];
		rc = tablets_scan(ptrs, n, prefix, plen, limit, p->r.ht, cb, arg, e);
		free(ptrs);
		close_table(tabs, n);
	}
	release(ss, p);
	return rc;
}

/* ---- for the view ---- */

/* Fills v from r (immutable: no lock needed). */
static void info_from_rec(struct snapshots *ss, const struct snaprec *r, struct snap_info *v)
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
	m->ntables = r->ntables;
	m->tables = xcalloc(m->ntables + 1, sizeof(*m->tables));
	for (size_t a = 0; a < r->ntables; a++)
		nt += r->tables[a].ntablets;
	v->tablet_dirs = xcalloc(nt + 1, sizeof(char *));
	v->table_created_ht = xcalloc(m->ntables + 1, sizeof(uint64_t));
	for (size_t a = 0; a < m->ntables; a++) {
		const struct tablerec *t = &r->tables[a];
		struct manifest_table *mt = &m->tables[a];

		strcpy(mt->id, t->id);
		mt->name = xstrdup(t->name);
		v->table_created_ht[a] = t->created_ht;
		mt->ntablets = t->ntablets;
		mt->tablets = xcalloc(mt->ntablets, sizeof(*mt->tablets));
		for (size_t b = 0; b < mt->ntablets; b++) {
			strcpy(mt->tablets[b].id, t->tablets[b].id);
			mt->tablets[b].start = t->tablets[b].start;
			mt->tablets[b].end = t->tablets[b].end;
			v->tablet_dirs[v->ntablet_dirs++] =
			    snap_checkpoint_dir(ss->data, mt->id, mt->tablets[b].id, r->id);
		}
	}
}

int snap_complete_list(struct snapshots *ss, struct snap_info **out, size_t *nout)
{
	struct snap_pub **v;
	struct snap_info *info;
	size_t k = 0;

	/* references under the lock, the copying outside it */
	pthread_mutex_lock(&ss->lock);
	v = xcalloc(ss->n + 1, sizeof(*v));
	for (size_t i = 0; i < ss->n; i++)
		if (ss->slots[i].pub->r.state == SNAP_COMPLETE && !ss->slots[i].busy)
			v[k++] = pub_ref(ss->slots[i].pub);
	pthread_mutex_unlock(&ss->lock);
	info = xcalloc(k + 1, sizeof(*info));
	for (size_t i = 0; i < k; i++) {
		info_from_rec(ss, &v[i]->r, &info[i]);
		pub_unref(v[i]);
	}
	free(v);
	*out = info;
	*nout = k;
	return 0;
}

int snap_pin(struct snapshots *ss, const char *id, struct snap_info *out, struct errbuf *e)
{
	struct snap_pub *p;
	int rc = acquire(ss, id, &p, e);

	if (rc)
		return rc;
	info_from_rec(ss, &p->r, out);
	pub_unref(p); /* the pin itself stays until snap_unpin */
	return 0;
}

void snap_unpin(struct snapshots *ss, const char *id)
{
	struct snap_slot *sl;

	pthread_mutex_lock(&ss->lock);
	sl = find_locked(ss, id);
	assert(sl && sl->readers > 0);
	if (sl)
		sl->readers--;
	pthread_mutex_unlock(&ss->lock);
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
