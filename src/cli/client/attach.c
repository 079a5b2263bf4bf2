/* SPDX-License-Identifier: Apache-2.0 */
/* attach.c -- AttachExecution from the client side: the HTTP/1.1 Upgrade
 * handshake, then Connect envelopes of ExecutionAttachFrame both ways on the
 * raw connection (docs/internals/attach.md).
 *
 * libcurl makes the connection (CURLOPT_CONNECT_ONLY: to the unix socket,
 * or TCP plus TLS for https://) and carries every byte with curl_easy_send
 * and curl_easy_recv, so both transports share this one framing path. The
 * socket is non-blocking. Frames to send go to a queue; the bytes being
 * written sit in a fixed buffer that does not move until they are all
 * written, because a TLS write that returned "again" must be retried with
 * the same bytes. Reading goes on until the socket has nothing more (TLS may
 * hold decrypted bytes that poll(2) cannot see), or until a budget is spent
 * so that a flood of output cannot starve the caller's other inputs. */
#include "cli/client/attach.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli/client/internal.h"
#include "config.h"
#include "connect/connect.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

#define ATTACH_PATH     "/cleanroom.v1.ExecutionService/AttachExecution"
#define ATTACH_PROTOCOL "cleanroom-attach.v1"
#define CONNECT_TIMEOUT 10000L
#define HANDSHAKE_MS    30000
#define MAX_HEAD        (16u << 10)
#define MAX_QUEUE       (4u << 20)
#define WIRE_CHUNK      (16u << 10)
#define RECEIVE_CHUNK   (64u << 10)
#define RECEIVE_BUDGET  (256u << 10)

struct cr_attach {
	char *endpoint;    /* for messages */
	char *socket_path; /* unix endpoints */
	char *url;         /* what libcurl connects to */
	char *host;        /* the Host header */
	bool https;
	CURL *easy;
	int fd;
	char *sandbox_id, *execution_id;
	cr_buf queue;                   /* encoded frames not yet in wire[] */
	unsigned char wire[WIRE_CHUNK]; /* bytes being written; never moves */
	size_t wire_len, wire_off;      /* wire[wire_off..wire_len) is still to write */
	cr_buf early;                   /* bytes that arrived with the 101 head */
	unsigned char *rbuf;            /* RECEIVE_CHUNK bytes */
	cr_connect_decoder decoder;
	bool ended;   /* a clean end-of-stream was read */
	bool backlog; /* the last receive stopped at its budget */
	bool unreachable;
	int code;
	char errbuf[CURL_ERROR_SIZE];
};

cr_attach *cr_attach_new(const cr_client *c)
{
	cr_attach *a = cr_xcalloc(1, sizeof(*a));
	const char *ep = cr_client_endpoint(c);
	a->endpoint = cr_xstrdup(ep);
	a->fd = -1;
	if (strncmp(ep, "unix://", 7) == 0) {
		a->socket_path = cr_xstrdup(ep + 7);
		a->url = cr_xstrdup("http://localhost/");
		a->host = cr_xstrdup("localhost");
	} else { /* cr_client_open accepted it: https://HOST[:PORT] */
		a->https = true;
		a->url = cr_asprintf("%s/", ep);
		a->host = cr_xstrdup(ep + strlen("https://"));
	}
	cr_buf_init(&a->queue, MAX_QUEUE);
	cr_buf_init(&a->early, MAX_HEAD);
	cr_connect_decoder_init(&a->decoder, CR_CONNECT_SIDE_RESPONSE, CR_CLIENT_MAX_STREAM_MESSAGE);
	return a;
}

void cr_attach_free(cr_attach *a)
{
	if (!a)
		return;
	if (a->easy)
		curl_easy_cleanup(a->easy);
	cr_buf_free(&a->queue);
	cr_buf_free(&a->early);
	cr_connect_decoder_free(&a->decoder);
	free(a->rbuf);
	free(a->endpoint);
	free(a->socket_path);
	free(a->url);
	free(a->host);
	free(a->sandbox_id);
	free(a->execution_id);
	free(a);
}

