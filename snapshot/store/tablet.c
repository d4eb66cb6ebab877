/*
 * tablet: one RocksDB with hybrid-time stamped keys (see tablet.h).
 *
 * The comparator reproduces RocksDB's built-in ComparatorWithU64Ts over
 * BytewiseComparator byte for byte and carries its name, so SST files and
 * MANIFESTs written here are readable by stock tools. Read options hold a
 * pointer to the timestamp bytes: every read keeps them on its stack for
 * the lifetime of the read options.
 *
 * Called by the store (live tablets) and by the snapshot module
 * (checkpoints, read-only opens at a cut).
 */
#include "tablet.h"

#include "fsutil.h"
#include "hlc.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_ts(void *st, const char *a, size_t alen, const char *b, size_t blen)
{
	uint64_t x = tablet_decode_ts(a), y = tablet_decode_ts(b);

	(void)st;
	(void)alen;
	(void)blen;
	return x < y ? -1 : x > y ? 1 : 0;
}

static int cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int r = n ? memcmp(a, b, n) : 0;

	if (r)
		return r;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int cmp_without_ts(void *st, const char *a, size_t alen, unsigned char a_has_ts,
			  const char *b, size_t blen, unsigned char b_has_ts)
{
	(void)st;
	if (a_has_ts)
		alen -= TABLET_TS_SIZE;
	if (b_has_ts)
		blen -= TABLET_TS_SIZE;
	return cmp_bytes(a, alen, b, blen);
}

static int cmp_full(void *st, const char *a, size_t alen, const char *b, size_t blen)
{
	int r = cmp_bytes(a, alen - TABLET_TS_SIZE, b, blen - TABLET_TS_SIZE);

	if (r)
		return r;
	/* newer versions first */
	return -cmp_ts(st, a + alen - TABLET_TS_SIZE, TABLET_TS_SIZE, b + blen - TABLET_TS_SIZE,
		       TABLET_TS_SIZE);
}

static const char *cmp_name(void *st)
{
	(void)st;
	return "leveldb.BytewiseComparator.u64ts";
}

static rocksdb_comparator_t *the_cmp;
static pthread_once_t cmp_once = PTHREAD_ONCE_INIT;

static void make_cmp(void)
{
	the_cmp = rocksdb_comparator_with_ts_create(NULL, NULL, cmp_full, cmp_ts, cmp_without_ts,
						    cmp_name, TABLET_TS_SIZE);
}

rocksdb_comparator_t *tablet_comparator(void)
{
	pthread_once(&cmp_once, make_cmp);
	return the_cmp;
}

void tablet_encode_ts(uint64_t ts, char out[TABLET_TS_SIZE])
{
	for (int i = 0; i < TABLET_TS_SIZE; i++)
		out[i] = (char)(ts >> (8 * i));
}

