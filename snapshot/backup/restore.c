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
 * journal.c holds the journal, typed and strictly parsed, and its steps.
 *
 * An online restore plans under the store's lock (store_claim_begin): the
 * plan is made from the live tables as they are at that instant and every
 * name it touches is claimed, so no create, drop or write of those names
 * can make it stale while the copies are filtered (they get -EBUSY, "being
 * restored, try again"); the commit (store_claim_commit) re-checks the
 * claims, takes the exclusive intents of the tables it replaces or drops,
 * writes the catalog batch and swaps them in one step.
 */
#include "restore.h"

#include "journal.h"

#include "fsutil.h"
#include "ids.h"
#include "jtime.h"
#include "partition.h"
#include "progress.h"

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
	struct progress *p; /* the caller's (progress.h): tablets read */
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
		progress_add(j->p, 1);
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
	struct check_job j = {.root = root, .cut = m->hybrid_time, .p = progress_current()};
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
	progress_phase(j.p, "read", "tablets", j.n);
	/* this thread is one of the workers */
	while (nthreads + 1 < want && !pthread_create(&tids[nthreads], NULL, check_worker, &j))
		nthreads++;
	check_worker(&j);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	progress_phase_end(j.p);
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

/* Every version to restore within reach of this machine's clock, as the
 * cut (manifest_check_cut, checked first): a restore raises the clock above
 * them. The newest version of each tablet comes from the read check. */
static int check_newest(const struct tablet_check *c, size_t n, struct errbuf *e)
{
	int allow = manifest_allow_future_cut(), rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		char what[200];

		snprintf(what, sizeof(what), "tablet '%s': newest version", c[i].rel);
		rc = manifest_check_time(what, c[i].maxts, hlc_wall_us(), allow, e);
	}
	return rc;
}

/* restore_verify, and the read check's findings for the marker restore. */
static int verify_tree(const char *root, struct manifest *m, struct tablet_check **checks,
		       size_t *nchecks, struct errbuf *e)
{
	struct tablet_check *c = NULL;
	size_t n = 0;
	int rc = manifest_verify_tree(root, m, e);

	if (rc == -ENOENT)
		rc = -EBADMSG; /* a missing file in a backup is a refusal, not "not found" */
	if (rc)
		return rc;
	rc = manifest_check_cut(m, hlc_wall_us(), manifest_allow_future_cut(), e);
	if (!rc)
		rc = check_tablets(root, m, &c, &n, e);
	if (!rc)
		rc = check_newest(c, n, e);
	if (rc || !checks) {
		checks_free(c, n);
		c = NULL;
		n = 0;
	}
	if (rc)
		manifest_release(m);
	else if (checks) {
		*checks = c;
		*nchecks = n;
	}
	return rc;
}

int restore_verify(const char *root, struct manifest *m, struct errbuf *e)
{
	return verify_tree(root, m, NULL, NULL, e);
}

int restore_verify_report(const char *root, struct manifest *m, struct verify_report *r,
			  struct errbuf *e)
{
	struct tablet_check *c = NULL;
	size_t n = 0;
	int rc = manifest_verify_tree_report(root, m, r, e);

	if (rc == -ENOENT)
		rc = -EBADMSG; /* as verify_tree */
	if (rc)
		return rc;
	rc = manifest_check_cut(m, hlc_wall_us(), manifest_allow_future_cut(), e);
	if (!rc)
		rc = check_tablets(root, m, &c, &n, e);
	if (!rc)
		rc = check_newest(c, n, e);
	checks_free(c, n);
	if (rc) {
		manifest_release(m);
		r->v = xrealloc(r->v, (r->n + 1) * sizeof(*r->v));
		r->v[r->n++] =
		    (struct verify_finding){.path = xstrdup(""), .rc = rc, .msg = xstrdup(e->msg)};
		r->cap = r->n;
	}
	return rc;
}

/* ---- by marker ---- */

static int finish_journal(const char *data, const struct journal *j, struct errbuf *e)
{
	char *cpath = fs_path("%s/catalog", data), *clock = fs_path("%s/clock", data);
	struct catalog cat = {0};
	struct hlc hlc;
	int rc = hlc_init(&hlc, clock, e);

	if (rc)
		goto out;
	rc = journal_apply(j, data, &hlc, e);
	hlc_release(&hlc);
	if (!rc)
		rc = catalog_open(&cat, cpath, 0, e);
	if (!rc)
		rc = journal_commit(j, &cat, e);
	catalog_close(&cat);
	if (!rc)
		rc = journal_cleanup(j, data, e);
out:
	free(cpath);
	free(clock);
	return rc;
}

