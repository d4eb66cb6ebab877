/*
 * parse: see parse.h. No strtoull: it skips leading spaces, takes a sign
 * and wraps "-5" to 2^64-5, which is how `load --rows " -5"` once wrote
 * 32 GB. Each digit is checked before the multiply so nothing overflows.
 */
#include "parse.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

int parse_u64_len(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *v)
{
	uint64_t x = 0;
	int big = 0;

	if (!s || !len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		d = (unsigned)(s[i] - '0');
		if (x > (UINT64_MAX - d) / 10)
			big = 1; /* keep checking the rest is digits */
		else
			x = x * 10 + d;
	}
	if (big || x < min || x > max)
		return -ERANGE;
	*v = x;
	return 0;
}

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
	return parse_u64_len(s, s ? strlen(s) : 0, min, max, v);
}

int parse_number(const char *what, const char *s, uint64_t min, uint64_t max, uint64_t *v,
		 struct errbuf *e)
{
	int rc = parse_u64(s, min, max, v);

	if (rc == -EINVAL)
		return err_set(e, -EINVAL, "%s '%s': not a plain number (digits only)", what,
			       s ? s : "");
	if (rc == -ERANGE)
		return err_set(e, -EINVAL, "%s '%s': out of range (%" PRIu64 " to %" PRIu64 ")",
			       what, s, min, max);
	return 0;
}
