/*
 * view_ops: the libfuse low-level operations of the read-only view.
 *
 * Every request takes a reference on the current generation (view_current)
 * and answers from memory: lookups, attributes and listings never touch
 * the disk. Only reads do.
 *
 * With kernel passthrough (view_passthrough.c), open() registers a big
 * file's underlying file with the kernel and replies with its backing id:
 * the kernel reads it without asking; a small file is opened cached (its
 * content pushed, see below). Otherwise files are not opened: open()
 * answers ENOSYS once, to a kernel that offers FUSE_CAP_NO_OPEN_SUPPORT,
 * and the kernel then opens and releases files by itself, for the whole
 * connection, keeping their page cache (a tree of many small files is
 * read with no round trip per open and release). Each read opens the
 * underlying file by path, checks it is the inode that was listed, reads
 * and closes it; big reads (the kernel's readahead of a file streamed)
 * share one of VIEW_STREAMS cached fds per file, so the underlying
 * readahead sees one sequential reader; the reply is spliced (one copy,
 * by the kernel) where every reply fits a pipe (view_mount.c sets
 * max_read for it), else copied from a buffer each thread keeps. The
 * view never holds an fd per file it shows, nor per file open. A file
 * whose snapshot is deleted while the kernel holds it (open, or looked
 * up) is read through its hold (view_inodes.c), so it reads to its end.
 * Without either capability, open() keeps the underlying fd in a handle
 * until release, with a reference on the generation.
 *
 * Small files (up to push_max bytes) are pushed into the kernel's page
 * cache when a listing of their directory ends (the readdirplus at its
 * end: by then the kernel has made their inodes), by the prefetch threads
 * (view_prefetch.c), which also warm a whole snapshot's small files when
 * its directory is listed: a backup tool reading them costs no round trip
 * per file, and waits on no disk in turn. Each inode is pushed once per
 * life of its kernel inode (view_inodes.c).
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

/* A read this big comes from the kernel's readahead of a file being
 * streamed (see view_read). */
#define VIEW_STREAM_MIN (256 * 1024)

/* libfuse splices a reply of at least two pages (below, it copies into a
 * buffer it mallocs); view_mount.c chose max_read so that the biggest
 * fits in a pipe. */
#define VIEW_SPLICE_MIN (2 * 4096)

static struct view *view_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* fi's handle, or NULL (none, or a passthrough open: VIEW_FH_BACKING). */
static struct view_handle *handle_of(const struct fuse_file_info *fi)
{
	if (!fi || (fi->fh & VIEW_FH_BACKING))
		return NULL;
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
	view_gen_stat(g, n, &e->attr);
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
	if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		atomic_store(&v->no_open, 1);
	}
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
	view_pt_want(v, conn);
	/* The copy path's one copy (reply_read), if every reply fits in a
	 * pipe */
	if (v->max_read)
		conn->max_read = v->max_read; /* libfuse checks it is the option's */
	if ((conn->capable & FUSE_CAP_SPLICE_WRITE) && v->splice_ok) {
		conn->want |= FUSE_CAP_SPLICE_WRITE;
		atomic_store(&v->splice, 1);
	}
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
		view_inodes_looked_up(&view_of(req)->inodes, &n, 1, 1);
	} else {
		/* a negative entry, cached; view_changed() drops it if the
		 * name appears */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = VIEW_TIMEOUT;
	}
	if (fuse_reply_entry(req, &e) != 0 && n)
		view_inodes_looked_up(&view_of(req)->inodes, &n, 1, 0);
out:
	view_gen_put(g);
}

static void view_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct view_gen *g = view_current(view_of(req));
	const struct view_node *n;
	struct stat st;
	int err = find_node(g, ino, &n);

	if (err && handle_of(fi)) {
		/* fstat on a handle whose snapshot has gone since, or while
		 * the listing fails: the handle's generation answers */
		struct view_handle *h = handle_of(fi);

		n = view_gen_resolve(h->gen, h->node);
		err = n->ino == ino ? 0 : ENOENT;
		if (!err)
			view_gen_stat(h->gen, n, &st);
	} else if (err == ENOENT &&
		   view_inodes_open_held(&view_of(req)->inodes, ino, &st, NULL) == 0) {
		err = 0; /* a file of a deleted snapshot the kernel still holds */
	} else if (!err) {
		view_gen_stat(g, n, &st);
	}
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_attr(req, &st, VIEW_TIMEOUT);
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

int view_open_file(const struct view_node *n)
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

/* An open with passthrough (view_passthrough.c): a backing id for a big
 * file, a cached open (keep_cache, content pushed) for a small one. 1 if
 * answered; 0 if passthrough was just refused (the caller opens the copy
 * way). */
