/* SPDX-License-Identifier: Apache-2.0 */
/* pypi.c -- the PyPI front (front.h) at http://<gateway>/pypi/:
 *
 *   simple/<project>/        the project page of the upstream index (the
 *                            first exact host of registries.pip.allowed_hosts),
 *                            PEP 691 JSON or PEP 503 HTML as the client's
 *                            Accept prefers, rewritten (pypi_index.h) so that
 *                            every file is fetched through files/ below;
 *   files/<host>/<path>      a wheel or sdist: decided against the policy and
 *                            the lockfile allowlist by (project, version) of
 *                            its file name, fetched from https://<host>/<path>
 *                            and verified against the lockfile's hashes or,
 *                            when it has none, the sha256 the index page
 *                            gave for that file.
 *
 * Everything else (the project list, the JSON API, uploads, XML-RPC search)
 * is refused. Upstream pages are cached by upstream.c; the rewritten page is
 * a cache entry of its own, keyed by the upstream page's blob, the gateway's
 * address and the version filter, so a warm request is a lookup and a
 * sendfile. Every answer that involved a decision is one audit event with the
 * package, version and where the bytes came from (cache hit, miss, ...). */
#include <errno.h>
#include <event2/http.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/front/front.h"
#include "gateway/front/front_internal.h"
#include "gateway/pypi/pypi_index.h"
#include "gateway/upstream/sri.h"
#include "gateway/upstream/upstream.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/sha256.h"
#include "util/xalloc.h"

#define PIP "pip" /* the policy's manager key */

static const char *const accept_json = "Accept: application/vnd.pypi.simple.v1+json, "
				       "application/vnd.pypi.simple.v1+html;q=0.1, text/html;q=0.01";
static const char *const accept_html = "Accept: application/vnd.pypi.simple.v1+html, text/html;q=0.9";

/* One request's work in progress (c->data). */
typedef struct pypi_work {
	cr_front_call *c;
	cr_upstream_op *op;
	char *project;  /* normalised name: of the page, or of the file's name */
	char *version;  /* files */
	char *index;    /* the upstream index host */
	char *host;     /* files: the file's host */
	char *path;     /* files: "<path>[?query]" after the host */
	char *filename; /* files */
	char *page_url; /* simple pages: https://<index>/simple/<project>/ */
	cr_pypi_format format;
	cr_front_decision d; /* files: the artifact decision */
} pypi_work;

static void work_free(pypi_work *w)
{
	if (!w)
		return;
	free(w->project);
	free(w->version);
	free(w->index);
	free(w->host);
	free(w->path);
	free(w->filename);
	free(w->page_url);
	free(w);
}

static void on_gone(cr_front_call *c)
{
	pypi_work *w = c->data;
	c->data = NULL;
	if (w)
		cr_upstream_cancel(w->op);
	work_free(w);
}

static pypi_work *work_new(cr_front_call *c)
{
	pypi_work *w = cr_xcalloc(1, sizeof(*w));
	w->c = c;
	c->data = w;
	c->on_gone = on_gone;
	return w;
}

/* Ends the work before its call is answered (the answer frees the call). */
static cr_front_call *work_end(pypi_work *w)
{
	cr_front_call *c = w->c;
	c->data = NULL;
	c->on_gone = NULL;
	work_free(w);
	return c;
}

static cr_cache *front_cache(const cr_front_call *c)
{
	return cr_front_of(c->gw)->cache;
}

static void audit(const cr_front_call *c, const char *action, cr_reason reason, const char *rule,
		  const char *package, const char *version, const char *host, const char *detail,
		  const char *cache)
{
	cr_front_audit(c, &(cr_front_event){.action = action,
					    .reason = reason,
					    .rule = rule,
					    .package = package,
					    .version = version,
					    .host = host,
					    .detail = detail,
					    .cache = cache});
}

/* An upstream failure: 404 passes through, offline misses are 503, the
 * rest 502. Audited (action "error" except for 404) and answered. */
