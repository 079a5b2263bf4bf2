/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox_service.c -- SandboxService: create (compiled policy re-validated
 * and hash-checked, launch validation, provisioning), get, list and
 * terminate. Records live in the state store; the live handles in the
 * server. Provisioning runs on the event loop for now (tens of
 * milliseconds); moving it off the loop comes with the execution service. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "cleanroom/v1/sandbox.pb-c.h"
#include "server/server.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *new_id(const char *prefix)
{
	unsigned char r[6] = {0};
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		abort(); /* the kernel's CSPRNG does not fail for 6 bytes */
	return cr_asprintf("%s%02x%02x%02x%02x%02x%02x", prefix, r[0], r[1], r[2], r[3], r[4], r[5]);
}

static Google__Protobuf__Timestamp *timestamp(int64_t ms)
{
	if (!ms)
		return NULL;
	Google__Protobuf__Timestamp *t = cr_xmalloc(sizeof(*t));
	google__protobuf__timestamp__init(t);
	t->seconds = ms / 1000;
	t->nanos = (int32_t)(ms % 1000) * 1000000;
	return t;
}

static Cleanroom__V1__Sandbox *sandbox_message(const cr_sandbox_row *r)
{
	Cleanroom__V1__Sandbox *m = cr_xmalloc(sizeof(*m));
	cleanroom__v1__sandbox__init(m);
	m->sandbox_id = cr_xstrdup(r->sandbox_id);
	m->status = (Cleanroom__V1__SandboxStatus)r->status;
	m->backend = cr_xstrdup(r->backend);
	m->policy_hash = cr_xstrdup(r->policy_hash);
	m->created_at = timestamp(r->created_ms);
	m->updated_at = timestamp(r->updated_ms);
	m->reason = cr_xstrdup(r->reason);
	m->run_id = cr_xstrdup(r->run_id);
	m->actor = cr_xstrdup(r->actor);
	m->expires_at = timestamp(r->expires_ms);
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

static int launch(cr_server *srv, const struct cr_backend *be, const cr_policy *p, cr_sandbox_row *row,
		  cr_error **err)
{
	if (cr_store_sandbox_put(srv->store, row, err) < 0)
		return -1;
	cr_sandbox_spec spec = {.sandbox_id = row->sandbox_id, .policy = p, .state_dir = srv->state_dir};
	cr_sandbox *sb = NULL;
	if (be->provision(&spec, &sb, err) < 0) {
		cr_store_sandbox_set_status(srv->store, row->sandbox_id, CR_SB_FAILED,
					    "runtime_launch_failed", now_ms(), NULL);
		return -1;
	}
	cr_live_sandbox *l = cr_xcalloc(1, sizeof(*l));
	*l = (cr_live_sandbox){.id = cr_xstrdup(row->sandbox_id), .backend = be, .sb = sb, .next = srv->live};
	srv->live = l;
	row->status = CR_SB_READY;
	row->updated_ms = now_ms();
	cr_store_event_append(srv->store, row->sandbox_id, CR_SB_READY, "ready", row->updated_ms, NULL);
	return cr_store_sandbox_set_status(srv->store, row->sandbox_id, CR_SB_READY, "", row->updated_ms,
					   err);
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
	cleanup_policy cr_policy *p = read_policy(req, err);
	cr_backend_caps caps;
	be->capabilities(&caps);
	if (!p || cr_launch_validate(p, &caps, err) < 0)
		return -1;
	cleanup_free char *id = new_id("sb-");
	cleanup_free char *run_id = req->run_id && *req->run_id ? cr_xstrdup(req->run_id) : new_id("run-");
	int64_t t = now_ms();
	cr_sandbox_row row = {.sandbox_id = id,
			      .backend = (char *)be->name,
			      .policy_hash = p->policy_hash,
			      .run_id = run_id,
			      .actor = (char *)call->actor,
			      .reason = "",
			      .status = CR_SB_PROVISIONING,
			      .created_ms = t,
			      .updated_ms = t,
			      .expires_ms = t + p->ttl_minutes * 60000};
	if (launch(srv, be, p, &row, err) < 0)
		return -1;
	Cleanroom__V1__CreateSandboxResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__create_sandbox_response__init(r);
	r->sandbox = sandbox_message(&row);
	r->policy_source = cr_xstrdup(p->source.policy_path);
	*out = &r->base;
	return 0;
}

static int get_row(cr_server *srv, const char *id, cr_sandbox_row *row, cr_error **err)
{
	int found = cr_store_sandbox_get(srv->store, id ? id : "", row, err);
	if (found == 0)
		return cr_error_make(err, ENOENT, CR_REASON_NONE, "sandbox '%s'", id ? id : "");
	return found < 0 ? -1 : 0;
}

int cr_sandbox_get(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		   ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__GetSandboxRequest *req = (const void *)in;
	cr_sandbox_row row;
	if (get_row(srv, req->sandbox_id, &row, err) < 0)
		return -1;
	Cleanroom__V1__GetSandboxResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__get_sandbox_response__init(r);
	r->sandbox = sandbox_message(&row);
	cr_sandbox_row_clear(&row);
	*out = &r->base;
	return 0;
}

int cr_sandbox_list(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
		    ProtobufCMessage **out, cr_error **err)
{
	(void)call, (void)in;
	cr_sandbox_row *rows = NULL;
	size_t n = 0;
	if (cr_store_sandbox_list(srv->store, &rows, &n, err) < 0)
		return -1;
	Cleanroom__V1__ListSandboxesResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__list_sandboxes_response__init(r);
	r->sandboxes = cr_xcalloc(n + 1, sizeof(*r->sandboxes));
	for (size_t i = 0; i < n; i++) {
		r->sandboxes[r->n_sandboxes++] = sandbox_message(&rows[i]);
		cr_sandbox_row_clear(&rows[i]);
	}
	free(rows);
	*out = &r->base;
	return 0;
}

static cr_live_sandbox *take_live(cr_server *srv, const char *id)
{
	for (cr_live_sandbox **pp = &srv->live; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->id, id) == 0) {
			cr_live_sandbox *l = *pp;
			*pp = l->next;
			return l;
		}
	return NULL;
}

