/* SPDX-License-Identifier: Apache-2.0 */
/* compiled_sections.c -- the sandbox, registries and secrets sections of a
 * CompiledPolicy, read back with the same checks as the YAML reader. */
#include <stdlib.h>
#include <string.h>

#include "policy/compiled.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static bool read_host_list(struct cr_jread *r, const json_t *obj, const char *key, cr_host_pattern **out,
			   size_t *n)
{
	const json_t *a = cr_jread_array(r, obj, key);
	if (!a)
		return false;
	*out = cr_xcalloc(json_array_size(a) + 1, sizeof(**out));
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		cleanup_free char *why = NULL, *hint = NULL;
		cr_host_pattern h;
		if (!s || cr_host_pattern_parse(s, CR_HOST_ALLOW_WILDCARD, &h, &why, &hint) < 0) {
			cr_jread_error(r, "%s[%zu]: %s", key, i, why ? why : "expected a string");
			return false;
		}
		bool canonical = strcmp(h.text, s) == 0;
		(*out)[(*n)++] = h;
		if (!canonical) {
			cr_jread_error(r, "%s[%zu]: host '%s' is not in canonical form", key, i, s);
			return false;
		}
	}
	return true;
}

static bool read_strings(struct cr_jread *r, const json_t *obj, const char *key, char ***out, size_t *n)
{
	const json_t *a = cr_jread_array(r, obj, key);
	if (!a)
		return false;
	*out = cr_xcalloc(json_array_size(a) + 1, sizeof(**out));
	for (size_t i = 0; i < json_array_size(a); i++) {
		const char *s = json_string_value(json_array_get(a, i));
		cleanup_free char *why = s ? cr_policy_check_relpath(s) : cr_xstrdup("expected a string");
		if (why) {
			cr_jread_error(r, "%s[%zu]: %s", key, i, why);
			return false;
		}
		(*out)[(*n)++] = cr_xstrdup(s);
	}
	return true;
}

static bool read_mise(struct cr_jread *r, const json_t *j, cr_policy *p)
{
	static const char *const keys[] = {"enabled", "auto_bootstrap", "config_files", NULL};
	size_t mark = cr_jread_push(r, "mise");
	bool ok = cr_jread_object(r, j, keys) && cr_jread_bool(r, j, "enabled", &p->mise.enabled) &&
		  cr_jread_bool(r, j, "auto_bootstrap", &p->mise.auto_bootstrap) &&
		  read_strings(r, j, "config_files", &p->mise.config_files, &p->mise.n_config_files);
	cr_jread_pop(r, mark);
	return ok;
}

static bool read_resources(struct cr_jread *r, const json_t *j, cr_resources *res)
{
	static const char *const keys[] = {"millicpus", "memory_bytes", "pids", "disk_bytes", NULL};
	size_t mark = cr_jread_push(r, "resources");
	bool ok = cr_jread_object(r, j, keys) &&
		  cr_jread_int(r, j, "millicpus", 0, 1024000, &res->millicpus) &&
		  cr_jread_int(r, j, "memory_bytes", 0, 1LL << 50, &res->memory_bytes) &&
		  cr_jread_int(r, j, "pids", 0, 4194304, &res->pids) &&
		  cr_jread_int(r, j, "disk_bytes", 0, 1LL << 50, &res->disk_bytes);
	cr_jread_pop(r, mark);
	return ok;
}

static bool read_image(struct cr_jread *r, const json_t *j, cr_policy *p)
{
	static const char *const keys[] = {"ref", NULL};
	size_t mark = cr_jread_push(r, "image");
	const char *ref = cr_jread_object(r, j, keys) ? cr_jread_string(r, j, "ref") : NULL;
	cleanup_free char *hint = NULL;
	cleanup_free char *why = ref && *ref ? cr_policy_check_image_ref(ref, &hint) : NULL;
	if (why)
		cr_jread_error(r, "%s", why);
	cr_jread_pop(r, mark);
	if (!ref || why)
		return false;
	free(p->image_ref);
	p->image_ref = cr_xstrdup(ref);
	return true;
}

