/*
 * view_prefetch: warms the underlying files of a snapshot as soon as its
 * directory is listed, so that reading it through the view waits on no
 * disk.
 *
 * A backup tool that lists snapshots/<id>/ is about to read every file
 * below it, one after the other. Through FUSE each small file costs a
 * round trip (view_ops.c pushes them at the end of their directory's
 * listing) plus, cold, the disk reads of its directory, inode and data,
 * all on the reader's clock. When the listing of a snapshot (or restore
 * point) directory begins, view_prefetch_subtree() queues the small files
 * below it, in listing order; VIEW_PREFETCH_THREADS threads open each one
 * (reading its directory and inode), ask the kernel to read its data
 * (posix_fadvise WILLNEED, which does not wait) and close it. The reader
 * then finds the underlying page cache warm, and the disk works in
 * parallel with it rather than in turn.
 *
 * The same threads push small files into the kernel's page cache when a
 * listing of their directory ends (view_prefetch_push, from view_ops.c):
 * pushes go before warming, a reader is at that directory now. Pushing
 * from these threads, not from the request, keeps a listing that reads no
 * content (`rsync -an`, `find`) from waiting on the disk.
 *
 * Bounded: only files up to the push size, only those the kernel has not
 * been given yet (view_inodes.c), at most VIEW_PREFETCH_JOBS subtrees
 * queued (a new listing drops the oldest: a reader has moved on). A job
 * holds a reference on its generation, so its nodes stay valid; it never
 * holds an fd beyond one open/close.
 *
 * Called from FUSE workers (view_prefetch_subtree, view_prefetch_push);
 * view_stop() stops the threads while the workers still answer: a push
 * may wait on a page locked by a read only a worker can answer.
 */
#include "view_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

struct view_pf_job {
	struct view_gen *g; /* a reference */
	const struct view_node **files;
	size_t n, next; /* next: protected by view_prefetch->lock */
	int push;	/* push into the kernel's cache, not just warm */
};

static void job_free(struct view_pf_job *j)
{
	view_gen_put(j->g);
	free(j->files);
	free(j);
}

/* Drops the finished jobs at the head of q. */
static void drop_done(struct view_pf_job **q, size_t *n)
{
	while (*n > 0 && q[0]->next == q[0]->n) {
		/* a worker still on its last files holds its own reference
		 * on the generation */
		job_free(q[0]);
		memmove(q, q + 1, --*n * sizeof(*q));
	}
}

/* The next file, with a reference on its generation in *g and whether to
 * push it in *push, or NULL to stop. Pushes go first: a reader is at
 * their directory now. Called with the lock held. */
static const struct view_node *take(struct view_prefetch *p, struct view_gen **g, int *push)
{
	for (;;) {
		struct view_pf_job *j = NULL;

		drop_done(p->pushes, &p->npushes);
		drop_done(p->jobs, &p->njobs);
		if (p->stopping)
			return NULL;
		if (p->npushes > 0)
			j = p->pushes[0];
		else if (p->njobs > 0)
			j = p->jobs[0];
		if (j) {
			*g = j->g;
			*push = j->push;
			view_gen_get(*g);
			return j->files[j->next++];
		}
		pthread_cond_wait(&p->cond, &p->lock);
	}
}

static void warm(const struct view_node *n)
{
	int fd = view_open_file(n);

	if (fd >= 0) {
		(void)posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
		close(fd);
	}
}

/* Pushes n's content into the kernel's page cache, once per life of its
 * kernel inode. Errors only cost the push. */
static void push(struct view_prefetch *p, const struct view_node *n)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(0);
	int fd, rc = -1;

	if (!view_inodes_push_once(p->inodes, n->ino))
		return;
	fd = view_open_file(n);
	if (fd >= 0) {
		buf.buf[0].size = (size_t)n->a.size;
		buf.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		buf.buf[0].fd = fd;
		buf.buf[0].pos = 0;
		/* the kernel may have dropped the inode since: ENOENT */
		rc = fuse_lowlevel_notify_store(p->se, n->ino, 0, &buf, 0);
	}
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		view_inodes_push_failed(p->inodes, n->ino); /* reads will ask */
}

static void *worker(void *arg)
{
	struct view_prefetch *p = arg;
	const struct view_node *n;
	struct view_gen *g;
	int pushing;

	pthread_mutex_lock(&p->lock);
	while ((n = take(p, &g, &pushing))) {
		pthread_mutex_unlock(&p->lock);
		if (pushing)
			push(p, n);
		else if (!view_inodes_given(p->inodes, n->ino))
			warm(n);
		view_gen_put(g);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

void view_prefetch_init(struct view_prefetch *p, struct view_inodes *inodes,
			struct fuse_session *se, int64_t max_size)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->inodes = inodes;
	p->se = se;
	p->max_size = max_size;
	p->inited = 1;
	for (int i = 0; max_size > 0 && i < VIEW_PREFETCH_THREADS; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
		p->nthreads++;
	}
}

void view_prefetch_stop(struct view_prefetch *p)
{
	if (!p->inited || p->stopped)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1; /* enqueue() queues nothing from now on */
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	while (p->njobs > 0)
		job_free(p->jobs[--p->njobs]);
	while (p->npushes > 0)
		job_free(p->pushes[--p->npushes]);
	p->stopped = 1;
}

void view_prefetch_release(struct view_prefetch *p)
{
	if (!p->inited)
		return;
	view_prefetch_stop(p);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	p->inited = 0;
}

static void collect(struct view_pf_job *j, size_t *cap, const struct view_gen *g,
		    const struct view_node *d, int64_t max_size, int deep)
{
	for (size_t i = 0; i < d->dir.nkids; i++) {
		const struct view_node *n = d->dir.kids[i];

		if (n->kind == VIEW_DIR) {
			if (deep)
				collect(j, cap, g, n, max_size, deep);
			continue;
		}
		n = view_gen_resolve(g, n);
		if (n->kind != VIEW_FILE || n->a.size <= 0 || n->a.size > max_size)
			continue;
		if (j->n == *cap) {
			*cap = *cap ? 2 * *cap : 64;
			j->files = xrealloc(j->files, *cap * sizeof(*j->files));
		}
		j->files[j->n++] = n;
	}
}

/* Queues the files of d (and below it if deep) on q, dropping its oldest
 * job if q is full: its reader has moved on. */
static void enqueue(struct view_prefetch *p, struct view_pf_job **q, size_t *nq, struct view_gen *g,
		    const struct view_node *d, int push)
{
	struct view_pf_job *j, *drop = NULL;
	size_t cap = 0;

	if (p->nthreads == 0)
		return;
	j = xcalloc(1, sizeof(*j));
	collect(j, &cap, g, d, p->max_size, !push);
	if (j->n == 0) {
		free(j->files);
		free(j);
		return;
	}
	view_gen_get(g);
	j->g = g;
	j->push = push;
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		job_free(j);
		return;
	}
	if (*nq == VIEW_PREFETCH_JOBS) {
		/* a worker may be on one of its files, under its own
		 * reference on the generation */
		drop = q[0];
		memmove(q, q + 1, --*nq * sizeof(*q));
	}
	q[(*nq)++] = j;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	if (drop)
		job_free(drop);
}

void view_prefetch_subtree(struct view_prefetch *p, struct view_gen *g, const struct view_node *d)
{
	enqueue(p, p->jobs, &p->njobs, g, d, 0);
}

void view_prefetch_push(struct view_prefetch *p, struct view_gen *g, const struct view_node *d)
{
	enqueue(p, p->pushes, &p->npushes, g, d, 1);
}
