/* SPDX-License-Identifier: Apache-2.0 */
/* test_npm.c -- package-lock.json parser: real npm 6/9/10/11 fixtures
 * (lockfileVersion 1, 2, 3) and inline edge cases, every error and warning
 * with its line. */
#include "helpers.h"

#include <stdio.h>

#include "util/buf.h"

#define FIX "tests/fixtures/lockfiles/"

static parsed *npm(const char *text)
{
	return parse_text(cr_lockfile_parse_npm, "app/package-lock.json", text);
}

/* What every fixture, whatever its lockfileVersion, must yield. */
static void check_fixture_common(const parsed *p, const char *path)
{
	assert_int_equal(p->rc, 0);
	assert_int_equal(p->d.n_errors, 0);
	assert_int_equal(p->l.n, 9);
	const cr_artifact *a = must_find(p, "@types/ms", "0.7.34");
	assert_int_equal(a->kind, CR_ARTIFACT_REGISTRY);
	assert_string_equal(a->manager, "npm");
	assert_string_equal(a->registry, "registry.npm.example");
	assert_string_equal(a->resolved, "https://registry.npm.example/@types/ms/-/ms-0.7.34.tgz");
	assert_true(strncmp(a->integrity, "sha512-nG96G3Wp6acyAgJq", 23) == 0);
	assert_string_equal(a->lockfile, path);
	assert_null(a->alias);
	assert_false(a->optional || a->dev || a->bundled);
	must_find(p, "ms", "2.0.0");
	must_find(p, "ms", "2.1.3");
	must_find(p, "debug", "2.6.9");
	must_find(p, "humanize-ms", "1.2.1");
	a = must_find(p, "lodash", "4.17.21");
	assert_string_equal(a->alias, "my-lodash");
	assert_string_equal(a->resolved, "https://registry.npm.example/lodash/-/lodash-4.17.21.tgz");
	assert_true(must_find(p, "is-number", "7.0.0")->optional);
	assert_false(must_find(p, "is-number", "7.0.0")->dev);
	assert_true(must_find(p, "escape-string-regexp", "4.0.0")->dev);
	a = must_find(p, "gitdep", NULL);
	assert_int_equal(a->kind, CR_ARTIFACT_GIT);
	assert_string_equal(a->resolved,
			    "git+file:///tmp/crfix/gitdep.git#271bd477560d6a0eaf81073a0ad40abb156d1dda");
	assert_string_equal(a->registry, "");
	assert_string_equal(a->integrity, "");
	/* the only warning: the git dependency */
	assert_int_equal(p->d.n_warnings, 1);
	expect_warning(p, a->line, "git dependency");
}

static void test_fixture_v3(void **state)
{
	(void)state;
	const char *paths[] = {FIX "npm9/package-lock.json", FIX "npm10/package-lock.json",
			       FIX "npm11/package-lock.json"};
	for (size_t i = 0; i < 3; i++) {
		parsed *p = parse_fixture(cr_lockfile_parse_npm, paths[i]);
		check_fixture_common(p, paths[i]);
		assert_string_equal(must_find(p, "gitdep", NULL)->version, "1.0.0");
		assert_int_equal(must_find(p, "@types/ms", NULL)->line, 25);
		assert_int_equal(must_find(p, "ms", "2.0.0")->line, 40);
		assert_int_equal(must_find(p, "lodash", NULL)->line, 89);
		parsed_free(p);
	}
}

static void test_fixture_v2_uses_packages_only(void **state)
{
	(void)state;
	parsed *p = parse_fixture(cr_lockfile_parse_npm, FIX "npm9-v2/package-lock.json");
	check_fixture_common(p, FIX "npm9-v2/package-lock.json");
	parsed_free(p);
}

static void test_fixture_v1(void **state)
{
	(void)state;
	parsed *p = parse_fixture(cr_lockfile_parse_npm, FIX "npm6/package-lock.json");
	check_fixture_common(p, FIX "npm6/package-lock.json");
	/* v1 keeps the git URL in "version"; there is no separate version */
	assert_string_equal(must_find(p, "gitdep", NULL)->version, "");
	assert_int_equal(must_find(p, "ms", "2.0.0")->line, 20);
	assert_int_equal(must_find(p, "lodash", NULL)->line, 56);
	parsed_free(p);
}

/* Every layout describes the same installation: the normalised lists agree
 * except for the lockfile path (and v1's missing git version). */
