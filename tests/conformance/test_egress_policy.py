# SPDX-License-Identifier: Apache-2.0
"""§14 rows "default deny", "explicit allow host/port", "explicit deny
overrides allow", "wildcard host semantics", and §5.2.1's IP-literal,
default-port and normalisation rules, enforced for a program that ignores
the proxy variables (curl --noproxy '*', plain sockets): every denied
destination is refused inside the sandbox, never reaches the fixture, and
leaves a deny event with reason host_not_allowed; every allowed one answers
from the right fixture address, dialled by the gateway on the host side."""
from fixture_server import curl, expect_http_denied, expect_ok, expect_refused, expect_unresolved, probe
import fixture_internet as fi

ALLOWED = fi.addr("allowed.test")
OTHER = fi.addr("other.test")

# the gateway names a rule by its place in the CompiledPolicy it was given
# ("network.deny_rules[0]"); a backend reading the YAML origin may say
# "sandbox.network.deny[0]"
DENY_RULE_ORIGINS = ("network.deny_rules", "sandbox.network.deny")


def test_default_deny_blocks_unlisted_destinations(cr):
    run = cr.run(dict(allow=[("allowed.test", [443])]),
                 probe("resolve", "resolve", "other.test"),
                 curl("by-name", "http://other.test/"),
                 curl("forced-http", "http://other.test/", "--resolve", f"other.test:80:{OTHER}"),
                 curl("forced-tls", "https://other.test/", "--resolve", f"other.test:443:{OTHER}"),
                 probe("raw", "tcp", OTHER, fi.TCP_ECHO_PORT, "hello"),
                 curl("control", "https://allowed.test/")).started()
    expect_ok(run.probe("control"), ALLOWED, "allowed.test")
    expect_unresolved(run.probe("resolve"))
    expect_unresolved(run.probe("by-name"))
    expect_http_denied(run.probe("forced-http"))
    expect_refused(run.probe("forced-tls"))
    expect_refused(run.probe("raw"))
    cr.assert_never_arrived(ip=OTHER)
    cr.assert_dns_never_saw("other.test")
    ev = cr.dns_deny_event(run, "other.test")
    assert ev["detail"].get("qtype") == "A", ev
    cr.deny_event(run, host="other.test", port=80, ip=OTHER)
    cr.deny_event(run, host="other.test", port=443, ip=OTHER)
    cr.deny_event(run, ip=OTHER, port=fi.TCP_ECHO_PORT)


def test_explicit_allow_host_and_port(cr):
    run = cr.run(dict(allow=[("allowed.test", [443]), ("api.allowed.test", [8080])]),
                 curl("tls", "https://allowed.test/a"),
                 curl("http-8080", "http://api.allowed.test:8080/b")).started()
    f = expect_ok(run.probe("tls"), ALLOWED, "allowed.test", 443)
    assert f["sni"] == "allowed.test" and f["path"] == "/a", f
    expect_ok(run.probe("http-8080"), fi.addr("api.allowed.test"), "api.allowed.test", 8080)
    cr.assert_arrived_via_gateway(ALLOWED, 443)
    cr.assert_arrived_via_gateway(fi.addr("api.allowed.test"), 8080)


def test_allowed_host_on_another_port_is_denied(cr):
    run = cr.run(dict(allow=[("allowed.test", [443])]),
                 curl("port-80", "http://allowed.test/"),
                 curl("port-8080", "http://allowed.test:8080/"),
                 probe("port-7000", "tcp", "allowed.test", fi.TCP_ECHO_PORT, "hello"),
                 curl("control", "https://allowed.test/")).started()
    expect_ok(run.probe("control"), ALLOWED, "allowed.test")
    expect_http_denied(run.probe("port-80"))
    expect_http_denied(run.probe("port-8080"))
    expect_refused(run.probe("port-7000"))
    for port in (80, 8080, fi.TCP_ECHO_PORT):
        cr.assert_never_arrived(ip=ALLOWED, port=port)
    cr.deny_event(run, host="allowed.test", port=80, ip=ALLOWED)
    cr.deny_event(run, host="allowed.test", port=8080, ip=ALLOWED)


