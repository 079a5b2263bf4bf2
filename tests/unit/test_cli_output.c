/* SPDX-License-Identifier: Apache-2.0 */
/* test_cli_output.c -- the formatting shared by the CLI's inspection and
 * administration commands (src/cli/output.c): tables, field lists, ages,
 * durations, times, enum names, hashes, argv quoting, sizes, signal names,
 * option parsing and the error line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "cleanroom/v1/execution.pb-c.h"
#include "cleanroom/v1/sandbox.pb-c.h"
#include "cli/output.h"

/* Runs fn(arg) with `stream` (stdout or stderr) captured; returns the text. */
static char *capture(FILE *stream, void (*fn)(void *), void *arg)
{
	fflush(stream);
	int fd = fileno(stream), saved = dup(fd);
	FILE *tmp = tmpfile();
	assert_non_null(tmp);
	dup2(fileno(tmp), fd);
	fn(arg);
	fflush(stream);
	dup2(saved, fd);
	close(saved);
	long len = ftell(tmp);
	char *out = calloc(1, (size_t)len + 1);
	rewind(tmp);
	assert_int_equal(fread(out, 1, (size_t)len, tmp), (size_t)len);
	fclose(tmp);
	return out;
}

static char *render(const cr_table *t)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	cr_table_print(t, f);
	fclose(f);
	return text;
}

static void test_table(void **state)
{
	(void)state;
	cr_table t;
	cr_table_init(&t, 3, (const char *const[]){"ID", "STATUS", "MESSAGE"});
	cr_table_add(&t, (const char *const[]){"sb-1", "ready", "ok"});
	cr_table_add(&t, (const char *const[]){"sb-longer", NULL, "two words"});
	char *text = render(&t);
	assert_string_equal(text, "ID         STATUS  MESSAGE\n"
				  "sb-1       ready   ok\n"
				  "sb-longer  -       two words\n");
	free(text);
	cr_table_clear(&t);
	assert_int_equal(t.n_rows, 0);
}

static void test_table_sanitizes_and_counts_code_points(void **state)
{
	(void)state;
	cr_table t;
	cr_table_init(&t, 2, (const char *const[]){"K", "V"});
	/* "é" is two bytes but one column; ESC and newline would rewrite the terminal */
	cr_table_add(&t, (const char *const[]){"\xc3\xa9", "a\x1b[2Jb\nc"});
	cr_table_add(&t, (const char *const[]){"xy", ""});
	char *text = render(&t);
	assert_string_equal(text, "K   V\n"
				  "\xc3\xa9   a?[2Jb?c\n"
				  "xy  \n");
	free(text);
	cr_table_clear(&t);
}

static void print_fields_example(void *arg)
{
	(void)arg;
	const char *kv[] = {"sandbox", "sb-1", "reason",      NULL,  "status",
			    "ready",   "",     "second line", "msg", "x\ty"};
	cr_print_fields(stdout, kv, 5);
}

static void test_fields(void **state)
{
	(void)state;
	char *out = capture(stdout, print_fields_example, NULL);
	assert_string_equal(out, "sandbox: sb-1\n"
				 "status:  ready\n"
				 "         second line\n"
				 "msg:     x?y\n");
	free(out);
}

