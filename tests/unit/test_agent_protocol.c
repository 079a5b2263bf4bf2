/* SPDX-License-Identifier: Apache-2.0 */
/* test_agent_protocol.c -- the agent protocol codec: frame round trips over
 * every split of the stream, length and type validation, the decoder's
 * broken state, control payload parsing and the EXEC request schema. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/protocol.h"
#include "util/buf.h"

/* A stream of five frames of different kinds. */
static void sample_stream(cr_buf *b)
{
	cr_buf_init(b, 4u << 20);
	json_t *hello = json_pack("{s:i,s:i}", "version", 1, "pid", 1);
	assert_int_equal(cr_agent_encode_json(b, CR_AGENT_HELLO, 0, hello), 0);
	json_decref(hello);
	assert_int_equal(cr_agent_encode(b, CR_AGENT_STDOUT, 7, "hi\n", 3), 0);
	assert_int_equal(cr_agent_encode(b, CR_AGENT_STDOUT, 7, NULL, 0), 0);
	const unsigned char rs[4] = {0, 100, 0, 30};
	assert_int_equal(cr_agent_encode(b, CR_AGENT_RESIZE, 0xfffffffe, rs, 4), 0);
	assert_int_equal(cr_agent_encode(b, CR_AGENT_SHUTDOWN, 0, NULL, 0), 0);
}

static void check_frame(const cr_agent_frame *f, int i)
{
	static const uint8_t types[] = {CR_AGENT_HELLO, CR_AGENT_STDOUT, CR_AGENT_STDOUT, CR_AGENT_RESIZE,
					CR_AGENT_SHUTDOWN};
	static const uint32_t ids[] = {0, 7, 7, 0xfffffffe, 0};
	assert_int_equal(f->type, types[i]);
	assert_int_equal(f->exec_id, ids[i]);
	if (i == 0) {
		json_t *j = cr_agent_frame_json(f, NULL);
		assert_non_null(j);
		assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
		json_decref(j);
	} else if (i == 1) {
		assert_int_equal(f->len, 3);
		assert_memory_equal(f->payload, "hi\n", 3);
	} else if (i == 3) {
		assert_int_equal(f->len, 4);
		assert_int_equal(f->payload[1], 100);
		assert_int_equal(f->payload[3], 30);
	} else {
		assert_int_equal(f->len, 0);
	}
}

static void test_layout(void **state)
{
	(void)state;
	cr_buf b;
	cr_buf_init(&b, 1024);
	assert_int_equal(cr_agent_encode(&b, CR_AGENT_STDIN, 0x01020304, "ab", 2), 0);
	const unsigned char want[] = {0, 0, 0, 7, 17, 1, 2, 3, 4, 'a', 'b'};
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	cr_buf_free(&b);
}

static void test_round_trip_whole(void **state)
{
	(void)state;
	cr_buf b;
	sample_stream(&b);
	cr_agent_decoder d;
	cr_agent_decoder_init(&d);
	cr_agent_decoder_feed(&d, b.data, b.len);
	cr_agent_frame f;
	for (int i = 0; i < 5; i++) {
		assert_int_equal(cr_agent_decoder_next(&d, &f, NULL), 1);
		check_frame(&f, i);
	}
	assert_int_equal(cr_agent_decoder_next(&d, &f, NULL), 0);
	cr_agent_decoder_free(&d);
	cr_buf_free(&b);
}

/* Every chunk size from 1 byte up, so that each frame boundary is split. */
static void test_round_trip_split(void **state)
{
	(void)state;
	cr_buf b;
	sample_stream(&b);
	for (size_t step = 1; step <= b.len; step++) {
		cr_agent_decoder d;
		cr_agent_decoder_init(&d);
		int seen = 0;
		for (size_t off = 0; off < b.len; off += step) {
			size_t n = b.len - off < step ? b.len - off : step;
			cr_agent_decoder_feed(&d, b.data + off, n);
			cr_agent_frame f;
			int rc;
			while ((rc = cr_agent_decoder_next(&d, &f, NULL)) == 1)
				check_frame(&f, seen++);
			assert_int_equal(rc, 0);
		}
		assert_int_equal(seen, 5);
		cr_agent_decoder_free(&d);
	}
	cr_buf_free(&b);
}