static void test_fixtures_agree(void **state)
{
	(void)state;
	const char *paths[] = {FIX "npm6/package-lock.json", FIX "npm9-v2/package-lock.json",
			       FIX "npm9/package-lock.json", FIX "npm11/package-lock.json",
			       FIX "yarn1/yarn.lock"};
	parsed *ref = parse_fixture(cr_lockfile_parse_npm, paths[3]);
	cr_artifact_list_normalize(&ref->l);
	for (size_t i = 0; i < 5; i++) {
		parsed *p = parse_fixture(i == 4 ? cr_lockfile_parse_yarn : cr_lockfile_parse_npm, paths[i]);
		cr_artifact_list_normalize(&p->l);
		assert_int_equal(p->l.n, ref->l.n);
		for (size_t k = 0; k < p->l.n; k++) {
			const cr_artifact *x = &p->l.items[k], *y = &ref->l.items[k];
			assert_string_equal(x->name, y->name);
			assert_string_equal(x->resolved, y->resolved);
			assert_string_equal(x->integrity, y->integrity);
			assert_int_equal(x->kind, y->kind);
			if (x->kind != CR_ARTIFACT_GIT)
				assert_string_equal(x->version, y->version);
			if (i != 4) /* yarn.lock does not record optional/dev */
				assert_true(x->optional == y->optional && x->dev == y->dev);
		}
		parsed_free(p);
	}
	parsed_free(ref);
}

static void test_invalid_json_line(void **state)
{
	(void)state;
	parsed *p = npm("{\n  \"lockfileVersion\": 3,\n  oops\n}\n");
	expect_error(p, 3, "invalid JSON");
	assert_int_equal(p->l.n, 0);
	assert_string_equal(p->d.items[0].file, "app/package-lock.json");
	assert_int_equal(p->d.items[0].reason, CR_REASON_POLICY_INVALID);
	parsed_free(p);
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	parsed *p = npm("{\"lockfileVersion\": 3,\n\"packages\": {},\n\"packages\": {}}");
	expect_error(p, 0, "duplicate");
	parsed_free(p);
}

static void test_root_not_object(void **state)
{
	(void)state;
	parsed *p = npm("[1, 2]");
	expect_error(p, 1, "must be a JSON object");
	parsed_free(p);
}

static void test_lockfile_version(void **state)
{
	(void)state;
	parsed *p = npm("{\"packages\": {}}");
	expect_error(p, 0, "missing \"lockfileVersion\"");
	parsed_free(p);
	p = npm("{\n\"lockfileVersion\": 4,\n\"packages\": {}}");
	expect_error(p, 2, "unsupported \"lockfileVersion\"");
	parsed_free(p);
	p = npm("{\"lockfileVersion\": \"3\", \"packages\": {}}");
	expect_error(p, 0, "unsupported \"lockfileVersion\"");
	parsed_free(p);
	p = npm("{\"lockfileVersion\": 3}");
	expect_error(p, 0, "requires a \"packages\" map");
	parsed_free(p);
	p = npm("{\"lockfileVersion\": 3, \"packages\": []}");
	expect_error(p, 0, "\"packages\" must be an object");
	parsed_free(p);
}

static void test_empty_project(void **state)
{
	(void)state;
	parsed *p = npm("{\"lockfileVersion\": 3, \"packages\": {\"\": {\"name\": \"x\"}}}");
	expect_clean(p);
	assert_int_equal(p->l.n, 0);
	parsed_free(p);
	p = npm("{\"lockfileVersion\": 1}");
	expect_clean(p);
	parsed_free(p);
}

static const char v3_head[] = "{\n\"lockfileVersion\": 3,\n\"packages\": {\n";

static parsed *v3(const char *entries)
{
	char *text = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&text, &n);
	fprintf(f, "%s%s\n}}\n", v3_head, entries);
	fclose(f);
	parsed *p = npm(text);
	free(text);
	return p;
}

