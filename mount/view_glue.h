/*
 * view_glue: the daemon's side of the FUSE view and of start-up restore —
 * turns the snapshot module's COMPLETE snapshots into the view's catalog,
 * and bumps the view when they change.
 */
#ifndef SNAPFS_VIEW_GLUE_H
#define SNAPFS_VIEW_GLUE_H

#include "snapfs.h"

int daemon_view_start(struct daemon *d, struct errbuf *e);
void daemon_view_stop(struct daemon *d);

/* Before the store opens: a DATA/_restore marker restores DATA/restore/. */
int daemon_startup_restore(struct daemon *d, struct errbuf *e);

#endif
