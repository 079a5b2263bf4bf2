/* SPDX-License-Identifier: Apache-2.0 */
/* gateway.c -- `cleanroom __gateway`: one sandbox's egress gateway process.
 *
 * The server starts it with the CompiledPolicy on a pipe. It parses its
 * arguments (a bad one is a one-line error and exit 2), reads and verifies
 * the policy, binds the managed resolver and the proxies on the sandbox's
 * host-side address, then gives up everything it no longer needs before it
 * reads a single byte of sandbox traffic: its identity (--uid/--gid), the
 * ability to gain privileges, and every system call a relay never makes
 * (seccomp.c). One libevent loop then runs until control_fd reaches end of
 * file (the sandbox ended, or the server died) or SIGTERM arrives; both end
 * the process with status 0. docs/internals/gateway.md describes it all. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/front/front.h"
#include "gateway/internal.h"
#include "gateway/proxy/proxy.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define POLICY_MAX         (16u << 20)
#define POLICY_WAIT_MS     10000 /* the server writes the policy right after the start */
#define MAX_UPSTREAM       8
#define SANDBOX_ID_MAX     128
#define AUDIT_FLUSH_MS     1000 /* at exit, for lines still held */
#define EXIT_USAGE         2
#define EXIT_FAILURE_SETUP 1
#define CACERT_MAX         (4u << 20)

typedef struct gw_args {
	cr_gateway_config cfg;
	char *upstream[MAX_UPSTREAM + 1];
	size_t n_upstream;
	struct in_addr pool;
	unsigned pool_prefix;
	unsigned seen; /* OPT_* bits of the required options given */
	bool uid_set, gid_set, help;
	const char *cacert_path; /* --upstream-cacert, read in setup() */
} gw_args;

typedef struct gw_process {
	cr_gateway gw;
	struct event *control, *sigterm, *sigint;
	bool dns_started, proxy_started;
} gw_process;

static const char usage[] =
	"usage: cleanroom __gateway --sandbox-id ID --gateway-addr A --sandbox-addr A --dns-port P\n"
	"       --proxy-port P --policy-fd N --audit-fd N --control-fd N [--upstream-dns IP[:PORT]]...\n"
	"       [--uid U --gid G] [--sandbox-pool CIDR]\n"
	"       [--front-port P [--cache-dir DIR] [--cache-max-bytes N] [--offline] [--upstream-cacert "
	"FILE]\n"
	"        [--credentials-fd N] [--upstream-plain-http]]\n";

/* ---- arguments ---- */

enum {
	OPT_ID = 1 << 0,
	OPT_GATEWAY = 1 << 1,
	OPT_SANDBOX = 1 << 2,
	OPT_DNS_PORT = 1 << 3,
	OPT_PROXY_PORT = 1 << 4,
	OPT_POLICY_FD = 1 << 5,
	OPT_AUDIT_FD = 1 << 6,
	OPT_CONTROL_FD = 1 << 7,
	OPT_REQUIRED = (1 << 8) - 1,
	/* not required */
	OPT_UPSTREAM = 1 << 8,
	OPT_UID = 1 << 9,
	OPT_GID = 1 << 10,
	OPT_POOL = 1 << 11,
	OPT_HELP = 1 << 12,
	OPT_FRONT_PORT = 1 << 13,
	OPT_CACHE_DIR = 1 << 14,
	OPT_CACHE_MAX = 1 << 15,
	OPT_OFFLINE = 1 << 16,
	OPT_CACERT = 1 << 17,
	OPT_CREDS_FD = 1 << 18,
	OPT_PLAIN_HTTP = 1 << 19,
};

