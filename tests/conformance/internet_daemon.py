# SPDX-License-Identifier: Apache-2.0
"""The servers of the conformance "internet", run by fixture_internet.py
inside the fixture's network namespace (`ip netns exec NS python3 THIS
CONFIG.json`). Standard library plus python3-dnslib.

Everything that arrives is logged, one JSON object per line, to the log file
named in the configuration, so that the tests can assert both that allowed
traffic arrived (and from where) and that denied traffic never did:

  {"ev":"dns", "qname":"allowed.test", "qtype":"A", "proto":"udp", "peer":"10.254.0.1", "port":53}
  {"ev":"http", "port":80, "local":"10.254.1.10", "peer":"10.254.0.1", "host":"allowed.test",
   "path":"/", "tls":false, "sni":null}
  {"ev":"tls", "port":443, "local":..., "peer":..., "sni":"allowed.test"}        (every handshake)
  {"ev":"tcp", "port":7000, "local":..., "peer":..., "data":"..."}               (echo service)
  {"ev":"udp", "port":7001, "local":..., "peer":..., "data":"..."}               (UDP echo/sinks)

Services (bound to the wildcard address unless said otherwise, so they answer
on every address of the namespace, the metadata address included):
  DNS     authoritative for the zone in the configuration; UDP+TCP on
          DNS_ADDR:53, UDP on DNS_ADDR:5353 (a non-standard port)
  HTTP    80 and 8080; HTTPS 443 (the test CA's certificate, SNI logged);
          body: "fixture-http local=IP port=P host=HOST path=PATH peer=IP sni=NAME"
  TCP     7000 echo (prefixed "echo:")
  UDP     7001 echo, 443 sink (QUIC), 5353 is the DNS above
  IPv6    HTTP on [V6_ADDR]:80 when the configuration names one

The process prints "ready" on stdout once every socket is bound, and exits on
SIGTERM or when its stdin reaches end of file (its parent died).
"""
import json
import signal
import socket
import socketserver
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler

from dnslib import QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

LOG_LOCK = threading.Lock()
LOG = None


def log(**event):
    line = json.dumps(event, sort_keys=True) + "\n"
    with LOG_LOCK:
        LOG.write(line)
        LOG.flush()


# ---- DNS ---------------------------------------------------------------------

class ZoneResolver(BaseResolver):
    """Authoritative for `zone_suffix` (e.g. "test"). Exact names first,
    then "*.parent" wildcards; a name with A records gets empty AAAA answers
    and a TXT record (so that a forwarded TXT query would be answered: the
    tests check that it never arrives); other names under the zone are
    NXDOMAIN; names outside it are REFUSED."""

    def __init__(self, records, suffix, ttl):
        self.records = {k.lower(): v for k, v in records.items()}
        self.suffix = suffix.lower().strip(".")
        self.ttl = ttl

    def lookup(self, name):
        if name in self.records:
            return self.records[name]
        labels = name.split(".")
        for i in range(1, len(labels)):
            wildcard = "*." + ".".join(labels[i:])
            if wildcard in self.records:
                return self.records[wildcard]
        return None

    def resolve(self, request, handler):
        qname = str(request.q.qname).rstrip(".")
        qtype = QTYPE.get(request.q.qtype, str(request.q.qtype))
        proto = handler.protocol
        peer = handler.client_address[0]
        log(ev="dns", qname=qname, qtype=qtype, proto=proto, peer=peer, port=handler.server.server_address[1])
        reply = request.reply()
        name = qname.lower()
        if not (name == self.suffix or name.endswith("." + self.suffix)):
            reply.header.rcode = RCODE.REFUSED
            reply.header.aa = 0
            return reply
        addrs = self.lookup(name)
        if addrs is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        if qtype in ("A", "ANY"):
            for a in addrs:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(a), ttl=self.ttl))
        elif qtype == "TXT":
            reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT("fixture-txt " + name), ttl=self.ttl))
        # AAAA and everything else: NOERROR with no answer (the name exists)
        return reply


class QuietLogger(DNSLogger):
    def __init__(self):
        super().__init__(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)


