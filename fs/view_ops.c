/*
 * view_ops: the libfuse low-level operations of the read-only view.
 *
 * Every request takes a reference on the current generation (view_current)
 * and answers from memory: lookups, attributes and listings never touch
 * the disk. Only open() does, to open the underlying file O_RDONLY; that
 * fd lives in the handle until release, so a file whose snapshot goes away
 * (and whose underlying links are unlinked) still reads to its end, and the
 * view holds one fd per open file, never one per file it shows.
 *
 * A file handle keeps a reference on the generation it was opened in:
 * getattr on an open file whose snapshot went away still answers.
 *
 * Directories have no handle when the kernel can skip opendir/releasedir
 * (FUSE_CAP_NO_OPENDIR_SUPPORT): opendir answers ENOSYS once, the kernel
 * then opens directories itself and caches every listing (keep_cache +
 * cache_readdir). Each readdir is answered from the generation current at
 * that call, and resumes at an offset that is stable across generations
 * (a hash of the entry name, VIEW_DOFF_MIN): a listing in progress while a
 * snapshot comes or goes neither repeats nor skips the entries it shares
 * with the new generation. A broken directory fails its readdir (and
 * lookups below it) with EIO rather than listing empty. The cached
 * listings that change (root, snapshots/, tables/..., restore-points/...)
 * are dropped by view_changed(): its entry notifications take the
 * directory's lock, so a readdir answered from the old generation has
 * finished filling the cache before the listing is invalidated.
 *
 * Without that capability, opendir makes a handle with a reference on the
 * current generation, and readdir lists that generation; directories
 * inside snapshots are cached, the synthetic ones are listed from memory
 * on every opendir. Offsets are the same in both modes.
 *
 * Caching (see DESIGN-NOTES.md): entries and attributes are valid for a
 * day; negative lookups are cached too. view_changed() invalidates what
 * changed. Files are opened with keep_cache. readdirplus is forced on.
 *
 * Every write fails with EROFS; the mount is also `ro`, so the kernel
 * usually answers EROFS before asking.
 */
#include "view_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "fsutil.h"

static struct view *view_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct view_handle *handle_of(const struct fuse_file_info *fi)
{
	return (struct view_handle *)(uintptr_t)fi->fh;
}

static struct view_handle *handle_new(struct view *v, struct view_gen *g, const struct view_node *n,
				      int fd)
{
	struct view_handle *h = xcalloc(1, sizeof(*h));

	h->gen = g;
	h->node = n;
	h->fd = fd;
	pthread_mutex_lock(&v->hlock);
	h->next = v->handles;
	if (h->next)
		h->next->prev = h;
	v->handles = h;
	pthread_mutex_unlock(&v->hlock);
	return h;
}

static void handle_free(struct view *v, struct view_handle *h)
{
	pthread_mutex_lock(&v->hlock);
	if (h->prev)
		h->prev->next = h->next;
	else
		v->handles = h->next;
	if (h->next)
		h->next->prev = h->prev;
	pthread_mutex_unlock(&v->hlock);
	if (h->fd >= 0)
		close(h->fd);
	view_gen_put(h->gen);
	free(h);
}

void view_handles_release(struct view *v)
{
	while (v->handles)
		handle_free(v, v->handles);
}

static void fill_entry(const struct view_gen *g, const struct view_node *n,
		       struct fuse_entry_param *e)
{
	n = view_gen_resolve(g, n);
	memset(e, 0, sizeof(*e));
	e->ino = n->ino;
	e->generation = n->fgen;
	view_node_stat(n, &e->attr);
	e->attr_timeout = VIEW_TIMEOUT;
	e->entry_timeout = VIEW_TIMEOUT;
}

/* The node for ino, or 0 and an errno to answer. */
static int find_node(const struct view_gen *g, fuse_ino_t ino, const struct view_node **out)
{
	*out = view_gen_find(g, ino);
	if (g->broken && ino != FUSE_ROOT_ID)
		return EIO;
	return *out ? 0 : ENOENT;
}

static void view_init(void *userdata, struct fuse_conn_info *conn)
{
	struct view *v = userdata;

	/* No round trip per opendir/releasedir: readdir needs no handle. The
	 * kernel only learns it from opendir's ENOSYS; want is for show. */
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		atomic_store(&v->no_opendir, 1);
	}
	/* Forced readdirplus: find/rsync read a directory, then stat each
	 * entry; in AUTO mode the kernel would send one LOOKUP per entry. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* Content is immutable: never drop the page cache because an
	 * attribute moved; view_changed() invalidates explicitly. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_EXPLICIT_INVAL_DATA)
		conn->want |= FUSE_CAP_EXPLICIT_INVAL_DATA;
	/* A symlink's inode number covers its target: safe to cache. */
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
}

