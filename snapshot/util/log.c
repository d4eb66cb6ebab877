/*
 * log: see log.h. Used by the daemon (mount/) and by the background work
 * of snapshot/ (schedules), so both write the same lines.
 */
#include "log.h"

#include "hlc.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

void dlog(const char *fmt, ...)
{
	char ts[40];
	va_list ap;

	hlc_format_rfc3339(hlc_wall_us(), 0, ts, sizeof(ts));
	flockfile(stderr);
	fprintf(stderr, "%s snapfs[%d]: ", ts, (int)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	fflush(stderr);
}
