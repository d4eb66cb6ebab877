/*
 * test_store: the tablet store of one node (snapshot/store/store.c): DATA's
 * layout, tables hash-split into tablets, rows, bulk load, restart.
 *
 * What must hold: init is idempotent and open refuses an uninitialised
 * DATA; tables are created, listed and dropped, a duplicate is -EEXIST, an
 * unknown one -ENOENT, a bad name -EINVAL; keys over 4 KiB and values over
 * 16 MiB are refused with -EINVAL; put/get/del/scan work through the store
 * with reads at past times; store_load writes N rows that a scan returns
 * in key order; everything survives close + open; tablet directories no
 * table owns are removed at open (never snapshot checkpoints); a damaged
 * catalog record stops the open with a message naming it.
 *
 * Each test gets a fresh DATA in a temp dir, initialised and open
 * (setup/teardown).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsutil.h"
#include "partition.h"
#include "store.h"

struct fixture {
	char dir[64];
	char *data; /* DIR/data */
	struct store *s;
	int open;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct errbuf e;
	int created = 0;

	snprintf(f->dir, sizeof(f->dir), "/tmp/snapfs-store.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->data = fs_path("%s/data", f->dir);
	if (store_init(f->data, &created, &e) || !created || store_open(&f->s, f->data, &e)) {
		fprintf(stderr, "store: %s\n", e.msg);
		return -1;
	}
	f->open = 1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->open)
		store_close(f->s);
	fs_remove_tree(f->dir);
	free(f->data);
	free(f);
	return 0;
}

static void reopen(struct fixture *f)
{
	struct errbuf e;

	if (f->open)
		store_close(f->s);
	f->open = 0;
	if (store_open(&f->s, f->data, &e))
		fail_msg("store_open: %s", e.msg);
	f->open = 1;
}

static void create(struct store *s, const char *full, unsigned n)
{
	struct errbuf e;

	if (store_table_create(s, full, n, &e))
		fail_msg("store_table_create '%s': %s", full, e.msg);
}

static void put(struct store *s, const char *full, const char *k, const char *v)
{
	struct errbuf e;

	if (store_put(s, full, k, strlen(k), v, strlen(v), &e))
		fail_msg("store_put '%s': %s", k, e.msg);
}

/* The value of k at `at` (0 = now): want, or absent when want is NULL. */
static void expect_get(struct store *s, const char *full, const char *k, uint64_t at,
		       const char *want)
{
	char *v = NULL;
	size_t vlen = 0;
	struct errbuf e = {{0}};
	int rc = store_get(s, full, k, strlen(k), at, &v, &vlen, &e);

	if (!want) {
		if (rc != -ENOENT)
			fail_msg("'%s' in '%s': expected absent, got rc %d", k, full, rc);
		return;
	}
	if (rc)
		fail_msg("'%s' in '%s': rc %d (%s)", k, full, rc, e.msg);
	if (vlen != strlen(want) || memcmp(v, want, vlen))
		fail_msg("'%s' in '%s': expected '%s', got '%.*s'", k, full, want, (int)vlen, v);
	free(v);
}

struct count {
	uint64_t n;
	char last[KEY_MAX + 1];
	size_t lastlen;
	int out_of_order;
	/* with seed/vsize set: checks each value is store_load_value's */
	int check_load;
	uint64_t seed;
	uint32_t vsize;
	int bad_value;
};

static int count_cb(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct count *c = arg;

	if (c->n) {
		size_t m = kl < c->lastlen ? kl : c->lastlen;
		int r = memcmp(c->last, k, m);

		if (r > 0 || (r == 0 && c->lastlen >= kl))
			c->out_of_order++;
	}
	if (c->check_load) {
		char want[256];
		uint64_t i;

		if (kl != 13 || sscanf(k + 3, "%10" SCNu64, &i) != 1 || vl != c->vsize)
			c->bad_value++;
		else {
			store_load_value(c->seed, i, want, c->vsize);
			if (memcmp(v, want, vl))
				c->bad_value++;
		}
	}
	memcpy(c->last, k, kl);
	c->lastlen = kl;
	c->n++;
	return 0;
}

