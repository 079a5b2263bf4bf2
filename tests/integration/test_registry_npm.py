# SPDX-License-Identifier: Apache-2.0
"""npm through the gateway's registry front (issue 7, spec §6.2, §6.6) with
the real npm client inside sandboxes of a real `cleanroom serve`, against a
fixture npm registry (packuments and tarballs made here, served over HTTPS
with a test CA on a fixture internet; registry_fixture.py).

Each case checks what the sandbox saw (npm's outcome, the front's answer),
what reached the fixture upstream, and the audit trail's registry.decision
events. Package names are unique per case, so the shared content cache of
the session cannot make one case pass for another.
"""
import registry_fixture as rf
from registry_fixture import GW_LINE, NPM_ENV, NPM_HOST, front_fetch, make_policy, npm_project

world = rf.world_fixture("npm")


def npm_policy(mode="deny_unknown", lockfiles=("package-lock.json",), allow=()):
    return make_policy(npm=dict(mode=mode, lockfiles=list(lockfiles)), allow=allow)


def script(*lines):
    return "\n".join([GW_LINE, NPM_ENV, *lines])


# prints @@<tag>-versions=, @@<tag>-latest= and @@<tag>-tarballs= of a packument saved by front_fetch
PACKUMENT_SUMMARY = (
    "node -e 'const d = JSON.parse(require(\"fs\").readFileSync(\"/tmp/{tag}.b\", \"utf8\")); "
    "const v = Object.keys(d.versions).sort(); "
    "console.log(\"@@{tag}-versions=\" + v.join(\",\")); "
    "console.log(\"@@{tag}-latest=\" + (d[\"dist-tags\"] || {{}}).latest); "
    "console.log(\"@@{tag}-tarballs=\" + v.map(k => d.versions[k].dist.tarball).join(\",\"))' 2>&1")


def assert_via_gateway(world, since):
    """Everything that reached the fixture since `since` came from the
    server's namespace (the gateway), never from a sandbox's address."""
    for r in world.requests(since):
        assert r["peer"] == rf.SRV_LINK_ADDR, f"a request reached the upstream from {r['peer']}: {r}"


def tarball_requests(world, since, pkg):
    return [r for r in world.requests(since, host=NPM_HOST) if r["path"] == pkg.path]


# ---- installs ---------------------------------------------------------------------

def test_npm_ci_installs_through_the_gateway(world):
    a2 = world.npm.publish("crt-ci-a", "2.0.0")  # upstream has a newer version nobody locked
    del a2
    b = world.npm.publish("crt-ci-b", "1.0.0")
    a = world.npm.publish("crt-ci-a", "1.0.0", deps={"crt-ci-b": "^1.0.0"})
    s = world.npm.publish("@crt/ci-scoped", "1.0.0")
    pj, lock = npm_project("ci-project", {"crt-ci-a": "1.0.0", "@crt/ci-scoped": "1.0.0"}, [a, b, s])
    mark = world.mark()
    run = world.exec(npm_policy(), script(
        "echo \"@@gw=$GW\"; echo \"@@registry=$npm_config_registry\"; "
        "echo \"@@replace=$npm_config_replace_registry_host\"",
        "npm ci 2>&1; echo \"@@ci=$?\"",
        "node -e 'const a = require(\"crt-ci-a\"), s = require(\"@crt/ci-scoped\"); "
        "console.log(\"@@loaded=\" + [a.name, a.version, a[\"crt-ci-b\"].name, s.name].join(\"+\"))'",
        # the packuments as the front serves them
        front_fetch("pk", "/npm/crt-ci-a"),
        front_fetch("scoped", "/npm/@crt%2fci-scoped"),
        PACKUMENT_SUMMARY.format(tag="pk"),
        PACKUMENT_SUMMARY.format(tag="scoped"),
    ), files={"package.json": pj, "package-lock.json": lock}).started()
    gw = run.marker("gw")
    assert run.marker("registry") == f"http://{gw}/npm/", run
    assert run.marker("replace") == "always", run
    assert run.marker("ci") == "0", f"npm ci failed through the gateway: {run!r}"
    assert run.marker("loaded") == "crt-ci-a+1.0.0+crt-ci-b+@crt/ci-scoped", run
    # packuments: tarball URLs rewritten to the front; under deny_unknown only the locked
    # versions of a locked package are offered (2.0.0 exists upstream)
    assert run.marker("pk-status") == "200" and run.marker("scoped-status") == "200", run
    assert run.marker("pk-versions") == "1.0.0", f"the packument offers unlocked versions: {run!r}"
    assert run.marker("pk-latest") == "1.0.0", run
    assert run.marker("pk-tarballs") == f"http://{gw}/npm/crt-ci-a/-/crt-ci-a-1.0.0.tgz", run
    assert run.marker("scoped-tarballs") == f"http://{gw}/npm/@crt/ci-scoped/-/ci-scoped-1.0.0.tgz", run

    # the upstream served the three tarballs, to the gateway
    for p in (a, b, s):
        assert tarball_requests(world, mark, p), \
            f"{p.url} never reached the upstream: {world.requests(mark)}"
    assert_via_gateway(world, mark)
    # one allow per artifact, naming package, version and path
    for p in (a, b, s):
        ev = world.event(run, registry="npm", package=p.name, version=p.version, action="allow")
        assert ev["detail"].get("requested_path", "").endswith(p.path.split("/-/")[1]), ev
        assert not ev.get("reasonCode"), ev


