/* SPDX-License-Identifier: Apache-2.0 */
/* interactive.c -- an interactive session: the local terminal, signals and
 * one poll(2) loop moving bytes between stdin, fds 1/2 and the attach
 * connection (see interactive.h).
 *
 * Raw mode (cfmakeraw) makes every key a byte for the remote pty: Ctrl-C
 * reaches the workload as 0x03 and its pty turns it into SIGINT for the
 * foreground job, exactly as on a local terminal, and Ctrl-D is the
 * workload's end of input. The saved terminal settings are restored when
 * the session ends, at exit (atexit, for any path that exits without
 * returning here) and in the signal handler before a third interrupt kills
 * the process. Signals only write their number into a self-pipe; the loop
 * reads it. Nothing spins: poll waits for input, output room or a signal,
 * and wakes every 30 s to send a heartbeat. */
#include "cli/interactive.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "cli/client/attach.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/xalloc.h"

#define HEARTBEAT_MS 30000
#define STDIN_CHUNK  (32u << 10)
#define DRAIN_MS     2000

typedef Cleanroom__V1__ExecutionAttachFrame Frame;

/* ---- terminal and signals (process-wide state, touched by handlers) ---- */

static struct termios saved_termios;
static volatile sig_atomic_t raw_active;
static int signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t signals_seen;
static const int handled[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGPIPE};
static struct sigaction previous[sizeof(handled) / sizeof(handled[0])];

static void terminal_restore(void)
{
	if (raw_active) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
		raw_active = 0;
	}
}

static int terminal_raw(cr_error **err)
{
	static bool registered;
	if (tcgetattr(STDIN_FILENO, &saved_termios) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "read the terminal settings of stdin");
	if (!registered && atexit(terminal_restore) == 0)
		registered = true;
	struct termios raw = saved_termios;
	cfmakeraw(&raw);
	raw_active = 1;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
		raw_active = 0;
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "put the terminal in raw mode");
	}
	return 0;
}

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;
	if (signal_pipe[1] >= 0 && write(signal_pipe[1], &b, 1) < 0) {
		/* the pipe is full: the loop has signals enough to read */
	}
	if (sig != SIGWINCH && ++signals_seen >= 3) { /* the user insists: die, but restore first */
		terminal_restore();
		signal(sig, SIG_DFL);
		raise(sig);
	}
	errno = saved;
}

static int signals_install(cr_error **err)
{
	if (pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "create the signal pipe");
	signals_seen = 0;
	struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: poll returns at once */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++) {
		struct sigaction *use = &sa, ign = {.sa_handler = SIG_IGN};
		if (handled[i] == SIGPIPE) /* a closed stdout is an EPIPE the loop handles */
			use = &ign;
		sigaction(handled[i], use, &previous[i]);
	}
	return 0;
}

static void signals_restore(void)
{
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaction(handled[i], &previous[i], NULL);
	for (int i = 0; i < 2; i++) {
		if (signal_pipe[i] >= 0)
			close(signal_pipe[i]);
		signal_pipe[i] = -1;
	}
}

bool cr_interactive_stdin_is_tty(void)
{
	return isatty(STDIN_FILENO) == 1;
}

/* ---- the session ----------------------------------------------------- */

struct session {
	const cr_interactive *o;
	cr_interactive_result *res;
	cr_attach *a;
	cr_detach_keys keys;
	bool raw;
	bool stdin_open; /* stdin is still read */
	bool detaching;  /* close{detach} sent: done once it is written */
	int interrupts;
	bool out_broken[3]; /* fd 1 or 2 could not be written */
	bool pipe_cancel, pipe_sent;
	cr_error *session_error; /* an error frame of the server */
};

/* One line of ours on stderr; in raw mode the terminal needs "\r\n". */
static void say(const struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cleanup_free char *msg = cr_vasprintf(fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s%s: %s%s", s->raw ? "\r\n" : "", s->o->prog, msg, s->raw ? "\r\n" : "\n");
}

static int send_frame(struct session *s, Frame *f, cr_error **err)
{
	return cr_attach_send(s->a, f, err);
}

static int send_stdin(struct session *s, const void *data, size_t len, cr_error **err)
{
	Frame f = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__INIT;
	f.payload_case = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_STDIN;
	f.stdin.data = (uint8_t *)data;
	f.stdin.len = len;
	return send_frame(s, &f, err);
}

static int send_close(struct session *s, bool detach, cr_error **err)
{
	Cleanroom__V1__ExecutionClose c = CLEANROOM__V1__EXECUTION_CLOSE__INIT;
	c.detach = detach;
	Frame f = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__INIT;
	f.payload_case = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_CLOSE;
	f.close = &c;
	return send_frame(s, &f, err);
}

static int send_signal(struct session *s, int sig, cr_error **err)
{
	Cleanroom__V1__ExecutionSignal g = CLEANROOM__V1__EXECUTION_SIGNAL__INIT;
	g.signal = sig;
	Frame f = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__INIT;
	f.payload_case = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_SIGNAL;
	f.signal = &g;
	return send_frame(s, &f, err);
}

static int send_heartbeat(struct session *s, cr_error **err)
{
	Cleanroom__V1__ExecutionHeartbeat h = CLEANROOM__V1__EXECUTION_HEARTBEAT__INIT;
	Frame f = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__INIT;
	f.payload_case = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_HEARTBEAT;
	f.heartbeat = &h;
	return send_frame(s, &f, err);
}

/* The terminal's window size, when it has one. */
static int send_resize(struct session *s, cr_error **err)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 || !ws.ws_col || !ws.ws_row)
		return 0;
	Cleanroom__V1__ExecutionResize r = CLEANROOM__V1__EXECUTION_RESIZE__INIT;
	r.cols = ws.ws_col;
	r.rows = ws.ws_row;
	Frame f = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__INIT;
	f.payload_case = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_RESIZE;
	f.resize = &r;
	return send_frame(s, &f, err);
}

