/* SPDX-License-Identifier: Apache-2.0 */
/* conformance.c -- `cleanroom conformance`: runs the egress conformance
 * suite (spec §14, tests/conformance) against this binary and reports
 * whether the backend is supported. The suite is pytest and must start its
 * own server (its gateways resolve through the fixture's DNS), so this
 * command does not talk to a running server: it runs Debian's python3 -m
 * pytest with the suite's report_plugin, which writes one JSON object per
 * case, and turns those into a table (or --json) and a verdict. A backend is
 * "supported" only when a full run passes every case (skips allowed, at
 * least one pass); a run narrowed with -k never decides support. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/admin_cmds.h"
#include "cli/cli.h"
#include "cli/output.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/proc.h"
#include "util/xalloc.h"

#define CMD   "cleanroom conformance"
#define USAGE CMD " [--backend NAME] [--suite DIR] [--json] [-k EXPR]"

#define PYTHON          "/usr/bin/python3"
#define INSTALLED_SUITE "/usr/share/cleanroom/conformance"
#define REPORT_CAP      (16u << 20) /* the plugin caps each message at 2000 chars */
#define LOG_TAIL_LINES  15

enum { OPT_BACKEND = 256, OPT_SUITE };

/* pytest's exit statuses (pytest.ExitCode) */
enum { PYTEST_OK = 0, PYTEST_FAILED = 1, PYTEST_NO_TESTS = 5 };

typedef struct conf_opts {
	const char *backend;
	const char *suite;
	const char *select; /* -k EXPR */
	cr_cli_opts common;
} conf_opts;

typedef struct conf_case {
	char *name, *outcome, *message, *row;
	double duration;
} conf_case;

typedef struct conf_run {
	conf_case *cases;
	size_t n_cases, cap;
	size_t passed, failed, skipped;
	int status; /* pytest's exit status */
	char *dir;  /* private temporary directory */
	char *log;  /* pytest's output, kept unless everything passed */
	bool interrupted;
} conf_run;

static volatile sig_atomic_t got_interrupt;

static int on_opt(void *ctx, int val, const char *arg)
{
	conf_opts *o = ctx;
	if (val == OPT_BACKEND)
		o->backend = arg;
	else if (val == OPT_SUITE)
		o->suite = arg;
	else
		o->select = arg;
	return 0;
}

