/* SPDX-License-Identifier: Apache-2.0 */
/* pump.c -- a live sandbox's backend events on the server's loop. Output is
 * appended to the execution's bounded history and sent to its followers;
 * an exit decides the terminal status (timeout, cancel, out of memory,
 * failure to start, exit code), records it, audits it, and ends the
 * followers' streams with the ExecutionExit payload. A sandbox whose agent
 * is gone is terminated and marked FAILED (sandbox_lost). */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanroom/v1/execution.pb-c.h"
#include "server/execution.h"
#include "server/server.h"
#include "server/util.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define EVENTS_PER_TURN 256        /* then yield to the loop, and come back */
#define FOLLOWER_HIGH   (4u << 20) /* a follower this far behind pauses the sandbox's events */
#define FOLLOWER_LOW    (1u << 20) /* ... until every follower is below this */
#define RESUME_CHECK_MS 10
#define PAUSE_MAX_MS    60000 /* then the followers still behind are dropped */

static cr_live_exec *find_exec(cr_live_sandbox *l, uint32_t backend_id)
{
	for (cr_live_exec *x = l->execs; x; x = x->next)
		if (x->backend_id == backend_id)
			return x;
	return NULL;
}

static bool behind(const cr_live_exec *x, size_t mark)
{
	for (cr_api_stream *st = x->subs; st; st = cr_api_stream_next(st))
		if (cr_api_stream_pending(st) > mark)
			return true;
	return false;
}

static bool any_behind(const cr_live_sandbox *l, size_t mark)
{
	for (const cr_live_exec *x = l->execs; x; x = x->next)
		if (behind(x, mark))
			return true;
	return false;
}

/* Ends the streams of followers that stopped reading. */
static void drop_stalled(cr_live_sandbox *l)
{
	cr_error *err = NULL;
	cr_error_make(&err, 0, CR_REASON_INTERNAL,
		      "the client read nothing for %d s while output waited; the execution runs on",
		      PAUSE_MAX_MS / 1000);
	for (cr_live_exec *x = l->execs; x; x = x->next) {
		cr_api_stream *next;
		for (cr_api_stream *st = x->subs; st; st = next) {
			next = cr_api_stream_next(st);
			if (cr_api_stream_pending(st) > FOLLOWER_LOW)
				cr_api_stream_end(st, err);
		}
	}
	cr_error_free(err);
}

static void resume_check(evutil_socket_t fd, short what, void *arg);

static void pause_events(cr_live_sandbox *l)
{
	event_del(l->event_ev);
	if (!l->resume_ev)
		l->resume_ev = evtimer_new(l->srv->base, resume_check, l);
	struct timeval tv = {.tv_usec = RESUME_CHECK_MS * 1000};
	evtimer_add(l->resume_ev, &tv);
}

static void resume_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	cr_live_sandbox *l = arg;
	if (any_behind(l, FOLLOWER_LOW)) {
		if (cr_now_ms() - l->paused_since_ms < PAUSE_MAX_MS) {
			pause_events(l);
			return;
		}
		drop_stalled(l);
	}
	l->paused = false;
	event_add(l->event_ev, NULL);
	event_active(l->event_ev, EV_READ, 0);
}

static void output(cr_live_sandbox *l, cr_live_exec *x, int stream, const cr_exec_event *ev)
{
	cr_error *err = NULL;
	if (cr_store_output_append(l->srv->store, x->id, stream, ev->data, ev->len,
				   l->srv->cfg.output_cap_bytes, &err) < 0) {
		fprintf(stderr, "cleanroom serve: record output of %s: %s\n", x->id, err->msg);
		cr_error_free(err);
	}
	Cleanroom__V1__ExecutionStreamEvent m;
	cr_exec_output_event(&m, l->id, x->id, stream, ev->data, ev->len);
	cr_api_streams_send(x->subs, &m.base, false);
	if (!l->paused && behind(x, FOLLOWER_HIGH)) {
		l->paused = true;
		l->paused_since_ms = cr_now_ms();
	}
}