static void expect_broken(const unsigned char *bytes, size_t len, const char *needle)
{
	cr_agent_decoder d;
	cr_agent_decoder_init(&d);
	cr_agent_decoder_feed(&d, bytes, len);
	cr_agent_frame f;
	cr_error *err = NULL;
	assert_int_equal(cr_agent_decoder_next(&d, &f, &err), -1);
	assert_non_null(err);
	assert_non_null(strstr(err->msg, needle));
	cr_error_free(err);
	err = NULL;
	assert_true(d.broken);
	/* later input changes nothing */
	const unsigned char ok[] = {0, 0, 0, 5, CR_AGENT_SHUTDOWN, 0, 0, 0, 0};
	cr_agent_decoder_feed(&d, ok, sizeof(ok));
	assert_int_equal(cr_agent_decoder_next(&d, &f, &err), -1);
	cr_error_free(err);
	cr_agent_decoder_free(&d);
}

static void test_lengths(void **state)
{
	(void)state;
	const unsigned char zero[] = {0, 0, 0, 0};
	const unsigned char four[] = {0, 0, 0, 4, CR_AGENT_SHUTDOWN};
	const unsigned char huge[] = {0, 0x10, 0, 1}; /* MAX_FRAME + 1 */
	const unsigned char max32[] = {0xff, 0xff, 0xff, 0xff};
	/* rejected from the length alone, before the payload arrives */
	expect_broken(zero, sizeof(zero), "out of range");
	expect_broken(four, sizeof(four), "out of range");
	expect_broken(huge, sizeof(huge), "out of range");
	expect_broken(max32, sizeof(max32), "out of range");
	/* exactly the maximum is a frame still waiting for its bytes */
	const unsigned char max[] = {0, 0x10, 0, 0, CR_AGENT_STDOUT, 0, 0, 0, 1};
	cr_agent_decoder d;
	cr_agent_decoder_init(&d);
	cr_agent_decoder_feed(&d, max, sizeof(max));
	cr_agent_frame f;
	assert_int_equal(cr_agent_decoder_next(&d, &f, NULL), 0);
	cr_agent_decoder_free(&d);
	/* fewer than 4 bytes: nothing to say yet */
	cr_agent_decoder_init(&d);
	cr_agent_decoder_feed(&d, zero, 3);
	assert_int_equal(cr_agent_decoder_next(&d, &f, NULL), 0);
	cr_agent_decoder_free(&d);
}

static void test_unknown_types(void **state)
{
	(void)state;
	const uint8_t bad[] = {0, 7, 15, 22, 128, 255};
	for (size_t i = 0; i < sizeof(bad); i++) {
		const unsigned char frame[] = {0, 0, 0, 5, bad[i]};
		expect_broken(frame, sizeof(frame), "unknown agent frame type");
		assert_null(cr_agent_type_name(bad[i]));
	}
	const uint8_t good[] = {1, 2, 3, 4, 5, 6, 16, 17, 18, 19, 20, 21};
	for (size_t i = 0; i < sizeof(good); i++)
		assert_non_null(cr_agent_type_name(good[i]));
	assert_string_equal(cr_agent_type_name(CR_AGENT_STDIN_EOF), "STDIN_EOF");
}

static void test_max_payload(void **state)
{
	(void)state;
	size_t n = CR_AGENT_MAX_FRAME - 5;
	unsigned char *big = calloc(1, n + 1);
	big[n - 1] = 'z';
	cr_buf b;
	cr_buf_init(&b, 2 * CR_AGENT_MAX_FRAME);
	assert_int_equal(cr_agent_encode(&b, CR_AGENT_STDOUT, 1, big, n + 1), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(b.len, 0);
	assert_int_equal(cr_agent_encode(&b, CR_AGENT_STDOUT, 1, big, n), 0);
	cr_agent_decoder d;
	cr_agent_decoder_init(&d);
	cr_agent_decoder_feed(&d, b.data, b.len - 1);
	cr_agent_frame f;
	assert_int_equal(cr_agent_decoder_next(&d, &f, NULL), 0);
	cr_agent_decoder_feed(&d, b.data + b.len - 1, 1);
	assert_int_equal(cr_agent_decoder_next(&d, &f, NULL), 1);
	assert_int_equal(f.len, n);
	assert_int_equal(f.payload[n - 1], 'z');
	cr_agent_decoder_free(&d);
	/* a cr_buf whose cap cannot hold the frame leaves nothing behind */
	cr_buf small;
	cr_buf_init(&small, 12);
	assert_int_equal(cr_agent_encode(&small, CR_AGENT_STDOUT, 1, "0123456789", 10), -1);
	assert_int_equal(small.len, 0);
	cr_buf_free(&small);
	cr_buf_free(&b);
	free(big);
}

static void test_decoder_overrun(void **state)
{
	(void)state;
	/* feeding whole frames without ever taking them stops at a hard cap */
	cr_buf b;
	cr_buf_init(&b, 4u << 20);
	unsigned char *chunk = calloc(1, 512u << 10);
	assert_int_equal(cr_agent_encode(&b, CR_AGENT_STDOUT, 1, chunk, 512u << 10), 0);
	cr_agent_decoder d;
	cr_agent_decoder_init(&d);
	for (int i = 0; i < 8; i++)
		cr_agent_decoder_feed(&d, b.data, b.len);
	assert_true(d.broken);
	cr_agent_frame f;
	cr_error *err = NULL;
	assert_int_equal(cr_agent_decoder_next(&d, &f, &err), -1);
	cr_error_free(err);
	cr_agent_decoder_free(&d);
	cr_buf_free(&b);
	free(chunk);
}

static json_t *payload_json(const char *text, cr_error **err)
{
	cr_agent_frame f = {
		.type = CR_AGENT_EXIT, .payload = (const unsigned char *)text, .len = strlen(text)};
	return cr_agent_frame_json(&f, err);
}

static void test_frame_json(void **state)
{
	(void)state;
	const char *bad[] = {"", "[]", "1", "\"x\"", "{", "{\"code\":1,\"code\":2}", "{\"a\":1} x"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_error *err = NULL;
		assert_null(payload_json(bad[i], &err));
		assert_non_null(err);
		assert_non_null(strstr(err->msg, "EXIT payload"));
		cr_error_free(err);
	}
	json_t *j = payload_json("{\"signal\":9,\"code\":137}", NULL);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "code")), 137);
	json_decref(j);
}

