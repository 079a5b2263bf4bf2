/* SPDX-License-Identifier: Apache-2.0 */
/* execution_service.c -- ExecutionService: create (start a command in a
 * READY sandbox, or QUEUED until a provisioning sandbox is READY; with an
 * optional timeout), get, list, cancel, and the end
 * of an execution (cr_exec_finish: store, audit, followers). Streaming is in
 * execution_stream.c; output and exits arrive through pump.c. */
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/execution.h"
#include "server/util.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define MAX_ARGS      4096
#define MAX_ENV       1024
#define MAX_TIMEOUT_S (7 * 24 * 3600)

static char **strv_copy(char *const *v, size_t n)
{
	char **out = cr_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = cr_xstrdup(v[i]);
	return out;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void exec_free(cr_live_exec *x)
{
	if (x->timeout_ev)
		event_free(x->timeout_ev);
	strv_free(x->argv);
	strv_free(x->env);
	free(x->cwd);
	free(x->id);
	free(x);
}

Cleanroom__V1__Execution *cr_execution_message(const cr_execution_row *r)
{
	Cleanroom__V1__Execution *m = cr_xmalloc(sizeof(*m));
	cleanroom__v1__execution__init(m);
	m->execution_id = cr_xstrdup(r->execution_id);
	m->sandbox_id = cr_xstrdup(r->sandbox_id);
	m->status = (Cleanroom__V1__ExecutionStatus)r->status;
	size_t n = 0;
	while (r->command && r->command[n])
		n++;
	m->command = cr_xcalloc(n + 1, sizeof(char *));
	for (m->n_command = 0; m->n_command < n; m->n_command++)
		m->command[m->n_command] = cr_xstrdup(r->command[m->n_command]);
	m->exit_code = r->exit_code < 0 ? 0 : r->exit_code;
	m->started_at = cr_pb_timestamp(r->started_ms);
	m->finished_at = cr_pb_timestamp(r->finished_ms);
	m->tty = r->tty;
	m->run_id = cr_xstrdup(r->run_id);
	m->reason = cr_xstrdup(r->reason);
	m->actor = cr_xstrdup(r->actor);
	m->timeout_seconds = r->timeout_s;
	m->term_signal = r->term_signal;
	m->message = cr_xstrdup(r->message ? r->message : "");
	return m;
}

static const char *finish_kind(int status)
{
	switch (status) {
	case CR_EX_CANCELED: return "execution.canceled";
	case CR_EX_TIMED_OUT: return "execution.timed_out";
	default: return "execution.finished";
	}
}

static void unlink_exec(cr_live_sandbox *l, cr_live_exec *x)
{
	for (cr_live_exec **pp = &l->execs; *pp; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			return;
		}
}

static void send_exit(cr_live_sandbox *l, cr_live_exec *x, const cr_exec_end *e)
{
	Cleanroom__V1__ExecutionStreamEvent m;
	Cleanroom__V1__ExecutionExit ex;
	cr_exec_exit_event(&m, &ex, l->id, x->id, e);
	Google__Protobuf__Timestamp *ts = cr_pb_timestamp(cr_now_ms());
	m.occurred_at = ts;
	cr_api_streams_send(x->subs, &m.base, true);
	free(ts);
}

void cr_exec_finish(cr_live_sandbox *l, cr_live_exec *x, const cr_exec_end *e)
{
	cr_server *srv = l->srv;
	cr_error *err = NULL;
	const char *reason = e->reason ? cr_reason_name(e->reason) : "";
	if (cr_store_execution_finish(srv->store, x->id, e->status, e->exit_code, e->term_signal, reason,
				      e->message, cr_now_ms(), &err) < 0) {
		fprintf(stderr, "cleanroom serve: record the end of %s: %s\n", x->id, err->msg);
		cr_error_free(err);
	}
	cr_audit_ctx ctx = cr_live_audit_ctx(l);
	ctx.execution_id = x->id;
	char code[16];
	snprintf(code, sizeof(code), "%d", e->exit_code);
	const char *detail[] = {"exit_code", code, "message", e->message, NULL};
	cr_server_audit(srv, finish_kind(e->status), &ctx, e->reason, detail);
	send_exit(l, x, e);
	unlink_exec(l, x);
	exec_free(x);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	cr_live_exec *x = arg;
	cr_live_sandbox *l = x->owner;
	cr_error *err = NULL;
	x->timed_out = true;
	if (l->backend->signal(l->sb, x->backend_id, SIGKILL, &err) < 0) {
		fprintf(stderr, "cleanroom serve: kill %s after its timeout: %s\n", x->id, err->msg);
		cr_error_free(err);
	}
}

static int check_request(const Cleanroom__V1__CreateExecutionRequest *req, cr_error **err)
{
	if (req->n_command == 0 || !*req->command[0])
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "command is empty");
	if (req->n_command > MAX_ARGS)
		return cr_error_make(err, E2BIG, CR_REASON_USAGE_INVALID, "more than %d arguments", MAX_ARGS);
	const Cleanroom__V1__ExecutionOptions *o = req->options;
	if (!o)
		return 0;
	if (o->n_env > MAX_ENV)
		return cr_error_make(err, E2BIG, CR_REASON_USAGE_INVALID, "more than %d env entries",
				     MAX_ENV);
	for (size_t i = 0; i < o->n_env; i++)
		if (!strchr(o->env[i], '=') || o->env[i][0] == '=')
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
					     "env entry %zu ('%s') is not KEY=VALUE", i, o->env[i]);
	if (o->timeout_seconds < 0 || o->timeout_seconds > MAX_TIMEOUT_S)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "timeout_seconds must be between 0 and %d", MAX_TIMEOUT_S);
	if (o->cwd && *o->cwd && o->cwd[0] != '/')
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "cwd '%s' is not an absolute path",
				     o->cwd);
	return 0;
}

