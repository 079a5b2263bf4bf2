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

#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "audit/trail.h"
#include "server/http.h"
#include "server/server.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define CMD "cleanroom serve"
#define USAGE                                                                                        \
	"Usage: cleanroom serve [--socket PATH] [--state-dir DIR] [--idle-exit SECONDS]\n"           \
	"                       [--output-cap BYTES] [--retention SECONDS] [--max-ttl SECONDS]\n"    \
	"                       [--listen HOST:PORT --tls-cert FILE --tls-key FILE\n"                \
	"                        --token-file FILE] [--egress-pool CIDR]\n"                          \
	"                       [--egress-resolver IP[:PORT]]... [--no-egress]\n"                    \
	"                       [--cache-dir DIR] [--cache-max-bytes N] [--offline]\n"               \
	"                       [--upstream-cacert FILE] [--git-credentials FILE]\n"                 \
	"  --socket PATH        unix socket of the API (default: /run/cleanroom/cleanroom.sock as\n" \
	"                       root, else $XDG_RUNTIME_DIR/cleanroom/cleanroom.sock)\n"             \
	"  --state-dir DIR      state database, audit trail, sandbox records (default:\n"            \
	"                       /var/lib/cleanroom as root, else ~/.local/state/cleanroom)\n"        \
	"  --idle-exit SECONDS  exit after SECONDS with no sandbox and no request (0 = never)\n"     \
	"  --output-cap BYTES   output history kept per execution (default 8 MiB)\n"                 \
	"  --retention SECONDS  prune finished sandboxes older than this (default 30 days)\n"        \
	"  --max-ttl SECONDS    cap on a sandbox's time to live (default 24 h; 0 = no cap)\n"        \
	"  --listen HOST:PORT   also serve HTTPS on TCP ([IPV6]:PORT too); needs all of:\n"          \
	"  --tls-cert FILE      PEM certificate chain of the TCP listener\n"                         \
	"  --tls-key FILE       PEM private key of the TCP listener\n"                               \
	"  --token-file FILE    accepted bearer tokens, one per line (mode 0600)\n"                  \
	"  --egress-pool CIDR   sandbox link addresses, one /30 each (default 10.213.0.0/16)\n"      \
	"  --egress-resolver IP[:PORT]  upstream DNS of the gateways (repeatable; default: the\n"    \
	"                       nameservers of /etc/resolv.conf)\n"                                  \
	"  --no-egress          no links, firewall or gateways: policies that allow destinations\n"  \
	"                       are refused (egress is also off when not root)\n"                    \
	"  --cache-dir DIR      content cache of the registry and git fronts (default:\n"            \
	"                       STATE-DIR/cache; owned by the gateways' user)\n"                     \
	"  --cache-max-bytes N  evict least recently used entries past N bytes (default 10 GiB)\n"   \
	"  --offline            the fronts serve cached entries only and never go upstream\n"        \
	"  --upstream-cacert FILE  PEM CA bundle for the fronts' upstream TLS (default: system)\n"   \
	"  --git-credentials FILE  credentials template for git upstreams (JSON, see\n"              \
	"                       docs/registries.md); values come from variables or files\n"          \
	"Also: cleanroom serve install --help   (write a systemd unit for the server)\n"

/* The audit trail's exclusive lock is taken first: it is what makes a second
 * server on the same state directory stop here, before it could mistake the
 * first one's live sandboxes for leftovers. */
static int open_audit(cr_server *srv, cr_error **err)
{
	srv->audit_path = cr_asprintf("%s/audit/audit.jsonl", srv->state_dir);
	if (cr_audit_open(srv->audit_path, &srv->audit, err) < 0) {
		if ((*err)->status == EWOULDBLOCK)
			return cr_error_status(err, EWOULDBLOCK, CR_REASON_USAGE_INVALID,
					       "another 'cleanroom serve' uses the state directory '%s'",
					       srv->state_dir);
		return cr_error_wrap(err, "open the audit trail");
	}
	if (cr_audit_repaired(srv->audit))
		fprintf(stderr, "%s: the audit trail ended in a torn line (%zu bytes), removed\n", CMD,
			cr_audit_repaired(srv->audit));
	return 0;
}

