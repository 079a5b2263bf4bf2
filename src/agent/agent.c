/* SPDX-License-Identifier: Apache-2.0 */
/* agent.c -- the sandbox agent's event loop: PID 1 of a sandbox.
 *
 * One thread and one poll() over the control channel, a signalfd for
 * SIGCHLD and every execution's output (and, while input is queued, stdin)
 * descriptors. Frames from the host are dispatched through a table; output
 * is relayed as it arrives (relay.c); SIGCHLD reaps every child, since
 * orphans of the whole sandbox land on PID 1, and turns the end of an
 * execution's main process into its final frames. Writes to the control
 * channel block: the host is expected to keep reading, and a host that went
 * away (EPIPE) ends the agent quietly. docs/internals/agent-protocol.md is
 * the specification. */
#include "agent/agent.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "agent/internal.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

/* ---- sending ---- */

void agent_send(agent *a, uint8_t type, uint32_t exec_id, const void *payload, size_t len)
{
	if (a->gone || a->failed)
		return;
	a->frame.len = 0; /* reuse the allocation */
	cleanup_error cr_error *err = NULL;
	if (cr_agent_encode(&a->frame, type, exec_id, payload, len) < 0) {
		fprintf(stderr, "cleanroom agent: encode %s frame: %s\n", cr_agent_type_name(type),
			strerror(errno));
		a->failed = true;
		return;
	}
	if (cr_agent_write_all(a->ctl_fd, a->frame.data, a->frame.len, &err) == 0)
		return;
	if (err->status == EPIPE || err->status == ECONNRESET)
		a->gone = true;
	else {
		fprintf(stderr, "cleanroom agent: %s\n", err->msg);
		a->failed = true;
	}
}

void agent_send_json(agent *a, uint8_t type, uint32_t exec_id, json_t *payload)
{
	cleanup_free char *text = payload ? json_dumps(payload, JSON_COMPACT) : NULL;
	json_decref(payload);
	if (!text) {
		fprintf(stderr, "cleanroom agent: cannot encode %s payload\n", cr_agent_type_name(type));
		a->failed = true;
		return;
	}
	agent_send(a, type, exec_id, text, strlen(text));
}

void agent_send_error(agent *a, uint32_t exec_id, const char *message)
{
	agent_send_json(a, CR_AGENT_ERROR, exec_id, json_pack("{s:s}", "message", message));
}

/* ---- executions ---- */

static agent_exec *find_exec(agent *a, uint32_t id)
{
	for (agent_exec *x = a->execs; x; x = x->next)
		if (x->id == id)
			return x;
	return NULL;
}

static void unlink_exec(agent *a, agent_exec *gone)
{
	for (agent_exec **pp = &a->execs; *pp; pp = &(*pp)->next) {
		if (*pp == gone) {
			*pp = gone->next;
			a->n_execs--;
			return;
		}
	}
}

static void finish_exec(agent *a, agent_exec *x, int wstatus)
{
	relay_finish(a, x, wstatus);
	unlink_exec(a, x);
	agent_exec_free(x);
}

/* An EXEC that will not run: ERROR then EXIT 127, so that every accepted
 * exec_id still ends with exactly one EXIT. */
static void start_failed(agent *a, uint32_t id, const char *message)
{
	agent_send_error(a, id, message);
	agent_send_json(a, CR_AGENT_EXIT, id, json_pack("{s:i}", "code", 127));
}

static bool stdin_backlogged(const agent *a)
{
	for (const agent_exec *x = a->execs; x; x = x->next)
		if (x->pending.len - x->pending_off >= AGENT_STDIN_WINDOW)
			return true;
	return false;
}

/* ---- frame handlers ---- */

typedef int (*frame_handler)(agent *a, const cr_agent_frame *f, agent_exec *x, cr_error **err);

