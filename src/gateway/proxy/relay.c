/* SPDX-License-Identifier: Apache-2.0 */
/* relay.c -- the proxies' ways out of a decision: dial the upstream without
 * blocking and relay both directions with splice(2) through one pipe per
 * direction (the bytes never enter user space), or answer the client
 * ourselves (403, 501, 502, ...) and close.
 *
 * Per direction: the bytes the gateway already holds (peeked bytes, a
 * rewritten request head, "200 Connection established") go first, then
 * from -> pipe -> to. The source is read only while the pipe is empty, so a
 * full pipe never makes a readable socket spin the loop; the destination is
 * watched only while bytes wait. End of file is passed on with
 * shutdown(SHUT_WR) once everything before it is written (half-close); the
 * connection ends when both directions have ended, when either side resets
 * (the other is reset too), or after PX_IDLE_MS without traffic. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/proxy/proxy.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

static struct timeval tv_ms(int64_t ms)
{
	return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

static void set_nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void set_rst_on_close(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

void px_reset(px_conn *c)
{
	set_rst_on_close(c->cfd);
	set_rst_on_close(c->ufd);
	px_conn_free(c);
}

/* ---- the gateway's own answers ---- */

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
	px_conn *c = arg;
	char sink[4096];
	ssize_t n = (what & EV_READ) ? read(fd, sink, sizeof(sink)) : 0;
	bool more = n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR));
	if (more && cr_monotonic_ms() < c->deadline_ms)
		return; /* keep discarding until EOF or the deadline */
	px_conn_free(c);
}

static void start_linger(px_conn *c)
{
	shutdown(c->cfd, SHUT_WR);
	if (c->client_eof) {
		px_conn_free(c);
		return;
	}
	c->phase = PX_LINGER;
	c->deadline_ms = cr_monotonic_ms() + PX_LINGER_MS;
	px_event_clear(&c->ev);
	c->ev = event_new(c->px->gw->base, c->cfd, EV_READ | EV_PERSIST, linger_cb, c);
	struct timeval tv = tv_ms(PX_LINGER_MS);
	event_add(c->ev, &tv);
}

