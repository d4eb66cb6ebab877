/*
 * space: the disk space of DATA's tablets and snapshots, as `du` counts
 * it (the blocks a file takes, st_blocks, each inode once however many
 * names it has), and what deleting a snapshot would free, as zfs `used`.
 *
 * A snapshot's checkpoints are hard links to the SSTs of the live tablets
 * (and of other snapshots): deleting a snapshot frees a file only when
 * every link of it is inside that snapshot. So space_measure walks every
 * live tablet directory and every snapshot's directories (its checkpoints
 * and DATA/snapshots/<id>), records each name's (device, inode, link
 * count, blocks), and space_account groups the names by inode:
 *
 *   a snapshot's exclusive bytes   the inodes whose every link it holds
 *                                  (a link anywhere else: the live store,
 *                                  another snapshot, a file held open in
 *                                  DATA/view-holds/, makes it shared)
 *   a keyspace's live bytes        the inodes in its live tablets
 *   its snapshot bytes             the inodes in its snapshots (shared
 *                                  with the live store or not)
 *   its snapshot-exclusive bytes   the inodes in its snapshots with no
 *                                  link outside snapshots: what deleting
 *                                  all of them would free
 *
 * Directories count too (du counts them), each as its own. The walk takes
 * no lock: it reads copies of the records, and a file created or removed
 * meanwhile is counted or not; the figures are those of an instant near
 * the call, not of one cut. A file linked into the snapshots of two
 * keyspaces (an online restore --as across keyspaces shares SSTs) counts
 * in both keyspaces' figures.
 */
#ifndef SNAPFS_SPACE_H
#define SNAPFS_SPACE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "errbuf.h"
#include "records.h"
#include "snap.h"
#include "store.h"

struct space_snapshot {
	char id[ID_LEN + 1];
	char ks[NAME_LEN + 1];
	uint64_t bytes;		  /* its files, each inode once */
	uint64_t exclusive_bytes; /* what deleting it frees */
};

struct space_keyspace {
	char name[NAME_LEN + 1];
	uint64_t live_bytes;
	uint64_t snapshot_bytes;
	uint64_t snapshot_exclusive_bytes;
};

struct space_usage {
	struct space_snapshot *snaps; /* in the order of snap_records */
	size_t nsnaps;
	struct space_keyspace *ks; /* sorted by name */
	size_t nks;
};

/* Walks DATA as described above into *u (release with
 * space_usage_release). What cannot be read counts nothing. */
void space_measure(struct store *s, struct snapshots *ss, struct space_usage *u);
void space_usage_release(struct space_usage *u);

/* The per-keyspace figures of keyspace name, or NULL. */
const struct space_keyspace *space_keyspace_find(const struct space_usage *u, const char *name);
/* The figures of snapshot id, or NULL. */
const struct space_snapshot *space_snapshot_find(const struct space_usage *u, const char *id);

/* ---- the pure part (unit-tested) ---- */

/* One name of a file or directory found by the walk. */
struct space_name {
	dev_t dev;
	ino_t ino;
	nlink_t nlink;	/* the file's link count (1 for a directory: it is its own) */
	uint64_t bytes; /* st_blocks * 512 */
	long snap;	/* index of the snapshot it is in, or -1 for a live tablet */
	size_t ks;	/* index of the keyspace of that tablet or snapshot */
};

/* Adds the names v[0..n) to u (whose snaps and ks arrays the indexes of
 * the names point into, all figures starting at 0). Sorts v. */
void space_account(struct space_name *v, size_t n, struct space_usage *u);

#endif
