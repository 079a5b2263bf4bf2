/* SPDX-License-Identifier: Apache-2.0 */
/* test_npm_doc.c -- the npm front's pure half (src/gateway/npm/npm_doc.c):
 * package names and tarball paths as the sandbox sends them, semver
 * precedence, packument shape checks, tarball URL rewriting, version
 * filtering with dist-tag repair, and integrity lookup. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/npm/npm_doc.h"

/* ---- names ---- */

static void parse_name_ok(const char *in, const char *name, const char *encoded, const char *unscoped)
{
	cr_npm_name n;
	cr_error *err = NULL;
	int rc = cr_npm_parse_name(in, &n, &err);
	if (rc < 0)
		fail_msg("%s: %s", in, err->msg);
	assert_string_equal(n.name, name);
	assert_string_equal(n.encoded, encoded);
	assert_string_equal(cr_npm_unscoped(&n), unscoped);
}

static void parse_name_bad(const char *in)
{
	cr_npm_name n;
	cr_error *err = NULL;
	if (cr_npm_parse_name(in, &n, &err) == 0)
		fail_msg("accepted '%s' as '%s'", in, n.name);
	assert_non_null(err);
	assert_non_null(err->msg);
	cr_error_free(err);
}

static void test_names(void **state)
{
	(void)state;
	parse_name_ok("lodash", "lodash", "lodash", "lodash");
	parse_name_ok("@scope%2fname", "@scope/name", "@scope%2fname", "name");
	parse_name_ok("@scope%2Fname", "@scope/name", "@scope%2fname", "name");
	parse_name_ok("@scope/name", "@scope/name", "@scope%2fname", "name");
	parse_name_ok("JSONStream", "JSONStream", "JSONStream", "JSONStream"); /* legacy upper case */
	parse_name_ok("a-b_c.d~e", "a-b_c.d~e", "a-b_c.d~e", "a-b_c.d~e");

	parse_name_bad("");
	parse_name_bad(".");
	parse_name_bad("..");
	parse_name_bad(".hidden");
	parse_name_bad("@scope");
	parse_name_bad("@scope/");
	parse_name_bad("@/name");
	parse_name_bad("@scope/../x");
	parse_name_bad("@scope%2f..");
	parse_name_bad("@scope%2e%2e/x");
	parse_name_bad("a/b");
	parse_name_bad("a%2fb");
	parse_name_bad("a%20b");
	parse_name_bad("a b");
	parse_name_bad("a\nb");
	parse_name_bad("a\x7f");
	parse_name_bad("caf\xc3\xa9");
	parse_name_bad("@a/b/c");

	char longname[300];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	parse_name_bad(longname);
	longname[CR_NPM_NAME_MAX] = '\0';
	parse_name_ok(longname, longname, longname, longname);

	assert_true(cr_npm_valid_name("@types/node"));
	assert_false(cr_npm_valid_name("@types%2fnode"));
}

/* ---- versions ---- */

static void test_versions(void **state)
{
	(void)state;
	const char *good[] = {"1.0.0",
			      "0.0.0",
			      "10.20.30",
			      "1.0.0-alpha",
			      "1.0.0-alpha.1",
			      "1.0.0-0.3.7",
			      "1.0.0-x.7.z.92",
			      "1.0.0+20130313144700",
			      "1.0.0-beta+exp.sha.5114f85",
			      "01.02.03",
			      "1.2.3-rc-1"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (!cr_npm_valid_version(good[i]))
			fail_msg("rejected %s", good[i]);
	const char *bad[] = {"",          "1",      "1.0",        "1.0.0.0", "v1.0.0",
			     "1.0.0-",    "1.0.0+", "1.0.0-a..b", "1.0.0 ",  "1.0.x",
			     "1.0.0-a/b", "..",     "1.0.0-\x01", "-1.0.0",  "1.0.0-+"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cr_npm_valid_version(bad[i]))
			fail_msg("accepted '%s'", bad[i]);
	char longv[400] = "1.0.0-";
	memset(longv + 6, 'a', sizeof(longv) - 7);
	longv[sizeof(longv) - 1] = '\0';
	assert_false(cr_npm_valid_version(longv));

	/* semver 2.0.0 §11's example chain, plus numeric width and build */
	const char *order[] = {"0.9.99",
			       "1.0.0-alpha",
			       "1.0.0-alpha.1",
			       "1.0.0-alpha.beta",
			       "1.0.0-beta",
			       "1.0.0-beta.2",
			       "1.0.0-beta.11",
			       "1.0.0-rc.1",
			       "1.0.0",
			       "1.0.1",
			       "1.2.0",
			       "2.0.0",
			       "10.0.0",
			       "10.0.10",
			       "100.0.0",
			       "99999999999999999999.0.0",
			       "100000000000000000000.0.0"};
	size_t n = sizeof(order) / sizeof(order[0]);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int want = (i > j) - (i < j), got = cr_npm_semver_cmp(order[i], order[j]);
			if ((got > 0) - (got < 0) != want)
				fail_msg("cmp(%s, %s) = %d, want %d", order[i], order[j], got, want);
		}
	assert_int_equal(cr_npm_semver_cmp("1.0.0+a", "1.0.0+b"), 0);
	assert_int_equal(cr_npm_semver_cmp("01.0.0", "1.0.0"), 0);
	assert_true(cr_npm_semver_cmp("1.0.0-rc.1+b", "1.0.0") < 0);
}

