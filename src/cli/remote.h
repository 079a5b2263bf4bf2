/* SPDX-License-Identifier: Apache-2.0 */
/* remote.h -- one connection of an inspection or administration command to
 * `cleanroom serve`: opening the client for --host, unary and streaming
 * calls that print failures in the form of spec §8.1 with a hint (no server
 * there, unknown id, ...), so each command only says what to ask and how to
 * show the answer. */
#pragma once

#include <protobuf-c/protobuf-c.h>

#include "cli/client/client.h"
#include "cli/output.h"

#define CR_SANDBOX_SERVICE   "cleanroom.v1.SandboxService"
#define CR_EXECUTION_SERVICE "cleanroom.v1.ExecutionService"
#define CR_ADMIN_SERVICE     "cleanroom.v1.AdminService"

typedef struct cr_remote {
	const char *cmd; /* "cleanroom sandbox get": prefixes every error line */
	cr_cli_opts opts;
	cr_client *client;
	const char *not_found_hint; /* shown when the server answers not_found; may be NULL */
} cr_remote;

/* Resolves the endpoint of o->host (cr_client_resolve_endpoint) and opens a
 * client on it. Returns 0, or -1 after printing the error. */
int cr_remote_open(cr_remote *r, const char *cmd, const cr_cli_opts *o);
void cr_remote_close(cr_remote *r);

/* A unary call (cr_client_unary). Returns 0 with *out owned by the caller
 * (protobuf_c_message_free_unpacked), or -1 after printing the error. */
int cr_remote_unary(cr_remote *r, const char *service, const char *method, const ProtobufCMessage *in,
		    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out);

/* A server-streaming call (cr_client_stream). Returns 0 after a clean end,
 * 1 when a callback stopped it, or -1 after printing the error. */
int cr_remote_stream(cr_remote *r, const char *service, const char *method, const ProtobufCMessage *in,
		     const ProtobufCMessageDescriptor *out_desc, cr_client_stream_fn on_msg,
		     cr_client_poll_fn on_poll, void *ctx);

/* Prints a failed call's error: "no server at ENDPOINT; start one with
 * `cleanroom serve`" when nothing answers there, else the server's reason
 * code (or, for errors without one, its Connect code such as not_found) and
 * message, with a hint where one helps. */
void cr_remote_report(const cr_remote *r, const cr_error *e);

/* True when the last call failed because nothing answers at the endpoint. */
bool cr_remote_unreachable(const cr_remote *r);

/* Installs SIGINT/SIGTERM handlers that only set a flag, for a poll
 * callback to stop a following stream (cr_remote_interrupted). */
void cr_remote_catch_interrupts(void);
/* A cr_client_poll_fn: non-zero once SIGINT or SIGTERM arrived. */
int cr_remote_interrupted(void *ctx);
