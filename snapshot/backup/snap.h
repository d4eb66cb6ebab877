/*
 * snap: consistent snapshots of a keyspace at one hybrid time, after
 * YugabyteDB: the cut (an instant under the store's write barrier), a
 * flushed RocksDB checkpoint per tablet, SNAPSHOT.json and SHA256SUMS in
 * DATA/snapshots/<id>/, and the record in the catalog whose state goes
 * CREATING -> COMPLETE or FAILED, and DELETING -> gone.
 *
 * Crash safety: the CREATING record is written before any directory, so
 * snapshots_open() knows what to remove; COMPLETE is written last. A
 * listener (the FUSE view) hears of every change to the COMPLETE set.
 *
 * Crash injection for tests: SNAPFS_CRASH_AT=<point> aborts the process at
 * that named point (see snap_crash_point()).
 */
#ifndef SNAPFS_SNAP_H
#define SNAPFS_SNAP_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "errbuf.h"
#include "manifest.h"
#include "store.h"

struct snapshots;

/* Loads the records (strictly: a malformed one is -EBADMSG naming it),
 * repairs what a crash left (CREATING -> FAILED with its directories
 * removed, DELETING finished), opens the hash cache. */
int snapshots_open(struct snapshots **out, struct store *s, struct errbuf *e);
void snapshots_close(struct snapshots *ss);

/* Number of snapshot records (any state). */
size_t snapshots_count(struct snapshots *ss);

/* Hashes the live tablets' finished SSTs ahead of the next snapshot (the
 * schedule thread calls it every second). */
void snapshots_prehash(struct snapshots *ss);

/* fn(arg) runs after every change of the COMPLETE set, in the thread that
 * made it, with no lock of the module held but the listener's own: once
 * snapshots_set_listener(ss, NULL, NULL) has returned, fn is not running
 * and will not run again (so its arg may be freed). */
void snapshots_set_listener(struct snapshots *ss, void (*fn)(void *), void *arg);

/* Takes a snapshot of keyspace ks (all its tables, or the n named ones),
 * on behalf of schedule_id (NULL for none). Writes the new id into id.
 * -ENOENT for an unknown keyspace or table, -EPERM for a keyspace without
 * tables. */
int snap_create(struct snapshots *ss, const char *ks, char *const *tables, size_t n,
		const char *schedule_id, char id[ID_LEN + 1], struct errbuf *e);

/* Every snapshot in a few fields, oldest first (caller frees *out). */
struct snap_brief {
	char id[ID_LEN + 1];
	char schedule_id[ID_LEN + 1];
	char keyspace[65];
	enum snap_state state;
	int complete, failed;
	uint64_t hybrid_time;
	int64_t wall_us;
};
int snap_brief_list(struct snapshots *ss, struct snap_brief **out, size_t *n);

/* Copies of every snapshot record (any state), oldest first: release each
 * with snaprec_release, then free *out. */
void snap_records(struct snapshots *ss, struct snaprec **out, size_t *n);

/* Resolves what a user typed for a snapshot into its id: a full id (of
 * any state), "latest" (the newest COMPLETE snapshot of keyspace ks, or of
 * all when ks is NULL), or a unique prefix of at least 8 hex digits. An
 * ambiguous prefix is -EINVAL naming the candidates; no match -ENOENT. */
int snap_resolve(struct snapshots *ss, const char *name, const char *ks, char id[ID_LEN + 1],
		 struct errbuf *e);
/* The same over a list (the pure part, for tests). */
int snap_resolve_in(const struct snap_brief *v, size_t n, const char *name, const char *ks,
		    char id[ID_LEN + 1], struct errbuf *e);

/* The state machine of a snapshot record, without I/O: the state after op
 * on a record in state from, or -EINVAL if op is not allowed there. */
enum snap_op { SNAP_OP_COMPLETE, SNAP_OP_FAIL, SNAP_OP_DELETE, SNAP_OP_REPAIR };
int snap_next_state(enum snap_state from, enum snap_op op, enum snap_state *to);

/* Deletes a snapshot; -EBUSY while a read of it is in progress. */
int snap_delete(struct snapshots *ss, const char *id, struct errbuf *e);

/* JSON array of {id, state, keyspace, hybrid_time, time, tables, bytes}. */
int snap_list(struct snapshots *ss, json_object **out, struct errbuf *e);

/* The SNAPSHOT.json of a COMPLETE snapshot (malloc'ed text). */
int snap_export(struct snapshots *ss, const char *id, char **json, size_t *len, struct errbuf *e);

/* Reads from a COMPLETE snapshot's checkpoints at its cut. */
int snap_read_get(struct snapshots *ss, const char *id, const char *table, const void *key,
		  size_t klen, char **val, size_t *vlen, struct errbuf *e);
int snap_read_scan(struct snapshots *ss, const char *id, const char *table, const void *prefix,
		   size_t plen, uint64_t limit, row_cb cb, void *arg, struct errbuf *e);

/* A COMPLETE snapshot as the view needs it. */
struct snap_info {
	char id[ID_LEN + 1];
	char schedule_id[ID_LEN + 1]; /* "" unless taken by a schedule */
	uint64_t *table_created_ht;   /* per table of m: its creation time */
	uint64_t hybrid_time;
	int64_t wall_us;
	char *meta_dir;	    /* DATA/snapshots/<id> */
	struct manifest m;  /* tables, tablets (file lists empty) */
	char **tablet_dirs; /* per tablet in manifest order: the checkpoint dir */
	size_t ntablet_dirs;
};
int snap_complete_list(struct snapshots *ss, struct snap_info **out, size_t *n);
void snap_info_free(struct snap_info *v, size_t n);
void snap_info_release(struct snap_info *v);

/* Pins a COMPLETE snapshot against deletion (as a read does) and describes
 * it; snap_unpin() ends the pin. */
int snap_pin(struct snapshots *ss, const char *id, struct snap_info *out, struct errbuf *e);
void snap_unpin(struct snapshots *ss, const char *id);

/* Checkpoint directory of a tablet in a snapshot (malloc'ed). */
char *snap_checkpoint_dir(const char *data, const char *table_id, const char *tablet_id,
			  const char *snap_id);

/* Aborts the process if $SNAPFS_CRASH_AT equals point (tests only). */
void snap_crash_point(const char *point);
/* Sleeps MS milliseconds if $SNAPFS_DELAY_AT is "<point>:MS" (tests only:
 * holds a race window open). */
void snap_delay_point(const char *point);

#endif
