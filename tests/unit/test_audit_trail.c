/* SPDX-License-Identifier: Apache-2.0 */
/* test_audit_trail.c -- the audit trail: the byte-exact line format and its
 * hash chain, reopening (seq and chain continue), repair of a torn last line,
 * rollback of a short write, the single-writer lock, permissions, escaping of
 * hostile detail values, the strict line parser, query filters and paging,
 * and verification catching edited, deleted, reordered and re-hashed lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "audit/trail.h"
#include "audit/trail_internal.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/sha256.h"

static char dir[] = "/tmp/cr-audit-XXXXXX";
static char path[96];

static int setup(void **state)
{
	(void)state;
	memcpy(dir, "/tmp/cr-audit-XXXXXX", sizeof(dir));
	if (!mkdtemp(dir))
		return -1;
	/* a directory the trail must create itself */
	snprintf(path, sizeof(path), "%s/audit/audit.jsonl", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static cr_audit *open_trail(void)
{
	cr_audit *a = NULL;
	cr_error *err = NULL;
	if (cr_audit_open(path, &a, &err) < 0)
		fail_msg("open: %s", err->msg);
	return a;
}

static void append(cr_audit *a, const cr_audit_event *ev)
{
	cr_error *err = NULL;
	if (cr_audit_append(a, ev, &err) < 0)
		fail_msg("append: %s", err->msg);
}

/* Appends n events: run_id "run-<i % 3>", kind by parity, ts 1000 * i. */
static void append_many(cr_audit *a, int first, int n)
{
	for (int i = first; i < first + n; i++) {
		char run[16];
		snprintf(run, sizeof(run), "run-%d", i % 3);
		cr_audit_event ev = {.kind = i % 2 ? "execution.finished" : "execution.started",
				     .run_id = run,
				     .actor = "uid:1000",
				     .backend = "netns",
				     .policy_hash = "ph",
				     .reason = i % 5 == 0 ? CR_REASON_RUNTIME_LAUNCH_FAILED : CR_REASON_NONE,
				     .ts_ms = 1000LL * i};
		append(a, &ev);
	}
}

static char *slurp(size_t *len)
{
	char *buf = NULL;
	cr_error *err = NULL;
	if (cr_read_file(path, 64u << 20, &buf, len, &err) < 0)
		fail_msg("read: %s", err->msg);
	return buf;
}

static void spit(const char *data, size_t len)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* The file's lines (newline kept), at most 16. */
typedef struct lines {
	char *l[16];
	size_t n;
} lines;

static lines split(void)
{
	size_t len = 0;
	cleanup_free char *buf = slurp(&len);
	lines ls = {0};
	for (char *p = buf, *nl; p < buf + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(buf + len - p));
		assert_non_null(nl);
		assert_true(ls.n < 16);
		ls.l[ls.n++] = strndup(p, (size_t)(nl - p + 1));
	}
	return ls;
}

/* Writes the lines back in the order given by idx (-1 terminated). */
static void join(lines *ls, const int *idx)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (; *idx >= 0; idx++)
		fputs(ls->l[*idx], f);
	assert_int_equal(fclose(f), 0);
	for (size_t i = 0; i < ls->n; i++)
		free(ls->l[i]);
}

static void write_sample(int n)
{
	cr_audit *a = open_trail();
	append_many(a, 1, n);
	cr_audit_close(a);
}

/* verify fails with EBADMSG having verified exactly `ok` events first */
static void assert_broken_at(uint64_t ok, const char *what)
{
	uint64_t n_ok = 99;
	cr_error *err = NULL;
	assert_int_equal(cr_audit_verify(path, &n_ok, &err), -1);
	assert_int_equal(err->status, EBADMSG);
	assert_int_equal(n_ok, ok);
	if (!strstr(err->msg, what))
		fail_msg("verify said '%s', expected it to mention '%s'", err->msg, what);
	/* "... event N (line L): ..." or "... event N: ..." */
	char at[48];
	snprintf(at, sizeof(at), "event %llu", (unsigned long long)ok + 1);
	const char *p = strstr(err->msg, at);
	if (!p || (p[strlen(at)] != ' ' && p[strlen(at)] != ':'))
		fail_msg("verify said '%s', expected it to name '%s'", err->msg, at);
	cr_error_free(err);
}

