/*
 * view_int: what the three parts of the FUSE view share (not a public API).
 *
 *   view_tree.c   the immutable generation model: nodes, per-snapshot
 *                 subtrees reused across generations, the inode index, the
 *                 diff that says what the kernel must forget
 *   view_ops.c    the fuse_lowlevel_ops over the current generation
 *   view_mount.c  view_start/view_changed/view_stop: mount point checks,
 *                 the session thread, generation swaps, unmount
 *   view_inodes.c the file inodes the kernel holds (lookup counts), and the
 *                 files of deleted snapshots kept readable for it (holds)
 *   view_passthrough.c  which path serves reads (passthrough, splice,
 *                 copy) and the kernel's backing ids of open files
 *   view_prefetch.c  warming and pushing small files
 *
 * Lifetimes: a generation is immutable once built and refcounted. A FUSE
 * request takes a reference for its duration; an open file or directory
 * keeps one until release, so a snapshot that disappears stays readable
 * through handles opened on it. Subtrees (one per snapshot directory or
 * restore point) are refcounted too and shared by consecutive generations.
 */
#ifndef SNAPFS_VIEW_INT_H
#define SNAPFS_VIEW_INT_H

#define FUSE_USE_VERSION 34

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "view.h"

/* Content never changes under a name: the kernel may cache it for a day.
 * What does change (the listings, latest) is invalidated explicitly. */
#define VIEW_TIMEOUT 86400.0

/* Synthetic inode numbers (directories, symlinks) have the top bit set, so
 * they never collide with an underlying file's st_ino. */
#define VIEW_SYNTH_BIT (1ULL << 63)

/* readdir offsets: "." is 1, ".." is 2, and an entry's is its name's doff
 * (>= VIEW_DOFF_MIN), so an offset names the same place in every
 * generation: a listing resumed after a swap neither repeats nor skips an
 * entry that is in both. */
#define VIEW_DOFF_MIN 3

enum view_kind { VIEW_DIR, VIEW_FILE, VIEW_LINK };

struct view_attr {
	uint32_t mode, nlink, uid, gid;
	int64_t size, blocks;
	uint32_t blksize;
	struct timespec atime, mtime, ctime;
};

struct view_node {
	uint64_t ino;  /* FUSE nodeid and st_ino */
	uint64_t fgen; /* entry generation: files, the underlying inode's identity */
	uint64_t doff; /* readdir offset: a hash of name, in [VIEW_DOFF_MIN, INT64_MAX] */
	struct view_attr a;
	char *name; /* owned; "" for the root */
	enum view_kind kind;
	unsigned top : 1;     /* a synthetic listing that changes (root, snapshots/, ...) */
	unsigned subroot : 1; /* a snapshot's or restore point's directory */
	union {
		struct {
			struct view_node **kids; /* owned array, sorted by (doff, name) */
			size_t nkids, cap;
			uint64_t parent; /* ino of ".." (directories have one parent) */
			int broken;	 /* could not be built: lookup/readdir answer EIO */
		} dir;
		struct {
			const char *srcdir; /* underlying directory, owned by the subtree */
			dev_t dev;	    /* the underlying identity, checked at open */
			ino_t real_ino;
			uint64_t seq; /* stat order: the freshest stat of an inode wins */
		} file;
		struct {
			char *target; /* owned */
		} link;
	};
};

/* Owns nodes (with their names, kid arrays and link targets) and strings. */
struct view_pool {
	struct view_node **nodes;
	size_t nnodes, capnodes;
	char **strs;
	size_t nstrs, capstrs;
};

struct view_subtree {
	atomic_int ref;
	char *prefix; /* "snapshots/<id>" or "restore-points/<sched>/<name>" */
	uint64_t fp;  /* fingerprint of the view_snapshot it was built from */
	struct view_node *root;
	struct view_subtree *src; /* restore point: the snapshot tree whose files it shares */
	struct view_pool pool;
};

struct view_gen {
	atomic_int ref;
	uint64_t serial;
	int broken; /* the listing failed: everything below the root answers EIO */
	struct view_node *root;
	struct view_pool pool;	     /* the synthetic top of the tree */
	struct view_subtree **trees; /* sorted by prefix once built */
	size_t ntrees, treecap;
	struct view_node **slots; /* the inode index: open addressing on ino */
	uint32_t *links;	  /* per slot: a file's names in this generation (its nlink) */
	size_t mask, count;
};

