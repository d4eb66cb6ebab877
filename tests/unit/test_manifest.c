/*
 * test_manifest: SNAPSHOT.json, SHA256SUMS, the hash cache and the backup
 * tree verifier (snapshot/backup/manifest.h). Every refusal is a test case: a good
 * tree is built in a temporary directory, damaged on purpose, and the
 * verifier must name the file at fault (STYLE.md 11).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "hash.h"
#include "hashcache.h"
#include "hlc.h"
#include "manifest.h"

#define SNAP_ID "0123456789abcdef0123456789abcdef"
#define TABLE_ID "11111111111111111111111111111111"
#define NTABLETS 3
#define NFILES 4

static const char *const tablet_ids[NTABLETS] = {
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "cccccccccccccccccccccccccccccccc",
};
static const uint32_t bounds[NTABLETS + 1] = {0, 21845, 43690, 65536};
static const char *const file_names[NFILES] = {"000012.sst", "CURRENT", "MANIFEST-000005",
					       "OPTIONS-000007"};
static const uint64_t file_sizes[NFILES] = {300000, 16, 1000, 5000};

struct fixture {
	char root[64]; /* a temporary directory */
	char *tree;    /* root/snap: a good backup tree */
	struct manifest m;
};

/* ---- helpers ---- */

static void make_manifest(struct manifest *m)
{
	struct manifest_table *t;

	memset(m, 0, sizeof(*m));
	m->format_version = MANIFEST_FORMAT_VERSION;
	strcpy(m->id, SNAP_ID);
	m->wall_us = 1795428000123456LL; /* 2026-11-23T10:00:00.123456Z */
	m->hybrid_time = ((uint64_t)m->wall_us << 12) | 7;
	m->keyspace = xstrdup("ks");
	m->ntables = 1;
	m->tables = xcalloc(1, sizeof(*m->tables));
	t = &m->tables[0];
	strcpy(t->id, TABLE_ID);
	t->name = xstrdup("t");
	t->ntablets = NTABLETS;
	t->tablets = xcalloc(NTABLETS, sizeof(*t->tablets));
	for (int i = 0; i < NTABLETS; i++) {
		struct manifest_tablet *tb = &t->tablets[i];

		strcpy(tb->id, tablet_ids[i]);
		tb->start = bounds[i];
		tb->end = bounds[i + 1];
		tb->nfiles = NFILES;
		tb->files = xcalloc(NFILES, sizeof(*tb->files));
		for (int j = 0; j < NFILES; j++) {
			tb->files[j].name = xstrdup(file_names[j]);
			tb->files[j].size = file_sizes[j] + (uint64_t)i;
		}
	}
}

static void write_bytes(const char *path, size_t size, unsigned seed)
{
	unsigned char *buf = xmalloc(size);
	uint32_t x = seed * 2654435761u + 1;

	for (size_t i = 0; i < size; i++) {
		x = x * 1664525u + 1013904223u;
		buf[i] = (unsigned char)(x >> 24);
	}
	assert_int_equal(fs_write_atomic(path, buf, size, 0644), 0);
	free(buf);
}

static void write_text(const char *path, const char *text)
{
	assert_int_equal(fs_write_atomic(path, text, strlen(text), 0644), 0);
}

static char *read_text(const char *path)
{
	char *text = NULL;

	assert_int_equal(fs_read_all(path, 1u << 26, &text, NULL), 0);
	return text;
}

/* Rewrites tree/SHA256SUMS over every regular file of the tree (as the
 * snapshot code does), so that an edit elsewhere looks consistent. */
static void rewrite_sums(const char *tree, const struct manifest *m)
{
	struct sums_entry ents[NTABLETS * NFILES + 1];
	size_t n = 0;

	for (size_t i = 0; i < m->tables[0].ntablets; i++) {
		const struct manifest_tablet *tb = &m->tables[0].tablets[i];
		char *dir = manifest_tablet_dir(m, &m->tables[0], tb);

		for (size_t j = 0; j < tb->nfiles; j++) {
			char *abs;

			ents[n].path = fs_path("%s/%s", dir, tb->files[j].name);
			abs = fs_path("%s/%s", tree, ents[n].path);
			assert_int_equal(sums_hash_file(abs, ents[n].hex), 0);
			free(abs);
			n++;
		}
		free(dir);
	}
	{
		char *abs = fs_path("%s/SNAPSHOT.json", tree);

		ents[n].path = xstrdup("SNAPSHOT.json");
		assert_int_equal(sums_hash_file(abs, ents[n].hex), 0);
		free(abs);
		n++;
	}
	assert_int_equal(sums_write(tree, ents, n), 0);
	for (size_t i = 0; i < n; i++)
		free(ents[i].path);
}

