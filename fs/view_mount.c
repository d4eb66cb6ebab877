/*
 * view_mount: the life of a mounted view (view.h): mount point checks,
 * mount, the session thread, generation swaps and kernel invalidation,
 * unmount.
 *
 * Threads:
 * - view_start() runs in the daemon's thread; it starts one thread that
 *   runs fuse_session_loop_mt(), which spawns the request workers. That
 *   thread is created with every signal blocked (the workers inherit the
 *   mask), so the daemon's signals are never delivered to a FUSE thread.
 * - view_changed() may be called from any thread but a FUSE worker (its
 *   list callback must not read the mount). It builds the new generation
 *   without holding view->lock, swaps the pointer under it, and only then
 *   notifies the kernel: a lookup racing the swap holds the directory lock
 *   the notification waits for, so no stale entry survives it.
 * - view_stop() may be called from any thread but a FUSE worker, e.g. the
 *   daemon's sigwait() thread (it is not async-signal-safe: never from a
 *   signal handler). It looks up a secret name under the mount; the worker
 *   answering that lookup sets the session's exit flag first (libfuse
 *   would drop, unanswered, a request read after the flag is set), and
 *   the loop then cancels the workers still blocked in read(/dev/fuse).
 *   If the lookup cannot reach the mount (someone unmounted it lazily
 *   while a file was still open) it aborts the connection through
 *   fusectl. Then fuse_session_unmount() closes the device (the kernel
 *   aborts the connection: requests still queued fail with ENOTCONN) and
 *   detaches the mount.
 *
 * Errors: a list callback failing at start fails view_start(). Failing
 * later, the view stays mounted and answers EIO below the root until the
 * next successful view_changed(): an empty tree would invite `rsync
 * --delete` to wipe a mirror.
 */
#include "view_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"

extern char **environ;

void view_log(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "snapfs: view: %s\n", msg);
}

/* *slot (v->gen or v->good), with a reference taken under v->lock. */
static struct view_gen *take_gen(struct view *v, struct view_gen **slot)
{
	struct view_gen *g;

	pthread_mutex_lock(&v->lock);
	g = *slot;
	view_gen_get(g);
	pthread_mutex_unlock(&v->lock);
	return g;
}

struct view_gen *view_current(struct view *v)
{
	return take_gen(v, &v->gen);
}

struct view_gen *view_readable(struct view *v)
{
	return take_gen(v, &v->good);
}

void view_catalog_release(struct view_catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nsnaps; i++) {
		struct view_snapshot *s = &c->snaps[i];

		free(s->keyspace);
		free(s->meta_dir);
		for (size_t j = 0; j < s->ndirs; j++) {
			free(s->dirs[j].rel);
			free(s->dirs[j].src);
		}
		free(s->dirs);
		for (size_t j = 0; j < s->ntables; j++)
			free(s->tables[j]);
		free(s->tables);
	}
	free(c->snaps);
	for (size_t i = 0; i < c->nrps; i++)
		free(c->rps[i].name);
	free(c->rps);
	memset(c, 0, sizeof(*c));
}

/* ---- unmounting a path ---- */

/* Lazily unmounts path: umount2(MNT_DETACH) as root, fusermount3 -u -z
 * otherwise. Returns 0 or a negative errno. */
static int unmount_path(const char *path)
{
	char *argv[] = {"fusermount3", "-u", "-z", (char *)path, NULL};
	int status, rc;
	pid_t pid;

	if (umount2(path, MNT_DETACH) == 0)
		return 0;
	rc = -errno;
	if (posix_spawnp(&pid, "fusermount3", NULL, NULL, argv, environ) != 0)
		return rc;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return rc;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : rc;
}

/* ---- mount point checks ---- */

/* 1 if path is an empty directory, 0 if not empty, or a negative errno. A
 * dead FUSE mount answers ENOTCONN here unless its kernel skipped opendir
 * and cached the listing (see is_dead_mount). */
static int dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return -errno;
	while ((errno = 0, de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			empty = 0;
			break;
		}
	if (!de && errno)
		empty = -errno;
	closedir(d);
	return empty;
}

