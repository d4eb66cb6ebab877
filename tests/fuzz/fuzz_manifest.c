/*
 * fuzz_manifest: the SNAPSHOT.json parser of backup trees
 * (snapshot/backup/manifest.c: manifest_parse) and the cut check that
 * verify and the marker restore run on what it accepts.
 *
 * Input: the file's bytes. Properties beyond "no crash, no UB, no leak":
 *   - a refusal names SNAPSHOT.json;
 *   - an accepted manifest keeps its documented invariants: hybrid time and
 *     wall time agree, tablets cover [0, 65536) in order, every tablet
 *     directory is a relative path without "." or ".." components;
 *   - it round-trips: manifest_to_json of it parses again to the same cut,
 *     ids and shape;
 *   - manifest_check_cut neither crashes nor accepts a cut the clock
 *     cannot be raised to.
 */
#include "fuzz.h"

#include "hlc.h"
#include "manifest.h"

#include <errno.h>

#define NOW_US 1795428000123456LL /* 2026-11-23T10:00:00.123456Z */

static void check_dir(const char *dir)
{
	FUZZ_CHECK(dir[0] && dir[0] != '/');
	FUZZ_CHECK(!strstr(dir, "//") && !strstr(dir, "/./") && !strstr(dir, "/../"));
	FUZZ_CHECK(strncmp(dir, "./", 2) && strncmp(dir, "../", 3));
}

static void check_same(const struct manifest *a, const struct manifest *b)
{
	FUZZ_CHECK(a->hybrid_time == b->hybrid_time && a->wall_us == b->wall_us);
	FUZZ_CHECK(!strcmp(a->id, b->id) && !strcmp(a->keyspace, b->keyspace));
	FUZZ_CHECK(a->ntables == b->ntables);
	for (size_t i = 0; i < a->ntables; i++) {
		const struct manifest_table *x = &a->tables[i], *y = &b->tables[i];

		FUZZ_CHECK(!strcmp(x->id, y->id) && !strcmp(x->name, y->name));
		FUZZ_CHECK(x->ntablets == y->ntablets);
		for (size_t t = 0; t < x->ntablets; t++) {
			FUZZ_CHECK(!strcmp(x->tablets[t].id, y->tablets[t].id));
			FUZZ_CHECK(x->tablets[t].nfiles == y->tablets[t].nfiles);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m, again;
	struct errbuf e = {{0}};
	char *json = NULL;
	int rc = manifest_parse((const char *)data, size, &m, &e);

	if (rc) {
		FUZZ_CHECK(rc == -EBADMSG && !strncmp(e.msg, "SNAPSHOT.json", 13));
		return 0;
	}
	FUZZ_CHECK(hlc_physical_us(m.hybrid_time) == m.wall_us);
	for (size_t i = 0; i < m.ntables; i++) {
		const struct manifest_table *t = &m.tables[i];

		FUZZ_CHECK(t->ntablets > 0 && t->tablets[0].start == 0);
		FUZZ_CHECK(t->tablets[t->ntablets - 1].end == 65536);
		for (size_t k = 0; k < t->ntablets; k++) {
			char *dir = manifest_tablet_dir(&m, t, &t->tablets[k]);

			check_dir(dir);
			free(dir);
			FUZZ_CHECK(t->tablets[k].start < t->tablets[k].end);
			if (k)
				FUZZ_CHECK(t->tablets[k].start == t->tablets[k - 1].end);
		}
	}
	rc = manifest_check_cut(&m, NOW_US, 1, NULL);
	FUZZ_CHECK(rc == 0 || m.hybrid_time > HLC_RAISE_MAX);
	FUZZ_CHECK(manifest_to_json(&m, &json) == 0);
	rc = manifest_parse(json, strlen(json), &again, &e);
	if (rc)
		fprintf(stderr, "round trip refused: %s\n", e.msg);
	FUZZ_CHECK(rc == 0);
	check_same(&m, &again);
	manifest_release(&again);
	free(json);
	manifest_release(&m);
	return 0;
}
