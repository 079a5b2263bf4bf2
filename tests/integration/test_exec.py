# SPDX-License-Identifier: Apache-2.0
"""`cleanroom exec` end to end (spec §5.4, §5.4.1, §8.1): every test starts
its own `cleanroom serve` on a socket in a temporary directory and points the
CLI at it with --host, then checks what a user sees: the workload's stdout and
stderr kept apart and byte-exact, its exit code, timeouts, the first interrupt
cancelling and the second detaching, sandbox reuse and removal, the --json
record, policy errors before anything is created, and the private server a
CLI starts when nothing answers at the default socket.

Needs root (the namespace backend creates namespaces and cgroups): those
tests are skipped with a reason otherwise. The command-line checks run
everywhere."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="cleanroom exec needs root: the namespace backend "
                                "creates namespaces, cgroups and uid ranges")

DENY_ALL = """
    version: 1
    sandbox:
      network:
        default: deny
    """


# ---- a server of our own, and a tiny Connect JSON client ------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=20)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(self.unix_path)
        self.sock = s


class Server:
    def __init__(self, binary):
        # The sandbox's users must traverse the state directory: not under
        # pytest's private tmp_path.
        self.dir = Path(tempfile.mkdtemp(prefix="cleanroom-exec-", dir="/var/tmp"))
        os.chmod(self.dir, 0o711)
        self.sock = self.dir / "run" / "cleanroom.sock"
        self.host = f"unix://{self.sock}"
        self.log = open(self.dir / "serve.log", "wb")
        self.proc = subprocess.Popen([binary, "serve", "--no-egress", "--socket", str(self.sock), "--state-dir",
                                      str(self.dir / "state")], stdout=self.log, stderr=subprocess.STDOUT)
        try:
            deadline = time.time() + 10
            while time.time() < deadline and not self.sock.exists():
                assert self.proc.poll() is None, (self.dir / "serve.log").read_text()
                time.sleep(0.02)
            assert self.sock.exists(), "the server did not create its socket"
        except BaseException:
            self.stop()
            raise

    def api(self, service, method, body=None):
        conn = UnixHTTPConnection(str(self.sock))
        conn.request("POST", f"/cleanroom.v1.{service}/{method}", json.dumps(body or {}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        data = json.loads(r.read() or b"{}")
        conn.close()
        return r.status, data

    def sandboxes(self, include_terminated=False):
        status, body = self.api("SandboxService", "ListSandboxes", {"includeTerminated": include_terminated})
        assert status == 200, body
        return body.get("sandboxes", [])

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        finally:
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def server(cleanroom_bin):
    s = Server(cleanroom_bin)
    yield s
    s.stop()


@pytest.fixture
def repo(cr):
    return cr.repo({"cleanroom.yaml": DENY_ALL, "file.txt": "hello from the workspace\n",
                    ".gitignore": "ignored.txt\n", "ignored.txt": "must not be uploaded\n"})


class ExecResult:
    def __init__(self, rc, out, err):
        self.rc, self.out, self.err = rc, out, err

    def record(self):
        """The --json record: the last line of stdout."""
        last = self.out.rstrip(b"\n").rsplit(b"\n", 1)[-1]
        try:
            return json.loads(last)
        except ValueError as e:  # pragma: no cover - shown on failure only
            raise AssertionError(f"last stdout line is not JSON ({e}): {self!r}")

    def __repr__(self):
        return f"<rc={self.rc}\n--- stdout ---\n{self.out!r}\n--- stderr ---\n{self.err!r}>"


def exec_(cr, server, *args, cwd, timeout=60):
    host = ["--host", server.host] if server else []
    p = subprocess.run([cr.binary, "exec", *host, *[str(a) for a in args]], cwd=str(cwd), env=cr.env,
                       capture_output=True, timeout=timeout)
    return ExecResult(p.returncode, p.stdout, p.stderr)


def start_exec(cr, server, *args, cwd):
    return subprocess.Popen([cr.binary, "exec", "--host", server.host, *args], cwd=str(cwd), env=cr.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_line(proc, want, timeout=30):
    """Reads the process's stdout until a line equal to want (bytes)."""
    deadline = time.time() + timeout
    seen = b""
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if line.rstrip(b"\n") == want:
            return seen
    raise AssertionError(f"no line {want!r} on stdout; got {seen!r}; stderr {proc.stderr.read()!r}")


# ---- command line (no server needed) --------------------------------------

