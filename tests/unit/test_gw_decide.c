/* SPDX-License-Identifier: Apache-2.0 */
/* test_gw_decide.c -- the transparent proxy's decision without sockets
 * (src/gateway/proxy/decide.c): classification of first bytes, destination
 * identification (SNI, Host, resolver record, IP literal), the resolver
 * check against forged names, the policy decision and the address guard,
 * each case asserting action, identification, host, rule and detail. */
#include "testutil.h"

#include <arpa/inet.h>
#include <stdint.h>

#include "gateway/proxy/decide.h"

static const char *const yaml =
	POLICY_HEAD "    allow:\n"
		    "      - host: api.example.com\n        ports: [443]\n"  /* allow[0] */
		    "      - host: \"*.cdn.example\"\n"                      /* allow[1] */
		    "      - host: 10.254.0.0/24\n        ports: [7, 443]\n" /* allow[2] */
		    "      - host: 127.0.0.1\n        ports: [8080]\n"       /* allow[3] */
		    "      - host: rebind.example\n"                         /* allow[4] */
		    "      - host: plain.example\n        ports: [80]\n"     /* allow[5] */
		    "      - host: self.example\n"                           /* allow[6] */
		    "      - host: pool.example\n"                           /* allow[7] */
		    "      - host: \"*.bad.example\"\n"                      /* allow[8] */
		    "      - host: mcast.example\n"                          /* allow[9] */
		    "    deny:\n"
		    "      - host: evil.bad.example\n"; /* deny[0] */

/* ---- a resolver table instead of names.c ---- */

static const struct {
	const char *name, *ip;
} records[] = {
	{"api.example.com", "10.254.1.10"}, {"x.cdn.example", "10.254.1.11"},
	{"plain.example", "10.254.1.12"},   {"echo.example", "10.254.0.7"},
	{"rebind.example", "127.0.0.1"},    {"self.example", "192.168.77.1"},
	{"pool.example", "10.213.0.5"},     {"evil.bad.example", "10.254.1.66"},
	{"mcast.example", "224.0.0.251"},
};

static struct in_addr ip4(const char *s)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

static bool table_has(void *ctx, const char *name, struct in_addr ip)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
		if (strcmp(records[i].name, name) == 0 && ip4(records[i].ip).s_addr == ip.s_addr)
			return true;
	return false;
}

static const char *table_for_ip(void *ctx, struct in_addr ip)
{
	(void)ctx;
	for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++)
		if (ip4(records[i].ip).s_addr == ip.s_addr)
			return records[i].name;
	return NULL;
}

static const cr_gw_name_lookup names = {.has = table_has, .for_ip = table_for_ip};

/* ---- the cases ---- */

enum { NONE = -1 };

struct decide_case {
	const char *what;
	int ident_in; /* CR_GW_IDENT_SNI/HOST with a name, NONE for no name */
	const char *name;
	const char *ip;
	unsigned port;
	cr_action action;
	cr_gw_ident ident;
	const char *host, *rule, *detail; /* detail: a substring, or NULL for "" */
};