static void assert_verifies(uint64_t n)
{
	uint64_t n_ok = 0;
	cr_error *err = NULL;
	if (cr_audit_verify(path, &n_ok, &err) < 0)
		fail_msg("verify: %s", err->msg);
	assert_int_equal(n_ok, n);
}

static void test_line_format_exact(void **state)
{
	(void)state;
	cr_audit *a = open_trail();
	const char *detail[] = {"port", "443", "host", "a.example", NULL};
	cr_audit_event ev = {.kind = "sandbox.created",
			     .run_id = "run-1",
			     .sandbox_id = "sb-1",
			     .actor = "uid:1000",
			     .backend = "netns",
			     .policy_hash = "ph1",
			     .detail = detail,
			     .ts_ms = 1714566896789LL};
	append(a, &ev);
	ev = (cr_audit_event){.kind = "sandbox.failed",
			      .run_id = "run-1",
			      .sandbox_id = "sb-1",
			      .actor = "uid:1000",
			      .backend = "netns",
			      .policy_hash = "ph1",
			      .reason = CR_REASON_RUNTIME_LAUNCH_FAILED,
			      .ts_ms = 1714566897000LL};
	append(a, &ev);
	assert_int_equal(cr_audit_seq(a), 2);
	assert_string_equal(cr_audit_last_hash(a),
			    "cf19a4e6c2c5b82448eff289918e0fc1a2a983ada334ce94230d306922001580");
	cr_audit_close(a);
	/* hashes computed independently (Python hashlib over the line without "hash") */
	const char *want =
		"{\"actor\":\"uid:1000\",\"backend\":\"netns\",\"detail\":{\"host\":\"a.example\",\"port\":"
		"\"443\"},"
		"\"execution_id\":\"\",\"hash\":"
		"\"3c290854f490f590774317a081b1647e2c99ad19fcaa92ac77ac6526630404c9\","
		"\"kind\":\"sandbox.created\",\"policy_hash\":\"ph1\",\"prev_hash\":\"\",\"reason_code\":"
		"\"\","
		"\"run_id\":\"run-1\",\"sandbox_id\":\"sb-1\",\"seq\":1,\"ts\":\"2024-05-01T12:34:56.789Z\"}"
		"\n"
		"{\"actor\":\"uid:1000\",\"backend\":\"netns\",\"detail\":{},\"execution_id\":\"\","
		"\"hash\":\"cf19a4e6c2c5b82448eff289918e0fc1a2a983ada334ce94230d306922001580\","
		"\"kind\":\"sandbox.failed\",\"policy_hash\":\"ph1\","
		"\"prev_hash\":\"3c290854f490f590774317a081b1647e2c99ad19fcaa92ac77ac6526630404c9\","
		"\"reason_code\":\"runtime_launch_failed\",\"run_id\":\"run-1\",\"sandbox_id\":\"sb-1\","
		"\"seq\":2,"
		"\"ts\":\"2024-05-01T12:34:57.000Z\"}\n";
	size_t len = 0;
	cleanup_free char *got = slurp(&len);
	assert_string_equal(got, want);
	assert_verifies(2);
}

