/*
 * errbuf: formatting of user-facing error messages and the mapping from
 * negative errno values to snapfs's documented exit codes. See errbuf.h.
 */
#include "errbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct errbuf *e, int rc, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return rc;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return rc;
}

int err_prefix(struct errbuf *e, int rc, const char *fmt, ...)
{
	char head[ERRBUF_MAX], old[ERRBUF_MAX];
	va_list ap;

	if (!e)
		return rc;
	va_start(ap, fmt);
	vsnprintf(head, sizeof(head), fmt, ap);
	va_end(ap);
	memcpy(old, e->msg, sizeof(old));
	if (snprintf(e->msg, sizeof(e->msg), "%s: %s", head, old) < 0)
		e->msg[0] = 0;
	return rc;
}

int errbuf_exit_code(int rc)
{
	if (rc >= 0)
		return EXIT_OK;
	switch (-rc) {
	case EINVAL:
		return EXIT_USAGE;
	case ENOENT:
		return EXIT_NOTFOUND;
	case EEXIST:
	case EBUSY:
	case EPERM:
	case EBADMSG:
	case ENOTEMPTY:
	case ECANCELED:
	case ERANGE:
	case ENOSPC:
	case EACCES:
	case EROFS:
		return EXIT_REFUSED;
	case ECONNREFUSED:
		return EXIT_NODAEMON;
	default:
		return EXIT_INTERNAL;
	}
}