static const struct decide_case cases[] = {
	{"SNI resolved to this IP", CR_GW_IDENT_SNI, "api.example.com", "10.254.1.10", 443, CR_ACTION_ALLOW,
	 CR_GW_IDENT_SNI, "api.example.com", "sandbox.network.allow[0]", NULL},
	{"SNI forged to an allowed name at another IP", CR_GW_IDENT_SNI, "api.example.com", "10.254.1.99",
	 443, CR_ACTION_DENY, CR_GW_IDENT_SNI, "api.example.com", CR_GW_RULE_RESOLVER,
	 "forged or unresolved"},
	/* a presented name the policy denies anyway: the policy's step or rule is the reason */
	{"SNI never resolved", CR_GW_IDENT_SNI, "other.example", "10.254.1.10", 443, CR_ACTION_DENY,
	 CR_GW_IDENT_SNI, "other.example", "default", "other.example is not allowed by the policy"},
	{"SNI at an IP a CIDR allows is still a forged name", CR_GW_IDENT_SNI, "api.example.com",
	 "10.254.0.9", 443, CR_ACTION_DENY, CR_GW_IDENT_SNI, "api.example.com", CR_GW_RULE_RESOLVER,
	 "forged"},
	{"Host resolved, allowed port", CR_GW_IDENT_HOST, "plain.example", "10.254.1.12", 80, CR_ACTION_ALLOW,
	 CR_GW_IDENT_HOST, "plain.example", "sandbox.network.allow[5]", NULL},
	{"Host resolved, port not in the rule", CR_GW_IDENT_HOST, "plain.example", "10.254.1.12", 443,
	 CR_ACTION_DENY, CR_GW_IDENT_HOST, "plain.example", "default",
	 "port 443 is not in sandbox.network.allow[5]"},
	{"Host forged", CR_GW_IDENT_HOST, "plain.example", "10.254.1.10", 80, CR_ACTION_DENY,
	 CR_GW_IDENT_HOST, "plain.example", CR_GW_RULE_RESOLVER, "HTTP host name 'plain.example'"},
	{"wildcard by SNI", CR_GW_IDENT_SNI, "x.cdn.example", "10.254.1.11", 443, CR_ACTION_ALLOW,
	 CR_GW_IDENT_SNI, "x.cdn.example", "sandbox.network.allow[1]", NULL},
	{"explicit deny beats the allow", CR_GW_IDENT_SNI, "evil.bad.example", "10.254.1.66", 443,
	 CR_ACTION_DENY, CR_GW_IDENT_SNI, "evil.bad.example", "sandbox.network.deny[0]", NULL},
	{"no name: the resolver's record", NONE, NULL, "10.254.1.10", 443, CR_ACTION_ALLOW,
	 CR_GW_IDENT_RESOLVER, "api.example.com", "sandbox.network.allow[0]", NULL},
	{"no name, record without a rule: the CIDR rule decides", NONE, NULL, "10.254.0.7", 7,
	 CR_ACTION_ALLOW, CR_GW_IDENT_IP, "10.254.0.7", "sandbox.network.allow[2]", NULL},
	{"no name, record without a rule, no IP rule either", NONE, NULL, "10.254.0.7", 22, CR_ACTION_DENY,
	 CR_GW_IDENT_RESOLVER, "echo.example", "default", NULL},
	{"no name, no record: IP literal in a CIDR", NONE, NULL, "10.254.0.50", 7, CR_ACTION_ALLOW,
	 CR_GW_IDENT_IP, "10.254.0.50", "sandbox.network.allow[2]", NULL},
	{"no name, no record, no IP rule", NONE, NULL, "192.0.2.1", 443, CR_ACTION_DENY, CR_GW_IDENT_IP,
	 "192.0.2.1", "ip_no_rule", NULL},
	{"Host as the IP literal of the destination", CR_GW_IDENT_HOST, "10.254.0.9", "10.254.0.9", 443,
	 CR_ACTION_ALLOW, CR_GW_IDENT_IP, "10.254.0.9", "sandbox.network.allow[2]", NULL},
	{"Host as another IP literal", CR_GW_IDENT_HOST, "10.254.0.9", "10.254.0.10", 443, CR_ACTION_DENY,
	 CR_GW_IDENT_HOST, "10.254.0.9", CR_GW_RULE_RESOLVER, NULL},
	{"Host as an IPv6 literal", CR_GW_IDENT_HOST, "2001:db8::1", "10.254.0.9", 443, CR_ACTION_DENY,
	 CR_GW_IDENT_HOST, "2001:db8::1", "ip_no_rule", NULL},
	{"allowed name resolved to loopback", CR_GW_IDENT_SNI, "rebind.example", "127.0.0.1", 443,
	 CR_ACTION_DENY, CR_GW_IDENT_SNI, "rebind.example", CR_GW_RULE_GUARD, "127.0.0.1 is a loopback"},
	{"loopback opened by an exact IP rule", NONE, NULL, "127.0.0.1", 8080, CR_ACTION_ALLOW,
	 CR_GW_IDENT_IP, "127.0.0.1", "sandbox.network.allow[3]", NULL},
	{"allowed name resolved to a host address", CR_GW_IDENT_HOST, "self.example", "192.168.77.1", 80,
	 CR_ACTION_DENY, CR_GW_IDENT_HOST, "self.example", CR_GW_RULE_GUARD, NULL},
	{"allowed name resolved into the sandbox pool", CR_GW_IDENT_SNI, "pool.example", "10.213.0.5", 443,
	 CR_ACTION_DENY, CR_GW_IDENT_SNI, "pool.example", CR_GW_RULE_GUARD, NULL},
	{"allowed name resolved to multicast", CR_GW_IDENT_SNI, "mcast.example", "224.0.0.251", 443,
	 CR_ACTION_DENY, CR_GW_IDENT_SNI, "mcast.example", CR_GW_RULE_GUARD, NULL},
	{"metadata address", NONE, NULL, "169.254.169.254", 80, CR_ACTION_DENY, CR_GW_IDENT_IP,
	 "169.254.169.254", "metadata_guard", NULL},
};

