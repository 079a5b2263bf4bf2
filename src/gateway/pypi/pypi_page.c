/* SPDX-License-Identifier: Apache-2.0 */
/* pypi_page.c -- GET /pypi/simple/<project>/ (pypi_internal.h): the
 * upstream project page, parsed and served again with every file URL on the
 * gateway, links to hosts the policy does not allow removed, metadata files
 * hidden and, under the lockfile's deny_unknown, only the allowed versions.
 * The rewritten page is a cache entry of its own, keyed by the upstream
 * page's blob, the gateway's address and the version filter, so a warm
 * request is one lookup and a sendfile. */
#include <event2/http.h>
#include <string.h>

#include "gateway/pypi/pypi_internal.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/sha256.h"
#include "util/xalloc.h"

static const char *format_type(cr_pypi_format f)
{
	return f == CR_PYPI_JSON ? CR_PYPI_JSON_TYPE : CR_PYPI_HTML_TYPE;
}

static bool link_host_allowed(void *ud, const char *host)
{
	cr_front_decision d;
	cr_front_decide_host(ud, PYPI_MANAGER, host, &d);
	return d.verdict != CR_FRONT_DENY;
}

/* The rewritten page's key: what it was made from (the upstream page's
 * blob), for whom (the gateway's address is in every URL) and which
 * versions it keeps. */
static char *page_key(const pypi_work *w, const cr_cache_entry *upstream_page, const char *const *versions)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 1u << 20);
	int rc = cr_buf_puts(&b, w->c->base_url);
	for (const char *const *v = versions; v && *v && rc == 0; v++)
		rc = cr_buf_printf(&b, "\n%s", *v);
	char digest[CR_SHA256_HEX_LEN + 1];
	cr_sha256_hex(b.data ? b.data : "", b.len, digest);
	return cr_asprintf("pip:page:%s/simple/%s/:%s:%s:%.16s%s", w->index, w->project,
			   pypi_format_name(w->format), upstream_page->blob, digest, versions ? "" : ":all");
}

/* Parses and rewrites the upstream page into *body; stores it under key
 * (*out, when storing worked). */
static int rewrite(pypi_work *w, const cr_cache_entry *page, const char *key, const char *const *versions,
		   cr_cache_entry *out, char **body, size_t *body_len, cr_error **err)
{
	cr_cache *cache = pypi_cache(w->c);
	size_t len = 0;
	cleanup_free char *text = pypi_read_blob(cache, page, CR_PYPI_PAGE_MAX, &len, err);
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
	(void)pypi_store(cache, key, page->upstream, format_type(w->format), *body, *body_len, out,
			 &store_err);
	return 0;
}

static bool serve_page(pypi_work *w, const cr_upstream_result *res)
{
	const char *const *versions = cr_front_allowed_versions(w->c->gw, PYPI_MANAGER, w->project);
	cleanup_free char *key = page_key(w, res->entry, versions);
	cleanup_cache_entry cr_cache_entry done = {0};
	cleanup_error cr_error *err = NULL;
	cleanup_free char *body = NULL;
	size_t len = 0;
	if (cr_cache_get(pypi_cache(w->c), key, &done, &err) != 1 &&
	    rewrite(w, res->entry, key, versions, &done, &body, &len, &err) < 0) {
		cleanup_free char *what = cr_asprintf("the index page of %s", w->project);
		cr_error_wrap(&err, "unusable index page");
		pypi_failed(w, what, w->index, 0, err);
		return true;
	}
	pypi_audit(w->c, "allow", CR_REASON_NONE, "registries.pip.allowed_hosts", w->project, NULL, w->index,
		   versions ? "versions filtered to the lockfile's" : NULL, res->from);
	cr_pypi_format format = w->format;
	cr_front_call *c = pypi_work_end(w);
	if (done.key)
		cr_front_send_entry(c, &done, format_type(format));
	else
		cr_front_send(c, 200, format_type(format), body, len);
	return true;
}

static void no_page(pypi_work *w)
{
	cleanup_free char *what = cr_asprintf("project %s", w->project);
	cleanup_free char *hosts = NULL;
	if (!w->error) { /* every index host said "not found" */
		cr_buf b;
		cr_buf_init(&b, 4096);
		for (size_t i = 0; w->indexes && w->indexes[i]; i++)
			(void)cr_buf_printf(&b, "%s%s", i ? ", " : "", w->indexes[i]);
		hosts = cr_buf_steal(&b, NULL);
	}
	pypi_failed(w, what, hosts ? hosts : w->index, w->error ? 0 : 404, w->error);
}

static void redirect(cr_front_call *c, const char *project)
{
	cleanup_free char *to = cr_asprintf("%s/pypi/simple/%s/", c->base_url, project);
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Location", to);
	cleanup_free char *body = cr_asprintf("moved to %s\n", to);
	cr_front_send(c, 301, "text/plain; charset=utf-8", body, strlen(body));
}

void pypi_serve_simple(cr_front_call *c, const char *rest)
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
	cleanup_free char *first = NULL;
	char **indexes = pypi_index_hosts(c);
	cr_front_decision d;
	cr_front_decide_host(c->gw, PYPI_MANAGER, indexes ? indexes[0] : NULL, &d);
	if (d.verdict == CR_FRONT_DENY) {
		first = indexes ? cr_xstrdup(indexes[0]) : NULL;
		pypi_strv_free(indexes);
		cr_front_apply(c, &d, project, NULL, first);
		return;
	}
	pypi_work *w = pypi_work_new(c);
	w->project = steal_pointer(&project);
	w->indexes = indexes;
	w->format = cr_pypi_format_for_accept(cr_front_header(c, "Accept"));
	pypi_find_page(w, serve_page, no_page);
}
