/*
 * sha256sums: SHA-256 of files (OpenSSL EVP) and the SHA256SUMS file of a
 * snapshot, in the plain format of coreutils' sha256sum so that
 * `sha256sum -c SHA256SUMS` run inside a copied tree checks it with no
 * snapfs around:
 *   <64 lowercase hex>  <relative path>\n        sorted by path (strcmp)
 *
 * Writing is trusted (the snapshot code lists its own files) but still
 * refuses any path that would not parse back, so what we write is always
 * what we accept. Parsing is not trusted (the file comes from a backup):
 * every line is bounded (4 KiB), every path is relative and stays inside
 * the tree (no leading '/', no '.', '..' or empty component), and names
 * coreutils would have to escape (backslash, newline, other control
 * characters) are refused instead of unescaped. The binary marker form
 * "hex *path" is accepted since other tools write it.
 *
 * All OpenSSL failures are translated to -EIO here, in one place.
 */
#include "manifest.h"

#include "fsutil.h"
#include "ids.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HASH_BUF (1u << 20)
#define SUMS_NAME "SHA256SUMS"

static void to_hex(const unsigned char *md, char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[64] = '\0';
}

static int ossl_rc(int ok)
{
	return ok == 1 ? 0 : -EIO;
}

int sums_hash_fd(int fd, char hex[65])
{
	EVP_MD_CTX *ctx = NULL;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned char *buf = NULL;
	int rc;

	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	ctx = EVP_MD_CTX_new();
	if (!ctx) {
		rc = -ENOMEM;
		goto out;
	}
	rc = ossl_rc(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL));
	if (rc)
		goto out;
	buf = xmalloc(HASH_BUF);
	for (;;) {
		ssize_t n = read(fd, buf, HASH_BUF);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if (n == 0)
			break;
		rc = ossl_rc(EVP_DigestUpdate(ctx, buf, (size_t)n));
		if (rc)
			goto out;
	}
	rc = ossl_rc(EVP_DigestFinal_ex(ctx, md, &mdlen));
	if (!rc && mdlen != 32)
		rc = -EIO;
	if (!rc)
		to_hex(md, hex);
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int sums_hash_buf(const void *buf, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	int rc;

	rc = ossl_rc(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL));
	if (!rc && mdlen != 32)
		rc = -EIO;
	if (!rc)
		to_hex(md, hex);
	return rc;
}

int sums_hash_file(const char *path, char hex[65])
{
	struct stat st;
	int fd, rc;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (!S_ISREG(st.st_mode))
		rc = -EINVAL;
	else
		rc = sums_hash_fd(fd, hex);
	close(fd);
	return rc;
}

/* ---- the SHA256SUMS file ---- */

static int hex_valid(const char *s, size_t len)
{
	return len == 64 && hex_lower(s, len);
}

/* NULL if the bytes of p are all printable and need no escaping, else why
 * not. Such a path must never be quoted in a message. */
static const char *path_chars_problem(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f)
			return "control character in path";
		if (c == '\\')
			return "backslash in path";
	}
	return NULL;
}

/* NULL if p (len printable bytes) is a relative path that stays inside the
 * tree, else why not. */
static const char *path_parts_problem(const char *p, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return "empty path";
	if (p[0] == '/')
		return "absolute path";
	for (size_t i = 0; i <= len; i++) {
		size_t clen;

		if (i < len && p[i] != '/')
			continue;
		clen = i - start;
		if (clen == 0)
			return "empty path component";
		if (clen == 1 && p[start] == '.')
			return "'.' component in path";
		if (clen == 2 && p[start] == '.' && p[start + 1] == '.')
			return "'..' component in path";
		if (clen > 255)
			return "path component longer than 255 bytes";
		start = i + 1;
	}
	return NULL;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct sums_entry *)a)->path, ((const struct sums_entry *)b)->path);
}

