/*
 * fsutil: small durable-file helpers shared by every module that writes
 * into DATA (the git/redis way: name.tmp with O_EXCL, fsync, rename, fsync
 * the directory). All return 0 or a negative errno.
 */
#ifndef SNAPFS_FSUTIL_H
#define SNAPFS_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Writes len bytes to path atomically and durably (tmp + fsync + rename +
 * fsync of the parent). A stale path.tmp left by a crash is replaced. */
int fs_write_atomic(const char *path, const void *buf, size_t len, mode_t mode);

/* Reads a whole file into a malloc'ed, NUL-terminated buffer that the caller
 * frees. Refuses files larger than max bytes with -EFBIG. */
int fs_read_all(const char *path, size_t max, char **out, size_t *len);
/* pread()s len bytes at off, across short reads and EINTR. Returns the
 * bytes read (fewer at end of file), or a negative errno if none were. */
ssize_t fs_pread_full(int fd, void *buf, size_t len, off_t off);

/* fsync of a directory (by path). */
int fs_fsync_dir(const char *dir);

/* fsync of the directory holding path. */
int fs_fsync_parent(const char *path);

/* mkdir -p; mode for every created level. */
int fs_mkdirs(const char *path, mode_t mode);

/* rm -rf that never follows symlinks; missing path is success. */
int fs_remove_tree(const char *path);

/* rename + fsync of both parents. */
int fs_rename_durable(const char *from, const char *to);

/* Total bytes (st_size) of the regular files under dir, recursively. */
int fs_tree_bytes(const char *dir, unsigned long long *bytes);

/* 0 if path lies inside root: root + "/" + components that are neither
 * empty, "." nor "..", and no component below root that exists is a
 * symlink (so nothing done to path can reach outside root). -EPERM
 * otherwise. root itself is trusted. */
int fs_path_inside(const char *root, const char *path);

/* Joins into a malloc'ed string: fs_path("%s/%s", a, b). Never NULL
 * (aborts on out of memory, like git's xmalloc). */
char *fs_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* malloc/calloc/strdup that abort on out of memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
