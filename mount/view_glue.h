/*
 * view_glue: the daemon's side of the FUSE view and of start-up restore —
 * turns the snapshot module's COMPLETE snapshots into the view's catalog,
 * and bumps the view when they change.
 */
#ifndef SNAPFS_VIEW_GLUE_H
#define SNAPFS_VIEW_GLUE_H

#include "snapfs.h"

/* DATA/view-holds: files of deleted snapshots kept for readers of the mount. */
#define VIEW_HOLD_DIR "view-holds"
/* Files up to this size are pushed into the kernel's page cache when their
 * directory is listed: RocksDB's MANIFEST, OPTIONS, CURRENT and small SSTs.
 * Bigger files stream through readahead (1 MiB requests). */
#define VIEW_PUSH_MAX (64 * 1024)

/* Mounts DATA's view at d->mountpoint and follows the snapshot set. */
int daemon_view_start(struct daemon *d, struct errbuf *e);
/* Removes the holds a killed daemon left (DATA/view-holds). */
void daemon_view_clear_holds(struct daemon *d);
void daemon_view_stop(struct daemon *d);

/* Before the store opens: a DATA/_restore marker restores DATA/restore/. */
int daemon_startup_restore(struct daemon *d, struct errbuf *e);

#endif
