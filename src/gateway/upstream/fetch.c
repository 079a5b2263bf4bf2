/* SPDX-License-Identifier: Apache-2.0 */
/* fetch.c -- one upstream request of the gateway's fronts (fetch.h): the
 * URL is checked (https, or http when the configuration allows it for
 * tests; no credentials in it), the host resolved with the gateway's evdns
 * (IP literals as they are), every address run through the address guard,
 * and curl is given the vetted addresses with CURLOPT_RESOLVE and allowed to
 * open sockets to those addresses only. Status line and selected headers
 * are parsed as they arrive, the body is streamed to the caller under a
 * byte cap, and a deadline timer covers resolution + connection + headers
 * and then the stall between body bytes. */
#include "gateway/upstream/fetch_impl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/dns.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

struct fx_resolving {
	cr_fetch *x; /* NULL once the request went away: the callback only frees */
	struct evdns_request *req;
	fx_resolving *prev, *next; /* in `orphans` while x is NULL */
};

/* Resolutions whose request went away: evdns still calls them back (with
 * DNS_ERR_CANCEL), then they are freed. Kept reachable here so that a
 * gateway leaving its loop before that does not leak them silently. */
static fx_resolving *orphans;

static void finish(cr_fetch *x, cr_error *err);

/* ---- errors ---- */

void fx_fail(cr_fetch *x, const char *fmt, ...)
{
	if (x->fail)
		return;
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *what = cr_vasprintf(fmt, ap);
	va_end(ap);
	cr_error_make(&x->fail, 0, CR_REASON_INTERNAL, "upstream %s: %s", x->hostport, what);
}

/* Replaces every occurrence of secret in msg with "***" (curl's own error
 * texts never carry credentials; this keeps it so). */
static void redact(char **msg, const char *secret)
{
	if (!secret || strlen(secret) < 3)
		return;
	char *at;
	while ((at = strstr(*msg, secret))) {
		char *out = cr_asprintf("%.*s***%s", (int)(at - *msg), *msg, at + strlen(secret));
		free(*msg);
		*msg = out;
	}
}

/* ---- addresses ---- */

static bool refused(const cr_fetcher *f, struct in_addr ip)
{
	if (f->allow_loopback && (ntohl(ip.s_addr) >> 24) == 127)
		return false;
	cr_gw_guard own = {.self = f->self, .n_self = f->n_self};
	return cr_gw_guard_refuses(&own, ip) || cr_gw_guard_refuses(cr_gw_upstream_proxy_guard(f->gw), ip);
}

/* Keeps the addresses the guard lets through; none left is an error. */
static void use_addresses(cr_fetch *x, const struct in_addr *ips, size_t n)
{
	cleanup_buf cr_buf bad;
	cr_buf_init(&bad, 512);
	x->n_addrs = 0;
	for (size_t i = 0; i < n; i++) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &ips[i], ip, sizeof(ip));
		if (refused(x->f, ips[i]))
			cr_buf_printf(&bad, "%s%s", bad.len ? ", " : "", ip);
		else if (x->n_addrs < FX_MAX_ADDRS)
			x->addrs[x->n_addrs++] = ips[i];
	}
	if (x->n_addrs == 0) {
		fx_fail(x,
			"address_guard: %s is a loopback, link-local (metadata), multicast, sandbox or "
			"gateway-host address; the gateway does not fetch from it",
			bad.len ? bad.data : "no address");
		finish(x, steal_pointer(&x->fail));
		return;
	}
	inet_ntop(AF_INET, &x->addrs[0], x->ip, sizeof(x->ip));
	cr_error *err = NULL;
	if (fx_setup_easy(x, &err) < 0)
		finish(x, err);
}

