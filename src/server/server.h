/* SPDX-License-Identifier: Apache-2.0 */
/* server.h -- `cleanroom serve`: the control plane's state and its Connect
 * API dispatch. */
#pragma once

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "backend/backend.h"
#include "server/egress.h"
#include "server/store/store.h"
#include "util/clock.h"
#include "util/error.h"

struct event;
struct evhttp_request;
struct cr_audit;
typedef struct cr_api_stream cr_api_stream;
typedef struct cr_live_sandbox cr_live_sandbox;

/* An execution that has not reached a terminal status yet. */
typedef struct cr_live_exec {
	char *id;
	uint32_t backend_id;
	cr_live_sandbox *owner;
	bool cancel_requested, timed_out;
	bool queued;        /* waits for its sandbox to be READY (status QUEUED) */
	char **argv, **env; /* the request, kept while queued; NULL-terminated */
	char *cwd;          /* NULL = the backend's default */
	bool tty;
	int64_t timeout_s;        /* 0 = none */
	struct event *timeout_ev; /* NULL without a timeout */
	cr_api_stream *subs;      /* StreamExecution followers */
	struct cr_live_exec *next;
} cr_live_exec;

/* A sandbox this server owns right now. */
struct cr_live_sandbox {
	char *id, *run_id, *policy_hash, *actor;
	const struct cr_backend *backend;
	cr_sandbox *sb;
	struct cr_server *srv;
	struct event *event_ev;     /* the backend's event_fd on the loop */
	struct event *ttl_ev;       /* fires at expires_ms */
	struct event *resume_ev;    /* checks whether paused followers caught up */
	struct event *provision_ev; /* provisioning deadline, until READY */
	bool ready;                 /* provisioned: executions start at once */
	cr_sandbox_egress *egress;  /* its link, firewall chains and gateway; NULL = loopback only */
	bool paused;                /* a follower is behind: events wait (backpressure) */
	int64_t paused_since_ms;
	cr_live_exec *execs;
	cr_api_stream *subs; /* StreamSandboxEvents followers */
	struct cr_live_sandbox *next;
};

typedef struct cr_server_config {
	size_t output_cap_bytes;   /* output history kept per execution */
	int64_t retention_seconds; /* finished records older than this are pruned */
	int idle_exit_seconds;     /* 0 = never: exit when idle this long */
	int64_t max_ttl_seconds;   /* cap on a sandbox's time to live */
} cr_server_config;

