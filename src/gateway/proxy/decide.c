/* SPDX-License-Identifier: Apache-2.0 */
/* decide.c -- identification of a connection's destination and the three
 * checks of decide.h. No sockets, no clock: the proxy files feed it. */
#include "gateway/proxy/decide.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util/cleanup.h"

static const char *const ident_names[] = {"sni", "host", "resolver", "ip", "request"};

const char *cr_gw_ident_name(cr_gw_ident i)
{
	return (unsigned)i < sizeof(ident_names) / sizeof(ident_names[0]) ? ident_names[i] : "ip";
}

/* The name an HTTP head points at: an absolute-form target's authority
 * (RFC 9112 §3.2.2: the server ignores Host then), else Host. */
static cr_sniff_result http_name(const cr_http_head *h, cr_sniff_result r, char *name)
{
	cr_http_target t;
	const char *host = h->host.host;
	if (cr_sniff_http_target(h->target, &t) == 0 && t.form == CR_HTTP_TARGET_ABSOLUTE)
		host = t.authority.host;
	snprintf(name, CR_SNIFF_NAME_MAX + 1, "%s", host);
	return name[0] ? CR_SNIFF_FOUND : r == CR_SNIFF_FOUND ? CR_SNIFF_NO_NAME : r;
}

void cr_gw_sniff(const uint8_t *buf, size_t len, cr_gw_sniffed *out)
{
	*out = (cr_gw_sniffed){.protocol = "tls", .ident = CR_GW_IDENT_SNI};
	out->result = cr_sniff_tls_sni(buf, len, out->name);
	if (out->result != CR_SNIFF_OTHER)
		return;
	cr_http_head h;
	*out = (cr_gw_sniffed){.protocol = "http", .ident = CR_GW_IDENT_HOST};
	out->result = cr_sniff_http_head(buf, len, &h);
	if (out->result == CR_SNIFF_FOUND || out->result == CR_SNIFF_NO_NAME)
		out->result = http_name(&h, out->result, out->name);
	if (out->result != CR_SNIFF_OTHER)
		return;
	*out = (cr_gw_sniffed){.protocol = "tcp", .ident = CR_GW_IDENT_IP, .result = CR_SNIFF_NO_NAME};
}

static void set_ip(cr_gw_verdict *v, struct in_addr ip)
{
	inet_ntop(AF_INET, &ip, v->ip, sizeof(v->ip));
}

void cr_gw_verdict_refuse(cr_gw_verdict *v, const char *host, struct in_addr ip, uint16_t port,
			  const char *rule, const char *detail)
{
	v->action = CR_ACTION_DENY;
	v->reason = CR_REASON_HOST_NOT_ALLOWED;
	v->port = port;
	v->rule = rule;
	v->step = -1;
	v->by_ip_rule = false;
	set_ip(v, ip);
	if (host != v->host)
		snprintf(v->host, sizeof(v->host), "%s", host ? host : v->ip);
	snprintf(v->detail, sizeof(v->detail), "%s", detail ? detail : "");
}

const char *cr_gw_registry_of_host(const cr_policy *p, const char *host)
{
	for (size_t i = 0; p && i < p->n_registries; i++)
		if (p->registries[i].enabled && cr_registry_allows_host(&p->registries[i], host))
			return p->registries[i].manager;
	return NULL;
}

/* A denied registry host: the fronts are the way (registry_not_allowed). */
static void registry_refusal(const cr_policy *p, cr_gw_verdict *v)
{
	const char *manager = cr_gw_registry_of_host(p, v->host);
	if (!manager)
		return;
	v->reason = CR_REASON_REGISTRY_NOT_ALLOWED;
	v->rule =
		strcmp(manager, "npm") == 0 ? "registries.npm.allowed_hosts" : "registries.pip.allowed_hosts";
	snprintf(v->detail, sizeof(v->detail),
		 "%s is a %s registry host: packages come through the gateway's registry front "
		 "(http://<gateway>/%s/), not by direct connection",
		 v->host, manager, strcmp(manager, "npm") == 0 ? "npm" : "pypi/simple");
}

