# SPDX-License-Identifier: Apache-2.0
"""Lockfile enforcement (spec §5.2, §6.6) through the policy commands, with
the real npm lockfiles of tests/fixtures/lockfiles/."""
import hashlib
import json

import pytest

from conftest import FIXTURES

LOCKFILES = sorted((FIXTURES / "lockfiles").glob("*/package-lock.json"))

pytestmark = pytest.mark.skipif(
    not LOCKFILES,
    reason="no tests/fixtures/lockfiles/*/package-lock.json in this checkout (real npm fixtures not committed yet)",
)

POLICY = """
    version: 1
    sandbox:
      network:
        default: deny
        allow:
          - host: registry.npm.example
            ports: [443]
    registries:
      npm:
        enable: true
        allowed_hosts: [{hosts}]
        cache_ref: content-cache
        fallback: deny
        lockfile_enforcement:
          enabled: true
          mode: deny_unknown
          lockfiles:
            - package-lock.json
    """


def expected_artifacts(lock):
    """(name, version, integrity) of every registry package the lockfile
    pins with an integrity, read independently of cleanroom."""
    want = set()
    if "packages" in lock:
        for key, e in lock["packages"].items():
            if not key or e.get("link") or not e.get("integrity"):
                continue
            name = e.get("name") or key.rsplit("node_modules/", 1)[-1]
            want.add((name, e["version"], e["integrity"]))
        return want

    def walk(deps):
        for key, e in deps.items():
            if e.get("integrity"):
                version = e["version"]
                name = key
                if version.startswith("npm:"):  # alias: npm:lodash@4.17.21
                    name, version = version[4:].rsplit("@", 1)
                want.add((name, version, e["integrity"]))
            walk(e.get("dependencies", {}))

    walk(lock.get("dependencies", {}))
    return want


def test_enforcement_with_missing_lockfile_fails(cr):
    repo = cr.repo({"cleanroom.yaml": POLICY.format(hosts="registry.npm.example")})
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert "error[policy_invalid]" in r.err, r
    assert "lockfile open 'package-lock.json': No such file or directory" in r.err, r
    assert "hint: commit the lockfile, or remove it from lockfile_enforcement.lockfiles" in r.err, r

    doc = cr.run("policy", "validate", "--json", cwd=repo).json()
    assert doc["valid"] is False and doc["errors"] == 1
    assert "package-lock.json" in doc["diagnostics"][0]["message"]

    assert cr.run("policy", "compile", "--json", cwd=repo).rc == 1
    assert cr.run("policy", "explain", "registry.npm.example", cwd=repo).rc == 2


@pytest.mark.parametrize("lockfile", LOCKFILES, ids=[p.parent.name for p in LOCKFILES])
def test_real_package_lock_becomes_the_artifact_allowlist(cr, lockfile):
    data = lockfile.read_bytes()
    repo = cr.repo({
        "cleanroom.yaml": POLICY.format(hosts="registry.npm.example"),
        "package-lock.json": data,
    })
    r = cr.run("policy", "compile", "--json", cwd=repo)
    assert r.rc == 0, r
    npm = r.json()["registries"]["npm"]

    assert npm["lockfile_policy"]["enabled"] is True
    assert npm["lockfile_policy"]["mode"] == "deny_unknown"
    [inp] = npm["lockfile_policy"]["inputs"]
    assert inp["path"] == "package-lock.json"
    assert inp["format"] == "package-lock.json"
    assert inp["sha256"] == hashlib.sha256(data).hexdigest()

    allow = npm["artifact_allowlist"]
    assert allow, "no artifacts"
    for a in allow:
        assert {"name", "version", "integrity"} <= set(a), a
    got = {(a["name"], a["version"], a["integrity"]) for a in allow if a["integrity"]}
    want = expected_artifacts(json.loads(data))
    assert want, "the fixture pins no integrity"
    assert got == want
    for a in allow:
        if a["integrity"]:
            assert a["integrity"].startswith(("sha512-", "sha1-")), a
            assert a["registry"] == "registry.npm.example", a

    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 0, r
    assert f"1 registries, {len(allow)} locked artifacts)" in r.out, r


def test_lockfile_from_a_registry_that_is_not_allowed_warns(cr):
    # the fixtures resolve from registry.npm.example; the policy allows another host
    repo = cr.repo({
        "cleanroom.yaml": POLICY.format(hosts="registry.mirror.example"),
        "package-lock.json": LOCKFILES[0].read_bytes(),
    })
    r = cr.run("policy", "validate", "--json", cwd=repo)
    assert r.rc == 0, r  # a warning, not an error
    doc = r.json()
    codes = {d["reason_code"] for d in doc["diagnostics"] if d["severity"] == "warning"}
    assert "registry_not_allowed" in codes, doc
    assert any("registry.npm.example" in d["message"] and d["file"] == "package-lock.json"
               for d in doc["diagnostics"]), doc


def test_lockfile_symlink_leaving_the_repository_is_refused(cr):
    """Lockfiles are read with RESOLVE_BENEATH: a symlink out of the
    repository is an error, one inside it is followed."""
    outside = cr.plain_dir({"package-lock.json": '{"lockfileVersion": 3, "packages": {}}'}, name="outside")
    repo = cr.repo({"cleanroom.yaml": POLICY.format(hosts="registry.npm.example")}, commit=False)
    (repo / "package-lock.json").symlink_to(outside / "package-lock.json")
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert "open 'package-lock.json': it resolves outside the repository" in r.err, r

    (repo / "package-lock.json").unlink()
    (repo / "locks").mkdir()
    (repo / "locks" / "real.json").write_text('{"lockfileVersion": 3, "packages": {}}')
    (repo / "package-lock.json").symlink_to("locks/real.json")
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 0, r