static void test_entry_errors(void **state)
{
	(void)state;
	parsed *p = v3("\"node_modules/a\": 5");
	expect_error(p, 4, "must be an object");
	parsed_free(p);
	p = v3("\"node_modules/a\": {\"version\": \"1.0.0\", \"resolved\": 7}");
	expect_error(p, 4, "\"resolved\" must be a string");
	parsed_free(p);
	p = v3("\"node_modules/a\": {\"version\": \"1.0.0\", \"dev\": \"yes\"}");
	expect_error(p, 4, "\"dev\" must be a boolean");
	parsed_free(p);
	p = v3("\"node_modules/a b\": {\"version\": \"1.0.0\"}");
	expect_error(p, 4, "invalid package name");
	parsed_free(p);
	p = v3("\"node_modules/@scope\": {\"version\": \"1.0.0\"}");
	expect_error(p, 4, "invalid package name");
	parsed_free(p);
	p = v3("\"node_modules/a\": {\"version\": \"1 0\"}");
	expect_error(p, 4, "invalid version");
	parsed_free(p);
	p = v3("\"node_modules/a\": {\"version\": \"1\", \"integrity\": \"sha1-x\\u0001\"}");
	expect_error(p, 4, "not a list of SRI");
	parsed_free(p);
}

static void test_errors_do_not_stop_parse(void **state)
{
	(void)state;
	parsed *p = v3("\"node_modules/bad\": 1,\n"
		       "\"node_modules/ok\": {\"version\": \"1.0.0\", \"resolved\": "
		       "\"https://registry.npm.example/ok/-/ok-1.0.0.tgz\", \"integrity\": \"sha512-AA==\"}");
	expect_error(p, 4, "must be an object");
	assert_int_equal(must_find(p, "ok", "1.0.0")->line, 5);
	parsed_free(p);
}

static void test_nested_and_scoped_names(void **state)
{
	(void)state;
	parsed *p = v3(
		"\"node_modules/a/node_modules/@s/b\": {\"version\": \"2.0.0\", \"resolved\": "
		"\"https://Registry.Example.COM:8443/@s/b/-/b-2.0.0.tgz\", \"integrity\": \"sha512-AA==\"}");
	expect_clean(p);
	const cr_artifact *a = must_find(p, "@s/b", "2.0.0");
	assert_int_equal(a->kind, CR_ARTIFACT_REGISTRY);
	assert_string_equal(a->registry, "registry.example.com");
	parsed_free(p);
}

static void test_alias_by_name_field(void **state)
{
	(void)state;
	parsed *p =
		v3("\"node_modules/x/node_modules/alias\": {\"name\": \"@real/pkg\", \"version\": \"1.0.0\", "
		   "\"resolved\": \"https://r.example/@real/pkg/-/pkg-1.0.0.tgz\", \"integrity\": "
		   "\"sha512-A\"}");
	expect_clean(p);
	const cr_artifact *a = must_find(p, "@real/pkg", "1.0.0");
	assert_string_equal(a->alias, "alias");
	parsed_free(p);
	/* a "name" equal to the key is not an alias */
	p = v3("\"node_modules/same\": {\"name\": \"same\", \"version\": \"1.0.0\", "
	       "\"resolved\": \"https://r.example/same/-/same-1.0.0.tgz\", \"integrity\": \"sha512-A\"}");
	assert_null(must_find(p, "same", "1.0.0")->alias);
	parsed_free(p);
}

static void test_link_and_workspace(void **state)
{
	(void)state;
	parsed *p = v3("\"node_modules/ws-a\": {\"resolved\": \"packages/ws-a\", \"link\": true},\n"
		       "\"packages/ws-a\": {\"name\": \"ws-a\", \"version\": \"0.1.0\"}");
	expect_clean(p);
	assert_int_equal(p->l.n, 2);
	for (size_t i = 0; i < 2; i++) {
		assert_string_equal(p->l.items[i].name, "ws-a");
		assert_int_equal(p->l.items[i].kind, CR_ARTIFACT_LOCAL);
		assert_string_equal(p->l.items[i].registry, "");
	}
	parsed_free(p);
}

