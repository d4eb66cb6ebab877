/*
 * errbuf: the one error convention of snapfs.
 *
 * Internal functions return 0 or a negative errno and, where a user must
 * read why, fill a caller-provided struct errbuf with a message of the form
 * "<what> '<subject>': <why>" (lower case, no full stop). The CLI prints it
 * as "snapfs: error: <msg>". errbuf may be NULL: messages are then dropped.
 *
 * The errno also decides the exit code (see errbuf_exit_code):
 *   -EINVAL               -> 1 usage / bad input
 *   -ENOENT               -> 2 not found
 *   -EEXIST, -EBUSY, -EPERM, -EBADMSG, -ENOTEMPTY, -ECANCELED, -ERANGE,
 *   -ENOSPC, -EACCES, -EROFS
 *                         -> 3 refused (state conflict, verification failed,
 *                            permission denied)
 *   -ECONNREFUSED         -> 4 daemon not reachable
 *   anything else         -> 5 internal
 */
#ifndef SNAPFS_ERRBUF_H
#define SNAPFS_ERRBUF_H

#include <stddef.h>

#define ERRBUF_MAX 1024

struct errbuf {
	char msg[ERRBUF_MAX];
};

/* Formats into e (if not NULL) and returns rc (a negative errno). */
int err_set(struct errbuf *e, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prepends "<prefix>: " to the message already in e. Returns rc. */
int err_prefix(struct errbuf *e, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The documented exit code for a negative errno (0 for rc >= 0). */
int errbuf_exit_code(int rc);

enum snapfs_exit {
	EXIT_OK = 0,
	EXIT_USAGE = 1,
	EXIT_NOTFOUND = 2,
	EXIT_REFUSED = 3,
	EXIT_NODAEMON = 4,
	EXIT_INTERNAL = 5,
};

#endif
