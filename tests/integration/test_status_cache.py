# SPDX-License-Identifier: Apache-2.0
"""The content cache's counters in the server's status (issue 7):
AdminService.GetServerStatus `contentCache` and `cleanroom status` (text and
--json).

A server with egress (root) runs in a network namespace of its own
(crcst-<pid>, so that it works while another egress server owns the host's
namespace), with --cache-dir under a fresh /var/tmp directory. The cache is
prepared as the gateways would leave it: `cleanroom cache gc` creates the
index as the cache's owner, then counters are added to its `counters` row
with Python's sqlite3, also as the owner. The server reads them as root in a
child that becomes the owner: the tests check the numbers, that every file
of the cache still belongs to the owner afterwards (no root-owned
index.db-wal / -shm), the unavailable cases (unreadable, not a database,
locked past the deadline) and the server without a cache. SQLite running
as root hands the -wal / -shm it creates to the database's owner, so what
proves that the reader really is the owner is an index, or a directory on
the way, that only root could read being reported unavailable."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

NS_PREFIX = "crcst-"
POOL = "10.209.0.0/20"  # none of the other tests' pools (default, registry, conformance)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="a server with egress needs root (netns, nftables)")


def run(*argv, check=True, timeout=30, **kw):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=timeout, **kw)
    if check:
        assert p.returncode == 0, f"{argv} failed ({p.returncode}): {p.stdout}{p.stderr}"
    return p


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_ns(ns):
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = [int(p) for p in run("ip", "netns", "pids", ns, check=False).stdout.split() if p.isdigit()]
        for p in pids:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while pids and time.time() < deadline:
            time.sleep(0.1)
            pids = [p for p in run("ip", "netns", "pids", ns, check=False).stdout.split() if p.isdigit()]
    run("ip", "netns", "del", ns, check=False)


def remove_stale():
    """Namespaces of earlier runs whose pytest process is gone."""
    for ns in run("ip", "netns", "list", check=False).stdout.split():
        if ns.startswith(NS_PREFIX) and ns[len(NS_PREFIX):].isdigit() and not pid_alive(int(ns[len(NS_PREFIX):])):
            kill_ns(ns)


class Server:
    def __init__(self, binary, root, ns=None, extra=()):
        self.binary, self.root, self.ns = binary, root, ns
        self.sock = root / "run" / "cleanroom.sock"
        self.cache = root / "cache"
        argv = [binary, "serve", "--socket", self.sock, "--state-dir", root / "state", *extra]
        if ns:
            argv = ["ip", "netns", "exec", ns, *argv]
        self.proc = subprocess.Popen([str(a) for a in argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     text=True)
        deadline = time.time() + 20
        while time.time() < deadline and not self.sock.exists() and self.proc.poll() is None:
            time.sleep(0.02)
        assert self.sock.exists(), self.proc.stderr.read() if self.proc.poll() is not None else "no socket"
        self.env = {k: v for k, v in os.environ.items() if k not in ("CLEANROOM_HOST", "CLEANROOM_TOKEN")}
        self.env["LC_ALL"] = "C.UTF-8"

    def cli(self, *args, timeout=30):
        return subprocess.run([self.binary, *[str(a) for a in args], "--host", str(self.sock)], capture_output=True,
                              text=True, timeout=timeout, env=self.env)

    def status(self):
        r = self.cli("status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["status"]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def private_root():
    # the cache's owner (nobody) must reach its directory: not pytest's 0700 tmp_path
    root = Path(tempfile.mkdtemp(prefix="cr-status-cache-", dir="/var/tmp"))
    root.chmod(0o755)
    return root


@pytest.fixture
def egress_server(cleanroom_bin):
    for tool in ("ip", "nft"):
        if not shutil.which(tool):
            pytest.skip(f"needs the '{tool}' command")
    remove_stale()
    ns = f"{NS_PREFIX}{os.getpid()}"
    run("ip", "netns", "del", ns, check=False)
    run("ip", "netns", "add", ns)
    root = private_root()
    s = None
    try:
        run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        s = Server(cleanroom_bin, root, ns=ns, extra=["--cache-dir", root / "cache", "--cache-max-bytes",
                                                      str(3 << 30), "--egress-pool", POOL])
        yield s
    finally:
        if s:
            s.stop()
        kill_ns(ns)
        shutil.rmtree(root, ignore_errors=True)


def as_owner(cache, code):
    """Runs Python code as the cache's owner (as a gateway would touch it)."""
    st = cache.stat()

    def drop():
        os.setgroups([])
        os.setgid(st.st_gid)
        os.setuid(st.st_uid)

    p = subprocess.run([sys.executable, "-c", code, str(cache / "index.db")], capture_output=True, text=True,
                       timeout=30, preexec_fn=drop)
    assert p.returncode == 0, p.stderr
    return p


