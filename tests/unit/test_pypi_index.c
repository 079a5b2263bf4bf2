/* SPDX-License-Identifier: Apache-2.0 */
/* test_pypi_index.c -- the PyPI front's pure parts (src/gateway/pypi/):
 * PEP 503 HTML and PEP 691 JSON project pages into one link model (URL
 * resolution, hash fragments, requires-python, yanked, metadata
 * attributes), the pages the gateway serves (URLs through the gateway,
 * hosts and versions filtered, metadata removed, escaping), project names,
 * distribution file names and the Accept header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gateway/pypi/pypi_index.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define SHA_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define SHA_B "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
#define SHA_b "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define SHA_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

#define PAGE_URL "https://pypi.registry.test/simple/demo-pkg/"
#define BASE     "http://10.213.0.1"

/* What a PEP 503 index writes, with every feature the parser handles. */
static const char html_page[] =
	"<!DOCTYPE html>\n<html><head><meta name=\"pypi:repository-version\" content=\"1.1\">"
	"<title>Links for demo-pkg</title></head><body><h1>Links for demo-pkg</h1>\n"
	/* relative to the page */
	"<a href=\"../../packages/ab/cd/demo_pkg-1.0-py3-none-any.whl#sha256=" SHA_A "\" "
	"data-requires-python=\"&gt;=3.8\" data-dist-info-metadata=\"sha256=" SHA_C "\" "
	"data-core-metadata=\"sha256=" SHA_C "\">demo_pkg-1.0-py3-none-any.whl</a><br/>\n"
	/* absolute, on the files host, upper-case hex and host */
	"<A HREF=\"https://Files.Registry.Test/packages/ef/demo-pkg-1.0.tar.gz#sha256=" SHA_B "\" "
	"data-yanked=\"broken &amp; bad\">demo-pkg-1.0.tar.gz</A>\n"
	/* a host the policy will not allow, a query string */
	"<a href=\"https://mirror.other.test/p/demo_pkg-2.0-py3-none-any.whl?x=1#sha512=abcd\">x</a>\n"
	/* unusable: no href, ftp, user info, other port, empty file name */
	"<a name=\"top\">anchor</a>\n"
	"<a href=\"ftp://files.registry.test/demo-pkg-0.1.zip\">ftp</a>\n"
	"<a href=\"https://user:pw@files.registry.test/demo-pkg-0.2.zip\">creds</a>\n"
	"<a href=\"https://files.registry.test:8443/demo-pkg-0.3.zip\">port</a>\n"
	"<a href=\"https://files.registry.test/packages/\">dir</a>\n"
	/* the default port, a dot segment, a space to encode, a yanked one without reason */
	"<a href=\"https://files.registry.test:443/a/./b/../demo-pkg-0.9 beta.zip\" data-yanked>sp</a>\n"
	"</body></html>\n";

static void parse_html_page(cr_pypi_page *p)
{
	cleanup_error cr_error *err = NULL;
	assert_int_equal(cr_pypi_parse_html(html_page, strlen(html_page), PAGE_URL, p, &err), 0);
	assert_null(err);
}

static void test_html_links(void **state)
{
	(void)state;
	cleanup_pypi_page cr_pypi_page p = {0};
	parse_html_page(&p);
	assert_int_equal(p.n_links, 4);
	assert_int_equal(p.skipped, 5);
	assert_string_equal(p.api_version, "1.1");
	assert_null(p.name);

	const cr_pypi_link *w = &p.links[0];
	assert_string_equal(w->filename, "demo_pkg-1.0-py3-none-any.whl");
	assert_string_equal(w->url,
			    "https://pypi.registry.test/packages/ab/cd/demo_pkg-1.0-py3-none-any.whl");
	assert_string_equal(w->host, "pypi.registry.test");
	assert_string_equal(w->path, "packages/ab/cd/demo_pkg-1.0-py3-none-any.whl");
	assert_null(w->query);
	assert_string_equal(cr_pypi_link_sha256(w), SHA_A);
	assert_string_equal(w->requires_python, ">=3.8");
	assert_true(w->had_metadata);
	assert_false(w->yanked);

	const cr_pypi_link *s = &p.links[1];
	assert_string_equal(s->host, "files.registry.test");
	assert_string_equal(cr_pypi_link_sha256(s), SHA_b); /* lower-cased */
	assert_true(s->yanked);
	assert_string_equal(s->yanked_reason, "broken & bad");
	assert_false(s->had_metadata);

	const cr_pypi_link *m = &p.links[2];
	assert_string_equal(m->host, "mirror.other.test");
	assert_string_equal(m->query, "x=1");
	assert_null(cr_pypi_link_sha256(m));
	assert_int_equal(m->n_hashes, 1);
	assert_string_equal(m->hashes[0].algo, "sha512");

	const cr_pypi_link *e = &p.links[3];
	assert_string_equal(e->path, "a/demo-pkg-0.9%20beta.zip");
	assert_string_equal(e->filename, "demo-pkg-0.9 beta.zip");
	assert_true(e->yanked);
	assert_null(e->yanked_reason);

	assert_ptr_equal(cr_pypi_page_find(&p, "demo-pkg-1.0.tar.gz"), s);
	assert_null(cr_pypi_page_find(&p, "demo-pkg-3.0.tar.gz"));
}