static int is_stale(int err)
{
	return err == ENOTCONN || err == ECONNABORTED;
}

/* True if path is a FUSE mount whose daemon is gone. stat() and even a
 * listing may still be answered from the kernel's caches (a view that
 * skipped opendir has its listings cached); statfs always asks the
 * daemon. */
static int is_dead_mount(const char *path)
{
	struct statfs sfs;

	return statfs(path, &sfs) < 0 && is_stale(errno);
}

/* A mount left by a killed daemon: unmount it lazily, with a word. */
static int clear_stale(const char *mnt, struct errbuf *e)
{
	char *abs = NULL;
	int rc;

	if (mnt[0] == '/') {
		abs = xstrdup(mnt);
	} else {
		char cwd[PATH_MAX];

		if (!getcwd(cwd, sizeof(cwd)))
			return err_set(e, -EINVAL, "mount point '%s': %s", mnt, strerror(errno));
		abs = fs_path("%s/%s", cwd, mnt);
	}
	fprintf(stderr,
		"snapfs: mount point '%s': clearing a stale mount left by a previous daemon\n",
		mnt);
	rc = unmount_path(abs);
	free(abs);
	if (rc)
		return err_set(e, -EINVAL, "mount point '%s': stale mount: %s", mnt, strerror(-rc));
	return 0;
}

static int check_mountpoint(const char *mnt, struct errbuf *e)
{
	struct stat st;
	int rc, cleared = 0;

again:
	if (!cleared && is_dead_mount(mnt)) {
		rc = clear_stale(mnt, e);
		if (rc)
			return rc;
		cleared = 1;
		goto again;
	}
	if (stat(mnt, &st) < 0) {
		if (is_stale(errno) && !cleared) {
			rc = clear_stale(mnt, e);
			if (rc)
				return rc;
			cleared = 1;
			goto again;
		}
		if (errno == ENOENT)
			return err_set(e, -EINVAL, "mount point '%s': no such directory", mnt);
		return err_set(e, -EINVAL, "mount point '%s': %s", mnt, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return err_set(e, -EINVAL, "mount point '%s': not a directory", mnt);
	rc = dir_is_empty(mnt);
	if (rc < 0 && is_stale(-rc) && !cleared) {
		rc = clear_stale(mnt, e);
		if (rc)
			return rc;
		cleared = 1;
		goto again;
	}
	if (rc < 0)
		return err_set(e, -EINVAL, "mount point '%s': %s", mnt, strerror(-rc));
	if (!rc)
		return err_set(e, -EINVAL, "mount point '%s': not empty", mnt);
	return 0;
}

/* ---- after mounting ---- */

/* Streaming reads: the mount's readahead is the one data knob, and
 * max_readahead cannot raise it past 128 KiB. */
static void set_readahead(struct view *v)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major(v->dev),
		 minor(v->dev));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "4096", 4) != 4)
		view_log("cannot set '%s' to 4096: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void *loop_thread(void *arg)
{
	struct view *v = arg;
	int rc = fuse_session_loop_mt(v->se, NULL);

	if (!atomic_load(&v->stopping))
		view_log("mount '%s' went away (%d); the view is no longer served", v->mnt, rc);
	atomic_store(&v->loop_done, 1);
	return NULL;
}

static int start_loop(struct view *v)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&v->thread, NULL, loop_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	v->thread_started = 1;
	return 0;
}

/* ---- invalidation ---- */

