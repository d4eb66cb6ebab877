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

static int print_lines(void *arg, json_object *arr)
{
	const struct cli_opts *o = arg;
	size_t n = json_object_array_length(arr);

	if (o->json)
		return cli_print_json_lines(arr);
	for (size_t i = 0; i < n; i++) {
		json_object *x = json_object_array_get_idx(arr, i);

		if (json_object_object_get(x, "interval"))
			printf("%-32s  %-12s  every %-6s  keep %s\n",
			       json_object_get_string(json_object_object_get(x, "id")),
			       json_object_get_string(json_object_object_get(x, "keyspace")),
			       json_object_get_string(json_object_object_get(x, "interval")),
			       json_object_get_string(json_object_object_get(x, "retention")));
		else
			printf("%-12s  %s .. %s  (schedule %s, %d snapshots)\n",
			       json_object_get_string(json_object_object_get(x, "keyspace")),
			       json_object_get_string(json_object_object_get(x, "earliest")),
			       json_object_get_string(json_object_object_get(x, "latest")),
			       json_object_get_string(json_object_object_get(x, "schedule_id")),
			       json_object_get_int(json_object_object_get(x, "snapshots")));
	}
	return 0;
}

static int print_id(void *arg, json_object *o)
{
	puts(json_object_get_string(json_object_object_get(o, "id")));
	return 0;
}

int cmd_schedule(int argc, char **argv)
{
	struct cli_opts o;
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_lines};
	const char *sub = argc > 1 ? argv[1] : "";
	char iv[24], rt[24];
	int64_t ius, rus;
	struct errbuf e;
	int rc;

	ctl_msg_init(&req, CTL_REQ);
	if (!strcmp(sub, "create")) {
		rc = cli_parse(argc - 1, argv + 1, "data interval retention", 1, 1, &o);
		if (rc)
			return rc;
		if (!o.interval || !o.retention) {
			cli_opts_release(&o);
			return cli_error(-EINVAL,
					 "schedule create: --interval DUR and --retention DUR "
					 "are required");
		}
		if (hlc_parse_duration(o.interval, &ius, &e) ||
		    hlc_parse_duration(o.retention, &rus, &e)) {
			cli_opts_release(&o);
			return cli_error(-EINVAL, "%s", e.msg);
		}
		snprintf(iv, sizeof(iv), "%" PRId64, ius);
		snprintf(rt, sizeof(rt), "%" PRId64, rus);
		ctl_adds(&req, "verb", "schedule.create");
		ctl_adds(&req, "keyspace", o.pos[0]);
		ctl_adds(&req, "interval_us", iv);
		ctl_adds(&req, "retention_us", rt);
		r.on_json = print_id;
	} else if (!strcmp(sub, "list")) {
		rc = cli_parse(argc - 1, argv + 1, "data json", 0, 0, &o);
		if (rc)
			return rc;
		ctl_adds(&req, "verb", "schedule.list");
	} else if (!strcmp(sub, "delete")) {
		rc = cli_parse(argc - 1, argv + 1, "data", 1, 1, &o);
		if (rc)
			return rc;
		ctl_adds(&req, "verb", "schedule.delete");
		ctl_adds(&req, "id", o.pos[0]);
	} else {
		return cli_error(-EINVAL,
				 "schedule: sub-command '%s' unknown (create, list, delete)", sub);
	}
	r.arg = &o;
	rc = cli_call(o.data, &req, &r);
	if (rc == EXIT_OK && !strcmp(sub, "delete"))
		printf("snapfs: schedule '%s' deleted\n", o.pos[0]);
	cli_opts_release(&o);
	return rc;
}

int cmd_restore_point(int argc, char **argv)
{
	struct cli_opts o;
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_lines};
	const char *sub = argc > 1 ? argv[1] : "";
	int rc;

	if (strcmp(sub, "list"))
		return cli_error(-EINVAL, "restore-point: sub-command '%s' unknown (list)", sub);
	rc = cli_parse(argc - 1, argv + 1, "data json", 0, 0, &o);
	if (rc)
		return rc;
	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "restorepoint.list");
	r.arg = &o;
	rc = cli_call(o.data, &req, &r);
	cli_opts_release(&o);
	return rc;
}

/* restore --to TIME KS (called by cmd_restore). */
int cmd_restore_to(struct cli_opts *o)
{
	struct ctl_msg req;
	struct errbuf e;
	uint64_t ht;
	char buf[24];
	int rc;

	if (hlc_parse_time(o->to, hlc_wall_us(), &ht, &e))
		return cli_error(-EINVAL, "%s", e.msg);
	snprintf(buf, sizeof(buf), "%" PRIu64, ht);
	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "restore.to");
	ctl_adds(&req, "keyspace", o->pos[0]);
	ctl_adds(&req, "at", buf);
	rc = cli_call(o->data, &req, NULL);
	if (rc == EXIT_OK)
		printf("snapfs: keyspace '%s' restored to %s\n", o->pos[0], o->to);
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
