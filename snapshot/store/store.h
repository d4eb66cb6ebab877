/*
 * store: the tablet store of one node. Owns DATA's catalog, the hybrid
 * clock and every live tablet; tables are hash-split into tablets
 * (partition.h), each one RocksDB with timestamps (tablet.h).
 *
 * Locking, in this order:
 *   store->lock     rwlock over the table list: row operations and
 *                   snapshots hold it shared, create/drop exclusively.
 *   store->barrier  the write barrier of consistent snapshots: a writer
 *                   holds it shared while it takes a hybrid time and
 *                   applies; a snapshot cut holds it exclusively only for
 *                   the instant of reading the clock (writer-preferring,
 *                   so writers cannot starve a cut).
 */
#ifndef SNAPFS_STORE_H
#define SNAPFS_STORE_H

#include <pthread.h>
#include <stdint.h>

#include <json-c/json.h>

#include "catalog.h"
#include "errbuf.h"
#include "hlc.h"
#include "ids.h"
#include "tablet.h"

struct store_tablet {
	char id[ID_LEN + 1];
	uint32_t start, end;
	struct tablet db;
};

struct store_table {
	char id[ID_LEN + 1];
	char ks[65];
	char name[65];
	uint64_t created_ht;
	unsigned ntablets;
	struct store_tablet *tablets; /* sorted by start */
	/* Set while a restore swaps this table's tablets: writes get -EBUSY. */
	int busy; /* protected by store->lock (write to set, read to test) */
};

struct store {
	char *data;
	struct catalog cat;
	struct hlc clock;
	pthread_rwlock_t lock;
	pthread_rwlock_t barrier;
	size_t ntables;		     /* protected by lock */
	struct store_table **tables; /* protected by lock */
};

/* Path helpers (malloc'ed). */
char *store_tablet_path(const char *data, const char *table_id, const char *tablet_id);
char *store_table_dir(const char *data, const char *table_id);

/* Creates DATA's layout if missing (idempotent). *created = 1 if new. */
int store_init(const char *data, int *created, struct errbuf *e);

/* Opens an initialised DATA: catalog, clock, every tablet. Removes live
 * tablet directories that no catalog table owns (a crash between creating
 * them and recording the table). */
int store_open(struct store *s, const char *data, struct errbuf *e);
void store_close(struct store *s);

/* Splits "ks.table" into its parts, validating both names. */
int store_split_name(const char *full, char ks[65], char name[65], struct errbuf *e);

int store_table_create(struct store *s, const char *full, unsigned ntablets, struct errbuf *e);
int store_table_drop(struct store *s, const char *full, struct errbuf *e);

/* A JSON array of {id, keyspace, name, tablets, created} objects (caller puts). */
int store_table_list(struct store *s, json_object **out, struct errbuf *e);

/* Finds a table; caller holds s->lock. NULL if absent. */
struct store_table *store_find_locked(struct store *s, const char *ks, const char *name);

/* Opens the tablets of a catalog table record and puts the table in place
 * of the one with the same id (closing its tablets) or adds it. Caller
 * holds s->lock exclusively (online restore). */
int store_install_locked(struct store *s, json_object *rec, struct errbuf *e);
/* Closes and forgets the table with that id (its catalog record is gone;
 * its directories are the caller's to remove). Under s->lock, written. */
void store_forget_locked(struct store *s, const char *id);

/* 1 if the keyspace record exists. */
int store_keyspace_exists(struct store *s, const char *ks);

/* The tablet of t holding key (caller holds s->lock). */
struct store_tablet *store_pick_tablet(struct store_table *t, const void *key, size_t klen);

int store_put(struct store *s, const char *full, const void *key, size_t klen, const void *val,
	      size_t vlen, struct errbuf *e);
int store_del(struct store *s, const char *full, const void *key, size_t klen, struct errbuf *e);

/* at = 0 reads now. -ENOENT when the key is absent at that time. */
int store_get(struct store *s, const char *full, const void *key, size_t klen, uint64_t at,
	      char **val, size_t *vlen, struct errbuf *e);
int store_scan(struct store *s, const char *full, const void *prefix, size_t plen, uint64_t limit,
	       uint64_t at, row_cb cb, void *arg, struct errbuf *e);

/* Bulk load: rows keys "key%010d" with values derived from seed, written
 * in batches; progress(arg, done) after each batch (may be NULL). */
typedef int (*load_progress_fn)(void *arg, uint64_t done, uint64_t total);
int store_load(struct store *s, const char *full, uint64_t rows, uint32_t value_size, uint64_t seed,
	       load_progress_fn progress, void *arg, struct errbuf *e);

/* The deterministic value of row i for seed (len bytes into buf). */
void store_load_value(uint64_t seed, uint64_t i, char *buf, uint32_t len);

#endif
