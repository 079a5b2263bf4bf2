/* SPDX-License-Identifier: Apache-2.0 */
/* test_policy_match.c -- the precedence of spec §5.2.1, case by case, each
 * asserting the decision, the step and the deciding rule. */
#include "testutil.h"

#include "policy/match.h"

static const char *const yaml =
	POLICY_HEAD "    allow:\n"
		    "      - host: api.example.com\n        ports: [443]\n"         /* allow[0] */
		    "      - host: \"*.example.com\"\n        ports: [443, 8443]\n" /* allow[1] */
		    "      - host: \"*.corp.example.com\"\n"                        /* allow[2] */
		    "      - host: plain.example.org\n"                             /* allow[3] */
		    "      - host: 10.0.0.0/8\n        ports: [5432]\n"             /* allow[4] */
		    "      - host: 10.1.2.3\n        ports: [22]\n"                 /* allow[5] */
		    "      - host: \"2001:db8::/32\"\n        ports: [443]\n"       /* allow[6] */
		    "      - host: bücher.example\n"                                /* allow[7] */
		    "      - host: blocked.example.com\n        ports: [443]\n"     /* allow[8] */
		    "    deny:\n"
		    "      - host: blocked.example.com\n        ports: [80]\n" /* deny[0] */
		    "      - host: evil.example.com\n"                         /* deny[1] */
		    "      - host: \"*.bad.corp.example.com\"\n"               /* deny[2] */
		    "      - host: 10.66.0.0/16\n"                             /* deny[3] */
		    "      - host: 10.66.6.6\n";                               /* deny[4] */

struct match_case {
	const char *host;
	unsigned port;
	cr_action action;
	cr_match_step step;
	const char *rule_host; /* host text of the deciding rule, NULL for none */
};

static const struct match_case cases[] = {
	/* exact beats wildcard; exact port list is respected */
	{"api.example.com", 443, CR_ACTION_ALLOW, CR_STEP_ALLOW_EXACT, "api.example.com"},
	{"api.example.com", 8443, CR_ACTION_ALLOW, CR_STEP_ALLOW_WILDCARD, "*.example.com"},
	{"api.example.com", 22, CR_ACTION_DENY, CR_STEP_DEFAULT, NULL},
	/* wildcard covers subdomains at any depth, never the apex */
	{"x.example.com", 443, CR_ACTION_ALLOW, CR_STEP_ALLOW_WILDCARD, "*.example.com"},
	{"a.b.example.com", 8443, CR_ACTION_ALLOW, CR_STEP_ALLOW_WILDCARD, "*.example.com"},
	{"example.com", 443, CR_ACTION_DENY, CR_STEP_DEFAULT, NULL},
	{"notexample.com", 443, CR_ACTION_DENY, CR_STEP_DEFAULT, NULL},
	/* the most specific wildcard decides within a step */
	{"db.corp.example.com", 80, CR_ACTION_ALLOW, CR_STEP_ALLOW_WILDCARD, "*.corp.example.com"},
	/* deny exact beats allow exact and wildcard; deny ports respected */
	{"evil.example.com", 443, CR_ACTION_DENY, CR_STEP_DENY_EXACT, "evil.example.com"},
	{"blocked.example.com", 80, CR_ACTION_DENY, CR_STEP_DENY_EXACT, "blocked.example.com"},
	{"blocked.example.com", 443, CR_ACTION_ALLOW, CR_STEP_ALLOW_EXACT, "blocked.example.com"},
	/* deny wildcard beats allow wildcard */
	{"x.bad.corp.example.com", 443, CR_ACTION_DENY, CR_STEP_DENY_WILDCARD, "*.bad.corp.example.com"},
	/* default ports {80,443} when omitted */
	{"plain.example.org", 80, CR_ACTION_ALLOW, CR_STEP_ALLOW_EXACT, "plain.example.org"},
	{"plain.example.org", 443, CR_ACTION_ALLOW, CR_STEP_ALLOW_EXACT, "plain.example.org"},
	{"plain.example.org", 8080, CR_ACTION_DENY, CR_STEP_DEFAULT, NULL},
	/* normalisation of destinations: case, trailing dot, IDN both ways */
	{"API.Example.COM.", 443, CR_ACTION_ALLOW, CR_STEP_ALLOW_EXACT, "api.example.com"},
	{"BÜCHER.example", 443, CR_ACTION_ALLOW, CR_STEP_ALLOW_EXACT, "xn--bcher-kva.example"},
	{"xn--bcher-kva.example.", 80, CR_ACTION_ALLOW, CR_STEP_ALLOW_EXACT, "xn--bcher-kva.example"},
	/* IP literals only against IP/CIDR rules */
	{"10.1.2.3", 22, CR_ACTION_ALLOW, CR_STEP_ALLOW_EXACT, "10.1.2.3"},
	{"10.1.2.3", 5432, CR_ACTION_ALLOW, CR_STEP_ALLOW_WILDCARD, "10.0.0.0/8"},
	{"10.200.0.1", 5432, CR_ACTION_ALLOW, CR_STEP_ALLOW_WILDCARD, "10.0.0.0/8"},
	{"10.200.0.1", 443, CR_ACTION_DENY, CR_STEP_IP_NO_RULE, NULL},
	{"192.0.2.1", 443, CR_ACTION_DENY, CR_STEP_IP_NO_RULE, NULL},
	{"10.66.1.1", 5432, CR_ACTION_DENY, CR_STEP_DENY_WILDCARD, "10.66.0.0/16"},
	{"10.66.6.6", 5432, CR_ACTION_DENY, CR_STEP_DENY_EXACT, "10.66.6.6"},
	{"::ffff:10.1.2.3", 22, CR_ACTION_ALLOW, CR_STEP_ALLOW_EXACT, "10.1.2.3"},
	/* IPv6 */
	{"2001:db8::1", 443, CR_ACTION_ALLOW, CR_STEP_ALLOW_WILDCARD, "2001:db8::/32"},
	{"[2001:DB8:0::1]", 443, CR_ACTION_ALLOW, CR_STEP_ALLOW_WILDCARD, "2001:db8::/32"},
	{"2001:db9::1", 443, CR_ACTION_DENY, CR_STEP_IP_NO_RULE, NULL},
	/* built-in metadata guard: a CIDR allow does not open it */
	{"169.254.169.254", 80, CR_ACTION_DENY, CR_STEP_METADATA_GUARD, NULL},
	{"metadata.google.internal", 80, CR_ACTION_DENY, CR_STEP_METADATA_GUARD, NULL},
	{"fd00:ec2::254", 80, CR_ACTION_DENY, CR_STEP_METADATA_GUARD, NULL},
};

