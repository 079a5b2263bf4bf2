/* SPDX-License-Identifier: Apache-2.0 */
/* client.h -- the CLI's Connect client: unary and server-streaming calls to
 * `cleanroom serve` over its unix socket (or https:// with a bearer token),
 * in the binary codec, on libcurl. Errors from the server come back as a
 * cr_error whose reason is the server's reason code (ErrorInfo detail) and
 * whose message is the server's message; transport failures carry
 * CR_REASON_INTERNAL and a message naming the endpoint, and
 * cr_client_unreachable() says whether nothing answered there. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>

#include "util/error.h"

typedef struct cr_client cr_client;

/* Endpoint resolution (spec §5.4.1): explicit (--host) first, then
 * $CLEANROOM_HOST, then the default socket (cr_http_default_socket()).
 * Forms: "unix:///path", "/path" (a unix socket), "https://host:port"
 * (token from $CLEANROOM_TOKEN). Returns an owned string. */
char *cr_client_resolve_endpoint(const char *explicit_host);

/* Opens a client for an endpoint (does not connect yet). */
int cr_client_open(const char *endpoint, cr_client **out, cr_error **err);
void cr_client_free(cr_client *c);
const char *cr_client_endpoint(const cr_client *c);

/* True when the last failure of this client was "nothing answers there"
 * (no socket, connection refused): the caller may start a private server. */
bool cr_client_unreachable(const cr_client *c);

/* Unary call: POST /<service>/<method> with `in` packed in application/proto;
 * on 0 *out is a new message of out_desc (free with
 * protobuf_c_message_free_unpacked). On -1, *err carries the server's reason
 * code and message (or the transport failure). */
int cr_client_unary(cr_client *c, const char *service, const char *method, const ProtobufCMessage *in,
		    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out, cr_error **err);

/* Called for each streamed message (valid during the call only). Return 0 to
 * continue, non-zero to stop reading (the call then returns 1). */
typedef int (*cr_client_stream_fn)(void *ctx, const ProtobufCMessage *msg);
/* Called periodically (at least every 200 ms) while a call waits; return
 * non-zero to abandon the call (it then returns 1). May be NULL. */
typedef int (*cr_client_poll_fn)(void *ctx);

/* Server-streaming call in application/connect+proto. Returns 0 after a
 * clean end-of-stream, 1 when a callback stopped it, -1 with *err when the
 * end-of-stream carried an error or the stream broke. */
int cr_client_stream(cr_client *c, const char *service, const char *method, const ProtobufCMessage *in,
		     const ProtobufCMessageDescriptor *out_desc, cr_client_stream_fn on_msg,
		     cr_client_poll_fn on_poll, void *ctx, cr_error **err);

/* ---- additions (exec) ------------------------------------------------------
 * A cr_client runs one call at a time (it owns one libcurl easy handle, kept
 * between calls so the connection is reused). A caller that needs a second
 * call while a stream is open (CancelExecution during StreamExecution) opens
 * a second client on the same endpoint. */

/* The Connect code of the last call that failed with a server error
 * (CR_CONNECT_OK = 0 after a success or a transport failure). */
int cr_client_last_code(const cr_client *c);

/* Sets the poll callback unary calls use (cr_client_stream takes its own):
 * called at least every 200 ms while a unary call waits; non-zero abandons
 * the call (it then fails with reason internal, "call abandoned"). */
void cr_client_set_poll(cr_client *c, cr_client_poll_fn on_poll, void *ctx);

/* Asks the server for its status and drops the answer: 0 when it answered
 * successfully (see cr_client_unreachable after a failure). */
int cr_client_ping(cr_client *c, cr_error **err);

/* ---- additions (interactive sessions) ----------------------------------------
 * AttachExecution, the bidirectional call, is not made through cr_client_*
 * calls: client/attach.h opens its own upgraded connection on the endpoint of
 * a cr_client (cr_client_endpoint) and speaks the framed protocol of
 * docs/internals/attach.md. */
