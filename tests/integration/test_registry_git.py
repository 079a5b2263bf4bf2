# SPDX-License-Identifier: Apache-2.0
"""git smart HTTP through the gateway's git front (issue 7, spec §6.4) with
the real git client inside sandboxes of a real `cleanroom serve`, against a
fixture git host (`git http-backend` behind HTTPS with a test CA, requiring
Basic auth with a token; registry_fixture.py).

The server gets the token only through its credentials template
(--git-credentials, the value in its own environment); the sandbox must be
able to clone without ever seeing it. What the sandbox could see is dumped
from inside (its environment, every /proc/*/environ and /proc/*/cmdline,
sampled while git runs, and every writable directory, the clone included)
and searched here, on the host, so that the token itself never enters the
sandbox through the test either.
"""
import base64
import gzip
import io
import json
import os
import re
import tarfile
import time
import urllib.parse

import registry_fixture as rf
from registry_fixture import GIT_HOST, GIT_USER, GW_LINE, front_fetch

world = rf.world_fixture("git")

REPO_URL = f"https://{GIT_HOST}/org/repo.git"
POLICY = rf.make_policy(allow=[(GIT_HOST, [443])])
# the same host with push permission (docs/policy.md, sandbox.network)
PUSH_POLICY = POLICY.replace("        ports: [443]\n", "        ports: [443]\n        git_push: true\n")
assert PUSH_POLICY != POLICY
COMMITTER = "git -c user.name=Sandbox -c user.email=s@sandbox.test"

# snapshots of every process's environment and command line, every 20 ms,
# while the command after it runs (git's helpers live only that long)
SAMPLER = ("( while :; do for p in /proc/[0-9]*; do "
           "printf '== %s environ\\n' \"$p\"; tr '\\0' '\\n' < \"$p/environ\"; "
           "printf '== %s cmdline\\n' \"$p\"; tr '\\0' ' ' < \"$p/cmdline\"; echo; "
           "done 2>/dev/null; sleep 0.02; done ) >> /tmp/proc-samples.txt & SAMPLER=$!")
DUMP = ("tar -C / -cf - workspace tmp root home var/tmp run 2>/dev/null | gzip -1 | base64 -w0 "
        "| sed 's/^/@@files=/'; echo")


def secret_forms(token):
    """The token as the sandbox could come across it: plain, in a Basic
    header, URL-encoded."""
    basic = base64.b64encode(f"{GIT_USER}:{token}".encode()).decode()
    return [token, basic, basic.rstrip("="), urllib.parse.quote(token)]


def files_of(run):
    """{path: bytes} of the sandbox's writable directories, from DUMP."""
    raw = base64.b64decode(run.marker("files"))
    out = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(raw))) as tar:
        for m in tar.getmembers():
            if m.isfile():
                out[m.name] = tar.extractfile(m).read()
    return out


def assert_never_seen(world, run, what, text):
    for form in secret_forms(world.git_token):
        assert form not in text, f"the git credential appears in {what}"


