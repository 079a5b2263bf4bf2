# SPDX-License-Identifier: Apache-2.0
"""Process hardening of the netns backend, layer by layer, through the
test-only launcher tests/tools/harden-run: the seccomp filter (mount, nested
user namespaces, keyrings, bpf, perf, userfaultfd, clock setting), Landlock
(writes only beneath --writable), the capability bounding set and the cgroup
limits (OOM kill reported as exit 137 with a count, fork bomb held by
pids.max, CPU quota, cgroup removed afterwards).

Where the kernel would refuse anyway for another reason, a control run with
that layer switched off (--no-seccomp, --no-landlock, --no-caps) shows the
failure is the layer's own.

Needs root (cgroups, uid maps). The launcher comes from $CLEANROOM_TOOLS_DIR,
else from build*/tests/tools/ under the repository.
"""
import glob
import os
import platform
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root: creates cgroups and writes uid maps")

# Syscall numbers for the ctypes probes.
SYSCALLS = {
    "x86_64": {"keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321, "perf_event_open": 298,
               "userfaultfd": 323, "mount": 165, "clone": 56, "clone3": 435},
    "aarch64": {"keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241,
                "userfaultfd": 282, "mount": 40, "clone": 220, "clone3": 435},
}
CLONE_NEWUSER = 0x10000000
SIGCHLD = 17


def find_harden_run():
    tools = os.environ.get("CLEANROOM_TOOLS_DIR")
    candidates = [Path(tools) / "harden-run"] if tools else [
        Path(p) for p in sorted(glob.glob(str(REPO / "build*" / "tests" / "tools" / "harden-run")))]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    return None


@pytest.fixture(scope="module")
def harden_run():
    path = find_harden_run()
    if not path:
        pytest.skip("harden-run not built: set CLEANROOM_TOOLS_DIR to <builddir>/tests/tools")
    return path


class Run:
    def __init__(self, proc, wall):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.wall = wall

    def __repr__(self):
        return f"<rc={self.rc} wall={self.wall:.2f}s\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}>"

    @property
    def oom_kills(self):
        m = re.search(r"^oom_kills=(\d+)$", self.err, re.M)
        return int(m.group(1)) if m else 0


@pytest.fixture
def run(harden_run):
    def _run(*args, timeout=60):
        start = time.monotonic()
        proc = subprocess.run([harden_run, *args], capture_output=True, text=True, timeout=timeout,
                              cwd="/")
        return Run(proc, time.monotonic() - start)
    return _run


@pytest.fixture
def syscalls():
    nrs = SYSCALLS.get(platform.machine())
    if not nrs:
        pytest.skip(f"no syscall numbers for {platform.machine()} in this test")
    return nrs


def probe(nrs, *calls):
    """A python3 program that makes each raw syscall and prints
    'name rc errno-text' per line."""
    table = {"keyctl": (0, -3, 0),  # KEYCTL_GET_KEYRING_ID, session keyring
             "add_key": (0, 0, 0), "request_key": (0, 0, 0), "bpf": (0, 0, 0),
             "perf_event_open": (0, 0, -1, -1, 0),
             "userfaultfd": (0o2000000 | 1,),  # O_CLOEXEC | UFFD_USER_MODE_ONLY
             "clone3": (0, 0),
             "clone": (CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)}
    lines = ["import ctypes, os", "libc = ctypes.CDLL(None, use_errno=True)"]
    for c in calls:
        lines += [f"r = libc.syscall({nrs[c]}, *{table[c]!r})",
                  "os._exit(0) if r == 0 and " + repr(c == "clone") + " else None",
                  f"print({c!r}, r, os.strerror(ctypes.get_errno()) if r < 0 else 'ok', flush=True)"]
    return ["python3", "-c", "\n".join(lines)]


def probe_results(out):
    return {name: text for name, _, text in (line.split(" ", 2) for line in out.splitlines())}