static const struct option options[] = {
	{"sandbox-id", required_argument, NULL, OPT_ID},
	{"gateway-addr", required_argument, NULL, OPT_GATEWAY},
	{"sandbox-addr", required_argument, NULL, OPT_SANDBOX},
	{"dns-port", required_argument, NULL, OPT_DNS_PORT},
	{"proxy-port", required_argument, NULL, OPT_PROXY_PORT},
	{"policy-fd", required_argument, NULL, OPT_POLICY_FD},
	{"audit-fd", required_argument, NULL, OPT_AUDIT_FD},
	{"control-fd", required_argument, NULL, OPT_CONTROL_FD},
	{"upstream-dns", required_argument, NULL, OPT_UPSTREAM},
	{"uid", required_argument, NULL, OPT_UID},
	{"gid", required_argument, NULL, OPT_GID},
	{"sandbox-pool", required_argument, NULL, OPT_POOL},
	{"help", no_argument, NULL, OPT_HELP},
	{"front-port", required_argument, NULL, OPT_FRONT_PORT},
	{"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
	{"cache-max-bytes", required_argument, NULL, OPT_CACHE_MAX},
	{"offline", no_argument, NULL, OPT_OFFLINE},
	{"upstream-cacert", required_argument, NULL, OPT_CACERT},
	{"credentials-fd", required_argument, NULL, OPT_CREDS_FD},
	{"upstream-plain-http", no_argument, NULL, OPT_PLAIN_HTTP},
	{NULL, 0, NULL, 0},
};

static const char *option_name(int code)
{
	for (const struct option *o = options; o->name; o++)
		if (o->val == code)
			return o->name;
	return "?";
}

/* A decimal number in [min, max], nothing else. */
static int number(int code, const char *s, unsigned long min, unsigned long max, unsigned long *out,
		  cr_error **err)
{
	char *end = NULL;
	errno = 0;
	unsigned long v = s[0] >= '0' && s[0] <= '9' ? strtoul(s, &end, 10) : 0;
	if (!end || *end || errno || v < min || v > max)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "--%s: '%s' is not a number in %lu-%lu",
				     option_name(code), s, min, max);
	*out = v;
	return 0;
}

static int ipv4(int code, const char *s, struct in_addr *out, cr_error **err)
{
	if (inet_pton(AF_INET, s, out) != 1)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "--%s: '%s' is not an IPv4 address",
				     option_name(code), s);
	return 0;
}

/* An open descriptor other than 0-2. */
static int fd_arg(int code, const char *s, int *out, cr_error **err)
{
	unsigned long v;
	if (number(code, s, 3, INT_MAX, &v, err) < 0)
		return -1;
	if (fcntl((int)v, F_GETFD) < 0)
		return cr_error_make(err, errno, CR_REASON_USAGE_INVALID, "--%s: descriptor %lu",
				     option_name(code), v);
	*out = (int)v;
	return 0;
}

static int sandbox_id(const char *s, gw_args *a, cr_error **err)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			n = 0;
	if (n == 0 || n > SANDBOX_ID_MAX)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "--sandbox-id: 1-%d printable characters without spaces",
				     SANDBOX_ID_MAX);
	a->cfg.sandbox_id = s;
	return 0;
}

static int upstream(const char *s, gw_args *a, cr_error **err)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	if (evutil_parse_sockaddr_port(s, (struct sockaddr *)&ss, &len) < 0)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "--upstream-dns: '%s' is not IP[:PORT]",
				     s);
	if (a->n_upstream == MAX_UPSTREAM)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "--upstream-dns: at most %d servers",
				     MAX_UPSTREAM);
	a->upstream[a->n_upstream++] = (char *)s;
	a->cfg.upstream_dns = a->upstream;
	return 0;
}

static int pool(const char *s, gw_args *a, cr_error **err)
{
	char net[INET_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	unsigned long prefix;
	if (!slash || (size_t)(slash - s) >= sizeof(net))
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "--sandbox-pool: '%s' is not A.B.C.D/N",
				     s);
	memcpy(net, s, (size_t)(slash - s));
	net[slash - s] = '\0';
	if (ipv4(OPT_POOL, net, &a->pool, err) < 0 || number(OPT_POOL, slash + 1, 1, 32, &prefix, err) < 0)
		return -1;
	a->pool_prefix = (unsigned)prefix;
	return 0;
}

