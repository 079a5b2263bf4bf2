/* SPDX-License-Identifier: Apache-2.0 */
/* policy.c -- `cleanroom policy ...`: the policy subcommand table. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const cr_cli_command policy_commands[] = {
	{"validate", cmd_policy_validate, "check cleanroom.yaml and its lockfiles; exit 0 valid, 1 invalid"},
	{"compile", cmd_policy_compile, "print the CompiledPolicy summary, or the payload with --json"},
	{"explain", cmd_policy_explain, "decide HOST[:PORT]: exit 0 allowed, 1 denied, 2 error"},
	{NULL, NULL, NULL},
};

int cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: cleanroom policy COMMAND [-c PATH] [-C DIR] [--json]\n\nCommands:\n");
		cr_cli_print_commands(stdout, "cleanroom policy", policy_commands);
		return CR_EXIT_OK;
	}
	return cr_cli_dispatch("cleanroom policy", policy_commands, argc, argv);
}
