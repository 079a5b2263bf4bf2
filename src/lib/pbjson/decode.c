/* SPDX-License-Identifier: Apache-2.0 */
/* decode.c -- proto3 JSON to protobuf-c message, driven by its descriptor.
 *
 * Strict where the mapping allows a choice (unknown fields, duplicate names,
 * two oneof members, wrong types and out-of-range numbers are errors naming
 * the JSON path), liberal where the mapping says so (both field names,
 * numbers as strings, enum numbers, either base64 alphabet, any RFC 3339
 * offset). Every allocation follows protobuf-c's unpacker (malloc'd strings,
 * bytes, arrays and messages initialised by their descriptor), and a value is
 * stored into its message only once it is complete, so
 * protobuf_c_message_free_unpacked() releases a result or a half-built
 * message alike. */
#include "pbjson/internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

typedef struct decoder {
	pbjson_path path;
	cr_error **err;
	int depth;
} decoder;

static int decode_message(decoder *d, const ProtobufCMessageDescriptor *desc, const json_t *j,
			  ProtobufCMessage **out);

__attribute__((format(printf, 2, 3))) static int fail(decoder *d, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pbjson_fail(d->err, CR_REASON_USAGE_INVALID, &d->path, "%s", msg);
}

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	default: return "null";
	}
}

static int type_error(decoder *d, const char *expected, const json_t *j)
{
	return fail(d, "expected %s, got %s", expected, json_kind(j));
}

static const char *proto_type_name(ProtobufCType t)
{
	static const char *const names[] = {"int32",  "sint32",  "sfixed32", "int64",   "sint64", "sfixed64",
					    "uint32", "fixed32", "uint64",   "fixed64", "float",  "double",
					    "bool",   "enum",    "string",   "bytes",   "message"};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "value";
}

/* An integral double as sign and magnitude. */
static int real_to_integer(decoder *d, double v, bool *negative, uint64_t *magnitude)
{
	if (!isfinite(v) || v != floor(v))
		return fail(d, "expected an integer, got %g", v);
	if (fabs(v) >= 18446744073709551616.0)
		return fail(d, "integer out of range: %g", v);
	*negative = v < 0;
	*magnitude = (uint64_t)fabs(v);
	return 0;
}

/* A JSON integer, an integral JSON number, or a string holding either. */
static int json_to_integer(decoder *d, const json_t *j, bool *negative, uint64_t *magnitude)
{
	if (json_is_integer(j)) {
		json_int_t v = json_integer_value(j);
		*negative = v < 0;
		*magnitude = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
		return 0;
	}
	if (json_is_real(j))
		return real_to_integer(d, json_real_value(j), negative, magnitude);
	if (!json_is_string(j))
		return type_error(d, "an integer", j);
	const char *s = json_string_value(j);
	size_t len = json_string_length(j);
	if (pbjson_parse_decimal(s, len, negative, magnitude))
		return 0;
	if (len != strlen(s) || !pbjson_is_json_number(s, len))
		return fail(d, "expected an integer, got a string that is not a number");
	return real_to_integer(d, strtod(s, NULL), negative, magnitude);
}

/* Stores sign and magnitude as the field's C type, or fails out of range. */
static int store_integer(decoder *d, ProtobufCType t, bool negative, uint64_t magnitude, void *dst)
{
	uint64_t limit;
	switch (t) {
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		limit = t == PROTOBUF_C_TYPE_UINT32 || t == PROTOBUF_C_TYPE_FIXED32 ? UINT32_MAX : UINT64_MAX;
		if ((negative && magnitude != 0) || magnitude > limit)
			return fail(d, "value out of range for %s", proto_type_name(t));
		if (limit == UINT32_MAX)
			*(uint32_t *)dst = (uint32_t)magnitude;
		else
			*(uint64_t *)dst = magnitude;
		return 0;
	default: break;
	}
	bool wide = pbjson_elem_size(t) == 8;
	limit = wide ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
	if (magnitude > limit + negative)
		return fail(d, "value out of range for %s", proto_type_name(t));
	int64_t v = !negative                         ? (int64_t)magnitude
		    : magnitude > (uint64_t)INT64_MAX ? INT64_MIN
						      : -(int64_t)magnitude;
	if (wide)
		*(int64_t *)dst = v;
	else
		*(int32_t *)dst = (int32_t)v;
	return 0;
}

