/*
 * hashcache: SST digests hashed once in a file's life (see hashcache.h for
 * what may be cached and why that is safe). Called by the snapshot code
 * while it writes SHA256SUMS, from several threads at once, and by the
 * schedule thread hashing ahead.
 *
 * Why the first format was dropped: it keyed a digest by (tablet, name,
 * size, inode) and cached every file of a checkpoint. Each checkpoint
 * writes its own CURRENT; ext4 hands a deleted checkpoint's CURRENT inode
 * to the next one, with the same name and 16-byte size, and RocksDB names
 * a new MANIFEST at every open, so after a restart a snapshot could list a
 * stale digest for CURRENT and fail `sha256sum -c`. Now only SSTs are
 * cached, under a key a new file cannot share, and every hit is checked
 * against the file before it is used.
 *
 * Lock: hc->lock (a mutex) protects the table, the counters and every
 * entry's rel; never held across I/O. hc->save_lock serialises saves
 * (they share one temp file name); taken before hc->lock, never after.
 *
 * File: written atomically (fs_write_atomic), first line
 * "snapfs-hashcache 2", then one entry per line:
 *   <fnv64 of the rest, 16 hex> <sha256> <dev> <ino> <gen> <size> <mtime ns> <fp> <rel>
 * rel is last and may hold spaces. Parsed strictly (hashcache_parse): a
 * line that does not parse refuses the start naming it, as every other
 * record of DATA does; a file of the first format is dropped.
 */
#include "hashcache.h"

#include "fsutil.h"
#include "hash.h"
#include "ids.h"
#include "log.h"
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define HC_MAGIC_V1 "snapfs-hashcache 1\n"
#define HC_MAGIC "snapfs-hashcache 2\n"
#define HC_REL_MAX 1024
#define HC_FP_BYTES 4096

struct hc_key {
	uint64_t dev, ino, gen, size;
	int64_t mtime_ns;
};

struct hc_entry {
	struct hc_entry *next; /* bucket chain */
	uint64_t hash;
	struct hc_key k;
	char hex[65];
	char fp[17];
	char *rel; /* protected by hashcache->lock */
};

struct hashcache {
	pthread_mutex_t lock;
	pthread_mutex_t save_lock;
	char *path, *root;
	struct hc_entry **buckets; /* protected by lock */
	size_t nbuckets, n;	   /* protected by lock */
	uint64_t hits, hashed;	   /* protected by lock */
};

static uint64_t key_hash(const struct hc_key *k)
{
	uint64_t h = FNV1A64_SEED;

	h = fnv1a64(h, &k->dev, sizeof(k->dev));
	h = fnv1a64(h, &k->ino, sizeof(k->ino));
	h = fnv1a64(h, &k->gen, sizeof(k->gen));
	h = fnv1a64(h, &k->size, sizeof(k->size));
	return fnv1a64(h, &k->mtime_ns, sizeof(k->mtime_ns));
}

static int key_eq(const struct hc_key *a, const struct hc_key *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->gen == b->gen && a->size == b->size &&
	       a->mtime_ns == b->mtime_ns;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

/* 1 for an SST name as RocksDB writes them: digits, ".sst". */
static int sst_name(const char *name)
{
	size_t n = strlen(name), i;

	if (n < 5 || n > 64 || strcmp(name + n - 4, ".sst"))
		return 0;
	for (i = 0; i < n - 4; i++)
		if (name[i] < '0' || name[i] > '9')
			return 0;
	return 1;
}

/* 1 if rel is a relative path of plain components naming an SST. */
static int rel_ok(const char *rel, size_t len)
{
	const char *p = rel, *end = rel + len;

	if (len == 0 || len > HC_REL_MAX || rel[0] == '/')
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)rel[i] < 0x20 || rel[i] == 0x7f)
			return 0;
	while (p < end) {
		const char *s = memchr(p, '/', (size_t)(end - p));
		size_t c = s ? (size_t)(s - p) : (size_t)(end - p);

		if (c == 0 || (c == 1 && p[0] == '.') || (c == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!s) {
			char name[65];

			if (c > 64)
				return 0;
			memcpy(name, p, c);
			name[c] = '\0';
			return sst_name(name);
		}
		p = s + 1;
	}
	return 0; /* ends in '/' */
}

