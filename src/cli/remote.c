/* SPDX-License-Identifier: Apache-2.0 */
/* remote.c -- calls of the inspection and administration commands to
 * `cleanroom serve`, and their error reporting (see remote.h). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/remote.h"
#include "connect/connect.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

static volatile sig_atomic_t interrupted;

int cr_remote_open(cr_remote *r, const char *cmd, const cr_cli_opts *o)
{
	*r = (cr_remote){.cmd = cmd, .opts = *o};
	cleanup_free char *endpoint = cr_client_resolve_endpoint(o->host);
	cleanup_error cr_error *err = NULL;
	if (cr_client_open(endpoint, &r->client, &err) < 0) {
		cr_cli_print_error(cmd, cr_reason_name(err->reason), err->msg,
				   "an endpoint is unix:///PATH, /PATH or https://HOST[:PORT]");
		return -1;
	}
	return 0;
}

void cr_remote_close(cr_remote *r)
{
	cr_client_free(r->client);
	r->client = NULL;
}

bool cr_remote_unreachable(const cr_remote *r)
{
	return r->client && cr_client_unreachable(r->client);
}

/* The code shown in error[...]: the server's reason code; for an error
 * without one (the client reports those as internal), the Connect code the
 * server answered with, which says more (not_found, unimplemented). */
static const char *reason_label(const cr_remote *r, const cr_error *e)
{
	int code = r->client ? cr_client_last_code(r->client) : CR_CONNECT_OK;
	if ((e->reason == CR_REASON_INTERNAL || e->reason == CR_REASON_NONE) && code != CR_CONNECT_OK &&
	    cr_connect_code_name((cr_connect_code)code))
		return cr_connect_code_name((cr_connect_code)code);
	return cr_reason_name(e->reason);
}

static const char *hint_for(const cr_remote *r, const cr_error *e)
{
	int code = r->client ? cr_client_last_code(r->client) : CR_CONNECT_OK;
	if (code == CR_CONNECT_NOT_FOUND)
		return r->not_found_hint;
	if (code == CR_CONNECT_UNIMPLEMENTED)
		return "this server does not implement that method yet; is it an older cleanroom?";
	switch (e->reason) {
	case CR_REASON_BACKEND_UNAVAILABLE: return "`cleanroom doctor` shows what this host lacks";
	case CR_REASON_USAGE_INVALID: return "the server refused the request as malformed";
	default: return NULL;
	}
}

/* True when a unix endpoint's socket exists but this user may not use it
 * (the socket is 0600 in a 0700 directory, owned by whoever runs serve). */
static bool socket_forbidden(const char *endpoint)
{
	if (strncmp(endpoint, "unix://", 7) != 0)
		return false;
	return access(endpoint + 7, W_OK) < 0 && errno == EACCES;
}

void cr_remote_report(const cr_remote *r, const cr_error *e)
{
	if (!cr_remote_unreachable(r)) {
		cr_cli_print_error(r->cmd, reason_label(r, e), e->msg, hint_for(r, e));
		return;
	}
	const char *endpoint = cr_client_endpoint(r->client);
	cleanup_free char *msg = NULL, *hint = NULL;
	if (socket_forbidden(endpoint)) {
		msg = cr_asprintf("permission denied on %s (%s)", endpoint, e->msg);
		hint = cr_xstrdup(
			"the API socket belongs to the user who runs `cleanroom serve` (root: use sudo), "
			"or pass --host ENDPOINT for your own server");
	} else {
		msg = cr_asprintf("no server at %s; start one with `cleanroom serve`", endpoint);
		hint = cr_asprintf("or pass --host ENDPOINT / set CLEANROOM_HOST to use another server (%s)",
				   e->msg);
	}
	cr_cli_print_error(r->cmd, cr_reason_name(e->reason), msg, hint);
}

int cr_remote_unary(cr_remote *r, const char *service, const char *method, const ProtobufCMessage *in,
		    const ProtobufCMessageDescriptor *out_desc, ProtobufCMessage **out)
{
	cleanup_error cr_error *err = NULL;
	if (cr_client_unary(r->client, service, method, in, out_desc, out, &err) < 0) {
		cr_remote_report(r, err);
		return -1;
	}
	return 0;
}

int cr_remote_stream(cr_remote *r, const char *service, const char *method, const ProtobufCMessage *in,
		     const ProtobufCMessageDescriptor *out_desc, cr_client_stream_fn on_msg,
		     cr_client_poll_fn on_poll, void *ctx)
{
	cleanup_error cr_error *err = NULL;
	int rc = cr_client_stream(r->client, service, method, in, out_desc, on_msg, on_poll, ctx, &err);
	if (rc < 0)
		cr_remote_report(r, err);
	return rc;
}

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

void cr_remote_catch_interrupts(void)
{
	struct sigaction sa = {.sa_handler = on_interrupt};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cr_remote_interrupted(void *ctx)
{
	(void)ctx;
	return interrupted != 0;
}