static json_t *exec_json(const char *text)
{
	json_t *j = json_loads(text, JSON_ALLOW_NUL, NULL);
	assert_non_null(j);
	return j;
}

static void test_exec_req_round_trip(void **state)
{
	(void)state;
	char *argv[] = {"/bin/sh", "-lc", "echo \"$HOME\"", NULL};
	char *env[] = {"HOME=/root", "PATH=/usr/bin:/bin", "EMPTY=", NULL};
	cr_agent_exec_req r = {.argv = argv,
			       .env = env,
			       .cwd = "/workspace",
			       .uid = 1000,
			       .gid = 4294967294u,
			       .tty = true,
			       .cols = 65535,
			       .rows = 0};
	json_t *j = cr_agent_exec_req_to_json(&r);
	assert_non_null(j);
	cr_agent_exec_req back;
	assert_int_equal(cr_agent_exec_req_from_json(j, &back, NULL), 0);
	json_decref(j);
	assert_null(back.internal);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(back.argv[i], argv[i]);
		assert_string_equal(back.env[i], env[i]);
	}
	assert_null(back.argv[3]);
	assert_null(back.env[3]);
	assert_string_equal(back.cwd, "/workspace");
	assert_int_equal(back.uid, 1000);
	assert_int_equal(back.gid, 4294967294u);
	assert_true(back.tty);
	assert_int_equal(back.cols, 65535);
	assert_int_equal(back.rows, 0);
	cr_agent_exec_req_clear(&back);
	assert_null(back.argv);
	cr_agent_exec_req_clear(&back); /* twice is harmless */
}

static void test_exec_req_defaults_internal(void **state)
{
	(void)state;
	json_t *j = exec_json("{\"argv\":[\"true\"]}");
	cr_agent_exec_req r;
	assert_int_equal(cr_agent_exec_req_from_json(j, &r, NULL), 0);
	json_decref(j);
	assert_string_equal(r.cwd, "/");
	assert_non_null(r.env);
	assert_null(r.env[0]);
	assert_false(r.tty);
	assert_int_equal(r.cols, 80);
	assert_int_equal(r.rows, 24);
	assert_int_equal(r.uid, 0);
	cr_agent_exec_req_clear(&r);

	j = exec_json("{\"internal\":\"read-file\",\"argv\":[]}");
	assert_int_equal(cr_agent_exec_req_from_json(j, &r, NULL), 0);
	json_decref(j);
	assert_string_equal(r.internal, "read-file");
	assert_null(r.argv[0]);
	json_t *again = cr_agent_exec_req_to_json(&r);
	assert_string_equal(json_string_value(json_object_get(again, "internal")), "read-file");
	json_decref(again);
	cr_agent_exec_req_clear(&r);

	j = exec_json("{\"internal\":\"extract\"}");
	assert_int_equal(cr_agent_exec_req_from_json(j, &r, NULL), 0);
	json_decref(j);
	cr_agent_exec_req_clear(&r);
}