static bool valid_backend(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 32 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Returns -1 to go on, or the exit code after --help or a usage error. */
static int parse(int argc, char **argv, conf_opts *o)
{
	static const cr_cli_opt extra[] = {{"backend", true, OPT_BACKEND},
					   {"suite", true, OPT_SUITE},
					   {"k", true, 'k'},
					   {NULL, false, 0}};
	o->backend = "netns";
	int first = cr_cli_parse_opts(argc, argv, CMD, USAGE, &o->common, extra, on_opt, o);
	if (first < 0)
		return cr_cli_parse_exit(first);
	if (first < argc)
		return cr_cli_usage_error(CMD, "unexpected argument '%s'", argv[first]);
	if (o->common.host)
		return cr_cli_usage_error(CMD, "--host is not used: the suite starts its own server, whose "
					       "gateways must resolve through the fixture's DNS");
	if (!valid_backend(o->backend))
		return cr_cli_usage_error(CMD, "bad backend name '%s' (lower-case letters, digits, '-', '_')",
					  o->backend);
	if (o->select && !*o->select)
		return cr_cli_usage_error(CMD, "-k needs a non-empty expression");
	return -1;
}

/* ---- preconditions ---- */

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool has_file(const char *dir, const char *name)
{
	cleanup_free char *p = cr_asprintf("%s/%s", dir, name);
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int precondition_error(const char *message, const char *hint)
{
	cr_cli_print_error(CMD, cr_reason_name(CR_REASON_USAGE_INVALID), message, hint);
	return -1;
}

/* Where to look: --suite, $CLEANROOM_CONFORMANCE_DIR, the source tree of
 * a build directory (build/src/cli/cleanroom), the installed copy. *from
 * names an explicit choice, NULL for the defaults. Owned string. */
static char *suite_candidate(const conf_opts *o, const char *exe, const char **from)
{
	const char *env = getenv("CLEANROOM_CONFORMANCE_DIR");
	if (o->suite)
		return *from = "--suite", cr_xstrdup(o->suite);
	if (env && *env)
		return *from = "CLEANROOM_CONFORMANCE_DIR", cr_xstrdup(env);
	*from = NULL;
	cleanup_free char *exe_copy = cr_xstrdup(exe);
	char *build_tree = cr_asprintf("%s/../../../tests/conformance", dirname(exe_copy));
	if (is_dir(build_tree))
		return build_tree;
	free(build_tree);
	return cr_xstrdup(INSTALLED_SUITE);
}

/* The suite's directory (owned, absolute), or NULL after printing why. */
static char *find_suite(const conf_opts *o, const char *exe)
{
	const char *from = NULL;
	cleanup_free char *dir = suite_candidate(o, exe, &from);
	cleanup_free char *msg = NULL;
	if (!is_dir(dir)) {
		msg = from ? cr_asprintf("no conformance suite at '%s' (from %s): not a directory", dir, from)
			   : cr_asprintf("no conformance suite found: no tests/conformance beside this "
					 "build's source tree and no '%s'",
					 INSTALLED_SUITE);
		precondition_error(msg, "pass --suite DIR (tests/conformance of a cleanroom source tree) "
					"or set CLEANROOM_CONFORMANCE_DIR");
		return NULL;
	}
	if (!has_file(dir, "conftest.py") || !has_file(dir, "report_plugin.py")) {
		msg = cr_asprintf("'%s' is not the conformance suite: conftest.py or report_plugin.py "
				  "is missing",
				  dir);
		precondition_error(msg, "pass --suite DIR, DIR being tests/conformance of the cleanroom "
					"source tree this binary was built from");
		return NULL;
	}
	return realpath(dir, NULL);
}

static int check_pytest(void)
{
	if (access(PYTHON, X_OK) != 0)
		return precondition_error("the conformance suite runs with " PYTHON ", which is missing",
					  "install Debian's python3, python3-pytest and python3-dnslib");
	char *const argv[] = {PYTHON, "-c", "import pytest", NULL};
	cleanup_free char *out = NULL;
	cleanup_error cr_error *err = NULL;
	if (cr_proc_capture(argv, 4096, &out, &err) != 0)
		return precondition_error(PYTHON " has no pytest module",
					  "install it: apt-get install python3-pytest python3-dnslib");
	return 0;
}

static int check_root(void)
{
	if (geteuid() == 0)
		return 0;
	return precondition_error("the conformance suite needs root: it builds network namespaces, "
				  "veth pairs and routes for its fixture internet and starts a server "
				  "with egress enforcement",
				  "run it as root: sudo cleanroom conformance ...");
}

/* ---- running pytest ---- */

static void on_interrupt(int sig)
{
	got_interrupt = sig;
}

static void run_child(const conf_opts *o, const char *suite, const char *exe, const char *report, int log_fd)
{
	const char *old = getenv("PYTHONPATH");
	cleanup_free char *pypath = old && *old ? cr_asprintf("%s:%s", suite, old) : cr_xstrdup(suite);
	if (setenv("CLEANROOM_BIN", exe, 1) < 0 || setenv("CLEANROOM_CONFORMANCE_REPORT", report, 1) < 0 ||
	    setenv("PYTHONPATH", pypath, 1) < 0)
		_exit(127);
	int null_fd = open("/dev/null", O_RDONLY);
	if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 || dup2(log_fd, 2) < 0)
		_exit(127);
	const char *argv[16] = {
		PYTHON,          "-m",        "pytest", "-q",  "-p",        "no:cacheprovider", "-p",
		"report_plugin", "--rootdir", suite,    suite, "--backend", o->backend};
	size_t n = 13;
	if (o->select)
		argv[n++] = "-k", argv[n++] = o->select;
	argv[n] = NULL;
	execv(PYTHON, (char *const *)argv);
	_exit(127);
}

/* Runs the suite; fills run->status. The parent survives Ctrl-C (pytest,
 * in the same process group, gets it too and tears its fixture down) and
 * notes it. */
static int run_pytest(const conf_opts *o, const char *suite, const char *exe, const char *report,
		      conf_run *run)
{
	cleanup_close int log_fd = open(run->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		cleanup_free char *msg = cr_asprintf("open '%s': %s", run->log, strerror(errno));
		cr_cli_print_error(CMD, "internal", msg, NULL);
		return -1;
	}
	struct sigaction sa = {.sa_handler = on_interrupt}, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, NULL, &old_int);
	sigaction(SIGTERM, NULL, &old_term);
	if (old_int.sa_handler != SIG_IGN) /* a background job stays deaf to Ctrl-C */
		sigaction(SIGINT, &sa, NULL);
	if (old_term.sa_handler != SIG_IGN)
		sigaction(SIGTERM, &sa, NULL);
	pid_t pid = fork();
	if (pid == 0) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
		run_child(o, suite, exe, report, log_fd);
	}
	int wstatus = 0;
	pid_t w = -1;
	bool forwarded = false;
	while (pid > 0 && (w = waitpid(pid, &wstatus, 0)) < 0 && errno == EINTR)
		if (got_interrupt == SIGTERM && !forwarded) /* Ctrl-C reaches pytest itself */
			forwarded = true, kill(pid, SIGINT);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	run->interrupted = got_interrupt != 0;
	if (pid < 0 || w < 0) {
		cleanup_free char *msg = cr_asprintf("run %s -m pytest: %s", PYTHON, strerror(errno));
		cr_cli_print_error(CMD, "internal", msg, NULL);
		return -1;
	}
	run->status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
	return 0;
}

