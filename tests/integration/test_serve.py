# SPDX-License-Identifier: Apache-2.0
"""`cleanroom serve`: the Connect API on a unix socket, spoken with curl as
a client would (JSON and binary codecs, GET for side-effect-free methods),
and its errors. Executions and streams are in test_server_exec.py."""
import json
import os
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from connect_client import wait_ready


@pytest.fixture
def server(cleanroom_bin):
    d = Path(tempfile.mkdtemp(prefix="cleanroom-serve-", dir="/var/tmp"))
    os.chmod(d, 0o711)
    sock = d / "run" / "cleanroom.sock"
    proc = subprocess.Popen([cleanroom_bin, "serve", "--no-egress", "--socket", str(sock), "--state-dir", str(d / "state")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while time.time() < deadline and not sock.exists():
        time.sleep(0.02)
    assert sock.exists(), proc.stderr.read() if proc.poll() is not None else "no socket"
    yield sock
    proc.terminate()
    proc.wait(timeout=10)
    assert not sock.exists(), "the socket is removed at exit"
    subprocess.run(["rm", "-rf", str(d)])


def curl(sock, path, body=None, ctype="application/json", method=None, binary=False):
    cmd = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket", str(sock)]
    if body is not None:
        cmd += ["-H", f"Content-Type: {ctype}", "--data-binary", "@-"]
    if method:
        cmd += ["-X", method]
    cmd.append(f"http://localhost{path}")
    out = subprocess.run(cmd, input=body if body is None or isinstance(body, bytes) else body.encode(),
                         capture_output=True, timeout=20).stdout
    payload, _, status = out.rpartition(b"\n")
    return int(status), payload if binary else payload.decode()


def test_socket_is_private(server):
    mode = server.stat().st_mode
    assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(server.parent.stat().st_mode) == 0o700


def test_server_status_json(server):
    status, body = curl(server, "/cleanroom.v1.AdminService/GetServerStatus", "{}")
    assert status == 200, body
    st = json.loads(body)["status"]
    assert st["version"] and st["endpoint"] == f"unix://{server}"
    assert st["backends"][0]["name"] == "netns" and st["backends"][0]["isDefault"] is True


def test_capabilities_by_get(server):
    status, body = curl(server, "/cleanroom.v1.AdminService/GetCapabilities?connect=v1&encoding=json&message=%7B%7D")
    assert status == 200, body
    caps = json.loads(body)
    assert caps["backendName"] == "netns"
    keys = {c["key"]: c.get("value", False) for c in caps["capabilities"]}
    assert keys["policy_immutability"] is True and keys["network_default_deny"] is True
    assert keys["network_host_port_filtering"] is False
    assert set(keys) >= {"network_default_deny", "network_host_port_filtering", "dns_control_or_equivalent",
                         "policy_immutability", "audit_event_emission", "secret_isolation"}


def test_doctor(server):
    status, body = curl(server, "/cleanroom.v1.AdminService/Doctor", '{"backend": "netns"}')
    assert status == 200, body
    names = [c["name"] for c in json.loads(body)["checks"]]
    assert "user namespaces" in names and "cgroups" in names


def test_binary_codec(server):
    status, body = curl(server, "/cleanroom.v1.AdminService/GetServerStatus", b"", ctype="application/proto",
                        binary=True)
    assert status == 200
    assert body[0] == 0x0A  # field 1 (status), length-delimited
    assert b"netns" in body


def test_errors(server):
    status, body = curl(server, "/cleanroom.v1.AdminService/Doctor", '{"bogus": 1}')
    err = json.loads(body)
    assert status == 400 and err["code"] == "invalid_argument" and "bogus" in err["message"], body
    assert err["details"][0]["type"] == "cleanroom.v1.ErrorInfo"
    assert err["details"][0]["debug"]["reasonCode"] == "usage_invalid"

    status, body = curl(server, "/cleanroom.v1.AdminService/Doctor", '{"backend": "vm"}')
    err = json.loads(body)
    assert status == 503 and err["code"] == "unavailable" and "unknown backend" in err["message"], body
    assert err["details"][0]["debug"]["reasonCode"] == "backend_unavailable"

    status, body = curl(server, "/cleanroom.v1.AdminService/Doctor", "{", )
    assert status == 400 and json.loads(body)["code"] == "invalid_argument", body

    status, body = curl(server, "/cleanroom.v1.AdminService/Doctor", "{}", ctype="text/plain")
    assert status == 415, body

    status, body = curl(server, "/cleanroom.v1.Nope/Nothing", "{}")
    assert status == 404, body

    status, body = curl(server, "/cleanroom.v1.ExecutionService/CreateExecution", "{}")
    err = json.loads(body)
    assert status == 400 and err["code"] == "invalid_argument" and "command is empty" in err["message"], body

    # a malformed request does not stop the server
    status, _ = curl(server, "/cleanroom.v1.AdminService/GetServerStatus", "{}")
    assert status == 200


def test_a_second_server_refuses_the_socket(server, cleanroom_bin, tmp_path):
    r = subprocess.run([cleanroom_bin, "serve", "--no-egress", "--socket", str(server), "--state-dir", str(tmp_path / "s")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "already answers" in r.stderr, r.stderr


@pytest.mark.parametrize("resolver", ["10.0.0.300", "10.0.0.3:99999", "resolver.example", "10.0.0.3:"])
def test_bad_egress_resolver_is_refused(cleanroom_bin, tmp_path, resolver):
    r = subprocess.run([cleanroom_bin, "serve", "--no-egress", "--egress-resolver", resolver, "--socket",
                        str(tmp_path / "s.sock"), "--state-dir", str(tmp_path / "state")],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and f"--egress-resolver '{resolver}' is not IPV4[:PORT]" in r.stderr, r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="egress needs root (links, nftables)")
def test_one_egress_owner_per_network_namespace(cleanroom_bin, tmp_path):
    """Two servers in one network namespace: the second runs without egress
    and says why; the first's firewall table is untouched. Both run in a
    private network namespace so the host's egress is not involved."""
    ns = f"crlock{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    procs = []
    try:
        def start(name):
            d = tmp_path / name
            d.mkdir()
            p = subprocess.Popen(["ip", "netns", "exec", ns, cleanroom_bin, "serve", "--socket", str(d / "s.sock"),
                                  "--state-dir", str(d / "state")], stderr=subprocess.PIPE, text=True)
            procs.append(p)
            lines = []
            for line in p.stderr:
                lines.append(line)
                if "listening on" in line:
                    return "".join(lines)
            raise AssertionError("".join(lines))
        first = start("a")
        assert "egress enforcement on" in first, first
        second = start("b")
        assert "egress enforcement is off: another cleanroom serve owns egress" in second, second
        table = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "tables"], capture_output=True, text=True)
        assert "inet cleanroom" in table.stdout, table
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=20)
        subprocess.run(["ip", "netns", "del", ns])


# ---- SandboxService ----------------------------------------------------------

def compiled(cleanroom_bin, tmp_path, policy):
    repo = tmp_path / "repo"
    repo.mkdir(exist_ok=True)
    (repo / "cleanroom.yaml").write_text(policy)
    r = subprocess.run([cleanroom_bin, "policy", "compile", "--json", "-C", str(repo)], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


DENY_ALL = "version: 1\nsandbox:\n  network:\n    default: deny\n"


@pytest.mark.skipif(os.geteuid() != 0, reason="provisioning sandboxes needs root")
def test_sandbox_lifecycle(server, cleanroom_bin, tmp_path):
    text = compiled(cleanroom_bin, tmp_path, DENY_ALL)
    policy_hash = json.loads(text)["policy_hash"]
    status, body = curl(server, "/cleanroom.v1.SandboxService/CreateSandbox",
                        json.dumps({"compiledPolicyJson": text, "runId": "run-test"}))
    assert status == 200, body
    sb = json.loads(body)["sandbox"]
    assert sb["status"] == "SANDBOX_STATUS_PROVISIONING" and sb["backend"] == "netns", sb
    sb = wait_ready(lambda m, b: json.loads(curl(server, f"/cleanroom.v1.SandboxService/{m}", json.dumps(b))[1]),
                    sb["sandboxId"])
    assert sb["policyHash"] == policy_hash and sb["runId"] == "run-test" and sb["actor"] == "uid:0", sb
    sid = sb["sandboxId"]
    state = server.parent.parent / "state"
    assert (state / "netns" / sid).is_dir()

    status, body = curl(server, "/cleanroom.v1.SandboxService/GetSandbox", json.dumps({"sandboxId": sid}))
    assert status == 200 and json.loads(body)["sandbox"]["status"] == "SANDBOX_STATUS_READY", body
    status, body = curl(server, "/cleanroom.v1.SandboxService/ListSandboxes", "{}")
    assert [s["sandboxId"] for s in json.loads(body)["sandboxes"]] == [sid], body

    status, body = curl(server, "/cleanroom.v1.SandboxService/TerminateSandbox", json.dumps({"sandboxId": sid}))
    assert status == 200 and json.loads(body)["terminated"] is True, body
    assert not (state / "netns" / sid).exists()
    status, body = curl(server, "/cleanroom.v1.SandboxService/GetSandbox", json.dumps({"sandboxId": sid}))
    assert json.loads(body)["sandbox"]["status"] == "SANDBOX_STATUS_STOPPED", body

    status, body = curl(server, "/cleanroom.v1.SandboxService/GetSandbox", json.dumps({"sandboxId": "sb-nope"}))
    assert status == 404 and json.loads(body)["code"] == "not_found", body


def test_capability_mismatch_is_refused_before_provisioning(server, cleanroom_bin, tmp_path):
    text = compiled(cleanroom_bin, tmp_path,
                    DENY_ALL + "    allow:\n      - host: api.example.com\n        ports: [443]\n")
    status, body = curl(server, "/cleanroom.v1.SandboxService/CreateSandbox", json.dumps({"compiledPolicyJson": text}))
    err = json.loads(body)
    assert status == 400 and err["code"] == "failed_precondition", body
    assert err["details"][0]["debug"]["reasonCode"] == "backend_capability_mismatch", body
    assert "network_host_port_filtering (needed by sandbox.network.allow)" in err["message"], body
    state = server.parent.parent / "state"
    assert not (state / "netns").exists() or not any((state / "netns").iterdir())
    status, body = curl(server, "/cleanroom.v1.SandboxService/ListSandboxes", "{}")
    assert json.loads(body).get("sandboxes", []) == [], body


def test_tampered_policy_is_refused(server, cleanroom_bin, tmp_path):
    text = compiled(cleanroom_bin, tmp_path, DENY_ALL).replace('"ttl_minutes":60', '"ttl_minutes":61')
    status, body = curl(server, "/cleanroom.v1.SandboxService/CreateSandbox", json.dumps({"compiledPolicyJson": text}))
    err = json.loads(body)
    assert status == 400 and err["code"] == "invalid_argument", body
    assert err["details"][0]["debug"]["reasonCode"] == "policy_invalid" and "policy_hash" in err["message"], body
