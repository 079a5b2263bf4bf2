/* SPDX-License-Identifier: Apache-2.0 */
/* test_connect.c -- the Connect protocol layer against the rows of
 * reference/connect-protocol.md: code and status tables both ways, the reason
 * code mapping, content types and 415s, timeouts, protocol version and
 * encodings, routes and methods, GET queries, envelopes fed whole and split,
 * error bodies (exact JSON, detail decodable back), end-of-stream messages
 * and response heads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "connect/connect.h"
#include "util/buf.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_code_tables(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int status;
	} rows[] = {
		{"canceled", 499},
		{"unknown", 500},
		{"invalid_argument", 400},
		{"deadline_exceeded", 504},
		{"not_found", 404},
		{"already_exists", 409},
		{"permission_denied", 403},
		{"resource_exhausted", 429},
		{"failed_precondition", 400},
		{"aborted", 409},
		{"out_of_range", 400},
		{"unimplemented", 501},
		{"internal", 500},
		{"unavailable", 503},
		{"data_loss", 500},
		{"unauthenticated", 401},
	};
	assert_int_equal(N(rows), CR_CONNECT_CODE__COUNT - 1);
	for (size_t i = 0; i < N(rows); i++) {
		cr_connect_code c = (cr_connect_code)(i + 1);
		assert_string_equal(cr_connect_code_name(c), rows[i].name);
		assert_int_equal(cr_connect_code_from_name(rows[i].name), c);
		assert_int_equal(cr_connect_code_http_status(c), rows[i].status);
	}
	assert_null(cr_connect_code_name(CR_CONNECT_OK));
	assert_null(cr_connect_code_name((cr_connect_code)99));
	assert_int_equal(cr_connect_code_from_name("ok"), CR_CONNECT_OK);
	assert_int_equal(cr_connect_code_from_name("Internal"), CR_CONNECT_OK);
	assert_int_equal(cr_connect_code_from_name(NULL), CR_CONNECT_OK);

	static const struct {
		int status;
		cr_connect_code code;
	} inferred[] = {
		{400, CR_CONNECT_INTERNAL},          {401, CR_CONNECT_UNAUTHENTICATED},
		{403, CR_CONNECT_PERMISSION_DENIED}, {404, CR_CONNECT_UNIMPLEMENTED},
		{429, CR_CONNECT_UNAVAILABLE},       {502, CR_CONNECT_UNAVAILABLE},
		{503, CR_CONNECT_UNAVAILABLE},       {504, CR_CONNECT_UNAVAILABLE},
		{500, CR_CONNECT_UNKNOWN},           {415, CR_CONNECT_UNKNOWN},
		{200, CR_CONNECT_UNKNOWN},           {0, CR_CONNECT_UNKNOWN},
	};
	for (size_t i = 0; i < N(inferred); i++)
		assert_int_equal(cr_connect_code_from_http_status(inferred[i].status), inferred[i].code);
}

static void test_reason_mapping(void **state)
{
	(void)state;
	static const struct {
		const char *reason;
		cr_connect_code code;
	} rows[] = {
		{"policy_invalid", CR_CONNECT_INVALID_ARGUMENT},
		{"policy_conflict", CR_CONNECT_INVALID_ARGUMENT},
		{"backend_capability_mismatch", CR_CONNECT_FAILED_PRECONDITION},
		{"backend_unavailable", CR_CONNECT_UNAVAILABLE},
		{"host_not_allowed", CR_CONNECT_PERMISSION_DENIED},
		{"registry_not_allowed", CR_CONNECT_PERMISSION_DENIED},
		{"lockfile_violation", CR_CONNECT_PERMISSION_DENIED},
		{"secret_scope_violation", CR_CONNECT_PERMISSION_DENIED},
		{"runtime_launch_failed", CR_CONNECT_INTERNAL},
		{"usage_invalid", CR_CONNECT_INVALID_ARGUMENT},
		{"internal", CR_CONNECT_INTERNAL},
	};
	for (size_t i = 0; i < N(rows); i++) {
		cr_reason r = cr_reason_from_name(rows[i].reason);
		assert_int_not_equal(r, CR_REASON_NONE);
		assert_int_equal(cr_connect_code_from_reason(r), rows[i].code);
	}
	assert_int_equal(cr_connect_code_from_reason(CR_REASON_NONE), CR_CONNECT_UNKNOWN);
	/* every reason, including ones added later, has a decided code */
	for (int r = 0; r < CR_REASON__COUNT; r++)
		assert_int_not_equal(cr_connect_code_from_reason((cr_reason)r), CR_CONNECT_OK);
	assert_int_equal(cr_connect_code_from_reason((cr_reason)1000), CR_CONNECT_INTERNAL);
}

