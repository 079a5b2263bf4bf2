/* SPDX-License-Identifier: Apache-2.0 */
/* errbody.c -- what a Connect error looks like on the wire: the JSON error
 * object with our reason code as a cleanroom.v1.ErrorInfo detail, the unary
 * error body, and the end-of-stream message of a stream. The ErrorInfo
 * message is encoded by hand so this module does not depend on generated
 * code; its schema is
 *
 *     package cleanroom.v1;
 *     message ErrorInfo { string reason_code = 1; string message = 2; }
 *
 * and it must stay identical to the one in proto/cleanroom/v1. Messages are
 * ours but may quote outside input, so they are cut to a cap and invalid
 * UTF-8 is replaced before it reaches JSON. */
#include "connect/connect.h"

#include <errno.h>
#include <string.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/utf8.h"
#include "util/xalloc.h"

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0, k; i < n; i += k)
		if ((k = cr_utf8_seq(s + i, n - i)) == 0)
			return false;
	return true;
}

/* A copy of s with invalid UTF-8 bytes replaced by U+FFFD, cut at a character
 * boundary to at most cap bytes. Owned, never NULL. */
static char *utf8_sanitize(const char *s, size_t cap)
{
	cr_buf b;
	cr_buf_init(&b, cap);
	size_t n = s ? strlen(s) : 0;
	for (size_t i = 0, k; i < n; i += k ? k : 1) {
		k = cr_utf8_seq((const unsigned char *)s + i, n - i);
		int r = k ? cr_buf_append(&b, s + i, k) : cr_buf_puts(&b, "\xef\xbf\xbd");
		if (r < 0)
			break;
	}
	return cr_buf_steal(&b, NULL);
}

static int put_varint(struct cr_buf *out, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;
	do {
		tmp[n] = (unsigned char)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	return cr_buf_append(out, tmp, n);
}

/* A proto3 string field (wire type 2); empty strings are not written. */
static int put_string_field(struct cr_buf *out, unsigned field, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0)
		return 0;
	if (put_varint(out, (uint64_t)field << 3 | 2) < 0 || put_varint(out, n) < 0)
		return -1;
	return cr_buf_append(out, s, n);
}

int cr_connect_error_info_encode(struct cr_buf *out, const char *reason_code, const char *message,
				 cr_error **err)
{
	size_t start = out->len;
	if (put_string_field(out, 1, reason_code) == 0 && put_string_field(out, 2, message) == 0)
		return 0;
	out->len = start;
	if (out->data)
		out->data[start] = '\0';
	return cr_error_make(err, E2BIG, CR_REASON_INTERNAL, "encode ErrorInfo");
}

/* Reads a varint at *p (< end); returns 0 or -1 when truncated or too long. */
static int get_varint(const unsigned char **p, const unsigned char *end, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		unsigned char c = *(*p)++;
		*v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return 0;
	}
	return -1;
}

/* Skips the value of a field of wire type `wire`; -1 when malformed. */
static int skip_value(const unsigned char **p, const unsigned char *end, unsigned wire)
{
	uint64_t n;
	switch (wire) {
	case 0: return get_varint(p, end, &n);
	case 1: n = 8; break;
	case 5: n = 4; break;
	case 2:
		if (get_varint(p, end, &n) < 0)
			return -1;
		break;
	default: return -1; /* groups (3, 4) and reserved types */
	}
	if (n > (uint64_t)(end - *p))
		return -1;
	*p += n;
	return 0;
}

static int read_string(const unsigned char **p, const unsigned char *end, char **out)
{
	uint64_t n;
	if (get_varint(p, end, &n) < 0 || n > (uint64_t)(end - *p))
		return -1;
	if (memchr(*p, 0, n) || !utf8_valid(*p, n))
		return -1;
	free(*out);
	*out = cr_xstrndup((const char *)*p, n);
	*p += n;
	return 0;
}

