# SPDX-License-Identifier: Apache-2.0
"""The CLI's inspection and administration commands against a real
`cleanroom serve`: status, doctor, sandbox ls|get|rm|events|cp, execution
ls|get|cancel|logs, audit ls, in table and --json form, their errors (unknown
ids, no server, usage), and `serve install` writing a systemd unit.

Sandboxes and executions are created with curl through the API (not with
`cleanroom exec`), so these tests depend only on the server. Provisioning a
sandbox needs root (namespace backend): those tests skip otherwise."""
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from connect_client import wait_ready

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="provisioning sandboxes needs root (netns backend)")
DENY_ALL = "version: 1\nsandbox:\n  network:\n    default: deny\n"


class Server:
    def __init__(self, binary, root):
        self.binary = binary
        self.root = root
        self.sock = root / "run" / "cleanroom.sock"
        self.proc = subprocess.Popen([binary, "serve", "--no-egress", "--socket", str(self.sock), "--state-dir", str(root / "state")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while time.time() < deadline and not self.sock.exists():
            time.sleep(0.02)
        assert self.sock.exists(), self.proc.stderr.read() if self.proc.poll() is not None else "no socket"
        self.env = {k: v for k, v in os.environ.items() if k not in ("CLEANROOM_HOST", "CLEANROOM_TOKEN")}
        self.env["LC_ALL"] = "C.UTF-8"

    def cli(self, *args, host=True, timeout=30, stdin=None):
        cmd = [self.binary, *[str(a) for a in args]]
        if host:
            cmd += ["--host", str(self.sock)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env, input=stdin)

    def cli_bytes(self, *args):
        return subprocess.run([self.binary, *[str(a) for a in args], "--host", str(self.sock)],
                              capture_output=True, timeout=30, env=self.env)

    def api(self, service, method, body):
        out = subprocess.run(["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", str(self.sock),
                              "-H", "Content-Type: application/json", "--data-binary", "@-",
                              f"http://localhost/cleanroom.v1.{service}/{method}"],
                             input=json.dumps(body).encode(), capture_output=True, timeout=30).stdout
        payload, _, status = out.rpartition(b"\n")
        assert status == b"200", payload
        return json.loads(payload)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture
def server(cleanroom_bin):
    root = Path(tempfile.mkdtemp(prefix="cleanroom-admin-", dir="/var/tmp"))
    os.chmod(root, 0o711)
    s = Server(cleanroom_bin, root)
    yield s
    s.stop()
    subprocess.run(["rm", "-rf", str(root)])


def err_line(r):
    return r.stderr.splitlines()[0] if r.stderr else ""


# ---- status ---------------------------------------------------------------------------------------------------

def test_status(server):
    r = server.cli("status")
    assert r.returncode == 0, r.stderr
    fields = dict(re.match(r"^(\w[\w ]*):\s+(.*)$", line).groups() for line in r.stdout.splitlines()
                  if not line.startswith(" "))
    assert fields["endpoint"] == f"unix://{server.sock}"
    assert re.fullmatch(r"\d+\.\d+\.\d+", fields["version"])
    assert re.fullmatch(r"\d+s \(since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\)", fields["uptime"]), fields["uptime"]
    assert fields["sandboxes"] == "0 active" and fields["executions"] == "0 running"
    assert fields["backends"].startswith("netns (available, default)")

    r = server.cli("status", "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)["status"]
    assert st["endpoint"] == f"unix://{server.sock}" and st["version"] == fields["version"]
    assert st["backends"][0]["name"] == "netns" and st["backends"][0]["isDefault"] is True
    assert len(r.stdout.strip().splitlines()) == 1, "one JSON document on one line"


def test_no_server(server, tmp_path):
    nowhere = tmp_path / "nothing.sock"
    for args in (["status"], ["sandbox", "ls"], ["execution", "ls"], ["audit", "ls"], ["sandbox", "get", "sb-x"]):
        r = server.cli(*args, "--host", nowhere, host=False)
        assert r.returncode == 1, (args, r)
        assert f"no server at unix://{nowhere}; start one with `cleanroom serve`" in err_line(r), r.stderr
        assert r.stderr.count("error[") == 1, r.stderr
        assert r.stdout == ""
    # the endpoint also comes from $CLEANROOM_HOST
    env = dict(server.env, CLEANROOM_HOST=f"unix://{nowhere}")
    r = subprocess.run([server.binary, "status"], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 1 and f"no server at unix://{nowhere}" in r.stderr, r.stderr
    # and a bad endpoint is a clear error too
    r = server.cli("status", "--host", "ftp://example.invalid", host=False)
    assert r.returncode == 1 and "unsupported endpoint" in r.stderr, r.stderr


# ---- doctor ---------------------------------------------------------------------------------------------------

def test_doctor_from_server(server):
    r = server.cli("doctor", "--json")
    doc = json.loads(r.stdout)
    assert doc["source"] == "server" and doc["endpoint"] == f"unix://{server.sock}"
    checks = doc["doctor"]["checks"]
    names = [c["name"] for c in checks]
    assert "user namespaces" in names and "cgroups" in names
    failed = [c for c in checks if c["status"] == "DOCTOR_CHECK_STATUS_FAIL"]
    assert r.returncode == (1 if failed else 0), r
    caps = {c["key"]: c.get("value", False) for c in doc["capabilities"]["capabilities"]}
    assert doc["capabilities"]["backendName"] == "netns" and caps["network_default_deny"] is True

    t = server.cli("doctor")
    assert t.returncode == r.returncode, t
    out = t.stdout
    assert out.startswith(f"host checks of the server at unix://{server.sock}:\n")
    assert re.search(r"^CHECK +STATUS +DETAIL$", out, re.M)
    for c in checks:
        status = c["status"].removeprefix("DOCTOR_CHECK_STATUS_").lower()
        assert re.search(rf"^{re.escape(c['name'])} +{status} ", out, re.M), (c, out)
        if c.get("fix"):
            assert f"  {c['name']}: {c['fix']}" in out
    assert re.search(r"^network_default_deny +true$", out, re.M)
    assert re.search(r"^network_host_port_filtering +false$", out, re.M)
    assert re.search(rf"^{sum(c['status'].endswith('PASS') for c in checks)} passed, .* {len(failed)} failed$", out, re.M)


def test_doctor_without_server(server, tmp_path):
    nowhere = tmp_path / "nothing.sock"
    r = server.cli("doctor", "--host", nowhere, host=False)
    assert r.returncode == 1, r
    assert f"no server at unix://{nowhere}; running the host checks locally" in r.stderr
    assert r.stdout.startswith(f"local host checks (no server answered at unix://{nowhere}):\n")
    assert re.search(rf"^server +fail +no server at unix://{re.escape(str(nowhere))}$", r.stdout, re.M)
    assert re.search(r"^user namespaces +(pass|warn|fail) ", r.stdout, re.M)
    assert "  server: start one with `cleanroom serve`" in r.stdout
    assert "(local checks)" in r.stdout

    j = server.cli("doctor", "--json", "--host", nowhere, host=False)
    doc = json.loads(j.stdout)
    assert j.returncode == 1 and doc["source"] == "local"
    assert doc["doctor"]["checks"][0] == {"name": "server", "status": "DOCTOR_CHECK_STATUS_FAIL",
                                          "detail": f"no server at unix://{nowhere}",
                                          "fix": "start one with `cleanroom serve` (or install a unit: `cleanroom serve install`)"}
    assert doc["capabilities"]["backendName"] == "netns"
    # the local checks are the backend's own, the same the server runs
    served = json.loads(server.cli("doctor", "--json").stdout)
    assert [c["name"] for c in doc["doctor"]["checks"][1:]] == [c["name"] for c in served["doctor"]["checks"]]


def test_doctor_unknown_backend(server):
    r = server.cli("doctor", "--backend", "vm")
    assert r.returncode == 1
    assert "error[backend_unavailable]: unknown backend 'vm'" in r.stderr, r.stderr


# ---- errors and empty lists -----------------------------------------------------------------------------------

def test_unknown_ids(server):
    for args, hint in ((["sandbox", "get", "sb-nope"], "sandbox ls --all"),
                       (["sandbox", "rm", "sb-nope"], "sandbox ls --all"),
                       (["sandbox", "events", "sb-nope"], "sandbox ls --all"),
                       (["sandbox", "cp", "sb-nope:a.txt", "-"], "sandbox ls"),
                       (["execution", "get", "ex-nope"], "execution ls"),
                       (["execution", "logs", "ex-nope"], "execution ls"),
                       (["execution", "cancel", "ex-nope"], "execution ls")):
        r = server.cli(*args)
        assert r.returncode == 1, (args, r)
        assert re.match(rf"^cleanroom {args[0]} {args[1]}: error\[not_found\]: .*nope", err_line(r)), r.stderr
        assert r.stderr.splitlines()[1].startswith("hint: ") and hint in r.stderr, r.stderr
        assert r.stdout == ""
    # with its sandbox named, GetExecution itself answers
    r = server.cli("execution", "get", "sb-nope", "ex-nope")
    assert r.returncode == 1 and "error[not_found]" in r.stderr, r.stderr


def test_usage_errors(server):
    for args in (["sandbox", "get"], ["sandbox", "get", "a", "b"], ["sandbox", "rm"], ["sandbox", "cp", "a", "b"],
                 ["sandbox", "cp", "sb-1:a", "sb-2:b"], ["sandbox", "cp", "sb-1:a", "-", "--json"],
                 ["sandbox", "nope"], ["sandbox", "ls", "--bogus"], ["status", "extra"],
                 ["execution", "cancel", "ex-1", "--signal", "BOGUS"], ["execution", "get"],
                 ["audit", "ls", "--limit", "0"], ["audit", "ls", "--after", "x"], ["audit", "ls", "extra"]):
        r = server.cli(*args)
        assert r.returncode == 2, (args, r)
        assert "error[usage_invalid]" in r.stderr, (args, r.stderr)
    r = server.cli("sandbox", "--help", host=False)
    assert r.returncode == 0 and all(c in r.stdout for c in ("ls", "get", "rm", "events", "cp"))
    r = server.cli("execution", "logs", "--help", host=False)
    assert r.returncode == 0 and r.stdout.startswith("Usage: cleanroom execution logs")


def test_empty_lists(server):
    r = server.cli("sandbox", "ls")
    assert r.returncode == 0 and r.stdout.split() == ["SANDBOX", "STATUS", "BACKEND", "CREATED", "EXPIRES", "RUN",
                                                      "POLICY", "REASON"], r
    assert json.loads(server.cli("sandbox", "ls", "--json").stdout) == {}
    r = server.cli("execution", "ls")
    assert r.returncode == 0 and r.stdout.split()[:3] == ["EXECUTION", "SANDBOX", "STATUS"], r
    assert json.loads(server.cli("execution", "ls", "--json").stdout) == {}


def test_audit_ls(server):
    r = server.cli("audit", "ls")
    assert r.returncode == 0, r
    assert r.stdout.splitlines()[0].split() == ["SEQ", "TIME", "KIND", "REASON", "SANDBOX", "EXECUTION", "ACTOR",
                                                "DETAIL"]
    j = server.cli("audit", "ls", "--json", "--limit", "5")
    assert j.returncode == 0, j
    assert len(json.loads(j.stdout).get("events", [])) <= 5


# ---- sandboxes and executions (root) --------------------------------------------------------------------------

def compiled(server, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "cleanroom.yaml").write_text(DENY_ALL)
    r = subprocess.run([server.binary, "policy", "compile", "--json", "-C", str(repo)], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def create_sandbox(server, tmp_path, run_id="run-admin"):
    sb = server.api("SandboxService", "CreateSandbox", {"compiledPolicyJson": compiled(server, tmp_path),
                                                        "runId": run_id})["sandbox"]
    assert sb["status"] == "SANDBOX_STATUS_PROVISIONING", sb
    return wait_ready(lambda m, b: server.api("SandboxService", m, b), sb["sandboxId"])


def start(server, sid, *argv):
    return server.api("ExecutionService", "CreateExecution", {"sandboxId": sid, "command": list(argv)})["execution"]


def wait_terminal(server, sid, eid):
    deadline = time.time() + 20
    while time.time() < deadline:
        e = json.loads(server.cli("execution", "get", sid, eid, "--json").stdout)["execution"]
        if e["status"] not in ("EXECUTION_STATUS_RUNNING", "EXECUTION_STATUS_QUEUED"):
            return e
        time.sleep(0.1)
    raise AssertionError(f"{eid} did not finish")


@needs_root
def test_sandbox_commands(server, tmp_path):
    sb = create_sandbox(server, tmp_path)
    sid = sb["sandboxId"]

    r = server.cli("sandbox", "ls")
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert len(lines) == 2, r.stdout
    row = lines[1].split()
    assert row[:3] == [sid, "ready", "netns"], row
    assert re.fullmatch(r"\d+s", row[3]) and row[4] == "ago", row  # created "Ns ago"
    assert row[5:7] in (["in", "59m"], ["in", "1h"]), row  # the default TTL of an hour
    assert "run-admin" in row and sb["policyHash"].removeprefix("sha256:")[:12] in row
    listed = json.loads(server.cli("sandbox", "ls", "--json").stdout)["sandboxes"]
    assert [s["sandboxId"] for s in listed] == [sid]

    r = server.cli("sandbox", "get", sid)
    assert r.returncode == 0, r
    fields = dict(line.split(":", 1) for line in r.stdout.splitlines())
    fields = {k: v.strip() for k, v in fields.items()}
    assert fields["sandbox"] == sid and fields["status"] == "ready" and fields["backend"] == "netns"
    assert fields["policy_hash"] == sb["policyHash"] and fields["run_id"] == "run-admin"
    assert fields["actor"] == "uid:0" and "reason" not in fields
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+s ago\)", fields["created"]), fields
    got = json.loads(server.cli("sandbox", "get", sid, "--json").stdout)["sandbox"]
    assert got["sandboxId"] == sid and got["status"] == "SANDBOX_STATUS_READY"

    r = server.cli("sandbox", "events", sid)
    assert r.returncode == 0, r
    assert [line.split()[1] for line in r.stdout.splitlines()] == ["provisioning", "ready"], r.stdout
    j = server.cli("sandbox", "events", sid, "--json")
    events = [json.loads(line) for line in j.stdout.splitlines()]
    assert [e["status"] for e in events] == ["SANDBOX_STATUS_PROVISIONING", "SANDBOX_STATUS_READY"]

    # --follow ends when the sandbox stops
    follow = subprocess.Popen([server.binary, "sandbox", "events", sid, "--follow", "--host", str(server.sock)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=server.env)
    time.sleep(0.5)
    assert follow.poll() is None, "--follow waits for more"

    r = server.cli("sandbox", "rm", sid, "sb-nope")
    assert r.returncode == 1, r
    assert r.stdout.startswith(f"{sid}: terminated"), r.stdout
    assert "error[not_found]" in r.stderr and "sb-nope" in r.stderr
    out, _ = follow.communicate(timeout=20)
    assert follow.returncode == 0
    assert [line.split()[1] for line in out.splitlines()][-1] == "stopped", out

    assert len(server.cli("sandbox", "ls").stdout.splitlines()) == 1, "a stopped sandbox is not listed by default"
    r = server.cli("sandbox", "ls", "--all")
    row = r.stdout.splitlines()[1].split()
    assert row[:2] == [sid, "stopped"] and row[5] == "-", row  # a stopped sandbox does not expire
    r = server.cli("sandbox", "rm", sid, "--json")  # idempotent
    assert r.returncode == 0, r
    doc = json.loads(r.stdout)
    assert doc["sandboxId"] == sid and doc["terminated"] is True, doc


@needs_root
def test_sandbox_cp(server, tmp_path):
    sid = create_sandbox(server, tmp_path)["sandboxId"]
    local = tmp_path / "tree"
    (local / "sub").mkdir(parents=True)
    (local / "a.txt").write_text("alpha\n")
    (local / "sub" / "b.bin").write_bytes(bytes(range(256)) * 4)
    (local / "sub" / "run.sh").write_text("#!/bin/sh\necho ran\n")
    os.chmod(local / "sub" / "run.sh", 0o755)
    os.symlink("a.txt", local / "link")
    os.mkfifo(local / "fifo")

    r = server.cli("sandbox", "cp", local, f"{sid}:/workspace/in")
    assert r.returncode == 0, r
    assert r.stdout.startswith(f"copied {local} to {sid}:/workspace/in ("), r.stdout
    assert "skipping" in r.stderr and "fifo" in r.stderr

    p = server.cli_bytes("sandbox", "cp", f"{sid}:in/tree/sub/b.bin", "-")
    assert p.returncode == 0 and p.stdout == bytes(range(256)) * 4, p.stderr
    p = server.cli_bytes("sandbox", "cp", f"{sid}:/workspace/in/tree/link", "-")
    assert p.returncode == 0 and p.stdout == b"alpha\n", p.stderr
    # the mode survives: the script runs inside the sandbox
    e = start(server, sid, "in/tree/sub/run.sh")
    assert wait_terminal(server, sid, e["executionId"])["status"] == "EXECUTION_STATUS_SUCCEEDED"

    # a single file, into the workspace root, with --json
    single = tmp_path / "one.txt"
    single.write_text("one\n")
    r = server.cli("sandbox", "cp", single, f"{sid}:", "--json")
    assert r.returncode == 0, r
    up = json.loads(r.stdout)
    assert up["filesWritten"] == "1" and up["bytesWritten"] == "4", up

    # out to a directory (keeps the name) and to a file name
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    r = server.cli("sandbox", "cp", f"{sid}:one.txt", out_dir)
    assert r.returncode == 0 and (out_dir / "one.txt").read_text() == "one\n", r
    r = server.cli("sandbox", "cp", f"{sid}:in/tree/a.txt", out_dir / "renamed", "--json")
    assert r.returncode == 0 and (out_dir / "renamed").read_text() == "alpha\n", r
    down = json.loads(r.stdout)
    assert down["sizeBytes"] == "6" and "data" not in down, down

    r = server.cli("sandbox", "cp", f"{sid}:missing.txt", out_dir / "x")
    assert r.returncode == 1 and "missing.txt" in r.stderr and not (out_dir / "x").exists(), r
    r = server.cli("sandbox", "cp", tmp_path / "does-not-exist", f"{sid}:")
    assert r.returncode == 1 and "does-not-exist" in r.stderr, r


@needs_root
def test_execution_commands(server, tmp_path):
    sid = create_sandbox(server, tmp_path)["sandboxId"]
    done = start(server, sid, "sh", "-c", "echo out; echo err >&2; exit 3")["executionId"]
    wait_terminal(server, sid, done)

    r = server.cli("execution", "ls")
    assert r.returncode == 0, r
    rows = {line.split()[0]: line for line in r.stdout.splitlines()[1:]}
    row = rows[done].split()
    assert row[1:4] == [sid, "failed", "3"], row
    assert rows[done].endswith("sh -c 'echo out; echo err >&2; exit 3'"), rows[done]
    assert [e["executionId"] for e in json.loads(server.cli("execution", "ls", "--sandbox", sid, "--json").stdout)
            ["executions"]] == [done]

    for args in ((done,), (sid, done), (done, "--sandbox", sid)):
        r = server.cli("execution", "get", *args)
        assert r.returncode == 0, (args, r)
        fields = {k: v.strip() for k, v in (line.split(":", 1) for line in r.stdout.splitlines())}
        assert fields["execution"] == done and fields["sandbox"] == sid, fields
        assert fields["status"] == "failed" and fields["exit_code"] == "3", fields
        assert fields["command"] == "sh -c 'echo out; echo err >&2; exit 3'"
    e = json.loads(server.cli("execution", "get", done, "--json").stdout)["execution"]
    assert e["exitCode"] == 3 and e["status"] == "EXECUTION_STATUS_FAILED"

    # logs: stdout and stderr apart, the execution's exit code as ours
    r = server.cli("execution", "logs", done)
    assert (r.returncode, r.stdout, r.stderr) == (3, "out\n", "err\n"), r
    j = server.cli("execution", "logs", done, "--json")
    assert j.returncode == 3
    events = [json.loads(line) for line in j.stdout.splitlines()]
    assert events[-1]["exit"]["exitCode"] == 3 and any("stdout" in ev for ev in events)

    # cancel a running one while another client follows its output
    slow = start(server, sid, "sh", "-c", "echo started; exec sleep 60")["executionId"]
    follow = subprocess.Popen([server.binary, "execution", "logs", slow, "--follow", "--host", str(server.sock)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=server.env)
    deadline = time.time() + 10
    while time.time() < deadline and "started" not in server.cli("execution", "logs", slow).stdout:
        time.sleep(0.1)
    r = server.cli("execution", "logs", slow)
    assert r.returncode == 0 and r.stdout == "started\n", r  # not terminal: the output so far, exit 0
    r = server.cli("execution", "cancel", slow, "--signal", "TERM")
    assert r.returncode == 0 and r.stdout == f"{slow}: sent SIGTERM (status running)\n", r
    out, _ = follow.communicate(timeout=20)
    assert out == "started\n" and follow.returncode == 128 + 15, (out, follow.returncode)
    final = wait_terminal(server, sid, slow)
    assert final["status"] == "EXECUTION_STATUS_CANCELED"
    r = server.cli("execution", "cancel", slow)
    assert r.returncode == 0 and r.stdout == f"{slow}: not signalled, already canceled\n", r
    r = server.cli("execution", "cancel", slow, "--json")
    assert json.loads(r.stdout)["status"] == "EXECUTION_STATUS_CANCELED" and "accepted" not in json.loads(r.stdout)

    r = server.cli("status", "--json")
    assert json.loads(r.stdout)["status"]["sandboxesActive"] == 1


@needs_root
def test_audit_ls_of_a_sandbox(server, tmp_path):
    sid = create_sandbox(server, tmp_path)["sandboxId"]
    wait_terminal(server, sid, start(server, sid, "true")["executionId"])
    assert server.cli("sandbox", "rm", sid).returncode == 0

    r = server.cli("audit", "ls", "--sandbox", sid)
    assert r.returncode == 0, r
    kinds = [line.split()[2] for line in r.stdout.splitlines()[1:]]
    for kind in ("sandbox.created", "execution.started", "sandbox.terminated"):
        assert kind in kinds, (kind, r.stdout)  # the sandbox's lifecycle is audited
    j = json.loads(server.cli("audit", "ls", "--sandbox", sid, "--json").stdout)
    assert [ev["kind"] for ev in j["events"]] == kinds
    assert all(ev["sandboxId"] == sid for ev in j["events"])
    seqs = [int(ev["seq"]) for ev in j["events"]]
    assert seqs == sorted(seqs)
    r = server.cli("audit", "ls", "--sandbox", sid, "--limit", "1")
    assert len(r.stdout.splitlines()) == 2 and f"--after {seqs[0]}" in r.stderr, r
    r = server.cli("audit", "ls", "--sandbox", sid, "--after", seqs[0], "--json")
    assert [int(ev["seq"]) for ev in json.loads(r.stdout)["events"]] == seqs[1:]
    r = server.cli("audit", "ls", "--sandbox", sid, "--kind", "execution.started", "--json")
    assert [ev["kind"] for ev in json.loads(r.stdout)["events"]] == ["execution.started"], r.stdout


# ---- serve install --------------------------------------------------------------------------------------------

def install(cleanroom_bin, *args, cwd=None):
    return subprocess.run([cleanroom_bin, "serve", "install", *[str(a) for a in args]], capture_output=True, text=True,
                          timeout=20, cwd=cwd)


def test_serve_install_dry_run(cleanroom_bin, tmp_path):
    r = install(cleanroom_bin, "--unit-dir", tmp_path, "--dry-run")
    assert r.returncode == 0, r
    assert list(tmp_path.iterdir()) == [], "a dry run writes nothing"
    assert r.stdout.startswith(f"would write {tmp_path}/cleanroom.service:\n")
    assert f"\nExecStart={os.path.realpath(cleanroom_bin)} serve\n" in r.stdout
    assert "systemctl daemon-reload && systemctl enable --now cleanroom" in r.stdout
    j = install(cleanroom_bin, "--unit-dir", tmp_path, "--dry-run", "--json")
    doc = json.loads(j.stdout)
    assert doc["written"] is False and doc["unitPath"] == f"{tmp_path}/cleanroom.service"
    assert doc["unit"] in r.stdout


def test_serve_install_writes_the_unit(cleanroom_bin, tmp_path):
    units = tmp_path / "units"
    units.mkdir()
    r = install(cleanroom_bin, "--unit-dir", units, "--socket", "run/api.sock", "--state-dir",
                "/var/lib/clean room%1", cwd=tmp_path)
    assert r.returncode == 0, r
    unit = units / "cleanroom.service"
    assert [p.name for p in units.iterdir()] == ["cleanroom.service"], "no temporary file left"
    assert stat.S_IMODE(unit.stat().st_mode) == 0o644
    text = unit.read_text()
    assert r.stdout.startswith(f"wrote {unit}:\n") and text in r.stdout
    lines = text.splitlines()
    directives = [line for line in lines if line and not line.startswith("#")]
    exec_start = [line for line in directives if line.startswith("ExecStart=")]
    # relative paths made absolute; '%' doubled and a space quoted, as systemd reads them
    assert exec_start == [f'ExecStart={os.path.realpath(cleanroom_bin)} serve --socket {tmp_path}/run/api.sock '
                          f'--state-dir "/var/lib/clean room%%1"'], exec_start
    for d in ("[Unit]", "[Service]", "[Install]", "Type=simple", "Restart=on-failure", "KillMode=mixed",
              "UMask=0077", "WantedBy=multi-user.target"):
        assert d in directives, d
    # no directive that would break the namespace backend is set (they are only named in comments)
    for bad in ("ProtectSystem", "PrivateUsers", "RestrictNamespaces", "NoNewPrivileges", "SystemCallFilter",
                "CapabilityBoundingSet", "PrivateTmp", "ProtectControlGroups", "PrivateNetwork"):
        assert not any(line.startswith(bad + "=") for line in directives), bad
        assert any(bad + "=" in line for line in lines if line.startswith("#")), f"{bad} explained"

    # systemd itself accepts it (every directive, the ExecStart= quoting, the binary)
    analyze = shutil.which("systemd-analyze")
    if analyze:
        v = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
        assert v.returncode == 0 and str(unit) not in v.stderr, v.stderr

    # writing again replaces the unit
    r = install(cleanroom_bin, "--unit-dir", units)
    assert r.returncode == 0 and "ExecStart=" in unit.read_text() and "--socket" not in unit.read_text()

    r = install(cleanroom_bin, "--unit-dir", tmp_path / "missing")
    assert r.returncode == 1 and "error[internal]: write" in r.stderr and "missing" in r.stderr, r
    r = install(cleanroom_bin, "--bogus")
    assert r.returncode == 2 and "error[usage_invalid]" in r.stderr
