/* SPDX-License-Identifier: Apache-2.0 */
/* exec.h -- what the files of `cleanroom exec` share (exec.c runs the steps
 * of spec §5.4.1; exec_opts.c parses the command line; exec_sandbox.c
 * compiles the policy, creates or selects the sandbox and uploads the
 * workspace; exec_stream.c creates the execution, streams it and handles
 * interrupts, or with -i/-t attaches to it through interactive.c;
 * exec_report.c prints errors and the --json record). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cli/client/client.h"
#include "cli/detach_keys.h"
#include "util/error.h"

/* The command's name in messages: "cleanroom exec", or "cleanroom console"
 * (console.c runs the same steps). */
extern const char *cr_exec_cmd;
#define CR_EXEC_CMD cr_exec_cmd

/* Exit statuses of exec itself (the workload's own code passes through). */
enum {
	CR_EXEC_EXIT_LAUNCH = 1,    /* nothing ran: the server refused or failed a step */
	CR_EXEC_EXIT_POLICY = 2,    /* usage error, or the policy does not compile */
	CR_EXEC_EXIT_DETACH = 130,  /* second interrupt: detached, or interrupted before the start */
	CR_EXEC_EXIT_TIMEOUT = 124, /* what the server reports for TIMED_OUT */
};

typedef struct cr_exec_opts {
	const char *host;
	const char *config;
	const char *sandbox_id; /* --sandbox-id: reuse, never terminate */
	bool keep;              /* --keep (default --rm) */
	int64_t timeout_seconds;
	char **env; /* owned "K=V" strings */
	size_t n_env;
	const char *workspace; /* --workspace DIR */
	bool no_workspace;
	bool json;
	char **command; /* borrowed from argv */
	size_t n_command;
	/* interactive mode (-i, -t): AttachExecution instead of StreamExecution */
	bool interactive;           /* -i: stdin is forwarded */
	bool tty;                   /* -t and stdin is a terminal: the command runs on a pty */
	bool attach;                /* -i or -t */
	cr_detach_keys detach_keys; /* --detach-keys, default ctrl-p,ctrl-q */
	const char *help;           /* --help text; NULL: exec's */
	bool command_optional;      /* console: no COMMAND is fine */
} cr_exec_opts;

/* Parses argv; returns 0, 1 after --help, or -1 after a usage error (already
 * printed). */
int cr_exec_parse_opts(int argc, char **argv, cr_exec_opts *o);
void cr_exec_opts_clear(cr_exec_opts *o);
/* Parses a duration: "90", "90s", "5m", "1h", "1h30m" (units s, m, h, d).
 * Returns 0 with *seconds (> 0), or -1. */
int cr_exec_parse_duration(const char *s, int64_t *seconds);

/* Timings of the --json record, in ms; -1 for a step that did not run. */
enum {
	CR_EXEC_T_COMPILE,
	CR_EXEC_T_CREATE,
	CR_EXEC_T_UPLOAD,
	CR_EXEC_T_EXECUTION,
	CR_EXEC_T_TOTAL,
	CR_EXEC_T__N
};

/* One run of `cleanroom exec`: its options, its clients, what happened. */
typedef struct cr_exec_run {
	cr_exec_opts *opts;
	char *endpoint;
	bool endpoint_explicit; /* --host or $CLEANROOM_HOST: never start a private server */
	cr_client *client;      /* every call but CancelExecution */
	char *sandbox_id, *execution_id, *run_id, *policy_hash;
	bool created_sandbox; /* ours: terminated at the end unless --keep or detached */
	bool provisioning;    /* created and not READY yet (cr_exec_wait_ready) */
	bool started_server;
	/* the exit payload */
	bool got_exit;
	int exit_code;
	int status; /* Cleanroom__V1__ExecutionStatus */
	char *reason, *message;
	bool detached;
	bool kept;
	int64_t t_ms[CR_EXEC_T__N];
	int64_t t_start;
} cr_exec_run;

/* Interrupts: installed by exec.c (SIGINT, SIGTERM). */
void cr_exec_signals_install(void);
/* How many interrupts arrived so far, and the last one's number. */
int cr_exec_interrupts(int *last_signal);

/* exec_sandbox.c. Each returns 0, or -1 with *err. */
int cr_exec_connect(cr_exec_run *r, cr_error **err);
int cr_exec_compile(cr_exec_run *r, char **compiled, char **repo_root, cr_error **err);
int cr_exec_create_sandbox(cr_exec_run *r, const char *compiled, cr_error **err);
/* Waits until the sandbox just created is READY (following its events); at
 * once when it already was. */
int cr_exec_wait_ready(cr_exec_run *r, cr_error **err);
int cr_exec_select_sandbox(cr_exec_run *r, cr_error **err);
int cr_exec_upload(cr_exec_run *r, const char *dir, cr_error **err);
/* Terminates the sandbox when this run created it and neither --keep nor a
 * detach asks to keep it; says what it did on stderr when it keeps it. */
void cr_exec_finish_sandbox(cr_exec_run *r);

/* exec_stream.c: creates the execution and streams it to fds 1 and 2 until
 * its exit payload (0), a detach (1), or a failure (-1 with *err). */
int cr_exec_create_execution(cr_exec_run *r, cr_error **err);
int cr_exec_stream(cr_exec_run *r, cr_error **err);
/* Interactive mode: attaches to the execution (interactive.c) until its exit
 * (0) or a detach (0, r->detached; the message is printed), or -1 with *err. */
int cr_exec_attach(cr_exec_run *r, cr_error **err);

/* exec_report.c */
/* The code an error is shown with: its reason code, or the Connect code
 * ("not_found") when the server answered without a reason. Static. */
const char *cr_exec_error_code(const cr_exec_run *r, const cr_error *e);
/* Prints "cleanroom exec: error[<code>]: <message>" and a hint line. */
void cr_exec_print_error(const cr_exec_run *r, const cr_error *e, bool unreachable);
/* Prints the --json record (with an "error" member when e is not NULL) as
 * the last line of stdout. */
void cr_exec_print_record(const cr_exec_run *r, const cr_error *e);
/* The interrupt poll of calls made before the execution exists, and of the
 * cancel call: only a second interrupt abandons them. */
int cr_exec_second_interrupt(void *ctx);
/* Ensures stdout ends a line before the record: remembers the last byte the
 * workload wrote there. */
void cr_exec_note_stdout(const void *data, size_t len);

int cmd_exec(int argc, char **argv);
/* Runs parsed options (exec, console): the steps, the sandbox's end, the
 * report. Clears *o. Returns the exit status. */
int cr_exec_main(cr_exec_opts *o);
/* `cleanroom console` (console.c) */
int cmd_console(int argc, char **argv);
