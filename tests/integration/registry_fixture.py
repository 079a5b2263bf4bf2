# SPDX-License-Identifier: Apache-2.0
"""The registry tests' world (issue 7): fixture registries on a fixture
"internet", and a `cleanroom serve` with egress that runs in a network
namespace of its own, so that these tests work while another egress server
(a developer's, the conformance suite) owns the host's namespace.

Layout (nothing is added to the host's own network namespace):

  netns crregs-<pid>  (the server's)              netns crregn-<pid>  (the fixture internet)
    cleanroom serve, its gateways,                  10.252.0.2/24 on dn0
    the sandboxes' crsb* links                      10.252.1.53      DNS for *.test (dnslib)
    10.252.0.1/24 on up0  <==== veth ====>          10.252.1.10-13   HTTPS :443 (test CA):
    route 10.252.1.0/24 via 10.252.0.2                npm.registry.test   packuments, tarballs
    egress pool 10.211.0.0/20                         pypi.registry.test  PEP 503 pages
                                                      files.registry.test wheels
                                                      git.registry.test   git http-backend, Basic auth
                                                    default via 10.252.0.1

The server runs `ip netns exec crregs-<pid> cleanroom serve --socket S
--state-dir D --egress-resolver 10.252.1.53 --egress-pool 10.211.0.0/20
--upstream-cacert CA --cache-dir C [--git-credentials F]`; the CLI reaches it
through the unix socket S from the host's namespace. The fixture's servers
(tests/fixtures/registry/registry_daemon.py) serve whatever the tests write
under `World.root/<host>/` and log every request (JSON lines), so that a
test can check both what the sandbox saw and what reached the upstream.

The session's world is shared by the three test modules (one fixture
internet, one server, one content cache): `world()` below hands out the same
object to every module and the last module's teardown removes everything;
an atexit hook and the stale-run sweep (namespaces whose pid is gone) cover
a crashed run.
"""
import atexit
import base64
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
DAEMON = HERE.parent / "fixtures" / "registry" / "registry_daemon.py"
PY = "/usr/bin/python3"  # Debian's: dnslib, pytest, pip
GIT_BACKEND = "/usr/lib/git-core/git-http-backend"

NS_SRV_PREFIX = "crregs-"
NS_NET_PREFIX = "crregn-"
SRV_LINK_ADDR = "10.252.0.1"
NET_LINK_ADDR = "10.252.0.2"
SERVICE_NET = "10.252.1.0/24"
DNS_ADDR = "10.252.1.53"
EGRESS_POOL = "10.211.0.0/20"  # neither the default 10.213.0.0/16 nor the conformance suite's 10.254.0.0/16

NPM_HOST = "npm.registry.test"
PYPI_HOST = "pypi.registry.test"
FILES_HOST = "files.registry.test"
GIT_HOST = "git.registry.test"
OTHER_HOST = "other.registry.test"  # a registry-looking host no policy lists
RECORDS = {NPM_HOST: "10.252.1.10", PYPI_HOST: "10.252.1.11", FILES_HOST: "10.252.1.12",
           GIT_HOST: "10.252.1.13", OTHER_HOST: "10.252.1.14"}

GIT_USER = "x-access-token"
GIT_TOKEN_ENV = "CR_TEST_GIT_TOKEN"

# the gateway's address as the sandbox sees it (its resolver), for scripts
GW_LINE = "GW=$(sed -n 's/^nameserver[[:space:]]*//p' /etc/resolv.conf | head -n 1)"

FIXED_MTIME = 499162500  # 1985-10-26, what npm pack writes


# ---- small helpers --------------------------------------------------------------

def run(*argv, check=True, input=None, timeout=60, env=None):
    p = subprocess.run([str(a) for a in argv], capture_output=True, text=True, input=input, timeout=timeout,
                       env=env)
    if check and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, argv))} failed ({p.returncode}): {p.stderr.strip()}")
    return p


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sri(algo, data):
    return f"{algo}-" + base64.b64encode(hashlib.new(algo, data).digest()).decode()


