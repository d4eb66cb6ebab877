/*
 * test_view: the read-only FUSE view on real mounts (needs /dev/fuse and
 * root, as the daemon does).
 *
 * Each test builds a fake DATA in a temp dir (meta dirs with SNAPSHOT.json
 * and SHA256SUMS, checkpoint dirs whose SSTs are hard links of one "live"
 * file, as RocksDB checkpoints are), serves a mutable in-test catalog
 * through the list callback, and mounts it on a temp dir. Teardown always
 * stops the view and falls back to `fusermount3 -u -z`, then removes the
 * temp dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include <cmocka.h>

#include "fsutil.h"
#include "view.h"
#include "view_int.h" /* what the kernel offered: no_open, no_opendir */

#define S1 "11111111111111111111111111111111"
#define S2 "22222222222222222222222222222222"
#define S3 "33333333333333333333333333333333"
#define S4 "44444444444444444444444444444444"
#define SCHED "55555555555555555555555555555555"
#define TA "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TC "cccccccccccccccccccccccccccccccc"
#define RP_NAME "2026-11-23T10:00:00Z"

#define BIG_SIZE (4 * 1024 * 1024 + 123)

struct tsnap {
	const char *id;
	int64_t wall_us;
	const char *tables[2];
	const char *rel[2];
	char *src[2];
	int present;
};

struct fx {
	char *root, *data, *mnt;
	struct tsnap snaps[4]; /* S1..S4 */
	int rp_present;
	int list_fail;
	int fd_holds; /* start without a hold directory: holds are fds */
	struct view *v;
	struct errbuf e;
};

/* ---- helpers ---- */

static void fill_random(unsigned char *buf, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

static void write_random(const char *path, size_t len, uint32_t seed)
{
	unsigned char *buf = xmalloc(len);

	fill_random(buf, len, seed);
	write_file(path, buf, len);
	free(buf);
}

static void write_str(const char *path, const char *s)
{
	write_file(path, s, strlen(s));
}

static void xlink(const char *from, const char *to)
{
	assert_int_equal(link(from, to), 0);
}

static void mkdirs(const char *path)
{
	assert_int_equal(fs_mkdirs(path, 0755), 0);
}

/* Sorted names of path's entries (without . and ..), comma-joined. */
static char *list_dir(const char *path)
{
	struct dirent **names = NULL;
	char *out = xstrdup("");
	int n = scandir(path, &names, NULL, alphasort);

	if (n < 0) {
		free(out);
		return fs_path("<error %s>", strerror(errno));
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
			char *next = fs_path("%s%s%s", out, *out ? "," : "", names[i]->d_name);

			free(out);
			out = next;
		}
		free(names[i]);
	}
	free(names);
	return out;
}

static void assert_listing(const char *path, const char *want)
{
	char *got = list_dir(path);

	if (strcmp(got, want) != 0)
		fail_msg("listing of '%s': got '%s', want '%s'", path, got, want);
	free(got);
}

static int is_mounted(const char *mnt)
{
	char line[4096], dev[1024], dir[2048];
	FILE *f = fopen("/proc/self/mounts", "r");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%1023s %2047s", dev, dir) == 2 && strcmp(dir, mnt) == 0)
			found = 1;
	fclose(f);
	return found;
}

static char *mpath(struct fx *f, const char *rel)
{
	return fs_path("%s/%s", f->mnt, rel);
}

static char *ckpt(struct fx *f, const char *table, const char *tablet, const char *snap)
{
	return fs_path("%s/tablets/table-%s/tablet-%s.snapshots/%s", f->data, table, tablet, snap);
}

/* ---- the catalog the daemon would hand over ---- */

static int list_cb(void *arg, struct view_catalog *out)
{
	struct fx *f = arg;
	size_t n = 0;

	if (f->list_fail)
		return -EIO;
	out->snaps = xcalloc(4, sizeof(*out->snaps));
	for (int i = 0; i < 4; i++) {
		struct tsnap *t = &f->snaps[i];
		struct view_snapshot *s;

		if (!t->present)
			continue;
		s = &out->snaps[n++];
		memcpy(s->id, t->id, 33);
		s->wall_us = t->wall_us;
		s->keyspace = xstrdup("ks1");
		s->meta_dir = fs_path("%s/snapshots/%s", f->data, t->id);
		s->dirs = xcalloc(2, sizeof(*s->dirs));
		s->tables = xcalloc(2, sizeof(*s->tables));
		for (int j = 0; j < 2; j++) {
			if (t->rel[j]) {
				s->dirs[s->ndirs].rel = xstrdup(t->rel[j]);
				s->dirs[s->ndirs].src = xstrdup(t->src[j]);
				s->ndirs++;
			}
			if (t->tables[j])
				s->tables[s->ntables++] = xstrdup(t->tables[j]);
		}
	}
	out->nsnaps = n;
	if (f->rp_present && f->snaps[0].present) {
		out->rps = xcalloc(1, sizeof(*out->rps));
		memcpy(out->rps[0].schedule_id, SCHED, 33);
		memcpy(out->rps[0].snapshot_id, S1, 33);
		out->rps[0].name = xstrdup(RP_NAME);
		out->nrps = 1;
	}
	return 0;
}

static void make_meta(struct fx *f, const char *id)
{
	char *dir = fs_path("%s/snapshots/%s", f->data, id);
	char *p;

	mkdirs(dir);
	p = fs_path("%s/SNAPSHOT.json", dir);
	write_str(p, "{\"format\":1}\n");
	free(p);
	p = fs_path("%s/SHA256SUMS", dir);
	write_str(p, "0000  ks1/t1/tablet-x/000010.sst\n");
	free(p);
	free(dir);
}

/* S3: one SST shared with S2 (000012.sst), one of its own. */
static void make_s3(struct fx *f)
{
	char *d = ckpt(f, "T1", TA, S3), *p, *live;

	make_meta(f, S3);
	mkdirs(d);
	live = fs_path("%s/tablets/table-T1/tablet-%s/000012.sst", f->data, TA);
	p = fs_path("%s/000012.sst", d);
	xlink(live, p);
	free(p);
	p = fs_path("%s/000014.sst", d);
	write_random(p, 300000, 3);
	free(p);
	p = fs_path("%s/CURRENT", d);
	write_str(p, "MANIFEST-000013\n");
	free(p);
	free(live);
	f->snaps[2].src[0] = d;
}

/* Hard-links dir/name to live/name, as a checkpoint links a live SST. */
static void link_in(const char *live, const char *dir, const char *name)
{
	char *p = fs_path("%s/%s", live, name), *q = fs_path("%s/%s", dir, name);

	xlink(p, q);
	free(q);
	free(p);
}

