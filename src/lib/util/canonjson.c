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

/* The escape of byte c, or NULL when c stands for itself (u: room for \u00XX). */
static const char *escape_of(unsigned char c, char u[7])
{
	static const char hex[] = "0123456789abcdef";
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\b': return "\\b";
	case '\f': return "\\f";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	default: break;
	}
	if (c >= 0x20)
		return NULL;
	memcpy(u, (char[7]){'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0}, 7);
	return u;
}

/* Runs of bytes that stand for themselves are appended whole. */
static void encode_string(cr_buf *b, const char *s, size_t n)
{
	cr_buf_putc(b, '"');
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		char u[7];
		const char *esc = escape_of((unsigned char)s[i], u);
		if (!esc)
			continue;
		cr_buf_append(b, s + run, i - run);
		cr_buf_puts(b, esc);
		run = i + 1;
	}
	cr_buf_append(b, s + run, n - run);
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
