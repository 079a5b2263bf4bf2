/* SPDX-License-Identifier: Apache-2.0 */
/* dns.c -- the managed resolver: the sandbox's only DNS server.
 *
 * The firewall redirects the sandbox's UDP and TCP port 53 here. Each query
 * is parsed (lib/dns, capped), the name judged against the policy, and only
 * names the policy allows on some port are resolved upstream (libevent evdns,
 * asynchronous) and answered with their IPv4 addresses, which are recorded in
 * the names map the transparent proxy checks connections against. Every
 * other name gets NXDOMAIN and a host_not_allowed audit event without any
 * packet leaving the host, so DNS cannot carry data out. Answers never hand
 * out loopback, link-local, unspecified, multicast, pool or gateway
 * addresses. Only the sandbox's own address is served; bounded everywhere:
 * queries in flight, TCP connections, idle time, message sizes. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dns/dns.h"
#include "gateway/internal.h"
#include "gateway/proxy/decide.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

#define MAX_INFLIGHT     256
#define MAX_TCP_CONNS    16
#define TCP_IDLE_S       10
#define TCP_OUT_MAX      (64u << 10) /* answers queued for a client that does not read */
#define UPSTREAM_TIMEOUT 5000        /* ms, then SERVFAIL */
#define UDP_BATCH        32          /* datagrams per readiness event */
#define SAMPLE_SLOTS     1024
#define SAMPLE_MS        10000 /* identical allows within this window are logged once */
#define DEFAULT_POOL     "10.213.0.0"
#define DEFAULT_PREFIX   16

typedef struct tcp_conn tcp_conn;
typedef struct pending pending;

typedef struct dns_server {
	cr_gateway *gw;
	int udp_fd;
	struct event *udp_ev;
	struct evconnlistener *listener;
	tcp_conn *conns;
	size_t n_conns;
	pending *inflight;
	size_t n_inflight;
	uint32_t pool_net, pool_mask; /* host order */
	struct {
		uint64_t key;
		int64_t at_ms;
	} sampled[SAMPLE_SLOTS];
} dns_server;

struct tcp_conn {
	dns_server *srv;
	struct bufferevent *bev;
	tcp_conn *prev, *next;
	size_t n_pending;
	bool closing; /* the client closed its side: close once answered */
};

/* Where an answer goes. */
typedef struct reply_to {
	bool tcp;
	tcp_conn *conn; /* TCP; NULL once the connection is gone */
	struct sockaddr_in peer;
} reply_to;

struct pending {
	dns_server *srv;
	pending *prev, *next;
	reply_to to;
	cr_dns_query q;
	const char *rule;
	struct evdns_request *req;
	struct event *timer;
	bool answered; /* timed out and answered; freed when evdns reports the cancel */
};

/* ---- the decision for a name ---- */

static bool allowed_on_missed_ports(const cr_policy *p, const char *name, const cr_net_rule *miss,
				    cr_gw_name_verdict *out)
{
	for (size_t i = 0; i < miss->n_ports; i++) {
		cr_decision d;
		cr_error *err = NULL;
		if (cr_policy_decide(p, name, miss->ports[i], &d, &err) < 0) {
			cr_error_free(err);
			return false;
		}
		bool ok = d.action == CR_ACTION_ALLOW;
		if (ok)
			out->rule = d.rule ? d.rule->origin : cr_match_step_name(d.step);
		cr_decision_clear(&d);
		if (ok)
			return true;
	}
	return false;
}

void cr_gw_dns_judge(const cr_policy *p, const char *name, cr_gw_name_verdict *out)
{
	*out = (cr_gw_name_verdict){.rule = "default", .reason = CR_REASON_HOST_NOT_ALLOWED};
	cr_decision d;
	cr_error *err = NULL;
	if (!name[0] || cr_policy_decide(p, name, 443, &d, &err) < 0) {
		cr_error_free(err);
		out->detail = "not a host name";
		return;
	}
	out->rule = d.rule ? d.rule->origin : cr_match_step_name(d.step);
	if (d.dest.kind != CR_HOST_NAME) {
		out->detail = "an IP address is not resolved";
	} else if (cr_host_is_metadata(&d.dest)) {
		out->rule = cr_match_step_name(CR_STEP_METADATA_GUARD);
		out->detail = "cloud metadata names are never resolved";
	} else if (d.action == CR_ACTION_ALLOW) {
		out->answer = true;
	} else if (d.port_miss && d.step != CR_STEP_METADATA_GUARD) {
		out->answer = allowed_on_missed_ports(p, name, d.port_miss, out);
	}
	cr_decision_clear(&d);
	if (!out->answer && cr_gw_registry_of_host(p, name)) {
		out->reason = CR_REASON_REGISTRY_NOT_ALLOWED;
		out->detail =
			"a registry host: packages come through the gateway's registry front, not by name";
	}
}

