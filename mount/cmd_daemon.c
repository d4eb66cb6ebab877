/*
 * cmd_daemon: init, serve, stop, status — the verbs about the store and its
 * daemon rather than its data.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "jtime.h"
#include "snap.h"
#include "view.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

/* -EBUSY naming the pid when a daemon holds DATA's lock, else 0. */
static int check_not_served(const char *data, struct errbuf *e)
{
	char *path = fs_path("%s/snapfs.lock", data), pid[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;
	ssize_t n;

	free(path);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		n = pread(fd, pid, sizeof(pid) - 1, 0);
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		rc = err_set(e, -EBUSY, "data directory '%s': already served by pid %s", data,
			     pid[0] ? pid : "?");
	}
	close(fd);
	return rc;
}

int cmd_init(struct cli_opts *o)
{
	struct errbuf e;
	int created = 0, rc = check_not_served(o->data, &e);

	if (!rc)
		rc = store_init(o->data, &created, &e);
	if (rc)
		return cli_error(rc, "%s", e.msg);
	printf("snapfs: %s '%s'\n", created ? "initialised" : "already initialised", o->data);
	return EXIT_OK;
}

int cmd_serve(struct cli_opts *o)
{
	char *mnt = NULL, cwd[4096];
	int rc;

	if (o->mount)
		mnt = o->mount[0] == '/' || !getcwd(cwd, sizeof(cwd))
			  ? xstrdup(o->mount)
			  : fs_path("%s/%s", cwd, o->mount);
	rc = daemon_serve(o->data, mnt, o->foreground, o->allow_other,
			  o->quiet	? -1
			  : o->progress ? 1
					: 0);
	free(mnt);
	return rc;
}

/* Waits until nobody holds DATA's lock (the daemon has fully exited). */
static int wait_unlocked(const char *data, int seconds)
{
	char *path = fs_path("%s/snapfs.lock", data);
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -ETIMEDOUT;

	free(path);
	if (fd < 0)
		return 0;
	for (int i = 0; i < seconds * 20; i++) {
		if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
			rc = 0;
			break;
		}
		usleep(50000);
	}
	close(fd);
	return rc;
}

int cmd_stop(struct cli_opts *o)
{
	struct ctl_msg req;
	int rc;

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "stop");
	rc = cli_call(o->data, &req, NULL);
	if (rc == EXIT_OK) {
		if (wait_unlocked(o->data, 120))
			rc = cli_error(-ETIMEDOUT, "daemon of '%s': still running after 120 s",
				       o->data);
		else
			printf("snapfs: stopped '%s'\n", o->data);
	}
	return rc;
}

static int print_status(void *arg, json_object *o)
{
	const struct cli_opts *opts = arg;

	if (opts->json)
		return cli_print_json(o) ? EXIT_INTERNAL : 0;
	return status_print_text(o) ? EXIT_INTERNAL : 0;
}

int cmd_status(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_status, .arg = o};

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "status");
	return cli_call(o->data, &req, &r);
}

int srv_status(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	json_object *o = json_object_new_object();
	int rc;

	json_object_object_add(o, "version", json_object_new_string(snapfs_version()));
	json_object_object_add(o, "git",
			       snapfs_git() ? json_object_new_string(snapfs_git()) : NULL);
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(o, "data", json_object_new_string(d->data));
	json_object_object_add(o, "mount",
			       d->mountpoint ? json_object_new_string(d->mountpoint)
					     : json_object_new_null());
	jtime_add_us(o, "started", d->started_us);
	status_add_uptime(o, d);
	/* d->view is set before the first client is accepted and cleared
	 * after the last one is gone (daemon.c's shut-down order) */
	if (d->view) {
		char why[256];
		uint64_t served;
		const char *path = view_read_path_now(d->view, why, sizeof(why), &served);

		json_object_object_add(o, "read_path", json_object_new_string(path));
		json_object_object_add(o, "read_reason", json_object_new_string(why));
		json_object_object_add(o, "read_bytes", json_object_new_uint64(served));
	}
	json_object_object_add(o, "tables", json_object_new_int((int)store_table_count(d->store)));
	json_object_object_add(o, "snapshots", json_object_new_int((int)snapshots_count(d->snaps)));
	jtime_add(o, NULL, hlc_last(store_clock(d->store))); /* the clock: last time handed out */
	status_add_keyspaces(o, d);
	rc = srv_send_json(fd, o);
	json_object_put(o);
	return rc;
}

/* The stop itself is requested by the dispatcher after the reply. */
int srv_stop(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	return 0;
}
