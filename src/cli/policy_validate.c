/* SPDX-License-Identifier: Apache-2.0 */
/* policy_validate.c -- `cleanroom policy validate`: check cleanroom.yaml and
 * the lockfiles it enforces. Exit 0 valid, 1 invalid, 2 usage. Diagnostics
 * go to stderr (or into the --json record on stdout). */
#include <stdio.h>

#include "cli/policy_opts.h"

#define USAGE "cleanroom policy validate [-c PATH] [-C DIR] [--json]"

static size_t artifact_count(const cr_policy *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n_registries; i++)
		n += p->registries[i].artifacts.n;
	return n;
}

static void print_json(const cr_policy_result *res, const cr_diags *d, int ok)
{
	json_t *o = json_pack("{s:b, s:s?, s:I, s:I, s:o}", "valid", ok, "policy_file", res->policy_file,
			      "errors", (json_int_t)d->n_errors, "warnings", (json_int_t)d->n_warnings,
			      "diagnostics", cr_diags_to_json(d));
	if (ok)
		json_object_set_new(o, "policy_hash", json_string(res->policy->policy_hash));
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	fputc('\n', stdout);
	json_decref(o);
}

int cmd_policy_validate(int argc, char **argv)
{
	cr_policy_opts o = {0};
	int first = cr_policy_parse_opts(argc, argv, USAGE, &o, NULL, NULL);
	if (first < 0)
		return first == -2 ? CR_EXIT_OK : CR_EXIT_USAGE;
	if (first < argc)
		return cr_cli_usage_error("cleanroom policy validate", "unexpected argument '%s'",
					  argv[first]);
	cr_diags d = {0};
	cr_policy_result res;
	int ok = cr_cli_load_policy(&o, true, &res, &d) == 0;
	if (o.json) {
		print_json(&res, &d, ok);
	} else {
		cr_diags_print(&d, stderr);
		if (ok)
			printf("%s: valid (%zu allow rules, %zu deny rules, %zu registries, %zu locked "
			       "artifacts)\n"
			       "policy_hash: %s\n",
			       res.policy_file, res.policy->network.n_allow, res.policy->network.n_deny,
			       res.policy->n_registries, artifact_count(res.policy), res.policy->policy_hash);
		else
			fprintf(stderr, "%s: invalid (%zu error%s)\n",
				res.policy_file ? res.policy_file : "policy", d.n_errors,
				d.n_errors == 1 ? "" : "s");
	}
	cr_diags_clear(&d);
	cr_policy_result_clear(&res);
	return ok ? CR_EXIT_OK : CR_EXIT_FAIL;
}
