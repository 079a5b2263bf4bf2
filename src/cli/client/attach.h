/* SPDX-License-Identifier: Apache-2.0 */
/* attach.h -- the client side of ExecutionService.AttachExecution, the one
 * bidirectional call of the API (docs/internals/attach.md): an HTTP/1.1
 * Upgrade to cleanroom-attach.v1 on the client's endpoint (unix socket, or
 * https:// with the bearer token of $CLEANROOM_TOKEN), then Connect
 * envelopes of ExecutionAttachFrame in the binary codec both ways.
 *
 * The connection is non-blocking and made for a poll loop: frames to send
 * are queued and written as the socket takes them (cr_attach_flush when
 * cr_attach_fd is writable), and cr_attach_receive decodes whatever has
 * arrived. One code path for both transports: libcurl connects (TLS for
 * https) with CURLOPT_CONNECT_ONLY and carries the bytes with
 * curl_easy_send / curl_easy_recv. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "cleanroom/v1/execution.pb-c.h"
#include "cli/client/client.h"
#include "util/error.h"

typedef struct cr_attach cr_attach;
typedef Cleanroom__V1__ExecutionAttachFrame cr_attach_frame;

/* A session on the endpoint of c (which must stay open while the session
 * lives: it initialised libcurl). No I/O yet. */
cr_attach *cr_attach_new(const cr_client *c);
/* Closes the connection (a session closed without a close frame counts as
 * a detach on the server) and frees a; accepts NULL. */
void cr_attach_free(cr_attach *a);

/* Connects, upgrades (waiting up to 30 s for the answer) and queues the
 * open frame for the execution. Returns 0, or -1 with *err: the server's
 * error when it answered something other than 101 (cr_attach_last_code
 * then gives its Connect code), or a transport failure naming the endpoint
 * (cr_attach_unreachable: nothing answers there). */
int cr_attach_open(cr_attach *a, const char *sandbox_id, const char *execution_id, cr_error **err);

/* The socket, for poll(2): POLLIN always, POLLOUT while cr_attach_pending. */
int cr_attach_fd(const cr_attach *a);
/* Bytes queued and not yet written. */
size_t cr_attach_pending(const cr_attach *a);
/* True when cr_attach_receive stopped before it had read everything that
 * may be waiting (it reads at most 256 KiB per call, so that typing is
 * still read while a workload floods its output): call it again without
 * waiting for POLLIN. */
bool cr_attach_backlog(const cr_attach *a);

/* Queues one frame (sandbox and execution ids are filled in) and writes
 * what the socket takes. Returns 0, or -1 with *err when more than 4 MiB
 * are queued. */
int cr_attach_send(cr_attach *a, cr_attach_frame *f, cr_error **err);
/* Writes what the socket takes of the queue. A failed write is not an error
 * here: the server may have ended the session and said why in its
 * end-of-stream message, so the queue is dropped and cr_attach_receive
 * reports how the connection ended. Returns 0 (the signature leaves room
 * for local failures). */
int cr_attach_flush(cr_attach *a, cr_error **err);
/* Writes the whole queue, waiting at most timeout_ms; 0, or -1 with *err
 * (time out). */
int cr_attach_drain(cr_attach *a, int timeout_ms, cr_error **err);

/* Called for each server frame (valid during the call only). */
typedef void (*cr_attach_frame_fn)(void *ctx, const cr_attach_frame *f);
/* Reads and decodes what has arrived, calling on_frame for each frame.
 * Returns 0 while the session goes on, 1 after a clean end-of-stream, -1
 * with *err when the end-of-stream carried an error (the server's reason
 * and message; cr_attach_last_code gives the Connect code), a frame was
 * malformed, or the connection broke or closed without an end-of-stream. */
int cr_attach_receive(cr_attach *a, cr_attach_frame_fn on_frame, void *ctx, cr_error **err);

/* The Connect code of the last server error (0 when there was none). */
int cr_attach_last_code(const cr_attach *a);
/* True when the last failure was "nothing answers at the endpoint". */
bool cr_attach_unreachable(const cr_attach *a);
