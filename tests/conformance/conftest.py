# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the egress conformance suite (spec §14, issue 6).

  internet  (session) the fixture internet of fixture_internet.py; root only,
            skipped with the reason otherwise
  server    (session) `cleanroom serve` with --egress-resolver pointed at the
            fixture's DNS and --egress-pool 10.213.64.0/20 (fixture_server.py);
            a server that refuses to start FAILS every case that needs it,
            with its own message (e.g. an unknown option)
  cr        (function) what a case uses: run a script in a sandbox under a
            policy, read the fixture's logs and counters, wait for and check
            audit events

Options: --backend NAME (default netns) names the backend under test; the
server's sandboxes must report it in their audit events. --keep-ip-forward
leaves the host's IPv4 forwarding as it is (by default it is switched on
while the fixture is up, so that a packet the product forgot to drop would
really arrive). --no-egress-flags starts serve without the egress options
(diagnosis only: results are then not conformance results).
"""
import json
import os
from pathlib import Path

import pytest

import fixture_internet as fi
import fixture_server as fs


def pytest_addoption(parser):
    g = parser.getgroup("cleanroom conformance")
    g.addoption("--backend", default="netns", help="the backend under test (default: netns)")
    g.addoption("--keep-ip-forward", action="store_true",
                help="do not switch on IPv4 forwarding in the host namespace while the fixture is up")
    g.addoption("--no-egress-flags", action="store_true",
                help="start serve without --egress-resolver/--egress-pool (diagnosis only)")


@pytest.fixture(scope="session")
def backend(request):
    return request.config.getoption("--backend")


@pytest.fixture(scope="session")
def cleanroom_bin():
    path = os.environ.get("CLEANROOM_BIN")
    if not path:
        pytest.fail("CLEANROOM_BIN is not set: build the CLI and run\n"
                    "  CLEANROOM_BIN=$PWD/build/src/cli/cleanroom /usr/bin/python3 -m pytest tests/conformance "
                    "--backend netns", pytrace=False)
    p = Path(path)
    if not p.is_file() or not os.access(p, os.X_OK):
        pytest.fail(f"CLEANROOM_BIN={path!r} is not an executable file", pytrace=False)
    return str(p.resolve())


@pytest.fixture(scope="session")
def internet(request):
    reason = fi.prerequisites()
    if reason:
        pytest.skip(reason)
    net = fi.Internet(enable_forwarding=not request.config.getoption("--keep-ip-forward")).start()
    yield net
    net.stop()


@pytest.fixture(scope="session")
def server(internet, cleanroom_bin, backend, request):
    srv = fs.Server(cleanroom_bin, backend, fi.DNS_ADDR,
                    egress_flags=not request.config.getoption("--no-egress-flags"))
    failure = None
    try:
        srv.start()
    except fs.ServerStartError as e:
        failure = str(e)
    if failure:
        srv.stop()
        pytest.fail(f"the server under test did not start: {failure}", pytrace=False)
    yield srv
    srv.stop()


class Conformance:
    """The handle a case works with."""

    def __init__(self, internet, server, backend):
        self.net = internet
        self.srv = server
        self.backend = backend
        self.log_mark = internet.mark()

    # ---- running
    def run(self, policy, *lines, **kw):
        """Runs the shell lines in a new sandbox under `policy` (YAML text or
        a dict of make_policy() arguments); the test CA is in /workspace/ca.pem."""
        text = policy if isinstance(policy, str) else make_policy(**policy)
        script = "\n".join(lines)
        return self.srv.exec(text, script, ca_pem=self.net.ca_pem, **kw)

    # ---- the fixture's side
    def arrived(self, **match):
        """Fixture log events since the case started (ev=, local=, port=, ...)."""
        return self.net.events_since(self.log_mark, **match)

    def assert_never_arrived(self, ip=None, port=None, ev=None, what=""):
        hits = [e for e in self.arrived()
                if (ip is None or e.get("local") == ip) and (port is None or e.get("port") == port)
                and (ev is None or e.get("ev") == ev) and e.get("ev") != "dns"]
        assert not hits, f"{what or 'traffic'} reached the fixture at {ip}:{port}: {hits}"

    def assert_dns_never_saw(self, *names):
        seen = set(self.net.dns_names_since(self.log_mark))
        leaked = [n for n in names if n.lower().rstrip(".") in seen]
        assert not leaked, f"the fixture DNS received queries for {leaked}"

    def assert_arrived_via_gateway(self, ip, port):
        """Traffic for ip:port reached the fixture, and was made on the host
        side (by the gateway), not forwarded from a sandbox's address."""
        hits = [e for e in self.arrived(local=ip, port=port) if e["ev"] in ("http", "tcp", "tls")]
        assert hits, f"nothing reached the fixture at {ip}:{port}; fixture log: {self.arrived()}"
        for e in hits:
            assert not fi.is_sandbox_addr(e["peer"]), \
                f"a sandbox address reached the fixture directly (forwarded, not proxied): {e}"
        return hits

    # ---- the audit trail
    def events(self, run, timeout=5.0, count=1, **want):
        """The run's egress events matching want (kind=, action=, reason=,
        host=, port=, ip=, protocol=, qtype=), waiting up to timeout for
        `count` of them."""
        sid = run.sandbox_id
        assert sid, f"no sandbox was created: {run!r}"

        def match(e):
            d = e.get("detail", {})
            for k, v in want.items():
                if k == "kind":
                    if e.get("kind") != v:
                        return False
                elif k == "reason":
                    if e.get("reasonCode", "") != v:
                        return False
                elif k == "port":
                    if d.get("port") != str(v):
                        return False
                elif k == "host":
                    if (d.get("host") or "").lower() != v:
                        return False
                elif d.get(k) != v:
                    return False
            return True

        return self.srv.wait_events(sid, match, count=count, timeout=timeout)

    def deny_event(self, run, kind="egress.decision", **want):
        """The deny event with reason host_not_allowed (unless reason= says
        otherwise); asserts it exists and carries the run's identifiers."""
        want.setdefault("reason", "host_not_allowed")
        found = self.events(run, kind=kind, action="deny", **want)
        assert found, (f"no {kind} deny event with {want} for sandbox {run.sandbox_id}; egress events: "
                       f"{json.dumps(self.srv.egress_events(run.sandbox_id))}")
        ev = found[0]
        self.check_ids(ev, run)
        return ev

    def dns_deny_event(self, run, name, **want):
        return self.deny_event(run, kind="egress.dns_query", host=name, **want)

    def check_ids(self, ev, run):
        assert ev.get("runId") == run.run_id and run.run_id, (ev, run.record)
        assert ev.get("sandboxId") == run.sandbox_id, (ev, run.record)
        assert ev.get("policyHash") == run.policy_hash and run.policy_hash, (ev, run.record)
        assert ev.get("backend") == self.backend, f"event of backend {ev.get('backend')!r}, testing {self.backend!r}"
        assert ev.get("actor"), ev


@pytest.fixture
def cr(internet, server, backend):
    c = Conformance(internet, server, backend)
    before = internet.counters()
    yield c
    after = internet.counters()
    # whatever the case did, no packet with a sandbox's source address may
    # ever reach the fixture: all egress is made by the gateway on the host
    assert after.get("sandbox_src", 0) == before.get("sandbox_src", 0), \
        f"packets from a sandbox address reached the fixture internet (forwarded): {before} -> {after}"


# ---- policies ------------------------------------------------------------------

def make_policy(allow=(), deny=(), default="deny", extra=""):
    """A policy from rule tuples: "host" or ("host", [ports])."""
    lines = ["version: 1", "sandbox:", "  network:", f"    default: {default}"]
    for key, rules in (("allow", allow), ("deny", deny)):
        if not rules:
            continue
        lines.append(f"    {key}:")
        for r in rules:
            host, ports = (r, None) if isinstance(r, str) else r
            lines.append(f"      - host: {json.dumps(host, ensure_ascii=False)}")
            if ports:
                lines.append(f"        ports: [{', '.join(str(p) for p in ports)}]")
    return "\n".join(lines) + "\n" + extra