/* State kept across generation builds. Protected by view->build_lock. */
struct view_builder {
	uid_t uid;
	gid_t gid;
	dev_t primary_dev; /* device of the first file seen: its st_ino are used as is */
	int have_dev;
	uint64_t seq;
	uint64_t serial;
};

/* An open file, or an open directory when the kernel sends opendir (see
 * view_ops.c); fi->fh. */
struct view_handle {
	struct view_gen *gen;		 /* a reference: the generation it was opened in */
	const struct view_node *node;	 /* in gen */
	int fd;				 /* files: the underlying file; dirs: -1 */
	struct view_handle *prev, *next; /* protected by view->hlock */
};

/* The kernel's lookup counts of file inodes, and holds (view_inodes.c). */
struct view_inodes {
	pthread_mutex_t lock; /* protects everything below */
	struct view_ient **b; /* hash buckets, nb a power of two */
	size_t nb, n;
	size_t nfds;	/* holds kept as an fd */
	char *hold_dir; /* NULL: holds are fds only */
};

/* Warms the files below a snapshot directory being listed (view_prefetch.c). */
#define VIEW_PREFETCH_THREADS 4
#define VIEW_PREFETCH_JOBS 4
struct view_pf_job;
struct view_prefetch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct view_pf_job *jobs[VIEW_PREFETCH_JOBS];	/* protected by lock, oldest first */
	struct view_pf_job *pushes[VIEW_PREFETCH_JOBS]; /* protected by lock, oldest first */
	size_t njobs, npushes;				/* protected by lock */
	int stopping;					/* protected by lock */
	int inited, stopped;
	pthread_t threads[VIEW_PREFETCH_THREADS];
	int nthreads;
	struct view_inodes *inodes;
	struct fuse_session *se;
	int64_t max_size;
};

/* fds of big files being streamed (view_ops.c) */
#define VIEW_STREAMS 16
struct view_stream {
	uint64_t ino;
	uint64_t used; /* tick of the last use */
	int fd;	       /* -1: free */
	int refs;      /* reads using it now */
	int stale;     /* close when refs drops to 0 */
};
struct view_streams {
	pthread_mutex_t lock; /* protects everything below */
	struct view_stream e[VIEW_STREAMS];
	uint64_t tick;
	uint64_t drops; /* view_streams_drop() calls */
};

/* The read path (view_passthrough.c). */
enum view_mode {
	VIEW_MODE_UNDECIDED, /* before view_read_path_decide() */
	VIEW_MODE_PASSTHROUGH,
	VIEW_MODE_COPY,
};

/* fi->fh of an open file: 0 (reads find the file by inode), a struct
 * view_handle *, or a struct view_backing * with this bit set. */
#define VIEW_FH_BACKING ((uint64_t)1)

struct view_backing;
struct view_backings {
	pthread_mutex_t lock; /* protects everything below */
	struct view_backing **b;
	size_t nb, n;
};