static void build_tree(const char *tree, const struct manifest *m)
{
	char *json = NULL, *path;

	for (size_t i = 0; i < m->tables[0].ntablets; i++) {
		const struct manifest_tablet *tb = &m->tables[0].tablets[i];
		char *rel = manifest_tablet_dir(m, &m->tables[0], tb);
		char *dir = fs_path("%s/%s", tree, rel);

		assert_int_equal(fs_mkdirs(dir, 0755), 0);
		for (size_t j = 0; j < tb->nfiles; j++) {
			path = fs_path("%s/%s", dir, tb->files[j].name);
			write_bytes(path, tb->files[j].size, (unsigned)(i * 16 + j));
			free(path);
		}
		free(dir);
		free(rel);
	}
	assert_int_equal(manifest_to_json(m, &json), 0);
	path = fs_path("%s/SNAPSHOT.json", tree);
	write_text(path, json);
	free(path);
	free(json);
	rewrite_sums(tree, m);
}

static char *tpath(const struct fixture *f, const char *rel)
{
	return fs_path("%s/%s", f->tree, rel);
}

/* "ks/t/tablet-<tablet i>/<file j>" */
static char *file_rel(int i, int j)
{
	return fs_path("ks/t/tablet-%s/%s", tablet_ids[i], file_names[j]);
}

/* Replaces the first occurrence of from by to in a malloc'ed string. */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *at = strstr(s, from);

	if (!at)
		fail_msg("'%s' not found in the text", from);
	return fs_path("%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
}

static void expect_verify(struct fixture *f, int want_rc, const char *want_msg)
{
	struct errbuf e = {{0}};
	struct manifest m;
	int rc = manifest_verify_tree(f->tree, &m, &e);

	if (rc != want_rc || !strstr(e.msg, want_msg))
		fail_msg("verify: rc %d (want %d), message '%s' (want '%s')", rc, want_rc, e.msg,
			 want_msg);
	assert_null(m.keyspace); /* not filled on failure */
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	strcpy(f->root, "/tmp/test_manifest.XXXXXX");
	assert_non_null(mkdtemp(f->root));
	f->tree = fs_path("%s/snap", f->root);
	make_manifest(&f->m);
	build_tree(f->tree, &f->m);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	fs_remove_tree(f->root);
	manifest_release(&f->m);
	free(f->tree);
	free(f);
	return 0;
}

/* ---- SNAPSHOT.json ---- */

static void test_json_round_trip(void **state)
{
	struct fixture *f = *state;
	struct errbuf e = {{0}};
	struct manifest m;
	char *json = NULL, *again = NULL;

	assert_int_equal(manifest_to_json(&f->m, &json), 0);
	assert_non_null(strstr(json, "\"wall_time\": \"2026-11-23T10:00:00.123456Z\""));
	assert_non_null(strstr(json, "\"dir\": \"ks/t/tablet-"
				     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""));
	assert_non_null(strstr(json, "\"partitioning\": \"hash16\""));
	assert_int_equal(manifest_parse(json, strlen(json), &m, &e), 0);
	assert_int_equal(m.format_version, 1);
	assert_string_equal(m.id, SNAP_ID);
	assert_true(m.hybrid_time == f->m.hybrid_time);
	assert_true(m.wall_us == f->m.wall_us);
	assert_string_equal(m.keyspace, "ks");
	assert_int_equal(m.ntables, 1);
	assert_string_equal(m.tables[0].name, "t");
	assert_int_equal(m.tables[0].ntablets, NTABLETS);
	assert_int_equal(m.tables[0].tablets[2].start, 43690);
	assert_int_equal(m.tables[0].tablets[2].end, 65536);
	assert_string_equal(m.tables[0].tablets[1].files[3].name, "OPTIONS-000007");
	assert_true(m.tables[0].tablets[1].files[3].size == 5001);
	assert_int_equal(manifest_to_json(&m, &again), 0);
	assert_string_equal(json, again);
	manifest_release(&m);
	free(again);
	free(json);
}

static void expect_reject(const char *json, const char *want)
{
	struct errbuf e = {{0}};
	struct manifest m;
	int rc = manifest_parse(json, strlen(json), &m, &e);

	if (rc != -EBADMSG || !strstr(e.msg, want))
		fail_msg("parse: rc %d, message '%s' (want '%s')", rc, e.msg, want);
	assert_null(m.tables);
}

/* Parses good JSON with from replaced by to, expecting a refusal. */
static void expect_mutation_rejected(const char *good, const char *from, const char *to,
				     const char *want)
{
	char *bad = replace(good, from, to);

	expect_reject(bad, want);
	free(bad);
}

/* Issue 11, item 2: the cut is checked. hybrid_time must agree with
 * wall_time; a cut the clock cannot be raised to is refused always, one
 * more than MANIFEST_CUT_AHEAD_US ahead of the local clock unless the
 * operator allows it. */