/* ---- tarball paths ---- */

static void tarball_ok(const char *in, const char *name, const char *version, const char *path)
{
	cr_npm_tarball t;
	cr_error *err = NULL;
	if (cr_npm_parse_tarball(in, &t, &err) < 0)
		fail_msg("%s: %s", in, err->msg);
	assert_string_equal(t.pkg.name, name);
	assert_string_equal(t.version, version);
	assert_string_equal(t.path, path);
}

static void tarball_bad(const char *in, const char *msg_part)
{
	cr_npm_tarball t;
	cr_error *err = NULL;
	if (cr_npm_parse_tarball(in, &t, &err) == 0)
		fail_msg("accepted '%s' as %s %s", in, t.pkg.name, t.version);
	if (msg_part && !strstr(err->msg, msg_part))
		fail_msg("%s: message '%s' lacks '%s'", in, err->msg, msg_part);
	cr_error_free(err);
}

static void test_tarball_paths(void **state)
{
	(void)state;
	tarball_ok("lodash/-/lodash-4.17.21.tgz", "lodash", "4.17.21", "lodash/-/lodash-4.17.21.tgz");
	tarball_ok("@scope/name/-/name-1.0.0.tgz", "@scope/name", "1.0.0", "@scope/name/-/name-1.0.0.tgz");
	tarball_ok("@scope%2fname/-/name-1.0.0.tgz", "@scope/name", "1.0.0", "@scope/name/-/name-1.0.0.tgz");
	tarball_ok("@scope%2Fname/-/name-1.0.0-rc.1.tgz", "@scope/name", "1.0.0-rc.1",
		   "@scope/name/-/name-1.0.0-rc.1.tgz");
	tarball_ok("left-pad/-/left-pad-1.3.0.tgz", "left-pad", "1.3.0", "left-pad/-/left-pad-1.3.0.tgz");
	tarball_ok("@a/-/-/--1.0.0.tgz", "@a/-", "1.0.0", "@a/-/-/--1.0.0.tgz"); /* a package named "-" */
	tarball_ok("a/-/a-1.0.0-x-y.tgz", "a", "1.0.0-x-y", "a/-/a-1.0.0-x-y.tgz");

	tarball_bad("lodash", "not a tarball path");
	tarball_bad("lodash/-/", "lodash-<version>.tgz");
	tarball_bad("lodash/-/lodash-4.17.21.tar.gz", "lodash-<version>.tgz");
	tarball_bad("lodash/-/other-4.17.21.tgz", "lodash-<version>.tgz");
	tarball_bad("lodash/-/lodash-.tgz", NULL);
	tarball_bad("lodash/-/lodash-4.17.tgz", "semver");
	tarball_bad("lodash/-/lodash-../../x.tgz", "semver");
	tarball_bad("../-/..-1.0.0.tgz", "not a package name");
	tarball_bad("lodash/-/sub/lodash-1.0.0.tgz", NULL);
	tarball_bad("lodash/-/lodash-1.0.0.tgz/", NULL);
	tarball_bad("/-/x-1.0.0.tgz", NULL);
	tarball_bad("lo%64ash/-/lodash-1.0.0.tgz", NULL);
	tarball_bad("lodash/-/lodash-1.0.0%2etgz", NULL);
	tarball_bad("lodash/-/lodash-1.0.0\n.tgz", NULL);
	tarball_bad("@scope/name/-/scope-1.0.0.tgz", NULL);
	tarball_bad("@scope/name/x/-/name-1.0.0.tgz", NULL);
	tarball_bad("lodash//-/lodash-1.0.0.tgz", NULL);
}

