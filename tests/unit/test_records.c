/*
 * test_records: the strict parsers of the catalog's records
 * (snapshot/store/records.h). Each kind round-trips through its formatter;
 * a record as the first release wrote it parses; and every way a record
 * can be wrong (missing field, wrong type, extra field, bad id or name,
 * tablets that do not cover the hash space) is refused naming the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "records.h"

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"
#define ID3 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

/* As the first release wrote them (main at fcdb372). */
static const char *TABLE = "{\"id\":\"" ID1 "\",\"keyspace\":\"app\",\"name\":\"users\","
			   "\"created_ht\":7357195961402716160,\"tablets\":["
			   "{\"id\":\"" ID2 "\",\"start\":0,\"end\":32768},"
			   "{\"id\":\"" ID3 "\",\"start\":32768,\"end\":65536}]}";
static const char *SNAPREC =
    "{\"id\":\"" ID1 "\",\"state\":\"COMPLETE\",\"keyspace\":\"app\","
    "\"hybrid_time\":7357195961402716160,\"wall_us\":1796190420443872,\"bytes\":12345,"
    "\"tables\":[{\"id\":\"" ID2 "\",\"name\":\"users\",\"created_ht\":1,"
    "\"tablets\":[{\"id\":\"" ID3 "\",\"start\":0,\"end\":65536}]}],\"schedule_id\":\"" ID2 "\"}";
static const char *SCHED = "{\"id\":\"" ID1 "\",\"keyspace\":\"app\",\"interval_us\":3600000000,"
			   "\"retention_us\":86400000000,\"created_us\":1796190420443872}";
static const char *RESTORE =
    "{\"id\":\"" ID1 "\",\"source\":\"snapshot\",\"snapshot_id\":\"" ID2 "\",\"keyspace\":"
    "\"app\",\"cut_time\":\"2026-11-23T10:00:00.000000Z\",\"hybrid_time\":5,\"tables\":"
    "[\"users\",\"other.copy\"],\"dropped\":[],\"result\":\"ok\",\"restored_us\":17}";

static char *replace(const char *s, const char *a, const char *b)
{
	const char *at = strstr(s, a);
	char *out;

	assert_non_null(at);
	out = malloc(strlen(s) - strlen(a) + strlen(b) + 1);
	memcpy(out, s, (size_t)(at - s));
	strcpy(out + (at - s), b);
	strcat(out, at + strlen(a));
	return out;
}

static void expect_table_refused(const char *a, const char *b, const char *why)
{
	char *bad = replace(TABLE, a, b);
	struct tablerec t;
	struct errbuf e = {{0}};

	if (tablerec_parse(bad, strlen(bad), &t, &e) != -EBADMSG)
		fail_msg("accepted: %s", bad);
	if (!strstr(e.msg, why))
		fail_msg("message '%s' lacks '%s'", e.msg, why);
	free(bad);
}

static void test_table(void **state)
{
	struct tablerec t;
	struct errbuf e = {{0}};
	char *again;

	(void)state;
	assert_int_equal(tablerec_parse(TABLE, strlen(TABLE), &t, &e), 0);
	assert_string_equal(t.name, "users");
	assert_int_equal(t.ntablets, 2);
	assert_int_equal(t.created_ht, 7357195961402716160ULL);
	again = tablerec_format(&t);
	assert_string_equal(again, TABLE); /* the same text back */
	free(again);
	tablerec_release(&t);

	expect_table_refused("\"name\":\"users\",", "", "field 'name': missing");
	expect_table_refused("\"name\":\"users\"", "\"name\":7", "field 'name': not a string");
	expect_table_refused("\"name\":\"users\"", "\"name\":\"a b\"", "not a valid name");
	expect_table_refused("\"id\":\"" ID1 "\"", "\"id\":\"" ID1 "0\"", "not an id");
	expect_table_refused("{\"id\"", "{\"x\":1,\"id\"", "field 'x': unknown");
	expect_table_refused("\"created_ht\":7357195961402716160", "\"created_ht\":-1", "negative");
	expect_table_refused("\"start\":32768", "\"start\":30000", "does not continue");
	expect_table_refused("\"end\":65536", "\"end\":65535", "ranges end at 65535");
	expect_table_refused("\"id\":\"" ID3 "\"", "\"id\":\"" ID2 "\"", "a duplicate");
	{
		const char *bad = "{\"id\":\"" ID1 "\",\"keyspace\":\"app\",\"name\":\"u\","
				  "\"created_ht\":1,\"tablets\":{}}";
		struct errbuf e2 = {{0}};

		assert_int_equal(tablerec_parse(bad, strlen(bad), &t, &e2), -EBADMSG);
		assert_non_null(strstr(e2.msg, "field 'tablets': not an array"));
	}
	expect_table_refused("]}", "]} x", "not JSON");
	expect_table_refused("{", "[{", "not JSON");
}

