/* SPDX-License-Identifier: Apache-2.0 */
/* api.c -- Connect dispatch of `cleanroom serve`: one route table for every
 * service; a request is classified (route, codec, kind; lib/connect),
 * decoded with the JSON codec (lib/pbjson) or protobuf-c, handed to its
 * handler, and the answer encoded in the request's codec. Errors carry a
 * Connect code and our reason code (cleanroom.v1.ErrorInfo detail). Routes
 * whose handler is not written yet answer `unimplemented`, saying so. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanroom/v1/admin.pb-c.h"
#include "cleanroom/v1/execution.pb-c.h"
#include "cleanroom/v1/sandbox.pb-c.h"
#include "connect/connect.h"
#include "pbjson/pbjson.h"
#include "server/audit_service.h"
#include "server/http.h"
#include "server/server.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define U   CR_CONNECT_METHOD_UNARY
#define S   CR_CONNECT_METHOD_STREAM
#define R   CR_CONNECT_METHOD_NO_SIDE_EFFECTS
#define SBX "cleanroom.v1.SandboxService"
#define EXE "cleanroom.v1.ExecutionService"
#define ADM "cleanroom.v1.AdminService"

const cr_api_route cr_api_routes[] = {
	{SBX, "CreateSandbox", U, &cleanroom__v1__create_sandbox_request__descriptor, cr_sandbox_create,
	 NULL},
	{SBX, "GetSandbox", U | R, &cleanroom__v1__get_sandbox_request__descriptor, cr_sandbox_get, NULL},
	{SBX, "ListSandboxes", U | R, &cleanroom__v1__list_sandboxes_request__descriptor, cr_sandbox_list,
	 NULL},
	{SBX, "UploadSandboxFiles", U, &cleanroom__v1__upload_sandbox_files_request__descriptor,
	 cr_sandbox_upload, NULL},
	{SBX, "DownloadSandboxFile", U | R, &cleanroom__v1__download_sandbox_file_request__descriptor,
	 cr_sandbox_download, NULL},
	{SBX, "TerminateSandbox", U, &cleanroom__v1__terminate_sandbox_request__descriptor,
	 cr_sandbox_terminate, NULL},
	{SBX, "StreamSandboxEvents", S, &cleanroom__v1__stream_sandbox_events_request__descriptor, NULL,
	 cr_sandbox_events},
	{EXE, "CreateExecution", U, &cleanroom__v1__create_execution_request__descriptor, cr_execution_create,
	 NULL},
	{EXE, "GetExecution", U | R, &cleanroom__v1__get_execution_request__descriptor, cr_execution_get,
	 NULL},
	{EXE, "ListExecutions", U | R, &cleanroom__v1__list_executions_request__descriptor, cr_execution_list,
	 NULL},
	{EXE, "CancelExecution", U, &cleanroom__v1__cancel_execution_request__descriptor, cr_execution_cancel,
	 NULL},
	{EXE, "StreamExecution", S, &cleanroom__v1__stream_execution_request__descriptor, NULL,
	 cr_execution_stream},
	{ADM, "GetCapabilities", U | R, &cleanroom__v1__get_capabilities_request__descriptor,
	 cr_admin_get_capabilities, NULL},
	{ADM, "Doctor", U | R, &cleanroom__v1__doctor_request__descriptor, cr_admin_doctor, NULL},
	{ADM, "GetServerStatus", U | R, &cleanroom__v1__get_server_status_request__descriptor,
	 cr_admin_get_server_status, NULL},
	{ADM, "QueryAudit", U | R, &cleanroom__v1__query_audit_request__descriptor, cr_admin_query_audit,
	 NULL},
	{NULL, NULL, 0, NULL, NULL, NULL},
};

static const cr_api_route *find_route(const char *service, const char *method)
{
	for (const cr_api_route *r = cr_api_routes; r->service; r++)
		if (strcmp(r->service, service) == 0 && strcmp(r->method, method) == 0)
			return r;
	return NULL;
}

static unsigned lookup(void *ctx, const char *service, const char *method)
{
	(void)ctx;
	const cr_api_route *r = find_route(service, method);
	return r ? r->flags : 0;
}

static void reply_error(const cr_http_request *req, cr_connect_codec codec, cr_connect_code code,
			const cr_error *e)
{
	if (code == CR_CONNECT_OK)
		code = cr_connect_code_for_error(e);
	size_t len = 0;
	cleanup_free char *body = cr_connect_error_body(code, e->reason, e->msg, &len);
	cr_connect_response_head h = cr_connect_error_head(CR_CONNECT_UNARY, codec, code);
	cr_http_reply(req, h.status, h.content_type, NULL, 0, body, len);
}

static void reply_refusal(const cr_http_request *req, const cr_connect_request *c, const cr_error *e)
{
	if (c->code != CR_CONNECT_OK && c->kind == CR_CONNECT_STREAM) {
		/* a stream's errors travel in its end-of-stream message, under 200 */
		cr_api_stream_end_code(cr_api_stream_open(req->raw, (int)c->codec), c->code, e);
		return;
	}
	if (c->code != CR_CONNECT_OK) {
		reply_error(req, c->codec, c->code, e);
		return;
	}
	cr_http_header extra = {c->refusal_header, c->refusal_value};
	cr_http_reply(req, c->http_status ? c->http_status : 400, "text/plain", &extra,
		      c->refusal_header ? 1 : 0, e->msg, strlen(e->msg));
}

