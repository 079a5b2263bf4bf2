/* SPDX-License-Identifier: Apache-2.0 */
/* net_tool.c -- test-only front-end to src/net (pool, veth links, firewall,
 * conntrack), one subcommand per library call, for
 * tests/integration/test_net_host.py. It acts on the netns it runs in: the
 * tests run it under `ip netns exec` so that nothing touches the host's
 * links or firewall.
 *
 *   net-tool lease CIDR INDEX
 *   net-tool pool-check CIDR
 *   net-tool link-create CIDR INDEX NETNS        NETNS: a path (/run/netns/X) or pid:N
 *   net-tool link-delete IFNAME
 *   net-tool link-bench CIDR INDEX NETNS N    NETNS "fresh": a new netns per round, ended before the delete
 *   net-tool leftovers
 *   net-tool fw-open | fw-destroy
 *   net-tool fw-add ID IFNAME SANDBOX_ADDR GATEWAY_ADDR DNS_PORT PROXY_PORT
 *   net-tool fw-remove IFNAME
 *   net-tool fw-counters IFNAME
 *   net-tool fw-bench N BACKGROUND
 *   net-tool ct-count ADDR | ct-flush ADDR
 *
 * Prints key=value lines; exits 0, 1 on a library error (message on stderr),
 * 2 on bad usage, 3 when a call left the thread in another netns. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "net/conntrack.h"
#include "net/firewall.h"
#include "net/link.h"
#include "net/pool.h"
#include "util/cleanup.h"

typedef int (*command_fn)(char **argv);

static int fail(cr_error *err)
{
	fprintf(stderr, "net-tool: %s\n", err ? err->msg : "failed");
	cr_error_free(err);
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: net-tool COMMAND ARGS... (see tests/tools/net_tool.c)\n");
	exit(2);
}

static uint64_t number(const char *s, uint64_t max)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v > max)
		usage();
	return v;
}

static struct in_addr addr(const char *s)
{
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1)
		usage();
	return a;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static ino_t thread_netns(void)
{
	struct stat st;
	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return 0;
	return st.st_ino;
}

static int lease_of(const char *cidr, const char *index, cr_net_lease *l)
{
	cr_net_pool pool;
	cr_error *err = NULL;
	if (cr_net_pool_parse(cidr, &pool, &err) < 0 ||
	    cr_net_pool_lease(&pool, (uint32_t)number(index, UINT32_MAX), l, &err) < 0)
		return fail(err);
	return 0;
}

static int open_netns(const char *spec)
{
	cr_error *err = NULL;
	if (strncmp(spec, "pid:", 4) == 0) {
		int fd = cr_net_netns_open((pid_t)number(spec + 4, INT32_MAX), -1, &err);
		if (fd < 0)
			exit(fail(err));
		return fd;
	}
	int fd = open(spec, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(spec);
		exit(1);
	}
	return fd;
}

static int cmd_lease(char **argv)
{
	cr_net_lease l;
	char gw[INET_ADDRSTRLEN], sb[INET_ADDRSTRLEN];
	if (lease_of(argv[0], argv[1], &l))
		return 1;
	printf("index=%u\ngateway=%s\nsandbox=%s\nprefix=%u\nifname=%s\n", l.index,
	       cr_net_addr_str(l.gateway_addr, gw), cr_net_addr_str(l.sandbox_addr, sb), l.prefix,
	       l.host_ifname);
	return 0;
}

static int cmd_pool_check(char **argv)
{
	cr_net_pool pool;
	cr_error *err = NULL;
	if (cr_net_pool_parse(argv[0], &pool, &err) < 0 || cr_net_pool_check_routes(&pool, &err) < 0)
		return fail(err);
	printf("pool_ok=1\n");
	return 0;
}

/* Creates the link and checks that the thread came back to its netns. */
static int create_link(const cr_net_lease *l, int netns_fd, double *us)
{
	cr_error *err = NULL;
	ino_t before = thread_netns();
	double t0 = now_us();
	int rc = cr_net_link_create(l, netns_fd, &err);
	*us = now_us() - t0;
	if (thread_netns() != before) {
		fprintf(stderr, "net-tool: the thread did not return to its netns\n");
		exit(3);
	}
	return rc < 0 ? fail(err) : 0;
}

static int cmd_link_create(char **argv)
{
	cr_net_lease l;
	double us;
	if (lease_of(argv[0], argv[1], &l))
		return 1;
	cleanup_close int fd = open_netns(argv[2]);
	if (create_link(&l, fd, &us))
		return 1;
	printf("ifname=%s\ncreate_us=%.0f\n", l.host_ifname, us);
	return 0;
}

