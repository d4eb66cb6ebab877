/*
 * ids: UUIDs (libuuid) written as 32 lowercase hex digits, as YugabyteDB
 * writes them. Used for tables, tablets, snapshots, schedules.
 */
#ifndef SNAPFS_IDS_H
#define SNAPFS_IDS_H

#include <stddef.h>

#define ID_LEN 32

/* Writes a fresh random id and a NUL into out. */
void id_new(char out[ID_LEN + 1]);

/* 1 if the len bytes at s are all lowercase hex digits ([0-9a-f]), else 0:
 * the one hex check of snapfs (ids, digests, check values). */
int hex_lower(const char *s, size_t len);

/* 1 if s is exactly 32 lowercase hex digits, else 0. */
int id_valid(const char *s);

/* 1 if s is a valid keyspace or table name: [A-Za-z0-9_-]{1,64}. */
int name_valid(const char *s);

#endif