static int make_fixture(struct fx *f)
{
	const char *base = getenv("SNAPFS_TEST_TMP");
	char *tmpl = fs_path("%s/snapfs-view-XXXXXX", base && *base ? base : "/tmp");
	char *live, *d, *p, *q;
	struct timespec ts[2] = {{1600000000, 123456789}, {1600000000, 123456789}};

	memset(f, 0, sizeof(*f));
	assert_non_null(mkdtemp(tmpl));
	f->root = tmpl;
	f->data = fs_path("%s/DATA", f->root);
	f->mnt = fs_path("%s/mnt", f->root);
	mkdirs(f->mnt);

	/* the live tablet: checkpoints hard-link its SSTs */
	live = fs_path("%s/tablets/table-T1/tablet-%s", f->data, TA);
	mkdirs(live);
	p = fs_path("%s/000010.sst", live);
	write_random(p, 10000, 1);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
	p = fs_path("%s/000012.sst", live);
	write_random(p, BIG_SIZE, 2);
	free(p);

	/* S1: tablet A with 000010.sst */
	make_meta(f, S1);
	d = ckpt(f, "T1", TA, S1);
	mkdirs(d);
	link_in(live, d, "000010.sst");
	p = fs_path("%s/CURRENT", d);
	write_str(p, "MANIFEST-000005\n");
	free(p);
	p = fs_path("%s/MANIFEST-000005", d);
	write_random(p, 100, 4);
	free(p);
	p = fs_path("%s/OPTIONS-000007", d);
	write_str(p, "[Version]\n");
	free(p);
	assert_int_equal(chmod(d, 0750), 0); /* the view shows a checkpoint's own mode */
	f->snaps[0] = (struct tsnap){.id = S1,
				     .wall_us = 1700000000000000LL,
				     .tables = {"t1"},
				     .rel = {"ks1/t1/tablet-" TA},
				     .src = {d},
				     .present = 1};

	/* S2: tablet A shares 000010.sst, adds 000012.sst; table t2 tablet C */
	make_meta(f, S2);
	d = ckpt(f, "T1", TA, S2);
	mkdirs(d);
	link_in(live, d, "000010.sst");
	link_in(live, d, "000012.sst");
	p = fs_path("%s/CURRENT", d);
	write_str(p, "MANIFEST-000009\n");
	free(p);
	q = ckpt(f, "T2", TC, S2);
	mkdirs(q);
	p = fs_path("%s/000020.sst", q);
	write_random(p, 5000, 5);
	free(p);
	f->snaps[1] = (struct tsnap){.id = S2,
				     .wall_us = 1700000100500000LL,
				     .tables = {"t1", "t2"},
				     .rel = {"ks1/t1/tablet-" TA, "ks1/t2/tablet-" TC},
				     .src = {d, q},
				     .present = 1};
	f->snaps[2] = (struct tsnap){.id = S3,
				     .wall_us = 1700000200000000LL,
				     .tables = {"t1"},
				     .rel = {"ks1/t1/tablet-" TA}};
	f->snaps[3] = (struct tsnap){.id = S4,
				     .wall_us = 1600000000000000LL,
				     .tables = {"t1"},
				     .rel = {"ks1/t1/tablet-" TA},
				     .src = {fs_path("%s/nowhere", f->data)}};
	f->rp_present = 1;
	free(live);
	return 0;
}

static void free_fixture(struct fx *f)
{
	for (int i = 0; i < 4; i++)
		for (int j = 0; j < 2; j++)
			free(f->snaps[i].src[j]);
	free(f->root);
	free(f->data);
	free(f->mnt);
	free(f);
}

/* What the daemon gives: holds in a directory beside DATA's, pushes of
 * files up to 64 KiB. */
static int start(struct fx *f)
{
	char *holds = fs_path("%s/holds", f->root);
	struct view_opts o = {.mountpoint = f->mnt,
			      .debug = getenv("SNAPFS_VIEW_DEBUG") != NULL,
			      .hold_dir = f->fd_holds ? NULL : holds,
			      .push_max = 64 * 1024};
	int rc = view_start(&f->v, &o, list_cb, f, &f->e);

	free(holds);
	return rc;
}