static int open_passthrough(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct view *v = view_of(req);
	struct view_gen *g = view_readable(v);
	const struct view_node *n = view_gen_find(g, ino);
	struct view_backing *b = NULL;
	struct stat st;
	uint64_t fgen = 0;
	int64_t size;
	int id, err = 0;

	if (n && n->kind != VIEW_FILE) {
		err = n->kind == VIEW_DIR ? EISDIR : EINVAL;
	} else if (n) {
		n = view_gen_resolve(g, n);
		size = n->a.size;
		fgen = n->fgen;
	} else if (view_inodes_open_held(&v->inodes, ino, &st, &fgen) == 0) {
		size = st.st_size; /* a deleted snapshot's file the kernel holds */
	} else {
		err = ESTALE;
	}
	if (err)
		goto reply;
	fi->noflush = 1;
	if (size <= v->pt_min) {
		fi->keep_cache = 1; /* pushed or read once: kept */
		goto reply;
	}
	id = view_pt_open(v, req, ino, n, fgen, &b);
	if (id == -ENOSYS) {
		view_gen_put(g);
		return 0;
	}
	if (id == -EAGAIN) {
		fi->keep_cache = 1; /* this file alone: copied */
	} else if (id < 0) {
		err = -id;
	} else {
#ifdef SNAPFS_HAVE_PASSTHROUGH
		fi->backing_id = id; /* no keep_cache: the kernel refuses it with a backing id */
#endif
		fi->fh = (uintptr_t)b | VIEW_FH_BACKING;
	}
reply:
	if (err)
		fuse_reply_err(req, err);
	else if (fuse_reply_open(req, fi) != 0 && b)
		view_pt_release(v, NULL, b); /* interrupted: no release will come */
	view_gen_put(g);
	return 1;
}

static void view_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct view *v = view_of(req);
	struct view_gen *g;
	struct view_handle *h;
	const struct view_node *n;
	int fd, err = 0;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (atomic_load(&v->mode) != VIEW_MODE_COPY && atomic_load(&v->pt_offered) &&
	    open_passthrough(req, ino, fi))
		return;
	if (atomic_load(&v->no_open)) {
		/* success to a kernel that offered it: it opens and releases
		 * files itself from now on, keeping their cache */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	g = view_current(v);
	err = find_node(g, ino, &n);
	if (!err && n->kind != VIEW_FILE)
		err = n->kind == VIEW_DIR ? EISDIR : EINVAL;
	if (err)
		goto fail;
	n = view_gen_resolve(g, n);
	fd = view_open_file(n);
	if (fd < 0) {
		err = -fd;
		goto fail;
	}
	h = handle_new(v, g, n, fd); /* the request's reference moves to h */
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 1;
	fi->noflush = 1;
	if (fuse_reply_open(req, fi) != 0)
		handle_free(v, h); /* interrupted: no release will come */
	return;
fail:
	fuse_reply_err(req, err);
	view_gen_put(g);
}

/* Each worker thread reads into a buffer of its own, kept for its life:
 * libfuse's fd-buffer reply mallocs and frees one per reply, and at 1 MiB
 * that is an mmap, page faults and zeroing each time (a fifth of the
 * daemon's CPU on a cold tar of big files). */
static pthread_key_t read_buf_key;
static pthread_once_t read_buf_once = PTHREAD_ONCE_INIT;

struct read_buf {
	size_t cap;
	char data[];
};

static void read_buf_key_make(void)
{
	(void)pthread_key_create(&read_buf_key, free);
}

/* The calling thread's buffer, at least size bytes, or NULL. */
static char *read_buf(size_t size)
{
	struct read_buf *b;

	(void)pthread_once(&read_buf_once, read_buf_key_make);
	b = pthread_getspecific(read_buf_key);
	if (!b || b->cap < size) {
		free(b);
		b = malloc(sizeof(*b) + size);
		if (b)
			b->cap = size;
		(void)pthread_setspecific(read_buf_key, b);
	}
	return b ? b->data : NULL;
}

/* The copy path (passthrough, where there is one, never asks): with
 * splice, the file's pages go into the thread's pipe and from there into
 * the reply, one copy in all, made by the kernel; without (or a small
 * read: libfuse would copy it into a buffer it mallocs), pread into the
 * thread's buffer and one copy to the kernel. */
