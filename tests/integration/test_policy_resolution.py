# SPDX-License-Identifier: Apache-2.0
"""Policy file resolution (spec §5.1): cleanroom.yaml at the repository root,
.buildkite/cleanroom.yaml as fallback, root wins with a warning, -c and -C."""
import pytest

from conftest import MINIMAL_POLICY

ROOT_POLICY = """
    version: 1
    sandbox:
      network:
        default: deny
        allow:
          - host: root.example
    """

BUILDKITE_POLICY = """
    version: 1
    sandbox:
      network:
        default: deny
        allow:
          - host: buildkite.example
    """


def test_root_policy_found_from_a_subdirectory(cr):
    repo = cr.repo({"cleanroom.yaml": ROOT_POLICY, "src/deep/er/file.txt": "x\n"})
    sub = repo / "src" / "deep" / "er"

    r = cr.run("policy", "validate", cwd=sub)
    assert r.rc == 0, r
    assert r.out.startswith("cleanroom.yaml: valid (1 allow rules, 0 deny rules"), r

    r = cr.run("policy", "compile", "--json", cwd=sub)
    assert r.rc == 0, r
    assert r.json()["source"]["policy_path"] == "cleanroom.yaml"

    r = cr.run("policy", "explain", "root.example", cwd=sub)
    assert r.rc == 0, r
    assert r.out.startswith("ALLOW root.example:443"), r


def test_cleanroom_yaml_in_a_subdirectory_is_not_the_repository_policy(cr):
    # Only the git toplevel counts: a cleanroom.yaml next to the current
    # directory must not be picked up.
    repo = cr.repo({"sub/cleanroom.yaml": ROOT_POLICY})
    r = cr.run("policy", "validate", cwd=repo / "sub")
    assert r.rc == 1, r
    assert "no cleanroom.yaml or .buildkite/cleanroom.yaml in " + str(repo) in r.err, r


def test_buildkite_fallback_is_used_when_root_file_is_absent(cr):
    repo = cr.repo({".buildkite/cleanroom.yaml": BUILDKITE_POLICY, "lib/x.txt": "x\n"})

    r = cr.run("policy", "validate", cwd=repo / "lib")
    assert r.rc == 0, r
    assert r.out.startswith(".buildkite/cleanroom.yaml: valid"), r
    assert r.err == "", r  # no warning when only one file exists

    r = cr.run("policy", "compile", "--json", cwd=repo)
    assert r.rc == 0, r
    assert r.json()["source"]["policy_path"] == ".buildkite/cleanroom.yaml"

    assert cr.run("policy", "explain", "buildkite.example", cwd=repo).rc == 0
    assert cr.run("policy", "explain", "root.example", cwd=repo).rc == 1


def test_root_file_wins_over_buildkite_and_warns(cr):
    repo = cr.repo({"cleanroom.yaml": ROOT_POLICY, ".buildkite/cleanroom.yaml": BUILDKITE_POLICY})

    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 0, r
    assert r.out.startswith("cleanroom.yaml: valid"), r
    assert ".buildkite/cleanroom.yaml: warning" in r.err, r
    assert "ignored: cleanroom.yaml takes precedence" in r.err, r

    # the decision really comes from the root file
    r = cr.run("policy", "explain", "root.example", cwd=repo)
    assert r.rc == 0, r
    assert ".buildkite/cleanroom.yaml" in r.err, r  # warned on every command
    r = cr.run("policy", "explain", "buildkite.example", cwd=repo)
    assert r.rc == 1, r

    r = cr.run("policy", "validate", "--json", cwd=repo)
    assert r.rc == 0, r
    doc = r.json()
    assert doc["valid"] is True
    assert doc["policy_file"] == "cleanroom.yaml"
    assert doc["errors"] == 0 and doc["warnings"] == 1
    [warning] = doc["diagnostics"]
    assert warning["severity"] == "warning"
    assert warning["file"] == ".buildkite/cleanroom.yaml"
    assert "ignored" in warning["message"]


