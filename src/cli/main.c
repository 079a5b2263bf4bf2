/* SPDX-License-Identifier: Apache-2.0 */
/* main.c -- the cleanroom command: top-level command table and dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "cli/exec.h"
#include "config.h"
#include "gateway/gateway.h"
#include "workspace/workspace.h"

static int cmd_help(int argc, char **argv);

static const cr_cli_command commands[] = {
	{"exec", cmd_exec, "run a command in a sandbox governed by the repository's policy"},
	{"console", cmd_console, "open an interactive shell in a sandbox (exec -it with a login shell)"},
	{"policy", cmd_policy, "validate, compile and explain the repository's cleanroom.yaml"},
	{"serve", cmd_serve, "run the control plane (Connect API on a unix socket)"},
	{"status", cmd_status, "show the server's version, uptime, counts and backends"},
	{"doctor", cmd_doctor, "check the host; show the backend's capabilities"},
	{"sandbox", cmd_sandbox, "list, inspect, terminate and watch sandboxes; copy files"},
	{"execution", cmd_execution, "list, inspect and cancel executions; print their output"},
	{"audit", cmd_audit, "query the audit trail"},
	{"conformance", cmd_conformance, "run the egress conformance suite (spec §14) for a backend"},
	{"cache", cmd_cache, "inspect and maintain the registry content cache (ls, stats, gc, verify)"},
	{"version", cmd_version, "print the version"},
	{"help", cmd_help, "show this help"},
	/* Hidden: run inside sandboxes by the backend (summary NULL). */
	{"__agent", cr_backend_agent_main, NULL},
	{"__gateway", cr_gateway_main, NULL},
	{"__extract", cmd_extract, NULL},
	{"__read-file", cmd_read_file, NULL},
	{NULL, NULL, NULL},
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("cleanroom %s: run a repository's commands in a sandbox with deny-by-default egress.\n\n",
	       CLEANROOM_VERSION);
	printf("Usage: cleanroom COMMAND [ARGS...]\n\nCommands:\n");
	cr_cli_print_commands(stdout, "cleanroom", commands);
	printf("\nRun 'cleanroom COMMAND --help' for a command's options. Documentation: docs/.\n");
	return CR_EXIT_OK;
}

int cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1 && strcmp(argv[1], "--json") == 0)
		printf("{\"version\":\"%s\"}\n", CLEANROOM_VERSION);
	else
		printf("cleanroom %s\n", CLEANROOM_VERSION);
	return CR_EXIT_OK;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return cmd_help(argc, argv), CR_EXIT_USAGE;
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(argc, argv);
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(1, argv);
	return cr_cli_dispatch("cleanroom", commands, argc, argv);
}
