/*
 * manifest: SNAPSHOT.json (json-c) and SHA256SUMS (sha256sum format,
 * OpenSSL EVP) of one snapshot, the hash cache that makes an immutable SST
 * hashed once in its life, and the verification of a backup tree.
 *
 * A snapshot directory as users see it (mount or copied backup):
 *   SNAPSHOT.json
 *   SHA256SUMS                  covers every other file, paths relative
 *   <ks>/<table>/tablet-<id>/   one RocksDB checkpoint per tablet
 *
 * Nothing here knows RocksDB or FUSE.
 */
#ifndef SNAPFS_MANIFEST_H
#define SNAPFS_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "errbuf.h"

#define MANIFEST_FORMAT_VERSION 1
#define MANIFEST_MAX_JSON (64u << 20) /* refuse larger SNAPSHOT.json */
#define MANIFEST_NAME_MAX 64	      /* keyspace and table names */
#define MANIFEST_MAX_TABLETS 100000   /* per snapshot, all tables */
#define MANIFEST_MAX_FILES 100000     /* per tablet */
#define MANIFEST_MAX_FILE_SIZE (1ull << 50)
#define MANIFEST_FILE_NAME_MAX 255 /* bytes of one file name */
#define SUMS_MAX_TEXT (256u << 20) /* refuse larger SHA256SUMS */
#define SUMS_LINE_MAX 4096	   /* bytes of one line, newline excluded */

struct manifest_file {
	char *name; /* plain file name, no '/' */
	uint64_t size;
};

struct manifest_tablet {
	char id[33];
	uint32_t start, end; /* hash partition [start, end), end <= 65536 */
	size_t nfiles;
	struct manifest_file *files;
};

struct manifest_table {
	char id[33];
	char *name;
	size_t ntablets;
	struct manifest_tablet *tablets; /* sorted by start, covering [0, 65536) */
};

struct manifest {
	int format_version;
	char id[33];	      /* snapshot id */
	uint64_t hybrid_time; /* the cut */
	int64_t wall_us;      /* wall time of the cut, µs since epoch */
	char *keyspace;
	size_t ntables;
	struct manifest_table *tables;
};

/* Serialises m to a malloc'ed, pretty-printed JSON string (caller frees).
 * Keys: format_version, snapshot_id, hybrid_time, wall_time (RFC 3339 with
 * µs, UTC), keyspace, tables[{id, name, schema, tablets[{id, partition
 * {start,end}, dir, files[{name,size}]}]}]. */
int manifest_to_json(const struct manifest *m, char **out);

/* Parses and validates SNAPSHOT.json text (untrusted). Checks: format
 * version, 32-hex ids, names [A-Za-z0-9_-]{1,64}, partitions contiguous from
 * 0 to 65536, file names without '/', not "." or "..", sizes sane. On error
 * returns -EBADMSG with a message naming the field. m is filled on success
 * and must be released with manifest_release(). Unknown keys are ignored. */
int manifest_parse(const char *json, size_t len, struct manifest *m, struct errbuf *e);

void manifest_release(struct manifest *m);

/* Relative dir of a tablet in the snapshot tree: "<ks>/<table>/tablet-<id>"
 * (malloc'ed). */
char *manifest_tablet_dir(const struct manifest *m, const struct manifest_table *t,
			  const struct manifest_tablet *tb);

/* SHA-256 of a whole file (OpenSSL EVP). hex must hold 65 bytes. A symlink
 * is refused (-ELOOP), anything not a regular file is -EINVAL. */
int sums_hash_file(const char *path, char hex[65]);

/* SHA-256 of fd from its current offset to EOF (1 MiB reads, sequential
 * readahead advice). Returns 0 or a negative errno (-EIO: OpenSSL failed). */
int sums_hash_fd(int fd, char hex[65]);

/* SHA-256 of a buffer already in memory. */
int sums_hash_buf(const void *buf, size_t len, char hex[65]);

/* One line of SHA256SUMS. */
struct sums_entry {
	char *path; /* relative, '/'-separated */
	char hex[65];
};