static int cmd_link_delete(char **argv)
{
	cr_error *err = NULL;
	int rc = cr_net_link_delete(argv[0], &err);
	if (rc < 0)
		return fail(err);
	printf("deleted=%d\n", rc);
	return 0;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void print_stats(const char *name, double *v, size_t n)
{
	qsort(v, n, sizeof(*v), compare_double);
	printf("%s_us min=%.0f median=%.0f p90=%.0f max=%.0f n=%zu\n", name, v[0], v[n / 2], v[n * 9 / 10],
	       v[n - 1], n);
}

/* A child process in a new netns of its own, waiting for its pipe to
 * close: the sandbox of one link-bench round when NETNS is "fresh". */
typedef struct netns_child {
	pid_t pid;
	int hold; /* write end: closing it ends the child */
} netns_child;

static netns_child fresh_netns(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		exit(1);
	pid_t pid = fork();
	if (pid == 0) {
		char c;
		close(p[1]);
		if (unshare(CLONE_NEWNET) < 0)
			_exit(1);
		while (read(p[0], &c, 1) > 0)
			;
		_exit(0);
	}
	close(p[0]);
	/* the child has unshared once /proc/<pid>/ns/net differs from ours */
	for (int i = 0; i < 1000; i++) {
		char path[64];
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
		if (stat(path, &st) == 0 && st.st_ino != thread_netns())
			break;
		usleep(100);
	}
	return (netns_child){.pid = pid, .hold = p[1]};
}

static void end_netns(netns_child *c)
{
	close(c->hold);
	waitpid(c->pid, NULL, 0);
}

/* One round: create, then delete. With a fresh netns, the sandbox ends
 * first (its last process exits and its fd is closed), as in a server's
 * teardown; the kernel then removes the pair by itself. */
static int bench_round(const cr_net_lease *l, const char *spec, double *create, double *del)
{
	cr_error *err = NULL;
	bool fresh = strcmp(spec, "fresh") == 0;
	netns_child child = {0};
	char pidspec[32];
	if (fresh) {
		child = fresh_netns();
		snprintf(pidspec, sizeof(pidspec), "pid:%d", (int)child.pid);
	}
	int fd = open_netns(fresh ? pidspec : spec);
	int rc = create_link(l, fd, create);
	close(fd);
	if (fresh)
		end_netns(&child);
	if (rc)
		return rc;
	double t0 = now_us();
	if (cr_net_link_delete(l->host_ifname, &err) < 0)
		return fail(err);
	*del = now_us() - t0;
	return 0;
}

static int cmd_link_bench(char **argv)
{
	cr_net_lease l;
	if (lease_of(argv[0], argv[1], &l))
		return 1;
	size_t n = (size_t)number(argv[3], 10000);
	if (n == 0)
		usage();
	cleanup_free double *create = calloc(n, sizeof(double)), *del = calloc(n, sizeof(double)),
			    *both = calloc(n, sizeof(double));
	for (size_t i = 0; i < n; i++) {
		if (bench_round(&l, argv[2], &create[i], &del[i]))
			return 1;
		both[i] = create[i] + del[i];
	}
	print_stats("create", create, n);
	print_stats("delete", del, n);
	print_stats("create_delete", both, n);
	return 0;
}

static int cmd_leftovers(char **argv)
{
	(void)argv;
	cr_error *err = NULL;
	int n = cr_net_link_cleanup_leftovers(&err);
	if (n < 0)
		return fail(err);
	printf("deleted=%d\n", n);
	return 0;
}

static int cmd_fw_open(char **argv)
{
	(void)argv;
	cr_firewall *fw = NULL;
	cr_error *err = NULL;
	double t0 = now_us();
	if (cr_firewall_open(&fw, &err) < 0)
		return fail(err);
	printf("open_us=%.0f\n", now_us() - t0);
	cr_firewall_close(fw);
	return 0;
}

static int cmd_fw_destroy(char **argv)
{
	(void)argv;
	cr_error *err = NULL;
	if (cr_firewall_destroy_table(&err) < 0)
		return fail(err);
	printf("destroyed=1\n");
	return 0;
}

/* The firewall of an existing table: open() would replace it, so the
 * one-shot subcommands borrow a context through a fresh open only in
 * fw-open and fw-bench; the others use a context over the loaded table. */
static int with_loaded_table(int (*fn)(cr_firewall *fw, char **argv, cr_error **err), char **argv)
{
	cr_firewall *fw = NULL;
	cr_error *err = NULL;
	if (cr_firewall_attach(&fw, &err) < 0)
		return fail(err);
	int rc = fn(fw, argv, &err);
	cr_firewall_close(fw);
	return rc < 0 ? fail(err) : 0;
}

static int fw_add(cr_firewall *fw, char **argv, cr_error **err)
{
	cr_fw_sandbox sb = {
		.id = argv[0],
		.host_ifname = argv[1],
		.sandbox_addr = addr(argv[2]),
		.gateway_addr = addr(argv[3]),
		.dns_port = (uint16_t)number(argv[4], 65535),
		.proxy_port = (uint16_t)number(argv[5], 65535),
	};
	double t0 = now_us();
	if (cr_firewall_add_sandbox(fw, &sb, err) < 0)
		return -1;
	printf("add_us=%.0f\n", now_us() - t0);
	return 0;
}

static int fw_remove(cr_firewall *fw, char **argv, cr_error **err)
{
	double t0 = now_us();
	if (cr_firewall_remove_sandbox(fw, argv[0], err) < 0)
		return -1;
	printf("remove_us=%.0f\n", now_us() - t0);
	return 0;
}

static int fw_counters(cr_firewall *fw, char **argv, cr_error **err)
{
	uint64_t packets, bytes;
	if (cr_firewall_counters(fw, argv[0], &packets, &bytes, err) < 0)
		return -1;
	printf("packets=%" PRIu64 "\nbytes=%" PRIu64 "\n", packets, bytes);
	return 0;
}

static int cmd_fw_add(char **argv)
{
	return with_loaded_table(fw_add, argv);
}

static int cmd_fw_remove(char **argv)
{
	return with_loaded_table(fw_remove, argv);
}

static int cmd_fw_counters(char **argv)
{
	return with_loaded_table(fw_counters, argv);
}

static cr_fw_sandbox bench_sandbox(const cr_net_pool *pool, uint32_t index, char *ifname)
{
	cr_net_lease l;
	cr_net_pool_lease(pool, index, &l, NULL);
	memcpy(ifname, l.host_ifname, CR_NET_IFNAME_SIZE);
	return (cr_fw_sandbox){.id = "bench",
			       .host_ifname = ifname,
			       .sandbox_addr = l.sandbox_addr,
			       .gateway_addr = l.gateway_addr,
			       .dns_port = 15053,
			       .proxy_port = 15001};
}

/* N add+remove cycles with BACKGROUND other sandboxes loaded, in one
 * context (as the server does). */
static int cmd_fw_bench(char **argv)
{
	size_t n = (size_t)number(argv[0], 100000), background = (size_t)number(argv[1], 16000);
	cr_net_pool pool;
	cr_firewall *fw = NULL;
	cr_error *err = NULL;
	char ifname[CR_NET_IFNAME_SIZE];
	cr_net_pool_parse("10.213.0.0/16", &pool, NULL);
	if (n == 0 || cr_firewall_open(&fw, &err) < 0)
		return n ? fail(err) : 2;
	for (uint32_t i = 1; i <= background; i++) {
		cr_fw_sandbox sb = bench_sandbox(&pool, i, ifname);
		if (cr_firewall_add_sandbox(fw, &sb, &err) < 0)
			return fail(err);
	}
	cleanup_free double *add = calloc(n, sizeof(double)), *rem = calloc(n, sizeof(double));
	cr_fw_sandbox sb = bench_sandbox(&pool, 0, ifname);
	for (size_t i = 0; i < n; i++) {
		double t0 = now_us();
		if (cr_firewall_add_sandbox(fw, &sb, &err) < 0)
			return fail(err);
		double t1 = now_us();
		if (cr_firewall_remove_sandbox(fw, sb.host_ifname, &err) < 0)
			return fail(err);
		add[i] = t1 - t0;
		rem[i] = now_us() - t1;
	}
	printf("background=%zu\n", background);
	print_stats("fw_add", add, n);
	print_stats("fw_remove", rem, n);
	cr_firewall_close(fw);
	return 0;
}

static int cmd_ct(char **argv, int (*fn)(struct in_addr, cr_error **), const char *key)
{
	cr_error *err = NULL;
	int n = fn(addr(argv[0]), &err);
	if (n < 0)
		return fail(err);
	printf("%s=%d\n", key, n);
	return 0;
}

static int cmd_ct_count(char **argv)
{
	return cmd_ct(argv, cr_conntrack_count_addr, "entries");
}

static int cmd_ct_flush(char **argv)
{
	return cmd_ct(argv, cr_conntrack_flush_addr, "deleted");
}

static const struct {
	const char *name;
	int argc;
	command_fn fn;
} commands[] = {
	{"lease", 2, cmd_lease},
	{"pool-check", 1, cmd_pool_check},
	{"link-create", 3, cmd_link_create},
	{"link-delete", 1, cmd_link_delete},
	{"link-bench", 4, cmd_link_bench},
	{"leftovers", 0, cmd_leftovers},
	{"fw-open", 0, cmd_fw_open},
	{"fw-destroy", 0, cmd_fw_destroy},
	{"fw-add", 6, cmd_fw_add},
	{"fw-remove", 1, cmd_fw_remove},
	{"fw-counters", 1, cmd_fw_counters},
	{"fw-bench", 2, cmd_fw_bench},
	{"ct-count", 1, cmd_ct_count},
	{"ct-flush", 1, cmd_ct_flush},
};

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0) {
			if (argc - 2 != commands[i].argc)
				usage();
			return commands[i].fn(argv + 2);
		}
	usage();
}
