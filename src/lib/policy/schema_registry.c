/* SPDX-License-Identifier: Apache-2.0 */
/* schema_registry.c -- reading registries.<manager> (spec §5.2, §6.6) and the
 * secret bindings of secrets[] (spec §5.3). */
#include <stdlib.h>
#include <string.h>

#include "policy/schema.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

struct registry_ctx {
	cr_registry *r;
	bool has_enable;
	const cr_ynode *lockfiles_node;
	const cr_ynode *lock_enabled_node, *lock_mode_node;
};

static void read_enable(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct registry_ctx *c = obj;
	c->has_enable = cr_walk_bool(w, v, &c->r->enabled);
}

static void read_allowed_hosts(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct registry_ctx *c = obj;
	cr_schema_read_hosts(w, v, CR_HOST_ALLOW_WILDCARD, &c->r->allowed_hosts, &c->r->n_allowed_hosts);
}

static void read_cache_ref(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct registry_ctx *c = obj;
	const char *s;
	if (!cr_walk_string(w, v, &s))
		return;
	if (!*s || strlen(s) > 256) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL, "cache_ref must be 1-256 characters");
		return;
	}
	free(c->r->cache_ref);
	c->r->cache_ref = cr_xstrdup(s);
}

static void read_fallback(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct registry_ctx *c = obj;
	static const char *const actions[] = {"deny", "allow", NULL};
	int a = cr_walk_enum(w, v, actions);
	if (a >= 0)
		c->r->fallback = a == 1 ? CR_ACTION_ALLOW : CR_ACTION_DENY;
}

static void read_lock_enabled(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct registry_ctx *c = obj;
	c->lock_enabled_node = v;
	cr_walk_bool(w, v, &c->r->lock_enabled);
}

static void read_lock_mode(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct registry_ctx *c = obj;
	static const char *const modes[] = {"deny_unknown", "warn", "off", NULL};
	int m = cr_walk_enum(w, v, modes);
	c->lock_mode_node = v;
	if (m >= 0)
		c->r->lock_mode = (cr_lock_mode)m;
}

static void read_lockfile_item(struct cr_walk *w, const cr_ynode *v, size_t i, void *obj)
{
	(void)i;
	struct registry_ctx *c = obj;
	const char *s;
	if (!cr_walk_string(w, v, &s))
		return;
	cleanup_free char *why = cr_policy_check_relpath(s);
	if (why) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL, "%s", why);
		return;
	}
	if (!cr_lockfile_format_for(c->r->manager, s)) {
		cleanup_free char *hint = cr_asprintf("%s lockfiles are %s", c->r->manager,
						      cr_lockfile_formats_hint(c->r->manager));
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, hint,
			      "'%s' is not a lockfile format cleanroom reads", s);
		return;
	}
	for (size_t j = 0; j < c->r->n_lockfiles; j++)
		if (strcmp(c->r->lockfiles[j].path, s) == 0) {
			cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL, "'%s' is listed twice", s);
			return;
		}
	c->r->lockfiles = cr_xrealloc(c->r->lockfiles, (c->r->n_lockfiles + 1) * sizeof(*c->r->lockfiles));
	c->r->lockfiles[c->r->n_lockfiles++] =
		(cr_lockfile_input){.path = cr_xstrdup(s), .format = cr_xstrdup("")};
}

static void read_lockfiles(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct registry_ctx *c = obj;
	c->lockfiles_node = v;
	cr_walk_seq(w, v, read_lockfile_item, obj);
}

static const struct cr_walk_field lock_fields[] = {
	{"enabled", read_lock_enabled, false},
	{"mode", read_lock_mode, false},
	{"lockfiles", read_lockfiles, false},
	{NULL, NULL, false},
};

static void read_lock(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	cr_walk_map(w, v, lock_fields, obj);
}

static const struct cr_walk_field registry_fields[] = {
	{"enable", read_enable, true},
	{"allowed_hosts", read_allowed_hosts, false},
	{"cache_ref", read_cache_ref, false},
	{"fallback", read_fallback, false},
	{"lockfile_enforcement", read_lock, false},
	{NULL, NULL, false},
};

/* Cross-field rules of one registry block, reported at the block. */
static void check_registry(struct cr_walk *w, const cr_ynode *v, struct registry_ctx *c)
{
	cr_registry *r = c->r;
	if (r->enabled && r->n_allowed_hosts == 0)
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID,
			      "list the registry hosts, e.g. allowed_hosts: [registry.npm.example]",
			      "an enabled registry needs allowed_hosts");
	if (r->lock_enabled && r->lock_mode == CR_LOCK_OFF)
		cr_walk_error(w, c->lock_mode_node, CR_REASON_POLICY_CONFLICT,
			      "set enabled: false, or choose mode deny_unknown or warn",
			      "lockfile_enforcement is enabled with mode off");
	if (r->lock_enabled && r->n_lockfiles == 0 && !(c->lockfiles_node && c->lockfiles_node->n))
		cr_walk_error(w, c->lock_enabled_node, CR_REASON_POLICY_INVALID,
			      "list them under lockfile_enforcement.lockfiles",
			      "lockfile enforcement is enabled but no lockfiles are listed");
	if (r->lock_enabled && !r->enabled)
		cr_walk_error(w, c->lock_enabled_node, CR_REASON_POLICY_INVALID,
			      "set enable: true for this registry",
			      "lockfile enforcement for a registry that is not enabled");
	if (!r->lock_enabled && r->n_lockfiles)
		cr_walk_warn(w, c->lockfiles_node, "set lockfile_enforcement.enabled: true to enforce them",
			     "lockfiles are listed but enforcement is disabled; they are ignored");
}

