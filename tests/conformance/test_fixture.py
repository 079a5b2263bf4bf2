# SPDX-License-Identifier: Apache-2.0
"""Self-tests of the fixture internet, from the host's namespace, without
cleanroom: the conformance cases are only meaningful if a destination the
product must deny WOULD answer when reached. Also: the fixture's teardown
after a failure half-way, and the removal of what a crashed run left."""
import json
import socket
import ssl
import subprocess
import time
import urllib.request

import pytest
from dnslib import DNSRecord

import fixture_internet as fi


def dns(name, qtype="A", tcp=False, port=53):
    reply = DNSRecord.parse(DNSRecord.question(name, qtype).send(fi.DNS_ADDR, port, tcp=tcp, timeout=3))
    return reply.header.rcode, sorted(str(r.rdata) for r in reply.rr)


def http(url, host=None, ca=None, timeout=5):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    ctx = ssl.create_default_context(cafile=str(ca)) if ca else None
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
        return r.status, r.read().decode()


def test_dns_answers_the_zone(internet):
    assert dns("allowed.test") == (0, ["10.254.1.10"])
    assert dns("ALLOWED.TEST.") == (0, ["10.254.1.10"])
    assert dns("multi.test") == (0, ["10.254.1.80", "10.254.1.81", "10.254.1.82"])
    assert dns("xn--bcher-kva.test") == (0, ["10.254.1.70"])
    assert dns("sub.wild.test") == (0, ["10.254.1.31"]) and dns("wild.test") == (0, ["10.254.1.30"])
    assert dns("a1b2c3.tunnel.deny.test") == (0, ["10.254.1.41"]), "the deny.test wildcard answers everything"
    assert dns("meta.test") == (0, [fi.METADATA_ADDR])
    assert dns("nothing.test")[0] == 3, "unknown names are NXDOMAIN"
    assert dns("outside.example")[0] == 5, "names outside the zone are REFUSED"
    assert dns("allowed.test", "AAAA") == (0, [])
    assert dns("allowed.test", "TXT")[1] == ['"fixture-txt allowed.test"']
    assert dns("allowed.test", tcp=True) == (0, ["10.254.1.10"])
    assert dns("other.test", port=fi.ALT_DNS_PORT) == (0, ["10.254.1.20"])


def test_dns_logs_every_query(internet):
    mark = internet.mark()
    dns("logged-query.deny.test", "TXT")
    ev = internet.events_since(mark, ev="dns")
    assert [(e["qname"], e["qtype"], e["peer"]) for e in ev] == [("logged-query.deny.test", "TXT", fi.HOST_ADDR)]


@pytest.mark.parametrize("name", sorted(n for n in fi.RECORDS if not n.startswith("*")))
def test_http_on_every_name(internet, name):
    ip = fi.addr(name)
    for port in fi.HTTP_PORTS:
        status, body = http(f"http://{ip}:{port}/p", host=name)
        assert status == 200 and body == (f"fixture-http local={ip} port={port} host={name} path=/p "
                                          f"peer={fi.HOST_ADDR} sni=-\n"), body


def test_https_with_the_test_ca(internet):
    mark = internet.mark()
    p = subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert", str(internet.ca_pem), "--resolve",
                        "api.allowed.test:443:10.254.1.11", "https://api.allowed.test/s"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and "local=10.254.1.11 port=443 host=api.allowed.test" in p.stdout, p
    assert "sni=api.allowed.test" in p.stdout, p
    tls = internet.events_since(mark, ev="tls")
    assert tls and tls[0]["sni"] == "api.allowed.test" and tls[0]["local"] == "10.254.1.11", tls
    # the certificate names every test name and the bare addresses
    p = subprocess.run(["curl", "-sS", "--max-time", "5", "--cacert", str(internet.ca_pem),
                        "https://10.254.1.90/"], capture_output=True, text=True)
    assert p.returncode == 0 and "local=10.254.1.90" in p.stdout, p
    # and is refused without the CA: the tests' trust really comes from ca.pem
    p = subprocess.run(["curl", "-sS", "--max-time", "5", "--resolve", "allowed.test:443:10.254.1.10",
                        "https://allowed.test/"], capture_output=True, text=True)
    assert p.returncode == 60, p


