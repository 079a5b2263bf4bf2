/* SPDX-License-Identifier: Apache-2.0 */
/* match.h -- the one destination decision of spec §5.2.1.
 *
 * (policy, host-or-IP, port) -> allow|deny, the deciding rule, the step of
 * the precedence that decided and the reason code. Used by `policy explain`
 * and by every enforcement point, so that all of them agree. */
#pragma once

#include <stdint.h>

#include "policy/policy.h"

typedef enum cr_match_step {
	CR_STEP_METADATA_GUARD, /* built-in: cloud metadata endpoints are never reachable by name or range */
	CR_STEP_DENY_EXACT,     /* explicit deny, exact name or IP */
	CR_STEP_ALLOW_EXACT,    /* explicit allow, exact name or IP */
	CR_STEP_DENY_WILDCARD,  /* explicit deny, wildcard name or CIDR block */
	CR_STEP_ALLOW_WILDCARD, /* explicit allow, wildcard name or CIDR block */
	CR_STEP_DEFAULT,        /* sandbox.network.default (names) */
	CR_STEP_IP_NO_RULE,     /* an IP literal that no IP/CIDR rule matched: deny */
} cr_match_step;

typedef struct cr_decision {
	cr_action action;
	cr_reason reason; /* CR_REASON_NONE when allowed, else host_not_allowed */
	cr_match_step step;
	const cr_net_rule *rule;      /* the deciding rule; NULL for the guard and defaults */
	const cr_net_rule *port_miss; /* a rule whose host matched but whose ports did not, if any */
	cr_host_pattern dest;         /* the normalised destination (owned; cr_decision_clear) */
	uint16_t port;
} cr_decision;

/* Decides for `host` (a name or IP literal, any case, IDN or punycode,
 * optional trailing dot, IPv6 optionally bracketed) and `port`. Returns 0 with
 * *out filled, or -1 with *err (reason policy_invalid) when host is not a
 * valid destination. */
int cr_policy_decide(const cr_policy *p, const char *host, uint16_t port, cr_decision *out, cr_error **err);

void cr_decision_clear(cr_decision *d);

/* A stable name for a step ("deny_exact", ...). */
const char *cr_match_step_name(cr_match_step s);
/* One sentence explaining the decision, e.g. "allowed by sandbox.network.allow[0]
 * (api.github.com, ports 443)". Owned by the caller. */
char *cr_decision_explain(const cr_decision *d);

/* True when host (a name or IP, normalised like any destination) matches
 * one of registry r's allowed_hosts; false for a host that does not parse. */
bool cr_registry_allows_host(const cr_registry *r, const char *host);

/* The allow rule that permits git push to host (exactly its normalised name,
 * as the git front has it: lower case, no trailing dot), or NULL when no rule
 * does. Only exact-name rules carry git_push (cr_policy_check_git_push); the
 * host itself must still be allowed on 443 by cr_policy_decide. */
const cr_net_rule *cr_policy_git_push_rule(const cr_policy *p, const char *host);

/* True for the cloud metadata endpoints the built-in guard covers. */
bool cr_host_is_metadata(const cr_host_pattern *dest);