static int destroy_live(cr_server *srv, cr_live_sandbox *l, cr_error **err)
{
	int rc = l->backend->terminate(l->sb, err);
	int64_t t = now_ms();
	cr_store_sandbox_set_status(srv->store, l->id, rc < 0 ? CR_SB_FAILED : CR_SB_STOPPED,
				    rc < 0 ? "internal" : "", t, NULL);
	cr_store_event_append(srv->store, l->id, CR_SB_STOPPED, "terminated", t, NULL);
	free(l->id);
	free(l);
	return rc;
}

int cr_sandbox_terminate(cr_server *srv, const cr_api_call *call, const ProtobufCMessage *in,
			 ProtobufCMessage **out, cr_error **err)
{
	(void)call;
	const Cleanroom__V1__TerminateSandboxRequest *req = (const void *)in;
	cr_sandbox_row row;
	if (get_row(srv, req->sandbox_id, &row, err) < 0)
		return -1;
	cr_live_sandbox *l = take_live(srv, row.sandbox_id);
	int rc = l ? destroy_live(srv, l, err) : 0;
	if (!l && (row.status == CR_SB_PROVISIONING || row.status == CR_SB_READY))
		cr_store_sandbox_set_status(srv->store, row.sandbox_id, CR_SB_STOPPED, "", now_ms(), NULL);
	Cleanroom__V1__TerminateSandboxResponse *r = cr_xmalloc(sizeof(*r));
	cleanroom__v1__terminate_sandbox_response__init(r);
	r->sandbox_id = cr_xstrdup(row.sandbox_id);
	r->terminated = l != NULL && rc == 0;
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
		cr_live_sandbox *l = srv->live;
		srv->live = l->next;
		cr_error *err = NULL;
		if (destroy_live(srv, l, &err) < 0) {
			fprintf(stderr, "cleanroom serve: terminate: %s\n", err->msg);
			cr_error_free(err);
		}
	}
}