static void test_content_types(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		cr_connect_codec codec;
		cr_connect_kind kind;
	} ok[] = {
		{"application/json", CR_CONNECT_CODEC_JSON, CR_CONNECT_UNARY},
		{"application/proto", CR_CONNECT_CODEC_PROTO, CR_CONNECT_UNARY},
		{"application/json; charset=utf-8", CR_CONNECT_CODEC_JSON, CR_CONNECT_UNARY},
		{"application/json;charset=utf-8", CR_CONNECT_CODEC_JSON, CR_CONNECT_UNARY},
		{"application/json; charset=utf8", CR_CONNECT_CODEC_JSON, CR_CONNECT_UNARY},
		{"application/json ; charset=UTF-8", CR_CONNECT_CODEC_JSON, CR_CONNECT_UNARY},
		{"Application/JSON; Charset=Utf-8", CR_CONNECT_CODEC_JSON, CR_CONNECT_UNARY},
		{"APPLICATION/PROTO", CR_CONNECT_CODEC_PROTO, CR_CONNECT_UNARY},
		{"  application/json  ", CR_CONNECT_CODEC_JSON, CR_CONNECT_UNARY},
		{"application/connect+json", CR_CONNECT_CODEC_JSON, CR_CONNECT_STREAM},
		{"application/connect+json; charset=utf-8", CR_CONNECT_CODEC_JSON, CR_CONNECT_STREAM},
		{"application/connect+proto", CR_CONNECT_CODEC_PROTO, CR_CONNECT_STREAM},
		{"Application/Connect+Proto", CR_CONNECT_CODEC_PROTO, CR_CONNECT_STREAM},
	};
	static const char *const bad[] = {
		"",
		"text/plain",
		"application/xml",
		"application/grpc",
		"application/grpc+proto",
		"application/connect+xml",
		"application/jsonx",
		"application/protojson",
		"application/json; charset=latin1",
		"application/json; charset=utf-16",
		"application/json; boundary=x",
		"application/json;",
		"application/proto; charset=utf-8",
		"application/connect+",
		"application/",
		"application/x-www-form-urlencoded",
		"multipart/form-data",
	};
	for (size_t i = 0; i < N(ok); i++) {
		cr_connect_codec codec = 99;
		cr_connect_kind kind = 99;
		assert_int_equal(cr_connect_parse_content_type(ok[i].value, &codec, &kind), 0);
		assert_int_equal(codec, ok[i].codec);
		assert_int_equal(kind, ok[i].kind);
	}
	for (size_t i = 0; i < N(bad); i++) {
		cr_connect_codec codec;
		cr_connect_kind kind;
		if (cr_connect_parse_content_type(bad[i], &codec, &kind) == 0)
			fail_msg("accepted '%s'", bad[i]);
	}
}

/* A route table: Get is unary without side effects, Create unary, Watch a
 * server stream. */
static unsigned lookup(void *ctx, const char *service, const char *method)
{
	(void)ctx;
	if (strcmp(service, "cleanroom.v1.SandboxService") != 0)
		return 0;
	if (strcmp(method, "GetSandbox") == 0)
		return CR_CONNECT_METHOD_UNARY | CR_CONNECT_METHOD_NO_SIDE_EFFECTS;
	if (strcmp(method, "CreateSandbox") == 0)
		return CR_CONNECT_METHOD_UNARY;
	if (strcmp(method, "WatchSandbox") == 0)
		return CR_CONNECT_METHOD_STREAM;
	return 0;
}

/* Classifies a request built from "name: value" strings; returns the rc and
 * leaves the result (and error message) for the caller to check. */
static int classify(const char *method, const char *target, cr_connect_request *out, char **msg, ...)
{
	cr_connect_header headers[16];
	char store[16][256];
	size_t n = 0;
	va_list ap;
	va_start(ap, msg);
	for (const char *h; (h = va_arg(ap, const char *)) != NULL && n < 16; n++) {
		snprintf(store[n], sizeof(store[n]), "%s", h);
		char *colon = strchr(store[n], ':');
		assert_non_null(colon);
		*colon = '\0';
		headers[n] = (cr_connect_header){store[n], colon + 1};
	}
	va_end(ap);
	cr_connect_head head = {method, target, headers, n};
	cr_error *err = NULL;
	int rc = cr_connect_classify(&head, lookup, NULL, out, &err);
	assert_true(rc == 0 ? err == NULL : err != NULL);
	if (msg)
		*msg = err ? strdup(err->msg) : NULL;
	if (err)
		assert_int_equal(err->reason, CR_REASON_USAGE_INVALID);
	cr_error_free(err);
	return rc;
}

#define CREATE "/cleanroom.v1.SandboxService/CreateSandbox"
#define WATCH  "/cleanroom.v1.SandboxService/WatchSandbox"
#define GET    "/cleanroom.v1.SandboxService/GetSandbox"

static void test_classify_unary(void **state)
{
	(void)state;
	cr_connect_request r;
	assert_int_equal(classify("POST", CREATE, &r, NULL, "content-type: application/json",
				  "connect-protocol-version: 1", NULL),
			 0);
	assert_string_equal(r.service, "cleanroom.v1.SandboxService");
	assert_string_equal(r.method, "CreateSandbox");
	assert_int_equal(r.codec, CR_CONNECT_CODEC_JSON);
	assert_int_equal(r.kind, CR_CONNECT_UNARY);
	assert_false(r.is_get);
	assert_int_equal(r.timeout_ms, -1);
	assert_null(r.message);
	cr_connect_request_clear(&r);

	/* a routing prefix, upper-case header names, proto, no version header */
	assert_int_equal(
		classify("POST", "/api/v1" CREATE, &r, NULL, "Content-Type: application/proto", NULL), 0);
	assert_int_equal(r.codec, CR_CONNECT_CODEC_PROTO);
	assert_string_equal(r.method, "CreateSandbox");
	cr_connect_request_clear(&r);

	/* the stream */
	assert_int_equal(classify("POST", WATCH, &r, NULL, "content-type: application/connect+json",
				  "connect-content-encoding: identity", "content-encoding: identity", NULL),
			 0);
	assert_int_equal(r.kind, CR_CONNECT_STREAM);
	assert_int_equal(r.codec, CR_CONNECT_CODEC_JSON);
	cr_connect_request_clear(&r);
}

static void expect_plain(cr_connect_request *r, int status, const char *header, const char *value)
{
	assert_int_equal(r->http_status, status);
	assert_int_equal(r->code, CR_CONNECT_OK);
	if (header) {
		assert_string_equal(r->refusal_header, header);
		assert_string_equal(r->refusal_value, value);
	} else {
		assert_null(r->refusal_header);
	}
	cr_connect_request_clear(r);
}

