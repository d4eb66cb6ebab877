/*
 * view_passthrough: which path serves reads of the view's files, and the
 * kernel passthrough backing ids of the files open on it.
 *
 * The paths (README, "Reading through the mount"):
 * - passthrough (libfuse >= 3.17, a kernel with CONFIG_FUSE_PASSTHROUGH,
 *   CAP_SYS_ADMIN): the kernel sends open; the view opens the underlying
 *   file, registers it with the kernel (fuse_passthrough_open: a backing
 *   id), closes its fd and replies with the id. From then on the kernel
 *   reads the underlying file itself: no byte goes through the daemon.
 *   Files up to passthrough_min bytes are opened cached instead (their
 *   content is pushed into the page cache, view_prefetch.c).
 * - splice, copy: the kernel opens files without asking
 *   (FUSE_CAP_NO_OPEN_SUPPORT, view_ops.c) and the daemon answers each
 *   read from the underlying file, spliced (one copy) or copied.
 *
 * The two modes do not mix on one mount: the kernel's no-open is one
 * switch for the whole connection (the first open answered ENOSYS sets
 * it), and a passthrough file needs an open reply. Passthrough costs a
 * round trip per open of every file, which on a tree of small files
 * costs more than the copies it saves on big ones (measured on 2 vCPUs:
 * a warm tar of 33,000 entries at 0.22x native speed with passthrough,
 * 0.96x without; a cold tar of 1 GiB at 1.02x and 1.03x). So auto takes
 * the no-open mode with splice, and passthrough is on request (or where
 * the kernel has no no-open mode: every open is a round trip anyway).

 * The kernel allows one backing file per inode at a time (a second open
 * of an inode with another backing id fails with EBUSY), so the opens of
 * one inode share one id: a table maps (inode, entry generation) to its
 * id and open count; the id is closed (fuse_passthrough_close) when the
 * last open is released. The daemon holds no fd per open file: the kernel
 * holds a reference on the underlying file through the id, which also
 * keeps an open file of a deleted snapshot readable without a hold. fi->fh
 * of a passthrough open points at its table entry (VIEW_FH_BACKING).
 *
 * The decision: view_read_path_decide() runs once the mount answers
 * (after INIT). Passthrough is tried when asked for and the kernel
 * offered it; a probe registers one file of the view (or, with
 * none, a directory: EISDIR then means allowed) and drops the id. A
 * refusal (no CAP_SYS_ADMIN, a stacked filesystem under DATA) logs once
 * and leaves the copy path; so does a failure of the first real open,
 * which then answers ENOSYS so that the kernel stops sending opens. Once
 * a file has been read through passthrough, a later failure is that
 * file's only: it is opened cached and its reads are copied.
 *
 * Locking: backings.lock protects the table (a leaf; the ioctl that
 * registers an id runs under it, so two first opens of one inode cannot
 * register two ids); mode_lock protects the decision and its reason,
 * mode is read without it.
 */
#include "view_int.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#ifdef SNAPFS_HAVE_PASSTHROUGH
#include <linux/fuse.h>
#endif

#include "fsutil.h"
#include "hash.h"

struct view_backing {
	struct view_backing *next; /* hash chain; protected by backings.lock */
	uint64_t ino, fgen;
	int id;		/* the kernel's backing id */
	uint64_t nopen; /* protected by backings.lock */
	int hashed;	/* in the table (not replaced by a newer file of the same ino) */
};

int view_read_path_parse(const char *s, enum view_read_path *out)
{
	if (!s || !*s || strcmp(s, "auto") == 0)
		*out = VIEW_READ_AUTO;
	else if (strcmp(s, "copy") == 0)
		*out = VIEW_READ_COPY;
	else if (strcmp(s, "splice") == 0)
		*out = VIEW_READ_SPLICE;
	else if (strcmp(s, "passthrough") == 0)
		*out = VIEW_READ_PASSTHROUGH;
	else
		return -EINVAL;
	return 0;
}

static void set_mode(struct view *v, int mode, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_mode(struct view *v, int mode, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&v->mode_lock);
	va_start(ap, fmt);
	vsnprintf(v->mode_why, sizeof(v->mode_why), fmt, ap);
	va_end(ap);
	atomic_store(&v->mode, mode);
	pthread_mutex_unlock(&v->mode_lock);
}

const char *view_read_path_now(struct view *v, char *why, size_t whylen, uint64_t *served)
{
	int mode;

	*served = atomic_load(&v->served);
	pthread_mutex_lock(&v->mode_lock);
	mode = atomic_load(&v->mode);
	if (mode == VIEW_MODE_PASSTHROUGH)
		snprintf(why, whylen, "%s", v->mode_why);
	else if (atomic_load(&v->splice))
		snprintf(why, whylen, "%s; spliced: one copy, made by the kernel", v->mode_why);
	else
		snprintf(why, whylen, "%s; copied: pread, then the reply%s", v->mode_why,
			 v->read_path == VIEW_READ_COPY ? ""
							: " (pipes cannot take a 1 MiB reply)");
	pthread_mutex_unlock(&v->mode_lock);
	if (mode == VIEW_MODE_PASSTHROUGH)
		return "passthrough";
	return atomic_load(&v->splice) ? "splice" : "copy";
}

