/*
 * view_inodes: what the kernel holds of the view's files, and the files of
 * deleted snapshots kept readable for it.
 *
 * The kernel opens files without asking (FUSE_CAP_NO_OPEN_SUPPORT, see
 * view_ops.c): it sends neither open nor release, only reads, so the view
 * cannot know which files are open. What it can know is which file inodes
 * the kernel holds: every entry it hands out (lookup, readdirplus) adds one
 * to the inode's lookup count, every forget takes away what the kernel says.
 * An open file pins its inode, so an inode the kernel forgot is not open.
 *
 * When a generation swap drops a file inode the kernel still holds (its
 * snapshot is being deleted), view_inodes_retire() hard-links the
 * underlying file into the hold directory (DATA/view-holds/<ino>) before
 * the snapshot's own links go: reads of that inode go on there, and the
 * link goes when the kernel forgets the inode. view_mount.c also tells the
 * kernel the file is deleted (notify_delete: nlink 0) under every name,
 * and drops from its cache every name of any file leaving the view (a
 * name in use when its directory went would otherwise stay, and keep the
 * inode after its reader closed), so an inode no one has open is
 * evicted, and forgotten, at once; the space comes back when
 * the last reader closes, as for an unlinked file on any filesystem. A
 * hold costs a directory entry, never a file descriptor. If linking is
 * impossible (another filesystem), an open fd is kept instead, at most
 * VIEW_HOLD_MAX_FDS of them.
 *
 * An entry handed out while the swap runs, from the generation being
 * replaced, may miss its hold; reading it then fails with ESTALE, as a
 * file deleted between lookup and open would on a local filesystem. A file
 * opened before the deletion began is always held.
 *
 * The table also remembers which small files were pushed into the kernel's
 * page cache (view_ops.c), so a file shared by many snapshots is pushed
 * once per life of its kernel inode.
 *
 * Leftover holds (a daemon killed with readers) are removed when the next
 * view starts: no kernel inode survives its daemon.
 *
 * Locking: one mutex, a leaf; no kernel notification is sent under it.
 */
#include "view_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "hash.h"

#define VIEW_HOLD_MAX_FDS 1024

struct view_hold {
	char *path;	    /* the hold link, or NULL: fd instead */
	int fd;		    /* -1 unless path is NULL */
	uint64_t fgen;	    /* the entry generation it was handed out with */
	struct view_attr a; /* its attributes, nlink 0 */
};

struct view_ient {
	struct view_ient *next;
	uint64_t ino;
	uint64_t nlookup;
	int pushed;
	struct view_hold *hold;
};

static size_t bucket(const struct view_inodes *t, uint64_t ino)
{
	return (size_t)(mix64(ino) & (t->nb - 1));
}

static struct view_ient **slot_of(struct view_inodes *t, uint64_t ino)
{
	struct view_ient **p = &t->b[bucket(t, ino)];

	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

static void grow(struct view_inodes *t)
{
	struct view_ient **old = t->b;
	size_t onb = t->nb;

	t->nb *= 2;
	t->b = xcalloc(t->nb, sizeof(*t->b));
	for (size_t i = 0; i < onb; i++) {
		struct view_ient *e = old[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = t->b[bucket(t, e->ino)];
			t->b[bucket(t, e->ino)] = e;
		}
	}
	free(old);
}

/* The entry for ino, made if missing. */
static struct view_ient *get(struct view_inodes *t, uint64_t ino)
{
	struct view_ient **p = slot_of(t, ino);

	if (*p)
		return *p;
	if (t->n >= t->nb) {
		grow(t);
		p = slot_of(t, ino);
	}
	*p = xcalloc(1, sizeof(**p));
	(*p)->ino = ino;
	t->n++;
	return *p;
}

static void hold_drop(struct view_inodes *t, struct view_hold *h)
{
	if (h->path && unlink(h->path) != 0 && errno != ENOENT)
		view_log("cannot remove the hold '%s': %s", h->path, strerror(errno));
	if (h->fd >= 0) {
		close(h->fd);
		t->nfds--;
	}
	free(h->path);
	free(h);
}

/* Unlinks and frees the entry *p. */
static void unlink_entry(struct view_inodes *t, struct view_ient **p)
{
	struct view_ient *e = *p;

	*p = e->next;
	if (e->hold)
		hold_drop(t, e->hold);
	free(e);
	t->n--;
}

/* Removes what a killed daemon left in dir: files only, named by numbers. */
static void clear_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) != 0)
			view_log("cannot remove the leftover hold '%s/%s': %s", dir, de->d_name,
				 strerror(errno));
	}
	closedir(d);
}