static void upstream_failed(pypi_work *w, const char *what, const cr_upstream_result *res,
			    const cr_error *err)
{
	cr_front_call *c = w->c;
	long status = res ? res->upstream_status : 0;
	bool gone = status == 404 || status == 410;
	bool offline = strncmp(err->msg, "offline", 7) == 0;
	bool integrity = err->reason == CR_REASON_INTEGRITY_MISMATCH;
	audit(c, gone ? "allow" : "error",
	      integrity ? CR_REASON_INTEGRITY_MISMATCH
	      : gone    ? CR_REASON_NONE
			: CR_REASON_INTERNAL,
	      w->d.rule[0] ? w->d.rule : "registries.pip", w->project, w->version,
	      w->host ? w->host : w->index, err->msg, NULL);
	cleanup_free char *host = cr_xstrdup(w->host ? w->host : w->index);
	cleanup_free char *thing = cr_xstrdup(what);
	cleanup_free char *msg = cr_xstrdup(err->msg);
	c = work_end(w);
	if (gone)
		cr_front_refuse(c, 404, CR_REASON_NONE, "%s: not found on %s", thing, host);
	else if (integrity)
		cr_front_refuse(c, 502, CR_REASON_INTEGRITY_MISMATCH,
				"cleanroom: %s from %s does not match its expected hash; not served: %s",
				thing, host, msg);
	else if (offline)
		cr_front_refuse(c, 503, CR_REASON_NONE, "cleanroom: %s", msg);
	else
		cr_front_refuse(c, 502, CR_REASON_NONE, "cleanroom: %s could not be fetched from %s: %s",
				thing, host, msg);
}

/* ---- cache blobs ---- */

/* Reads a cache entry's blob (at most max bytes). NULL with *err. */
static char *read_blob(cr_cache *cache, const cr_cache_entry *e, uint64_t max, size_t *len, cr_error **err)
{
	uint64_t size = 0;
	cleanup_close int fd = cr_cache_blob_open(cache, e->blob, &size, err);
	if (fd < 0)
		return NULL;
	if (size > max) {
		cr_error_make(err, 0, CR_REASON_INTERNAL, "%s is larger than %llu bytes", e->key,
			      (unsigned long long)max);
		return NULL;
	}
	cleanup_free char *buf = cr_xmalloc(size + 1);
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n <= 0) {
			cr_error_make(err, n < 0 ? errno : EIO, CR_REASON_INTERNAL, "read %s", e->key);
			return NULL;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*len = got;
	return steal_pointer(&buf);
}

/* Stores body as a new entry under key. 0, or -1 with *err. */
static int store(cr_cache *cache, const char *key, const char *upstream, const char *content_type,
		 const char *body, size_t len, cr_cache_entry *out, cr_error **err)
{
	cr_cache_writer *wr = cr_cache_writer_new(cache, 0, 0, err);
	if (!wr)
		return -1;
	if (cr_cache_writer_write(wr, body, len, err) < 0) {
		cr_cache_writer_abort(wr);
		return -1;
	}
	char blob[CR_SHA256_HEX_LEN + 1];
	if (cr_cache_writer_commit(wr, blob, err) < 0)
		return -1;
	cr_cache_entry e = {.key = (char *)key,
			    .upstream = (char *)upstream,
			    .etag = "",
			    .last_modified = "",
			    .content_type = (char *)content_type,
			    .fetched_at = time(NULL),
			    .ttl_s = 0,
			    .size = len,
			    .integrity = ""};
	memcpy(e.blob, blob, sizeof(blob));
	if (cr_cache_put(cache, &e, err) < 0)
		return -1;
	return cr_cache_get(cache, key, out, err) == 1 ? 0 : -1;
}

/* ---- simple/<project>/ ---- */

static const char *format_name(cr_pypi_format f)
{
	return f == CR_PYPI_JSON ? "json" : "html";
}