@pytest.mark.parametrize("args, message", [
    (["-it", "--detach-keys", "ctrl-1", "bash"], "--detach-keys: detach keys 'ctrl-1'"),
    (["--rm", "--keep", "true"], "--rm and --keep cannot be combined"),
    (["--sandbox-id", "sb-1", "--keep", "true"], "cannot be combined"),
    (["--sandbox-id", "sb-1", "-c", "x.yaml", "true"], "cannot be combined"),
    (["--workspace", ".", "--no-workspace", "true"], "cannot be combined"),
    (["--timeout", "5x", "true"], "--timeout '5x'"),
    (["--timeout", "0", "true"], "--timeout '0'"),
    (["--env", "1X=2", "true"], "--env '1X=2'"),
    ([], "missing COMMAND"),
    (["--bogus", "true"], "unknown or incomplete option '--bogus'"),
])
def test_usage_errors(cr, args, message):
    r = exec_(cr, None, "--host", "unix:///nonexistent/cleanroom.sock", *args, cwd=cr.tmp)
    assert r.rc == 2, r
    err = r.err.decode()
    assert err.startswith("cleanroom exec: error[usage_invalid]: "), r
    assert message in err, r


def test_help(cr):
    r = exec_(cr, None, "--help", cwd=cr.tmp)
    assert r.rc == 0 and b"Usage: cleanroom exec" in r.out, r


# ---- running commands ------------------------------------------------------

@needs_root
def test_stdout_and_stderr_apart_and_binary_safe(cr, server, repo):
    r = exec_(cr, server, r"printf 'out\000\377\n'; printf 'err\001\376' >&2; printf 'tail'", cwd=repo)
    assert r.rc == 0, r
    assert r.out == b"out\x00\xff\ntail", r
    assert r.err == b"err\x01\xfe", r


@needs_root
def test_exit_codes(cr, server, repo):
    assert exec_(cr, server, "exit 0", cwd=repo).rc == 0
    r = exec_(cr, server, "echo hi; exit 3", cwd=repo)
    assert (r.rc, r.out) == (3, b"hi\n"), r
    # several words run as that argv, quoted for the shell
    r = exec_(cr, server, "--", "sh", "-c", "exit 7", cwd=repo)
    assert r.rc == 7, r


@needs_root
def test_shell_form_and_env(cr, server, repo):
    # one word: a script, with expansion
    r = exec_(cr, server, "-e", "FOO=bar baz", 'printf "%s|" "$FOO" $((6*7))', cwd=repo)
    assert (r.rc, r.out) == (0, b"bar baz|42|"), r
    # several words: exactly that argv, nothing expanded
    r = exec_(cr, server, "-e", "FOO=bar", "--", "printf", "%s|", "$FOO", "a b", "it's", cwd=repo)
    assert (r.rc, r.out) == (0, b"$FOO|a b|it's|"), r
    # -e NAME passes this process's value on; nothing else of the caller's environment leaks in
    cr.env["PASSED_ON"] = "from-the-caller"
    cr.env["NOT_PASSED"] = "secret"
    r = exec_(cr, server, "-e", "PASSED_ON", 'echo "$PASSED_ON|${NOT_PASSED:-unset}"', cwd=repo)
    assert (r.rc, r.out) == (0, b"from-the-caller|unset\n"), r


@needs_root
def test_closed_stdout_cancels_with_sigpipe(cr, server, repo):
    t0 = time.time()
    p = subprocess.run(["bash", "-c", f'"$0" exec --host {server.host} "while :; do echo y; sleep 0.01; done" | head -n 2; '
                        'echo "rc=${PIPESTATUS[0]}"', cr.binary], cwd=repo, env=cr.env, capture_output=True,
                       timeout=30)
    assert p.stdout == b"y\ny\nrc=141\n", p  # 128 + SIGPIPE, as the workload died of it
    assert b"output pipe closed: canceling execution ex-" in p.stderr, p
    assert time.time() - t0 < 20


@needs_root
def test_killed_by_signal(cr, server, repo):
    r = exec_(cr, server, "kill -9 $$", cwd=repo)
    assert r.rc == 137, r


@needs_root
def test_timeout(cr, server, repo):
    t0 = time.time()
    r = exec_(cr, server, "--json", "--timeout", "1s", "echo started; sleep 30", cwd=repo)
    assert r.rc == 124, r
    assert time.time() - t0 < 20
    rec = r.record()
    assert rec["status"] == "timed_out" and rec["exit_code"] == 124, rec
    assert r.out.startswith(b"started\n"), r