static void test_cut_checks(void **state)
{
	struct fixture *f = *state;
	int64_t now = f->m.wall_us; /* "now" is the cut's own time */
	struct manifest m;
	struct errbuf e = {{0}};
	char *good = NULL, *bad;

	assert_int_equal(manifest_to_json(&f->m, &good), 0);
	/* one side edited: 2^64 - 2 with the wall time left alone */
	bad = replace(good, "\"hybrid_time\": 7354073088505675783",
		      "\"hybrid_time\": 18446744073709551614");
	expect_reject(bad, "SNAPSHOT.json: hybrid_time: 18446744073709551614 does not agree with "
			   "wall_time '2026-11-23T10:00:00.123456Z'");
	free(bad);
	bad = replace(good, "\"hybrid_time\": 7354073088505675783",
		      "\"hybrid_time\": 7354073088505679879"); /* one µs later */
	expect_reject(bad, "hybrid_time: 7354073088505679879 does not agree with wall_time");
	free(bad);
	bad = replace(good, "\"wall_time\": \"2026-11-23T10:00:00.123456Z\"",
		      "\"wall_time\": \"2026-11-23T10:00:00.123457Z\"");
	expect_reject(bad, "hybrid_time: 7354073088505675783 does not agree with wall_time");
	free(bad);

	/* both sides edited to agree: the parse passes, the cut check refuses */
	f->m.hybrid_time = UINT64_MAX - 1;
	f->m.wall_us = hlc_physical_us(f->m.hybrid_time);
	free(good);
	assert_int_equal(manifest_to_json(&f->m, &good), 0);
	assert_non_null(strstr(good, "\"wall_time\": \"2112-09-17T23:53:47.370495Z\""));
	assert_int_equal(manifest_parse(good, strlen(good), &m, &e), 0);
	assert_int_equal(manifest_check_cut(&m, now, 0, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "SNAPSHOT.json: hybrid_time: 18446744073709551614"));
	assert_non_null(strstr(e.msg, "beyond the hybrid clock's range"));
	/* even when the operator allows a cut in the future */
	assert_int_equal(manifest_check_cut(&m, now, 1, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "beyond the hybrid clock's range"));
	manifest_release(&m);

	/* a cut in 2106: refused, unless allowed */
	m.hybrid_time = hlc_from_us(4294967296LL * 1000000) | 3; /* 2106-02-07T06:28:16Z */
	e.msg[0] = '\0';
	assert_int_equal(manifest_check_cut(&m, now, 0, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "SNAPSHOT.json: hybrid_time: 2106-02-07T06:28:16.000000Z"));
	assert_non_null(strstr(e.msg, "ahead of this machine's clock"));
	assert_non_null(strstr(e.msg, "SNAPFS_ALLOW_FUTURE_CUT=1"));
	assert_int_equal(manifest_check_cut(&m, now, 1, NULL), 0);
	/* the bound: 5 minutes ahead passes, a microsecond more does not */
	m.hybrid_time = hlc_from_us(now + MANIFEST_CUT_AHEAD_US);
	assert_int_equal(manifest_check_cut(&m, now, 0, NULL), 0);
	m.hybrid_time = hlc_from_us(now + MANIFEST_CUT_AHEAD_US + 1);
	assert_int_equal(manifest_check_cut(&m, now, 0, NULL), -EBADMSG);
	/* a cut in the past is the normal case */
	m.hybrid_time = hlc_from_us(now - 86400LL * 1000000);
	assert_int_equal(manifest_check_cut(&m, now, 0, NULL), 0);
	/* a tablet's newest version is checked the same way */
	assert_int_equal(
	    manifest_check_time("tablet 'ks/t/tablet-x': newest version", UINT64_MAX, now, 1, &e),
	    -EBADMSG);
	assert_non_null(
	    strstr(e.msg, "tablet 'ks/t/tablet-x': newest version: 18446744073709551615"));
	free(good);
}