static void test_html_base_and_resolution(void **state)
{
	(void)state;
	static const char page[] = "<html><head><base href=\"https://files.registry.test/root/sub/\"></head>"
				   "<body><a href=\"../x/y/../demo-1.0.zip\">a</a>"
				   "<a href=\"//cdn.registry.test/demo-1.1.zip\">b</a>"
				   "<a href=\"/abs/demo-1.2.zip\">c</a>"
				   "<a href=\"demo%2D1.3.zip\">d</a>"
				   "<a href=\"demo%2F1.4.zip\">e</a>"
				   "<a href=\"../../../../demo-1.5.zip\">f</a></body></html>";
	cleanup_pypi_page cr_pypi_page p = {0};
	cleanup_error cr_error *err = NULL;
	assert_int_equal(cr_pypi_parse_html(page, strlen(page), PAGE_URL, &p, &err), 0);
	assert_int_equal(p.n_links, 5);
	assert_string_equal(p.links[0].url, "https://files.registry.test/root/x/demo-1.0.zip");
	assert_string_equal(p.links[1].url, "https://cdn.registry.test/demo-1.1.zip");
	assert_string_equal(p.links[2].url, "https://files.registry.test/abs/demo-1.2.zip");
	assert_string_equal(p.links[3].path, "root/sub/demo%2D1.3.zip");
	assert_string_equal(p.links[3].filename, "demo-1.3.zip");
	/* "%2F" would make the file name a path: skipped */
	assert_int_equal(p.skipped, 1);
	assert_string_equal(p.links[4].url, "https://files.registry.test/demo-1.5.zip");
	assert_string_equal(p.api_version, "1.0");
}

static void test_html_empty_and_garbage(void **state)
{
	(void)state;
	static const char *const inputs[] = {"", "not html at all", "<a href=", "<<<>>>\x01\xff<a href='x'>",
					     "<html><body><a href=\"demo-1.0.zip\"></body>"};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		cleanup_pypi_page cr_pypi_page p = {0};
		cleanup_error cr_error *err = NULL;
		assert_int_equal(cr_pypi_parse_html(inputs[i], strlen(inputs[i]), PAGE_URL, &p, &err), 0);
	}
	cleanup_pypi_page cr_pypi_page p = {0};
	cleanup_error cr_error *err = NULL;
	const char *last = inputs[4];
	assert_int_equal(cr_pypi_parse_html(last, strlen(last), PAGE_URL, &p, &err), 0);
	assert_int_equal(p.n_links, 1);
	assert_string_equal(p.links[0].url, "https://pypi.registry.test/simple/demo-pkg/demo-1.0.zip");
}

