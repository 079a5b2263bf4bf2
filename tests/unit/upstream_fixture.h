/* SPDX-License-Identifier: Apache-2.0 */
/* upstream_fixture.h -- what test_fetch.c and test_upstream.c share: a CA
 * and a server certificate made at test time (OpenSSL API; a second,
 * unrelated CA for the wrong-CA case), a forked HTTPS server on 127.0.0.1
 * (one forked child per connection, "Connection: close") with scripted
 * routes, a UDP DNS responder for *.test names in the same child, request
 * counts in shared memory, and a minimal gateway (event base + evdns aimed
 * at the responder) to run fetches on.
 *
 * Routes (query parameters in brackets):
 *   /body[?n=N&delay=MS&stall=MS&nolen=1]  N bytes 'a'+i%26, after delay;
 *                                          stall: half, a pause, the rest
 *   /status?code=N                         that status, body "status N"
 *   /auth                                  200 "welcome" for Basic
 *                                          alice:s3cret-pass, else 401
 *   /doc?etag=E&v=V[&delay=MS]             200 "document V" with ETag "E" and
 *                                          Last-Modified; 304 when
 *                                          If-None-Match is "E"
 *   /redirect?to=URL                       302 to URL
 *   /echo                                  the request body
 *   /close                                 closes without an answer
 *   /longheader?name=H                     200 with a 9000-byte header H
 * DNS: registry.test -> 127.0.0.1; meta.test -> 169.254.169.254;
 * mixed.test -> 169.254.169.254 and 127.0.0.1; silent.test: no answer;
 * anything else NXDOMAIN.
 *
 * Test-only code: blocking I/O in the server child is fine here. */
#pragma once

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gateway/gateway.h"
#include "util/clock.h"

#define FX_USER          "alice"
#define FX_PASS          "s3cret-pass"
#define FX_BASIC         "Basic YWxpY2U6czNjcmV0LXBhc3M=" /* alice:s3cret-pass */
#define FX_TARGETS       64
#define FX_LAST_MODIFIED "Wed, 01 Jan 2025 00:00:00 GMT"

typedef struct fx_stats {
	int lock;
	int requests;
	struct {
		char target[1024];
		int n;
	} targets[FX_TARGETS];
	char last_inm[256];  /* If-None-Match of the last request */
	char last_auth[256]; /* Authorization of the last request */
} fx_stats;

typedef struct fx_pem {
	char *data;
	size_t len;
} fx_pem;

typedef struct fx_server {
	pid_t pid;
	uint16_t port, dns_port;
	fx_stats *stats;
	fx_pem ca, other_ca;
	X509 *cert;
	EVP_PKEY *key;
} fx_server;

/* ---- certificates ---- */

static inline void fx_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	if (!e || !X509_add_ext(x, e, -1))
		abort();
	X509_EXTENSION_free(e);
}

/* A certificate for key: a CA when san is NULL, else a server certificate
 * for san signed by issuer. */
static inline X509 *fx_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
			    const char *san)
{
	static long serial = 1;
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
	fx_ext(x, &ctx, NID_subject_key_identifier, "hash");
	if (!san) {
		fx_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
		fx_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		fx_ext(x, &ctx, NID_basic_constraints, "CA:FALSE");
		fx_ext(x, &ctx, NID_subject_alt_name, san);
		fx_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
		fx_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
	}
	if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
		abort();
	return x;
}

static inline fx_pem fx_pem_of(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	fx_pem out = {.data = malloc((size_t)n + 1), .len = (size_t)n};
	memcpy(out.data, p, (size_t)n);
	out.data[n] = '\0';
	BIO_free(b);
	return out;
}

/* ---- the server child ---- */

static inline void fx_lock(fx_stats *s)
{
	while (__atomic_test_and_set(&s->lock, __ATOMIC_ACQUIRE))
		;
}

static inline void fx_unlock(fx_stats *s)
{
	__atomic_clear(&s->lock, __ATOMIC_RELEASE);
}

static inline void fx_record(fx_stats *s, const char *target, const char *inm, const char *auth)
{
	fx_lock(s);
	s->requests++;
	snprintf(s->last_inm, sizeof(s->last_inm), "%s", inm);
	snprintf(s->last_auth, sizeof(s->last_auth), "%s", auth);
	for (int i = 0; i < FX_TARGETS; i++) {
		if (!s->targets[i].target[0])
			snprintf(s->targets[i].target, sizeof(s->targets[i].target), "%s", target);
		if (strcmp(s->targets[i].target, target) == 0) {
			s->targets[i].n++;
			break;
		}
	}
	fx_unlock(s);
}

