/* SPDX-License-Identifier: Apache-2.0 */
/* launch.c -- launch validation (spec §7.1, §7.2): every feature of a
 * compiled policy maps to the capability keys a backend must declare, and a
 * launch the backend cannot honour is refused with
 * backend_capability_mismatch before anything is provisioned. No silent
 * downgrade. */
#include <string.h>

#include "server/server.h"
#include "util/buf.h"
#include "util/cleanup.h"

struct requirement {
	const char *key;
	const char *why;
	bool (*needed)(const cr_policy *p);
};

static bool always(const cr_policy *p)
{
	(void)p;
	return true;
}

static bool has_allow_rules(const cr_policy *p)
{
	return p->network.n_allow > 0;
}

static bool has_enabled_registry(const cr_policy *p)
{
	for (size_t i = 0; i < p->n_registries; i++)
		if (p->registries[i].enabled)
			return true;
	return false;
}

static bool has_secrets(const cr_policy *p)
{
	return p->n_secrets > 0;
}

static const struct requirement requirements[] = {
	{"policy_immutability", "every policy", always},
	{"network_default_deny", "sandbox.network.default: deny", always},
	{"network_host_port_filtering", "sandbox.network.allow", has_allow_rules},
	{"dns_control_or_equivalent", "sandbox.network.allow", has_allow_rules},
	{"network_host_port_filtering", "an enabled registries.* block", has_enabled_registry},
	{"dns_control_or_equivalent", "an enabled registries.* block", has_enabled_registry},
	/* ours (not a spec key): the gateway's registry fronts, content cache and
	 * lockfile enforcement; without them an enabled registry would be a
	 * silent downgrade */
	{"registry_mediation", "an enabled registries.* block", has_enabled_registry},
	{"secret_isolation", "secrets", has_secrets},
};

int cr_launch_validate(const cr_policy *p, const cr_backend_caps *caps, cr_error **err)
{
	cleanup_buf cr_buf missing;
	cr_buf_init(&missing, 4096);
	for (size_t i = 0; i < sizeof(requirements) / sizeof(requirements[0]); i++) {
		const struct requirement *r = &requirements[i];
		if (!r->needed(p) || cr_backend_caps_get(caps, r->key))
			continue;
		if (missing.data && strstr(missing.data, r->key))
			continue;
		cr_buf_printf(&missing, "%s%s (needed by %s)", missing.len ? ", " : "", r->key, r->why);
	}
	if (!missing.len)
		return 0;
	return cr_error_make(err, 0, CR_REASON_BACKEND_CAPABILITY_MISMATCH, "backend '%s' cannot enforce %s",
			     caps->backend_name, missing.data);
}