static const char json_page[] =
	"{\"meta\":{\"api-version\":\"1.1\",\"_last-serial\":7},\"name\":\"demo-pkg\","
	"\"versions\":[\"1.0\",\"2.0\"],\"files\":["
	"{\"filename\":\"demo_pkg-1.0-py3-none-any.whl\",\"url\":\"https://files.registry.test/p/"
	"demo_pkg-1.0-py3-"
	"none-any.whl\",\"hashes\":{\"sha256\":\"" SHA_A "\",\"md5\":\"00ff\",\"bad\":1},"
	"\"requires-python\":\">=3.8\",\"core-metadata\":{\"sha256\":\"" SHA_C "\"},"
	"\"dist-info-metadata\":true,\"size\":1234,\"upload-time\":\"2024-01-01T00:00:00Z\","
	"\"gpg-sig\":false,\"yanked\":false},"
	"{\"filename\":\"demo-pkg-2.0.tar.gz\",\"url\":\"../../packages/demo-pkg-2.0.tar.gz\","
	"\"hashes\":{\"sha256\":\"" SHA_B "\"},\"yanked\":\"security\",\"core-metadata\":false},"
	"{\"filename\":\"x\",\"url\":\"javascript:alert(1)\",\"hashes\":{}},"
	"{\"url\":\"https://files.registry.test/nofilename-1.0.zip\"},"
	"\"not an object\","
	"{\"filename\":\"demo-pkg-3.0.zip\",\"url\":\"https://files.registry.test/demo-pkg-3.0.zip\","
	"\"hashes\":{\"sha256\":\"short\"},\"requires-python\":7}"
	"]}";

static void test_json_links(void **state)
{
	(void)state;
	cleanup_pypi_page cr_pypi_page p = {0};
	cleanup_error cr_error *err = NULL;
	assert_int_equal(cr_pypi_parse_json(json_page, strlen(json_page), PAGE_URL, &p, &err), 0);
	assert_string_equal(p.name, "demo-pkg");
	assert_string_equal(p.api_version, "1.1");
	assert_int_equal(p.n_versions, 2);
	assert_int_equal(p.n_links, 2);
	assert_int_equal(p.skipped, 4);
	const cr_pypi_link *w = &p.links[0];
	assert_string_equal(w->host, "files.registry.test");
	assert_string_equal(cr_pypi_link_sha256(w), SHA_A);
	assert_int_equal(w->n_hashes, 2); /* sha256 and md5; "bad" is not a string */
	assert_true(w->had_metadata);
	assert_int_equal(w->size, 1234);
	assert_string_equal(w->upload_time, "2024-01-01T00:00:00Z");
	assert_string_equal(w->requires_python, ">=3.8");
	const cr_pypi_link *s = &p.links[1];
	assert_string_equal(s->url, "https://pypi.registry.test/packages/demo-pkg-2.0.tar.gz");
	assert_true(s->yanked);
	assert_string_equal(s->yanked_reason, "security");
	assert_false(s->had_metadata);
	assert_int_equal(s->size, -1);
}

static void test_json_errors(void **state)
{
	(void)state;
	static const char *const bad[] = {"",    "[]", "{\"files\":{}}", "{\"meta\":{}}", "{\"files\":[",
					  "null"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cleanup_pypi_page cr_pypi_page p = {0};
		cleanup_error cr_error *err = NULL;
		assert_int_equal(cr_pypi_parse_json(bad[i], strlen(bad[i]), PAGE_URL, &p, &err), -1);
		assert_non_null(err);
		assert_int_equal(p.n_links, 0);
	}
}

static void test_parse_dispatch(void **state)
{
	(void)state;
	cleanup_error cr_error *err = NULL;
	{
		cleanup_pypi_page cr_pypi_page p = {0};
		assert_int_equal(
			cr_pypi_parse(json_page, strlen(json_page), CR_PYPI_JSON_TYPE, PAGE_URL, &p, &err),
			0);
		assert_non_null(p.name);
	}
	{
		cleanup_pypi_page cr_pypi_page p = {0};
		assert_int_equal(cr_pypi_parse(json_page, strlen(json_page), "", PAGE_URL, &p, &err), 0);
		assert_non_null(p.name); /* sniffed */
	}
	{
		cleanup_pypi_page cr_pypi_page p = {0};
		assert_int_equal(cr_pypi_parse(html_page, strlen(html_page), "text/html; charset=utf-8",
					       PAGE_URL, &p, &err),
				 0);
		assert_null(p.name);
		assert_int_equal(p.n_links, 4);
	}
}

