/*
 * cmd_table: table create | list | drop, both ends.
 */
#include "snapfs.h"

#include "fsutil.h"
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
		return cli_print_json_lines(arr);
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

int cmd_table(int argc, char **argv)
{
	struct cli_opts o;
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_tables};
	char n[24];
	const char *sub = argc > 1 ? argv[1] : "";
	int rc;

	ctl_msg_init(&req, CTL_REQ);
	if (!strcmp(sub, "create")) {
		rc = cli_parse(argc - 1, argv + 1, "data tablets", 1, 1, &o);
		if (rc)
			return rc;
		snprintf(n, sizeof(n), "%" PRIu64, o.tablets ? o.tablets : 4);
		ctl_adds(&req, "verb", "table.create");
		ctl_adds(&req, "table", o.pos[0]);
		ctl_adds(&req, "tablets", n);
	} else if (!strcmp(sub, "list")) {
		rc = cli_parse(argc - 1, argv + 1, "data json", 0, 0, &o);
		if (rc)
			return rc;
		ctl_adds(&req, "verb", "table.list");
	} else if (!strcmp(sub, "drop")) {
		rc = cli_parse(argc - 1, argv + 1, "data", 1, 1, &o);
		if (rc)
			return rc;
		ctl_adds(&req, "verb", "table.drop");
		ctl_adds(&req, "table", o.pos[0]);
	} else {
		return cli_error(-EINVAL, "table: sub-command '%s' unknown (create, list, drop)",
				 sub);
	}
	r.arg = &o;
	rc = cli_call(o.data, &req, &r);
	if (rc == EXIT_OK && strcmp(sub, "list"))
		printf("snapfs: table '%s' %s\n", o.pos[0],
		       !strcmp(sub, "create") ? "created" : "dropped");
	cli_opts_release(&o);
	return rc;
}

int srv_table_create(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *table = NULL;
	uint64_t n = 4;
	int rc = srv_arg(req, "table", &table, e);

	if (!rc)
		rc = srv_arg_u64(req, "tablets", &n, e);
	if (rc == -ENOENT)
		rc = 0;
	if (!rc && n > 100000)
		rc = err_set(e, -EINVAL, "table '%s': --tablets %" PRIu64 ": too many", table, n);
	if (!rc)
		rc = store_table_create(&d->store, table, (unsigned)n, e);
	if (!rc)
		dlog("table '%s' created with %" PRIu64 " tablets", table, n);
	free(table);
	return rc;
}

int srv_table_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	json_object *arr = NULL;
	int rc = store_table_list(&d->store, &arr, e);

	if (!rc)
		rc = srv_send_json(fd, arr);
	json_object_put(arr);
	return rc;
}

int srv_table_drop(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *table = NULL;
	char ks[65], name[65];
	int rc = srv_arg(req, "table", &table, e);

	/* a scheduled keyspace keeps the dropped table restorable: snapshot first */
	if (!rc)
		rc = store_split_name(table, ks, name, e);
	if (!rc) {
		pthread_rwlock_rdlock(&d->store.lock);
		rc = store_find_locked(&d->store, ks, name)
			 ? 0
			 : err_set(e, -ENOENT, "table '%s': not found", table);
		pthread_rwlock_unlock(&d->store.lock);
	}
	if (!rc)
		rc = schedule_before_drop(d->sched, ks, e);
	if (!rc)
		rc = store_table_drop(&d->store, table, e);
	if (!rc)
		dlog("table '%s' dropped", table);
	free(table);
	return rc;
}
