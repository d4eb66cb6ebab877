/*
 * fuzz_hlc: the time and duration texts of the CLI (snapshot/util/hlc.c:
 * hlc_parse_time, hlc_parse_duration).
 *
 * Input: the text (NUL-terminated copy; an embedded NUL ends it, as in
 * argv). Properties beyond "no crash, no UB":
 *   - a duration accepted is > 0 and within the clock's range;
 *   - an RFC 3339 time accepted is within the clock's range, names the end
 *     of its microsecond, and formatting that microsecond back and parsing
 *     it again gives the same time (the parser and gmtime agree on the
 *     calendar, leap years included);
 *   - a relative time accepted is now minus the duration, and not before
 *     the epoch; a refusal always says which text.
 */
#include "fuzz.h"

#include "hlc.h"

#include <ctype.h>

#define NOW_US 1795428000123456LL /* 2026-11-23T10:00:00.123456Z */
#define LOGICAL_MAX ((1u << HLC_LOGICAL_BITS) - 1)

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct errbuf e = {{0}};
	uint64_t ht = 0;
	int64_t us = 0;
	int rc;

	rc = hlc_parse_duration(s, &us, &e);
	if (rc == 0)
		FUZZ_CHECK(us > 0 && us <= HLC_MAX_US);
	else
		FUZZ_CHECK(rc == -EINVAL && !strncmp(e.msg, "duration '", 10));

	e.msg[0] = '\0';
	rc = hlc_parse_time(s, NOW_US, &ht, &e);
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL && !strncmp(e.msg, "time '", 6));
	} else if (s[0] == '-') {
		int64_t d = 0;

		FUZZ_CHECK(hlc_parse_duration(s + 1, &d, NULL) == 0);
		FUZZ_CHECK(d <= NOW_US && ht == hlc_from_us(NOW_US - d));
	} else if (!all_digits(s)) {
		char back[48];
		uint64_t again = 0;

		FUZZ_CHECK((ht & LOGICAL_MAX) == LOGICAL_MAX);
		FUZZ_CHECK(hlc_physical_us(ht) >= 0 && hlc_physical_us(ht) <= HLC_MAX_US);
		hlc_format_rfc3339(hlc_physical_us(ht), 1, back, sizeof(back));
		FUZZ_CHECK(hlc_parse_time(back, NOW_US, &again, NULL) == 0);
		FUZZ_CHECK(again == ht);
	}
	free(s);
	return 0;
}
