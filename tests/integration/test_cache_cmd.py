# SPDX-License-Identifier: Apache-2.0
"""`cleanroom cache ls|stats|gc|verify` against caches on disk.

Caches are built the way a gateway builds them, through the library, with
tests/tools/cache-tool (from $CLEANROOM_TOOLS_DIR, else the tests/tools
directory of the build that holds $CLEANROOM_BIN); tests that need it skip
when it is not built. Checks the text and --json output, exit codes (0, 1
for failures and bad blobs, 2 for usage), the message for a bad
--cache-dir, and, as root, that the command runs as the cache's owner.
"""
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

SHA_RE = re.compile(r"^[0-9a-f]{64}$")


def find_tool():
    tools = os.environ.get("CLEANROOM_TOOLS_DIR")
    candidates = []
    if tools:
        candidates.append(Path(tools) / "cache-tool")
    binary = os.environ.get("CLEANROOM_BIN")
    if binary:
        candidates.append(Path(binary).resolve().parents[2] / "tests" / "tools" / "cache-tool")
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    return None


@pytest.fixture(scope="module")
def tool():
    path = find_tool()
    if not path:
        pytest.skip("cache-tool not built: set CLEANROOM_TOOLS_DIR to <builddir>/tests/tools")
    return path


class Tool:
    def __init__(self, path, cache, user=None):
        self.path, self.cache, self.user = path, cache, user

    def _preexec(self):
        if self.user:
            os.setgroups([])
            os.setgid(self.user.pw_gid)
            os.setuid(self.user.pw_uid)

    def __call__(self, *args):
        p = subprocess.run([self.path, args[0], str(self.cache), *[str(a) for a in args[1:]]],
                           capture_output=True, text=True, timeout=20, preexec_fn=self._preexec)
        assert p.returncode == 0, f"cache-tool {args} failed ({p.returncode}): {p.stderr}"
        return p.stdout.strip()

    def hold_lock(self, key):
        p = subprocess.Popen([self.path, "lock", str(self.cache), key], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, preexec_fn=self._preexec)
        assert p.stdout.readline().strip() == "locked"
        return p


def blob_file(cache, sha):
    return Path(cache) / "blobs" / "sha256" / sha[:2] / sha


def age(path, seconds):
    t = time.time() - seconds
    os.utime(path, (t, t))


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def built(tool, cache):
    """Three entries: a stale document, a fresh document and an immutable
    tarball, plus counters from two 'gateways'."""
    t = Tool(tool, cache)
    now = int(time.time())
    shas = {
        "npm:doc:npm.registry.test/lodash:abbrev": t("put", "npm:doc:npm.registry.test/lodash:abbrev",
                                                     '{"name":"lodash"}', 60, now - 3600, now - 3000),
        "npm:tgz:npm.registry.test/lodash/-/lodash-4.17.21.tgz":
            t("put", "npm:tgz:npm.registry.test/lodash/-/lodash-4.17.21.tgz", "tarball-bytes", 0, now - 100,
              now - 100),
        "pip:doc:pypi.registry.test/simple/requests/:json":
            t("put", "pip:doc:pypi.registry.test/simple/requests/:json", '{"files":[]}', 600, now - 10,
              now - 10),
    }
    t("counters", 3, 1, 1000, 1, 40)
    t("counters", 2, 0, 500, 3, 20)
    return t, shas


# ---- usage and errors ------------------------------------------------------

def test_help_and_usage_errors(cr, cache):
    r = cr.run("cache", "--help")
    assert r.rc == 0, r
    for sub in ("ls", "stats", "gc", "verify"):
        assert re.search(rf"^\s+{sub}\s", r.out, re.M), r
    r = cr.run("cache", "ls", "--help")
    assert r.rc == 0 and r.out.startswith("Usage: cleanroom cache ls [PREFIX]"), r
    r = cr.run("cache", "gc", "--help")
    assert r.rc == 0 and "--max-bytes" in r.out, r
    assert cr.run("cache").rc == 2
    r = cr.run("cache", "frobnicate")
    assert r.rc == 2 and "unknown command 'frobnicate'" in r.err, r
    r = cr.run("cache", "ls", "a", "b", "--cache-dir", cache)
    assert r.rc == 2 and "unexpected argument 'b'" in r.err, r
    r = cr.run("cache", "stats", "extra", "--cache-dir", cache)
    assert r.rc == 2, r
    for bad in ("nope", "0", "-5", "12X", "99999999999999999999"):
        r = cr.run("cache", "gc", "--max-bytes", bad, "--cache-dir", cache)
        assert r.rc == 2 and "error[usage_invalid]" in r.err and "--max-bytes" in r.err, (bad, r)
    r = cr.run("cache", "ls", "--host", "unix:/x", "--cache-dir", cache)
    assert r.rc == 2 and "--host" in r.err, r
    r = cr.run("cache", "ls", "--bogus")
    assert r.rc == 2 and "--bogus" in r.err, r
    assert "cache" in cr.run("--help").out