static void test_ages(void **state)
{
	(void)state;
	char b[32];
	const struct {
		int64_t now, then;
		const char *want;
	} cases[] = {
		{1000, 988, "12s ago"},
		{1000, 1000, "0s ago"},
		{1000, 941, "59s ago"},
		{1000, 940, "1m ago"},
		{4600, 1001, "59m ago"},
		{4600, 1000, "1h ago"},
		{1000 + 2 * 86400 + 5, 1000, "2d ago"},
		{1000, 1300, "in 5m"},
		{1000, 0, "-"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_fmt_age(b, sizeof(b), cases[i].now, cases[i].then);
		assert_string_equal(b, cases[i].want);
	}
}

static void test_durations(void **state)
{
	(void)state;
	char b[32];
	const struct {
		int64_t s;
		const char *want;
	} cases[] = {{0, "0s"},      {45, "45s"},    {60, "1m"},      {723, "12m3s"}, {3600, "1h"},
		     {3660, "1h1m"}, {3661, "1h1m"}, {90000, "1d1h"}, {86400, "1d"},  {-5, "0s"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_fmt_duration(b, sizeof(b), cases[i].s);
		assert_string_equal(b, cases[i].want);
	}
}

static void test_times(void **state)
{
	(void)state;
	char b[32];
	Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	ts.seconds = 1735787045; /* 2025-01-02T03:04:05Z */
	ts.nanos = 999000000;
	cr_fmt_time(b, sizeof(b), &ts);
	assert_string_equal(b, "2025-01-02T03:04:05Z");
	assert_int_equal(cr_ts_seconds(&ts), 1735787045);
	cr_fmt_time(b, sizeof(b), NULL);
	assert_string_equal(b, "-");
	assert_int_equal(cr_ts_seconds(NULL), 0);
}

static void test_enum_names(void **state)
{
	(void)state;
	char b[32];
	cr_fmt_enum(b, sizeof(b), &cleanroom__v1__sandbox_status__descriptor,
		    CLEANROOM__V1__SANDBOX_STATUS__SANDBOX_STATUS_READY);
	assert_string_equal(b, "ready");
	cr_fmt_enum(b, sizeof(b), &cleanroom__v1__execution_status__descriptor,
		    CLEANROOM__V1__EXECUTION_STATUS__EXECUTION_STATUS_TIMED_OUT);
	assert_string_equal(b, "timed_out");
	cr_fmt_enum(b, sizeof(b), &cleanroom__v1__doctor_check_status__descriptor,
		    CLEANROOM__V1__DOCTOR_CHECK_STATUS__DOCTOR_CHECK_STATUS_WARN);
	assert_string_equal(b, "warn");
	cr_fmt_enum(b, sizeof(b), &cleanroom__v1__sandbox_status__descriptor, 99);
	assert_string_equal(b, "unknown(99)");
}

static void test_values(void **state)
{
	(void)state;
	char b[32];
	cr_fmt_short_hash(b, sizeof(b), "sha256:0123456789abcdef0123");
	assert_string_equal(b, "0123456789ab");
	cr_fmt_short_hash(b, sizeof(b), "fedcba9876543210");
	assert_string_equal(b, "fedcba987654");
	cr_fmt_short_hash(b, sizeof(b), "");
	assert_string_equal(b, "-");

	cr_fmt_bytes(b, sizeof(b), 512);
	assert_string_equal(b, "512 B");
	cr_fmt_bytes(b, sizeof(b), 1536);
	assert_string_equal(b, "1.5 KiB");
	cr_fmt_bytes(b, sizeof(b), 3u << 20);
	assert_string_equal(b, "3.0 MiB");
	cr_fmt_bytes(b, sizeof(b), 5ull << 30);
	assert_string_equal(b, "5.0 GiB");

	char *argv[] = {"sh", "-c", "echo 'hi' $HOME", "", "a=b,c/d.e"};
	char *line = cr_fmt_argv(argv, 5);
	assert_string_equal(line, "sh -c 'echo '\\''hi'\\'' $HOME' '' a=b,c/d.e");
	free(line);
	line = cr_fmt_argv(argv, 0);
	assert_string_equal(line, "");
	free(line);
}

static void test_signals(void **state)
{
	(void)state;
	assert_int_equal(cr_parse_signal("9"), 9);
	assert_int_equal(cr_parse_signal("KILL"), 9);
	assert_int_equal(cr_parse_signal("SIGTERM"), 15);
	assert_int_equal(cr_parse_signal("sigint"), 2);
	assert_int_equal(cr_parse_signal("hup"), 1);
	assert_int_equal(cr_parse_signal("0"), -1);
	assert_int_equal(cr_parse_signal("9x"), -1);
	assert_int_equal(cr_parse_signal("65"), -1);
	assert_int_equal(cr_parse_signal("BOGUS"), -1);
	assert_int_equal(cr_parse_signal(""), -1);
	assert_int_equal(cr_parse_signal(NULL), -1);
}

static int record_opt(void *ctx, int val, const char *arg)
{
	char *seen = ctx;
	size_t l = strlen(seen);
	snprintf(seen + l, 64 - l, "%c=%s;", val < 256 ? val : '#', arg ? arg : "");
	return 0;
}

static void test_parse_opts(void **state)
{
	(void)state;
	static const cr_cli_opt extra[] = {{"all", false, 'a'}, {"sandbox", true, 300}, {0}};
	char *argv[] = {"ls",        "one",  "--host", "/tmp/x.sock", "--json",
			"--sandbox", "sb-1", "-a",     "two",         NULL};
	cr_cli_opts o = {0};
	char seen[64] = "";
	int first =
		cr_cli_parse_opts(9, argv, "cleanroom x ls", "cleanroom x ls", &o, extra, record_opt, seen);
	assert_int_equal(first, 7); /* operands are moved to the end */
	assert_string_equal(argv[7], "one");
	assert_string_equal(argv[8], "two");
	assert_string_equal(o.host, "/tmp/x.sock");
	assert_true(o.json);
	assert_string_equal(seen, "#=sb-1;a=;");

	char *bad[] = {"ls", "--bogus", NULL};
	cr_cli_opts o2 = {0};
	assert_int_equal(cr_cli_parse_opts(2, bad, "cleanroom x ls", "u", &o2, NULL, NULL, NULL), -1);
	assert_int_equal(cr_cli_parse_exit(-1), 2);
	char *missing[] = {"ls", "--host", NULL};
	assert_int_equal(cr_cli_parse_opts(2, missing, "cleanroom x ls", "u", &o2, NULL, NULL, NULL), -1);
	assert_int_equal(cr_cli_parse_exit(-2), 0);
}

static void print_error_example(void *arg)
{
	(void)arg;
	cr_cli_print_error("cleanroom sandbox get", "not_found", "no sandbox 'sb-\x1b'",
			   "`cleanroom sandbox ls` lists them");
	cr_cli_print_error("cleanroom status", "internal", "boom", NULL);
}

static void test_error_line(void **state)
{
	(void)state;
	char *err = capture(stderr, print_error_example, NULL);
	assert_string_equal(err, "cleanroom sandbox get: error[not_found]: no sandbox 'sb-?'\n"
				 "hint: `cleanroom sandbox ls` lists them\n"
				 "cleanroom status: error[internal]: boom\n");
	free(err);
}

static void print_json_example(void *arg)
{
	Cleanroom__V1__GetSandboxResponse r = CLEANROOM__V1__GET_SANDBOX_RESPONSE__INIT;
	Cleanroom__V1__Sandbox s = CLEANROOM__V1__SANDBOX__INIT;
	s.sandbox_id = "sb-1";
	s.status = CLEANROOM__V1__SANDBOX_STATUS__SANDBOX_STATUS_STOPPED;
	r.sandbox = &s;
	*(int *)arg = cr_cli_print_json("cleanroom sandbox get", &r.base);
}

static void test_json_line(void **state)
{
	(void)state;
	int rc = -2;
	char *out = capture(stdout, print_json_example, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out,
			    "{\"sandbox\":{\"sandboxId\":\"sb-1\",\"status\":\"SANDBOX_STATUS_STOPPED\"}}\n");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_sanitizes_and_counts_code_points),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_ages),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_times),
		cmocka_unit_test(test_enum_names),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_parse_opts),
		cmocka_unit_test(test_error_line),
		cmocka_unit_test(test_json_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
