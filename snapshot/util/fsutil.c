/*
 * fsutil: durable writes, recursive mkdir/remove, and allocation helpers
 * that abort on out of memory. Used by every module of snapshot/ and by the
 * daemon; never by fs/ on DATA (the view only reads).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		abort();
	return p;
}

void *xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (!p)
		abort();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

char *fs_path(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

int fs_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int fs_fsync_parent(const char *path)
{
	char *copy = xstrdup(path);
	int rc = fs_fsync_dir(dirname(copy));

	free(copy);
	return rc;
}

static int write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int fs_write_atomic(const char *path, const void *buf, size_t len, mode_t mode)
{
	char *tmp = fs_path("%s.tmp", path);
	int fd = -1, rc;

	unlink(tmp); /* a crash may have left one; it is never the truth */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_full(fd, buf, len);
	if (rc)
		goto out;
	if (fsync(fd) < 0) {
		rc = -errno;
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		rc = -errno;
		goto out;
	}
	rc = fs_fsync_parent(path);
out:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	free(tmp);
	return rc;
}

int fs_read_all(const char *path, size_t max, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int rc = 0;

	*out = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		rc = -EFBIG;
		goto out;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	n = fs_pread_full(fd, buf, (size_t)st.st_size, 0);
	if (n < 0) {
		rc = (int)n;
		goto out;
	}
	got = (size_t)n;
	buf[got] = '\0';
	*out = buf;
	buf = NULL;
	if (len)
		*len = got;
out:
	free(buf);
	close(fd);
	return rc;
}

ssize_t fs_pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return got ? (ssize_t)got : -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int fs_mkdirs(const char *path, mode_t mode)
{
	char *p = xstrdup(path);
	int rc = 0;

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			rc = -errno;
			goto out;
		}
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		rc = -errno;
out:
	free(p);
	return rc;
}

static int remove_at(int dirfd, const char *name)
{
	struct stat st;
	int rc = 0;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode)) {
		int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		DIR *d;
		struct dirent *de;

		if (fd < 0)
			return -errno;
		d = fdopendir(fd);
		if (!d) {
			close(fd);
			return -errno;
		}
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			rc = remove_at(fd, de->d_name);
			if (rc)
				break;
		}
		closedir(d);
		if (rc)
			return rc;
		if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int fs_remove_tree(const char *path)
{
	return remove_at(AT_FDCWD, path);
}

int fs_rename_durable(const char *from, const char *to)
{
	int rc;

	if (rename(from, to) < 0)
		return -errno;
	rc = fs_fsync_parent(to);
	if (!rc)
		rc = fs_fsync_parent(from);
	return rc;
}

static int tree_bytes_at(int dirfd, unsigned long long *bytes)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(dirfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode)) {
			*bytes += (unsigned long long)st.st_size;
		} else if (S_ISDIR(st.st_mode)) {
			int fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (fd >= 0)
				rc = tree_bytes_at(fd, bytes);
			if (rc)
				break;
		}
	}
	closedir(d);
	return rc;
}

int fs_tree_bytes(const char *dir, unsigned long long *bytes)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	*bytes = 0;
	if (fd < 0)
		return -errno;
	return tree_bytes_at(fd, bytes);
}

int fs_path_inside(const char *root, const char *path)
{
	size_t rl = strlen(root);
	char *p;
	int rc = 0;

	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (strncmp(path, root, rl) || path[rl] != '/' || !path[rl + 1])
		return -EPERM;
	p = xstrdup(path);
	for (char *c = p + rl + 1; !rc;) {
		char *slash = strchr(c, '/'), save;
		struct stat st;

		if (slash == c || !strcmp(c, ".") || !strcmp(c, "..") || !strncmp(c, "./", 2) ||
		    !strncmp(c, "../", 3)) {
			rc = -EPERM;
			break;
		}
		save = slash ? *slash : '\0';
		if (slash)
			*slash = '\0';
		if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode))
			rc = -EPERM;
		if (!slash)
			break;
		*slash = save;
		c = slash + 1;
		if (!*c)
			rc = -EPERM; /* a trailing slash */
	}
	free(p);
	return rc;
}