@pytest.mark.parametrize("sub", ["ls", "stats", "gc", "verify"])
def test_bad_cache_dir(cr, tmp_path, sub):
    missing = tmp_path / "no" / "such" / "cache"
    r = cr.run("cache", sub, "--cache-dir", missing)
    assert r.rc == 1, r
    assert f"cleanroom cache {sub}: error[usage_invalid]: cache directory '{missing}': No such file or directory" \
        in r.err, r
    assert "hint:" in r.err and "--cache-dir" in r.err
    assert not missing.exists()  # never created, not even by gc
    afile = tmp_path / "afile"
    afile.write_text("x")
    r = cr.run("cache", sub, "--cache-dir", afile)
    assert r.rc == 1 and "Not a directory" in r.err, r


def test_not_a_cache(cr, tmp_path):
    d = tmp_path / "junk"
    d.mkdir()
    (d / "index.db").write_text("this is not SQLite")
    r = cr.run("cache", "stats", "--cache-dir", d)
    assert r.rc == 1 and "error[internal]" in r.err and str(d) in r.err, r
    r = cr.run("cache", "stats", "--cache-dir", d, "--json")
    assert r.rc == 1 and r.out == "", r


# ---- an empty cache --------------------------------------------------------

def test_empty_cache(cr, cache):
    cache.mkdir(mode=0o700)  # what the server creates before any gateway used it
    r = cr.run("cache", "ls", "--cache-dir", cache)
    assert r.rc == 0 and r.out.split() == ["KEY", "SIZE", "AGE", "STATE", "BLOB"], r
    assert cr.run("cache", "ls", "--cache-dir", cache, "--json").json() == {"cache_dir": str(cache), "entries": []}
    s = cr.run("cache", "stats", "--cache-dir", cache, "--json").json()
    assert s["entries"] == 0 and s["blobs"] == 0 and s["blob_bytes"] == 0
    assert s["max_bytes"] == 10 << 30
    assert set(s["counters"].values()) == {0}
    assert not (cache / "index.db").exists()  # reading never initialises
    r = cr.run("cache", "gc", "--cache-dir", cache, "--json")
    assert r.rc == 0, r
    assert r.json()["entries_evicted"] == 0
    assert (cache / "index.db").exists() and (cache / "blobs" / "sha256").is_dir()
    r = cr.run("cache", "verify", "--cache-dir", cache)
    assert r.rc == 0 and "checked 0 blob(s): 0 bad, 0 missing" in r.out, r


# ---- ls and stats ------------------------------------------------------------

def test_ls(cr, cache, built):
    _, shas = built
    r = cr.run("cache", "ls", "--cache-dir", cache)
    assert r.rc == 0, r
    lines = r.out.splitlines()
    assert lines[0].split() == ["KEY", "SIZE", "AGE", "STATE", "BLOB"]
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    assert list(rows) == sorted(shas)  # ordered by key
    doc = rows["npm:doc:npm.registry.test/lodash:abbrev"]
    assert doc[1:3] == ["17", "B"] and doc[3:5] == ["1h", "ago"] and doc[5] == "stale"
    assert doc[6] == shas["npm:doc:npm.registry.test/lodash:abbrev"][:12]
    assert rows["npm:tgz:npm.registry.test/lodash/-/lodash-4.17.21.tgz"][5] == "fresh"  # ttl 0: forever
    assert rows["pip:doc:pypi.registry.test/simple/requests/:json"][5] == "fresh"

    r = cr.run("cache", "ls", "npm:", "--cache-dir", cache)
    assert r.rc == 0 and len(r.out.splitlines()) == 3 and "pip:doc" not in r.out, r
    r = cr.run("cache", "ls", "nothing-matches", "--cache-dir", cache)
    assert r.rc == 0 and len(r.out.splitlines()) == 1, r

    doc = cr.run("cache", "ls", "--json", "--cache-dir", cache, "npm:doc:").json()
    assert doc["cache_dir"] == str(cache)
    assert len(doc["entries"]) == 1
    e = doc["entries"][0]
    assert set(e) == {"key", "upstream", "size", "blob", "fetched_at", "ttl_s", "fresh", "last_used_at", "etag",
                      "last_modified", "content_type", "integrity"}
    assert e["key"] == "npm:doc:npm.registry.test/lodash:abbrev"
    assert e["blob"] == shas[e["key"]] and SHA_RE.match(e["blob"])
    assert e["size"] == 17 and e["ttl_s"] == 60 and e["fresh"] is False
    assert e["content_type"] == "application/octet-stream" and e["etag"] == ""
    assert abs(e["fetched_at"] - (time.time() - 3600)) < 30


