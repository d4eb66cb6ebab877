/*
 * test_partition: the hash partitioning of tables into tablets
 * (snapshot/store/partition.c).
 *
 * What must hold for every tablet count n = 1..PARTITION_MAX_TABLETS: the
 * n ranges are contiguous, non-empty and cover [0, 65536) exactly, so every
 * hash (and so every key) lies in exactly one tablet; partition_index finds
 * that tablet, the same one a linear search over the ranges finds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partition.h"

static void test_ranges_cover_space(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= PARTITION_MAX_TABLETS; n++) {
		uint32_t prev_end = 0;

		for (unsigned i = 0; i < n; i++) {
			uint32_t s, e;

			partition_range(n, i, &s, &e);
			if (s != prev_end)
				fail_msg("n=%u: range %u starts at %u, previous ended at %u", n, i,
					 s, prev_end);
			if (e <= s)
				fail_msg("n=%u: range %u is empty [%u, %u)", n, i, s, e);
			prev_end = e;
		}
		if (prev_end != PARTITION_SPACE)
			fail_msg("n=%u: ranges end at %u, not %u", n, prev_end, PARTITION_SPACE);
	}
}

static void test_even_split(void **state)
{
	(void)state;
	/* the split is even: sizes differ by at most one */
	for (unsigned n = 1; n <= PARTITION_MAX_TABLETS; n++) {
		uint32_t lo = UINT32_MAX, hi = 0;

		for (unsigned i = 0; i < n; i++) {
			uint32_t s, e;

			partition_range(n, i, &s, &e);
			lo = e - s < lo ? e - s : lo;
			hi = e - s > hi ? e - s : hi;
		}
		if (hi - lo > 1)
			fail_msg("n=%u: range sizes from %u to %u", n, lo, hi);
	}
}

/* Every hash lies in exactly one range, counted by brute force. */
static void test_every_hash_in_one_range(void **state)
{
	static const unsigned ns[] = {1, 2, 3, 4, 7, 16, 100, 255, 256};

	(void)state;
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		unsigned n = ns[k];
		uint32_t s[PARTITION_MAX_TABLETS], e[PARTITION_MAX_TABLETS];

		for (unsigned i = 0; i < n; i++)
			partition_range(n, i, &s[i], &e[i]);
		for (uint32_t h = 0; h < PARTITION_SPACE; h++) {
			unsigned holders = 0;

			for (unsigned i = 0; i < n; i++)
				holders += h >= s[i] && h < e[i];
			if (holders != 1)
				fail_msg("n=%u: hash %u in %u ranges", n, h, holders);
		}
	}
}

static unsigned linear_index(unsigned n, uint16_t h)
{
	for (unsigned i = 0; i < n; i++) {
		uint32_t s, e;

		partition_range(n, i, &s, &e);
		if (h >= s && h < e)
			return i;
	}
	fail_msg("n=%u: hash %u in no range", n, h);
	return UINT32_MAX;
}

static void test_index_matches_linear_search(void **state)
{
	static const unsigned ns[] = {1, 2, 3, 4, 5, 7, 8, 13, 64, 100, 127, 200, 255, 256};

	(void)state;
	for (size_t k = 0; k < sizeof(ns) / sizeof(ns[0]); k++) {
		for (uint32_t h = 0; h < PARTITION_SPACE; h++) {
			unsigned got = partition_index(ns[k], (uint16_t)h);
			unsigned want = linear_index(ns[k], (uint16_t)h);

			if (got != want)
				fail_msg("n=%u: hash %u: partition_index %u, linear search %u",
					 ns[k], h, got, want);
		}
	}
}

/* The boundaries of every n: the first and last hash of each range. */
static void test_index_at_boundaries(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= PARTITION_MAX_TABLETS; n++) {
		for (unsigned i = 0; i < n; i++) {
			uint32_t s, e;

			partition_range(n, i, &s, &e);
			assert_int_equal(partition_index(n, (uint16_t)s), i);
			assert_int_equal(partition_index(n, (uint16_t)(e - 1)), i);
		}
	}
}

static void test_hash_spreads_keys(void **state)
{
	enum { NKEYS = 100000, N = 4 };
	unsigned count[N] = {0};
	char key[32];

	(void)state;
	/* the keys of `snapfs load` land evenly (within 10%) on 4 tablets */
	for (int i = 0; i < NKEYS; i++) {
		int len = snprintf(key, sizeof(key), "key%010d", i);

		count[partition_index(N, partition_hash(key, (size_t)len))]++;
	}
	for (int i = 0; i < N; i++)
		assert_in_range(count[i], NKEYS / N * 9 / 10, NKEYS / N * 11 / 10);

	/* deterministic: the ranges are stored, but the hash of a key must
	 * not change between runs or builds */
	assert_int_equal(partition_hash("", 0), partition_hash("", 0));
	assert_int_equal(partition_hash("abc", 3), partition_hash("abc", 3));
	assert_int_not_equal(partition_hash("abc", 3), partition_hash("abd", 3));
	/* FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; folded to 16 bits */
	assert_int_equal(partition_hash("a", 1), 0xaf63 ^ 0xdc4c ^ 0x8601 ^ 0xec8c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ranges_cover_space),
	    cmocka_unit_test(test_even_split),
	    cmocka_unit_test(test_every_hash_in_one_range),
	    cmocka_unit_test(test_index_matches_linear_search),
	    cmocka_unit_test(test_index_at_boundaries),
	    cmocka_unit_test(test_hash_spreads_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