static void test_classify_415(void **state)
{
	(void)state;
	cr_connect_request r;
	const char *unary = "application/json, application/proto";
	const char *stream = "application/connect+json, application/connect+proto";
	assert_int_equal(classify("POST", CREATE, &r, NULL, "content-type: text/plain", NULL), -1);
	expect_plain(&r, 415, "Accept-Post", unary);
	assert_int_equal(classify("POST", CREATE, &r, NULL, NULL), -1); /* no content type */
	expect_plain(&r, 415, "Accept-Post", unary);
	assert_int_equal(classify("POST", CREATE, &r, NULL, "content-type: application/json",
				  "content-type: application/proto", NULL),
			 -1);
	expect_plain(&r, 415, "Accept-Post", unary);
	/* a unary procedure asked for with a streaming type, and the reverse */
	assert_int_equal(classify("POST", CREATE, &r, NULL, "content-type: application/connect+json", NULL),
			 -1);
	expect_plain(&r, 415, "Accept-Post", unary);
	assert_int_equal(classify("POST", WATCH, &r, NULL, "content-type: application/json", NULL), -1);
	expect_plain(&r, 415, "Accept-Post", stream);
	assert_int_equal(classify("POST", WATCH, &r, NULL, "content-type: application/connect+xml", NULL),
			 -1);
	expect_plain(&r, 415, "Accept-Post", stream);
	assert_int_equal(classify("POST", WATCH, &r, NULL, "content-type: application/grpc", NULL), -1);
	expect_plain(&r, 415, "Accept-Post", stream);
}

static void test_classify_routes(void **state)
{
	(void)state;
	cr_connect_request r;
	static const char *const not_found[] = {
		"/",
		"",
		"CreateSandbox",
		"/CreateSandbox",
		"/cleanroom.v1.SandboxService/",
		"/cleanroom.v1.SandboxService/CreateSandbox/",
		"/SandboxService/CreateSandbox",
		"/cleanroom.v1.SandboxService/Create-Sandbox",
		"/cleanroom..SandboxService/CreateSandbox",
		"/cleanroom.v1.SandboxService/createsandbox",
		"/cleanroom.v1.sandboxservice/CreateSandbox",
		"/cleanroom.v1.OtherService/CreateSandbox",
		"/cleanroom.v1.SandboxService/Nope",
		"/1x.Svc/CreateSandbox",
	};
	for (size_t i = 0; i < N(not_found); i++) {
		if (classify("POST", not_found[i], &r, NULL, "content-type: application/json", NULL) != -1)
			fail_msg("accepted route '%s'", not_found[i]);
		expect_plain(&r, 404, NULL, NULL);
	}
	assert_int_equal(classify("PUT", CREATE, &r, NULL, "content-type: application/json", NULL), -1);
	expect_plain(&r, 405, "Allow", "POST");
	assert_int_equal(classify("post", CREATE, &r, NULL, "content-type: application/json", NULL), -1);
	expect_plain(&r, 405, "Allow", "POST");
	assert_int_equal(classify("DELETE", GET, &r, NULL, NULL), -1);
	expect_plain(&r, 405, "Allow", "GET, POST");
	/* a query on a POST is ignored */
	assert_int_equal(classify("POST", CREATE "?x=1", &r, NULL, "content-type: application/json", NULL),
			 0);
	cr_connect_request_clear(&r);
	/* without a route table every well-formed route is a candidate, GET is not */
	cr_connect_header ct = {"content-type", "application/connect+proto"};
	cr_connect_head head = {"POST", "/a.B/C", &ct, 1};
	cr_error *err = NULL;
	assert_int_equal(cr_connect_classify(&head, NULL, NULL, &r, &err), 0);
	assert_int_equal(r.kind, CR_CONNECT_STREAM);
	cr_connect_request_clear(&r);
	head = (cr_connect_head){"GET", "/a.B/C?encoding=json&message={}", NULL, 0};
	assert_int_equal(cr_connect_classify(&head, NULL, NULL, &r, &err), -1);
	expect_plain(&r, 405, "Allow", "POST");
	cr_error_free(err);
}

static void test_classify_caps(void **state)
{
	(void)state;
	cr_connect_request r;
	char *path = malloc(CR_CONNECT_MAX_PATH + 64);
	memset(path, 'a', CR_CONNECT_MAX_PATH + 63);
	path[0] = '/';
	memcpy(path + CR_CONNECT_MAX_PATH + 63 - strlen(CREATE), CREATE, strlen(CREATE) + 1);
	assert_int_equal(classify("POST", path, &r, NULL, "content-type: application/json", NULL), -1);
	expect_plain(&r, 414, NULL, NULL);
	free(path);

	char *value = malloc(CR_CONNECT_MAX_HEADER + 2);
	memset(value, 'x', CR_CONNECT_MAX_HEADER + 1);
	value[CR_CONNECT_MAX_HEADER + 1] = '\0';
	cr_connect_header h[2] = {{"content-type", "application/json"}, {"x-big", value}};
	cr_connect_head head = {"POST", CREATE, h, 2};
	cr_error *err = NULL;
	assert_int_equal(cr_connect_classify(&head, lookup, NULL, &r, &err), -1);
	expect_plain(&r, 431, NULL, NULL);
	cr_error_freep(&err);
	value[CR_CONNECT_MAX_HEADER] = '\0'; /* exactly at the cap is fine */
	assert_int_equal(cr_connect_classify(&head, lookup, NULL, &r, &err), 0);
	cr_connect_request_clear(&r);
	free(value);

	cr_connect_header many[CR_CONNECT_MAX_HEADERS + 1];
	for (size_t i = 0; i < N(many); i++)
		many[i] = (cr_connect_header){"x-a", "b"};
	head = (cr_connect_head){"POST", CREATE, many, N(many)};
	assert_int_equal(cr_connect_classify(&head, lookup, NULL, &r, &err), -1);
	expect_plain(&r, 431, NULL, NULL);
	cr_error_free(err);
}

