# SPDX-License-Identifier: Apache-2.0
"""A machine-readable report of a conformance run, for `cleanroom conformance`.

Loaded with `-p report_plugin` (the suite's directory on PYTHONPATH). When
$CLEANROOM_CONFORMANCE_REPORT names a file, one JSON object per line is
appended to it:

  {"name": NODEID, "outcome": "pass"|"fail"|"skip", "duration": SECONDS,
   "message": FIRST LINES OF THE FAILURE OR SKIP REASON, "row": §14 ROW or null}

once per test, after its teardown (a failure in setup or teardown makes the
test "fail"), and one "fail" object per module that could not be collected.
Without the variable the plugin does nothing, so a plain pytest run is not
affected.
"""
import json
import os

REPORT_ENV = "CLEANROOM_CONFORMANCE_REPORT"
MESSAGE_CAP = 2000

# The spec §14 rows the suite covers, as docs/conformance.md maps them
# ("The §14 matrix and the cases, mapped to tests"); a test not
# listed there has no row of its own.
ROWS = {
    "test_default_deny_blocks_unlisted_destinations": "default deny",
    "test_deny_all_policy_blocks_and_logs": "default deny",
    "test_explicit_allow_host_and_port": "explicit allow host/port",
    "test_allowed_host_on_another_port_is_denied": "explicit allow host/port",
    "test_default_ports_are_80_and_443": "explicit allow host/port",
    "test_raw_tcp_to_an_allowed_name_is_identified_by_the_resolver": "explicit allow host/port",
    "test_explicit_deny_overrides_allow": "deny overrides allow",
    "test_wildcard_matches_subdomains_not_the_apex": "wildcard semantics",
    "test_punycode_uppercase_and_trailing_dot_forms": "wildcard semantics",
    "test_ip_literal_against_ip_and_cidr_rules_only": "wildcard semantics",
    "test_ip_literal_without_a_rule_is_denied": "wildcard semantics",
    "test_capability_mismatch_refused_before_provisioning": "capability mismatch",
    "test_backend_declares_the_network_capabilities": "capability mismatch",
}


def row_of(nodeid):
    func = nodeid.split("::")[-1].split("[")[0]
    return ROWS.get(func)


def message_of(report):
    """The failure's one-line summary (the exception), else the skip reason."""
    lr = report.longrepr
    if lr is None:
        return ""
    if isinstance(lr, tuple) and len(lr) == 3:  # a skip: (file, line, reason)
        text = str(lr[2])
        return text[len("Skipped: "):] if text.startswith("Skipped: ") else text
    crash = getattr(lr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return crash.message
    return str(lr)


def collect_error(report):
    """The error of a module that could not be imported: pytest's last "E"
    line (the exception), not the first line of its traceback."""
    lines = [l for l in str(report.longrepr).splitlines() if l.strip()]
    errors = [l[1:].strip() for l in lines if l.startswith("E ")]
    return errors[-1] if errors else (lines[-1].strip() if lines else "")


class Recorder:
    def __init__(self, path):
        self.path = path
        self.open = {}  # nodeid -> the record being built

    def write(self, record):
        record["message"] = record["message"][:MESSAGE_CAP]
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")

    def pytest_runtest_logreport(self, report):
        rec = self.open.setdefault(report.nodeid, {
            "name": report.nodeid, "outcome": "pass", "duration": 0.0, "message": "",
            "row": row_of(report.nodeid)})
        rec["duration"] += report.duration
        if report.failed and rec["outcome"] != "fail":
            rec["outcome"] = "fail"
            where = "" if report.when == "call" else f"in {report.when}: "
            rec["message"] = where + message_of(report)
        elif report.skipped and rec["outcome"] == "pass":
            rec["outcome"] = "skip"
            rec["message"] = message_of(report)
        if report.when == "teardown":
            self.write(self.open.pop(report.nodeid))

    def pytest_collectreport(self, report):
        if report.failed:
            self.write({"name": report.nodeid or "(collection)", "outcome": "fail", "duration": 0.0,
                        "message": "collection failed: " + collect_error(report), "row": None})


def pytest_configure(config):
    path = os.environ.get(REPORT_ENV)
    if path:
        config.pluginmanager.register(Recorder(path), "cleanroom-conformance-recorder")