typedef struct cr_server {
	struct event_base *base;
	cr_store *store;
	struct cr_audit *audit; /* the audit trail (JSON lines) */
	char *audit_path;
	char *state_dir;
	char *socket_path;
	time_t started;
	const struct cr_backend *backend; /* the default backend */
	cr_live_sandbox *live;
	cr_server_config cfg;
	int64_t last_activity_ms; /* last request, for --idle-exit */
	cr_egress egress;
	struct event *housekeeping_ev;
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
/* A server-streaming handler: returns -1 with *err to refuse the call (the
 * error goes into the end-of-stream message), or 0 after taking `st` over
 * (it sends messages and ends the stream, now or later). */
typedef int (*cr_api_stream_fn)(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
				cr_api_stream *st, cr_error **err);

typedef struct cr_api_route {
	const char *service; /* "cleanroom.v1.AdminService" */
	const char *method;  /* "GetServerStatus" */
	unsigned flags;      /* CR_CONNECT_METHOD_* */
	const ProtobufCMessageDescriptor *input;
	cr_api_unary_fn unary;   /* unary methods */
	cr_api_stream_fn stream; /* server-streaming methods */
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

/* ---- server streams (stream.c) ---- */

/* Sends one message; the response head goes out with the first one. Returns
 * -1 when the client is gone or too slow (the stream is then closed). */
int cr_api_stream_send(cr_api_stream *st, const ProtobufCMessage *msg);
/* Sends the end-of-stream message (success when e is NULL) and frees st. */
void cr_api_stream_end(cr_api_stream *st, const cr_error *e);
/* The same with an explicit Connect code (cr_connect_code) for e. */
void cr_api_stream_end_code(cr_api_stream *st, int code, const cr_error *e);
/* Sends msg to every stream of a followers list, and with then_end ends
 * each one after it (a stream whose send fails is already gone). */
void cr_api_streams_send(cr_api_stream *list, const ProtobufCMessage *msg, bool then_end);
/* Adds st to a list of followers; it leaves the list by itself when its
 * client goes away, or through cr_api_stream_end. */
void cr_api_stream_follow(cr_api_stream *st, cr_api_stream **list);
/* Bytes written to the stream and not yet taken by its client. */
size_t cr_api_stream_pending(const cr_api_stream *st);
/* Ends every stream of a list with e (or success). */
void cr_api_streams_end_all(cr_api_stream **list, const cr_error *e);
/* The first stream of a list and the next one, for sending to all. */
cr_api_stream *cr_api_stream_next(cr_api_stream *st);
/* Opens a stream on a request (api.c). */
cr_api_stream *cr_api_stream_open(struct evhttp_request *raw, int codec);
/* A stream on an upgraded connection (attach.c): execution events go out as
 * ExecutionAttachFrames; on_end(ctx) is called when the stream ends (after
 * the end-of-stream message is queued), just before st is freed. */
struct bufferevent;
cr_api_stream *cr_api_stream_open_upgraded(struct bufferevent *bev, int codec, void (*on_end)(void *ctx),
					   void *ctx);
/* Ends the stream with deadline_exceeded after ms milliseconds (the
 * request's Connect-Timeout-Ms); ms < 0 = none. */
void cr_api_stream_set_deadline(cr_api_stream *st, struct event_base *base, int64_t ms);
/* Forgets a stream whose client went away, without writing anything. */
void cr_api_stream_abandon(cr_api_stream *st);

/* ---- executions (execution_service.c, pump.c) ---- */

int cr_execution_create(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			ProtobufCMessage **out, cr_error **err);
int cr_execution_get(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		     ProtobufCMessage **out, cr_error **err);
int cr_execution_list(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		      ProtobufCMessage **out, cr_error **err);
int cr_execution_cancel(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			ProtobufCMessage **out, cr_error **err);
int cr_execution_stream(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			cr_api_stream *st, cr_error **err);

/* Starts watching a live sandbox's backend events on the loop. */
void cr_pump_attach(cr_live_sandbox *l);

/* ---- provisioning (provision.c) ---- */

/* Records the sandbox (PROVISIONING), starts the backend's provisioning and
 * returns; the loop finishes it (READY, or FAILED with
 * runtime_launch_failed) when the backend's event_fd says so. */
int cr_provision_launch(cr_server *srv, const struct cr_backend *be, const cr_policy *p, const char *compiled,
			const cr_sandbox_row *row, cr_error **err);
/* Called by the pump while the sandbox is not ready. */
void cr_provision_step(cr_live_sandbox *l);
/* Called when the sandbox's gateway listens: the sandbox becomes READY. */
void cr_provision_gateway_ready(cr_live_sandbox *l);
/* Starts the executions queued while the sandbox was provisioning
 * (execution_service.c). */
void cr_execution_start_queued(cr_live_sandbox *l);
/* Makes the pump look for events now (after a blocking backend call that
 * queued some). */
void cr_pump_kick(cr_live_sandbox *l);
/* Ends every live execution of a sandbox that is going away, as FAILED
 * with reason (or CANCELED when a cancel was requested). */
void cr_pump_fail_all(cr_live_sandbox *l, cr_reason reason, const char *message);

/* ---- sandboxes (sandbox_service.c, sandbox_files.c) ---- */

int cr_sandbox_upload(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		      ProtobufCMessage **out, cr_error **err);
int cr_sandbox_download(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			ProtobufCMessage **out, cr_error **err);
int cr_sandbox_events(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in, cr_api_stream *st,
		      cr_error **err);
cr_live_sandbox *cr_server_find_live(cr_server *srv, const char *id);
/* The stored record of sandbox id; ENOENT (not_found) when there is none. */
int cr_server_sandbox_row(cr_server *srv, const char *id, cr_sandbox_row *row, cr_error **err);
/* The live sandbox id; ENOENT when unknown, EBUSY (failed_precondition)
 * naming its status when it is not running. */
int cr_server_running_sandbox(cr_server *srv, const char *id, cr_live_sandbox **out, cr_error **err);
/* Sends a status change to the sandbox's StreamSandboxEvents followers. */
void cr_sandbox_events_notify(cr_live_sandbox *l, const cr_event_row *e);
/* Terminates a live sandbox: kills its executions, removes host state,
 * records status (STOPPED, or FAILED with reason when reason != NONE). */
int cr_server_destroy_live(cr_server *srv, cr_live_sandbox *l, cr_reason reason, const char *message,
			   cr_error **err);
/* Records a sandbox status change: store, event log, followers, audit. */
void cr_server_sandbox_status(cr_server *srv, const char *id, int status, cr_reason reason,
			      const char *message);

/* ---- interactive attach (attach.c) ---- */
struct cr_http_request;
/* Serves AttachExecution: an HTTP/1.1 Upgrade to a bidirectional stream of
 * ExecutionAttachFrames, or an `unimplemented` answer saying how to ask. */
int cr_attach_handle(cr_server *srv, const struct cr_http_request *req);

/* ---- housekeeping (housekeeping.c): TTL, retention, idle exit ---- */
void cr_housekeeping_start(cr_server *srv);
void cr_housekeeping_stop(cr_server *srv);
void cr_ttl_arm(cr_live_sandbox *l, int64_t expires_ms);

/* ---- audit (audit_emit.c) ---- */
typedef struct cr_audit_ctx {
	const char *run_id, *sandbox_id, *execution_id, *actor, *backend, *policy_hash;
} cr_audit_ctx;
/* Appends one lifecycle event to the audit trail; detail is NULL or
 * key, value, ..., NULL. A failure to write is reported on stderr. */
void cr_server_audit(cr_server *srv, const char *kind, const cr_audit_ctx *ctx, cr_reason reason,
		     const char *const *detail);
/* The audit context of a live sandbox. */
cr_audit_ctx cr_live_audit_ctx(const cr_live_sandbox *l);

char *cr_new_id(const char *prefix);
