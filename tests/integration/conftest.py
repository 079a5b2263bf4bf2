# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the integration tests: the real `cleanroom` binary, run
against throw-away git repositories built in each test's tmp_path.

The binary comes from $CLEANROOM_BIN. Every subprocess (the binary, and the
git it runs itself) gets an isolated environment: HOME inside tmp_path (no
user ~/.gitconfig), no system git config, and GIT_CEILING_DIRECTORIES set to
tmp_path so that a directory created outside a repository really is outside
any repository, wherever pytest puts tmp_path.
"""
import hashlib
import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture(scope="session")
def cleanroom_bin():
    path = os.environ.get("CLEANROOM_BIN")
    if not path:
        pytest.fail(
            "CLEANROOM_BIN is not set. Build the CLI and point the variable at it:\n"
            "  meson setup /tmp/bi && meson compile -C /tmp/bi\n"
            "  CLEANROOM_BIN=/tmp/bi/src/cli/cleanroom /usr/bin/python3 -m pytest -q tests/integration",
            pytrace=False,
        )
    p = Path(path)
    if not p.is_file() or not os.access(p, os.X_OK):
        pytest.fail(f"CLEANROOM_BIN={path!r} is not an executable file (build it first)", pytrace=False)
    return str(p.resolve())


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def json(self):
        try:
            return json.loads(self.out)
        except ValueError as e:  # pragma: no cover - shown on failure only
            raise AssertionError(f"stdout is not JSON ({e}):\n{self.out}\nstderr:\n{self.err}")

    def __repr__(self):
        return f"<rc={self.rc}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}>"


class Cleanroom:
    """Runs the binary and builds repositories for one test."""

    def __init__(self, binary, tmp_path):
        self.binary = binary
        self.tmp = tmp_path
        home = tmp_path / "home"
        home.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        env.update(
            HOME=str(home),
            XDG_CONFIG_HOME=str(home / ".config"),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CEILING_DIRECTORIES=str(tmp_path),
            GIT_TERMINAL_PROMPT="0",
            LC_ALL="C.UTF-8",
        )
        self.env = env

    # ---- running -------------------------------------------------------
    def run(self, *args, cwd=None, timeout=20):
        proc = subprocess.run(
            [self.binary, *[str(a) for a in args]],
            cwd=str(cwd or self.tmp),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(proc)

    def run_bytes(self, *args, cwd=None):
        """stdout as bytes, for byte-exact comparisons."""
        proc = subprocess.run(
            [self.binary, *[str(a) for a in args]],
            cwd=str(cwd or self.tmp),
            env=self.env,
            capture_output=True,
            timeout=20,
        )
        return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")

    def git(self, repo, *args):
        proc = subprocess.run(
            ["git", "-C", str(repo), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
        return proc.stdout.strip()

    # ---- building repositories -----------------------------------------
    def write(self, root, files):
        for rel, text in files.items():
            p = Path(root) / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                p.write_bytes(text)
            else:
                p.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")

    def repo(self, files=None, name="repo", commit=True, remote=None):
        """A new git repository at tmp_path/name holding `files`
        ({relative path: text}), committed unless commit=False."""
        root = self.tmp / name
        root.mkdir(parents=True)
        self.git(root, "init", "-q")
        self.git(root, "config", "user.name", "Cleanroom Test")
        self.git(root, "config", "user.email", "test@cleanroom.invalid")
        self.git(root, "config", "commit.gpgsign", "false")
        self.write(root, files or {})
        if remote:
            self.git(root, "remote", "add", "origin", remote)
        if commit:
            self.git(root, "add", "-A")
            self.git(root, "commit", "-q", "--allow-empty", "-m", "test repository")
        return root

    def plain_dir(self, files=None, name="plain"):
        """A directory that is not inside any git repository."""
        root = self.tmp / name
        root.mkdir(parents=True)
        self.write(root, files or {})
        return root


@pytest.fixture
def cr(cleanroom_bin, tmp_path):
    return Cleanroom(cleanroom_bin, tmp_path)


def canonical(obj):
    """The canonical encoding of the compiled payload, as the spec's hash
    rule describes it: sorted keys, no whitespace, UTF-8 verbatim."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def expected_hash(payload):
    obj = dict(payload)
    obj["policy_hash"] = ""
    return hashlib.sha256(canonical(obj)).hexdigest()


# A small valid policy many tests start from.
MINIMAL_POLICY = """
    version: 1
    sandbox:
      network:
        default: deny
        allow:
          - host: api.example.com
            reason: api
            ports: [443]
    """
