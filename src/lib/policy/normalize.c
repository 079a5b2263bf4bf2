/* SPDX-License-Identifier: Apache-2.0 */
/* normalize.c -- the deterministic form of a policy (spec §5.2.1): rules
 * sorted by host and merged per host, host lists sorted and de-duplicated,
 * bindings sorted (a merged allow rule permits git push when one of its
 * parts did), and contradictions between allow and deny reported as
 * policy_conflict. Equal policies therefore compile to equal bytes. */
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static int cmp_rule(const void *a, const void *b)
{
	const cr_net_rule *x = a, *y = b;
	int c = strcmp(x->host.text, y->host.text);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static void unite_ports(cr_net_rule *into, const cr_net_rule *from)
{
	if (into->n_ports == 0 || from->n_ports == 0) { /* every port */
		free(into->ports);
		into->ports = NULL;
		into->n_ports = 0;
		return;
	}
	uint16_t *m = cr_xmalloc((into->n_ports + from->n_ports) * sizeof(*m));
	size_t i = 0, j = 0, n = 0;
	while (i < into->n_ports || j < from->n_ports) {
		uint16_t v = j >= from->n_ports || (i < into->n_ports && into->ports[i] <= from->ports[j])
				     ? into->ports[i]
				     : from->ports[j];
		i += i < into->n_ports && into->ports[i] == v;
		j += j < from->n_ports && from->ports[j] == v;
		m[n++] = v;
	}
	free(into->ports);
	into->ports = m;
	into->n_ports = n;
}

static void unite_reason(cr_net_rule *into, const cr_net_rule *from)
{
	if (!*from->reason || strstr(into->reason, from->reason))
		return;
	char *r =
		*into->reason ? cr_asprintf("%s; %s", into->reason, from->reason) : cr_xstrdup(from->reason);
	free(into->reason);
	into->reason = r;
}

static void drop_rule(cr_net_rule *r)
{
	cr_host_pattern_clear(&r->host);
	free(r->ports);
	free(r->reason);
	free(r->origin);
}

static void merge_rules(cr_net_rule *rules, size_t *n)
{
	if (*n == 0)
		return;
	qsort(rules, *n, sizeof(*rules), cmp_rule);
	size_t out = 0;
	for (size_t i = 1; i < *n; i++) {
		if (strcmp(rules[out].host.text, rules[i].host.text) == 0) {
			unite_ports(&rules[out], &rules[i]);
			unite_reason(&rules[out], &rules[i]);
			rules[out].git_push |= rules[i].git_push;
			drop_rule(&rules[i]);
		} else {
			rules[++out] = rules[i];
		}
	}
	*n = out + 1;
}

static void report_conflict(const cr_net_rule *allow, const cr_net_rule *deny, const char *file,
			    cr_diags *diags)
{
	cleanup_buf cr_buf ports;
	cr_buf_init(&ports, 1 << 20);
	size_t count = 0;
	for (size_t i = 0; i < allow->n_ports; i++) {
		bool denied = deny->n_ports == 0;
		for (size_t j = 0; !denied && j < deny->n_ports; j++)
			denied = deny->ports[j] == allow->ports[i];
		if (denied)
			cr_buf_printf(&ports, "%s%u", count++ ? ", " : "", allow->ports[i]);
	}
	if (!count)
		return;
	cleanup_free char *hint = cr_asprintf("remove %s from one of the two lists (allowed at %s, line %u)",
					      allow->host.text, allow->origin, allow->line);
	cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_POLICY_CONFLICT,
		     (cr_diag_loc){file, deny->line, deny->col, deny->origin}, hint,
		     "%s port%s %s %s both allowed and denied", deny->host.text, count > 1 ? "s" : "",
		     ports.data, count > 1 ? "are" : "is");
}

static void check_conflicts(const cr_policy *p, const char *file, cr_diags *diags)
{
	for (size_t i = 0; i < p->network.n_deny; i++)
		for (size_t j = 0; j < p->network.n_allow; j++)
			if (strcmp(p->network.deny[i].host.text, p->network.allow[j].host.text) == 0)
				report_conflict(&p->network.allow[j], &p->network.deny[i], file, diags);
}

static int cmp_host(const void *a, const void *b)
{
	return strcmp(((const cr_host_pattern *)a)->text, ((const cr_host_pattern *)b)->text);
}

static void sort_hosts(cr_host_pattern *h, size_t *n)
{
	if (*n == 0)
		return;
	qsort(h, *n, sizeof(*h), cmp_host);
	size_t out = 0;
	for (size_t i = 1; i < *n; i++) {
		if (strcmp(h[out].text, h[i].text) == 0)
			cr_host_pattern_clear(&h[i]);
		else
			h[++out] = h[i];
	}
	*n = out + 1;
}

static int cmp_registry(const void *a, const void *b)
{
	return strcmp(((const cr_registry *)a)->manager, ((const cr_registry *)b)->manager);
}

static int cmp_secret(const void *a, const void *b)
{
	return strcmp(((const cr_secret_binding *)a)->secret_id, ((const cr_secret_binding *)b)->secret_id);
}

int cr_policy_normalize(cr_policy *p, const char *file, cr_diags *diags)
{
	size_t errors = diags->n_errors;
	merge_rules(p->network.allow, &p->network.n_allow);
	merge_rules(p->network.deny, &p->network.n_deny);
	check_conflicts(p, file, diags);
	if (p->n_registries)
		qsort(p->registries, p->n_registries, sizeof(*p->registries), cmp_registry);
	for (size_t i = 0; i < p->n_registries; i++) {
		sort_hosts(p->registries[i].allowed_hosts, &p->registries[i].n_allowed_hosts);
		cr_artifact_list_normalize(&p->registries[i].artifacts);
	}
	if (p->n_secrets)
		qsort(p->secrets, p->n_secrets, sizeof(*p->secrets), cmp_secret);
	for (size_t i = 0; i < p->n_secrets; i++)
		sort_hosts(p->secrets[i].allowed_hosts, &p->secrets[i].n_allowed_hosts);
	return diags->n_errors == errors ? 0 : -1;
}
