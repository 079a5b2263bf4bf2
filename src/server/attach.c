/* SPDX-License-Identifier: Apache-2.0 */
/* attach.c -- ExecutionService.AttachExecution over HTTP/1.1 Upgrade.
 *
 * Connect's bidirectional streams need HTTP/2; this server speaks HTTP/1.1,
 * so an interactive session upgrades its connection instead
 * (docs/internals/attach.md): the client POSTs to the method's path with
 * `Connection: Upgrade`, `Upgrade: cleanroom-attach.v1` and a Connect
 * streaming content type; after "101 Switching Protocols" both directions
 * carry Connect envelopes of ExecutionAttachFrame in that codec. The client
 * opens (first frame), then sends stdin, resize, signal, heartbeat and
 * close{detach}; the server replays the output history, then sends live
 * output, one exit frame and the end-of-stream envelope, and closes. A
 * client that disconnects detaches: the execution runs on. */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "connect/connect.h"
#include "pbjson/pbjson.h"
#include "server/execution.h"
#include "server/http.h"
#include "server/util.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define ATTACH_PROTOCOL  "cleanroom-attach.v1"
#define ATTACH_MAX_FRAME (1u << 20)

typedef struct attach_session {
	cr_server *srv;
	struct evhttp_request *raw;
	struct bufferevent *bev;
	int codec;
	cr_connect_decoder dec;
	cr_api_stream *st; /* NULL once ended */
	char *sandbox_id, *execution_id;
	bool closing; /* close once the output is written */
} attach_session;

static void session_free(attach_session *s)
{
	cr_connect_decoder_free(&s->dec);
	cr_http_upgraded_close(s->raw);
	free(s->sandbox_id);
	free(s->execution_id);
	free(s);
}

static void on_written(struct bufferevent *bev, void *arg)
{
	(void)bev;
	attach_session *s = arg;
	if (s->closing)
		session_free(s);
}