@needs_root
@needs_root
def test_relative_policy_path_with_workspace(cr, server, repo, tmp_path):
    """-c is relative to where exec runs, --workspace only says what to upload."""
    (tmp_path / "p.yaml").write_text("version: 1\nsandbox:\n  network:\n    default: deny\n")
    r = exec_(cr, server, "-c", "p.yaml", "--workspace", repo, "cat file.txt", cwd=tmp_path)
    assert r.rc == 0 and r.out == b"hello from the workspace\n", r


def test_workspace_upload(cr, server, repo):
    r = exec_(cr, server, "cat file.txt; test -e ignored.txt && echo ignored-present; pwd", cwd=repo)
    assert r.rc == 0, r
    assert r.out == b"hello from the workspace\n/workspace\n", r
    # from a subdirectory the repository root is still what is uploaded
    sub = repo / "sub"
    sub.mkdir()
    r = exec_(cr, server, "cat file.txt", cwd=sub)
    assert r.out == b"hello from the workspace\n", r
    r = exec_(cr, server, "--no-workspace", "test -e file.txt; echo $?", cwd=repo)
    assert r.out == b"1\n", r


@needs_root
def test_first_interrupt_cancels(cr, server, repo):
    p = start_exec(cr, server, "--json", "trap 'echo got-int; exit 5' INT; echo ready; sleep 30 & wait",
                   cwd=repo)
    wait_for_line(p, b"ready")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    r = ExecResult(p.returncode, b"ready\n" + out, err)
    assert r.rc == 5, r
    assert b"got-int\n" in out, r
    assert re.search(rb"received SIGINT: canceling execution ex-", err), r
    rec = r.record()
    assert rec["status"] == "canceled" and rec["exit_code"] == 5 and rec["reason"] == "execution_canceled", rec
    assert not [s for s in server.sandboxes() if s["status"] == "SANDBOX_STATUS_READY"]


@needs_root
def test_sigterm_is_forwarded_as_sigterm(cr, server, repo):
    p = start_exec(cr, server, "trap 'echo got-term; exit 6' TERM; echo ready; sleep 30 & wait", cwd=repo)
    wait_for_line(p, b"ready")
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 6 and out == b"got-term\n", (out, err)


@needs_root
def test_second_interrupt_detaches(cr, server, repo):
    p = start_exec(cr, server, "trap '' INT; echo ready; sleep 60", cwd=repo)
    wait_for_line(p, b"ready")
    p.send_signal(signal.SIGINT)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (out, err)
    m = re.search(rb"detached; execution (ex-\S+) keeps running in sandbox (sb-\S+)\n", err)
    assert m, err
    execution_id, sandbox_id = m.group(1).decode(), m.group(2).decode()
    assert b"not terminated" in err, err
    # the execution really is still running, in a sandbox that was not terminated
    status, body = server.api("ExecutionService", "GetExecution",
                              {"sandboxId": sandbox_id, "executionId": execution_id})
    assert status == 200 and body["execution"]["status"] == "EXECUTION_STATUS_RUNNING", body
    assert [s["status"] for s in server.sandboxes() if s["sandboxId"] == sandbox_id] == ["SANDBOX_STATUS_READY"]
    server.api("SandboxService", "TerminateSandbox", {"sandboxId": sandbox_id})


@needs_root
def test_keep_and_reuse(cr, server, repo):
    r = exec_(cr, server, "--keep", "--json", "echo kept-state > marker", cwd=repo)
    assert r.rc == 0, r
    rec = r.record()
    sid = rec["sandbox_id"]
    assert rec["sandbox_kept"] is True
    assert f"kept sandbox {sid}".encode() in r.err, r
    assert [s["status"] for s in server.sandboxes() if s["sandboxId"] == sid] == ["SANDBOX_STATUS_READY"]
    # a local change is not uploaded into a selected sandbox without --workspace
    (repo / "file.txt").write_text("changed locally\n")
    r = exec_(cr, server, "--sandbox-id", sid, "--json", "cat marker file.txt", cwd=repo)
    assert r.rc == 0, r
    assert r.out.startswith(b"kept-state\nhello from the workspace\n"), r
    rec2 = r.record()
    assert rec2["sandbox_id"] == sid and rec2["policy_hash"] == rec["policy_hash"], rec2
    assert rec2["timings_ms"]["compile"] is None and rec2["timings_ms"]["create_sandbox"] is None
    # the selected sandbox is left as it was
    assert [s["status"] for s in server.sandboxes() if s["sandboxId"] == sid] == ["SANDBOX_STATUS_READY"]
    # --workspace uploads into it explicitly
    r = exec_(cr, server, "--sandbox-id", sid, "--workspace", repo, "cat file.txt", cwd=repo)
    assert r.out == b"changed locally\n", r
    server.api("SandboxService", "TerminateSandbox", {"sandboxId": sid})
    r = exec_(cr, server, "--sandbox-id", sid, "true", cwd=repo)
    assert r.rc == 1 and re.search(rb"error\[\w+\]: sandbox " + sid.encode() + rb" is stopped", r.err), r