/* Files in the hold directory now (-1 if it does not exist). */
static int holds(struct fx *f)
{
	char *dir = fs_path("%s/holds", f->root);
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	free(dir);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Waits up to 10 s for holds(f) == want (the kernel forgets in its time). */
static void wait_holds(struct fx *f, int want)
{
	for (int i = 0; i < 100 && holds(f) != want; i++)
		usleep(100 * 1000);
	assert_int_equal(holds(f), want);
}

static int setup_mounted(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	make_fixture(f);
	if (start(f) != 0) {
		fprintf(stderr, "view_start: %s\n", f->e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int setup_unmounted(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));

	make_fixture(f);
	*state = f;
	return 0;
}

static void force_unmount(const char *mnt)
{
	if (is_mounted(mnt)) {
		char *cmd =
		    fs_path("fusermount3 -u -z '%s' 2>/dev/null || umount -l '%s'", mnt, mnt);

		if (system(cmd) != 0)
			fprintf(stderr, "could not unmount %s\n", mnt);
		free(cmd);
	}
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char *mnt2;

	if (!f)
		return 0;
	view_stop(f->v);
	f->v = NULL;
	force_unmount(f->mnt);
	mnt2 = fs_path("%s/mnt2", f->root);
	force_unmount(mnt2);
	free(mnt2);
	fs_remove_tree(f->root);
	free_fixture(f);
	return 0;
}

static void st_of(const char *path, struct stat *st)
{
	if (lstat(path, st) != 0)
		fail_msg("lstat '%s': %s", path, strerror(errno));
}

/* ---- tests ---- */

static void test_levels(void **state)
{
	struct fx *f = *state;
	char *p;

	assert_listing(f->mnt, "restore-points,snapshots,tables");
	p = mpath(f, "snapshots");
	assert_listing(p, S1 "," S2 ",latest");
	free(p);
	p = mpath(f, "snapshots/" S1);
	assert_listing(p, "SHA256SUMS,SNAPSHOT.json,ks1");
	free(p);
	p = mpath(f, "snapshots/" S2 "/ks1");
	assert_listing(p, "t1,t2");
	free(p);
	p = mpath(f, "snapshots/" S1 "/ks1/t1");
	assert_listing(p, "tablet-" TA);
	free(p);
	p = mpath(f, "snapshots/" S1 "/ks1/t1/tablet-" TA);
	assert_listing(p, "000010.sst,CURRENT,MANIFEST-000005,OPTIONS-000007");
	free(p);
	p = mpath(f, "snapshots/" S2 "/ks1/t1/tablet-" TA);
	assert_listing(p, "000010.sst,000012.sst,CURRENT");
	free(p);
	p = mpath(f, "snapshots/" S2 "/ks1/t2/tablet-" TC);
	assert_listing(p, "000020.sst");
	free(p);
	p = mpath(f, "tables");
	assert_listing(p, "ks1");
	free(p);
	p = mpath(f, "tables/ks1");
	assert_listing(p, "t1,t2");
	free(p);
	p = mpath(f, "tables/ks1/t1");
	assert_listing(p, S1 "," S2);
	free(p);
	p = mpath(f, "tables/ks1/t2");
	assert_listing(p, S2);
	free(p);
	p = mpath(f, "restore-points");
	assert_listing(p, SCHED);
	free(p);
	p = mpath(f, "restore-points/" SCHED);
	assert_listing(p, RP_NAME);
	free(p);
	p = mpath(f, "restore-points/" SCHED "/" RP_NAME);
	assert_listing(p, "SHA256SUMS,SNAPSHOT.json,ks1");
	free(p);
	p = mpath(f, "restore-points/" SCHED "/" RP_NAME "/ks1/t1/tablet-" TA);
	assert_listing(p, "000010.sst,CURRENT,MANIFEST-000005,OPTIONS-000007");
	free(p);
}

/* Every file under the mount's dir rel matches its source in src. */
static void assert_same_attrs(struct fx *f, const char *rel, const char *src)
{
	char *mdir = mpath(f, rel);
	struct dirent *de;
	DIR *d = opendir(mdir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		char *mp, *sp;
		struct stat ms, ss;

		if (de->d_name[0] == '.')
			continue;
		mp = fs_path("%s/%s", mdir, de->d_name);
		sp = fs_path("%s/%s", src, de->d_name);
		st_of(mp, &ms);
		if (S_ISDIR(ms.st_mode)) {
			free(mp);
			free(sp);
			continue;
		}
		st_of(sp, &ss);
		assert_int_equal(de->d_ino, ms.st_ino);
		assert_int_equal(ms.st_ino, ss.st_ino);
		assert_int_equal(ms.st_size, ss.st_size);
		assert_int_equal(ms.st_mode, ss.st_mode);
		assert_true(ms.st_nlink >= 1); /* its names in the view: see test_attrs */
		assert_int_equal(ms.st_mtim.tv_sec, ss.st_mtim.tv_sec);
		assert_int_equal(ms.st_mtim.tv_nsec, ss.st_mtim.tv_nsec);
		/* frozen: ctime and atime are the mtime, whatever links come */
		assert_int_equal(ms.st_ctim.tv_sec, ss.st_mtim.tv_sec);
		assert_int_equal(ms.st_ctim.tv_nsec, ss.st_mtim.tv_nsec);
		assert_int_equal(ms.st_atim.tv_sec, ss.st_mtim.tv_sec);
		if (ms.st_size > 0)
			assert_true(ms.st_blocks > 0);
		free(mp);
		free(sp);
		n++;
	}
	closedir(d);
	assert_true(n > 0);
	free(mdir);
}

static void assert_nlink(struct fx *f, const char *rel, nlink_t want)
{
	char *p = mpath(f, rel);
	struct stat st;

	st_of(p, &st);
	if (st.st_nlink != want)
		fail_msg("nlink of '%s': %lu, want %lu", rel, (unsigned long)st.st_nlink,
			 (unsigned long)want);
	free(p);
}

static void assert_dino_matches(struct fx *f, const char *rel)
{
	char *mdir = mpath(f, rel);
	DIR *d = opendir(mdir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		struct stat st;
		char *p;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		p = fs_path("%s/%s", mdir, de->d_name);
		st_of(p, &st);
		if (de->d_ino != st.st_ino)
			fail_msg("'%s': d_ino %lu, st_ino %lu", p, (unsigned long)de->d_ino,
				 (unsigned long)st.st_ino);
		free(p);
	}
	closedir(d);
	free(mdir);
}

static void assert_dir_mode(struct fx *f, const char *rel, mode_t want)
{
	char *p = mpath(f, rel);
	struct stat st;

	st_of(p, &st);
	if (!S_ISDIR(st.st_mode) || (st.st_mode & 07777) != want)
		fail_msg("mode of '%s': %o, want a directory %o", rel, (unsigned)st.st_mode,
			 (unsigned)want);
	free(p);
}

static void test_attrs(void **state)
{
	struct fx *f = *state;
	struct stat a, b, c, live, st;
	char *p, *q, *r, *l, *meta;

	meta = fs_path("%s/snapshots/%s", f->data, S1);
	assert_same_attrs(f, "snapshots/" S1, meta);
	free(meta);
	assert_same_attrs(f, "snapshots/" S1 "/ks1/t1/tablet-" TA, f->snaps[0].src[0]);
	assert_same_attrs(f, "snapshots/" S2 "/ks1/t1/tablet-" TA, f->snaps[1].src[0]);
	assert_same_attrs(f, "snapshots/" S2 "/ks1/t2/tablet-" TC, f->snaps[1].src[1]);
	assert_same_attrs(f, "restore-points/" SCHED "/" RP_NAME "/ks1/t1/tablet-" TA,
			  f->snaps[0].src[0]);

	/* the shared SST: one inode, nlink its names in the view (S1, S2 and
	 * the restore point of S1), not the underlying count */
	p = mpath(f, "snapshots/" S1 "/ks1/t1/tablet-" TA "/000010.sst");
	q = mpath(f, "snapshots/" S2 "/ks1/t1/tablet-" TA "/000010.sst");
	r = mpath(f, "restore-points/" SCHED "/" RP_NAME "/ks1/t1/tablet-" TA "/000010.sst");
	l = fs_path("%s/tablets/table-T1/tablet-%s/000010.sst", f->data, TA);
	st_of(p, &a);
	st_of(q, &b);
	st_of(r, &c);
	st_of(l, &live);
	assert_int_equal(a.st_ino, live.st_ino);
	assert_int_equal(b.st_ino, live.st_ino);
	assert_int_equal(c.st_ino, live.st_ino);
	assert_int_equal(a.st_nlink, 3);
	assert_int_equal(b.st_nlink, 3);
	assert_int_equal(a.st_size, 10000);
	assert_int_equal(a.st_mtim.tv_sec, 1600000000);
	assert_int_equal(a.st_mtim.tv_nsec, 123456789);
	assert_true(a.st_blocks > 0);
	free(p);
	free(q);
	free(r);
	free(l);

	/* readdir's d_ino is stat's st_ino at every level */
	assert_dino_matches(f, "");
	assert_dino_matches(f, "snapshots");
	assert_dino_matches(f, "snapshots/" S2);
	assert_dino_matches(f, "snapshots/" S2 "/ks1");
	assert_dino_matches(f, "snapshots/" S2 "/ks1/t1/tablet-" TA);
	assert_dino_matches(f, "tables/ks1/t1");
	assert_dino_matches(f, "restore-points/" SCHED);

	/* directory nlink = 2 + subdirectories */
	assert_nlink(f, "", 5);
	assert_nlink(f, "snapshots", 4);
	assert_nlink(f, "snapshots/" S1, 3);
	assert_nlink(f, "snapshots/" S2 "/ks1", 4);
	assert_nlink(f, "snapshots/" S2 "/ks1/t1/tablet-" TA, 2);
	assert_nlink(f, "tables/ks1", 4);
	assert_nlink(f, "tables/ks1/t1", 2);
	assert_nlink(f, "restore-points/" SCHED, 3);

	/* synthetic times: the snapshot's, the newest for listings */
	p = mpath(f, "snapshots/" S1 "/ks1/t1");
	st_of(p, &st);
	assert_int_equal(st.st_mtim.tv_sec, 1700000000);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0755);
	free(p);

	/* directories: a tablet's is its checkpoint's mode, the others 0755 */
	assert_dir_mode(f, "", 0755);
	assert_dir_mode(f, "snapshots", 0755);
	assert_dir_mode(f, "snapshots/" S1, 0755);
	assert_dir_mode(f, "tables/ks1/t1", 0755);
	assert_dir_mode(f, "restore-points/" SCHED "/" RP_NAME, 0755);
	assert_dir_mode(f, "snapshots/" S1 "/ks1/t1/tablet-" TA, 0750);
	assert_dir_mode(f, "restore-points/" SCHED "/" RP_NAME "/ks1/t1/tablet-" TA, 0750);
	st_of(f->snaps[1].src[0], &a);
	assert_dir_mode(f, "snapshots/" S2 "/ks1/t1/tablet-" TA, a.st_mode & 07777);
	p = mpath(f, "snapshots");
	st_of(p, &st);
	assert_int_equal(st.st_mtim.tv_sec, 1700000100);
	assert_int_equal(st.st_mtim.tv_nsec, 500000000);
	free(p);
	st_of(f->mnt, &st);
	assert_int_equal(st.st_ino, 1);
	assert_int_equal(st.st_mtim.tv_sec, 1700000100);

	/* a restore point's directories are its own; its files are S1's */
	p = mpath(f, "snapshots/" S1 "/ks1");
	q = mpath(f, "restore-points/" SCHED "/" RP_NAME "/ks1");
	st_of(p, &a);
	st_of(q, &b);
	assert_int_not_equal(a.st_ino, b.st_ino);
	assert_true(a.st_ino & (1ULL << 63));
	free(p);
	free(q);
}

static void assert_link(struct fx *f, const char *rel, const char *want)
{
	char *p = mpath(f, rel);
	char buf[256];
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);

	if (n < 0) {
		fail_msg("readlink '%s': %s", rel, strerror(errno));
		return;
	}
	buf[n] = '\0';
	if (strcmp(buf, want) != 0)
		fail_msg("link '%s' -> '%s', want '%s'", rel, buf, want);
	free(p);
}