# ---- HTTP and HTTPS ----------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    server_version = "cleanroom-fixture/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the JSON log is the record
        pass

    def answer(self, with_body):
        local = self.connection.getsockname()[0]
        port = self.server.server_address[1]
        sni = getattr(self.connection, "fixture_sni", None)
        host = self.headers.get("Host", "")
        log(ev="http", port=port, local=local, peer=self.client_address[0], host=host, path=self.path,
            method=self.command, tls=isinstance(self.connection, ssl.SSLSocket), sni=sni)
        body = (f"fixture-http local={local} port={port} host={host or '-'} path={self.path} "
                f"peer={self.client_address[0]} sni={sni or '-'}\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Fixture", "1")
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):
        self.answer(True)

    def do_HEAD(self):
        self.answer(False)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(min(n, 1 << 20))
        self.answer(True)


class HTTPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    tls_context = None

    def finish_request(self, request, client_address):
        # TLS is set up here, in the connection's own thread, so that a
        # client that never finishes its handshake blocks nobody else.
        if self.tls_context is not None:
            request.settimeout(10)
            local = request.getsockname()
            try:
                request = self.tls_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log(ev="tls", port=local[1], local=local[0], peer=client_address[0], sni=None, error=str(e))
                return
            request.fixture_sni = getattr(request, "sni_seen", None)
            log(ev="tls", port=local[1], local=local[0], peer=client_address[0], sni=request.fixture_sni)
            request.settimeout(None)
        super().finish_request(request, client_address)


def remember_sni(sslsock, name, ctx):
    """The TLS server name the client sent, kept on its own socket."""
    sslsock.sni_seen = name


class HTTP6Server(HTTPServer):
    address_family = socket.AF_INET6


# ---- raw TCP and UDP ---------------------------------------------------------

class EchoHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(10)
        local = self.request.getsockname()
        try:
            data = self.request.recv(4096)
        except OSError:
            data = b""
        log(ev="tcp", port=local[1], local=local[0], peer=self.client_address[0],
            data=data.decode("utf-8", "replace"))
        if data:
            try:
                self.request.sendall(b"echo:" + data)
            except OSError:
                pass


class TCPServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True


def udp_loop(sock, echo):
    port = sock.getsockname()[1]
    while True:
        try:
            data, peer = sock.recvfrom(65535)
        except OSError:
            return
        log(ev="udp", port=port, local=sock.getsockname()[0], peer=peer[0],
            data=data[:200].decode("utf-8", "replace"))
        if echo:
            try:
                sock.sendto(b"echo:" + data, peer)
            except OSError:
                pass


def udp_socket(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # IP_PKTINFO is not needed: the log's "local" is the wildcard, the port says which service
    s.bind(("0.0.0.0", port))
    return s


# ---- main ----------------------------------------------------------------------

def serve_forever(server):
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()


def main():
    global LOG
    cfg = json.load(open(sys.argv[1]))
    LOG = open(cfg["log"], "a", buffering=1)

    resolver = ZoneResolver(cfg["records"], cfg["zone"], cfg.get("ttl", 30))
    dns = [DNSServer(resolver, address=cfg["dns_addr"], port=53, logger=QuietLogger()),
           DNSServer(resolver, address=cfg["dns_addr"], port=53, tcp=True, logger=QuietLogger()),
           DNSServer(resolver, address=cfg["dns_addr"], port=5353, logger=QuietLogger())]
    for d in dns:
        d.start_thread()

    servers = []
    for port in cfg["http_ports"]:
        servers.append(HTTPServer(("0.0.0.0", port), Handler))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cfg["cert"], cfg["key"])
    tls.sni_callback = remember_sni
    for port in cfg["https_ports"]:
        s = HTTPServer(("0.0.0.0", port), Handler)
        s.tls_context = tls
        servers.append(s)
    servers.append(TCPServer(("0.0.0.0", cfg["tcp_echo_port"]), EchoHandler))
    if cfg.get("v6_addr"):
        servers.append(HTTP6Server((cfg["v6_addr"], 80), Handler))
    for s in servers:
        serve_forever(s)

    for port, echo in ((cfg["udp_echo_port"], True), (cfg["quic_port"], False)):
        threading.Thread(target=udp_loop, args=(udp_socket(port), echo), daemon=True).start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    stop.wait()


if __name__ == "__main__":
    main()
