/* SPDX-License-Identifier: Apache-2.0 */
/* registry.c -- the fronts' decisions (front.h; spec §5.2, §6.3, §6.6):
 * registry enabled, upstream host allowed, artifact in the lockfile
 * allowlist or left to fallback; and the audit event for each. */
#include <stdio.h>
#include <string.h>

#include "gateway/front/front_internal.h"
#include "policy/host.h"
#include "policy/match.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

/* Allowed versions of one package, built on first request. */
struct front_versions {
	front_versions *next;
	char *manager, *name;
	char **versions; /* NULL-terminated */
};

const cr_registry *cr_front_registry(const cr_gateway *gw, const char *manager)
{
	const cr_policy *p = gw->policy;
	for (size_t i = 0; p && i < p->n_registries; i++)
		if (strcmp(p->registries[i].manager, manager) == 0)
			return p->registries[i].enabled ? &p->registries[i] : NULL;
	return NULL;
}

const char *cr_front_upstream_host(const cr_gateway *gw, const char *manager)
{
	const cr_registry *r = cr_front_registry(gw, manager);
	for (size_t i = 0; r && i < r->n_allowed_hosts; i++)
		if (r->allowed_hosts[i].kind == CR_HOST_NAME)
			return r->allowed_hosts[i].text;
	return NULL;
}

/* rule: the key under registries.<manager> ("" = the block itself). */
static void decide(cr_front_decision *d, const char *manager, cr_front_verdict v, cr_reason reason,
		   const char *rule)
{
	d->verdict = v;
	d->reason = reason;
	snprintf(d->rule, sizeof(d->rule), "registries.%s%s%s", manager, *rule ? "." : "", rule);
}

void cr_front_decide_host(const cr_gateway *gw, const char *manager, const char *host, cr_front_decision *d)
{
	memset(d, 0, sizeof(*d));
	const cr_registry *r = cr_front_registry(gw, manager);
	if (!r) {
		decide(d, manager, CR_FRONT_DENY, CR_REASON_REGISTRY_NOT_ALLOWED, "");
		snprintf(d->detail, sizeof(d->detail), "registries.%s is not enabled in the policy", manager);
		return;
	}
	if (!cr_registry_allows_host(r, host)) {
		decide(d, manager, CR_FRONT_DENY, CR_REASON_REGISTRY_NOT_ALLOWED, "allowed_hosts");
		snprintf(d->detail, sizeof(d->detail), "%s is not in registries.%s.allowed_hosts",
			 host ? host : "(no upstream host)", manager);
		return;
	}
	decide(d, manager, CR_FRONT_ALLOW, CR_REASON_NONE, "allowed_hosts");
}

/* The allowlist entry for (name, version), or NULL. The list is sorted by
 * name, then version (cr_artifact_list_normalize). */
static const cr_artifact *find_artifact(const cr_registry *r, const char *name, const char *version)
{
	size_t lo = 0, hi = r->artifacts.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(r->artifacts.items[mid].name, name);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < r->artifacts.n && strcmp(r->artifacts.items[i].name, name) == 0; i++) {
		const cr_artifact *a = &r->artifacts.items[i];
		if (strcmp(a->version, version) == 0 && !a->bundled &&
		    (a->kind == CR_ARTIFACT_REGISTRY || a->kind == CR_ARTIFACT_TARBALL))
			return a;
	}
	return NULL;
}

static bool lockfile_restricts(const cr_registry *r)
{
	return r->lock_enabled && r->lock_mode != CR_LOCK_OFF;
}

static void lockfile_names(const cr_registry *r, char *out, size_t n)
{
	size_t o = 0;
	out[0] = '\0';
	for (size_t i = 0; i < r->n_lockfiles && o < n; i++) {
		int k = snprintf(out + o, n - o, "%s%s", i ? ", " : "", r->lockfiles[i].path);
		o += k > 0 ? (size_t)k : 0;
	}
}