def test_npm_install_of_an_undeclared_package_is_refused(world):
    a = world.npm.publish("crt-deny-a", "1.0.0")
    extra = world.npm.publish("crt-deny-extra", "1.0.0")
    pj, lock = npm_project("deny-project", {"crt-deny-a": "1.0.0"}, [a])
    mark = world.mark()
    run = world.exec(npm_policy(), script(
        "npm ci 2>&1; echo \"@@ci=$?\"",
        "npm install crt-deny-extra@1.0.0 2>&1; echo \"@@install=$?\"",
        "test -e node_modules/crt-deny-extra && echo @@present=yes || echo @@present=no",
        front_fetch("direct", f"/npm{extra.path}"),
    ), files={"package.json": pj, "package-lock.json": lock}).started()
    assert run.marker("ci") == "0", f"the declared package did not install: {run!r}"
    assert run.marker("install") != "0", f"an undeclared package installed: {run!r}"
    assert run.marker("present") == "no", run
    assert "403" in run.out, f"npm did not report the front's 403: {run!r}"
    # the front's answer, as any client sees it
    assert run.marker("direct-status") == "403", run
    assert run.marker("direct-reason") == "lockfile_violation", run
    body = run.marker("direct-body")
    assert "crt-deny-extra" in body and "1.0.0" in body and "package-lock.json" in body, \
        f"the refusal must name package, version and lockfile: {body!r}"

    ev = world.event(run, registry="npm", package="crt-deny-extra", action="deny", reason="lockfile_violation")
    assert ev["detail"].get("version") == "1.0.0", ev
    assert "crt-deny-extra-1.0.0.tgz" in ev["detail"].get("requested_path", ""), ev
    world.event(run, registry="npm", package="crt-deny-a", version="1.0.0", action="allow")
    # a refused artifact is never fetched
    assert not tarball_requests(world, mark, extra), world.requests(mark)
    assert tarball_requests(world, mark, a)
    assert_via_gateway(world, mark)


def test_npm_ci_of_a_lockfile_the_policy_does_not_declare_is_refused(world):
    """The policy's lockfile (locked/package-lock.json) declares one package;
    the project's own lock adds a second one: npm ci fails on it."""
    a = world.npm.publish("crt-lock-a", "1.0.0")
    added = world.npm.publish("crt-lock-added", "1.0.0")
    _, policy_lock = npm_project("lock-project", {"crt-lock-a": "1.0.0"}, [a])
    pj, lock = npm_project("lock-project", {"crt-lock-a": "1.0.0", "crt-lock-added": "1.0.0"}, [a, added])
    mark = world.mark()
    run = world.exec(npm_policy(lockfiles=["locked/package-lock.json"]), script(
        "npm ci 2>&1; echo \"@@ci=$?\"",
        "test -e node_modules/crt-lock-added && echo @@present=yes || echo @@present=no",
    ), files={"package.json": pj, "package-lock.json": lock, "locked/package-lock.json": policy_lock}).started()
    assert run.marker("ci") != "0", f"npm ci installed a package the policy's lockfile does not declare: {run!r}"
    assert run.marker("present") == "no", run
    ev = world.event(run, registry="npm", package="crt-lock-added", action="deny", reason="lockfile_violation")
    assert ev["detail"].get("version") == "1.0.0", ev
    assert not tarball_requests(world, mark, added), world.requests(mark)