/* ---- packuments ---- */

static const char *const full_doc =
	"{\"_id\":\"@sc/pkg\",\"name\":\"@sc/pkg\","
	"\"dist-tags\":{\"latest\":\"2.0.0\",\"next\":\"3.0.0-rc.1\",\"old\":\"1.0.0\",\"gone\":\"9.9.9\"},"
	"\"versions\":{"
	"\"1.0.0\":{\"name\":\"@sc/pkg\",\"version\":\"1.0.0\",\"dist\":{"
	"\"tarball\":\"https://Registry.NPM.example/@sc/pkg/-/pkg-1.0.0.tgz\","
	"\"shasum\":\"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\"}},"
	"\"1.1.0\":{\"name\":\"@sc/pkg\",\"version\":\"1.1.0\",\"dist\":{"
	"\"tarball\":\"https://registry.npm.example/@sc%2fpkg/-/pkg-1.1.0.tgz\","
	"\"integrity\":\"sha512-AAAA sha1-bogus! "
	"md5-AAAA\",\"shasum\":\"aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\"}},"
	"\"2.0.0\":{\"name\":\"@sc/pkg\",\"version\":\"2.0.0\",\"dist\":{"
	"\"tarball\":\"https://registry.npm.example/@sc/pkg/-/"
	"pkg-2.0.0.tgz\",\"integrity\":\"sha512-QUJD\"}},"
	"\"3.0.0-rc.1\":{\"dist\":{"
	"\"tarball\":\"https://registry.npm.example/@sc/pkg/-/"
	"pkg-3.0.0-rc.1.tgz\",\"integrity\":\"sha512-RA==\"}},"
	"\"4.0.0\":{\"dist\":{\"tarball\":\"https://cdn.other.example/@sc/pkg/-/pkg-4.0.0.tgz\"}},"
	"\"5.0.0\":{\"dist\":{\"tarball\":\"https://registry.npm.example/@sc/pkg/-/other-5.0.0.tgz\"}},"
	"\"6.0.0\":{\"dist\":{\"tarball\":\"https://u:p@registry.npm.example/@sc/pkg/-/pkg-6.0.0.tgz\"}},"
	"\"7.0.0\":{\"dist\":{\"tarball\":\"https://registry.npm.example/@sc/pkg/-/pkg-7.0.0.tgz?x=1\"}},"
	"\"8.0.0\":{\"dist\":{}},"
	"\"latest\":{\"dist\":{\"tarball\":\"https://registry.npm.example/@sc/pkg/-/pkg-latest.tgz\"}},"
	"\"9.0.0\":{\"dist\":{\"tarball\":\"https://registry.npm.example/@sc/pkg/-/pkg-9.0.1.tgz\"}}"
	"},"
	"\"time\":{\"created\":\"2020-01-01T00:00:00.000Z\",\"1.0.0\":\"t1\",\"2.0.0\":\"t2\",\"4.0.0\":"
	"\"t4\"},"
	"\"readme\":\"# pkg\"}";

static bool only_registry(void *ud, const char *host)
{
	(*(int *)ud)++;
	return strcmp(host, "registry.npm.example") == 0;
}

static json_t *dump_json(const cr_npm_doc *d)
{
	size_t len;
	char *s = cr_npm_doc_dump(d, &len);
	assert_int_equal(strlen(s), len);
	json_t *j = json_loads(s, 0, NULL);
	assert_non_null(j);
	free(s);
	return j;
}

static const char *tarball_of(json_t *j, const char *v)
{
	json_t *t = json_object_get(
		json_object_get(json_object_get(json_object_get(j, "versions"), v), "dist"), "tarball");
	return json_string_value(t);
}

static const char *tag(json_t *j, const char *t)
{
	return json_string_value(json_object_get(json_object_get(j, "dist-tags"), t));
}