static uint64_t scan_count(struct store *s, const char *full, const char *prefix, uint64_t limit,
			   uint64_t at)
{
	struct count c = {0};
	struct errbuf e;
	int rc =
	    store_scan(s, full, prefix, prefix ? strlen(prefix) : 0, limit, at, count_cb, &c, &e);

	if (rc)
		fail_msg("store_scan '%s': %s", full, e.msg);
	assert_int_equal(c.out_of_order, 0);
	return c.n;
}

static int is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ---- DATA ---- */

static void test_init_open_close(void **state)
{
	struct fixture *f = *state;
	struct store *s;
	struct errbuf e = {{0}};
	int created = 1;
	char *p, *bare;

	/* the layout */
	for (const char *sub = "catalog\0tablets\0snapshots\0"; *sub; sub += strlen(sub) + 1) {
		p = fs_path("%s/%s", f->data, sub);
		assert_true(is_dir(p));
		free(p);
	}
	/* init again (store closed) is idempotent */
	store_close(f->s);
	f->open = 0;
	assert_int_equal(store_init(f->data, &created, &e), 0);
	assert_int_equal(created, 0);
	reopen(f);

	/* an uninitialised DATA is refused, not created */
	bare = fs_path("%s/bare", f->dir);
	assert_int_equal(store_open(&s, bare, &e), -ENOENT);
	assert_non_null(strstr(e.msg, bare));
	assert_non_null(strstr(e.msg, "not initialised"));
	p = fs_path("%s/catalog", bare);
	assert_false(is_dir(p));
	free(p);
	free(bare);
}

/* ---- tables ---- */

static int has_table(json_object *arr, const char *ks, const char *name, int tablets)
{
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *t = json_object_array_get_idx(arr, i), *v;
		const char *k, *n;

		json_object_object_get_ex(t, "keyspace", &v);
		k = json_object_get_string(v);
		json_object_object_get_ex(t, "name", &v);
		n = json_object_get_string(v);
		json_object_object_get_ex(t, "tablets", &v);
		if (!strcmp(k, ks) && !strcmp(n, name) && json_object_get_int(v) == tablets) {
			json_object_object_get_ex(t, "id", &v);
			assert_true(id_valid(json_object_get_string(v)));
			return 1;
		}
	}
	return 0;
}

