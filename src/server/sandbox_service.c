/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox_service.c -- SandboxService: create (compiled policy re-validated
 * and hash-checked, launch validation, provisioning), get, list and
 * terminate, and the one place a sandbox's status changes
 * (cr_server_sandbox_status: store, event log, followers, audit). Records
 * live in the state store; live handles in the server. Provisioning goes on
 * in the background (provision.c): CreateSandbox answers PROVISIONING. */
#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanroom/v1/sandbox.pb-c.h"
#include "server/server.h"
#include "server/util.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static Cleanroom__V1__Sandbox *sandbox_message(const cr_sandbox_row *r)
{
	Cleanroom__V1__Sandbox *m = cr_xmalloc(sizeof(*m));
	cleanroom__v1__sandbox__init(m);
	m->sandbox_id = cr_xstrdup(r->sandbox_id);
	m->status = (Cleanroom__V1__SandboxStatus)r->status;
	m->backend = cr_xstrdup(r->backend);
	m->policy_hash = cr_xstrdup(r->policy_hash);
	m->created_at = cr_pb_timestamp(r->created_ms);
	m->updated_at = cr_pb_timestamp(r->updated_ms);
	m->reason = cr_xstrdup(r->reason);
	m->run_id = cr_xstrdup(r->run_id);
	m->actor = cr_xstrdup(r->actor);
	m->expires_at = cr_pb_timestamp(r->expires_ms);
	return m;
}

static cr_policy *read_policy(const Cleanroom__V1__CreateSandboxRequest *req, cr_error **err)
{
	if (!req->compiled_policy_json || !*req->compiled_policy_json) {
		cr_error_make(
			err, 0, CR_REASON_POLICY_INVALID,
			req->policy
				? "this server reads the policy from compiled_policy_json (compile it with "
				  "'cleanroom policy compile --json'); the reference 'policy' field is not "
				  "supported"
				: "compiled_policy_json is required");
		return NULL;
	}
	cr_diags d = {0};
	cr_policy *p = NULL;
	if (cr_policy_from_compiled(req->compiled_policy_json, strlen(req->compiled_policy_json), &p, &d) <
	    0) {
		const cr_diag *g = d.n ? &d.items[0] : NULL;
		cr_error_make(err, 0, CR_REASON_POLICY_INVALID, "compiled policy rejected: %s%s%s",
			      g && g->path ? g->path : "", g && g->path ? ": " : "",
			      g ? g->message : "invalid");
	}
	cr_diags_clear(&d);
	return p;
}

cr_audit_ctx cr_live_audit_ctx(const cr_live_sandbox *l)
{
	return (cr_audit_ctx){.run_id = l->run_id,
			      .sandbox_id = l->id,
			      .actor = l->actor,
			      .backend = l->backend->name,
			      .policy_hash = l->policy_hash};
}

cr_live_sandbox *cr_server_find_live(cr_server *srv, const char *id)
{
	for (cr_live_sandbox *l = srv->live; l; l = l->next)
		if (id && strcmp(l->id, id) == 0)
			return l;
	return NULL;
}

static const char *status_kind(int status, cr_reason reason)
{
	switch (status) {
	case CR_SB_READY: return "sandbox.ready";
	case CR_SB_STOPPED: return "sandbox.terminated";
	case CR_SB_FAILED: return reason == CR_REASON_SANDBOX_EXPIRED ? "sandbox.expired" : "sandbox.failed";
	default: return NULL;
	}
}

void cr_server_sandbox_status(cr_server *srv, const char *id, int status, cr_reason reason,
			      const char *message)
{
	int64_t t = cr_now_ms();
	const char *rname = reason ? cr_reason_name(reason) : "";
	cr_error *err = NULL;
	if (cr_store_sandbox_set_status(srv->store, id, status, rname, t, &err) < 0 ||
	    cr_store_event_append(srv->store, id, status, rname, message, t, &err) < 0) {
		fprintf(stderr, "cleanroom serve: record status of %s: %s\n", id, err->msg);
		cr_error_free(err);
	}
	cr_live_sandbox *l = cr_server_find_live(srv, id);
	if (l)
		cr_sandbox_events_notify(l, &(cr_event_row){.status = status,
							    .reason = (char *)rname,
							    .message = (char *)(message ? message : ""),
							    .ts_ms = t});
	const char *kind = status_kind(status, reason);
	if (kind && l) {
		cr_audit_ctx ctx = cr_live_audit_ctx(l);
		const char *detail[] = {"message", message ? message : "", NULL};
		cr_server_audit(srv, kind, &ctx, reason, detail);
	}
}

