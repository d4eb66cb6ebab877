/*
 * view: the read-only FUSE view of every COMPLETE snapshot (see SPEC.md,
 * "The mounted tree"). fs/ never writes into DATA and never links RocksDB:
 * the daemon (mount/) hands it a description of what to show through a
 * callback, and calls view_changed() whenever that description changes.
 *
 * Tree served:
 *   snapshots/<id>/                    one per view_snapshot
 *   snapshots/<id>/SNAPSHOT.json       from meta_dir
 *   snapshots/<id>/SHA256SUMS          from meta_dir
 *   snapshots/<id>/<rel>/...           each view_tablet_dir: rel like
 *                                      "ks/table/tablet-<tablet_id>", its
 *                                      files those of src (a checkpoint dir)
 *   snapshots/latest -> <id>           newest by (wall_us, id); absent if none
 *   restore-points/<schedule_id>/<name>/   same content as snapshots/<snapshot_id>/
 *   tables/<ks>/<table>/<id> -> ../../../snapshots/<id>
 */
#ifndef SNAPFS_VIEW_H
#define SNAPFS_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

struct view_tablet_dir {
	char *rel; /* relative path inside the snapshot dir: "ks/table/tablet-<id>" */
	char *src; /* absolute path of the checkpoint directory in DATA */
};

struct view_snapshot {
	char id[33];	 /* 32 lowercase hex digits */
	int64_t wall_us; /* creation wall time (µs since epoch): synthetic dir times */
	char *keyspace;
	char *meta_dir; /* absolute DATA/snapshots/<id>: SNAPSHOT.json, SHA256SUMS */
	size_t ndirs;
	struct view_tablet_dir *dirs;
	size_t ntables;
	char **tables; /* table names (without keyspace) for tables/<ks>/<table>/<id> */
};

struct view_restore_point {
	char schedule_id[33];
	char *name;	      /* RFC 3339 time, e.g. 2026-11-23T10:00:00Z */
	char snapshot_id[33]; /* must name one of the catalog's snapshots */
};

struct view_catalog {
	size_t nsnaps;
	struct view_snapshot *snaps;
	size_t nrps;
	struct view_restore_point *rps;
};

/* Fills *out (zeroed by the caller) with what to show now. Returns 0 or a
 * negative errno. The view frees it with view_catalog_release(). Called from
 * view_start() and view_changed(), never from a FUSE request. */
typedef int (*view_list_fn)(void *arg, struct view_catalog *out);

/* How file content reaches readers (README, "Reading through the mount"). */
enum view_read_path {
	VIEW_READ_AUTO,	       /* splice, without a round trip per open; else copy */
	VIEW_READ_COPY,	       /* the daemon preads every byte and replies with it (two copies) */
	VIEW_READ_SPLICE,      /* the daemon splices every byte into its reply (one copy) */
	VIEW_READ_PASSTHROUGH, /* as auto, but a build without passthrough refuses to start */
};

struct view_opts {
	const char *mountpoint;
	int allow_other; /* add -o allow_other (only with --allow-other) */
	int debug;	 /* libfuse debug output to stderr */
	/* Where files of deleted snapshots still open are kept linked until
	 * the kernel lets them go: a directory on the snapshots' filesystem,
	 * made and emptied by the view (NULL: keep an fd open instead). */
	const char *hold_dir;
	/* Files up to this many bytes are pushed into the kernel's page cache
	 * when their directory is listed (0: never). */
	int push_max;
	enum view_read_path read_path;
	/* With passthrough, files up to this many bytes are still opened
	 * cached (their content pushed, see push_max); bigger ones are read
	 * by the kernel from the underlying file. */
	int64_t passthrough_min;
};

struct view;

/* Checks the mount point (missing, not a directory, not empty -> -EINVAL
 * with a message; a stale mount left by a killed daemon is unmounted with a
 * message on stderr), builds the first generation from list(arg), mounts
 * and starts the multithreaded FUSE loop in a thread of its own. On success
 * *out is the running view; the caller ends it with view_stop(). */
int view_start(struct view **out, const struct view_opts *o, view_list_fn list, void *arg,
	       struct errbuf *e);

/* The catalog changed: call list() again, swap in the new generation
 * atomically, and invalidate the kernel's entries for what changed
 * (snapshots/, latest, tables/, restore-points/). Thread-safe. */
void view_changed(struct view *v);

/* Unmounts, joins the FUSE thread, frees everything. NULL is a no-op. */
void view_stop(struct view *v);

/* "auto", "copy", "splice" or "passthrough" into *out: 0, or -EINVAL. */
int view_read_path_parse(const char *s, enum view_read_path *out);

/* Which path serves reads now: "passthrough", "splice" or "copy" (static
 * strings), and in why (at least 200 bytes) what decided it; *served is
 * the bytes of file content the daemon itself has sent to readers (not
 * those the kernel read through passthrough). Thread-safe. */
const char *view_read_path_now(struct view *v, char *why, size_t whylen, uint64_t *served);

/* Frees what a view_list_fn put in c (not c itself). */
void view_catalog_release(struct view_catalog *c);

#endif
