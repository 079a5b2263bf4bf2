/* SPDX-License-Identifier: Apache-2.0 */
/* pypi_index.h -- PyPI simple index pages (PEP 503 HTML, PEP 691 JSON) as
 * one link model, and the pages the gateway serves in their place.
 *
 * Pure functions, no I/O: the PyPI front (pypi.c) parses what upstream sent
 * for /simple/<project>/, then renders a page in the format the client asked
 * for in which every file URL points at the gateway
 * (<base_url>/pypi/files/<host>/<path>#sha256=<hex>), links to hosts the
 * policy does not allow are gone, the separate-metadata attributes are
 * removed (pip then downloads the file itself, through the gateway, where it
 * is decided and verified), and, when the lockfile restricts the project,
 * only the allowed versions remain. Every input is capped: the page's size,
 * the number of links, the length of every field. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define CR_PYPI_PAGE_MAX    (48u << 20) /* bytes of an upstream page */
#define CR_PYPI_OUT_MAX     (96u << 20) /* bytes of a rendered page */
#define CR_PYPI_LINKS_MAX   200000u     /* links of one page */
#define CR_PYPI_URL_MAX     4096        /* one link's URL */
#define CR_PYPI_FIELD_MAX   1024        /* requires-python, yanked reason, upload-time */
#define CR_PYPI_HASHES_MAX  8           /* hashes kept per link */
#define CR_PYPI_NAME_MAX    200         /* a project name */
#define CR_PYPI_VERSION_MAX 128         /* a version */

#define CR_PYPI_JSON_TYPE "application/vnd.pypi.simple.v1+json"
#define CR_PYPI_HTML_TYPE "text/html; charset=utf-8"

typedef enum cr_pypi_format { CR_PYPI_HTML, CR_PYPI_JSON } cr_pypi_format;

typedef struct cr_pypi_hash {
	char algo[16]; /* "sha256", lower case */
	char *hex;     /* lower-case hex digits */
} cr_pypi_hash;

/* One file of a project page. Strings are owned by the page. */
typedef struct cr_pypi_link {
	char *filename; /* last path segment of url, percent-decoded */
	char *url;      /* absolute upstream URL without fragment: scheme://host/path[?query] */
	char *host;     /* lower case, without port */
	char *path;     /* after "host/", as upstream encoded it (unsafe bytes %-encoded), no query */
	char *query;    /* NULL when none */
	cr_pypi_hash hashes[CR_PYPI_HASHES_MAX];
	size_t n_hashes;
	char *requires_python; /* NULL when none */
	bool yanked;
	char *yanked_reason; /* NULL when none given */
	bool had_metadata;   /* the page offered separate core metadata (never rendered) */
	int64_t size;        /* JSON "size" (PEP 700), -1 when unknown */
	char *upload_time;   /* JSON "upload-time" (PEP 700), NULL when unknown */
} cr_pypi_link;

typedef struct cr_pypi_page {
	char *name;        /* JSON "name", NULL for HTML pages */
	char *api_version; /* JSON meta.api-version or the HTML pypi:repository-version meta, "1.0" default */
	char **versions;   /* JSON "versions" (PEP 700); NULL when the page had none */
	size_t n_versions;
	cr_pypi_link *links;
	size_t n_links, cap_links;
	size_t skipped; /* anchors / files that were unusable (no href, bad URL, scheme, userinfo, port) */
} cr_pypi_page;

void cr_pypi_page_clear(cr_pypi_page *p);
static inline void cr_pypi_page_clearp(cr_pypi_page *p)
{
	cr_pypi_page_clear(p);
}
#define cleanup_pypi_page __attribute__((cleanup(cr_pypi_page_clearp)))

/* Parses a PEP 503 HTML page fetched from page_url (an absolute http(s) URL:
 * relative hrefs are resolved against it, or against the page's first
 * <base href>). out must be zeroed; it is filled even when some anchors are
 * unusable (counted in out->skipped). Returns 0, or -1 with *err (reason
 * CR_REASON_INTERNAL) for a page over CR_PYPI_PAGE_MAX or with more than
 * CR_PYPI_LINKS_MAX links (out is then cleared). */
int cr_pypi_parse_html(const char *body, size_t len, const char *page_url, cr_pypi_page *out, cr_error **err);
/* The same for a PEP 691 JSON page; also -1 for JSON that is not a project
 * page (not an object, "files" not an array). */
int cr_pypi_parse_json(const char *body, size_t len, const char *page_url, cr_pypi_page *out, cr_error **err);
/* Chooses by content type (a JSON type, or a body whose first non-blank byte
 * is '{' when the type says neither) and parses. */
int cr_pypi_parse(const char *body, size_t len, const char *content_type, const char *page_url,
		  cr_pypi_page *out, cr_error **err);

/* The link whose filename is `filename`, or NULL. */
const cr_pypi_link *cr_pypi_page_find(const cr_pypi_page *p, const char *filename);
/* The link's sha256 hex digest, or NULL. */
const char *cr_pypi_link_sha256(const cr_pypi_link *l);

typedef struct cr_pypi_render_opts {
	cr_pypi_format format;
	const char *base_url; /* "http://10.213.0.1", no trailing slash */
	const char *project;  /* PEP 503-normalised name: title and JSON "name" */
	/* Links whose host this returns false for are left out (NULL = all kept). */
	bool (*host_allowed)(void *ud, const char *host);
	void *ud;
	/* NULL-terminated allowed versions, NULL = every version. When set,
	 * only links whose file name yields one of them (compared exactly,
	 * as the lockfile decision compares) are kept, and JSON "versions" is filtered the same way. */
	const char *const *versions;
} cr_pypi_render_opts;

/* Renders p as the gateway serves it. Returns 0 with *out (owned,
 * NUL-terminated) and *len, or -1 with *err when the result would pass
 * CR_PYPI_OUT_MAX. *kept (may be NULL) gets the number of links rendered. */
int cr_pypi_render(const cr_pypi_page *p, const cr_pypi_render_opts *o, char **out, size_t *len, size_t *kept,
		   cr_error **err);

/* ---- names, versions, files ---- */

/* PEP 503: lower case, every run of '-', '_' and '.' becomes one '-'. Owned result. */
char *cr_pypi_normalize(const char *name, size_t n);
/* A valid project name (PEP 508: ASCII letters, digits, '-', '_', '.',
 * starting and ending with a letter or digit, at most CR_PYPI_NAME_MAX). */
bool cr_pypi_name_valid(const char *name, size_t n);
/* True when name is valid and already normalised. */
bool cr_pypi_name_is_normalized(const char *name);

/* The last segment of a URL path, percent-decoded (owned); NULL when it is
 * empty, not UTF-8, or decodes to a '/', a control byte or NUL. */
char *cr_pypi_path_filename(const char *path);

/* A distribution file name -> (PEP 503-normalised project name, version):
 * wheels "{name}-{ver}(-{build})?-{py}-{abi}-{plat}.whl" and sdists
 * "{name}-{ver}.tar.gz|.zip|.tar.bz2" (version after the last '-').
 * Returns 0 with *name and *version owned, -1 when the name says neither. */
int cr_pypi_filename_parse(const char *filename, char **name, char **version);

/* Whether an Accept header prefers the JSON page (PEP 691): the JSON type
 * (or "application/vnd.pypi.simple.latest+json") is listed with a non-zero
 * quality at least as high as every HTML type's. NULL/"" = HTML. */
cr_pypi_format cr_pypi_format_for_accept(const char *accept);
