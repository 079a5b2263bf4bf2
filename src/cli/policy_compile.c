/* SPDX-License-Identifier: Apache-2.0 */
/* policy_compile.c -- `cleanroom policy compile`: print a summary of the
 * CompiledPolicy, or with --json the canonical payload itself (the exact
 * bytes whose hash is policy_hash); -o FILE writes the payload to a file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/policy_opts.h"

#define USAGE "cleanroom policy compile [-c PATH] [-C DIR] [--json] [-o FILE]"

struct compile_ctx {
	const char *output;
};

static int on_opt(void *ctx, int val, const char *arg)
{
	(void)val;
	((struct compile_ctx *)ctx)->output = arg;
	return 0;
}

static int write_payload(const char *path, const cr_policy_result *res)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "we");
	if (!f) {
		fprintf(stderr, "cleanroom policy compile: error[internal]: open '%s': %s\n", path,
			strerror(errno));
		return -1;
	}
	int bad =
		fwrite(res->compiled, 1, res->compiled_len, f) != res->compiled_len || fputc('\n', f) == EOF;
	bad |= f == stdout ? fflush(f) != 0 : fclose(f) != 0;
	if (bad)
		fprintf(stderr, "cleanroom policy compile: error[internal]: write '%s': %s\n", path,
			strerror(errno));
	return bad ? -1 : 0;
}

static void print_summary(const cr_policy_result *res)
{
	const cr_policy *p = res->policy;
	printf("policy:      %s\nrepository:  %s\ncommit:      %s\npolicy_hash: %s\n", p->source.policy_path,
	       p->source.repository, *p->source.commit_sha ? p->source.commit_sha : "(none)", p->policy_hash);
	printf("network:     default %s, %zu allow rules, %zu deny rules\n",
	       cr_action_name(p->network.default_action), p->network.n_allow, p->network.n_deny);
	for (size_t i = 0; i < p->n_registries; i++) {
		const cr_registry *r = &p->registries[i];
		printf("registry:    %s %s, fallback %s, lockfiles %s (%s), %zu artifacts\n", r->manager,
		       r->enabled ? "enabled" : "disabled", cr_action_name(r->fallback),
		       r->lock_enabled ? "enforced" : "not enforced", cr_lock_mode_name(r->lock_mode),
		       r->artifacts.n);
	}
	printf("secrets:     %zu bindings\nsize:        %zu bytes\n", p->n_secrets, res->compiled_len);
}

int cmd_policy_compile(int argc, char **argv)
{
	struct compile_ctx ctx = {0};
	static const struct cr_extra_opt extra[] = {{"output", 1, 'o', on_opt}, {0}};
	cr_policy_opts o = {0};
	int first = cr_policy_parse_opts(argc, argv, USAGE, &o, extra, &ctx);
	if (first < 0)
		return first == -2 ? CR_EXIT_OK : CR_EXIT_USAGE;
	if (first < argc)
		return cr_cli_usage_error("cleanroom policy compile", "unexpected argument '%s'",
					  argv[first]);
	cr_diags d = {0};
	cr_policy_result res;
	int ok = cr_cli_load_policy(&o, true, &res, &d) == 0;
	cr_diags_print(&d, stderr);
	if (ok && ctx.output)
		ok = write_payload(ctx.output, &res) == 0;
	else if (ok && o.json)
		ok = write_payload("-", &res) == 0;
	else if (ok)
		print_summary(&res);
	cr_diags_clear(&d);
	cr_policy_result_clear(&res);
	return ok ? CR_EXIT_OK : CR_EXIT_FAIL;
}