def test_explicit_deny_overrides_allow(cr):
    bad, good = fi.addr("bad.mixed.test"), fi.addr("good.mixed.test")
    run = cr.run(dict(allow=["*.mixed.test", ("10.254.1.88/29", [80])],
                      deny=["bad.mixed.test", "10.254.1.93"]),
                 curl("good", "http://good.mixed.test/"),
                 probe("bad-resolve", "resolve", "bad.mixed.test"),
                 curl("bad-forced", "http://bad.mixed.test/", "--resolve", f"bad.mixed.test:80:{bad}"),
                 curl("cidr-ok", "http://10.254.1.90/"),
                 curl("cidr-denied", "http://10.254.1.93/")).started()
    expect_ok(run.probe("good"), good, "good.mixed.test")
    expect_ok(run.probe("cidr-ok"), "10.254.1.90")
    expect_unresolved(run.probe("bad-resolve"))
    expect_http_denied(run.probe("bad-forced"))
    expect_http_denied(run.probe("cidr-denied"))
    cr.assert_never_arrived(ip=bad)
    cr.assert_never_arrived(ip="10.254.1.93")
    cr.assert_dns_never_saw("bad.mixed.test")
    cr.dns_deny_event(run, "bad.mixed.test")
    ev = cr.deny_event(run, host="bad.mixed.test", port=80)
    assert ev["detail"].get("rule", "").startswith(DENY_RULE_ORIGINS), ev
    ev = cr.deny_event(run, ip="10.254.1.93", port=80)
    assert ev["detail"].get("rule", "").startswith(DENY_RULE_ORIGINS), ev


def test_wildcard_matches_subdomains_not_the_apex(cr):
    apex = fi.addr("wild.test")
    run = cr.run(dict(allow=["*.wild.test"]),
                 curl("sub", "http://sub.wild.test/"),
                 curl("deep", "https://deep.sub.wild.test/"),
                 probe("apex-resolve", "resolve", "wild.test"),
                 curl("apex-forced", "http://wild.test/", "--resolve", f"wild.test:80:{apex}")).started()
    expect_ok(run.probe("sub"), fi.addr("sub.wild.test"), "sub.wild.test")
    expect_ok(run.probe("deep"), fi.addr("deep.sub.wild.test"), "deep.sub.wild.test")
    expect_unresolved(run.probe("apex-resolve"))
    expect_http_denied(run.probe("apex-forced"))
    cr.assert_never_arrived(ip=apex)
    cr.assert_dns_never_saw("wild.test")
    cr.dns_deny_event(run, "wild.test")
    cr.deny_event(run, host="wild.test", port=80, ip=apex)


def test_ip_literal_against_ip_and_cidr_rules_only(cr):
    """An IP literal is matched by IP/CIDR rules only: a CIDR allow opens
    the addresses (and ports) it covers; a name rule does not open its own
    name's address."""
    run = cr.run(dict(allow=[("10.254.1.88/29", [80]), ("allowed.test", [80])]),
                 curl("in-cidr", "http://10.254.1.90/"),
                 curl("in-cidr-other-port", "http://10.254.1.92:8080/"),
                 curl("outside-cidr", "http://10.254.1.97/"),
                 probe("resolve", "resolve", "allowed.test"),
                 curl("ip-of-allowed-name", f"http://{ALLOWED}/")).started()
    expect_ok(run.probe("in-cidr"), "10.254.1.90")
    assert run.probe("resolve")["addrs"] == [ALLOWED], run.probe("resolve")
    expect_http_denied(run.probe("in-cidr-other-port"))
    expect_http_denied(run.probe("outside-cidr"))
    expect_http_denied(run.probe("ip-of-allowed-name"))
    cr.assert_never_arrived(ip="10.254.1.97")
    cr.assert_never_arrived(ip="10.254.1.92")
    cr.assert_never_arrived(ip=ALLOWED)
    cr.deny_event(run, ip="10.254.1.92", port=8080)
    cr.deny_event(run, ip="10.254.1.97", port=80)
    cr.deny_event(run, ip=ALLOWED, port=80, host=ALLOWED)