static void test_links(void **state)
{
	struct fx *f = *state;
	struct stat st, dir;
	char *p, *q;

	assert_link(f, "snapshots/latest", S2);
	assert_link(f, "tables/ks1/t1/" S1, "../../../snapshots/" S1);
	assert_link(f, "tables/ks1/t2/" S2, "../../../snapshots/" S2);
	p = mpath(f, "tables/ks1/t1/" S1);
	q = mpath(f, "snapshots/" S1);
	assert_int_equal(stat(p, &st), 0);
	st_of(q, &dir);
	assert_int_equal(st.st_ino, dir.st_ino);
	st_of(p, &st);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(st.st_size, strlen("../../../snapshots/" S1));
	free(p);
	free(q);
	p = mpath(f, "snapshots/latest/ks1/t2/tablet-" TC "/000020.sst");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 5000);
	free(p);
}

static void expect_erofs(const char *what, int rc)
{
	if (rc != -1 || errno != EROFS)
		fail_msg("%s: rc %d errno %s, want EROFS", what, rc, strerror(errno));
}

static void test_erofs(void **state)
{
	struct fx *f = *state;
	char *file = mpath(f, "snapshots/" S1 "/ks1/t1/tablet-" TA "/000010.sst");
	char *dir = mpath(f, "snapshots/" S1 "/ks1/t1/tablet-" TA);
	char *fresh = mpath(f, "snapshots/" S1 "/ks1/t1/tablet-" TA "/new");
	char *src = fs_path("%s/000010.sst", f->snaps[0].src[0]);
	struct stat st;
	int fd;

	fd = open(file, O_WRONLY);
	expect_erofs("open O_WRONLY", fd);
	fd = open(file, O_RDWR);
	expect_erofs("open O_RDWR", fd);
	fd = open(fresh, O_CREAT | O_WRONLY, 0644);
	expect_erofs("open O_CREAT", fd);
	expect_erofs("mkdir", mkdir(fresh, 0755));
	expect_erofs("mknod", mknod(fresh, S_IFIFO | 0644, 0));
	expect_erofs("unlink", unlink(file));
	expect_erofs("rmdir", rmdir(dir));
	expect_erofs("rename", rename(file, fresh));
	expect_erofs("link", link(file, fresh));
	expect_erofs("symlink", symlink("000010.sst", fresh));
	expect_erofs("chmod", chmod(file, 0600));
	expect_erofs("chown", chown(file, 1, 1));
	expect_erofs("truncate", truncate(file, 0));
	expect_erofs("utimensat", utimensat(AT_FDCWD, file, NULL, 0));
	expect_erofs("setxattr", setxattr(file, "user.x", "1", 1, 0));
	expect_erofs("removexattr", removexattr(file, "user.x"));
	st_of(src, &st);
	assert_int_equal(st.st_size, 10000);
	assert_int_equal(st.st_mode & 0777, 0644);
	free(file);
	free(dir);
	free(fresh);
	free(src);
}

