/* SPDX-License-Identifier: Apache-2.0 */
/* stream.c -- server-streaming responses (Connect): each message goes out as
 * one 5-byte envelope in the request's codec, and the stream ends with the
 * end-of-stream envelope carrying success or the error. A stream can follow
 * something (an execution's output, a sandbox's events): it then sits in
 * that thing's list of followers until it ends or its client goes away.
 * Live output is paced by the slowest follower (pump.c pauses a sandbox's
 * events while a follower has more than 4 MiB waiting); a client that stops
 * reading altogether is dropped after a minute, or at once when
 * CR_STREAM_MAX_PENDING bytes wait for it, so no reader can grow the
 * server's memory without bound. */
#include <errno.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cleanroom/v1/execution.pb-c.h"
#include "connect/connect.h"
#include "pbjson/pbjson.h"
#include "server/http.h"
#include "server/server.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define CR_STREAM_MAX_PENDING (256u << 20) /* a safety net: live output pauses at 4 MiB (pump.c) */
#define CR_STREAM_MAX_MESSAGE (CR_HTTP_MAX_BODY_BYTES + 1024u)

struct cr_api_stream {
	struct evhttp_request *raw;
	struct bufferevent *bev; /* an upgraded connection (attach), else NULL */
	int codec;               /* cr_connect_codec */
	bool started;
	bool attach_frames; /* send ExecutionStreamEvents as ExecutionAttachFrames */
	void (*on_end)(void *ctx);
	void *on_end_ctx;
	struct event *deadline; /* Connect-Timeout-Ms, or NULL */
	cr_api_stream **list;   /* the followers list it is in, or NULL */
	cr_api_stream *next;
};

static void release(cr_api_stream *st)
{
	if (st->deadline)
		event_free(st->deadline);
	free(st);
}

