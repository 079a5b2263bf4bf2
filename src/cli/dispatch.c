/* SPDX-License-Identifier: Apache-2.0 */
/* dispatch.c -- command tables, usage errors and the policy loading shared
 * by the policy commands. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

void cr_cli_print_commands(FILE *out, const char *prog, const cr_cli_command *table)
{
	(void)prog;
	for (const cr_cli_command *c = table; c->name; c++)
		if (c->summary)
			fprintf(out, "  %-12s %s\n", c->name, c->summary);
}

int cr_cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = cr_vasprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: error[%s]: %s\n", cmd, cr_reason_name(CR_REASON_USAGE_INVALID), msg);
	fprintf(stderr, "Run '%s --help' for usage.\n", cmd);
	return CR_EXIT_USAGE;
}

int cr_cli_dispatch(const char *prog, const cr_cli_command *table, int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "Usage: %s COMMAND\n\nCommands:\n", prog);
		cr_cli_print_commands(stderr, prog, table);
		return CR_EXIT_USAGE;
	}
	for (const cr_cli_command *c = table; c->name; c++)
		if (strcmp(c->name, argv[1]) == 0)
			return c->run(argc - 1, argv + 1);
	return cr_cli_usage_error(prog, "unknown command '%s'", argv[1]);
}

int cr_cli_load_policy(const cr_policy_opts *o, bool lockfiles, cr_policy_result *res, cr_diags *diags)
{
	cr_policy_request req = {
		.start_dir = o->repo_dir, .config_path = o->config, .load_lockfiles = lockfiles};
	return cr_policy_load_repo(&req, res, diags);
}
