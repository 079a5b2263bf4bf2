/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox_cmd.c -- `cleanroom sandbox ls|get|rm|events|cp`: listing,
 * inspecting, terminating and watching the server's sandboxes
 * (SandboxService); `cp` is in sandbox_cp.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cleanroom/v1/sandbox.pb-c.h"
#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "cli/remote.h"
#include "cli/sandbox_cp.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define NOT_FOUND_HINT "`cleanroom sandbox ls --all` lists the sandboxes this server knows"

static int sandbox_ls(int argc, char **argv);
static int sandbox_get(int argc, char **argv);
static int sandbox_rm(int argc, char **argv);
static int sandbox_events(int argc, char **argv);

static const cr_cli_command sandbox_commands[] = {
	{"ls", sandbox_ls, "list sandboxes (--all: also stopped and failed ones)"},
	{"get", sandbox_get, "show one sandbox: status, reason, policy hash, times"},
	{"rm", sandbox_rm, "terminate sandboxes: ID..."},
	{"events", sandbox_events, "show a sandbox's status changes (--follow: until it stops)"},
	{"cp", cmd_sandbox_cp, "copy a file out (ID:PATH LOCAL) or files in (LOCAL ID:DIR)"},
	{NULL, NULL, NULL},
};

int cmd_sandbox(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: cleanroom sandbox COMMAND [--host ENDPOINT] [--json] ...\n\nCommands:\n");
		cr_cli_print_commands(stdout, "cleanroom sandbox", sandbox_commands);
		return CR_EXIT_OK;
	}
	return cr_cli_dispatch("cleanroom sandbox", sandbox_commands, argc, argv);
}

static int set_flag(void *ctx, int val, const char *arg)
{
	(void)val, (void)arg;
	*(bool *)ctx = true;
	return 0;
}

static void status_name(char *buf, size_t n, int status)
{
	cr_fmt_enum(buf, n, &cleanroom__v1__sandbox_status__descriptor, status);
}

static bool terminal(int status)
{
	return status == CLEANROOM__V1__SANDBOX_STATUS__SANDBOX_STATUS_STOPPED ||
	       status == CLEANROOM__V1__SANDBOX_STATUS__SANDBOX_STATUS_FAILED;
}

/* ---- ls ---- */

static void print_sandboxes(const Cleanroom__V1__ListSandboxesResponse *l)
{
	cr_table t;
	cr_table_init(&t, 8,
		      (const char *const[]){"SANDBOX", "STATUS", "BACKEND", "CREATED", "EXPIRES", "RUN",
					    "POLICY", "REASON"});
	int64_t now = time(NULL);
	for (size_t i = 0; i < l->n_sandboxes; i++) {
		const Cleanroom__V1__Sandbox *s = l->sandboxes[i];
		char st[32], created[32], expires[32], hash[32];
		status_name(st, sizeof(st), s->status);
		cr_fmt_age(created, sizeof(created), now, cr_ts_seconds(s->created_at));
		/* a stopped sandbox does not expire any more */
		cr_fmt_age(expires, sizeof(expires), now,
			   terminal(s->status) ? 0 : cr_ts_seconds(s->expires_at));
		cr_fmt_short_hash(hash, sizeof(hash), s->policy_hash);
		cr_table_add(&t, (const char *const[]){s->sandbox_id, st, s->backend, created, expires,
						       *s->run_id ? s->run_id : NULL, hash,
						       *s->reason ? s->reason : NULL});
	}
	cr_table_print(&t, stdout);
	cr_table_clear(&t);
}