def test_stats(cr, cache, built):
    s = cr.run("cache", "stats", "--json", "--cache-dir", cache).json()
    assert s == {
        "cache_dir": str(cache), "entries": 3, "blobs": 3, "blob_bytes": 17 + 13 + 12, "max_bytes": 10 << 30,
        "counters": {"hits": 5, "misses": 1, "stale_served": 0, "revalidated": 0, "bytes_served": 1500,
                     "bytes_fetched": 0, "upstream_requests": 4, "upstream_ms_total": 60, "upstream_errors": 0,
                     "integrity_failures": 0}}
    r = cr.run("cache", "stats", "--cache-dir", cache)
    assert r.rc == 0, r
    fields = dict(re.split(r":\s+", l, maxsplit=1) for l in r.out.splitlines())
    assert fields["cache"] == str(cache)
    assert fields["entries"] == "3"
    assert fields["blobs"] == "3 (42 B)"
    assert fields["bound"] == "10.0 GiB"
    assert fields["hits"] == "5" and fields["misses"] == "1"
    assert fields["hit ratio"] == "83.3%"
    assert fields["bytes served"] == "1.5 KiB"
    assert fields["upstream latency"] == "15 ms mean"


# ---- gc ----------------------------------------------------------------------

def test_gc_litter_and_unreferenced(cr, cache, built):
    t, _ = built
    orphan = t("blob", "no entry names me")
    young = t("blob", "just written by a gateway")
    age(blob_file(cache, orphan), 7200)
    old_tmp = cache / "tmp" / "blob-1-deadbeef"
    old_tmp.write_text("partial download")
    age(old_tmp, 7200)
    new_tmp = cache / "tmp" / "blob-2-cafe"
    new_tmp.write_text("in progress")

    r = cr.run("cache", "gc", "--json", "--cache-dir", cache)
    assert r.rc == 0, r
    g = r.json()
    assert g["tmp_removed"] == 1 and g["blobs_removed"] == 1 and g["entries_evicted"] == 0
    assert g["bytes_freed"] == len("no entry names me")
    assert g["entries"] == 3 and g["blobs"] == 4 and g["max_bytes"] == 10 << 30
    assert not old_tmp.exists() and new_tmp.exists()
    assert not blob_file(cache, orphan).exists() and blob_file(cache, young).exists()

    r = cr.run("cache", "gc", "--cache-dir", cache)
    assert r.rc == 0, r
    assert "removed 0 temp file(s) and 0 blob(s) (0 B); evicted 0 entry(ies)" in r.out
    assert "now 3 entries, 4 blobs" in r.out


def test_gc_lru_bound_keeps_locked_key(tool, cr, cache, built):
    t, shas = built
    for sha in shas.values():
        age(blob_file(cache, sha), 7200)
    # Least recently used first: the stale doc (3000 s ago), then the tarball.
    lru = "npm:doc:npm.registry.test/lodash:abbrev"
    holder = t.hold_lock(lru)  # a gateway downloading it right now
    try:
        g = cr.run("cache", "gc", "--max-bytes", "30", "--json", "--cache-dir", cache).json()
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert g["entries_evicted"] == 1 and g["blobs_removed"] == 1 and g["bytes_freed"] == 13
    keys = [e["key"] for e in cr.run("cache", "ls", "--json", "--cache-dir", cache).json()["entries"]]
    assert keys == [lru, "pip:doc:pypi.registry.test/simple/requests/:json"]
    assert not blob_file(cache, shas["npm:tgz:npm.registry.test/lodash/-/lodash-4.17.21.tgz"]).exists()

    # Unlocked, it is evicted first; sizes accept binary suffixes.
    r = cr.run("cache", "gc", "--max-bytes", "1K", "--cache-dir", cache)
    assert r.rc == 0 and "evicted 0 entry(ies)" in r.out, r
    g = cr.run("cache", "gc", "--max-bytes", "12", "--json", "--cache-dir", cache).json()
    assert g["entries_evicted"] == 1 and g["blob_bytes"] == 12 and g["max_bytes"] == 12
    keys = [e["key"] for e in cr.run("cache", "ls", "--json", "--cache-dir", cache).json()["entries"]]
    assert keys == ["pip:doc:pypi.registry.test/simple/requests/:json"]


