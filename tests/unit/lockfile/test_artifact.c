/* SPDX-License-Identifier: Apache-2.0 */
/* test_artifact.c -- artifact lists, normalisation, the JSON form and its
 * strict reader, the format table, and the shared URL/hash helpers. */
#include "helpers.h"

#include "lockfile/internal.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static cr_artifact mk(const char *name, const char *version, const char *resolved, const char *integrity,
		      const char *lockfile)
{
	return (cr_artifact){.manager = cr_xstrdup("npm"),
			     .name = cr_xstrdup(name),
			     .version = cr_xstrdup(version),
			     .registry = cr_xstrdup("registry.npm.example"),
			     .resolved = cr_xstrdup(resolved),
			     .integrity = cr_xstrdup(integrity),
			     .lockfile = cr_xstrdup(lockfile)};
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(cr_artifact_kind_name(CR_ARTIFACT_REGISTRY), "registry");
	assert_string_equal(cr_artifact_kind_name(CR_ARTIFACT_GIT), "git");
	assert_string_equal(cr_artifact_kind_name(CR_ARTIFACT_TARBALL), "tarball");
	assert_string_equal(cr_artifact_kind_name(CR_ARTIFACT_LOCAL), "local");
	assert_string_equal(cr_artifact_kind_name((cr_artifact_kind)42), "unknown");
}

static void test_formats(void **state)
{
	(void)state;
	const cr_lockfile_format *f = cr_lockfile_format_for("npm", "web/app/package-lock.json");
	assert_non_null(f);
	assert_ptr_equal(f->parse, cr_lockfile_parse_npm);
	assert_string_equal(f->manager, "npm");
	assert_ptr_equal(cr_lockfile_format_for("npm", "npm-shrinkwrap.json")->parse, cr_lockfile_parse_npm);
	assert_ptr_equal(cr_lockfile_format_for("npm", "a/yarn.lock")->parse, cr_lockfile_parse_yarn);
	assert_ptr_equal(cr_lockfile_format_for("pip", "requirements.txt")->parse, cr_lockfile_parse_pip);
	assert_ptr_equal(cr_lockfile_format_for("pip", "reqs/dev-lock.txt")->parse, cr_lockfile_parse_pip);
	assert_null(cr_lockfile_format_for("pip", "requirements.in"));
	assert_null(cr_lockfile_format_for("pip", ".txt"));
	assert_null(cr_lockfile_format_for("npm", "requirements.txt"));
	assert_null(cr_lockfile_format_for("npm", "package.json"));
	assert_null(cr_lockfile_format_for("npm", "package-lock.json/x"));
	assert_null(cr_lockfile_format_for("cargo", "Cargo.lock"));
	assert_null(cr_lockfile_format_for(NULL, "yarn.lock"));
	assert_string_equal(cr_lockfile_formats_hint("npm"),
			    "package-lock.json, npm-shrinkwrap.json or yarn.lock");
	assert_non_null(strstr(cr_lockfile_formats_hint("pip"), "*.txt"));
	assert_non_null(cr_lockfile_formats_hint("cargo"));
	assert_non_null(cr_lockfile_formats_hint(NULL));
}

static void test_copy_clear(void **state)
{
	(void)state;
	cr_artifact a = mk("a", "1", "https://r/a/-/a-1.tgz", "sha512-A", "l");
	a.alias = cr_xstrdup("b");
	a.dev = true;
	a.line = 7;
	cr_artifact c = cr_artifact_copy(&a);
	assert_ptr_not_equal(c.name, a.name);
	assert_string_equal(c.name, "a");
	assert_string_equal(c.alias, "b");
	assert_true(c.dev);
	assert_int_equal(c.line, 7);
	cr_artifact_clear(&a);
	assert_null(a.name);
	assert_string_equal(c.resolved, "https://r/a/-/a-1.tgz");
	cr_artifact_clear(&c);
	cr_artifact_clear(NULL);
	cr_artifact_list_free(NULL);
}

