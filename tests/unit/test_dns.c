/* SPDX-License-Identifier: Apache-2.0 */
/* test_dns.c -- the DNS query parser and answer builder (lib/dns) against
 * handcrafted messages: well-formed queries with and without EDNS, and every
 * malformation the parser must refuse (truncation, question counts,
 * compression pointers, label and name lengths, responses, foreign bytes). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns.h"

typedef struct pkt {
	uint8_t b[8192];
	size_t n;
} pkt;

static void u8(pkt *p, unsigned v)
{
	p->b[p->n++] = (uint8_t)v;
}

static void u16(pkt *p, unsigned v)
{
	u8(p, v >> 8);
	u8(p, v & 0xFF);
}

static void header(pkt *p, unsigned id, unsigned flags, unsigned qd, unsigned an, unsigned ns, unsigned ar)
{
	p->n = 0;
	u16(p, id), u16(p, flags), u16(p, qd), u16(p, an), u16(p, ns), u16(p, ar);
}

/* A dotted name as labels, then the root. */
static void name(pkt *p, const char *dotted)
{
	while (*dotted) {
		const char *dot = strchr(dotted, '.');
		size_t n = dot ? (size_t)(dot - dotted) : strlen(dotted);
		u8(p, (unsigned)n);
		memcpy(p->b + p->n, dotted, n);
		p->n += n;
		dotted += n + (dot ? 1 : 0);
	}
	u8(p, 0);
}

static pkt query(const char *qname, unsigned qtype)
{
	pkt p;
	header(&p, 0x1234, 0x0100, 1, 0, 0, 0); /* RD */
	name(&p, qname);
	u16(&p, qtype), u16(&p, CR_DNS_CLASS_IN);
	return p;
}

/* An OPT record: root owner, payload size, version, rdata of rdlen zeros. */
static void opt(pkt *p, unsigned size, unsigned version, unsigned rdlen)
{
	u8(p, 0);
	u16(p, CR_DNS_TYPE_OPT), u16(p, size);
	u8(p, 0), u8(p, version), u16(p, 0);
	u16(p, rdlen);
	for (unsigned i = 0; i < rdlen; i++)
		u8(p, 0);
}

static cr_dns_status parse(const pkt *p, cr_dns_query *q)
{
	return cr_dns_parse_query(p->b, p->n, q);
}

static void test_simple_query(void **state)
{
	(void)state;
	pkt p = query("WWW.Example.COM", CR_DNS_TYPE_A);
	cr_dns_query q;
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	assert_int_equal(q.id, 0x1234);
	assert_string_equal(q.name, "www.example.com");
	assert_int_equal(q.qtype, CR_DNS_TYPE_A);
	assert_int_equal(q.qclass, CR_DNS_CLASS_IN);
	assert_true(q.has_question);
	assert_false(q.has_edns);
	/* the question is kept as sent, case included */
	assert_int_equal(q.question_len, p.n - CR_DNS_HEADER_LEN);
	assert_memory_equal(q.question, p.b + CR_DNS_HEADER_LEN, q.question_len);
}

static void test_host_bytes(void **state)
{
	(void)state;
	cr_dns_query q;
	pkt p = query("_dmarc.my-host9.test", 16);
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	assert_string_equal(q.name, "_dmarc.my-host9.test");
	p = query("foo!bar.test", CR_DNS_TYPE_A);
	assert_int_equal(parse(&p, &q), CR_DNS_BADNAME);
	assert_string_equal(q.name, "foo\\033bar.test");
	p = query("*.wild.test", CR_DNS_TYPE_A);
	assert_int_equal(parse(&p, &q), CR_DNS_BADNAME);
	/* a dot inside a label is no label separator */
	header(&p, 1, 0, 1, 0, 0, 0);
	u8(&p, 3), u8(&p, 'a'), u8(&p, '.'), u8(&p, 'b'), u8(&p, 0);
	u16(&p, 1), u16(&p, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_BADNAME);
	assert_string_equal(q.name, "a\\046b");
	/* a NUL byte */
	header(&p, 1, 0, 1, 0, 0, 0);
	u8(&p, 2), u8(&p, 'a'), u8(&p, 0), u8(&p, 0);
	u16(&p, 1), u16(&p, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_BADNAME);
}

static void test_root_name(void **state)
{
	(void)state;
	pkt p = query("", 2);
	cr_dns_query q;
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	assert_string_equal(q.name, "");
}

