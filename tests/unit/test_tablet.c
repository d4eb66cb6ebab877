/*
 * test_tablet: one timestamped RocksDB tablet and the k-way scan over
 * several (snapshot/store/tablet.c).
 *
 * What must hold: a read at time t sees the newest version at or before t
 * (MVCC), before and after a flush and a reopen; a delete is a tombstone
 * at its time and older reads still see the row; tablets_scan merges
 * several tablets in key order and honours prefix, limit and time; a
 * checkpoint opened read-only and read at an older time hides newer
 * versions and nothing written after it shows; the tablet stores keys and
 * values up to the store's limits (the limits themselves are enforced in
 * store, see test_store); damaged files are refused with a message naming
 * the tablet.
 *
 * Each test gets a fresh temp dir and one open tablet (setup/teardown).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "tablet.h"

struct fixture {
	char dir[64];
	char *path; /* DIR/tablet */
	struct tablet t;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct errbuf e;

	snprintf(f->dir, sizeof(f->dir), "/tmp/snapfs-tablet.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->path = fs_path("%s/tablet", f->dir);
	if (tablet_open(&f->t, f->path, 1, 0, &e)) {
		fprintf(stderr, "tablet_open: %s\n", e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tablet_close(&f->t);
	fs_remove_tree(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static void put(struct tablet *t, const char *k, const char *v, uint64_t ts)
{
	struct errbuf e;

	if (tablet_put(t, k, strlen(k), v, strlen(v), ts, &e))
		fail_msg("tablet_put '%s': %s", k, e.msg);
}

static void del(struct tablet *t, const char *k, uint64_t ts)
{
	struct errbuf e;

	if (tablet_del(t, k, strlen(k), ts, &e))
		fail_msg("tablet_del '%s': %s", k, e.msg);
}

/* Asserts the value of k at ts: want, or absent when want is NULL. */
static void expect_at(struct tablet *t, const char *k, uint64_t ts, const char *want)
{
	char *v = NULL;
	size_t vlen = 0;
	struct errbuf e = {{0}};
	int rc = tablet_get(t, k, strlen(k), ts, &v, &vlen, &e);

	if (!want) {
		if (rc != -ENOENT)
			fail_msg("'%s' at %llu: expected absent, got rc %d '%.*s'", k,
				 (unsigned long long)ts, rc, rc ? 0 : (int)vlen, v ? v : "");
		return;
	}
	if (rc)
		fail_msg("'%s' at %llu: expected '%s', got rc %d (%s)", k, (unsigned long long)ts,
			 want, rc, e.msg);
	if (vlen != strlen(want) || memcmp(v, want, vlen))
		fail_msg("'%s' at %llu: expected '%s', got '%.*s'", k, (unsigned long long)ts, want,
			 (int)vlen, v);
	free(v);
}

/* The versions of the MVCC tests: v1@100, v2@200, v3@300, tombstone@400. */
static void write_versions(struct tablet *t, const char *k)
{
	put(t, k, "v1", 100);
	put(t, k, "v2", 200);
	put(t, k, "v3", 300);
	del(t, k, 400);
}

/* Checks the versions of write_versions; beyond, when no later version. */
static void expect_versions(struct tablet *t, const char *k, int beyond)
{
	expect_at(t, k, 1, NULL);
	expect_at(t, k, 99, NULL);
	expect_at(t, k, 100, "v1");
	expect_at(t, k, 150, "v1");
	expect_at(t, k, 199, "v1");
	expect_at(t, k, 200, "v2");
	expect_at(t, k, 299, "v2");
	expect_at(t, k, 300, "v3");
	expect_at(t, k, 399, "v3");
	expect_at(t, k, 400, NULL); /* the tombstone */
	expect_at(t, k, 401, NULL);
	if (beyond)
		expect_at(t, k, UINT64_MAX, NULL);
}

static void test_ts_encoding(void **state)
{
	char b[TABLET_TS_SIZE];
	static const uint64_t vals[] = {0, 1, 0xff, 0x100, 0x0123456789abcdefULL, UINT64_MAX};

	(void)state;
	tablet_encode_ts(0x0102030405060708ULL, b);
	/* little-endian, as RocksDB's built-in u64 timestamp */
	assert_memory_equal(b, "\x08\x07\x06\x05\x04\x03\x02\x01", TABLET_TS_SIZE);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		tablet_encode_ts(vals[i], b);
		assert_true(tablet_decode_ts(b) == vals[i]);
	}
}

static void test_mvcc_memtable(void **state)
{
	struct fixture *f = *state;

	write_versions(&f->t, "k");
	expect_versions(&f->t, "k", 1);
	expect_at(&f->t, "other", UINT64_MAX, NULL);
	/* a key that is a prefix of another is its own row */
	put(&f->t, "kk", "long", 250);
	expect_at(&f->t, "k", 250, "v2");
	expect_at(&f->t, "kk", 250, "long");
	expect_at(&f->t, "kk", 249, NULL);
}

static void test_mvcc_flushed_and_reopened(void **state)
{
	struct fixture *f = *state;
	struct errbuf e;

	write_versions(&f->t, "k");
	assert_int_equal(tablet_flush(&f->t, &e), 0);
	expect_versions(&f->t, "k", 1);
	/* a version in the memtable over versions in an SST */
	put(&f->t, "k", "v5", 500);
	expect_at(&f->t, "k", 450, NULL);
	expect_at(&f->t, "k", 500, "v5");
	expect_at(&f->t, "k", 250, "v2");

	tablet_close(&f->t);
	assert_int_equal(tablet_open(&f->t, f->path, 0, 0, &e), 0);
	expect_versions(&f->t, "k", 0);
	expect_at(&f->t, "k", 500, "v5");
}

static void test_batch(void **state)
{
	struct fixture *f = *state;
	rocksdb_writebatch_t *b = rocksdb_writebatch_create();
	struct errbuf e;

	put(&f->t, "gone", "old", 10);
	tablet_batch_put(&f->t, b, "a", 1, "A", 1, 20);
	tablet_batch_put(&f->t, b, "b", 1, "B", 1, 20);
	tablet_batch_del(&f->t, b, "gone", 4, 20);
	expect_at(&f->t, "a", 20, NULL); /* nothing before the write */
	assert_int_equal(tablet_write(&f->t, b, &e), 0);
	rocksdb_writebatch_destroy(b);
	expect_at(&f->t, "a", 19, NULL);
	expect_at(&f->t, "a", 20, "A");
	expect_at(&f->t, "b", 20, "B");
	expect_at(&f->t, "gone", 19, "old");
	expect_at(&f->t, "gone", 20, NULL);
}

/* ---- scans over several tablets ---- */

struct rows {
	int n;
	char keys[64][16];
	char vals[64][16];
	int stop_at; /* return 9 at this row (1-based), 0 = never */
};

static int collect(void *arg, const char *k, size_t klen, const char *v, size_t vlen)
{
	struct rows *r = arg;

	assert_true(r->n < 64 && klen < 16 && vlen < 16);
	memcpy(r->keys[r->n], k, klen);
	r->keys[r->n][klen] = '\0';
	memcpy(r->vals[r->n], v, vlen);
	r->vals[r->n][vlen] = '\0';
	r->n++;
	return r->stop_at && r->n == r->stop_at ? 9 : 0;
}

struct three {
	struct tablet t[3];
	struct tablet *p[3];
};

/* Three more tablets in f->dir; key i goes to tablet i % 3 (the scan must
 * not care how keys are spread). Rows: a00..a19 at ts 100 + i; b05 updated
 * at 500; a07 deleted at 600; "ab" at 700. */
static void open_three(struct fixture *f, struct three *s)
{
	for (int i = 0; i < 3; i++) {
		char *p = fs_path("%s/scan-%d", f->dir, i);
		struct errbuf e;

		if (tablet_open(&s->t[i], p, 1, 0, &e))
			fail_msg("tablet_open: %s", e.msg);
		s->p[i] = &s->t[i];
		free(p);
	}
	for (int i = 0; i < 20; i++) {
		char k[8], v[8];

		snprintf(k, sizeof(k), "a%02d", i);
		snprintf(v, sizeof(v), "v%d", i);
		put(&s->t[i % 3], k, v, 100 + (uint64_t)i);
		snprintf(k, sizeof(k), "b%02d", i);
		put(&s->t[(i + 1) % 3], k, v, 100 + (uint64_t)i);
	}
	put(&s->t[(5 + 1) % 3], "b05", "new", 500);
	del(&s->t[7 % 3], "a07", 600);
	put(&s->t[2], "ab", "x", 700);
}

static void close_three(struct three *s)
{
	for (int i = 0; i < 3; i++)
		tablet_close(&s->t[i]);
}

static void expect_sorted(const struct rows *r)
{
	for (int i = 1; i < r->n; i++)
		if (strcmp(r->keys[i - 1], r->keys[i]) >= 0)
			fail_msg("scan out of order: '%s' then '%s'", r->keys[i - 1], r->keys[i]);
}

static void test_scan_merge(void **state)
{
	struct fixture *f = *state;
	struct three s;
	struct rows r = {0};
	struct errbuf e;

	open_three(f, &s);
	/* everything, now: 20 a + 20 b + ab - a07 */
	assert_int_equal(tablets_scan(s.p, 3, NULL, 0, 0, UINT64_MAX, collect, &r, &e), 0);
	assert_int_equal(r.n, 40);
	expect_sorted(&r);
	assert_string_equal(r.keys[0], "a00");
	assert_string_equal(r.keys[19], "ab"); /* a19 < ab < b00 */
	assert_string_equal(r.keys[20], "b00");
	for (int i = 0; i < r.n; i++)
		assert_string_not_equal(r.keys[i], "a07");
	assert_string_equal(r.vals[20 + 5], "new");

	/* prefix */
	memset(&r, 0, sizeof(r));
	assert_int_equal(tablets_scan(s.p, 3, "b", 1, 0, UINT64_MAX, collect, &r, &e), 0);
	assert_int_equal(r.n, 20);
	expect_sorted(&r);
	assert_string_equal(r.keys[0], "b00");
	memset(&r, 0, sizeof(r));
	assert_int_equal(tablets_scan(s.p, 3, "a1", 2, 0, UINT64_MAX, collect, &r, &e), 0);
	assert_int_equal(r.n, 10);
	assert_string_equal(r.keys[0], "a10");
	assert_string_equal(r.keys[9], "a19");
	memset(&r, 0, sizeof(r));
	assert_int_equal(tablets_scan(s.p, 3, "zz", 2, 0, UINT64_MAX, collect, &r, &e), 0);
	assert_int_equal(r.n, 0);

	/* limit */
	memset(&r, 0, sizeof(r));
	assert_int_equal(tablets_scan(s.p, 3, "b", 1, 7, UINT64_MAX, collect, &r, &e), 0);
	assert_int_equal(r.n, 7);
	assert_string_equal(r.keys[6], "b06");

	/* a time: before the update, the delete and "ab" */
	memset(&r, 0, sizeof(r));
	assert_int_equal(tablets_scan(s.p, 3, NULL, 0, 0, 499, collect, &r, &e), 0);
	assert_int_equal(r.n, 40);
	expect_sorted(&r);
	assert_string_equal(r.keys[7], "a07");
	assert_string_equal(r.keys[19], "a19");
	assert_string_equal(r.vals[20 + 5], "v5");
	/* a time inside the load: rows 0..4 of each prefix */
	memset(&r, 0, sizeof(r));
	assert_int_equal(tablets_scan(s.p, 3, NULL, 0, 0, 104, collect, &r, &e), 0);
	assert_int_equal(r.n, 10);
	expect_sorted(&r);
	assert_string_equal(r.keys[4], "a04");
	assert_string_equal(r.keys[5], "b00");

	/* a non-zero return of the callback stops and is returned */
	memset(&r, 0, sizeof(r));
	r.stop_at = 3;
	assert_int_equal(tablets_scan(s.p, 3, NULL, 0, 0, UINT64_MAX, collect, &r, &e), 9);
	assert_int_equal(r.n, 3);

	/* one tablet is a merge of one */
	memset(&r, 0, sizeof(r));
	assert_int_equal(tablets_scan(s.p, 1, NULL, 0, 0, UINT64_MAX, collect, &r, &e), 0);
	expect_sorted(&r);
	close_three(&s);
}

/* ---- checkpoints ---- */

static void test_checkpoint_readonly_at_older_time(void **state)
{
	struct fixture *f = *state;
	char *cp = fs_path("%s/checkpoint", f->dir);
	struct tablet ro;
	struct tablet *p = &ro;
	struct rows r = {0};
	struct errbuf e = {{0}};

	put(&f->t, "k1", "v1", 100);
	put(&f->t, "k1", "v2", 200);
	put(&f->t, "k2", "x", 300);
	assert_int_equal(tablet_checkpoint(&f->t, cp, &e), 0);
	/* after the checkpoint: not in it */
	put(&f->t, "k1", "v3", 400);
	put(&f->t, "k3", "late", 400);
	del(&f->t, "k2", 450);

	assert_int_equal(tablet_open(&ro, cp, 0, 1, &e), 0);
	expect_at(&ro, "k1", 150, "v1");
	expect_at(&ro, "k1", 250, "v2");
	expect_at(&ro, "k1", UINT64_MAX, "v2");
	expect_at(&ro, "k2", 250, NULL);
	expect_at(&ro, "k2", 300, "x");
	expect_at(&ro, "k2", UINT64_MAX, "x");
	expect_at(&ro, "k3", UINT64_MAX, NULL);
	assert_int_equal(tablets_scan(&p, 1, NULL, 0, 0, 250, collect, &r, &e), 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.keys[0], "k1");
	assert_string_equal(r.vals[0], "v2");

	/* read-only means read-only */
	assert_int_not_equal(tablet_put(&ro, "k9", 2, "v", 1, 500, &e), 0);
	expect_at(&ro, "k9", UINT64_MAX, NULL);
	tablet_close(&ro);

	/* the live tablet has moved on */
	expect_at(&f->t, "k1", UINT64_MAX, "v3");
	expect_at(&f->t, "k2", UINT64_MAX, NULL);

	/* the checkpoint directory must not exist yet */
	assert_int_not_equal(tablet_checkpoint(&f->t, cp, &e), 0);
	free(cp);
}

/* The OPTIONS file names the stock comparator, so ldb/sst_dump can read a
 * tablet and a backup without snapfs. */
static void test_comparator_is_stock(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->path);
	struct dirent *de;
	int found = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		char *p, *text = NULL;

		if (strncmp(de->d_name, "OPTIONS-", 8))
			continue;
		p = fs_path("%s/%s", f->path, de->d_name);
		assert_int_equal(fs_read_all(p, 1 << 20, &text, NULL), 0);
		if (strstr(text, "comparator=leveldb.BytewiseComparator.u64ts"))
			found = 1;
		free(text);
		free(p);
	}
	closedir(d);
	assert_true(found);
}

static void test_limits_fit(void **state)
{
	struct fixture *f = *state;
	char *key = xmalloc(KEY_MAX), *val = xmalloc(VALUE_MAX), *got = NULL;
	size_t glen = 0;
	struct errbuf e;

	/* the limits the store enforces: 4 KiB keys, 16 MiB values */
	assert_int_equal(KEY_MAX, 4096);
	assert_int_equal(VALUE_MAX, 16u << 20);
	memset(key, 'k', KEY_MAX);
	for (size_t i = 0; i < VALUE_MAX; i++)
		val[i] = (char)(i * 131 >> 3);
	assert_int_equal(tablet_put(&f->t, key, KEY_MAX, val, VALUE_MAX, 10, &e), 0);
	assert_int_equal(tablet_get(&f->t, key, KEY_MAX, 10, &got, &glen, &e), 0);
	assert_true(glen == VALUE_MAX);
	assert_memory_equal(got, val, VALUE_MAX);
	free(got);
	/* binary keys and an empty value */
	assert_int_equal(tablet_put(&f->t, "\0\xff\n", 3, "", 0, 11, &e), 0);
	got = NULL;
	assert_int_equal(tablet_get(&f->t, "\0\xff\n", 3, 11, &got, &glen, &e), 0);
	assert_true(glen == 0);
	free(got);
	free(key);
	free(val);
}

/* ---- refusals ---- */

static void test_open_errors(void **state)
{
	struct fixture *f = *state;
	struct tablet t;
	struct errbuf e = {{0}};
	char *missing = fs_path("%s/missing", f->dir);

	assert_int_equal(tablet_open(&t, missing, 0, 0, &e), -ENOENT);
	assert_non_null(strstr(e.msg, missing));
	tablet_close(&t);
	/* read-only (a checkpoint): RocksDB says "IO error: No such file",
	 * which maps to -EIO; the path is named either way */
	memset(&e, 0, sizeof(e));
	assert_true(tablet_open(&t, missing, 0, 1, &e) < 0);
	assert_non_null(strstr(e.msg, missing));
	tablet_close(&t);
	/* the live tablet is locked by its owner (another process would get
	 * -EBUSY; this one gets RocksDB's "lock hold by current process") */
	memset(&e, 0, sizeof(e));
	assert_true(tablet_open(&t, f->path, 0, 0, &e) < 0);
	assert_null(t.db);
	assert_non_null(strstr(e.msg, f->path));
	assert_non_null(strstr(e.msg, "LOCK"));
	tablet_close(&t);
	free(missing);
}

/* Damage CURRENT of a checkpoint: the read-only open refuses and names it. */
static void test_corrupt_current(void **state)
{
	struct fixture *f = *state;
	char *cp = fs_path("%s/checkpoint", f->dir), *cur = fs_path("%s/CURRENT", cp);
	struct tablet ro;
	struct errbuf e = {{0}};
	int fd;

	put(&f->t, "k", "v", 1);
	assert_int_equal(tablet_checkpoint(&f->t, cp, &e), 0);
	fd = open(cur, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "MANIFEST-999999", 15), 15); /* no newline, no file */
	close(fd);
	assert_int_not_equal(tablet_open(&ro, cp, 0, 1, &e), 0);
	assert_null(ro.db);
	assert_non_null(strstr(e.msg, "tablet '"));
	assert_non_null(strstr(e.msg, cp));
	free(cur);
	free(cp);
}

