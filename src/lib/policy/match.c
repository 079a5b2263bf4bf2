/* SPDX-License-Identifier: Apache-2.0 */
/* match.c -- destination decisions with the precedence of spec §5.2.1:
 *   1. explicit deny, exact name or IP;
 *      built-in guard: cloud metadata endpoints (169.254.169.254,
 *      169.254.170.2, fd00:ec2::254, metadata.google.internal) are denied
 *      unless an allow rule names that exact IP or name;
 *   2. explicit allow, exact name or IP;
 *   3. explicit deny, wildcard or CIDR (not in the spec's list: we place it
 *      here so a deny can carve a subtree out of a broader wildcard allow);
 *   4. explicit allow, wildcard or CIDR;
 *   5. sandbox.network.default for names; deny for IP literals.
 * A rule matches when its host covers the destination and its port list
 * holds the port (a deny without ports covers every port). Within one step
 * the most specific rule (longest wildcard suffix, longest prefix) decides. */
#include "policy/match.h"

#include <arpa/inet.h>
#include <string.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static bool port_in(const cr_net_rule *r, uint16_t port)
{
	if (r->n_ports == 0)
		return true;
	for (size_t i = 0; i < r->n_ports; i++)
		if (r->ports[i] == port)
			return true;
	return false;
}

static size_t specificity(const cr_host_pattern *h)
{
	return h->kind == CR_HOST_CIDR ? h->prefix : strlen(h->text);
}

/* Finds the most specific rule of `rules` of the wanted exactness whose host
 * covers dest and whose ports include port; records a port-only miss. */
static const cr_net_rule *find(const cr_net_rule *rules, size_t n, bool exact, const cr_decision *d,
			       const cr_net_rule **port_miss)
{
	const cr_net_rule *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const cr_net_rule *r = &rules[i];
		if (cr_host_is_exact(&r->host) != exact || !cr_host_matches(&r->host, &d->dest))
			continue;
		if (!port_in(r, d->port)) {
			if (port_miss && !*port_miss)
				*port_miss = r;
			continue;
		}
		if (!best || specificity(&r->host) > specificity(&best->host))
			best = r;
	}
	return best;
}

bool cr_registry_allows_host(const cr_registry *r, const char *host)
{
	cr_host_pattern dest = {0};
	char *why = NULL;
	if (!host || cr_host_dest_parse(host, &dest, &why) < 0) {
		free(why);
		return false;
	}
	bool ok = false;
	for (size_t i = 0; i < r->n_allowed_hosts && !ok; i++)
		ok = cr_host_matches(&r->allowed_hosts[i], &dest);
	cr_host_pattern_clear(&dest);
	return ok;
}

const cr_net_rule *cr_policy_git_push_rule(const cr_policy *p, const char *host)
{
	for (size_t i = 0; host && i < p->network.n_allow; i++) {
		const cr_net_rule *r = &p->network.allow[i];
		if (r->git_push && r->host.kind == CR_HOST_NAME && strcmp(r->host.text, host) == 0)
			return r;
	}
	return NULL;
}

bool cr_host_is_metadata(const cr_host_pattern *dest)
{
	static const char *const addrs[] = {"169.254.169.254", "169.254.170.2", "fd00:ec2::254", NULL};
	if (dest->kind == CR_HOST_NAME)
		return strcmp(dest->text, "metadata.google.internal") == 0;
	for (size_t i = 0; addrs[i]; i++)
		if (strcmp(dest->text, addrs[i]) == 0)
			return true;
	return false;
}

static void decide(cr_decision *d, cr_action a, cr_match_step s, const cr_net_rule *r)
{
	d->action = a;
	d->step = s;
	d->rule = r;
	d->reason = a == CR_ACTION_ALLOW ? CR_REASON_NONE : CR_REASON_HOST_NOT_ALLOWED;
}

