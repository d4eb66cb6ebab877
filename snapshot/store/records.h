/*
 * records: the typed records of the catalog, each parsed strictly, once,
 * by one pure function over its text, and written by one formatter. The
 * in-memory model of every module is these structs, never a json_object.
 *
 *   ks/<name>         struct ksrec       {"name"}
 *   table/<id>        struct tablerec    {"id","keyspace","name","created_ht","tablets"}
 *   snap/<id>         struct snaprec     {"id","state","keyspace","hybrid_time","wall_us",
 *                                         "bytes","tables"[,"schedule_id"]}
 *   sched/<id>        struct schedrec    {"id","keyspace","interval_us","retention_us",
 *                                         "created_us"}
 *   restore/<t>-<id>  struct restorerec  {"id","source","snapshot_id","keyspace","cut_time",
 *                                         "hybrid_time","tables","dropped","result",
 *                                         "restored_us"}
 *
 * Strict means: the text is one JSON object; every field above is present
 * with its type (no default for a missing one), no other field is there,
 * ids are 32 lowercase hex digits, names [A-Za-z0-9_-]{1,64}, numbers are
 * non-negative integers, a table's tablets cover [0, 65536) in order with
 * distinct ids. A record that fails refuses the daemon's start (exit 3)
 * naming its key and field; `snapfs check` reports every one. The JSON is
 * the same as the first release wrote, so its DATA opens unchanged.
 *
 * Parsers write into *out only on success (callers release with the
 * matching _release); on failure they return -EBADMSG with "<field>: <why>"
 * in e, which the caller prefixes with the record's key.
 */
#ifndef SNAPFS_RECORDS_H
#define SNAPFS_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"
#include "ids.h"

#define NAME_LEN 64
#define RECORD_MAX_TEXT (16u << 20)
#define SCHED_MIN_INTERVAL_US 1000000LL

struct tabletrec {
	char id[ID_LEN + 1];
	uint32_t start, end; /* [start, end) of the hash space */
};

struct tablerec {
	char id[ID_LEN + 1];
	char ks[NAME_LEN + 1]; /* in a snapshot record: the snapshot's keyspace */
	char name[NAME_LEN + 1];
	uint64_t created_ht;
	unsigned ntablets;
	struct tabletrec *tablets; /* sorted by start */
};

struct ksrec {
	char name[NAME_LEN + 1];
};

enum snap_state { SNAP_CREATING, SNAP_COMPLETE, SNAP_FAILED, SNAP_DELETING };
extern const char *const snap_state_names[4];

struct snaprec {
	char id[ID_LEN + 1];
	enum snap_state state;
	char ks[NAME_LEN + 1];
	uint64_t ht;
	int64_t wall_us;
	uint64_t bytes;
	char schedule_id[ID_LEN + 1]; /* "" unless taken by a schedule */
	size_t ntables;
	struct tablerec *tables; /* ks = the snapshot's */
};

struct schedrec {
	char id[ID_LEN + 1];
	char ks[NAME_LEN + 1];
	int64_t interval_us, retention_us, created_us;
};

struct restorerec {
	char id[ID_LEN + 1];
	char *source;
	char snapshot_id[ID_LEN + 1];
	char ks[NAME_LEN + 1];
	char *cut_time;
	uint64_t hybrid_time;
	size_t ntables, ndropped;
	char **tables, **dropped; /* "name" or "ks.name" */
	char *result;
	int64_t restored_us;
};

int tablerec_parse(const char *text, size_t len, struct tablerec *out, struct errbuf *e);
char *tablerec_format(const struct tablerec *t); /* malloc'ed JSON text */
void tablerec_copy(struct tablerec *dst, const struct tablerec *src);
void tablerec_release(struct tablerec *t);
/* 0 if t's tablets are 1..256 ranges covering [0, 65536) in order with
 * distinct valid ids; -EBADMSG naming the fault. */
int tablerec_check_tablets(const struct tablerec *t, struct errbuf *e);

int ksrec_parse(const char *text, size_t len, struct ksrec *out, struct errbuf *e);
char *ksrec_format(const struct ksrec *k);

int snaprec_parse(const char *text, size_t len, struct snaprec *out, struct errbuf *e);
char *snaprec_format(const struct snaprec *r);
void snaprec_copy(struct snaprec *dst, const struct snaprec *src);
void snaprec_release(struct snaprec *r);

int schedrec_parse(const char *text, size_t len, struct schedrec *out, struct errbuf *e);
char *schedrec_format(const struct schedrec *s);

int restorerec_parse(const char *text, size_t len, struct restorerec *out, struct errbuf *e);
char *restorerec_format(const struct restorerec *r);
void restorerec_release(struct restorerec *r);

/* The same records as parts of a bigger JSON document (the restore
 * journal holds table, keyspace and restoration records). */
struct json_object;
int tablerec_from_json(struct json_object *o, struct tablerec *out, struct errbuf *e);
struct json_object *tablerec_to_json(const struct tablerec *t);
int ksrec_from_json(struct json_object *o, struct ksrec *out, struct errbuf *e);
struct json_object *ksrec_to_json(const struct ksrec *k);
/* with_restored_us 0: the record before its commit stamps restored_us. */
int restorerec_from_json(struct json_object *o, int with_restored_us, struct restorerec *out,
			 struct errbuf *e);
struct json_object *restorerec_to_json(const struct restorerec *r, int with_restored_us);

/* Parses one catalog record by its key's prefix (ks/, table/, snap/,
 * sched/, restore/), checking that the key names it (table/<id> holds
 * table <id>). -EBADMSG with "catalog record '<key>': <why>" for a bad
 * record or an unknown prefix. For `snapfs check` and the start. */
int record_check(const char *key, const char *text, size_t len, struct errbuf *e);

/* ---- the one set of strict JSON field readers (records.c, journal) ----
 * Each returns 0 or -EBADMSG with "field '<k>': <why>" in e. */
struct json_object;
struct json_object *rec_json_parse(const char *text, size_t len, struct errbuf *e);
/* Refuses any key of o not in the NULL-terminated list. */
int rec_only(struct json_object *o, const char *const *keys, struct errbuf *e);
int rec_str(struct json_object *o, const char *k, const char **out, struct errbuf *e);
int rec_id(struct json_object *o, const char *k, char out[ID_LEN + 1], struct errbuf *e);
int rec_name(struct json_object *o, const char *k, char out[NAME_LEN + 1], struct errbuf *e);
int rec_u64(struct json_object *o, const char *k, uint64_t *out, struct errbuf *e);
int rec_i64(struct json_object *o, const char *k, int64_t *out, struct errbuf *e);
int rec_arr(struct json_object *o, const char *k, struct json_object **out, struct errbuf *e);
int rec_has(struct json_object *o, const char *k);

#endif
