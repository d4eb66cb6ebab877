/*
 * srv_args: the numeric arguments of a request, bounded. The daemon does
 * not trust the client to have checked: every number a handler takes goes
 * through the same parse_u64 as the command line, with the same bounds
 * (cli_verbs.c lists them), so a hand-made frame cannot ask for 2^64 rows
 * or 0 tablets either.
 */
#include "snapfs.h"

#include "parse.h"

#include <errno.h>
#include <inttypes.h>

int srv_arg_num(const struct ctl_msg *req, const char *name, uint64_t min, uint64_t max,
		uint64_t *v, struct errbuf *e)
{
	uint32_t len;
	const char *s = ctl_get(req, name, &len);
	int rc;

	if (!s)
		return -ENOENT;
	rc = parse_u64_len(s, len, min, max, v);
	if (rc == -ERANGE)
		return err_set(e, -EINVAL,
			       "request: argument '%s' '%.*s': out of range (%" PRIu64
			       " to %" PRIu64 ")",
			       name, (int)(len > 40 ? 40 : len), s, min, max);
	if (rc)
		return err_set(e, -EINVAL, "request: argument '%s': not a plain number", name);
	return 0;
}
