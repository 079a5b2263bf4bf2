# SPDX-License-Identifier: Apache-2.0
"""`cleanroom conformance`: the command that runs the egress conformance
suite (tests/conformance) with pytest and reports whether a backend is
supported.

Most tests point --suite at a small fake suite written into tmp_path (the
real report_plugin.py, a conftest with --backend, and cases that pass, fail,
skip and break in setup), so the table, the verdict, --json and the exit
status are checked against known outcomes in a second. One test runs a
cheap fixture self-test of the real suite with -k. Running the suite needs
root: those tests skip otherwise, and one checks the refusal as nobody."""
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
SUITE = REPO / "tests" / "conformance"
PY = "/usr/bin/python3"

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the conformance suite runs only as root")
needs_pytest = pytest.mark.skipif(
    subprocess.run([PY, "-c", "import pytest"], capture_output=True).returncode != 0,
    reason=f"{PY} has no pytest")

FAKE_CONFTEST = '''
def pytest_addoption(parser):
    parser.addoption("--backend", default="netns")
'''

# test_default_deny_blocks_unlisted_destinations has a §14 row in report_plugin.ROWS
PASSING = '''
import os
def test_default_deny_blocks_unlisted_destinations(request):
    assert request.config.getoption("--backend") == os.environ["FAKE_BACKEND"]
def test_sees_this_binary():
    assert os.environ["CLEANROOM_BIN"] == os.environ["FAKE_BIN"]
'''

FAILING = '''
import pytest
def test_fails():
    assert 1 == 2, "one is not two\\nsecond line"
def test_skips():
    pytest.skip("nothing to provoke")
@pytest.fixture
def broken():
    raise RuntimeError("setup broke")
def test_setup_error(broken):
    pass
'''


def fake_suite(root, *modules):
    root.mkdir(parents=True)
    shutil.copy(SUITE / "report_plugin.py", root / "report_plugin.py")
    (root / "conftest.py").write_text(FAKE_CONFTEST)
    for i, text in enumerate(modules):
        (root / f"test_fake{i}.py").write_text(text)
    return root


class Run:
    def __init__(self, proc):
        self.rc, self.out, self.err = proc.returncode, proc.stdout, proc.stderr

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"<rc={self.rc}\n--- stdout ---\n{self.out}\n--- stderr ---\n{self.err}>"


@pytest.fixture
def conformance(cleanroom_bin):
    def run(*args, binary=cleanroom_bin, env=None, backend="netns", prefix=(), timeout=120):
        e = {k: v for k, v in os.environ.items() if k != "CLEANROOM_CONFORMANCE_DIR"}
        e.update(LC_ALL="C.UTF-8", FAKE_BACKEND=backend, FAKE_BIN=str(Path(binary).resolve()))
        e.update(env or {})
        proc = subprocess.run([*prefix, binary, "conformance", *[str(a) for a in args]], env=e,
                              capture_output=True, text=True, timeout=timeout)
        return Run(proc)
    return run


def table_rows(out):
    """{case: [result, seconds, row, message]} from the table."""
    lines = out.splitlines()
    assert lines and re.split(r"\s{2,}", lines[0]) == ["CASE", "RESULT", "SECONDS", "ROW", "MESSAGE"], out
    rows = {}
    for line in lines[1:-1]:
        cells = re.split(r"\s{2,}", line.rstrip())
        rows[cells[0]] = cells[1:]
    return rows


def kept_log(err):
    m = re.search(r"pytest's full output: (\S+)", err)
    return Path(m.group(1)) if m else None


# ---- usage and preconditions ----------------------------------------------

def test_help(conformance):
    r = conformance("--help")
    assert r.rc == 0, r
    assert "cleanroom conformance [--backend NAME] [--suite DIR] [--json] [-k EXPR]" in r.out


@pytest.mark.parametrize("args, says", [
    (["--bogus"], "unknown or incomplete option '--bogus'"),
    (["extra"], "unexpected argument 'extra'"),
    (["--host", "unix:///tmp/x.sock"], "--host is not used"),
    (["--backend", "Bad Name"], "bad backend name 'Bad Name'"),
    (["-k", ""], "-k needs a non-empty expression"),
])
def test_usage_errors(conformance, args, says):
    r = conformance(*args)
    assert r.rc == 2, r
    assert "error[usage_invalid]" in r.err and says in r.err, r
    assert r.out == "", r


def test_missing_suite_dir(conformance, tmp_path):
    missing = tmp_path / "no-such-suite"
    r = conformance("--suite", missing)
    assert r.rc == 2, r
    assert (f"cleanroom conformance: error[usage_invalid]: no conformance suite at '{missing}' "
            "(from --suite): not a directory") in r.err, r
    assert "hint: pass --suite DIR" in r.err and "CLEANROOM_CONFORMANCE_DIR" in r.err, r
    assert r.out == ""


def test_missing_suite_dir_from_the_environment(conformance, tmp_path):
    r = conformance(env={"CLEANROOM_CONFORMANCE_DIR": str(tmp_path / "gone")})
    assert r.rc == 2, r
    assert f"'{tmp_path / 'gone'}' (from CLEANROOM_CONFORMANCE_DIR)" in r.err, r


