/*
 * hash: the two small non-cryptographic hashes snapfs uses, in one place.
 * fnv1a64 picks a key's tablet (partition.c), keys the hash cache
 * (hashcache.c) and names the view's synthetic inodes (fs/view_tree.c);
 * mix64 is splitmix64's finalizer. Their outputs are on disk and in inode
 * numbers: never change them.
 */
#ifndef SNAPFS_HASH_H
#define SNAPFS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A64_SEED 0xcbf29ce484222325ULL

/* FNV-1a, 64 bits, continuing from h (FNV1A64_SEED to start). */
static inline uint64_t fnv1a64(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* splitmix64's finalizer: spreads every input bit over the output. */
static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif
