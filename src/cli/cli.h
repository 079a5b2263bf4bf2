/* SPDX-License-Identifier: Apache-2.0 */
/* cli.h -- what the command files of the cleanroom CLI share.
 *
 * Every command is one function `int cmd_x(int argc, char **argv)` listed
 * in a table (main.c for top-level commands, policy.c for `policy ...`),
 * returning the process exit code. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "policy/locate.h"
#include "util/diag.h"

enum {
	CR_EXIT_OK = 0,
	CR_EXIT_FAIL = 1,  /* invalid policy, denied destination, failed check */
	CR_EXIT_USAGE = 2, /* bad command line, or a policy error where 1 means "denied" */
};

typedef struct cr_cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* NULL for hidden commands */
} cr_cli_command;

/* Runs the command of `table` (NULL-name terminated) named by argv[1];
 * `prog` names the command group in messages ("cleanroom policy"). */
int cr_cli_dispatch(const char *prog, const cr_cli_command *table, int argc, char **argv);
void cr_cli_print_commands(FILE *out, const char *prog, const cr_cli_command *table);

/* Prints "cleanroom: error[usage_invalid]: <msg>" and a pointer to --help;
 * returns CR_EXIT_USAGE. */
int cr_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Options every policy command takes. */
typedef struct cr_policy_opts {
	const char *config;   /* -c, --config */
	const char *repo_dir; /* -C, --repo */
	bool json;            /* --json */
} cr_policy_opts;

/* Loads and compiles the repository's policy for a command; on failure the
 * diagnostics are in diags. Returns 0 or -1. */
int cr_cli_load_policy(const cr_policy_opts *o, bool lockfiles, cr_policy_result *res, cr_diags *diags);

int cmd_policy(int argc, char **argv);
int cmd_policy_validate(int argc, char **argv);
int cmd_policy_compile(int argc, char **argv);
int cmd_policy_explain(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_serve(int argc, char **argv);
/* `cleanroom cache ls|stats|gc|verify` (cache_cmd.c): the registry content cache on disk. */
int cmd_cache(int argc, char **argv);