static void test_caps(void **state)
{
	(void)state;
	size_t big = (size_t)CR_PYPI_PAGE_MAX + 1;
	char *body = cr_xcalloc(1, big);
	cleanup_error cr_error *err = NULL;
	cr_pypi_page p = {0};
	assert_int_equal(cr_pypi_parse_html(body, big, PAGE_URL, &p, &err), -1);
	assert_non_null(strstr(err->msg, "larger"));
	cr_error_freep(&err);
	assert_int_equal(cr_pypi_parse_json(body, big, PAGE_URL, &p, &err), -1);
	free(body);
	cr_error_freep(&err);

	/* one link more than allowed */
	json_t *files = json_array();
	for (unsigned i = 0; i <= CR_PYPI_LINKS_MAX; i++)
		json_array_append_new(files,
				      json_pack("{s:s, s:s}", "filename", "d-1.zip", "url", "/d-1.zip"));
	json_t *root = json_pack("{s:o}", "files", files);
	char *text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	assert_int_equal(cr_pypi_parse_json(text, strlen(text), PAGE_URL, &p, &err), -1);
	assert_non_null(strstr(err->msg, "more than"));
	assert_int_equal(p.n_links, 0);
	free(text);
}

/* ---- rendering ---- */

static bool not_mirror(void *ud, const char *host)
{
	(*(int *)ud)++;
	return strcmp(host, "mirror.other.test") != 0;
}

static void test_render_html(void **state)
{
	(void)state;
	cleanup_pypi_page cr_pypi_page p = {0};
	parse_html_page(&p);
	int calls = 0;
	cr_pypi_render_opts o = {.format = CR_PYPI_HTML,
				 .base_url = BASE,
				 .project = "demo-pkg",
				 .host_allowed = not_mirror,
				 .ud = &calls};
	cleanup_free char *out = NULL;
	size_t len = 0, kept = 0;
	cleanup_error cr_error *err = NULL;
	assert_int_equal(cr_pypi_render(&p, &o, &out, &len, &kept, &err), 0);
	assert_int_equal(len, strlen(out));
	assert_int_equal(kept, 3);
	assert_int_equal(calls, 4);
	assert_non_null(strstr(out, "<a href=\"" BASE "/pypi/files/pypi.registry.test/packages/ab/cd/"
				    "demo_pkg-1.0-py3-none-any.whl#sha256=" SHA_A
				    "\" data-requires-python=\"&gt;=3.8\">"
				    "demo_pkg-1.0-py3-none-any.whl</a>"));
	assert_non_null(strstr(out,
			       "<a href=\"" BASE "/pypi/files/files.registry.test/packages/ef/"
			       "demo-pkg-1.0.tar.gz#sha256=" SHA_b "\" data-yanked=\"broken &amp; bad\">"));
	assert_non_null(
		strstr(out, "/pypi/files/files.registry.test/a/demo-pkg-0.9%20beta.zip\" data-yanked=\"\">"));
	assert_null(strstr(out, "mirror.other.test"));
	assert_null(strstr(out, "metadata"));
	assert_null(strstr(out, "https://"));
	assert_non_null(strstr(out, "<title>Links for demo-pkg</title>"));

	/* the served page parses back into the same files, now on the gateway */
	cleanup_pypi_page cr_pypi_page back = {0};
	assert_int_equal(cr_pypi_parse_html(out, len, "http://10.213.0.1/pypi/simple/demo-pkg/", &back, &err),
			 0);
	assert_int_equal(back.n_links, 3);
	assert_string_equal(back.links[0].host, "10.213.0.1");
	assert_string_equal(back.links[0].path, "pypi/files/pypi.registry.test/packages/ab/cd/"
						"demo_pkg-1.0-py3-none-any.whl");
	assert_string_equal(cr_pypi_link_sha256(&back.links[0]), SHA_A);
	assert_string_equal(back.links[0].requires_python, ">=3.8");
	assert_false(back.links[0].had_metadata);
	assert_string_equal(back.links[1].yanked_reason, "broken & bad");
}

