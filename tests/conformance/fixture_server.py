# SPDX-License-Identifier: Apache-2.0
"""The server under test and how the conformance cases talk to it: only
through the CLI a user has (`cleanroom serve`, `cleanroom exec -c POLICY
--json --workspace DIR -- sh -c SCRIPT`, `cleanroom audit ls --sandbox ID
--json`), so the suite checks what a user would see and runs against any
backend a server offers.

Inside a sandbox the cases run probe.py (uploaded with the workspace), which
prints one line `PROBE {json}` per probe; `Run.probes` collects them by tag.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SANDBOX_PY = "/usr/bin/python3"  # the interpreter the sandbox's image provides
EGRESS_POOL = "10.213.64.0/20"


class ServerStartError(RuntimeError):
    pass


class Run:
    """One `cleanroom exec` invocation."""

    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.err = argv, rc, err
        lines = out.rstrip("\n").split("\n")
        try:
            self.record = json.loads(lines[-1])
        except ValueError:
            self.record = {}
            lines.append("")
        self.out = "\n".join(lines[:-1])
        self.probes = {}
        for line in self.out.split("\n"):
            if line.startswith("PROBE "):
                p = json.loads(line[6:])
                self.probes[p["tag"]] = p

    sandbox_id = property(lambda self: self.record.get("sandbox_id"))
    run_id = property(lambda self: self.record.get("run_id"))
    policy_hash = property(lambda self: self.record.get("policy_hash"))
    exit_code = property(lambda self: self.record.get("exit_code"))

    def probe(self, tag):
        assert tag in self.probes, f"probe {tag!r} printed nothing; {self!r}"
        return self.probes[tag]

    def started(self):
        """Asserts that the workload ran (the sandbox was created and the command exited)."""
        assert self.record.get("status") in ("succeeded", "failed"), \
            f"the workload did not run: {self.record.get('error') or self.record}; {self!r}"
        return self

    def __repr__(self):
        return (f"<exec rc={self.rc}\n--- argv ---\n{self.argv}\n--- stdout ---\n{self.out}\n"
                f"--- record ---\n{json.dumps(self.record)}\n--- stderr ---\n{self.err}>")


class Server:
    """`cleanroom serve` with a private socket and state directory, its
    egress upstream resolver pointed at the fixture DNS and the sandbox pool
    at EGRESS_POOL."""

    def __init__(self, binary, backend, resolver, egress_flags=True):
        self.binary = binary
        self.backend = backend
        # the sandbox's users must be able to traverse it: not pytest's private tmp
        self.dir = Path(tempfile.mkdtemp(prefix="crconf-srv-", dir="/var/tmp"))
        os.chmod(self.dir, 0o711)
        self.sock = self.dir / "run" / "cleanroom.sock"
        self.host = f"unix://{self.sock}"
        self.state = self.dir / "state"
        self.work = self.dir / "work"
        self.work.mkdir()
        self.home = self.dir / "home"
        self.home.mkdir()
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("GIT_", "CLEANROOM_")) and k.lower() not in
                    ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
        self.env.update(HOME=str(self.home), LC_ALL="C.UTF-8", GIT_CONFIG_NOSYSTEM="1",
                        GIT_CEILING_DIRECTORIES=str(self.dir))
        self.argv = [binary, "serve", "--socket", str(self.sock), "--state-dir", str(self.state)]
        if egress_flags:
            self.argv += ["--egress-resolver", resolver, "--egress-pool", EGRESS_POOL]
        self.proc = None
        self.counter = 0

    def log(self):
        try:
            return (self.dir / "serve.log").read_text(errors="replace")
        except OSError:
            return ""

    def start(self):
        logf = open(self.dir / "serve.log", "ab")
        self.proc = subprocess.Popen(self.argv, stdout=logf, stderr=subprocess.STDOUT, env=self.env)
        logf.close()
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(f"`{' '.join(self.argv[1:])}` exited with {self.proc.returncode}:\n"
                                       f"{self.log().strip()}")
            if self.sock.exists() and self.cli("status", "--json").returncode == 0:
                return self
            time.sleep(0.05)
        raise ServerStartError("the server did not answer within 15 s:\n" + self.log())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the CLI
    def cli(self, *args, timeout=60):
        """`cleanroom ARGS... --host THIS` (the admin commands take options in any order)."""
        argv = [self.binary, *[str(a) for a in args], "--host", self.host]
        return subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=timeout)

    def json(self, *args):
        p = self.cli(*args)
        assert p.returncode == 0, f"cleanroom {' '.join(map(str, args))} failed: {p.stderr}"
        return json.loads(p.stdout)

    def capabilities(self):
        """{capability: bool} of the server's backend (doctor --json)."""
        p = self.cli("doctor", "--json")
        doc = json.loads(p.stdout)
        caps = doc.get("capabilities", {}).get("capabilities", [])
        return {c["key"]: bool(c.get("value", False)) for c in caps}

    # ---- sandboxes
    def workspace(self, policy, files=None, ca_pem=None):
        """A fresh workspace directory (uploaded as /workspace) and the policy
        file beside it; returns (workspace, policy_path)."""
        self.counter += 1
        root = self.work / f"w{self.counter}"
        ws = root / "ws"
        ws.mkdir(parents=True)
        shutil.copy(HERE / "probe.py", ws / "probe.py")
        if ca_pem:
            shutil.copy(ca_pem, ws / "ca.pem")
        for rel, content in (files or {}).items():
            p = ws / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content if isinstance(content, bytes) else content.encode())
        pol = root / "cleanroom.yaml"
        pol.write_text(textwrap.dedent(policy).lstrip("\n"))
        return ws, pol

    def exec(self, policy, script, files=None, ca_pem=None, keep=False, sandbox_id=None, timeout=120,
             extra=()):
        """Runs `sh -c SCRIPT` in a new sandbox with POLICY (or in sandbox_id)."""
        args = ["exec", "--host", self.host, "--json", "--timeout", "90s", *extra]
        if sandbox_id:
            args += ["--sandbox-id", sandbox_id, "--no-workspace"]
        else:
            ws, pol = self.workspace(policy, files, ca_pem)
            args += ["-c", str(pol), "--workspace", str(ws)]
            if keep:
                args.append("--keep")
        args += ["--", "sh", "-c", script]
        p = subprocess.run([self.binary, *args], capture_output=True, text=True, env=self.env, timeout=timeout,
                           cwd=str(self.work))
        return Run(args, p.returncode, p.stdout, p.stderr)

    def run_in_sandbox(self, policy_yaml, shell_cmd, workspace_files=None, **kw):
        """The brief's name for exec(): a Run with .exit_code, .out, .err,
        .sandbox_id, .run_id, .policy_hash and the parsed probes."""
        return self.exec(policy_yaml, shell_cmd, files=workspace_files, **kw)

    def start_exec(self, sandbox_id, script):
        """A long-running command in an existing sandbox (Popen)."""
        args = [self.binary, "exec", "--host", self.host, "--sandbox-id", sandbox_id, "--no-workspace", "--",
                "sh", "-c", script]
        return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.env,
                                cwd=str(self.work))

    def remove(self, sandbox_id):
        self.cli("sandbox", "rm", sandbox_id)

    # ---- the audit trail
    def audit(self, sandbox_id):
        """Every audit event of the sandbox, oldest first (all pages)."""
        events, after = [], None
        while True:
            args = ["audit", "ls", "--sandbox", sandbox_id, "--json", "--limit", "1000"]
            if after:
                args += ["--after", after]
            page = self.json(*args)
            batch = page.get("events", [])
            events += batch
            if not page.get("truncated") or not batch:
                return events
            after = batch[-1]["seq"]

    def audit_events(self, sandbox_id):
        """The sandbox's egress events (kind egress.*), oldest first."""
        return self.egress_events(sandbox_id)

    def egress_events(self, sandbox_id):
        return [e for e in self.audit(sandbox_id) if e.get("kind", "").startswith(("egress.", "registry."))]

    def wait_events(self, sandbox_id, predicate, count=1, timeout=5.0):
        """The sandbox's egress events matching predicate, once at least
        `count` exist (the gateway's lines reach the trail asynchronously);
        whatever matched at the deadline otherwise."""
        deadline = time.time() + timeout
        while True:
            found = [e for e in self.egress_events(sandbox_id) if predicate(e)]
            if len(found) >= count or time.time() > deadline:
                return found
            time.sleep(0.2)


