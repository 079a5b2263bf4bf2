/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_npm_packument.c -- libFuzzer target for the npm front's pure half
 * (src/gateway/npm/npm_doc.c). Input: one flags byte, a request path up to
 * the first newline, then a packument. The path goes through the name and
 * tarball-path parsers (an accepted path is valid and its canonical form
 * parses back to the same thing); the packument through parse, rewrite
 * (with and without a host predicate and a version filter, by flag), dump
 * and parse again. After a rewrite every version left has a valid key, a
 * tarball URL under the gateway whose path names this package and version,
 * passes the filter, and every dist-tag names a version left. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/npm/npm_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define BASE "http://gw.test"

static void check_paths(const char *path)
{
	cr_error *err = NULL;
	cr_npm_name n, n2;
	if (cr_npm_parse_name(path, &n, &err) == 0) {
		if (!cr_npm_valid_name(n.name) || cr_npm_parse_name(n.encoded, &n2, &err) < 0 ||
		    strcmp(n.name, n2.name) != 0)
			abort();
	}
	cr_error_free(err);
	err = NULL;
	cr_npm_tarball t, t2;
	if (cr_npm_parse_tarball(path, &t, &err) == 0) {
		if (!cr_npm_valid_name(t.pkg.name) || !cr_npm_valid_version(t.version) ||
		    cr_npm_parse_tarball(t.path, &t2, &err) < 0 || strcmp(t.path, t2.path) != 0 ||
		    strcmp(t.version, t2.version) != 0)
			abort();
	}
	cr_error_free(err);
}

static bool host_pred(void *ud, const char *host)
{
	(void)ud;
	for (const char *p = host; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			abort(); /* hosts are handed over in lower case */
	return strcmp(host, "npm.registry.test") == 0;
}

static bool listed(const char *const *list, const char *v)
{
	for (; *list; list++)
		if (strcmp(*list, v) == 0)
			return true;
	return false;
}

static void check_rewritten(const char *dumped, size_t len, const char *const *allowed)
{
	json_t *root = json_loadb(dumped, len, 0, NULL);
	if (!root)
		abort();
	json_t *versions = json_object_get(root, "versions"), *entry, *val;
	const char *name = json_string_value(json_object_get(root, "name")), *v, *tag;
	const char *seen[16];
	size_t n_seen = 0;
	json_object_foreach (versions, v, entry) {
		const char *url =
			json_string_value(json_object_get(json_object_get(entry, "dist"), "tarball"));
		cr_npm_tarball t;
		cr_error *err = NULL;
		if (!cr_npm_valid_version(v) || (allowed && !listed(allowed, v)) || !url ||
		    strncmp(url, BASE "/npm/", strlen(BASE "/npm/")) != 0 ||
		    cr_npm_parse_tarball(url + strlen(BASE "/npm/"), &t, &err) < 0 || !name ||
		    strcmp(t.pkg.name, name) != 0 || strcmp(t.version, v) != 0)
			abort();
		if (n_seen < 16)
			seen[n_seen++] = v;
	}
	/* precedence is antisymmetric */
	for (size_t a = 0; a < n_seen; a++)
		for (size_t b = 0; b < n_seen; b++) {
			int ab = cr_npm_semver_cmp(seen[a], seen[b]),
			    ba = cr_npm_semver_cmp(seen[b], seen[a]);
			if ((ab > 0) != (ba < 0) || (ab == 0) != (ba == 0))
				abort();
		}
	json_object_foreach (json_object_get(root, "dist-tags"), tag, val)
		if (!json_is_string(val) || !json_object_get(versions, json_string_value(val)))
			abort();
	json_decref(root);
}

static void check_doc(uint8_t flags, const char *doc, size_t len)
{
	cr_error *err = NULL;
	cr_npm_doc *d = cr_npm_doc_parse(doc, len, (flags & 4) ? "@sc/pkg" : NULL, &err);
	if (!d) {
		if (!err || !err->msg)
			abort();
		cr_error_free(err);
		return;
	}
	/* allowed: every other version key of the input, and one that is absent */
	const char *allowed[8] = {0};
	size_t n_allowed = 0, i = 0;
	json_t *input = json_loadb(doc, len, 0, NULL), *entry;
	if (!input)
		abort(); /* cr_npm_doc_parse accepted it */
	const char *v;
	json_object_foreach (json_object_get(input, "versions"), v, entry)
		if (i++ % 2 == 0 && n_allowed < 6)
			allowed[n_allowed++] = strdup(v);
	allowed[n_allowed++] = strdup("0.0.0-absent");
	json_decref(input);
	for (size_t k = 0; k < n_allowed; k++) {
		char *sri = cr_npm_doc_integrity(d, allowed[k]);
		if (sri && (!*sri || strlen(sri) > CR_NPM_INTEGRITY_MAX))
			abort();
		free(sri);
	}
	cr_npm_rewrite rw = {.base_url = BASE "/",
			     .host_allowed = (flags & 2) ? host_pred : NULL,
			     .allowed_versions = (flags & 1) ? allowed : NULL};
	cr_npm_rewrite_stats st;
	cr_npm_doc_rewrite(d, &rw, &st);
	if (st.kept != cr_npm_doc_n_versions(d))
		abort();
	size_t out_len;
	char *out = cr_npm_doc_dump(d, &out_len);
	check_rewritten(out, out_len, rw.allowed_versions);
	cr_npm_doc *again = cr_npm_doc_parse(out, out_len, (flags & 4) ? "@sc/pkg" : NULL, &err);
	if (!again || cr_npm_doc_n_versions(again) != st.kept)
		abort();
	cr_npm_doc_free(again);
	free(out);
	cr_npm_doc_free(d);
	for (size_t k = 0; k < n_allowed; k++)
		free((char *)allowed[k]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t flags = data[0];
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	size_t path_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
	if (path_len < 2048) {
		char path[2048];
		memcpy(path, p, path_len);
		path[path_len] = '\0';
		check_paths(path);
	}
	if (nl)
		check_doc(flags, nl + 1, (size_t)(end - nl - 1));
	return 0;
}
