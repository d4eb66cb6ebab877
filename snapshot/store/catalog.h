/*
 * catalog: the sys catalog, a plain RocksDB (no timestamps) at DATA/catalog
 * holding one JSON record (json-c) per key:
 *   ks/<name>        keyspace
 *   table/<id>       table: keyspace, name, tablets with partition ranges
 *   snap/<id>        snapshot: state, cut, tables, tablets
 *   sched/<id>       schedule
 *   restore/<time>   a restoration done
 * Every write is synced; a batch makes several records change atomically.
 */
#ifndef SNAPFS_CATALOG_H
#define SNAPFS_CATALOG_H

#include <json-c/json.h>
#include <rocksdb/c.h>

#include "errbuf.h"

struct catalog {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_writeoptions_t *wo;
	rocksdb_readoptions_t *ro;
	char *path;
};

int catalog_open(struct catalog *c, const char *path, int create, struct errbuf *e);
/* Opens for reading only (snapfs check): nothing in path is written. */
int catalog_open_readonly(struct catalog *c, const char *path, struct errbuf *e);
void catalog_close(struct catalog *c);

/* Stores obj (not consumed) under key, synced. */
int catalog_put(struct catalog *c, const char *key, json_object *obj, struct errbuf *e);
int catalog_delete(struct catalog *c, const char *key, struct errbuf *e);

/* *out gets a new reference the caller puts; -ENOENT when absent. */
int catalog_get(struct catalog *c, const char *key, json_object **out, struct errbuf *e);

/* Calls cb for every record whose key starts with prefix, in key order. A
 * non-zero return of cb stops and is returned. obj is borrowed. */
typedef int (*catalog_cb)(void *arg, const char *key, json_object *obj);
int catalog_scan(struct catalog *c, const char *prefix, catalog_cb cb, void *arg, struct errbuf *e);

/* The same on the records' text, which records.h parses (the in-memory
 * model is typed records, never json_object). *text is malloc'ed and
 * NUL-terminated; -ENOENT when absent. */
int catalog_get_text(struct catalog *c, const char *key, char **text, size_t *len,
		     struct errbuf *e);
int catalog_put_text(struct catalog *c, const char *key, const char *text, struct errbuf *e);
typedef int (*catalog_text_cb)(void *arg, const char *key, const char *text, size_t len);
int catalog_scan_text(struct catalog *c, const char *prefix, catalog_text_cb cb, void *arg,
		      struct errbuf *e);

/* Atomic multi-record change. */
struct catalog_batch {
	rocksdb_writebatch_t *wb;
};
void catalog_batch_init(struct catalog_batch *b);
void catalog_batch_put(struct catalog_batch *b, const char *key, json_object *obj);
void catalog_batch_put_text(struct catalog_batch *b, const char *key, const char *text);
void catalog_batch_delete(struct catalog_batch *b, const char *key);
int catalog_batch_commit(struct catalog *c, struct catalog_batch *b, struct errbuf *e);
void catalog_batch_release(struct catalog_batch *b);

#endif