static void test_reopen_continues_chain(void **state)
{
	(void)state;
	cr_audit *a = open_trail();
	assert_int_equal(cr_audit_seq(a), 0);
	assert_string_equal(cr_audit_last_hash(a), "");
	append_many(a, 1, 3);
	char last[CR_SHA256_HEX_LEN + 1];
	memcpy(last, cr_audit_last_hash(a), sizeof(last));
	cr_audit_close(a);

	a = open_trail();
	assert_int_equal(cr_audit_seq(a), 3);
	assert_string_equal(cr_audit_last_hash(a), last);
	assert_int_equal(cr_audit_repaired(a), 0);
	cr_audit_event ev = {.kind = "sandbox.terminated", .run_id = "run-9"}; /* ts_ms 0 = now */
	append(a, &ev);
	cr_audit_close(a);

	cr_audit_record *r = NULL;
	size_t n = 0;
	bool truncated = true;
	cr_audit_filter f = {0};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 4);
	assert_false(truncated);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(r[i].seq, i + 1);
	assert_string_equal(r[0].prev_hash, "");
	assert_string_equal(r[3].prev_hash, last);
	assert_string_equal(r[3].kind, "sandbox.terminated");
	assert_string_equal(r[3].actor, "");       /* NULL = "" */
	assert_true(r[3].ts_ms > 1700000000000LL); /* stamped with the current time */
	cr_audit_records_free(r, n);
	assert_verifies(4);
}

static void test_torn_last_line_repaired(void **state)
{
	(void)state;
	write_sample(2);
	size_t len = 0;
	cleanup_free char *buf = slurp(&len);
	/* a crash mid-write: 40 bytes of a third line, no newline */
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fwrite(buf, 1, 40, f);
	fclose(f);

	/* a reader ignores the unterminated tail */
	assert_verifies(2);

	cr_audit *a = open_trail();
	assert_int_equal(cr_audit_repaired(a), 40);
	/* the trail records its own repair */
	assert_int_equal(cr_audit_seq(a), 3);
	append_many(a, 3, 1);
	cr_audit_close(a);
	assert_verifies(4);
	cr_audit_record *r = NULL;
	size_t n = 0;
	bool truncated;
	cr_audit_filter kind = {.kind = "audit.repaired"};
	assert_int_equal(cr_audit_query(path, &kind, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].seq, 3);
	assert_int_equal(r[0].n_detail, 1);
	assert_string_equal(r[0].detail[0], "bytes_removed");
	assert_string_equal(r[0].detail[1], "40");
	cr_audit_records_free(r, n);
}

static void test_torn_only_line_repaired(void **state)
{
	(void)state;
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/audit", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	spit("{\"actor\":\"uid:1", 15);
	cr_audit *a = open_trail();
	assert_int_equal(cr_audit_repaired(a), 15);
	assert_int_equal(cr_audit_seq(a), 1); /* audit.repaired starts the chain */
	cr_audit_close(a);
	assert_verifies(1);
}

static void test_damaged_last_line_refused(void **state)
{
	(void)state;
	write_sample(3);
	lines ls = split();
	char *p = strstr(ls.l[2], "uid:1000");
	assert_non_null(p);
	p[4] = '0'; /* uid:0000 */
	join(&ls, (int[]){0, 1, 2, -1});
	cr_audit *a = NULL;
	cr_error *err = NULL;
	assert_int_equal(cr_audit_open(path, &a, &err), -1);
	assert_null(a);
	assert_int_equal(err->status, EBADMSG);
	assert_non_null(strstr(err->msg, "damaged"));
	cr_error_free(err);
}

static void test_second_writer_refused(void **state)
{
	(void)state;
	cr_audit *a = open_trail(), *b = NULL;
	cr_error *err = NULL;
	assert_int_equal(cr_audit_open(path, &b, &err), -1);
	assert_int_equal(err->status, EWOULDBLOCK);
	cr_error_free(err);
	cr_audit_close(a);
	b = open_trail(); /* free again once the first closed */
	cr_audit_close(b);
}

