/* SPDX-License-Identifier: Apache-2.0 */
/* npm_tarball.c -- tarballs of the npm front: GET <name>/-/<file>.tgz.
 *
 * The request names the package and version; the policy decides (front.h
 * steps 1-4); the tarball is fetched from the npm upstream host by its
 * canonical path and verified while it streams into the cache. Its expected
 * integrity comes, in this order, from
 *   the lockfile       the allowlist entry that allowed it (always wins);
 *   the cache          the SRI a stored copy was verified against when it
 *                      was stored (a stored tarball is then a hit without
 *                      parsing any document);
 *   the packument      versions[v].dist.integrity, else dist.shasum, of the
 *                      abbreviated document (cached like any packument; a
 *                      version missing from a cached copy revalidates it
 *                      once).
 * Without any, nothing is fetched: tarballs are never served unverified. */
#include <stdio.h>
#include <string.h>

#include "gateway/npm/npm_internal.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static void tarball_key(const npm_req *r, char key[NPM_KEY_MAX])
{
	snprintf(key, NPM_KEY_MAX, "npm:tgz:%s/%s", r->host, r->tgz.path);
}

static void what(const npm_req *r, char *out, size_t n)
{
	snprintf(out, n, "the tarball of %s %s", r->pkg.name, r->version);
}

/* Redirects may go to any host of the npm registry's allowed_hosts. */
static bool allow_redirect(void *ud, const char *url)
{
	const npm_req *r = ud;
	const char *a = strstr(url, "://");
	if (!a)
		return false;
	a += 3;
	char host[256];
	size_t n = strcspn(a, ":/?#@");
	if (n == 0 || n >= sizeof(host) || a[n] == '@')
		return false;
	for (size_t i = 0; i < n; i++)
		host[i] = (char)(a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]);
	host[n] = '\0';
	cr_front_decision d;
	cr_front_decide_host(r->c->gw, "npm", host, &d);
	return d.verdict != CR_FRONT_DENY;
}

static void on_tarball(void *ud, const cr_upstream_result *res, cr_error *err)
{
	npm_req *r = ud;
	r->op = NULL;
	if (err) {
		char w[CR_NPM_PATH_MAX];
		what(r, w, sizeof(w));
		npm_answer_upstream_error(r, res, err, w);
		return;
	}
	npm_audit(r, npm_verdict_action(r), r->d.reason, r->d.rule, r->d.detail, res->from);
	cr_front_send_entry(r->c, res->entry, "application/octet-stream");
	npm_req_free(r);
}

/* The tarball from the cache at once when a copy verified for r->integrity
 * is stored, else from upstream (through the cache). */
static void fetch_tarball(npm_req *r)
{
	char key[NPM_KEY_MAX], url[NPM_KEY_MAX];
	tarball_key(r, key);
	snprintf(url, sizeof(url), "https://%s/%s", r->host, r->tgz.path);
	cr_upstream_get g = {.key = key, .url = url, .integrity = r->integrity};
	cleanup_cache_entry cr_cache_entry e = {0};
	if (cr_upstream_artifact_stored(r->c->upstream, &g, &e) == 1) {
		on_tarball(r, &(cr_upstream_result){.entry = &e, .from = "hit"}, NULL);
		return;
	}
	r->op = cr_upstream_artifact(r->c->upstream, &g, allow_redirect, on_tarball, r);
}

static void refuse_no_integrity(npm_req *r, bool listed)
{
	char detail[512];
	snprintf(detail, sizeof(detail),
		 "no integrity for %s %s: the lockfile does not declare it and %s; tarballs are never served "
		 "unverified",
		 r->pkg.name, r->version,
		 listed ? "the registry's document has neither dist.integrity nor dist.shasum for it"
			: "the registry's document does not list this version");
	npm_audit(r, "error", CR_REASON_INTERNAL, r->d.rule, detail, NULL);
	cr_front_refuse(r->c, 502, CR_REASON_NONE, "cleanroom: %s", detail);
	npm_req_free(r);
}

static void on_document(void *ud, const cr_upstream_result *res, cr_error *err);