static int detach(struct session *s, cr_error **err)
{
	s->detaching = true;
	s->stdin_open = false;
	return send_close(s, true, err);
}

/* ---- server frames ---- */

static void emit(struct session *s, int fd, const ProtobufCBinaryData *chunk)
{
	if (s->out_broken[fd] || s->detaching)
		return;
	if (cr_write_all(fd, chunk->data, chunk->len) < 0) {
		s->out_broken[fd] = true;
		s->pipe_cancel |= fd == STDOUT_FILENO && errno == EPIPE;
	}
}

static void take_exit(cr_interactive_result *res, const Cleanroom__V1__ExecutionExit *x)
{
	res->got_exit = true;
	res->exit_code = x->exit_code;
	res->status = x->status;
	free(res->reason);
	free(res->message);
	res->reason = cr_xstrdup(x->reason);
	res->message = cr_xstrdup(x->message);
}

static void on_frame(void *ctx, const Frame *f)
{
	struct session *s = ctx;
	switch (f->payload_case) {
	case CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_STDOUT: emit(s, STDOUT_FILENO, &f->stdout); break;
	case CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_STDERR: emit(s, STDERR_FILENO, &f->stderr); break;
	case CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_EXIT:
		if (f->exit)
			take_exit(s->res, f->exit);
		break;
	case CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_ERROR:
		if (!s->session_error)
			cr_error_make(&s->session_error, 0, CR_REASON_INTERNAL, "%s", f->error);
		break;
	default: break; /* heartbeats */
	}
}

/* ---- local input ---- */

static int stdin_eof(struct session *s, cr_error **err)
{
	unsigned char held[CR_DETACH_KEYS_MAX];
	size_t n = cr_detach_keys_flush(&s->keys, held);
	s->stdin_open = false;
	if (n && send_stdin(s, held, n, err) < 0)
		return -1;
	return send_close(s, false, err);
}

static int read_stdin(struct session *s, cr_error **err)
{
	unsigned char in[STDIN_CHUNK], out[STDIN_CHUNK + CR_DETACH_KEYS_MAX];
	ssize_t n = read(STDIN_FILENO, in, sizeof(in));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) /* end of input; a read error (EIO: the terminal hung up) ends it too */
		return stdin_eof(s, err);
	size_t m = (size_t)n;
	bool detach_now = false;
	if (s->raw)
		detach_now = cr_detach_keys_scan(&s->keys, in, (size_t)n, out, &m);
	else
		memcpy(out, in, m);
	if (m && send_stdin(s, out, m, err) < 0)
		return -1;
	return detach_now ? detach(s, err) : 0;
}

static int interrupt(struct session *s, int sig, cr_error **err)
{
	if (s->detaching)
		return 0;
	if (++s->interrupts >= 2)
		return detach(s, err);
	const char *name = sigabbrev_np(sig);
	say(s, "received SIG%s: sent to execution %s (interrupt again to detach)", name ? name : "?",
	    s->o->execution_id);
	return send_signal(s, sig, err);
}

static int read_signals(struct session *s, cr_error **err)
{
	unsigned char sigs[64];
	ssize_t n = read(signal_pipe[0], sigs, sizeof(sigs));
	bool resized = false;
	for (ssize_t i = 0; i < n; i++) {
		if (sigs[i] == SIGWINCH)
			resized = true;
		else if (interrupt(s, sigs[i], err) < 0)
			return -1;
	}
	return resized && s->o->tty && !s->detaching ? send_resize(s, err) : 0;
}

/* ---- the loop ---- */

