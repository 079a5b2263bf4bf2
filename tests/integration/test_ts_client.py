# SPDX-License-Identifier: Apache-2.0
"""An independent client talks to `cleanroom serve`: TypeScript code
generated from proto/ with buf and protoc-gen-es, driven by
@connectrpc/connect-node over HTTP/1.1 on the unix socket with the JSON codec
(tests/clients/ts/client.mjs), and `buf curl` with the binary codec.

The session fixture copies tests/clients/ts (package.json, the committed
package-lock.json, buf.gen.yaml, client.mjs) to a private directory, runs
`npm ci` there (the npm cache makes a warm run take seconds) and regenerates
the code from the current proto/ with `npx buf generate`; a private copy keeps
concurrent test runs from deleting each other's node_modules. The tests skip
only when the npm registry cannot be reached; any other npm failure fails."""
import base64
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CLIENT_DIR = REPO / "tests" / "clients" / "ts"
PROTO_DIR = REPO / "proto"
CLIENT_FILES = ("package.json", "package-lock.json", "buf.gen.yaml", "client.mjs")
# npm's error code when the registry cannot be reached at all (npm 9 prints
# "npm ERR! code X", npm 10 and later "npm error code X").
UNREACHABLE = re.compile(
    r"^npm (?:ERR!|error) code (ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH)\b",
    re.M)


