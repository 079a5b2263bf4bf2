/* SPDX-License-Identifier: Apache-2.0 */
/* exec_report.c -- what `cleanroom exec` itself says: one error line with
 * the stable reason code plus a hint (spec §8.1), and the --json record,
 * printed as the last line of stdout after the workload's own output. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cleanroom/v1/execution.pb-c.h"
#include "cli/exec.h"
#include "connect/connect.h"
#include "server/util.h"
#include "util/fileio.h"

static const struct {
	cr_reason reason;
	const char *hint;
} hints[] = {
	{CR_REASON_POLICY_INVALID, "nothing was created; 'cleanroom policy validate' lists every problem"},
	{CR_REASON_POLICY_CONFLICT, "nothing was created; 'cleanroom policy validate' lists every problem"},
	{CR_REASON_BACKEND_CAPABILITY_MISMATCH,
	 "the server's backend cannot enforce this policy, so nothing was started; 'cleanroom doctor' "
	 "shows what the backend supports"},
	{CR_REASON_BACKEND_UNAVAILABLE, "'cleanroom doctor' checks the server's backends on this host"},
	{CR_REASON_RUNTIME_LAUNCH_FAILED,
	 "the server's log says what failed; 'cleanroom doctor' checks the host"},
	{CR_REASON_USAGE_INVALID, "run 'cleanroom exec --help' for usage"},
	{CR_REASON_SANDBOX_EXPIRED,
	 "the sandbox reached its time to live; run without --sandbox-id for a new one"},
	{CR_REASON_SANDBOX_LOST, "the sandbox is gone; run without --sandbox-id for a new one"},
};

static int last_stdout_byte = '\n';

void cr_exec_note_stdout(const void *data, size_t len)
{
	if (len)
		last_stdout_byte = ((const unsigned char *)data)[len - 1];
}

const char *cr_exec_error_code(const cr_exec_run *r, const cr_error *e)
{
	int code = r->client ? cr_client_last_code(r->client) : CR_CONNECT_OK;
	if (e->reason == CR_REASON_INTERNAL && code != CR_CONNECT_OK && code != CR_CONNECT_INTERNAL &&
	    code != CR_CONNECT_UNKNOWN && cr_connect_code_name((cr_connect_code)code))
		return cr_connect_code_name((cr_connect_code)code);
	return cr_reason_name(e->reason);
}

void cr_exec_print_error(const cr_exec_run *r, const cr_error *e, bool unreachable)
{
	fprintf(stderr, "%s: error[%s]: %s\n", CR_EXEC_CMD, cr_exec_error_code(r, e), e->msg);
	const char *hint = "see docs/reason-codes.md for what the code means";
	for (size_t i = 0; i < sizeof(hints) / sizeof(hints[0]); i++)
		if (hints[i].reason == e->reason)
			hint = hints[i].hint;
	if (r->client && cr_client_last_code(r->client) == CR_CONNECT_NOT_FOUND)
		hint = "'cleanroom sandbox ls' lists the sandboxes this server knows";
	if (unreachable)
		hint = r->endpoint_explicit
			       ? "start one with 'cleanroom serve', or point --host / $CLEANROOM_HOST "
				 "at a running server"
			       : "start one with 'cleanroom serve'";
	fprintf(stderr, "  hint: %s\n", hint);
}

static json_t *opt_string(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *ms(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

static json_t *timings(const cr_exec_run *r)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "compile", ms(r->t_ms[CR_EXEC_T_COMPILE]),
			 "create_sandbox", ms(r->t_ms[CR_EXEC_T_CREATE]), "upload",
			 ms(r->t_ms[CR_EXEC_T_UPLOAD]), "execution", ms(r->t_ms[CR_EXEC_T_EXECUTION]),
			 "total", ms(r->t_ms[CR_EXEC_T_TOTAL]));
}

/* status: the execution's, "detached" after a detach, "error" when exec failed. */
static const char *record_status(const cr_exec_run *r, const cr_error *e)
{
	if (r->detached)
		return "detached";
	if (e || !r->got_exit)
		return "error";
	return cr_execution_status_name(r->status);
}

void cr_exec_print_record(const cr_exec_run *r, const cr_error *e)
{
	json_t *o = json_pack("{s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:b}", "sandbox_id",
			      opt_string(r->sandbox_id), "execution_id", opt_string(r->execution_id),
			      "run_id", opt_string(r->run_id), "status", record_status(r, e), "exit_code",
			      r->got_exit ? json_integer(r->exit_code) : json_null(), "policy_hash",
			      opt_string(r->policy_hash), "reason", opt_string(r->reason), "message",
			      opt_string(r->message), "timings_ms", timings(r), "sandbox_kept", r->kept,
			      "detached", r->detached);
	if (!o) /* a field that is not UTF-8 */
		o = json_pack("{s:s}", "status", "error");
	if (e)
		json_object_set_new(
			o, "error",
			json_pack("{s:s, s:s}", "reason_code", cr_exec_error_code(r, e), "message", e->msg));
	char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	if (!text)
		return;
	if (last_stdout_byte != '\n')
		cr_write_all(1, "\n", 1);
	cr_write_all(1, text, strlen(text));
	cr_write_all(1, "\n", 1);
	free(text);
}