static const char *format_type(cr_pypi_format f)
{
	return f == CR_PYPI_JSON ? CR_PYPI_JSON_TYPE : CR_PYPI_HTML_TYPE;
}

static bool link_host_allowed(void *ud, const char *host)
{
	cr_front_decision d;
	cr_front_decide_host(ud, PIP, host, &d);
	return d.verdict != CR_FRONT_DENY;
}

/* The key of the rewritten page: what it was made from (the upstream
 * page's blob), for whom (the gateway's address in every URL) and which
 * versions it keeps. */
static char *page_key(const pypi_work *w, const cr_cache_entry *upstream_page, const char *const *versions)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 1u << 20);
	cr_buf_puts(&b, w->c->base_url);
	for (const char *const *v = versions; v && *v; v++)
		cr_buf_printf(&b, "\n%s", *v);
	char digest[CR_SHA256_HEX_LEN + 1];
	cr_sha256_hex(b.data ? b.data : "", b.len, digest);
	return cr_asprintf("pip:page:%s/simple/%s/:%s:%s:%.16s%s", w->index, w->project,
			   format_name(w->format), upstream_page->blob, digest, versions ? "" : ":all");
}

/* Parses and rewrites the upstream page; stores the result under key. */
static int rewrite(pypi_work *w, const cr_cache_entry *page, const char *key, const char *const *versions,
		   cr_cache_entry *out, char **body, size_t *body_len, cr_error **err)
{
	cr_cache *cache = front_cache(w->c);
	size_t len = 0;
	cleanup_free char *text = read_blob(cache, page, CR_PYPI_PAGE_MAX, &len, err);
	if (!text)
		return -1;
	cleanup_pypi_page cr_pypi_page p = {0};
	if (cr_pypi_parse(text, len, page->content_type, w->page_url, &p, err) < 0)
		return -1;
	cr_pypi_render_opts o = {.format = w->format,
				 .base_url = w->c->base_url,
				 .project = w->project,
				 .host_allowed = link_host_allowed,
				 .ud = w->c->gw,
				 .versions = versions};
	if (cr_pypi_render(&p, &o, body, body_len, NULL, err) < 0)
		return -1;
	cleanup_error cr_error *store_err = NULL;
	/* a page that cannot be cached is still served, from memory */
	(void)store(cache, key, page->upstream, format_type(w->format), *body, *body_len, out, &store_err);
	return 0;
}

static void serve_page(pypi_work *w, const cr_upstream_result *res)
{
	const char *const *versions = cr_front_allowed_versions(w->c->gw, PIP, w->project);
	cleanup_free char *key = page_key(w, res->entry, versions);
	cleanup_cache_entry cr_cache_entry done = {0};
	cleanup_error cr_error *err = NULL;
	cleanup_free char *body = NULL;
	size_t len = 0;
	int found = cr_cache_get(front_cache(w->c), key, &done, &err);
	if (found != 1 && rewrite(w, res->entry, key, versions, &done, &body, &len, &err) < 0) {
		cleanup_free char *what = cr_asprintf("the index page of %s", w->project);
		cr_error_wrap(&err, "unusable index page");
		upstream_failed(w, what, NULL, err);
		return;
	}
	cleanup_free char *detail = versions ? cr_xstrdup("versions filtered to the lockfile's") : NULL;
	audit(w->c, "allow", CR_REASON_NONE, "registries.pip.allowed_hosts", w->project, NULL, w->index,
	      detail, res->from);
	cr_pypi_format format = w->format;
	cr_front_call *c = work_end(w);
	if (done.key)
		cr_front_send_entry(c, &done, format_type(format));
	else
		cr_front_send(c, 200, format_type(format), body, len);
}

static void on_page(void *ud, const cr_upstream_result *res, cr_error *err)
{
	pypi_work *w = ud;
	w->op = NULL;
	if (err) {
		cleanup_free char *what = cr_asprintf("project %s", w->project);
		upstream_failed(w, what, res, err);
		cr_error_free(err);
		return;
	}
	serve_page(w, res);
}

