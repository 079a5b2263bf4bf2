/* SPDX-License-Identifier: Apache-2.0 */
/* harden-run.c -- test-only launcher that runs one command under the netns
 * backend's process hardening without the rest of the backend, so that the
 * integration tests can show each wall on its own: a cgroup with the given
 * limits (cleanroom-test/<pid>), a new user namespace (root inside, host uid
 * 100000) with its own mount namespace, the capability bounding set,
 * no_new_privs, Landlock and the seccomp filter. The --no-* options switch a
 * layer off, for the control runs that prove a failure is that layer's.
 *
 *   harden-run [--memory BYTES[K|M|G]] [--pids N] [--cpus MILLI] [--writable DIR]...
 *              [--no-landlock] [--no-seccomp] [--no-caps] [--verbose] -- CMD ARGS...
 *
 * Exits with the command's status (128+signal when killed, like a shell);
 * prints "oom_kills=N" on stderr when the cgroup saw OOM kills; removes the
 * cgroup before exiting. Must run as root. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/netns/cgroup.h"
#include "backend/netns/harden.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define HOST_UID_BASE "100000"
#define MAX_WRITABLE  32

typedef struct options {
	cr_cgroup_limits limits;
	const char *writable[MAX_WRITABLE + 1];
	size_t n_writable;
	bool landlock, seccomp, caps, verbose;
	char **argv;
} options;

static void usage(void)
{
	fprintf(stderr,
		"usage: harden-run [--memory BYTES[K|M|G]] [--pids N] [--cpus MILLI] [--writable DIR]...\n"
		"                  [--no-landlock] [--no-seccomp] [--no-caps] [--verbose] -- CMD ARGS...\n");
	exit(2);
}

static long long parse_size(const char *s)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v <= 0)
		usage();
	long long mult = 1;
	switch (*end) {
	case '\0': break;
	case 'K': mult = 1LL << 10; break;
	case 'M': mult = 1LL << 20; break;
	case 'G': mult = 1LL << 30; break;
	default: usage();
	}
	if (*end && end[1])
		usage();
	return v * mult;
}

static void parse_args(int argc, char **argv, options *o)
{
	*o = (options){.landlock = true, .seccomp = true, .caps = true};
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;
		if (strcmp(a, "--memory") == 0 && has_value)
			o->limits.memory_bytes = parse_size(argv[++i]);
		else if (strcmp(a, "--pids") == 0 && has_value)
			o->limits.pids = parse_size(argv[++i]);
		else if (strcmp(a, "--cpus") == 0 && has_value)
			o->limits.millicpus = parse_size(argv[++i]);
		else if (strcmp(a, "--writable") == 0 && has_value && o->n_writable < MAX_WRITABLE)
			o->writable[o->n_writable++] = argv[++i];
		else if (strcmp(a, "--no-landlock") == 0)
			o->landlock = false;
		else if (strcmp(a, "--no-seccomp") == 0)
			o->seccomp = false;
		else if (strcmp(a, "--no-caps") == 0)
			o->caps = false;
		else if (strcmp(a, "--verbose") == 0)
			o->verbose = true;
		else
			usage();
	}
	if (i + 1 >= argc)
		usage();
	o->argv = argv + i + 1;
}

static void die_err(const char *what, cr_error *err)
{
	fprintf(stderr, "harden-run: %s: %s\n", what, err ? err->msg : "failed");
	_exit(126);
}

static void die_errno(const char *what)
{
	fprintf(stderr, "harden-run: %s: %s\n", what, strerror(errno));
	_exit(126);
}

/* Inside the new user namespace once the parent has written the maps:
 * become root of the namespace (host uid 100000) without the host's
 * supplementary groups, then harden in the order the backend uses. */
static void harden_and_exec(const options *o)
{
	cr_error *err = NULL;
	if (setresgid(0, 0, 0) < 0 || setgroups(0, NULL) < 0 || setresuid(0, 0, 0) < 0)
		die_errno("become root of the user namespace");
	if (o->caps && cr_harden_capabilities(&err) < 0)
		die_err("capabilities", err);
	if (cr_harden_no_new_privs(&err) < 0)
		die_err("no_new_privs", err);
	if (o->landlock) {
		int rc = cr_harden_landlock(o->writable, &err);
		if (rc < 0)
			die_err("landlock", err);
		if (rc == 0 && o->verbose)
			fprintf(stderr, "harden-run: landlock unavailable\n");
	}
	if (o->seccomp && cr_harden_seccomp(&err) < 0)
		die_err("seccomp", err);
	execvp(o->argv[0], o->argv);
	fprintf(stderr, "harden-run: exec '%s': %s\n", o->argv[0], strerror(errno));
	_exit(127);
}

