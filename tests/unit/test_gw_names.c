/* SPDX-License-Identifier: Apache-2.0 */
/* test_gw_names.c -- the gateway's own pieces below its listeners: the
 * name -> addresses map (TTL floor and cap, eviction, the most recent name of
 * an address), the resolver's verdict for a name, the audit writer (line
 * format, sanitising, the backlog while the pipe is full, drops reported)
 * and the process confinement (privilege drop, seccomp kills execve). */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gateway/internal.h"

#define SEC 1000ull

static struct in_addr ip(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* ---- names ---- */

static void test_names_ttl(void **state)
{
	(void)state;
	cr_gw_names *n = cr_gw_names_new();
	struct in_addr a[2] = {ip("10.254.1.10"), ip("10.254.1.11")};
	uint64_t t0 = 1000 * SEC;
	cr_gw_names_add(n, "short.test", a, 2, 5, t0); /* 5 s: raised to the 60 s floor */
	assert_true(cr_gw_names_has(n, "short.test", a[1], t0 + 59 * SEC));
	assert_false(cr_gw_names_has(n, "short.test", a[1], t0 + 61 * SEC));
	assert_false(cr_gw_names_has(n, "short.test", ip("10.254.1.12"), t0));
	assert_false(cr_gw_names_has(n, "other.test", a[0], t0));
	cr_gw_names_add(n, "long.test", a, 1, 30 * 86400, t0); /* capped at a day */
	assert_true(cr_gw_names_has(n, "long.test", a[0], t0 + 86399 * SEC));
	assert_false(cr_gw_names_has(n, "long.test", a[0], t0 + 86401 * SEC));
	/* a later, shorter TTL does not cut short what a client may cache */
	cr_gw_names_add(n, "long.test", a, 1, 60, t0 + 10 * SEC);
	assert_true(cr_gw_names_has(n, "long.test", a[0], t0 + 3600 * SEC));
	/* nothing to record */
	cr_gw_names_add(n, "none.test", a, 0, 300, t0);
	assert_null(cr_gw_names_for_ip(n, ip("10.9.9.9"), t0));
	cr_gw_names_free(n);
	cr_gw_names_free(NULL);
}

static void test_names_for_ip(void **state)
{
	(void)state;
	cr_gw_names *n = cr_gw_names_new();
	struct in_addr shared = ip("10.254.2.1");
	uint64_t t0 = 5000 * SEC;
	cr_gw_names_add(n, "first.test", &shared, 1, 3600, t0);
	cr_gw_names_add(n, "second.test", &shared, 1, 60, t0 + SEC);
	assert_string_equal(cr_gw_names_for_ip(n, shared, t0 + 2 * SEC), "second.test");
	/* once second.test's record expires, the earlier name is the answer */
	assert_string_equal(cr_gw_names_for_ip(n, shared, t0 + 120 * SEC), "first.test");
	assert_null(cr_gw_names_for_ip(n, shared, t0 + 4000 * SEC));
	/* resolving first.test again makes it the most recent */
	cr_gw_names_add(n, "second.test", &shared, 1, 600, t0 + 200 * SEC);
	cr_gw_names_add(n, "first.test", &shared, 1, 600, t0 + 201 * SEC);
	assert_string_equal(cr_gw_names_for_ip(n, shared, t0 + 202 * SEC), "first.test");
	cr_gw_names_free(n);
}

static void test_names_bounds(void **state)
{
	(void)state;
	cr_gw_names *n = cr_gw_names_new();
	struct in_addr a = ip("10.254.3.1");
	uint64_t t0 = 10 * SEC;
	char name[64];
	for (int i = 0; i < 4096; i++) {
		snprintf(name, sizeof(name), "n%d.test", i);
		cr_gw_names_add(n, name, &a, 1, 3600, t0 + (uint64_t)i);
	}
	cr_gw_names_add(n, "n0.test", &a, 1, 3600, t0 + 5000); /* refreshed: n1 is now the oldest */
	cr_gw_names_add(n, "new.test", &a, 1, 3600, t0 + 5001);
	assert_true(cr_gw_names_has(n, "new.test", a, t0 + 6000));
	assert_true(cr_gw_names_has(n, "n0.test", a, t0 + 6000));
	assert_false(cr_gw_names_has(n, "n1.test", a, t0 + 6000));
	assert_true(cr_gw_names_has(n, "n2.test", a, t0 + 6000));
	assert_true(cr_gw_names_has(n, "n4095.test", a, t0 + 6000));
	/* 20 addresses for one name: 16 are kept, the newest among them */
	struct in_addr many[20];
	for (int i = 0; i < 20; i++)
		many[i].s_addr = htonl(0x0AFE0400u + (unsigned)i);
	cr_gw_names_add(n, "many.test", many, 20, 300, t0);
	int kept = 0;
	for (int i = 0; i < 20; i++)
		kept += cr_gw_names_has(n, "many.test", many[i], t0 + SEC);
	assert_int_equal(kept, 16);
	assert_true(cr_gw_names_has(n, "many.test", many[19], t0 + SEC));
	/* an over-long name is not recorded */
	char long_name[300];
	memset(long_name, 'a', 299);
	long_name[299] = '\0';
	cr_gw_names_add(n, long_name, &a, 1, 300, t0);
	assert_false(cr_gw_names_has(n, long_name, a, t0 + SEC));
	cr_gw_names_free(n);
}

/* ---- the resolver's verdict ---- */

static const char *const judge_yaml = POLICY_HEAD "    allow:\n"
						  "      - host: allowed.test\n        ports: [443]\n"
						  "      - host: \"*.wild.test\"\n"
						  "      - host: port80.test\n        ports: [80]\n"
						  "      - host: metadata.google.internal\n"
						  "      - host: api.corp.test\n        ports: [8080]\n"
						  "      - host: 10.254.0.0/16\n        ports: [443]\n"
						  "    deny:\n"
						  "      - host: blocked.wild.test\n"
						  "      - host: \"*.corp.test\"\n";

static void expect_verdict(const cr_policy *p, const char *name, bool answer, const char *rule_prefix)
{
	cr_gw_name_verdict v;
	cr_gw_dns_judge(p, name, &v);
	if (v.answer != answer)
		fail_msg("%s: answer=%d, expected %d (rule %s)", name, v.answer, answer, v.rule);
	if (rule_prefix && (!v.rule || strncmp(v.rule, rule_prefix, strlen(rule_prefix)) != 0))
		fail_msg("%s: rule '%s', expected '%s...'", name, v.rule ? v.rule : "(null)", rule_prefix);
}

static void test_judge(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(judge_yaml, &d);
	if (!p)
		dump_diags(&d);
	assert_non_null(p);
	expect_verdict(p, "allowed.test", true, "sandbox.network.allow[");
	expect_verdict(p, "ALLOWED.test.", true, "sandbox.network.allow[");
	expect_verdict(p, "x.wild.test", true, "sandbox.network.allow[");
	expect_verdict(p, "a.b.wild.test", true, NULL);
	expect_verdict(p, "wild.test", false, "default"); /* the apex of a wildcard */
	expect_verdict(p, "denied.test", false, "default");
	expect_verdict(p, "blocked.wild.test", false, "sandbox.network.deny[");
	/* allowed on another port only: still answered */
	expect_verdict(p, "port80.test", true, "sandbox.network.allow[");
	/* an exact allow on 8080 under a wildcard deny: answered for 8080 */
	expect_verdict(p, "api.corp.test", true, "sandbox.network.allow[");
	expect_verdict(p, "other.corp.test", false, "sandbox.network.deny[");
	/* never: metadata names (even allowed), IP literals (even allowed), non-names */
	expect_verdict(p, "metadata.google.internal", false, "metadata_guard");
	expect_verdict(p, "10.254.0.1", false, NULL);
	expect_verdict(p, "", false, NULL);
	expect_verdict(p, "a..b", false, NULL);
	cr_policy_free(p);
	cr_diags_clear(&d);
}

/* ---- audit ---- */

typedef struct audit_fixture {
	cr_gateway gw;
	int rd; /* the server's end of the pipe */
} audit_fixture;

static void fixture_open(audit_fixture *f, bool with_backlog)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_true(fcntl(p[1], F_SETPIPE_SZ, 4096) >= 4096);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	*f = (audit_fixture){.gw = {.cfg = {.audit_fd = p[1]}}, .rd = p[0]};
	f->gw.base = event_base_new();
	assert_non_null(f->gw.base);
	cr_error *err = NULL;
	if (with_backlog && cr_gw_audit_open(&f->gw, &err) < 0)
		fail_msg("%s", err->msg);
	if (!with_backlog)
		fcntl(p[1], F_SETFL, O_NONBLOCK);
}

