/* SPDX-License-Identifier: Apache-2.0 */
/* netns_exec.c -- executions in a namespace sandbox: requests to the agent
 * and the translation of its frames into backend events. OOM kills are
 * recognised here: an execution killed by SIGKILL while the sandbox's memory
 * cgroup counted a new OOM kill is reported as oom_killed (exit 137). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend/netns/netns.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

/* Writes a whole frame to the agent. The socket blocks with a send timeout
 * (CR_NETNS_SEND_TIMEOUT_S): an agent that takes nothing for that long is
 * declared gone, since a frame may be half written. */
static int write_frame(cr_sandbox *sb, const void *data, size_t len, cr_error **err)
{
	const unsigned char *p = data;
	while (len > 0) {
		ssize_t n = write(sb->ctl_fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno == EAGAIN || errno == EWOULDBLOCK ? ETIMEDOUT : errno;
			sb->dead = true;
			return cr_error_make(err, e, CR_REASON_INTERNAL, "write to the sandbox's agent");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int cr_netns_send(cr_sandbox *sb, uint8_t type, uint32_t exec_id, const void *payload, size_t len,
		  cr_error **err)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, CR_AGENT_MAX_FRAME + CR_AGENT_HEADER_SIZE);
	if (cr_agent_encode(&b, type, exec_id, payload, len) < 0)
		return cr_error_make(err, E2BIG, CR_REASON_INTERNAL, "agent frame too large");
	return write_frame(sb, b.data, b.len, err);
}

static int fill(cr_sandbox *sb, int timeout_ms, cr_error **err)
{
	struct pollfd p = {.fd = sb->ctl_fd, .events = POLLIN};
	int r = poll(&p, 1, timeout_ms);
	if (r < 0 && errno != EINTR)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "poll the agent");
	if (r <= 0)
		return 0;
	unsigned char buf[65536];
	ssize_t n = read(sb->ctl_fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n <= 0) {
		sb->dead = true;
		return cr_error_make(err, n ? errno : 0, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "the sandbox's agent is gone");
	}
	cr_agent_decoder_feed(&sb->dec, buf, (size_t)n);
	return 1;
}

int cr_netns_next_frame(cr_sandbox *sb, cr_agent_frame *f, int timeout_ms, cr_error **err)
{
	for (;;) {
		int got = cr_agent_decoder_next(&sb->dec, f, err);
		if (got != 0)
			return got;
		if (sb->dead)
			return cr_error_make(err, 0, CR_REASON_RUNTIME_LAUNCH_FAILED,
					     "the sandbox's agent is gone");
		int r = fill(sb, timeout_ms, err);
		if (r <= 0)
			return r;
	}
}

int cr_netns_start(cr_sandbox *sb, cr_agent_exec_req *req, uint32_t *exec_id, cr_error **err)
{
	json_t *j = cr_agent_exec_req_to_json(req);
	cleanup_buf cr_buf b;
	cr_buf_init(&b, CR_AGENT_MAX_FRAME + CR_AGENT_HEADER_SIZE);
	uint32_t id = sb->next_exec_id++;
	int rc = cr_agent_encode_json(&b, CR_AGENT_EXEC, id, j);
	json_decref(j);
	if (rc < 0)
		return cr_error_make(err, E2BIG, CR_REASON_RUNTIME_LAUNCH_FAILED,
				     "command too large for one request");
	if (sb->cgroup)
		sb->oom_at_start = cr_cgroup_oom_kills(sb->cgroup);
	if (write_frame(sb, b.data, b.len, err) < 0)
		return -1;
	*exec_id = id;
	return 0;
}

static char **default_env(uid_t uid)
{
	char **env = cr_xcalloc(6, sizeof(char *));
	env[0] = cr_xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	env[1] = cr_xstrdup(uid == 0 ? "HOME=/root" : "HOME=/home");
	env[2] = cr_xstrdup("LANG=C.UTF-8");
	env[3] = cr_xstrdup("TERM=xterm-256color");
	env[4] = cr_xstrdup(uid == 0 ? "USER=root" : "USER=cleanroom");
	return env;
}