/* ---- audit ---- */

static uint64_t sample_key(const char *a, const char *b, const char *c)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a, 64 bits */
	const char *parts[] = {a, b, c ? c : ""};
	for (size_t i = 0; i < 3; i++) {
		for (const char *s = parts[i]; *s; s++)
			h = (h ^ (uint8_t)*s) * 1099511628211ull;
		h = (h ^ 0xFF) * 1099511628211ull; /* separator */
	}
	return h;
}

/* True when the same allow was logged less than SAMPLE_MS ago. */
static bool recently_logged(dns_server *s, const char *name, const char *qtype, const char *detail)
{
	uint64_t key = sample_key(name, qtype, detail);
	int64_t now = cr_monotonic_ms();
	__typeof__(s->sampled[0]) *slot = &s->sampled[key % SAMPLE_SLOTS];
	if (slot->key == key && now - slot->at_ms < SAMPLE_MS)
		return true;
	slot->key = key;
	slot->at_ms = now;
	return false;
}

static void audit_query_reason(dns_server *s, const cr_dns_query *q, bool allow, const char *rule,
			       const char *detail, cr_reason deny_reason)
{
	char tbuf[16];
	const char *qtype = cr_dns_type_name(q->qtype, tbuf);
	if (allow && recently_logged(s, q->name, qtype, detail))
		return;
	cr_gw_audit(s->gw, &(cr_gw_event){
				   .kind = "dns_query",
				   .action = allow ? "allow" : "deny",
				   .protocol = "dns",
				   .host = q->name[0] ? q->name : ".",
				   .rule = rule,
				   .reason = allow ? CR_REASON_NONE : deny_reason,
				   .qtype = qtype,
				   .detail = detail,
			   });
}

static void audit_query(dns_server *s, const cr_dns_query *q, bool allow, const char *rule,
			const char *detail)
{
	audit_query_reason(s, q, allow, rule, detail, CR_REASON_HOST_NOT_ALLOWED);
}

/* ---- answers ---- */

static void tcp_conn_free(tcp_conn *c);

static void tcp_send(tcp_conn *c, const uint8_t *msg, size_t len)
{
	uint8_t prefix[2] = {(uint8_t)(len >> 8), (uint8_t)len};
	struct evbuffer *out = bufferevent_get_output(c->bev);
	if (evbuffer_get_length(out) + len + 2 > TCP_OUT_MAX) {
		tcp_conn_free(c); /* the client does not read its answers */
		return;
	}
	bufferevent_write(c->bev, prefix, 2);
	bufferevent_write(c->bev, msg, len);
}

static void reply(dns_server *s, const reply_to *to, const cr_dns_query *q, unsigned rcode,
		  const struct in_addr *addrs, size_t n, uint32_t ttl)
{
	uint8_t out[CR_DNS_MAX_MESSAGE];
	size_t len = cr_dns_build_response(q, rcode, addrs, n, ttl, out, cr_dns_answer_limit(q, to->tcp));
	if (len == 0)
		return;
	if (to->tcp) {
		if (to->conn)
			tcp_send(to->conn, out, len);
		return;
	}
	/* UDP is lossy by nature: a full socket buffer drops the answer, the client retries */
	(void)sendto(s->udp_fd, out, len, MSG_DONTWAIT | MSG_NOSIGNAL, (const struct sockaddr *)&to->peer,
		     sizeof(to->peer));
}

/* ---- upstream resolution ---- */