def test_warn_mode_installs_and_records(world):
    a = world.npm.publish("crt-warn-a", "1.0.0")
    world.npm.publish("crt-warn-extra", "1.0.0")
    pj, lock = npm_project("warn-project", {"crt-warn-a": "1.0.0"}, [a])
    run = world.exec(npm_policy(mode="warn"), script(
        "npm ci 2>&1; echo \"@@ci=$?\"",
        "npm install crt-warn-extra@1.0.0 2>&1; echo \"@@install=$?\"",
        "node -e 'console.log(\"@@extra=\" + require(\"crt-warn-extra\").version)'",
    ), files={"package.json": pj, "package-lock.json": lock}).started()
    assert run.marker("ci") == "0", run
    assert run.marker("install") == "0", f"warn mode must serve the undeclared package: {run!r}"
    assert run.marker("extra") == "1.0.0", run
    ev = world.event(run, registry="npm", package="crt-warn-extra", action="warn", reason="lockfile_violation")
    assert ev["detail"].get("version") == "1.0.0", ev
    # the declared one is a plain allow, not a warning
    world.event(run, registry="npm", package="crt-warn-a", version="1.0.0", action="allow")
    assert not world.events(run, registry="npm", package="crt-warn-a", action="warn", timeout=0), run


# ---- integrity and the cache ------------------------------------------------------------

def test_tampered_tarball_is_rejected(world):
    good = world.npm.publish("crt-tamper", "1.0.0")
    pj, lock = npm_project("tamper-project", {"crt-tamper": "1.0.0"}, [good])
    world.npm.tamper(good)  # after the lockfile was written: the upstream now serves other bytes
    mark = world.mark()
    run = world.exec(npm_policy(), script(
        "npm ci 2>&1; echo \"@@ci=$?\"",
        "test -e node_modules/crt-tamper && echo @@present=yes || echo @@present=no",
        front_fetch("first", f"/npm{good.path}"),
        front_fetch("again", f"/npm{good.path}"),
    ), files={"package.json": pj, "package-lock.json": lock}).started()
    assert run.marker("ci") != "0", f"npm ci installed a tampered tarball: {run!r}"
    assert run.marker("present") == "no", run
    assert "EINTEGRITY" not in run.out, \
        f"the gateway served the tampered bytes (npm caught the mismatch itself): {run!r}"
    # refused by the front, and not cached: the second request is refused too
    for tag in ("first", "again"):
        assert run.marker(f"{tag}-status") == "502", run
        assert run.marker(f"{tag}-reason") == "integrity_mismatch", run
    assert tarball_requests(world, mark, good), "the gateway never fetched the tarball upstream"
    ev = world.event(run, registry="npm", package="crt-tamper", reason="integrity_mismatch")
    assert ev["detail"].get("action") in ("deny", "error"), ev
    assert ev["detail"].get("version") == "1.0.0", ev


def test_second_install_is_served_from_the_cache_with_the_upstream_stopped(world):
    b = world.npm.publish("crt-cache-b", "1.0.0")
    a = world.npm.publish("crt-cache-a", "1.0.0", deps={"crt-cache-b": "1.0.0"})
    pj, lock = npm_project("cache-project", {"crt-cache-a": "1.0.0"}, [a, b])
    files = {"package.json": pj, "package-lock.json": lock}
    steps = script(
        "rm -rf /tmp/npm-cache; npm ci 2>&1; echo \"@@ci=$?\"",
        "node -e 'console.log(\"@@loaded=\" + require(\"crt-cache-a\")[\"crt-cache-b\"].name)'",
    )
    mark = world.mark()
    first = world.exec(npm_policy(), steps, files=files).started()
    assert first.marker("ci") == "0", first
    assert tarball_requests(world, mark, a) and tarball_requests(world, mark, b), world.requests(mark)

    world.stop_upstream()
    try:
        second = world.exec(npm_policy(), steps, files=files).started()
    finally:
        world.start_upstream()
    assert second.marker("ci") == "0", f"npm ci failed with the upstream stopped: {second!r}"
    assert second.marker("loaded") == "crt-cache-b", second
    for p in (a, b):
        ev = world.event(second, registry="npm", package=p.name, version=p.version, action="allow")
        assert ev["detail"].get("cache") in ("hit", "stale"), f"not served from the cache: {ev}"


def test_offline_mode_serves_warm_entries_only(world):
    """serve --offline: cached artifacts install with the upstream up but
    never asked; an artifact that is not cached is 503."""
    warm = world.npm.publish("crt-offline-warm", "1.0.0")
    cold = world.npm.publish("crt-offline-cold", "1.0.0")
    pj, lock = npm_project("offline-project", {"crt-offline-warm": "1.0.0"}, [warm])
    _, policy_lock = npm_project("offline-project", {}, [warm, cold])
    files = {"package.json": pj, "package-lock.json": lock, "locked/package-lock.json": policy_lock}
    policy = npm_policy(lockfiles=["locked/package-lock.json"])
    first = world.exec(policy, script("npm ci 2>&1; echo \"@@ci=$?\""), files=files).started()
    assert first.marker("ci") == "0", first

    world.restart_server(offline=True)
    try:
        world.require_server()
        mark = world.mark()
        run = world.exec(policy, script(
            "npm ci 2>&1; echo \"@@ci=$?\"",
            front_fetch("cold", f"/npm{cold.path}"),
        ), files=files).started()
        offline_requests = world.requests(mark)
    finally:
        world.restart_server(offline=False)
    assert run.marker("ci") == "0", f"offline: a cached install failed: {run!r}"
    assert run.marker("cold-status") == "503", run
    assert "offline" in run.marker("cold-body"), run
    assert not offline_requests, f"an offline gateway went upstream: {offline_requests}"