static void key_of(const struct stat *st, uint64_t gen, struct hc_key *k)
{
	k->dev = (uint64_t)st->st_dev;
	k->ino = (uint64_t)st->st_ino;
	k->gen = gen;
	k->size = (uint64_t)st->st_size;
	k->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* The inode generation, 0 where the filesystem keeps none (tmpfs). */
static uint64_t inode_gen(int fd)
{
	unsigned int g = 0; /* the kernel writes an int, whatever the macro says */

	if (ioctl(fd, FS_IOC_GETVERSION, &g) < 0)
		return 0;
	return g;
}

/* Fingerprint: 16 hex digits of the SHA-256 of the first and last 4 KiB. */
static int fingerprint(int fd, uint64_t size, char fp[17])
{
	char buf[2 * HC_FP_BYTES], hex[65];
	size_t head = size < HC_FP_BYTES ? (size_t)size : HC_FP_BYTES, tail = 0;
	ssize_t n;

	n = fs_pread_full(fd, buf, head, 0);
	if (n < 0 || (size_t)n != head)
		return n < 0 ? (int)n : -EAGAIN;
	if (size > HC_FP_BYTES) {
		tail =
		    size - HC_FP_BYTES < HC_FP_BYTES ? (size_t)(size - HC_FP_BYTES) : HC_FP_BYTES;
		n = fs_pread_full(fd, buf + head, tail, (off_t)(size - tail));
		if (n < 0 || (size_t)n != tail)
			return n < 0 ? (int)n : -EAGAIN;
	}
	if (sums_hash_buf(buf, head + tail, hex))
		return -EIO;
	memcpy(fp, hex, 16);
	fp[16] = '\0';
	return 0;
}

/* ---- the table (under hc->lock) ---- */

static struct hc_entry *find(struct hashcache *hc, const struct hc_key *k, uint64_t hash)
{
	for (struct hc_entry *x = hc->buckets[hash % hc->nbuckets]; x; x = x->next)
		if (x->hash == hash && key_eq(&x->k, k))
			return x;
	return NULL;
}

static void grow(struct hashcache *hc)
{
	size_t nb = hc->nbuckets * 2;
	struct hc_entry **b = xcalloc(nb, sizeof(*b));

	for (size_t i = 0; i < hc->nbuckets; i++) {
		struct hc_entry *x = hc->buckets[i], *next;

		for (; x; x = next) {
			next = x->next;
			x->next = b[x->hash % nb];
			b[x->hash % nb] = x;
		}
	}
	free(hc->buckets);
	hc->buckets = b;
	hc->nbuckets = nb;
}

/* Inserts or refreshes the entry of k. */
static void put(struct hashcache *hc, const struct hc_key *k, const char *hex, const char *fp,
		const char *rel)
{
	uint64_t hash = key_hash(k);
	struct hc_entry *x = find(hc, k, hash);

	if (!x) {
		if (hc->n >= hc->nbuckets)
			grow(hc);
		x = xcalloc(1, sizeof(*x));
		x->hash = hash;
		x->k = *k;
		x->next = hc->buckets[hash % hc->nbuckets];
		hc->buckets[hash % hc->nbuckets] = x;
		hc->n++;
	}
	memcpy(x->hex, hex, 65);
	memcpy(x->fp, fp, 17);
	if (!x->rel || strcmp(x->rel, rel)) {
		free(x->rel);
		x->rel = xstrdup(rel);
	}
}

/* ---- parsing ---- */

static int parse_u64(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

/* One line (without its newline) into r. */
static int parse_line(const char *line, size_t len, struct hc_record *r)
{
	const char *f[8], *p = line + 17, *end = line + len;
	size_t fl[8];
	uint64_t mt;
	char want[17];

	if (len < 18 || line[16] != ' ' || !hex_lower(line, 16))
		return -1;
	snprintf(want, sizeof(want), "%016" PRIx64, fnv1a64(FNV1A64_SEED, line + 17, len - 17));
	if (memcmp(want, line, 16))
		return -1;
	for (int i = 0; i < 7; i++) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));

		if (!sp)
			return -1;
		f[i] = p;
		fl[i] = (size_t)(sp - p);
		p = sp + 1;
	}
	f[7] = p; /* rel, spaces allowed */
	fl[7] = (size_t)(end - p);
	if (fl[0] != 64 || !hex_lower(f[0], 64) || fl[6] != 16 || !hex_lower(f[6], 16))
		return -1;
	if (parse_u64(f[1], fl[1], &r->dev) || parse_u64(f[2], fl[2], &r->ino) ||
	    parse_u64(f[3], fl[3], &r->gen) || parse_u64(f[4], fl[4], &r->size) ||
	    parse_u64(f[5], fl[5], &mt) || mt > INT64_MAX)
		return -1;
	if (!rel_ok(f[7], fl[7]))
		return -1;
	memcpy(r->hex, f[0], 64);
	r->hex[64] = '\0';
	memcpy(r->fp, f[6], 16);
	r->fp[16] = '\0';
	r->mtime_ns = (int64_t)mt;
	r->rel = xmalloc(fl[7] + 1);
	memcpy(r->rel, f[7], fl[7]);
	r->rel[fl[7]] = '\0';
	return 0;
}

