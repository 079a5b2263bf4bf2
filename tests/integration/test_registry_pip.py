# SPDX-License-Identifier: Apache-2.0
"""pip through the gateway's PyPI front (issue 7, spec §6.2, §6.6) with the
real pip inside sandboxes of a real `cleanroom serve`, against a fixture
PyPI (PEP 503 pages on pypi.registry.test, wheels built here on
files.registry.test, HTTPS with a test CA; registry_fixture.py).

pip installs with --target (no virtual environment needed, and Debian's
externally-managed marker does not apply to a target directory). Project
names are unique per case so the session's shared cache cannot make one
case pass for another.
"""
import registry_fixture as rf
from registry_fixture import FILES_HOST, GW_LINE, PIP_ENV, PYPI_HOST, front_fetch, make_policy

world = rf.world_fixture("pip")

PIP = "python3 -m pip install --no-cache-dir --disable-pip-version-check --progress-bar off"


def pip_policy(mode="deny_unknown", lockfiles=("requirements.txt",)):
    return make_policy(pip=dict(mode=mode, lockfiles=list(lockfiles)))


def script(*lines):
    return "\n".join([GW_LINE, PIP_ENV, *lines])


def gateway_file_path(f):
    """Where the front serves an upstream file: /pypi/files/<host>/<path>."""
    return f"/pypi/files/{FILES_HOST}{f.path}"


def file_requests(world, since, f):
    return [r for r in world.requests(since, host=FILES_HOST) if r["path"] == f.path]


def assert_via_gateway(world, since):
    for r in world.requests(since):
        assert r["peer"] == rf.SRV_LINK_ADDR, f"a request reached the upstream from {r['peer']}: {r}"


def test_pip_install_require_hashes_through_the_gateway(world):
    a = world.pypi.publish("cr-pip-a", "1.0.0", "cr_pip_a", "A1")
    world.pypi.publish("cr-pip-a", "2.0.0", "cr_pip_a", "A2")  # newer upstream, not locked
    b = world.pypi.publish("cr_pip.B", "1.0.0", "cr_pip_b", "B1")  # a name PEP 503 normalises
    reqs = a.requirement() + b.requirement()
    mark = world.mark()
    run = world.exec(pip_policy(), script(
        "echo \"@@gw=$GW\"; echo \"@@index=$PIP_INDEX_URL\"; echo \"@@trusted=$PIP_TRUSTED_HOST\"",
        f"{PIP} --target /tmp/site --require-hashes -r requirements.txt 2>&1; echo \"@@pip=$?\"",
        "PYTHONPATH=/tmp/site python3 -c 'import cr_pip_a, cr_pip_b; print(\"@@values=\" + cr_pip_a.VALUE + cr_pip_b.VALUE)'",
        # the project page as the front serves it (HTML, PEP 503)
        front_fetch("page", "/pypi/simple/cr-pip-a/"),
        "python3 -c 'import re; t = open(\"/tmp/page.b\").read(); "
        "print(\"@@page-hrefs=\" + \" \".join(re.findall(r\"href=.([^\\x22\\x27]+)\", t)))'",
    ), files={"requirements.txt": reqs}).started()
    gw = run.marker("gw")
    assert run.marker("index") == f"http://{gw}/pypi/simple/", run
    assert run.marker("trusted") == gw, run
    assert run.marker("pip") == "0", f"pip install --require-hashes failed through the gateway: {run!r}"
    assert run.marker("values") == "A1B1", run
    # file URLs through the front with their hash; only the locked version is offered
    assert run.marker("page-status") == "200", run
    hrefs = run.marker("page-hrefs").split()
    assert hrefs == [f"http://{gw}{gateway_file_path(a)}#sha256={a.sha256}"], \
        f"the project page must offer the locked file only, through the front: {hrefs}"

    for f in (a, b):
        assert file_requests(world, mark, f), f"{f.url} never reached the upstream: {world.requests(mark)}"
    assert world.requests(mark, host=PYPI_HOST), "no index page was fetched upstream"
    assert_via_gateway(world, mark)
    for f, name in ((a, "cr-pip-a"), (b, "cr-pip-b")):
        ev = world.event(run, registry="pip", package=name, version="1.0.0", action="allow")
        assert f.filename in ev["detail"].get("requested_path", ""), ev


