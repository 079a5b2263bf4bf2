/* SPDX-License-Identifier: Apache-2.0 */
/* sniff.c -- what the two peeking parsers share: result names and the host
 * name check that every name they return passes. */
#include "sniff/sniff.h"

#include <string.h>

static const char *const result_names[] = {"need_more", "other", "no_name", "found", "malformed"};

const char *cr_sniff_result_name(cr_sniff_result r)
{
	return (unsigned)r < sizeof(result_names) / sizeof(result_names[0]) ? result_names[r] : "malformed";
}

static bool name_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* Labels of 1-63 bytes: no leading dot, no empty label, none too long. */
static bool labels_ok(const char *s, size_t len)
{
	size_t label = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '.') {
			if (++label > 63)
				return false;
			continue;
		}
		if (label == 0)
			return false;
		label = 0;
	}
	return label > 0;
}

bool cr_sniff_name_copy(const uint8_t *p, size_t len, char out[CR_SNIFF_NAME_MAX + 1])
{
	out[0] = '\0';
	if (len > 1 && p[len - 1] == '.')
		len--;
	if (len == 0 || len > CR_SNIFF_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		uint8_t c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		if (!name_byte(c)) {
			out[0] = '\0';
			return false;
		}
		out[i] = (char)c;
	}
	out[len] = '\0';
	if (!labels_ok(out, len)) {
		out[0] = '\0';
		return false;
	}
	return true;
}