int cr_policy_decide(const cr_policy *p, const char *host, uint16_t port, cr_decision *out, cr_error **err)
{
	*out = (cr_decision){.port = port};
	cleanup_free char *why = NULL;
	if (cr_host_dest_parse(host, &out->dest, &why) < 0)
		return cr_error_make(err, 0, CR_REASON_POLICY_INVALID, "%s", why);
	const cr_net_rule *r, **miss = &out->port_miss;
	const cr_net_rule *exact_allow = find(p->network.allow, p->network.n_allow, true, out, miss);
	if ((r = find(p->network.deny, p->network.n_deny, true, out, NULL)))
		return decide(out, CR_ACTION_DENY, CR_STEP_DENY_EXACT, r), 0;
	if (cr_host_is_metadata(&out->dest) && !exact_allow)
		return decide(out, CR_ACTION_DENY, CR_STEP_METADATA_GUARD, NULL), 0;
	if (exact_allow)
		return decide(out, CR_ACTION_ALLOW, CR_STEP_ALLOW_EXACT, exact_allow), 0;
	if ((r = find(p->network.deny, p->network.n_deny, false, out, NULL)))
		return decide(out, CR_ACTION_DENY, CR_STEP_DENY_WILDCARD, r), 0;
	if ((r = find(p->network.allow, p->network.n_allow, false, out, miss)))
		return decide(out, CR_ACTION_ALLOW, CR_STEP_ALLOW_WILDCARD, r), 0;
	if (out->dest.kind == CR_HOST_IP)
		return decide(out, CR_ACTION_DENY, CR_STEP_IP_NO_RULE, NULL), 0;
	decide(out, p->network.default_action, CR_STEP_DEFAULT, NULL);
	return 0;
}

void cr_decision_clear(cr_decision *d)
{
	cr_host_pattern_clear(&d->dest);
}

static const char *const step_names[] = {
	"metadata_guard", "deny_exact", "allow_exact", "deny_wildcard",
	"allow_wildcard", "default",    "ip_no_rule",
};

const char *cr_match_step_name(cr_match_step s)
{
	return (unsigned)s < sizeof(step_names) / sizeof(step_names[0]) ? step_names[s] : "default";
}

static void describe_rule(cr_buf *b, const cr_net_rule *r)
{
	cr_buf_printf(b, "%s (%s", r->origin, r->host.text);
	if (r->n_ports == 0)
		cr_buf_puts(b, ", every port");
	for (size_t i = 0; i < r->n_ports; i++)
		cr_buf_printf(b, "%s%u", i ? "," : r->n_ports > 1 ? ", ports " : ", port ", r->ports[i]);
	if (r->git_push)
		cr_buf_puts(b, ", git push allowed");
	if (r->line)
		cr_buf_printf(b, ", line %u", r->line);
	cr_buf_putc(b, ')');
}

char *cr_decision_explain(const cr_decision *d)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 1 << 16);
	switch (d->step) {
	case CR_STEP_METADATA_GUARD:
		cr_buf_puts(&b,
			    "denied: cloud metadata endpoint; only an allow rule naming it exactly opens it");
		break;
	case CR_STEP_DENY_EXACT:
	case CR_STEP_DENY_WILDCARD:
	case CR_STEP_ALLOW_EXACT:
	case CR_STEP_ALLOW_WILDCARD:
		cr_buf_printf(&b, "%s by ", d->action == CR_ACTION_ALLOW ? "allowed" : "denied");
		describe_rule(&b, d->rule);
		break;
	case CR_STEP_DEFAULT:
		cr_buf_printf(&b, "%s by sandbox.network.default: no rule matches",
			      d->action == CR_ACTION_ALLOW ? "allowed" : "denied");
		break;
	case CR_STEP_IP_NO_RULE:
		cr_buf_puts(&b, "denied: an IP address is matched only by IP/CIDR rules, and none matches");
		break;
	}
	if (d->action == CR_ACTION_DENY && d->port_miss) {
		cr_buf_printf(&b, "; port %u is not in ", d->port);
		describe_rule(&b, d->port_miss);
	}
	return cr_buf_steal(&b, NULL);
}
