/* SPDX-License-Identifier: Apache-2.0 */
/* gateway_proc.c -- a sandbox's gateway process, seen from the server.
 *
 * `cleanroom __gateway` is spawned with three descriptors: 3, a memfd holding
 * the CompiledPolicy (read to EOF; never a file the sandbox could touch); 4,
 * the write end of the audit pipe; 5, the read end of the control pipe,
 * whose end of file tells it to exit. The server reads the audit pipe on its
 * loop: the first line {"kind":"gateway_ready"} means the listeners are
 * bound (the sandbox then becomes READY); every other line is a decision
 * that goes to the audit trail as "egress.<kind>" with the sandbox's run,
 * actor, backend and policy hash. A gateway that exits before its sandbox
 * ends fails the sandbox: without it nothing can leave, and silence would
 * hide why. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <jansson.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/egress.h"
#include "server/server.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define LINE_MAX_BYTES (16u << 10)
#define MAX_ARGS       48
#define STOP_WAIT_MS   2000

extern char **environ;

struct cr_gateway_proc {
	pid_t pid;
	int audit_fd, control_fd;
	struct event *audit_ev;
	cr_buf line; /* a partial line */
	bool ready, stopping;
	cr_live_sandbox *l;
};

/* ---- audit lines ---- */

static const char *detail_value(json_t *v, char *num, size_t n)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(num, n, "%lld", (long long)json_integer_value(v));
		return num;
	}
	return NULL;
}

static const char *trail_kind(const char *kind)
{
	if (strcmp(kind, "dns_query") == 0)
		return "egress.dns_query";
	if (strcmp(kind, "egress_decision") == 0)
		return "egress.decision";
	if (strcmp(kind, "registry_decision") == 0)
		return "registry.decision";
	return "egress.error";
}

/* One line of the gateway to one trail event. */
static void relay_line(cr_gateway_proc *g, const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	const char *kind = json_string_value(json_object_get(j, "kind"));
	if (!kind) {
		fprintf(stderr, "cleanroom serve: gateway of %s wrote a malformed line\n", g->l->id);
		json_decref(j);
		return;
	}
	if (strcmp(kind, "gateway_ready") == 0) {
		g->ready = true;
		json_decref(j);
		if (!g->stopping)
			cr_provision_gateway_ready(g->l);
		return;
	}
	const char *detail[2 * 16 + 1];
	char nums[16][24];
	size_t n = 0, k = 0;
	const char *key;
	json_t *v;
	json_object_foreach (j, key, v) {
		if (strcmp(key, "kind") == 0 || strcmp(key, "reason_code") == 0 || n >= 2 * 16)
			continue;
		const char *s = detail_value(v, nums[k], sizeof(nums[k]));
		if (!s)
			continue;
		k += json_is_integer(v);
		detail[n++] = key;
		detail[n++] = s;
	}
	detail[n] = NULL;
	const char *rname = json_string_value(json_object_get(j, "reason_code"));
	cr_reason reason = rname && *rname ? cr_reason_from_name(rname) : CR_REASON_NONE;
	cr_audit_ctx ctx = cr_live_audit_ctx(g->l);
	cr_server_audit(g->l->srv, trail_kind(kind), &ctx, reason, detail);
	json_decref(j);
}

static void split_lines(cr_gateway_proc *g)
{
	size_t start = 0;
	for (size_t i = 0; i < g->line.len; i++)
		if (g->line.data[i] == '\n') {
			relay_line(g, g->line.data + start, i - start);
			start = i + 1;
		}
	memmove(g->line.data, g->line.data + start, g->line.len - start);
	g->line.len -= start;
	if (g->line.len >= LINE_MAX_BYTES) { /* no newline in 16 KiB: not a line of ours */
		fprintf(stderr, "cleanroom serve: gateway of %s wrote an overlong line; dropped\n", g->l->id);
		g->line.len = 0;
	}
}