void view_inodes_init(struct view_inodes *t, const char *hold_dir)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->nb = 1024;
	t->b = xcalloc(t->nb, sizeof(*t->b));
	if (hold_dir) {
		t->hold_dir = xstrdup(hold_dir);
		clear_dir(hold_dir);
		if (mkdir(hold_dir, 0700) != 0 && errno != EEXIST)
			view_log("cannot make the hold directory '%s': %s", hold_dir,
				 strerror(errno));
	}
}

void view_inodes_release(struct view_inodes *t)
{
	for (size_t i = 0; i < t->nb; i++)
		while (t->b[i])
			unlink_entry(t, &t->b[i]);
	free(t->b);
	t->b = NULL;
	if (t->hold_dir)
		rmdir(t->hold_dir); /* empty now; it is made again at the next start */
	free(t->hold_dir);
	t->hold_dir = NULL;
	pthread_mutex_destroy(&t->lock);
}

void view_inodes_looked_up(struct view_inodes *t, const struct view_node *const *n, size_t count,
			   int up)
{
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < count; i++) {
		struct view_ient **p, *e;

		if (n[i]->kind != VIEW_FILE)
			continue; /* only files can be read after their snapshot went */
		if (up) {
			get(t, n[i]->ino)->nlookup++;
			continue;
		}
		p = slot_of(t, n[i]->ino);
		e = *p;
		if (e && e->nlookup > 1)
			e->nlookup--;
		else if (e)
			unlink_entry(t, p);
	}
	pthread_mutex_unlock(&t->lock);
}

void view_inodes_forget(struct view_inodes *t, uint64_t ino, uint64_t nlookup)
{
	struct view_ient **p;

	pthread_mutex_lock(&t->lock);
	p = slot_of(t, ino);
	if (*p) {
		if ((*p)->nlookup > nlookup)
			(*p)->nlookup -= nlookup;
		else
			unlink_entry(t, p); /* the hold, if any, goes with it */
	}
	pthread_mutex_unlock(&t->lock);
}

int view_inodes_push_once(struct view_inodes *t, uint64_t ino)
{
	struct view_ient *e;
	int first = 0;

	pthread_mutex_lock(&t->lock);
	e = *slot_of(t, ino);
	if (e && !e->pushed && !e->hold) {
		e->pushed = 1;
		first = 1;
	}
	pthread_mutex_unlock(&t->lock);
	return first;
}

void view_inodes_push_failed(struct view_inodes *t, uint64_t ino)
{
	struct view_ient *e;

	pthread_mutex_lock(&t->lock);
	e = *slot_of(t, ino);
	if (e)
		e->pushed = 0;
	pthread_mutex_unlock(&t->lock);
}

int view_inodes_known(struct view_inodes *t, uint64_t ino)
{
	struct view_ient *e;
	int known;

	pthread_mutex_lock(&t->lock);
	e = *slot_of(t, ino);
	known = e && e->nlookup > 0;
	pthread_mutex_unlock(&t->lock);
	return known;
}

int view_inodes_given(struct view_inodes *t, uint64_t ino)
{
	struct view_ient *e;
	int given;

	pthread_mutex_lock(&t->lock);
	e = *slot_of(t, ino);
	given = e && e->pushed;
	pthread_mutex_unlock(&t->lock);
	return given;
}

/* A hold for n as a link in the hold directory, or NULL. Touches nothing
 * of t but hold_dir (set once): called without the lock. */
static struct view_hold *hold_link(const struct view_inodes *t, const struct view_node *n)
{
	struct view_hold *h;
	char *src, *dst;
	struct stat st;

