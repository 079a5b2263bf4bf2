/* SPDX-License-Identifier: Apache-2.0 */
/* pypi_render.c -- the project pages the PyPI front serves (pypi_index.h):
 * the parsed upstream page written again, HTML by hand (every attribute and
 * text escaped) or JSON through jansson, with file URLs pointing at the
 * gateway and nothing that would let pip fetch around it. */
#include <jansson.h>
#include <string.h>

#include "gateway/pypi/pypi_index.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

/* Whether the link survives the host and version filters. */
static bool keep_link(const cr_pypi_link *l, const cr_pypi_render_opts *o)
{
	if (o->host_allowed && !o->host_allowed(o->ud, l->host))
		return false;
	if (!o->versions)
		return true;
	cleanup_free char *name = NULL;
	cleanup_free char *version = NULL;
	if (cr_pypi_filename_parse(l->filename, &name, &version) < 0)
		return false;
	for (const char *const *v = o->versions; *v; v++)
		if (strcmp(*v, version) == 0)
			return true;
	return false;
}

static bool version_allowed(const char *version, const char *const *versions)
{
	if (!versions)
		return true;
	for (const char *const *v = versions; *v; v++)
		if (strcmp(*v, version) == 0)
			return true;
	return false;
}

/* The hash written into the HTML fragment: sha256, else the first one. */
static const cr_pypi_hash *fragment_hash(const cr_pypi_link *l)
{
	for (size_t i = 0; i < l->n_hashes; i++)
		if (strcmp(l->hashes[i].algo, "sha256") == 0)
			return &l->hashes[i];
	return l->n_hashes ? &l->hashes[0] : NULL;
}

/* <base_url>/pypi/files/<host>/<path>[?query] */
static char *gateway_url(const cr_pypi_link *l, const char *base_url)
{
	return cr_asprintf("%s/pypi/files/%s/%s%s%s", base_url, l->host, l->path, l->query ? "?" : "",
			   l->query ? l->query : "");
}

/* ---- HTML ---- */