/* Writes dir/SHA256SUMS atomically (entries sorted by path, "hex  path\n").
 * Sorts ents in place. -EINVAL if a path would not parse back (absolute,
 * '.' or '..' component, empty component, backslash or control character),
 * a path is repeated, or a digest is not 64 lowercase hex digits. */
int sums_write(const char *dir, struct sums_entry *ents, size_t n);

/* Parses SHA256SUMS text (untrusted): refuses absolute paths, '.' and '..'
 * components, empty components, empty or duplicate paths, bad hex (64
 * lowercase digits), lines over 4 KiB, escaped ('\\'-prefixed) lines,
 * control characters and backslashes in paths. Accepts the binary marker
 * ("hex *path"). On error -EBADMSG naming the line. *out is a malloc'ed
 * array, sorted by path, that the caller frees with sums_free(). */
int sums_parse(const char *text, size_t len, struct sums_entry **out, size_t *n, struct errbuf *e);
void sums_free(struct sums_entry *ents, size_t n);

/* The hash cache of SST digests lives in hashcache.h. */

/*
 * Verifies a backup tree (a copied snapshot directory), changing nothing:
 * SHA256SUMS parses; every listed file exists as a regular file inside the
 * tree with the right digest (hashed on all cores); no file unlisted; no
 * symlink, device, fifo or socket anywhere; SNAPSHOT.json parses, and its
 * tablets' file lists and sizes match the files present. (The cut against
 * the local clock is manifest_check_cut's, which a restore adds.) On success fills
 * *m (if m is not NULL). On failure returns -EBADMSG (or -ENOENT for a
 * missing file) with a message naming the file at fault, relative to root.
 */
int manifest_verify_tree(const char *root, struct manifest *m, struct errbuf *e);

/* One bad file of a backup tree: its path relative to the root ("" for a
 * fault of the whole tree), the errno, the message naming it. */
struct verify_finding {
	char *path;
	int rc;
	char *msg;
};

/* Every bad file found, sorted by path, at most VERIFY_MAX_FINDINGS of them
 * (more counts those left out). */
#define VERIFY_MAX_FINDINGS 10000
struct verify_report {
	struct verify_finding *v;
	size_t n, cap, more;
};
void verify_report_release(struct verify_report *r);

/* manifest_verify_tree that goes on past the first bad file: every check
 * that can still run runs, and every bad file goes into *r (a file is
 * reported once, by the first check that finds it). Returns 0, or the rc of
 * the first finding with its message in e. m is filled only when the tree
 * is good. */
int manifest_verify_tree_report(const char *root, struct manifest *m, struct verify_report *r,
				struct errbuf *e);

/*
 * The cut against this machine's clock. Restoring a backup raises the
 * store's hybrid clock above the cut and above every version restored, so a
 * cut far ahead (a backup from a machine whose clock ran ahead, or a
 * tampered one) would move every later write there. Refused, -EBADMSG
 * naming what: a hybrid time more than MANIFEST_CUT_AHEAD_US ahead of now_us
 * unless allow_future; and always one above HLC_RAISE_MAX, which the clock
 * cannot be raised to. what names the field for the message, e.g.
 * "SNAPSHOT.json: hybrid_time" or "tablet 'ks/t/tablet-<id>': newest version".
 */
#define MANIFEST_CUT_AHEAD_US (5 * 60 * 1000000LL) /* 5 minutes */
#define MANIFEST_ALLOW_FUTURE_ENV "SNAPFS_ALLOW_FUTURE_CUT"
int manifest_check_time(const char *what, uint64_t ht, int64_t now_us, int allow_future,
			struct errbuf *e);
/* manifest_check_time of the manifest's cut. */
int manifest_check_cut(const struct manifest *m, int64_t now_us, int allow_future,
		       struct errbuf *e);
/* Whether SNAPFS_ALLOW_FUTURE_CUT=1 is in the environment: the operator's
 * override for a deliberate move of the clock (documented in README). */
int manifest_allow_future_cut(void);

#endif
