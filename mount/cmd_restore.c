/*
 * cmd_restore: restore list, snapshot restore (online), and the offline
 * verbs that read a backup tree without any daemon: verify and dump.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "restore.h"
#include "snap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int print_restores(void *arg, json_object *arr)
{
	const struct cli_opts *o = arg;
	size_t n = json_object_array_length(arr);

	if (o->json)
		return cli_print_json_lines(arr);
	printf("%-27s  %-11s  %-32s  %-12s  %-27s  %s\n", "WHEN", "SOURCE", "SNAPSHOT", "KEYSPACE",
	       "CUT", "RESULT");
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(arr, i);

		printf("%-27s  %-11s  %-32s  %-12s  %-27s  %s\n",
		       json_object_get_string(json_object_object_get(r, "time")),
		       json_object_get_string(json_object_object_get(r, "source")),
		       json_object_get_string(json_object_object_get(r, "snapshot_id")),
		       json_object_get_string(json_object_object_get(r, "keyspace")),
		       json_object_get_string(json_object_object_get(r, "cut_time")),
		       json_object_get_string(json_object_object_get(r, "result")));
	}
	return 0;
}

int cmd_restore(int argc, char **argv)
{
	struct cli_opts o;
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_restores};
	const char *sub = argc > 1 ? argv[1] : "";
	int rc;

	if (!strcmp(sub, "list")) {
		rc = cli_parse(argc - 1, argv + 1, "data json", 0, 0, &o);
		if (rc)
			return rc;
		ctl_msg_init(&req, CTL_REQ);
		ctl_adds(&req, "verb", "restore.list");
		r.arg = &o;
		rc = cli_call(o.data, &req, &r);
		cli_opts_release(&o);
		return rc;
	}
	rc = cli_parse(argc, argv, "data to", 1, 1, &o);
	if (rc)
		return rc;
	if (!o.to) {
		cli_opts_release(&o);
		return cli_error(-EINVAL,
				 "restore: expected 'restore list' or 'restore --to TIME KS'");
	}
	rc = cmd_restore_to(&o);
	cli_opts_release(&o);
	return rc;
}

int srv_restore_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	json_object *arr = NULL;
	int rc = restore_list(&d->store.cat, &arr, e);

	if (!rc) {
		/* the key holds the time of the restore: give it a readable form */
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *r = json_object_array_get_idx(arr, i), *v;
			char when[40] = "";

			if (json_object_object_get_ex(r, "restored_us", &v))
				hlc_format_rfc3339(json_object_get_int64(v), 0, when, sizeof(when));
			json_object_object_add(r, "time", json_object_new_string(when));
		}
		rc = srv_send_json(fd, arr);
	}
	json_object_put(arr);
	return rc;
}

int srv_snapshot_restore(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *id = NULL, *table = ctl_dup(req, "table"), *as = ctl_dup(req, "as");
	int rc = srv_arg(req, "id", &id, e);

	if (!rc)
		rc = restore_snapshot(&d->store, d->snaps, id, table, as, e);
	if (!rc)
		dlog("restored snapshot '%s'%s%s%s%s online", id, table ? " table " : "",
		     table ? table : "", as ? " as " : "", as ? as : "");
	free(id);
	free(table);
	free(as);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	struct cli_opts o;
	struct manifest m;
	struct errbuf e;
	int rc = cli_parse(argc, argv, "json", 1, 1, &o);

	if (rc)
		return rc;
	rc = restore_verify(o.pos[0], &m, &e);
	if (rc) {
		rc = cli_error(rc, "verify '%s': %s", o.pos[0], e.msg);
	} else {
		size_t files = 0;

		for (size_t i = 0; i < m.ntables; i++)
			for (size_t j = 0; j < m.tables[i].ntablets; j++)
				files += m.tables[i].tablets[j].nfiles;
		printf("snapfs: '%s' is a good backup: snapshot %s of keyspace '%s', %zu tables, "
		       "%zu files\n",
		       o.pos[0], m.id, m.keyspace, m.ntables, files);
		manifest_release(&m);
	}
	cli_opts_release(&o);
	return rc;
}