static char **copy_strv(char *const *v)
{
	size_t n = 0;
	while (v[n])
		n++;
	char **out = cr_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = cr_xstrdup(v[i]);
	return out;
}

/* Adds "K=V" entries to env, replacing an entry with the same K. */
static char **merge_env(char **env, char *const *extra)
{
	size_t n = 0;
	while (env[n])
		n++;
	for (size_t i = 0; extra && extra[i]; i++) {
		size_t klen = strcspn(extra[i], "=") + 1, j = 0;
		while (j < n && strncmp(env[j], extra[i], klen) != 0)
			j++;
		if (j == n) {
			env = cr_xrealloc(env, (n + 2) * sizeof(char *));
			env[++n] = NULL;
		} else
			free(env[j]);
		env[j] = cr_xstrdup(extra[i]);
	}
	return env;
}

int cr_netns_exec(cr_sandbox *sb, const cr_exec_spec *spec, uint32_t *exec_id, cr_error **err)
{
	if (!spec->argv || !spec->argv[0])
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "empty command");
	cr_agent_exec_req req = {
		.argv = copy_strv(spec->argv),
		.env = merge_env(spec->env ? copy_strv(spec->env) : default_env(sb->workload_uid),
				 spec->extra_env),
		.cwd = cr_xstrdup(spec->cwd ? spec->cwd : "/workspace"),
		.uid = sb->workload_uid,
		.gid = sb->workload_uid,
		.tty = spec->tty,
		.cols = spec->cols ? spec->cols : 80,
		.rows = spec->rows ? spec->rows : 24,
	};
	int rc = cr_netns_start(sb, &req, exec_id, err);
	cr_agent_exec_req_clear(&req);
	return rc;
}