def test_clone_through_the_gateway_without_seeing_the_credentials(world):
    mark = world.mark()
    run = world.exec(POLICY, "\n".join([
        GW_LINE, "echo \"@@gw=$GW\"",
        "env > /tmp/env.txt",
        "git config --get-regexp '^url\\.' | sed 's/^/@@url=/'",
        SAMPLER,
        f"git clone {REPO_URL} /workspace/clone 2>&1; echo \"@@clone=$?\"",
        "kill $SAMPLER 2>/dev/null",
        "echo \"@@head=$(git -C /workspace/clone rev-parse HEAD)\"",
        "echo \"@@hello=$(cat /workspace/clone/hello.txt)\"",
        "echo \"@@origin=$(git -C /workspace/clone config --get remote.origin.url)\"",
        DUMP,
    ])).started()
    gw = run.marker("gw")
    assert run.marker("clone") == "0", f"git clone failed through the gateway: {run!r}"
    assert run.marker("head") == world.git_head, run
    assert run.marker("hello") == "hello from the fixture git host", run
    assert run.marker("origin") == REPO_URL, run
    # exactly the allowed host is redirected to the front
    urls = re.findall(r"^@@url=(.*)$", run.out, re.M)
    assert urls == [f"url.http://{gw}/git/{GIT_HOST}/.insteadof https://{GIT_HOST}/"], urls

    # the upstream saw the gateway, with the credentials
    reqs = world.requests(mark, host=GIT_HOST)
    assert any("info/refs?service=git-upload-pack" in r["path"] for r in reqs), reqs
    assert any(r["path"].endswith("/git-upload-pack") and r["method"] == "POST" for r in reqs), reqs
    for r in reqs:
        assert r["peer"] == rf.SRV_LINK_ADDR, f"the sandbox reached the git host directly: {r}"
        assert r["auth"] == "ok", f"a request reached the git host without the credentials: {r}"

    # the sandbox never saw them: environment, processes, files (the clone's .git/config included)
    files = files_of(run)
    assert "workspace/clone/.git/config" in files and "tmp/proc-samples.txt" in files, sorted(files)[:50]
    samples = files["tmp/proc-samples.txt"].decode("utf-8", "replace")
    assert "git" in samples and "environ" in samples, "the process sampler recorded nothing"
    assert_never_seen(world, run, "the sandbox's output", run.out)
    for path, data in files.items():
        assert_never_seen(world, run, f"the sandbox's file /{path}", data.decode("latin-1"))
    # nor the audit trail or the server's log
    assert_never_seen(world, run, "the audit trail", json.dumps(world.audit(run.sandbox_id)))
    assert_never_seen(world, run, "the server's log", world.server_log())

    ev = world.event(run, registry="git", action="allow")
    assert "org/repo" in (ev["detail"].get("package") or ev["detail"].get("requested_path") or ""), ev


def test_push_is_refused(world):
    before = world.git_refs()
    mark = world.mark()
    run = world.exec(POLICY, "\n".join([
        GW_LINE,
        f"git clone -q {REPO_URL} /workspace/clone 2>&1; echo \"@@clone=$?\"",
        "cd /workspace/clone && git -c user.name=Sandbox -c user.email=s@sandbox.test commit -q --allow-empty "
        "-m 'from the sandbox' && git push origin HEAD:refs/heads/pushed-from-sandbox 2>&1; echo \"@@push=$?\"",
        "cd /workspace",
        front_fetch("refs", f"/git/{GIT_HOST}/org/repo.git/info/refs?service=git-receive-pack"),
        front_fetch("post", f"/git/{GIT_HOST}/org/repo.git/git-receive-pack", method="POST", data="0000",
                    headers=["Content-Type: application/x-git-receive-pack-request"]),
    ])).started()
    assert run.marker("clone") == "0", f"the clone before the push failed: {run!r}"
    assert run.marker("push") != "0", f"git push succeeded: {run!r}"
    assert "403" in run.out, f"git did not report the front's 403: {run!r}"
    assert run.marker("refs-status") == "403" and run.marker("refs-reason") == "git_push_not_allowed", run
    assert run.marker("post-status") == "403" and run.marker("post-reason") == "git_push_not_allowed", run
    assert "add 'git_push: true' to its rule in sandbox.network.allow" in run.marker("refs-body"), run
    ev = world.event(run, registry="git", action="deny", reason="git_push_not_allowed")
    assert "org/repo" in (ev["detail"].get("package") or ev["detail"].get("requested_path") or ""), ev
    # nothing of the push reached the git host, and its refs are unchanged
    pushes = [r for r in world.requests(mark, host=GIT_HOST) if "receive-pack" in r["path"]]
    assert not pushes, f"a push request reached the git host: {pushes}"
    assert world.git_refs() == before


def push_events(world, run, timeout=8.0):
    """The run's allowed info/refs (receive-pack) and git-receive-pack events,
    waiting until there is one of each."""
    deadline = time.time() + timeout
    while True:
        evs = world.events(run, registry="git", action="allow", timeout=0)
        refs = [e for e in evs if e["detail"].get("detail", "").startswith("info/refs (receive-pack)")]
        posts = [e for e in evs if e["detail"].get("requested_path", "").endswith("/git-receive-pack")]
        if (refs and posts) or time.time() > deadline:
            return refs, posts
        time.sleep(0.25)


