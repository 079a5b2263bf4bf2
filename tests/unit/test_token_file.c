/* SPDX-License-Identifier: Apache-2.0 */
/* test_token_file.c -- the bearer tokens of the TCP listener: the token file
 * (syntax, line numbers in errors, owner-only mode), the Authorization check
 * and the actor it yields, and the HOST:PORT syntax of --listen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/http_tls.h"
#include "util/sha256.h"
#include "util/xalloc.h"

#define TOKEN_A "abcdefghijklmnopqrstuvwxyz012345" /* exactly 32 */
#define TOKEN_B "Rotated-token_2.~+/abcdefghijklmnopq=="

static cr_http_tokens *parse_ok(const char *text)
{
	cr_http_tokens *t = NULL;
	cr_error *err = NULL;
	int rc = cr_http_tokens_parse(text, strlen(text), "tokens", &t, &err);
	if (rc < 0)
		fail_msg("unexpected error: %s", err->msg);
	return t;
}

/* The error message of a refused text (owned). */
static char *parse_err(const char *text, size_t len)
{
	cr_http_tokens *t = NULL;
	cr_error *err = NULL;
	assert_int_equal(cr_http_tokens_parse(text, len, "tokens", &t, &err), -1);
	assert_null(t);
	char *msg = cr_xstrdup(err->msg);
	cr_error_free(err);
	return msg;
}

static void expect_parse_err(const char *text, const char *needle)
{
	char *msg = parse_err(text, strlen(text));
	if (!strstr(msg, needle))
		fail_msg("'%s' does not contain '%s'", msg, needle);
	free(msg);
}

static char *actor_of(const char *token)
{
	char hex[CR_SHA256_HEX_LEN + 1];
	cr_sha256_hex(token, strlen(token), hex);
	return cr_asprintf("token:%.8s", hex);
}

static void test_syntax(void **state)
{
	(void)state;
	cr_http_tokens *t = parse_ok("# comment\n\n   \n\t" TOKEN_A "  \r\n  # another\n" TOKEN_B);
	assert_int_equal(cr_http_tokens_count(t), 2);
	cr_http_tokens_free(t);
	t = parse_ok(TOKEN_A "\r\n" TOKEN_A "\n"); /* duplicates are harmless */
	assert_int_equal(cr_http_tokens_count(t), 2);
	cr_http_tokens_free(t);
}

static void test_refusals(void **state)
{
	(void)state;
	expect_parse_err("", "holds no token");
	expect_parse_err("# nothing\n\n", "holds no token");
	expect_parse_err(TOKEN_A "\n\nabcdefghijklmnopqrstuvwxyz01234\n",
			 "line 3: a token has 32 to 4096 characters, this one 31");
	expect_parse_err(TOKEN_A " " TOKEN_A "\n", "line 1: a token may hold only");
	expect_parse_err("abc=defghijklmnopqrstuvwxyz0123456789\n", "line 1: a token may hold only");
	expect_parse_err("================================\n", "line 1: a token may hold only");
	expect_parse_err("abcdefghijklmnopqrstuvwxyz0123456789\xc3\xa9\n", "a token may hold only");
	/* a NUL byte would cut the token short when read as a string */
	char *msg = parse_err(TOKEN_A "\n" TOKEN_A "\0" TOKEN_A "\n", 2 * 33 + 32 + 1);
	assert_non_null(strstr(msg, "line 2: a NUL byte"));
	free(msg);
	char *long_token = cr_xmalloc(CR_HTTP_TOKEN_MAX_LEN + 2);
	memset(long_token, 'a', CR_HTTP_TOKEN_MAX_LEN + 1);
	long_token[CR_HTTP_TOKEN_MAX_LEN + 1] = '\0';
	expect_parse_err(long_token, "this one 4097");
	free(long_token);
	/* the message never repeats the token */
	msg = parse_err("not-a-valid token-because-of-the-space\n", 39);
	assert_null(strstr(msg, "not-a-valid"));
	free(msg);
}

