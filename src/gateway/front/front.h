/* SPDX-License-Identifier: Apache-2.0 */
/* front.h -- the gateway's registry and git fronts (DESIGN.md §7, spec §6.2,
 * §6.4, §6.6): plain HTTP on the gateway's own address, port 80.
 *
 * The sandbox's package managers are pointed at
 *   http://<gateway>/npm/          npm registry API (npm.c)
 *   http://<gateway>/pypi/simple/  PEP 503 / PEP 691 index, files under /pypi/files/ (pypi.c)
 *   http://<gateway>/git/<host>/   git smart HTTP, upload-pack only (git.c)
 * The firewall redirects the sandbox's connections to gateway:80 to the
 * front's own listener (cfg.front_port), served by libevent's evhttp, which
 * accepts requests from the sandbox's address only. front.c routes by prefix and gives each
 * handler one cr_front_call; the handler answers exactly once through one of
 * the cr_front_send_* / cr_front_refuse functions (which end the call), or
 * not at all if the client went away first (then on_gone runs and the call is
 * freed by front.c).
 *
 * Decisions (registry.c) follow spec §5.2 and §6.6 in this order:
 *   1. registries.<manager> must exist and be enabled  -> registry_not_allowed
 *   2. the upstream host must match its allowed_hosts   -> registry_not_allowed
 *   3. artifacts, when lockfile enforcement is enabled and mode != off: the
 *      (name, version) must be in artifact_allowlist    -> lockfile_violation
 *      (mode warn: served, recorded with action "warn")
 *   4. artifacts without lockfile enforcement (or mode off): fallback
 *      decides (deny -> registry_not_allowed)
 * Metadata documents pass steps 1-2 only. Every decision is an audit event
 * (kind registry_decision) with registry, package, version, requested_path,
 * action, reason and rule; allows of cache hits are not deduplicated. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "cache/cache.h"
#include "gateway/gateway.h"
#include "lockfile/lockfile.h"
#include "policy/policy.h"

struct evhttp_request;
typedef struct cr_front cr_front;
typedef struct cr_upstream cr_upstream;

#define CR_FRONT_BODY_MAX (1u << 20) /* request bodies (git upload-pack negotiation) */
#define CR_FRONT_URL_MAX  4096

/* ---- life cycle (front.c; called by gateway.c and tproxy.c) ---- */

/* Before the privilege drop: reads the git credentials (cfg.credentials_fd)
 * and binds the listener on gateway_addr:cfg.front_port (0 = no fronts). */
int cr_front_bind(cr_gateway *gw, cr_error **err);
/* After the drop, as the gateway's user: opens the cache (cfg.cache_dir; no
 * cache dir = fronts answer 503 "no content cache"), the fetcher and the
 * upstream layer, and starts serving on gw->base. */
int cr_front_start(cr_gateway *gw, cr_error **err);
void cr_front_stop(cr_gateway *gw);

/* ---- one request ---- */

typedef struct cr_front_call cr_front_call;
struct cr_front_call {
	cr_gateway *gw;
	cr_upstream *upstream;
	struct evhttp_request *req;
	const char *registry; /* "npm", "pip", "git": the policy's manager key */
	const char *path;     /* the request path as sent, e.g. "/npm/@scope%2fname" */
	const char *rest;     /* path after the front's prefix ("@scope%2fname"), query excluded */
	const char *query;    /* "" when none */
	const char *base_url; /* "http://10.213.0.1" -- for URLs written into served documents */
	/* set by the handler when it starts asynchronous work: called (once)
	 * when the client goes away before the answer; cancel the work there.
	 * The call is freed by front.c right after. */
	void (*on_gone)(cr_front_call *c);
	void *data; /* the handler's */
};

/* A front's handler: starts answering c. */
typedef void (*cr_front_handler)(cr_front_call *c);
void cr_front_npm(cr_front_call *c);  /* npm.c */
void cr_front_pypi(cr_front_call *c); /* pypi.c */
void cr_front_git(cr_front_call *c);  /* git.c */

/* The content cache the fronts share (NULL when the server gave none; the
 * handlers only run with one). */
cr_cache *cr_front_cache(const cr_gateway *gw);
/* The front's raw upstream fetcher (fetch.h), for requests that are never
 * cached (git pushes); NULL without a cache. */