@needs_root
def test_unknown_sandbox_id(cr, server, repo):
    r = exec_(cr, server, "--sandbox-id", "sb-doesnotexist", "true", cwd=repo)
    assert r.rc == 1 and r.err.startswith(b"cleanroom exec: error[not_found]: "), r
    assert b"sb-doesnotexist" in r.err and b"hint: 'cleanroom sandbox ls' lists" in r.err, r


@needs_root
def test_rm_is_the_default(cr, server, repo):
    for args in ([], ["--rm"]):
        r = exec_(cr, server, *args, "true", cwd=repo)
        assert r.rc == 0, r
    assert len(server.sandboxes(include_terminated=True)) == 2
    assert not [s for s in server.sandboxes(include_terminated=True) if s["status"] == "SANDBOX_STATUS_READY"]


@needs_root
def test_json_record(cr, server, repo):
    r = exec_(cr, server, "--json", "printf no-newline; exit 4", cwd=repo)
    assert r.rc == 4, r
    assert r.out.startswith(b"no-newline\n{"), r  # the record starts on a line of its own
    rec = r.record()
    compiled = json.loads(cr.run("policy", "compile", "--json", cwd=repo).out)
    assert rec["policy_hash"] == compiled["policy_hash"]
    assert rec["status"] == "failed" and rec["exit_code"] == 4
    assert rec["sandbox_id"].startswith("sb-") and rec["execution_id"].startswith("ex-") and rec["run_id"]
    assert rec["detached"] is False and rec["sandbox_kept"] is False
    t = rec["timings_ms"]
    assert set(t) == {"compile", "create_sandbox", "upload", "execution", "total"}
    assert all(isinstance(v, int) and v >= 0 for v in t.values()), t
    assert t["total"] >= t["compile"] + t["create_sandbox"] + t["upload"] + t["execution"]
    assert "error" not in rec
    # without --json nothing but the workload's output
    r = exec_(cr, server, "printf x", cwd=repo)
    assert (r.out, r.err) == (b"x", b""), r


@needs_root
def test_invalid_policy_creates_nothing(cr, server):
    bad = cr.repo({"cleanroom.yaml": "version: 1\nsandbox:\n  network:\n    default: allow\n"}, name="bad")
    r = exec_(cr, server, "--json", "echo must-not-run", cwd=bad)
    assert r.rc == 2, r
    err = r.err.decode()
    assert re.search(r"cleanroom\.yaml:4:\d+: error\[policy_invalid\]", err), r
    assert "cleanroom exec: error[policy_invalid]: cleanroom.yaml: invalid (1 error)" in err, r
    assert b"must-not-run" not in r.out
    rec = r.record()
    assert rec["status"] == "error" and rec["error"]["reason_code"] == "policy_invalid", rec
    assert rec["sandbox_id"] is None and rec["exit_code"] is None
    assert server.sandboxes(include_terminated=True) == []
    # -c names another file
    (bad / "good.yaml").write_text(DENY_ALL.replace("\n    ", "\n"))
    r = exec_(cr, server, "-c", bad / "good.yaml", "echo ran", cwd=bad)
    assert (r.rc, r.out) == (0, b"ran\n"), r