static int id_arg(int code, const char *s, unsigned *out, cr_error **err)
{
	unsigned long v;
	if (number(code, s, 0, UINT_MAX - 1, &v, err) < 0)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* The registry and git fronts' options (front/front.h). */
static int front_option(int code, const char *v, gw_args *a, cr_error **err)
{
	unsigned long n;
	cr_gateway_config *c = &a->cfg;
	switch (code) {
	case OPT_FRONT_PORT:
		if (number(code, v, 1, 65535, &n, err) < 0)
			return -1;
		c->front_port = (uint16_t)n;
		return 0;
	case OPT_CACHE_DIR:
		if (v[0] != '/')
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
					     "--cache-dir: '%s' is not absolute", v);
		c->cache_dir = v;
		return 0;
	case OPT_CACHE_MAX:
		if (number(code, v, 1, ULONG_MAX - 1, &n, err) < 0)
			return -1;
		c->cache_max_bytes = n;
		return 0;
	case OPT_OFFLINE: c->offline = true; return 0;
	case OPT_CACERT: a->cacert_path = v; return 0;
	case OPT_CREDS_FD: return fd_arg(code, v, &c->credentials_fd, err);
	case OPT_PLAIN_HTTP: c->upstream_plain_http = true; return 0;
	}
	return 0;
}

static int one_option(int code, const char *v, gw_args *a, cr_error **err)
{
	unsigned long port;
	cr_gateway_config *c = &a->cfg;
	switch (code) {
	case OPT_ID: return sandbox_id(v, a, err);
	case OPT_GATEWAY: return ipv4(code, v, &c->gateway_addr, err);
	case OPT_SANDBOX: return ipv4(code, v, &c->sandbox_addr, err);
	case OPT_DNS_PORT:
	case OPT_PROXY_PORT:
		if (number(code, v, 1, 65535, &port, err) < 0)
			return -1;
		*(code == OPT_DNS_PORT ? &c->dns_port : &c->proxy_port) = (uint16_t)port;
		return 0;
	case OPT_POLICY_FD: return fd_arg(code, v, &c->policy_fd, err);
	case OPT_AUDIT_FD: return fd_arg(code, v, &c->audit_fd, err);
	case OPT_CONTROL_FD: return fd_arg(code, v, &c->control_fd, err);
	case OPT_UPSTREAM: return upstream(v, a, err);
	case OPT_UID: return id_arg(code, v, &c->run_uid, err);
	case OPT_GID: return id_arg(code, v, &c->run_gid, err);
	case OPT_POOL: return pool(v, a, err);
	default: return front_option(code, v, a, err);
	}
}

static int check_complete(const gw_args *a, cr_error **err)
{
	for (unsigned bit = 1; bit & OPT_REQUIRED; bit <<= 1)
		if (!(a->seen & bit))
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "missing --%s",
					     option_name((int)bit));
	if (!!(a->seen & OPT_UID) != !!(a->seen & OPT_GID))
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "--uid and --gid go together");
	const cr_gateway_config *c = &a->cfg;
	if (c->policy_fd == c->audit_fd || c->policy_fd == c->control_fd || c->audit_fd == c->control_fd)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "--policy-fd, --audit-fd and --control-fd must differ");
	if (c->dns_port == c->proxy_port)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "--dns-port and --proxy-port must differ");
	return 0;
}

static int parse_args(int argc, char **argv, gw_args *a, cr_error **err)
{
	*a = (gw_args){.cfg = {.policy_fd = -1, .audit_fd = -1, .control_fd = -1, .credentials_fd = -1},
		       .pool_prefix = 16};
	inet_pton(AF_INET, "10.213.0.0", &a->pool);
	optind = 0; /* getopt's state may be left over from an earlier parse */
	opterr = 0;
	int code;
	while ((code = getopt_long(argc, argv, "+", options, NULL)) != -1) {
		if (code == '?' || code == ':')
			return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
					     "unknown option or missing value: '%s'", argv[optind - 1]);
		if (code == OPT_HELP) {
			a->help = true;
			return 0;
		}
		if (one_option(code, optarg, a, err) < 0)
			return -1;
		a->seen |= (unsigned)code;
	}
	if (optind < argc)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "unexpected argument '%s'",
				     argv[optind]);
	return check_complete(a, err);
}

/* ---- the policy ---- */

