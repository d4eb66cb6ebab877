/*
 * view_glue: feeds the FUSE view from the snapshot module (see
 * view_glue.h). The list callback runs in the view's own context; the
 * listener runs in the thread that changed the snapshot set.
 *
 * Synchronisation of d->view and the listener: d->view is written only by
 * the main thread, before the listener is set (daemon_view_start) and
 * after it is cleared (daemon_view_stop). The snapshot module calls the
 * listener under its listener lock and snapshots_set_listener takes that
 * lock, so every call of changed() happens after d->view was set and
 * before it is cleared: changed() reads it without a lock of its own, and
 * view_stop() frees the view only once no call can be under way. d->snaps
 * outlives the view (daemon.c's shut-down order), so list_cb may use it.
 */
#include "view_glue.h"

#include "fsutil.h"
#include "restore.h"
#include "snap.h"
#include "view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int list_cb(void *arg, struct view_catalog *out)
{
	struct daemon *d = arg;
	struct snap_info *v = NULL;
	size_t n = 0;
	int rc = snap_complete_list(d->snaps, &v, &n);

	if (rc)
		return rc;
	out->snaps = xcalloc(n, sizeof(*out->snaps));
	out->nsnaps = n;
	for (size_t i = 0; i < n; i++) {
		struct view_snapshot *s = &out->snaps[i];
		const struct manifest *m = &v[i].m;
		size_t k = 0;

		strcpy(s->id, v[i].id);
		s->wall_us = v[i].wall_us;
		s->keyspace = xstrdup(m->keyspace);
		s->meta_dir = xstrdup(v[i].meta_dir);
		s->ndirs = v[i].ntablet_dirs;
		s->dirs = xcalloc(s->ndirs, sizeof(*s->dirs));
		s->ntables = m->ntables;
		s->tables = xcalloc(m->ntables, sizeof(char *));
		for (size_t a = 0; a < m->ntables; a++) {
			s->tables[a] = xstrdup(m->tables[a].name);
			for (size_t b = 0; b < m->tables[a].ntablets; b++, k++) {
				s->dirs[k].rel =
				    manifest_tablet_dir(m, &m->tables[a], &m->tables[a].tablets[b]);
				s->dirs[k].src = xstrdup(v[i].tablet_dirs[k]);
			}
		}
	}
	/* restore-points/<schedule_id>/<RFC 3339 time>/ for schedule snapshots */
	out->rps = xcalloc(n, sizeof(*out->rps));
	for (size_t i = 0; i < n; i++) {
		struct view_restore_point *rp;
		char name[40];
		int clash = 0;

		if (!v[i].schedule_id[0])
			continue;
		hlc_format_rfc3339(v[i].wall_us, 0, name, sizeof(name));
		for (size_t k = 0; k < out->nrps; k++)
			clash |= !strcmp(out->rps[k].schedule_id, v[i].schedule_id) &&
				 !strcmp(out->rps[k].name, name);
		if (clash) /* two in one second: the finer name tells them apart */
			hlc_format_rfc3339(v[i].wall_us, 1, name, sizeof(name));
		rp = &out->rps[out->nrps++];
		strcpy(rp->schedule_id, v[i].schedule_id);
		strcpy(rp->snapshot_id, v[i].id);
		rp->name = xstrdup(name);
	}
	snap_info_free(v, n);
	return 0;
}

static void changed(void *arg)
{
	struct daemon *d = arg;

	if (d->view)
		view_changed(d->view);
}

/* Files of deleted snapshots that the kernel still has open stay linked
 * here until it lets them go (fs/view_inodes.c): in DATA, so on the
 * snapshots' filesystem. */
static char *hold_dir(const struct daemon *d)
{
	return fs_path("%s/%s", d->data, VIEW_HOLD_DIR);
}

void daemon_view_clear_holds(struct daemon *d)
{
	char *dir = hold_dir(d);

	/* a daemon killed while a reader had such a file open; nothing can
	 * read them now that it is gone */
	fs_remove_tree(dir);
	free(dir);
}

int daemon_view_start(struct daemon *d, struct errbuf *e)
{
	char *holds = hold_dir(d);
	struct view_opts o = {
	    .mountpoint = d->mountpoint,
	    .allow_other = d->allow_other,
	    .debug = getenv("SNAPFS_FUSE_DEBUG") != NULL,
	    .hold_dir = holds,
	    .push_max = VIEW_PUSH_MAX,
	    .passthrough_min = VIEW_PUSH_MAX,
	};
	const char *rp = getenv("SNAPFS_READ_PATH");
	int rc = view_read_path_parse(rp, &o.read_path);

	if (rc) {
		free(holds);
		return err_set(e, rc,
			       "SNAPFS_READ_PATH '%s': not auto, passthrough, splice or copy", rp);
	}
	rc = view_start(&d->view, &o, list_cb, d, e);

	free(holds);
	if (!rc) {
		snapshots_set_listener(d->snaps, changed, d);
		/* a snapshot that completed between the view's first listing and
		 * the listener being set was told to nobody: list again */
		view_changed(d->view);
	}
	return rc;
}

void daemon_view_stop(struct daemon *d)
{
	if (!d->view)
		return;
	/* first: after this no changed() runs, nor will */
	snapshots_set_listener(d->snaps, NULL, NULL);
	view_stop(d->view);
	d->view = NULL;
}

int daemon_startup_restore(struct daemon *d, struct errbuf *e)
{
	char *what = NULL;
	struct serve_progress *sp = serve_progress_start(d);
	int rc = restore_marker_run(d->data, &what, e);

	serve_progress_stop(sp);

	if (what)
		dlog("%s", what);
	free(what);
	return rc;
}