static void reply_cb(evutil_socket_t fd, short what, void *arg)
{
	px_conn *c = arg;
	if (what & EV_TIMEOUT) {
		px_reset(c);
		return;
	}
	while (c->out_off < c->out_len) {
		ssize_t n = send(fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			px_reset(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	start_linger(c);
}

void px_reply(px_conn *c, const char *status, const char *headers, const char *body)
{
	free(c->out);
	c->out = (uint8_t *)cr_asprintf("HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n%s"
					"Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
					status, headers ? headers : "", strlen(body) + 1, body);
	c->out_len = strlen((char *)c->out);
	c->out_off = 0;
	c->phase = PX_REPLY;
	px_event_clear(&c->ev);
	c->ev = event_new(c->px->gw->base, c->cfd, EV_WRITE | EV_PERSIST, reply_cb, c);
	struct timeval tv = tv_ms(PX_FIRST_BYTES_MS);
	event_add(c->ev, &tv);
	event_active(c->ev, EV_WRITE, 0);
}

void px_reply_denied(px_conn *c, const cr_gw_verdict *v)
{
	cleanup_free char *headers = cr_asprintf("X-Cleanroom-Reason: %s\r\n", cr_reason_name(v->reason));
	cleanup_free char *body = cr_asprintf(
		"cleanroom: %s:%u is not allowed by the sandbox policy (cleanroom.yaml, sandbox.network)%s%s",
		v->host, v->port, v->detail[0] ? ": " : "", v->detail);
	px_reply(c, "403 Forbidden", headers, body);
}

/* ---- relay ---- */

static bool relay_done(const px_conn *c)
{
	return c->c2u.shut && c->u2c.shut;
}

/* One pass of moves in d: returns bytes moved (>0), 0 when every move would
 * block, or -1 on a socket error. Sets d->eof at end of file. */
static ssize_t dir_move(px_dir *d)
{
	ssize_t moved = 0, n;
	if (d->pending_len) {
		n = send(d->to, d->pending, d->pending_len, MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0) {
			d->pending += n;
			d->pending_len -= (size_t)n;
			moved += n;
		}
	}
	if (!d->pending_len && d->in_pipe) {
		n = splice(d->pipe[0], NULL, d->to, NULL, d->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n > 0) {
			d->in_pipe -= (size_t)n;
			moved += n;
		}
	}
	if (!d->eof && d->in_pipe < d->pipe_cap) {
		n = splice(d->from, NULL, d->pipe[1], NULL, d->pipe_cap - d->in_pipe,
			   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (n == 0)
			d->eof = true;
		if (n >= 0)
			moved += n ? n : 1;
		if (n > 0)
			d->in_pipe += (size_t)n;
	}
	return moved;
}

static void watch(struct event *ev, bool on)
{
	if (on && !event_pending(ev, EV_READ | EV_WRITE, NULL))
		event_add(ev, NULL);
	else if (!on && event_pending(ev, EV_READ | EV_WRITE, NULL))
		event_del(ev);
}

/* Moves what can move in d now, then watches what it waits for. */
static int dir_pump(px_dir *d)
{
	ssize_t n = 1;
	for (int round = 0; n > 0 && round < PX_ROUNDS; round++)
		if ((n = dir_move(d)) < 0)
			return -1;
	if (d->eof && !d->pending_len && !d->in_pipe && !d->shut) {
		shutdown(d->to, SHUT_WR);
		d->shut = true;
	}
	watch(d->rd, !d->eof && !d->in_pipe);
	watch(d->wr, d->pending_len || d->in_pipe);
	return 0;
}

static void pump(px_conn *c, px_dir *d)
{
	c->last_active_ms = cr_monotonic_ms();
	if (dir_pump(d) < 0) {
		px_reset(c);
		return;
	}
	if (relay_done(c))
		px_conn_free(c);
}

static void c2u_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	px_conn *c = arg;
	pump(c, &c->c2u);
}

static void u2c_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	px_conn *c = arg;
	pump(c, &c->u2c);
}

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	px_conn *c = arg;
	int64_t idle = cr_monotonic_ms() - c->last_active_ms;
	if (idle >= PX_IDLE_MS) {
		px_reset(c);
		return;
	}
	struct timeval tv = tv_ms(PX_IDLE_MS - idle);
	event_add(c->timer, &tv);
}

static int dir_init(px_conn *c, px_dir *d, int from, int to, event_callback_fn cb)
{
	d->from = from;
	d->to = to;
	if (pipe2(d->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	int cap = fcntl(d->pipe[0], F_GETPIPE_SZ);
	d->pipe_cap = cap > 0 ? (size_t)cap : 4096;
	d->rd = event_new(c->px->gw->base, from, EV_READ | EV_PERSIST, cb, c);
	d->wr = event_new(c->px->gw->base, to, EV_WRITE | EV_PERSIST, cb, c);
	return 0;
}

static void relay_start(px_conn *c)
{
	c->phase = PX_RELAY;
	px_event_clear(&c->ev);
	if (dir_init(c, &c->c2u, c->cfd, c->ufd, c2u_cb) < 0 ||
	    dir_init(c, &c->u2c, c->ufd, c->cfd, u2c_cb) < 0) {
		px_audit_error(c->px, c->protocol, c->verdict.host, c->verdict.port, c->verdict.ip,
			       "relay: no pipe for splice (file descriptor limit?)");
		px_reset(c);
		return;
	}
	c->c2u.eof = c->client_eof;
	c->last_active_ms = cr_monotonic_ms();
	c->timer = evtimer_new(c->px->gw->base, idle_cb, c);
	struct timeval tv = tv_ms(PX_IDLE_MS);
	evtimer_add(c->timer, &tv);
	if (dir_pump(&c->c2u) < 0 || dir_pump(&c->u2c) < 0) {
		px_reset(c);
		return;
	}
	if (relay_done(c))
		px_conn_free(c);
}

/* ---- dialling ---- */

static void dial_failed(px_conn *c, int error)
{
	char detail[256];
	snprintf(detail, sizeof(detail), "connect to %s:%u: %s", c->verdict.ip, c->verdict.port,
		 error == ETIMEDOUT ? "timed out" : strerror(error));
	px_audit_error(c->px, c->protocol, c->verdict.host, c->verdict.port, c->verdict.ip, detail);
	if (strcmp(c->protocol, "http") == 0 || strcmp(c->protocol, "connect") == 0) {
		cleanup_free char *body =
			cr_asprintf("cleanroom: the gateway could not reach %s:%u (%s)", c->verdict.host,
				    c->verdict.port, error == ETIMEDOUT ? "timed out" : strerror(error));
		px_reply(c, "502 Bad Gateway", NULL, body);
		return;
	}
	px_conn_free(c);
}

static void dial_cb(evutil_socket_t fd, short what, void *arg)
{
	px_conn *c = arg;
	int error = 0;
	socklen_t len = sizeof(error);
	if (what & EV_TIMEOUT)
		error = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		error = errno;
	if (error) {
		close(c->ufd);
		c->ufd = -1;
		dial_failed(c, error);
		return;
	}
	set_nodelay(c->ufd);
	relay_start(c);
}

void px_dial(px_conn *c, struct in_addr ip, uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr = ip, .sin_port = htons(port)};
	c->phase = PX_DIAL;
	px_event_clear(&c->ev);
	c->ufd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->ufd < 0) {
		dial_failed(c, errno);
		return;
	}
	if (connect(c->ufd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		int error = errno;
		close(c->ufd);
		c->ufd = -1;
		dial_failed(c, error);
		return;
	}
	c->ev = event_new(c->px->gw->base, c->ufd, EV_WRITE, dial_cb, c);
	struct timeval tv = tv_ms(PX_DIAL_MS);
	event_add(c->ev, &tv);
}