def test_push_with_git_push_reaches_the_repository_without_the_credentials(world):
    """git_push: true on the host's allow rule: `git push` from the sandbox
    goes through the front (receive-pack relayed, with the gateway's
    credentials) and the commit is in the fixture repository, while the
    sandbox still never sees the token."""
    branch = "pushed-" + base64.b32encode(os.urandom(5)).decode().lower()
    mark = world.mark()
    run = world.exec(PUSH_POLICY, "\n".join([
        f"git clone -q {REPO_URL} /workspace/clone 2>&1; echo \"@@clone=$?\"",
        "cd /workspace/clone && echo 'pushed from a sandbox' > pushed.txt && git add pushed.txt && "
        f"{COMMITTER} commit -q -m 'from the sandbox' 2>&1; echo \"@@commit=$?\"",
        "echo \"@@sha=$(git rev-parse HEAD)\"",
        SAMPLER,
        f"git push origin HEAD:refs/heads/{branch} HEAD:refs/tags/{branch}-tag 2>&1; echo \"@@push=$?\"",
        "kill $SAMPLER 2>/dev/null",
        "cd /workspace",
        DUMP,
    ])).started()
    assert run.marker("clone") == "0" and run.marker("commit") == "0", run
    assert run.marker("push") == "0", f"git push failed through the gateway: {run!r}"
    sha = run.marker("sha")
    # the commit is in the fixture repository, with its content
    assert f"refs/heads/{branch} {sha}" in world.git_refs().splitlines(), world.git_refs()
    assert f"refs/tags/{branch}-tag {sha}" in world.git_refs().splitlines(), world.git_refs()
    assert world.git("-C", world.git_bare, "show", f"{sha}:pushed.txt") == "pushed from a sandbox"
    assert world.git("-C", world.git_bare, "rev-parse", "refs/heads/main") == world.git_head

    # both push requests reached the git host from the gateway, with the credentials
    reqs = [r for r in world.requests(mark, host=GIT_HOST) if "receive-pack" in r["path"]]
    assert any(r["method"] == "GET" and "info/refs?service=git-receive-pack" in r["path"] for r in reqs), reqs
    assert any(r["method"] == "POST" and r["path"].endswith("/git-receive-pack") for r in reqs), reqs
    for r in reqs:
        assert r["peer"] == rf.SRV_LINK_ADDR, f"the sandbox reached the git host directly: {r}"
        assert r["auth"] == "ok", f"a push request reached the git host without the credentials: {r}"

    # the sandbox never saw them
    files = files_of(run)
    samples = files["tmp/proc-samples.txt"].decode("utf-8", "replace")
    assert "git" in samples and "environ" in samples, "the process sampler recorded nothing"
    assert_never_seen(world, run, "the sandbox's output", run.out)
    for path, data in files.items():
        assert_never_seen(world, run, f"the sandbox's file /{path}", data.decode("latin-1"))
    assert_never_seen(world, run, "the audit trail", json.dumps(world.audit(run.sandbox_id)))
    assert_never_seen(world, run, "the server's log", world.server_log())

    # the audit trail has the push decisions: allowed by the rule's git_push, the POST naming the ref
    refs, posts = push_events(world, run)
    assert refs and posts, f"push requests not audited: {world.events(run, registry='git', timeout=0)}"
    for ev in refs + posts:
        assert ev["detail"].get("rule", "").endswith(".git_push"), ev
        assert ev["detail"].get("package") == "org/repo.git", ev
    detail = posts[0]["detail"].get("detail", "")
    assert detail.startswith("receive-pack: 2 ref updates: "), posts[0]
    assert f"refs/heads/{branch} (create)" in detail and f"refs/tags/{branch}-tag (create)" in detail, posts[0]
    assert "upstream answered 200" in posts[0]["detail"].get("detail", ""), posts[0]


