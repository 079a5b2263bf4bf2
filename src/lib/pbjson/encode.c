/* SPDX-License-Identifier: Apache-2.0 */
/* encode.c -- protobuf-c message to proto3 JSON, driven by its descriptor.
 *
 * A field is emitted exactly when protobuf_c_message_pack() would write it
 * (implicit-presence fields when not zero, oneof members when selected,
 * proto2 optionals when their has_ flag is set, message fields when not NULL),
 * so the JSON and binary codecs agree on what a message contains. */
#include "pbjson/internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

typedef struct encoder {
	pbjson_path path;
	cr_error **err;
	int depth;
} encoder;

static json_t *encode_message(encoder *e, const ProtobufCMessage *msg);

static json_t *oom(encoder *e)
{
	pbjson_fail(e->err, CR_REASON_INTERNAL, &e->path, "out of memory building JSON");
	return NULL;
}

static json_t *encode_float(double v, bool single)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	if (!single)
		return json_real(v);
	/* The double nearest to the float's shortest text, so that "0.1" and
	 * not "0.10000000149011612" is printed, unless that double would not
	 * read back as the same float. */
	char text[32];
	pbjson_float_text((float)v, text, sizeof(text));
	double shortest = strtod(text, NULL);
	return json_real((float)shortest == (float)v ? shortest : v);
}

static json_t *encode_enum(const ProtobufCEnumDescriptor *desc, int value)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(desc, value);
	return ev ? json_string(ev->name) : json_integer(value);
}

static json_t *encode_text(encoder *e, const char *s)
{
	json_t *j = json_string(s ? s : "");
	if (!j)
		pbjson_fail(e->err, CR_REASON_INTERNAL, &e->path, "string is not valid UTF-8");
	return j;
}

static json_t *encode_bytes(const ProtobufCBinaryData *bd)
{
	cleanup_free char *b64 = pbjson_base64_encode(bd->data, bd->len);
	return json_string(b64);
}

static json_t *encode_decimal(bool negative, uint64_t magnitude)
{
	char text[24];
	snprintf(text, sizeof(text), "%s%llu", negative ? "-" : "", (unsigned long long)magnitude);
	return json_string(text);
}

/* One value of a field (an element, for repeated fields) stored at `p`. */
static json_t *encode_value(encoder *e, const ProtobufCFieldDescriptor *f, const void *p)
{
	json_t *j;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: j = json_integer(*(const int32_t *)p); break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: j = json_integer(*(const uint32_t *)p); break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64: {
		int64_t v = *(const int64_t *)p;
		j = encode_decimal(v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
		break;
	}
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: j = encode_decimal(false, *(const uint64_t *)p); break;
	case PROTOBUF_C_TYPE_FLOAT: j = encode_float(*(const float *)p, true); break;
	case PROTOBUF_C_TYPE_DOUBLE: j = encode_float(*(const double *)p, false); break;
	case PROTOBUF_C_TYPE_BOOL: j = json_boolean(*(const protobuf_c_boolean *)p); break;
	case PROTOBUF_C_TYPE_ENUM: j = encode_enum(f->descriptor, *(const int *)p); break;
	case PROTOBUF_C_TYPE_STRING: return encode_text(e, *(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES: j = encode_bytes(p); break;
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
		if (sub)
			return encode_message(e, sub);
		/* A NULL map value or repeated element: the empty message. */
		ProtobufCMessage *empty =
			cr_xcalloc(1, ((const ProtobufCMessageDescriptor *)f->descriptor)->sizeof_message);
		protobuf_c_message_init(f->descriptor, empty);
		j = encode_message(e, empty);
		free(empty);
		return j;
	}
	default:
		pbjson_fail(e->err, CR_REASON_INTERNAL, &e->path, "unsupported field type %d", (int)f->type);
		return NULL;
	}
	return j ? j : oom(e);
}

/* Map keys are JSON object keys: strings as they are, integers in decimal,
 * booleans as "true"/"false". */
static json_t *map_key_text(encoder *e, const ProtobufCFieldDescriptor *kf, const void *p)
{
	switch (kf->type) {
	case PROTOBUF_C_TYPE_STRING: return encode_text(e, *(char *const *)p);
	case PROTOBUF_C_TYPE_BOOL: return json_string(*(const protobuf_c_boolean *)p ? "true" : "false");
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: return encode_decimal(false, *(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: {
		int64_t v = *(const int32_t *)p;
		return encode_decimal(v < 0, (uint64_t)(v < 0 ? -v : v));
	}
	default: return encode_value(e, kf, p); /* 64-bit integers are decimal strings already */
	}
}

static json_t *encode_map(encoder *e, const ProtobufCFieldDescriptor *f, ProtobufCMessage *const *entries,
			  size_t n)
{
	const ProtobufCMessageDescriptor *entry_desc = f->descriptor;
	const ProtobufCFieldDescriptor *kf = &entry_desc->fields[0], *vf = &entry_desc->fields[1];
	json_t *obj = json_object();
	for (size_t i = 0; obj && i < n; i++) {
		json_t *key = map_key_text(e, kf, pbjson_member(entries[i], kf->offset));
		if (!key || !json_is_string(key)) {
			if (key)
				pbjson_fail(e->err, CR_REASON_INTERNAL, &e->path, "unsupported map key type");
			json_decref(key);
			json_decref(obj);
			return NULL;
		}
		size_t old = pbjson_path_map_key(&e->path, json_string_value(key));
		json_t *value = encode_value(e, vf, pbjson_member(entries[i], vf->offset));
		pbjson_path_pop(&e->path, old);
		if (!value || json_object_set_new(obj, json_string_value(key), value) < 0) {
			json_decref(key);
			json_decref(obj);
			return value ? oom(e) : NULL;
		}
		json_decref(key);
	}
	return obj ? obj : oom(e);
}

static json_t *encode_repeated(encoder *e, const ProtobufCFieldDescriptor *f, const void *array, size_t n)
{
	if (pbjson_is_map_field(f))
		return encode_map(e, f, array, n);
	size_t size = pbjson_elem_size(f->type);
	json_t *arr = json_array();
	for (size_t i = 0; arr && i < n; i++) {
		size_t old = pbjson_path_index(&e->path, i);
		json_t *v = encode_value(e, f, (const char *)array + i * size);
		pbjson_path_pop(&e->path, old);
		if (!v || json_array_append_new(arr, v) < 0) {
			json_decref(arr);
			return v ? oom(e) : NULL;
		}
	}
	return arr ? arr : oom(e);
}

/* Whether protobuf_c_message_pack() would write this field. */
static bool field_present(const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	const void *p = pbjson_member(msg, f->offset);
	bool pointer = f->type == PROTOBUF_C_TYPE_STRING || f->type == PROTOBUF_C_TYPE_MESSAGE;
	const void *ptr = pointer ? *(const void *const *)p : NULL;
	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return *(const size_t *)pbjson_member(msg, f->quantifier_offset) > 0;
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		if (*(const uint32_t *)pbjson_member(msg, f->quantifier_offset) != f->id)
			return false;
		return !pointer || (ptr && ptr != f->default_value);
	}
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
		if (pointer)
			return ptr && ptr != f->default_value;
		return *(const protobuf_c_boolean *)pbjson_member(msg, f->quantifier_offset);
	}
	if (f->label == PROTOBUF_C_LABEL_REQUIRED)
		return !pointer || ptr;
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: return ptr && *(const char *)ptr;
	case PROTOBUF_C_TYPE_MESSAGE: return ptr != NULL;
	case PROTOBUF_C_TYPE_BYTES: return ((const ProtobufCBinaryData *)p)->len > 0;
	case PROTOBUF_C_TYPE_FLOAT: return *(const float *)p != 0;
	case PROTOBUF_C_TYPE_DOUBLE: return *(const double *)p != 0;
	case PROTOBUF_C_TYPE_BOOL: return *(const protobuf_c_boolean *)p != 0;
	default:
		return pbjson_elem_size(f->type) == 8 ? *(const uint64_t *)p != 0 : *(const uint32_t *)p != 0;
	}
}