void hc_records_free(struct hc_record *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].rel);
	free(v);
}

int hashcache_parse(const char *text, size_t len, struct hc_record **out, size_t *nout, int *old,
		    struct errbuf *e)
{
	struct hc_record *v = NULL;
	size_t n = 0, cap = 0, lineno = 1;
	const char *p = text, *end = text + len;

	*out = NULL;
	*nout = 0;
	*old = 0;
	if (len >= strlen(HC_MAGIC_V1) && !memcmp(text, HC_MAGIC_V1, strlen(HC_MAGIC_V1))) {
		*old = 1;
		return 0;
	}
	if (len < strlen(HC_MAGIC) || memcmp(text, HC_MAGIC, strlen(HC_MAGIC)))
		return err_set(e, -EBADMSG, "line 1: not a snapfs hash cache (format 2)");
	p += strlen(HC_MAGIC);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct hc_record r;

		lineno++;
		if (!nl) {
			hc_records_free(v, n);
			return err_set(e, -EBADMSG, "line %zu: no newline at the end", lineno);
		}
		memset(&r, 0, sizeof(r));
		if (memchr(p, '\0', (size_t)(nl - p)) || parse_line(p, (size_t)(nl - p), &r)) {
			hc_records_free(v, n);
			return err_set(e, -EBADMSG, "line %zu: malformed", lineno);
		}
		for (size_t i = 0; i < n; i++)
			if (v[i].dev == r.dev && v[i].ino == r.ino && v[i].gen == r.gen &&
			    v[i].size == r.size && v[i].mtime_ns == r.mtime_ns) {
				free(r.rel);
				hc_records_free(v, n);
				return err_set(e, -EBADMSG, "line %zu: duplicate of line %zu",
					       lineno, i + 2);
			}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = r;
		p = nl + 1;
	}
	*out = v;
	*nout = n;
	return 0;
}

/* ---- open, get, save ---- */

/* 1 if root/rel is still the file of key k (generation aside: that needs
 * an open, and every hit is checked against the open file anyway). */
static int still_there(const char *root, const char *rel, const struct hc_key *k)
{
	char *p = fs_path("%s/%s", root, rel);
	struct stat st;
	struct hc_key now;
	int ok = lstat(p, &st) == 0 && S_ISREG(st.st_mode);

	free(p);
	if (!ok)
		return 0;
	key_of(&st, k->gen, &now);
	return key_eq(&now, k);
}