static int start_exec(agent *a, uint32_t id, const cr_agent_exec_req *req)
{
	cleanup_error cr_error *err = NULL;
	if (a->n_execs >= AGENT_MAX_EXECS) {
		start_failed(a, id, "too many executions running in this sandbox");
		return 0;
	}
	agent_exec *x = cr_xcalloc(1, sizeof(*x));
	x->id = id;
	cr_buf_init(&x->pending, AGENT_STDIN_WINDOW + CR_AGENT_MAX_DATA);
	if (agent_spawn(req, a->exe_fd, x, &err) < 0) {
		agent_exec_free(x);
		start_failed(a, id, err->msg);
		return 0;
	}
	x->next = a->execs;
	a->execs = x;
	a->n_execs++;
	agent_send_json(a, CR_AGENT_STARTED, id, json_pack("{s:i}", "pid", (int)x->pid));
	return 0;
}

static int on_exec(agent *a, const cr_agent_frame *f, agent_exec *x, cr_error **err)
{
	(void)err;
	if (f->exec_id == 0 || x) {
		char msg[96];
		snprintf(msg, sizeof(msg), "EXEC: exec_id %u is %s", f->exec_id,
			 x ? "already in use" : "zero");
		agent_send_error(a, 0, msg);
		return 0;
	}
	cleanup_error cr_error *perr = NULL;
	json_t *j = cr_agent_frame_json(f, &perr);
	cr_agent_exec_req req = {0};
	if (!j || cr_agent_exec_req_from_json(j, &req, &perr) < 0) {
		json_decref(j);
		start_failed(a, f->exec_id, perr->msg);
		return 0;
	}
	json_decref(j);
	start_exec(a, f->exec_id, &req);
	cr_agent_exec_req_clear(&req);
	return 0;
}

static int on_stdin(agent *a, const cr_agent_frame *f, agent_exec *x, cr_error **err)
{
	if (f->len > CR_AGENT_MAX_DATA)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "STDIN frame of %zu bytes (at most %u)",
				     f->len, CR_AGENT_MAX_DATA);
	if (x)
		relay_stdin(a, x, f->payload, f->len);
	return 0;
}

static int on_stdin_eof(agent *a, const cr_agent_frame *f, agent_exec *x, cr_error **err)
{
	(void)a, (void)f, (void)err;
	if (x) {
		x->stdin_eof = true;
		relay_flush_stdin(x);
	}
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static int on_resize(agent *a, const cr_agent_frame *f, agent_exec *x, cr_error **err)
{
	(void)a, (void)err;
	if (!x || !x->tty || x->in_fd < 0)
		return 0;
	struct winsize ws = {
		.ws_col = (unsigned short)(f->payload[0] << 8 | f->payload[1]),
		.ws_row = (unsigned short)(f->payload[2] << 8 | f->payload[3]),
	};
	ioctl(x->in_fd, TIOCSWINSZ, &ws); /* a pty whose slave is gone has no size to set */
	return 0;
}

static int on_signal(agent *a, const cr_agent_frame *f, agent_exec *x, cr_error **err)
{
	(void)err;
	uint32_t signo = be32(f->payload);
	if (signo == 0 || signo >= (uint32_t)NSIG) {
		char msg[64];
		snprintf(msg, sizeof(msg), "SIGNAL: %u is not a signal number", signo);
		agent_send_error(a, 0, msg);
		return 0;
	}
	if (x && kill(-x->pid, (int)signo) < 0 && errno == ESRCH)
		kill(x->pid, (int)signo);
	return 0;
}

static int on_shutdown(agent *a, const cr_agent_frame *f, agent_exec *x, cr_error **err)
{
	(void)f, (void)x, (void)err;
	a->shutdown = true;
	return 0;
}

static const struct {
	uint8_t type;
	bool per_exec;   /* needs a non-zero exec_id */
	int payload_len; /* exact length, or -1 for any */
	frame_handler fn;
} handlers[] = {
	{CR_AGENT_EXEC, true, -1, on_exec},          {CR_AGENT_STDIN, true, -1, on_stdin},
	{CR_AGENT_STDIN_EOF, true, 0, on_stdin_eof}, {CR_AGENT_RESIZE, true, 4, on_resize},
	{CR_AGENT_SIGNAL, true, 4, on_signal},       {CR_AGENT_SHUTDOWN, false, 0, on_shutdown},
};

static int dispatch(agent *a, const cr_agent_frame *f, cr_error **err)
{
	const char *name = cr_agent_type_name(f->type);
	for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
		if (handlers[i].type != f->type)
			continue;
		if (handlers[i].payload_len >= 0 && f->len != (size_t)handlers[i].payload_len)
			return cr_error_make(err, 0, CR_REASON_INTERNAL,
					     "%s frame with a %zu-byte payload (expected %d)", name, f->len,
					     handlers[i].payload_len);
		if (!handlers[i].per_exec && f->exec_id != 0)
			return cr_error_make(err, 0, CR_REASON_INTERNAL, "%s frame with exec_id %u", name,
					     f->exec_id);
		agent_exec *x = f->exec_id ? find_exec(a, f->exec_id) : NULL;
		return handlers[i].fn(a, f, x, err);
	}
	return cr_error_make(err, 0, CR_REASON_INTERNAL, "%s frame sent to the agent", name);
}

