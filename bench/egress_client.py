# SPDX-License-Identifier: Apache-2.0
"""Time to first byte of N small HTTP requests, one client process, a new TCP
connection per request (bench/egress.sh runs it inside a sandbox and in a
plain network namespace).

  egress_client.py HOST ADDR PORT PATH N [WARMUP]

ADDR "-" resolves HOST once with the system resolver (inside a sandbox: the
gateway's, which must have answered the name for the transparent proxy to
accept the connections). Each request: connect to ADDR:PORT, send
"GET PATH HTTP/1.1" with Host: HOST and Connection: close, read the answer to
end of file. TTFB is the time from before connect() to the first byte of the
answer; process start-up and name resolution are outside it. Every answer
must be a 200 with the fixture's body length, or the run fails.
Prints one JSON object: n, p50/p90/p99/min/max/mean in milliseconds."""
import json
import socket
import statistics
import sys
import time


def one(addr, port, request):
    t0 = time.perf_counter()
    s = socket.create_connection((addr, port), timeout=10)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(request)
        first = s.recv(65536)
        t1 = time.perf_counter()
        chunks = [first]
        while chunks[-1]:
            chunks.append(s.recv(65536))
    finally:
        s.close()
    return t1 - t0, b"".join(chunks)


def check(answer):
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1.") or lines[0].split()[1] != b"200":
        raise SystemExit(f"unexpected answer: {lines[0]!r}")
    for h in lines[1:]:
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length" and int(v) != len(body):
            raise SystemExit(f"short body: {len(body)} of {int(v)} bytes")


def percentile(sorted_values, q):
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


def main():
    host, addr, port, path, n = sys.argv[1:6]
    warmup = int(sys.argv[6]) if len(sys.argv) > 6 else 20
    port, n = int(port), int(n)
    if addr == "-":
        addr = socket.getaddrinfo(host, port, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: cleanroom-bench\r\n"
               "Connection: close\r\n\r\n").encode()
    for _ in range(warmup):
        check(one(addr, port, request)[1])
    times = []
    for _ in range(n):
        t, answer = one(addr, port, request)
        check(answer)
        times.append(t * 1000)
    s = sorted(times)
    print(json.dumps({"n": n, "addr": addr, "p50": statistics.median(s), "p90": percentile(s, 0.90),
                      "p99": percentile(s, 0.99), "min": s[0], "max": s[-1], "mean": statistics.fmean(s)}))


if __name__ == "__main__":
    main()