bool cr_compiled_read_sandbox(struct cr_jread *r, const json_t *j, cr_policy *p)
{
	static const char *const keys[] = {"ttl_minutes", "mise", "image", "resources", NULL};
	size_t mark = cr_jread_push(r, "sandbox");
	bool ok = cr_jread_object(r, j, keys) &&
		  cr_jread_int(r, j, "ttl_minutes", 1, 10080, &p->ttl_minutes) &&
		  read_mise(r, json_object_get(j, "mise"), p) &&
		  read_image(r, json_object_get(j, "image"), p) &&
		  read_resources(r, json_object_get(j, "resources"), &p->resources);
	cr_jread_pop(r, mark);
	return ok;
}

static bool read_lock_input(struct cr_jread *r, const json_t *j, cr_registry *reg)
{
	static const char *const keys[] = {"path", "format", "sha256", NULL};
	if (!cr_jread_object(r, j, keys))
		return false;
	const char *path = cr_jread_string(r, j, "path"), *format = cr_jread_string(r, j, "format");
	const char *sha = cr_jread_string(r, j, "sha256");
	if (!path || !format || !sha)
		return false;
	cleanup_free char *why = cr_policy_check_relpath(path);
	const cr_lockfile_format *f = cr_lockfile_format_for(reg->manager, path);
	if (why || !f || strcmp(f->name, format) != 0 || !cr_is_sha256_hex(sha)) {
		cr_jread_error(r, "lockfile input '%s' is invalid (%s)", path,
			       why ? why : "format or sha256");
		return false;
	}
	cr_lockfile_input *in = &reg->lockfiles[reg->n_lockfiles++];
	*in = (cr_lockfile_input){.path = cr_xstrdup(path), .format = cr_xstrdup(format)};
	memcpy(in->sha256, sha, CR_SHA256_HEX_LEN + 1);
	return true;
}

static bool read_lock_policy(struct cr_jread *r, const json_t *j, cr_registry *reg)
{
	static const char *const keys[] = {"enabled", "mode", "inputs", NULL};
	size_t mark = cr_jread_push(r, "lockfile_policy");
	const char *mode = NULL;
	bool ok = cr_jread_object(r, j, keys) && cr_jread_bool(r, j, "enabled", &reg->lock_enabled) &&
		  (mode = cr_jread_string(r, j, "mode")) != NULL;
	if (ok && cr_lock_mode_from_name(mode, &reg->lock_mode) < 0) {
		cr_jread_error(r, "unknown mode '%s'", mode);
		ok = false;
	}
	const json_t *inputs = ok ? cr_jread_array(r, j, "inputs") : NULL;
	reg->lockfiles = cr_xcalloc(json_array_size(inputs) + 1, sizeof(*reg->lockfiles));
	for (size_t i = 0; inputs && i < json_array_size(inputs); i++) {
		size_t m2 = cr_jread_push_index(r, i);
		ok = read_lock_input(r, json_array_get(inputs, i), reg) && ok;
		cr_jread_pop(r, m2);
	}
	cr_jread_pop(r, mark);
	return ok && inputs;
}

static bool read_artifacts(struct cr_jread *r, const json_t *j, cr_registry *reg)
{
	const json_t *a = cr_jread_array(r, j, "artifact_allowlist");
	if (!a)
		return false;
	for (size_t i = 0; i < json_array_size(a); i++) {
		cr_artifact art;
		cleanup_free char *why = NULL;
		if (cr_artifact_from_json(json_array_get(a, i), reg->manager, &art, &why) < 0) {
			cr_jread_error(r, "artifact_allowlist[%zu]: %s", i, why ? why : "invalid");
			return false;
		}
		cr_artifact_list_push(&reg->artifacts, art);
	}
	return true;
}

