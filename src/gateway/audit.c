/* SPDX-License-Identifier: Apache-2.0 */
/* audit.c -- the gateway's events to the server: one compact JSON object and
 * a newline per event on audit_fd (docs/internals/gateway.md has the fields).
 *
 * The pipe is non-blocking: the event loop relays sandbox traffic and must
 * never wait for the server. A deny must not be lost silently, so when the
 * pipe is full lines are held in memory (CR_GW_AUDIT_BACKLOG bytes) and
 * written when it becomes writable again; only past that are events dropped,
 * counted in events_dropped and reported by a gateway_error line once the
 * backlog has drained. Every field is capped and made valid UTF-8, which
 * keeps a line below PIPE_BUF so that the kernel writes it whole or not at
 * all.
 *
 * Lines are not written at once but at the end of the loop's next round
 * (a zero timer runs after the round's I/O callbacks): the answer to the
 * sandbox that caused an event leaves first, and the lines of one round go
 * to the server in one write. Closing the gateway drains them. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "gateway/internal.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/utf8.h"
#include "util/xalloc.h"

#define FIELD_MAX  512 /* bytes of any one string field */
#define DETAIL_MAX 1024

typedef struct audit_backlog {
	cr_gateway *gw;
	struct event *writable;
	struct event *soon; /* zero timer: the held lines, after this round's I/O */
	char *buf;          /* CR_GW_AUDIT_BACKLOG bytes once needed */
	size_t start, len;
	uint64_t unreported; /* drops not yet reported in a gateway_error line */
} audit_backlog;

/* The backlog of the process's gateway: a gateway process runs exactly one. */
static audit_backlog *backlog;

static audit_backlog *backlog_of(const cr_gateway *gw)
{
	return backlog && backlog->gw == gw ? backlog : NULL;
}

/* A copy of s of at most max bytes, with control characters and bytes that
 * are not well-formed UTF-8 replaced by '?'. */
static char *clean(const char *s, size_t max)
{
	size_t n = strnlen(s, max), o = 0;
	char *out = cr_xmalloc(n + 1);
	for (size_t i = 0; i < n;) {
		size_t k = cr_utf8_seq((const unsigned char *)s + i, n - i);
		if (k == 0 || (k == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7F))) {
			out[o++] = '?';
			i++;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return out;
}

static void put(json_t *o, const char *key, const char *value, size_t max)
{
	if (!value || !*value)
		return;
	cleanup_free char *v = clean(value, max);
	json_object_set_new(o, key, json_string(v));
}

/* The line for ev, newline included (owned), or NULL. */
static char *encode(const cr_gw_event *ev, size_t *len)
{
	json_t *o = json_object();
	put(o, "kind", ev->kind, FIELD_MAX);
	put(o, "action", ev->action, FIELD_MAX);
	put(o, "protocol", ev->protocol, FIELD_MAX);
	put(o, "host", ev->host, FIELD_MAX);
	if (ev->port)
		json_object_set_new(o, "port", json_integer(ev->port));
	put(o, "ip", ev->ip, FIELD_MAX);
	put(o, "rule", ev->rule, FIELD_MAX);
	if (ev->reason != CR_REASON_NONE)
		put(o, "reason_code", cr_reason_name(ev->reason), FIELD_MAX);
	put(o, "qtype", ev->qtype, FIELD_MAX);
	put(o, "detail", ev->detail, DETAIL_MAX);
	put(o, "registry", ev->registry, FIELD_MAX);
	put(o, "package", ev->package, FIELD_MAX);
	put(o, "version", ev->version, FIELD_MAX);
	put(o, "requested_path", ev->requested_path, DETAIL_MAX);
	put(o, "cache", ev->cache, FIELD_MAX);
	cleanup_free char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text)
		return NULL;
	*len = strlen(text) + 1;
	char *line = cr_xmalloc(*len + 1);
	memcpy(line, text, *len - 1);
	line[*len - 1] = '\n';
	line[*len] = '\0';
	return line;
}

/* Holds (part of) a line; false when the backlog is full. */
static bool hold(audit_backlog *b, const char *p, size_t n)
{
	if (!b->buf)
		b->buf = cr_xmalloc(CR_GW_AUDIT_BACKLOG);
	if (b->len + n > CR_GW_AUDIT_BACKLOG)
		return false;
	if (b->start + b->len + n > CR_GW_AUDIT_BACKLOG) {
		memmove(b->buf, b->buf + b->start, b->len);
		b->start = 0;
	}
	memcpy(b->buf + b->start + b->len, p, n);
	b->len += n;
	static const struct timeval now = {0, 0};
	if (!event_pending(b->writable, EV_WRITE, NULL) && !evtimer_pending(b->soon, NULL))
		evtimer_add(b->soon, &now);
	return true;
}