static int prepare_state(cr_server *srv, cr_error **err)
{
	if (mkdir(srv->state_dir, 0711) < 0 && errno != EEXIST)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "create state directory '%s'",
				     srv->state_dir);
	if (open_audit(srv, err) < 0)
		return -1;
	cleanup_free char *db = cr_asprintf("%s/state.db", srv->state_dir);
	if (cr_store_open(db, &srv->store, err) < 0)
		return -1;
	int cleaned = srv->backend->cleanup_leftovers(srv->state_dir, err);
	if (cleaned < 0)
		return cr_error_wrap(err, "remove sandboxes left by a previous server");
	int failed = cr_store_fail_live(srv->store, cr_reason_name(CR_REASON_SANDBOX_LOST), cr_now_ms(), err);
	if (failed < 0)
		return -1;
	if (cleaned || failed)
		fprintf(stderr, "%s: removed %d leftover sandboxes, marked %d as failed\n", CMD, cleaned,
			failed);
	return 0;
}

/* --egress-pool, --egress-resolver (repeatable), --no-egress and the fronts'
 * options. 1 when c was one of them, -1 for a bad value. */
static int parse_num(const char *opt, const char *v, long long max, int64_t *out);

static int egress_option(int c, const char *arg, cr_egress_options *eo, size_t *n_resolvers)
{
	switch (c) {
	case 'P': eo->pool = arg; return 1;
	case 'N': eo->off = true; return 1;
	case 'c': eo->fronts.cache_dir = arg; return 1;
	case 'F': eo->fronts.offline = true; return 1;
	case 'A': eo->fronts.upstream_cacert = arg; return 1;
	case 'G': eo->fronts.credentials = arg; return 1;
	case 'M': {
		int64_t n = 0;
		if (parse_num("--cache-max-bytes", arg, 1LL << 50, &n) < 0)
			return -1;
		eo->fronts.cache_max_bytes = (uint64_t)n;
		return 1;
	}
	case 'R':
		eo->resolvers = cr_xrealloc(eo->resolvers, (*n_resolvers + 2) * sizeof(char *));
		eo->resolvers[(*n_resolvers)++] = (char *)arg;
		eo->resolvers[*n_resolvers] = NULL;
		return 1;
	default: return 0;
	}
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig, (void)what;
	event_base_loopbreak(arg);
}

static int serve(cr_server *srv, const cr_http_tls_options *tls, cr_error **err)
{
	cr_http_server *http = NULL, *https = NULL;
	if (cr_http_listen_unix(srv->base, srv->socket_path, cr_api_handle, srv, &http, err) < 0)
		return -1;
	if (tls->listen && cr_http_listen_tls(srv->base, tls, cr_api_handle, srv, &https, err) < 0) {
		cr_http_server_free(http);
		return cr_error_wrap(err, "TCP listener");
	}
	struct event *sigint = evsignal_new(srv->base, SIGINT, on_signal, srv->base);
	struct event *sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv->base);
	event_add(sigint, NULL);
	event_add(sigterm, NULL);
	fprintf(stderr, "%s: listening on unix://%s (state in %s)\n", CMD, srv->socket_path, srv->state_dir);
	if (https)
		fprintf(stderr, "%s: listening on %s (TLS, %zu bearer tokens)\n", CMD,
			cr_http_server_address(https), cr_http_server_tokens(https));
	cr_housekeeping_start(srv);
	event_base_dispatch(srv->base);
	cr_housekeeping_stop(srv);
	cr_server_terminate_all(srv);
	event_free(sigint);
	event_free(sigterm);
	cr_http_server_free(https);
	cr_http_server_free(http);
	return 0;
}

/* A non-negative decimal number of at most max. */
static int parse_num(const char *opt, const char *v, long long max, int64_t *out)
{
	char *end = NULL;
	errno = 0;
	long long n = strtoll(v, &end, 10);
	if (!*v || *end || errno || n < 0 || n > max)
		return cr_cli_usage_error(CMD, "%s wants a number from 0 to %lld, not '%s'", opt, max, v), -1;
	*out = n;
	return 0;
}

static int parse_option(int c, const char *arg, cr_server *srv)
{
	int64_t n = 0;
	switch (c) {
	case 's': free(srv->socket_path), srv->socket_path = cr_xstrdup(arg); return 0;
	case 'd': free(srv->state_dir), srv->state_dir = cr_xstrdup(arg); return 0;
	case 'i':
		if (parse_num("--idle-exit", arg, 1LL << 30, &n) < 0)
			return -1;
		srv->cfg.idle_exit_seconds = (int)n;
		return 0;
	case 'o':
		if (parse_num("--output-cap", arg, 1LL << 32, &n) < 0)
			return -1;
		srv->cfg.output_cap_bytes = (size_t)n;
		return 0;
	case 'r': return parse_num("--retention", arg, 1LL << 40, &srv->cfg.retention_seconds);
	case 't': return parse_num("--max-ttl", arg, 1LL << 40, &srv->cfg.max_ttl_seconds);
	default: return -1;
	}
}

