# SPDX-License-Identifier: Apache-2.0
"""The ExecutionService and the rest of the SandboxService against a real
`cleanroom serve` and the real namespace backend: output streaming (stdout
and stderr apart, binary-safe, replayed history), exit codes, timeouts,
cancel, files in and out, sandbox events, time to live, the audit trail,
restart survival, and bad requests answered without disturbing other
clients. Needs root (the namespace backend)."""
import base64
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from connect_client import Attach, ConnectError, Stream, call, envelope, wait_ready

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sandboxes of the namespace backend need root")

DENY_ALL = "version: 1\nsandbox:\n  network:\n    default: deny\n"


class Server:
    def __init__(self, binary, root, *extra):
        self.binary = binary
        self.root = root
        self.sock = root / "run" / "cleanroom.sock"
        self.state = root / "state"
        self.extra = extra
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "serve", "--no-egress", "--socket", str(self.sock), "--state-dir",
                                      str(self.state), *self.extra],
                                     stdout=subprocess.DEVNULL, stderr=open(self.root / "serve.log", "ab"))
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                call(self.sock, "AdminService", "GetServerStatus")
                return self
            except (OSError, ConnectError):
                time.sleep(0.02)
        raise AssertionError("server did not answer: " + (self.root / "serve.log").read_text())

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)

    def log(self):
        return (self.root / "serve.log").read_text()


@pytest.fixture
def server(cleanroom_bin):
    root = Path(tempfile.mkdtemp(prefix="cleanroom-exec-", dir="/var/tmp"))
    os.chmod(root, 0o711)
    s = Server(cleanroom_bin, root).start()
    yield s
    s.stop()
    subprocess.run(["rm", "-rf", str(root)])