void cr_front_decide_artifact(const cr_gateway *gw, const char *manager, const char *host, const char *name,
			      const char *version, cr_front_decision *d)
{
	cr_front_decide_host(gw, manager, host, d);
	if (d->verdict == CR_FRONT_DENY)
		return;
	const cr_registry *r = cr_front_registry(gw, manager);
	if (lockfile_restricts(r)) {
		d->artifact = find_artifact(r, name, version);
		if (d->artifact) {
			decide(d, manager, CR_FRONT_ALLOW, CR_REASON_NONE, "lockfile_enforcement");
			return;
		}
		char files[256];
		lockfile_names(r, files, sizeof(files));
		bool warn = r->lock_mode == CR_LOCK_WARN;
		decide(d, manager, warn ? CR_FRONT_WARN : CR_FRONT_DENY, CR_REASON_LOCKFILE_VIOLATION,
		       "lockfile_enforcement");
		snprintf(d->detail, sizeof(d->detail), "%s %s is not declared in %s%s", name, version, files,
			 warn ? " (mode warn: served)" : "");
		return;
	}
	if (r->fallback == CR_ACTION_ALLOW) {
		decide(d, manager, CR_FRONT_ALLOW, CR_REASON_NONE, "fallback");
		return;
	}
	decide(d, manager, CR_FRONT_DENY, CR_REASON_REGISTRY_NOT_ALLOWED, "fallback");
	snprintf(d->detail, sizeof(d->detail),
		 "%s %s: registries.%s has no lockfile allowlist and its fallback is deny", name, version,
		 manager);
}

static front_versions *build_versions(const cr_registry *r, const char *manager, const char *name)
{
	front_versions *v = cr_xcalloc(1, sizeof(*v));
	v->manager = cr_xstrdup(manager);
	v->name = cr_xstrdup(name);
	size_t n = 0;
	for (size_t i = 0; i < r->artifacts.n; i++)
		n += strcmp(r->artifacts.items[i].name, name) == 0;
	v->versions = cr_xcalloc(n + 1, sizeof(char *));
	n = 0;
	for (size_t i = 0; i < r->artifacts.n; i++) {
		const cr_artifact *a = &r->artifacts.items[i];
		if (strcmp(a->name, name) == 0 && *a->version &&
		    (n == 0 || strcmp(v->versions[n - 1], a->version) != 0))
			v->versions[n++] = cr_xstrdup(a->version);
	}
	return v;
}

const char *const *cr_front_allowed_versions(const cr_gateway *gw, const char *manager, const char *name)
{
	const cr_registry *r = cr_front_registry(gw, manager);
	if (!r || !lockfile_restricts(r) || r->lock_mode != CR_LOCK_DENY_UNKNOWN)
		return NULL;
	cr_front *f = cr_front_of(gw);
	for (front_versions *v = f ? f->versions : NULL; v; v = v->next)
		if (strcmp(v->manager, manager) == 0 && strcmp(v->name, name) == 0)
			return v->versions[0] ? (const char *const *)v->versions : NULL;
	front_versions *v = build_versions(r, manager, name);
	if (f) {
		v->next = f->versions;
		f->versions = v;
	}
	return v->versions[0] ? (const char *const *)v->versions : NULL;
}

void cr_front_registry_free(cr_front *f)
{
	while (f->versions) {
		front_versions *v = f->versions;
		f->versions = v->next;
		for (char **s = v->versions; *s; s++)
			free(*s);
		free(v->versions);
		free(v->manager);
		free(v->name);
		free(v);
	}
}

/* ---- audit ---- */

static const char *action_name(cr_front_verdict v)
{
	return v == CR_FRONT_ALLOW ? "allow" : v == CR_FRONT_WARN ? "warn" : "deny";
}

void cr_front_audit(const cr_front_call *c, const cr_front_event *ev)
{
	cr_gw_audit(c->gw, &(cr_gw_event){.kind = "registry_decision",
					  .action = ev->action,
					  .protocol = "http",
					  .port = CR_GW_FRONT_PORT, /* as the sandbox sees it */
					  .host = ev->host,
					  .rule = ev->rule,
					  .reason = ev->reason,
					  .detail = ev->detail,
					  .registry = c->registry,
					  .package = ev->package,
					  .version = ev->version,
					  .requested_path = c->path,
					  .cache = ev->cache});
}

bool cr_front_apply(cr_front_call *c, const cr_front_decision *d, const char *package, const char *version,
		    const char *host)
{
	cr_front_audit(c, &(cr_front_event){.action = action_name(d->verdict),
					    .reason = d->reason,
					    .rule = d->rule,
					    .package = package,
					    .version = version,
					    .host = host,
					    .detail = d->detail[0] ? d->detail : NULL});
	if (d->verdict != CR_FRONT_DENY)
		return true;
	cr_front_refuse(c, 403, d->reason, "cleanroom: %s (policy rule %s)", d->detail, d->rule);
	return false;
}
