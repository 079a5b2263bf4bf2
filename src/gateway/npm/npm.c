/* SPDX-License-Identifier: Apache-2.0 */
/* npm.c -- the npm registry front (front.h; docs/internals/registry-npm.md):
 * routes under http://<gateway>/npm/ and package documents.
 *
 *   GET|HEAD <name>                   packument (@scope%2fname, @scope/name)
 *   GET|HEAD <name>/-/<file>.tgz      tarball (npm_tarball.c)
 *   GET|HEAD -/ping                   200 {}
 *   everything else                   403 registry_not_allowed, audited
 *                                     (npm audit, search, login, publish, ...)
 *
 * A packument is fetched as a cached document (upstream.h) in the variant
 * the client asked for, abbreviated or full, then rewritten (npm_doc.h):
 * tarball URLs point at this front, versions the lockfile does not declare
 * are filtered out under deny_unknown. The rewritten bytes are stored as a
 * cache entry of their own, keyed by the upstream blob, the gateway's
 * address, the policy's npm hosts and the filter, so a warm request is two
 * index lookups and a sendfile: nothing is parsed again until upstream's
 * document changes. */
#include <errno.h>
#include <event2/http.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gateway/npm/npm_internal.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/sha256.h"
#include "util/xalloc.h"

#define ACCEPT_ABBREV   "Accept: " NPM_ABBREV_TYPE "; q=1.0, application/json; q=0.8, */*"
#define ACCEPT_FULL     "Accept: application/json"
#define REWRITE_VERSION "1" /* part of the rewritten entries' keys: bump when the output changes */

/* ---- requests ---- */

static void on_gone(cr_front_call *c)
{
	npm_req *r = c->data;
	cr_upstream_cancel(r->op);
	r->op = NULL;
	npm_audit(r, npm_verdict_action(r), r->d.reason, r->d.rule, "the client went away before the answer",
		  NULL);
	npm_req_free(r);
}

npm_req *npm_req_new(cr_front_call *c)
{
	npm_req *r = cr_xcalloc(1, sizeof(*r));
	r->c = c;
	c->data = r;
	c->on_gone = on_gone;
	return r;
}

void npm_req_free(npm_req *r)
{
	if (!r)
		return;
	free(r->integrity);
	free(r);
}

const char *npm_verdict_action(const npm_req *r)
{
	return r->d.verdict == CR_FRONT_WARN ? "warn" : "allow";
}

void npm_audit(const npm_req *r, const char *action, cr_reason reason, const char *rule, const char *detail,
	       const char *cache)
{
	cr_front_audit(r->c, &(cr_front_event){.action = action,
					       .reason = reason,
					       .rule = rule,
					       .package = r->pkg.name[0] ? r->pkg.name : NULL,
					       .version = r->version,
					       .host = r->host,
					       .detail = detail && *detail ? detail : NULL,
					       .cache = cache});
}

/* ---- upstream ---- */

void npm_document_key(const npm_req *r, bool abbrev, char key[NPM_KEY_MAX])
{
	snprintf(key, NPM_KEY_MAX, "npm:doc:%s/%s:%s", r->host, r->pkg.encoded, abbrev ? "abbrev" : "full");
}

void npm_get_document(npm_req *r, bool abbrev, int64_t ttl_s, cr_upstream_cb cb)
{
	char key[NPM_KEY_MAX], url[NPM_KEY_MAX];
	npm_document_key(r, abbrev, key);
	snprintf(url, sizeof(url), "https://%s/%s", r->host, r->pkg.encoded);
	const char *headers[] = {abbrev ? ACCEPT_ABBREV : ACCEPT_FULL, NULL};
	cr_upstream_get g = {.key = key, .url = url, .headers = headers, .ttl_s = ttl_s};
	r->op = cr_upstream_document(r->c->upstream, &g, cb, r);
}

void npm_answer_upstream_error(npm_req *r, const cr_upstream_result *res, cr_error *err, const char *what)
{
	cr_front_call *c = r->c;
	long status = res ? res->upstream_status : 0;
	if (err->reason == CR_REASON_INTEGRITY_MISMATCH) {
		npm_audit(r, "error", CR_REASON_INTEGRITY_MISMATCH, r->d.rule, err->msg,
			  res ? res->from : NULL);
		cr_front_refuse(
			c, 502, CR_REASON_INTEGRITY_MISMATCH,
			"cleanroom: %s from %s does not match its integrity (from the %s); nothing was "
			"served or cached: %s",
			what, r->host, r->source ? r->source : "registry", err->msg);
	} else if (status == 404 || status == 410) {
		npm_audit(r, npm_verdict_action(r), r->d.reason, r->d.rule, "not found upstream", NULL);
		cr_front_refuse(c, 404, CR_REASON_NONE, "cleanroom: %s: %s answered %ld (not found)", what,
				r->host, status);
	} else if (strncmp(err->msg, "offline", 7) == 0) {
		npm_audit(r, "error", CR_REASON_INTERNAL, r->d.rule, err->msg, NULL);
		cr_front_refuse(c, 503, CR_REASON_NONE, "cleanroom: %s: %s", what, err->msg);
	} else {
		npm_audit(r, "error", CR_REASON_INTERNAL, r->d.rule, err->msg, NULL);
		cr_front_refuse(c, 502, CR_REASON_NONE, "cleanroom: %s from %s failed: %s", what, r->host,
				err->msg);
	}
	cr_error_free(err);
	npm_req_free(r);
}

char *npm_read_blob(const cr_cache_entry *e, const cr_gateway *gw, size_t max, cr_error **err)
{
	uint64_t size = 0;
	cleanup_close int fd = cr_cache_blob_open(cr_front_cache(gw), e->blob, &size, err);
	if (fd < 0)
		return NULL;
	if (size > max) {
		cr_error_make(err, 0, CR_REASON_INTERNAL, "%s: larger than %zu bytes", e->key, max);
		return NULL;
	}
	cleanup_free char *data = cr_xmalloc((size_t)size + 1);
	size_t got = 0;
	while (got < size) {
		ssize_t n = pread(fd, data + got, (size_t)size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			cr_error_make(err, n < 0 ? errno : EIO, CR_REASON_INTERNAL, "read cached %s", e->key);
			return NULL;
		}
		got += (size_t)n;
	}
	data[got] = '\0';
	return steal_pointer(&data);
}

/* ---- packuments ---- */

/* Tarball hosts whose versions stay: the npm registry's allowed_hosts. */
static bool tarball_host_allowed(void *ud, const char *authority)
{
	const npm_req *r = ud;
	char host[256];
	size_t n = strcspn(authority, ":");
	snprintf(host, sizeof(host), "%.*s", (int)n, authority);
	cr_front_decision d;
	cr_front_decide_host(r->c->gw, "npm", host, &d);
	return d.verdict != CR_FRONT_DENY;
}

/* The key of the rewritten document: a pure function of the upstream blob
 * and of what the rewrite depends on (base URL, npm hosts, filter). */
static void rewritten_key(const npm_req *r, const cr_cache_entry *up, bool abbrev, const char *const *allowed,
			  char key[NPM_KEY_MAX])
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, (size_t)1 << 30);
	cr_buf_printf(&b, "v" REWRITE_VERSION "\n%s\nhosts", r->c->base_url);
	const cr_registry *reg = cr_front_registry(r->c->gw, "npm");
	for (size_t i = 0; reg && i < reg->n_allowed_hosts; i++)
		cr_buf_printf(&b, " %s", reg->allowed_hosts[i].text);
	cr_buf_puts(&b, allowed ? "\nversions" : "\nunfiltered");
	for (const char *const *v = allowed; v && *v; v++)
		cr_buf_printf(&b, " %s", *v);
	char digest[CR_SHA256_HEX_LEN + 1];
	cr_sha256_hex(b.data, b.len, digest);
	snprintf(key, NPM_KEY_MAX, "npm:out:%s/%s:%s:%s:%.32s", r->host, r->pkg.encoded,
		 abbrev ? "abbrev" : "full", up->blob, digest);
}

/* The content type served: the abbreviated type only when upstream sent it. */
static const char *doc_type(const cr_cache_entry *up)
{
	return strncmp(up->content_type, NPM_ABBREV_TYPE, strlen(NPM_ABBREV_TYPE)) == 0 ? NPM_ABBREV_TYPE
											: "application/json";
}