static void redirect(cr_front_call *c, const char *project)
{
	cleanup_free char *to = cr_asprintf("%s/pypi/simple/%s/", c->base_url, project);
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Location", to);
	cleanup_free char *body = cr_asprintf("moved to %s\n", to);
	cr_front_send(c, 301, "text/plain; charset=utf-8", body, strlen(body));
}

static void start_page(pypi_work *w, cr_upstream_cb cb)
{
	cleanup_free char *key =
		cr_asprintf("pip:doc:%s/simple/%s/:%s", w->index, w->project, format_name(w->format));
	const char *headers[] = {w->format == CR_PYPI_JSON ? accept_json : accept_html, NULL};
	cr_upstream_get g = {.key = key, .url = w->page_url, .headers = headers};
	w->op = cr_upstream_document(w->c->upstream, &g, cb, w);
}

static void serve_simple(cr_front_call *c, const char *rest)
{
	size_t n = strcspn(rest, "/");
	if (n == 0) {
		cr_front_refuse(c, 404, CR_REASON_NONE,
				"cleanroom: the project list (/pypi/simple/) is not served; ask for "
				"/pypi/simple/<project>/");
		return;
	}
	if (!cr_pypi_name_valid(rest, n) || (rest[n] == '/' && rest[n + 1] != '\0')) {
		cr_front_refuse(c, 404, CR_REASON_NONE, "cleanroom: %s is not a project page", c->path);
		return;
	}
	cleanup_free char *project = cr_pypi_normalize(rest, n);
	if (strncmp(project, rest, n) != 0 || rest[n] != '/') {
		redirect(c, project);
		return;
	}
	const char *index = cr_front_upstream_host(c->gw, PIP);
	cr_front_decision d;
	cr_front_decide_host(c->gw, PIP, index, &d);
	if (d.verdict == CR_FRONT_DENY) {
		cr_front_apply(c, &d, project, NULL, index);
		return;
	}
	pypi_work *w = work_new(c);
	w->project = steal_pointer(&project);
	w->index = cr_xstrdup(index);
	w->format = cr_pypi_format_for_accept(cr_front_header(c, "Accept"));
	w->page_url = cr_asprintf("https://%s/simple/%s/", w->index, w->project);
	start_page(w, on_page);
}

/* ---- files/<host>/<path> ---- */

/* A host as the rendered pages write it: lower-case name characters. */
static bool host_valid(const char *s, size_t n)
{
	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		      s[i] == '-'))
			return false;
	return true;
}

