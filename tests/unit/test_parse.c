/*
 * test_parse: the strict number parser (snapshot/util/parse.c) that the
 * command line and the daemon share.
 *
 * What must hold: only plain decimal digits parse; a sign, a '+', spaces on
 * either side, hex, suffixes and the empty text are refused as not a
 * number; values outside [min, max] and beyond 64 bits are refused as out
 * of range, never wrapped; the output is untouched on failure; the message
 * names the subject and the bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "parse.h"

static void test_plain_digits(void **state)
{
	uint64_t v = 0;

	assert_int_equal(parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_u64("8", 1, 256, &v), 0);
	assert_int_equal(v, 8);
	assert_int_equal(parse_u64("007", 0, 10, &v), 0);
	assert_int_equal(v, 7);
	assert_int_equal(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_u64_len("12abc", 2, 0, 100, &v), 0);
	assert_int_equal(v, 12);
}

static void test_not_a_number(void **state)
{
	const char *bad[] = {"",   " 8",  "8 ", "+8",  "-5",  " -5", "-0",  "0x10", "1e3",
			     "8k", "1.5", "８", "\t8", "8\n", "--1", "1 2", "abc"};
	uint64_t v = 42;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse_u64(bad[i], 0, UINT64_MAX, &v), -EINVAL);
		assert_int_equal(v, 42);
	}
	assert_int_equal(parse_u64(NULL, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_u64_len("8", 0, 0, 10, &v), -EINVAL);
	/* a NUL inside the length is not a digit */
	assert_int_equal(parse_u64_len("8\0"
				       "9",
				       3, 0, 100, &v),
			 -EINVAL);
	assert_int_equal(v, 42);
}

static void test_range(void **state)
{
	uint64_t v = 42;

	assert_int_equal(parse_u64("0", 1, 256, &v), -ERANGE);
	assert_int_equal(parse_u64("257", 1, 256, &v), -ERANGE);
	assert_int_equal(parse_u64("256", 1, 256, &v), 0);
	assert_int_equal(v, 256);
	v = 42;
	/* 2^64 and far beyond: out of range, not wrapped to a small number */
	assert_int_equal(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("36893488147419103232", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_u64("99999999999999999999999999999", 0, UINT64_MAX, &v), -ERANGE);
	/* but a long text with a non-digit is still not a number */
	assert_int_equal(parse_u64("99999999999999999999999x", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(v, 42);
}

static void test_messages(void **state)
{
	struct errbuf e;
	uint64_t v;

	assert_int_equal(parse_number("table create --tablets", "0", 1, 256, &v, &e), -EINVAL);
	assert_string_equal(e.msg, "table create --tablets '0': out of range (1 to 256)");
	assert_int_equal(parse_number("scan --limit", " -1", 1, UINT64_MAX, &v, &e), -EINVAL);
	assert_string_equal(e.msg, "scan --limit ' -1': not a plain number (digits only)");
	assert_int_equal(parse_number("load --rows", "12", 1, 100, &v, &e), 0);
	assert_int_equal(v, 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain_digits),
	    cmocka_unit_test(test_not_a_number),
	    cmocka_unit_test(test_range),
	    cmocka_unit_test(test_messages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