int cr_netns_write_stdin(cr_sandbox *sb, uint32_t exec_id, const void *data, size_t len, cr_error **err)
{
	const unsigned char *p = data;
	while (len) {
		size_t n = len > CR_AGENT_MAX_DATA ? CR_AGENT_MAX_DATA : len;
		if (cr_netns_send(sb, CR_AGENT_STDIN, exec_id, p, n, err) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

int cr_netns_close_stdin(cr_sandbox *sb, uint32_t exec_id, cr_error **err)
{
	return cr_netns_send(sb, CR_AGENT_STDIN_EOF, exec_id, NULL, 0, err);
}

int cr_netns_resize(cr_sandbox *sb, uint32_t exec_id, uint16_t cols, uint16_t rows, cr_error **err)
{
	unsigned char p[4] = {(unsigned char)(cols >> 8), (unsigned char)cols, (unsigned char)(rows >> 8),
			      (unsigned char)rows};
	return cr_netns_send(sb, CR_AGENT_RESIZE, exec_id, p, sizeof(p), err);
}

int cr_netns_signal(cr_sandbox *sb, uint32_t exec_id, int signo, cr_error **err)
{
	uint32_t s = (uint32_t)signo;
	unsigned char p[4] = {(unsigned char)(s >> 24), (unsigned char)(s >> 16), (unsigned char)(s >> 8),
			      (unsigned char)s};
	return cr_netns_send(sb, CR_AGENT_SIGNAL, exec_id, p, sizeof(p), err);
}

int cr_netns_event_fd(cr_sandbox *sb)
{
	return sb->ctl_fd;
}

void cr_netns_queue(cr_sandbox *sb, const cr_agent_frame *f)
{
	cr_queued_frame *q = cr_xcalloc(1, sizeof(*q));
	q->type = f->type;
	q->exec_id = f->exec_id;
	q->len = f->len;
	q->payload = cr_xmalloc(f->len ? f->len : 1);
	if (f->len)
		memcpy(q->payload, f->payload, f->len);
	if (sb->queue_tail)
		sb->queue_tail->next = q;
	else
		sb->queue = q;
	sb->queue_tail = q;
}

/* Takes the oldest queued frame of one execution (the payload is handed
 * over in *payload). */
bool cr_netns_take_queued(cr_sandbox *sb, uint32_t exec_id, cr_agent_frame *f, unsigned char **payload)
{
	for (cr_queued_frame **pp = &sb->queue, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
		cr_queued_frame *q = *pp;
		if (q->exec_id != exec_id)
			continue;
		*pp = q->next;
		if (sb->queue_tail == q)
			sb->queue_tail = prev;
		*f = (cr_agent_frame){
			.type = q->type, .exec_id = q->exec_id, .payload = q->payload, .len = q->len};
		*payload = q->payload;
		free(q);
		return true;
	}
	return false;
}

/* Takes the oldest queued frame; its payload stays alive in sb->held until
 * the next call. */
static bool dequeue(cr_sandbox *sb, cr_agent_frame *f)
{
	cr_queued_frame *q = sb->queue;
	if (!q)
		return false;
	sb->queue = q->next;
	if (!sb->queue)
		sb->queue_tail = NULL;
	*f = (cr_agent_frame){.type = q->type, .exec_id = q->exec_id, .payload = q->payload, .len = q->len};
	sb->held = q->payload;
	free(q);
	return true;
}

static int exit_event(cr_sandbox *sb, const cr_agent_frame *f, cr_exec_event *ev, cr_error **err)
{
	json_t *j = cr_agent_frame_json(f, err);
	if (!j)
		return -1;
	ev->type = CR_EVENT_EXIT;
	ev->exit_code = (int)json_integer_value(json_object_get(j, "code"));
	ev->term_signal = (int)json_integer_value(json_object_get(j, "signal"));
	json_decref(j);
	char **pending = &sb->start_error[f->exec_id % 8];
	bool killed =
		ev->term_signal == 9 || ev->exit_code == 137; /* a shell reports its killed child as 137 */
	if (killed && sb->cgroup && cr_cgroup_oom_kills(sb->cgroup) > sb->oom_at_start) {
		ev->oom_killed = true;
		ev->exit_code = 137;
		sb->exit_message = cr_xstrdup("killed by the sandbox's memory limit (out of memory)");
	} else if (*pending) {
		sb->exit_message = *pending;
		*pending = NULL;
	}
	ev->message = sb->exit_message;
	return 1;
}

static int frame_error(cr_sandbox *sb, const cr_agent_frame *f, cr_error **err)
{
	json_t *j = cr_agent_frame_json(f, err);
	const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
	int rc = 0;
	if (f->exec_id == 0)
		rc = cr_error_make(err, 0, CR_REASON_INTERNAL, "the agent reported: %s",
				   msg ? msg : "an error");
	else {
		free(sb->start_error[f->exec_id % 8]);
		sb->start_error[f->exec_id % 8] = cr_xstrdup(msg ? msg : "failed to start");
	}
	json_decref(j);
	return rc;
}

/* Turns one frame into an event: 1 when *ev is filled, 0 when the frame
 * carries no event, -1 on error. */
static int to_event(cr_sandbox *sb, const cr_agent_frame *f, cr_exec_event *ev, cr_error **err)
{
	*ev = (cr_exec_event){.exec_id = f->exec_id, .data = f->payload, .len = f->len};
	switch (f->type) {
	case CR_AGENT_STARTED: ev->type = CR_EVENT_STARTED; return 1;
	case CR_AGENT_STDOUT: ev->type = CR_EVENT_STDOUT; return 1;
	case CR_AGENT_STDERR: ev->type = CR_EVENT_STDERR; return 1;
	case CR_AGENT_EXIT: return exit_event(sb, f, ev, err);
	case CR_AGENT_ERROR: return frame_error(sb, f, err);
	default: return 0; /* HELLO and anything new */
	}
}

int cr_netns_next_event(cr_sandbox *sb, cr_exec_event *ev, cr_error **err)
{
	free(sb->held);
	sb->held = NULL;
	free(sb->exit_message);
	sb->exit_message = NULL;
	for (;;) {
		cr_agent_frame f;
		if (!dequeue(sb, &f)) {
			int r = cr_netns_next_frame(sb, &f, 0, err);
			if (r <= 0)
				return r;
		}
		int r = to_event(sb, &f, ev, err);
		if (r != 0)
			return r;
	}
}