struct view {
	pthread_mutex_t lock;	    /* protects gen (the pointer swap only) */
	struct view_gen *gen;	    /* protected by lock; replaced under build_lock */
	struct view_gen *good;	    /* the newest not broken: gen, unless a listing
				     * failed since; same locks as gen */
	pthread_mutex_t build_lock; /* serializes view_changed and view_stop */
	struct view_builder b;	    /* protected by build_lock */
	view_list_fn list;
	void *arg;
	struct fuse_session *se;
	char *mnt; /* canonical mount point */
	dev_t dev; /* st_dev of the mounted tree (0 if unknown) */
	pthread_t thread;
	int thread_started;
	int mounted;
	atomic_int stopping;
	atomic_int stop_armed; /* stop_name is set: its lookup ends the loop */
	char stop_name[96];    /* written before stop_armed is set, then read-only */
	atomic_int loop_done;
	int debug;
	atomic_int no_open;	     /* the kernel offered to skip open/release */
	atomic_int no_opendir;	     /* the kernel offered to skip opendir/releasedir */
	pthread_mutex_t hlock;	     /* protects handles */
	struct view_handle *handles; /* open ones: freed by view_stop() if the
				      * kernel can no longer release them */
	struct view_inodes inodes;
	struct view_prefetch prefetch;
	struct view_streams streams;
	int push_max;		       /* files up to this size are pushed into the page cache */
	enum view_read_path read_path; /* the option, set once */
	int64_t pt_min;		       /* passthrough for files bigger than this */
	atomic_int pt_capable;	       /* the kernel offered passthrough at INIT */
	atomic_int pt_offered;	       /* ... and the view asked for it */
	atomic_int pt_worked;	       /* a file was opened with a backing id */
	atomic_int splice;	       /* the copy path splices (view_init) */
	int splice_ok;		       /* replies fit a pipe (new_session, before INIT) */
	unsigned max_read;	       /* the session's max_read option, 0 if none */
	atomic_uint_fast64_t served;   /* bytes of content replied by reply_read */
	atomic_int mode;	       /* enum view_mode: written under mode_lock */
	pthread_mutex_t mode_lock;     /* protects mode's writes and mode_why */
	char mode_why[160];
	struct view_backings backings;
};

/* view_tree.c */
uint64_t view_path_ino(const char *path);
int view_name_ok(const char *name);
int view_id_ok(const char *id);

/* Builds a generation from c, reusing old's subtrees where the snapshot is
 * unchanged (old may be NULL). Never fails: a snapshot that cannot be read
 * becomes a directory answering EIO. The caller owns the one reference. */
struct view_gen *view_gen_build(struct view_builder *b, const struct view_catalog *c,
				const struct view_gen *old);
/* A generation whose listing failed: the root only, everything else EIO. */
struct view_gen *view_gen_broken(struct view_builder *b);
void view_gen_get(struct view_gen *g);
void view_gen_put(struct view_gen *g);

/* The node with that inode number, or NULL. */
const struct view_node *view_gen_find(const struct view_gen *g, uint64_t ino);
/* n as this generation answers for it (the freshest stat of a shared file). */
const struct view_node *view_gen_resolve(const struct view_gen *g, const struct view_node *n);
/* The child called name, or NULL. */
const struct view_node *view_dir_lookup(const struct view_node *dir, const char *name);
/* The index of the first child a listing resumed at offset off returns
 * (off >= VIEW_DOFF_MIN - 1): the first with doff > off; nkids if none. */
size_t view_dir_seek(const struct view_node *dir, uint64_t off);
void view_node_stat(const struct view_node *n, struct stat *st);
/* n's stat in g: a file's nlink is its number of names in g (every
 * snapshot and restore point showing it), what hard-link-aware tools need
 * to copy it once. */
void view_gen_stat(const struct view_gen *g, const struct view_node *n, struct stat *st);
/* The number of names of the file ino in g (0 if not there). */
uint32_t view_gen_links(const struct view_gen *g, uint64_t ino);

/* What the kernel must forget when old is replaced by nw. */
struct view_inval {
	void (*entry)(void *arg, uint64_t parent, const char *name);
	void (*inode)(void *arg, uint64_t ino, int data); /* data: drop cached pages too */
	void *arg;
};
void view_gen_diff(const struct view_gen *old, const struct view_gen *nw,
		   const struct view_inval *iv);

/* view_ops.c */
/* Opens n's underlying file O_RDONLY and checks it is still the inode that
 * was listed. An fd, or a negative errno (EIO if replaced). */
int view_open_file(const struct view_node *n);
extern const struct fuse_lowlevel_ops view_ops;
/* Frees the handles the kernel never released (the loop has ended). */
void view_handles_release(struct view *v);
/* An fd on ino for a read of a stream; give it back with view_stream_put. */
int view_stream_get(struct view *v, uint64_t ino, int *slot);
void view_stream_put(struct view *v, int fd, int slot);
/* Closes the idle stream fds; the busy ones close when their read ends. */
void view_streams_drop(struct view *v);

/* view_inodes.c */
/* hold_dir: where holds are linked (made, and emptied of a dead daemon's
 * leftovers); NULL keeps holds as fds. */
