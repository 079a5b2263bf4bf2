/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox_driver.c -- a test-only owner of namespace-backend sandboxes.
 *
 * Until the control plane exists, the integration tests and the benchmarks
 * drive the backend through this program, which links libcleanroom and uses
 * the backend vtable exactly as `cleanroom serve` will. It is also the binary
 * the sandbox re-executes as its agent, so it answers the hidden commands
 * __agent, __extract and __read-file like the cleanroom binary does.
 *
 *   sandbox-driver run [--state DIR] [--id ID] [-c POLICY] [--workspace DIR] [--image DIR] [--uid N]
 *                      [--download PATH=FILE]... [--stdin] [--parallel]
 *                      [--timeout SEC] [--loop N] (-e 'SHELL CMD')... | -- ARGV...
 *   sandbox-driver cleanup [--state DIR]
 *   sandbox-driver doctor | caps
 *
 * `run` prints each execution's stdout and stderr as they arrive (with
 * --parallel, lines are prefixed "[N] "), reports "exec N: exit=X[ oom]" on
 * stderr, and exits with the last execution's code. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"
#include "backend/backend.h"
#include "workspace/workspace.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define MAX_EXECS 32

struct opts {
	const char *state, *id, *policy_file, *workspace, *image;
	const char *downloads[16];
	size_t n_downloads;
	char *cmds[MAX_EXECS];
	size_t n_cmds;
	char **argv;
	bool forward_stdin, parallel;
	int timeout, loop, uid;
};

struct run {
	const struct cr_backend *be;
	cr_sandbox *sb;
	uint32_t ids[MAX_EXECS];
	int codes[MAX_EXECS];
	bool done[MAX_EXECS];
	size_t n;
	bool parallel;
};

static struct run *current; /* the sandbox to terminate when giving up */

static void die(const char *what, cr_error *err)
{
	fprintf(stderr, "sandbox-driver: %s: %s\n", what, err ? err->msg : strerror(errno));
	if (current && current->sb) {
		cr_error *e2 = NULL;
		if (current->be->terminate(current->sb, &e2) < 0)
			fprintf(stderr, "sandbox-driver: terminate: %s\n", e2->msg);
		current->sb = NULL;
	}
	exit(125);
}

static cr_policy *load_policy(const char *file)
{
	if (!file)
		return cr_policy_new();
	cleanup_free char *text = NULL;
	size_t len = 0;
	cr_error *err = NULL;
	if (cr_read_file(file, 1 << 20, &text, &len, &err) < 0)
		die("read policy", err);
	cr_diags d = {0};
	cr_policy *p = NULL;
	if (cr_policy_from_yaml(text, len, file, &p, &d) < 0) {
		cr_diags_print(&d, stderr);
		exit(125);
	}
	cr_diags_clear(&d);
	return p;
}

static void upload_workspace(struct run *r, const char *dir)
{
	cr_error *err = NULL;
	int fd = memfd_create("workspace.tar", MFD_CLOEXEC);
	cr_workspace_limits lim = CR_WORKSPACE_DEFAULT_LIMITS;
	cr_workspace_stats st = {0};
	if (fd < 0 || cr_workspace_archive(dir, fd, &lim, &st, &err) < 0)
		die("archive the workspace", err);
	lseek(fd, 0, SEEK_SET);
	if (r->be->upload_archive(r->sb, fd, "/workspace", NULL, &err) < 0)
		die("upload the workspace", err);
	close(fd);
}

static void download(struct run *r, const char *spec)
{
	cleanup_free char *copy = cr_xstrdup(spec);
	char *eq = strchr(copy, '=');
	if (!eq)
		die("--download needs PATH=FILE", NULL);
	*eq = '\0';
	int fd = open(eq + 1, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	cr_error *err = NULL;
	if (fd < 0 || r->be->download_file(r->sb, copy, 64u << 20, fd, &err) < 0)
		die("download", err);
	close(fd);
}

static int start(struct run *r, char *const *argv)
{
	cr_exec_spec spec = {.argv = argv};
	cr_error *err = NULL;
	if (r->be->exec(r->sb, &spec, &r->ids[r->n], &err) < 0)
		die("exec", err);
	return (int)r->n++;
}

static int index_of(const struct run *r, uint32_t id)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->ids[i] == id)
			return (int)i;
	return -1;
}