static int decode_integer(decoder *d, ProtobufCType t, const json_t *j, void *dst)
{
	bool negative;
	uint64_t magnitude;
	if (json_to_integer(d, j, &negative, &magnitude) < 0)
		return -1;
	return store_integer(d, t, negative, magnitude, dst);
}

/* A JSON number, or a string: "NaN", "Infinity", "-Infinity" or a number. */
static int json_to_double(decoder *d, const json_t *j, double *out)
{
	if (json_is_integer(j) || json_is_real(j)) {
		*out = json_number_value(j);
		return 0;
	}
	if (!json_is_string(j))
		return type_error(d, "a number", j);
	const char *s = json_string_value(j);
	size_t len = json_string_length(j);
	if (strcmp(s, "NaN") == 0)
		*out = NAN;
	else if (strcmp(s, "Infinity") == 0)
		*out = INFINITY;
	else if (strcmp(s, "-Infinity") == 0)
		*out = -INFINITY;
	else if (len != strlen(s) || !pbjson_is_json_number(s, len))
		return fail(d, "expected a number, got a string that is not a number");
	else if (isinf(strtod(s, NULL)))
		return fail(d, "number out of range for double");
	else
		*out = strtod(s, NULL);
	return 0;
}

static int decode_floating(decoder *d, ProtobufCType t, const json_t *j, void *dst)
{
	double v = 0;
	if (json_to_double(d, j, &v) < 0)
		return -1;
	if (t == PROTOBUF_C_TYPE_DOUBLE) {
		*(double *)dst = v;
		return 0;
	}
	/* Beyond FLT_MAX plus half an ulp the value would round to infinity. */
	if (isfinite(v) && fabs(v) >= 0x1.ffffffp127)
		return fail(d, "number out of range for float");
	*(float *)dst = (float)v;
	return 0;
}

static int decode_enum(decoder *d, const ProtobufCEnumDescriptor *desc, const json_t *j, void *dst)
{
	if (json_is_string(j)) {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value_by_name(desc, json_string_value(j));
		if (!ev)
			return fail(d, "unknown value \"%.64s\" of enum %s", json_string_value(j),
				    desc->name);
		*(int32_t *)dst = ev->value;
		return 0;
	}
	if (!json_is_number(j))
		return type_error(d, "an enum name or number", j);
	return decode_integer(d, PROTOBUF_C_TYPE_ENUM, j, dst);
}

static int decode_string(decoder *d, const json_t *j, void *dst)
{
	if (!json_is_string(j))
		return type_error(d, "a string", j);
	const char *s = json_string_value(j);
	size_t len = json_string_length(j);
	if (strlen(s) != len)
		return fail(d, "string contains a NUL character");
	*(char **)dst = cr_xstrndup(s, len);
	return 0;
}

static int decode_bytes(decoder *d, const json_t *j, void *dst)
{
	if (!json_is_string(j))
		return type_error(d, "a base64 string", j);
	ProtobufCBinaryData *bd = dst;
	uint8_t *data;
	size_t len;
	if (pbjson_base64_decode(json_string_value(j), json_string_length(j), &data, &len) < 0)
		return fail(d, "invalid base64");
	bd->data = data;
	bd->len = len;
	return 0;
}

/* One value of field `f` (an element, for repeated fields) into `dst`,
 * which is written only on success. */
static int decode_value(decoder *d, const ProtobufCFieldDescriptor *f, const json_t *j, void *dst)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: return decode_floating(d, f->type, j, dst);
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(j))
			return type_error(d, "a boolean", j);
		*(protobuf_c_boolean *)dst = json_is_true(j);
		return 0;
	case PROTOBUF_C_TYPE_ENUM: return decode_enum(d, f->descriptor, j, dst);
	case PROTOBUF_C_TYPE_STRING: return decode_string(d, j, dst);
	case PROTOBUF_C_TYPE_BYTES: return decode_bytes(d, j, dst);
	case PROTOBUF_C_TYPE_MESSAGE: return decode_message(d, f->descriptor, j, dst);
	default: return decode_integer(d, f->type, j, dst);
	}
}

/* A proto2-style optional scalar records its presence in has_<name>. */
static void mark_present(ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
	    f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
		*(protobuf_c_boolean *)pbjson_member(msg, f->quantifier_offset) = 1;
}

