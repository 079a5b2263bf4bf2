/* SPDX-License-Identifier: Apache-2.0 */
/* lockinputs.c -- turning the lockfiles a policy lists into the artifact
 * allowlist (spec §6.6): read each file under a size cap, record its SHA-256
 * and format, parse it, and check the result against the policy (artifacts
 * from hosts the registry does not allow, git and tarball dependencies that
 * only an explicit network rule would let through). */
#include <string.h>
#include <sys/types.h>

#include "lockfile/lockfile.h"
#include "policy/match.h"
#include "policy/policy.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

static bool registry_allows(const cr_registry *r, const char *host)
{
	cr_host_pattern dest;
	cleanup_free char *why = NULL;
	if (cr_host_dest_parse(host, &dest, &why) < 0)
		return false;
	bool ok = false;
	for (size_t i = 0; i < r->n_allowed_hosts && !ok; i++)
		ok = cr_host_matches(&r->allowed_hosts[i], &dest);
	cr_host_pattern_clear(&dest);
	return ok;
}

static void check_artifact(const cr_policy *p, const cr_registry *r, const cr_artifact *a, cr_diags *diags)
{
	cr_diag_loc loc = {a->lockfile, a->line, 0, NULL};
	if (!*a->registry)
		return;
	if (a->kind == CR_ARTIFACT_REGISTRY && !registry_allows(r, a->registry)) {
		cr_diags_add(diags, CR_DIAG_WARNING, CR_REASON_REGISTRY_NOT_ALLOWED, loc,
			     "add the host to allowed_hosts, or regenerate the lockfile against an allowed "
			     "registry",
			     "%s@%s was resolved from %s, which registries.%s.allowed_hosts does not list",
			     a->name, a->version, a->registry, r->manager);
		return;
	}
	if (a->kind != CR_ARTIFACT_GIT && a->kind != CR_ARTIFACT_TARBALL)
		return;
	cr_decision d;
	if (cr_policy_decide(p, a->registry, 443, &d, NULL) < 0)
		return;
	if (d.action == CR_ACTION_DENY)
		cr_diags_add(diags, CR_DIAG_WARNING, CR_REASON_HOST_NOT_ALLOWED, loc,
			     "allow the host explicitly under sandbox.network.allow if this dependency is "
			     "intended",
			     "%s dependency %s (%s) will be refused: %s is not allowed",
			     cr_artifact_kind_name(a->kind), a->name, a->resolved, a->registry);
	cr_decision_clear(&d);
}

static int load_one(cr_policy *p, cr_registry *r, cr_lockfile_input *in, int repo_dirfd,
		    const char *policy_file, cr_diags *diags)
{
	cleanup_error cr_error *err = NULL;
	cleanup_free char *text = NULL;
	size_t len = 0;
	const cr_lockfile_format *f = cr_lockfile_format_for(r->manager, in->path);
	if (!f)
		return -1; /* reported by the schema reader */
	if (cr_read_file_at(repo_dirfd, in->path, CR_LOCKFILE_MAX_BYTES, CR_READ_BENEATH, &text, &len, &err) <
	    0) {
		cr_diags_add(diags, CR_DIAG_ERROR, CR_REASON_POLICY_INVALID,
			     (cr_diag_loc){policy_file, r->line, 0, NULL},
			     "commit the lockfile, or remove it from lockfile_enforcement.lockfiles",
			     "registries.%s: lockfile %s", r->manager, err->msg);
		return -1;
	}
	cr_sha256_hex(text, len, in->sha256);
	free(in->format);
	in->format = cr_xstrdup(f->name);
	size_t first = r->artifacts.n;
	if (f->parse(in->path, text, len, &r->artifacts, diags) < 0)
		return -1;
	for (size_t i = first; i < r->artifacts.n; i++)
		check_artifact(p, r, &r->artifacts.items[i], diags);
	return 0;
}

int cr_policy_load_lockfiles(cr_policy *p, int repo_dirfd, const char *policy_file, cr_diags *diags)
{
	int rc = 0;
	for (size_t i = 0; i < p->n_registries; i++) {
		cr_registry *r = &p->registries[i];
		if (!r->enabled || !r->lock_enabled)
			continue;
		for (size_t j = 0; j < r->n_lockfiles; j++)
			if (load_one(p, r, &r->lockfiles[j], repo_dirfd, policy_file, diags) < 0)
				rc = -1;
		cr_artifact_list_normalize(&r->artifacts);
	}
	return rc;
}
