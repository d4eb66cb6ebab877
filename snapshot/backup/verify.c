/*
 * verify: checks a backup tree (a copied snapshot directory) before anyone
 * trusts it: `snapfs verify DIR` and the copy-in restore (DATA/restore/ with
 * the _restore marker). It changes nothing, and reads the tree as hostile:
 * directories are opened with openat(O_NOFOLLOW) from the root, entries are
 * lstat'ed, files are opened with O_NOFOLLOW relative to the root and must
 * still be the inode the walk saw, so no symlink is ever followed and no
 * path leaves the tree.
 *
 * Cheap checks first, the expensive one last; each phase reports the
 * smallest path at fault, so the message is the same on every run:
 *   1. walk: any symlink, device, fifo or socket is refused;
 *   2. SHA256SUMS exists and parses (sums_parse refuses '..' and friends);
 *   3. it lists exactly the regular files of the tree but itself;
 *   4. SNAPSHOT.json has its listed digest and parses (manifest_parse);
 *   5. every tablet dir <ks>/<table>/tablet-<id> exists and holds exactly
 *      the listed files with the listed sizes; no file is outside them;
 *   6. every other file has its listed digest, hashed on all cores
 *      (one thread per online CPU, 1 MiB sequential reads).
 * `snapfs verify` wants every bad file, not the first: with a report
 * (manifest_verify_tree_report) each phase puts all it finds there, a
 * file once (the first phase to find it wins), and the phases that can
 * still run do (no SHA256SUMS stops everything; an unusable SNAPSHOT.json
 * skips phase 5 but not the hashing). The marker restore wants one
 * message and no wasted hashing, and stops at the first failing phase.
 * Missing files are -ENOENT; everything else wrong is -EBADMSG; an I/O
 * error keeps its errno. Messages name the file relative to the root:
 *   file 'ks/t/tablet-<id>/000012.sst': checksum mismatch
 *
 * The cut against this machine's clock (manifest_check_cut) is here too, as
 * a separate step: verify and the marker restore add it (restore.c), with
 * the newest version of each tablet, which the restore's read check finds.
 */
#include "manifest.h"

#include "fsutil.h"
#include "hlc.h"
#include "progress.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SUMS_NAME "SHA256SUMS"
#define MANIFEST_NAME "SNAPSHOT.json"
#define VERIFY_MAX_FILES 4000000 /* regular files in one tree */
#define VERIFY_MAX_DEPTH 16	 /* a snapshot tree is 4 deep */
#define VERIFY_MAX_PATH 4000	 /* a SHA256SUMS line holds 4096 bytes */
#define VERIFY_MAX_THREADS 256

/* A regular file found by the walk. */
struct tfile {
	char *path; /* relative to the root */
	dev_t dev;
	ino_t ino;
	uint64_t size;
	const char *want; /* digest listed in SHA256SUMS (phase 3) */
	int claimed;	  /* accounted for by SNAPSHOT.json (phase 5) */
	int hashed;	  /* already checked (SNAPSHOT.json, phase 4) */
	int hrc;	  /* result of phase 6 */
};

struct tree {
	const char *root;
	int rootfd;
	struct verify_report *all; /* every finding goes here; NULL: stop at the first */
	int fatal;		   /* a phase could not run: the later ones cannot either */
	struct tfile *f;	   /* sorted by path after the walk */
	size_t n, cap;
};

/* The failure with the smallest path seen so far in one phase. */
struct verdict {
	char *path;
	int rc;
	struct errbuf msg;
	struct verify_report *all;
};

static void offer(struct verdict *v, const char *path, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report_add(struct verify_report *r, const char *path, int rc, const char *msg)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].path, path))
			return; /* reported by an earlier check */
	if (r->n >= VERIFY_MAX_FINDINGS) {
		r->more++;
		return;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->v = xrealloc(r->v, r->cap * sizeof(*r->v));
	}
	r->v[r->n++] =
	    (struct verify_finding){.path = xstrdup(path), .rc = rc, .msg = xstrdup(msg)};
}

