/* SPDX-License-Identifier: Apache-2.0 */
/* server.h -- `cleanroom serve`: the control plane's state and its Connect
 * API dispatch. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "backend/backend.h"
#include "server/store/store.h"
#include "util/error.h"

/* A sandbox this server owns right now. */
typedef struct cr_live_sandbox {
	char *id;
	const struct cr_backend *backend;
	cr_sandbox *sb;
	struct cr_live_sandbox *next;
} cr_live_sandbox;

typedef struct cr_server {
	struct event_base *base;
	cr_store *store;
	char *state_dir;
	char *socket_path;
	time_t started;
	const struct cr_backend *backend; /* the default backend */
	cr_live_sandbox *live;
} cr_server;

/* Refuses (backend_capability_mismatch) a policy whose features need
 * capability keys the backend does not declare (spec §7.1). */
int cr_launch_validate(const cr_policy *p, const cr_backend_caps *caps, cr_error **err);

/* Terminates every sandbox this server owns (at shutdown). */
void cr_server_terminate_all(cr_server *srv);

/* Who called, from the connection's peer credentials. */
typedef struct cr_api_call {
	uid_t uid;
	pid_t pid;
	char actor[64]; /* "uid:1000" */
} cr_api_call;

typedef int (*cr_api_unary_fn)(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			       ProtobufCMessage **out, cr_error **err);

typedef struct cr_api_route {
	const char *service; /* "cleanroom.v1.AdminService" */
	const char *method;  /* "GetServerStatus" */
	unsigned flags;      /* CR_CONNECT_METHOD_* */
	const ProtobufCMessageDescriptor *input;
	cr_api_unary_fn unary; /* NULL: routed but not implemented yet (Connect unimplemented) */
} cr_api_route;

/* The routes of every service, NULL-service terminated. */
extern const cr_api_route cr_api_routes[];

/* The handler given to the HTTP layer: classify, decode, dispatch, encode. */
struct cr_http_request;
void cr_api_handle(const struct cr_http_request *req, void *server);

/* SandboxService. */
int cr_sandbox_create(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		      ProtobufCMessage **out, cr_error **err);
int cr_sandbox_get(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		   ProtobufCMessage **out, cr_error **err);
int cr_sandbox_list(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		    ProtobufCMessage **out, cr_error **err);
int cr_sandbox_terminate(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			 ProtobufCMessage **out, cr_error **err);

/* AdminService. */
int cr_admin_get_capabilities(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			      ProtobufCMessage **out, cr_error **err);
int cr_admin_doctor(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		    ProtobufCMessage **out, cr_error **err);
int cr_admin_get_server_status(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			       ProtobufCMessage **out, cr_error **err);
