/* SPDX-License-Identifier: Apache-2.0 */
/* npm_internal.h -- what npm.c (routes, packuments) and npm_tarball.c
 * (tarballs) share: one request's state and the helpers both use. */
#pragma once

#include <stdbool.h>

#include "gateway/front/front.h"
#include "gateway/npm/npm_doc.h"
#include "gateway/upstream/upstream.h"

#define NPM_ABBREV_TYPE "application/vnd.npm.install-v1+json"
#define NPM_KEY_MAX     2048 /* cache keys and upstream URLs built here */

/* One packument or tarball request, from the decision to the answer. */
typedef struct npm_req {
	cr_front_call *c;
	cr_upstream_op *op;  /* the upstream get in flight, or NULL */
	const char *host;    /* the upstream host (the policy's string) */
	cr_front_decision d; /* the policy's decision */
	cr_npm_name pkg;     /* the package (tarballs: tgz.pkg copied here) */
	const char *version; /* tarballs: tgz.version; packuments: NULL */
	cr_npm_tarball tgz;  /* tarball requests */
	bool abbrev;         /* tarballs: the packument variant read for integrity */
	bool retried;        /* the packument was revalidated once for a missing version */
	char *integrity;     /* tarballs: the SRI list the body must match */
	const char *source;  /* where integrity came from: "lockfile", "cache", "packument" */
} npm_req;

/* A request of c: on_gone cancels its upstream get and frees it. */
npm_req *npm_req_new(cr_front_call *c);
/* Frees r after its call was answered (never touches r->c). */
void npm_req_free(npm_req *r);

/* Audits r's request once: action, reason, rule, detail, cache. */
void npm_audit(const npm_req *r, const char *action, cr_reason reason, const char *rule, const char *detail,
	       const char *cache);
/* "allow" or "warn" for r's decision. */
const char *npm_verdict_action(const npm_req *r);

/* The cache key of r->pkg's packument in one variant. */
void npm_document_key(const npm_req *r, bool abbrev, char key[NPM_KEY_MAX]);
/* Starts the get of r->pkg's packument (abbreviated or full) with ttl_s
 * (0 = default, -1 = revalidate now). */
void npm_get_document(npm_req *r, bool abbrev, int64_t ttl_s, cr_upstream_cb cb);
/* Answers a failed upstream get of `what` (404, offline 503, integrity or
 * other 502), audits it, frees r and err. */
void npm_answer_upstream_error(npm_req *r, const cr_upstream_result *res, cr_error *err, const char *what);
/* Reads a cache blob of at most max bytes: owned data, or NULL with *err. */
char *npm_read_blob(const cr_cache_entry *e, const cr_gateway *gw, size_t max, cr_error **err);

/* npm_tarball.c: answers GET <name>/-/<file>.tgz. */
void npm_serve_tarball(cr_front_call *c);
/* Refuses what the front does not serve (403 registry_not_allowed), audited. */
void npm_refuse_unserved(cr_front_call *c, const char *what);
