/* SPDX-License-Identifier: Apache-2.0 */
/* http_tls.h -- the pieces of the optional TCP listener of `cleanroom serve`:
 * bearer tokens (http_token.c) and TLS with OpenSSL 3 (http_tls.c). The
 * listener itself, and the check every remote request passes before the
 * handler sees it, are in http.c (cr_http_listen_tls in http.h).
 *
 * Over TCP there are no peer credentials, so a request is served only over
 * TLS and only with a configured bearer token; the token's SHA-256 is what
 * names the actor ("token:1a2b3c4d"), never the token itself. */
#pragma once

#include <stddef.h>

#include "util/cleanup.h"
#include "util/error.h"

struct bufferevent;
struct event_base;
typedef struct ssl_ctx_st SSL_CTX;

#define CR_HTTP_TOKEN_MIN_LEN    32u
#define CR_HTTP_TOKEN_MAX_LEN    4096u
#define CR_HTTP_TOKEN_FILE_CAP   (64u << 10)
#define CR_HTTP_TOKEN_ACTOR_SIZE sizeof("token:12345678")

typedef struct cr_http_tokens cr_http_tokens;

/* Parses a token file's text: one token per line, surrounding blanks and a
 * trailing CR ignored, blank lines and lines starting with '#' skipped. A
 * token has CR_HTTP_TOKEN_MIN_LEN..CR_HTTP_TOKEN_MAX_LEN characters of the
 * RFC 6750 b64token set (A-Z a-z 0-9 - . _ ~ + / then '=' padding). At least
 * one token is required. origin names the file in error messages, which give
 * the line number and never the token. Only SHA-256 digests are kept. On 0
 * *out is owned by the caller (cr_http_tokens_free). */
int cr_http_tokens_parse(const char *text, size_t len, const char *origin, cr_http_tokens **out,
			 cr_error **err);
/* Reads and parses the token file at path. Refuses (EPERM) a file that
 * group or others may access in any way, and anything but a regular file
 * (symlinks are not followed); caps it at CR_HTTP_TOKEN_FILE_CAP bytes. The
 * file's bytes are wiped from memory once parsed. */
int cr_http_tokens_load(const char *path, cr_http_tokens **out, cr_error **err);
size_t cr_http_tokens_count(const cr_http_tokens *t);
/* Checks an Authorization header value ("Bearer <token>", scheme
 * case-insensitive; NULL when the header is absent) against every token,
 * comparing SHA-256 digests with CRYPTO_memcmp and without stopping at a
 * match, so the time taken says nothing about which token or how much of it
 * matched. Returns the actor of the matching token ("token:" and the first 8
 * hex digits of its SHA-256; owned by t) or NULL. */
const char *cr_http_tokens_check(const cr_http_tokens *t, const char *authorization);
void cr_http_tokens_free(cr_http_tokens *t);
CR_DEFINE_CLEANUP(cr_http_tokens, cr_http_tokens_free)
#define cleanup_tokens __attribute__((cleanup(cr_http_tokens_freep)))

/* Splits "HOST:PORT" or "[IPV6]:PORT" (port 0..65535, 0 = any free port).
 * On 0, *host and *port are owned strings. */
int cr_http_split_listen(const char *spec, char **host, char **port, cr_error **err);
/* Binds and listens on a TCP socket for spec (names are resolved; the first
 * address is used). Returns the non-blocking fd and sets *shown to
 * "https://ADDR:PORT" with the port actually bound (owned), or -1 with *err. */
int cr_http_bind_tcp(const char *spec, char **shown, cr_error **err);

/* A server TLS context: TLS 1.2 at least, the certificate chain and private
 * key from PEM files (errors name the file and carry OpenSSL's reason), no
 * client certificates, no renegotiation. NULL with *err on failure. */
SSL_CTX *cr_http_tls_context(const char *cert_file, const char *key_file, cr_error **err);
/* evhttp's bufferevent callback (evhttp_set_bevcb) for arg = SSL_CTX *: a
 * server-side TLS bufferevent that closes the socket and frees the SSL when
 * freed. Never returns NULL (evhttp would then serve the connection in the
 * clear): it aborts when OpenSSL or libevent cannot allocate. */
struct bufferevent *cr_http_tls_bufferevent(struct event_base *base, void *arg);