static void test_live(void **state)
{
	struct fx *f = *state;
	struct stat st, under, before;
	char *p, *q;

	/* a lookup before the snapshot exists leaves a negative entry */
	p = mpath(f, "snapshots/" S3);
	assert_int_equal(stat(p, &st), -1);
	assert_int_equal(errno, ENOENT);
	q = mpath(f, "snapshots/" S2 "/ks1/t1/tablet-" TA "/000012.sst");
	st_of(q, &st);
	assert_int_equal(st.st_nlink, 1); /* S2 alone shows it (the live tablet too has it) */
	before = st;

	make_s3(f);
	f->snaps[2].present = 1;
	view_changed(f->v);
	assert_int_equal(stat(p, &st), 0);
	free(p);
	p = mpath(f, "snapshots");
	assert_listing(p, S1 "," S2 "," S3 ",latest");
	free(p);
	assert_link(f, "snapshots/latest", S3);
	p = mpath(f, "tables/ks1/t1");
	assert_listing(p, S1 "," S2 "," S3);
	free(p);
	p = mpath(f, "snapshots/" S3 "/ks1/t1/tablet-" TA);
	assert_listing(p, "000012.sst,000014.sst,CURRENT");
	free(p);
	/* the SST S3 shares with S2: one more name, seen under both paths;
	 * everything else S2 showed stays as it was (frozen), though the
	 * underlying ctime moved with the link */
	st_of(q, &st);
	assert_int_equal(st.st_nlink, 2);
	assert_int_equal(st.st_ino, before.st_ino);
	assert_int_equal(st.st_size, before.st_size);
	assert_int_equal(st.st_mode, before.st_mode);
	assert_int_equal(st.st_blocks, before.st_blocks);
	assert_memory_equal(&st.st_mtim, &before.st_mtim, sizeof(st.st_mtim));
	assert_memory_equal(&st.st_ctim, &before.st_ctim, sizeof(st.st_ctim));
	assert_memory_equal(&st.st_atim, &before.st_atim, sizeof(st.st_atim));
	p = fs_path("%s/000012.sst", f->snaps[2].src[0]);
	st_of(p, &under);
	assert_int_equal(st.st_ino, under.st_ino);
	free(p);
	p = mpath(f, "snapshots/" S3 "/ks1/t1/tablet-" TA "/000012.sst");
	st_of(p, &under);
	assert_int_equal(st.st_ino, under.st_ino);
	assert_int_equal(under.st_nlink, 2);
	free(p);

	/* and gone again, latest back to S2, no remount */
	f->snaps[2].present = 0;
	view_changed(f->v);
	p = mpath(f, "snapshots");
	assert_listing(p, S1 "," S2 ",latest");
	free(p);
	p = mpath(f, "snapshots/" S3);
	assert_int_equal(stat(p, &st), -1);
	assert_int_equal(errno, ENOENT);
	free(p);
	p = mpath(f, "tables/ks1/t1/" S3);
	assert_int_equal(lstat(p, &st), -1);
	assert_int_equal(errno, ENOENT);
	free(p);
	p = mpath(f, "tables/ks1/t1");
	assert_listing(p, S1 "," S2);
	free(p);
	assert_link(f, "snapshots/latest", S2);

	/* everything gone: an empty listing, no latest */
	f->snaps[0].present = f->snaps[1].present = 0;
	view_changed(f->v);
	p = mpath(f, "snapshots");
	assert_listing(p, "");
	free(p);
	p = mpath(f, "snapshots/latest");
	assert_int_equal(lstat(p, &st), -1);
	free(p);
	p = mpath(f, "tables");
	assert_listing(p, "");
	free(p);
	f->snaps[0].present = f->snaps[1].present = 1;
	view_changed(f->v);
	assert_link(f, "snapshots/latest", S2);
	free(q);
}

static void open_survives_removal(struct fx *f)
{
	unsigned char *want = xmalloc(300000), *got = xmalloc(300000 + 1);
	char *p, *meta;
	size_t have = 0;
	struct stat st;
	ssize_t n;
	int fd;

	make_s3(f);
	f->snaps[2].present = 1;
	view_changed(f->v);
	p = mpath(f, "snapshots/" S3 "/ks1/t1/tablet-" TA "/000014.sst");
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	free(p);
	n = read(fd, got, 4096);
	assert_int_equal(n, 4096);
	have = (size_t)n;

	/* the snapshot goes: out of the catalog, its files unlinked */
	f->snaps[2].present = 0;
	view_changed(f->v);
	/* the open file is held (linked aside, or an fd), nothing else */
	wait_holds(f, f->fd_holds ? -1 : 1); /* -1: no hold directory */
	assert_int_equal(fs_remove_tree(f->snaps[2].src[0]), 0);
	meta = fs_path("%s/snapshots/%s", f->data, S3);
	assert_int_equal(fs_remove_tree(meta), 0);
	free(meta);
	p = mpath(f, "snapshots");
	assert_listing(p, S1 "," S2 ",latest");
	free(p);

	while ((n = read(fd, got + have, 300000 + 1 - have)) > 0)
		have += (size_t)n;
	assert_int_equal(n, 0);
	assert_int_equal(have, 300000);
	fill_random(want, 300000, 3);
	assert_memory_equal(got, want, 300000);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, 300000);
	assert_int_equal(pread(fd, got, 100, 1000), 100);
	assert_memory_equal(got, want + 1000, 100);
	/* a new open of it fails */
	p = mpath(f, "snapshots/" S3 "/ks1/t1/tablet-" TA "/000014.sst");
	assert_true(open(p, O_RDONLY) < 0 && errno == ENOENT);
	free(p);
	close(fd);
	/* closed: the kernel forgets the inode, the hold goes */
	if (!f->fd_holds)
		wait_holds(f, 0);
	free(want);
	free(got);
}

static void test_open_survives_removal(void **state)
{
	open_survives_removal(*state);
}

/* The same where holds cannot be links: they are fds. */
static void test_open_survives_removal_fd(void **state)
{
	struct fx *f = *state;

	view_stop(f->v);
	f->fd_holds = 1;
	assert_int_equal(start(f), 0);
	open_survives_removal(f);
}

/* Pages of the file open as fd in the kernel's page cache, in *resident
 * of *pages, found without reading it: mincore() on a mapping faults
 * nothing in. 0, or -1 with errno. */
static int fd_cached_pages(int fd, size_t *resident, size_t *pages)
{
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec[64];
	struct stat st;
	void *map;
	int rc;

	if (fstat(fd, &st) != 0 || st.st_size <= 0)
		return -1;
	*pages = ((size_t)st.st_size + (size_t)page - 1) / (size_t)page;
	assert_true(*pages <= sizeof(vec));
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return -1;
	rc = mincore(map, (size_t)st.st_size, vec);
	munmap(map, (size_t)st.st_size);
	*resident = 0;
	for (size_t i = 0; rc == 0 && i < *pages; i++)
		*resident += vec[i] & 1;
	return rc;
}

/* The same for path (a file through the mount): with no-open the kernel
 * opens it without asking the view, so nothing drops its cache. */
static int cached_pages(const char *path, size_t *resident, size_t *pages)
{
	int fd = open(path, O_RDONLY), rc;

	if (fd < 0)
		return -1;
	rc = fd_cached_pages(fd, resident, pages);
	close(fd);
	return rc;
}

/* Lists dir to its end (the end of a readdirplus listing is when the view
 * pushes its small files). Returns the number of entries. */