static void test_short_write_rolled_back(void **state)
{
	(void)state;
	write_sample(2);
	size_t before = 0;
	cleanup_free char *buf = slurp(&before);
	cr_audit *a = open_trail();
	/* the file may grow by 10 bytes only: the next write is cut short */
	struct rlimit old;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	struct rlimit lim = {.rlim_cur = before + 10, .rlim_max = old.rlim_max};
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	cr_audit_event ev = {.kind = "execution.started", .run_id = "run-x"};
	cr_error *err = NULL;
	int rc = cr_audit_append(a, &ev, &err);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(rc, -1);
	assert_non_null(strstr(err->msg, "short write"));
	cr_error_free(err);
	assert_int_equal(cr_audit_seq(a), 2);
	size_t after = 0;
	cleanup_free char *buf2 = slurp(&after);
	assert_int_equal(after, before); /* the partial line was removed */
	append(a, &ev);                  /* and the seq was not used */
	assert_int_equal(cr_audit_seq(a), 3);
	cr_audit_close(a);
	assert_verifies(3);
}

static void test_permissions(void **state)
{
	(void)state;
	write_sample(1);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/audit", dir);
	assert_int_equal(stat(sub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	/* a trail left world-readable is tightened when opened */
	assert_int_equal(chmod(path, 0644), 0);
	cr_audit *a = open_trail();
	cr_audit_close(a);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	/* a symlink in place of the trail is refused */
	char target[128];
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	assert_int_equal(rename(path, target), 0);
	assert_int_equal(symlink(target, path), 0);
	cr_error *err = NULL;
	assert_int_equal(cr_audit_open(path, &a, &err), -1);
	assert_int_equal(err->status, ELOOP);
	cr_error_free(err);
}

static void test_detail_escaping(void **state)
{
	(void)state;
	char long_value[3000];
	for (size_t i = 0; i < sizeof(long_value) - 2; i += 2)
		memcpy(long_value + i, "\xc3\xa9", 2); /* é */
	long_value[sizeof(long_value) - 2] = '\0';
	const char *detail[] = {"quote",   "say \"hi\" \\ there",
				"newline", "line1\nline2\r\n{\"kind\":\"forged\"}",
				"control", "\x01\x1f\x7f",
				"bytes",   "ok\xff\xfe-\xc0\xaf-\xe2\x82-\xed\xa0\x80-end",
				"long",    long_value,
				NULL};
	cr_audit *a = open_trail();
	cr_audit_event ev = {.kind = "network.denied", .run_id = "r\xff", .detail = detail};
	append(a, &ev);
	cr_audit_close(a);

	size_t len = 0;
	cleanup_free char *file = slurp(&len);
	assert_non_null(memchr(file, '\n', len));
	assert_ptr_equal(memchr(file, '\n', len), file + len - 1); /* one line, one newline */
	assert_null(strstr(file, "\"kind\":\"forged\""));
	assert_non_null(strstr(file, "\"control\":\"\\u0001\\u001f\x7f\""));
	assert_non_null(strstr(file, "line1\\nline2\\r\\n{\\\"kind\\\":\\\"forged\\\"}"));
	assert_verifies(1);

	cr_audit_record *r = NULL;
	size_t n = 0;
	bool truncated;
	cr_audit_filter f = {.run_id = "r\xef\xbf\xbd"};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 1);
	/* sorted: bytes, control, long, newline, quote */
	assert_string_equal(r[0].detail[0], "bytes");
	assert_string_equal(r[0].detail[1], "ok\xef\xbf\xbd\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd-\xef\xbf\xbd"
					    "\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd-end");
	assert_string_equal(r[0].detail[3], "\x01\x1f\x7f");
	const char *lv = r[0].detail[5];
	assert_true(strlen(lv) <= CR_AUDIT_FIELD_MAX);
	assert_true(strlen(lv) > CR_AUDIT_FIELD_MAX - 8);
	assert_memory_equal(lv + strlen(lv) - 3, "\xe2\x80\xa6", 3); /* ends in an ellipsis */
	assert_memory_equal(lv + strlen(lv) - 5, "\xc3\xa9", 2);     /* after a whole é */
	assert_string_equal(r[0].detail[7], "line1\nline2\r\n{\"kind\":\"forged\"}");
	assert_string_equal(r[0].detail[9], "say \"hi\" \\ there");
	cr_audit_records_free(r, n);
}

static void expect_invalid(cr_audit *a, const cr_audit_event *ev, const char *what)
{
	cr_error *err = NULL;
	uint64_t seq = cr_audit_seq(a);
	assert_int_equal(cr_audit_append(a, ev, &err), -1);
	assert_int_equal(err->status, EINVAL);
	if (!strstr(err->msg, what))
		fail_msg("'%s' does not mention '%s'", err->msg, what);
	cr_error_free(err);
	assert_int_equal(cr_audit_seq(a), seq);
}

static void test_invalid_events(void **state)
{
	(void)state;
	cr_audit *a = open_trail();
	expect_invalid(a, &(cr_audit_event){.kind = NULL}, "kind");
	expect_invalid(a, &(cr_audit_event){.kind = "Sandbox.Created"}, "kind");
	expect_invalid(a, &(cr_audit_event){.kind = "sandbox created"}, "kind");
	const char *bad_key[] = {"Host", "x", NULL};
	expect_invalid(a, &(cr_audit_event){.kind = "k", .detail = bad_key}, "detail key");
	const char *dup[] = {"host", "a", "host", "b", NULL};
	expect_invalid(a, &(cr_audit_event){.kind = "k", .detail = dup}, "repeats");
	const char *many[2 * 33 + 1] = {0};
	char keys[33][8];
	for (int i = 0; i < 33; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%d", i);
		many[2 * i] = keys[i];
		many[2 * i + 1] = "v";
	}
	expect_invalid(a, &(cr_audit_event){.kind = "k", .detail = many}, "more than 32");
	expect_invalid(a, &(cr_audit_event){.kind = "k", .ts_ms = -5}, "outside");
	expect_invalid(a, &(cr_audit_event){.kind = "k", .ts_ms = 253402300800000LL}, "outside");
	many[2 * 32] = NULL; /* 32 entries are fine */
	append(a, &(cr_audit_event){.kind = "k", .detail = many});
	assert_int_equal(cr_audit_seq(a), 1);
	/* a NULL value is "" and ends the list; what follows is never read */
	const char *null_value[] = {"message", NULL, "Bad Key", "never read", NULL};
	append(a, &(cr_audit_event){.kind = "k", .detail = null_value});
	cr_audit_close(a);
	assert_verifies(2);
	cr_audit_record *r = NULL;
	size_t n = 0;
	bool truncated;
	cr_audit_filter f = {.after_seq = 1};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].n_detail, 1);
	assert_string_equal(r[0].detail[0], "message");
	assert_string_equal(r[0].detail[1], "");
	cr_audit_records_free(r, n);
}

