/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox_events.c -- SandboxService.StreamSandboxEvents: the sandbox's
 * recorded status changes, then, with follow, the live ones until it is
 * terminal (cr_server_sandbox_status sends them, cr_server_destroy_live
 * ends the stream). */
#include <stdlib.h>

#include "cleanroom/v1/sandbox.pb-c.h"
#include "server/server.h"
#include "server/util.h"
#include "util/xalloc.h"

/* The API form of one event (pointers borrow from e; free occurred_at). */
static Cleanroom__V1__SandboxEvent event_message(const char *sandbox_id, const cr_event_row *e)
{
	Cleanroom__V1__SandboxEvent ev = CLEANROOM__V1__SANDBOX_EVENT__INIT;
	ev.sandbox_id = (char *)sandbox_id;
	ev.status = (Cleanroom__V1__SandboxStatus)e->status;
	ev.message = e->message;
	ev.reason = e->reason;
	ev.occurred_at = cr_pb_timestamp(e->ts_ms);
	return ev;
}

static int send_row(cr_api_stream *st, const char *sandbox_id, const cr_event_row *e)
{
	Cleanroom__V1__SandboxEvent ev = event_message(sandbox_id, e);
	int rc = cr_api_stream_send(st, &ev.base);
	free(ev.occurred_at);
	return rc;
}

void cr_sandbox_events_notify(cr_live_sandbox *l, const cr_event_row *e)
{
	Cleanroom__V1__SandboxEvent ev = event_message(l->id, e);
	cr_api_streams_send(l->subs, &ev.base, false);
	free(ev.occurred_at);
}

int cr_sandbox_events(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in, cr_api_stream *st,
		      cr_error **err)
{
	(void)call;
	const Cleanroom__V1__StreamSandboxEventsRequest *req = (const void *)in;
	const char *id = req->sandbox_id ? req->sandbox_id : "";
	cr_sandbox_row row;
	if (cr_server_sandbox_row(srv, id, &row, err) < 0)
		return -1;
	cr_sandbox_row_clear(&row);
	cr_event_row *rows = NULL;
	size_t n = 0;
	if (cr_store_event_list(srv->store, id, 0, &rows, &n, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = send_row(st, id, &rows[i]);
	cr_event_rows_free(rows, n);
	if (rc < 0)
		return 0; /* the stream is gone */
	cr_live_sandbox *l = cr_server_find_live(srv, id);
	if (l && req->follow)
		cr_api_stream_follow(st, &l->subs);
	else
		cr_api_stream_end(st, NULL);
	return 0;
}