static void child(const options *o, const cr_cgroup *cg, int ready_fd, int go_fd)
{
	cr_error *err = NULL;
	char byte = 0;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (cr_cgroup_attach(cg, getpid(), &err) < 0)
		die_err("attach to cgroup", err);
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
		die_errno("unshare");
	if (write(ready_fd, "r", 1) != 1)
		die_errno("signal parent");
	if (read(go_fd, &byte, 1) != 1)
		_exit(126); /* the parent failed and said why */
	close(ready_fd);
	close(go_fd);
	harden_and_exec(o);
}

static int write_proc_file(pid_t pid, const char *file, const char *text)
{
	cleanup_free char *path = cr_asprintf("/proc/%ld/%s", (long)pid, file);
	FILE *f = fopen(path, "we");
	if (!f)
		return -1;
	int rc = fputs(text, f) < 0 ? -1 : 0;
	if (fclose(f) != 0)
		rc = -1;
	if (rc < 0)
		fprintf(stderr, "harden-run: write %s: %s\n", path, strerror(errno));
	return rc;
}

/* Maps root of the child's namespace (and 65535 more ids) to host 100000+. */
static int map_ids(pid_t pid)
{
	const char *map = "0 " HOST_UID_BASE " 65536\n";
	if (write_proc_file(pid, "uid_map", map) < 0 || write_proc_file(pid, "gid_map", map) < 0)
		return -1;
	return 0;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}

static pid_t start_child(const options *o, const cr_cgroup *cg)
{
	int ready[2], go[2];
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0)
		die_errno("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		child(o, cg, ready[1], go[0]);
	}
	close(ready[1]);
	close(go[0]);
	char byte;
	if (read(ready[0], &byte, 1) == 1 && map_ids(pid) == 0)
		(void)!write(go[1], "g", 1);
	close(ready[0]);
	close(go[1]);
	return pid;
}

static cr_cgroup *make_cgroup(const options *o)
{
	cr_error *err = NULL;
	cr_cgroup_layout layout;
	if (cr_cgroup_detect(&layout, &err) < 0)
		die_err("detect cgroups", err);
	cleanup_free char *name = cr_asprintf("cleanroom-test/%ld", (long)getpid());
	cr_cgroup *cg = NULL;
	if (cr_cgroup_create(&layout, name, &o->limits, &cg, &err) < 0)
		die_err("create cgroup", err);
	if (o->verbose) {
		cleanup_free char *desc = cr_cgroup_describe(&layout);
		fprintf(stderr, "harden-run: cgroups %s\n", desc);
		for (size_t i = 0; i < cg->n_dirs; i++)
			fprintf(stderr, "harden-run: cgroup %s\n", cg->all_dirs[i]);
	}
	cr_cgroup_layout_clear(&layout);
	return cg;
}

int main(int argc, char **argv)
{
	options o;
	parse_args(argc, argv, &o);
	if (geteuid() != 0) {
		fprintf(stderr, "harden-run: must run as root (cgroups, uid maps)\n");
		return 2;
	}
	cr_cgroup *cg = make_cgroup(&o);
	pid_t pid = start_child(&o, cg);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	uint64_t ooms = cr_cgroup_oom_kills(cg);
	if (ooms > 0)
		fprintf(stderr, "oom_kills=%llu\n", (unsigned long long)ooms);
	int rc = exit_code(status);
	for (size_t i = 0; i < cg->n_dirs; i++) {
		cr_error *err = NULL;
		if (cr_cgroup_remove_dir(cg->all_dirs[i], &err) < 0) {
			fprintf(stderr, "harden-run: %s\n", err->msg);
			cr_error_free(err);
			rc = rc ? rc : 1;
		}
	}
	cr_cgroup_free(cg);
	return rc;
}