static void test_check(void **state)
{
	(void)state;
	cr_http_tokens *t = parse_ok(TOKEN_A "\n" TOKEN_B "\n");
	char *actor_a = actor_of(TOKEN_A), *actor_b = actor_of(TOKEN_B);
	const char *got = cr_http_tokens_check(t, "Bearer " TOKEN_A);
	assert_non_null(got);
	assert_string_equal(got, actor_a);
	assert_string_equal(cr_http_tokens_check(t, "bearer   " TOKEN_B " "), actor_b);
	assert_string_equal(cr_http_tokens_check(t, "BEARER " TOKEN_B), actor_b);
	assert_string_not_equal(actor_a, actor_b);
	assert_null(strstr(got, TOKEN_A));
	assert_int_equal(strlen(got), strlen("token:") + 8);

	const char *refused[] = {NULL,
				 "",
				 "Bearer",
				 "Bearer ",
				 "Bearer  ",
				 TOKEN_A,
				 "Basic " TOKEN_A,
				 "Bearer" TOKEN_A,
				 "Bearer " TOKEN_A "x",
				 "Bearer abcdefghijklmnopqrstuvwxyz01234",
				 "Bearer ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
				 "Bearer " TOKEN_A " " TOKEN_A};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (cr_http_tokens_check(t, refused[i]))
			fail_msg("accepted '%s'", refused[i] ? refused[i] : "(null)");
	assert_null(cr_http_tokens_check(NULL, "Bearer " TOKEN_A));
	free(actor_a);
	free(actor_b);
	cr_http_tokens_free(t);
}

static char *write_tokens(const char *text, mode_t mode)
{
	char *path = cr_xstrdup("/tmp/cr-token-test-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static void expect_load_err(const char *path, const char *needle)
{
	cr_http_tokens *t = NULL;
	cr_error *err = NULL;
	assert_int_equal(cr_http_tokens_load(path, &t, &err), -1);
	assert_null(t);
	if (!strstr(err->msg, needle))
		fail_msg("'%s' does not contain '%s'", err->msg, needle);
	cr_error_free(err);
}

static void test_load(void **state)
{
	(void)state;
	char *path = write_tokens("# rotation: old and new\n" TOKEN_A "\n" TOKEN_B "\n", 0600);
	cr_http_tokens *t = NULL;
	cr_error *err = NULL;
	assert_int_equal(cr_http_tokens_load(path, &t, &err), 0);
	assert_int_equal(cr_http_tokens_count(t), 2);
	assert_non_null(cr_http_tokens_check(t, "Bearer " TOKEN_B));
	cr_http_tokens_free(t);

	static const mode_t open_modes[] = {0644, 0640, 0604, 0620, 0602, 0610, 0601};
	for (size_t i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
		assert_int_equal(chmod(path, open_modes[i]), 0);
		char needle[64];
		snprintf(needle, sizeof(needle), "has mode %04o", (unsigned)open_modes[i]);
		expect_load_err(path, needle);
		expect_load_err(path, "group and others must have no access");
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(cr_http_tokens_load(path, &t, &err), 0);
	cr_http_tokens_free(t);

	char *link = cr_asprintf("%s.link", path);
	assert_int_equal(symlink(path, link), 0);
	expect_load_err(link, "open token file");
	unlink(link);
	free(link);
	expect_load_err("/tmp", "is not a regular file");
	expect_load_err("/nonexistent/tokens", "No such file");
	unlink(path);
	free(path);

	char *big = cr_xmalloc(CR_HTTP_TOKEN_FILE_CAP + 2);
	memset(big, '#', CR_HTTP_TOKEN_FILE_CAP + 1);
	big[CR_HTTP_TOKEN_FILE_CAP + 1] = '\0';
	path = write_tokens(big, 0600);
	expect_load_err(path, "is larger than 65536 bytes");
	unlink(path);
	free(path);
	free(big);
}

static void expect_split(const char *spec, const char *host, const char *port)
{
	char *h = NULL, *p = NULL;
	cr_error *err = NULL;
	if (cr_http_split_listen(spec, &h, &p, &err) < 0)
		fail_msg("'%s': %s", spec, err->msg);
	assert_string_equal(h, host);
	assert_string_equal(p, port);
	free(h);
	free(p);
}

static void expect_split_err(const char *spec)
{
	char *h = NULL, *p = NULL;
	cr_error *err = NULL;
	if (cr_http_split_listen(spec, &h, &p, &err) == 0)
		fail_msg("'%s' accepted as '%s' port '%s'", spec, h, p);
	cr_error_free(err);
}

static void test_listen_syntax(void **state)
{
	(void)state;
	expect_split("127.0.0.1:8443", "127.0.0.1", "8443");
	expect_split("localhost:0", "localhost", "0");
	expect_split("[::1]:8443", "::1", "8443");
	expect_split("[::]:65535", "::", "65535");
	expect_split("0.0.0.0:008443", "0.0.0.0", "8443");
	const char *bad[] = {"127.0.0.1",       ":8443",
			     "127.0.0.1:",      "127.0.0.1:65536",
			     "127.0.0.1:-1",    "127.0.0.1:+1",
			     "127.0.0.1:8443x", "::1:8443",
			     "[::1]8443",       "[::1]",
			     "[]:8443",         "[::1:8443",
			     "127.0.0.1: 80",   ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_split_err(bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syntax),        cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_check),         cmocka_unit_test(test_load),
		cmocka_unit_test(test_listen_syntax),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