static void test_query_filters(void **state)
{
	(void)state;
	write_sample(12); /* seq i has ts 1000*i, run-(i%3), reason when i%5==0 */
	cr_audit_record *r = NULL;
	size_t n = 0;
	bool truncated = false;

	cr_audit_filter f = {.run_id = "run-1"};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 4); /* 1, 4, 7, 10 */
	assert_int_equal(r[3].seq, 10);
	cr_audit_records_free(r, n);

	f = (cr_audit_filter){.reason_code = "runtime_launch_failed"};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 2); /* 5, 10 */
	assert_int_equal(r[0].seq, 5);
	assert_string_equal(r[0].reason_code, "runtime_launch_failed");
	cr_audit_records_free(r, n);

	f = (cr_audit_filter){.kind = "execution.started", .run_id = "run-0"};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 2); /* 6, 12 */
	cr_audit_records_free(r, n);

	/* since inclusive, until exclusive */
	f = (cr_audit_filter){.has_since = true, .since_ms = 3000, .has_until = true, .until_ms = 6000};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 3);
	assert_int_equal(r[0].seq, 3);
	assert_int_equal(r[2].seq, 5);
	cr_audit_records_free(r, n);

	/* paging: limit and after_seq */
	f = (cr_audit_filter){.limit = 5};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 5);
	assert_true(truncated);
	f.after_seq = r[4].seq;
	cr_audit_records_free(r, n);
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 5);
	assert_int_equal(r[0].seq, 6);
	assert_true(truncated);
	f.after_seq = r[4].seq;
	cr_audit_records_free(r, n);
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 2);
	assert_false(truncated);
	cr_audit_records_free(r, n);
	/* exactly `limit` matches: not truncated */
	f = (cr_audit_filter){.limit = 4, .run_id = "run-1"};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 4);
	assert_false(truncated);
	cr_audit_records_free(r, n);

	/* no match, and a filter value that is not UTF-8 */
	f = (cr_audit_filter){.sandbox_id = "nope"};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 0);
	cr_audit_records_free(r, n);
	f = (cr_audit_filter){.run_id = "\xff"};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, 0);
	cr_audit_records_free(r, n);

	/* a missing trail */
	cr_error *err = NULL;
	assert_int_equal(cr_audit_query("/nonexistent/audit.jsonl", &f, &r, &n, &truncated, &err), -1);
	assert_int_equal(err->status, ENOENT);
	cr_error_free(err);
}

