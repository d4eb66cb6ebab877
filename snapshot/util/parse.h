/*
 * parse: the one strict parser of unsigned decimal numbers, shared by the
 * command line (every numeric option) and the daemon (every numeric field
 * of a request), so both ends refuse the same texts.
 *
 * Accepted: one or more ASCII digits '0'..'9' and nothing else: no sign,
 * no '+', no spaces before or after, no "0x", no suffix. Leading zeros are
 * allowed ("007" is 7). The value must lie in [min, max]; a text that does
 * not fit in 64 bits is out of range, never wrapped.
 */
#ifndef SNAPFS_PARSE_H
#define SNAPFS_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "errbuf.h"

/* Parses the len bytes at s (need not be NUL-terminated). Returns 0 and
 * sets *v, -EINVAL when the text is not plain digits (empty included), or
 * -ERANGE when the number is outside [min, max] or beyond 64 bits. *v is
 * left alone on failure. */
int parse_u64_len(const char *s, size_t len, uint64_t min, uint64_t max, uint64_t *v);

/* The same for a NUL-terminated s (NULL is -EINVAL). */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *v);

/* parse_u64 with a message for a user: "<what> '<s>': not a plain number
 * (digits only)" or "<what> '<s>': out of range (<min> to <max>)". Always
 * returns -EINVAL on failure (a bad number is a usage error, exit 1). */
int parse_number(const char *what, const char *s, uint64_t min, uint64_t max, uint64_t *v,
		 struct errbuf *e);

#endif
