# SPDX-License-Identifier: Apache-2.0
"""The explicit proxy (HTTP_PROXY/HTTPS_PROXY = http://<gateway>:3128) gives
clients that prefer it the same decisions as the transparent path; a client
that ignores the proxy variables, or a program with an empty environment
speaking plain sockets, is enforced all the same (issue 6: "enforcement
never depends on them")."""
from fixture_server import curl, expect_http_denied, expect_ok, expect_refused, probe
import fixture_internet as fi

ALLOWED = fi.addr("allowed.test")
OTHER = fi.addr("other.test")


def test_explicit_proxy_same_decisions(cr):
    run = cr.run(dict(allow=[("allowed.test", [80, 443])]),
                 probe("net", "netinfo"),
                 curl("http-allowed", "http://allowed.test/p1", proxy=True),
                 curl("https-allowed", "https://allowed.test/p2", proxy=True),
                 curl("http-denied", "http://other.test/", proxy=True),
                 curl("https-denied", "https://other.test/", proxy=True),
                 curl("https-denied-port", "https://allowed.test:8443/", proxy=True)).started()
    net = run.probe("net")
    gw = net["gateway"]
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        assert net["env"][var] == f"http://{gw}:3128", (var, net["env"])
    no_proxy = (net["env"]["NO_PROXY"] or "").split(",")
    assert "localhost" in no_proxy and "127.0.0.1" in no_proxy, net["env"]
    expect_ok(run.probe("http-allowed"), ALLOWED, "allowed.test", 80)
    expect_ok(run.probe("https-allowed"), ALLOWED, "allowed.test", 443)
    expect_http_denied(run.probe("http-denied"))
    expect_refused(run.probe("https-denied"))
    expect_refused(run.probe("https-denied-port"))
    cr.assert_arrived_via_gateway(ALLOWED, 80)
    cr.assert_arrived_via_gateway(ALLOWED, 443)
    cr.assert_never_arrived(ip=OTHER)
    cr.assert_never_arrived(ip=ALLOWED, port=8443)
    cr.assert_dns_never_saw("other.test")
    cr.deny_event(run, host="other.test", port=80)
    ev = cr.deny_event(run, host="other.test", port=443)
    assert ev["detail"].get("protocol") == "connect", ev
    cr.deny_event(run, host="allowed.test", port=8443)


def test_program_ignoring_proxy_settings_is_still_enforced(cr):
    get = "GET /raw HTTP/1.0\\r\\nHost: {}\\r\\n\\r\\n"
    run = cr.run(dict(allow=[("allowed.test", [80, 443])]),
                 "env -i " + probe("raw-allowed", "tcp", "allowed.test", 80, get.format("allowed.test")),
                 "env -i " + probe("raw-denied-name", "tcp", "other.test", 80, get.format("other.test")),
                 "env -i " + probe("raw-denied-ip", "tcp", OTHER, 80, get.format("other.test")),
                 curl("noproxy-allowed", "https://allowed.test/"),
                 curl("noproxy-denied", "https://other.test/", "--resolve", f"other.test:443:{OTHER}")).started()
    raw = run.probe("raw-allowed")
    assert "fixture-http local=10.254.1.10 port=80 host=allowed.test path=/raw" in raw["received"], raw
    assert run.probe("raw-denied-name").get("error", "").startswith("gaierror"), run.probe("raw-denied-name")
    denied = run.probe("raw-denied-ip")
    head = denied["received"].split("\r\n\r\n")[0].lower()
    assert head.startswith("http/1.") and " 403 " in head.split("\r\n")[0], denied
    assert "x-cleanroom-reason: host_not_allowed" in head and "fixture-http" not in denied["received"], denied
    expect_ok(run.probe("noproxy-allowed"), ALLOWED, "allowed.test", 443)
    p = run.probe("noproxy-denied")
    expect_refused(p)
    assert p["seconds"] < 3, f"the refusal took {p['seconds']} s; it must be immediate: {p}"
    cr.assert_never_arrived(ip=OTHER)
    cr.deny_event(run, host="other.test", port=80, ip=OTHER)
    cr.deny_event(run, host="other.test", port=443, ip=OTHER)
    cr.dns_deny_event(run, "other.test")