static void test_query_limits(void **state)
{
	(void)state;
	write_sample(1100);
	cr_audit_record *r = NULL;
	size_t n = 0;
	bool truncated = false;
	cr_audit_filter f = {0};
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, CR_AUDIT_QUERY_DEFAULT);
	assert_true(truncated);
	cr_audit_records_free(r, n);
	f.limit = 5000;
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, NULL), 0);
	assert_int_equal(n, CR_AUDIT_QUERY_MAX);
	assert_true(truncated);
	assert_int_equal(r[n - 1].seq, CR_AUDIT_QUERY_MAX);
	cr_audit_records_free(r, n);
	assert_verifies(1100);
}

static void test_query_damaged_line(void **state)
{
	(void)state;
	write_sample(3);
	lines ls = split();
	free(ls.l[1]);
	ls.l[1] = strdup("not json at all\n");
	join(&ls, (int[]){0, 1, 2, -1});
	cr_audit_record *r = NULL;
	size_t n = 0;
	bool truncated;
	cr_audit_filter f = {0};
	cr_error *err = NULL;
	assert_int_equal(cr_audit_query(path, &f, &r, &n, &truncated, &err), -1);
	assert_int_equal(err->status, EBADMSG);
	assert_non_null(strstr(err->msg, "line 2"));
	cr_error_free(err);
	assert_null(r);
}

static void test_verify_edited_line(void **state)
{
	(void)state;
	write_sample(5);
	lines ls = split();
	char *p = strstr(ls.l[2], "\"run-0\"");
	assert_non_null(p);
	p[5] = '7'; /* run_id of event 3: run-0 -> run-7 */
	join(&ls, (int[]){0, 1, 2, 3, 4, -1});
	assert_broken_at(2, "hash does not match");
}

static void test_verify_deleted_line(void **state)
{
	(void)state;
	write_sample(5);
	lines ls = split();
	join(&ls, (int[]){0, 1, 3, 4, -1});
	assert_broken_at(2, "seq is 4, expected 3");
}

static void test_verify_deleted_first_line(void **state)
{
	(void)state;
	write_sample(3);
	lines ls = split();
	join(&ls, (int[]){1, 2, -1});
	assert_broken_at(0, "seq is 2, expected 1");
}

static void test_verify_reordered_lines(void **state)
{
	(void)state;
	write_sample(5);
	lines ls = split();
	join(&ls, (int[]){0, 2, 1, 3, 4, -1});
	assert_broken_at(1, "seq is 3, expected 2");
}

