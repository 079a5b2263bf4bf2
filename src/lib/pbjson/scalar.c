/* SPDX-License-Identifier: Apache-2.0 */
/* scalar.c -- the text forms of proto3 JSON scalars and the small shared
 * pieces of the codec: JSON paths for error messages, lowerCamelCase names,
 * map-entry and Timestamp detection, strict decimal and JSON-number syntax,
 * shortest round-trip float text, base64 in both alphabets, and RFC 3339
 * timestamps (proleptic Gregorian, years 0001..9999 as the mapping requires). */
#include "pbjson/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* Appends printf output, cutting at the buffer's end. */
__attribute__((format(printf, 2, 3))) static void path_append(pbjson_path *p, const char *fmt, ...)
{
	size_t room = sizeof(p->text) - p->len;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(p->text + p->len, room, fmt, ap);
	va_end(ap);
	if (n < 0)
		p->text[p->len] = '\0';
	else
		p->len = (size_t)n < room ? p->len + (size_t)n : sizeof(p->text) - 1;
}

/* Keys come from requests: control characters become '?' in messages. */
static void path_append_key(pbjson_path *p, const char *key)
{
	size_t start = p->len;
	path_append(p, "%s", key);
	for (size_t i = start; i < p->len; i++)
		if ((unsigned char)p->text[i] < 0x20 || p->text[i] == 0x7f)
			p->text[i] = '?';
}

size_t pbjson_path_key(pbjson_path *p, const char *key)
{
	size_t old = p->len;
	if (p->len > 0)
		path_append(p, ".");
	path_append_key(p, key);
	return old;
}

size_t pbjson_path_index(pbjson_path *p, size_t index)
{
	size_t old = p->len;
	path_append(p, "[%zu]", index);
	return old;
}

size_t pbjson_path_map_key(pbjson_path *p, const char *key)
{
	size_t old = p->len;
	path_append(p, "[\"");
	path_append_key(p, key);
	path_append(p, "\"]");
	return old;
}

void pbjson_path_pop(pbjson_path *p, size_t len)
{
	p->len = len;
	p->text[len] = '\0';
}

int pbjson_fail(cr_error **err, cr_reason reason, const pbjson_path *p, const char *fmt, ...)
{
	char detail[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (p && p->len > 0)
		return cr_error_make(err, 0, reason, "%s: %s", p->text, detail);
	return cr_error_make(err, 0, reason, "%s", detail);
}

static char upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

char *pbjson_json_name(const char *proto_name)
{
	char *out = cr_xmalloc(strlen(proto_name) + 1);
	size_t n = 0;
	bool capitalize = false;
	for (const char *s = proto_name; *s; s++) {
		if (*s == '_') {
			capitalize = true;
			continue;
		}
		out[n++] = capitalize ? upper(*s) : *s;
		capitalize = false;
	}
	out[n] = '\0';
	return out;
}

bool pbjson_name_matches(const char *proto_name, const char *key)
{
	if (strcmp(proto_name, key) == 0)
		return true;
	bool capitalize = false;
	for (const char *s = proto_name; *s; s++) {
		if (*s == '_') {
			capitalize = true;
			continue;
		}
		if (*key++ != (capitalize ? upper(*s) : *s))
			return false;
		capitalize = false;
	}
	return *key == '\0';
}

bool pbjson_is_map_field(const ProtobufCFieldDescriptor *f)
{
	if (f->label != PROTOBUF_C_LABEL_REPEATED || f->type != PROTOBUF_C_TYPE_MESSAGE)
		return false;
	const ProtobufCMessageDescriptor *entry = f->descriptor;
	size_t n = strlen(entry->short_name);
	return n > 5 && strcmp(entry->short_name + n - 5, "Entry") == 0 && entry->n_fields == 2 &&
	       entry->fields[0].id == 1 && strcmp(entry->fields[0].name, "key") == 0 &&
	       entry->fields[1].id == 2 && strcmp(entry->fields[1].name, "value") == 0 &&
	       entry->fields[0].label != PROTOBUF_C_LABEL_REPEATED &&
	       entry->fields[1].label != PROTOBUF_C_LABEL_REPEATED;
}

bool pbjson_is_timestamp(const ProtobufCMessageDescriptor *desc)
{
	return strcmp(desc->name, "google.protobuf.Timestamp") == 0;
}

size_t pbjson_elem_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_FLOAT: return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE: return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL: return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING: return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES: return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE: return sizeof(ProtobufCMessage *);
	default: return sizeof(int32_t); /* the 32-bit integers and enums */
	}
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