static struct hashcache *hc_new(const char *path, const char *root)
{
	struct hashcache *hc = xcalloc(1, sizeof(*hc));

	pthread_mutex_init(&hc->lock, NULL);
	pthread_mutex_init(&hc->save_lock, NULL);
	hc->path = xstrdup(path);
	hc->root = xstrdup(root);
	hc->nbuckets = 1024;
	hc->buckets = xcalloc(hc->nbuckets, sizeof(*hc->buckets));
	return hc;
}

int hashcache_open(struct hashcache **out, const char *path, const char *root, struct errbuf *e)
{
	struct hashcache *hc = hc_new(path, root);
	struct hc_record *v = NULL;
	size_t n = 0, len = 0;
	char *text = NULL;
	int rc = fs_read_all(path, HASHCACHE_MAX_FILE, &text, &len), old = 0;

	*out = NULL;
	if (rc == -ENOENT) {
		*out = hc;
		return 0;
	}
	if (rc) {
		err_set(e, rc, "hash cache '%s': %s", path, strerror(-rc));
		goto out;
	}
	rc = hashcache_parse(text, len, &v, &n, &old, e);
	if (rc) {
		err_prefix(e, rc,
			   "hash cache '%s' (a cache: remove it and every SST is hashed again "
			   "once)",
			   path);
		goto out;
	}
	if (old)
		dlog("hash cache '%s': first format, dropped (its key could let a stale digest "
		     "in): every SST is hashed again once",
		     path);
	for (size_t i = 0; i < n; i++) {
		struct hc_key k = {v[i].dev, v[i].ino, v[i].gen, v[i].size, v[i].mtime_ns};

		if (still_there(root, v[i].rel, &k))
			put(hc, &k, v[i].hex, v[i].fp, v[i].rel);
	}
	*out = hc;
out:
	hc_records_free(v, n);
	free(text);
	if (rc)
		hashcache_free(hc);
	return rc;
}

/* path relative to root, or NULL if not under it. */
static const char *rel_of(const struct hashcache *hc, const char *path)
{
	size_t n = strlen(hc->root);

	if (strncmp(path, hc->root, n) || path[n] != '/')
		return NULL;
	path += n;
	while (*path == '/')
		path++;
	return rel_ok(path, strlen(path)) ? path : NULL;
}

int hashcache_get(struct hashcache *hc, const char *path, char hex[65])
{
	const char *rel = sst_name(base_name(path)) ? rel_of(hc, path) : NULL;
	struct stat st, st2;
	struct hc_key k, k2;
	struct hc_entry *x;
	char fp[17], cached_fp[17], cached_hex[65];
	int fd, rc = 0, hit = 0;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EINVAL : -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if (!rel) {
		rc = sums_hash_fd(fd, hex);
		pthread_mutex_lock(&hc->lock);
		hc->hashed++;
		pthread_mutex_unlock(&hc->lock);
		goto out;
	}
	key_of(&st, inode_gen(fd), &k);
	pthread_mutex_lock(&hc->lock);
	x = find(hc, &k, key_hash(&k));
	if (x) {
		hit = 1;
		memcpy(cached_hex, x->hex, 65);
		memcpy(cached_fp, x->fp, 17);
	}
	pthread_mutex_unlock(&hc->lock);
	rc = fingerprint(fd, k.size, fp);
	if (rc)
		goto out;
	if (hit && !strcmp(fp, cached_fp)) {
		memcpy(hex, cached_hex, 65);
		pthread_mutex_lock(&hc->lock);
		hc->hits++;
		x = find(hc, &k, key_hash(&k));
		if (x && (!x->rel || strcmp(x->rel, rel))) {
			free(x->rel);
			x->rel = xstrdup(rel);
		}
		pthread_mutex_unlock(&hc->lock);
		goto out;
	}
	rc = sums_hash_fd(fd, hex);
	if (rc)
		goto out;
	/* cache it only if the file did not change while it was hashed */
	if (fstat(fd, &st2) < 0) {
		rc = -errno;
		goto out;
	}
	key_of(&st2, k.gen, &k2);
	pthread_mutex_lock(&hc->lock);
	hc->hashed++;
	if (key_eq(&k, &k2))
		put(hc, &k, hex, fp, rel);
	pthread_mutex_unlock(&hc->lock);
out:
	close(fd);
	return rc;
}