def prerequisites(*tools):
    """None when the world can be built here, else the reason it cannot."""
    if os.geteuid() != 0:
        return "the registry tests need root (network namespaces, veth, a server with egress)"
    for tool in ("ip", "nft", "openssl", "curl", *tools):
        if not shutil.which(tool):
            return f"the registry tests need the '{tool}' command"
    if not os.access(PY, os.X_OK):
        return f"the registry tests need {PY}"
    if run(PY, "-c", "import dnslib", check=False).returncode != 0:
        return "the registry tests need python3-dnslib for " + PY
    return None


def tool_missing(kind):
    """The reason a client is missing, or None: kind npm | pip | git."""
    if kind == "npm":
        return prerequisites("npm", "node")
    if kind == "pip":
        reason = prerequisites()
        if reason:
            return reason
        if run(PY, "-m", "pip", "--version", check=False).returncode != 0:
            return f"the pip tests need pip for {PY} (Debian: python3-pip)"
        return None
    if kind == "git":
        reason = prerequisites("git")
        if reason:
            return reason
        if not os.access(GIT_BACKEND, os.X_OK):
            return f"the git tests need {GIT_BACKEND} (Debian: git)"
        return None
    raise ValueError(kind)


def remove_stale():
    """Namespaces of registry-test runs whose process is gone."""
    for ns in run("ip", "netns", "list", check=False).stdout.split():
        for prefix in (NS_SRV_PREFIX, NS_NET_PREFIX):
            if not ns.startswith(prefix):
                continue
            try:
                pid = int(ns[len(prefix):])
            except ValueError:
                continue
            if pid_alive(pid):
                continue
            kill_ns(ns)
            run("ip", "netns", "del", ns, check=False)
    for d in Path("/var/tmp").glob("crreg-*-*"):
        pid = d.name.split("-")[1]
        if d.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(d, ignore_errors=True)


def kill_ns(ns, grace=10.0):
    """Ends the processes of netns ns: SIGTERM first (a stale server then
    terminates its sandboxes), SIGKILL for whatever is left after grace
    seconds."""
    def pids():
        return [int(p) for p in run("ip", "netns", "pids", ns, check=False).stdout.split() if p.isdigit()]

    for sig in (signal.SIGTERM, signal.SIGKILL):
        left = pids()
        for p in left:
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + (grace if sig == signal.SIGTERM else 2.0)
        while left and time.time() < deadline:
            time.sleep(0.1)
            left = pids()
        if not left:
            return


# ---- one sandbox run ------------------------------------------------------------

class Run:
    """One `cleanroom exec --json` invocation."""

    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.err = argv, rc, err
        lines = out.rstrip("\n").split("\n")
        try:
            self.record = json.loads(lines[-1])
            lines = lines[:-1]
        except ValueError:
            self.record = {}
        self.out = "\n".join(lines)

    sandbox_id = property(lambda self: self.record.get("sandbox_id"))
    run_id = property(lambda self: self.record.get("run_id"))
    policy_hash = property(lambda self: self.record.get("policy_hash"))
    exit_code = property(lambda self: self.record.get("exit_code"))

    def started(self):
        assert self.record.get("status") in ("succeeded", "failed"), \
            f"the workload did not run: {self.record.get('error') or self.record}; {self!r}"
        return self

    def ok(self):
        assert self.record.get("status") == "succeeded" and self.exit_code == 0, f"the workload failed: {self!r}"
        return self

    def marker(self, name):
        """The value printed by the script as `@@name=value` (last one)."""
        found = re.findall(rf"^@@{re.escape(name)}=(.*)$", self.out, re.M)
        assert found, f"the script printed no @@{name}=: {self!r}"
        return found[-1]

    def __repr__(self):
        out = re.sub(r"^(@@files=)(.{64}).*$", lambda m: f"{m.group(1)}{m.group(2)}... (base64 archive)",
                     self.out, flags=re.M)
        return (f"<exec rc={self.rc}\n--- stdout ---\n{out[-6000:]}\n--- record ---\n"
                f"{json.dumps(self.record)}\n--- stderr ---\n{self.err[-3000:]}>")


# ---- shell snippets for the sandbox -------------------------------------------------