static int sandbox_ls(int argc, char **argv)
{
	static const char cmd[] = "cleanroom sandbox ls";
	static const cr_cli_opt extra[] = {{"all", false, 'a'}, {0}};
	cr_cli_opts o = {0};
	bool all = false;
	int first =
		cr_cli_parse_opts(argc, argv, cmd, "cleanroom sandbox ls [--all] [--host ENDPOINT] [--json]",
				  &o, extra, set_flag, &all);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (first < argc)
		return cr_cli_usage_error(cmd, "unexpected argument '%s'", argv[first]);
	cr_remote r;
	if (cr_remote_open(&r, cmd, &o) < 0)
		return CR_EXIT_FAIL;
	Cleanroom__V1__ListSandboxesRequest req = CLEANROOM__V1__LIST_SANDBOXES_REQUEST__INIT;
	req.include_terminated = all;
	ProtobufCMessage *resp = NULL;
	int rc = CR_EXIT_FAIL;
	if (cr_remote_unary(&r, CR_SANDBOX_SERVICE, "ListSandboxes", &req.base,
			    &cleanroom__v1__list_sandboxes_response__descriptor, &resp) == 0) {
		if (o.json)
			rc = cr_cli_print_json(cmd, resp) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
		else
			print_sandboxes((const void *)resp), rc = CR_EXIT_OK;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	cr_remote_close(&r);
	return rc;
}

/* ---- get ---- */

static void print_sandbox(const Cleanroom__V1__Sandbox *s)
{
	int64_t now = time(NULL);
	char st[32], ct[32], ca[32], ut[32], ua[32], et[32], ea[32];
	status_name(st, sizeof(st), s->status);
	cr_fmt_time(ct, sizeof(ct), s->created_at);
	cr_fmt_age(ca, sizeof(ca), now, cr_ts_seconds(s->created_at));
	cr_fmt_time(ut, sizeof(ut), s->updated_at);
	cr_fmt_age(ua, sizeof(ua), now, cr_ts_seconds(s->updated_at));
	cr_fmt_time(et, sizeof(et), s->expires_at);
	cr_fmt_age(ea, sizeof(ea), now, cr_ts_seconds(s->expires_at));
	cleanup_free char *created = cr_asprintf("%s (%s)", ct, ca);
	cleanup_free char *updated = cr_asprintf("%s (%s)", ut, ua);
	cleanup_free char *expires =
		s->expires_at && !terminal(s->status) ? cr_asprintf("%s (%s)", et, ea) : NULL;
	const char *kv[] = {
		"sandbox",     s->sandbox_id,
		"status",      st,
		"reason",      *s->reason ? s->reason : NULL,
		"message",     *s->message ? s->message : NULL,
		"backend",     s->backend,
		"policy_hash", s->policy_hash,
		"run_id",      s->run_id,
		"actor",       s->actor,
		"created",     created,
		"updated",     updated,
		"expires",     expires ? expires : terminal(s->status) ? "-" : "never",
	};
	cr_print_fields(stdout, kv, sizeof(kv) / sizeof(kv[0]) / 2);
}

static int sandbox_get(int argc, char **argv)
{
	static const char cmd[] = "cleanroom sandbox get";
	cr_cli_opts o = {0};
	int first = cr_cli_parse_opts(argc, argv, cmd, "cleanroom sandbox get ID [--host ENDPOINT] [--json]",
				      &o, NULL, NULL, NULL);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (argc - first != 1)
		return cr_cli_usage_error(cmd, "expected one sandbox ID");
	cr_remote r;
	if (cr_remote_open(&r, cmd, &o) < 0)
		return CR_EXIT_FAIL;
	r.not_found_hint = NOT_FOUND_HINT;
	Cleanroom__V1__GetSandboxRequest req = CLEANROOM__V1__GET_SANDBOX_REQUEST__INIT;
	req.sandbox_id = argv[first];
	ProtobufCMessage *resp = NULL;
	int rc = CR_EXIT_FAIL;
	if (cr_remote_unary(&r, CR_SANDBOX_SERVICE, "GetSandbox", &req.base,
			    &cleanroom__v1__get_sandbox_response__descriptor, &resp) == 0) {
		const Cleanroom__V1__GetSandboxResponse *g = (const void *)resp;
		if (o.json)
			rc = cr_cli_print_json(cmd, resp) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
		else if (g->sandbox)
			print_sandbox(g->sandbox), rc = CR_EXIT_OK;
		else
			cr_cli_print_error(cmd, "internal", "the server answered without a sandbox", NULL);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	cr_remote_close(&r);
	return rc;
}

/* ---- rm ---- */

static int terminate_one(cr_remote *r, const char *id)
{
	Cleanroom__V1__TerminateSandboxRequest req = CLEANROOM__V1__TERMINATE_SANDBOX_REQUEST__INIT;
	req.sandbox_id = (char *)id;
	ProtobufCMessage *resp = NULL;
	if (cr_remote_unary(r, CR_SANDBOX_SERVICE, "TerminateSandbox", &req.base,
			    &cleanroom__v1__terminate_sandbox_response__descriptor, &resp) < 0)
		return -1;
	const Cleanroom__V1__TerminateSandboxResponse *t = (const void *)resp;
	int rc = 0;
	if (r->opts.json) {
		rc = cr_cli_print_json(r->cmd, resp);
	} else {
		cleanup_free char *sid = cr_fmt_sanitize(*t->sandbox_id ? t->sandbox_id : id);
		cleanup_free char *msg = cr_fmt_sanitize(t->message);
		const char *state = t->terminated ? "terminated" : "not terminated yet";
		bool extra = *msg && strcmp(msg, state) != 0;
		printf("%s: %s%s%s%s\n", sid, state, extra ? " (" : "", extra ? msg : "", extra ? ")" : "");
	}
	protobuf_c_message_free_unpacked(resp, NULL);
	return rc;
}

static int sandbox_rm(int argc, char **argv)
{
	static const char cmd[] = "cleanroom sandbox rm";
	cr_cli_opts o = {0};
	int first =
		cr_cli_parse_opts(argc, argv, cmd, "cleanroom sandbox rm ID... [--host ENDPOINT] [--json]",
				  &o, NULL, NULL, NULL);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (first == argc)
		return cr_cli_usage_error(cmd, "expected at least one sandbox ID");
	cr_remote r;
	if (cr_remote_open(&r, cmd, &o) < 0)
		return CR_EXIT_FAIL;
	r.not_found_hint = NOT_FOUND_HINT;
	int rc = CR_EXIT_OK;
	for (int i = first; i < argc; i++) {
		if (terminate_one(&r, argv[i]) < 0)
			rc = CR_EXIT_FAIL;
		if (cr_remote_unreachable(&r))
			break; /* one "no server" line is enough */
	}
	cr_remote_close(&r);
	return rc;
}

/* ---- events ---- */

static int print_event(void *ctx, const ProtobufCMessage *msg)
{
	const cr_remote *r = ctx;
	if (r->opts.json) {
		int rc = cr_cli_print_json(r->cmd, msg);
		fflush(stdout);
		return rc;
	}
	const Cleanroom__V1__SandboxEvent *e = (const void *)msg;
	char when[32], st[32];
	cr_fmt_time(when, sizeof(when), e->occurred_at);
	status_name(st, sizeof(st), e->status);
	cleanup_free char *reason = cr_fmt_sanitize(e->reason);
	cleanup_free char *text = cr_fmt_sanitize(e->message);
	printf("%-20s  %-12s  %s%s%s%s\n", when, st, *reason ? "[" : "", reason, *reason ? "] " : "", text);
	fflush(stdout);
	return 0;
}

static int sandbox_events(int argc, char **argv)
{
	static const char cmd[] = "cleanroom sandbox events";
	static const cr_cli_opt extra[] = {{"follow", false, 'f'}, {0}};
	cr_cli_opts o = {0};
	bool follow = false;
	int first = cr_cli_parse_opts(argc, argv, cmd,
				      "cleanroom sandbox events ID [--follow] [--host ENDPOINT] [--json]", &o,
				      extra, set_flag, &follow);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (argc - first != 1)
		return cr_cli_usage_error(cmd, "expected one sandbox ID");
	cr_remote r;
	if (cr_remote_open(&r, cmd, &o) < 0)
		return CR_EXIT_FAIL;
	r.not_found_hint = NOT_FOUND_HINT;
	cr_remote_catch_interrupts();
	Cleanroom__V1__StreamSandboxEventsRequest req = CLEANROOM__V1__STREAM_SANDBOX_EVENTS_REQUEST__INIT;
	req.sandbox_id = argv[first];
	req.follow = follow;
	int s = cr_remote_stream(&r, CR_SANDBOX_SERVICE, "StreamSandboxEvents", &req.base,
				 &cleanroom__v1__sandbox_event__descriptor, print_event,
				 cr_remote_interrupted, &r);
	cr_remote_close(&r);
	if (s == 1 && cr_remote_interrupted(NULL))
		return 130; /* 128 + SIGINT, as a shell reports it */
	return s == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
}
