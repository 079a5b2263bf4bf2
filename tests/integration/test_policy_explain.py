# SPDX-License-Identifier: Apache-2.0
"""`cleanroom policy explain`: deterministic destination matching (spec
§5.2.1) end to end. Exit 0 allowed, 1 denied, 2 usage or policy error."""
import pytest

POLICY = """
    version: 1
    sandbox:
      network:
        default: deny
        allow:
          - host: api.example.com
            reason: the API
            ports: [443]
          - host: "*.example.com"
            reason: any subdomain
            ports: [443]
          - host: bücher.example
          - host: plain.example
          - host: 10.0.0.0/8
            ports: [5432]
          - host: 192.0.2.10
            ports: [443]
          - host: "[2001:db8::1]"
            ports: [8443]
          - host: 169.254.0.0/16
          - host: svc.internal.example.com
            ports: [443]
        deny:
          - host: blocked.example.com
          - host: "*.internal.example.com"
          - host: 10.9.9.9
    """

# destination, exit code, decision, step, deciding rule's origin (None: no
# rule), normalised destination, port
CASES = [
    # exact vs wildcard
    ("api.example.com", 0, "allow", "allow_exact", "sandbox.network.allow[0]", "api.example.com", 443),
    ("www.example.com", 0, "allow", "allow_wildcard", "sandbox.network.allow[1]", "www.example.com", 443),
    # a wildcard never matches the apex
    ("example.com", 1, "deny", "default", None, "example.com", 443),
    # deny beats allow: exact deny over wildcard allow, wildcard deny over wildcard allow
    ("blocked.example.com", 1, "deny", "deny_exact", "sandbox.network.deny[0]", "blocked.example.com", 443),
    ("x.internal.example.com", 1, "deny", "deny_wildcard", "sandbox.network.deny[1]", "x.internal.example.com", 443),
    # an exact allow carves a host out of a wildcard deny
    ("svc.internal.example.com", 0, "allow", "allow_exact", "sandbox.network.allow[8]", "svc.internal.example.com", 443),
    # ports: the exact rule only opens 443; the wildcard does not cover api on 80 either
    ("api.example.com:80", 1, "deny", "default", None, "api.example.com", 80),
    ("api.example.com:443", 0, "allow", "allow_exact", "sandbox.network.allow[0]", "api.example.com", 443),
    # ports omitted in the rule: 80 and 443 only
    ("plain.example:80", 0, "allow", "allow_exact", "sandbox.network.allow[3]", "plain.example", 80),
    ("plain.example:443", 0, "allow", "allow_exact", "sandbox.network.allow[3]", "plain.example", 443),
    ("plain.example:8080", 1, "deny", "default", None, "plain.example", 8080),
    # normalisation: IDN, uppercase, trailing dot
    ("bücher.example", 0, "allow", "allow_exact", "sandbox.network.allow[2]", "xn--bcher-kva.example", 443),
    ("xn--bcher-kva.example", 0, "allow", "allow_exact", "sandbox.network.allow[2]", "xn--bcher-kva.example", 443),
    ("BÜCHER.example.", 0, "allow", "allow_exact", "sandbox.network.allow[2]", "xn--bcher-kva.example", 443),
    ("API.Example.COM.", 0, "allow", "allow_exact", "sandbox.network.allow[0]", "api.example.com", 443),
    ("API.EXAMPLE.COM.:443", 0, "allow", "allow_exact", "sandbox.network.allow[0]", "api.example.com", 443),
    ("BLOCKED.example.com.", 1, "deny", "deny_exact", "sandbox.network.deny[0]", "blocked.example.com", 443),
    # URL form; http defaults to 80, https to 443
    ("https://api.example.com/v1/repos?page=2#top", 0, "allow", "allow_exact", "sandbox.network.allow[0]", "api.example.com", 443),
    ("http://api.example.com/", 1, "deny", "default", None, "api.example.com", 80),
    ("http://plain.example/index.html", 0, "allow", "allow_exact", "sandbox.network.allow[3]", "plain.example", 80),
    ("https://user:pw@www.example.com:443/x", 0, "allow", "allow_wildcard", "sandbox.network.allow[1]", "www.example.com", 443),
    # IP literals are matched by IP/CIDR rules only
    ("10.1.2.3:5432", 0, "allow", "allow_wildcard", "sandbox.network.allow[4]", "10.1.2.3", 5432),
    ("10.1.2.3", 1, "deny", "ip_no_rule", None, "10.1.2.3", 443),
    ("10.9.9.9:5432", 1, "deny", "deny_exact", "sandbox.network.deny[2]", "10.9.9.9", 5432),
    ("192.0.2.10", 0, "allow", "allow_exact", "sandbox.network.allow[5]", "192.0.2.10", 443),
    ("192.0.2.11", 1, "deny", "ip_no_rule", None, "192.0.2.11", 443),
    ("::ffff:192.0.2.10", 0, "allow", "allow_exact", "sandbox.network.allow[5]", "192.0.2.10", 443),
    # IPv6, bracketed with a port, bare, and in a URL
    ("[2001:db8::1]:8443", 0, "allow", "allow_exact", "sandbox.network.allow[6]", "2001:db8::1", 8443),
    ("[2001:DB8:0:0::1]:8443", 0, "allow", "allow_exact", "sandbox.network.allow[6]", "2001:db8::1", 8443),
    ("2001:db8::1", 1, "deny", "ip_no_rule", None, "2001:db8::1", 443),
    ("https://[2001:db8::1]:8443/x", 0, "allow", "allow_exact", "sandbox.network.allow[6]", "2001:db8::1", 8443),
    # the metadata guard wins over the 169.254.0.0/16 allow
    ("169.254.169.254", 1, "deny", "metadata_guard", None, "169.254.169.254", 443),
    ("http://169.254.169.254/latest/meta-data/", 1, "deny", "metadata_guard", None, "169.254.169.254", 80),
    ("[::ffff:169.254.169.254]:80", 1, "deny", "metadata_guard", None, "169.254.169.254", 80),
    ("169.254.170.2", 1, "deny", "metadata_guard", None, "169.254.170.2", 443),
    ("metadata.google.internal", 1, "deny", "metadata_guard", None, "metadata.google.internal", 443),
    ("169.254.10.10", 0, "allow", "allow_wildcard", "sandbox.network.allow[7]", "169.254.10.10", 443),
    # nothing matches
    ("unknown.example", 1, "deny", "default", None, "unknown.example", 443),
]


