/* SPDX-License-Identifier: Apache-2.0 */
/* http.h -- the server's HTTP/1.1 front: libevent's evhttp on a unix socket
 * (and, optionally, on TCP with TLS and bearer tokens).
 *
 * The API is served on a unix socket (default /run/cleanroom/cleanroom.sock
 * as root, else $XDG_RUNTIME_DIR/cleanroom/cleanroom.sock), mode 0600 in a
 * 0700 directory; the peer's credentials (SO_PEERCRED) name the actor. An
 * optional TCP listener serves the same handler only over TLS and only to
 * requests carrying a configured bearer token (cr_http_listen_tls). This
 * layer owns sockets, caps and the event loop; it hands each complete
 * request to one handler as plain data, and the Connect layer above decides
 * what it means. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

#define CR_HTTP_MAX_HEADERS_BYTES (16u << 10)
#define CR_HTTP_MAX_BODY_BYTES    (64u << 20)

struct event_base;
struct evhttp_request;

typedef struct cr_http_header {
	const char *name, *value;
} cr_http_header;

typedef struct cr_http_request {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* without the query */
	const char *query;  /* after '?', or "" */
	const cr_http_header *headers;
	size_t n_headers;
	const unsigned char *body;
	size_t body_len;
	pid_t peer_pid; /* -1 when unknown */
	uid_t peer_uid; /* (uid_t)-1 for a remote (TCP) request */
	bool remote;    /* came over the TLS listener, with a valid bearer token */
	/* The actor a remote request acts as ("token:1a2b3c4d", from the token's
	 * SHA-256), owned by the server; NULL for unix peers, whose actor is
	 * "uid:N" from peer_uid. */
	const char *actor_hint;
	struct evhttp_request *raw; /* for replies */
} cr_http_request;

/* Looks a request header up, case-insensitively; NULL when absent. */
const char *cr_http_header_get(const cr_http_request *r, const char *name);

typedef void (*cr_http_handler)(const cr_http_request *req, void *data);

typedef struct cr_http_server cr_http_server;

/* Creates the socket's directory (0700) if needed, removes a stale socket
 * (one nobody answers on), binds, chmods it 0600 and serves on base. Fails
 * with EADDRINUSE when another server answers on it. */
int cr_http_listen_unix(struct event_base *base, const char *socket_path, cr_http_handler handler, void *data,
			cr_http_server **out, cr_error **err);
void cr_http_server_free(cr_http_server *s);

/* The optional TCP listener: HTTPS only, every request with a bearer token. */
typedef struct cr_http_tls_options {
	const char *listen;     /* "HOST:PORT" or "[IPV6]:PORT" */
	const char *cert_file;  /* PEM certificate chain */
	const char *key_file;   /* PEM private key */
	const char *token_file; /* accepted bearer tokens (http_tls.h: cr_http_tokens_load) */
} cr_http_tls_options;

/* Loads the tokens, the certificate and the key, binds opts->listen and
 * serves TLS connections on base with the same caps as the unix socket. A
 * request without a configured `Authorization: Bearer` token is answered
 * 401 (Connect `unauthenticated`, `WWW-Authenticate: Bearer`) and never
 * reaches handler; one with a token reaches it with remote set, peer_uid
 * (uid_t)-1 and actor_hint naming the token. Errors name the file or address
 * at fault. Free with cr_http_server_free. */
int cr_http_listen_tls(struct event_base *base, const cr_http_tls_options *opts, cr_http_handler handler,
		       void *data, cr_http_server **out, cr_error **err);
/* What the server listens on, for messages: "unix:///path" or
 * "https://127.0.0.1:8443" (the port actually bound). Owned by s. */
const char *cr_http_server_address(const cr_http_server *s);
/* The number of bearer tokens a TLS server accepts (0 for the unix socket). */
size_t cr_http_server_tokens(const cr_http_server *s);

/* The default socket path for the calling user (owned string). */
char *cr_http_default_socket(void);
/* The default state directory for the calling user (owned string):
 * /var/lib/cleanroom as root, else $XDG_STATE_HOME/cleanroom or
 * ~/.local/state/cleanroom. */
char *cr_server_default_state_dir(void);

/* Replies: a whole response, or a streamed one (start, chunks, end). */
void cr_http_reply(const cr_http_request *r, int status, const char *content_type,
		   const cr_http_header *extra, size_t n_extra, const void *body, size_t len);
void cr_http_stream_start(struct evhttp_request *raw, int status, const char *content_type);
void cr_http_stream_chunk(struct evhttp_request *raw, const void *data, size_t len);
void cr_http_stream_end(struct evhttp_request *raw);
/* Bytes queued for the client and not yet written (a slow reader). */
size_t cr_http_pending_output(struct evhttp_request *raw);
/* Calls fn(conn, arg) if the request's connection closes (the request is
 * freed right after); NULL fn removes the hook. */
struct evhttp_connection;
typedef void (*cr_http_close_fn)(struct evhttp_connection *conn, void *arg);
void cr_http_on_close(struct evhttp_request *raw, cr_http_close_fn fn, void *arg);

/* Takes a request's connection over for another protocol (HTTP/1.1
 * Upgrade): answers "101 Switching Protocols" with `Upgrade: protocol` and
 * returns the connection's bufferevent, whose callbacks, timeouts and
 * buffered input now belong to the caller (evhttp no longer touches it).
 * Release it with cr_http_upgraded_close(raw). */
struct bufferevent;
struct bufferevent *cr_http_upgrade(struct evhttp_request *raw, const char *protocol);
/* Closes an upgraded connection and frees what evhttp kept for it. */
void cr_http_upgraded_close(struct evhttp_request *raw);