COUNTERS = {"hits": 7, "misses": 3, "stale_served": 2, "revalidated": 4, "bytes_served": 1234567,
            "bytes_fetched": 89012, "upstream_requests": 5, "upstream_ms_total": 250, "upstream_errors": 1,
            "integrity_failures": 1}


def add_counters(cache, counters):
    sets = ", ".join(f"{k} = {k} + {v}" for k, v in counters.items())
    as_owner(cache, "import sqlite3, sys\n"
                    "c = sqlite3.connect(sys.argv[1])\n"
                    f"c.execute('UPDATE counters SET {sets} WHERE id = 1')\n"
                    "c.commit()\n"
                    "c.close()\n")  # the last connection: SQLite removes -wal and -shm


def owners(root):
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            seen[p] = os.lstat(p).st_uid
    return seen


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def numbers(cc):
    """The counters of a contentCache object as ints (proto3 JSON: uint64 as
    strings, zero values left out)."""
    return {k: int(cc.get(camel(k), "0")) for k in COUNTERS}


def cache_section(out):
    """The 'content cache' field of `cleanroom status` and its continuation lines."""
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("content cache:"))
    section = [lines[i].split(":", 1)[1].strip()]
    for line in lines[i + 1:]:
        if not line.startswith(" "):
            break
        section.append(line.strip())
    return section


# ---- a server with a cache --------------------------------------------------------------------------------

@needs_root
def test_status_shows_cache_counters(egress_server):
    s = egress_server
    cache = s.cache
    owner = cache.stat().st_uid
    assert owner != 0, "the server gives the cache to the gateways' user"

    # created by the server, never used: available, empty, the server's bound
    cc = s.status()["contentCache"]
    assert cc["available"] is True and cc["cacheDir"] == str(cache), cc
    assert cc["detail"].startswith("empty"), cc
    assert int(cc["maxBytes"]) == 3 << 30 and numbers(cc) == {k: 0 for k in COUNTERS}, cc
    assert not (cache / "index.db").exists(), "reading the status creates no index"

    run(s.binary, "cache", "gc", "--cache-dir", cache)  # creates the index, as its owner
    add_counters(cache, COUNTERS)
    add_counters(cache, {"hits": 1, "bytes_served": 100})  # a second "gateway" adds to the same row
    want = dict(COUNTERS, hits=8, bytes_served=1234667)

    assert not (cache / "index.db-wal").exists() and not (cache / "index.db-shm").exists()
    cc = s.status()["contentCache"]
    assert cc["available"] is True and "detail" not in cc, cc
    assert numbers(cc) == want, cc
    assert int(cc.get("entries", "0")) == 0 and int(cc.get("blobs", "0")) == 0
    assert int(cc["maxBytes"]) == 3 << 30

    # the same numbers as `cleanroom cache stats` reads from disk
    r = run(s.binary, "cache", "stats", "--json", "--cache-dir", cache)
    assert json.loads(r.stdout)["counters"] == want

    # the text form
    r = s.cli("status")
    assert r.returncode == 0, r.stderr
    sec = cache_section(r.stdout)
    assert sec[0] == str(cache), sec
    assert sec[1] == "0 entries, 0 blobs, 0 B of 3.0 GiB", sec
    assert sec[2] == "8 hits, 3 misses (hit ratio 72.7%), 2 stale served, 4 revalidated", sec
    assert sec[3] == "1.2 MiB served, 86.9 KiB fetched", sec
    assert sec[4] == "5 upstream requests (mean 50 ms), 1 upstream errors, 1 integrity failures", sec
    assert re.search(r"^backends: +netns", r.stdout, re.M), r.stdout

    # the reader ran as the owner: nothing in the cache became root's
    root_owned = [p for p, uid in owners(cache).items() if uid != owner]
    assert root_owned == [], root_owned
    add_counters(cache, {"misses": 1})  # and the gateways can still write
    assert numbers(s.status()["contentCache"])["misses"] == 4