static void view_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct view_gen *g;
	const struct view_node *p, *n;
	struct fuse_entry_param e;
	int err;

	if (view_stop_lookup(view_of(req), parent, name)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	g = view_current(view_of(req));
	err = find_node(g, parent, &p);

	if (!err && p->kind != VIEW_DIR)
		err = ENOTDIR;
	if (!err && (p->dir.broken || g->broken))
		err = EIO;
	if (err) {
		fuse_reply_err(req, err);
		goto out;
	}
	n = view_dir_lookup(p, name);
	if (n) {
		fill_entry(g, n, &e);
	} else {
		/* a negative entry, cached; view_changed() drops it if the
		 * name appears */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = VIEW_TIMEOUT;
	}
	fuse_reply_entry(req, &e);
out:
	view_gen_put(g);
}

static void view_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct view_gen *g = view_current(view_of(req));
	const struct view_node *n;
	struct stat st;
	int err = find_node(g, ino, &n);

	if (err && fi && fi->fh) {
		/* fstat on a handle whose snapshot has gone since, or while
		 * the listing fails: the handle's generation answers */
		struct view_handle *h = handle_of(fi);

		n = view_gen_resolve(h->gen, h->node);
		err = n->ino == ino ? 0 : ENOENT;
	}
	if (err) {
		fuse_reply_err(req, err);
	} else {
		view_node_stat(n, &st);
		fuse_reply_attr(req, &st, VIEW_TIMEOUT);
	}
	view_gen_put(g);
}

static void view_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct view_gen *g = view_current(view_of(req));
	const struct view_node *n;
	int err = find_node(g, ino, &n);

	if (!err && n->kind != VIEW_LINK)
		err = EINVAL;
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_readlink(req, n->link.target);
	view_gen_put(g);
}

/* Opens the underlying file of n and checks it is still the inode we
 * stat'ed. Returns an fd or a negative errno. */
static int open_underlying(const struct view_node *n)
{
	char *path = fs_path("%s/%s", n->file.srcdir, n->name);
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	int rc = fd;

	if (fd < 0) {
		rc = -errno;
		if (rc != -ENOENT)
			view_log("cannot open '%s': %s", path, strerror(-rc));
		goto out;
	}
	if (fstat(fd, &st) < 0 || st.st_dev != n->file.dev || st.st_ino != n->file.real_ino) {
		view_log("'%s' was replaced since its snapshot was listed", path);
		close(fd);
		rc = -EIO;
	}
out:
	free(path);
	return rc;
}

static void view_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct view_gen *g = view_current(view_of(req));
	struct view_handle *h;
	const struct view_node *n;
	int fd, err = 0;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		err = EROFS;
	if (!err)
		err = find_node(g, ino, &n);
	if (!err && n->kind != VIEW_FILE)
		err = n->kind == VIEW_DIR ? EISDIR : EINVAL;
	if (err)
		goto fail;
	n = view_gen_resolve(g, n);
	fd = open_underlying(n);
	if (fd < 0) {
		err = -fd;
		goto fail;
	}
	h = handle_new(view_of(req), g, n, fd); /* the request's reference moves to h */
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 1;
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) != 0)
		handle_free(view_of(req), h); /* interrupted: no release will come */
	return;
fail:
	fuse_reply_err(req, err);
	view_gen_put(g);
}

/* The one read path: the kernel gets the bytes straight from the
 * underlying fd (kernel passthrough needs libfuse 3.17; it would go here). */
static void reply_read(fuse_req_t req, int fd, size_t size, off_t off)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	buf.buf[0].fd = fd;
	buf.buf[0].pos = off;
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

static void view_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	reply_read(req, handle_of(fi)->fd, size, off);
}

static void view_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	handle_free(view_of(req), handle_of(fi));
	fuse_reply_err(req, 0);
}

/* The directory ino of g, or an errno: ENOENT, ENOTDIR, or EIO if it (or
 * the whole listing) could not be built. */
static int find_dir(const struct view_gen *g, fuse_ino_t ino, const struct view_node **out)
{
	int err = find_node(g, ino, out);

	if (!err && (*out)->kind != VIEW_DIR)
		err = ENOTDIR;
	if (!err && ((*out)->dir.broken || g->broken))
		err = EIO;
	return err;
}

static void view_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct view *v = view_of(req);
	struct view_gen *g;
	struct view_handle *h;
	const struct view_node *n;
	int err;

	if (atomic_load(&v->no_opendir)) {
		/* success to a kernel that offered it: no more opendir,
		 * releasedir, nor handle; readdir checks the directory */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	g = view_current(v);
	err = find_dir(g, ino, &n);
	if (err) {
		fuse_reply_err(req, err);
		view_gen_put(g);
		return;
	}
	h = handle_new(v, g, n, -1); /* the request's reference moves to h */
	fi->fh = (uintptr_t)h;
	if (!n->top) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	if (fuse_reply_open(req, fi) != 0)
		handle_free(v, h);
}

static size_t add_dirent(fuse_req_t req, const struct view_gen *g, char *buf, size_t room,
			 const char *name, const struct view_node *n, uint64_t ino, off_t next,
			 int plus)
{
	struct fuse_entry_param e;

	if (!plus) {
		struct stat st;

		memset(&st, 0, sizeof(st));
		st.st_ino = n ? view_gen_resolve(g, n)->ino : ino;
		st.st_mode = n ? n->a.mode : S_IFDIR;
		return fuse_add_direntry(req, buf, room, name, &st, next);
	}
	if (n) {
		fill_entry(g, n, &e);
	} else {
		/* "." and "..": no entry, the kernel does not link them */
		memset(&e, 0, sizeof(e));
		e.attr.st_ino = ino;
		e.attr.st_mode = S_IFDIR;
	}
	return fuse_add_direntry_plus(req, buf, room, name, &e, next);
}

