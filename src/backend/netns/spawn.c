/* SPDX-License-Identifier: Apache-2.0 */
/* spawn.c -- the sandbox's first process (see spawn.h).
 *
 * Sequence, with the owner (O) and the child (C):
 *   O: socketpair, pipes "go" and "err", O_PATH fd of its own executable;
 *      clone3(NEWUSER|NEWNS|NEWPID|NEWNET|NEWIPC|NEWUTS).
 *   C: PDEATHSIG=SIGKILL, then waits for "go".
 *   O: records the pid, writes uid_map/gid_map, attaches C to the cgroups,
 *      sends "go".
 *   C: unshare(NEWCGROUP) (so its cgroup root is the sandbox's cgroup),
 *      setsid, hostname, builds the root filesystem, then
 *      execveat(its own binary, "__agent --pivot") from inside the new root.
 *   A (the agent, now loaded with the host's libraries): pivot_root,
 *      capabilities, no_new_privs, Landlock, seccomp, closes "err", HELLO.
 *   O: returns; the backend watches the agent socket without blocking:
 *      HELLO means ready, end of file means the child failed and "err"
 *      holds its message (netns.c, provision_step).
 * The child and the agent report any failure as one line on "err" and exit
 * 127. Loading the agent before the pivot is what lets an image without
 * cleanroom's libraries be the root. */
#include "backend/netns/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/protocol.h"
#include "backend/netns/harden.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define NAMESPACES (CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS)

struct fds {
	int ctl[2], go[2], errp[2], exe;
};

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void close_all(struct fds *f)
{
	close_fd(&f->ctl[0]), close_fd(&f->ctl[1]), close_fd(&f->go[0]), close_fd(&f->go[1]);
	close_fd(&f->errp[0]), close_fd(&f->errp[1]), close_fd(&f->exe);
}

/* ---- child ---- */

__attribute__((noreturn)) static void child_fail(int errfd, const cr_error *e, const char *what)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s", e ? e->msg : what);
	if (n > 0 && write(errfd, line, (size_t)n) < 0)
		_exit(126);
	_exit(127);
}

static int child_identity(cr_error **err)
{
	/* Become uid/gid 0 of the new user namespace: the credentials inherited
	 * from the owner (host root) are not in the map. */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "become root of the user namespace");
	if (setgroups(0, NULL) < 0 && errno != EPERM)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "drop supplementary groups");
	if (unshare(CLONE_NEWCGROUP) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "unshare cgroup namespace");
	if (setsid() < 0 || sethostname("cleanroom", 9) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "set session or hostname");
	return 0;
}

/* Puts the agent's two descriptors at 3 and 4 and the error pipe at 5, and
 * closes everything else. */
static int child_fds(struct fds *f, cr_error **err)
{
	/* Move the three out of the way first, so that no dup2 below can
	 * overwrite one of the others. */
	int ctl = fcntl(f->ctl[1], F_DUPFD_CLOEXEC, 10), exe = fcntl(f->exe, F_DUPFD_CLOEXEC, 10);
	int errfd = fcntl(f->errp[1], F_DUPFD_CLOEXEC, 10);
	if (ctl < 0 || exe < 0 || errfd < 0 || dup2(ctl, CR_AGENT_CTL_FD) < 0 ||
	    dup2(exe, CR_AGENT_EXE_FD) < 0 || dup2(errfd, 5) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "dup2");
	f->errp[1] = 5;
	if (fcntl(5, F_SETFD, FD_CLOEXEC) < 0 || syscall(SYS_close_range, 6, ~0U, 0) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "close descriptors");
	return 0;
}