def front_fetch(tag, path, method="GET", data=None, headers=()):
    """A shell line: curl the gateway's front (http://$GW<path>) past any
    proxy, then print @@<tag>-status= (000 when nothing answered),
    @@<tag>-reason= (the X-Cleanroom-Reason header) and @@<tag>-body= (the
    body's first line)."""
    opts = f"-X {method}"
    if data is not None:
        opts += f" --data-binary '{data}'"
    for h in headers:
        opts += f" -H '{h}'"
    return (f"rm -f /tmp/{tag}.h /tmp/{tag}.b; S=$(curl -sS --noproxy '*' --max-time 30 {opts} -D /tmp/{tag}.h -o /tmp/{tag}.b "
            f"-w '%{{http_code}}' \"http://$GW{path}\"); echo \"@@{tag}-status=${{S:-000}}\"; "
            f"echo \"@@{tag}-reason=$(sed -n 's/^[Xx]-[Cc]leanroom-[Rr]eason: *//p' /tmp/{tag}.h 2>/dev/null "
            f"| tr -d '\\r')\"; "
            f"echo \"@@{tag}-body=$(head -c 400 /tmp/{tag}.b 2>/dev/null | head -n 1)\"")


# ---- policies ---------------------------------------------------------------------

def registry_block(manager, hosts, mode="deny_unknown", lockfiles=None, fallback="deny", enforce=True):
    lines = [f"  {manager}:", "    enable: true", f"    allowed_hosts: [{', '.join(hosts)}]",
             f"    fallback: {fallback}"]
    if enforce:
        lines += ["    lockfile_enforcement:", "      enabled: true", f"      mode: {mode}",
                  f"      lockfiles: [{', '.join(lockfiles)}]"]
    return "\n".join(lines)


def make_policy(npm=None, pip=None, allow=()):
    """A cleanroom.yaml. npm / pip: dicts of registry_block() arguments (or
    None: not enabled); allow: (host, [ports]) network rules."""
    out = ["version: 1", "sandbox:", "  network:", "    default: deny"]
    if allow:
        out.append("    allow:")
        for host, ports in allow:
            out += [f"      - host: {host}", f"        ports: [{', '.join(map(str, ports))}]"]
    regs = []
    if npm is not None:
        regs.append(registry_block("npm", npm.pop("hosts", [NPM_HOST]), **npm))
    if pip is not None:
        regs.append(registry_block("pip", pip.pop("hosts", [PYPI_HOST, FILES_HOST]), **pip))
    if regs:
        out.append("registries:")
        out += regs
    return "\n".join(out) + "\n"


# ---- npm fixture content -------------------------------------------------------------

def npm_tarball(name, version, deps=None, body=None):
    """A package tarball as `npm pack` lays it out (package/...)."""
    manifest = {"name": name, "version": version, "main": "index.js", "license": "MIT"}
    if deps:
        manifest["dependencies"] = deps
    index = body or (
        f"exports.name = {json.dumps(name)};\nexports.version = {json.dumps(version)};\n"
        + "".join(f"exports[{json.dumps(d)}] = require({json.dumps(d)});\n" for d in (deps or {})))
    files = {"package/package.json": json.dumps(manifest, indent=2) + "\n", "package/index.js": index}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, FIXED_MTIME
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


class NpmPackage:
    def __init__(self, name, version, deps, tgz):
        self.name, self.version, self.deps, self.tgz = name, version, dict(deps or {}), tgz
        base = name.split("/")[-1]
        self.path = f"/{name}/-/{base}-{version}.tgz"  # under the registry's root
        self.url = f"https://{NPM_HOST}{self.path}"
        self.integrity = sri("sha512", tgz)
        self.shasum = hashlib.sha1(tgz).hexdigest()


class NpmRegistry:
    """Packuments and tarballs of the fixture npm registry, written under
    root/npm.registry.test/ (a scoped name's packument at @scope/name/index.json;
    the daemon url-decodes @scope%2fname)."""

    def __init__(self, root):
        self.root = Path(root) / NPM_HOST
        self.packages = {}

    def publish(self, name, version, deps=None, body=None):
        pkg = NpmPackage(name, version, deps, npm_tarball(name, version, deps, body))
        self.packages[(name, version)] = pkg
        target = self.root / pkg.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(pkg.tgz)
        self.write_packument(name)
        return pkg

    def write_packument(self, name):
        versions = {v: p for (n, v), p in self.packages.items() if n == name}
        doc = {"_id": name, "name": name, "dist-tags": {"latest": sorted(versions)[-1]},
               "time": {"created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"},
               "versions": {}}
        for v, p in versions.items():
            meta = {"name": name, "version": v, "main": "index.js", "license": "MIT", "_id": f"{name}@{v}",
                    "dist": {"tarball": p.url, "integrity": p.integrity, "shasum": p.shasum}}
            if p.deps:
                meta["dependencies"] = p.deps
            doc["versions"][v] = meta
            doc["time"][v] = "2026-01-01T00:00:00.000Z"
        d = self.root / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "index.json").write_text(json.dumps(doc, indent=1))

    def tamper(self, pkg):
        """The upstream now serves other bytes for pkg's tarball (its packument
        and every lockfile keep the original integrity)."""
        bad = npm_tarball(pkg.name, pkg.version, pkg.deps, body="module.exports = 'TAMPERED';\n")
        assert bad != pkg.tgz
        (self.root / pkg.path.lstrip("/")).write_bytes(bad)
        return bad