/* The TCP listener's options: all four or none. 1 when c was one of them. */
static int tls_option(int c, const char *arg, cr_http_tls_options *tls)
{
	switch (c) {
	case 'L': tls->listen = arg; return 1;
	case 'C': tls->cert_file = arg; return 1;
	case 'K': tls->key_file = arg; return 1;
	case 'T': tls->token_file = arg; return 1;
	default: return 0;
	}
}

static int check_tls_options(const cr_http_tls_options *tls)
{
	if (!tls->listen && (tls->cert_file || tls->key_file || tls->token_file))
		return cr_cli_usage_error(CMD,
					  "--tls-cert, --tls-key and --token-file only go with --listen"),
		       -1;
	if (tls->listen && !(tls->cert_file && tls->key_file && tls->token_file))
		return cr_cli_usage_error(CMD,
					  "--listen needs --tls-cert, --tls-key and --token-file: TCP is "
					  "served only with TLS and a bearer token"),
		       -1;
	return 0;
}

static int parse(int argc, char **argv, cr_server *srv, cr_http_tls_options *tls, cr_egress_options *eo)
{
	static const struct option opts[] = {{"socket", required_argument, NULL, 's'},
					     {"state-dir", required_argument, NULL, 'd'},
					     {"idle-exit", required_argument, NULL, 'i'},
					     {"output-cap", required_argument, NULL, 'o'},
					     {"retention", required_argument, NULL, 'r'},
					     {"max-ttl", required_argument, NULL, 't'},
					     {"listen", required_argument, NULL, 'L'},
					     {"tls-cert", required_argument, NULL, 'C'},
					     {"tls-key", required_argument, NULL, 'K'},
					     {"token-file", required_argument, NULL, 'T'},
					     {"egress-pool", required_argument, NULL, 'P'},
					     {"egress-resolver", required_argument, NULL, 'R'},
					     {"no-egress", no_argument, NULL, 'N'},
					     {"cache-dir", required_argument, NULL, 'c'},
					     {"cache-max-bytes", required_argument, NULL, 'M'},
					     {"offline", no_argument, NULL, 'F'},
					     {"upstream-cacert", required_argument, NULL, 'A'},
					     {"git-credentials", required_argument, NULL, 'G'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;
	size_t n_resolvers = 0;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(USAGE, stdout), 1;
		if (c == '?' || c == ':')
			return cr_cli_usage_error(CMD, "unknown or incomplete option '%s'", argv[optind - 1]),
			       -1;
		int e = egress_option(c, optarg, eo, &n_resolvers);
		if (e < 0 || (!e && !tls_option(c, optarg, tls) && parse_option(c, optarg, srv) < 0))
			return -1;
	}
	if (optind < argc)
		return cr_cli_usage_error(CMD, "unexpected argument '%s'", argv[optind]), -1;
	return check_tls_options(tls);
}

int cmd_serve(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "install") == 0)
		return cmd_serve_install(argc - 1, argv + 1);
	cr_server srv = {.backend = &cr_backend_netns,
			 .started = time(NULL),
			 .cfg = {.output_cap_bytes = 8u << 20,
				 .retention_seconds = 30 * 24 * 3600,
				 .max_ttl_seconds = 24 * 3600}};
	cr_http_tls_options tls = {0};
	cr_egress_options eo = {0};
	int p = parse(argc, argv, &srv, &tls, &eo);
	if (p != 0) {
		free(eo.resolvers);
		free(srv.socket_path);
		free(srv.state_dir);
		return p > 0 ? CR_EXIT_OK : CR_EXIT_USAGE;
	}
	if (!srv.socket_path)
		srv.socket_path = cr_http_default_socket();
	if (!srv.state_dir)
		srv.state_dir = cr_server_default_state_dir();
	signal(SIGPIPE, SIG_IGN);
	srv.base = event_base_new();
	cr_error *err = NULL;
	int rc = prepare_state(&srv, &err) < 0 || cr_egress_init(&srv, &eo, &err) < 0 ||
				 serve(&srv, &tls, &err) < 0
			 ? CR_EXIT_FAIL
			 : CR_EXIT_OK;
	cr_egress_shutdown(&srv);
	free(eo.resolvers);
	if (rc)
		fprintf(stderr, "%s: error[%s]: %s\n", CMD, cr_reason_name(err->reason), err->msg);
	cr_error_free(err);
	cr_store_close(srv.store);
	cr_audit_close(srv.audit);
	free(srv.audit_path);
	event_base_free(srv.base);
	free(srv.socket_path);
	free(srv.state_dir);
	return rc;
}