static void test_kinds_by_resolved(void **state)
{
	(void)state;
	parsed *p = v3("\"node_modules/t\": {\"version\": \"1.0.0\", \"resolved\": "
		       "\"https://Example.com/downloads/t.tgz\", \"integrity\": \"sha512-A\"},\n"
		       "\"node_modules/f\": {\"version\": \"1.0.0\", \"resolved\": \"file:../f\"},\n"
		       "\"node_modules/g\": {\"version\": \"1.0.0\", \"resolved\": \"github:o/g#abc\"},\n"
		       "\"node_modules/h\": {\"version\": \"1.0.0\", \"resolved\": "
		       "\"git+ssh://git@GitLab.com/o/h.git#abc\"},\n"
		       "\"node_modules/w\": {\"version\": \"1.0.0\", \"resolved\": "
		       "\"https://registry.npm.example/w/-/w-9.9.9.tgz\", \"integrity\": \"sha512-A\"}");
	assert_int_equal(p->rc, 0);
	const cr_artifact *a = must_find(p, "t", NULL);
	assert_int_equal(a->kind, CR_ARTIFACT_TARBALL);
	assert_string_equal(a->registry, "example.com");
	expect_warning(p, 4, "remote tarball");
	assert_int_equal(must_find(p, "f", NULL)->kind, CR_ARTIFACT_LOCAL);
	a = must_find(p, "g", NULL);
	assert_int_equal(a->kind, CR_ARTIFACT_GIT);
	assert_string_equal(a->registry, "github.com");
	expect_warning(p, 6, "git dependency");
	a = must_find(p, "h", NULL);
	assert_int_equal(a->kind, CR_ARTIFACT_GIT);
	assert_string_equal(a->registry, "gitlab.com");
	/* a registry-looking URL for another version is not that version's tarball */
	assert_int_equal(must_find(p, "w", NULL)->kind, CR_ARTIFACT_TARBALL);
	assert_int_equal(p->d.n_warnings, 4);
	parsed_free(p);
}

static void test_missing_resolved_and_integrity(void **state)
{
	(void)state;
	parsed *p = v3("\"node_modules/a\": {\"version\": \"1.0.0\", \"integrity\": \"sha512-A\"},\n"
		       "\"node_modules/b\": {\"version\": \"2.0.0\", \"resolved\": "
		       "\"https://registry.npm.example/b/-/b-2.0.0.tgz\"},\n"
		       "\"node_modules/b/node_modules/c\": {\"version\": \"3.0.0\", \"inBundle\": true}");
	assert_int_equal(p->rc, 0);
	expect_warning(p, 4, "'a@1.0.0' has no \"resolved\" URL");
	assert_int_equal(must_find(p, "a", NULL)->kind, CR_ARTIFACT_REGISTRY);
	assert_string_equal(must_find(p, "a", NULL)->registry, "");
	expect_warning(p, 5, "'b@2.0.0' has no integrity");
	const cr_artifact *c = must_find(p, "c", "3.0.0");
	assert_true(c->bundled);
	/* bundled packages come inside b's tarball: no warning for them */
	assert_int_equal(p->d.n_warnings, 2);
	parsed_free(p);
}

static void test_flags(void **state)
{
	(void)state;
	parsed *p = v3("\"node_modules/o\": {\"version\": \"1.0.0\", \"resolved\": "
		       "\"https://registry.npm.example/o/-/o-1.0.0.tgz\", \"integrity\": \"sha512-A\", "
		       "\"optional\": true, \"dev\": true}");
	expect_clean(p);
	assert_true(must_find(p, "o", NULL)->optional);
	assert_true(must_find(p, "o", NULL)->dev);
	assert_false(must_find(p, "o", NULL)->bundled);
	parsed_free(p);
}

static void test_v1_variants(void **state)
{
	(void)state;
	parsed *p =
		npm("{\"lockfileVersion\": 1, \"dependencies\": {\n"
		    "\"al\": {\"version\": \"npm:@real/x@1.2.3\", \"resolved\": "
		    "\"https://registry.npm.example/@real/x/-/x-1.2.3.tgz\", \"integrity\": \"sha512-A\"},\n"
		    "\"b\": {\"version\": \"1.0.0\", \"bundled\": true},\n"
		    "\"loc\": {\"version\": \"file:../loc\"},\n"
		    "\"tb\": {\"version\": \"https://example.com/tb.tgz\", \"integrity\": \"sha512-A\"}\n"
		    "}}");
	assert_int_equal(p->rc, 0);
	const cr_artifact *a = must_find(p, "@real/x", "1.2.3");
	assert_string_equal(a->alias, "al");
	assert_int_equal(a->line, 2);
	assert_true(must_find(p, "b", "1.0.0")->bundled);
	a = must_find(p, "loc", "");
	assert_int_equal(a->kind, CR_ARTIFACT_LOCAL);
	assert_string_equal(a->resolved, "file:../loc");
	a = must_find(p, "tb", "");
	assert_int_equal(a->kind, CR_ARTIFACT_TARBALL);
	assert_string_equal(a->resolved, "https://example.com/tb.tgz");
	expect_warning(p, 5, "remote tarball");
	parsed_free(p);
}

