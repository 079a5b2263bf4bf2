/* SPDX-License-Identifier: Apache-2.0 */
/* pypi_index.c -- reading PyPI simple project pages (PEP 503 HTML with
 * libxml2's HTML parser, PEP 691 JSON with jansson) into one link model.
 *
 * Every file URL is resolved against the page (RFC 3986 §5.2) and split into
 * host and path, because the gateway serves it back as
 * /pypi/files/<host>/<path>: only http(s) URLs on the default port and
 * without user information are usable (the gateway always fetches
 * https://<host>/<path>); anything else is skipped and counted. */
#include "gateway/pypi/pypi_index.h"

#include <ctype.h>
#include <jansson.h>
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <string.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/utf8.h"
#include "util/xalloc.h"

/* ---- the model ---- */

static void link_clear(cr_pypi_link *l)
{
	free(l->filename);
	free(l->url);
	free(l->host);
	free(l->path);
	free(l->query);
	for (size_t i = 0; i < l->n_hashes; i++)
		free(l->hashes[i].hex);
	free(l->requires_python);
	free(l->yanked_reason);
	free(l->upload_time);
	*l = (cr_pypi_link){0};
}

void cr_pypi_page_clear(cr_pypi_page *p)
{
	for (size_t i = 0; i < p->n_links; i++)
		link_clear(&p->links[i]);
	free(p->links);
	for (size_t i = 0; i < p->n_versions; i++)
		free(p->versions[i]);
	free(p->versions);
	free(p->name);
	free(p->api_version);
	*p = (cr_pypi_page){0};
}

const cr_pypi_link *cr_pypi_page_find(const cr_pypi_page *p, const char *filename)
{
	for (size_t i = 0; i < p->n_links; i++)
		if (strcmp(p->links[i].filename, filename) == 0)
			return &p->links[i];
	return NULL;
}

const char *cr_pypi_link_sha256(const cr_pypi_link *l)
{
	for (size_t i = 0; i < l->n_hashes; i++)
		if (strcmp(l->hashes[i].algo, "sha256") == 0)
			return l->hashes[i].hex;
	return NULL;
}

/* Adds a hash named algo with hex value; ignores malformed and repeated
 * algorithms (the first one wins) and any past CR_PYPI_HASHES_MAX. */
static void add_hash(cr_pypi_link *l, const char *algo, size_t algo_len, const char *hex, size_t hex_len)
{
	if (algo_len == 0 || algo_len >= sizeof(l->hashes[0].algo) || hex_len == 0 || hex_len > 128 ||
	    l->n_hashes >= CR_PYPI_HASHES_MAX)
		return;
	for (size_t i = 0; i < algo_len; i++)
		if (!islower((unsigned char)algo[i]) && !isdigit((unsigned char)algo[i]) && algo[i] != '_')
			return;
	for (size_t i = 0; i < hex_len; i++)
		if (!isxdigit((unsigned char)hex[i]))
			return;
	if (algo_len == 6 && memcmp(algo, "sha256", 6) == 0 && hex_len != 64)
		return;
	for (size_t i = 0; i < l->n_hashes; i++)
		if (strlen(l->hashes[i].algo) == algo_len && memcmp(l->hashes[i].algo, algo, algo_len) == 0)
			return;
	cr_pypi_hash *h = &l->hashes[l->n_hashes++];
	memcpy(h->algo, algo, algo_len);
	h->algo[algo_len] = '\0';
	h->hex = cr_xstrndup(hex, hex_len);
	for (char *c = h->hex; *c; c++)
		*c = (char)tolower((unsigned char)*c);
}

static bool utf8_valid(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		size_t k = cr_utf8_seq((const unsigned char *)s + i, n - i);
		if (!k)
			return false;
		i += k;
	}
	return true;
}

/* ---- URLs (RFC 3986 §5.2) ---- */

typedef struct url_parts {
	char *scheme;    /* lower case */
	char *authority; /* NULL when absent */
	char *path;      /* never NULL */
	char *query;     /* NULL when absent */
} url_parts;

static void url_parts_clear(url_parts *u)
{
	free(u->scheme);
	free(u->authority);
	free(u->path);
	free(u->query);
	*u = (url_parts){0};
}

#define cleanup_url_parts __attribute__((cleanup(url_parts_clear)))

static size_t scheme_len(const char *s)
{
	if (!isalpha((unsigned char)s[0]))
		return 0;
	size_t n = 1;
	while (isalnum((unsigned char)s[n]) || s[n] == '+' || s[n] == '-' || s[n] == '.')
		n++;
	return s[n] == ':' ? n : 0;
}

