/*
 * test_catalog: the sys catalog (snapshot/store/catalog.c), a plain RocksDB of
 * JSON records.
 *
 * What must hold: put/get/delete of records; a scan visits exactly the
 * records under a prefix, in key order, and stops when the callback says
 * so; a batch changes nothing until it commits and then everything at once;
 * records survive close and reopen; a missing catalog is not created unless
 * asked; a record that is not JSON is refused with a message naming it.
 *
 * Each test gets a fresh temp dir and an open catalog (setup/teardown).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "fsutil.h"

struct fixture {
	char dir[64];
	char *path; /* DIR/catalog */
	struct catalog cat;
};

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	struct errbuf e;

	snprintf(f->dir, sizeof(f->dir), "/tmp/snapfs-catalog.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	f->path = fs_path("%s/catalog", f->dir);
	if (catalog_open(&f->cat, f->path, 1, &e)) {
		fprintf(stderr, "catalog_open: %s\n", e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	catalog_close(&f->cat);
	fs_remove_tree(f->dir);
	free(f->path);
	free(f);
	return 0;
}

static json_object *record(const char *name, int n)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "n", json_object_new_int(n));
	return o;
}

static void put(struct catalog *c, const char *key, const char *name, int n)
{
	json_object *o = record(name, n);
	struct errbuf e;

	if (catalog_put(c, key, o, &e))
		fail_msg("catalog_put '%s': %s", key, e.msg);
	json_object_put(o);
}

/* Asserts that key holds {name, n}. */
static void expect_record(struct catalog *c, const char *key, const char *name, int n)
{
	json_object *o = NULL, *v;
	struct errbuf e;
	int rc = catalog_get(c, key, &o, &e);

	if (rc)
		fail_msg("catalog_get '%s': rc %d", key, rc);
	assert_true(json_object_object_get_ex(o, "name", &v));
	assert_string_equal(json_object_get_string(v), name);
	assert_true(json_object_object_get_ex(o, "n", &v));
	assert_int_equal(json_object_get_int(v), n);
	json_object_put(o);
}

static void expect_absent(struct catalog *c, const char *key)
{
	json_object *o = (json_object *)1;

	assert_int_equal(catalog_get(c, key, &o, NULL), -ENOENT);
	assert_null(o);
}

static void test_put_get_delete(void **state)
{
	struct fixture *f = *state;

	expect_absent(&f->cat, "ks/demo");
	put(&f->cat, "ks/demo", "demo", 1);
	expect_record(&f->cat, "ks/demo", "demo", 1);
	put(&f->cat, "ks/demo", "demo", 2); /* overwrite */
	expect_record(&f->cat, "ks/demo", "demo", 2);
	assert_int_equal(catalog_delete(&f->cat, "ks/demo", NULL), 0);
	expect_absent(&f->cat, "ks/demo");
	/* deleting what is absent is not an error */
	assert_int_equal(catalog_delete(&f->cat, "ks/demo", NULL), 0);
}

struct seen {
	int n;
	char keys[16][32];
	int stop_after; /* 0 = never stop */
};

static int collect(void *arg, const char *key, json_object *obj)
{
	struct seen *s = arg;
	json_object *v;

	assert_true(json_object_object_get_ex(obj, "n", &v));
	assert_true(s->n < 16);
	snprintf(s->keys[s->n++], sizeof(s->keys[0]), "%s", key);
	if (s->stop_after && s->n == s->stop_after)
		return 7;
	return 0;
}

static void test_scan_prefix(void **state)
{
	struct fixture *f = *state;
	struct seen s = {0};

	/* inserted out of order; prefixes that are prefixes of each other */
	put(&f->cat, "table/c", "c", 3);
	put(&f->cat, "ks/x", "x", 0);
	put(&f->cat, "table/a", "a", 1);
	put(&f->cat, "tablet/z", "z", 9);
	put(&f->cat, "table/b", "b", 2);
	put(&f->cat, "snap/1", "s", 5);

	assert_int_equal(catalog_scan(&f->cat, "table/", collect, &s, NULL), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.keys[0], "table/a");
	assert_string_equal(s.keys[1], "table/b");
	assert_string_equal(s.keys[2], "table/c");

	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_scan(&f->cat, "table", collect, &s, NULL), 0);
	assert_int_equal(s.n, 4); /* table/a..c and tablet/z */
	assert_string_equal(s.keys[3], "tablet/z");

	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_scan(&f->cat, "", collect, &s, NULL), 0);
	assert_int_equal(s.n, 6);
	for (int i = 1; i < s.n; i++)
		assert_true(strcmp(s.keys[i - 1], s.keys[i]) < 0);

	memset(&s, 0, sizeof(s));
	assert_int_equal(catalog_scan(&f->cat, "nothing/", collect, &s, NULL), 0);
	assert_int_equal(s.n, 0);

	/* a non-zero return of the callback stops the scan and is returned */
	memset(&s, 0, sizeof(s));
	s.stop_after = 2;
	assert_int_equal(catalog_scan(&f->cat, "table/", collect, &s, NULL), 7);
	assert_int_equal(s.n, 2);
}