static void test_json_rejects(void **state)
{
	struct fixture *f = *state;
	char *good = NULL;

	assert_int_equal(manifest_to_json(&f->m, &good), 0);
	expect_mutation_rejected(good, "\"snapshot_id\": \"0123", "\"snapshot_id\": \"X123",
				 "SNAPSHOT.json: snapshot_id: not an id");
	expect_mutation_rejected(good, "\"id\": \"bbbb", "\"id\": \"bbb",
				 "SNAPSHOT.json: tables[0].tablets[1].id: not an id");
	expect_mutation_rejected(good, "\"name\": \"t\"", "\"name\": \"t/x\"",
				 "SNAPSHOT.json: tables[0].name: not a valid name");
	expect_mutation_rejected(good, "\"keyspace\": \"ks\"", "\"keyspace\": \"\"",
				 "SNAPSHOT.json: keyspace: empty");
	expect_mutation_rejected(good, "\"start\": 43690", "\"start\": 43691",
				 "SNAPSHOT.json: tables[0].tablets[2].partition: not contiguous");
	expect_mutation_rejected(good, "\"end\": 65536", "\"end\": 65535",
				 "tables[0].tablets[2].partition: does not end at 65536");
	expect_mutation_rejected(good, "\"start\": 0", "\"start\": 1",
				 "tables[0].tablets[0].partition: does not start at 0");
	expect_mutation_rejected(
	    good, "\"name\": \"CURRENT\"", "\"name\": \"..\"",
	    "SNAPSHOT.json: tables[0].tablets[0].files[1].name: not a file name");
	expect_mutation_rejected(good, "\"name\": \"CURRENT\"", "\"name\": \"a/b\"",
				 "files[1].name: contains '/'");
	expect_mutation_rejected(good, "\"name\": \"CURRENT\"", "\"name\": \"a\\u0000b\"",
				 "files[1].name: contains a NUL byte");
	expect_mutation_rejected(good, "\"name\": \"CURRENT\"", "\"name\": \"000012.sst\"",
				 "tables[0].tablets[0].files: file '000012.sst' listed twice");
	expect_mutation_rejected(good, "\"size\": 300000", "\"size\": 1125899906842625",
				 "tables[0].tablets[0].files[0].size: out of range");
	expect_mutation_rejected(good, "\"size\": 300000", "\"size\": -1",
				 "files[0].size: negative");
	expect_mutation_rejected(good, "\"size\": 300000", "\"size\": 3.5",
				 "files[0].size: must be an integer");
	expect_mutation_rejected(good, "\"size\": 300000", "\"size\": \"300000\"",
				 "files[0].size: must be an integer");
	expect_mutation_rejected(good, "\"format_version\": 1", "\"format_version\": 2",
				 "SNAPSHOT.json: format_version: unsupported version 2");
	expect_mutation_rejected(good, "\"wall_time\": \"2026-11-23", "\"wall_time\": \"2026-02-30",
				 "SNAPSHOT.json: wall_time: not an RFC 3339");
	expect_mutation_rejected(good, "\"partitioning\": \"hash16\"",
				 "\"partitioning\": \"range\"",
				 "tables[0].schema.partitioning: unsupported 'range'");
	expect_mutation_rejected(good, "\"dir\": \"ks/t/", "\"dir\": \"../t/",
				 "tables[0].tablets[0].dir: not 'ks/t/tablet-");
	{
		/* a tablet id used twice (its dir made to agree) */
		char *a = replace(good, "\"id\": \"cccccccccccccccccccccccccccccccc\"",
				  "\"id\": \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"");
		char *b = replace(a, "tablet-cccccccccccccccccccccccccccccccc",
				  "tablet-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");

		expect_reject(b, "SNAPSHOT.json: tables[0].tablets[2].id: "
				 "'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' used twice");
		free(b);
		free(a);
	}
	expect_mutation_rejected(good, "\"hybrid_time\"", "\"hybrid_tim\"",
				 "SNAPSHOT.json: hybrid_time: missing");
	expect_reject("{ not json", "SNAPSHOT.json: not JSON");
	expect_reject("", "SNAPSHOT.json: not JSON");
	expect_reject("[1, 2]", "SNAPSHOT.json: not a JSON object");
	expect_reject("{\"a\": 1} {}", "SNAPSHOT.json: not JSON");
	expect_reject("{\"a\": 1,}", "SNAPSHOT.json: not JSON");
	expect_reject("{}", "SNAPSHOT.json: format_version: missing");
	{
		/* deep nesting stops in the tokenizer, not on the stack */
		char deep[4096];

		memset(deep, '[', sizeof(deep) - 1);
		deep[sizeof(deep) - 1] = '\0';
		expect_reject(deep, "SNAPSHOT.json: not JSON");
	}
	{
		/* unknown keys are tolerated */
		char *more = replace(good, "{", "{ \"comment\": \"from a newer snapfs\",");
		struct errbuf e = {{0}};
		struct manifest m;

		assert_int_equal(manifest_parse(more, strlen(more), &m, &e), 0);
		manifest_release(&m);
		free(more);
	}
	free(good);
}

/* ---- SHA256SUMS ---- */

#define HEX_A "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define HEX_B "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static void test_sums_round_trip(void **state)
{
	struct fixture *f = *state;
	struct sums_entry ents[3] = {{xstrdup("ks/t/b"), HEX_A},
				     {xstrdup("SNAPSHOT.json"), HEX_B},
				     {xstrdup("ks/a b"), HEX_A}};
	struct sums_entry *back = NULL;
	struct errbuf e = {{0}};
	char *path = fs_path("%s/SHA256SUMS", f->root), *text;
	size_t n = 0;

	assert_int_equal(sums_write(f->root, ents, 3), 0);
	text = read_text(path);
	assert_string_equal(text, HEX_B "  SNAPSHOT.json\n" HEX_A "  ks/a b\n" HEX_A "  ks/t/b\n");
	assert_int_equal(sums_parse(text, strlen(text), &back, &n, &e), 0);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(back[i].path, ents[i].path); /* both sorted */
		assert_string_equal(back[i].hex, ents[i].hex);
	}
	sums_free(back, n);
	/* the binary marker form and a missing final newline */
	assert_int_equal(sums_parse(HEX_A " *x/y", strlen(HEX_A " *x/y"), &back, &n, &e), 0);
	assert_int_equal(n, 1);
	assert_string_equal(back[0].path, "x/y");
	sums_free(back, n);
	/* writing refuses what parsing would refuse */
	free(ents[0].path);
	ents[0].path = xstrdup("../x");
	assert_int_equal(sums_write(f->root, ents, 3), -EINVAL);
	free(ents[0].path);
	ents[0].path = xstrdup("ks/a b");
	assert_int_equal(sums_write(f->root, ents, 3), -EINVAL); /* duplicate */
	for (int i = 0; i < 3; i++)
		free(ents[i].path);
	free(text);
	free(path);
}

