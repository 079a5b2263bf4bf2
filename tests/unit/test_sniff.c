/* SPDX-License-Identifier: Apache-2.0 */
/* test_sniff.c -- the peeking parsers of src/lib/sniff: a real ClientHello
 * (captured from `openssl s_client -servername x.test`), the same message
 * re-fragmented across records, hand-built ClientHellos for every edge the
 * parser checks, and HTTP/1.x request heads, targets and authorities. Every
 * prefix of a valid input must ask for more bytes, never decide early. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sniff/sniff.h"

/* OpenSSL 3.0 s_client ClientHello, SNI "x.test", one record of 312 bytes. */
static const uint8_t openssl_hello[] = {
	0x16, 0x03, 0x01, 0x01, 0x33, 0x01, 0x00, 0x01, 0x2f, 0x03, 0x03, 0xee, 0x70, 0x48, 0x2f, 0xe7, 0xc3,
	0x32, 0x56, 0x25, 0xf4, 0x7f, 0xe4, 0x06, 0xf8, 0x8b, 0xcd, 0x3b, 0xa5, 0x67, 0x0d, 0x12, 0x49, 0x5a,
	0xb7, 0x93, 0xb0, 0x3f, 0x5d, 0x1b, 0xcd, 0x13, 0x4f, 0x20, 0x21, 0x7e, 0x6f, 0xb7, 0xca, 0x84, 0x8e,
	0xf2, 0x2d, 0xb4, 0x47, 0xb6, 0x55, 0x10, 0x1b, 0x7c, 0xaa, 0x90, 0x88, 0xf3, 0xd7, 0x57, 0xcb, 0xfc,
	0x4a, 0x40, 0x1b, 0x55, 0xdb, 0xc1, 0x3c, 0x0d, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01, 0xc0,
	0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e,
	0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00,
	0x39, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35,
	0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0xa8, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x09, 0x00, 0x00, 0x06,
	0x78, 0x2e, 0x74, 0x65, 0x73, 0x74, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00,
	0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01,
	0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00,
	0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08,
	0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06,
	0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02, 0x00, 0x2b, 0x00, 0x09,
	0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33,
	0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x94, 0xea, 0x4d, 0xe0, 0x8b, 0x67, 0x4a, 0xf3, 0x1e,
	0xf7, 0xc7, 0x72, 0xa3, 0x56, 0x52, 0x8d, 0x57, 0x9e, 0xcf, 0xf7, 0xeb, 0x9d, 0xb2, 0x76, 0xb5, 0x19,
	0x24, 0x5b, 0x56, 0x1b, 0x6a, 0x07,
};

#define SNI_OFFSET 153 /* where "x.test" sits in openssl_hello */

/* ---- builders for hand-made ClientHellos ---- */

typedef struct bytes {
	uint8_t b[40000];
	size_t n;
} bytes;

