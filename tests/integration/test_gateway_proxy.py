# SPDX-License-Identifier: Apache-2.0
"""The gateway's transparent and explicit proxies, end to end: `cleanroom
__gateway` in a network namespace that plays the host side, a "sandbox"
namespace whose every TCP connection the host side's nftables rules redirect
to the gateway (as the server's firewall does), and an "internet" namespace
with fixture servers: HTTP (python http.server), HTTPS (a test CA and
certificate made with the openssl CLI), a raw TCP echo, a server that speaks
first, and an authoritative DNS server (dnslib) that the gateway uses
upstream. Clients are curl and small socket programs run in the sandbox
namespace; names are resolved through the gateway's managed DNS, as inside
a sandbox.

    sandbox ns  eth0 10.213.7.2 ──veth── crpx0 10.213.7.1  host ns (gateway,
                                          up0 10.254.255.1    nft redirect)
                                              │ veth
    internet ns up1 10.254.255.2, servers on 10.254.0.10-12, 10.254.1.10, DNS 10.254.0.53

Each case asserts the client's outcome and the gateway's audit line. Needs
root (network namespaces, nftables); skipped otherwise."""
import errno
import os
import shutil
import socket
import ssl
import subprocess
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import BaseRequestHandler, ThreadingTCPServer

import pytest

import gateway_harness as harness
from gateway_harness import in_netns

dnslib = pytest.importorskip("dnslib")
from dnslib import QTYPE, RCODE, RR, A  # noqa: E402
from dnslib.server import BaseResolver, DNSServer  # noqa: E402

TOOLS = ("ip", "nft", "curl", "openssl")
needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or any(shutil.which(t) is None for t in TOOLS),
    reason="needs root, iproute2, nftables, curl and openssl: creates network namespaces and firewall rules",
)
pytestmark = needs_root

SUFFIX = str(os.getpid())
NS_SB, NS_HOST, NS_NET = f"crpxsb{SUFFIX}", f"crpxho{SUFFIX}", f"crpxin{SUFFIX}"
GW, SANDBOX = "10.213.7.1", "10.213.7.2"
UPLINK_HOST, UPLINK_NET = "10.254.255.1", "10.254.255.2"
WWW, API, ECHO, LITERAL, DNS = "10.254.0.10", "10.254.0.11", "10.254.0.12", "10.254.1.10", "10.254.0.53"
DNS_PORT, PROXY_PORT = 15053, 15001

POLICY = """
    version: 1
    sandbox:
      network:
        default: deny
        allow:
          - host: www.test
            ports: [80]
          - host: api.test
            ports: [443]
          - host: 10.254.0.0/28
            ports: [7, 25]
    """

ZONE = {"www.test": WWW, "api.test": API, "denied.test": WWW}



def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, timeout=30)




# ---- topology ----

NFT_RULES = f"""
table ip crpx {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname "crpx0" udp dport 53 redirect to :{DNS_PORT}
    iifname "crpx0" tcp dport 53 redirect to :{DNS_PORT}
    iifname "crpx0" meta l4proto tcp redirect to :{PROXY_PORT}
  }}
}}
"""