@pytest.fixture
def policy(cleanroom_bin, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "cleanroom.yaml").write_text(DENY_ALL)
    r = subprocess.run([cleanroom_bin, "policy", "compile", "--json", "-C", str(repo)], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def create_sandbox(server, policy, wait=True, **opts):
    req = {"compiledPolicyJson": policy}
    if opts:
        req["options"] = opts
    sid = call(server.sock, "SandboxService", "CreateSandbox", req)["sandbox"]["sandboxId"]
    if wait:
        wait_ready(lambda m, b: call(server.sock, "SandboxService", m, b), sid)
    return sid


def start(server, sid, *argv, **options):
    msg = {"sandboxId": sid, "command": list(argv)}
    if options:
        msg["options"] = options
    return call(server.sock, "ExecutionService", "CreateExecution", msg)["execution"]


def collect(server, sid, eid, follow=True):
    st = Stream(server.sock, "ExecutionService", "StreamExecution",
                {"sandboxId": sid, "executionId": eid, "follow": follow})
    assert st.status == 200 and st.content_type == "application/connect+json"
    out, err, exits, notes = b"", b"", [], []
    for m in st:
        if "stdout" in m:
            out += base64.b64decode(m["stdout"])
        elif "stderr" in m:
            err += base64.b64decode(m["stderr"])
        elif "exit" in m:
            exits.append(m["exit"])
        elif "message" in m:
            notes.append(m["message"])
    return out, err, exits, st.end


def run(server, sid, script, **options):
    ex = start(server, sid, "/bin/sh", "-c", script, **options)
    assert ex["status"] == "EXECUTION_STATUS_RUNNING", ex
    return ex["executionId"], collect(server, sid, ex["executionId"])


def test_output_streams_apart_and_binary_safe(server, policy):
    sid = create_sandbox(server, policy)
    eid, (out, err, exits, end) = run(server, sid, "printf 'a\\000\\377b'; printf 'to-err' >&2; echo; exit 0")
    assert out == b"a\x00\xffb\n" and err == b"to-err", (out, err)
    assert len(exits) == 1 and exits[0].get("exitCode", 0) == 0, exits
    assert exits[0]["status"] == "EXECUTION_STATUS_SUCCEEDED" and end == {}, (exits, end)
    ex = call(server.sock, "ExecutionService", "GetExecution", {"sandboxId": sid, "executionId": eid})["execution"]
    assert ex["status"] == "EXECUTION_STATUS_SUCCEEDED" and ex["command"] == ["/bin/sh", "-c", ex["command"][2]]
    assert ex["startedAt"] and ex["finishedAt"] and ex["actor"] == "uid:0"
    # the history is replayed after the end, with follow and without
    assert collect(server, sid, eid, follow=False)[:2] == (out, err)


def test_execution_queued_while_provisioning(server, policy):
    """CreateSandbox answers PROVISIONING at once; an execution created then
    is QUEUED and starts when the sandbox is READY. Cancelling a queued one
    ends it without it ever running."""
    sb = call(server.sock, "SandboxService", "CreateSandbox", {"compiledPolicyJson": policy})["sandbox"]
    assert sb["status"] == "SANDBOX_STATUS_PROVISIONING", sb
    sid = sb["sandboxId"]
    first = start(server, sid, "/bin/sh", "-c", "echo ran")
    second = start(server, sid, "/bin/sh", "-c", "echo never")
    assert first["status"] == second["status"] == "EXECUTION_STATUS_QUEUED", (first, second)
    assert "startedAt" not in first, first
    with pytest.raises(ConnectError) as e:  # files need a READY sandbox
        call(server.sock, "SandboxService", "DownloadSandboxFile", {"sandboxId": sid, "path": "/etc/hostname"})
    assert e.value.err["code"] == "failed_precondition" and "provisioning" in e.value.err["message"], e.value.err
    c = call(server.sock, "ExecutionService", "CancelExecution",
             {"sandboxId": sid, "executionId": second["executionId"]})
    assert c["accepted"] is True and c["status"] == "EXECUTION_STATUS_CANCELED", c
    out, err, exits, end = collect(server, sid, first["executionId"])
    assert out == b"ran\n" and exits[0]["status"] == "EXECUTION_STATUS_SUCCEEDED" and end == {}, (out, exits)
    ex = call(server.sock, "ExecutionService", "GetExecution",
              {"sandboxId": sid, "executionId": first["executionId"]})["execution"]
    assert ex["startedAt"] and ex["status"] == "EXECUTION_STATUS_SUCCEEDED", ex
    _, _, exits, _ = collect(server, sid, second["executionId"])
    assert exits[0]["status"] == "EXECUTION_STATUS_CANCELED" and exits[0]["exitCode"] == 130, exits
    assert exits[0]["reason"] == "execution_canceled", exits
    kinds = [json.loads(x)["kind"] for x in (server.state / "audit" / "audit.jsonl").read_text().splitlines()
             if json.loads(x).get("execution_id") == first["executionId"]]
    assert kinds == ["execution.queued", "execution.started", "execution.finished"], kinds


def test_terminate_while_provisioning_fails_queued_executions(server, policy):
    sid = call(server.sock, "SandboxService", "CreateSandbox", {"compiledPolicyJson": policy})["sandbox"]["sandboxId"]
    ex = start(server, sid, "/bin/sh", "-c", "echo never")
    assert ex["status"] == "EXECUTION_STATUS_QUEUED", ex
    call(server.sock, "SandboxService", "TerminateSandbox", {"sandboxId": sid})
    _, _, exits, _ = collect(server, sid, ex["executionId"])
    assert exits[0]["status"] == "EXECUTION_STATUS_FAILED" and exits[0]["exitCode"] == 127, exits
    assert "not started" in exits[0]["message"], exits
    sb = call(server.sock, "SandboxService", "GetSandbox", {"sandboxId": sid})["sandbox"]
    assert sb["status"] == "SANDBOX_STATUS_STOPPED", sb
    assert not (server.state / "netns" / sid).exists()


def test_fast_output_is_paced_not_dropped(server, policy):
    """More output than the follower cap, faster than the client decodes it:
    the sandbox is paused while the reader catches up; nothing is lost."""
    sid = create_sandbox(server, policy)
    eid, (out, err, exits, end) = run(server, sid, "head -c 40000000 /dev/zero; echo done >&2")
    assert len(out) == 40000000 and out.count(0) == 40000000, len(out)
    assert err == b"done\n" and exits[0]["status"] == "EXECUTION_STATUS_SUCCEEDED" and end == {}, (exits, end)


def test_exit_codes(server, policy):
    sid = create_sandbox(server, policy)
    _, (_, _, exits, _) = run(server, sid, "exit 7")
    assert exits[0]["exitCode"] == 7 and exits[0]["status"] == "EXECUTION_STATUS_FAILED", exits
    _, (_, _, exits, _) = run(server, sid, "kill -9 $$")
    assert exits[0]["exitCode"] == 137 and exits[0]["status"] == "EXECUTION_STATUS_FAILED", exits
    assert "signal 9" in exits[0]["message"], exits
    _, (_, err, exits, _) = run(server, sid, "exec /nonexistent/binary")
    assert exits[0]["exitCode"] == 127, (exits, err)


def test_timeout(server, policy):
    sid = create_sandbox(server, policy)
    t0 = time.time()
    eid, (out, _, exits, end) = run(server, sid, "echo started; sleep 30", timeoutSeconds=1)
    assert time.time() - t0 < 10
    assert out == b"started\n"
    assert exits[0]["exitCode"] == 124 and exits[0]["status"] == "EXECUTION_STATUS_TIMED_OUT", exits
    assert exits[0]["reason"] == "execution_timed_out" and end == {}
    ex = call(server.sock, "ExecutionService", "GetExecution", {"executionId": eid})["execution"]
    assert ex["status"] == "EXECUTION_STATUS_TIMED_OUT" and ex["exitCode"] == 124 and ex["timeoutSeconds"] == "1"


def test_cancel_signals_the_process_group(server, policy):
    sid = create_sandbox(server, policy)
    ex = start(server, sid, "/bin/sh", "-c", "trap 'echo got-int; exit 5' INT; echo ready; "
                                              "sleep 30 & wait")
    eid = ex["executionId"]
    result = {}
    t = threading.Thread(target=lambda: result.update(r=collect(server, sid, eid)))
    t.start()
    time.sleep(0.5)
    r = call(server.sock, "ExecutionService", "CancelExecution", {"sandboxId": sid, "executionId": eid})
    assert r["accepted"] is True, r
    t.join(20)
    out, _, exits, _ = result["r"]
    assert out == b"ready\ngot-int\n", out
    assert exits[0]["status"] == "EXECUTION_STATUS_CANCELED" and exits[0]["exitCode"] == 5, exits
    r = call(server.sock, "ExecutionService", "CancelExecution", {"sandboxId": sid, "executionId": eid})
    assert r.get("accepted", False) is False and r["status"] == "EXECUTION_STATUS_CANCELED", r


def test_stream_deadline(server, policy):
    sid = create_sandbox(server, policy)
    eid = start(server, sid, "/bin/sh", "-c", "echo one; sleep 30")["executionId"]
    t0 = time.time()
    st = Stream(server.sock, "ExecutionService", "StreamExecution", {"sandboxId": sid, "executionId": eid,
                                                                    "follow": True},
                headers={"Connect-Timeout-Ms": "300"})
    msgs = st.all()
    assert time.time() - t0 < 5
    assert base64.b64decode(msgs[0]["stdout"]) == b"one\n"
    assert st.end["error"]["code"] == "deadline_exceeded", st.end
    ex = call(server.sock, "ExecutionService", "GetExecution", {"executionId": eid})["execution"]
    assert ex["status"] == "EXECUTION_STATUS_RUNNING", "the stream's deadline does not end the execution"


def test_environment_and_cwd(server, policy):
    sid = create_sandbox(server, policy)
    _, (out, _, _, _) = run(server, sid, 'echo "$FOO $PATH"; pwd', env=["FOO=bar baz"], cwd="/tmp")
    assert out.decode().startswith("bar baz /usr/local/sbin") and out.decode().endswith("/tmp\n"), out
    with pytest.raises(ConnectError) as e:
        start(server, sid, "true", env=["NOEQUALS"])
    assert e.value.code == "invalid_argument"


def test_files_in_and_out(server, policy, tmp_path):
    sid = create_sandbox(server, policy)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "hello.txt").write_text("hello\n")
    tar = subprocess.run(["tar", "-C", str(src), "-cf", "-", "sub"], capture_output=True, check=True).stdout
    r = call(server.sock, "SandboxService", "UploadSandboxFiles",
             {"sandboxId": sid, "destPath": "in", "archive": base64.b64encode(tar).decode()})
    assert r["destPath"] == "/workspace/in" and int(r["bytesWritten"]) == 6 and int(r["filesWritten"]) >= 2, r
    _, (out, _, _, _) = run(server, sid, "cat /workspace/in/sub/hello.txt; echo made > /workspace/out.txt")
    assert out == b"hello\n"
    r = call(server.sock, "SandboxService", "DownloadSandboxFile", {"sandboxId": sid, "path": "out.txt"})
    assert base64.b64decode(r["data"]) == b"made\n" and r["sizeBytes"] == "5", r
    for bad in ("../etc/passwd", "/etc/passwd"):
        with pytest.raises(ConnectError) as e:
            call(server.sock, "SandboxService", "DownloadSandboxFile", {"sandboxId": sid, "path": bad})
        assert e.value.code == "invalid_argument", bad
    with pytest.raises(ConnectError) as e:
        call(server.sock, "SandboxService", "DownloadSandboxFile",
             {"sandboxId": sid, "path": "out.txt", "maxBytes": "2"})
    assert "more than 2" in e.value.err["message"], e.value.err


