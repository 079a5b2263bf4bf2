/* SPDX-License-Identifier: Apache-2.0 */
/* exec_opts.c -- the command line of `cleanroom exec`: options up to the
 * first operand or `--`, everything after it is the command. Option
 * conflicts are usage errors before anything is contacted. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/exec.h"
#include "util/xalloc.h"

#define USAGE                                                                                           \
	"Usage: cleanroom exec [--host EP] [-c POLICY] [--sandbox-id ID | --rm | --keep]\n"             \
	"                      [--timeout DUR] [-e|--env K=V]... [--workspace DIR | --no-workspace]\n"  \
	"                      [-i] [-t] [--detach-keys KEYS] [--json] [--] COMMAND...\n"               \
	"\n"                                                                                            \
	"Runs COMMAND in a sandbox governed by the repository's cleanroom.yaml. One COMMAND word is\n"  \
	"a shell script (/bin/sh -lc WORD); several words run as that argv. -i forwards stdin, -t\n"    \
	"runs the command on a terminal (when stdin is one); detach with Ctrl-P Ctrl-Q. Exit status:\n" \
	"the command's (124 after --timeout), 1 when nothing could be started, 2 for usage or policy\n" \
	"errors, 130 after a detach (second Ctrl-C, or the detach keys). See docs/cli.md.\n"

#define MAX_DURATION_SECONDS (365LL * 24 * 3600)
#define MAX_ENV_ENTRIES      1024

enum {
	OPT_HOST = 256,
	OPT_SANDBOX_ID,
	OPT_RM,
	OPT_KEEP,
	OPT_TIMEOUT,
	OPT_WORKSPACE,
	OPT_NO_WORKSPACE,
	OPT_JSON,
	OPT_DETACH_KEYS,
};

static const struct option longopts[] = {
	{"host", required_argument, NULL, OPT_HOST},
	{"config", required_argument, NULL, 'c'},
	{"sandbox-id", required_argument, NULL, OPT_SANDBOX_ID},
	{"rm", no_argument, NULL, OPT_RM},
	{"keep", no_argument, NULL, OPT_KEEP},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"env", required_argument, NULL, 'e'},
	{"workspace", required_argument, NULL, OPT_WORKSPACE},
	{"no-workspace", no_argument, NULL, OPT_NO_WORKSPACE},
	{"json", no_argument, NULL, OPT_JSON},
	{"interactive", no_argument, NULL, 'i'},
	{"tty", no_argument, NULL, 't'},
	{"detach-keys", required_argument, NULL, OPT_DETACH_KEYS},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static int64_t unit_seconds(char unit)
{
	static const struct {
		char unit;
		int64_t seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (unit == units[i].unit)
			return units[i].seconds;
	return 0;
}

int cr_exec_parse_duration(const char *s, int64_t *seconds)
{
	bool bare = *s && s[strspn(s, "0123456789")] == '\0'; /* plain seconds */
	int64_t total = 0;
	for (const char *p = s; *p;) {
		const char *digits = p;
		int64_t n = 0;
		for (; *p >= '0' && *p <= '9'; p++)
			if ((n = n * 10 + (*p - '0')) > MAX_DURATION_SECONDS)
				return -1;
		int64_t mult = bare ? 1 : unit_seconds(*p);
		if (p == digits || !mult)
			return -1;
		p += bare ? 0 : 1;
		if ((total += n * mult) > MAX_DURATION_SECONDS)
			return -1;
	}
	if (total <= 0)
		return -1;
	*seconds = total;
	return 0;
}