void view_inodes_init(struct view_inodes *t, const char *hold_dir);
/* Unlinks every hold and frees the table (the kernel holds nothing now). */
void view_inodes_release(struct view_inodes *t);
/* The kernel got one more entry (up) of each of the count nodes n, or
 * one fewer than counted (!up: a reply that failed). Directories and links
 * are not counted. One lock for a whole listing. */
void view_inodes_looked_up(struct view_inodes *t, const struct view_node *const *n, size_t count,
			   int up);
/* The kernel forgot nlookup lookups of ino; at zero its hold goes. */
void view_inodes_forget(struct view_inodes *t, uint64_t ino, uint64_t nlookup);
/* 1 the first time it is asked for an inode the kernel holds (and which
 * is not held): the caller pushes its content. 0 otherwise. */
int view_inodes_push_once(struct view_inodes *t, uint64_t ino);
/* Holds every file of old that nw drops while the kernel holds it; their
 * underlying files must still exist. Returns how many, their inode numbers
 * in *held (malloc'ed, the caller frees). */
size_t view_inodes_retire(struct view_inodes *t, const struct view_gen *old,
			  const struct view_gen *nw, uint64_t **held);
/* A held inode: with st, fills it (and *fgen if fgen) and returns 0;
 * without, returns an fd open on it (the caller closes). -ENOENT if ino
 * is not held. */
int view_inodes_open_held(struct view_inodes *t, uint64_t ino, struct stat *st, uint64_t *fgen);
/* The push view_inodes_push_once() allowed did not happen. */
void view_inodes_push_failed(struct view_inodes *t, uint64_t ino);
/* True if the kernel holds ino (has looked it up and not forgotten it). */
int view_inodes_known(struct view_inodes *t, uint64_t ino);
/* True if the kernel holds ino with its content pushed. */
int view_inodes_given(struct view_inodes *t, uint64_t ino);

/* view_passthrough.c */
void view_backings_init(struct view_backings *t);
void view_backings_release(struct view_backings *t);
/* INIT: asks for passthrough if the option and the kernel allow it. */
void view_pt_want(struct view *v, struct fuse_conn_info *conn);
/* After INIT: probes and sets v->mode (and logs a refusal). */
void view_read_path_decide(struct view *v);
/* For an open of the file ino (n, or its hold if n is NULL; fgen its
 * entry generation): a backing id shared by the opens of that file, and
 * in *out what view_pt_release() takes back. A negative errno, or -ENOSYS
 * (passthrough is refused: v->mode is now copy) or -EAGAIN (refused for
 * this file only: open it cached). */
int view_pt_open(struct view *v, fuse_req_t req, uint64_t ino, const struct view_node *n,
		 uint64_t fgen, struct view_backing **out);
/* A release of an open view_pt_open() served; the last closes the id
 * (req: the release being answered, or NULL once a reply has freed it). */
void view_pt_release(struct view *v, fuse_req_t req, struct view_backing *e);

/* view_prefetch.c */
/* Starts the threads (none if max_size <= 0); se receives the pushes. */
void view_prefetch_init(struct view_prefetch *p, struct view_inodes *inodes,
			struct fuse_session *se, int64_t max_size);
/* Queues the files up to max_size below d (a directory of g) for warming. */
void view_prefetch_subtree(struct view_prefetch *p, struct view_gen *g, const struct view_node *d);
/* Queues the files up to max_size in d for pushing into the page cache. */
void view_prefetch_push(struct view_prefetch *p, struct view_gen *g, const struct view_node *d);
/* Ends the threads and drops what is queued; again is a no-op. While the
 * FUSE workers still answer: a push may wait on a page a read holds. */
void view_prefetch_stop(struct view_prefetch *p);
/* Stops, and frees the lock (view_free). */
void view_prefetch_release(struct view_prefetch *p);

/* view_mount.c */
void view_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The current generation with a reference taken; view_gen_put() it. */
struct view_gen *view_current(struct view *v);
/* The newest generation that is not broken, with a reference: reads of
 * files already open go on while a listing fails. */
struct view_gen *view_readable(struct view *v);
/* True (and the session told to exit) if name is view_stop()'s wake-up. */
int view_stop_lookup(struct view *v, fuse_ino_t parent, const char *name);

#endif