static void expect_sums_reject(const char *text, const char *want)
{
	struct sums_entry *ents = NULL;
	struct errbuf e = {{0}};
	size_t n = 7;
	int rc = sums_parse(text, strlen(text), &ents, &n, &e);

	if (rc != -EBADMSG || !strstr(e.msg, want))
		fail_msg("sums_parse: rc %d, message '%s' (want '%s')", rc, e.msg, want);
	assert_null(ents);
	assert_int_equal(n, 0);
}

static void test_sums_rejects(void **state)
{
	char *long_line = fs_path(HEX_A "  %05000d\n", 1);

	(void)state;
	expect_sums_reject(HEX_A "  a\n" HEX_B "  ../etc/passwd\n",
			   "SHA256SUMS: line 2: path '../etc/passwd': '..' component in path");
	expect_sums_reject(HEX_A "  a/../../b\n", "line 1: path 'a/../../b': '..' component");
	expect_sums_reject(HEX_A "  /etc/passwd\n", "line 1: path '/etc/passwd': absolute path");
	expect_sums_reject(HEX_A "  ./a\n", "'.' component in path");
	expect_sums_reject(HEX_A "  a//b\n", "empty path component");
	expect_sums_reject(HEX_A "  a/\n", "empty path component");
	expect_sums_reject(HEX_A "  a\n" HEX_B "  b\n" HEX_B "  a\n",
			   "SHA256SUMS: path 'a': listed twice");
	expect_sums_reject("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD  a\n",
			   "line 1: bad checksum");
	expect_sums_reject("ba7816bf  a\n", "line 1: malformed");
	expect_sums_reject(HEX_A " a\n", "line 1: malformed");
	expect_sums_reject("\\" HEX_A "  a\\nb\n", "line 1: escaped file name not supported");
	expect_sums_reject(HEX_A "  a\r\n", "line 1: control character in path");
	expect_sums_reject(HEX_A "  a\n\n", "line 2: empty");
	expect_sums_reject(long_line, "line 1: longer than 4096 bytes");
	free(long_line);
}

static void test_sums_sha256sum_tool(void **state)
{
	struct fixture *f = *state;
	char *cmd = fs_path("cd '%s' && sha256sum --strict --quiet -c SHA256SUMS", f->tree);
	char *sst = tpath(f, "ks/t/tablet-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/000012.sst");
	char *text = tpath(f, "SHA256SUMS"), *sums;
	int fd, lines = 0;

	assert_int_equal(system(cmd), 0);
	/* every file but SHA256SUMS itself is listed */
	sums = read_text(text);
	for (char *p = sums; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, NTABLETS * NFILES + 1);
	/* and the tool does see damage */
	fd = open(sst, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "x", 1, 1000), 1);
	close(fd);
	free(cmd);
	cmd =
	    fs_path("cd '%s' && sha256sum --strict --quiet -c SHA256SUMS >/dev/null 2>&1", f->tree);
	assert_int_not_equal(system(cmd), 0);
	free(sums);
	free(text);
	free(sst);
	free(cmd);
}

/* ---- the hash cache ---- */

static int count_char(const char *s, char c)
{
	int n = 0;

	for (; *s; s++)
		n += *s == c;
	return n;
}

static uint64_t hc_hashed(struct hashcache *hc)
{
	uint64_t hits, hashed;

	hashcache_stats(hc, &hits, &hashed);
	return hashed;
}

