/*
 * cmd_rows: put, get, del, scan, load — the row verbs, both ends. Reads take
 * --at TIME (parsed by the command line, sent as a hybrid time) or
 * --snapshot ID (read from that snapshot's checkpoints at its cut, by the
 * snapshot module).
 *
 * scan --json streams one JSON array: "[" before the first row (or at the
 * end when there is none), one object per row, "]" once the daemon says
 * the scan is complete. A scan that fails midway leaves the array open, so
 * a JSON parser fails too instead of taking part of a table for all of it.
 */
#include "snapfs.h"

#include "fsutil.h"
#include "parse.h"
#include "progress.h"
#include "snap.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Adds "at" or "snapshot" to a read request. */
static void add_read_time(struct ctl_msg *req, const struct cli_opts *o, char *buf, size_t len)
{
	if (o->snapshot)
		ctl_adds(req, "snapshot", o->snapshot);
	if (!o->at.text)
		return;
	snprintf(buf, len, "%" PRIu64, o->at.ht);
	ctl_adds(req, "at", buf);
}

int cmd_put(struct cli_opts *o)
{
	struct ctl_msg req;

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "put");
	ctl_adds(&req, "table", o->pos[0]);
	ctl_adds(&req, "key", o->pos[1]);
	ctl_adds(&req, "value", o->pos[2]);
	return cli_call(o->data, &req, NULL);
}

int cmd_del(struct cli_opts *o)
{
	struct ctl_msg req;

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "del");
	ctl_adds(&req, "table", o->pos[0]);
	ctl_adds(&req, "key", o->pos[1]);
	return cli_call(o->data, &req, NULL);
}

struct row_print {
	const struct cli_opts *o;
	int value_only;
	size_t rows; /* printed so far */
};

static int print_row(void *arg, const char *k, uint32_t kl, const char *v, uint32_t vl)
{
	struct row_print *p = arg;

	if (p->value_only) {
		if (p->o->hex)
			cli_put_hex(stdout, v, vl);
		else
			cli_put_escaped(stdout, v, vl);
	} else if (p->o->json) {
		json_object *j = json_object_new_object();
		char *ks = cli_escape(k, kl, p->o->hex), *vs = cli_escape(v, vl, p->o->hex);

		json_object_object_add(j, "key", json_object_new_string(ks));
		json_object_object_add(j, "value", json_object_new_string(vs));
		fputs(p->rows ? ",\n" : "[\n", stdout);
		fputs(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE),
		      stdout);
		json_object_put(j);
		free(ks);
		free(vs);
		p->rows++;
		return ferror(stdout) ? -ECANCELED : 0;
	} else {
		if (p->o->hex)
			cli_put_hex(stdout, k, kl);
		else
			cli_put_escaped(stdout, k, kl);
		fputc('\t', stdout);
		if (p->o->hex)
			cli_put_hex(stdout, v, vl);
		else
			cli_put_escaped(stdout, v, vl);
	}
	fputc('\n', stdout);
	p->rows++;
	return ferror(stdout) ? -ECANCELED : 0;
}

int cmd_get(struct cli_opts *o)
{
	struct ctl_msg req;
	struct row_print p = {.o = o, .value_only = 1};
	struct cli_reply r = {.on_row = print_row, .arg = &p};
	char at[24];

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "get");
	ctl_adds(&req, "table", o->pos[0]);
	ctl_adds(&req, "key", o->pos[1]);
	add_read_time(&req, o, at, sizeof(at));
	return cli_call(o->data, &req, &r);
}

int cmd_scan(struct cli_opts *o)
{
	struct ctl_msg req;
	struct row_print p = {.o = o};
	struct cli_reply r = {.on_row = print_row, .arg = &p};
	char at[24], limit[24];
	int rc;

	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "scan");
	ctl_adds(&req, "table", o->pos[0]);
	if (o->prefix)
		ctl_adds(&req, "prefix", o->prefix);
	if (o->limit) {
		snprintf(limit, sizeof(limit), "%" PRIu64, o->limit);
		ctl_adds(&req, "limit", limit);
	}
	add_read_time(&req, o, at, sizeof(at));
	rc = cli_call(o->data, &req, &r);
	if (rc == EXIT_OK && o->json) {
		fputs(p.rows ? "\n]\n" : "[]\n", stdout);
		if (fflush(stdout))
			rc = EXIT_INTERNAL;
	}
	return rc;
}

