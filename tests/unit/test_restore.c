/*
 * test_restore: restore plans and the journal without a store
 * (snapshot/backup/journal.h): what a restore of a table replaces, adds
 * and drops; the journal written and parsed back; every path of a journal
 * refused unless it is one the planner writes, inside DATA, with no
 * symlink on the way.
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
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "journal.h"
#include "store.h"

#define SNAP "0123456789abcdef0123456789abcdef"
#define OLDT "11111111111111111111111111111111"
#define NEWT "22222222222222222222222222222222"

static char data[64];

static int setup(void **state)
{
	snprintf(data, sizeof(data), "/tmp/snapfs-restore.XXXXXX");
	return mkdtemp(data) ? 0 : -1;
}

static int teardown(void **state)
{
	fs_remove_tree(data);
	return 0;
}

static void make_manifest(struct manifest *m)
{
	struct manifest_table *t;

	memset(m, 0, sizeof(*m));
	strcpy(m->id, SNAP);
	m->hybrid_time = 5000;
	m->keyspace = xstrdup("app");
	m->ntables = 1;
	m->tables = xcalloc(1, sizeof(*m->tables));
	t = &m->tables[0];
	strcpy(t->id, "33333333333333333333333333333333");
	t->name = xstrdup("users");
	t->ntablets = 2;
	t->tablets = xcalloc(2, sizeof(*t->tablets));
	strcpy(t->tablets[0].id, "44444444444444444444444444444444");
	t->tablets[0].end = 32768;
	strcpy(t->tablets[1].id, "55555555555555555555555555555555");
	t->tablets[1].start = 32768;
	t->tablets[1].end = 65536;
}

static void live_table(struct tablerec *t, const char *id, const char *name, uint64_t created)
{
	memset(t, 0, sizeof(*t));
	strcpy(t->id, id);
	strcpy(t->ks, "app");
	strcpy(t->name, name);
	t->created_ht = created;
	t->ntablets = 1;
	t->tablets = xcalloc(1, sizeof(*t->tablets));
	id_new(t->tablets[0].id);
	t->tablets[0].end = 65536;
}

static void test_plan(void **state)
{
	struct manifest m;
	struct journal j;
	struct tablerec live[2];
	char *stage[2];

	make_manifest(&m);
	live_table(&live[0], OLDT, "users", 1000);
	live_table(&live[1], NEWT, "later", 9000);
	stage[0] = fs_path("%s/restore-staging/%s", data, "66666666666666666666666666666666");
	stage[1] = fs_path("%s/restore-staging/%s", data, "77777777777777777777777777777777");

	/* into the live table of the same name: it keeps its id, its old
	 * tablets go in the clean-up; a table created after the time is
	 * dropped in the same step */
	journal_init(&j, &m, "time", 4000);
	assert_int_equal(j.cut, 4000);
	journal_plan_table(&j, data, live, 2, "app", "users", &m, &m.tables[0], 1000, NULL, stage);
	journal_plan_drops(&j, data, live, 2, "app", 4000);
	assert_int_equal(j.nmoves, 2);
	assert_string_equal(j.moves[0].src, stage[0]);
	assert_int_equal(j.ntablets, 2);
	assert_int_equal(j.nrecords, 3); /* table, keyspace, drop */
	assert_int_equal(j.records[0].kind, J_TABLE);
	assert_string_equal(j.records[0].table.id, OLDT);
	assert_int_equal(j.records[0].table.ntablets, 2);
	assert_int_equal(j.records[0].table.tablets[1].start, 32768);
	assert_int_equal(j.records[1].kind, J_KS);
	assert_int_equal(j.records[2].kind, J_DROP);
	assert_string_equal(j.records[2].drop, NEWT);
	assert_int_equal(j.nremove, 2); /* the old users tablet, the dropped one */
	assert_int_equal(j.rec.ndropped, 1);
	assert_string_equal(j.rec.dropped[0], "later");

	/* the journal parses back to the same plan */
	{
		char *text = journal_format(&j), *again;
		struct journal k;
		struct errbuf e = {{0}};

		if (journal_parse(text, strlen(text), data, &k, &e))
			fail_msg("journal_parse: %s", e.msg);
		again = journal_format(&k);
		assert_string_equal(text, again);
		journal_release(&k);
		free(again);
		free(text);
	}
	journal_release(&j);

	/* no live table of that name: a new id, nothing removed */
	journal_init(&j, &m, "snapshot", 0);
	assert_int_equal(j.cut, 5000);
	journal_plan_table(&j, data, live, 2, "app", "copy", &m, &m.tables[0], 0, NULL, stage);
	assert_string_not_equal(j.records[0].table.id, OLDT);
	assert_string_not_equal(j.records[0].table.id, NEWT);
	assert_int_equal(j.records[0].table.created_ht, 5000);
	assert_int_equal(j.nremove, 0);
	journal_release(&j);

	/* a table dropped and created again after the time: restored in place */
	journal_init(&j, &m, "time", 4000);
	live[0].created_ht = 9000;
	journal_plan_table(&j, data, live, 1, "app", "users", &m, &m.tables[0], 1000, NULL, stage);
	journal_plan_drops(&j, data, live, 1, "app", 4000);
	assert_int_equal(j.nrecords, 2); /* no drop of the one put in its place */
	journal_release(&j);

	for (int i = 0; i < 2; i++)
		tablerec_release(&live[i]);
	free(stage[0]);
	free(stage[1]);
	manifest_release(&m);
}

