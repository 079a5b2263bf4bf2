/* SPDX-License-Identifier: Apache-2.0 */
/* audit_cmd.c -- `cleanroom audit ls`: the server's audit events, oldest
 * first, filtered by run, sandbox, execution, kind and reason code
 * (AdminService.QueryAudit). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "cli/remote.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define CMD "cleanroom audit ls"
#define USAGE                                                                                        \
	CMD " [--run ID] [--sandbox ID] [--execution ID] [--kind KIND] [--reason CODE] [--limit N] " \
	    "[--after SEQ] [--host ENDPOINT] [--json]"

enum { OPT_RUN = 256, OPT_SANDBOX, OPT_EXECUTION, OPT_KIND, OPT_REASON, OPT_LIMIT, OPT_AFTER };

static int parse_u64(const char *arg, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (!*arg || *arg == '-' || *end || errno || v > max)
		return -1;
	*out = v;
	return 0;
}

static int on_opt(void *ctx, int val, const char *arg)
{
	Cleanroom__V1__QueryAuditRequest *q = ctx;
	uint64_t v;
	switch (val) {
	case OPT_RUN: q->run_id = (char *)arg; return 0;
	case OPT_SANDBOX: q->sandbox_id = (char *)arg; return 0;
	case OPT_EXECUTION: q->execution_id = (char *)arg; return 0;
	case OPT_KIND: q->kind = (char *)arg; return 0;
	case OPT_REASON: q->reason_code = (char *)arg; return 0;
	case OPT_LIMIT:
		if (parse_u64(arg, UINT32_MAX, &v) < 0 || v == 0)
			return cr_cli_usage_error(CMD, "--limit takes a positive number, not '%s'", arg), -1;
		q->limit = (uint32_t)v;
		return 0;
	case OPT_AFTER:
		if (parse_u64(arg, UINT64_MAX, &v) < 0)
			return cr_cli_usage_error(CMD, "--after takes a sequence number, not '%s'", arg), -1;
		q->after_seq = v;
		return 0;
	default: return -1;
	}
}

/* "host=api.example.com port=443" (sorted as the server sent them). */
static char *detail_text(const Cleanroom__V1__AuditEvent *e)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, SIZE_MAX / 2);
	for (size_t i = 0; i < e->n_detail; i++)
		cr_buf_printf(&b, "%s%s=%s", i ? " " : "", e->detail[i]->key, e->detail[i]->value);
	return cr_buf_steal(&b, NULL);
}

static void print_events(const Cleanroom__V1__QueryAuditResponse *q)
{
	cr_table t;
	cr_table_init(&t, 8,
		      (const char *const[]){"SEQ", "TIME", "KIND", "REASON", "SANDBOX", "EXECUTION", "ACTOR",
					    "DETAIL"});
	for (size_t i = 0; i < q->n_events; i++) {
		const Cleanroom__V1__AuditEvent *e = q->events[i];
		char seq[24], when[32];
		snprintf(seq, sizeof(seq), "%" PRIu64, (uint64_t)e->seq);
		cr_fmt_time(when, sizeof(when), e->ts);
		cleanup_free char *detail = detail_text(e);
		cr_table_add(&t, (const char *const[]){seq, when, e->kind,
						       *e->reason_code ? e->reason_code : NULL,
						       *e->sandbox_id ? e->sandbox_id : NULL,
						       *e->execution_id ? e->execution_id : NULL,
						       *e->actor ? e->actor : NULL, *detail ? detail : NULL});
	}
	cr_table_print(&t, stdout);
	cr_table_clear(&t);
	if (q->truncated && q->n_events)
		fprintf(stderr, "%s: more events match; continue with --after %" PRIu64 "\n", CMD,
			(uint64_t)q->events[q->n_events - 1]->seq);
}

static int audit_ls(int argc, char **argv)
{
	static const cr_cli_opt extra[] = {
		{"run", true, OPT_RUN},
		{"sandbox", true, OPT_SANDBOX},
		{"execution", true, OPT_EXECUTION},
		{"kind", true, OPT_KIND},
		{"reason", true, OPT_REASON},
		{"limit", true, OPT_LIMIT},
		{"after", true, OPT_AFTER},
		{0},
	};
	Cleanroom__V1__QueryAuditRequest req = CLEANROOM__V1__QUERY_AUDIT_REQUEST__INIT;
	cr_cli_opts o = {0};
	int first = cr_cli_parse_opts(argc, argv, CMD, USAGE, &o, extra, on_opt, &req);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (first < argc)
		return cr_cli_usage_error(CMD, "unexpected argument '%s'", argv[first]);
	cr_remote r;
	if (cr_remote_open(&r, CMD, &o) < 0)
		return CR_EXIT_FAIL;
	ProtobufCMessage *resp = NULL;
	int rc = CR_EXIT_FAIL;
	if (cr_remote_unary(&r, CR_ADMIN_SERVICE, "QueryAudit", &req.base,
			    &cleanroom__v1__query_audit_response__descriptor, &resp) == 0) {
		if (o.json)
			rc = cr_cli_print_json(CMD, resp) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
		else
			print_events((const void *)resp), rc = CR_EXIT_OK;
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	cr_remote_close(&r);
	return rc;
}

static const cr_cli_command audit_commands[] = {
	{"ls", audit_ls, "list audit events (filters: --run --sandbox --execution --kind --reason)"},
	{NULL, NULL, NULL},
};

int cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		printf("Usage: cleanroom audit COMMAND [--host ENDPOINT] [--json] ...\n\nCommands:\n");
		cr_cli_print_commands(stdout, "cleanroom audit", audit_commands);
		return CR_EXIT_OK;
	}
	return cr_cli_dispatch("cleanroom audit", audit_commands, argc, argv);
}
