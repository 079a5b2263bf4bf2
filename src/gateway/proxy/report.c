/* SPDX-License-Identifier: Apache-2.0 */
/* report.c -- the proxies' audit events (cr_gw_audit): one egress_decision
 * per decision, one gateway_error per failure after an allow. Allows of the
 * same host:port within PX_DEDUP_MS are reported once, so that a client
 * opening hundreds of connections to one allowed host does not flood the
 * trail (the key is protocol, host and port); denies are never held back. */
#include <stdio.h>
#include <string.h>

#include "gateway/proxy/proxy.h"
#include "util/clock.h"

static const char *or_null(const char *s)
{
	return s && s[0] ? s : NULL;
}

/* True when an allow for key was reported within PX_DEDUP_MS; otherwise
 * records it (replacing the oldest slot) and returns false. */
static bool seen_recently(px_state *px, const char *key, int64_t now)
{
	px_dedup *victim = NULL; /* an empty slot, else the oldest */
	for (size_t i = 0; i < PX_DEDUP_SLOTS; i++) {
		px_dedup *d = &px->dedup[i];
		if (d->key[0] && strcmp(d->key, key) == 0) {
			if (now - d->at_ms < PX_DEDUP_MS)
				return true;
			d->at_ms = now;
			return false;
		}
		if (!victim || (victim->key[0] && (!d->key[0] || d->at_ms < victim->at_ms)))
			victim = d;
	}
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->at_ms = now;
	return false;
}

void px_audit_verdict(px_state *px, const char *protocol, const cr_gw_verdict *v)
{
	if (v->action == CR_ACTION_ALLOW) {
		char key[sizeof(px->dedup[0].key)];
		snprintf(key, sizeof(key), "%s %s:%u", protocol, v->host, v->port);
		if (seen_recently(px, key, cr_monotonic_ms()))
			return;
	}
	cr_gw_event ev = {
		.kind = "egress_decision",
		.action = cr_action_name(v->action),
		.protocol = protocol,
		.host = or_null(v->host),
		.port = v->port,
		.ip = or_null(v->ip),
		.rule = v->rule,
		.reason = v->action == CR_ACTION_ALLOW ? CR_REASON_NONE : v->reason,
		.detail = or_null(v->detail),
	};
	cr_gw_audit(px->gw, &ev);
}

void px_audit_error(px_state *px, const char *protocol, const char *host, uint16_t port, const char *ip,
		    const char *detail)
{
	cr_gw_event ev = {
		.kind = "gateway_error",
		.protocol = protocol,
		.host = or_null(host),
		.port = port,
		.ip = or_null(ip),
		.detail = or_null(detail),
	};
	cr_gw_audit(px->gw, &ev);
}
