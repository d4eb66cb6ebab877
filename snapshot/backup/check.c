/*
 * check: `snapfs check`, an offline, read-only check of a whole DATA.
 *
 * It reads what the daemon reads at start, with the same strict parsers
 * (records.h, journal.h, hashcache.h), and more: every live tablet and
 * every checkpoint of a COMPLETE snapshot is opened read-only in RocksDB
 * and read through with block checksums verified, and every file of a
 * COMPLETE snapshot is hashed against its SHA256SUMS (each inode once: an
 * SST shared by snapshots is one file). Every problem is reported, not
 * only the first. Nothing in DATA is written: RocksDB opens read-only (its
 * LOG goes to a temp dir) and the catalog too.
 *
 * A DATA served by a daemon is refused: records and checkpoints change
 * under a running daemon, so a check then would report problems that are
 * not there. check holds DATA/snapfs.lock shared while it runs, so a
 * serve started meanwhile is refused instead.
 */
#include "check.h"

#include "fsutil.h"
#include "hashcache.h"
#include "journal.h"
#include "manifest.h"
#include "records.h"
#include "snap.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct checker {
	const char *data;
	check_report_fn report;
	void *arg;
	struct check_counts *n;
	struct tablerec *tables;
	size_t ntables;
	struct snaprec *snaps;
	size_t nsnaps;
	struct {
		dev_t dev;
		ino_t ino;
		char hex[65];
	} * seen;
	size_t nseen;
};