uint64_t tablet_decode_ts(const char *in)
{
	const unsigned char *p = (const unsigned char *)in;
	uint64_t v = 0;

	for (int i = TABLET_TS_SIZE - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The hybrid time RocksDB prints after "full_history_ts_low: " (the
 * timestamp's bytes in hex, as encoded: little endian), or 0. */
static uint64_t history_low_in(const char *err)
{
	const char *p = strstr(err, "full_history_ts_low: ");
	char bytes[TABLET_TS_SIZE];

	if (!p)
		return 0;
	p += strlen("full_history_ts_low: ");
	for (int i = 0; i < TABLET_TS_SIZE; i++) {
		unsigned b;

		if (sscanf(p + 2 * i, "%2x", &b) != 1)
			return 0;
		bytes[i] = (char)b;
	}
	return tablet_decode_ts(bytes);
}

/* RocksDB's message after its status prefix ("IO error: ", ...). */
static const char *detail(const char *err)
{
	const char *p = strstr(err, ": ");

	return p ? p + 2 : err;
}

/*
 * The one place RocksDB's messages are turned into ours: the errno decides
 * the exit code, the words are snapfs's. RocksDB's own text is kept only
 * where it names what is wrong and nothing better can be said (corruption,
 * I/O errors), after its status prefix.
 */
/* A read older than the history kept (low: the mark, 0 if unknown). */
static int history_refused(struct errbuf *e, uint64_t low)
{
	char when[40];

	if (!low)
		return err_set(e, -ERANGE, "time before the history kept");
	hlc_format_rfc3339(hlc_physical_us(low), 1, when, sizeof(when));
	return err_set(e, -ERANGE,
		       "time before the history kept: the earliest readable time is %s (hybrid "
		       "time %" PRIu64 ")",
		       when, low);
}

int tablet_rocksdb_error(char *err, struct errbuf *e, const char *what, const char *subject)
{
	int rc;

	if (strstr(err, "No space left")) {
		rc = err_set(e, -ENOSPC, "%s '%s': no space left on device", what, subject);
	} else if (strstr(err, "full_history_ts_low")) {
		rc = history_refused(e, history_low_in(err));
	} else if (!strncmp(err, "Corruption", 10)) {
		rc = err_set(e, -EBADMSG, "%s '%s': corrupt: %s", what, subject, detail(err));
	} else if (!strncmp(err, "NotFound", 8) || strstr(err, "does not exist")) {
		rc = err_set(e, -ENOENT, "%s '%s': not found", what, subject);
	} else if (strstr(err, "lock") && strstr(err, "temporarily unavailable")) {
		rc = err_set(e, -EBUSY,
			     "%s '%s': in use by another process (a running 'snapfs serve'?)", what,
			     subject);
	} else if (!strncmp(err, "Invalid argument", 16)) {
		rc = err_set(e, -EINVAL, "%s '%s': refused by the storage engine: %s", what,
			     subject, detail(err));
	} else {
		rc = err_set(e, -EIO, "%s '%s': storage error: %s", what, subject, detail(err));
	}
	free(err);
	return rc;
}

rocksdb_options_t *tablet_options(int create)
{
	rocksdb_options_t *o = rocksdb_options_create();

	rocksdb_options_set_create_if_missing(o, create);
	rocksdb_options_set_comparator(o, tablet_comparator());
	rocksdb_options_set_max_open_files(o, TABLET_MAX_OPEN_FILES);
	rocksdb_options_set_max_background_jobs(o, 2);
	rocksdb_options_set_write_buffer_size(o, 32u << 20);
	rocksdb_options_set_compression(o, rocksdb_lz4_compression);
	rocksdb_options_set_keep_log_file_num(o, 2);
	return o;
}

/* Frees what t holds besides the DB itself (closed, or never opened) and
 * zeroes it: options, the read-only log dir, the path. */
static void forget(struct tablet *t)
{
	rocksdb_options_destroy(t->opts);
	if (t->logdir)
		fs_remove_tree(t->logdir);
	free(t->logdir);
	free(t->path);
	memset(t, 0, sizeof(*t));
}

static int history_low(struct tablet *t, uint64_t *low, struct errbuf *e);

int tablet_open(struct tablet *t, const char *path, int create, int readonly, struct errbuf *e)
{
	const char *names[1] = {"default"};
	const rocksdb_options_t *cfopts[1];
	rocksdb_column_family_handle_t *handles[1] = {NULL};
	char *err = NULL;

	memset(t, 0, sizeof(*t));
	t->path = xstrdup(path);
	t->readonly = readonly;
	t->opts = tablet_options(create && !readonly);
	if (readonly) {
		const char *tmp = getenv("TMPDIR");

		t->logdir = fs_path("%s/snapfs-rolog.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(t->logdir)) {
			int rc = -errno;

			rocksdb_options_destroy(t->opts);
			free(t->logdir);
			free(t->path);
			memset(t, 0, sizeof(*t));
			return err_set(e, rc, "temp dir for tablet '%s': %s", path, strerror(-rc));
		}
		rocksdb_options_set_db_log_dir(t->opts, t->logdir);
		rocksdb_options_set_paranoid_checks(t->opts, 1);
	}
	cfopts[0] = t->opts;
	if (readonly)
		t->db = rocksdb_open_for_read_only_column_families(t->opts, path, 1, names, cfopts,
								   handles, 0, &err);
	else
		t->db =
		    rocksdb_open_column_families(t->opts, path, 1, names, cfopts, handles, &err);
	if (err) {
		forget(t);
		return tablet_rocksdb_error(err, e, "tablet", path);
	}
	t->cf = handles[0];
	t->wo = rocksdb_writeoptions_create();
	if (!readonly) {
		uint64_t low = 0;

		if (history_low(t, &low, NULL) == 0)
			atomic_store(&t->history_low, low);
	}
	return 0;
}

void tablet_close(struct tablet *t)
{
	if (!t->db)
		return;
	rocksdb_writeoptions_destroy(t->wo);
	rocksdb_column_family_handle_destroy(t->cf);
	rocksdb_close(t->db);
	forget(t);
}

int tablet_put(struct tablet *t, const void *key, size_t klen, const void *val, size_t vlen,
	       uint64_t ts, struct errbuf *e)
{
	char tsb[TABLET_TS_SIZE], *err = NULL;

	tablet_encode_ts(ts, tsb);
	rocksdb_put_cf_with_ts(t->db, t->wo, t->cf, key, klen, tsb, sizeof(tsb), val, vlen, &err);
	return err ? tablet_rocksdb_error(err, e, "put into tablet", t->path) : 0;
}

int tablet_del(struct tablet *t, const void *key, size_t klen, uint64_t ts, struct errbuf *e)
{
	char tsb[TABLET_TS_SIZE], *err = NULL;

	tablet_encode_ts(ts, tsb);
	rocksdb_delete_cf_with_ts(t->db, t->wo, t->cf, key, klen, tsb, sizeof(tsb), &err);
	return err ? tablet_rocksdb_error(err, e, "delete in tablet", t->path) : 0;
}

void tablet_batch_put(struct tablet *t, rocksdb_writebatch_t *b, const void *key, size_t klen,
		      const void *val, size_t vlen, uint64_t ts)
{
	char tsb[TABLET_TS_SIZE];

	tablet_encode_ts(ts, tsb);
	rocksdb_writebatch_put_cf_with_ts(b, t->cf, key, klen, tsb, sizeof(tsb), val, vlen);
}

void tablet_batch_del(struct tablet *t, rocksdb_writebatch_t *b, const void *key, size_t klen,
		      uint64_t ts)
{
	char tsb[TABLET_TS_SIZE];

	tablet_encode_ts(ts, tsb);
	rocksdb_writebatch_delete_cf_with_ts(b, t->cf, key, klen, tsb, sizeof(tsb));
}

int tablet_write(struct tablet *t, rocksdb_writebatch_t *b, struct errbuf *e)
{
	char *err = NULL;

	rocksdb_write(t->db, t->wo, b, &err);
	return err ? tablet_rocksdb_error(err, e, "write batch into tablet", t->path) : 0;
}

int tablet_get(struct tablet *t, const void *key, size_t klen, uint64_t ts, char **val,
	       size_t *vlen, struct errbuf *e)
{
	char tsb[TABLET_TS_SIZE], *err = NULL, *v;
	uint64_t low = atomic_load(&t->history_low);
	rocksdb_readoptions_t *ro;

	if (ts < low)
		return history_refused(e, low);
	ro = rocksdb_readoptions_create();
	tablet_encode_ts(ts, tsb);
	rocksdb_readoptions_set_timestamp(ro, tsb, sizeof(tsb));
	v = rocksdb_get_cf(t->db, ro, t->cf, key, klen, vlen, &err);
	rocksdb_readoptions_destroy(ro);
	if (err)
		return tablet_rocksdb_error(err, e, "read from tablet", t->path);
	if (!v)
		return -ENOENT;
	*val = v;
	return 0;
}

int tablet_flush(struct tablet *t, struct errbuf *e)
{
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	char *err = NULL;

	rocksdb_flushoptions_set_wait(fo, 1);
	rocksdb_flush_cf(t->db, fo, t->cf, &err);
	rocksdb_flushoptions_destroy(fo);
	return err ? tablet_rocksdb_error(err, e, "flush of tablet", t->path) : 0;
}

int tablet_checkpoint(struct tablet *t, const char *dir, struct errbuf *e)
{
	char *err = NULL;
	rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(t->db, &err);

	if (err)
		return tablet_rocksdb_error(err, e, "checkpoint of tablet", t->path);
	/* log_size_for_flush 0: always flush, so the checkpoint is SSTs only
	 * unless writes race it (their WAL is then copied too). */
	rocksdb_checkpoint_create(cp, dir, 0, &err);
	rocksdb_checkpoint_object_destroy(cp);
	return err ? tablet_rocksdb_error(err, e, "checkpoint into", dir) : 0;
}

int tablet_set_history_low(struct tablet *t, uint64_t ts, struct errbuf *e)
{
	char tsb[TABLET_TS_SIZE], *err = NULL;

	tablet_encode_ts(ts, tsb);
	rocksdb_increase_full_history_ts_low(t->db, t->cf, tsb, sizeof(tsb), &err);
	if (err)
		return tablet_rocksdb_error(err, e, "history low mark of tablet", t->path);
	for (uint64_t cur = atomic_load(&t->history_low);
	     cur < ts && !atomic_compare_exchange_weak(&t->history_low, &cur, ts);)
		;
	return 0;
}

static int starts_with(const char *k, size_t klen, const void *prefix, size_t plen)
{
	return klen >= plen && (!plen || !memcmp(k, prefix, plen));
}

int tablets_scan(struct tablet *const *tabs, unsigned n, const void *prefix, size_t plen,
		 uint64_t limit, uint64_t ts, row_cb cb, void *arg, struct errbuf *e)
{
	return tablets_scan_from(tabs, n, prefix, plen, NULL, 0, limit, ts, cb, arg, e);
}

int tablets_scan_from(struct tablet *const *tabs, unsigned n, const void *prefix, size_t plen,
		      const void *after, size_t alen, uint64_t limit, uint64_t ts, row_cb cb,
		      void *arg, struct errbuf *e)
{
	char tsb[TABLET_TS_SIZE];
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t **its;
	uint64_t emitted = 0;
	int rc = 0;

	for (unsigned i = 0; i < n; i++) {
		uint64_t low = atomic_load(&tabs[i]->history_low);

		if (ts < low)
			return history_refused(e, low);
	}
	ro = rocksdb_readoptions_create();
	its = xcalloc(n, sizeof(*its));
	tablet_encode_ts(ts, tsb);
	rocksdb_readoptions_set_timestamp(ro, tsb, sizeof(tsb));
	for (unsigned i = 0; i < n; i++) {
		its[i] = rocksdb_create_iterator_cf(tabs[i]->db, ro, tabs[i]->cf);
		if (alen) {
			const char *k;
			size_t klen;

			/* resume after the last key handed out: after > prefix */
			rocksdb_iter_seek(its[i], after, alen);
			if (rocksdb_iter_valid(its[i]) &&
			    (k = rocksdb_iter_key(its[i], &klen), klen == alen) &&
			    !memcmp(k, after, alen))
				rocksdb_iter_next(its[i]);
		} else if (plen) {
			rocksdb_iter_seek(its[i], prefix, plen);
		} else {
			rocksdb_iter_seek_to_first(its[i]);
		}
	}
	for (;;) {
		int best = -1;
		const char *bk = NULL;
		size_t bklen = 0;

		for (unsigned i = 0; i < n; i++) {
			const char *k;
			size_t klen;

			if (!rocksdb_iter_valid(its[i]))
				continue;
			k = rocksdb_iter_key(its[i], &klen);
			if (!starts_with(k, klen, prefix, plen))
				continue;
			if (best < 0 || cmp_bytes(k, klen, bk, bklen) < 0) {
				best = (int)i;
				bk = k;
				bklen = klen;
			}
		}
		if (best < 0 || (limit && emitted >= limit))
			break;
		{
			size_t vlen;
			const char *v = rocksdb_iter_value(its[best], &vlen);

			rc = cb(arg, bk, bklen, v, vlen);
			if (rc)
				break;
		}
		emitted++;
		rocksdb_iter_next(its[best]);
	}
	for (unsigned i = 0; i < n; i++) {
		char *err = NULL;

		rocksdb_iter_get_error(its[i], &err);
		if (err && !rc)
			rc = tablet_rocksdb_error(err, e, "scan of tablet", tabs[i]->path);
		else
			free(err);
		rocksdb_iter_destroy(its[i]);
	}
	free(its);
	rocksdb_readoptions_destroy(ro);
	return rc;
}

/* With iter_start_ts set, RocksDB's iterator returns internal keys:
 * user key | 8-byte timestamp | 8-byte packed (sequence << 8 | type). */
#define INTERNAL_SUFFIX (TABLET_TS_SIZE + 8)

static rocksdb_iterator_t *all_versions(struct tablet *t, rocksdb_readoptions_t *ro, char *lo,
					uint64_t from, char *hi)
{
	tablet_encode_ts(UINT64_MAX, hi);
	tablet_encode_ts(from, lo);
	rocksdb_readoptions_set_timestamp(ro, hi, TABLET_TS_SIZE);
	rocksdb_readoptions_set_iter_start_ts(ro, lo, TABLET_TS_SIZE);
	rocksdb_readoptions_set_verify_checksums(ro, 1);
	rocksdb_readoptions_set_fill_cache(ro, 0);
	return rocksdb_create_iterator_cf(t->db, ro, t->cf);
}

static int iter_done(rocksdb_iterator_t *it, rocksdb_readoptions_t *ro, struct tablet *t,
		     struct errbuf *e, const char *what)
{
	char *err = NULL;

	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	rocksdb_readoptions_destroy(ro);
	return err ? tablet_rocksdb_error(err, e, what, t->path) : 0;
}

int tablet_verify_read(struct tablet *t, struct errbuf *e)
{
	char lo[TABLET_TS_SIZE], hi[TABLET_TS_SIZE];
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = all_versions(t, ro, lo, 0, hi);

	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t vlen;

		(void)rocksdb_iter_value(it, &vlen);
	}
	return iter_done(it, ro, t, e, "read check of tablet");
}

int tablet_scan_newer(struct tablet *t, uint64_t cut, uint64_t *maxts, uint64_t *nnewer,
		      struct errbuf *e)
{
	char lo[TABLET_TS_SIZE], hi[TABLET_TS_SIZE];
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	rocksdb_iterator_t *it = all_versions(t, ro, lo, 0, hi);

	*maxts = 0;
	*nnewer = 0;
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen;
		const char *k = rocksdb_iter_key(it, &klen);
		uint64_t ts;

		if (klen < INTERNAL_SUFFIX)
			continue;
		ts = tablet_decode_ts(k + klen - INTERNAL_SUFFIX);
		if (ts > *maxts)
			*maxts = ts;
		if (ts > cut)
			(*nnewer)++;
	}
	return iter_done(it, ro, t, e, "scan of tablet");
}

static int history_low(struct tablet *t, uint64_t *low, struct errbuf *e)
{
	char *err = NULL, zero[TABLET_TS_SIZE];
	size_t len = 0;
	char *v;

	/* RocksDB 7.8 asserts in GetFullHistoryTsLow when no mark was ever
	 * set: set the lowest one first (refused, harmlessly, when a higher
	 * one exists). */
	tablet_encode_ts(0, zero);
	rocksdb_increase_full_history_ts_low(t->db, t->cf, zero, sizeof(zero), &err);
	free(err);
	err = NULL;
	v = rocksdb_get_full_history_ts_low(t->db, t->cf, &len, &err);

	*low = 0;
	if (err)
		return tablet_rocksdb_error(err, e, "history low mark of tablet", t->path);
	if (v && len == TABLET_TS_SIZE)
		*low = tablet_decode_ts(v);
	free(v);
	return 0;
}

int tablet_hide_after(struct tablet *t, uint64_t cut, uint64_t r, struct errbuf *e)
{
	char lo[TABLET_TS_SIZE], hi[TABLET_TS_SIZE];
	rocksdb_readoptions_t *ro;
	rocksdb_iterator_t *it;
	rocksdb_writebatch_t *b;
	rocksdb_writeoptions_t *wo;
	char *prev = NULL, *err = NULL;
	size_t prevlen = 0;
	uint64_t low;
	int rc = history_low(t, &low, e);

	if (rc || low > cut)
		return rc;
	ro = rocksdb_readoptions_create();
	it = all_versions(t, ro, lo, cut + 1, hi);
	b = rocksdb_writebatch_create();
	for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it) && !rc; rocksdb_iter_next(it)) {
		size_t klen, ulen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		char *v = NULL;

		if (klen < INTERNAL_SUFFIX)
			continue;
		ulen = klen - INTERNAL_SUFFIX;
		if (prev && prevlen == ulen && !memcmp(prev, k, ulen))
			continue; /* one repair per key */
		free(prev);
		prev = xmalloc(ulen ? ulen : 1);
		memcpy(prev, k, ulen);
		prevlen = ulen;
		rc = tablet_get(t, prev, ulen, cut, &v, &vlen, e);
		if (rc == -ENOENT) {
			tablet_batch_del(t, b, prev, ulen, r);
			rc = 0;
		} else if (!rc) {
			tablet_batch_put(t, b, prev, ulen, v, vlen, r);
		}
		free(v);
	}
	free(prev);
	if (!rc)
		rc = iter_done(it, ro, t, e, "scan of tablet");
	else
		iter_done(it, ro, t, NULL, "scan of tablet");
	if (!rc && rocksdb_writebatch_count(b)) {
		wo = rocksdb_writeoptions_create();
		rocksdb_writeoptions_set_sync(wo, 1);
		rocksdb_write(t->db, wo, b, &err);
		rocksdb_writeoptions_destroy(wo);
		if (err)
			rc = tablet_rocksdb_error(err, e, "repair writes into tablet", t->path);
	}
	rocksdb_writebatch_destroy(b);
	if (!rc)
		rc = tablet_flush(t, e);
	if (!rc)
		rc = tablet_set_history_low(t, r, e);
	return rc;
}