static cr_policy *policy(void)
{
	cr_diags d;
	cr_policy *p = parse_yaml(yaml, &d);
	if (!p)
		dump_diags(&d);
	assert_non_null(p);
	cr_diags_clear(&d);
	return p;
}

static void test_cases(void **state)
{
	(void)state;
	cr_policy *p = policy();
	const struct in_addr self[] = {ip4("192.168.77.1")};
	const cr_gw_guard guard = {.self = self, .n_self = 1};
	int failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct decide_case *c = &cases[i];
		cr_gw_sniffed s = {.result = c->name ? CR_SNIFF_FOUND : CR_SNIFF_NO_NAME, .protocol = "tls"};
		if (c->name) {
			s.ident = (cr_gw_ident)c->ident_in;
			snprintf(s.name, sizeof(s.name), "%s", c->name);
		}
		cr_gw_verdict v;
		cr_gw_decide(p, &names, &guard, &s, ip4(c->ip), (uint16_t)c->port, &v);
		bool detail_ok = c->detail ? strstr(v.detail, c->detail) != NULL
					   : v.detail[0] == '\0' || v.action == CR_ACTION_DENY;
		if (v.action != c->action || v.ident != c->ident || strcmp(v.host, c->host) != 0 ||
		    strcmp(v.rule, c->rule) != 0 || strcmp(v.ip, c->ip) != 0 || v.port != c->port ||
		    !detail_ok) {
			fprintf(stderr, "%s: got %s %s %s %s ip=%s detail='%s'\n", c->what,
				cr_action_name(v.action), cr_gw_ident_name(v.ident), v.host, v.rule, v.ip,
				v.detail);
			failures++;
		}
		assert_int_equal(v.reason,
				 v.action == CR_ACTION_ALLOW ? CR_REASON_NONE : CR_REASON_HOST_NOT_ALLOWED);
	}
	assert_int_equal(failures, 0);
	cr_policy_free(p);
}

static void test_unidentifiable(void **state)
{
	(void)state;
	cr_policy *p = policy();
	cr_gw_sniffed s = {.result = CR_SNIFF_MALFORMED, .protocol = "tls"};
	cr_gw_verdict v;
	cr_gw_decide(p, &names, NULL, &s, ip4("10.254.1.10"), 443, &v);
	assert_int_equal(v.action, CR_ACTION_DENY);
	assert_string_equal(v.rule, CR_GW_RULE_INVALID);
	assert_string_equal(v.host, "10.254.1.10");
	assert_non_null(strstr(v.detail, "tls: malformed"));
	cr_policy_free(p);
}