static void problem(struct checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void problem(struct checker *c, const char *fmt, ...)
{
	char msg[ERRBUF_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->n->problems++;
	c->report(c->arg, msg);
}

/* ---- the catalog ---- */

static int record_cb(void *arg, const char *key, const char *text, size_t len)
{
	struct checker *c = arg;
	struct errbuf e = {{0}};

	c->n->records++;
	if (record_check(key, text, len, &e)) {
		problem(c, "%s", e.msg);
		return 0;
	}
	if (!strncmp(key, "table/", 6)) {
		c->tables = xrealloc(c->tables, (c->ntables + 1) * sizeof(*c->tables));
		tablerec_parse(text, len, &c->tables[c->ntables++], &e);
	} else if (!strncmp(key, "snap/", 5)) {
		c->snaps = xrealloc(c->snaps, (c->nsnaps + 1) * sizeof(*c->snaps));
		snaprec_parse(text, len, &c->snaps[c->nsnaps++], &e);
	}
	return 0;
}

static void check_names(struct checker *c)
{
	for (size_t i = 0; i < c->ntables; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(c->tables[i].ks, c->tables[j].ks) &&
			    !strcmp(c->tables[i].name, c->tables[j].name))
				problem(c, "catalog: two tables named '%s.%s' ('%s' and '%s')",
					c->tables[i].ks, c->tables[i].name, c->tables[j].id,
					c->tables[i].id);
}

/* ---- tablets ---- */

static void read_tablet(struct checker *c, const char *dir, const char *what)
{
	struct tablet t;
	struct errbuf e = {{0}};
	struct stat st;

	c->n->tablets++;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		problem(c, "%s '%s': missing", what, dir);
		return;
	}
	if (tablet_open(&t, dir, 0, 1, &e)) {
		problem(c, "%s '%s': %s", what, dir, e.msg);
		return;
	}
	if (tablet_verify_read(&t, &e))
		problem(c, "%s '%s': %s", what, dir, e.msg);
	tablet_close(&t);
}

/* The digest of path, each inode hashed once per check. */
static int digest(struct checker *c, const char *path, char hex[65])
{
	struct stat st;
	int rc;

	if (lstat(path, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	for (size_t i = 0; i < c->nseen; i++)
		if (c->seen[i].dev == st.st_dev && c->seen[i].ino == st.st_ino) {
			memcpy(hex, c->seen[i].hex, 65);
			return 0;
		}
	rc = sums_hash_file(path, hex);
	if (rc)
		return rc;
	c->seen = xrealloc(c->seen, (c->nseen + 1) * sizeof(*c->seen));
	c->seen[c->nseen].dev = st.st_dev;
	c->seen[c->nseen].ino = st.st_ino;
	memcpy(c->seen[c->nseen++].hex, hex, 65);
	return 0;
}

/* A COMPLETE snapshot: its metadata parses, every file of SHA256SUMS has
 * its digest, every checkpoint reads with checksums verified. */
static void check_snapshot(struct checker *c, const struct snaprec *r)
{
	char *mdir = fs_path("%s/snapshots/%s", c->data, r->id);
	char *sp = fs_path("%s/SHA256SUMS", mdir), *jp = fs_path("%s/SNAPSHOT.json", mdir);
	char *text = NULL;
	size_t len = 0, n = 0;
	struct sums_entry *sums = NULL;
	struct manifest m;
	struct errbuf e = {{0}};

	c->n->snapshots++;
	if (fs_read_all(jp, MANIFEST_MAX_JSON, &text, &len) || manifest_parse(text, len, &m, &e)) {
		problem(c, "snapshot '%s': metadata '%s': %s", r->id, jp,
			e.msg[0] ? e.msg : "missing or unreadable");
	} else {
		if (strcmp(m.id, r->id) || m.hybrid_time != r->ht)
			problem(c, "snapshot '%s': metadata '%s' names another snapshot", r->id,
				jp);
		manifest_release(&m);
	}
	free(text);
	text = NULL;
	e.msg[0] = '\0';
	if (fs_read_all(sp, 64u << 20, &text, &len) || sums_parse(text, len, &sums, &n, &e)) {
		problem(c, "snapshot '%s': '%s': %s", r->id, sp,
			e.msg[0] ? e.msg : "missing or unreadable");
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		/* <ks>/<table>/tablet-<id>/<file> or SNAPSHOT.json */
		char *path = NULL, hex[65];
		int rc;

		if (!strcmp(sums[i].path, "SNAPSHOT.json")) {
			path = xstrdup(jp);
		} else {
			for (size_t a = 0; a < r->ntables && !path; a++)
				for (unsigned b = 0; b < r->tables[a].ntablets && !path; b++) {
					char *rel =
					    fs_path("%s/%s/tablet-%s/", r->ks, r->tables[a].name,
						    r->tables[a].tablets[b].id);
					const char *file = sums[i].path + strlen(rel);

					if (!strncmp(sums[i].path, rel, strlen(rel)) &&
					    !strchr(file, '/')) {
						char *dir = snap_checkpoint_dir(
						    c->data, r->tables[a].id,
						    r->tables[a].tablets[b].id, r->id);

						path = fs_path("%s/%s", dir, file);
						free(dir);
					}
					free(rel);
				}
		}
		if (!path) {
			problem(c, "snapshot '%s': SHA256SUMS lists '%s', not one of its files",
				r->id, sums[i].path);
			continue;
		}
		c->n->files++;
		rc = digest(c, path, hex);
		if (rc)
			problem(c, "snapshot '%s': '%s': %s", r->id, path, strerror(-rc));
		else if (strcmp(hex, sums[i].hex))
			problem(c, "snapshot '%s': '%s': SHA-256 differs from SHA256SUMS", r->id,
				path);
		free(path);
	}
	sums_free(sums, n);
	for (size_t a = 0; a < r->ntables; a++)
		for (unsigned b = 0; b < r->tables[a].ntablets; b++) {
			char *dir = snap_checkpoint_dir(c->data, r->tables[a].id,
							r->tables[a].tablets[b].id, r->id);
			char what[80];

			snprintf(what, sizeof(what), "snapshot '%s': checkpoint", r->id);
			read_tablet(c, dir, what);
			free(dir);
		}
	free(text);
	free(jp);
	free(sp);
	free(mdir);
}

/* ---- the rest of DATA ---- */

static void check_journal(struct checker *c)
{
	struct journal j;
	struct errbuf e = {{0}};
	int rc = journal_read(c->data, &j, &e);

	if (rc == -ENOENT)
		return;
	if (rc) {
		problem(c, "%s", e.msg);
		return;
	}
	c->report(c->arg, "note: a restore was cut short: the next start finishes it");
	journal_release(&j);
}

static void check_hashcache(struct checker *c)
{
	char *p = fs_path("%s/snapshots/HASHCACHE", c->data), *text = NULL;
	struct hc_record *v = NULL;
	struct errbuf e = {{0}};
	size_t len = 0, n = 0;
	int old = 0, rc = fs_read_all(p, HASHCACHE_MAX_FILE, &text, &len);

	if (rc && rc != -ENOENT)
		problem(c, "hash cache '%s': %s", p, strerror(-rc));
	else if (!rc && hashcache_parse(text, len, &v, &n, &old, &e))
		problem(c, "hash cache '%s': %s (a cache: remove it and every SST is hashed again)",
			p, e.msg);
	else if (old)
		c->report(c->arg, "note: the hash cache is of the first format: the next start "
				  "drops it");
	hc_records_free(v, n);
	free(text);
	free(p);
}

/* Holds DATA's lock shared: -EBUSY naming the pid if a daemon serves it. */
static int lock_shared(const char *data, int *fd, struct errbuf *e)
{
	char *path = fs_path("%s/snapfs.lock", data), buf[32];
	int rc = 0;
	ssize_t n;

	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd >= 0 && flock(*fd, LOCK_SH | LOCK_NB) < 0) {
		n = pread(*fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		rc =
		    err_set(e, -EBUSY,
			    "data directory '%s': served by pid %s: stop it first ('snapfs stop'), "
			    "or check a copy",
			    data, buf[0] ? buf : "?");
		close(*fd);
		*fd = -1;
	}
	free(path);
	return rc;
}

int check_data(const char *data, check_report_fn report, void *arg, struct check_counts *n,
	       struct errbuf *e)
{
	struct checker c = {.data = data, .report = report, .arg = arg, .n = n};
	char *cpath = fs_path("%s/catalog", data);
	struct catalog cat = {0};
	struct errbuf e2 = {{0}};
	struct stat st;
	int lockfd = -1, rc;

	memset(n, 0, sizeof(*n));
	if (stat(cpath, &st) != 0) {
		rc = err_set(e, -ENOENT, "data directory '%s': not found or not initialised", data);
		goto out;
	}
	rc = lock_shared(data, &lockfd, e);
	if (rc)
		goto out;
	if (catalog_open_readonly(&cat, cpath, &e2)) {
		problem(&c, "%s", e2.msg);
		goto out;
	}
	rc = catalog_scan_text(&cat, "", record_cb, &c, &e2);
	catalog_close(&cat);
	if (rc) {
		problem(&c, "%s", e2.msg);
		rc = 0;
	}
	check_names(&c);
	check_journal(&c);
	check_hashcache(&c);
	for (size_t i = 0; i < c.ntables; i++)
		for (unsigned j = 0; j < c.tables[i].ntablets; j++) {
			char *dir =
			    store_tablet_path(data, c.tables[i].id, c.tables[i].tablets[j].id);
			char what[200];

			snprintf(what, sizeof(what), "table '%s.%s': tablet", c.tables[i].ks,
				 c.tables[i].name);
			read_tablet(&c, dir, what);
			free(dir);
		}
	for (size_t i = 0; i < c.nsnaps; i++)
		if (c.snaps[i].state == SNAP_COMPLETE)
			check_snapshot(&c, &c.snaps[i]);
out:
	tablerecs_free(c.tables, c.ntables);
	for (size_t i = 0; i < c.nsnaps; i++)
		snaprec_release(&c.snaps[i]);
	free(c.snaps);
	free(c.seen);
	if (lockfd >= 0)
		close(lockfd);
	free(cpath);
	return rc;
}
