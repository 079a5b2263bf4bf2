# SPDX-License-Identifier: Apache-2.0
"""Interactive sessions end to end (spec §5.4.1: "-it must use bidirectional
stream semantics"): `cleanroom exec -it`, `cleanroom console` and
`cleanroom execution attach` driven under a real pseudo-terminal against a
real `cleanroom serve`, as a user at a terminal would: typing reaches the
remote shell, the window size (initial and after SIGWINCH) reaches its pty,
the shell's exit code becomes the CLI's, Ctrl-C is a byte for the remote
pty, Ctrl-P Ctrl-Q detaches (130) and leaves the execution RUNNING,
`execution attach` brings the session back, `-i` forwards piped stdin, and
the local terminal's settings are exactly restored afterwards (also after
signals). Needs root (the namespace backend); the command-line checks run
everywhere."""
import fcntl
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import termios
import threading
import time
from pathlib import Path

import pytest

from connect_client import ConnectError, call

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes of the namespace backend need root "
                                "(namespaces, cgroups, uid ranges)")

DENY_ALL = """
    version: 1
    sandbox:
      network:
        default: deny
    """

CTRL_C, CTRL_P, CTRL_Q = b"\x03", b"\x10", b"\x11"


class Server:
    def __init__(self, binary):
        # the sandbox's users must traverse the state directory: not under pytest's private tmp_path
        self.dir = Path(tempfile.mkdtemp(prefix="cleanroom-it-", dir="/var/tmp"))
        os.chmod(self.dir, 0o711)
        self.sock = self.dir / "run" / "cleanroom.sock"
        self.host = f"unix://{self.sock}"
        self.proc = subprocess.Popen([binary, "serve", "--no-egress", "--socket", str(self.sock), "--state-dir",
                                      str(self.dir / "state")], stdout=subprocess.DEVNULL,
                                     stderr=open(self.dir / "serve.log", "wb"))
        deadline = time.time() + 10
        while True:
            try:
                call(self.sock, "AdminService", "GetServerStatus")
                return
            except (OSError, ConnectError):
                if time.time() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise AssertionError("the server did not answer")
                time.sleep(0.02)

    def execution(self, eid):
        return call(self.sock, "ExecutionService", "GetExecution", {"executionId": eid})["execution"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def server(cleanroom_bin):
    s = Server(cleanroom_bin)
    yield s
    s.stop()


@pytest.fixture
def repo(cr):
    return cr.repo({"cleanroom.yaml": DENY_ALL})


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def make_controlling_tty():
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """The CLI running on the slave side of a new pty (its stdin, stdout,
    stderr and controlling terminal); the test types on the master side."""

    def __init__(self, cr, args, cwd, rows=33, cols=97):
        self.master, self.slave = os.openpty()
        set_size(self.slave, rows, cols)
        self.before = termios.tcgetattr(self.slave)
        self.proc = subprocess.Popen([cr.binary, *args], cwd=str(cwd), env=cr.env, stdin=self.slave,
                                     stdout=self.slave, stderr=self.slave, preexec_fn=make_controlling_tty,
                                     close_fds=True)
        self.out = b""

    def type(self, data):
        os.write(self.master, data)

    def _read(self, timeout):
        r, _, _ = select.select([self.master], [], [], timeout)
        if not r:
            return False
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: every slave fd is closed
            return False
        self.out += chunk
        return bool(chunk)

    def expect(self, pattern, timeout=30):
        """Waits until the output (from the start) matches the regex
        pattern (bytes); returns the match."""
        deadline = time.time() + timeout
        while True:
            m = re.search(pattern, self.out)
            if m:
                return m
            left = deadline - time.time()
            if left <= 0 or (not self._read(min(left, 0.5)) and self.proc.poll() is not None
                             and not self._read(0.1)):
                raise AssertionError(f"no {pattern!r} in the terminal output: {self.out!r}")

    def attrs(self):
        return termios.tcgetattr(self.slave)

    def wait(self, timeout=30):
        deadline = time.time() + timeout
        while self.proc.poll() is None and time.time() < deadline:
            self._read(0.1)
        rc = self.proc.wait(timeout=max(0.1, deadline - time.time()))
        while self._read(0.05):
            pass
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def terminals():
    opened = []
    yield lambda *a, **k: opened.append(Terminal(*a, **k)) or opened[-1]
    for t in opened:
        t.close()


def prompt_ready(t, marker):
    """Makes the remote shell print marker-N (computed, so the typed echo
    does not match) and waits for it: the shell reads what we type."""
    t.type(b"echo " + marker + b"-$((40+2))\r")
    t.expect(re.escape(marker) + b"-42")


def in_raw_mode(attrs):
    lflag = attrs[3]
    return not (lflag & termios.ICANON) and not (lflag & termios.ECHO) and not (lflag & termios.ISIG)


# ---- command line (no server needed) --------------------------------------

@pytest.mark.parametrize("args, message", [
    (["exec", "-it", "--detach-keys", "ctrl-1", "sh"], "--detach-keys: detach keys 'ctrl-1'"),
    (["exec", "-i", "--detach-keys", "a,,b", "sh"], "--detach-keys"),
    (["console", "--rm", "--keep"], "--rm and --keep cannot be combined"),
])
def test_usage_errors(cr, args, message):
    r = cr.run(*args[:1], "--host", "unix:///nonexistent/cleanroom.sock", *args[1:])
    assert r.rc == 2, r
    assert "error[usage_invalid]" in r.err and message in r.err, r


def test_help(cr):
    r = cr.run("console", "--help")
    assert r.rc == 0 and "Usage: cleanroom console" in r.out and "Ctrl-P Ctrl-Q" in r.out, r
    r = cr.run("exec", "--help")
    assert r.rc == 0 and "--detach-keys" in r.out, r
    r = cr.run("execution", "--help")
    assert r.rc == 0 and "attach" in r.out, r


# ---- sessions ----------------------------------------------------------------

@needs_root
def test_tty_session_typing_resize_exit_code(cr, server, repo, terminals):
    t = terminals(cr, ["exec", "--host", server.host, "-it", "--", "sh"], repo, rows=33, cols=97)
    prompt_ready(t, b"hi")
    assert in_raw_mode(t.attrs()), "the local terminal is not in raw mode during the session"
    t.type(b"echo hi-$((1+1))\r")
    t.expect(rb"hi-2")
    # the initial window size reached the sandbox's pty
    t.type(b"stty size\r")
    t.expect(rb"\b33 97\r\n")
    # a resize: the kernel sends SIGWINCH to the foreground group; send one too, as a terminal
    # emulator's resize would
    set_size(t.master, 41, 101)
    os.kill(t.proc.pid, signal.SIGWINCH)
    time.sleep(0.3)
    t.type(b"stty size\r")
    t.expect(rb"\b41 101\r\n")
    # the remote side is a terminal
    t.type(b"tty\r")
    t.expect(rb"/dev/pts/\d+")
    t.type(b"exit 3\r")
    assert t.wait() == 3, t.out
    assert t.attrs() == t.before, "the terminal settings were not restored"


@needs_root
def test_ctrl_c_is_a_byte_for_the_remote_pty(cr, server, repo, terminals):
    t = terminals(cr, ["exec", "--host", server.host, "-it", "--", "sh"], repo)
    prompt_ready(t, b"up")
    t.type(b"sleep 30; echo slept-$((1+1))\r")
    time.sleep(0.5)
    t0 = time.time()
    t.type(CTRL_C)  # the remote pty sends SIGINT to sleep's group; the CLI goes on
    prompt_ready(t, b"alive")
    assert time.time() - t0 < 10 and b"slept-2" not in t.out, t.out
    assert t.proc.poll() is None
    t.type(b"exit 0\r")
    assert t.wait() == 0, t.out
    assert t.attrs() == t.before


@needs_root
def test_detach_keys_then_reattach(cr, server, repo, terminals):
    t = terminals(cr, ["exec", "--host", server.host, "-it", "--", "sh"], repo)
    prompt_ready(t, b"first")
    t.type(CTRL_P + CTRL_Q)
    assert t.wait() == 130, t.out
    m = t.expect(rb"\r\ndetached; execution (ex-[0-9a-f]+) keeps running in sandbox (sb-[0-9a-f]+)\r\n")
    eid, sid = m.group(1).decode(), m.group(2).decode()
    assert b"not terminated: the detached execution runs in it" in t.out, t.out
    assert t.attrs() == t.before
    assert server.execution(eid)["status"] == "EXECUTION_STATUS_RUNNING"

    # the same shell, again: its history is replayed, then it takes our typing
    u = terminals(cr, ["execution", "attach", "--host", server.host, eid], repo, rows=20, cols=70)
    u.expect(rb"first-42")
    prompt_ready(u, b"back")
    u.type(b"stty size\r")
    u.expect(rb"\b20 70\r\n")
    u.type(b"exit 4\r")
    assert u.wait() == 4, u.out
    assert u.attrs() == u.before
    ex = server.execution(eid)
    assert ex["status"] == "EXECUTION_STATUS_FAILED" and ex["exitCode"] == 4 and ex["sandboxId"] == sid, ex
    call(server.sock, "SandboxService", "TerminateSandbox", {"sandboxId": sid})


@needs_root
def test_custom_detach_keys(cr, server, repo, terminals):
    t = terminals(cr, ["exec", "--host", server.host, "-it", "--detach-keys", "ctrl-x,q", "--", "sh"], repo)
    prompt_ready(t, b"k")
    # not the sequence now: both reach the remote pty (which echoes Ctrl-P as ^P and takes Ctrl-Q
    # as XON); Ctrl-U then erases the line
    t.type(CTRL_P + CTRL_Q)
    t.expect(rb"\^P")
    t.type(b"\x15")
    prompt_ready(t, b"still")
    t.type(b"\x18q")
    assert t.wait() == 130, t.out
    assert b"detached; execution ex-" in t.out


@needs_root
def test_two_interrupts_detach_and_restore_the_terminal(cr, server, repo, terminals):
    # the first interrupt goes to the execution's process group: these shells ignore SIGTERM
    t = terminals(cr, ["exec", "--host", server.host, "-it", "trap '' TERM; sh"], repo)
    prompt_ready(t, b"sig")
    t.proc.send_signal(signal.SIGTERM)
    t.expect(rb"received SIGTERM: sent to execution ex-[0-9a-f]+ \(interrupt again to detach\)")
    prompt_ready(t, b"survived")
    assert t.proc.poll() is None
    t.proc.send_signal(signal.SIGTERM)
    assert t.wait() == 130, t.out
    assert b"detached; execution ex-" in t.out
    assert t.attrs() == t.before, "the terminal settings were not restored after signals"


@needs_root
def test_console(cr, server, repo, terminals):
    t = terminals(cr, ["console", "--host", server.host], repo)
    prompt_ready(t, b"con")
    t.type(b"test -n \"$BASH_VERSION\" && echo shell-is-bash-$((1)) || echo shell-is-sh-$((1))\r")
    t.expect(rb"shell-is-(bash|sh)-1")
    t.type(b"exit 6\r")
    assert t.wait() == 6, t.out
    assert t.attrs() == t.before


@needs_root
def test_piped_stdin_without_tty(cr, server, repo):
    p = subprocess.run([cr.binary, "exec", "--host", server.host, "-i", "--", "cat"], input=b"a\nb\n",
                       cwd=repo, env=cr.env, capture_output=True, timeout=60)
    assert (p.returncode, p.stdout) == (0, b"a\nb\n"), p
    # no pty: stdout and stderr stay apart, the exit code passes through; -t without a terminal
    # on stdin asks for no pty
    p = subprocess.run([cr.binary, "exec", "--host", server.host, "-it", "--", "sh", "-c",
                        "cat; tty || echo no-tty >&2; exit 5"], input=b"x\0y", cwd=repo, env=cr.env,
                       capture_output=True, timeout=60)
    assert (p.returncode, p.stdout) == (5, b"x\0ynot a tty\n"), p
    assert p.stderr == b"no-tty\n", p


@needs_root
def test_attach_json_record(cr, server, repo):
    """`execution attach --json` ends stdout with one record of the outcome."""
    p = subprocess.run([cr.binary, "exec", "--host", server.host, "--keep", "--json", "--", "true"], cwd=repo,
                       env=cr.env, capture_output=True, timeout=60)
    sid = json.loads(p.stdout.splitlines()[-1])["sandbox_id"]
    ex = call(server.sock, "ExecutionService", "CreateExecution",
              {"sandboxId": sid, "command": ["/bin/sh", "-c", "read line; echo got-$line; exit 3"]})["execution"]
    p = subprocess.run([cr.binary, "execution", "attach", "--host", server.host, "--json", ex["executionId"]],
                       input=b"hi\n", cwd=repo, env=cr.env, capture_output=True, timeout=60)
    assert p.returncode == 3, p
    out = p.stdout.decode().splitlines()
    assert out[0] == "got-hi", out
    rec = json.loads(out[-1])
    assert rec["execution_id"] == ex["executionId"] and rec["sandbox_id"] == sid, rec
    assert (rec["exit_code"], rec["status"], rec["detached"], rec["error"]) == (3, "failed", False, False), rec
    call(server.sock, "SandboxService", "TerminateSandbox", {"sandboxId": sid})


@needs_root
def test_attach_to_unknown_execution(cr, server):
    r = cr.run("execution", "attach", "--host", server.host, "--sandbox", "sb-0000", "ex-0000")
    assert r.rc == 1 and "error[not_found]" in r.err, r


# ---- transports and refusals -------------------------------------------------

def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@needs_root
def test_over_https_with_bearer_token(cr, repo, tmp_path):
    """The same session over `serve --listen` (TLS, bearer token). The CLI has
    no CA option: the test CA joins the system bundle in a private mount
    namespace of the CLI alone (libcurl reads /etc/ssl/certs/ca-certificates.crt)."""
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.is_file() or not shutil.which("unshare") or not shutil.which("openssl"):
        pytest.skip("needs openssl, unshare and the system CA bundle")
    pki = tmp_path / "pki"
    pki.mkdir()
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=it CA", cwd=pki)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=pki)
    (pki / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
                                 "extendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=pki)
    (pki / "bundle.pem").write_bytes(bundle.read_bytes() + b"\n" + (pki / "ca.pem").read_bytes())
    token = "tok-" + "0123456789abcdef" * 3
    (pki / "tokens").write_text(token + "\n")
    os.chmod(pki / "tokens", 0o600)
    port = free_port()
    base = Path(tempfile.mkdtemp(prefix="cleanroom-it-tls-", dir="/var/tmp"))
    os.chmod(base, 0o711)
    srv = subprocess.Popen([cr.binary, "serve", "--no-egress", "--socket", str(base / "run" / "s.sock"), "--state-dir",
                            str(base / "state"), "--listen", f"127.0.0.1:{port}", "--tls-cert",
                            str(pki / "server.pem"), "--tls-key", str(pki / "server.key"), "--token-file",
                            str(pki / "tokens")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        trusted = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/ssl/certs/ca-certificates.crt && exec "$@"',
                   str(pki / "bundle.pem"), cr.binary]
        env = dict(cr.env, CLEANROOM_TOKEN=token)
        p = subprocess.run([*trusted, "exec", "--host", f"https://localhost:{port}", "-i", "--", "sh", "-c",
                            "cat; exit 7"], input=b"over\ntls\n", cwd=repo, env=env, capture_output=True,
                           timeout=60)
        assert (p.returncode, p.stdout) == (7, b"over\ntls\n"), p
    finally:
        srv.terminate()
        srv.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)


class FakeServer:
    """Answers GetExecution with a fixed execution and AttachExecution as
    told: how the CLI reports what a server refuses."""

    def __init__(self, path, attach_answer):
        self.path, self.answer = str(path), attach_answer
        self.s = socket.socket(socket.AF_UNIX)
        self.s.bind(self.path)
        self.s.listen(8)
        self.heads = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.s.accept()
            except OSError:
                return
            with c:
                buf = b""
                while b"\r\n\r\n" not in buf:
                    chunk = c.recv(65536)
                    if not chunk:
                        break
                    buf += chunk
                head = buf.split(b"\r\n\r\n")[0].decode()
                self.heads.append(head)
                if "/GetExecution " in head:
                    ex = b"\x0a\x05ex-01\x12\x05sb-01"  # Execution{execution_id, sandbox_id}
                    body = b"\x0a" + bytes([len(ex)]) + ex
                    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\nContent-Length: %d\r\n\r\n"
                              % len(body) + body)
                else:
                    c.sendall(self.answer)
                    # read what the client sends until it is quiet: a close with unread bytes
                    # would be a reset, not the end of the connection this fake means
                    c.settimeout(0.3)
                    try:
                        while c.recv(65536):
                            pass
                    except OSError:
                        pass

    def close(self):
        self.s.close()


def envelope(payload, flags=0):
    return struct.pack(">BI", flags, len(payload)) + payload


UNAUTHENTICATED = b'{"code":"unauthenticated","message":"no token here"}'
UPGRADED = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: cleanroom-attach.v1\r\n\r\n"


@pytest.mark.parametrize("answer, rc, out, message", [
    (b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
     % (len(UNAUTHENTICATED), UNAUTHENTICATED), 1, b"",
     "error[unauthenticated]: attach to execution ex-01: no token here"),
    (UPGRADED + envelope(b"\x4a\x05hello") + envelope(b'{"error":{"code":"not_found","message":"gone"}}', 2), 1,
     b"hello", "error[not_found]: gone"),
    (UPGRADED + envelope(b"\x4a\x03bye") + envelope(b"\x5a\x04\x08\x05\x10\x04") + envelope(b"{}", 2), 5,
     b"bye", None),
    (UPGRADED + envelope(b"\x4a\x03cut"), 1, b"cut", "closed the attach session without an end-of-stream"),
    (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 1, b"",
     "switched protocols but not to cleanroom-attach.v1"),
])
def test_attach_answers(cr, tmp_path, answer, rc, out, message):
    fake = FakeServer(tmp_path / "fake.sock", answer)
    try:
        p = subprocess.run([cr.binary, "execution", "attach", "--host", f"unix://{fake.path}", "--sandbox",
                            "sb-01", "ex-01"], stdin=subprocess.DEVNULL, env=cr.env, capture_output=True,
                           timeout=30)
    finally:
        fake.close()
    assert (p.returncode, p.stdout) == (rc, out), p
    if message:
        assert message in p.stderr.decode(), p
    attach = [h for h in fake.heads if "AttachExecution" in h]
    assert attach and "Upgrade: cleanroom-attach.v1" in attach[0], fake.heads
    assert "Content-Type: application/connect+proto" in attach[0] and "Authorization" not in attach[0]
