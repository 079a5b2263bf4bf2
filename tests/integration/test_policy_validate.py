# SPDX-License-Identifier: Apache-2.0
"""`cleanroom policy validate`: schema errors (spec §5.2) reported all at
once with file:line:col, key path, reason code and hint; --json shape."""
import re

import pytest

from conftest import MINIMAL_POLICY

# Four independent mistakes; line:col of each is asserted below.
MANY_ERRORS = """
    version: 1
    sandbox:
      network:
        default: allow
        alow:
          - host: a.example
        allow:
          - host: api.example.com
            ports: [443]
          - host: db.example.com
            ports: [443, 70000]
          - host: 10.1.2.3/8
    """

EXPECTED = [
    # (line, col, path, message, hint)
    (4, 14, "sandbox.network.default", "version 1 policies must deny by default",
     "write default: deny and list what is needed under allow"),
    (5, 5, "sandbox.network.alow", "unknown key 'alow'", "did you mean 'allow'?"),
    (11, 22, "sandbox.network.allow[1].ports[1]", "70000 is not a port (1-65535)", None),
    (12, 15, "sandbox.network.allow[2].host", "CIDR block '10.1.2.3/8' has host bits set",
     "did you mean 10.0.0.0/8?"),
]


def test_valid_policy(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY})
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0] == "cleanroom.yaml: valid (1 allow rules, 0 deny rules, 0 registries, 0 locked artifacts)"
    assert re.fullmatch(r"policy_hash: [0-9a-f]{64}", lines[1]), r
    assert r.err == "", r


def test_all_errors_reported_at_once_text(cr):
    repo = cr.repo({"cleanroom.yaml": MANY_ERRORS})
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert r.out == "", r
    for line, col, path, message, hint in EXPECTED:
        head = f"cleanroom.yaml:{line}:{col}: error[policy_invalid]: {path}: {message}\n"
        assert head in r.err, (head, r)
        if hint:
            assert head + f"  hint: {hint}\n" in r.err, (hint, r)
    assert r.err.rstrip("\n").endswith("cleanroom.yaml: invalid (4 errors)"), r


def test_all_errors_reported_at_once_json(cr):
    repo = cr.repo({"cleanroom.yaml": MANY_ERRORS})
    r = cr.run("policy", "validate", "--json", cwd=repo)
    assert r.rc == 1, r
    doc = r.json()
    assert set(doc) == {"valid", "policy_file", "errors", "warnings", "diagnostics"}, doc
    assert doc["valid"] is False
    assert doc["policy_file"] == "cleanroom.yaml"
    assert doc["errors"] == 4 and doc["warnings"] == 0
    got = [(d["line"], d["column"], d["path"], d["message"], d.get("hint")) for d in doc["diagnostics"]]
    assert got == EXPECTED
    for d in doc["diagnostics"]:
        assert d["severity"] == "error"
        assert d["reason_code"] == "policy_invalid"
        assert d["file"] == "cleanroom.yaml"


def test_json_valid_shape(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY})
    r = cr.run("policy", "validate", "--json", cwd=repo)
    assert r.rc == 0, r
    doc = r.json()
    assert set(doc) == {"valid", "policy_file", "errors", "warnings", "diagnostics", "policy_hash"}
    assert doc["valid"] is True and doc["errors"] == 0 and doc["warnings"] == 0
    assert doc["diagnostics"] == []
    assert re.fullmatch(r"[0-9a-f]{64}", doc["policy_hash"])
    # the same hash as the compiled payload
    compiled = cr.run("policy", "compile", "--json", cwd=repo).json()
    assert compiled["policy_hash"] == doc["policy_hash"]


def test_unknown_top_level_key_suggests_the_right_one(cr):
    repo = cr.repo({"cleanroom.yaml": """
        version: 1
        sandbx:
          network:
            default: deny
        """})
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert "cleanroom.yaml:2:1: error[policy_invalid]: sandbx: unknown key 'sandbx'\n  hint: did you mean 'sandbox'?\n" in r.err, r
    assert "missing required key 'sandbox'" in r.err, r