static void test_timeout(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		int64_t ms;
	} ok[] = {{"0", 0}, {"1", 1}, {"1500", 1500}, {"0000000001", 1}, {"9999999999", 9999999999LL}};
	static const char *const bad[] = {"",    "12345678901", "-1", "+1", "1.5",
					  "12a", "abc",         " 1", "1 ", "0x10"};
	for (size_t i = 0; i < N(ok); i++) {
		int64_t ms = -2;
		assert_int_equal(cr_connect_parse_timeout(ok[i].v, &ms, NULL), 0);
		assert_int_equal(ms, ok[i].ms);
	}
	for (size_t i = 0; i < N(bad); i++) {
		int64_t ms = -2;
		cr_error *err = NULL;
		if (cr_connect_parse_timeout(bad[i], &ms, &err) == 0)
			fail_msg("accepted timeout '%s'", bad[i]);
		assert_int_equal(err->reason, CR_REASON_USAGE_INVALID);
		cr_error_free(err);
	}

	cr_connect_request r;
	char *msg;
	assert_int_equal(classify("POST", CREATE, &r, NULL, "content-type: application/json",
				  "connect-timeout-ms:  250 ", NULL),
			 0);
	assert_int_equal(r.timeout_ms, 250);
	cr_connect_request_clear(&r);
	assert_int_equal(classify("POST", CREATE, &r, &msg, "content-type: application/json",
				  "connect-timeout-ms: 12345678901", NULL),
			 -1);
	assert_int_equal(r.http_status, 400);
	assert_int_equal(r.code, CR_CONNECT_INVALID_ARGUMENT);
	assert_non_null(strstr(msg, "connect-timeout-ms"));
	free(msg);
	cr_connect_request_clear(&r);
	/* on a stream the error goes in the end-of-stream message of a 200 */
	assert_int_equal(classify("POST", WATCH, &r, NULL, "content-type: application/connect+proto",
				  "connect-timeout-ms: soon", NULL),
			 -1);
	assert_int_equal(r.http_status, 200);
	assert_int_equal(r.kind, CR_CONNECT_STREAM);
	assert_int_equal(r.code, CR_CONNECT_INVALID_ARGUMENT);
	cr_connect_request_clear(&r);
	assert_int_equal(classify("POST", CREATE, &r, NULL, "content-type: application/json",
				  "connect-timeout-ms: 1", "connect-timeout-ms: 2", NULL),
			 -1);
	assert_int_equal(r.code, CR_CONNECT_INVALID_ARGUMENT);
	cr_connect_request_clear(&r);
}

static void test_version_and_encoding(void **state)
{
	(void)state;
	cr_connect_request r;
	assert_int_equal(classify("POST", CREATE, &r, NULL, "content-type: application/json",
				  "connect-protocol-version: 2", NULL),
			 -1);
	assert_int_equal(r.http_status, 400);
	assert_int_equal(r.code, CR_CONNECT_INVALID_ARGUMENT);
	cr_connect_request_clear(&r);
	assert_int_equal(classify("POST", CREATE, &r, NULL, "content-type: application/json",
				  "content-encoding: gzip", NULL),
			 -1);
	assert_int_equal(r.http_status, 501);
	assert_int_equal(r.code, CR_CONNECT_UNIMPLEMENTED);
	cr_connect_request_clear(&r);
	assert_int_equal(classify("POST", CREATE, &r, NULL, "content-type: application/json",
				  "content-encoding: Identity", "accept-encoding: gzip, br", NULL),
			 0);
	cr_connect_request_clear(&r);
	assert_int_equal(classify("POST", WATCH, &r, NULL, "content-type: application/connect+json",
				  "connect-content-encoding: zstd", "connect-accept-encoding: gzip", NULL),
			 -1);
	assert_int_equal(r.http_status, 200);
	assert_int_equal(r.code, CR_CONNECT_UNIMPLEMENTED);
	cr_connect_request_clear(&r);
	/* Connect-Content-Encoding means nothing on a unary call */
	assert_int_equal(classify("POST", CREATE, &r, NULL, "content-type: application/json",
				  "connect-content-encoding: gzip", NULL),
			 0);
	cr_connect_request_clear(&r);
}

static void expect_get(const char *query, cr_connect_codec codec, const char *message)
{
	char target[512];
	snprintf(target, sizeof(target), "%s?%s", GET, query);
	cr_connect_request r;
	char *msg = NULL;
	if (classify("GET", target, &r, &msg, NULL) != 0)
		fail_msg("GET '%s' refused: %s", query, msg);
	assert_true(r.is_get);
	assert_int_equal(r.kind, CR_CONNECT_UNARY);
	assert_int_equal(r.codec, codec);
	assert_int_equal(r.message_len, strlen(message));
	assert_memory_equal(r.message, message, r.message_len);
	assert_int_equal(r.message[r.message_len], '\0');
	cr_connect_request_clear(&r);
}

static void expect_get_refused(const char *query, int status, cr_connect_code code, const char *needle)
{
	char target[512];
	snprintf(target, sizeof(target), "%s?%s", GET, query);
	cr_connect_request r;
	char *msg = NULL;
	if (classify("GET", target, &r, &msg, NULL) != -1)
		fail_msg("GET '%s' accepted", query);
	assert_int_equal(r.http_status, status);
	assert_int_equal(r.code, code);
	if (!strstr(msg, needle))
		fail_msg("GET '%s': message '%s' lacks '%s'", query, msg, needle);
	free(msg);
	cr_connect_request_clear(&r);
}