@pytest.fixture
def shared_dir():
    """A directory tree every uid may write (mode 0777), so that only
    Landlock stands between the sandbox (host uid 100000) and it."""
    d = tempfile.mkdtemp(prefix="harden-", dir="/tmp")
    for sub in ("", "in", "out"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(os.path.join(d, sub), 0o777)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


# ---- seccomp -------------------------------------------------------------

def test_mount_fails(run):
    r = run("--", "mount", "-t", "tmpfs", "none", "/mnt")
    assert r.rc == 32, r
    assert "permission denied" in r.err.lower(), r


def test_mount_denied_by_seccomp_alone(run):
    # Caps and Landlock (which also forbids mounting) off: only the filter.
    r = run("--no-caps", "--no-landlock", "--", "mount", "-t", "tmpfs", "none", "/mnt")
    assert r.rc == 32 and "permission denied" in r.err.lower(), r
    # Control: all three off, the sandbox's own mount namespace takes the mount.
    r = run("--no-caps", "--no-landlock", "--no-seccomp", "--", "mount", "-t", "tmpfs", "none", "/mnt")
    assert r.rc == 0, r


def test_unshare_user_namespace_fails(run):
    r = run("--", "unshare", "-U", "true")
    assert r.rc != 0, r
    assert "Operation not permitted" in r.err, r
    r = run("--no-seccomp", "--", "unshare", "-U", "true")
    assert r.rc == 0, r


def test_clone_newuser_and_clone3(run, syscalls):
    r = run("--", *probe(syscalls, "clone", "clone3"))
    res = probe_results(r.out)
    assert res["clone"] == "Operation not permitted", r
    assert res["clone3"] == "Function not implemented", r  # libc falls back to clone
    # Ordinary threads and processes still work (glibc falls back from clone3).
    r = run("--", "python3", "-c", "import threading, subprocess; t = threading.Thread(target=print); "
            "t.start(); t.join(); subprocess.run(['true'], check=True); print('fine')")
    assert r.rc == 0 and "fine" in r.out, r


FOREIGN_ABI = r"""
#include <unistd.h>
int main(int argc, char **argv)
{
	long r;
	if (argc > 1 && argv[1][0] == 'i') /* i386 getpid (20) through int 0x80 */
		__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	else /* x32 getpid: x86-64 number 39 with __X32_SYSCALL_BIT */
		__asm__ volatile("syscall" : "=a"(r) : "a"(0x40000000L | 39) : "rcx", "r11", "memory");
	return r > 0 ? 0 : 1;
}
"""


@pytest.mark.skipif(platform.machine() != "x86_64", reason="i386 and x32 ABIs exist on x86-64 only")
def test_foreign_abi_syscalls_kill(run, shared_dir):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to build the foreign-ABI probe")
    src, exe = shared_dir / "abi.c", shared_dir / "abi"
    src.write_text(FOREIGN_ABI)
    subprocess.run([cc, "-O0", "-o", str(exe), str(src)], check=True)
    os.chmod(exe, 0o755)
    for abi in ("i386", "x32"):
        r = run("--", str(exe), abi)
        assert r.rc == 128 + 31, (abi, r)  # SIGSYS: the filter's bad-architecture action
        # Control: without the filter the call returns (a pid, or ENOSYS where
        # the kernel lacks that ABI) and the process is not killed.
        r = run("--no-seccomp", "--", str(exe), abi)
        assert r.rc in (0, 1), (abi, r)


KERNEL_SURFACE = ["keyctl", "add_key", "request_key", "bpf", "perf_event_open", "userfaultfd"]


def test_keyring_bpf_perf_userfaultfd_denied(run, syscalls):
    r = run("--", *probe(syscalls, *KERNEL_SURFACE))
    assert r.rc == 0, r
    res = probe_results(r.out)
    assert res == {c: "Operation not permitted" for c in KERNEL_SURFACE}, r


def test_keyring_bpf_perf_userfaultfd_control(run, syscalls):
    # Without the filter each call gets past the entry (success, or an error
    # about its arguments), so the EPERM above is the filter's.
    r = run("--no-seccomp", "--", *probe(syscalls, "keyctl", "bpf", "perf_event_open", "userfaultfd"))
    res = probe_results(r.out)
    assert res["keyctl"] == "ok", r
    assert res["userfaultfd"] == "ok", r
    assert res["bpf"] != "Operation not permitted", r
    assert res["perf_event_open"] != "Operation not permitted", r


def test_keyctl_tool_fails(run):
    if not shutil.which("keyctl"):
        pytest.skip("keyutils' keyctl is not installed")
    r = run("--", "keyctl", "show")
    assert r.rc != 0 and "Operation not permitted" in r.err, r


def test_clock_setting_fails(run):
    r = run("--", "date", "-s", "@0")
    assert r.rc != 0, r
    assert "Operation not permitted" in r.err, r


# ---- capabilities, no_new_privs -----------------------------------------

def test_capability_sets_and_nnp(run):
    r = run("--", "grep", "-E", "^(Cap|NoNewPrivs|Seccomp:)", "/proc/self/status")
    status = dict(line.split(":\t") for line in r.out.splitlines())
    kept = (1 << 0) | (1 << 1) | (1 << 3) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 10)
    assert int(status["CapBnd"], 16) == kept, r  # CHOWN DAC_OVERRIDE FOWNER KILL SETGID SETUID NET_BIND_SERVICE
    assert int(status["CapEff"], 16) == kept, r
    assert int(status["CapInh"], 16) == 0 and int(status["CapAmb"], 16) == 0, r
    assert status["NoNewPrivs"] == "1" and status["Seccomp"] == "2", r


# ---- Landlock ------------------------------------------------------------