static void test_batch_atomic(void **state)
{
	struct fixture *f = *state;
	struct catalog_batch b;
	json_object *o1 = record("one", 1), *o2 = record("two", 2);

	put(&f->cat, "old/x", "x", 0);

	/* a batch released without commit changes nothing */
	catalog_batch_init(&b);
	catalog_batch_put(&b, "new/1", o1);
	catalog_batch_delete(&b, "old/x");
	expect_absent(&f->cat, "new/1");
	expect_record(&f->cat, "old/x", "x", 0);
	catalog_batch_release(&b);
	expect_absent(&f->cat, "new/1");
	expect_record(&f->cat, "old/x", "x", 0);

	/* staged changes are invisible until commit, then all visible */
	catalog_batch_init(&b);
	catalog_batch_put(&b, "new/1", o1);
	catalog_batch_put(&b, "new/2", o2);
	catalog_batch_delete(&b, "old/x");
	expect_absent(&f->cat, "new/1");
	expect_absent(&f->cat, "new/2");
	expect_record(&f->cat, "old/x", "x", 0);
	assert_int_equal(catalog_batch_commit(&f->cat, &b, NULL), 0);
	catalog_batch_release(&b);
	catalog_batch_release(&b); /* twice is harmless */
	expect_record(&f->cat, "new/1", "one", 1);
	expect_record(&f->cat, "new/2", "two", 2);
	expect_absent(&f->cat, "old/x");

	/* the objects were not consumed */
	assert_int_equal(json_object_put(o1), 1);
	assert_int_equal(json_object_put(o2), 1);
}

static void test_survives_reopen(void **state)
{
	struct fixture *f = *state;
	struct catalog_batch b;
	json_object *o = record("batched", 42);
	struct errbuf e;
	struct seen s = {0};

	put(&f->cat, "ks/demo", "demo", 1);
	put(&f->cat, "table/t1", "t1", 10);
	put(&f->cat, "table/gone", "gone", 11);
	assert_int_equal(catalog_delete(&f->cat, "table/gone", NULL), 0);
	catalog_batch_init(&b);
	catalog_batch_put(&b, "snap/s1", o);
	assert_int_equal(catalog_batch_commit(&f->cat, &b, NULL), 0);
	catalog_batch_release(&b);
	json_object_put(o);

	catalog_close(&f->cat);
	catalog_close(&f->cat); /* closing a closed catalog is harmless */
	assert_int_equal(catalog_open(&f->cat, f->path, 0, &e), 0);

	expect_record(&f->cat, "ks/demo", "demo", 1);
	expect_record(&f->cat, "table/t1", "t1", 10);
	expect_record(&f->cat, "snap/s1", "batched", 42);
	expect_absent(&f->cat, "table/gone");
	assert_int_equal(catalog_scan(&f->cat, "table/", collect, &s, NULL), 0);
	assert_int_equal(s.n, 1);
}

static void test_open_missing(void **state)
{
	struct fixture *f = *state;
	struct catalog c;
	struct errbuf e = {{0}};
	char *missing = fs_path("%s/no-such-catalog", f->dir);

	assert_int_equal(catalog_open(&c, missing, 0, &e), -ENOENT);
	assert_non_null(strstr(e.msg, "catalog '"));
	assert_non_null(strstr(e.msg, missing));
	assert_null(c.db);
	catalog_close(&c); /* a failed open leaves a closable catalog */
	free(missing);
}

/* Damage a record on purpose (raw bytes that are not JSON, written with
 * RocksDB directly): get and scan refuse it and name the key. */
static void test_corrupt_record(void **state)
{
	struct fixture *f = *state;
	struct errbuf e = {{0}};
	json_object *o = NULL;
	struct seen s = {0};
	char *err = NULL;

	put(&f->cat, "table/a", "a", 1);
	rocksdb_put(f->cat.db, f->cat.wo, "table/b", 7, "{\"name\":", 8, &err);
	assert_null(err);
	put(&f->cat, "table/c", "c", 3);

	assert_int_equal(catalog_get(&f->cat, "table/b", &o, &e), -EBADMSG);
	assert_null(o);
	assert_string_equal(e.msg, "catalog record 'table/b': not JSON");

	memset(&e, 0, sizeof(e));
	assert_int_equal(catalog_scan(&f->cat, "table/", collect, &s, &e), -EBADMSG);
	assert_int_equal(s.n, 1); /* table/a, then the refusal */
	assert_string_equal(e.msg, "catalog record 'table/b': not JSON");

	/* the good records are still readable */
	expect_record(&f->cat, "table/c", "c", 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_scan_prefix, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_atomic, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_corrupt_record, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