static int list_all(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* A tree of small files listed through the mount: when the listing ends,
 * the view pushes every file of up to push_max bytes into the kernel's
 * page cache, so that reading them reaches no daemon; every page of each
 * is cached before anything reads it. Then the reads give the files'
 * bytes, and do again after a second listing (which pushes nothing twice:
 * each inode once per kernel life). */
static void test_small_files_pushed(void **state)
{
	struct fx *f = *state;
	const char *src = f->snaps[0].src[0];
	char *dir = mpath(f, "snapshots/" S1 "/ks1/t1/tablet-" TA), *p;
	DIR *d;
	struct dirent *de;
	int nfiles = 0;

	if (!atomic_load(&f->v->no_open))
		skip(); /* the view pushes only to a kernel that opens files itself */
	for (int round = 0; round < 2; round++) {
		assert_true(list_all(dir) > 2);
		d = opendir(src);
		assert_non_null(d);
		while ((de = readdir(d))) {
			char *native;
			unsigned char a[70000], b[70000];
			size_t resident = 0, pages = 0;
			ssize_t na, nb;
			struct stat st;
			int fa, fb;

			if (de->d_name[0] == '.')
				continue;
			p = fs_path("%s/%s", dir, de->d_name);
			native = fs_path("%s/%s", src, de->d_name);
			st_of(native, &st);
			assert_true(st.st_size > 0 && st.st_size <= 64 * 1024);
			/* the push comes from a prefetch thread: give it 10 s */
			for (int i = 0; i < 100; i++) {
				if (cached_pages(p, &resident, &pages) != 0)
					fail_msg("mincore of '%s': %s", p, strerror(errno));
				if (resident == pages)
					break;
				usleep(100 * 1000);
			}
			if (resident != pages)
				fail_msg("'%s' not pushed: %zu of its %zu pages in the page cache "
					 "after its listing ended",
					 de->d_name, resident, pages);
			fa = open(p, O_RDONLY);
			fb = open(native, O_RDONLY);
			assert_true(fa >= 0 && fb >= 0);
			na = read(fa, a, sizeof(a));
			nb = read(fb, b, sizeof(b));
			assert_int_equal(na, st.st_size);
			assert_int_equal(na, nb);
			assert_memory_equal(a, b, (size_t)na);
			close(fa);
			close(fb);
			free(p);
			free(native);
			nfiles += round == 0;
		}
		closedir(d);
	}
	/* 000010.sst, CURRENT, MANIFEST-000005, OPTIONS-000007 */
	assert_int_equal(nfiles, 4);
	free(dir);
}

/* One getdents64 with room for one or two entries: the kernel asks the
 * view again from the last offset at each call (its cache is not complete
 * yet). Appends the names to names[*n] (at most max) and returns how many,
 * 0 at the end, or -errno on the error allowed; fails on any other. */
static long read_some(int fd, char **names, size_t *n, size_t max, int allow)
{
	char buf[64] __attribute__((aligned(8)));
	long len = syscall(SYS_getdents64, fd, buf, sizeof(buf)), pos = 0;
	long got = 0;

	if (len < 0 && allow && errno == allow)
		return -errno;
	if (len < 0)
		fail_msg("getdents64: %s", strerror(errno));
	while (pos < len) {
		unsigned short reclen;

		memcpy(&reclen, buf + pos + 16, sizeof(reclen));
		assert_true(*n < max);
		names[(*n)++] = xstrdup(buf + pos + 19);
		pos += reclen;
		got++;
	}
	return got;
}

/* Fails unless each of names[0..n) is one of the comma-separated want,
 * none twice. Returns how many of want were listed. */
static size_t assert_names_from(char **names, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++) {
		char *pat = fs_path(",%s,", names[i]), *all = fs_path(",%s,", want);

		if (!strstr(all, pat))
			fail_msg("'%s' listed, not one of %s", names[i], want);
		for (size_t j = 0; j < i; j++)
			if (strcmp(names[i], names[j]) == 0)
				fail_msg("'%s' listed twice", names[i]);
		free(pat);
		free(all);
	}
	return n;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
}

/* A listing in progress while a snapshot appears and another goes: the
 * entries that stay (S2, latest) once each, the others at most once, none
 * twice. Then a directory that goes away while it is listed: a kernel that
 * opens directories itself has each readdir answered by the generation
 * current then, which has no such directory: the listing ends with ENOENT
 * (never EIO, never a clean end that would make a copy look complete).
 * With opendir handles, the handle's generation lists it to its end. */