/* ---- the report ---- */

static char *string_field(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? cr_xstrdup(s) : NULL;
}

static int add_case(conf_run *run, json_t *obj)
{
	conf_case c = {.name = string_field(obj, "name"),
		       .outcome = string_field(obj, "outcome"),
		       .message = string_field(obj, "message"),
		       .row = string_field(obj, "row"),
		       .duration = json_number_value(json_object_get(obj, "duration"))};
	if (!c.name || !c.outcome || !c.message) {
		free(c.name), free(c.outcome), free(c.message), free(c.row);
		return -1;
	}
	if (strcmp(c.outcome, "pass") == 0)
		run->passed++;
	else if (strcmp(c.outcome, "skip") == 0)
		run->skipped++;
	else
		run->failed++;
	run->cases = cr_xgrow(run->cases, &run->cap, run->n_cases + 1, sizeof(*run->cases));
	run->cases[run->n_cases++] = c;
	return 0;
}

/* Reads the plugin's JSON lines. A missing file is an empty report (pytest
 * stopped before any case). */
static int load_report(const char *path, conf_run *run)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	cleanup_error cr_error *err = NULL;
	if (access(path, F_OK) != 0)
		return 0;
	if (cr_read_file(path, REPORT_CAP, &text, &len, &err) < 0) {
		cr_cli_print_error(CMD, "internal", err->msg, NULL);
		return -1;
	}
	size_t lineno = 0;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		json_t *obj = json_loads(line, 0, NULL);
		int rc = json_is_object(obj) ? add_case(run, obj) : -1;
		json_decref(obj);
		if (rc < 0) {
			cleanup_free char *msg = cr_asprintf(
				"line %zu of the suite's report '%s' is not a case record", lineno, path);
			cr_cli_print_error(CMD, "internal", msg,
					   "is report_plugin.py from the same source tree?");
			return -1;
		}
	}
	return 0;
}

