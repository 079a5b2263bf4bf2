# SPDX-License-Identifier: Apache-2.0
"""What a sandbox must never reach whatever its policy says (DESIGN.md §6,
issue 6): cloud metadata endpoints (unless an exact IP rule names them), the
host's own services (on the gateway address, the host's other addresses,
the API socket), the gateway's own ports, and other sandboxes and their
gateways."""
import json
import time

from fixture_server import GW, GW_LINE, Raw, curl, expect_http_denied, expect_ok, expect_refused, probe
import fixture_internet as fi

ALLOWED = fi.addr("allowed.test")
META = fi.METADATA_ADDR
DNS_PORT, PROXY_PORT, EXPLICIT_PROXY_PORT = 15053, 15001, 3128  # the contract's gateway ports


def test_metadata_address_denied_even_when_a_rule_covers_it(cr):
    """A CIDR rule covering 169.254.169.254, and an allowed name that
    resolves to it, do not open the metadata endpoint."""
    run = cr.run(dict(allow=[("169.254.0.0/16", [80]), ("meta.test", [80]), "allowed.test"]),
                 curl("ip", f"http://{META}/latest/meta-data/"),
                 curl("name", "http://meta.test/latest/meta-data/"),
                 curl("ecs", "http://169.254.170.2/v2/credentials/"),
                 probe("raw", "tcp", META, 80, "GET / HTTP/1.0\\r\\n\\r\\n"),
                 curl("control", "http://allowed.test/")).started()
    expect_ok(run.probe("control"), ALLOWED, "allowed.test")
    expect_http_denied(run.probe("ip"))
    expect_http_denied(run.probe("ecs"))
    name = run.probe("name")
    if name["rc"] != 6:  # not refused at DNS time: then at connection time
        expect_http_denied(name)
    expect_refused(run.probe("raw"))
    cr.assert_never_arrived(ip=META)
    cr.deny_event(run, ip=META, port=80, host=META)
    cr.deny_event(run, ip="169.254.170.2", port=80)
    found = cr.events(run, action="deny", reason="host_not_allowed", host="meta.test")
    assert found, "no deny event names meta.test: " + json.dumps(cr.srv.egress_events(run.sandbox_id))


def test_metadata_address_opened_only_by_an_exact_ip_rule(cr):
    """The positive control of the case above: an allow rule naming the
    address itself does open it (so the denial above is the guard's, and the
    fixture's metadata server is reachable when allowed)."""
    run = cr.run(dict(allow=[(META, [80])]), curl("ip", f"http://{META}/latest/meta-data/")).started()
    expect_ok(run.probe("ip"), META)
    cr.assert_arrived_via_gateway(META, 80)


def test_default_allow_cannot_be_expressed(cr):
    """Spec §5.2: version 1 policies must say `default: deny`; `allow` is
    refused before anything is created, so no policy can open the metadata
    endpoint (or anything else) wholesale."""
    run = cr.run(dict(default="allow"), "echo WORKLOAD-RAN")
    assert run.rc == 2 and run.record.get("status") == "error", run
    assert run.record["error"]["reason_code"] == "policy_invalid" and run.sandbox_id is None, run
    assert "WORKLOAD-RAN" not in run.out


def test_host_services_are_unreachable(cr):
    ssh, svc = cr.net.ssh.addr[1], cr.net.svc.addr[1]
    n_ssh, n_svc = len(cr.net.ssh.peers), len(cr.net.svc.peers)
    hello = "SSH-2.0-conformance-probe\\r\\n"
    lines = [GW_LINE, probe("net", "netinfo"),
             probe("gw-ssh", "tcp", GW, ssh, hello),
             probe("gw-22", "tcp", GW, 22, hello),
             probe("gw-dns-port", "tcp", GW, DNS_PORT, hello),
             probe("gw-proxy-port", "tcp", GW, PROXY_PORT, hello),
             probe("link-svc", "tcp", fi.HOST_ADDR, svc, hello),
             probe("link-ssh", "tcp", fi.HOST_ADDR, ssh, hello)]
    for i, a in enumerate(cr.net.host_addrs):
        lines.append(probe(f"host-{i}", "tcp", a, ssh, hello))
    lines += [f"[ -e {cr.srv.sock} ] && echo API-SOCKET-VISIBLE", f"[ -e {cr.srv.state} ] && echo STATE-VISIBLE",
              curl("control", "http://allowed.test/")]
    run = cr.run(dict(allow=["allowed.test"]), *lines).started()
    expect_ok(run.probe("control"), ALLOWED, "allowed.test")
    gw = run.probe("net")["gateway"]
    tags = ["gw-ssh", "gw-22", "gw-dns-port", "gw-proxy-port", "link-svc", "link-ssh"]
    tags += [f"host-{i}" for i in range(len(cr.net.host_addrs))]
    for tag in tags:
        p = run.probe(tag)
        assert "SSH-2.0-cleanroom" not in p["received"] and "HOST-SERVICE" not in p["received"], (tag, p)
        expect_refused(p)
    assert "API-SOCKET-VISIBLE" not in run.out and "STATE-VISIBLE" not in run.out, run
    time.sleep(0.2)
    assert cr.net.ssh.peers[n_ssh:] == [] and cr.net.svc.peers[n_svc:] == [], \
        f"the host's listeners were reached: {cr.net.ssh.peers[n_ssh:]} {cr.net.svc.peers[n_svc:]}"
    for ip, port in [(gw, ssh), (gw, 22), (gw, DNS_PORT), (gw, PROXY_PORT), (fi.HOST_ADDR, svc),
                     (fi.HOST_ADDR, ssh), *[(a, ssh) for a in cr.net.host_addrs]]:
        cr.deny_event(run, ip=ip, port=port)