static void test_rewrite(void **state)
{
	(void)state;
	cr_error *err = NULL;
	cr_npm_doc *d = cr_npm_doc_parse(full_doc, strlen(full_doc), "@sc/pkg", &err);
	if (!d)
		fail_msg("%s", err->msg);
	assert_int_equal(cr_npm_doc_n_versions(d), 11);
	int calls = 0;
	cr_npm_rewrite rw = {.base_url = "http://10.213.0.1/", .host_allowed = only_registry, .ud = &calls};
	cr_npm_rewrite_stats st;
	cr_npm_doc_rewrite(d, &rw, &st);
	assert_int_equal(st.kept, 4);
	assert_int_equal(st.dropped_host, 1);     /* 4.0.0 */
	assert_int_equal(st.dropped_unusable, 6); /* 5, 6, 7, 8, 9, "latest" */
	assert_int_equal(st.dropped_filter, 0);
	assert_true(calls >= 5);
	json_t *j = dump_json(d);
	assert_string_equal(tarball_of(j, "1.0.0"), "http://10.213.0.1/npm/@sc/pkg/-/pkg-1.0.0.tgz");
	assert_string_equal(tarball_of(j, "1.1.0"), "http://10.213.0.1/npm/@sc%2fpkg/-/pkg-1.1.0.tgz");
	assert_string_equal(tarball_of(j, "3.0.0-rc.1"),
			    "http://10.213.0.1/npm/@sc/pkg/-/pkg-3.0.0-rc.1.tgz");
	assert_null(json_object_get(json_object_get(j, "versions"), "4.0.0"));
	assert_null(json_object_get(json_object_get(j, "time"), "4.0.0"));
	assert_non_null(json_object_get(json_object_get(j, "time"), "created"));
	assert_string_equal(tag(j, "latest"), "2.0.0");
	assert_string_equal(tag(j, "next"), "3.0.0-rc.1");
	assert_null(tag(j, "gone"));
	assert_int_equal(st.tags_dropped, 1);
	assert_false(st.latest_moved);
	assert_string_equal(json_string_value(json_object_get(j, "readme")), "# pkg");
	/* key order is the input's */
	assert_string_equal(json_object_iter_key(json_object_iter(j)), "_id");
	json_decref(j);

	/* the same input and options give the same bytes */
	cr_npm_doc *d2 = cr_npm_doc_parse(full_doc, strlen(full_doc), NULL, &err);
	assert_non_null(d2);
	cr_npm_doc_rewrite(d2, &rw, NULL);
	size_t l1, l2;
	char *s1 = cr_npm_doc_dump(d, &l1), *s2 = cr_npm_doc_dump(d2, &l2);
	assert_int_equal(l1, l2);
	assert_memory_equal(s1, s2, l1);
	free(s1);
	free(s2);
	cr_npm_doc_free(d);
	cr_npm_doc_free(d2);
}

static void test_filter(void **state)
{
	(void)state;
	cr_error *err = NULL;
	cr_npm_doc *d = cr_npm_doc_parse(full_doc, strlen(full_doc), "@sc/pkg", &err);
	assert_non_null(d);
	const char *const allowed[] = {"1.0.0", "1.1.0", "3.0.0-rc.1", "4.0.0", "12.0.0", NULL};
	cr_npm_rewrite rw = {.base_url = "http://gw", .allowed_versions = allowed};
	cr_npm_rewrite_stats st;
	cr_npm_doc_rewrite(d, &rw, &st);
	assert_int_equal(st.kept, 4);             /* 4.0.0 passes without a host predicate */
	assert_int_equal(st.dropped_filter, 6);   /* 2, 5, 6, 7, 8, 9 */
	assert_int_equal(st.dropped_unusable, 1); /* "latest" is no version */
	json_t *j = dump_json(d);
	assert_string_equal(tarball_of(j, "4.0.0"), "http://gw/npm/@sc/pkg/-/pkg-4.0.0.tgz");
	assert_null(json_object_get(json_object_get(j, "versions"), "2.0.0"));
	assert_null(json_object_get(json_object_get(j, "time"), "2.0.0"));
	assert_non_null(json_object_get(json_object_get(j, "time"), "1.0.0"));
	/* latest (2.0.0) was filtered: the highest release left, not the prerelease */
	assert_true(st.latest_moved);
	assert_string_equal(tag(j, "latest"), "4.0.0");
	assert_string_equal(tag(j, "next"), "3.0.0-rc.1");
	assert_string_equal(tag(j, "old"), "1.0.0");
	json_decref(j);
	cr_npm_doc_free(d);

	/* only a prerelease left: latest names it; nothing left: no latest */
	const char *const pre_only[] = {"3.0.0-rc.1", NULL};
	d = cr_npm_doc_parse(full_doc, strlen(full_doc), "@sc/pkg", &err);
	rw.allowed_versions = pre_only;
	cr_npm_doc_rewrite(d, &rw, &st);
	j = dump_json(d);
	assert_string_equal(tag(j, "latest"), "3.0.0-rc.1");
	assert_null(tag(j, "old"));
	json_decref(j);
	cr_npm_doc_free(d);

	const char *const none[] = {NULL};
	d = cr_npm_doc_parse(full_doc, strlen(full_doc), "@sc/pkg", &err);
	rw.allowed_versions = none;
	cr_npm_doc_rewrite(d, &rw, &st);
	assert_int_equal(cr_npm_doc_n_versions(d), 0);
	j = dump_json(d);
	assert_int_equal(json_object_size(json_object_get(j, "dist-tags")), 0);
	json_decref(j);
	cr_npm_doc_free(d);
}