static void run_clear(conf_run *run)
{
	for (size_t i = 0; i < run->n_cases; i++) {
		conf_case *c = &run->cases[i];
		free(c->name), free(c->outcome), free(c->message), free(c->row);
	}
	free(run->cases);
	free(run->dir);
	free(run->log);
}

/* ---- the verdict ---- */

static bool supported(const conf_opts *o, const conf_run *run)
{
	return !o->select && !run->interrupted && run->status == PYTEST_OK && run->failed == 0 &&
	       run->passed > 0;
}

/* Whether the command succeeds: supported, or a -k run whose cases passed. */
static bool run_ok(const conf_opts *o, const conf_run *run)
{
	return supported(o, run) ||
	       (o->select && !run->interrupted && run->status == PYTEST_OK && run->failed == 0);
}

static char *summary(const conf_opts *o, const conf_run *run)
{
	size_t total = run->passed + run->failed + run->skipped;
	cleanup_free char *skips = run->skipped ? cr_asprintf(", %zu skipped", run->skipped) : cr_xstrdup("");
	cleanup_free char *verdict = NULL;
	if (run->interrupted)
		verdict = cr_xstrdup("NOT supported (interrupted)");
	else if (run->status != PYTEST_OK && run->status != PYTEST_FAILED)
		verdict = cr_asprintf("NOT supported (pytest stopped with status %d)", run->status);
	else if (run->failed)
		verdict = cr_asprintf("NOT supported (%zu failed)", run->failed);
	else if (o->select)
		verdict = cr_asprintf("partial run (-k %s): only a full run decides support", o->select);
	else if (!supported(o, run))
		verdict = cr_xstrdup("NOT supported (no case passed)");
	else
		verdict = cr_xstrdup("supported");
	return cr_asprintf("backend %s: %zu/%zu passed%s \xe2\x80\x94 %s", o->backend, run->passed, total,
			   skips, verdict);
}

static char *first_line(const char *s)
{
	const char *nl = strchr(s, '\n');
	return nl ? cr_xstrndup(s, (size_t)(nl - s)) : cr_xstrdup(s);
}

static void print_table(const conf_run *run)
{
	static const char *const header[] = {"CASE", "RESULT", "SECONDS", "ROW", "MESSAGE"};
	cr_table t;
	cr_table_init(&t, 5, header);
	for (size_t i = 0; i < run->n_cases; i++) {
		const conf_case *c = &run->cases[i];
		char secs[32];
		snprintf(secs, sizeof(secs), "%.2f", c->duration);
		cleanup_free char *msg = first_line(c->message);
		const char *row[] = {c->name, c->outcome, secs, c->row, *msg ? msg : NULL};
		cr_table_add(&t, row);
	}
	cr_table_print(&t, stdout);
	cr_table_clear(&t);
}

static json_t *case_json(const conf_case *c)
{
	return json_pack("{s:s, s:s, s:f, s:s, s:o}", "name", c->name, "outcome", c->outcome, "duration",
			 c->duration, "message", c->message, "row",
			 c->row ? json_string(c->row) : json_null());
}

static void print_json(const conf_opts *o, const conf_run *run, bool log_kept)
{
	json_t *cases = json_array();
	for (size_t i = 0; i < run->n_cases; i++)
		json_array_append_new(cases, case_json(&run->cases[i]));
	json_t *obj =
		json_pack("{s:s, s:b, s:I, s:I, s:I, s:o, s:i, s:o, s:o}", "backend", o->backend, "supported",
			  supported(o, run), "passed", (json_int_t)run->passed, "failed",
			  (json_int_t)run->failed, "skipped", (json_int_t)run->skipped, "selection",
			  o->select ? json_string(o->select) : json_null(), "pytest_status", run->status,
			  "log", log_kept ? json_string(run->log) : json_null(), "cases", cases);
	char *text = json_dumps(obj, JSON_COMPACT);
	if (text)
		puts(text);
	free(text);
	json_decref(obj);
}

