# SPDX-License-Identifier: Apache-2.0
"""The fixture npm registry of bench/registry.sh (issue 7): generates a
registry of packages and a project locked to them, then serves it over HTTPS
with a test CA, plus an authoritative DNS server for the fixture's names.
Ideas from tests/integration/registry_fixture.py (tarballs laid out as
`npm pack` does, lockfileVersion 3); this file is the benchmark's own.

  registry_fixture.py generate DIR N [SEED]
      DIR/registry/<name>/full.json       the full packument (application/json)
      DIR/registry/<name>/abbrev.json     the abbreviated one (install-v1)
      DIR/registry/<name>/-/<base>-<v>.tgz  every version's tarball
      DIR/project/package.json, package-lock.json, check.js
                                          a project whose install tree is the
                                          N packages, one version each, hoisted
      DIR/items.json                      what the latency client asks for:
                                          packument and tarball path, integrity
  registry_fixture.py serve CONFIG.json
      DNS (UDP+TCP :53 on dns_addr) for `records` (other names of the zone
      NXDOMAIN), and HTTPS on https_addr:443 serving DIR/registry from
      memory: GET /<name> (scoped /@scope%2fname) answers the abbreviated
      packument when Accept names application/vnd.npm.install-v1+json, else
      the full one, with an ETag (If-None-Match -> 304); GET
      /<name>/-/<file>.tgz the tarball. HTTP/1.1 keep-alive. Every request is
      logged as one JSON line ({"path", "status", "peer"}) to CONFIG log, so
      the benchmark can show that a warm phase reached no upstream at all.
      With delay_ms in CONFIG, every answer waits that long first (an
      upstream far away). Prints "ready" once listening; exits on SIGTERM.

Package sizes and the dependency tree are pseudo-random from SEED (the same
every run): tarballs between ~1 KB and ~400 KB (most 3-40 KB, like a real
registry's), 1-6 published versions per package of which the lockfile pins
one, each package depending on 0-4 packages later in the list.
"""
import base64
import gzip
import hashlib
import io
import json
import os
import random
import signal
import socketserver
import ssl
import sys
import tarfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler
from pathlib import Path

HOST = "npm.registry.test"
FIXED_MTIME = 499162500  # what npm pack writes
ABBREV = "application/vnd.npm.install-v1+json"
TIME = "2026-01-01T00:00:00.000Z"


def sri(data):
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


# ---- generate ------------------------------------------------------------------------

def names(n):
    """crb-pkg-NNN, every tenth one scoped (@crb/pkg-NNN)."""
    return [f"@crb/pkg-{i:03d}" if i % 10 == 5 else f"crb-pkg-{i:03d}" for i in range(n)]


def payload_size(rng):
    r = rng.random()
    if r < 0.70:
        return int(3000 * (40000 / 3000) ** rng.random())      # 3-40 KB
    if r < 0.90:
        return int(40000 * (150000 / 40000) ** rng.random())   # 40-150 KB
    if r < 0.97:
        return int(1000 + 2000 * rng.random())                  # tiny
    return int(150000 * (400000 / 150000) ** rng.random())     # a few big ones