/* The sandbox's time to live: the request's, else the policy's, capped by
 * the server's maximum. */
static int64_t ttl_seconds(const cr_server *srv, const Cleanroom__V1__CreateSandboxRequest *req,
			   const cr_policy *p)
{
	int64_t ttl = req->options && req->options->ttl_seconds > 0 ? req->options->ttl_seconds
								    : (int64_t)p->ttl_minutes * 60;
	if (srv->cfg.max_ttl_seconds > 0 && (ttl <= 0 || ttl > srv->cfg.max_ttl_seconds))
		ttl = srv->cfg.max_ttl_seconds;
	return ttl;
}

static void audit_refusal(cr_server *srv, const cr_api_call *call, const struct cr_backend *be,
			  const cr_policy *p, const char *run_id, const cr_error *e)
{
	cr_audit_ctx ctx = {.run_id = run_id,
			    .actor = call->actor,
			    .backend = be->name,
			    .policy_hash = p ? p->policy_hash : ""};
	const char *detail[] = {"message", e->msg, NULL};
	cr_server_audit(srv, "sandbox.launch_refused", &ctx, e->reason, detail);
}

int cr_sandbox_create(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		      ProtobufCMessage **out, cr_error **err)
{
	const Cleanroom__V1__CreateSandboxRequest *req = (const void *)in;
	const struct cr_backend *be =
		req->backend && *req->backend ? cr_backend_find(req->backend) : srv->backend;
	if (!be)
		return cr_error_make(err, 0, CR_REASON_BACKEND_UNAVAILABLE, "unknown backend '%s'",
				     req->backend);
	cleanup_free char *run_id = req->run_id && *req->run_id ? cr_xstrdup(req->run_id) : cr_new_id("run-");
	cleanup_policy cr_policy *p = read_policy(req, err);
	cr_backend_caps caps;
	cr_capability storage[32];
	cr_egress_caps(srv, be, &caps, storage, sizeof(storage) / sizeof(storage[0]));
	if (!p || cr_launch_validate(p, &caps, err) < 0) {
		audit_refusal(srv, call, be, p, run_id, *err);
		return -1;
	}
	cleanup_free char *id = cr_new_id("sb-");
	int64_t t = cr_now_ms(), ttl = ttl_seconds(srv, req, p);
	cr_sandbox_row row = {.sandbox_id = id,
			      .backend = (char *)be->name,
			      .policy_hash = p->policy_hash,
			      .run_id = run_id,
			      .actor = (char *)call->actor,
			      .reason = "",
			      .status = CR_SB_PROVISIONING,
			      .created_ms = t,
			      .updated_ms = t,
			      .expires_ms = ttl > 0 ? t + ttl * 1000 : 0};
	if (cr_provision_launch(srv, be, p, req->compiled_policy_json, &row, err) < 0)
		return -1;
	Cleanroom__V1__CreateSandboxResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__create_sandbox_response__init(r);
	r->sandbox = sandbox_message(&row);
	r->policy_source = cr_xstrdup(p->source.policy_path);
	*out = &r->base;
	return 0;
}

int cr_server_sandbox_row(cr_server *srv, const char *id, cr_sandbox_row *row, cr_error **err)
{
	int found = cr_store_sandbox_get(srv->store, id ? id : "", row, err);
	if (found == 0)
		return cr_error_status(err, ENOENT, CR_REASON_NONE, "no sandbox '%s'", id ? id : "");
	return found < 0 ? -1 : 0;
}

int cr_server_running_sandbox(cr_server *srv, const char *id, cr_live_sandbox **out, cr_error **err)
{
	*out = cr_server_find_live(srv, id);
	if (*out && (*out)->ready)
		return 0;
	if (*out)
		return cr_error_status(err, EBUSY, CR_REASON_NONE,
				       "sandbox '%s' is still provisioning; wait until it is READY "
				       "(GetSandbox or StreamSandboxEvents)",
				       id);
	cr_sandbox_row row;
	if (cr_server_sandbox_row(srv, id, &row, err) < 0)
		return -1;
	cr_error_status(err, EBUSY, CR_REASON_NONE, "sandbox '%s' is not running (%s%s%s)", row.sandbox_id,
			cr_sandbox_status_name(row.status), *row.reason ? ": " : "", row.reason);
	cr_sandbox_row_clear(&row);
	return -1;
}