/* A path without empty, "." or ".." segments and only URL-safe bytes. */
static bool path_valid(const char *p)
{
	if (!*p || strlen(p) > CR_FRONT_URL_MAX)
		return false;
	for (const char *s = p; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("-._~!$&'()*+,;=:@/%", *s)))
			return false;
	for (const char *seg = p; seg;) {
		size_t n = strcspn(seg, "/");
		if (n == 0 || (n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		seg = seg[n] ? seg + n + 1 : NULL;
	}
	return true;
}

static bool query_valid(const char *q)
{
	for (const char *s = q; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '#')
			return false;
	return strlen(q) <= CR_FRONT_URL_MAX;
}

/* Redirects of a file download may go to any host the registry allows. */
static bool redirect_allowed(void *ud, const char *url)
{
	pypi_work *w = ud;
	if (strncmp(url, "https://", 8) != 0)
		return false;
	const char *h = url + 8;
	size_t n = strcspn(h, "/?#");
	if (!host_valid(h, n))
		return false;
	cleanup_free char *host = cr_xstrndup(h, n);
	cr_front_decision d;
	cr_front_decide_host(w->c->gw, PIP, host, &d);
	return d.verdict != CR_FRONT_DENY;
}

static void on_file(void *ud, const cr_upstream_result *res, cr_error *err)
{
	pypi_work *w = ud;
	w->op = NULL;
	if (err) {
		upstream_failed(w, w->filename, res, err);
		cr_error_free(err);
		return;
	}
	const cr_front_decision *d = &w->d;
	audit(w->c, d->verdict == CR_FRONT_WARN ? "warn" : "allow", d->reason, d->rule, w->project,
	      w->version, w->host, d->detail[0] ? d->detail : NULL, res->from);
	cr_front_call *c = work_end(w);
	cr_front_send_entry(c, res->entry, NULL);
}

static void start_file(pypi_work *w, const char *integrity)
{
	cleanup_free char *key = cr_asprintf("pip:file:%s/%s", w->host, w->path);
	cleanup_free char *url = cr_asprintf("https://%s/%s", w->host, w->path);
	cr_upstream_get g = {.key = key, .url = url, .integrity = integrity};
	w->op = cr_upstream_artifact(w->c->upstream, &g, redirect_allowed, on_file, w);
}

/* The SRI of the sha256 the project page gives for the file, or NULL. */
static char *page_integrity(pypi_work *w, const cr_cache_entry *page)
{
	size_t len = 0;
	cleanup_error cr_error *err = NULL;
	cleanup_free char *text = read_blob(front_cache(w->c), page, CR_PYPI_PAGE_MAX, &len, &err);
	cleanup_pypi_page cr_pypi_page p = {0};
	if (!text || cr_pypi_parse(text, len, page->content_type, w->page_url, &p, &err) < 0)
		return NULL;
	const cr_pypi_link *l = cr_pypi_page_find(&p, w->filename);
	const char *hex = l ? cr_pypi_link_sha256(l) : NULL;
	return hex ? cr_sri_from_hex("sha256", hex) : NULL;
}

static void no_hash(pypi_work *w)
{
	audit(w->c, "error", CR_REASON_INTERNAL, w->d.rule, w->project, w->version, w->host,
	      "no hash is known for the file", NULL);
	cleanup_free char *file = cr_xstrdup(w->filename);
	cleanup_free char *project = cr_xstrdup(w->project);
	cr_front_call *c = work_end(w);
	cr_front_refuse(
		c, 502, CR_REASON_NONE,
		"cleanroom: no hash is known for %s: the lockfile does not list one and the index page "
		"of %s does not give a sha256 for it; files are never served unverified",
		file, project);
}

static void on_file_page(void *ud, const cr_upstream_result *res, cr_error *err)
{
	pypi_work *w = ud;
	w->op = NULL;
	cleanup_free char *integrity = err ? NULL : page_integrity(w, res->entry);
	cr_error_free(err);
	if (!integrity) {
		no_hash(w);
		return;
	}
	start_file(w, integrity);
}

/* The file's sha256 from a cached project page (JSON first, then HTML);
 * NULL when none is cached or none names the file. */
static char *cached_page_integrity(pypi_work *w)
{
	static const cr_pypi_format formats[] = {CR_PYPI_JSON, CR_PYPI_HTML};
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		cleanup_free char *key = cr_asprintf("pip:doc:%s/simple/%s/:%s", w->index, w->project,
						     format_name(formats[i]));
		cleanup_cache_entry cr_cache_entry e = {0};
		cleanup_error cr_error *err = NULL;
		if (cr_cache_get(front_cache(w->c), key, &e, &err) != 1)
			continue;
		char *sri = page_integrity(w, &e);
		if (sri)
			return sri;
	}
	return NULL;
}

/* A file without lockfile hashes: the project page says what it must be. */
static void file_from_page(pypi_work *w)
{
	if (!w->index) {
		no_hash(w);
		return;
	}
	w->page_url = cr_asprintf("https://%s/simple/%s/", w->index, w->project);
	cleanup_free char *integrity = cached_page_integrity(w);
	if (integrity) {
		start_file(w, integrity);
		return;
	}
	/* not cached (evicted, or never asked for through this gateway): ask */
	w->format = CR_PYPI_JSON;
	start_page(w, on_file_page);
}