/* A live execution holding its request (argv, env, cwd, tty, timeout). */
static cr_live_exec *exec_new(cr_live_sandbox *l, const Cleanroom__V1__CreateExecutionRequest *req)
{
	const Cleanroom__V1__ExecutionOptions *o = req->options;
	cr_live_exec *x = cr_xcalloc(1, sizeof(*x));
	*x = (cr_live_exec){.id = cr_new_id("ex-"),
			    .owner = l,
			    .argv = strv_copy(req->command, req->n_command),
			    .env = strv_copy(o ? o->env : NULL, o ? o->n_env : 0),
			    .cwd = o && o->cwd && *o->cwd ? cr_xstrdup(o->cwd) : NULL,
			    .tty = o && o->tty,
			    .timeout_s = o ? o->timeout_seconds : 0};
	return x;
}

/* Starts x in its (READY) sandbox and arms its timeout. */
static int run(cr_live_sandbox *l, cr_live_exec *x, cr_error **err)
{
	/* the gateway's proxy variables first: the request's own may replace them */
	char *const *egress = cr_egress_env(l->egress);
	size_t n = 0, m = 0;
	while (egress && egress[n])
		n++;
	while (x->env[m])
		m++;
	cleanup_free char **env = cr_xcalloc(n + m + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		env[i] = egress[i];
	for (size_t i = 0; i < m; i++)
		env[n + i] = x->env[i];
	cr_exec_spec spec = {.argv = x->argv, .extra_env = env, .cwd = x->cwd, .tty = x->tty};
	if (l->backend->exec(l->sb, &spec, &x->backend_id, err) < 0)
		return -1;
	x->queued = false;
	if (x->timeout_s > 0) {
		x->timeout_ev = evtimer_new(l->srv->base, on_timeout, x);
		struct timeval tv = {.tv_sec = x->timeout_s};
		evtimer_add(x->timeout_ev, &tv);
	}
	return 0;
}

static void audit_start(cr_live_sandbox *l, cr_live_exec *x)
{
	cr_audit_ctx ctx = cr_live_audit_ctx(l);
	ctx.execution_id = x->id;
	json_t *cmd = json_array();
	for (size_t i = 0; x->argv[i]; i++)
		json_array_append_new(cmd, json_stringn(x->argv[i], strlen(x->argv[i])));
	cleanup_free char *cmd_text = json_dumps(cmd, JSON_COMPACT);
	json_decref(cmd);
	const char *detail[] = {"command", cmd_text ? cmd_text : "", NULL};
	cr_server_audit(l->srv, x->queued ? "execution.queued" : "execution.started", &ctx, CR_REASON_NONE,
			detail);
}

/* Ends an execution that never started: 130 when canceled, else 127 (as a
 * command that could not be started). */
static void finish_unstarted(cr_live_sandbox *l, cr_live_exec *x, int status, cr_reason reason,
			     const char *message)
{
	cr_exec_end e = {
		.status = status, .exit_code = status == CR_EX_CANCELED ? 130 : 127, .reason = reason};
	snprintf(e.message, sizeof(e.message), "%s", message);
	cr_exec_finish(l, x, &e);
}

void cr_execution_start_queued(cr_live_sandbox *l)
{
	size_t n = 0;
	for (cr_live_exec *x = l->execs; x; x = x->next)
		n += x->queued;
	cleanup_free cr_live_exec **order = cr_xcalloc(n + 1, sizeof(*order));
	size_t i = n;
	for (cr_live_exec *x = l->execs; x; x = x->next)
		if (x->queued)
			order[--i] = x; /* the list is newest first; start the oldest first */
	for (i = 0; i < n; i++) {
		cr_live_exec *x = order[i];
		cleanup_error cr_error *err = NULL;
		if (run(l, x, &err) < 0) {
			finish_unstarted(l, x, CR_EX_FAILED,
					 err->reason ? err->reason : CR_REASON_RUNTIME_LAUNCH_FAILED,
					 err->msg);
			continue;
		}
		if (cr_store_execution_set_running(l->srv->store, x->id, cr_now_ms(), &err) < 0)
			fprintf(stderr, "cleanroom serve: record the start of %s: %s\n", x->id, err->msg);
		audit_start(l, x);
	}
}

/* The sandbox an execution is created in: READY, or still provisioning
 * (the execution is then QUEUED). */
static int target_sandbox(cr_server *srv, const char *id, cr_live_sandbox **out, cr_error **err)
{
	*out = cr_server_find_live(srv, id);
	return *out ? 0 : cr_server_running_sandbox(srv, id, out, err);
}

int cr_execution_create(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			ProtobufCMessage **out, cr_error **err)
{
	const Cleanroom__V1__CreateExecutionRequest *req = (const void *)in;
	cr_live_sandbox *l = NULL;
	if (check_request(req, err) < 0 || target_sandbox(srv, req->sandbox_id, &l, err) < 0)
		return -1;
	cr_live_exec *x = exec_new(l, req);
	x->queued = !l->ready;
	if (l->ready && run(l, x, err) < 0) {
		exec_free(x);
		return -1;
	}
	x->next = l->execs;
	l->execs = x;
	int64_t t = cr_now_ms();
	cr_execution_row row = {.execution_id = x->id,
				.sandbox_id = l->id,
				.run_id = l->run_id,
				.actor = (char *)call->actor,
				.reason = "",
				.message = "",
				.command = x->argv,
				.status = x->queued ? CR_EX_QUEUED : CR_EX_RUNNING,
				.exit_code = -1,
				.tty = x->tty,
				.timeout_s = x->timeout_s,
				.created_ms = t,
				.started_ms = x->queued ? 0 : t};
	if (cr_store_execution_put(srv->store, &row, err) < 0)
		return -1; /* the process runs on; recording its end fails too, and says so */
	audit_start(l, x);
	Cleanroom__V1__CreateExecutionResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__create_execution_response__init(r);
	r->execution = cr_execution_message(&row);
	*out = &r->base;
	return 0;
}

/* The row of an execution, checked against the sandbox named in the
 * request when one is. */
int cr_execution_lookup(cr_server *srv, const char *sandbox_id, const char *id, cr_execution_row *row,
			cr_error **err)
{
	int found = cr_store_execution_get(srv->store, id ? id : "", row, err);
	if (found < 0)
		return -1;
	if (found && sandbox_id && *sandbox_id && strcmp(row->sandbox_id, sandbox_id) != 0) {
		cr_execution_row_clear(row);
		found = 0;
	}
	if (!found)
		return cr_error_status(err, ENOENT, CR_REASON_NONE, "no execution '%s'%s%s", id ? id : "",
				       sandbox_id && *sandbox_id ? " in sandbox " : "",
				       sandbox_id && *sandbox_id ? sandbox_id : "");
	return 0;
}

cr_live_exec *cr_execution_find_live(cr_server *srv, const char *sandbox_id, const char *id)
{
	cr_live_sandbox *l = cr_server_find_live(srv, sandbox_id);
	for (cr_live_exec *x = l ? l->execs : NULL; x; x = x->next)
		if (strcmp(x->id, id) == 0)
			return x;
	return NULL;
}

int cr_execution_get(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		     ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__GetExecutionRequest *req = (const void *)in;
	cr_execution_row row;
	if (cr_execution_lookup(srv, req->sandbox_id, req->execution_id, &row, err) < 0)
		return -1;
	Cleanroom__V1__GetExecutionResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__get_execution_response__init(r);
	r->execution = cr_execution_message(&row);
	cr_execution_row_clear(&row);
	*out = &r->base;
	return 0;
}

int cr_execution_list(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		      ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__ListExecutionsRequest *req = (const void *)in;
	cr_execution_row *rows = NULL;
	size_t n = 0;
	const char *sb = req->sandbox_id && *req->sandbox_id ? req->sandbox_id : NULL;
	if (cr_store_execution_list(srv->store, sb, &rows, &n, err) < 0)
		return -1;
	Cleanroom__V1__ListExecutionsResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__list_executions_response__init(r);
	r->executions = cr_xcalloc(n + 1, sizeof(*r->executions));
	for (size_t i = 0; i < n; i++) {
		r->executions[r->n_executions++] = cr_execution_message(&rows[i]);
		cr_execution_row_clear(&rows[i]);
	}
	free(rows);
	*out = &r->base;
	return 0;
}

int cr_execution_cancel(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__CancelExecutionRequest *req = (const void *)in;
	if (req->signal < 0 || req->signal > 64)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "signal %d is not a signal number",
				     req->signal);
	cr_execution_row row;
	if (cr_execution_lookup(srv, req->sandbox_id, req->execution_id, &row, err) < 0)
		return -1;
	cr_live_exec *x = cr_execution_find_live(srv, row.sandbox_id, row.execution_id);
	bool live = x != NULL;
	int rc = 0;
	if (x && x->queued) {
		finish_unstarted(x->owner, x, CR_EX_CANCELED, CR_REASON_EXECUTION_CANCELED,
				 "canceled before it started");
		row.status = CR_EX_CANCELED;
	} else if (x) {
		cr_live_sandbox *l = x->owner;
		x->cancel_requested = true;
		rc = l->backend->signal(l->sb, x->backend_id, req->signal ? req->signal : SIGINT, err);
	}
	Cleanroom__V1__CancelExecutionResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__cancel_execution_response__init(r);
	r->sandbox_id = cr_xstrdup(row.sandbox_id);
	r->execution_id = cr_xstrdup(row.execution_id);
	r->accepted = live && rc == 0;
	r->status = (Cleanroom__V1__ExecutionStatus)row.status;
	cr_execution_row_clear(&row);
	if (rc < 0) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return -1;
	}
	*out = &r->base;
	return 0;
}
