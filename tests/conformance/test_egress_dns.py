# SPDX-License-Identifier: Apache-2.0
"""Managed DNS (§6.1 step 6, issue 6): every DNS query a sandbox sends, to
whatever resolver address, is answered by its gateway, which resolves only
names the policy allows (upstream, on the host) and answers NXDOMAIN with a
host_not_allowed event otherwise. So an "outside" resolver cannot be used to
bypass the policy, and DNS cannot carry data out (tunnelling): a denied name
never reaches the fixture's authoritative server."""
import secrets

from fixture_server import probe
import fixture_internet as fi

ALLOWED = fi.addr("allowed.test")
UNROUTED_RESOLVER = "203.0.113.53"  # TEST-NET-3: nothing answers there but the gateway


def test_dns_to_an_outside_resolver_is_answered_by_the_gateway(cr):
    before = cr.net.counters()
    run = cr.run(dict(allow=["allowed.test"]),
                 probe("udp-denied", "dns", fi.DNS_ADDR, "deny.test", "A"),
                 probe("tcp-denied", "dns", fi.DNS_ADDR, "deny.test", "A", "tcp"),
                 probe("elsewhere", "dns", UNROUTED_RESOLVER, "other.test", "A"),
                 probe("allowed", "dns", fi.DNS_ADDR, "allowed.test", "A"),
                 probe("alt-port", "dns", fi.DNS_ADDR, "other.test", "A", str(fi.ALT_DNS_PORT))).started()
    for tag in ("udp-denied", "tcp-denied", "elsewhere"):
        p = run.probe(tag)
        assert p["answered"] and p["id_ok"] and p["rcode"] == "NXDOMAIN" and p["answers"] == [], p
    p = run.probe("allowed")
    assert p["answered"] and p["rcode"] == "NOERROR" and p["answers"] == [ALLOWED], p
    p = run.probe("alt-port")
    assert not p["answered"], f"a DNS query to port {fi.ALT_DNS_PORT} was answered: {p}"
    cr.assert_dns_never_saw("deny.test", "other.test")
    seen = cr.arrived(ev="dns")
    assert any(e["qname"].lower() == "allowed.test" for e in seen), f"the allowed name was not resolved upstream: {seen}"
    assert all(not fi.is_sandbox_addr(e["peer"]) for e in seen), f"a sandbox queried the fixture directly: {seen}"
    assert cr.net.counters()["udp_altdns"] == before["udp_altdns"], "UDP to port 5353 left the sandbox"
    assert len(cr.events(run, kind="egress.dns_query", action="deny", host="deny.test", count=2)) >= 2
    cr.dns_deny_event(run, "deny.test", qtype="A")
    cr.dns_deny_event(run, "other.test")


def test_dns_tunnelling_via_long_random_subdomains(cr):
    """Data encoded in query names of a denied domain (and under an allowed
    name that only allows its apex) never reaches the domain's server, and
    every attempt is audited: denies are never sampled."""
    names = [f"{secrets.token_hex(24)}.{secrets.token_hex(8)}.deny.test" for _ in range(12)]
    names += [f"{secrets.token_hex(30)}.allowed.test" for _ in range(4)]
    lines = []
    for i, name in enumerate(names):
        if i % 4 == 3:
            lines.append(probe(f"t{i}", "resolve", name))
        else:
            lines.append(probe(f"t{i}", "dns", fi.DNS_ADDR, name, "TXT" if i % 2 else "A",
                               *(["tcp"] if i % 4 == 2 else [])))
    run = cr.run(dict(allow=["allowed.test"]), *lines).started()
    for i, name in enumerate(names):
        p = run.probe(f"t{i}")
        if p["kind"] == "resolve":
            assert p["addrs"] == [], p
        else:
            assert p["answered"] and p["rcode"] == "NXDOMAIN" and p["answers"] == [], (name, p)
    cr.assert_dns_never_saw(*names)
    for name in names:
        cr.dns_deny_event(run, name)


def test_dns_answers_address_queries_only(cr):
    """Only A queries of allowed names are resolved upstream (contract: "A
    queries only ... AAAA answered empty"); a TXT query, a data channel,
    is not forwarded even for an allowed name."""
    run = cr.run(dict(allow=["allowed.test"]),
                 probe("aaaa", "dns", fi.DNS_ADDR, "allowed.test", "AAAA"),
                 probe("txt", "dns", fi.DNS_ADDR, "allowed.test", "TXT"),
                 probe("a", "dns", fi.DNS_ADDR, "allowed.test", "A")).started()
    assert run.probe("a")["answers"] == [ALLOWED], run.probe("a")
    aaaa = run.probe("aaaa")
    assert aaaa["answered"] and aaaa["rcode"] == "NOERROR" and aaaa["answers"] == [], aaaa
    txt = run.probe("txt")
    assert txt["answered"] and not any(isinstance(a, dict) and a.get("type") == 16 for a in txt["answers"]), txt
    forwarded = [e for e in cr.arrived(ev="dns") if e["qtype"] == "TXT"]
    assert not forwarded, f"a TXT query reached the fixture: {forwarded}"
