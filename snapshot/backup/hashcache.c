/*
 * hashcache: SHA-256 digests of immutable files (SSTs and friends), so that
 * a file hard-linked into snapshot after snapshot is hashed once in its
 * life instead of once per snapshot. Called by the snapshot code while it
 * writes SHA256SUMS, from several threads at once.
 *
 * Key: (tablet id, file name, size, inode). RocksDB never rewrites an SST in
 * place and a checkpoint hard-links it, so the inode plus the size names
 * its content; a file rewritten in place with the same size and inode
 * keeps its old digest, which is the intended trade (the cache is for
 * immutable files only). The tablet id and name guard against inode reuse
 * across tablets after a delete.
 *
 * Concurrency: one mutex guards the table; hashing (the slow part) runs
 * outside it, so two threads missing on the same file may both hash it and
 * the second insert just refreshes the entry. A second mutex serialises
 * saves, which share the one temp file name.
 *
 * Persistence: a text file written atomically (fs_write_atomic), first line
 * "snapfs-hashcache 1", then one entry per line:
 *   <fnv64 of the rest, 16 hex> <sha256 hex> <inode> <size> <tablet id> <name>
 * The name is last and may hold spaces; names with control characters are
 * never cached. A line whose check value, fields or digest do not parse is
 * skipped: a corrupt entry is never trusted, it is just hashed again. A
 * missing or unreadable file is an empty cache. Only entries looked up
 * since open are saved, so SSTs deleted by compaction fall out.
 */
#include "manifest.h"

#include "fsutil.h"
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HC_MAGIC "snapfs-hashcache 1\n"
#define HC_MAX_FILE (512u << 20)
#define HC_TABLET_MAX 64
#define HC_NAME_MAX 255

struct hc_entry {
	struct hc_entry *next; /* bucket chain */
	uint64_t hash;
	uint64_t ino, size;
	char *tablet, *name;
	char hex[65];
	int touched; /* looked up since open */
};

struct hashcache {
	pthread_mutex_t lock;
	pthread_mutex_t save_lock; /* serialises hashcache_save */
	char *path;
	struct hc_entry **buckets; /* protected by lock */
	size_t nbuckets, n;	   /* protected by lock */
};

static uint64_t key_hash(const char *tablet, const char *name, uint64_t size, uint64_t ino)
{
	uint64_t h = FNV1A64_SEED;

	h = fnv1a64(h, tablet, strlen(tablet) + 1);
	h = fnv1a64(h, name, strlen(name) + 1);
	h = fnv1a64(h, &size, sizeof(size));
	return fnv1a64(h, &ino, sizeof(ino));
}

/* 1 if s is 1..max bytes with no space or control character. */
static int word_ok(const char *s, size_t max, int spaces)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f || (!spaces && c == ' '))
			return 0;
	}
	return 1;
}