static void test_abbreviated(void **state)
{
	(void)state;
	const char *abbrev = "{\"name\":\"lodash\",\"modified\":\"2024-01-01T00:00:00Z\","
			     "\"dist-tags\":{\"latest\":\"4.17.21\"},\"versions\":{\"4.17.21\":{\"name\":"
			     "\"lodash\",\"version\":\"4.17.21\",\"dependencies\":{},\"dist\":{\"tarball\":"
			     "\"https://npm.registry.test/lodash/-/lodash-4.17.21.tgz\",\"integrity\":"
			     "\"sha512-v2kDE\"}}}}";
	cr_error *err = NULL;
	cr_npm_doc *d = cr_npm_doc_parse(abbrev, strlen(abbrev), "lodash", &err);
	assert_non_null(d);
	cr_npm_rewrite rw = {.base_url = "http://10.0.0.1"};
	cr_npm_doc_rewrite(d, &rw, NULL);
	size_t len;
	char *out = cr_npm_doc_dump(d, &len);
	assert_non_null(strstr(out, "\"tarball\":\"http://10.0.0.1/npm/lodash/-/lodash-4.17.21.tgz\""));
	assert_null(strstr(out, "npm.registry.test"));
	free(out);
	cr_npm_doc_free(d);
}

static void parse_bad(const char *doc, const char *name, const char *msg_part)
{
	cr_error *err = NULL;
	cr_npm_doc *d = cr_npm_doc_parse(doc, strlen(doc), name, &err);
	if (d)
		fail_msg("accepted %s", doc);
	assert_int_equal(err->reason, CR_REASON_INTERNAL);
	if (!strstr(err->msg, msg_part))
		fail_msg("%s: message '%s' lacks '%s'", doc, err->msg, msg_part);
	cr_error_free(err);
}

static void test_shape(void **state)
{
	(void)state;
	parse_bad("", NULL, "invalid JSON");
	parse_bad("{\"name\":\"a\"", NULL, "invalid JSON");
	parse_bad("[]", NULL, "not a JSON object");
	parse_bad("{\"name\":1}", NULL, "\"name\"");
	parse_bad("{\"name\":\"b\"}", "a", "\"name\" is not \"a\"");
	parse_bad("{}", "a", "\"name\" is not \"a\"");
	parse_bad("{\"versions\":[]}", NULL, "\"versions\" is not an object");
	parse_bad("{\"dist-tags\":\"x\"}", NULL, "\"dist-tags\"");
	parse_bad("{\"time\":1}", NULL, "\"time\"");
	parse_bad("{\"versions\":{\"1.0.0\":1}}", NULL, "versions[\"1.0.0\"] is not an object");
	parse_bad("{\"versions\":{\"1.0.0\":{\"dist\":[]}}}", NULL, ".dist");
	parse_bad("{\"versions\":{\"1.0.0\":{\"dist\":{\"tarball\":5}}}}", NULL, ".dist");
	parse_bad("{\"versions\":{\"1.0.0\":{\"dist\":{\"shasum\":null}}}}", NULL, ".dist");
	parse_bad("{\"a\":\"\\u0000\"}", NULL, "invalid JSON");

	/* caps */
	size_t n = CR_NPM_VERSIONS_MAX + 1;
	char *big = malloc(n * 16 + 64), *p = big;
	p += snprintf(p, 32, "{\"versions\":{");
	for (size_t i = 0; i < n; i++)
		p += snprintf(p, 32, "%s\"%zu.0.0\":{}", i ? "," : "", i);
	p += snprintf(p, 8, "}}");
	parse_bad(big, NULL, "more than");
	free(big);

	cr_error *err = NULL;
	assert_null(cr_npm_doc_parse("{}", (size_t)CR_NPM_DOC_MAX + 1, NULL, &err));
	assert_non_null(strstr(err->msg, "larger than"));
	cr_error_free(err);

	/* a minimal document without versions is fine */
	err = NULL;
	cr_npm_doc *d = cr_npm_doc_parse("{\"name\":\"a\"}", 12, "a", &err);
	assert_non_null(d);
	assert_int_equal(cr_npm_doc_n_versions(d), 0);
	cr_npm_doc_rewrite(d, &(cr_npm_rewrite){.base_url = "http://gw"}, NULL);
	cr_npm_doc_free(d);
}