static int recover_journal(const char *data, char **what, struct errbuf *e)
{
	struct journal j;
	int rc = journal_read(data, &j, e);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	fprintf(stderr, "snapfs: finishing a restore cut short (journal '%s/%s')\n", data,
		JOURNAL_NAME);
	rc = finish_journal(data, &j, e);
	if (!rc)
		*what = fs_path("finished the restore of snapshot '%s' cut short by a crash",
				j.rec.snapshot_id);
	journal_release(&j);
	return rc;
}

struct live_ctx {
	struct tablerec *v;
	size_t n;
	struct errbuf *e;
};

static int collect_table_cb(void *arg, const char *key, const char *text, size_t len)
{
	struct live_ctx *c = arg;
	struct tablerec t;
	int rc = tablerec_parse(text, len, &t, c->e);

	if (rc)
		return err_prefix(c->e, rc, "catalog record '%s'", key);
	c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
	c->v[c->n++] = t;
	return 0;
}

int restore_marker_run(const char *data, char **what, struct errbuf *e)
{
	char *marker = fs_path("%s/_restore", data), *dir = fs_path("%s/restore", data);
	char *cpath = fs_path("%s/catalog", data);
	struct manifest m = {0};
	struct journal j = {0};
	struct live_ctx live = {.e = e};
	struct catalog cat = {0};
	struct tablet_check *checks = NULL;
	size_t nchecks = 0;
	int64_t t0, t1;
	struct stat st;
	int rc, have_m = 0, have_j = 0;

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
		rc = catalog_scan_text(&cat, "table/", collect_table_cb, &live, e);
	catalog_close(&cat);
	if (rc)
		goto out;
	journal_init(&j, &m, "backup tree", 0);
	have_j = 1;
	for (size_t i = 0; i < m.ntables; i++)
		journal_plan_table(&j, data, live.v, live.n, m.keyspace, m.tables[i].name, &m,
				   &m.tables[i], 0, dir, NULL);
	/* what the read check found, in the order of "tablets": no second pass */
	assert(j.ntablets == nchecks);
	j.have_scanned = 1;
	j.nscanned = nchecks;
	j.scanned = xcalloc(nchecks + 1, sizeof(*j.scanned));
	for (size_t i = 0; i < nchecks; i++)
		j.scanned[i] = (struct jscan){checks[i].maxts, checks[i].nnewer};
	j.remove = xrealloc(j.remove, (j.nremove + 2) * sizeof(*j.remove));
	j.remove[j.nremove++] = xstrdup(dir);
	j.remove[j.nremove++] = xstrdup(marker);
	rc = journal_write(data, &j, e);
	if (rc)
		goto out;
	snap_crash_point("restore-after-journal");
	rc = finish_journal(data, &j, e);
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
	if (have_j)
		journal_release(&j);
	tablerecs_free(live.v, live.n);
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

/* What the plan of an online restore needs, and the journal it fills. */
struct online_plan {
	const char *data;
	const struct snap_info *info;
	const size_t *idx;
	size_t n;
	const char *table, *as, *ks, *name;
	uint64_t to;
	char **dirs; /* staged copies, per tablet of the chosen tables */
	struct journal *j;
};

/* Runs under the store's lock: plans from the live tables and claims
 * every name the plan touches, so none can be created, dropped or written
 * until the restore ends. Pure but for the claims. */
static int plan_online(void *arg, const struct tablerec *live, size_t nlive, struct store_claim *c,
		       struct errbuf *e)
{
	struct online_plan *p = arg;
	const struct manifest *m = &p->info->m;
	int rc = 0;

	if (p->as)
		for (size_t i = 0; i < nlive; i++)
			if (!strcmp(live[i].ks, p->ks) && !strcmp(live[i].name, p->name))
				return err_set(e, -EEXIST,
					       "table '%s': already exists (--as needs a new name)",
					       p->as);
	for (size_t i = 0, k = 0; i < p->n; i++) {
		const struct manifest_table *mt = &m->tables[p->idx[i]];

		journal_plan_table(p->j, p->data, live, nlive, p->table ? p->ks : m->keyspace,
				   p->table ? p->name : mt->name, m, mt,
				   p->as ? 0 : p->info->table_created_ht[p->idx[i]], NULL,
				   p->dirs + k);
		k += mt->ntablets;
	}
	if (p->to && !p->table)
		journal_plan_drops(p->j, p->data, live, nlive, m->keyspace, p->to);
	/* the claims: each table put in place (expecting the live one it
	 * replaces, or none) and each dropped */
	for (size_t i = 0; i < p->j->nrecords && !rc; i++) {
		const struct jrecord *r = &p->j->records[i];
		const struct tablerec *old = NULL;

		if (r->kind == J_KS)
			continue;
		for (size_t k = 0; k < nlive && !old; k++)
			if (!strcmp(live[k].id, r->kind == J_TABLE ? r->table.id : r->drop))
				old = &live[k];
		if (r->kind == J_TABLE)
			rc = store_claim_name(c, r->table.ks, r->table.name, old ? old->id : "", e);
		else if (old)
			rc = store_claim_name(c, old->ks, old->name, old->id, e);
	}
	return rc;
}

static int commit_cb(void *arg, struct errbuf *e)
{
	void **a = arg;

	return journal_commit(a[0], a[1], e);
}

static int restore_online(struct store *s, struct snapshots *ss, const char *id, const char *table,
			  const char *as, uint64_t to, struct errbuf *e)
{
	const char *data = store_data(s);
	struct snap_info info;
	struct journal j = {0};
	struct store_claim *claim = NULL;
	struct tablerec *installs = NULL;
	char(*drops)[ID_LEN + 1] = NULL;
	char ks[65] = "", name[65] = "", *stage = staging_dir(data), **dirs = NULL;
	size_t *idx = NULL, n = 0, ndirs = 0, ninst = 0, ndrops = 0;
	int rc = snap_pin(ss, id, &info, e), pinned = !rc, journaled = 0, committed = 0;
	int have_j = 0;

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
	{
		uint64_t ncopies = 0;

		for (size_t i = 0; i < n; i++)
			ncopies += info.m.tables[idx[i]].ntablets;
		progress_phase(progress_current(), "copy", "tablets", ncopies);
	}
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
			progress_add(progress_current(), 1);
		}
	}
	progress_phase_end(progress_current());
	if (rc)
		goto out;
	journal_init(&j, &info.m, to ? "time" : "snapshot", to);
	have_j = 1;
	{
		struct online_plan p = {data, &info, idx, n, table, as, ks, name, to, dirs, &j};

		rc = store_claim_begin(s, plan_online, &p, &claim, e);
	}
	if (rc)
		goto out;
	rc = journal_write(data, &j, e);
	if (rc)
		goto out;
	journaled = 1;
	snap_crash_point("online-restore-after-journal");
	snap_delay_point("online-restore-after-journal");
	rc = journal_apply(&j, data, store_clock(s), e);
	if (rc)
		goto out;
	/* commit and swap: the affected tables change in one step */
	installs = xcalloc(j.nrecords + 1, sizeof(*installs));
	drops = xcalloc(j.nrecords + 1, sizeof(*drops));
	for (size_t i = 0; i < j.nrecords; i++)
		if (j.records[i].kind == J_TABLE)
			installs[ninst++] = j.records[i].table; /* shallow: j owns it */
		else if (j.records[i].kind == J_DROP)
			strcpy(drops[ndrops++], j.records[i].drop);
	rc = store_claim_commit(s, claim, installs, ninst, (const char(*)[ID_LEN + 1]) drops,
				ndrops, commit_cb, (void *[]){&j, store_catalog(s)}, e);
	committed = !rc;
	if (!rc)
		rc = journal_cleanup(&j, data, e);
	if (!rc)
		rmdir(stage); /* empty now: every staged copy was moved */