/* The stream ended (exit sent, or an error): close after the flush. */
static void on_stream_end(void *arg)
{
	attach_session *s = arg;
	s->st = NULL;
	s->closing = true;
	bufferevent_disable(s->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		bufferevent_trigger(s->bev, EV_WRITE, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void fail(attach_session *s, const char *message, const cr_error *cause)
{
	cr_error *err = NULL;
	cr_error_make(&err, 0, CR_REASON_USAGE_INVALID, "%s%s%s", message, cause ? ": " : "",
		      cause ? cause->msg : "");
	if (s->st)
		cr_api_stream_end(s->st, err);
	cr_error_free(err);
}

static cr_live_exec *live_exec(attach_session *s)
{
	return s->execution_id ? cr_execution_find_live(s->srv, s->sandbox_id, s->execution_id) : NULL;
}

static int open_session(attach_session *s, const Cleanroom__V1__ExecutionAttachOpen *o)
{
	cr_error *err = NULL;
	cr_execution_row row;
	if (!o || cr_execution_lookup(s->srv, o->sandbox_id, o->execution_id, &row, &err) < 0) {
		if (s->st)
			cr_api_stream_end(s->st, err);
		cr_error_free(err);
		return -1;
	}
	s->sandbox_id = cr_xstrdup(row.sandbox_id);
	s->execution_id = cr_xstrdup(row.execution_id);
	cr_execution_row_clear(&row);
	Cleanroom__V1__StreamExecutionRequest req = CLEANROOM__V1__STREAM_EXECUTION_REQUEST__INIT;
	req.sandbox_id = s->sandbox_id;
	req.execution_id = s->execution_id;
	req.follow = true;
	cr_api_call call = {0};
	if (cr_execution_stream(s->srv, &call, &req.base, s->st, &err) < 0) {
		cr_api_stream_end(s->st, err);
		cr_error_free(err);
	}
	return 0;
}

/* Applies one client frame to the live execution. */
static void apply(attach_session *s, cr_live_exec *x, const Cleanroom__V1__ExecutionAttachFrame *f)
{
	cr_live_sandbox *l = x->owner;
	cr_error *err = NULL;
	int rc = 0;
	switch (f->payload_case) {
	case CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_STDIN:
		rc = l->backend->write_stdin(l->sb, x->backend_id, f->stdin.data, f->stdin.len, &err);
		break;
	case CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_RESIZE:
		if (f->resize)
			rc = l->backend->resize(l->sb, x->backend_id, (uint16_t)f->resize->cols,
						(uint16_t)f->resize->rows, &err);
		break;
	case CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_SIGNAL:
		if (f->signal && f->signal->signal > 0 && f->signal->signal <= 64)
			rc = l->backend->signal(l->sb, x->backend_id, f->signal->signal, &err);
		break;
	case CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_CLOSE:
		if (f->close && f->close->detach) {
			if (s->st)
				cr_api_stream_end(s->st, NULL);
		} else
			rc = l->backend->close_stdin(l->sb, x->backend_id, &err);
		break;
	default: break; /* heartbeat, and server-side payloads sent by mistake */
	}
	if (rc < 0) {
		fprintf(stderr, "cleanroom serve: attach to %s: %s\n", x->id, err->msg);
		cr_error_free(err);
	}
}

static void frame(attach_session *s, const cr_connect_envelope *env)
{
	ProtobufCMessage *m = NULL;
	cr_error *err = NULL;
	if (s->codec == CR_CONNECT_CODEC_JSON)
		cr_pbjson_decode_text(&cleanroom__v1__execution_attach_frame__descriptor,
				      (const char *)env->payload, env->len, ATTACH_MAX_FRAME, &m, &err);
	else
		m = protobuf_c_message_unpack(&cleanroom__v1__execution_attach_frame__descriptor, NULL,
					      env->len, env->payload);
	if (!m) {
		fail(s, "malformed attach frame", err);
		cr_error_free(err);
		return;
	}
	const Cleanroom__V1__ExecutionAttachFrame *f = (const void *)m;
	if (!s->execution_id) {
		if (f->payload_case == CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_OPEN)
			open_session(s, f->open);
		else
			fail(s, "the first attach frame must be 'open'", NULL);
	} else {
		cr_live_exec *x = live_exec(s);
		if (x)
			apply(s, x, f);
	}
	protobuf_c_message_free_unpacked(m, NULL);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	attach_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (s->st && evbuffer_get_length(in)) {
		size_t n = evbuffer_get_contiguous_space(in);
		const unsigned char *p = evbuffer_pullup(in, (ssize_t)n), *start = p;
		cr_connect_envelope env;
		cr_error *err = NULL;
		int r = cr_connect_decoder_push(&s->dec, &p, &n, &env, &err);
		evbuffer_drain(in, (size_t)(p - start));
		if (r < 0) {
			if (s->st)
				cr_api_stream_end(s->st, err);
			cr_error_free(err);
			return;
		}
		if (r == 1)
			frame(s, &env);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	attach_session *s = arg;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	/* the client went away: it detached; the execution runs on */
	if (s->st)
		cr_api_stream_abandon(s->st);
	session_free(s);
}

static bool wants_attach(const cr_http_request *req)
{
	const char *up = cr_http_header_get(req, "Upgrade");
	return up && strcasecmp(up, ATTACH_PROTOCOL) == 0;
}

int cr_attach_handle(cr_server *srv, const cr_http_request *req)
{
	cr_connect_codec codec;
	cr_connect_kind kind;
	const char *ct = cr_http_header_get(req, "Content-Type");
	if (!wants_attach(req) || strcmp(req->method, "POST") != 0 || !ct ||
	    cr_connect_parse_content_type(ct, &codec, &kind) < 0 || kind != CR_CONNECT_STREAM) {
		size_t len = 0;
		cleanup_free char *body = cr_connect_error_body(
			CR_CONNECT_UNIMPLEMENTED, CR_REASON_NONE,
			"AttachExecution is a bidirectional stream, which Connect carries over HTTP/2 only; "
			"this "
			"server speaks HTTP/1.1: POST with 'Connection: Upgrade', 'Upgrade: " ATTACH_PROTOCOL
			"' and Content-Type application/connect+proto or +json (docs/internals/attach.md)",
			&len);
		cr_http_reply(req, cr_connect_code_http_status(CR_CONNECT_UNIMPLEMENTED), "application/json",
			      NULL, 0, body, len);
		return 0;
	}
	srv->last_activity_ms = cr_now_ms();
	attach_session *s = cr_xcalloc(1, sizeof(*s));
	s->srv = srv;
	s->raw = req->raw;
	s->codec = (int)codec;
	cr_connect_decoder_init(&s->dec, CR_CONNECT_SIDE_REQUEST, ATTACH_MAX_FRAME);
	s->bev = cr_http_upgrade(req->raw, ATTACH_PROTOCOL);
	if (!s->bev) {
		session_free(s);
		return -1;
	}
	s->st = cr_api_stream_open_upgraded(s->bev, s->codec, on_stream_end, s);
	bufferevent_setcb(s->bev, on_read, on_written, on_event, s);
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, 0);
	if (evbuffer_get_length(bufferevent_get_input(s->bev)))
		on_read(s->bev, s); /* frames the client sent right behind the request */
	return 0;
}