int cr_attach_fd(const cr_attach *a)
{
	return a->fd;
}

size_t cr_attach_pending(const cr_attach *a)
{
	return a->wire_len - a->wire_off + a->queue.len;
}

bool cr_attach_backlog(const cr_attach *a)
{
	return a->backlog;
}

int cr_attach_last_code(const cr_attach *a)
{
	return a->code;
}

bool cr_attach_unreachable(const cr_attach *a)
{
	return a->unreachable;
}

/* ---- the connection ---------------------------------------------------- */

static const char *curl_message(const cr_attach *a, CURLcode rc)
{
	return *a->errbuf ? a->errbuf : curl_easy_strerror(rc);
}

static int connect_endpoint(cr_attach *a, cr_error **err)
{
	a->easy = curl_easy_init();
	if (!a->easy)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "create a libcurl handle");
	CURL *e = a->easy;
	int bad = 0;
	bad |= curl_easy_setopt(e, CURLOPT_URL, a->url) != CURLE_OK;
	if (a->socket_path)
		bad |= curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, a->socket_path) != CURLE_OK;
	else
		bad |= cr_client_tls_trust(e);
	bad |= curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, a->errbuf) != CURLE_OK;
	if (bad)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "libcurl refuses an option the client needs");
	a->errbuf[0] = '\0';
	CURLcode rc = curl_easy_perform(e);
	if (rc != CURLE_OK) {
		a->unreachable = rc == CURLE_COULDNT_CONNECT;
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "%s %s: %s",
				     a->unreachable ? "cannot reach" : "connect to", a->endpoint,
				     curl_message(a, rc));
	}
	curl_socket_t s = CURL_SOCKET_BAD;
	if (curl_easy_getinfo(e, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK || s == CURL_SOCKET_BAD)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "no socket for %s", a->endpoint);
	a->fd = (int)s;
	return 0;
}

/* Waits until the socket is ready for events or the deadline passes. */
static int wait_socket(cr_attach *a, short events, int64_t deadline, cr_error **err)
{
	int64_t left = deadline - cr_monotonic_ms();
	if (left <= 0)
		return cr_error_make(err, ETIMEDOUT, CR_REASON_INTERNAL, "attach to %s", a->endpoint);
	struct pollfd p = {.fd = a->fd, .events = events};
	if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "wait for %s", a->endpoint);
	return 0;
}

/* Reads what is available into buf (at most cap bytes). Returns the byte
 * count (0: the peer closed), -2 when nothing is waiting, -1 with *err. */
static ssize_t recv_some(cr_attach *a, void *buf, size_t cap, cr_error **err)
{
	size_t n = 0;
	a->errbuf[0] = '\0';
	CURLcode rc = curl_easy_recv(a->easy, buf, cap, &n);
	if (rc == CURLE_AGAIN)
		return -2;
	if (rc != CURLE_OK)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "read from %s: %s", a->endpoint,
				     curl_message(a, rc));
	return (ssize_t)n;
}

/* Reads until deadline; -2 never escapes (it waits instead). */
static ssize_t recv_wait(cr_attach *a, void *buf, size_t cap, int64_t deadline, cr_error **err)
{
	for (;;) {
		ssize_t n = recv_some(a, buf, cap, err);
		if (n != -2)
			return n;
		if (wait_socket(a, POLLIN, deadline, err) < 0)
			return -1;
	}
}

/* ---- sending ------------------------------------------------------------- */

