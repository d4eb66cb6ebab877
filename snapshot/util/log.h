/*
 * log: the daemon's log lines, "<RFC 3339 time> snapfs[<pid>]: <text>", on
 * stderr (which is DATA/snapfs.log once serve has detached). One writer at a
 * time (flockfile), flushed at once so a crash loses no line.
 */
#ifndef SNAPFS_LOG_H
#define SNAPFS_LOG_H

void dlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