def build_topology():
    for ns in (NS_SB, NS_HOST, NS_NET):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
    # sandbox <-> host side
    sh("ip", "-n", NS_HOST, "link", "add", "crpx0", "type", "veth", "peer", "name", "eth0", "netns", NS_SB)
    sh("ip", "-n", NS_HOST, "addr", "add", f"{GW}/30", "dev", "crpx0")
    sh("ip", "-n", NS_SB, "addr", "add", f"{SANDBOX}/30", "dev", "eth0")
    sh("ip", "-n", NS_HOST, "link", "set", "crpx0", "up")
    sh("ip", "-n", NS_SB, "link", "set", "eth0", "up")
    sh("ip", "-n", NS_SB, "route", "add", "default", "via", GW)
    # host side <-> internet
    sh("ip", "-n", NS_HOST, "link", "add", "up0", "type", "veth", "peer", "name", "up1", "netns", NS_NET)
    sh("ip", "-n", NS_HOST, "addr", "add", f"{UPLINK_HOST}/30", "dev", "up0")
    sh("ip", "-n", NS_NET, "addr", "add", f"{UPLINK_NET}/30", "dev", "up1")
    sh("ip", "-n", NS_HOST, "link", "set", "up0", "up")
    sh("ip", "-n", NS_NET, "link", "set", "up1", "up")
    sh("ip", "-n", NS_HOST, "route", "add", "10.254.0.0/16", "via", UPLINK_NET)
    for addr in (WWW, API, ECHO, LITERAL, DNS):
        sh("ip", "-n", NS_NET, "addr", "add", f"{addr}/32", "dev", "lo")
    # the server's firewall, reduced to its redirects
    subprocess.run(["ip", "netns", "exec", NS_HOST, "nft", "-f", "-"], input=NFT_RULES.encode(), check=True,
                   capture_output=True, timeout=30)
    # what a sandbox's /etc/resolv.conf says (ip netns exec mounts it)
    os.makedirs(f"/etc/netns/{NS_SB}", exist_ok=True)
    with open(f"/etc/netns/{NS_SB}/resolv.conf", "w") as f:
        f.write(f"nameserver {GW}\n")


def remove_topology():
    for ns in (NS_SB, NS_HOST, NS_NET):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
    shutil.rmtree(f"/etc/netns/{NS_SB}", ignore_errors=True)


# ---- the fixture internet ----


def make_pki(d):
    def ossl(*args):
        sh("openssl", *args)

    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem", "-days", "2", "-subj", "/CN=cleanroom proxy test CA")
    ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", f"{d}/srv.key", "-out", f"{d}/srv.csr", "-subj", "/CN=api.test")
    with open(f"{d}/ext.cnf", "w") as f:
        f.write("subjectAltName=DNS:api.test\n")
    ossl("x509", "-req", "-in", f"{d}/srv.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
         "-CAcreateserial", "-out", f"{d}/srv.pem", "-days", "2", "-extfile", f"{d}/ext.cnf")
    return f"{d}/ca.pem"


class Echoing(BaseHTTPRequestHandler):
    """Answers with the request line and headers it received."""

    def do_GET(self):
        if self.path.startswith("/big/"):
            self.big(int(self.path[5:]))
            return
        body = (f"{self.server.label}\n{self.requestline}\n{self.headers}").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def big(self, n):
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.end_headers()
        block = bytes(range(256)) * 256
        for off in range(0, n, len(block)):
            self.wfile.write(block[: min(len(block), n - off)])

    def log_message(self, *args):
        pass


class EchoTCP(BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(65536)
            if not data:
                break  # the client's half-close reached us
            self.request.sendall(data)


class Banner(BaseRequestHandler):
    def handle(self):
        self.request.sendall(b"220 banner.test ready\r\n")
        data = self.request.recv(1024)
        self.request.sendall(b"got " + data)


class Zone(BaseResolver):
    def resolve(self, request, handler):
        name = str(request.q.qname).rstrip(".").lower()
        reply = request.reply()
        if name not in ZONE:
            reply.header.rcode = RCODE.NXDOMAIN
        elif QTYPE[request.q.qtype] == "A":
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(ZONE[name]), ttl=300))
        return reply


class Quiet:
    def __getattr__(self, name):
        return lambda *a, **k: None