static const char *GOOD =
    "{\"id\":\"" SNAP "\",\"cut\":1,\"moves\":[],\"tablets\":[],\"records\":[],"
    "\"remove\":[\"%s\"],\"record\":{\"id\":\"" SNAP "\",\"source\":\"snapshot\","
    "\"snapshot_id\":\"" SNAP "\",\"keyspace\":\"app\",\"cut_time\":\"x\",\"hybrid_time\":1,"
    "\"tables\":[],\"dropped\":[],\"result\":\"ok\"}}";

static int parse_remove(const char *path, struct errbuf *e)
{
	char *text = fs_path(GOOD, path);
	struct journal j;
	int rc = journal_parse(text, strlen(text), data, &j, e);

	if (!rc)
		journal_release(&j);
	free(text);
	return rc;
}

static void test_paths(void **state)
{
	struct errbuf e = {{0}};
	char *p, *link;

	p = fs_path("%s/tablets/table-%s/tablet-%s", data, OLDT, NEWT);
	assert_int_equal(parse_remove(p, &e), 0);
	free(p);
	p = fs_path("%s/_restore", data);
	assert_int_equal(parse_remove(p, &e), 0);
	free(p);
	/* outside DATA, up and out, not a shape the planner writes */
	assert_int_equal(parse_remove("/etc", &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "remove[0]"));
	p = fs_path("%s/../etc", data);
	assert_int_equal(parse_remove(p, &e), -EBADMSG);
	free(p);
	p = fs_path("%s/tablets/table-%s/../../catalog", data, OLDT);
	assert_int_equal(parse_remove(p, &e), -EBADMSG);
	free(p);
	p = fs_path("%s/catalog", data);
	assert_int_equal(parse_remove(p, &e), -EBADMSG);
	free(p);
	p = fs_path("%s//tablets/table-%s/tablet-%s", data, OLDT, NEWT);
	assert_int_equal(parse_remove(p, &e), -EBADMSG);
	free(p);
	/* a symlink on the way out */
	p = fs_path("%s/tablets", data);
	assert_int_equal(fs_mkdirs(p, 0755), 0);
	free(p);
	link = fs_path("%s/tablets/table-%s", data, OLDT);
	assert_int_equal(symlink("/tmp", link), 0);
	p = fs_path("%s/tablets/table-%s/tablet-%s", data, OLDT, NEWT);
	assert_int_equal(parse_remove(p, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "symlink"));
	free(p);
	unlink(link);
	free(link);
}

static void test_strict(void **state)
{
	struct journal j;
	struct errbuf e = {{0}};
	char *good = fs_path(GOOD, "/x"), *bad;

	/* an unknown field, a missing one, a wrong type */
	bad = fs_path("{\"extra\":1,%s", good + 1);
	assert_int_equal(journal_parse(bad, strlen(bad), data, &j, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "'extra': unknown"));
	free(bad);
	assert_int_equal(
	    journal_parse("{\"id\":\"" SNAP "\"}", strlen("{\"id\":\"" SNAP "\"}"), data, &j, &e),
	    -EBADMSG);
	assert_non_null(strstr(e.msg, "'cut': missing"));
	assert_int_equal(journal_parse("[1]", 3, data, &j, &e), -EBADMSG);
	assert_int_equal(journal_parse("{\"id\":", 6, data, &j, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "not JSON"));
	free(good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_plan, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_strict, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