static int dump_row(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	const struct cli_opts *o = arg;

	if (o->hex)
		cli_put_hex(stdout, k, kl);
	else
		cli_put_escaped(stdout, k, kl);
	fputc('\t', stdout);
	if (o->hex)
		cli_put_hex(stdout, v, vl);
	else
		cli_put_escaped(stdout, v, vl);
	fputc('\n', stdout);
	return 0;
}

/* Reads one table of a snapshot tree (a backup, the mount, or
 * DATA/snapshots/<id> with its checkpoints beside the tablets) at its cut,
 * straight from the files. */
int cmd_dump(int argc, char **argv)
{
	struct cli_opts o;
	struct manifest m = {0};
	struct errbuf e;
	char *json = NULL, *jpath, ks[65], name[65];
	struct tablet *tabs = NULL, **ptrs = NULL;
	size_t len, n = 0;
	int rc = cli_parse(argc, argv, "table hex", 1, 1, &o), have_m = 0;

	if (rc)
		return rc;
	if (!o.table) {
		cli_opts_release(&o);
		return cli_error(-EINVAL, "dump: --table KS.TABLE is required");
	}
	jpath = fs_path("%s/SNAPSHOT.json", o.pos[0]);
	rc = fs_read_all(jpath, MANIFEST_MAX_JSON, &json, &len);
	if (rc) {
		rc = cli_error(rc, "dump: '%s': %s", jpath, strerror(-rc));
		goto out;
	}
	rc = manifest_parse(json, len, &m, &e);
	if (rc) {
		rc = cli_error(rc, "dump: %s", e.msg);
		goto out;
	}
	have_m = 1;
	rc = store_split_name(o.table, ks, name, &e);
	if (rc) {
		rc = cli_error(rc, "%s", e.msg);
		goto out;
	}
	for (size_t i = 0; i < m.ntables; i++) {
		struct manifest_table *t = &m.tables[i];

		if (strcmp(m.keyspace, ks) || strcmp(t->name, name))
			continue;
		tabs = xcalloc(t->ntablets, sizeof(*tabs));
		ptrs = xcalloc(t->ntablets, sizeof(*ptrs));
		for (size_t j = 0; j < t->ntablets && !rc; j++) {
			char *rel = manifest_tablet_dir(&m, t, &t->tablets[j]);
			char *dir = fs_path("%s/%s", o.pos[0], rel);
			struct stat st;

			if (stat(dir, &st) != 0) {
				/* DATA/snapshots/<id>: the checkpoints live beside the tablets */
				free(dir);
				dir = fs_path("%s/../../tablets/table-%s/tablet-%s.snapshots/%s",
					      o.pos[0], t->id, t->tablets[j].id, m.id);
			}
			rc = tablet_open(&tabs[j], dir, 0, 1, &e);
			if (rc)
				rc = cli_error(rc, "dump: %s", e.msg);
			ptrs[j] = &tabs[j];
			n = j + 1;
			free(dir);
			free(rel);
		}
		if (!rc) {
			rc = tablets_scan(ptrs, (unsigned)n, NULL, 0, 0, m.hybrid_time, dump_row,
					  &o, &e);
			if (rc)
				rc = cli_error(rc, "dump: %s", e.msg);
		}
		goto out;
	}
	rc = cli_error(-ENOENT, "dump: table '%s': not in snapshot '%s'", o.table, m.id);
out:
	for (size_t j = 0; j < n; j++)
		tablet_close(&tabs[j]);
	free(tabs);
	free(ptrs);
	if (have_m)
		manifest_release(&m);
	free(json);
	free(jpath);
	cli_opts_release(&o);
	return rc;
}
