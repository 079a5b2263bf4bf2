/* SPDX-License-Identifier: Apache-2.0 */
/* policy.c -- construction, destruction and shared field checks of the
 * policy model. */
#include "policy/policy.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

const char *const cr_policy_managers[] = {"npm", "pip", NULL};
const char *const cr_secret_targets[] = {"secret-proxy", "content-cache", NULL};

cr_policy *cr_policy_new(void)
{
	cr_policy *p = cr_xcalloc(1, sizeof(*p));
	p->version = CR_POLICY_VERSION;
	p->source.repository = cr_xstrdup("");
	p->source.commit_sha = cr_xstrdup("");
	p->source.policy_path = cr_xstrdup("");
	p->project_name = cr_xstrdup("");
	p->image_ref = cr_xstrdup("");
	p->ttl_minutes = CR_POLICY_DEFAULT_TTL_MINUTES;
	p->network.default_action = CR_ACTION_DENY;
	p->metadata = json_object();
	return p;
}

static void free_hosts(cr_host_pattern *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cr_host_pattern_clear(&h[i]);
	free(h);
}

static void free_rules(cr_net_rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		cr_host_pattern_clear(&r[i].host);
		free(r[i].ports);
		free(r[i].reason);
		free(r[i].origin);
	}
	free(r);
}

static void free_registry(cr_registry *r)
{
	free(r->manager);
	free_hosts(r->allowed_hosts, r->n_allowed_hosts);
	free(r->cache_ref);
	for (size_t i = 0; i < r->n_lockfiles; i++) {
		free(r->lockfiles[i].path);
		free(r->lockfiles[i].format);
	}
	free(r->lockfiles);
	cr_artifact_list_free(&r->artifacts);
}

void cr_policy_free(cr_policy *p)
{
	if (!p)
		return;
	free(p->source.repository);
	free(p->source.commit_sha);
	free(p->source.policy_path);
	free(p->project_name);
	for (size_t i = 0; i < p->mise.n_config_files; i++)
		free(p->mise.config_files[i]);
	free(p->mise.config_files);
	free(p->image_ref);
	free_rules(p->network.allow, p->network.n_allow);
	free_rules(p->network.deny, p->network.n_deny);
	for (size_t i = 0; i < p->n_registries; i++)
		free_registry(&p->registries[i]);
	free(p->registries);
	for (size_t i = 0; i < p->n_secrets; i++) {
		free(p->secrets[i].secret_id);
		free(p->secrets[i].target);
		free_hosts(p->secrets[i].allowed_hosts, p->secrets[i].n_allowed_hosts);
	}
	free(p->secrets);
	json_decref(p->metadata);
	free(p);
}

const char *cr_action_name(cr_action a)
{
	return a == CR_ACTION_ALLOW ? "allow" : "deny";
}

static const char *const lock_modes[] = {"deny_unknown", "warn", "off"};

const char *cr_lock_mode_name(cr_lock_mode m)
{
	return (unsigned)m < 3 ? lock_modes[m] : "deny_unknown";
}

int cr_lock_mode_from_name(const char *s, cr_lock_mode *out)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(s, lock_modes[i]) == 0)
			return *out = (cr_lock_mode)i, 0;
	return -1;
}

bool cr_policy_manager_known(const char *manager)
{
	for (size_t i = 0; cr_policy_managers[i]; i++)
		if (strcmp(manager, cr_policy_managers[i]) == 0)
			return true;
	return false;
}

char *cr_policy_check_relpath(const char *path)
{
	size_t n = strlen(path);
	if (n == 0)
		return cr_xstrdup("path is empty");
	if (n > 4096)
		return cr_xstrdup("path is longer than 4096 bytes");
	if (path[0] == '/')
		return cr_asprintf("'%s' is absolute; paths are relative to the repository root", path);
	if (strchr(path, '\\'))
		return cr_asprintf("'%s' contains a backslash; use '/' as the separator", path);
	for (const char *p = path; *p;) {
		size_t l = strcspn(p, "/");
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return cr_asprintf("'%s' leaves the repository ('..')", path);
		p += l;
		p += *p == '/';
	}
	return NULL;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._-/:", c);
}

char *cr_policy_check_image_ref(const char *ref, char **hint)
{
	*hint = NULL;
	const char *at = strchr(ref, '@');
	if (!at) {
		*hint = cr_asprintf("pin the image by digest: %s@sha256:<digest>", ref);
		return cr_asprintf("image reference '%s' is not pinned by digest", ref);
	}
	if (at == ref || strlen(ref) > 512)
		return cr_asprintf("'%s' is not an OCI image reference", ref);
	for (const char *c = ref; c < at; c++)
		if (!name_char(*c))
			return cr_asprintf("'%s' is not an OCI image reference (names are lowercase)", ref);
	if (strncmp(at + 1, "sha256:", 7) != 0 || !cr_is_sha256_hex(at + 8)) {
		*hint = cr_xstrdup("digests are written sha256: followed by 64 lowercase hex digits");
		return cr_asprintf("image reference '%s' has an invalid digest", ref);
	}
	return NULL;
}

char *cr_policy_check_secret_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > 128)
		return cr_xstrdup("secret_id must be 1-128 characters");
	for (const char *c = id; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      strchr("_.-", *c)))
			return cr_asprintf(
				"secret_id '%s' may contain only letters, digits, '_', '.' and '-'", id);
	return NULL;
}

char *cr_policy_check_git_push(const cr_net_rule *r, char **hint)
{
	*hint = NULL;
	if (!r->git_push)
		return NULL;
	if (r->host.kind != CR_HOST_NAME) {
		*hint = cr_xstrdup("name each git host exactly in a rule of its own with git_push: true");
		return cr_asprintf(
			"git_push is allowed only on a rule for an exact host name, not on %s '%s'",
			r->host.kind == CR_HOST_WILDCARD ? "the wildcard"
			: r->host.kind == CR_HOST_IP     ? "the IP address"
							 : "the CIDR block",
			r->host.text);
	}
	for (size_t i = 0; i < r->n_ports; i++)
		if (r->ports[i] == 443)
			return NULL;
	*hint = cr_xstrdup("add 443 to ports: git pushes go to https://<host>/");
	return cr_asprintf("git_push needs port 443 in the rule for %s", r->host.text);
}