static int put_escaped(cr_buf *b, const char *s)
{
	for (; *s; s++) {
		int rc;
		switch (*s) {
		case '&': rc = cr_buf_puts(b, "&amp;"); break;
		case '<': rc = cr_buf_puts(b, "&lt;"); break;
		case '>': rc = cr_buf_puts(b, "&gt;"); break;
		case '"': rc = cr_buf_puts(b, "&quot;"); break;
		case '\'': rc = cr_buf_puts(b, "&#39;"); break;
		default: rc = cr_buf_putc(b, *s);
		}
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int html_link(cr_buf *b, const cr_pypi_link *l, const char *base_url)
{
	cleanup_free char *url = gateway_url(l, base_url);
	const cr_pypi_hash *h = fragment_hash(l);
	int rc = cr_buf_puts(b, "    <a href=\"");
	rc |= put_escaped(b, url);
	if (h)
		rc |= cr_buf_printf(b, "#%s=%s", h->algo, h->hex);
	rc |= cr_buf_putc(b, '"');
	if (l->requires_python) {
		rc |= cr_buf_puts(b, " data-requires-python=\"");
		rc |= put_escaped(b, l->requires_python);
		rc |= cr_buf_putc(b, '"');
	}
	if (l->yanked) {
		rc |= cr_buf_puts(b, " data-yanked=\"");
		rc |= put_escaped(b, l->yanked_reason ? l->yanked_reason : "");
		rc |= cr_buf_putc(b, '"');
	}
	rc |= cr_buf_putc(b, '>');
	rc |= put_escaped(b, l->filename);
	rc |= cr_buf_puts(b, "</a><br />\n");
	return rc ? -1 : 0;
}

static int render_html(const cr_pypi_page *p, const cr_pypi_render_opts *o, cr_buf *b, size_t *kept)
{
	int rc = cr_buf_puts(
		b, "<!DOCTYPE html>\n<html>\n  <head>\n"
		   "    <meta name=\"pypi:repository-version\" content=\"1.0\">\n    <title>Links for ");
	rc |= put_escaped(b, o->project);
	rc |= cr_buf_puts(b, "</title>\n  </head>\n  <body>\n    <h1>Links for ");
	rc |= put_escaped(b, o->project);
	rc |= cr_buf_puts(b, "</h1>\n");
	for (size_t i = 0; i < p->n_links && rc == 0; i++) {
		if (!keep_link(&p->links[i], o))
			continue;
		rc |= html_link(b, &p->links[i], o->base_url);
		(*kept)++;
	}
	rc |= cr_buf_puts(b, "  </body>\n</html>\n");
	return rc ? -1 : 0;
}

/* ---- JSON ---- */

static json_t *json_link(const cr_pypi_link *l, const char *base_url)
{
	json_t *hashes = json_object();
	for (size_t i = 0; i < l->n_hashes; i++)
		json_object_set_new(hashes, l->hashes[i].algo, json_string(l->hashes[i].hex));
	cleanup_free char *url = gateway_url(l, base_url);
	json_t *f = json_object();
	json_object_set_new(f, "filename", json_string(l->filename));
	json_object_set_new(f, "url", json_string(url));
	json_object_set_new(f, "hashes", hashes);
	if (l->requires_python)
		json_object_set_new(f, "requires-python", json_string(l->requires_python));
	if (l->yanked)
		json_object_set_new(f, "yanked",
				    l->yanked_reason ? json_string(l->yanked_reason) : json_true());
	if (l->size >= 0)
		json_object_set_new(f, "size", json_integer(l->size));
	if (l->upload_time)
		json_object_set_new(f, "upload-time", json_string(l->upload_time));
	return f;
}

static json_t *json_page(const cr_pypi_page *p, const cr_pypi_render_opts *o, size_t *kept)
{
	json_t *files = json_array();
	for (size_t i = 0; i < p->n_links; i++) {
		if (!keep_link(&p->links[i], o))
			continue;
		json_array_append_new(files, json_link(&p->links[i], o->base_url));
		(*kept)++;
	}
	json_t *root = json_object();
	/* the PEP 700 fields come only with a page that had them */
	const char *api = p->versions && p->api_version ? p->api_version : "1.0";
	json_object_set_new(root, "meta", json_pack("{ss}", "api-version", api));
	json_object_set_new(root, "name", json_string(o->project));
	json_object_set_new(root, "files", files);
	if (p->versions) {
		json_t *versions = json_array();
		for (size_t i = 0; i < p->n_versions; i++)
			if (version_allowed(p->versions[i], o->versions))
				json_array_append_new(versions, json_string(p->versions[i]));
		json_object_set_new(root, "versions", versions);
	}
	return root;
}

int cr_pypi_render(const cr_pypi_page *p, const cr_pypi_render_opts *o, char **out, size_t *len, size_t *kept,
		   cr_error **err)
{
	size_t n_kept = 0;
	if (o->format == CR_PYPI_JSON) {
		json_t *root = json_page(p, o, &n_kept);
		char *text = json_dumps(root, JSON_COMPACT);
		json_decref(root);
		if (!text || strlen(text) > CR_PYPI_OUT_MAX) {
			free(text);
			return cr_error_make(err, 0, CR_REASON_INTERNAL,
					     "the rewritten page is larger than %u bytes", CR_PYPI_OUT_MAX);
		}
		*len = strlen(text);
		*out = text;
	} else {
		cleanup_buf cr_buf b;
		cr_buf_init(&b, CR_PYPI_OUT_MAX);
		if (render_html(p, o, &b, &n_kept) < 0)
			return cr_error_make(err, 0, CR_REASON_INTERNAL,
					     "the rewritten page is larger than %u bytes", CR_PYPI_OUT_MAX);
		*out = cr_buf_steal(&b, len);
	}
	if (kept)
		*kept = n_kept;
	return 0;
}