static void test_v1_errors(void **state)
{
	(void)state;
	parsed *p = npm("{\"lockfileVersion\": 1, \"dependencies\": {\n\"a\": {\"resolved\": \"x\"}}}");
	expect_error(p, 2, "'a' has no \"version\"");
	parsed_free(p);
	p = npm("{\"lockfileVersion\": 1, \"dependencies\": {\n\"a\": {\"version\": \"npm:nover\"}}}");
	expect_error(p, 2, "invalid alias version");
	parsed_free(p);
	p = npm("{\"lockfileVersion\": 1, \"dependencies\": [1]}");
	expect_error(p, 0, "\"dependencies\" must be an object");
	parsed_free(p);
}

static void test_v1_depth_cap(void **state)
{
	(void)state;
	cr_buf b;
	cr_buf_init(&b, 1 << 20);
	cr_buf_puts(&b, "{\"lockfileVersion\": 1, \"dependencies\": ");
	for (int i = 0; i < 80; i++)
		cr_buf_puts(&b, "{\"a\": {\"version\": \"1.0.0\", \"bundled\": true, \"dependencies\": ");
	cr_buf_puts(&b, "{}");
	for (int i = 0; i < 80; i++)
		cr_buf_puts(&b, "}}");
	cr_buf_puts(&b, "}");
	parsed *p = npm(b.data);
	expect_error(p, 0, "nest deeper than 64");
	assert_int_equal(p->l.n, 64);
	parsed_free(p);
	cr_buf_free(&b);
}

static void test_size_cap(void **state)
{
	(void)state;
	cr_artifact_list l = {0};
	cr_diags d = {0};
	/* the length is checked before any byte is read */
	assert_int_equal(cr_lockfile_parse_npm("big.json", "{}", CR_LOCKFILE_MAX_BYTES + 1u, &l, &d), -1);
	assert_int_equal(d.n_errors, 1);
	assert_non_null(strstr(d.items[0].message, "larger than"));
	cr_diags_clear(&d);
}

static void test_artifact_cap(void **state)
{
	(void)state;
	cr_buf b;
	cr_buf_init(&b, 64u << 20);
	cr_buf_puts(&b, "{\"lockfileVersion\":3,\"packages\":{");
	for (unsigned i = 0; i <= CR_LOCKFILE_MAX_ARTIFACTS; i++)
		cr_buf_printf(&b, "%s\"node_modules/p%u\":{\"link\":true,\"resolved\":\"x\"}", i ? "," : "",
			      i);
	cr_buf_puts(&b, "}}");
	cr_artifact_list l = {0};
	cr_diags d = {0};
	/* artifacts from earlier lockfiles do not count against this one */
	cr_artifact_list_push(&l, (cr_artifact){.name = strdup("earlier")});
	assert_int_equal(cr_lockfile_parse_npm("huge.json", b.data, b.len, &l, &d), -1);
	assert_int_equal(l.n, CR_LOCKFILE_MAX_ARTIFACTS + 1u);
	assert_int_equal(d.n_errors, 1);
	assert_non_null(strstr(d.items[0].message, "more than 200000 artifacts"));
	cr_artifact_list_free(&l);
	cr_diags_clear(&d);
	cr_buf_free(&b);
}

static void test_embedded_nul_rejected(void **state)
{
	(void)state;
	static const char text[] = "{\"lockfileVersion\": 3, \"packages\": {\"a\\u0000b\": {}}}";
	parsed *p = npm(text);
	expect_error(p, 1, "invalid JSON");
	parsed_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_v3),
		cmocka_unit_test(test_fixture_v2_uses_packages_only),
		cmocka_unit_test(test_fixture_v1),
		cmocka_unit_test(test_fixtures_agree),
		cmocka_unit_test(test_invalid_json_line),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_root_not_object),
		cmocka_unit_test(test_lockfile_version),
		cmocka_unit_test(test_empty_project),
		cmocka_unit_test(test_entry_errors),
		cmocka_unit_test(test_errors_do_not_stop_parse),
		cmocka_unit_test(test_nested_and_scoped_names),
		cmocka_unit_test(test_alias_by_name_field),
		cmocka_unit_test(test_link_and_workspace),
		cmocka_unit_test(test_kinds_by_resolved),
		cmocka_unit_test(test_missing_resolved_and_integrity),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_v1_variants),
		cmocka_unit_test(test_v1_errors),
		cmocka_unit_test(test_v1_depth_cap),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_artifact_cap),
		cmocka_unit_test(test_embedded_nul_rejected),
	};
	return cmocka_run_group_tests_name("lockfile_npm", tests, NULL, NULL);
}