void verify_report_release(struct verify_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].path);
		free(r->v[i].msg);
	}
	free(r->v);
	memset(r, 0, sizeof(*r));
}

static void offer(struct verdict *v, const char *path, int rc, const char *fmt, ...)
{
	va_list ap;

	if (v->all) {
		char msg[ERRBUF_MAX];

		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		report_add(v->all, path, rc, msg);
	}
	if (v->path && strcmp(path, v->path) >= 0)
		return;
	free(v->path);
	v->path = xstrdup(path);
	v->rc = rc;
	va_start(ap, fmt);
	vsnprintf(v->msg.msg, sizeof(v->msg.msg), fmt, ap);
	va_end(ap);
}

/* 0 if nothing was offered, else the failure, copied into e. */
static int verdict_finish(struct verdict *v, struct errbuf *e)
{
	int rc = 0;

	if (v->path)
		rc = err_set(e, v->rc, "%s", v->msg.msg);
	free(v->path);
	v->path = NULL;
	return rc;
}

static int cmp_tfile(const void *a, const void *b)
{
	return strcmp(((const struct tfile *)a)->path, ((const struct tfile *)b)->path);
}

static struct tfile *tree_find(struct tree *t, const char *path)
{
	struct tfile key = {.path = (char *)path};

	if (!t->n)
		return NULL;
	return bsearch(&key, t->f, t->n, sizeof(*t->f), cmp_tfile);
}

/* Index of the first file whose path is >= s. */
static size_t tree_lower_bound(struct tree *t, const char *s)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(t->f[mid].path, s) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void tree_release(struct tree *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->f[i].path);
	free(t->f);
	if (t->rootfd >= 0)
		close(t->rootfd);
}

/* ---- phase 1: the walk ---- */

static const char *kind(mode_t mode)
{
	if (S_ISLNK(mode))
		return "symlink";
	if (S_ISBLK(mode) || S_ISCHR(mode))
		return "device";
	if (S_ISFIFO(mode))
		return "fifo";
	if (S_ISSOCK(mode))
		return "socket";
	return "special file";
}

static int walk_entry(struct tree *t, int dfd, const char *name, char *path, int depth,
		      struct verdict *v, struct errbuf *e, int *keep);

/* Walks the directory open as fd (consumed), rel its path. */
static int walk_dir(struct tree *t, int fd, const char *rel, int depth, struct verdict *v,
		    struct errbuf *e)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		rc = -errno;
		close(fd);
		return err_set(e, rc, "directory '%s': %s", rel, strerror(-rc));
	}
	for (;;) {
		char *path;
		int keep = 0;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno)
				rc = err_set(e, -errno, "directory '%s': %s", rel, strerror(errno));
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		path = *rel ? fs_path("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		rc = walk_entry(t, dirfd(d), de->d_name, path, depth, v, e, &keep);
		if (!keep)
			free(path);
		if (rc)
			break;
	}
	closedir(d);
	return rc;
}

/* One directory entry. *keep is set if path now belongs to t. */
static int walk_entry(struct tree *t, int dfd, const char *name, char *path, int depth,
		      struct verdict *v, struct errbuf *e, int *keep)
{
	struct stat st;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return err_set(e, -errno, "file '%s': %s", path, strerror(errno));
	if (strlen(path) > VERIFY_MAX_PATH) {
		offer(v, path, -EBADMSG, "file '%.200s...': path longer than %d bytes", path,
		      VERIFY_MAX_PATH);
		return 0;
	}
	if (S_ISDIR(st.st_mode)) {
		if (depth >= VERIFY_MAX_DEPTH) {
			offer(v, path, -EBADMSG, "directory '%s': nested too deep", path);
			return 0;
		}
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return err_set(e, -errno, "directory '%s': %s", path, strerror(errno));
		return walk_dir(t, fd, path, depth + 1, v, e);
	}
	if (!S_ISREG(st.st_mode)) {
		offer(v, path, -EBADMSG, "%s '%s': not allowed in a backup tree", kind(st.st_mode),
		      path);
		return 0;
	}
	if (t->n >= VERIFY_MAX_FILES)
		return err_set(e, -EBADMSG, "backup tree '%s': more than %d files", t->root,
			       VERIFY_MAX_FILES);
	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 256;
		t->f = xrealloc(t->f, t->cap * sizeof(*t->f));
	}
	t->f[t->n++] = (struct tfile){
	    .path = path, .dev = st.st_dev, .ino = st.st_ino, .size = (uint64_t)st.st_size};
	*keep = 1;
	return 0;
}