def tarball(name, version, deps, size, rng):
    manifest = {"name": name, "version": version, "description": f"bench fixture package {name}",
                "main": "index.js", "license": "MIT"}
    if deps:
        manifest["dependencies"] = deps
    index = (f"exports.name = {json.dumps(name)};\nexports.version = {json.dumps(version)};\n"
             + "".join(f"exports[{json.dumps(d)}] = require({json.dumps(d)});\n" for d in deps))
    # base64 of random bytes: gzip keeps ~3/4 of it, so the tarball is about `size`
    data = base64.b64encode(rng.randbytes(size * 3 // 4 + 1)).decode()
    data = "\n".join(data[i:i + 76] for i in range(0, len(data), 76)) + "\n"
    files = {"package/package.json": json.dumps(manifest, indent=2) + "\n", "package/index.js": index,
             "package/README.md": f"# {name}\n\nA generated package of the cleanroom registry benchmark.\n",
             "package/data.txt": data}
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, text in files.items():
            b = text.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(b), 0o644, FIXED_MTIME
            tar.addfile(info, io.BytesIO(b))
    return gzip.compress(raw.getvalue(), mtime=0)


def generate(out, n, seed):
    rng = random.Random(seed)
    out = Path(out)
    reg = out / "registry"
    pkgs = names(n)
    locked = {}
    deps_of = {}
    for i, name in enumerate(pkgs):
        later = pkgs[i + 1:]
        k = min(len(later), rng.choice([0, 0, 1, 1, 2, 2, 3, 4]))
        deps_of[name] = sorted(rng.sample(later, k))
    items = []
    for i, name in enumerate(pkgs):
        nver = rng.randint(1, 6)
        versions = [f"1.{j}.{rng.randint(0, 3)}" for j in range(nver)]
        pin = rng.choice(versions)
        deps = {d: "^1.0.0" for d in deps_of[name]}
        base = name.split("/")[-1]
        full = {"_id": name, "name": name, "description": f"bench fixture package {name}",
                "dist-tags": {"latest": versions[-1]}, "time": {"created": TIME, "modified": TIME},
                "readme": f"# {name}\n\n" + "A generated package of the cleanroom registry benchmark. " * 40,
                "license": "MIT", "versions": {}}
        abbrev = {"name": name, "modified": TIME, "dist-tags": {"latest": versions[-1]}, "versions": {}}
        for v in versions:
            tgz = tarball(name, v, deps, payload_size(rng), rng)
            path = f"/{name}/-/{base}-{v}.tgz"
            (reg / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            (reg / path.lstrip("/")).write_bytes(tgz)
            dist = {"tarball": f"https://{HOST}{path}", "integrity": sri(tgz),
                    "shasum": hashlib.sha1(tgz).hexdigest(), "fileCount": 4, "unpackedSize": len(tgz) * 4 // 3}
            meta = {"name": name, "version": v, "description": full["description"], "main": "index.js",
                    "license": "MIT", "_id": f"{name}@{v}", "dist": dist}
            short = {"name": name, "version": v, "dist": dist}
            if deps:
                meta["dependencies"] = short["dependencies"] = deps
            full["versions"][v] = meta
            full["time"][v] = TIME
            abbrev["versions"][v] = short
            if v == pin:
                locked[name] = {"version": v, "resolved": dist["tarball"], "integrity": dist["integrity"],
                                "size": len(tgz), "path": path}
        (reg / name).mkdir(parents=True, exist_ok=True)
        (reg / name / "full.json").write_text(json.dumps(full))
        (reg / name / "abbrev.json").write_text(json.dumps(abbrev))
        items.append({"name": name, "version": pin, "packument": "/" + name.replace("/", "%2f"),
                      "tarball": locked[name]["path"], "integrity": locked[name]["integrity"],
                      "size": locked[name]["size"]})

    # the project: every package nobody depends on is a direct dependency, plus a few more
    depended = {d for ds in deps_of.values() for d in ds}
    direct = [p for p in pkgs if p not in depended] + rng.sample(sorted(depended), min(5, len(depended)))
    direct = {p: "^1.0.0" for p in sorted(set(direct))}
    proj = out / "project"
    proj.mkdir(parents=True, exist_ok=True)
    pj = {"name": "crb-project", "version": "1.0.0", "private": True, "dependencies": direct}
    lock_pkgs = {"": {"name": "crb-project", "version": "1.0.0", "dependencies": direct}}
    for name in sorted(pkgs):
        e = {"version": locked[name]["version"], "resolved": locked[name]["resolved"],
             "integrity": locked[name]["integrity"], "license": "MIT"}
        if deps_of[name]:
            e["dependencies"] = {d: "^1.0.0" for d in deps_of[name]}
        lock_pkgs[f"node_modules/{name}"] = e
    lock = {"name": "crb-project", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
            "packages": lock_pkgs}
    (proj / "package.json").write_text(json.dumps(pj, indent=2) + "\n")
    (proj / "package-lock.json").write_text(json.dumps(lock, indent=2) + "\n")
    # loads every direct dependency (and so the whole tree) and checks versions
    (proj / "check.js").write_text(
        "const fs = require('fs');\nconst lock = require('./package-lock.json').packages;\nlet n = 0;\n"
        "for (const [k, v] of Object.entries(lock)) {\n  if (!k) continue;\n"
        "  const got = JSON.parse(fs.readFileSync(k + '/package.json')).version;\n"
        "  if (got !== v.version) throw new Error(k + ' is ' + got + ', locked ' + v.version);\n  n++;\n}\n"
        "for (const d of Object.keys(require('./package.json').dependencies)) require(d);\n"
        "console.log('@@installed=' + n);\n")
    (out / "items.json").write_text(json.dumps(items, indent=1))
    total = sum(i["size"] for i in items)
    print(f"{n} packages, {sum(len(json.loads((reg / p / 'full.json').read_text())['versions']) for p in pkgs)} "
          f"versions; the locked tarballs: {total / 1e6:.1f} MB, median "
          f"{sorted(i['size'] for i in items)[n // 2] / 1e3:.1f} KB; {len(direct)} direct dependencies",
          file=sys.stderr)


# ---- serve ---------------------------------------------------------------------------

LOCK = threading.Lock()
LOG = None
DOCS = {}   # "/name" -> {"full": (bytes, etag), "abbrev": (bytes, etag)}
FILES = {}  # "/name/-/x.tgz" -> bytes
DELAY = 0.0  # seconds before every answer (CONFIG delay_ms: a distant upstream)


def log(**event):
    line = json.dumps(event, sort_keys=True) + "\n"
    with LOCK:
        LOG.write(line)
        LOG.flush()


def load(root):
    root = Path(root)
    for p in root.rglob("*"):
        if not p.is_file():
            continue
        rel = "/" + p.relative_to(root).as_posix()
        if p.suffix == ".tgz":
            FILES[rel] = p.read_bytes()
        elif p.name in ("full.json", "abbrev.json"):
            data = p.read_bytes()
            etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
            DOCS.setdefault(rel.rsplit("/", 1)[0], {})[p.stem] = (data, etag)


class Handler(BaseHTTPRequestHandler):
    server_version = "cleanroom-bench-registry/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, body=b"", ctype="application/octet-stream", headers=()):
        self.send_response(status)
        if status != 304:
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)
        log(path=self.path, status=status, peer=self.client_address[0])

    def do_GET(self):
        if DELAY:
            time.sleep(DELAY)
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if path.endswith(".tgz"):
            data = FILES.get(path)
            if data is None:
                return self.answer(404, b"not found\n", "text/plain")
            return self.answer(200, data)
        doc = DOCS.get(path.rstrip("/"))
        if doc is None:
            return self.answer(404, b'{"error":"not found"}\n', "application/json")
        abbrev = ABBREV in (self.headers.get("Accept") or "")
        data, etag = doc["abbrev" if abbrev else "full"]
        if self.headers.get("If-None-Match") == etag:
            return self.answer(304, headers=[("ETag", etag)])
        self.answer(200, data, ABBREV if abbrev else "application/json",
                    [("ETag", etag), ("Cache-Control", "public, max-age=300")])

    do_HEAD = do_GET


class TLSServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 256
    tls = None

    def finish_request(self, request, client_address):
        request.settimeout(60)
        try:
            request = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        super().finish_request(request, client_address)


def serve(cfg_path):
    global LOG, DELAY
    cfg = json.loads(Path(cfg_path).read_text())
    DELAY = cfg.get("delay_ms", 0) / 1000
    LOG = open(cfg["log"], "a", buffering=1)
    load(cfg["root"])

    from dnslib import QTYPE, RCODE, RR, A
    from dnslib.server import BaseResolver, DNSLogger, DNSServer

    records = {k.lower(): v for k, v in cfg["records"].items()}
    zone = cfg["zone"]

    class Resolver(BaseResolver):
        def resolve(self, request, handler):
            name = str(request.q.qname).rstrip(".").lower()
            reply = request.reply()
            if not (name == zone or name.endswith("." + zone)):
                reply.header.rcode = RCODE.REFUSED
            elif name not in records:
                reply.header.rcode = RCODE.NXDOMAIN
            elif request.q.qtype in (QTYPE.A, QTYPE.ANY):
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(records[name]), ttl=300))
            return reply

    quiet = DNSLogger(log="-request,-reply,-truncated,-error,-recv,-send,-data", prefix=False)
    for tcp in (False, True):
        DNSServer(Resolver(), address=cfg["dns_addr"], port=53, tcp=tcp, logger=quiet).start_thread()
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cfg["cert"], cfg["key"])
    srv = TLSServer((cfg["https_addr"], 443), Handler)
    srv.tls = tls
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    print("ready", flush=True)
    stop.wait()
    os._exit(0)


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "generate":
        generate(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 7)
    elif len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        sys.exit("usage: registry_fixture.py generate DIR N [SEED] | serve CONFIG.json")


if __name__ == "__main__":
    main()
