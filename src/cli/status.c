/* SPDX-License-Identifier: Apache-2.0 */
/* status.c -- `cleanroom status`: the server's version, endpoint, uptime,
 * counts and backends (AdminService.GetServerStatus). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "cli/remote.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define CMD   "cleanroom status"
#define USAGE CMD " [--host ENDPOINT] [--json]"

static char *backend_line(const Cleanroom__V1__BackendStatus *b)
{
	return cr_asprintf("%s (%s%s)%s%s", b->name, b->available ? "available" : "unavailable",
			   b->is_default ? ", default" : "", *b->detail ? ": " : "", b->detail);
}

static void print_status(const Cleanroom__V1__ServerStatus *st)
{
	char uptime[32], started[32], active[32], running[32], seq[32];
	cr_fmt_duration(uptime, sizeof(uptime), st->uptime_seconds);
	cr_fmt_time(started, sizeof(started), st->started_at);
	snprintf(active, sizeof(active), "%u active", st->sandboxes_active);
	snprintf(running, sizeof(running), "%u running", st->executions_running);
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)st->audit_seq);
	cleanup_free char *up = cr_asprintf("%s (since %s)", uptime, started);
	size_t n = 6 + (st->n_backends ? st->n_backends : 1);
	cleanup_free const char **kv = cr_xcalloc(2 * n, sizeof(char *));
	const char *fixed[] = {"version",   st->version, "endpoint",   st->endpoint, "uptime",    up,
			       "sandboxes", active,      "executions", running,      "audit seq", seq};
	memcpy(kv, fixed, sizeof(fixed));
	char **lines = cr_xcalloc(st->n_backends + 1, sizeof(char *));
	for (size_t i = 0; i < st->n_backends; i++) {
		lines[i] = backend_line(st->backends[i]);
		kv[12 + 2 * i] = i == 0 ? "backends" : "";
		kv[13 + 2 * i] = lines[i];
	}
	if (st->n_backends == 0)
		kv[12] = "backends", kv[13] = "(none)";
	cr_print_fields(stdout, kv, n);
	for (size_t i = 0; i < st->n_backends; i++)
		free(lines[i]);
	free(lines);
}

int cmd_status(int argc, char **argv)
{
	cr_cli_opts o = {0};
	int first = cr_cli_parse_opts(argc, argv, CMD, USAGE, &o, NULL, NULL, NULL);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (first < argc)
		return cr_cli_usage_error(CMD, "unexpected argument '%s'", argv[first]);
	cr_remote r;
	if (cr_remote_open(&r, CMD, &o) < 0)
		return CR_EXIT_FAIL;
	Cleanroom__V1__GetServerStatusRequest req = CLEANROOM__V1__GET_SERVER_STATUS_REQUEST__INIT;
	ProtobufCMessage *resp = NULL;
	int rc = CR_EXIT_FAIL;
	if (cr_remote_unary(&r, CR_ADMIN_SERVICE, "GetServerStatus", &req.base,
			    &cleanroom__v1__get_server_status_response__descriptor, &resp) == 0) {
		const Cleanroom__V1__GetServerStatusResponse *s = (const void *)resp;
		if (o.json)
			rc = cr_cli_print_json(CMD, resp) == 0 ? CR_EXIT_OK : CR_EXIT_FAIL;
		else if (s->status)
			print_status(s->status), rc = CR_EXIT_OK;
		else
			cr_cli_print_error(CMD, "internal", "the server answered without a status", NULL);
		protobuf_c_message_free_unpacked(resp, NULL);
	}
	cr_remote_close(&r);
	return rc;
}
