/* SPDX-License-Identifier: Apache-2.0 */
/* test_pbjson.c -- the proto3-JSON codec against the test schema
 * (tests/unit/proto/pbjson_test.proto): every scalar type both ways with edge
 * values, base64 variants, enums, repeated fields, maps of every key kind,
 * nested messages, oneofs, Timestamps, default omission, proto2 presence,
 * error paths, caps, and round trips checked on protobuf_c_message_pack
 * bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include <cmocka.h>

#include "pbjson/pbjson.h"
#include "pbjson_test.pb-c.h"
#include "util/buf.h"

typedef Cleanroom__Test__Pbjson__Everything Everything;
typedef Cleanroom__Test__Pbjson__Inner Inner;
typedef Cleanroom__Test__Pbjson__Legacy Legacy;
typedef Google__Protobuf__Timestamp Timestamp;

#define EVERYTHING (&cleanroom__test__pbjson__everything__descriptor)
#define INNER      (&cleanroom__test__pbjson__inner__descriptor)
#define MAX_BYTES  (1u << 20)

static ProtobufCMessage *decode_as(const ProtobufCMessageDescriptor *desc, const char *json)
{
	ProtobufCMessage *msg = NULL;
	cr_error *err = NULL;
	if (cr_pbjson_decode_text(desc, json, strlen(json), MAX_BYTES, &msg, &err) < 0) {
		fprintf(stderr, "decode %s: %s\n", json, err->msg);
		cr_error_free(err);
		fail();
	}
	return msg;
}

static Everything *decode_ok(const char *json)
{
	return (Everything *)decode_as(EVERYTHING, json);
}

/* Decoding must fail; returns the message (caller frees). */
static char *decode_err_as(const ProtobufCMessageDescriptor *desc, const char *json)
{
	ProtobufCMessage *msg = NULL;
	cr_error *err = NULL;
	if (cr_pbjson_decode_text(desc, json, strlen(json), MAX_BYTES, &msg, &err) == 0) {
		fprintf(stderr, "decode %s: unexpectedly succeeded\n", json);
		protobuf_c_message_free_unpacked(msg, NULL);
		fail();
	}
	assert_null(msg);
	assert_int_equal(err->reason, CR_REASON_USAGE_INVALID);
	char *text = strdup(err->msg);
	cr_error_free(err);
	return text;
}

static void assert_decode_error(const char *json, const char *expected)
{
	char *msg = decode_err_as(EVERYTHING, json);
	if (!strstr(msg, expected)) {
		fprintf(stderr, "decode %s: error \"%s\" lacks \"%s\"\n", json, msg, expected);
		free(msg);
		fail();
	}
	free(msg);
}

static char *encode(const void *msg)
{
	cr_error *err = NULL;
	char *text = cr_pbjson_encode_text(msg, NULL, &err);
	if (!text) {
		fprintf(stderr, "encode: %s\n", err->msg);
		cr_error_free(err);
		fail();
	}
	return text;
}

static void assert_encodes(const void *msg, const char *expected)
{
	char *text = encode(msg);
	assert_string_equal(text, expected);
	free(text);
}

/* decode(json) then encode gives exactly `canonical`. */
static void assert_reencodes_as(const ProtobufCMessageDescriptor *desc, const char *json,
				const char *canonical)
{
	ProtobufCMessage *msg = decode_as(desc, json);
	assert_encodes(msg, canonical);
	protobuf_c_message_free_unpacked(msg, NULL);
}

static void assert_reencodes(const char *json, const char *canonical)
{
	assert_reencodes_as(EVERYTHING, json, canonical);
}

static uint8_t *pack(const ProtobufCMessage *msg, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(*len + 1);
	assert_int_equal(protobuf_c_message_pack(msg, buf), *len);
	return buf;
}

/* encode, decode again, and compare the binary encodings. */
static void assert_round_trip(const ProtobufCMessage *msg)
{
	size_t len1, len2, text_len;
	char *text = encode(msg);
	ProtobufCMessage *back = decode_as(msg->descriptor, text);
	uint8_t *a = pack(msg, &len1), *b = pack(back, &len2);
	text_len = strlen(text);
	if (len1 != len2 || memcmp(a, b, len1) != 0) {
		fprintf(stderr, "round trip differs (%zu vs %zu bytes) through %.*s\n", len1, len2,
			(int)text_len, text);
		fail();
	}
	free(a);
	free(b);
	free(text);
	protobuf_c_message_free_unpacked(back, NULL);
}

static void test_scalars_encode(void **state)
{
	(void)state;
	Everything m = CLEANROOM__TEST__PBJSON__EVERYTHING__INIT;
	uint8_t raw[] = {0x00, 0x01, 0xff, 0xfe};
	m.f_int32 = -5;
	m.f_int64 = INT64_MIN;
	m.f_uint32 = UINT32_MAX;
	m.f_uint64 = UINT64_MAX;
	m.f_sint32 = INT32_MIN;
	m.f_sint64 = INT64_MAX;
	m.f_fixed32 = 7;
	m.f_fixed64 = 8;
	m.f_sfixed32 = -9;
	m.f_sfixed64 = -10;
	m.f_float = 0.1f;
	m.f_double = 2.5;
	m.f_bool = 1;
	m.f_string = "h\xc3\xa9llo \"q\"\n\x01";
	m.f_bytes = (ProtobufCBinaryData){sizeof(raw), raw};
	m.f_color = CLEANROOM__TEST__PBJSON__COLOR__COLOR_RED;
	assert_encodes(&m,
		       "{\"fInt32\":-5,\"fInt64\":\"-9223372036854775808\",\"fUint32\":4294967295,"
		       "\"fUint64\":\"18446744073709551615\",\"fSint32\":-2147483648,"
		       "\"fSint64\":\"9223372036854775807\",\"fFixed32\":7,\"fFixed64\":\"8\","
		       "\"fSfixed32\":-9,\"fSfixed64\":\"-10\",\"fFloat\":0.1,\"fDouble\":2.5,\"fBool\":true,"
		       "\"fString\":\"h\xc3\xa9llo \\\"q\\\"\\n\\u0001\",\"fBytes\":\"AAH//g==\","
		       "\"fColor\":\"COLOR_RED\"}");
	assert_round_trip(&m.base);
}

