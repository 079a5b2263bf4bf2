/* SPDX-License-Identifier: Apache-2.0 */
/* pypi_files.c -- GET /pypi/files/<host>/<path> (pypi_internal.h): a wheel
 * or sdist named by a served project page. The host must be allowed, the
 * file name must tell project and version, the lockfile (or fallback) must
 * admit them, and the bytes must match a known sha256: the lockfile's hashes
 * or, when it has none for the file, the one the project page gives. Files
 * are never fetched or served unverified. */
#include <string.h>

#include "gateway/pypi/pypi_internal.h"
#include "gateway/upstream/sri.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

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

/* URL-safe bytes, no empty, "." or ".." segment. */
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

/* Redirects of a download may go to https URLs on any allowed host. */
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
	cr_front_decide_host(w->c->gw, PYPI_MANAGER, host, &d);
	return d.verdict != CR_FRONT_DENY;
}

static void on_file(void *ud, const cr_upstream_result *res, cr_error *err)
{
	pypi_work *w = ud;
	w->op = NULL;
	if (err) {
		pypi_failed(w, w->filename, w->host, res ? res->upstream_status : 0, err);
		cr_error_free(err);
		return;
	}
	const cr_front_decision *d = &w->d;
	pypi_audit(w->c, d->verdict == CR_FRONT_WARN ? "warn" : "allow", d->reason, d->rule, w->project,
		   w->version, w->host, d->detail[0] ? d->detail : NULL, res->from);
	cr_front_call *c = pypi_work_end(w);
	cr_front_send_entry(c, res->entry, NULL);
}

static void start_file(pypi_work *w, const char *integrity)
{
	cleanup_free char *key = cr_asprintf("pip:file:%s/%s", w->host, w->path);
	cleanup_free char *url = cr_asprintf("https://%s/%s", w->host, w->path);
	cr_upstream_get g = {.key = key, .url = url, .integrity = integrity};
	cleanup_cache_entry cr_cache_entry e = {0};
	if (cr_upstream_artifact_stored(w->c->upstream, &g, &e) == 1) { /* warm: at once */
		on_file(w, &(cr_upstream_result){.entry = &e, .from = "hit"}, NULL);
		return;
	}
	w->op = cr_upstream_artifact(w->c->upstream, &g, redirect_allowed, on_file, w);
}

/* The SRI of the sha256 a project page (a cache entry) gives for
 * w->filename, or NULL. */
static char *page_integrity(pypi_work *w, const cr_cache_entry *page, const char *page_url)
{
	size_t len = 0;
	cleanup_error cr_error *err = NULL;
	cleanup_free char *text = pypi_read_blob(pypi_cache(w->c), page, CR_PYPI_PAGE_MAX, &len, &err);
	cleanup_pypi_page cr_pypi_page p = {0};
	if (!text || cr_pypi_parse(text, len, page->content_type, page_url, &p, &err) < 0)
		return NULL;
	const cr_pypi_link *l = cr_pypi_page_find(&p, w->filename);
	const char *hex = l ? cr_pypi_link_sha256(l) : NULL;
	return hex ? cr_sri_from_hex("sha256", hex) : NULL;
}

/* The file's sha256 from a cached project page of its project on any index
 * host (JSON, then HTML), or NULL. */
static char *cached_page_integrity(pypi_work *w)
{
	static const cr_pypi_format formats[] = {CR_PYPI_JSON, CR_PYPI_HTML};
	for (size_t i = 0; w->indexes && w->indexes[i]; i++) {
		cleanup_free char *page_url = cr_asprintf("https://%s/simple/%s/", w->indexes[i], w->project);
		for (size_t k = 0; k < sizeof(formats) / sizeof(formats[0]); k++) {
			cleanup_free char *key = pypi_doc_key(w->indexes[i], w->project, formats[k]);
			cleanup_cache_entry cr_cache_entry e = {0};
			cleanup_error cr_error *err = NULL;
			if (cr_cache_get(pypi_cache(w->c), key, &e, &err) != 1)
				continue;
			char *sri = page_integrity(w, &e, page_url);
			if (sri)
				return sri;
		}
	}
	return NULL;
}

static void no_hash(pypi_work *w)
{
	pypi_audit(w->c, "error", CR_REASON_INTERNAL, w->d.rule, w->project, w->version, w->host,
		   "no hash is known for the file", NULL);
	cleanup_free char *file = cr_xstrdup(w->filename);
	cleanup_free char *project = cr_xstrdup(w->project);
	cr_front_call *c = pypi_work_end(w);
	cr_front_refuse(c, 502, CR_REASON_NONE,
			"cleanroom: no hash is known for %s: the lockfile lists none and no index page of %s "
			"gives a sha256 for it; files are never served unverified",
			file, project);
}

/* A page fetched now (none was cached): does it know the file? */
static bool fetched_page(pypi_work *w, const cr_upstream_result *res)
{
	cleanup_free char *integrity = page_integrity(w, res->entry, w->page_url);
	if (!integrity)
		return false; /* maybe another index host knows it */
	start_file(w, integrity);
	return true;
}

/* A file without lockfile hashes: a project page says what it must be. */
static void file_from_page(pypi_work *w)
{
	w->indexes = pypi_index_hosts(w->c);
	cleanup_free char *integrity = cached_page_integrity(w);
	if (integrity) {
		start_file(w, integrity);
		return;
	}
	/* not cached (evicted, or never asked for through this cache): ask */
	w->format = CR_PYPI_JSON;
	pypi_find_page(w, fetched_page, no_hash);
}

static void refuse_file(cr_front_call *c, const char *host, const char *filename)
{
	const char *rule = "registries.pip";
	cleanup_free char *detail =
		cr_asprintf("%s is not a wheel or sdist whose project and version its name tells", filename);
	pypi_audit(c, "deny", CR_REASON_REGISTRY_NOT_ALLOWED, rule, NULL, NULL, host, detail, NULL);
	cr_front_refuse(c, 403, CR_REASON_REGISTRY_NOT_ALLOWED, "cleanroom: %s (policy rule %s)", detail,
			rule);
}

void pypi_serve_files(cr_front_call *c, const char *rest)
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
	cr_front_decide_host(c->gw, PYPI_MANAGER, host, &d);
	if (d.verdict == CR_FRONT_DENY) {
		cr_front_apply(c, &d, NULL, NULL, host);
		return;
	}
	if (!filename || cr_pypi_filename_parse(filename, &name, &version) < 0) {
		refuse_file(c, host, filename ? filename : path);
		return;
	}
	cr_front_decide_artifact(c->gw, PYPI_MANAGER, host, name, version, &d);
	if (d.verdict == CR_FRONT_DENY) {
		cr_front_apply(c, &d, name, version, host);
		return;
	}
	pypi_work *w = pypi_work_new(c);
	w->d = d;
	w->project = steal_pointer(&name);
	w->version = steal_pointer(&version);
	w->host = steal_pointer(&host);
	w->filename = steal_pointer(&filename);
	w->path = *c->query ? cr_asprintf("%s?%s", path, c->query) : cr_xstrdup(path);
	if (d.artifact && d.artifact->integrity && *d.artifact->integrity)
		start_file(w, d.artifact->integrity);
	else
		file_from_page(w);
}
