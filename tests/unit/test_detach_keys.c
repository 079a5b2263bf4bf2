/* SPDX-License-Identifier: Apache-2.0 */
/* test_detach_keys.c -- the detach sequence of interactive sessions:
 * parsing docker's "ctrl-p,ctrl-q" form, and the matcher that holds back a
 * possible beginning of the sequence, forwards it when it turns out to be
 * typing, and detects the sequence across reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/detach_keys.h"

#define CTRL_P 0x10
#define CTRL_Q 0x11

static cr_detach_keys keys_of(const char *spec)
{
	cr_detach_keys k;
	cr_error *e = NULL;
	if (cr_detach_keys_parse(spec, &k, &e) < 0)
		fail_msg("parse '%s': %s", spec, e->msg);
	return k;
}

/* Feeds `in` (len bytes) and checks the forwarded bytes and the verdict. */
static void scan(cr_detach_keys *k, const char *in, size_t len, const char *want, size_t want_len,
		 bool want_detach)
{
	unsigned char out[64 + CR_DETACH_KEYS_MAX];
	size_t n = 12345;
	assert_true(len <= 64);
	bool d = cr_detach_keys_scan(k, (const unsigned char *)in, len, out, &n);
	assert_int_equal(d, want_detach);
	assert_int_equal(n, want_len);
	assert_memory_equal(out, want, want_len);
}

static void test_parse(void **state)
{
	(void)state;
	cr_detach_keys k = keys_of(CR_DETACH_KEYS_DEFAULT);
	assert_int_equal(k.len, 2);
	assert_int_equal(k.seq[0], CTRL_P);
	assert_int_equal(k.seq[1], CTRL_Q);
	assert_int_equal(k.matched, 0);

	k = keys_of("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_,ctrl-A,x");
	const unsigned char want[] = {0x00, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x01, 'x'};
	assert_int_equal(k.len, sizeof(want));
	assert_memory_equal(k.seq, want, sizeof(want));

	k = keys_of("");
	assert_int_equal(k.len, 0);
}

static void test_parse_errors(void **state)
{
	(void)state;
	const char *bad[] = {"ctrl-1",           "ctrl-", "ab", ",", "ctrl-p,", ",ctrl-p", "ctrl-pp", "\x01",
			     "a,b,c,d,e,f,g,h,i"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_detach_keys k = {.len = 99};
		cr_error *e = NULL;
		assert_int_equal(cr_detach_keys_parse(bad[i], &k, &e), -1);
		assert_non_null(e);
		assert_int_equal(e->reason, CR_REASON_USAGE_INVALID);
		assert_int_equal(k.len, 99); /* untouched on failure */
		cr_error_free(e);
	}
}

static void test_plain_typing_passes(void **state)
{
	(void)state;
	cr_detach_keys k = keys_of(CR_DETACH_KEYS_DEFAULT);
	scan(&k, "echo hi\r", 8, "echo hi\r", 8, false);
	scan(&k, "\x03\x11q", 3, "\x03\x11q", 3, false); /* Ctrl-C, a lone Ctrl-Q */
}

static void test_sequence_in_one_read(void **state)
{
	(void)state;
	cr_detach_keys k = keys_of(CR_DETACH_KEYS_DEFAULT);
	/* bytes before it are forwarded, bytes after it dropped */
	scan(&k, "ls\x10\x11rm -rf", 10, "ls", 2, true);
	assert_int_equal(k.matched, 0);
}

static void test_sequence_across_reads(void **state)
{
	(void)state;
	cr_detach_keys k = keys_of(CR_DETACH_KEYS_DEFAULT);
	scan(&k, "a\x10", 2, "a", 1, false); /* Ctrl-P held back */
	assert_int_equal(k.matched, 1);
	scan(&k, "\x11", 1, "", 0, true);
}

static void test_false_start_is_forwarded(void **state)
{
	(void)state;
	cr_detach_keys k = keys_of(CR_DETACH_KEYS_DEFAULT);
	scan(&k, "\x10", 1, "", 0, false);
	scan(&k, "x", 1, "\x10x", 2, false); /* Ctrl-P then x: both were typing */
	assert_int_equal(k.matched, 0);
	/* Ctrl-P Ctrl-P Ctrl-Q: the first Ctrl-P is typing, the rest detaches */
	scan(&k, "\x10\x10\x11", 3, "\x10", 1, true);
}

static void test_overlapping_sequence(void **state)
{
	(void)state;
	cr_detach_keys k = keys_of("a,a,b");
	scan(&k, "aaab", 4, "a", 1, true);
	k = keys_of("a,b,a,c");
	scan(&k, "abab", 4, "ab", 2, false); /* "ab" may still begin a,b,a,c */
	assert_int_equal(k.matched, 2);
	scan(&k, "ac", 2, "", 0, true);
	k = keys_of("a,b,a,c");
	scan(&k, "abax", 4, "abax", 4, false);
	assert_int_equal(k.matched, 0);
}

static void test_flush_at_end_of_input(void **state)
{
	(void)state;
	cr_detach_keys k = keys_of(CR_DETACH_KEYS_DEFAULT);
	scan(&k, "q\x10", 2, "q", 1, false);
	unsigned char held[CR_DETACH_KEYS_MAX];
	assert_int_equal(cr_detach_keys_flush(&k, held), 1);
	assert_int_equal(held[0], CTRL_P);
	assert_int_equal(cr_detach_keys_flush(&k, held), 0);
	scan(&k, "\x11", 1, "\x11", 1, false); /* nothing was held any more */
}

static void test_disabled(void **state)
{
	(void)state;
	cr_detach_keys k = keys_of("");
	scan(&k, "\x10\x11", 2, "\x10\x11", 2, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_plain_typing_passes),
		cmocka_unit_test(test_sequence_in_one_read),
		cmocka_unit_test(test_sequence_across_reads),
		cmocka_unit_test(test_false_start_is_forwarded),
		cmocka_unit_test(test_overlapping_sequence),
		cmocka_unit_test(test_flush_at_end_of_input),
		cmocka_unit_test(test_disabled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