/* One turn's I/O after poll. 1 = the session is over. */
static int turn(struct session *s, const struct pollfd *p, cr_error **err)
{
	if (p[0].revents && read_signals(s, err) < 0)
		return -1;
	if ((p[1].revents & (POLLOUT | POLLERR | POLLHUP)) && cr_attach_flush(s->a, err) < 0)
		return -1;
	if ((p[1].revents & (POLLIN | POLLERR | POLLHUP)) || cr_attach_backlog(s->a)) {
		int r = cr_attach_receive(s->a, on_frame, s, err);
		if (r != 0)
			return r;
	}
	if (p[2].revents & (POLLNVAL | POLLERR))
		return stdin_eof(s, err);
	if ((p[2].revents & (POLLIN | POLLHUP)) && s->stdin_open)
		return read_stdin(s, err);
	return 0;
}

static int loop(struct session *s, cr_error **err)
{
	for (;;) {
		if (s->detaching && !cr_attach_pending(s->a))
			return 0;
		if (s->pipe_cancel && !s->pipe_sent) {
			s->pipe_sent = true;
			say(s, "output pipe closed: sending SIGPIPE to execution %s", s->o->execution_id);
			if (send_signal(s, SIGPIPE, err) < 0)
				return -1;
		}
		bool pending = cr_attach_pending(s->a) > 0;
		struct pollfd p[3] = {
			{.fd = signal_pipe[0], .events = POLLIN},
			{.fd = cr_attach_fd(s->a), .events = POLLIN | (pending ? POLLOUT : 0)},
			{.fd = s->stdin_open && !pending ? STDIN_FILENO : -1, .events = POLLIN},
		};
		bool backlog = cr_attach_backlog(s->a);
		int n = poll(p, 3, backlog ? 0 : HEARTBEAT_MS);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cr_error_make(err, errno, CR_REASON_INTERNAL, "poll");
		if (n == 0 && !backlog) {
			if (send_heartbeat(s, err) < 0)
				return -1;
			continue;
		}
		int r = turn(s, p, err);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
}

/* What the loop's end means for the result. */
static int conclude(struct session *s, int rc, cr_error **err)
{
	cr_interactive_result *res = s->res;
	res->code = cr_attach_last_code(s->a);
	if (res->got_exit) {
		if (rc < 0) { /* the result is in; a broken end of stream changes nothing */
			say(s, "warning: after the exit status: %s", (*err)->msg);
			cr_error_free(*err);
			*err = NULL;
		}
		return 0;
	}
	if (s->detaching) {
		if (rc < 0) {
			cr_error_free(*err);
			*err = NULL;
		}
		res->detached = true;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (s->session_error) {
		*err = steal_pointer(&s->session_error);
		return cr_error_wrap(err, "attach to execution %s", s->o->execution_id);
	}
	return cr_error_make(err, 0, CR_REASON_INTERNAL,
			     "the session of execution %s ended without an exit status", s->o->execution_id);
}

static int session_start(struct session *s, cr_error **err)
{
	if (signals_install(err) < 0)
		return -1;
	if (s->raw && terminal_raw(err) < 0)
		return -1;
	return s->o->tty ? send_resize(s, err) : 0;
}

int cr_interactive_run(const cr_client *c, const cr_interactive *o, cr_interactive_result *res,
		       cr_error **err)
{
	*res = (cr_interactive_result){0};
	struct session s = {.o = o, .res = res, .stdin_open = o->forward_stdin};
	s.raw = o->tty && o->forward_stdin;
	if (o->keys)
		s.keys = *o->keys;
	else if (cr_detach_keys_parse(CR_DETACH_KEYS_DEFAULT, &s.keys, err) < 0)
		return -1;
	s.a = cr_attach_new(c);
	if (cr_attach_open(s.a, o->sandbox_id, o->execution_id, err) < 0) {
		res->code = cr_attach_last_code(s.a);
		res->unreachable = cr_attach_unreachable(s.a);
		cr_attach_free(s.a);
		return cr_error_wrap(err, "attach to execution %s", o->execution_id);
	}
	int rc = session_start(&s, err);
	if (rc == 0)
		rc = loop(&s, err);
	if (s.detaching) {
		cr_error *e = NULL;
		cr_attach_drain(s.a, DRAIN_MS, &e);
		cr_error_free(e);
		if (!res->got_exit) /* still raw: the terminal shows exactly this */
			fprintf(stderr, "%sdetached; execution %s keeps running in sandbox %s%s",
				s.raw ? "\r\n" : "", o->execution_id, o->sandbox_id, s.raw ? "\r\n" : "\n");
	}
	terminal_restore();
	signals_restore();
	s.raw = false; /* the terminal is itself again */
	rc = conclude(&s, rc, err);
	cr_error_free(s.session_error);
	cr_attach_free(s.a);
	return rc;
}

void cr_interactive_result_clear(cr_interactive_result *res)
{
	free(res->reason);
	free(res->message);
	res->reason = res->message = NULL;
}