static int name_ok(const char *s)
{
	return word_ok(s, HC_NAME_MAX, 1) && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static int hex_ok(const char *s)
{
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[64] == '\0';
}

/* Under hc->lock. */
static struct hc_entry *find(struct hashcache *hc, uint64_t hash, const char *tablet,
			     const char *name, uint64_t size, uint64_t ino)
{
	for (struct hc_entry *x = hc->buckets[hash % hc->nbuckets]; x; x = x->next)
		if (x->hash == hash && x->ino == ino && x->size == size && !strcmp(x->name, name) &&
		    !strcmp(x->tablet, tablet))
			return x;
	return NULL;
}

/* Under hc->lock. */
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

/* Inserts or refreshes an entry. Under hc->lock. */
static void put(struct hashcache *hc, const char *tablet, const char *name, uint64_t size,
		uint64_t ino, const char *hex, int touched)
{
	uint64_t hash = key_hash(tablet, name, size, ino);
	struct hc_entry *x = find(hc, hash, tablet, name, size, ino);

	if (!x) {
		if (hc->n >= hc->nbuckets)
			grow(hc);
		x = xcalloc(1, sizeof(*x));
		x->hash = hash;
		x->ino = ino;
		x->size = size;
		x->tablet = xstrdup(tablet);
		x->name = xstrdup(name);
		x->next = hc->buckets[hash % hc->nbuckets];
		hc->buckets[hash % hc->nbuckets] = x;
		hc->n++;
	}
	memcpy(x->hex, hex, 65);
	x->touched |= touched;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* One line of the file, NUL-terminated, split in place; skipped if bad. */
static void load_line(struct hashcache *hc, char *line)
{
	char want[17], *f[5], *p;
	uint64_t ino, size;

	if (strlen(line) < 18 || line[16] != ' ')
		return;
	snprintf(want, sizeof(want), "%016" PRIx64,
		 fnv1a64(FNV1A64_SEED, line + 17, strlen(line + 17)));
	if (memcmp(want, line, 16))
		return;
	p = line + 17;
	for (int i = 0; i < 4; i++) {
		char *sp = strchr(p, ' ');

		if (!sp)
			return;
		*sp = '\0';
		f[i] = p;
		p = sp + 1;
	}
	f[4] = p; /* the name, spaces allowed */
	if (!hex_ok(f[0]) || parse_u64(f[1], &ino) || parse_u64(f[2], &size) ||
	    !word_ok(f[3], HC_TABLET_MAX, 0) || !name_ok(f[4]))
		return;
	put(hc, f[3], f[4], size, ino, f[0], 0);
}

static void load(struct hashcache *hc)
{
	char *text = NULL, *p;
	size_t len = 0;

	if (fs_read_all(hc->path, HC_MAX_FILE, &text, &len))
		return;
	if (len < strlen(HC_MAGIC) || memcmp(text, HC_MAGIC, strlen(HC_MAGIC)) ||
	    memchr(text, '\0', len))
		goto out;
	p = text + strlen(HC_MAGIC);
	while (*p) {
		char *nl = strchr(p, '\n');

		if (!nl)
			break; /* a torn last line is not trusted */
		*nl = '\0';
		load_line(hc, p);
		p = nl + 1;
	}
out:
	free(text);
}

int hashcache_open(struct hashcache **out, const char *path)
{
	struct hashcache *hc = xcalloc(1, sizeof(*hc));

	pthread_mutex_init(&hc->lock, NULL);
	pthread_mutex_init(&hc->save_lock, NULL);
	hc->path = xstrdup(path);
	hc->nbuckets = 1024;
	hc->buckets = xcalloc(hc->nbuckets, sizeof(*hc->buckets));
	load(hc);
	*out = hc;
	return 0;
}

int hashcache_get(struct hashcache *hc, const char *tablet_id, const char *path, char hex[65])
{
	const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	struct stat st, fst;
	struct hc_entry *x;
	uint64_t hash;
	int fd = -1, rc = 0, cacheable = name_ok(name);

	if (!word_ok(tablet_id, HC_TABLET_MAX, 0))
		return -EINVAL;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	hash = key_hash(tablet_id, name, (uint64_t)st.st_size, (uint64_t)st.st_ino);
	pthread_mutex_lock(&hc->lock);
	x = cacheable ? find(hc, hash, tablet_id, name, (uint64_t)st.st_size, (uint64_t)st.st_ino)
		      : NULL;
	if (x) {
		x->touched = 1;
		memcpy(hex, x->hex, 65);
	}
	pthread_mutex_unlock(&hc->lock);
	if (x)
		goto out;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (fstat(fd, &fst) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(fst.st_mode) || fst.st_ino != st.st_ino || fst.st_dev != st.st_dev) {
		rc = -EAGAIN; /* replaced between lstat and open */
		goto out;
	}
	rc = sums_hash_fd(fd, hex);
	if (rc || !cacheable)
		goto out;
	pthread_mutex_lock(&hc->lock);
	put(hc, tablet_id, name, (uint64_t)fst.st_size, (uint64_t)fst.st_ino, hex, 1);
	pthread_mutex_unlock(&hc->lock);
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Appends one line for x to *buf. */
static void dump_entry(const struct hc_entry *x, char **buf, size_t *len, size_t *cap)
{
	char body[64 + 2 * 21 + HC_TABLET_MAX + HC_NAME_MAX + 8];
	int n = snprintf(body, sizeof(body), "%s %" PRIu64 " %" PRIu64 " %s %s", x->hex, x->ino,
			 x->size, x->tablet, x->name);

	if (n < 0 || (size_t)n >= sizeof(body))
		return;
	/* 16 hex digits, a space, the body, a newline and sprintf's NUL */
	if (*len + 16 + 1 + (size_t)n + 1 + 1 > *cap) {
		*cap = (*len + (size_t)n + 19) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	*len += (size_t)sprintf(*buf + *len, "%016" PRIx64 " %s\n",
				fnv1a64(FNV1A64_SEED, body, (size_t)n), body);
}

int hashcache_save(struct hashcache *hc)
{
	size_t len = 0, cap = 4096;
	char *buf = xmalloc(cap);
	int rc;

	len = (size_t)sprintf(buf, "%s", HC_MAGIC);
	pthread_mutex_lock(&hc->save_lock);
	pthread_mutex_lock(&hc->lock);
	for (size_t i = 0; i < hc->nbuckets; i++)
		for (struct hc_entry *x = hc->buckets[i]; x; x = x->next)
			if (x->touched)
				dump_entry(x, &buf, &len, &cap);
	pthread_mutex_unlock(&hc->lock);
	rc = fs_write_atomic(hc->path, buf, len, 0600);
	pthread_mutex_unlock(&hc->save_lock);
	free(buf);
	return rc;
}

void hashcache_free(struct hashcache *hc)
{
	if (!hc)
		return;
	for (size_t i = 0; i < hc->nbuckets; i++) {
		struct hc_entry *x = hc->buckets[i], *next;

		for (; x; x = next) {
			next = x->next;
			free(x->tablet);
			free(x->name);
			free(x);
		}
	}
	free(hc->buckets);
	free(hc->path);
	pthread_mutex_destroy(&hc->save_lock);
	pthread_mutex_destroy(&hc->lock);
	free(hc);
}