def landlock_enabled():
    """Asks the kernel for its Landlock ABI version (landlock_create_ruleset
    with LANDLOCK_CREATE_RULESET_VERSION; syscall 444 on every architecture)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint(1)) > 0


@pytest.mark.skipif(not landlock_enabled(), reason="the kernel has no Landlock")
def test_landlock_writes_only_beneath_writable(run, shared_dir):
    inside, outside = shared_dir / "in", shared_dir / "out"
    script = (f"echo a > {inside}/f && mkdir {inside}/d && echo inside-ok; "
              f"echo b > {outside}/f || echo outside-denied; "
              f"mkdir {outside}/d || echo mkdir-denied; cat {inside}/f")
    r = run("--writable", str(inside), "--", "sh", "-c", script)
    assert "inside-ok" in r.out and "outside-denied" in r.out and "mkdir-denied" in r.out, r
    assert "Permission denied" in r.err, r
    assert (inside / "f").read_text() == "a\n" and not (outside / "f").exists()
    # Control: without Landlock the same write succeeds (the directory is 0777).
    r = run("--no-landlock", "--writable", str(inside), "--", "sh", "-c", f"echo b > {outside}/f")
    assert r.rc == 0 and (outside / "f").read_text() == "b\n", r


@pytest.mark.skipif(not landlock_enabled(), reason="the kernel has no Landlock")
def test_landlock_reads_exec_and_devices_stay_allowed(run, shared_dir):
    (shared_dir / "out" / "r").write_text("readable\n")
    r = run("--writable", str(shared_dir / "in"), "--", "sh", "-c",
            f"cat {shared_dir}/out/r && ls /usr/bin >/dev/null && echo x > /dev/zero && echo devices-ok")
    assert r.rc == 0 and r.out == "readable\ndevices-ok\n", r


# ---- cgroup limits -------------------------------------------------------

MEMORY_BOMB = "b = b'x' * (512 << 20); print('survived')"


def test_memory_bomb_is_oom_killed(run):
    r = run("--memory", "64M", "--", "python3", "-c", MEMORY_BOMB)
    assert r.rc == 137, r
    assert r.oom_kills >= 1, r
    assert "survived" not in r.out


def test_memory_below_limit_is_fine(run):
    r = run("--memory", "64M", "--", "python3", "-c", "b = b'x' * (8 << 20); print('ok')")
    assert r.rc == 0 and r.out == "ok\n" and r.oom_kills == 0, r


FORK_BOMB = """
import errno, os, time
forked = failed = 0
reason = ""
for i in range(100):
    try:
        pid = os.fork()
    except OSError as e:
        failed += 1
        reason = e.strerror
        continue
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    forked += 1
print(forked, failed, reason, flush=True)
"""


def test_fork_bomb_is_contained(run):
    r = run("--pids", "32", "--", "python3", "-c", FORK_BOMB)
    forked, failed, reason = r.out.strip().split(" ", 2)
    assert int(forked) < 32 and int(failed) >= 100 - 32, r
    assert reason == "Resource temporarily unavailable", r
    # The launcher removed the cgroup, which killed the sleeping children: it
    # returned long before their 30 s were up, and the host can still fork.
    assert r.wall < 20, r
    assert subprocess.run(["true"]).returncode == 0


def test_shell_fork_bomb_is_contained(run):
    r = run("--pids", "32", "--", "sh", "-c", "for i in $(seq 100); do sleep 30 & done; wait")
    assert r.rc != 0, r
    assert "fork" in r.err.lower(), r  # dash: "Cannot fork"; bash: "fork: ... Resource temporarily unavailable"
    assert r.wall < 20, r


CPU_BURN = """
import time
start = time.monotonic()
while time.monotonic() - start < 1.5:
    pass
print(time.process_time())
"""


def test_cpu_quota(run):
    # 100 millicpus: about 0.15 s of CPU in 1.5 s of wall time; generous bound.
    r = run("--cpus", "100", "--", "python3", "-c", CPU_BURN)
    assert r.rc == 0, r
    assert float(r.out) < 0.6, r
    # Control: unlimited, the loop gets most of the 1.5 s (a loose bound, so
    # that other load on the host cannot make it fail).
    r = run("--", "python3", "-c", CPU_BURN)
    assert float(r.out) > 0.3, r


def test_cgroup_removed_with_leftover_processes(run):
    r = run("--verbose", "--memory", "64M", "--pids", "64", "--cpus", "500", "--",
            "sh", "-c", "sleep 987 & sleep 987 & echo started")
    dirs = re.findall(r"^harden-run: cgroup (\S+)$", r.err, re.M)
    assert r.rc == 0 and "started" in r.out and dirs, r
    assert len(dirs) == len(set(dirs)) >= 1, r
    assert all("/cleanroom-test/" in d for d in dirs), r
    for d in dirs:
        assert not os.path.exists(d), f"cgroup {d} left behind"
    assert r.wall < 20, r
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            assert Path(cmdline).read_bytes() != b"sleep\x00987\x00", f"{cmdline}: sleep 987 survived"
        except OSError:
            pass