/* A forger who edits a line and recomputes its hash breaks the next link. */
static void test_verify_rehashed_line(void **state)
{
	(void)state;
	write_sample(4);
	lines ls = split();
	cr_audit_record r;
	assert_int_equal(cr_audit_line_parse(ls.l[1], strlen(ls.l[1]) - 1, &r, NULL), 0);
	free(r.actor);
	r.actor = strdup("uid:0");
	size_t len = 0;
	char *line = cr_audit_record_seal(&r, &len, NULL);
	assert_non_null(line);
	cr_audit_record_clear(&r);
	free(ls.l[1]);
	ls.l[1] = line;
	join(&ls, (int[]){0, 1, 2, 3, -1});
	assert_broken_at(2, "prev_hash");
}

static void test_verify_noncanonical_line(void **state)
{
	(void)state;
	write_sample(2);
	lines ls = split();
	char *p = strstr(ls.l[0], "\"seq\":1");
	assert_non_null(p);
	/* same content, one space more: the hash still matches, the bytes do not */
	char *edited = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&edited, &n);
	fwrite(ls.l[0], 1, (size_t)(p - ls.l[0]) + 6, m);
	fputc(' ', m);
	fputs(p + 6, m);
	fclose(m);
	free(ls.l[0]);
	ls.l[0] = edited;
	join(&ls, (int[]){0, 1, -1});
	assert_broken_at(0, "canonical");
}

static void test_verify_empty_and_missing(void **state)
{
	(void)state;
	cr_audit *a = open_trail();
	cr_audit_close(a);
	assert_verifies(0);
	uint64_t n_ok = 7;
	cr_error *err = NULL;
	assert_int_equal(cr_audit_verify("/nonexistent/audit.jsonl", &n_ok, &err), -1);
	assert_int_equal(err->status, ENOENT);
	assert_int_equal(n_ok, 0);
	cr_error_free(err);
	/* a line far longer than any event */
	cleanup_free char *huge = malloc(2 * CR_AUDIT_LINE_MAX);
	memset(huge, 'x', 2 * CR_AUDIT_LINE_MAX - 1);
	huge[2 * CR_AUDIT_LINE_MAX - 1] = '\n';
	spit(huge, 2 * CR_AUDIT_LINE_MAX);
	assert_broken_at(0, "longer than any event");
	/* one just past the cap, read whole */
	huge[CR_AUDIT_LINE_MAX + 1] = '\n';
	spit(huge, CR_AUDIT_LINE_MAX + 2);
	assert_broken_at(0, "longer than");
}

static void expect_parse_error(const char *line, const char *what)
{
	cr_audit_record r;
	cr_error *err = NULL;
	assert_int_equal(cr_audit_line_parse(line, strlen(line), &r, &err), -1);
	if (!strstr(err->msg, what))
		fail_msg("'%s' does not mention '%s'", err->msg, what);
	cr_error_free(err);
	assert_null(r.kind);
}

#define H64 "0000000000000000000000000000000000000000000000000000000000000000"
#define LINE(detail, seq, ts, extra)                                                                      \
	"{\"actor\":\"\",\"backend\":\"\",\"detail\":" detail ",\"execution_id\":\"\",\"hash\":\"" H64    \
	"\",\"kind\":\"k\",\"policy_hash\":\"\",\"prev_hash\":\"\",\"reason_code\":\"\",\"run_id\":\"\"," \
	"\"sandbox_id\":\"\",\"seq\":" seq ",\"ts\":\"" ts "\"" extra "}"