def test_sandbox_events_and_terminate(server, policy):
    sid = create_sandbox(server, policy)
    st = Stream(server.sock, "SandboxService", "StreamSandboxEvents", {"sandboxId": sid, "follow": True})
    got = []
    t = threading.Thread(target=lambda: got.extend(st))
    t.start()
    time.sleep(0.3)
    ex = start(server, sid, "/bin/sh", "-c", "sleep 30")
    call(server.sock, "SandboxService", "TerminateSandbox", {"sandboxId": sid})
    t.join(20)
    assert [e["status"] for e in got] == ["SANDBOX_STATUS_PROVISIONING", "SANDBOX_STATUS_READY",
                                          "SANDBOX_STATUS_STOPPING", "SANDBOX_STATUS_STOPPED"], got
    assert st.end == {}
    ex = call(server.sock, "ExecutionService", "GetExecution", {"executionId": ex["executionId"]})["execution"]
    assert ex["status"] == "EXECUTION_STATUS_FAILED" and ex["exitCode"] == 137, ex
    with pytest.raises(ConnectError) as e:
        start(server, sid, "true")
    assert e.value.code == "failed_precondition" and "not running" in e.value.err["message"]


def test_ttl_expiry(server, policy):
    sid = create_sandbox(server, policy, ttlSeconds="1")
    deadline = time.time() + 15
    while time.time() < deadline:
        sb = call(server.sock, "SandboxService", "GetSandbox", {"sandboxId": sid})["sandbox"]
        if sb["status"] != "SANDBOX_STATUS_READY":
            break
        time.sleep(0.2)
    assert sb["status"] == "SANDBOX_STATUS_FAILED" and sb["reason"] == "sandbox_expired", sb
    assert not (server.state / "netns" / sid).exists()
    listed = call(server.sock, "SandboxService", "ListSandboxes", {})
    assert sid not in [s["sandboxId"] for s in listed.get("sandboxes", [])]
    listed = call(server.sock, "SandboxService", "ListSandboxes", {"includeTerminated": True})
    assert sid in [s["sandboxId"] for s in listed["sandboxes"]]