static void test_hashcache(void **state)
{
	struct fixture *f = *state;
	char *cache = fs_path("%s/hashcache", f->root);
	char *sst = tpath(f, "ks/t/tablet-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/000012.sst");
	char *current = tpath(f, "ks/t/tablet-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/CURRENT");
	char *link = tpath(f, "link.sst");
	char first[65], h[65], real[65];
	struct hashcache *hc = NULL;
	struct errbuf e = {{0}};
	struct stat st;
	struct timespec ts[2];
	char *text;
	int fd;

	assert_int_equal(hashcache_open(&hc, cache, f->root, &e), 0); /* missing = empty */
	assert_int_equal(hashcache_get(hc, sst, first), 0);
	assert_int_equal(sums_hash_file(sst, real), 0);
	assert_string_equal(first, real);
	assert_int_equal(hc_hashed(hc), 1);
	assert_int_equal(hashcache_get(hc, sst, h), 0); /* the same file: a hit */
	assert_string_equal(h, first);
	assert_int_equal(hc_hashed(hc), 1);

	/* CURRENT and the other copied files are hashed every time */
	assert_int_equal(hashcache_get(hc, current, h), 0);
	assert_int_equal(hashcache_get(hc, current, h), 0);
	assert_int_equal(hc_hashed(hc), 3);

	/* Rewritten in place with the same size: the mtime moves, so the key
	 * does; hashed again, never the old digest. */
	assert_int_equal(stat(sst, &st), 0);
	fd = open(sst, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "changed", 7, 0), 7);
	/* ...and even with the old mtime put back (same inode, size, mtime):
	 * the fingerprint of the first and last 4 KiB tells them apart */
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	assert_int_equal(futimens(fd, ts), 0);
	close(fd);
	assert_int_equal(sums_hash_file(sst, real), 0);
	assert_string_not_equal(real, first);
	assert_int_equal(hashcache_get(hc, sst, h), 0);
	assert_string_equal(h, real);
	assert_int_equal(hc_hashed(hc), 4);

	/* a new file under the old name (the inode may come back): never the
	 * old digest */
	assert_int_equal(unlink(sst), 0);
	write_bytes(sst, 300000, 99);
	assert_int_equal(sums_hash_file(sst, real), 0);
	assert_int_equal(hashcache_get(hc, sst, h), 0);
	assert_string_equal(h, real);

	/* symlinks are refused */
	assert_int_equal(symlink(sst, link), 0);
	assert_int_equal(hashcache_get(hc, link, h), -EINVAL);
	assert_int_equal(hashcache_save(hc), 0);
	hashcache_free(hc);

	/* survives save and reopen: a hit */
	assert_int_equal(hashcache_open(&hc, cache, f->root, &e), 0);
	assert_int_equal(hashcache_get(hc, sst, h), 0);
	assert_string_equal(h, real);
	assert_int_equal(hc_hashed(hc), 0);
	hashcache_free(hc);

	/* only the SST was saved, once */
	text = read_text(cache);
	assert_non_null(strstr(text, "snapfs-hashcache 2\n"));
	assert_non_null(strstr(text, "/000012.sst\n"));
	assert_null(strstr(text, "CURRENT"));
	assert_int_equal(count_char(text, '\n'), 2); /* the magic and one entry */
	free(text);

	/* a file that has gone is dropped at open and at save */
	assert_int_equal(unlink(sst), 0);
	assert_int_equal(hashcache_open(&hc, cache, f->root, &e), 0);
	assert_int_equal(hashcache_save(hc), 0);
	hashcache_free(hc);
	text = read_text(cache);
	assert_string_equal(text, "snapfs-hashcache 2\n");
	free(text);

	/* the first format is dropped, never trusted */
	write_bytes(sst, 300000, 5);
	assert_int_equal(sums_hash_file(sst, real), 0);
	text = fs_path("snapfs-hashcache 1\n0000000000000000 %s 1 2 3 t 000012.sst\n", first);
	write_text(cache, text);
	free(text);
	assert_int_equal(hashcache_open(&hc, cache, f->root, &e), 0);
	assert_int_equal(hashcache_get(hc, sst, h), 0);
	assert_string_equal(h, real);
	assert_int_equal(hc_hashed(hc), 1);
	assert_int_equal(hashcache_save(hc), 0);
	hashcache_free(hc);

	/* a damaged entry refuses the open, naming the file and the line */
	text = read_text(cache);
	{
		size_t at = strcspn(text, "\n") + 1 + 17; /* the digest of line 2 */

		text[at] = text[at] == '0' ? '1' : '0';
	}
	write_text(cache, text);
	free(text);
	assert_int_equal(hashcache_open(&hc, cache, f->root, &e), -EBADMSG);
	assert_null(hc);
	assert_non_null(strstr(e.msg, cache));
	assert_non_null(strstr(e.msg, "line 2: malformed"));
	write_text(cache, "not a cache\n");
	assert_int_equal(hashcache_open(&hc, cache, f->root, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "line 1"));

	free(link);
	free(current);
	free(sst);
	free(cache);
}

