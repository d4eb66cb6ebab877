/*
 * cmd_restore: restore list, snapshot restore (online), and the offline
 * verbs that read a backup tree without any daemon: verify and dump.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "check.h"
#include "jtime.h"
#include "progress.h"
#include "restore.h"
#include "snap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *jget(json_object *x, const char *key)
{
	json_object *v = json_object_object_get(x, key);

	return v ? json_object_get_string(v) : "-";
}

static int print_restores(void *arg, json_object *arr)
{
	const struct cli_opts *o = arg;
	size_t n = json_object_array_length(arr);

	if (o->json)
		return cli_print_json(arr) ? EXIT_INTERNAL : 0;
	printf("%-27s  %-11s  %-32s  %-12s  %-27s  %s\n", "WHEN", "SOURCE", "SNAPSHOT", "KEYSPACE",
	       "CUT", "RESULT");
	for (size_t i = 0; i < n; i++) {
		json_object *r = json_object_array_get_idx(arr, i);

		printf("%-27s  %-11s  %-32s  %-12s  %-27s  %s\n", jget(r, "time"),
		       jget(r, "source"), jget(r, "snapshot_id"), jget(r, "keyspace"),
		       jget(r, "cut_time"), jget(r, "result"));
	}
	return 0;
}

int cmd_restore_list(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {.on_json = print_restores, .arg = o};

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "restore.list");
	return cli_call(o->data, &req, &r);
}

int srv_restore_list(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	json_object *arr = NULL;
	int rc = restore_list(store_catalog(d->store), &arr, e);

	if (!rc)
		rc = srv_send_json(fd, arr);
	json_object_put(arr);
	return rc;
}

int srv_snapshot_restore(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *arg = NULL, *table = ctl_dup(req, "table"), *as = ctl_dup(req, "as");
	char id[ID_LEN + 1] = "";
	int rc = srv_arg(req, "id", &arg, e);

	if (!rc)
		rc = snap_resolve(d->snaps, arg, NULL, id, e);
	if (!rc)
		rc = restore_snapshot(d->store, d->snaps, id, table, as, e);
	if (!rc)
		dlog("restored snapshot '%s'%s%s%s%s online", id, table ? " table " : "",
		     table ? table : "", as ? " as " : "", as ? as : "");
	free(arg);
	free(table);
	free(as);
	return rc;
}

/* verify DIR: the path must be a directory; then every check of a marker
 * restore, reporting each bad file. */
static int verify_json(const char *root, int rc, const struct manifest *m,
		       const struct verify_report *r)
{
	json_object *o = json_object_new_object(), *bad = json_object_new_array();
	size_t files = 0;
	int prc;

	for (size_t i = 0; !rc && i < m->ntables; i++)
		for (size_t j = 0; j < m->tables[i].ntablets; j++)
			files += m->tables[i].tablets[j].nfiles;
	json_object_object_add(o, "path", json_object_new_string(root));
	json_object_object_add(o, "ok", json_object_new_boolean(!rc));
	json_object_object_add(o, "snapshot_id", rc ? NULL : json_object_new_string(m->id));
	json_object_object_add(o, "keyspace", rc ? NULL : json_object_new_string(m->keyspace));
	jtime_add(o, NULL, rc ? 0 : m->hybrid_time);
	json_object_object_add(o, "tables", rc ? NULL : json_object_new_int64((int64_t)m->ntables));
	json_object_object_add(o, "files", rc ? NULL : json_object_new_int64((int64_t)files));
	for (size_t i = 0; i < r->n; i++) {
		json_object *f = json_object_new_object();

		json_object_object_add(f, "path", json_object_new_string(r->v[i].path));
		json_object_object_add(f, "message", json_object_new_string(r->v[i].msg));
		json_object_array_add(bad, f);
	}
	json_object_object_add(o, "bad_files", bad);
	json_object_object_add(o, "more_bad_files", json_object_new_int64((int64_t)r->more));
	prc = cli_print_json(o);
	json_object_put(o);
	return prc;
}

static void show_progress(void *arg, const struct progress_report *r)
{
	cli_progress_report(arg, r);
}

/* restore_verify_report, its progress (hashing, then reading the tablets)
 * shown on stderr as o asks, by a watcher thread of this process. */
static int verify_with_progress(const struct cli_opts *o, const char *root, struct manifest *m,
				struct verify_report *r, struct errbuf *e)
{
	struct cli_progress cp;
	struct progress *p = NULL;
	int rc;