static void test_render_html_escaping(void **state)
{
	(void)state;
	static const char page[] =
		"<a href=\"https://files.registry.test/x/q&quot;&lt;&apos;-1.0.zip?a=1&amp;b='2'\" "
		"data-requires-python=\"&lt;4,&gt;=3 &quot;x&quot;\" "
		"data-yanked=\"&lt;script&gt;\">z</a>";
	cleanup_pypi_page cr_pypi_page p = {0};
	cleanup_error cr_error *err = NULL;
	assert_int_equal(cr_pypi_parse_html(page, strlen(page), PAGE_URL, &p, &err), 0);
	assert_int_equal(p.n_links, 1);
	assert_string_equal(p.links[0].path, "x/q%22%3C'-1.0.zip");
	assert_string_equal(p.links[0].query, "a=1&b='2'");
	cr_pypi_render_opts o = {.format = CR_PYPI_HTML, .base_url = BASE, .project = "q"};
	cleanup_free char *out = NULL;
	size_t len;
	assert_int_equal(cr_pypi_render(&p, &o, &out, &len, NULL, &err), 0);
	assert_non_null(strstr(
		out, "/pypi/files/files.registry.test/x/q%22%3C&#39;-1.0.zip?a=1&amp;b=&#39;2&#39;\""));
	assert_non_null(strstr(out, "data-requires-python=\"&lt;4,&gt;=3 &quot;x&quot;\""));
	assert_non_null(strstr(out, "data-yanked=\"&lt;script&gt;\""));
	assert_non_null(strstr(out, ">q&quot;&lt;&#39;-1.0.zip</a>"));
	assert_null(strstr(out, "<script>"));
}

static void test_render_json(void **state)
{
	(void)state;
	cleanup_pypi_page cr_pypi_page p = {0};
	cleanup_error cr_error *err = NULL;
	assert_int_equal(cr_pypi_parse_json(json_page, strlen(json_page), PAGE_URL, &p, &err), 0);
	cr_pypi_render_opts o = {.format = CR_PYPI_JSON, .base_url = BASE, .project = "demo-pkg"};
	cleanup_free char *out = NULL;
	size_t len = 0, kept = 0;
	assert_int_equal(cr_pypi_render(&p, &o, &out, &len, &kept, &err), 0);
	assert_int_equal(kept, 2);
	json_error_t jerr;
	json_auto_t *root = json_loadb(out, len, 0, &jerr);
	assert_non_null(root);
	assert_string_equal(json_string_value(json_object_get(json_object_get(root, "meta"), "api-version")),
			    "1.1");
	assert_string_equal(json_string_value(json_object_get(root, "name")), "demo-pkg");
	assert_int_equal(json_array_size(json_object_get(root, "versions")), 2);
	json_t *files = json_object_get(root, "files");
	assert_int_equal(json_array_size(files), 2);
	json_t *f0 = json_array_get(files, 0);
	assert_string_equal(json_string_value(json_object_get(f0, "url")),
			    BASE "/pypi/files/files.registry.test/p/demo_pkg-1.0-py3-none-any.whl");
	assert_string_equal(json_string_value(json_object_get(json_object_get(f0, "hashes"), "sha256")),
			    SHA_A);
	assert_string_equal(json_string_value(json_object_get(json_object_get(f0, "hashes"), "md5")), "00ff");
	assert_null(json_object_get(f0, "core-metadata"));
	assert_null(json_object_get(f0, "dist-info-metadata"));
	assert_null(json_object_get(f0, "gpg-sig"));
	assert_null(json_object_get(f0, "yanked"));
	assert_int_equal(json_integer_value(json_object_get(f0, "size")), 1234);
	assert_string_equal(json_string_value(json_object_get(f0, "requires-python")), ">=3.8");
	json_t *f1 = json_array_get(files, 1);
	assert_string_equal(json_string_value(json_object_get(f1, "yanked")), "security");
	assert_string_equal(json_string_value(json_object_get(f1, "filename")), "demo-pkg-2.0.tar.gz");
	assert_null(strstr(out, "https://"));
}