bool pbjson_parse_decimal(const char *s, size_t len, bool *negative, uint64_t *magnitude)
{
	size_t i = 0;
	*negative = len > 0 && s[0] == '-';
	i += *negative;
	if (i == len || (s[i] == '0' && len - i > 1))
		return false;
	uint64_t v = 0;
	for (; i < len; i++) {
		if (!is_digit(s[i]))
			return false;
		unsigned d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*magnitude = v;
	return true;
}

/* Skips one or more digits; false when there is none. */
static bool skip_digits(const char *s, size_t len, size_t *i)
{
	size_t start = *i;
	while (*i < len && is_digit(s[*i]))
		(*i)++;
	return *i > start;
}

bool pbjson_is_json_number(const char *s, size_t len)
{
	size_t i = 0;
	if (i < len && s[i] == '-')
		i++;
	if (i < len && s[i] == '0')
		i++;
	else if (!skip_digits(s, len, &i))
		return false;
	if (i < len && s[i] == '.') {
		i++;
		if (!skip_digits(s, len, &i))
			return false;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!skip_digits(s, len, &i))
			return false;
	}
	return i == len;
}

/* The fewest significant digits (up to max_digits) whose "%g" text reads back
 * as the same value; integers below 1e15 are then written out in full
 * ("100", not "1e+02"), still short enough to be exact as JSON integers. */
static void shortest_text(double value, bool single, int max_digits, char *out, size_t size)
{
	int digits = 1;
	for (; digits < max_digits; digits++) {
		snprintf(out, size, "%.*g", digits, value);
		if (single ? strtof(out, NULL) == (float)value : strtod(out, NULL) == value)
			break;
	}
	snprintf(out, size, "%.*g", digits, value);
	const char *e = strchr(out, 'e');
	if (e) {
		int exponent = (int)strtol(e + 1, NULL, 10);
		if (exponent >= 0 && exponent < 15)
			snprintf(out, size, "%.*g", exponent + 1, value);
	}
}

void pbjson_float_text(float value, char *out, size_t size)
{
	shortest_text(value, true, 9, out, size);
}

void pbjson_double_text(double value, char *out, size_t size)
{
	shortest_text(value, false, 17, out, size);
}

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *pbjson_base64_encode(const uint8_t *data, size_t len)
{
	char *out = cr_xmalloc((len + 2) / 3 * 4 + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)data[i + 1] << 8;
		if (i + 2 < len)
			v |= data[i + 2];
		out[o++] = b64_std[(v >> 18) & 63];
		out[o++] = b64_std[(v >> 12) & 63];
		out[o++] = i + 1 < len ? b64_std[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < len ? b64_std[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

/* The 6-bit value of a character of either alphabet, or -1. */
static int b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (is_digit(c))
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

int pbjson_base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len)
{
	size_t pad = 0;
	while (pad < 2 && len > pad && text[len - 1 - pad] == '=')
		pad++;
	if (pad > 0 && len % 4 != 0)
		return -1;
	size_t chars = len - pad;
	if (chars % 4 == 1)
		return -1;
	uint8_t *buf = cr_xmalloc(chars / 4 * 3 + 3);
	size_t o = 0;
	uint32_t acc = 0;
	for (size_t i = 0; i < chars; i++) {
		int v = b64_value(text[i]);
		if (v < 0) {
			free(buf);
			return -1;
		}
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			buf[o++] = (uint8_t)(acc >> 16);
			buf[o++] = (uint8_t)(acc >> 8);
			buf[o++] = (uint8_t)acc;
			acc = 0;
		}
	}
	if (chars % 4 >= 2)
		buf[o++] = (uint8_t)(acc >> (chars % 4 == 2 ? 4 : 10));
	if (chars % 4 == 3)
		buf[o++] = (uint8_t)(acc >> 2);
	*out = buf;
	*out_len = o;
	return 0;
}

/* 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z in Unix seconds. */
#define TS_MIN_SECONDS (-62135596800LL)
#define TS_MAX_SECONDS 253402300799LL

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil); y is 1..9999 here, so no negative era arises. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = y / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = z / 146097; /* z >= 0 for years >= 1 */
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int pbjson_timestamp_format(int64_t seconds, int32_t nanos, char out[40])
{
	if (seconds < TS_MIN_SECONDS || seconds > TS_MAX_SECONDS || nanos < 0 || nanos > 999999999)
		return -1;
	int64_t days = (seconds - TS_MIN_SECONDS) / 86400 + TS_MIN_SECONDS / 86400;
	int64_t rem = seconds - days * 86400, y;
	unsigned mo, d;
	civil_from_days(days, &y, &mo, &d);
	int n = snprintf(out, 40, "%04d-%02u-%02uT%02d:%02d:%02d", (int)y, mo, d, (int)(rem / 3600),
			 (int)(rem / 60 % 60), (int)(rem % 60));
	if (nanos % 1000000 == 0 && nanos != 0)
		n += snprintf(out + n, 40 - (size_t)n, ".%03d", (int)(nanos / 1000000));
	else if (nanos % 1000 == 0 && nanos != 0)
		n += snprintf(out + n, 40 - (size_t)n, ".%06d", (int)(nanos / 1000));
	else if (nanos != 0)
		n += snprintf(out + n, 40 - (size_t)n, ".%09d", (int)nanos);
	snprintf(out + n, 40 - (size_t)n, "Z");
	return 0;
}

