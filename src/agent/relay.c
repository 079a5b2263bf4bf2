/* SPDX-License-Identifier: Apache-2.0 */
/* relay.c -- moving bytes between the control channel and one execution.
 *
 * Output is read in chunks of at most CR_AGENT_MAX_DATA and sent as it
 * arrives; input is written with the execution's stdin in non-blocking mode,
 * and what the pipe does not take waits in a per-execution queue flushed on
 * POLLOUT (the loop stops reading the control channel while a queue is full:
 * see AGENT_STDIN_WINDOW). When the execution's main process is reaped, what
 * is readable at that moment is drained and its streams are ended even if a
 * background process still holds them: EXIT must not wait for grandchildren. */
#include "agent/internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Reads per stream when draining at exit, so that a writer that never stops
 * cannot hold the agent. */
#define DRAIN_MAX_READS 64

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void end_stream(agent *a, agent_exec *x, bool is_err)
{
	bool *ended = is_err ? &x->err_ended : &x->out_ended;
	close_fd(is_err ? &x->err_fd : &x->out_fd);
	if (!*ended)
		agent_send(a, is_err ? CR_AGENT_STDERR : CR_AGENT_STDOUT, x->id, NULL, 0);
	*ended = true;
}

/* Returns 1 after sending data, 0 at end of stream, -1 when nothing is ready. */
static int read_once(agent *a, agent_exec *x, bool is_err)
{
	int fd = is_err ? x->err_fd : x->out_fd;
	if (fd < 0)
		return 0;
	unsigned char chunk[CR_AGENT_MAX_DATA];
	ssize_t n;
	do
		n = read(fd, chunk, sizeof(chunk));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		agent_send(a, is_err ? CR_AGENT_STDERR : CR_AGENT_STDOUT, x->id, chunk, (size_t)n);
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -1;
	/* 0 is end of file; EIO on a pty master means every slave fd closed;
	 * any other error ends the stream too, there is nothing to retry. */
	end_stream(a, x, is_err);
	return 0;
}

void relay_read(agent *a, agent_exec *x, bool is_err)
{
	read_once(a, x, is_err);
}

static void drain(agent *a, agent_exec *x, bool is_err)
{
	for (int i = 0; i < DRAIN_MAX_READS && !a->gone && !a->failed; i++)
		if (read_once(a, x, is_err) <= 0)
			return;
}

static void drop_pending(agent_exec *x)
{
	x->pending.len = 0;
	x->pending_off = 0;
}

/* After STDIN_EOF with nothing queued: close the pipe, or for a tty type the
 * terminal's EOF character (twice when a line is half typed, since the first
 * one only submits the line in canonical mode). */
static void finish_stdin(agent_exec *x)
{
	if (x->stdin_done || !x->stdin_eof || x->pending.len > x->pending_off)
		return;
	x->stdin_done = true;
	if (!x->tty) {
		close_fd(&x->in_fd);
		return;
	}
	struct termios t;
	cc_t veof = 4; /* ^D */
	bool canon = true;
	if (tcgetattr(x->in_fd, &t) == 0) {
		veof = t.c_cc[VEOF];
		canon = (t.c_lflag & ICANON) != 0;
	}
	unsigned char eofs[2] = {veof, veof};
	ssize_t n = write(x->in_fd, eofs, canon && x->line_open ? 2 : 1);
	(void)n; /* a tty that does not take two bytes is one nobody reads */
}

static void stdin_failed(agent_exec *x)
{
	drop_pending(x);
	x->stdin_done = true;
	if (!x->tty)
		close_fd(&x->in_fd);
}

/* Writes what the fd takes; returns bytes written, or -1 when stdin is dead. */
static ssize_t write_some(agent_exec *x, const unsigned char *p, size_t len)
{
	ssize_t n;
	do
		n = write(x->in_fd, p, len);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n < 0) { /* EPIPE: the process closed stdin; EIO: the tty is gone */
		stdin_failed(x);
		return -1;
	}
	if (n > 0)
		x->line_open = p[n - 1] != '\n';
	return n;
}

/* Moves the unwritten bytes to the front of the queue. */
static void compact_pending(agent_exec *x)
{
	memmove(x->pending.data, x->pending.data + x->pending_off, x->pending.len - x->pending_off);
	x->pending.len -= x->pending_off;
	x->pending_off = 0;
}

void relay_flush_stdin(agent_exec *x)
{
	while (!x->stdin_done && x->pending.len > x->pending_off) {
		ssize_t n = write_some(x, (unsigned char *)x->pending.data + x->pending_off,
				       x->pending.len - x->pending_off);
		if (n <= 0)
			return;
		x->pending_off += (size_t)n;
	}
	if (x->pending_off == x->pending.len)
		drop_pending(x);
	else if (x->pending_off >= AGENT_STDIN_WINDOW / 4)
		compact_pending(x);
	finish_stdin(x);
}

void relay_stdin(agent *a, agent_exec *x, const void *data, size_t len)
{
	(void)a;
	if (x->stdin_done || x->stdin_eof || len == 0)
		return; /* input after STDIN_EOF, or for a process that stopped reading, is dropped */
	const unsigned char *p = data;
	if (x->pending.len == x->pending_off) {
		ssize_t n = write_some(x, p, len);
		if (n < 0)
			return;
		p += n;
		len -= (size_t)n;
	}
	/* The loop stops taking frames at the window, so this cannot pass the
	 * buffer's limit (window + one frame) unless that invariant broke. */
	if (len && x->pending_off && len > x->pending.limit - x->pending.len)
		compact_pending(x);
	if (len && cr_buf_append(&x->pending, p, len) < 0)
		stdin_failed(x);
}

static json_t *exit_json(int wstatus)
{
	if (WIFSIGNALED(wstatus))
		return json_pack("{s:i,s:i}", "signal", WTERMSIG(wstatus), "code", 128 + WTERMSIG(wstatus));
	return json_pack("{s:i}", "code", WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 255);
}

void relay_finish(agent *a, agent_exec *x, int wstatus)
{
	drain(a, x, false);
	drain(a, x, true);
	end_stream(a, x, false);
	end_stream(a, x, true);
	agent_send_json(a, CR_AGENT_EXIT, x->id, exit_json(wstatus));
}

void agent_exec_free(agent_exec *x)
{
	if (!x)
		return;
	close_fd(&x->in_fd);
	close_fd(&x->out_fd);
	close_fd(&x->err_fd);
	cr_buf_free(&x->pending);
	free(x);
}
