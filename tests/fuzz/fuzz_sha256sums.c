/*
 * fuzz_sha256sums: the SHA256SUMS parser of backup trees
 * (snapshot/backup/sha256sums.c: sums_parse), whose paths are later opened
 * inside the tree.
 *
 * Input: the file's bytes. Properties beyond "no crash, no UB": accepted
 * entries are sorted by path and unique, each digest is 64 lowercase hex
 * digits, and each path is relative, with no empty, "." or ".." component,
 * no backslash and no control character (so joining it to the root cannot
 * leave the tree); a refusal names SHA256SUMS.
 */
#include "fuzz.h"

#include "manifest.h"

#include <errno.h>

static int path_safe(const char *p)
{
	const char *c = p;

	if (!*p || *p == '/')
		return 0;
	for (; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
			return 0;
	for (c = p; *c;) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c += n;
		if (*c == '/')
			c++;
		if (*c == '\0' && c[-1] == '/')
			return 0; /* a trailing slash: an empty last component */
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sums_entry *ents = NULL;
	struct errbuf e = {{0}};
	size_t n = 0;
	int rc = sums_parse((const char *)data, size, &ents, &n, &e);

	if (rc) {
		FUZZ_CHECK(rc == -EBADMSG && strstr(e.msg, "SHA256SUMS"));
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(strlen(ents[i].hex) == 64);
		for (int k = 0; k < 64; k++)
			FUZZ_CHECK((ents[i].hex[k] >= '0' && ents[i].hex[k] <= '9') ||
				   (ents[i].hex[k] >= 'a' && ents[i].hex[k] <= 'f'));
		FUZZ_CHECK(path_safe(ents[i].path));
		if (i)
			FUZZ_CHECK(strcmp(ents[i - 1].path, ents[i].path) < 0);
	}
	sums_free(ents, n);
	return 0;
}