int cr_connect_error_info_decode(const void *data, size_t len, char **reason_code, char **message,
				 cr_error **err)
{
	const unsigned char *p = data, *end = p + len;
	cleanup_free char *reason = cr_xstrdup("");
	cleanup_free char *text = cr_xstrdup("");
	while (p < end) {
		uint64_t key;
		if (get_varint(&p, end, &key) < 0 || key >> 3 == 0 || key >> 3 > UINT32_MAX)
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "ErrorInfo: bad field key");
		uint64_t field = key >> 3;
		unsigned wire = key & 7;
		int r;
		if (field == 1 || field == 2)
			r = wire == 2 ? read_string(&p, end, field == 1 ? &reason : &text) : -1;
		else
			r = skip_value(&p, end, wire);
		if (r < 0)
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "ErrorInfo: malformed field %u",
					     (unsigned)field);
	}
	*reason_code = steal_pointer(&reason);
	*message = steal_pointer(&text);
	return 0;
}

/* The ErrorInfo detail object for one reason and (sanitized) message. */
static json_t *error_detail(cr_reason reason, const char *message)
{
	const char *name = cr_reason_name(reason);
	cleanup_buf cr_buf info;
	cleanup_buf cr_buf b64;
	cr_buf_init(&info, CR_CONNECT_MAX_ERROR_TEXT + 256);
	cr_buf_init(&b64, 2 * CR_CONNECT_MAX_ERROR_TEXT + 512);
	if (cr_connect_error_info_encode(&info, name, message, NULL) < 0 ||
	    cr_connect_base64_encode(&b64, info.data ? info.data : "", info.len, NULL) < 0)
		return NULL; /* cannot happen: the message is capped well below */
	return json_pack("{s:s,s:s,s:{s:s}}", "type", CR_CONNECT_ERROR_INFO_TYPE, "value",
			 b64.data ? b64.data : "", "debug", "reasonCode", name);
}

json_t *cr_connect_error_json(cr_connect_code code, cr_reason reason, const char *message)
{
	const char *name = cr_connect_code_name(code);
	cleanup_free char *text = utf8_sanitize(message, CR_CONNECT_MAX_ERROR_TEXT);
	json_t *o = json_object();
	json_object_set_new(o, "code", json_string(name ? name : "unknown"));
	if (*text)
		json_object_set_new(o, "message", json_string(text));
	if (reason != CR_REASON_NONE) {
		json_t *detail = error_detail(reason, text);
		if (detail)
			json_object_set_new(o, "details", json_pack("[o]", detail));
	}
	return o;
}

static char *dump(json_t *j, size_t *len)
{
	char *s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		s = cr_xstrdup("{\"code\":\"internal\"}"); /* jansson ran out of memory */
	if (len)
		*len = strlen(s);
	return s;
}

char *cr_connect_error_body(cr_connect_code code, cr_reason reason, const char *message, size_t *len)
{
	return dump(cr_connect_error_json(code, reason, message), len);
}

char *cr_connect_error_body_from(const cr_error *e, size_t *len)
{
	cr_reason reason = e ? e->reason : CR_REASON_INTERNAL;
	return cr_connect_error_body(cr_connect_code_from_reason(reason), reason, e ? e->msg : "", len);
}

/* {"key":["v1","v2"]} with names lower-cased and grouped in order. */
static json_t *metadata_json(const cr_connect_header *md, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *name = utf8_sanitize(md[i].name, CR_CONNECT_MAX_HEADER);
		for (char *c = name; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		json_t *values = json_object_get(o, name);
		if (!values) {
			values = json_array();
			json_object_set_new(o, name, values);
		}
		cleanup_free char *value = utf8_sanitize(md[i].value, CR_CONNECT_MAX_HEADER);
		json_array_append_new(values, json_string(value));
	}
	return o;
}

char *cr_connect_end_stream_json(cr_connect_code code, cr_reason reason, const char *message,
				 const cr_connect_header *metadata, size_t n_metadata, size_t *len)
{
	json_t *o = json_object();
	if (code != CR_CONNECT_OK)
		json_object_set_new(o, "error", cr_connect_error_json(code, reason, message));
	if (n_metadata > 0)
		json_object_set_new(o, "metadata", metadata_json(metadata, n_metadata));
	return dump(o, len);
}