def test_a_directory_that_is_not_the_suite(conformance, tmp_path):
    (tmp_path / "conftest.py").write_text("")
    r = conformance("--suite", tmp_path)
    assert r.rc == 2, r
    assert "is not the conformance suite: conftest.py or report_plugin.py is missing" in r.err, r


def test_no_suite_found_beside_a_copied_binary(conformance, cleanroom_bin, tmp_path):
    binary = tmp_path / "bin" / "cleanroom"
    binary.parent.mkdir()
    shutil.copy(cleanroom_bin, binary)
    if Path("/usr/share/cleanroom/conformance").is_dir():
        pytest.skip("an installed suite exists on this host")
    r = conformance(binary=str(binary))
    assert r.rc == 2, r
    assert "no conformance suite found" in r.err and "/usr/share/cleanroom/conformance" in r.err, r


@needs_root
@needs_pytest
def test_refused_without_root(conformance, cleanroom_bin, tmp_path):
    if not shutil.which("setpriv"):
        pytest.skip("setpriv is missing")
    # pytest's tmp_path is private to root: nobody needs a readable place
    shared = Path(tempfile.mkdtemp(prefix="cr-conformance-test-"))
    try:
        os.chmod(shared, 0o755)
        binary = shared / "cleanroom"
        shutil.copy(cleanroom_bin, binary)
        suite = fake_suite(shared / "suite", PASSING)
        r = conformance("--suite", suite, binary=str(binary),
                        prefix=("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"))
    finally:
        shutil.rmtree(shared)
    assert r.rc == 2, r
    assert "error[usage_invalid]: the conformance suite needs root" in r.err, r
    assert "hint: run it as root" in r.err, r


# ---- results from a fake suite --------------------------------------------

@needs_root
@needs_pytest
def test_all_passing_is_supported(conformance, tmp_path):
    suite = fake_suite(tmp_path / "suite", PASSING)
    r = conformance("--suite", suite, "--backend", "netns")
    assert r.rc == 0, r
    rows = table_rows(r.out)
    assert set(rows) == {"test_fake0.py::test_default_deny_blocks_unlisted_destinations",
                         "test_fake0.py::test_sees_this_binary"}, r
    assert rows["test_fake0.py::test_default_deny_blocks_unlisted_destinations"][:1] == ["pass"]
    assert rows["test_fake0.py::test_default_deny_blocks_unlisted_destinations"][2] == "default deny"
    assert rows["test_fake0.py::test_sees_this_binary"][2:] == ["-", "-"]
    assert r.out.splitlines()[-1] == "backend netns: 2/2 passed \u2014 supported", r
    assert kept_log(r.err) is None, r


@needs_root
@needs_pytest
def test_failures_make_it_not_supported(conformance, tmp_path):
    suite = fake_suite(tmp_path / "suite", PASSING, FAILING)
    r = conformance("--suite", suite, "--backend", "other-backend", backend="other-backend")
    assert r.rc == 1, r
    rows = table_rows(r.out)
    assert rows["test_fake0.py::test_default_deny_blocks_unlisted_destinations"][0] == "pass", r
    assert rows["test_fake1.py::test_fails"][0] == "fail"
    assert rows["test_fake1.py::test_fails"][3] == "AssertionError: one is not two", r
    assert rows["test_fake1.py::test_skips"][0] == "skip"
    assert rows["test_fake1.py::test_skips"][3] == "nothing to provoke"
    assert rows["test_fake1.py::test_setup_error"][0] == "fail"
    assert rows["test_fake1.py::test_setup_error"][3] == "in setup: RuntimeError: setup broke"
    assert r.out.splitlines()[-1] == \
        "backend other-backend: 2/5 passed, 1 skipped \u2014 NOT supported (2 failed)", r
    log = kept_log(r.err)
    assert log and log.is_file() and "one is not two" in log.read_text(), r
    shutil.rmtree(log.parent)


@needs_root
@needs_pytest
def test_json_shape(conformance, tmp_path):
    suite = fake_suite(tmp_path / "suite", PASSING, FAILING)
    r = conformance("--suite", suite, "--json")
    assert r.rc == 1, r
    assert len(r.out.splitlines()) == 1, r
    doc = r.json()
    assert set(doc) == {"backend", "supported", "passed", "failed", "skipped", "selection",
                        "pytest_status", "log", "cases"}, doc
    assert (doc["backend"], doc["supported"], doc["passed"], doc["failed"], doc["skipped"]) == \
        ("netns", False, 2, 2, 1), doc
    assert doc["selection"] is None and doc["pytest_status"] == 1
    cases = {c["name"]: c for c in doc["cases"]}
    assert len(cases) == 5
    for c in doc["cases"]:
        assert set(c) == {"name", "outcome", "duration", "message", "row"}, c
        assert isinstance(c["duration"], float) and c["duration"] >= 0
    fail = cases["test_fake1.py::test_fails"]
    assert fail["outcome"] == "fail" and fail["message"].startswith("AssertionError: one is not two\n")
    assert cases["test_fake0.py::test_default_deny_blocks_unlisted_destinations"]["row"] == "default deny"
    assert cases["test_fake1.py::test_skips"] == {**cases["test_fake1.py::test_skips"],
                                                  "outcome": "skip", "message": "nothing to provoke",
                                                  "row": None}
    assert doc["log"] and Path(doc["log"]).is_file()
    shutil.rmtree(Path(doc["log"]).parent)