static void fixture_close(audit_fixture *f)
{
	cr_gw_audit_close(&f->gw, 0);
	event_base_free(f->gw.base);
	close(f->gw.cfg.audit_fd);
	close(f->rd);
}

/* Reads what the pipe holds into buf (NUL-terminated); returns the length. */
static size_t read_some(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;
	while (n + 1 < cap && (r = read(fd, buf + n, cap - 1 - n)) > 0)
		n += (size_t)r;
	buf[n] = '\0';
	return n;
}

static void test_audit_line(void **state)
{
	(void)state;
	audit_fixture f;
	fixture_open(&f, true);
	cr_gw_audit(&f.gw, &(cr_gw_event){.kind = "dns_query",
					  .action = "deny",
					  .protocol = "dns",
					  .host = "denied.test",
					  .rule = "default",
					  .reason = CR_REASON_HOST_NOT_ALLOWED,
					  .qtype = "A"});
	cr_gw_audit(&f.gw, &(cr_gw_event){.kind = "egress_decision",
					  .action = "allow",
					  .protocol = "tls",
					  .host = "x\x01y\xff\"z",
					  .port = 443,
					  .ip = "10.254.0.10",
					  .detail = ""});
	char buf[1024];
	assert_int_equal(read_some(f.rd, buf, sizeof(buf)), 0); /* held until the round ends */
	event_base_loop(f.gw.base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	read_some(f.rd, buf, sizeof(buf)); /* both lines, in one write */
	assert_string_equal(
		buf, "{\"kind\":\"dns_query\",\"action\":\"deny\",\"protocol\":\"dns\","
		     "\"host\":\"denied.test\",\"rule\":\"default\",\"reason_code\":\"host_not_allowed\","
		     "\"qtype\":\"A\"}\n"
		     "{\"kind\":\"egress_decision\",\"action\":\"allow\",\"protocol\":\"tls\","
		     "\"host\":\"x?y?\\\"z\",\"port\":443,\"ip\":\"10.254.0.10\"}\n");
	assert_int_equal(f.gw.events_written, 2);
	assert_int_equal(f.gw.events_dropped, 0);
	fixture_close(&f);
}

static void emit_numbered(cr_gateway *gw, int i)
{
	char detail[64];
	snprintf(detail, sizeof(detail), "event %06d padding padding padding padding", i);
	cr_gw_audit(gw, &(cr_gw_event){.kind = "dns_query", .action = "deny", .detail = detail});
}

/* Runs the loop and reads until the pipe and the backlog are empty; returns
 * the number of lines read and keeps the last one. */
static int drain_all(audit_fixture *f, char *last, size_t last_cap)
{
	static char buf[1 << 16];
	int lines = 0;
	for (int round = 0; round < 100000; round++) {
		size_t n = read_some(f->rd, buf, sizeof(buf));
		for (size_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
		if (n > 1) {
			char *end = buf + n - 1, *start = end;
			while (start > buf && start[-1] != '\n')
				start--;
			snprintf(last, last_cap, "%.*s", (int)(end - start), start);
		}
		if (cr_gw_audit_backlog(&f->gw) == 0 && n == 0)
			return lines;
		event_base_loop(f->gw.base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	}
	fail_msg("the backlog never drained");
	return -1;
}

static void test_audit_backlog(void **state)
{
	(void)state;
	audit_fixture f;
	fixture_open(&f, true);
	int i = 0;
	while (i < 200) /* ~18 KB: more than the 4 KB pipe takes */
		emit_numbered(&f.gw, i++);
	event_base_loop(f.gw.base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	assert_true(cr_gw_audit_backlog(&f.gw) > 0); /* the pipe is full */
	for (int k = 0; k < 100; k++)
		emit_numbered(&f.gw, i++);
	assert_int_equal(f.gw.events_dropped, 0); /* held, not lost */
	char last[256] = "";
	assert_int_equal(drain_all(&f, last, sizeof(last)), i);
	char want[64];
	snprintf(want, sizeof(want), "event %06d", i - 1);
	assert_non_null(strstr(last, want)); /* in order, complete */
	assert_int_equal(f.gw.events_written, (uint64_t)i);
	fixture_close(&f);
}

static void test_audit_overflow(void **state)
{
	(void)state;
	audit_fixture f;
	fixture_open(&f, true);
	int i = 0;
	while (f.gw.events_dropped < 25)
		emit_numbered(&f.gw, i++);
	assert_true(cr_gw_audit_backlog(&f.gw) > CR_GW_AUDIT_BACKLOG - 200);
	char last[512] = "";
	int lines = drain_all(&f, last, sizeof(last));
	assert_int_equal(lines, i - 25 + 1); /* the delivered ones, then the report */
	json_t *o = json_loads(last, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "kind")), "gateway_error");
	const char *detail = json_string_value(json_object_get(o, "detail"));
	assert_non_null(strstr(detail, "25 audit events dropped"));
	json_decref(o);
	fixture_close(&f);
}

static void test_audit_without_backlog(void **state)
{
	(void)state;
	audit_fixture f;
	fixture_open(&f, false);
	int i = 0;
	while (f.gw.events_dropped == 0 && i < 1000)
		emit_numbered(&f.gw, i++);
	assert_int_equal(f.gw.events_dropped, 1); /* written directly; the one that did not fit dropped */
	assert_int_equal(f.gw.events_written, (uint64_t)i - 1);
	char last[256];
	assert_int_equal(drain_all(&f, last, sizeof(last)), i - 1);
	fixture_close(&f);
}

/* ---- confinement ---- */

/* Runs fn in a child; returns its wait status. */
static int in_child(int (*fn)(void))
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn());
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int confine(void)
{
	cr_error *err = NULL;
	if (cr_gw_seccomp_install(&err) < 0) {
		fprintf(stderr, "%s\n", err->msg);
		_exit(100);
	}
	return 0;
}

static int try_execve(void)
{
	confine();
	char *argv[] = {"/bin/true", NULL};
	execve("/bin/true", argv, environ);
	return 1; /* not killed */
}

static int try_fork(void)
{
	confine();
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	return 1;
}

static int try_unshare(void)
{
	confine();
	unshare(CLONE_NEWNET);
	return 1;
}

static int try_relay_calls(void)
{
	confine();
	int p[2], s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || pipe2(p, O_CLOEXEC) < 0)
		return 2;
	if (socket(AF_NETLINK, SOCK_RAW, 0) >= 0 || errno != EAFNOSUPPORT)
		return 3;
	if (socket(AF_PACKET, SOCK_RAW, 0) >= 0 || errno != EAFNOSUPPORT)
		return 4;
	struct event_base *b = event_base_new(); /* epoll, eventfd, ... */
	if (!b)
		return 5;
	event_base_free(b);
	return 0;
}

