/* SPDX-License-Identifier: Apache-2.0 */
/* execution_stream.c -- ExecutionService.StreamExecution: the recorded
 * output history first (so output produced between CreateExecution and this
 * call is not lost), then, with follow, the live output until the exit; the
 * stream always ends with exactly one ExecutionExit payload once the
 * execution is terminal, then a clean end of stream. Everything runs on the
 * loop, so nothing can slip between the replay and the live tail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/execution.h"
#include "server/util.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define REPLAY_BATCH 256

void cr_exec_output_event(Cleanroom__V1__ExecutionStreamEvent *m, const char *sandbox_id,
			  const char *execution_id, int stream, const void *data, size_t len)
{
	cleanroom__v1__execution_stream_event__init(m);
	m->sandbox_id = (char *)sandbox_id;
	m->execution_id = (char *)execution_id;
	m->status = CLEANROOM__V1__EXECUTION_STATUS__EXECUTION_STATUS_RUNNING;
	ProtobufCBinaryData bytes = {.len = len, .data = (uint8_t *)data};
	if (stream == 2) {
		m->payload_case = CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDERR;
		m->stderr = bytes;
	} else {
		m->payload_case = CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDOUT;
		m->stdout = bytes;
	}
}

void cr_exec_exit_event(Cleanroom__V1__ExecutionStreamEvent *m, Cleanroom__V1__ExecutionExit *ex,
			const char *sandbox_id, const char *execution_id, const cr_exec_end *e)
{
	cleanroom__v1__execution_exit__init(ex);
	ex->exit_code = e->exit_code;
	ex->status = (Cleanroom__V1__ExecutionStatus)e->status;
	ex->message = (char *)e->message;
	ex->reason = (char *)(e->reason ? cr_reason_name(e->reason) : "");
	cleanroom__v1__execution_stream_event__init(m);
	m->sandbox_id = (char *)sandbox_id;
	m->execution_id = (char *)execution_id;
	m->status = ex->status;
	m->payload_case = CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_EXIT;
	m->exit = ex;
}

static int send_message(cr_api_stream *st, const cr_execution_row *r, const char *text)
{
	Cleanroom__V1__ExecutionStreamEvent m = CLEANROOM__V1__EXECUTION_STREAM_EVENT__INIT;
	m.sandbox_id = r->sandbox_id;
	m.execution_id = r->execution_id;
	m.status = (Cleanroom__V1__ExecutionStatus)r->status;
	m.payload_case = CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_MESSAGE;
	m.message = (char *)text;
	return cr_api_stream_send(st, &m.base);
}

/* Sends the recorded output; -1 when the stream broke (and is gone). */
static int replay(cr_server *srv, cr_api_stream *st, const cr_execution_row *r, cr_error **err)
{
	int64_t after = 0;
	for (;;) {
		cr_output_chunk *chunks = NULL;
		size_t n = 0;
		if (cr_store_output_read(srv->store, r->execution_id, after, REPLAY_BATCH, &chunks, &n, err) <
		    0)
			return -2;
		if (after == 0 && n && chunks[0].seq > 1) {
			char note[160];
			snprintf(note, sizeof(note),
				 "earlier output was dropped: the history keeps the last %zu bytes",
				 srv->cfg.output_cap_bytes);
			if (send_message(st, r, note) < 0) {
				cr_output_chunks_free(chunks, n);
				return -1;
			}
		}
		int rc = 0;
		for (size_t i = 0; i < n && rc == 0; i++) {
			Cleanroom__V1__ExecutionStreamEvent m;
			cr_exec_output_event(&m, r->sandbox_id, r->execution_id, chunks[i].stream,
					     chunks[i].data, chunks[i].len);
			rc = cr_api_stream_send(st, &m.base);
			after = chunks[i].seq;
		}
		cr_output_chunks_free(chunks, n);
		if (rc < 0)
			return -1;
		if (n < REPLAY_BATCH)
			return 0;
	}
}

static void send_final_exit(cr_api_stream *st, const cr_execution_row *r)
{
	cr_exec_end e = {.status = r->status,
			 .exit_code = r->exit_code < 0 ? 0 : r->exit_code,
			 .term_signal = r->term_signal,
			 .reason = cr_reason_from_name(r->reason)};
	snprintf(e.message, sizeof(e.message), "%s", r->message ? r->message : "");
	Cleanroom__V1__ExecutionStreamEvent m;
	Cleanroom__V1__ExecutionExit ex;
	cr_exec_exit_event(&m, &ex, r->sandbox_id, r->execution_id, &e);
	Google__Protobuf__Timestamp *ts = cr_pb_timestamp(r->finished_ms);
	m.occurred_at = ts;
	if (cr_api_stream_send(st, &m.base) == 0)
		cr_api_stream_end(st, NULL);
	free(ts);
}

int cr_execution_stream(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			cr_api_stream *st, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__StreamExecutionRequest *req = (const void *)in;
	cr_execution_row row;
	if (cr_execution_lookup(srv, req->sandbox_id, req->execution_id, &row, err) < 0)
		return -1;
	int rc = replay(srv, st, &row, err);
	if (rc == -2) {
		cr_execution_row_clear(&row);
		return -1;
	}
	if (rc == 0) {
		cr_live_exec *x = cr_execution_find_live(srv, row.sandbox_id, row.execution_id);
		if (x && req->follow)
			cr_api_stream_follow(st, &x->subs);
		else if (x)
			cr_api_stream_end(st, NULL); /* history only, and it has not ended yet */
		else
			send_final_exit(st, &row);
	}
	cr_execution_row_clear(&row);
	return 0;
}