/* The last lines of pytest's output, when it stopped without a verdict. */
static void print_log_tail(const char *log)
{
	cleanup_free char *text = NULL;
	size_t len = 0;
	cleanup_error cr_error *err = NULL;
	if (cr_read_file(log, 8u << 20, &text, &len, &err) < 0 || len == 0)
		return;
	const char *start = text + len;
	for (int lines = 0; start > text && lines <= LOG_TAIL_LINES; start--)
		if (start[-1] == '\n' && ++lines > LOG_TAIL_LINES)
			break;
	fprintf(stderr, "--- the end of pytest's output ---\n%s", start);
}

/* ---- the command ---- */

static void remove_workdir(const conf_run *run, const char *report)
{
	unlink(report);
	unlink(run->log);
	rmdir(run->dir);
}

static int finish(const conf_opts *o, conf_run *run, const char *report)
{
	if (run->status == PYTEST_NO_TESTS && run->n_cases == 0) {
		remove_workdir(run, report);
		if (o->select)
			return cr_cli_usage_error(CMD, "no conformance case matches -k '%s'", o->select);
		cr_cli_print_error(CMD, "internal", "the suite has no cases", NULL);
		return CR_EXIT_FAIL;
	}
	bool ok = run_ok(o, run);
	if (o->common.json)
		print_json(o, run, !ok);
	else {
		print_table(run);
		cleanup_free char *line = summary(o, run);
		printf("%s\n", line);
	}
	if (run->status != PYTEST_OK && run->status != PYTEST_FAILED && !run->interrupted)
		print_log_tail(run->log);
	if (ok)
		remove_workdir(run, report);
	else
		fprintf(stderr, "%s: pytest's full output: %s\n", CMD, run->log);
	if (run->interrupted)
		return 130;
	return ok ? CR_EXIT_OK : CR_EXIT_FAIL;
}

int cmd_conformance(int argc, char **argv)
{
	conf_opts o = {0};
	int parsed = parse(argc, argv, &o);
	if (parsed >= 0)
		return parsed;
	cleanup_free char *exe = realpath("/proc/self/exe", NULL);
	if (!exe) {
		cleanup_free char *msg =
			cr_asprintf("find this binary (/proc/self/exe): %s", strerror(errno));
		cr_cli_print_error(CMD, "internal", msg, NULL);
		return CR_EXIT_FAIL;
	}
	cleanup_free char *suite = find_suite(&o, exe);
	if (!suite || check_pytest() < 0 || check_root() < 0)
		return CR_EXIT_USAGE;
	conf_run run = {0};
	char tmpl[] = "/tmp/cleanroom-conformance-XXXXXX";
	if (!mkdtemp(tmpl)) {
		cleanup_free char *msg = cr_asprintf("create a directory %s: %s", tmpl, strerror(errno));
		cr_cli_print_error(CMD, "internal", msg, NULL);
		return CR_EXIT_FAIL;
	}
	run.dir = cr_xstrdup(tmpl);
	run.log = cr_asprintf("%s/pytest.log", run.dir);
	cleanup_free char *report = cr_asprintf("%s/report.jsonl", run.dir);
	fprintf(stderr, "%s: running the suite in %s for backend %s%s%s (pytest's output: %s)\n", CMD, suite,
		o.backend, o.select ? ", cases matching -k " : "", o.select ? o.select : "", run.log);
	int rc = CR_EXIT_FAIL;
	if (run_pytest(&o, suite, exe, report, &run) == 0 && load_report(report, &run) == 0)
		rc = finish(&o, &run, report);
	else
		fprintf(stderr, "%s: pytest's full output: %s\n", CMD, run.log);
	run_clear(&run);
	return rc;
}
