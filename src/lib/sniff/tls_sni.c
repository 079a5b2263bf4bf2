/* SPDX-License-Identifier: Apache-2.0 */
/* tls_sni.c -- the server name of a TLS ClientHello (RFC 8446 §4.1.2, RFC
 * 6066 §3), read from the first bytes of a connection.
 *
 * A ClientHello may be split across several handshake records (large key
 * shares make that common); the fragments are joined into a buffer on the
 * stack, bounded like the input by CR_SNIFF_MAX_BYTES. Every length field is
 * checked against what encloses it, so a truncated or inconsistent message is
 * MALFORMED rather than read past its end. */
#include "sniff/sniff.h"

#include <string.h>

#define RECORD_HEADER     5
#define CONTENT_HANDSHAKE 0x16
#define HANDSHAKE_HEADER  4
#define CLIENT_HELLO      1
#define MAX_FRAGMENT      (1u << 14)
#define EXT_SERVER_NAME   0
#define NAME_TYPE_HOST    0

/* A bounded reader: any read past the end sets bad and yields zeros. */
struct rd {
	const uint8_t *p;
	size_t n;
	bool bad;
};

static uint32_t get(struct rd *r, size_t k)
{
	uint32_t v = 0;
	if (r->bad || r->n < k) {
		r->bad = true;
		return 0;
	}
	for (size_t i = 0; i < k; i++)
		v = v << 8 | r->p[i];
	r->p += k;
	r->n -= k;
	return v;
}

/* The next len bytes of r as a reader of their own. */
static struct rd take(struct rd *r, size_t len)
{
	struct rd s = {.p = r->p, .n = len};
	if (r->bad || r->n < len) {
		r->bad = true;
		return (struct rd){.bad = true};
	}
	r->p += len;
	r->n -= len;
	return s;
}

/* The server_name extension: a list of (type, name); at most one host_name. */
static cr_sniff_result parse_server_name(struct rd ext, char *name)
{
	struct rd list = take(&ext, get(&ext, 2));
	if (list.bad || ext.n != 0 || list.n == 0)
		return CR_SNIFF_MALFORMED;
	bool found = false;
	while (list.n > 0) {
		uint32_t type = get(&list, 1);
		struct rd host = take(&list, get(&list, 2));
		if (list.bad)
			return CR_SNIFF_MALFORMED;
		if (type != NAME_TYPE_HOST)
			continue;
		if (found || !cr_sniff_name_copy(host.p, host.n, name))
			return CR_SNIFF_MALFORMED;
		found = true;
	}
	return found ? CR_SNIFF_FOUND : CR_SNIFF_NO_NAME;
}

static cr_sniff_result parse_extensions(struct rd exts, char *name)
{
	cr_sniff_result res = CR_SNIFF_NO_NAME;
	bool seen = false;
	while (exts.n > 0) {
		uint32_t type = get(&exts, 2);
		struct rd data = take(&exts, get(&exts, 2));
		if (exts.bad)
			return CR_SNIFF_MALFORMED;
		if (type != EXT_SERVER_NAME)
			continue;
		if (seen)
			return CR_SNIFF_MALFORMED; /* RFC 8446 §4.2: one of each type */
		seen = true;
		res = parse_server_name(data, name);
		if (res == CR_SNIFF_MALFORMED)
			return res;
	}
	return res;
}

/* The ClientHello body: version, random, session id, cipher suites,
 * compression methods, then optionally the extensions. */
static cr_sniff_result parse_client_hello(struct rd r, char *name)
{
	uint32_t version = get(&r, 2);
	(void)take(&r, 32);
	struct rd session = take(&r, get(&r, 1));
	struct rd suites = take(&r, get(&r, 2));
	struct rd compression = take(&r, get(&r, 1));
	if (r.bad || version >> 8 != 3 || session.n > 32 || suites.n < 2 || suites.n % 2 || compression.n < 1)
		return CR_SNIFF_MALFORMED;
	if (r.n == 0)
		return CR_SNIFF_NO_NAME; /* no extensions at all */
	struct rd exts = take(&r, get(&r, 2));
	if (r.bad || r.n != 0)
		return CR_SNIFF_MALFORMED;
	return parse_extensions(exts, name);
}

/* What the first bytes say before a whole record header has arrived: a
 * handshake record of SSL 3.0 to TLS 1.3 starts 16 03 00..04. */
static bool looks_like_tls(const uint8_t *buf, size_t len)
{
	return !((len >= 1 && buf[0] != CONTENT_HANDSHAKE) || (len >= 2 && buf[1] != 3) ||
		 (len >= 3 && buf[2] > 4));
}

/* Joins the handshake fragments of the records in buf into hs. Returns
 * NEED_MORE when the ClientHello is not complete yet, MALFORMED for an
 * invalid record, another handshake message or one over the cap, else FOUND
 * with *hs_len the length of the whole ClientHello message in hs. */
static cr_sniff_result reassemble(const uint8_t *buf, size_t len, uint8_t *hs, size_t *hs_len)
{
	size_t pos = 0, have = 0;
	while (len - pos >= RECORD_HEADER) {
		const uint8_t *rec = buf + pos;
		size_t rlen = (size_t)rec[3] << 8 | rec[4];
		if (!looks_like_tls(rec, RECORD_HEADER) || rlen == 0 || rlen > MAX_FRAGMENT)
			return CR_SNIFF_MALFORMED;
		size_t avail = len - pos - RECORD_HEADER < rlen ? len - pos - RECORD_HEADER : rlen;
		memcpy(hs + have, rec + RECORD_HEADER, avail);
		have += avail;
		pos += RECORD_HEADER + avail;
		if (have >= HANDSHAKE_HEADER) {
			size_t mlen = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
			if (hs[0] != CLIENT_HELLO || HANDSHAKE_HEADER + mlen > CR_SNIFF_MAX_BYTES)
				return CR_SNIFF_MALFORMED;
			if (have >= HANDSHAKE_HEADER + mlen) {
				*hs_len = HANDSHAKE_HEADER + mlen;
				return CR_SNIFF_FOUND;
			}
		}
		if (avail < rlen)
			break;
	}
	if (pos < len && !looks_like_tls(buf + pos, len - pos))
		return CR_SNIFF_MALFORMED;
	return len >= CR_SNIFF_MAX_BYTES ? CR_SNIFF_MALFORMED : CR_SNIFF_NEED_MORE;
}

cr_sniff_result cr_sniff_tls_sni(const uint8_t *buf, size_t len, char name[CR_SNIFF_NAME_MAX + 1])
{
	uint8_t hs[CR_SNIFF_MAX_BYTES];
	size_t hs_len = 0;
	name[0] = '\0';
	if (len > CR_SNIFF_MAX_BYTES)
		len = CR_SNIFF_MAX_BYTES;
	if (!looks_like_tls(buf, len))
		return CR_SNIFF_OTHER;
	cr_sniff_result res = reassemble(buf, len, hs, &hs_len);
	if (res != CR_SNIFF_FOUND)
		return res;
	struct rd body = {.p = hs + HANDSHAKE_HEADER, .n = hs_len - HANDSHAKE_HEADER};
	res = parse_client_hello(body, name);
	if (res != CR_SNIFF_FOUND)
		name[0] = '\0';
	return res;
}
