/*
 * store: the tablet store of one node. Owns DATA's catalog, the hybrid
 * clock and every live tablet; tables are hash-split into tablets
 * (partition.h), each one RocksDB with timestamps (tablet.h).
 *
 * struct store is opaque: every lock of it is taken in store.c, and the
 * other modules see tables only through functions and refcounted handles
 * (struct store_table), each with its typed, immutable record.
 *
 * The locks, in the order they are taken (never the other way):
 *   table intent   a writer-preferring rwlock per table. Shared: a row
 *                  write or read, one batch of a load or a scan, a
 *                  snapshot's cut and checkpoints. Exclusive: drop, and
 *                  the swap of an online restore. Several tables' intents
 *                  are always taken in table-id order.
 *   store->lock    rwlock over the table list, the names being created and
 *                  the names claimed by restores. Held only to look up or
 *                  change those, never across I/O nor while waiting for an
 *                  intent (a handle's reference keeps it alive meanwhile).
 *   store->barrier the write barrier of consistent snapshots: a writer
 *                  holds it shared while it takes a hybrid time and
 *                  applies; a snapshot cut holds it exclusively only for
 *                  the instant of reading the clock (writer-preferring, so
 *                  writers cannot starve a cut).
 * Nothing here holds a lock while a callback sends to a client: scans and
 * loads work in batches (take the intent, read or write a batch, release,
 * then hand the batch out), so a client that stops reading blocks nobody.
 *
 * Names: a name is created by one caller at a time (the others get
 * -EEXIST or -EBUSY), and a restore claims every name its plan touches
 * (store_claim_begin): create, drop and writes of a claimed name are
 * refused with -EBUSY until the restore ends, so its plan cannot go stale,
 * and its commit re-checks the plan anyway. There is never more than one
 * table per name.
 */
#ifndef SNAPFS_STORE_H
#define SNAPFS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "catalog.h"
#include "errbuf.h"
#include "hlc.h"
#include "ids.h"
#include "records.h"
#include "tablet.h"

struct store;
struct store_table;

/* Path helpers (malloc'ed). */
char *store_tablet_path(const char *data, const char *table_id, const char *tablet_id);
char *store_table_dir(const char *data, const char *table_id);

/* Creates DATA's layout if missing (idempotent). *created = 1 if new. */
int store_init(const char *data, int *created, struct errbuf *e);

/* Opens an initialised DATA: checks every catalog record (a malformed one
 * is -EBADMSG naming it), opens the clock and every tablet, and removes
 * live tablet directories that no catalog table owns (a crash between
 * creating them and recording the table). */
int store_open(struct store **out, const char *data, struct errbuf *e);
/* Flushes every tablet's memtable (a clean stop), best effort. */
void store_flush_all(struct store *s);
/* Closes every tablet and the catalog. No other thread may use s. */
void store_close(struct store *s);

const char *store_data(const struct store *s);
struct hlc *store_clock(struct store *s);
/* The catalog (thread-safe: RocksDB). For records of the modules above. */
struct catalog *store_catalog(struct store *s);
size_t store_table_count(struct store *s);

/* Splits "ks.table" into its parts, validating both names. */
int store_split_name(const char *full, char ks[65], char name[65], struct errbuf *e);

int store_table_create(struct store *s, const char *full, unsigned ntablets, struct errbuf *e);
int store_table_drop(struct store *s, const char *full, struct errbuf *e);

/* A JSON array of {id, keyspace, name, tablets, created_ht} (caller puts). */
int store_table_list(struct store *s, json_object **out, struct errbuf *e);

/* A copy of the record of table full (release it); -ENOENT if absent. */
int store_table_find(struct store *s, const char *full, struct tablerec *out, struct errbuf *e);

/* Copies of the live tables' records, of keyspace ks (NULL: all). */
void store_table_recs(struct store *s, const char *ks, struct tablerec **out, size_t *n);
void tablerecs_free(struct tablerec *v, size_t n);

/* 1 if the keyspace record exists. */
int store_keyspace_exists(struct store *s, const char *ks);

/* Handles with the intent held shared, for a snapshot: the tables of ks
 * (the n named ones, or all when n is 0), in table-id order. -ENOENT for
 * an unknown keyspace or table, -EPERM when ks has no table. Release with
 * store_tables_release. */
