/* SPDX-License-Identifier: Apache-2.0 */
/* policy_explain.c -- `cleanroom policy explain HOST[:PORT]`: which rule
 * decides a destination and why. Exit 0 allowed, 1 denied, 2 usage or policy
 * error, so that scripts can use it like grep. Accepts host:port, [v6]:port,
 * bare IPv6 and http(s):// URLs; the port defaults to 443. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/policy_opts.h"
#include "policy/match.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define USAGE "cleanroom policy explain [-c PATH | --compiled FILE] [-C DIR] [-p PORT] [--json] HOST[:PORT]"
#define CMD   "cleanroom policy explain"

struct explain_ctx {
	const char *compiled;
	long port; /* -1 when not given */
};

static int parse_port(const char *s, long *out)
{
	char *end;
	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 5)
		return -1;
	*out = strtol(s, &end, 10);
	return *out >= 1 && *out <= 65535 ? 0 : -1;
}

static int on_opt(void *vctx, int val, const char *arg)
{
	struct explain_ctx *c = vctx;
	if (val == 'p' && parse_port(arg, &c->port) < 0)
		return cr_cli_usage_error(CMD, "'%s' is not a port (1-65535)", arg), -1;
	if (val == 256)
		c->compiled = arg;
	return 0;
}

/* Splits a destination into host and port; returns the owned host or NULL. */
static char *split_dest(const char *in, long *port)
{
	const char *s = in, *scheme = strstr(in, "://");
	long def = 443;
	if (scheme) {
		size_t sl = (size_t)(scheme - in);
		if (sl == 4 && strncasecmp(in, "http", 4) == 0)
			def = 80;
		else if (!(sl == 5 && strncasecmp(in, "https", 5) == 0))
			return NULL;
		s = scheme + 3;
		const char *at = memchr(s, '@', strcspn(s, "/?#"));
		s = at ? at + 1 : s;
	}
	cleanup_free char *auth = cr_xstrndup(s, strcspn(s, "/?#"));
	char *host = auth, *colon = NULL;
	if (auth[0] == '[') {
		char *close = strchr(auth, ']');
		if (!close || (close[1] && close[1] != ':'))
			return NULL;
		colon = close[1] == ':' ? close + 1 : NULL;
		*close = '\0';
		host = auth + 1;
	} else if ((colon = strchr(auth, ':')) && strchr(colon + 1, ':')) {
		colon = NULL; /* a bare IPv6 address */
	}
	if (colon && *port >= 0)
		return NULL; /* the port was given twice */
	if (colon) {
		*colon = '\0';
		if (parse_port(colon + 1, port) < 0)
			return NULL;
	} else if (*port < 0) {
		*port = def;
	}
	return cr_xstrdup(host);
}

static int load_compiled(const char *path, cr_policy_result *res, cr_diags *d)
{
	*res = (cr_policy_result){.policy_file = cr_xstrdup(path)};
	cleanup_error cr_error *err = NULL;
	cleanup_free char *text = NULL;
	size_t len = 0;
	if (cr_read_file(path, CR_COMPILED_POLICY_MAX_BYTES, &text, &len, &err) < 0) {
		cr_diags_add(d, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID, (cr_diag_loc){0}, NULL, "%s",
			     err->msg);
		return -1;
	}
	size_t first = d->n;
	int rc = cr_policy_from_compiled(text, len, &res->policy, d);
	for (size_t i = first; i < d->n; i++)
		if (!d->items[i].file)
			d->items[i].file = cr_xstrdup(path);
	return rc;
}

static json_t *rule_json(const cr_net_rule *r)
{
	if (!r)
		return json_null();
	json_t *ports = json_array();
	for (size_t i = 0; i < r->n_ports; i++)
		json_array_append_new(ports, json_integer(r->ports[i]));
	json_t *o = json_pack("{s:s, s:s, s:s, s:o, s:s}", "origin", r->origin, "host", r->host.text, "kind",
			      cr_host_kind_name(r->host.kind), "ports", ports, "reason", r->reason);
	if (r->line)
		json_object_set_new(o, "line", json_integer(r->line));
	return o;
}

static void print_json(const char *input, const cr_decision *dec, const cr_policy *p, const char *why)
{
	/* reason_code is null for an allowed destination */
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s?, s:s, s:o, s:s, s:s}", "input", input,
			      "destination", dec->dest.text, "kind", cr_host_kind_name(dec->dest.kind),
			      "port", dec->port, "decision", cr_action_name(dec->action), "reason_code",
			      dec->reason ? cr_reason_name(dec->reason) : NULL, "step",
			      cr_match_step_name(dec->step), "rule", rule_json(dec->rule), "explanation", why,
			      "policy_hash", p->policy_hash);
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(o);
}

static void print_human(const cr_decision *dec, const char *why)
{
	bool allowed = dec->action == CR_ACTION_ALLOW;
	const char *host = dec->dest.text;
	bool v6 = strchr(host, ':') != NULL;
	printf("%s %s%s%s:%u%s%s%s\n  %s\n", allowed ? "ALLOW" : "DENY ", v6 ? "[" : "", host, v6 ? "]" : "",
	       dec->port, allowed ? "" : "  [", allowed ? "" : cr_reason_name(dec->reason),
	       allowed ? "" : "]", why);
}

static int decide_and_print(const char *input, long port, const cr_policy *p, bool json)
{
	cleanup_free char *host = split_dest(input, &port);
	if (!host)
		return cr_cli_usage_error(
			CMD, "'%s' is not HOST[:PORT] or an http(s) URL (give the port only once)", input);
	cr_decision dec;
	cleanup_error cr_error *err = NULL;
	if (cr_policy_decide(p, host, (uint16_t)port, &dec, &err) < 0)
		return cr_cli_usage_error(CMD, "%s", err->msg);
	cleanup_free char *why = cr_decision_explain(&dec);
	if (json)
		print_json(input, &dec, p, why);
	else
		print_human(&dec, why);
	int rc = dec.action == CR_ACTION_ALLOW ? CR_EXIT_OK : CR_EXIT_FAIL;
	cr_decision_clear(&dec);
	return rc;
}

int cmd_policy_explain(int argc, char **argv)
{
	struct explain_ctx ctx = {.port = -1};
	static const struct cr_extra_opt extra[] = {
		{"port", 1, 'p', on_opt}, {"compiled", 1, 256, on_opt}, {0}};
	cr_policy_opts o = {0};
	int first = cr_policy_parse_opts(argc, argv, USAGE, &o, extra, &ctx);
	if (first < 0)
		return first == -2 ? CR_EXIT_OK : CR_EXIT_USAGE;
	if (first != argc - 1)
		return cr_cli_usage_error(CMD,
					  first >= argc ? "missing HOST[:PORT]" : "give one destination");
	if (ctx.compiled && o.config)
		return cr_cli_usage_error(CMD, "-c and --compiled are alternatives");
	cr_diags d = {0};
	cr_policy_result res;
	int loaded =
		ctx.compiled ? load_compiled(ctx.compiled, &res, &d) : cr_cli_load_policy(&o, true, &res, &d);
	cr_diags_print(&d, stderr);
	int rc = loaded == 0 ? decide_and_print(argv[first], ctx.port, res.policy, o.json) : CR_EXIT_USAGE;
	cr_diags_clear(&d);
	cr_policy_result_clear(&res);
	return rc;
}