/* The parser alone: every field strict. */
static void test_hashcache_parse(void **state)
{
	static const char *const bad[] = {
	    "snapfs-hashcache 2\nx\n", "snapfs-hashcache 2\n", /* a good one, below */
	};
	struct hc_record *v = NULL;
	struct errbuf e = {{0}};
	size_t n = 9;
	int old = 0;
	char body[512], line[600];
	const char *hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

	(void)state;
	assert_int_equal(hashcache_parse(bad[0], strlen(bad[0]), &v, &n, &old, &e), -EBADMSG);
	assert_int_equal(hashcache_parse(bad[1], strlen(bad[1]), &v, &n, &old, &e), 0);
	assert_int_equal(n, 0);
	snprintf(body, sizeof(body), "%s 2049 12 7 300000 1795428000123456789 0123456789abcdef %s",
		 hex, "tablets/table-x/tablet-y/000012.sst");
	snprintf(line, sizeof(line), "snapfs-hashcache 2\n%016llx %s\n",
		 (unsigned long long)fnv1a64(FNV1A64_SEED, body, strlen(body)), body);
	assert_int_equal(hashcache_parse(line, strlen(line), &v, &n, &old, &e), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].ino, 12);
	assert_int_equal(v[0].gen, 7);
	assert_string_equal(v[0].rel, "tablets/table-x/tablet-y/000012.sst");
	hc_records_free(v, n);
	/* no newline at the end: a torn file is not trusted */
	assert_int_equal(hashcache_parse(line, strlen(line) - 1, &v, &n, &old, &e), -EBADMSG);
	assert_non_null(strstr(e.msg, "line 2"));
	/* a path leaving the root, or naming something else than an SST */
	for (int i = 0; i < 3; i++) {
		const char *rel[] = {"../x/000012.sst", "/etc/000012.sst", "a/CURRENT"};

		snprintf(body, sizeof(body), "%s 1 2 3 4 5 0123456789abcdef %s", hex, rel[i]);
		snprintf(line, sizeof(line), "snapfs-hashcache 2\n%016llx %s\n",
			 (unsigned long long)fnv1a64(FNV1A64_SEED, body, strlen(body)), body);
		assert_int_equal(hashcache_parse(line, strlen(line), &v, &n, &old, &e), -EBADMSG);
	}
}

struct hc_thread {
	struct hashcache *hc;
	struct fixture *f;
	int bad;
};

static void *hc_thread(void *arg)
{
	struct hc_thread *a = arg;

	for (int round = 0; round < 3; round++)
		for (int i = 0; i < NTABLETS; i++)
			for (int j = 0; j < NFILES; j++) {
				char *rel = file_rel(i, j), *path = tpath(a->f, rel);
				char h[65], real[65];

				if (hashcache_get(a->hc, path, h) || sums_hash_file(path, real) ||
				    strcmp(h, real))
					a->bad++;
				free(path);
				free(rel);
			}
	return NULL;
}

static void test_hashcache_threads(void **state)
{
	struct fixture *f = *state;
	char *cache = fs_path("%s/hashcache", f->root);
	struct hc_thread args[4];
	pthread_t tids[4];
	struct hashcache *hc = NULL;

	assert_int_equal(hashcache_open(&hc, cache, f->root, NULL), 0);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct hc_thread){hc, f, 0};
		assert_int_equal(pthread_create(&tids[i], NULL, hc_thread, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(tids[i], NULL);
		assert_int_equal(args[i].bad, 0);
	}
	assert_int_equal(hashcache_save(hc), 0);
	hashcache_free(hc);
	free(cache);
}

/* ---- verifying a backup tree ---- */

static void test_verify_good(void **state)
{
	struct fixture *f = *state;
	struct errbuf e = {{0}};
	struct manifest m;

	assert_int_equal(manifest_verify_tree(f->tree, &m, &e), 0);
	assert_string_equal(m.keyspace, "ks");
	assert_int_equal(m.tables[0].ntablets, NTABLETS);
	manifest_release(&m);
	assert_int_equal(manifest_verify_tree(f->tree, NULL, &e), 0);
}

static void test_verify_flipped_byte(void **state)
{
	struct fixture *f = *state;
	char *rel = file_rel(1, 0), *path = tpath(f, rel), *want;
	char *rel2 = file_rel(2, 2), *path2 = tpath(f, rel2);
	int fd;

	/* two damaged files: the smaller path is named, every time */
	fd = open(path2, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xff", 1, 10), 1);
	close(fd);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "\xff", 1, 123456), 1);
	close(fd);
	want = fs_path("file '%s': checksum mismatch", rel);
	expect_verify(f, -EBADMSG, want);
	expect_verify(f, -EBADMSG, want);
	free(want);
	free(path2);
	free(rel2);
	free(path);
	free(rel);
}

static void test_verify_truncated(void **state)
{
	struct fixture *f = *state;
	char *rel = file_rel(2, 0), *path = tpath(f, rel), *want;

	assert_int_equal(truncate(path, 1000), 0);
	want = fs_path("file '%s': truncated (1000 of 300002 bytes)", rel);
	expect_verify(f, -EBADMSG, want);
	free(want);
	free(path);
	free(rel);
}