int cmd_load(struct cli_opts *o)
{
	struct ctl_msg req;
	struct cli_reply r = {0};
	char rows[24], vsize[24], seed[24];
	int rc;

	snprintf(rows, sizeof(rows), "%" PRIu64, o->rows);
	snprintf(vsize, sizeof(vsize), "%" PRIu64, o->value_size);
	snprintf(seed, sizeof(seed), "%" PRIu64, o->seed);
	ctl_msg_init(&req, CTL_REQ);
	ctl_adds(&req, "verb", "load");
	ctl_adds(&req, "table", o->pos[0]);
	ctl_adds(&req, "rows", rows);
	ctl_adds(&req, "value_size", vsize);
	ctl_adds(&req, "seed", seed);
	rc = cli_call_progress(o, &req, &r);
	if (rc == EXIT_OK)
		printf("snapfs: loaded %" PRIu64 " rows into '%s'\n", o->rows, o->pos[0]);
	return rc;
}

/* ---- daemon side ---- */

static int key_arg(const struct ctl_msg *req, const char **key, uint32_t *klen, struct errbuf *e)
{
	*key = ctl_get(req, "key", klen);
	return *key ? 0 : err_set(e, -EINVAL, "request: argument 'key' missing");
}

int srv_put(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *table = NULL;
	const char *key, *val;
	uint32_t klen, vlen;
	int rc = srv_arg(req, "table", &table, e);

	if (!rc)
		rc = key_arg(req, &key, &klen, e);
	if (!rc && !(val = ctl_get(req, "value", &vlen)))
		rc = err_set(e, -EINVAL, "request: argument 'value' missing");
	if (!rc)
		rc = store_put(d->store, table, key, klen, val, vlen, e);
	free(table);
	return rc;
}

int srv_del(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *table = NULL;
	const char *key;
	uint32_t klen;
	int rc = srv_arg(req, "table", &table, e);

	if (!rc)
		rc = key_arg(req, &key, &klen, e);
	if (!rc)
		rc = store_del(d->store, table, key, klen, e);
	free(table);
	return rc;
}

/* A read at a time in the future is outside the history (exit 3): what it
 * would return could still change. The future starts after the later of
 * the wall clock and the last time handed out (a restore may have raised
 * the clock past the wall clock). */
static int check_not_future(struct daemon *d, uint64_t at, struct errbuf *e)
{
	uint64_t now = hlc_from_us(hlc_wall_us()) | ((1u << HLC_LOGICAL_BITS) - 1);
	char when[48], nows[48];

	if (hlc_last(store_clock(d->store)) > now)
		now = hlc_last(store_clock(d->store));
	if (at <= now)
		return 0;
	hlc_format_rfc3339(hlc_physical_us(at), 1, when, sizeof(when));
	hlc_format_rfc3339(hlc_physical_us(now), 1, nows, sizeof(nows));
	return err_set(e, -ERANGE, "time '%s': in the future, outside the history kept (now is %s)",
		       when, nows);
}

/* at: 0 = now; or the "at" argument; or the snapshot id in *snap
 * (malloc'ed), resolved from what the user typed ("latest" is the newest
 * COMPLETE snapshot of table's keyspace). */
static int read_time(struct daemon *d, const struct ctl_msg *req, const char *table, uint64_t *at,
		     char **snap, struct errbuf *e)
{
	int rc = srv_arg_u64(req, "at", at, e);
	char *arg = NULL, ks[65], name[65];

	*snap = NULL;
	if (rc == -ENOENT) {
		*at = 0;
		rc = 0;
	}
	if (!rc && ctl_get(req, "snapshot", NULL))
		rc = srv_arg(req, "snapshot", &arg, e);
	if (!rc && arg) {
		*snap = xmalloc(ID_LEN + 1);
		rc = snap_resolve(d->snaps, arg,
				  store_split_name(table, ks, name, NULL) ? NULL : ks, *snap, e);
	}
	free(arg);
	if (!rc && *at)
		rc = check_not_future(d, *at, e);
	return rc;
}