def test_push_larger_than_the_front_takes_is_refused_with_413(world):
    """A push whose request would pass CR_FRONT_BODY_MAX (1 MiB): git probes
    first (a lone flush-pkt), the front answers 413 and records why; nothing
    of the push reaches the git host's receive-pack."""
    before = world.git_refs()
    mark = world.mark()
    run = world.exec(PUSH_POLICY, "\n".join([
        GW_LINE,
        f"git clone -q {REPO_URL} /workspace/clone 2>&1; echo \"@@clone=$?\"",
        "cd /workspace/clone && head -c 3000000 /dev/urandom > big.bin && git add big.bin && "
        f"{COMMITTER} commit -q -m big 2>&1 && git push origin HEAD:refs/heads/too-big 2>&1; "
        "echo \"@@push=$?\"",
        "cd /workspace",
        front_fetch("probe", f"/git/{GIT_HOST}/org/repo.git/git-receive-pack", method="POST", data="0000",
                    headers=["Content-Type: application/x-git-receive-pack-request"]),
    ])).started()
    assert run.marker("clone") == "0", run
    assert run.marker("push") != "0", f"a push larger than the front's cap succeeded: {run!r}"
    assert "413" in run.out, f"git did not report the front's 413: {run!r}"
    assert run.marker("probe-status") == "413", run
    assert "too big for cleanroom's git front" in run.marker("probe-body"), run
    # git's probe and curl's
    evs = world.events(run, registry="git", action="error", rule="git_front_body_max", count=2)
    assert len(evs) == 2, evs
    for ev in evs:
        assert "1048576 bytes" in ev["detail"].get("detail", ""), ev
    posts = [r for r in world.requests(mark, host=GIT_HOST) if r["path"].endswith("/git-receive-pack")]
    assert not posts, f"a receive-pack request reached the git host: {posts}"
    assert world.git_refs() == before


def test_push_upstream_refusal_is_a_message_not_a_password_prompt(world):
    """A repository outside the credentials' prefix: upstream asks for
    credentials (401); the sandbox gets a 403 that says so, and git fails
    without prompting."""
    run = world.exec(PUSH_POLICY, "\n".join([
        GW_LINE,
        "git init -q /workspace/r && cd /workspace/r && "
        f"{COMMITTER} commit -q --allow-empty -m x && GIT_TERMINAL_PROMPT=0 "
        f"git push https://{GIT_HOST}/elsewhere/repo.git HEAD:refs/heads/x 2>&1; echo \"@@push=$?\"",
        "cd /workspace",
        front_fetch("refs", f"/git/{GIT_HOST}/elsewhere/repo.git/info/refs?service=git-receive-pack"),
    ])).started()
    assert run.marker("push") != "0", run
    assert "no credentials configured" in run.out and "Username" not in run.out, run
    assert run.marker("refs-status") == "403", run
    assert "git push to git.registry.test/elsewhere/repo.git: no credentials configured" in run.marker(
        "refs-body"), run
    ev = world.event(run, registry="git", action="error", package="elsewhere/repo.git")
    assert ev["detail"].get("rule", "").endswith(".git_push"), ev


def test_clone_of_a_host_the_policy_does_not_allow_fails(world):
    """No insteadOf for a host the network policy does not list, and its name
    does not resolve: nothing reaches it."""
    mark = world.mark()
    run = world.exec(POLICY, "\n".join([
        f"git clone https://{rf.OTHER_HOST}/org/repo.git /workspace/other 2>&1; echo \"@@clone=$?\"",
        f"git clone -q {REPO_URL} /workspace/ok 2>&1; echo \"@@ok=$?\"",
    ])).started()
    assert run.marker("clone") != "0", run
    assert run.marker("ok") == "0", run
    assert not world.requests(mark, host=rf.OTHER_HOST)


def test_second_clone_is_served_from_the_cache_with_the_upstream_stopped(world):
    """Upload-pack answers are cached by request; refs are revalidated, and
    served from the cache when the git host is down."""
    clone = "\n".join([f"git clone -q {REPO_URL} /workspace/c 2>&1; echo \"@@clone=$?\"",
                       "echo \"@@head=$(git -C /workspace/c rev-parse HEAD)\""])
    first = world.exec(POLICY, clone).started()
    assert first.marker("clone") == "0", first
    world.stop_upstream()
    try:
        second = world.exec(POLICY, clone).started()
    finally:
        world.start_upstream()
    assert second.marker("clone") == "0", f"the clone failed with the git host stopped: {second!r}"
    assert second.marker("head") == world.git_head, second
    hits = [e for e in world.events(second, registry="git", action="allow", count=2)
            if e["detail"].get("cache") in ("hit", "stale")]
    assert hits, f"no git answer was served from the cache: {world.events(second, registry='git', timeout=0)}"
