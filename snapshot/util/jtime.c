/*
 * jtime: see jtime.h.
 */
#include "jtime.h"

#include "hlc.h"

#include <inttypes.h>
#include <stdio.h>

void jtime_add(json_object *o, const char *what, uint64_t ht)
{
	char name[64], hname[80], when[40], digits[24];

	snprintf(name, sizeof(name), "%s%stime", what ? what : "", what ? "_" : "");
	snprintf(hname, sizeof(hname), "%s%shybrid_time", what ? what : "", what ? "_" : "");
	if (!ht) {
		json_object_object_add(o, name, NULL);
		json_object_object_add(o, hname, NULL);
		return;
	}
	hlc_format_rfc3339(hlc_physical_us(ht), 1, when, sizeof(when));
	json_object_object_add(o, name, json_object_new_string(when));
	snprintf(digits, sizeof(digits), "%" PRIu64, ht);
	json_object_object_add(o, hname, json_object_new_string(digits));
}

void jtime_add_us(json_object *o, const char *what, int64_t us)
{
	jtime_add(o, what, us > 0 ? hlc_from_us(us) : 0);
}