# ---- shell snippets for the sandbox ------------------------------------------

def probe(tag, *args):
    """A shell line running probe.py; its result is Run.probe(tag)."""
    return " ".join([SANDBOX_PY, "/workspace/probe.py", shq(tag), *[shq(a if isinstance(a, Raw) else str(a))
                                                                       for a in args]])


def curl(tag, url, *opts, proxy=False, cacert=True, max_time=5):
    """curl through probe.py: status, headers and body come back as JSON.
    Without proxy=True the proxy variables are ignored (--noproxy '*'), so
    the transparent path is what is tested."""
    args = ["-sS", "-i", "--max-time", str(max_time)]
    if not proxy:
        args += ["--noproxy", "*"]
    if cacert:
        args += ["--cacert", "/workspace/ca.pem"]
    return probe(tag, "curl", *args, *opts, url)


def shq(s):
    if isinstance(s, Raw):
        return str(s)
    if s and all(c.isalnum() or c in "@%+=:,./-_" for c in s):
        return s
    return "'" + s.replace("'", "'\\''") + "'"


def body_fields(body):
    """{"local":..., "host":..., ...} from a fixture HTTP body."""
    first = body.strip().split("\n")[0]
    if not first.startswith("fixture-http "):
        return {}
    return dict(kv.split("=", 1) for kv in first.split()[1:] if "=" in kv)