__attribute__((noreturn)) static void child_main(const cr_spawn_spec *s, struct fds *f)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	char go;
	close_fd(&f->go[1]);
	if (read(f->go[0], &go, 1) != 1)
		_exit(1); /* the owner went away before the sandbox was set up */
	cr_error *err = NULL;
	if (child_identity(&err) < 0 || cr_rootfs_build(s->rootfs, &err) < 0 || child_fds(f, &err) < 0)
		child_fail(f->errp[1], err, "setup failed");
	if (chdir(s->rootfs->root_dir) < 0) {
		cr_error_make(&err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "chdir '%s'",
			      s->rootfs->root_dir);
		child_fail(5, err, "setup failed");
	}
	/* The agent pivots into "." and hardens itself once it is loaded. */
	char *argv[] = {"cleanroom", "__agent", "--pivot", NULL};
	char *envp[] = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
			NULL};
	syscall(SYS_execveat, CR_AGENT_EXE_FD, "", argv, envp, AT_EMPTY_PATH);
	cr_error_make(&err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "execute the agent");
	child_fail(5, err, "exec failed");
}

/* ---- owner ---- */

static int write_file(pid_t pid, const char *name, const char *text, cr_error **err)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(text);
	if (fd < 0 || write(fd, text, n) != (ssize_t)n)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "write %s", path);
	return 0;
}

static int map_ids(const cr_spawn_spec *s, pid_t pid, cr_error **err)
{
	char map[64];
	if (s->map_range) {
		snprintf(map, sizeof(map), "0 %u %u\n", (unsigned)s->host_uid_base, CR_NETNS_UID_RANGE);
		return write_file(pid, "uid_map", map, err) < 0 || write_file(pid, "gid_map", map, err) < 0
			       ? -1
			       : 0;
	}
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)geteuid());
	if (write_file(pid, "uid_map", map, err) < 0 || write_file(pid, "setgroups", "deny", err) < 0)
		return -1;
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)getegid());
	return write_file(pid, "gid_map", map, err);
}

/* Reads the child's error line without blocking; "" when the exec
 * succeeded (EOF) or nothing was written. */
char *cr_netns_spawn_error(int fd)
{
	char buf[1024];
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) >= sizeof(buf) - 1)
			break;
	}
	buf[len] = '\0';
	return cr_xstrdup(buf);
}

static int owner_setup(const cr_spawn_spec *s, struct fds *f, pid_t pid, cr_error **err)
{
	if (cr_record_process(s->record, pid, err) < 0 || map_ids(s, pid, err) < 0)
		return -1;
	if (s->cgroup && cr_cgroup_attach(s->cgroup, pid, err) < 0)
		return -1;
	if (write(f->go[1], "g", 1) != 1)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "start the sandbox");
	close_fd(&f->go[1]);
	close_fd(&f->errp[1]);
	close_fd(&f->ctl[1]);
	if (fcntl(f->errp[0], F_SETFL, O_NONBLOCK) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "set up the error pipe");
	return 0;
}

static int open_fds(struct fds *f, cr_error **err)
{
	*f = (struct fds){{-1, -1}, {-1, -1}, {-1, -1}, -1};
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->ctl) < 0 || pipe2(f->go, O_CLOEXEC) < 0 ||
	    pipe2(f->errp, O_CLOEXEC) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "create the agent channel");
	f->exe = open("/proc/self/exe", O_PATH | O_CLOEXEC);
	if (f->exe < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "open /proc/self/exe");
	return 0;
}

int cr_netns_spawn_start(const cr_spawn_spec *s, cr_spawned *out, cr_error **err)
{
	struct fds f;
	if (open_fds(&f, err) < 0)
		return close_all(&f), -1;
	int pidfd = -1;
	struct clone_args args = {.flags = NAMESPACES | CLONE_PIDFD,
				  .pidfd = (uint64_t)(uintptr_t)&pidfd,
				  .exit_signal = SIGCHLD};
	long pid = syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "create the sandbox's namespaces");
		return close_all(&f), -1;
	}
	if (pid == 0)
		child_main(s, &f);
	if (owner_setup(s, &f, (pid_t)pid, err) < 0) {
		kill((pid_t)pid, SIGKILL);
		waitpid((pid_t)pid, NULL, 0);
		close(pidfd);
		return close_all(&f), -1;
	}
	*out = (cr_spawned){.pid = (pid_t)pid, .pidfd = pidfd, .ctl_fd = f.ctl[0], .err_fd = f.errp[0]};
	f.ctl[0] = f.errp[0] = -1;
	close_all(&f);
	return 0;
}