/* Appends one line for x to *buf. */
static void dump_entry(const struct hc_entry *x, char **buf, size_t *len, size_t *cap)
{
	char body[64 + 6 * 21 + 17 + HC_REL_MAX + 16];
	int n =
	    snprintf(body, sizeof(body),
		     "%s %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %s %s", x->hex,
		     x->k.dev, x->k.ino, x->k.gen, x->k.size, x->k.mtime_ns, x->fp, x->rel);

	if (n < 0 || (size_t)n >= sizeof(body))
		return;
	if (*len + 16 + 1 + (size_t)n + 2 > *cap) {
		*cap = (*len + (size_t)n + 19) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	*len += (size_t)sprintf(*buf + *len, "%016" PRIx64 " %s\n",
				fnv1a64(FNV1A64_SEED, body, (size_t)n), body);
}

int hashcache_save(struct hashcache *hc)
{
	size_t len = 0, cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	struct hc_entry **v;
	int rc;

	len = (size_t)sprintf(buf, "%s", HC_MAGIC);
	pthread_mutex_lock(&hc->save_lock);
	/* copy the entries out, then stat them with no lock held */
	pthread_mutex_lock(&hc->lock);
	v = xcalloc(hc->n + 1, sizeof(*v));
	for (size_t i = 0; i < hc->nbuckets; i++)
		for (struct hc_entry *x = hc->buckets[i]; x; x = x->next) {
			struct hc_entry *c = xmalloc(sizeof(*c));

			*c = *x;
			c->rel = xstrdup(x->rel);
			v[n++] = c;
		}
	pthread_mutex_unlock(&hc->lock);
	for (size_t i = 0; i < n; i++) {
		if (still_there(hc->root, v[i]->rel, &v[i]->k)) {
			dump_entry(v[i], &buf, &len, &cap);
		} else {
			/* its file has gone: drop it (unless it was seen elsewhere since) */
			pthread_mutex_lock(&hc->lock);
			for (struct hc_entry **pp = &hc->buckets[v[i]->hash % hc->nbuckets]; *pp;
			     pp = &(*pp)->next) {
				struct hc_entry *x = *pp;

				if (x->hash != v[i]->hash || !key_eq(&x->k, &v[i]->k) ||
				    strcmp(x->rel, v[i]->rel))
					continue;
				*pp = x->next;
				free(x->rel);
				free(x);
				hc->n--;
				break;
			}
			pthread_mutex_unlock(&hc->lock);
		}
		free(v[i]->rel);
		free(v[i]);
	}
	free(v);
	rc = fs_write_atomic(hc->path, buf, len, 0600);
	pthread_mutex_unlock(&hc->save_lock);
	free(buf);
	return rc;
}

void hashcache_stats(struct hashcache *hc, uint64_t *hits, uint64_t *hashed)
{
	pthread_mutex_lock(&hc->lock);
	*hits = hc->hits;
	*hashed = hc->hashed;
	pthread_mutex_unlock(&hc->lock);
}

void hashcache_free(struct hashcache *hc)
{
	if (!hc)
		return;
	for (size_t i = 0; i < hc->nbuckets; i++) {
		struct hc_entry *x = hc->buckets[i], *next;

		for (; x; x = next) {
			next = x->next;
			free(x->rel);
			free(x);
		}
	}
	free(hc->buckets);
	free(hc->path);
	free(hc->root);
	pthread_mutex_destroy(&hc->save_lock);
	pthread_mutex_destroy(&hc->lock);
	free(hc);
}
