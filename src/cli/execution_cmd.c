/* SPDX-License-Identifier: Apache-2.0 */
/* execution_cmd.c -- `cleanroom execution ls|get|cancel|logs|attach`: the
 * executions of the server's sandboxes (ExecutionService). An execution is
 * named by its id alone; its sandbox comes from --sandbox, from a leading
 * SANDBOX operand, or from ListExecutions. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cleanroom/v1/execution.pb-c.h"
#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "cli/interactive.h"
#include "cli/remote.h"
#include "connect/connect.h"
#include "server/util.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define NOT_FOUND_HINT "`cleanroom execution ls` lists the executions this server knows"
#define OPT_SANDBOX    256

static int execution_ls(int argc, char **argv);
static int execution_get(int argc, char **argv);
static int execution_cancel(int argc, char **argv);
static int execution_logs(int argc, char **argv);
static int execution_attach(int argc, char **argv);

static const cr_cli_command execution_commands[] = {
	{"ls", execution_ls, "list executions (--sandbox ID: of one sandbox)"},
	{"get", execution_get, "show one execution: status, exit code, reason, times"},
	{"cancel", execution_cancel, "signal an execution's process group (--signal N|NAME, default INT)"},
	{"logs", execution_logs,
	 "print an execution's output (--follow: until it exits; exit with its code)"},
	{"attach", execution_attach, "reattach: its output, your stdin and terminal (detach: Ctrl-P Ctrl-Q)"},
	{NULL, NULL, NULL},
};

int cmd_execution(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: cleanroom execution COMMAND [--host ENDPOINT] [--json] ...\n\nCommands:\n");
		cr_cli_print_commands(stdout, "cleanroom execution", execution_commands);
		return CR_EXIT_OK;
	}
	return cr_cli_dispatch("cleanroom execution", execution_commands, argc, argv);
}

/* Options of the execution commands besides --host and --json. */
typedef struct exec_opts {
	const char *cmd;
	const char *sandbox;     /* --sandbox */
	int signal;              /* --signal; 0 = the server's default (SIGINT) */
	bool follow;             /* --follow */
	const char *detach_keys; /* --detach-keys */
} exec_opts;

static int on_opt(void *ctx, int val, const char *arg)
{
	exec_opts *x = ctx;
	if (val == OPT_SANDBOX) {
		x->sandbox = arg;
	} else if (val == 'f') {
		x->follow = true;
	} else if (val == 'k') {
		x->detach_keys = arg;
	} else if (val == 's') {
		x->signal = cr_parse_signal(arg);
		if (x->signal < 0)
			return cr_cli_usage_error(x->cmd,
						  "unknown signal '%s' (a number or a name like TERM)", arg),
			       -1;
	}
	return 0;
}

static void status_name(char *buf, size_t n, int status)
{
	cr_fmt_enum(buf, n, &cleanroom__v1__execution_status__descriptor, status);
}

static bool terminal(int status)
{
	return status >= CLEANROOM__V1__EXECUTION_STATUS__EXECUTION_STATUS_SUCCEEDED;
}

/* Seconds the execution ran (so far, when it still runs); -1 when unknown. */
static int64_t ran_for(const Cleanroom__V1__Execution *e, int64_t now)
{
	int64_t start = cr_ts_seconds(e->started_at), end = cr_ts_seconds(e->finished_at);
	if (!start)
		return -1;
	return (end ? end : now) - start;
}

/* ---- ls ---- */

static void print_executions(const Cleanroom__V1__ListExecutionsResponse *l)
{
	cr_table t;
	cr_table_init(&t, 8,
		      (const char *const[]){"EXECUTION", "SANDBOX", "STATUS", "EXIT", "STARTED", "DURATION",
					    "REASON", "COMMAND"});
	int64_t now = time(NULL);
	for (size_t i = 0; i < l->n_executions; i++) {
		const Cleanroom__V1__Execution *e = l->executions[i];
		char st[32], code[16], started[32], dur[32];
		status_name(st, sizeof(st), e->status);
		snprintf(code, sizeof(code), "%d", e->exit_code);
		cr_fmt_age(started, sizeof(started), now, cr_ts_seconds(e->started_at));
		int64_t d = ran_for(e, now);
		cr_fmt_duration(dur, sizeof(dur), d);
		cleanup_free char *command = cr_fmt_argv(e->command, e->n_command);
		cr_table_add(&t, (const char *const[]){e->execution_id, e->sandbox_id, st,
						       terminal(e->status) ? code : NULL, started,
						       d < 0 ? NULL : dur, *e->reason ? e->reason : NULL,
						       command});
	}
	cr_table_print(&t, stdout);
	cr_table_clear(&t);
}

