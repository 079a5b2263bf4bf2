# SPDX-License-Identifier: Apache-2.0
"""The namespace backend, driven through tests/driver/sandbox-driver (which
uses the backend vtable exactly as the control plane will). Every isolation
point of the issue is asserted from inside a real sandbox.

Needs root (user-id ranges, cgroups): skipped with a reason otherwise."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
UID_BASE = 0x40000000

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the namespace backend's tests need root")


def find_driver():
    env = os.environ.get("CLEANROOM_DRIVER")
    if env:
        return env
    for build in sorted(ROOT.glob("build*/tests/driver/sandbox-driver")):
        return str(build)
    return None


@pytest.fixture(scope="module")
def driver():
    d = find_driver()
    if not d or not os.access(d, os.X_OK):
        pytest.skip("sandbox-driver not built (set CLEANROOM_DRIVER)")
    return d


@pytest.fixture
def state():
    # The sandbox's users must be able to traverse the state directory, so it
    # cannot live under pytest's private (0700) tmp_path.
    d = tempfile.mkdtemp(prefix="cleanroom-test-", dir="/var/tmp")
    os.chmod(d, 0o711)
    yield d
    shutil.rmtree(d, ignore_errors=True)


class Run:
    def __init__(self, proc):
        self.rc, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def __repr__(self):
        return f"<rc={self.rc}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}>"


def run(driver, state, *cmds, args=(), argv=None, timeout=60, input=None, policy=None, tmp=None):
    cmd = [driver, "run", "--state", state]
    if policy:
        p = Path(state) / "policy.yaml"
        p.write_text(policy)
        cmd += ["-c", str(p)]
    cmd += list(args)
    for c in cmds:
        cmd += ["-e", c]
    if argv:
        cmd += ["--"] + argv
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
    return Run(proc)


def policy_with(resources):
    lines = "".join(f"    {k}: {v}\n" for k, v in resources.items())
    return f"version: 1\nsandbox:\n  resources:\n{lines}  network:\n    default: deny\n"


def leftovers(state):
    """Everything a sandbox could leave on the host."""
    found = []
    netns = Path(state) / "netns"
    if netns.exists():
        found += [f"state: {p}" for p in netns.iterdir()]
    uids = Path(state) / "netns-uids"
    if uids.exists():
        found += [f"uid slot: {p}" for p in uids.iterdir()]
    for ctl in Path("/sys/fs/cgroup").glob("*/cleanroom/*"):
        if ctl.is_dir():
            found.append(f"cgroup: {ctl}")
    for ctl in Path("/sys/fs/cgroup").glob("cleanroom/*"):
        if ctl.is_dir():
            found.append(f"cgroup: {ctl}")
    with open("/proc/self/mountinfo") as f:
        found += [f"mount: {line.split()[4]}" for line in f if state in line]
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "__agent" in cmdline:
            found.append(f"process {pid}: {cmdline}")
    return found


# ---- basics --------------------------------------------------------------

def test_echo_and_exit_codes(driver, state):
    r = run(driver, state, argv=["/bin/echo", "hello"])
    assert r.rc == 0 and r.out == "hello\n", r
    for code in (0, 1, 7):
        r = run(driver, state, f"exit {code}")
        assert r.rc == code, r
    r = run(driver, state, "kill -9 $$")
    assert r.rc == 137 and "exit=137" in r.err and " oom" not in r.err, r
    assert leftovers(state) == []


def test_stdout_and_stderr_are_kept_apart_and_binary_safe(driver, state):
    proc = subprocess.run([driver, "run", "--state", state, "-e", "printf 'a\\000\\377b'; printf err >&2"],
                          capture_output=True)
    assert proc.returncode == 0, proc
    assert proc.stdout == b"a\x00\xffb"
    assert proc.stderr.startswith(b"err"), proc


def test_stdin_is_forwarded(driver, state):
    r = run(driver, state, "tr a-z A-Z", args=["--stdin"], input="shout\n")
    assert r.rc == 0 and r.out == "SHOUT\n", r


def test_command_not_found(driver, state):
    r = run(driver, state, argv=["/no/such/program"])
    assert r.rc == 127, r
    assert "exit=127" in r.err, r


# ---- isolation -----------------------------------------------------------

def test_host_processes_are_invisible(driver, state):
    r = run(driver, state, "ls /proc | grep -E '^[0-9]+$' | wc -l; cat /proc/1/cmdline | tr '\\0' ' '")
    assert r.rc == 0, r
    count, pid1 = r.out.splitlines()
    assert int(count) <= 6, r  # the agent, the shell, ls, grep, wc (and cat)
    assert "__agent" in pid1, r


def test_host_files_are_invisible(driver, state):
    r = run(driver, state,
            "ls -A /home /root /run /tmp /workspace | tr '\\n' ' '; echo;"
            f"test -e {state} && echo STATE_VISIBLE; test -e /var/lib && echo VARLIB_VISIBLE;"
            "test -e /work && echo WORK_VISIBLE; test -e /srv/. && echo SRV_VISIBLE; echo done")
    assert r.rc == 0, r
    assert "VISIBLE" not in r.out, r
    assert r.out.strip().endswith("done"), r


def test_host_view_is_read_only(driver, state):
    r = run(driver, state,
            "touch /usr/x 2>&1; touch /etc/x 2>&1; touch /x 2>&1; echo ok > /tmp/w && cat /tmp/w;"
            "echo ok > /workspace/w && cat /workspace/w")
    assert r.out.count("Read-only file system") == 3, r
    assert r.out.count("ok") == 2, r


def test_privileged_operations_fail(driver, state):
    script = (
        "mount -t tmpfs none /mnt 2>&1 || echo MOUNT_FAILED;"
        "unshare -U true 2>&1 || echo UNSHARE_FAILED;"
        "echo 1 > /proc/sys/net/ipv4/ip_forward 2>&1 || echo PROCSYS_FAILED;"
        "echo 1 > /proc/sys/kernel/panic 2>&1 || echo PROCSYS2_FAILED;"
        "date -s '2001-01-01' >/dev/null 2>&1 || echo DATE_FAILED;"
        "python3 -c \"import ctypes,os; l=ctypes.CDLL(None,use_errno=True);"
        "print('keyctl', l.syscall(250,0,0,0,0,0), ctypes.get_errno());"
        "print('bpf', l.syscall(321,0,0,0), ctypes.get_errno());"
        "print('perf', l.syscall(298,0,0,-1,-1,0), ctypes.get_errno());"
        "print('userfaultfd', l.syscall(323,0), ctypes.get_errno());"
        "print('ptrace', l.ptrace(16, 999999, 0, 0), ctypes.get_errno())\""
    )
    r = run(driver, state, script)
    for marker in ("MOUNT_FAILED", "UNSHARE_FAILED", "PROCSYS_FAILED", "PROCSYS2_FAILED", "DATE_FAILED"):
        assert marker in r.out, (marker, r)
    for name in ("keyctl", "bpf", "perf", "userfaultfd"):
        assert re.search(rf"^{name} -1 1$", r.out, re.M), (name, r)  # EPERM
    assert re.search(r"^ptrace -1 3$", r.out, re.M), r  # ESRCH: no process outside is addressable


def test_workload_is_root_only_inside(driver, state):
    r = run(driver, state, "id -u; cat /proc/self/uid_map; hostname")
    assert r.rc == 0, r
    uid, mapping, hostname = r.out.splitlines()
    inside, outside, count = map(int, mapping.split())
    assert uid == "0" and inside == 0 and outside >= UID_BASE and count == 65536, r
    assert hostname == "cleanroom"


def test_network_is_empty(driver, state):
    r = run(driver, state, "ls /sys/class/net | tr '\\n' ' '")
    assert r.out.split() == ["lo"], r


# ---- resources -------------------------------------------------------------

def test_memory_bomb_is_oom_killed(driver, state):
    r = run(driver, state, "python3 -c 'x = bytearray(400 << 20); print(len(x))'",
            policy=policy_with({"memory": "64MiB"}))
    assert r.rc == 137, r
    assert "exit=137 oom" in r.err and "out of memory" in r.err, r
    assert leftovers(state) == []


def test_fork_bomb_is_contained(driver, state):
    r = run(driver, state, "for i in $(seq 100); do sleep 3 & done 2>&1 | head -3; wait; echo survived",
            policy=policy_with({"pids": 32}), timeout=60)
    assert "survived" in r.out, r
    assert re.search(r"fork|Resource temporarily unavailable", r.out + r.err), r
    assert leftovers(state) == []


# ---- lifetime --------------------------------------------------------------

def test_processes_are_gone_after_terminate(driver, state):
    marker = f"sleep {4242 + os.getpid() % 1000}"
    r = run(driver, state, f"({marker} &) ; echo started")
    assert r.rc == 0 and "started" in r.out, r
    time.sleep(0.2)
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert out == "", f"left running: {out}"
    assert leftovers(state) == []


def test_writes_persist_across_executions(driver, state):
    r = run(driver, state, "echo kept > /tmp/f; echo home > /workspace/g", "cat /tmp/f /workspace/g")
    assert r.rc == 0 and r.out == "kept\nhome\n", r


def test_concurrent_executions(driver, state):
    # A rendezvous proves the two run at the same time: the first blocks on a
    # fifo until the second writes to it.
    r = run(driver, state,
            "mkfifo /tmp/p; cat /tmp/p",
            "sleep 0.5; echo from-second > /tmp/p; echo second-done",
            args=["--parallel"], timeout=30)
    assert r.rc == 0, r
    assert "[0] from-second" in r.out and "[1] second-done" in r.out, r


def test_leak_100_cycles(driver, state):
    r = run(driver, state, "true", args=["--loop", "100"], timeout=300)
    assert r.rc == 0, r
    assert r.err.count("exit=0") == 100, r
    assert leftovers(state) == []


def test_owner_killed_then_startup_cleanup(driver, state):
    proc = subprocess.Popen([driver, "run", "--state", state, "--id", "victim", "-e", "sleep 300"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 20
    while time.time() < deadline and not any("__agent" in x for x in leftovers(state)):
        time.sleep(0.05)
    assert any("__agent" in x for x in leftovers(state)), "the sandbox never started"
    time.sleep(0.3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any(x.startswith("state:") for x in leftovers(state))  # the record is still there
    out = subprocess.run([driver, "cleanup", "--state", state], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "cleaned 1", out
    assert leftovers(state) == []
    out = subprocess.run([driver, "cleanup", "--state", state], capture_output=True, text=True)
    assert out.stdout.strip() == "cleaned 0", out


# ---- workspace -------------------------------------------------------------

def git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                   env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(repo.parent)})


def test_workspace_round_trip(driver, state, tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / ".gitignore").write_text("secret.env\n")
    (repo / "a.txt").write_text("original\n")
    (repo / "secret.env").write_text("TOKEN=1\n")
    (repo / "sub").mkdir()
    (repo / "sub" / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (repo / "sub" / "run.sh").chmod(0o755)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    (repo / "a.txt").write_text("uncommitted\n")  # uncommitted changes travel too
    (repo / "new.txt").write_text("untracked\n")
    out = tmp_path / "a.out"
    r = run(driver, state,
            "cat a.txt new.txt; ./sub/run.sh; test -e secret.env && echo LEAKED; ls -A | tr '\\n' ' ';"
            "echo modified > a.txt",
            args=["--workspace", str(repo), "--download", f"/workspace/a.txt={out}"])
    assert r.rc == 0, r
    assert r.out.startswith("uncommitted\nuntracked\nran\n"), r
    assert "LEAKED" not in r.out and ".git " not in r.out, r
    assert out.read_text() == "modified\n"


def test_download_is_capped_and_confined(driver, state, tmp_path):
    out = tmp_path / "x"
    proc = subprocess.run([driver, "run", "--state", state, "-e", "head -c 70M /dev/zero > /tmp/big",
                           "--download", f"/tmp/big={out}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 125 and "more than 67108864" in proc.stderr, proc.stderr
    assert leftovers(state) == []


# ---- backend interface -----------------------------------------------------

def test_capabilities_and_doctor(driver):
    caps = json.loads(subprocess.run([driver, "caps"], capture_output=True, text=True).stdout)
    assert caps["backend_name"] == "netns"
    assert caps["capabilities"]["policy_immutability"] is True
    assert caps["capabilities"]["network_default_deny"] is True  # its own network namespace
    # the backend can give a sandbox its link to a gateway; the server declares these only with
    # egress running (test_exec.py::test_capability_mismatch_before_the_workload, --no-egress)
    assert caps["capabilities"]["network_host_port_filtering"] is True
    assert caps["capabilities"]["secret_isolation"] is False
    doc = subprocess.run([driver, "doctor"], capture_output=True, text=True).stdout
    assert re.search(r"^pass\s+user namespaces", doc, re.M), doc
    assert re.search(r"^(pass|warn)\s+cgroups", doc, re.M), doc


# ---- image root ------------------------------------------------------------

@pytest.fixture
def image(state):
    """A tiny unpacked image: dash, cat and ls with their libraries."""
    img = Path(state) / "image"
    (img / "bin").mkdir(parents=True)
    (img / "etc").mkdir()
    (img / "etc" / "os-release").write_text("NAME=tiny-image\n")
    for prog, name in (("/bin/dash", "sh"), ("/bin/cat", "cat"), ("/bin/ls", "ls")):
        shutil.copy(prog, img / "bin" / name)
    out = subprocess.run(["ldd", "/bin/dash", "/bin/cat", "/bin/ls"], capture_output=True, text=True).stdout
    for lib in sorted(set(re.findall(r"(/\S+\.so[.\d]*)", out))):
        dst = img / lib.lstrip("/")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(lib, dst)
    for p in [img, *img.rglob("*")]:
        p.chmod(0o755)
    return img


def test_image_root(driver, state, image, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "hello.txt").write_text("from the workspace\n")
    r = run(driver, state, "cat /etc/os-release /workspace/hello.txt; ls /; test -e /usr && echo HOST_USR",
            "echo kept > /tmp/t", "cat /tmp/t",
            args=["--image", str(image), "--workspace", str(ws)])
    assert r.rc == 0, r
    assert r.out.startswith("NAME=tiny-image\nfrom the workspace\n"), r
    assert "HOST_USR" not in r.out, r  # the image replaces the host view
    assert r.out.endswith("kept\n"), r
    assert sorted(p.name for p in (image / "bin").iterdir()) == ["cat", "ls", "sh"]  # image untouched
    assert leftovers(state) == []


def test_configured_workload_uid(driver, state, tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "f.txt").write_text("x\n")
    r = run(driver, state, "id -u; stat -c %u /workspace/f.txt /workspace; touch /workspace/new && echo WROTE;"
            "touch /root/x 2>&1 | grep -c 'Permission denied'",
            args=["--uid", "1000", "--workspace", str(ws)])
    assert r.rc == 0, r
    assert r.out.split() == ["1000", "1000", "1000", "WROTE", "1"], r