def npm_project(name, direct, packages):
    """package.json and package-lock.json (lockfileVersion 3) text for a
    project depending on `direct` ({name: version}) whose install tree is
    `packages` (NpmPackage list, all at the top of node_modules)."""
    pj = {"name": name, "version": "1.0.0", "private": True, "dependencies": direct}
    lock_pkgs = {"": {"name": name, "version": "1.0.0", "dependencies": direct}}
    for p in sorted(packages, key=lambda p: p.name):
        entry = {"version": p.version, "resolved": p.url, "integrity": p.integrity, "license": "MIT"}
        if p.deps:
            entry["dependencies"] = p.deps
        lock_pkgs[f"node_modules/{p.name}"] = entry
    lock = {"name": name, "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": lock_pkgs}
    return json.dumps(pj, indent=2) + "\n", json.dumps(lock, indent=2) + "\n"


NPM_ENV = ("export npm_config_cache=/tmp/npm-cache npm_config_audit=false npm_config_fund=false "
           "npm_config_update_notifier=false npm_config_loglevel=http npm_config_fetch_retries=0 "
           "npm_config_fetch_timeout=30000")


# ---- PyPI fixture content --------------------------------------------------------------

def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def b64_nopad(digest):
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(dist, version, module, value):
    """A pure-Python wheel (zipfile with METADATA, WHEEL and RECORD);
    returns (file name, bytes)."""
    stem = f"{re.sub(r'[-_.]+', '_', dist)}-{version}"
    info = f"{stem}.dist-info"
    files = {
        f"{module}/__init__.py": f"VALUE = {value!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\nSummary: fixture\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: cleanroom-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        record.append(f"{path},sha256={b64_nopad(hashlib.sha256(data).digest())},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = "\n".join(record) + "\n"
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
        for path, text in files.items():
            zi = zipfile.ZipInfo(path, date_time=(2026, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            z.writestr(zi, text)
    return f"{stem}-py3-none-any.whl", raw.getvalue()


class PyPIFile:
    def __init__(self, project, version, filename, data):
        self.project, self.version, self.filename, self.data = project, version, filename, data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.path = f"/packages/{self.sha256[:2]}/{self.sha256[2:4]}/{filename}"
        self.url = f"https://{FILES_HOST}{self.path}"

    def requirement(self):
        return f"{self.project}=={self.version} \\\n    --hash=sha256:{self.sha256}\n"


class PyPIRegistry:
    """PEP 503 pages under root/pypi.registry.test/simple/<project>/index.html
    and wheels under root/files.registry.test/packages/..."""

    def __init__(self, root):
        self.index_root = Path(root) / PYPI_HOST / "simple"
        self.files_root = Path(root) / FILES_HOST
        self.files = []

    def publish(self, project, version, module, value):
        fname, data = build_wheel(project, version, module, value)
        f = PyPIFile(project, version, fname, data)
        self.files.append(f)
        target = self.files_root / f.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.write_pages()
        return f

    def write_pages(self):
        projects = sorted({pep503(f.project) for f in self.files})
        self.index_root.mkdir(parents=True, exist_ok=True)
        links = "".join(f'    <a href="/simple/{p}/">{p}</a><br/>\n' for p in projects)
        (self.index_root / "index.html").write_text(
            f"<!DOCTYPE html>\n<html><head><title>Simple index</title></head><body>\n{links}</body></html>\n")
        for p in projects:
            anchors = "".join(f'    <a href="{f.url}#sha256={f.sha256}">{f.filename}</a><br/>\n'
                              for f in self.files if pep503(f.project) == p)
            d = self.index_root / p
            d.mkdir(parents=True, exist_ok=True)
            (d / "index.html").write_text(
                f"<!DOCTYPE html>\n<html><head><title>Links for {p}</title></head><body>\n"
                f"<h1>Links for {p}</h1>\n{anchors}</body></html>\n")

    def tamper(self, f):
        _, bad = build_wheel(f.project, f.version, f.project.replace("-", "_"), "TAMPERED")
        assert bad != f.data
        (self.files_root / f.path.lstrip("/")).write_bytes(bad)


PIP_ENV = "export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INPUT=1 PIP_RETRIES=0 PIP_TIMEOUT=30"


# ---- the world ---------------------------------------------------------------------------

class ServerStartError(RuntimeError):
    pass


class World:
    """The fixture internet, the fixture registries and the server. `start()`
    builds it; `stop()` removes whatever was made, also after a failure
    half-way."""

    def __init__(self, binary):
        self.binary = binary
        self.pid = os.getpid()
        self.ns_srv = f"{NS_SRV_PREFIX}{self.pid}"
        self.ns_net = f"{NS_NET_PREFIX}{self.pid}"
        self.made = []
        self.dns = self.https = self.server = None
        self.counter = 0
        self.git_token = "crtok-" + os.urandom(12).hex()
        self.server_error = None

    # ---- paths
    @property
    def log_path(self):
        return self.dir / "registry.log"

    @property
    def ca_pem(self):
        return self.dir / "ca.pem"

    @property
    def root(self):
        return self.dir / "root"

    def ns(self, ns, *argv, check=True):
        return run("ip", "netns", "exec", ns, *argv, check=check)

    # ---- building
    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self):
        remove_stale()
        for ns in (self.ns_srv, self.ns_net):  # a leftover of an earlier process that had our pid
            kill_ns(ns)
            run("ip", "netns", "del", ns, check=False)
        # the sandboxes' users must traverse it: not pytest's private tmp
        self.dir = Path(tempfile.mkdtemp(prefix=f"crreg-{self.pid}-", dir="/var/tmp"))
        self.made.append(("dir",))
        os.chmod(self.dir, 0o711)
        self.root.mkdir()
        self.npm = NpmRegistry(self.root)
        self.pypi = PyPIRegistry(self.root)
        self.make_ca()

        run("ip", "netns", "add", self.ns_srv)
        self.made.append(("netns", self.ns_srv))
        run("ip", "netns", "add", self.ns_net)
        self.made.append(("netns", self.ns_net))
        self.ns(self.ns_srv, "ip", "link", "add", "up0", "type", "veth", "peer", "name", "dn0", "netns",
                self.ns_net)
        self.ns(self.ns_srv, "ip", "link", "set", "lo", "up")
        self.ns(self.ns_srv, "ip", "addr", "add", f"{SRV_LINK_ADDR}/24", "dev", "up0")
        self.ns(self.ns_srv, "ip", "link", "set", "up0", "up")
        self.ns(self.ns_srv, "ip", "route", "add", SERVICE_NET, "via", NET_LINK_ADDR, "dev", "up0")
        self.ns(self.ns_net, "ip", "link", "set", "lo", "up")
        self.ns(self.ns_net, "ip", "addr", "add", f"{NET_LINK_ADDR}/24", "dev", "dn0")
        for a in [DNS_ADDR, *RECORDS.values()]:
            self.ns(self.ns_net, "ip", "addr", "add", f"{a}/32", "dev", "dn0")
        self.ns(self.ns_net, "ip", "link", "set", "dn0", "up")
        self.ns(self.ns_net, "ip", "route", "add", "default", "via", SRV_LINK_ADDR)

        cfg = {"log": str(self.log_path), "zone": "test", "records": RECORDS, "dns_addr": DNS_ADDR,
               "root": str(self.root), "cert": str(self.dir / "srv.pem"), "key": str(self.dir / "srv.key"),
               "git_host": GIT_HOST, "git_user": GIT_USER, "git_token": self.git_token}
        (self.dir / "daemon.json").write_text(json.dumps(cfg))
        os.chmod(self.dir / "daemon.json", 0o600)
        self.log_path.touch()
        self.dns = self.start_daemon("dns")
        self.made.append(("daemon", "dns"))
        self.https = self.start_daemon("https")
        self.made.append(("daemon", "https"))
        self.make_git_repo()
        self.start_server()

    def make_ca(self):
        d = self.dir
        san = ",".join(f"DNS:{n}" for n in RECORDS)
        (d / "srv.ext").write_text(f"subjectAltName={san}\nextendedKeyUsage=serverAuth\n"
                                   "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        run("openssl", "req", "-x509", *ec, "-keyout", d / "ca.key", "-out", d / "ca.pem", "-days", "2",
            "-subj", "/CN=cleanroom registry test CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        run("openssl", "req", *ec, "-keyout", d / "srv.key", "-out", d / "srv.csr", "-subj", f"/CN={NPM_HOST}")
        run("openssl", "x509", "-req", "-in", d / "srv.csr", "-CA", d / "ca.pem", "-CAkey", d / "ca.key",
            "-CAcreateserial", "-days", "2", "-out", d / "srv.pem", "-extfile", d / "srv.ext")
        os.chmod(d / "ca.pem", 0o644)

    def start_daemon(self, mode):
        err = open(self.dir / f"{mode}.err", "ab")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns_net, PY, str(DAEMON), mode, str(self.dir / "daemon.json")],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        err.close()
        line = p.stdout.readline()
        if line.strip() != b"ready":
            p.kill()
            p.wait()
            raise RuntimeError(f"the fixture {mode} daemon did not start: "
                               + (self.dir / f"{mode}.err").read_text(errors="replace"))
        return p

    @staticmethod
    def stop_daemon(p):
        if p is None:
            return
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in (p.stdin, p.stdout):
            try:
                f.close()
            except OSError:
                pass

    # ---- the upstream on and off
    def stop_upstream(self):
        """The registries' HTTPS server stops (connections are refused); DNS stays."""
        self.stop_daemon(self.https)
        self.https = None

    def start_upstream(self):
        if self.https is None:
            self.https = self.start_daemon("https")

    # ---- git
    def git_env(self):
        home = self.dir / "githome"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(HOME=str(home), GIT_CONFIG_NOSYSTEM="1", GIT_CEILING_DIRECTORIES=str(self.dir),
                   GIT_AUTHOR_NAME="Fixture", GIT_AUTHOR_EMAIL="fixture@registry.test",
                   GIT_COMMITTER_NAME="Fixture", GIT_COMMITTER_EMAIL="fixture@registry.test",
                   GIT_AUTHOR_DATE="2026-01-01T00:00:00Z", GIT_COMMITTER_DATE="2026-01-01T00:00:00Z")
        return env

    def git(self, *args, cwd=None):
        p = subprocess.run(["git", *map(str, args)], cwd=cwd, env=self.git_env(), capture_output=True, text=True,
                           timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"git {' '.join(map(str, args))}: {p.stderr}")
        return p.stdout.strip()

    def make_git_repo(self):
        """root/git.registry.test/org/repo.git with one commit on main, open to pushes."""
        bare = self.root / GIT_HOST / "org" / "repo.git"
        bare.parent.mkdir(parents=True)
        self.git("init", "-q", "--bare", "-b", "main", bare)
        # receive-pack on, whoever the web server says is pushing (the push tests
        # need it; without git_push in a policy nothing of a push gets here)
        self.git("-C", bare, "config", "http.receivepack", "true")
        work = self.dir / "git-src"
        self.git("init", "-q", "-b", "main", work)
        (work / "README.md").write_text("fixture repository\n")
        (work / "hello.txt").write_text("hello from the fixture git host\n")
        self.git("-C", work, "add", "-A")
        self.git("-C", work, "commit", "-q", "-m", "fixture commit")
        self.git("-C", work, "push", "-q", str(bare), "main")
        self.git_bare = bare
        self.git_head = self.git("-C", bare, "rev-parse", "refs/heads/main")

    def git_refs(self):
        return self.git("-C", self.git_bare, "for-each-ref", "--format=%(refname) %(objectname)")

    def write_git_credentials(self):
        """The server's --git-credentials file: the token comes from the
        server's environment (GIT_TOKEN_ENV), never from a file a sandbox
        could see."""
        creds = {"git": [{"host": GIT_HOST, "prefix": "org/", "username": GIT_USER,
                          "password_env": GIT_TOKEN_ENV}]}
        path = self.dir / "git-credentials.json"
        path.write_text(json.dumps(creds, indent=2) + "\n")
        os.chmod(path, 0o600)
        return path

    # ---- the server
    @property
    def sock(self):
        return self.dir / "run" / "cleanroom.sock"

    @property
    def host(self):
        return f"unix://{self.sock}"

    def server_log(self):
        try:
            return (self.dir / "serve.log").read_text(errors="replace")
        except OSError:
            return ""

    def start_server(self, offline=False):
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("GIT_", "CLEANROOM_", "npm_", "NPM_", "PIP_"))
                    and k.lower() not in ("http_proxy", "https_proxy", "no_proxy", "all_proxy")}
        home = self.dir / "home"
        home.mkdir(exist_ok=True)
        self.env.update(HOME=str(home), LC_ALL="C.UTF-8", GIT_CONFIG_NOSYSTEM="1",
                        GIT_CEILING_DIRECTORIES=str(self.dir))
        self.cache_dir = self.dir / "cache"
        argv = [self.binary, "serve", "--socket", self.sock, "--state-dir", self.dir / "state",
                "--egress-resolver", DNS_ADDR, "--egress-pool", EGRESS_POOL,
                "--upstream-cacert", self.ca_pem, "--cache-dir", self.cache_dir,
                "--git-credentials", self.write_git_credentials()]
        if offline:
            argv.append("--offline")
        server_env = dict(self.env)
        server_env[GIT_TOKEN_ENV] = self.git_token
        self.server_argv = [str(a) for a in argv]
        logf = open(self.dir / "serve.log", "ab")
        self.server = subprocess.Popen(["ip", "netns", "exec", self.ns_srv, *self.server_argv], stdout=logf,
                                       stderr=subprocess.STDOUT, env=server_env)
        logf.close()
        self.made.append(("server",))
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.server.poll() is not None:
                self.server_error = (f"`cleanroom {' '.join(self.server_argv[1:])}` exited with "
                                     f"{self.server.returncode}:\n{self.server_log().strip()}")
                return
            if self.sock.exists() and self.cli("status", "--json").returncode == 0:
                if "egress enforcement on" not in self.server_log() and "egress enforcement is off" in \
                        self.server_log():
                    self.server_error = "the server runs without egress:\n" + self.server_log()
                return
            time.sleep(0.05)
        self.server_error = "the server did not answer within 20 s:\n" + self.server_log()

    def stop_server(self):
        p, self.server = self.server, None
        if p and p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def restart_server(self, offline=False):
        self.stop_server()
        self.server_error = None
        self.start_server(offline=offline)

    def require_server(self):
        if self.server_error:
            pytest.fail(f"the server under test did not start: {self.server_error}", pytrace=False)

    # ---- teardown
    def stop(self):
        errors = []
        for item in reversed(self.made):
            try:
                self.undo(item)
            except Exception as e:  # every step must be tried
                errors.append(f"{item[0]}: {e}")
        self.made = []
        if errors:
            raise RuntimeError("registry fixture teardown: " + "; ".join(errors))

    def undo(self, item):
        kind = item[0]
        if kind == "server":
            self.stop_server()
        elif kind == "daemon":
            if item[1] == "dns":
                self.stop_daemon(self.dns)
                self.dns = None
            else:
                self.stop_daemon(self.https)
                self.https = None
        elif kind == "netns":
            kill_ns(item[1])
            run("ip", "netns", "del", item[1])
        elif kind == "dir":
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- the CLI
    def cli(self, *args, timeout=60):
        argv = [self.binary, *[str(a) for a in args], "--host", self.host]
        return subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=timeout)

    def exec(self, policy, script, files=None, timeout=150, env=()):
        """Runs `sh -c SCRIPT` in a new sandbox of a workspace holding
        cleanroom.yaml (the policy, read from the workspace as a user's
        repository would have it) and `files`; returns a Run."""
        self.require_server()
        self.counter += 1
        ws = self.dir / "work" / f"w{self.counter}"
        ws.mkdir(parents=True)
        (ws / "cleanroom.yaml").write_text(textwrap.dedent(policy).lstrip("\n"))
        for rel, content in (files or {}).items():
            p = ws / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content if isinstance(content, bytes) else content.encode())
        args = [self.binary, "exec", "--host", self.host, "--json", "--timeout", "120s", "--workspace", str(ws)]
        for e in env:
            args += ["-e", e]
        args += ["--", "sh", "-c", script]
        p = subprocess.run(args, capture_output=True, text=True, env=self.env, timeout=timeout, cwd=str(ws))
        return Run(args, p.returncode, p.stdout, p.stderr)

    # ---- the audit trail
    def audit(self, sandbox_id):
        events, after = [], None
        while True:
            args = ["audit", "ls", "--sandbox", sandbox_id, "--json", "--limit", "1000"]
            if after:
                args += ["--after", after]
            p = self.cli(*args)
            assert p.returncode == 0, f"cleanroom audit ls failed: {p.stderr}"
            page = json.loads(p.stdout)
            batch = page.get("events", [])
            events += batch
            if not page.get("truncated") or not batch:
                return events
            after = batch[-1]["seq"]

    def events(self, run, kind="registry.decision", timeout=8.0, count=1, **want):
        """The run's audit events of `kind` whose detail matches want
        (reason= compares the reason code; other keys the detail's fields),
        waiting up to timeout for `count` of them."""
        sid = run.sandbox_id
        assert sid, f"no sandbox was created: {run!r}"

        def match(e):
            if kind and e.get("kind") != kind:
                return False
            d = e.get("detail", {})
            for k, v in want.items():
                if k == "reason":
                    if (e.get("reasonCode") or "") != v:
                        return False
                elif d.get(k) != v:
                    return False
            return True

        deadline = time.time() + timeout
        while True:
            found = [e for e in self.audit(sid) if match(e)]
            if len(found) >= count or time.time() > deadline:
                return found
            time.sleep(0.25)

    def event(self, run, kind="registry.decision", **want):
        """The first event matching want; fails listing the run's registry and egress events."""
        found = self.events(run, kind=kind, **want)
        if not found:
            trail = [e for e in self.audit(run.sandbox_id)
                     if e.get("kind", "").startswith(("registry.", "egress."))]
            raise AssertionError(f"no {kind} event with {want} for {run.sandbox_id}; its events:\n"
                                 + "\n".join(json.dumps(e, sort_keys=True) for e in trail))
        ev = found[0]
        assert ev.get("sandboxId") == run.sandbox_id and ev.get("runId") == run.run_id, (ev, run.record)
        assert ev.get("policyHash") == run.policy_hash, (ev, run.record)
        return ev

    # ---- what reached the fixture
    def mark(self):
        return self.log_path.stat().st_size

    def requests(self, since=0, **match):
        with open(self.log_path) as f:
            f.seek(since)
            events = [json.loads(line) for line in f if line.endswith("\n")]
        return [e for e in events if e.get("ev") == "http" and all(e.get(k) == v for k, v in match.items())]