int cr_attach_flush(cr_attach *a, cr_error **err)
{
	(void)err; /* failures are kept for the read side (see below) */
	for (;;) {
		if (a->wire_off == a->wire_len) {
			if (!a->queue.len)
				return 0;
			size_t k = a->queue.len < WIRE_CHUNK ? a->queue.len : WIRE_CHUNK;
			memcpy(a->wire, a->queue.data, k);
			memmove(a->queue.data, a->queue.data + k, a->queue.len - k + 1); /* with the NUL */
			a->queue.len -= k;
			a->wire_len = k;
			a->wire_off = 0;
		}
		size_t n = 0;
		a->errbuf[0] = '\0';
		CURLcode rc = curl_easy_send(a->easy, a->wire + a->wire_off, a->wire_len - a->wire_off, &n);
		if (rc == CURLE_AGAIN || (rc == CURLE_OK && n == 0))
			return 0;
		if (rc != CURLE_OK) {
			/* The server ended the session (its end-of-stream says why) and closed, or
			 * the connection broke: either way the read side sees it and reports. */
			a->queue.len = 0;
			a->wire_off = a->wire_len = 0;
			return 0;
		}
		a->wire_off += n;
	}
}

int cr_attach_drain(cr_attach *a, int timeout_ms, cr_error **err)
{
	int64_t deadline = cr_monotonic_ms() + timeout_ms;
	for (;;) {
		if (cr_attach_flush(a, err) < 0)
			return -1;
		if (!cr_attach_pending(a))
			return 0;
		if (wait_socket(a, POLLOUT, deadline, err) < 0)
			return -1;
	}
}

int cr_attach_send(cr_attach *a, cr_attach_frame *f, cr_error **err)
{
	f->sandbox_id = a->sandbox_id ? a->sandbox_id : "";
	f->execution_id = a->execution_id ? a->execution_id : "";
	size_t len = protobuf_c_message_get_packed_size(&f->base);
	cleanup_free uint8_t *packed = cr_xmalloc(len ? len : 1);
	protobuf_c_message_pack(&f->base, packed);
	if (cr_connect_envelope_encode(&a->queue, 0, packed, len, err) < 0)
		return cr_error_wrap(err, "more than %u bytes wait to be sent to %s", MAX_QUEUE, a->endpoint);
	return cr_attach_flush(a, err);
}

/* ---- the handshake --------------------------------------------------------- */

/* The value of header `name` in a response head (NUL-terminated, lines
 * ending in CRLF), copied into out; false when absent. */
static bool header_value(const char *head, const char *name, char *out, size_t cap)
{
	size_t n = strlen(name);
	for (const char *line = strstr(head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
		const char *l = line + 2;
		if (strncasecmp(l, name, n) != 0 || l[n] != ':')
			continue;
		const char *v = l + n + 1;
		v += strspn(v, " \t");
		size_t len = strcspn(v, "\r");
		while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len >= cap)
			len = cap - 1;
		memcpy(out, v, len);
		out[len] = '\0';
		return true;
	}
	return false;
}

/* The upgrade request; the token (https only) must not smuggle a header. */
static int request_head(const cr_attach *a, cr_buf *out, cr_error **err)
{
	const char *token = a->https ? getenv("CLEANROOM_TOKEN") : NULL;
	if (token && strpbrk(token, "\r\n"))
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID,
				     "$CLEANROOM_TOKEN contains a line break");
	cleanup_free char *auth =
		token && *token ? cr_asprintf("Authorization: Bearer %s\r\n", token) : cr_xstrdup("");
	if (cr_buf_printf(out,
			  "POST " ATTACH_PATH " HTTP/1.1\r\n"
			  "Host: %s\r\n"
			  "User-Agent: cleanroom/" CLEANROOM_VERSION "\r\n"
			  "Connection: Upgrade\r\n"
			  "Upgrade: " ATTACH_PROTOCOL "\r\n"
			  "Content-Type: application/connect+proto\r\n"
			  "Connect-Protocol-Version: 1\r\n"
			  "%s"
			  "Content-Length: 0\r\n\r\n",
			  a->host, auth) < 0)
		return cr_error_make(err, E2BIG, CR_REASON_INTERNAL, "the attach request for %s",
				     a->endpoint);
	return 0;
}