static ProtobufCMessage *decode(const cr_connect_request *c, const ProtobufCMessageDescriptor *desc,
				const unsigned char *data, size_t len, cr_error **err)
{
	ProtobufCMessage *msg = NULL;
	if (c->codec == CR_CONNECT_CODEC_JSON) {
		if (cr_pbjson_decode_text(desc, len ? (const char *)data : "{}", len ? len : 2,
					  CR_HTTP_MAX_BODY_BYTES, &msg, err) < 0)
			return NULL;
		return msg;
	}
	msg = protobuf_c_message_unpack(desc, NULL, len, data);
	if (!msg)
		cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "the request is not a valid %s message",
			      desc->name);
	return msg;
}

static void reply_message(const cr_http_request *req, const cr_connect_request *c,
			  const ProtobufCMessage *msg)
{
	cr_connect_response_head h = cr_connect_success_head(CR_CONNECT_UNARY, c->codec);
	if (c->codec == CR_CONNECT_CODEC_PROTO) {
		size_t n = protobuf_c_message_get_packed_size(msg);
		cleanup_free uint8_t *buf = cr_xmalloc(n ? n : 1);
		protobuf_c_message_pack(msg, buf);
		cr_http_reply(req, h.status, h.content_type, NULL, 0, buf, n);
		return;
	}
	cr_error *err = NULL;
	size_t n = 0;
	cleanup_free char *text = cr_pbjson_encode_text(msg, &n, &err);
	if (!text) {
		reply_error(req, c->codec, CR_CONNECT_INTERNAL, err);
		cr_error_free(err);
		return;
	}
	cr_http_reply(req, h.status, h.content_type, NULL, 0, text, n);
}

/* A stream's request body is exactly one envelope. Returns its payload
 * (pointing into the decoder) or NULL with *err. */
static const unsigned char *unwrap_one(cr_connect_decoder *d, const cr_http_request *req, size_t *len,
				       cr_error **err)
{
	const unsigned char *p = req->body;
	size_t n = req->body_len;
	cr_connect_envelope env;
	int r = cr_connect_decoder_push(d, &p, &n, &env, err);
	if (r < 0)
		return NULL;
	if (r == 0 || n != 0) {
		cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
			      r == 0 ? "the request body is not one complete envelope"
				     : "the request body holds more than one envelope");
		return NULL;
	}
	*len = env.len;
	return env.payload;
}

