/*
 * restore: bringing a snapshot back, after QuestDB's `_restore` marker and
 * YugabyteDB's restore with a hybrid-time filter.
 *
 * By marker (restore_marker_run, at start, before the store opens, DATA
 * locked): DATA/_restore asks to restore the backup tree copied into
 * DATA/restore/. Order:
 *   verify      SHA256SUMS, SNAPSHOT.json, file lists, no path leaving the
 *               tree, every checkpoint opens in RocksDB and reads with
 *               block checksums verified — nothing in DATA changes;
 *   journal     DATA/restore.journal (durable) names every move and the
 *               catalog records to write: from here on the restore is
 *               finished by the next start, whatever happens;
 *   move        each checkpoint dir is renamed into
 *               tablets/table-<id>/tablet-<new id>/ (same filesystem, no copy);
 *   filter      versions newer than the cut are hidden (tablet_hide_after)
 *               at a hybrid time above every restored one; clock raised;
 *   commit      one catalog batch: tables, keyspaces, the restore record;
 *   clean up    old tablets of replaced tables, restore/, the marker, and
 *               the journal last.
 * A refusal (exit 3) names the file at fault and changes nothing in DATA
 * (the daemon's own snapfs.log and snapfs.lock aside), marker included.
 *
 * Online (restore_snapshot): from a COMPLETE snapshot in the store, while
 * serving; writes to the table being swapped get -EBUSY for that moment.
 */
#ifndef SNAPFS_RESTORE_H
#define SNAPFS_RESTORE_H

#include <json-c/json.h>

#include "errbuf.h"
#include "manifest.h"
#include "snap.h"
#include "store.h"

/* Checks a backup tree, changing nothing. -EBADMSG naming the file. */
int restore_verify(const char *root, struct manifest *m, struct errbuf *e);
/* restore_verify reporting every bad file of the tree in *r (see
 * manifest_verify_tree_report); the read check of the tablets runs once the
 * files are good, and adds the first tablet it refuses. */
int restore_verify_report(const char *root, struct manifest *m, struct verify_report *r,
			  struct errbuf *e);

/* Finishes a journaled restore cut short by a crash, then runs the marker
 * if present. *what gets a malloc'ed line for the log ("restored ...") or
 * NULL when there was nothing to do. */
int restore_marker_run(const char *data, char **what, struct errbuf *e);

/* Online restore of snapshot id: all its tables, or only table (KS.T);
 * into a new table named as (KS.T2) when given. */
int restore_snapshot(struct store *s, struct snapshots *ss, const char *id, const char *table,
		     const char *as, struct errbuf *e);

/* The same, as of time to (a hybrid time at or before the snapshot's cut;
 * 0 = the cut): versions newer than to are filtered out, and tables the
 * snapshot created after to are left out. */
int restore_snapshot_at(struct store *s, struct snapshots *ss, const char *id, const char *table,
			const char *as, uint64_t to, struct errbuf *e);

/* The restorations recorded in the catalog: a JSON array (caller puts). */
int restore_list(struct catalog *c, json_object **out, struct errbuf *e);

#endif