static json_t *encode_field(encoder *e, const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f)
{
	const void *p = pbjson_member(msg, f->offset);
	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return encode_value(e, f, p);
	size_t n = *(const size_t *)pbjson_member(msg, f->quantifier_offset);
	return encode_repeated(e, f, *(void *const *)p, n);
}

static json_t *encode_timestamp(encoder *e, const ProtobufCMessage *msg)
{
	const ProtobufCFieldDescriptor *sf =
		protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "seconds");
	const ProtobufCFieldDescriptor *nf =
		protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "nanos");
	int64_t seconds = sf ? *(const int64_t *)pbjson_member(msg, sf->offset) : 0;
	int32_t nanos = nf ? *(const int32_t *)pbjson_member(msg, nf->offset) : 0;
	char text[40];
	if (pbjson_timestamp_format(seconds, nanos, text) < 0) {
		pbjson_fail(e->err, CR_REASON_INTERNAL, &e->path,
			    "timestamp out of range (seconds %lld, nanos %d): years 1..9999 only",
			    (long long)seconds, (int)nanos);
		return NULL;
	}
	json_t *j = json_string(text);
	return j ? j : oom(e);
}

static json_t *encode_fields(encoder *e, const ProtobufCMessage *msg)
{
	const ProtobufCMessageDescriptor *desc = msg->descriptor;
	json_t *obj = json_object();
	for (unsigned i = 0; obj && i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		if (!field_present(msg, f))
			continue;
		cleanup_free char *name = pbjson_json_name(f->name);
		size_t old = pbjson_path_key(&e->path, name);
		json_t *v = encode_field(e, msg, f);
		pbjson_path_pop(&e->path, old);
		if (!v || json_object_set_new(obj, name, v) < 0) {
			json_decref(obj);
			return v ? oom(e) : NULL;
		}
	}
	return obj ? obj : oom(e);
}

static json_t *encode_message(encoder *e, const ProtobufCMessage *msg)
{
	if (e->depth >= CR_PBJSON_MAX_DEPTH) {
		pbjson_fail(e->err, CR_REASON_INTERNAL, &e->path, "messages nested deeper than %d",
			    CR_PBJSON_MAX_DEPTH);
		return NULL;
	}
	e->depth++;
	json_t *j = pbjson_is_timestamp(msg->descriptor) ? encode_timestamp(e, msg) : encode_fields(e, msg);
	e->depth--;
	return j;
}

json_t *cr_pbjson_encode(const ProtobufCMessage *msg, cr_error **err)
{
	encoder e = {.err = err};
	if (!msg || !msg->descriptor || msg->descriptor->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC) {
		cr_error_make(err, EINVAL, CR_REASON_INTERNAL,
			      "encode message as JSON: not a protobuf-c message");
		return NULL;
	}
	return encode_message(&e, msg);
}