def test_raw_tcp_and_udp_services(internet):
    with socket.create_connection(("10.254.1.20", fi.TCP_ECHO_PORT), timeout=3) as s:
        s.sendall(b"ping")
        assert s.recv(100) == b"echo:ping"
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(3)
    before = internet.counters()
    u.sendto(b"dgram", ("10.254.1.20", fi.UDP_ECHO_PORT))
    assert u.recvfrom(100)[0] == b"echo:dgram"
    u.sendto(b"quic-initial", ("10.254.1.10", fi.QUIC_PORT))
    u.close()
    time.sleep(0.2)
    after = internet.counters()
    assert after["udp_echo"] == before["udp_echo"] + 1 and after["udp_quic"] == before["udp_quic"] + 1


def test_icmp_is_counted(internet):
    before = internet.counters()["icmp_echo"]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.sendto(bytes.fromhex("0800f7ff00000000"), ("10.254.1.20", 0))  # echo request, checksum precomputed
    s.close()
    time.sleep(0.2)
    assert internet.counters()["icmp_echo"] == before + 1


def test_sandbox_source_counter_sees_a_forged_sandbox_address(internet):
    """The leak detector of every case: a packet that arrives from a
    sandbox's own address (10.213.x.(4n+2)) is counted."""
    before = internet.counters()["sandbox_src"]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    src, dst = socket.inet_aton("10.213.64.2"), socket.inet_aton("10.254.1.20")
    udp = bytes.fromhex("1b591b590009") + b"\0\0" + b"x"
    ip = bytes.fromhex("4500") + (20 + len(udp)).to_bytes(2, "big") + bytes.fromhex("000040004011") + b"\0\0"
    s.sendto(ip + src + dst + udp, ("10.254.1.20", 0))
    s.close()
    time.sleep(0.2)
    assert internet.counters()["sandbox_src"] == before + 1


def test_metadata_address_answers_through_the_host_route(internet):
    status, body = http(f"http://{fi.METADATA_ADDR}/latest/meta-data/")
    assert status == 200 and f"local={fi.METADATA_ADDR}" in body, body
    route = subprocess.run(["ip", "route", "get", fi.METADATA_ADDR], capture_output=True, text=True).stdout
    assert internet.link in route, route


def test_ipv6_service(internet):
    if not internet.has_v6:
        pytest.skip("IPv6 is disabled on this host: the fixture has no IPv6 address")
    status, body = http(f"http://[{fi.V6_NS}]/v6")
    assert status == 200 and f"local={fi.V6_NS} " in body, body


def test_host_services_record_peers(internet):
    for listener, banner in ((internet.ssh, b"SSH-2.0-"), (internet.svc, b"HOST-SERVICE")):
        n = len(listener.peers)
        with socket.create_connection((fi.HOST_ADDR, listener.addr[1]), timeout=3) as s:
            assert s.recv(100).startswith(banner)
        deadline = time.time() + 2
        while len(listener.peers) == n and time.time() < deadline:
            time.sleep(0.02)
        assert len(listener.peers) == n + 1


def dead_pid():
    for pid in range(4_000_000, 3_000_000, -1):
        if not fi.pid_alive(pid):
            return pid
    pytest.skip("no free pid number found")


def names():
    ns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return ns, links


def test_stale_fixture_of_a_crashed_run_is_removed(internet):
    pid = dead_pid()
    ns, link = f"{fi.NS_PREFIX}{pid}", f"{fi.LINK_PREFIX}{pid}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(["ip", "link", "add", link, "type", "veth", "peer", "name", "inet0", "netns", ns], check=True)
    fi.STATE_DIR.mkdir(mode=0o700, exist_ok=True)
    forward = open("/proc/sys/net/ipv4/ip_forward").read().strip()
    (fi.STATE_DIR / f"{pid}.json").write_text(json.dumps({"ns": ns, "link": link, "ip_forward": forward}))
    fi.remove_stale()
    ns_list, links = names()
    assert ns not in ns_list.split() and f" {link}@" not in links and f" {link}:" not in links
    assert not (fi.STATE_DIR / f"{pid}.json").exists()
    # the live fixture (this process's) is untouched
    assert internet.ns in ns_list.split()
    assert http("http://10.254.1.10/", host="allowed.test")[0] == 200


def test_teardown_after_a_failure_half_way(internet):
    pid = dead_pid()
    broken = fi.Internet(enable_forwarding=False, name_id=pid, fail_at="link")
    with pytest.raises(RuntimeError, match="injected"):
        broken.start()
    ns_list, links = names()
    assert broken.ns not in ns_list.split() and broken.link not in links
    assert not broken.dir.exists() and not (fi.STATE_DIR / f"{pid}.json").exists()
    assert http("http://10.254.1.10/", host="allowed.test")[0] == 200