static int walk_tree(struct tree *t, struct errbuf *e)
{
	struct verdict v = {.all = t->all};
	int fd, rc;

	fd = dup(t->rootfd);
	if (fd < 0)
		return err_set(e, -errno, "backup tree '%s': %s", t->root, strerror(errno));
	rc = walk_dir(t, fd, "", 0, &v, e);
	if (rc) {
		t->fatal = 1;
		free(v.path);
		return rc;
	}
	if (t->n)
		qsort(t->f, t->n, sizeof(*t->f), cmp_tfile);
	return verdict_finish(&v, e);
}

/* ---- phases 2 and 3: SHA256SUMS ---- */

/* Reads root/name (a regular file the walk found) into *text. */
static int read_file(struct tree *t, const char *name, size_t max, char **text, size_t *len,
		     struct errbuf *e)
{
	char *path;
	int rc;

	if (!tree_find(t, name))
		return err_set(e, -ENOENT, "file '%s': missing", name);
	path = fs_path("%s/%s", t->root, name);
	rc = fs_read_all(path, max, text, len);
	free(path);
	if (rc == -EFBIG)
		return err_set(e, -EBADMSG, "file '%s': larger than %zu bytes", name, max);
	if (rc == -ENOENT)
		return err_set(e, rc, "file '%s': missing", name);
	if (rc)
		return err_set(e, rc, "file '%s': %s", name, strerror(-rc));
	return 0;
}

static int read_sums(struct tree *t, struct sums_entry **sums, size_t *n, struct errbuf *e)
{
	char *text = NULL;
	size_t len = 0;
	int rc;

	rc = read_file(t, SUMS_NAME, SUMS_MAX_TEXT, &text, &len, e);
	if (!rc)
		rc = sums_parse(text, len, sums, n, e);
	free(text);
	return rc;
}