static void test_scalars_decode(void **state)
{
	(void)state;
	Everything *m =
		decode_ok("{\"fInt32\":-5,\"fInt64\":\"-9223372036854775808\",\"fUint32\":4294967295,"
			  "\"fUint64\":\"18446744073709551615\",\"fSint32\":-2147483648,"
			  "\"fSint64\":9223372036854775807,\"fFixed32\":\"7\",\"fFixed64\":8,"
			  "\"fSfixed32\":-9,\"fSfixed64\":\"-10\",\"fFloat\":0.1,\"fDouble\":\"2.5\","
			  "\"fBool\":true,\"fString\":\"h\\u00e9\",\"fBytes\":\"AAH//g==\",\"fColor\":1}");
	assert_int_equal(m->f_int32, -5);
	assert_true(m->f_int64 == INT64_MIN);
	assert_int_equal(m->f_uint32, UINT32_MAX);
	assert_true(m->f_uint64 == UINT64_MAX);
	assert_int_equal(m->f_sint32, INT32_MIN);
	assert_true(m->f_sint64 == INT64_MAX);
	assert_int_equal(m->f_fixed32, 7);
	assert_int_equal(m->f_fixed64, 8);
	assert_int_equal(m->f_sfixed32, -9);
	assert_int_equal(m->f_sfixed64, -10);
	assert_true(m->f_float == 0.1f);
	assert_true(m->f_double == 2.5);
	assert_true(m->f_bool);
	assert_string_equal(m->f_string, "h\xc3\xa9");
	assert_int_equal(m->f_bytes.len, 4);
	assert_memory_equal(m->f_bytes.data, "\x00\x01\xff\xfe", 4);
	assert_int_equal(m->f_color, CLEANROOM__TEST__PBJSON__COLOR__COLOR_RED);
	protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void test_integer_forms(void **state)
{
	(void)state;
	/* Strings for 32-bit, numbers for 64-bit, exponents and integral reals. */
	assert_reencodes("{\"fInt32\":\"-7\",\"fUint32\":\"1e3\",\"fInt64\":1.0e2,\"fUint64\":\"0\","
			 "\"fSint32\":2.0,\"fSfixed64\":\"-9223372036854775808\"}",
			 "{\"fInt32\":-7,\"fInt64\":\"100\",\"fUint32\":1000,\"fSint32\":2,"
			 "\"fSfixed64\":\"-9223372036854775808\"}");
	assert_reencodes("{\"fUint32\":\"-0\",\"fInt32\":-0}", "{}");
	assert_decode_error("{\"fInt32\":2147483648}", "fInt32: value out of range for int32");
	assert_decode_error("{\"fInt32\":-2147483649}", "value out of range for int32");
	assert_decode_error("{\"fSint32\":\"-2147483649\"}", "fSint32: value out of range for sint32");
	assert_decode_error("{\"fUint32\":-1}", "fUint32: value out of range for uint32");
	assert_decode_error("{\"fFixed32\":4294967296}", "out of range for fixed32");
	assert_decode_error("{\"fInt64\":\"9223372036854775808\"}", "out of range for int64");
	assert_decode_error("{\"fInt64\":\"-9223372036854775809\"}", "out of range for int64");
	assert_decode_error("{\"fUint64\":\"18446744073709551616\"}", "fUint64: integer out of range");
	assert_decode_error("{\"fUint64\":\"-1\"}", "out of range for uint64");
	assert_decode_error("{\"fInt32\":1.5}", "fInt32: expected an integer, got 1.5");
	assert_decode_error("{\"fInt32\":\"1.5\"}", "expected an integer");
	assert_decode_error("{\"fInt32\":\"abc\"}",
			    "fInt32: expected an integer, got a string that is not a number");
	assert_decode_error("{\"fInt32\":\" 1\"}", "not a number");
	assert_decode_error("{\"fInt32\":\"01\"}", "not a number");
	assert_decode_error("{\"fInt64\":true}", "fInt64: expected an integer, got a boolean");
	assert_decode_error("{\"fInt32\":1e300}", "integer out of range");
}

static void test_float_specials(void **state)
{
	(void)state;
	Everything m = CLEANROOM__TEST__PBJSON__EVERYTHING__INIT;
	float rf[] = {NAN, INFINITY, -INFINITY, -0.0f, 3.4028235e38f, 1e-45f};
	double rd[] = {NAN, INFINITY, -INFINITY, 0.1, -0.0, 1e300, 5e-324};
	m.n_r_float = sizeof(rf) / sizeof(rf[0]);
	m.r_float = rf;
	m.n_r_double = sizeof(rd) / sizeof(rd[0]);
	m.r_double = rd;
	assert_encodes(&m, "{\"rFloat\":[\"NaN\",\"Infinity\",\"-Infinity\",-0.0,3.4028235e+38,1e-45],"
			   "\"rDouble\":[\"NaN\",\"Infinity\",\"-Infinity\",0.1,-0.0,1e+300,5e-324]}");
	assert_round_trip(&m.base);
	Everything *d =
		decode_ok("{\"fFloat\":\"-Infinity\",\"fDouble\":\"NaN\",\"rFloat\":[1,\"2.5\",3.4028235e38],"
			  "\"rDouble\":[\"Infinity\",\"-1e-3\"]}");
	assert_true(isinf(d->f_float) && d->f_float < 0);
	assert_true(isnan(d->f_double));
	assert_true(d->r_float[0] == 1.0f && d->r_float[1] == 2.5f && d->r_float[2] == 3.4028235e38f);
	assert_true(isinf(d->r_double[0]) && d->r_double[1] == -1e-3);
	protobuf_c_message_free_unpacked(&d->base, NULL);
	assert_decode_error("{\"fFloat\":1e39}", "fFloat: number out of range for float");
	assert_decode_error("{\"fFloat\":-3.5e38}", "out of range for float");
	assert_decode_error("{\"fDouble\":\"1e400\"}", "fDouble: number out of range for double");
	assert_decode_error("{\"fDouble\":\"nan\"}", "not a number");
	assert_decode_error("{\"fDouble\":\"0x10\"}", "not a number");
	assert_decode_error("{\"fDouble\":[]}", "fDouble: expected a number, got an array");
}

static void test_bytes_base64(void **state)
{
	(void)state;
	/* 0xfb 0xff 0xbf: "+/+/" in the standard alphabet, "-_-_" URL-safe. */
	const char *forms[] = {"+/+/", "-_-_", "+_-/"};
	for (size_t i = 0; i < 3; i++) {
		char json[64];
		snprintf(json, sizeof(json), "{\"fBytes\":\"%s\"}", forms[i]);
		assert_reencodes(json, "{\"fBytes\":\"+/+/\"}");
	}
	assert_reencodes("{\"fBytes\":\"YQ==\",\"rBytes\":[\"YQ\",\"YWI\",\"YWI=\",\"\",\"YWJj\"]}",
			 "{\"fBytes\":\"YQ==\",\"rBytes\":[\"YQ==\",\"YWI=\",\"YWI=\",\"\",\"YWJj\"]}");
	assert_reencodes("{\"fBytes\":\"\"}", "{}");
	assert_decode_error("{\"fBytes\":\"Y\"}", "fBytes: invalid base64");
	assert_decode_error("{\"fBytes\":\"YQ=\"}", "invalid base64");
	assert_decode_error("{\"fBytes\":\"Y Q==\"}", "invalid base64");
	assert_decode_error("{\"fBytes\":\"=\"}", "invalid base64");
	assert_decode_error("{\"rBytes\":[\"YQ\",\"*\"]}", "rBytes[1]: invalid base64");
	assert_decode_error("{\"fBytes\":1}", "fBytes: expected a base64 string, got an integer");
}

static void test_enums(void **state)
{
	(void)state;
	assert_reencodes(
		"{\"fColor\":\"COLOR_GREEN\",\"rColor\":[1,\"COLOR_NEGATIVE\",-1,0,7,\"COLOR_UNSPECIFIED\"]}",
		"{\"fColor\":\"COLOR_GREEN\",\"rColor\":[\"COLOR_RED\",\"COLOR_NEGATIVE\",\"COLOR_NEGATIVE\","
		"\"COLOR_UNSPECIFIED\",7,\"COLOR_UNSPECIFIED\"]}");
	assert_reencodes("{\"fColor\":\"COLOR_UNSPECIFIED\"}", "{}");
	assert_reencodes("{\"fColor\":42}", "{\"fColor\":42}");
	assert_decode_error("{\"fColor\":\"COLOR_PURPLE\"}",
			    "fColor: unknown value \"COLOR_PURPLE\" of enum cleanroom.test.pbjson.Color");
	assert_decode_error("{\"fColor\":\"1\"}", "unknown value \"1\"");
	assert_decode_error("{\"fColor\":true}", "fColor: expected an enum name or number, got a boolean");
	assert_decode_error("{\"fColor\":4294967296}", "out of range for enum");
}

static void test_repeated(void **state)
{
	(void)state;
	assert_reencodes("{\"rInt32\":[1,-2,\"3\"],\"rInt64\":[\"-1\",2],\"rUint32\":[4294967295],"
			 "\"rUint64\":[\"18446744073709551615\"],\"rSint32\":[-1],\"rSint64\":[\"-2\"],"
			 "\"rFixed32\":[3],\"rFixed64\":[\"4\"],\"rSfixed32\":[-5],\"rSfixed64\":[\"-6\"],"
			 "\"rBool\":[true,false],\"rString\":[\"a\",\"\"],\"rInner\":[{},{\"count\":2}],"
			 "\"rTime\":[\"1970-01-01T00:00:00Z\"],\"rFloat\":[],\"rDouble\":null}",
			 "{\"rInt32\":[1,-2,3],\"rInt64\":[\"-1\",\"2\"],\"rUint32\":[4294967295],"
			 "\"rUint64\":[\"18446744073709551615\"],\"rSint32\":[-1],\"rSint64\":[\"-2\"],"
			 "\"rFixed32\":[3],\"rFixed64\":[\"4\"],\"rSfixed32\":[-5],\"rSfixed64\":[\"-6\"],"
			 "\"rBool\":[true,false],\"rString\":[\"a\",\"\"],\"rInner\":[{},{\"count\":2}],"
			 "\"rTime\":[\"1970-01-01T00:00:00Z\"]}");
	assert_decode_error("{\"rInt32\":[1,null]}", "rInt32[1]: list elements cannot be null");
	assert_decode_error("{\"rInt32\":1}", "rInt32: expected an array, got an integer");
	assert_decode_error("{\"rString\":[\"a\",\"b\",3]}", "rString[2]: expected a string, got an integer");
	assert_decode_error("{\"rInner\":[{\"name\":\"x\"},{\"child\":{\"nope\":1}}]}",
			    "rInner[1].child.nope: unknown field");
}

static void test_maps(void **state)
{
	(void)state;
	assert_reencodes(
		"{\"mStringString\":{\"a\":\"b\",\"\":\"empty key\"},\"mStringInt64\":{\"k\":\"-5\"},"
		"\"mInt32Inner\":{\"-2147483648\":{\"name\":\"n\"},\"7\":{}},\"mInt64String\":{\"-"
		"9223372036854775808\":\"x\"},"
		"\"mUint32Bytes\":{\"4294967295\":\"AAE=\"},\"mUint64Color\":{\"18446744073709551615\":"
		"\"COLOR_RED\"},"
		"\"mSint32Double\":{\"-1\":1.5},\"mSint64Float\":{\"2\":\"Infinity\"},\"mFixed32Bool\":{"
		"\"0\":true},"
		"\"mFixed64Uint64\":{\"1\":\"2\"},\"mSfixed32Sint32\":{\"-3\":-4},\"mSfixed64Int32\":{\"5\":"
		"6},"
		"\"mBoolColor\":{\"true\":1,\"false\":0},\"mStringTime\":{\"t\":\"2026-11-24T18:00:00.5+01:"
		"00\"}}",
		"{\"mStringString\":{\"a\":\"b\",\"\":\"empty key\"},\"mStringInt64\":{\"k\":\"-5\"},"
		"\"mInt32Inner\":{\"-2147483648\":{\"name\":\"n\"},\"7\":{}},\"mInt64String\":{\"-"
		"9223372036854775808\":\"x\"},"
		"\"mUint32Bytes\":{\"4294967295\":\"AAE=\"},\"mUint64Color\":{\"18446744073709551615\":"
		"\"COLOR_RED\"},"
		"\"mSint32Double\":{\"-1\":1.5},\"mSint64Float\":{\"2\":\"Infinity\"},\"mFixed32Bool\":{"
		"\"0\":true},"
		"\"mFixed64Uint64\":{\"1\":\"2\"},\"mSfixed32Sint32\":{\"-3\":-4},\"mSfixed64Int32\":{\"5\":"
		"6},"
		"\"mBoolColor\":{\"true\":\"COLOR_RED\",\"false\":\"COLOR_UNSPECIFIED\"},"
		"\"mStringTime\":{\"t\":\"2026-11-24T17:00:00.500Z\"}}");
	Everything *m = decode_ok("{\"mInt32Inner\":{\"3\":{\"count\":4}}}");
	assert_int_equal(m->n_m_int32_inner, 1);
	assert_int_equal(m->m_int32_inner[0]->key, 3);
	assert_int_equal(m->m_int32_inner[0]->value->count, 4);
	protobuf_c_message_free_unpacked(&m->base, NULL);
	assert_decode_error("{\"mInt32Inner\":{\"x\":{}}}",
			    "mInt32Inner[\"x\"]: map key must be a decimal int32");
	assert_decode_error("{\"mInt32Inner\":{\"01\":{}}}", "map key must be a decimal");
	assert_decode_error("{\"mInt32Inner\":{\"-0\":{}}}", "map key must be a decimal");
	assert_decode_error("{\"mInt32Inner\":{\"2147483648\":{}}}", "out of range for int32");
	assert_decode_error("{\"mUint64Color\":{\"-1\":0}}", "out of range for uint64");
	assert_decode_error("{\"mBoolColor\":{\"yes\":1}}", "map key must be \"true\" or \"false\"");
	assert_decode_error("{\"mStringString\":{\"a\":\"b\",\"c\":null}}",
			    "mStringString[\"c\"]: map values cannot be null");
	assert_decode_error("{\"mStringString\":{\"a\":1}}", "mStringString[\"a\"]: expected a string");
	assert_decode_error("{\"mInt32Inner\":{\"1\":{\"cwdd\":1}}}",
			    "mInt32Inner[\"1\"].cwdd: unknown field");
	assert_decode_error("{\"mStringString\":[]}",
			    "mStringString: expected an object (a map), got an array");
}

static void test_nested_and_oneof(void **state)
{
	(void)state;
	assert_reencodes("{\"fInner\":{\"name\":\"a\",\"child\":{\"child\":{\"count\":3}},\"children\":[{"
			 "\"name\":\"b\"}]}}",
			 "{\"fInner\":{\"name\":\"a\",\"child\":{\"child\":{\"count\":3}},\"children\":[{"
			 "\"name\":\"b\"}]}}");
	assert_reencodes("{\"fInner\":{}}", "{\"fInner\":{}}");
	/* A oneof member is present even with its default value. */
	assert_reencodes("{\"oInt64\":0}", "{\"oInt64\":\"0\"}");
	assert_reencodes("{\"oString\":\"\"}", "{\"oString\":\"\"}");
	assert_reencodes("{\"oColor\":\"COLOR_UNSPECIFIED\"}", "{\"oColor\":\"COLOR_UNSPECIFIED\"}");
	assert_reencodes("{\"oBytes\":\"\"}", "{\"oBytes\":\"\"}");
	assert_reencodes("{\"oInner\":{}}", "{\"oInner\":{}}");
	assert_reencodes("{\"oTime\":\"2026-11-24T18:00:00Z\"}", "{\"oTime\":\"2026-11-24T18:00:00Z\"}");
	assert_reencodes("{\"oString\":null,\"oDouble\":-2.25}", "{\"oDouble\":-2.25}");
	Everything *m = decode_ok("{\"o_inner\":{\"name\":\"x\"}}");
	assert_int_equal(m->choice_case, CLEANROOM__TEST__PBJSON__EVERYTHING__CHOICE_O_INNER);
	assert_string_equal(m->o_inner->name, "x");
	protobuf_c_message_free_unpacked(&m->base, NULL);
	assert_decode_error("{\"oString\":\"a\",\"oInt64\":1}",
			    "oInt64: oneof member conflicts with \"oString\"");
	assert_decode_error("{\"oInner\":{\"name\":\"a\"},\"oTime\":\"2026-11-24T18:00:00Z\"}", "conflicts");
	assert_decode_error("{\"fInner\":[]}",
			    "fInner: expected an object (cleanroom.test.pbjson.Inner), got an array");
	assert_decode_error("{\"fInner\":{\"child\":{\"count\":\"x\"}}}",
			    "fInner.child.count: expected an integer");

	Everything e = CLEANROOM__TEST__PBJSON__EVERYTHING__INIT;
	e.choice_case = CLEANROOM__TEST__PBJSON__EVERYTHING__CHOICE_O_DOUBLE;
	e.o_double = 0;
	assert_encodes(&e, "{\"oDouble\":0}");
}

static void test_timestamps(void **state)
{
	(void)state;
	Timestamp t = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	Everything m = CLEANROOM__TEST__PBJSON__EVERYTHING__INIT;
	m.f_time = &t;
	struct {
		int64_t seconds;
		int32_t nanos;
		const char *json;
	} cases[] = {
		{1795543200, 0, "{\"fTime\":\"2026-11-24T18:00:00Z\"}"},
		{1795543200, 123000000, "{\"fTime\":\"2026-11-24T18:00:00.123Z\"}"},
		{1795543200, 123456000, "{\"fTime\":\"2026-11-24T18:00:00.123456Z\"}"},
		{1795543200, 123456789, "{\"fTime\":\"2026-11-24T18:00:00.123456789Z\"}"},
		{1795543200, 1, "{\"fTime\":\"2026-11-24T18:00:00.000000001Z\"}"},
		{0, 0, "{\"fTime\":\"1970-01-01T00:00:00Z\"}"},
		{-1, 999999999, "{\"fTime\":\"1969-12-31T23:59:59.999999999Z\"}"},
		{-62135596800, 0, "{\"fTime\":\"0001-01-01T00:00:00Z\"}"},
		{253402300799, 999999999, "{\"fTime\":\"9999-12-31T23:59:59.999999999Z\"}"},
		{951782400, 0, "{\"fTime\":\"2000-02-29T00:00:00Z\"}"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		t.seconds = cases[i].seconds;
		t.nanos = cases[i].nanos;
		assert_encodes(&m, cases[i].json);
		Everything *d = decode_ok(cases[i].json);
		assert_true(d->f_time->seconds == cases[i].seconds);
		assert_int_equal(d->f_time->nanos, cases[i].nanos);
		protobuf_c_message_free_unpacked(&d->base, NULL);
	}
	assert_reencodes("{\"fTime\":\"2026-11-24T19:30:00.1+01:30\"}",
			 "{\"fTime\":\"2026-11-24T18:00:00.100Z\"}");
	assert_reencodes("{\"fTime\":\"2026-11-24t13:00:00-05:00\"}", "{\"fTime\":\"2026-11-24T18:00:00Z\"}");
	assert_reencodes("{\"fTime\":\"0001-01-01T00:30:00+00:30\"}", "{\"fTime\":\"0001-01-01T00:00:00Z\"}");
	const char *bad[] = {"2026-02-29T00:00:00Z",      "2026-11-24T18:00:60Z",
			     "2026-11-24 18:00:00Z",      "2026-11-24T18:00:00",
			     "0000-12-31T00:00:00Z",      "2026-13-01T00:00:00Z",
			     "2026-11-24T18:00:00.Z",     "2026-11-24T18:00:00.1234567890Z",
			     "2026-11-24T18:00:00+1:00",  "9999-12-31T23:00:00-01:00",
			     "0001-01-01T00:00:00+00:01", "2026-11-24T24:00:00Z",
			     "2026-11-24T18:00:00Zjunk"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[96];
		snprintf(json, sizeof(json), "{\"fTime\":\"%s\"}", bad[i]);
		assert_decode_error(json, "fTime: invalid timestamp");
	}
	assert_decode_error("{\"fTime\":{\"seconds\":1}}",
			    "fTime: expected an RFC 3339 timestamp string, got an object");

	cr_error *err = NULL;
	t.seconds = 253402300800;
	t.nanos = 0;
	assert_null(cr_pbjson_encode(&m.base, &err));
	assert_non_null(strstr(err->msg, "fTime: timestamp out of range"));
	cr_error_free(err);
	err = NULL;
	t.seconds = 0;
	t.nanos = -1;
	assert_null(cr_pbjson_encode(&m.base, &err));
	cr_error_free(err);

	/* A Timestamp at the top is a bare string. */
	ProtobufCMessage *top =
		decode_as(&google__protobuf__timestamp__descriptor, "\"2026-11-24T18:00:00Z\"");
	assert_encodes(top, "\"2026-11-24T18:00:00Z\"");
	protobuf_c_message_free_unpacked(top, NULL);
}

static void test_defaults_omitted(void **state)
{
	(void)state;
	Everything m = CLEANROOM__TEST__PBJSON__EVERYTHING__INIT;
	assert_encodes(&m, "{}");
	assert_reencodes(
		"{\"fInt32\":0,\"fInt64\":\"0\",\"fFloat\":0,\"fDouble\":-0.0,\"fBool\":false,\"fString\":"
		"\"\","
		"\"fBytes\":\"\",\"fColor\":\"COLOR_UNSPECIFIED\",\"rInt32\":[],\"mStringString\":{},"
		"\"httpV2Url\":\"\",\"x9Field\":0}",
		"{}");
	/* null is the default for every kind of field. */
	assert_reencodes(
		"{\"fInt32\":null,\"fInner\":null,\"rInt32\":null,\"mStringString\":null,\"oString\":null,"
		"\"fTime\":null,\"fColor\":null,\"legacy\":null}",
		"{}");
}

static void test_proto2_presence(void **state)
{
	(void)state;
	/* Explicit presence: zero values set with has_ are emitted. */
	assert_reencodes_as(
		&cleanroom__test__pbjson__legacy__descriptor,
		"{\"optInt32\":0,\"optString\":\"\",\"optBytes\":\"\",\"optShade\":\"SHADE_LIGHT\","
		"\"optBool\":false,\"optDouble\":0,\"optUint64\":\"0\",\"optLegacy\":{},\"withDefault\":42,"
		"\"strDefault\":\"abc\",\"packedInts\":[1,2]}",
		"{\"optInt32\":0,\"optString\":\"\",\"optBytes\":\"\",\"optShade\":\"SHADE_LIGHT\","
		"\"optBool\":false,\"optDouble\":0,\"optUint64\":\"0\",\"optLegacy\":{},\"withDefault\":42,"
		"\"strDefault\":\"abc\",\"packedInts\":[1,2]}");
	Legacy l = CLEANROOM__TEST__PBJSON__LEGACY__INIT;
	assert_int_equal(l.with_default, 42);
	assert_encodes(&l, "{}");
	Legacy *d = (Legacy *)decode_as(&cleanroom__test__pbjson__legacy__descriptor, "{\"with_default\":7}");
	assert_true(d->has_with_default);
	assert_int_equal(d->with_default, 7);
	assert_false(d->has_opt_int32);
	assert_string_equal(d->str_default, "abc");
	assert_round_trip(&d->base);
	protobuf_c_message_free_unpacked(&d->base, NULL);
	Everything *e = decode_ok("{\"legacy\":{\"optLegacy\":{\"optShade\":2}}}");
	assert_true(e->legacy->opt_legacy->has_opt_shade);
	assert_int_equal(e->legacy->opt_legacy->opt_shade, 2);
	protobuf_c_message_free_unpacked(&e->base, NULL);
}

static void test_field_names(void **state)
{
	(void)state;
	assert_reencodes(
		"{\"f_int32\":1,\"http_v2_url\":\"u\",\"x9_field\":2,\"f_inner\":{\"name\":\"n\"},"
		"\"m_string_string\":{\"k\":\"v\"},\"o_string\":\"s\"}",
		"{\"fInt32\":1,\"fInner\":{\"name\":\"n\"},\"mStringString\":{\"k\":\"v\"},\"oString\":\"s\","
		"\"httpV2Url\":\"u\",\"x9Field\":2}");
	assert_reencodes("{\"httpV2Url\":\"u\",\"x9Field\":2}", "{\"httpV2Url\":\"u\",\"x9Field\":2}");
	assert_decode_error("{\"fInt32\":1,\"f_int32\":2}", "f_int32: duplicate field");
	assert_decode_error("{\"FInt32\":1}", "FInt32: unknown field");
	assert_decode_error("{\"fint32\":1}", "fint32: unknown field");
	assert_decode_error("{\"f_Int32\":1}", "unknown field");
}

static void test_error_paths(void **state)
{
	(void)state;
	assert_decode_error("{\"fInner\":{\"cwdd\":1}}", "fInner.cwdd: unknown field");
	assert_decode_error("{\"cwdd\":1}", "cwdd: unknown field");
	assert_decode_error("{\"fInner\":{\"children\":[{},{\"children\":[{\"count\":true}]}]}}",
			    "fInner.children[1].children[0].count: expected an integer, got a boolean");
	assert_decode_error("[]", "expected an object (cleanroom.test.pbjson.Everything), got an array");
	assert_decode_error("null", "got null");
	assert_decode_error("{\"fString\":1}", "fString: expected a string, got an integer");
	assert_decode_error("{\"fBool\":\"true\"}", "fBool: expected a boolean, got a string");
	assert_decode_error("{\"fBool\":1}", "expected a boolean, got an integer");
	assert_decode_error("{\"a\\nb\":1}", "a?b: unknown field");

	char *msg = decode_err_as(EVERYTHING, "{\"fInner\":{\"cwdd\":1}}");
	assert_string_equal(msg, "fInner.cwdd: unknown field");
	free(msg);
}

static void test_text_layer(void **state)
{
	(void)state;
	ProtobufCMessage *msg = NULL;
	cr_error *err = NULL;
	const char *json = "{\"fInt32\":1}";
	assert_int_equal(cr_pbjson_decode_text(EVERYTHING, json, strlen(json), 5, &msg, &err), -1);
	assert_non_null(strstr(err->msg, "exceeds the limit of 5"));
	assert_int_equal(err->reason, CR_REASON_USAGE_INVALID);
	cr_error_free(err);
	err = NULL;
	assert_decode_error("{\n  \"fInt32\": 1,\n  \"fInt64\": }", "invalid JSON at line 3, column");
	assert_decode_error("{\"fInt32\":1,\"fInt32\":2}", "invalid JSON");
	assert_decode_error("{\"fString\":\"a\\u0000b\"}", "invalid JSON");
	assert_decode_error("", "invalid JSON");
	assert_decode_error("{} {}", "invalid JSON");

	/* Decoding from a tree, where jansson allows NUL inside strings. */
	json_t *tree = json_pack("{s:s%}", "fString", "a\0b", (size_t)3);
	assert_int_equal(cr_pbjson_decode(EVERYTHING, tree, &msg, &err), -1);
	assert_non_null(strstr(err->msg, "fString: string contains a NUL character"));
	cr_error_free(err);
	err = NULL;
	json_decref(tree);

	/* The serialiser: escapes, shortest reals, insertion order, length. */
	tree = json_pack("{s:f,s:f,s:[i,b,n],s:s}", "z", 0.1, "a", 1e21, "m", -3, 1, "s", "\"\\\x1f\x7f/");
	size_t len = 0;
	char *text = cr_pbjson_dumps(tree, &len, &err);
	assert_string_equal(text,
			    "{\"z\":0.1,\"a\":1e+21,\"m\":[-3,true,null],\"s\":\"\\\"\\\\\\u001f\x7f/\"}");
	assert_int_equal(len, strlen(text));
	free(text);
	json_decref(tree);
}

static void test_depth_limit(void **state)
{
	(void)state;
	/* Inner at the top counts as level 1; 64 levels decode, 65 do not. */
	for (int levels = 64; levels <= 65; levels++) {
		cr_buf b;
		cr_buf_init(&b, 4096);
		for (int i = 1; i < levels; i++)
			cr_buf_puts(&b, "{\"child\":");
		cr_buf_puts(&b, "{\"count\":1}");
		for (int i = 1; i < levels; i++)
			cr_buf_putc(&b, '}');
		if (levels == 64) {
			ProtobufCMessage *m = decode_as(INNER, b.data);
			assert_round_trip(m);
			protobuf_c_message_free_unpacked(m, NULL);
		} else {
			char *msg = decode_err_as(INNER, b.data);
			assert_non_null(strstr(msg, "messages nested deeper than 64"));
			free(msg);
		}
		cr_buf_free(&b);
	}
	/* The encoder refuses a 65-level chain the same way. */
	Inner chain[65];
	for (int i = 0; i < 65; i++) {
		chain[i] = (Inner)CLEANROOM__TEST__PBJSON__INNER__INIT;
		chain[i].child = i + 1 < 65 ? &chain[i + 1] : NULL;
	}
	cr_error *err = NULL;
	assert_null(cr_pbjson_encode(&chain[0].base, &err));
	assert_non_null(strstr(err->msg, "messages nested deeper than 64"));
	assert_int_equal(err->reason, CR_REASON_INTERNAL);
	cr_error_free(err);
	json_t *j = cr_pbjson_encode(&chain[1].base, NULL);
	assert_non_null(j);
	json_decref(j);
}

static void test_encode_errors(void **state)
{
	(void)state;
	Everything m = CLEANROOM__TEST__PBJSON__EVERYTHING__INIT;
	char *bad[] = {"ok", "\xff"};
	m.n_r_string = 2;
	m.r_string = bad;
	cr_error *err = NULL;
	assert_null(cr_pbjson_encode_text(&m.base, NULL, &err));
	assert_string_equal(err->msg, "rString[1]: string is not valid UTF-8");
	cr_error_free(err);
}

/* A message with every kind of field set, built by hand. */
static void test_round_trip_rich(void **state)
{
	(void)state;
	Everything m = CLEANROOM__TEST__PBJSON__EVERYTHING__INIT;
	Inner leaf = CLEANROOM__TEST__PBJSON__INNER__INIT, inner = CLEANROOM__TEST__PBJSON__INNER__INIT;
	leaf.name = "leaf";
	leaf.count = -1;
	inner.name = "inner \xe2\x9c\x93";
	inner.child = &leaf;
	Inner *children[] = {&leaf, &leaf};
	inner.n_children = 2;
	inner.children = children;
	Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT, ts2 = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	ts.seconds = 1795543200;
	ts.nanos = 5000;
	ts2.seconds = -62135596800;
	uint8_t raw[] = {0, 1, 2, 250};
	m.f_int32 = INT32_MIN;
	m.f_int64 = INT64_MAX;
	m.f_uint32 = 1;
	m.f_uint64 = UINT64_MAX - 1;
	m.f_sint32 = -3;
	m.f_sint64 = INT64_MIN;
	m.f_fixed32 = UINT32_MAX;
	m.f_fixed64 = 1ull << 63;
	m.f_sfixed32 = INT32_MAX;
	m.f_sfixed64 = -1;
	m.f_float = 1.17549435e-38f;
	m.f_double = 1.7976931348623157e308;
	m.f_bool = 1;
	m.f_string = "s";
	m.f_bytes = (ProtobufCBinaryData){3, raw};
	m.f_color = CLEANROOM__TEST__PBJSON__COLOR__COLOR_NEGATIVE;
	m.f_inner = &inner;
	m.f_time = &ts;
	int32_t ri[] = {0, -1, INT32_MAX};
	int64_t rl[] = {INT64_MIN, 0};
	uint64_t ru[] = {0, UINT64_MAX};
	float rf[] = {0.3f, -1e-10f, NAN};
	double rd[] = {1.0 / 3, -0.0};
	protobuf_c_boolean rb[] = {1, 0, 1};
	char *rs[] = {"", "x", "\xf0\x9f\x98\x80"};
	ProtobufCBinaryData rby[] = {{0, NULL}, {4, raw}};
	Cleanroom__Test__Pbjson__Color rc[] = {7, CLEANROOM__TEST__PBJSON__COLOR__COLOR_GREEN};
	Inner *rin[] = {&leaf, &inner};
	Timestamp *rt[] = {&ts, &ts2};
	m.n_r_int32 = 3, m.r_int32 = ri;
	m.n_r_sint32 = 3, m.r_sint32 = ri;
	m.n_r_sfixed32 = 3, m.r_sfixed32 = ri;
	m.n_r_int64 = 2, m.r_int64 = rl;
	m.n_r_sint64 = 2, m.r_sint64 = rl;
	m.n_r_sfixed64 = 2, m.r_sfixed64 = rl;
	m.n_r_uint64 = 2, m.r_uint64 = ru;
	m.n_r_fixed64 = 2, m.r_fixed64 = ru;
	m.n_r_float = 3, m.r_float = rf;
	m.n_r_double = 2, m.r_double = rd;
	m.n_r_bool = 3, m.r_bool = rb;
	m.n_r_string = 3, m.r_string = rs;
	m.n_r_bytes = 2, m.r_bytes = rby;
	m.n_r_color = 2, m.r_color = rc;
	m.n_r_inner = 2, m.r_inner = rin;
	m.n_r_time = 2, m.r_time = rt;
	Cleanroom__Test__Pbjson__Everything__MStringStringEntry ss[2] = {
		CLEANROOM__TEST__PBJSON__EVERYTHING__MSTRING_STRING_ENTRY__INIT,
		CLEANROOM__TEST__PBJSON__EVERYTHING__MSTRING_STRING_ENTRY__INIT};
	ss[0].key = "k1", ss[0].value = "v1";
	ss[1].key = "k2";
	Cleanroom__Test__Pbjson__Everything__MStringStringEntry *ssp[] = {&ss[0], &ss[1]};
	m.n_m_string_string = 2, m.m_string_string = ssp;
	Cleanroom__Test__Pbjson__Everything__MInt32InnerEntry ie =
		CLEANROOM__TEST__PBJSON__EVERYTHING__MINT32_INNER_ENTRY__INIT;
	ie.key = -9, ie.value = &inner;
	Cleanroom__Test__Pbjson__Everything__MInt32InnerEntry *iep[] = {&ie};
	m.n_m_int32_inner = 1, m.m_int32_inner = iep;
	Cleanroom__Test__Pbjson__Everything__MUint64ColorEntry ce =
		CLEANROOM__TEST__PBJSON__EVERYTHING__MUINT64_COLOR_ENTRY__INIT;
	ce.key = UINT64_MAX, ce.value = CLEANROOM__TEST__PBJSON__COLOR__COLOR_GREEN;
	Cleanroom__Test__Pbjson__Everything__MUint64ColorEntry *cep[] = {&ce};
	m.n_m_uint64_color = 1, m.m_uint64_color = cep;
	Cleanroom__Test__Pbjson__Everything__MBoolColorEntry be =
		CLEANROOM__TEST__PBJSON__EVERYTHING__MBOOL_COLOR_ENTRY__INIT;
	be.key = 1, be.value = 3;
	Cleanroom__Test__Pbjson__Everything__MBoolColorEntry *bep[] = {&be};
	m.n_m_bool_color = 1, m.m_bool_color = bep;
	Cleanroom__Test__Pbjson__Everything__MStringTimeEntry te =
		CLEANROOM__TEST__PBJSON__EVERYTHING__MSTRING_TIME_ENTRY__INIT;
	te.key = "t", te.value = &ts;
	Cleanroom__Test__Pbjson__Everything__MStringTimeEntry *tep[] = {&te};
	m.n_m_string_time = 1, m.m_string_time = tep;
	Legacy legacy = CLEANROOM__TEST__PBJSON__LEGACY__INIT;
	legacy.has_opt_int32 = 1;
	legacy.opt_string = "";
	m.legacy = &legacy;
	m.http_v2_url = "https://example.test/";
	m.x9_field = 9;
	m.choice_case = CLEANROOM__TEST__PBJSON__EVERYTHING__CHOICE_O_TIME;
	m.o_time = &ts2;
	assert_round_trip(&m.base);

	/* And its JSON text stays stable through decode and encode. */
	char *once = encode(&m);
	ProtobufCMessage *back = decode_as(EVERYTHING, once);
	char *twice = encode(back);
	assert_string_equal(once, twice);
	free(once);
	free(twice);
	protobuf_c_message_free_unpacked(back, NULL);
}

/* A hand-written request in every liberal form, and its canonical form. */
static void test_canonical_form(void **state)
{
	(void)state;
	assert_reencodes(
		"{\"x9_field\":\"12\",\"f_uint64\":12345678901234567890e0,\"f_int64\":-5,\"fFloat\":\"1.5\","
		"\"fDouble\":1e2,\"f_bytes\":\"_-8\",\"f_color\":2,\"f_time\":\"2026-11-24T19:00:00.000+01:"
		"00\","
		"\"r_color\":[\"COLOR_RED\",2],\"m_string_int64\":{\"a\":1},\"o_color\":\"COLOR_NEGATIVE\","
		"\"f_inner\":{\"children\":[{\"name\":\"c\",\"count\":\"2\"}]},\"legacy\":{\"opt_shade\":"
		"\"SHADE_DARK\"}}",
		"{\"fInt64\":\"-5\",\"fUint64\":\"12345678901234567168\",\"fFloat\":1.5,\"fDouble\":100,"
		"\"fBytes\":\"/+8=\","
		"\"fColor\":\"COLOR_GREEN\",\"fInner\":{\"children\":[{\"name\":\"c\",\"count\":2}]},"
		"\"fTime\":\"2026-11-24T18:00:00Z\",\"rColor\":[\"COLOR_RED\",\"COLOR_GREEN\"],"
		"\"mStringInt64\":{\"a\":\"1\"},\"oColor\":\"COLOR_NEGATIVE\","
		"\"legacy\":{\"optShade\":\"SHADE_DARK\"},\"x9Field\":12}");
}

/* Half-built messages are released on every failure path (run under ASan). */
static void test_partial_failures_free(void **state)
{
	(void)state;
	const char *cases[] = {
		"{\"fString\":\"a\",\"rString\":[\"a\",\"b\",3]}",
		"{\"rInner\":[{\"name\":\"a\"},{\"children\":[{\"name\":\"b\"},{\"x\":1}]}]}",
		"{\"mStringString\":{\"a\":\"b\",\"c\":1}}",
		"{\"mInt32Inner\":{\"1\":{\"name\":\"a\"},\"2\":{\"name\":1}}}",
		"{\"oInner\":{\"name\":\"a\",\"count\":\"x\"}}",
		"{\"oString\":\"a\",\"oBytes\":\"YQ==\"}",
		"{\"rBytes\":[\"YQ==\",\"!\"]}",
		"{\"legacy\":{\"optString\":\"s\",\"optLegacy\":{\"optBytes\":\"!\"}}}",
		"{\"rTime\":[\"2026-11-24T18:00:00Z\",\"x\"]}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		free(decode_err_as(EVERYTHING, cases[i]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scalars_encode),   cmocka_unit_test(test_scalars_decode),
		cmocka_unit_test(test_integer_forms),    cmocka_unit_test(test_float_specials),
		cmocka_unit_test(test_bytes_base64),     cmocka_unit_test(test_enums),
		cmocka_unit_test(test_repeated),         cmocka_unit_test(test_maps),
		cmocka_unit_test(test_nested_and_oneof), cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_defaults_omitted), cmocka_unit_test(test_proto2_presence),
		cmocka_unit_test(test_field_names),      cmocka_unit_test(test_error_paths),
		cmocka_unit_test(test_text_layer),       cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_encode_errors),    cmocka_unit_test(test_round_trip_rich),
		cmocka_unit_test(test_canonical_form),   cmocka_unit_test(test_partial_failures_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
