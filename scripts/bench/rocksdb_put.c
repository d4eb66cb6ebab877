/*
 * rocksdb_put: the baseline of scripts/bench/store — a plain RocksDB C put
 * loop doing what `snapfs load` does, minus snapfs: no daemon, no socket,
 * no catalog, no clock, no locks.
 *
 * Same as store_load (snapshot/store/store.c), on purpose: tablet_options() and
 * the tablet comparator (the options every snapfs tablet runs with), four
 * DBs for the four tablets of the benchmark table, keys "key%010d" routed
 * by partition_hash, values from store_load_value (so compression sees the
 * same bytes), 2000 rows per batch split over the four DBs with one 8-byte
 * timestamp per batch (*_with_ts writes), default write options (WAL on,
 * no sync). What differs is only what snapfs adds around it.
 *
 *     rocksdb_put DIR ROWS [VALUE_SIZE [SEED]]
 *
 * DIR must not exist; it is created and left for the caller to remove.
 * Prints "seconds <elapsed of the write loop>" and "rows <ROWS>" on stdout.
 * Built by CMake into bench/ of the build directory; run by scripts/bench/store.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rocksdb/c.h>

#include "partition.h"
#include "store.h"
#include "tablet.h"

#define NDBS 4
#define BATCH 2000

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

int main(int argc, char **argv)
{
	rocksdb_t *db[NDBS] = {NULL};
	rocksdb_column_family_handle_t *cf[NDBS] = {NULL};
	rocksdb_options_t *opts = NULL;
	rocksdb_writeoptions_t *wo = NULL;
	rocksdb_writebatch_t *b[NDBS] = {NULL};
	uint64_t rows, vsize = 100, seed = 0, ts = 1;
	char *val = NULL, *err = NULL;
	double t0, t1;
	int rc = 1;

	if (argc < 3 || argc > 5 || parse_u64(argv[2], &rows) ||
	    (argc > 3 && parse_u64(argv[3], &vsize)) || (argc > 4 && parse_u64(argv[4], &seed)) ||
	    vsize > VALUE_MAX) {
		fprintf(stderr, "usage: rocksdb_put DIR ROWS [VALUE_SIZE [SEED]]\n");
		return 1;
	}
	if (mkdir(argv[1], 0755) < 0) {
		fprintf(stderr, "rocksdb_put: error: directory '%s': %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	opts = tablet_options(1);
	wo = rocksdb_writeoptions_create();
	for (int i = 0; i < NDBS; i++) {
		const char *names[1] = {"default"};
		const rocksdb_options_t *cfopts[1] = {opts};
		char path[4096];

		snprintf(path, sizeof(path), "%s/db-%d", argv[1], i);
		db[i] = rocksdb_open_column_families(opts, path, 1, names, cfopts, &cf[i], &err);
		if (err) {
			fprintf(stderr, "rocksdb_put: error: db '%s': %s\n", path, err);
			free(err);
			goto out;
		}
		b[i] = rocksdb_writebatch_create();
	}
	val = malloc(vsize + 1);
	if (!val)
		goto out;

	t0 = now_s();
	for (uint64_t done = 0; done < rows; done += BATCH, ts++) {
		uint64_t n = rows - done < BATCH ? rows - done : BATCH;
		char tsb[TABLET_TS_SIZE];

		tablet_encode_ts(ts, tsb);
		for (uint64_t i = done; i < done + n; i++) {
			char key[32];
			int kl = snprintf(key, sizeof(key), "key%010" PRIu64, i);
			unsigned d = partition_index(NDBS, partition_hash(key, (size_t)kl));

			store_load_value(seed, i, val, (uint32_t)vsize);
			rocksdb_writebatch_put_cf_with_ts(b[d], cf[d], key, (size_t)kl, tsb,
							  sizeof(tsb), val, vsize);
		}
		for (int d = 0; d < NDBS; d++) {
			if (rocksdb_writebatch_count(b[d]))
				rocksdb_write(db[d], wo, b[d], &err);
			rocksdb_writebatch_clear(b[d]);
			if (err) {
				fprintf(stderr, "rocksdb_put: error: write: %s\n", err);
				free(err);
				goto out;
			}
		}
	}
	t1 = now_s();
	printf("seconds %.3f\nrows %" PRIu64 "\n", t1 - t0, rows);
	rc = 0;
out:
	free(val);
	for (int i = 0; i < NDBS; i++) {
		if (b[i])
			rocksdb_writebatch_destroy(b[i]);
		if (cf[i])
			rocksdb_column_family_handle_destroy(cf[i]);
		if (db[i])
			rocksdb_close(db[i]);
	}
	if (wo)
		rocksdb_writeoptions_destroy(wo);
	if (opts)
		rocksdb_options_destroy(opts);
	return rc;
}