/* A map key (always a JSON string) as the key field's type. Integers must be
 * canonical decimals (no "-0", no leading zeros) so that two JSON keys never
 * name the same map entry. */
static int decode_map_key(decoder *d, const ProtobufCFieldDescriptor *kf, const char *key, void *dst)
{
	bool negative;
	uint64_t magnitude;
	switch (kf->type) {
	case PROTOBUF_C_TYPE_STRING: *(char **)dst = cr_xstrdup(key); return 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
			return fail(d, "map key must be \"true\" or \"false\"");
		*(protobuf_c_boolean *)dst = key[0] == 't';
		return 0;
	default:
		if (!pbjson_parse_decimal(key, strlen(key), &negative, &magnitude) ||
		    (negative && magnitude == 0))
			return fail(d, "map key must be a decimal %s", proto_type_name(kf->type));
		return store_integer(d, kf->type, negative, magnitude, dst);
	}
}

static int decode_map_entry(decoder *d, const ProtobufCMessageDescriptor *entry_desc, const char *key,
			    const json_t *value, ProtobufCMessage **out)
{
	const ProtobufCFieldDescriptor *kf = &entry_desc->fields[0], *vf = &entry_desc->fields[1];
	if (json_is_null(value))
		return fail(d, "map values cannot be null");
	ProtobufCMessage *entry = cr_xmalloc(entry_desc->sizeof_message);
	protobuf_c_message_init(entry_desc, entry);
	if (decode_map_key(d, kf, key, pbjson_member(entry, kf->offset)) < 0 ||
	    decode_value(d, vf, value, pbjson_member(entry, vf->offset)) < 0) {
		protobuf_c_message_free_unpacked(entry, NULL);
		return -1;
	}
	mark_present(entry, kf);
	mark_present(entry, vf);
	*out = entry;
	return 0;
}

/* Elements are counted in n_<field> as they are stored, so a failure midway
 * leaves an array that free_unpacked releases exactly. */
static int decode_map(decoder *d, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
		      const json_t *value)
{
	if (!json_is_object(value))
		return type_error(d, "an object (a map)", value);
	size_t n = json_object_size(value);
	if (n > CR_PBJSON_MAX_ELEMENTS)
		return fail(d, "map has more than %u entries", CR_PBJSON_MAX_ELEMENTS);
	if (n == 0)
		return 0;
	size_t *count = pbjson_member(msg, f->quantifier_offset);
	ProtobufCMessage ***entries = pbjson_member(msg, f->offset);
	*entries = cr_xcalloc(n, sizeof(ProtobufCMessage *));
	const char *key;
	json_t *v;
	json_object_foreach ((json_t *)value, key, v) {
		size_t old = pbjson_path_map_key(&d->path, key);
		if (decode_map_entry(d, f->descriptor, key, v, &(*entries)[*count]) < 0)
			return -1;
		(*count)++;
		pbjson_path_pop(&d->path, old);
	}
	return 0;
}

static int decode_repeated(decoder *d, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
			   const json_t *value)
{
	if (pbjson_is_map_field(f))
		return decode_map(d, msg, f, value);
	if (!json_is_array(value))
		return type_error(d, "an array", value);
	size_t n = json_array_size(value), size = pbjson_elem_size(f->type);
	if (n > CR_PBJSON_MAX_ELEMENTS)
		return fail(d, "list has more than %u elements", CR_PBJSON_MAX_ELEMENTS);
	if (n == 0)
		return 0;
	size_t *count = pbjson_member(msg, f->quantifier_offset);
	char **array = pbjson_member(msg, f->offset);
	*array = cr_xcalloc(n, size);
	for (size_t i = 0; i < n; i++) {
		size_t old = pbjson_path_index(&d->path, i);
		const json_t *el = json_array_get(value, i);
		if (json_is_null(el))
			return fail(d, "list elements cannot be null");
		if (decode_value(d, f, el, *array + i * size) < 0)
			return -1;
		(*count)++;
		pbjson_path_pop(&d->path, old);
	}
	return 0;
}

static const ProtobufCFieldDescriptor *find_field(const ProtobufCMessageDescriptor *desc, const char *key)
{
	for (unsigned i = 0; i < desc->n_fields; i++)
		if (pbjson_name_matches(desc->fields[i].name, key))
			return &desc->fields[i];
	return NULL;
}

