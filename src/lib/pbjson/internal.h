/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h -- what the encoder, decoder and text layer of the proto3-JSON
 * codec share: the JSON path kept for error messages, field-name mapping,
 * the descriptor shapes with a special JSON form (map entries, Timestamp),
 * raw field access by descriptor offset, and the scalar text forms (strict
 * integers, shortest floats, base64, RFC 3339). Not part of the library API. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "pbjson/pbjson.h"

/* The JSON path of the value being converted ("spec.env[2].name"); a path
 * longer than the buffer is cut, which only shortens error messages. */
typedef struct pbjson_path {
	char text[256];
	size_t len;
} pbjson_path;

/* Each push returns the previous length, to be handed back to pop. */
size_t pbjson_path_key(pbjson_path *p, const char *key);
size_t pbjson_path_index(pbjson_path *p, size_t index);
size_t pbjson_path_map_key(pbjson_path *p, const char *key);
void pbjson_path_pop(pbjson_path *p, size_t len);

/* Fills *err with "<path>: <message>" (or just the message at the root) and
 * returns -1. */
int pbjson_fail(cr_error **err, cr_reason reason, const pbjson_path *p, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The lowerCamelCase JSON name protoc derives from a field name (each "_"
 * dropped and the next letter upper-cased); malloc'd. */
char *pbjson_json_name(const char *proto_name);
/* Whether `key` is the field's proto name or its JSON name. */
bool pbjson_name_matches(const char *proto_name, const char *key);

/* A repeated message field whose entry type is protoc's synthetic
 * "<Field>Entry" with exactly key = 1 and value = 2. */
bool pbjson_is_map_field(const ProtobufCFieldDescriptor *f);
bool pbjson_is_timestamp(const ProtobufCMessageDescriptor *desc);

/* Field storage inside a message, by descriptor offset. */
static inline void *pbjson_member(const ProtobufCMessage *msg, unsigned offset)
{
	return (char *)msg + offset;
}
/* Bytes one element of a repeated field of this type occupies. */
size_t pbjson_elem_size(ProtobufCType type);

/* Strict decimal integer: optional '-', digits, no leading zeros, no
 * spaces, magnitude below 2^64. */
bool pbjson_parse_decimal(const char *s, size_t len, bool *negative, uint64_t *magnitude);
/* Whether s is a JSON number token (RFC 8259 grammar). */
bool pbjson_is_json_number(const char *s, size_t len);
/* Shortest "%g" text that reads back (strtof/strtod) to the same value;
 * finite values only. */
void pbjson_float_text(float value, char *out, size_t size);
void pbjson_double_text(double value, char *out, size_t size);

/* Standard base64 with padding, malloc'd. */
char *pbjson_base64_encode(const uint8_t *data, size_t len);
/* Standard or URL-safe alphabet, padding optional; returns 0 and a malloc'd
 * buffer (never NULL, even for zero bytes), or -1 if the text is not base64. */
int pbjson_base64_decode(const char *text, size_t len, uint8_t **out, size_t *out_len);

/* Seconds since the epoch in years 0001..9999 and nanos 0..999999999, as
 * RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits; -1 if out of range. */
int pbjson_timestamp_format(int64_t seconds, int32_t nanos, char out[40]);
/* RFC 3339 "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM)" to UTC seconds and nanos;
 * -1 if malformed or outside years 0001..9999 after applying the offset. */
int pbjson_timestamp_parse(const char *text, size_t len, int64_t *seconds, int32_t *nanos);
