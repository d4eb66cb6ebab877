/*
 * view_tree: the immutable model of the mounted tree, one generation per
 * catalog state (see view.h for the tree, view_int.h for the lifetimes).
 *
 * A generation is a synthetic top (root, snapshots/, latest, tables/,
 * restore-points/) over subtrees, one per snapshot directory and one per
 * restore point. A snapshot subtree is built once, by stat-ing every
 * underlying file, and shared by every later generation that lists the
 * same snapshot unchanged (same fingerprint): adding a snapshot stats only
 * its own files. A restore point's subtree clones the snapshot's directory
 * nodes (directories need inode numbers of their own path) and borrows its
 * file nodes.
 *
 * Invariants:
 * - Inode numbers are deterministic. Files: the underlying st_ino (an SST
 *   hard-linked into several snapshots is one inode everywhere). Files on a
 *   device other than the first one seen, or whose st_ino is 1 or has the
 *   top bit set, get a hash of (st_dev, st_ino) instead. Directories and
 *   symlinks: a hash of their path (a symlink's also of its target, so a
 *   moved `latest` is a new inode) with VIEW_SYNTH_BIT set. The root is 1.
 * - Every answer goes through the generation's inode index, which holds
 *   for a shared file its most recent stat: the same inode reports the
 *   same attributes under every path.
 * - The entry generation of a file is derived from its birth time (or
 *   mtime), so an inode number reused by a different file after a snapshot
 *   is deleted is a new inode to the kernel, never its stale page cache.
 * - Directory nlink is 2 + subdirectories; a non-empty file never reports
 *   st_blocks 0; synthetic directories carry the newest snapshot time they
 *   hold (0 if none), never the mount time. A tablet directory has its
 *   checkpoint directory's mode; every other directory is 0755 (copies made
 *   by rsync or tar stay deletable; the mount itself is read-only).
 * - A directory's children are sorted by (doff, name), doff being a hash of
 *   the name alone: the readdir offset of an entry is the same in every
 *   generation and across remounts (see VIEW_DOFF_MIN), and lookups and
 *   the diff walk the same order.
 *
 * Called by view_mount.c under view->build_lock (building) and by
 * view_ops.c from any FUSE thread (lookups on an immutable generation).
 */
#include "view_int.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fsutil.h"
#include "hash.h"

/* ---- hashing ---- */

#define HASH_SEED FNV1A64_SEED