static void read_registry(struct cr_walk *w, const cr_ynode *key, const cr_ynode *v, cr_policy *p)
{
	if (!cr_policy_manager_known(key->value)) {
		cr_walk_error(w, key, CR_REASON_POLICY_INVALID, "supported package managers: npm, pip",
			      "unknown package manager '%s'", key->value);
		return;
	}
	p->registries = cr_xrealloc(p->registries, (p->n_registries + 1) * sizeof(*p->registries));
	cr_registry *r = &p->registries[p->n_registries++];
	*r = (cr_registry){.manager = cr_xstrdup(key->value),
			   .cache_ref = cr_xstrdup("content-cache"),
			   .fallback = CR_ACTION_DENY,
			   .lock_mode = CR_LOCK_DENY_UNKNOWN,
			   .line = v->line};
	struct registry_ctx c = {.r = r};
	if (cr_walk_map(w, v, registry_fields, &c))
		check_registry(w, v, &c);
}

void cr_schema_read_registries(struct cr_walk *w, const cr_ynode *v, void *policy)
{
	cr_policy *p = policy;
	if (cr_yscalar_is_null(v))
		return;
	if (v->type != CR_Y_MAP) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL,
			      "expected a mapping of package managers, found %s", cr_walk_type_name(v));
		return;
	}
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		const cr_ynode *k = v->items[i];
		if (k->type != CR_Y_SCALAR) {
			cr_walk_error(w, k, CR_REASON_POLICY_INVALID, NULL, "keys must be plain strings");
			continue;
		}
		size_t mark = cr_walk_push_key(w, k->value);
		if (cr_ymap_get(v, k->value) != v->items[i + 1])
			cr_walk_error(w, k, CR_REASON_POLICY_INVALID, NULL, "duplicate key '%s'", k->value);
		else
			read_registry(w, k, v->items[i + 1], p);
		cr_walk_pop(w, mark);
	}
}

/* ---- secrets[] ---- */

struct secret_ctx {
	cr_secret_binding *s;
};

static void read_secret_id(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct secret_ctx *c = obj;
	const char *s;
	if (!cr_walk_string(w, v, &s))
		return;
	cleanup_free char *why = cr_policy_check_secret_id(s);
	if (why) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL, "%s", why);
		return;
	}
	free(c->s->secret_id);
	c->s->secret_id = cr_xstrdup(s);
}

static void read_target(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct secret_ctx *c = obj;
	const char *s;
	if (cr_walk_string(w, v, &s) && (strcmp(s, "env") == 0 || strcmp(s, "direct-env") == 0)) {
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID,
			      "use target: secret-proxy; the gateway injects the value on the way out",
			      "secrets never enter the sandbox's environment (spec §10)");
		return;
	}
	int t = cr_walk_enum(w, v, cr_secret_targets);
	if (t >= 0) {
		free(c->s->target);
		c->s->target = cr_xstrdup(cr_secret_targets[t]);
	}
}

static void read_secret_hosts(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct secret_ctx *c = obj;
	cr_schema_read_hosts(w, v, CR_HOST_ALLOW_WILDCARD, &c->s->allowed_hosts, &c->s->n_allowed_hosts);
	if (c->s->n_allowed_hosts == 0)
		cr_walk_error(w, v, CR_REASON_POLICY_INVALID, NULL,
			      "a secret needs at least one allowed host");
}

static void read_ttl(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct secret_ctx *c = obj;
	cr_walk_int(w, v, 1, 86400, &c->s->ttl_seconds);
}

static void read_single_use(struct cr_walk *w, const cr_ynode *v, void *obj)
{
	struct secret_ctx *c = obj;
	cr_walk_bool(w, v, &c->s->single_use);
}

static const struct cr_walk_field secret_fields[] = {
	{"secret_id", read_secret_id, true},        {"target", read_target, false},
	{"allowed_hosts", read_secret_hosts, true}, {"ttl_seconds", read_ttl, false},
	{"single_use", read_single_use, false},     {NULL, NULL, false},
};

static void read_secret(struct cr_walk *w, const cr_ynode *v, size_t i, void *obj)
{
	(void)i;
	cr_policy *p = obj;
	cr_secret_binding s = {.target = cr_xstrdup("secret-proxy"),
			       .ttl_seconds = CR_SECRET_DEFAULT_TTL_SECONDS,
			       .line = v->line};
	struct secret_ctx c = {.s = &s};
	cr_walk_map(w, v, secret_fields, &c);
	for (size_t j = 0; s.secret_id && j < p->n_secrets; j++)
		if (strcmp(p->secrets[j].secret_id, s.secret_id) == 0)
			cr_walk_error(w, v, CR_REASON_POLICY_CONFLICT, "give each binding its own secret_id",
				      "secret_id '%s' is bound twice", s.secret_id);
	if (!s.secret_id)
		s.secret_id = cr_xstrdup("");
	p->secrets = cr_xrealloc(p->secrets, (p->n_secrets + 1) * sizeof(*p->secrets));
	p->secrets[p->n_secrets++] = s;
}

void cr_schema_read_secrets(struct cr_walk *w, const cr_ynode *v, void *policy)
{
	cr_walk_seq(w, v, read_secret, policy);
}