static void pending_free(pending *p)
{
	dns_server *s = p->srv;
	if (p->prev)
		p->prev->next = p->next;
	else
		s->inflight = p->next;
	if (p->next)
		p->next->prev = p->prev;
	s->n_inflight--;
	tcp_conn *c = p->to.tcp ? p->to.conn : NULL;
	if (p->timer)
		event_free(p->timer);
	free(p);
	if (c && --c->n_pending == 0 && c->closing &&
	    evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		tcp_conn_free(c);
}

/* Addresses a sandbox must never be handed: unspecified, loopback,
 * link-local (metadata included), multicast, reserved and broadcast, the
 * sandbox pool and the gateway itself. */
static bool address_refused(const dns_server *s, struct in_addr a)
{
	uint32_t h = ntohl(a.s_addr);
	uint8_t top = (uint8_t)(h >> 24);
	return top == 0 || top == 127 || (h >> 16) == 0xA9FE || top >= 224 ||
	       (h & s->pool_mask) == s->pool_net || a.s_addr == s->gw->cfg.gateway_addr.s_addr;
}

static void answer_addresses(pending *p, const struct in_addr *addrs, int count, int ttl)
{
	dns_server *s = p->srv;
	struct in_addr kept[CR_DNS_MAX_ANSWERS];
	size_t n = 0;
	cleanup_buf cr_buf answered, refused;
	cr_buf_init(&answered, 512);
	cr_buf_init(&refused, 512);
	for (int i = 0; i < count; i++) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &addrs[i], ip, sizeof(ip));
		bool bad = address_refused(s, addrs[i]);
		if (!bad && n == CR_DNS_MAX_ANSWERS)
			continue;
		cr_buf *b = bad ? &refused : &answered;
		cr_buf_printf(b, "%s%s", b->len ? ", " : "", ip);
		if (!bad)
			kept[n++] = addrs[i];
	}
	uint32_t ttl_s = ttl < 0 ? 0 : ttl > 86400 ? 86400 : (uint32_t)ttl;
	cr_gw_names_add(s->gw->names, p->q.name, kept, n, ttl_s, (uint64_t)cr_monotonic_ms());
	reply(s, &p->to, &p->q, CR_DNS_RCODE_NOERROR, kept, n, ttl_s);
	cleanup_free char *detail = refused.len ? cr_asprintf("answered %s; not handed out: %s",
							      n ? answered.data : "nothing", refused.data)
						: cr_asprintf("answered %s", n ? answered.data : "nothing");
	/* a name whose every address is refused (metadata, loopback, the pool)
	 * is a denied destination, whatever rule allowed the name */
	bool denied = n == 0 && refused.len;
	audit_query(s, &p->q, !denied, denied ? "address_guard" : p->rule, detail);
}

static void on_upstream(int result, char type, int count, int ttl, void *addresses, void *arg)
{
	pending *p = arg;
	if (p->answered) {
		pending_free(p);
		return;
	}
	dns_server *s = p->srv;
	if (result == DNS_ERR_NONE && type == DNS_IPv4_A && count > 0) {
		answer_addresses(p, addresses, count, ttl);
	} else if (result == DNS_ERR_NOTEXIST) {
		reply(s, &p->to, &p->q, CR_DNS_RCODE_NXDOMAIN, NULL, 0, 0);
		audit_query(s, &p->q, true, p->rule, "upstream: the name does not exist");
	} else if (result == DNS_ERR_NONE || result == DNS_ERR_NODATA) {
		reply(s, &p->to, &p->q, CR_DNS_RCODE_NOERROR, NULL, 0, 0);
		audit_query(s, &p->q, true, p->rule, "upstream: no IPv4 address");
	} else {
		reply(s, &p->to, &p->q, CR_DNS_RCODE_SERVFAIL, NULL, 0, 0);
		cleanup_free char *detail = cr_asprintf("upstream: %s", evdns_err_to_string(result));
		audit_query(s, &p->q, true, p->rule, detail);
	}
	pending_free(p);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pending *p = arg;
	dns_server *s = p->srv;
	reply(s, &p->to, &p->q, CR_DNS_RCODE_SERVFAIL, NULL, 0, 0);
	audit_query(s, &p->q, true, p->rule, "upstream: no answer within 5 s");
	p->answered = true;
	evdns_cancel_request(s->gw->upstream, p->req); /* on_upstream frees p */
}

static void resolve_upstream(dns_server *s, const reply_to *to, const cr_dns_query *q, const char *rule)
{
	if (s->n_inflight >= MAX_INFLIGHT) {
		reply(s, to, q, CR_DNS_RCODE_SERVFAIL, NULL, 0, 0);
		if (!recently_logged(s, "", "overload", NULL))
			cr_gw_audit(s->gw,
				    &(cr_gw_event){.kind = "gateway_error",
						   .protocol = "dns",
						   .detail = "256 queries in flight: answering SERVFAIL"});
		return;
	}
	pending *p = cr_xcalloc(1, sizeof(*p));
	*p = (pending){.srv = s, .to = *to, .q = *q, .rule = rule, .next = s->inflight};
	if (s->inflight)
		s->inflight->prev = p;
	s->inflight = p;
	s->n_inflight++;
	if (to->tcp)
		to->conn->n_pending++;
	p->timer = evtimer_new(s->gw->base, on_timeout, p);
	if (p->timer)
		p->req = evdns_base_resolve_ipv4(s->gw->upstream, q->name, DNS_QUERY_NO_SEARCH, on_upstream,
						 p);
	if (!p->req) {
		reply(s, to, q, CR_DNS_RCODE_SERVFAIL, NULL, 0, 0);
		audit_query(s, q, true, rule, "upstream: the query could not be sent");
		pending_free(p);
		return;
	}
	evtimer_add(p->timer, &(struct timeval){.tv_sec = UPSTREAM_TIMEOUT / 1000});
}