static void test_normalize(void **state)
{
	(void)state;
	cr_artifact_list l = {0};
	cr_artifact a = mk("b", "1", "u1", "sha512-B", "y.lock");
	a.dev = true;
	cr_artifact_list_push(&l, a);
	cr_artifact_list_push(&l, mk("a", "2", "u2", "sha512-A2", "p.json"));
	a = mk("b", "1", "u1", "sha512-B", "p.json"); /* same identity, other file, not dev */
	cr_artifact_list_push(&l, a);
	cr_artifact_list_push(&l, mk("a", "1", "u1", "sha512-A", "p.json"));
	cr_artifact_list_push(&l, mk("a", "1", "u1", "sha512-OTHER", "p.json")); /* differs: kept */
	a = mk("a", "1", "u1", "sha512-A", "p.json");
	a.alias = cr_xstrdup("x"); /* differs by alias: kept */
	cr_artifact_list_push(&l, a);
	cr_artifact_list_push(&l, mk("a", "1", "u1", "sha512-A", "p.json")); /* exact duplicate */
	cr_artifact_list_normalize(&l);
	assert_int_equal(l.n, 5);
	assert_string_equal(l.items[0].name, "a");
	assert_string_equal(l.items[0].version, "1");
	assert_string_equal(l.items[3].version, "2");
	assert_string_equal(l.items[4].name, "b");
	/* the duplicate pair kept the first lockfile and is dev only if both were */
	assert_string_equal(l.items[4].lockfile, "p.json");
	assert_false(l.items[4].dev);
	/* normalising again changes nothing */
	cr_artifact_list_normalize(&l);
	assert_int_equal(l.n, 5);
	cr_artifact_list_free(&l);
	cr_artifact_list_normalize(&l);
}

static void test_normalize_deterministic(void **state)
{
	(void)state;
	/* the same entries in two orders give identical JSON */
	json_t *out[2];
	for (int round = 0; round < 2; round++) {
		cr_artifact_list l = {0};
		for (int i = 0; i < 6; i++) {
			int k = round ? 5 - i : i;
			cr_artifact a = mk(k % 2 ? "x" : "y", k % 3 ? "1" : "2", "u",
					   k < 3 ? "sha1-A" : "sha1-B", "f");
			cr_artifact_list_push(&l, a);
		}
		cr_artifact_list_normalize(&l);
		out[round] = json_array();
		for (size_t i = 0; i < l.n; i++)
			json_array_append_new(out[round], cr_artifact_to_json(&l.items[i]));
		cr_artifact_list_free(&l);
	}
	assert_true(json_equal(out[0], out[1]));
	json_decref(out[0]);
	json_decref(out[1]);
}

static void assert_same(const cr_artifact *x, const cr_artifact *y)
{
	assert_string_equal(x->name, y->name);
	assert_string_equal(x->version, y->version);
	assert_string_equal(x->registry, y->registry);
	assert_string_equal(x->resolved, y->resolved);
	assert_string_equal(x->integrity, y->integrity);
	assert_string_equal(x->lockfile, y->lockfile);
	assert_string_equal(x->manager, y->manager);
	assert_int_equal(x->kind, y->kind);
	assert_true((x->alias == NULL) == (y->alias == NULL));
	if (x->alias)
		assert_string_equal(x->alias, y->alias);
	assert_true(x->optional == y->optional && x->bundled == y->bundled && x->dev == y->dev);
}

static void round_trip_fixture(cr_lockfile_parse_fn fn, const char *path, const char *manager)
{
	parsed *p = parse_fixture(fn, path);
	assert_true(p->l.n > 0);
	for (size_t i = 0; i < p->l.n; i++) {
		json_t *j = cr_artifact_to_json(&p->l.items[i]);
		assert_null(json_object_get(j, "line"));
		assert_null(json_object_get(j, "manager"));
		cr_artifact back = {0};
		char *why = NULL;
		assert_int_equal(cr_artifact_from_json(j, manager, &back, &why), 0);
		assert_null(why);
		assert_same(&p->l.items[i], &back);
		json_t *again = cr_artifact_to_json(&back);
		assert_true(json_equal(j, again));
		json_decref(again);
		json_decref(j);
		cr_artifact_clear(&back);
	}
	parsed_free(p);
}