static uint64_t hash_str(uint64_t h, const char *s)
{
	/* the terminating NUL separates fields */
	return fnv1a64(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

static uint64_t hash_u64(uint64_t h, uint64_t v)
{
	return fnv1a64(h, &v, sizeof(v));
}

uint64_t view_path_ino(const char *path)
{
	return mix64(hash_str(HASH_SEED, path)) | VIEW_SYNTH_BIT;
}

static uint64_t link_ino(const char *path, const char *target)
{
	return mix64(hash_str(hash_str(HASH_SEED, path), target)) | VIEW_SYNTH_BIT;
}

/* 63 bits: off_t is signed. Two names of one directory share a doff with
 * odds of about n^2 / 2^64; readdir never splits such a run. */
static uint64_t name_doff(const char *name)
{
	uint64_t h = mix64(hash_str(HASH_SEED ^ 0x5f3759df, name)) >> 1;

	return h < VIEW_DOFF_MIN ? h + VIEW_DOFF_MIN : h;
}

/* ---- validation of what the catalog hands us ---- */

int view_name_ok(const char *name)
{
	size_t n;

	if (!name)
		return 0;
	n = strlen(name);
	if (n == 0 || n > 255 || strchr(name, '/'))
		return 0;
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int view_id_ok(const char *id)
{
	for (int i = 0; i < 32; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	return id[32] == '\0';
}

/* ---- pools and nodes ---- */

static char *pool_str(struct view_pool *p, const char *s)
{
	if (p->nstrs == p->capstrs) {
		p->capstrs = p->capstrs ? 2 * p->capstrs : 8;
		p->strs = xrealloc(p->strs, p->capstrs * sizeof(*p->strs));
	}
	return p->strs[p->nstrs++] = xstrdup(s);
}

static struct view_node *node_new(struct view_pool *p, enum view_kind kind, const char *name,
				  uint64_t ino)
{
	struct view_node *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->name = xstrdup(name);
	n->doff = name_doff(name);
	n->ino = ino;
	if (p->nnodes == p->capnodes) {
		p->capnodes = p->capnodes ? 2 * p->capnodes : 16;
		p->nodes = xrealloc(p->nodes, p->capnodes * sizeof(*p->nodes));
	}
	p->nodes[p->nnodes++] = n;
	return n;
}

static void pool_release(struct view_pool *p)
{
	for (size_t i = 0; i < p->nnodes; i++) {
		struct view_node *n = p->nodes[i];

		if (n->kind == VIEW_DIR)
			free(n->dir.kids);
		else if (n->kind == VIEW_LINK)
			free(n->link.target);
		free(n->name);
		free(n);
	}
	for (size_t i = 0; i < p->nstrs; i++)
		free(p->strs[i]);
	free(p->nodes);
	free(p->strs);
	memset(p, 0, sizeof(*p));
}

static struct timespec ts_of_us(int64_t us)
{
	struct timespec ts = {0, 0};

	if (us > 0) {
		ts.tv_sec = (time_t)(us / 1000000);
		ts.tv_nsec = (long)(us % 1000000) * 1000;
	}
	return ts;
}

static void attr_synth(struct view_node *n, const struct view_builder *b, struct timespec t)
{
	memset(&n->a, 0, sizeof(n->a));
	n->a.uid = b->uid;
	n->a.gid = b->gid;
	n->a.blksize = 4096;
	n->a.atime = n->a.mtime = n->a.ctime = t;
	if (n->kind == VIEW_DIR) {
		n->a.mode = S_IFDIR | 0755;
		n->a.nlink = 2;
		n->a.size = 4096;
		n->a.blocks = 8;
	} else {
		n->a.mode = S_IFLNK | 0777;
		n->a.nlink = 1;
		n->a.size = (int64_t)strlen(n->link.target);
	}
}

static struct view_node *dir_new(struct view_pool *p, const struct view_builder *b,
				 const char *name, const char *path, uint64_t parent,
				 struct timespec t)
{
	struct view_node *d = node_new(p, VIEW_DIR, name, view_path_ino(path));

	d->dir.parent = parent;
	attr_synth(d, b, t);
	return d;
}

static void dir_add(struct view_node *d, struct view_node *kid)
{
	if (d->dir.nkids == d->dir.cap) {
		d->dir.cap = d->dir.cap ? 2 * d->dir.cap : 8;
		d->dir.kids = xrealloc(d->dir.kids, d->dir.cap * sizeof(*d->dir.kids));
	}
	d->dir.kids[d->dir.nkids++] = kid;
}

/* Linear: only used while building, on directories with few entries. */
static struct view_node *dir_find(const struct view_node *d, const char *name)
{
	for (size_t i = 0; i < d->dir.nkids; i++)
		if (strcmp(d->dir.kids[i]->name, name) == 0)
			return d->dir.kids[i];
	return NULL;
}

/* The order of a directory's children: by doff, then by name. */
static int kid_order(uint64_t xoff, const char *xname, const struct view_node *y)
{
	if (xoff != y->doff)
		return xoff < y->doff ? -1 : 1;
	return strcmp(xname, y->name);
}

static int kid_cmp(const void *a, const void *b)
{
	const struct view_node *x = *(const struct view_node *const *)a;
	const struct view_node *y = *(const struct view_node *const *)b;

	return kid_order(x->doff, x->name, y);
}

/* Sorts the entries and sets nlink. Duplicate names: -EEXIST, or dropped
 * (the first kept) when dedupe is set. */
static int dir_finish(struct view_node *d, int dedupe, const char **dup)
{
	size_t i, j, subdirs = 0;

	if (d->dir.nkids > 1)
		qsort(d->dir.kids, d->dir.nkids, sizeof(*d->dir.kids), kid_cmp);
	for (i = 0, j = 0; i < d->dir.nkids; i++) {
		if (j && strcmp(d->dir.kids[j - 1]->name, d->dir.kids[i]->name) == 0) {
			if (!dedupe) {
				*dup = d->dir.kids[i]->name;
				return -EEXIST;
			}
			continue;
		}
		d->dir.kids[j++] = d->dir.kids[i];
	}
	d->dir.nkids = j;
	for (i = 0; i < d->dir.nkids; i++)
		if (d->dir.kids[i]->kind == VIEW_DIR)
			subdirs++;
	d->a.nlink = (uint32_t)(2 + subdirs);
	return 0;
}

const struct view_node *view_dir_lookup(const struct view_node *dir, const char *name)
{
	uint64_t off = name_doff(name);
	size_t lo = 0, hi = dir->dir.nkids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = kid_order(off, name, dir->dir.kids[mid]);

		if (c == 0)
			return dir->dir.kids[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

size_t view_dir_seek(const struct view_node *dir, uint64_t off)
{
	size_t lo = 0, hi = dir->dir.nkids;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dir->dir.kids[mid]->doff <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void view_gen_stat(const struct view_gen *g, const struct view_node *n, struct stat *st)
{
	view_node_stat(n, st);
	if (n->kind == VIEW_FILE)
		st->st_nlink = view_gen_links(g, n->ino);
}

void view_node_stat(const struct view_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->a.mode;
	st->st_nlink = n->a.nlink;
	st->st_uid = n->a.uid;
	st->st_gid = n->a.gid;
	st->st_size = n->a.size;
	st->st_blocks = n->a.blocks;
	st->st_blksize = n->a.blksize;
	st->st_atim = n->a.atime;
	st->st_mtim = n->a.mtime;
	st->st_ctim = n->a.ctime;
}

/* ---- snapshot subtrees ---- */

static uint64_t snap_fingerprint(const struct view_snapshot *s)
{
	uint64_t h = hash_str(HASH_SEED, s->id);

	h = hash_u64(h, (uint64_t)s->wall_us);
	h = hash_str(h, s->meta_dir);
	h = hash_u64(h, s->ndirs);
	for (size_t i = 0; i < s->ndirs; i++) {
		h = hash_str(h, s->dirs[i].rel);
		h = hash_str(h, s->dirs[i].src);
	}
	return mix64(h);
}

static struct timespec ts_of_statx(struct statx_timestamp t)
{
	struct timespec ts = {(time_t)t.tv_sec, (long)t.tv_nsec};

	return ts;
}

/* Adds the regular file dirfd/name (underlying directory srcdir) to d.
 * Returns 1 if it is not a regular file (skipped), 0, or a negative errno. */
static int add_file(struct view_builder *b, struct view_pool *p, struct view_node *d,
		    const char *srcdir, int dirfd, const char *name)
{
	struct statx sx;
	struct view_node *n;
	dev_t dev;
	uint64_t ino, id;

	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0)
		return -errno;
	if (!S_ISREG(sx.stx_mode))
		return 1;
	dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	if (!b->have_dev) {
		b->primary_dev = dev;
		b->have_dev = 1;
	}
	ino = sx.stx_ino;
	if (dev != b->primary_dev || ino == FUSE_ROOT_ID || (ino & VIEW_SYNTH_BIT))
		ino = mix64(hash_u64(hash_u64(HASH_SEED, (uint64_t)dev), sx.stx_ino)) |
		      VIEW_SYNTH_BIT;

	n = node_new(p, VIEW_FILE, name, ino);
	n->file.srcdir = srcdir;
	n->file.dev = dev;
	n->file.real_ino = (ino_t)sx.stx_ino;
	n->file.seq = ++b->seq;
	n->a.mode = sx.stx_mode;
	n->a.nlink = 1; /* the generation counts the names (view_gen_stat) */
	n->a.uid = sx.stx_uid;
	n->a.gid = sx.stx_gid;
	n->a.size = (int64_t)sx.stx_size;
	n->a.blocks = (int64_t)sx.stx_blocks;
	if (n->a.size > 0 && n->a.blocks == 0)
		n->a.blocks = (n->a.size + 511) / 512; /* GNU tar --sparse would drop it */
	n->a.blksize = sx.stx_blksize ? sx.stx_blksize : 4096;
	/* Frozen: a later snapshot's hard link (or a reader) moves the
	 * underlying ctime (atime), and backup tools take a moved ctime for
	 * changed content. The file's content is immutable since its mtime. */
	n->a.mtime = ts_of_statx(sx.stx_mtime);
	n->a.atime = n->a.ctime = n->a.mtime;
	/* identity of the underlying inode: birth time if the fs has one */
	id = hash_u64(HASH_SEED, (uint64_t)dev);
	id = hash_u64(id, sx.stx_ino);
	if (sx.stx_mask & STATX_BTIME) {
		id = hash_u64(id, (uint64_t)sx.stx_btime.tv_sec);
		id = hash_u64(id, sx.stx_btime.tv_nsec);
	} else {
		id = hash_u64(id, (uint64_t)sx.stx_mtime.tv_sec);
		id = hash_u64(id, sx.stx_mtime.tv_nsec);
	}
	n->fgen = mix64(id);
	dir_add(d, n);
	return 0;
}

/* The meta files every snapshot directory carries. */
static const char *const meta_files[] = {"SNAPSHOT.json", "SHA256SUMS"};

static int add_meta(struct view_builder *b, struct view_subtree *t, const struct view_snapshot *s,
		    char *why, size_t whylen)
{
	const char *srcdir;
	int fd, rc = 0;

	if (!s->meta_dir) {
		snprintf(why, whylen, "no metadata directory");
		return -EINVAL;
	}
	srcdir = pool_str(&t->pool, s->meta_dir);
	fd = open(srcdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot open '%s': %s", srcdir, strerror(-rc));
		return rc;
	}
	for (size_t i = 0; i < sizeof(meta_files) / sizeof(meta_files[0]); i++) {
		rc = add_file(b, &t->pool, t->root, srcdir, fd, meta_files[i]);
		if (rc) {
			if (rc > 0)
				rc = -EINVAL;
			snprintf(why, whylen, "cannot read '%s/%s': %s", srcdir, meta_files[i],
				 rc == -EINVAL ? "not a regular file" : strerror(-rc));
			break;
		}
	}
	close(fd);
	return rc;
}

/* Creates the directories of rel under t's root and returns the last one,
 * which must not exist yet; NULL with why filled if rel is not a clean
 * relative path (no empty, "." or ".." component). */
static struct view_node *make_rel_dirs(struct view_builder *b, struct view_subtree *t,
				       const char *rel, struct timespec when, char *why,
				       size_t whylen)
{
	struct view_node *d = t->root, *kid;
	char *path = NULL, *comp = NULL;
	const char *p = rel, *slash;

	if (!rel || !*rel)
		goto bad;
	path = xstrdup(t->prefix);
	for (; p; p = slash ? slash + 1 : NULL) {
		char *next;

		slash = strchr(p, '/');
		free(comp);
		comp = slash ? strndup(p, (size_t)(slash - p)) : xstrdup(p);
		if (!comp)
			abort();
		if (!view_name_ok(comp))
			goto bad;
		next = fs_path("%s/%s", path, comp);
		free(path);
		path = next;
		kid = dir_find(d, comp);
		if (kid && (kid->kind != VIEW_DIR || !slash)) {
			snprintf(why, whylen, "tablet path '%s' given twice", rel);
			d = NULL;
			goto out;
		}
		if (!kid) {
			kid = dir_new(&t->pool, b, comp, path, d->ino, when);
			dir_add(d, kid);
		}
		d = kid;
	}
	goto out;
bad:
	snprintf(why, whylen, "bad tablet path '%s'", rel ? rel : "");
	d = NULL;
out:
	free(comp);
	free(path);
	return d;
}

static int add_tablet_dir(struct view_builder *b, struct view_subtree *t,
			  const struct view_tablet_dir *td, struct timespec when, char *why,
			  size_t whylen)
{
	struct view_node *d;
	const char *srcdir;
	struct dirent *de;
	struct stat st;
	DIR *dir = NULL;
	int rc = 0;

	d = make_rel_dirs(b, t, td->rel, when, why, whylen);
	if (!d)
		return -EINVAL;
	if (!td->src || td->src[0] != '/') {
		snprintf(why, whylen, "tablet '%s': source is not an absolute path", td->rel);
		return -EINVAL;
	}
	srcdir = pool_str(&t->pool, td->src);
	dir = opendir(srcdir);
	if (!dir) {
		rc = -errno;
		snprintf(why, whylen, "cannot open '%s': %s", srcdir, strerror(-rc));
		return rc;
	}
	if (fstat(dirfd(dir), &st) < 0) {
		rc = -errno;
		snprintf(why, whylen, "cannot stat '%s': %s", srcdir, strerror(-rc));
		goto out;
	}
	d->a.mode = S_IFDIR | (st.st_mode & 07777); /* a real directory: its own mode */
	while ((errno = 0, de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rc = add_file(b, &t->pool, d, srcdir, dirfd(dir), de->d_name);
		if (rc == -ENOENT) {
			rc = 0; /* raced with a cleanup of a temp file: not part of it */
			continue;
		}
		if (rc > 0) {
			view_log("'%s/%s': not a regular file, not shown", srcdir, de->d_name);
			rc = 0;
			continue;
		}
		if (rc < 0) {
			snprintf(why, whylen, "cannot stat '%s/%s': %s", srcdir, de->d_name,
				 strerror(-rc));
			break;
		}
	}
	if (!rc && errno) {
		rc = -errno;
		snprintf(why, whylen, "cannot list '%s': %s", srcdir, strerror(-rc));
	}
out:
	closedir(dir);
	return rc;
}

static int finish_tree(struct view_node *d, char *why, size_t whylen)
{
	const char *dup = NULL;

	if (dir_finish(d, 0, &dup) < 0) {
		snprintf(why, whylen, "'%s' given twice", dup);
		return -EEXIST;
	}
	for (size_t i = 0; i < d->dir.nkids; i++)
		if (d->dir.kids[i]->kind == VIEW_DIR && finish_tree(d->dir.kids[i], why, whylen))
			return -EEXIST;
	return 0;
}

static struct view_subtree *subtree_new(const char *prefix, uint64_t fp)
{
	struct view_subtree *t = xcalloc(1, sizeof(*t));

	atomic_init(&t->ref, 1);
	t->prefix = xstrdup(prefix);
	t->fp = fp;
	return t;
}

static void subtree_put(struct view_subtree *t)
{
	int left;

	if (!t)
		return;
	left = atomic_fetch_sub(&t->ref, 1);
	assert(left > 0);
	if (left != 1)
		return;
	pool_release(&t->pool);
	subtree_put(t->src);
	free(t->prefix);
	free(t);
}

/* Makes t's root an empty directory that answers EIO. */
static void subtree_break(struct view_builder *b, struct view_subtree *t, struct timespec when)
{
	const char *slash = strrchr(t->prefix, '/');
	char *parent = xstrdup(t->prefix);

	parent[slash - t->prefix] = '\0';
	pool_release(&t->pool);
	t->root = dir_new(&t->pool, b, slash + 1, t->prefix, view_path_ino(parent), when);
	t->root->dir.broken = 1;
	free(parent);
}

static struct view_subtree *snaptree_build(struct view_builder *b, const struct view_snapshot *s,
					   const char *prefix, uint64_t fp)
{
	struct view_subtree *t = subtree_new(prefix, fp);
	struct timespec when = ts_of_us(s->wall_us);
	char why[512] = "";
	int rc;

	t->root = dir_new(&t->pool, b, s->id, prefix, view_path_ino("snapshots"), when);
	rc = add_meta(b, t, s, why, sizeof(why));
	for (size_t i = 0; !rc && i < s->ndirs; i++)
		rc = add_tablet_dir(b, t, &s->dirs[i], when, why, sizeof(why));
	if (!rc)
		rc = finish_tree(t->root, why, sizeof(why));
	if (rc) {
		view_log("snapshot '%s': %s; its directory answers EIO", s->id, why);
		subtree_break(b, t, when);
	}
	t->root->subroot = 1;
	return t;
}

/* Copies src's directories under a new path; files are borrowed. */
static struct view_node *clone_dir(struct view_pool *p, const struct view_node *src,
				   const char *name, const char *path, uint64_t parent)
{
	struct view_node *d = node_new(p, VIEW_DIR, name, view_path_ino(path));

	d->a = src->a;
	d->dir.parent = parent;
	d->dir.broken = src->dir.broken;
	d->dir.kids = xcalloc(src->dir.nkids ? src->dir.nkids : 1, sizeof(*d->dir.kids));
	d->dir.cap = src->dir.nkids;
	for (size_t i = 0; i < src->dir.nkids; i++) {
		struct view_node *k = src->dir.kids[i];

		if (k->kind == VIEW_DIR) {
			char *kpath = fs_path("%s/%s", path, k->name);

			k = clone_dir(p, k, k->name, kpath, d->ino);
			free(kpath);
		}
		d->dir.kids[d->dir.nkids++] = k;
	}
	return d;
}

static struct view_subtree *rptree_build(struct view_subtree *src, const char *prefix,
					 const char *name, const char *parent)
{
	struct view_subtree *t = subtree_new(prefix, 0);

	atomic_fetch_add(&src->ref, 1);
	t->src = src;
	t->root = clone_dir(&t->pool, src->root, name, prefix, view_path_ino(parent));
	t->root->subroot = 1;
	return t;
}

/* ---- generations ---- */

static int tree_cmp(const void *a, const void *b)
{
	const struct view_subtree *x = *(const struct view_subtree *const *)a;
	const struct view_subtree *y = *(const struct view_subtree *const *)b;

	return strcmp(x->prefix, y->prefix);
}

/* old's subtree at prefix, or NULL (old->trees is sorted by prefix). */
static struct view_subtree *old_tree(const struct view_gen *old, const char *prefix)
{
	struct view_subtree key = {.prefix = (char *)prefix}, *kp = &key, **hit;

	if (!old || !old->ntrees)
		return NULL;
	hit = bsearch(&kp, old->trees, old->ntrees, sizeof(*old->trees), tree_cmp);
	return hit ? *hit : NULL;
}

static void gen_add_tree(struct view_gen *g, struct view_subtree *t)
{
	if (g->ntrees == g->treecap) {
		g->treecap = g->treecap ? 2 * g->treecap : 16;
		g->trees = xrealloc(g->trees, g->treecap * sizeof(*g->trees));
	}
	g->trees[g->ntrees++] = t;
}

static int snap_cmp(const void *a, const void *b)
{
	const struct view_snapshot *x = *(const struct view_snapshot *const *)a;
	const struct view_snapshot *y = *(const struct view_snapshot *const *)b;

	return strcmp(x->id, y->id);
}

static int rp_cmp(const void *a, const void *b)
{
	const struct view_restore_point *x = *(const struct view_restore_point *const *)a;
	const struct view_restore_point *y = *(const struct view_restore_point *const *)b;
	int c = strcmp(x->schedule_id, y->schedule_id);

	return c ? c : strcmp(x->name, y->name);
}

static int newer(const struct view_snapshot *a, const struct view_snapshot *b)
{
	if (a->wall_us != b->wall_us)
		return a->wall_us > b->wall_us;
	return strcmp(a->id, b->id) > 0;
}

static struct view_node *synth_dir(struct view_gen *g, const struct view_builder *b,
				   struct view_node *parent, const char *name, const char *path)
{
	struct view_node *d = dir_find(parent, name);

	if (d)
		return d;
	d = dir_new(&g->pool, b, name, path, parent->ino, ts_of_us(0));
	d->top = 1;
	dir_add(parent, d);
	return d;
}

static int ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* Post-order over the synthetic top: sort, dedupe, nlink, newest time. */
static void synth_finish(struct view_node *d)
{
	const char *dup = NULL;
	struct timespec t = d->a.mtime;

	for (size_t i = 0; i < d->dir.nkids; i++) {
		struct view_node *k = d->dir.kids[i];

		if (k->top && k->kind == VIEW_DIR)
			synth_finish(k);
		if (ts_before(t, k->a.mtime))
			t = k->a.mtime;
	}
	dir_finish(d, 1, &dup);
	d->a.atime = d->a.mtime = d->a.ctime = t;
}

static struct view_node *link_new(struct view_gen *g, const struct view_builder *b,
				  struct view_node *parent, const char *name, const char *path,
				  const char *target, int64_t wall_us)
{
	struct view_node *l = node_new(&g->pool, VIEW_LINK, name, link_ino(path, target));

	l->top = 1;
	l->link.target = xstrdup(target);
	attr_synth(l, b, ts_of_us(wall_us));
	dir_add(parent, l);
	return l;
}

static struct view_gen *gen_new(struct view_builder *b)
{
	struct view_gen *g = xcalloc(1, sizeof(*g));

	atomic_init(&g->ref, 1);
	g->serial = ++b->serial;
	g->root = node_new(&g->pool, VIEW_DIR, "", FUSE_ROOT_ID);
	g->root->top = 1;
	g->root->dir.parent = FUSE_ROOT_ID;
	attr_synth(g->root, b, ts_of_us(0));
	return g;
}

/* ---- the inode index ---- */

/* Indexes n; a file's every name counts one link. */
static void index_insert(struct view_gen *g, struct view_node *n)
{
	size_t i = mix64(n->ino) & g->mask;

	for (;; i = (i + 1) & g->mask) {
		struct view_node *e = g->slots[i];

		if (!e) {
			g->slots[i] = n;
			g->links[i] = 1;
			g->count++;
			return;
		}
		if (e->ino != n->ino)
			continue;
		if (e == n) {
			g->links[i]++; /* a restore point's name for a snapshot's file */
			return;
		}
		if (e->kind == VIEW_FILE && n->kind == VIEW_FILE && e->file.dev == n->file.dev &&
		    e->file.real_ino == n->file.real_ino) {
			if (n->file.seq > e->file.seq)
				g->slots[i] = n; /* the freshest stat answers */
			g->links[i]++;
			return;
		}
		view_log("inode %llu: '%s' and '%s' collide; '%s' is hidden",
			 (unsigned long long)n->ino, e->name, n->name, n->name);
		return;
	}
}

static size_t tree_count(const struct view_node *d)
{
	size_t n = 1;

	for (size_t i = 0; i < d->dir.nkids; i++)
		n += d->dir.kids[i]->kind == VIEW_DIR ? tree_count(d->dir.kids[i]) : 1;
	return n;
}

static void tree_index(struct view_gen *g, struct view_node *d)
{
	index_insert(g, d);
	for (size_t i = 0; i < d->dir.nkids; i++) {
		if (d->dir.kids[i]->kind == VIEW_DIR)
			tree_index(g, d->dir.kids[i]);
		else
			index_insert(g, d->dir.kids[i]);
	}
}

static void gen_index(struct view_gen *g)
{
	size_t n = tree_count(g->root), cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	g->slots = xcalloc(cap, sizeof(*g->slots));
	g->links = xcalloc(cap, sizeof(*g->links));
	g->mask = cap - 1;
	tree_index(g, g->root);
}

const struct view_node *view_gen_find(const struct view_gen *g, uint64_t ino)
{
	size_t i = mix64(ino) & g->mask;

	for (;; i = (i + 1) & g->mask) {
		const struct view_node *e = g->slots[i];

		if (!e || e->ino == ino)
			return e;
	}
}

uint32_t view_gen_links(const struct view_gen *g, uint64_t ino)
{
	size_t i = mix64(ino) & g->mask;

	for (;; i = (i + 1) & g->mask) {
		const struct view_node *e = g->slots[i];

		if (!e)
			return 0;
		if (e->ino == ino)
			return g->links[i];
	}
}

const struct view_node *view_gen_resolve(const struct view_gen *g, const struct view_node *n)
{
	const struct view_node *r = view_gen_find(g, n->ino);

	return r ? r : n;
}

/* ---- building a generation ---- */

static void add_tables(struct view_gen *g, const struct view_builder *b, struct view_node *tables,
		       const struct view_snapshot *s)
{
	struct view_node *ks, *tb;
	char *path, *target;

	if (!s->keyspace || !s->ntables)
		return;
	if (!view_name_ok(s->keyspace)) {
		view_log("snapshot '%s': bad keyspace name, not under tables/", s->id);
		return;
	}
	path = fs_path("tables/%s", s->keyspace);
	ks = synth_dir(g, b, tables, s->keyspace, path);
	free(path);
	target = fs_path("../../../snapshots/%s", s->id);
	for (size_t i = 0; i < s->ntables; i++) {
		if (!view_name_ok(s->tables[i])) {
			view_log("snapshot '%s': bad table name, not under tables/", s->id);
			continue;
		}
		path = fs_path("tables/%s/%s", s->keyspace, s->tables[i]);
		tb = synth_dir(g, b, ks, s->tables[i], path);
		free(path);
		path = fs_path("tables/%s/%s/%s", s->keyspace, s->tables[i], s->id);
		link_new(g, b, tb, s->id, path, target, s->wall_us);
		free(path);
	}
	free(target);
}

/* The valid snapshots of c, sorted by id, duplicates dropped. */
static size_t valid_snaps(const struct view_catalog *c, const struct view_snapshot **out)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nsnaps; i++) {
		if (!view_id_ok(c->snaps[i].id)) {
			view_log("snapshot id '%.40s' is not 32 hex digits, not shown",
				 c->snaps[i].id);
			continue;
		}
		out[n++] = &c->snaps[i];
	}
	if (n > 1)
		qsort(out, n, sizeof(*out), snap_cmp);
	size_t j = 0;
	for (size_t i = 0; i < n; i++) {
		if (j && strcmp(out[j - 1]->id, out[i]->id) == 0) {
			view_log("snapshot '%s' listed twice, shown once", out[i]->id);
			continue;
		}
		out[j++] = out[i];
	}
	return j;
}

static void add_restore_points(struct view_gen *g, const struct view_builder *b,
			       const struct view_catalog *c, const struct view_gen *old,
			       const struct view_snapshot **snaps, struct view_subtree **strees,
			       size_t nsnaps, struct view_node *rps)
{
	const struct view_restore_point **v = xcalloc(c->nrps ? c->nrps : 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < c->nrps; i++) {
		const struct view_restore_point *r = &c->rps[i];

		if (!view_id_ok(r->schedule_id) || !view_name_ok(r->name)) {
			view_log("restore point '%.40s/%.64s': bad name, not shown", r->schedule_id,
				 r->name ? r->name : "");
			continue;
		}
		v[n++] = r;
	}
	if (n > 1)
		qsort(v, n, sizeof(*v), rp_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct view_restore_point *r = v[i];
		struct view_snapshot key, *kp = &key;
		const struct view_snapshot **hit;
		struct view_subtree *src, *t;
		struct view_node *sd;
		char *prefix, *parent;

		if (i && rp_cmp(&v[i - 1], &v[i]) == 0)
			continue;
		memcpy(key.id, r->snapshot_id, sizeof(key.id));
		key.id[32] = '\0';
		hit = bsearch(&kp, snaps, nsnaps, sizeof(*snaps), snap_cmp);
		if (!hit) {
			view_log("restore point '%s/%s': snapshot '%.32s' not listed, not shown",
				 r->schedule_id, r->name, r->snapshot_id);
			continue;
		}
		src = strees[hit - snaps];
		parent = fs_path("restore-points/%s", r->schedule_id);
		prefix = fs_path("%s/%s", parent, r->name);
		t = old_tree(old, prefix);
		if (t && t->src == src && !t->root->dir.broken)
			atomic_fetch_add(&t->ref, 1);
		else
			t = rptree_build(src, prefix, r->name, parent);
		gen_add_tree(g, t);
		sd = synth_dir(g, b, rps, r->schedule_id, parent);
		dir_add(sd, t->root);
		free(prefix);
		free(parent);
	}
	free(v);
}

struct view_gen *view_gen_build(struct view_builder *b, const struct view_catalog *c,
				const struct view_gen *old)
{
	struct view_gen *g = gen_new(b);
	const struct view_snapshot **snaps = xcalloc(c->nsnaps ? c->nsnaps : 1, sizeof(*snaps));
	struct view_subtree **strees = xcalloc(c->nsnaps ? c->nsnaps : 1, sizeof(*strees));
	const struct view_snapshot *latest = NULL;
	struct view_node *sn, *rps, *tables;
	size_t n = valid_snaps(c, snaps);

	sn = synth_dir(g, b, g->root, "snapshots", "snapshots");
	rps = synth_dir(g, b, g->root, "restore-points", "restore-points");
	tables = synth_dir(g, b, g->root, "tables", "tables");
	for (size_t i = 0; i < n; i++) {
		const struct view_snapshot *s = snaps[i];
		char *prefix = fs_path("snapshots/%s", s->id);
		uint64_t fp = snap_fingerprint(s);
		struct view_subtree *t = old_tree(old, prefix);

		if (t && t->fp == fp && !t->root->dir.broken)
			atomic_fetch_add(&t->ref, 1);
		else
			t = snaptree_build(b, s, prefix, fp);
		free(prefix);
		strees[i] = t;
		gen_add_tree(g, t);
		dir_add(sn, t->root);
		add_tables(g, b, tables, s);
		if (!latest || newer(s, latest))
			latest = s;
	}
	if (latest)
		link_new(g, b, sn, "latest", "snapshots/latest", latest->id, latest->wall_us);
	add_restore_points(g, b, c, old, snaps, strees, n, rps);
	if (g->ntrees > 1)
		qsort(g->trees, g->ntrees, sizeof(*g->trees), tree_cmp);
	synth_finish(g->root);
	gen_index(g);
	free(snaps);
	free(strees);
	return g;
}

struct view_gen *view_gen_broken(struct view_builder *b)
{
	struct view_gen *g = gen_new(b);

	g->broken = 1;
	gen_index(g);
	return g;
}

void view_gen_get(struct view_gen *g)
{
	atomic_fetch_add(&g->ref, 1);
}

void view_gen_put(struct view_gen *g)
{
	int left;

	if (!g)
		return;
	left = atomic_fetch_sub(&g->ref, 1);
	assert(left > 0);
	if (left != 1)
		return;
	for (size_t i = 0; i < g->ntrees; i++)
		subtree_put(g->trees[i]);
	free(g->trees);
	free(g->slots);
	free(g->links);
	pool_release(&g->pool);
	free(g);
}

/* ---- what changed ---- */

static int attr_differs(const struct view_attr *a, const struct view_attr *b)
{
	return a->nlink != b->nlink || a->size != b->size || a->mode != b->mode ||
	       a->mtime.tv_sec != b->mtime.tv_sec || a->mtime.tv_nsec != b->mtime.tv_nsec;
}

static void diff_dir(const struct view_gen *old, const struct view_node *d,
		     const struct view_inval *iv)
{
	const struct view_node *o = view_gen_find(old, d->ino);
	int changed = 0;

	if (o == d)
		return; /* a shared subtree: identical by construction */
	if (!o || o->kind != VIEW_DIR) {
		/* new here; the kernel may still hold it from an older generation */
		iv->inode(iv->arg, d->ino, 1);
	} else {
		size_t i = 0, j = 0;

		changed = attr_differs(&o->a, &d->a) || o->dir.broken != d->dir.broken ||
			  (old->broken && o->ino == FUSE_ROOT_ID);
		while (i < o->dir.nkids || j < d->dir.nkids) {
			const struct view_node *x = i < o->dir.nkids ? o->dir.kids[i] : NULL;
			const struct view_node *y = j < d->dir.nkids ? d->dir.kids[j] : NULL;
			int c = !x ? 1 : !y ? -1 : kid_order(x->doff, x->name, y);

			if (c < 0) {
				iv->entry(iv->arg, d->ino, x->name); /* gone */
				i++;
				changed = 1;
			} else if (c > 0) {
				iv->entry(iv->arg, d->ino,
					  y->name); /* new: drop a negative entry */
				j++;
				changed = 1;
			} else {
				if (x->ino != y->ino || x->kind != y->kind) {
					iv->entry(iv->arg, d->ino, y->name);
					changed = 1;
				}
				i++;
				j++;
			}
		}
		if (changed)
			iv->inode(iv->arg, d->ino, 1); /* attributes and readdir cache */
	}
	for (size_t k = 0; k < d->dir.nkids; k++)
		if (d->dir.kids[k]->kind == VIEW_DIR)
			diff_dir(old, d->dir.kids[k], iv);
}

void view_gen_diff(const struct view_gen *old, const struct view_gen *nw,
		   const struct view_inval *iv)
{
	diff_dir(old, nw->root, iv);
	for (size_t i = 0; i <= nw->mask; i++) {
		const struct view_node *n = nw->slots[i], *o;

		if (!n || n->kind != VIEW_FILE)
			continue;
		o = view_gen_find(old, n->ino);
		if (!o || o == n || o->kind != VIEW_FILE)
			continue;
		if (o->file.dev != n->file.dev || o->file.real_ino != n->file.real_ino ||
		    o->a.size != n->a.size || o->a.mtime.tv_sec != n->a.mtime.tv_sec ||
		    o->a.mtime.tv_nsec != n->a.mtime.tv_nsec)
			iv->inode(iv->arg, n->ino, 1);
		else if (attr_differs(&o->a, &n->a) ||
			 view_gen_links(old, n->ino) != view_gen_links(nw, n->ino))
			iv->inode(iv->arg, n->ino, 0); /* nlink moved: attributes only */
	}
}
