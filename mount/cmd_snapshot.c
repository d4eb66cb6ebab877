/*
 * cmd_snapshot: snapshot create | list | delete | export | restore, both
 * ends (the handler of restore is in cmd_restore.c).
 */
#include "snapfs.h"

#include "fsutil.h"
#include "snap.h"
#include "space.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void human_bytes(uint64_t b, char *buf, size_t len)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static const char *str_or_dash(json_object *o, const char *key)
{
	json_object *v = json_object_object_get(o, key);

	return v ? json_object_get_string(v) : "-";
}

static int print_list(void *arg, json_object *arr)
{
	const struct cli_opts *o = arg;
	size_t n = json_object_array_length(arr);

	if (o->json)
		return cli_print_json(arr) ? EXIT_INTERNAL : 0;
	printf("%-32s  %-9s  %-27s  %-12s  %10s  %10s  %s\n", "ID", "STATE", "TIME", "KEYSPACE",
	       "BYTES", "EXCLUSIVE", "TABLES");
	for (size_t i = 0; i < n; i++) {
		json_object *s = json_object_array_get_idx(arr, i), *v, *tabs;
		char bytes[32], excl[32] = "-";

		json_object_object_get_ex(s, "bytes", &v);
		human_bytes(json_object_get_uint64(v), bytes, sizeof(bytes));
		if (json_object_object_get_ex(s, "exclusive_bytes", &v) && v)
			human_bytes(json_object_get_uint64(v), excl, sizeof(excl));
		printf("%-32s", str_or_dash(s, "id"));
		printf("  %-9s", str_or_dash(s, "state"));
		printf("  %-27s", str_or_dash(s, "time"));
		printf("  %-12s", str_or_dash(s, "keyspace"));
		printf("  %10s  %10s  ", bytes, excl);
		tabs = json_object_object_get(s, "tables");
		for (size_t j = 0; j < json_object_array_length(tabs); j++)
			printf("%s%s", j ? "," : "",
			       json_object_get_string(json_object_array_get_idx(tabs, j)));
		putchar('\n');
	}
	return 0;
}

static int print_id(void *arg, json_object *o)
{
	json_object *v;

	if (json_object_object_get_ex(o, "id", &v))
		puts(json_object_get_string(v));
	return 0;
}

static int write_export(void *arg, json_object *o)
{
	const char *file = arg;
	json_object *v;
	const char *text;
	int rc;

	if (!json_object_object_get_ex(o, "snapshot_json", &v))
		return -EBADMSG;
	text = json_object_get_string(v);
	if (!strcmp(file, "-")) {
		fputs(text, stdout);
		return 0;
	}
	rc = fs_write_atomic(file, text, strlen(text), 0644);
	if (rc == -ENOENT)
		return cli_error(rc, "export file '%s': its directory does not exist", file);
	if (rc == -EACCES || rc == -EPERM || rc == -EROFS)
		return cli_error(-EPERM, "export file '%s': %s", file, strerror(-rc));
	if (rc)
		return cli_error(rc, "export file '%s': %s", file, strerror(-rc));
	return 0;
}

int cmd_snapshot_create(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_id};

	if (o->npos - 1 > CTL_MAX_FIELDS - 2)
		return cli_error(-EINVAL, "snapshot create: %d tables: at most %d in one request",
				 o->npos - 1, CTL_MAX_FIELDS - 2);
	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "snapshot.create");
	ctl_adds(&req, "keyspace", o->pos[0]);
	for (int i = 1; i < o->npos; i++)
		ctl_adds(&req, "table", o->pos[i]);
	return cli_call_progress(o, &req, &r);
}

int cmd_snapshot_list(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_list, .arg = o};

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "snapshot.list");
	if (o->keyspace)
		ctl_adds(&req, "keyspace", o->keyspace);
	return cli_call(o->data, &req, &r);
}

int cmd_snapshot_delete(struct cli_opts *o)
{
	struct ctl_msg req;
	int rc;

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "snapshot.delete");
	ctl_adds(&req, "id", o->pos[0]);
	rc = cli_call(o->data, &req, NULL);
	if (rc == EXIT_OK)
		printf("snapfs: snapshot '%s' deleted\n", o->pos[0]);
	return rc;
}

int cmd_snapshot_export(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {.on_json = write_export, .arg = o->pos[1]};

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "snapshot.export");
	ctl_adds(&req, "id", o->pos[0]);
	return cli_call(o->data, &req, &r);
}