static void inval_entry(void *arg, uint64_t parent, const char *name)
{
	struct view *v = arg;

	fuse_lowlevel_notify_inval_entry(v->se, parent, name, strlen(name));
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The files below d (of the old generation, in a subtree nw no longer
 * has) whose inodes the kernel holds: each name the kernel may have is
 * dropped from its dentry cache, so that no dentry (in use by an open
 * file when its directory was invalidated, and so left hashed) keeps the
 * inode alive after its last reader: the kernel forgets it then, and its
 * hold goes. A held file (deleted with its snapshot) is told deleted
 * (nlink 0) under every name; another (still in a snapshot that stays)
 * only loses the names that went. Errors are the kernel not having the
 * name: nothing to drop. */
static void drop_names(struct view *v, const struct view_gen *nw, const struct view_node *d,
		       const uint64_t *held, size_t nheld)
{
	if (view_gen_find(nw, d->ino) == d)
		return; /* shared with the new generation: nothing went below */
	for (size_t i = 0; i < d->dir.nkids; i++) {
		const struct view_node *n = d->dir.kids[i];

		if (n->kind == VIEW_DIR) {
			drop_names(v, nw, n, held, nheld);
			continue;
		}
		if (n->kind != VIEW_FILE || !view_inodes_known(&v->inodes, n->ino))
			continue;
		if (nheld && bsearch(&n->ino, held, nheld, sizeof(*held), u64_cmp))
			fuse_lowlevel_notify_delete(v->se, d->ino, n->ino, n->name,
						    strlen(n->name));
		else
			fuse_lowlevel_notify_inval_entry(v->se, d->ino, n->name, strlen(n->name));
	}
}

static void inval_inode(void *arg, uint64_t ino, int data)
{
	struct view *v = arg;

	fuse_lowlevel_notify_inval_inode(v->se, ino, data ? 0 : -1, 0);
}

/* ---- the public functions ---- */

static void view_free(struct view *v)
{
	view_handles_release(v);
	view_prefetch_release(&v->prefetch);
	view_streams_drop(v);
	pthread_mutex_destroy(&v->streams.lock);
	view_gen_put(v->good);
	view_gen_put(v->gen);
	view_inodes_release(&v->inodes);
	view_backings_release(&v->backings);
	pthread_mutex_destroy(&v->mode_lock);
	pthread_mutex_destroy(&v->hlock);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->build_lock);
	free(v->mnt);
	free(v);
}

/* The biggest read request the copy path can splice: libfuse splices a
 * reply only if it fits, with its header and three pages of slack, in a
 * pipe it may grow (F_SETPIPE_SZ: up to /proc/sys/fs/pipe-max-size, 1 MiB
 * by default, or past it with CAP_SYS_RESOURCE), and otherwise copies it
 * into a buffer it mallocs. The kernel asks for 1 MiB at most (readahead
 * of 4 MiB); 0 if pipes cannot take 256 KiB. */
static unsigned splice_max_read(void)
{
	const unsigned want = 1024 * 1024, slack = 16 * 1024;
	unsigned got = 0;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return 0;
	for (unsigned size = 2 * want; size >= 256 * 1024 && !got; size /= 2)
		if (fcntl(p[0], F_SETPIPE_SZ, size) >= (int)size)
			got = size - slack < want ? size - slack : want;
	close(p[0]);
	close(p[1]);
	return got;
}

static struct fuse_session *new_session(struct view *v, const struct view_opts *o)
{
	char opts[200], max_read[40] = "";
	char *argv[] = {"snapfs", "-o", opts, o->debug ? "-d" : NULL, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 4 : 3, argv);
	struct fuse_session *se;
	unsigned mr = o->read_path == VIEW_READ_COPY ? 0 : splice_max_read();

	/* reads of 1 MiB do not fit a pipe of 1 MiB: ask for a bit less */
	if (mr && mr < 1024 * 1024)
		snprintf(max_read, sizeof(max_read), ",max_read=%u", mr);
	v->splice_ok = mr > 0;
	v->max_read = mr && mr < 1024 * 1024 ? mr : 0;
	snprintf(opts, sizeof(opts), "fsname=snapfs,subtype=snapfs,ro,default_permissions%s%s",
		 o->allow_other ? ",allow_other" : "", max_read);
	se = fuse_session_new(&args, &view_ops, sizeof(view_ops), v);
	fuse_opt_free_args(&args);
	return se;
}

int view_start(struct view **out, const struct view_opts *o, view_list_fn list, void *arg,
	       struct errbuf *e)
{
	struct view_catalog c = {0};
	struct view *v = NULL;
	struct stat st;
	char *real = NULL;
	int rc;