static void refuse_file(cr_front_call *c, const char *host, const char *filename)
{
	const char *rule = "registries.pip";
	cleanup_free char *detail = cr_asprintf("%s is not a wheel or sdist whose project and version can be "
						"told from its name",
						filename);
	audit(c, "deny", CR_REASON_REGISTRY_NOT_ALLOWED, rule, NULL, NULL, host, detail, NULL);
	cr_front_refuse(c, 403, CR_REASON_REGISTRY_NOT_ALLOWED, "cleanroom: %s (policy rule %s)", detail,
			rule);
}

static void serve_files(cr_front_call *c, const char *rest)
{
	size_t n = strcspn(rest, "/");
	const char *path = rest[n] == '/' ? rest + n + 1 : "";
	if (!host_valid(rest, n) || !path_valid(path) || !query_valid(c->query)) {
		cr_front_refuse(c, 404, CR_REASON_NONE, "cleanroom: %s is not a file URL of this gateway",
				c->path);
		return;
	}
	cleanup_free char *host = cr_xstrndup(rest, n);
	cleanup_free char *filename = cr_pypi_path_filename(path);
	cleanup_free char *name = NULL;
	cleanup_free char *version = NULL;
	cr_front_decision d;
	cr_front_decide_host(c->gw, PIP, host, &d);
	if (d.verdict == CR_FRONT_DENY) {
		cr_front_apply(c, &d, NULL, NULL, host);
		return;
	}
	if (!filename || cr_pypi_filename_parse(filename, &name, &version) < 0) {
		refuse_file(c, host, filename ? filename : path);
		return;
	}
	cr_front_decide_artifact(c->gw, PIP, host, name, version, &d);
	if (d.verdict == CR_FRONT_DENY) {
		cr_front_apply(c, &d, name, version, host);
		return;
	}
	pypi_work *w = work_new(c);
	w->d = d;
	w->project = steal_pointer(&name);
	w->version = steal_pointer(&version);
	w->host = steal_pointer(&host);
	w->filename = steal_pointer(&filename);
	w->path = *c->query ? cr_asprintf("%s?%s", path, c->query) : cr_xstrdup(path);
	const char *index = cr_front_upstream_host(c->gw, PIP);
	w->index = index ? cr_xstrdup(index) : NULL;
	if (d.artifact && d.artifact->integrity && *d.artifact->integrity)
		start_file(w, d.artifact->integrity);
	else
		file_from_page(w);
}

/* ---- routes ---- */

static void refuse_unserved(cr_front_call *c)
{
	const char *rule = "registries.pip";
	audit(c, "deny", CR_REASON_REGISTRY_NOT_ALLOWED, rule, NULL, NULL, NULL,
	      "only project pages and files are served", NULL);
	cr_front_refuse(
		c, 403, CR_REASON_REGISTRY_NOT_ALLOWED,
		"cleanroom: %s %s is not served: the PyPI front serves GET /pypi/simple/<project>/ and "
		"the files those pages name (no project list, JSON API, search or uploads) (policy rule %s)",
		evhttp_request_get_command(c->req) == EVHTTP_REQ_GET ? "GET" : "this request to", c->path,
		rule);
}

static const struct pypi_route {
	const char *prefix; /* of c->rest; "simple" alone is the project list too */
	bool exact;
	void (*serve)(cr_front_call *c, const char *rest);
} routes[] = {
	{"simple/", false, serve_simple},
	{"simple", true, serve_simple},
	{"files/", false, serve_files},
};

void cr_front_pypi(cr_front_call *c)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(c->req);
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct pypi_route *r = &routes[i];
		size_t n = strlen(r->prefix);
		if (strncmp(c->rest, r->prefix, n) != 0 || (r->exact && c->rest[n] != '\0'))
			continue;
		if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD)
			break;
		r->serve(c, c->rest + n);
		return;
	}
	refuse_unserved(c);
}