def test_audit_trail_records_the_lifecycle(server, policy):
    sid = create_sandbox(server, policy)
    eid, _ = run(server, sid, "exit 3")
    call(server.sock, "SandboxService", "TerminateSandbox", {"sandboxId": sid})
    lines = [json.loads(l) for l in (server.state / "audit" / "audit.jsonl").read_text().splitlines()]
    mine = [e for e in lines if e["sandbox_id"] == sid]
    assert [e["kind"] for e in mine] == ["sandbox.created", "sandbox.ready", "execution.started",
                                         "execution.finished", "sandbox.terminated"], mine
    for e in mine:
        assert e["run_id"].startswith("run-") and e["actor"] == "uid:0" and e["backend"] == "netns"
        assert len(e["policy_hash"]) == 64 and e["ts"]
    fin = mine[3]
    assert fin["execution_id"] == eid and fin["detail"]["exit_code"] == "3"
    assert [e["seq"] for e in lines] == list(range(1, len(lines) + 1))
    st = call(server.sock, "AdminService", "GetServerStatus")["status"]
    assert int(st["auditSeq"]) == len(lines), st
    got = call(server.sock, "AdminService", "QueryAudit", {"sandboxId": sid})["events"]
    assert [e["kind"] for e in got] == [e["kind"] for e in mine]