class Internet:
    def __init__(self, pki_dir):
        self.servers = []
        ThreadingTCPServer.allow_reuse_address = True
        ThreadingHTTPServer.allow_reuse_address = True
        with in_netns(NS_NET):
            self.http("0.0.0.0", 80, "www")
            self.http("0.0.0.0", 8080, "www-8080")
            tls = self.http("0.0.0.0", 443, "api-tls")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(f"{pki_dir}/srv.pem", f"{pki_dir}/srv.key")
            tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
            self.tcp(ECHO, 7, EchoTCP)
            self.tcp(ECHO, 25, Banner)
            self.dns = DNSServer(Zone(), address=DNS, port=53, logger=Quiet())
        self.dns.start_thread()

    def http(self, addr, port, label):
        s = ThreadingHTTPServer((addr, port), Echoing)
        s.daemon_threads = True
        s.label = label
        self.start(s)
        return s

    def tcp(self, addr, port, handler):
        s = ThreadingTCPServer((addr, port), handler)
        s.daemon_threads = True
        self.start(s)

    def start(self, s):
        self.servers.append(s)
        threading.Thread(target=s.serve_forever, daemon=True).start()

    def stop(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()
        self.dns.stop()


# ---- the gateway ----


class Audit(harness.Audit):
    def wait_for(self, timeout=5.0, **fields):
        return self.wait_all(timeout, **fields)[-1]


class Gateway:
    def __init__(self, binary, policy):
        self.proc, self.ctl_w, self.audit = harness.spawn_gateway(
            binary, NS_HOST, policy, "sb-proxy-test", GW, SANDBOX, DNS_PORT, PROXY_PORT, f"{DNS}:53", audit_class=Audit)
        self.wait_ready()

    def wait_ready(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode()
                if "unknown command" in err or "usage" in err.lower() and "__gateway" not in err:
                    pytest.skip(f"this build has no runnable `cleanroom __gateway`: {err.strip()}")
                raise AssertionError(f"gateway exited {self.proc.returncode}: {err}")
            ss = sh("ip", "netns", "exec", NS_HOST, "ss", "-Htln", f"sport = :{PROXY_PORT}", check=False)
            if ss.stdout.strip():
                return
            time.sleep(0.05)
        raise AssertionError("the gateway's proxy never listened")

    def stop(self):
        """Closes the control pipe (the gateway's signal to exit); returns
        (exit status, stderr). Idempotent."""
        if self.ctl_w >= 0:
            os.close(self.ctl_w)
            self.ctl_w = -1
            try:
                self.rc = self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.rc = None
            self.stderr = self.proc.stderr.read().decode(errors="replace")
            self.audit.read()
            os.close(self.audit.fd)
        return self.rc, self.stderr


@pytest.fixture(scope="module")
def world(cleanroom_bin, tmp_path_factory):
    d = tmp_path_factory.mktemp("gwproxy")
    (d / "cleanroom.yaml").write_text(textwrap.dedent(POLICY).lstrip("\n"), encoding="utf-8")
    compiled = subprocess.run(
        [cleanroom_bin, "policy", "compile", "--json", "--config", str(d / "cleanroom.yaml")],
        cwd=str(d), capture_output=True, timeout=20,
    )  # fmt: skip
    assert compiled.returncode == 0, compiled.stderr.decode()
    ca = make_pki(d)
    remove_topology()  # leftovers of an interrupted run with the same pid
    net = gw = None
    try:
        build_topology()
        net = Internet(d)
        gw = Gateway(cleanroom_bin, compiled.stdout)
        yield {"gw": gw, "ca": ca, "dir": d}
    finally:
        if gw:
            gw.stop()
        if net:
            net.stop()
        remove_topology()


# ---- clients, in the sandbox ----


def curl(*args, timeout=15):
    """curl in the sandbox namespace: (exit code, status, headers, body)."""
    p = subprocess.run(
        ["ip", "netns", "exec", NS_SB, "curl", "-sS", "--max-time", "10", "-D", "/dev/stderr", *args],
        capture_output=True, timeout=timeout,
    )  # fmt: skip
    head = p.stderr.decode(errors="replace")
    status = None
    for line in head.splitlines():
        if line.startswith("HTTP/1."):
            status = int(line.split()[1])
    return p.returncode, status, head, p.stdout.decode(errors="replace")


def sandbox_socket():
    with in_netns(NS_SB):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    return s


def exchange(addr, port, data, half_close=False, read_first=False):
    """Connects from the sandbox, optionally reads a greeting first, sends
    data, reads until EOF. Returns (greeting, reply) or raises OSError."""
    s = sandbox_socket()
    try:
        s.connect((addr, port))
        greeting = s.recv(1024) if read_first else b""
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        reply = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            reply += chunk
            if not half_close and not read_first and b"\r\n\r\n" in reply and b"Content-Length" not in reply:
                break
        return greeting, reply
    finally:
        s.close()


def last_http_status(head):
    codes = [int(line.split()[1]) for line in head.splitlines() if line.startswith("HTTP/1.")]
    return codes[-1] if codes else None


# ---- the cases ----


def test_allowed_name_by_http_host(world):
    rc, status, head, body = curl("http://www.test/hello")
    assert (rc, status) == (0, 200), head
    assert body.startswith("www\nGET /hello HTTP/1.1\n")
    ev = world["gw"].audit.wait_for(kind="egress_decision", host="www.test", port=80, action="allow")
    assert ev["protocol"] == "http" and ev["ip"] == WWW and ev["rule"] == "network.allow_rules[2]"
    assert "reason_code" not in ev or ev["reason_code"] == ""


def test_allowed_name_by_tls_sni(world):
    rc, status, head, body = curl("--cacert", world["ca"], "https://api.test/")
    assert (rc, status) == (0, 200), head
    assert body.startswith("api-tls\n")
    ev = world["gw"].audit.wait_for(kind="egress_decision", host="api.test", port=443, action="allow")
    assert ev["protocol"] == "tls" and ev["ip"] == API and ev["rule"] == "network.allow_rules[1]"


def test_large_download_through_splice(world, tmp_path):
    n = 64 << 20
    out = tmp_path / "big"
    rc, status, head, _ = curl("--cacert", world["ca"], "-o", str(out), f"https://api.test/big/{n}", timeout=60)
    assert (rc, status) == (0, 200), head
    block = bytes(range(256)) * 256
    data = out.read_bytes()
    assert len(data) == n and data == block * (n // len(block))


def test_large_upload_both_ways_at_once(world):
    payload = os.urandom(8 << 20)
    s = sandbox_socket()
    s.settimeout(30)
    s.connect((ECHO, 7))

    def send():
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)

    sender = threading.Thread(target=send)
    sender.start()
    got = bytearray()
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got += chunk
    sender.join()
    s.close()
    assert len(got) == len(payload) and bytes(got) == payload


def test_denied_port_gets_403_with_reason(world):
    rc, status, head, body = curl("http://www.test:8080/")
    assert status == 403, head
    assert "x-cleanroom-reason: host_not_allowed" in head.lower()
    assert "www.test:8080" in body and "cleanroom.yaml" in body
    ev = world["gw"].audit.wait_for(kind="egress_decision", host="www.test", port=8080)
    assert ev["action"] == "deny" and ev["reason_code"] == "host_not_allowed" and ev["protocol"] == "http"
    assert ev["rule"] == "default" and ev["ip"] == WWW


def test_unresolvable_name_gets_403(world):
    # the managed DNS refuses denied.test; a client that knows an address anyway
    rc, status, head, body = curl("--resolve", f"denied.test:80:{WWW}", "http://denied.test/")
    assert status == 403 and "x-cleanroom-reason: host_not_allowed" in head.lower(), head
    ev = world["gw"].audit.wait_for(kind="egress_decision", host="denied.test", port=80)
    # the policy denies the name anyway: its default is the reason given, not the resolver check
    assert ev["action"] == "deny" and ev["rule"] == "default", ev


def test_denied_tls_is_reset(world):
    # www.test resolves, but 443 is not among its ports
    rc, status, head, body = curl("--cacert", world["ca"], "https://www.test/")
    assert rc in (35, 56) and status is None, (rc, head)
    ev = world["gw"].audit.wait_for(kind="egress_decision", host="www.test", port=443)
    assert ev["action"] == "deny" and ev["protocol"] == "tls" and ev["reason_code"] == "host_not_allowed"


def test_forged_sni_is_refused(world):
    curl("--cacert", world["ca"], "https://api.test/")  # the resolver now knows api.test -> API
    # the same allowed name aimed at another address that serves it just as well
    rc, status, head, body = curl("--cacert", world["ca"], "--resolve", f"api.test:443:{ECHO}", "https://api.test/")
    assert rc in (35, 56) and status is None, (rc, head, body)
    ev = world["gw"].audit.wait_for(kind="egress_decision", host="api.test", ip=ECHO)
    assert ev["action"] == "deny" and ev["rule"] == "resolver_check" and ev["protocol"] == "tls"
    assert "forged" in ev["detail"]


def test_ip_literal_without_ip_rule_denied(world):
    rc, status, head, body = curl(f"http://{LITERAL}/")
    assert status == 403 and "x-cleanroom-reason: host_not_allowed" in head.lower(), head
    ev = world["gw"].audit.wait_for(kind="egress_decision", host=LITERAL, port=80)
    assert ev["action"] == "deny" and ev["rule"] == "ip_no_rule"


def test_cidr_rule_allows_raw_tcp_with_half_close(world):
    _, reply = exchange(ECHO, 7, b"ping over raw tcp\n", half_close=True)
    assert reply == b"ping over raw tcp\n"
    ev = world["gw"].audit.wait_for(kind="egress_decision", host=ECHO, port=7)
    assert ev["action"] == "allow" and ev["protocol"] == "tcp" and ev["rule"] == "network.allow_rules[0]"


def test_server_speaks_first(world):
    t0 = time.monotonic()
    greeting, reply = exchange(ECHO, 25, b"HELO sandbox\r\n", read_first=True)
    assert greeting == b"220 banner.test ready\r\n"
    assert reply == b"got HELO sandbox\r\n"
    assert time.monotonic() - t0 < 5
    ev = world["gw"].audit.wait_for(kind="egress_decision", host=ECHO, port=25)
    assert ev["action"] == "allow" and ev["protocol"] == "tcp"


def test_tcp_to_unlisted_port_is_reset(world):
    # the reset may arrive before the client's shutdown(), which then fails
    # with ENOTCONN: the connection is gone either way
    with pytest.raises(OSError) as e:
        exchange(ECHO, 22, b"SSH-2.0-client\r\n", half_close=True)
    assert isinstance(e.value, ConnectionResetError) or e.value.errno == errno.ENOTCONN, e.value
    ev = world["gw"].audit.wait_for(kind="egress_decision", host=ECHO, port=22)
    assert ev["action"] == "deny" and ev["rule"] == "ip_no_rule" and ev["protocol"] == "tcp"


def test_explicit_proxy_connect_allowed(world):
    rc, status, head, body = curl("--cacert", world["ca"], "-x", f"http://{GW}:3128", "https://api.test/")
    assert rc == 0 and last_http_status(head) == 200, head
    assert "200 Connection established" in head
    assert body.startswith("api-tls\n")
    world["gw"].audit.wait_for(kind="egress_decision", protocol="connect", host="api.test", action="allow")


def test_explicit_proxy_connect_denied(world):
    _, reply = exchange(GW, 3128, b"CONNECT denied.test:443 HTTP/1.1\r\nHost: denied.test:443\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 403 ")
    assert b"X-Cleanroom-Reason: host_not_allowed\r\n" in reply
    ev = world["gw"].audit.wait_for(kind="egress_decision", protocol="connect", host="denied.test")
    assert ev["action"] == "deny" and ev["port"] == 443 and ev["rule"] == "default"


def test_explicit_proxy_connect_ip_literal(world):
    _, reply = exchange(GW, 3128, f"CONNECT {LITERAL}:443 HTTP/1.1\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.1 403 ")
    ev = world["gw"].audit.wait_for(kind="egress_decision", protocol="connect", host=LITERAL)
    assert ev["action"] == "deny" and ev["rule"] == "ip_no_rule"
    # the CIDR rule opens an address it names, on its ports
    s = sandbox_socket()
    try:
        s.connect((GW, 3128))
        s.sendall(f"CONNECT {ECHO}:25 HTTP/1.1\r\n\r\n".encode())
        got = b""
        while b"ready\r\n" not in got:
            chunk = s.recv(1024)
            assert chunk, got
            got += chunk
    finally:
        s.close()
    assert got == b"HTTP/1.1 200 Connection established\r\n\r\n220 banner.test ready\r\n"
    ev = world["gw"].audit.wait_for(kind="egress_decision", protocol="connect", host=ECHO, port=25)
    assert ev["action"] == "allow" and ev["rule"] == "network.allow_rules[0]"


def test_explicit_proxy_absolute_form(world):
    rc, status, head, body = curl("-x", f"http://{GW}:3128", "http://www.test/path?q=1")
    assert (rc, status) == (0, 200), head
    lines = body.splitlines()
    assert lines[1] == "GET /path?q=1 HTTP/1.1"  # origin-form upstream
    assert "Connection: close" in lines and not any(h.lower().startswith("proxy-connection") for h in lines)
    world["gw"].audit.wait_for(kind="egress_decision", protocol="http", host="www.test", port=80)
    rc, status, head, body = curl("-x", f"http://{GW}:3128", "http://denied.test/")
    assert status == 403 and "x-cleanroom-reason: host_not_allowed" in head.lower(), head


def test_gateway_port_80_without_fronts(world):
    # this gateway runs without --front-port, so port 80 reaches the proxy
    rc, status, head, body = curl(f"http://{GW}/")
    assert status == 503 and "x-cleanroom-reason: registry_not_allowed" in head.lower(), head
    assert "this gateway runs without registry fronts" in body
    ev = world["gw"].audit.wait_for(kind="egress_decision", reason_code="registry_not_allowed")
    assert ev["action"] == "deny" and ev["port"] == 80


def test_other_gateway_ports_denied(world):
    # the gateway's own listener port, reached directly: decided as an IP
    rc, status, head, body = curl(f"http://{GW}:{PROXY_PORT}/")
    assert status == 403, head
    ev = world["gw"].audit.wait_for(kind="egress_decision", host=GW, port=PROXY_PORT)
    assert ev["action"] == "deny"


def test_upstream_refusal_is_502(world):
    # allowed by the CIDR rule, but nothing listens on www's address at port 7
    rc, status, head, body = curl(f"http://{WWW}:7/")
    assert status == 502 and "x-cleanroom-reason" not in head.lower(), head
    ev = world["gw"].audit.wait_for(kind="gateway_error", ip=WWW, port=7)
    assert f"connect to {WWW}:7" in ev["detail"] and ev["protocol"] == "http"


def test_audit_lines_are_complete(world):
    # last: ends the gateway (control pipe EOF), which must exit cleanly
    # (a sanitizer build reports leaks and memory errors here)
    rc, stderr = world["gw"].stop()
    assert rc == 0, stderr
    events = world["gw"].audit.events
    decisions = [e for e in events if e["kind"] == "egress_decision"]
    assert decisions
    for e in decisions:
        assert e["action"] in ("allow", "deny") and e["protocol"] in ("tls", "http", "tcp", "connect")
        assert e["host"] and e["port"] and e["rule"]
        if e["action"] == "deny":
            assert e["reason_code"] in ("host_not_allowed", "registry_not_allowed"), e
