# SPDX-License-Identifier: Apache-2.0
"""The audit side (spec §9, §13 criteria 4 and 9), the sandbox's network as
the egress contract lays it out, and launch validation (§7.1, §14 "missing
required capability fails launch with backend_capability_mismatch")."""
import ipaddress

import pytest

from fixture_server import EGRESS_POOL, curl, probe
import fixture_internet as fi

OTHER = fi.addr("other.test")
NETWORK_CAPS = ("network_default_deny", "network_host_port_filtering", "dns_control_or_equivalent")


def test_deny_events_carry_run_identifiers_and_reason(cr):
    run = cr.run(dict(allow=["allowed.test"]),
                 probe("q", "resolve", "other.test"),
                 curl("d", "http://other.test/x", "--resolve", f"other.test:80:{OTHER}")).started()
    ev = cr.deny_event(run, host="other.test", port=80)  # checks run_id, sandbox_id, policy_hash, backend, actor
    assert ev.get("ts") and ev.get("seq") and ev.get("hash"), ev
    d = ev["detail"]
    assert d["action"] == "deny" and d["ip"] == OTHER and d["protocol"] == "http" and d.get("rule"), ev
    dns = cr.dns_deny_event(run, "other.test")
    assert dns["detail"].get("qtype") == "A" and dns["detail"].get("protocol") == "dns", dns
    for e in cr.srv.egress_events(run.sandbox_id):  # every egress event, allows included
        cr.check_ids(e, run)
        assert e["kind"] in ("egress.decision", "egress.dns_query", "egress.gateway_error"), e
        if e.get("detail", {}).get("action") == "deny":
            assert e.get("reasonCode"), f"a deny without a reason code: {e}"


def test_sandbox_network_layout(cr, backend):
    """One IPv4 address from the server's pool, the gateway as default route,
    resolver and proxy (the contract's environment)."""
    run = cr.run(dict(allow=["allowed.test"]), probe("net", "netinfo")).started()
    net = run.probe("net")
    addrs = [a for a in net["ipv4"] if a["dev"] != "lo"]
    assert len(addrs) == 1, net["ipv4"]
    a = addrs[0]
    pool = ipaddress.ip_network(EGRESS_POOL)
    assert ipaddress.ip_address(a["addr"]) in pool, f"{a['addr']} is not in the pool {EGRESS_POOL}"
    gw = net["gateway"]
    assert gw and net["resolv"] == [gw], net
    assert net["env"]["HTTP_PROXY"] == f"http://{gw}:3128", net["env"]
    if backend == "netns":
        block = ipaddress.ip_network(f"{a['addr']}/30", strict=False)
        assert a["dev"] == "eth0" and a["prefix"] == 30, a
        assert a["addr"] == str(block.network_address + 2) and gw == str(block.network_address + 1), (a, gw)


def test_backend_declares_the_network_capabilities(cr):
    caps = cr.srv.capabilities()
    missing = [c for c in NETWORK_CAPS if not caps.get(c)]
    assert not missing, f"backend {cr.backend!r} does not declare {missing}: {caps}"


SECRETS_POLICY = """
version: 1
sandbox:
  network:
    default: deny
secrets:
  - secret_id: conformance_token
    allowed_hosts: [allowed.test]
"""
ALLOW_POLICY = dict(allow=["allowed.test"])
# capability -> a policy that needs it (src/server/launch.c's requirements)
NEEDS = [("network_host_port_filtering", ALLOW_POLICY), ("dns_control_or_equivalent", ALLOW_POLICY),
         ("secret_isolation", SECRETS_POLICY)]


def test_capability_mismatch_refused_before_provisioning(cr):
    caps = cr.srv.capabilities()
    lacking = [(cap, pol) for cap, pol in NEEDS if not caps.get(cap)]
    if not lacking:
        pytest.skip(f"backend {cr.backend!r} declares every capability these policies need: no mismatch to provoke")
    cap, policy = lacking[0]
    before = cr.srv.json("sandbox", "ls", "--all", "--json").get("sandboxes", [])
    run = cr.run(policy, "echo WORKLOAD-RAN")
    assert run.rc == 1 and run.record.get("status") == "error", run
    assert run.record["error"]["reason_code"] == "backend_capability_mismatch", run
    assert cap in run.record["error"]["message"], run
    assert "WORKLOAD-RAN" not in run.out and run.sandbox_id is None, run
    after = cr.srv.json("sandbox", "ls", "--all", "--json").get("sandboxes", [])
    assert len(after) == len(before), f"a sandbox was provisioned: {after}"