static void test_exec_req_invalid(void **state)
{
	(void)state;
	static const struct {
		const char *json, *needle;
	} cases[] = {
		{"[]", "JSON object"},
		{"{}", "argv is required"},
		{"{\"argv\":[]}", "argv is empty"},
		{"{\"argv\":[\"\"]}", "argv[0] is empty"},
		{"{\"argv\":\"ls\"}", "argv must be an array"},
		{"{\"argv\":[\"ls\",1]}", "argv must be a string"},
		{"{\"argv\":[\"l\\u0000s\"]}", "NUL byte"},
		{"{\"argv\":[\"ls\"],\"env\":[\"NOEQUALS\"]}", "not NAME=VALUE"},
		{"{\"argv\":[\"ls\"],\"env\":[\"=x\"]}", "not NAME=VALUE"},
		{"{\"argv\":[\"ls\"],\"env\":{}}", "env must be an array"},
		{"{\"argv\":[\"ls\"],\"cwd\":\"tmp\"}", "cwd must be absolute"},
		{"{\"argv\":[\"ls\"],\"cwd\":5}", "cwd must be a string"},
		{"{\"argv\":[\"ls\"],\"uid\":-1}", "uid must be"},
		{"{\"argv\":[\"ls\"],\"uid\":4294967295}", "uid must be"},
		{"{\"argv\":[\"ls\"],\"gid\":\"0\"}", "gid must be"},
		{"{\"argv\":[\"ls\"],\"cols\":65536}", "cols must be"},
		{"{\"argv\":[\"ls\"],\"rows\":1.5}", "rows must be"},
		{"{\"argv\":[\"ls\"],\"tty\":1}", "tty must be a boolean"},
		{"{\"argv\":[\"ls\"],\"shell\":true}", "unknown key 'shell'"},
		{"{\"argv\":[\"ls\"],\"internal\":\"rm\"}", "unknown internal command"},
		{"{\"argv\":[\"ls\"],\"internal\":3}", "internal must be a string"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = exec_json(cases[i].json);
		cr_agent_exec_req r = {0};
		cr_error *err = NULL;
		assert_int_equal(cr_agent_exec_req_from_json(j, &r, &err), -1);
		if (!strstr(err->msg, cases[i].needle))
			fail_msg("%s: got '%s', want '%s'", cases[i].json, err->msg, cases[i].needle);
		assert_null(r.argv);
		cr_error_free(err);
		json_decref(j);
	}
}

static void test_exec_req_caps(void **state)
{
	(void)state;
	json_t *argv = json_array();
	for (int i = 0; i < 4097; i++)
		json_array_append_new(argv, json_string("x"));
	json_t *j = json_pack("{s:o}", "argv", argv);
	cr_agent_exec_req r = {0};
	cr_error *err = NULL;
	assert_int_equal(cr_agent_exec_req_from_json(j, &r, &err), -1);
	assert_non_null(strstr(err->msg, "more than 4096"));
	cr_error_free(err);
	json_decref(j);

	char *long_arg = malloc((128u << 10) + 2);
	memset(long_arg, 'a', (128u << 10) + 1);
	long_arg[(128u << 10) + 1] = '\0';
	j = json_pack("{s:[s]}", "argv", long_arg);
	err = NULL;
	assert_int_equal(cr_agent_exec_req_from_json(j, &r, &err), -1);
	assert_non_null(strstr(err->msg, "longer than"));
	cr_error_free(err);
	json_decref(j);
	free(long_arg);
}

static void test_write_all(void **state)
{
	(void)state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	/* a non-blocking pipe smaller than the data: write_all waits for room */
	fcntl(p[1], F_SETFL, O_NONBLOCK);
	fcntl(p[1], F_SETPIPE_SZ, 4096);
	size_t n = 256u << 10;
	unsigned char *data = malloc(n);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(cr_agent_write_all(p[1], data, n, NULL) == 0 ? 0 : 1);
	}
	close(p[1]);
	unsigned char *got = malloc(n);
	size_t have = 0;
	ssize_t r;
	while (have < n && (r = read(p[0], got + have, n - have)) > 0)
		have += (size_t)r;
	assert_int_equal(have, n);
	assert_memory_equal(got, data, n);
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	free(got);
	free(data);

	/* nobody reads: EPIPE, reported with its errno */
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	cr_error *err = NULL;
	assert_int_equal(cr_agent_write_all(p[1], "x", 1, &err), -1);
	assert_int_equal(err->status, EPIPE);
	cr_error_free(err);
	close(p[1]);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_round_trip_whole),
		cmocka_unit_test(test_round_trip_split),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_unknown_types),
		cmocka_unit_test(test_max_payload),
		cmocka_unit_test(test_decoder_overrun),
		cmocka_unit_test(test_frame_json),
		cmocka_unit_test(test_exec_req_round_trip),
		cmocka_unit_test(test_exec_req_defaults_internal),
		cmocka_unit_test(test_exec_req_invalid),
		cmocka_unit_test(test_exec_req_caps),
		cmocka_unit_test(test_write_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