static void test_cases(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(yaml, &d);
	if (!p)
		dump_diags(&d);
	assert_non_null(p);
	int failures = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct match_case *c = &cases[i];
		cr_decision dec;
		cr_error *err = NULL;
		assert_int_equal(cr_policy_decide(p, c->host, (uint16_t)c->port, &dec, &err), 0);
		const char *got_rule = dec.rule ? dec.rule->host.text : NULL;
		bool rule_ok =
			c->rule_host ? got_rule && strcmp(got_rule, c->rule_host) == 0 : got_rule == NULL;
		if (dec.action != c->action || dec.step != c->step || !rule_ok) {
			fprintf(stderr, "%s:%u: got %s/%s/%s, want %s/%s/%s\n", c->host, c->port,
				cr_action_name(dec.action), cr_match_step_name(dec.step),
				got_rule ? got_rule : "-", cr_action_name(c->action),
				cr_match_step_name(c->step), c->rule_host ? c->rule_host : "-");
			failures++;
		}
		assert_int_equal(dec.reason,
				 dec.action == CR_ACTION_ALLOW ? CR_REASON_NONE : CR_REASON_HOST_NOT_ALLOWED);
		cr_decision_clear(&dec);
	}
	assert_int_equal(failures, 0);
	cr_policy_free(p);
	cr_diags_clear(&d);
}

static void test_metadata_opened_by_exact_ip(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(
		POLICY_HEAD "    allow:\n      - host: 169.254.169.254\n        ports: [80]\n", &d);
	assert_non_null(p);
	cr_decision dec;
	assert_int_equal(cr_policy_decide(p, "169.254.169.254", 80, &dec, NULL), 0);
	assert_int_equal(dec.action, CR_ACTION_ALLOW);
	assert_int_equal(dec.step, CR_STEP_ALLOW_EXACT);
	cr_decision_clear(&dec);
	cr_policy_free(p);
	cr_diags_clear(&d);
}

static void test_port_miss_explained(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(yaml, &d);
	cr_decision dec;
	assert_int_equal(cr_policy_decide(p, "api.example.com", 22, &dec, NULL), 0);
	assert_non_null(dec.port_miss);
	char *why = cr_decision_explain(&dec);
	assert_non_null(strstr(why, "port 22 is not in sandbox.network.allow[0]"));
	free(why);
	cr_decision_clear(&dec);
	cr_policy_free(p);
	cr_diags_clear(&d);
}

static void test_git_push_explained(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p =
		parse_yaml(POLICY_HEAD "    allow:\n      - host: git.example\n        git_push: true\n"
				       "      - host: \"*.example\"\n",
			   &d);
	assert_non_null(p);
	cr_decision dec;
	assert_int_equal(cr_policy_decide(p, "GIT.example.", 443, &dec, NULL), 0);
	char *why = cr_decision_explain(&dec);
	assert_string_equal(why, "allowed by sandbox.network.allow[0] (git.example, ports 80,443, git push "
				 "allowed, line 6)");
	free(why);
	cr_decision_clear(&dec);
	/* the wildcard allows fetches from its hosts, never pushes */
	assert_int_equal(cr_policy_decide(p, "other.example", 443, &dec, NULL), 0);
	why = cr_decision_explain(&dec);
	assert_null(strstr(why, "git push"));
	free(why);
	cr_decision_clear(&dec);
	assert_non_null(cr_policy_git_push_rule(p, "git.example"));
	assert_null(cr_policy_git_push_rule(p, "other.example"));
	assert_null(cr_policy_git_push_rule(p, "*.example"));
	cr_policy_free(p);
	cr_diags_clear(&d);
}

static void test_invalid_destinations(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(yaml, &d);
	const char *bad[] = {"", "a b", "*.example.com", "10.0.0.0/8", "http://x", "-x.example", "1.2.3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_decision dec;
		cr_error *err = NULL;
		assert_int_equal(cr_policy_decide(p, bad[i], 443, &dec, &err), -1);
		assert_int_equal(err->reason, CR_REASON_POLICY_INVALID);
		cr_error_free(err);
		cr_decision_clear(&dec);
	}
	cr_policy_free(p);
	cr_diags_clear(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_metadata_opened_by_exact_ip),
		cmocka_unit_test(test_port_miss_explained),
		cmocka_unit_test(test_git_push_explained),
		cmocka_unit_test(test_invalid_destinations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
