/* SPDX-License-Identifier: Apache-2.0 */
/* pypi.c -- the PyPI front (front.h) at http://<gateway>/pypi/
 * (docs/internals/registry-pypi.md):
 *
 *   simple/<project>/        the project page of the upstream index,
 *                            PEP 691 JSON or PEP 503 HTML as the client's
 *                            Accept prefers, rewritten (pypi_index.h) so that
 *                            every file is fetched through files/ (pypi_page.c);
 *   files/<host>/<path>      a wheel or sdist, decided by the project and
 *                            version of its file name and verified against
 *                            the lockfile's hashes or the index's sha256
 *                            (pypi_files.c).
 *
 * Everything else (the project list, the JSON API, uploads, XML-RPC search)
 * is refused. This file holds the routes and what both routes share: the
 * work of one request, the search for a project page over the registry's
 * hosts, cache blobs, audit and failure answers.
 *
 * Which host is the index: the policy's allowed_hosts is normalised (sorted),
 * so its first exact name is not necessarily the index a user wrote first
 * (pypi.registry.example, files.registry.example). A project page is asked
 * of every exact host in turn until one has it, hosts that served a project
 * page through this cache before going first; a "not found" from a file
 * host costs one request while the cache is cold. */
#include <errno.h>
#include <event2/http.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/pypi/pypi_internal.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static const char *const accept_json = "Accept: application/vnd.pypi.simple.v1+json, "
				       "application/vnd.pypi.simple.v1+html;q=0.1, text/html;q=0.01";
static const char *const accept_html = "Accept: application/vnd.pypi.simple.v1+html, text/html;q=0.9";

/* ---- work ---- */

void pypi_strv_free(char **v)
{
	for (char **s = v; s && *s; s++)
		free(*s);
	free(v);
}

static void work_free(pypi_work *w)
{
	if (!w)
		return;
	free(w->project);
	free(w->version);
	free(w->host);
	free(w->path);
	free(w->filename);
	free(w->page_url);
	pypi_strv_free(w->indexes);
	cr_error_free(w->error);
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

pypi_work *pypi_work_new(cr_front_call *c)
{
	pypi_work *w = cr_xcalloc(1, sizeof(*w));
	w->c = c;
	c->data = w;
	c->on_gone = on_gone;
	return w;
}

cr_front_call *pypi_work_end(pypi_work *w)
{
	cr_front_call *c = w->c;
	c->data = NULL;
	c->on_gone = NULL;
	work_free(w);
	return c;
}

cr_cache *pypi_cache(const cr_front_call *c)
{
	return cr_front_cache(c->gw);
}

void pypi_audit(const cr_front_call *c, const char *action, cr_reason reason, const char *rule,
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

void pypi_failed(pypi_work *w, const char *what, const char *host, long status, const cr_error *err)
{
	bool gone = status == 404 || status == 410;
	bool integrity = err && err->reason == CR_REASON_INTEGRITY_MISMATCH;
	bool offline = err && strncmp(err->msg, "offline", 7) == 0;
	cleanup_free char *msg = cr_xstrdup(err ? err->msg : "not found");
	cleanup_free char *thing = cr_xstrdup(what);
	cleanup_free char *where = cr_xstrdup(host ? host : "(no index host)");
	cr_reason reason = integrity ? CR_REASON_INTEGRITY_MISMATCH
			   : gone    ? CR_REASON_NONE
				     : CR_REASON_INTERNAL;
	pypi_audit(w->c, gone ? "allow" : "error", reason, w->d.rule[0] ? w->d.rule : "registries.pip",
		   w->project, w->version, host, msg, NULL);
	cr_front_call *c = pypi_work_end(w);
	if (gone)
		cr_front_refuse(c, 404, CR_REASON_NONE, "%s: not found on %s", thing, where);
	else if (integrity)
		cr_front_refuse(c, 502, CR_REASON_INTEGRITY_MISMATCH,
				"cleanroom: %s from %s does not match its expected hash; not served: %s",
				thing, where, msg);
	else if (offline)
		cr_front_refuse(c, 503, CR_REASON_NONE, "cleanroom: %s", msg);
	else
		cr_front_refuse(c, 502, CR_REASON_NONE, "cleanroom: %s could not be fetched from %s: %s",
				thing, where, msg);
}

/* ---- cache blobs ---- */

char *pypi_read_blob(cr_cache *cache, const cr_cache_entry *e, uint64_t max, size_t *len, cr_error **err)
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
		if (n < 0 && errno == EINTR)
			continue;
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

int pypi_store(cr_cache *cache, const char *key, const char *upstream, const char *content_type,
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
			    .ttl_s = 0, /* its key names what it was made from */
			    .size = len,
			    .integrity = ""};
	memcpy(e.blob, blob, sizeof(blob));
	if (cr_cache_put(cache, &e, err) < 0)
		return -1;
	return cr_cache_get(cache, key, out, err) == 1 ? 0 : -1;
}

/* ---- the project page, over the index hosts ---- */

const char *pypi_format_name(cr_pypi_format f)
{
	return f == CR_PYPI_JSON ? "json" : "html";
}

char *pypi_doc_key(const char *index, const char *project, cr_pypi_format format)
{
	return cr_asprintf("pip:doc:%s/simple/%s/:%s", index, project, pypi_format_name(format));
}

static int stop_at_first(void *ud, const cr_cache_entry *e)
{
	(void)e;
	*(bool *)ud = true;
	return 1;
}

/* Whether host served a project page through this cache before. */
static bool known_index(const cr_front_call *c, const char *host)
{
	bool found = false;
	cleanup_free char *prefix = cr_asprintf("pip:doc:%s/simple/", host);
	cleanup_error cr_error *err = NULL;
	(void)cr_cache_list(pypi_cache(c), prefix, stop_at_first, &found, &err);
	return found;
}

char **pypi_index_hosts(const cr_front_call *c)
{
	const cr_registry *r = cr_front_registry(c->gw, PYPI_MANAGER);
	if (!r)
		return NULL;
	char **v = cr_xcalloc(r->n_allowed_hosts + 1, sizeof(*v));
	size_t n = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < r->n_allowed_hosts; i++) {
			const cr_host_pattern *h = &r->allowed_hosts[i];
			if (h->kind != CR_HOST_NAME || known_index(c, h->text) != (pass == 0))
				continue;
			v[n++] = cr_xstrdup(h->text);
		}
	}
	if (n == 0) {
		free(v);
		return NULL;
	}
	return v;
}