	*out = NULL;
	if (!o || !o->mountpoint || !*o->mountpoint || !list)
		return err_set(e, -EINVAL, "mount point '': not given");
#ifndef SNAPFS_HAVE_PASSTHROUGH
	if (o->read_path == VIEW_READ_PASSTHROUGH)
		return err_set(e, -EINVAL,
			       "read path 'passthrough': built with libfuse %s, which has none "
			       "(needs 3.17)",
			       fuse_pkgversion());
#endif
	rc = check_mountpoint(o->mountpoint, e);
	if (rc)
		return rc;
	real = realpath(o->mountpoint, NULL);
	if (!real)
		return err_set(e, -EINVAL, "mount point '%s': %s", o->mountpoint, strerror(errno));

	v = xcalloc(1, sizeof(*v));
	pthread_mutex_init(&v->lock, NULL);
	pthread_mutex_init(&v->build_lock, NULL);
	pthread_mutex_init(&v->hlock, NULL);
	v->list = list;
	v->arg = arg;
	v->mnt = real;
	v->debug = o->debug;
	v->b.uid = getuid();
	v->b.gid = getgid();
	view_inodes_init(&v->inodes, o->hold_dir);
	pthread_mutex_init(&v->streams.lock, NULL);
	for (int i = 0; i < VIEW_STREAMS; i++)
		v->streams.e[i].fd = -1;
	v->push_max = o->push_max;
	v->read_path = o->read_path;
	/* pushes go only to files opened cached */
	v->pt_min = o->passthrough_min > o->push_max ? o->passthrough_min : o->push_max;
	pthread_mutex_init(&v->mode_lock, NULL);
	view_backings_init(&v->backings);

	rc = list(arg, &c);
	if (rc < 0) {
		view_catalog_release(&c);
		err_set(e, rc, "mount point '%s': cannot list snapshots: %s", o->mountpoint,
			strerror(-rc));
		goto fail;
	}
	v->gen = view_gen_build(&v->b, &c, NULL);
	v->good = v->gen;
	view_gen_get(v->good);
	view_catalog_release(&c);

	v->se = new_session(v, o);
	if (!v->se) {
		rc = err_set(e, -EIO, "mount point '%s': cannot start a FUSE session",
			     o->mountpoint);
		goto fail;
	}
	view_prefetch_init(&v->prefetch, &v->inodes, v->se, o->push_max);
	if (fuse_session_mount(v->se, v->mnt) != 0) {
		rc = err_set(e, -EIO, "mount point '%s': cannot mount (is /dev/fuse there?)",
			     o->mountpoint);
		goto fail;
	}
	v->mounted = 1;
	rc = start_loop(v);
	if (rc) {
		err_set(e, rc, "mount point '%s': cannot start the FUSE thread: %s", o->mountpoint,
			strerror(-rc));
		goto fail;
	}
	/* served by the loop now */
	if (stat(v->mnt, &st) == 0) {
		v->dev = st.st_dev;
		set_readahead(v);
	} else {
		view_log("cannot stat '%s' after mounting: %s", v->mnt, strerror(errno));
	}
	view_read_path_decide(v); /* INIT is answered: the stat needed it */
	*out = v;
	return 0;
fail:
	view_prefetch_stop(&v->prefetch);
	if (v->se) {
		if (v->mounted)
			fuse_session_unmount(v->se);
		fuse_session_destroy(v->se);
	}
	view_free(v);
	return rc;
}

