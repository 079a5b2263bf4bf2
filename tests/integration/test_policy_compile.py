# SPDX-License-Identifier: Apache-2.0
"""`cleanroom policy compile` and the CompiledPolicy payload (spec §5.5):
determinism, source fields, the policy_hash rule, and `explain --compiled`."""
import hashlib
import json
import re

import pytest

from conftest import MINIMAL_POLICY, canonical, expected_hash

BLOCK_STYLE = """
    version: 1
    project:
      name: demo
    sandbox:
      ttl_minutes: 30
      network:
        default: deny
        allow:
          - host: api.github.com
            reason: source control
            ports: [443, 22]
          - host: "*.npm.example"
            ports: [443]
          - host: bücher.example
        deny:
          - host: 169.254.169.254
    registries:
      npm:
        enable: true
        allowed_hosts: [registry.npm.example, a.npm.example]
        cache_ref: content-cache
        fallback: deny
      pip:
        enable: false
    metadata:
      owner: team-security
      risk_class: low
    """

# The same policy: keys in other orders, flow style, other quoting, comments,
# case and trailing dots, a repeated port, IDN already in punycode.
FLOW_STYLE = """
    # same policy, other order and style
    metadata: {risk_class: low, owner: team-security}
    registries:
      pip: {enable: false}
      npm:
        fallback: deny
        cache_ref: "content-cache"
        allowed_hosts:
          - A.npm.example
          - registry.npm.example.
        enable: true
    sandbox:
      network:
        deny: [{host: "169.254.169.254"}]
        allow:
          - host: XN--BCHER-KVA.example
          - ports: [443]
            host: '*.NPM.example'
          - ports:
              - 22
              - 443
              - 22
            reason: "source control"   # comment
            host: API.GITHUB.COM.
        default: deny
      ttl_minutes: 30
    project: {name: demo}
    version: 1
    """


def compile_bytes(cr, repo, *extra):
    rc, out, err = cr.run_bytes("policy", "compile", "--json", *extra, cwd=repo)
    assert rc == 0, err
    return out


def test_compile_is_deterministic_across_key_order_and_formatting(cr):
    repo = cr.repo({"cleanroom.yaml": BLOCK_STYLE})
    first = compile_bytes(cr, repo)
    assert compile_bytes(cr, repo) == first  # stable run to run

    (repo / "cleanroom.yaml").write_text(FLOW_STYLE.replace("\n    ", "\n").lstrip("\n"), encoding="utf-8")
    second = compile_bytes(cr, repo)
    assert second == first
    assert json.loads(second)["policy_hash"] == json.loads(first)["policy_hash"]

    # and validate reports that hash
    assert cr.run("policy", "validate", "--json", cwd=repo).json()["policy_hash"] == json.loads(first)["policy_hash"]


def test_a_changed_reason_changes_the_hash(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY})
    before = json.loads(compile_bytes(cr, repo))
    text = (repo / "cleanroom.yaml").read_text().replace("reason: api", "reason: the api")
    (repo / "cleanroom.yaml").write_text(text)
    after = json.loads(compile_bytes(cr, repo))
    assert before["policy_hash"] != after["policy_hash"]


def test_payload_fields_are_normalised(cr):
    repo = cr.repo({"cleanroom.yaml": BLOCK_STYLE})
    p = json.loads(compile_bytes(cr, repo))
    for key in ("policy_hash", "source", "network", "registries", "secrets"):
        assert key in p
    net = p["network"]
    assert net["default_action"] == "deny"
    assert net["allow_rules"] == [
        {"host": "*.npm.example", "kind": "wildcard", "ports": [443], "protocol": "tcp", "reason": ""},
        {"host": "api.github.com", "kind": "name", "ports": [22, 443], "protocol": "tcp", "reason": "source control"},
        {"host": "xn--bcher-kva.example", "kind": "name", "ports": [80, 443], "protocol": "tcp", "reason": ""},
    ]
    assert net["deny_rules"] == [{"host": "169.254.169.254", "kind": "ip", "ports": [], "reason": ""}]
    npm = p["registries"]["npm"]
    assert npm["enabled"] is True
    assert npm["allowed_hosts"] == ["a.npm.example", "registry.npm.example"]
    assert npm["cache_ref"] == "content-cache" and npm["fallback"] == "deny"
    assert npm["lockfile_policy"] == {"enabled": False, "mode": "deny_unknown", "inputs": []}
    assert npm["artifact_allowlist"] == []
    assert p["registries"]["pip"]["enabled"] is False
    assert p["secrets"] == []