/* Reads the response head into head (NUL-terminated, without the blank
 * line); bytes after it go to a->early. */
static int read_head(cr_attach *a, cr_buf *head, int64_t deadline, cr_error **err)
{
	char chunk[4096];
	for (;;) {
		ssize_t n = recv_wait(a, chunk, sizeof(chunk), deadline, err);
		if (n < 0)
			return -1;
		if (n == 0)
			return cr_error_make(
				err, 0, CR_REASON_INTERNAL,
				"%s closed the connection instead of answering the attach request",
				a->endpoint);
		if (cr_buf_append(head, chunk, (size_t)n) < 0)
			return cr_error_make(err, E2BIG, CR_REASON_INTERNAL,
					     "the answer of %s to the attach request", a->endpoint);
		char *end = strstr(head->data, "\r\n\r\n");
		if (end) {
			size_t used = (size_t)(end - head->data) + 4;
			cr_buf_append(&a->early, head->data + used, head->len - used); /* < MAX_HEAD */
			head->len = used - 2;
			head->data[head->len] = '\0';
			return 0;
		}
	}
}

/* The body of a refusal: Content-Length bytes, or until the peer closes. */
static void read_body(cr_attach *a, const char *head, cr_buf *body, int64_t deadline)
{
	char value[32];
	size_t want = SIZE_MAX;
	if (header_value(head, "Content-Length", value, sizeof(value)))
		want = strtoull(value, NULL, 10);
	cr_buf_append(body, a->early.data ? a->early.data : "", a->early.len);
	char chunk[4096];
	while (body->len < want && body->len < body->limit) {
		cr_error *e = NULL;
		ssize_t n = recv_wait(a, chunk, sizeof(chunk), deadline, &e);
		cr_error_free(e);
		if (n <= 0 || cr_buf_append(body, chunk, (size_t)n) < 0)
			return;
	}
}

/* A head other than 101: the server's Connect error, or what it said. */
static int refused(cr_attach *a, const char *head, long status, int64_t deadline, cr_error **err)
{
	cleanup_buf cr_buf body;
	cr_buf_init(&body, CR_CLIENT_MAX_ERROR_BODY);
	read_body(a, head, &body, deadline);
	cr_connect_code code = CR_CONNECT_UNKNOWN;
	cr_client_error_from_body(body.data, body.len, status, a->endpoint, &code, err);
	a->code = (int)code;
	return -1;
}

static int handshake(cr_attach *a, cr_error **err)
{
	int64_t deadline = cr_monotonic_ms() + HANDSHAKE_MS;
	if (request_head(a, &a->queue, err) < 0 || cr_attach_drain(a, HANDSHAKE_MS, err) < 0)
		return -1;
	cleanup_buf cr_buf head;
	cr_buf_init(&head, MAX_HEAD);
	if (read_head(a, &head, deadline, err) < 0)
		return -1;
	char *end = NULL;
	long status =
		strncmp(head.data, "HTTP/1.", 7) == 0 && head.len > 12 ? strtol(head.data + 9, &end, 10) : -1;
	if (status < 100 || status > 999 || !end || (*end != ' ' && *end != '\r' && *end))
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "%s answered the attach request with something other than HTTP/1.x",
				     a->endpoint);
	if (status != 101)
		return refused(a, head.data, status, deadline, err);
	char up[64];
	if (!header_value(head.data, "Upgrade", up, sizeof(up)) || strcasecmp(up, ATTACH_PROTOCOL) != 0)
		return cr_error_make(err, 0, CR_REASON_INTERNAL,
				     "%s switched protocols but not to " ATTACH_PROTOCOL, a->endpoint);
	return 0;
}