static void test_listing_across_swap(void **state)
{
	struct fx *f = *state;
	char *names[16], *p;
	size_t n = 0, calls = 0;
	int fd, s2 = 0, latest = 0;
	long got;

	make_s3(f);
	p = mpath(f, "snapshots");
	fd = open(p, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	free(p);
	while (read_some(fd, names, &n, 16, 0) > 0) {
		if (++calls == 2) {
			f->snaps[2].present = 1; /* S3 appears, S1 goes */
			f->snaps[0].present = 0;
			view_changed(f->v);
		}
	}
	assert_true(calls > 2); /* the swap came in the middle */
	close(fd);
	assert_names_from(names, n, ".,..," S1 "," S2 "," S3 ",latest");
	for (size_t i = 0; i < n; i++) {
		s2 += strcmp(names[i], S2) == 0;
		latest += strcmp(names[i], "latest") == 0;
	}
	assert_int_equal(s2, 1);
	assert_int_equal(latest, 1);
	free_names(names, n);

	/* the directory being listed goes away */
	p = mpath(f, "snapshots/" S2 "/ks1/t1/tablet-" TA);
	fd = open(p, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	free(p);
	n = 0;
	assert_true(read_some(fd, names, &n, 16, 0) > 0);
	f->snaps[1].present = 0;
	view_changed(f->v);
	while ((got = read_some(fd, names, &n, 16, ENOENT)) > 0)
		;
	assert_names_from(names, n, ".,..,000010.sst,000012.sst,CURRENT");
	if (atomic_load(&f->v->no_opendir)) {
		assert_int_equal(got, -ENOENT);
		/* and it stays gone: no entry after the error */
		assert_int_equal(read_some(fd, names, &n, 16, ENOENT), -ENOENT);
	} else {
		assert_int_equal(got, 0);
		assert_int_equal(n, 5);
	}
	close(fd);
	free_names(names, n);
	p = mpath(f, "snapshots");
	assert_listing(p, S3 ",latest");
	free(p);
}

/* ---- inode numbers across remounts ---- */

#define MAX_PATHS 256
static struct {
	char *path[MAX_PATHS];
	ino_t ino[MAX_PATHS];
	size_t n;
	size_t skip;
} walk;

static int walk_cb(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	if (walk.n < MAX_PATHS) {
		walk.path[walk.n] = xstrdup(path + walk.skip);
		walk.ino[walk.n] = st->st_ino;
		walk.n++;
	}
	return 0;
}

static void walk_mount(struct fx *f)
{
	memset(&walk, 0, sizeof(walk));
	walk.skip = strlen(f->mnt);
	assert_int_equal(nftw(f->mnt, walk_cb, 16, FTW_PHYS), 0);
}

static void test_remount_same_inodes(void **state)
{
	struct fx *f = *state;
	char *paths[MAX_PATHS];
	ino_t inos[MAX_PATHS];
	size_t n;

	walk_mount(f);
	n = walk.n;
	assert_true(n > 30 && n < MAX_PATHS);
	memcpy(paths, walk.path, sizeof(paths));
	memcpy(inos, walk.ino, sizeof(inos));

	view_stop(f->v);
	f->v = NULL;
	assert_false(is_mounted(f->mnt));
	assert_int_equal(start(f), 0);
	assert_true(is_mounted(f->mnt));

	walk_mount(f);
	assert_int_equal(walk.n, n);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(walk.path[i], paths[i]);
		if (walk.ino[i] != inos[i])
			fail_msg("'%s': inode %lu then %lu", paths[i], (unsigned long)inos[i],
				 (unsigned long)walk.ino[i]);
		free(walk.path[i]);
		free(paths[i]);
	}
}

static void test_mountpoint_errors(void **state)
{
	struct fx *f = *state;
	struct view_opts o = {0};
	struct view *v = NULL;
	char *p = fs_path("%s/full", f->root), *q, *want;

	mkdirs(p);
	q = fs_path("%s/x", p);
	write_str(q, "x");
	o.mountpoint = p;
	assert_int_equal(view_start(&v, &o, list_cb, f, &f->e), -EINVAL);
	assert_null(v);
	want = fs_path("mount point '%s': not empty", p);
	assert_string_equal(f->e.msg, want);
	free(want);

	o.mountpoint = q;
	assert_int_equal(view_start(&v, &o, list_cb, f, &f->e), -EINVAL);
	want = fs_path("mount point '%s': not a directory", q);
	assert_string_equal(f->e.msg, want);
	free(want);
	free(q);

	q = fs_path("%s/missing", f->root);
	o.mountpoint = q;
	assert_int_equal(view_start(&v, &o, list_cb, f, &f->e), -EINVAL);
	want = fs_path("mount point '%s': no such directory", q);
	assert_string_equal(f->e.msg, want);
	free(want);
	free(q);
	free(p);

	/* a listing failure at start fails the start, nothing mounted */
	f->list_fail = 1;
	o.mountpoint = f->mnt;
	assert_int_equal(view_start(&v, &o, list_cb, f, &f->e), -EIO);
	assert_null(v);
	assert_false(is_mounted(f->mnt));
	f->list_fail = 0;
}

static void assert_same_bytes(const char *a, const char *b)
{
	char *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;

	assert_int_equal(fs_read_all(a, 64 << 20, &x, &xl), 0);
	assert_int_equal(fs_read_all(b, 64 << 20, &y, &yl), 0);
	assert_int_equal(xl, yl);
	assert_memory_equal(x, y, xl);
	free(x);
	free(y);
}

static void test_data(void **state)
{
	struct fx *f = *state;
	const char *names[] = {"000010.sst", "000012.sst", "CURRENT"};
	unsigned char *want = xmalloc(BIG_SIZE), *got = xmalloc(BIG_SIZE);
	char *p, *q;
	size_t have = 0;
	ssize_t n;
	int fd;

	for (size_t i = 0; i < 3; i++) {
		p = fs_path("%s/snapshots/%s/ks1/t1/tablet-%s/%s", f->mnt, S2, TA, names[i]);
		q = fs_path("%s/%s", f->snaps[1].src[0], names[i]);
		assert_same_bytes(p, q);
		free(p);
		free(q);
	}
	p = mpath(f, "snapshots/" S1 "/SNAPSHOT.json");
	q = fs_path("%s/snapshots/%s/SNAPSHOT.json", f->data, S1);
	assert_same_bytes(p, q);
	free(p);
	free(q);

	/* the big one, in odd-sized reads, then again from the cache */
	fill_random(want, BIG_SIZE, 2);
	for (int round = 0; round < 2; round++) {
		p = mpath(f, "snapshots/latest/ks1/t1/tablet-" TA "/000012.sst");
		fd = open(p, O_RDONLY);
		assert_true(fd >= 0);
		free(p);
		have = 0;
		while ((n = read(fd, got + have,
				 BIG_SIZE - have < 77777 ? BIG_SIZE - have : 77777)) > 0)
			have += (size_t)n;
		assert_int_equal(n, 0);
		assert_int_equal(have, BIG_SIZE);
		assert_memory_equal(got, want, BIG_SIZE);
		assert_int_equal(pread(fd, got, 1000, BIG_SIZE - 500), 500);
		assert_memory_equal(got, want + BIG_SIZE - 500, 500);
		close(fd);
	}
	free(want);
	free(got);
}

/* Listing path fails with EIO and shows no entry: where the kernel skips
 * opendir, opendir succeeds and readdir fails; otherwise opendir fails. */
static void assert_listing_eio(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d) {
		if (errno != EIO)
			fail_msg("opendir '%s': %s, want EIO", path, strerror(errno));
		return;
	}
	errno = 0;
	de = readdir(d);
	if (de)
		fail_msg("readdir '%s': '%s', want EIO", path, de->d_name);
	if (errno != EIO)
		fail_msg("readdir '%s': %s, want EIO", path, strerror(errno));
	closedir(d);
}

static void test_broken(void **state)
{
	struct fx *f = *state;
	unsigned char buf[4096], again[4096];
	char *p;
	struct stat st;
	int fd;

	/* a listed snapshot whose checkpoint is missing answers EIO */
	f->snaps[3].present = 1;
	make_meta(f, S4);
	view_changed(f->v);
	p = mpath(f, "snapshots");
	assert_listing(p, S1 "," S2 "," S4 ",latest");
	free(p);
	p = mpath(f, "snapshots/" S4);
	assert_listing_eio(p);
	assert_listing_eio(p); /* again: an error is never cached as a listing */
	free(p);
	p = mpath(f, "snapshots/" S4 "/SNAPSHOT.json");
	assert_int_equal(stat(p, &st), -1);
	assert_int_equal(errno, EIO);
	free(p);
	assert_link(f, "snapshots/latest", S2);
	f->snaps[3].present = 0;

	/* the listing fails: stay mounted, EIO, never an empty tree (nor the
	 * listing the kernel cached before); a file open reads on, and
	 * nothing is held as if deleted */
	assert_listing(f->mnt, "restore-points,snapshots,tables");
	p = mpath(f, "snapshots/" S1 "/ks1/t1/tablet-" TA "/000010.sst");
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	free(p);
	assert_int_equal(read(fd, buf, sizeof(buf)), sizeof(buf));
	f->list_fail = 1;
	view_changed(f->v);
	assert_true(is_mounted(f->mnt));
	assert_int_equal(holds(f), 0);
	/* drop its pages: the next read must reach the view */
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	{
		size_t resident = 1, pages = 0;

		assert_int_equal(fd_cached_pages(fd, &resident, &pages), 0);
		assert_int_equal(resident, 0);
	}
	assert_int_equal(pread(fd, again, sizeof(again), 0), sizeof(again));
	assert_memory_equal(buf, again, sizeof(buf));
	close(fd);
	p = mpath(f, "snapshots");
	assert_int_equal(stat(p, &st), -1);
	assert_int_equal(errno, EIO);
	assert_listing_eio(f->mnt);
	free(p);

	f->list_fail = 0;
	view_changed(f->v);
	p = mpath(f, "snapshots");
	assert_listing(p, S1 "," S2 ",latest");
	free(p);
	assert_listing(f->mnt, "restore-points,snapshots,tables");
}

