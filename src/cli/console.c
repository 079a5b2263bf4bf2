/* SPDX-License-Identifier: Apache-2.0 */
/* console.c -- `cleanroom console`: an interactive shell (or COMMAND) in a
 * sandbox governed by the repository's policy. It is `cleanroom exec -it`
 * with a login shell as the default command: the same options, the same
 * steps (exec.c), a pty when stdin is a terminal, stdin always forwarded.
 * See docs/cli.md, "cleanroom console". */
#include <stdio.h>

#include "cli/cli.h"
#include "cli/exec.h"
#include "cli/interactive.h"

#define CONSOLE_USAGE                                                                                     \
	"Usage: cleanroom console [--host EP] [-c POLICY] [--sandbox-id ID | --rm | --keep]\n"            \
	"                         [--timeout DUR] [-e|--env K=V]... [--workspace DIR | --no-workspace]\n" \
	"                         [--detach-keys KEYS] [--] [COMMAND...]\n"                               \
	"\n"                                                                                              \
	"Opens an interactive shell (bash if the sandbox has it, else sh; both as login shells), or\n"    \
	"runs COMMAND interactively, in a sandbox governed by the repository's cleanroom.yaml: the\n"     \
	"same as 'cleanroom exec -it'. Detach with Ctrl-P Ctrl-Q (exit 130; the shell keeps running;\n"   \
	"'cleanroom execution attach' reattaches). Exit status: the shell's. See docs/cli.md.\n"

/* Runs in the sandbox's /bin/sh -lc: bash where there is one, else sh. A
 * failed `exec` would end the script, so the choice is made before it. */
static char *default_shell[] = {
	"if command -v bash >/dev/null 2>&1; then exec bash -l; fi; exec /bin/sh -l",
};

int cmd_console(int argc, char **argv)
{
	cr_exec_cmd = "cleanroom console";
	cr_exec_opts o = {.help = CONSOLE_USAGE, .command_optional = true};
	int parsed = cr_exec_parse_opts(argc, argv, &o);
	if (parsed != 0) {
		cr_exec_opts_clear(&o);
		return parsed > 0 ? CR_EXIT_OK : CR_EXIT_USAGE;
	}
	if (o.n_command == 0) {
		o.command = default_shell;
		o.n_command = 1;
	}
	o.interactive = o.attach = true;
	o.tty = cr_interactive_stdin_is_tty();
	return cr_exec_main(&o);
}
