/* SPDX-License-Identifier: Apache-2.0 */
/* upstream.h -- cached upstream documents and artifacts for the registry and
 * git fronts: fetch.h + the content cache (src/cache/cache.h).
 *
 * Two shapes of thing come from upstream:
 *   documents  metadata that changes (npm packuments, PyPI simple pages, git
 *              info/refs): cached with a TTL, revalidated with ETag /
 *              Last-Modified, served stale when upstream fails
 *              (stale-if-error) and in offline mode;
 *   artifacts  immutable files named by version (npm tarballs, wheels and
 *              sdists, git upload-pack answers keyed by request digest):
 *              cached forever once verified.
 * Every artifact is verified against its expected integrity (an SRI list:
 * "sha512-<b64> sha1-<b64>", the strongest algorithm present must match;
 * util/sri.h) while it streams into a cache writer; a mismatch is an error,
 * nothing is stored, nothing is served. Downloads are single-flight: the
 * first gateway to want a key takes its cache lock (cr_cache_lock_try),
 * others wait (polling the lock every 50 ms, at most the fetch's own time
 * limits) and then read what it stored. Offline mode (cfg.offline) serves
 * cache entries only; a miss is an error that says so. Hit, miss, byte,
 * latency and error counts go to the cache's shared counters (batched, once a
 * second). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cache/cache.h"
#include "gateway/gateway.h"
#include "gateway/upstream/fetch.h"

#define CR_UPSTREAM_DOC_TTL_S    300 /* documents: fresh for 5 minutes */
#define CR_UPSTREAM_LOCK_POLL_MS 50

typedef struct cr_upstream cr_upstream; /* per gateway: fetcher + cache + counters */

/* What a get produced: an entry in the cache whose blob the front serves or
 * parses. `from` says how: "hit", "miss" (fetched now), "revalidated" (304),
 * "stale" (upstream failed, stale copy served; detail in warning). */
typedef struct cr_upstream_result {
	const cr_cache_entry *entry; /* valid during the callback only; NULL on error */
	const char *from;
	long upstream_status; /* HTTP status of the upstream answer when not from the cache, else 0 */
	const char *warning;  /* stale: why upstream was not used; else NULL */
} cr_upstream_result;

/* err == NULL: res->entry is set. err != NULL: what failed, with reason
 * CR_REASON_INTERNAL (upstream unreachable, bad status: the status is in
 * res->upstream_status, e.g. 404 for an unknown package, size cap, offline
 * miss: message starts "offline") or CR_REASON_INTEGRITY_MISMATCH (the body
 * did not match: nothing stored); res is then non-NULL with entry NULL; the
 * callee owns err. */
typedef void (*cr_upstream_cb)(void *ud, const cr_upstream_result *res, cr_error *err);

typedef struct cr_upstream_get {
	const char *key;                 /* cache key, e.g. "npm:doc:registry.npm.example/lodash:abbrev" */
	const char *url;                 /* upstream URL (https://...) */
	const char *const *headers;      /* extra request headers (Accept, ...), NULL-terminated or NULL */
	const char *username, *password; /* upstream credentials (git), or NULL */
	/* documents: freshness in seconds; 0 = CR_UPSTREAM_DOC_TTL_S, < 0 =
	 * revalidate on every get (still served stale when upstream fails) */
	int64_t ttl_s;
	/* artifacts: true when no integrity exists for this kind of thing (git
	 * pack answers, verified by the git client itself and keyed by the
	 * request's digest); otherwise a get without integrity fails */
	bool no_integrity;
	uint64_t max_bytes; /* 0 = CR_FETCH_DOC_MAX for documents, CR_CACHE_BLOB_MAX for artifacts */
	/* artifacts only: the SRI list the body must match; NULL or "" = none
	 * known (then the get fails with "no integrity to verify against":
	 * artifacts are never cached unverified) */
	const char *integrity;
	/* POST requests (git upload-pack): method and body; key must include
	 * the body's digest */
	const char *method;
	const void *body;
	size_t body_len;
} cr_upstream_get;

typedef struct cr_upstream_op cr_upstream_op;

cr_upstream *cr_upstream_new(cr_gateway *gw, cr_cache *cache, cr_fetcher *fetcher, bool offline);
/* Cancels every pending get (callbacks not called), flushes counters, frees. */
void cr_upstream_free(cr_upstream *u);

/* A document: a fresh entry is a hit; a stale one is revalidated
 * (If-None-Match / If-Modified-Since); a 200 replaces it; upstream failure
 * serves the stale one (from = "stale"). Only 200 answers are stored. */
cr_upstream_op *cr_upstream_document(cr_upstream *u, const cr_upstream_get *g, cr_upstream_cb cb, void *ud);
/* An artifact: a stored one is a hit (immutable); else fetched, verified
 * against g->integrity, stored with ttl 0, then reported. 3xx answers are
 * followed up to CR_FETCH_MAX_REDIRECTS times when allow_redirect(ud, url)
 * returns true for the new URL (NULL = never follow). */
cr_upstream_op *cr_upstream_artifact(cr_upstream *u, const cr_upstream_get *g,
				     bool (*allow_redirect)(void *ud, const char *url), cr_upstream_cb cb,
				     void *ud);
/* The warm path of cr_upstream_artifact, synchronous: a stored artifact
 * verified for g->integrity (any, with g->no_integrity) is a hit counted
 * like one and returned at once: 1 with *out filled (caller clears it).
 * 0 in every other case (absent, stored for another integrity, an index
 * error): then cr_upstream_artifact does the whole get. */
int cr_upstream_artifact_stored(cr_upstream *u, const cr_upstream_get *g, cr_cache_entry *out);
/* Stops a get (its callback is not called). NULL accepted. */
void cr_upstream_cancel(cr_upstream_op *op);

/* Adds to the served-bytes counter (fronts call it after sending a blob). */
void cr_upstream_count_served(cr_upstream *u, uint64_t bytes);
