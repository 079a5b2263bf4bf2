/* SPDX-License-Identifier: Apache-2.0 */
/* fetch_curl.c -- a request's curl side (fetch.h): the easy handle's
 * options (vetted addresses through CURLOPT_RESOLVE and an open-socket
 * check, TLS always verified, https only, no redirects, no proxy from the
 * environment, credentials for this request only), the status line and the
 * headers the callers need (each stored line capped), the body streamed to
 * the caller under the byte cap, and curl's errors in the gateway's words. */
#include "gateway/upstream/fetch_impl.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/cleanup.h"
#include "util/clock.h"
#include "util/xalloc.h"

#define USER_AGENT "cleanroom-gateway"

/* ---- headers ---- */

void fx_headers_clear(fx_headers *h)
{
	free(h->content_type);
	free(h->etag);
	free(h->last_modified);
	free(h->location);
	*h = (fx_headers){.content_length = -1};
}

static bool parse_status(cr_fetch *x, const char *line, size_t len)
{
	/* "HTTP/1.1 200 OK", "HTTP/2 404" */
	const char *sp = memchr(line, ' ', len);
	if (!sp || (size_t)(line + len - sp) < 4 || !isdigit((unsigned char)sp[1]) ||
	    !isdigit((unsigned char)sp[2]) || !isdigit((unsigned char)sp[3]))
		return false;
	x->status = (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
	fx_headers_clear(&x->hdr);
	if (!x->got_status) {
		/* from now on the deadline is the stall limit */
		int ms = x->f->stall_ms;
		struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
		evtimer_add(x->deadline_ev, &tv);
	}
	x->got_status = true;
	return true;
}

static int64_t parse_length(const char *v)
{
	if (!*v)
		return -1;
	int64_t n = 0;
	for (; *v; v++) {
		if (!isdigit((unsigned char)*v) || n > (INT64_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*v - '0');
	}
	return n;
}

/* Which stored header a line is, or NULL. */
static char **stored_header(fx_headers *h, const char *line, size_t len, size_t *name_len)
{
	static const struct {
		const char *name;
		size_t off;
	} names[] = {
		{"content-type", offsetof(fx_headers, content_type)},
		{"etag", offsetof(fx_headers, etag)},
		{"last-modified", offsetof(fx_headers, last_modified)},
		{"location", offsetof(fx_headers, location)},
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i].name);
		if (len > n && line[n] == ':' && strncasecmp(line, names[i].name, n) == 0) {
			*name_len = n;
			return (char **)(void *)((char *)h + names[i].off);
		}
	}
	return NULL;
}

static char *header_value(const char *line, size_t len, size_t name_len)
{
	const char *v = line + name_len + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return cr_xstrndup(v, (size_t)(end - v));
}

/* One "Name: value" line; false to abort (a stored header too long). */
static bool header_line(cr_fetch *x, const char *line, size_t len)
{
	size_t name_len = 0;
	char **slot = stored_header(&x->hdr, line, len, &name_len);
	bool is_length = !slot && len > 15 && line[14] == ':' && strncasecmp(line, "content-length", 14) == 0;
	if (!slot && !is_length)
		return true;
	if (len > CR_FETCH_HEADER_LINE_MAX) {
		fx_fail(x, "a response header line is longer than %d bytes", CR_FETCH_HEADER_LINE_MAX);
		return false;
	}
	cleanup_free char *v = header_value(line, len, slot ? name_len : 14);
	if (is_length) {
		x->hdr.content_length = parse_length(v);
		return true;
	}
	free(*slot);
	*slot = steal_pointer(&v);
	return true;
}

cr_fetch_response fx_response(const cr_fetch *x)
{
	return (cr_fetch_response){
		.status = x->status,
		.content_type = x->hdr.content_type ? x->hdr.content_type : "",
		.etag = x->hdr.etag ? x->hdr.etag : "",
		.last_modified = x->hdr.last_modified ? x->hdr.last_modified : "",
		.location = x->hdr.location ? x->hdr.location : "",
		.content_length = x->hdr.content_length,
		.remote_ip = x->ip,
	};
}