# ---- the direct path ---------------------------------------------------------------------

def test_direct_connection_to_the_registry_is_refused(world):
    a = world.npm.publish("crt-direct", "1.0.0")
    pj, lock = npm_project("direct-project", {"crt-direct": "1.0.0"}, [a])
    ip = rf.RECORDS[NPM_HOST]
    mark = world.mark()
    run = world.exec(npm_policy(), script(
        f"curl --noproxy '*' -sS -o /dev/null -w '%{{http_code}}' --max-time 10 -k "
        f"--resolve {NPM_HOST}:443:{ip} https://{NPM_HOST}/crt-direct >/tmp/direct.code; echo \"@@direct=$?\"",
        "echo \"@@direct-code=$(cat /tmp/direct.code)\"",
        f"curl -sS -o /dev/null -w '%{{http_code}}' --max-time 10 -k --proxy \"http://$GW:3128\" "
        f"https://{NPM_HOST}/crt-direct >/tmp/proxied.code; echo \"@@proxied=$?\"",
        "echo \"@@proxied-code=$(cat /tmp/proxied.code)\"",
        f"getent hosts {NPM_HOST} >/dev/null; echo \"@@resolved=$?\"",
        front_fetch("front", "/npm/crt-direct"),
    ), files={"package.json": pj, "package-lock.json": lock}).started()
    direct = run.marker("direct")
    assert direct not in ("0", "28"), f"the direct TLS connection was not refused promptly (curl {direct}): {run!r}"
    assert run.marker("direct-code") != "200", run
    assert run.marker("proxied") != "0" and run.marker("proxied-code") != "200", \
        f"CONNECT to the registry host was not refused: {run!r}"
    assert run.marker("resolved") != "0", f"the sandbox resolved the registry host: {run!r}"
    # the front is the way: it serves the packument
    assert run.marker("front-status") == "200", run
    # both refusals are in the trail: the transparent path (TLS) and the explicit proxy (CONNECT)
    for protocol in ("tls", "connect"):
        ev = world.event(run, kind="egress.decision", reason="registry_not_allowed", host=NPM_HOST,
                         protocol=protocol)
        assert ev["detail"].get("action") == "deny", ev
    # only the gateway's own packument fetch reached the upstream
    for r in world.requests(mark):
        assert r["peer"] == rf.SRV_LINK_ADDR and r["path"] == "/crt-direct", r


def test_fallback_decides_without_lockfile_enforcement(world):
    """No lockfile enforcement: `fallback: deny` refuses every artifact
    (registry_not_allowed); `fallback: allow` serves them, verified against
    the packument's integrity."""
    pkg = world.npm.publish("crt-fallback", "1.0.0")
    bad = world.npm.publish("crt-fallback-bad", "1.0.0")
    world.npm.tamper(bad)
    steps = script(
        "npm install crt-fallback@1.0.0 2>&1; echo \"@@install=$?\"",
        front_fetch("bad", f"/npm{bad.path}"),
    )
    pj = '{"name": "fallback-project", "version": "1.0.0", "private": true}\n'
    mark = world.mark()
    denied = world.exec(make_policy(npm=dict(enforce=False, fallback="deny")), steps,
                        files={"package.json": pj}).started()
    assert denied.marker("install") != "0", f"fallback deny served an artifact: {denied!r}"
    ev = world.event(denied, registry="npm", package="crt-fallback", action="deny", reason="registry_not_allowed")
    assert ev["detail"].get("version") == "1.0.0", ev
    assert denied.marker("bad-status") == "403", denied
    assert not tarball_requests(world, mark, pkg), "a refused artifact was fetched upstream"

    allowed = world.exec(make_policy(npm=dict(enforce=False, fallback="allow")), steps,
                         files={"package.json": pj}).started()
    assert allowed.marker("install") == "0", f"fallback allow refused an artifact: {allowed!r}"
    world.event(allowed, registry="npm", package="crt-fallback", version="1.0.0", action="allow")
    assert tarball_requests(world, mark, pkg)
    assert allowed.marker("bad-status") == "502" and allowed.marker("bad-reason") == "integrity_mismatch", allowed
    world.event(allowed, registry="npm", package="crt-fallback-bad", reason="integrity_mismatch")
