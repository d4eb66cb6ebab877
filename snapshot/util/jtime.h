/*
 * jtime: the one JSON form of a time, used by every --json of snapfs.
 *
 * A time is two fields: "<what>_time", RFC 3339 UTC with microseconds
 * ("2026-11-23T10:00:00.123456Z", the physical part of the hybrid time),
 * and "<what>_hybrid_time", the hybrid time as a string of decimal digits
 * (what --at and restore --to accept). A string, not a number: hybrid times
 * are above 2^53, where JSON parsers that read numbers as doubles (jq 1.6,
 * JavaScript) would round them silently to another time. A thing's main time (a snapshot's cut, a
 * table's or schedule's creation, a restore's completion) is plain "time" and "hybrid_time". A time
 * known only from the wall clock gets the hybrid time of that microsecond (logical counter 0). An
 * unknown time is two nulls.
 */
#ifndef SNAPFS_JTIME_H
#define SNAPFS_JTIME_H

#include <json-c/json.h>
#include <stdint.h>

/* Adds the two fields of hybrid time ht to o; what NULL = the main time. */
void jtime_add(json_object *o, const char *what, uint64_t ht);

/* The same for a wall-clock time in microseconds since the epoch. */
void jtime_add_us(json_object *o, const char *what, int64_t us);

#endif
