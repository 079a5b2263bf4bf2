/* SPDX-License-Identifier: Apache-2.0 */
/* test_policy_schema.c -- every schema rule of cleanroom.yaml (spec §5.1,
 * §5.2, §5.3, DESIGN.md §4): each bad input is rejected with the expected
 * position, key path, reason code and message; good inputs normalise. */
#include "testutil.h"

struct bad_case {
	const char *name;
	const char *yaml;
	unsigned line, col;
	const char *path;
	cr_reason reason;
	const char *message; /* substring */
	const char *hint;    /* substring of the hint, or NULL */
};

static const struct bad_case bad_cases[] = {
	{"missing version", "sandbox:\n  network:\n    default: deny\n", 1, 1, NULL, CR_REASON_POLICY_INVALID,
	 "missing required key 'version'", NULL},
	{"version 2", "version: 2\nsandbox:\n  network:\n    default: deny\n", 1, 10, "version",
	 CR_REASON_POLICY_INVALID, "unsupported policy version 2", "version: 1"},
	{"version quoted", "version: \"1\"\nsandbox:\n  network:\n    default: deny\n", 1, 10, "version",
	 CR_REASON_POLICY_INVALID, "expected an integer", "without quotes"},
	{"missing default", "version: 1\nsandbox:\n  network:\n    allow: []\n", 4, 5, "sandbox.network",
	 CR_REASON_POLICY_INVALID, "missing required key 'default'", NULL},
	{"default allow", "version: 1\nsandbox:\n  network:\n    default: allow\n", 4, 14,
	 "sandbox.network.default", CR_REASON_POLICY_INVALID, "must deny by default", NULL},
	{"default bogus", "version: 1\nsandbox:\n  network:\n    default: maybe\n", 4, 14,
	 "sandbox.network.default", CR_REASON_POLICY_INVALID, "'maybe' is not a valid value", "deny, allow"},
	{"unknown key typo", POLICY_HEAD "    alow:\n      - host: a.example\n", 5, 5, "sandbox.network.alow",
	 CR_REASON_POLICY_INVALID, "unknown key 'alow'", "did you mean 'allow'?"},
	{"unknown root key", POLICY_HEAD "bogus: 1\n", 5, 1, "bogus", CR_REASON_POLICY_INVALID,
	 "unknown key 'bogus'", "allowed keys:"},
	{"duplicate key", POLICY_HEAD "    default: deny\n", 5, 5, "sandbox.network.default",
	 CR_REASON_POLICY_INVALID, "duplicate key", NULL},
	{"port too big", POLICY_HEAD "    allow:\n      - host: a.example\n        ports: [443, 70000]\n", 7,
	 22, "sandbox.network.allow[0].ports[1]", CR_REASON_POLICY_INVALID, "70000 is not a port (1-65535)",
	 NULL},
	{"port zero", POLICY_HEAD "    allow:\n      - host: a.example\n        ports: [0]\n", 7, 17,
	 "sandbox.network.allow[0].ports[0]", CR_REASON_POLICY_INVALID, "0 is not a port", NULL},
	{"port string", POLICY_HEAD "    allow:\n      - host: a.example\n        ports: [https]\n", 7, 17,
	 "sandbox.network.allow[0].ports[0]", CR_REASON_POLICY_INVALID, "expected an integer", NULL},
	{"ports scalar", POLICY_HEAD "    allow:\n      - host: a.example\n        ports: 443\n", 7, 16,
	 "sandbox.network.allow[0].ports", CR_REASON_POLICY_INVALID, "expected a list of ports",
	 "ports: [443]"},
	{"ports empty", POLICY_HEAD "    allow:\n      - host: a.example\n        ports: []\n", 7, 16,
	 "sandbox.network.allow[0].ports", CR_REASON_POLICY_INVALID, "ports is empty", "80 and 443"},
	{"unquoted wildcard", POLICY_HEAD "    allow:\n      - host: *.example.org\n", 6, 15, NULL,
	 CR_REASON_POLICY_INVALID, "wildcard host must be quoted", "\"*.example.org\""},
	{"wildcard middle", POLICY_HEAD "    allow:\n      - host: \"a.*.example.org\"\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "not the whole left-most label", NULL},
	{"wildcard partial label", POLICY_HEAD "    allow:\n      - host: \"*foo.example.org\"\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "not the whole left-most label", NULL},
	{"double wildcard", POLICY_HEAD "    allow:\n      - host: \"*.*.example.org\"\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "not the whole left-most label", NULL},
	{"host with scheme", POLICY_HEAD "    allow:\n      - host: https://a.example/x\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "is not a host name", "no scheme"},
	{"host with port", POLICY_HEAD "    allow:\n      - host: a.example:443\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "is not a host name", NULL},
	{"host bad label", POLICY_HEAD "    allow:\n      - host: -bad.example\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "not a valid host name", NULL},
	{"host numeric tld", POLICY_HEAD "    allow:\n      - host: 1.2.3\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "numeric top-level label", NULL},
	{"cidr host bits", POLICY_HEAD "    allow:\n      - host: 10.0.0.1/8\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "host bits set", "10.0.0.0/8"},
	{"cidr v6 host bits", POLICY_HEAD "    allow:\n      - host: \"2001:db8::1/32\"\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "host bits set", "2001:db8::/32"},
	{"cidr bad prefix", POLICY_HEAD "    allow:\n      - host: 10.0.0.0/33\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "invalid prefix length", NULL},
	{"wildcard ip", POLICY_HEAD "    allow:\n      - host: \"*.10.0.0.1\"\n", 6, 15,
	 "sandbox.network.allow[0].host", CR_REASON_POLICY_INVALID, "numeric top-level label", NULL},
	{"rule missing host", POLICY_HEAD "    allow:\n      - ports: [443]\n", 6, 9,
	 "sandbox.network.allow[0]", CR_REASON_POLICY_INVALID, "missing required key 'host'", NULL},
	{"rule as string", POLICY_HEAD "    allow:\n      - a.example\n", 6, 9, "sandbox.network.allow[0]",
	 CR_REASON_POLICY_INVALID, "expected a mapping", "- host: a.example"},
	{"allow not list", POLICY_HEAD "    allow: a.example\n", 5, 12, "sandbox.network.allow",
	 CR_REASON_POLICY_INVALID, "expected a list", NULL},
	{"conflict",
	 POLICY_HEAD
	 "    allow:\n      - host: a.example\n        ports: [443]\n    deny:\n      - host: a.example\n",
	 9, 9, "sandbox.network.deny[0]", CR_REASON_POLICY_CONFLICT,
	 "a.example port 443 is both allowed and denied", "allowed at sandbox.network.allow[0]"},
	{"conflict normalised",
	 POLICY_HEAD
	 "    allow:\n      - host: A.Example.\n    deny:\n      - host: a.example\n        ports: [80]\n",
	 8, 9, "sandbox.network.deny[0]", CR_REASON_POLICY_CONFLICT, "port 80 is both allowed and denied",
	 NULL},
	{"git_push on a wildcard",
	 POLICY_HEAD "    allow:\n      - host: \"*.git.example\"\n        git_push: true\n", 7, 19,
	 "sandbox.network.allow[0].git_push", CR_REASON_POLICY_INVALID,
	 "exact host name, not on the wildcard '*.git.example'", "rule of its own"},
	{"git_push on an IP", POLICY_HEAD "    allow:\n      - host: 10.1.2.3\n        git_push: true\n", 7,
	 19, "sandbox.network.allow[0].git_push", CR_REASON_POLICY_INVALID,
	 "exact host name, not on the IP address '10.1.2.3'", NULL},
	{"git_push on a CIDR", POLICY_HEAD "    allow:\n      - host: 10.0.0.0/8\n        git_push: true\n",
	 7, 19, "sandbox.network.allow[0].git_push", CR_REASON_POLICY_INVALID,
	 "not on the CIDR block '10.0.0.0/8'", NULL},
	{"git_push without 443",
	 POLICY_HEAD
	 "    allow:\n      - host: git.example\n        git_push: true\n        ports: [80, 22]\n",
	 7, 19, "sandbox.network.allow[0].git_push", CR_REASON_POLICY_INVALID,
	 "git_push needs port 443 in the rule for git.example", "add 443 to ports"},
	{"git_push not a boolean",
	 POLICY_HEAD "    allow:\n      - host: git.example\n        git_push: yes\n", 7, 19,
	 "sandbox.network.allow[0].git_push", CR_REASON_POLICY_INVALID, "expected true or false",
	 "write true or false"},
	{"git_push quoted", POLICY_HEAD "    allow:\n      - host: git.example\n        git_push: \"true\"\n",
	 7, 19, "sandbox.network.allow[0].git_push", CR_REASON_POLICY_INVALID, "expected true or false",
	 NULL},
	{"git_push on a deny rule",
	 POLICY_HEAD "    deny:\n      - host: git.example\n        git_push: true\n", 7, 9,
	 "sandbox.network.deny[0].git_push", CR_REASON_POLICY_INVALID, "unknown key 'git_push'", NULL},
	{"ttl range", "version: 1\nsandbox:\n  ttl_minutes: 0\n  network:\n    default: deny\n", 3, 16,
	 "sandbox.ttl_minutes", CR_REASON_POLICY_INVALID, "out of range", NULL},
	{"image tag only",
	 "version: 1\nsandbox:\n  image:\n    ref: node:20\n  network:\n    default: deny\n", 4, 10,
	 "sandbox.image.ref", CR_REASON_POLICY_INVALID, "not pinned by digest", "node:20@sha256:"},
	{"image bad digest",
	 "version: 1\nsandbox:\n  image:\n    ref: node@sha256:abc\n  network:\n    default: deny\n", 4, 10,
	 "sandbox.image.ref", CR_REASON_POLICY_INVALID, "invalid digest", NULL},
	{"resources memory unit",
	 "version: 1\nsandbox:\n  resources:\n    memory: 2GB\n  network:\n    default: deny\n", 4, 13,
	 "sandbox.resources.memory", CR_REASON_POLICY_INVALID, "expected a size", "512MiB"},
	{"resources cpus", "version: 1\nsandbox:\n  resources:\n    cpus: 0\n  network:\n    default: deny\n",
	 4, 11, "sandbox.resources.cpus", CR_REASON_POLICY_INVALID, "cpus must be a number", NULL},
	{"mise path escape",
	 "version: 1\nsandbox:\n  mise:\n    config_files: [../x.toml]\n  network:\n    default: deny\n", 4,
	 20, "sandbox.mise.config_files[0]", CR_REASON_POLICY_INVALID, "leaves the repository", NULL},
	{"mise bool", "version: 1\nsandbox:\n  mise:\n    enabled: yes\n  network:\n    default: deny\n", 4,
	 14, "sandbox.mise.enabled", CR_REASON_POLICY_INVALID, "expected true or false", NULL},
	{"unknown manager", POLICY_HEAD "registries:\n  rubygems:\n    enable: true\n", 6, 3,
	 "registries.rubygems", CR_REASON_POLICY_INVALID, "unknown package manager 'rubygems'", "npm, pip"},
	{"registry needs enable", POLICY_HEAD "registries:\n  npm:\n    allowed_hosts: [r.example]\n", 7, 5,
	 "registries.npm", CR_REASON_POLICY_INVALID, "missing required key 'enable'", NULL},
	{"registry enable typo", POLICY_HEAD "registries:\n  npm:\n    enabled: true\n", 7, 5,
	 "registries.npm.enabled", CR_REASON_POLICY_INVALID, "unknown key 'enabled'",
	 "did you mean 'enable'?"},
	{"registry without hosts", POLICY_HEAD "registries:\n  npm:\n    enable: true\n", 7, 5,
	 "registries.npm", CR_REASON_POLICY_INVALID, "needs allowed_hosts", NULL},
	{"registry fallback",
	 POLICY_HEAD
	 "registries:\n  npm:\n    enable: true\n    allowed_hosts: [r.example]\n    fallback: maybe\n",
	 9, 15, "registries.npm.fallback", CR_REASON_POLICY_INVALID, "'maybe' is not a valid value", NULL},
	{"lockfiles for disabled manager",
	 POLICY_HEAD "registries:\n  pip:\n    enable: false\n    lockfile_enforcement:\n      enabled: "
		     "true\n      lockfiles: [requirements.txt]\n",
	 9, 16, "registries.pip", CR_REASON_POLICY_INVALID, "not enabled", "enable: true"},
	{"enforcement without lockfiles",
	 POLICY_HEAD "registries:\n  npm:\n    enable: true\n    allowed_hosts: [r.example]\n    "
		     "lockfile_enforcement:\n      enabled: true\n",
	 10, 16, "registries.npm", CR_REASON_POLICY_INVALID, "no lockfiles are listed", NULL},
	{"enforcement mode off",
	 POLICY_HEAD
	 "registries:\n  npm:\n    enable: true\n    allowed_hosts: [r.example]\n    lockfile_enforcement:\n "
	 "     enabled: true\n      mode: off\n      lockfiles: [package-lock.json]\n",
	 11, 13, "registries.npm", CR_REASON_POLICY_CONFLICT, "enabled with mode off", NULL},
	{"lockfile wrong format",
	 POLICY_HEAD "registries:\n  npm:\n    enable: true\n    allowed_hosts: [r.example]\n    "
		     "lockfile_enforcement:\n      enabled: true\n      lockfiles: [Gemfile.lock]\n",
	 11, 19, "registries.npm.lockfile_enforcement.lockfiles[0]", CR_REASON_POLICY_INVALID,
	 "not a lockfile format", "package-lock.json"},
	{"lockfile absolute",
	 POLICY_HEAD
	 "registries:\n  npm:\n    enable: true\n    allowed_hosts: [r.example]\n    lockfile_enforcement:\n "
	 "     enabled: true\n      lockfiles: [/etc/package-lock.json]\n",
	 11, 19, "registries.npm.lockfile_enforcement.lockfiles[0]", CR_REASON_POLICY_INVALID, "is absolute",
	 NULL},
	{"secret env target",
	 POLICY_HEAD "secrets:\n  - secret_id: tok\n    target: env\n    allowed_hosts: [a.example]\n", 7, 13,
	 "secrets[0].target", CR_REASON_POLICY_INVALID, "never enter the sandbox's environment",
	 "secret-proxy"},
	{"secret without hosts", POLICY_HEAD "secrets:\n  - secret_id: tok\n", 6, 5, "secrets[0]",
	 CR_REASON_POLICY_INVALID, "missing required key 'allowed_hosts'", NULL},
	{"secret bad id", POLICY_HEAD "secrets:\n  - secret_id: \"a b\"\n    allowed_hosts: [a.example]\n", 6,
	 16, "secrets[0].secret_id", CR_REASON_POLICY_INVALID, "may contain only", NULL},
	{"secret twice",
	 POLICY_HEAD "secrets:\n  - secret_id: t\n    allowed_hosts: [a.example]\n  - secret_id: t\n    "
		     "allowed_hosts: [b.example]\n",
	 8, 5, "secrets[1]", CR_REASON_POLICY_CONFLICT, "bound twice", NULL},
	{"secret ttl",
	 POLICY_HEAD "secrets:\n  - secret_id: t\n    allowed_hosts: [a.example]\n    ttl_seconds: 999999\n",
	 8, 18, "secrets[0].ttl_seconds", CR_REASON_POLICY_INVALID, "out of range", NULL},
	{"anchor", POLICY_HEAD "project: &p\n  name: x\n", 5, 10, NULL, CR_REASON_POLICY_INVALID,
	 "anchors are not supported", NULL},
	{"tag", POLICY_HEAD "project:\n  name: !!str x\n", 6, 9, NULL, CR_REASON_POLICY_INVALID,
	 "tags are not supported", NULL},
	{"two documents", POLICY_HEAD "---\nversion: 1\n", 5, 1, NULL, CR_REASON_POLICY_INVALID,
	 "more than one YAML document", NULL},
	{"syntax error", "version: 1\nsandbox: [\n", 3, 1, NULL, CR_REASON_POLICY_INVALID,
	 "YAML syntax error", NULL},
	{"empty", "", 0, 0, NULL, CR_REASON_POLICY_INVALID, "the policy file is empty", NULL},
	{"root not mapping", "- a\n", 1, 1, NULL, CR_REASON_POLICY_INVALID, "expected a mapping", NULL},
	{"metadata not mapping", POLICY_HEAD "metadata: [1]\n", 5, 11, "metadata", CR_REASON_POLICY_INVALID,
	 "expected a mapping", NULL},
};

static void test_bad_cases(void **state)
{
	(void)state;
	int failures = 0;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		cr_diags d;
		cr_policy *p = parse_yaml(c->yaml, &d);
		const cr_diag *g = find_diag(&d, c->message);
		if (p || !g || g->line != c->line || g->col != c->col || g->reason != c->reason ||
		    (c->path ? !g->path || strcmp(g->path, c->path) != 0 : g->path != NULL) ||
		    (c->hint && (!g->hint || !strstr(g->hint, c->hint)))) {
			fprintf(stderr, "case '%s' failed; diagnostics:\n", c->name);
			dump_diags(&d);
			if (g)
				fprintf(stderr, "matched: line %u col %u path %s reason %s\n", g->line,
					g->col, g->path ? g->path : "(none)", cr_reason_name(g->reason));
			failures++;
		}
		cr_policy_free(p);
		cr_diags_clear(&d);
	}
	assert_int_equal(failures, 0);
}

static void test_reports_all_errors(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(
		POLICY_HEAD "    allow:\n      - host: -x\n      - host: a.example\n        ports: [0]\n"
			    "bogus: 1\n",
		&d);
	assert_null(p);
	assert_int_equal(d.n_errors, 3);
	cr_diags_clear(&d);
}

static void test_unquoted_wildcards_do_not_hide_other_errors(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(POLICY_HEAD "    alow: []\n    allow:\n      - host: *.a.example\n"
					      "      - host: *.b.example\n        ports: [0]\n",
				  &d);
	assert_null(p);
	assert_int_equal(d.n_errors, 4);
	assert_non_null(find_diag(&d, "unknown key 'alow'"));
	assert_non_null(find_diag(&d, "0 is not a port"));
	cr_diags_clear(&d);
}

static void test_spec_example(void **state)
{
	(void)state;
	const char *yaml =
		"version: 1\nproject:\n  name: my-repo\nsandbox:\n  ttl_minutes: 60\n  mise:\n    enabled: "
		"true\n"
		"    auto_bootstrap: true\n    config_files:\n      - .mise.toml\n      - .mise/config.toml\n"
		"  network:\n    default: deny\n    allow:\n      - host: api.github.com\n"
		"        reason: source-control and release checks\n        ports:\n          - 443\n"
		"      - host: \"*.npm.example\"\n        reason: npm metadata + tgz\n        ports: [443]\n"
		"      - host: registry.npm.example\n        reason: npm package tarballs\n        ports: "
		"[443]\n"
		"    deny:\n      - host: 169.254.169.254\n      - host: metadata.google.internal\n"
		"registries:\n  npm:\n    enable: true\n    allowed_hosts:\n      - registry.npm.example\n"
		"      - registry.yarn.example\n    cache_ref: content-cache\n    fallback: deny\n"
		"  pip:\n    enable: false\n    lockfile_enforcement:\n      enabled: false\n"
		"metadata:\n  owner: team-security\n  risk_class: low\n";
	cr_diags d;
	cr_policy *p = parse_yaml(yaml, &d);
	if (!p)
		dump_diags(&d);
	assert_non_null(p);
	assert_int_equal(p->network.n_allow, 3);
	assert_string_equal(p->network.allow[0].host.text, "*.npm.example");
	assert_int_equal(p->network.allow[0].host.kind, CR_HOST_WILDCARD);
	assert_string_equal(p->network.allow[1].host.text, "api.github.com");
	assert_int_equal(p->network.n_deny, 2);
	assert_int_equal(p->network.deny[0].host.kind, CR_HOST_IP);
	assert_int_equal(p->network.deny[0].n_ports, 0);
	assert_int_equal(p->n_registries, 2);
	assert_string_equal(p->registries[0].manager, "npm");
	assert_true(p->mise.enabled);
	assert_int_equal(p->mise.n_config_files, 2);
	assert_string_equal(json_string_value(json_object_get(p->metadata, "owner")), "team-security");
	cr_policy_free(p);
	cr_diags_clear(&d);
}

static void test_normalisation(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(
		POLICY_HEAD
		"    allow:\n      - host: API.GitHub.com.\n        ports: [443]\n"
		"      - host: api.github.com\n        ports: [80, 443, 80]\n        reason: two\n"
		"      - host: bücher.example\n      - host: \"::ffff:10.1.2.3\"\n"
		"      - host: \"2001:DB8::0:1\"\n      - host: 10.0.0.0/8\n      - host: 10.9.9.9/32\n",
		&d);
	if (!p)
		dump_diags(&d);
	assert_non_null(p);
	const char *want[] = {"10.0.0.0/8",  "10.1.2.3",       "10.9.9.9",
			      "2001:db8::1", "api.github.com", "xn--bcher-kva.example"};
	assert_int_equal(p->network.n_allow, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(p->network.allow[i].host.text, want[i]);
	const cr_net_rule *gh = &p->network.allow[4];
	assert_int_equal(gh->n_ports, 2);
	assert_int_equal(gh->ports[0], 80);
	assert_int_equal(gh->ports[1], 443);
	assert_string_equal(gh->reason, "two");
	assert_int_equal(p->network.allow[5].n_ports, 2); /* defaults {80,443} */
	assert_int_equal(p->network.allow[2].host.kind, CR_HOST_IP);
	cr_policy_free(p);
	cr_diags_clear(&d);
}

static void test_defaults(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(
		POLICY_HEAD "registries:\n  npm:\n    enable: true\n    allowed_hosts: [R.Example]\n"
			    "secrets:\n  - secret_id: npm_readonly\n    allowed_hosts: [\"*.R.example\"]\n",
		&d);
	assert_non_null(p);
	assert_int_equal(p->ttl_minutes, 60);
	assert_string_equal(p->registries[0].cache_ref, "content-cache");
	assert_int_equal(p->registries[0].fallback, CR_ACTION_DENY);
	assert_int_equal(p->registries[0].lock_mode, CR_LOCK_DENY_UNKNOWN);
	assert_false(p->registries[0].lock_enabled);
	assert_string_equal(p->registries[0].allowed_hosts[0].text, "r.example");
	assert_string_equal(p->secrets[0].target, "secret-proxy");
	assert_int_equal(p->secrets[0].ttl_seconds, 900);
	assert_string_equal(p->secrets[0].allowed_hosts[0].text, "*.r.example");
	cr_policy_free(p);
	cr_diags_clear(&d);
}

static void test_resources(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(
		"version: 1\nsandbox:\n  resources:\n    cpus: 1.5\n    memory: 512MiB\n    pids: 256\n"
		"    disk: 2Gi\n  image:\n    ref: docker.io/library/node:20@sha256:"
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
		"  network:\n    default: deny\n",
		&d);
	if (!p)
		dump_diags(&d);
	assert_non_null(p);
	assert_int_equal(p->resources.millicpus, 1500);
	assert_int_equal(p->resources.memory_bytes, 512LL << 20);
	assert_int_equal(p->resources.pids, 256);
	assert_int_equal(p->resources.disk_bytes, 2LL << 30);
	cr_policy_free(p);
	cr_diags_clear(&d);
}

static void test_lockfiles_warning_when_not_enforced(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(
		POLICY_HEAD
		"registries:\n  npm:\n    enable: true\n    allowed_hosts: [r.example]\n"
		"    lockfile_enforcement:\n      enabled: false\n      lockfiles: [package-lock.json]\n",
		&d);
	assert_non_null(p);
	assert_int_equal(d.n_warnings, 1);
	assert_non_null(find_diag(&d, "enforcement is disabled"));
	cr_policy_free(p);
	cr_diags_clear(&d);
}

static void test_git_push(void **state)
{
	(void)state;
	cr_diags d;
	cr_policy *p = parse_yaml(
		POLICY_HEAD
		"    allow:\n      - host: Git.Example\n        git_push: true\n" /* default ports */
		"      - host: git.example\n        ports: [22]\n"                /* merged into it */
		"      - host: mirror.example\n        git_push: false\n"
		"      - host: \"*.example\"\n        git_push: false\n" /* false: allowed anywhere */
		"      - host: fetch.example\n        ports: [443]\n",
		&d);
	if (!p)
		dump_diags(&d);
	assert_non_null(p);
	assert_int_equal(p->network.n_allow, 4);
	const cr_net_rule *r = &p->network.allow[2]; /* *.example, fetch.example, git.example, mirror... */
	assert_string_equal(r->host.text, "git.example");
	assert_true(r->git_push);
	assert_int_equal(r->n_ports, 3);
	assert_int_equal(r->ports[0], 22);
	assert_int_equal(r->ports[2], 443);
	assert_false(p->network.allow[0].git_push);
	assert_false(p->network.allow[1].git_push);
	assert_false(p->network.allow[3].git_push);
	cr_policy_free(p);
	cr_diags_clear(&d);

	/* merging ORs: the rule without git_push first, the one with it second */
	p = parse_yaml(POLICY_HEAD
		       "    allow:\n      - host: git.example\n        ports: [80]\n"
		       "      - host: git.example.\n        ports: [443]\n        git_push: true\n",
		       &d);
	assert_non_null(p);
	assert_int_equal(p->network.n_allow, 1);
	assert_true(p->network.allow[0].git_push);
	assert_int_equal(p->network.allow[0].n_ports, 2);
	cr_policy_free(p);
	cr_diags_clear(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_cases),
		cmocka_unit_test(test_reports_all_errors),
		cmocka_unit_test(test_unquoted_wildcards_do_not_hide_other_errors),
		cmocka_unit_test(test_spec_example),
		cmocka_unit_test(test_normalisation),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_resources),
		cmocka_unit_test(test_lockfiles_warning_when_not_enforced),
		cmocka_unit_test(test_git_push),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
