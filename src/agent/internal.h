/* SPDX-License-Identifier: Apache-2.0 */
/* internal.h -- what the agent's files share: the state of one running
 * execution, the agent's own state, and the functions that start (exec.c),
 * relay (relay.c) and report (agent.c) executions. Not part of the agent's
 * contract (agent.h, protocol.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/protocol.h"
#include "util/buf.h"
#include "util/error.h"

/* Input queued for one execution's stdin beyond what its pipe took. While any
 * execution holds this much, the agent stops taking frames from the control
 * channel (backpressure on the host); one more STDIN frame may land on top. */
#define AGENT_STDIN_WINDOW (4u << 20)
/* Executions running at once in one sandbox. */
#define AGENT_MAX_EXECS 1024

typedef struct agent_exec {
	struct agent_exec *next;
	uint32_t id;
	pid_t pid; /* also its process group and session: the child called setsid() */
	bool tty;
	int in_fd;      /* stdin pipe (write end) or a duplicate of the pty master; -1 once closed */
	int out_fd;     /* stdout pipe (read end) or the pty master; -1 after its end of stream */
	int err_fd;     /* stderr pipe (read end); always -1 for a tty */
	cr_buf pending; /* stdin bytes not yet written, from pending_off on */
	size_t pending_off;
	bool stdin_eof;            /* STDIN_EOF received: finish stdin once pending drains */
	bool stdin_done;           /* stdin closed (or VEOF sent), or the process stopped reading */
	bool line_open;            /* tty: the last byte written was not a newline */
	bool out_ended, err_ended; /* end-of-stream frame sent */
} agent_exec;

struct pollfd;
typedef struct agent_poll_slot {
	agent_exec *x;
	int role; /* AGENT_ROLE_* */
} agent_poll_slot;

enum { AGENT_ROLE_CTL, AGENT_ROLE_SIGNAL, AGENT_ROLE_STDOUT, AGENT_ROLE_STDERR, AGENT_ROLE_STDIN };

typedef struct agent {
	int ctl_fd, exe_fd, sig_fd;
	cr_agent_decoder dec;
	cr_buf frame; /* scratch for encoding one frame */
	agent_exec *execs;
	size_t n_execs;
	struct pollfd *pfds;
	agent_poll_slot *slots;
	size_t poll_cap;
	bool eof;      /* the control channel reached end of file */
	bool shutdown; /* SHUTDOWN received */
	bool gone;     /* a write found the owner gone (EPIPE): stop sending */
	bool failed;   /* a write failed otherwise: exit 1 */
} agent;

/* agent.c: sending frames. Failures set a->gone or a->failed, which the loop
 * acts on; callers carry on. */
void agent_send(agent *a, uint8_t type, uint32_t exec_id, const void *payload, size_t len);
void agent_send_json(agent *a, uint8_t type, uint32_t exec_id, json_t *payload); /* steals payload */
void agent_send_error(agent *a, uint32_t exec_id, const char *message);

/* exec.c: forks and starts the request in a new session, with pipes or a
 * pty, and waits until execve succeeded. Fills x->pid, tty and fds (all
 * non-blocking, close-on-exec). Returns 0, or -1 with *err saying what
 * failed (the child, if any, is already reaped). */
int agent_spawn(const cr_agent_exec_req *req, int exe_fd, agent_exec *x, cr_error **err);

/* relay.c */
/* Reads once from stdout (is_err false) or stderr; sends the bytes, or the
 * end-of-stream frame at end of file (EIO on a pty master counts). */
void relay_read(agent *a, agent_exec *x, bool is_err);
/* Queues bytes for the execution's stdin and writes what the pipe takes. */
void relay_stdin(agent *a, agent_exec *x, const void *data, size_t len);
/* Writes queued stdin; finishes stdin (close or VEOF) once empty after STDIN_EOF. */
void relay_flush_stdin(agent_exec *x);
/* Drains what is readable now, sends the end-of-stream frames still owed
 * and the EXIT frame for wait status `wstatus`. Does not free x. */
void relay_finish(agent *a, agent_exec *x, int wstatus);
/* Closes every fd of x and frees it; accepts NULL. */
void agent_exec_free(agent_exec *x);
