/* SPDX-License-Identifier: Apache-2.0 */
/* test_net_pool.c -- the sandbox address pool (src/net/pool.c): parsing and
 * its bounds, the index -> /30 block mapping, interface names and their
 * reverse, the lowest free index by callback and by bitmap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "net/pool.h"

static cr_net_pool parse_ok(const char *cidr)
{
	cr_net_pool p;
	cr_error *err = NULL;
	if (cr_net_pool_parse(cidr, &p, &err) < 0)
		fail_msg("%s: %s", cidr, err->msg);
	return p;
}

static const char *addr(struct in_addr a)
{
	static char buf[INET_ADDRSTRLEN];
	return cr_net_addr_str(a, buf);
}

static void test_parse(void **state)
{
	(void)state;
	char text[CR_NET_CIDR_STRLEN];
	cr_net_pool p = parse_ok(CR_NET_POOL_DEFAULT);
	assert_int_equal(p.network, 0x0ad50000);
	assert_int_equal(p.prefix, 16);
	assert_int_equal(cr_net_pool_size(&p), 16384);
	assert_string_equal(cr_net_pool_format(&p, text), "10.213.0.0/16");
	p = parse_ok("10.0.0.0/8");
	assert_int_equal(cr_net_pool_size(&p), 1u << 22);
	p = parse_ok("192.168.7.16/28");
	assert_int_equal(cr_net_pool_size(&p), 4);
	assert_string_equal(cr_net_pool_format(&p, text), "192.168.7.16/28");
}

static void test_parse_errors(void **state)
{
	(void)state;
	const struct {
		const char *cidr, *text;
	} bad[] = {
		{"10.213.0.0/7", "between /8 and /28"},
		{"10.213.0.0/29", "between /8 and /28"},
		{"10.213.0.0/32", "between /8 and /28"},
		{"10.213.0.1/16", "host bits"},
		{"10.213.0.0", "not an IPv4 CIDR"},
		{"10.213.0.0/", "not an IPv4 CIDR"},
		{"/16", "not an IPv4 CIDR"},
		{"10.213.0.0/016", "not an IPv4 CIDR"},
		{"10.213.0.0/+6", "not an IPv4 CIDR"},
		{"10.213.0/16", "not an IPv4 CIDR"},
		{"fd00::/64", "not an IPv4 CIDR"},
		{"10.213.0.0/16 ", "not an IPv4 CIDR"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_net_pool p;
		cr_error *err = NULL;
		assert_int_equal(cr_net_pool_parse(bad[i].cidr, &p, &err), -1);
		assert_non_null(err);
		if (!strstr(err->msg, bad[i].text))
			fail_msg("%s: '%s' lacks '%s'", bad[i].cidr, err->msg, bad[i].text);
		assert_int_equal(err->reason, CR_REASON_USAGE_INVALID);
		cr_error_free(err);
	}
}

static void expect_lease(const cr_net_pool *p, uint32_t index, const char *gw, const char *sb,
			 const char *name)
{
	cr_net_lease l;
	assert_int_equal(cr_net_pool_lease(p, index, &l, NULL), 0);
	assert_int_equal(l.index, index);
	assert_string_equal(addr(l.gateway_addr), gw);
	assert_string_equal(addr(l.sandbox_addr), sb);
	assert_int_equal(l.prefix, 30);
	assert_string_equal(l.host_ifname, name);
	assert_true(cr_net_pool_contains(p, l.gateway_addr));
	assert_true(cr_net_pool_contains(p, l.sandbox_addr));
}

static void test_lease_mapping(void **state)
{
	(void)state;
	cr_net_pool p = parse_ok("10.213.0.0/16");
	expect_lease(&p, 0, "10.213.0.1", "10.213.0.2", "crsb0000");
	expect_lease(&p, 3, "10.213.0.13", "10.213.0.14", "crsb0003");
	expect_lease(&p, 64, "10.213.1.1", "10.213.1.2", "crsb0040");
	expect_lease(&p, 16383, "10.213.255.253", "10.213.255.254", "crsb3fff");
	cr_net_pool big = parse_ok("10.0.0.0/8");
	expect_lease(&big, 0xffff, "10.3.255.253", "10.3.255.254", "crsbffff");
	expect_lease(&big, 0x10000, "10.4.0.1", "10.4.0.2", "crsb10000");
	expect_lease(&big, (1u << 22) - 1, "10.255.255.253", "10.255.255.254", "crsb3fffff");
	/* every name fits IFNAMSIZ with its NUL */
	cr_net_lease l;
	cr_net_pool_lease(&big, (1u << 22) - 1, &l, NULL);
	assert_true(strlen(l.host_ifname) < CR_NET_IFNAME_SIZE);
}

