# SPDX-License-Identifier: Apache-2.0
"""The gateway's managed resolver, end to end: `cleanroom __gateway` run
directly in a network namespace the test creates, with a fixture
authoritative DNS server (python3-dnslib) as its upstream, queried over UDP
and TCP from the sandbox's address exactly as a sandbox would after the
firewall's redirect. Asserts the answers, the audit lines on the audit pipe,
that denied names never reach the upstream (DNS tunnelling), the process's
life cycle (control-fd EOF, SIGTERM) and its privilege drop.

The namespace tests need root (network namespaces, setns) and are skipped
otherwise; the argument checks run as any user."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import textwrap
import threading
import time

import pytest

import gateway_harness as harness
from gateway_harness import in_netns

dnslib = pytest.importorskip("dnslib")
from dnslib import AAAA, QTYPE, RCODE, RR, A, DNSError, DNSRecord  # noqa: E402
from dnslib.server import BaseResolver, DNSServer  # noqa: E402

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(
    not ROOT or shutil.which("ip") is None, reason="needs root and iproute2: creates a network namespace"
)

NS = f"crgwdns{os.getpid()}"
IFACE = "crgwt0"
PEER = "crgwt1"
GW = "10.213.7.1"  # the gateway's (host-side) address
SANDBOX = "10.213.7.2"  # the only client the gateway serves
STRANGER = "10.213.7.9"  # another address on the same link
UPSTREAM = "10.254.0.53"  # the fixture's authoritative server ("internet")
DNS_PORT = 15053
PROXY_PORT = 15001  # the proxy's listener binds too; another engineer's tests exercise it
LIFECYCLE_PORT = 15153  # gateways started by one test, beside the module's

POLICY = """
    version: 1
    sandbox:
      network:
        default: deny
        allow:
          - host: allowed.test
            ports: [443]
          - host: "*.wild.test"
          - host: port80.test
            ports: [80]
          - host: metadata.google.internal
        deny:
          - host: blocked.wild.test
    """

# The fixture zone: name -> IPv4 addresses (AAAA for v6only).
ZONE = {
    "allowed.test": ["10.254.1.10", "10.254.1.11"],
    "x.wild.test": ["10.254.1.20"],
    "y.wild.test": ["10.254.1.22"],
    "tcp.wild.test": ["10.254.1.23"],
    "wild.test": ["10.254.1.21"],
    "blocked.wild.test": ["10.254.1.24"],
    "denied.test": ["10.254.1.30"],
    "port80.test": ["10.254.1.31"],
    "lo.wild.test": ["127.0.0.1", "10.254.1.40"],
    "pool.wild.test": ["10.213.0.6", "169.254.169.254"],
    "metadata.google.internal": ["169.254.169.254"],
}



def sh(*args):
    subprocess.run(args, check=True, capture_output=True, timeout=20)



# ---- the fixture "internet": an authoritative server for the test zone ----


class ZoneResolver(BaseResolver):
    def __init__(self):
        self.seen = []  # (name, type) of every query that reached it
        self.lock = threading.Lock()

    def resolve(self, request, handler):
        name = str(request.q.qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        with self.lock:
            self.seen.append((name, qtype))
        if name == "slow.wild.test":
            raise DNSError("no answer: the upstream timeout case")
        reply = request.reply()
        if name == "v6only.wild.test":
            if qtype == "AAAA":
                reply.add_answer(RR(request.q.qname, QTYPE.AAAA, rdata=AAAA("fd00::1"), ttl=300))
            return reply
        if name not in ZONE:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if qtype == "A":
            for ip in ZONE[name]:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ip), ttl=300))
        return reply

    def names_seen(self):
        with self.lock:
            return {n for n, _ in self.seen}

    def count(self, name):
        with self.lock:
            return sum(1 for n, _ in self.seen if n == name)

    def types_seen(self, name):
        with self.lock:
            return {t for n, t in self.seen if n == name}


class QuietLogger:
    def __getattr__(self, name):
        return lambda *a, **k: None


@pytest.fixture(scope="module")
def netns():
    sh("ip", "netns", "add", NS)
    try:
        ipn = ["ip", "-n", NS]
        sh(*ipn, "link", "set", "lo", "up")
        # a veth pair with both ends here: the gateway's side and the sandbox's
        sh(*ipn, "link", "add", IFACE, "type", "veth", "peer", "name", PEER)
        for dev in (IFACE, PEER):
            sh(*ipn, "link", "set", dev, "up")
        for addr in (GW + "/24", STRANGER + "/32", UPSTREAM + "/32"):
            sh(*ipn, "addr", "add", addr, "dev", IFACE)
        sh(*ipn, "addr", "add", SANDBOX + "/32", "dev", PEER)
        yield NS
    finally:
        subprocess.run(["ip", "netns", "del", NS], capture_output=True, timeout=20)


@pytest.fixture(scope="module")
def upstream(netns):
    resolver = ZoneResolver()
    with in_netns(netns):
        server = DNSServer(resolver, address=UPSTREAM, port=53, logger=QuietLogger())
    server.start_thread()
    yield resolver
    server.stop()
    server.server.server_close()


@pytest.fixture(scope="module")
def compiled_policy(cleanroom_bin, tmp_path_factory):
    repo = tmp_path_factory.mktemp("gwrepo")
    (repo / "cleanroom.yaml").write_text(textwrap.dedent(POLICY).lstrip("\n"), encoding="utf-8")
    proc = subprocess.run(
        [cleanroom_bin, "policy", "compile", "--json", "--config", str(repo / "cleanroom.yaml")],
        cwd=str(repo),
        capture_output=True,
        timeout=20,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert json.loads(proc.stdout)["policy_hash"]
    return proc.stdout


# ---- the gateway process ----


class Audit(harness.Audit):
    def wait_for(self, timeout=3.0, **fields):
        return self.wait_all(timeout, **fields)


class Gateway:
    def __init__(self, binary, policy, extra=(), dns_port=DNS_PORT, proxy_port=PROXY_PORT):
        self.dns_port = dns_port
        self.proc, self.ctl_w, self.audit = harness.spawn_gateway(
            binary, NS, policy, "sb-dns-test", GW, SANDBOX, dns_port, proxy_port, f"{UPSTREAM}:53", extra, Audit)
        self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gateway exited {self.proc.returncode}: {self.proc.stderr.read().decode()}")
            try:
                udp_query("denied.test", timeout=0.3, port=self.dns_port)
                return
            except (OSError, socket.timeout):
                time.sleep(0.05)
        raise AssertionError("the gateway never answered")

    def close_control(self):
        if self.ctl_w >= 0:
            os.close(self.ctl_w)
            self.ctl_w = -1

    def stop(self):
        self.close_control()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.audit.fd)


@pytest.fixture(scope="module")
def gateway(cleanroom_bin, netns, upstream, compiled_policy):
    gw = Gateway(cleanroom_bin, compiled_policy)
    yield gw
    gw.stop()


# ---- clients, in the sandbox's place ----


def _client(kind, src):
    with in_netns(NS):
        s = socket.socket(socket.AF_INET, kind)
    s.bind((src, 0))
    return s


def udp_query(name, qtype="A", src=SANDBOX, timeout=2.0, raw=None, port=DNS_PORT):
    """Sends one query (or raw bytes) from src; returns the parsed answer."""
    q = DNSRecord.question(name, qtype)
    s = _client(socket.SOCK_DGRAM, src)
    try:
        s.settimeout(timeout)
        s.sendto(raw if raw is not None else q.pack(), (GW, port))
        data, _ = s.recvfrom(65536)
    finally:
        s.close()
    r = DNSRecord.parse(data)
    if raw is None:
        assert r.header.id == q.header.id
    return r


def tcp_queries(*questions, src=SANDBOX, timeout=3.0):
    """Sends several (name, qtype) queries on one TCP connection, pipelined."""
    s = _client(socket.SOCK_STREAM, src)
    s.settimeout(timeout)
    try:
        s.connect((GW, DNS_PORT))
        qs = [DNSRecord.question(n, t) for n, t in questions]
        s.sendall(b"".join(struct.pack("!H", len(p)) + p for p in (q.pack() for q in qs)))
        answers = {}
        buf = b""
        while len(answers) < len(qs):
            chunk = s.recv(65536)
            assert chunk, "connection closed before every answer"
            buf += chunk
            while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
                n = struct.unpack("!H", buf[:2])[0]
                r = DNSRecord.parse(buf[2 : 2 + n])
                answers[r.header.id] = r
                buf = buf[2 + n :]
        return [answers[q.header.id] for q in qs]
    finally:
        s.close()


def a_records(r):
    return sorted(str(rr.rdata) for rr in r.rr if rr.rtype == QTYPE.A)


# ---- answers ----


@needs_root
def test_allowed_name_is_resolved_upstream(gateway):
    r = udp_query("allowed.test")
    assert r.header.rcode == RCODE.NOERROR
    assert r.header.ra == 1 and r.header.qr == 1
    assert a_records(r) == ["10.254.1.10", "10.254.1.11"]
    assert all(rr.ttl == 300 for rr in r.rr)
    ev = gateway.audit.wait_for(kind="dns_query", host="allowed.test", action="allow")[0]
    assert ev["protocol"] == "dns" and ev["qtype"] == "A"
    assert ev["rule"].startswith("network.allow_rules[")
    assert "reason_code" not in ev
    assert "10.254.1.10" in ev["detail"]


@needs_root
def test_wildcard_subdomain_and_case(gateway):
    r = udp_query("X.Wild.TEST.")
    assert a_records(r) == ["10.254.1.20"]
    assert str(r.q.qname) == "X.Wild.TEST."  # the question is echoed as asked


@needs_root
def test_tcp_pipelined(gateway):
    a, b, c = tcp_queries(("tcp.wild.test", "A"), ("denied.test", "A"), ("allowed.test", "AAAA"))
    assert a_records(a) == ["10.254.1.23"]
    assert b.header.rcode == RCODE.NXDOMAIN
    assert c.header.rcode == RCODE.NOERROR and not c.rr


@needs_root
def test_aaaa_and_other_types_are_answered_empty_without_upstream(gateway, upstream):
    for qtype in ("AAAA", "TXT", "MX", "ANY"):
        r = udp_query("y.wild.test", qtype)
        assert r.header.rcode == RCODE.NOERROR, qtype
        assert not r.rr, qtype
    assert upstream.types_seen("y.wild.test") == set()  # nothing to tunnel through
    gateway.audit.wait_for(kind="dns_query", host="y.wild.test", qtype="TXT", action="allow")


@needs_root
def test_denied_names_get_nxdomain_and_never_leave(gateway, upstream):
    tunnel = "nbswy3dpeb3w64tmmq.aGVsbG8.exfil-data.test"
    cases = {
        "denied.test": "default",  # no rule: the default decides
        "wild.test": "default",  # the apex of a wildcard
        "blocked.wild.test": "network.deny_rules[0]",
        "metadata.google.internal": "metadata_guard",  # allowed by the policy, never answered
        tunnel: "default",
    }
    for name, rule in cases.items():
        for qtype in ("A", "TXT"):
            r = udp_query(name, qtype)
            assert r.header.rcode == RCODE.NXDOMAIN, (name, qtype)
            assert not r.rr
        ev = gateway.audit.wait_for(kind="dns_query", host=name.lower(), action="deny", qtype="TXT")[0]
        assert ev["reason_code"] == "host_not_allowed"
        assert ev["protocol"] == "dns"
        assert ev["rule"] == rule
    assert upstream.names_seen().isdisjoint(n.lower() for n in cases)


@needs_root
def test_port_restricted_rule_still_resolves(gateway):
    r = udp_query("port80.test")
    assert a_records(r) == ["10.254.1.31"]


@needs_root
def test_addresses_never_handed_out(gateway):
    r = udp_query("lo.wild.test")
    assert a_records(r) == ["10.254.1.40"]
    ev = gateway.audit.wait_for(kind="dns_query", host="lo.wild.test")[0]
    assert "127.0.0.1" in ev["detail"]
    r = udp_query("pool.wild.test")
    assert r.header.rcode == RCODE.NOERROR and not r.rr
    ev = gateway.audit.wait_for(kind="dns_query", host="pool.wild.test")[0]
    assert "10.213.0.6" in ev["detail"] and "169.254.169.254" in ev["detail"]


@needs_root
def test_upstream_outcomes(gateway):
    assert udp_query("nx.wild.test").header.rcode == RCODE.NXDOMAIN
    r = udp_query("v6only.wild.test")
    assert r.header.rcode == RCODE.NOERROR and not r.rr
    start = time.monotonic()
    r = udp_query("slow.wild.test", timeout=10)
    assert r.header.rcode == RCODE.SERVFAIL
    assert time.monotonic() - start < 7
    gateway.audit.wait_for(kind="dns_query", host="slow.wild.test")


@needs_root
def test_allows_are_sampled_denies_never(gateway):
    for _ in range(3):
        udp_query("x.wild.test", "AAAA")
        udp_query("again.exfil-data.test", "A")
    time.sleep(0.2)
    assert len(gateway.audit.matching(host="x.wild.test", qtype="AAAA")) == 1
    assert len(gateway.audit.matching(host="again.exfil-data.test", action="deny")) == 3


@needs_root
def test_malformed_queries(gateway):
    with pytest.raises(socket.timeout):
        udp_query("", raw=b"\x01\x02\x03", timeout=0.5)  # shorter than a header: dropped
    q = DNSRecord.question("allowed.test")
    q.header.qr = 1  # a response: never answered
    with pytest.raises(socket.timeout):
        udp_query("", raw=q.pack(), timeout=0.5)
    r = udp_query("", raw=struct.pack("!6H", 0x4242, 0x0100, 0, 0, 0, 0))  # no question
    assert r.header.rcode == RCODE.FORMERR and r.header.id == 0x4242
    # a label with a byte no host name has
    raw = struct.pack("!6H", 0x4343, 0x0100, 1, 0, 0, 0) + b"\x05a!b c\x04wild\x04test\x00" + struct.pack("!2H", 1, 1)
    r = udp_query("", raw=raw)
    assert r.header.rcode == RCODE.NXDOMAIN
    gateway.audit.wait_for(kind="dns_query", action="deny", detail="not a host name")


@needs_root
def test_only_the_sandbox_address_is_served(gateway, upstream):
    before = upstream.count("allowed.test")
    with pytest.raises(socket.timeout):
        udp_query("allowed.test", src=STRANGER, timeout=0.7)
    # TCP: accepted by the kernel, then closed unanswered
    s = _client(socket.SOCK_STREAM, STRANGER)
    s.settimeout(2)
    try:
        s.connect((GW, DNS_PORT))
        p = DNSRecord.question("allowed.test").pack()
        try:
            s.sendall(struct.pack("!H", len(p)) + p)
            assert s.recv(512) == b""
        except ConnectionResetError:
            pass
    finally:
        s.close()
    assert upstream.count("allowed.test") == before  # neither was resolved


# ---- the process ----


def _wait_exit(proc, timeout):
    start = time.monotonic()
    rc = proc.wait(timeout=timeout)
    return rc, time.monotonic() - start


@needs_root
def test_control_fd_eof_ends_the_gateway(cleanroom_bin, netns, upstream, compiled_policy):
    gw = Gateway(cleanroom_bin, compiled_policy, dns_port=LIFECYCLE_PORT, proxy_port=LIFECYCLE_PORT + 1)
    try:
        gw.close_control()
        rc, took = _wait_exit(gw.proc, 5)
        assert rc == 0, gw.proc.stderr.read().decode()
        assert took < 2
    finally:
        gw.stop()


@needs_root
def test_sigterm_ends_the_gateway(cleanroom_bin, netns, upstream, compiled_policy):
    gw = Gateway(cleanroom_bin, compiled_policy, dns_port=LIFECYCLE_PORT, proxy_port=LIFECYCLE_PORT + 1)
    try:
        gw.proc.send_signal(signal.SIGTERM)
        rc, _ = _wait_exit(gw.proc, 5)
        assert rc == 0, gw.proc.stderr.read().decode()
    finally:
        gw.stop()


def _status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.split()
    return fields


@needs_root
def test_privileges_are_dropped(cleanroom_bin, netns, upstream, compiled_policy):
    gw = Gateway(cleanroom_bin, compiled_policy, extra=("--uid", "65534", "--gid", "65534"), dns_port=LIFECYCLE_PORT, proxy_port=LIFECYCLE_PORT + 1)
    try:
        st = _status(gw.proc.pid)
        assert st["Uid"] == ["65534"] * 4
        assert st["Gid"] == ["65534"] * 4
        assert st["Groups"] == []
        assert st["NoNewPrivs"] == ["1"]
        assert st["Seccomp"] == ["2"]  # a filter is installed
        assert st["CapEff"] == ["0000000000000000"]
        # and it still works: resolution happens after the drop
        assert a_records(udp_query("allowed.test", port=LIFECYCLE_PORT)) == ["10.254.1.10", "10.254.1.11"]
        gw.close_control()
        rc, _ = _wait_exit(gw.proc, 5)
        assert rc == 0, gw.proc.stderr.read().decode()
    finally:
        gw.stop()


# ---- arguments (no root needed) ----


def _run_gateway(cleanroom_bin, *args, stdin_policy=None):
    r, w = os.pipe()
    if stdin_policy is not None:
        os.write(w, stdin_policy)
    os.close(w)
    ctl_r, ctl_w = os.pipe()
    aud_r, aud_w = os.pipe()
    fds = {"P": str(r), "A": str(aud_w), "C": str(ctl_r)}
    argv = [a.format(**fds) for a in args]
    try:
        proc = subprocess.run(
            [cleanroom_bin, "__gateway", *argv], pass_fds=(r, aud_w, ctl_r), capture_output=True, timeout=20
        )
        os.close(aud_w)
        aud_w = -1
        proc.audit = Audit(aud_r).read()
    finally:
        for fd in (r, ctl_r, ctl_w, aud_r, aud_w):
            if fd >= 0:
                os.close(fd)
    return proc


BASE_ARGS = (
    "--sandbox-id", "sb1", "--gateway-addr", "127.0.0.1", "--sandbox-addr", "127.0.0.2",
    "--dns-port", "15053", "--proxy-port", "15001",
    "--policy-fd", "{P}", "--audit-fd", "{A}", "--control-fd", "{C}",
)  # fmt: skip


@pytest.mark.parametrize(
    "args, needle",
    [
        ((), "missing --sandbox-id"),
        (BASE_ARGS[:-2], "missing --control-fd"),
        (BASE_ARGS + ("--bogus",), "unknown option"),
        (tuple(a if a != "15053" else "70000" for a in BASE_ARGS), "--dns-port: '70000'"),
        (tuple(a if a != "127.0.0.2" else "not-an-ip" for a in BASE_ARGS), "--sandbox-addr"),
        (BASE_ARGS + ("--uid", "65534"), "--uid and --gid"),
        (BASE_ARGS + ("--upstream-dns", "x:y"), "--upstream-dns"),
        (BASE_ARGS[:-1] + ("99",), "--control-fd: descriptor 99"),
    ],
)
def test_bad_arguments(cleanroom_bin, args, needle):
    proc = _run_gateway(cleanroom_bin, *args)
    assert proc.returncode == 2
    first = proc.stderr.decode().splitlines()[0]
    assert first.startswith("cleanroom __gateway: ")
    assert needle in first


def test_invalid_policy_is_refused(cleanroom_bin):
    proc = _run_gateway(cleanroom_bin, *BASE_ARGS, stdin_policy=b'{"version": 1}')
    assert proc.returncode == 2
    assert "compiled policy" in proc.stderr.decode()
    # and the server hears it on the audit pipe
    assert [(e["kind"], e["reason_code"]) for e in proc.audit] == [("gateway_error", "policy_invalid")]