static bool read_registry(struct cr_jread *r, const char *manager, const json_t *j, cr_registry *reg)
{
	static const char *const keys[] = {"enabled",         "allowed_hosts",      "cache_ref", "fallback",
					   "lockfile_policy", "artifact_allowlist", NULL};
	*reg = (cr_registry){.manager = cr_xstrdup(manager)};
	if (!cr_policy_manager_known(manager)) {
		cr_jread_error(r, "unknown package manager");
		return false;
	}
	if (!cr_jread_object(r, j, keys) || !cr_jread_bool(r, j, "enabled", &reg->enabled))
		return false;
	const char *cache_ref = cr_jread_string(r, j, "cache_ref"),
		   *fallback = cr_jread_string(r, j, "fallback");
	if (!cache_ref || !fallback || (strcmp(fallback, "deny") && strcmp(fallback, "allow"))) {
		cr_jread_error(r, "cache_ref and fallback (deny|allow) are required");
		return false;
	}
	reg->cache_ref = cr_xstrdup(cache_ref);
	reg->fallback = strcmp(fallback, "allow") == 0 ? CR_ACTION_ALLOW : CR_ACTION_DENY;
	return read_host_list(r, j, "allowed_hosts", &reg->allowed_hosts, &reg->n_allowed_hosts) &&
	       read_lock_policy(r, json_object_get(j, "lockfile_policy"), reg) && read_artifacts(r, j, reg);
}

bool cr_compiled_read_registries(struct cr_jread *r, const json_t *j, cr_policy *p)
{
	size_t mark = cr_jread_push(r, "registries");
	bool ok = json_is_object(j);
	if (!ok)
		cr_jread_error(r, "expected an object");
	p->registries = cr_xcalloc(json_object_size(j) + 1, sizeof(*p->registries));
	const char *k;
	json_t *v;
	json_object_foreach ((json_t *)j, k, v) {
		size_t m2 = cr_jread_push(r, k);
		ok = read_registry(r, k, v, &p->registries[p->n_registries++]) && ok;
		cr_jread_pop(r, m2);
	}
	cr_jread_pop(r, mark);
	return ok;
}

static bool read_secret(struct cr_jread *r, const json_t *j, cr_secret_binding *s)
{
	static const char *const keys[] = {"secret_id",   "target",     "allowed_hosts",
					   "ttl_seconds", "single_use", NULL};
	*s = (cr_secret_binding){0};
	if (!cr_jread_object(r, j, keys))
		return false;
	const char *id = cr_jread_string(r, j, "secret_id"), *target = cr_jread_string(r, j, "target");
	s->secret_id = cr_xstrdup(id ? id : "");
	s->target = cr_xstrdup(target ? target : "");
	cleanup_free char *why = id ? cr_policy_check_secret_id(id) : NULL;
	bool target_ok = false;
	for (size_t i = 0; target && cr_secret_targets[i]; i++)
		target_ok |= strcmp(target, cr_secret_targets[i]) == 0;
	if (!id || why || !target_ok) {
		cr_jread_error(r, "%s", why ? why : "secret_id and a known target are required");
		return false;
	}
	return read_host_list(r, j, "allowed_hosts", &s->allowed_hosts, &s->n_allowed_hosts) &&
	       s->n_allowed_hosts > 0 && cr_jread_int(r, j, "ttl_seconds", 1, 86400, &s->ttl_seconds) &&
	       cr_jread_bool(r, j, "single_use", &s->single_use);
}

bool cr_compiled_read_secrets(struct cr_jread *r, const json_t *j, cr_policy *p)
{
	size_t mark = cr_jread_push(r, "secrets");
	bool ok = json_is_array(j);
	if (!ok)
		cr_jread_error(r, "expected an array");
	p->secrets = cr_xcalloc(json_array_size(j) + 1, sizeof(*p->secrets));
	for (size_t i = 0; ok && i < json_array_size(j); i++) {
		size_t m2 = cr_jread_push_index(r, i);
		ok = read_secret(r, json_array_get(j, i), &p->secrets[p->n_secrets++]);
		for (size_t k = 0; ok && k + 1 < p->n_secrets; k++)
			if (strcmp(p->secrets[k].secret_id, p->secrets[p->n_secrets - 1].secret_id) == 0) {
				cr_jread_error(r, "secret_id bound twice");
				ok = false;
			}
		cr_jread_pop(r, m2);
	}
	cr_jread_pop(r, mark);
	return ok;
}