/* Splits a reference (fragment already removed) into its parts. */
static void split_ref(const char *s, url_parts *u)
{
	size_t n = scheme_len(s);
	if (n) {
		u->scheme = cr_xstrndup(s, n);
		for (char *c = u->scheme; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		s += n + 1;
	}
	if (s[0] == '/' && s[1] == '/') {
		s += 2;
		size_t a = strcspn(s, "/?");
		u->authority = cr_xstrndup(s, a);
		s += a;
	}
	size_t p = strcspn(s, "?");
	u->path = cr_xstrndup(s, p);
	if (s[p] == '?')
		u->query = cr_xstrdup(s + p + 1);
}

/* RFC 3986 §5.2.4, in place. */
static void remove_dot_segments(char *path)
{
	char *in = path, *out = path;
	while (*in) {
		if (strncmp(in, "../", 3) == 0) {
			in += 3;
		} else if (strncmp(in, "./", 2) == 0) {
			in += 2;
		} else if (strncmp(in, "/./", 3) == 0) {
			in += 2;
		} else if (strcmp(in, "/.") == 0) {
			in[1] = '\0';
		} else if (strncmp(in, "/../", 4) == 0 || strcmp(in, "/..") == 0) {
			in += 3;
			if (*in == '\0') {
				in--;
				*in = '/';
			}
			while (out > path && *--out != '/')
				;
		} else if (strcmp(in, ".") == 0 || strcmp(in, "..") == 0) {
			in += strlen(in);
		} else {
			size_t n = 1 + strcspn(in + 1, "/");
			memmove(out, in, n);
			out += n;
			in += n;
		}
	}
	*out = '\0';
}

/* base path's directory + ref path (RFC 3986 §5.2.3). */
static char *merge_paths(const url_parts *base, const char *ref)
{
	if (base->authority && base->path[0] == '\0')
		return cr_asprintf("/%s", ref);
	const char *slash = strrchr(base->path, '/');
	size_t n = slash ? (size_t)(slash - base->path) + 1 : 0;
	return cr_asprintf("%.*s%s", (int)n, base->path, ref);
}

/* Resolves ref against base (both without fragment). -1 when base is not absolute. */
static int resolve(const char *base_s, const char *ref_s, url_parts *t)
{
	cleanup_url_parts url_parts base = {0}, ref = {0};
	split_ref(base_s, &base);
	split_ref(ref_s, &ref);
	if (!base.scheme)
		return -1;
	if (ref.scheme) {
		*t = ref;
		ref = (url_parts){0};
	} else if (ref.authority) {
		t->authority = steal_pointer(&ref.authority);
		t->path = steal_pointer(&ref.path);
		t->query = steal_pointer(&ref.query);
	} else if (ref.path[0] == '\0') {
		t->authority = base.authority ? cr_xstrdup(base.authority) : NULL;
		t->path = cr_xstrdup(base.path);
		t->query = ref.query ? steal_pointer(&ref.query) : base.query ? cr_xstrdup(base.query) : NULL;
	} else {
		t->authority = base.authority ? cr_xstrdup(base.authority) : NULL;
		t->path = ref.path[0] == '/' ? steal_pointer(&ref.path) : merge_paths(&base, ref.path);
		t->query = steal_pointer(&ref.query);
	}
	if (!t->scheme)
		t->scheme = cr_xstrdup(base.scheme);
	remove_dot_segments(t->path);
	return 0;
}

/* RFC 3986 pchar and '/' (and '?' in a query), without '%'. */
static bool url_byte_ok(unsigned char c, bool query)
{
	return isalnum(c) || (c && strchr("-._~!$&'()*+,;=:@/", c)) || (query && c == '?');
}

static bool pct_at(const char *s, size_t i, size_t n)
{
	return s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
	       isxdigit((unsigned char)s[i + 2]);
}

/* s with every byte not allowed in a path (or query) %-encoded, a '%' not
 * followed by two hex digits included. */
static char *encode_unsafe(const char *s, size_t n, bool query)
{
	cr_buf b;
	cr_buf_init(&b, 3 * n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (url_byte_ok(c, query) || pct_at(s, i, n))
			cr_buf_putc(&b, (char)c);
		else
			cr_buf_printf(&b, "%%%02X", c);
	}
	return cr_buf_steal(&b, NULL);
}

static int hexval(char c)
{
	return isdigit((unsigned char)c) ? c - '0' : tolower((unsigned char)c) - 'a' + 10;
}

char *cr_pypi_path_filename(const char *path)
{
	const char *seg = strrchr(path, '/');
	seg = seg ? seg + 1 : path;
	size_t n = strlen(seg);
	char *out = cr_xmalloc(n + 1);
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)seg[i];
		if (pct_at(seg, i, n)) {
			c = (unsigned char)(hexval(seg[i + 1]) * 16 + hexval(seg[i + 2]));
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || c == '/') {
			free(out);
			return NULL;
		}
		out[w++] = (char)c;
	}
	out[w] = '\0';
	if (w == 0 || !utf8_valid(out)) {
		free(out);
		return NULL;
	}
	return out;
}

