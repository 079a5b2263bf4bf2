/* SPDX-License-Identifier: Apache-2.0 */
/* http_tls.c -- TLS for the optional TCP listener of `cleanroom serve` (see
 * http_tls.h): the listening socket, the OpenSSL 3 server context and the
 * TLS bufferevent evhttp wraps around every accepted connection. A client
 * that does not speak TLS fails the handshake inside the bufferevent, so its
 * bytes never reach the HTTP parser, let alone a handler. */
#include "server/http_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netdb.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/xalloc.h"

static int parse_port(const char *spec, const char *p, char **port, cr_error **err)
{
	char *end = NULL;
	errno = 0;
	long n = *p ? strtol(p, &end, 10) : -1;
	if (n < 0 || n > 65535 || errno || *end || *p < '0' || *p > '9')
		return cr_error_status(err, EINVAL, CR_REASON_USAGE_INVALID,
				       "listen address '%s': the port must be a number from 0 to 65535",
				       spec);
	*port = cr_asprintf("%ld", n);
	return 0;
}

int cr_http_split_listen(const char *spec, char **host, char **port, cr_error **err)
{
	const char *colon;
	cleanup_free char *h = NULL;
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':' || close == spec + 1)
			return cr_error_status(err, EINVAL, CR_REASON_USAGE_INVALID,
					       "listen address '%s': write an IPv6 address as [ADDRESS]:PORT",
					       spec);
		h = cr_xstrndup(spec + 1, (size_t)(close - spec - 1));
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || colon == spec)
			return cr_error_status(err, EINVAL, CR_REASON_USAGE_INVALID,
					       "listen address '%s': want HOST:PORT or [IPV6]:PORT", spec);
		h = cr_xstrndup(spec, (size_t)(colon - spec));
		if (strchr(h, ':'))
			return cr_error_status(err, EINVAL, CR_REASON_USAGE_INVALID,
					       "listen address '%s': write an IPv6 address as [ADDRESS]:PORT",
					       spec);
	}
	if (parse_port(spec, colon + 1, port, err) < 0)
		return -1;
	*host = steal_pointer(&h);
	return 0;
}

/* "https://127.0.0.1:8443" or "https://[::1]:8443" for the bound socket. */
static char *bound_name(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char addr[INET6_ADDRSTRLEN] = "?";
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return cr_xstrdup("https://?");
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, sizeof(addr));
		return cr_asprintf("https://[%s]:%u", addr, ntohs(s6->sin6_port));
	}
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)&ss;
	inet_ntop(AF_INET, &s4->sin_addr, addr, sizeof(addr));
	return cr_asprintf("https://%s:%u", addr, ntohs(s4->sin_port));
}

static int listen_on(const struct addrinfo *ai, const char *spec, cr_error **err)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_INTERNAL, "listen on '%s'", spec);
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
		int e = errno;
		close(fd);
		return cr_error_make(err, e, e == EADDRINUSE ? CR_REASON_USAGE_INVALID : CR_REASON_INTERNAL,
				     "listen on '%s'", spec);
	}
	return fd;
}

int cr_http_bind_tcp(const char *spec, char **shown, cr_error **err)
{
	cleanup_free char *host = NULL, *port = NULL;
	if (cr_http_split_listen(spec, &host, &port, err) < 0)
		return -1;
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int gai = getaddrinfo(host, port, &hints, &res);
	if (gai != 0)
		return cr_error_make(err, 0, CR_REASON_USAGE_INVALID, "listen address '%s': %s", spec,
				     gai_strerror(gai));
	int fd = listen_on(res, spec, err);
	freeaddrinfo(res);
	if (fd >= 0)
		*shown = bound_name(fd);
	return fd;
}

/* The reason of the first error in OpenSSL's queue ("no start line"); that is
 * the cause, what follows is context ("PEM lib"). Empties the queue. */
static unsigned long ssl_reason(char *out, size_t size)
{
	unsigned long e = ERR_peek_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	snprintf(out, size, "%s", r ? r : "unknown OpenSSL error");
	ERR_clear_error();
	return e;
}

static SSL_CTX *tls_fail(SSL_CTX *ctx, cr_error **err, const char *what, const char *file)
{
	char reason[256];
	unsigned long e = ssl_reason(reason, sizeof(reason));
	SSL_CTX_free(ctx);
	if (ERR_GET_LIB(e) == ERR_LIB_X509 && ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH)
		cr_error_status(err, EINVAL, CR_REASON_USAGE_INVALID,
				"TLS private key '%s' does not belong to the certificate", file);
	else
		cr_error_status(err, EINVAL, CR_REASON_USAGE_INVALID, "%s '%s': %s (a PEM file is expected)",
				what, file, reason);
	return NULL;
}

/* OpenSSL reports a file it cannot open as "system lib": say why instead. */
static int check_readable(const char *what, const char *file, cr_error **err)
{
	int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return cr_error_make(err, errno, CR_REASON_USAGE_INVALID, "%s '%s'", what, file);
	close(fd);
	return 0;
}

SSL_CTX *cr_http_tls_context(const char *cert_file, const char *key_file, cr_error **err)
{
	if (check_readable("load TLS certificate", cert_file, err) < 0 ||
	    check_readable("load TLS private key", key_file, err) < 0)
		return NULL;
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return tls_fail(NULL, err, "create a TLS context for", cert_file);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL); /* clients prove themselves with a bearer token */
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		return tls_fail(ctx, err, "load TLS certificate", cert_file);
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		return tls_fail(ctx, err, "load TLS private key", key_file);
	return ctx;
}

struct bufferevent *cr_http_tls_bufferevent(struct event_base *base, void *arg)
{
	SSL *ssl = SSL_new(arg);
	/* evhttp falls back to a plain bufferevent when this returns NULL */
	if (!ssl)
		abort();
	struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
								 BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		abort();
	/* a client that closes without close_notify is not an error worth a log line */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}