@pytest.mark.parametrize("dest,rc,decision,step,origin,normalised,port", CASES, ids=[c[0] for c in CASES])
def test_explain_precedence(cr, dest, rc, decision, step, origin, normalised, port):
    repo = cr.repo({"cleanroom.yaml": POLICY})
    r = cr.run("policy", "explain", "--json", dest, cwd=repo)
    assert r.rc == rc, r
    doc = r.json()
    assert doc["input"] == dest
    assert doc["decision"] == decision
    assert doc["step"] == step
    assert doc["destination"] == normalised
    assert doc["port"] == port
    if decision == "deny":
        assert doc["reason_code"] == "host_not_allowed"
    else:
        assert doc["reason_code"] is None
    if origin is None:
        assert doc["rule"] is None
    else:
        assert doc["rule"]["origin"] == origin

    # the human form agrees and uses the same exit code
    h = cr.run("policy", "explain", dest, cwd=repo)
    assert h.rc == rc, h
    shown = f"[{normalised}]" if ":" in normalised else normalised
    if decision == "allow":
        assert h.out.startswith(f"ALLOW {shown}:{port}\n"), h
    else:
        assert h.out.startswith(f"DENY  {shown}:{port}  [host_not_allowed]\n"), h


def test_explain_json_shape(cr):
    repo = cr.repo({"cleanroom.yaml": POLICY})
    r = cr.run("policy", "explain", "--json", "api.example.com", cwd=repo)
    assert r.rc == 0, r
    doc = r.json()
    assert set(doc) == {"input", "destination", "kind", "port", "decision", "reason_code", "step",
                        "rule", "explanation", "policy_hash"}
    assert doc["kind"] == "name"
    assert doc["rule"] == {"origin": "sandbox.network.allow[0]", "host": "api.example.com", "kind": "name",
                           "ports": [443], "reason": "the API", "line": 6}
    assert doc["explanation"] == "allowed by sandbox.network.allow[0] (api.example.com, port 443, line 6)"
    validate = cr.run("policy", "validate", "--json", cwd=repo).json()
    assert doc["policy_hash"] == validate["policy_hash"]

    doc = cr.run("policy", "explain", "--json", "10.1.2.3:5432", cwd=repo).json()
    assert doc["kind"] == "ip"
    assert doc["rule"]["kind"] == "cidr" and doc["rule"]["host"] == "10.0.0.0/8"