/* The packument's integrity for r's version (NULL with *listed). */
static char *document_integrity(npm_req *r, const cr_cache_entry *e, bool *listed, cr_error **err)
{
	cleanup_free char *raw = npm_read_blob(e, r->c->gw, CR_NPM_DOC_MAX, err);
	if (!raw)
		return NULL;
	cleanup_npm_doc cr_npm_doc *doc = cr_npm_doc_parse(raw, (size_t)e->size, r->pkg.name, err);
	if (!doc)
		return NULL;
	*listed = cr_npm_doc_has_version(doc, r->version);
	return cr_npm_doc_integrity(doc, r->version);
}

static void on_document(void *ud, const cr_upstream_result *res, cr_error *err)
{
	npm_req *r = ud;
	r->op = NULL;
	if (err) {
		char w[CR_NPM_PATH_MAX + 64];
		snprintf(w, sizeof(w), "the package document of %s (for the integrity of %s)", r->pkg.name,
			 r->version);
		npm_answer_upstream_error(r, res, err, w);
		return;
	}
	bool listed = false;
	cleanup_error cr_error *perr = NULL;
	r->integrity = document_integrity(r, res->entry, &listed, &perr);
	if (perr) {
		npm_audit(r, "error", CR_REASON_INTERNAL, r->d.rule, perr->msg, res->from);
		cr_front_refuse(r->c, 502, CR_REASON_NONE,
				"cleanroom: the document of %s from %s is unusable: %s", r->pkg.name, r->host,
				perr->msg);
		npm_req_free(r);
		return;
	}
	if (!r->integrity && !listed && !r->retried && strcmp(res->from, "hit") == 0) {
		r->retried = true; /* published after the cached copy: ask upstream again */
		npm_get_document(r, r->abbrev, -1, on_document);
		return;
	}
	if (!r->integrity) {
		refuse_no_integrity(r, listed);
		return;
	}
	r->source = "registry's document";
	fetch_tarball(r);
}

/* The packument variant to read integrity from: the abbreviated one,
 * unless only the full one is cached (npm asks for either). */
static bool prefer_abbrev(const npm_req *r)
{
	cr_cache *cache = cr_front_cache(r->c->gw);
	char key[NPM_KEY_MAX];
	cleanup_cache_entry cr_cache_entry e = {0};
	cleanup_error cr_error *err = NULL;
	npm_document_key(r, true, key);
	if (cr_cache_get(cache, key, &e, &err) == 1)
		return true;
	cr_error_freep(&err);
	npm_document_key(r, false, key);
	return cr_cache_get(cache, key, &e, &err) != 1;
}

/* The SRI a stored copy of the tarball was verified against, or NULL. */
static char *stored_integrity(const npm_req *r)
{
	char key[NPM_KEY_MAX];
	tarball_key(r, key);
	cleanup_cache_entry cr_cache_entry e = {0};
	cleanup_error cr_error *err = NULL;
	if (cr_cache_get(cr_front_cache(r->c->gw), key, &e, &err) != 1 || !e.integrity || !*e.integrity)
		return NULL;
	return cr_xstrdup(e.integrity);
}

void npm_serve_tarball(cr_front_call *c)
{
	cr_npm_tarball t;
	cleanup_error cr_error *err = NULL;
	if (cr_npm_parse_tarball(c->rest, &t, &err) < 0) {
		char w[512];
		snprintf(w, sizeof(w), "'%.200s' (%s)", c->rest, err->msg);
		npm_refuse_unserved(c, w);
		return;
	}
	npm_req *r = npm_req_new(c);
	r->tgz = t;
	r->pkg = t.pkg;
	r->version = r->tgz.version;
	r->host = cr_front_upstream_host(c->gw, "npm");
	cr_front_decide_artifact(c->gw, "npm", r->host, r->pkg.name, r->version, &r->d);
	if (r->d.verdict == CR_FRONT_DENY) {
		cr_front_apply(c, &r->d, r->pkg.name, r->version, r->host);
		npm_req_free(r);
		return;
	}
	if (r->d.artifact && r->d.artifact->integrity && *r->d.artifact->integrity) {
		r->integrity = cr_xstrdup(r->d.artifact->integrity);
		r->source = "lockfile";
	} else if ((r->integrity = stored_integrity(r))) {
		r->source = "cached copy's verification";
	}
	if (r->integrity) {
		fetch_tarball(r);
		return;
	}
	r->abbrev = prefer_abbrev(r);
	npm_get_document(r, r->abbrev, 0, on_document);
}