static void test_tables(void **state)
{
	struct fixture *f = *state;
	struct errbuf e = {{0}};
	json_object *arr = NULL;
	struct tablerec t;
	char *paths[4];

	assert_int_equal(store_table_list(f->s, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 0);
	json_object_put(arr);
	assert_false(store_keyspace_exists(f->s, "demo"));

	create(f->s, "demo.items", 4);
	create(f->s, "demo.other", 1);
	create(f->s, "ks_2.t-1", PARTITION_MAX_TABLETS);
	assert_true(store_keyspace_exists(f->s, "demo"));
	assert_true(store_keyspace_exists(f->s, "ks_2"));

	assert_int_equal(store_table_list(f->s, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 3);
	assert_true(has_table(arr, "demo", "items", 4));
	assert_true(has_table(arr, "demo", "other", 1));
	assert_true(has_table(arr, "ks_2", "t-1", PARTITION_MAX_TABLETS));
	json_object_put(arr);

	/* duplicate, unknown */
	assert_int_equal(store_table_create(f->s, "demo.items", 2, &e), -EEXIST);
	assert_non_null(strstr(e.msg, "'demo.items'"));
	assert_int_equal(store_table_drop(f->s, "demo.nope", &e), -ENOENT);
	assert_non_null(strstr(e.msg, "'demo.nope'"));
	assert_int_equal(store_table_drop(f->s, "nope.items", &e), -ENOENT);

	/* each table's tablets split the hash space, in order, on disk */
	assert_int_equal(store_table_find(f->s, "demo.items", &t, &e), 0);
	assert_int_equal(t.ntablets, 4);
	for (unsigned i = 0; i < t.ntablets; i++) {
		uint32_t s, end;
		char *p = store_tablet_path(f->data, t.id, t.tablets[i].id);

		partition_range(4, i, &s, &end);
		assert_int_equal(t.tablets[i].start, s);
		assert_int_equal(t.tablets[i].end, end);
		assert_true(is_dir(p));
		paths[i] = p;
	}
	tablerec_release(&t);

	/* drop: gone from the list and from disk */
	assert_int_equal(store_table_drop(f->s, "demo.items", &e), 0);
	assert_int_equal(store_table_list(f->s, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 2);
	assert_false(has_table(arr, "demo", "items", 4));
	json_object_put(arr);
	{
		struct count c = {0};
		int rc = store_scan(f->s, "demo.items", NULL, 0, 0, 0, count_cb, &c, &e);

		assert_int_equal(rc, -ENOENT);
	}
	for (int i = 0; i < 4; i++) {
		assert_false(is_dir(paths[i]));
		free(paths[i]);
	}

	/* recreated under the same name: a new, empty table */
	create(f->s, "demo.items", 2);
	assert_int_equal(scan_count(f->s, "demo.items", NULL, 0, 0), 0);

	/* the list survives a restart */
	reopen(f);
	assert_int_equal(store_table_list(f->s, &arr, &e), 0);
	assert_int_equal(json_object_array_length(arr), 3);
	assert_true(has_table(arr, "demo", "items", 2));
	assert_true(has_table(arr, "ks_2", "t-1", PARTITION_MAX_TABLETS));
	json_object_put(arr);
}

static void test_bad_names(void **state)
{
	static const char *bad[] = {
	    "nodot",
	    "a.b.c",
	    ".t",
	    "ks.",
	    "",
	    "bad name.t",
	    "ks.t/x",
	    "ks/x.t",
	    "../x.t",
	    "ks.t\n",
	    "ks.\xc3\xa9",
	    /* 65 characters */
	    "ks.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct fixture *f = *state;
	struct errbuf e;
	char *v = NULL;
	size_t vl;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (store_table_create(f->s, bad[i], 4, &e) != -EINVAL)
			fail_msg("table name '%s' accepted", bad[i]);
		assert_non_null(strstr(e.msg, "table '"));
		assert_int_equal(store_put(f->s, bad[i], "k", 1, "v", 1, &e), -EINVAL);
		assert_int_equal(store_get(f->s, bad[i], "k", 1, 0, &v, &vl, &e), -EINVAL);
		assert_int_equal(store_table_drop(f->s, bad[i], &e), -EINVAL);
	}
	/* 64 characters is fine */
	create(f->s, "ks.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1);
	assert_int_equal(store_table_create(f->s, "ks.t", 0, &e), -EINVAL);
	assert_int_equal(store_table_create(f->s, "ks.t", PARTITION_MAX_TABLETS + 1, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "--tablets"));
	assert_int_equal(store_table_create(f->s, NULL, 1, &e), -EINVAL);
}

static void test_unknown_table(void **state)
{
	struct fixture *f = *state;
	struct errbuf e = {{0}};
	char *v = NULL;
	size_t vl;
	struct count c = {0};

	assert_int_equal(store_put(f->s, "demo.nope", "k", 1, "v", 1, &e), -ENOENT);
	assert_string_equal(e.msg, "table 'demo.nope': not found");
	assert_int_equal(store_del(f->s, "demo.nope", "k", 1, &e), -ENOENT);
	assert_int_equal(store_get(f->s, "demo.nope", "k", 1, 0, &v, &vl, &e), -ENOENT);
	assert_int_equal(store_scan(f->s, "demo.nope", NULL, 0, 0, 0, count_cb, &c, &e), -ENOENT);
	assert_int_equal(store_load(f->s, "demo.nope", 10, 10, 1, NULL, NULL, &e), -ENOENT);
	assert_null(v);
}

static void test_limits(void **state)
{
	struct fixture *f = *state;
	struct errbuf e = {{0}};
	char *key = xmalloc(KEY_MAX + 1), *val = xcalloc(1, VALUE_MAX + 1), *v = NULL;
	size_t vl = 0;

	create(f->s, "demo.t", 2);
	memset(key, 'k', KEY_MAX + 1);
	memset(val, 'v', VALUE_MAX + 1);

	assert_int_equal(store_put(f->s, "demo.t", key, KEY_MAX + 1, "v", 1, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "4097 bytes, the limit is 4096"));
	assert_int_equal(store_put(f->s, "demo.t", "k", 1, val, VALUE_MAX + 1, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "the limit is 16777216"));
	assert_int_equal(store_put(f->s, "demo.t", "", 0, "v", 1, &e), -EINVAL);
	assert_int_equal(store_del(f->s, "demo.t", key, KEY_MAX + 1, &e), -EINVAL);
	assert_int_equal(store_get(f->s, "demo.t", key, KEY_MAX + 1, 0, &v, &vl, &e), -EINVAL);
	assert_int_equal(store_load(f->s, "demo.t", 1, VALUE_MAX + 1, 0, NULL, NULL, &e), -EINVAL);
	assert_null(v);

	/* at the limits exactly: stored and read back */
	assert_int_equal(store_put(f->s, "demo.t", key, KEY_MAX, val, VALUE_MAX, &e), 0);
	assert_int_equal(store_get(f->s, "demo.t", key, KEY_MAX, 0, &v, &vl, &e), 0);
	assert_true(vl == VALUE_MAX);
	assert_memory_equal(v, val, VALUE_MAX);
	free(v);
	free(key);
	free(val);
}

/* ---- rows ---- */

static void test_rows_and_time(void **state)
{
	struct fixture *f = *state;
	struct errbuf e = {{0}};
	uint64_t t1, t2, t3;

	create(f->s, "demo.a", 4);
	create(f->s, "demo.b", 3);
	put(f->s, "demo.a", "k", "v1");
	t1 = hlc_last(store_clock(f->s));
	put(f->s, "demo.a", "k", "v2");
	t2 = hlc_last(store_clock(f->s));
	assert_int_equal(store_del(f->s, "demo.a", "k", 1, &e), 0);
	t3 = hlc_last(store_clock(f->s));
	assert_true(t1 < t2 && t2 < t3);

	expect_get(f->s, "demo.a", "k", 0, NULL);
	expect_get(f->s, "demo.a", "k", t1 - 1, NULL);
	expect_get(f->s, "demo.a", "k", t1, "v1");
	expect_get(f->s, "demo.a", "k", t2 - 1, "v1");
	expect_get(f->s, "demo.a", "k", t2, "v2");
	expect_get(f->s, "demo.a", "k", t3 - 1, "v2");
	expect_get(f->s, "demo.a", "k", t3, NULL);
	/* tables are separate */
	expect_get(f->s, "demo.b", "k", t2, NULL);
	put(f->s, "demo.b", "k", "b");
	expect_get(f->s, "demo.b", "k", 0, "b");
	expect_get(f->s, "demo.a", "k", 0, NULL);

	/* scans: prefix, limit, a past time */
	for (int i = 0; i < 50; i++) {
		char k[16];

		snprintf(k, sizeof(k), "%c%03d", i % 2 ? 'o' : 'e', i);
		put(f->s, "demo.a", k, k);
	}
	assert_int_equal(scan_count(f->s, "demo.a", NULL, 0, 0), 50);
	assert_int_equal(scan_count(f->s, "demo.a", "o", 0, 0), 25);
	assert_int_equal(scan_count(f->s, "demo.a", "e00", 0, 0), 5);
	assert_int_equal(scan_count(f->s, "demo.a", NULL, 7, 0), 7);
	assert_int_equal(scan_count(f->s, "demo.a", NULL, 0, t2), 1); /* k=v2 */
	assert_int_equal(scan_count(f->s, "demo.b", NULL, 0, 0), 1);
	/* a deleted row is not scanned, its past version is */
	assert_int_equal(store_del(f->s, "demo.a", "o001", 4, &e), 0);
	assert_int_equal(scan_count(f->s, "demo.a", "o", 0, 0), 24);
	assert_int_equal(scan_count(f->s, "demo.a", "o", 0, hlc_last(store_clock(f->s))), 24);

	/* every key went to the tablet its hash names */
	{
		struct tablerec t;

		assert_int_equal(store_table_find(f->s, "demo.b", &t, &e), 0);
		for (int i = 0; i < 1000; i++) {
			char k[16];
			int n = snprintf(k, sizeof(k), "x%d", i);

			assert_int_equal(store_pick_tablet(&t, k, (size_t)n),
					 partition_index(3, partition_hash(k, (size_t)n)));
		}
		tablerec_release(&t);
	}
}

struct progress {
	uint64_t calls, last;
	int backwards;
};

static int on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct progress *p = arg;

	if (done <= p->last || done > total)
		p->backwards++;
	p->last = done;
	p->calls++;
	return 0;
}

#define LOAD_ROWS 20000
#define LOAD_VSIZE 100
#define LOAD_SEED 7

static void expect_loaded(struct store *s, const char *full)
{
	struct count c = {.check_load = 1, .seed = LOAD_SEED, .vsize = LOAD_VSIZE};
	struct errbuf e;

	assert_int_equal(store_scan(s, full, NULL, 0, 0, 0, count_cb, &c, &e), 0);
	assert_int_equal(c.n, LOAD_ROWS);
	assert_int_equal(c.out_of_order, 0);
	assert_int_equal(c.bad_value, 0);
	assert_string_equal(c.last, "key0000019999");
	assert_int_equal(scan_count(s, full, "key000000000", 0, 0), 10);
	assert_int_equal(scan_count(s, full, "key00000199", 0, 0), 100);
	assert_int_equal(scan_count(s, full, NULL, 123, 0), 123);
}

static void test_load_and_reopen(void **state)
{
	struct fixture *f = *state;
	struct errbuf e = {{0}};
	struct progress p = {0};
	char want[LOAD_VSIZE + 1] = {0};
	uint64_t before, t_load;

	create(f->s, "bench.t", 4);
	create(f->s, "bench.small", 1);
	assert_int_equal(
	    store_load(f->s, "bench.t", LOAD_ROWS, LOAD_VSIZE, LOAD_SEED, on_progress, &p, &e), 0);
	t_load = hlc_last(store_clock(f->s));
	assert_int_equal(p.backwards, 0);
	assert_true(p.calls >= 2);
	assert_int_equal(p.last, LOAD_ROWS);
	expect_loaded(f->s, "bench.t");

	/* every tablet got a share */
	{
		struct store_table **h = NULL;
		size_t nh = 0;

		char *names[] = {"t"};

		assert_int_equal(store_tables_acquire(f->s, "bench", names, 1, &h, &nh, &e), 0);
		assert_int_equal(nh, 1);
		for (unsigned i = 0; i < store_table_rec(h[0])->ntablets; i++) {
			struct tablet *tb = store_table_tablet(h[0], i);
			struct count c = {0};

			assert_int_equal(
			    tablets_scan(&tb, 1, NULL, 0, 0, UINT64_MAX, count_cb, &c, &e), 0);
			assert_in_range(c.n, LOAD_ROWS / 4 * 9 / 10, LOAD_ROWS / 4 * 11 / 10);
		}
		store_tables_release(h, nh);
	}

	/* changes after the load */
	store_load_value(LOAD_SEED, 5, want, LOAD_VSIZE);
	put(f->s, "bench.t", "key0000000007", "changed");
	assert_int_equal(store_del(f->s, "bench.t", "key0000000009", 13, &e), 0);
	put(f->s, "bench.small", "only", "row");
	before = hlc_last(store_clock(f->s));

	reopen(f);
	assert_true(hlc_now(store_clock(f->s)) > before);
	expect_get(f->s, "bench.t", "key0000000005", 0, want);
	expect_get(f->s, "bench.t", "key0000000007", 0, "changed");
	expect_get(f->s, "bench.t", "key0000000009", 0, NULL);
	expect_get(f->s, "bench.small", "only", 0, "row");
	assert_int_equal(scan_count(f->s, "bench.t", NULL, 0, 0), LOAD_ROWS - 1);
	assert_int_equal(scan_count(f->s, "bench.small", NULL, 0, 0), 1);
	/* the past survives too */
	store_load_value(LOAD_SEED, 7, want, LOAD_VSIZE);
	expect_get(f->s, "bench.t", "key0000000007", t_load, want);
	assert_int_equal(scan_count(f->s, "bench.t", NULL, 0, t_load), LOAD_ROWS);

	/* a load over existing rows overwrites them */
	assert_int_equal(store_load(f->s, "bench.t", 10, LOAD_VSIZE, LOAD_SEED, NULL, NULL, &e), 0);
	store_load_value(LOAD_SEED, 9, want, LOAD_VSIZE);
	expect_get(f->s, "bench.t", "key0000000009", 0, want);
	expect_loaded(f->s, "bench.t");
}

/* store_load_value: deterministic, seed-dependent, printable. */
static void test_load_value(void **state)
{
	char a[37], b[37], c[37];

	(void)state;
	store_load_value(1, 10, a, 37);
	store_load_value(1, 10, b, 37);
	store_load_value(2, 10, c, 37);
	assert_memory_equal(a, b, 37);
	assert_memory_not_equal(a, c, 37);
	store_load_value(1, 11, c, 37);
	assert_memory_not_equal(a, c, 37);
	for (int i = 0; i < 37; i++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz0123456789", a[i]));
}

/* ---- concurrent writers ---- */

#define WRITERS 4
#define WRITER_ROWS 500

struct writer {
	struct store *s;
	int id, errors;
	atomic_int acked;    /* rows w<id>-0000.. acknowledged so far */
	atomic_int finished; /* the writer is done */
};

static void *write_rows(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < WRITER_ROWS; i++) {
		char k[32];
		int n = snprintf(k, sizeof(k), "w%d-%04d", w->id, i);

		if (store_put(w->s, "demo.c", k, (size_t)n, k, (size_t)n, NULL))
			w->errors++;
		else
			atomic_store(&w->acked, i + 1);
	}
	atomic_store(&w->finished, 1);
	return NULL;
}

/* What a scan running alongside the writers saw, row by row. */
struct seen {
	unsigned char row[WRITERS][WRITER_ROWS];
	int bad;
};

static int seen_cb(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	struct seen *s = arg;
	int id, i, end = 0;

	if (kl >= 32 || vl != kl || memcmp(k, v, kl) ||
	    sscanf(k, "w%d-%4d%n", &id, &i, &end) != 2 || (size_t)end != kl || id < 0 ||
	    id >= WRITERS || i < 0 || i >= WRITER_ROWS || s->row[id][i]++)
		s->bad++; /* not a row a writer wrote, its value torn, or seen twice */
	return 0;
}

/* Scans while the writers run: every row a writer had acknowledged before
 * the scan began is in it, with its value; nothing else, nothing twice. */
static void test_concurrent_writers(void **state)
{
	struct fixture *f = *state;
	pthread_t th[WRITERS];
	struct writer w[WRITERS];
	char why[1200] = "";

	create(f->s, "demo.c", 4);
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.s = f->s, .id = i};
		assert_int_equal(pthread_create(&th[i], NULL, write_rows, &w[i]), 0);
	}
	/* scans run alongside until every writer is done, 4 at least; a
	 * failure is reported once the writers are joined */
	for (int r = 0, done = 0; !*why && (r < 4 || done < WRITERS); r++) {
		struct seen *seen = xcalloc(1, sizeof(*seen));
		struct errbuf e;
		int acked[WRITERS];

		done = 0;
		for (int i = 0; i < WRITERS; i++) {
			acked[i] = atomic_load(&w[i].acked);
			done += atomic_load(&w[i].finished);
		}
		if (store_scan(f->s, "demo.c", NULL, 0, 0, 0, seen_cb, seen, &e))
			snprintf(why, sizeof(why), "scan %d: %s", r, e.msg);
		else if (seen->bad)
			snprintf(why, sizeof(why),
				 "scan %d: %d rows no writer wrote, torn or twice", r, seen->bad);
		for (int i = 0; i < WRITERS && !*why; i++)
			for (int j = 0; j < acked[i] && !*why; j++)
				if (!seen->row[i][j])
					snprintf(why, sizeof(why),
						 "scan %d: row w%d-%04d, acknowledged before "
						 "the scan began, is missing",
						 r, i, j);
		free(seen);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
	if (*why)
		fail_msg("%s", why);
	assert_int_equal(scan_count(f->s, "demo.c", NULL, 0, 0), WRITERS * WRITER_ROWS);
	assert_int_equal(scan_count(f->s, "demo.c", "w3-", 0, 0), WRITER_ROWS);
}

/* ---- crash leftovers and damage ---- */

static void mkdirs_with_file(const char *dir)
{
	char *file = fs_path("%s/000001.log", dir);

	assert_int_equal(fs_mkdirs(dir, 0755), 0);
	assert_int_equal(fs_write_atomic(file, "x", 1, 0644), 0);
	free(file);
}

static void test_orphans_removed(void **state)
{
	struct fixture *f = *state;
	char tid[ID_LEN + 1], orphan_table[ID_LEN + 1], orphan_tablet[ID_LEN + 1];
	char *live_tablet, *in_owned, *in_unowned, *cp_owned, *cp_unowned, *not_an_id;

	create(f->s, "demo.keep", 2);
	put(f->s, "demo.keep", "k", "v");
	{
		struct tablerec t;

		assert_int_equal(store_table_find(f->s, "demo.keep", &t, NULL), 0);
		strcpy(tid, t.id);
		live_tablet = store_tablet_path(f->data, tid, t.tablets[0].id);
		tablerec_release(&t);
	}
	store_close(f->s);
	f->open = 0;

	/* what a create or drop cut short leaves behind */
	id_new(orphan_table);
	id_new(orphan_tablet);
	in_owned = store_tablet_path(f->data, tid, orphan_tablet);
	in_unowned = store_tablet_path(f->data, orphan_table, orphan_tablet);
	mkdirs_with_file(in_owned);
	mkdirs_with_file(in_unowned);
	/* what must stay: snapshot checkpoints, names that are not ids */
	cp_owned = fs_path("%s.snapshots/%s", live_tablet, orphan_tablet);
	cp_unowned = fs_path("%s.snapshots/%s", in_unowned, orphan_tablet);
	not_an_id = fs_path("%s/tablets/table-%s/tablet-NOT-AN-ID", f->data, tid);
	mkdirs_with_file(cp_owned);
	mkdirs_with_file(cp_unowned);
	mkdirs_with_file(not_an_id);

	reopen(f);
	assert_false(is_dir(in_owned));
	assert_false(is_dir(in_unowned));
	assert_true(is_dir(live_tablet));
	assert_true(is_dir(cp_owned));
	assert_true(is_dir(cp_unowned));
	assert_true(is_dir(not_an_id));
	expect_get(f->s, "demo.keep", "k", 0, "v");

	free(live_tablet);
	free(in_owned);
	free(in_unowned);
	free(cp_owned);
	free(cp_unowned);
	free(not_an_id);
}

/* Damage the catalog record of a table on purpose: open refuses, with a
 * message that names the record, and DATA stays as it was. */
static void test_corrupt_table_record(void **state)
{
	struct fixture *f = *state;
	struct catalog c;
	struct errbuf e = {{0}};
	json_object *o;
	char *cat = fs_path("%s/catalog", f->data);

	create(f->s, "demo.keep", 2);
	store_close(f->s);
	f->open = 0;

	assert_int_equal(catalog_open(&c, cat, 0, &e), 0);
	o = json_tokener_parse("{\"id\":\"not-an-id\",\"keyspace\":\"demo\",\"name\":\"x\"}");
	assert_int_equal(catalog_put(&c, "table/zzz", o, &e), 0);
	json_object_put(o);
	catalog_close(&c);

	assert_int_equal(store_open(&f->s, f->data, &e), -EBADMSG);
	assert_non_null(
	    strstr(e.msg, "catalog record 'table/zzz': field 'id': 'not-an-id' is not an id"));

	/* repaired, it opens again with the good table intact */
	assert_int_equal(catalog_open(&c, cat, 0, &e), 0);
	assert_int_equal(catalog_delete(&c, "table/zzz", &e), 0);
	catalog_close(&c);
	assert_int_equal(store_open(&f->s, f->data, &e), 0);
	f->open = 1;
	assert_int_equal(scan_count(f->s, "demo.keep", NULL, 0, 0), 0);
	free(cat);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_init_open_close, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tables, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_table, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rows_and_time, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_load_and_reopen, setup, teardown),
	    cmocka_unit_test(test_load_value),
	    cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_orphans_removed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_table_record, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
