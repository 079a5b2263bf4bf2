/* SPDX-License-Identifier: Apache-2.0 */
/* fetch_impl.h -- the fetcher's state, shared by fetch.c (one request: URL,
 * resolution, address guard, deadlines, completion, cancellation),
 * fetch_curl.c (the easy handle's options and callbacks) and fetch_loop.c
 * (curl's multi interface on the libevent loop: sockets, timer, finished
 * transfers, deferred destruction).
 *
 * Re-entrancy rules: user callbacks on_headers and on_data run inside curl
 * (f->depth > 0), where no easy handle may be removed from the multi; a
 * request cancelled there is only marked, its curl callbacks then fail the
 * transfer and f->reap destroys it from the loop. on_done runs outside curl
 * (x->delivering): cancelling the request itself there is a no-op, it is
 * destroyed when on_done returns. */
#pragma once

#include <curl/curl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "gateway/upstream/internal.h"

#define FX_MAX_ADDRS 4 /* vetted addresses handed to curl per request */

typedef struct fx_resolving fx_resolving;

struct cr_fetcher {
	cr_gateway *gw;
	CURLM *multi;
	struct event *timer; /* curl's timeout */
	struct event *reap;  /* destroys requests cancelled inside curl */
	char *cacert;
	size_t cacert_len;
	struct in_addr *self; /* the host's addresses at creation */
	size_t n_self;
	cr_fetch *list; /* every live request */
	size_t active;
	struct fx_sock *socks; /* sockets curl asked us to watch */
	int depth;             /* > 0 while inside curl_multi_socket_action */
	bool allow_loopback;   /* tests only */
	bool curl_initialised; /* curl_global_init done (undone at free) */
	int connect_ms, headers_ms, stall_ms;
};

typedef struct fx_headers {
	char *content_type, *etag, *last_modified, *location;
	int64_t content_length;
} fx_headers;

struct cr_fetch {
	cr_fetcher *f;
	cr_fetch *prev, *next;
	cr_fetch_cbs cbs;
	void *ud;
	/* the request (copied) */
	char *url, *host, *hostport, *username, *password;
	bool post;
	void *body;
	size_t body_len;
	struct curl_slist *headers, *resolve;
	uint64_t max_bytes;
	uint16_t port;
	/* progress */
	struct event *start_ev, *deadline_ev;
	fx_resolving *resolving;
	CURL *easy;
	bool in_multi, cancelled, delivering, got_status, stop_ok;
	int64_t start_ms, last_ms;
	uint64_t received;
	struct in_addr addrs[FX_MAX_ADDRS];
	size_t n_addrs;
	char ip[INET_ADDRSTRLEN];
	long status;
	fx_headers hdr;
	cr_error *fail; /* the first failure a callback or timer recorded */
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- fetch.c ---- */
/* Records the first failure of a request (later ones are consequences):
 * "upstream <host>:<port>: <what>". */
void fx_fail(cr_fetch *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A finished transfer (removed from the multi): delivers on_done unless
 * cancelled, then destroys x. */
void fx_complete(cr_fetch *x, CURLcode rc);
/* Frees x and everything it holds; removes it from the multi (never call
 * inside curl) and from f->list. */
void fx_destroy(cr_fetch *x);

/* ---- fetch_curl.c ---- */
/* Creates x->easy for the vetted x->addrs and adds it to the multi. 0, or -1
 * with *err. */
int fx_setup_easy(cr_fetch *x, cr_error **err);
/* What the caller sees of the answer so far (points into x). */
cr_fetch_response fx_response(const cr_fetch *x);
void fx_headers_clear(fx_headers *h);
/* The error for a transfer curl ended with rc (x->fail when set). */
cr_error *fx_curl_error(cr_fetch *x, CURLcode rc);

/* ---- fetch_loop.c ---- */
/* Creates the multi handle and its events on f->gw->base. */
int fx_loop_init(cr_fetcher *f, cr_error **err);
/* Frees the multi handle (after every request is destroyed) and events. */
void fx_loop_free(cr_fetcher *f);
/* Adds x->easy to the multi. 0, or -1 with *err. */
int fx_loop_add(cr_fetch *x, cr_error **err);
/* Schedules f->reap (for requests cancelled inside curl). */
void fx_loop_schedule_reap(cr_fetcher *f);