/* "host[:port]" -> lower-case host when the port is the scheme's default and
 * there is no user information or IPv6 literal. */
static char *usable_host(const char *scheme, const char *authority)
{
	size_t n = strcspn(authority, ":");
	if (n == 0 || n > 253)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)authority[i]) && authority[i] != '-' && authority[i] != '.')
			return NULL;
	if (authority[n] == ':' && authority[n + 1] != '\0') {
		const char *port = authority + n + 1;
		if (strcmp(port, strcmp(scheme, "https") == 0 ? "443" : "80") != 0)
			return NULL;
	}
	char *host = cr_xstrndup(authority, n);
	for (char *c = host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return host;
}

/* Fills l's URL fields from href resolved against base. The fragment, when
 * it is "<algo>=<hex>", becomes a hash. Returns -1 when the link is not usable. */
static int link_from_href(cr_pypi_link *l, const char *base, const char *href)
{
	if (strlen(href) > CR_PYPI_URL_MAX)
		return -1;
	size_t nofrag = strcspn(href, "#");
	cleanup_free char *ref = cr_xstrndup(href, nofrag);
	cleanup_url_parts url_parts u = {0};
	if (resolve(base, ref, &u) < 0 || !u.authority)
		return -1;
	if (strcmp(u.scheme, "https") != 0 && strcmp(u.scheme, "http") != 0)
		return -1;
	cleanup_free char *host = usable_host(u.scheme, u.authority);
	if (!host || u.path[0] != '/')
		return -1;
	l->path = encode_unsafe(u.path + 1, strlen(u.path + 1), false);
	l->filename = cr_pypi_path_filename(l->path);
	if (!l->filename)
		return -1;
	if (u.query)
		l->query = encode_unsafe(u.query, strlen(u.query), true);
	l->url = cr_asprintf("%s://%s/%s%s%s", u.scheme, host, l->path, l->query ? "?" : "",
			     l->query ? l->query : "");
	l->host = steal_pointer(&host);
	if (href[nofrag] == '#') {
		const char *frag = href + nofrag + 1;
		size_t eq = strcspn(frag, "=");
		if (frag[eq] == '=')
			add_hash(l, frag, eq, frag + eq + 1, strcspn(frag + eq + 1, "&"));
	}
	return 0;
}

/* A field kept only when it is short, valid UTF-8 text (else NULL). */
static char *text_field(const char *s)
{
	if (strlen(s) > CR_PYPI_FIELD_MAX || !utf8_valid(s))
		return NULL;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 && *c != '\t')
			return NULL;
	return cr_xstrdup(s);
}

static int push_link(cr_pypi_page *p, cr_pypi_link *l, cr_error **err)
{
	if (p->n_links >= CR_PYPI_LINKS_MAX) {
		link_clear(l);
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "the page lists more than %u files",
				     CR_PYPI_LINKS_MAX);
	}
	p->links = cr_xgrow(p->links, &p->cap_links, p->n_links + 1, sizeof(*p->links));
	p->links[p->n_links++] = *l;
	*l = (cr_pypi_link){0};
	return 0;
}

static bool api_version_ok(const char *v)
{
	size_t a = strspn(v, "0123456789");
	return a > 0 && a < 8 && v[a] == '.' && strspn(v + a + 1, "0123456789") == strlen(v + a + 1) &&
	       strlen(v + a + 1) > 0 && strlen(v + a + 1) < 8;
}

/* ---- HTML (PEP 503) ---- */

/* Depth-first, without recursion (the tree's depth is the page's). */
static xmlNode *next_node(xmlNode *n)
{
	if (n->children)
		return n->children;
	while (n) {
		if (n->next)
			return n->next;
		n = n->parent;
		if (n && n->type == XML_DOCUMENT_NODE)
			return NULL;
		if (n && n->type == XML_HTML_DOCUMENT_NODE)
			return NULL;
	}
	return NULL;
}

static bool is_element(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->name && strcasecmp((const char *)n->name, name) == 0;
}

/* An attribute's value (owned, xmlFree'd by the caller through free_xml) or NULL. */
static char *attr(xmlNode *n, const char *name)
{
	return (char *)xmlGetProp(n, (const xmlChar *)name);
}