static void gateway_gone(cr_gateway_proc *g)
{
	event_del(g->audit_ev);
	if (g->stopping)
		return;
	cr_live_sandbox *l = g->l;
	cleanup_error cr_error *err = NULL;
	const char *msg = g->ready ? "the sandbox's egress gateway exited"
				   : "the sandbox's egress gateway exited before it listened";
	if (cr_server_destroy_live(l->srv, l, CR_REASON_INTERNAL, msg, &err) < 0)
		fprintf(stderr, "cleanroom serve: %s\n", err->msg);
}

static void on_audit(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	cr_gateway_proc *g = arg;
	char buf[16384];
	for (int i = 0; i < 16; i++) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			gateway_gone(g);
			return;
		}
		cr_buf_append(&g->line, buf, (size_t)n);
		split_lines(g);
		if (g->stopping || !g->l)
			return;
	}
}

/* ---- the process ---- */

static int policy_memfd(const char *compiled, cr_error **err)
{
	int fd = memfd_create("cleanroom-policy", MFD_CLOEXEC);
	if (fd < 0 || cr_write_all(fd, compiled, strlen(compiled)) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return cr_error_make(err, e, CR_REASON_RUNTIME_LAUNCH_FAILED, "write the gateway's policy");
	}
	return fd;
}

struct argv_builder {
	char *v[MAX_ARGS];
	char text[MAX_ARGS][512]; /* the longest is --cache-dir's path (fronts.c caps it) */
	size_t n;
};