def test_a_second_server_on_the_same_state_leaves_the_first_alone(server, policy, cleanroom_bin):
    sid = create_sandbox(server, policy)
    r = subprocess.run([cleanroom_bin, "serve", "--no-egress", "--socket", str(server.root / "other.sock"), "--state-dir",
                        str(server.state)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "another 'cleanroom serve' uses the state directory" in r.stderr, r.stderr
    sb = call(server.sock, "SandboxService", "GetSandbox", {"sandboxId": sid})["sandbox"]
    assert sb["status"] == "SANDBOX_STATUS_READY", sb
    assert (server.state / "netns" / sid).exists()
    start(server, sid, "/bin/sh", "-c", "sleep 5")
    st = call(server.sock, "AdminService", "GetServerStatus")["status"]
    assert st["sandboxesActive"] == 1 and st["executionsRunning"] == 1, st


def test_restart_after_kill_keeps_records(cleanroom_bin, policy):
    root = Path(tempfile.mkdtemp(prefix="cleanroom-restart-", dir="/var/tmp"))
    os.chmod(root, 0o711)
    s = Server(cleanroom_bin, root).start()
    try:
        sid = create_sandbox(s, policy)
        done, _ = run(s, sid, "echo kept")
        running = start(s, sid, "/bin/sh", "-c", "sleep 60")["executionId"]
        s.stop(signal.SIGKILL)
        assert (s.state / "netns" / sid).exists(), "the crash left the sandbox behind"
        s.start()
        assert "removed 1 leftover sandboxes" in s.log()
        assert not (s.state / "netns" / sid).exists()
        sb = call(s.sock, "SandboxService", "GetSandbox", {"sandboxId": sid})["sandbox"]
        assert sb["status"] == "SANDBOX_STATUS_FAILED" and sb["reason"] == "sandbox_lost", sb
        ex = call(s.sock, "ExecutionService", "GetExecution", {"executionId": done})["execution"]
        assert ex["status"] == "EXECUTION_STATUS_SUCCEEDED", ex
        assert collect(s, sid, done)[0] == b"kept\n"
        ex = call(s.sock, "ExecutionService", "GetExecution", {"executionId": running})["execution"]
        assert ex["status"] == "EXECUTION_STATUS_FAILED" and ex["reason"] == "sandbox_lost", ex
        listed = call(s.sock, "ExecutionService", "ListExecutions", {"sandboxId": sid})["executions"]
        assert [e["executionId"] for e in listed] == [done, running]
    finally:
        s.stop()
        subprocess.run(["rm", "-rf", str(root)])


def test_bad_requests_do_not_disturb_other_clients(server, policy):
    sid = create_sandbox(server, policy)
    ex = start(server, sid, "/bin/sh", "-c", "for i in 1 2 3 4 5; do echo $i; sleep 0.2; done")
    result = {}
    t = threading.Thread(target=lambda: result.update(r=collect(server, sid, ex["executionId"])))
    t.start()
    # truncated envelope, two envelopes, malformed JSON inside a stream
    for body, what in ((envelope(b"{}")[:-1], "not one complete envelope"),
                       (envelope(b"{}") + envelope(b"{}"), "more than one envelope"),
                       (envelope(b"{nope"), "")):
        st = Stream(server.sock, "ExecutionService", "StreamExecution", raw_body=body)
        assert st.status == 200 and st.all() == [], what
        assert st.end["error"]["code"] == "invalid_argument" and what in st.end["error"]["message"], st.end
    # malformed unary JSON and proto, unknown method, wrong content type
    with pytest.raises(ConnectError) as e:
        call(server.sock, "ExecutionService", "GetExecution", {"bogus": 1})
    assert e.value.code == "invalid_argument"
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", str(server.sock),
                        "-H", "Content-Type: application/proto", "--data-binary", "\x0a\xff",
                        "http://localhost/cleanroom.v1.ExecutionService/GetExecution"],
                       capture_output=True, text=True)
    assert r.stdout == "400"
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", str(server.sock),
                        "-H", "Content-Type: text/xml", "--data-binary", "{}",
                        "http://localhost/cleanroom.v1.ExecutionService/GetExecution"],
                       capture_output=True, text=True)
    assert r.stdout == "415"
    with pytest.raises(ConnectError) as e:
        call(server.sock, "ExecutionService", "Nope")
    assert e.value.status == 404
    # oversized: more than the 64 MiB body cap
    r = subprocess.run(f"head -c 70000000 /dev/zero | curl -s -o /dev/null -w '%{{http_code}}' --unix-socket "
                       f"{server.sock} -H 'Content-Type: application/json' --data-binary @- "
                       f"http://localhost/cleanroom.v1.SandboxService/UploadSandboxFiles",
                       shell=True, capture_output=True, text=True)
    assert r.stdout in ("413", "000"), r.stdout
    t.join(20)
    out, _, exits, _ = result["r"]
    assert out == b"1\n2\n3\n4\n5\n" and exits[0]["status"] == "EXECUTION_STATUS_SUCCEEDED"


