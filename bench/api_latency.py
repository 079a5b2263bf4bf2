# SPDX-License-Identifier: Apache-2.0
"""Unary round-trip latency of the Connect API: N GetServerStatus calls over
one keep-alive HTTP/1.1 connection on the unix socket, JSON and binary codecs.
Prints {"json": {"p50": ms, "p99": ms}, "proto": {...}}."""
import http.client
import json
import socket
import sys
import time


class Unix(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost")
        self.path_ = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path_)


def measure(path, n, ctype, body):
    c = Unix(path)
    times = []
    for i in range(n + 50):
        t = time.perf_counter()
        c.request("POST", "/cleanroom.v1.AdminService/GetServerStatus", body=body,
                  headers={"Content-Type": ctype})
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
        if i >= 50:  # warm-up
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return {"p50": times[len(times) // 2], "p99": times[int(len(times) * 0.99)]}


path, n = sys.argv[1], int(sys.argv[2])
print(json.dumps({"json": measure(path, n, "application/json", b"{}"),
                  "proto": measure(path, n, "application/proto", b"")}))
