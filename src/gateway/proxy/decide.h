/* SPDX-License-Identifier: Apache-2.0 */
/* decide.h -- the transparent and explicit proxies' decision for one
 * connection, without sockets (DESIGN.md §6, docs/internals/gateway-proxy.md).
 *
 * Given what the client's first bytes say (cr_gw_sniff), its original
 * destination and what the managed resolver told the sandbox, cr_gw_decide
 * identifies the destination and runs the three checks in order:
 *   (i)   a name must have been resolved by this gateway to the original
 *         destination IP (else a forged SNI or Host could reach any IP);
 *   (ii)  cr_policy_decide(policy, name-or-IP, port), the one decision;
 *   (iii) the address guard: loopback, 0.0.0.0/8, link-local (metadata),
 *         multicast and reserved, the sandbox pool and the host's own
 *         addresses are refused unless an explicit IP/CIDR allow rule
 *         decided for that address.
 * When the client presented no name and the resolver's name for the IP
 * matches no rule (the default decided), the IP literal is decided instead,
 * so that IP/CIDR rules are not shadowed by a name the client never used.
 * Pure: the resolver's records come through cr_gw_name_lookup, the host's
 * addresses through cr_gw_guard, so unit tests need neither. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/match.h"
#include "sniff/sniff.h"

/* The sandbox address pool (contract default); the guard refuses it. */
#define CR_GW_POOL_NET    0x0ad50000u /* 10.213.0.0 */
#define CR_GW_POOL_PREFIX 16

/* Names of the checks that are not policy steps, used as the audit "rule". */
#define CR_GW_RULE_RESOLVER "resolver_check"
#define CR_GW_RULE_GUARD    "address_guard"
#define CR_GW_RULE_INVALID  "invalid_destination"

/* How the destination was identified. */
typedef enum cr_gw_ident {
	CR_GW_IDENT_SNI,      /* TLS server_name */
	CR_GW_IDENT_HOST,     /* HTTP Host (or an absolute-form target's authority) */
	CR_GW_IDENT_RESOLVER, /* the name the resolver last returned the original IP for */
	CR_GW_IDENT_IP,       /* none of those: the IP literal */
	CR_GW_IDENT_REQUEST,  /* explicit proxy: the CONNECT or absolute-form authority */
} cr_gw_ident;

/* What the first bytes of a transparent connection say. */
typedef struct cr_gw_sniffed {
	cr_sniff_result result;           /* NEED_MORE, FOUND, NO_NAME or MALFORMED (never OTHER) */
	const char *protocol;             /* "tls", "http" or "tcp" */
	cr_gw_ident ident;                /* SNI or HOST when result is FOUND */
	char name[CR_SNIFF_NAME_MAX + 1]; /* FOUND: the name (or an IP literal from Host) */
} cr_gw_sniffed;

/* The manager ("npm", "pip") whose enabled registries block lists host in
 * allowed_hosts, or NULL. Such hosts are reached through the gateway's
 * registry fronts; a direct connection the network policy does not allow
 * outright is refused with registry_not_allowed (spec §6.2, DESIGN.md §7). */
const char *cr_gw_registry_of_host(const cr_policy *p, const char *host);

/* Classifies buf: a TLS ClientHello, else an HTTP/1.x head, else other TCP
 * (result NO_NAME, protocol "tcp"). An absolute-form HTTP target names the
 * host instead of the Host header, as the upstream server will read it. */
void cr_gw_sniff(const uint8_t *buf, size_t len, cr_gw_sniffed *out);

/* The managed resolver's records (names.c in the gateway, a table in tests). */
typedef struct cr_gw_name_lookup {
	bool (*has)(void *ctx, const char *name, struct in_addr ip);
	const char *(*for_ip)(void *ctx, struct in_addr ip); /* NULL when none */
	void *ctx;
} cr_gw_name_lookup;

/* The host's own IPv4 addresses (getifaddrs when the proxy starts) and the
 * sandbox pool when it is not the default one (pool_prefix 0: none). */
typedef struct cr_gw_guard {
	const struct in_addr *self;
	size_t n_self;
	struct in_addr pool;
	unsigned pool_prefix;
} cr_gw_guard;

typedef struct cr_gw_verdict {
	cr_action action;
	cr_reason reason; /* CR_REASON_NONE when allowed, else host_not_allowed */
	cr_gw_ident ident;
	char host[CR_SNIFF_NAME_MAX + 1]; /* the destination as decided: a name or an IP literal */
	char ip[INET_ADDRSTRLEN];         /* the upstream IP, "" before it is known */
	uint16_t port;
	const char *rule; /* deciding rule's origin, a step name or a CR_GW_RULE_* (never NULL) */
	int step;         /* the cr_match_step that decided, -1 when no policy step did */
	bool by_ip_rule;  /* allowed by an explicit IP/CIDR allow rule */
	char detail[512]; /* "" or one line saying why */
} cr_gw_verdict;

/* Transparent proxy: identifies the destination of a connection to ip:port
 * from `sniffed` (FOUND or NO_NAME) and runs checks (i)-(iii). Never fails:
 * anything it cannot decide is a deny with a detail. `rule` and `detail`
 * stay valid as long as the policy. */
void cr_gw_decide(const cr_policy *p, const cr_gw_name_lookup *names, const cr_gw_guard *guard,
		  const cr_gw_sniffed *sniffed, struct in_addr ip, uint16_t port, cr_gw_verdict *out);

/* Check (ii) alone, for the explicit proxy before it resolves a name: the
 * policy's decision for host (a name or IP literal) and port; ident REQUEST. */
void cr_gw_decide_dest(const cr_policy *p, const char *host, uint16_t port, cr_gw_verdict *out);

/* Check (iii): records ip in v and turns an allow into a deny when the
 * guard refuses ip and v was not allowed by an explicit IP/CIDR rule. */
void cr_gw_guard_apply(const cr_gw_guard *g, struct in_addr ip, cr_gw_verdict *v);

/* True for an address the guard refuses (without the IP-rule exception). */
bool cr_gw_guard_refuses(const cr_gw_guard *g, struct in_addr ip);

/* A deny that no policy step produced (malformed request, unknown peer):
 * reason host_not_allowed, the given rule and detail. */
void cr_gw_verdict_refuse(cr_gw_verdict *v, const char *host, struct in_addr ip, uint16_t port,
			  const char *rule, const char *detail);

/* "sni", "host", ... */
const char *cr_gw_ident_name(cr_gw_ident i);
