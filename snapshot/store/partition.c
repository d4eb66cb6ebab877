/*
 * partition: the hash and the even split of the 16-bit hash space. The
 * ranges are stored with each tablet in the catalog and in SNAPSHOT.json,
 * so a restore keeps the partitioning even if this code changes later.
 */
#include "partition.h"

#include "hash.h"

uint16_t partition_hash(const void *key, size_t len)
{
	uint64_t h = fnv1a64(FNV1A64_SEED, key, len);

	return (uint16_t)(h ^ (h >> 16) ^ (h >> 32) ^ (h >> 48));
}

void partition_range(unsigned n, unsigned i, uint32_t *start, uint32_t *end)
{
	*start = (uint32_t)((uint64_t)PARTITION_SPACE * i / n);
	*end = (uint32_t)((uint64_t)PARTITION_SPACE * (i + 1) / n);
}

unsigned partition_index(unsigned n, uint16_t h)
{
	unsigned i = (unsigned)(((uint64_t)h * n) / PARTITION_SPACE);

	/* ranges are floor(S*i/n): correct an off-by-one at a boundary */
	for (;;) {
		uint32_t s, e;

		partition_range(n, i, &s, &e);
		if (h < s)
			i--;
		else if (h >= e)
			i++;
		else
			return i;
	}
}