static void test_json_round_trip(void **state)
{
	(void)state;
	round_trip_fixture(cr_lockfile_parse_npm, "tests/fixtures/lockfiles/npm11/package-lock.json", "npm");
	round_trip_fixture(cr_lockfile_parse_npm, "tests/fixtures/lockfiles/npm6/package-lock.json", "npm");
	round_trip_fixture(cr_lockfile_parse_yarn, "tests/fixtures/lockfiles/yarn1/yarn.lock", "npm");
	round_trip_fixture(cr_lockfile_parse_pip, "tests/fixtures/lockfiles/pip/requirements.txt", "pip");
}

static void test_json_shape(void **state)
{
	(void)state;
	cr_artifact a =
		mk("lodash", "4.17.21", "https://r/lodash/-/lodash-4.17.21.tgz", "sha512-A", "p.json");
	a.alias = cr_xstrdup("my-lodash");
	a.kind = CR_ARTIFACT_REGISTRY;
	json_t *j = cr_artifact_to_json(&a);
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(
		s, "{\"alias\":\"my-lodash\",\"bundled\":false,\"dev\":false,"
		   "\"integrity\":\"sha512-A\",\"kind\":\"registry\",\"lockfile\":\"p.json\","
		   "\"name\":\"lodash\",\"optional\":false,\"registry\":\"registry.npm.example\","
		   "\"resolved\":\"https://r/lodash/-/lodash-4.17.21.tgz\",\"version\":\"4.17.21\"}");
	free(s);
	json_decref(j);
	free(a.alias);
	a.alias = NULL;
	j = cr_artifact_to_json(&a);
	assert_null(json_object_get(j, "alias"));
	json_decref(j);
	cr_artifact_clear(&a);
}

static void expect_rejected(const char *json_text, const char *why_part)
{
	json_error_t e;
	json_t *j = json_loads(json_text, JSON_ALLOW_NUL, &e);
	assert_non_null(j);
	cr_artifact out = {0};
	char *why = NULL;
	assert_int_equal(cr_artifact_from_json(j, "npm", &out, &why), -1);
	assert_non_null(why);
	if (!strstr(why, why_part))
		fail_msg("'%s' does not mention '%s'", why, why_part);
	assert_null(out.name);
	free(why);
	json_decref(j);
}

#define GOOD_FIELDS                                                                                \
	"\"name\":\"a\",\"version\":\"1\",\"registry\":\"\",\"resolved\":\"\",\"integrity\":\"\"," \
	"\"kind\":\"registry\",\"optional\":false,\"bundled\":false,\"dev\":false,\"lockfile\":\"f\""