void view_changed(struct view *v)
{
	struct view_catalog c = {0};
	struct view_gen *g, *old;
	struct view_inval iv = {inval_entry, inval_inode, v};
	struct view_gen *old_good = NULL;
	uint64_t *held = NULL;
	size_t nheld = 0;
	int rc;

	if (!v)
		return;
	pthread_mutex_lock(&v->build_lock);
	if (atomic_load(&v->stopping))
		goto out;
	rc = v->list(v->arg, &c);
	if (rc < 0) {
		view_log("cannot list snapshots: %s; answering EIO until the next change",
			 strerror(-rc));
		g = view_gen_broken(&v->b);
	} else {
		g = view_gen_build(&v->b, &c, v->gen); /* v->gen only moves under build_lock */
	}
	view_catalog_release(&c);

	/* before the swap, while the files of a snapshot being deleted are
	 * still there: hold those the kernel has (view_inodes.c). From the
	 * last good generation: a broken one deletes nothing. */
	if (!g->broken)
		nheld = view_inodes_retire(&v->inodes, v->good, g, &held);

	pthread_mutex_lock(&v->lock);
	old = v->gen;
	v->gen = g;
	if (!g->broken) {
		old_good = v->good;
		v->good = g;
		view_gen_get(g);
	}
	pthread_mutex_unlock(&v->lock);

	if (old_good) {
		if (nheld)
			qsort(held, nheld, sizeof(*held), u64_cmp);
		drop_names(v, g, old_good->root, held, nheld);
	}
	free(held);
	view_gen_put(old_good);
	view_streams_drop(v); /* none may keep a deleted file's space */
	view_gen_diff(old, g, &iv);
	view_gen_put(old);
out:
	pthread_mutex_unlock(&v->build_lock);
}

/* libfuse drops, unanswered, any request a worker reads once the session
 * is told to exit. So the exit is told from inside a request: view_stop()
 * looks up a name nobody else can know, and its handler exits the session
 * before replying. The worker that answers sees the flag at once; the loop
 * then cancels the others, blocked in read(). */
int view_stop_lookup(struct view *v, fuse_ino_t parent, const char *name)
{
	if (parent != FUSE_ROOT_ID || !atomic_load(&v->stop_armed) ||
	    strcmp(name, v->stop_name) != 0)
		return 0;
	fuse_session_exit(v->se);
	return 1;
}

static void wake_loop(struct view *v)
{
	struct timespec now;
	struct stat st;
	char *path;

	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(v->stop_name, sizeof(v->stop_name), ".snapfs-stop-%ld-%ld.%09ld-%lx",
		 (long)getpid(), (long)now.tv_sec, now.tv_nsec, (unsigned long)random());
	atomic_store(&v->stop_armed, 1);
	path = fs_path("%s/%s", v->mnt, v->stop_name);
	(void)!stat(path, &st);
	free(path);
}

/* Makes every blocked read(/dev/fuse) return: the connection is gone.
 * fusectl is mounted first if it is not (as systemd does at boot). */
static void abort_connection(struct view *v)
{
	const char *dir = "/sys/fs/fuse/connections";
	char path[96];
	int fd;

	snprintf(path, sizeof(path), "%s/%u/abort", dir, (major(v->dev) << 20) | minor(v->dev));
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && mount("fusectl", dir, "fusectl", 0, NULL) == 0)
		fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1)
		view_log("cannot abort the connection through '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static int join_within(struct view *v, int seconds)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += seconds;
	return pthread_timedjoin_np(v->thread, NULL, &until);
}

void view_stop(struct view *v)
{
	if (!v)
		return;
	pthread_mutex_lock(&v->build_lock);
	atomic_store(&v->stopping, 1);
	/* first, while the workers answer the reads a push may wait on */
	view_prefetch_stop(&v->prefetch);
	if (v->thread_started) {
		if (!atomic_load(&v->loop_done))
			wake_loop(v);
		if (join_within(v, 2) != 0) {
			/* the wake-up did not reach the mount (unmounted
			 * lazily by someone while a file is still open) */
			fuse_session_exit(v->se);
			abort_connection(v);
			if (join_within(v, 10) != 0) {
				/* cannot happen unless the kernel is stuck; keep
				 * everything alive rather than free under it */
				view_log("mount '%s': the FUSE thread does not end; leaving it",
					 v->mnt);
				pthread_mutex_unlock(&v->build_lock);
				return;
			}
		}
	}
	if (v->mounted)
		fuse_session_unmount(v->se);
	fuse_session_destroy(v->se);
	v->se = NULL;
	pthread_mutex_unlock(&v->build_lock);
	view_free(v);
}
