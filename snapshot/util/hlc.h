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
/* The last microsecond the clock can hold: 2^52 - 1 µs after the epoch,
 * 2112-09-17T23:53:47.370495Z. */
#define HLC_MAX_US ((int64_t)(UINT64_MAX >> HLC_LOGICAL_BITS))
/* The highest time hlc_raise() accepts: a day of the clock's range is kept
 * free, so that a raised clock still has its reservation (a second ahead)
 * and room to hand out times. */
#define HLC_RAISE_MAX (UINT64_MAX - ((uint64_t)86400000000LL << HLC_LOGICAL_BITS))

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
 * a failure to persist the high-water mark, or when the clock has reached
 * the end of its range (then the caller must not use it). */
uint64_t hlc_now(struct hlc *c);

/* The last time handed out (never hands out a new one). */
uint64_t hlc_last(struct hlc *c);

/* Raises the clock so that every later hlc_now() is > t (after a restore);
 * never lowers it. -ERANGE (clock unchanged) when t > HLC_RAISE_MAX, or
 * -errno when the reservation cannot be persisted. */
int hlc_raise(struct hlc *c, uint64_t t);

static inline int64_t hlc_physical_us(uint64_t ht)
{
	return (int64_t)(ht >> HLC_LOGICAL_BITS);
}

/* us must be in [0, HLC_MAX_US]. */
static inline uint64_t hlc_from_us(int64_t us)
{
	return (uint64_t)us << HLC_LOGICAL_BITS;
}

/* Current wall time in µs. */
int64_t hlc_wall_us(void);

/* Formats µs since epoch as RFC 3339 UTC ("2026-11-23T10:00:00.123456Z",
 * or without fraction when frac is 0). buf >= 40 bytes. */
void hlc_format_rfc3339(int64_t us, int frac, char *buf, size_t len);

/* Parses TIME, strictly: RFC 3339 ("2026-11-23T10:00:00Z": a real date,
 * fields in range, 'T', 't' or a space between date and time, an optional
 * fraction of up to 9 digits, then 'Z' or an offset +hh:mm/-hh:mm), a
 * relative time ("-" and a duration: "-15m", "-1h30m", "-500ms"), or a
 * plain hybrid time (decimal digits, below 2^64). An RFC 3339 time names
 * the end of its microsecond (logical bits all set). Returns 0 with *ht, or
 * -EINVAL with a message naming the text; a time the clock cannot hold
 * (before the epoch, after HLC_MAX_US) says "time out of range". now_us
 * anchors relative times. A time in the future is not refused here: that
 * is the caller's window to check. */
int hlc_parse_time(const char *s, int64_t now_us, uint64_t *ht, struct errbuf *e);

/* Parses a duration into µs: numbers each followed by a unit (w, d, h, m,
 * s, ms), each unit at most once and largest first ("90s", "1h30m",
 * "1d12h", "500ms"; not "1h1h" nor "30m1h"), longer than zero and not
 * longer than the clock's range. -EINVAL with a message naming it. */
int hlc_parse_duration(const char *s, int64_t *us, struct errbuf *e);

#endif