static void free_xmlp(char **p)
{
	if (*p)
		xmlFree(*p);
}
#define cleanup_xml __attribute__((cleanup(free_xmlp)))

static bool has_attr(xmlNode *n, const char *name)
{
	return xmlHasProp(n, (const xmlChar *)name) != NULL;
}

/* The first <base href> resolved against the page URL, else the page URL. */
static char *html_base(xmlNode *root, const char *page_url)
{
	for (xmlNode *n = root; n; n = next_node(n)) {
		if (!is_element(n, "base"))
			continue;
		cleanup_xml char *href = attr(n, "href");
		if (!href || strlen(href) > CR_PYPI_URL_MAX)
			continue;
		cleanup_free char *ref = cr_xstrndup(href, strcspn(href, "#"));
		cleanup_url_parts url_parts u = {0};
		if (resolve(page_url, ref, &u) < 0)
			break;
		return cr_asprintf("%s:%s%s%s%s%s", u.scheme, u.authority ? "//" : "",
				   u.authority ? u.authority : "", u.path, u.query ? "?" : "",
				   u.query ? u.query : "");
	}
	return cr_xstrdup(page_url);
}

static void html_meta(cr_pypi_page *p, xmlNode *n)
{
	cleanup_xml char *name = attr(n, "name");
	cleanup_xml char *content = attr(n, "content");
	if (name && content && strcmp(name, "pypi:repository-version") == 0 && api_version_ok(content) &&
	    !p->api_version)
		p->api_version = cr_xstrdup(content);
}

/* One <a>: -1 only for a fatal error (too many links). */
static int html_anchor(cr_pypi_page *p, xmlNode *n, const char *base, cr_error **err)
{
	cleanup_xml char *href = attr(n, "href");
	cr_pypi_link l = {.size = -1};
	if (!href || link_from_href(&l, base, href) < 0) {
		link_clear(&l);
		p->skipped++;
		return 0;
	}
	/* an unusable requires-python skips the link: dropping only the
	 * attribute would offer a file to interpreters it does not support */
	cleanup_xml char *rp = attr(n, "data-requires-python");
	if (rp && !(l.requires_python = text_field(rp))) {
		link_clear(&l);
		p->skipped++;
		return 0;
	}
	if (has_attr(n, "data-yanked")) {
		cleanup_xml char *why = attr(n, "data-yanked");
		l.yanked = true;
		if (why && *why)
			l.yanked_reason = text_field(why);
	}
	l.had_metadata = has_attr(n, "data-dist-info-metadata") || has_attr(n, "data-core-metadata");
	return push_link(p, &l, err);
}

static void xml_free_docp(htmlDocPtr *d)
{
	if (*d)
		xmlFreeDoc(*d);
}

int cr_pypi_parse_html(const char *body, size_t len, const char *page_url, cr_pypi_page *out, cr_error **err)
{
	if (len > CR_PYPI_PAGE_MAX)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "the page is larger than %u bytes",
				     CR_PYPI_PAGE_MAX);
	__attribute__((cleanup(xml_free_docp))) htmlDocPtr doc = NULL;
	if (len)
		doc = htmlReadMemory(body, (int)len, page_url, "UTF-8",
				     HTML_PARSE_NONET | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING);
	xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
	cleanup_free char *base = html_base(root, page_url);
	for (xmlNode *n = root; n; n = next_node(n)) {
		if (is_element(n, "meta"))
			html_meta(out, n);
		else if (is_element(n, "a") && html_anchor(out, n, base, err) < 0) {
			cr_pypi_page_clear(out);
			return -1;
		}
	}
	if (!out->api_version)
		out->api_version = cr_xstrdup("1.0");
	return 0;
}

/* ---- JSON (PEP 691) ---- */

static void json_hashes(cr_pypi_link *l, json_t *hashes)
{
	const char *algo;
	json_t *v;
	json_object_foreach (hashes, algo, v)
		if (json_is_string(v))
			add_hash(l, algo, strlen(algo), json_string_value(v), json_string_length(v));
}