static void test_get(void **state)
{
	(void)state;
	expect_get("connect=v1&encoding=json&message=%7B%22id%22%3A%22sb-1%22%7D", CR_CONNECT_CODEC_JSON,
		   "{\"id\":\"sb-1\"}");
	/* any order, unknown parameters ignored, '+' is a space */
	expect_get("x=%zz&message=%7B%22a%22:+1%7D&tracing=on&encoding=json", CR_CONNECT_CODEC_JSON,
		   "{\"a\": 1}");
	/* URL-safe base64, with and without padding */
	expect_get("encoding=json&base64=1&message=eyJpZCI6InNiLTE_Pn4ifQ", CR_CONNECT_CODEC_JSON,
		   "{\"id\":\"sb-1?>~\"}");
	expect_get("encoding=json&base64=1&message=eyJpZCI6InNiLTE_Pn4ifQ%3D%3D&connect=v1",
		   CR_CONNECT_CODEC_JSON, "{\"id\":\"sb-1?>~\"}");
	expect_get("encoding=proto&message=&compression=identity", CR_CONNECT_CODEC_PROTO, "");
	expect_get("encoding=proto&message=%0A%01x", CR_CONNECT_CODEC_PROTO, "\n\x01x");
	/* a timeout header still applies */
	cr_connect_request r;
	assert_int_equal(
		classify("GET", GET "?encoding=json&message={}", &r, NULL, "connect-timeout-ms: 9", NULL), 0);
	assert_int_equal(r.timeout_ms, 9);
	cr_connect_request_clear(&r);

	expect_get_refused("encoding=json", 400, CR_CONNECT_INVALID_ARGUMENT, "missing message");
	expect_get_refused("message=%7B%7D", 400, CR_CONNECT_INVALID_ARGUMENT, "missing encoding");
	expect_get_refused("", 400, CR_CONNECT_INVALID_ARGUMENT, "missing");
	expect_get_refused("encoding=xml&message=x", 400, CR_CONNECT_INVALID_ARGUMENT, "encoding");
	expect_get_refused("connect=v2&encoding=json&message={}", 400, CR_CONNECT_INVALID_ARGUMENT, "v1");
	expect_get_refused("encoding=json&message=%7", 400, CR_CONNECT_INVALID_ARGUMENT, "percent");
	expect_get_refused("encoding=json&message=%G0", 400, CR_CONNECT_INVALID_ARGUMENT, "percent");
	expect_get_refused("encoding=json&message={}&message={}", 400, CR_CONNECT_INVALID_ARGUMENT, "twice");
	expect_get_refused("encoding=json&base64=1&message=e30*", 400, CR_CONNECT_INVALID_ARGUMENT, "base64");
	expect_get_refused("encoding=json&base64=1&message=e", 400, CR_CONNECT_INVALID_ARGUMENT, "base64");
	expect_get_refused("encoding=json&message={}&compression=gzip", 501, CR_CONNECT_UNIMPLEMENTED,
			   "compression");

	/* a procedure with side effects cannot be called with GET */
	assert_int_equal(classify("GET", CREATE "?encoding=json&message={}", &r, NULL, NULL), -1);
	expect_plain(&r, 405, "Allow", "POST");
	assert_int_equal(classify("GET", WATCH "?encoding=json&message={}", &r, NULL, NULL), -1);
	expect_plain(&r, 405, "Allow", "POST");
}

/* Feeds `data` in pieces of `step` bytes; collects envelopes into out. */
static int feed(cr_connect_decoder *d, const cr_buf *in, size_t step, cr_buf *out, size_t *count,
		cr_error **err)
{
	const unsigned char *p = (const unsigned char *)in->data;
	size_t left = in->len;
	while (left > 0) {
		size_t chunk = step < left ? step : left;
		const unsigned char *q = p;
		size_t n = chunk;
		while (n > 0) {
			cr_connect_envelope env;
			int rc = cr_connect_decoder_push(d, &q, &n, &env, err);
			if (rc < 0)
				return -1;
			if (rc == 1) {
				(*count)++;
				cr_buf_putc(out, (char)env.flags);
				cr_buf_append(out, env.payload, env.len);
				cr_buf_putc(out, '|');
			}
		}
		p += chunk;
		left -= chunk;
	}
	return 0;
}

static void test_envelopes(void **state)
{
	(void)state;
	cr_buf in;
	cr_buf_init(&in, 1 << 16);
	assert_int_equal(cr_connect_envelope_encode(&in, 0, "{\"n\":2}", 7, NULL), 0);
	assert_memory_equal(in.data, "\x00\x00\x00\x00\x07{\"n\":2}", 12);
	assert_int_equal(cr_connect_envelope_encode(&in, 0, "", 0, NULL), 0);
	char big[300];
	memset(big, 'z', sizeof(big));
	assert_int_equal(cr_connect_envelope_encode(&in, 0, big, sizeof(big), NULL), 0);
	assert_memory_equal(in.data + 17, "\x00\x00\x00\x01\x2c", 5);

	for (size_t step = 1; step <= in.len; step = step < 8 ? step + 1 : step * 3) {
		cr_connect_decoder d;
		cr_connect_decoder_init(&d, CR_CONNECT_SIDE_REQUEST, 1024);
		cr_buf out;
		cr_buf_init(&out, 1 << 16);
		size_t count = 0;
		assert_int_equal(feed(&d, &in, step, &out, &count, NULL), 0);
		assert_int_equal(count, 3);
		assert_int_equal(out.len, 3 * 2 + 7 + 300);
		assert_memory_equal(out.data, "\x00{\"n\":2}|\x00|\x00zz", 14);
		assert_int_equal(cr_connect_decoder_finish(&d, NULL), 0);
		cr_connect_decoder_free(&d);
		cr_buf_free(&out);
	}

	/* a truncated stream: finish reports it */
	cr_connect_decoder d;
	cr_connect_decoder_init(&d, CR_CONNECT_SIDE_REQUEST, 1024);
	const unsigned char part[] = {0, 0, 0, 0, 9, 'a'};
	const unsigned char *p = part;
	size_t n = sizeof(part);
	cr_connect_envelope env;
	assert_int_equal(cr_connect_decoder_push(&d, &p, &n, &env, NULL), 0);
	assert_int_equal(n, 0);
	cr_error *err = NULL;
	assert_int_equal(cr_connect_decoder_finish(&d, &err), -1);
	assert_non_null(strstr(err->msg, "inside an envelope"));
	cr_error_freep(&err);
	cr_connect_decoder_free(&d);
	cr_buf_free(&in);
}

/* Pushes raw bytes; returns the decoder's verdict on them. */
static int push_raw(cr_connect_decoder *d, const void *bytes, size_t n, cr_connect_envelope *env, char **msg)
{
	const unsigned char *p = bytes;
	cr_error *err = NULL;
	int rc;
	while ((rc = cr_connect_decoder_push(d, &p, &n, env, &err)) == 1 && n > 0)
		;
	*msg = err ? strdup(err->msg) : NULL;
	cr_error_free(err);
	return rc;
}