static bool env_name_ok(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* -e K=V, or -e K to pass this process's value of K on. */
static int add_env(cr_exec_opts *o, const char *arg)
{
	const char *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
	if (!env_name_ok(arg, n))
		return cr_cli_usage_error(CR_EXEC_CMD, "--env '%s': expected NAME=VALUE or NAME", arg), -1;
	if (o->n_env >= MAX_ENV_ENTRIES)
		return cr_cli_usage_error(CR_EXEC_CMD, "more than %d --env entries", MAX_ENV_ENTRIES), -1;
	const char *val = eq ? NULL : getenv(arg);
	if (!eq && !val)
		return cr_cli_usage_error(CR_EXEC_CMD, "--env %s: the variable is not set here", arg), -1;
	o->env = cr_xrealloc(o->env, (o->n_env + 1) * sizeof(*o->env));
	o->env[o->n_env++] = eq ? cr_xstrdup(arg) : cr_asprintf("%s=%s", arg, val);
	return 0;
}

static int take_option(cr_exec_opts *o, int c, bool *rm)
{
	switch (c) {
	case OPT_HOST: o->host = optarg; return 0;
	case 'c': o->config = optarg; return 0;
	case OPT_SANDBOX_ID: o->sandbox_id = optarg; return 0;
	case OPT_RM: *rm = true; return 0;
	case OPT_KEEP: o->keep = true; return 0;
	case OPT_WORKSPACE: o->workspace = optarg; return 0;
	case OPT_NO_WORKSPACE: o->no_workspace = true; return 0;
	case OPT_JSON: o->json = true; return 0;
	case 'e': return add_env(o, optarg);
	case OPT_TIMEOUT:
		if (cr_exec_parse_duration(optarg, &o->timeout_seconds) < 0)
			return cr_cli_usage_error(
				       CR_EXEC_CMD,
				       "--timeout '%s': expected a duration such as 90, 30s, 5m, 1h30m",
				       optarg),
			       -1;
		return 0;
	case 'i': o->interactive = o->attach = true; return 0;
	case 't': o->tty = o->attach = true; return 0;
	case OPT_DETACH_KEYS: {
		cr_error *e = NULL;
		if (cr_detach_keys_parse(optarg, &o->detach_keys, &e) < 0) {
			cr_cli_usage_error(CR_EXEC_CMD, "--detach-keys: %s", e->msg);
			cr_error_free(e);
			return -1;
		}
		return 0;
	}
	default:
		return cr_cli_usage_error(CR_EXEC_CMD, "unknown or incomplete option '%s'",
					  optarg ? optarg : "?"),
		       -1;
	}
}

static int check_conflicts(const cr_exec_opts *o, bool rm)
{
	const char *bad = NULL;
	if (rm && o->keep)
		bad = "--rm and --keep";
	else if (o->sandbox_id && (rm || o->keep))
		bad = "--sandbox-id and --rm/--keep (a selected sandbox is never terminated by exec)";
	else if (o->sandbox_id && o->config)
		bad = "--sandbox-id and -c (the sandbox keeps the policy it was created with)";
	else if (o->workspace && o->no_workspace)
		bad = "--workspace and --no-workspace";
	if (bad)
		return cr_cli_usage_error(CR_EXEC_CMD, "%s cannot be combined", bad), -1;
	if (o->sandbox_id && !*o->sandbox_id)
		return cr_cli_usage_error(CR_EXEC_CMD, "--sandbox-id needs an identifier"), -1;
	if (o->n_command == 0 && !o->command_optional)
		return cr_cli_usage_error(CR_EXEC_CMD, "missing COMMAND"), -1;
	if (o->n_command == 1 && !*o->command[0])
		return cr_cli_usage_error(CR_EXEC_CMD, "the command is empty"), -1;
	return 0;
}

int cr_exec_parse_opts(int argc, char **argv, cr_exec_opts *o)
{
	bool rm = false;
	int c;
	opterr = 0;
	optind = 1;
	cr_detach_keys_parse(CR_DETACH_KEYS_DEFAULT, &o->detach_keys, NULL);
	while ((c = getopt_long(argc, argv, "+c:e:ith", longopts, NULL)) != -1) {
		if (c == 'h')
			return fputs(o->help ? o->help : USAGE, stdout), 1;
		if (c == '?' || c == ':')
			return cr_cli_usage_error(CR_EXEC_CMD, "unknown or incomplete option '%s'",
						  argv[optind - 1]),
			       -1;
		if (take_option(o, c, &rm) < 0)
			return -1;
	}
	o->command = argv + optind;
	o->n_command = (size_t)(argc - optind);
	o->tty = o->tty && isatty(STDIN_FILENO) == 1; /* -t without a terminal: no pty */
	return check_conflicts(o, rm);
}

void cr_exec_opts_clear(cr_exec_opts *o)
{
	for (size_t i = 0; i < o->n_env; i++)
		free(o->env[i]);
	free(o->env);
	o->env = NULL;
	o->n_env = 0;
}
