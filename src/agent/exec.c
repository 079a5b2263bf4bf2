/* SPDX-License-Identifier: Apache-2.0 */
/* exec.c -- starting one execution inside the sandbox.
 *
 * The agent forks; the child becomes a session leader (so the execution's
 * process group is its pid and SIGNAL reaches all of it), gets its standard
 * streams from three pipes or from a pty slave that becomes its controlling
 * terminal, drops to the requested uid/gid, changes directory and execs.
 * Whatever fails before execve is reported through a close-on-exec status
 * pipe (stage + errno), so the agent can answer ERROR instead of leaving the
 * host to guess from an exit code 127. */
#include "agent/internal.h"
#include "workspace/workspace.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

enum stage { ST_SETSID, ST_TTY, ST_STDIO, ST_IDS, ST_CHDIR, ST_EXEC, ST__COUNT };

static const char *const stage_what[ST__COUNT] = {
	[ST_SETSID] = "create a session",       [ST_TTY] = "acquire the controlling terminal",
	[ST_STDIO] = "set up standard streams", [ST_IDS] = "switch to the requested uid/gid",
	[ST_CHDIR] = "change directory",        [ST_EXEC] = "execute",
};

typedef struct start_status {
	int stage;
	int err;
} start_status;

/* Everything the child needs, prepared before fork. */
typedef struct child_plan {
	const cr_agent_exec_req *req;
	char **argv; /* what to execute: req->argv, or the internal command line */
	int exe_fd;
	int status_fd;
	int stdio[3]; /* child ends: stdin, stdout, stderr (the same pty slave three times) */
	bool tty;
} child_plan;

static _Noreturn void child_fail(const child_plan *p, int stage)
{
	start_status s = {stage, errno};
	ssize_t n = write(p->status_fd, &s, sizeof(s));
	(void)n;
	_exit(127);
}

static void reset_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	for (int s = 1; s < NSIG; s++)
		sigaction(s, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP, glibc's own */
}

/* Marks every fd above 2 close-on-exec: the status pipe must stay open until
 * execve, and the exe fd must survive until execveat has loaded it. */
static void cloexec_others(void)
{
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return;
	struct rlimit rl;
	rlim_t max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536 ? rl.rlim_cur : 65536;
	for (int fd = 3; fd < (int)max; fd++)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static int switch_ids(const cr_agent_exec_req *r)
{
	if (r->uid == getuid() && r->gid == getgid())
		return 0;
	/* In a user namespace setgroups may be denied; that is harmless only
	 * when there are no supplementary groups to drop. */
	if (setgroups(0, NULL) < 0 && !(errno == EPERM && getgroups(0, NULL) == 0))
		return -1;
	if (r->gid != getgid() && setresgid(r->gid, r->gid, r->gid) < 0)
		return -1;
	if (r->uid != getuid() && setresuid(r->uid, r->uid, r->uid) < 0)
		return -1;
	return 0;
}

/* execvpe searches the PATH of the calling process, so give the child the
 * request's PATH (or the default) before it looks. */
static void use_request_path(char *const *env)
{
	const char *path = DEFAULT_PATH;
	for (size_t i = 0; env[i]; i++)
		if (strncmp(env[i], "PATH=", 5) == 0)
			path = env[i] + 5;
	setenv("PATH", path, 1);
}

/* Internal commands (workspace upload and download) run in the forked child
 * itself rather than through exec: they need nothing from the sandbox's root,
 * which may be an image without cleanroom's libraries. */
static const struct {
	const char *name;
	int (*main)(int argc, char **argv);
} internal_commands[] = {
	{"extract", cmd_extract},
	{"read-file", cmd_read_file},
};

static void run_internal(const child_plan *p)
{
	for (size_t i = 0; i < sizeof(internal_commands) / sizeof(internal_commands[0]); i++) {
		if (strcmp(internal_commands[i].name, p->req->internal) != 0)
			continue;
		close(p->status_fd); /* "started": nothing will be exec'd */
		int argc = 0;
		while (p->argv[argc + 1])
			argc++;
		int rc = internal_commands[i].main(argc, p->argv + 1);
		fflush(NULL);
		_exit(rc);
	}
	errno = ENOENT;
}

static _Noreturn void child_main(const child_plan *p)
{
	reset_signals();
	if (setsid() < 0)
		child_fail(p, ST_SETSID);
	if (p->tty && ioctl(p->stdio[0], TIOCSCTTY, 0) < 0)
		child_fail(p, ST_TTY);
	for (int i = 0; i < 3; i++)
		if (dup2(p->stdio[i], i) < 0)
			child_fail(p, ST_STDIO);
	if (switch_ids(p->req) < 0)
		child_fail(p, ST_IDS);
	if (chdir(p->req->cwd) < 0)
		child_fail(p, ST_CHDIR);
	cloexec_others();
	if (p->req->internal)
		run_internal(p);
	else {
		use_request_path(p->req->env);
		execvpe(p->argv[0], p->argv, p->req->env);
	}
	child_fail(p, ST_EXEC);
}

/* ["cleanroom", "__<internal>", args..., NULL]; the strings are borrowed. */
static char **internal_argv(const cr_agent_exec_req *r, char *verb)
{
	size_t n = 0;
	while (r->argv[n])
		n++;
	char **v = cr_xcalloc(n + 3, sizeof(*v));
	v[0] = (char *)"cleanroom";
	v[1] = verb;
	memcpy(v + 2, r->argv, n * sizeof(*v));
	return v;
}

/* Opens a pty pair sized cols x rows; both ends close-on-exec. */
static int open_pty(const cr_agent_exec_req *r, int *master_out, int *slave_out, cr_error **err)
{
	cleanup_close int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "open /dev/ptmx");
	if (grantpt(master) < 0 || unlockpt(master) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "unlock pty");
	struct winsize ws = {.ws_row = r->rows, .ws_col = r->cols};
	if (ioctl(master, TIOCSWINSZ, &ws) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "set pty window size");
	/* TIOCGPTPEER needs no path, so a /dev/pts mounted elsewhere cannot confuse it. */
	int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		char name[128];
		if (ptsname_r(master, name, sizeof(name)) != 0)
			return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "name pty slave");
		slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (slave < 0)
			return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "open '%s'", name);
	}
	*slave_out = slave;
	*master_out = cr_steal_fd(&master);
	return 0;
}