int srv_get(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *table = NULL, *snap = NULL, *val = NULL;
	const char *key = NULL;
	uint32_t klen;
	size_t vlen = 0;
	uint64_t at;
	int rc = srv_arg(req, "table", &table, e);

	if (!rc)
		rc = key_arg(req, &key, &klen, e);
	if (!rc)
		rc = read_time(d, req, table, &at, &snap, e);
	if (!rc && snap)
		rc = snap_read_get(d->snaps, snap, table, key, klen, &val, &vlen, e);
	else if (!rc)
		rc = store_get(d->store, table, key, klen, at, &val, &vlen, e);
	if (rc == -ENOENT && !e->msg[0])
		err_set(e, rc, "key '%.*s' in '%s': not found", (int)(klen > 200 ? 200 : klen), key,
			table);
	if (!rc)
		rc = srv_send_row(fd, key, klen, val, vlen);
	free(val);
	free(snap);
	free(table);
	return rc;
}

static int send_row_cb(void *arg, const char *k, size_t kl, const char *v, size_t vl)
{
	return srv_send_row(*(int *)arg, k, kl, v, vl);
}

int srv_scan(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	char *table = NULL, *snap = NULL;
	const char *prefix;
	uint32_t plen = 0;
	uint64_t at, limit = 0;
	int rc = srv_arg(req, "table", &table, e);

	prefix = ctl_get(req, "prefix", &plen);
	if (!rc)
		rc = read_time(d, req, table, &at, &snap, e);
	if (!rc && srv_arg_u64(req, "limit", &limit, e) == -EINVAL)
		rc = -EINVAL;
	if (!rc && snap)
		rc =
		    snap_read_scan(d->snaps, snap, table, prefix, plen, limit, send_row_cb, &fd, e);
	else if (!rc)
		rc = store_scan(d->store, table, prefix, plen, limit, at, send_row_cb, &fd, e);
	free(snap);
	free(table);
	return rc;
}

struct load_ctx {
	int fd;
	int64_t last_us;
};

/* Sent from the loading thread itself, which holds no lock between
 * batches (store_load): a client that goes away ends the load. */
static int load_progress(void *arg, uint64_t done, uint64_t total)
{
	struct load_ctx *c = arg;
	int64_t now = hlc_wall_us();
	struct progress_report r = {"write", "rows", done, total, done == total};

	if (done < total && now - c->last_us < 200000)
		return 0;
	c->last_us = now;
	return srv_send_progress(c->fd, &r);
}

int srv_load(struct daemon *d, const struct ctl_msg *req, int fd, struct errbuf *e)
{
	struct load_ctx c = {.fd = fd};
	char *table = NULL;
	uint64_t rows = 0, vsize = 100, seed = 0;
	int rc = srv_arg(req, "table", &table, e);

	if (!rc)
		rc = srv_arg_num(req, "rows", 1, SNAPFS_LOAD_ROWS_MAX, &rows, e);
	if (!rc && srv_arg_num(req, "value_size", 0, VALUE_MAX, &vsize, e) == -EINVAL)
		rc = -EINVAL;
	if (!rc && srv_arg_u64(req, "seed", &seed, e) == -EINVAL)
		rc = -EINVAL;
	if (rc == -ENOENT)
		rc = err_set(e, -EINVAL, "load: --rows missing");
	if (!rc && vsize > VALUE_MAX)
		rc = err_set(e, -EINVAL, "load: --value-size %" PRIu64 ": the limit is %u", vsize,
			     VALUE_MAX);
	if (!rc)
		rc = store_load(d->store, table, rows, (uint32_t)vsize, seed, load_progress, &c, e);
	if (!rc)
		dlog("loaded %" PRIu64 " rows into '%s'", rows, table);
	free(table);
	return rc;
}