/* Reads fd to end of file (at most POLICY_MAX bytes, within POLICY_WAIT_MS). */
static int read_policy_text(int fd, cr_buf *b, cr_error **err)
{
	int64_t deadline = cr_monotonic_ms() + POLICY_WAIT_MS;
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n == 0)
			return 0;
		if (n > 0) {
			if (cr_buf_append(b, chunk, (size_t)n) < 0)
				return cr_error_make(err, 0, CR_REASON_POLICY_INVALID,
						     "policy on fd %d: larger than %u bytes", fd, POLICY_MAX);
			continue;
		}
		if (errno == EINTR)
			continue;
		int64_t left = deadline - cr_monotonic_ms();
		if (errno != EAGAIN || left <= 0)
			return cr_error_make(err, errno == EAGAIN ? ETIMEDOUT : errno,
					     CR_REASON_POLICY_INVALID, "read policy from fd %d", fd);
		(void)poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, (int)left);
	}
}

static int load_policy(cr_gateway *gw, cr_error **err)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, POLICY_MAX);
	int rc = read_policy_text(gw->cfg.policy_fd, &b, err);
	close(gw->cfg.policy_fd);
	gw->cfg.policy_fd = -1;
	if (rc < 0)
		return -1;
	cr_diags diags = {0};
	if (cr_policy_from_compiled(b.data ? b.data : "", b.len, &gw->policy, &diags) < 0) {
		const cr_diag *d = diags.n ? &diags.items[0] : NULL;
		cr_error_make(err, 0, CR_REASON_POLICY_INVALID, "compiled policy: %s%s%s",
			      d && d->path ? d->path : "", d && d->path ? ": " : "",
			      d ? d->message : "not valid");
		cr_diags_clear(&diags);
		return -1;
	}
	cr_diags_clear(&diags);
	return 0;
}

/* ---- upstream resolution ---- */

static const char *resolv_conf_error(int rc)
{
	static const char *const why[] = {
		"",           "cannot open it",     "cannot stat it", "too large", "out of memory",
		"short read", "no nameserver in it"};
	return rc > 0 && rc < (int)(sizeof(why) / sizeof(why[0])) ? why[rc] : "unreadable";
}

static int setup_upstream(cr_gateway *gw, cr_error **err)
{
	gw->upstream = evdns_base_new(gw->base, 0);
	if (!gw->upstream)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "evdns base");
	char **servers = gw->cfg.upstream_dns;
	if (servers && servers[0]) {
		for (char **s = servers; *s; s++)
			if (evdns_base_nameserver_ip_add(gw->upstream, *s) != 0)
				return cr_error_make(err, 0, CR_REASON_INTERNAL, "upstream dns server '%s'",
						     *s);
	} else {
		int rc = evdns_base_resolv_conf_parse(gw->upstream,
						      DNS_OPTION_NAMESERVERS | DNS_OPTION_MISC |
							      DNS_OPTION_NAMESERVERS_NO_DEFAULT,
						      "/etc/resolv.conf");
		if (rc != 0)
			return cr_error_make(err, 0, CR_REASON_INTERNAL, "/etc/resolv.conf: %s",
					     resolv_conf_error(rc));
	}
	if (evdns_base_count_nameservers(gw->upstream) == 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "no upstream dns server");
	/* two tries of two seconds fit in dns.c's five-second answer deadline */
	evdns_base_set_option(gw->upstream, "timeout:", "2");
	evdns_base_set_option(gw->upstream, "attempts:", "2");
	evdns_base_set_option(gw->upstream, "max-inflight:", "256");
	return 0;
}

/* ---- the loop's own events ---- */

static void on_control(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		event_base_loopexit(arg, NULL); /* end of file: the sandbox or the server is gone */
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static int add_loop_events(gw_process *g, cr_error **err)
{
	cr_gateway *gw = &g->gw;
	int fd = gw->cfg.control_fd;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "control fd %d", fd);
	g->control = event_new(gw->base, fd, EV_READ | EV_PERSIST, on_control, gw->base);
	g->sigterm = evsignal_new(gw->base, SIGTERM, on_signal, gw->base);
	g->sigint = evsignal_new(gw->base, SIGINT, on_signal, gw->base);
	if (!g->control || !g->sigterm || !g->sigint || event_add(g->control, NULL) < 0 ||
	    event_add(g->sigterm, NULL) < 0 || event_add(g->sigint, NULL) < 0)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "loop events");
	return 0;
}

/* ---- set-up and teardown ---- */