static void test_line_parser_strict(void **state)
{
	(void)state;
	cr_audit_record r;
	const char *ok = LINE("{\"a\":\"b\"}", "1", "2024-02-29T23:59:59.999Z", "");
	assert_int_equal(cr_audit_line_parse(ok, strlen(ok), &r, NULL), 0);
	assert_int_equal(r.ts_ms, 1709251199999LL);
	assert_int_equal(r.n_detail, 1);
	cr_audit_record_clear(&r);
	expect_parse_error(LINE("{}", "1", "2024-02-29T23:59:59.999Z", ",\"extra\":1"), "exactly 13");
	expect_parse_error(LINE("{}", "0", "2024-02-29T23:59:59.999Z", ""), "\"seq\"");
	expect_parse_error(LINE("{}", "1.0", "2024-02-29T23:59:59.999Z", ""), "\"seq\"");
	expect_parse_error(LINE("{}", "1", "2023-02-29T23:59:59.999Z", ""), "\"ts\"");
	expect_parse_error(LINE("{}", "1", "2024-02-29T24:00:00.000Z", ""), "\"ts\"");
	expect_parse_error(LINE("{}", "1", "2024-02-29 23:59:59.999Z", ""), "\"ts\"");
	expect_parse_error(LINE("{}", "1", "2024-02-29T23:59:59Z", ""), "\"ts\"");
	expect_parse_error(LINE("{\"a\":1}", "1", "2024-02-29T23:59:59.999Z", ""), "detail");
	expect_parse_error(LINE("{\"A\":\"x\"}", "1", "2024-02-29T23:59:59.999Z", ""), "detail");
	expect_parse_error(LINE("[]", "1", "2024-02-29T23:59:59.999Z", ""), "detail");
	expect_parse_error("{\"kind\":\"a\",\"kind\":\"b\"}", "not JSON");
	expect_parse_error("", "not JSON");
	expect_parse_error("[1,2]", "exactly 13");
	char bad_hash[sizeof(LINE("{}", "1", "2024-02-29T23:59:59.999Z", ""))];
	memcpy(bad_hash, LINE("{}", "1", "2024-02-29T23:59:59.999Z", ""), sizeof(bad_hash));
	*strstr(bad_hash, H64) = 'A';
	expect_parse_error(bad_hash, "hash");
}

static void test_timestamps(void **state)
{
	(void)state;
	char ts[CR_AUDIT_TS_LEN + 1];
	assert_int_equal(cr_audit_ts_format(0, ts), 0);
	assert_string_equal(ts, "1970-01-01T00:00:00.000Z");
	assert_int_equal(cr_audit_ts_format(253402300799999LL, ts), 0);
	assert_string_equal(ts, "9999-12-31T23:59:59.999Z");
	assert_int_equal(cr_audit_ts_format(253402300800000LL, ts), -1);
	assert_int_equal(cr_audit_ts_format(-1, ts), -1);
	int64_t ms = 0;
	assert_int_equal(cr_audit_ts_parse("2024-05-01T12:34:56.789Z", 24, &ms), 0);
	assert_int_equal(ms, 1714566896789LL);
	assert_int_equal(cr_audit_ts_parse("2024-05-01T12:34:56.789+00:00", 29, &ms), -1);
	assert_int_equal(cr_audit_ts_parse("2024-13-01T12:34:56.789Z", 24, &ms), -1);
	assert_int_equal(cr_audit_ts_parse("2024-05-01T12:34:60.000Z", 24, &ms), -1);
	assert_int_equal(cr_audit_ts_parse("+024-05-01T12:34:56.789Z", 24, &ms), -1);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_line_format_exact),
		T(test_reopen_continues_chain),
		T(test_torn_last_line_repaired),
		T(test_torn_only_line_repaired),
		T(test_damaged_last_line_refused),
		T(test_second_writer_refused),
		T(test_short_write_rolled_back),
		T(test_permissions),
		T(test_detail_escaping),
		T(test_invalid_events),
		T(test_query_filters),
		T(test_query_limits),
		T(test_query_damaged_line),
		T(test_verify_edited_line),
		T(test_verify_deleted_line),
		T(test_verify_deleted_first_line),
		T(test_verify_reordered_lines),
		T(test_verify_rehashed_line),
		T(test_verify_noncanonical_line),
		T(test_verify_empty_and_missing),
		T(test_line_parser_strict),
		T(test_timestamps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
