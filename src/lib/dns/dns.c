/* SPDX-License-Identifier: Apache-2.0 */
/* dns.c -- the capped, allocation-free DNS query parser and answer builder of
 * dns.h. A reader walks the message with every access bounds-checked; the
 * writer checks room before each record, so no input and no cap can make
 * either touch memory outside the caller's buffers. */
#include "dns/dns.h"

#include <stdio.h>
#include <string.h>

#define FLAG_QR     0x8000u
#define FLAG_OPCODE 0x7800u
#define FLAG_RD     0x0100u
#define FLAG_RA     0x0080u
#define FLAG_CD     0x0010u
#define OPT_LEN     11u /* root name, type, class, ttl, rdlength */
#define A_RR_LEN    16u /* pointer, type, class, ttl, rdlength, address */

typedef struct reader {
	const uint8_t *p;
	size_t len, off;
} reader;

static bool get_u16(reader *r, uint16_t *v)
{
	if (r->len - r->off < 2)
		return false;
	*v = (uint16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
	r->off += 2;
	return true;
}

static bool get_u32(reader *r, uint32_t *v)
{
	uint16_t hi, lo;
	if (!get_u16(r, &hi) || !get_u16(r, &lo))
		return false;
	*v = (uint32_t)hi << 16 | lo;
	return true;
}

static bool host_byte(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static uint8_t lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : c;
}

/* Appends one label's bytes to the presentation name at *out; host-name bytes
 * lower-cased, others as \DDD (which makes *bad true). */
static void put_label(char *name, size_t *out, const uint8_t *label, size_t n, bool *bad)
{
	if (*out > 0)
		name[(*out)++] = '.';
	for (size_t i = 0; i < n; i++) {
		uint8_t c = lower(label[i]);
		if (host_byte(c)) {
			name[(*out)++] = (char)c;
			continue;
		}
		*bad = true;
		snprintf(name + *out, CR_DNS_NAME_BUF - *out, "\\%03u", c);
		*out += 4;
	}
	name[*out] = '\0';
}

/* Reads the question name: uncompressed labels of 1-63 bytes, at most 255
 * bytes on the wire (253 in presentation form). */
static bool read_qname(reader *r, cr_dns_query *q, bool *bad)
{
	size_t out = 0, wire = 1;
	q->name[0] = '\0';
	for (;;) {
		if (r->off >= r->len)
			return false;
		uint8_t n = r->p[r->off++];
		if (n == 0)
			return true;
		if (n & 0xC0) /* a compression pointer, or a reserved label type */
			return false;
		wire += 1u + n;
		if (wire > CR_DNS_MAX_WIRENAME || r->len - r->off < n)
			return false;
		put_label(q->name, &out, r->p + r->off, n, bad);
		r->off += n;
	}
}

static bool read_question(reader *r, cr_dns_query *q, bool *bad)
{
	size_t start = r->off;
	if (!read_qname(r, q, bad) || !get_u16(r, &q->qtype) || !get_u16(r, &q->qclass))
		return false;
	q->question_len = r->off - start;
	memcpy(q->question, r->p + start, q->question_len);
	q->has_question = true;
	return true;
}

/* The one additional record a query may carry: EDNS's OPT (RFC 6891 6.1.2),
 * owned by the root name. */
static cr_dns_status read_opt(reader *r, cr_dns_query *q)
{
	uint16_t type, rdlen;
	uint32_t ttl;
	if (r->off >= r->len || r->p[r->off++] != 0)
		return CR_DNS_FORMERR;
	if (!get_u16(r, &type) || type != CR_DNS_TYPE_OPT || !get_u16(r, &q->edns_udp_size) ||
	    !get_u32(r, &ttl) || !get_u16(r, &rdlen) || r->len - r->off < rdlen)
		return CR_DNS_FORMERR;
	r->off += rdlen; /* options (cookies, padding, ...) are not needed */
	q->has_edns = true;
	return (ttl >> 16 & 0xFF) != 0 ? CR_DNS_BADVERS : CR_DNS_OK;
}

cr_dns_status cr_dns_parse_query(const uint8_t *msg, size_t len, cr_dns_query *q)
{
	memset(q, 0, sizeof(*q));
	if (len < CR_DNS_HEADER_LEN || len > CR_DNS_MAX_MESSAGE)
		return len < CR_DNS_HEADER_LEN ? CR_DNS_DROP : CR_DNS_FORMERR;
	reader r = {msg, len, 0};
	uint16_t qd = 0, an = 0, ns = 0, ar = 0;
	/* cannot fail: len holds a header */
	(void)(get_u16(&r, &q->id) && get_u16(&r, &q->flags) && get_u16(&r, &qd) && get_u16(&r, &an) &&
	       get_u16(&r, &ns) && get_u16(&r, &ar));
	if (q->flags & FLAG_QR)
		return CR_DNS_DROP;
	if (q->flags & FLAG_OPCODE)
		return CR_DNS_NOTIMP;
	if (qd != 1)
		return CR_DNS_FORMERR;
	bool bad = false;
	if (!read_question(&r, q, &bad) || an != 0 || ns != 0 || ar > 1)
		return CR_DNS_FORMERR;
	cr_dns_status st = ar == 1 ? read_opt(&r, q) : CR_DNS_OK;
	if (st == CR_DNS_OK && r.off != r.len)
		st = CR_DNS_FORMERR;
	return st == CR_DNS_OK && bad ? CR_DNS_BADNAME : st;
}

size_t cr_dns_answer_limit(const cr_dns_query *q, bool tcp)
{
	if (tcp)
		return CR_DNS_MAX_MESSAGE;
	if (!q->has_edns || q->edns_udp_size <= CR_DNS_UDP_PLAIN)
		return CR_DNS_UDP_PLAIN;
	return q->edns_udp_size < CR_DNS_MAX_MESSAGE ? q->edns_udp_size : CR_DNS_MAX_MESSAGE;
}

typedef struct writer {
	uint8_t *p;
	size_t off;
} writer;

static void put_u16(writer *w, unsigned v)
{
	w->p[w->off++] = (uint8_t)(v >> 8);
	w->p[w->off++] = (uint8_t)v;
}

static void put_u32(writer *w, uint32_t v)
{
	put_u16(w, v >> 16);
	put_u16(w, v & 0xFFFF);
}

static void put_a(writer *w, struct in_addr addr, uint32_t ttl)
{
	put_u16(w, 0xC000 | CR_DNS_HEADER_LEN); /* the question's name */
	put_u16(w, CR_DNS_TYPE_A);
	put_u16(w, CR_DNS_CLASS_IN);
	put_u32(w, ttl);
	put_u16(w, 4);
	memcpy(w->p + w->off, &addr.s_addr, 4);
	w->off += 4;
}

static void put_opt(writer *w, unsigned rcode)
{
	w->p[w->off++] = 0;
	put_u16(w, CR_DNS_TYPE_OPT);
	put_u16(w, CR_DNS_EDNS_SIZE);
	put_u32(w, (uint32_t)(rcode >> 4) << 24); /* extended rcode, version 0, no flags */
	put_u16(w, 0);
}

static size_t count_answers(const cr_dns_query *q, unsigned rcode, size_t n_addrs, size_t room)
{
	if (rcode != CR_DNS_RCODE_NOERROR || !q->has_question || q->qtype != CR_DNS_TYPE_A ||
	    q->qclass != CR_DNS_CLASS_IN)
		return 0;
	size_t n = n_addrs < CR_DNS_MAX_ANSWERS ? n_addrs : CR_DNS_MAX_ANSWERS;
	return n < room / A_RR_LEN ? n : room / A_RR_LEN;
}

size_t cr_dns_build_response(const cr_dns_query *q, unsigned rcode, const struct in_addr *addrs,
			     size_t n_addrs, uint32_t ttl, uint8_t *out, size_t cap)
{
	size_t qlen = q->has_question ? q->question_len : 0;
	size_t fixed = CR_DNS_HEADER_LEN + qlen + (q->has_edns ? OPT_LEN : 0);
	if (cap < fixed)
		return 0;
	if (rcode > 15 && !q->has_edns)
		rcode = CR_DNS_RCODE_SERVFAIL; /* an extended rcode needs the OPT record */
	size_t n = count_answers(q, rcode, n_addrs, cap - fixed);
	writer w = {out, 0};
	put_u16(&w, q->id);
	put_u16(&w, FLAG_QR | FLAG_RA | (q->flags & (FLAG_OPCODE | FLAG_RD | FLAG_CD)) | (rcode & 0xF));
	put_u16(&w, q->has_question ? 1 : 0);
	put_u16(&w, (unsigned)n);
	put_u16(&w, 0);
	put_u16(&w, q->has_edns ? 1 : 0);
	memcpy(out + w.off, q->question, qlen);
	w.off += qlen;
	for (size_t i = 0; i < n; i++)
		put_a(&w, addrs[i], ttl);
	if (q->has_edns)
		put_opt(&w, rcode);
	return w.off;
}

int cr_dns_tcp_frame_len(const uint8_t *buf)
{
	int n = buf[0] << 8 | buf[1];
	return n == 0 || n > CR_DNS_MAX_MESSAGE ? -1 : n;
}

static const struct {
	uint16_t type;
	const char *name;
} type_names[] = {
	{1, "A"},      {2, "NS"},     {5, "CNAME"},  {6, "SOA"},    {10, "NULL"},   {12, "PTR"},
	{13, "HINFO"}, {15, "MX"},    {16, "TXT"},   {28, "AAAA"},  {33, "SRV"},    {35, "NAPTR"},
	{41, "OPT"},   {43, "DS"},    {46, "RRSIG"}, {47, "NSEC"},  {48, "DNSKEY"}, {52, "TLSA"},
	{64, "SVCB"},  {65, "HTTPS"}, {99, "SPF"},   {252, "AXFR"}, {255, "ANY"},   {257, "CAA"},
};

const char *cr_dns_type_name(uint16_t qtype, char buf[static 16])
{
	for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
		if (type_names[i].type == qtype) {
			snprintf(buf, 16, "%s", type_names[i].name);
			return buf;
		}
	snprintf(buf, 16, "TYPE%u", qtype);
	return buf;
}