def test_unquoted_wildcard_host_hint_to_quote(cr):
    repo = cr.repo({"cleanroom.yaml": """
        version: 1
        sandbox:
          network:
            default: deny
            allow:
              - host: *.example.org
              - host: a.example
                ports: [70000]
        """})
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert "cleanroom.yaml:6:15: error[policy_invalid]:" in r.err, r
    assert "wildcard host must be quoted" in r.err, r
    assert '  hint: quote wildcard hosts: "*.example.org"' in r.err, r
    # checking goes on after it
    assert "cleanroom.yaml:8:17: error[policy_invalid]: sandbox.network.allow[1].ports[0]: 70000 is not a port" in r.err, r
    assert "invalid (2 errors)" in r.err, r

    doc = cr.run("policy", "validate", "--json", cwd=repo).json()
    assert doc["errors"] == 2
    d = doc["diagnostics"][0]
    assert (d["line"], d["column"], d["reason_code"]) == (6, 15, "policy_invalid")
    assert '"*.example.org"' in d["hint"]


def test_default_allow_is_rejected(cr):
    repo = cr.repo({"cleanroom.yaml": """
        version: 1
        sandbox:
          network:
            default: allow
        """})
    r = cr.run("policy", "validate", "--json", cwd=repo)
    assert r.rc == 1, r
    [d] = r.json()["diagnostics"]
    assert d["path"] == "sandbox.network.default"
    assert d["message"] == "version 1 policies must deny by default"
    assert (d["line"], d["column"]) == (4, 14)


@pytest.mark.parametrize("value,message,hint", [
    ('["443"]', "expected an integer, found '443'", "write the number without quotes"),
    ("443", "expected a list of ports", "write a list: ports: [443]"),
    ("[]", "ports is empty", "omit ports to allow the defaults 80 and 443"),
    ("[0]", "0 is not a port (1-65535)", None),
])
def test_bad_ports(cr, value, message, hint):
    repo = cr.repo({"cleanroom.yaml": f"""
        version: 1
        sandbox:
          network:
            default: deny
            allow:
              - host: a.example
                ports: {value}
        """})
    r = cr.run("policy", "validate", "--json", cwd=repo)
    assert r.rc == 1, r
    [d] = r.json()["diagnostics"]
    assert d["message"] == message
    assert d.get("hint") == hint
    assert d["line"] == 7
    assert d["path"].startswith("sandbox.network.allow[0].ports")


@pytest.mark.parametrize("host,message", [
    ("https://f.example/", "'https://f.example/' is not a host name"),
    ("g.example:443", "'g.example:443' is not a host name"),
    ('"*.*.h.example"', "'*.*.h.example' has a '*' that is not the whole left-most label"),
    ('"foo*.i.example"', "'foo*.i.example' has a '*' that is not the whole left-most label"),
    ("10.0.0.0/33", "'10.0.0.0/33' has an invalid prefix length (0-32)"),
])
def test_bad_hosts(cr, host, message):
    repo = cr.repo({"cleanroom.yaml": f"""
        version: 1
        sandbox:
          network:
            default: deny
            allow:
              - host: {host}
        """})
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert f"cleanroom.yaml:6:15: error[policy_invalid]: sandbox.network.allow[0].host: {message}\n" in r.err, r


CONFLICT = """
    version: 1
    sandbox:
      network:
        default: deny
        allow:
          - host: both.example
            ports: [443]
          - host: ok.example
        deny:
          - host: BOTH.example
            ports: [443, 22]
          - host: ok.example
            ports: [22]
    """


