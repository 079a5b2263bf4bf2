/* SPDX-License-Identifier: Apache-2.0 */
/* http.c -- evhttp on a unix socket, and optionally on TCP with TLS and
 * bearer tokens (see http.h; the TLS and token pieces are in http_tls.c and
 * http_token.c). */
#include "server/http.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "connect/connect.h"
#include "server/http_tls.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define MAX_HEADERS 100

struct cr_http_server {
	struct evhttp *http;
	char *socket_path; /* unix socket only: removed when the server is freed */
	char *address;     /* "unix:///path" or "https://host:port" */
	SSL_CTX *tls;      /* TCP only, with tokens */
	cr_http_tokens *tokens;
	cr_http_handler handler;
	void *data;
};

const char *cr_http_header_get(const cr_http_request *r, const char *name)
{
	for (size_t i = 0; i < r->n_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

char *cr_http_default_socket(void)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (geteuid() == 0 || !xdg || !*xdg)
		return cr_xstrdup(geteuid() == 0 ? "/run/cleanroom/cleanroom.sock" : "/tmp/cleanroom.sock");
	return cr_asprintf("%s/cleanroom/cleanroom.sock", xdg);
}

char *cr_server_default_state_dir(void)
{
	if (geteuid() == 0)
		return cr_xstrdup("/var/lib/cleanroom");
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	if (xdg && *xdg)
		return cr_asprintf("%s/cleanroom", xdg);
	return cr_asprintf("%s/.local/state/cleanroom", home && *home ? home : "/tmp");
}

static const char *method_name(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	default: return "OTHER";
	}
}

static void peer_credentials(struct evhttp_request *raw, cr_http_request *r)
{
	r->peer_pid = -1;
	r->peer_uid = (uid_t)-1;
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(raw));
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (bev && getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		r->peer_pid = cred.pid;
		r->peer_uid = cred.uid;
	}
}

/* A remote request passes only with a configured bearer token; otherwise it
 * is answered 401 here and never reaches the handler. */
static bool authenticate(const cr_http_server *s, cr_http_request *r)
{
	r->peer_pid = -1;
	r->peer_uid = (uid_t)-1;
	r->remote = true;
	const char *authorization = cr_http_header_get(r, "Authorization");
	r->actor_hint = cr_http_tokens_check(s->tokens, authorization);
	if (r->actor_hint)
		return true;
	size_t len = 0;
	cleanup_free char *body = cr_connect_error_body(
		CR_CONNECT_UNAUTHENTICATED, CR_REASON_NONE,
		authorization ? "the bearer token is not accepted"
			      : "this listener needs a bearer token: send 'Authorization: Bearer <token>'",
		&len);
	cr_http_header challenge = {"WWW-Authenticate", authorization ? "Bearer realm=\"cleanroom\", "
									"error=\"invalid_token\""
								      : "Bearer realm=\"cleanroom\""};
	cr_http_reply(r, cr_connect_code_http_status(CR_CONNECT_UNAUTHENTICATED), "application/json",
		      &challenge, 1, body, len);
	return false;
}

static void on_request(struct evhttp_request *raw, void *arg)
{
	cr_http_server *s = arg;
	cr_http_header headers[MAX_HEADERS];
	cr_http_request r = {
		.method = method_name(evhttp_request_get_command(raw)), .headers = headers, .raw = raw};
	for (struct evkeyval *kv = evhttp_request_get_input_headers(raw)->tqh_first; kv;
	     kv = kv->next.tqe_next) {
		if (r.n_headers == MAX_HEADERS) {
			cr_http_reply(&r, 431, "text/plain", NULL, 0, "too many headers\n", 17);
			return;
		}
		headers[r.n_headers++] = (cr_http_header){kv->key, kv->value};
	}
	const char *uri = evhttp_request_get_uri(raw);
	cleanup_free char *path = cr_xstrndup(uri, strcspn(uri, "?"));
	r.path = path;
	r.query = uri[strlen(path)] == '?' ? uri + strlen(path) + 1 : "";
	struct evbuffer *in = evhttp_request_get_input_buffer(raw);
	r.body_len = evbuffer_get_length(in);
	r.body = r.body_len ? evbuffer_pullup(in, -1) : (const unsigned char *)"";
	if (!s->tokens)
		peer_credentials(raw, &r);
	else if (!authenticate(s, &r))
		return;
	s->handler(&r, s->data);
}

static void add_headers(struct evhttp_request *raw, const char *content_type, const cr_http_header *extra,
			size_t n)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(raw);
	if (content_type)
		evhttp_add_header(out, "Content-Type", content_type);
	for (size_t i = 0; i < n; i++)
		evhttp_add_header(out, extra[i].name, extra[i].value);
}

void cr_http_reply(const cr_http_request *r, int status, const char *content_type,
		   const cr_http_header *extra, size_t n_extra, const void *body, size_t len)
{
	add_headers(r->raw, content_type, extra, n_extra);
	struct evbuffer *buf = evbuffer_new();
	evbuffer_add(buf, body, len);
	evhttp_send_reply(r->raw, status, NULL, buf);
	evbuffer_free(buf);
}

void cr_http_stream_start(struct evhttp_request *raw, int status, const char *content_type)
{
	add_headers(raw, content_type, NULL, 0);
	evhttp_send_reply_start(raw, status, NULL);
}