static void try_index(pypi_work *w);

static void on_index_page(void *ud, const cr_upstream_result *res, cr_error *err)
{
	pypi_work *w = ud;
	w->op = NULL;
	if (!err) {
		if (w->page_ok(w, res))
			return;
	} else {
		if (res && (res->upstream_status == 404 || res->upstream_status == 410) && !w->error)
			w->status = res->upstream_status;
		else if (!w->error)
			w->error = steal_pointer(&err);
		cr_error_free(err);
	}
	if (w->indexes[w->at + 1]) {
		w->at++;
		try_index(w);
		return;
	}
	w->page_fail(w);
}

static void try_index(pypi_work *w)
{
	w->index = w->indexes[w->at];
	free(w->page_url);
	w->page_url = cr_asprintf("https://%s/simple/%s/", w->index, w->project);
	cleanup_free char *key = pypi_doc_key(w->index, w->project, w->format);
	const char *headers[] = {w->format == CR_PYPI_JSON ? accept_json : accept_html, NULL};
	cr_upstream_get g = {.key = key, .url = w->page_url, .headers = headers};
	w->op = cr_upstream_document(w->c->upstream, &g, on_index_page, w);
}

void pypi_find_page(pypi_work *w, pypi_page_fn page_ok, pypi_fail_fn page_fail)
{
	w->page_ok = page_ok;
	w->page_fail = page_fail;
	w->at = 0;
	w->status = 0;
	if (!w->indexes)
		w->indexes = pypi_index_hosts(w->c);
	if (!w->indexes) {
		page_fail(w);
		return;
	}
	try_index(w);
}

/* ---- routes ---- */

static void refuse_unserved(cr_front_call *c)
{
	const char *rule = "registries.pip";
	pypi_audit(c, "deny", CR_REASON_REGISTRY_NOT_ALLOWED, rule, NULL, NULL, NULL,
		   "only project pages and the files they name are served", NULL);
	cr_front_refuse(
		c, 403, CR_REASON_REGISTRY_NOT_ALLOWED,
		"cleanroom: %s is not served: the PyPI front serves GET /pypi/simple/<project>/ and the "
		"files those pages name (no project list, JSON API, search or uploads) (policy rule %s)",
		c->path, rule);
}

static const struct pypi_route {
	const char *prefix; /* of c->rest; "simple" alone is the project list too */
	bool exact;
	void (*serve)(cr_front_call *c, const char *rest);
} routes[] = {
	{"simple/", false, pypi_serve_simple},
	{"simple", true, pypi_serve_simple},
	{"files/", false, pypi_serve_files},
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