static void print_output(const struct run *r, int idx, const cr_exec_event *ev)
{
	FILE *out = ev->type == CR_EVENT_STDOUT ? stdout : stderr;
	if (r->parallel && ev->len)
		fprintf(out, "[%d] ", idx);
	fwrite(ev->data, 1, ev->len, out);
	fflush(out);
}

static void on_event(struct run *r, const cr_exec_event *ev)
{
	int idx = index_of(r, ev->exec_id);
	if (idx < 0)
		return;
	if (ev->type == CR_EVENT_STDOUT || ev->type == CR_EVENT_STDERR)
		print_output(r, idx, ev);
	if (ev->type != CR_EVENT_EXIT)
		return;
	r->done[idx] = true;
	r->codes[idx] = ev->exit_code;
	fprintf(stderr, "exec %d: exit=%d%s%s%s\n", idx, ev->exit_code, ev->oom_killed ? " oom" : "",
		ev->message ? " message=" : "", ev->message ? ev->message : "");
}

static void forward_stdin(struct run *r, uint32_t id, bool *open_in)
{
	char buf[65536];
	ssize_t n = read(0, buf, sizeof(buf));
	cr_error *err = NULL;
	if (n > 0 && r->be->write_stdin(r->sb, id, buf, (size_t)n, &err) < 0)
		die("stdin", err);
	if (n <= 0) {
		*open_in = false;
		if (r->be->close_stdin(r->sb, id, &err) < 0)
			die("stdin", err);
	}
}

static bool all_done(const struct run *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (!r->done[i])
			return false;
	return true;
}

/* Pumps events until every started execution has exited (or the deadline). */
static void wait_all(struct run *r, bool stdin_open, time_t deadline)
{
	cr_error *err = NULL;
	while (!all_done(r)) {
		struct pollfd p[2] = {{.fd = r->be->event_fd(r->sb), .events = POLLIN},
				      {.fd = 0, .events = POLLIN}};
		if (deadline && time(NULL) >= deadline) {
			for (size_t i = 0; i < r->n; i++)
				if (!r->done[i])
					r->be->signal(r->sb, r->ids[i], SIGKILL, NULL);
			deadline = 0;
		}
		if (poll(p, stdin_open ? 2 : 1, 200) < 0 && errno != EINTR)
			die("poll", NULL);
		if (stdin_open && (p[1].revents & (POLLIN | POLLHUP)))
			forward_stdin(r, r->ids[r->n - 1], &stdin_open);
		cr_exec_event ev;
		int got;
		while ((got = r->be->next_event(r->sb, &ev, &err)) == 1)
			on_event(r, &ev);
		if (got < 0)
			die("events", err);
	}
}

static char **shell_argv(char *cmd)
{
	char **argv = cr_xcalloc(4, sizeof(char *));
	argv[0] = "/bin/sh";
	argv[1] = "-lc";
	argv[2] = cmd;
	return argv;
}

static void run_commands(struct run *r, const struct opts *o)
{
	time_t deadline = o->timeout ? time(NULL) + o->timeout : 0;
	if (o->argv) {
		start(r, o->argv);
		wait_all(r, o->forward_stdin, deadline);
		return;
	}
	for (size_t i = 0; i < o->n_cmds; i++) {
		cleanup_free char **argv = shell_argv(o->cmds[i]);
		start(r, argv);
		if (!o->parallel)
			wait_all(r, o->forward_stdin && i + 1 == o->n_cmds, deadline);
	}
	wait_all(r, false, deadline);
}

static int run_once(const struct opts *o, const cr_policy *policy, int round)
{
	struct run r = {.be = &cr_backend_netns, .parallel = o->parallel};
	char id[80];
	snprintf(id, sizeof(id), "%s%s%d", o->id, round ? "-" : "", round);
	if (!round)
		snprintf(id, sizeof(id), "%s", o->id);
	cr_sandbox_spec spec = {.sandbox_id = id,
				.policy = policy,
				.state_dir = o->state,
				.image_dir = o->image,
				.workload_uid = (uid_t)o->uid};
	cr_error *err = NULL;
	if (cr_backend_provision(r.be, &spec, 20000, &r.sb, &err) < 0)
		die("provision", err);
	current = &r;
	if (o->workspace)
		upload_workspace(&r, o->workspace);
	run_commands(&r, o);
	for (size_t i = 0; i < o->n_downloads; i++)
		download(&r, o->downloads[i]);
	cr_sandbox *sb = r.sb;
	r.sb = NULL;
	current = NULL;
	if (r.be->terminate(sb, &err) < 0)
		die("terminate", err);
	return r.n ? r.codes[r.n - 1] : 0;
}

