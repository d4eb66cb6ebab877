/*
 * catalog: JSON records in a plain RocksDB (see catalog.h). json-c is used
 * for the records (a well-kept Debian library, the same one that writes
 * SNAPSHOT.json) so the catalog is readable with `ldb scan` when debugging.
 * Records are small; callers keep in-memory copies and write through.
 */
#include "catalog.h"

#include "fsutil.h"
#include "tablet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int catalog_open(struct catalog *c, const char *path, int create, struct errbuf *e)
{
	char *err = NULL;

	memset(c, 0, sizeof(*c));
	c->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(c->opts, create);
	rocksdb_options_set_max_open_files(c->opts, 32);
	rocksdb_options_set_keep_log_file_num(c->opts, 2);
	c->db = rocksdb_open(c->opts, path, &err);
	if (err) {
		rocksdb_options_destroy(c->opts);
		c->opts = NULL;
		return tablet_rocksdb_error(err, e, "catalog", path);
	}
	c->wo = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(c->wo, 1);
	c->ro = rocksdb_readoptions_create();
	c->path = xstrdup(path);
	return 0;
}

int catalog_open_readonly(struct catalog *c, const char *path, struct errbuf *e)
{
	char *err = NULL;

	memset(c, 0, sizeof(*c));
	c->opts = rocksdb_options_create();
	rocksdb_options_set_max_open_files(c->opts, 32);
	c->db = rocksdb_open_for_read_only(c->opts, path, 0, &err);
	if (err) {
		rocksdb_options_destroy(c->opts);
		c->opts = NULL;
		c->db = NULL;
		return tablet_rocksdb_error(err, e, "catalog", path);
	}
	c->wo = rocksdb_writeoptions_create();
	c->ro = rocksdb_readoptions_create();
	rocksdb_readoptions_set_verify_checksums(c->ro, 1);
	c->path = xstrdup(path);
	return 0;
}

void catalog_close(struct catalog *c)
{
	if (!c->db)
		return;
	rocksdb_readoptions_destroy(c->ro);
	rocksdb_writeoptions_destroy(c->wo);
	rocksdb_close(c->db);
	rocksdb_options_destroy(c->opts);
	free(c->path);
	memset(c, 0, sizeof(*c));
}

int catalog_put(struct catalog *c, const char *key, json_object *obj, struct errbuf *e)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	char *err = NULL;

	rocksdb_put(c->db, c->wo, key, strlen(key), s, strlen(s), &err);
	return err ? tablet_rocksdb_error(err, e, "catalog write", key) : 0;
}

int catalog_delete(struct catalog *c, const char *key, struct errbuf *e)
{
	char *err = NULL;

	rocksdb_delete(c->db, c->wo, key, strlen(key), &err);
	return err ? tablet_rocksdb_error(err, e, "catalog delete", key) : 0;
}

static json_object *parse(const char *s, size_t len)
{
	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, s, (int)len);

	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

int catalog_get(struct catalog *c, const char *key, json_object **out, struct errbuf *e)
{
	size_t len;
	char *err = NULL;
	char *v = rocksdb_get(c->db, c->ro, key, strlen(key), &len, &err);

	*out = NULL;
	if (err)
		return tablet_rocksdb_error(err, e, "catalog read", key);
	if (!v)
		return -ENOENT;
	*out = parse(v, len);
	free(v);
	if (!*out)
		return err_set(e, -EBADMSG, "catalog record '%s': not JSON", key);
	return 0;
}

int catalog_scan(struct catalog *c, const char *prefix, catalog_cb cb, void *arg, struct errbuf *e)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator(c->db, c->ro);
	size_t plen = strlen(prefix);
	char *err = NULL;
	int rc = 0;

	for (rocksdb_iter_seek(it, prefix, plen); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		char *key;
		json_object *o;

		if (klen < plen || memcmp(k, prefix, plen))
			break;
		key = xmalloc(klen + 1);
		memcpy(key, k, klen);
		key[klen] = '\0';
		o = parse(v, vlen);
		if (!o) {
			rc = err_set(e, -EBADMSG, "catalog record '%s': not JSON", key);
			free(key);
			break;
		}
		rc = cb(arg, key, o);
		json_object_put(o);
		free(key);
		if (rc)
			break;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	if (err)
		return tablet_rocksdb_error(err, e, "catalog scan", prefix);
	return rc;
}

int catalog_get_text(struct catalog *c, const char *key, char **text, size_t *len, struct errbuf *e)
{
	size_t n;
	char *err = NULL;
	char *v = rocksdb_get(c->db, c->ro, key, strlen(key), &n, &err);

	*text = NULL;
	if (err)
		return tablet_rocksdb_error(err, e, "catalog read", key);
	if (!v)
		return -ENOENT;
	*text = xmalloc(n + 1);
	memcpy(*text, v, n);
	(*text)[n] = '\0';
	free(v);
	if (len)
		*len = n;
	return 0;
}

int catalog_put_text(struct catalog *c, const char *key, const char *text, struct errbuf *e)
{
	char *err = NULL;

	rocksdb_put(c->db, c->wo, key, strlen(key), text, strlen(text), &err);
	return err ? tablet_rocksdb_error(err, e, "catalog write", key) : 0;
}

int catalog_scan_text(struct catalog *c, const char *prefix, catalog_text_cb cb, void *arg,
		      struct errbuf *e)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator(c->db, c->ro);
	size_t plen = strlen(prefix);
	char *err = NULL;
	int rc = 0;

	for (rocksdb_iter_seek(it, prefix, plen); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		char *key, *text;

		if (klen < plen || memcmp(k, prefix, plen))
			break;
		key = xmalloc(klen + 1);
		memcpy(key, k, klen);
		key[klen] = '\0';
		text = xmalloc(vlen + 1);
		memcpy(text, v, vlen);
		text[vlen] = '\0';
		rc = cb(arg, key, text, vlen);
		free(text);
		free(key);
		if (rc)
			break;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	if (err)
		return tablet_rocksdb_error(err, e, "catalog scan", prefix);
	return rc;
}

void catalog_batch_put_text(struct catalog_batch *b, const char *key, const char *text)
{
	rocksdb_writebatch_put(b->wb, key, strlen(key), text, strlen(text));
}

void catalog_batch_init(struct catalog_batch *b)
{
	b->wb = rocksdb_writebatch_create();
}

void catalog_batch_put(struct catalog_batch *b, const char *key, json_object *obj)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);

	rocksdb_writebatch_put(b->wb, key, strlen(key), s, strlen(s));
}

void catalog_batch_delete(struct catalog_batch *b, const char *key)
{
	rocksdb_writebatch_delete(b->wb, key, strlen(key));
}

int catalog_batch_commit(struct catalog *c, struct catalog_batch *b, struct errbuf *e)
{
	char *err = NULL;

	rocksdb_write(c->db, c->wo, b->wb, &err);
	return err ? tablet_rocksdb_error(err, e, "catalog write", "batch") : 0;
}

void catalog_batch_release(struct catalog_batch *b)
{
	if (b->wb)
		rocksdb_writebatch_destroy(b->wb);
	b->wb = NULL;
}