/* The explicit proxy: check (ii), then (iii) once the address is known. */
static void test_explicit_steps(void **state)
{
	(void)state;
	cr_policy *p = policy();
	cr_gw_verdict v;
	cr_gw_decide_dest(p, "api.example.com", 443, &v);
	assert_int_equal(v.action, CR_ACTION_ALLOW);
	assert_int_equal(v.ident, CR_GW_IDENT_REQUEST);
	assert_string_equal(v.ip, "");
	cr_gw_guard_apply(NULL, ip4("10.254.1.10"), &v);
	assert_int_equal(v.action, CR_ACTION_ALLOW);
	assert_string_equal(v.ip, "10.254.1.10");

	cr_gw_decide_dest(p, "rebind.example", 443, &v);
	cr_gw_guard_apply(NULL, ip4("127.0.0.1"), &v);
	assert_int_equal(v.action, CR_ACTION_DENY);
	assert_string_equal(v.rule, CR_GW_RULE_GUARD);

	cr_gw_decide_dest(p, "127.0.0.1", 8080, &v);
	assert_true(v.by_ip_rule);
	cr_gw_guard_apply(NULL, ip4("127.0.0.1"), &v);
	assert_int_equal(v.action, CR_ACTION_ALLOW);

	cr_gw_decide_dest(p, "10.254.0.3", 22, &v);
	assert_int_equal(v.action, CR_ACTION_DENY);
	assert_string_equal(v.rule, "ip_no_rule");

	cr_gw_decide_dest(p, "bad name", 443, &v);
	assert_int_equal(v.action, CR_ACTION_DENY);
	assert_string_equal(v.rule, CR_GW_RULE_INVALID);
	cr_policy_free(p);
}

/* A registry's upstream host that the network policy does not allow outright
 * is refused with registry_not_allowed, naming the front. */
static void test_registry_host(void **state)
{
	(void)state;
	static const char reg_yaml[] = "version: 1\n"
				       "sandbox:\n"
				       "  network:\n"
				       "    default: deny\n"
				       "    allow:\n"
				       "      - host: api.example.com\n"
				       "registries:\n"
				       "  npm:\n"
				       "    enable: true\n"
				       "    allowed_hosts: [registry.npm.example, '*.cdn.npm.example']\n"
				       "  pip:\n"
				       "    enable: false\n"
				       "    allowed_hosts: [pypi.registry.example]\n";
	cr_diags d;
	cr_policy *p = parse_yaml(reg_yaml, &d);
	if (!p)
		dump_diags(&d);
	assert_non_null(p);
	cr_diags_clear(&d);
	assert_string_equal(cr_gw_registry_of_host(p, "registry.npm.example"), "npm");
	assert_string_equal(cr_gw_registry_of_host(p, "a.cdn.npm.example"), "npm");
	assert_null(cr_gw_registry_of_host(p, "cdn.npm.example"));
	assert_null(cr_gw_registry_of_host(p, "pypi.registry.example")); /* not enabled */
	assert_null(cr_gw_registry_of_host(p, "api.example.com"));
	cr_gw_verdict v;
	cr_gw_decide_dest(p, "registry.npm.example", 443, &v);
	assert_int_equal(v.action, CR_ACTION_DENY);
	assert_int_equal(v.reason, CR_REASON_REGISTRY_NOT_ALLOWED);
	assert_string_equal(v.rule, "registries.npm.allowed_hosts");
	assert_non_null(strstr(v.detail, "/npm/"));
	cr_gw_decide_dest(p, "other.example", 443, &v);
	assert_int_equal(v.reason, CR_REASON_HOST_NOT_ALLOWED);
	cr_policy_free(p);
}

static void test_guard(void **state)
{
	(void)state;
	const struct in_addr self[] = {ip4("203.0.113.7")};
	cr_gw_guard g = {.self = self, .n_self = 1};
	const char *refused[] = {"0.1.2.3",     "127.0.0.1",  "127.255.0.9",     "169.254.169.254",
				 "169.254.1.1", "224.0.0.1",  "239.255.255.250", "255.255.255.255",
				 "240.0.0.1",   "10.213.0.1", "10.213.255.254",  "203.0.113.7"};
	const char *passed[] = {"10.254.0.10", "10.212.255.255",  "10.214.0.0",     "192.0.2.1",
				"203.0.113.8", "223.255.255.255", "169.253.255.255"};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		if (!cr_gw_guard_refuses(&g, ip4(refused[i])))
			fail_msg("%s passed the guard", refused[i]);
	for (size_t i = 0; i < sizeof(passed) / sizeof(passed[0]); i++)
		if (cr_gw_guard_refuses(&g, ip4(passed[i])))
			fail_msg("%s was refused", passed[i]);
	/* a configured pool besides the default one */
	g.pool = ip4("172.30.0.0");
	g.pool_prefix = 16;
	assert_true(cr_gw_guard_refuses(&g, ip4("172.30.9.9")));
	assert_false(cr_gw_guard_refuses(&g, ip4("172.31.0.1")));
}