/* The blank line after a final (non-1xx) response's headers. */
static bool headers_done(cr_fetch *x)
{
	char *ip = NULL;
	if (curl_easy_getinfo(x->easy, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip && *ip)
		snprintf(x->ip, sizeof(x->ip), "%s", ip);
	if (x->hdr.content_length >= 0 && (uint64_t)x->hdr.content_length > x->max_bytes) {
		fx_fail(x, "the body is larger than %llu bytes (Content-Length %lld)",
			(unsigned long long)x->max_bytes, (long long)x->hdr.content_length);
		return false;
	}
	if (!x->cbs.on_headers)
		return true;
	cr_fetch_response r = fx_response(x);
	int rc = x->cbs.on_headers(x->ud, &r);
	if (x->cancelled)
		return false;
	if (rc > 0)
		x->stop_ok = true;
	else if (rc < 0)
		fx_fail(x, "aborted by the gateway after the response headers (status %ld)", x->status);
	return rc == 0;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
	cr_fetch *x = ud;
	size_t len = size * n, total = len;
	if (x->cancelled || x->fail)
		return 0;
	x->last_ms = cr_monotonic_ms();
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0)
		return parse_status(x, buf, len) ? total : 0;
	if (len == 0) {
		if (!x->got_status || (x->status >= 100 && x->status < 200))
			return total; /* an interim answer: the real one follows */
		return headers_done(x) ? total : 0;
	}
	return header_line(x, buf, len) ? total : 0;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
	cr_fetch *x = ud;
	size_t len = size * n;
	if (x->cancelled || x->fail || x->stop_ok)
		return 0;
	x->last_ms = cr_monotonic_ms();
	if (len > x->max_bytes - x->received) {
		fx_fail(x, "the body is larger than %llu bytes", (unsigned long long)x->max_bytes);
		return 0;
	}
	x->received += len;
	if (x->cbs.on_data && x->cbs.on_data(x->ud, buf, len) < 0 && !x->cancelled)
		fx_fail(x, "aborted by the gateway after %llu body bytes", (unsigned long long)x->received);
	return x->cancelled || x->fail ? 0 : len;
}

/* CURLOPT_OPENSOCKETFUNCTION: curl may connect to the vetted addresses
 * only, whatever it thinks the name resolves to. */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
	cr_fetch *x = ud;
	if (purpose != CURLSOCKTYPE_IPCXN || a->family != AF_INET)
		return CURL_SOCKET_BAD;
	struct in_addr ip = ((const struct sockaddr_in *)(const void *)&a->addr)->sin_addr;
	for (size_t i = 0; i < x->n_addrs; i++)
		if (x->addrs[i].s_addr == ip.s_addr)
			return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
	return CURL_SOCKET_BAD;
}

/* ---- curl ---- */

static struct curl_slist *resolve_entry(cr_fetch *x)
{
	cleanup_buf cr_buf b;
	cr_buf_init(&b, 1024);
	cr_buf_printf(&b, "%s:%u:", x->host, x->port);
	for (size_t i = 0; i < x->n_addrs; i++) {
		char ip[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, &x->addrs[i], ip, sizeof(ip));
		cr_buf_printf(&b, "%s%s", i ? "," : "", ip);
	}
	return curl_slist_append(NULL, b.data);
}

static void set_tls(cr_fetch *x)
{
	cr_fetcher *f = x->f;
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (f->cacert) {
		struct curl_blob blob = {.data = f->cacert, .len = f->cacert_len, .flags = CURL_BLOB_NOCOPY};
		curl_easy_setopt(x->easy, CURLOPT_CAINFO_BLOB, &blob);
	}
}

static void set_request(cr_fetch *x)
{
	CURL *e = x->easy;
	curl_easy_setopt(e, CURLOPT_URL, x->url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, USER_AGENT);
	if (x->post) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body ? x->body : "");
	}
	if (x->username) {
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, x->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD, x->password ? x->password : "");
	}
}

int fx_setup_easy(cr_fetch *x, cr_error **err)
{
	cr_fetcher *f = x->f;
	CURL *e = x->easy = curl_easy_init();
	if (!e)
		return cr_error_make(err, ENOMEM, CR_REASON_INTERNAL, "upstream %s: curl handle",
				     x->hostport);
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, f->gw->cfg.upstream_plain_http ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never the environment's proxy */
	curl_easy_setopt(e, CURLOPT_IPRESOLVE, (long)CURL_IPRESOLVE_V4);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)f->connect_ms);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_bytes);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
	curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
	x->resolve = resolve_entry(x);
	curl_easy_setopt(e, CURLOPT_RESOLVE, x->resolve);
	set_tls(x);
	set_request(x);
	return fx_loop_add(x, err);
}

cr_error *fx_curl_error(cr_fetch *x, CURLcode rc)
{
	const char *detail = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
	const char *kind = "";
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT: kind = "timed out: "; break;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR: kind = "TLS: "; break;
	case CURLE_FILESIZE_EXCEEDED:
		fx_fail(x, "the body is larger than %llu bytes", (unsigned long long)x->max_bytes);
		return steal_pointer(&x->fail);
	default: break;
	}
	fx_fail(x, "%s%s", kind, detail);
	return steal_pointer(&x->fail);
}