/* A path listed in SHA256SUMS that the walk did not find as a file. */
static void listed_absent(struct tree *t, const char *path, struct verdict *v)
{
	struct stat st;

	if (!strcmp(path, SUMS_NAME))
		offer(v, path, -EBADMSG, "file '%s': lists itself", path);
	else if (fstatat(t->rootfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0)
		offer(v, path, -EBADMSG, "file '%s': not a regular file", path);
	else
		offer(v, path, -ENOENT, "file '%s': missing", path);
}

/* SHA256SUMS lists exactly the regular files but itself. Both sorted. */
static int match_sums(struct tree *t, const struct sums_entry *sums, size_t n, struct errbuf *e)
{
	struct verdict v = {.all = t->all};
	size_t i = 0, j = 0;

	while (i < t->n || j < n) {
		int c;

		if (i < t->n && !strcmp(t->f[i].path, SUMS_NAME)) {
			i++;
			continue;
		}
		c = i >= t->n ? 1 : j >= n ? -1 : strcmp(t->f[i].path, sums[j].path);
		if (c < 0) {
			offer(&v, t->f[i].path, -EBADMSG, "file '%s': not listed in SHA256SUMS",
			      t->f[i].path);
			i++;
		} else if (c > 0) {
			listed_absent(t, sums[j].path, &v);
			j++;
		} else {
			t->f[i].want = sums[j].hex;
			i++;
			j++;
		}
	}
	return verdict_finish(&v, e);
}

/* ---- phases 4 and 5: SNAPSHOT.json ---- */

static int read_manifest(struct tree *t, struct manifest *m, struct errbuf *e)
{
	struct tfile *f = tree_find(t, MANIFEST_NAME);
	char *text = NULL;
	char hex[65];
	size_t len = 0;
	int rc;

	rc = read_file(t, MANIFEST_NAME, MANIFEST_MAX_JSON, &text, &len, e);
	if (rc)
		goto out;
	rc = sums_hash_buf(text, len, hex);
	if (rc) {
		err_set(e, rc, "file '%s': cannot hash", MANIFEST_NAME);
		goto out;
	}
	if (strcmp(hex, f->want)) {
		rc = err_set(e, -EBADMSG, "file '%s': checksum mismatch", MANIFEST_NAME);
		goto out;
	}
	f->hashed = 1;
	rc = manifest_parse(text, len, m, e);
out:
	free(text);
	return rc;
}

static int cmp_file_name(const void *a, const void *b)
{
	return strcmp((*(const struct manifest_file *const *)a)->name,
		      (*(const struct manifest_file *const *)b)->name);
}

static void check_size(const struct tfile *f, uint64_t want, struct verdict *v)
{
	if (f->size < want)
		offer(v, f->path, -EBADMSG, "file '%s': truncated (%llu of %llu bytes)", f->path,
		      (unsigned long long)f->size, (unsigned long long)want);
	else if (f->size > want)
		offer(v, f->path, -EBADMSG, "file '%s': %llu bytes, SNAPSHOT.json says %llu",
		      f->path, (unsigned long long)f->size, (unsigned long long)want);
}

/* The files under dir/ in the tree against the tablet's list. */
static void match_tablet(struct tree *t, const char *dir, const struct manifest_tablet *tb,
			 struct verdict *v)
{
	const struct manifest_file **names = xcalloc(tb->nfiles, sizeof(*names));
	char *prefix = fs_path("%s/", dir);
	size_t plen = strlen(prefix), i = tree_lower_bound(t, prefix), k = 0;

	for (size_t j = 0; j < tb->nfiles; j++)
		names[j] = &tb->files[j];
	qsort(names, tb->nfiles, sizeof(*names), cmp_file_name);
	for (;;) {
		int in_dir = i < t->n && !strncmp(t->f[i].path, prefix, plen);
		int c;

		if (!in_dir && k >= tb->nfiles)
			break;
		if (!in_dir)
			c = 1;
		else if (k >= tb->nfiles)
			c = -1;
		else
			c = strcmp(t->f[i].path + plen, names[k]->name);
		if (c < 0) {
			offer(v, t->f[i].path, -EBADMSG, "file '%s': not in SNAPSHOT.json",
			      t->f[i].path);
			t->f[i++].claimed = 1;
		} else if (c > 0) {
			char *path = fs_path("%s%s", prefix, names[k++]->name);

			offer(v, path, -ENOENT, "file '%s': missing", path);
			free(path);
		} else {
			check_size(&t->f[i], names[k++]->size, v);
			t->f[i++].claimed = 1;
		}
	}
	free(prefix);
	free(names);
}

static int match_manifest(struct tree *t, const struct manifest *m, struct errbuf *e)
{
	struct verdict v = {.all = t->all};

	for (size_t i = 0; i < m->ntables; i++) {
		const struct manifest_table *tab = &m->tables[i];

		for (size_t j = 0; j < tab->ntablets; j++) {
			char *dir = manifest_tablet_dir(m, tab, &tab->tablets[j]);
			struct stat st;

			if (fstatat(t->rootfd, dir, &st, AT_SYMLINK_NOFOLLOW) < 0)
				offer(&v, dir, -ENOENT, "directory '%s': missing", dir);
			else if (!S_ISDIR(st.st_mode))
				offer(&v, dir, -EBADMSG, "directory '%s': not a directory", dir);
			else
				match_tablet(t, dir, &tab->tablets[j], &v);
			free(dir);
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		const char *p = t->f[i].path;

		if (!t->f[i].claimed && strcmp(p, SUMS_NAME) && strcmp(p, MANIFEST_NAME))
			offer(&v, p, -EBADMSG, "file '%s': not in SNAPSHOT.json", p);
	}
	return verdict_finish(&v, e);
}

/* ---- phase 6: hashing on all cores ---- */

struct hash_job {
	int rootfd;
	struct progress *p;   /* the caller's (progress.h): bytes hashed */
	struct tfile **items; /* sorted by path */
	size_t n;
	atomic_size_t next;
	atomic_size_t fail; /* smallest failed index, or n */
	int all;	    /* hash every file, even after a failure */
};

/* 0, -EBADMSG (digest differs), -ESTALE (not the file the walk saw), or
 * the errno of open/read. */
static int hash_one(int rootfd, const struct tfile *f)
{
	struct stat st;
	char hex[65];
	int fd, rc;

	fd = openat(rootfd, f->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ESTALE : -errno;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_dev != f->dev || st.st_ino != f->ino)
		rc = -ESTALE;
	else
		rc = sums_hash_fd(fd, hex);
	if (!rc && strcmp(hex, f->want))
		rc = -EBADMSG;
	close(fd);
	return rc;
}

static void *hash_worker(void *arg)
{
	struct hash_job *j = arg;

	for (;;) {
		size_t i = atomic_fetch_add(&j->next, 1);
		size_t fail;

		/* a later failure could never be the one reported */
		if (i >= j->n || (!j->all && i > atomic_load(&j->fail)))
			break;
		j->items[i]->hrc = hash_one(j->rootfd, j->items[i]);
		progress_add(j->p, j->items[i]->size);
		if (!j->items[i]->hrc)
			continue;
		fail = atomic_load(&j->fail);
		while (i < fail && !atomic_compare_exchange_weak(&j->fail, &fail, i))
			;
	}
	return NULL;
}

static int hash_report(const struct tfile *f, struct errbuf *e)
{
	switch (f->hrc) {
	case -EBADMSG:
		return err_set(e, -EBADMSG, "file '%s': checksum mismatch", f->path);
	case -ENOENT:
		return err_set(e, -ENOENT, "file '%s': missing", f->path);
	case -ESTALE:
		return err_set(e, -EBADMSG, "file '%s': changed during verification", f->path);
	default:
		return err_set(e, f->hrc, "file '%s': %s", f->path, strerror(-f->hrc));
	}
}

static int hash_all(struct tree *t, struct errbuf *e)
{
	struct hash_job j = {.rootfd = t->rootfd, .all = t->all != NULL, .p = progress_current()};
	pthread_t tids[VERIFY_MAX_THREADS];
	size_t nthreads = 0, want;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t bytes = 0;
	int rc = 0;

	j.items = xcalloc(t->n, sizeof(*j.items));
	for (size_t i = 0; i < t->n; i++)
		if (t->f[i].want && !t->f[i].hashed) {
			j.items[j.n++] = &t->f[i];
			bytes += t->f[i].size;
		}
	progress_phase(j.p, "hash", "bytes", bytes);
	atomic_init(&j.next, 0);
	atomic_init(&j.fail, j.n);
	want = cpus < 1 ? 1 : (size_t)cpus;
	if (want > VERIFY_MAX_THREADS)
		want = VERIFY_MAX_THREADS;
	if (want > j.n)
		want = j.n;
	/* this thread is one of the workers */
	while (nthreads + 1 < want && !pthread_create(&tids[nthreads], NULL, hash_worker, &j))
		nthreads++;
	hash_worker(&j);
	for (size_t i = 0; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	progress_phase_end(j.p);
	if (atomic_load(&j.fail) < j.n)
		rc = hash_report(j.items[atomic_load(&j.fail)], e);
	for (size_t i = 0; t->all && i < j.n; i++) {
		struct errbuf fe;

		if (j.items[i]->hrc) {
			int frc = hash_report(j.items[i], &fe);

			report_add(t->all, j.items[i]->path, frc, fe.msg);
		}
	}
	free(j.items);
	return rc;
}

/* ---- the whole check ---- */

static int cmp_finding(const void *a, const void *b)
{
	return strcmp(((const struct verify_finding *)a)->path,
		      ((const struct verify_finding *)b)->path);
}

/* Collecting: a phase that failed as a whole becomes a finding of "". */
static void fatal(struct tree *t, int rc, struct errbuf *e)
{
	t->fatal = 1;
	if (t->all && rc)
		report_add(t->all, "", rc, e->msg);
}

int manifest_verify_tree_report(const char *root, struct manifest *m, struct verify_report *all,
				struct errbuf *e)
{
	struct tree t = {.root = root, .rootfd = -1, .all = all};
	struct sums_entry *sums = NULL;
	struct manifest man = {0};
	size_t nsums = 0;
	int rc, mrc;

	if (m)
		memset(m, 0, sizeof(*m));
	t.rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t.rootfd < 0) {
		rc = -errno;
		err_set(e, rc, "backup tree '%s': %s", root, strerror(-rc));
		fatal(&t, rc, e);
		goto out;
	}
	/* each phase: stop at its failure, unless collecting and it can go on */
	rc = walk_tree(&t, e);
	if (rc && t.fatal)
		fatal(&t, rc, e);
	if (rc && (!all || t.fatal))
		goto out;
	rc = read_sums(&t, &sums, &nsums, e);
	if (rc) {
		fatal(&t, rc, e);
		goto out;
	}
	rc = match_sums(&t, sums, nsums, e);
	if (rc && !all)
		goto out;
	mrc = read_manifest(&t, &man, e);
	if (mrc && !all) {
		rc = mrc;
		goto out;
	}
	if (mrc)
		report_add(all, MANIFEST_NAME, mrc, e->msg);
	else
		rc = match_manifest(&t, &man, e);
	if (rc && !all)
		goto out;
	rc = hash_all(&t, e);
out:
	if (all && all->n) {
		qsort(all->v, all->n, sizeof(*all->v), cmp_finding);
		rc = err_set(e, all->v[0].rc, "%s", all->v[0].msg);
	} else if (all) {
		rc = 0;
	}
	if (!rc && m) {
		*m = man;
		memset(&man, 0, sizeof(man));
	}
	manifest_release(&man);
	sums_free(sums, nsums);
	tree_release(&t);
	return rc;
}

int manifest_verify_tree(const char *root, struct manifest *m, struct errbuf *e)
{
	return manifest_verify_tree_report(root, m, NULL, e);
}

/* ---- the cut against the clock ---- */

int manifest_allow_future_cut(void)
{
	const char *v = getenv(MANIFEST_ALLOW_FUTURE_ENV);

	return v && !strcmp(v, "1");
}

int manifest_check_time(const char *what, uint64_t ht, int64_t now_us, int allow_future,
			struct errbuf *e)
{
	int64_t us = hlc_physical_us(ht), ahead = us - now_us;
	char when[48], now[48], max[48];

	hlc_format_rfc3339(us, 1, when, sizeof(when));
	if (ht > HLC_RAISE_MAX) {
		hlc_format_rfc3339(hlc_physical_us(HLC_RAISE_MAX), 0, max, sizeof(max));
		return err_set(e, -EBADMSG,
			       "%s: %llu (%s) is beyond the hybrid clock's range (a restore "
			       "cannot raise the clock past %s)",
			       what, (unsigned long long)ht, when, max);
	}
	if (allow_future || ahead <= MANIFEST_CUT_AHEAD_US)
		return 0;
	hlc_format_rfc3339(now_us, 0, now, sizeof(now));
	return err_set(e, -EBADMSG,
		       "%s: %s is %.0f s ahead of this machine's clock (%s), more than the "
		       "%lld s allowed; restoring it would move this store's clock there "
		       "(%s=1 allows it)",
		       what, when, (double)ahead / 1e6, now, MANIFEST_CUT_AHEAD_US / 1000000,
		       MANIFEST_ALLOW_FUTURE_ENV);
}

int manifest_check_cut(const struct manifest *m, int64_t now_us, int allow_future, struct errbuf *e)
{
	return manifest_check_time("SNAPSHOT.json: hybrid_time", m->hybrid_time, now_us,
				   allow_future, e);
}