/* Handles every complete frame the decoder holds, unless stdin backpressure
 * or the end of the agent says to stop. Returns -1 on a protocol error. */
static int process_frames(agent *a, cr_error **err)
{
	while (!a->shutdown && !a->gone && !a->failed && !stdin_backlogged(a)) {
		cr_agent_frame f;
		int rc = cr_agent_decoder_next(&a->dec, &f, err);
		if (rc <= 0)
			return rc;
		if (dispatch(a, &f, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- loop ---- */

static void add_poll(agent *a, size_t *n, int fd, short events, agent_exec *x, int role)
{
	a->pfds = cr_xgrow(a->pfds, &a->poll_cap, *n + 1, sizeof(*a->pfds));
	a->slots = cr_xrealloc(a->slots, a->poll_cap * sizeof(*a->slots));
	a->pfds[*n] = (struct pollfd){.fd = fd, .events = events};
	a->slots[*n] = (agent_poll_slot){.x = x, .role = role};
	(*n)++;
}

static size_t build_poll(agent *a)
{
	size_t n = 0;
	for (agent_exec *x = a->execs; x; x = x->next) {
		if (x->out_fd >= 0)
			add_poll(a, &n, x->out_fd, POLLIN, x, AGENT_ROLE_STDOUT);
		if (x->err_fd >= 0)
			add_poll(a, &n, x->err_fd, POLLIN, x, AGENT_ROLE_STDERR);
		if (x->in_fd >= 0 && !x->stdin_done && x->pending.len > x->pending_off)
			add_poll(a, &n, x->in_fd, POLLOUT, x, AGENT_ROLE_STDIN);
	}
	if (!a->eof && !stdin_backlogged(a))
		add_poll(a, &n, a->ctl_fd, POLLIN, NULL, AGENT_ROLE_CTL);
	add_poll(a, &n, a->sig_fd, POLLIN, NULL, AGENT_ROLE_SIGNAL);
	return n;
}

static void read_ctl(agent *a)
{
	unsigned char chunk[CR_AGENT_MAX_DATA];
	ssize_t n = read(a->ctl_fd, chunk, sizeof(chunk));
	if (n > 0)
		cr_agent_decoder_feed(&a->dec, chunk, (size_t)n);
	else if (n == 0 || (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK))
		a->eof = true; /* end of file, or ECONNRESET: the owner is gone either way */
}

/* Reaps every child that ended; the main process of an execution finishes it. */
static void reap_children(agent *a)
{
	struct signalfd_siginfo si;
	while (read(a->sig_fd, &si, sizeof(si)) > 0)
		;
	for (;;) {
		int wstatus;
		pid_t pid = waitpid(-1, &wstatus, WNOHANG);
		if (pid <= 0)
			return;
		for (agent_exec *x = a->execs; x; x = x->next) {
			if (x->pid == pid) {
				finish_exec(a, x, wstatus);
				break;
			}
		}
	}
}

static void handle_events(agent *a, size_t n)
{
	bool sigchld = false, ctl = false;
	for (size_t i = 0; i < n; i++) {
		short re = a->pfds[i].revents;
		if (!re)
			continue;
		agent_exec *x = a->slots[i].x;
		switch (a->slots[i].role) {
		case AGENT_ROLE_STDOUT: relay_read(a, x, false); break;
		case AGENT_ROLE_STDERR: relay_read(a, x, true); break;
		case AGENT_ROLE_STDIN: relay_flush_stdin(x); break;
		case AGENT_ROLE_CTL: ctl = true; break;
		case AGENT_ROLE_SIGNAL: sigchld = true; break;
		}
	}
	/* Executions may end (and be freed) only after every slot was used. */
	if (ctl)
		read_ctl(a);
	if (sigchld)
		reap_children(a);
}

static int run_loop(agent *a)
{
	for (;;) {
		cleanup_error cr_error *err = NULL;
		if (process_frames(a, &err) < 0) {
			fprintf(stderr, "cleanroom agent: %s\n", err->msg);
			agent_send_error(a, 0, err->msg);
			return 1;
		}
		if (a->failed)
			return 1;
		if (a->shutdown || a->gone || a->eof)
			return 0;
		size_t n = build_poll(a);
		if (poll(a->pfds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "cleanroom agent: poll: %s\n", strerror(errno));
			return 1;
		}
		handle_events(a, n);
	}
}

/* Kills every execution's process group, waits for each main process and
 * reports it (when the owner still listens), then reaps whatever is left. */
static void teardown(agent *a)
{
	for (agent_exec *x = a->execs; x; x = x->next) {
		kill(-x->pid, SIGKILL);
		kill(x->pid, SIGKILL);
	}
	while (a->execs) {
		agent_exec *x = a->execs;
		int wstatus = 0;
		while (waitpid(x->pid, &wstatus, 0) < 0 && errno == EINTR)
			;
		finish_exec(a, x, wstatus);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

/* ---- setup ---- */

/* Makes sure fds 0-2 are open, so that no pipe the agent creates lands there. */
static void ensure_std_fds(void)
{
	for (;;) {
		int fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return;
		if (fd > 2) {
			close(fd);
			return;
		}
	}
}

static int setup(agent *a)
{
	ensure_std_fds();
	signal(SIGPIPE, SIG_IGN); /* a vanished owner is EPIPE, handled where written */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) < 0)
		return -1;
	a->sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->sig_fd < 0)
		return -1;
	fcntl(a->ctl_fd, F_SETFD, FD_CLOEXEC);
	/* Outside a PID namespace (tests, debugging) orphans should still come to us. */
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1);
	cr_agent_decoder_init(&a->dec);
	cr_buf_init(&a->frame, CR_AGENT_MAX_FRAME + 4);
	return 0;
}

static void release(agent *a)
{
	while (a->execs) {
		agent_exec *x = a->execs;
		a->execs = x->next;
		agent_exec_free(x);
	}
	if (a->sig_fd >= 0)
		close(a->sig_fd);
	cr_agent_decoder_free(&a->dec);
	cr_buf_free(&a->frame);
	free(a->pfds);
	free(a->slots);
}

int cr_agent_main(int ctl_fd, int exe_fd)
{
	agent a = {.ctl_fd = ctl_fd, .exe_fd = exe_fd, .sig_fd = -1};
	if (setup(&a) < 0) {
		fprintf(stderr, "cleanroom agent: set up SIGCHLD handling: %s\n", strerror(errno));
		release(&a);
		return 1;
	}
	agent_send_json(&a, CR_AGENT_HELLO, 0,
			json_pack("{s:i,s:i}", "version", CR_AGENT_PROTOCOL_VERSION, "pid", (int)getpid()));
	int rc = run_loop(&a);
	teardown(&a);
	release(&a);
	return a.failed ? 1 : rc;
}

int cmd_agent(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "usage: cleanroom __agent (internal; started by the sandbox backend)\n");
		return 2;
	}
	if (fcntl(CR_AGENT_CTL_FD, F_GETFD) < 0) {
		fprintf(stderr, "cleanroom __agent: no control channel on fd %d\n", CR_AGENT_CTL_FD);
		return 1;
	}
	int exe_fd = fcntl(CR_AGENT_EXE_FD, F_GETFD) < 0 ? -1 : CR_AGENT_EXE_FD;
	return cr_agent_main(CR_AGENT_CTL_FD, exe_fd);
}