def test_gateway_front_port_is_no_way_out(cr):
    """gateway:80 is the registry/git front (issue 7): a path outside its
    fronts (and any Host header) is refused with registry_not_allowed and
    recorded, and nothing upstream is reached."""
    run = cr.run(dict(allow=["allowed.test"]), GW_LINE, curl("front", Raw('"http://$GW/"'), cacert=False),
                 curl("front-host", Raw('"http://$GW/"'), "-H", "Host: allowed.test", cacert=False)).started()
    for tag in ("front", "front-host"):
        p = run.probe(tag)
        assert p["rc"] == 0 and p["status"] and p["status"] >= 400, p
        assert p["headers"].get("x-cleanroom-reason") == "registry_not_allowed", p
        assert "x-fixture" not in p["headers"], p
    cr.assert_never_arrived(ip=ALLOWED)
    cr.deny_event(run, kind="registry.decision", reason="registry_not_allowed", port=80)


def own_addr(net):
    addrs = [a["addr"] for a in net["ipv4"] if a["dev"] != "lo"]
    assert len(addrs) == 1 and net["gateway"], f"the sandbox has no single IPv4 address and gateway: {net}"
    return addrs[0]


def test_another_sandbox_and_its_gateway_are_unreachable(cr):
    policy = dict(allow=["allowed.test"])
    b = cr.run(policy, probe("net", "netinfo"), keep=True).started()
    listener = None
    try:
        assert b.record.get("sandbox_kept") is True, b
        b_net = b.probe("net")
        b_addr = own_addr(b_net)
        b_gw = b_net["gateway"]
        listener = cr.srv.start_exec(b.sandbox_id, probe("listen", "listen", 8000, 60, "/workspace/listening"))
        for _ in range(50):
            r = cr.srv.exec(None, "cat /workspace/listening 2>/dev/null", sandbox_id=b.sandbox_id)
            if "listening" in r.out:
                break
            time.sleep(0.2)
        a = cr.run(policy, probe("net", "netinfo"),
                   probe("b-listener", "tcp", b_addr, 8000, "hello"),
                   probe("b-gw-proxy", "tcp", b_gw, PROXY_PORT, "hello"),
                   probe("b-gw-explicit", "tcp", b_gw, EXPLICIT_PROXY_PORT,
                         "CONNECT allowed.test:80 HTTP/1.1\\r\\n\\r\\n"),
                   probe("b-gw-dns-tcp", "tcp", b_gw, DNS_PORT, "hello"),
                   probe("b-udp", "udp", b_addr, 8000, "hello"),
                   probe("b-icmp", "icmp", b_addr),
                   curl("control", "http://allowed.test/")).started()
        expect_ok(a.probe("control"), ALLOWED, "allowed.test")
        a_addr = own_addr(a.probe("net"))
        assert a_addr != b_addr and a.probe("net")["gateway"] != b_gw, (a_addr, b_addr)
        for tag in ("b-listener", "b-gw-proxy", "b-gw-explicit", "b-gw-dns-tcp"):
            p = a.probe(tag)
            assert "SANDBOX-B-LISTENER" not in p["received"] and "HTTP/1.1 200" not in p["received"], (tag, p)
            expect_refused(p)
        assert a.probe("b-udp")["reply"] is None and a.probe("b-icmp")["replies"] == 0, a
        cr.srv.exec(None, "touch /workspace/listening.stop", sandbox_id=b.sandbox_id)
        out, err = listener.communicate(timeout=60)
        peers = [json.loads(line[6:]) for line in out.decode().splitlines() if line.startswith("PROBE ")]
        assert peers and peers[0]["peers"] == [], f"sandbox B's listener was reached: {out!r} {err!r}"
        for ip, port in [(b_addr, 8000), (b_gw, PROXY_PORT), (b_gw, EXPLICIT_PROXY_PORT), (b_gw, DNS_PORT)]:
            cr.deny_event(a, ip=ip, port=port)
    finally:
        if listener and listener.poll() is None:
            listener.kill()
            listener.wait()
        cr.srv.remove(b.sandbox_id)
