# SPDX-License-Identifier: Apache-2.0
"""Destination identity (DESIGN.md §6, issue 6): the name a connection
claims (TLS SNI, HTTP Host) must be backed by the managed resolver having
returned the connection's address FOR THAT NAME to this sandbox. A forged
SNI or Host aimed at another address is refused, even when that address
belongs to another allowed name."""
from fixture_server import curl, expect_http_denied, expect_ok, expect_refused, probe
import fixture_internet as fi

ALLOWED = fi.addr("allowed.test")
OTHER = fi.addr("other.test")
TARGET = fi.addr("sni-target.test")


def test_sni_forged_to_an_allowed_name_aimed_at_another_ip(cr):
    run = cr.run(dict(allow=[("allowed.test", [443]), ("sni-target.test", [443])]),
                 probe("r1", "resolve", "allowed.test"),
                 probe("r2", "resolve", "sni-target.test"),
                 curl("control", "https://allowed.test/"),
                 curl("to-unresolved-ip", "https://allowed.test/", "--resolve", f"allowed.test:443:{OTHER}"),
                 curl("to-other-names-ip", "https://allowed.test/", "--resolve", f"allowed.test:443:{TARGET}"),
                 ).started()
    assert run.probe("r1")["addrs"] == [ALLOWED] and run.probe("r2")["addrs"] == [TARGET], run
    expect_ok(run.probe("control"), ALLOWED, "allowed.test", 443)
    expect_refused(run.probe("to-unresolved-ip"))
    expect_refused(run.probe("to-other-names-ip"))
    cr.assert_never_arrived(ip=OTHER, port=443)
    cr.assert_never_arrived(ip=TARGET, port=443)
    cr.deny_event(run, host="allowed.test", ip=OTHER, port=443)
    cr.deny_event(run, host="allowed.test", ip=TARGET, port=443)


def test_host_header_forged(cr):
    run = cr.run(dict(allow=[("allowed.test", [80]), ("sni-target.test", [80])]),
                 probe("r1", "resolve", "allowed.test"),
                 probe("r2", "resolve", "sni-target.test"),
                 curl("control", "http://allowed.test/"),
                 curl("to-unresolved-ip", f"http://{OTHER}/", "-H", "Host: allowed.test"),
                 curl("to-other-names-ip", f"http://{TARGET}/", "-H", "Host: allowed.test"),
                 ).started()
    expect_ok(run.probe("control"), ALLOWED, "allowed.test", 80)
    expect_http_denied(run.probe("to-unresolved-ip"))
    expect_http_denied(run.probe("to-other-names-ip"))
    cr.assert_never_arrived(ip=OTHER, port=80)
    cr.assert_never_arrived(ip=TARGET, port=80)
    cr.deny_event(run, host="allowed.test", ip=OTHER, port=80)
    cr.deny_event(run, host="allowed.test", ip=TARGET, port=80)
