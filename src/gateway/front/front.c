/* SPDX-License-Identifier: Apache-2.0 */
/* front.c -- the fronts' HTTP server (front.h): a libevent evhttp on the
 * gateway's address, port cfg.front_port (the firewall redirects the
 * sandbox's connections to gateway:80 there), routing by path prefix, the
 * life cycle of one cr_front_call and the answers that end it.
 *
 * A call ends in exactly one of two ways: the handler answers (cr_front_send*,
 * cr_front_refuse), or the client goes away first. In the second case evhttp
 * detaches the pending request from its dying connection and then runs the
 * connection's close callback: there the handler's on_gone cancels its
 * upstream work and the detached request is freed. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/front/front_internal.h"
#include "gateway/upstream/upstream.h"
#include "util/cleanup.h"
#include "util/xalloc.h"

#define FRONT_BACKLOG     128
#define FRONT_HEADERS_MAX (64u << 10)
#define FRONT_TIMEOUT_S   600 /* an idle client connection; upstream work has its own limits */

/* Everything a call owns besides the public part. */
typedef struct front_call {
	cr_front_call pub;
	cr_front *front;
	struct front_call *prev, *next;
	char *path, *query;
	bool answered;
} front_call;

typedef struct front_route {
	const char *prefix;
	const char *registry;
	cr_front_handler handler;
} front_route;

static const front_route routes[] = {
	{"/npm/", "npm", cr_front_npm},
	{"/pypi/", "pip", cr_front_pypi},
	{"/git/", "git", cr_front_git},
};

cr_front *cr_front_of(const cr_gateway *gw)
{
	return gw->front;
}

cr_cache *cr_front_cache(const cr_gateway *gw)
{
	return gw->front ? ((cr_front *)gw->front)->cache : NULL;
}

cr_fetcher *cr_front_fetcher(const cr_gateway *gw)
{
	return gw->front ? ((cr_front *)gw->front)->fetcher : NULL;
}

/* ---- ending a call ---- */

static void unlink_call(front_call *fc)
{
	cr_front *f = fc->front;
	if (fc->prev)
		fc->prev->next = fc->next;
	else
		f->calls = fc->next;
	if (fc->next)
		fc->next->prev = fc->prev;
	f->n_calls--;
}

static void free_call(front_call *fc)
{
	unlink_call(fc);
	free(fc->path);
	free(fc->query);
	free(fc);
}

/* Detaches the call from its connection's close callback; returns the
 * request to answer (the call is freed). */
static struct evhttp_request *finish(cr_front_call *c)
{
	front_call *fc = (front_call *)c;
	struct evhttp_request *req = c->req;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	if (evcon)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	fc->answered = true;
	free_call(fc);
	return req;
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	front_call *fc = arg;
	struct evhttp_request *req = fc->pub.req;
	if (fc->pub.on_gone)
		fc->pub.on_gone(&fc->pub);
	bool detached = evhttp_request_get_connection(req) == NULL;
	free_call(fc);
	if (detached) /* nobody else frees it */
		evhttp_request_free(req);
}

/* ---- answers ---- */

static void add_header(struct evhttp_request *req, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), name, value);
}

void cr_front_send(cr_front_call *c, int status, const char *content_type, const void *body, size_t len)
{
	struct evhttp_request *req = finish(c);
	struct evbuffer *buf = evbuffer_new();
	if (content_type && *content_type)
		add_header(req, "Content-Type", content_type);
	evbuffer_add(buf, body, len);
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
}

static void unref_map(const void *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	cr_blob_map_unref(arg);
}

/* The blob is added by reference to a mapping the cache keeps for the next
 * hit (cr_cache_blob_map): no open, mmap or munmap per request. */