class Raw(str):
    """A shell word passed unquoted (e.g. '"$GW"')."""


# the gateway's address as the sandbox sees it (its resolver), for scripts
GW_LINE = "GW=$(sed -n 's/^nameserver[[:space:]]*//p' /etc/resolv.conf | head -n 1)"
GW = Raw('"$GW"')


# ---- what a probe result must look like ------------------------------------------

def expect_ok(p, ip, host=None, port=None):
    """An answer of the fixture's server at ip (and for host), status 200."""
    assert p["rc"] == 0 and p["status"] == 200, f"expected the fixture's answer from {ip}, got {p}"
    f = body_fields(p["body"])
    assert f.get("local") == ip, f"answered by {f.get('local')}, expected {ip}: {p}"
    if host is not None:
        assert f.get("host", "").split(":")[0].rstrip(".").lower() == host, f"Host {f.get('host')}: {p}"
    if port is not None:
        assert f.get("port") == str(port), p
    return f


def expect_http_denied(p):
    """A plain-HTTP deny: 403 from the gateway with the reason header, not the fixture's body."""
    assert p["rc"] == 0 and p["status"] == 403, f"expected 403 from the gateway, got {p}"
    assert p["headers"].get("x-cleanroom-reason") == "host_not_allowed", p
    assert "x-fixture" not in p["headers"] and not body_fields(p["body"]), p


def expect_refused(p):
    """A deny without HTTP (TLS closed, CONNECT refused, connection reset):
    no fixture answer, and promptly (curl exit 28 would be a timeout)."""
    if p.get("kind") == "curl":
        assert p["rc"] != 0 or p["status"] in (403, 502, 503), f"expected a refusal, got {p}"
        assert not body_fields(p["body"]) and "x-fixture" not in p["headers"], f"the fixture answered: {p}"
        assert p["rc"] != 28, f"the connection timed out instead of being refused promptly: {p}"
    elif p.get("kind") == "tcp":
        assert "echo:" not in p["received"] and "fixture-http" not in p["received"], f"the fixture answered: {p}"
        assert p.get("error") != "timeout", f"timed out instead of being refused promptly: {p}"
    else:
        raise AssertionError(f"no refusal rule for {p}")


def expect_unresolved(p):
    """The system resolver found nothing (the gateway answered NXDOMAIN)."""
    if p.get("kind") == "curl":
        assert p["rc"] == 6, f"expected 'could not resolve host' (curl 6), got {p}"
    else:
        assert p["addrs"] == [], f"the name resolved: {p}"
