/* SPDX-License-Identifier: Apache-2.0 */
/* policy_opts.h -- shared option parsing of the policy commands. */
#pragma once

#include "cli/cli.h"

struct cr_extra_opt {
	const char *name; /* long name */
	int has_arg;
	int val; /* short option letter, or a value >= 256 for long-only */
	int (*handle)(void *ctx, int val, const char *arg); /* -1 after printing a usage error */
};

/* Parses argv (argv[0] is the command name). Returns the index of the first
 * operand, -1 after a usage error (already printed), or -2 after --help. */
int cr_policy_parse_opts(int argc, char **argv, const char *usage, cr_policy_opts *o,
			 const struct cr_extra_opt *extra, void *ctx);