def test_undeclared_package_is_refused(world):
    locked = world.pypi.publish("cr-pip-locked", "1.0.0", "cr_pip_locked", "L")
    extra = world.pypi.publish("cr-pip-undeclared", "1.0.0", "cr_pip_undeclared", "U")
    mark = world.mark()
    run = world.exec(pip_policy(), script(
        f"{PIP} --target /tmp/site --require-hashes -r requirements.txt 2>&1; echo \"@@locked=$?\"",
        f"{PIP} --target /tmp/other cr-pip-undeclared==1.0.0 2>&1; echo \"@@extra=$?\"",
        "test -e /tmp/other/cr_pip_undeclared && echo @@present=yes || echo @@present=no",
        front_fetch("direct", gateway_file_path(extra)),
    ), files={"requirements.txt": locked.requirement()}).started()
    assert run.marker("locked") == "0", f"the declared package did not install: {run!r}"
    assert run.marker("extra") != "0", f"an undeclared package installed: {run!r}"
    assert run.marker("present") == "no", run
    assert run.marker("direct-status") == "403", run
    assert run.marker("direct-reason") == "lockfile_violation", run
    body = run.marker("direct-body")
    assert "cr-pip-undeclared" in body and "1.0.0" in body and "requirements.txt" in body, \
        f"the refusal must name package, version and lockfile: {body!r}"
    ev = world.event(run, registry="pip", package="cr-pip-undeclared", action="deny", reason="lockfile_violation")
    assert ev["detail"].get("version") in (None, "1.0.0"), ev
    world.event(run, registry="pip", package="cr-pip-locked", version="1.0.0", action="allow")
    assert not file_requests(world, mark, extra), f"a refused file was fetched: {world.requests(mark)}"
    assert file_requests(world, mark, locked)


def test_tampered_file_is_rejected(world):
    good = world.pypi.publish("cr-pip-tamper", "1.0.0", "cr_pip_tamper", "T")
    reqs = good.requirement()
    world.pypi.tamper(good)  # the upstream now serves other bytes; the index and the lock keep the hash
    mark = world.mark()
    run = world.exec(pip_policy(), script(
        f"{PIP} --target /tmp/site --require-hashes -r requirements.txt 2>&1; echo \"@@pip=$?\"",
        "test -e /tmp/site/cr_pip_tamper && echo @@present=yes || echo @@present=no",
        front_fetch("first", gateway_file_path(good)),
        front_fetch("again", gateway_file_path(good)),
    ), files={"requirements.txt": reqs}).started()
    assert run.marker("pip") != "0", f"pip installed a tampered file: {run!r}"
    assert run.marker("present") == "no", run
    assert "DO NOT MATCH THE HASHES" not in run.out, \
        f"the gateway served the tampered bytes (pip caught the mismatch itself): {run!r}"
    for tag in ("first", "again"):
        assert run.marker(f"{tag}-status") == "502", run
        assert run.marker(f"{tag}-reason") == "integrity_mismatch", run
    assert file_requests(world, mark, good), "the gateway never fetched the file upstream"
    ev = world.event(run, registry="pip", package="cr-pip-tamper", reason="integrity_mismatch")
    assert ev["detail"].get("action") in ("deny", "error"), ev


def test_registry_not_enabled_or_host_not_allowed(world):
    f = world.pypi.publish("cr-pip-off", "1.0.0", "cr_pip_off", "O")
    mark = world.mark()
    # pip not enabled at all (only npm is)
    off = world.exec(make_policy(npm=dict(enforce=False)), script(
        front_fetch("index", "/pypi/simple/cr-pip-off/"),
        f"{PIP} --target /tmp/site cr-pip-off==1.0.0 2>&1; echo \"@@pip=$?\"",
    )).started()
    assert off.marker("index-status") == "403", off
    assert off.marker("index-reason") == "registry_not_allowed", off
    assert off.marker("pip") != "0", off
    world.event(off, registry="pip", action="deny", reason="registry_not_allowed")
    # enabled, but a file on a host its allowed_hosts do not list
    other = world.exec(pip_policy(), script(
        front_fetch("foreign", f"/pypi/files/{rf.OTHER_HOST}{f.path}"),
        front_fetch("listed", "/pypi/simple/cr-pip-off/"),
    ), files={"requirements.txt": f.requirement()}).started()
    assert other.marker("foreign-status") == "403", other
    assert other.marker("foreign-reason") == "registry_not_allowed", other
    assert other.marker("listed-status") == "200", other
    ev = world.event(other, registry="pip", action="deny", reason="registry_not_allowed")
    assert ev["detail"].get("host") in (None, rf.OTHER_HOST), ev
    assert not world.requests(mark, host=rf.OTHER_HOST), world.requests(mark)
    assert not [r for r in world.requests(mark) if r["path"] == f.path], world.requests(mark)