static void put(bytes *o, const void *p, size_t n)
{
	assert_true(o->n + n <= sizeof(o->b));
	memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put_be(bytes *o, uint32_t v, size_t k)
{
	for (size_t i = 0; i < k; i++) {
		uint8_t c = (uint8_t)(v >> (8 * (k - 1 - i)));
		put(o, &c, 1);
	}
}

/* A server_name extension (type 0) holding one host_name. */
static void ext_sni(bytes *o, const char *name, size_t len)
{
	put_be(o, 0, 2);
	put_be(o, (uint32_t)(len + 5), 2);
	put_be(o, (uint32_t)(len + 3), 2);
	put_be(o, 0, 1);
	put_be(o, (uint32_t)len, 2);
	put(o, name, len);
}

static void ext_other(bytes *o, uint16_t type, size_t len)
{
	put_be(o, type, 2);
	put_be(o, (uint32_t)len, 2);
	for (size_t i = 0; i < len; i++)
		put_be(o, 0x5a, 1);
}

/* A ClientHello handshake message around the extension block `exts`
 * (no extension block at all when exts is NULL). */
static void client_hello(bytes *o, const bytes *exts)
{
	bytes body = {0};
	put_be(&body, 0x0303, 2);
	for (int i = 0; i < 32; i++)
		put_be(&body, (uint32_t)i, 1);
	put_be(&body, 0, 1);      /* session id */
	put_be(&body, 2, 2);      /* cipher suites */
	put_be(&body, 0x1301, 2); /* TLS_AES_128_GCM_SHA256 */
	put_be(&body, 1, 1);      /* compression methods */
	put_be(&body, 0, 1);      /* null */
	if (exts) {
		put_be(&body, (uint32_t)exts->n, 2);
		put(&body, exts->b, exts->n);
	}
	put_be(o, 1, 1);
	put_be(o, (uint32_t)body.n, 3);
	put(o, body.b, body.n);
}

/* Handshake bytes as records of at most `frag` bytes each. */
static void records(bytes *o, const uint8_t *hs, size_t n, size_t frag)
{
	for (size_t off = 0; off < n; off += frag) {
		size_t k = n - off < frag ? n - off : frag;
		put_be(o, 0x16, 1);
		put_be(o, 0x0301, 2);
		put_be(o, (uint32_t)k, 2);
		put(o, hs + off, k);
	}
}

/* A whole input: one record around a ClientHello with these extensions. */
static void hello_with(bytes *o, const bytes *exts)
{
	bytes hs = {0};
	client_hello(&hs, exts);
	records(o, hs.b, hs.n, 1u << 14);
}

static cr_sniff_result sni(const bytes *in, char *name)
{
	return cr_sniff_tls_sni(in->b, in->n, name);
}

/* Every strict prefix of a complete input asks for more. */
static void assert_prefixes_need_more(const uint8_t *b, size_t n)
{
	char name[CR_SNIFF_NAME_MAX + 1];
	for (size_t k = 0; k < n; k++)
		if (cr_sniff_tls_sni(b, k, name) != CR_SNIFF_NEED_MORE)
			fail_msg("prefix of %zu bytes: %s", k,
				 cr_sniff_result_name(cr_sniff_tls_sni(b, k, name)));
}

/* ---- TLS ---- */

static void test_tls_real_hello(void **state)
{
	(void)state;
	char name[CR_SNIFF_NAME_MAX + 1];
	assert_int_equal(cr_sniff_tls_sni(openssl_hello, sizeof(openssl_hello), name), CR_SNIFF_FOUND);
	assert_string_equal(name, "x.test");
	assert_prefixes_need_more(openssl_hello, sizeof(openssl_hello));
	/* bytes after the ClientHello (a client that already sent more) are ignored */
	uint8_t more[sizeof(openssl_hello) + 3];
	memcpy(more, openssl_hello, sizeof(openssl_hello));
	memcpy(more + sizeof(openssl_hello), "\x14\x03\x03", 3);
	assert_int_equal(cr_sniff_tls_sni(more, sizeof(more), name), CR_SNIFF_FOUND);
}

static void test_tls_real_hello_fragmented(void **state)
{
	(void)state;
	const size_t frags[] = {1, 7, 50, 200};
	for (size_t f = 0; f < sizeof(frags) / sizeof(frags[0]); f++) {
		bytes in = {0};
		records(&in, openssl_hello + 5, sizeof(openssl_hello) - 5, frags[f]);
		char name[CR_SNIFF_NAME_MAX + 1];
		assert_int_equal(sni(&in, name), CR_SNIFF_FOUND);
		assert_string_equal(name, "x.test");
		assert_prefixes_need_more(in.b, in.n);
	}
}

static void test_tls_real_hello_bad_name(void **state)
{
	(void)state;
	/* the same bytes with one byte of the name replaced: NUL, high bit, space */
	const uint8_t bad[] = {0x00, 0xc3, ' ', '/'};
	for (size_t i = 0; i < sizeof(bad); i++) {
		uint8_t h[sizeof(openssl_hello)];
		memcpy(h, openssl_hello, sizeof(h));
		assert_memory_equal(h + SNI_OFFSET, "x.test", 6);
		h[SNI_OFFSET + 1] = bad[i];
		char name[CR_SNIFF_NAME_MAX + 1] = "junk";
		assert_int_equal(cr_sniff_tls_sni(h, sizeof(h), name), CR_SNIFF_MALFORMED);
		assert_string_equal(name, "");
	}
}

static void test_tls_not_tls(void **state)
{
	(void)state;
	char name[CR_SNIFF_NAME_MAX + 1];
	static const char *const others[] = {
		"GET / HTTP/1.1\r\n", "SSH-2.0-x\r\n",        "\x16\x02",
		"\x16\x03\x05",       "\x17\x03\x03\x00\x10", "\x80\x2e\x01\x03\x01"};
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		assert_int_equal(cr_sniff_tls_sni((const uint8_t *)others[i], strlen(others[i]), name),
				 CR_SNIFF_OTHER);
	assert_int_equal(cr_sniff_tls_sni((const uint8_t *)"", 0, name), CR_SNIFF_NEED_MORE);
	assert_int_equal(cr_sniff_tls_sni((const uint8_t *)"\x16\x03", 2, name), CR_SNIFF_NEED_MORE);
}

static void test_tls_no_sni(void **state)
{
	(void)state;
	char name[CR_SNIFF_NAME_MAX + 1];
	bytes a = {0}, b = {0}, exts = {0};
	hello_with(&a, NULL);
	assert_int_equal(sni(&a, name), CR_SNIFF_NO_NAME);
	ext_other(&exts, 10, 4);
	ext_other(&exts, 43, 3);
	hello_with(&b, &exts);
	assert_int_equal(sni(&b, name), CR_SNIFF_NO_NAME);
	assert_string_equal(name, "");
}

static void test_tls_name_forms(void **state)
{
	(void)state;
	struct {
		const char *sent, *want; /* want NULL: MALFORMED */
	} cases[] = {
		{"API.Example.COM", "api.example.com"},
		{"api.example.com.", "api.example.com"},
		{"_srv.a-b.example", "_srv.a-b.example"},
		{"xn--bcher-kva.example", "xn--bcher-kva.example"},
		{"a..example", NULL},
		{".example", NULL},
		{".", NULL},
		{"a.example..", NULL},
		{"b\xc3\xbc"
		 "cher.example",
		 NULL},
		{"a b.example", NULL},
		{"a:443", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bytes in = {0}, exts = {0};
		ext_sni(&exts, cases[i].sent, strlen(cases[i].sent));
		hello_with(&in, &exts);
		char name[CR_SNIFF_NAME_MAX + 1];
		cr_sniff_result r = sni(&in, name);
		if (cases[i].want) {
			assert_int_equal(r, CR_SNIFF_FOUND);
			assert_string_equal(name, cases[i].want);
		} else {
			assert_int_equal(r, CR_SNIFF_MALFORMED);
		}
	}
}

static void test_tls_name_lengths(void **state)
{
	(void)state;
	char longest[300];
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
	memset(longest, 'a', sizeof(longest));
	longest[63] = longest[127] = longest[191] = '.';
	char name[CR_SNIFF_NAME_MAX + 1];
	bytes ok = {0}, exts = {0};
	ext_sni(&exts, longest, 253);
	hello_with(&ok, &exts);
	assert_int_equal(sni(&ok, name), CR_SNIFF_FOUND);
	assert_int_equal(strlen(name), 253);

	bytes too_long = {0}, e2 = {0};
	ext_sni(&e2, longest, 254);
	hello_with(&too_long, &e2);
	assert_int_equal(sni(&too_long, name), CR_SNIFF_MALFORMED);

	char label64[70];
	memset(label64, 'b', 64);
	memcpy(label64 + 64, ".test", 5);
	bytes bad_label = {0}, e3 = {0};
	ext_sni(&e3, label64, 69);
	hello_with(&bad_label, &e3);
	assert_int_equal(sni(&bad_label, name), CR_SNIFF_MALFORMED);

	bytes empty = {0}, e4 = {0};
	ext_sni(&e4, "", 0);
	hello_with(&empty, &e4);
	assert_int_equal(sni(&empty, name), CR_SNIFF_MALFORMED);
}

static void test_tls_duplicates(void **state)
{
	(void)state;
	char name[CR_SNIFF_NAME_MAX + 1];
	/* two server_name extensions */
	bytes a = {0}, ea = {0};
	ext_sni(&ea, "a.test", 6);
	ext_sni(&ea, "b.test", 6);
	hello_with(&a, &ea);
	assert_int_equal(sni(&a, name), CR_SNIFF_MALFORMED);
	/* one extension listing two host_names */
	bytes b = {0}, eb = {0};
	put_be(&eb, 0, 2);
	put_be(&eb, 2 + 9 + 9, 2);
	put_be(&eb, 9 + 9, 2);
	put_be(&eb, 0, 1);
	put_be(&eb, 6, 2);
	put(&eb, "a.test", 6);
	put_be(&eb, 0, 1);
	put_be(&eb, 6, 2);
	put(&eb, "b.test", 6);
	hello_with(&b, &eb);
	assert_int_equal(sni(&b, name), CR_SNIFF_MALFORMED);
	/* an unknown name type only: no host name */
	bytes c = {0}, ec = {0};
	put_be(&ec, 0, 2);
	put_be(&ec, 2 + 3 + 2, 2);
	put_be(&ec, 3 + 2, 2);
	put_be(&ec, 7, 1);
	put_be(&ec, 2, 2);
	put(&ec, "zz", 2);
	hello_with(&c, &ec);
	assert_int_equal(sni(&c, name), CR_SNIFF_NO_NAME);
}

/* Corrupts one length field of a valid hello: every one must be caught. */
static void test_tls_inconsistent_lengths(void **state)
{
	(void)state;
	bytes exts = {0}, good = {0};
	ext_other(&exts, 10, 4);
	ext_sni(&exts, "a.test", 6);
	hello_with(&good, &exts);
	char name[CR_SNIFF_NAME_MAX + 1];
	assert_int_equal(sni(&good, name), CR_SNIFF_FOUND);
	/* offsets: record 5, handshake header 4, body: version 2 random 32 sid 1 suites 2+2 comp 1+1 */
	const size_t body = 9, ext_len = body + 2 + 32 + 1 + 4 + 2, first_ext_len = ext_len + 2 + 2,
		     sni_ext_len = first_ext_len + 2 + 4 + 2, sni_list_len = sni_ext_len + 2,
		     host_len = sni_list_len + 2 + 1;
	const size_t fields[] = {ext_len, first_ext_len, sni_ext_len, sni_list_len, host_len};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		for (int delta = -1; delta <= 1; delta += 2) {
			bytes in = good;
			in.b[fields[i] + 1] = (uint8_t)(in.b[fields[i] + 1] + delta);
			cr_sniff_result r = sni(&in, name);
			if (r != CR_SNIFF_MALFORMED)
				fail_msg("field at %zu %+d: %s", fields[i], delta, cr_sniff_result_name(r));
		}
	/* trailing garbage inside the handshake message */
	bytes hs = {0}, in = {0};
	client_hello(&hs, &exts);
	put_be(&hs, 0, 1);
	hs.b[3] = (uint8_t)(hs.b[3] + 1);
	records(&in, hs.b, hs.n, 1u << 14);
	assert_int_equal(sni(&in, name), CR_SNIFF_MALFORMED);
}

static void test_tls_bad_records(void **state)
{
	(void)state;
	char name[CR_SNIFF_NAME_MAX + 1];
	bytes exts = {0}, hs = {0};
	ext_sni(&exts, "a.test", 6);
	client_hello(&hs, &exts);

	bytes zero = {0}; /* a zero-length handshake record */
	put(&zero, "\x16\x03\x01\x00\x00", 5);
	records(&zero, hs.b, hs.n, 1u << 14);
	assert_int_equal(sni(&zero, name), CR_SNIFF_MALFORMED);

	bytes big = {0}; /* a record longer than 2^14 */
	put(&big, "\x16\x03\x01\x40\x01", 5);
	put(&big, hs.b, hs.n);
	assert_int_equal(sni(&big, name), CR_SNIFF_MALFORMED);

	bytes interleaved = {0}; /* application data between fragments */
	records(&interleaved, hs.b, 10, 10);
	put(&interleaved, "\x17\x03\x03\x00\x01\x00", 6);
	records(&interleaved, hs.b + 10, hs.n - 10, 1u << 14);
	assert_int_equal(sni(&interleaved, name), CR_SNIFF_MALFORMED);

	bytes server_hello = {0};
	bytes sh = hs;
	sh.b[0] = 2;
	records(&server_hello, sh.b, sh.n, 1u << 14);
	assert_int_equal(sni(&server_hello, name), CR_SNIFF_MALFORMED);

	bytes v2 = {0}; /* legacy_version major byte not 3 */
	bytes hv = hs;
	hv.b[4] = 2;
	records(&v2, hv.b, hv.n, 1u << 14);
	assert_int_equal(sni(&v2, name), CR_SNIFF_MALFORMED);
}

/* A large ClientHello across two records passes; one that cannot fit in
 * the 16 KiB cap is refused once the cap is reached, never waited for. */
static void test_tls_cap(void **state)
{
	(void)state;
	char name[CR_SNIFF_NAME_MAX + 1];
	bytes exts = {0}, hs = {0}, in = {0};
	ext_other(&exts, 21, 15000); /* padding */
	ext_sni(&exts, "big.test", 8);
	client_hello(&hs, &exts);
	records(&in, hs.b, hs.n, 8000);
	assert_true(in.n < CR_SNIFF_MAX_BYTES);
	assert_int_equal(sni(&in, name), CR_SNIFF_FOUND);
	assert_string_equal(name, "big.test");

	bytes exts2 = {0}, hs2 = {0}, in2 = {0};
	ext_other(&exts2, 21, 16300);
	client_hello(&hs2, &exts2);
	records(&in2, hs2.b, hs2.n, 1000); /* fits the handshake cap, not the input cap */
	assert_int_equal(cr_sniff_tls_sni(in2.b, CR_SNIFF_MAX_BYTES - 1, name), CR_SNIFF_NEED_MORE);
	assert_int_equal(cr_sniff_tls_sni(in2.b, CR_SNIFF_MAX_BYTES, name), CR_SNIFF_MALFORMED);
	assert_int_equal(sni(&in2, name), CR_SNIFF_MALFORMED);

	bytes exts3 = {0}, hs3 = {0}, in3 = {0};
	ext_other(&exts3, 21, 20000); /* declares more than the cap: refused at once */
	client_hello(&hs3, &exts3);
	records(&in3, hs3.b, hs3.n, 1u << 14);
	assert_int_equal(cr_sniff_tls_sni(in3.b, 9, name), CR_SNIFF_MALFORMED);
}

/* ---- HTTP ---- */

static cr_sniff_result head(const char *s, cr_http_head *h)
{
	return cr_sniff_http_head((const uint8_t *)s, strlen(s), h);
}

static bool span_eq(cr_sniff_span s, const char *lit)
{
	return s.p && s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

static void test_http_found(void **state)
{
	(void)state;
	const char *req =
		"GET /a?b=1 HTTP/1.1\r\nUser-Agent: t\r\nHost: Example.COM:8080 \r\nAccept: */*\r\n\r\n"
		"body";
	cr_http_head h;
	assert_int_equal(head(req, &h), CR_SNIFF_FOUND);
	assert_true(span_eq(h.method, "GET"));
	assert_true(span_eq(h.target, "/a?b=1"));
	assert_int_equal(h.minor, 1);
	assert_string_equal(h.host.host, "example.com");
	assert_int_equal(h.host.port, 8080);
	assert_false(h.host.is_ip);
	assert_int_equal(h.head_len, strlen(req) - 4);
	size_t n = strlen(req) - 4;
	for (size_t k = 0; k < n; k++) {
		cr_http_head t;
		cr_sniff_result r = cr_sniff_http_head((const uint8_t *)req, k, &t);
		if (r != CR_SNIFF_NEED_MORE)
			fail_msg("prefix of %zu bytes: %s", k, cr_sniff_result_name(r));
	}
	/* the header iterator */
	cr_sniff_span rest = h.headers, name, value, line;
	const char *names[] = {"User-Agent", "Host", "Accept"}, *values[] = {"t", "Example.COM:8080", "*/*"};
	for (size_t i = 0; i < 3; i++) {
		assert_true(cr_sniff_http_next_header(&rest, &name, &value, &line));
		assert_true(span_eq(name, names[i]));
		assert_true(span_eq(value, values[i]));
		assert_int_equal(line.p[line.len - 1], '\n');
	}
	assert_false(cr_sniff_http_next_header(&rest, &name, &value, &line));
}

static void test_http_host_forms(void **state)
{
	(void)state;
	struct {
		const char *host, *want;
		unsigned port;
		bool is_ip;
	} cases[] = {
		{"a.example", "a.example", 0, false},
		{"A.Example.", "a.example", 0, false},
		{"10.254.0.10:80", "10.254.0.10", 80, true},
		{"[2001:DB8::1]:443", "2001:db8::1", 443, true},
		{"[::ffff:10.0.0.1]", "::ffff:10.0.0.1", 0, true},
		{"x.test:65535", "x.test", 65535, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char req[512];
		snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nhOsT:\t%s\r\n\r\n", cases[i].host);
		cr_http_head h;
		assert_int_equal(head(req, &h), CR_SNIFF_FOUND);
		assert_string_equal(h.host.host, cases[i].want);
		assert_int_equal(h.host.port, cases[i].port);
		assert_int_equal(h.host.is_ip, cases[i].is_ip);
	}
}

static void test_http_no_name(void **state)
{
	(void)state;
	cr_http_head h;
	assert_int_equal(head("GET / HTTP/1.0\r\n\r\n", &h), CR_SNIFF_NO_NAME);
	assert_int_equal(h.minor, 0);
	assert_false(h.has_host);
	assert_int_equal(head("GET / HTTP/1.1\r\nHost:\r\n\r\n", &h), CR_SNIFF_NO_NAME);
	assert_true(h.has_host);
}

static void test_http_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\nHost: a.test\r\nhost: a.test\r\n\r\n", /* duplicate Host */
		"GET / HTTP/1.1\r\nHost : a.test\r\n\r\n",                /* space before colon */
		"GET / HTTP/1.1\r\nHost: a.test\r\n x\r\n\r\n",           /* folding */
		"GET / HTTP/1.1\nHost: a.test\n\n",                       /* bare LF */
		"GET / HTTP/1.1\r\nHost: a.test\nX: y\r\n\r\n",           /* bare LF in a header */
		"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",                      /* bare CR */
		"GET / HTTP/1.1\r\nX: a\x01\r\n\r\n",                     /* control byte */
		"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.test:0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.test:65536\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.test:\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a.test:8x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: 2001:db8::1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [2001:db8::1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: [nothex]\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: user@a.test\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\x00.test\r\n\r\n",
		"GET / HTTP/1.1\r\n: empty\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\r\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_http_head h;
		size_t len = strlen(bad[i]);
		if (i == 16)
			len = sizeof("GET / HTTP/1.1\r\nHost: a\x00.test\r\n\r\n") - 1;
		cr_sniff_result r = cr_sniff_http_head((const uint8_t *)bad[i], len, &h);
		if (r != CR_SNIFF_MALFORMED)
			fail_msg("case %zu: %s", i, cr_sniff_result_name(r));
	}
}

static void test_http_other(void **state)
{
	(void)state;
	static const char *const other[] = {
		"SSH-2.0-OpenSSH_9.2\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
		"get / HTTP/1.1\r\n",
		"GET /\r\n",
		"GET  / HTTP/1.1\r\n",
		"\x16\x03\x01\x02\x00",
		"PING\r\n",
		"GET / HTTP/1.2\r\n",
		"ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\n",
		"GET /\x01 HTTP/1.1\r\n",
		" GET / HTTP/1.1\r\n",
	};
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		cr_http_head h;
		cr_sniff_result r = head(other[i], &h);
		if (r != CR_SNIFF_OTHER)
			fail_msg("case %zu: %s", i, cr_sniff_result_name(r));
	}
	cr_http_head h;
	assert_int_equal(head("", &h), CR_SNIFF_NEED_MORE);
	assert_int_equal(head("POS", &h), CR_SNIFF_NEED_MORE);
}

static void test_http_cap(void **state)
{
	(void)state;
	static char req[CR_SNIFF_MAX_BYTES + 64];
	const char *start = "GET / HTTP/1.1\r\nHost: a.test\r\nX-Pad: ";
	size_t n = strlen(start);
	memcpy(req, start, n);
	/* a head of exactly CR_SNIFF_MAX_BYTES bytes is accepted */
	memset(req + n, 'p', CR_SNIFF_MAX_BYTES - n - 4);
	memcpy(req + CR_SNIFF_MAX_BYTES - 4, "\r\n\r\n", 4);
	cr_http_head h;
	assert_int_equal(cr_sniff_http_head((const uint8_t *)req, CR_SNIFF_MAX_BYTES, &h), CR_SNIFF_FOUND);
	assert_int_equal(h.head_len, CR_SNIFF_MAX_BYTES);
	/* one byte more is not */
	memset(req + n, 'p', CR_SNIFF_MAX_BYTES - n - 3);
	memcpy(req + CR_SNIFF_MAX_BYTES - 3, "\r\n\r\n", 4);
	assert_int_equal(cr_sniff_http_head((const uint8_t *)req, CR_SNIFF_MAX_BYTES + 1, &h),
			 CR_SNIFF_MALFORMED);
	assert_int_equal(cr_sniff_http_head((const uint8_t *)req, CR_SNIFF_MAX_BYTES - 1, &h),
			 CR_SNIFF_NEED_MORE);
}

static void test_http_targets(void **state)
{
	(void)state;
	cr_http_target t;
#define T(s) ((cr_sniff_span){s, sizeof(s) - 1})
	assert_int_equal(cr_sniff_http_target(T("http://Example.com:8080/a?b"), &t), 0);
	assert_int_equal(t.form, CR_HTTP_TARGET_ABSOLUTE);
	assert_true(span_eq(t.scheme, "http"));
	assert_string_equal(t.authority.host, "example.com");
	assert_int_equal(t.authority.port, 8080);
	assert_true(span_eq(t.path, "/a?b"));
	assert_int_equal(cr_sniff_http_target(T("HTTP://a.test"), &t), 0);
	assert_int_equal(t.path.len, 0);
	assert_int_equal(t.authority.port, 0);
	assert_int_equal(cr_sniff_http_target(T("http://a.test?q"), &t), 0);
	assert_true(span_eq(t.path, "?q"));
	assert_int_equal(cr_sniff_http_target(T("a.test:443"), &t), 0);
	assert_int_equal(t.form, CR_HTTP_TARGET_AUTHORITY);
	assert_string_equal(t.authority.host, "a.test");
	assert_int_equal(t.authority.port, 443);
	assert_int_equal(cr_sniff_http_target(T("[::1]:22"), &t), 0);
	assert_true(t.authority.is_ip);
	assert_string_equal(t.authority.host, "::1");
	assert_int_equal(cr_sniff_http_target(T("10.254.0.10:443"), &t), 0);
	assert_true(t.authority.is_ip);
	assert_int_equal(cr_sniff_http_target(T("/x"), &t), 0);
	assert_int_equal(t.form, CR_HTTP_TARGET_ORIGIN);
	assert_int_equal(cr_sniff_http_target(T("*"), &t), 0);
	assert_int_equal(t.form, CR_HTTP_TARGET_ASTERISK);
	assert_int_equal(cr_sniff_http_target(T("a.test"), &t), -1); /* CONNECT needs a port */
	assert_int_equal(cr_sniff_http_target(T("http://user@a.test/"), &t), -1);
	assert_int_equal(cr_sniff_http_target(T("http:///x"), &t), -1);
	assert_int_equal(cr_sniff_http_target(T("http://a.test:99999/"), &t), -1);
	assert_int_equal(cr_sniff_http_target(T(""), &t), -1);
#undef T
}

static void test_name_copy(void **state)
{
	(void)state;
	char out[CR_SNIFF_NAME_MAX + 1];
	assert_true(cr_sniff_name_copy((const uint8_t *)"A.B.", 4, out));
	assert_string_equal(out, "a.b");
	assert_false(cr_sniff_name_copy((const uint8_t *)".", 1, out));
	assert_false(cr_sniff_name_copy((const uint8_t *)"", 0, out));
	assert_false(cr_sniff_name_copy((const uint8_t *)"a..", 3, out));
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls_real_hello),
		cmocka_unit_test(test_tls_real_hello_fragmented),
		cmocka_unit_test(test_tls_real_hello_bad_name),
		cmocka_unit_test(test_tls_not_tls),
		cmocka_unit_test(test_tls_no_sni),
		cmocka_unit_test(test_tls_name_forms),
		cmocka_unit_test(test_tls_name_lengths),
		cmocka_unit_test(test_tls_duplicates),
		cmocka_unit_test(test_tls_inconsistent_lengths),
		cmocka_unit_test(test_tls_bad_records),
		cmocka_unit_test(test_tls_cap),
		cmocka_unit_test(test_http_found),
		cmocka_unit_test(test_http_host_forms),
		cmocka_unit_test(test_http_no_name),
		cmocka_unit_test(test_http_malformed),
		cmocka_unit_test(test_http_other),
		cmocka_unit_test(test_http_cap),
		cmocka_unit_test(test_http_targets),
		cmocka_unit_test(test_name_copy),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
