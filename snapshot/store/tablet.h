/*
 * tablet: one RocksDB instance whose every key carries an 8-byte hybrid
 * time (RocksDB user-defined timestamps). The comparator is named
 * "leveldb.BytewiseComparator.u64ts" and has exactly RocksDB's built-in
 * semantics (key bytes ascending, then the little-endian u64 timestamp
 * descending), so the stock tools of rocksdb-tools (sst_dump, ldb) read
 * every tablet and every backup without snapfs.
 *
 * A tablet is opened read-write (the live tablet) or read-only (a
 * checkpoint of a snapshot, read at the cut time). Every handle is closed
 * before the DB (Debian's librocksdb asserts on it).
 */
#ifndef SNAPFS_TABLET_H
#define SNAPFS_TABLET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <rocksdb/c.h>

#include "errbuf.h"

#define TABLET_TS_SIZE 8
#define TABLET_MAX_OPEN_FILES 64 /* the process has 20,000 fds in all */
#define KEY_MAX (4u << 10)
#define VALUE_MAX (16u << 20)

struct tablet {
	char *path;
	int readonly;
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_column_family_handle_t *cf;
	rocksdb_writeoptions_t *wo;
	char *logdir; /* read-only opens: a private temp dir for RocksDB's LOG */
	/* The full_history_ts_low mark as this handle set it (read-write
	 * opens): reads below it are refused here, not left to RocksDB, whose
	 * 9.x check compares with the mark of its current superversion only,
	 * which moves at the next flush or compaction (a read before the
	 * history kept returned whatever was left until then). */
	_Atomic uint64_t history_low;
};

/* The shared comparator (created once, never freed). */
rocksdb_comparator_t *tablet_comparator(void);

/* Options of a tablet (caller destroys). Shared with the benchmark of a
 * plain RocksDB so both run with the same settings. */
rocksdb_options_t *tablet_options(int create);

/* Opens the tablet at path. create: create if missing. readonly: open for
 * reading only (checkpoints): nothing is written into path, not even
 * RocksDB's LOG, which goes to a temp dir removed at close (a backup tree
 * must stay exactly what SHA256SUMS lists). Returns 0 or a negative errno
 * with a message. */
int tablet_open(struct tablet *t, const char *path, int create, int readonly, struct errbuf *e);
void tablet_close(struct tablet *t);

void tablet_encode_ts(uint64_t ts, char out[TABLET_TS_SIZE]);
uint64_t tablet_decode_ts(const char *in);

int tablet_put(struct tablet *t, const void *key, size_t klen, const void *val, size_t vlen,
	       uint64_t ts, struct errbuf *e);
int tablet_del(struct tablet *t, const void *key, size_t klen, uint64_t ts, struct errbuf *e);

/* Applies a batch built with tablet_batch_put/del (all at the stamps given). */
int tablet_write(struct tablet *t, rocksdb_writebatch_t *b, struct errbuf *e);
void tablet_batch_put(struct tablet *t, rocksdb_writebatch_t *b, const void *key, size_t klen,
		      const void *val, size_t vlen, uint64_t ts);
void tablet_batch_del(struct tablet *t, rocksdb_writebatch_t *b, const void *key, size_t klen,
		      uint64_t ts);

/* The value of key as of time ts: 0 and a malloc'ed *val (caller frees),
 * -ENOENT when absent or deleted at that time. */
int tablet_get(struct tablet *t, const void *key, size_t klen, uint64_t ts, char **val,
	       size_t *vlen, struct errbuf *e);

/* Flushes the memtable to an SST (waits). */
int tablet_flush(struct tablet *t, struct errbuf *e);

/* RocksDB checkpoint (SSTs hard-linked, MANIFEST/CURRENT/OPTIONS copied)
 * into dir, which must not exist. */
int tablet_checkpoint(struct tablet *t, const char *dir, struct errbuf *e);

/* Versions older than ts may be dropped by compaction from now on. */
int tablet_set_history_low(struct tablet *t, uint64_t ts, struct errbuf *e);

/* Rows of several tablets merged in key order, as of ts. */
typedef int (*row_cb)(void *arg, const char *key, size_t klen, const char *val, size_t vlen);

/* Calls cb for every live row (newest version at or before ts) whose key
 * starts with prefix, in key order across the n tablets (a k-way merge),
 * up to limit rows (0 = no limit). A non-zero return of cb stops the scan
 * and is returned. */
int tablets_scan(struct tablet *const *tabs, unsigned n, const void *prefix, size_t plen,
		 uint64_t limit, uint64_t ts, row_cb cb, void *arg, struct errbuf *e);

/* The same, resuming after key after (alen 0: from the start), which
 * must start with prefix: a scan in batches re-seeks where it stopped. */
int tablets_scan_from(struct tablet *const *tabs, unsigned n, const void *prefix, size_t plen,
		      const void *after, size_t alen, uint64_t limit, uint64_t ts, row_cb cb,
		      void *arg, struct errbuf *e);

/* Translates a RocksDB error string (freed here) into a negative errno and
 * a message "<what> '<subject>': <rocksdb text>". The one place for it. */
int tablet_rocksdb_error(char *err, struct errbuf *e, const char *what, const char *subject);

#endif

/* Reads every version of every key with block checksums verified (the
 * RocksDB half of checking a backup). */
int tablet_verify_read(struct tablet *t, struct errbuf *e);

/* The newest timestamp of any version in the tablet (0 if empty), and how
 * many versions are newer than cut. */
int tablet_scan_newer(struct tablet *t, uint64_t cut, uint64_t *maxts, uint64_t *nnewer,
		      struct errbuf *e);

/* The "hybrid time filter" of a restore: every key with a version newer
 * than cut gets, at time r (> every version in the tablet), its value as of
 * cut or a tombstone; then the full-history low mark goes to r, so no read
 * can land between cut and r. Idempotent: a tablet whose low mark is
 * already above cut is left alone. Writes are synced. */
int tablet_hide_after(struct tablet *t, uint64_t cut, uint64_t r, struct errbuf *e);
