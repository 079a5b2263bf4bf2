/* SPDX-License-Identifier: Apache-2.0 */
/* execution.h -- what the execution service and the event pump share. */
#pragma once

#include "cleanroom/v1/execution.pb-c.h"
#include "server/server.h"

/* How an execution ended. */
typedef struct cr_exec_end {
	int status; /* CR_EX_* terminal */
	int exit_code, term_signal;
	cr_reason reason;
	char message[256];
} cr_exec_end;

/* Records the end (store, audit), sends the ExecutionExit payload to the
 * followers and ends their streams, and frees x. */
void cr_exec_finish(cr_live_sandbox *l, cr_live_exec *x, const cr_exec_end *e);

/* Fills m and ex (stack storage; their pointers borrow the arguments) with
 * the exit payload of an execution that ended as e. */
void cr_exec_exit_event(Cleanroom__V1__ExecutionStreamEvent *m, Cleanroom__V1__ExecutionExit *ex,
			const char *sandbox_id, const char *execution_id, const cr_exec_end *e);

/* Fills m (stack storage; its pointers borrow the arguments) with an output
 * payload: stream 1 stdout, 2 stderr. */
void cr_exec_output_event(Cleanroom__V1__ExecutionStreamEvent *m, const char *sandbox_id,
			  const char *execution_id, int stream, const void *data, size_t len);

/* The API form of a stored execution (new message). */
Cleanroom__V1__Execution *cr_execution_message(const cr_execution_row *r);
/* The stored execution `id`, which must belong to sandbox_id when that is
 * non-empty; ENOENT (not_found) otherwise. */
int cr_execution_lookup(cr_server *srv, const char *sandbox_id, const char *id, cr_execution_row *row,
			cr_error **err);
/* The live execution `id` of sandbox `sandbox_id`, or NULL. */
cr_live_exec *cr_execution_find_live(cr_server *srv, const char *sandbox_id, const char *id);