static void count_drop(cr_gateway *gw)
{
	gw->events_dropped++;
	audit_backlog *b = backlog_of(gw);
	if (b)
		b->unreported++;
}

/* Writes what the pipe takes; returns bytes written (0 on EAGAIN), or -1 on
 * another error (the server is gone: nothing can be delivered). */
static ssize_t write_some(int fd, const char *p, size_t n)
{
	ssize_t w;
	do
		w = write(fd, p, n);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	return w;
}

/* Holds the line for the end of the round; written at once only without a
 * loop (before cr_gw_audit_open). */
static void emit(cr_gateway *gw, const char *line, size_t len)
{
	audit_backlog *b = backlog_of(gw);
	if (!b) {
		ssize_t w = write_some(gw->cfg.audit_fd, line, len);
		if (w < 0 || (size_t)w < len)
			count_drop(gw);
		else
			gw->events_written++;
		return;
	}
	if (!hold(b, line, len)) {
		count_drop(gw);
		return;
	}
	gw->events_written++;
}

void cr_gw_audit(cr_gateway *gw, const cr_gw_event *ev)
{
	size_t len = 0;
	cleanup_free char *line = encode(ev, &len);
	if (!line) {
		count_drop(gw);
		return;
	}
	emit(gw, line, len);
}

static void report_drops(audit_backlog *b)
{
	if (b->unreported == 0 || b->len != 0)
		return;
	cleanup_free char *detail = cr_asprintf(
		"%llu audit events dropped: the audit pipe stayed full past the gateway's %u-byte backlog",
		(unsigned long long)b->unreported, CR_GW_AUDIT_BACKLOG);
	b->unreported = 0;
	cr_gw_audit(b->gw, &(cr_gw_event){.kind = "gateway_error", .detail = detail});
}

/* Counts the lines still held as dropped and forgets them. */
static void discard(audit_backlog *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->buf[b->start + i] == '\n') {
			b->gw->events_written--;
			b->gw->events_dropped++;
		}
	b->start = b->len = 0;
}

/* Writes from the backlog; returns -1 when the pipe is broken (what it held
 * is then discarded). */
static int flush(audit_backlog *b)
{
	ssize_t w = write_some(b->gw->cfg.audit_fd, b->buf + b->start, b->len);
	if (w < 0) {
		discard(b);
		return -1;
	}
	b->start += (size_t)w;
	b->len -= (size_t)w;
	if (b->len == 0)
		b->start = 0;
	return 0;
}

static void on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	audit_backlog *b = arg;
	if (flush(b) == 0 && b->len > 0)
		event_add(b->writable, NULL);
	report_drops(b);
}

int cr_gw_audit_open(cr_gateway *gw, cr_error **err)
{
	int fd = gw->cfg.audit_fd;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "audit fd %d", fd);
	if (backlog)
		return cr_error_make(err, EBUSY, CR_REASON_INTERNAL, "audit backlog already attached");
	audit_backlog *b = cr_xcalloc(1, sizeof(*b));
	b->gw = gw;
	b->writable = event_new(gw->base, fd, EV_WRITE, on_writable, b);
	b->soon = evtimer_new(gw->base, on_writable, b);
	if (!b->writable || !b->soon) {
		if (b->writable)
			event_free(b->writable);
		if (b->soon)
			event_free(b->soon);
		free(b);
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "audit write event");
	}
	backlog = b;
	return 0;
}

static void drain(audit_backlog *b, int timeout_ms)
{
	int64_t deadline = cr_monotonic_ms() + timeout_ms;
	for (;;) {
		if (b->len > 0 && flush(b) < 0)
			return;
		report_drops(b); /* may add a line */
		int64_t left = deadline - cr_monotonic_ms();
		if (b->len == 0 || left <= 0)
			return;
		struct pollfd p = {.fd = b->gw->cfg.audit_fd, .events = POLLOUT};
		if (poll(&p, 1, (int)left) <= 0)
			return;
	}
}

void cr_gw_audit_close(cr_gateway *gw, int timeout_ms)
{
	audit_backlog *b = backlog_of(gw);
	if (!b)
		return;
	drain(b, timeout_ms);
	discard(b);
	event_free(b->writable);
	event_free(b->soon);
	free(b->buf);
	free(b);
	backlog = NULL;
}

size_t cr_gw_audit_backlog(const cr_gateway *gw)
{
	const audit_backlog *b = backlog_of(gw);
	return b ? b->len : 0;
}