void cr_front_send_entry(cr_front_call *c, const cr_cache_entry *e, const char *content_type)
{
	cr_front *f = cr_front_of(c->gw);
	cleanup_error cr_error *err = NULL;
	cr_blob_map *map = NULL;
	if (cr_cache_blob_map(f->cache, e->blob, &map, &err) < 0) {
		cr_front_refuse(c, 502, CR_REASON_NONE, "the cached copy of %s is unreadable: %s", c->path,
				err->msg);
		return;
	}
	uint64_t size = cr_blob_map_size(map);
	struct evbuffer *buf = evbuffer_new();
	if (size == 0)
		cr_blob_map_unref(map);
	else if (evbuffer_add_reference(buf, cr_blob_map_data(map), (size_t)size, unref_map, map) < 0) {
		cr_blob_map_unref(map);
		evbuffer_free(buf);
		cr_front_refuse(c, 502, CR_REASON_NONE, "the cached copy of %s could not be sent", c->path);
		return;
	}
	cr_upstream_count_served(c->upstream, size);
	struct evhttp_request *req = finish(c);
	const char *type = content_type ? content_type : e->content_type;
	if (type && *type)
		add_header(req, "Content-Type", type);
	if (e->etag && *e->etag)
		add_header(req, "ETag", e->etag);
	evhttp_send_reply(req, 200, "OK", buf);
	evbuffer_free(buf);
}

void cr_front_refuse(cr_front_call *c, int status, cr_reason reason, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n >= sizeof(line) - 1 ? sizeof(line) - 2 : (size_t)n;
	for (size_t i = 0; i < len; i++) /* one line */
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	line[len] = '\0';
	struct evhttp_request *req = c->req;
	if (reason != CR_REASON_NONE)
		add_header(req, "X-Cleanroom-Reason", cr_reason_name(reason));
	add_header(req, "Cache-Control", "no-store");
	cr_front_send(c, status, "text/plain; charset=utf-8", line, len);
}

/* ---- requests ---- */

const char *cr_front_header(const cr_front_call *c, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(c->req), name);
}

const void *cr_front_body(const cr_front_call *c, size_t *len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
	*len = evbuffer_get_length(in);
	return *len ? (const void *)evbuffer_pullup(in, -1) : (const void *)"";
}

static const front_route *route_for(const char *path)
{
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strncmp(path, routes[i].prefix, strlen(routes[i].prefix)) == 0)
			return &routes[i];
	return NULL;
}

static front_call *new_call(cr_front *f, struct evhttp_request *req)
{
	front_call *fc = cr_xcalloc(1, sizeof(*fc));
	fc->front = f;
	const char *uri = evhttp_request_get_uri(req);
	const char *q = strchr(uri, '?');
	fc->path = q ? cr_xstrndup(uri, (size_t)(q - uri)) : cr_xstrdup(uri);
	fc->query = cr_xstrdup(q ? q + 1 : "");
	fc->pub = (cr_front_call){.gw = f->gw,
				  .upstream = f->upstream,
				  .req = req,
				  .path = fc->path,
				  .rest = fc->path,
				  .query = fc->query,
				  .base_url = f->base_url};
	fc->next = f->calls;
	if (f->calls)
		f->calls->prev = fc;
	f->calls = fc;
	f->n_calls++;
	evhttp_connection_set_closecb(evhttp_request_get_connection(req), on_conn_close, fc);
	return fc;
}

static bool from_sandbox(const cr_front *f, struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *peer = NULL;
	uint16_t port = 0;
	evhttp_connection_get_peer(evcon, &peer, &port);
	struct in_addr a;
	return peer && inet_pton(AF_INET, peer, &a) == 1 && a.s_addr == f->gw->cfg.sandbox_addr.s_addr;
}

static void on_request(struct evhttp_request *req, void *arg)
{
	cr_front *f = arg;
	if (!from_sandbox(f, req)) {
		evhttp_send_error(req, 403, "not the sandbox's address");
		return;
	}
	front_call *fc = new_call(f, req);
	cr_front_call *c = &fc->pub;
	const front_route *r = route_for(fc->path);
	if (!r) {
		cr_front_audit(c, &(cr_front_event){.action = "deny",
						    .reason = CR_REASON_REGISTRY_NOT_ALLOWED,
						    .rule = "fronts",
						    .detail = "not a path of the npm, PyPI or git fronts"});
		cr_front_refuse(
			c, 404, CR_REASON_REGISTRY_NOT_ALLOWED,
			"%s is not served here; the gateway serves /npm/, /pypi/simple/ and /git/<host>/",
			fc->path);
		return;
	}
	c->registry = r->registry;
	c->rest = fc->path + strlen(r->prefix);
	if (!f->cache) {
		cr_front_refuse(c, 503, CR_REASON_NONE,
				"the cleanroom server runs without a content cache, so %s cannot be served",
				fc->path);
		return;
	}
	r->handler(c);
}