static void test_render_version_filter(void **state)
{
	(void)state;
	cleanup_pypi_page cr_pypi_page p = {0};
	cleanup_error cr_error *err = NULL;
	assert_int_equal(cr_pypi_parse_json(json_page, strlen(json_page), PAGE_URL, &p, &err), 0);
	const char *const only_two[] = {"2.0", NULL};
	cr_pypi_render_opts o = {
		.format = CR_PYPI_JSON, .base_url = BASE, .project = "demo-pkg", .versions = only_two};
	cleanup_free char *out = NULL;
	size_t len = 0, kept = 0;
	assert_int_equal(cr_pypi_render(&p, &o, &out, &len, &kept, &err), 0);
	assert_int_equal(kept, 1);
	json_auto_t *root = json_loadb(out, len, 0, NULL);
	json_t *versions = json_object_get(root, "versions");
	assert_int_equal(json_array_size(versions), 1);
	assert_string_equal(json_string_value(json_array_get(versions, 0)), "2.0");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(root, "files"), 0), "filename")),
			    "demo-pkg-2.0.tar.gz");

	/* HTML: the same filter; a version nobody has leaves an empty page */
	const char *const none[] = {"9.9", NULL};
	cleanup_pypi_page cr_pypi_page h = {0};
	parse_html_page(&h);
	cr_pypi_render_opts oh = {
		.format = CR_PYPI_HTML, .base_url = BASE, .project = "demo-pkg", .versions = none};
	cleanup_free char *html = NULL;
	assert_int_equal(cr_pypi_render(&h, &oh, &html, &len, &kept, &err), 0);
	assert_int_equal(kept, 0);
	assert_null(strstr(html, "<a "));
	const char *const one[] = {"1.0", NULL};
	oh.versions = one;
	cleanup_free char *html1 = NULL;
	assert_int_equal(cr_pypi_render(&h, &oh, &html1, &len, &kept, &err), 0);
	assert_int_equal(kept, 2); /* the 1.0 wheel and sdist; 2.0 and the unparseable "0.9 beta" are gone */
}

static void test_render_json_from_html(void **state)
{
	(void)state;
	cleanup_pypi_page cr_pypi_page p = {0};
	parse_html_page(&p);
	cr_pypi_render_opts o = {.format = CR_PYPI_JSON, .base_url = BASE, .project = "demo-pkg"};
	cleanup_free char *out = NULL;
	size_t len;
	cleanup_error cr_error *err = NULL;
	assert_int_equal(cr_pypi_render(&p, &o, &out, &len, NULL, &err), 0);
	json_auto_t *root = json_loadb(out, len, 0, NULL);
	assert_non_null(root);
	/* no PEP 700 fields without a page that had them: api-version 1.0 */
	assert_string_equal(json_string_value(json_object_get(json_object_get(root, "meta"), "api-version")),
			    "1.0");
	assert_null(json_object_get(root, "versions"));
	json_t *f = json_array_get(json_object_get(root, "files"), 1);
	assert_true(json_is_string(json_object_get(f, "yanked")));
	json_t *e = json_array_get(json_object_get(root, "files"), 3);
	assert_true(json_is_true(json_object_get(e, "yanked")));
}

/* ---- names, files, Accept ---- */

static void test_names(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"Demo_Pkg", "demo-pkg"},           {"a.-_b", "a-b"}, {"Friendly-Bard", "friendly-bard"},
		{"FRIENDLY_BARD", "friendly-bard"}, {"x", "x"},       {"zope.interface", "zope-interface"}};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cleanup_free char *n = cr_pypi_normalize(cases[i].in, strlen(cases[i].in));
		assert_string_equal(n, cases[i].out);
		assert_true(cr_pypi_name_valid(cases[i].in, strlen(cases[i].in)));
	}
	assert_true(cr_pypi_name_is_normalized("demo-pkg"));
	assert_false(cr_pypi_name_is_normalized("Demo-pkg"));
	assert_false(cr_pypi_name_is_normalized("demo_pkg"));
	assert_false(cr_pypi_name_is_normalized("demo--pkg"));
	static const char *const invalid[] = {"", "-a", "a-", "a b", "a/b", "..", "é"};
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		assert_false(cr_pypi_name_valid(invalid[i], strlen(invalid[i])));
	char longname[CR_PYPI_NAME_MAX + 2];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_false(cr_pypi_name_valid(longname, strlen(longname)));
	assert_true(cr_pypi_name_valid(longname, CR_PYPI_NAME_MAX));
}

