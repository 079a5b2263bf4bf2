/* SPDX-License-Identifier: Apache-2.0 */
/* exec_stream.c -- the running part of `cleanroom exec`: CreateExecution
 * with the shell form of the command, then StreamExecution (follow) with
 * stdout and stderr payloads written to fds 1 and 2 as they arrive, until
 * the one exit payload. The first interrupt sends CancelExecution with the
 * signal received, through a second client (a cr_client runs one call at a
 * time, and this one is busy streaming); the second interrupt detaches. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cleanroom/v1/execution.pb-c.h"
#include "cli/exec.h"
#include "cli/interactive.h"
#include "cli/shellwords.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define EXE "cleanroom.v1.ExecutionService"

typedef Cleanroom__V1__ExecutionStreamEvent StreamEvent;

struct stream_ctx {
	cr_exec_run *r;
	bool cancel_sent;
	bool out_broken[3]; /* fd 1 or 2 could not be written (EPIPE) */
	bool pipe_cancel;   /* cancel with SIGPIPE, as a local pipeline would */
};

int cr_exec_create_execution(cr_exec_run *r, cr_error **err)
{
	cleanup_free char *script = cr_shell_script(r->opts->command, r->opts->n_command);
	char *argv[] = {"/bin/sh", "-lc", script};
	Cleanroom__V1__ExecutionOptions options = CLEANROOM__V1__EXECUTION_OPTIONS__INIT;
	options.env = r->opts->env;
	options.n_env = r->opts->n_env;
	options.timeout_seconds = r->opts->timeout_seconds;
	options.tty = r->opts->tty;
	Cleanroom__V1__CreateExecutionRequest req = CLEANROOM__V1__CREATE_EXECUTION_REQUEST__INIT;
	req.sandbox_id = r->sandbox_id;
	req.command = argv;
	req.n_command = sizeof(argv) / sizeof(argv[0]);
	req.options = &options;
	ProtobufCMessage *resp = NULL;
	if (cr_client_unary(r->client, EXE, "CreateExecution", &req.base,
			    &cleanroom__v1__create_execution_response__descriptor, &resp, err) < 0)
		return -1;
	const Cleanroom__V1__Execution *x = ((Cleanroom__V1__CreateExecutionResponse *)resp)->execution;
	int rc = 0;
	if (!x || !*x->execution_id) {
		rc = cr_error_make(err, 0, CR_REASON_INTERNAL,
				   "CreateExecution answered without an execution");
	} else {
		r->execution_id = cr_xstrdup(x->execution_id);
		if (!r->run_id && *x->run_id)
			r->run_id = cr_xstrdup(x->run_id);
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

static void emit(struct stream_ctx *s, int fd, const ProtobufCBinaryData *chunk)
{
	if (s->out_broken[fd])
		return;
	if (cr_write_all(fd, chunk->data, chunk->len) < 0) {
		s->out_broken[fd] = true;
		s->pipe_cancel |= errno == EPIPE;
		return;
	}
	if (fd == 1)
		cr_exec_note_stdout(chunk->data, chunk->len);
}

static void take_exit(cr_exec_run *r, const Cleanroom__V1__ExecutionExit *x)
{
	r->got_exit = true;
	r->exit_code = x->exit_code;
	r->status = x->status;
	free(r->reason);
	free(r->message);
	r->reason = cr_xstrdup(x->reason);
	r->message = cr_xstrdup(x->message);
}

static int on_event(void *ctx, const ProtobufCMessage *m)
{
	struct stream_ctx *s = ctx;
	const StreamEvent *ev = (const StreamEvent *)m;
	switch (ev->payload_case) {
	case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDOUT: emit(s, 1, &ev->stdout); break;
	case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDERR: emit(s, 2, &ev->stderr); break;
	case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_EXIT:
		if (ev->exit)
			take_exit(s->r, ev->exit);
		break;
	default: break; /* status messages are not the workload's output */
	}
	return 0;
}

static void send_cancel(cr_exec_run *r, int sig)
{
	const char *name = sigabbrev_np(sig);
	if (sig == SIGPIPE)
		fprintf(stderr, "%s: output pipe closed: canceling execution %s\n", CR_EXEC_CMD,
			r->execution_id);
	else
		fprintf(stderr, "%s: received SIG%s: canceling execution %s (interrupt again to detach)\n",
			CR_EXEC_CMD, name ? name : "?", r->execution_id);
	cr_client *c = NULL;
	cr_error *e = NULL;
	Cleanroom__V1__CancelExecutionRequest req = CLEANROOM__V1__CANCEL_EXECUTION_REQUEST__INIT;
	req.sandbox_id = r->sandbox_id;
	req.execution_id = r->execution_id;
	req.signal = sig;
	ProtobufCMessage *resp = NULL;
	if (cr_client_open(r->endpoint, &c, &e) == 0) {
		cr_client_set_poll(c, cr_exec_second_interrupt, NULL);
		if (cr_client_unary(c, EXE, "CancelExecution", &req.base,
				    &cleanroom__v1__cancel_execution_response__descriptor, &resp, &e) == 0)
			protobuf_c_message_free_unpacked(resp, NULL);
	}
	if (e && cr_exec_interrupts(NULL) < 2)
		fprintf(stderr, "%s: warning: CancelExecution failed: %s\n", CR_EXEC_CMD, e->msg);
	cr_error_free(e);
	cr_client_free(c);
}

static int on_poll(void *ctx)
{
	struct stream_ctx *s = ctx;
	int sig = 0, n = cr_exec_interrupts(&sig);
	if (n >= 2) {
		s->r->detached = !s->r->got_exit;
		return 1;
	}
	if ((n == 1 || s->pipe_cancel) && !s->cancel_sent && !s->r->got_exit) {
		s->cancel_sent = true;
		send_cancel(s->r, n == 1 ? sig : SIGPIPE);
		if (cr_exec_interrupts(NULL) >= 2) {
			s->r->detached = true;
			return 1;
		}
	}
	return 0;
}

int cr_exec_stream(cr_exec_run *r, cr_error **err)
{
	struct stream_ctx s = {.r = r};
	Cleanroom__V1__StreamExecutionRequest req = CLEANROOM__V1__STREAM_EXECUTION_REQUEST__INIT;
	req.sandbox_id = r->sandbox_id;
	req.execution_id = r->execution_id;
	req.follow = true;
	cr_error *e = NULL;
	int rc = cr_client_stream(r->client, EXE, "StreamExecution", &req.base,
				  &cleanroom__v1__execution_stream_event__descriptor, on_event, on_poll, &s,
				  &e);
	if (r->got_exit) { /* the result is in; a broken end of stream changes nothing */
		if (rc < 0)
			fprintf(stderr, "%s: warning: after the exit status: %s\n", CR_EXEC_CMD, e->msg);
		cr_error_free(e);
		return 0;
	}
	if (rc > 0 && r->detached)
		return 1;
	if (rc == 0 || rc > 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "the output stream of execution %s ended without an exit status",
				     r->execution_id);
	*err = e;
	return cr_error_wrap(err, "stream execution %s", r->execution_id);
}

int cr_exec_attach(cr_exec_run *r, cr_error **err)
{
	cr_interactive o = {.prog = CR_EXEC_CMD,
			    .sandbox_id = r->sandbox_id,
			    .execution_id = r->execution_id,
			    .forward_stdin = r->opts->interactive,
			    .tty = r->opts->tty,
			    .keys = &r->opts->detach_keys};
	cr_interactive_result res;
	int rc = cr_interactive_run(r->client, &o, &res, err);
	r->detached = res.detached;
	if (rc == 0 && res.got_exit) {
		Cleanroom__V1__ExecutionExit x = CLEANROOM__V1__EXECUTION_EXIT__INIT;
		x.exit_code = res.exit_code;
		x.status = res.status;
		x.reason = res.reason;
		x.message = res.message;
		take_exit(r, &x);
	}
	cr_interactive_result_clear(&res);
	return rc;
}
