/*
 * hlc: the hybrid logical clock. A hybrid time is
 *     physical microseconds since the epoch << 12 | a 12-bit logical counter,
 * strictly increasing across threads and across restarts. Across restarts
 * the clock persists a high-water mark ("reserved until") in a file, a
 * second ahead of what it has handed out, and starts above it, so a wall
 * clock stepping back never yields a time already used.
 */
#ifndef SNAPFS_HLC_H
#define SNAPFS_HLC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "errbuf.h"

#define HLC_LOGICAL_BITS 12

struct hlc {
	_Atomic uint64_t last;	   /* last time handed out */
	_Atomic uint64_t reserved; /* persisted high-water mark */
	pthread_mutex_t persist_lock;
	char *path;
};

/* Opens the clock persisted at path (missing = a new clock). */
int hlc_init(struct hlc *c, const char *path, struct errbuf *e);
void hlc_release(struct hlc *c);

/* A new hybrid time, greater than every one handed out before. Returns 0 on
 * a failure to persist the high-water mark (then the caller must not use it). */
uint64_t hlc_now(struct hlc *c);

/* The last time handed out (never hands out a new one). */
uint64_t hlc_last(struct hlc *c);

/* Raises the clock so that every later hlc_now() is > t (after a restore). */
int hlc_raise(struct hlc *c, uint64_t t);

static inline int64_t hlc_physical_us(uint64_t ht)
{
	return (int64_t)(ht >> HLC_LOGICAL_BITS);
}

static inline uint64_t hlc_from_us(int64_t us)
{
	return (uint64_t)us << HLC_LOGICAL_BITS;
}

/* Current wall time in µs. */
int64_t hlc_wall_us(void);

/* Formats µs since epoch as RFC 3339 UTC ("2026-11-23T10:00:00.123456Z",
 * or without fraction when frac is 0). buf >= 40 bytes. */
void hlc_format_rfc3339(int64_t us, int frac, char *buf, size_t len);

/* Parses TIME: RFC 3339 ("2026-11-23T10:00:00Z", optional fraction and
 * offset), a relative time ("-15m", "-2h", "-30s", "-1d", "-500ms"), or a
 * plain hybrid time (decimal digits). Returns a hybrid time in *ht or
 * -EINVAL with a message naming the text. now_us anchors relative times. */
int hlc_parse_time(const char *s, int64_t now_us, uint64_t *ht, struct errbuf *e);

/* Parses a duration "90s", "15m", "1h", "7d", "500ms", "1h30m" into µs. */
int hlc_parse_duration(const char *s, int64_t *us, struct errbuf *e);

#endif