struct cr_fetcher *cr_front_fetcher(const cr_gateway *gw);

/* Request header value, or NULL. */
const char *cr_front_header(const cr_front_call *c, const char *name);
/* The request body (POST), at most CR_FRONT_BODY_MAX (larger: the call was
 * already refused with 413 before the handler ran). */
const void *cr_front_body(const cr_front_call *c, size_t *len);

/* ---- answers: each ends the call ---- */

/* 200 with a cache blob as the body (sendfile); content_type NULL = the
 * entry's. Counts served bytes. */
void cr_front_send_entry(cr_front_call *c, const cr_cache_entry *e, const char *content_type);
/* Any status with an in-memory body (copied). */
void cr_front_send(cr_front_call *c, int status, const char *content_type, const void *body, size_t len);
/* Status (403, 404, 502, 503, ...) with `X-Cleanroom-Reason: <reason>` when
 * reason != CR_REASON_NONE and a one-line text body (printf format) naming
 * what was refused and why. */
void cr_front_refuse(cr_front_call *c, int status, cr_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- decisions (registry.c) ---- */

typedef enum cr_front_verdict { CR_FRONT_ALLOW, CR_FRONT_WARN, CR_FRONT_DENY } cr_front_verdict;

typedef struct cr_front_decision {
	cr_front_verdict verdict;
	cr_reason reason; /* DENY: registry_not_allowed / lockfile_violation; WARN: lockfile_violation */
	const cr_artifact *artifact; /* the allowlist entry that matched (its integrity), or NULL */
	char rule[96];               /* "registries.npm.lockfile_enforcement", ... */
	char detail[512];            /* one line: e.g. "left-pad 1.3.0 is not in package-lock.json" */
} cr_front_decision;

/* The enabled registry block for manager, or NULL. */
const cr_registry *cr_front_registry(const cr_gateway *gw, const char *manager);
/* The upstream host for manager: the first exact (non-wildcard) host of its
 * allowed_hosts, or NULL when none. */
const char *cr_front_upstream_host(const cr_gateway *gw, const char *manager);
/* Steps 1-2: may this manager's requests go to host at all? */
void cr_front_decide_host(const cr_gateway *gw, const char *manager, const char *host, cr_front_decision *d);
/* Steps 1-4 for an artifact (name as the manager spells it: npm "@scope/pkg",
 * pip PEP 503-normalised). */
void cr_front_decide_artifact(const cr_gateway *gw, const char *manager, const char *host, const char *name,
			      const char *version, cr_front_decision *d);
/* Versions of name the allowlist declares (for filtering metadata when
 * lockfile enforcement is deny_unknown); NULL-terminated array owned by the
 * policy's allowlist index, NULL when the package is not listed or the
 * lockfile does not restrict this manager. */
const char *const *cr_front_allowed_versions(const cr_gateway *gw, const char *manager, const char *name);

/* Records a decision (and anything else a front wants the trail to have). */
typedef struct cr_front_event {
	const char *action; /* "allow", "deny", "warn", "error" */
	cr_reason reason;
	const char *rule;    /* the policy rule, verbatim ("registries.npm.allowed_hosts") */
	const char *package; /* may be NULL */
	const char *version; /* may be NULL */
	const char *host;    /* upstream host, may be NULL */
	const char *detail;  /* one line, may be NULL; never credentials */
	const char *cache;   /* "hit", "miss", "revalidated", "stale", or NULL */
} cr_front_event;
void cr_front_audit(const cr_front_call *c, const cr_front_event *ev);
/* Shorthand: audits d and, for DENY, refuses with 403 (ending the call).
 * Returns true when the request may go on (ALLOW or WARN). */
bool cr_front_apply(cr_front_call *c, const cr_front_decision *d, const char *package, const char *version,
		    const char *host);

/* ---- git credentials (credentials.c): resolved by the server, given to
 * the gateway on a pipe, held only in its memory ---- */
typedef struct cr_front_cred {
	const char *host;   /* lower case */
	const char *prefix; /* repository path prefix ("org/", "" = any) */
	const char *username, *password;
} cr_front_cred;
/* The most specific credential for host and repository path ("org/repo.git"),
 * or NULL. */
const cr_front_cred *cr_front_git_cred(const cr_gateway *gw, const char *host, const char *repo);