	if (!t->hold_dir)
		return NULL;
	src = fs_path("%s/%s", n->file.srcdir, n->name);
	dst = fs_path("%s/%016" PRIx64, t->hold_dir, n->ino);
	if (link(src, dst) != 0 && errno == EEXIST)
		/* left by an earlier hold of a reused number */
		(void)!(unlink(dst) == 0 && link(src, dst) == 0);
	free(src);
	if (lstat(dst, &st) != 0 || st.st_ino != n->file.real_ino || st.st_dev != n->file.dev) {
		if (unlink(dst) != 0 && errno != ENOENT)
			view_log("cannot remove '%s': %s", dst, strerror(errno));
		free(dst);
		return NULL;
	}
	h = xcalloc(1, sizeof(*h));
	h->path = dst;
	h->fd = -1;
	return h;
}

/* A hold for n as an open fd, or NULL (logged). Called with the lock. */
static struct view_hold *hold_fd(struct view_inodes *t, const struct view_node *n)
{
	char *src = fs_path("%s/%s", n->file.srcdir, n->name);
	struct view_hold *h = NULL;
	int fd = -1, err = EMFILE;

	if (t->nfds < VIEW_HOLD_MAX_FDS) {
		fd = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
		err = errno;
	}
	if (fd >= 0) {
		h = xcalloc(1, sizeof(*h));
		h->fd = fd;
		t->nfds++;
	} else {
		view_log("'%s' cannot be kept readable after its snapshot is deleted: %s", src,
			 strerror(err));
	}
	free(src);
	return h;
}

/* True if nw no longer shows the file n of the old generation. */
static int gone_in(const struct view_gen *nw, const struct view_node *n)
{
	const struct view_node *m = view_gen_find(nw, n->ino);

	return !m || m->kind != VIEW_FILE || m->fgen != n->fgen;
}

struct retiree {
	const struct view_node *n; /* in old, resolved */
	struct view_hold *h;
};

size_t view_inodes_retire(struct view_inodes *t, const struct view_gen *old,
			  const struct view_gen *nw, uint64_t **held)
{
	struct retiree *r = NULL;
	size_t nr = 0, cap = 0, n = 0;

	*held = NULL;
	if (!old || !nw)
		return 0;
	/* which: the files nw drops that the kernel holds */
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i <= old->mask; i++) {
		const struct view_node *o = old->slots[i];
		struct view_ient *e;

		if (!o || o->kind != VIEW_FILE || !gone_in(nw, o))
			continue;
		e = *slot_of(t, o->ino);
		if (!e || e->nlookup == 0 || e->hold)
			continue;
		if (nr == cap) {
			cap = cap ? 2 * cap : 16;
			r = xrealloc(r, cap * sizeof(*r));
		}
		r[nr++] = (struct retiree){view_gen_resolve(old, o), NULL};
	}
	pthread_mutex_unlock(&t->lock);
	if (nr == 0)
		return 0;

	/* the links, a disk write each: without the lock, which every
	 * lookup and forget takes */
	for (size_t i = 0; i < nr; i++)
		r[i].h = hold_link(t, r[i].n);

	*held = xcalloc(nr, sizeof(**held));
	pthread_mutex_lock(&t->lock);
	for (size_t i = 0; i < nr; i++) {
		struct view_ient *e = *slot_of(t, r[i].n->ino);
		struct view_hold *h = r[i].h;

		if (!e || e->hold) {
			/* forgotten meanwhile: no reader */
			if (h)
				hold_drop(t, h);
			continue;
		}
		if (!h)
			h = hold_fd(t, r[i].n); /* another filesystem? */
		if (!h)
			continue;
		h->fgen = r[i].n->fgen;
		h->a = r[i].n->a;
		h->a.nlink = 0;
		e->hold = h;
		(*held)[n++] = r[i].n->ino;
	}
	pthread_mutex_unlock(&t->lock);
	free(r);
	return n;
}

int view_inodes_open_held(struct view_inodes *t, uint64_t ino, struct stat *st, uint64_t *fgen)
{
	struct view_ient *e;
	int fd = -ENOENT;

	pthread_mutex_lock(&t->lock);
	e = *slot_of(t, ino);
	if (e && e->hold) {
		struct view_hold *h = e->hold;

		if (st) {
			struct view_node tmp = {.ino = ino, .kind = VIEW_FILE, .a = h->a};

			view_node_stat(&tmp, st);
			if (fgen)
				*fgen = h->fgen;
			fd = 0;
		} else if (h->path) {
			fd = open(h->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
			if (fd < 0)
				fd = -errno;
		} else {
			fd = fcntl(h->fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0)
				fd = -errno;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return fd;
}