static void orphan_unlink(fx_resolving *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else if (orphans == r)
		orphans = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static void on_resolved(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	(void)ttl;
	fx_resolving *r = arg;
	cr_fetch *x = r->x;
	if (!x) {
		orphan_unlink(r);
		free(r);
		return;
	}
	x->resolving = NULL;
	free(r);
	if (result == DNS_ERR_NONE && type == DNS_IPv4_A && count > 0) {
		use_addresses(x, addresses, (size_t)count);
		return;
	}
	if (result == DNS_ERR_NOTEXIST)
		fx_fail(x, "the name does not exist");
	else if (result == DNS_ERR_NONE || result == DNS_ERR_NODATA)
		fx_fail(x, "the name has no IPv4 address");
	else
		fx_fail(x, "name resolution failed: %s", evdns_err_to_string(result));
	finish(x, steal_pointer(&x->fail));
}

static void resolve(cr_fetch *x)
{
	struct evdns_base *dns = x->f->gw->upstream;
	if (!dns) {
		fx_fail(x, "no upstream resolver");
		finish(x, steal_pointer(&x->fail));
		return;
	}
	fx_resolving *r = cr_xcalloc(1, sizeof(*r));
	r->x = x;
	x->resolving = r;
	struct evdns_request *req =
		evdns_base_resolve_ipv4(dns, x->host, DNS_QUERY_NO_SEARCH, on_resolved, r);
	if (x->resolving != r)
		return; /* answered at once (freed r) */
	if (!req) {
		x->resolving = NULL;
		free(r);
		fx_fail(x, "the name query could not be sent");
		finish(x, steal_pointer(&x->fail));
		return;
	}
	r->req = req;
}

static void cancel_resolving(cr_fetch *x)
{
	fx_resolving *r = x->resolving;
	if (!r)
		return;
	x->resolving = NULL;
	r->x = NULL;
	r->next = orphans;
	r->prev = NULL;
	if (orphans)
		orphans->prev = r;
	orphans = r;
	if (r->req)
		evdns_cancel_request(x->f->gw->upstream, r->req);
}

/* ---- timers ---- */

static void arm(struct event *ev, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

/* Before the status line: resolution + connection + headers; after it: no
 * byte for stall_ms. Runs on the loop, outside curl. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cr_fetch *x = arg;
	cr_fetcher *f = x->f;
	int64_t now = cr_monotonic_ms();
	if (!x->got_status) {
		int64_t until = x->start_ms + f->connect_ms + f->headers_ms;
		if (now < until) {
			arm(x->deadline_ev, until - now);
			return;
		}
		fx_fail(x, "timed out: no response within %d ms", f->connect_ms + f->headers_ms);
	} else {
		if (now < x->last_ms + f->stall_ms) {
			arm(x->deadline_ev, x->last_ms + f->stall_ms - now);
			return;
		}
		fx_fail(x, "timed out: no data for %d ms", f->stall_ms);
	}
	finish(x, steal_pointer(&x->fail));
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	cr_fetch *x = arg;
	arm(x->deadline_ev, x->f->connect_ms + x->f->headers_ms);
	struct in_addr ip;
	if (inet_pton(AF_INET, x->host, &ip) == 1)
		use_addresses(x, &ip, 1);
	else
		resolve(x);
}

/* ---- completion ---- */

/* Delivers err (NULL = success) and destroys x. Outside curl only. */
static void finish(cr_fetch *x, cr_error *err)
{
	if (x->cancelled) {
		cr_error_free(err);
		fx_destroy(x);
		return;
	}
	if (x->in_multi) {
		curl_multi_remove_handle(x->f->multi, x->easy);
		x->in_multi = false;
	}
	x->delivering = true;
	if (err)
		redact(&err->msg, x->password);
	if (err)
		redact(&err->msg, x->username);
	cr_fetch_response r = fx_response(x);
	uint64_t elapsed = (uint64_t)(cr_monotonic_ms() - x->start_ms);
	if (x->cbs.on_done)
		x->cbs.on_done(x->ud, &r, err, elapsed);
	else
		cr_error_free(err);
	fx_destroy(x);
}

void fx_complete(cr_fetch *x, CURLcode rc)
{
	if (x->fail)
		finish(x, steal_pointer(&x->fail));
	else if (x->stop_ok || rc == CURLE_OK)
		finish(x, NULL);
	else
		finish(x, fx_curl_error(x, rc));
}

static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void fx_destroy(cr_fetch *x)
{
	cr_fetcher *f = x->f;
	cancel_resolving(x);
	if (x->in_multi)
		curl_multi_remove_handle(f->multi, x->easy);
	if (x->easy)
		curl_easy_cleanup(x->easy);
	if (x->start_ev)
		event_free(x->start_ev);
	if (x->deadline_ev)
		event_free(x->deadline_ev);
	if (x->prev)
		x->prev->next = x->next;
	else
		f->list = x->next;
	if (x->next)
		x->next->prev = x->prev;
	f->active--;
	curl_slist_free_all(x->headers);
	curl_slist_free_all(x->resolve);
	fx_headers_clear(&x->hdr);
	cr_error_free(x->fail);
	free(x->url);
	free(x->host);
	free(x->hostport);
	free_secret(x->username);
	free_secret(x->password);
	free(x->body);
	free(x);
}

/* ---- the request ---- */

static int bad_request(cr_error **err, const char *what)
{
	return cr_error_make(err, 0, CR_REASON_INTERNAL, "upstream request: %s", what);
}

static bool host_ok(const char *h)
{
	if (!*h || strlen(h) > 253)
		return false;
	for (; *h; h++)
		if (!isalnum((unsigned char)*h) && *h != '-' && *h != '.' && *h != '_')
			return false;
	return true;
}

/* Scheme, host and port of url; no credentials, no IPv6 literal. */
static int parse_url(cr_fetcher *f, const char *url, cr_fetch *x, cr_error **err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *user = NULL;
	int rc = 0;
	if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
		rc = bad_request(err, "not a URL");
	else if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		 (strcmp(scheme, "https") != 0 &&
		  !(strcmp(scheme, "http") == 0 && f->gw->cfg.upstream_plain_http)))
		rc = bad_request(err, "only https:// URLs are fetched");
	else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
		rc = bad_request(err, "credentials in a URL are refused");
	else if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host_ok(host))
		rc = bad_request(err, "the URL's host is not a host name or IPv4 address");
	else if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		rc = bad_request(err, "the URL has no port");
	if (rc == 0) {
		for (char *c = host; *c; c++)
			*c = (char)tolower((unsigned char)*c);
		x->host = cr_xstrdup(host);
		x->port = (uint16_t)strtoul(port, NULL, 10);
		x->hostport = cr_asprintf("%s:%u", host, x->port);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(user);
	curl_url_cleanup(u);
	return rc;
}

static int copy_headers(const cr_fetch_req *req, cr_fetch *x, cr_error **err)
{
	/* no "Expect: 100-continue" round trip for POST bodies */
	x->headers = curl_slist_append(NULL, "Expect:");
	for (const char *const *h = req->headers; h && *h; h++) {
		if (strpbrk(*h, "\r\n") || !strchr(*h, ':') || strlen(*h) > CR_FETCH_HEADER_LINE_MAX)
			return bad_request(err, "a request header is not one 'Name: value' line");
		x->headers = curl_slist_append(x->headers, *h);
	}
	return 0;
}

static int copy_request(cr_fetcher *f, const cr_fetch_req *req, cr_fetch *x, cr_error **err)
{
	const char *method = req->method ? req->method : "GET";
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		return bad_request(err, "only GET and POST are sent upstream");
	if (!req->url)
		return bad_request(err, "no URL");
	if (parse_url(f, req->url, x, err) < 0 || copy_headers(req, x, err) < 0)
		return -1;
	x->url = cr_xstrdup(req->url);
	x->post = strcmp(method, "POST") == 0;
	if (x->post && req->body_len) {
		x->body = cr_xmalloc(req->body_len);
		memcpy(x->body, req->body, req->body_len);
		x->body_len = req->body_len;
	}
	x->username = req->username ? cr_xstrdup(req->username) : NULL;
	x->password = req->password ? cr_xstrdup(req->password) : NULL;
	x->max_bytes = req->max_bytes ? req->max_bytes : CR_FETCH_DOC_MAX;
	return 0;
}

cr_fetch *cr_fetch_start(cr_fetcher *f, const cr_fetch_req *req, const cr_fetch_cbs *cbs, void *ud,
			 cr_error **err)
{
	cr_fetch *x = cr_xcalloc(1, sizeof(*x));
	*x = (cr_fetch){.f = f, .cbs = *cbs, .ud = ud, .next = f->list, .start_ms = cr_monotonic_ms()};
	x->hdr.content_length = -1;
	if (f->list)
		f->list->prev = x;
	f->list = x;
	f->active++;
	if (copy_request(f, req, x, err) < 0) {
		fx_destroy(x);
		return NULL;
	}
	x->start_ev = evtimer_new(f->gw->base, on_start, x);
	x->deadline_ev = evtimer_new(f->gw->base, on_deadline, x);
	if (!x->start_ev || !x->deadline_ev) {
		fx_destroy(x);
		cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "upstream request: timer");
		return NULL;
	}
	arm(x->start_ev, 0); /* callbacks never run inside cr_fetch_start */
	return x;
}