static void test_lease_bounds(void **state)
{
	(void)state;
	cr_net_pool p = parse_ok("10.213.200.0/24");
	cr_net_lease l;
	cr_error *err = NULL;
	expect_lease(&p, 63, "10.213.200.253", "10.213.200.254", "crsb003f");
	assert_int_equal(cr_net_pool_lease(&p, 64, &l, &err), -1);
	assert_non_null(strstr(err->msg, "has 64 blocks, no block 64"));
	cr_error_free(err);
	err = NULL;
	assert_int_equal(cr_net_pool_lease(&p, UINT32_MAX, &l, &err), -1);
	cr_error_free(err);
}

static void test_contains(void **state)
{
	(void)state;
	cr_net_pool p = parse_ok("10.213.0.0/16");
	struct in_addr a;
	const char *in[] = {"10.213.0.0", "10.213.255.255", "10.213.7.9"};
	const char *out[] = {"10.212.255.255", "10.214.0.0", "0.0.0.0", "213.10.0.1"};
	for (size_t i = 0; i < 3; i++) {
		inet_pton(AF_INET, in[i], &a);
		assert_true(cr_net_pool_contains(&p, a));
	}
	for (size_t i = 0; i < 4; i++) {
		inet_pton(AF_INET, out[i], &a);
		assert_false(cr_net_pool_contains(&p, a));
	}
}

static void test_ifname_index(void **state)
{
	(void)state;
	cr_net_pool big = parse_ok("10.0.0.0/8");
	const uint32_t indices[] = {0, 1, 0xabc, 0xffff, 0x10000, 0x3fffff};
	for (size_t i = 0; i < sizeof(indices) / sizeof(indices[0]); i++) {
		cr_net_lease l;
		uint32_t back = UINT32_MAX;
		cr_net_pool_lease(&big, indices[i], &l, NULL);
		assert_int_equal(cr_net_ifname_index(l.host_ifname, &back), 0);
		assert_int_equal(back, indices[i]);
	}
	const char *bad[] = {"crsb", "crsb12",    "crsb00g1",  "crsb00A1", "crsb0000x",
			     "eth0", "crsb01234", "xcrsb0001", "crsb-001", "crsb123456789"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t index;
		if (cr_net_ifname_index(bad[i], &index) == 0)
			fail_msg("'%s' was taken for an interface of ours", bad[i]);
	}
}

typedef struct taken_set {
	const uint32_t *taken;
	size_t n;
	size_t calls;
} taken_set;

static bool is_taken(uint32_t index, void *arg)
{
	taken_set *t = arg;
	t->calls++;
	for (size_t i = 0; i < t->n; i++)
		if (t->taken[i] == index)
			return true;
	return false;
}

static void test_lowest_free_callback(void **state)
{
	(void)state;
	cr_net_pool p = parse_ok("10.213.200.0/28"); /* 4 blocks */
	taken_set none = {0};
	assert_int_equal(cr_net_pool_lowest_free(&p, is_taken, &none), 0);
	const uint32_t some[] = {0, 1, 3};
	taken_set t = {.taken = some, .n = 3};
	assert_int_equal(cr_net_pool_lowest_free(&p, is_taken, &t), 2);
	assert_int_equal(t.calls, 3);
	const uint32_t all[] = {3, 2, 1, 0};
	taken_set full = {.taken = all, .n = 4};
	assert_int_equal(cr_net_pool_lowest_free(&p, is_taken, &full), -1);
	assert_int_equal(full.calls, 4);
}

static void set_bit(uint64_t *bits, uint32_t i)
{
	bits[i / 64] |= (uint64_t)1 << (i % 64);
}

static void test_lowest_free_bitmap(void **state)
{
	(void)state;
	cr_net_pool p = parse_ok("10.213.0.0/16");
	uint64_t bits[4] = {0};
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&p, bits, 256), 0);
	for (uint32_t i = 0; i < 70; i++)
		set_bit(bits, i);
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&p, bits, 256), 70);
	set_bit(bits, 71);
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&p, bits, 256), 70);
	set_bit(bits, 70);
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&p, bits, 256), 72);
	/* bits past nbits are not looked at: index 70 counts as free */
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&p, bits, 70), 70);
	/* a bitmap shorter than the pool: everything past it is free */
	memset(bits, 0xff, sizeof(bits));
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&p, bits, 256), 256);
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&p, bits, 200), 200);
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&p, NULL, 0), 0);
	/* a full pool */
	cr_net_pool small = parse_ok("10.213.200.0/28");
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&small, bits, 4), -1);
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&small, bits, 3), 3);
	cr_net_pool pool64 = parse_ok("10.213.200.0/24"); /* exactly 64 blocks, one word */
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&pool64, bits, 64), -1);
	assert_int_equal(cr_net_pool_lowest_free_bitmap(&pool64, bits, 256), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_lease_mapping),
		cmocka_unit_test(test_lease_bounds),
		cmocka_unit_test(test_contains),
		cmocka_unit_test(test_ifname_index),
		cmocka_unit_test(test_lowest_free_callback),
		cmocka_unit_test(test_lowest_free_bitmap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