void cr_http_stream_chunk(struct evhttp_request *raw, const void *data, size_t len)
{
	struct evbuffer *buf = evbuffer_new();
	evbuffer_add(buf, data, len);
	evhttp_send_reply_chunk(raw, buf);
	evbuffer_free(buf);
}

void cr_http_stream_end(struct evhttp_request *raw)
{
	evhttp_send_reply_end(raw);
}

size_t cr_http_pending_output(struct evhttp_request *raw)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(raw));
	return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

void cr_http_on_close(struct evhttp_request *raw, cr_http_close_fn fn, void *arg)
{
	evhttp_connection_set_closecb(evhttp_request_get_connection(raw), fn, arg);
}

struct bufferevent *cr_http_upgrade(struct evhttp_request *raw, const char *protocol)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(raw));
	if (!bev)
		return NULL;
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	bufferevent_set_timeouts(bev, NULL, NULL);
	evbuffer_add_printf(bufferevent_get_output(bev),
			    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n",
			    protocol);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return bev;
}

void cr_http_upgraded_close(struct evhttp_request *raw)
{
	evhttp_connection_free(evhttp_request_get_connection(raw));
}

static int make_parent(const char *socket_path, cr_error **err)
{
	cleanup_free char *dir = cr_xstrdup(socket_path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "create '%s'", dir);
	return 0;
}

/* 1 when a server answers on path, 0 when nothing does (a stale socket is
 * removed; anything else at the path is left for bind to refuse). */
static int in_use(const char *path, const struct sockaddr_un *sa)
{
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 1;
	struct stat st;
	if (errno == ECONNREFUSED && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(path);
	return 0;
}

static int bind_unix(const char *path, cr_error **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sa.sun_path))
		return cr_error_make(err, ENAMETOOLONG, CR_REASON_USAGE_INVALID, "socket path '%s'", path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (make_parent(path, err) < 0)
		return -1;
	if (in_use(path, &sa))
		return cr_error_make(err, EADDRINUSE, CR_REASON_USAGE_INVALID,
				     "a server already answers on '%s'", path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	mode_t old = umask(0177);
	int rc = fd < 0 ? -1 : bind(fd, (const struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return cr_error_make(err, e, CR_REASON_INTERNAL, "listen on '%s'", path);
	}
	return fd;
}

/* A server with the caps every listener has; not listening yet. */
static cr_http_server *new_server(struct event_base *base, cr_http_handler handler, void *data)
{
	cr_http_server *s = cr_xcalloc(1, sizeof(*s));
	s->http = evhttp_new(base);
	if (!s->http)
		abort();
	s->handler = handler;
	s->data = data;
	evhttp_set_max_headers_size(s->http, CR_HTTP_MAX_HEADERS_BYTES);
	evhttp_set_max_body_size(s->http, CR_HTTP_MAX_BODY_BYTES);
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	evhttp_set_timeout(s->http, 60);
	evhttp_set_gencb(s->http, on_request, s);
	return s;
}

/* Serves on the listening fd (taken over, closed on failure). */
static int serve_fd(cr_http_server *s, int fd, cr_error **err)
{
	if (evhttp_accept_socket_with_handle(s->http, fd))
		return 0;
	close(fd);
	return cr_error_make(err, 0, CR_REASON_INTERNAL, "serve on '%s'", s->address);
}

int cr_http_listen_unix(struct event_base *base, const char *socket_path, cr_http_handler handler, void *data,
			cr_http_server **out, cr_error **err)
{
	int fd = bind_unix(socket_path, err);
	if (fd < 0)
		return -1;
	cr_http_server *s = new_server(base, handler, data);
	s->socket_path = cr_xstrdup(socket_path);
	s->address = cr_asprintf("unix://%s", socket_path);
	if (serve_fd(s, fd, err) < 0) {
		cr_http_server_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

int cr_http_listen_tls(struct event_base *base, const cr_http_tls_options *opts, cr_http_handler handler,
		       void *data, cr_http_server **out, cr_error **err)
{
	cleanup_tokens cr_http_tokens *tokens = NULL;
	if (cr_http_tokens_load(opts->token_file, &tokens, err) < 0)
		return -1;
	SSL_CTX *tls = cr_http_tls_context(opts->cert_file, opts->key_file, err);
	if (!tls)
		return -1;
	char *address = NULL;
	int fd = cr_http_bind_tcp(opts->listen, &address, err);
	if (fd < 0) {
		SSL_CTX_free(tls);
		return -1;
	}
	cr_http_server *s = new_server(base, handler, data);
	s->address = address;
	s->tls = tls;
	s->tokens = steal_pointer(&tokens);
	evhttp_set_bevcb(s->http, cr_http_tls_bufferevent, s->tls);
	if (serve_fd(s, fd, err) < 0) {
		cr_http_server_free(s);
		return -1;
	}
	*out = s;
	return 0;
}

const char *cr_http_server_address(const cr_http_server *s)
{
	return s->address;
}

size_t cr_http_server_tokens(const cr_http_server *s)
{
	return cr_http_tokens_count(s->tokens);
}

void cr_http_server_free(cr_http_server *s)
{
	if (!s)
		return;
	if (s->http)
		evhttp_free(s->http); /* frees the connections, and with them their SSL objects */
	if (s->socket_path)
		unlink(s->socket_path);
	SSL_CTX_free(s->tls);
	cr_http_tokens_free(s->tokens);
	free(s->socket_path);
	free(s->address);
	free(s);
}