def test_ip_literal_without_a_rule_is_denied(cr):
    run = cr.run(dict(allow=["allowed.test"]),
                 curl("http", f"http://{OTHER}/"),
                 curl("tls", f"https://{OTHER}/"),
                 probe("raw", "tcp", OTHER, fi.TCP_ECHO_PORT, "hello"),
                 curl("control", "http://allowed.test/")).started()
    expect_ok(run.probe("control"), ALLOWED, "allowed.test")
    expect_http_denied(run.probe("http"))
    expect_refused(run.probe("tls"))
    expect_refused(run.probe("raw"))
    cr.assert_never_arrived(ip=OTHER)
    cr.deny_event(run, ip=OTHER, port=80, host=OTHER)
    cr.deny_event(run, ip=OTHER, port=443)
    cr.deny_event(run, ip=OTHER, port=fi.TCP_ECHO_PORT)


def test_default_ports_are_80_and_443(cr):
    run = cr.run(dict(allow=["allowed.test"]),
                 curl("80", "http://allowed.test/"),
                 curl("443", "https://allowed.test/"),
                 curl("8080", "http://allowed.test:8080/"),
                 probe("7000", "tcp", "allowed.test", fi.TCP_ECHO_PORT, "hello")).started()
    expect_ok(run.probe("80"), ALLOWED, "allowed.test", 80)
    expect_ok(run.probe("443"), ALLOWED, "allowed.test", 443)
    expect_http_denied(run.probe("8080"))
    expect_refused(run.probe("7000"))
    cr.assert_never_arrived(ip=ALLOWED, port=8080)
    cr.assert_never_arrived(ip=ALLOWED, port=fi.TCP_ECHO_PORT)
    cr.deny_event(run, host="allowed.test", port=8080)
    cr.deny_event(run, ip=ALLOWED, port=fi.TCP_ECHO_PORT)


def test_raw_tcp_to_an_allowed_name_is_identified_by_the_resolver(cr):
    """No SNI, no Host: the destination is the name the managed resolver
    returned for the address; without that lookup it is an IP literal."""
    run = cr.run(dict(allow=[("allowed.test", [fi.TCP_ECHO_PORT])]),
                 probe("ip-before-lookup", "tcp", ALLOWED, fi.TCP_ECHO_PORT, "first"),
                 probe("resolve", "resolve", "allowed.test"),
                 probe("after-lookup", "tcp", ALLOWED, fi.TCP_ECHO_PORT, "second")).started()
    assert run.probe("resolve")["addrs"] == [ALLOWED]
    assert run.probe("after-lookup")["received"] == "echo:second", run.probe("after-lookup")
    expect_refused(run.probe("ip-before-lookup"))
    hits = cr.assert_arrived_via_gateway(ALLOWED, fi.TCP_ECHO_PORT)
    assert [h["data"] for h in hits] == ["second"], hits
    cr.deny_event(run, ip=ALLOWED, port=fi.TCP_ECHO_PORT)


def test_punycode_uppercase_and_trailing_dot_forms(cr):
    """The policy writes the Unicode form in upper case with a trailing dot;
    requests use punycode, upper case, a trailing dot or Unicode (curl
    converts it): all are one name."""
    books = fi.addr("xn--bcher-kva.test")
    run = cr.run(dict(allow=["Bücher.TEST.", ("ALLOWED.test.", [80])]),
                 curl("puny", "http://xn--bcher-kva.test/"),
                 curl("puny-upper-dot", "http://XN--BCHER-KVA.TEST./"),
                 "LC_ALL=C.UTF-8 " + curl("unicode", "http://bücher.test/"),
                 curl("tls-puny", "https://xn--bcher-kva.test/"),
                 curl("upper", "http://ALLOWED.TEST/"),
                 curl("dot", "http://allowed.test./"),
                 probe("dns-upper", "dns", fi.DNS_ADDR, "ALLOWED.Test.", "A"),
                 curl("puny-8080", "http://xn--bcher-kva.test:8080/")).started()
    for tag in ("puny", "puny-upper-dot", "unicode", "tls-puny"):
        expect_ok(run.probe(tag), books, "xn--bcher-kva.test")
    for tag in ("upper", "dot"):
        expect_ok(run.probe(tag), ALLOWED, "allowed.test")
    assert run.probe("dns-upper")["answers"] == [ALLOWED], run.probe("dns-upper")
    expect_http_denied(run.probe("puny-8080"))
    cr.assert_never_arrived(ip=books, port=8080)
    cr.deny_event(run, host="xn--bcher-kva.test", port=8080)
