/* SPDX-License-Identifier: Apache-2.0 */
/* fetch.h -- upstream HTTP(S) requests of the gateway's fronts: libcurl's
 * multi interface driven by the gateway's libevent loop (DESIGN.md §7).
 *
 * Nothing here blocks. A request's host name is resolved with the gateway's
 * own asynchronous resolver (gw->upstream, evdns: the same upstream DNS the
 * managed resolver uses), each address passes the gateway's address guard
 * (no loopback, metadata, link-local, sandbox-pool or gateway addresses: a
 * registry name must not lead back into the host), and the chosen address is
 * handed to curl with CURLOPT_RESOLVE, so curl never resolves by itself and
 * never starts a resolver thread. TLS is always verified, against the system
 * store or the CA bundle the server gave the gateway (cfg.upstream_cacert,
 * read into memory before the privilege drop: CURLOPT_CAINFO_BLOB). Redirects
 * are not followed by curl: the caller sees 3xx and decides (fronts follow at
 * most CR_FETCH_MAX_REDIRECTS after checking the new host against policy).
 * Bodies larger than max_bytes, stalled transfers and slow headers are
 * errors. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/gateway.h"

#define CR_FETCH_MAX_REDIRECTS   5
#define CR_FETCH_CONNECT_MS      10000
#define CR_FETCH_HEADERS_MS      30000 /* request sent -> status line */
#define CR_FETCH_STALL_MS        30000 /* no body byte for this long */
#define CR_FETCH_DOC_MAX         (64u << 20)
#define CR_FETCH_HEADER_LINE_MAX 8192

typedef struct cr_fetch cr_fetch;
typedef struct cr_fetcher cr_fetcher;

/* One request. Strings are copied by cr_fetch_start. */
typedef struct cr_fetch_req {
	const char *method; /* "GET" (default when NULL) or "POST" */
	const char *url;    /* https://host[:port]/path?query (http:// allowed only when cfg allows, tests) */
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const void *body;           /* POST body (copied) */
	size_t body_len;
	uint64_t max_bytes; /* response body cap; 0 = CR_FETCH_DOC_MAX */
	/* Credentials for this request only: sent upstream as Basic auth, never
	 * logged, never in errors (NULL = none). */
	const char *username, *password;
} cr_fetch_req;

typedef struct cr_fetch_response {
	long status;               /* HTTP status (0 before the status line) */
	const char *content_type;  /* "" when absent */
	const char *etag;          /* "" when absent */
	const char *last_modified; /* "" when absent */
	const char *location;      /* 3xx: the Location header, "" when absent */
	int64_t content_length;    /* -1 when unknown */
	const char *remote_ip;     /* the address connected to */
} cr_fetch_response;

typedef struct cr_fetch_cbs {
	/* The status line and headers arrived. Return 0 to continue (body
	 * bytes follow through on_data), 1 to stop without error (e.g. a
	 * redirect the caller handles itself: on_done then reports success),
	 * -1 to abort. May be NULL. */
	int (*on_headers)(void *ud, const cr_fetch_response *r);
	/* Body bytes. Return 0 to continue, -1 to abort. */
	int (*on_data)(void *ud, const void *data, size_t len);
	/* Always called exactly once unless cancelled: err == NULL on success
	 * (any HTTP status), else what failed (DNS, refused address, connect,
	 * TLS, timeout, size cap, aborted by a callback) with the host named
	 * and no credentials. Ownership of err passes to the callee. */
	void (*on_done)(void *ud, const cr_fetch_response *r, cr_error *err, uint64_t elapsed_ms);
} cr_fetch_cbs;

/* Creates the fetcher of gw (one per gateway, on gw->base). cacert_pem
 * (may be NULL = system store) is copied. NULL with *err. */
cr_fetcher *cr_fetcher_new(cr_gateway *gw, const char *cacert_pem, size_t cacert_len, cr_error **err);
/* Cancels every request in flight (their on_done is not called) and frees. */
void cr_fetcher_free(cr_fetcher *f);

/* Starts a request; callbacks run on the loop later, never from inside this
 * call. NULL with *err only for a malformed request (bad URL). */
cr_fetch *cr_fetch_start(cr_fetcher *f, const cr_fetch_req *req, const cr_fetch_cbs *cbs, void *ud,
			 cr_error **err);
/* Stops a request; its callbacks are not called afterwards. NULL accepted. */
void cr_fetch_cancel(cr_fetch *x);

/* Requests in flight (tests, stats). */
size_t cr_fetcher_active(const cr_fetcher *f);
