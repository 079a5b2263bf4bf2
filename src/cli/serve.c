/* SPDX-License-Identifier: Apache-2.0 */
/* serve.c -- `cleanroom serve`: the control plane. Opens the state store,
 * removes what sandboxes of a previous server left behind (processes,
 * cgroups, directories; their records become FAILED), and serves the Connect
 * API on a unix socket until SIGINT or SIGTERM. */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "server/http.h"
#include "server/server.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define CMD   "cleanroom serve"
#define USAGE "Usage: cleanroom serve [--socket PATH] [--state-dir DIR]\n"

static char *default_state_dir(void)
{
	if (geteuid() == 0)
		return cr_xstrdup("/var/lib/cleanroom");
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	if (xdg && *xdg)
		return cr_asprintf("%s/cleanroom", xdg);
	return cr_asprintf("%s/.local/state/cleanroom", home && *home ? home : "/tmp");
}

static int prepare_state(cr_server *srv, cr_error **err)
{
	if (mkdir(srv->state_dir, 0711) < 0 && errno != EEXIST)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "create state directory '%s'",
				     srv->state_dir);
	cleanup_free char *db = cr_asprintf("%s/state.db", srv->state_dir);
	if (cr_store_open(db, &srv->store, err) < 0)
		return -1;
	int cleaned = srv->backend->cleanup_leftovers(srv->state_dir, err);
	if (cleaned < 0)
		return cr_error_wrap(err, "remove sandboxes left by a previous server");
	int failed = cr_store_fail_live(srv->store, "runtime_launch_failed", (int64_t)time(NULL) * 1000, err);
	if (failed < 0)
		return -1;
	if (cleaned || failed)
		fprintf(stderr, "%s: removed %d leftover sandboxes, marked %d as failed\n", CMD, cleaned,
			failed);
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	event_base_loopbreak(arg);
}

static int serve(cr_server *srv, cr_error **err)
{
	cr_http_server *http = NULL;
	if (cr_http_listen_unix(srv->base, srv->socket_path, cr_api_handle, srv, &http, err) < 0)
		return -1;
	struct event *sigint = evsignal_new(srv->base, SIGINT, on_signal, srv->base);
	struct event *sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv->base);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	fprintf(stderr, "%s: listening on unix://%s (state in %s)\n", CMD, srv->socket_path, srv->state_dir);
	event_base_dispatch(srv->base);
	cr_server_terminate_all(srv);
	event_free(sigint);
	event_free(sigterm);
	cr_http_server_free(http);
	return 0;
}

static int parse(int argc, char **argv, cr_server *srv)
{
	static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
					     {"state-dir", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 's')
			srv->socket_path = cr_xstrdup(optarg);
		else if (c == 'd')
			srv->state_dir = cr_xstrdup(optarg);
		else if (c == 'h')
			return fputs(USAGE, stdout), 1;
		else
			return cr_cli_usage_error(CMD, "unknown or incomplete option '%s'", argv[optind - 1]),
			       -1;
	}
	if (optind < argc)
		return cr_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]), -1;
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	cr_server srv = {.backend = &cr_backend_netns, .started = time(NULL)};
	int p = parse(argc, argv, &srv);
	if (p != 0)
		return p > 0 ? CR_EXIT_OK : CR_EXIT_USAGE;
	if (!srv.socket_path)
		srv.socket_path = cr_http_default_socket();
	if (!srv.state_dir)
		srv.state_dir = default_state_dir();
	signal(SIGPIPE, SIG_IGN);
	srv.base = event_base_new();
	cr_error *err = NULL;
	int rc = prepare_state(&srv, &err) < 0 || serve(&srv, &err) < 0 ? CR_EXIT_FAIL : CR_EXIT_OK;
	if (rc)
		fprintf(stderr, "%s: error[%s]: %s\n", CMD, cr_reason_name(err->reason), err->msg);
	cr_error_free(err);
	cr_store_close(srv.store);
	event_base_free(srv.base);
	free(srv.socket_path);
	free(srv.state_dir);
	return rc;
}
