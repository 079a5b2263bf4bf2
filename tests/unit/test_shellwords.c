/* SPDX-License-Identifier: Apache-2.0 */
/* test_shellwords.c -- the shell form of `cleanroom exec`: the exact quoting,
 * and, with a real /bin/sh, that the joined script runs exactly the argv it
 * was built from. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/shellwords.h"
#include "util/buf.h"

static void expect_quote(const char *word, const char *want)
{
	char *q = cr_shell_quote(word);
	assert_string_equal(q, want);
	free(q);
}

static void test_quote_forms(void **state)
{
	(void)state;
	expect_quote("npm", "npm");
	expect_quote("./node_modules/.bin/jest", "./node_modules/.bin/jest");
	expect_quote("--max-old-space=4096", "'--max-old-space=4096'");
	expect_quote("", "''");
	expect_quote("a b", "'a b'");
	expect_quote("it's", "'it'\\''s'");
	expect_quote("$HOME", "'$HOME'");
	expect_quote("*", "'*'");
	expect_quote("~", "'~'");
	expect_quote("#x", "'#x'");
	expect_quote("if", "'if'");
	expect_quote("iffy", "iffy");
	expect_quote("FOO=1", "'FOO=1'");
	expect_quote("\n", "'\n'");
}

static void test_one_word_is_the_script(void **state)
{
	(void)state;
	char *words[] = {"echo hi; exit 3"};
	char *s = cr_shell_script(words, 1);
	assert_string_equal(s, "echo hi; exit 3");
	free(s);
}

static void test_words_are_joined(void **state)
{
	(void)state;
	char *words[] = {"sh", "-c", "exit 7"};
	char *s = cr_shell_script(words, 3);
	assert_string_equal(s, "sh -c 'exit 7'");
	free(s);
}

/* Runs script with /bin/sh -c (popen) and returns its stdout. */
static char *run_sh(const char *script)
{
	FILE *p = popen(script, "r");
	assert_non_null(p);
	cr_buf out;
	cr_buf_init(&out, 1 << 16);
	char chunk[512];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		assert_int_equal(cr_buf_append(&out, chunk, n), 0);
	assert_int_equal(pclose(p), 0);
	return cr_buf_steal(&out, NULL);
}

static void test_shell_runs_the_same_argv(void **state)
{
	(void)state;
	char *words[] = {"printf", "[%s]", "plain", "two words",   "it's",  "$HOME", "*",
			 "",       "a\"b", "x\\y",  "tab\there",   "FOO=1", "if",    "!",
			 "{",      "`id`", "$(id)", "caf\xc3\xa9", "-n"};
	size_t n = sizeof(words) / sizeof(words[0]);
	char *script = cr_shell_script(words, n);
	char *got = run_sh(script);
	cr_buf want;
	cr_buf_init(&want, 1 << 16);
	for (size_t i = 2; i < n; i++) /* words[1] is the format */
		cr_buf_printf(&want, "[%s]", words[i]);
	assert_string_equal(got, want.data);
	cr_buf_free(&want);
	free(got);
	free(script);
}

static void test_assignment_word_is_a_command(void **state)
{
	(void)state;
	/* "X=1 true" typed as separate words: X=1 is the command, so the shell
	 * reports it cannot find it instead of running `true` with X set. */
	char *words[] = {"X=1", "true"};
	char *script = cr_shell_script(words, 2);
	char *cmd = NULL;
	assert_true(asprintf(&cmd, "%s 2>/dev/null; echo $?", script) > 0);
	char *got = run_sh(cmd);
	assert_string_equal(got, "127\n");
	free(got);
	free(cmd);
	free(script);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quote_forms),
		cmocka_unit_test(test_one_word_is_the_script),
		cmocka_unit_test(test_words_are_joined),
		cmocka_unit_test(test_shell_runs_the_same_argv),
		cmocka_unit_test(test_assignment_word_is_a_command),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