/* What an exit means, in the order the causes are checked. */
static cr_exec_end classify_exit(const cr_live_exec *x, const cr_exec_event *ev)
{
	cr_exec_end e = {.exit_code = ev->exit_code, .term_signal = ev->term_signal};
	if (x->timed_out) {
		e.status = CR_EX_TIMED_OUT;
		e.exit_code = 124;
		e.reason = CR_REASON_EXECUTION_TIMED_OUT;
		snprintf(e.message, sizeof(e.message), "timed out after %lld s", (long long)x->timeout_s);
	} else if (x->cancel_requested) {
		e.status = CR_EX_CANCELED;
		e.reason = CR_REASON_EXECUTION_CANCELED;
		snprintf(e.message, sizeof(e.message), "canceled (exit code %d)", ev->exit_code);
	} else if (ev->oom_killed) {
		e.status = CR_EX_FAILED;
		e.reason = CR_REASON_RESOURCE_LIMIT;
		snprintf(e.message, sizeof(e.message), "%s", ev->message ? ev->message : "out of memory");
	} else if (ev->message) {
		e.status = CR_EX_FAILED;
		e.reason = CR_REASON_RUNTIME_LAUNCH_FAILED;
		snprintf(e.message, sizeof(e.message), "%s", ev->message);
	} else if (ev->exit_code == 0) {
		e.status = CR_EX_SUCCEEDED;
		snprintf(e.message, sizeof(e.message), "exited with code 0");
	} else {
		e.status = CR_EX_FAILED;
		if (ev->term_signal)
			snprintf(e.message, sizeof(e.message), "killed by signal %d", ev->term_signal);
		else
			snprintf(e.message, sizeof(e.message), "exited with code %d", ev->exit_code);
	}
	return e;
}

static void exited(cr_live_sandbox *l, cr_live_exec *x, const cr_exec_event *ev)
{
	cr_exec_end e = classify_exit(x, ev);
	cr_exec_finish(l, x, &e);
}

static void handle(cr_live_sandbox *l, const cr_exec_event *ev)
{
	cr_live_exec *x = find_exec(l, ev->exec_id);
	if (!x)
		return; /* an internal execution (file transfer) or one already ended */
	switch (ev->type) {
	case CR_EVENT_STDOUT:
	case CR_EVENT_STDERR:
		if (ev->len)
			output(l, x, ev->type == CR_EVENT_STDOUT ? 1 : 2, ev);
		break;
	case CR_EVENT_EXIT: exited(l, x, ev); break;
	case CR_EVENT_STARTED: break;
	}
}

static void on_events(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	cr_live_sandbox *l = arg;
	if (!l->ready) {
		cr_provision_step(l);
		return;
	}
	cr_error *err = NULL;
	cr_exec_event ev;
	int r = 0;
	for (int i = 0;
	     i < EVENTS_PER_TURN && !l->paused && (r = l->backend->next_event(l->sb, &ev, &err)) == 1; i++)
		handle(l, &ev);
	if (l->paused) {
		pause_events(l); /* backpressure: the agent's socket fills, then the workload's pipes */
		return;
	}
	if (r == 1) {
		event_active(l->event_ev, EV_READ, 0);
		return;
	}
	if (r < 0) {
		cr_server *srv = l->srv;
		cleanup_free char *msg = cr_asprintf("the sandbox's agent is gone: %s", err->msg);
		cr_error_free(err);
		err = NULL;
		if (cr_server_destroy_live(srv, l, CR_REASON_SANDBOX_LOST, msg, &err) < 0) {
			fprintf(stderr, "cleanroom serve: %s\n", err->msg);
			cr_error_free(err);
		}
	}
}

void cr_pump_attach(cr_live_sandbox *l)
{
	l->event_ev =
		event_new(l->srv->base, l->backend->event_fd(l->sb), EV_READ | EV_PERSIST, on_events, l);
	event_add(l->event_ev, NULL);
}

void cr_pump_kick(cr_live_sandbox *l)
{
	if (l->event_ev && !l->paused)
		event_active(l->event_ev, EV_READ, 0);
}

void cr_pump_fail_all(cr_live_sandbox *l, cr_reason reason, const char *message)
{
	while (l->execs) {
		cr_live_exec *x = l->execs;
		cr_exec_end e = {.status = x->cancel_requested ? CR_EX_CANCELED : CR_EX_FAILED,
				 .exit_code = x->queued ? 127 : 137,
				 .term_signal = x->queued ? 0 : 9,
				 .reason = x->cancel_requested ? CR_REASON_EXECUTION_CANCELED : reason};
		snprintf(e.message, sizeof(e.message), "%s: %s", x->queued ? "not started" : "killed",
			 message);
		cr_exec_finish(l, x, &e);
	}
}
