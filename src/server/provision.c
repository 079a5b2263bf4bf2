/* SPDX-License-Identifier: Apache-2.0 */
/* provision.c -- a sandbox from PROVISIONING to READY without blocking the
 * event loop.
 *
 * CreateSandbox records the sandbox, starts the backend's provisioning
 * (provision_start returns at once) and answers PROVISIONING. The pump calls
 * cr_provision_step whenever the backend's event_fd is readable; when the
 * backend says ready the sandbox becomes READY and the executions queued in
 * the meantime start. With egress (egress.h), the sandbox's address block and
 * firewall chains are taken before the backend starts, and once the backend
 * is ready (its link exists) the gateway is started: the sandbox is READY
 * when the gateway listens. A failure, or no answer within
 * PROVISION_TIMEOUT_S, fails the sandbox (runtime_launch_failed) and its
 * queued executions. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>

#include "server/server.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define PROVISION_TIMEOUT_S 60

static void fail(cr_live_sandbox *l, const char *message)
{
	cr_server *srv = l->srv;
	cleanup_error cr_error *err = NULL;
	if (cr_server_destroy_live(srv, l, CR_REASON_RUNTIME_LAUNCH_FAILED, message, &err) < 0)
		fprintf(stderr, "cleanroom serve: %s\n", err->msg);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	char msg[64];
	snprintf(msg, sizeof(msg), "the sandbox was not ready after %d s", PROVISION_TIMEOUT_S);
	fail(arg, msg);
}

static void become_ready(cr_live_sandbox *l)
{
	event_free(l->provision_ev);
	l->provision_ev = NULL;
	l->ready = true;
	cr_server_sandbox_status(l->srv, l->id, CR_SB_READY, CR_REASON_NONE, "ready");
	cr_execution_start_queued(l);
	cr_pump_kick(l);
}

void cr_provision_step(cr_live_sandbox *l)
{
	cleanup_error cr_error *err = NULL;
	int r = l->backend->provision_step(l->sb, &err);
	if (r == 0)
		return;
	if (r < 0) {
		fail(l, err->msg);
		return;
	}
	if (l->egress && !l->egress->gateway_ready) {
		/* the link exists: the gateway can bind its address now */
		if (l->egress->gw)
			return;
		if (cr_egress_start_gateway(l, &err) < 0)
			fail(l, err->msg);
		return;
	}
	become_ready(l);
}

void cr_provision_gateway_ready(cr_live_sandbox *l)
{
	l->egress->gateway_ready = true;
	if (!l->ready)
		become_ready(l);
}

static cr_live_sandbox *add_live(cr_server *srv, const struct cr_backend *be, cr_sandbox *sb,
				 const cr_sandbox_row *row)
{
	cr_live_sandbox *l = cr_xcalloc(1, sizeof(*l));
	*l = (cr_live_sandbox){.id = cr_xstrdup(row->sandbox_id),
			       .run_id = cr_xstrdup(row->run_id),
			       .policy_hash = cr_xstrdup(row->policy_hash),
			       .actor = cr_xstrdup(row->actor),
			       .backend = be,
			       .sb = sb,
			       .srv = srv,
			       .next = srv->live};
	srv->live = l;
	l->provision_ev = evtimer_new(srv->base, on_deadline, l);
	struct timeval tv = {.tv_sec = PROVISION_TIMEOUT_S};
	evtimer_add(l->provision_ev, &tv);
	cr_pump_attach(l);
	cr_ttl_arm(l, row->expires_ms);
	return l;
}

static int launch_failed(cr_server *srv, const cr_sandbox_row *row, const cr_audit_ctx *ctx,
			 const cr_error *e)
{
	const char *detail[] = {"message", e->msg, NULL};
	cr_server_sandbox_status(srv, row->sandbox_id, CR_SB_FAILED, CR_REASON_RUNTIME_LAUNCH_FAILED, e->msg);
	cr_server_audit(srv, "sandbox.failed", ctx, CR_REASON_RUNTIME_LAUNCH_FAILED, detail);
	return -1;
}

int cr_provision_launch(cr_server *srv, const struct cr_backend *be, const cr_policy *p, const char *compiled,
			const cr_sandbox_row *row, cr_error **err)
{
	if (cr_store_sandbox_put(srv->store, row, err) < 0)
		return -1;
	cr_audit_ctx ctx = {.run_id = row->run_id,
			    .sandbox_id = row->sandbox_id,
			    .actor = row->actor,
			    .backend = be->name,
			    .policy_hash = row->policy_hash};
	cr_server_audit(srv, "sandbox.created", &ctx, CR_REASON_NONE, NULL);
	cr_server_sandbox_status(srv, row->sandbox_id, CR_SB_PROVISIONING, CR_REASON_NONE, "provisioning");
	cr_sandbox_spec spec = {.sandbox_id = row->sandbox_id, .policy = p, .state_dir = srv->state_dir};
	cr_sandbox_egress *egress = NULL;
	cr_sandbox *sb = NULL;
	if (srv->egress.active && cr_egress_acquire(srv, row->sandbox_id, compiled, p, &egress, err) < 0)
		return launch_failed(srv, row, &ctx, *err);
	spec.net = egress ? &egress->lease : NULL;
	if (be->provision_start(&spec, &sb, err) < 0) {
		cr_egress_release(srv, row->sandbox_id, egress);
		return launch_failed(srv, row, &ctx, *err);
	}
	cr_live_sandbox *l = add_live(srv, be, sb, row);
	l->egress = egress;
	/* the first step runs on the next turn of the loop, then whenever the
	 * backend's event_fd is readable */
	cr_pump_kick(l);
	return 0;
}
