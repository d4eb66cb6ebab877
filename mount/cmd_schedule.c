/*
 * cmd_schedule: schedule create | list | delete, restore-point list, and
 * restore --to TIME KS (point-in-time recovery), both ends.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "schedule.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jget(json_object *x, const char *key)
{
	json_object *v = json_object_object_get(x, key);

	return v ? json_object_get_string(v) : "-";
}

static int print_schedules(void *arg, json_object *arr)
{
	const struct cli_opts *o = arg;

	if (o->json)
		return cli_print_json(arr) ? EXIT_INTERNAL : 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *x = json_object_array_get_idx(arr, i);

		printf("%-32s  %-12s  every %-6s  keep %s\n", jget(x, "id"), jget(x, "keyspace"),
		       jget(x, "interval"), jget(x, "retention"));
	}
	return 0;
}

static int print_points(void *arg, json_object *arr)
{
	const struct cli_opts *o = arg;

	if (o->json)
		return cli_print_json(arr) ? EXIT_INTERNAL : 0;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *x = json_object_array_get_idx(arr, i);

		printf("%-12s  %s .. %s  (schedule %s, %d snapshots)\n", jget(x, "keyspace"),
		       jget(x, "earliest_time"), jget(x, "latest_time"), jget(x, "schedule_id"),
		       json_object_get_int(json_object_object_get(x, "snapshots")));
	}
	return 0;
}

static int print_id(void *arg, json_object *o)
{
	puts(jget(o, "id"));
	return 0;
}

int cmd_schedule_create(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_id};
	char iv[24], rt[24];

	snprintf(iv, sizeof(iv), "%" PRId64, o->interval.us);
	snprintf(rt, sizeof(rt), "%" PRId64, o->retention.us);
	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "schedule.create");
	ctl_adds(&req, "keyspace", o->pos[0]);
	ctl_adds(&req, "interval_us", iv);
	ctl_adds(&req, "retention_us", rt);
	return cli_call(o->data, &req, &r);
}

int cmd_schedule_list(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_schedules, .arg = o};

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "schedule.list");
	return cli_call(o->data, &req, &r);
}

int cmd_schedule_delete(struct cli_opts *o)
{
	struct ctl_msg req;
	int rc;

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "schedule.delete");
	ctl_adds(&req, "id", o->pos[0]);
	rc = cli_call(o->data, &req, NULL);
	if (rc == EXIT_OK)
		printf("snapfs: schedule '%s' deleted\n", o->pos[0]);
	return rc;
}

int cmd_restore_point_list(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_points, .arg = o};

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "restorepoint.list");
	return cli_call(o->data, &req, &r);
}

int cmd_restore_to(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {0};
	char buf[24];
	int rc;

	snprintf(buf, sizeof(buf), "%" PRIu64, o->to.ht);
	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "restore.to");
	ctl_adds(&req, "keyspace", o->pos[0]);
	ctl_adds(&req, "at", buf);
	rc = cli_call_progress(o, &req, &r);
	if (rc == EXIT_OK)
		printf("snapfs: keyspace '%s' restored to %s\n", o->pos[0], o->to.text);
	return rc;
}

int srv_schedule_create(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *ks = NULL, id[ID_LEN + 1];
	uint64_t iv = 0, rt = 0;
	json_object *o;
	int rc = srv_arg(req, "keyspace", &ks, e);

	if (!rc)
		rc = srv_arg_u64(req, "interval_us", &iv, e);
	if (!rc)
		rc = srv_arg_u64(req, "retention_us", &rt, e);
	if (rc == -ENOENT)
		rc = err_set(e, -EINVAL, "schedule create: interval or retention missing");
	if (!rc && (iv > INT64_MAX || rt > INT64_MAX))
		rc = err_set(e, -EINVAL, "schedule create: duration too large");
	if (!rc)
		rc = schedule_create(d->sched, ks, (int64_t)iv, (int64_t)rt, id, e);
	if (!rc) {
		dlog("schedule '%s' of keyspace '%s' created", id, ks);
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(id));
		rc = srv_send_json(fd, o);
		json_object_put(o);
	}
	free(ks);
	return rc;
}

static int send_list(int fd, int rc, json_object *arr)
{
	if (!rc)
		rc = srv_send_json(fd, arr);
	json_object_put(arr);
	return rc;
}

int srv_schedule_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	json_object *arr = NULL;
	int rc = schedule_list(d->sched, &arr, e);

	return send_list(fd, rc, arr);
}

int srv_restorepoint_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	json_object *arr = NULL;
	int rc = schedule_restore_points(d->sched, &arr, e);

	return send_list(fd, rc, arr);
}

int srv_schedule_delete(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *id = NULL;
	int rc = srv_arg(req, "id", &id, e);

	if (!rc)
		rc = schedule_delete(d->sched, id, e);
	if (!rc)
		dlog("schedule '%s' deleted", id);
	free(id);
	return rc;
}

int srv_restore_to(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *ks = NULL;
	uint64_t at = 0;
	int rc = srv_arg(req, "keyspace", &ks, e);

	if (!rc)
		rc = srv_arg_u64(req, "at", &at, e);
	if (rc == -ENOENT)
		rc = err_set(e, -EINVAL, "restore: --to TIME missing");
	if (!rc)
		rc = schedule_restore_to(d->sched, ks, at, e);
	if (!rc)
		dlog("keyspace '%s' restored to hybrid time %" PRIu64, ks, at);
	free(ks);
	return rc;
}
