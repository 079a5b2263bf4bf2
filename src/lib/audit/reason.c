/* SPDX-License-Identifier: Apache-2.0 */
/* reason.c -- the reason-code table. */
#include "audit/reason.h"

#include <string.h>

static const struct {
	const char *name;
	const char *meaning;
} reasons[CR_REASON__COUNT] = {
	[CR_REASON_NONE] = {"none", ""},
#define CR_REASON(id, n, m) [CR_REASON_##id] = {n, m},
#include "audit/reason.def"
#undef CR_REASON
};

const char *cr_reason_name(cr_reason r)
{
	if ((unsigned)r >= CR_REASON__COUNT)
		return "internal";
	return reasons[r].name;
}

const char *cr_reason_meaning(cr_reason r)
{
	if ((unsigned)r >= CR_REASON__COUNT)
		return "";
	return reasons[r].meaning;
}

cr_reason cr_reason_from_name(const char *name)
{
	for (unsigned i = 1; i < CR_REASON__COUNT; i++)
		if (strcmp(reasons[i].name, name) == 0)
			return (cr_reason)i;
	return CR_REASON_NONE;
}