int store_tables_acquire(struct store *s, const char *ks, char *const *names, size_t n,
			 struct store_table ***out, size_t *nout, struct errbuf *e);
void store_tables_release(struct store_table **v, size_t n);
/* The table's record (immutable while the handle is held). */
const struct tablerec *store_table_rec(const struct store_table *t);
/* Its i-th tablet (in record order); valid while the intent is held. */
struct tablet *store_table_tablet(struct store_table *t, unsigned i);

/* The cut of a snapshot: a hybrid time such that every write stamped at or
 * before it has been applied and every later one gets a greater time.
 * 0 when the clock cannot persist. */
uint64_t store_cut(struct store *s, struct errbuf *e);

/* Sets every tablet's full-history low mark to low_of(arg, keyspace)
 * (no change where it returns 0). */
void store_raise_history(struct store *s, uint64_t (*low_of)(void *arg, const char *ks), void *arg);

/* The history low mark of keyspace ks into *low: the highest of its live
 * tablets' marks (0 when none is set). -ENOENT when ks has no live table. */
int store_history_low(struct store *s, const char *ks, uint64_t *low);

/* The tablet of t holding key. */
unsigned store_pick_tablet(const struct tablerec *t, const void *key, size_t klen);

int store_put(struct store *s, const char *full, const void *key, size_t klen, const void *val,
	      size_t vlen, struct errbuf *e);
int store_del(struct store *s, const char *full, const void *key, size_t klen, struct errbuf *e);

/* at = 0 reads now. -ENOENT when the key is absent at that time. */
int store_get(struct store *s, const char *full, const void *key, size_t klen, uint64_t at,
	      char **val, size_t *vlen, struct errbuf *e);
/* Rows at time at (0: now, fixed when the scan starts), handed to cb in
 * batches read with the table's intent held and sent without it. -EBUSY
 * if the table is dropped or restored between two batches. */
int store_scan(struct store *s, const char *full, const void *prefix, size_t plen, uint64_t limit,
	       uint64_t at, row_cb cb, void *arg, struct errbuf *e);

/* Bulk load: rows keys "key%010d" with values derived from seed, written
 * in batches; progress(arg, done) after each batch, with no lock held (may
 * be NULL). */
typedef int (*load_progress_fn)(void *arg, uint64_t done, uint64_t total);
int store_load(struct store *s, const char *full, uint64_t rows, uint32_t value_size, uint64_t seed,
	       load_progress_fn progress, void *arg, struct errbuf *e);

/* The deterministic value of row i for seed (len bytes into buf). */
void store_load_value(uint64_t seed, uint64_t i, char *buf, uint32_t len);

/* ---- online restore: claims, then one commit ---- */

struct store_claim;

/* Runs plan(arg, live, n, c, e) under the store's lock with the live
 * tables' records: plan must not block; it claims each name it will
 * change with store_claim_name. On success *out holds the claims until
 * store_claim_end. */
typedef int (*store_plan_fn)(void *arg, const struct tablerec *live, size_t n,
			     struct store_claim *c, struct errbuf *e);
int store_claim_begin(struct store *s, store_plan_fn plan, void *arg, struct store_claim **out,
		      struct errbuf *e);
/* Claims ks.name, expecting the live table of that name to have id
 * expect_id ("" or NULL: no such table). -EBUSY if the name is claimed,
 * being created or being dropped. Only inside a plan. */
int store_claim_name(struct store_claim *c, const char *ks, const char *name, const char *expect_id,
		     struct errbuf *e);
/* Re-checks the claims, takes the exclusive intents of every table the
 * restore replaces or drops, calls commit(arg, e) (the catalog batch),
 * then swaps: installs[] (tablets opened from their records; replacing
 * the table of the same id, or added) and drops[] (ids) leave the list
 * and their tablets are closed. Nothing changes if commit fails. */
int store_claim_commit(struct store *s, struct store_claim *c, const struct tablerec *installs,
		       size_t ninst, const char (*drops)[ID_LEN + 1], size_t ndrops,
		       int (*commit)(void *arg, struct errbuf *e), void *arg, struct errbuf *e);
void store_claim_end(struct store *s, struct store_claim *c);

#endif
