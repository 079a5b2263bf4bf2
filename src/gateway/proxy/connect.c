/* SPDX-License-Identifier: Apache-2.0 */
/* connect.c -- the explicit proxy, for clients that honour HTTP_PROXY and
 * HTTPS_PROXY (http://<gateway_addr>:3128). It reaches the gateway through
 * the same redirect as everything else; tproxy.c hands over connections
 * whose original destination is gateway_addr:3128.
 *
 *   CONNECT host:port HTTP/1.1      -> decide (host, port); a name is then
 *                                      resolved upstream (evdns) and recorded
 *                                      in the resolver's records; the address
 *                                      guard; "200 Connection established"
 *                                      once the upstream answers, then relay.
 *   GET http://host[:port]/p HTTP/1.1 -> the same decision; the head is
 *                                      rewritten to origin-form with
 *                                      "Connection: close" (one request per
 *                                      connection) and relayed.
 * Refusals are 403 with X-Cleanroom-Reason; requests the proxy does not take
 * are 400; upstream failures are 502. An IP literal is decided as one. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gateway/proxy/proxy.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

#define REWRITE_SLACK 512 /* bytes a rewritten head may add */

static const char connected[] = "HTTP/1.1 200 Connection established\r\n\r\n";

/* A name resolution in flight. The callback owns it; a connection that
 * ends first only clears `conn` (evdns then calls back with a cancel). */
struct px_resolve {
	px_conn *conn;
	struct evdns_request *req;
	char name[CR_SNIFF_NAME_MAX + 1];
};