static void test_truncated(void **state)
{
	(void)state;
	cr_dns_query q;
	pkt p = query("example.test", CR_DNS_TYPE_A);
	assert_int_equal(cr_dns_parse_query(p.b, 0, &q), CR_DNS_DROP);
	assert_int_equal(cr_dns_parse_query(p.b, 11, &q), CR_DNS_DROP);
	/* every cut inside the question */
	for (size_t n = CR_DNS_HEADER_LEN; n < p.n; n++) {
		assert_int_equal(cr_dns_parse_query(p.b, n, &q), CR_DNS_FORMERR);
	}
	/* a label running past the end */
	header(&p, 1, 0, 1, 0, 0, 0);
	u8(&p, 40), u8(&p, 'a');
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
}

static void test_not_a_query(void **state)
{
	(void)state;
	cr_dns_query q;
	pkt p = query("example.test", CR_DNS_TYPE_A);
	p.b[2] |= 0x80; /* QR: a response; answering it could loop */
	assert_int_equal(parse(&p, &q), CR_DNS_DROP);
	p = query("example.test", CR_DNS_TYPE_A);
	p.b[2] |= 2 << 3; /* opcode STATUS */
	assert_int_equal(parse(&p, &q), CR_DNS_NOTIMP);
	assert_false(q.has_question);
	assert_int_equal(q.id, 0x1234);
}

