/*
 * space: see space.h for what is counted and why. The walk (space_measure)
 * lists names; the accounting (space_account) is a pure function over
 * them: sorted by inode, each inode's names are one run, and a run tells
 * who holds the file and whether every link of it is accounted for.
 */
#include "space.h"

#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- accounting ---- */

static int cmp_name(const void *a, const void *b)
{
	const struct space_name *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->snap != y->snap)
		return x->snap < y->snap ? -1 : 1;
	return x->ks < y->ks ? -1 : x->ks > y->ks;
}

/* One inode's names v[0..n), sorted by snapshot (live ones first). The
 * stamps say which keyspaces this run has counted already. */
static void account_run(const struct space_name *v, size_t n, struct space_usage *u, size_t run,
			size_t *live_seen, size_t *snap_seen)
{
	nlink_t nlink = 0;
	uint64_t bytes = v[0].bytes;
	size_t in_snaps = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i].nlink > nlink)
			nlink = v[i].nlink; /* a link made between two stats: the larger */
		if (v[i].snap >= 0)
			in_snaps++;
	}
	for (size_t i = 0; i < n;) {
		size_t j = i;

		while (j < n && v[j].snap == v[i].snap)
			j++;
		if (v[i].snap < 0) {
			for (size_t k = i; k < j; k++)
				if (live_seen[v[k].ks] != run) {
					live_seen[v[k].ks] = run;
					u->ks[v[k].ks].live_bytes += bytes;
				}
		} else {
			struct space_snapshot *s = &u->snaps[v[i].snap];
			struct space_keyspace *k = &u->ks[v[i].ks];

			s->bytes += bytes;
			if (j - i >= nlink)
				s->exclusive_bytes += bytes; /* every link is in this one */
			if (snap_seen[v[i].ks] != run) {
				snap_seen[v[i].ks] = run;
				k->snapshot_bytes += bytes;
				if (in_snaps >= nlink)
					k->snapshot_exclusive_bytes += bytes;
			}
		}
		i = j;
	}
}

void space_account(struct space_name *v, size_t n, struct space_usage *u)
{
	size_t *live_seen = xcalloc(u->nks + 1, sizeof(size_t));
	size_t *snap_seen = xcalloc(u->nks + 1, sizeof(size_t));
	size_t run = 0;

	if (n)
		qsort(v, n, sizeof(*v), cmp_name);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && v[j].dev == v[i].dev && v[j].ino == v[i].ino)
			j++;
		account_run(v + i, j - i, u, ++run, live_seen, snap_seen);
		i = j;
	}
	free(live_seen);
	free(snap_seen);
}

/* ---- the walk ---- */

struct names {
	struct space_name *v;
	size_t n, cap;
};

static void add_name(struct names *a, const struct stat *st, long snap, size_t ks)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 256;
		a->v = xrealloc(a->v, a->cap * sizeof(*a->v));
	}
	a->v[a->n++] = (struct space_name){
	    .dev = st->st_dev,
	    .ino = st->st_ino,
	    .nlink = S_ISDIR(st->st_mode) ? 1 : st->st_nlink,
	    .bytes = (uint64_t)st->st_blocks * 512,
	    .snap = snap,
	    .ks = ks,
	};
}

/* Every name at and below parent/name, never following a symlink. What
 * vanishes meanwhile is skipped. */
static void walk(int parent, const char *name, long snap, size_t ks, struct names *a, int depth)
{
	struct stat st;
	struct dirent *de;
	DIR *d;
	int fd;

	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	add_name(a, &st, snap, ks);
	if (!S_ISDIR(st.st_mode) || depth > 8)
		return;
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			walk(dirfd(d), de->d_name, snap, ks, a, depth + 1);
	closedir(d);
}

static int cmp_ks(const void *a, const void *b)
{
	return strcmp(((const struct space_keyspace *)a)->name,
		      ((const struct space_keyspace *)b)->name);
}

static size_t ks_index(const struct space_usage *u, const char *name)
{
	struct space_keyspace key = {0};
	const struct space_keyspace *k;

	snprintf(key.name, sizeof(key.name), "%s", name);
	k = bsearch(&key, u->ks, u->nks, sizeof(*u->ks), cmp_ks);
	return k ? (size_t)(k - u->ks) : 0;
}

/* The keyspaces of the live tables and of the snapshots, sorted, once. */
static void collect_keyspaces(struct space_usage *u, const struct tablerec *t, size_t nt,
			      const struct snaprec *r, size_t nr)
{
	size_t k = 0;

	u->ks = xcalloc(nt + nr + 1, sizeof(*u->ks));
	for (size_t i = 0; i < nt; i++)
		strcpy(u->ks[k++].name, t[i].ks);
	for (size_t i = 0; i < nr; i++)
		strcpy(u->ks[k++].name, r[i].ks);
	if (k)
		qsort(u->ks, k, sizeof(*u->ks), cmp_ks);
	u->nks = 0;
	for (size_t i = 0; i < k; i++)
		if (!u->nks || strcmp(u->ks[u->nks - 1].name, u->ks[i].name))
			u->ks[u->nks++] = u->ks[i];
}

void space_measure(struct store *s, struct snapshots *ss, struct space_usage *u)
{
	const char *data = store_data(s);
	struct tablerec *t = NULL;
	struct snaprec *r = NULL;
	struct names a = {0};
	size_t nt = 0, nr = 0;

	memset(u, 0, sizeof(*u));
	store_table_recs(s, NULL, &t, &nt);
	snap_records(ss, &r, &nr);
	collect_keyspaces(u, t, nt, r, nr);
	u->snaps = xcalloc(nr + 1, sizeof(*u->snaps));
	u->nsnaps = nr;
	for (size_t i = 0; i < nt; i++)
		for (unsigned j = 0; j < t[i].ntablets; j++) {
			char *dir = store_tablet_path(data, t[i].id, t[i].tablets[j].id);

			walk(AT_FDCWD, dir, -1, ks_index(u, t[i].ks), &a, 0);
			free(dir);
		}
	for (size_t i = 0; i < nr; i++) {
		size_t k = ks_index(u, r[i].ks);
		char *meta = fs_path("%s/snapshots/%s", data, r[i].id);

		strcpy(u->snaps[i].id, r[i].id);
		strcpy(u->snaps[i].ks, r[i].ks);
		walk(AT_FDCWD, meta, (long)i, k, &a, 0);
		free(meta);
		for (size_t j = 0; j < r[i].ntables; j++)
			for (unsigned m = 0; m < r[i].tables[j].ntablets; m++) {
				char *dir = snap_checkpoint_dir(
				    data, r[i].tables[j].id, r[i].tables[j].tablets[m].id, r[i].id);

				walk(AT_FDCWD, dir, (long)i, k, &a, 0);
				free(dir);
			}
	}
	space_account(a.v, a.n, u);
	free(a.v);
	tablerecs_free(t, nt);
	for (size_t i = 0; i < nr; i++)
		snaprec_release(&r[i]);
	free(r);
}

void space_usage_release(struct space_usage *u)
{
	free(u->snaps);
	free(u->ks);
	memset(u, 0, sizeof(*u));
}

const struct space_keyspace *space_keyspace_find(const struct space_usage *u, const char *name)
{
	for (size_t i = 0; i < u->nks; i++)
		if (!strcmp(u->ks[i].name, name))
			return &u->ks[i];
	return NULL;
}

const struct space_snapshot *space_snapshot_find(const struct space_usage *u, const char *id)
{
	for (size_t i = 0; i < u->nsnaps; i++)
		if (!strcmp(u->snaps[i].id, id))
			return &u->snaps[i];
	return NULL;
}
