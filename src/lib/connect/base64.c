/* SPDX-License-Identifier: Apache-2.0 */
/* base64.c -- the base64 Connect needs: unpadded standard-alphabet encoding
 * for error details and "-bin" metadata, and decoding of either alphabet with
 * optional padding for GET requests (URL-safe, "base64=1") and for reading
 * details back. Output goes to a capped cr_buf; a failed call leaves the
 * buffer as it was. */
#include "connect/connect.h"

#include <errno.h>
#include <string.h>

#include "util/buf.h"

static const char std_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int rollback(struct cr_buf *out, size_t start, cr_error **err, int status, cr_reason reason,
		    const char *what)
{
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return cr_error_make(err, status, reason, "base64: %s", what);
}

int cr_connect_base64_encode(struct cr_buf *out, const void *data, size_t n, cr_error **err)
{
	const unsigned char *p = data;
	size_t start = out->len;
	char quad[4];
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = n - i;
		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		size_t chars = left > 2 ? 4 : left + 1;
		for (size_t k = 0; k < 4; k++)
			quad[k] = std_alphabet[(v >> (18 - 6 * k)) & 63];
		if (cr_buf_append(out, quad, chars) < 0)
			return rollback(out, start, err, E2BIG, CR_REASON_INTERNAL, "encoded data");
	}
	return 0;
}

/* The 6-bit value of c in the chosen alphabet, or -1. */
static int sextet(unsigned char c, bool url_safe)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url_safe ? '-' : '+'))
		return 62;
	if (c == (url_safe ? '_' : '/'))
		return 63;
	return -1;
}

/* Strips correct padding from the length; -1 when padding is malformed. */
static int unpadded_length(const char *s, size_t n, size_t *out)
{
	size_t pad = 0;
	while (pad < n && pad < 2 && s[n - 1 - pad] == '=')
		pad++;
	if (pad && n % 4 != 0)
		return -1;
	*out = n - pad;
	return *out % 4 == 1 ? -1 : 0;
}

int cr_connect_base64_decode(struct cr_buf *out, const char *s, size_t n, bool url_safe, cr_error **err)
{
	size_t start = out->len, len;
	if (unpadded_length(s, n, &len) < 0)
		return rollback(out, start, err, 0, CR_REASON_USAGE_INVALID, "bad length or padding");
	uint32_t acc = 0;
	unsigned bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = sextet((unsigned char)s[i], url_safe);
		if (v < 0)
			return rollback(out, start, err, 0, CR_REASON_USAGE_INVALID, "invalid character");
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (cr_buf_putc(out, (char)((acc >> bits) & 0xff)) < 0)
				return rollback(out, start, err, E2BIG, CR_REASON_USAGE_INVALID,
						"decoded data");
		}
	}
	return 0;
}
