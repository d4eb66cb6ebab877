/*
 * schedule: snapshot schedules, retention, history and point-in-time
 * restore, after YugabyteDB's PITR.
 *
 * A schedule (catalog "sched/<id>") takes a snapshot of its keyspace every
 * interval and deletes those older than its retention, always keeping the
 * newest. One background thread does it, once a second: a slot missed
 * while the daemon was stopped is taken at the next start, and retention
 * runs every tick, so snapshots never pile up even after failures (FAILED
 * schedule snapshots are deleted too).
 *
 * History: every tablet keeps every version newer than now - retention of
 * the longest schedule of its keyspace (SCHEDULE_DEFAULT_HISTORY_US without
 * one; $SNAPFS_HISTORY, a duration or "none", overrides that default at
 * start): the full-history low mark is raised each tick.
 *
 * Restore to TIME: from the first schedule snapshot at or after TIME (one
 * is taken now if TIME is newer than all), with versions newer than TIME
 * filtered out; tables created after TIME are dropped and tables dropped
 * after TIME come back (a DROP TABLE in a scheduled keyspace is preceded by
 * a schedule snapshot, which keeps the table's tablets while retained).
 */
#ifndef SNAPFS_SCHEDULE_H
#define SNAPFS_SCHEDULE_H

#include <json-c/json.h>

#include "errbuf.h"
#include "snap.h"
#include "store.h"

#define SCHEDULE_DEFAULT_HISTORY_US (15LL * 60 * 1000000) /* 15 min, as YugabyteDB */
#define SCHEDULE_MIN_INTERVAL_US SCHED_MIN_INTERVAL_US

struct schedules;

int schedules_open(struct schedules **out, struct store *s, struct snapshots *ss, struct errbuf *e);
void schedules_close(struct schedules *sc);

/* The background thread: start after the socket listens, stop before close. */
int schedules_start(struct schedules *sc);
void schedules_stop(struct schedules *sc);

/* Runs one tick now (tests and the thread). */
void schedules_tick(struct schedules *sc);

int schedule_create(struct schedules *sc, const char *ks, int64_t interval_us, int64_t retention_us,
		    char id[ID_LEN + 1], struct errbuf *e);
int schedule_delete(struct schedules *sc, const char *id, struct errbuf *e);
int schedule_list(struct schedules *sc, json_object **out, struct errbuf *e);

/* Per schedule: keyspace and the window of restorable times. */
int schedule_restore_points(struct schedules *sc, json_object **out, struct errbuf *e);

/* Before DROP TABLE of a table of ks: a schedule snapshot, if ks has a schedule. */
int schedule_before_drop(struct schedules *sc, const char *ks, struct errbuf *e);

/* Restores keyspace ks to hybrid time t. -ERANGE (with the window in the
 * message) when t is outside it, -EPERM when ks has no schedule. */
int schedule_restore_to(struct schedules *sc, const char *ks, uint64_t t, struct errbuf *e);

/* ---- the decisions of a tick, without I/O (unit-tested) ---- */

/* 1 if schedule sh is due a snapshot at now; *newest gets the wall time of
 * its newest COMPLETE snapshot (0: none). */
int schedule_due(const struct schedrec *sh, const struct snap_brief *b, size_t nb, int64_t now,
		 int64_t *newest);
/* 1 if retention deletes x (one of sh's snapshots) at now: a COMPLETE one
 * older than the retention unless it is the newest, or a FAILED one. */
int schedule_expired(const struct schedrec *sh, const struct snap_brief *x, int64_t newest,
		     int64_t now);
/* The restorable window of sh at now: [earliest, latest] in wall µs, and
 * how many COMPLETE snapshots it has. */
void schedule_window(const struct schedrec *sh, const struct snap_brief *b, size_t nb, int64_t now,
		     int64_t *earliest, int64_t *latest, size_t *count);
/* The snapshot a restore to hybrid time t starts from: sh's first COMPLETE
 * one at or after t, or NULL (take one now). */
const struct snap_brief *schedule_pick(const struct schedrec *sh, const struct snap_brief *b,
				       size_t nb, uint64_t t);

#endif