static void test_seccomp(void **state)
{
	(void)state;
	int st = in_child(try_execve);
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGSYS)
		fail_msg("execve under the filter: status 0x%x, expected SIGSYS", st);
	st = in_child(try_fork);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	st = in_child(try_unshare);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	st = in_child(try_relay_calls);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail_msg("ordinary relay calls under the filter: status 0x%x", st);
}

static int drop_to_nobody(void)
{
	cr_error *err = NULL;
	if (cr_gw_drop_privileges(65534, 65534, &err) < 0) {
		fprintf(stderr, "%s\n", err->msg);
		return 1;
	}
	uid_t r, e, s;
	gid_t g[4];
	if (getresuid(&r, &e, &s) < 0 || r != 65534 || e != 65534 || s != 65534)
		return 2;
	if (getgid() != 65534 || getgroups(4, g) != 0)
		return 3;
	if (setuid(0) == 0)
		return 4;
	return 0;
}

static void test_drop_privileges(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip();
		return;
	}
	int st = in_child(drop_to_nobody);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	cr_error *err = NULL;
	assert_int_equal(cr_gw_drop_privileges(0, 0, &err), 0); /* "stay": nothing happens */
	assert_int_equal(geteuid(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_ttl),      cmocka_unit_test(test_names_for_ip),
		cmocka_unit_test(test_names_bounds),   cmocka_unit_test(test_judge),
		cmocka_unit_test(test_audit_line),     cmocka_unit_test(test_audit_backlog),
		cmocka_unit_test(test_audit_overflow), cmocka_unit_test(test_audit_without_backlog),
		cmocka_unit_test(test_seccomp),        cmocka_unit_test(test_drop_privileges),
	};
	return cmocka_run_group_tests_name("gateway", tests, NULL, NULL);
}
