/*
 * rocksdb_checkpoint: the baseline of scripts/bench/snapshot — what
 * `snapfs snapshot create` does per tablet, minus snapfs: flush, then
 * rocksdb_checkpoint_create, tablet after tablet. No cut, no catalog, no
 * fsync of the checkpoint, no SNAPSHOT.json, no SHA256SUMS.
 *
 *     rocksdb_checkpoint DATA SNAPSHOT_ID OUT REPS DELTA_ROWS VALUE_SIZE SEED
 *
 * Opens the live tablets of the (one) table of snapshot SNAPSHOT_ID, in
 * partition order as its SNAPSHOT.json lists them, with the daemon of DATA
 * stopped, by tablet_open(): tablet_options() and the tablet comparator,
 * exactly as the daemon does. Then:
 *
 *   rep 0:     checkpoint of what is there (nothing new since the open)
 *   rep 1..N:  DELTA_ROWS rows written as `snapfs load --rows DELTA_ROWS
 *              --value-size VALUE_SIZE --seed SEED+rep` writes them (keys
 *              "key%010d" from 0, routed by partition, batches of 2000, one
 *              hybrid time per batch from the store's clock file), not
 *              timed; wait until no flush or compaction runs; then the
 *              timed flush + checkpoint of every tablet into
 *              OUT/rep-<r>/tablet-<i>.
 *
 * Before every timed rep it waits for the tablets to be quiet, as the
 * script does for the daemon, so that neither side is timed against a
 * compaction of its own. Prints one line per rep: "rep <r> seconds <s>".
 * OUT must not exist; it is left for the caller to remove. Built by
 * CMake into bench/ of the build directory; run by scripts/bench/snapshot.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rocksdb/c.h>

#include "errbuf.h"
#include "fsutil.h"
#include "hlc.h"
#include "manifest.h"
#include "partition.h"
#include "store.h"
#include "tablet.h"

#define BATCH 2000
#define MAX_TABLETS 64
#define QUIET_MAX_S 300

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end ? -1 : 0;
}

static uint64_t prop(struct tablet *t, const char *name)
{
	char *v = rocksdb_property_value_cf(t->db, t->cf, name);
	uint64_t n = v ? strtoull(v, NULL, 10) : 0;

	rocksdb_free(v);
	return n;
}

/* Waits until no tablet has a flush or compaction running or pending. */
static void wait_quiet(struct tablet *tabs, int n)
{
	static const char *const props[] = {
	    "rocksdb.num-running-flushes", "rocksdb.num-running-compactions",
	    "rocksdb.mem-table-flush-pending", "rocksdb.compaction-pending"};
	double t0 = now_s();

	for (;;) {
		uint64_t busy = 0;

		for (int i = 0; i < n; i++)
			for (size_t p = 0; p < sizeof(props) / sizeof(props[0]); p++)
				busy += prop(&tabs[i], props[p]);
		if (!busy || now_s() - t0 > QUIET_MAX_S)
			return;
		usleep(100 * 1000);
	}
}

/* The delta of one rep, as store_load writes it. */
static int write_delta(struct tablet *tabs, int n, struct hlc *clock, uint64_t rows, uint64_t vsize,
		       uint64_t seed, char *val, struct errbuf *e)
{
	rocksdb_writebatch_t *b[MAX_TABLETS] = {NULL};
	int rc = 0;

	for (int i = 0; i < n; i++)
		b[i] = rocksdb_writebatch_create();
	for (uint64_t done = 0; done < rows && !rc; done += BATCH) {
		uint64_t k = rows - done < BATCH ? rows - done : BATCH;
		uint64_t ts = hlc_now(clock);

		if (!ts) {
			rc = err_set(e, -EIO, "clock: cannot persist");
			break;
		}
		for (uint64_t i = done; i < done + k; i++) {
			char key[32];
			int kl = snprintf(key, sizeof(key), "key%010" PRIu64, i);
			unsigned d = partition_index((unsigned)n, partition_hash(key, (size_t)kl));

			store_load_value(seed, i, val, (uint32_t)vsize);
			tablet_batch_put(&tabs[d], b[d], key, (size_t)kl, val, vsize, ts);
		}
		for (int d = 0; d < n && !rc; d++) {
			if (rocksdb_writebatch_count(b[d]))
				rc = tablet_write(&tabs[d], b[d], e);
			rocksdb_writebatch_clear(b[d]);
		}
	}
	for (int i = 0; i < n; i++)
		rocksdb_writebatch_destroy(b[i]);
	return rc;
}

