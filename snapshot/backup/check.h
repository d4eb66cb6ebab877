/*
 * check: `snapfs check [--data DIR]`, the offline, read-only check of a
 * DATA (see check.c): every catalog record, the restore journal and the
 * hash cache parsed strictly, every live tablet and every checkpoint of a
 * COMPLETE snapshot read with RocksDB's checksums verified, every file of
 * a COMPLETE snapshot hashed against its SHA256SUMS.
 */
#ifndef SNAPFS_CHECK_H
#define SNAPFS_CHECK_H

#include <stddef.h>

#include "errbuf.h"

struct check_counts {
	size_t records, tablets, snapshots, files, problems;
};

/* report(arg, line) gets each problem (and notes, starting "note: "). */
typedef void (*check_report_fn)(void *arg, const char *line);

/* 0 once DATA has been read through (n->problems says what was found);
 * -ENOENT if DATA is not an initialised data directory; -EBUSY if a
 * daemon serves it. */
int check_data(const char *data, check_report_fn report, void *arg, struct check_counts *n,
	       struct errbuf *e);

#endif