/* ---- the backing table ---- */

void view_backings_init(struct view_backings *t)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->nb = 256;
	t->b = xcalloc(t->nb, sizeof(*t->b));
}

void view_backings_release(struct view_backings *t)
{
	/* the kernel dropped every id with the connection */
	for (size_t i = 0; i < t->nb; i++)
		while (t->b[i]) {
			struct view_backing *e = t->b[i];

			t->b[i] = e->next;
			free(e);
		}
	free(t->b);
	t->b = NULL;
	pthread_mutex_destroy(&t->lock);
}

#ifdef SNAPFS_HAVE_PASSTHROUGH

static struct view_backing **bslot(struct view_backings *t, uint64_t ino)
{
	struct view_backing **p = &t->b[mix64(ino) & (t->nb - 1)];

	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

static void bgrow(struct view_backings *t)
{
	struct view_backing **old = t->b;
	size_t onb = t->nb;

	t->nb *= 2;
	t->b = xcalloc(t->nb, sizeof(*t->b));
	for (size_t i = 0; i < onb; i++) {
		struct view_backing *e = old[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = t->b[mix64(e->ino) & (t->nb - 1)];
			t->b[mix64(e->ino) & (t->nb - 1)] = e;
		}
	}
	free(old);
}

/* The entry for (ino, fgen) with one more open, or NULL. Called locked. */
static struct view_backing *bget(struct view_backings *t, uint64_t ino, uint64_t fgen)
{
	struct view_backing *e = *bslot(t, ino);