def run(cmd, cwd, timeout=120):
    env = dict(os.environ, npm_config_update_notifier="false")
    return subprocess.run(cmd, cwd=str(cwd), env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def ts_client(tmp_path_factory):
    missing = [tool for tool in ("node", "npm", "npx") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"{', '.join(missing)} not on PATH: run scripts/install-deps.sh", pytrace=False)
    work = tmp_path_factory.mktemp("ts-client")
    for name in CLIENT_FILES:
        shutil.copy2(CLIENT_DIR / name, work / name)

    r = run(["npm", "ci", "--no-audit", "--no-fund", "--prefer-offline"], work, timeout=600)
    if r.returncode != 0:
        m = UNREACHABLE.search(r.stdout + r.stderr)
        if m:
            pytest.skip(f"the npm registry is unreachable (npm ci: {m.group(1)}), so the TypeScript client "
                        "cannot be installed")
        pytest.fail(f"npm ci failed (rc={r.returncode}):\n{r.stdout}\n{r.stderr}", pytrace=False)

    # The positional input overrides buf.gen.yaml's relative `inputs`, which
    # only resolves inside the source tree.
    r = run(["npx", "--no", "buf", "generate", str(PROTO_DIR)], work)
    assert r.returncode == 0, f"buf generate failed:\n{r.stdout}\n{r.stderr}"
    for name in ("admin", "sandbox", "execution"):
        assert (work / "gen" / "cleanroom" / "v1" / f"{name}_pb.js").is_file(), name
        assert (work / "gen" / "cleanroom" / "v1" / f"{name}_pb.d.ts").is_file(), name
    return work


@pytest.fixture
def server(cleanroom_bin):
    d = Path(tempfile.mkdtemp(prefix="cleanroom-ts-", dir="/var/tmp"))
    os.chmod(d, 0o711)
    sock = d / "run" / "cleanroom.sock"
    log = open(d / "serve.log", "w+")
    proc = subprocess.Popen([cleanroom_bin, "serve", "--socket", str(sock), "--state-dir", str(d / "state")],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while time.time() < deadline and not sock.exists() and proc.poll() is None:
        time.sleep(0.02)
    assert sock.exists(), (d / "serve.log").read_text()
    yield sock
    proc.terminate()
    rc = proc.wait(timeout=20)
    log.close()
    text = (d / "serve.log").read_text(errors="replace")
    subprocess.run(["rm", "-rf", str(d)])
    # whatever the client sent, the server survived it and stopped cleanly
    assert rc == 0 and "Sanitizer" not in text and "runtime error" not in text, f"rc={rc}\n{text}"


def client(ts_client, sock, scenario, codec, args=None, timeout=90):
    """Runs client.mjs with the given codec ("json" or "binary"); returns
    what the scenario produced ({"ok": ...}) or the ConnectError it ended with
    ({"error": ...})."""
    cmd = ["node", "client.mjs", str(sock), scenario, json.dumps(dict(args or {}, codec=codec))]
    r = run(cmd, ts_client, timeout=timeout)
    assert r.returncode == 0, f"client.mjs {scenario} failed (rc={r.returncode}):\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout)


def ok(result):
    assert "ok" in result, f"the call failed: {result}"
    return result["ok"]


# JSON is the codec under test; binary through the same client covers the
# other content types (application/proto, application/connect+proto).
CODECS = pytest.mark.parametrize("codec", ["json", "binary"])


@CODECS
def test_unary(ts_client, server, codec):
    res = ok(client(ts_client, server, "admin", codec))
    st = res["serverStatus"]["status"]
    assert st["version"] and st["endpoint"] == f"unix://{server}", st
    assert st["backends"][0]["name"] == "netns" and st["backends"][0]["isDefault"] is True, st
    caps = res["capabilities"]
    assert caps["backendName"] == "netns", caps
    keys = {c["key"]: c.get("value", False) for c in caps["capabilities"]}
    assert set(keys) >= {"network_default_deny", "network_host_port_filtering", "dns_control_or_equivalent",
                         "policy_immutability", "audit_event_emission", "secret_isolation"}, keys
    assert keys["network_default_deny"] is True and keys["policy_immutability"] is True, keys


@CODECS
def test_unary_errors(ts_client, server, codec):
    res = ok(client(ts_client, server, "errors", codec, {"sandboxId": "sb-does-not-exist"}))
    unknown = res["getUnknownSandbox"]
    assert "error" in unknown and unknown["error"]["code"] == "NotFound", unknown
    assert "sb-does-not-exist" in unknown["error"]["message"], unknown

    bad = res["createWithInvalidPolicy"]
    assert "error" in bad and bad["error"]["code"] == "InvalidArgument", bad
    # decoded by connect-es from the binary detail with the generated ErrorInfoSchema
    assert [d["reasonCode"] for d in bad["error"]["errorInfo"]] == ["policy_invalid"], bad
    assert bad["error"]["errorInfo"][0]["message"], bad


def test_stream_refusal_reaches_the_client(ts_client, server):
    """The Connect protocol answers every streaming request with 200 and
    puts an error in the end-of-stream message; connect-es reads no error
    body from a non-200 stream response, so the code and reason are lost."""
    res = client(ts_client, server, "gzipStream", "json")
    assert "error" in res and res["error"]["code"] == "Unimplemented", res
    assert "gzip" in res["error"]["message"], res


DENY_ALL = "version: 1\nsandbox:\n  network:\n    default: deny\n"


@CODECS
@pytest.mark.skipif(os.geteuid() != 0, reason="provisioning sandboxes needs root")
def test_streaming(ts_client, server, cr, codec):
    repo = cr.plain_dir({"cleanroom.yaml": DENY_ALL})
    compiled = cr.run("policy", "compile", "--json", "-C", repo)
    assert compiled.rc == 0, compiled
    res = ok(client(ts_client, server, "exec", codec, {
        "policy": compiled.out.strip(),
        "command": ["/bin/sh", "-c", "echo out; echo err >&2; exit 3"],
    }))
    # CreateSandbox answers while the sandbox provisions; the execution
    # created right away waits for it (QUEUED)
    assert res["sandboxStatus"] == "PROVISIONING" and res["executionId"], res
    assert res["executionStatus"] == "QUEUED", res

    stream = res["stream"]
    assert "error" not in stream and stream["ended"] is True, stream
    assert b"".join(base64.b64decode(c) for c in stream["stdout"]) == b"out\n", stream
    assert b"".join(base64.b64decode(c) for c in stream["stderr"]) == b"err\n", stream
    assert [(e["exitCode"], e["status"]) for e in stream["exits"]] == [(3, "FAILED")], stream
    assert stream["payloads"].count("exit") == 1 and stream["payloads"][-1] == "exit", stream

    events = res["events"]
    assert "error" not in events and events["ended"] is True, events
    assert "READY" in [e["status"] for e in events["events"]], events
    assert all(e["sandboxId"] == res["sandboxId"] for e in events["events"]), events
    assert res["terminated"] is True, res


def buf_curl(ts_client, sock, method, data, verbose=False):
    cmd = ["npx", "--no", "buf", "curl", "--protocol", "connect", "--http2-prior-knowledge=false",
           "--unix-socket", str(sock), "--schema", str(PROTO_DIR), "-d", data]
    if verbose:
        cmd.append("-v")
    cmd.append(f"http://localhost/cleanroom.v1.{method}")
    return run(cmd, ts_client, timeout=60)


def test_buf_curl_binary_codec(ts_client, server):
    r = buf_curl(ts_client, server, "AdminService/GetServerStatus", "{}", verbose=True)
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    # -v traces both heads: HTTP/1.1, the binary codec in both directions
    assert re.search(r"^buf: > \(#1\) Content-Type: application/proto$", r.stderr, re.M), r.stderr
    assert re.search(r"^buf: < \(#1\) HTTP/1\.1 200 OK$", r.stderr, re.M), r.stderr
    assert re.search(r"^buf: < \(#1\) Content-Type: application/proto$", r.stderr, re.M), r.stderr
    st = json.loads(r.stdout)["status"]
    assert st["version"] and st["endpoint"] == f"unix://{server}", st
    assert st["backends"][0]["name"] == "netns", st

    # a non-empty binary request body
    r = buf_curl(ts_client, server, "AdminService/GetCapabilities", '{"backend": "netns"}')
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    caps = json.loads(r.stdout)
    assert caps["backendName"] == "netns" and "policy_immutability" in {c["key"] for c in caps["capabilities"]}

    # an error answered to a binary-codec request (the error body is JSON)
    r = buf_curl(ts_client, server, "SandboxService/GetSandbox", '{"sandboxId": "sb-nope"}')
    assert r.returncode != 0 and re.search(r'"code":\s*"not_found"', r.stderr), f"{r.stdout}\n{r.stderr}"
