/* SPDX-License-Identifier: Apache-2.0 */
/* schema_network.c -- reading sandbox.network: default, allow[], deny[]
 * (spec §5.1, §5.2). Rules are normalised here one by one; sorting, merging
 * and conflict checks happen in normalize.c. */
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

struct rule_ctx {
	cr_net_rule rule;
	bool host_ok, is_deny, has_ports;
	const cr_ynode *git_push_at; /* the git_push value, for messages */
};

static void read_host(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct rule_ctx *c = obj;
	const char *s;
	if (!cr_walk_string(w, v, &s))
		return;
	cleanup_free char *why = NULL, *hint = NULL;
	unsigned flags = CR_HOST_ALLOW_WILDCARD | CR_HOST_ALLOW_IP | CR_HOST_ALLOW_CIDR;
	if (cr_host_pattern_parse(s, flags, &c->rule.host, &why, &hint) < 0) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, hint, "%s", why);
		return;
	}
	c->host_ok = true;
}

static int cmp_port(const void *a, const void *b)
{
	return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

static void read_port(struct cr_walk *w, const cr_ynode *v, size_t i, void *obj)
{
	(void)i;
	cr_net_rule *r = obj;
	long long port;
	if (v->type == CR_Y_SCALAR && cr_yscalar_int(v, 1, 65535, &port) < 0) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL, "%s is not a port (1-65535)", v->value);
		return;
	}
	if (!cr_walk_int(w, v, 1, 65535, &port))
		return;
	r->ports = cr_xrealloc(r->ports, (r->n_ports + 1) * sizeof(*r->ports));
	r->ports[r->n_ports++] = (uint16_t)port;
}

static void read_ports(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct rule_ctx *c = obj;
	c->has_ports = true;
	if (v->type == CR_Y_SCALAR && !cr_yscalar_is_null(v)) {
		cleanup_free char *hint = cr_asprintf("write a list: ports: [%s]", v->value);
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, hint, "expected a list of ports");
		return;
	}
	if (!cr_walk_seq(w, v, read_port, &c->rule))
		return;
	if (c->rule.n_ports == 0 && (v->type != CR_Y_SEQ || v->n == 0))
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID,
			      c->is_deny ? "omit ports to deny every port"
					 : "omit ports to allow the defaults 80 and 443",
			      "ports is empty");
	if (c->rule.n_ports) /* ports is NULL when the list is empty */
		qsort(c->rule.ports, c->rule.n_ports, sizeof(*c->rule.ports), cmp_port);
	size_t out = 0;
	for (size_t i = 0; i < c->rule.n_ports; i++)
		if (out == 0 || c->rule.ports[out - 1] != c->rule.ports[i])
			c->rule.ports[out++] = c->rule.ports[i];
	c->rule.n_ports = out;
}

static void read_reason(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct rule_ctx *c = obj;
	const char *s;
	if (!cr_walk_string(w, v, &s))
		return;
	if (strlen(s) > 1024) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL, "reason is longer than 1024 characters");
		return;
	}
	free(c->rule.reason);
	c->rule.reason = cr_xstrdup(s);
}

static void read_git_push(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct rule_ctx *c = obj;
	if (cr_walk_bool(w, v, &c->rule.git_push))
		c->git_push_at = v;
}

/* git_push is an allow rule's key only: on a deny rule it is unknown. */
static const struct cr_walk_field allow_fields[] = {
	{"host", read_host, true},          {"ports", read_ports, false}, {"reason", read_reason, false},
	{"git_push", read_git_push, false}, {NULL, NULL, false},
};

static const struct cr_walk_field deny_fields[] = {
	{"host", read_host, true},
	{"ports", read_ports, false},
	{"reason", read_reason, false},
	{NULL, NULL, false},
};

static void push_rule(cr_net_rule **arr, size_t *n, cr_net_rule r)
{
	*arr = cr_xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[(*n)++] = r;
}

static void discard_rule(cr_net_rule *r)
{
	cr_host_pattern_clear(&r->host);
	free(r->ports);
	free(r->reason);
}

