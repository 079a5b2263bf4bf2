/* SPDX-License-Identifier: Apache-2.0 */
/* canonjson.c -- canonical JSON encoder (see canonjson.h for the rules). */
#include "util/canonjson.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define MAX_DEPTH  64
#define MAX_OUTPUT (256u << 20)

static int encode(cr_buf *b, const json_t *v, int depth, cr_error **err);

static void encode_string(cr_buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	cr_buf_putc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		switch (c) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default: break;
		}
		if (esc) {
			cr_buf_puts(b, esc);
		} else if (c < 0x20) {
			char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
			cr_buf_puts(b, u);
		} else {
			cr_buf_putc(b, (char)c);
		}
	}
	cr_buf_putc(b, '"');
}

static int key_cmp(const void *a, const void *b)
{
	/* strcmp compares as unsigned char, i.e. by UTF-8 bytes. */
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int encode_object(cr_buf *b, const json_t *v, int depth, cr_error **err)
{
	size_t n = json_object_size(v), i = 0;
	cleanup_free const char **keys = cr_xcalloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *val;
	json_object_foreach ((json_t *)v, k, val)
		keys[i++] = k;
	qsort(keys, n, sizeof(*keys), key_cmp);
	cr_buf_putc(b, '{');
	for (i = 0; i < n; i++) {
		if (i)
			cr_buf_putc(b, ',');
		encode_string(b, keys[i], strlen(keys[i]));
		cr_buf_putc(b, ':');
		if (encode(b, json_object_get(v, keys[i]), depth + 1, err) < 0)
			return -1;
	}
	cr_buf_putc(b, '}');
	return 0;
}

static int encode_array(cr_buf *b, const json_t *v, int depth, cr_error **err)
{
	cr_buf_putc(b, '[');
	for (size_t i = 0; i < json_array_size(v); i++) {
		if (i)
			cr_buf_putc(b, ',');
		if (encode(b, json_array_get(v, i), depth + 1, err) < 0)
			return -1;
	}
	cr_buf_putc(b, ']');
	return 0;
}

static int encode(cr_buf *b, const json_t *v, int depth, cr_error **err)
{
	if (depth > MAX_DEPTH)
		return cr_error_make(err, 0, CR_REASON_POLICY_INVALID, "JSON nests deeper than %d levels",
				     MAX_DEPTH);
	switch (json_typeof(v)) {
	case JSON_OBJECT: return encode_object(b, v, depth, err);
	case JSON_ARRAY: return encode_array(b, v, depth, err);
	case JSON_STRING: encode_string(b, json_string_value(v), json_string_length(v)); return 0;
	case JSON_INTEGER: return cr_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v)), 0;
	case JSON_TRUE: return cr_buf_puts(b, "true"), 0;
	case JSON_FALSE: return cr_buf_puts(b, "false"), 0;
	case JSON_NULL: return cr_buf_puts(b, "null"), 0;
	case JSON_REAL: break;
	}
	return cr_error_make(err, 0, CR_REASON_POLICY_INVALID,
			     "canonical JSON allows integers only, found a real number");
}

char *cr_json_canonical(const json_t *v, size_t *len, cr_error **err)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, MAX_OUTPUT);
	if (encode(&b, v, 0, err) < 0)
		return NULL;
	return cr_buf_steal(&b, len);
}
