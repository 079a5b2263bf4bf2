/* SPDX-License-Identifier: Apache-2.0 */
/* detach_keys.c -- parsing a detach sequence ("ctrl-p,ctrl-q") and finding
 * it in what the user types. The matcher holds back a possible beginning of
 * the sequence; when the next byte does not continue it, the held bytes are
 * forwarded after all, except a tail that may itself begin the sequence
 * (the failure step of Knuth-Morris-Pratt, done by hand on at most
 * CR_DETACH_KEYS_MAX bytes), so "a,a,b" is found in "aaab". */
#include "cli/detach_keys.h"

#include <string.h>

/* One key: "x" or "ctrl-x". Returns the byte, or -1. */
static int parse_key(const char *s, size_t n)
{
	if (n == 1 && s[0] >= 0x20 && s[0] < 0x7f)
		return (unsigned char)s[0];
	if (n != 6 || strncmp(s, "ctrl-", 5) != 0)
		return -1;
	char c = s[5];
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 1;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 1;
	if (c && strchr("@[\\]^_", c))
		return c & 0x1f;
	return -1;
}

int cr_detach_keys_parse(const char *spec, cr_detach_keys *k, cr_error **err)
{
	cr_detach_keys parsed = {0};
	for (const char *p = spec; *spec; p++) {
		size_t n = strcspn(p, ",");
		int key = parse_key(p, n);
		if (key < 0)
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
					     "detach keys '%s': '%.*s' is not a key (use a character or "
					     "ctrl-<letter>, separated by commas)",
					     spec, (int)n, p);
		if (parsed.len == CR_DETACH_KEYS_MAX)
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
					     "detach keys '%s': more than %d keys", spec, CR_DETACH_KEYS_MAX);
		parsed.seq[parsed.len++] = (unsigned char)key;
		p += n;
		if (!*p)
			break;
	}
	*k = parsed;
	return 0;
}

/* The held bytes plus c did not complete the sequence: forwards the
 * shortest head of them after which the rest is again a beginning of the
 * sequence, and keeps that rest held. */
static void mismatch(cr_detach_keys *k, unsigned char c, unsigned char *out, size_t *out_len)
{
	unsigned char t[CR_DETACH_KEYS_MAX + 1];
	size_t n = k->matched;
	memcpy(t, k->seq, n);
	t[n++] = c;
	size_t s = 1;
	while (s < n && memcmp(t + s, k->seq, n - s) != 0)
		s++;
	memcpy(out + *out_len, t, s);
	*out_len += s;
	k->matched = n - s; /* < len: n - s <= matched */
}

bool cr_detach_keys_scan(cr_detach_keys *k, const unsigned char *in, size_t n, unsigned char *out,
			 size_t *out_len)
{
	*out_len = 0;
	if (k->len == 0) {
		memcpy(out, in, n);
		*out_len = n;
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (in[i] == k->seq[k->matched]) {
			if (++k->matched == k->len) {
				k->matched = 0;
				return true;
			}
			continue;
		}
		mismatch(k, in[i], out, out_len);
	}
	return false;
}

size_t cr_detach_keys_flush(cr_detach_keys *k, unsigned char *out)
{
	size_t n = k->matched;
	memcpy(out, k->seq, n);
	k->matched = 0;
	return n;
}
