/* SPDX-License-Identifier: Apache-2.0 */
/* stream.c -- server-streaming responses (Connect): each message goes out as
 * one 5-byte envelope in the request's codec, and the stream ends with the
 * end-of-stream envelope carrying success or the error. A stream can follow
 * something (an execution's output, a sandbox's events): it then sits in
 * that thing's list of followers until it ends or its client goes away. A
 * client that does not read is dropped once CR_STREAM_MAX_PENDING bytes wait
 * for it, so a slow reader never grows the server's memory without bound. */
#include <errno.h>
#include <stdlib.h>

#include "connect/connect.h"
#include "pbjson/pbjson.h"
#include "server/http.h"
#include "server/server.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define CR_STREAM_MAX_PENDING (16u << 20)
#define CR_STREAM_MAX_MESSAGE (CR_HTTP_MAX_BODY_BYTES + 1024u)

struct cr_api_stream {
	struct evhttp_request *raw;
	int codec; /* cr_connect_codec */
	bool started;
	cr_api_stream **list; /* the followers list it is in, or NULL */
	cr_api_stream *next;
};

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
	free(st);
}

cr_api_stream *cr_api_stream_open(struct evhttp_request *raw, int codec)
{
	cr_api_stream *st = cr_xcalloc(1, sizeof(*st));
	st->raw = raw;
	st->codec = codec;
	cr_http_on_close(raw, on_client_gone, st);
	return st;
}

static void start(cr_api_stream *st)
{
	if (st->started)
		return;
	st->started = true;
	cr_connect_response_head h = cr_connect_success_head(CR_CONNECT_STREAM, (cr_connect_codec)st->codec);
	cr_http_stream_start(st->raw, h.status, h.content_type);
}

static int encode(const cr_api_stream *st, const ProtobufCMessage *msg, cr_buf *out, cr_error **err)
{
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
	start(st);
	if (cr_http_pending_output(st->raw) > CR_STREAM_MAX_PENDING) {
		cr_error_make(&err, 0, CR_REASON_INTERNAL,
			      "the client reads too slowly: more than %u bytes are waiting for it",
			      CR_STREAM_MAX_PENDING);
		cr_api_stream_end(st, err);
		cr_error_free(err);
		return -1;
	}
	cr_http_stream_chunk(st->raw, b.data, b.len);
	return 0;
}

void cr_api_stream_end(cr_api_stream *st, const cr_error *e)
{
	cr_connect_code code = CR_CONNECT_OK;
	if (e)
		code = cr_connect_code_for_error(e);
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 64u << 10);
	cr_error *err = NULL;
	if (cr_connect_end_stream_encode(&b, code, e ? e->reason : CR_REASON_NONE, e ? e->msg : NULL, NULL, 0,
					 &err) < 0)
		cr_error_free(err); /* cannot happen within 64 KiB: messages are cut to 4 KiB */
	start(st);
	cr_http_stream_chunk(st->raw, b.data, b.len);
	cr_http_on_close(st->raw, NULL, NULL);
	cr_http_stream_end(st->raw);
	unlink_stream(st);
	free(st);
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

void cr_api_streams_end_all(cr_api_stream **list, const cr_error *e)
{
	while (*list)
		cr_api_stream_end(*list, e);
}