@needs_root
def test_status_cache_unavailable(egress_server):
    s = egress_server
    cache = s.cache
    owner = cache.stat().st_uid
    run(s.binary, "cache", "gc", "--cache-dir", cache)
    add_counters(cache, {"hits": 5})
    index = cache / "index.db"

    # a file the owner cannot read: unavailable with SQLite's reason, the rest
    # of the status unaffected
    os.chown(index, 0, 0)
    index.chmod(0o600)
    st = s.status()
    cc = st["contentCache"]
    assert cc.get("available", False) is False and cc["cacheDir"] == str(cache), cc
    assert "index.db" in cc["detail"] and "unable to open" in cc["detail"], cc
    assert numbers(cc)["hits"] == 0, "no numbers when unavailable"
    assert st["backends"][0]["name"] == "netns" and st["version"]
    r = s.cli("status")
    assert r.returncode == 0, r.stderr
    assert cache_section(r.stdout) == [f"{cache} (unavailable: {cc['detail']})"], r.stdout
    os.chown(index, owner, cache.stat().st_gid)
    assert numbers(s.status()["contentCache"])["hits"] == 5

    # the reader is the owner, not root: a directory on the way that only
    # root may search makes the cache unreadable
    s.root.chmod(0o700)
    try:
        cc = s.status()["contentCache"]
        assert cc.get("available", False) is False, cc
        assert cc["detail"] == (f"as uid {owner}, the cache directory's owner: open cache directory '{cache}': "
                                "Permission denied"), cc
    finally:
        s.root.chmod(0o755)

    # an index locked by someone else past the deadline: the call still
    # answers, within the reader's 2 s
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
         "c.execute('PRAGMA locking_mode = EXCLUSIVE')\n"
         "c.execute('BEGIN EXCLUSIVE')\n"
         "c.execute('UPDATE counters SET hits = hits + 1')\n"
         "print('locked', flush=True)\n"
         "sys.stdin.read()\n", str(index)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        preexec_fn=lambda: (os.setgroups([]), os.setgid(cache.stat().st_gid), os.setuid(owner)))
    try:
        assert holder.stdout.readline().strip() == "locked"
        t0 = time.monotonic()
        cc = s.status()["contentCache"]
        took = time.monotonic() - t0
        assert cc.get("available", False) is False and "did not answer within 2000 ms" in cc["detail"], cc
        assert took < 4.5, took
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert numbers(s.status()["contentCache"])["hits"] == 5  # the holder rolled back

    # not a database
    index.write_bytes(b"not a database\n" * 100)
    cc = s.status()["contentCache"]
    assert cc.get("available", False) is False and "not a database" in cc["detail"], cc
    root_owned = [p for p, uid in owners(cache).items() if uid != owner]
    assert root_owned == [], root_owned


# ---- a server without a cache -----------------------------------------------------------------------------

def test_status_without_cache(cleanroom_bin):
    root = private_root()
    s = Server(cleanroom_bin, root, extra=["--no-egress", "--cache-dir", root / "cache"])
    try:
        cc = s.status()["contentCache"]
        assert cc.get("available", False) is False and "cacheDir" not in cc, cc
        assert cc["detail"] == "none: egress enforcement is off (--no-egress was given)", cc
        assert numbers(cc) == {k: 0 for k in COUNTERS}
        r = s.cli("status")
        assert r.returncode == 0, r.stderr
        assert cache_section(r.stdout) == ["none: egress enforcement is off (--no-egress was given)"], r.stdout
        assert not (root / "cache").exists(), "no cache directory without egress"
    finally:
        s.stop()
        shutil.rmtree(root, ignore_errors=True)