static int execution_ls(int argc, char **argv)
{
	exec_opts x = {.cmd = "cleanroom execution ls"};
	static const cr_cli_opt extra[] = {{"sandbox", true, OPT_SANDBOX}, {0}};
	cr_cli_opts o = {0};
	int first = cr_cli_parse_opts(argc, argv, x.cmd,
				      "cleanroom execution ls [--sandbox ID] [--host ENDPOINT] [--json]", &o,
				      extra, on_opt, &x);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (first < argc)
		return cr_cli_usage_error(x.cmd, "unexpected argument '%s'", argv[first]);
	cr_remote r;
	if (cr_remote_open(&r, x.cmd, &o) < 0)
		return CR_EXIT_FAIL;
	r.not_found_hint = "`cleanroom sandbox ls --all` lists the sandboxes this server knows";
	Cleanroom__V1__ListExecutionsRequest req = CLEANROOM__V1__LIST_EXECUTIONS_REQUEST__INIT;
	req.sandbox_id = (char *)(x.sandbox ? x.sandbox : "");
	ProtobufCMessage *resp = NULL;
	int rc = CR_EXIT_FAIL;
	if (cr_remote_unary(&r, CR_EXECUTION_SERVICE, "ListExecutions", &req.base,
			    &cleanroom__v1__list_executions_response__descriptor, &resp) == 0) {
		if (o.json)
			rc = cr_cli_print_json(x.cmd, resp) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
		else
			print_executions((const void *)resp), rc = CR_EXIT_OK;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	cr_remote_close(&r);
	return rc;
}

/* ---- naming one execution ---- */

/* The operands [SANDBOX] EXEC, or EXEC with --sandbox. */
static int exec_operands(exec_opts *x, int argc, char **argv, int first, const char **exec_id)
{
	if (argc - first == 2 && !x->sandbox) {
		x->sandbox = argv[first];
		*exec_id = argv[first + 1];
		return 0;
	}
	if (argc - first != 1)
		return cr_cli_usage_error(x->cmd,
					  "expected an execution ID (optionally after its sandbox ID)");
	*exec_id = argv[first];
	return 0;
}

/* The sandbox of exec_id: --sandbox as given, else looked up in
 * ListExecutions. Returns an owned id, or NULL after printing the error. */
static char *sandbox_of(cr_remote *r, const exec_opts *x, const char *exec_id)
{
	if (x->sandbox)
		return cr_xstrdup(x->sandbox);
	Cleanroom__V1__ListExecutionsRequest req = CLEANROOM__V1__LIST_EXECUTIONS_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	if (cr_remote_unary(r, CR_EXECUTION_SERVICE, "ListExecutions", &req.base,
			    &cleanroom__v1__list_executions_response__descriptor, &resp) < 0)
		return NULL;
	const Cleanroom__V1__ListExecutionsResponse *l = (const void *)resp;
	char *sandbox = NULL;
	for (size_t i = 0; i < l->n_executions && !sandbox; i++)
		if (strcmp(l->executions[i]->execution_id, exec_id) == 0)
			sandbox = cr_xstrdup(l->executions[i]->sandbox_id);
	protobuf_c_message_free_unpacked(resp, NULL);
	if (!sandbox) {
		cleanup_free char *msg = cr_asprintf("execution '%s' is not known to the server", exec_id);
		cr_cli_print_error(x->cmd, "not_found", msg, NOT_FOUND_HINT);
	}
	return sandbox;
}

/* Parses the options and operands of get/cancel/logs and connects. */
static int open_exec(exec_opts *x, const char *usage, const cr_cli_opt *extra, int argc, char **argv,
		     cr_remote *r, const char **exec_id, char **sandbox)
{
	cr_cli_opts o = {0};
	int first = cr_cli_parse_opts(argc, argv, x->cmd, usage, &o, extra, on_opt, x);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (exec_operands(x, argc, argv, first, exec_id) != 0)
		return CR_EXIT_USAGE;
	if (cr_remote_open(r, x->cmd, &o) < 0)
		return CR_EXIT_FAIL;
	r->not_found_hint = NOT_FOUND_HINT;
	*sandbox = sandbox_of(r, x, *exec_id);
	if (!*sandbox) {
		cr_remote_close(r);
		return CR_EXIT_FAIL;
	}
	return -1; /* go on */
}

/* ---- get ---- */

static void print_execution(const Cleanroom__V1__Execution *e)
{
	int64_t now = time(NULL);
	char st[32], code[16], sig[16], started[32], finished[32], dur[32], timeout[32];
	status_name(st, sizeof(st), e->status);
	snprintf(code, sizeof(code), "%d", e->exit_code);
	snprintf(sig, sizeof(sig), "%d", e->term_signal);
	cr_fmt_time(started, sizeof(started), e->started_at);
	cr_fmt_time(finished, sizeof(finished), e->finished_at);
	int64_t d = ran_for(e, now);
	cr_fmt_duration(dur, sizeof(dur), d);
	cr_fmt_duration(timeout, sizeof(timeout), e->timeout_seconds);
	cleanup_free char *command = cr_fmt_argv(e->command, e->n_command);
	const char *kv[] = {
		"execution", e->execution_id,
		"sandbox",   e->sandbox_id,
		"status",    st,
		"exit_code", terminal(e->status) ? code : NULL,
		"signal",    e->term_signal ? sig : NULL,
		"reason",    *e->reason ? e->reason : NULL,
		"message",   *e->message ? e->message : NULL,
		"command",   command,
		"started",   started,
		"finished",  terminal(e->status) ? finished : NULL,
		"duration",  d < 0 ? NULL : dur,
		"timeout",   e->timeout_seconds ? timeout : "none",
		"tty",       e->tty ? "yes" : "no",
		"run_id",    e->run_id,
		"actor",     e->actor,
	};
	cr_print_fields(stdout, kv, sizeof(kv) / sizeof(kv[0]) / 2);
}

/* GetExecution; NULL after a failure (already reported by the remote). */
static ProtobufCMessage *get_execution(cr_remote *r, char *sandbox, const char *exec_id)
{
	Cleanroom__V1__GetExecutionRequest req = CLEANROOM__V1__GET_EXECUTION_REQUEST__INIT;
	req.sandbox_id = sandbox;
	req.execution_id = (char *)exec_id;
	ProtobufCMessage *resp = NULL;
	if (cr_remote_unary(r, CR_EXECUTION_SERVICE, "GetExecution", &req.base,
			    &cleanroom__v1__get_execution_response__descriptor, &resp) < 0)
		return NULL;
	return resp;
}

static int execution_get(int argc, char **argv)
{
	exec_opts x = {.cmd = "cleanroom execution get"};
	static const cr_cli_opt extra[] = {{"sandbox", true, OPT_SANDBOX}, {0}};
	cr_remote r;
	const char *exec_id = NULL;
	cleanup_free char *sandbox = NULL;
	int early = open_exec(
		&x, "cleanroom execution get [SANDBOX] EXEC [--sandbox ID] [--host ENDPOINT] [--json]", extra,
		argc, argv, &r, &exec_id, &sandbox);
	if (early >= 0)
		return early;
	ProtobufCMessage *resp = get_execution(&r, sandbox, exec_id);
	int rc = CR_EXIT_FAIL;
	if (resp) {
		const Cleanroom__V1__GetExecutionResponse *g = (const void *)resp;
		if (r.opts.json)
			rc = cr_cli_print_json(x.cmd, resp) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
		else if (g->execution)
			print_execution(g->execution), rc = CR_EXIT_OK;
		else
			cr_cli_print_error(x.cmd, "internal", "the server answered without an execution",
					   NULL);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	cr_remote_close(&r);
	return rc;
}

/* ---- cancel ---- */

static int execution_cancel(int argc, char **argv)
{
	exec_opts x = {.cmd = "cleanroom execution cancel"};
	static const cr_cli_opt extra[] = {{"sandbox", true, OPT_SANDBOX}, {"signal", true, 's'}, {0}};
	cr_remote r;
	const char *exec_id = NULL;
	cleanup_free char *sandbox = NULL;
	int early = open_exec(&x,
			      "cleanroom execution cancel [SANDBOX] EXEC [--signal N|NAME] [--sandbox ID] "
			      "[--host ENDPOINT] [--json]",
			      extra, argc, argv, &r, &exec_id, &sandbox);
	if (early >= 0)
		return early;
	Cleanroom__V1__CancelExecutionRequest req = CLEANROOM__V1__CANCEL_EXECUTION_REQUEST__INIT;
	req.sandbox_id = sandbox;
	req.execution_id = (char *)exec_id;
	req.signal = x.signal;
	ProtobufCMessage *resp = NULL;
	int rc = CR_EXIT_FAIL;
	if (cr_remote_unary(&r, CR_EXECUTION_SERVICE, "CancelExecution", &req.base,
			    &cleanroom__v1__cancel_execution_response__descriptor, &resp) == 0) {
		const Cleanroom__V1__CancelExecutionResponse *c = (const void *)resp;
		char st[32];
		status_name(st, sizeof(st), c->status);
		const char *abbrev = sigabbrev_np(x.signal ? x.signal : 2);
		if (r.opts.json)
			rc = cr_cli_print_json(x.cmd, resp) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
		else if (c->accepted)
			printf("%s: sent SIG%s (status %s)\n", exec_id, abbrev ? abbrev : "?", st),
				rc = CR_EXIT_OK;
		else
			printf("%s: not signalled, already %s\n", exec_id, st), rc = CR_EXIT_OK;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	cr_remote_close(&r);
	return rc;
}

/* ---- logs ---- */

typedef struct logs_ctx {
	const cr_remote *r;
	bool exited;
	int exit_code;
	bool write_failed;
} logs_ctx;

static int on_event(void *ctx, const ProtobufCMessage *msg)
{
	logs_ctx *k = ctx;
	const Cleanroom__V1__ExecutionStreamEvent *e = (const void *)msg;
	if (e->payload_case == CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_EXIT && e->exit) {
		k->exited = true;
		k->exit_code = e->exit->exit_code;
	}
	if (k->r->opts.json) {
		int rc = cr_cli_print_json(k->r->cmd, msg);
		fflush(stdout);
		return rc;
	}
	int fd = e->payload_case == CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDOUT   ? STDOUT_FILENO
		 : e->payload_case == CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDERR ? STDERR_FILENO
											    : -1;
	if (fd < 0)
		return 0;
	const ProtobufCBinaryData *b = fd == STDOUT_FILENO ? &e->stdout : &e->stderr;
	if (cr_write_all(fd, b->data, b->len) < 0) {
		k->write_failed = true;
		return 1;
	}
	return 0;
}

/* The execution's exit code as this process's: 0..255 as a shell shows it. */
static int process_exit(int code)
{
	return code < 0 || code > 255 ? CR_EXIT_FAIL : code;
}

static int execution_logs(int argc, char **argv)
{
	exec_opts x = {.cmd = "cleanroom execution logs"};
	static const cr_cli_opt extra[] = {{"sandbox", true, OPT_SANDBOX}, {"follow", false, 'f'}, {0}};
	cr_remote r;
	const char *exec_id = NULL;
	cleanup_free char *sandbox = NULL;
	int early = open_exec(&x,
			      "cleanroom execution logs [SANDBOX] EXEC [--follow] [--sandbox ID] [--host "
			      "ENDPOINT] [--json]",
			      extra, argc, argv, &r, &exec_id, &sandbox);
	if (early >= 0)
		return early;
	cr_remote_catch_interrupts();
	Cleanroom__V1__StreamExecutionRequest req = CLEANROOM__V1__STREAM_EXECUTION_REQUEST__INIT;
	req.sandbox_id = sandbox;
	req.execution_id = (char *)exec_id;
	req.follow = x.follow;
	logs_ctx k = {.r = &r};
	int s = cr_remote_stream(&r, CR_EXECUTION_SERVICE, "StreamExecution", &req.base,
				 &cleanroom__v1__execution_stream_event__descriptor, on_event,
				 cr_remote_interrupted, &k);
	cr_remote_close(&r);
	if (s == 1 && cr_remote_interrupted(NULL))
		return 130; /* 128 + SIGINT, as a shell reports it */
	if (s != 0)
		return CR_EXIT_FAIL;
	if (k.exited)
		return process_exit(k.exit_code);
	if (x.follow) {
		cr_cli_print_error(x.cmd, "internal", "the stream ended before the execution did", NULL);
		return CR_EXIT_FAIL;
	}
	return CR_EXIT_OK; /* still running: the output so far */
}

/* ---- attach ---- */

/* With --json: the session's outcome as the last line of stdout. */
static void print_attach_record(const Cleanroom__V1__Execution *e, const cr_interactive_result *res, int rc)
{
	json_t *j = json_pack("{s:s, s:s, s:b, s:b}", "sandbox_id", e->sandbox_id, "execution_id",
			      e->execution_id, "detached", res->detached, "ended", res->got_exit);
	json_object_set_new(j, "status",
			    res->got_exit ? json_string(cr_execution_status_name(res->status)) : json_null());
	json_object_set_new(j, "exit_code", res->got_exit ? json_integer(res->exit_code) : json_null());
	json_object_set_new(j, "reason",
			    res->reason && *res->reason ? json_string(res->reason) : json_null());
	json_object_set_new(j, "message",
			    res->message && *res->message ? json_string(res->message) : json_null());
	json_object_set_new(j, "error", json_boolean(rc < 0));
	json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(j);
}

/* The session on the execution; returns the exit status. */
static int attach_session(const exec_opts *x, cr_remote *r, const Cleanroom__V1__Execution *e,
			  const cr_detach_keys *keys)
{
	cr_interactive o = {.prog = x->cmd,
			    .sandbox_id = e->sandbox_id,
			    .execution_id = e->execution_id,
			    .forward_stdin = true,
			    .tty = e->tty && cr_interactive_stdin_is_tty(),
			    .keys = keys};
	cr_interactive_result res;
	cleanup_error cr_error *err = NULL;
	int rc = cr_interactive_run(r->client, &o, &res, &err);
	int code = res.detached ? 130 : process_exit(res.exit_code);
	if (r->opts.json)
		print_attach_record(e, &res, rc);
	if (rc < 0) {
		const char *name = cr_connect_code_name((cr_connect_code)res.code);
		cr_cli_print_error(x->cmd,
				   err->reason == CR_REASON_INTERNAL && name ? name
									     : cr_reason_name(err->reason),
				   err->msg, res.code == CR_CONNECT_NOT_FOUND ? NOT_FOUND_HINT : NULL);
		code = CR_EXIT_FAIL;
	}
	cr_interactive_result_clear(&res);
	return code;
}

static int execution_attach(int argc, char **argv)
{
	exec_opts x = {.cmd = "cleanroom execution attach"};
	static const cr_cli_opt extra[] = {{"sandbox", true, OPT_SANDBOX}, {"detach-keys", true, 'k'}, {0}};
	cr_remote r;
	const char *exec_id = NULL;
	cleanup_free char *sandbox = NULL;
	int early = open_exec(&x,
			      "cleanroom execution attach [SANDBOX] EXEC [--sandbox ID] [--detach-keys KEYS] "
			      "[--host ENDPOINT]",
			      extra, argc, argv, &r, &exec_id, &sandbox);
	if (early >= 0)
		return early;
	cr_detach_keys keys;
	cleanup_error cr_error *err = NULL;
	if (cr_detach_keys_parse(x.detach_keys ? x.detach_keys : CR_DETACH_KEYS_DEFAULT, &keys, &err) < 0) {
		cr_remote_close(&r);
		return cr_cli_usage_error(x.cmd, "--detach-keys: %s", err->msg);
	}
	ProtobufCMessage *resp = get_execution(&r, sandbox, exec_id);
	int rc = CR_EXIT_FAIL;
	if (resp) {
		const Cleanroom__V1__GetExecutionResponse *g = (const void *)resp;
		if (g->execution)
			rc = attach_session(&x, &r, g->execution, &keys);
		else
			cr_cli_print_error(x.cmd, "internal", "the server answered without an execution",
					   NULL);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	cr_remote_close(&r);
	return rc;
}
