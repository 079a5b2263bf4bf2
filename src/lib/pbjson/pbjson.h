/* SPDX-License-Identifier: Apache-2.0 */
/* pbjson.h -- the proto3 JSON mapping over protobuf-c descriptors.
 *
 * One generic codec, driven by the ProtobufCMessageDescriptor of a message,
 * converts any generated protobuf-c message to and from its canonical proto3
 * JSON form (protobuf.dev/programming-guides/proto3/#json), as the Connect
 * JSON codec and the official clients use it: lowerCamelCase names, 64-bit
 * integers as strings, bytes as base64, enums by name, maps as objects,
 * google.protobuf.Timestamp as an RFC 3339 string. There is no per-message
 * code. Decoding is strict (unknown fields, wrong types and out-of-range
 * values are errors naming the JSON path) and builds messages that
 * protobuf_c_message_free_unpacked(msg, NULL) releases. Mapping decisions and
 * limits: docs/internals/pbjson.md. */
#pragma once

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "util/error.h"

/* Maximum nesting of messages, on both sides (a message inside a message at
 * depth 64 is refused). */
#define CR_PBJSON_MAX_DEPTH 64
/* Maximum elements of one repeated or map field accepted by the decoder. */
#define CR_PBJSON_MAX_ELEMENTS (1u << 20)
/* Maximum size of a text produced by cr_pbjson_encode_text/cr_pbjson_dumps. */
#define CR_PBJSON_MAX_TEXT ((size_t)64 << 20)

/* Encodes `msg` as a proto3 JSON object (or, for a google.protobuf.Timestamp
 * at the top, a JSON string). Fields with their default value are omitted
 * (fields with explicit presence -- oneof members, proto2 `optional`, message
 * fields -- are emitted when present); keys are in field-number order.
 * Returns a new reference owned by the caller, or NULL with *err filled
 * (reason CR_REASON_INTERNAL) when the message cannot be represented: a
 * string that is not UTF-8, a Timestamp outside years 1..9999 or with nanos
 * outside 0..999999999, nesting deeper than CR_PBJSON_MAX_DEPTH. */
json_t *cr_pbjson_encode(const ProtobufCMessage *msg, cr_error **err);

/* Decodes `json` into a new message of type `desc`. Accepts lowerCamelCase
 * and original proto field names, integers as numbers or strings (exponent
 * notation allowed when the value is integral), floats as numbers or strings
 * including "NaN", "Infinity", "-Infinity", enum names or numbers, standard
 * or URL-safe base64 with or without padding, RFC 3339 timestamps with any
 * offset, and null for any field (= the default). On success stores the
 * message in *out (free it with protobuf_c_message_free_unpacked(msg, NULL))
 * and returns 0. On failure returns -1, leaves *out untouched and fills *err
 * with reason CR_REASON_USAGE_INVALID and a message that starts with the
 * JSON path of the offending value (`options.cwdd: unknown field`,
 * `items[2].size: expected an integer, got a string`): unknown fields, a
 * field given twice (under both names), two members of one oneof, wrong JSON
 * types, integers out of range, bad base64, enum names or timestamps,
 * duplicate map keys, strings containing NUL, nesting deeper than
 * CR_PBJSON_MAX_DEPTH or more than CR_PBJSON_MAX_ELEMENTS elements. */
int cr_pbjson_decode(const ProtobufCMessageDescriptor *desc, const json_t *json, ProtobufCMessage **out,
		     cr_error **err);

/* cr_pbjson_encode() serialised as compact JSON text (no whitespace; floats
 * with the fewest digits that read back to the same value). Returns a
 * malloc'd NUL-terminated string and its length in *len (when len is not
 * NULL), or NULL with *err filled (CR_REASON_INTERNAL). */
char *cr_pbjson_encode_text(const ProtobufCMessage *msg, size_t *len, cr_error **err);

/* Parses `len` bytes of JSON text and decodes it as cr_pbjson_decode() does.
 * Text longer than `max_bytes`, text that is not JSON (the message gives the
 * line and column), objects with duplicate keys and strings containing
 * \u0000 are refused with CR_REASON_USAGE_INVALID. Returns 0 and stores the
 * message in *out, or -1 with *err filled. */
int cr_pbjson_decode_text(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
			  size_t max_bytes, ProtobufCMessage **out, cr_error **err);

/* Serialises any JSON value compactly, keys in insertion order, reals with
 * the fewest digits that read back to the same double (jansson's
 * json_dumps always prints 17). Returns a malloc'd string (length in *len
 * when len is not NULL), or NULL with *err filled (CR_REASON_INTERNAL) for
 * text over CR_PBJSON_MAX_TEXT or nesting over 512 levels. */
char *cr_pbjson_dumps(const json_t *json, size_t *len, cr_error **err);