/* One entry of "files": 1 usable, 0 skipped, -1 fatal. */
static int json_file(cr_pypi_page *p, json_t *f, const char *page_url, cr_error **err)
{
	json_t *url = json_object_get(f, "url");
	json_t *rp = json_object_get(f, "requires-python");
	json_t *yanked = json_object_get(f, "yanked");
	cr_pypi_link l = {.size = -1};
	if (!json_is_object(f) || !json_is_string(json_object_get(f, "filename")) || !json_is_string(url) ||
	    (rp && !json_is_null(rp) && !json_is_string(rp)) ||
	    strlen(json_string_value(url)) != json_string_length(url) ||
	    link_from_href(&l, page_url, json_string_value(url)) < 0 ||
	    (json_is_string(rp) && !(l.requires_python = text_field(json_string_value(rp))))) {
		link_clear(&l);
		p->skipped++;
		return 0;
	}
	json_hashes(&l, json_object_get(f, "hashes"));
	l.yanked = json_is_true(yanked) || json_is_string(yanked);
	if (json_is_string(yanked) && json_string_length(yanked))
		l.yanked_reason = text_field(json_string_value(yanked));
	json_t *md = json_object_get(f, "core-metadata");
	json_t *md_old = json_object_get(f, "dist-info-metadata");
	l.had_metadata = (md && !json_is_false(md)) || (md_old && !json_is_false(md_old));
	json_t *size = json_object_get(f, "size");
	if (json_is_integer(size) && json_integer_value(size) >= 0)
		l.size = json_integer_value(size);
	json_t *up = json_object_get(f, "upload-time");
	if (json_is_string(up) && json_string_length(up) <= 64)
		l.upload_time = text_field(json_string_value(up));
	return push_link(p, &l, err) < 0 ? -1 : 1;
}

static void json_versions(cr_pypi_page *p, json_t *versions)
{
	if (!json_is_array(versions))
		return;
	size_t cap = 0, i;
	json_t *v;
	p->versions = cr_xgrow(NULL, &cap, 1, sizeof(*p->versions));
	json_array_foreach (versions, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > CR_PYPI_VERSION_MAX ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    p->n_versions >= CR_PYPI_LINKS_MAX)
			continue;
		p->versions = cr_xgrow(p->versions, &cap, p->n_versions + 1, sizeof(*p->versions));
		p->versions[p->n_versions++] = cr_xstrdup(json_string_value(v));
	}
}

static void json_page_fields(cr_pypi_page *p, json_t *root)
{
	json_t *name = json_object_get(root, "name");
	if (json_is_string(name) && json_string_length(name) <= CR_PYPI_NAME_MAX &&
	    strlen(json_string_value(name)) == json_string_length(name))
		p->name = cr_xstrdup(json_string_value(name));
	json_t *av = json_object_get(json_object_get(root, "meta"), "api-version");
	p->api_version = cr_xstrdup(
		json_is_string(av) && api_version_ok(json_string_value(av)) ? json_string_value(av) : "1.0");
	json_versions(p, json_object_get(root, "versions"));
}

int cr_pypi_parse_json(const char *body, size_t len, const char *page_url, cr_pypi_page *out, cr_error **err)
{
	if (len > CR_PYPI_PAGE_MAX)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "the page is larger than %u bytes",
				     CR_PYPI_PAGE_MAX);
	json_error_t jerr;
	json_auto_t *root = json_loadb(body, len, 0, &jerr);
	if (!root)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "the JSON page is invalid: %s (line %d)",
				     jerr.text, jerr.line);
	json_t *files = json_object_get(root, "files");
	if (!json_is_object(root) || !json_is_array(files))
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "the JSON page has no \"files\" array");
	json_page_fields(out, root);
	size_t i;
	json_t *f;
	json_array_foreach (files, i, f) {
		if (json_file(out, f, page_url, err) < 0) {
			cr_pypi_page_clear(out);
			return -1;
		}
	}
	return 0;
}

static bool type_is_json(const char *content_type)
{
	size_t n = strcspn(content_type, ";");
	while (n && content_type[n - 1] == ' ')
		n--;
	return (n >= 5 && strncasecmp(content_type + n - 5, "+json", 5) == 0) ||
	       (n == 16 && strncasecmp(content_type, "application/json", 16) == 0);
}

static bool type_is_html(const char *content_type)
{
	return strncasecmp(content_type, "text/html", 9) == 0 ||
	       strncasecmp(content_type, "application/vnd.pypi.simple.v1+html", 35) == 0;
}

int cr_pypi_parse(const char *body, size_t len, const char *content_type, const char *page_url,
		  cr_pypi_page *out, cr_error **err)
{
	const char *type = content_type ? content_type : "";
	bool json = type_is_json(type);
	if (!json && !type_is_html(type)) {
		size_t i = 0;
		while (i < len && isspace((unsigned char)body[i]))
			i++;
		json = i < len && body[i] == '{';
	}
	return json ? cr_pypi_parse_json(body, len, page_url, out, err)
		    : cr_pypi_parse_html(body, len, page_url, out, err);
}