static void *stop_thread(void *arg)
{
	struct fx *f = arg;
	sigset_t all;

	/* the daemon's signal thread: every signal blocked, sigwait()s */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	view_stop(f->v);
	return NULL;
}

/* Adding a snapshot stats only its own files: S1's subtree is reused even
 * though its checkpoint can no longer be read. */
static void test_reuse_subtrees(void **state)
{
	struct fx *f = *state;
	char *moved = fs_path("%s.moved", f->snaps[0].src[0]), *p;

	assert_int_equal(rename(f->snaps[0].src[0], moved), 0);
	make_s3(f);
	f->snaps[2].present = 1;
	view_changed(f->v);
	p = mpath(f, "snapshots/" S1 "/ks1/t1/tablet-" TA);
	assert_listing(p, "000010.sst,CURRENT,MANIFEST-000005,OPTIONS-000007");
	free(p);
	p = mpath(f, "snapshots/" S3 "/ks1/t1/tablet-" TA);
	assert_listing(p, "000012.sst,000014.sst,CURRENT");
	free(p);
	assert_int_equal(rename(moved, f->snaps[0].src[0]), 0);
	free(moved);
}

/* fuse.snapfs, ro, default_permissions, and a 4 MiB readahead. */
static void test_mount_options(void **state)
{
	struct fx *f = *state;
	char line[4096], dev[256], dir[2048], type[64], opts[1024], *ra;
	char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int found = 0;
	FILE *m = fopen("/proc/self/mounts", "r");

	assert_non_null(m);
	while (fgets(line, sizeof(line), m))
		if (sscanf(line, "%255s %2047s %63s %1023s", dev, dir, type, opts) == 4 &&
		    strcmp(dir, f->mnt) == 0) {
			found = 1;
			assert_string_equal(dev, "snapfs");
			assert_string_equal(type, "fuse.snapfs");
			assert_true(strncmp(opts, "ro,", 3) == 0);
			assert_non_null(strstr(opts, "default_permissions"));
			assert_null(strstr(opts, "allow_other"));
		}
	fclose(m);
	assert_true(found);
	st_of(f->mnt, &st);
	ra = fs_path("/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
	assert_int_equal(fs_read_all(ra, 8192, &buf, &len), 0);
	assert_string_equal(buf, "4096\n");
	free(buf);
	free(ra);
}

static void test_stop_with_open_file(void **state)
{
	struct fx *f = *state;
	char *p = mpath(f, "snapshots/" S1 "/SNAPSHOT.json");
	struct timespec t0, t1;
	pthread_t th;
	char buf[8];
	int fd = open(p, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, 1), 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(pthread_create(&th, NULL, stop_thread, f), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	f->v = NULL;
	assert_true(t1.tv_sec - t0.tv_sec < 3);
	assert_false(is_mounted(f->mnt));
	close(fd);
	free(p);
}

/* Someone lazily unmounted the view while a file is still open: the
 * wake-up lookup cannot reach it, view_stop() aborts the connection. */
static void test_stop_after_lazy_unmount(void **state)
{
	struct fx *f = *state;
	char *p = mpath(f, "snapshots/" S1 "/SNAPSHOT.json");
	struct timespec t0, t1;
	char buf[8];
	int fd = open(p, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(umount2(f->mnt, MNT_DETACH), 0);
	assert_false(is_mounted(f->mnt));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	view_stop(f->v);
	f->v = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 6);
	assert_int_equal(read(fd, buf, sizeof(buf)), -1);
	close(fd);
	free(p);
}

static void test_stale_mount(void **state)
{
	struct fx *f = *state;
	char *mnt2 = fs_path("%s/mnt2", f->root), *p;
	struct stat st;
	int status;
	pid_t pid;

	mkdirs(mnt2);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct view_opts o = {.mountpoint = mnt2};
		struct view *v = NULL;

		char *sp = fs_path("%s/snapshots", mnt2);
		char *got;

		if (view_start(&v, &o, list_cb, f, &f->e) != 0)
			_exit(1);
		/* listings the kernel may keep cached after the daemon dies */
		got = list_dir(mnt2);
		free(got);
		got = list_dir(sp);
		free(got);
		free(sp);
		raise(SIGKILL); /* a daemon killed without unmounting */
		_exit(2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_true(is_mounted(mnt2));
	/* stat, and listings the kernel cached, may still be answered from
	 * its caches; statfs always asks the (dead) daemon */
	{
		struct statfs sfs;

		assert_int_equal(statfs(mnt2, &sfs), -1);
		assert_int_equal(errno, ENOTCONN);
	}

	{
		struct view_opts o = {.mountpoint = mnt2};

		assert_int_equal(view_start(&f->v, &o, list_cb, f, &f->e), 0);
	}
	p = fs_path("%s/snapshots", mnt2);
	assert_listing(p, S1 "," S2 ",latest");
	free(p);
	assert_int_equal(stat(mnt2, &st), 0);
	assert_int_equal(st.st_ino, 1);
	view_stop(f->v);
	f->v = NULL;
	assert_false(is_mounted(mnt2));
	free(mnt2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_levels, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_attrs, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_links, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_erofs, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_live, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_open_survives_removal, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_open_survives_removal_fd, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_small_files_pushed, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_listing_across_swap, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_remount_same_inodes, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_data, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_broken, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_reuse_subtrees, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_mount_options, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_with_open_file, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_stop_after_lazy_unmount, setup_mounted, teardown),
	    cmocka_unit_test_setup_teardown(test_mountpoint_errors, setup_unmounted, teardown),
	    cmocka_unit_test_setup_teardown(test_stale_mount, setup_unmounted, teardown),
	};

	if (access("/dev/fuse", R_OK | W_OK) != 0) {
		fprintf(stderr, "test_view: /dev/fuse not usable, skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
