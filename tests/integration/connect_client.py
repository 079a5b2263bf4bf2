# SPDX-License-Identifier: Apache-2.0
"""A small Connect client for the tests (JSON codec, HTTP/1.1 over a unix
socket), written from the protocol description rather than with our own C
code, so the server is checked against the protocol and not against itself.
Unary: POST application/json. Server streaming: POST application/connect+json
with one enveloped request; the response is read envelope by envelope."""
import http.client
import json
import time
import socket
import struct


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(str(self.unix_path))
        self.sock = s


class ConnectError(Exception):
    def __init__(self, status, body):
        self.status = status
        self.body = body
        try:
            self.err = json.loads(body)
        except ValueError:
            self.err = {"code": "unknown", "message": body.decode(errors="replace")}
        self.code = self.err.get("code")
        details = self.err.get("details") or [{}]
        self.reason = details[0].get("debug", {}).get("reasonCode")
        super().__init__(f"{status} {self.err}")


def call(sock, service, method, msg=None, timeout=60):
    """Unary call; returns the decoded response or raises ConnectError."""
    c = UnixConnection(sock, timeout)
    c.request("POST", f"/cleanroom.v1.{service}/{method}", body=json.dumps(msg or {}),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    body = r.read()
    c.close()
    if r.status != 200:
        raise ConnectError(r.status, body)
    return json.loads(body)


def wait_ready(get, sid, timeout=30):
    """Polls GetSandbox through get(method, body) until the sandbox leaves
    PROVISIONING (CreateSandbox answers before provisioning ends); returns
    the sandbox, which must be READY."""
    deadline = time.time() + timeout
    while True:
        sb = get("GetSandbox", {"sandboxId": sid})["sandbox"]
        if sb["status"] != "SANDBOX_STATUS_PROVISIONING" or time.time() > deadline:
            assert sb["status"] == "SANDBOX_STATUS_READY", sb
            return sb
        time.sleep(0.01)


def envelope(payload, flags=0):
    return struct.pack(">BI", flags, len(payload)) + payload


class Stream:
    """A server-streaming call: iterate for messages; .end holds the
    end-of-stream message afterwards."""

    def __init__(self, sock, service, method, msg=None, timeout=60, raw_body=None, headers=None):
        self.conn = UnixConnection(sock, timeout)
        body = raw_body if raw_body is not None else envelope(json.dumps(msg or {}).encode())
        self.conn.request("POST", f"/cleanroom.v1.{service}/{method}", body=body,
                          headers={"Content-Type": "application/connect+json", **(headers or {})})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.content_type = self.resp.getheader("Content-Type")
        self.end = None

    def _read(self, n):
        data = b""
        while len(data) < n:
            chunk = self.resp.read(n - len(data))
            if not chunk:
                raise EOFError(f"stream ended after {len(data)} of {n} bytes")
            data += chunk
        return data

    def __iter__(self):
        while True:
            flags, length = struct.unpack(">BI", self._read(5))
            payload = json.loads(self._read(length)) if length else {}
            if flags & 0x02:
                self.end = payload
                assert self.resp.read() == b"", "bytes after the end-of-stream message"
                self.conn.close()
                return
            yield payload

    def all(self):
        return list(self)

    def close(self):
        self.conn.close()


class Attach:
    """AttachExecution over the HTTP/1.1 Upgrade documented in
    docs/internals/attach.md, with the JSON codec."""

    def __init__(self, sock, upgrade=True, timeout=30):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(str(sock))
        head = ("POST /cleanroom.v1.ExecutionService/AttachExecution HTTP/1.1\r\nHost: localhost\r\n"
                "Content-Type: application/connect+json\r\nContent-Length: 0\r\n")
        if upgrade:
            head += "Connection: Upgrade\r\nUpgrade: cleanroom-attach.v1\r\n"
        self.s.sendall((head + "\r\n").encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        self.head = head.decode()
        self.status = int(self.head.split()[1])
        self.end = None

    def send(self, frame):
        self.s.sendall(envelope(json.dumps(frame).encode()))

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def frames(self):
        while True:
            flags, length = struct.unpack(">BI", self._read(5))
            payload = json.loads(self._read(length)) if length else {}
            if flags & 0x02:
                self.end = payload
                return
            yield payload

    def close(self):
        self.s.close()