out:
	if (claim)
		store_claim_end(s, claim);
	if (rc && journaled && !committed)
		journal_rollback(&j, data); /* the old tables were never touched */
	if (rc && !committed)
		fs_remove_tree(stage);
	for (size_t i = 0; i < ndirs; i++)
		free(dirs[i]);
	free(dirs);
	free(idx);
	free(stage);
	free(installs);
	free(drops);
	if (have_j)
		journal_release(&j);
	if (pinned) {
		snap_unpin(ss, id);
		snap_info_release(&info);
	}
	return rc;
}

/* Each restoration record, parsed strictly and written back in its one
 * format (the listing is the record). */
static int list_cb(void *arg, const char *key, const char *text, size_t len)
{
	void **a = arg;
	struct restorerec r;
	struct errbuf *e = a[1];
	int rc = restorerec_parse(text, len, &r, e);
	json_object *o;

	if (rc)
		return err_prefix(e, rc, "catalog record '%s'", key);
	/* the record's fields, with its two times in the one JSON form of
	 * times (jtime.h): time/hybrid_time when it was done, cut_time/
	 * cut_hybrid_time its cut */
	o = restorerec_to_json(&r, 1);
	json_object_object_del(o, "restored_us");
	json_object_object_del(o, "hybrid_time");
	json_object_object_del(o, "cut_time");
	jtime_add_us(o, NULL, r.restored_us);
	jtime_add(o, "cut", r.hybrid_time);
	json_object_array_add(a[0], o);
	restorerec_release(&r);
	return 0;
}

int restore_list(struct catalog *c, json_object **out, struct errbuf *e)
{
	json_object *arr = json_object_new_array();
	int rc;

	rc = catalog_scan_text(c, "restore/", list_cb, (void *[]){arr, e}, e);
	if (rc)
		json_object_put(arr);
	else
		*out = arr;
	return rc;
}
