/* SPDX-License-Identifier: Apache-2.0 */
/* sniff.h -- peeking parsers for the gateway's transparent proxy.
 *
 * The proxy reads the first bytes a sandboxed client sends and asks these
 * parsers who the client wants to talk to: the server name of a TLS
 * ClientHello (SNI) or the Host of an HTTP/1.x request head. They are pure:
 * no allocation, no state between calls, every input bounded by
 * CR_SNIFF_MAX_BYTES. The caller appends what it read and calls again while
 * the answer is CR_SNIFF_NEED_MORE. A name they return is a validated DNS
 * name (lower case, [a-z0-9.-_] only, at most 253 bytes) or, for HTTP, an IP
 * literal (IPv6 without its brackets), so it can go straight to
 * cr_policy_decide(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* No parser looks at more than this many bytes: a ClientHello or request
 * head that does not fit is MALFORMED. */
#define CR_SNIFF_MAX_BYTES (16u * 1024u)
/* Longest name a parser returns, without the terminating NUL. */
#define CR_SNIFF_NAME_MAX 253

typedef enum cr_sniff_result {
	CR_SNIFF_NEED_MORE, /* consistent so far; call again with more bytes */
	CR_SNIFF_OTHER,     /* not this protocol (not TLS / not HTTP/1.x) */
	CR_SNIFF_NO_NAME,   /* this protocol, complete, but it names no host */
	CR_SNIFF_FOUND,     /* complete, and the name is in the output */
	CR_SNIFF_MALFORMED, /* this protocol but invalid, or over CR_SNIFF_MAX_BYTES */
} cr_sniff_result;

/* A stable name for a result ("need_more", "other", ...). */
const char *cr_sniff_result_name(cr_sniff_result r);

/* ---- tls_sni.c ---- */

/* Looks for the host_name of the server_name extension in a TLS ClientHello
 * that starts at buf[0], reassembled from as many handshake records as it
 * takes (within CR_SNIFF_MAX_BYTES of input). On FOUND, name holds the name
 * lower-cased, without a trailing dot, NUL-terminated; otherwise name is "".
 * NO_NAME: a valid ClientHello without SNI. MALFORMED: a TLS handshake record
 * whose ClientHello is invalid, too large, or whose server name is not a
 * valid DNS host name. */
cr_sniff_result cr_sniff_tls_sni(const uint8_t *buf, size_t len, char name[CR_SNIFF_NAME_MAX + 1]);

/* ---- http_head.c ---- */

typedef struct cr_sniff_span {
	const char *p; /* into the caller's buffer, NULL when absent */
	size_t len;
} cr_sniff_span;

/* A host and optional port, as written in a Host header or a request-target
 * authority: name lower-cased, IPv6 literal without brackets. */
typedef struct cr_sniff_authority {
	char host[CR_SNIFF_NAME_MAX + 1]; /* "" when empty or absent */
	uint16_t port;                    /* 0 when not written */
	bool is_ip;                       /* an IPv4 or IPv6 literal */
} cr_sniff_authority;

typedef struct cr_http_head {
	cr_sniff_span method;    /* "GET", "CONNECT", ... */
	cr_sniff_span target;    /* the request-target as sent */
	int minor;               /* HTTP/1.<minor>: 0 or 1 */
	cr_sniff_authority host; /* the Host header */
	bool has_host;           /* a Host header was present (it may be empty) */
	cr_sniff_span headers;   /* the header lines, after the request line, before the blank line */
	size_t head_len;         /* bytes up to and including the blank line */
} cr_http_head;

/* Parses an HTTP/1.0 or 1.1 request head at buf[0]. OTHER as soon as the
 * bytes cannot start such a head (the method is 1-20 upper-case letters, the
 * version "HTTP/1.0" or "HTTP/1.1"); NEED_MORE until "\r\n\r\n" arrives
 * within CR_SNIFF_MAX_BYTES; FOUND when a non-empty Host header is present
 * (port stripped, IPv6 brackets removed, name validated); NO_NAME without one
 * or with an empty one. MALFORMED: bare LF or CR, whitespace before a colon,
 * line folding, a control byte, more than one Host header, an invalid Host
 * value, or a head over CR_SNIFF_MAX_BYTES. `out` is filled on NO_NAME and
 * FOUND; its spans point into buf. */
cr_sniff_result cr_sniff_http_head(const uint8_t *buf, size_t len, cr_http_head *out);

typedef enum cr_http_target_form {
	CR_HTTP_TARGET_ORIGIN,    /* "/path?q" */
	CR_HTTP_TARGET_ABSOLUTE,  /* "http://host[:port]/path" */
	CR_HTTP_TARGET_AUTHORITY, /* "host:port" (CONNECT) */
	CR_HTTP_TARGET_ASTERISK,  /* "*" (OPTIONS) */
} cr_http_target_form;

typedef struct cr_http_target {
	cr_http_target_form form;
	cr_sniff_span scheme;         /* absolute-form: "http", "https", ... as written */
	cr_sniff_authority authority; /* absolute- and authority-form */
	cr_sniff_span path;           /* absolute-form: from the first '/' or '?' ("" = "/") */
} cr_http_target;

/* Classifies a request-target and parses its authority. Authority-form (what
 * CONNECT uses) requires a port. Returns 0, or -1 when the target is not a
 * valid one of the four forms or its host is not a valid name or IP. */
int cr_sniff_http_target(cr_sniff_span target, cr_http_target *out);

/* Parses "host[:port]" or "[v6]:port" of length len into out. Returns 0, or -1
 * when the host is neither a valid DNS name nor an IP literal, or the port is
 * not 1-65535. An empty input gives host "" and 0. */
int cr_sniff_authority_parse(const char *s, size_t len, cr_sniff_authority *out);

/* Iterates the header lines of a head that cr_sniff_http_head() accepted:
 * takes the first line of *rest (cr_http_head.headers to begin with), sets
 * *name, *value (without surrounding whitespace) and *line (with its CRLF),
 * advances *rest and returns true; false when no line is left. */
bool cr_sniff_http_next_header(cr_sniff_span *rest, cr_sniff_span *name, cr_sniff_span *value,
			       cr_sniff_span *line);

/* ---- sniff.c ---- */

/* Copies a host name of len bytes into out lower-cased, without one trailing
 * dot, and checks it: 1-253 bytes of [a-z0-9.-_] in labels of 1-63 bytes.
 * Returns false (out = "") when it is not such a name. */
bool cr_sniff_name_copy(const uint8_t *p, size_t len, char out[CR_SNIFF_NAME_MAX + 1]);