/* ---- classification of first bytes ---- */

static void sniff_str(const char *s, cr_gw_sniffed *out)
{
	cr_gw_sniff((const uint8_t *)s, strlen(s), out);
}

/* A minimal ClientHello with SNI `name`, in one record. */
static size_t hello(uint8_t *b, const char *name)
{
	size_t n = strlen(name), body = 2 + 32 + 1 + 4 + 2 + 2 + 9 + n, i = 0;
	const uint8_t head[] = {0x16,
				3,
				1,
				(uint8_t)((body + 4) >> 8),
				(uint8_t)(body + 4),
				1,
				0,
				(uint8_t)(body >> 8),
				(uint8_t)body,
				3,
				3};
	memcpy(b, head, sizeof(head));
	i = sizeof(head);
	memset(b + i, 7, 32);
	i += 32;
	const uint8_t mid[] = {0,
			       0,
			       2,
			       0x13,
			       0x01,
			       1,
			       0,
			       0,
			       (uint8_t)(9 + n),
			       0,
			       0,
			       0,
			       (uint8_t)(5 + n),
			       0,
			       (uint8_t)(3 + n),
			       0,
			       0,
			       (uint8_t)n};
	memcpy(b + i, mid, sizeof(mid));
	i += sizeof(mid);
	memcpy(b + i, name, n);
	return i + n;
}

static void test_sniff(void **state)
{
	(void)state;
	cr_gw_sniffed s;
	uint8_t tls[512];
	size_t n = hello(tls, "Api.Example.com");
	cr_gw_sniff(tls, n, &s);
	assert_int_equal(s.result, CR_SNIFF_FOUND);
	assert_string_equal(s.protocol, "tls");
	assert_int_equal(s.ident, CR_GW_IDENT_SNI);
	assert_string_equal(s.name, "api.example.com");
	cr_gw_sniff(tls, n - 1, &s);
	assert_int_equal(s.result, CR_SNIFF_NEED_MORE);
	assert_string_equal(s.protocol, "tls");

	sniff_str("GET / HTTP/1.1\r\nHost: plain.example\r\n\r\n", &s);
	assert_int_equal(s.result, CR_SNIFF_FOUND);
	assert_string_equal(s.protocol, "http");
	assert_int_equal(s.ident, CR_GW_IDENT_HOST);
	assert_string_equal(s.name, "plain.example");
	/* an absolute-form target names the host the server will use */
	sniff_str("GET http://x.cdn.example/ HTTP/1.1\r\nHost: plain.example\r\n\r\n", &s);
	assert_string_equal(s.name, "x.cdn.example");
	sniff_str("GET / HTTP/1.0\r\n\r\n", &s);
	assert_int_equal(s.result, CR_SNIFF_NO_NAME);
	assert_string_equal(s.protocol, "http");
	sniff_str("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", &s);
	assert_int_equal(s.result, CR_SNIFF_MALFORMED);
	sniff_str("GET / HT", &s);
	assert_int_equal(s.result, CR_SNIFF_NEED_MORE);
	assert_string_equal(s.protocol, "http");

	sniff_str("SSH-2.0-OpenSSH_9.2\r\n", &s);
	assert_int_equal(s.result, CR_SNIFF_NO_NAME);
	assert_string_equal(s.protocol, "tcp");
	sniff_str("hello\n", &s);
	assert_string_equal(s.protocol, "tcp");
	assert_string_equal(s.name, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),          cmocka_unit_test(test_unidentifiable),
		cmocka_unit_test(test_explicit_steps), cmocka_unit_test(test_guard),
		cmocka_unit_test(test_sniff),          cmocka_unit_test(test_registry_host),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