# ---- the session's world, shared by the three modules ------------------------------------

_WORLD = {"obj": None, "users": 0, "error": None}


def _cleanup_at_exit():
    w = _WORLD["obj"]
    if w is not None:
        _WORLD["obj"] = None
        try:
            w.stop()
        except Exception:
            pass


atexit.register(_cleanup_at_exit)


def acquire_world(binary):
    if _WORLD["error"]:
        pytest.fail(_WORLD["error"], pytrace=False)
    if _WORLD["obj"] is None:
        try:
            _WORLD["obj"] = World(binary).start()
        except Exception as e:
            _WORLD["error"] = f"the registry fixture could not be built: {e}"
            pytest.fail(_WORLD["error"], pytrace=False)
    _WORLD["users"] += 1
    return _WORLD["obj"]


def release_world():
    _WORLD["users"] -= 1
    if _WORLD["users"] == 0 and _WORLD["obj"] is not None:
        w, _WORLD["obj"] = _WORLD["obj"], None
        w.stop()


def world_fixture(kind):
    """A module's fixture: the shared world, after checking that `kind`'s
    client (npm, pip, git) is here. Session-scoped: every module's copy is
    finalised at the end of the session, the last one removes the world."""

    @pytest.fixture(scope="session")
    def world(cleanroom_bin):
        reason = tool_missing(kind)
        if reason:
            pytest.skip(reason)
        w = acquire_world(cleanroom_bin)
        try:
            yield w
        finally:
            release_world()

    return world
