# SPDX-License-Identifier: Apache-2.0
"""Latency of npm registry requests, one client process (bench/registry.sh
runs it inside a cleanroom sandbox against the gateway's npm front, and in a
plain network namespace against Verdaccio).

  registry_client.py BASE ITEMS.json KIND N [--close] [--warm-only] [--seed S]

BASE    http://HOST[:PORT][/prefix], e.g. http://10.213.128.1/npm; a name is
        resolved once before anything is measured
ITEMS   the fixture's items.json (bench/registry_fixture.py generate)
KIND    tarball | packument (abbreviated, Accept: application/vnd.npm.
        install-v1+json as npm sends it) | packument-full (Accept:
        application/json) | ping (GET -/ping: answered by the server without
        any lookup; the floor of client, network and HTTP server)
N       measured requests, cycling through the items in a shuffled order
--close a new TCP connection for every request (default: one keep-alive
        connection, as npm keeps its sockets; reconnects when the server
        closes, counted)
--warm-only  one request per item, nothing measured (fills the caches)
--quickack   set TCP_QUICKACK after every read (the client acknowledges at
        once instead of delaying its ACKs): a diagnosis switch, to tell
        the server's Nagle waits from its own time; npm does not do this

The latency of a request is from before sending it (before connect() with
--close) to its last body byte: process start-up, name resolution and the
checks are outside it. No Accept-Encoding is sent (identity bodies on both
sides). Every answer is checked after its timing: status 200, full body, a
tarball's sha512 equal to the lockfile's integrity, a packument's JSON
naming the package and its locked version. A failed check stops the run.
Prints one JSON object: kind, n, p50/p90/p99/min/max/mean in milliseconds,
bytes per request, reconnects, and how many requests took over 5, 20 and
35 ms (a cluster near 40 ms is a Nagle / delayed-ACK stall).
"""
import base64
import hashlib
import json
import random
import socket
import statistics
import sys
import time
import urllib.parse

ACCEPT = {"tarball": "*/*",
          "packument": "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*",
          "packument-full": "application/json", "ping": "application/json"}


class Conn:
    def __init__(self, addr, port, host_header, quickack=False):
        self.addr, self.port, self.host, self.quickack = addr, port, host_header, quickack
        self.sock = None
        self.buf = b""
        self.reconnects = -1

    def connect(self):
        self.close()
        self.sock = socket.create_connection((self.addr, self.port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.reconnects += 1

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def fill(self):
        chunk = self.sock.recv(262144)
        if self.quickack:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        if not chunk:
            raise EOFError("connection closed mid-answer")
        self.buf += chunk

    def read_until(self, sep):
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out, self.buf = self.buf[:i], self.buf[i + len(sep):]
                return out
            self.fill()

    def read_exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def request(self, path, accept, close):
        """(status, headers, body); sends on the open connection, opening one first when needed."""
        if self.sock is None:
            self.connect()
        conn = "close" if close else "keep-alive"
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAccept: {accept}\r\n"
                           f"User-Agent: cleanroom-bench (npm-like)\r\nConnection: {conn}\r\n\r\n").encode())
        head = self.read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if "content-length" in headers:
            body = self.read_exact(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size = int(self.read_until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    while self.read_until(b"\r\n"):
                        pass
                    break
                parts.append(self.read_exact(size))
                self.read_until(b"\r\n")
            body = b"".join(parts)
        elif status in (204, 304):
            body = b""
        else:  # delimited by the end of the connection
            try:
                while True:
                    self.fill()
            except EOFError:
                pass
            body, self.buf = self.buf, b""
            headers["connection"] = "close"
        if close or headers.get("connection", "").lower() == "close" or head[0].startswith("HTTP/1.0"):
            self.close()
        return status, headers, body


def check(kind, item, status, body):
    what = f"{kind} {item['name']}@{item['version']}"
    if status != 200:
        raise SystemExit(f"{what}: HTTP {status}: {body[:200]!r}")
    if kind == "ping":
        return
    if kind == "tarball":
        got = "sha512-" + base64.b64encode(hashlib.sha512(body).digest()).decode()
        if got != item["integrity"]:
            raise SystemExit(f"{what}: integrity mismatch ({len(body)} bytes)")
    else:
        doc = json.loads(body)
        if doc.get("name") != item["name"] or item["version"] not in doc.get("versions", {}):
            raise SystemExit(f"{what}: the packument does not name the package and its locked version")


def percentile(values, q):
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    flags = [a for a in sys.argv[1:] if a.startswith("--")]
    base, items_path, kind, n = args[0], args[1], args[2], int(args[3])
    close, warm_only = "--close" in flags, "--warm-only" in flags
    seed = next((int(f.split("=", 1)[1]) for f in flags if f.startswith("--seed=")), 1)
    if kind not in ACCEPT:
        raise SystemExit(f"unknown kind {kind}")
    u = urllib.parse.urlsplit(base)
    prefix = u.path.rstrip("/")
    port = u.port or 80
    # resolved once, outside every timing (inside a sandbox: by the gateway's
    # resolver, which the transparent proxy's check needs)
    addr = socket.getaddrinfo(u.hostname, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    items = json.load(open(items_path))
    conn = Conn(addr, port, u.netloc, quickack="--quickack" in flags)
    accept = ACCEPT[kind]

    def path_of(item):
        if kind == "ping":
            return prefix + "/-/ping"
        return prefix + (item["tarball"] if kind == "tarball" else item["packument"])

    if warm_only:
        for item in items:
            status, _, body = conn.request(path_of(item), accept, close)
            check(kind, item, status, body)
        conn.close()
        print(json.dumps({"kind": kind, "warmed": len(items)}))
        return

    order = []
    rng = random.Random(seed)
    while len(order) < n:
        batch = list(items)
        rng.shuffle(batch)
        order += batch
    order = order[:n]
    times, size = [], 0
    for item in order:
        path = path_of(item)
        t0 = time.perf_counter()
        status, _, body = conn.request(path, accept, close)
        t1 = time.perf_counter()
        check(kind, item, status, body)
        times.append((t1 - t0) * 1000)
        size += len(body)
    conn.close()
    s = sorted(times)
    print(json.dumps({"kind": kind, "mode": "close" if close else "keep-alive", "n": len(s),
                      "p50": percentile(s, 0.50), "p90": percentile(s, 0.90), "p99": percentile(s, 0.99),
                      "min": s[0], "max": s[-1], "mean": statistics.fmean(s), "bytes_per_request": size / len(s),
                      "reconnects": max(0, conn.reconnects) if not close else None,
                      "over_ms": {str(t): sum(1 for x in s if x > t) for t in (5, 20, 35)}}))


if __name__ == "__main__":
    main()