static void test_integrity(void **state)
{
	(void)state;
	cr_error *err = NULL;
	cr_npm_doc *d = cr_npm_doc_parse(full_doc, strlen(full_doc), "@sc/pkg", &err);
	assert_non_null(d);
	char *s = cr_npm_doc_integrity(d, "1.0.0"); /* shasum only */
	assert_string_equal(s, "sha1-qvTGHdzF6KLavt4PO0gs2a6pQ00=");
	free(s);
	s = cr_npm_doc_integrity(d, "1.1.0"); /* malformed tokens dropped */
	assert_string_equal(s, "sha512-AAAA");
	free(s);
	s = cr_npm_doc_integrity(d, "2.0.0");
	assert_string_equal(s, "sha512-QUJD");
	free(s);
	s = cr_npm_doc_integrity(d, "3.0.0-rc.1");
	assert_string_equal(s, "sha512-RA==");
	free(s);
	assert_null(cr_npm_doc_integrity(d, "4.0.0"));
	assert_null(cr_npm_doc_integrity(d, "8.0.0"));
	assert_null(cr_npm_doc_integrity(d, "0.0.1"));
	assert_true(cr_npm_doc_has_version(d, "8.0.0"));
	assert_false(cr_npm_doc_has_version(d, "0.0.1"));
	cr_npm_doc_free(d);

	const char *doc = "{\"versions\":{"
			  "\"1.0.0\":{\"dist\":{\"integrity\":\"md5-xx\",\"shasum\":"
			  "\"AAF4C61DDCC5E8A2DABEDE0F3B482CD9AEA9434D\"}},"
			  "\"2.0.0\":{\"dist\":{\"shasum\":\"aaf4\"}},"
			  "\"3.0.0\":{\"dist\":{\"shasum\":\"zaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d\"}},"
			  "\"4.0.0\":{\"dist\":{\"integrity\":\"  sha384-AbC+/w==\\tsha512-AAAA \"}},"
			  "\"5.0.0\":{\"dist\":{\"integrity\":\"sha512-AAA\"}}"
			  "}}";
	d = cr_npm_doc_parse(doc, strlen(doc), NULL, &err);
	assert_non_null(d);
	s = cr_npm_doc_integrity(d, "1.0.0");
	assert_string_equal(s, "sha1-qvTGHdzF6KLavt4PO0gs2a6pQ00=");
	free(s);
	assert_null(cr_npm_doc_integrity(d, "2.0.0"));
	assert_null(cr_npm_doc_integrity(d, "3.0.0"));
	s = cr_npm_doc_integrity(d, "4.0.0");
	assert_string_equal(s, "sha384-AbC+/w== sha512-AAAA");
	free(s);
	assert_null(cr_npm_doc_integrity(d, "5.0.0")); /* base64 of a bad length */
	cr_npm_doc_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),         cmocka_unit_test(test_versions),
		cmocka_unit_test(test_tarball_paths), cmocka_unit_test(test_rewrite),
		cmocka_unit_test(test_filter),        cmocka_unit_test(test_abbreviated),
		cmocka_unit_test(test_shape),         cmocka_unit_test(test_integrity),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
