/* SPDX-License-Identifier: Apache-2.0 */
/* compiled.c -- reading a CompiledPolicy back (spec §5.5, §6.1.1).
 *
 * The server and the gateway trust nothing a client sends: every field is
 * re-validated with the checks the YAML reader uses (hosts must already be
 * in canonical form, ports in range, paths relative, ...), the model is
 * normalised, re-encoded, and its hash must equal the policy_hash claimed. */
#include <stdlib.h>
#include <string.h>

#include "policy/compiled.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static bool read_host(struct cr_jread *r, const char *text, unsigned flags, cr_host_pattern *out)
{
	cleanup_free char *why = NULL, *hint = NULL;
	if (cr_host_pattern_parse(text, flags, out, &why, &hint) < 0) {
		cr_jread_error(r, "%s", why);
		return false;
	}
	if (strcmp(out->text, text) != 0) {
		cr_jread_error(r, "host '%s' is not in canonical form ('%s')", text, out->text);
		cr_host_pattern_clear(out);
		return false;
	}
	return true;
}

static bool read_ports(struct cr_jread *r, const json_t *rule, cr_net_rule *out, bool is_allow)
{
	const json_t *a = cr_jread_array(r, rule, "ports");
	if (!a)
		return false;
	out->ports = cr_xcalloc(json_array_size(a) + 1, sizeof(*out->ports));
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_int_t v = json_integer_value(json_array_get(a, i));
		if (!json_is_integer(json_array_get(a, i)) || v < 1 || v > 65535 ||
		    (i && v <= out->ports[i - 1])) {
			cr_jread_error(r, "ports[%zu] must be a port (1-65535) in ascending order", i);
			return false;
		}
		out->ports[out->n_ports++] = (uint16_t)v;
	}
	if (is_allow && out->n_ports == 0) {
		cr_jread_error(r, "an allow rule needs at least one port");
		return false;
	}
	return true;
}

/* git_push is present only when true (compile.c); the rule it is on must
 * pass the YAML reader's check. */
static bool read_git_push(struct cr_jread *r, const json_t *j, cr_net_rule *out)
{
	const json_t *v = json_object_get(j, "git_push");
	if (!v)
		return true;
	cleanup_free char *hint = NULL, *why = NULL;
	out->git_push = json_is_true(v);
	if (!out->git_push)
		why = cr_xstrdup("git_push is written only as true (omit it otherwise)");
	else
		why = cr_policy_check_git_push(out, &hint);
	if (!why)
		return true;
	size_t mark = cr_jread_push(r, "git_push");
	cr_jread_error(r, "%s", why);
	cr_jread_pop(r, mark);
	return false;
}

static bool read_rule(struct cr_jread *r, const json_t *j, cr_net_rule *out, bool is_allow)
{
	static const char *const allow_keys[] = {"host", "kind", "ports", "reason", "protocol", NULL};
	static const char *const push_keys[] = {"host",     "kind",     "ports", "reason",
						"protocol", "git_push", NULL};
	static const char *const deny_keys[] = {"host", "kind", "ports", "reason", NULL};
	bool push = is_allow && json_object_get(j, "git_push");
	if (!cr_jread_object(r, j, !is_allow ? deny_keys : push ? push_keys : allow_keys))
		return false;
	const char *host = cr_jread_string(r, j, "host"), *kind = cr_jread_string(r, j, "kind");
	const char *reason = cr_jread_string(r, j, "reason");
	if (!host || !kind || !reason)
		return false;
	if (is_allow && !(cr_jread_string(r, j, "protocol") &&
			  strcmp(json_string_value(json_object_get(j, "protocol")), "tcp") == 0)) {
		cr_jread_error(r, "protocol must be \"tcp\"");
		return false;
	}
	out->reason = cr_xstrdup(reason);
	out->origin = cr_xstrdup(r->path.text);
	unsigned flags = CR_HOST_ALLOW_WILDCARD | CR_HOST_ALLOW_IP | CR_HOST_ALLOW_CIDR;
	if (!read_host(r, host, flags, &out->host))
		return false;
	if (cr_host_kind_from_name(kind) != (int)out->host.kind) {
		cr_jread_error(r, "kind '%s' does not fit host '%s' (%s)", kind, host,
			       cr_host_kind_name(out->host.kind));
		return false;
	}
	return read_ports(r, j, out, is_allow) && (!is_allow || read_git_push(r, j, out));
}

static bool read_rules(struct cr_jread *r, const json_t *net, const char *key, cr_net_rule **out, size_t *n,
		       bool is_allow)
{
	const json_t *a = cr_jread_array(r, net, key);
	if (!a)
		return false;
	bool ok = true;
	*out = cr_xcalloc(json_array_size(a) + 1, sizeof(**out));
	size_t mark = cr_jread_push(r, key);
	for (size_t i = 0; i < json_array_size(a); i++) {
		size_t m2 = cr_jread_push_index(r, i);
		ok = read_rule(r, json_array_get(a, i), &(*out)[(*n)++], is_allow) && ok;
		cr_jread_pop(r, m2);
	}
	cr_jread_pop(r, mark);
	return ok;
}