int cmd_snapshot_restore(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {0};
	int rc;

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "snapshot.restore");
	ctl_adds(&req, "id", o->pos[0]);
	if (o->table)
		ctl_adds(&req, "table", o->table);
	if (o->as)
		ctl_adds(&req, "as", o->as);
	rc = cli_call_progress(o, &req, &r);
	if (rc == EXIT_OK)
		printf("snapfs: snapshot '%s' restored\n", o->pos[0]);
	return rc;
}

int srv_snapshot_create(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *ks = NULL, *tables[CTL_MAX_FIELDS], id[ID_LEN + 1];
	size_t n = 0;
	json_object *o;
	int rc = srv_arg(req, "keyspace", &ks, e);

	for (unsigned i = 0; !rc && i < req->n; i++) {
		if (strcmp(req->f[i].name, "table"))
			continue;
		tables[n] = xmalloc(req->f[i].len + 1);
		memcpy(tables[n], req->f[i].val, req->f[i].len);
		tables[n][req->f[i].len] = '\0';
		if (!name_valid(tables[n]))
			rc = err_set(e, -EINVAL, "table '%s': not a valid name", tables[n]);
		n++;
	}
	if (!rc)
		rc = snap_create(d->snaps, ks, tables, n, NULL, id, e);
	if (!rc) {
		dlog("snapshot '%s' of keyspace '%s' COMPLETE", id, ks);
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(id));
		rc = srv_send_json(fd, o);
		json_object_put(o);
	} else if (ks) {
		dlog("snapshot of keyspace '%s' failed: %s", ks, e->msg);
	}
	for (size_t i = 0; i < n; i++)
		free(tables[i]);
	free(ks);
	return rc;
}

/* Adds to each snapshot of the listing what deleting it would free (see
 * space.h), and keeps only those of keyspace ks when ks is not NULL. */
static json_object *with_space(struct daemon *d, json_object *arr, const char *ks)
{
	json_object *out = json_object_new_array();
	struct space_usage u;

	space_measure(d->store, d->snaps, &u);
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		json_object *s = json_object_array_get_idx(arr, i), *v;
		const struct space_snapshot *sp;

		if (ks && (!json_object_object_get_ex(s, "keyspace", &v) ||
			   strcmp(json_object_get_string(v), ks)))
			continue;
		json_object_object_get_ex(s, "id", &v);
		sp = space_snapshot_find(&u, json_object_get_string(v));
		/* gone between the listing and the walk: nothing to free */
		json_object_object_add(s, "exclusive_bytes",
				       json_object_new_uint64(sp ? sp->exclusive_bytes : 0));
		json_object_array_add(out, json_object_get(s));
	}
	space_usage_release(&u);
	return out;
}

int srv_snapshot_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	json_object *arr = NULL, *out = NULL;
	char *ks = ctl_dup(req, "keyspace");
	int rc = 0;

	if (ks && !name_valid(ks))
		rc = err_set(e, -EINVAL, "keyspace '%s': not a valid name", ks);
	if (!rc)
		rc = snap_list(d->snaps, &arr, e);
	if (!rc)
		out = with_space(d, arr, ks);
	if (!rc && ks && !json_object_array_length(out) && !store_keyspace_exists(d->store, ks))
		rc = err_set(e, -ENOENT, "keyspace '%s': not found", ks);
	if (!rc)
		rc = srv_send_json(fd, out);
	json_object_put(out);
	json_object_put(arr);
	free(ks);
	return rc;
}

int srv_snapshot_delete(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *arg = NULL, id[ID_LEN + 1] = "";
	int rc = srv_arg(req, "id", &arg, e);

	if (!rc)
		rc = snap_resolve(d->snaps, arg, NULL, id, e);
	if (!rc)
		rc = snap_delete(d->snaps, id, e);
	if (!rc)
		dlog("snapshot '%s' deleted", id);
	free(arg);
	return rc;
}

int srv_snapshot_export(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *arg = NULL, *json = NULL, id[ID_LEN + 1] = "";
	size_t len = 0;
	json_object *o;
	int rc = srv_arg(req, "id", &arg, e);

	if (!rc)
		rc = snap_resolve(d->snaps, arg, NULL, id, e);
	if (!rc)
		rc = snap_export(d->snaps, id, &json, &len, e);
	if (!rc) {
		o = json_object_new_object();
		json_object_object_add(o, "snapshot_json",
				       json_object_new_string_len(json, (int)len));
		rc = srv_send_json(fd, o);
		json_object_put(o);
	}
	free(json);
	free(arg);
	return rc;
}
