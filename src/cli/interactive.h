/* SPDX-License-Identifier: Apache-2.0 */
/* interactive.h -- the terminal side of an interactive session
 * (`cleanroom exec -it`, `cleanroom console`, `cleanroom execution attach`):
 * one poll loop over stdin, the attach connection (client/attach.h) and a
 * self-pipe fed by signal handlers. With a terminal on stdin and a pty in
 * the sandbox, the local terminal is put in raw mode (restored on every way
 * out, signals included), its window size is sent at the start and after
 * every SIGWINCH, and Ctrl-P Ctrl-Q (or --detach-keys) detaches. docs/cli.md,
 * "Interactive sessions", is the user's view. */
#pragma once

#include <stdbool.h>

#include "cli/client/client.h"
#include "cli/detach_keys.h"
#include "util/error.h"

typedef struct cr_interactive {
	const char *prog; /* prefixes messages: "cleanroom exec" */
	const char *sandbox_id;
	const char *execution_id;
	bool forward_stdin;         /* -i: stdin goes to the process; EOF closes its stdin */
	bool tty;                   /* the process has a pty and stdin is a terminal: window size;
				       with forward_stdin also raw mode and the detach keys */
	const cr_detach_keys *keys; /* NULL: CR_DETACH_KEYS_DEFAULT */
} cr_interactive;

typedef struct cr_interactive_result {
	bool got_exit; /* the exit frame arrived: */
	int exit_code; /* 128+N after signal N */
	int status;    /* Cleanroom__V1__ExecutionStatus */
	char *reason, *message;
	bool detached;    /* detach keys, or a second interrupt; the execution runs on */
	int code;         /* the Connect code of a server error, else 0 */
	bool unreachable; /* nothing answered at the endpoint */
} cr_interactive_result;

/* True when stdin is a terminal: `-t` then asks for a pty. */
bool cr_interactive_stdin_is_tty(void);

/* Attaches to the execution on c's endpoint and runs the session until the
 * exit frame and end of stream (0, *res filled), a detach (0,
 * res->detached; the detach message is printed), or a failure (-1 with
 * *err; res->code and res->unreachable say more). Interrupts (SIGINT,
 * SIGTERM, SIGHUP, SIGQUIT): the first is sent to the execution as a signal
 * frame, the second detaches, the third takes the default action (after the
 * terminal is restored). Release *res with cr_interactive_result_clear. */
int cr_interactive_run(const cr_client *c, const cr_interactive *o, cr_interactive_result *res,
		       cr_error **err);
void cr_interactive_result_clear(cr_interactive_result *res);