static void unlink_stream(cr_api_stream *st)
{
	if (!st->list)
		return;
	for (cr_api_stream **pp = st->list; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	st->list = NULL;
	st->next = NULL;
}

static void on_client_gone(struct evhttp_connection *conn, void *arg)
{
	(void)conn;
	cr_api_stream *st = arg;
	unlink_stream(st);
	release(st);
}

cr_api_stream *cr_api_stream_open(struct evhttp_request *raw, int codec)
{
	cr_api_stream *st = cr_xcalloc(1, sizeof(*st));
	st->raw = raw;
	st->codec = codec;
	cr_http_on_close(raw, on_client_gone, st);
	return st;
}

cr_api_stream *cr_api_stream_open_upgraded(struct bufferevent *bev, int codec, void (*on_end)(void *ctx),
					   void *ctx)
{
	cr_api_stream *st = cr_xcalloc(1, sizeof(*st));
	*st = (cr_api_stream){.bev = bev,
			      .codec = codec,
			      .started = true,
			      .attach_frames = true,
			      .on_end = on_end,
			      .on_end_ctx = ctx};
	return st;
}

void cr_api_stream_abandon(cr_api_stream *st)
{
	unlink_stream(st);
	release(st);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	cr_api_stream *st = arg;
	cr_error *err = NULL;
	cr_error_status(&err, ETIMEDOUT, CR_REASON_NONE, "the call's deadline (Connect-Timeout-Ms) passed");
	cr_api_stream_end(st, err);
	cr_error_free(err);
}

void cr_api_stream_set_deadline(cr_api_stream *st, struct event_base *base, int64_t ms)
{
	if (ms < 0 || st->deadline)
		return;
	st->deadline = evtimer_new(base, on_deadline, st);
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	evtimer_add(st->deadline, &tv);
}

static void write_bytes(cr_api_stream *st, const void *data, size_t len)
{
	if (st->bev)
		bufferevent_write(st->bev, data, len);
	else
		cr_http_stream_chunk(st->raw, data, len);
}

size_t cr_api_stream_pending(const cr_api_stream *st)
{
	return st->bev ? evbuffer_get_length(bufferevent_get_output(st->bev))
		       : cr_http_pending_output(st->raw);
}

static void start(cr_api_stream *st)
{
	if (st->started)
		return;
	st->started = true;
	cr_connect_response_head h = cr_connect_success_head(CR_CONNECT_STREAM, (cr_connect_codec)st->codec);
	cr_http_stream_start(st->raw, h.status, h.content_type);
}

/* The attach form of an execution event: same content, other envelope
 * (execution.proto); status messages have no attach form. Pointers borrow
 * from ev. Returns false when there is nothing to send. */
static bool attach_frame(const Cleanroom__V1__ExecutionStreamEvent *ev,
			 Cleanroom__V1__ExecutionAttachFrame *f)
{
	cleanroom__v1__execution_attach_frame__init(f);
	f->sandbox_id = ev->sandbox_id;
	f->execution_id = ev->execution_id;
	f->occurred_at = ev->occurred_at;
	switch (ev->payload_case) {
	case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDOUT:
		f->payload_case = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_STDOUT;
		f->stdout = ev->stdout;
		return true;
	case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_STDERR:
		f->payload_case = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_STDERR;
		f->stderr = ev->stderr;
		return true;
	case CLEANROOM__V1__EXECUTION_STREAM_EVENT__PAYLOAD_EXIT:
		f->payload_case = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_EXIT;
		f->exit = ev->exit;
		return true;
	default: return false;
	}
}

static int encode(const cr_api_stream *st, const ProtobufCMessage *msg, cr_buf *out, cr_error **err)
{
	Cleanroom__V1__ExecutionAttachFrame frame;
	if (st->attach_frames && msg->descriptor == &cleanroom__v1__execution_stream_event__descriptor) {
		if (!attach_frame((const void *)msg, &frame))
			return 0;
		msg = &frame.base;
	}
	if (st->codec == CR_CONNECT_CODEC_PROTO) {
		size_t n = protobuf_c_message_get_packed_size(msg);
		cleanup_free uint8_t *packed = cr_xmalloc(n ? n : 1);
		protobuf_c_message_pack(msg, packed);
		return cr_connect_envelope_encode(out, 0, packed, n, err);
	}
	size_t n = 0;
	cleanup_free char *text = cr_pbjson_encode_text(msg, &n, err);
	return text ? cr_connect_envelope_encode(out, 0, text, n, err) : -1;
}

int cr_api_stream_send(cr_api_stream *st, const ProtobufCMessage *msg)
{
	cr_error *err = NULL;
	cleanup_buf cr_buf b;
	cr_buf_init(&b, CR_STREAM_MAX_MESSAGE);
	if (encode(st, msg, &b, &err) < 0) {
		cr_api_stream_end(st, err);
		cr_error_free(err);
		return -1;
	}
	if (!b.len)
		return 0;
	start(st);
	if (cr_api_stream_pending(st) > CR_STREAM_MAX_PENDING) {
		cr_error_make(&err, 0, CR_REASON_INTERNAL,
			      "the client reads too slowly: more than %u bytes are waiting for it",
			      CR_STREAM_MAX_PENDING);
		cr_api_stream_end(st, err);
		cr_error_free(err);
		return -1;
	}
	write_bytes(st, b.data, b.len);
	return 0;
}

void cr_api_stream_end(cr_api_stream *st, const cr_error *e)
{
	cr_api_stream_end_code(st, e ? cr_connect_code_for_error(e) : CR_CONNECT_OK, e);
}

void cr_api_stream_end_code(cr_api_stream *st, int code, const cr_error *e)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 64u << 10);
	cr_error *err = NULL;
	if (cr_connect_end_stream_encode(&b, (cr_connect_code)code, e ? e->reason : CR_REASON_NONE,
					 e ? e->msg : NULL, NULL, 0, &err) < 0)
		cr_error_free(err); /* cannot happen within 64 KiB: messages are cut to 4 KiB */
	start(st);
	write_bytes(st, b.data, b.len);
	if (!st->bev) {
		cr_http_on_close(st->raw, NULL, NULL);
		cr_http_stream_end(st->raw);
	}
	unlink_stream(st);
	if (st->on_end)
		st->on_end(st->on_end_ctx);
	release(st);
}

void cr_api_stream_follow(cr_api_stream *st, cr_api_stream **list)
{
	unlink_stream(st);
	st->list = list;
	st->next = *list;
	*list = st;
}

cr_api_stream *cr_api_stream_next(cr_api_stream *st)
{
	return st->next;
}

void cr_api_streams_send(cr_api_stream *list, const ProtobufCMessage *msg, bool then_end)
{
	cr_api_stream *next;
	for (cr_api_stream *st = list; st; st = next) {
		next = st->next; /* a failed send ends st and takes it off the list */
		if (cr_api_stream_send(st, msg) == 0 && then_end)
			cr_api_stream_end(st, NULL);
	}
}

void cr_api_streams_end_all(cr_api_stream **list, const cr_error *e)
{
	while (*list)
		cr_api_stream_end(*list, e);
}