/* Requests the server saw for exactly this target ("/doc?etag=a&v=1"). */
static inline int fx_count(fx_server *srv, const char *target)
{
	int n = 0;
	fx_lock(srv->stats);
	for (int i = 0; i < FX_TARGETS; i++)
		if (strcmp(srv->stats->targets[i].target, target) == 0)
			n = srv->stats->targets[i].n;
	fx_unlock(srv->stats);
	return n;
}

/* The value of name in a query string ("" when absent). */
static inline void fx_param(const char *target, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	const char *q = strchr(target, '?');
	size_t n = strlen(name);
	for (const char *p = q; p && *p; p = strchr(p + 1, '&')) {
		if (strncmp(p + 1, name, n) == 0 && p[1 + n] == '=') {
			size_t len = strcspn(p + 2 + n, "&");
			snprintf(out, cap, "%.*s", (int)len, p + 2 + n);
			return;
		}
	}
}

static inline long fx_param_num(const char *target, const char *name)
{
	char v[32];
	fx_param(target, name, v, sizeof(v));
	return v[0] ? strtol(v, NULL, 10) : 0;
}

static inline void fx_send(SSL *ssl, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		int w = SSL_write(ssl, c, (int)(n > 16384 ? 16384 : n));
		if (w <= 0)
			_exit(0);
		c += w;
		n -= (size_t)w;
	}
}

static inline void fx_sleep_ms(long ms)
{
	if (ms > 0)
		nanosleep(&(struct timespec){.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000}, NULL);
}

static inline void fx_answer(SSL *ssl, int status, const char *extra, const char *body, size_t len,
			     bool with_len)
{
	char head[12288];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d X\r\nConnection: close\r\nContent-Type: text/plain\r\n%s", status,
			 extra ? extra : "");
	if (with_len)
		n += snprintf(head + n, sizeof(head) - (size_t)n, "Content-Length: %zu\r\n", len);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	fx_send(ssl, head, (size_t)n);
	if (len)
		fx_send(ssl, body, len);
}

static inline void fx_route_body(SSL *ssl, const char *target)
{
	long n = fx_param_num(target, "n"), stall = fx_param_num(target, "stall");
	fx_sleep_ms(fx_param_num(target, "delay"));
	char *body = malloc((size_t)n + 1);
	for (long i = 0; i < n; i++)
		body[i] = (char)('a' + i % 26);
	if (!stall) {
		fx_answer(ssl, 200, NULL, body, (size_t)n, fx_param_num(target, "nolen") == 0);
	} else {
		fx_answer(ssl, 200, NULL, body, (size_t)n / 2, false);
		fx_sleep_ms(stall);
		fx_send(ssl, body + n / 2, (size_t)(n - n / 2));
	}
	free(body);
}

static inline void fx_route(SSL *ssl, const char *target, const char *inm, const char *auth, const char *body,
			    size_t body_len)
{
	char v[512], extra[1024];
	if (strncmp(target, "/body", 5) == 0) {
		fx_route_body(ssl, target);
	} else if (strncmp(target, "/status", 7) == 0) {
		long code = fx_param_num(target, "code");
		snprintf(v, sizeof(v), "status %ld", code);
		fx_answer(ssl, (int)code, NULL, v, strlen(v), true);
	} else if (strcmp(target, "/auth") == 0) {
		if (strcmp(auth, FX_BASIC) == 0)
			fx_answer(ssl, 200, NULL, "welcome", 7, true);
		else
			fx_answer(ssl, 401, "WWW-Authenticate: Basic realm=\"x\"\r\n", "who?", 4, true);
	} else if (strncmp(target, "/doc", 4) == 0) {
		char etag[128], ver[128];
		fx_param(target, "etag", etag, sizeof(etag));
		fx_param(target, "v", ver, sizeof(ver));
		fx_sleep_ms(fx_param_num(target, "delay"));
		snprintf(extra, sizeof(extra), "ETag: \"%s\"\r\nLast-Modified: %s\r\n", etag,
			 FX_LAST_MODIFIED);
		snprintf(v, sizeof(v), "\"%s\"", etag);
		if (strcmp(inm, v) == 0) {
			fx_answer(ssl, 304, extra, NULL, 0, false);
		} else {
			snprintf(v, sizeof(v), "document %s", ver);
			fx_answer(ssl, 200, extra, v, strlen(v), true);
		}
	} else if (strncmp(target, "/redirect", 9) == 0) {
		char to[400];
		fx_param(target, "to", to, sizeof(to));
		snprintf(extra, sizeof(extra), "Location: %s\r\n", to);
		fx_answer(ssl, 302, extra, "moved", 5, true);
	} else if (strncmp(target, "/longheader", 11) == 0) {
		char name[64], *h = malloc(9100);
		fx_param(target, "name", name, sizeof(name));
		int n = snprintf(h, 9100, "%s: ", name);
		memset(h + n, 'x', 9000);
		memcpy(h + n + 9000, "\r\n", 3);
		fx_answer(ssl, 200, h, "long", 4, true);
		free(h);
	} else if (strcmp(target, "/echo") == 0) {
		fx_answer(ssl, 200, NULL, body, body_len, true);
	} else if (strcmp(target, "/close") != 0) {
		fx_answer(ssl, 404, NULL, "no such route", 13, true);
	}
}