static void expect_broken(cr_connect_side side, size_t max, const void *bytes, size_t n, cr_connect_code code,
			  const char *needle)
{
	cr_connect_decoder d;
	cr_connect_decoder_init(&d, side, max);
	cr_connect_envelope env;
	char *msg = NULL;
	assert_int_equal(push_raw(&d, bytes, n, &env, &msg), -1);
	if (!strstr(msg, needle))
		fail_msg("message '%s' lacks '%s'", msg, needle);
	free(msg);
	assert_true(d.broken);
	assert_int_equal(d.code, code);
	/* and it stays broken */
	assert_int_equal(push_raw(&d, "\0\0\0\0\0", 5, &env, &msg), -1);
	free(msg);
	assert_int_equal(cr_connect_decoder_finish(&d, NULL), -1);
	cr_connect_decoder_free(&d);
}

static void test_envelope_refusals(void **state)
{
	(void)state;
	expect_broken(CR_CONNECT_SIDE_REQUEST, 1024, "\x00\x00\x00\x04\x01", 5, CR_CONNECT_RESOURCE_EXHAUSTED,
		      "larger");
	expect_broken(CR_CONNECT_SIDE_REQUEST, 4, "\x00\x00\x00\x00\x05", 5, CR_CONNECT_RESOURCE_EXHAUSTED,
		      "larger");
	expect_broken(CR_CONNECT_SIDE_REQUEST, 1024, "\x00\xff\xff\xff\xff", 5, CR_CONNECT_RESOURCE_EXHAUSTED,
		      "larger");
	for (unsigned flag = 0x04; flag <= 0x80; flag <<= 1) {
		unsigned char h[5] = {(unsigned char)flag, 0, 0, 0, 0};
		expect_broken(CR_CONNECT_SIDE_REQUEST, 1024, h, 5, CR_CONNECT_INVALID_ARGUMENT, "reserved");
		expect_broken(CR_CONNECT_SIDE_RESPONSE, 1024, h, 5, CR_CONNECT_INVALID_ARGUMENT, "reserved");
	}
	expect_broken(CR_CONNECT_SIDE_REQUEST, 1024, "\x02\x00\x00\x00\x02{}", 7, CR_CONNECT_INVALID_ARGUMENT,
		      "end-of-stream");
	expect_broken(CR_CONNECT_SIDE_REQUEST, 1024, "\x01\x00\x00\x00\x01x", 6, CR_CONNECT_INVALID_ARGUMENT,
		      "compressed");
	/* response side: end-stream ends it, anything after is refused */
	expect_broken(CR_CONNECT_SIDE_RESPONSE, 1024, "\x02\x00\x00\x00\x02{}\x00", 8,
		      CR_CONNECT_INVALID_ARGUMENT, "after end of stream");

	cr_connect_decoder d;
	cr_connect_decoder_init(&d, CR_CONNECT_SIDE_RESPONSE, 1024);
	cr_connect_envelope env;
	char *msg = NULL;
	assert_int_equal(push_raw(&d, "\x00\x00\x00\x00\x01x", 6, &env, &msg), 1);
	assert_int_equal(cr_connect_decoder_finish(&d, NULL), -1); /* no end-of-stream yet */
	d.broken = false;
	assert_int_equal(push_raw(&d, "\x02\x00\x00\x00\x02{}", 7, &env, &msg), 1);
	assert_int_equal(env.flags, CR_CONNECT_FLAG_END_STREAM);
	assert_int_equal(env.len, 2);
	assert_true(d.ended);
	assert_int_equal(cr_connect_decoder_finish(&d, NULL), 0);
	cr_connect_decoder_free(&d);
	/* with compression allowed the flag is passed through */
	cr_connect_decoder_init(&d, CR_CONNECT_SIDE_REQUEST, 1024);
	d.allow_compressed = true;
	assert_int_equal(push_raw(&d, "\x01\x00\x00\x00\x01x", 6, &env, &msg), 1);
	assert_int_equal(env.flags, CR_CONNECT_FLAG_COMPRESSED);
	cr_connect_decoder_free(&d);

	/* an encoder refuses what its buffer cannot take */
	cr_buf small;
	cr_buf_init(&small, 8);
	cr_error *err = NULL;
	assert_int_equal(cr_connect_envelope_encode(&small, 0, "abcd", 4, &err), -1);
	assert_int_equal(small.len, 0);
	cr_error_free(err);
	assert_int_equal(cr_connect_envelope_encode(&small, 0, "abc", 3, NULL), 0);
	cr_buf_free(&small);
}

/* Checks the one detail of an error object and returns its decoded message. */
static char *detail_message(json_t *details, const char *reason)
{
	assert_true(json_is_array(details));
	assert_int_equal(json_array_size(details), 1);
	json_t *d = json_array_get(details, 0);
	assert_string_equal(json_string_value(json_object_get(d, "type")), "cleanroom.v1.ErrorInfo");
	const char *value = json_string_value(json_object_get(d, "value"));
	assert_non_null(value);
	assert_null(strchr(value, '='));
	cr_buf raw;
	cr_buf_init(&raw, 1 << 16);
	assert_int_equal(cr_connect_base64_decode(&raw, value, strlen(value), false, NULL), 0);
	char *rc = NULL, *msg = NULL;
	assert_int_equal(cr_connect_error_info_decode(raw.data, raw.len, &rc, &msg, NULL), 0);
	assert_string_equal(rc, reason);
	free(rc);
	cr_buf_free(&raw);
	return msg;
}