/* Reads exactly `width` digits at *i. */
static bool fixed_digits(const char *s, size_t len, size_t *i, int width, int *value)
{
	int v = 0;
	for (int k = 0; k < width; k++, (*i)++) {
		if (*i >= len || !is_digit(s[*i]))
			return false;
		v = v * 10 + (s[*i] - '0');
	}
	*value = v;
	return true;
}

static bool expect_char(const char *s, size_t len, size_t *i, const char *choices)
{
	if (*i >= len || s[*i] == '\0' || !strchr(choices, s[*i]))
		return false;
	(*i)++;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : days[m - 1];
}

/* ".f{1,9}" scaled to nanoseconds; absent = 0. */
static bool fraction(const char *s, size_t len, size_t *i, int32_t *nanos)
{
	*nanos = 0;
	if (*i >= len || s[*i] != '.')
		return true;
	(*i)++;
	int digits = 0;
	while (*i < len && is_digit(s[*i]) && digits < 9) {
		*nanos = *nanos * 10 + (s[(*i)++] - '0');
		digits++;
	}
	if (digits == 0 || (*i < len && is_digit(s[*i])))
		return false;
	for (; digits < 9; digits++)
		*nanos *= 10;
	return true;
}

/* "Z" (0) or "±HH:MM" in seconds east of UTC. */
static bool utc_offset(const char *s, size_t len, size_t *i, int64_t *offset)
{
	*offset = 0;
	if (expect_char(s, len, i, "Zz"))
		return true;
	if (*i >= len || (s[*i] != '+' && s[*i] != '-'))
		return false;
	int sign = s[(*i)++] == '-' ? -1 : 1, oh, om;
	if (!fixed_digits(s, len, i, 2, &oh) || !expect_char(s, len, i, ":") ||
	    !fixed_digits(s, len, i, 2, &om) || oh > 23 || om > 59)
		return false;
	*offset = sign * (oh * 3600 + om * 60);
	return true;
}

int pbjson_timestamp_parse(const char *s, size_t len, int64_t *seconds, int32_t *nanos)
{
	size_t i = 0;
	int y, mo, d, h, mi, sec;
	int64_t offset;
	if (!fixed_digits(s, len, &i, 4, &y) || !expect_char(s, len, &i, "-") ||
	    !fixed_digits(s, len, &i, 2, &mo) || !expect_char(s, len, &i, "-") ||
	    !fixed_digits(s, len, &i, 2, &d) || !expect_char(s, len, &i, "Tt") ||
	    !fixed_digits(s, len, &i, 2, &h) || !expect_char(s, len, &i, ":") ||
	    !fixed_digits(s, len, &i, 2, &mi) || !expect_char(s, len, &i, ":") ||
	    !fixed_digits(s, len, &i, 2, &sec) || !fraction(s, len, &i, nanos) ||
	    !utc_offset(s, len, &i, &offset) || i != len)
		return -1;
	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return -1;
	int64_t t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	if (t < TS_MIN_SECONDS || t > TS_MAX_SECONDS)
		return -1;
	*seconds = t;
	return 0;
}