/* Parses, rewrites and dumps the upstream document. */
static char *rewrite(npm_req *r, const cr_cache_entry *up, const char *const *allowed, size_t *len,
		     cr_error **err)
{
	cleanup_free char *raw = npm_read_blob(up, r->c->gw, CR_NPM_DOC_MAX, err);
	if (!raw)
		return NULL;
	cleanup_npm_doc cr_npm_doc *doc = cr_npm_doc_parse(raw, (size_t)up->size, r->pkg.name, err);
	if (!doc)
		return NULL;
	cr_npm_rewrite rw = {.base_url = r->c->base_url,
			     .host_allowed = tarball_host_allowed,
			     .ud = r,
			     .allowed_versions = allowed};
	cr_npm_doc_rewrite(doc, &rw, NULL);
	return cr_npm_doc_dump(doc, len);
}

/* Stores body as the entry `key` (ttl 0: it never changes); fills *out. */
static int store(const char *key, const cr_cache_entry *up, const char *body, size_t len, const char *type,
		 cr_cache *cache, cr_cache_entry *out, cr_error **err)
{
	cr_cache_writer *w = cr_cache_writer_new(cache, 0, 0, err);
	if (!w)
		return -1;
	if (cr_cache_writer_write(w, body, len, err) < 0) {
		cr_cache_writer_abort(w);
		return -1;
	}
	char blob[CR_SHA256_HEX_LEN + 1];
	if (cr_cache_writer_commit(w, blob, err) < 0)
		return -1;
	int64_t now = cr_now_ms() / 1000;
	*out = (cr_cache_entry){.key = cr_xstrdup(key),
				.upstream = cr_xstrdup(up->upstream),
				.etag = cr_xstrdup(""),
				.last_modified = cr_xstrdup(""),
				.content_type = cr_xstrdup(type),
				.fetched_at = now,
				.ttl_s = 0,
				.size = len,
				.integrity = cr_xstrdup(""),
				.last_used_at = now};
	memcpy(out->blob, blob, sizeof(blob));
	return cr_cache_put(cache, out, err);
}

static void serve_rewritten(npm_req *r, const cr_upstream_result *res, bool abbrev)
{
	cr_front_call *c = r->c;
	cr_cache *cache = cr_front_cache(c->gw);
	const char *const *allowed = cr_front_allowed_versions(c->gw, "npm", r->pkg.name);
	char key[NPM_KEY_MAX];
	rewritten_key(r, res->entry, abbrev, allowed, key);
	cleanup_cache_entry cr_cache_entry out = {0};
	cleanup_error cr_error *err = NULL;
	if (cr_cache_get(cache, key, &out, &err) == 1) {
		npm_audit(r, "allow", CR_REASON_NONE, r->d.rule, NULL, res->from);
		cr_front_send_entry(c, &out, NULL);
		npm_req_free(r);
		return;
	}
	cr_error_freep(&err);
	size_t len = 0;
	cleanup_free char *body = rewrite(r, res->entry, allowed, &len, &err);
	if (!body) {
		npm_audit(r, "error", CR_REASON_INTERNAL, r->d.rule, err->msg, res->from);
		cr_front_refuse(c, 502, CR_REASON_NONE,
				"cleanroom: the document of %s from %s is unusable: %s", r->pkg.name, r->host,
				err->msg);
		npm_req_free(r);
		return;
	}
	const char *type = doc_type(res->entry);
	npm_audit(r, "allow", CR_REASON_NONE, r->d.rule, NULL, res->from);
	if (store(key, res->entry, body, len, type, cache, &out, &err) == 0) {
		cr_front_send_entry(c, &out, NULL);
	} else { /* a full disk still serves the document, from memory */
		cr_upstream_count_served(c->upstream, len);
		cr_front_send(c, 200, type, body, len);
	}
	npm_req_free(r);
}

static void on_document(void *ud, const cr_upstream_result *res, cr_error *err, bool abbrev)
{
	npm_req *r = ud;
	r->op = NULL;
	if (err) {
		char what[CR_NPM_NAME_MAX + 32];
		snprintf(what, sizeof(what), "the package document of %s", r->pkg.name);
		npm_answer_upstream_error(r, res, err, what);
		return;
	}
	serve_rewritten(r, res, abbrev);
}

