/* SPDX-License-Identifier: Apache-2.0 */
/* housekeeping.c -- timers of the control plane: each sandbox's time to
 * live (terminated with reason sandbox_expired when it runs out), and one
 * periodic tick that prunes finished records past the retention period and
 * ends an idle private server (`serve --idle-exit`). */
#include <event2/event.h>
#include <stdio.h>

#include "server/server.h"
#include "util/cleanup.h"

#define TICK_MAX_SECONDS 30

static void on_ttl(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	cr_live_sandbox *l = arg;
	cr_error *err = NULL;
	if (cr_server_destroy_live(l->srv, l, CR_REASON_SANDBOX_EXPIRED, "its time to live ran out", &err) <
	    0) {
		fprintf(stderr, "cleanroom serve: expire a sandbox: %s\n", err->msg);
		cr_error_free(err);
	}
}

void cr_ttl_arm(cr_live_sandbox *l, int64_t expires_ms)
{
	if (expires_ms <= 0)
		return;
	int64_t left = expires_ms - cr_now_ms();
	if (left < 0)
		left = 0;
	l->ttl_ev = evtimer_new(l->srv->base, on_ttl, l);
	struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
	evtimer_add(l->ttl_ev, &tv);
}

static void prune(cr_server *srv, int64_t now)
{
	if (srv->cfg.retention_seconds <= 0)
		return;
	cr_error *err = NULL;
	int n = cr_store_prune(srv->store, now - srv->cfg.retention_seconds * 1000, &err);
	if (n < 0) {
		fprintf(stderr, "cleanroom serve: prune old records: %s\n", err->msg);
		cr_error_free(err);
	} else if (n > 0)
		fprintf(stderr, "cleanroom serve: pruned %d finished sandboxes older than %lld s\n", n,
			(long long)srv->cfg.retention_seconds);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	cr_server *srv = arg;
	int64_t now = cr_now_ms();
	prune(srv, now);
	if (srv->cfg.idle_exit_seconds > 0 && !srv->live &&
	    now - srv->last_activity_ms >= (int64_t)srv->cfg.idle_exit_seconds * 1000) {
		fprintf(stderr, "cleanroom serve: idle for %d s, exiting\n", srv->cfg.idle_exit_seconds);
		event_base_loopbreak(srv->base);
	}
}

void cr_housekeeping_start(cr_server *srv)
{
	int tick = TICK_MAX_SECONDS;
	if (srv->cfg.idle_exit_seconds > 0 && srv->cfg.idle_exit_seconds / 2 < tick)
		tick = srv->cfg.idle_exit_seconds / 2 > 0 ? srv->cfg.idle_exit_seconds / 2 : 1;
	srv->last_activity_ms = cr_now_ms();
	srv->housekeeping_ev = event_new(srv->base, -1, EV_PERSIST, on_tick, srv);
	struct timeval tv = {.tv_sec = tick};
	event_add(srv->housekeeping_ev, &tv);
	prune(srv, srv->last_activity_ms);
}

void cr_housekeeping_stop(cr_server *srv)
{
	if (srv->housekeeping_ev)
		event_free(srv->housekeeping_ev);
	srv->housekeeping_ev = NULL;
}