static void test_verify_missing(void **state)
{
	struct fixture *f = *state;
	char *rel = file_rel(0, 1), *path = tpath(f, rel), *want;

	assert_int_equal(unlink(path), 0);
	want = fs_path("file '%s': missing", rel);
	expect_verify(f, -ENOENT, want);
	free(want);
	free(path);
	free(rel);

	path = tpath(f, "SHA256SUMS");
	assert_int_equal(unlink(path), 0);
	expect_verify(f, -ENOENT, "file 'SHA256SUMS': missing");
	free(path);
}

static void test_verify_extra(void **state)
{
	struct fixture *f = *state;
	char *path = tpath(f, "ks/t/tablet-cccccccccccccccccccccccccccccccc/000099.sst");

	write_text(path, "stray");
	expect_verify(f, -EBADMSG,
		      "file 'ks/t/tablet-cccccccccccccccccccccccccccccccc/000099.sst': "
		      "not listed in SHA256SUMS");
	/* listed, but not part of the snapshot */
	rewrite_sums(f->tree, &f->m);
	{
		char *sums_path = tpath(f, "SHA256SUMS"), *text = read_text(sums_path), *more;
		char hex[65];

		assert_int_equal(sums_hash_file(path, hex), 0);
		more = fs_path("%s%s  ks/t/tablet-cccccccccccccccccccccccccccccccc/000099.sst\n",
			       text, hex);
		write_text(sums_path, more);
		expect_verify(f, -EBADMSG,
			      "file 'ks/t/tablet-cccccccccccccccccccccccccccccccc/000099.sst': "
			      "not in SNAPSHOT.json");
		free(more);
		free(text);
		free(sums_path);
	}
	free(path);
}

static void test_verify_manifest_altered(void **state)
{
	struct fixture *f = *state;
	char *path = tpath(f, "SNAPSHOT.json"), *good = read_text(path), *bad;

	/* altered alone: its digest no longer matches */
	bad = replace(good, "\"size\": 1000", "\"size\": 1001");
	write_text(path, bad);
	expect_verify(f, -EBADMSG, "file 'SNAPSHOT.json': checksum mismatch");

	/* altered with SHA256SUMS edited to match: the sizes give it away */
	rewrite_sums(f->tree, &f->m);
	{
		char *rel = file_rel(0, 2);
		char *want = fs_path("file '%s': truncated (1000 of 1001 bytes)", rel);

		expect_verify(f, -EBADMSG, want);
		free(want);
		free(rel);
	}
	free(bad);

	/* a file dropped from the list */
	bad = replace(good, "\"name\": \"OPTIONS-000007\"", "\"name\": \"OPTIONS-000008\"");
	write_text(path, bad);
	rewrite_sums(f->tree, &f->m);
	{
		char *rel = file_rel(0, 3), *want = fs_path("file '%s': not in SNAPSHOT.json", rel);

		expect_verify(f, -EBADMSG, want);
		free(want);
		free(rel);
	}
	free(bad);

	/* or it no longer parses */
	bad = replace(good, "\"start\": 21845", "\"start\": 21846");
	write_text(path, bad);
	rewrite_sums(f->tree, &f->m);
	expect_verify(f, -EBADMSG, "SNAPSHOT.json: tables[0].tablets[1].partition: not contiguous");
	free(bad);
	free(good);
	free(path);
}

static void test_verify_dotdot_in_sums(void **state)
{
	struct fixture *f = *state;
	char *path = tpath(f, "SHA256SUMS"), *text = read_text(path), *bad;

	bad = fs_path("%s" HEX_A "  ks/../../outside\n", text);
	write_text(path, bad);
	expect_verify(f, -EBADMSG, "SHA256SUMS: line 14: path 'ks/../../outside': '..' component");
	free(bad);
	free(text);
	free(path);
}

static void test_verify_symlink(void **state)
{
	struct fixture *f = *state;
	char *rel = file_rel(1, 1), *path = tpath(f, rel), *want;

	/* replace CURRENT by a symlink to a copy outside the tree */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/hostname", path), 0);
	want = fs_path("symlink '%s': not allowed in a backup tree", rel);
	expect_verify(f, -EBADMSG, want);
	free(want);
	free(path);
	free(rel);

	path = tpath(f, "ks/fifo");
	assert_int_equal(mkfifo(path, 0644), 0);
	expect_verify(f, -EBADMSG, "fifo 'ks/fifo': not allowed in a backup tree");
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_json_round_trip, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_json_rejects, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cut_checks, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sums_round_trip, setup, teardown),
	    cmocka_unit_test(test_sums_rejects),
	    cmocka_unit_test_setup_teardown(test_sums_sha256sum_tool, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_hashcache, setup, teardown),
	    cmocka_unit_test(test_hashcache_parse),
	    cmocka_unit_test_setup_teardown(test_hashcache_threads, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_good, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_flipped_byte, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_truncated, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_missing, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_extra, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_manifest_altered, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_dotdot_in_sums, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_symlink, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