static void reply_read(fuse_req_t req, int fd, size_t size, off_t off)
{
	struct view *v = view_of(req); /* req is freed by the reply */
	char *buf;

	if (atomic_load(&v->splice) && size >= VIEW_SPLICE_MIN) {
		struct fuse_bufvec b = FUSE_BUFVEC_INIT(size);

		b.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		b.buf[0].fd = fd;
		b.buf[0].pos = off;
		if (fuse_reply_data(req, &b, 0) == 0) /* a read error is answered as one */
			atomic_fetch_add(&v->served, size);
		return;
	}
	buf = read_buf(size);
	ssize_t n = buf ? fs_pread_full(fd, buf, size, off) : -ENOMEM;

	if (n < 0) {
		fuse_reply_err(req, (int)-n);
		return;
	}
	if (fuse_reply_buf(req, buf, (size_t)n) == 0)
		atomic_fetch_add(&v->served, (uint64_t)n);
}

/* An fd on the file ino, for one read: the file of the newest generation
 * that is not broken (a failed listing does not stop reads of files open),
 * or its hold if its snapshot is gone (*held set). A negative errno if
 * neither. */
static int open_for_read(struct view *v, fuse_ino_t ino, int *held)
{
	uint64_t serial = 0;
	int fd = -ENOENT;

	/* a second try if a swap came between: the path read from the
	 * generation before may be one a deletion just removed */
	*held = 0;
	for (int tries = 0; fd == -ENOENT && tries < 2; tries++) {
		struct view_gen *g = view_readable(v);
		const struct view_node *n = view_gen_find(g, ino);

		if (tries == 0 || g->serial != serial) {
			serial = g->serial;
			if (n && n->kind == VIEW_FILE)
				fd = view_open_file(view_gen_resolve(g, n));
			else if (n)
				fd = n->kind == VIEW_DIR ? -EISDIR : -EINVAL;
		}
		view_gen_put(g);
	}
	if (fd == -ENOENT) {
		/* gone since: deleted while the kernel held it, or just now */
		fd = view_inodes_open_held(&v->inodes, ino, NULL, NULL);
		*held = fd >= 0;
		if (fd == -ENOENT)
			fd = -ESTALE;
	}
	return fd;
}

/* Streams: a few fds kept open across the reads of big files, so the
 * underlying file's readahead sees one sequential reader (an fd per read
 * would start it afresh each MiB). At most VIEW_STREAMS fds; the least
 * recently used idle one makes room; view_streams_drop() closes them all
 * when the snapshot set changes, so none keeps a deleted file's space. */
int view_stream_get(struct view *v, uint64_t ino, int *slot)
{
	struct view_streams *c = &v->streams;
	int fd, k = -1, held;
	uint64_t drops;

	pthread_mutex_lock(&c->lock);
	drops = c->drops;
	for (int i = 0; i < VIEW_STREAMS; i++)
		if (c->e[i].fd >= 0 && c->e[i].ino == ino && !c->e[i].stale) {
			c->e[i].refs++;
			c->e[i].used = ++c->tick;
			*slot = i;
			fd = c->e[i].fd;
			pthread_mutex_unlock(&c->lock);
			return fd;
		}
	pthread_mutex_unlock(&c->lock);
	fd = open_for_read(v, ino, &held);
	*slot = -1;
	if (fd < 0 || held)
		return fd; /* a hold's fd is not kept: it would outlive the hold */
	pthread_mutex_lock(&c->lock);
	if (c->drops != drops) {
		/* the snapshot set changed since: fd may be of one that went */
		pthread_mutex_unlock(&c->lock);
		return fd;
	}
	for (int i = 0; i < VIEW_STREAMS; i++)
		if (c->e[i].refs == 0 &&
		    (k < 0 || c->e[i].fd < 0 || (c->e[k].fd >= 0 && c->e[i].used < c->e[k].used)))
			k = i;
	if (k >= 0) {
		if (c->e[k].fd >= 0)
			close(c->e[k].fd);
		c->e[k] = (struct view_stream){.ino = ino, .fd = fd, .refs = 1, .used = ++c->tick};
		*slot = k;
	}
	pthread_mutex_unlock(&c->lock);
	return fd;
}

void view_stream_put(struct view *v, int fd, int slot)
{
	struct view_streams *c = &v->streams;

	if (slot < 0) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&c->lock);
	if (--c->e[slot].refs == 0 && c->e[slot].stale) {
		close(c->e[slot].fd);
		c->e[slot] = (struct view_stream){.fd = -1};
	}
	pthread_mutex_unlock(&c->lock);
}

void view_streams_drop(struct view *v)
{
	struct view_streams *c = &v->streams;

	pthread_mutex_lock(&c->lock);
	c->drops++;
	for (int i = 0; i < VIEW_STREAMS; i++) {
		if (c->e[i].fd < 0)
			continue;
		if (c->e[i].refs > 0) {
			c->e[i].stale = 1; /* its reader closes it */
		} else {
			close(c->e[i].fd);
			c->e[i] = (struct view_stream){.fd = -1};
		}
	}
	pthread_mutex_unlock(&c->lock);
}