static bool read_network(struct cr_jread *r, const json_t *j, cr_policy *p)
{
	static const char *const keys[] = {"default_action", "allow_rules", "deny_rules", NULL};
	size_t mark = cr_jread_push(r, "network");
	bool ok = cr_jread_object(r, j, keys);
	const char *def = ok ? cr_jread_string(r, j, "default_action") : NULL;
	if (ok && (!def || strcmp(def, "deny") != 0)) {
		cr_jread_error(r, "default_action must be \"deny\" in version 1");
		ok = false;
	}
	ok = ok && read_rules(r, j, "allow_rules", &p->network.allow, &p->network.n_allow, true);
	ok = ok && read_rules(r, j, "deny_rules", &p->network.deny, &p->network.n_deny, false);
	cr_jread_pop(r, mark);
	return ok;
}

static bool read_source(struct cr_jread *r, const json_t *j, cr_policy *p)
{
	static const char *const keys[] = {"repository", "commit_sha", "policy_path", NULL};
	size_t mark = cr_jread_push(r, "source");
	const char *repo = NULL, *sha = NULL, *path = NULL;
	if (cr_jread_object(r, j, keys)) {
		repo = cr_jread_string(r, j, "repository");
		sha = cr_jread_string(r, j, "commit_sha");
		path = cr_jread_string(r, j, "policy_path");
	}
	cr_jread_pop(r, mark);
	if (!repo || !sha || !path)
		return false;
	free(p->source.repository);
	free(p->source.commit_sha);
	free(p->source.policy_path);
	p->source.repository = cr_xstrdup(repo);
	p->source.commit_sha = cr_xstrdup(sha);
	p->source.policy_path = cr_xstrdup(path);
	return true;
}

static bool read_root(struct cr_jread *r, const json_t *j, cr_policy *p, const char **hash)
{
	static const char *const keys[] = {"version", "policy_hash", "source",  "project",  "sandbox",
					   "network", "registries",  "secrets", "metadata", NULL};
	static const char *const project_keys[] = {"name", NULL};
	long long version = 0;
	if (!cr_jread_object(r, j, keys) || !cr_jread_int(r, j, "version", 1, 1, &version))
		return false;
	*hash = cr_jread_string(r, j, "policy_hash");
	const json_t *project = json_object_get(j, "project");
	size_t mark = cr_jread_push(r, "project");
	const char *name =
		cr_jread_object(r, project, project_keys) ? cr_jread_string(r, project, "name") : NULL;
	cr_jread_pop(r, mark);
	if (!*hash || !name || !json_is_object(json_object_get(j, "metadata")))
		return false;
	free(p->project_name);
	p->project_name = cr_xstrdup(name);
	json_decref(p->metadata);
	p->metadata = json_deep_copy(json_object_get(j, "metadata"));
	bool ok = read_source(r, json_object_get(j, "source"), p);
	ok = cr_compiled_read_sandbox(r, json_object_get(j, "sandbox"), p) && ok;
	ok = read_network(r, json_object_get(j, "network"), p) && ok;
	ok = cr_compiled_read_registries(r, json_object_get(j, "registries"), p) && ok;
	return cr_compiled_read_secrets(r, json_object_get(j, "secrets"), p) && ok;
}

static int verify_hash(cr_policy *p, const char *claimed, cr_diags *diags)
{
	cleanup_error cr_error *err = NULL;
	cleanup_free char *text = cr_policy_compile(p, NULL, &err);
	if (!text) {
		cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID, (cr_diag_loc){0}, NULL, "%s",
			     err->msg);
		return -1;
	}
	if (strcmp(p->policy_hash, claimed) != 0) {
		cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID,
			     (cr_diag_loc){NULL, 0, 0, "policy_hash"},
			     "recompile the policy with 'cleanroom policy compile'",
			     "policy_hash mismatch: the payload hashes to %s, not %s", p->policy_hash,
			     claimed);
		return -1;
	}
	return 0;
}

int cr_policy_from_compiled(const char *text, size_t len, cr_policy **out, cr_diags *diags)
{
	json_error_t jerr;
	if (len > CR_COMPILED_POLICY_MAX_BYTES) {
		cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID, (cr_diag_loc){0}, NULL,
			     "compiled policy is larger than %u bytes", CR_COMPILED_POLICY_MAX_BYTES);
		return -1;
	}
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID,
			     (cr_diag_loc){NULL, (unsigned)jerr.line, (unsigned)jerr.column, NULL}, NULL,
			     "compiled policy is not valid JSON: %s", jerr.text);
		return -1;
	}
	cleanup_policy cr_policy *p = cr_policy_new();
	struct cr_jread r = {.diags = diags};
	const char *claimed = NULL;
	size_t errors = diags->n_errors;
	bool ok = read_root(&r, j, p, &claimed) && diags->n_errors == errors;
	cleanup_free char *hash = claimed ? cr_xstrdup(claimed) : NULL;
	json_decref(j);
	if (!ok || cr_policy_normalize(p, NULL, diags) < 0 || verify_hash(p, hash, diags) < 0)
		return -1;
	*out = steal_pointer(&p);
	return 0;
}