static void call_stream(cr_server *srv, const cr_http_request *req, const cr_connect_request *c,
			const cr_api_route *route, const cr_api_call *call)
{
	cr_error *err = NULL;
	cr_connect_decoder d;
	cr_connect_decoder_init(&d, CR_CONNECT_SIDE_REQUEST, CR_HTTP_MAX_BODY_BYTES);
	size_t len = 0;
	const unsigned char *payload = unwrap_one(&d, req, &len, &err);
	ProtobufCMessage *in = payload ? decode(c, route->input, payload, len, &err) : NULL;
	cr_connect_decoder_free(&d);
	cr_api_stream *st = cr_api_stream_open(req->raw, (int)c->codec);
	cr_api_stream_set_deadline(st, srv->base, c->timeout_ms);
	if (!in || route->stream(srv, call, in, st, &err) < 0)
		cr_api_stream_end(st, err);
	if (in)
		protobuf_c_message_free_unpacked(in, NULL);
	cr_error_free(err);
}

static void call_unary(cr_server *srv, const cr_http_request *req, const cr_connect_request *c,
		       const cr_api_route *route, const cr_api_call *call)
{
	cr_error *err = NULL;
	const unsigned char *data = c->is_get ? c->message : req->body;
	size_t len = c->is_get ? c->message_len : req->body_len;
	ProtobufCMessage *in = decode(c, route->input, data, len, &err), *out = NULL;
	if (in && route->unary(srv, call, in, &out, &err) == 0)
		reply_message(req, c, out);
	else
		reply_error(req, c->codec, CR_CONNECT_OK, err);
	if (in)
		protobuf_c_message_free_unpacked(in, NULL);
	if (out)
		protobuf_c_message_free_unpacked(out, NULL);
	cr_error_free(err);
}

/* A route without a handler for this kind of call. */
static void reply_unimplemented(const cr_http_request *req, const cr_connect_request *c,
				const cr_api_route *route)
{
	cr_error *err = NULL;
	cr_error_make(&err, 0, CR_REASON_NONE, "%s.%s is not implemented by this server yet", route->service,
		      route->method);
	if (c->kind == CR_CONNECT_STREAM)
		cr_api_stream_end_code(cr_api_stream_open(req->raw, (int)c->codec), CR_CONNECT_UNIMPLEMENTED,
				       err);
	else
		reply_error(req, c->codec, CR_CONNECT_UNIMPLEMENTED, err);
	cr_error_free(err);
}

static void call_route(cr_server *srv, const cr_http_request *req, const cr_connect_request *c,
		       const cr_api_route *route)
{
	cr_api_call call = {.uid = req->peer_uid, .pid = req->peer_pid};
	if (req->actor_hint)
		snprintf(call.actor, sizeof(call.actor), "%s", req->actor_hint);
	else
		snprintf(call.actor, sizeof(call.actor), "uid:%u", (unsigned)req->peer_uid);
	srv->last_activity_ms = cr_now_ms();
	if (c->kind == CR_CONNECT_STREAM && route->stream)
		call_stream(srv, req, c, route, &call);
	else if (c->kind == CR_CONNECT_UNARY && route->unary)
		call_unary(srv, req, c, route, &call);
	else
		reply_unimplemented(req, c, route);
}

void cr_api_handle(const cr_http_request *req, void *server)
{
	if (strcmp(req->path, "/cleanroom.v1.ExecutionService/AttachExecution") == 0) {
		cr_attach_handle(server, req); /* bidirectional: HTTP/1.1 Upgrade (attach.c) */
		return;
	}
	cr_connect_header headers[128];
	size_t n = req->n_headers < 128 ? req->n_headers : 128;
	for (size_t i = 0; i < n; i++)
		headers[i] = (cr_connect_header){req->headers[i].name, req->headers[i].value};
	cleanup_free char *target =
		*req->query ? cr_asprintf("%s?%s", req->path, req->query) : cr_xstrdup(req->path);
	cr_connect_head head = {.method = req->method, .target = target, .headers = headers, .n_headers = n};
	cr_connect_request c = {0};
	cr_error *err = NULL;
	if (cr_connect_classify(&head, lookup, NULL, &c, &err) < 0)
		reply_refusal(req, &c, err);
	else {
		const cr_api_route *route = find_route(c.service, c.method);
		if (route) /* classify only accepts routes the table has */
			call_route(server, req, &c, route);
	}
	cr_error_free(err);
	cr_connect_request_clear(&c);
}