/* A oneof member; its case field must still be unset. */
static int decode_oneof(decoder *d, ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
			const json_t *value)
{
	uint32_t *oneof_case = pbjson_member(msg, f->quantifier_offset);
	if (*oneof_case != 0) {
		const ProtobufCFieldDescriptor *other =
			protobuf_c_message_descriptor_get_field(msg->descriptor, *oneof_case);
		cleanup_free char *other_name = pbjson_json_name(other ? other->name : "?");
		return fail(d, "oneof member conflicts with \"%s\", already set", other_name);
	}
	if (decode_value(d, f, value, pbjson_member(msg, f->offset)) < 0)
		return -1;
	*oneof_case = f->id;
	return 0;
}

static int decode_member(decoder *d, ProtobufCMessage *msg, bool *seen, const char *key, const json_t *value)
{
	const ProtobufCFieldDescriptor *f = find_field(msg->descriptor, key);
	if (!f)
		return fail(d, "unknown field");
	size_t index = (size_t)(f - msg->descriptor->fields);
	if (seen[index])
		return fail(d, "duplicate field (\"%s\" is given under both its names)", f->name);
	seen[index] = true;
	if (json_is_null(value))
		return 0;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return decode_repeated(d, msg, f, value);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return decode_oneof(d, msg, f, value);
	if (decode_value(d, f, value, pbjson_member(msg, f->offset)) < 0)
		return -1;
	mark_present(msg, f);
	return 0;
}

static int decode_fields(decoder *d, ProtobufCMessage *msg, const json_t *j)
{
	if (!json_is_object(j))
		return fail(d, "expected an object (%s), got %s", msg->descriptor->name, json_kind(j));
	cleanup_free bool *seen = cr_xcalloc(msg->descriptor->n_fields, sizeof(bool));
	const char *key;
	json_t *value;
	json_object_foreach ((json_t *)j, key, value) {
		size_t old = pbjson_path_key(&d->path, key);
		if (decode_member(d, msg, seen, key, value) < 0)
			return -1;
		pbjson_path_pop(&d->path, old);
	}
	return 0;
}

static int decode_timestamp(decoder *d, ProtobufCMessage *msg, const json_t *j)
{
	if (!json_is_string(j))
		return type_error(d, "an RFC 3339 timestamp string", j);
	int64_t seconds;
	int32_t nanos;
	if (pbjson_timestamp_parse(json_string_value(j), json_string_length(j), &seconds, &nanos) < 0)
		return fail(d,
			    "invalid timestamp \"%.40s\": expected RFC 3339 like 2026-11-24T18:00:00Z, "
			    "years 0001..9999",
			    json_string_value(j));
	const ProtobufCFieldDescriptor *sf =
		protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "seconds");
	const ProtobufCFieldDescriptor *nf =
		protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "nanos");
	if (!sf || !nf || sf->type != PROTOBUF_C_TYPE_INT64 || nf->type != PROTOBUF_C_TYPE_INT32)
		return fail(d, "descriptor %s lacks int64 seconds and int32 nanos", msg->descriptor->name);
	*(int64_t *)pbjson_member(msg, sf->offset) = seconds;
	*(int32_t *)pbjson_member(msg, nf->offset) = nanos;
	return 0;
}

/* A new message of type `desc` in *out, written only on success. */
static int decode_message(decoder *d, const ProtobufCMessageDescriptor *desc, const json_t *j,
			  ProtobufCMessage **out)
{
	if (d->depth >= CR_PBJSON_MAX_DEPTH)
		return fail(d, "messages nested deeper than %d", CR_PBJSON_MAX_DEPTH);
	ProtobufCMessage *msg = cr_xmalloc(desc->sizeof_message);
	protobuf_c_message_init(desc, msg);
	d->depth++;
	int rc = pbjson_is_timestamp(desc) ? decode_timestamp(d, msg, j) : decode_fields(d, msg, j);
	d->depth--;
	if (rc < 0) {
		protobuf_c_message_free_unpacked(msg, NULL);
		return -1;
	}
	*out = msg;
	return 0;
}

int cr_pbjson_decode(const ProtobufCMessageDescriptor *desc, const json_t *json, ProtobufCMessage **out,
		     cr_error **err)
{
	decoder d = {.err = err};
	if (!desc || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
				     "decode JSON message: not a message descriptor");
	if (!json)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "expected a JSON value (%s)",
				     desc->name);
	return decode_message(&d, desc, json, out);
}