	cli_progress_init(&cp, o, "verify");
	if (cp.mode != CLI_PROGRESS_OFF)
		progress_start(&p, 100000, show_progress, &cp); /* none if it cannot start */
	rc = restore_verify_report(root, m, r, e);
	progress_stop(p);
	cli_progress_done(&cp);
	return rc;
}

int cmd_verify(struct cli_opts *o)
{
	const char *root = o->pos[0];
	struct verify_report r = {0};
	struct manifest m = {0};
	struct errbuf e;
	struct stat st;
	int rc;

	if (stat(root, &st) != 0)
		return cli_error(
		    errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno, "verify '%s': %s", root,
		    errno == ENOENT || errno == ENOTDIR ? "not found" : strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cli_error(-EBADMSG,
				 "verify '%s': not a directory (a backup tree is the directory "
				 "holding SNAPSHOT.json and SHA256SUMS)",
				 root);
	rc = verify_with_progress(o, root, &m, &r, &e);
	if (o->json) {
		if (verify_json(root, rc, &m, &r))
			rc = rc ? rc : -EIO;
	} else if (rc) {
		for (size_t i = 0; i < r.n; i++)
			fprintf(stderr, "snapfs: error: verify '%s': %s\n", root, r.v[i].msg);
		if (r.more)
			fprintf(stderr, "snapfs: error: verify '%s': %zu more bad files\n", root,
				r.more);
		if (!r.n)
			fprintf(stderr, "snapfs: error: verify '%s': %s\n", root, e.msg);
		fprintf(stderr, "snapfs: error: verify '%s': not a good backup (%zu bad)\n", root,
			r.n + r.more);
	} else {
		size_t files = 0;

		for (size_t i = 0; i < m.ntables; i++)
			for (size_t j = 0; j < m.tables[i].ntablets; j++)
				files += m.tables[i].tablets[j].nfiles;
		printf("snapfs: '%s' is a good backup: snapshot %s of keyspace '%s', %zu tables, "
		       "%zu files\n",
		       root, m.id, m.keyspace, m.ntables, files);
	}
	if (!rc)
		manifest_release(&m);
	verify_report_release(&r);
	return errbuf_exit_code(rc);
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
int cmd_dump(struct cli_opts *o)
{
	struct manifest m = {0};
	struct errbuf e;
	char *json = NULL, *jpath, ks[65], name[65];
	struct tablet *tabs = NULL, **ptrs = NULL;
	size_t len, n = 0;
	int rc = 0, have_m = 0;

	jpath = fs_path("%s/SNAPSHOT.json", o->pos[0]);
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
	rc = store_split_name(o->table, ks, name, &e);
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
			char *dir = fs_path("%s/%s", o->pos[0], rel);
			struct stat st;

			if (stat(dir, &st) != 0) {
				/* DATA/snapshots/<id>: the checkpoints live beside the tablets */
				free(dir);
				dir = fs_path("%s/../../tablets/table-%s/tablet-%s.snapshots/%s",
					      o->pos[0], t->id, t->tablets[j].id, m.id);
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
			rc = tablets_scan(ptrs, (unsigned)n, NULL, 0, 0, m.hybrid_time, dump_row, o,
					  &e);
			if (rc)
				rc = cli_error(rc, "dump: %s", e.msg);
		}
		goto out;
	}
	rc = cli_error(-ENOENT, "dump: table '%s': not in snapshot '%s'", o->table, m.id);
out:
	for (size_t j = 0; j < n; j++)
		tablet_close(&tabs[j]);
	free(tabs);
	free(ptrs);
	if (have_m)
		manifest_release(&m);
	free(json);
	free(jpath);
	return rc;
}

static void check_line(void *arg, const char *line)
{
	(void)arg;
	if (!strncmp(line, "note: ", 6))
		printf("snapfs: %s\n", line);
	else
		printf("problem: %s\n", line);
	fflush(stdout);
}

/* check [--data DIR]: offline, no daemon involved (one must not serve DATA). */
int cmd_check(struct cli_opts *o)
{
	struct check_counts n;
	struct errbuf e = {{0}};
	int rc = check_data(o->data, check_line, NULL, &n, &e);

	if (rc)
		return cli_error(rc, "check: %s", e.msg);
	if (n.problems)
		return cli_error(-EBADMSG,
				 "check '%s': %zu problem%s (%zu records, %zu tablets, %zu "
				 "snapshots, %zu files read)",
				 o->data, n.problems, n.problems == 1 ? "" : "s", n.records,
				 n.tablets, n.snapshots, n.files);
	printf("snapfs: '%s' checks: %zu records, %zu tablets, %zu snapshots, %zu files read, "
	       "no problem\n",
	       o->data, n.records, n.tablets, n.snapshots, n.files);
	return 0;
}