int cr_sandbox_get(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		   ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__GetSandboxRequest *req = (const void *)in;
	cr_sandbox_row row;
	if (cr_server_sandbox_row(srv, req->sandbox_id, &row, err) < 0)
		return -1;
	Cleanroom__V1__GetSandboxResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__get_sandbox_response__init(r);
	r->sandbox = sandbox_message(&row);
	cr_sandbox_row_clear(&row);
	*out = &r->base;
	return 0;
}

static bool terminal(int status)
{
	return status == CR_SB_STOPPED || status == CR_SB_FAILED;
}

int cr_sandbox_list(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		    ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__ListSandboxesRequest *req = (const void *)in;
	cr_sandbox_row *rows = NULL;
	size_t n = 0;
	if (cr_store_sandbox_list(srv->store, &rows, &n, err) < 0)
		return -1;
	Cleanroom__V1__ListSandboxesResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__list_sandboxes_response__init(r);
	r->sandboxes = cr_xcalloc(n + 1, sizeof(*r->sandboxes));
	for (size_t i = 0; i < n; i++) {
		if (req->include_terminated || !terminal(rows[i].status))
			r->sandboxes[r->n_sandboxes++] = sandbox_message(&rows[i]);
		cr_sandbox_row_clear(&rows[i]);
	}
	free(rows);
	*out = &r->base;
	return 0;
}

static void unlink_live(cr_server *srv, cr_live_sandbox *l)
{
	for (cr_live_sandbox **pp = &srv->live; *pp; pp = &(*pp)->next)
		if (*pp == l) {
			*pp = l->next;
			return;
		}
}

int cr_server_destroy_live(cr_server *srv, cr_live_sandbox *l, cr_reason reason, const char *message,
			   cr_error **err)
{
	if (l->event_ev)
		event_free(l->event_ev);
	if (l->ttl_ev)
		event_free(l->ttl_ev);
	if (l->resume_ev)
		event_free(l->resume_ev);
	if (l->provision_ev)
		event_free(l->provision_ev);
	l->event_ev = l->ttl_ev = l->resume_ev = l->provision_ev = NULL;
	if (l->ready)
		cr_server_sandbox_status(srv, l->id, CR_SB_STOPPING, reason, "stopping");
	cr_pump_fail_all(l, reason ? reason : CR_REASON_SANDBOX_LOST,
			 message ? message : "the sandbox was terminated");
	int rc = l->backend->terminate(l->sb, err);
	cr_egress_release(srv, l->id, l->egress);
	l->egress = NULL;
	if (rc < 0 && !reason)
		reason = CR_REASON_INTERNAL;
	cr_server_sandbox_status(srv, l->id, reason ? CR_SB_FAILED : CR_SB_STOPPED, reason,
				 rc < 0    ? (*err)->msg
				 : message ? message
					   : "terminated");
	cr_api_streams_end_all(&l->subs, NULL);
	unlink_live(srv, l);
	free(l->id);
	free(l->run_id);
	free(l->policy_hash);
	free(l->actor);
	free(l);
	return rc;
}

int cr_sandbox_terminate(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			 ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__TerminateSandboxRequest *req = (const void *)in;
	cr_sandbox_row row;
	if (cr_server_sandbox_row(srv, req->sandbox_id, &row, err) < 0)
		return -1;
	cr_live_sandbox *l = cr_server_find_live(srv, row.sandbox_id);
	int rc = l ? cr_server_destroy_live(srv, l, CR_REASON_NONE, "terminated by request", err) : 0;
	Cleanroom__V1__TerminateSandboxResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__terminate_sandbox_response__init(r);
	r->sandbox_id = cr_xstrdup(row.sandbox_id);
	r->terminated = rc == 0;
	r->message = cr_xstrdup(l ? "terminated" : "the sandbox was not running");
	cr_sandbox_row_clear(&row);
	if (rc < 0) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
		return -1;
	}
	*out = &r->base;
	return 0;
}

void cr_server_terminate_all(cr_server *srv)
{
	while (srv->live) {
		cr_error *err = NULL;
		if (cr_server_destroy_live(srv, srv->live, CR_REASON_NONE, "the server is shutting down",
					   &err) < 0) {
			fprintf(stderr, "cleanroom serve: terminate: %s\n", err->msg);
			cr_error_free(err);
		}
	}
}