static void close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	fds[0] = fds[1] = -1;
}

/* The agent's ends in x, the child's in plan->stdio. */
static int make_stdio(const cr_agent_exec_req *r, agent_exec *x, child_plan *plan, cr_error **err)
{
	if (r->tty) {
		int master = -1, slave = -1;
		if (open_pty(r, &master, &slave, err) < 0)
			return -1;
		x->out_fd = master;
		x->in_fd = fcntl(master, F_DUPFD_CLOEXEC, 3);
		plan->stdio[0] = plan->stdio[1] = plan->stdio[2] = slave;
		if (x->in_fd < 0)
			return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED,
					     "duplicate pty master");
		return 0;
	}
	int fds[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
	for (int i = 0; i < 3; i++) {
		if (pipe2(fds[i], O_CLOEXEC) < 0) {
			int saved = errno;
			for (int k = 0; k < i; k++)
				close_pair(fds[k]);
			return cr_error_make(err, saved, CR_REASON_RUNTIME_LAUNCH_FAILED, "create pipe");
		}
	}
	x->in_fd = fds[0][1];
	plan->stdio[0] = fds[0][0];
	x->out_fd = fds[1][0];
	plan->stdio[1] = fds[1][1];
	x->err_fd = fds[2][0];
	plan->stdio[2] = fds[2][1];
	return 0;
}

static void close_child_ends(child_plan *p)
{
	for (int i = 0; i < 3; i++) {
		if (p->stdio[i] >= 0 && (i == 0 || p->stdio[i] != p->stdio[i - 1]))
			close(p->stdio[i]);
	}
	p->stdio[0] = p->stdio[1] = p->stdio[2] = -1;
}

static void set_nonblock(int fd)
{
	if (fd >= 0)
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Reads the child's start status: 0 once execve succeeded (the pipe closed
 * empty), -1 with *err when the child reported a failure. */
static int await_start(const cr_agent_exec_req *r, pid_t pid, int status_rd, cr_error **err)
{
	start_status s;
	ssize_t n;
	do
		n = read(status_rd, &s, sizeof(s));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	reap(pid);
	const char *what = n == (ssize_t)sizeof(s) && s.stage >= 0 && s.stage < ST__COUNT
				   ? stage_what[s.stage]
				   : "start";
	int status = n == (ssize_t)sizeof(s) ? s.err : EIO;
	const char *name = r->internal ? r->internal : r->argv[0];
	if (n == (ssize_t)sizeof(s) && s.stage == ST_CHDIR)
		return cr_error_make(err, status, CR_REASON_RUNTIME_LAUNCH_FAILED, "start '%s': %s to '%s'",
				     name, what, r->cwd);
	return cr_error_make(err, status, CR_REASON_RUNTIME_LAUNCH_FAILED, "start '%s': %s", name, what);
}

static int fork_child(child_plan *plan, pid_t *pid_out, int *status_rd, cr_error **err)
{
	int sp[2];
	if (pipe2(sp, O_CLOEXEC) < 0)
		return cr_error_make(err, errno, CR_REASON_RUNTIME_LAUNCH_FAILED, "create status pipe");
	plan->status_fd = sp[1];
	pid_t pid = fork();
	if (pid == 0)
		child_main(plan);
	int saved = errno;
	close(sp[1]);
	if (pid < 0) {
		close(sp[0]);
		return cr_error_make(err, saved, CR_REASON_RUNTIME_LAUNCH_FAILED, "fork");
	}
	*pid_out = pid;
	*status_rd = sp[0];
	return 0;
}

int agent_spawn(const cr_agent_exec_req *req, int exe_fd, agent_exec *x, cr_error **err)
{
	child_plan plan = {
		.req = req, .exe_fd = exe_fd, .status_fd = -1, .stdio = {-1, -1, -1}, .tty = req->tty};
	cleanup_free char *verb = req->internal ? cr_asprintf("__%s", req->internal) : NULL;
	cleanup_free char **iargv = verb ? internal_argv(req, verb) : NULL;
	plan.argv = iargv ? iargv : req->argv;
	x->tty = req->tty;
	x->in_fd = x->out_fd = x->err_fd = -1;
	if (make_stdio(req, x, &plan, err) < 0) {
		close_child_ends(&plan);
		return -1;
	}
	pid_t pid = -1;
	int status_rd = -1;
	int rc = fork_child(&plan, &pid, &status_rd, err);
	close_child_ends(&plan); /* so that EOF/EIO reach us when the child's side closes */
	if (rc < 0)
		return -1;
	rc = await_start(req, pid, status_rd, err);
	close(status_rd);
	if (rc < 0)
		return -1;
	x->pid = pid;
	set_nonblock(x->in_fd);
	set_nonblock(x->out_fd);
	set_nonblock(x->err_fd);
	return 0;
}