/* Damage a data block of an SST: the read reports corruption (-EBADMSG)
 * rather than returning wrong bytes. */
static void test_corrupt_sst(void **state)
{
	struct fixture *f = *state;
	struct errbuf e = {{0}};
	char *v = NULL, *sst = NULL;
	size_t vlen;
	DIR *d;
	struct dirent *de;
	int fd, rc;
	char junk[64];

	put(&f->t, "k", "a value long enough to be worth a data block", 1);
	assert_int_equal(tablet_flush(&f->t, &e), 0);
	tablet_close(&f->t);
	d = opendir(f->path);
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".sst"))
			sst = fs_path("%s/%s", f->path, de->d_name);
	closedir(d);
	assert_non_null(sst);
	memset(junk, 0x5a, sizeof(junk));
	fd = open(sst, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, 16, 0), 16); /* the first data block */
	close(fd);

	rc = tablet_open(&f->t, f->path, 0, 0, &e);
	if (rc == 0)
		rc = tablet_get(&f->t, "k", 1, 1, &v, &vlen, &e);
	assert_int_equal(rc, -EBADMSG);
	assert_non_null(strstr(e.msg, "corrupt: "));
	assert_non_null(strstr(e.msg, f->path));
	assert_null(v);
	free(sst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ts_encoding),
	    cmocka_unit_test_setup_teardown(test_mvcc_memtable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mvcc_flushed_and_reopened, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_merge, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_checkpoint_readonly_at_older_time, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_comparator_is_stock, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits_fit, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_current, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_sst, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