/* Once host and ports are known (the keys come in any order). */
static bool check_git_push(struct cr_walk *w, const struct rule_ctx *c)
{
	cleanup_free char *hint = NULL;
	cleanup_free char *why = cr_policy_check_git_push(&c->rule, &hint);
	if (!why)
		return true;
	size_t mark = cr_walk_push_key(w, "git_push");
	cr_walk_error(w, c->git_push_at, CR_REASON_POLICY_INVALID, hint, "%s", why);
	cr_walk_pop(w, mark);
	return false;
}

static void read_rule(struct cr_walk *w, const cr_ynode *v, cr_policy *p, bool is_deny)
{
	struct rule_ctx c = {.is_deny = is_deny};
	c.rule.reason = cr_xstrdup("");
	if (v->type == CR_Y_SCALAR && !cr_yscalar_is_null(v)) {
		cleanup_free char *hint = cr_asprintf("write '- host: %s'", v->value);
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, hint,
			      "expected a mapping with host, ports and reason");
		discard_rule(&c.rule);
		return;
	}
	size_t errors = w->diags->n_errors;
	if (!cr_walk_map(w, v, is_deny ? deny_fields : allow_fields, &c) || !c.host_ok ||
	    w->diags->n_errors != errors) {
		discard_rule(&c.rule);
		return;
	}
	if (!c.has_ports && !is_deny) {
		c.rule.ports = cr_xcalloc(2, sizeof(uint16_t));
		c.rule.ports[0] = 80;
		c.rule.ports[1] = 443;
		c.rule.n_ports = 2;
	}
	if (!check_git_push(w, &c)) {
		discard_rule(&c.rule);
		return;
	}
	c.rule.origin = cr_xstrdup(w->path.text);
	c.rule.line = v->line;
	c.rule.col = v->col;
	if (is_deny)
		push_rule(&p->network.deny, &p->network.n_deny, c.rule);
	else
		push_rule(&p->network.allow, &p->network.n_allow, c.rule);
}

static void read_allow_item(struct cr_walk *w, const cr_ynode *v, size_t i, void *obj)
{
	(void)i;
	read_rule(w, v, obj, false);
}

static void read_deny_item(struct cr_walk *w, const cr_ynode *v, size_t i, void *obj)
{
	(void)i;
	read_rule(w, v, obj, true);
}

static void read_default(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_policy *p = obj;
	static const char *const actions[] = {"deny", "allow", NULL};
	int a = cr_walk_enum(w, v, actions);
	if (a == 1)
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID,
			      "write default: deny and list what is needed under allow",
			      "version 1 policies must deny by default");
	p->network.default_action = CR_ACTION_DENY;
}

static void read_allow(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_seq(w, v, read_allow_item, obj);
}

static void read_deny(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_seq(w, v, read_deny_item, obj);
}

static const struct cr_walk_field network_fields[] = {
	{"default", read_default, true},
	{"allow", read_allow, false},
	{"deny", read_deny, false},
	{NULL, NULL, false},
};

void cr_schema_read_network(struct cr_walk *w, const cr_ynode *v, void *policy)
{
	cr_walk_map(w, v, network_fields, policy);
}

struct hosts_ctx {
	unsigned flags;
	cr_host_pattern *hosts;
	size_t n;
};

static void read_host_item(struct cr_walk *w, const cr_ynode *v, size_t i, void *obj)
{
	(void)i;
	struct hosts_ctx *c = obj;
	const char *s;
	if (!cr_walk_string(w, v, &s))
		return;
	cr_host_pattern h;
	cleanup_free char *why = NULL, *hint = NULL;
	if (cr_host_pattern_parse(s, c->flags, &h, &why, &hint) < 0) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, hint, "%s", why);
		return;
	}
	c->hosts = cr_xrealloc(c->hosts, (c->n + 1) * sizeof(*c->hosts));
	c->hosts[c->n++] = h;
}

void cr_schema_read_hosts(struct cr_walk *w, const cr_ynode *v, unsigned flags, cr_host_pattern **out,
			  size_t *n)
{
	struct hosts_ctx c = {.flags = flags, .hosts = *out, .n = *n};
	cr_walk_seq(w, v, read_host_item, &c);
	*out = c.hosts;
	*n = c.n;
}