static void test_filenames(void **state)
{
	(void)state;
	static const struct {
		const char *file, *name, *version;
	} ok[] = {
		{"demo_pkg-1.0-py3-none-any.whl", "demo-pkg", "1.0"},
		{"Demo.Pkg-2.0.post1-1-cp311-cp311-manylinux_2_17_x86_64.whl", "demo-pkg", "2.0.post1"},
		{"demo-pkg-1.0.tar.gz", "demo-pkg", "1.0"},
		{"Demo_Pkg-1.0rc1.zip", "demo-pkg", "1.0rc1"},
		{"demo-1!2.0+local.7.tar.bz2", "demo", "1!2.0+local.7"},
		{"x-0.tar.gz", "x", "0"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cleanup_free char *name = NULL;
		cleanup_free char *version = NULL;
		assert_int_equal(cr_pypi_filename_parse(ok[i].file, &name, &version), 0);
		assert_string_equal(name, ok[i].name);
		assert_string_equal(version, ok[i].version);
	}
	static const char *const bad[] = {
		"demo-1.0-py3-any.whl",          /* four parts */
		"demo-1.0-1-x-py3-none-any.whl", /* seven */
		"demo--py3-none-any.whl",        /* empty version */
		"-1.0.tar.gz",                   /* empty name */
		"demo.tar.gz",                   /* no version */
		"demo-1.0.egg",                  /* not a wheel or sdist */
		"demo-1.0.tar.xz",               /* not accepted */
		"demo-1.0.TAR.GZ",               /* suffixes are exact */
		"demo-.zip",                     /* empty version */
		"de mo-1.0.zip",                 /* bad name */
		"demo-1 0.zip",                  /* bad version */
		".whl",                          /* nothing */
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *name = NULL, *version = NULL;
		assert_int_equal(cr_pypi_filename_parse(bad[i], &name, &version), -1);
		assert_null(name);
		assert_null(version);
	}
}

static void test_path_filename(void **state)
{
	(void)state;
	static const struct {
		const char *path, *name;
	} cases[] = {
		{"packages/ab/demo%2D1.0.zip", "demo-1.0.zip"},
		{"demo-1.0.zip", "demo-1.0.zip"},
		{"p/%e2%82%ac-1.0.zip", "\xe2\x82\xac-1.0.zip"},
		{"p/100%-1.0.zip", "100%-1.0.zip"}, /* a '%' without two hex digits stays */
		{"p/", NULL},
		{"", NULL},
		{"p/a%2Fb.zip", NULL},
		{"p/%FF.zip", NULL},
		{"p/a%00.zip", NULL},
		{"p/a%0a.zip", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cleanup_free char *got = cr_pypi_path_filename(cases[i].path);
		if (cases[i].name)
			assert_string_equal(got, cases[i].name);
		else
			assert_null(got);
	}
}

static void test_accept(void **state)
{
	(void)state;
	/* what pip sends */
	assert_int_equal(
		cr_pypi_format_for_accept("application/vnd.pypi.simple.v1+json, "
					  "application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01"),
		CR_PYPI_JSON);
	assert_int_equal(cr_pypi_format_for_accept(NULL), CR_PYPI_HTML);
	assert_int_equal(cr_pypi_format_for_accept(""), CR_PYPI_HTML);
	assert_int_equal(cr_pypi_format_for_accept("*/*"), CR_PYPI_HTML);
	assert_int_equal(cr_pypi_format_for_accept("text/html"), CR_PYPI_HTML);
	assert_int_equal(cr_pypi_format_for_accept("application/vnd.pypi.simple.v1+json;q=0"), CR_PYPI_HTML);
	assert_int_equal(
		cr_pypi_format_for_accept("application/vnd.pypi.simple.v1+json;q=0.2,text/html;q=0.5"),
		CR_PYPI_HTML);
	assert_int_equal(
		cr_pypi_format_for_accept("text/html;q=0.5, application/vnd.pypi.simple.latest+json"),
		CR_PYPI_JSON);
	assert_int_equal(cr_pypi_format_for_accept("APPLICATION/VND.PYPI.SIMPLE.V1+JSON"), CR_PYPI_JSON);
	assert_int_equal(cr_pypi_format_for_accept("application/vnd.pypi.simple.v1+jsonx"), CR_PYPI_HTML);
	assert_int_equal(cr_pypi_format_for_accept("application/json"), CR_PYPI_HTML);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_html_links),
		cmocka_unit_test(test_html_base_and_resolution),
		cmocka_unit_test(test_html_empty_and_garbage),
		cmocka_unit_test(test_json_links),
		cmocka_unit_test(test_json_errors),
		cmocka_unit_test(test_parse_dispatch),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_render_html),
		cmocka_unit_test(test_render_html_escaping),
		cmocka_unit_test(test_render_json),
		cmocka_unit_test(test_render_version_filter),
		cmocka_unit_test(test_render_json_from_html),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_filenames),
		cmocka_unit_test(test_path_filename),
		cmocka_unit_test(test_accept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
