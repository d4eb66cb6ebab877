/*
 * journal: DATA/restore.journal, the one record of a restore under way
 * (marker and online restores alike), typed, parsed strictly and written
 * durably. Once written, the restore is finished by whoever reads it next:
 * journal_apply, journal_commit and journal_cleanup are each idempotent.
 *
 * Every path in a journal is checked before anything is done with it: it
 * must have one of the shapes the planner writes, inside DATA (a tablet
 * DATA/tablets/table-<id>/tablet-<id>, a source under DATA/restore/ or
 * DATA/restore-staging/, or DATA/restore and DATA/_restore to remove),
 * with no symlink on the way. A journal that fails refuses the start
 * (exit 3) naming the field: nothing it names is touched.
 *
 * JSON (the format of the first release, which still parses):
 *   {"id", "cut", "moves": [{"src","dst"}], "tablets": [dir],
 *    "records": [{"key","value"} | {"key","drop"}], "remove": [path],
 *    "record": {restoration record without restored_us}
 *    [, "scanned": [{"maxts","newer"}] per tablet: the marker's read check]}
 */
#ifndef SNAPFS_JOURNAL_H
#define SNAPFS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "catalog.h"
#include "errbuf.h"
#include "hlc.h"
#include "manifest.h"
#include "records.h"

#define JOURNAL_NAME "restore.journal"

struct jmove {
	char *src, *dst;
};

enum jkind { J_TABLE, J_KS, J_DROP };

struct jrecord {
	enum jkind kind;
	char key[80];	       /* table/<id>, ks/<name> */
	struct tablerec table; /* J_TABLE: the record to put */
	struct ksrec ks;       /* J_KS */
	char drop[ID_LEN + 1]; /* J_DROP: the table id deleted */
};

struct jscan {
	uint64_t maxts, newer;
};

struct journal {
	char id[ID_LEN + 1];
	uint64_t cut;
	size_t nmoves, ntablets, nrecords, nremove, nscanned;
	struct jmove *moves;
	char **tablets; /* restored tablet dirs, filtered at the cut */
	struct jrecord *records;
	char **remove;
	struct restorerec rec;
	int have_scanned;
	struct jscan *scanned; /* per tablet when have_scanned */
};

/* A new journal restoring m as of time to (its cut when 0). */
void journal_init(struct journal *j, const struct manifest *m, const char *source, uint64_t to);
void journal_release(struct journal *j);

/* Strict parse of a journal of DATA data (pure but for the symlink check
 * of its paths, which needs the filesystem: lstat only). */
int journal_parse(const char *text, size_t len, const char *data, struct journal *j,
		  struct errbuf *e);
char *journal_format(const struct journal *j);

/* Adds to j the restore of table mt of m into ks.name, replacing the live
 * table of that name (keeping its id) or as a new table: moves from
 * src_root, or tablets already staged (stage_dirs, one per tablet).
 * created_ht 0: the snapshot's cut. The planner of both restores; pure. */
void journal_plan_table(struct journal *j, const char *data, const struct tablerec *live,
			size_t nlive, const char *ks, const char *name, const struct manifest *m,
			const struct manifest_table *mt, uint64_t created_ht, const char *src_root,
			char **stage_dirs);
/* Adds the drop of every live table of ks created after time to. */
void journal_plan_drops(struct journal *j, const char *data, const struct tablerec *live,
			size_t nlive, const char *ks, uint64_t to);

/* Reads DATA's journal: 0 with *j, -ENOENT if there is none. */
int journal_read(const char *data, struct journal *j, struct errbuf *e);
int journal_write(const char *data, const struct journal *j, struct errbuf *e);
/* Moves, then the hybrid-time filter on every restored tablet. */
int journal_apply(const struct journal *j, const char *data, struct hlc *clock, struct errbuf *e);
/* One catalog batch: the journal's records and the restoration record. */
int journal_commit(const struct journal *j, struct catalog *cat, struct errbuf *e);
/* Removes what the restore replaced, then the journal. */
int journal_cleanup(const struct journal *j, const char *data, struct errbuf *e);
/* Undoes an online restore that failed before its commit. */
void journal_rollback(const struct journal *j, const char *data);

#endif