# ---- verify ------------------------------------------------------------------

def test_verify(cr, cache, built):
    _, shas = built
    r = cr.run("cache", "verify", "--cache-dir", cache)
    assert r.rc == 0 and "checked 3 blob(s): 0 bad, 0 missing" in r.out, r

    key = "npm:tgz:npm.registry.test/lodash/-/lodash-4.17.21.tgz"
    bad = blob_file(cache, shas[key])
    bad.chmod(0o644)
    bad.write_text("tampered-byte")
    r = cr.run("cache", "verify", "--cache-dir", cache)
    assert r.rc == 1, r
    assert re.search(rf"^{shas[key]}\s+content does not match its name \(sha256 [0-9a-f]{{64}}\)$", r.out, re.M), r
    assert "checked 3 blob(s): 1 bad, 0 missing" in r.out
    assert not bad.exists()
    keys = [e["key"] for e in cr.run("cache", "ls", "--json", "--cache-dir", cache).json()["entries"]]
    assert key not in keys and len(keys) == 2

    gone = "pip:doc:pypi.registry.test/simple/requests/:json"
    blob_file(cache, shas[gone]).unlink()
    r = cr.run("cache", "verify", "--json", "--cache-dir", cache)
    assert r.rc == 1, r
    v = r.json()
    assert v == {"cache_dir": str(cache), "blobs_checked": 1, "bad": 0, "missing": 1,
                 "problems": [{"blob": shas[gone], "problem": v["problems"][0]["problem"]}]}
    assert v["problems"][0]["problem"].startswith("missing")
    r = cr.run("cache", "verify", "--json", "--cache-dir", cache)
    assert r.rc == 0 and r.json()["problems"] == [], r


# ---- root on a cache another user owns -----------------------------------------

def owners(root):
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            seen[p] = os.lstat(p).st_uid
    return seen


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (runs as the cache's owner)")
def test_root_runs_as_cache_owner(tool, cr):
    nobody = pwd.getpwnam("nobody")
    base = Path(tempfile.mkdtemp(prefix="cr-cache-cmd-", dir="/tmp"))
    try:
        base.chmod(0o755)  # the owner must reach its cache
        cache = base / "cache"
        cache.mkdir(mode=0o700)  # as the server creates it for the gateways
        os.chown(cache, nobody.pw_uid, nobody.pw_gid)
        t = Tool(tool, cache, user=nobody)  # built by "the gateway"
        sha = t("put", "npm:doc:npm.registry.test/a", "document", 60)
        assert cache.stat().st_uid == nobody.pw_uid

        # While a gateway has the index open, root's commands must not leave
        # root-owned files (index.db-wal/-shm, lock files) behind.
        holder = t.hold_lock("npm:doc:npm.registry.test/a")
        try:
            for sub in ("ls", "stats", "gc", "verify"):
                r = cr.run("cache", sub, "--cache-dir", cache)
                assert r.rc == 0, (sub, r)
            assert "npm:doc:npm.registry.test/a" in cr.run("cache", "ls", "--cache-dir", cache).out
        finally:
            holder.stdin.close()
            holder.wait(timeout=10)
        root_owned = [p for p, uid in owners(cache).items() if uid != nobody.pw_uid]
        assert root_owned == []
        t("put", "npm:doc:npm.registry.test/b", "still writable by the gateway", 60)

        # It really is the owner reading: a root-only corner of the cache is
        # out of its reach.
        blobs = cache / "blobs" / "sha256" / sha[:2]
        os.chown(blobs, 0, 0)
        blobs.chmod(0o700)
        r = cr.run("cache", "verify", "--cache-dir", cache)
        assert r.rc == 1 and "Permission denied" in r.err, r
        base.chmod(0o700)  # and the path to it must be searchable by the owner
        r = cr.run("cache", "stats", "--cache-dir", cache)
        assert r.rc == 1 and "Permission denied" in r.err and str(cache) in r.err, r
        assert "hint: the command runs as the cache directory's owner" in r.err, r
    finally:
        shutil.rmtree(base, ignore_errors=True)