static void test_error_body(void **state)
{
	(void)state;
	size_t len;
	char *body = cr_connect_error_body(CR_CONNECT_INVALID_ARGUMENT, CR_REASON_POLICY_INVALID,
					   "bad policy a/b", &len);
	assert_string_equal(body,
			    "{\"code\":\"invalid_argument\",\"message\":\"bad policy a/b\",\"details\":["
			    "{\"type\":\"cleanroom.v1.ErrorInfo\",\"value\":"
			    "\"Cg5wb2xpY3lfaW52YWxpZBIOYmFkIHBvbGljeSBhL2I\","
			    "\"debug\":{\"reasonCode\":\"policy_invalid\"}}]}");
	assert_int_equal(len, strlen(body));
	json_t *j = json_loads(body, 0, NULL);
	char *msg = detail_message(json_object_get(j, "details"), "policy_invalid");
	assert_string_equal(msg, "bad policy a/b");
	free(msg);
	json_decref(j);
	free(body);

	/* from an error object: the code follows the reason */
	cr_error *err = NULL;
	cr_error_make(&err, 0, CR_REASON_HOST_NOT_ALLOWED, "connect to 'evil.example:443' denied");
	body = cr_connect_error_body_from(err, NULL);
	j = json_loads(body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "code")), "permission_denied");
	msg = detail_message(json_object_get(j, "details"), "host_not_allowed");
	assert_string_equal(msg, err->msg);
	free(msg);
	json_decref(j);
	free(body);
	cr_error_free(err);

	/* no reason: no details; no message: no "message"; OK is not a code */
	body = cr_connect_error_body(CR_CONNECT_UNAVAILABLE, CR_REASON_NONE, "", NULL);
	assert_string_equal(body, "{\"code\":\"unavailable\"}");
	free(body);
	body = cr_connect_error_body(CR_CONNECT_OK, CR_REASON_NONE, NULL, NULL);
	assert_string_equal(body, "{\"code\":\"unknown\"}");
	free(body);

	/* invalid UTF-8 is replaced, long messages are cut */
	body = cr_connect_error_body(CR_CONNECT_INTERNAL, CR_REASON_INTERNAL, "open '\xff\xc3(x'", NULL);
	j = json_loads(body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "message")),
			    "open '\xef\xbf\xbd\xef\xbf\xbd(x'");
	json_decref(j);
	free(body);
	char *huge = malloc(3 * CR_CONNECT_MAX_ERROR_TEXT);
	memset(huge, 'm', 3 * CR_CONNECT_MAX_ERROR_TEXT - 1);
	huge[3 * CR_CONNECT_MAX_ERROR_TEXT - 1] = '\0';
	body = cr_connect_error_body(CR_CONNECT_INTERNAL, CR_REASON_INTERNAL, huge, NULL);
	j = json_loads(body, 0, NULL);
	assert_int_equal(strlen(json_string_value(json_object_get(j, "message"))), CR_CONNECT_MAX_ERROR_TEXT);
	msg = detail_message(json_object_get(j, "details"), "internal");
	assert_int_equal(strlen(msg), CR_CONNECT_MAX_ERROR_TEXT);
	free(msg);
	json_decref(j);
	free(body);
	free(huge);
}

