/* SPDX-License-Identifier: Apache-2.0 */
/* pbjson.c -- the text side of the proto3-JSON codec: capped parsing of
 * request bodies (duplicate keys and NUL characters refused, position of a
 * syntax error reported) and a compact serialiser that, unlike json_dumps,
 * prints each double with the fewest digits that read back exactly, so that
 * 0.1 stays "0.1" on the wire. */
#include "pbjson/internal.h"

#include <errno.h>
#include <string.h>

#include "util/buf.h"

#define DUMP_MAX_DEPTH 512

static int dump_value(cr_buf *b, const json_t *j, int depth);

/* RFC 8259 string: quote, backslash and control characters escaped, other
 * bytes (valid UTF-8, as jansson guarantees) copied. */
static int dump_string(cr_buf *b, const char *s, size_t len)
{
	if (cr_buf_putc(b, '"') < 0)
		return -1;
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (cr_buf_append(b, s + run, i - run) < 0)
			return -1;
		run = i + 1;
		const char *esc = c == '"'    ? "\\\""
				  : c == '\\' ? "\\\\"
				  : c == '\n' ? "\\n"
				  : c == '\t' ? "\\t"
				  : c == '\r' ? "\\r"
					      : NULL;
		if (esc ? cr_buf_puts(b, esc) < 0 : cr_buf_printf(b, "\\u%04x", c) < 0)
			return -1;
	}
	if (cr_buf_append(b, s + run, len - run) < 0)
		return -1;
	return cr_buf_putc(b, '"');
}

static int dump_real(cr_buf *b, double v)
{
	char text[40];
	pbjson_double_text(v, text, sizeof(text));
	/* "-0" would read back as the integer 0 and lose the sign. */
	return cr_buf_puts(b, strcmp(text, "-0") == 0 ? "-0.0" : text);
}

static int dump_object(cr_buf *b, const json_t *j, int depth)
{
	if (cr_buf_putc(b, '{') < 0)
		return -1;
	bool first = true;
	for (void *it = json_object_iter((json_t *)j); it; it = json_object_iter_next((json_t *)j, it)) {
		if (!first && cr_buf_putc(b, ',') < 0)
			return -1;
		first = false;
		if (dump_string(b, json_object_iter_key(it), json_object_iter_key_len(it)) < 0 ||
		    cr_buf_putc(b, ':') < 0 || dump_value(b, json_object_iter_value(it), depth + 1) < 0)
			return -1;
	}
	return cr_buf_putc(b, '}');
}

static int dump_array(cr_buf *b, const json_t *j, int depth)
{
	if (cr_buf_putc(b, '[') < 0)
		return -1;
	for (size_t i = 0; i < json_array_size(j); i++) {
		if ((i > 0 && cr_buf_putc(b, ',') < 0) || dump_value(b, json_array_get(j, i), depth + 1) < 0)
			return -1;
	}
	return cr_buf_putc(b, ']');
}

/* Returns -1 with errno E2BIG past the buffer's cap, ELOOP past the depth. */
static int dump_value(cr_buf *b, const json_t *j, int depth)
{
	if (depth > DUMP_MAX_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	switch (json_typeof(j)) {
	case JSON_OBJECT: return dump_object(b, j, depth);
	case JSON_ARRAY: return dump_array(b, j, depth);
	case JSON_STRING: return dump_string(b, json_string_value(j), json_string_length(j));
	case JSON_INTEGER: return cr_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
	case JSON_REAL: return dump_real(b, json_real_value(j));
	case JSON_TRUE: return cr_buf_puts(b, "true");
	case JSON_FALSE: return cr_buf_puts(b, "false");
	default: return cr_buf_puts(b, "null");
	}
}

char *cr_pbjson_dumps(const json_t *json, size_t *len, cr_error **err)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, CR_PBJSON_MAX_TEXT);
	if (!json) {
		cr_error_make(err, EINVAL, CR_REASON_INTERNAL, "serialise JSON: no value");
		return NULL;
	}
	if (dump_value(&b, json, 0) < 0) {
		if (errno == ELOOP)
			cr_error_make(err, 0, CR_REASON_INTERNAL, "serialise JSON: nested deeper than %d",
				      DUMP_MAX_DEPTH);
		else
			cr_error_make(err, 0, CR_REASON_INTERNAL, "serialise JSON: text exceeds %zu bytes",
				      CR_PBJSON_MAX_TEXT);
		return NULL;
	}
	return cr_buf_steal(&b, len);
}

char *cr_pbjson_encode_text(const ProtobufCMessage *msg, size_t *len, cr_error **err)
{
	json_t *json = cr_pbjson_encode(msg, err);
	if (!json)
		return NULL;
	char *text = cr_pbjson_dumps(json, len, err);
	json_decref(json);
	return text;
}

int cr_pbjson_decode_text(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
			  size_t max_bytes, ProtobufCMessage **out, cr_error **err)
{
	if (len > max_bytes)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "JSON message of %zu bytes exceeds the limit of %zu", len, max_bytes);
	json_error_t jerr;
	json_t *json =
		json_loadb(text ? text : "", text ? len : 0, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (!json)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "invalid JSON at line %d, column %d: %s", jerr.line, jerr.column,
				     jerr.text);
	int rc = cr_pbjson_decode(desc, json, out, err);
	json_decref(json);
	return rc;
}