@needs_root
@needs_pytest
def test_json_supported(conformance, tmp_path):
    suite = fake_suite(tmp_path / "suite", PASSING)
    r = conformance("--suite", suite, "--json")
    assert r.rc == 0, r
    doc = r.json()
    assert (doc["supported"], doc["passed"], doc["failed"], doc["log"]) == (True, 2, 0, None), doc


@needs_root
@needs_pytest
def test_a_selection_never_decides_support(conformance, tmp_path):
    suite = fake_suite(tmp_path / "suite", PASSING, FAILING)
    r = conformance("--suite", suite, "-k", "test_sees_this_binary")
    assert r.rc == 0, r
    assert list(table_rows(r.out)) == ["test_fake0.py::test_sees_this_binary"], r
    assert r.out.splitlines()[-1] == ("backend netns: 1/1 passed \u2014 partial run (-k test_sees_this_binary): "
                                      "only a full run decides support"), r
    j = conformance("--suite", suite, "-k", "test_sees_this_binary", "--json").json()
    assert (j["supported"], j["selection"], j["passed"]) == (False, "test_sees_this_binary", 1), j
    bad = conformance("--suite", suite, "-k", "test_fails")
    assert bad.rc == 1 and "NOT supported (1 failed)" in bad.out, bad
    shutil.rmtree(kept_log(bad.err).parent)


@needs_root
@needs_pytest
def test_a_selection_matching_nothing(conformance, tmp_path):
    suite = fake_suite(tmp_path / "suite", PASSING)
    r = conformance("--suite", suite, "-k", "no_case_is_called_this")
    assert r.rc == 2, r
    assert "error[usage_invalid]: no conformance case matches -k 'no_case_is_called_this'" in r.err, r


@needs_root
@needs_pytest
def test_a_module_that_cannot_be_collected(conformance, tmp_path):
    suite = fake_suite(tmp_path / "suite", PASSING, "def broken(:\n")
    r = conformance("--suite", suite)
    assert r.rc == 1, r
    assert table_rows(r.out)["test_fake1.py"][0] == "fail", r
    assert "collection failed: SyntaxError" in r.out, r
    assert "NOT supported (pytest stopped with status 2)" in r.out.splitlines()[-1], r
    assert "--- the end of pytest's output ---" in r.err, r
    shutil.rmtree(kept_log(r.err).parent)


@needs_root
@needs_pytest
def test_suite_found_from_the_build_tree_layout(conformance, cleanroom_bin, tmp_path):
    binary = tmp_path / "build" / "src" / "cli" / "cleanroom"
    binary.parent.mkdir(parents=True)
    shutil.copy(cleanroom_bin, binary)
    fake_suite(tmp_path / "tests" / "conformance", PASSING)
    r = conformance("--json", binary=str(binary))
    assert r.rc == 0, r
    assert r.json()["passed"] == 2
    assert f"running the suite in {tmp_path / 'tests' / 'conformance'} " in r.err, r
    # the environment variable comes first
    other = fake_suite(tmp_path / "other", FAILING)
    r = conformance("--json", binary=str(binary), env={"CLEANROOM_CONFORMANCE_DIR": str(other)})
    assert r.rc == 1 and r.json()["failed"] == 2, r
    shutil.rmtree(Path(r.json()["log"]).parent)


# ---- the real suite ---------------------------------------------------------

@needs_root
@needs_pytest
def test_real_suite_fixture_self_test(conformance):
    routes = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    taken = [line for line in routes.splitlines() if line.startswith("10.254.")]
    if taken:
        pytest.skip(f"the fixture network is in use on this host (another run?): {taken[0]}")
    r = conformance("--suite", SUITE, "-k", "test_dns_answers_the_zone", "--json")
    doc = r.json()
    if doc["skipped"]:
        pytest.skip(f"the fixture cannot be built here: {doc['cases'][0]['message']}")
    assert r.rc == 0, r
    assert [(c["name"], c["outcome"]) for c in doc["cases"]] == \
        [("test_fixture.py::test_dns_answers_the_zone", "pass")], doc
    assert (doc["supported"], doc["selection"], doc["log"]) == (False, "test_dns_answers_the_zone", None), doc
    t = conformance("--suite", SUITE, "-k", "test_dns_answers_the_zone")
    assert t.rc == 0, t
    assert table_rows(t.out)["test_fixture.py::test_dns_answers_the_zone"][0] == "pass", t
    assert t.out.splitlines()[-1].startswith("backend netns: 1/1 passed \u2014 partial run"), t