static void test_question_count(void **state)
{
	(void)state;
	cr_dns_query q;
	pkt p;
	header(&p, 7, 0, 0, 0, 0, 0);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	assert_false(q.has_question);
	header(&p, 7, 0, 2, 0, 0, 0);
	name(&p, "a.test"), u16(&p, 1), u16(&p, 1);
	name(&p, "b.test"), u16(&p, 1), u16(&p, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	/* answer and authority records have no place in a query */
	p = query("a.test", 1);
	p.b[7] = 1;
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	p = query("a.test", 1);
	p.b[9] = 1;
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
}

static void test_pointers(void **state)
{
	(void)state;
	cr_dns_query q;
	pkt p;
	/* a pointer to itself */
	header(&p, 1, 0, 1, 0, 0, 0);
	u16(&p, 0xC00C), u16(&p, 1), u16(&p, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	/* a label, then a pointer back to it: a loop */
	header(&p, 1, 0, 1, 0, 0, 0);
	u8(&p, 1), u8(&p, 'a'), u16(&p, 0xC00C), u16(&p, 1), u16(&p, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	/* a pointer into the header */
	header(&p, 1, 0, 1, 0, 0, 0);
	u16(&p, 0xC002), u16(&p, 1), u16(&p, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	/* the reserved label types 0x40 and 0x80 */
	header(&p, 1, 0, 1, 0, 0, 0);
	u8(&p, 0x41), u8(&p, 'a'), u8(&p, 0), u16(&p, 1), u16(&p, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
}

static void repeat(char *out, char c, size_t n)
{
	memset(out, c, n);
	out[n] = '\0';
}

static void test_lengths(void **state)
{
	(void)state;
	cr_dns_query q;
	char label[65], long_name[300];
	repeat(label, 'a', 63);
	pkt p = query(label, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	assert_int_equal(strlen(q.name), 63);
	repeat(label, 'a', 64); /* 64 = 0x40: not a length */
	p = query(label, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	/* 4 x 63 + 3 dots = 255 characters: two too many */
	repeat(label, 'b', 63);
	snprintf(long_name, sizeof(long_name), "%s.%s.%s.%s", label, label, label, label);
	p = query(long_name, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	/* 3 x 63 + 61 + 3 dots = 253: the longest name */
	label[61] = '\0';
	snprintf(long_name + 3 * 64, sizeof(long_name) - 3 * 64, "%s", label);
	p = query(long_name, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	assert_int_equal(strlen(q.name), CR_DNS_MAX_NAME);
	/* 254 */
	long_name[3 * 64 + 61] = 'c';
	long_name[3 * 64 + 62] = '\0';
	p = query(long_name, 1);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	/* over the message cap */
	p = query("a.test", 1);
	assert_int_equal(cr_dns_parse_query(p.b, CR_DNS_MAX_MESSAGE + 1, &q), CR_DNS_FORMERR);
}

static void test_edns(void **state)
{
	(void)state;
	cr_dns_query q;
	pkt p = query("a.test", 1);
	p.b[11] = 1;
	opt(&p, 1400, 0, 8); /* e.g. a cookie option */
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	assert_true(q.has_edns);
	assert_int_equal(q.edns_udp_size, 1400);
	assert_int_equal(cr_dns_answer_limit(&q, false), 1400);
	assert_int_equal(cr_dns_answer_limit(&q, true), CR_DNS_MAX_MESSAGE);

	p = query("a.test", 1);
	p.b[11] = 1;
	opt(&p, 1400, 1, 0);
	assert_int_equal(parse(&p, &q), CR_DNS_BADVERS);
	assert_true(q.has_edns);

	p = query("a.test", 1);
	p.b[11] = 1;
	opt(&p, 1400, 0, 8);
	p.n -= 3; /* rdata cut short */
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);

	/* OPT owned by another name, another type of record, two records */
	p = query("a.test", 1);
	p.b[11] = 1;
	name(&p, "x"), u16(&p, CR_DNS_TYPE_OPT), u16(&p, 512), u16(&p, 0), u16(&p, 0), u16(&p, 0);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	p = query("a.test", 1);
	p.b[11] = 1;
	u8(&p, 0), u16(&p, 16), u16(&p, 1), u16(&p, 0), u16(&p, 0), u16(&p, 0);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	p = query("a.test", 1);
	p.b[11] = 2;
	opt(&p, 512, 0, 0);
	opt(&p, 512, 0, 0);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	/* a small advertised size still allows 512 bytes */
	p = query("a.test", 1);
	p.b[11] = 1;
	opt(&p, 100, 0, 0);
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	assert_int_equal(cr_dns_answer_limit(&q, false), CR_DNS_UDP_PLAIN);
}

static void test_trailing_bytes(void **state)
{
	(void)state;
	cr_dns_query q;
	pkt p = query("a.test", 1);
	u8(&p, 0);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	assert_true(q.has_question); /* FORMERR can echo it */
}

static unsigned rd16(const uint8_t *b)
{
	return (unsigned)(b[0] << 8 | b[1]);
}

static void test_build_a(void **state)
{
	(void)state;
	pkt p = query("Allowed.TEST", CR_DNS_TYPE_A);
	cr_dns_query q;
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	struct in_addr addrs[2];
	inet_pton(AF_INET, "10.254.1.10", &addrs[0]);
	inet_pton(AF_INET, "10.254.1.11", &addrs[1]);
	uint8_t out[CR_DNS_MAX_MESSAGE];
	size_t n = cr_dns_build_response(&q, CR_DNS_RCODE_NOERROR, addrs, 2, 300, out, sizeof(out));
	size_t qlen = p.n - CR_DNS_HEADER_LEN;
	assert_int_equal(n, CR_DNS_HEADER_LEN + qlen + 2 * 16);
	assert_int_equal(rd16(out), 0x1234);
	assert_int_equal(rd16(out + 2), 0x8180); /* QR, RD echoed, RA, NOERROR */
	assert_int_equal(rd16(out + 4), 1);
	assert_int_equal(rd16(out + 6), 2);
	assert_int_equal(rd16(out + 8), 0);
	assert_int_equal(rd16(out + 10), 0);
	assert_memory_equal(out + CR_DNS_HEADER_LEN, p.b + CR_DNS_HEADER_LEN, qlen);
	const uint8_t *rr = out + CR_DNS_HEADER_LEN + qlen;
	for (int i = 0; i < 2; i++, rr += 16) {
		assert_int_equal(rd16(rr), 0xC00C);
		assert_int_equal(rd16(rr + 2), CR_DNS_TYPE_A);
		assert_int_equal(rd16(rr + 4), CR_DNS_CLASS_IN);
		assert_int_equal(rd16(rr + 6) << 16 | rd16(rr + 8), 300);
		assert_int_equal(rd16(rr + 10), 4);
		assert_memory_equal(rr + 12, &addrs[i], 4);
	}
}

static void test_build_caps(void **state)
{
	(void)state;
	struct in_addr addrs[20];
	for (int i = 0; i < 20; i++)
		addrs[i].s_addr = htonl(0x0AFE0100u + (unsigned)i);
	uint8_t out[CR_DNS_MAX_MESSAGE];
	cr_dns_query q;
	pkt p = query("a.test", CR_DNS_TYPE_A);
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	cr_dns_build_response(&q, 0, addrs, 20, 60, out, sizeof(out));
	assert_int_equal(rd16(out + 6), CR_DNS_MAX_ANSWERS);
	/* a 253-character name over plain UDP: only what fits in 512 bytes */
	char label[64], long_name[300];
	repeat(label, 'd', 63);
	snprintf(long_name, sizeof(long_name), "%s.%s.%s.%.61s", label, label, label, label);
	p = query(long_name, CR_DNS_TYPE_A);
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	size_t n = cr_dns_build_response(&q, 0, addrs, 20, 60, out, cr_dns_answer_limit(&q, false));
	assert_true(n <= CR_DNS_UDP_PLAIN);
	assert_int_equal(rd16(out + 6), (CR_DNS_UDP_PLAIN - CR_DNS_HEADER_LEN - (p.n - 12)) / 16);
	/* too small for the question itself */
	assert_int_equal(cr_dns_build_response(&q, 0, addrs, 1, 60, out, 100), 0);
}

static void test_build_empty_and_errors(void **state)
{
	(void)state;
	struct in_addr a = {htonl(0x0AFE0101)};
	uint8_t out[CR_DNS_MAX_MESSAGE];
	cr_dns_query q;
	pkt p = query("a.test", CR_DNS_TYPE_AAAA);
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	size_t n = cr_dns_build_response(&q, 0, &a, 1, 60, out, sizeof(out));
	assert_int_equal(rd16(out + 6), 0); /* no A records for an AAAA question */
	assert_int_equal(n, p.n);
	p = query("denied.test", CR_DNS_TYPE_A);
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	cr_dns_build_response(&q, CR_DNS_RCODE_NXDOMAIN, &a, 1, 60, out, sizeof(out));
	assert_int_equal(rd16(out + 2) & 0xF, CR_DNS_RCODE_NXDOMAIN);
	assert_int_equal(rd16(out + 6), 0);
	/* FORMERR for a message without a usable question */
	header(&p, 0xBEEF, 0, 0, 0, 0, 0);
	assert_int_equal(parse(&p, &q), CR_DNS_FORMERR);
	n = cr_dns_build_response(&q, CR_DNS_RCODE_FORMERR, NULL, 0, 0, out, sizeof(out));
	assert_int_equal(n, CR_DNS_HEADER_LEN);
	assert_int_equal(rd16(out), 0xBEEF);
	assert_int_equal(rd16(out + 2), 0x8081);
	assert_int_equal(rd16(out + 4), 0);
}

static void test_build_edns(void **state)
{
	(void)state;
	uint8_t out[CR_DNS_MAX_MESSAGE];
	cr_dns_query q;
	struct in_addr a = {htonl(0x0AFE0101)};
	pkt p = query("a.test", CR_DNS_TYPE_A);
	p.b[11] = 1;
	opt(&p, 4096, 0, 0);
	assert_int_equal(parse(&p, &q), CR_DNS_OK);
	size_t n = cr_dns_build_response(&q, 0, &a, 1, 60, out, sizeof(out));
	assert_int_equal(rd16(out + 10), 1);
	const uint8_t *o = out + n - 11;
	assert_int_equal(o[0], 0);
	assert_int_equal(rd16(o + 1), CR_DNS_TYPE_OPT);
	assert_int_equal(rd16(o + 3), CR_DNS_EDNS_SIZE);
	assert_int_equal(rd16(o + 5), 0); /* extended rcode 0, version 0 */
	/* BADVERS: 16 = extended rcode 1, header rcode 0 */
	p = query("a.test", CR_DNS_TYPE_A);
	p.b[11] = 1;
	opt(&p, 4096, 2, 0);
	assert_int_equal(parse(&p, &q), CR_DNS_BADVERS);
	n = cr_dns_build_response(&q, CR_DNS_RCODE_BADVERS, NULL, 0, 0, out, sizeof(out));
	assert_int_equal(rd16(out + 2) & 0xF, 0);
	assert_int_equal(out[n - 11 + 5], 1);
	assert_int_equal(rd16(out + 6), 0);
}

static void test_tcp_frame_and_names(void **state)
{
	(void)state;
	uint8_t b[2] = {0, 0};
	assert_int_equal(cr_dns_tcp_frame_len(b), -1);
	b[0] = 0x10, b[1] = 0x01; /* 4097 */
	assert_int_equal(cr_dns_tcp_frame_len(b), -1);
	b[0] = 0x10, b[1] = 0x00;
	assert_int_equal(cr_dns_tcp_frame_len(b), 4096);
	b[0] = 0, b[1] = 29;
	assert_int_equal(cr_dns_tcp_frame_len(b), 29);
	char buf[16];
	assert_string_equal(cr_dns_type_name(1, buf), "A");
	assert_string_equal(cr_dns_type_name(28, buf), "AAAA");
	assert_string_equal(cr_dns_type_name(16, buf), "TXT");
	assert_string_equal(cr_dns_type_name(65, buf), "HTTPS");
	assert_string_equal(cr_dns_type_name(4242, buf), "TYPE4242");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_query),
		cmocka_unit_test(test_host_bytes),
		cmocka_unit_test(test_root_name),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_not_a_query),
		cmocka_unit_test(test_question_count),
		cmocka_unit_test(test_pointers),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_edns),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_build_a),
		cmocka_unit_test(test_build_caps),
		cmocka_unit_test(test_build_empty_and_errors),
		cmocka_unit_test(test_build_edns),
		cmocka_unit_test(test_tcp_frame_and_names),
	};
	return cmocka_run_group_tests_name("dns", tests, NULL, NULL);
}