# ---- AttachExecution (HTTP/1.1 Upgrade) ---------------------------------------

def attach_collect(a):
    out, exits = b"", []
    for f in a.frames():
        if "stdout" in f:
            out += base64.b64decode(f["stdout"])
        elif "stderr" in f:
            out += base64.b64decode(f["stderr"])
        elif "exit" in f:
            exits.append(f["exit"])
    return out, exits


def test_attach_stdin_and_eof(server, policy):
    sid = create_sandbox(server, policy)
    eid = start(server, sid, "/bin/sh", "-c", "echo before; cat; echo after")["executionId"]
    a = Attach(server.sock)
    assert a.status == 101 and "upgrade: cleanroom-attach.v1" in a.head.lower(), a.head
    a.send({"open": {"sandboxId": sid, "executionId": eid}})
    a.send({"stdin": base64.b64encode(b"typed\n").decode()})
    a.send({"close": {"detach": False}})
    out, exits = attach_collect(a)
    assert out == b"before\ntyped\nafter\n", out
    assert len(exits) == 1 and exits[0]["status"] == "EXECUTION_STATUS_SUCCEEDED" and a.end == {}, (exits, a.end)


def test_attach_tty_resize_and_signal(server, policy):
    sid = create_sandbox(server, policy)
    eid = start(server, sid, "/bin/sh", "-c", "read x; stty size; sleep 30", tty=True)["executionId"]
    a = Attach(server.sock)
    a.send({"open": {"sandboxId": sid, "executionId": eid}})
    a.send({"resize": {"cols": 100, "rows": 40}})
    a.send({"stdin": base64.b64encode(b"go\n").decode()})
    out = b""
    for f in a.frames():
        out += base64.b64decode(f.get("stdout", ""))
        if b"40 100" in out:
            break
    a.send({"signal": {"signal": 15}})
    rest, exits = attach_collect(a)
    assert b"40 100" in out, out
    assert exits[0]["exitCode"] == 143, exits


def test_attach_detach_leaves_it_running(server, policy):
    sid = create_sandbox(server, policy)
    eid = start(server, sid, "/bin/sh", "-c", "sleep 30")["executionId"]
    a = Attach(server.sock)
    a.send({"open": {"sandboxId": sid, "executionId": eid}})
    a.send({"close": {"detach": True}})
    out, exits = attach_collect(a)
    assert exits == [] and a.end == {}
    ex = call(server.sock, "ExecutionService", "GetExecution", {"executionId": eid})["execution"]
    assert ex["status"] == "EXECUTION_STATUS_RUNNING"
    # a client that just disconnects detaches too
    b = Attach(server.sock)
    b.send({"open": {"sandboxId": sid, "executionId": eid}})
    b.close()
    time.sleep(0.2)
    ex = call(server.sock, "ExecutionService", "GetExecution", {"executionId": eid})["execution"]
    assert ex["status"] == "EXECUTION_STATUS_RUNNING"
    call(server.sock, "ExecutionService", "CancelExecution", {"executionId": eid, "signal": 9})


def test_attach_errors(server, policy):
    a = Attach(server.sock, upgrade=False)
    assert a.status == 501 and b"Upgrade: cleanroom-attach.v1" in a.buf, (a.head, a.buf)
    a = Attach(server.sock)
    a.send({"stdin": "eA=="})
    assert list(a.frames()) == [] and "first attach frame" in a.end["error"]["message"], a.end
    a = Attach(server.sock)
    a.send({"open": {"sandboxId": "sb-nope", "executionId": "ex-nope"}})
    assert list(a.frames()) == [] and a.end["error"]["code"] == "not_found", a.end