void cr_gw_decide_dest(const cr_policy *p, const char *host, uint16_t port, cr_gw_verdict *out)
{
	*out = (cr_gw_verdict){.ident = CR_GW_IDENT_REQUEST, .port = port};
	snprintf(out->host, sizeof(out->host), "%s", host);
	cr_decision d;
	cleanup_error cr_error *err = NULL;
	if (cr_policy_decide(p, host, port, &d, &err) < 0) {
		cr_decision_clear(&d);
		out->action = CR_ACTION_DENY;
		out->reason = CR_REASON_HOST_NOT_ALLOWED;
		out->rule = CR_GW_RULE_INVALID;
		out->step = -1;
		snprintf(out->detail, sizeof(out->detail), "%s", err->msg);
		return;
	}
	out->action = d.action;
	out->reason = d.reason;
	out->rule = d.rule ? d.rule->origin : cr_match_step_name(d.step);
	out->step = (int)d.step;
	out->by_ip_rule = d.action == CR_ACTION_ALLOW && d.rule &&
			  (d.rule->host.kind == CR_HOST_IP || d.rule->host.kind == CR_HOST_CIDR);
	if (d.action == CR_ACTION_DENY && d.port_miss)
		snprintf(out->detail, sizeof(out->detail), "port %u is not in %s", port, d.port_miss->origin);
	cr_decision_clear(&d);
	if (out->action == CR_ACTION_DENY)
		registry_refusal(p, out);
}

static bool in_net(struct in_addr ip, uint32_t net, unsigned prefix)
{
	uint32_t mask = prefix ? ~0u << (32 - prefix) : 0;
	return (ntohl(ip.s_addr) & mask) == (net & mask);
}

bool cr_gw_guard_refuses(const cr_gw_guard *g, struct in_addr ip)
{
	static const struct {
		uint32_t net;
		unsigned prefix;
	} nets[] = {
		{0x00000000u, 8},  /* "this network" */
		{0x7f000000u, 8},  /* loopback */
		{0xa9fe0000u, 16}, /* link-local, cloud metadata */
		{0xe0000000u, 4},  /* multicast */
		{0xf0000000u, 4},  /* reserved, broadcast */
		{CR_GW_POOL_NET, CR_GW_POOL_PREFIX},
	};
	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
		if (in_net(ip, nets[i].net, nets[i].prefix))
			return true;
	if (g && g->pool_prefix && in_net(ip, ntohl(g->pool.s_addr), g->pool_prefix))
		return true;
	for (size_t i = 0; g && i < g->n_self; i++)
		if (g->self[i].s_addr == ip.s_addr)
			return true;
	return false;
}

void cr_gw_guard_apply(const cr_gw_guard *g, struct in_addr ip, cr_gw_verdict *v)
{
	set_ip(v, ip);
	if (v->action != CR_ACTION_ALLOW || v->by_ip_rule || !cr_gw_guard_refuses(g, ip))
		return;
	char detail[sizeof(v->detail)];
	snprintf(detail, sizeof(detail),
		 "%s is a loopback, link-local, multicast, sandbox or gateway-host address; only an IP/CIDR "
		 "allow rule naming it opens it",
		 v->ip);
	cr_gw_verdict_refuse(v, v->host, ip, v->port, CR_GW_RULE_GUARD, detail);
}

/* An IP literal presented as SNI or Host names the original destination or
 * nothing the resolver vouched for. */
static bool literal_matches(const char *name, struct in_addr ip, bool *is_literal)
{
	struct in_addr a;
	struct in6_addr a6;
	*is_literal = inet_pton(AF_INET, name, &a) == 1 || inet_pton(AF_INET6, name, &a6) == 1;
	return *is_literal && inet_pton(AF_INET, name, &a) == 1 && a.s_addr == ip.s_addr;
}