static void test_snapshot(void **state)
{
	struct snaprec r;
	struct errbuf e = {{0}};
	char *again, *bad;

	(void)state;
	assert_int_equal(snaprec_parse(SNAPREC, strlen(SNAPREC), &r, &e), 0);
	assert_int_equal(r.state, SNAP_COMPLETE);
	assert_string_equal(r.schedule_id, ID2);
	assert_string_equal(r.tables[0].ks, "app"); /* the snapshot's */
	again = snaprec_format(&r);
	assert_string_equal(again, SNAPREC);
	free(again);
	snaprec_release(&r);
	/* without a schedule */
	bad = replace(SNAPREC, ",\"schedule_id\":\"" ID2 "\"", "");
	assert_int_equal(snaprec_parse(bad, strlen(bad), &r, &e), 0);
	assert_string_equal(r.schedule_id, "");
	snaprec_release(&r);
	free(bad);
	/* a state that is none, a COMPLETE without a cut, no tables */
	bad = replace(SNAPREC, "COMPLETE", "DONE");
	assert_int_equal(snaprec_parse(bad, strlen(bad), &r, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "'state'"));
	free(bad);
	bad = replace(SNAPREC, "7357195961402716160", "0");
	assert_int_equal(snaprec_parse(bad, strlen(bad), &r, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "hybrid_time"));
	free(bad);
	bad = replace(SNAPREC, "\"wall_us\":1796190420443872,", "");
	assert_int_equal(snaprec_parse(bad, strlen(bad), &r, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "'wall_us': missing"));
	free(bad);
	bad = replace(SNAPREC, "\"keyspace\":\"app\",\"hybrid",
		      "\"keyspace\":\"app\",\"x\":0,\"hybrid");
	assert_int_equal(snaprec_parse(bad, strlen(bad), &r, &e), -EBADMSG);
	free(bad);
}

static void test_others(void **state)
{
	struct schedrec s;
	struct restorerec r;
	struct ksrec k;
	struct errbuf e = {{0}};
	char *again, *bad;

	(void)state;
	assert_int_equal(schedrec_parse(SCHED, strlen(SCHED), &s, &e), 0);
	again = schedrec_format(&s);
	assert_string_equal(again, SCHED);
	free(again);
	bad = replace(SCHED, "\"retention_us\":86400000000", "\"retention_us\":1");
	assert_int_equal(schedrec_parse(bad, strlen(bad), &s, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "below the interval"));
	free(bad);

	assert_int_equal(restorerec_parse(RESTORE, strlen(RESTORE), &r, &e), 0);
	assert_int_equal(r.ntables, 2);
	again = restorerec_format(&r);
	assert_string_equal(again, RESTORE);
	free(again);
	restorerec_release(&r);
	bad = replace(RESTORE, "\"other.copy\"", "\"a.b.c\"");
	assert_int_equal(restorerec_parse(bad, strlen(bad), &r, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "tables[1]"));
	free(bad);

	assert_int_equal(ksrec_parse("{\"name\":\"app\"}", 14, &k, &e), 0);
	assert_int_equal(ksrec_parse("{\"name\":\"\"}", 11, &k, &e), -EBADMSG);

	/* by key: the key must name the record */
	assert_int_equal(record_check("table/" ID1, TABLE, strlen(TABLE), &e), 0);
	assert_int_equal(record_check("table/" ID2, TABLE, strlen(TABLE), &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "catalog record 'table/" ID2 "'"));
	assert_int_equal(record_check("ks/other", "{\"name\":\"app\"}", 14, &e), -EBADMSG);
	assert_int_equal(
	    record_check("restore/00000000000000000017-" ID1, RESTORE, strlen(RESTORE), &e), 0);
	assert_int_equal(record_check("nonsense/1", "{}", 2, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "unknown kind"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_snapshot),
	    cmocka_unit_test(test_others),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