static struct timeval tv_ms(int64_t ms)
{
	return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

static void bad_request(px_conn *c, const char *why)
{
	cleanup_free char *body =
		cr_asprintf("cleanroom: the gateway's proxy cannot handle this request: %s", why);
	px_reply(c, "400 Bad Request", NULL, body);
}

static void deny(px_conn *c)
{
	px_audit_verdict(c->px, c->protocol, &c->verdict);
	px_reply_denied(c, &c->verdict);
}

/* Checks (iii) and dials, or refuses; reports the decision either way. */
static void go(px_conn *c, struct in_addr ip)
{
	cr_gw_guard_apply(&c->px->guard, ip, &c->verdict);
	if (c->verdict.action != CR_ACTION_ALLOW) {
		deny(c);
		return;
	}
	px_audit_verdict(c->px, c->protocol, &c->verdict);
	px_dial(c, ip, c->verdict.port);
}

static void resolved(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	struct px_resolve *r = arg;
	px_conn *c = r->conn;
	if (!c) {
		free(r);
		return;
	}
	c->resolve = NULL;
	if (result != DNS_ERR_NONE || type != DNS_IPv4_A || count <= 0) {
		char detail[320];
		snprintf(detail, sizeof(detail), "resolve %s: %s", r->name,
			 result != DNS_ERR_NONE ? evdns_err_to_string(result) : "no IPv4 address");
		px_audit_verdict(c->px, c->protocol, &c->verdict);
		px_audit_error(c->px, c->protocol, r->name, c->verdict.port, NULL, detail);
		free(r);
		cleanup_free char *body = cr_asprintf("cleanroom: the gateway could not reach %s:%u (%s)",
						      c->verdict.host, c->verdict.port, detail);
		px_reply(c, "502 Bad Gateway", NULL, body);
		return;
	}
	const struct in_addr *addrs = addresses;
	cr_gw_names_add(c->px->gw->names, r->name, addrs, (size_t)count, ttl < 0 ? 0 : (uint32_t)ttl,
			px_now_ms());
	free(r);
	go(c, addrs[0]);
}

static void resolve(px_conn *c)
{
	struct evdns_base *dns = c->px->gw->upstream;
	struct px_resolve *r = cr_xcalloc(1, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", c->verdict.host);
	r->conn = c;
	c->resolve = r;
	c->phase = PX_RESOLVE;
	px_event_clear(&c->ev);
	/* evdns never calls back from inside evdns_base_resolve_ipv4 */
	r->req = dns && c->px->gw->names
			 ? evdns_base_resolve_ipv4(dns, r->name, DNS_QUERY_NO_SEARCH, resolved, r)
			 : NULL;
	if (!r->req)
		resolved(DNS_ERR_UNKNOWN, DNS_IPv4_A, 0, 0, NULL, r);
}

void px_explicit_cancel(px_conn *c)
{
	struct px_resolve *r = c->resolve;
	if (!r)
		return;
	c->resolve = NULL;
	r->conn = NULL;
	if (r->req)
		evdns_cancel_request(c->px->gw->upstream, r->req);
	else
		free(r);
}

/* Headers a proxy consumes or replaces (RFC 9110 §7.6.1) and Host, which
 * the rewritten head writes from the target. */
static bool dropped_header(cr_sniff_span name)
{
	static const char *const names[] = {
		"connection", "proxy-connection", "keep-alive", "proxy-authorization",
		"te",         "upgrade",          "host",       NULL};
	for (size_t i = 0; names[i]; i++)
		if (name.len == strlen(names[i]) && strncasecmp(name.p, names[i], name.len) == 0)
			return true;
	return false;
}

/* The absolute-form request as origin-form for the upstream server, with
 * whatever body bytes already arrived after the head. */
static int rewrite(px_conn *c, const cr_http_head *h, const cr_http_target *t)
{
	cr_buf b;
	cr_buf_init(&b, h->head_len + REWRITE_SLACK + (c->len - h->head_len));
	const cr_sniff_authority *a = &t->authority;
	bool v6 = strchr(a->host, ':') != NULL;
	cr_buf_printf(&b, "%.*s %.*s HTTP/1.%d\r\nHost: %s%s%s", (int)h->method.len, h->method.p,
		      t->path.len ? (int)t->path.len : 1, t->path.len ? t->path.p : "/", h->minor,
		      v6 ? "[" : "", a->host, v6 ? "]" : "");
	if (a->port)
		cr_buf_printf(&b, ":%u", a->port);
	cr_buf_puts(&b, "\r\n");
	cr_sniff_span rest = h->headers, name, value, line;
	while (cr_sniff_http_next_header(&rest, &name, &value, &line))
		if (!dropped_header(name))
			cr_buf_append(&b, line.p, line.len);
	cr_buf_puts(&b, "Connection: close\r\n\r\n");
	int r = cr_buf_append(&b, c->buf + h->head_len, c->len - h->head_len);
	c->out_len = b.len;
	c->out = (uint8_t *)cr_buf_steal(&b, NULL);
	return r;
}

/* Fills c->verdict.host/port and the bytes to send once connected. */
static int take_request(px_conn *c, const cr_http_head *h, cr_http_target *t, const char **why)
{
	bool is_connect = h->method.len == 7 && memcmp(h->method.p, "CONNECT", 7) == 0;
	if (cr_sniff_http_target(h->target, t) < 0)
		return *why = "invalid request target", -1;
	if (is_connect) {
		if (t->form != CR_HTTP_TARGET_AUTHORITY)
			return *why = "CONNECT needs host:port", -1;
		c->protocol = "connect";
		c->c2u.pending = c->buf + h->head_len;
		c->c2u.pending_len = c->len - h->head_len;
		c->u2c.pending = (const uint8_t *)connected;
		c->u2c.pending_len = sizeof(connected) - 1;
		return 0;
	}
	if (t->form != CR_HTTP_TARGET_ABSOLUTE || t->scheme.len != 4 ||
	    strncasecmp(t->scheme.p, "http", 4) != 0)
		return *why = "only CONNECT and absolute-form http:// requests are proxied", -1;
	c->protocol = "http";
	if (rewrite(c, h, t) < 0)
		return *why = "request head too large", -1;
	c->c2u.pending = c->out;
	c->c2u.pending_len = c->out_len;
	return 0;
}

static void handle_request(px_conn *c, const cr_http_head *h)
{
	cr_http_target t;
	const char *why = NULL;
	if (take_request(c, h, &t, &why) < 0) {
		bad_request(c, why);
		return;
	}
	uint16_t port = t.authority.port ? t.authority.port : 80;
	cr_gw_decide_dest(c->px->gw->policy, t.authority.host, port, &c->verdict);
	if (c->verdict.action != CR_ACTION_ALLOW) {
		deny(c);
		return;
	}
	if (!t.authority.is_ip) {
		resolve(c);
		return;
	}
	struct in_addr ip;
	if (inet_pton(AF_INET, t.authority.host, &ip) != 1) {
		cr_gw_verdict_refuse(&c->verdict, t.authority.host, (struct in_addr){0}, port,
				     CR_GW_RULE_INVALID, "IPv6 is not available in the sandbox");
		c->verdict.ip[0] = '\0';
		deny(c);
		return;
	}
	go(c, ip);
}

static void head_cb(evutil_socket_t fd, short what, void *arg)
{
	px_conn *c = arg;
	int64_t left = c->deadline_ms - cr_monotonic_ms();
	if ((what & EV_TIMEOUT) || left <= 0) {
		px_reset(c);
		return;
	}
	ssize_t n = read(fd, c->buf + c->len, CR_SNIFF_MAX_BYTES - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		px_conn_free(c);
		return;
	}
	c->len += (size_t)n;
	cr_http_head h;
	struct timeval tv = tv_ms(left);
	switch (cr_sniff_http_head(c->buf, c->len, &h)) {
	case CR_SNIFF_NEED_MORE: event_add(c->ev, &tv); return;
	case CR_SNIFF_FOUND:
	case CR_SNIFF_NO_NAME: handle_request(c, &h); return;
	default: bad_request(c, "not an HTTP/1.x request head"); return;
	}
}

void px_explicit_start(px_conn *c)
{
	c->phase = PX_HEAD;
	c->protocol = "connect";
	c->buf = cr_xmalloc(CR_SNIFF_MAX_BYTES);
	c->deadline_ms = cr_monotonic_ms() + PX_FIRST_BYTES_MS;
	c->ev = event_new(c->px->gw->base, c->cfd, EV_READ | EV_PERSIST, head_cb, c);
	struct timeval tv = tv_ms(PX_FIRST_BYTES_MS);
	event_add(c->ev, &tv);
}