def test_explain_port_miss_is_explained(cr):
    repo = cr.repo({"cleanroom.yaml": POLICY})
    r = cr.run("policy", "explain", "api.example.com:80", cwd=repo)
    assert r.rc == 1, r
    assert "port 80 is not in sandbox.network.allow[0] (api.example.com, port 443, line 6)" in r.out, r


def test_explain_port_option(cr):
    repo = cr.repo({"cleanroom.yaml": POLICY})
    r = cr.run("policy", "explain", "-p", "5432", "--json", "10.4.4.4", cwd=repo)
    assert r.rc == 0, r
    assert r.json()["port"] == 5432
    r = cr.run("policy", "explain", "--port", "80", "https://plain.example/", cwd=repo)
    assert r.rc == 0, r
    assert r.out.startswith("ALLOW plain.example:80\n"), r
    # the port given twice
    r = cr.run("policy", "explain", "-p", "443", "api.example.com:443", cwd=repo)
    assert r.rc == 2, r
    assert "error[usage_invalid]" in r.err


def test_metadata_address_opened_only_by_an_exact_allow(cr):
    repo = cr.repo({"cleanroom.yaml": """
        version: 1
        sandbox:
          network:
            default: deny
            allow:
              - host: 169.254.169.254
                reason: instance credentials
                ports: [80]
        """})
    r = cr.run("policy", "explain", "--json", "169.254.169.254:80", cwd=repo)
    assert r.rc == 0, r
    doc = r.json()
    assert doc["step"] == "allow_exact" and doc["rule"]["origin"] == "sandbox.network.allow[0]"
    r = cr.run("policy", "explain", "--json", "169.254.169.254:443", cwd=repo)
    assert r.rc == 1, r
    assert r.json()["step"] == "metadata_guard"


@pytest.mark.parametrize("dest", [
    "ftp://api.example.com/",
    "api.example.com:0",
    "api.example.com:65536",
    "api.example.com:",
    "[2001:db8::1",
    "exa mple.com",
    "*.example.com",
    "010.0.0.1",
])
def test_explain_malformed_destination_exit_2(cr, dest):
    repo = cr.repo({"cleanroom.yaml": POLICY})
    r = cr.run("policy", "explain", dest, cwd=repo)
    assert r.rc == 2, r
    assert r.out == "", r
    assert r.err.startswith("cleanroom policy explain: error[usage_invalid]: "), r


def test_explain_usage_errors(cr):
    repo = cr.repo({"cleanroom.yaml": POLICY})
    r = cr.run("policy", "explain", cwd=repo)
    assert r.rc == 2 and "missing HOST[:PORT]" in r.err, r
    r = cr.run("policy", "explain", "a.example", "b.example", cwd=repo)
    assert r.rc == 2 and "give one destination" in r.err, r
    r = cr.run("policy", "explain", "-p", "99999", "a.example", cwd=repo)
    assert r.rc == 2 and "'99999' is not a port (1-65535)" in r.err, r


def test_explain_with_invalid_policy_is_exit_2_not_denied(cr):
    repo = cr.repo({"cleanroom.yaml": """
        version: 1
        sandbox:
          network:
            default: deny
            allow:
              - host: a.example
                ports: [70000]
        """})
    r = cr.run("policy", "explain", "a.example", cwd=repo)
    assert r.rc == 2, r
    assert r.out == "", r
    assert "cleanroom.yaml:7:" in r.err and "70000 is not a port (1-65535)" in r.err, r


def test_explain_url_scheme_is_case_insensitive(cr):
    repo = cr.repo({"cleanroom.yaml": POLICY})
    r = cr.run("policy", "explain", "HTTPS://api.example.com/", cwd=repo)
    assert r.rc == 0, r
    assert r.out.startswith("ALLOW api.example.com:443"), r
