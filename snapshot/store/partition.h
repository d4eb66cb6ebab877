/*
 * partition: YugabyteDB-style hash partitioning. A key's 16-bit hash
 * (FNV-1a 64 folded to 16 bits) picks the tablet whose [start, end) range
 * holds it; a table of N tablets splits [0, 65536) evenly.
 */
#ifndef SNAPFS_PARTITION_H
#define SNAPFS_PARTITION_H

#include <stddef.h>
#include <stdint.h>

#define PARTITION_SPACE 65536u
#define PARTITION_MAX_TABLETS 256

uint16_t partition_hash(const void *key, size_t len);

/* The i-th of n even ranges of the hash space. */
void partition_range(unsigned n, unsigned i, uint32_t *start, uint32_t *end);

/* Index of the range holding hash h among n even ranges. */
unsigned partition_index(unsigned n, uint16_t h);

#endif