static int start_components(gw_process *g, const gw_args *a, cr_error **err)
{
	cr_gateway *gw = &g->gw;
	gw->names = cr_gw_names_new();
	if (setup_upstream(gw, err) < 0 || cr_gw_dns_start(gw, err) < 0)
		return -1;
	g->dns_started = true;
	cr_gw_dns_set_pool(gw, a->pool, a->pool_prefix);
	if (cr_gw_proxy_start(gw, err) < 0)
		return -1;
	g->proxy_started = true;
	cr_gw_proxy_set_pool(gw, a->pool, a->pool_prefix);
	if (a->cacert_path && cr_read_file(a->cacert_path, CACERT_MAX, &gw->cfg.upstream_cacert,
					   &gw->cfg.upstream_cacert_len, err) < 0)
		return cr_error_wrap(err, "--upstream-cacert");
	return cr_front_bind(gw, err);
}

/* Everything a sandbox can reach is bound; now give up what is not needed. */
static int confine(const cr_gateway *gw, cr_error **err)
{
	evutil_secure_rng_init(); /* evdns's transaction ids; seeded while files can be opened */
	if (cr_gw_drop_privileges(gw->cfg.run_uid, gw->cfg.run_gid, err) < 0 ||
	    cr_gw_seccomp_install(err) < 0)
		return cr_error_wrap(err, "confine the gateway");
	return 0;
}

static int setup(gw_process *g, const gw_args *a, cr_error **err)
{
	cr_gateway *gw = &g->gw;
	gw->base = event_base_new();
	if (!gw->base)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "event base");
	/* the audit pipe first, so that even a bad policy is reported on it */
	if (cr_gw_audit_open(gw, err) < 0 || load_policy(gw, err) < 0 || start_components(g, a, err) < 0 ||
	    add_loop_events(g, err) < 0 || confine(gw, err) < 0)
		return -1;
	/* as the gateway's user, so that the cache's files are its own */
	return cr_front_start(gw, err);
}

static void teardown(gw_process *g)
{
	cr_gateway *gw = &g->gw;
	cr_front_stop(gw);
	if (g->proxy_started)
		cr_gw_proxy_stop(gw);
	if (g->dns_started)
		cr_gw_dns_stop(gw);
	if (gw->upstream)
		evdns_base_free(gw->upstream, 0);
	cr_gw_audit_close(gw, AUDIT_FLUSH_MS);
	struct event *evs[] = {g->control, g->sigterm, g->sigint};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (gw->base)
		event_base_free(gw->base);
	cr_gw_names_free(gw->names);
	cr_policy_free(gw->policy);
	free(gw->cfg.upstream_cacert);
	if (gw->cfg.credentials_fd >= 0) /* never read */
		close(gw->cfg.credentials_fd);
	if (gw->cfg.policy_fd >= 0)
		close(gw->cfg.policy_fd);
}

/* A failure before the loop: on stderr, and to the server as an event. */
static void report_fatal(cr_gateway *gw, const cr_error *err)
{
	fprintf(stderr, "cleanroom __gateway: %s\n", err->msg);
	if (gw->cfg.audit_fd >= 0)
		cr_gw_audit(gw, &(cr_gw_event){
					.kind = "gateway_error", .reason = err->reason, .detail = err->msg});
}

int cr_gateway_main(int argc, char **argv)
{
	gw_args a;
	cleanup_error cr_error *err = NULL;
	if (parse_args(argc, argv, &a, &err) < 0) {
		fprintf(stderr, "cleanroom __gateway: %s\n%s", err->msg, usage);
		return EXIT_USAGE;
	}
	if (a.help) {
		fputs(usage, stdout);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	gw_process g = {.gw = {.cfg = a.cfg}};
	if (setup(&g, &a, &err) < 0) {
		report_fatal(&g.gw, err);
		teardown(&g);
		return err->reason == CR_REASON_POLICY_INVALID ? EXIT_USAGE : EXIT_FAILURE_SETUP;
	}
	/* the server makes the sandbox READY on this line: everything listens */
	cr_gw_audit(&g.gw, &(cr_gw_event){.kind = "gateway_ready"});
	event_base_dispatch(g.gw.base);
	teardown(&g);
	return 0;
}
