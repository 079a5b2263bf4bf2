# SPDX-License-Identifier: Apache-2.0
"""Everything that is not DNS or TCP is dropped (issue 6): UDP (QUIC too,
even to an allowed name on an allowed port), ICMP, IPv6. The fixture's
counters prove that nothing arrived; a positive control in the same sandbox
proves the sandbox does have a way out, so "nothing arrived" is not the
result of a sandbox without any network."""
from fixture_server import GW, GW_LINE, curl, expect_ok, probe
import fixture_internet as fi

ALLOWED = fi.addr("allowed.test")
OTHER = fi.addr("other.test")


def test_udp_and_quic_are_dropped(cr):
    before = cr.net.counters()
    run = cr.run(dict(allow=[("allowed.test", [443, fi.UDP_ECHO_PORT])]),
                 probe("udp-allowed-name", "udp", ALLOWED, fi.UDP_ECHO_PORT, "udp-data"),
                 probe("udp-other", "udp", OTHER, fi.UDP_ECHO_PORT, "udp-data"),
                 probe("quic", "udp", ALLOWED, fi.QUIC_PORT, "quic-initial"),
                 curl("control", "https://allowed.test/")).started()
    expect_ok(run.probe("control"), ALLOWED, "allowed.test")
    for tag in ("udp-allowed-name", "udp-other", "quic"):
        assert run.probe(tag)["reply"] is None, run.probe(tag)
    after = cr.net.counters()
    assert after["udp_echo"] == before["udp_echo"] and after["udp_quic"] == before["udp_quic"], (before, after)
    assert not cr.arrived(ev="udp"), cr.arrived(ev="udp")


def test_icmp_is_dropped(cr):
    before = cr.net.counters()
    run = cr.run(dict(allow=["allowed.test"]),
                 GW_LINE,
                 probe("fixture", "icmp", OTHER),
                 probe("allowed-name", "icmp", ALLOWED),
                 probe("gateway", "icmp", GW),
                 probe("host-side", "icmp", fi.HOST_ADDR),
                 curl("control", "http://allowed.test/")).started()
    expect_ok(run.probe("control"), ALLOWED, "allowed.test")
    for tag in ("fixture", "allowed-name", "gateway", "host-side"):
        assert run.probe(tag)["replies"] == 0, run.probe(tag)
    assert cr.net.counters()["icmp_echo"] == before["icmp_echo"], "an ICMP echo request reached the fixture"


def test_ipv6_is_disabled(cr):
    """No IPv6 address or route but loopback inside; an IPv6 literal cannot
    be reached; AAAA answers are empty."""
    before = cr.net.counters()
    run = cr.run(dict(allow=["allowed.test"]),
                 probe("net", "netinfo"),
                 probe("v6", "tcp6", fi.V6_NS, 80, "GET / HTTP/1.0\\r\\n\\r\\n"),
                 probe("aaaa", "dns", fi.DNS_ADDR, "allowed.test", "AAAA"),
                 curl("v6-curl", f"http://[{fi.V6_NS}]/", cacert=False),
                 curl("control", "http://allowed.test/")).started()
    expect_ok(run.probe("control"), ALLOWED, "allowed.test")
    net = run.probe("net")
    # not even link-local: fe80::%eth0 would reach the host's own IPv6 services
    assert [a for a in net["ipv6"] if a["dev"] != "lo"] == [], f"IPv6 addresses inside the sandbox: {net['ipv6']}"
    assert net["ipv6_routes"] == [], f"IPv6 routes inside the sandbox: {net['ipv6_routes']}"
    v6 = run.probe("v6")
    assert not v6["connected"] and "fixture-http" not in v6["received"], v6
    assert run.probe("v6-curl")["rc"] != 0 and run.probe("v6-curl")["status"] is None, run.probe("v6-curl")
    assert run.probe("aaaa")["answers"] == [], run.probe("aaaa")
    assert cr.net.counters()["ipv6_in"] == before["ipv6_in"], "IPv6 from the sandbox reached the fixture"