int cr_attach_open(cr_attach *a, const char *sandbox_id, const char *execution_id, cr_error **err)
{
	a->code = CR_CONNECT_OK;
	a->unreachable = false;
	if (a->easy)
		return cr_error_make(err, 0, CR_REASON_INTERNAL, "attach session opened twice");
	if (connect_endpoint(a, err) < 0 || handshake(a, err) < 0)
		return -1;
	a->sandbox_id = cr_xstrdup(sandbox_id ? sandbox_id : "");
	a->execution_id = cr_xstrdup(execution_id);
	Cleanroom__V1__ExecutionAttachOpen open = CLEANROOM__V1__EXECUTION_ATTACH_OPEN__INIT;
	open.sandbox_id = a->sandbox_id;
	open.execution_id = a->execution_id;
	cr_attach_frame f = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__INIT;
	f.payload_case = CLEANROOM__V1__EXECUTION_ATTACH_FRAME__PAYLOAD_OPEN;
	f.open = &open;
	return cr_attach_send(a, &f, err);
}

/* ---- receiving ------------------------------------------------------------- */

/* The end-of-stream message: {} (1) or {"error": {...}} (-1). */
static int end_of_stream(cr_attach *a, const unsigned char *payload, size_t len, cr_error **err)
{
	json_t *eos = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, NULL);
	int rc = 1;
	if (!json_is_object(eos)) {
		rc = cr_error_make(err, 0, CR_REASON_INTERNAL,
				   "%s ended the attach session with an end-of-stream message that is not "
				   "a JSON object",
				   a->endpoint);
	} else if (json_object_get(eos, "error")) {
		cr_connect_code code = CR_CONNECT_UNKNOWN;
		rc = cr_client_error_from_json(json_object_get(eos, "error"), CR_CONNECT_UNKNOWN, &code, err);
		a->code = (int)code;
	} else {
		a->ended = true;
	}
	json_decref(eos);
	return rc;
}

/* Decodes bytes; 0 = more to come, 1 = clean end, -1 = error. */
static int feed(cr_attach *a, const unsigned char *data, size_t len, cr_attach_frame_fn on_frame, void *ctx,
		cr_error **err)
{
	while (len > 0) {
		cr_connect_envelope env;
		int r = cr_connect_decoder_push(&a->decoder, &data, &len, &env, err);
		if (r < 0)
			return cr_error_wrap(err, "attach session with %s", a->endpoint);
		if (r == 0)
			break;
		if (env.flags & CR_CONNECT_FLAG_END_STREAM)
			return end_of_stream(a, env.payload, env.len, err);
		ProtobufCMessage *m = protobuf_c_message_unpack(
			&cleanroom__v1__execution_attach_frame__descriptor, NULL, env.len, env.payload);
		if (!m)
			return cr_error_make(err, 0, CR_REASON_INTERNAL,
					     "%s sent a frame that is not a valid ExecutionAttachFrame",
					     a->endpoint);
		on_frame(ctx, (const cr_attach_frame *)m);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}

int cr_attach_receive(cr_attach *a, cr_attach_frame_fn on_frame, void *ctx, cr_error **err)
{
	a->backlog = false;
	if (a->ended)
		return 1;
	if (a->early.len) {
		cleanup_buf cr_buf early = a->early;
		cr_buf_init(&a->early, MAX_HEAD);
		int r = feed(a, (const unsigned char *)early.data, early.len, on_frame, ctx, err);
		if (r != 0)
			return r;
	}
	if (!a->rbuf)
		a->rbuf = cr_xmalloc(RECEIVE_CHUNK);
	for (size_t total = 0; total < RECEIVE_BUDGET;) {
		ssize_t n = recv_some(a, a->rbuf, RECEIVE_CHUNK, err);
		if (n == -2)
			return 0;
		if (n < 0)
			return -1;
		if (n == 0)
			return cr_error_make(err, 0, CR_REASON_INTERNAL,
					     "%s closed the attach session without an end-of-stream message",
					     a->endpoint);
		total += (size_t)n;
		int r = feed(a, a->rbuf, (size_t)n, on_frame, ctx, err);
		if (r != 0)
			return r;
	}
	a->backlog = true;
	return 0;
}
