/* SPDX-License-Identifier: Apache-2.0 */
/* test_policy_compiled.c -- the CompiledPolicy payload (spec §5.5): the
 * hash definition, round trips through the compiled reader, and rejection of
 * tampered or non-canonical payloads. */
#include "testutil.h"

#include <stdlib.h>

#include "policy/match.h"
#include "util/canonjson.h"
#include "util/sha256.h"

static const char *const yaml =
	"version: 1\nproject:\n  name: demo\nsandbox:\n  ttl_minutes: 30\n"
	"  resources:\n    cpus: 2\n    memory: 1GiB\n"
	"  network:\n    default: deny\n    allow:\n      - host: \"*.npm.example\"\n        ports: [443]\n  "
	"      reason: npm\n"
	"      - host: 10.0.0.0/8\n    deny:\n      - host: 169.254.169.254\n"
	"registries:\n  npm:\n    enable: true\n    allowed_hosts: [registry.npm.example]\n"
	"secrets:\n  - secret_id: npm_token\n    allowed_hosts: [registry.npm.example]\n    single_use: "
	"true\n"
	"metadata:\n  owner: team\n  tier: 2\n  tags: [a, b]\n";

/* A git host without and with push permission. GIT_RULES_HASH is the
 * policy_hash of `git_yaml` as compiled before git_push existed (by the
 * previous release's `cleanroom policy compile`, source fields blanked):
 * policies that do not use git_push must keep their bytes and hash. */
#define GIT_RULES_HASH "5ba133f03f38d4ed983ea2094ee9819e50cf879ec573b5e4308542892ca9e8bd"
#define GIT_YAML(push)                                                                               \
	"version: 1\nproject:\n  name: demo\nsandbox:\n  network:\n    default: deny\n    allow:\n"  \
	"      - host: git.example\n        ports: [443]\n" push "      - host: \"*.npm.example\"\n" \
	"        reason: npm\n      - host: 10.0.0.0/8\n        ports: [5432]\n    deny:\n"          \
	"      - host: 169.254.169.254\n"                                                            \
	"registries:\n  npm:\n    enable: true\n    allowed_hosts: [registry.npm.example]\n"
static const char *const git_yaml = GIT_YAML("");
static const char *const git_push_yaml = GIT_YAML("        git_push: true\n");
#define GIT_RULE_JSON \
	"\"host\":\"git.example\",\"kind\":\"name\",\"ports\":[443],\"protocol\":\"tcp\",\"reason\":\"\"}"

static char *compile_text(const char *src, cr_policy **out)
{
	cr_diags d;
	cr_policy *p = parse_yaml(src, &d);
	if (!p)
		dump_diags(&d);
	assert_non_null(p);
	cr_diags_clear(&d);
	cr_error *err = NULL;
	char *text = cr_policy_compile(p, NULL, &err);
	assert_non_null(text);
	*out = p;
	return text;
}

static char *compile_yaml(cr_policy **out)
{
	return compile_text(yaml, out);
}

static void test_hash_definition(void **state)
{
	(void)state;
	cr_policy *p;
	char *text = compile_yaml(&p);
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "policy_hash")), p->policy_hash);
	json_object_set_new(j, "policy_hash", json_string(""));
	char *unhashed = cr_json_canonical(j, NULL, NULL);
	char hex[65];
	cr_sha256_hex(unhashed, strlen(unhashed), hex);
	assert_string_equal(hex, p->policy_hash);
	/* The payload is already canonical: re-encoding changes nothing. */
	json_object_set_new(j, "policy_hash", json_string(p->policy_hash));
	char *again = cr_json_canonical(j, NULL, NULL);
	assert_string_equal(again, text);
	free(again);
	free(unhashed);
	json_decref(j);
	free(text);
	cr_policy_free(p);
}