static void test_error_info_wire(void **state)
{
	(void)state;
	cr_buf b;
	cr_buf_init(&b, 1024);
	assert_int_equal(cr_connect_error_info_encode(&b, "policy_invalid", "bad policy", NULL), 0);
	assert_int_equal(b.len, 28);
	assert_memory_equal(b.data,
			    "\x0a\x0epolicy_invalid\x12\x0a"
			    "bad policy",
			    28);
	cr_buf_free(&b);
	/* a 200-byte message needs a two-byte length */
	char m[201];
	memset(m, 'q', 200);
	m[200] = '\0';
	assert_int_equal(cr_connect_error_info_encode(&b, "", m, NULL), 0);
	assert_memory_equal(b.data, "\x12\xc8\x01qq", 5);
	cr_buf_free(&b);

	/* unknown fields of every wire type are skipped; the last value wins */
	static const unsigned char msg[] = {0x28, 0x96, 0x01, 0x0a, 0x01, 'a',  0x19, 1,   2, 3,
					    4,    5,    6,    7,    8,    0x25, 1,    2,   3, 4,
					    0x22, 0x01, 'z',  0x0a, 0x01, 'b',  0x12, 0x00};
	char *rc = NULL, *text = NULL;
	assert_int_equal(cr_connect_error_info_decode(msg, sizeof(msg), &rc, &text, NULL), 0);
	assert_string_equal(rc, "b");
	assert_string_equal(text, "");
	free(rc);
	free(text);
	static const struct {
		const char *bytes;
		size_t n;
	} bad[] = {
		{"\x0a\x05"
		 "ab",
		 4},                                                      /* truncated string */
		{"\x08", 1},                                              /* truncated varint */
		{"\x0b", 1},                                              /* group */
		{"\x00\x00", 2},                                          /* field 0 */
		{"\x08\x01\x0a", 3},                                      /* key without value */
		{"\x0a\x01\x00", 3},                                      /* NUL in a string */
		{"\x12\x01\xff", 3},                                      /* invalid UTF-8 */
		{"\x0d\x01\x02", 3},                                      /* reason_code with wire type 5 */
		{"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12}, /* varint too long */
	};
	for (size_t i = 0; i < N(bad); i++) {
		cr_error *err = NULL;
		if (cr_connect_error_info_decode(bad[i].bytes, bad[i].n, &rc, &text, &err) == 0)
			fail_msg("accepted bad ErrorInfo %zu", i);
		cr_error_free(err);
	}
}

static void test_end_stream(void **state)
{
	(void)state;
	char *s = cr_connect_end_stream_json(CR_CONNECT_OK, CR_REASON_NONE, NULL, NULL, 0, NULL);
	assert_string_equal(s, "{}");
	free(s);
	cr_connect_header md[] = {{"X-Sandbox", "sb-1"}, {"x-trace", "a"}, {"x-sandbox", "sb-2"}};
	s = cr_connect_end_stream_json(CR_CONNECT_OK, CR_REASON_INTERNAL, "ignored", md, 3, NULL);
	assert_string_equal(s, "{\"metadata\":{\"x-sandbox\":[\"sb-1\",\"sb-2\"],\"x-trace\":[\"a\"]}}");
	free(s);
	s = cr_connect_end_stream_json(CR_CONNECT_DEADLINE_EXCEEDED, CR_REASON_NONE, "too slow", md, 1, NULL);
	assert_string_equal(s, "{\"error\":{\"code\":\"deadline_exceeded\",\"message\":\"too slow\"},"
			       "\"metadata\":{\"x-sandbox\":[\"sb-1\"]}}");
	free(s);
	s = cr_connect_end_stream_json(CR_CONNECT_PERMISSION_DENIED, CR_REASON_LOCKFILE_VIOLATION, "left-pad",
				       NULL, 0, NULL);
	json_t *j = json_loads(s, 0, NULL);
	json_t *e = json_object_get(j, "error");
	assert_string_equal(json_string_value(json_object_get(e, "code")), "permission_denied");
	char *msg = detail_message(json_object_get(e, "details"), "lockfile_violation");
	assert_string_equal(msg, "left-pad");
	free(msg);
	assert_int_equal(json_object_size(j), 1);
	json_decref(j);
	free(s);

	/* as an envelope, readable by a response-side decoder */
	cr_buf b;
	cr_buf_init(&b, 4096);
	assert_int_equal(cr_connect_end_stream_encode(&b, CR_CONNECT_OK, CR_REASON_NONE, NULL, NULL, 0, NULL),
			 0);
	assert_memory_equal(b.data, "\x02\x00\x00\x00\x02{}", 7);
	cr_buf_free(&b);
}

static void test_response_heads(void **state)
{
	(void)state;
	cr_connect_response_head h = cr_connect_success_head(CR_CONNECT_UNARY, CR_CONNECT_CODEC_PROTO);
	assert_int_equal(h.status, 200);
	assert_string_equal(h.content_type, "application/proto");
	h = cr_connect_success_head(CR_CONNECT_STREAM, CR_CONNECT_CODEC_JSON);
	assert_string_equal(h.content_type, "application/connect+json");
	h = cr_connect_error_head(CR_CONNECT_UNARY, CR_CONNECT_CODEC_PROTO, CR_CONNECT_NOT_FOUND);
	assert_int_equal(h.status, 404);
	assert_string_equal(h.content_type, "application/json");
	h = cr_connect_error_head(CR_CONNECT_STREAM, CR_CONNECT_CODEC_PROTO, CR_CONNECT_NOT_FOUND);
	assert_int_equal(h.status, 200);
	assert_string_equal(h.content_type, "application/connect+proto");
	assert_string_equal(cr_connect_content_type(CR_CONNECT_UNARY, CR_CONNECT_CODEC_JSON),
			    "application/json");

	cr_buf b;
	cr_buf_init(&b, 64);
	assert_int_equal(cr_connect_trailer_name(&b, "X-Exit-Code", NULL), 0);
	assert_string_equal(b.data, "trailer-x-exit-code");
	cr_buf_free(&b);
	cr_error *err = NULL;
	assert_int_equal(cr_connect_trailer_name(&b, "", &err), -1);
	cr_error_freep(&err);
	assert_int_equal(cr_connect_trailer_name(&b, "a b", &err), -1);
	cr_error_freep(&err);
	assert_int_equal(cr_connect_trailer_name(&b, "a\r\nx: y", &err), -1);
	cr_error_freep(&err);
	cr_buf_init(&b, 10);
	assert_int_equal(cr_connect_trailer_name(&b, "abc", &err), -1);
	assert_int_equal(b.len, 0);
	cr_error_free(err);
	cr_buf_free(&b);
}

static void test_base64(void **state)
{
	(void)state;
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
	for (size_t i = 0; i < N(plain); i++) {
		cr_buf b;
		cr_buf_init(&b, 64);
		assert_int_equal(cr_connect_base64_encode(&b, plain[i], strlen(plain[i]), NULL), 0);
		assert_string_equal(b.data ? b.data : "", enc[i]);
		cr_buf_free(&b);
		assert_int_equal(cr_connect_base64_decode(&b, enc[i], strlen(enc[i]), false, NULL), 0);
		assert_string_equal(b.data ? b.data : "", plain[i]);
		cr_buf_free(&b);
	}
	cr_buf b;
	cr_buf_init(&b, 64);
	assert_int_equal(cr_connect_base64_decode(&b, "Zg==", 4, false, NULL), 0);
	assert_int_equal(cr_connect_base64_decode(&b, "-_8", 3, true, NULL), 0);
	assert_memory_equal(b.data, "f\xfb\xff", 3);
	cr_buf_free(&b);
	static const char *const bad_std[] = {"Z", "Zg=", "Zg===", "Z===", "-_8", "Zm9v\n", "Z=g="};
	for (size_t i = 0; i < N(bad_std); i++) {
		cr_error *err = NULL;
		if (cr_connect_base64_decode(&b, bad_std[i], strlen(bad_std[i]), false, &err) == 0)
			fail_msg("decoded '%s'", bad_std[i]);
		assert_int_equal(b.len, 0);
		cr_error_free(err);
	}
	cr_error *err = NULL;
	assert_int_equal(cr_connect_base64_decode(&b, "+/8", 3, true, &err), -1);
	cr_error_freep(&err);
	cr_buf_free(&b);
	cr_buf_init(&b, 2);
	assert_int_equal(cr_connect_base64_decode(&b, "Zm9v", 4, false, &err), -1);
	assert_int_equal(b.len, 0);
	cr_error_free(err);
	cr_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_tables),
		cmocka_unit_test(test_reason_mapping),
		cmocka_unit_test(test_content_types),
		cmocka_unit_test(test_classify_unary),
		cmocka_unit_test(test_classify_415),
		cmocka_unit_test(test_classify_routes),
		cmocka_unit_test(test_classify_caps),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_version_and_encoding),
		cmocka_unit_test(test_get),
		cmocka_unit_test(test_envelopes),
		cmocka_unit_test(test_envelope_refusals),
		cmocka_unit_test(test_error_body),
		cmocka_unit_test(test_error_info_wire),
		cmocka_unit_test(test_end_stream),
		cmocka_unit_test(test_response_heads),
		cmocka_unit_test(test_base64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