/* The live tablet dirs of the one table of snapshot sid, in partition order. */
static int tablet_dirs(const char *data, const char *sid, char **dirs, int *n, struct errbuf *e)
{
	char *path = fs_path("%s/snapshots/%s/SNAPSHOT.json", data, sid), *json = NULL;
	struct manifest m = {0};
	size_t len;
	int rc = fs_read_all(path, MANIFEST_MAX_JSON, &json, &len);

	if (rc)
		err_set(e, rc, "metadata '%s': %s", path, strerror(-rc));
	else
		rc = manifest_parse(json, len, &m, e);
	if (!rc && (m.ntables != 1 || m.tables[0].ntablets > MAX_TABLETS)) {
		rc = err_set(e, -EINVAL, "snapshot '%s': not one table of at most %d tablets", sid,
			     MAX_TABLETS);
		manifest_release(&m);
	}
	if (!rc) {
		*n = (int)m.tables[0].ntablets;
		for (int i = 0; i < *n; i++)
			dirs[i] =
			    store_tablet_path(data, m.tables[0].id, m.tables[0].tablets[i].id);
		manifest_release(&m);
	}
	free(json);
	free(path);
	return rc;
}

int main(int argc, char **argv)
{
	struct tablet tabs[MAX_TABLETS];
	char *dirs[MAX_TABLETS] = {NULL}, *clock_path = NULL;
	struct hlc clock;
	struct errbuf e = {{0}};
	uint64_t reps, delta, vsize, seed;
	const char *data, *out;
	char *val = NULL;
	int n = 0, opened = 0, clock_ok = 0, rc = 1;

	if (argc != 8 || parse_u64(argv[4], &reps) || parse_u64(argv[5], &delta) ||
	    parse_u64(argv[6], &vsize) || parse_u64(argv[7], &seed) || vsize > VALUE_MAX) {
		fprintf(stderr, "usage: rocksdb_checkpoint DATA SNAPSHOT_ID OUT REPS DELTA_ROWS "
				"VALUE_SIZE SEED\n");
		return 1;
	}
	data = argv[1];
	out = argv[3];
	if (mkdir(out, 0755) < 0) {
		fprintf(stderr, "rocksdb_checkpoint: error: directory '%s': %s\n", out,
			strerror(errno));
		return 1;
	}
	if (tablet_dirs(data, argv[2], dirs, &n, &e))
		goto out;
	clock_path = fs_path("%s/clock", data);
	if (hlc_init(&clock, clock_path, &e))
		goto out;
	clock_ok = 1;
	for (; opened < n; opened++)
		if (tablet_open(&tabs[opened], dirs[opened], 0, 0, &e))
			goto out;
	val = malloc(vsize + 1);
	if (!val)
		goto out;

	for (uint64_t r = 0; r <= reps; r++) {
		char dir[4096];
		double t0, t1;

		if (r > 0 && write_delta(tabs, n, &clock, delta, vsize, seed + r, val, &e))
			goto out;
		wait_quiet(tabs, n);
		snprintf(dir, sizeof(dir), "%s/rep-%" PRIu64, out, r);
		if (mkdir(dir, 0755) < 0) {
			err_set(&e, -errno, "directory '%s': %s", dir, strerror(errno));
			goto out;
		}
		t0 = now_s();
		for (int i = 0; i < n; i++) {
			snprintf(dir, sizeof(dir), "%s/rep-%" PRIu64 "/tablet-%d", out, r, i);
			if (tablet_flush(&tabs[i], &e) || tablet_checkpoint(&tabs[i], dir, &e))
				goto out;
		}
		t1 = now_s();
		printf("rep %" PRIu64 " seconds %.6f\n", r, t1 - t0);
		fflush(stdout);
	}
	rc = 0;
out:
	if (rc && e.msg[0])
		fprintf(stderr, "rocksdb_checkpoint: error: %s\n", e.msg);
	free(val);
	for (int i = 0; i < opened; i++)
		tablet_close(&tabs[i]);
	if (clock_ok)
		hlc_release(&clock);
	for (int i = 0; i < n; i++)
		free(dirs[i]);
	free(clock_path);
	return rc;
}
