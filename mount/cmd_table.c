/*
 * cmd_table: table create | list | drop, both ends.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "parse.h"
#include "partition.h"
#include "schedule.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int print_tables(void *arg, json_object *arr)
{
	const struct cli_opts *o = arg;
	size_t n = json_object_array_length(arr);

	if (o->json)
		return cli_print_json(arr) ? EXIT_INTERNAL : 0;
	printf("%-32s  %-40s  %s\n", "ID", "TABLE", "TABLETS");
	for (size_t i = 0; i < n; i++) {
		json_object *t = json_object_array_get_idx(arr, i), *ks, *name, *id, *nt;
		char full[140];

		json_object_object_get_ex(t, "keyspace", &ks);
		json_object_object_get_ex(t, "name", &name);
		json_object_object_get_ex(t, "id", &id);
		json_object_object_get_ex(t, "tablets", &nt);
		snprintf(full, sizeof(full), "%s.%s", json_object_get_string(ks),
			 json_object_get_string(name));
		printf("%-32s  %-40s  %d\n", json_object_get_string(id), full,
		       json_object_get_int(nt));
	}
	return 0;
}

int cmd_table_create(struct cli_opts *o)
{
	struct ctl_msg req;
	char n[24];
	int rc;

	snprintf(n, sizeof(n), "%" PRIu64, o->tablets);
	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "table.create");
	ctl_adds(&req, "table", o->pos[0]);
	ctl_adds(&req, "tablets", n);
	rc = cli_call(o->data, &req, NULL);
	if (rc == EXIT_OK)
		printf("snapfs: table '%s' created\n", o->pos[0]);
	return rc;
}

int cmd_table_list(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_tables, .arg = o};

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "table.list");
	return cli_call(o->data, &req, &r);
}

int cmd_table_drop(struct cli_opts *o)
{
	struct ctl_msg req;
	int rc;

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "table.drop");
	ctl_adds(&req, "table", o->pos[0]);
	rc = cli_call(o->data, &req, NULL);
	if (rc == EXIT_OK)
		printf("snapfs: table '%s' dropped\n", o->pos[0]);
	return rc;
}

int srv_table_create(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *table = NULL;
	uint64_t n = 4;
	int rc = srv_arg(req, "table", &table, e);

	if (!rc)
		rc = srv_arg_num(req, "tablets", 1, PARTITION_MAX_TABLETS, &n, e);
	if (rc == -ENOENT)
		rc = 0;
	if (!rc)
		rc = store_table_create(d->store, table, (unsigned)n, e);
	if (!rc)
		dlog("table '%s' created with %" PRIu64 " tablets", table, n);
	free(table);
	return rc;
}

int srv_table_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	json_object *arr = NULL;
	int rc = store_table_list(d->store, &arr, e);

	if (!rc)
		rc = srv_send_json(fd, arr);
	json_object_put(arr);
	return rc;
}

int srv_table_drop(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *table = NULL;
	struct tablerec t = {0};
	int rc = srv_arg(req, "table", &table, e);

	/* a scheduled keyspace keeps the dropped table restorable: snapshot first */
	if (!rc)
		rc = store_table_find(d->store, table, &t, e);
	if (!rc)
		rc = schedule_before_drop(d->sched, t.ks, e);
	tablerec_release(&t);
	if (!rc)
		rc = store_table_drop(d->store, table, e);
	if (!rc)
		dlog("table '%s' dropped", table);
	free(table);
	return rc;
}