def test_same_host_port_allowed_and_denied_is_a_conflict(cr):
    repo = cr.repo({"cleanroom.yaml": CONFLICT})
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert "error[policy_conflict]: sandbox.network.deny[0]: both.example port 443 is both allowed and denied\n" in r.err, r
    assert "cleanroom.yaml:10" in r.err, r
    assert "  hint: remove both.example from one of the two lists (allowed at sandbox.network.allow[0], line 6)" in r.err, r
    # ok.example: allowed on 80/443, denied on 22 -- not a conflict
    assert "ok.example" not in r.err, r
    assert "invalid (1 error)" in r.err, r

    doc = cr.run("policy", "validate", "--json", cwd=repo).json()
    assert doc["valid"] is False and doc["errors"] == 1
    [d] = doc["diagnostics"]
    assert d["reason_code"] == "policy_conflict"
    assert d["file"] == "cleanroom.yaml" and d["line"] == 10
    assert d["path"] == "sandbox.network.deny[0]"

    # explain refuses to decide on a contradictory policy
    assert cr.run("policy", "explain", "both.example", cwd=repo).rc == 2


def test_deny_without_ports_conflicts_with_default_ports(cr):
    repo = cr.repo({"cleanroom.yaml": """
        version: 1
        sandbox:
          network:
            default: deny
            allow:
              - host: "[2001:db8::1]"
            deny:
              - host: 2001:DB8:0::1
        """})
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert "2001:db8::1 ports 80, 443 are both allowed and denied" in r.err, r


def test_conflict_diagnostic_has_a_column(cr):
    repo = cr.repo({"cleanroom.yaml": CONFLICT})
    r = cr.run("policy", "validate", cwd=repo)
    assert re.search(r"^cleanroom\.yaml:10:[1-9]\d*: error\[policy_conflict\]", r.err, re.M), r
    [d] = cr.run("policy", "validate", "--json", cwd=repo).json()["diagnostics"]
    assert d["column"] >= 1


def test_empty_policy_file(cr):
    repo = cr.repo({"cleanroom.yaml": ""})
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert "cleanroom.yaml: error[policy_invalid]: the policy file is empty" in r.err, r


def test_usage_errors_exit_2(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY})
    r = cr.run("policy", "validate", "extra-arg", cwd=repo)
    assert r.rc == 2, r
    assert "cleanroom policy validate: error[usage_invalid]: unexpected argument 'extra-arg'" in r.err
    r = cr.run("policy", "frobnicate", cwd=repo)
    assert r.rc == 2, r
    assert "unknown command 'frobnicate'" in r.err
    r = cr.run("policy", "validate", "--help", cwd=repo)
    assert r.rc == 0 and r.out.startswith("Usage: cleanroom policy validate"), r


def test_unknown_option_message_names_the_command(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY})
    r = cr.run("policy", "validate", "--bogus", cwd=repo)
    assert r.rc == 2, r
    assert r.err.startswith("cleanroom policy validate: error[usage_invalid]: unknown or incomplete option '--bogus'\n"), r
    assert "Run 'cleanroom policy validate --help' for usage." in r.err, r


def test_crlf_and_byte_order_mark_keep_positions(cr):
    text = ("version: 1\r\nsandbox:\r\n  network:\r\n    default: deny\r\n    allow:\r\n"
            "      - host: a.example\r\n        ports: [70000]\r\n")
    repo = cr.repo({"cleanroom.yaml": b"\xef\xbb\xbf" + text.encode()})
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert "cleanroom.yaml:7:17: error[policy_invalid]: sandbox.network.allow[0].ports[0]: 70000 is not a port" in r.err, r


def test_other_policy_conflicts(cr):
    repo = cr.repo({"cleanroom.yaml": """
        version: 1
        sandbox:
          network:
            default: deny
        registries:
          npm:
            enable: true
            allowed_hosts: [registry.npm.example]
            lockfile_enforcement:
              enabled: true
              mode: "off"
              lockfiles: [package-lock.json]
        """, "package-lock.json": "{}"})
    doc = cr.run("policy", "validate", "--json", cwd=repo).json()
    assert doc["valid"] is False
    conflicts = [d for d in doc["diagnostics"] if d["reason_code"] == "policy_conflict"]
    assert len(conflicts) == 1, doc
    assert conflicts[0]["message"] == "lockfile_enforcement is enabled with mode off"
    assert conflicts[0]["line"] == 11