static void on_abbrev(void *ud, const cr_upstream_result *res, cr_error *err)
{
	on_document(ud, res, err, true);
}

static void on_full(void *ud, const cr_upstream_result *res, cr_error *err)
{
	on_document(ud, res, err, false);
}

/* Steps 1-2 for r->host; on deny the call is answered and r freed. */
static bool decide_host(npm_req *r)
{
	r->host = cr_front_upstream_host(r->c->gw, "npm");
	cr_front_decide_host(r->c->gw, "npm", r->host, &r->d);
	if (r->d.verdict != CR_FRONT_DENY)
		return true;
	cr_front_apply(r->c, &r->d, r->pkg.name, r->version, r->host);
	npm_req_free(r);
	return false;
}

static void serve_packument(cr_front_call *c)
{
	cr_npm_name name;
	cleanup_error cr_error *err = NULL;
	if (cr_npm_parse_name(c->rest, &name, &err) < 0) {
		char what[512];
		snprintf(what, sizeof(what), "'%.200s' (%s)", c->rest, err->msg);
		npm_refuse_unserved(c, what);
		return;
	}
	npm_req *r = npm_req_new(c);
	r->pkg = name;
	if (!decide_host(r))
		return;
	const char *accept = cr_front_header(c, "Accept");
	bool abbrev = accept && strcasestr(accept, NPM_ABBREV_TYPE);
	npm_get_document(r, abbrev, 0, abbrev ? on_abbrev : on_full);
}

/* ---- routes ---- */

static const char *method_name(const cr_front_call *c)
{
	switch (evhttp_request_get_command(c->req)) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	default: return "this method of";
	}
}

void npm_refuse_unserved(cr_front_call *c, const char *what)
{
	char detail[768];
	snprintf(detail, sizeof(detail), "the npm front does not serve %s %s", method_name(c), what);
	cr_front_audit(c, &(cr_front_event){.action = "deny",
					    .reason = CR_REASON_REGISTRY_NOT_ALLOWED,
					    .rule = "registries.npm",
					    .detail = detail});
	cr_front_refuse(c, 403, CR_REASON_REGISTRY_NOT_ALLOWED,
			"cleanroom: %s; it serves package documents (GET /npm/<name>) and tarballs "
			"(GET /npm/<name>/-/<name>-<version>.tgz) only",
			detail);
}

static void serve_ping(cr_front_call *c)
{
	cr_front_send(c, 200, "application/json", "{}", 2);
}

static void refuse_audit(cr_front_call *c)
{
	npm_refuse_unserved(c, "npm audit (it would send the project's dependency list upstream)");
}

static void refuse_api(cr_front_call *c)
{
	char what[320];
	snprintf(what, sizeof(what), "the registry API /npm/%.200s (search, login, tokens, ...)", c->rest);
	npm_refuse_unserved(c, what);
}

typedef struct npm_route {
	const char *path;
	bool prefix;
	bool any_method; /* refusals answer every method the same */
	void (*serve)(cr_front_call *c);
} npm_route;

static const npm_route routes[] = {
	{"-/ping", false, false, serve_ping},
	{"-/npm/v1/security/", true, true, refuse_audit},
	{"-/", true, true, refuse_api},
};

static const npm_route *route_for(const char *rest)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const npm_route *rt = &routes[i];
		if (rt->prefix ? strncmp(rest, rt->path, strlen(rt->path)) == 0 : strcmp(rest, rt->path) == 0)
			return rt;
	}
	return NULL;
}

void cr_front_npm(cr_front_call *c)
{
	const npm_route *rt = route_for(c->rest);
	enum evhttp_cmd_type m = evhttp_request_get_command(c->req);
	bool read_only = m == EVHTTP_REQ_GET || m == EVHTTP_REQ_HEAD;
	if (!read_only && !(rt && rt->any_method)) {
		char what[320];
		snprintf(what, sizeof(what), "/npm/%.200s (publishing, unpublishing and other changes)",
			 c->rest);
		npm_refuse_unserved(c, what);
		return;
	}
	if (rt)
		rt->serve(c);
	else if (strstr(c->rest, "/-/"))
		npm_serve_tarball(c);
	else
		serve_packument(c);
}