static void test_from_json_rejects(void **state)
{
	(void)state;
	expect_rejected("[]", "must be an object");
	expect_rejected("{" GOOD_FIELDS ",\"extra\":1}", "unknown artifact field 'extra'");
	expect_rejected("{" GOOD_FIELDS ",\"line\":3}", "unknown artifact field 'line'");
	expect_rejected("{" GOOD_FIELDS ",\"alias\":5}", "'alias' must be a string");
	expect_rejected(
		"{\"name\":1,\"version\":\"1\",\"registry\":\"\",\"resolved\":\"\",\"integrity\":\"\","
		"\"kind\":\"registry\",\"optional\":false,\"bundled\":false,\"dev\":false,\"lockfile\":"
		"\"f\"}",
		"'name' must be a string");
	expect_rejected(
		"{\"name\":\"a\",\"version\":\"1\",\"registry\":\"\",\"resolved\":\"\",\"integrity\":\"\","
		"\"kind\":\"registry\",\"optional\":\"no\",\"bundled\":false,\"dev\":false,\"lockfile\":"
		"\"f\"}",
		"'optional' must be a boolean");
	expect_rejected(
		"{\"name\":\"a\",\"version\":\"1\",\"registry\":\"\",\"resolved\":\"\",\"integrity\":\"\","
		"\"kind\":\"svn\",\"optional\":false,\"bundled\":false,\"dev\":false,\"lockfile\":\"f\"}",
		"'kind' must be one of");
	expect_rejected(
		"{\"name\":\"a\",\"version\":\"1\",\"registry\":\"\",\"resolved\":\"\",\"integrity\":\"\","
		"\"kind\":\"registry\",\"optional\":false,\"bundled\":false,\"dev\":false}",
		"lacks field 'lockfile'");
	expect_rejected(
		"{\"name\":\"a\",\"version\":\"1\",\"registry\":\"\",\"resolved\":\"\",\"integrity\":\"\","
		"\"optional\":false,\"bundled\":false,\"dev\":false,\"lockfile\":\"f\"}",
		"lacks field 'kind'");
	expect_rejected(
		"{\"name\":\"\",\"version\":\"1\",\"registry\":\"\",\"resolved\":\"\",\"integrity\":\"\","
		"\"kind\":\"registry\",\"optional\":false,\"bundled\":false,\"dev\":false,\"lockfile\":"
		"\"f\"}",
		"must not be empty");
	expect_rejected(
		"{\"name\":\"a\\u0000b\",\"version\":\"1\",\"registry\":\"\",\"resolved\":\"\","
		"\"integrity\":\"\",\"kind\":\"registry\",\"optional\":false,\"bundled\":false,\"dev\":false,"
		"\"lockfile\":\"f\"}",
		"contains NUL");
}

static void test_from_json_accepts(void **state)
{
	(void)state;
	json_t *j = json_loads("{" GOOD_FIELDS ",\"alias\":\"b\"}", 0, NULL);
	cr_artifact a = {0};
	char *why = NULL;
	assert_int_equal(cr_artifact_from_json(j, "pip", &a, &why), 0);
	assert_string_equal(a.manager, "pip");
	assert_string_equal(a.alias, "b");
	assert_string_equal(a.lockfile, "f");
	assert_int_equal(a.kind, CR_ARTIFACT_REGISTRY);
	cr_artifact_clear(&a);
	json_decref(j);
}

static void test_url_host(void **state)
{
	(void)state;
	static const struct {
		const char *url, *host;
	} cases[] = {
		{"https://Registry.NPM.Example/a/-/a-1.tgz", "registry.npm.example"},
		{"https://user:p@ss@Host.Example:8443/x", "host.example"},
		{"http://[::1]:8080/x", "[::1]"},
		{"git+ssh://git@github.com/o/r.git#abc", "github.com"},
		{"git@GitLab.com:o/r.git", "gitlab.com"},
		{"github:o/r#abc", "github.com"},
		{"bitbucket:o/r", "bitbucket.org"},
		{"file:../x", ""},
		{"git+file:///tmp/x.git", ""},
		{"../relative/path", ""},
		{"https://host.example?q", "host.example"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cleanup_free char *h = cr_lock_url_host(cases[i].url);
		if (strcmp(h, cases[i].host) != 0)
			fail_msg("host of %s: got '%s', want '%s'", cases[i].url, h, cases[i].host);
	}
}

static void test_hex_to_sri(void **state)
{
	(void)state;
	cleanup_free char *s = cr_lock_hex_to_sri("sha1", "679591c564c3bffaae8454cf0b3df370c3d6911c", 40);
	assert_string_equal(s, "sha1-Z5WRxWTDv/quhFTPCz3zcMPWkRw=");
	assert_null(cr_lock_hex_to_sri("sha1", "abc", 3));
	assert_null(cr_lock_hex_to_sri("sha1", "zz", 2));
	assert_null(cr_lock_hex_to_sri("sha1", "", 0));
	char big[260];
	memset(big, 'a', sizeof(big));
	assert_null(cr_lock_hex_to_sri("sha1", big, sizeof(big)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_copy_clear),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_normalize_deterministic),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_json_shape),
		cmocka_unit_test(test_from_json_rejects),
		cmocka_unit_test(test_from_json_accepts),
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_hex_to_sri),
	};
	return cmocka_run_group_tests_name("lockfile_artifact", tests, NULL, NULL);
}
