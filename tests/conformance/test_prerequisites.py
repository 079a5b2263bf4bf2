# SPDX-License-Identifier: Apache-2.0
"""What the cases rely on inside a sandbox of the backend under test: the
image provides python3 (standard library) and curl, the workspace upload
carries probe.py and the test CA, and the probes report in JSON. A deny-all
policy is used, so this runs on any backend."""
from fixture_server import curl, probe
import fixture_internet as fi


def test_probes_run_inside_the_sandbox(cr):
    run = cr.run(dict(), probe("net", "netinfo"), "cmp /workspace/ca.pem /workspace/ca.pem && echo CA-PRESENT",
                 curl("curl", "http://other.test/", max_time=3),
                 probe("tcp", "tcp", fi.addr("other.test"), fi.TCP_ECHO_PORT, "x")).started()
    assert "CA-PRESENT" in run.out, run
    net = run.probe("net")
    assert {"ipv4", "ipv6", "routes", "resolv", "env", "gateway"} <= set(net), net
    c = run.probe("curl")
    assert c["kind"] == "curl" and c["rc"] != 0 and c["status"] is None, c
    assert run.probe("tcp")["kind"] == "tcp", run
    cr.assert_never_arrived(ip=fi.addr("other.test"))


def test_deny_all_policy_blocks_and_logs(cr):
    """A policy with no allow rule: nothing leaves, and the attempts are
    audited (§13 criterion 4: denied AND logged)."""
    run = cr.run(dict(), probe("resolve", "resolve", "allowed.test"),
                 curl("forced", "http://allowed.test/", "--resolve", f"allowed.test:80:{fi.addr('allowed.test')}"),
                 ).started()
    assert run.probe("resolve")["addrs"] == [], run
    assert run.probe("forced")["status"] != 200, run
    cr.assert_never_arrived(ip=fi.addr("allowed.test"))
    cr.assert_dns_never_saw("allowed.test")
    cr.dns_deny_event(run, "allowed.test")
    cr.deny_event(run, host="allowed.test", port=80)