static void test_round_trip(void **state)
{
	(void)state;
	cr_policy *p;
	char *text = compile_yaml(&p);
	cr_diags d = {0};
	cr_policy *q = NULL;
	if (cr_policy_from_compiled(text, strlen(text), &q, &d) < 0)
		dump_diags(&d);
	assert_non_null(q);
	assert_string_equal(q->policy_hash, p->policy_hash);
	char *text2 = cr_policy_compile(q, NULL, NULL);
	assert_string_equal(text, text2);
	assert_int_equal(q->resources.millicpus, 2000);
	assert_true(q->secrets[0].single_use);
	free(text2);
	free(text);
	cr_policy_free(p);
	cr_policy_free(q);
	cr_diags_clear(&d);
}

/* Replaces the first `from` in the compiled text of `src` and expects
 * rejection with a diagnostic containing `why`. */
static void expect_rejected_in(const char *src, const char *from, const char *to, const char *why)
{
	cr_policy *p;
	char *text = compile_text(src, &p);
	char *at = strstr(text, from);
	assert_non_null(at);
	size_t n = strlen(text) - strlen(from) + strlen(to) + 1;
	char *mut = calloc(1, n);
	memcpy(mut, text, (size_t)(at - text));
	memcpy(mut + (at - text), to, strlen(to));
	memcpy(mut + (at - text) + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
	cr_diags d = {0};
	cr_policy *q = NULL;
	assert_int_equal(cr_policy_from_compiled(mut, strlen(mut), &q, &d), -1);
	if (!find_diag(&d, why)) {
		dump_diags(&d);
		fail_msg("expected a diagnostic containing '%s'", why);
	}
	cr_diags_clear(&d);
	free(mut);
	free(text);
	cr_policy_free(p);
}

static void expect_rejected(const char *from, const char *to, const char *why)
{
	expect_rejected_in(yaml, from, to, why);
}

static void test_tampering(void **state)
{
	(void)state;
	expect_rejected("\"ports\":[443]", "\"ports\":[444]", "policy_hash mismatch");
	expect_rejected("\"owner\":\"team\"", "\"owner\":\"evil\"", "policy_hash mismatch");
	expect_rejected("\"ttl_minutes\":30", "\"ttl_minutes\":0", "out of range");
	expect_rejected("\"default_action\":\"deny\"", "\"default_action\":\"allow\"", "must be \"deny\"");
	expect_rejected("\"host\":\"*.npm.example\"", "\"host\":\"*.NPM.example\"", "not in canonical form");
	expect_rejected("\"kind\":\"wildcard\"", "\"kind\":\"name\"", "does not fit host");
	expect_rejected("\"ports\":[443]", "\"ports\":[443,80]", "ascending order");
	expect_rejected("\"ports\":[443]", "\"ports\":[]", "at least one port");
	expect_rejected("\"version\":1", "\"version\":1,\"extra\":true", "unknown key 'extra'");
	expect_rejected("\"secret_id\":\"npm_token\"", "\"secret_id\":\"a b\"", "may contain only");
	expect_rejected("\"target\":\"secret-proxy\"", "\"target\":\"env\"", "known target");
	expect_rejected("\"fallback\":\"deny\"", "\"fallback\":\"maybe\"", "fallback");
	expect_rejected("{\"metadata\"", "[{\"metadata\"", "not valid JSON");
}

static void test_duplicate_keys_rejected(void **state)
{
	(void)state;
	const char *t = "{\"version\":1,\"version\":1}";
	cr_diags d = {0};
	cr_policy *q = NULL;
	assert_int_equal(cr_policy_from_compiled(t, strlen(t), &q, &d), -1);
	assert_non_null(find_diag(&d, "not valid JSON"));
	cr_diags_clear(&d);
}

static void test_determinism(void **state)
{
	(void)state;
	/* The same policy written in another order and style compiles to the same bytes. */
	const char *other =
		"metadata: {tags: [a, b], tier: 2, owner: team}\n"
		"secrets:\n  - {allowed_hosts: [REGISTRY.npm.example.], secret_id: npm_token, single_use: "
		"true}\n"
		"registries: {npm: {allowed_hosts: [registry.npm.example, registry.npm.example], enable: "
		"true}}\n"
		"sandbox:\n  network:\n    deny: [{host: 169.254.169.254}]\n"
		"    allow: [{host: 10.0.0.0/8}, {host: \"*.npm.example\", reason: npm, ports: [443, 443]}]\n"
		"    default: deny\n  resources: {memory: 1024MiB, cpus: 2.0}\n  ttl_minutes: 30\n"
		"project: {name: demo}\nversion: 1\n";
	cr_policy *p;
	char *a = compile_yaml(&p);
	cr_diags d;
	cr_policy *q = parse_yaml(other, &d);
	if (!q)
		dump_diags(&d);
	assert_non_null(q);
	char *b = cr_policy_compile(q, NULL, NULL);
	assert_string_equal(a, b);
	free(a);
	free(b);
	cr_policy_free(p);
	cr_policy_free(q);
	cr_diags_clear(&d);
}

static void test_git_push_encoding(void **state)
{
	(void)state;
	cr_policy *p, *q;
	/* without git_push: the bytes and hash of before */
	char *plain = compile_text(git_yaml, &p);
	assert_string_equal(p->policy_hash, GIT_RULES_HASH);
	assert_non_null(strstr(plain, "{" GIT_RULE_JSON));
	assert_null(strstr(plain, "git_push"));
	/* with it: the key, true, on that rule only; another hash */
	char *push = compile_text(git_push_yaml, &q);
	assert_non_null(strstr(push, "{\"git_push\":true," GIT_RULE_JSON));
	assert_null(strstr(strstr(push, "git_push") + 1, "git_push"));
	assert_string_not_equal(q->policy_hash, p->policy_hash);
	/* the reader keeps it: same bytes again, and the front finds the rule */
	cr_diags d = {0};
	cr_policy *back = NULL;
	if (cr_policy_from_compiled(push, strlen(push), &back, &d) < 0)
		dump_diags(&d);
	assert_non_null(back);
	char *again = cr_policy_compile(back, NULL, NULL);
	assert_string_equal(again, push);
	const cr_net_rule *r = cr_policy_git_push_rule(back, "git.example");
	assert_non_null(r);
	assert_string_equal(r->origin, "network.allow_rules[2]");
	assert_null(cr_policy_git_push_rule(back, "other.example"));
	assert_null(cr_policy_git_push_rule(p, "git.example"));
	free(again);
	free(plain);
	free(push);
	cr_policy_free(p);
	cr_policy_free(q);
	cr_policy_free(back);
	cr_diags_clear(&d);
}

static void test_git_push_tampering(void **state)
{
	(void)state;
	const char *rule = "{" GIT_RULE_JSON;
	expect_rejected_in(git_yaml, rule, "{\"git_push\":false," GIT_RULE_JSON, "written only as true");
	expect_rejected_in(git_yaml, rule, "{\"git_push\":\"true\"," GIT_RULE_JSON, "written only as true");
	expect_rejected_in(git_yaml, "\"ports\":[5432],", "\"git_push\":true,\"ports\":[5432],",
			   "not on the CIDR block '10.0.0.0/8'");
	expect_rejected_in(git_yaml, "\"kind\":\"wildcard\",", "\"git_push\":true,\"kind\":\"wildcard\",",
			   "not on the wildcard");
	expect_rejected_in(git_push_yaml, "\"ports\":[443]", "\"ports\":[444]", "needs port 443");
	expect_rejected_in(git_yaml, "\"kind\":\"ip\",", "\"git_push\":true,\"kind\":\"ip\",",
			   "unknown key 'git_push'"); /* a deny rule */
	/* removing it is caught by the hash */
	expect_rejected_in(git_push_yaml, "\"git_push\":true,", "", "policy_hash mismatch");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_definition),    cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_tampering),          cmocka_unit_test(test_duplicate_keys_rejected),
		cmocka_unit_test(test_determinism),        cmocka_unit_test(test_git_push_encoding),
		cmocka_unit_test(test_git_push_tampering),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
