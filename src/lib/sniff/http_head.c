/* SPDX-License-Identifier: Apache-2.0 */
/* http_head.c -- an HTTP/1.x request head (RFC 9112 §2-3, §5), read from the
 * first bytes of a connection, and the request-target and Host forms it
 * carries (RFC 9110 §7.2, RFC 9112 §3.2).
 *
 * Strict where a lenient reading could let the gateway and the upstream
 * server see different hosts: only CRLF line ends, no whitespace before a
 * colon, no line folding, exactly one Host. Until the request line has
 * proven to be HTTP/1.x, anything unexpected answers OTHER, so that other
 * protocols that happen to start with capital letters are not refused as
 * malformed HTTP. */
#include "sniff/sniff.h"

#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#define METHOD_MAX 20

static bool is_upper(uint8_t c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_alpha(uint8_t c)
{
	return is_upper(c) || (c >= 'a' && c <= 'z');
}

/* tchar of RFC 9110 §5.6.2 */
static bool is_tchar(uint8_t c)
{
	if (is_alpha(c) || (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(uint8_t c)
{
	return c == ' ' || c == '\t';
}

/* The request line "METHOD SP target SP HTTP/1.x CRLF": OTHER on the first
 * byte that does not fit, NEED_MORE at the end of the input, else FOUND with
 * *end just past the CRLF. */
static cr_sniff_result request_line(const uint8_t *b, size_t len, cr_http_head *h, size_t *end)
{
	size_t i = 0;
	for (; i < len && b[i] != ' '; i++)
		if (!is_upper(b[i]) || i >= METHOD_MAX)
			return CR_SNIFF_OTHER;
	if (i == len)
		return CR_SNIFF_NEED_MORE;
	if (i == 0)
		return CR_SNIFF_OTHER;
	h->method = (cr_sniff_span){(const char *)b, i};
	size_t t = ++i;
	for (; i < len && b[i] != ' '; i++)
		if (b[i] <= 0x20 || b[i] >= 0x7f)
			return CR_SNIFF_OTHER;
	if (i == len)
		return CR_SNIFF_NEED_MORE;
	if (i == t)
		return CR_SNIFF_OTHER;
	h->target = (cr_sniff_span){(const char *)b + t, i - t};
	static const char version[] = "HTTP/1.x\r\n";
	const uint8_t *v = b + i + 1;
	for (size_t k = 0; k < sizeof(version) - 1; k++) {
		if (i + 1 + k >= len)
			return CR_SNIFF_NEED_MORE;
		bool ok = version[k] == 'x' ? v[k] == '0' || v[k] == '1' : v[k] == (uint8_t)version[k];
		if (!ok) /* "HTTP/1.x" then anything but CRLF is HTTP gone wrong */
			return k < 8 ? CR_SNIFF_OTHER : CR_SNIFF_MALFORMED;
	}
	h->minor = v[7] - '0';
	*end = i + sizeof(version);
	return CR_SNIFF_FOUND;
}

/* One header line from b[0]: NEED_MORE when its CRLF has not arrived,
 * MALFORMED when it is not "token ':' OWS value OWS CRLF", else FOUND with
 * the name, value and line length (with CRLF). */
static cr_sniff_result header_line(const uint8_t *b, size_t len, cr_sniff_span *name, cr_sniff_span *value,
				   size_t *line_len)
{
	size_t i = 0;
	for (; i < len && b[i] != ':'; i++)
		if (!is_tchar(b[i]))
			return CR_SNIFF_MALFORMED;
	if (i == len)
		return CR_SNIFF_NEED_MORE;
	if (i == 0)
		return CR_SNIFF_MALFORMED;
	*name = (cr_sniff_span){(const char *)b, i};
	size_t v = ++i;
	for (; i < len && b[i] != '\r'; i++)
		if ((b[i] < 0x20 && b[i] != '\t') || b[i] == 0x7f)
			return CR_SNIFF_MALFORMED;
	if (i + 1 >= len)
		return CR_SNIFF_NEED_MORE;
	if (b[i + 1] != '\n')
		return CR_SNIFF_MALFORMED;
	*line_len = i + 2;
	size_t e = i;
	while (v < e && is_ows(b[v]))
		v++;
	while (e > v && is_ows(b[e - 1]))
		e--;
	*value = (cr_sniff_span){(const char *)b + v, e - v};
	return CR_SNIFF_FOUND;
}

static bool span_is(cr_sniff_span s, const char *lit)
{
	return s.len == strlen(lit) && strncasecmp(s.p, lit, s.len) == 0;
}

static cr_sniff_result take_host(cr_http_head *h, cr_sniff_span value)
{
	if (h->has_host)
		return CR_SNIFF_MALFORMED;
	h->has_host = true;
	if (cr_sniff_authority_parse(value.p, value.len, &h->host) < 0)
		return CR_SNIFF_MALFORMED;
	return CR_SNIFF_FOUND;
}

/* The header block from b + start up to the blank line. */
static cr_sniff_result header_block(const uint8_t *b, size_t len, size_t start, cr_http_head *h)
{
	size_t i = start;
	for (;;) {
		if (i >= len)
			return CR_SNIFF_NEED_MORE;
		if (b[i] == '\r') {
			if (i + 1 >= len)
				return CR_SNIFF_NEED_MORE;
			if (b[i + 1] != '\n')
				return CR_SNIFF_MALFORMED;
			h->headers = (cr_sniff_span){(const char *)b + start, i - start};
			h->head_len = i + 2;
			return CR_SNIFF_FOUND;
		}
		if (is_ows(b[i]))
			return CR_SNIFF_MALFORMED; /* obsolete line folding */
		cr_sniff_span name, value;
		size_t line_len = 0;
		cr_sniff_result r = header_line(b + i, len - i, &name, &value, &line_len);
		if (r != CR_SNIFF_FOUND)
			return r;
		if (span_is(name, "host") && take_host(h, value) != CR_SNIFF_FOUND)
			return CR_SNIFF_MALFORMED;
		i += line_len;
	}
}

cr_sniff_result cr_sniff_http_head(const uint8_t *buf, size_t len, cr_http_head *out)
{
	cr_http_head h = {0};
	size_t line_end = 0;
	bool capped = len >= CR_SNIFF_MAX_BYTES;
	if (capped)
		len = CR_SNIFF_MAX_BYTES;
	cr_sniff_result r = request_line(buf, len, &h, &line_end);
	if (r == CR_SNIFF_FOUND)
		r = header_block(buf, len, line_end, &h);
	if (r == CR_SNIFF_NEED_MORE && capped)
		return CR_SNIFF_MALFORMED;
	if (r != CR_SNIFF_FOUND)
		return r;
	*out = h;
	return h.host.host[0] ? CR_SNIFF_FOUND : CR_SNIFF_NO_NAME;
}

bool cr_sniff_http_next_header(cr_sniff_span *rest, cr_sniff_span *name, cr_sniff_span *value,
			       cr_sniff_span *line)
{
	size_t line_len = 0;
	if (rest->len == 0 ||
	    header_line((const uint8_t *)rest->p, rest->len, name, value, &line_len) != CR_SNIFF_FOUND)
		return false;
	*line = (cr_sniff_span){rest->p, line_len};
	rest->p += line_len;
	rest->len -= line_len;
	return true;
}

/* ---- authorities and request-targets ---- */

static int parse_port(const char *s, size_t len, uint16_t *port)
{
	unsigned v = 0;
	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* "[v6]" with the brackets at s[0] and s[len-1]. */
static int parse_v6(const char *s, size_t len, cr_sniff_authority *out)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a;
	if (len < 3 || len - 2 >= sizeof(tmp))
		return -1;
	memcpy(tmp, s + 1, len - 2);
	tmp[len - 2] = '\0';
	if (inet_pton(AF_INET6, tmp, &a) != 1)
		return -1;
	if (inet_ntop(AF_INET6, &a, out->host, sizeof(out->host)) == NULL)
		return -1;
	out->is_ip = true;
	return 0;
}

static int parse_name(const char *s, size_t len, cr_sniff_authority *out)
{
	struct in_addr a;
	if (!cr_sniff_name_copy((const uint8_t *)s, len, out->host))
		return -1;
	out->is_ip = inet_pton(AF_INET, out->host, &a) == 1;
	return 0;
}

int cr_sniff_authority_parse(const char *s, size_t len, cr_sniff_authority *out)
{
	*out = (cr_sniff_authority){0};
	if (len == 0)
		return 0;
	const char *close = s[0] == '[' ? memchr(s, ']', len) : NULL;
	size_t host_len = close ? (size_t)(close - s) + 1 : len;
	if (!close) {
		const char *colon = memchr(s, ':', len);
		if (colon && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1))
			return -1; /* an IPv6 literal needs brackets */
		host_len = colon ? (size_t)(colon - s) : len;
	}
	if (host_len < len &&
	    (s[host_len] != ':' || parse_port(s + host_len + 1, len - host_len - 1, &out->port) < 0))
		return -1;
	int r = close ? parse_v6(s, host_len, out) : parse_name(s, host_len, out);
	if (r < 0)
		*out = (cr_sniff_authority){0};
	return r;
}

/* The length of "scheme:" at the start of s when followed by "//", else 0. */
static size_t scheme_len(const char *s, size_t len)
{
	size_t i = 0;
	if (len == 0 || !is_alpha((uint8_t)s[0]))
		return 0;
	while (i < len &&
	       (is_alpha((uint8_t)s[i]) || (s[i] >= '0' && s[i] <= '9') || (s[i] && strchr("+-.", s[i]))))
		i++;
	return i + 3 <= len && s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/' ? i : 0;
}

int cr_sniff_http_target(cr_sniff_span t, cr_http_target *out)
{
	*out = (cr_http_target){0};
	if (t.len == 1 && t.p[0] == '*')
		return out->form = CR_HTTP_TARGET_ASTERISK, 0;
	if (t.len > 0 && t.p[0] == '/')
		return out->form = CR_HTTP_TARGET_ORIGIN, 0;
	size_t sl = scheme_len(t.p, t.len);
	if (sl == 0) {
		out->form = CR_HTTP_TARGET_AUTHORITY;
		if (cr_sniff_authority_parse(t.p, t.len, &out->authority) < 0 || !out->authority.host[0] ||
		    !out->authority.port)
			return -1;
		return 0;
	}
	out->form = CR_HTTP_TARGET_ABSOLUTE;
	out->scheme = (cr_sniff_span){t.p, sl};
	const char *a = t.p + sl + 3, *end = t.p + t.len, *p = a;
	while (p < end && *p != '/' && *p != '?' && *p != '#')
		p++;
	out->path = (cr_sniff_span){p, (size_t)(end - p)};
	if (cr_sniff_authority_parse(a, (size_t)(p - a), &out->authority) < 0 || !out->authority.host[0])
		return -1;
	return 0;
}
