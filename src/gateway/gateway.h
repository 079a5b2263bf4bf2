/* SPDX-License-Identifier: Apache-2.0 */
/* gateway.h -- the per-sandbox egress gateway process (DESIGN.md §2, §6).
 *
 * One gateway runs for each sandbox with network egress. The server starts it
 * as `cleanroom __gateway ...` with the CompiledPolicy on a pipe (never read
 * from disk), as an unprivileged user under a seccomp filter. It listens only
 * on the sandbox's host-side address; the host firewall redirects the
 * sandbox's DNS (UDP and TCP port 53) to dns_port and every other TCP
 * connection to proxy_port. It is the only way out of the sandbox:
 *   dns.c      managed resolver: answers A queries for allowed names only,
 *              records name -> addresses (names.c) for the proxy's checks;
 *   tproxy.c   transparent proxy: original destination (SO_ORIGINAL_DST),
 *              destination name by TLS SNI / HTTP Host / resolver record,
 *              policy decision (policy/match.h), relay;
 *   connect.c  explicit proxy (HTTP CONNECT and absolute-form requests) for
 *              clients that honour HTTP_PROXY, with the same decisions.
 * Every decision is reported to the server as one JSON line on audit_fd
 * (audit.c). The gateway exits when control_fd reaches end of file (its
 * sandbox ended or the server died). */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "policy/match.h"
#include "policy/policy.h"
#include "util/error.h"

struct event_base;
struct evdns_base;

/* Port the firewall sends a sandbox's connections to gateway_addr:80 to
 * (registry and git fronts, issue 7) and the explicit proxy port that
 * HTTP_PROXY names. Both are seen by tproxy.c as original destinations on the
 * gateway's own address. */
#define CR_GW_FRONT_PORT          80
#define CR_GW_EXPLICIT_PROXY_PORT 3128

typedef struct cr_gw_names cr_gw_names; /* names.c */

typedef struct cr_gateway_config {
	const char *sandbox_id;
	struct in_addr gateway_addr; /* host side of the sandbox's link; all listeners bind here */
	struct in_addr sandbox_addr; /* the only client address accepted */
	uint16_t dns_port;           /* where the firewall redirects port 53 (UDP and TCP) */
	uint16_t proxy_port;         /* where the firewall redirects every other TCP connection */
	char **upstream_dns;         /* "IP" or "IP:PORT", NULL-terminated; NULL/empty = /etc/resolv.conf */
	int policy_fd;               /* read to EOF at start: the CompiledPolicy (canonical JSON) */
	int audit_fd;                /* JSON lines to the server, one per event */
	int control_fd;              /* EOF = exit */
	uid_t run_uid;               /* drop to this uid/gid after binding (0 = stay, tests only) */
	gid_t run_gid;
	/* registry and git fronts (front/front.h, issue 7) */
	uint16_t front_port;      /* where the firewall redirects gateway:80; 0 = no fronts */
	const char *cache_dir;    /* the content cache (cache/cache.h); NULL = fronts answer 503 */
	uint64_t cache_max_bytes; /* eviction bound, 0 = default */
	bool offline;             /* serve warm cache entries only, never go upstream */
	char *upstream_cacert;    /* PEM bundle that upstream TLS is verified against (read before the
				    * privilege drop), NULL = the system store */
	size_t upstream_cacert_len;
	int credentials_fd; /* -1, or read to EOF at start: git credentials (JSON, front/credentials.c) */
	bool upstream_plain_http; /* tests only: allow http:// upstreams */
} cr_gateway_config;

typedef struct cr_gateway {
	cr_gateway_config cfg;
	struct event_base *base;
	struct evdns_base *upstream; /* asynchronous upstream resolution (libevent evdns) */
	cr_policy *policy;
	cr_gw_names *names;
	void *dns;   /* dns.c state */
	void *proxy; /* tproxy.c state */
	void *front; /* front/front.c state: evhttp, fetcher, cache, upstream, credentials */
	uint64_t events_written, events_dropped;
} cr_gateway;

/* ---- names.c: what the managed resolver told this sandbox ---- */

cr_gw_names *cr_gw_names_new(void);
void cr_gw_names_free(cr_gw_names *n);
/* Records that `name` (normalised: lower case, punycode, no trailing dot)
 * resolved to addrs, valid for ttl seconds (at least a floor of 60 s, so that
 * clients that cache a little longer than the TTL still pass). */
void cr_gw_names_add(cr_gw_names *n, const char *name, const struct in_addr *addrs, size_t n_addrs,
		     uint32_t ttl_s, uint64_t now_ms);
/* True when the resolver returned ip for name and the record has not expired. */
bool cr_gw_names_has(const cr_gw_names *n, const char *name, struct in_addr ip, uint64_t now_ms);
/* The name most recently resolved to ip (unexpired), or NULL. */
const char *cr_gw_names_for_ip(const cr_gw_names *n, struct in_addr ip, uint64_t now_ms);

/* ---- audit.c: events to the server ---- */

typedef struct cr_gw_event {
	const char *kind;     /* "dns_query", "egress_decision", "registry_decision", "gateway_error" */
	const char *action;   /* "allow", "deny", "warn" (lockfile warn mode), "error"; NULL for errors */
	const char *protocol; /* "dns", "tls", "http", "tcp", "connect" */
	const char *host;     /* the destination name as identified, or the IP literal; may be NULL */
	uint16_t port;
	const char *ip;     /* original destination IP; may be NULL */
	const char *rule;   /* deciding rule's origin ("sandbox.network.allow[0]") or step name */
	cr_reason reason;   /* CR_REASON_NONE for allows */
	const char *qtype;  /* DNS: "A", "AAAA", ... */
	const char *detail; /* one line: what happened (upstream error, forged SNI, ...) */
	/* registry_decision (front/front.h) */
	const char *registry; /* "npm", "pip", "git" */
	const char *package;  /* package name or repository path */
	const char *version;
	const char *requested_path; /* the path the sandbox asked the front for */
	const char *cache;          /* "hit", "miss", "revalidated", "stale" */
} cr_gw_event;

/* Writes one JSON object line to cfg.audit_fd (non-blocking; counted in
 * events_dropped when the pipe is full, never blocks the loop). */
void cr_gw_audit(cr_gateway *gw, const cr_gw_event *ev);

/* ---- components, each started on gw->base after the policy is loaded ---- */

int cr_gw_dns_start(cr_gateway *gw, cr_error **err);
void cr_gw_dns_stop(cr_gateway *gw);
int cr_gw_proxy_start(cr_gateway *gw, cr_error **err);
void cr_gw_proxy_stop(cr_gateway *gw);

/* The hidden `__gateway` command (gateway.c): parses argv into a config, sets
 * the process up (listeners, privileges, seccomp) and runs the loop. */
int cr_gateway_main(int argc, char **argv);
