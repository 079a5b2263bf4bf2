/* SPDX-License-Identifier: Apache-2.0 */
/* test_util.c -- canonical JSON, capped buffers, reason codes (and their
 * documentation), YAML limits and small shared validators. */
#include "testutil.h"

#include <stdlib.h>

#include "audit/reason.h"
#include "policy/locate.h"
#include "policy/yamltree.h"
#include "util/buf.h"
#include "util/canonjson.h"
#include "util/fileio.h"

static void test_canonical_json(void **state)
{
	(void)state;
	json_t *j = json_loads(
		"{\"b\":[1,-2,{\"z\":null,\"a\":true}],\"a\":\"x\\\"\\\\/\\u0001\\n\\t\\u00e9\",\"\":false}",
		0, NULL);
	assert_non_null(j);
	char *s = cr_json_canonical(j, NULL, NULL);
	assert_string_equal(s, "{\"\":false,\"a\":\"x\\\"\\\\/"
			       "\\u0001\\n\\t\xc3\xa9\",\"b\":[1,-2,{\"a\":true,\"z\":null}]}");
	free(s);
	json_decref(j);
	json_t *real = json_pack("{s:f}", "x", 1.5);
	cr_error *err = NULL;
	assert_null(cr_json_canonical(real, NULL, &err));
	assert_non_null(strstr(err->msg, "integers only"));
	cr_error_free(err);
	json_decref(real);
}

static void test_buf_cap(void **state)
{
	(void)state;
	cr_buf b;
	cr_buf_init(&b, 4);
	assert_int_equal(cr_buf_puts(&b, "abcd"), 0);
	assert_int_equal(cr_buf_putc(&b, 'e'), -1);
	assert_string_equal(b.data, "abcd");
	cr_buf_free(&b);
}

static void test_reason_names(void **state)
{
	(void)state;
	const char *v1[] = {"policy_invalid",       "policy_conflict",
			    "backend_unavailable",  "backend_capability_mismatch",
			    "host_not_allowed",     "registry_not_allowed",
			    "lockfile_violation",   "secret_scope_violation",
			    "runtime_launch_failed"};
	for (size_t i = 0; i < sizeof(v1) / sizeof(v1[0]); i++) {
		cr_reason r = cr_reason_from_name(v1[i]);
		assert_int_not_equal(r, CR_REASON_NONE);
		assert_string_equal(cr_reason_name(r), v1[i]);
	}
	assert_int_equal(cr_reason_from_name("nope"), CR_REASON_NONE);
}

/* docs/reason-codes.md lists every code as "| `name` | meaning |". */
static void test_reason_docs(void **state)
{
	(void)state;
	char *doc = NULL;
	size_t len;
	cr_error *err = NULL;
	if (cr_read_file("docs/reason-codes.md", 1 << 20, &doc, &len, &err) < 0)
		fail_msg("%s", err->msg);
	for (unsigned r = 1; r < CR_REASON__COUNT; r++) {
		char needle[128];
		snprintf(needle, sizeof(needle), "| `%s` |", cr_reason_name((cr_reason)r));
		if (!strstr(doc, needle))
			fail_msg("docs/reason-codes.md does not list %s", cr_reason_name((cr_reason)r));
	}
	free(doc);
}

static void test_yaml_depth_cap(void **state)
{
	(void)state;
	char buf[256] = "a: ";
	for (int i = 0; i < 40; i++)
		strncat(buf, "[", sizeof(buf) - strlen(buf) - 1);
	cr_diags d = {0};
	cr_ynode *root = NULL;
	assert_int_equal(cr_yaml_parse(buf, strlen(buf), "f", &root, &d), -1);
	assert_non_null(find_diag(&d, "deeper than 32"));
	cr_diags_clear(&d);
}

static void test_yaml_positions(void **state)
{
	(void)state;
	const char *y = "a:\n  b: [1, \"two\"]\n";
	cr_diags d = {0};
	cr_ynode *root = NULL;
	assert_int_equal(cr_yaml_parse(y, strlen(y), "f", &root, &d), 0);
	const cr_ynode *b = cr_ymap_get(cr_ymap_get(root, "a"), "b");
	assert_int_equal(b->line, 2);
	assert_int_equal(b->col, 6);
	assert_int_equal(b->items[1]->col, 10);
	assert_true(b->items[1]->quoted);
	cr_ynode_free(root);
}

static void test_strip_credentials(void **state)
{
	(void)state;
	char a[] = "https://user:tok@github.com/org/repo.git", b[] = "git@github.com:org/repo.git",
	     c[] = "ssh://git@host.example/x";
	cr_url_strip_credentials(a);
	cr_url_strip_credentials(b);
	cr_url_strip_credentials(c);
	assert_string_equal(a, "https://github.com/org/repo.git");
	assert_string_equal(b, "git@github.com:org/repo.git");
	assert_string_equal(c, "ssh://host.example/x");
}

static void test_relpath(void **state)
{
	(void)state;
	const char *ok[] = {"a", "a/b.json", ".mise/config.toml", "a..b/c"};
	const char *bad[] = {"", "/abs", "../x", "a/../b", "a/..", "a\\b"};
	for (size_t i = 0; i < 4; i++)
		assert_null(cr_policy_check_relpath(ok[i]));
	for (size_t i = 0; i < 6; i++) {
		char *why = cr_policy_check_relpath(bad[i]);
		assert_non_null(why);
		free(why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical_json),    cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_reason_names),      cmocka_unit_test(test_reason_docs),
		cmocka_unit_test(test_yaml_depth_cap),    cmocka_unit_test(test_yaml_positions),
		cmocka_unit_test(test_strip_credentials), cmocka_unit_test(test_relpath),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