static void arg(struct argv_builder *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(struct argv_builder *a, const char *fmt, ...)
{
	if (a->n >= MAX_ARGS - 1)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(a->text[a->n], sizeof(a->text[a->n]), fmt, ap);
	va_end(ap);
	a->v[a->n] = a->text[a->n];
	a->v[++a->n] = NULL;
}

static void build_argv(struct argv_builder *a, const cr_live_sandbox *l, bool creds)
{
	const cr_sandbox_egress *e = l->egress;
	const cr_server *srv = l->srv;
	char gw[INET_ADDRSTRLEN], sb[INET_ADDRSTRLEN];
	a->n = 0;
	arg(a, "cleanroom");
	arg(a, "__gateway");
	arg(a, "--sandbox-id"), arg(a, "%s", l->id);
	arg(a, "--gateway-addr"), arg(a, "%s", cr_net_addr_str(e->lease.gateway_addr, gw));
	arg(a, "--sandbox-addr"), arg(a, "%s", cr_net_addr_str(e->lease.sandbox_addr, sb));
	arg(a, "--dns-port"), arg(a, "%d", CR_EGRESS_DNS_PORT);
	arg(a, "--proxy-port"), arg(a, "%d", CR_EGRESS_PROXY_PORT);
	arg(a, "--policy-fd"), arg(a, "3");
	arg(a, "--audit-fd"), arg(a, "4");
	arg(a, "--control-fd"), arg(a, "5");
	arg(a, "--uid"), arg(a, "%u", (unsigned)srv->egress.gateway_uid);
	arg(a, "--gid"), arg(a, "%u", (unsigned)srv->egress.gateway_gid);
	char pool[CR_NET_CIDR_STRLEN];
	arg(a, "--sandbox-pool"), arg(a, "%s", cr_net_pool_format(&srv->egress.pool, pool));
	for (size_t i = 0; srv->egress.resolvers && srv->egress.resolvers[i]; i++)
		arg(a, "--upstream-dns"), arg(a, "%s", srv->egress.resolvers[i]);
	const cr_fronts *f = &srv->egress.fronts;
	arg(a, "--front-port"), arg(a, "%d", CR_EGRESS_FRONT_PORT);
	if (f->cache_dir)
		arg(a, "--cache-dir"), arg(a, "%s", f->cache_dir);
	if (f->cache_max_bytes)
		arg(a, "--cache-max-bytes"), arg(a, "%llu", (unsigned long long)f->cache_max_bytes);
	if (f->offline)
		arg(a, "--offline");
	if (f->upstream_cacert)
		arg(a, "--upstream-cacert"), arg(a, "%s", f->upstream_cacert);
	if (creds)
		arg(a, "--credentials-fd"), arg(a, "6");
}

static int spawn(const cr_live_sandbox *l, int policy_fd, int audit_w, int control_r, int creds_fd,
		 pid_t *pid, cr_error **err)
{
	struct argv_builder a;
	build_argv(&a, l, creds_fd >= 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, policy_fd, 3);
	posix_spawn_file_actions_adddup2(&fa, audit_w, 4);
	posix_spawn_file_actions_adddup2(&fa, control_r, 5);
	if (creds_fd >= 0)
		posix_spawn_file_actions_adddup2(&fa, creds_fd, 6);
	posix_spawn_file_actions_addclosefrom_np(&fa, creds_fd >= 0 ? 7 : 6);
	int rc = posix_spawn(pid, "/proc/self/exe", &fa, NULL, a.v, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0)
		return cr_error_make(err, rc, CR_REASON_RUNTIME_LAUNCH_FAILED, "start the egress gateway");
	return 0;
}

int cr_gateway_proc_start(cr_live_sandbox *l, const char *compiled, cr_error **err)
{
	int audit[2] = {-1, -1}, control[2] = {-1, -1};
	cleanup_close int policy = policy_memfd(compiled, err);
	if (policy < 0)
		return -1;
	/* resolved now, from the server's environment and files (spec §6.4) */
	cleanup_close int creds = cr_fronts_credentials_fd(&l->srv->egress.fronts, err);
	if (creds == -1)
		return -1;
	if (pipe2(audit, O_CLOEXEC) < 0 || pipe2(control, O_CLOEXEC) < 0) {
		cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "create the gateway's pipes");
		goto fail;
	}
	pid_t pid;
	if (spawn(l, policy, audit[1], control[0], creds, &pid, err) < 0)
		goto fail;
	close(audit[1]);
	close(control[0]);
	cr_gateway_proc *g = cr_xcalloc(1, sizeof(*g));
	*g = (cr_gateway_proc){.pid = pid, .audit_fd = audit[0], .control_fd = control[1], .l = l};
	cr_buf_init(&g->line, LINE_MAX_BYTES + 16384);
	fcntl(g->audit_fd, F_SETFL, O_NONBLOCK);
	g->audit_ev = event_new(l->srv->base, g->audit_fd, EV_READ | EV_PERSIST, on_audit, g);
	event_add(g->audit_ev, NULL);
	l->egress->gw = g;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (audit[i] >= 0)
			close(audit[i]);
		if (control[i] >= 0)
			close(control[i]);
	}
	return -1;
}

/* What the gateway wrote last still goes to the trail: reads until its end
 * of file, for at most STOP_WAIT_MS, then kills it. */
static void drain_until_exit(cr_gateway_proc *g)
{
	int64_t deadline = cr_monotonic_ms() + STOP_WAIT_MS;
	char buf[16384];
	for (;;) {
		int64_t left = deadline - cr_monotonic_ms();
		struct pollfd p = {.fd = g->audit_fd, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			kill(g->pid, SIGKILL);
			return;
		}
		ssize_t n = read(g->audit_fd, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return;
		cr_buf_append(&g->line, buf, (size_t)n);
		split_lines(g);
	}
}

void cr_gateway_proc_stop(cr_gateway_proc *g)
{
	if (!g)
		return;
	g->stopping = true;
	if (g->audit_ev)
		event_free(g->audit_ev);
	close(g->control_fd); /* end of file: the gateway exits */
	kill(g->pid, SIGTERM);
	drain_until_exit(g);
	close(g->audit_fd);
	waitpid(g->pid, NULL, 0);
	cr_buf_free(&g->line);
	free(g);
}