/* ---- one query ---- */

static void answer_query(dns_server *s, const reply_to *to, const cr_dns_query *q)
{
	if (q->qclass != CR_DNS_CLASS_IN) {
		reply(s, to, q, CR_DNS_RCODE_REFUSED, NULL, 0, 0);
		audit_query(s, q, false, NULL, "only class IN is served");
		return;
	}
	cr_gw_name_verdict v;
	cr_gw_dns_judge(s->gw->policy, q->name, &v);
	if (!v.answer) {
		reply(s, to, q, CR_DNS_RCODE_NXDOMAIN, NULL, 0, 0);
		audit_query_reason(s, q, false, v.rule, v.detail, v.reason);
		return;
	}
	if (q->qtype != CR_DNS_TYPE_A) {
		reply(s, to, q, CR_DNS_RCODE_NOERROR, NULL, 0, 0);
		audit_query(s, q, true, v.rule, "answered empty: only A records are served");
		return;
	}
	resolve_upstream(s, to, q, v.rule);
}

static void handle(dns_server *s, const reply_to *to, const uint8_t *msg, size_t len)
{
	cr_dns_query q;
	switch (cr_dns_parse_query(msg, len, &q)) {
	case CR_DNS_DROP: return;
	case CR_DNS_FORMERR: reply(s, to, &q, CR_DNS_RCODE_FORMERR, NULL, 0, 0); return;
	case CR_DNS_NOTIMP: reply(s, to, &q, CR_DNS_RCODE_NOTIMP, NULL, 0, 0); return;
	case CR_DNS_BADVERS: reply(s, to, &q, CR_DNS_RCODE_BADVERS, NULL, 0, 0); return;
	case CR_DNS_BADNAME:
		reply(s, to, &q, CR_DNS_RCODE_NXDOMAIN, NULL, 0, 0);
		audit_query(s, &q, false, NULL, "not a host name");
		return;
	case CR_DNS_OK: answer_query(s, to, &q); return;
	}
}

/* ---- UDP ---- */

static bool from_sandbox(const dns_server *s, const struct sockaddr *sa, socklen_t len)
{
	const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
	return len >= sizeof(*in) && in->sin_family == AF_INET &&
	       in->sin_addr.s_addr == s->gw->cfg.sandbox_addr.s_addr;
}

static void on_udp(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	dns_server *s = arg;
	for (int i = 0; i < UDP_BATCH; i++) {
		uint8_t msg[CR_DNS_MAX_MESSAGE];
		reply_to to = {.tcp = false};
		socklen_t plen = sizeof(to.peer);
		ssize_t n = recvfrom(fd, msg, sizeof(msg), MSG_DONTWAIT | MSG_TRUNC,
				     (struct sockaddr *)&to.peer, &plen);
		if (n < 0)
			return;
		/* others are dropped unanswered, as are datagrams over the cap */
		if (from_sandbox(s, (struct sockaddr *)&to.peer, plen) && (size_t)n <= sizeof(msg))
			handle(s, &to, msg, (size_t)n);
	}
}

static int bind_udp(dns_server *s, cr_error **err)
{
	const cr_gateway_config *cfg = &s->gw->cfg;
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_addr = cfg->gateway_addr, .sin_port = htons(cfg->dns_port)};
	s->udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->udp_fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "udp socket");
	if (bind(s->udp_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "bind dns udp %s:%u",
				     inet_ntoa(cfg->gateway_addr), cfg->dns_port);
	s->udp_ev = event_new(s->gw->base, s->udp_fd, EV_READ | EV_PERSIST, on_udp, s);
	if (!s->udp_ev || event_add(s->udp_ev, NULL) < 0)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "dns udp event");
	return 0;
}

/* ---- TCP ---- */

