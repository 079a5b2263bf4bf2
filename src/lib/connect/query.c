/* SPDX-License-Identifier: Apache-2.0 */
/* query.c -- the query string of a Connect GET request
 * (`?connect=v1&encoding=json&message=<percent-encoded>[&base64=1]`).
 * Parameters are form-encoded ('+' is a space, %XX a byte) and may come in
 * any order; unknown ones are ignored, a known one given twice is refused
 * rather than guessed at, and a malformed escape anywhere is refused. Every
 * decoded value fits in a buffer capped at the query cap, since decoding
 * never makes anything longer. */
#include "connect/internal.h"

#include <errno.h>
#include <string.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

enum { P_CONNECT, P_ENCODING, P_MESSAGE, P_BASE64, P_COMPRESSION, P__COUNT };
static const char *const param_names[P__COUNT] = {"connect", "encoding", "message", "base64", "compression"};

typedef struct params {
	cr_buf value[P__COUNT];
	bool seen[P__COUNT];
} params;

static void params_free(params *p)
{
	for (size_t i = 0; i < P__COUNT; i++)
		cr_buf_free(&p->value[i]);
}

static int hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (unsigned char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Form-decodes s[0..n) into out; -1 on a malformed escape or a full buffer. */
static int form_decode(cr_buf *out, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (n - i < 3)
				return -1;
			int hi = hex((unsigned char)s[i + 1]), lo = hex((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (cr_buf_putc(out, c) < 0)
			return -1;
	}
	return 0;
}

/* Records one "key=value" pair if its key is one we know. */
static int take_pair(params *p, const char *pair, size_t n, cr_error **err)
{
	const char *eq = memchr(pair, '=', n);
	size_t klen = eq ? (size_t)(eq - pair) : n;
	cleanup_buf cr_buf key;
	cr_buf_init(&key, CR_CONNECT_MAX_QUERY);
	if (form_decode(&key, pair, klen) < 0)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "malformed percent-encoding in query");
	for (size_t i = 0; i < P__COUNT; i++) {
		if (!key.data || strlen(key.data) != key.len || strcmp(key.data, param_names[i]) != 0)
			continue;
		if (p->seen[i])
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
					     "query parameter '%s' given twice", param_names[i]);
		p->seen[i] = true;
		const char *v = eq ? eq + 1 : pair + n;
		if (form_decode(&p->value[i], v, (size_t)(pair + n - v)) < 0)
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
					     "malformed percent-encoding in query parameter '%s'",
					     param_names[i]);
		return 0;
	}
	return 0;
}

static int split_pairs(params *p, const char *q, size_t n, cr_error **err)
{
	for (size_t start = 0; start <= n;) {
		const char *amp = memchr(q + start, '&', n - start);
		size_t end = amp ? (size_t)(amp - q) : n;
		if (end > start && take_pair(p, q + start, end - start, err) < 0)
			return -1;
		start = end + 1;
	}
	return 0;
}

static const char *value_of(const params *p, int i)
{
	return p->value[i].data ? p->value[i].data : "";
}

/* Checks connect=, encoding= and compression=; sets out->codec. */
static int check_params(const params *p, cr_connect_get *out, cr_connect_code *code, cr_error **err)
{
	*code = CR_CONNECT_INVALID_ARGUMENT;
	if (p->seen[P_CONNECT] && strcmp(value_of(p, P_CONNECT), "v1") != 0)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "query parameter connect must be \"v1\"");
	if (!p->seen[P_ENCODING])
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "missing encoding parameter");
	if (!p->seen[P_MESSAGE])
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "missing message parameter");
	const char *enc = value_of(p, P_ENCODING);
	if (strcmp(enc, "json") == 0)
		out->codec = CR_CONNECT_CODEC_JSON;
	else if (strcmp(enc, "proto") == 0)
		out->codec = CR_CONNECT_CODEC_PROTO;
	else
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "invalid message encoding; use encoding=json or encoding=proto");
	const char *comp = value_of(p, P_COMPRESSION);
	if (*comp && strcmp(comp, "identity") != 0) {
		*code = CR_CONNECT_UNIMPLEMENTED;
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "unsupported compression; this server accepts identity only");
	}
	*code = CR_CONNECT_OK;
	return 0;
}

int cr_connect_get_parse(const char *query, size_t n, cr_connect_get *out, cr_connect_code *code,
			 cr_error **err)
{
	params p = {0};
	for (size_t i = 0; i < P__COUNT; i++)
		cr_buf_init(&p.value[i], CR_CONNECT_MAX_QUERY);
	*out = (cr_connect_get){0};
	*code = CR_CONNECT_INVALID_ARGUMENT;
	int r = split_pairs(&p, query, n, err);
	if (r == 0)
		r = check_params(&p, out, code, err);
	if (r == 0 && strcmp(value_of(&p, P_BASE64), "1") == 0) {
		cleanup_buf cr_buf raw;
		cr_buf_init(&raw, CR_CONNECT_MAX_QUERY);
		r = cr_connect_base64_decode(&raw, value_of(&p, P_MESSAGE), p.value[P_MESSAGE].len, true,
					     err);
		if (r == 0)
			out->message = (unsigned char *)cr_buf_steal(&raw, &out->message_len);
		else
			*code = CR_CONNECT_INVALID_ARGUMENT;
	} else if (r == 0) {
		out->message = (unsigned char *)cr_buf_steal(&p.value[P_MESSAGE], &out->message_len);
	}
	params_free(&p);
	return r;
}