static void view_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct view *v = view_of(req);
	int fd, slot, held;

	if (handle_of(fi)) {
		reply_read(req, handle_of(fi)->fd, size, off);
		return;
	}
	if (size >= VIEW_STREAM_MIN) {
		/* a stream: one fd for all its reads (view_stream_get) */
		fd = view_stream_get(v, ino, &slot);
		if (fd < 0) {
			fuse_reply_err(req, -fd);
			return;
		}
		reply_read(req, fd, size, off);
		view_stream_put(v, fd, slot);
		return;
	}
	fd = open_for_read(v, ino, &held);
	if (fd < 0) {
		fuse_reply_err(req, -fd);
		return;
	}
	reply_read(req, fd, size, off);
	close(fd);
}

static void view_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (fi->fh & VIEW_FH_BACKING)
		view_pt_release(view_of(req), req,
				(struct view_backing *)(uintptr_t)(fi->fh & ~VIEW_FH_BACKING));
	else if (handle_of(fi))
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

/* True if small files are read from the page cache without asking: the
 * kernel opens them itself (no-open), or opens them cached (passthrough
 * mode); then pushing their content saves a read round trip each. */
static int caches_small(struct view *v)
{
	return v->push_max > 0 &&
	       (atomic_load(&v->no_open) || atomic_load(&v->mode) == VIEW_MODE_PASSTHROUGH);
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
 * bytes used; *first and *nkids say which children are in them. */
static size_t fill_dir(fuse_req_t req, const struct view_gen *g, const struct view_node *d,
		       char *buf, size_t size, off_t off, int plus, size_t *first, size_t *nkids)
{
	size_t used = 0, run = 0, len, i, i_run = 0;
	uint64_t pos = off > 0 ? (uint64_t)off : 0;

	*first = *nkids = 0;
	for (; pos < VIEW_DOFF_MIN - 1; pos++) {
		len = add_dirent(req, g, buf + used, size - used, pos == 0 ? "." : "..", NULL,
				 pos == 0 ? d->ino : d->dir.parent, (off_t)(pos + 1), plus);
		if (len > size - used)
			return used;
		used += len;
	}
	*first = view_dir_seek(d, pos);
	for (i = *first; i < d->dir.nkids; i++) {
		const struct view_node *n = d->dir.kids[i];

		if (i == 0 || n->doff != d->dir.kids[i - 1]->doff) {
			run = used; /* where this doff's entries start */
			i_run = i;
		}
		len = add_dirent(req, g, buf + used, size - used, n->name, n, 0, (off_t)n->doff,
				 plus);
		if (len > size - used) {
			if (run > 0) {
				*nkids = i_run - *first;
				return run;
			}
			break;
		}
		used += len;
	}
	*nkids = i - *first;
	return used;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	struct view *v = view_of(req);
	struct view_handle *h = handle_of(fi);
	const struct view_node *d;
	struct view_gen *g;
	char *buf = NULL;
	size_t used, first, nkids;
	int err = 0;

	if (h) {
		/* opendir made a handle: list the generation it was opened in */
		g = h->gen;
		view_gen_get(g);
		d = h->node;
	} else {
		/* no opendir: the current generation, whichever it is now */
		g = view_current(v);
		err = find_dir(g, ino, &d);
	}
	if (err) {
		fuse_reply_err(req, err);
		goto out;
	}
	buf = xmalloc(size);
	used = fill_dir(req, g, d, buf, size, off, plus, &first, &nkids);
	if (plus && off == 0 && d->subroot && caches_small(v))
		view_prefetch_subtree(&v->prefetch, g, d); /* a copy of it begins */
	if (plus) {
		/* every file entry handed out is a lookup the kernel counts */
		view_inodes_looked_up(
		    &v->inodes, (const struct view_node *const *)d->dir.kids + first, nkids, 1);
		if (used == 0 && caches_small(v))
			/* the listing ends: the kernel has made the inodes */
			view_prefetch_push(&v->prefetch, g, d);
	}
	if (fuse_reply_buf(req, buf, used) != 0 && plus)
		view_inodes_looked_up(
		    &v->inodes, (const struct view_node *const *)d->dir.kids + first, nkids, 0);
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
	/* nodes live in generations; only file lookups are counted */
	view_inodes_forget(&view_of(req)->inodes, ino, nlookup);
	fuse_reply_none(req);
}

static void view_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		view_inodes_forget(&view_of(req)->inodes, forgets[i].ino, forgets[i].nlookup);
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