void cr_fetch_cancel(cr_fetch *x)
{
	if (!x || x->cancelled)
		return;
	x->cancelled = true;
	if (x->delivering)
		return; /* inside its own on_done: destroyed when that returns */
	if (x->f->depth > 0)
		fx_loop_schedule_reap(x->f); /* inside curl: not now */
	else
		fx_destroy(x);
}

size_t cr_fetcher_active(const cr_fetcher *f)
{
	return f ? f->active : 0;
}

/* ---- the fetcher ---- */

cr_fetcher *cr_fetcher_new(cr_gateway *gw, const char *cacert_pem, size_t cacert_len, cr_error **err)
{
	cr_fetcher *f = cr_xcalloc(1, sizeof(*f));
	f->gw = gw;
	f->connect_ms = CR_FETCH_CONNECT_MS;
	f->headers_ms = CR_FETCH_HEADERS_MS;
	f->stall_ms = CR_FETCH_STALL_MS;
	if (cacert_pem && cacert_len) {
		f->cacert = cr_xmalloc(cacert_len);
		memcpy(f->cacert, cacert_pem, cacert_len);
		f->cacert_len = cacert_len;
	}
	f->self = cr_gw_upstream_self_addrs(gw, &f->n_self);
	if (fx_loop_init(f, err) < 0) {
		cr_fetcher_free(f);
		return NULL;
	}
	return f;
}

void cr_fetcher_free(cr_fetcher *f)
{
	if (!f)
		return;
	while (f->list) {
		f->list->cancelled = true;
		fx_destroy(f->list);
	}
	fx_loop_free(f);
	free(f->cacert);
	free(f->self);
	free(f);
}

void cr_fetcher_allow_loopback_for_tests(cr_fetcher *f)
{
	f->allow_loopback = true;
}

void cr_fetcher_set_timeouts_for_tests(cr_fetcher *f, int connect_ms, int headers_ms, int stall_ms)
{
	if (connect_ms > 0)
		f->connect_ms = connect_ms;
	if (headers_ms > 0)
		f->headers_ms = headers_ms;
	if (stall_ms > 0)
		f->stall_ms = stall_ms;
}