	if (!e || e->fgen != fgen)
		return NULL;
	e->nopen++;
	return e;
}

/* A failed registration: the first ever turns passthrough off (-ENOSYS:
 * the caller falls back to the copy path); after one has worked, only
 * this file is refused (-EAGAIN: open it cached). */
static int refused(struct view *v, int err, uint64_t ino)
{
	if (atomic_load(&v->mode) != VIEW_MODE_PASSTHROUGH || !atomic_load(&v->pt_worked)) {
		set_mode(v, VIEW_MODE_COPY, "the kernel refused passthrough (%s); reads are copied",
			 strerror(err));
		view_log("kernel passthrough refused (%s): reads are copied by the daemon",
			 strerror(err));
		return -ENOSYS;
	}
	view_log("inode %llu: no passthrough (%s): its reads are copied", (unsigned long long)ino,
		 strerror(err));
	return -EAGAIN;
}

int view_pt_open(struct view *v, fuse_req_t req, uint64_t ino, const struct view_node *n,
		 uint64_t fgen, struct view_backing **out)
{
	struct view_backings *t = &v->backings;
	struct view_backing *e;
	struct view_backing **p;
	int fd, id, err;

	*out = NULL;
	pthread_mutex_lock(&t->lock);
	e = bget(t, ino, fgen);
	pthread_mutex_unlock(&t->lock);
	if (e) {
		*out = e;
		return e->id;
	}
	/* the disk work without the lock: opens of other files go on */
	fd = n ? view_open_file(n) : view_inodes_open_held(&v->inodes, ino, NULL, NULL);
	if (fd < 0)
		return fd == -ENOENT ? -ESTALE : fd;
	pthread_mutex_lock(&t->lock);
	e = bget(t, ino, fgen); /* a concurrent first open won */
	if (e) {
		pthread_mutex_unlock(&t->lock);
		close(fd);
		*out = e;
		return e->id;
	}
	errno = 0;
	id = fuse_passthrough_open(req, fd);
	err = errno ? errno : EIO;
	if (id <= 0) {
		pthread_mutex_unlock(&t->lock);
		close(fd);
		return refused(v, err, ino);
	}
	e = xcalloc(1, sizeof(*e));
	e->ino = ino;
	e->fgen = fgen;
	e->id = id;
	e->nopen = 1;
	if (t->n >= t->nb)
		bgrow(t);
	p = bslot(t, ino);
	if (*p) {
		/* another file under this number, open since before its
		 * snapshot went: it lives on through its opens' fh */
		(*p)->hashed = 0;
		*p = (*p)->next;
		t->n--;
	}
	e->hashed = 1;
	e->next = *p;
	*p = e;
	t->n++;
	pthread_mutex_unlock(&t->lock);
	close(fd); /* the kernel holds the file through the id */
	atomic_store(&v->pt_worked, 1);
	*out = e;
	return id;
}

void view_pt_release(struct view *v, fuse_req_t req, struct view_backing *e)
{
	struct view_backings *t = &v->backings;
	int id = -1;

	pthread_mutex_lock(&t->lock);
	assert(e->nopen > 0);
	if (--e->nopen == 0) {
		if (e->hashed) {
			struct view_backing **p = bslot(t, e->ino);

			assert(*p == e);
			*p = e->next;
			t->n--;
		}
		id = e->id;
	}
	pthread_mutex_unlock(&t->lock);
	if (id < 0)
		return;
	if (req)
		fuse_passthrough_close(req, id);
	else if (ioctl(fuse_session_fd(v->se), FUSE_DEV_IOC_BACKING_CLOSE, &id) < 0)
		view_log("cannot close backing id %d: %s", id, strerror(errno));
	free(e);
}

void view_pt_want(struct view *v, struct fuse_conn_info *conn)
{
	/* auto takes the no-open mode where the kernel has it: see the note
	 * at the top */
	int want = v->read_path == VIEW_READ_PASSTHROUGH ||
		   (v->read_path == VIEW_READ_AUTO && !(conn->capable & FUSE_CAP_NO_OPEN_SUPPORT));

	if (conn->capable & FUSE_CAP_PASSTHROUGH)
		atomic_store(&v->pt_capable, 1);
	if (!want || !(conn->capable & FUSE_CAP_PASSTHROUGH))
		return;
	conn->want |= FUSE_CAP_PASSTHROUGH;
	/* DATA may itself be on a stacked filesystem (overlayfs in a
	 * container): nothing can then be stacked on the view */
	conn->max_backing_stack_depth = FUSE_BACKING_STACKED_OVER;
	atomic_store(&v->pt_offered, 1);
}

/* An fd to register for the probe: a file of the view, or "/" (a
 * directory: EISDIR means registering is allowed). */
static int probe_fd(struct view *v)
{
	struct view_gen *g = view_current(v);
	int fd = -1;

	for (size_t i = 0; i <= g->mask && fd < 0; i++) {
		const struct view_node *n = g->slots[i];

		if (n && n->kind == VIEW_FILE)
			fd = view_open_file(n);
	}
	view_gen_put(g);
	if (fd < 0)
		fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd;
}

void view_read_path_decide(struct view *v)
{
	struct fuse_backing_map map = {0};
	int fd, id, err = 0;

	if (v->read_path == VIEW_READ_COPY || v->read_path == VIEW_READ_SPLICE) {
		set_mode(v, VIEW_MODE_COPY, "the read path option asks for %s",
			 v->read_path == VIEW_READ_COPY ? "copy" : "splice");
		return;
	}
	if (!atomic_load(&v->pt_offered) && atomic_load(&v->pt_capable)) {
		set_mode(
		    v, VIEW_MODE_COPY,
		    "auto: the kernel opens files itself, no round trip per open (passthrough, "
		    "one per file, on request)");
		return;
	}
	if (!atomic_load(&v->pt_offered)) {
		set_mode(v, VIEW_MODE_COPY, "this kernel offers no FUSE passthrough");
		if (v->read_path == VIEW_READ_PASSTHROUGH)
			view_log("this kernel offers no FUSE passthrough: reads are copied by the "
				 "daemon");
		return;
	}
	fd = probe_fd(v);
	if (fd < 0) {
		err = errno;
	} else {
		map.fd = fd;
		id = ioctl(fuse_session_fd(v->se), FUSE_DEV_IOC_BACKING_OPEN, &map);
		err = id < 0 ? errno : 0;
		if (id > 0)
			(void)ioctl(fuse_session_fd(v->se), FUSE_DEV_IOC_BACKING_CLOSE, &id);
		close(fd);
	}
	if (err && err != EISDIR) {
		set_mode(v, VIEW_MODE_COPY, "the kernel refused passthrough (%s); reads are copied",
			 strerror(err));
		view_log("kernel passthrough refused (%s): reads are copied by the daemon",
			 strerror(err));
		return;
	}
	set_mode(v, VIEW_MODE_PASSTHROUGH,
		 "kernel passthrough for files over %lld bytes; smaller ones cached",
		 (long long)v->pt_min);
}

#else /* !SNAPFS_HAVE_PASSTHROUGH */

int view_pt_open(struct view *v, fuse_req_t req, uint64_t ino, const struct view_node *n,
		 uint64_t fgen, struct view_backing **out)
{
	*out = NULL;
	return -ENOSYS;
}

void view_pt_release(struct view *v, fuse_req_t req, struct view_backing *e)
{
}

void view_pt_want(struct view *v, struct fuse_conn_info *conn)
{
}

void view_read_path_decide(struct view *v)
{
	if (v->read_path == VIEW_READ_COPY || v->read_path == VIEW_READ_SPLICE)
		set_mode(v, VIEW_MODE_COPY, "the read path option asks for %s",
			 v->read_path == VIEW_READ_COPY ? "copy" : "splice");
	else
		set_mode(v, VIEW_MODE_COPY, "built with libfuse %s: no passthrough (needs 3.17)",
			 fuse_pkgversion());
}

#endif