/* Identification and check (i): fills v->host and v->ident; false when the
 * presented name does not belong to ip (v is then a deny). */
static bool identify(const cr_gw_name_lookup *names, const cr_gw_sniffed *s, struct in_addr ip, uint16_t port,
		     cr_gw_verdict *v)
{
	bool literal = false;
	char ipstr[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &ip, ipstr, sizeof(ipstr));
	const char *by_ip = names->for_ip ? names->for_ip(names->ctx, ip) : NULL;
	if (s->result == CR_SNIFF_FOUND) {
		v->ident = s->ident;
		if (literal_matches(s->name, ip, &literal) ||
		    (!literal && names->has(names->ctx, s->name, ip))) {
			snprintf(v->host, sizeof(v->host), "%s", literal ? ipstr : s->name);
			v->ident = literal ? CR_GW_IDENT_IP : s->ident;
			return true;
		}
		char detail[sizeof(v->detail)];
		snprintf(detail, sizeof(detail),
			 "%s name '%s' was not resolved to %s by the sandbox's resolver "
			 "(forged or unresolved name)",
			 s->ident == CR_GW_IDENT_SNI ? "TLS server" : "HTTP host", s->name, ipstr);
		cr_gw_verdict_refuse(v, s->name, ip, port, CR_GW_RULE_RESOLVER, detail);
		return false;
	}
	v->ident = by_ip ? CR_GW_IDENT_RESOLVER : CR_GW_IDENT_IP;
	snprintf(v->host, sizeof(v->host), "%s", by_ip ? by_ip : ipstr);
	return true;
}

void cr_gw_decide(const cr_policy *p, const cr_gw_name_lookup *names, const cr_gw_guard *guard,
		  const cr_gw_sniffed *sniffed, struct in_addr ip, uint16_t port, cr_gw_verdict *out)
{
	*out = (cr_gw_verdict){.port = port};
	if (sniffed->result != CR_SNIFF_FOUND && sniffed->result != CR_SNIFF_NO_NAME) {
		char detail[sizeof(out->detail)];
		snprintf(detail, sizeof(detail), "%s: %s first bytes; the destination cannot be identified",
			 sniffed->protocol, cr_sniff_result_name(sniffed->result));
		cr_gw_verdict_refuse(out, NULL, ip, port, CR_GW_RULE_INVALID, detail);
		return;
	}
	if (!identify(names, sniffed, ip, port, out)) {
		/* a presented name the policy denies anyway: the policy's rule is
		 * the better reason (the resolver never vouched for it since it
		 * answered NXDOMAIN) */
		cr_gw_verdict pol;
		cr_gw_decide_dest(p, sniffed->name, port, &pol);
		if (pol.action == CR_ACTION_DENY && pol.step >= 0) {
			out->rule = pol.rule;
			out->step = pol.step;
			out->reason = pol.reason; /* host_not_allowed, or registry_not_allowed */
			snprintf(out->detail, sizeof(out->detail),
				 "%.200s is not allowed by the policy%s%.250s", sniffed->name,
				 *pol.detail ? ": " : "", pol.detail);
		}
		return;
	}
	char host[sizeof(out->host)];
	cr_gw_ident ident = out->ident;
	memcpy(host, out->host, sizeof(host));
	cr_gw_decide_dest(p, host, port, out);
	if (ident == CR_GW_IDENT_RESOLVER && out->step == CR_STEP_DEFAULT && out->action == CR_ACTION_DENY) {
		/* no rule for a name the client never presented: an IP rule may allow */
		cr_gw_verdict by_ip;
		inet_ntop(AF_INET, &ip, host, sizeof(host));
		cr_gw_decide_dest(p, host, port, &by_ip);
		if (by_ip.action == CR_ACTION_ALLOW) {
			*out = by_ip;
			ident = CR_GW_IDENT_IP;
		}
	}
	out->ident = ident;
	cr_gw_guard_apply(guard, ip, out);
}