def test_hash_rule(cr):
    repo = cr.repo({"cleanroom.yaml": BLOCK_STYLE})
    raw = compile_bytes(cr, repo)
    assert raw.endswith(b"}\n") and raw.count(b"\n") == 1
    body = raw[:-1]
    payload = json.loads(body)
    # the payload is ASCII here (hosts are punycode); stdout is already canonical
    assert body.isascii()
    assert canonical(payload) == body
    assert re.fullmatch(r"[0-9a-f]{64}", payload["policy_hash"])
    assert payload["policy_hash"] == expected_hash(payload)
    # spelled out: sha256 of the payload with policy_hash set to ""
    blank = dict(payload, policy_hash="")
    assert hashlib.sha256(canonical(blank)).hexdigest() == payload["policy_hash"]


def test_hash_rule_with_non_ascii_text(cr):
    # reasons and metadata may hold any UTF-8; it is hashed verbatim
    repo = cr.repo({"cleanroom.yaml": """
        version: 1
        sandbox:
          network:
            default: deny
            allow:
              - host: bücher.example
                reason: "Bücher für alle \\t tab"
        metadata:
          "ключ": "значение"
          "z": [true, null, "x"]
        """})
    body = compile_bytes(cr, repo)[:-1]
    payload = json.loads(body)
    assert payload["metadata"] == {"ключ": "значение", "z": [True, None, "x"]}
    assert canonical(payload) == body
    assert payload["policy_hash"] == expected_hash(payload)


def test_source_fields_strip_credentials_and_record_head(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY},
                   remote="https://user:secret@example.com/org/repo.git")
    rc, raw, err = cr.run_bytes("policy", "compile", "--json", cwd=repo)
    assert rc == 0, err
    # ("secrets" is a payload key, so look for the credential itself)
    assert b"user:secret" not in raw and b"secret@" not in raw and b"user@" not in raw
    src = json.loads(raw)["source"]
    assert src == {
        "repository": "https://example.com/org/repo.git",
        "commit_sha": cr.git(repo, "rev-parse", "HEAD"),
        "policy_path": "cleanroom.yaml",
    }
    r = cr.run("policy", "compile", cwd=repo)
    assert r.rc == 0, r
    assert "user:secret" not in r.out + r.err
    assert "repository:  https://example.com/org/repo.git\n" in r.out, r
    assert f"commit:      {src['commit_sha']}\n" in r.out, r


@pytest.mark.parametrize("remote_name,url,expected", [
    ("origin", "https://ghp_tokenvalue123@github.example/org/repo.git", "https://github.example/org/repo.git"),
    ("origin", "https://user:secret@example.com", "https://example.com"),
    ("origin", "ssh://user:secret@git.example:2222/org/repo.git", "ssh://git.example:2222/org/repo.git"),
    # no origin: the first remote is used, and cleaned the same way
    ("upstream", "https://user:secret@example.com/org/repo.git", "https://example.com/org/repo.git"),
    # tokens in the query string or fragment are dropped too
    ("origin", "https://example.com/org/repo.git?token=s3cr3t#x", "https://example.com/org/repo.git"),
])
def test_source_repository_never_carries_credentials(cr, remote_name, url, expected):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY})
    cr.git(repo, "remote", "add", remote_name, url)
    rc, raw, err = cr.run_bytes("policy", "compile", "--json", cwd=repo)
    assert rc == 0, err
    assert json.loads(raw)["source"]["repository"] == expected
    assert b"tokenvalue" not in raw and b"user:secret" not in raw and b"s3cr3t" not in raw


def test_source_fields_without_remote_use_directory_name(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY}, name="my-project")
    src = json.loads(compile_bytes(cr, repo))["source"]
    assert src["repository"] == "my-project"
    assert src["commit_sha"] == cr.git(repo, "rev-parse", "HEAD")


def test_source_fields_outside_a_git_repository(cr):
    d = cr.plain_dir({"cleanroom.yaml": MINIMAL_POLICY}, name="loose-dir")
    r = cr.run("policy", "compile", "--json", cwd=d)
    assert r.rc == 0, r
    assert r.json()["source"] == {"repository": "loose-dir", "commit_sha": "", "policy_path": "cleanroom.yaml"}
    r = cr.run("policy", "compile", cwd=d)
    assert "commit:      (none)\n" in r.out, r


def test_output_file_holds_the_json_payload(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY})
    out = cr.tmp / "compiled.json"
    r = cr.run("policy", "compile", "-o", out, cwd=repo)
    assert r.rc == 0 and r.out == "", r
    assert out.read_bytes() == compile_bytes(cr, repo)
    r = cr.run("policy", "compile", "--output", cr.tmp / "no" / "such" / "dir.json", cwd=repo)
    assert r.rc == 1, r
    assert "error[internal]" in r.err and "No such file or directory" in r.err