int sums_write(const char *dir, struct sums_entry *ents, size_t n)
{
	char *path = NULL, *buf = NULL;
	size_t len = 0, cap = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		size_t plen = strlen(ents[i].path);

		if (path_chars_problem(ents[i].path, plen) ||
		    path_parts_problem(ents[i].path, plen) || plen + 66 > SUMS_LINE_MAX ||
		    !hex_valid(ents[i].hex, strlen(ents[i].hex)))
			return -EINVAL;
	}
	if (n)
		qsort(ents, n, sizeof(*ents), cmp_entry);
	for (size_t i = 1; i < n; i++)
		if (!strcmp(ents[i - 1].path, ents[i].path))
			return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		size_t need = 64 + 2 + strlen(ents[i].path) + 1;

		if (len + need + 1 > cap) {
			cap = (len + need + 1) * 2;
			buf = xrealloc(buf, cap);
		}
		len += (size_t)sprintf(buf + len, "%s  %s\n", ents[i].hex, ents[i].path);
	}
	path = fs_path("%s/%s", dir, SUMS_NAME);
	rc = fs_write_atomic(path, buf ? buf : "", len, 0644);
	free(path);
	free(buf);
	return rc;
}

void sums_free(struct sums_entry *ents, size_t n)
{
	if (!ents)
		return;
	for (size_t i = 0; i < n; i++)
		free(ents[i].path);
	free(ents);
}

/* One line (without its newline) into *ent. */
static int parse_line(const char *line, size_t len, size_t lineno, struct sums_entry *ent,
		      struct errbuf *e)
{
	const char *path, *why;
	size_t plen;

	if (len == 0)
		return err_set(e, -EBADMSG, "SHA256SUMS: line %zu: empty", lineno);
	if (line[0] == '\\')
		return err_set(e, -EBADMSG, "SHA256SUMS: line %zu: escaped file name not supported",
			       lineno);
	if (len < 67 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*'))
		return err_set(e, -EBADMSG,
			       "SHA256SUMS: line %zu: malformed (want '<sha256>  <path>')", lineno);
	if (!hex_valid(line, 64))
		return err_set(e, -EBADMSG,
			       "SHA256SUMS: line %zu: bad checksum (want 64 lowercase hex digits)",
			       lineno);
	path = line + 66;
	plen = len - 66;
	why = path_chars_problem(path, plen);
	if (why)
		return err_set(e, -EBADMSG, "SHA256SUMS: line %zu: %s", lineno, why);
	why = path_parts_problem(path, plen);
	if (why)
		return err_set(e, -EBADMSG, "SHA256SUMS: line %zu: path '%.*s': %s", lineno,
			       (int)plen, path, why);
	memcpy(ent->hex, line, 64);
	ent->hex[64] = '\0';
	ent->path = xmalloc(plen + 1);
	memcpy(ent->path, path, plen);
	ent->path[plen] = '\0';
	return 0;
}

int sums_parse(const char *text, size_t len, struct sums_entry **out, size_t *n, struct errbuf *e)
{
	struct sums_entry *ents = NULL;
	size_t cnt = 0, cap = 0, lineno = 0, pos = 0;
	int rc = 0;

	*out = NULL;
	*n = 0;
	if (len > SUMS_MAX_TEXT) {
		rc = err_set(e, -EBADMSG, "SHA256SUMS: larger than %u bytes", SUMS_MAX_TEXT);
		goto out;
	}
	if (memchr(text, '\0', len)) {
		rc = err_set(e, -EBADMSG, "SHA256SUMS: contains a NUL byte");
		goto out;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t llen = nl ? (size_t)(nl - (text + pos)) : len - pos;

		lineno++;
		if (llen > SUMS_LINE_MAX) {
			rc = err_set(e, -EBADMSG, "SHA256SUMS: line %zu: longer than %d bytes",
				     lineno, SUMS_LINE_MAX);
			goto out;
		}
		if (cnt == cap) {
			cap = cap ? 2 * cap : 64;
			ents = xrealloc(ents, cap * sizeof(*ents));
		}
		rc = parse_line(text + pos, llen, lineno, &ents[cnt], e);
		if (rc)
			goto out;
		cnt++;
		pos += llen + 1;
	}
	if (cnt)
		qsort(ents, cnt, sizeof(*ents), cmp_entry);
	for (size_t i = 1; i < cnt; i++) {
		if (!strcmp(ents[i - 1].path, ents[i].path)) {
			rc = err_set(e, -EBADMSG, "SHA256SUMS: path '%s': listed twice",
				     ents[i].path);
			goto out;
		}
	}
	*out = ents;
	*n = cnt;
	ents = NULL;
out:
	sums_free(ents, cnt);
	return rc;
}