/* The value of header name in a request head ("" when absent). */
static inline void fx_header(const char *head, const char *name, char *out, size_t cap)
{
	out[0] = '\0';
	size_t n = strlen(name);
	for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
			const char *v = p + 3 + n;
			while (*v == ' ')
				v++;
			snprintf(out, cap, "%.*s", (int)strcspn(v, "\r"), v);
			return;
		}
	}
}

static inline void fx_connection(fx_server *srv, SSL_CTX *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) <= 0)
		_exit(0);
	static char buf[1 << 20];
	size_t len = 0;
	char *end = NULL;
	while (!(end = strstr(buf, "\r\n\r\n"))) {
		int r = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
		if (r <= 0)
			_exit(0);
		len += (size_t)r;
		buf[len] = '\0';
	}
	*end = '\0';
	char method[16], target[1024], inm[256], auth[256], clen[32];
	if (sscanf(buf, "%15s %1023s", method, target) != 2)
		_exit(0);
	fx_header(buf, "If-None-Match", inm, sizeof(inm));
	fx_header(buf, "Authorization", auth, sizeof(auth));
	fx_header(buf, "Content-Length", clen, sizeof(clen));
	size_t want = clen[0] ? (size_t)strtoul(clen, NULL, 10) : 0, have = len - (size_t)(end + 4 - buf);
	char *body = end + 4;
	while (have < want && len < sizeof(buf) - 1) {
		int r = SSL_read(ssl, buf + len, (int)(sizeof(buf) - 1 - len));
		if (r <= 0)
			_exit(0);
		len += (size_t)r;
		have += (size_t)r;
	}
	fx_record(srv->stats, target, inm, auth);
	fx_route(ssl, target, inm, auth, body, want);
	SSL_shutdown(ssl);
	_exit(0);
}

static inline void fx_dns_answer(int ufd)
{
	uint8_t q[512], r[600];
	struct sockaddr_in peer;
	socklen_t plen = sizeof(peer);
	ssize_t n = recvfrom(ufd, q, sizeof(q), 0, (struct sockaddr *)&peer, &plen);
	if (n < 17)
		return;
	char name[256] = "";
	size_t off = 12, nl = 0;
	while (off < (size_t)n && q[off] && nl + q[off] + 1 < sizeof(name)) {
		for (size_t i = 0; i < q[off]; i++)
			name[nl++] = (char)tolower(q[off + 1 + i]);
		name[nl++] = '.';
		off += q[off] + 1u;
	}
	if (nl)
		name[nl - 1] = '\0';
	size_t qend = off + 5; /* zero label, type, class */
	if (qend > (size_t)n)
		return;
	const char *ips[2] = {NULL, NULL};
	if (strcmp(name, "silent.test") == 0)
		return;
	if (strcmp(name, "registry.test") == 0) {
		ips[0] = "127.0.0.1";
	} else if (strcmp(name, "meta.test") == 0) {
		ips[0] = "169.254.169.254";
	} else if (strcmp(name, "mixed.test") == 0) {
		ips[0] = "169.254.169.254";
		ips[1] = "127.0.0.1";
	}
	memcpy(r, q, qend);
	int an = (ips[0] != NULL) + (ips[1] != NULL);
	r[2] = 0x81;
	r[3] = an ? 0x80 : 0x83; /* RA, NOERROR or NXDOMAIN */
	r[6] = 0;
	r[7] = (uint8_t)an;
	r[8] = r[9] = r[10] = r[11] = 0;
	size_t o = qend;
	for (int i = 0; i < an; i++) {
		uint8_t rr[] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4};
		memcpy(r + o, rr, sizeof(rr));
		inet_pton(AF_INET, ips[i], r + o + sizeof(rr));
		o += sizeof(rr) + 4;
	}
	sendto(ufd, r, o, 0, (struct sockaddr *)&peer, plen);
}