def test_summary_output(cr):
    repo = cr.repo({"cleanroom.yaml": BLOCK_STYLE})
    r = cr.run("policy", "compile", cwd=repo)
    assert r.rc == 0, r
    h = json.loads(compile_bytes(cr, repo))["policy_hash"]
    assert f"policy_hash: {h}\n" in r.out
    assert "network:     default deny, 3 allow rules, 1 deny rules\n" in r.out
    assert "registry:    npm enabled, fallback deny, lockfiles not enforced (deny_unknown), 0 artifacts\n" in r.out


def test_compile_invalid_policy_exit_1_and_no_payload(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY.replace("[443]", "[70000]")})
    r = cr.run("policy", "compile", "--json", cwd=repo)
    assert r.rc == 1, r
    assert r.out == "", r
    assert "70000 is not a port (1-65535)" in r.err


# ---- explain --compiled -------------------------------------------------------


def test_explain_accepts_a_compiled_file(cr):
    repo = cr.repo({"cleanroom.yaml": BLOCK_STYLE})
    compiled = cr.tmp / "policy.json"
    assert cr.run("policy", "compile", "-o", compiled, cwd=repo).rc == 0
    h = json.loads(compiled.read_text())["policy_hash"]

    # no repository and no policy file needed where it is read
    elsewhere = cr.plain_dir()
    r = cr.run("policy", "explain", "--compiled", compiled, "--json", "api.github.com:22", cwd=elsewhere)
    assert r.rc == 0, r
    doc = r.json()
    assert doc["step"] == "allow_exact" and doc["policy_hash"] == h
    assert doc["rule"]["origin"] == "network.allow_rules[1]"

    r = cr.run("policy", "explain", "--compiled", compiled, "x.npm.example", cwd=elsewhere)
    assert r.rc == 0 and r.out.startswith("ALLOW x.npm.example:443"), r
    r = cr.run("policy", "explain", "--compiled", compiled, "npm.example", cwd=elsewhere)
    assert r.rc == 1, r
    r = cr.run("policy", "explain", "--compiled", compiled, "--json", "169.254.169.254", cwd=elsewhere)
    assert r.rc == 1 and r.json()["step"] == "deny_exact", r


def test_explain_rejects_a_tampered_compiled_file(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY})
    compiled = cr.tmp / "policy.json"
    assert cr.run("policy", "compile", "-o", compiled, cwd=repo).rc == 0
    text = compiled.read_text()
    assert '"ports":[443]' in text
    tampered = cr.tmp / "tampered.json"
    tampered.write_text(text.replace('"ports":[443]', '"ports":[443,8443]'))

    r = cr.run("policy", "explain", "--compiled", tampered, "api.example.com:8443")
    assert r.rc == 2, r
    assert r.out == "", r
    assert "policy_hash mismatch" in r.err, r
    assert "error[policy_invalid]" in r.err, r
    # the original still works, and denies 8443
    assert cr.run("policy", "explain", "--compiled", compiled, "api.example.com:8443").rc == 1
    assert cr.run("policy", "explain", "--compiled", compiled, "api.example.com:443").rc == 0


def test_explain_rejects_a_non_canonical_host_in_a_compiled_file(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY})
    compiled = cr.tmp / "policy.json"
    assert cr.run("policy", "compile", "-o", compiled, cwd=repo).rc == 0
    payload = json.loads(compiled.read_text())
    payload["network"]["allow_rules"][0]["host"] = "API.example.com"
    payload["policy_hash"] = expected_hash(payload)  # even with a matching hash
    bad = cr.tmp / "bad.json"
    bad.write_bytes(canonical(payload))
    r = cr.run("policy", "explain", "--compiled", bad, "api.example.com")
    assert r.rc == 2, r
    assert "not in canonical form" in r.err, r


def test_explain_compiled_and_config_are_alternatives(cr):
    repo = cr.repo({"cleanroom.yaml": MINIMAL_POLICY})
    compiled = cr.tmp / "policy.json"
    assert cr.run("policy", "compile", "-o", compiled, cwd=repo).rc == 0
    r = cr.run("policy", "explain", "-c", "cleanroom.yaml", "--compiled", compiled, "api.example.com", cwd=repo)
    assert r.rc == 2, r
    assert "-c and --compiled are alternatives" in r.err
    r = cr.run("policy", "explain", "--compiled", cr.tmp / "missing.json", "api.example.com", cwd=repo)
    assert r.rc == 2, r
    assert "missing.json" in r.err and "No such file or directory" in r.err
