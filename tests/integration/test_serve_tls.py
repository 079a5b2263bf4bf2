# SPDX-License-Identifier: Apache-2.0
"""`cleanroom serve --listen`: the optional TCP listener, served only over TLS
and only to requests with a configured bearer token. A throw-away CA and a
server certificate for 127.0.0.1, ::1 and localhost are made with the openssl
CLI; curl is the client, as a user would run it."""
import base64
import hashlib
import http.client
import json
import os
import socket
import ssl
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from connect_client import wait_ready

TOKEN = "tok-" + "a1b2c3d4e5f6" * 4  # 52 characters
TOKEN2 = "rotated+token/" + "Z9" * 16 + "=="  # the b64token set, with padding
STATUS = "/cleanroom.v1.AdminService/GetServerStatus"


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """ca.pem, and server.pem/server.key signed by it for 127.0.0.1, ::1, localhost."""
    d = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=cleanroom test CA",
            cwd=d)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\n"
                               "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    tokens = d / "tokens"
    tokens.write_text(f"# bearer tokens of the test server\n\n  {TOKEN}  \n# the next one, for rotation\n{TOKEN2}\n")
    os.chmod(tokens, 0o600)
    return d


class Server:
    def __init__(self, proc, base, sock, url):
        self.proc, self.base, self.sock, self.url = proc, base, sock, url


