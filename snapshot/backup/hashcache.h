/*
 * hashcache: SHA-256 digests of the SST files that checkpoints hard-link,
 * so that an SST kept by snapshot after snapshot is hashed once in its
 * life, not once per snapshot.
 *
 * Only a file that is provably the same file gets a cached digest:
 *   - only SSTs (a name of digits ending ".sst"): RocksDB writes them once
 *     and never rewrites them, and a checkpoint hard-links them. CURRENT,
 *     MANIFEST-*, OPTIONS-* and anything else a checkpoint copies are
 *     hashed every time (they are small; CURRENT changes at every RocksDB
 *     open while its inode number may be the one of a deleted CURRENT);
 *   - the key is (device, inode, inode generation, size, mtime in ns,
 *     file name): a new file that reuses a freed inode differs in its
 *     generation where the filesystem has one (ext4, FS_IOC_GETVERSION),
 *     and in its mtime (a new file is written after the old one was);
 *   - every hit is re-checked against the open file before it is
 *     returned: the same fstat fields, and a fingerprint of the file's
 *     first and last 4 KiB (an SST's footer holds checksums of its index
 *     blocks), so even a key collision cannot hand back a stale digest.
 * Entries whose file has gone are dropped: each remembers where it was
 * last seen (relative to DATA) and is dropped at load and at save when
 * nothing with its key is there any more.
 *
 * Thread-safe; hashing runs outside the lock.
 */
#ifndef SNAPFS_HASHCACHE_H
#define SNAPFS_HASHCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

#define HASHCACHE_MAX_FILE (512u << 20)

struct hashcache;

/* One line of the file, parsed. rel is malloc'ed. */
struct hc_record {
	char hex[65];	   /* the SHA-256 */
	uint64_t dev, ino; /* st_dev, st_ino */
	uint64_t gen;	   /* inode generation, 0 where the filesystem has none */
	uint64_t size;
	int64_t mtime_ns;
	char fp[17]; /* fingerprint of the first and last 4 KiB */
	char *rel;   /* where it was last seen, relative to the root */
};

/* Parses the text of a hash cache file (untrusted, pure: no I/O). 0 with
 * *out (caller frees with hc_records_free) and *n; *old = 1 and no records
 * for a file of the first format (never trusted: its key could not tell a
 * new CURRENT from a deleted one); -EBADMSG naming the line otherwise. */
int hashcache_parse(const char *text, size_t len, struct hc_record **out, size_t *n, int *old,
		    struct errbuf *e);
void hc_records_free(struct hc_record *v, size_t n);

/* Opens the cache file at path for files under root (DATA). A missing file
 * is an empty cache; an old-format one is dropped (logged); a malformed
 * one is -EBADMSG naming it (it is a cache: removing it is always safe).
 * Entries whose file has gone are dropped. */
int hashcache_open(struct hashcache **out, const char *path, const char *root, struct errbuf *e);

/* Hex digest of path (a regular file, not a symlink: -EINVAL), from the
 * cache when provably the same file, else by hashing it (then cached if
 * it is an SST under root). */
int hashcache_get(struct hashcache *hc, const char *path, char hex[65]);

/* Writes the entries whose file is still there, atomically. 0 or -errno. */
int hashcache_save(struct hashcache *hc);
void hashcache_free(struct hashcache *hc);

/* Counters for tests: lookups answered from the cache, files hashed. */
void hashcache_stats(struct hashcache *hc, uint64_t *hits, uint64_t *hashed);

#endif
