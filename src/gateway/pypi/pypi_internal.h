/* SPDX-License-Identifier: Apache-2.0 */
/* pypi_internal.h -- what the PyPI front's files share: one request's work
 * in progress, the search for the project page over the registry's hosts,
 * cache blobs, audit and failure answers (pypi.c), the project pages
 * (pypi_page.c) and the files (pypi_files.c). */
#pragma once

#include <stdbool.h>

#include "gateway/front/front.h"
#include "gateway/pypi/pypi_index.h"
#include "gateway/upstream/upstream.h"

#define PYPI_MANAGER "pip" /* the policy's manager key */

typedef struct pypi_work pypi_work;

/* A project page arrived from w->index: true when the request was answered
 * or moved on, false to try the next index host. */
typedef bool (*pypi_page_fn)(pypi_work *w, const cr_upstream_result *res);
/* No index host had a usable page: answer. */
typedef void (*pypi_fail_fn)(pypi_work *w);

/* One request's work in progress (c->data); freed by pypi_work_end or, when
 * the client goes away, by on_gone (which cancels op). */
struct pypi_work {
	cr_front_call *c;
	cr_upstream_op *op;
	char *project;  /* normalised name: of the page, or of the file's name */
	char *version;  /* files */
	char *host;     /* files: the file's host */
	char *path;     /* files: "<path>[?query]" after the host */
	char *filename; /* files */
	cr_pypi_format format;
	cr_front_decision d; /* files: the artifact decision */
	/* the project page: tried on each exact host of allowed_hosts in turn */
	char **indexes;    /* candidates, NULL-terminated */
	size_t at;         /* the one being tried */
	const char *index; /* indexes[at], NULL when there are none */
	char *page_url;    /* https://<index>/simple/<project>/ */
	pypi_page_fn page_ok;
	pypi_fail_fn page_fail;
	long status;     /* what the candidates answered: 404 when all said "not found" */
	cr_error *error; /* the first failure that was not "not found", or NULL */
};

pypi_work *pypi_work_new(cr_front_call *c);
/* Frees the work and detaches it from its call, which is returned for the
 * answer (answering frees the call). */
cr_front_call *pypi_work_end(pypi_work *w);

/* The content cache of the front. */
cr_cache *pypi_cache(const cr_front_call *c);

void pypi_audit(const cr_front_call *c, const char *action, cr_reason reason, const char *rule,
		const char *package, const char *version, const char *host, const char *detail,
		const char *cache);

/* Answers a failure to get `what` from host: upstream 404/410 -> 404,
 * integrity mismatch -> 502 integrity_mismatch, offline miss -> 503,
 * else 502; audited (action "error", "allow" for 404). Ends the work. */
void pypi_failed(pypi_work *w, const char *what, const char *host, long status, const cr_error *err);

/* Reads a cache entry's blob (at most max bytes; owned, NUL-terminated).
 * NULL with *err. */
char *pypi_read_blob(cr_cache *cache, const cr_cache_entry *e, uint64_t max, size_t *len, cr_error **err);
/* Stores body under key as a new entry and reads it back into *out. */
int pypi_store(cr_cache *cache, const char *key, const char *upstream, const char *content_type,
	       const char *body, size_t len, cr_cache_entry *out, cr_error **err);

/* "pip:doc:<index>/simple/<project>/:<json|html>" */
char *pypi_doc_key(const char *index, const char *project, cr_pypi_format format);
const char *pypi_format_name(cr_pypi_format f);

/* Fetches the project page of w->project in w->format from the registry's
 * index hosts in turn (those that served a project page before first):
 * page_ok for each page until it returns true, page_fail when none did. */
void pypi_find_page(pypi_work *w, pypi_page_fn page_ok, pypi_fail_fn page_fail);
/* The exact hosts of registries.pip.allowed_hosts, the ones that served a
 * project page before first (NULL-terminated, owned; NULL when none). */
char **pypi_index_hosts(const cr_front_call *c);
void pypi_strv_free(char **v);

/* Routes (pypi_page.c, pypi_files.c): rest is c->rest after the prefix. */
void pypi_serve_simple(cr_front_call *c, const char *rest);
void pypi_serve_files(cr_front_call *c, const char *rest);