static int parse_run(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"state", required_argument, NULL, 's'},
		{"id", required_argument, NULL, 'i'},
		{"workspace", required_argument, NULL, 'w'},
		{"download", required_argument, NULL, 'd'},
		{"stdin", no_argument, NULL, 'I'},
		{"parallel", no_argument, NULL, 'P'},
		{"timeout", required_argument, NULL, 't'},
		{"loop", required_argument, NULL, 'l'},
		{"image", required_argument, NULL, 'm'},
		{"uid", required_argument, NULL, 'u'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "+c:e:", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->state = optarg; break;
		case 'i': o->id = optarg; break;
		case 'c': o->policy_file = optarg; break;
		case 'w': o->workspace = optarg; break;
		case 'm': o->image = optarg; break;
		case 'u': o->uid = (int)strtol(optarg, NULL, 10); break;
		case 'I': o->forward_stdin = true; break;
		case 'P': o->parallel = true; break;
		case 't': o->timeout = (int)strtol(optarg, NULL, 10); break;
		case 'l': o->loop = (int)strtol(optarg, NULL, 10); break;
		case 'd':
			if (o->n_downloads < 16)
				o->downloads[o->n_downloads++] = optarg;
			break;
		case 'e':
			if (o->n_cmds < MAX_EXECS)
				o->cmds[o->n_cmds++] = optarg;
			break;
		default: return -1;
		}
	}
	if (optind < argc)
		o->argv = argv + optind;
	return o->argv || o->n_cmds || o->loop ? 0 : -1;
}

static int cmd_run(int argc, char **argv)
{
	struct opts o = {.state = "/var/lib/cleanroom-test", .id = "drv"};
	if (parse_run(argc, argv, &o) < 0) {
		fprintf(stderr, "usage: sandbox-driver run [options] (-e CMD)... | -- ARGV...\n");
		return 2;
	}
	cr_policy *policy = load_policy(o.policy_file);
	int code = 0;
	for (int i = 0; i < (o.loop ? o.loop : 1); i++)
		code = run_once(&o, policy, o.loop ? i + 1 : 0);
	cr_policy_free(policy);
	return code;
}

static int cmd_cleanup(int argc, char **argv)
{
	const char *state = argc > 2 && strcmp(argv[1], "--state") == 0 ? argv[2] : "/var/lib/cleanroom-test";
	cr_error *err = NULL;
	int n = cr_backend_netns.cleanup_leftovers(state, &err);
	if (n < 0)
		die("cleanup", err);
	printf("cleaned %d\n", n);
	return 0;
}

static int cmd_doctor(void)
{
	cr_checks c = {0};
	cr_backend_netns.doctor(&c);
	static const char *const st[] = {"pass", "warn", "fail"};
	for (size_t i = 0; i < c.n; i++)
		printf("%-5s %-16s %s%s%s\n", st[c.items[i].status], c.items[i].name, c.items[i].detail,
		       c.items[i].fix ? "  fix: " : "", c.items[i].fix ? c.items[i].fix : "");
	cr_checks_clear(&c);
	return 0;
}

static int cmd_caps(void)
{
	cr_backend_caps caps;
	cr_backend_netns.capabilities(&caps);
	printf("{\"backend_name\":\"%s\",\"backend_version\":\"%s\",\"capabilities\":{", caps.backend_name,
	       caps.backend_version);
	for (size_t i = 0; i < caps.n_capabilities; i++)
		printf("%s\"%s\":%s", i ? "," : "", caps.capabilities[i].key,
		       caps.capabilities[i].value ? "true" : "false");
	printf("}}\n");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fprintf(stderr, "usage: sandbox-driver run|cleanup|doctor|caps ...\n"), 2;
	const char *cmd = argv[1];
	if (strcmp(cmd, "__agent") == 0)
		return cr_backend_agent_main(argc - 1, argv + 1);
	if (strcmp(cmd, "__extract") == 0)
		return cmd_extract(argc - 1, argv + 1);
	if (strcmp(cmd, "__read-file") == 0)
		return cmd_read_file(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "cleanup") == 0)
		return cmd_cleanup(argc - 1, argv + 1);
	if (strcmp(cmd, "doctor") == 0)
		return cmd_doctor();
	if (strcmp(cmd, "caps") == 0)
		return cmd_caps();
	fprintf(stderr, "sandbox-driver: unknown command '%s'\n", cmd);
	return 2;
}