static inline void fx_serve(fx_server *srv, int lfd, int ufd)
{
	setpgid(0, 0);
	signal(SIGCHLD, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	SSL_CTX_use_certificate(ctx, srv->cert);
	SSL_CTX_use_PrivateKey(ctx, srv->key);
	for (;;) {
		struct pollfd p[2] = {{.fd = lfd, .events = POLLIN}, {.fd = ufd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents & POLLIN)
			fx_dns_answer(ufd);
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		if (fork() == 0) {
			close(lfd);
			close(ufd);
			fx_connection(srv, ctx, fd);
		}
		close(fd);
	}
}

static inline int fx_bind(int type, uint16_t *port)
{
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0) || getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
		abort();
	*port = ntohs(a.sin_port);
	return fd;
}

/* Makes the certificates and forks the server. */
static inline void fx_server_start(fx_server *srv)
{
	memset(srv, 0, sizeof(*srv));
	EVP_PKEY *ca_key = EVP_EC_gen("P-256"), *other_key = EVP_EC_gen("P-256");
	X509 *ca = fx_cert(ca_key, "cleanroom test CA", NULL, NULL, NULL);
	X509 *other = fx_cert(other_key, "unrelated test CA", NULL, NULL, NULL);
	srv->key = EVP_EC_gen("P-256");
	srv->cert = fx_cert(srv->key, "registry.test", ca, ca_key, "DNS:registry.test,IP:127.0.0.1");
	srv->ca = fx_pem_of(ca);
	srv->other_ca = fx_pem_of(other);
	X509_free(ca);
	X509_free(other);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(other_key);
	srv->stats = mmap(NULL, sizeof(fx_stats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (srv->stats == MAP_FAILED)
		abort();
	memset(srv->stats, 0, sizeof(fx_stats));
	int lfd = fx_bind(SOCK_STREAM, &srv->port), ufd = fx_bind(SOCK_DGRAM, &srv->dns_port);
	srv->pid = fork();
	if (srv->pid == 0)
		fx_serve(srv, lfd, ufd);
	close(lfd);
	close(ufd);
}

static inline void fx_server_stop(fx_server *srv)
{
	if (srv->pid > 0) {
		kill(-srv->pid, SIGKILL);
		kill(srv->pid, SIGKILL);
		waitpid(srv->pid, NULL, 0);
	}
	munmap(srv->stats, sizeof(fx_stats));
	free(srv->ca.data);
	free(srv->other_ca.data);
	X509_free(srv->cert);
	EVP_PKEY_free(srv->key);
}

/* ---- a gateway to run on ---- */

static inline void fx_gateway_init(cr_gateway *gw, const fx_server *srv)
{
	memset(gw, 0, sizeof(*gw));
	inet_pton(AF_INET, "10.213.0.1", &gw->cfg.gateway_addr);
	gw->base = event_base_new();
	gw->upstream = evdns_base_new(gw->base, 0);
	char ns[32];
	snprintf(ns, sizeof(ns), "127.0.0.1:%u", srv->dns_port);
	if (!gw->base || !gw->upstream || evdns_base_nameserver_ip_add(gw->upstream, ns) != 0)
		abort();
	evdns_base_set_option(gw->upstream, "timeout:", "1");
	evdns_base_set_option(gw->upstream, "attempts:", "1");
	evdns_base_set_option(gw->upstream, "randomize-case:", "0");
}

static inline void fx_gateway_free(cr_gateway *gw)
{
	evdns_base_free(gw->upstream, 1);
	event_base_free(gw->base);
}

static inline void fx_on_limit(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(bool *)arg = true;
}

/* Runs the loop until *flag is set or ms pass; returns *flag. */
static inline bool fx_run_until(cr_gateway *gw, const bool *flag, int ms)
{
	bool expired = false;
	struct event *limit = evtimer_new(gw->base, fx_on_limit, &expired);
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	evtimer_add(limit, &tv);
	while (!*flag && !expired)
		event_base_loop(gw->base, EVLOOP_ONCE);
	event_free(limit);
	return *flag;
}

/* Runs the loop for ms (lets cancelled work show it stays silent). */
static inline void fx_run_for(cr_gateway *gw, int ms)
{
	bool never = false;
	fx_run_until(gw, &never, ms);
}

/* The body /body?n=N serves. */
static inline char *fx_pattern(size_t n)
{
	char *p = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		p[i] = (char)('a' + i % 26);
	p[n] = '\0';
	return p;
}

/* The test file's fixture server, started once for the whole group. */
static fx_server srv;

static inline int fx_group_setup(void **state)
{
	(void)state;
	fx_server_start(&srv);
	return 0;
}

static inline int fx_group_teardown(void **state)
{
	(void)state;
	fx_server_stop(&srv);
	return 0;
}
