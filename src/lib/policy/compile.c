/* SPDX-License-Identifier: Apache-2.0 */
/* compile.c -- the CompiledPolicy payload (spec §5.5) and its policy_hash.
 *
 * The payload is the JSON object built here, encoded canonically
 * (canonjson.h); policy_hash is the SHA-256 of that encoding with the
 * policy_hash member set to "". docs/policy.md specifies both byte-exactly. */
#include <stdlib.h>
#include <string.h>

#include "policy/policy.h"
#include "util/canonjson.h"
#include "util/cleanup.h"

static json_t *strings_json(char *const *s, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(s[i]));
	return a;
}

static json_t *hosts_json(const cr_host_pattern *h, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(h[i].text));
	return a;
}

static json_t *rule_json(const cr_net_rule *r, bool is_allow)
{
	json_t *ports = json_array();
	for (size_t i = 0; i < r->n_ports; i++)
		json_array_append_new(ports, json_integer(r->ports[i]));
	json_t *o = json_pack("{s:s, s:s, s:o, s:s}", "host", r->host.text, "kind",
			      cr_host_kind_name(r->host.kind), "ports", ports, "reason", r->reason);
	if (is_allow)
		json_object_set_new(o, "protocol", json_string("tcp"));
	/* written only when true, so that every policy without it keeps its
	 * encoding and policy_hash */
	if (is_allow && r->git_push)
		json_object_set_new(o, "git_push", json_true());
	return o;
}

static json_t *rules_json(const cr_net_rule *r, size_t n, bool is_allow)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, rule_json(&r[i], is_allow));
	return a;
}

static json_t *lockfile_policy_json(const cr_registry *r)
{
	json_t *inputs = json_array();
	/* Lockfiles listed while enforcement is off are ignored (the schema
	 * reader warns): they were never read, so they have no format or digest
	 * and the compiled-policy reader would reject them. */
	for (size_t i = 0; r->lock_enabled && i < r->n_lockfiles; i++)
		json_array_append_new(inputs,
				      json_pack("{s:s, s:s, s:s}", "path", r->lockfiles[i].path, "format",
						r->lockfiles[i].format, "sha256", r->lockfiles[i].sha256));
	return json_pack("{s:b, s:s, s:o}", "enabled", r->lock_enabled, "mode",
			 cr_lock_mode_name(r->lock_mode), "inputs", inputs);
}

static json_t *registry_json(const cr_registry *r)
{
	json_t *arts = json_array();
	for (size_t i = 0; i < r->artifacts.n; i++)
		json_array_append_new(arts, cr_artifact_to_json(&r->artifacts.items[i]));
	return json_pack("{s:b, s:o, s:s, s:s, s:o, s:o}", "enabled", r->enabled, "allowed_hosts",
			 hosts_json(r->allowed_hosts, r->n_allowed_hosts), "cache_ref", r->cache_ref,
			 "fallback", cr_action_name(r->fallback), "lockfile_policy", lockfile_policy_json(r),
			 "artifact_allowlist", arts);
}

static json_t *secrets_json(const cr_policy *p)
{
	json_t *a = json_array();
	for (size_t i = 0; i < p->n_secrets; i++) {
		const cr_secret_binding *s = &p->secrets[i];
		json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:I, s:b}", "secret_id", s->secret_id,
						   "target", s->target, "allowed_hosts",
						   hosts_json(s->allowed_hosts, s->n_allowed_hosts),
						   "ttl_seconds", (json_int_t)s->ttl_seconds, "single_use",
						   s->single_use));
	}
	return a;
}

static json_t *sandbox_json(const cr_policy *p)
{
	json_t *mise = json_pack("{s:b, s:b, s:o}", "enabled", p->mise.enabled, "auto_bootstrap",
				 p->mise.auto_bootstrap, "config_files",
				 strings_json(p->mise.config_files, p->mise.n_config_files));
	json_t *res =
		json_pack("{s:I, s:I, s:I, s:I}", "millicpus", (json_int_t)p->resources.millicpus,
			  "memory_bytes", (json_int_t)p->resources.memory_bytes, "pids",
			  (json_int_t)p->resources.pids, "disk_bytes", (json_int_t)p->resources.disk_bytes);
	return json_pack("{s:I, s:o, s:{s:s}, s:o}", "ttl_minutes", (json_int_t)p->ttl_minutes, "mise", mise,
			 "image", "ref", p->image_ref, "resources", res);
}

json_t *cr_policy_to_json(const cr_policy *p)
{
	json_t *regs = json_object();
	for (size_t i = 0; i < p->n_registries; i++)
		json_object_set_new(regs, p->registries[i].manager, registry_json(&p->registries[i]));
	json_t *network =
		json_pack("{s:s, s:o, s:o}", "default_action", cr_action_name(p->network.default_action),
			  "allow_rules", rules_json(p->network.allow, p->network.n_allow, true), "deny_rules",
			  rules_json(p->network.deny, p->network.n_deny, false));
	return json_pack("{s:i, s:s, s:{s:s, s:s, s:s}, s:{s:s}, s:o, s:o, s:o, s:o, s:O}", "version",
			 p->version, "policy_hash", p->policy_hash, "source", "repository",
			 p->source.repository, "commit_sha", p->source.commit_sha, "policy_path",
			 p->source.policy_path, "project", "name", p->project_name, "sandbox",
			 sandbox_json(p), "network", network, "registries", regs, "secrets", secrets_json(p),
			 "metadata", p->metadata);
}

static char *encode(const cr_policy *p, size_t *len, cr_error **err)
{
	json_t *j = cr_policy_to_json(p);
	if (!j) {
		cr_error_make(err, 0, CR_REASON_INTERNAL,
			      "build compiled policy: a field is not valid UTF-8");
		return NULL;
	}
	char *s = cr_json_canonical(j, len, err);
	json_decref(j);
	return s;
}

char *cr_policy_compile(cr_policy *p, size_t *len, cr_error **err)
{
	p->policy_hash[0] = '\0';
	size_t n = 0;
	cleanup_free char *unhashed = encode(p, &n, err);
	if (!unhashed)
		return NULL;
	cr_sha256_hex(unhashed, n, p->policy_hash);
	return encode(p, len, err);
}
