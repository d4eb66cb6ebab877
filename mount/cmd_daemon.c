/*
 * cmd_daemon: init, serve, stop, status — the verbs about the store and its
 * daemon rather than its data.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "snap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

int cmd_init(int argc, char **argv)
{
	struct cli_opts a;
	struct errbuf e;
	int created = 0, rc = cli_parse(argc, argv, "data", 0, 0, &a);

	if (rc)
		return rc;
	rc = store_init(a.data, &created, &e);
	if (rc)
		rc = cli_error(rc, "%s", e.msg);
	else
		printf("snapfs: %s '%s'\n", created ? "initialised" : "already initialised",
		       a.data);
	cli_opts_release(&a);
	return rc;
}

int cmd_serve(int argc, char **argv)
{
	struct cli_opts a;
	char *mnt = NULL;
	int rc = cli_parse(argc, argv, "data mount foreground allow-other", 0, 0, &a);

	if (rc)
		return rc;
	if (a.mount)
		mnt = a.mount[0] == '/' ? xstrdup(a.mount) : cli_data_dir(a.mount);
	rc = daemon_serve(a.data, mnt, a.foreground, a.allow_other);
	free(mnt);
	cli_opts_release(&a);
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

int cmd_stop(int argc, char **argv)
{
	struct cli_opts a;
	struct ctl_msg req;
	int rc = cli_parse(argc, argv, "data", 0, 0, &a);

	if (rc)
		return rc;
	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "stop");
	rc = cli_call(a.data, &req, NULL);
	if (rc == EXIT_OK) {
		if (wait_unlocked(a.data, 120))
			rc = cli_error(-ETIMEDOUT, "daemon of '%s': still running after 120 s",
				       a.data);
		else
			printf("snapfs: stopped '%s'\n", a.data);
	}
	cli_opts_release(&a);
	return rc;
}

static int print_status(void *arg, json_object *o)
{
	int *json = arg;

	if (*json) {
		puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		return 0;
	}
	json_object_object_foreach(o, key, val)
	{
		printf("%-12s %s\n", key,
		       json_object_is_type(val, json_type_string)
			   ? json_object_get_string(val)
			   : json_object_to_json_string(val));
	}
	return 0;
}

int cmd_status(int argc, char **argv)
{
	struct cli_opts a;
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_status};
	int rc = cli_parse(argc, argv, "data json", 0, 0, &a);

	if (rc)
		return rc;
	r.arg = &a.json;
	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "status");
	rc = cli_call(a.data, &req, &r);
	cli_opts_release(&a);
	return rc;
}

int srv_status(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	json_object *o = json_object_new_object();
	char since[40];
	int rc;

	hlc_format_rfc3339(d->started_us, 0, since, sizeof(since));
	json_object_object_add(o, "pid", json_object_new_int((int)getpid()));
	json_object_object_add(o, "data", json_object_new_string(d->data));
	json_object_object_add(o, "mount",
			       d->mountpoint ? json_object_new_string(d->mountpoint)
					     : json_object_new_null());
	json_object_object_add(o, "since", json_object_new_string(since));
	pthread_rwlock_rdlock(&d->store.lock);
	json_object_object_add(o, "tables", json_object_new_int((int)d->store.ntables));
	pthread_rwlock_unlock(&d->store.lock);
	json_object_object_add(o, "snapshots", json_object_new_int((int)snapshots_count(d->snaps)));
	json_object_object_add(o, "hybrid_time", json_object_new_uint64(hlc_last(&d->store.clock)));
	rc = srv_send_json(fd, o);
	json_object_put(o);
	return rc;
}

/* The stop itself is requested by the dispatcher after the reply. */
int srv_stop(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	return 0;
}