/* Fills buf with d's entries from offset off on: "." at 0, ".." at 1, the
 * children in doff order after. Entries sharing a doff (a hash collision)
 * go in one reply, never split, unless they alone overflow it. Returns the
 * bytes used. */
static size_t fill_dir(fuse_req_t req, const struct view_gen *g, const struct view_node *d,
		       char *buf, size_t size, off_t off, int plus)
{
	size_t used = 0, run = 0, len;
	uint64_t pos = off > 0 ? (uint64_t)off : 0;

	for (; pos < VIEW_DOFF_MIN - 1; pos++) {
		len = add_dirent(req, g, buf + used, size - used, pos == 0 ? "." : "..", NULL,
				 pos == 0 ? d->ino : d->dir.parent, (off_t)(pos + 1), plus);
		if (len > size - used)
			return used;
		used += len;
	}
	for (size_t i = view_dir_seek(d, pos); i < d->dir.nkids; i++) {
		const struct view_node *n = d->dir.kids[i];

		if (i == 0 || n->doff != d->dir.kids[i - 1]->doff)
			run = used; /* where this doff's entries start */
		len = add_dirent(req, g, buf + used, size - used, n->name, n, 0, (off_t)n->doff,
				 plus);
		if (len > size - used)
			return run > 0 ? run : used;
		used += len;
	}
	return used;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	struct view_handle *h = handle_of(fi);
	const struct view_node *d;
	struct view_gen *g;
	char *buf = NULL;
	int err = 0;

	if (h) {
		/* opendir made a handle: list the generation it was opened in */
		g = h->gen;
		view_gen_get(g);
		d = h->node;
	} else {
		/* no opendir: the current generation, whichever it is now */
		g = view_current(view_of(req));
		err = find_dir(g, ino, &d);
	}
	if (err) {
		fuse_reply_err(req, err);
		goto out;
	}
	buf = xmalloc(size);
	fuse_reply_buf(req, buf, fill_dir(req, g, d, buf, size, off, plus));
out:
	free(buf);
	view_gen_put(g);
}

static void view_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			 struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 0);
}

static void view_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			     struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, 1);
}

static void view_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (handle_of(fi))
		handle_free(view_of(req), handle_of(fi));
	fuse_reply_err(req, 0);
}

static void view_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct view_gen *g = view_current(view_of(req));
	struct statvfs s;

	memset(&s, 0, sizeof(s));
	s.f_bsize = 4096;
	s.f_frsize = 4096;
	s.f_files = g->count;
	s.f_namemax = 255;
	s.f_flag = ST_RDONLY;
	fuse_reply_statfs(req, &s);
	view_gen_put(g);
}

static void view_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* nothing is kept per lookup: nodes live in generations */
	fuse_reply_none(req);
}

static void view_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	fuse_reply_none(req);
}

/* ---- writes: all EROFS ---- */

static void rofs(fuse_req_t req)
{
	fuse_reply_err(req, EROFS);
}

static void view_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	rofs(req);
}

static void view_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	rofs(req);
}

static void view_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	rofs(req);
}

static void view_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	rofs(req);
}

static void view_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
			const char *newname, unsigned int flags)
{
	rofs(req);
}

static void view_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent, const char *newname)
{
	rofs(req);
}

static void view_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			 struct fuse_file_info *fi)
{
	rofs(req);
}

static void view_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	rofs(req);
}

static void view_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			  size_t size, int flags)
{
	rofs(req);
}

static void view_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	rofs(req);
}

static void view_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			struct fuse_file_info *fi)
{
	rofs(req);
}

static void view_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset, off_t length,
			   struct fuse_file_info *fi)
{
	rofs(req);
}

/* getxattr/listxattr are left out: ENOSYS makes the kernel answer
 * EOPNOTSUPP without asking again. */
const struct fuse_lowlevel_ops view_ops = {
    .init = view_init,
    .lookup = view_lookup,
    .forget = view_forget,
    .forget_multi = view_forget_multi,
    .getattr = view_getattr,
    .readlink = view_readlink,
    .open = view_open,
    .read = view_read,
    .release = view_release,
    .opendir = view_opendir,
    .readdir = view_readdir,
    .readdirplus = view_readdirplus,
    .releasedir = view_releasedir,
    .statfs = view_statfs,
    .mknod = view_mknod,
    .mkdir = view_mkdir,
    .unlink = view_unlink,
    .rmdir = view_unlink,
    .symlink = view_symlink,
    .rename = view_rename,
    .link = view_link,
    .setattr = view_setattr,
    .write = view_write,
    .setxattr = view_setxattr,
    .removexattr = view_removexattr,
    .create = view_create,
    .fallocate = view_fallocate,
};