@needs_root
def test_capability_mismatch_before_the_workload(cr, server):
    status, caps = server.api("AdminService", "GetCapabilities", {})
    keys = {c["key"]: c.get("value", False) for c in caps["capabilities"]}
    if keys.get("network_host_port_filtering"):
        pytest.skip("the backend filters by host and port: no mismatch to provoke with an allow rule")
    needs = cr.repo({"cleanroom.yaml": """
        version: 1
        sandbox:
          network:
            default: deny
            allow:
              - host: api.example.com
                ports: [443]
        """}, name="needs")
    r = exec_(cr, server, "echo must-not-run", cwd=needs)
    assert r.rc == 1, r
    assert r.out == b"", r
    assert r.err.startswith(b"cleanroom exec: error[backend_capability_mismatch]: "), r
    assert b"network_host_port_filtering" in r.err and b"hint: " in r.err, r
    assert not [s for s in server.sandboxes(include_terminated=True) if s["status"] == "SANDBOX_STATUS_READY"]


def test_unreachable_explicit_host_starts_nothing(cr, repo, tmp_path):
    sock = tmp_path / "nobody.sock"
    r = exec_(cr, None, "--host", f"unix://{sock}", "true", cwd=repo)
    assert r.rc == 1, r
    assert r.err.startswith(f"cleanroom exec: error[internal]: cannot reach unix://{sock}".encode()), r
    assert b"started a private server" not in r.err and not sock.exists()
    env_cr_env = dict(cr.env, CLEANROOM_HOST=f"unix://{sock}")
    p = subprocess.run([cr.binary, "exec", "true"], cwd=repo, env=env_cr_env, capture_output=True, timeout=30)
    assert p.returncode == 1 and b"cannot reach" in p.stderr and not sock.exists(), p


# ---- the private server ----------------------------------------------------

AUTOSTART_SCRIPT = r"""
set -u
mount -t tmpfs -o mode=0755 tmpfs /run/cleanroom
mount -t tmpfs -o mode=0711 tmpfs /var/lib/cleanroom
B="$1"; OUT="$2"
cd "$3"
test -e /run/cleanroom/cleanroom.sock && { echo "socket exists before the test" >&2; exit 99; }
"$B" exec 'echo one' > "$OUT/a1" 2> "$OUT/e1" & p1=$!
"$B" exec 'echo two' > "$OUT/a2" 2> "$OUT/e2" & p2=$!
wait $p1; echo $? > "$OUT/rc1"
wait $p2; echo $? > "$OUT/rc2"
"$B" exec --json 'echo three' > "$OUT/a3" 2> "$OUT/e3"; echo $? > "$OUT/rc3"
ps -eo args | grep -c '^cleanroom serve --socket /run/cleanroom/cleanroom.sock' > "$OUT/servers"
cat /var/lib/cleanroom/serve.log > "$OUT/log"
"""


@needs_root
def test_private_server_autostart(cr, repo, tmp_path):
    """Without --host and $CLEANROOM_HOST, and nothing at the default socket,
    exec starts `cleanroom serve --idle-exit 60` itself; two racing CLIs
    start one server. Run in private mount and PID namespaces: the default
    socket and state directories are fresh tmpfs mounts, and the server dies
    with the namespace's init when the script ends."""
    if not shutil.which("unshare"):
        pytest.skip("util-linux unshare is needed to isolate the default socket")
    for d in ("/run/cleanroom", "/var/lib/cleanroom"):
        os.makedirs(d, exist_ok=True)  # mount points; a root `cleanroom serve` creates them anyway
    out = tmp_path / "out"
    out.mkdir()
    env = {k: v for k, v in cr.env.items() if k != "CLEANROOM_HOST"}
    p = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "sh", "-c", AUTOSTART_SCRIPT,
                        "sh", cr.binary, str(out), str(repo)], env=env, capture_output=True, timeout=90)
    assert p.returncode == 0, p

    def read(name):
        return (out / name).read_bytes()

    assert (read("rc1"), read("rc2"), read("rc3")) == (b"0\n", b"0\n", b"0\n"), [read(f"e{i}") for i in (1, 2, 3)]
    assert (read("a1"), read("a2")) == (b"one\n", b"two\n")
    started = [read(f"e{i}") for i in (1, 2)]
    line = (b"cleanroom: started a private server on unix:///run/cleanroom/cleanroom.sock "
            b"(exits after 60 s idle)\n")
    assert sorted(started) == sorted([line, b""]), started
    assert read("e3") == b"", read("e3")  # already running: nothing said; --json says nothing anyway
    assert json.loads(read("a3").splitlines()[-1])["status"] == "succeeded"
    assert read("servers") == b"1\n", read("log")
    assert b"listening on unix:///run/cleanroom/cleanroom.sock" in read("log")