def start(cleanroom_bin, pki, listen_host="127.0.0.1", family=socket.AF_INET):
    base = Path(tempfile.mkdtemp(prefix="cr-tls-", dir="/var/tmp"))
    os.chmod(base, 0o711)  # sandboxes of the namespace backend live beneath the state directory
    sock = base / "run" / "cleanroom.sock"
    port = free_port(family, listen_host)
    listen = f"[{listen_host}]:{port}" if family == socket.AF_INET6 else f"{listen_host}:{port}"
    proc = subprocess.Popen([cleanroom_bin, "serve", "--no-egress", "--socket", str(sock), "--state-dir", str(base / "state"),
                             "--listen", listen, "--tls-cert", str(pki / "server.pem"),
                             "--tls-key", str(pki / "server.key"), "--token-file", str(pki / "tokens")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline and proc.poll() is None:
        try:
            socket.create_connection((listen_host, port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    if proc.poll() is not None:
        pytest.fail(f"serve exited with {proc.returncode}: {proc.stderr.read()}")
    return Server(proc, base, sock, f"https://{listen}")


def stop(srv):
    srv.proc.terminate()
    srv.proc.wait(timeout=10)
    subprocess.run(["rm", "-rf", str(srv.base)])


@pytest.fixture(scope="module")
def server(cleanroom_bin, pki):
    srv = start(cleanroom_bin, pki)
    yield srv
    stop(srv)


def curl(url, pki, token=None, extra=(), path=STATUS, body="{}"):
    """(curl exit code, HTTP status, headers lower-cased, body)."""
    with tempfile.NamedTemporaryFile("r") as hdr:
        cmd = ["curl", "-sS", "--max-time", "10", "--cacert", str(pki / "ca.pem"), "-D", hdr.name,
               "-o", "-", "-w", "\n%{http_code}", "-H", "Content-Type: application/json", *extra]
        if token is not None:
            cmd += ["-H", f"Authorization: Bearer {token}"]
        cmd += ["--data-binary", body, url + path]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        out, _, status = p.stdout.rpartition("\n")
        headers = {}
        for line in Path(hdr.name).read_text().splitlines()[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
    return p.returncode, int(status or 0), headers, out, p.stderr


def assert_unauthenticated(status, headers, body):
    assert status == 401, body
    assert json.loads(body)["code"] == "unauthenticated", body
    assert headers.get("www-authenticate", "").startswith("Bearer"), headers


def test_bearer_token_gets_status(server, pki):
    rc, status, headers, body, err = curl(server.url, pki, TOKEN)
    assert rc == 0 and status == 200, (rc, status, body, err)
    assert headers["content-type"].startswith("application/json")
    st = json.loads(body)["status"]
    assert st["version"] and st["backends"][0]["name"] == "netns"


def test_localhost_name_and_second_token(server, pki):
    url = server.url.replace("127.0.0.1", "localhost")
    rc, status, _, body, err = curl(url, pki, TOKEN2)
    assert rc == 0 and status == 200, (rc, status, body, err)


def test_missing_token_is_401(server, pki):
    rc, status, headers, body, _ = curl(server.url, pki)
    assert rc == 0
    assert_unauthenticated(status, headers, body)
    assert "Bearer" in json.loads(body)["message"]


@pytest.mark.parametrize("token", ["x" * 40, TOKEN[:-1], TOKEN + "a", TOKEN.upper(), "", TOKEN2[:-2]])
def test_wrong_token_is_401(server, pki, token):
    rc, status, headers, body, _ = curl(server.url, pki, token)
    assert rc == 0
    assert_unauthenticated(status, headers, body)


def test_other_schemes_are_401(server, pki):
    rc, status, headers, body, _ = curl(server.url, pki, extra=["-H", f"Authorization: Basic {TOKEN}"])
    assert_unauthenticated(status, headers, body)
    # a GET (side-effect-free Connect call) is checked the same way
    get = "/cleanroom.v1.AdminService/GetCapabilities?connect=v1&encoding=json&message=%7B%7D"
    rc, status, headers, body, _ = curl(server.url, pki, extra=["-G"], path=get, body="")
    assert_unauthenticated(status, headers, body)
    rc, status, _, body, _ = curl(server.url, pki, TOKEN, extra=["-G"], path=get, body="")
    assert status == 200 and json.loads(body)["backendName"] == "netns", body


def test_plain_http_never_reaches_the_api(server, pki):
    rc, status, _, body, _ = curl(server.url.replace("https://", "http://"), pki, TOKEN)
    assert rc != 0 and status == 0 and body == ""
    # byte for byte: a plaintext request gets no HTTP answer, only a TLS alert or nothing
    host, port = server.url[len("https://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"POST {STATUS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                  "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".encode())
        reply = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert b"HTTP/" not in reply and b"netns" not in reply, reply
    # and the server is still up
    rc, status, _, _, err = curl(server.url, pki, TOKEN)
    assert rc == 0 and status == 200, err


def test_tls_1_1_is_refused_and_1_2_accepted(server, pki):
    rc, _, _, _, err = curl(server.url, pki, TOKEN, extra=["--tlsv1.1", "--tls-max", "1.1"])
    assert rc != 0, err
    rc, status, _, _, err = curl(server.url, pki, TOKEN, extra=["--tlsv1.2", "--tls-max", "1.2"])
    assert rc == 0 and status == 200, err


def test_unix_socket_is_still_served(server):
    p = subprocess.run(["curl", "-sS", "--unix-socket", str(server.sock), "-H", "Content-Type: application/json",
                        "-d", "{}", "-w", "\n%{http_code}", f"http://localhost{STATUS}"],
                       capture_output=True, text=True, timeout=30)
    assert p.stdout.rsplit("\n", 1)[1] == "200", p


def test_cli_over_https_with_a_private_ca(server, pki, cleanroom_bin):
    """The CLI trusts the CA named by $CLEANROOM_CACERT (and, without it,
    the system store, which does not know the test CA)."""
    env = dict(os.environ, CLEANROOM_HOST=server.url, CLEANROOM_TOKEN=TOKEN, CLEANROOM_CACERT=str(pki / "ca.pem"))
    r = subprocess.run([cleanroom_bin, "status", "--json"], env=env, capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["status"]["version"], r.stdout
    del env["CLEANROOM_CACERT"]
    r = subprocess.run([cleanroom_bin, "status"], env=env, capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "certificate" in r.stderr.lower(), r.stderr


def test_oversized_headers_are_refused(server, pki):
    rc, status, _, body, _ = curl(server.url, pki, TOKEN, extra=["-H", "X-Big: " + "a" * (20 << 10)])
    assert status != 200, body
    rc, status, _, _, err = curl(server.url, pki, TOKEN)
    assert status == 200, err


@pytest.mark.skipif(not have_ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_ipv6_listener(cleanroom_bin, pki):
    srv = start(cleanroom_bin, pki, "::1", socket.AF_INET6)
    try:
        rc, status, _, body, err = curl(srv.url, pki, TOKEN)
        assert rc == 0 and status == 200, (body, err)
        rc, status, headers, body, _ = curl(srv.url, pki)
        assert_unauthenticated(status, headers, body)
    finally:
        stop(srv)
    assert "listening on https://[::1]:" in srv.proc.stderr.read()


def serve_fails(cleanroom_bin, tmp_path, *args):
    base = Path(tempfile.mkdtemp(prefix="cr-tls-", dir="/tmp"))
    try:
        p = subprocess.run([cleanroom_bin, "serve", "--no-egress", "--socket", str(base / "s.sock"), "--state-dir",
                            str(base / "state"), *[str(a) for a in args]], capture_output=True, text=True,
                           timeout=30)
        assert not (base / "s.sock").exists(), "a refused start leaves no socket behind"
        return p
    finally:
        subprocess.run(["rm", "-rf", str(base)])


@pytest.mark.parametrize("drop", ["--tls-cert", "--tls-key", "--token-file", "all"])
def test_listen_needs_tls_and_token(cleanroom_bin, pki, tmp_path, drop):
    opts = {"--tls-cert": pki / "server.pem", "--tls-key": pki / "server.key", "--token-file": pki / "tokens"}
    args = ["--listen", f"127.0.0.1:{free_port()}"]
    for k, v in opts.items():
        if drop not in (k, "all"):
            args += [k, v]
    p = serve_fails(cleanroom_bin, tmp_path, *args)
    assert p.returncode == 2, p
    assert "--listen needs --tls-cert, --tls-key and --token-file" in p.stderr and "TLS" in p.stderr, p.stderr


def test_tls_options_without_listen(cleanroom_bin, pki, tmp_path):
    p = serve_fails(cleanroom_bin, tmp_path, "--tls-cert", pki / "server.pem")
    assert p.returncode == 2 and "only go with --listen" in p.stderr, p


def listen_args(pki, tokens=None, cert=None, key=None, listen=None):
    return ["--listen", listen or f"127.0.0.1:{free_port()}", "--tls-cert", cert or pki / "server.pem",
            "--tls-key", key or pki / "server.key", "--token-file", tokens or pki / "tokens"]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_token_file_open_to_others_is_refused(cleanroom_bin, pki, tmp_path, mode):
    tokens = tmp_path / "tokens"
    tokens.write_text(TOKEN + "\n")
    os.chmod(tokens, mode)
    p = serve_fails(cleanroom_bin, tmp_path, *listen_args(pki, tokens=tokens))
    assert p.returncode != 0, p
    assert f"has mode {mode:04o}" in p.stderr and "chmod 600" in p.stderr, p.stderr
    assert TOKEN not in p.stderr


@pytest.mark.parametrize("text,needle", [
    ("short-token\n", "line 1: a token has 32 to 4096 characters, this one 11"),
    ("# only a comment\n\n", "holds no token"),
    (f"{TOKEN}\n{'has space ' * 5}\n", "line 2: a token may hold only"),
])
def test_bad_token_file_is_refused(cleanroom_bin, pki, tmp_path, text, needle):
    tokens = tmp_path / "tokens"
    tokens.write_text(text)
    os.chmod(tokens, 0o600)
    p = serve_fails(cleanroom_bin, tmp_path, *listen_args(pki, tokens=tokens))
    assert p.returncode != 0 and needle in p.stderr, p.stderr


def test_certificate_errors_name_the_file(cleanroom_bin, pki, tmp_path):
    missing = tmp_path / "missing.pem"
    p = serve_fails(cleanroom_bin, tmp_path, *listen_args(pki, cert=missing))
    assert p.returncode != 0 and f"'{missing}'" in p.stderr and "No such file" in p.stderr, p.stderr
    p = serve_fails(cleanroom_bin, tmp_path, *listen_args(pki, key=pki / "ca.key"))
    assert p.returncode != 0 and "does not belong to the certificate" in p.stderr, p.stderr
    p = serve_fails(cleanroom_bin, tmp_path, *listen_args(pki, cert=pki / "tokens"))
    assert p.returncode != 0 and "a PEM file is expected" in p.stderr, p.stderr


@pytest.mark.parametrize("listen,needle", [
    ("::1:8443", "[ADDRESS]:PORT"),
    ("127.0.0.1:70000", "from 0 to 65535"),
    ("127.0.0.1", "HOST:PORT"),
])
def test_bad_listen_address(cleanroom_bin, pki, tmp_path, listen, needle):
    p = serve_fails(cleanroom_bin, tmp_path, *listen_args(pki, listen=listen))
    assert p.returncode != 0 and needle in p.stderr, p.stderr



# ---- sandboxes over the TLS listener (root: the namespace backend) -----------

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes of the namespace backend need root")


def hostport(srv):
    host, port = srv.url[len("https://"):].rsplit(":", 1)
    return host.strip("[]"), int(port)


def tls_socket(srv, pki):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    host, port = hostport(srv)
    return ctx.wrap_socket(socket.create_connection((host, port), timeout=30), server_hostname=host)


def tcall(srv, pki, service, method, msg=None):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    c = http.client.HTTPSConnection(*hostport(srv), context=ctx, timeout=60)
    c.request("POST", f"/cleanroom.v1.{service}/{method}", body=json.dumps(msg or {}),
              headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
    r = c.getresponse()
    body = r.read()
    c.close()
    assert r.status == 200, (r.status, body)
    return json.loads(body)


def envelope(obj):
    payload = json.dumps(obj).encode()
    return struct.pack(">BI", 0, len(payload)) + payload


def read_envelopes(s, buf=b""):
    """Yields (flags, message) from a socket until the end-of-stream envelope."""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        data, buf = buf[:n], buf[n:]
        return data
    while True:
        flags, length = struct.unpack(">BI", need(5))
        msg = json.loads(need(length)) if length else {}
        yield flags, msg
        if flags & 0x02:
            return


def output_of(frames):
    out, exits = b"", []
    for flags, m in frames:
        if "stdout" in m:
            out += base64.b64decode(m["stdout"])
        elif "exit" in m:
            exits.append(m["exit"])
        elif flags & 0x02:
            assert m == {}, m
    return out, exits


@pytest.fixture
def policy(cleanroom_bin, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "cleanroom.yaml").write_text("version: 1\nsandbox:\n  network:\n    default: deny\n")
    r = subprocess.run([cleanroom_bin, "policy", "compile", "--json", "-C", str(repo)], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


@needs_root
def test_remote_execution_stream_and_attach(cleanroom_bin, pki, policy):
    srv = start(cleanroom_bin, pki)
    try:
        sid = tcall(srv, pki, "SandboxService", "CreateSandbox", {"compiledPolicyJson": policy})["sandbox"]["sandboxId"]
        wait_ready(lambda m, b: tcall(srv, pki, "SandboxService", m, b), sid)
        ex = tcall(srv, pki, "ExecutionService", "CreateExecution",
                   {"sandboxId": sid, "command": ["/bin/sh", "-c", "echo remote; cat; echo after"]})["execution"]
        # AttachExecution: the HTTP/1.1 Upgrade, inside TLS, with the token
        a = tls_socket(srv, pki)
        a.sendall(("POST /cleanroom.v1.ExecutionService/AttachExecution HTTP/1.1\r\nHost: localhost\r\n"
                   f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/connect+json\r\n"
                   "Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: cleanroom-attach.v1\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += a.recv(65536)
        head, _, rest = head.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        a.sendall(envelope({"open": {"sandboxId": sid, "executionId": ex["executionId"]}}) +
                  envelope({"stdin": base64.b64encode(b"typed\n").decode()}) +
                  envelope({"close": {"detach": False}}))
        out, exits = output_of(read_envelopes(a, rest))
        a.close()
        assert out == b"remote\ntyped\nafter\n" and exits[0]["status"] == "EXECUTION_STATUS_SUCCEEDED", (out, exits)
        # StreamExecution: a server stream (chunked) inside TLS replays the same output
        st = tls_socket(srv, pki)
        body = envelope({"sandboxId": sid, "executionId": ex["executionId"], "follow": True})
        st.sendall((f"POST /cleanroom.v1.ExecutionService/StreamExecution HTTP/1.1\r\nHost: localhost\r\n"
                    f"Authorization: Bearer {TOKEN}\r\nContent-Type: application/connect+json\r\n"
                    f"Connection: close\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body)
        raw = b""
        while True:
            chunk = st.recv(65536)
            if not chunk:
                break
            raw += chunk
        st.close()
        head, _, chunked = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        data = b""
        while chunked:
            size, _, chunked = chunked.partition(b"\r\n")
            n = int(size, 16)
            data, chunked = data + chunked[:n], chunked[n + 2:]
            if n == 0:
                break
        out, exits = output_of(read_envelopes(FakeSocket(data)))
        assert out == b"remote\ntyped\nafter\n" and len(exits) == 1, (out, exits)
        tcall(srv, pki, "SandboxService", "TerminateSandbox", {"sandboxId": sid})
    finally:
        stop(srv)


class FakeSocket:
    def __init__(self, data):
        self.data = data

    def recv(self, n):
        chunk, self.data = self.data[:n], self.data[n:]
        return chunk


@needs_root
def test_remote_actor_is_the_token_hash(cleanroom_bin, pki, policy):
    srv = start(cleanroom_bin, pki)
    try:
        sid = tcall(srv, pki, "SandboxService", "CreateSandbox", {"compiledPolicyJson": policy})["sandbox"]["sandboxId"]
        tcall(srv, pki, "SandboxService", "TerminateSandbox", {"sandboxId": sid})
        lines = [json.loads(x) for x in (srv.base / "state" / "audit" / "audit.jsonl").read_text().splitlines()]
        actors = {e["actor"] for e in lines if e.get("sandbox_id") == sid}
    finally:
        stop(srv)
    assert actors == {"token:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:8]}, actors
    assert not any(TOKEN in json.dumps(e) for e in lines)
