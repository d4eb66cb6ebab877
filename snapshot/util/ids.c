/*
 * ids: fresh UUIDs from libuuid (rather than hand-rolled randomness, so ids
 * are RFC 4122 version 4 and collision-safe), in YugabyteDB's 32-hex form;
 * and the validation of ids and names that arrive from sockets or backups.
 */
#include "ids.h"

#include <string.h>
#include <uuid/uuid.h>

void id_new(char out[ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uuid_t u;

	uuid_generate_random(u);
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[u[i] >> 4];
		out[2 * i + 1] = hex[u[i] & 15];
	}
	out[ID_LEN] = '\0';
}

int hex_lower(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

int id_valid(const char *s)
{
	return s && strlen(s) == ID_LEN && hex_lower(s, ID_LEN);
}

int name_valid(const char *s)
{
	size_t n;

	if (!s)
		return 0;
	n = strlen(s);
	if (n < 1 || n > 64)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return 0;
	}
	return 1;
}