def test_config_flag_overrides_resolution(cr):
    repo = cr.repo({
        "cleanroom.yaml": ROOT_POLICY,
        ".buildkite/cleanroom.yaml": BUILDKITE_POLICY,
        "ci/alt.yaml": MINIMAL_POLICY,
    })
    r = cr.run("policy", "compile", "--json", "-c", "ci/alt.yaml", cwd=repo)
    assert r.rc == 0, r
    payload = r.json()
    assert payload["source"]["policy_path"] == "ci/alt.yaml"
    assert [x["host"] for x in payload["network"]["allow_rules"]] == ["api.example.com"]
    assert "warning" not in r.err, r  # the two default files are not consulted

    # relative to the current directory; recorded relative to the repository root
    r = cr.run("policy", "compile", "--json", "--config", "alt.yaml", cwd=repo / "ci")
    assert r.rc == 0, r
    assert r.json()["source"]["policy_path"] == "ci/alt.yaml"

    r = cr.run("policy", "explain", "-c", str(repo / "ci" / "alt.yaml"), "api.example.com", cwd=cr.tmp)
    assert r.rc == 0, r


def test_config_flag_with_missing_file(cr):
    repo = cr.repo({"cleanroom.yaml": ROOT_POLICY})
    r = cr.run("policy", "validate", "-c", "nope.yaml", cwd=repo)
    assert r.rc == 1, r
    assert "open 'nope.yaml': No such file or directory" in r.err, r
    r = cr.run("policy", "explain", "-c", "nope.yaml", "root.example", cwd=repo)
    assert r.rc == 2, r


def test_repo_flag_runs_from_anywhere(cr):
    repo = cr.repo({"cleanroom.yaml": ROOT_POLICY, "sub/x.txt": "x\n"})
    elsewhere = cr.plain_dir()
    r = cr.run("policy", "validate", "-C", repo / "sub", cwd=elsewhere)
    assert r.rc == 0, r
    assert r.out.startswith("cleanroom.yaml: valid"), r
    r = cr.run("policy", "explain", "--repo", repo, "root.example", cwd=elsewhere)
    assert r.rc == 0, r


def test_relative_config_path_is_relative_to_repo_flag(cr):
    repo = cr.repo({"ci/alt.yaml": MINIMAL_POLICY})
    elsewhere = cr.plain_dir()
    r = cr.run("policy", "validate", "-C", repo, "-c", "ci/alt.yaml", cwd=elsewhere)
    assert r.rc == 0, r


def test_no_policy_file(cr):
    repo = cr.repo({"README": "no policy here\n"})

    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert "error[policy_invalid]" in r.err, r
    assert "no cleanroom.yaml or .buildkite/cleanroom.yaml in " + str(repo) in r.err, r
    assert "hint: create cleanroom.yaml at the repository root" in r.err, r

    r = cr.run("policy", "validate", "--json", cwd=repo)
    assert r.rc == 1, r
    doc = r.json()
    assert doc["valid"] is False and doc["policy_file"] is None and doc["errors"] == 1
    [d] = doc["diagnostics"]
    assert d["reason_code"] == "policy_invalid"
    assert "cleanroom.yaml" in d["message"] and ".buildkite/cleanroom.yaml" in d["message"]

    r = cr.run("policy", "compile", cwd=repo)
    assert r.rc == 1 and r.out == "", r

    # explain: 1 means "denied", so a missing policy is 2
    r = cr.run("policy", "explain", "example.com", cwd=repo)
    assert r.rc == 2, r
    assert ".buildkite/cleanroom.yaml" in r.err, r


def test_dangling_policy_symlink_is_reported_not_skipped(cr):
    """A cleanroom.yaml that is a dangling symlink is the policy: its error is
    reported instead of silently falling back to .buildkite/cleanroom.yaml."""
    repo = cr.repo({".buildkite/cleanroom.yaml": "version: 1\nsandbox:\n  network:\n    default: deny\n"},
                   commit=False)
    (repo / "cleanroom.yaml").symlink_to("missing.yaml")
    r = cr.run("policy", "validate", cwd=repo)
    assert r.rc == 1, r
    assert "open 'cleanroom.yaml': No such file or directory" in r.err, r
