/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_pbjson.c -- libFuzzer target for the proto3-JSON decoder.
 *
 * Request bodies of the Connect JSON codec come from any client, so the
 * decoder must survive any text. The input is decoded against the test
 * schema's top message (tests/unit/proto/pbjson_test.proto: every field
 * type, maps, a oneof, Timestamp, proto2 presence); whatever decodes must
 * encode, decode again, and pack to the same bytes -- the codec's round-trip
 * property -- and the second encoding must equal the first. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pbjson/pbjson.h"
#include "pbjson_test.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(*len + 1);
	if (!buf || protobuf_c_message_pack(msg, buf) != *len)
		abort();
	return buf;
}

static void round_trip(const ProtobufCMessage *msg)
{
	size_t text_len, len1, len2;
	char *text = cr_pbjson_encode_text(msg, &text_len, NULL);
	ProtobufCMessage *back = NULL;
	if (!text || cr_pbjson_decode_text(msg->descriptor, text, text_len, SIZE_MAX, &back, NULL) != 0)
		abort();
	uint8_t *a = pack(msg, &len1), *b = pack(back, &len2);
	if (len1 != len2 || memcmp(a, b, len1) != 0)
		abort();
	char *again = cr_pbjson_encode_text(back, NULL, NULL);
	if (!again || strcmp(again, text) != 0)
		abort();
	free(again);
	free(a);
	free(b);
	free(text);
	protobuf_c_message_free_unpacked(back, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ProtobufCMessage *msg = NULL;
	cr_error *err = NULL;
	if (cr_pbjson_decode_text(&cleanroom__test__pbjson__everything__descriptor, (const char *)data, size,
				  1 << 20, &msg, &err) == 0) {
		round_trip(msg);
		protobuf_c_message_free_unpacked(msg, NULL);
	} else if (!err || !err->msg || msg) {
		abort();
	}
	cr_error_free(err);
	return 0;
}