/* ---- life cycle ---- */

int cr_front_bind(cr_gateway *gw, cr_error **err)
{
	cr_front *f = cr_xcalloc(1, sizeof(*f));
	f->gw = gw;
	f->listen_fd = -1;
	gw->front = f;
	char ip[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &gw->cfg.gateway_addr, ip, sizeof(ip));
	snprintf(f->base_url, sizeof(f->base_url), "http://%s", ip);
	int creds_fd = gw->cfg.credentials_fd;
	gw->cfg.credentials_fd = -1; /* closed by the load */
	if (cr_front_credentials_load(f, creds_fd, err) < 0)
		return -1;
	if (!gw->cfg.front_port)
		return 0;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_addr = gw->cfg.gateway_addr,
				 .sin_port = htons(gw->cfg.front_port)};
	/* TCP_NODELAY is inherited by accepted sockets: answers leave at once
	 * instead of waiting for the client's delayed ACK (seen as 40 ms
	 * stalls on kept-alive tarball requests by bench/registry.sh) */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, FRONT_BACKLOG) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return cr_error_make(err, e, CR_REASON_INTERNAL, "front: listen on %s:%u", ip,
				     gw->cfg.front_port);
	}
	f->listen_fd = fd;
	return 0;
}

static int open_cache(cr_front *f, cr_error **err)
{
	const cr_gateway_config *cfg = &f->gw->cfg;
	if (!cfg->cache_dir)
		return 0;
	cr_cache_opts o = {.max_bytes = cfg->cache_max_bytes};
	if (cr_cache_open(cfg->cache_dir, &o, &f->cache, err) < 0)
		return cr_error_wrap(err, "front: content cache");
	f->fetcher = cr_fetcher_new(f->gw, cfg->upstream_cacert, cfg->upstream_cacert_len, err);
	if (!f->fetcher)
		return cr_error_wrap(err, "front: upstream fetcher");
	f->upstream = cr_upstream_new(f->gw, f->cache, f->fetcher, cfg->offline);
	return 0;
}

int cr_front_start(cr_gateway *gw, cr_error **err)
{
	cr_front *f = gw->front;
	if (!f || f->listen_fd < 0)
		return 0;
	if (open_cache(f, err) < 0)
		return -1;
	f->http = evhttp_new(gw->base);
	if (!f->http)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "front: evhttp");
	evhttp_set_max_body_size(f->http, CR_FRONT_BODY_MAX);
	evhttp_set_max_headers_size(f->http, FRONT_HEADERS_MAX);
	evhttp_set_timeout(f->http, FRONT_TIMEOUT_S);
	evhttp_set_allowed_methods(f->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
						    EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
	evhttp_set_gencb(f->http, on_request, f);
	if (evhttp_accept_socket(f->http, f->listen_fd) < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "front: accept on the listening socket");
	f->listen_fd = -1; /* evhttp's now */
	return 0;
}

void cr_front_stop(cr_gateway *gw)
{
	cr_front *f = gw->front;
	if (!f)
		return;
	if (f->http)
		evhttp_free(f->http); /* close callbacks cancel the calls' upstream work */
	while (f->calls) {
		front_call *fc = f->calls;
		if (fc->pub.on_gone)
			fc->pub.on_gone(&fc->pub);
		free_call(fc);
	}
	if (f->upstream)
		cr_upstream_free(f->upstream);
	if (f->fetcher)
		cr_fetcher_free(f->fetcher);
	if (f->cache)
		cr_cache_close(f->cache);
	if (f->listen_fd >= 0)
		close(f->listen_fd);
	cr_front_registry_free(f);
	cr_front_credentials_free(f);
	free(f);
	gw->front = NULL;
}