static void tcp_conn_free(tcp_conn *c)
{
	dns_server *s = c->srv;
	for (pending *p = s->inflight; p; p = p->next)
		if (p->to.tcp && p->to.conn == c)
			p->to.conn = NULL;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	bufferevent_free(c->bev);
	free(c);
}

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	tcp_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t msg[CR_DNS_MAX_MESSAGE];
	for (;;) {
		uint8_t prefix[2];
		if (evbuffer_copyout(in, prefix, 2) < 2)
			return;
		int n = cr_dns_tcp_frame_len(prefix);
		if (n < 0) {
			tcp_conn_free(c);
			return;
		}
		if (evbuffer_get_length(in) < 2 + (size_t)n)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, msg, (size_t)n);
		reply_to to = {.tcp = true, .conn = c};
		size_t before = c->srv->n_conns;
		handle(c->srv, &to, msg, (size_t)n);
		if (c->srv->n_conns != before)
			return; /* the answer could not be queued: c is gone */
	}
}

static void on_tcp_written(struct bufferevent *bev, void *arg)
{
	(void)bev;
	tcp_conn *c = arg;
	if (c->closing && c->n_pending == 0)
		tcp_conn_free(c);
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	tcp_conn *c = arg;
	/* a client may close its side after sending: answer what is in flight */
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) && c->n_pending > 0) {
		c->closing = true;
		bufferevent_disable(bev, EV_READ);
		return;
	}
	tcp_conn_free(c);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	(void)l;
	dns_server *s = arg;
	if (!from_sandbox(s, sa, (socklen_t)len) || s->n_conns >= MAX_TCP_CONNS) {
		close(fd);
		return;
	}
	tcp_conn *c = cr_xcalloc(1, sizeof(*c));
	c->srv = s;
	c->bev = bufferevent_socket_new(s->gw->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		free(c);
		return;
	}
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	s->n_conns++;
	struct timeval idle = {.tv_sec = TCP_IDLE_S};
	bufferevent_setcb(c->bev, on_tcp_read, on_tcp_written, on_tcp_event, c);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_setwatermark(c->bev, EV_READ, 0, 2 + CR_DNS_MAX_MESSAGE);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int bind_tcp(dns_server *s, cr_error **err)
{
	const cr_gateway_config *cfg = &s->gw->cfg;
	struct sockaddr_in sa = {
		.sin_family = AF_INET, .sin_addr = cfg->gateway_addr, .sin_port = htons(cfg->dns_port)};
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE;
	s->listener = evconnlistener_new_bind(s->gw->base, on_accept, s, flags, 64, (struct sockaddr *)&sa,
					      sizeof(sa));
	if (!s->listener)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "bind dns tcp %s:%u",
				     inet_ntoa(cfg->gateway_addr), cfg->dns_port);
	return 0;
}

/* ---- life cycle ---- */

int cr_gw_dns_start(cr_gateway *gw, cr_error **err)
{
	dns_server *s = cr_xcalloc(1, sizeof(*s));
	s->gw = gw;
	s->udp_fd = -1;
	gw->dns = s;
	struct in_addr pool;
	inet_pton(AF_INET, DEFAULT_POOL, &pool);
	cr_gw_dns_set_pool(gw, pool, DEFAULT_PREFIX);
	if (!gw->upstream || !gw->names || !gw->policy) {
		cr_gw_dns_stop(gw);
		return cr_error_make(err, EINVAL, CR_REASON_INTERNAL, "dns: gateway not set up");
	}
	if (bind_udp(s, err) < 0 || bind_tcp(s, err) < 0) {
		cr_gw_dns_stop(gw);
		return -1;
	}
	return 0;
}

void cr_gw_dns_set_pool(cr_gateway *gw, struct in_addr net, unsigned prefix)
{
	dns_server *s = gw->dns;
	if (!s || prefix > 32)
		return;
	s->pool_mask = prefix == 0 ? 0 : 0xFFFFFFFFu << (32 - prefix);
	s->pool_net = ntohl(net.s_addr) & s->pool_mask;
}

void cr_gw_dns_stop(cr_gateway *gw)
{
	dns_server *s = gw->dns;
	if (!s)
		return;
	while (s->conns)
		tcp_conn_free(s->conns);
	/* the evdns requests themselves go with the evdns base, freed without callbacks */
	while (s->inflight)
		pending_free(s->inflight);
	if (s->listener)
		evconnlistener_free(s->listener);
	if (s->udp_ev)
		event_free(s->udp_ev);
	if (s->udp_fd >= 0)
		close(s->udp_fd);
	free(s);
	gw->dns = NULL;
}
